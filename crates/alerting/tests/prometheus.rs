//! Debian's real `prometheus` (package `prometheus`) evaluates an always-firing rule and sends
//! the alert to the router's API v2 as its Alertmanager; the router routes it to a webhook on
//! loopback. Skips with a message when `prometheus` is not installed (`scripts/test` installs
//! it).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use panoptes_alerting::{Alertmanager, AlertmanagerOptions, api_router, parse_str};
use parking_lot::Mutex;

/// Kills the child process when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sends_alerts_that_get_routed() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        eprintln!("prometheus not installed (apt-get install prometheus); skipping");
        return;
    }
    // The webhook that receives the routed notification.
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let sink = Arc::clone(&received);
    let hook = axum::Router::new().fallback(move |body: Bytes| {
        let sink = Arc::clone(&sink);
        async move {
            if let Ok(value) = serde_json::from_slice(&body) {
                sink.lock().push(value);
            }
            "ok"
        }
    });
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", hook_listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(hook_listener, hook).await });

    let config = format!(
        r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 100ms
  routes:
  - receiver: team-node
    matchers: [team="node"]
receivers:
- name: default
- name: team-node
  webhook_configs: [{{url: '{hook_url}'}}]
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(
        dir.path().join("am"),
        parse_str(&config, "am.yml").unwrap(),
        AlertmanagerOptions::default(),
    )
    .unwrap();
    am.spawn(std::future::pending());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let am_address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api_router(am)).await });

    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: test\n  interval: 1s\n  rules:\n  - alert: NodeMemoryUsage\n    expr: vector(1)\n    labels: {team: node}\n    annotations: {summary: '内存使用率过高'}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global: {{evaluation_interval: 1s}}\nrule_files: [rules.yml]\nalerting:\n  alertmanagers:\n  - api_version: v2\n    static_configs: [{{targets: ['{am_address}']}}]\n"
        ),
    )
    .unwrap();
    let prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg("--web.listen-address=127.0.0.1:0")
        // The first alert is sent before the Alertmanager is discovered (about 5s); resend soon.
        .arg("--rules.alert.resend-delay=1s")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("prometheus.log")).unwrap())
        .spawn()
        .unwrap();
    let _prometheus = KillOnDrop(prometheus);

    let api = format!("http://{am_address}/api/v2/alerts");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let notification = loop {
        if let Some(notification) = received.lock().first().cloned() {
            break notification;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no notification from the alert prometheus sent; alerts held: {}; log {}",
            reqwest::get(&api).await.unwrap().text().await.unwrap(),
            std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(notification["receiver"], "team-node");
    let alert = &notification["alerts"][0];
    assert_eq!(alert["labels"]["alertname"], "NodeMemoryUsage");
    assert_eq!(alert["annotations"]["summary"], "内存使用率过高");
    assert_eq!(alert["status"], "firing");
    assert!(alert["generatorURL"].as_str().unwrap().contains("/graph?g0.expr="), "{alert}");
}
