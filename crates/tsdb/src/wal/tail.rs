//! Reading the log while it is being written, for consumers such as the remote-write queue.
//!
//! A [`Tail`] reads records from a [`WalPosition`] on, in log order, across segment rotations.
//! A frame that is only partly on disk at the end of the newest segment is "not yet": the call
//! returns `None` and the next one tries again. Only once a newer segment exists is an
//! incomplete or invalid tail of an older one damage, skipped and counted. Segments deleted
//! under the reader (truncation past a consumer's hold) are gaps, also counted.
//!
//! Never writes or repairs anything; see wal.rs for the writer and docs/format/wal.md.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use panoptes_model::Labels;
use tracing::warn;

use super::record::{RecordDecoder, is_known_type};
use super::segment::{FRAME_HEADER_BYTES, MAX_RECORD_BYTES, SegmentReader};
use super::{Record, SeriesId, last_checkpoint, list_segments, segment_name};
use crate::error::{Error, Result};

/// A place in the log: a segment and a byte offset in it, always at a frame boundary when it
/// comes from this crate. Orders as the log does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WalPosition {
    /// The segment number.
    pub segment: u32,
    /// The byte offset in the segment.
    pub offset: u64,
}

/// What a tail skipped because it was damaged or already deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TailLosses {
    /// Bytes of frames that did not check (corrupt regions, torn tails of closed segments).
    pub damaged_bytes: u64,
    /// Segments that were deleted before the tail reached them.
    pub missing_segments: u64,
    /// Well-framed records whose payload did not decode.
    pub undecodable_records: u64,
}

/// Bytes asked of the file per read: most appends are far smaller.
const READ_BYTES: usize = 256 << 10;

/// A reader that follows the log as it grows. See the module documentation.
pub struct Tail {
    dir: PathBuf,
    decoder: RecordDecoder,
    segment: u32,
    /// The open segment, `None` until it exists.
    file: Option<File>,
    /// Bytes read from the segment, starting at file offset `buffer_offset`.
    buffer: Vec<u8>,
    buffer_offset: u64,
    /// Bytes of `buffer` already handed out as records.
    consumed: usize,
    losses: TailLosses,
}

impl Tail {
    /// Returns a tail of the log in `dir` that reads from `from` on. Nothing is read yet.
    pub fn new(dir: &Path, from: WalPosition) -> Tail {
        Tail {
            dir: dir.to_owned(),
            decoder: RecordDecoder::default(),
            segment: from.segment,
            file: None,
            buffer: Vec::new(),
            buffer_offset: from.offset,
            consumed: 0,
            losses: TailLosses::default(),
        }
    }

    /// Returns the position after the last record returned.
    pub fn position(&self) -> WalPosition {
        WalPosition { segment: self.segment, offset: self.buffer_offset + self.consumed as u64 }
    }

    /// Returns what was skipped so far.
    pub fn losses(&self) -> TailLosses {
        self.losses
    }

    /// Hands every series definition that precedes the tail's position to `define`: those of
    /// the newest checkpoint, then those of the segments before the position, in log order.
    /// Call it once before the first [`Tail::next_record`], so that samples read afterwards
    /// find their series.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when a file cannot be read; damage is skipped.
    pub fn read_series_before(&mut self, define: &mut dyn FnMut(SeriesId, Labels)) -> Result<()> {
        let position = self.position();
        let mut files: Vec<(PathBuf, u64)> = Vec::new();
        if let Some((_, path)) = last_checkpoint(&self.dir)? {
            files.extend(list_segments(&path)?.into_iter().map(|i| (path.join(segment_name(i)), u64::MAX)));
        }
        for index in list_segments(&self.dir)?.into_iter().filter(|i| *i <= position.segment) {
            let limit = if index == position.segment { position.offset } else { u64::MAX };
            files.push((self.dir.join(segment_name(index)), limit));
        }
        for (path, limit) in files {
            let mut reader = match SegmentReader::open(&path, is_known_type) {
                Ok(reader) => reader,
                // Deleted by a checkpoint since it was listed: its series are in the checkpoint.
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error),
            };
            while reader.position() < limit {
                let Some((kind, payload)) = reader.next_frame()? else { break };
                if kind & 0x7f != super::record::TYPE_SERIES {
                    continue;
                }
                if let Some(Record::Series(series)) = self.decoder.decode(kind, payload) {
                    for (id, labels) in series {
                        define(id, labels);
                    }
                }
            }
        }
        Ok(())
    }

    /// Returns the index of the newest checkpoint, if it is newer than `newer_than`, and the ids
    /// of the series it holds, so that a consumer past that checkpoint can forget the other
    /// series it learnt before it: they were no longer in the head, and samples written after
    /// the checkpoint never refer to them.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the checkpoint cannot be read.
    pub fn newest_checkpoint_series(
        &mut self,
        newer_than: Option<u32>,
    ) -> Result<Option<(u32, std::collections::HashSet<SeriesId>)>> {
        let Some((index, path)) = last_checkpoint(&self.dir)? else { return Ok(None) };
        if newer_than.is_some_and(|newer_than| index <= newer_than) {
            return Ok(None);
        }
        let mut ids = std::collections::HashSet::new();
        for segment in list_segments(&path)? {
            let mut reader = match SegmentReader::open(&path.join(segment_name(segment)), is_known_type) {
                Ok(reader) => reader,
                // Replaced by a newer checkpoint meanwhile: the next call reads that one.
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(error) => return Err(error),
            };
            while let Some((kind, payload)) = reader.next_frame()? {
                if kind & 0x7f != super::record::TYPE_SERIES {
                    continue;
                }
                if let Some(Record::Series(series)) = self.decoder.decode(kind, payload) {
                    ids.extend(series.into_iter().map(|(id, _)| id));
                }
            }
        }
        Ok(Some((index, ids)))
    }

    /// Returns the next record, or `None` when the writer has not written (all of) it yet.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when a segment cannot be read; damage and deleted segments are
    /// skipped and counted in [`Tail::losses`].
    pub fn next_record(&mut self) -> Result<Option<Record>> {
        loop {
            match self.next_frame()? {
                Some((kind, start, end)) => {
                    let record = self.decoder.decode(kind, &self.buffer[start..end]);
                    match record {
                        Some(record) => return Ok(Some(record)),
                        None => self.losses.undecodable_records += 1,
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// Returns the type and the payload's range in `buffer` of the next valid frame, advancing
    /// past it.
    fn next_frame(&mut self) -> Result<Option<(u8, usize, usize)>> {
        loop {
            match self.frame_in_buffer(self.consumed) {
                Frame::Valid { kind, end } => {
                    let start = self.consumed + FRAME_HEADER_BYTES;
                    self.consumed = end;
                    return Ok(Some((kind, start, end)));
                }
                Frame::Incomplete => {
                    if self.read_more()? {
                        continue;
                    }
                    // Nothing more in this segment for now; move on only once it is closed.
                    if !self.advance_to_next_segment()? {
                        return Ok(None);
                    }
                }
                Frame::Invalid => {
                    // A whole frame is there but does not check. Within the newest segment it may
                    // be a write still being copied in; bytes after it prove it is damage.
                    match self.resync() {
                        Some(skip) => self.skip_damage(skip),
                        None => {
                            if self.read_more()? {
                                continue;
                            }
                            if !self.advance_to_next_segment()? {
                                return Ok(None);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Classifies the bytes at `at` in the buffer.
    fn frame_in_buffer(&self, at: usize) -> Frame {
        let rest = &self.buffer[at..];
        if rest.len() < FRAME_HEADER_BYTES {
            return Frame::Incomplete;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let kind = rest[8];
        if len > MAX_RECORD_BYTES || !is_known_type(kind) {
            return Frame::Invalid;
        }
        if rest.len() < FRAME_HEADER_BYTES + len {
            return Frame::Incomplete;
        }
        if crc32fast::hash(&rest[8..FRAME_HEADER_BYTES + len]) != crc {
            return Frame::Invalid;
        }
        Frame::Valid { kind, end: at + FRAME_HEADER_BYTES + len }
    }

    /// Returns how many bytes to skip to the next valid frame that has bytes after it, if the
    /// buffer holds one.
    fn resync(&self) -> Option<usize> {
        (self.consumed + 1..self.buffer.len())
            .find(|&at| matches!(self.frame_in_buffer(at), Frame::Valid { .. }))
            .map(|at| at - self.consumed)
    }

    fn skip_damage(&mut self, bytes: usize) {
        warn!(
            segment = self.segment,
            offset = self.position().offset,
            bytes,
            "skipping damaged wal bytes while tailing"
        );
        self.losses.damaged_bytes += bytes as u64;
        self.consumed += bytes;
    }

    /// Reads what the writer appended since the last read; returns whether anything came.
    fn read_more(&mut self) -> Result<bool> {
        if self.file.is_none() {
            let path = self.dir.join(segment_name(self.segment));
            match File::open(&path) {
                Ok(mut file) => {
                    use std::io::{Seek, SeekFrom};
                    file.seek(SeekFrom::Start(self.buffer_offset)).map_err(Error::io("seek wal segment", &path))?;
                    self.file = Some(file);
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(error) => return Err(Error::io("open wal segment", &path)(error)),
            }
        }
        // Drop what was handed out, keep a partial frame.
        if self.consumed > 0 {
            self.buffer.drain(..self.consumed);
            self.buffer_offset += self.consumed as u64;
            self.consumed = 0;
        }
        let Some(file) = self.file.as_mut() else { return Ok(false) };
        let old_len = self.buffer.len();
        self.buffer.resize(old_len + READ_BYTES, 0);
        let read = file.read(&mut self.buffer[old_len..]);
        let read = match read {
            Ok(read) => read,
            Err(error) => {
                self.buffer.truncate(old_len);
                return Err(Error::io("read wal segment", self.dir.join(segment_name(self.segment)))(error));
            }
        };
        self.buffer.truncate(old_len + read);
        Ok(read > 0)
    }

    /// Moves to the next segment if a newer one exists (the current one is then complete);
    /// whatever is left of the current one is damage. Returns false when the current segment
    /// is still the newest.
    fn advance_to_next_segment(&mut self) -> Result<bool> {
        let next = list_segments(&self.dir)?.into_iter().find(|i| *i > self.segment);
        let Some(next) = next else { return Ok(false) };
        // The writer finishes a segment before it creates the next: read what came meanwhile.
        if self.file.is_some() && self.read_more()? {
            return Ok(true);
        }
        let left = self.buffer.len() - self.consumed;
        if left > 0 {
            // Valid frames may still follow damage: hand them out first.
            if let Some(skip) = self.resync() {
                self.skip_damage(skip);
                return Ok(true);
            }
            self.skip_damage(left);
        }
        let missing = if self.file.is_none() && !self.dir.join(segment_name(self.segment)).exists() {
            next - self.segment
        } else {
            next - self.segment - 1
        };
        if missing > 0 {
            warn!(
                from = self.segment,
                to = next,
                missing_segments = missing,
                "wal segments were deleted before the tail read them"
            );
            self.losses.missing_segments += u64::from(missing);
        }
        self.segment = next;
        self.file = None;
        self.buffer.clear();
        self.buffer_offset = 0;
        self.consumed = 0;
        Ok(true)
    }
}

enum Frame {
    Valid { kind: u8, end: usize },
    Incomplete,
    Invalid,
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use prometheus_client::metrics::counter::Counter;

    use crate::wal::{FrameBuffer, FsyncPolicy, RefSample, Wal, push_samples, push_series};

    fn labels(id: SeriesId) -> Labels {
        Labels::from_pairs([("__name__", "m"), ("id", id.to_string().as_str())])
    }

    fn log_series(wal: &Wal, id: SeriesId) {
        let mut frames = FrameBuffer::default();
        push_series(&mut frames, &[(id, &labels(id))]);
        wal.log(&frames, i64::MIN).unwrap();
    }

    fn log_sample(wal: &Wal, id: SeriesId, t: i64) {
        let mut frames = FrameBuffer::default();
        push_samples(&mut frames, &[RefSample { id, t, v: t as f64 * 0.5 }]);
        wal.log(&frames, t).unwrap();
    }

    /// Reads every record available now; returns the samples as (labels, t) via `series`.
    fn drain(tail: &mut Tail, series: &mut HashMap<SeriesId, Labels>, samples: &mut Vec<(Labels, i64)>) {
        while let Some(record) = tail.next_record().unwrap() {
            match record {
                Record::Series(defined) => series.extend(defined),
                Record::Samples(got) => {
                    for sample in got {
                        samples.push((series[&sample.id].clone(), sample.t));
                    }
                }
                Record::Tombstones(_) | Record::Chunks(_) => {}
            }
        }
    }

    #[test]
    fn tail_follows_a_writer_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        // Small segments: the writer rotates every few records while the tail reads.
        let wal = Arc::new(Wal::open(dir.path(), 200, FsyncPolicy::Never).unwrap());
        let mut tail = Tail::new(dir.path(), wal.position());
        let writer = {
            let wal = wal.clone();
            std::thread::spawn(move || {
                for id in 0..50u64 {
                    log_series(&wal, id);
                    for t in 0..20 {
                        log_sample(&wal, id, t);
                    }
                }
            })
        };
        let mut series = HashMap::new();
        let mut samples = Vec::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while samples.len() < 1000 && std::time::Instant::now() < deadline {
            drain(&mut tail, &mut series, &mut samples);
            std::thread::yield_now();
        }
        writer.join().unwrap();
        drain(&mut tail, &mut series, &mut samples);
        let expected: Vec<(Labels, i64)> = (0..50u64).flat_map(|id| (0..20).map(move |t| (labels(id), t))).collect();
        assert_eq!(samples, expected);
        assert_eq!(tail.losses(), TailLosses::default());
        assert_eq!(tail.position(), wal.position(), "the tail ends where the writer is");
    }

    #[test]
    fn a_partly_written_frame_is_not_yet_and_then_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut frames = FrameBuffer::default();
        push_series(&mut frames, &[(1, &labels(1))]);
        let bytes = frames.as_bytes().to_vec();
        let path = dir.path().join(segment_name(0));
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let mut tail = Tail::new(dir.path(), WalPosition::default());
        assert_eq!(tail.next_record().unwrap(), None);
        assert_eq!(tail.next_record().unwrap(), None, "still not there");
        use std::io::Write as _;
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&bytes[bytes.len() - 3..]).unwrap();
        assert_eq!(tail.next_record().unwrap(), Some(Record::Series(vec![(1, labels(1))])));
        assert_eq!(tail.position(), WalPosition { segment: 0, offset: bytes.len() as u64 });
        assert_eq!(tail.losses(), TailLosses::default());
    }

    #[test]
    fn a_torn_tail_of_a_closed_segment_is_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut frames = FrameBuffer::default();
        push_series(&mut frames, &[(1, &labels(1))]);
        let bytes = frames.as_bytes().to_vec();
        std::fs::write(dir.path().join(segment_name(0)), &bytes[..bytes.len() - 3]).unwrap();
        let mut tail = Tail::new(dir.path(), WalPosition::default());
        assert_eq!(tail.next_record().unwrap(), None);
        // A newer segment proves the old one is finished.
        std::fs::write(dir.path().join(segment_name(1)), &bytes).unwrap();
        assert_eq!(tail.next_record().unwrap(), Some(Record::Series(vec![(1, labels(1))])));
        assert_eq!(tail.losses().damaged_bytes, bytes.len() as u64 - 3);
        assert_eq!(tail.position(), WalPosition { segment: 1, offset: bytes.len() as u64 });
    }

    #[test]
    fn series_come_from_the_checkpoint_before_tailing_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), 1 << 20, FsyncPolicy::Never).unwrap();
        for id in 0..3 {
            log_series(&wal, id);
            log_sample(&wal, id, 1);
        }
        let closed = wal.cut_segment().unwrap();
        wal.checkpoint(closed, &Default::default(), |record| match record {
            Record::Series(series) => Some(Record::Series(series.into_iter().filter(|(id, _)| *id != 1).collect())),
            _ => None,
        })
        .unwrap();
        log_series(&wal, 3);
        let start = wal.position();
        log_sample(&wal, 0, 2);
        log_sample(&wal, 2, 2);
        log_sample(&wal, 3, 2);
        let mut tail = Tail::new(dir.path(), start);
        let mut series = HashMap::new();
        tail.read_series_before(&mut |id, labels| {
            series.insert(id, labels);
        })
        .unwrap();
        let mut known: Vec<SeriesId> = series.keys().copied().collect();
        known.sort_unstable();
        assert_eq!(known, vec![0, 2, 3], "checkpointed series and those before the position");
        let mut samples = Vec::new();
        drain(&mut tail, &mut series, &mut samples);
        assert_eq!(samples, vec![(labels(0), 2), (labels(2), 2), (labels(3), 2)]);
    }

    #[test]
    fn holds_keep_segments_from_checkpoints_until_released_or_over_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Arc::new(Wal::open(dir.path(), 1 << 20, FsyncPolicy::Never).unwrap());
        let hold = wal.hold(0);
        for id in 0..3 {
            log_series(&wal, id);
            log_sample(&wal, id, 1);
            wal.cut_segment().unwrap();
        }
        // Segments 0, 1, 2 closed; the checkpoint replaces them but the hold keeps them.
        wal.checkpoint(2, &Default::default(), Some).unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![0, 1, 2, 3]);
        let mut tail = Tail::new(dir.path(), WalPosition::default());
        let mut series = HashMap::new();
        let mut samples = Vec::new();
        drain(&mut tail, &mut series, &mut samples);
        assert_eq!(samples.len(), 3, "everything held is read");
        hold.set_needed_from(2);
        wal.remove_replaced_segments().unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![2, 3]);
        drop(hold);
        wal.remove_replaced_segments().unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![3]);

        // Over the bound: the oldest held segments go, counted.
        let _hold = wal.hold(3);
        log_series(&wal, 9);
        let closed = wal.cut_segment().unwrap();
        log_series(&wal, 10);
        let last = wal.cut_segment().unwrap();
        // Room for the newest held segment only.
        let dropped = Counter::default();
        let bound = std::fs::metadata(dir.path().join(segment_name(last))).unwrap().len();
        wal.configure_holds(bound, dropped.clone(), Counter::default());
        wal.checkpoint(last, &Default::default(), Some).unwrap();
        assert_eq!(closed, 3);
        assert_eq!(list_segments(dir.path()).unwrap(), vec![last, last + 1]);
        assert_eq!(dropped.get(), 1);
    }

    #[test]
    fn a_deleted_segment_is_a_counted_gap() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), 1 << 20, FsyncPolicy::Never).unwrap();
        log_series(&wal, 1);
        wal.cut_segment().unwrap();
        log_series(&wal, 2);
        wal.cut_segment().unwrap();
        log_series(&wal, 3);
        std::fs::remove_file(dir.path().join(segment_name(1))).unwrap();
        let mut tail = Tail::new(dir.path(), WalPosition::default());
        let mut ids = Vec::new();
        while let Some(Record::Series(series)) = tail.next_record().unwrap() {
            ids.extend(series.into_iter().map(|(id, _)| id));
        }
        assert_eq!(ids, vec![1, 3]);
        assert_eq!(tail.losses().missing_segments, 1);
    }

    #[test]
    fn the_newest_checkpoint_names_its_series_once() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path(), 1 << 20, FsyncPolicy::Never).unwrap();
        for id in 0..4 {
            log_series(&wal, id);
        }
        let closed = wal.cut_segment().unwrap();
        wal.checkpoint(closed, &Default::default(), |record| match record {
            Record::Series(series) => Some(Record::Series(series.into_iter().filter(|(id, _)| id % 2 == 0).collect())),
            other => Some(other),
        })
        .unwrap();
        let mut tail = Tail::new(dir.path(), wal.position());
        let (index, ids) = tail.newest_checkpoint_series(None).unwrap().unwrap();
        assert_eq!(index, closed);
        assert_eq!(ids, [0, 2].into_iter().collect());
        assert!(tail.newest_checkpoint_series(Some(closed)).unwrap().is_none(), "not newer");
    }

    /// Through the database: head compactions checkpoint the WAL while a consumer holds its
    /// start, and the consumer still reads every sample, then the released segments go.
    #[test]
    fn head_compaction_keeps_what_a_holder_has_not_read() {
        use panoptes_storage::Storage as _;

        use crate::{Db, DbOptions};

        let dir = tempfile::tempdir().unwrap();
        let options = DbOptions {
            block_range: std::time::Duration::from_secs(60),
            maintenance_interval: std::time::Duration::from_secs(3600),
            ..DbOptions::default()
        };
        let db = Db::open(dir.path(), options).unwrap();
        let start = db.wal_position().unwrap();
        let hold = db.hold_wal(start.segment).unwrap();
        // Four minutes of samples, one commit each 10 s: more than 1.5 block ranges.
        for t in (0..240_000).step_by(10_000) {
            let mut appender = db.appender();
            appender.append(&labels(1), t, t as f64).unwrap();
            appender.commit().unwrap();
        }
        db.run_maintenance();
        assert!(!db.blocks().is_empty(), "the head was cut into blocks");
        assert!(list_segments(&db.wal_dir()).unwrap().contains(&start.segment), "the held segment stays");
        let mut tail = Tail::new(&db.wal_dir(), start);
        let mut series = HashMap::new();
        tail.read_series_before(&mut |id, labels| {
            series.insert(id, labels);
        })
        .unwrap();
        let mut samples = Vec::new();
        drain(&mut tail, &mut series, &mut samples);
        assert_eq!(samples.len(), 24, "every sample is read back after the checkpoint");
        assert_eq!(tail.losses(), TailLosses::default());
        hold.set_needed_from(tail.position().segment);
        // The held segment's samples are still partly in the head, so no checkpoint takes it
        // yet; three more minutes age them out, and the next compaction's checkpoint does.
        for t in (240_000..420_000).step_by(10_000) {
            let mut appender = db.appender();
            appender.append(&labels(1), t, t as f64).unwrap();
            appender.commit().unwrap();
        }
        db.run_maintenance();
        assert!(!list_segments(&db.wal_dir()).unwrap().contains(&start.segment), "released segments are deleted");
        db.close().unwrap();
    }
}
