//! Alerting end to end inside one `panoptes server`: a rule fires, the built-in router
//! (`--alertmanager.config.file`) groups it and delivers it to a webhook receiver — a real HTTP
//! server on loopback that records the Alertmanager webhook payload (version 4) it gets; the
//! alert is also visible through the Alertmanager API v2. And `panoptes check alertmanager` on
//! the operators' configuration.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use serde_json::Value as Json;

use crate::common::{Process, get_data, start_server, wait_ready};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_firing_rule_reaches_the_webhook_through_the_built_in_router() {
    let received: Arc<Mutex<Vec<Json>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(serde_json::from_str(&body).expect("webhook JSON"));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: demo\n  interval: 1s\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n    labels: {severity: critical, team: mesh}\n    annotations: {summary: 'it fires'}\n",
    )
    .unwrap();
    let config = dir.path().join("panoptes.yml");
    std::fs::write(
        &config,
        format!("global:\n  evaluation_interval: 1s\nrule_files: ['{}']\n", dir.path().join("rules.yml").display()),
    )
    .unwrap();
    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 100ms\n  group_interval: 1s\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://{hook}/hook\n"
        ),
    )
    .unwrap();
    let client = reqwest::Client::new();
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(
        &dir.path().join("data"),
        &["--config.file", config.to_str().unwrap(), "--alertmanager.config.file", am_config.to_str().unwrap()],
        &log_path,
    );
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let payload = loop {
        if let Some(payload) = received.lock().unwrap().first().cloned() {
            break payload;
        }
        assert!(Instant::now() < deadline, "nothing delivered:\n{}", std::fs::read_to_string(&log_path).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["receiver"], "hook");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["groupLabels"]["alertname"], "AlwaysFiring");
    let alert = &payload["alerts"][0];
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["annotations"]["summary"], "it fires");
    assert!(alert["generatorURL"].as_str().unwrap().starts_with(&format!("http://{address}/graph?g0.expr=")));

    // The same alert through Alertmanager's API v2 (served bare, without Prometheus' envelope).
    let alerts: Json = serde_json::from_str(
        &client.get(format!("http://{address}/api/v2/alerts")).send().await.unwrap().text().await.unwrap(),
    )
    .unwrap();
    assert_eq!(alerts[0]["labels"]["alertname"], "AlwaysFiring");
    assert_eq!(alerts[0]["status"]["state"], "active");
    let rules = get_data(&client, &format!("http://{address}/api/v1/alerts")).await;
    assert_eq!(rules["alerts"][0]["state"], "firing");
}

#[test]
fn check_alertmanager_accepts_the_operators_configuration() {
    let seed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/seed-configs/notes-alertmanager.yml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .args(["check", "alertmanager"])
        .arg(&seed)
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("SUCCESS"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "route:\n  receiver: nowhere\nreceivers:\n- name: other\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .args(["check", "alertmanager"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(text.contains("nowhere"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_an_external_alertmanager() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    // Debian's Alertmanager, clustering off.
    let am_address = common::free_address();
    std::fs::write(dir.path().join("am.yml"), "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n")
        .unwrap();
    let child = std::process::Command::new("/usr/bin/prometheus-alertmanager")
        .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
        .arg(format!("--storage.path={}", dir.path().join("am-data").display()))
        .arg(format!("--web.listen-address={am_address}"))
        .arg("--cluster.listen-address=")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start /usr/bin/prometheus-alertmanager (apt-get install prometheus-alertmanager)");
    let _alertmanager = Process { child, address: am_address };

    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: demo\n  interval: 1s\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n    labels: {severity: critical, team: mesh}\n",
    )
    .unwrap();
    let config = dir.path().join("panoptes.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  evaluation_interval: 1s\n  external_labels: {{cluster: c1}}\nrule_files: ['{}']\nalerting:\n  alert_relabel_configs:\n  - {{action: labeldrop, regex: team}}\n  alertmanagers:\n  - static_configs:\n    - targets: ['{am_address}']\n",
            dir.path().join("rules.yml").display()
        ),
    )
    .unwrap();
    let log_path = dir.path().join("panoptes.log");
    // Alertmanager may still be starting when the first alert goes out; as in Prometheus, a
    // failed send is repeated only after the resend delay (1m by default), so shorten it.
    let (child, address) = start_server(
        &dir.path().join("data"),
        &["--config.file", config.to_str().unwrap(), "--rules.alert.resend-delay=1s"],
        &log_path,
    );
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts: Json = match client.get(format!("http://{am_address}/api/v2/alerts")).send().await {
            Ok(response) => serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Json::Null),
            Err(_) => Json::Null,
        };
        if let Some(alert) = alerts.as_array().and_then(|alerts| alerts.first()) {
            assert_eq!(
                alert["labels"],
                serde_json::json!({"alertname": "AlwaysFiring", "severity": "critical", "cluster": "c1"})
            );
            assert_eq!(alert["status"]["state"], "active");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no alert reached Alertmanager:\n{}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A restart in the middle of a group wait and during an active silence changes nothing a
/// user can see: the built-in router saves its alerts at shutdown, so the group of `Page`
/// still flushes `group_wait` (8 s) after the alert started, not 8 s after the restart, and
/// the webhook (a real HTTP server on loopback) gets it exactly once; the silence of `Muted`,
/// created through the API v2, still mutes it after the restart and nothing of it is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_group_wait_and_of_a_silence_changes_nothing() {
    let received: Arc<Mutex<Vec<(jiff::Timestamp, Json)>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/hook",
        post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((jiff::Timestamp::now(), serde_json::from_str(&body).expect("webhook JSON")));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: demo\n  interval: 1s\n  rules:\n  - alert: Page\n    expr: vector(1)\n  - alert: Muted\n    expr: vector(1)\n",
    )
    .unwrap();
    let config = dir.path().join("panoptes.yml");
    std::fs::write(
        &config,
        format!("global:\n  evaluation_interval: 1s\nrule_files: ['{}']\n", dir.path().join("rules.yml").display()),
    )
    .unwrap();
    let am_config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 8s\n  group_interval: 1m\n  repeat_interval: 1h\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://{hook}/hook\n"
        ),
    )
    .unwrap();
    let flags = ["--config.file", config.to_str().unwrap(), "--alertmanager.config.file", am_config.to_str().unwrap()];
    let client = reqwest::Client::new();
    let data = dir.path().join("data");
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let now = jiff::Timestamp::now();
    let silence = serde_json::json!({
        "matchers": [{"name": "alertname", "value": "Muted", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_string(),
        "endsAt": (now + jiff::SignedDuration::from_secs(3600)).to_string(),
        "createdBy": "test",
        "comment": "maintenance",
    });
    let response = client.post(format!("http://{address}/api/v2/silences")).json(&silence).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let silence_id = response.json::<Json>().await.unwrap()["silenceID"].as_str().unwrap().to_owned();

    let alerts_v2 = |address: std::net::SocketAddr| {
        let client = client.clone();
        async move {
            let text =
                client.get(format!("http://{address}/api/v2/alerts")).send().await.unwrap().text().await.unwrap();
            serde_json::from_str::<Json>(&text).unwrap()
        }
    };
    let find = |alerts: &Json, name: &str| {
        alerts.as_array().unwrap().iter().find(|alert| alert["labels"]["alertname"] == name).cloned()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let starts_at: jiff::Timestamp = loop {
        if let Some(alert) = find(&alerts_v2(address).await, "Page") {
            break alert["startsAt"].as_str().unwrap().parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "Page never reached the router:\n{}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Stop 3 s into the 8 s group wait.
    let wait = jiff::Timestamp::now().duration_until(starts_at + jiff::SignedDuration::from_secs(3));
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    let status = std::process::Command::new("kill").args(["-TERM", &panoptes.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(common::wait_exit(&mut panoptes.child, Duration::from_secs(20)).is_some_and(|s| s.success()));
    assert!(received.lock().unwrap().is_empty(), "sent before the group wait ended");

    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    let restarted_at = jiff::Timestamp::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (delivered_at, payload) = loop {
        if let Some(first) = received.lock().unwrap().first().cloned() {
            break first;
        }
        assert!(Instant::now() < deadline, "nothing delivered:\n{}", std::fs::read_to_string(&log_path).unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let waited = delivered_at.duration_since(starts_at);
    eprintln!("restarted {:#} after startsAt, delivered {waited:#} after it", restarted_at.duration_since(starts_at));
    assert!(
        waited >= jiff::SignedDuration::from_millis(7_900) && waited < jiff::SignedDuration::from_millis(9_500),
        "delivered {waited:#} after startsAt, group_wait is 8s:\n{}",
        std::fs::read_to_string(&log_path).unwrap()
    );
    assert_eq!(payload["groupLabels"]["alertname"], "Page");
    assert_eq!(payload["alerts"][0]["startsAt"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap(), starts_at);

    // The silence is still in force: Muted is suppressed by it, and nothing of it is sent.
    let silences: Json = serde_json::from_str(
        &client.get(format!("http://{address}/api/v2/silences")).send().await.unwrap().text().await.unwrap(),
    )
    .unwrap();
    assert_eq!(silences[0]["id"], silence_id.as_str());
    assert_eq!(silences[0]["status"]["state"], "active");
    let deadline = Instant::now() + Duration::from_secs(10);
    let muted = loop {
        if let Some(alert) = find(&alerts_v2(address).await, "Muted") {
            break alert;
        }
        assert!(Instant::now() < deadline, "Muted is not held after the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(muted["status"]["state"], "suppressed", "{muted}");
    assert_eq!(muted["status"]["silencedBy"], serde_json::json!([silence_id]));
    // Well past the group wait of Muted and the first flush of Page: one notification in all.
    let wait = jiff::Timestamp::now().duration_until(starts_at + jiff::SignedDuration::from_secs(13));
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    let received = received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:#?}");
}

/// Starts Debian's Alertmanager (clustering off) serving under `/am`, and waits until it
/// answers its readiness check. A free port can be taken by another test's server between
/// `free_address` and the Alertmanager's bind (it then exits, and the other server answers
/// 404 on its address): the start is retried on a new port.
fn start_alertmanager(dir: &Path, name: &str) -> Process {
    std::fs::write(dir.join(format!("{name}.yml")), "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n")
        .unwrap();
    for _ in 0..5 {
        let address = common::free_address();
        let child = std::process::Command::new("/usr/bin/prometheus-alertmanager")
            .arg(format!("--config.file={}", dir.join(format!("{name}.yml")).display()))
            .arg(format!("--storage.path={}", dir.join(format!("{name}-data")).display()))
            .arg(format!("--web.listen-address={address}"))
            .arg("--web.route-prefix=/am")
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start /usr/bin/prometheus-alertmanager (apt-get install prometheus-alertmanager)");
        let mut process = Process { child, address };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline && process.child.try_wait().unwrap().is_none() {
            if answers_ready(address) {
                return process;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("Alertmanager {name} did not become ready on {address}; starting it on another port");
    }
    panic!("Alertmanager {name} never became ready");
}

/// Returns whether an Alertmanager at `address` answers 200 on `/am/-/ready` (a plain
/// HTTP/1.0 exchange: the caller is not async).
fn answers_ready(address: std::net::SocketAddr) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /am/-/ready HTTP/1.0\r\nHost: localhost\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.") && &head[9..12] == b"200"
}

/// Polls the Alertmanager at `address` until it holds an alert named `name`.
async fn wait_for_alert(client: &reqwest::Client, address: std::net::SocketAddr, name: &str, log_path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let alerts: Json = match client.get(format!("http://{address}/am/api/v2/alerts")).send().await {
            Ok(response) => serde_json::from_str(&response.text().await.unwrap_or_default()).unwrap_or(Json::Null),
            Err(_) => Json::Null,
        };
        if alerts.as_array().is_some_and(|alerts| alerts.iter().any(|alert| alert["labels"]["alertname"] == name)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} never reached the Alertmanager at {address}:\n{}",
            std::fs::read_to_string(log_path).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `/api/v1/alertmanagers` until it answers `expected`.
async fn wait_for_alertmanagers(client: &reqwest::Client, address: std::net::SocketAddr, expected: Json) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let data = get_data(client, &format!("http://{address}/api/v1/alertmanagers")).await;
        if data == expected {
            return;
        }
        assert!(Instant::now() < deadline, "/api/v1/alertmanagers: {data:#}, expected {expected:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn always_firing_config(dir: &Path, alerting: &str) -> std::path::PathBuf {
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n- name: demo\n  interval: 1s\n  rules:\n  - alert: AlwaysFiring\n    expr: vector(1)\n",
    )
    .unwrap();
    let config = dir.join("panoptes.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: ['{}']\nalerting:\n{alerting}",
            dir.join("rules.yml").display()
        ),
    )
    .unwrap();
    config
}

/// `alerting.alertmanagers` with `file_sd_configs`: the Alertmanagers come from a file that
/// changes while the server runs; `path_prefix` and `relabel_configs` apply to what it lists,
/// as in Prometheus (a relabelled-away target is listed as dropped). Both Alertmanagers are
/// Debian's, serving under `/am`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanagers_from_file_sd_follow_the_file() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let first = start_alertmanager(dir.path(), "first");
    let second = start_alertmanager(dir.path(), "second");
    let sd_file = dir.path().join("alertmanagers.json");
    let write_sd = |address: std::net::SocketAddr| {
        let groups = serde_json::json!([
            {"targets": [address.to_string()], "labels": {"role": "primary"}},
            {"targets": ["127.0.0.1:1"], "labels": {"role": "spare"}},
        ]);
        let temporary = dir.path().join("alertmanagers.json.tmp");
        std::fs::write(&temporary, groups.to_string()).unwrap();
        std::fs::rename(&temporary, &sd_file).unwrap();
    };
    write_sd(first.address);
    let config = always_firing_config(
        dir.path(),
        &format!(
            "  alertmanagers:\n  - path_prefix: /am/\n    timeout: 2s\n    file_sd_configs:\n    - files: ['{}']\n    relabel_configs:\n    - {{source_labels: [role], regex: spare, action: drop}}\n",
            sd_file.display()
        ),
    );
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(
        &dir.path().join("data"),
        &["--config.file", config.to_str().unwrap(), "--rules.alert.resend-delay=1s"],
        &log_path,
    );
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let url = |address: &str| format!("http://{address}/am/api/v2/alerts");
    wait_for_alertmanagers(
        &client,
        address,
        serde_json::json!({
            "activeAlertmanagers": [{"url": url(&first.address.to_string())}],
            "droppedAlertmanagers": [{"url": url("127.0.0.1:1")}],
        }),
    )
    .await;
    wait_for_alert(&client, first.address, "AlwaysFiring", &log_path).await;

    // The file now names the second Alertmanager: the alerts go there.
    write_sd(second.address);
    wait_for_alertmanagers(
        &client,
        address,
        serde_json::json!({
            "activeAlertmanagers": [{"url": url(&second.address.to_string())}],
            "droppedAlertmanagers": [{"url": url("127.0.0.1:1")}],
        }),
    )
    .await;
    wait_for_alert(&client, second.address, "AlwaysFiring", &log_path).await;
}

/// `alerting.alertmanagers` with `kubernetes_sd_configs` (role `pod`) against the fake API
/// server of `panoptes-test-util` (no real API server can run on the build machines; the fake
/// speaks the real list/watch protocol): the Alertmanager pod's `web` port is kept by
/// `relabel_configs`, another pod is dropped, and alerts reach Debian's Alertmanager at the
/// pod's address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanagers_from_kubernetes_sd() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let alertmanager = start_alertmanager(dir.path(), "k8s");
    let fake = panoptes_test_util::fake_kube::FakeApiServer::start().await;
    let pod = |name: &str, app: &str, port: u16| {
        serde_json::json!({
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "monitoring", "labels": {"app": app}},
            "spec": {"containers": [{"name": app, "ports": [{"name": "web", "containerPort": port}]}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"},
        })
    };
    fake.apply(pod("alertmanager-0", "alertmanager", alertmanager.address.port()));
    fake.apply(pod("web-0", "web", 8080));
    let config = always_firing_config(
        dir.path(),
        &format!(
            "  alertmanagers:\n  - path_prefix: /am\n    kubernetes_sd_configs:\n    - role: pod\n      api_server: {}\n      namespaces: {{names: [monitoring]}}\n    relabel_configs:\n    - {{source_labels: [__meta_kubernetes_pod_label_app], regex: alertmanager, action: keep}}\n    - {{source_labels: [__meta_kubernetes_pod_container_port_name], regex: web, action: keep}}\n",
            fake.url()
        ),
    );
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(
        &dir.path().join("data"),
        &["--config.file", config.to_str().unwrap(), "--rules.alert.resend-delay=1s"],
        &log_path,
    );
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    wait_for_alertmanagers(
        &client,
        address,
        serde_json::json!({
            "activeAlertmanagers": [{"url": format!("http://{}/am/api/v2/alerts", alertmanager.address)}],
            "droppedAlertmanagers": [{"url": "http://127.0.0.1:8080/am/api/v2/alerts"}],
        }),
    )
    .await;
    wait_for_alert(&client, alertmanager.address, "AlwaysFiring", &log_path).await;
}
