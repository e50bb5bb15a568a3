//! End-to-end delivery through the dispatcher to faithful fakes on loopback. The fakes speak the
//! real wire formats: they check the JSON bodies of the webhook, WeCom, DingTalk, Feishu and
//! Slack, verify DingTalk's and Feishu's signatures exactly as their documentation specifies,
//! and answer as the real services do (`{"errcode":0,"errmsg":"ok"}`, `{"code":0,...}`, `ok`),
//! including WeCom's rate-limit answer (errcode 45009), which must be retried. A minimal SMTP
//! server receives e-mail.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use base64::Engine;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use panoptes_alerting::{
    Alertmanager, AlertmanagerOptions, EventKind, History, HistoryEvent, HistoryOptions, HistoryQuery, Outcome,
    PostableAlert, Silence, SilenceMatcher, parse_str,
};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const DINGTALK_SECRET: &str = "SEC0123456789abcdef";
const FEISHU_SECRET: &str = "feishu-secret";

#[derive(Debug, Clone)]
struct Received {
    path: String,
    query: String,
    body: Value,
    /// The `Authorization` and `User-Agent` headers.
    authorization: Option<String>,
    user_agent: Option<String>,
}

#[derive(Default)]
struct Fake {
    received: Mutex<Vec<Received>>,
    /// Answers to give before the normal one, per path.
    scripted: Mutex<HashMap<String, VecDeque<(u16, String)>>>,
}

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Answers like the real service would.
fn answer(received: &Received) -> (u16, String) {
    let path = received.path.as_str();
    if path.starts_with("/robot/send") {
        // DingTalk: sign = urlencode(base64(HmacSHA256(secret, timestamp + "\n" + secret))).
        let query: HashMap<String, String> = form_urlencoded::parse(received.query.as_bytes()).into_owned().collect();
        let timestamp = query.get("timestamp").cloned().unwrap_or_default();
        let expected = hmac_base64(DINGTALK_SECRET.as_bytes(), format!("{timestamp}\n{DINGTALK_SECRET}").as_bytes());
        let is_fresh =
            timestamp.parse::<i64>().is_ok_and(|ms| (Timestamp::now().as_millisecond() - ms).abs() < 3_600_000);
        if query.get("access_token").map(String::as_str) != Some("dt-token")
            || query.get("sign") != Some(&expected)
            || !is_fresh
        {
            return (200, r#"{"errcode":310000,"errmsg":"sign not match"}"#.to_owned());
        }
        return (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned());
    }
    if path == "/open-apis/bot/v2/hook/unsigned" {
        return (200, r#"{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}"#.to_owned());
    }
    if path.starts_with("/open-apis/bot/v2/hook/") {
        // Feishu: sign = base64(HmacSHA256(key = timestamp + "\n" + secret, message = "")).
        let timestamp = received.body["timestamp"].as_str().unwrap_or_default().to_owned();
        let expected = hmac_base64(format!("{timestamp}\n{FEISHU_SECRET}").as_bytes(), b"");
        if received.body["sign"].as_str() != Some(expected.as_str()) {
            return (
                200,
                r#"{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour from current time"}"#
                    .to_owned(),
            );
        }
        return (200, r#"{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}"#.to_owned());
    }
    if path == "/cgi-bin/gettoken" {
        // WeChat Work: corpid and corpsecret must match.
        if received.query != "corpid=corp-1&corpsecret=app-secret" {
            return (200, r#"{"errcode":40013,"errmsg":"invalid corpid"}"#.to_owned());
        }
        return (200, r#"{"errcode":0,"errmsg":"ok","access_token":"token-1","expires_in":7200}"#.to_owned());
    }
    if path == "/cgi-bin/message/send" {
        if received.query != "access_token=token-1" {
            return (200, r#"{"errcode":40014,"errmsg":"invalid access_token"}"#.to_owned());
        }
        return (200, r#"{"errcode":0,"errmsg":"ok","invaliduser":""}"#.to_owned());
    }
    if path.starts_with("/cgi-bin/webhook/send") {
        return (200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned());
    }
    (200, "ok".to_owned())
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let header =
        |name: axum::http::HeaderName| headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let received = Received {
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        authorization: header(axum::http::header::AUTHORIZATION),
        user_agent: header(axum::http::header::USER_AGENT),
    };
    let scripted = fake.scripted.lock().get_mut(uri.path()).and_then(VecDeque::pop_front);
    let (status, text) = scripted.unwrap_or_else(|| answer(&received));
    fake.received.lock().push(received);
    (axum::http::StatusCode::from_u16(status).unwrap(), text)
}

async fn start_fake() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let router = axum::Router::new().fallback(handle).with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (fake, url)
}

fn options() -> AlertmanagerOptions {
    AlertmanagerOptions {
        external_url: "http://panoptes.example:9090".to_owned(),
        retry_initial_backoff: Duration::from_millis(20),
        retry_max_backoff: Duration::from_millis(100),
        ..AlertmanagerOptions::default()
    }
}

fn alert(name: &str, instance: &str, resolved: bool) -> PostableAlert {
    let now = Timestamp::now();
    PostableAlert {
        labels: [("alertname", name), ("instance", instance), ("severity", "critical")]
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
        annotations: [("summary".to_owned(), "磁盘使用率超过 90%".to_owned())].into(),
        starts_at: Some("2024-03-04T01:30:00Z".parse().unwrap()),
        ends_at: resolved.then_some(now),
        generator_url: "http://prometheus/graph?g0.expr=disk".to_owned(),
    }
}

/// Polls until `count` requests arrived, failing after a deadline.
async fn wait_for(fake: &Fake, count: usize) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let received = fake.received.lock().clone();
        if received.len() >= count {
            return received;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {count} requests, got {received:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_each_integration_in_its_wire_format() {
    let (fake, url) = start_fake().await;
    fake.scripted
        .lock()
        .entry("/cgi-bin/webhook/send".to_owned())
        .or_default()
        .push_back((200, r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#.to_owned()));
    let config = format!(
        r#"
route:
  receiver: ops
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 1h
receivers:
- name: ops
  webhook_configs: [{{url: '{url}/hook'}}]
  wecom_configs:
  - webhook_url: '{url}/cgi-bin/webhook/send?key=wecom-key'
    mentioned_list: [zhangsan]
  dingtalk_configs:
  - webhook_url: '{url}/robot/send?access_token=dt-token'
    secret: {DINGTALK_SECRET}
    at_mobiles: ['13800000000']
  feishu_configs:
  - webhook_url: '{url}/open-apis/bot/v2/hook/abc'
    secret: {FEISHU_SECRET}
  - webhook_url: '{url}/open-apis/bot/v2/hook/unsigned'
    msg_type: post
  slack_configs:
  - api_url: '{url}/slack'
    channel: '#ops'
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();

    // Six integrations plus one retried WeCom request.
    let received = wait_for(&fake, 7).await;
    let by_path = |prefix: &str| -> Vec<&Received> { received.iter().filter(|r| r.path.starts_with(prefix)).collect() };

    let webhook = &by_path("/hook")[0].body;
    assert_eq!(webhook["version"], "4");
    assert_eq!(webhook["status"], "firing");
    assert_eq!(webhook["receiver"], "ops");
    assert_eq!(webhook["groupKey"], r#"{}:{alertname="DiskFull"}"#);
    assert_eq!(webhook["groupLabels"], json!({"alertname": "DiskFull"}));
    assert_eq!(webhook["externalURL"], "http://panoptes.example:9090");
    assert_eq!(webhook["truncatedAlerts"], 0);
    let sent = &webhook["alerts"][0];
    assert_eq!(sent["labels"]["instance"], "node-1");
    assert_eq!(sent["startsAt"], "2024-03-04T01:30:00Z");
    assert_eq!(sent["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(sent["fingerprint"].as_str().unwrap().len(), 16);

    let wecom = by_path("/cgi-bin/webhook/send");
    assert_eq!(wecom.len(), 2, "the rate-limited request is retried");
    assert_eq!(wecom[1].query, "key=wecom-key");
    assert_eq!(wecom[1].body["msgtype"], "markdown");
    let content = wecom[1].body["markdown"]["content"].as_str().unwrap();
    assert!(content.contains("**【告警】DiskFull (1)**"), "{content}");
    assert!(content.contains("> 摘要: 磁盘使用率超过 90%"), "{content}");
    assert!(content.ends_with("<@zhangsan>"), "{content}");
    assert!(content.len() <= 4096);

    let dingtalk = &by_path("/robot/send")[0].body;
    assert_eq!(dingtalk["msgtype"], "markdown");
    assert_eq!(dingtalk["markdown"]["title"], "【告警】DiskFull (1)");
    assert!(dingtalk["markdown"]["text"].as_str().unwrap().contains("@13800000000"));
    assert_eq!(dingtalk["at"]["atMobiles"], json!(["13800000000"]));
    assert_eq!(dingtalk["at"]["isAtAll"], false);

    let feishu = &by_path("/open-apis/bot/v2/hook/abc")[0].body;
    assert_eq!(feishu["msg_type"], "interactive");
    assert_eq!(feishu["card"]["header"]["template"], "red");
    assert_eq!(feishu["card"]["header"]["title"]["content"], "【告警】DiskFull (1)");
    assert!(feishu["card"]["elements"][0]["content"].as_str().unwrap().contains("摘要: 磁盘使用率超过 90%"));

    let post = &by_path("/open-apis/bot/v2/hook/unsigned")[0].body;
    assert_eq!(post["msg_type"], "post");
    assert!(post.get("sign").is_none());
    assert_eq!(post["content"]["post"]["zh_cn"]["title"], "【告警】DiskFull (1)");
    let lines: Vec<&str> = post["content"]["post"]["zh_cn"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|paragraph| {
            assert_eq!(paragraph[0]["tag"], "text");
            paragraph[0]["text"].as_str().unwrap()
        })
        .collect();
    assert!(lines.contains(&"摘要: 磁盘使用率超过 90%"), "{lines:?}");

    let slack = &by_path("/slack")[0].body;
    assert_eq!(slack["channel"], "#ops");
    assert_eq!(slack["attachments"][0]["title"], "[FIRING:1] DiskFull");
    assert_eq!(slack["attachments"][0]["color"], "danger");

    // Every integration answered success, so every delivery counted once with no failure
    // (the retried WeCom request is one notification).
    let text = wait_for_metric(&am, r#"panoptes_alertmanager_notifications_total{integration="wecom"} 1"#).await;
    assert!(!text.contains("notifications_failed_total{"), "{text}");
}

/// Polls the router's metrics until `line` appears; returns the exposition.
async fn wait_for_metric(am: &Alertmanager, line: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut registry = prometheus_client::registry::Registry::default();
        am.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        if text.contains(line) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "{line} not in {text}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn webhook_config(url: &str) -> String {
    format!(
        r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 100ms
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs: [{{url: '{url}/hook'}}]
"#
    )
}

fn instances(received: &Received) -> Vec<(String, String)> {
    received.body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["labels"]["instance"].as_str().unwrap().to_owned(), a["status"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_neither_repeats_nor_drops_notifications() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = webhook_config(&url);
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = am.spawn(async move {
        let _ = stopped.await;
    });
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    let received = wait_for(&fake, 1).await;
    assert_eq!(instances(&received[0]), [("node-1".to_owned(), "firing".to_owned())]);
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    drop(am);

    // A new router on the same directory restores the alert and the notification log: the
    // restored group flushes at once but must not repeat the notification.
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    // Give the restored group time to flush (its result is the same either way if correct).
    tokio::time::sleep(Duration::from_millis(300)).await;
    am.put_postable(vec![alert("DiskFull", "node-2", false)]).unwrap();
    let received = wait_for(&fake, 2).await;
    assert_eq!(
        instances(&received[1]),
        [("node-1".to_owned(), "firing".to_owned()), ("node-2".to_owned(), "firing".to_owned())],
        "{received:#?}"
    );
    // Resolving node-1 sends a notification with it resolved (send_resolved defaults to true).
    am.put_postable(vec![alert("DiskFull", "node-1", true)]).unwrap();
    let received = wait_for(&fake, 3).await;
    assert_eq!(
        instances(&received[2]),
        [("node-1".to_owned(), "resolved".to_owned()), ("node-2".to_owned(), "firing".to_owned())]
    );
    assert_eq!(received[2].body["status"], "firing");
    assert_eq!(received.len(), 3, "{received:#?}");
}

/// A webhook over HTTPS with the receiver's `http_config`: a CA file, a `server_name` the
/// certificate carries while the URL names 127.0.0.1 (the certificate has no IP address, so
/// without `server_name` verification fails), and basic authentication with a password file.
/// The fake sits behind `panoptes_test_util::tls::tls_front`, a rustls front with a certificate
/// of a CA made at test time with `openssl`. `group_interval` (a delivery's deadline) is long:
/// in a debug build on a loaded machine the first TLS delivery can outlast 100 ms, and a
/// delivery past its deadline is sent again at the next flush, as in Alertmanager.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_http_config_verifies_server_name_and_authenticates() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let pki = panoptes_test_util::tls::TestPki::new(dir.path());
    pki.issue_server("hook", "webhook.internal", "DNS:webhook.internal");
    let front =
        panoptes_test_util::tls::tls_front(&pki, "hook", url.trim_start_matches("http://").parse().unwrap()).await;
    std::fs::write(dir.path().join("password"), "hook-pw\n").unwrap();
    let receiver = |server_name: &str| {
        format!(
            r#"
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 2s
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs:
  - url: 'https://127.0.0.1:{port}/secure-hook'
    http_config:
      basic_auth: {{username: alertmanager, password_file: '{password}'}}
      tls_config: {{ca_file: '{ca}', server_name: '{server_name}'}}
"#,
            port = front.port(),
            password = dir.path().join("password").display(),
            ca = pki.path("ca.pem").display(),
        )
    };
    let state = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(state.path(), parse_str(&receiver("webhook.internal"), "am.yml").unwrap(), options())
        .unwrap();
    am.spawn(std::future::pending());
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    let received = wait_for(&fake, 1).await;
    assert_eq!(received[0].path, "/secure-hook");
    assert_eq!(instances(&received[0]), [("node-1".to_owned(), "firing".to_owned())]);
    // base64("alertmanager:hook-pw"): the password file is trimmed.
    assert_eq!(received[0].authorization.as_deref(), Some("Basic YWxlcnRtYW5hZ2VyOmhvb2stcHc="));
    let user_agent = received[0].user_agent.clone().unwrap_or_default();
    assert!(user_agent.starts_with("Panoptes-Alertmanager/"), "{user_agent}");
    drop(am);

    // A server name the certificate does not carry: nothing is delivered, the failure counted.
    let state = tempfile::tempdir().unwrap();
    let am =
        Alertmanager::open(state.path(), parse_str(&receiver("other.internal"), "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    am.put_postable(vec![alert("DiskFull", "node-2", false)]).unwrap();
    wait_for_metric(&am, r#"panoptes_alertmanager_notifications_failed_total{integration="webhook"} 1"#).await;
    assert_eq!(fake.received.lock().len(), 1, "nothing reached the fake with the wrong server name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silenced_alerts_are_not_notified() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&webhook_config(&url), "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let now = Timestamp::now();
    am.silences()
        .set(Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher {
                name: "instance".to_owned(),
                value: "node-1".to_owned(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: now,
            ends_at: now + jiff::SignedDuration::from_secs(3600),
            updated_at: now,
            created_by: "ops".to_owned(),
            comment: "维护".to_owned(),
        })
        .unwrap();
    am.put_postable(vec![alert("DiskFull", "node-1", false), alert("DiskFull", "node-2", false)]).unwrap();
    let received = wait_for(&fake, 1).await;
    assert_eq!(instances(&received[0]), [("node-2".to_owned(), "firing".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_receiver_is_retried_then_counted_failed() {
    let (fake, url) = start_fake().await;
    {
        let mut scripted = fake.scripted.lock();
        let queue = scripted.entry("/hook".to_owned()).or_default();
        queue.push_back((503, "unavailable".to_owned()));
        queue.push_back((500, "boom".to_owned()));
    }
    let dir = tempfile::tempdir().unwrap();
    // A long group interval leaves the retries (20ms, 40ms) far inside the deadline.
    let config = webhook_config(&url).replace("group_interval: 100ms", "group_interval: 2s");
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    let received = wait_for(&fake, 3).await;
    assert_eq!(instances(&received[2]), [("node-1".to_owned(), "firing".to_owned())]);

    // A 4xx answer is not retried.
    fake.scripted.lock().entry("/hook".to_owned()).or_default().push_back((400, "bad".to_owned()));
    am.put_postable(vec![alert("DiskFull", "node-9", false)]).unwrap();
    let received = wait_for(&fake, 4).await;
    wait_for_metric(&am, r#"panoptes_alertmanager_notifications_failed_total{integration="webhook"} 1"#).await;
    assert_eq!(received[3].path, "/hook");
}

/// A minimal SMTP server: records the envelope and the message, accepts AUTH PLAIN.
async fn start_smtp() -> (Arc<Mutex<Vec<String>>>, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&messages);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 fake.smtp ESMTP\r\n").await.unwrap();
                let mut transcript = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    transcript.push_str(&line);
                    transcript.push('\n');
                    let upper = line.to_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-fake.smtp\r\n250 AUTH PLAIN LOGIN\r\n"
                    } else if upper.starts_with("AUTH PLAIN") {
                        b"235 2.7.0 Authentication successful\r\n"
                    } else if upper == "DATA" {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        while let Ok(Some(data)) = lines.next_line().await {
                            if data == "." {
                                break;
                            }
                            transcript.push_str(&data);
                            transcript.push('\n');
                        }
                        b"250 2.0.0 queued\r\n"
                    } else if upper.starts_with("QUIT") {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    } else {
                        b"250 OK\r\n"
                    };
                    write.write_all(reply).await.unwrap();
                }
                store.lock().push(transcript);
            });
        }
    });
    (messages, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_email_over_smtp() {
    let (messages, port) = start_smtp().await;
    let config = format!(
        r#"
global:
  smtp_smarthost: '127.0.0.1:{port}'
  smtp_from: 'panoptes@example.org'
  smtp_auth_username: alert
  smtp_auth_password: s3cret
  smtp_require_tls: false
route:
  receiver: mail
  group_wait: 50ms
receivers:
- name: mail
  email_configs: [{{to: 'ops@example.org, dba@example.org'}}]
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    assert!(!format!("{:?}", am.config()).contains("s3cret"));
    am.spawn(std::future::pending());
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let transcript = loop {
        if let Some(transcript) = messages.lock().first().cloned() {
            break transcript;
        }
        assert!(tokio::time::Instant::now() < deadline, "no e-mail received");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(transcript.contains("MAIL FROM:<panoptes@example.org>"), "{transcript}");
    assert!(transcript.contains("RCPT TO:<ops@example.org>") && transcript.contains("RCPT TO:<dba@example.org>"));
    let expected_auth = base64::engine::general_purpose::STANDARD.encode("\0alert\0s3cret");
    assert!(transcript.contains(&format!("AUTH PLAIN {expected_auth}")), "{transcript}");
    assert!(transcript.contains("Subject: [FIRING:1]"), "{transcript}");
    assert!(transcript.contains("Content-Type: text/html"), "{transcript}");
}

fn labelled(pairs: &[(&str, &str)]) -> PostableAlert {
    PostableAlert {
        labels: pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        starts_at: Some("2024-03-04T01:30:00Z".parse().unwrap()),
        ..PostableAlert::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mute_time_intervals_and_inhibition_hold_back_notifications() {
    let (fake, url) = start_fake().await;
    let config = format!(
        r#"
route:
  receiver: hook
  group_wait: 50ms
  group_interval: 1h
  routes:
  - receiver: muted
    matchers: [team=a]
    mute_time_intervals: [always]
  - receiver: outside
    matchers: [team=b]
    active_time_intervals: [never]
inhibit_rules:
- source_matchers: [severity=critical]
  target_matchers: [severity=warning]
  equal: [cluster]
time_intervals:
- name: always
  time_intervals: [{{weekdays: ['sunday:saturday']}}]
- name: never
  time_intervals: [{{years: ['1999']}}]
receivers:
- name: hook
  webhook_configs: [{{url: '{url}/hook'}}]
- name: muted
  webhook_configs: [{{url: '{url}/muted'}}]
- name: outside
  webhook_configs: [{{url: '{url}/outside'}}]
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path().join("history"), HistoryOptions::default()).unwrap();
    let options = AlertmanagerOptions { history: Some(history.clone()), ..options() };
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options).unwrap();
    am.spawn(std::future::pending());
    am.put_postable(vec![
        labelled(&[("alertname", "A"), ("team", "a")]),
        labelled(&[("alertname", "B"), ("team", "b")]),
        labelled(&[("alertname", "X"), ("severity", "critical"), ("cluster", "c1")]),
        labelled(&[("alertname", "Y"), ("severity", "warning"), ("cluster", "c1")]),
        labelled(&[("alertname", "Z"), ("severity", "warning"), ("cluster", "c2")]),
    ])
    .unwrap();
    let received = wait_for(&fake, 1).await;
    let names: Vec<&str> = received[0].body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap())
        .collect();
    assert_eq!(received[0].path, "/hook");
    assert_eq!(names, ["X", "Z"], "Y is inhibited by X on cluster c1");
    // The muted and inactive routes flushed at the same time as /hook; give them a moment to
    // prove they stay silent.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.received.lock().len(), 1, "{:#?}", fake.received.lock());

    // The API shows who mutes what: time intervals as `mutedBy` (Alertmanager 0.28), the
    // inhibiting alert's fingerprint as `inhibitedBy`; all three are suppressed.
    let statuses = am.alert_statuses();
    let status = |name: &str| statuses.iter().find(|s| s.alert.labels["alertname"] == name).unwrap().clone();
    assert_eq!(status("A").muted_by, ["always"]);
    assert_eq!(status("B").muted_by, ["never"]);
    assert!(status("X").muted_by.is_empty() && !status("X").is_suppressed());
    let x = panoptes_alerting::fingerprint_string(status("X").alert.fingerprint());
    assert_eq!(status("Y").inhibited_by, std::slice::from_ref(&x));
    assert!(status("A").is_suppressed() && status("B").is_suppressed() && status("Y").is_suppressed());
    // The history has each alert's arrival, Y's inhibition by X, and the one delivery.
    let records = history.query(&HistoryQuery { limit: 100, ..HistoryQuery::default() }).unwrap().records;
    let changes: Vec<(String, String, Vec<String>)> = records
        .iter()
        .rev()
        .filter_map(|record| match &record.event {
            HistoryEvent::State(change) if change.to != "received" => {
                Some((change.labels["alertname"].clone(), change.to.clone(), change.muted_by.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(changes, [("Y".to_owned(), "inhibited".to_owned(), vec![x])]);
    let received = records.iter().filter(|r| matches!(&r.event, HistoryEvent::State(c) if c.to == "received")).count();
    assert_eq!(received, 5);
    let deliveries: Vec<(&str, Outcome, Option<u16>)> = records
        .iter()
        .filter_map(|record| match &record.event {
            HistoryEvent::Delivery(d) => Some((d.receiver.as_str(), d.outcome, d.status_code)),
            HistoryEvent::State(_) => None,
        })
        .collect();
    assert_eq!(deliveries, [("hook", Outcome::Success, Some(200))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_records_silencing_and_unsilencing() {
    let (_fake, url) = start_fake().await;
    let config = format!(
        "route:\n  receiver: hook\n  group_wait: 50ms\n  group_interval: 200ms\nreceivers:\n- name: hook\n  webhook_configs: [{{url: '{url}/hook'}}]\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path().join("history"), HistoryOptions::default()).unwrap();
    let options = AlertmanagerOptions { history: Some(history.clone()), ..options() };
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options).unwrap();
    am.spawn(std::future::pending());
    let now = Timestamp::now();
    let id = am
        .silences()
        .set(Silence {
            id: String::new(),
            matchers: vec![SilenceMatcher {
                name: "alertname".to_owned(),
                value: "Quiet".to_owned(),
                is_regex: false,
                is_equal: true,
            }],
            starts_at: now,
            ends_at: now + jiff::SignedDuration::from_secs(3600),
            updated_at: now,
            created_by: "ops".to_owned(),
            comment: "maintenance".to_owned(),
        })
        .unwrap();
    am.put_postable(vec![labelled(&[("alertname", "Quiet")])]).unwrap();
    let changes = |history: &History| -> Vec<(String, String, Vec<String>)> {
        let query = HistoryQuery { kind: Some(EventKind::State), limit: 100, ..HistoryQuery::default() };
        let records = history.query(&query).unwrap().records;
        records
            .iter()
            .rev()
            .filter_map(|record| match &record.event {
                HistoryEvent::State(change) => Some((change.from.clone(), change.to.clone(), change.muted_by.clone())),
                HistoryEvent::Delivery(_) => None,
            })
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while changes(&history).len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", changes(&history));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    am.silences().expire(&id).unwrap();
    while changes(&history).len() < 3 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", changes(&history));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        changes(&history),
        [
            ("none".to_owned(), "received".to_owned(), vec![]),
            ("active".to_owned(), "silenced".to_owned(), vec![id]),
            ("silenced".to_owned(), "active".to_owned(), vec![]),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_wecom_messages_are_split_within_the_byte_limit() {
    let (fake, url) = start_fake().await;
    let config = format!(
        r#"
route:
  receiver: robot
  group_wait: 50ms
receivers:
- name: robot
  wecom_configs:
  - webhook_url: '{url}/cgi-bin/webhook/send?key=k'
    msgtype: text
    mentioned_mobile_list: ['13800000000']
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let alerts: Vec<PostableAlert> = (0..30)
        .map(|i| {
            let mut alert = alert("DiskFull", &format!("node-{i}"), false);
            alert.annotations.insert("description".to_owned(), "磁盘空间不足，请尽快清理。".repeat(5));
            alert
        })
        .collect();
    am.put_postable(alerts).unwrap();
    let first = wait_for(&fake, 1).await;
    // Wait until the pieces stop arriving: each piece mentions the next instance in order, so
    // the last piece holds node-29's description.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let received = loop {
        let received = fake.received.lock().clone();
        let texts: String = received.iter().map(|r| r.body["text"]["content"].as_str().unwrap_or("")).collect();
        if texts.contains("node-29") && texts.contains("查看详情") {
            break received;
        }
        assert!(tokio::time::Instant::now() < deadline, "{first:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(received.len() >= 2, "{} pieces", received.len());
    for piece in &received {
        assert_eq!(piece.body["msgtype"], "text");
        assert!(piece.body["text"]["content"].as_str().unwrap().len() <= 2048);
        assert_eq!(piece.body["text"]["mentioned_mobile_list"], json!(["13800000000"]));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_routes_alerts_to_the_new_receivers() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&webhook_config(&url), "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let reloaded = webhook_config(&url).replace("/hook'", "/new'");
    am.apply_config(parse_str(&reloaded, "am.yml").unwrap()).unwrap();
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    let received = wait_for(&fake, 1).await;
    assert_eq!(received[0].path, "/new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechat_application_messages_refresh_expired_tokens() {
    let (fake, url) = start_fake().await;
    fake.scripted
        .lock()
        .entry("/cgi-bin/message/send".to_owned())
        .or_default()
        .push_back((200, r#"{"errcode":42001,"errmsg":"access_token expired"}"#.to_owned()));
    let config = format!(
        r#"
global:
  wechat_api_url: '{url}/cgi-bin/'
  wechat_api_secret: app-secret
  wechat_api_corp_id: corp-1
route:
  receiver: wechat
  group_wait: 50ms
receivers:
- name: wechat
  wechat_configs: [{{agent_id: '1000002', to_party: '2'}}]
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    // gettoken, send (expired), gettoken, send.
    let received = wait_for(&fake, 4).await;
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/cgi-bin/gettoken", "/cgi-bin/message/send", "/cgi-bin/gettoken", "/cgi-bin/message/send"]);
    let body = &received[3].body;
    assert_eq!(body["agentid"], "1000002");
    assert_eq!(body["toparty"], "2");
    assert_eq!(body["touser"], "@all");
    assert_eq!(body["msgtype"], "text");
    assert!(body["text"]["content"].as_str().unwrap().starts_with("【告警】DiskFull (1)"));
}

#[test]
fn damaged_state_files_are_set_aside_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = parse_str("route: {receiver: r}\nreceivers: [{name: r}]\n", "am.yml").unwrap();
    std::fs::write(dir.path().join("nflog.json"), "{not json").unwrap();
    std::fs::write(dir.path().join("alerts.json"), "{\"version\":1,\"entries\":[{}]}").unwrap();
    Alertmanager::open(dir.path(), config.clone(), options()).unwrap();
    assert!(dir.path().join("nflog.json.corrupted").exists());
    assert!(dir.path().join("alerts.json.corrupted").exists());
    // Damaged silences are refused: dropping them would unmute alerts.
    std::fs::write(dir.path().join("silences.json"), "{\"version\":7,\"entries\":[]}").unwrap();
    let error = Alertmanager::open(dir.path(), config, options()).unwrap_err().to_string();
    assert!(error.contains("silences.json") && error.contains("unsupported version 7"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_received_before_a_restart_is_notified_after_it() {
    let (fake, url) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    // A long group interval: the resolution would only be sent an hour later without a restart.
    let config = webhook_config(&url).replace("group_interval: 100ms", "group_interval: 1h");
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = am.spawn(async move {
        let _ = stopped.await;
    });
    am.put_postable(vec![alert("DiskFull", "node-1", false)]).unwrap();
    wait_for(&fake, 1).await;
    am.put_postable(vec![alert("DiskFull", "node-1", true)]).unwrap();
    stop.send(()).unwrap();
    run.await.unwrap().unwrap();
    drop(am);

    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let received = wait_for(&fake, 2).await;
    assert_eq!(instances(&received[1]), [("node-1".to_owned(), "resolved".to_owned())]);
    assert_eq!(received[1].body["status"], "resolved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_notifications_beyond_the_robots_budget_are_merged_not_delayed() {
    let (fake, url) = start_fake().await;
    // One group per instance: 45 notifications for one robot at once, more than its 20 a
    // minute.
    let config = format!(
        r#"
route:
  receiver: robot
  group_by: [instance]
  group_wait: 50ms
receivers:
- name: robot
  wecom_configs:
  - webhook_url: '{url}/cgi-bin/webhook/send?key=k'
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let started = tokio::time::Instant::now();
    am.put_postable((0..45).map(|i| alert("DiskFull", &format!("node-{i}:9100"), false)).collect()).unwrap();
    let deadline = started + Duration::from_secs(15);
    let received = loop {
        let received = fake.received.lock().clone();
        let contents: Vec<String> =
            received.iter().map(|r| r.body["markdown"]["content"].as_str().unwrap_or("").to_owned()).collect();
        if (0..45).all(|i| contents.iter().any(|content| content.contains(&format!("node-{i}:9100")))) {
            break received;
        }
        assert!(tokio::time::Instant::now() < deadline, "not all delivered within 15 s: {} messages", received.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Waiting for the budget would take a minute; merged, everything arrives at once.
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(received.len() <= 20, "{} messages for a budget of 20", received.len());
    assert!(received.len() < 45);
    for message in &received {
        assert_eq!(message.body["msgtype"], "markdown");
        assert!(message.body["markdown"]["content"].as_str().unwrap().len() <= 4096);
    }
    // No further messages: every notification was delivered once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received.lock().len(), received.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_part_of_a_split_wecom_notification_is_resent_alone() {
    let (fake, url) = start_fake().await;
    // The second message of the notification fails with a retryable 502; everything else
    // succeeds.
    fake.scripted.lock().insert(
        "/cgi-bin/webhook/send".to_owned(),
        [(200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned()), (502, "bad gateway".to_owned())].into(),
    );
    let config = format!(
        r#"
route:
  receiver: robot
  group_wait: 50ms
receivers:
- name: robot
  wecom_configs:
  - webhook_url: '{url}/cgi-bin/webhook/send?key=k'
    msgtype: text
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let alerts: Vec<PostableAlert> = (0..30)
        .map(|i| {
            let mut alert = alert("DiskFull", &format!("node-{i}"), false);
            alert.annotations.insert("description".to_owned(), "磁盘空间不足，请尽快清理。".repeat(5));
            alert
        })
        .collect();
    am.put_postable(alerts).unwrap();
    let content = |received: &Received| received.body["text"]["content"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let received = loop {
        let received = fake.received.lock().clone();
        // Done when the failed part arrived again.
        if received.len() > 2 && received[2..].iter().any(|later| content(later) == content(&received[1])) {
            break received;
        }
        assert!(tokio::time::Instant::now() < deadline, "{received:#?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Nothing more comes: the parts that got through are not sent again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.received.lock().len(), received.len());
    let mut delivered: Vec<String> =
        received.iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, r)| content(r)).collect();
    assert!(delivered.len() >= 3, "{} parts", delivered.len());
    let unique: std::collections::BTreeSet<&String> = delivered.iter().collect();
    assert_eq!(unique.len(), delivered.len(), "a part arrived twice: {delivered:#?}");
    // The retried part is the last to arrive; put back in its place, the parts make the whole
    // notification, every instance in order.
    let retried = delivered.pop().unwrap();
    delivered.insert(1, retried);
    let whole: String = delivered.concat();
    // Alerts are in label order: node-0, node-1, node-10, ...
    let mut instances: Vec<String> = (0..30).map(|i| format!("node-{i}")).collect();
    instances.sort();
    let mut position = 0;
    for instance in &instances {
        let found = whole[position..].find(instance.as_str());
        position += found.unwrap_or_else(|| panic!("{instance} missing or out of order in {whole}"));
    }
    assert!(whole.contains("查看详情"), "{whole}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wecom_parts_delivered_before_a_restart_are_not_sent_again_after_it() {
    let (fake, url) = start_fake().await;
    // The second message is refused for good (400): the flush gives up, and the next one is an
    // hour away, after the restart.
    fake.scripted.lock().insert(
        "/cgi-bin/webhook/send".to_owned(),
        [(200, r#"{"errcode":0,"errmsg":"ok"}"#.to_owned()), (400, "bad request".to_owned())].into(),
    );
    let config = format!(
        r#"
route:
  receiver: robot
  group_wait: 50ms
  group_interval: 1h
receivers:
- name: robot
  wecom_configs:
  - webhook_url: '{url}/cgi-bin/webhook/send?key=k'
    msgtype: text
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    let running = am.spawn(async move {
        let _ = stopped.await;
    });
    let alerts: Vec<PostableAlert> = (0..30)
        .map(|i| {
            let mut alert = alert("DiskFull", &format!("node-{i}"), false);
            alert.annotations.insert("description".to_owned(), "磁盘空间不足，请尽快清理。".repeat(5));
            alert
        })
        .collect();
    am.put_postable(alerts).unwrap();
    let content = |received: &Received| received.body["text"]["content"].as_str().unwrap().to_owned();
    // Every part was tried once: the request count stops growing.
    let mut count = 0;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = fake.received.lock().len();
        if now == count && now > 2 {
            break;
        }
        count = now;
    }
    let before = fake.received.lock().clone();
    let failed = content(&before[1]);
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    // Give the background save of the parts file a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(dir.path().join("wecom-parts.json").exists());
    let parts_file = std::fs::read_to_string(dir.path().join("wecom-parts.json")).unwrap();
    assert!(!parts_file.contains("key=k") && !parts_file.contains("/cgi-bin"), "{parts_file}");

    // After the restart the held alert's group flushes at once; only the refused part goes out.
    let am = Alertmanager::open(dir.path(), parse_str(&config, "am.yml").unwrap(), options()).unwrap();
    am.spawn(std::future::pending());
    let received = wait_for(&fake, before.len() + 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received_after = fake.received.lock().clone();
    assert_eq!(received_after.len(), before.len() + 1, "{received_after:#?}");
    assert_eq!(content(&received[before.len()]), failed);
}
