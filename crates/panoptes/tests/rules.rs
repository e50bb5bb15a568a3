//! Rules end to end: `panoptes server` and Debian's `prometheus` load the same configuration and
//! rule file and scrape the same (dead) target; the recorded series, the firing alert with its
//! templated annotation, and the shapes of `/api/v1/rules` and `/api/v1/alerts` must agree. Also
//! `panoptes check rules` and `panoptes test rules` on promtool's own fixtures.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::common::{Process, get_data, start_prometheus, start_server, wait_ready};

const RULES: &str = r#"groups:
- name: availability
  interval: 1s
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
  - alert: TargetDown
    expr: up == 0
    labels:
      severity: critical
    annotations:
      summary: "{{ $labels.instance }} of {{ $labels.job }} is down ({{ $value }})"
"#;

/// Polls `/api/v1/alerts` until an alert fires.
async fn firing_alert(client: &reqwest::Client, address: std::net::SocketAddr) -> Json {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = get_data(client, &format!("http://{address}/api/v1/alerts")).await;
        if let Some(alert) = data["alerts"].as_array().and_then(|alerts| alerts.first())
            && alert["state"] == "firing"
        {
            return alert.clone();
        }
        assert!(Instant::now() < deadline, "no firing alert on {address}: {data}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn keys(value: &Json) -> BTreeSet<String> {
    value.as_object().map(|object| object.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_and_rules_are_listed_like_prometheus() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), RULES).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n- job_name: dead\n  static_configs:\n  - targets: ['127.0.0.1:1']\n",
        dir.path().join("rules.yml").display()
    );
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, &config).unwrap();
    let prometheus = start_prometheus(dir.path(), &config, &[], &client).await;
    let log_path = dir.path().join("panoptes.log");
    let (child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config_path.to_str().unwrap()], &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let ours = firing_alert(&client, address).await;
    let theirs = firing_alert(&client, prometheus.address).await;
    assert_eq!(ours["labels"], theirs["labels"]);
    assert_eq!(ours["annotations"], theirs["annotations"]);
    assert_eq!(ours["annotations"]["summary"], "127.0.0.1:1 of dead is down (0)");
    assert_eq!(keys(&ours), keys(&theirs), "alert fields");

    let recorded = get_data(&client, &format!("http://{address}/api/v1/query?query=job:up:sum")).await;
    assert_eq!(recorded["result"][0]["metric"], serde_json::json!({"__name__": "job:up:sum", "job": "dead"}));
    assert_eq!(recorded["result"][0]["value"][1], "0");
    let alerts_series = get_data(&client, &format!("http://{address}/api/v1/query?query=ALERTS")).await;
    assert_eq!(alerts_series["result"][0]["metric"]["alertstate"], "firing");

    let ours = get_data(&client, &format!("http://{address}/api/v1/rules")).await;
    let theirs = get_data(&client, &format!("http://{}/api/v1/rules", prometheus.address)).await;
    let (our_group, their_group) = (&ours["groups"][0], &theirs["groups"][0]);
    assert_eq!(keys(our_group), keys(their_group), "group fields");
    for field in ["name", "file", "interval", "limit"] {
        assert_eq!(our_group[field], their_group[field], "group {field}");
    }
    for index in 0..2 {
        let (our_rule, their_rule) = (&our_group["rules"][index], &their_group["rules"][index]);
        assert_eq!(keys(our_rule), keys(their_rule), "rule {index} fields");
        for field in ["name", "query", "labels", "health", "type", "annotations", "duration"] {
            assert_eq!(our_rule[field], their_rule[field], "rule {index} {field}");
        }
    }
    let alerting = get_data(&client, &format!("http://{address}/api/v1/rules?type=alert")).await;
    assert_eq!(alerting["groups"][0]["rules"].as_array().unwrap().len(), 1);
}

fn panoptes(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_panoptes")).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn check_and_test_rules_on_promtool_fixtures() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/promtool-rules");
    let path = |name: &str| fixtures.join(name).display().to_string();

    let (code, stdout, _) = panoptes(&["check", "rules", &path("rules.yml")]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("SUCCESS: 5 rules found"), "{stdout}");
    let (code, _, stderr) = panoptes(&["check", "rules", &path("rules-bad.yml")]);
    assert_eq!(code, 1);
    assert!(stderr.contains("undefined variable \"$label\""), "{stderr}");
    let (code, _, _) = panoptes(&["check", "rules", "--lint-fatal", &path("prometheus-rules.lint.yml")]);
    assert_eq!(code, 3);

    let (code, stdout, stderr) = panoptes(&["test", "rules", &path("long-period.yml")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, _, _) = panoptes(&["test", "rules", &path("failing.yml")]);
    assert_eq!(code, 1);
    let (code, _, _) = panoptes(&["test", "rules", "--run", "correct", &path("rules_run.yml")]);
    assert_eq!(code, 0);
    let (code, _, _) = panoptes(&["test", "rules", "--run", "wrong", &path("rules_run.yml")]);
    assert_eq!(code, 1);
}

/// Returns the rules' alerts from `/api/v1/alerts` and the `activeAt` of the first.
async fn first_alert(client: &reqwest::Client, address: std::net::SocketAddr) -> Option<(Json, jiff::Timestamp)> {
    let data = get_data(client, &format!("http://{address}/api/v1/alerts")).await;
    let alert = data["alerts"].as_array()?.first()?.clone();
    let active_at = alert["activeAt"].as_str()?.parse().ok()?;
    Some((alert, active_at))
}

/// A restart in the middle of a rule's `for` changes nothing a user can see: the pending state
/// is restored from `ALERTS_FOR_STATE` with `activeAt` unchanged (Panoptes' default
/// `--rules.alert.for-restore=unchanged`, where Prometheus would add the outage), the alert
/// fires 20 s after it became active as it would have without the restart, `ALERTS_FOR_STATE`
/// still holds the original `activeAt`, and the alert history shows one `pending` and one
/// `firing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_for_fires_at_the_original_time() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: slow\n  interval: 1s\n  rules:\n  - alert: SlowBurn\n    expr: vector(1)\n    for: 20s\n",
    )
    .unwrap();
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(
        &config_path,
        format!("global:\n  evaluation_interval: 1s\nrule_files: ['{}']\n", dir.path().join("rules.yml").display()),
    )
    .unwrap();
    let flags = ["--config.file", config_path.to_str().unwrap()];
    let data = dir.path().join("data");
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let deadline = Instant::now() + Duration::from_secs(20);
    let active_at = loop {
        if let Some((alert, active_at)) = first_alert(&client, address).await {
            assert_eq!(alert["state"], "pending");
            break active_at;
        }
        assert!(Instant::now() < deadline, "no pending alert:\n{}", std::fs::read_to_string(&log_path).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Stop about 5 s into the 20 s `for`.
    let wait = jiff::Timestamp::now().duration_until(active_at + jiff::SignedDuration::from_secs(5));
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;
    let stopped_at = jiff::Timestamp::now();
    let status = Command::new("kill").args(["-TERM", &panoptes.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(crate::common::wait_exit(&mut panoptes.child, Duration::from_secs(20)).is_some_and(|s| s.success()));
    // A 3 s outage, which Prometheus would add to `activeAt`.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    let restarted_at = jiff::Timestamp::now();
    let deadline = Instant::now() + Duration::from_secs(40);
    let restored_active_at = loop {
        if let Some((alert, active_at)) = first_alert(&client, address).await
            && alert["state"] == "firing"
        {
            break active_at;
        }
        assert!(Instant::now() < deadline, "never fired:\n{}", std::fs::read_to_string(&log_path).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let outage = restarted_at.duration_since(stopped_at);
    // `activeAt` is the original one, in the whole seconds `ALERTS_FOR_STATE` holds.
    assert_eq!(restored_active_at.as_second(), active_at.as_second(), "outage {outage:#}");
    assert!(restored_active_at <= active_at, "{restored_active_at} after {active_at}");
    let for_state = get_data(&client, &format!("http://{address}/api/v1/query?query=ALERTS_FOR_STATE")).await;
    let value: f64 = for_state["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert_eq!(value as i64, active_at.as_second(), "ALERTS_FOR_STATE holds the original activeAt");

    let history = get_data(&client, &format!("http://{address}/api/v1/alerts/history?kind=state")).await;
    let records: Vec<&Json> = history.as_array().unwrap().iter().rev().collect();
    let changes: Vec<String> = records
        .iter()
        .map(|record| format!("{}->{}", record["from"].as_str().unwrap(), record["to"].as_str().unwrap()))
        .collect();
    assert_eq!(changes, ["inactive->pending", "pending->firing"], "{history:#}");
    // It fired at the evaluation 20 s after it became active (evaluations keep their phase
    // across restarts), not 20 s plus the outage later.
    let fired_at: jiff::Timestamp = records[1]["time"].as_str().unwrap().parse().unwrap();
    let held = fired_at.duration_since(active_at);
    eprintln!("outage {outage:#}, fired {held:#} after activeAt");
    assert!(
        held >= jiff::SignedDuration::from_secs(20) && held < jiff::SignedDuration::from_millis(21_500),
        "fired {held:#} after activeAt with an outage of {outage:#}"
    );
}
