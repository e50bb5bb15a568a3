//! Framing of records inside WAL segment files, and reading segments back with repair.
//!
//! Never interprets record payloads; see record.rs and docs/format/wal.md. A frame is
//! `len: u32 LE | crc: u32 LE | type: u8 | payload[len]`, the CRC-32 covering type and payload.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::encoding::Cursor;
use crate::error::{Error, Result};

/// Bytes before a frame's payload.
pub(crate) const FRAME_HEADER_BYTES: usize = 9;

/// A record larger than this is taken as a corrupt length: no batch we write comes close.
const MAX_RECORD_BYTES: usize = 64 << 20;

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

/// The valid frames of one segment and the damaged regions between them.
#[derive(Debug, Default)]
pub(crate) struct SegmentContents {
    /// (type, payload range) of each valid frame.
    pub(crate) frames: Vec<(u8, std::ops::Range<usize>)>,
    pub(crate) damage: Vec<Damage>,
    pub(crate) bytes: Vec<u8>,
}

/// Tries to parse a valid frame at `offset`; returns (type, payload range, next offset).
fn frame_at(data: &[u8], offset: usize) -> Option<(u8, std::ops::Range<usize>, usize)> {
    let mut cursor = Cursor::at(data, offset);
    let len = cursor.u32_le()? as usize;
    let crc = cursor.u32_le()?;
    if len > MAX_RECORD_BYTES {
        return None;
    }
    let kind_at = offset + 8;
    let end = kind_at.checked_add(1 + len)?;
    let covered = data.get(kind_at..end)?;
    if crc32fast::hash(covered) != crc || !super::record::is_known_type(covered[0]) {
        return None;
    }
    Some((covered[0], kind_at + 1..end, end))
}

/// Reads a whole segment, skipping damaged regions: after a bad frame it searches forward for
/// the next valid one, so corruption in the middle costs only the damaged records.
pub(crate) fn read_segment(path: &Path) -> Result<SegmentContents> {
    let bytes = std::fs::read(path).map_err(Error::io("read wal segment", path))?;
    let mut contents = SegmentContents::default();
    let mut offset = 0;
    while offset < bytes.len() {
        if let Some((kind, payload, next)) = frame_at(&bytes, offset) {
            contents.frames.push((kind, payload));
            offset = next;
            continue;
        }
        let resync = (offset + 1..bytes.len()).find(|&candidate| frame_at(&bytes, candidate).is_some());
        let end = resync.unwrap_or(bytes.len());
        contents.damage.push(Damage { offset: offset as u64, len: (end - offset) as u64, is_tail: resync.is_none() });
        offset = end;
    }
    contents.bytes = bytes;
    Ok(contents)
}

/// Rewrites a damaged segment so that it holds exactly its valid frames: truncation for a torn
/// tail, a rewrite through a temporary file and rename otherwise.
pub(crate) fn repair_segment(path: &Path, contents: &SegmentContents) -> Result<()> {
    if contents.damage.is_empty() {
        return Ok(());
    }
    if let [only] = contents.damage.as_slice()
        && only.is_tail
    {
        let file = OpenOptions::new().write(true).open(path).map_err(Error::io("open wal segment", path))?;
        file.set_len(only.offset).map_err(Error::io("truncate wal segment", path))?;
        return file.sync_all().map_err(Error::io("sync wal segment", path));
    }
    let temporary = path.with_extension("repair");
    let mut file = File::create(&temporary).map_err(Error::io("create", &temporary))?;
    for (_, payload) in &contents.frames {
        let frame = &contents.bytes[payload.start - FRAME_HEADER_BYTES..payload.end];
        file.write_all(frame).map_err(Error::io("write", &temporary))?;
    }
    file.sync_all().map_err(Error::io("sync", &temporary))?;
    std::fs::rename(&temporary, path).map_err(Error::io("rename", path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three_frames() -> Vec<u8> {
        let mut buffer = FrameBuffer::default();
        for payload in [b"aaaa".as_slice(), b"bbbbbb", b"cc"] {
            buffer.push(2, |out| out.extend_from_slice(payload));
        }
        buffer.bytes
    }

    fn payloads(contents: &SegmentContents) -> Vec<&[u8]> {
        contents.frames.iter().map(|(_, range)| &contents.bytes[range.clone()]).collect()
    }

    #[test]
    fn torn_tail_is_reported_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000");
        let bytes = three_frames();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        let contents = read_segment(&path).unwrap();
        assert_eq!(payloads(&contents), vec![b"aaaa".as_slice(), b"bbbbbb"]);
        assert_eq!(contents.damage.len(), 1);
        assert!(contents.damage[0].is_tail);
        assert_eq!(contents.damage[0].len, (FRAME_HEADER_BYTES + 2 - 1) as u64);
        repair_segment(&path, &contents).unwrap();
        let again = read_segment(&path).unwrap();
        assert!(again.damage.is_empty());
        assert_eq!(again.frames.len(), 2);
    }

    #[test]
    fn corruption_in_the_middle_skips_only_the_damaged_frame() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000");
        let mut bytes = three_frames();
        bytes[FRAME_HEADER_BYTES + 4 + FRAME_HEADER_BYTES + 2] ^= 0xff; // inside "bbbbbb"
        std::fs::write(&path, &bytes).unwrap();
        let contents = read_segment(&path).unwrap();
        assert_eq!(payloads(&contents), vec![b"aaaa".as_slice(), b"cc"]);
        assert!(!contents.damage[0].is_tail);
        repair_segment(&path, &contents).unwrap();
        let again = read_segment(&path).unwrap();
        assert!(again.damage.is_empty());
        assert_eq!(payloads(&again), vec![b"aaaa".as_slice(), b"cc"]);
    }
}
