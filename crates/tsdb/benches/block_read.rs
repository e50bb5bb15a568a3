//! Block read throughput: select every series of one block (20k series × 2 h at a 15 s scrape)
//! and read each one whole with `read_all`, as the PromQL engine does for range queries.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use panoptes_model::{Matcher, Sample};
use panoptes_storage::Storage;
use panoptes_test_util::node_like_series;
use panoptes_tsdb::backfill::BlockBuilder;
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const SERIES: usize = 20_000;
// Two hours at a 15 s scrape interval.
const SAMPLES_PER_SERIES: i64 = 480;
const START: i64 = 1_700_000_000_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut series = node_like_series(SERIES);
    series.sort();
    let mut builder = BlockBuilder::create(dir.path()).expect("create block");
    let mut samples = Vec::with_capacity(SAMPLES_PER_SERIES as usize);
    for (i, labels) in series.iter().enumerate() {
        samples.clear();
        samples.extend((0..SAMPLES_PER_SERIES).map(|j| Sample::new(START + j * 15_000, (i as i64 * 7 + j * 3) as f64)));
        builder.add_series(labels, &samples).expect("add series");
    }
    builder.finish().expect("finish block");
    let options = DbOptions {
        wal_fsync: FsyncPolicy::Never,
        maintenance_interval: Duration::from_secs(3600),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    let end = START + SAMPLES_PER_SERIES * 15_000;
    let matcher = Matcher::equal("__name__", "node_cpu_seconds_total");

    let mut group = c.benchmark_group("block_read");
    group.throughput(Throughput::Elements(SERIES as u64 * SAMPLES_PER_SERIES as u64));
    group.sample_size(10);
    let read_all = |mint: i64, maxt: i64| {
        let querier = db.querier(mint, maxt).expect("querier");
        let mut buffer = Vec::new();
        let mut total = 0usize;
        for series in querier.select(std::slice::from_ref(&matcher)).expect("select") {
            let mut series = series.expect("series");
            buffer.clear();
            series.samples.read_all(&mut buffer);
            total += buffer.len();
        }
        total
    };
    assert_eq!(read_all(START, end), SERIES * SAMPLES_PER_SERIES as usize);
    group.bench_function("read_all_20k_series_2h", |b| b.iter(|| read_all(START, end)));
    // The last hour only: chunks are clipped.
    group.bench_function("read_all_20k_series_last_1h", |b| b.iter(|| read_all(end - 3_600_000, end)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
