//! Differential test against the real Pushgateway (Debian's `prometheus-pushgateway`): the same
//! sequence of pushes, merges, deletes and refused pushes goes to both, and after every step the
//! status codes, the Pushgateway's error messages for malformed paths, and the parsed
//! `/metrics` pages (series and values, without the Pushgateway's own process and Go metrics)
//! must be equal. Push times differ between the two, so they are compared as "set or not".

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use panoptes_ingest::pushgateway::{self, PushLimits, PushStore, PushgatewayOptions};
use panoptes_scrape::exposition::{Entry, Format, parse};

const PUSHGATEWAY: &str = "/usr/bin/prometheus-pushgateway";

/// The real Pushgateway, killed when dropped.
struct RealPushgateway {
    child: Child,
    address: SocketAddr,
}

impl Drop for RealPushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

async fn start_real(client: &reqwest::Client, dir: &std::path::Path) -> RealPushgateway {
    let address = free_address();
    let child = Command::new(PUSHGATEWAY)
        .arg(format!("--web.listen-address={address}"))
        .arg(format!("--persistence.file={}", dir.join("pushgateway.data").display()))
        .arg("--web.enable-admin-api")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/bin/prometheus-pushgateway (apt-get install prometheus-pushgateway)");
    let real = RealPushgateway { child, address };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if client.get(format!("http://{address}/-/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            return real;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the pushgateway did not start");
}

async fn start_ours(store: Arc<PushStore>) -> SocketAddr {
    let options = PushgatewayOptions { enable_admin_api: true, ..PushgatewayOptions::default() };
    let router: axum::Router = pushgateway::router(store, options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    address
}

/// Returns the series of an exposition page (name and labels printed) with their values; the
/// Pushgateway's own metrics are dropped and push times reduced to 0 (never) or 1 (set).
fn parse_page(page: &str, is_ours: bool) -> BTreeMap<String, String> {
    let entries = parse(page.as_bytes(), Format::PrometheusText).unwrap_or_else(|e| panic!("{e}\n{page}"));
    let mut series = BTreeMap::new();
    for entry in entries {
        let Entry::Series(sample) = entry else { continue };
        let name = sample.labels.metric_name().unwrap_or_default().to_owned();
        let is_own = ["go_", "process_", "pushgateway_", "promhttp_"].iter().any(|prefix| name.starts_with(prefix));
        if is_own && !is_ours {
            continue;
        }
        let value = if name == "push_time_seconds" || name == "push_failure_time_seconds" {
            if sample.value == 0.0 { "never".to_owned() } else { "set".to_owned() }
        } else {
            format!("{:?}", sample.value)
        };
        series.insert(sample.labels.to_string(), value);
    }
    series
}

struct Step {
    method: reqwest::Method,
    path: &'static str,
    body: &'static str,
    /// Whether the error text must be equal too (the Pushgateway's path messages).
    compare_message: bool,
}

fn step(method: &str, path: &'static str, body: &'static str) -> Step {
    Step { method: method.parse().expect("method"), path, body, compare_message: false }
}

fn steps() -> Vec<Step> {
    vec![
        step(
            "PUT",
            "/metrics/job/batch",
            "# TYPE jobs_processed_total counter\njobs_processed_total 10\n# HELP last_success Last success.\n# TYPE last_success gauge\nlast_success 1.7e9\n",
        ),
        // POST replaces the families of the same name only: last_success stays.
        step("POST", "/metrics/job/batch", "# TYPE jobs_processed_total counter\njobs_processed_total 20\n"),
        step("PUT", "/metrics/job/batch/instance/worker-1", "queue_depth{queue=\"a\"} 3\nqueue_depth{queue=\"b\"} 4\n"),
        step("PUT", "/metrics/job@base64/L3BhdGgvdG8/path@base64/L3Zhci90bXA=", "files_total 5\n"),
        step("PUT", "/metrics/job/batch/zone@base64/", "empty_zone 1\n"),
        // Pushed labels that clash with the grouping key are overwritten by it (200).
        step(
            "PUT",
            "/metrics/job/batch/instance/worker-2",
            "queue_depth{job=\"other\",instance=\"x\",queue=\"a\"} 7\n",
        ),
        step("POST", "/metrics/job/batch/instance/worker-1", "queue_depth{queue=\"c\"} 9\n"),
        step(
            "PUT",
            "/metrics/job/hist",
            "# HELP request_duration_seconds Request duration.\n# TYPE request_duration_seconds histogram\n\
             request_duration_seconds_bucket{le=\"0.1\"} 1\nrequest_duration_seconds_bucket{le=\"0.50\"} 2\n\
             request_duration_seconds_bucket{le=\"+Inf\"} 3\nrequest_duration_seconds_sum 1.5\n\
             request_duration_seconds_count 3\n# TYPE rpc_quantiles summary\nrpc_quantiles{quantile=\"0.5\"} 0.2\n\
             rpc_quantiles{quantile=\"0.99\"} 0.9\nrpc_quantiles_sum 10\nrpc_quantiles_count 40\n",
        ),
        // Refused: another type for an existing family name, a timestamp, a series twice in one
        // push, a series that another group already has, a suffix collision with a histogram.
        step("PUT", "/metrics/job/other", "# TYPE jobs_processed_total gauge\njobs_processed_total 1\n"),
        step("PUT", "/metrics/job/ts", "with_timestamp 1 1234\n"),
        step("PUT", "/metrics/job/dup", "dup_metric 1\ndup_metric 2\n"),
        step("PUT", "/metrics/job/cross", "cross{instance=\"i1\"} 1\n"),
        step("PUT", "/metrics/job/cross/instance/i1", "cross 2\n"),
        step("PUT", "/metrics/job/collide", "request_duration_seconds_count 5\n"),
        // Malformed paths and bodies (never reach the store).
        Step { compare_message: true, ..step("PUT", "/metrics/job/batch/a", "x 1\n") },
        Step { compare_message: true, ..step("PUT", "/metrics/job/batch/__x/y", "x 1\n") },
        Step { compare_message: true, ..step("PUT", "/metrics/job/batch/a-b/y", "x 1\n") },
        Step { compare_message: true, ..step("DELETE", "/metrics/job/batch/odd", "") },
        step("PUT", "/metrics/job/batch/a@base64/!!!", "x 1\n"),
        step("PUT", "/metrics/job/bad", "x{ 1\n"),
        // An empty PUT keeps the group with its push time only.
        step("PUT", "/metrics/job/empty", ""),
        step("DELETE", "/metrics/job/batch/instance/worker-2", ""),
        step("DELETE", "/metrics/job/never-pushed", ""),
        step("PUT", "/metrics/job/batch", "# TYPE jobs_processed_total counter\njobs_processed_total 30\n"),
    ]
}

async fn page(client: &reqwest::Client, address: SocketAddr, path: &str, is_ours: bool) -> BTreeMap<String, String> {
    let response = client.get(format!("http://{address}{path}")).send().await.expect("GET page");
    assert_eq!(response.status(), 200);
    parse_page(&response.text().await.expect("page"), is_ours)
}

/// Compares the pages, retrying briefly: the Pushgateway applies deletes asynchronously.
async fn assert_same_pages(client: &reqwest::Client, real: SocketAddr, ours: SocketAddr, after: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let real_page = page(client, real, "/metrics", false).await;
        let our_page = page(client, ours, pushgateway::EXPOSITION_PATH, true).await;
        if real_page == our_page {
            return;
        }
        if Instant::now() > deadline {
            assert_eq!(our_page, real_page, "pages differ after {after}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_give_the_same_pages_and_statuses_as_the_real_pushgateway() {
    let client = reqwest::Client::new();
    let real_dir = tempfile::tempdir().expect("tempdir");
    let our_dir = tempfile::tempdir().expect("tempdir");
    let real = start_real(&client, real_dir.path()).await;
    let store = Arc::new(PushStore::open(our_dir.path(), PushLimits::default()).expect("open store"));
    let ours = start_ours(Arc::clone(&store)).await;

    for step in steps() {
        let what = format!("{} {} {:?}", step.method, step.path, step.body);
        let mut statuses = Vec::new();
        let mut messages = Vec::new();
        for address in [real.address, ours] {
            let response = client
                .request(step.method.clone(), format!("http://{address}{}", step.path))
                .header("content-type", "text/plain; version=0.0.4")
                .body(step.body)
                .send()
                .await
                .unwrap_or_else(|error| panic!("{what}: {error}"));
            statuses.push(response.status().as_u16());
            messages.push(response.text().await.expect("body"));
        }
        assert_eq!(statuses[1], statuses[0], "status of {what}: ours {:?}, real {:?}", messages[1], messages[0]);
        if step.compare_message {
            assert_eq!(messages[1], messages[0], "message of {what}");
        }
        assert_same_pages(&client, real.address, ours, &what).await;
    }

    // The JSON API lists the same groups.
    let groups = |json: serde_json::Value| -> Vec<String> {
        let mut groups: Vec<String> =
            json["data"].as_array().expect("data").iter().map(|group| group["labels"].to_string()).collect();
        groups.sort();
        groups
    };
    let get_json = |address: SocketAddr| {
        let client = client.clone();
        async move {
            let text = client.get(format!("http://{address}/api/v1/metrics")).send().await.expect("GET").text().await;
            serde_json::from_str::<serde_json::Value>(&text.expect("body")).expect("json")
        }
    };
    let real_json = get_json(real.address).await;
    let our_json = get_json(ours).await;
    assert_eq!(groups(our_json.clone()), groups(real_json));
    let hist = our_json["data"].as_array().expect("data").iter().find(|g| g["labels"]["job"] == "hist").expect("hist");
    assert_eq!(hist["request_duration_seconds"]["metrics"][0]["buckets"]["0.5"], "2");
    assert_eq!(hist["rpc_quantiles"]["metrics"][0]["quantiles"]["0.99"], "0.9");

    // A restart reloads the same groups from the file.
    let before = store.groups();
    store.close().expect("close");
    let reopened = PushStore::open(our_dir.path(), PushLimits::default()).expect("reopen");
    assert_eq!(reopened.groups(), before);

    // Wiping empties both.
    for address in [real.address, ours] {
        let response = client.put(format!("http://{address}/api/v1/admin/wipe")).send().await.expect("wipe");
        assert_eq!(response.status(), 202);
    }
    assert_same_pages(&client, real.address, ours, "wipe").await;
    assert!(page(&client, ours, pushgateway::EXPOSITION_PATH, true).await.is_empty());
}
