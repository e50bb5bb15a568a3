//! The head snapshot a clean close writes (docs/format/wal.md, "Shutdown snapshot") must
//! rebuild exactly the head that replaying the log it replaces rebuilds: the same samples, the
//! same out-of-order buffer, the same ordering bounds for the next appends. Two databases get
//! the same operations; one closes with a snapshot, the other keeps its log.

use std::path::Path;
use std::time::Duration;

use panoptes_model::{Labels, MatchOp, Matcher, STALE_NAN_BITS};
use panoptes_storage::Storage;
use panoptes_storage::testsuite::{query, series};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const SECOND: i64 = 1_000;
/// An hour boundary, so that the first block is the first hour.
const START: i64 = 1_700_002_800_000;
/// Samples every 10 s for 100 minutes: the first hour goes to a block, the rest stays in the
/// head as several closed chunks (120 samples) and an open one.
const STEP: i64 = 10 * SECOND;
const STEPS: i64 = 600;

fn options(snapshot_on_close: bool) -> DbOptions {
    DbOptions {
        block_range: Duration::from_secs(3_600),
        out_of_order_window: Duration::from_secs(3_600),
        maintenance_interval: Duration::from_secs(3_600),
        wal_fsync: FsyncPolicy::Never,
        retention: Duration::from_secs(100 * 365 * 86_400),
        snapshot_on_close,
        ..DbOptions::default()
    }
}

fn labels(name: &str) -> Labels {
    series("snapshot_test", &[("job", name)])
}

/// The value series `name` has at step `i`, if any: integers, two-decimal gauges, values only
/// XOR holds (with a staleness marker), and a series whose newest samples get deleted.
fn value(name: &str, i: i64) -> Option<f64> {
    match name {
        "counter" => Some((i * 7) as f64),
        "gauge" => Some((i % 97) as f64 / 100.0),
        "xor" if i == 550 => Some(f64::from_bits(STALE_NAN_BITS)),
        "xor" => Some((i as f64).sin() * 1e3),
        "deleted" => Some(i as f64 / 4.0),
        // Stops before the cut: only in the block, dropped from the head.
        "gone" => (i < 100).then_some(1.0),
        _ => None,
    }
}

const NAMES: [&str; 5] = ["counter", "gauge", "xor", "deleted", "gone"];

fn append_steps(db: &Db, steps: std::ops::Range<i64>) {
    for i in steps {
        let mut appender = db.appender();
        for name in NAMES {
            if let Some(v) = value(name, i) {
                appender.append(&labels(name), START + i * STEP, v).expect("append");
            }
        }
        appender.commit().expect("commit");
    }
}

/// Builds the same database in `dir` whatever `snapshot_on_close` is, and closes it.
fn build(dir: &Path, snapshot_on_close: bool) {
    let db = Db::open(dir, options(snapshot_on_close)).expect("open");
    append_steps(&db, 0..STEPS);
    db.run_maintenance();
    assert_eq!(db.blocks().len(), 1, "the first hour is a block");
    // Out-of-order samples between the head's in-order ones.
    let mut appender = db.appender();
    for i in (400..420).step_by(3) {
        appender.append(&labels("counter"), START + i * STEP + 5 * SECOND, -1.0).expect("out of order");
    }
    appender.commit().expect("commit");
    // The newest three samples of one series deleted: the head keeps its ordering bound.
    let matchers = [Matcher::new(MatchOp::Equal, "job", "deleted").expect("matcher")];
    db.delete(&matchers, START + (STEPS - 3) * STEP, START + STEPS * STEP).expect("delete");
    db.close().expect("close");
}

fn everything(db: &Db) -> Vec<(Labels, Vec<(i64, u64)>)> {
    query(db, i64::MIN, i64::MAX, &[])
        .into_iter()
        .map(|(labels, samples)| (labels, samples.iter().map(|s| (s.t, s.v.to_bits())).collect()))
        .collect()
}

/// Appends that depend on the ordering bounds and the out-of-order buffer; returns each one's
/// outcome and how many went out of order.
fn probe(db: &Db) -> (Vec<String>, u64) {
    let before = db.metrics().out_of_order_appended.get();
    let last = START + (STEPS - 1) * STEP;
    let probes = [
        ("deleted", last - 5 * SECOND, 1.0),
        ("deleted", last + 5 * SECOND, 2.0),
        ("counter", last, 3.0),
        ("counter", START + 400 * STEP + 5 * SECOND, 4.0),
        ("counter", START + 401 * STEP + 5 * SECOND, 5.0),
        ("gauge", last + STEP, 0.5),
    ];
    let outcomes = probes
        .iter()
        .map(|&(name, t, v)| {
            let mut appender = db.appender();
            let appended = appender.append(&labels(name), t, v).and_then(|()| appender.commit());
            format!("{name} {t} {v}: {appended:?}")
        })
        .collect();
    (outcomes, db.metrics().out_of_order_appended.get() - before)
}

fn wal_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn wal_bytes(dir: &Path) -> u64 {
    fn size(path: &Path) -> u64 {
        std::fs::read_dir(path)
            .expect("dir")
            .flatten()
            .map(|e| if e.path().is_dir() { size(&e.path()) } else { e.metadata().expect("metadata").len() })
            .sum()
    }
    size(&dir.join("wal"))
}

#[test]
fn a_clean_close_leaves_a_snapshot_that_replays_like_the_log() {
    let (logged, snapshotted) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    build(logged.path(), false);
    build(snapshotted.path(), true);

    let files = wal_files(snapshotted.path());
    assert!(files.len() == 1 && files[0].starts_with("checkpoint."), "only the snapshot is left: {files:?}");
    assert!(wal_files(logged.path()).iter().any(|f| !f.starts_with("checkpoint.")), "the other keeps segments");
    let (log_size, snapshot_size) = (wal_bytes(logged.path()), wal_bytes(snapshotted.path()));
    assert!(snapshot_size * 2 < log_size, "snapshot {snapshot_size} bytes, log {log_size} bytes");

    let reopen = |dir: &Path, snapshot: bool| Db::open(dir, options(snapshot)).expect("reopen");
    let (a, b) = (reopen(logged.path(), false), reopen(snapshotted.path(), true));
    assert_eq!(b.metrics().wal_corruptions.get(), 0);
    assert_eq!(b.metrics().wal_unknown_series_samples.get(), 0);
    let read = everything(&a);
    assert_eq!(read.len(), NAMES.len(), "every series is readable");
    assert_eq!(everything(&b), read);
    assert_eq!(b.head_series_count(), a.head_series_count());
    assert_eq!(b.head_time_range(), a.head_time_range());
    let (outcomes, out_of_order) = probe(&a);
    assert_eq!(probe(&b), (outcomes.clone(), out_of_order));
    assert!(outcomes.iter().any(|o| o.contains("Err")), "some probes are refused: {outcomes:#?}");
    assert!(out_of_order > 0, "some probes went out of order: {outcomes:#?}");
    assert_eq!(everything(&b), everything(&a));

    // A checkpoint over the snapshot's chunks (a second block cut), then a snapshot of a head
    // that was itself replayed from one.
    for db in [&a, &b] {
        append_steps(db, STEPS + 1..STEPS + 400);
        db.run_maintenance();
        assert_eq!(db.blocks().len(), 2, "the second hour is a block");
        db.close().expect("close");
    }
    assert_eq!(everything(&b), everything(&a));
    drop((a, b));
    let (a, b) = (reopen(logged.path(), false), reopen(snapshotted.path(), true));
    assert_eq!(everything(&b), everything(&a));
    assert_eq!(probe(&b), probe(&a));
}

/// A commit racing the close is either refused or in the snapshot: never acknowledged and lost.
#[test]
fn a_commit_racing_the_close_is_refused_or_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options(true)).expect("open");
    append_steps(&db, 0..10);
    let mut late = db.appender();
    late.append(&labels("counter"), START + 10 * STEP, 70.0).expect("buffered before the close");
    // The close does not wait for an open appender; its commit comes while or after the close
    // runs.
    let closer = {
        let db = db.clone();
        std::thread::spawn(move || db.close())
    };
    std::thread::sleep(Duration::from_millis(200));
    let committed = late.commit();
    closer.join().expect("close thread").expect("close");
    let mut after = db.appender();
    assert!(after.append(&labels("counter"), START + 11 * STEP, 77.0).is_err(), "appends fail after close");
    drop(db);
    let db = Db::open(dir.path(), options(true)).expect("reopen");
    let read = everything(&db);
    let counter = read.iter().find(|(l, _)| *l == labels("counter")).expect("counter");
    let want = if committed.is_ok() { 11 } else { 10 };
    assert_eq!(counter.1.len(), want, "the late commit ({committed:?}) is kept exactly when acknowledged");
}

/// Without an out-of-order window, the checkpoint after a block is cut leaves the segment that
/// still holds head samples for a later checkpoint (docs/format/wal.md, "Checkpoints"); a
/// reopen from the log (no snapshot, as after a crash) then replays samples the block already
/// holds. They are dropped, and the series that had only such samples is not recreated: the
/// head is the one a snapshot rebuilds.
#[test]
fn replaying_a_segment_a_checkpoint_left_rebuilds_the_same_head() {
    let without_window =
        |snapshot_on_close| DbOptions { out_of_order_window: Duration::ZERO, ..options(snapshot_on_close) };
    let (logged, snapshotted) = (tempfile::tempdir().expect("tempdir"), tempfile::tempdir().expect("tempdir"));
    for (dir, snapshot_on_close) in [(logged.path(), false), (snapshotted.path(), true)] {
        let db = Db::open(dir, without_window(snapshot_on_close)).expect("open");
        append_steps(&db, 0..STEPS);
        db.run_maintenance();
        assert_eq!(db.blocks().len(), 1, "the first hour is a block");
        db.close().expect("close");
    }
    let segments = wal_files(logged.path()).into_iter().filter(|f| !f.starts_with("checkpoint.")).count();
    assert!(
        segments >= 2,
        "the segment with head samples is left to a later checkpoint: {:?}",
        wal_files(logged.path())
    );

    let (a, b) = (
        Db::open(logged.path(), without_window(false)).expect("reopen"),
        Db::open(snapshotted.path(), without_window(true)).expect("reopen"),
    );
    assert_eq!(everything(&a), everything(&b));
    assert_eq!(a.head_series_count(), b.head_series_count(), "the series only the block holds is not recreated");
    assert_eq!(a.head_series_count(), NAMES.len() - 1);
    assert_eq!(a.head_time_range(), b.head_time_range());
}
