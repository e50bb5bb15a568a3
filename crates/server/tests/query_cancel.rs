//! A query whose client goes away stops: it gives back its query slot instead of running to the
//! end for nobody. The store here is a real in-memory store wrapped so that reading each series
//! takes a millisecond, which makes the query slow enough to observe without a huge data set.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestServer;
use panoptes_model::{Labels, Matcher};
use panoptes_server::ServerOptions;
use panoptes_storage::{Appender, MemStorage, Querier, Result, SeriesSet, Storage, StorageRef};

/// Series in the slow store: reading all of them takes about this many milliseconds.
const SERIES: usize = 6_000;

/// A store whose series each take 1 ms to read.
struct SlowStorage(MemStorage);

struct SlowQuerier(Box<dyn Querier>);

impl Storage for SlowStorage {
    fn appender(&self) -> Box<dyn Appender> {
        self.0.appender()
    }

    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>> {
        Ok(Box::new(SlowQuerier(self.0.querier(mint, maxt)?)))
    }
}

impl Querier for SlowQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<SeriesSet> {
        let series = self.0.select(matchers)?;
        Ok(Box::new(series.inspect(|_| std::thread::sleep(Duration::from_millis(1)))))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        self.0.label_names(matchers)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        self.0.label_values(name, matchers)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_whose_client_disconnects_frees_its_slot() {
    let storage = MemStorage::new();
    let mut appender = storage.appender();
    for index in 0..SERIES {
        let labels = Labels::from_pairs([("__name__", "slow"), ("i", &index.to_string())]);
        appender.append(&labels, 1_000, 1.0).unwrap();
    }
    appender.commit().unwrap();
    let storage: StorageRef = Arc::new(SlowStorage(storage));
    // One query at a time: a query that keeps running blocks every other.
    let options = ServerOptions { max_concurrent_queries: 1, ..ServerOptions::default() };
    let server = TestServer::start(options, Box::new(move |_| Ok(storage))).await;
    server.wait_ready().await;

    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(300)).build().unwrap();
    let error = impatient
        .get(server.url("/api/v1/query?query=count(slow)&time=1"))
        .send()
        .await
        .expect_err("the client gives up before the query ends");
    assert!(error.is_timeout(), "{error}");

    // The slot is free long before the abandoned query would have read every series.
    let started = Instant::now();
    let (status, body) = server.get("/api/v1/query?query=vector(1)&time=1").await;
    let waited = started.elapsed();
    assert_eq!(status, 200, "{body}");
    assert!(
        waited < Duration::from_millis(SERIES as u64 / 2),
        "the next query waited {waited:?}: the abandoned one kept running"
    );

    // Sanity check of the setup: the slow query really takes that long when nobody cancels it.
    let started = Instant::now();
    let (status, body) = server.get("/api/v1/query?query=count(slow)&time=1").await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(SERIES as u64), "{:?}", started.elapsed());
    server.stop().await.unwrap();
}
