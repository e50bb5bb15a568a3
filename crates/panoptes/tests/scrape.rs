//! Scraping end to end with real peers: Debian's `prometheus-node-exporter` is the target, and
//! Debian's `prometheus` scrapes it with the same configuration at the same time. Both must
//! store the same series and show the target the same way in `/api/v1/targets`. The same holds
//! for an app instrumented with the Python `prometheus_client` package (Debian's
//! `python3-prometheus-client`), scraped in both text formats. Also covers
//! configuration reloads (`/-/reload`, SIGHUP, a failed reload keeping the running config) and
//! `panoptes check config`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::{Process, free_address, get_data, start_prometheus, start_server, wait_ready};

/// Starts `prometheus-node-exporter` on a free port with a fixed set of collectors whose series
/// do not come and go between scrapes.
async fn start_node_exporter(client: &reqwest::Client) -> Process {
    let address = free_address();
    let child = Command::new("/usr/bin/prometheus-node-exporter")
        .arg(format!("--web.listen-address={address}"))
        .args([
            "--collector.disable-defaults",
            "--collector.cpu",
            "--collector.meminfo",
            "--collector.loadavg",
            "--collector.uname",
            "--collector.stat",
            "--collector.vmstat",
            "--collector.filefd",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/bin/prometheus-node-exporter (apt-get install prometheus-node-exporter)");
    let process = Process { child, address };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if client.get(format!("http://{address}/metrics")).send().await.is_ok_and(|r| r.status() == 200) {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("node exporter did not start");
}

/// Returns every label set of series with `job="node"` seen in the last minute, rendered.
async fn series_of_job(client: &reqwest::Client, address: std::net::SocketAddr) -> BTreeSet<String> {
    series_matching(client, address, r#"{job="node"}"#).await
}

/// Returns every label set of series matching `selector` seen in the last minute, rendered.
async fn series_matching(client: &reqwest::Client, address: std::net::SocketAddr, selector: &str) -> BTreeSet<String> {
    let end = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let url = format!("http://{address}/api/v1/series?match[]={}&start={}&end={end}", urlencode(selector), end - 60);
    let data = get_data(client, &url).await;
    data.as_array().expect("list").iter().map(|labels| labels.to_string()).collect()
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Waits until `query` returns a non-empty vector on the server.
async fn wait_for_samples(client: &reqwest::Client, address: std::net::SocketAddr, query: &str) -> Json {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let data = get_data(client, &format!("http://{address}/api/v1/query?query={}", urlencode(query))).await;
        if data["result"].as_array().is_some_and(|result| !result.is_empty()) {
            return data["result"].clone();
        }
        assert!(Instant::now() < deadline, "no samples for {query} on {address}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn config_for(target: std::net::SocketAddr) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n- job_name: node\n  static_configs:\n  - targets: ['{target}']\n    labels:\n      role: exporter\n  metric_relabel_configs:\n  - source_labels: [__name__]\n    regex: 'node_scrape_collector_duration_seconds'\n    action: drop\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_exporter_is_scraped_like_prometheus_does() {
    let client = reqwest::Client::new();
    let node = start_node_exporter(&client).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(node.address);
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, &config).unwrap();
    let prometheus = start_prometheus(dir.path(), &config, &[], &client).await;
    let log_path = dir.path().join("panoptes.log");
    let (child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config_path.to_str().unwrap()], &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let up = wait_for_samples(&client, address, "up{job=\"node\"}").await;
    assert_eq!(up[0]["metric"]["instance"], node.address.to_string());
    assert_eq!(up[0]["metric"]["role"], "exporter");
    assert_eq!(up[0]["value"][1], "1");
    wait_for_samples(&client, prometheus.address, "up").await;
    // Let both scrape a few times.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let ours = series_of_job(&client, address).await;
    let theirs = series_of_job(&client, prometheus.address).await;
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "series differ\nonly in Panoptes: {only_ours:#?}\nonly in Prometheus: {only_theirs:#?}"
    );
    assert!(ours.len() > 50, "node exporter exposes many series, got {}", ours.len());
    assert!(!ours.iter().any(|series| series.contains("node_scrape_collector_duration_seconds")));

    // Values that do not change between scrapes are equal on both sides.
    for query in [
        "node_memory_MemTotal_bytes",
        "count(node_cpu_seconds_total)",
        "scrape_samples_post_metric_relabeling{job=\"node\"}",
    ] {
        let ours = wait_for_samples(&client, address, query).await;
        let theirs = wait_for_samples(&client, prometheus.address, query).await;
        assert_eq!(ours[0]["value"][1], theirs[0]["value"][1], "{query}");
    }

    // Metric metadata (TYPE/HELP) is kept and served like Prometheus does.
    for path in [
        "/api/v1/metadata?metric=node_cpu_seconds_total",
        "/api/v1/metadata?metric=node_load1",
        "/api/v1/targets/metadata?metric=node_memory_MemTotal_bytes",
        "/api/v1/targets/metadata?match_target=%7Bjob%3D%22node%22%7D",
    ] {
        // Prometheus lists target metadata in map order: compare as sets.
        let sorted = |value: Json| match value {
            Json::Array(mut list) => {
                list.sort_by_key(|entry| entry.to_string());
                Json::Array(list)
            }
            other => other,
        };
        let ours = sorted(get_data(&client, &format!("http://{address}{path}")).await);
        let theirs = sorted(get_data(&client, &format!("http://{}{path}", prometheus.address)).await);
        assert_eq!(ours, theirs, "{path}");
        assert!(ours != serde_json::json!([]) && ours != serde_json::json!({}), "{path}: nothing found");
    }
    // Prometheus 2.42 predates `limit` here; Prometheus 3 honours it, and so do we.
    let limited = get_data(&client, &format!("http://{address}/api/v1/targets/metadata?limit=5")).await;
    assert_eq!(limited.as_array().map(Vec::len), Some(5));

    // The targets API has Prometheus' shape and content.
    let ours = get_data(&client, &format!("http://{address}/api/v1/targets")).await;
    let theirs = get_data(&client, &format!("http://{}/api/v1/targets", prometheus.address)).await;
    let (our_target, their_target) = (&ours["activeTargets"][0], &theirs["activeTargets"][0]);
    for field in ["labels", "discoveredLabels", "scrapePool", "scrapeUrl", "health", "lastError", "scrapeInterval"] {
        assert_eq!(our_target[field], their_target[field], "activeTargets[0].{field}");
    }
    let keys = |value: &Json| value.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(our_target), keys(their_target), "activeTargets[0] fields");
    assert!(our_target["lastScrapeDuration"].as_f64().unwrap() > 0.0);
    let pools = get_data(&client, &format!("http://{address}/api/v1/scrape_pools")).await;
    assert_eq!(pools["scrapePools"], serde_json::json!(["node", "pushgateway"]));
    let config_yaml = get_data(&client, &format!("http://{address}/api/v1/status/config")).await;
    assert!(config_yaml["yaml"].as_str().unwrap().contains("job_name: node"));
}

/// Debian's interpreter, which `python3-prometheus-client` installs into (the machines'
/// default `python3` may be another one).
const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Starts `tests/python/instrumented_app.py` and returns it with its address, failing with how
/// to install the package when it is missing.
fn start_python_app() -> Process {
    let check = Command::new(DEBIAN_PYTHON).args(["-c", "import prometheus_client"]).output();
    assert!(
        check.as_ref().is_ok_and(|output| output.status.success()),
        "{DEBIAN_PYTHON} cannot import prometheus_client: run scripts/test, which installs Debian's \
         python3-prometheus-client (apt-get install python3-prometheus-client): {check:?}"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/instrumented_app.py");
    let mut child = Command::new(DEBIAN_PYTHON)
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the Python app");
    let mut port = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut port).unwrap();
    let port: u16 = port.trim().parse().unwrap_or_else(|_| panic!("the Python app printed {port:?}, not its port"));
    Process { child, address: std::net::SocketAddr::from(([127, 0, 0, 1], port)) }
}

type Values = std::collections::BTreeMap<String, String>;

/// Returns `{labels: value}` of every series `query` selects, labels rendered without `job`
/// when `without_job`.
async fn values_of(client: &reqwest::Client, address: std::net::SocketAddr, query: &str, without_job: bool) -> Values {
    let data = get_data(client, &format!("http://{address}/api/v1/query?query={}", urlencode(query))).await;
    let mut values = Values::new();
    for item in data["result"].as_array().expect("vector") {
        let mut metric = item["metric"].clone();
        if without_job {
            metric.as_object_mut().unwrap().remove("job");
        }
        values.insert(metric.to_string(), item["value"][1].as_str().unwrap().to_owned());
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_app_is_scraped_like_prometheus_does_in_both_formats() {
    let client = reqwest::Client::new();
    let app = start_python_app();
    let target = app.address;
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str, extra: &str| {
        format!(
            "- job_name: {name}\n{extra}  static_configs:\n  - targets: ['{target}']\n    labels:\n      lang: python\n"
        )
    };
    let global = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n";
    // Both ask for OpenMetrics on /metrics. For the text format Panoptes negotiates it there
    // with `scrape_protocols`; Prometheus 2.42 has no such setting and reads /text, which
    // serves the text format whatever is asked for.
    let ours = format!(
        "{global}{}{}",
        job("python-openmetrics", ""),
        job("python-text", "  scrape_protocols: [PrometheusText0.0.4]\n")
    );
    let theirs = format!("{global}{}{}", job("python-openmetrics", ""), job("python-text", "  metrics_path: /text\n"));
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, &ours).unwrap();
    let prometheus = start_prometheus(dir.path(), &theirs, &[], &client).await;
    let log_path = dir.path().join("panoptes.log");
    let (child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config_path.to_str().unwrap()], &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    for server in [address, prometheus.address] {
        for up in [r#"up{job="python-openmetrics"} == 1"#, r#"up{job="python-text"} == 1"#] {
            wait_for_samples(&client, server, up).await;
        }
    }
    // Let both scrape a few times.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let selector = r#"{lang="python"}"#;
    let ours = series_matching(&client, address, selector).await;
    let theirs = series_matching(&client, prometheus.address, selector).await;
    let only_ours: Vec<&String> = ours.difference(&theirs).collect();
    let only_theirs: Vec<&String> = theirs.difference(&ours).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "series differ\nonly in Panoptes: {only_ours:#?}\nonly in Prometheus: {only_theirs:#?}"
    );
    // Every metric type the client has, with its labels and escaping, in both jobs.
    for needle in [
        r#""__name__":"http_requests_total","code":"404""#,
        r#""__name__":"http_requests_created""#,
        r#""__name__":"room_temperature_celsius","instance""#,
        r#""room":"Küche \"main\"\\floor\nwest""#,
        r#""__name__":"request_duration_seconds_bucket","handler":"/api","instance""#,
        r#""__name__":"rpc_duration_seconds_sum""#,
        r#""__name__":"build_info""#,
        r#""task_state":"running""#,
    ] {
        for job in ["python-openmetrics", "python-text"] {
            assert!(
                ours.iter().any(|series| series.contains(needle) && series.contains(job)),
                "no series with {needle} in job {job}: {ours:#?}"
            );
        }
    }

    // Every value is the same on both sides (the app never changes them), and the same in
    // both formats.
    let query = r#"{lang="python", __name__!="scrape_duration_seconds"}"#;
    let our_values = values_of(&client, address, query, false).await;
    assert_eq!(our_values, values_of(&client, prometheus.address, query, false).await);
    assert!(our_values.len() > 60, "{our_values:#?}");
    let by_format = |query: &'static str| values_of(&client, address, query, true);
    let openmetrics = by_format(r#"{job="python-openmetrics", __name__!="scrape_duration_seconds"}"#).await;
    let text = by_format(r#"{job="python-text", __name__!="scrape_duration_seconds"}"#).await;
    assert_eq!(openmetrics, text);
    assert!(our_values.iter().any(|(k, v)| k.contains(r#""room":"kitchen""#) && v == "21.5"));
    assert!(our_values.iter().any(|(k, v)| k.contains(r#""room":"cellar""#) && v == "NaN"));

    // The app served Panoptes what its Accept header asked for: both formats were negotiated.
    let served: Json = serde_json::from_str(
        &client.get(format!("http://{target}/requests")).send().await.unwrap().text().await.unwrap(),
    )
    .unwrap();
    let ours: Vec<&Json> = served
        .as_array()
        .unwrap()
        .iter()
        .filter(|request| request["user_agent"].as_str().unwrap().starts_with("Panoptes/"))
        .collect();
    let content_type = |request: &Json| request["content_type"].as_str().unwrap().to_owned();
    assert!(ours.iter().all(|request| request["path"] == "/metrics"), "{ours:#?}");
    assert!(ours.iter().any(|request| content_type(request).starts_with("application/openmetrics-text")));
    assert!(ours.iter().any(|request| content_type(request).starts_with("text/plain; version=0.0.4")));
    for request in &ours {
        let asks_openmetrics = request["accept"].as_str().unwrap().contains("application/openmetrics-text");
        assert_eq!(asks_openmetrics, content_type(request).starts_with("application/openmetrics-text"), "{request}");
    }
}

fn reload_metric(text: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix("panoptes_config_last_reload_successful "))
        .and_then(|value| value.trim().parse().ok())
}

async fn metrics_text(client: &reqwest::Client, address: std::net::SocketAddr) -> String {
    client.get(format!("http://{address}/metrics")).send().await.unwrap().text().await.unwrap()
}

fn static_job(job: &str, target: &str) -> String {
    format!("scrape_configs:\n- job_name: {job}\n  scrape_interval: 1s\n  static_configs:\n  - targets: ['{target}']\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_apply_good_configs_and_keep_the_running_one_on_errors() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, static_job("first", "127.0.0.1:1")).unwrap();
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(
        &dir.path().join("data"),
        &["--config.file", config_path.to_str().unwrap(), "--web.enable-lifecycle"],
        &log_path,
    );
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    let pools = |data: Json| data["scrapePools"].clone();
    let scrape_pools = format!("http://{address}/api/v1/scrape_pools");
    assert_eq!(pools(get_data(&client, &scrape_pools).await), serde_json::json!(["first", "pushgateway"]));
    assert_eq!(reload_metric(&metrics_text(&client, address).await), Some(1.0));

    // A good file applied through the HTTP endpoint.
    std::fs::write(&config_path, static_job("second", "127.0.0.1:1")).unwrap();
    let response = client.post(format!("http://{address}/-/reload")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(pools(get_data(&client, &scrape_pools).await), serde_json::json!(["second", "pushgateway"]));

    // A broken file is refused with its position; the running configuration stays.
    std::fs::write(&config_path, "scrape_configs:\n- job_name: third\n  scrape_intervall: 1s\n").unwrap();
    let response = client.post(format!("http://{address}/-/reload")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let message = response.text().await.unwrap();
    assert!(message.starts_with("failed to reload config: "), "{message}");
    assert!(message.contains(":3:3") && message.contains("scrape_intervall"), "{message}");
    assert_eq!(pools(get_data(&client, &scrape_pools).await), serde_json::json!(["second", "pushgateway"]));
    assert_eq!(reload_metric(&metrics_text(&client, address).await), Some(0.0));
    let runtime = get_data(&client, &format!("http://{address}/api/v1/status/runtimeinfo")).await;
    assert_eq!(runtime["reloadConfigSuccess"], false);

    // SIGHUP reloads too.
    std::fs::write(&config_path, static_job("fourth", "127.0.0.1:1")).unwrap();
    let status = Command::new("kill").args(["-HUP", &panoptes.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while pools(get_data(&client, &scrape_pools).await) != serde_json::json!(["fourth", "pushgateway"]) {
        assert!(Instant::now() < deadline, "SIGHUP did not reload");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(reload_metric(&metrics_text(&client, address).await), Some(1.0));

    // The target is down (nothing listens on port 1) and says why.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let targets = get_data(&client, &format!("http://{address}/api/v1/targets?state=active")).await;
        let target = &targets["activeTargets"][0];
        if target["health"] == "down" {
            assert!(target["lastError"].as_str().unwrap().contains("127.0.0.1:1"), "{target}");
            assert_eq!(targets["droppedTargets"], serde_json::json!([]));
            break;
        }
        assert!(Instant::now() < deadline, "target never scraped: {target}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // /-/quit stops the server gracefully.
    let response = client.post(format!("http://{address}/-/quit")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let status = common::wait_exit(&mut panoptes.child, Duration::from_secs(20)).expect("server exits after /-/quit");
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_endpoints_are_off_by_default() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(&dir.path().join("data"), &[], &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    for endpoint in ["reload", "quit"] {
        let response = client.post(format!("http://{address}/-/{endpoint}")).send().await.unwrap();
        assert_eq!(response.status(), 403, "{endpoint}");
        assert_eq!(response.text().await.unwrap(), "Lifecycle API is not enabled.\n");
    }
}

fn check_config(flags: &[&str], files: &[&Path]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .args(["check", "config"])
        .args(flags)
        .args(files)
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
}

#[test]
fn check_config_accepts_every_seed_config_and_names_errors() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/seed-configs");
    let mut checked = 0;
    for entry in std::fs::read_dir(&seeds).expect("seed configs") {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        // Plain Prometheus configurations; the ConfigMap and other tools' files are covered by
        // the scrape crate's tests.
        if !matches!(path.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
            || !text.contains("scrape_configs:")
            || text.contains("kind: ConfigMap")
        {
            continue;
        }
        // In-cluster configurations name the service account's files, which exist only in a pod:
        // there, as with promtool, only the syntax can be checked.
        let flags: &[&str] = if text.contains("/var/run/secrets/") { &["--syntax-only"] } else { &[] };
        let (is_ok, stdout, stderr) = check_config(flags, &[&path]);
        assert!(is_ok, "{}:\n{stdout}{stderr}", path.display());
        assert!(stdout.contains("is valid prometheus config file syntax"), "{stdout}");
        checked += 1;
    }
    assert!(checked >= 2, "seed configurations not found in {}", seeds.display());

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "global:\n  scrape_interval: 15s\nscrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['h:1']\n    lables: {a: b}\n").unwrap();
    let (is_ok, stdout, stderr) = check_config(&[], &[&bad]);
    assert!(!is_ok);
    assert!(stdout.starts_with(&format!("Checking {}\n", bad.display())), "{stdout}");
    assert!(stderr.starts_with("  FAILED: ") && stderr.contains(":7:5") && stderr.contains("lables"), "{stderr}");
}
