//! The storage conformance suite against the real database on disk, also across restarts.

use std::time::Duration;

use panoptes_storage::{Appender, Querier, Storage};
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

/// A database in a temporary directory that is removed when the database is dropped.
struct TempDb {
    db: Db,
    _dir: tempfile::TempDir,
}

impl Storage for TempDb {
    fn appender(&self) -> Box<dyn Appender> {
        self.db.appender()
    }
    fn querier(&self, mint: i64, maxt: i64) -> panoptes_storage::Result<Box<dyn Querier>> {
        self.db.querier(mint, maxt)
    }
}

fn options() -> DbOptions {
    DbOptions { maintenance_interval: Duration::from_secs(3600), wal_fsync: FsyncPolicy::Never, ..DbOptions::default() }
}

#[test]
fn db_passes_the_storage_conformance_suite() {
    panoptes_storage::testsuite::run(&|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), options()).expect("open");
        Box::new(TempDb { db, _dir: dir })
    });
}

/// The same checks, but every query runs on a database reopened from its WAL and, where the
/// data spans enough time, from blocks cut from the head.
#[test]
fn db_passes_the_conformance_suite_after_reopen_and_compaction() {
    struct Reopening {
        dir: tempfile::TempDir,
        db: parking_lot::Mutex<Option<Db>>,
    }
    impl Reopening {
        fn reopen(&self) -> Db {
            let mut slot = self.db.lock();
            if let Some(db) = slot.take() {
                db.close().expect("close");
            }
            let db = Db::open(self.dir.path(), DbOptions { block_range: Duration::from_secs(60), ..options() })
                .expect("reopen");
            db.run_maintenance();
            *slot = Some(db.clone());
            db
        }
    }
    impl Storage for Reopening {
        fn appender(&self) -> Box<dyn Appender> {
            let db = self.db.lock().clone().expect("open");
            db.appender()
        }
        fn querier(&self, mint: i64, maxt: i64) -> panoptes_storage::Result<Box<dyn Querier>> {
            self.reopen().querier(mint, maxt)
        }
    }
    panoptes_storage::testsuite::run(&|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), DbOptions { block_range: Duration::from_secs(60), ..options() }).expect("open");
        Box::new(Reopening { dir, db: parking_lot::Mutex::new(Some(db)) })
    });
}

#[test]
fn second_process_cannot_open_a_locked_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _db = Db::open(dir.path(), options()).expect("open");
    let error = Db::open(dir.path(), options()).err().expect("second open fails");
    assert!(error.to_string().contains("lock"), "{error}");
    // Read-only tools still work.
    let reader = Db::open_read_only(dir.path(), options()).expect("read-only open");
    let querier = reader.querier(0, 1).expect("querier");
    assert!(querier.select(&[]).expect("select").next().is_none());
}
