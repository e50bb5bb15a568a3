//! Crash safety of the real binary: every remote write acknowledged with `204` survives a
//! `SIGKILL` at a random moment.
//!
//! Each cycle starts `panoptes server` on the same data directory, writes batches until the
//! process is killed, then opens the directory with `Db::open` and checks that every
//! acknowledged sample is there and that nothing was stored that was never sent. Set
//! `PANOPTES_CRASH_SEED` to replay a run; the seed is printed.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use panoptes_model::Matcher;
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest};
use panoptes_storage::Storage;
use panoptes_tsdb::{Db, DbOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

use crate::common::{start_server, wait_ready};

const METRIC: &str = "crash_test_samples";
const SERIES_PER_BATCH: usize = 8;
const SAMPLES_PER_SERIES: usize = 5;
/// Total wall-clock budget of the kill/restart cycles (the test stops starting new ones after it).
const BUDGET: Duration = Duration::from_secs(20);
const MAX_CYCLES: usize = 8;
/// Concurrent clients, each on its own series, so that kills land in the middle of commits.
const WRITERS: usize = 2;

/// Samples per series (named by its `series` label), as `(t, v bits)`.
type Model = BTreeMap<String, BTreeMap<i64, u64>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_samples_survive_sigkill() {
    let seed = std::env::var("PANOPTES_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("PANOPTES_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    let sent = Arc::new(Mutex::new(Model::new()));
    let acknowledged = Arc::new(Mutex::new(Model::new()));
    let mut next_t = [panoptes_model::time::now_millis(); WRITERS];
    let started = Instant::now();
    let mut cycles = 0;
    let mut total_acknowledged_batches = 0;
    while cycles < MAX_CYCLES && started.elapsed() < BUDGET {
        cycles += 1;
        let fsync = ["always", "1s", "never"][rng.random_range(0..3)];
        let log_path = logs.path().join(format!("cycle-{cycles}.log"));
        let (mut child, address) =
            start_server(data.path(), &[&format!("--storage.tsdb.wal-fsync={fsync}")], &log_path);
        if rng.random_bool(0.2) {
            // Kill while the server starts and replays the WAL the previous cycles left.
            let kill_after = Duration::from_millis(rng.random_range(0..30));
            tokio::time::sleep(kill_after).await;
            kill(&mut child, &log_path);
            println!("cycle {cycles}: fsync={fsync} killed {kill_after:?} after start");
            continue;
        }
        wait_ready(&client, address, &mut child, &log_path).await;

        let kill_after = Duration::from_millis(rng.random_range(20..400));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let batches = Batches { writer, rng: StdRng::seed_from_u64(rng.random()), next_t: next_t[writer] };
                tokio::spawn(write_until_failure(
                    client.clone(),
                    address,
                    batches,
                    sent.clone(),
                    acknowledged.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(kill_after).await;
        kill(&mut child, &log_path);
        stop.store(true, Ordering::SeqCst);
        let mut batches_acknowledged = 0;
        for (writer, task) in writers.into_iter().enumerate() {
            let (count, t) = task.await.unwrap();
            batches_acknowledged += count;
            next_t[writer] = t;
        }
        total_acknowledged_batches += batches_acknowledged;
        println!(
            "cycle {cycles}: fsync={fsync} killed after {kill_after:?} of writes, {batches_acknowledged} batches acknowledged"
        );

        // Checking reopens (and repairs) the directory; skip it sometimes so that the server
        // itself also restarts on what the kill left.
        if rng.random_bool(0.5) {
            verify(data.path(), &*acknowledged.lock().await, &*sent.lock().await, seed, cycles);
        }
    }
    verify(data.path(), &*acknowledged.lock().await, &*sent.lock().await, seed, cycles);
    assert!(cycles >= 3, "only {cycles} cycles ran within the budget");
    assert!(total_acknowledged_batches > 0, "no batch was ever acknowledged: the test checked nothing");
}

/// Kills the server with SIGKILL, failing with its log if it had already exited on its own.
fn kill(child: &mut Child, log_path: &Path) {
    if let Some(status) = child.try_wait().unwrap() {
        panic!("server exited with {status} before it was killed:\n{}", std::fs::read_to_string(log_path).unwrap());
    }
    child.kill().expect("SIGKILL the server");
    child.wait().expect("reap the server");
}

/// Sends batches in order until one fails (the server was killed), recording each batch as sent
/// before sending it and as acknowledged on `204`. Returns how many were acknowledged and the
/// writer's next timestamp.
async fn write_until_failure(
    client: reqwest::Client,
    address: SocketAddr,
    mut batches: Batches,
    sent: Arc<Mutex<Model>>,
    acknowledged: Arc<Mutex<Model>>,
    stop: Arc<AtomicBool>,
) -> (usize, i64) {
    let url = format!("http://{address}/api/v1/write");
    let mut count = 0;
    while !stop.load(Ordering::SeqCst) {
        let batch = batches.next_batch();
        record(&mut *sent.lock().await, &batch);
        let body = snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&batch)).unwrap();
        let response = client
            .post(&url)
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(body)
            .send()
            .await;
        let Ok(response) = response else { break };
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match status.as_u16() {
            204 => {
                record(&mut *acknowledged.lock().await, &batch);
                count += 1;
            }
            // The store may answer 500/503 while the process dies; nothing is acknowledged.
            500 | 503 => break,
            other => panic!("unexpected answer {other}: {text}"),
        }
    }
    (count, batches.next_t)
}

/// Generates one writer's batches: fresh samples for its own `SERIES_PER_BATCH` series.
struct Batches {
    writer: usize,
    rng: StdRng,
    next_t: i64,
}

impl Batches {
    fn next_batch(&mut self) -> WriteRequest {
        let timeseries = (0..SERIES_PER_BATCH)
            .map(|series| TimeSeries {
                labels: vec![
                    Label::new("__name__", METRIC),
                    Label::new("series", &format!("{}-{series}", self.writer)),
                ],
                samples: (0..SAMPLES_PER_SERIES as i64)
                    .map(|offset| Sample { value: self.rng.random_range(-1e6..1e6), timestamp: self.next_t + offset })
                    .collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect();
        self.next_t += SAMPLES_PER_SERIES as i64;
        WriteRequest { timeseries, metadata: Vec::new() }
    }
}

fn record(model: &mut Model, batch: &WriteRequest) {
    for series in &batch.timeseries {
        let name = String::from_utf8(series.labels[1].value.clone()).unwrap();
        let samples = model.entry(name).or_default();
        for sample in &series.samples {
            samples.insert(sample.timestamp, sample.value.to_bits());
        }
    }
}

/// Opens the directory the killed server left and checks: acknowledged ⊆ stored ⊆ sent.
fn verify(data: &Path, acknowledged: &Model, sent: &Model, seed: u64, cycle: usize) {
    let db = Db::open(data, DbOptions::default()).expect("reopen the data directory");
    let querier = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut stored = Model::new();
    for series in querier.select(&[Matcher::equal("__name__", METRIC)]).unwrap() {
        let mut series = series.unwrap();
        let name = series.labels.get("series").expect("series label").to_owned();
        let samples = stored.entry(name).or_default();
        while let Some(sample) = series.samples.next() {
            samples.insert(sample.t, sample.v.to_bits());
        }
        assert!(series.samples.take_error().is_none(), "seed {seed}, cycle {cycle}: read error");
    }
    drop(querier);
    db.close().unwrap();

    for (series, samples) in acknowledged {
        let found = stored.get(series);
        for (t, v) in samples {
            assert_eq!(
                found.and_then(|found| found.get(t)),
                Some(v),
                "seed {seed}, cycle {cycle}: acknowledged sample of series {series} at {t} lost"
            );
        }
    }
    for (series, samples) in &stored {
        for (t, v) in samples {
            assert_eq!(
                sent[series].get(t),
                Some(v),
                "seed {seed}, cycle {cycle}: series {series} has an unsent sample at {t}"
            );
        }
    }
}
