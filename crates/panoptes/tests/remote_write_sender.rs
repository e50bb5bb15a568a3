//! The remote-write sender through the real binary: Panoptes receives samples over its own
//! remote write endpoint, stores them, and its queue sends them on, to Debian's real
//! VictoriaMetrics (`/usr/bin/victoria-metrics`) or to a fake receiver on loopback. The fake
//! speaks remote write 1.0 as VictoriaMetrics does (snappy-compressed protobuf in, 204 out) and
//! is used where the receiver must fail on purpose.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Process, free_address, get_data, remote_write, start_server, wait_exit, wait_ready};
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest};
use parking_lot::Mutex;
use prost::Message as _;

/// A sample as both sides are compared: sorted `name=value` labels, timestamp, value bits.
type Point = (String, i64, u64);

fn point(labels: &[(&str, &str)], t: i64, v: f64) -> Point {
    let mut labels: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
    labels.sort();
    (labels.join(","), t, v.to_bits())
}

/// A request of `series` × `count` samples from `from_ms`, one per 15 s; values with few
/// decimals, which every store keeps exactly.
fn request(series: &[Vec<(&str, &str)>], from_ms: i64, count: i64) -> (WriteRequest, Vec<Point>) {
    let mut points = Vec::new();
    let timeseries = series
        .iter()
        .enumerate()
        .map(|(i, labels)| {
            let samples: Vec<Sample> = (0..count)
                .map(|k| {
                    let sample =
                        Sample { timestamp: from_ms + k * 15_000, value: (i as f64) * 100.0 + k as f64 * 0.25 };
                    points.push(point(labels, sample.timestamp, sample.value));
                    sample
                })
                .collect();
            TimeSeries {
                labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
                samples,
                ..TimeSeries::default()
            }
        })
        .collect();
    (WriteRequest { timeseries, ..WriteRequest::default() }, points)
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("panoptes.yml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn start_panoptes(dir: &Path, config: &str, client: &reqwest::Client) -> Process {
    let config_flag = format!("--config.file={config}");
    static STARTS: AtomicUsize = AtomicUsize::new(0);
    let log = dir.join(format!("panoptes-{}.log", STARTS.fetch_add(1, Ordering::SeqCst)));
    let (mut child, address) = start_server(
        &dir.join("data"),
        &[&config_flag, "--storage.remote.flush-deadline=1s", "--web.enable-lifecycle"],
        &log,
    );
    wait_ready(client, address, &mut child, &log).await;
    Process { child, address }
}

/// Stops Panoptes with SIGTERM and waits for a clean exit.
fn stop(mut panoptes: Process) {
    let status = Command::new("kill").args(["-TERM", &panoptes.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut panoptes.child, Duration::from_secs(20)).expect("panoptes exits after SIGTERM");
    assert!(exit.success(), "panoptes exited with {exit}");
}

async fn metric(client: &reqwest::Client, address: SocketAddr, name: &str) -> f64 {
    let text = client.get(format!("http://{address}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Returns every raw sample Panoptes holds of metrics matching `regex`, read back with a
/// range selector.
async fn panoptes_points(client: &reqwest::Client, address: SocketAddr, regex: &str, at_ms: i64) -> BTreeSet<Point> {
    let query = format!("{{__name__=~\"{regex}\"}}[2h]");
    let url = format!(
        "http://{address}/api/v1/query?query={}&time={}",
        form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>(),
        at_ms as f64 / 1000.0
    );
    let data = get_data(client, &url).await;
    let mut points = BTreeSet::new();
    for series in data["result"].as_array().unwrap() {
        let mut labels: Vec<String> =
            series["metric"].as_object().unwrap().iter().map(|(n, v)| format!("{n}={}", v.as_str().unwrap())).collect();
        labels.sort();
        for value in series["values"].as_array().unwrap() {
            let t = (value[0].as_f64().unwrap() * 1000.0).round() as i64;
            let v: f64 = value[1].as_str().unwrap().parse().unwrap();
            points.insert((labels.join(","), t, v.to_bits()));
        }
    }
    points
}

/// Returns every raw sample VictoriaMetrics holds of metrics matching `regex`
/// (`/api/v1/export`, one JSON object per series and line).
async fn victoria_points(client: &reqwest::Client, address: SocketAddr, regex: &str) -> BTreeSet<Point> {
    let selector = format!("{{__name__=~\"{regex}\"}}");
    let selector: String = form_urlencoded::byte_serialize(selector.as_bytes()).collect();
    let response =
        client.get(format!("http://{address}/api/v1/export?match[]={selector}&start=0")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mut points = BTreeSet::new();
    for line in response.text().await.unwrap().lines().filter(|line| !line.trim().is_empty()) {
        let series: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut labels: Vec<String> =
            series["metric"].as_object().unwrap().iter().map(|(n, v)| format!("{n}={}", v.as_str().unwrap())).collect();
        labels.sort();
        let values = series["values"].as_array().unwrap();
        let timestamps = series["timestamps"].as_array().unwrap();
        for (value, t) in values.iter().zip(timestamps) {
            points.insert((labels.join(","), t.as_i64().unwrap(), value.as_f64().unwrap().to_bits()));
        }
    }
    points
}

/// Starts Debian's VictoriaMetrics on a free loopback port with its data in `dir`.
async fn start_victoria_metrics(dir: &Path, client: &reqwest::Client) -> Process {
    let address = free_address();
    let log_path = dir.join("victoria-metrics.log");
    let child = Command::new("/usr/bin/victoria-metrics")
        .arg(format!("-storageDataPath={}", dir.join("vm-data").display()))
        .arg(format!("-httpListenAddr={address}"))
        .arg("-retentionPeriod=100y")
        .arg("-loggerLevel=WARN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start /usr/bin/victoria-metrics (apt-get install victoria-metrics)");
    let mut process = Process { child, address };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = process.child.try_wait().unwrap() {
            panic!("victoria-metrics exited with {status}:\n{}", std::fs::read_to_string(&log_path).unwrap());
        }
        if let Ok(response) = client.get(format!("http://{address}/health")).send().await
            && response.status() == 200
        {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("victoria-metrics not ready within 30 s");
}

/// Polls until `condition` holds, failing with `what` after a minute.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn victoria_metrics_stores_exactly_what_panoptes_holds() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let vm = start_victoria_metrics(dir.path(), &client).await;
    let config = write_config(
        dir.path(),
        &format!(
            "global:\n  external_labels:\n    replica: r1\nremote_write:\n- url: http://{}/api/v1/write\n  name: vm\n  queue_config:\n    batch_send_deadline: 200ms\n    max_samples_per_send: 50\n",
            vm.address
        ),
    );
    let panoptes = start_panoptes(dir.path(), &config, &client).await;
    let now = panoptes_model_now();
    let from = now - 3_600_000;
    let series = vec![
        vec![("__name__", "rwtest_requests_total"), ("job", "api"), ("instance", "a:1")],
        vec![("__name__", "rwtest_requests_total"), ("job", "api"), ("instance", "b:1")],
        vec![("__name__", "rwtest_temperature"), ("room", "kitchen")],
    ];
    let (first, mut expected) = request(&series, from, 120);
    remote_write(&client, panoptes.address, &first).await;
    let (second, more) = request(&series, from + 120 * 15_000, 80);
    remote_write(&client, panoptes.address, &second).await;
    expected.extend(more);
    let stored = panoptes_points(&client, panoptes.address, "rwtest_.*", now).await;
    assert_eq!(stored, expected.iter().cloned().collect::<BTreeSet<_>>(), "panoptes stored what it received");
    // VictoriaMetrics gets the same samples with the external label added.
    let with_replica: BTreeSet<Point> = stored
        .iter()
        .map(|(labels, t, v)| {
            let mut names: Vec<&str> = labels.split(',').collect();
            names.push("replica=r1");
            names.sort_unstable();
            (names.join(","), *t, *v)
        })
        .collect();
    eventually("victoria-metrics to hold every sample", || async {
        victoria_points(&client, vm.address, "rwtest_.*").await.len() >= with_replica.len()
    })
    .await;
    let in_victoria = victoria_points(&client, vm.address, "rwtest_.*").await;
    assert_eq!(in_victoria.len(), 600);
    assert_eq!(in_victoria, with_replica, "victoria-metrics holds exactly what panoptes holds");
    assert_eq!(metric(&client, panoptes.address, "panoptes_remote_storage_samples_failed_total").await, 0.0);
    assert!(metric(&client, panoptes.address, "panoptes_remote_storage_samples_total").await >= 600.0);
    let sent = metric(&client, panoptes.address, "panoptes_remote_storage_queue_highest_sent_timestamp_seconds").await;
    // Panoptes' built-in scrape of its push page is sent too, with newer timestamps.
    assert!(sent >= (from + 199 * 15_000) as f64 / 1000.0, "highest sent timestamp {sent}");
    stop(panoptes);
}

fn panoptes_model_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// A fake remote write receiver: answers 503 while `failures_left` is above zero (counting it
/// down), stores samples otherwise: those of the tests' `rwtest_*` series, not those of the
/// server's built-in scrape job, which may run at any time.
#[derive(Default)]
struct Receiver {
    points: Mutex<Vec<Point>>,
    failures_left: AtomicUsize,
    refused: AtomicUsize,
}

async fn receive(State(state): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if headers.get("content-encoding").is_none_or(|v| v != "snappy")
        || headers.get("x-prometheus-remote-write-version").is_none_or(|v| v != "0.1.0")
    {
        return StatusCode::BAD_REQUEST;
    }
    if state.failures_left.load(Ordering::SeqCst) > 0 {
        state.failures_left.fetch_sub(1, Ordering::SeqCst);
        state.refused.fetch_add(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let Ok(raw) = snap::raw::Decoder::new().decompress_vec(&body) else { return StatusCode::BAD_REQUEST };
    let Ok(request) = WriteRequest::decode(raw.as_slice()) else { return StatusCode::BAD_REQUEST };
    let mut points = state.points.lock();
    for series in request.timeseries {
        let labels: Vec<(String, String)> = series
            .labels
            .iter()
            .map(|l| (String::from_utf8_lossy(&l.name).into_owned(), String::from_utf8_lossy(&l.value).into_owned()))
            .collect();
        let labels: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        if !labels.iter().any(|(n, v)| *n == "__name__" && v.starts_with("rwtest_")) {
            continue;
        }
        for sample in series.samples {
            points.push(point(&labels, sample.timestamp, sample.value));
        }
    }
    StatusCode::NO_CONTENT
}

async fn start_receiver(address: SocketAddr, state: Arc<Receiver>) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let app = axum::Router::new().route("/write", axum::routing::post(receive)).with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

fn queue_config(address: SocketAddr, extra: &str) -> String {
    format!(
        "remote_write:\n- url: http://{address}/write\n  name: fake\n  queue_config:\n    batch_send_deadline: 100ms\n    max_samples_per_send: 40\n    min_backoff: 20ms\n    max_backoff: 200ms\n{extra}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_survive_503s_and_retries_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let receiver = Arc::new(Receiver::default());
    receiver.failures_left.store(6, Ordering::SeqCst);
    let address = free_address();
    let _server = start_receiver(address, receiver.clone()).await;
    let config = write_config(dir.path(), &queue_config(address, ""));
    let panoptes = start_panoptes(dir.path(), &config, &client).await;
    let series = vec![vec![("__name__", "rwtest_up"), ("job", "x")], vec![("__name__", "rwtest_up"), ("job", "y")]];
    let (write, expected) = request(&series, panoptes_model_now() - 600_000, 30);
    remote_write(&client, panoptes.address, &write).await;
    let expected: BTreeSet<Point> = expected.into_iter().collect();
    eventually("every sample at the receiver", || async {
        receiver.points.lock().iter().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    assert_eq!(receiver.refused.load(Ordering::SeqCst), 6);
    assert!(metric(&client, panoptes.address, "panoptes_remote_storage_samples_retried_total").await > 0.0);
    assert_eq!(metric(&client, panoptes.address, "panoptes_remote_storage_samples_failed_total").await, 0.0);
    stop(panoptes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_written_while_the_receiver_is_down_arrive_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    // Nothing listens here until the end: connections are refused.
    let address = free_address();
    let config = write_config(dir.path(), &queue_config(address, ""));
    let series = vec![vec![("__name__", "rwtest_down"), ("job", "x")]];
    let start = panoptes_model_now() - 3_000_000;
    let panoptes = start_panoptes(dir.path(), &config, &client).await;
    let (before, mut expected) = request(&series, start, 40);
    remote_write(&client, panoptes.address, &before).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(metric(&client, panoptes.address, "panoptes_remote_storage_samples_pending").await > 0.0);
    stop(panoptes);
    let panoptes = start_panoptes(dir.path(), &config, &client).await;
    let (after, more) = request(&series, start + 40 * 15_000, 40);
    remote_write(&client, panoptes.address, &after).await;
    expected.extend(more);
    let receiver = Arc::new(Receiver::default());
    let _server = start_receiver(address, receiver.clone()).await;
    let expected: BTreeSet<Point> = expected.into_iter().collect();
    eventually("every sample, from before and after the restart, at the receiver", || async {
        receiver.points.lock().iter().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    stop(panoptes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_relabel_configs_keep_and_drop_series() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let receiver = Arc::new(Receiver::default());
    let address = free_address();
    let _server = start_receiver(address, receiver.clone()).await;
    let relabel = "  write_relabel_configs:\n  - source_labels: [__name__]\n    regex: rwtest_keep_.*\n    action: keep\n  - source_labels: [env]\n    regex: dev\n    action: drop\n";
    let config = write_config(dir.path(), &queue_config(address, relabel));
    let panoptes = start_panoptes(dir.path(), &config, &client).await;
    let series = vec![
        vec![("__name__", "rwtest_keep_a"), ("env", "prod")],
        vec![("__name__", "rwtest_keep_a"), ("env", "dev")],
        vec![("__name__", "rwtest_other"), ("env", "prod")],
    ];
    let (write, expected) = request(&series, panoptes_model_now() - 600_000, 10);
    remote_write(&client, panoptes.address, &write).await;
    let kept: BTreeSet<Point> =
        expected.into_iter().filter(|(labels, _, _)| labels == "__name__=rwtest_keep_a,env=prod").collect();
    assert_eq!(kept.len(), 10);
    eventually("the kept series at the receiver", || async {
        receiver.points.lock().iter().cloned().collect::<BTreeSet<_>>() == kept
    })
    .await;
    // At least the 20 test samples; the built-in scrape's series are dropped by the keep rule too.
    eventually("the dropped samples counted", || async {
        metric(&client, panoptes.address, "panoptes_remote_storage_samples_dropped_total").await >= 20.0
    })
    .await;
    assert_eq!(receiver.points.lock().iter().cloned().collect::<BTreeSet<_>>(), kept);
    stop(panoptes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_moves_the_queue_to_the_new_url_without_resending_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (first, second) = (Arc::new(Receiver::default()), Arc::new(Receiver::default()));
    let (first_address, second_address) = (free_address(), free_address());
    let _first_server = start_receiver(first_address, first.clone()).await;
    let _second_server = start_receiver(second_address, second.clone()).await;
    let config = write_config(dir.path(), &queue_config(first_address, ""));
    let panoptes = start_panoptes(dir.path(), &config, &client).await;
    let series = vec![vec![("__name__", "rwtest_reload"), ("job", "x")]];
    let start = panoptes_model_now() - 1_200_000;
    let (before, before_points) = request(&series, start, 20);
    remote_write(&client, panoptes.address, &before).await;
    let before_points: BTreeSet<Point> = before_points.into_iter().collect();
    eventually("the first receiver to get the first batch", || async {
        first.points.lock().iter().cloned().collect::<BTreeSet<_>>() == before_points
    })
    .await;
    write_config(dir.path(), &queue_config(second_address, ""));
    let reload = client.post(format!("http://{}/-/reload", panoptes.address)).send().await.unwrap();
    assert!(reload.status().is_success(), "reload: {}", reload.text().await.unwrap());
    let (after, after_points) = request(&series, start + 20 * 15_000, 20);
    remote_write(&client, panoptes.address, &after).await;
    let after_points: BTreeSet<Point> = after_points.into_iter().collect();
    eventually("the second receiver to get the second batch", || async {
        second.points.lock().iter().cloned().collect::<BTreeSet<_>>() == after_points
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        first.points.lock().iter().cloned().collect::<BTreeSet<_>>(),
        before_points,
        "the old url got nothing new"
    );
    assert_eq!(
        second.points.lock().iter().cloned().collect::<BTreeSet<_>>(),
        after_points,
        "a new url starts at the end of the wal"
    );
    stop(panoptes);
}
