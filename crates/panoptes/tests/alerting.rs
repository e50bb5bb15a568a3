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
    let (child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config.to_str().unwrap()], &log_path);
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
