//! The alert and notification history through the real binary: a rule goes pending, then
//! firing; the built-in router delivers it to a webhook receiver — a real HTTP server on
//! loopback that answers 500 to the first request and 200 afterwards. `/api/v1/alerts/history`
//! must show the state changes in order and each delivery attempt with its HTTP status, never
//! the receiver's URL, and still show them after the server is killed with SIGKILL and started
//! again on the same data directory.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value as Json;

use crate::common::{Process, get_data, start_server, wait_ready};

/// Starts a webhook receiver answering 500 to the first request and 200 to the others; returns
/// its address and the count of requests.
async fn flaky_webhook() -> (SocketAddr, Arc<AtomicUsize>) {
    let requests = Arc::new(AtomicUsize::new(0));
    let counter = requests.clone();
    let app = Router::new().route(
        "/hook",
        post(move |_body: String| {
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    (StatusCode::INTERNAL_SERVER_ERROR, "try again")
                } else {
                    (StatusCode::OK, "ok")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, requests)
}

/// Writes the configuration, rule file and Alertmanager configuration into `dir`; returns the
/// server's flags.
fn write_configs(dir: &Path, hook: SocketAddr) -> Vec<String> {
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n- name: demo\n  interval: 1s\n  rules:\n  - alert: SlowBurn\n    expr: vector(3)\n    for: 2s\n    labels: {severity: page}\n    annotations: {summary: 'value {{ $value }}'}\n",
    )
    .unwrap();
    let config = dir.join("panoptes.yml");
    std::fs::write(
        &config,
        format!("global:\n  evaluation_interval: 1s\nrule_files: ['{}']\n", dir.join("rules.yml").display()),
    )
    .unwrap();
    let am_config = dir.join("alertmanager.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 100ms\n  group_interval: 10s\n  repeat_interval: 1h\nreceivers:\n- name: hook\n  webhook_configs:\n  - url: http://{hook}/hook?token=SECRET-TOKEN\n"
        ),
    )
    .unwrap();
    vec![
        "--config.file".to_owned(),
        config.display().to_string(),
        "--alertmanager.config.file".to_owned(),
        am_config.display().to_string(),
    ]
}

/// Returns the history records matching `query`, oldest first.
async fn history(client: &reqwest::Client, address: SocketAddr, query: &str) -> Vec<Json> {
    let data = get_data(client, &format!("http://{address}/api/v1/alerts/history?{query}")).await;
    let mut records = data.as_array().expect("history data is an array").clone();
    records.reverse();
    records
}

fn summary(record: &Json) -> String {
    match record["kind"].as_str() {
        Some("state") => {
            format!("{} {}->{}", record["source"].as_str().unwrap(), record["from"], record["to"]).replace('"', "")
        }
        Some("delivery") => format!(
            "delivery {} {} {} {}",
            record["receiver"].as_str().unwrap(),
            record["attempt"],
            record["outcome"].as_str().unwrap(),
            record["status_code"]
        ),
        _ => panic!("unexpected record {record}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_state_changes_and_delivery_attempts_across_a_restart() {
    let (hook, requests) = flaky_webhook().await;
    let dir = tempfile::tempdir().unwrap();
    let flags = write_configs(dir.path(), hook);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let client = reqwest::Client::new();
    let data = dir.path().join("data");
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    let records = loop {
        let records = history(&client, address, "match[]=SlowBurn").await;
        if records.iter().any(|record| record["outcome"] == "success") {
            break records;
        }
        assert!(
            Instant::now() < deadline,
            "no successful delivery in the history: {records:?}\n{}",
            std::fs::read_to_string(&log_path).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let summaries: Vec<String> = records.iter().map(summary).collect();
    assert_eq!(
        summaries,
        [
            "rules inactive->pending",
            "rules pending->firing",
            "router none->received",
            "delivery hook 1 retry 500",
            "delivery hook 2 success 200",
        ],
        "{records:#?}"
    );
    assert_eq!(requests.load(Ordering::SeqCst), 2);
    // The rule's changes carry the evaluation time, two evaluations (the `for`) apart, the
    // group, the alert's labels, annotations and value.
    let time = |record: &Json| record["time"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap();
    let held = time(&records[1]).duration_since(time(&records[0]));
    assert!(held >= jiff::SignedDuration::from_secs(2) && held < jiff::SignedDuration::from_secs(4), "{held}");
    assert_eq!(records[1]["group"], format!("{};demo", dir.path().join("rules.yml").display()));
    assert_eq!(records[1]["labels"]["severity"], "page");
    assert_eq!(records[1]["annotations"]["summary"], "value 3");
    assert_eq!(records[1]["value"], 3.0);
    assert_eq!(records[0]["fingerprint"], records[2]["fingerprint"]);
    let failed = &records[3];
    assert_eq!(failed["integration"], "webhook");
    assert!(failed["error"].as_str().unwrap().contains("500"), "{failed}");
    assert_eq!(failed["alerts"][0]["labels"]["alertname"], "SlowBurn");
    assert_eq!(failed["alerts"][0]["status"], "firing");
    assert!(failed["duration_seconds"].as_f64().unwrap() >= 0.0);
    // Sequence numbers grow with every record, newest first in the answer.
    let seqs: Vec<u64> = records.iter().map(|record| record["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");

    // Filters: deliveries to the receiver only, state changes only, a time range, a limit.
    let deliveries = history(&client, address, "kind=delivery&receiver=hook").await;
    assert_eq!(deliveries.iter().map(summary).collect::<Vec<_>>(), summaries[3..]);
    let states = history(&client, address, "kind=state&match[]={severity=\"page\"}").await;
    assert_eq!(states.iter().map(summary).collect::<Vec<_>>(), summaries[..3]);
    let start = records[1]["time"].as_str().unwrap();
    let ranged = history(&client, address, &format!("match[]=SlowBurn&start={start}&end={start}")).await;
    assert_eq!(ranged.iter().map(summary).collect::<Vec<_>>(), ["rules pending->firing"]);
    let newest = get_data(&client, &format!("http://{address}/api/v1/alerts/history?limit=1")).await;
    assert_eq!(newest.as_array().unwrap().len(), 1);
    assert_eq!(history(&client, address, "receiver=nobody").await, Vec::<Json>::new());
    // Errors come in Prometheus' shape.
    let response = client.get(format!("http://{address}/api/v1/alerts/history?kind=other")).send().await.unwrap();
    assert_eq!(response.status(), 400);
    let body: Json = response.json().await.unwrap();
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");

    // The receiver's URL (with its token) is never written.
    for entry in std::fs::read_dir(data.join("alerting/history")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains("SECRET-TOKEN") && !text.contains("/hook"), "{text}");
    }

    // SIGKILL, then start again on the same data: every acknowledged record is still there and
    // new ones continue the sequence.
    panoptes.child.kill().unwrap();
    panoptes.child.wait().unwrap();
    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    let after = history(&client, address, "match[]=SlowBurn").await;
    assert_eq!(after[..records.len()], records[..], "{after:#?}");
    // The alert was firing before the kill and is restored firing since the time it fired (no
    // new `pending` or `firing` from the rules); the router, whose held alerts were last saved
    // before the kill, receives it again, and the notification log keeps it from notifying
    // again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let later = loop {
        let later = history(&client, address, "limit=10000").await;
        if later.len() > records.len() {
            break later;
        }
        assert!(Instant::now() < deadline, "no new records after the restart: {later:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let old_max = *seqs.last().unwrap();
    assert!(later[records.len()..].iter().all(|record| record["seq"].as_u64().unwrap() > old_max), "{later:#?}");
    assert_eq!(summary(&later[records.len()]), "router none->received", "{later:#?}");
    let rules_after = history(&client, address, "kind=state&match[]=SlowBurn").await;
    assert!(
        rules_after.iter().filter(|record| record["source"] == "rules").count() == 2,
        "the restart added rule state changes: {rules_after:#?}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let states = history(&client, address, "kind=state").await;
    assert_eq!(states.iter().filter(|record| record["source"] == "rules").count(), 2, "{states:#?}");
    let later = history(&client, address, "kind=delivery").await;
    assert_eq!(later.len(), 2, "{later:#?}");
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}
