//! Helpers shared by the binary's integration tests: starting `panoptes server` as a child
//! process and waiting for it to be ready.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `panoptes server` on `data` and a free port with `extra` flags, logging to `log_path`.
pub fn start_server(data: &Path, extra: &[&str], log_path: &Path) -> (Child, SocketAddr) {
    let address = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let log = File::create(log_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .arg("server")
        .arg("--storage.tsdb.path")
        .arg(data)
        .arg(format!("--web.listen-address={address}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start panoptes");
    (child, address)
}

/// Polls `/-/ready` until it answers `200`, failing with the server's log if it exits.
pub async fn wait_ready(client: &reqwest::Client, address: SocketAddr, child: &mut Child, log_path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("server exited with {status} before ready:\n{}", std::fs::read_to_string(log_path).unwrap());
        }
        if let Ok(response) = client.get(format!("http://{address}/-/ready")).send().await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = child.kill();
    panic!("server not ready within 15 s:\n{}", std::fs::read_to_string(log_path).unwrap());
}

/// Waits up to `timeout` for the child to exit and returns its status.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

/// A child process killed when dropped.
pub struct Process {
    pub child: Child,
    pub address: SocketAddr,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a free loopback address.
pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Starts Debian's Prometheus (`/usr/bin/prometheus`) on a free port with `config` as its
/// configuration file and `extra` flags, and waits until it is ready.
pub async fn start_prometheus(dir: &Path, config: &str, extra: &[&str], client: &reqwest::Client) -> Process {
    let address = free_address();
    let config_path = dir.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let log_path = dir.join("prometheus.log");
    let child = Command::new("/usr/bin/prometheus")
        .arg(format!("--config.file={}", config_path.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("prometheus-data").display()))
        .arg(format!("--web.listen-address={address}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&log_path).unwrap())
        .spawn()
        .expect("start /usr/bin/prometheus (apt-get install prometheus)");
    let mut process = Process { child, address };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = process.child.try_wait().unwrap() {
            panic!("prometheus exited with {status}:\n{}", std::fs::read_to_string(&log_path).unwrap());
        }
        if let Ok(response) = client.get(format!("http://{address}/-/ready")).send().await
            && response.status() == 200
        {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("prometheus not ready within 30 s:\n{}", std::fs::read_to_string(&log_path).unwrap());
}

/// GETs a Prometheus API `url` and returns its `data`, failing unless the answer is a `200`
/// success envelope.
pub async fn get_data(client: &reqwest::Client, url: &str) -> serde_json::Value {
    let response = client.get(url).send().await.unwrap_or_else(|error| panic!("GET {url}: {error}"));
    assert_eq!(response.status(), 200, "GET {url}");
    let body: serde_json::Value = serde_json::from_str(&response.text().await.expect("body")).expect("JSON");
    assert_eq!(body["status"], "success", "GET {url}: {body}");
    body["data"].clone()
}

/// Returns the active targets of scrape pool `job` in a `/api/v1/targets` answer: labels and
/// scrape URL, ordered by URL.
pub fn active(targets: &serde_json::Value, job: &str) -> Vec<(std::collections::BTreeMap<String, String>, String)> {
    let mut found: Vec<(std::collections::BTreeMap<String, String>, String)> = targets["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .filter(|target| target["scrapePool"] == job)
        .map(|target| {
            let labels = serde_json::from_value(target["labels"].clone()).expect("labels");
            (labels, target["scrapeUrl"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    found.sort_by(|a, b| a.1.cmp(&b.1));
    found
}

/// Remote-writes `request` to the server at `address`, failing unless it is accepted (`204`).
pub async fn remote_write(
    client: &reqwest::Client,
    address: SocketAddr,
    request: &panoptes_server::prompb::WriteRequest,
) {
    let response = client
        .post(format!("http://{address}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(panoptes_server::prompb::encode_write_request(request))
        .send()
        .await
        .expect("send remote write");
    assert_eq!(response.status(), 204, "remote write refused: {}", response.text().await.unwrap_or_default());
}

/// Where the browser tests find what they need: the workspace root, Debian's Chromium and the
/// directory their screenshots go to (`<target>/<name>`).
pub struct Browser {
    pub root: std::path::PathBuf,
    pub chromium: String,
    pub artifacts: std::path::PathBuf,
}

impl Browser {
    /// Checks that Chromium and `web/node_modules` are installed, failing with how to get them.
    pub fn find(name: &str) -> Browser {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap();
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        assert!(
            Path::new(&chromium).exists(),
            "{chromium} is missing: run scripts/test, which installs Debian's chromium"
        );
        assert!(
            root.join("web/node_modules/playwright-core").is_dir(),
            "web/node_modules is missing: run scripts/test (npm ci in web/)"
        );
        let artifacts = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| root.join("target"), std::path::PathBuf::from)
            .join(name);
        Browser { root, chromium, artifacts }
    }

    /// Runs `web/e2e/<script>` with Node.js against the server at `address` and returns its
    /// `SUMMARY` line as JSON with whether the script succeeded and its stderr.
    pub async fn run(
        &self,
        script: &str,
        address: SocketAddr,
        env: &[(&str, std::ffi::OsString)],
    ) -> (serde_json::Value, bool, String) {
        let mut command = Command::new("node");
        command
            .arg(self.root.join("web/e2e").join(script))
            .current_dir(self.root.join("web"))
            .env("PANOPTES_URL", format!("http://{address}"))
            .env("PANOPTES_ARTIFACTS", &self.artifacts)
            .env("CHROMIUM", &self.chromium);
        for (name, value) in env {
            command.env(name, value);
        }
        let output = tokio::task::spawn_blocking(move || {
            command.output().expect("run node (Node.js 20 is on the project machines)")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let summary = stdout
            .lines()
            .find_map(|line| line.strip_prefix("SUMMARY "))
            .unwrap_or_else(|| panic!("no summary from {script}:\n{stdout}\n{stderr}"));
        (serde_json::from_str(summary).unwrap(), output.status.success(), stderr)
    }
}
