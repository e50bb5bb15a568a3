//! Closed head chunks on disk, read back through memory maps.
//!
//! A closed head chunk never changes, and queries of recent data read mostly the open ones, so
//! closed chunks need not stay in the heap (they were a quarter of it under remote write,
//! bench/RESULTS.md). As Prometheus does with its `chunks_head` files, their bytes go to
//! segment files in `head_chunks/` and are read through a map of each file; what the process
//! keeps per chunk is a reference (segment, offset, length).
//!
//! The files are a cache of what the WAL holds: the directory is emptied when the database
//! opens (replaying the WAL writes the chunks again) and when it closes, and a segment's file
//! is removed as soon as no chunk refers to it (the last reference drops the segment). Reads
//! that must not grow the process' resident memory, the block writer's, copy a chunk with
//! `pread` instead of touching the map (mapped pages count as the process' memory, pages read
//! into the page cache do not). Writes are buffered per segment; a chunk still in the buffer is
//! copied from it. When the directory cannot be written (no space, no permission), chunks stay
//! in memory, as all chunks did before, and a warning says so once.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use memmap2::{Mmap, MmapOptions};
use parking_lot::Mutex;
use tracing::warn;

use super::TimeColumn;
use crate::chunkenc::Encoding;
use crate::error::{Error, Result};
use crate::iterator::ChunkBytes;

/// The directory of the head's chunk files, in the data directory.
pub(crate) const HEAD_CHUNKS_DIR: &str = "head_chunks";

/// The most bytes one segment file holds: small enough that a segment's file is removed soon
/// after its chunks' range was written to a block (it lives as long as its newest chunk),
/// large enough that files are few (a chunk is some tens to hundreds of bytes).
const SEGMENT_BYTES: u32 = 16 << 20;

/// The bytes a segment buffers before it writes them to its file.
const BUFFER_BYTES: usize = 64 << 10;

/// One segment file and its map.
pub(crate) struct Segment {
    file: File,
    /// Maps `SEGMENT_BYTES`, more than the file holds; only bytes below `written` are read.
    map: Mmap,
    path: PathBuf,
    /// Bytes written to the file (the buffered ones follow).
    written: AtomicU32,
    /// Bytes not yet written, from offset `written` on. After a failed write they stay here
    /// (and the segment takes no more chunks): the chunks referring to them read them here.
    pending: Mutex<Vec<u8>>,
}

impl Segment {
    fn create(dir: &Path, index: u64) -> Result<Segment> {
        let path = dir.join(format!("{index:08}"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(Error::io("create head chunk file", &path))?;
        #[allow(unsafe_code)] // mapping a file, as block/reader.rs does
        // SAFETY: the file is this process' own (created here, in the locked data directory)
        // and is never truncated while mapped. The map is longer than the file; reads stay
        // below `written`, the bytes the file holds.
        let map = unsafe { MmapOptions::new().len(SEGMENT_BYTES as usize).map(&file) }
            .map_err(Error::io("map head chunk file", &path))?;
        Ok(Segment { file, map, path, written: AtomicU32::new(0), pending: Mutex::new(Vec::new()) })
    }

    /// Writes the buffered bytes to the file. On failure they stay buffered.
    fn flush(&self, pending: &mut Vec<u8>) -> std::io::Result<()> {
        if pending.is_empty() {
            return Ok(());
        }
        let written = self.written.load(Ordering::Acquire);
        self.file.write_all_at(pending, u64::from(written))?;
        // Bytes below the new mark are in the file (the page cache), where the map sees them.
        self.written.store(written + pending.len() as u32, Ordering::Release);
        pending.clear();
        Ok(())
    }

    /// Returns the mapped bytes at `offset`, which [`ChunkData::for_query`] found in the file.
    pub(crate) fn slice(&self, offset: u32, len: u32) -> &[u8] {
        &self.map[offset as usize..(offset + len) as usize]
    }

    /// Returns the mapped bytes at `offset`, when the file holds them.
    fn mapped(&self, offset: u32, len: u32) -> Option<&[u8]> {
        let end = offset + len;
        (end <= self.written.load(Ordering::Acquire)).then(|| &self.map[offset as usize..end as usize])
    }

    /// Returns a copy of the bytes at `offset`, read without touching the map.
    fn copy(&self, offset: u32, len: u32) -> Vec<u8> {
        let mut bytes = vec![0; len as usize];
        if offset + len <= self.written.load(Ordering::Acquire) {
            match self.file.read_exact_at(&mut bytes, u64::from(offset)) {
                Ok(()) => return bytes,
                Err(error) => {
                    warn!(file = %self.path.display(), offset, error = %error, "head chunk read failed; reading its map");
                }
            }
        }
        bytes.copy_from_slice(self.bytes(offset, len).as_ref());
        bytes
    }

    /// Returns the bytes at `offset`: mapped, or copied from the buffer.
    fn bytes(&self, offset: u32, len: u32) -> std::borrow::Cow<'_, [u8]> {
        if let Some(bytes) = self.mapped(offset, len) {
            return std::borrow::Cow::Borrowed(bytes);
        }
        let pending = self.pending.lock();
        // Written meanwhile: the file has them now.
        let written = self.written.load(Ordering::Acquire);
        if offset + len <= written {
            return std::borrow::Cow::Borrowed(&self.map[offset as usize..(offset + len) as usize]);
        }
        let start = (offset - written) as usize;
        std::borrow::Cow::Owned(pending[start..start + len as usize].to_vec())
    }

    /// Returns the offset just past the last byte, buffered ones included.
    fn end(&self, pending: &[u8]) -> u32 {
        self.written.load(Ordering::Acquire) + pending.len() as u32
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // No chunk refers to the segment any more.
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            warn!(file = %self.path.display(), error = %error, "could not remove a head chunk file");
        }
    }
}

/// Where a closed head chunk's bytes are, with its encoding (kept here, in the enum's padding,
/// so that a head chunk stays 48 bytes).
pub(crate) enum ChunkData {
    Memory { bytes: Arc<[u8]>, encoding: Encoding },
    File { segment: Arc<Segment>, offset: u32, len: u32, encoding: Encoding },
}

impl ChunkData {
    pub(crate) fn encoding(&self) -> Encoding {
        match self {
            ChunkData::Memory { encoding, .. } | ChunkData::File { encoding, .. } => *encoding,
        }
    }

    /// Returns the bytes, copied from a file without mapping them (a block writer's read).
    pub(crate) fn copied(&self) -> Arc<[u8]> {
        match self {
            ChunkData::Memory { bytes, .. } => bytes.clone(),
            ChunkData::File { segment, offset, len, .. } => segment.copy(*offset, *len).into(),
        }
    }

    /// Returns the bytes as a query reads them: from the map when the file holds them, else
    /// a copy; with the time column a columnar chunk shares.
    pub(crate) fn for_query(&self, times: Option<&Arc<TimeColumn>>) -> ChunkBytes {
        let memory = |bytes: Arc<[u8]>| match times {
            Some(times) => ChunkBytes::SharedTimes(bytes, times.clone()),
            None => ChunkBytes::Shared(bytes),
        };
        match self {
            ChunkData::Memory { bytes, .. } => memory(bytes.clone()),
            ChunkData::File { segment, offset, len, .. } => match segment.mapped(*offset, *len) {
                Some(_) => ChunkBytes::HeadFile(segment.clone(), *offset, *len, times.cloned()),
                None => memory(segment.bytes(*offset, *len).into()),
            },
        }
    }
}

/// Stores the closed chunks of one head: in segment files, or in memory when the head has no
/// directory (a read-only database, tests) or the directory cannot be written.
pub(crate) struct ChunkStore {
    dir: Option<PathBuf>,
    /// The segment taking new chunks.
    current: Mutex<Option<Arc<Segment>>>,
    next_index: AtomicU64,
    /// Whether a failure has been reported since chunks last went to a file.
    warned: AtomicBool,
}

impl ChunkStore {
    /// A store keeping every chunk in memory.
    pub(crate) fn memory() -> ChunkStore {
        ChunkStore::with_dir(None)
    }

    /// A store writing segments to `dir`, which it empties first (its files are a cache of the
    /// WAL, from an earlier run of the process).
    pub(crate) fn open(dir: &Path) -> Result<ChunkStore> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(Error::io("remove old head chunk files", dir))?;
        }
        std::fs::create_dir_all(dir).map_err(Error::io("create head chunk directory", dir))?;
        Ok(ChunkStore::with_dir(Some(dir.to_owned())))
    }

    fn with_dir(dir: Option<PathBuf>) -> ChunkStore {
        ChunkStore { dir, current: Mutex::new(None), next_index: AtomicU64::new(1), warned: AtomicBool::new(false) }
    }

    /// Stores a closed chunk's bytes.
    pub(crate) fn store(&self, encoding: Encoding, bytes: Vec<u8>) -> ChunkData {
        match self.store_in_file(encoding, &bytes) {
            Some(data) => data,
            None => ChunkData::Memory { bytes: bytes.into(), encoding },
        }
    }

    fn store_in_file(&self, encoding: Encoding, bytes: &[u8]) -> Option<ChunkData> {
        let dir = self.dir.as_ref()?;
        let len = u32::try_from(bytes.len()).ok().filter(|&len| len <= SEGMENT_BYTES / 4)?;
        let mut current = self.current.lock();
        loop {
            if let Some(segment) = current.as_ref() {
                let mut pending = segment.pending.lock();
                let offset = segment.end(&pending);
                // A segment whose write failed keeps its buffer and takes no more chunks.
                let is_stuck = pending.len() >= BUFFER_BYTES;
                if !is_stuck && offset.checked_add(len).is_some_and(|end| end <= SEGMENT_BYTES) {
                    pending.extend_from_slice(bytes);
                    if pending.len() >= BUFFER_BYTES
                        && let Err(error) = segment.flush(&mut pending)
                    {
                        self.warn_once("write", &segment.path, &error.to_string());
                    }
                    return Some(ChunkData::File { segment: segment.clone(), offset, len, encoding });
                }
                if let Err(error) = segment.flush(&mut pending) {
                    self.warn_once("write", &segment.path, &error.to_string());
                }
            }
            // The segment is full (or stuck, or there is none): a new one.
            let index = self.next_index.fetch_add(1, Ordering::Relaxed);
            match Segment::create(dir, index) {
                Ok(segment) => {
                    *current = Some(Arc::new(segment));
                    self.warned.store(false, Ordering::Relaxed);
                }
                Err(error) => {
                    *current = None;
                    self.warn_once("create", dir, &error.to_string());
                    return None;
                }
            }
        }
    }

    fn warn_once(&self, what: &str, path: &Path, error: &str) {
        if !self.warned.swap(true, Ordering::Relaxed) {
            warn!(path = %path.display(), error, "could not {what} a head chunk file; closed head chunks stay in memory until it works again");
        }
    }

    /// Writes the buffered bytes of the current segment (tests; closing removes the files).
    #[cfg(test)]
    pub(crate) fn flush(&self) {
        if let Some(segment) = self.current.lock().as_ref() {
            segment.flush(&mut segment.pending.lock()).expect("flush head chunk file");
        }
    }

    /// Removes the files: the database is closed, and their chunks are in the WAL's
    /// checkpoint. Maps stay valid for a reader still holding one.
    pub(crate) fn remove_files(&self) {
        let Some(dir) = &self.dir else { return };
        *self.current.lock() = None;
        if let Err(error) = std::fs::remove_dir_all(dir)
            && error.kind() != std::io::ErrorKind::NotFound
        {
            warn!(dir = %dir.display(), error = %error, "could not remove the head chunk files");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_many(store: &ChunkStore, count: usize) -> Vec<(Vec<u8>, ChunkData)> {
        (0..count)
            .map(|i| {
                let bytes: Vec<u8> = (0..(50 + i % 200)).map(|b| (b * 31 + i) as u8).collect();
                let data = store.store(Encoding::Columnar, bytes.clone());
                (bytes, data)
            })
            .collect()
    }

    fn source_bytes(data: &ChunkData) -> Vec<u8> {
        data.for_query(None).as_ref().to_vec()
    }

    fn is_mapped(data: &ChunkData) -> bool {
        matches!(data.for_query(None), ChunkBytes::HeadFile(..))
    }

    #[test]
    fn chunks_read_back_from_buffer_file_and_map() {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(&dir.path().join(HEAD_CHUNKS_DIR)).unwrap();
        // About 1.7 MB: many buffer flushes, the last chunks still buffered.
        let chunks = store_many(&store, 12_000);
        assert!(chunks.iter().all(|(_, data)| matches!(data, ChunkData::File { .. })));
        assert!(chunks.iter().any(|(_, data)| is_mapped(data)));
        assert!(!is_mapped(&chunks.last().unwrap().1), "the newest is buffered");
        for (bytes, data) in &chunks {
            assert_eq!(&*data.copied(), &bytes[..]);
            assert_eq!(source_bytes(data), *bytes);
            assert_eq!(data.encoding(), Encoding::Columnar);
        }
        store.flush();
        assert!(chunks.iter().all(|(_, data)| is_mapped(data)));
        for (bytes, data) in &chunks {
            assert_eq!(source_bytes(data), *bytes);
        }
    }

    #[test]
    fn a_segment_file_goes_with_its_last_chunk() {
        let dir = tempfile::tempdir().unwrap();
        let chunk_dir = dir.path().join(HEAD_CHUNKS_DIR);
        std::fs::create_dir_all(&chunk_dir).unwrap();
        std::fs::write(chunk_dir.join("00000007"), b"left by an earlier run").unwrap();
        let store = ChunkStore::open(&chunk_dir).unwrap();
        assert_eq!(std::fs::read_dir(&chunk_dir).unwrap().count(), 0, "emptied at open");
        // Fills more than one segment (16 MiB): 100 k chunks of about 250 bytes.
        let mut chunks: Vec<ChunkData> =
            (0..100_000).map(|i| store.store(Encoding::Xor, vec![(i % 251) as u8; 250])).collect();
        let files = || std::fs::read_dir(&chunk_dir).unwrap().count();
        assert_eq!(files(), 2);
        // The first segment's chunks (67,108 of them) go; its file with them. The current one stays.
        chunks.drain(..70_000);
        assert_eq!(files(), 1);
        assert!(chunks.iter().all(|data| data.copied().iter().all(|&b| b == data.copied()[0])));
        for (index, data) in chunks.iter().enumerate() {
            assert_eq!(&*data.copied(), &[((70_000 + index) % 251) as u8; 250][..], "chunk {index}");
        }
        store.remove_files();
        assert!(!chunk_dir.exists());
        // A reader holding a chunk still reads it.
        assert_eq!(&*chunks[0].copied(), &[(70_000 % 251) as u8; 250][..]);
    }

    #[test]
    fn chunks_stay_in_memory_when_the_directory_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let chunk_dir = dir.path().join(HEAD_CHUNKS_DIR);
        let store = ChunkStore::open(&chunk_dir).unwrap();
        std::fs::remove_dir_all(&chunk_dir).unwrap();
        let data = store.store(Encoding::Xor, vec![1, 2, 3]);
        assert!(matches!(data, ChunkData::Memory { .. }));
        assert_eq!(&*data.copied(), &[1, 2, 3]);
        // It works again once the directory is back.
        std::fs::create_dir_all(&chunk_dir).unwrap();
        assert!(matches!(store.store(Encoding::Xor, vec![4]), ChunkData::File { .. }));
        assert!(matches!(ChunkStore::memory().store(Encoding::Xor, vec![5]), ChunkData::Memory { .. }));
    }
}
