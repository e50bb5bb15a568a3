//! WAL size and speed on remote-write-like load: 10k node-exporter-like series scraped 60 times
//! at 10 s, committed in batches of 5,000 samples (as `bench/loadgen` sends them), with values
//! shaped like loadgen's (integer counters, two-decimal gauges, small constants).
//!
//! Prints the WAL's bytes per sample once, then measures ingestion into a fresh database
//! (head plus WAL encoding and writing) and replay of the written log.

use std::path::Path;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use panoptes_model::Labels;
use panoptes_storage::Storage;
use panoptes_test_util::{SeededRng, node_like_series};
use panoptes_tsdb::wal::{self, Record};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const SERIES: usize = 10_000;
const SCRAPES: usize = 60;
const BATCH: usize = 5_000;

/// One commit: (series index, t, v) triples.
type Batch = Vec<(usize, i64, f64)>;

/// Returns the commits of the load, values evolving as in `bench/loadgen`.
fn load() -> Vec<Batch> {
    let mut rng = SeededRng::new(42);
    enum Shape {
        Counter(f64),
        Gauge(f64),
        Constant(f64),
    }
    let mut shapes: Vec<Shape> = (0..SERIES)
        .map(|_| match rng.below(10) {
            0..=4 => Shape::Counter(1.0 + rng.below(500) as f64),
            5..=7 => Shape::Gauge(rng.below(10_000) as f64 / 100.0),
            _ => Shape::Constant(rng.below(4) as f64),
        })
        .collect();
    let mut values = vec![0.0f64; SERIES];
    let mut batches = Vec::new();
    for scrape in 0..SCRAPES {
        let t = 1_700_000_000_000 + scrape as i64 * 10_000 + rng.below(50) as i64;
        for start in (0..SERIES).step_by(BATCH) {
            let batch = (start..(start + BATCH).min(SERIES))
                .map(|index| {
                    let v = match &mut shapes[index] {
                        Shape::Counter(rate) => {
                            values[index] += (*rate * 10.0 * (0.5 + rng.unit())).round();
                            values[index]
                        }
                        Shape::Gauge(level) => {
                            *level = ((*level + (rng.unit() - 0.5) * 2.0) * 100.0).round() / 100.0;
                            *level
                        }
                        Shape::Constant(value) => *value,
                    };
                    (index, t, v)
                })
                .collect();
            batches.push(batch);
        }
    }
    batches
}

fn options() -> DbOptions {
    DbOptions {
        wal_fsync: FsyncPolicy::Never,
        maintenance_interval: Duration::from_secs(3600),
        // The log as written: it is what this measures.
        snapshot_on_close: false,
        ..DbOptions::default()
    }
}

fn ingest(dir: &Path, series: &[Labels], batches: &[Batch]) {
    let db = Db::open(dir, options()).expect("open");
    for batch in batches {
        let mut appender = db.appender();
        for &(index, t, v) in batch {
            appender.append(&series[index], t, v).expect("append");
        }
        appender.commit().expect("commit");
    }
    db.close().expect("close");
}

fn directory_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| if e.path().is_dir() { directory_bytes(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) })
        .sum()
}

fn bench(c: &mut Criterion) {
    let series = node_like_series(SERIES);
    let batches = load();
    let samples = (SERIES * SCRAPES) as u64;
    let written = tempfile::tempdir().expect("tempdir");
    ingest(written.path(), &series, &batches);
    let wal_dir = written.path().join("wal");
    let wal_bytes = directory_bytes(&wal_dir);
    eprintln!(
        "wal: {wal_bytes} bytes for {samples} samples of {SERIES} series: {:.3} bytes/sample",
        wal_bytes as f64 / samples as f64
    );

    let mut group = c.benchmark_group("wal");
    group.throughput(Throughput::Elements(samples));
    group.sample_size(10);
    group.bench_function("ingest_10k_series_x60", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("tempdir"),
            |dir| {
                ingest(dir.path(), &series, &batches);
                dir
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("replay_10k_series_x60", |b| {
        b.iter(|| {
            let mut replayed = 0usize;
            wal::replay(&wal_dir, |record| {
                if let Record::Samples(s) = record {
                    replayed += s.len();
                }
            })
            .expect("replay");
            assert_eq!(replayed as u64, samples);
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
