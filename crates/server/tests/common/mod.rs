//! Shared helpers of the server's integration tests: starting a real server and encoding
//! remote write requests.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest, encode_write_request};
use panoptes_server::{Server, ServerOptions, StorageOpener};
use panoptes_storage::{MemStorage, StorageRef};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in the test's runtime.
pub struct TestServer {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<panoptes_server::Result<()>>>,
    pub hook_ran: Arc<AtomicBool>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0` with `opener`.
    pub async fn start(options: ServerOptions, opener: StorageOpener) -> TestServer {
        let options = ServerOptions { listen_address: SocketAddr::from(([127, 0, 0, 1], 0)), ..options };
        let server = Server::bind(options).await.expect("bind");
        let address = server.local_addr();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let hook_ran = Arc::new(AtomicBool::new(false));
        let hook_flag = hook_ran.clone();
        let hook = Box::new(move || {
            hook_flag.store(true, Ordering::SeqCst);
            Ok(())
        });
        let task = tokio::spawn(server.run(
            opener,
            async move {
                let _ = shutdown_rx.await;
            },
            hook,
        ));
        TestServer { address, client: reqwest::Client::new(), shutdown: Some(shutdown_tx), task: Some(task), hook_ran }
    }

    /// Starts a server whose store opens only when the returned sender sends (or is dropped,
    /// which fails the opening), for tests of what happens before the store is ready.
    pub async fn start_gated(storage: MemStorage) -> (TestServer, std::sync::mpsc::Sender<()>) {
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let server = TestServer::start(
            ServerOptions::default(),
            Box::new(move |_| {
                release_rx.recv().map_err(|error| error.to_string())?;
                Ok(Arc::new(storage) as StorageRef)
            }),
        )
        .await;
        (server, release_tx)
    }

    /// Starts a server over `storage`, and waits until it is ready.
    pub async fn with_storage(storage: MemStorage, options: ServerOptions) -> TestServer {
        let storage: StorageRef = Arc::new(storage);
        let server = TestServer::start(options, Box::new(move |_| Ok(storage))).await;
        server.wait_ready().await;
        server
    }

    /// Returns the URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Polls `/-/ready` until it answers 200 (at most 10 s).
    pub async fn wait_ready(&self) {
        for _ in 0..1000 {
            if let Ok(response) = self.client.get(self.url("/-/ready")).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server never became ready");
    }

    /// Posts a raw remote write body with the standard headers.
    pub async fn post_write(&self, body: Vec<u8>) -> (u16, String) {
        let response = self
            .client
            .post(self.url("/api/v1/write"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .expect("send remote write");
        let status = response.status().as_u16();
        (status, response.text().await.expect("read body"))
    }

    /// GETs `path` and returns status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.client.get(self.url(path)).send().await.expect("send get");
        let status = response.status().as_u16();
        (status, response.text().await.expect("read body"))
    }

    /// Triggers the shutdown and returns what `run` returned.
    pub async fn stop(mut self) -> panoptes_server::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.task.take().expect("running").await.expect("server task")
    }
}

/// Returns a series with `labels` and samples `(t, v)`.
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp }).collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

/// Returns the encoded remote write body of `timeseries`.
pub fn encode(timeseries: Vec<TimeSeries>) -> Vec<u8> {
    encode_write_request(&WriteRequest { timeseries, metadata: Vec::new() })
}

/// Returns every sample of the series named exactly by `labels`, as `(t, v)`.
pub fn stored(storage: &MemStorage, labels: &[(&str, &str)]) -> Vec<(i64, f64)> {
    use panoptes_storage::Storage;
    let matchers: Vec<panoptes_model::Matcher> =
        labels.iter().map(|(n, v)| panoptes_model::Matcher::equal(*n, *v)).collect();
    let querier = storage.querier(i64::MIN, i64::MAX).expect("querier");
    let mut found = Vec::new();
    for series in querier.select(&matchers).expect("select") {
        let mut series = series.expect("series");
        if series.labels.len() != labels.len() {
            continue;
        }
        found.extend(panoptes_storage::collect_samples(series.samples.as_mut()).into_iter().map(|s| (s.t, s.v)));
    }
    found
}

impl TestServer {
    /// Waits for `run` to return on its own.
    pub async fn task_result(mut self) -> panoptes_server::Result<()> {
        self.task.take().expect("running").await.expect("server task")
    }
}
