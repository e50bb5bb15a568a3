//! In-process ingestion of remote-write-like load, reporting the data directory's bytes per
//! sample and the CPU time per sample of ingestion and WAL replay.
//!
//! `cargo run --release -p panoptes-tsdb --example wal_size -- [series] [scrapes] [block minutes]`
//! (defaults 10000, 360, 10): series shaped like `node_like_series`, values like `bench/loadgen`
//! (integer counters, two-decimal gauges, small constants), one scrape every 10 s committed in
//! batches of 5,000 samples, maintenance (block cutting, checkpoints) after every minute of
//! data. CPU time is the process' user plus system time from `/proc/self/stat`, so it stays
//! meaningful on a machine shared with other work, unlike wall-clock time.

use std::path::Path;
use std::time::Duration;

use panoptes_storage::Storage;
use panoptes_test_util::{SeededRng, node_like_series};
use panoptes_tsdb::wal::{self, Record};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const BATCH: usize = 5_000;

/// One scrape: its timestamp and its commits of (series index, value).
type Scrape = (i64, Vec<Vec<(usize, f64)>>);
const INTERVAL_MS: i64 = 10_000;

/// Returns the process' user plus system CPU time in seconds (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn directory_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(
                    |e| {
                        if e.path().is_dir() { directory_bytes(&e.path()) } else { e.metadata().map_or(0, |m| m.len()) }
                    },
                )
                .sum()
        })
        .unwrap_or(0)
}

/// Returns the bytes of the block files named `name` and the samples the blocks hold.
fn block_file_bytes(dir: &Path, name: &str) -> (u64, u64) {
    let mut bytes = 0;
    let mut samples = 0;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let meta = std::fs::read_to_string(entry.path().join("meta.json")).unwrap_or_default();
        let Some(rest) = meta.split("\"numSamples\":").nth(1) else { continue };
        samples += rest
            .trim_start()
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        bytes += std::fs::metadata(entry.path().join(name)).map_or(0, |m| m.len());
    }
    (bytes, samples)
}

fn main() {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (series_count, scrapes, block_minutes) = (arg(1, 10_000), arg(2, 360), arg(3, 10));
    let series = node_like_series(series_count);
    let mut rng = SeededRng::new(42);
    // 0: counter (rate), 1: gauge (level), 2: constant.
    let mut shapes: Vec<(u8, f64)> = (0..series_count)
        .map(|_| match rng.below(10) {
            0..=4 => (0, 1.0 + rng.below(500) as f64),
            5..=7 => (1, rng.below(10_000) as f64 / 100.0),
            _ => (2, rng.below(4) as f64),
        })
        .collect();
    let mut values = vec![0.0f64; series_count];
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DbOptions {
        block_range: Duration::from_secs(block_minutes as u64 * 60),
        wal_fsync: FsyncPolicy::Never,
        maintenance_interval: Duration::from_secs(3600),
        retention: Duration::from_secs(365 * 86_400),
        // The log as written: it is what this measures.
        snapshot_on_close: false,
        ..DbOptions::default()
    };
    // The load is generated first so that the timed loop only ingests.
    let start = 1_700_000_000_000i64;
    let mut scrape_batches: Vec<Scrape> = Vec::with_capacity(scrapes);
    for scrape in 0..scrapes {
        let t = start + scrape as i64 * INTERVAL_MS + rng.below(50) as i64;
        let mut batches = Vec::new();
        let mut batch = Vec::with_capacity(BATCH);
        for index in 0..series_count {
            let (shape, parameter) = &mut shapes[index];
            let v = match shape {
                0 => {
                    values[index] += (*parameter * 10.0 * (0.5 + rng.unit())).round();
                    values[index]
                }
                1 => {
                    *parameter = ((*parameter + (rng.unit() - 0.5) * 2.0) * 100.0).round() / 100.0;
                    *parameter
                }
                _ => *parameter,
            };
            batch.push((index, v));
            if batch.len() == BATCH || index + 1 == series_count {
                batches.push(std::mem::take(&mut batch));
            }
        }
        scrape_batches.push((t, batches));
    }
    let db = Db::open(dir.path(), options).expect("open");
    let mut maintaining = 0.0;
    let began = cpu_seconds();
    for (scrape, (t, batches)) in scrape_batches.iter().enumerate() {
        for batch in batches {
            let mut appender = db.appender();
            for &(index, v) in batch {
                appender.append(&series[index], *t, v).expect("append");
            }
            appender.commit().expect("commit");
        }
        if (scrape + 1) % 6 == 0 {
            let before = cpu_seconds();
            db.run_maintenance();
            maintaining += cpu_seconds() - before;
        }
    }
    let appending = cpu_seconds() - began - maintaining;
    db.close().expect("close");
    drop(db);
    let samples = (series_count * scrapes) as f64;
    let total = directory_bytes(dir.path());
    let wal_bytes = directory_bytes(&dir.path().join("wal"));
    let (index_bytes, block_samples) = block_file_bytes(dir.path(), "index");
    let (chunk_bytes, _) = block_file_bytes(dir.path(), "chunks");
    let before = cpu_seconds();
    let mut replayed = 0u64;
    let rounds = 40;
    for _ in 0..rounds {
        wal::replay(&dir.path().join("wal"), |record| {
            if let Record::Samples(samples) = record {
                replayed += samples.len() as u64;
            }
        })
        .expect("replay");
    }
    let replaying = (cpu_seconds() - before) / rounds as f64;
    let replayed = replayed / rounds;
    println!(
        "series={series_count} scrapes={scrapes} samples={samples} data_dir_bytes={total} wal_bytes={wal_bytes} \
         bytes_per_sample={:.3} wal_samples={replayed} wal_bytes_per_wal_sample={:.3} \
         append_cpu_ns_per_sample={:.0} maintenance_cpu_ns_per_sample={:.0} replay_cpu_ns_per_wal_sample={:.1} \
         block_samples={block_samples} block_index_bytes_per_sample={:.3} block_chunk_bytes_per_sample={:.3}",
        total as f64 / samples,
        wal_bytes as f64 / replayed.max(1) as f64,
        appending * 1e9 / samples,
        maintaining * 1e9 / samples,
        replaying * 1e9 / replayed.max(1) as f64,
        index_bytes as f64 / block_samples.max(1) as f64,
        chunk_bytes as f64 / block_samples.max(1) as f64,
    );
}
