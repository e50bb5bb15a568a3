//! The database: a head with its WAL plus the blocks in a data directory, behind the storage
//! traits. Owns the background work (WAL syncs, head compaction, block compaction, retention).

mod compact;
mod options;
mod read;
mod stats;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use panoptes_model::Matcher;
use panoptes_storage::{Appender, Querier, Storage};
use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use tracing::{error, info, warn};

pub use options::DbOptions;
pub use stats::HeadCardinality;

use crate::block::Block;
use crate::error::{Error, Result};
use crate::head::{ChunkStore, HEAD_CHUNKS_DIR, Head, HeadAppender, HeadOptions};
use crate::metrics::TsdbMetrics;
use crate::wal::{self, FrameBuffer, Tombstone, Wal, WalHold, WalPosition, push_tombstones};

const WAL_DIR: &str = "wal";
const LOCK_FILE: &str = "lock";

/// The metrics database in one data directory. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

pub(crate) struct DbInner {
    pub(crate) dir: PathBuf,
    pub(crate) options: DbOptions,
    pub(crate) head: Arc<Head>,
    /// `None` when opened read-only.
    pub(crate) wal: Option<Arc<Wal>>,
    /// Open blocks sorted by minimum time.
    pub(crate) blocks: RwLock<Vec<Arc<Block>>>,
    pub(crate) metrics: Arc<TsdbMetrics>,
    /// Serialises compactions, retention and deletions.
    pub(crate) maintenance: Mutex<()>,
    is_closed: AtomicBool,
    /// Wakes the maintenance thread (see `start_background`).
    wake: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    background: Mutex<Option<std::thread::JoinHandle<()>>>,
    _lock: Option<File>,
}

impl Db {
    /// Opens (creating if needed) the database in `dir`: loads blocks, replays the WAL with
    /// progress logs, repairs damaged WAL files, and starts background maintenance.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory cannot be created or locked (another process uses
    /// it), or a file cannot be read. Damaged WAL data and unreadable blocks are logged,
    /// counted and set aside, never a reason to refuse to start.
    pub fn open(dir: &Path, options: DbOptions) -> Result<Db> {
        Self::open_with(dir, options, false)
    }

    /// Opens the database for reading only, without locking it, repairing anything or starting
    /// background work, so that tools can inspect a directory a server is using.
    ///
    /// # Errors
    ///
    /// Returns an error when a file cannot be read.
    pub fn open_read_only(dir: &Path, options: DbOptions) -> Result<Db> {
        Self::open_with(dir, options, true)
    }

    fn open_with(dir: &Path, options: DbOptions, read_only: bool) -> Result<Db> {
        let lock = if read_only {
            None
        } else {
            std::fs::create_dir_all(dir).map_err(Error::io("create data directory", dir))?;
            let path = dir.join(LOCK_FILE);
            let file = File::create(&path).map_err(Error::io("create", &path))?;
            file.try_lock().map_err(|e| {
                Error::io("lock (is another panoptes using this directory?)", &path)(std::io::Error::other(
                    e.to_string(),
                ))
            })?;
            Some(file)
        };
        let metrics = Arc::new(TsdbMetrics::default());
        let blocks = compact::load_blocks(dir, read_only, &metrics)?;
        let head_options = HeadOptions {
            out_of_order_window_ms: options.out_of_order_window.as_millis() as i64,
            block_range_ms: options.block_range_ms(),
        };
        let chunk_store = if read_only {
            ChunkStore::memory()
        } else {
            let chunk_dir = dir.join(HEAD_CHUNKS_DIR);
            ChunkStore::open(&chunk_dir).unwrap_or_else(|error| {
                warn!(error = %error, "closed head chunks stay in memory");
                ChunkStore::memory()
            })
        };
        let head = Arc::new(Head::new(head_options, metrics.clone(), chunk_store));
        if let Some(max) = blocks.iter().map(|b| b.meta.max_time).max() {
            head.min_valid_time.store(max, Ordering::Relaxed);
        }
        let wal_dir = dir.join(WAL_DIR);
        let mut replayer = crate::head::Replayer::new(&head);
        let stats = wal::replay_with(&wal_dir, !read_only, &mut |record| replayer.apply(record))?;
        head.remove_unused_series();
        metrics.wal_corruptions.inc_by(stats.corruptions);
        metrics.wal_dropped_bytes.inc_by(stats.corrupt_bytes + stats.torn_bytes);
        if stats.corruptions > 0 {
            error!(
                regions = stats.corruptions,
                bytes = stats.corrupt_bytes,
                "wal had corrupt regions; their records were lost, the rest was replayed"
            );
        }
        let wal = if read_only {
            None
        } else {
            let wal = Wal::open(&wal_dir, options.wal_segment_bytes, options.wal_fsync)?;
            wal.configure_holds(
                options.max_wal_hold_bytes,
                metrics.wal_hold_dropped_segments.clone(),
                metrics.wal_hold_dropped_bytes.clone(),
            );
            Some(Arc::new(wal))
        };
        let inner = Arc::new(DbInner {
            dir: dir.to_owned(),
            options,
            head,
            wal,
            blocks: RwLock::new(blocks),
            metrics,
            maintenance: Mutex::new(()),
            is_closed: AtomicBool::new(false),
            wake: Mutex::new(None),
            background: Mutex::new(None),
            _lock: lock,
        });
        inner.update_size_metrics();
        let db = Db { inner };
        if !read_only {
            db.start_background();
        }
        info!(dir = %dir.display(), series = db.inner.head.series_count(), blocks = db.inner.blocks.read().len(), "tsdb opened");
        Ok(db)
    }

    fn start_background(&self) {
        // One channel wakes the thread: `close` (then `is_closed` is set) and the head, when a
        // commit made it compactable.
        let (wake_sender, wake) = std::sync::mpsc::channel::<()>();
        let _ = self.inner.head.wake_maintenance.set(wake_sender.clone());
        let inner = Arc::downgrade(&self.inner);
        let tick = match self.inner.options.wal_fsync {
            wal::FsyncPolicy::Interval(interval) => interval.min(self.inner.options.maintenance_interval),
            _ => self.inner.options.maintenance_interval,
        }
        .max(Duration::from_millis(10));
        let maintenance_every = self.inner.options.maintenance_interval;
        let handle = std::thread::Builder::new()
            .name("tsdb-maintenance".to_owned())
            .spawn(move || {
                let mut last_maintenance = Instant::now();
                loop {
                    let woken = match wake.recv_timeout(tick) {
                        Ok(()) => true,
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    };
                    let Some(inner) = inner.upgrade() else { return };
                    if inner.is_closed.load(Ordering::SeqCst) {
                        return;
                    }
                    if let Some(wal) = &inner.wal
                        && let Err(error) = wal.sync()
                    {
                        error!(error = %error, "wal sync failed");
                    }
                    if woken || last_maintenance.elapsed() >= maintenance_every {
                        last_maintenance = Instant::now();
                        inner.run_maintenance();
                    }
                }
            })
            .expect("spawn maintenance thread");
        *self.inner.wake.lock() = Some(wake_sender);
        *self.inner.background.lock() = Some(handle);
    }

    /// Registers the engine's self-metrics.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.inner.metrics.register(registry);
    }

    /// Returns the engine's self-metrics.
    pub fn metrics(&self) -> &TsdbMetrics {
        &self.inner.metrics
    }

    /// Stops background work, closes the WAL and, unless [`DbOptions::snapshot_on_close`] is
    /// off, replaces the WAL by a snapshot of the head (docs/format/wal.md). Appends fail
    /// afterwards, also those of appenders opened before; a commit that was logged before is
    /// part of the snapshot.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the final sync or the snapshot fails; the WAL then still holds
    /// every acknowledged sample.
    pub fn close(&self) -> Result<()> {
        if self.inner.is_closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(wake) = self.inner.wake.lock().take() {
            let _ = wake.send(());
        }
        if let Some(handle) = self.inner.background.lock().take() {
            let _ = handle.join();
        }
        if let Some(wal) = &self.inner.wal {
            // Commits logged before are in the head once this returns; later ones fail.
            let last = wal.close_writer()?;
            if self.inner.options.snapshot_on_close {
                let started = Instant::now();
                let mut stats = None;
                let records = wal.write_checkpoint(last, |sink| {
                    stats = Some(self.inner.head.write_snapshot(sink)?);
                    Ok(())
                })?;
                if let Some(stats) = stats {
                    info!(
                        series = stats.series,
                        chunks = stats.chunks,
                        records,
                        wal_bytes = wal.size_bytes(),
                        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
                        "wrote the head as the wal's checkpoint"
                    );
                }
            }
        }
        // A cache of what the WAL (and its checkpoint) holds.
        self.inner.head.chunk_store.remove_files();
        info!(dir = %self.inner.dir.display(), "tsdb closed");
        Ok(())
    }

    /// Runs head compaction, block compaction and retention once, now.
    pub fn run_maintenance(&self) {
        self.inner.run_maintenance();
    }

    /// Returns the ids and time ranges (`[min, max)`) of the open blocks, oldest first.
    pub fn blocks(&self) -> Vec<(String, i64, i64)> {
        self.inner.blocks.read().iter().map(|b| (b.meta.ulid.clone(), b.meta.min_time, b.meta.max_time)).collect()
    }

    /// Returns the number of series in the head.
    pub fn head_series_count(&self) -> usize {
        self.inner.head.series_count()
    }

    /// Returns the head's `(min, max)` sample times, if it holds any.
    pub fn head_time_range(&self) -> Option<(i64, i64)> {
        self.inner.head.time_range()
    }

    /// Returns the data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Returns the WAL directory, for [`wal::Tail`] readers.
    pub fn wal_dir(&self) -> PathBuf {
        self.inner.dir.join(WAL_DIR)
    }

    /// Returns the position after the last record written to the WAL; `None` when read-only.
    pub fn wal_position(&self) -> Option<WalPosition> {
        self.inner.wal.as_ref().map(|wal| wal.position())
    }

    /// Registers a WAL consumer that needs the segments from `needed_from` on: checkpoints keep
    /// them (up to [`DbOptions::max_wal_hold_bytes`]) until the hold moves on or is dropped.
    /// `None` when read-only.
    pub fn hold_wal(&self, needed_from: u32) -> Option<WalHold> {
        self.inner.wal.as_ref().map(|wal| wal.hold(needed_from))
    }

    /// Deletes the samples of matching series that exist now in `[mint, maxt]`: removed from
    /// the head at once (and logged to the WAL, so replay removes them at the same point),
    /// hidden in blocks by tombstone files until compaction or [`Db::clean_tombstones`] drops
    /// them. Samples appended later, even inside the range, are not affected.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when a tombstone cannot be written.
    pub fn delete(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<()> {
        let _guard = self.inner.maintenance.lock();
        let head = &self.inner.head;
        let ids = crate::head::head_postings_for_matchers(head, matchers);
        let tombstones: Vec<Tombstone> = ids.iter().map(|&id| Tombstone { id, mint, maxt }).collect();
        if let Some(wal) = &self.inner.wal
            && !tombstones.is_empty()
        {
            let mut frames = FrameBuffer::default();
            push_tombstones(&mut frames, &tombstones);
            wal.log(&frames, i64::MIN)?;
        }
        for id in ids {
            if let Some(series) = head.series_by_id(id) {
                series.data.lock().delete_range(mint, maxt, head.options.block_range_ms, &head.chunk_store);
            }
        }
        for block in self.inner.blocks.read().iter() {
            if block.meta.max_time <= mint || block.meta.min_time > maxt {
                continue;
            }
            let references = crate::postings::postings_for_matchers(&**block, matchers);
            if references.is_empty() {
                continue;
            }
            let mut stones = block.tombstones.write();
            for reference in references {
                stones.entry(reference).or_default().push((mint, maxt));
            }
            crate::block::tombstones::write(&block.dir, &stones)?;
        }
        Ok(())
    }

    /// Rewrites every block that has tombstones without the deleted data.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when a block cannot be written or removed.
    pub fn clean_tombstones(&self) -> Result<()> {
        let _guard = self.inner.maintenance.lock();
        let with_tombstones: Vec<Arc<Block>> =
            self.inner.blocks.read().iter().filter(|b| !b.tombstones.read().is_empty()).cloned().collect();
        for block in with_tombstones {
            self.inner.compact_blocks(&[block])?;
        }
        Ok(())
    }
}

impl DbInner {
    fn run_maintenance(&self) {
        let _guard = self.maintenance.lock();
        if self.is_closed.load(Ordering::SeqCst) {
            return;
        }
        if let Err(error) = self.compact_head() {
            self.metrics.compactions_failed.inc();
            error!(error = %error, "head compaction failed");
        }
        if let Err(error) = self.compact_planned_blocks() {
            self.metrics.compactions_failed.inc();
            error!(error = %error, "block compaction failed");
        }
        if let Err(error) = self.apply_retention() {
            warn!(error = %error, "retention failed");
        }
        if let Some(wal) = &self.wal
            && let Err(error) = wal.remove_replaced_segments()
        {
            warn!(error = %error, "removing released wal segments failed");
        }
        self.update_size_metrics();
    }

    fn update_size_metrics(&self) {
        let blocks = self.blocks.read();
        self.metrics.blocks_loaded.set(blocks.len() as i64);
        self.metrics.blocks_bytes.set(blocks.iter().map(|b| b.size_bytes as i64).sum());
        if let Some(wal) = &self.wal {
            self.metrics.wal_bytes.set(wal.size_bytes() as i64);
        }
    }
}

impl Drop for DbInner {
    fn drop(&mut self) {
        if let Some(wal) = &self.wal {
            let _ = wal.sync();
        }
    }
}

impl Storage for Db {
    fn appender(&self) -> Box<dyn Appender> {
        if self.inner.is_closed.load(Ordering::SeqCst) || self.inner.wal.is_none() {
            return Box::new(ClosedAppender);
        }
        Box::new(HeadAppender::new(self.inner.head.clone(), self.inner.wal.clone()))
    }

    fn querier(&self, mint: i64, maxt: i64) -> panoptes_storage::Result<Box<dyn Querier>> {
        Ok(Box::new(read::DbQuerier::new(&self.inner, mint, maxt)))
    }
}

/// The appender of a closed or read-only database.
struct ClosedAppender;

impl Appender for ClosedAppender {
    fn append(&mut self, _: &panoptes_model::Labels, _: i64, _: f64) -> panoptes_storage::Result<()> {
        Err(panoptes_storage::Error::Unavailable("database is closed or read-only".to_owned()))
    }

    fn commit(self: Box<Self>) -> panoptes_storage::Result<()> {
        Err(panoptes_storage::Error::Unavailable("database is closed or read-only".to_owned()))
    }
}
