//! The real Alertmanager client, Debian's `amtool` (package `prometheus-alertmanager`), against
//! the router's API v2 served on loopback: alerts, silences and offline config checks. Each
//! test skips with a message when `amtool` is not installed (`scripts/test` installs it).

use std::path::Path;
use std::process::Command;

use panoptes_alerting::{Alertmanager, AlertmanagerOptions, api_router, check_config, parse_str, routes_test};

const CONFIG: &str = r#"
global:
  resolve_timeout: 5m
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1h
  routes:
  - receiver: db
    matchers: ['team="db"']
    continue: true
  - receiver: oncall
    matchers: ['severity=~"critical|page"']
receivers:
- name: default
  webhook_configs: [{url: 'http://127.0.0.1:9/'}]
- name: db
  webhook_configs: [{url: 'http://127.0.0.1:9/'}]
- name: oncall
  webhook_configs: [{url: 'http://127.0.0.1:9/'}]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
"#;

fn has_amtool() -> bool {
    let found = Command::new("amtool").arg("--version").output().is_ok();
    if !found {
        eprintln!("amtool not installed (apt-get install prometheus-alertmanager); skipping");
    }
    found
}

/// Starts the router and its API on 127.0.0.1 and returns the URL.
async fn start(dir: &Path) -> (Alertmanager, String) {
    let config = parse_str(CONFIG, "test.yml").unwrap();
    let am = Alertmanager::open(dir, config, AlertmanagerOptions::default()).unwrap();
    am.spawn(std::future::pending());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = api_router(am.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (am, url)
}

/// Runs amtool against `url` on a blocking thread; returns (success, stdout, stderr).
async fn amtool(url: &str, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new("amtool");
    command.arg(format!("--alertmanager.url={url}")).args(args);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_adds_queries_and_silences_alerts() {
    if !has_amtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_am, url) = start(dir.path()).await;

    let (ok, _, stderr) = amtool(
        &url,
        &[
            "alert",
            "add",
            "alertname=DiskFull",
            "team=db",
            "severity=critical",
            "cluster=a",
            "--annotation=summary=磁盘已满",
        ],
    )
    .await;
    assert!(ok, "alert add failed: {stderr}");
    let (ok, _, stderr) = amtool(&url, &["alert", "add", "alertname=DiskSlow", "severity=warning", "cluster=a"]).await;
    assert!(ok, "alert add failed: {stderr}");

    // The warning is inhibited by the critical alert on the same cluster, so the default query
    // (active, not inhibited, not silenced) shows only DiskFull.
    let (ok, stdout, stderr) = amtool(&url, &["alert", "query", "-o", "json"]).await;
    assert!(ok, "alert query failed: {stderr}");
    let alerts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let names: Vec<&str> =
        alerts.as_array().unwrap().iter().map(|a| a["labels"]["alertname"].as_str().unwrap()).collect();
    assert_eq!(names, ["DiskFull"], "{stdout}");
    let receivers: Vec<&str> =
        alerts[0]["receivers"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(receivers, ["db", "oncall"]);
    assert_eq!(alerts[0]["annotations"]["summary"], "磁盘已满");

    let (ok, stdout, _) = amtool(&url, &["alert", "query", "--inhibited", "-o", "json", "alertname=DiskSlow"]).await;
    assert!(ok);
    let alerts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(alerts[0]["status"]["state"], "suppressed", "{stdout}");
    assert_eq!(alerts[0]["status"]["inhibitedBy"].as_array().unwrap().len(), 1);

    // Silence DiskFull; the default query no longer shows it, --silenced does.
    let (ok, stdout, stderr) =
        amtool(&url, &["silence", "add", "alertname=DiskFull", "--comment=维护窗口", "--author=ops", "--duration=1h"])
            .await;
    assert!(ok, "silence add failed: {stderr}");
    let id = stdout.trim().to_owned();
    assert_eq!(id.len(), 36, "{stdout}");

    let (ok, stdout, _) = amtool(&url, &["alert", "query", "-o", "json"]).await;
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap(), serde_json::json!([]));
    let (ok, stdout, _) = amtool(&url, &["alert", "query", "--silenced", "-o", "json", "alertname=DiskFull"]).await;
    assert!(ok);
    let alerts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(alerts[0]["status"]["silencedBy"][0], id.as_str(), "{stdout}");

    let (ok, stdout, stderr) = amtool(&url, &["silence", "query", "-q"]).await;
    assert!(ok, "silence query failed: {stderr}");
    assert_eq!(stdout.trim(), id);
    let (ok, stdout, _) = amtool(&url, &["silence", "query", "-o", "json", "alertname=DiskFull"]).await;
    assert!(ok);
    let silences: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(silences[0]["comment"], "维护窗口");
    assert_eq!(silences[0]["createdBy"], "ops");
    assert_eq!(silences[0]["status"]["state"], "active");

    let (ok, _, stderr) = amtool(&url, &["silence", "expire", &id]).await;
    assert!(ok, "silence expire failed: {stderr}");
    let (ok, stdout, _) = amtool(&url, &["silence", "query", "-q"]).await;
    assert!(ok);
    assert_eq!(stdout.trim(), "", "expired silences are hidden by default");
    let (ok, stdout, _) = amtool(&url, &["silence", "query", "--expired", "-q"]).await;
    assert!(ok);
    assert_eq!(stdout.trim(), id);
    // Expiring twice fails, as in Alertmanager.
    let (ok, _, _) = amtool(&url, &["silence", "expire", &id]).await;
    assert!(!ok);
    let (ok, stdout, _) = amtool(&url, &["alert", "query", "-o", "json"]).await;
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap().as_array().unwrap().len(), 1);

    // The silence survives a restart of the router.
    let reopened =
        Alertmanager::open(dir.path(), parse_str(CONFIG, "test.yml").unwrap(), AlertmanagerOptions::default()).unwrap();
    let silence = reopened.silences().get(&id).unwrap();
    assert_eq!(silence.state_at(jiff::Timestamp::now()), panoptes_alerting::SilenceState::Expired);
    assert_eq!(silence.comment, "维护窗口");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amtool_reads_status_and_receivers() {
    if !has_amtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_am, url) = start(dir.path()).await;
    let (ok, stdout, stderr) = amtool(&url, &["config", "show"]).await;
    assert!(ok, "config show failed: {stderr}");
    assert!(stdout.contains("oncall"), "{stdout}");
    let body: serde_json::Value = reqwest::get(format!("{url}/api/v2/receivers")).await.unwrap().json().await.unwrap();
    assert_eq!(body, serde_json::json!([{"name": "default"}, {"name": "db"}, {"name": "oncall"}]));
    let response = reqwest::get(format!("{url}/api/v2/silence/00000000-0000-4000-8000-000000000000")).await.unwrap();
    assert_eq!(response.status(), 404);
    let response = reqwest::Client::new()
        .post(format!("{url}/api/v2/alerts"))
        .header("content-type", "application/json")
        .body(r#"[{"labels":{}}]"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let message: String = response.json().await.unwrap();
    assert!(message.contains("at least one label pair required"), "{message}");
}

/// Runs `amtool check-config` on a file and our checker on the same file; both must agree.
#[track_caller]
fn check_both(path: &Path, expect_success: bool) {
    let output = Command::new("amtool").arg("check-config").arg(path).output().unwrap();
    let amtool_stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let report = check_config(path);
    assert_eq!(output.status.success(), expect_success, "amtool on {}: {amtool_stdout}", path.display());
    assert_eq!(report.is_success(), expect_success, "ours on {}: {}", path.display(), report.render());
    if expect_success {
        assert_eq!(report.render(), amtool_stdout, "check-config output differs");
    }
}

#[test]
fn check_config_agrees_with_amtool() {
    if !has_amtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    check_both(Path::new("../../../shared/testdata/seed-configs/notes-alertmanager.yml"), true);
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    check_both(&write("full.yml", CONFIG), true);
    check_both(&write("undefined.yml", "route:\n  receiver: x\nreceivers:\n- name: y\n"), false);
    check_both(&write("duplicate.yml", "route: {receiver: y}\nreceivers:\n- name: y\n- name: y\n"), false);
    check_both(
        &write("badmatcher.yml", "route:\n  receiver: y\n  routes:\n  - matchers: ['a=~(']\nreceivers: [{name: y}]\n"),
        false,
    );
    check_both(
        &write(
            "intervals.yml",
            "route:\n  receiver: y\n  routes:\n  - receiver: y\n    mute_time_intervals: [night]\ntime_intervals:\n- name: night\n  time_intervals:\n  - times: [{start_time: '00:00', end_time: '08:00'}]\n    weekdays: ['monday:friday']\n    location: Asia/Shanghai\nreceivers: [{name: y}]\n",
        ),
        true,
    );
    check_both(&write("unknown.yml", "route: {receiver: y, recevier: z}\nreceivers: [{name: y}]\n"), false);
}

#[test]
fn routes_test_agrees_with_amtool() {
    if !has_amtool() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("am.yml");
    std::fs::write(&path, CONFIG).unwrap();
    let config = panoptes_alerting::load_file(&path).unwrap();
    for labels in [vec!["team=db", "severity=critical"], vec!["team=db"], vec!["severity=page"], vec!["team=web"]] {
        let output = Command::new("amtool")
            .args(["config", "routes", "test", "--config.file"])
            .arg(&path)
            .args(&labels)
            .output()
            .unwrap();
        let expected = String::from_utf8_lossy(&output.stdout).into_owned();
        let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let ours = panoptes_alerting::format_routes_test(&routes_test(&config, &labels).unwrap(), None).0;
        assert_eq!(ours, expected, "{labels:?}");
    }
    let output = Command::new("amtool").args(["config", "routes", "--config.file"]).arg(&path).output().unwrap();
    assert_eq!(
        panoptes_alerting::format_routing_tree(&config).unwrap(),
        String::from_utf8_lossy(&output.stdout).trim_end().to_owned() + "\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let options = AlertmanagerOptions { max_request_body_bytes: 1024, ..AlertmanagerOptions::default() };
    let am = Alertmanager::open(dir.path(), parse_str(CONFIG, "test.yml").unwrap(), options).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, api_router(am)).await });
    let big = format!(r#"[{{"labels":{{"alertname":"{}"}}}}]"#, "x".repeat(4096));
    let response = reqwest::Client::new().post(format!("{url}/api/v2/alerts")).body(big).send().await.unwrap();
    assert_eq!(response.status(), 413);
    let groups: serde_json::Value =
        reqwest::get(format!("{url}/api/v2/alerts/groups")).await.unwrap().json().await.unwrap();
    assert_eq!(groups, serde_json::json!([]));
}
