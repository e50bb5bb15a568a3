//! Engine behaviour a user relies on: out-of-order windows, too-old samples, block cutting and
//! compaction levels, retention by time and size, deletion in blocks.

use std::time::Duration;

use panoptes_model::{Labels, MatchOp, Matcher};
use panoptes_storage::testsuite::{query, series};
use panoptes_storage::{Error, Storage};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const MINUTE: i64 = 60_000;

fn options() -> DbOptions {
    DbOptions {
        block_range: Duration::from_secs(600),
        maintenance_interval: Duration::from_secs(3600),
        wal_fsync: FsyncPolicy::Never,
        retention: Duration::from_secs(365 * 86_400),
        ..DbOptions::default()
    }
}

/// Appends one sample per series per minute from `from` to `to` minutes.
fn fill(db: &Db, series_count: usize, from: i64, to: i64) {
    for minute in from..to {
        let mut appender = db.appender();
        for i in 0..series_count {
            appender.append(&series("m", &[("i", &i.to_string())]), minute * MINUTE, minute as f64).expect("append");
        }
        appender.commit().expect("commit");
    }
}

#[test]
fn out_of_order_samples_inside_the_window_are_stored_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        Db::open(dir.path(), DbOptions { out_of_order_window: Duration::from_secs(30 * 60), ..options() }).unwrap();
    let labels = series("m", &[]);
    let mut appender = db.appender();
    for minute in [10, 20, 30] {
        appender.append(&labels, minute * MINUTE, minute as f64).unwrap();
    }
    appender.commit().unwrap();
    let mut appender = db.appender();
    appender.append(&labels, 15 * MINUTE, 15.0).expect("inside the window");
    appender.append(&labels, 25 * MINUTE, 25.0).expect("inside the window");
    let too_old = appender.append(&labels, -5 * MINUTE, 0.0);
    assert!(matches!(too_old, Err(Error::TooOld { .. })), "{too_old:?}");
    let message = too_old.unwrap_err().to_string();
    assert!(message.contains("too old") && message.contains("m{}"), "{message}");
    appender.commit().unwrap();
    let got: Vec<i64> = query(&db, 0, i64::MAX, &[]).remove(0).1.iter().map(|s| s.t / MINUTE).collect();
    assert_eq!(got, vec![10, 15, 20, 25, 30]);
    assert_eq!(db.metrics().out_of_order_appended.get(), 2);
    // They survive a restart through the WAL.
    db.close().unwrap();
    drop(db);
    let db =
        Db::open(dir.path(), DbOptions { out_of_order_window: Duration::from_secs(30 * 60), ..options() }).unwrap();
    let got: Vec<i64> = query(&db, 0, i64::MAX, &[]).remove(0).1.iter().map(|s| s.t / MINUTE).collect();
    assert_eq!(got, vec![10, 15, 20, 25, 30]);
}

#[test]
fn out_of_order_samples_for_a_range_already_in_a_block_go_to_a_new_block() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions { out_of_order_window: Duration::from_secs(3600), ..options() }).unwrap();
    fill(&db, 3, 0, 40);
    db.run_maintenance();
    assert!(!db.blocks().is_empty(), "head was cut: {:?}", db.blocks());
    let first_block_end = db.blocks()[0].2;
    // A late sample inside the first block's range (at 30s past a minute, so it is new).
    let late = first_block_end - 5 * MINUTE + 30_000;
    let mut appender = db.appender();
    appender.append(&series("m", &[("i", "0")]), late, -1.0).expect("late sample inside the window");
    appender.commit().unwrap();
    let has_late = |db: &Db| query(db, late, late, &[]).len() == 1;
    assert!(has_late(&db), "readable from the head");
    fill(&db, 3, 40, 60);
    db.run_maintenance();
    assert!(has_late(&db), "readable after it moved to a block");
    db.close().unwrap();
    drop(db);
    let db = Db::open(dir.path(), options()).unwrap();
    assert!(has_late(&db), "readable after restart");
    let samples = query(&db, 0, i64::MAX, &[Matcher::equal("i", "0")]).remove(0).1;
    assert!(samples.windows(2).all(|w| w[0].t < w[1].t), "merged in order without duplicates");
    assert_eq!(samples.len(), 61);
}

#[test]
fn in_order_appends_far_behind_the_newest_sample_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let mut appender = db.appender();
    appender.append(&series("a", &[]), 60 * MINUTE, 1.0).unwrap();
    appender.commit().unwrap();
    let mut appender = db.appender();
    // Half a block range (5 minutes) behind the newest sample is the limit.
    appender.append(&series("b", &[]), 56 * MINUTE, 1.0).expect("within half a block range");
    let result = appender.append(&series("c", &[]), 50 * MINUTE, 1.0);
    assert!(matches!(result, Err(Error::TooOld { .. })), "{result:?}");
}

#[test]
fn a_commit_that_makes_the_head_compactable_wakes_compaction_at_once() {
    // The periodic maintenance runs once an hour here; only the commit's wake-up can cut blocks
    // within the test's time.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    fill(&db, 10, 0, 16);
    std::thread::sleep(Duration::from_millis(300));
    assert!(db.blocks().is_empty(), "minutes 0 to 15 are not more than 1.5 block ranges");
    // Minute 16 takes the head past 1.5 ranges: the first 10-minute block is cut.
    fill(&db, 10, 16, 17);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while db.blocks().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no block was cut after the commit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let blocks = db.blocks();
    assert_eq!(blocks.iter().map(|(_, min, max)| (*min, *max)).collect::<Vec<_>>(), [(0, 10 * MINUTE)]);
    // The head no longer holds the block's samples, not even in chunks reaching past it.
    let (head_min, _) = db.head_time_range().unwrap();
    assert_eq!(head_min, 10 * MINUTE);
    assert_eq!(query(&db, 0, i64::MAX, &[]).iter().map(|(_, s)| s.len()).collect::<Vec<_>>(), [17; 10]);
    // Closing stops the woken thread promptly.
    let started = std::time::Instant::now();
    db.close().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5), "close took {:?}", started.elapsed());
}

#[test]
fn a_querier_opened_before_a_head_compaction_still_reads_the_compacted_range() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    fill(&db, 10, 0, 16);
    // This querier knows no block; the range about to be cut must stay readable in the head
    // until it is dropped.
    let querier = db.querier(0, i64::MAX).unwrap();
    fill(&db, 10, 16, 17);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while db.blocks().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no block was cut after the commit");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let matcher = Matcher::new(MatchOp::Equal, "__name__", "m").unwrap();
    let mut series_read = 0;
    for series in querier.select(&[matcher]).unwrap() {
        let mut series = series.unwrap();
        let times: Vec<i64> = panoptes_storage::collect_samples(series.samples.as_mut()).iter().map(|s| s.t).collect();
        assert_eq!(times[..16], (0..16).map(|m| m * MINUTE).collect::<Vec<_>>()[..], "{}", series.labels);
        series_read += 1;
    }
    assert_eq!(series_read, 10);
    assert_eq!(db.head_time_range().unwrap().0, 0, "the head is not truncated while the querier is open");
    drop(querier);
    while db.head_time_range().unwrap().0 < 10 * MINUTE {
        assert!(std::time::Instant::now() < deadline, "the head was not truncated after the querier closed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(query(&db, 0, i64::MAX, &[]).iter().map(|(_, s)| s.len()).collect::<Vec<_>>(), [17; 10]);
}

#[test]
fn head_is_cut_into_blocks_that_compact_into_larger_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    fill(&db, 10, 0, 100);
    db.run_maintenance();
    let blocks = db.blocks();
    // 10-minute blocks merge into 30- and 90-minute ones once the head has moved past them.
    assert!(blocks.iter().any(|(_, min, max)| max - min == 90 * MINUTE), "{blocks:?}");
    for pair in blocks.windows(2) {
        assert!(pair[0].2 <= pair[1].1, "blocks overlap: {blocks:?}");
    }
    let result = query(&db, 0, i64::MAX, &[]);
    assert_eq!(result.len(), 10);
    assert!(result.iter().all(|(_, samples)| samples.len() == 100));
    assert!(db.head_series_count() <= 10);
    let (head_min, _) = db.head_time_range().unwrap();
    assert!(head_min >= 80 * MINUTE, "head keeps only recent data: {head_min}");
}

/// Writes 30 minutes of 1,500 series `m{i}`, and of the `old` series in the first 5 minutes and
/// the `new` ones in the last 5, cuts blocks, and checks that a select of them all returns each
/// series once, in label order, with the minutes it was written in.
fn check_select_merges_blocks_and_head(old: &[Labels], new: &[Labels]) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    for minute in 0..30 {
        let mut appender = db.appender();
        let t = minute * MINUTE;
        let mut append = |labels: &Labels| appender.append(labels, t, minute as f64).expect("append");
        for i in 0..1500 {
            append(&series("m", &[("i", &format!("{i:04}"))]));
        }
        if minute < 5 {
            old.iter().for_each(&mut append);
        }
        if minute >= 25 {
            new.iter().for_each(&mut append);
        }
        appender.commit().expect("commit");
    }
    db.run_maintenance();
    assert!(!db.blocks().is_empty());
    let matchers = [Matcher::new(MatchOp::NotEqual, "i", "").unwrap()];
    let result = query(&db, 0, i64::MAX, &matchers);
    assert_eq!(result.len(), 1500 + old.len() + new.len());
    assert!(result.windows(2).all(|pair| pair[0].0 < pair[1].0), "sorted and unique");
    for (labels, samples) in &result {
        let minutes: Vec<i64> = samples.iter().map(|sample| sample.t / MINUTE).collect();
        let want: Vec<i64> = if old.contains(labels) {
            (0..5).collect()
        } else if new.contains(labels) {
            (25..30).collect()
        } else {
            (0..30).collect()
        };
        assert_eq!(minutes, want, "{labels:?}");
        assert!(samples.iter().all(|sample| sample.v == (sample.t / MINUTE) as f64));
    }
}

#[test]
fn a_select_of_many_series_merges_blocks_and_head_in_label_order() {
    // 300 series only in blocks, 200 only in the head: the blocks hold enough matching series
    // for the select to decode them on a worker and merge in parallel.
    let old: Vec<Labels> = (0..300).map(|i| series("o", &[("i", &format!("{i:04}"))])).collect();
    let new: Vec<Labels> = (0..200).map(|i| series("n", &[("i", &format!("{i:04}"))])).collect();
    check_select_merges_blocks_and_head(&old, &new);
}

#[test]
fn a_select_of_many_series_merges_blocks_into_a_larger_head_in_label_order() {
    // 100 series only in blocks, 600 only in the head (interleaved with the others): the head
    // holds more series than any block, so the merge cuts its list and compares the blocks'
    // series in their index.
    let old: Vec<Labels> = (0..100).map(|i| series("m", &[("i", &format!("{i:04}")), ("x", "old")])).collect();
    let new: Vec<Labels> = (0..600)
        .map(|i| series("m", &[("i", &format!("{:04}", i * 2)), ("y", if i % 2 == 0 { "a" } else { "z" })]))
        .collect();
    check_select_merges_blocks_and_head(&old, &new);
}

#[test]
fn retention_by_time_removes_whole_old_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions { retention: Duration::from_secs(40 * 60), ..options() }).unwrap();
    fill(&db, 2, 0, 120);
    db.run_maintenance();
    let blocks = db.blocks();
    assert!(!blocks.is_empty());
    assert!(blocks.iter().all(|(_, _, max)| *max > 119 * MINUTE - 40 * MINUTE), "{blocks:?}");
    let oldest = query(&db, 0, i64::MAX, &[]).remove(0).1[0].t;
    assert!(oldest >= 60 * MINUTE, "old data removed, oldest sample at minute {}", oldest / MINUTE);
}

#[test]
fn retention_by_size_removes_oldest_blocks_first() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), DbOptions { retention_bytes: Some(64 << 10), ..options() }).unwrap();
    fill(&db, 50, 0, 240);
    db.run_maintenance();
    let blocks = db.blocks();
    assert!(!blocks.is_empty());
    let total: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| dir_size(&e.path()))
        .sum();
    assert!(total <= 64 << 10, "data directory {total} bytes over the limit; blocks {blocks:?}");
    let newest = query(&db, 0, i64::MAX, &[]).remove(0).1.last().unwrap().t;
    assert_eq!(newest, 239 * MINUTE, "the newest data stays");
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .unwrap()
        .flatten()
        .map(|e| if e.path().is_dir() { dir_size(&e.path()) } else { e.metadata().unwrap().len() })
        .sum()
}

#[test]
fn deletion_hides_block_data_and_clean_tombstones_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    fill(&db, 3, 0, 60);
    db.run_maintenance();
    let matchers = [Matcher::new(MatchOp::Regex, "i", "0|1").unwrap()];
    db.delete(&matchers, 5 * MINUTE, 44 * MINUTE).unwrap();
    let check = |db: &Db| {
        let result = query(db, 0, i64::MAX, &[]);
        let lengths: Vec<usize> = result.iter().map(|(_, s)| s.len()).collect();
        assert_eq!(lengths, vec![20, 20, 60]);
    };
    check(&db);
    let blocks_before = db.blocks();
    db.clean_tombstones().unwrap();
    check(&db);
    assert_ne!(db.blocks(), blocks_before, "blocks with tombstones were rewritten");
    db.close().unwrap();
    drop(db);
    check(&Db::open(dir.path(), options()).unwrap());
}
