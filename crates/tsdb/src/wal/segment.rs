//! Framing of records inside WAL segment files, and reading segments back with repair.
//!
//! Never interprets record payloads; see record.rs and docs/format/wal.md. A frame is
//! `len: u32 LE | crc: u32 LE | type: u8 | payload[len]`, the CRC-32 covering type and payload.
//! Segments are read frame by frame through a window that holds at most one read chunk plus
//! the largest frame, never a whole file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Bytes before a frame's payload.
pub(crate) const FRAME_HEADER_BYTES: usize = 9;

/// A record larger than this is taken as a corrupt length: no batch we write comes close.
pub(crate) const MAX_RECORD_BYTES: usize = 64 << 20;

/// How much a segment reader asks the file for at a time: large enough that system calls are
/// rare, small enough that memory stays bounded whatever the segment size.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// Appends framed records to a buffer that is later written with one system call.
#[derive(Debug, Default)]
pub(crate) struct FrameBuffer {
    bytes: Vec<u8>,
}

impl FrameBuffer {
    /// Appends one record whose payload `encode` writes.
    pub(crate) fn push(&mut self, kind: u8, encode: impl FnOnce(&mut Vec<u8>)) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
        encode(&mut self.bytes);
        let payload_len = self.bytes.len() - start - FRAME_HEADER_BYTES;
        self.bytes[start + 8] = kind;
        let crc = crc32fast::hash(&self.bytes[start + 8..]);
        self.bytes[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        self.bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Returns the bytes the buffer holds room for.
    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Returns the (type, payload) of each frame, for tests.
    #[cfg(test)]
    pub(crate) fn frames(&self) -> impl Iterator<Item = (u8, &[u8])> {
        let mut rest = self.bytes.as_slice();
        std::iter::from_fn(move || {
            let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let frame = rest.get(..FRAME_HEADER_BYTES + len)?;
            rest = &rest[FRAME_HEADER_BYTES + len..];
            Some((frame[8], &frame[FRAME_HEADER_BYTES..]))
        })
    }
}

/// A region of a segment that did not hold valid frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damage {
    pub(crate) offset: u64,
    pub(crate) len: u64,
    /// Whether the region ran to the end of the file (a torn write) rather than being followed
    /// by valid frames (corruption in the middle).
    pub(crate) is_tail: bool,
}

/// Reads the valid frames of one segment in order, skipping damaged regions: after a bad frame
/// it searches forward for the next valid one, so corruption in the middle costs only the
/// damaged records. Remembers where the damage was, so that [`SegmentReader::repair`] can
/// rewrite the file afterwards.
pub(crate) struct SegmentReader {
    path: PathBuf,
    file: File,
    file_len: u64,
    /// Which type bytes frames may have; anything else is damage.
    is_known_type: fn(u8) -> bool,
    /// File bytes from `window_offset` on, as far as they have been read.
    window: Vec<u8>,
    window_offset: u64,
    /// File offset of the next frame.
    position: u64,
    damage: Vec<Damage>,
    /// The byte ranges of valid frames, adjacent frames merged.
    valid: Vec<Range<u64>>,
}

impl SegmentReader {
    /// Opens the segment at `path`; frames whose type byte `is_known_type` refuses count as
    /// damage.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the file cannot be opened.
    pub(crate) fn open(path: &Path, is_known_type: fn(u8) -> bool) -> Result<Self> {
        let file = File::open(path).map_err(Error::io("open wal segment", path))?;
        let file_len = file.metadata().map_err(Error::io("stat wal segment", path))?.len();
        Ok(Self {
            path: path.to_owned(),
            file,
            file_len,
            is_known_type,
            window: Vec::new(),
            window_offset: 0,
            position: 0,
            damage: Vec::new(),
            valid: Vec::new(),
        })
    }

    /// Returns the size of the file when it was opened.
    pub(crate) fn len_bytes(&self) -> u64 {
        self.file_len
    }

    /// Returns the file offset of the next frame to read.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// Returns the damaged regions found so far.
    pub(crate) fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// Makes the file bytes `from..to` available in the window, dropping what lies before
    /// `from`; returns false when the file ends before `to`.
    fn fill(&mut self, from: u64, to: u64) -> Result<bool> {
        if to > self.file_len {
            return Ok(false);
        }
        let window_end = self.window_offset + self.window.len() as u64;
        if to <= window_end {
            return Ok(true);
        }
        let consumed = (from.min(window_end) - self.window_offset) as usize;
        self.window.drain(..consumed);
        self.window_offset += consumed as u64;
        let missing = (to - window_end) as usize;
        let read = missing.max(READ_CHUNK_BYTES).min((self.file_len - window_end) as usize);
        let old_len = self.window.len();
        self.window.resize(old_len + read, 0);
        self.file.read_exact(&mut self.window[old_len..]).map_err(Error::io("read wal segment", &self.path))?;
        Ok(true)
    }

    /// Returns the type and end offset of the valid frame starting at `offset`, if there is one.
    fn frame_at(&mut self, offset: u64) -> Result<Option<(u8, u64)>> {
        let header_end = offset + FRAME_HEADER_BYTES as u64;
        if !self.fill(offset, header_end)? {
            return Ok(None);
        }
        let at = (offset - self.window_offset) as usize;
        let header = &self.window[at..at + FRAME_HEADER_BYTES];
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        let kind = header[8];
        // Cheap checks first: while resynchronising, almost every candidate fails them.
        if len > MAX_RECORD_BYTES || !(self.is_known_type)(kind) {
            return Ok(None);
        }
        let end = header_end + len as u64;
        if !self.fill(offset, end)? {
            return Ok(None);
        }
        let at = (offset - self.window_offset) as usize;
        let covered = &self.window[at + 8..at + FRAME_HEADER_BYTES + len];
        Ok((crc32fast::hash(covered) == crc).then_some((kind, end)))
    }

    /// Returns the type and payload of the next valid frame, or `None` at the end of the file.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the file cannot be read; damage is not an error.
    pub(crate) fn next_frame(&mut self) -> Result<Option<(u8, &[u8])>> {
        while self.position < self.file_len {
            let start = self.position;
            if let Some((kind, end)) = self.frame_at(start)? {
                match self.valid.last_mut() {
                    Some(last) if last.end == start => last.end = end,
                    _ => self.valid.push(start..end),
                }
                self.position = end;
                let from = (start - self.window_offset) as usize + FRAME_HEADER_BYTES;
                let to = (end - self.window_offset) as usize;
                return Ok(Some((kind, &self.window[from..to])));
            }
            let mut candidate = start + 1;
            let resync = loop {
                if candidate >= self.file_len {
                    break None;
                }
                if self.frame_at(candidate)?.is_some() {
                    break Some(candidate);
                }
                candidate += 1;
            };
            let end = resync.unwrap_or(self.file_len);
            self.damage.push(Damage { offset: start, len: end - start, is_tail: resync.is_none() });
            self.position = end;
        }
        Ok(None)
    }

    /// Rewrites a damaged segment, once every frame has been read, so that it holds exactly its
    /// valid frames: truncation for a torn tail, otherwise a copy of the valid regions to a
    /// temporary file that is synced and renamed over the segment.
    ///
    /// # Errors
    ///
    /// Returns an I/O error; the segment is then unchanged (or truncated at its torn tail).
    pub(crate) fn repair(mut self) -> Result<()> {
        let path = self.path.clone();
        if self.damage.is_empty() {
            return Ok(());
        }
        if let [only] = self.damage.as_slice()
            && only.is_tail
        {
            let file = OpenOptions::new().write(true).open(&path).map_err(Error::io("open wal segment", &path))?;
            file.set_len(only.offset).map_err(Error::io("truncate wal segment", &path))?;
            return file.sync_all().map_err(Error::io("sync wal segment", &path));
        }
        let temporary = path.with_extension("repair");
        let mut output = BufWriter::new(File::create(&temporary).map_err(Error::io("create", &temporary))?);
        for range in &self.valid {
            self.file.seek(SeekFrom::Start(range.start)).map_err(Error::io("seek wal segment", &path))?;
            let copied = std::io::copy(&mut (&mut self.file).take(range.end - range.start), &mut output)
                .map_err(Error::io("copy wal segment", &temporary))?;
            if copied != range.end - range.start {
                let error = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
                return Err(Error::io("read wal segment", &path)(error));
            }
        }
        let file = output.into_inner().map_err(|e| Error::io("write", &temporary)(e.into_error()))?;
        file.sync_all().map_err(Error::io("sync", &temporary))?;
        std::fs::rename(&temporary, &path).map_err(Error::io("rename", &path))?;
        match path.parent() {
            Some(dir) => crate::fsutil::sync_dir(dir),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any_type(kind: u8) -> bool {
        (1..=3).contains(&kind)
    }

    fn three_frames() -> Vec<u8> {
        let mut buffer = FrameBuffer::default();
        for payload in [b"aaaa".as_slice(), b"bbbbbb", b"cc"] {
            buffer.push(2, |out| out.extend_from_slice(payload));
        }
        buffer.bytes
    }

    /// Reads every frame of `path`; returns the payloads and the reader (for its damage).
    fn read(path: &Path) -> (Vec<Vec<u8>>, SegmentReader) {
        let mut reader = SegmentReader::open(path, any_type).unwrap();
        let mut payloads = Vec::new();
        while let Some((kind, payload)) = reader.next_frame().unwrap() {
            assert_eq!(kind, 2);
            payloads.push(payload.to_vec());
        }
        (payloads, reader)
    }

    #[test]
    fn torn_tail_is_reported_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000");
        let bytes = three_frames();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let (payloads, reader) = read(&path);
        assert_eq!(payloads, vec![b"aaaa".to_vec(), b"bbbbbb".to_vec()]);
        assert_eq!(reader.damage().len(), 1);
        assert!(reader.damage()[0].is_tail);
        assert_eq!(reader.damage()[0].len, (FRAME_HEADER_BYTES + 2 - 1) as u64);
        reader.repair().unwrap();
        let (payloads, reader) = read(&path);
        assert!(reader.damage().is_empty());
        assert_eq!(payloads.len(), 2);
    }

    #[test]
    fn corruption_in_the_middle_skips_only_the_damaged_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000");
        let mut bytes = three_frames();
        bytes[FRAME_HEADER_BYTES + 4 + FRAME_HEADER_BYTES + 2] ^= 0xff; // inside "bbbbbb"
        std::fs::write(&path, &bytes).unwrap();
        let (payloads, reader) = read(&path);
        assert_eq!(payloads, vec![b"aaaa".to_vec(), b"cc".to_vec()]);
        assert!(!reader.damage()[0].is_tail);
        reader.repair().unwrap();
        let (payloads, reader) = read(&path);
        assert!(reader.damage().is_empty());
        assert_eq!(payloads, vec![b"aaaa".to_vec(), b"cc".to_vec()]);
    }

    #[test]
    fn unknown_type_bytes_count_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000");
        let mut buffer = FrameBuffer::default();
        buffer.push(2, |out| out.extend_from_slice(b"kept"));
        buffer.push(9, |out| out.extend_from_slice(b"unknown"));
        buffer.push(2, |out| out.extend_from_slice(b"after"));
        std::fs::write(&path, buffer.as_bytes()).unwrap();
        let (payloads, reader) = read(&path);
        assert_eq!(payloads, vec![b"kept".to_vec(), b"after".to_vec()]);
        assert_eq!(reader.damage().len(), 1);
    }

    /// Frames larger than a read chunk, and damage across chunk boundaries, read back exactly:
    /// the window grows to a frame and slides over the file.
    #[test]
    fn segments_larger_than_the_read_window_stream_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000");
        let mut buffer = FrameBuffer::default();
        let mut expected = Vec::new();
        for i in 0..40usize {
            let len = if i % 10 == 3 { READ_CHUNK_BYTES + 4321 } else { 50_000 + i * 777 };
            let payload: Vec<u8> = (0..len).map(|j| (i * 31 + j * 7) as u8).collect();
            buffer.push(2, |out| out.extend_from_slice(&payload));
            expected.push(payload);
        }
        let mut bytes = buffer.as_bytes().to_vec();
        // Damage the frame that starts after the first 2 MiB.
        let frame_starts: Vec<usize> = expected
            .iter()
            .scan(0usize, |offset, payload| {
                let start = *offset;
                *offset += FRAME_HEADER_BYTES + payload.len();
                Some(start)
            })
            .collect();
        let damaged = frame_starts.iter().position(|&start| start > 2 * READ_CHUNK_BYTES).unwrap();
        bytes[frame_starts[damaged] + FRAME_HEADER_BYTES + 10] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let (payloads, reader) = read(&path);
        let mut want = expected.clone();
        want.remove(damaged);
        assert!(payloads == want, "payloads differ");
        assert_eq!(reader.damage().len(), 1);
        assert_eq!(reader.damage()[0].offset, frame_starts[damaged] as u64);
        assert!(reader.window.capacity() < 4 * READ_CHUNK_BYTES, "the window stays bounded");
        reader.repair().unwrap();
        let (payloads, reader) = read(&path);
        assert!(reader.damage().is_empty());
        assert!(payloads == want, "repair kept exactly the valid frames");
    }
}
