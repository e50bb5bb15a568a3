//! The write-ahead log: numbered segment files of CRC-checked records, replayed at start and
//! shortened by checkpoints after the head is truncated. See docs/format/wal.md.

mod record;
mod segment;
mod tail;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock, RwLockReadGuard};
use prometheus_client::metrics::counter::Counter;
use tracing::{error, info, warn};

use record::RecordDecoder;
pub(crate) use record::{MAX_RETAINED_SCRATCH_BYTES, push_chunks, push_samples, push_series, push_tombstones};
pub use record::{Record, RefSample, SeriesChunk, SeriesId, Tombstone};
pub(crate) use segment::FrameBuffer;
use segment::SegmentReader;
pub use tail::{Tail, TailLosses, WalPosition};

use crate::error::{Error, Result};

/// When the WAL is flushed to stable storage.
///
/// Every commit is written to the operating system before it is acknowledged, so a crash of
/// the process (`kill -9`) never loses acknowledged samples whatever the policy; the policy only
/// decides how much a power loss or kernel crash can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// `fdatasync` before every acknowledgement: nothing acknowledged is lost even on power loss.
    Always,
    /// `fdatasync` in the background at this interval: a power loss loses at most that much.
    Interval(Duration),
    /// Only when segments are closed and at shutdown.
    Never,
}

/// Default segment size, as in Prometheus: big enough that rotation is rare, small enough that
/// a checkpoint frees space soon.
pub const DEFAULT_SEGMENT_BYTES: u64 = 128 << 20;

const CHECKPOINT_PREFIX: &str = "checkpoint.";

struct Writer {
    file: File,
    segment: u32,
    size: u64,
    /// The newest sample time logged into the segment (`i64::MIN` for none).
    newest: i64,
    is_dirty: bool,
    /// Set by [`Wal::close_writer`]: nothing more may be logged.
    is_closed: bool,
}

/// An open write-ahead log accepting new records.
pub struct Wal {
    dir: PathBuf,
    writer: Mutex<Writer>,
    /// Held shared by a commit from before its records are logged until its samples are in the
    /// head ([`Wal::begin_commit`]), and exclusively by [`Wal::close_writer`]: once that
    /// returns, every logged commit is in the head and every later one is refused.
    commits: RwLock<()>,
    segment_bytes: u64,
    fsync: FsyncPolicy,
    holds: Mutex<Holds>,
    /// The newest sample time of each closed segment this process wrote; segments found at
    /// open have none (unknown).
    closed_newest: Mutex<BTreeMap<u32, i64>>,
}

/// Consumers that keep segments from being deleted, and the bound on what they may keep.
struct Holds {
    /// Per consumer: the first segment it still needs.
    needed_from: BTreeMap<u64, u32>,
    next_id: u64,
    /// Held segments (those a checkpoint replaced) beyond this many bytes are deleted anyway.
    max_bytes: u64,
    /// Held segments deleted because of `max_bytes`, and their bytes.
    dropped_segments: Counter,
    dropped_bytes: Counter,
}

/// Default bound on the bytes of segments kept for consumers after a checkpoint replaced them:
/// about an hour of a 100k-series server scraped every 15s at 3 bytes per sample is 70 MiB, so
/// this covers a receiver outage of many hours.
pub const DEFAULT_MAX_HOLD_BYTES: u64 = 1 << 30;

/// A consumer's claim on the segments it has not read yet: while it lives, checkpoints do not
/// delete segments from [`WalHold::set_needed_from`]'s segment on, up to the log's bound on
/// held bytes. Dropping it releases the claim.
pub struct WalHold {
    wal: Weak<Wal>,
    id: u64,
}

impl WalHold {
    /// Declares that segments before `segment` are no longer needed by this consumer.
    pub fn set_needed_from(&self, segment: u32) {
        if let Some(wal) = self.wal.upgrade() {
            wal.holds.lock().needed_from.insert(self.id, segment);
        }
    }
}

impl Drop for WalHold {
    fn drop(&mut self) {
        if let Some(wal) = self.wal.upgrade() {
            wal.holds.lock().needed_from.remove(&self.id);
        }
    }
}

/// What a replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Records decoded and handed on.
    pub records: u64,
    /// Segments read (checkpoint segments included).
    pub segments: u64,
    /// Damaged regions followed by valid records, repaired by rewriting the segment.
    pub corruptions: u64,
    /// Bytes lost to damaged regions in the middle of segments.
    pub corrupt_bytes: u64,
    /// Bytes dropped from torn segment tails.
    pub torn_bytes: u64,
    /// Well-framed records whose payload did not decode.
    pub undecodable_records: u64,
}

fn segment_name(index: u32) -> String {
    format!("{index:08}")
}

/// Returns the sorted indices of the segment files in `dir`.
fn list_segments(dir: &Path) -> Result<Vec<u32>> {
    let mut segments = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(segments),
        Err(error) => return Err(Error::io("read wal directory", dir)(error)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io("read wal directory", dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.len() == 8
            && let Ok(index) = name.parse::<u32>()
        {
            segments.push(index);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Returns the newest complete checkpoint (its index and path).
fn last_checkpoint(dir: &Path) -> Result<Option<(u32, PathBuf)>> {
    let mut best = None;
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(None) };
    for entry in entries {
        let entry = entry.map_err(Error::io("read wal directory", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(index) = name.strip_prefix(CHECKPOINT_PREFIX).and_then(|n| n.parse::<u32>().ok())
            && best.as_ref().is_none_or(|(b, _)| index > *b)
        {
            best = Some((index, entry.path()));
        }
    }
    Ok(best)
}

use crate::fsutil::sync_dir;

impl Wal {
    /// Opens the log in `dir` for writing, starting a new segment after the existing ones.
    /// Call [`replay`] first: existing segments are not read here.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the directory or the segment cannot be created.
    pub fn open(dir: &Path, segment_bytes: u64, fsync: FsyncPolicy) -> Result<Wal> {
        std::fs::create_dir_all(dir).map_err(Error::io("create wal directory", dir))?;
        // After a checkpoint the newest number may be the checkpoint's: never reuse it.
        let last_segment = list_segments(dir)?.last().copied();
        let last_checkpoint = last_checkpoint(dir)?.map(|(index, _)| index);
        let next = last_segment.max(last_checkpoint).map_or(0, |last| last + 1);
        let writer = Self::create_segment(dir, next)?;
        let holds = Holds {
            needed_from: BTreeMap::new(),
            next_id: 0,
            max_bytes: DEFAULT_MAX_HOLD_BYTES,
            dropped_segments: Counter::default(),
            dropped_bytes: Counter::default(),
        };
        Ok(Wal {
            dir: dir.to_owned(),
            writer: Mutex::new(writer),
            commits: RwLock::new(()),
            segment_bytes,
            fsync,
            holds: Mutex::new(holds),
            closed_newest: Mutex::new(BTreeMap::new()),
        })
    }

    /// Sets the bound on bytes of held segments and the counters of what the bound deletes.
    pub(crate) fn configure_holds(&self, max_bytes: u64, dropped_segments: Counter, dropped_bytes: Counter) {
        let mut holds = self.holds.lock();
        holds.max_bytes = max_bytes;
        holds.dropped_segments = dropped_segments;
        holds.dropped_bytes = dropped_bytes;
    }

    /// Registers a consumer that needs every segment from `needed_from` on; see [`WalHold`].
    pub fn hold(self: &Arc<Self>, needed_from: u32) -> WalHold {
        let mut holds = self.holds.lock();
        let id = holds.next_id;
        holds.next_id += 1;
        holds.needed_from.insert(id, needed_from);
        WalHold { wal: Arc::downgrade(self), id }
    }

    /// Returns the position after the last record written: where a consumer that wants only
    /// what is written from now on starts.
    pub fn position(&self) -> WalPosition {
        let writer = self.writer.lock();
        WalPosition { segment: writer.segment, offset: writer.size }
    }

    /// Deletes the segments the newest checkpoint replaced that no consumer holds any more, and
    /// held ones, oldest first, while held ones exceed the bound. Checkpoints do this; the
    /// database also calls it periodically so that released segments go soon.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when a segment cannot be deleted.
    pub fn remove_replaced_segments(&self) -> Result<()> {
        let Some((last, _)) = last_checkpoint(&self.dir)? else { return Ok(()) };
        self.remove_segments_up_to(last)
    }

    fn remove_segments_up_to(&self, last: u32) -> Result<()> {
        let holds = self.holds.lock();
        let needed_from = holds.needed_from.values().min().copied().unwrap_or(u32::MAX);
        let mut held: Vec<(u32, u64)> = Vec::new();
        for index in list_segments(&self.dir)?.into_iter().filter(|i| *i <= last) {
            let path = self.dir.join(segment_name(index));
            if index < needed_from {
                std::fs::remove_file(&path).map_err(Error::io("remove wal segment", &path))?;
            } else {
                held.push((index, std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)));
            }
        }
        let mut held_bytes: u64 = held.iter().map(|(_, len)| len).sum();
        for (index, len) in held {
            if held_bytes <= holds.max_bytes {
                break;
            }
            let path = self.dir.join(segment_name(index));
            std::fs::remove_file(&path).map_err(Error::io("remove wal segment", &path))?;
            held_bytes -= len;
            holds.dropped_segments.inc();
            holds.dropped_bytes.inc_by(len);
            error!(
                segment = index,
                bytes = len,
                max_hold_bytes = holds.max_bytes,
                "deleting a wal segment a consumer has not read: held segments exceed their bound"
            );
        }
        Ok(())
    }

    fn create_segment(dir: &Path, index: u32) -> Result<Writer> {
        let path = dir.join(segment_name(index));
        let file =
            OpenOptions::new().create(true).append(true).open(&path).map_err(Error::io("create wal segment", &path))?;
        sync_dir(dir)?;
        Ok(Writer { file, segment: index, size: 0, newest: i64::MIN, is_dirty: false, is_closed: false })
    }

    /// Returns the log directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes framed records with one system call; with [`FsyncPolicy::Always`] also syncs.
    /// `newest` is the newest sample time among them (`i64::MIN` for none), which decides when
    /// a checkpoint may take their segment ([`Wal::checkpoint_range`]).
    pub(crate) fn log(&self, frames: &FrameBuffer, newest: i64) -> Result<()> {
        if frames.is_empty() {
            return Ok(());
        }
        let bytes = frames.as_bytes();
        let mut writer = self.writer.lock();
        if writer.is_closed {
            return Err(Error::Closed);
        }
        if writer.size > 0 && writer.size + bytes.len() as u64 > self.segment_bytes {
            self.rotate_locked(&mut writer)?;
        }
        let segment = writer.segment;
        let path = || self.dir.join(segment_name(segment));
        writer.file.write_all(bytes).map_err(|e| Error::io("write wal segment", path())(e))?;
        writer.size += bytes.len() as u64;
        writer.newest = writer.newest.max(newest);
        if self.fsync == FsyncPolicy::Always {
            writer.file.sync_data().map_err(|e| Error::io("sync wal segment", path())(e))?;
        } else {
            writer.is_dirty = true;
        }
        Ok(())
    }

    /// Flushes written records to stable storage if anything was written since the last sync.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the sync fails.
    pub fn sync(&self) -> Result<()> {
        let mut writer = self.writer.lock();
        if writer.is_dirty {
            writer
                .file
                .sync_data()
                .map_err(Error::io("sync wal segment", self.dir.join(segment_name(writer.segment))))?;
            writer.is_dirty = false;
        }
        Ok(())
    }

    fn rotate_locked(&self, writer: &mut Writer) -> Result<u32> {
        writer.file.sync_data().map_err(Error::io("sync wal segment", self.dir.join(segment_name(writer.segment))))?;
        let closed = writer.segment;
        let newest = writer.newest;
        *writer = Self::create_segment(&self.dir, closed + 1)?;
        self.closed_newest.lock().insert(closed, newest);
        Ok(closed)
    }

    /// Closes the current segment and starts a new one; returns the index of the closed one.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when syncing or creating fails.
    pub fn cut_segment(&self) -> Result<u32> {
        let mut writer = self.writer.lock();
        self.rotate_locked(&mut writer)
    }

    /// Returns the last of the segments up to `last` that a checkpoint should take now, and
    /// those of them that hold only samples older than `bound` (the head's lower bound), or
    /// `None` when there is none to take.
    ///
    /// With `defer_newer`, a segment this process wrote with a sample at or after `bound` ends
    /// the run: its samples are still in the head, and a checkpoint taking it now would decode
    /// them and write them again. It stays a segment until a later checkpoint, when its
    /// samples have aged out and the checkpoint can skip them undecoded (as Prometheus leaves
    /// the newest third of the segments to the next checkpoint). Only a head without an
    /// out-of-order window may defer: replay then drops the segment's samples older than the
    /// blocks, where a window would take them for out-of-order samples not yet written.
    /// Segments found at open are taken and read whole.
    pub(crate) fn checkpoint_range(
        &self,
        last: u32,
        bound: i64,
        defer_newer: bool,
    ) -> Result<Option<(u32, BTreeSet<u32>)>> {
        let first = last_checkpoint(&self.dir)?.map_or(0, |(index, _)| index + 1);
        let closed_newest = self.closed_newest.lock();
        let mut taken = None;
        let mut older = BTreeSet::new();
        for index in list_segments(&self.dir)?.into_iter().filter(|i| (first..=last).contains(i)) {
            match closed_newest.get(&index) {
                Some(&newest) if newest >= bound && defer_newer => break,
                Some(&newest) if newest >= bound => {}
                Some(_) => {
                    older.insert(index);
                }
                None => {}
            }
            taken = Some(index);
        }
        Ok(taken.map(|last| (last, older)))
    }

    /// Replaces segments up to and including `last` by a checkpoint holding only what `keep`
    /// returns for each of their records (and those of the previous checkpoint). The samples
    /// records of the segments in `skip_samples` are dropped without being decoded (the caller
    /// knows `keep` would drop every one of them).
    ///
    /// The checkpoint is written to a temporary directory, synced and renamed, so a crash at any
    /// point leaves either the old or the new state. Returns the number of records kept.
    ///
    /// # Errors
    ///
    /// Returns an I/O error; the log is then unchanged.
    pub fn checkpoint(
        &self,
        last: u32,
        skip_samples: &BTreeSet<u32>,
        mut keep: impl FnMut(Record) -> Option<Record>,
    ) -> Result<u64> {
        // (file, whether its samples records are skipped)
        let mut sources: Vec<(PathBuf, bool)> = Vec::new();
        let previous = last_checkpoint(&self.dir)?;
        if let Some((_, path)) = &previous {
            sources.extend(list_segments(path)?.into_iter().map(|i| (path.join(segment_name(i)), false)));
        }
        let first_segment = previous.as_ref().map_or(0, |(index, _)| index + 1);
        sources.extend(
            list_segments(&self.dir)?
                .into_iter()
                .filter(|i| (first_segment..=last).contains(i))
                .map(|i| (self.dir.join(segment_name(i)), skip_samples.contains(&i))),
        );
        let records = self.write_checkpoint(last, |sink| {
            let mut decoder = RecordDecoder::default();
            for (source, skip_samples) in &sources {
                let mut reader = SegmentReader::open(source, record::is_known_type)?;
                while let Some((kind, payload)) = reader.next_frame()? {
                    if *skip_samples && record::is_samples_type(kind) {
                        continue;
                    }
                    let Some(record) = decoder.decode(kind, payload) else { continue };
                    if let Some(record) = keep(record) {
                        sink.push(|frames| record::push_record(frames, &record))?;
                    }
                }
            }
            Ok(())
        })?;
        // The segments taken are gone (or only a consumer reads them): no later checkpoint
        // asks for their newest times.
        self.closed_newest.lock().retain(|&index, _| index > last);
        Ok(records)
    }

    /// Returns the guard a commit holds from before it logs until its samples are applied.
    pub(crate) fn begin_commit(&self) -> RwLockReadGuard<'_, ()> {
        self.commits.read()
    }

    /// Waits for the commits in progress ([`Wal::begin_commit`]), syncs the current segment and
    /// refuses every later [`Wal::log`] with [`Error::Closed`]; returns the index of the
    /// segment, the last one there is.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the sync fails; the log is closed all the same.
    pub(crate) fn close_writer(&self) -> Result<u32> {
        let _no_commit_in_progress = self.commits.write();
        let mut writer = self.writer.lock();
        writer.is_closed = true;
        let segment = writer.segment;
        writer.file.sync_data().map_err(Error::io("sync wal segment", self.dir.join(segment_name(segment))))?;
        writer.is_dirty = false;
        Ok(segment)
    }

    /// Writes `checkpoint.<last>` from the records `fill` pushes, syncs and renames it, then
    /// deletes the segments up to `last` (but those consumers hold) and the previous checkpoint.
    /// Returns the number of records written.
    ///
    /// # Errors
    ///
    /// Returns `fill`'s error or an I/O error; the log is then unchanged.
    pub(crate) fn write_checkpoint(
        &self,
        last: u32,
        fill: impl FnOnce(&mut CheckpointSink) -> Result<()>,
    ) -> Result<u64> {
        let final_dir = self.dir.join(format!("{CHECKPOINT_PREFIX}{}", segment_name(last)));
        let temporary = self.dir.join(format!("{CHECKPOINT_PREFIX}{}.tmp", segment_name(last)));
        let previous = last_checkpoint(&self.dir)?;
        let _ = std::fs::remove_dir_all(&temporary);
        std::fs::create_dir_all(&temporary).map_err(Error::io("create checkpoint", &temporary))?;
        let path = temporary.join(segment_name(0));
        let output = File::create(&path).map_err(Error::io("create checkpoint", &path))?;
        let mut sink = CheckpointSink { output, path, frames: FrameBuffer::default(), records: 0 };
        fill(&mut sink)?;
        sink.flush()?;
        sink.output.sync_all().map_err(Error::io("sync checkpoint", &sink.path))?;
        sync_dir(&temporary)?;
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&temporary, &final_dir).map_err(Error::io("rename checkpoint", &final_dir))?;
        sync_dir(&self.dir)?;
        // Only now is it safe to delete what the checkpoint replaces (but what consumers hold).
        self.remove_segments_up_to(last)?;
        if let Some((index, path)) = previous
            && index < last
        {
            std::fs::remove_dir_all(&path).map_err(Error::io("remove checkpoint", &path))?;
        }
        Ok(sink.records)
    }

    /// Returns the total size of the log's files in bytes.
    pub fn size_bytes(&self) -> u64 {
        directory_size(&self.dir)
    }
}

/// The file a checkpoint is being written to, fed a record at a time.
pub(crate) struct CheckpointSink {
    output: File,
    path: PathBuf,
    frames: FrameBuffer,
    records: u64,
}

impl CheckpointSink {
    /// Adds the record that `frame` frames; writes out what is buffered past a megabyte.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the write fails.
    pub(crate) fn push(&mut self, frame: impl FnOnce(&mut FrameBuffer)) -> Result<()> {
        frame(&mut self.frames);
        self.records += 1;
        if self.frames.as_bytes().len() > 1 << 20 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.output.write_all(self.frames.as_bytes()).map_err(Error::io("write checkpoint", &self.path))?;
        self.frames.clear();
        Ok(())
    }
}

/// Returns the total size of the files below `dir`.
pub(crate) fn directory_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Reads the newest checkpoint and every later segment in order, repairing damage on the way,
/// and hands each record to `apply`. Logs progress (records/s, ETA) every few seconds.
///
/// # Errors
///
/// Returns an I/O error when a file cannot be read or repaired; damaged data is not an error.
pub fn replay(dir: &Path, mut apply: impl FnMut(Record)) -> Result<ReplayStats> {
    replay_with(dir, true, &mut apply)
}

/// Like [`replay`]; with `repair` false, damaged files are left as they are (read-only tools).
///
/// # Errors
///
/// Returns an I/O error when a file cannot be read or repaired.
pub fn replay_with(dir: &Path, repair: bool, apply: &mut dyn FnMut(Record)) -> Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    let mut files: Vec<PathBuf> = Vec::new();
    let checkpoint = last_checkpoint(dir)?;
    if let Some((_, path)) = &checkpoint {
        files.extend(list_segments(path)?.into_iter().map(|i| path.join(segment_name(i))));
    }
    let first = checkpoint.as_ref().map_or(0, |(index, _)| index + 1);
    files.extend(list_segments(dir)?.into_iter().filter(|i| *i >= first).map(|i| dir.join(segment_name(i))));
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let started = Instant::now();
    let mut last_report = started;
    let mut done_bytes = 0u64;
    if total_bytes > 0 {
        info!(segments = files.len(), bytes = total_bytes, "replaying wal");
    }
    let mut decoder = RecordDecoder::default();
    for path in &files {
        let mut reader = SegmentReader::open(path, record::is_known_type)?;
        while let Some((kind, payload)) = reader.next_frame()? {
            match decoder.decode(kind, payload) {
                Some(record) => {
                    stats.records += 1;
                    apply(record);
                }
                None => stats.undecodable_records += 1,
            }
        }
        for damage in reader.damage() {
            if damage.is_tail {
                stats.torn_bytes += damage.len;
                warn!(segment = %path.display(), offset = damage.offset, dropped_bytes = damage.len, "truncating torn wal tail");
            } else {
                stats.corruptions += 1;
                stats.corrupt_bytes += damage.len;
                warn!(segment = %path.display(), offset = damage.offset, dropped_bytes = damage.len, "skipping corrupt wal region; records after it are kept");
            }
        }
        done_bytes += reader.len_bytes();
        if repair {
            reader.repair()?;
        }
        stats.segments += 1;
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            let elapsed = started.elapsed().as_secs_f64();
            let rate = stats.records as f64 / elapsed.max(1e-9);
            let remaining = (total_bytes.saturating_sub(done_bytes)) as f64 / (done_bytes as f64 / elapsed).max(1.0);
            info!(
                progress = format!("{:.1}%", 100.0 * done_bytes as f64 / total_bytes.max(1) as f64),
                records_per_second = rate as u64,
                eta_seconds = remaining as u64,
                "replaying wal"
            );
        }
    }
    if total_bytes > 0 {
        info!(records = stats.records, seconds = format!("{:.2}", started.elapsed().as_secs_f64()), "wal replay done");
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use panoptes_model::Labels;

    use super::*;

    fn log_series_and_samples(wal: &Wal, id: SeriesId, t: i64) {
        let labels = Labels::from_pairs([("__name__", "m"), ("id", id.to_string().as_str())]);
        let mut frames = FrameBuffer::default();
        push_series(&mut frames, &[(id, &labels)]);
        push_samples(&mut frames, &[RefSample { id, t, v: t as f64 }]);
        wal.log(&frames, i64::MIN).unwrap();
    }

    fn replay_all(dir: &Path) -> (Vec<Record>, ReplayStats) {
        let mut records = Vec::new();
        let stats = replay(dir, |r| records.push(r)).unwrap();
        (records, stats)
    }

    #[test]
    fn records_survive_reopen_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        {
            let wal = Wal::open(dir.path(), 64, FsyncPolicy::Never).unwrap();
            for id in 0..10 {
                log_series_and_samples(&wal, id, id as i64 * 10);
            }
        }
        assert!(list_segments(dir.path()).unwrap().len() > 3, "small segments rotate");
        let (records, stats) = replay_all(dir.path());
        assert_eq!(records.len(), 20);
        assert_eq!(stats.corruptions + stats.torn_bytes, 0);
        // A second writer starts after the existing segments.
        let wal = Wal::open(dir.path(), 64, FsyncPolicy::Always).unwrap();
        log_series_and_samples(&wal, 99, 990);
        assert_eq!(replay_all(dir.path()).0.len(), 22);
    }

    #[test]
    fn checkpoint_keeps_selected_records_and_removes_segments() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), 1 << 20, FsyncPolicy::Never).unwrap();
        for id in 0..4 {
            log_series_and_samples(&wal, id, id as i64 * 100);
        }
        let closed = wal.cut_segment().unwrap();
        log_series_and_samples(&wal, 7, 700);
        // Keep series 2 and 3 and their samples from t >= 200.
        let kept = wal
            .checkpoint(closed, &Default::default(), |record| match record {
                Record::Series(s) => Some(Record::Series(s.into_iter().filter(|(id, _)| *id >= 2).collect())),
                Record::Samples(s) => Some(Record::Samples(s.into_iter().filter(|x| x.t >= 200).collect())),
                other => Some(other),
            })
            .unwrap();
        assert_eq!(kept, 8);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![closed + 1]);
        let (records, _) = replay_all(dir.path());
        let samples: Vec<i64> = records
            .iter()
            .filter_map(
                |r| if let Record::Samples(s) = r { Some(s.iter().map(|x| x.t).collect::<Vec<_>>()) } else { None },
            )
            .flatten()
            .collect();
        assert_eq!(samples, vec![200, 300, 700]);
    }
}
