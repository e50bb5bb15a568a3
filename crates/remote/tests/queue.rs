//! A queue over a real database sending to a fake receiver on loopback that speaks remote write
//! 1.0 (snappy + protobuf) the way VictoriaMetrics and Prometheus do; the binary's tests send to
//! the real VictoriaMetrics.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use panoptes_model::Labels;
use panoptes_remote::{RemoteWriteManager, WriteRequest};
use panoptes_storage::Storage as _;
use panoptes_tsdb::{Db, DbOptions};
use parking_lot::Mutex;
use prost::Message as _;

/// What the fake receiver got: (labels as text, timestamp, value), in arrival order.
#[derive(Default)]
struct Received {
    samples: Mutex<Vec<(String, i64, f64)>>,
    /// Requests to refuse with 503 before accepting.
    failures_left: AtomicUsize,
    /// Requests to refuse with 400 before accepting.
    refusals_left: AtomicUsize,
    requests: AtomicUsize,
}

async fn receive(State(state): State<Arc<Received>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    state.requests.fetch_add(1, Ordering::SeqCst);
    assert_eq!(headers["content-encoding"], "snappy");
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
    assert!(headers["user-agent"].to_str().unwrap().starts_with("Panoptes/"));
    if state.failures_left.load(Ordering::SeqCst) > 0 {
        state.failures_left.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if state.refusals_left.load(Ordering::SeqCst) > 0 {
        state.refusals_left.fetch_sub(1, Ordering::SeqCst);
        return StatusCode::BAD_REQUEST;
    }
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let request = WriteRequest::decode(raw.as_slice()).unwrap();
    let mut samples = state.samples.lock();
    for series in request.timeseries {
        let labels: Vec<String> = series.labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
        for sample in series.samples {
            samples.push((labels.join(","), sample.timestamp, sample.value));
        }
    }
    StatusCode::NO_CONTENT
}

async fn start_receiver(state: Arc<Received>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().route("/write", axum::routing::post(receive)).with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

fn append(db: &Db, from: i64, count: i64) {
    let mut appender = db.appender();
    for t in from..from + count {
        for series in ["a", "b", "c"] {
            let labels = Labels::from_pairs([("__name__", "m"), ("series", series)]);
            appender.append(&labels, t * 1000, t as f64).unwrap();
        }
    }
    appender.commit().unwrap();
}

fn config(address: SocketAddr, extra: &str) -> Vec<panoptes_scrape::config::RemoteWriteConfig> {
    let yaml = format!(
        "remote_write:\n- url: http://{address}/write\n  name: test\n  queue_config:\n    batch_send_deadline: 100ms\n    max_samples_per_send: 7\n    min_backoff: 10ms\n    max_backoff: 50ms\n{extra}"
    );
    panoptes_scrape::config::parse_str(&yaml, "test.yml").unwrap().remote_write
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric(registry: &prometheus_client::registry::Registry, name: &str) -> f64 {
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, registry).unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_arrive_after_503s_and_retries_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    append(&db, 0, 5); // before the queue exists: not sent (a new queue starts at the end)
    let received = Arc::new(Received::default());
    received.failures_left.store(4, Ordering::SeqCst);
    let address = start_receiver(received.clone()).await;
    let manager = RemoteWriteManager::new(db.clone(), tokio::runtime::Handle::current());
    let mut registry = prometheus_client::registry::Registry::default();
    manager.register_metrics(&mut registry);
    let external = BTreeMap::from([("replica".to_owned(), "r1".to_owned())]);
    let configs = config(address, "");
    let apply = {
        let manager = &manager;
        move || manager.apply(&configs, &external)
    };
    tokio::task::block_in_place(apply).unwrap();
    append(&db, 10, 20);
    wait_for("60 samples", || received.samples.lock().len() >= 60).await;
    let samples = received.samples.lock().clone();
    let mut expected = Vec::new();
    for t in 10..30 {
        for series in ["a", "b", "c"] {
            expected.push((format!("__name__=m,replica=r1,series={series}"), t * 1000, t as f64));
        }
    }
    let mut sorted = samples.clone();
    sorted.sort_by_key(|a| (a.0.clone(), a.1));
    sorted.dedup();
    expected.sort_by_key(|a| (a.0.clone(), a.1));
    assert_eq!(sorted, expected);
    assert!(metric(&registry, "panoptes_remote_storage_samples_retried_total") > 0.0);
    assert_eq!(metric(&registry, "panoptes_remote_storage_samples_failed_total"), 0.0);
    tokio::task::block_in_place(|| manager.stop(Duration::from_secs(1)));
    db.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_relabel_configs_drop_series_and_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let received = Arc::new(Received::default());
    let address = start_receiver(received.clone()).await;
    let manager = RemoteWriteManager::new(db.clone(), tokio::runtime::Handle::current());
    let mut registry = prometheus_client::registry::Registry::default();
    manager.register_metrics(&mut registry);
    let configs =
        config(address, "  write_relabel_configs:\n  - source_labels: [series]\n    regex: b\n    action: drop\n");
    tokio::task::block_in_place(|| manager.apply(&configs, &BTreeMap::new())).unwrap();
    append(&db, 0, 10);
    wait_for("20 samples", || received.samples.lock().len() >= 20).await;
    wait_for("dropped count", || metric(&registry, "panoptes_remote_storage_samples_dropped_total") >= 10.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let samples = received.samples.lock().clone();
    assert!(samples.iter().all(|(labels, _, _)| !labels.contains("series=b")), "{samples:?}");
    assert_eq!(samples.len(), 20);
    tokio::task::block_in_place(|| manager.stop(Duration::from_secs(1)));
    db.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_manager_resumes_from_the_saved_position() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let received = Arc::new(Received::default());
    let address = start_receiver(received.clone()).await;
    let configs = config(address, "");
    let first = RemoteWriteManager::new(db.clone(), tokio::runtime::Handle::current());
    tokio::task::block_in_place(|| first.apply(&configs, &BTreeMap::new())).unwrap();
    append(&db, 0, 5);
    wait_for("15 samples", || received.samples.lock().len() >= 15).await;
    // The receiver goes down; the queue stops at once with nothing in flight acknowledged.
    received.failures_left.store(usize::MAX, Ordering::SeqCst);
    append(&db, 5, 5);
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::task::block_in_place(|| first.stop(Duration::ZERO));
    append(&db, 10, 5);
    received.failures_left.store(0, Ordering::SeqCst);
    let second = RemoteWriteManager::new(db.clone(), tokio::runtime::Handle::current());
    tokio::task::block_in_place(|| second.apply(&configs, &BTreeMap::new())).unwrap();
    let mut want: Vec<i64> = (0..15).map(|t| t * 1000).collect();
    want.sort_unstable();
    wait_for("every timestamp of every series", || {
        let samples = received.samples.lock();
        ["a", "b", "c"].iter().all(|series| {
            let mut got: Vec<i64> =
                samples.iter().filter(|(l, _, _)| l.ends_with(&format!("series={series}"))).map(|s| s.1).collect();
            got.sort_unstable();
            got.dedup();
            got == want
        })
    })
    .await;
    tokio::task::block_in_place(|| second.stop(Duration::from_secs(1)));
    db.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_with_4xx_is_dropped_counted_and_passed() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions::default()).unwrap();
    let received = Arc::new(Received::default());
    received.refusals_left.store(1, Ordering::SeqCst);
    let address = start_receiver(received.clone()).await;
    let manager = RemoteWriteManager::new(db.clone(), tokio::runtime::Handle::current());
    let mut registry = prometheus_client::registry::Registry::default();
    manager.register_metrics(&mut registry);
    // One batch of 6 samples (max_samples_per_send is 7): refused whole.
    tokio::task::block_in_place(|| manager.apply(&config(address, ""), &BTreeMap::new())).unwrap();
    append(&db, 0, 2);
    wait_for("the refusal", || received.refusals_left.load(Ordering::SeqCst) == 0).await;
    wait_for("the failed count", || metric(&registry, "panoptes_remote_storage_samples_failed_total") == 6.0).await;
    append(&db, 2, 2);
    wait_for("the next samples", || received.samples.lock().len() >= 6).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let times: Vec<i64> = received.samples.lock().iter().map(|s| s.1).collect();
    assert!(times.iter().all(|t| *t >= 2000), "the refused batch is not sent again: {times:?}");
    assert_eq!(times.len(), 6);
    assert_eq!(metric(&registry, "panoptes_remote_storage_samples_retried_total"), 0.0);
    tokio::task::block_in_place(|| manager.stop(Duration::from_secs(1)));
    db.close().unwrap();
}

/// Across a head compaction (checkpoint, new segment, series map pruned): samples of live
/// series keep arriving, none is dropped as of an unknown series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_keep_flowing_across_a_head_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let options = DbOptions {
        block_range: Duration::from_secs(60),
        maintenance_interval: Duration::from_secs(3600),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), options).unwrap();
    let received = Arc::new(Received::default());
    let address = start_receiver(received.clone()).await;
    let manager = RemoteWriteManager::new(db.clone(), tokio::runtime::Handle::current());
    let mut registry = prometheus_client::registry::Registry::default();
    manager.register_metrics(&mut registry);
    tokio::task::block_in_place(|| manager.apply(&config(address, ""), &BTreeMap::new())).unwrap();
    // Four minutes at 10 s: more than 1.5 block ranges, so maintenance cuts blocks.
    for t in (0..240).step_by(10) {
        append(&db, t, 1);
    }
    wait_for("72 samples", || received.samples.lock().len() >= 72).await;
    db.run_maintenance();
    assert!(!db.blocks().is_empty(), "the head was compacted");
    for t in (240..300).step_by(10) {
        append(&db, t, 1);
    }
    wait_for("90 samples", || received.samples.lock().len() >= 90).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(received.samples.lock().len(), 90);
    assert_eq!(metric(&registry, "panoptes_remote_storage_samples_dropped_total"), 0.0);
    tokio::task::block_in_place(|| manager.stop(Duration::from_secs(1)));
    db.close().unwrap();
}
