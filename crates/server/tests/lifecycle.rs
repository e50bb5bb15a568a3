//! Readiness, self-metrics and shutdown of a real server.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use common::{TestServer, encode, series};
use panoptes_server::{Error, ServerOptions};
use panoptes_storage::{Appender, MemStorage, Querier, Storage, StorageRef};
use prometheus_client::metrics::counter::Counter;

#[tokio::test]
async fn ready_is_503_while_storage_opens_then_200() {
    let storage = MemStorage::new();
    let (server, release_tx) = TestServer::start_gated(storage.clone()).await;

    assert_eq!(server.get("/-/healthy").await.0, 200);
    assert_eq!(server.get("/-/ready").await, (503, "Service Unavailable\n".to_owned()));
    let (status, _) = server.post_write(encode(vec![series(&[("__name__", "up")], &[(1, 1.0)])])).await;
    assert_eq!(status, 503);
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("panoptes_storage_ready 0"), "{metrics}");

    release_tx.send(()).unwrap();
    server.wait_ready().await;

    assert_eq!(server.get("/-/ready").await.0, 200);
    let (status, _) = server.post_write(encode(vec![series(&[("__name__", "up")], &[(1, 1.0)])])).await;
    assert_eq!(status, 204);
    assert_eq!(storage.series_count(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn metrics_expose_request_and_sample_counters_and_storage_metrics() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let server = TestServer::start(
        ServerOptions::default(),
        Box::new(move |registry| {
            let opened = Counter::<u64>::default();
            opened.inc();
            registry.register("panoptes_test_store_opened", "Opened by the test opener", opened);
            Ok(storage)
        }),
    )
    .await;
    server.wait_ready().await;
    let up = &[("__name__", "up")];
    assert_eq!(server.post_write(encode(vec![series(up, &[(10, 1.0), (20, 1.0)])])).await.0, 204);
    assert_eq!(server.post_write(encode(vec![series(up, &[(5, 1.0)])])).await.0, 400);

    let response = server
        .client
        .get(server.url("/metrics"))
        .header("Accept", "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let metrics = response.text().await.unwrap();
    for expected in [
        r#"panoptes_http_requests_total{handler="/api/v1/write",code="204"} 1"#,
        r#"panoptes_http_requests_total{handler="/api/v1/write",code="400"} 1"#,
        r#"panoptes_http_request_duration_seconds_count{handler="/api/v1/write"} 2"#,
        "panoptes_remote_write_samples_total 2",
        r#"panoptes_remote_write_samples_rejected_total{reason="out_of_order"} 1"#,
        "panoptes_build_info{version=",
        "panoptes_storage_ready 1",
        "panoptes_test_store_opened_total 1",
    ] {
        assert!(metrics.contains(expected), "missing {expected:?} in\n{metrics}");
    }
    assert_eq!(metrics.matches("# EOF").count(), 1, "{metrics}");
    assert!(metrics.ends_with("# EOF\n"), "{metrics}");

    let response = server.client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    for expected in [
        "# TYPE panoptes_http_requests_total counter",
        "# TYPE panoptes_build_info gauge",
        "# TYPE panoptes_test_store_opened_total counter",
        "panoptes_remote_write_samples_total 2",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("# EOF"), "{text}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn failing_opener_stops_the_server_with_its_error() {
    let server = TestServer::start(ServerOptions::default(), Box::new(|_| Err("wal is corrupt".to_owned()))).await;
    let hook_ran = server.hook_ran.clone();
    let result = server.task_result().await;
    match result {
        Err(Error::OpenStorage { message }) => assert_eq!(message, "wal is corrupt"),
        other => panic!("unexpected result {other:?}"),
    }
    assert!(!hook_ran.load(Ordering::SeqCst));
}

/// A store whose commit waits until the test releases it.
struct GatedStorage {
    inner: MemStorage,
    entered: mpsc::SyncSender<()>,
    release: Arc<std::sync::Mutex<mpsc::Receiver<()>>>,
}

struct GatedAppender {
    inner: Box<dyn Appender>,
    entered: mpsc::SyncSender<()>,
    release: Arc<std::sync::Mutex<mpsc::Receiver<()>>>,
}

impl Storage for GatedStorage {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(GatedAppender {
            inner: self.inner.appender(),
            entered: self.entered.clone(),
            release: self.release.clone(),
        })
    }
    fn querier(&self, mint: i64, maxt: i64) -> panoptes_storage::Result<Box<dyn Querier>> {
        self.inner.querier(mint, maxt)
    }
}

impl Appender for GatedAppender {
    fn append(&mut self, labels: &panoptes_model::Labels, t: i64, v: f64) -> panoptes_storage::Result<()> {
        self.inner.append(labels, t, v)
    }
    fn commit(self: Box<Self>) -> panoptes_storage::Result<()> {
        self.entered.send(()).unwrap();
        self.release.lock().unwrap().recv().unwrap();
        self.inner.commit()
    }
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_before_the_hook_runs() {
    let (entered_tx, entered_rx) = mpsc::sync_channel(1);
    let (release_tx, release_rx) = mpsc::channel();
    let memory = MemStorage::new();
    let storage: StorageRef = Arc::new(GatedStorage {
        inner: memory.clone(),
        entered: entered_tx,
        release: Arc::new(std::sync::Mutex::new(release_rx)),
    });
    let server = TestServer::start(ServerOptions::default(), Box::new(move |_| Ok(storage))).await;
    server.wait_ready().await;
    let request = server
        .client
        .post(server.url("/api/v1/write"))
        .body(encode(vec![series(&[("__name__", "up")], &[(1, 1.0)])]))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap()).await.unwrap();

    let hook_ran = server.hook_ran.clone();
    let stopping = tokio::spawn(server.stop());
    // The commit is blocked, so the request is in flight: the hook must not have run.
    tokio::task::yield_now().await;
    assert!(!hook_ran.load(Ordering::SeqCst));
    release_tx.send(()).unwrap();

    assert_eq!(in_flight.await.unwrap().unwrap().status(), 204);
    stopping.await.unwrap().unwrap();
    assert!(hook_ran.load(Ordering::SeqCst));
    assert_eq!(memory.series_count(), 1);
}

#[tokio::test]
async fn shutdown_while_storage_opens_waits_for_it_then_runs_the_hook() {
    let (server, release_tx) = TestServer::start_gated(MemStorage::new()).await;
    assert_eq!(server.get("/-/ready").await.0, 503);
    let hook_ran = server.hook_ran.clone();

    let mut stopping = tokio::spawn(server.stop());
    let still_running = tokio::time::timeout(std::time::Duration::from_millis(100), &mut stopping).await;
    assert!(still_running.is_err(), "run returned before the store was open");
    assert!(!hook_ran.load(Ordering::SeqCst));
    release_tx.send(()).unwrap();

    stopping.await.unwrap().unwrap();
    assert!(hook_ran.load(Ordering::SeqCst));
}
