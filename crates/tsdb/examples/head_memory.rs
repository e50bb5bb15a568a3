//! Memory of the head per active series, measured as the growth of the process' anonymous
//! resident memory (`RssAnon` in `/proc/self/status`) while series are created and scraped.
//!
//! `cargo run --release -p panoptes-tsdb --example head_memory -- [series] [scrapes]`
//! (defaults 100000, 90: 15 minutes at a 10 s interval, what the head of `bench/run.sh` holds
//! with 10-minute blocks). Series are `node_like_series`; values are shaped like
//! `bench/loadgen`'s (integer counters, two-decimal gauges, small constants), committed in
//! batches of 5,000 samples; no maintenance runs, so everything stays in the head. The load is
//! generated before the first measurement; the system allocator is used, so the figures include
//! its per-allocation overhead. For a breakdown by allocation site run it under `heaptrack`.

use std::time::Duration;

use panoptes_storage::Storage;
use panoptes_test_util::{SeededRng, node_like_series};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const BATCH: usize = 5_000;
const INTERVAL_MS: i64 = 10_000;

/// Returns the process' anonymous resident memory in bytes (Linux).
fn anonymous_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssAnon:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (series_count, scrapes) = (arg(1, 100_000), arg(2, 90));
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
    let mut counters = vec![0.0f64; series_count];
    let start = 1_700_000_000_000i64;
    let mut load: Vec<(i64, Vec<f64>)> = Vec::with_capacity(scrapes);
    for scrape in 0..scrapes {
        let t = start + scrape as i64 * INTERVAL_MS + rng.below(50) as i64;
        let values = (0..series_count)
            .map(|index| {
                let (shape, parameter) = &mut shapes[index];
                match shape {
                    0 => {
                        counters[index] += (*parameter * 10.0 * (0.5 + rng.unit())).round();
                        counters[index]
                    }
                    1 => {
                        *parameter = ((*parameter + (rng.unit() - 0.5) * 2.0) * 100.0).round() / 100.0;
                        *parameter
                    }
                    _ => *parameter,
                }
            })
            .collect();
        load.push((t, values));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DbOptions {
        wal_fsync: FsyncPolicy::Never,
        maintenance_interval: Duration::from_secs(3600),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    let before = anonymous_rss();
    let mut after_first = 0;
    for (scrape, (t, values)) in load.iter().enumerate() {
        for first in (0..series_count).step_by(BATCH) {
            let mut appender = db.appender();
            for index in first..(first + BATCH).min(series_count) {
                appender.append(&series[index], *t, values[index]).expect("append");
            }
            appender.commit().expect("commit");
        }
        if scrape == 0 {
            after_first = anonymous_rss();
        }
    }
    let after = anonymous_rss();
    // What the open chunks hold, encoded alone (no allocator or container overhead).
    let mut xor_bytes = 0usize;
    let mut head_bytes = 0usize;
    for index in 0..series_count {
        let mut appender = panoptes_tsdb::chunkenc::XorAppender::new();
        let mut head = panoptes_tsdb::chunkenc::HeadChunkAppender::new();
        for (t, values) in load.iter().take(usize::from(panoptes_tsdb::chunkenc::MAX_SAMPLES_PER_CHUNK)) {
            appender.append(*t, values[index]);
            head.append(*t, values[index]);
        }
        xor_bytes += appender.len_bytes();
        head_bytes += head.bytes().len();
    }
    let per_series = |bytes: u64| bytes as f64 / series_count as f64;
    println!(
        "series={series_count} scrapes={scrapes} head_series={} rss_anon_bytes_per_series_after_first_scrape={:.0} \
         rss_anon_bytes_per_series={:.0} rss_anon_bytes_per_sample={:.2} xor_bytes_per_series_first_chunk={:.0} head_chunk_bytes_per_series_first_chunk={:.0}",
        db.head_series_count(),
        per_series(after_first.saturating_sub(before)),
        per_series(after.saturating_sub(before)),
        after.saturating_sub(before) as f64 / (series_count * scrapes) as f64,
        xor_bytes as f64 / series_count as f64,
        head_bytes as f64 / series_count as f64,
    );
    db.close().expect("close");
}
