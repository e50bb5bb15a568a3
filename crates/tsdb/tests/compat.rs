//! On-disk compatibility: data directories written by earlier releases must open and read back
//! exactly (STYLE.md section 6, "Compat fixtures").
//!
//! `testdata/compat/v1/` was written by the code of commit `35f3f2e` (uncompressed WAL records:
//! types 1, 2 and 3 of docs/format/wal.md) with
//!
//! ```text
//! PANOPTES_WRITE_COMPAT_FIXTURE=v1 cargo test -p panoptes-tsdb --test compat -- --ignored generate
//! ```
//!
//! (the generator was named `generate_v1_fixture` then). `testdata/compat/v2/` was written the
//! same way by the code of commit `dd9aee1` (index version 2: shared label-name lists, chunk
//! starts relative to the block) with `PANOPTES_WRITE_COMPAT_FIXTURE=v2`, which runs
//! [`generate_fixture`] below. Each holds a block (with a tombstones file), a WAL
//! checkpoint and several WAL segments after it (series, samples and tombstone records), with
//! integer, decimal, special (±Inf, −0, NaN) and staleness-marker values. `testdata/compat/v3/`
//! (`PANOPTES_WRITE_COMPAT_FIXTURE=v3`) holds the same data closed cleanly: its WAL is only the
//! shutdown snapshot (chunks records, docs/format/wal.md). Never regenerate one with
//! newer code: the point is that its bytes stay as the old code wrote them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use panoptes_model::{Labels, MatchOp, Matcher, STALE_NAN_BITS};
use panoptes_storage::Storage;
use panoptes_storage::testsuite::{query, series};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const MINUTE: i64 = 60_000;
/// The fixture's first sample time: a real-looking epoch time, so timestamps take realistic
/// varint widths.
const START: i64 = 1_700_000_040_000 - 1_700_000_040_000 % (20 * MINUTE);
/// Minutes appended before the head is cut into a block (it cuts once it spans 1.5 ranges).
const FIRST_PHASE_MINUTES: i64 = 32;
const LAST_MINUTE: i64 = 41;

/// Deletions made while generating, in order: (matcher value of `job`, first minute, last minute).
/// The first only touches the head (a WAL tombstone that ends up in the checkpoint), the second
/// the block (a tombstones file), the third the head again after the checkpoint.
const DELETIONS: [(i64, i64); 3] = [(25, 27), (5, 7), (33, 34)];

fn options() -> DbOptions {
    DbOptions {
        block_range: Duration::from_secs(20 * 60),
        maintenance_interval: Duration::from_secs(3600),
        wal_fsync: FsyncPolicy::Never,
        wal_segment_bytes: 512,
        retention: Duration::from_secs(100 * 365 * 86_400),
        ..DbOptions::default()
    }
}

fn all_series() -> Vec<Labels> {
    vec![
        series("compat_counter_total", &[("instance", "a:9100"), ("job", "node")]),
        series("compat_gauge", &[("instance", "a:9100"), ("job", "node")]),
        series("compat_stale", &[("instance", "b:9100"), ("job", "node")]),
        series("compat_gone", &[("job", "gone")]),
        series("compat_deleted", &[("job", "deleted")]),
    ]
}

/// Returns the value series `index` has at `minute`, if it has a sample then.
fn value(index: usize, minute: i64) -> Option<f64> {
    let m = minute as f64;
    match index {
        // Integer counter, large enough to need several varint bytes.
        0 => Some((1u64 << 40) as f64 + m * 1234.0),
        // Decimal gauge with special values mixed in.
        1 => Some(match minute {
            3 => f64::INFINITY,
            4 => f64::NEG_INFINITY,
            8 => -0.0,
            12 => f64::NAN,
            36 => 1e300,
            _ => (minute * 37 % 101) as f64 / 100.0 - 0.5,
        }),
        // Constant with staleness markers: one in the block, one in the checkpoint, one at the end.
        2 => match minute {
            15 | 22 | 38 => Some(f64::from_bits(STALE_NAN_BITS)),
            39.. => None,
            _ => Some(1.0),
        },
        // A series that stops before the cut: only in the block, dropped from the head.
        3 => (minute < 10).then_some(-m),
        4 => Some(m * 0.25),
        _ => None,
    }
}

fn append_minutes(db: &Db, minutes: std::ops::Range<i64>) {
    let labels = all_series();
    for minute in minutes {
        let mut appender = db.appender();
        for (index, labels) in labels.iter().enumerate() {
            if let Some(v) = value(index, minute) {
                appender.append(labels, START + minute * MINUTE, v).expect("append");
            }
        }
        appender.commit().expect("commit");
    }
}

fn delete(db: &Db, (first, last): (i64, i64)) {
    let matchers = [Matcher::new(MatchOp::Equal, "job", "deleted").expect("matcher")];
    db.delete(&matchers, START + first * MINUTE, START + last * MINUTE).expect("delete");
}

/// The fixture the current code writes: `v3` (the WAL replaced by a snapshot of the head at
/// close, docs/format/wal.md).
const CURRENT_FIXTURE: &str = "v3";

/// Writes the fixture of the current format. Only for the format version the current code
/// writes, and only on request: the fixture must keep the bytes of the code that produced it.
#[test]
#[ignore = "writes testdata/compat/<version>; see the module documentation"]
fn generate_fixture() {
    if std::env::var("PANOPTES_WRITE_COMPAT_FIXTURE").as_deref() != Ok(CURRENT_FIXTURE) {
        panic!("set PANOPTES_WRITE_COMPAT_FIXTURE={CURRENT_FIXTURE} to write the fixture");
    }
    let dir = fixture_dir(CURRENT_FIXTURE);
    assert!(!dir.exists(), "{} exists; remove it first if you really mean to rewrite it", dir.display());
    // Smaller segments than the v1 fixture's: dense, compressed records fill 512 bytes slower,
    // and the fixture must hold several segments after its checkpoint.
    let db = Db::open(&dir, DbOptions { wal_segment_bytes: 256, ..options() }).expect("open");
    append_minutes(&db, 0..FIRST_PHASE_MINUTES);
    delete(&db, DELETIONS[0]);
    db.run_maintenance();
    assert_eq!(db.blocks().len(), 1, "one block cut from the head");
    append_minutes(&db, FIRST_PHASE_MINUTES..LAST_MINUTE - 1);
    delete(&db, DELETIONS[1]);
    delete(&db, DELETIONS[2]);
    append_minutes(&db, LAST_MINUTE - 1..LAST_MINUTE + 1);
    db.close().expect("close");
    drop(db);
    std::fs::remove_file(dir.join("lock")).expect("remove lock file");
}

fn fixture_dir(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/compat").join(version)
}

/// Returns every series with its samples as (time, value bits), as the fixture must read back.
fn expected() -> Vec<(Labels, Vec<(i64, u64)>)> {
    let mut expected: Vec<(Labels, Vec<(i64, u64)>)> = all_series()
        .into_iter()
        .enumerate()
        .map(|(index, labels)| {
            let is_deleted =
                |minute: i64| index == 4 && DELETIONS.iter().any(|(first, last)| (*first..=*last).contains(&minute));
            let samples = (0..=LAST_MINUTE)
                .filter(|minute| !is_deleted(*minute))
                .filter_map(|minute| value(index, minute).map(|v| (START + minute * MINUTE, v.to_bits())))
                .collect();
            (labels, samples)
        })
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    expected
}

fn read_back(db: &Db) -> Vec<(Labels, Vec<(i64, u64)>)> {
    query(db, i64::MIN, i64::MAX, &[])
        .into_iter()
        .map(|(labels, samples)| (labels, samples.iter().map(|s| (s.t, s.v.to_bits())).collect()))
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).expect("read dir").flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    names.sort();
    names
}

#[test]
fn v1_fixture_has_every_part_of_the_format() {
    has_every_part_of_the_format("v1");
}

#[test]
fn v2_fixture_has_every_part_of_the_format() {
    has_every_part_of_the_format("v2");
}

#[test]
fn v3_fixture_has_every_part_of_the_format() {
    let dir = fixture_dir("v3");
    let wal = names(&dir.join("wal"));
    assert!(wal.len() == 1 && wal[0].starts_with("checkpoint."), "only the snapshot: {wal:?}");
    let checkpoint = dir.join("wal").join(&wal[0]);
    assert_eq!(names(&checkpoint), vec!["00000000".to_owned()]);
    let types = frame_types(&std::fs::read(checkpoint.join("00000000")).expect("read snapshot"));
    // No series' newest sample was deleted and none has out-of-order samples: series and
    // chunks records only (tests/snapshot.rs covers the others).
    assert_eq!(types, vec![1, 5], "series and chunks records");
    let blocks: Vec<String> = names(&dir).into_iter().filter(|n| n != "wal").collect();
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert!(dir.join(&blocks[0]).join("tombstones").exists(), "the block has tombstones");
}

/// Returns the record type of every frame in a WAL file (docs/format/wal.md, "Frames").
fn frame_types(bytes: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    let mut at = 0;
    while at + 9 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes")) as usize;
        types.push(bytes[at + 8] & 0x7f);
        at += 9 + len;
    }
    assert_eq!(at, bytes.len(), "whole frames");
    types.sort_unstable();
    types.dedup();
    types
}

#[test]
fn v1_fixture_reads_back_exactly() {
    reads_back_exactly("v1");
}

#[test]
fn v2_fixture_reads_back_exactly() {
    reads_back_exactly("v2");
}

#[test]
fn v3_fixture_reads_back_exactly() {
    reads_back_exactly("v3");
}

#[test]
fn v1_fixture_accepts_new_writes_and_checkpoints() {
    accepts_new_writes_and_checkpoints("v1");
}

#[test]
fn v2_fixture_accepts_new_writes_and_checkpoints() {
    accepts_new_writes_and_checkpoints("v2");
}

#[test]
fn v3_fixture_accepts_new_writes_and_checkpoints() {
    accepts_new_writes_and_checkpoints("v3");
}

fn has_every_part_of_the_format(version: &str) {
    let dir = fixture_dir(version);
    let wal = names(&dir.join("wal"));
    let checkpoints: Vec<&String> = wal.iter().filter(|n| n.starts_with("checkpoint.")).collect();
    assert_eq!(checkpoints.len(), 1, "{wal:?}");
    assert!(wal.iter().filter(|n| n.len() == 8).count() >= 2, "several segments after the checkpoint: {wal:?}");
    let blocks: Vec<String> = names(&dir).into_iter().filter(|n| n != "wal").collect();
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    assert!(dir.join(&blocks[0]).join("tombstones").exists(), "the block has tombstones");
}

fn reads_back_exactly(version: &str) {
    let copy = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture_dir(version), copy.path());
    let db = Db::open(copy.path(), options()).expect("open fixture");
    assert_eq!(db.metrics().wal_corruptions.get(), 0);
    assert_eq!(db.metrics().wal_unknown_series_samples.get(), 0);
    assert_eq!(read_back(&db), expected());
    assert_eq!(db.blocks().len(), 1);
    assert_eq!(db.head_series_count(), 4, "compat_gone was dropped from the head at the cut");
}

fn accepts_new_writes_and_checkpoints(version: &str) {
    let copy = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture_dir(version), copy.path());
    let db = Db::open(copy.path(), options()).expect("open fixture");
    // Old and new records in one log, then a checkpoint that rewrites the old ones.
    let extra = series("compat_after", &[("job", "new")]);
    let mut appender = db.appender();
    for minute in LAST_MINUTE + 1..LAST_MINUTE + 30 {
        appender.append(&extra, START + minute * MINUTE, minute as f64 / 8.0).expect("append");
    }
    appender.commit().expect("commit");
    db.run_maintenance();
    assert!(db.blocks().len() >= 2, "a second block was cut: {:?}", db.blocks());
    let mut want = expected();
    want.push((
        extra,
        (LAST_MINUTE + 1..LAST_MINUTE + 30).map(|m| (START + m * MINUTE, (m as f64 / 8.0).to_bits())).collect(),
    ));
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(read_back(&db), want);
    db.close().expect("close");
    drop(db);
    let db = Db::open(copy.path(), options()).expect("reopen");
    assert_eq!(db.metrics().wal_corruptions.get(), 0);
    assert_eq!(read_back(&db), want);
}
