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
