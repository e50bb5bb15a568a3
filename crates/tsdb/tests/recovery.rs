//! WAL files truncated or corrupted at random offsets: the database must open, keep every
//! commit either whole or not at all, lose only what the damage covered, and count it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use panoptes_model::Labels;
use panoptes_storage::Storage;
use panoptes_storage::testsuite::{query, series};
use panoptes_test_util::SeededRng;
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

const SERIES: usize = 5;
const COMMITS: i64 = 300;

fn options() -> DbOptions {
    DbOptions {
        maintenance_interval: Duration::from_secs(3600),
        wal_fsync: FsyncPolicy::Never,
        // Small segments so that the log has many: a commit of five samples takes about 35 bytes.
        wal_segment_bytes: 1024,
        // The log as written: these tests damage its segments.
        snapshot_on_close: false,
        ..DbOptions::default()
    }
}

fn all_series() -> Vec<Labels> {
    (0..SERIES).map(|i| series("m", &[("i", &i.to_string())])).collect()
}

/// Writes `COMMITS` commits, each one sample per series at `t = commit * 1000`.
fn write_commits(dir: &Path) {
    let db = Db::open(dir, options()).expect("open");
    for commit in 0..COMMITS {
        let mut appender = db.appender();
        for labels in all_series() {
            appender.append(&labels, commit * 1000, commit as f64).expect("append");
        }
        appender.commit().expect("commit");
    }
    db.close().expect("close");
}

/// Returns, per commit, how many of its samples are readable.
fn present_commits(db: &Db) -> Vec<usize> {
    let mut counts = vec![0usize; COMMITS as usize];
    for (_, samples) in query(db, 0, COMMITS * 1000 - 1, &[]) {
        for sample in samples {
            assert_eq!(sample.v, (sample.t / 1000) as f64, "value belongs to its commit");
            counts[(sample.t / 1000) as usize] += 1;
        }
    }
    counts
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| n.len() == 8) && std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false)
        })
        .collect();
    files.sort();
    files
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[test]
fn damaged_wal_recovers_whole_commits() {
    let (mut rng, seed) = SeededRng::from_env_or_time("damaged_wal_recovers_whole_commits");
    let pristine = tempfile::tempdir().expect("tempdir");
    write_commits(pristine.path());
    let files = segments(pristine.path());
    assert!(files.len() > 5, "the test needs several segments, got {}", files.len());
    for round in 0..24 {
        let work = tempfile::tempdir().expect("tempdir");
        copy_dir(pristine.path(), work.path());
        let files = segments(work.path());
        // Leave the first segment alone: it defines the series every later sample refers to.
        let index = 1 + rng.below(files.len() as u64 - 1) as usize;
        let target = &files[index];
        let is_last = index == files.len() - 1;
        let len = std::fs::metadata(target).expect("meta").len();
        let offset = rng.below(len);
        let truncate = rng.below(2) == 0;
        if truncate {
            std::fs::OpenOptions::new().write(true).open(target).expect("open").set_len(offset).expect("truncate");
        } else {
            let mut bytes = std::fs::read(target).expect("read");
            bytes[offset as usize] ^= 0x5a;
            std::fs::write(target, bytes).expect("write");
        }
        let context = format!(
            "seed {seed}, round {round}, segment {index}/{}, offset {offset}/{len}, truncate {truncate}",
            files.len()
        );

        let db = Db::open(work.path(), options()).unwrap_or_else(|e| panic!("open failed: {e}; {context}"));
        let counts = present_commits(&db);
        assert!(counts.iter().all(|&c| c == 0 || c == SERIES), "a commit is partly present: {counts:?}; {context}");
        let missing: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] == 0).collect();
        if truncate && is_last {
            // A torn tail: exactly a prefix of the commits survives.
            if let Some(&first) = missing.first() {
                assert_eq!(missing, (first..COMMITS as usize).collect::<Vec<_>>(), "not a prefix; {context}");
            }
        } else {
            // Damage inside the log costs a contiguous run of commits, never everything after it.
            if let (Some(&first), Some(&last)) = (missing.first(), missing.last()) {
                assert_eq!(missing.len(), last - first + 1, "missing commits not contiguous: {missing:?}; {context}");
                assert!(counts[COMMITS as usize - 1] == SERIES || is_last, "later segments were lost; {context}");
            }
            if !truncate {
                let metrics = db.metrics();
                assert!(
                    metrics.wal_corruptions.get() + metrics.wal_dropped_bytes.get() > 0,
                    "damage not counted; {context}"
                );
            }
        }
        assert!(missing.len() < COMMITS as usize / 2, "too much lost ({}); {context}", missing.len());

        // The repaired log opens cleanly, keeps the same data and accepts new commits.
        let mut appender = db.appender();
        for labels in all_series() {
            appender.append(&labels, COMMITS * 1000 + 500, 1.0).expect("append after recovery");
        }
        appender.commit().expect("commit after recovery");
        db.close().expect("close");
        drop(db);
        let db = Db::open(work.path(), options()).expect("reopen after repair");
        assert_eq!(db.metrics().wal_corruptions.get(), 0, "repair left damage behind; {context}");
        let again = present_commits(&db);
        assert_eq!(again, counts, "data changed between the repairing open and the next; {context}");
        assert_eq!(query(&db, COMMITS * 1000 + 500, COMMITS * 1000 + 500, &[]).len(), SERIES, "{context}");
    }
}

#[test]
fn acknowledged_samples_survive_a_process_crash_without_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Db::open(dir.path(), options()).expect("open");
        let mut appender = db.appender();
        appender.append(&series("m", &[]), 1000, 1.0).expect("append");
        appender.commit().expect("commit");
        // Simulate a crash: the directory lock is released with the file, but no close runs.
        std::mem::forget(db);
    }
    // The forgotten handle still holds the lock in this process; a real crash frees it. Read
    // the directory the way tools do.
    let reader = Db::open_read_only(dir.path(), options()).expect("read-only open");
    assert_eq!(query(&reader, 0, 2000, &[]).len(), 1);
}
