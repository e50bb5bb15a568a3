//! Head append throughput: one commit per scrape-like batch of samples, WAL on disk.

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use panoptes_storage::Storage;
use panoptes_test_util::node_like_series;
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const SERIES: usize = 10_000;

fn bench(c: &mut Criterion) {
    let series = node_like_series(SERIES);
    let mut group = c.benchmark_group("head_append");
    group.throughput(Throughput::Elements(SERIES as u64));
    group.sample_size(20);
    group.bench_function("existing_series_10k_per_commit", |b| {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = DbOptions {
            wal_fsync: FsyncPolicy::Never,
            maintenance_interval: Duration::from_secs(3600),
            ..DbOptions::default()
        };
        let db = Db::open(dir.path(), options).expect("open");
        let mut t = 1_700_000_000_000i64;
        b.iter_batched(
            || {
                t += 15_000;
                t
            },
            |t| {
                let mut appender = db.appender();
                for (i, labels) in series.iter().enumerate() {
                    appender.append(labels, t, (t / 1000 + i as i64) as f64).expect("append");
                }
                appender.commit().expect("commit");
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("new_series_10k_per_commit", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let options = DbOptions {
                    wal_fsync: FsyncPolicy::Never,
                    maintenance_interval: Duration::from_secs(3600),
                    ..DbOptions::default()
                };
                let db = Db::open(dir.path(), options).expect("open");
                (dir, db)
            },
            |(dir, db)| {
                let mut appender = db.appender();
                for labels in &series {
                    appender.append(labels, 1_700_000_000_000, 1.0).expect("append");
                }
                appender.commit().expect("commit");
                // Returned so that closing and removing the directory happen outside the timing.
                (dir, db)
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
