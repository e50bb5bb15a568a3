//! Writes a block: chunks streamed to the chunk file, then the index and meta, then the rename.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use panoptes_model::{Labels, Sample};
use panoptes_storage::SampleIterator;

use super::meta::{BlockMeta, BlockStats, Compaction};
use super::{CHUNKS_MAGIC, FORMAT_VERSION, INDEX_MAGIC, INDEX_VERSION};
use crate::chunkenc::{Encoding, MAX_SAMPLES_PER_BLOCK_CHUNK, TimeSource, encode_columnar, encode_time_column};
use crate::encoding::{Cursor, put_str, put_uvarint, put_varint};
use crate::error::{Error, Result};
use crate::head::U64Map;

pub(crate) const INDEX_FILE: &str = "index";
pub(crate) const CHUNKS_FILE: &str = "chunks";

/// Where a chunk is and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    /// Offset of the chunk entry in the chunk file.
    pub(crate) offset: u64,
}

/// Builds one block in a temporary directory; series must be added in label order.
///
/// Chunks go to the chunk file as series are added; what the index needs is kept compactly
/// (label strings and lists of label names once, series as value symbol numbers and chunk
/// metas in flat vectors, about 75 bytes per series of ten labels and one chunk) and the
/// index is written out by
/// [`BlockWriter::finish`] as it is encoded, so writing a block of many series holds no copy
/// of their label sets or of the index.
pub(crate) struct BlockWriter {
    id: String,
    final_dir: PathBuf,
    temporary_dir: PathBuf,
    chunks: BufWriter<File>,
    chunks_offset: u64,
    /// Every distinct label name and value, numbered in order of first appearance.
    symbols: HashMap<Arc<str>, u32>,
    /// Every distinct list of label names (as symbol numbers), numbered in order of first
    /// appearance: the series of one metric mostly share one.
    name_sets: HashMap<Box<[u32]>, u32>,
    /// The series added, in order: the number of each one's name list, their value symbol
    /// numbers one series after the other (as many as its list has names), their chunk metas
    /// (varints, [`ChunkMetaCoder`]) and where each series' metas end. All grow by an eighth
    /// ([`reserve_frugal`]): a compaction does not know its series count beforehand, and
    /// doubling left up to half of them unused at the process' peak memory.
    series_sets: Vec<u32>,
    series_values: Vec<u32>,
    series_chunks: Vec<u8>,
    series_chunk_ends: Vec<u32>,
    chunk_coder: ChunkMetaCoder,
    /// The names of the series being added, reused.
    names: Vec<u32>,
    /// The last series added (debug builds check the order).
    #[cfg(debug_assertions)]
    previous: Option<Labels>,
    stats: BlockStats,
    /// Time columns written inline so far and the offsets of their chunks, so that chunks with
    /// the same timestamps (series scraped together) point to one copy.
    time_columns: HashMap<Vec<u8>, u64>,
    /// Bytes of the keys of `time_columns`, bounded by [`TIME_COLUMNS_MAX_BYTES`].
    time_columns_bytes: usize,
}

/// Buffer of each file the writer writes: large enough pieces for the file system, and small,
/// as a head block is written when the process' memory peaks.
const WRITE_BUFFER_BYTES: usize = 256 << 10;

/// Memory the writer spends on remembering time columns; when full, it starts over (later
/// chunks share with newer columns only). 16 MiB hold about 100,000 jittered 240-sample
/// columns or millions of regular ones.
const TIME_COLUMNS_MAX_BYTES: usize = 16 << 20;

/// Makes room for `additional` more items, growing by an eighth of the length (at least 1024
/// items) when full: the writer's lists live until the index is written, at the process' peak
/// memory, and doubling leaves up to half of them unused.
fn reserve_frugal<T>(items: &mut Vec<T>, additional: usize) {
    if items.capacity() - items.len() < additional {
        items.reserve_exact(additional.max(items.len() / 8).max(1024));
    }
}

/// Encodes the chunk metas of the series a writer adds as varints (some 7 bytes a chunk
/// instead of 24): a chunk's start from the previous chunk's end in its series (the first
/// one's from the writer's first chunk), its length in time, its offset from the previous
/// chunk's offset in the writer (offsets only grow). A coder with the same `base`, fed the
/// same series in order, decodes them.
#[derive(Clone, Copy, Default)]
struct ChunkMetaCoder {
    /// The first chunk start the writer saw.
    base: Option<i64>,
    previous_max: i64,
    previous_offset: u64,
}

impl ChunkMetaCoder {
    /// The most bytes `put` writes: three varints of at most 10 bytes.
    const MAX_BYTES: usize = 3 * 10;

    fn start_series(&mut self) {
        self.previous_max = self.base.unwrap_or(0);
    }

    fn put(&mut self, out: &mut Vec<u8>, meta: &ChunkMeta) {
        if self.base.is_none() {
            self.base = Some(meta.min_t);
            self.previous_max = meta.min_t;
        }
        put_varint(out, meta.min_t.wrapping_sub(self.previous_max));
        put_uvarint(out, meta.max_t.wrapping_sub(meta.min_t) as u64);
        put_uvarint(out, meta.offset - self.previous_offset);
        (self.previous_max, self.previous_offset) = (meta.max_t, meta.offset);
    }

    /// Decodes one series' metas (the bytes `put` wrote for it) into `out`.
    fn read_series(&mut self, bytes: &[u8], out: &mut Vec<ChunkMeta>) {
        out.clear();
        let mut cursor = Cursor::at(bytes, 0);
        while !cursor.is_empty() {
            // The writer's own bytes: they always decode.
            let (Some(start), Some(length), Some(offset)) = (cursor.varint(), cursor.uvarint(), cursor.uvarint())
            else {
                break;
            };
            let min_t = self.previous_max.wrapping_add(start);
            let meta =
                ChunkMeta { min_t, max_t: min_t.wrapping_add(length as i64), offset: self.previous_offset + offset };
            (self.previous_max, self.previous_offset) = (meta.max_t, meta.offset);
            out.push(meta);
        }
    }
}

impl BlockWriter {
    /// Starts a block `id` below `parent`.
    pub(crate) fn create(parent: &Path, id: &str) -> Result<Self> {
        let final_dir = parent.join(id);
        let temporary_dir = parent.join(format!("{id}.tmp"));
        let _ = std::fs::remove_dir_all(&temporary_dir);
        std::fs::create_dir_all(&temporary_dir).map_err(Error::io("create block directory", &temporary_dir))?;
        let path = temporary_dir.join(CHUNKS_FILE);
        let file = File::create(&path).map_err(Error::io("create", &path))?;
        let mut chunks = BufWriter::with_capacity(WRITE_BUFFER_BYTES, file);
        chunks
            .write_all(CHUNKS_MAGIC)
            .and_then(|()| chunks.write_all(&[FORMAT_VERSION]))
            .map_err(Error::io("write", &path))?;
        Ok(Self {
            id: id.to_owned(),
            final_dir,
            temporary_dir,
            chunks,
            chunks_offset: 5,
            symbols: HashMap::new(),
            name_sets: HashMap::new(),
            series_sets: Vec::new(),
            series_values: Vec::new(),
            series_chunks: Vec::new(),
            series_chunk_ends: Vec::new(),
            chunk_coder: ChunkMetaCoder::default(),
            names: Vec::new(),
            #[cfg(debug_assertions)]
            previous: None,
            stats: BlockStats::default(),
            time_columns: HashMap::new(),
            time_columns_bytes: 0,
        })
    }

    fn write_chunk(&mut self, encoding: Encoding, bytes: &[u8]) -> Result<u64> {
        let offset = self.chunks_offset;
        let mut header = vec![encoding as u8];
        put_uvarint(&mut header, bytes.len() as u64);
        let crc = crc32fast::hash(bytes).to_le_bytes();
        let path = || self.temporary_dir.join(CHUNKS_FILE);
        for part in [header.as_slice(), bytes, &crc] {
            self.chunks.write_all(part).map_err(|e| Error::io("write", path())(e))?;
            self.chunks_offset += part.len() as u64;
        }
        self.stats.num_chunks += 1;
        Ok(offset)
    }

    /// Writes a columnar chunk, sharing the time column of an earlier chunk when it is the same.
    fn write_columnar_chunk(&mut self, samples: &[Sample]) -> Result<u64> {
        let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let column = encode_time_column(&times);
        // A regular column does not encode its length, so the count is part of the key.
        let mut key = (samples.len() as u16).to_be_bytes().to_vec();
        key.extend_from_slice(&column);
        if let Some(&owner) = self.time_columns.get(&key) {
            return self.write_chunk(Encoding::Columnar, &encode_columnar(samples, TimeSource::Shared(owner)));
        }
        let offset = self.write_chunk(Encoding::Columnar, &encode_columnar(samples, TimeSource::Inline(&column)))?;
        if self.time_columns_bytes + key.len() > TIME_COLUMNS_MAX_BYTES {
            self.time_columns.clear();
            self.time_columns_bytes = 0;
        }
        self.time_columns_bytes += key.len();
        self.time_columns.insert(key, offset);
        Ok(offset)
    }

    /// Encodes and adds a series' samples; a series without samples is skipped.
    ///
    /// # Panics
    ///
    /// Panics in debug builds when series are not added in label order.
    pub(crate) fn add_series(&mut self, labels: &Labels, samples: &mut dyn SampleIterator) -> Result<u64> {
        #[cfg(debug_assertions)]
        {
            assert!(self.previous.as_ref().is_none_or(|previous| previous < labels), "series out of order");
            self.previous = Some(labels.clone());
        }
        let (chunks_before, coder_before) = (self.series_chunks.len(), self.chunk_coder);
        self.chunk_coder.start_series();
        let mut buffer: Vec<Sample> = Vec::with_capacity(MAX_SAMPLES_PER_BLOCK_CHUNK);
        let mut count = 0u64;
        loop {
            let next = samples.next();
            if let Some(sample) = next {
                buffer.push(sample);
                count += 1;
            }
            let is_full = buffer.len() == MAX_SAMPLES_PER_BLOCK_CHUNK;
            if (is_full || next.is_none()) && !buffer.is_empty() {
                let offset = self.write_columnar_chunk(&buffer)?;
                let meta = ChunkMeta { min_t: buffer[0].t, max_t: buffer[buffer.len() - 1].t, offset };
                reserve_frugal(&mut self.series_chunks, ChunkMetaCoder::MAX_BYTES);
                self.chunk_coder.put(&mut self.series_chunks, &meta);
                buffer.clear();
            }
            if next.is_none() {
                break;
            }
        }
        if let Some(error) = samples.take_error() {
            self.series_chunks.truncate(chunks_before);
            self.chunk_coder = coder_before;
            return Err(Error::Storage(error));
        }
        if count > 0 {
            self.stats.num_samples += count;
            self.stats.num_series += 1;
            self.names.clear();
            reserve_frugal(&mut self.series_values, labels.len());
            for label in labels {
                let name = self.symbol(&label.name);
                self.names.push(name);
                let value = self.symbol(&label.value);
                self.series_values.push(value);
            }
            let set = match self.name_sets.get(self.names.as_slice()) {
                Some(&set) => set,
                None => {
                    let set = self.name_sets.len() as u32;
                    self.name_sets.insert(self.names.as_slice().into(), set);
                    set
                }
            };
            reserve_frugal(&mut self.series_sets, 1);
            self.series_sets.push(set);
            reserve_frugal(&mut self.series_chunk_ends, 1);
            let chunks_end = u32::try_from(self.series_chunks.len()).map_err(|_| {
                Error::io("add a series to", &self.temporary_dir)(std::io::Error::other(
                    "the block's chunk metas passed 4 GiB",
                ))
            })?;
            self.series_chunk_ends.push(chunks_end);
        }
        Ok(count)
    }

    /// Makes room for `series` more series with `labels` labels in all and one chunk each, so
    /// that a writer that knows them does not grow its vectors by doubling (up to half of
    /// them unused, at the moment the head is at its largest).
    pub(crate) fn reserve(&mut self, series: usize, labels: usize) {
        self.series_sets.reserve_exact(series);
        self.series_chunk_ends.reserve_exact(series);
        // A chunk's meta takes some 7 varint bytes (more for a series' first).
        self.series_chunks.reserve_exact(series * 8);
        self.series_values.reserve_exact(labels);
    }

    /// Returns the number of `text` in the symbol table, adding it when new.
    fn symbol(&mut self, text: &Arc<str>) -> u32 {
        let next_number = self.symbols.len() as u32;
        *self.symbols.entry(text.clone()).or_insert(next_number)
    }

    /// Returns whether no sample was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.series_sets.is_empty()
    }

    /// Writes the index and meta, syncs everything and moves the block into place.
    pub(crate) fn finish(mut self, min_time: i64, max_time: i64, compaction: Compaction) -> Result<BlockMeta> {
        let chunks_path = self.temporary_dir.join(CHUNKS_FILE);
        self.chunks.flush().map_err(Error::io("write", &chunks_path))?;
        self.chunks.get_ref().sync_all().map_err(Error::io("sync", &chunks_path))?;
        self.write_index(min_time)?;
        let meta =
            BlockMeta { ulid: self.id.clone(), min_time, max_time, stats: self.stats.clone(), compaction, version: 1 };
        meta.write(&self.temporary_dir)?;
        crate::fsutil::sync_dir(&self.temporary_dir)?;
        std::fs::rename(&self.temporary_dir, &self.final_dir).map_err(Error::io("rename block", &self.final_dir))?;
        if let Some(parent) = self.final_dir.parent() {
            crate::fsutil::sync_dir(parent)?;
        }
        Ok(meta)
    }

    /// Removes the unfinished block.
    pub(crate) fn abort(self) {
        let _ = std::fs::remove_dir_all(&self.temporary_dir);
    }
}

impl BlockWriter {
    /// Writes the index file (see docs/format/index.md) as it is encoded, and syncs it;
    /// `min_time` is the block's, which chunk start times are stored relative to. What a step no
    /// longer needs is freed before the next one allocates: a head block is written when the
    /// head is at its largest, so this is the moment of the process' peak memory.
    fn write_index(&mut self, min_time: i64) -> Result<()> {
        self.time_columns = HashMap::new();
        // Symbols are stored sorted; `renumber` maps a number of `self.symbols` to its place.
        let mut sorted: Vec<(&str, u32)> = self.symbols.iter().map(|(text, number)| (&**text, *number)).collect();
        sorted.sort_unstable();
        let mut renumber = vec![0u32; sorted.len()];
        for (place, (_, number)) in sorted.iter().enumerate() {
            renumber[*number as usize] = place as u32;
        }

        let path = self.temporary_dir.join(INDEX_FILE);
        let file = File::create(&path).map_err(Error::io("create", &path))?;
        let mut out = IndexOutput {
            file: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            crc: crc32fast::Hasher::new(),
            written: 0,
        };
        let mut entry = INDEX_MAGIC.to_vec();
        entry.push(INDEX_VERSION);
        out.write(&entry, &path)?;

        let symbols_offset = out.written;
        entry.clear();
        put_uvarint(&mut entry, sorted.len() as u64);
        for (text, _) in &sorted {
            put_str(&mut entry, text);
            if entry.len() >= 1 << 16 {
                out.write(&entry, &path)?;
                entry.clear();
            }
        }
        out.write(&entry, &path)?;
        drop(sorted);
        self.symbols = HashMap::new();

        // Name lists by number, their names as symbol places.
        let mut name_sets: Vec<Vec<u32>> = vec![Vec::new(); self.name_sets.len()];
        for (names, &number) in &self.name_sets {
            name_sets[number as usize] = names.iter().map(|&name| renumber[name as usize]).collect();
        }
        let name_sets_offset = out.written;
        entry.clear();
        put_uvarint(&mut entry, name_sets.len() as u64);
        for names in &name_sets {
            put_uvarint(&mut entry, names.len() as u64);
            for &name in names {
                put_uvarint(&mut entry, u64::from(name));
            }
        }
        out.write(&entry, &path)?;

        // Series entries, counting the series of each (name, value) pair for the postings.
        let series_offset = out.written;
        let mut references = Vec::with_capacity(self.series_sets.len());
        // Keyed by `name << 32 | value`, with the head's integer hasher (SipHash took tens of
        // milliseconds per head block here).
        let pair_key = |name: u32, value: u32| u64::from(name) << 32 | u64::from(value);
        let mut pair_counts: U64Map<u32> = U64Map::default();
        let (mut values_start, mut chunks_start) = (0, 0);
        let mut decoder = ChunkMetaCoder { base: self.chunk_coder.base, ..ChunkMetaCoder::default() };
        let mut chunks: Vec<ChunkMeta> = Vec::new();
        for (&set, &chunks_end) in self.series_sets.iter().zip(&self.series_chunk_ends) {
            let chunks_end = chunks_end as usize;
            references.push(out.written);
            entry.clear();
            put_uvarint(&mut entry, u64::from(set));
            let names = &name_sets[set as usize];
            let values = &self.series_values[values_start..values_start + names.len()];
            for (&name, &value) in names.iter().zip(values) {
                let value = renumber[value as usize];
                put_uvarint(&mut entry, u64::from(value));
                *pair_counts.entry(pair_key(name, value)).or_default() += 1;
            }
            decoder.start_series();
            decoder.read_series(&self.series_chunks[chunks_start..chunks_end], &mut chunks);
            put_uvarint(&mut entry, chunks.len() as u64);
            let mut previous_max = min_time;
            let mut previous_offset = 0u64;
            for chunk in &chunks {
                put_varint(&mut entry, chunk.min_t.wrapping_sub(previous_max));
                put_uvarint(&mut entry, chunk.max_t.wrapping_sub(chunk.min_t) as u64);
                put_uvarint(&mut entry, chunk.offset - previous_offset);
                previous_max = chunk.max_t;
                previous_offset = chunk.offset;
            }
            out.write(&entry, &path)?;
            (values_start, chunks_start) = (values_start + names.len(), chunks_end);
        }
        self.series_chunks = Vec::new();
        self.series_chunk_ends = Vec::new();

        // Postings lists by (name, value), each in series order: a counting sort of the series
        // by pair (4 bytes per label; sorting (name, value, series) triples took 12), one label
        // name at a time, so that only one name's lists are held (the whole block's were as
        // large as `series_values`, at the moment of the process' peak memory).
        // The pairs in order; each pair's count in the map becomes its place in that order.
        let mut pairs: Vec<(u32, u32)> = pair_counts.keys().map(|&key| ((key >> 32) as u32, key as u32)).collect();
        pairs.sort_unstable();
        let mut starts = Vec::with_capacity(pairs.len() + 1);
        let mut total = 0usize;
        for (slot, &(name, value)) in pairs.iter().enumerate() {
            let count = pair_counts.get_mut(&pair_key(name, value)).expect("a counted pair");
            starts.push(total);
            total += *count as usize;
            *count = slot as u32;
        }
        starts.push(total);
        let slots = pair_counts;
        let postings_offset = out.written;
        let mut table: Vec<(u32, u32, u64)> = Vec::with_capacity(pairs.len());
        let mut first_slot = 0;
        while first_slot < pairs.len() {
            let name = pairs[first_slot].0;
            let end_slot = first_slot + pairs[first_slot..].partition_point(|&(other, _)| other == name);
            // Where `name` is among each name list's names.
            let positions: Vec<Option<usize>> =
                name_sets.iter().map(|names| names.iter().position(|&other| other == name)).collect();
            let base = starts[first_slot];
            let mut members = vec![0u32; starts[end_slot] - base];
            let mut next: Vec<usize> = starts[first_slot..end_slot].iter().map(|&start| start - base).collect();
            values_start = 0;
            for (series, &set) in self.series_sets.iter().enumerate() {
                if let Some(position) = positions[set as usize] {
                    let value = renumber[self.series_values[values_start + position] as usize];
                    let slot = slots[&pair_key(name, value)] as usize - first_slot;
                    members[next[slot]] = series as u32;
                    next[slot] += 1;
                }
                values_start += name_sets[set as usize].len();
            }
            for (slot, &(name, value)) in pairs.iter().enumerate().take(end_slot).skip(first_slot) {
                table.push((name, value, out.written));
                entry.clear();
                let list = &members[starts[slot] - base..starts[slot + 1] - base];
                put_postings(&mut entry, list.iter().map(|&series| references[series as usize]), list.len());
                out.write(&entry, &path)?;
            }
            first_slot = end_slot;
        }
        drop(slots);
        let all_offset = out.written;
        entry.clear();
        put_postings(&mut entry, references.iter().copied(), references.len());
        out.write(&entry, &path)?;
        let table_offset = out.written;
        entry.clear();
        put_uvarint(&mut entry, table.len() as u64);
        for (name, value, offset) in table {
            put_uvarint(&mut entry, u64::from(name));
            put_uvarint(&mut entry, u64::from(value));
            put_uvarint(&mut entry, offset);
        }
        for offset in [symbols_offset, name_sets_offset, series_offset, postings_offset, table_offset, all_offset] {
            entry.extend_from_slice(&offset.to_le_bytes());
        }
        out.write(&entry, &path)?;
        let crc = out.crc.clone().finalize().to_le_bytes();
        out.file.write_all(&crc).map_err(Error::io("write", &path))?;
        let file = out.file.into_inner().map_err(|e| Error::io("write", &path)(e.into_error()))?;
        file.sync_all().map_err(Error::io("sync", &path))
    }
}

/// The index file being written, with the checksum and length of what it holds so far.
struct IndexOutput {
    file: BufWriter<File>,
    crc: crc32fast::Hasher,
    written: u64,
}

impl IndexOutput {
    fn write(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        self.file.write_all(bytes).map_err(Error::io("write", path))
    }
}

fn put_postings(out: &mut Vec<u8>, references: impl Iterator<Item = u64>, count: usize) {
    put_uvarint(out, count as u64);
    let mut previous = 0;
    for reference in references {
        put_uvarint(out, reference - previous);
        previous = reference;
    }
}

#[cfg(test)]
mod tests {
    use panoptes_storage::{VecSampleIterator, collect_samples};

    use super::*;
    use crate::block::Block;
    use crate::postings::PostingsSource;

    #[test]
    fn chunk_metas_decode_as_written_series_by_series() {
        // Series starting before the writer's first chunk, several chunks, large offsets.
        let series: Vec<Vec<ChunkMeta>> = vec![
            vec![ChunkMeta { min_t: 1_000_000, max_t: 1_059_000, offset: 5 }],
            vec![
                ChunkMeta { min_t: 400_000, max_t: 999_000, offset: 90 },
                ChunkMeta { min_t: 1_000_000, max_t: 1_600_000, offset: 4_000_000_000 },
            ],
            vec![ChunkMeta { min_t: i64::MAX - 10, max_t: i64::MAX, offset: 4_000_000_100 }],
        ];
        let mut coder = ChunkMetaCoder::default();
        let (mut bytes, mut ends) = (Vec::new(), Vec::new());
        for metas in &series {
            coder.start_series();
            for meta in metas {
                coder.put(&mut bytes, meta);
            }
            ends.push(bytes.len());
        }
        let mut decoder = ChunkMetaCoder { base: coder.base, ..ChunkMetaCoder::default() };
        let mut start = 0;
        let mut read = Vec::new();
        for (metas, &end) in series.iter().zip(&ends) {
            decoder.start_series();
            decoder.read_series(&bytes[start..end], &mut read);
            let pairs: Vec<(i64, i64, u64)> = read.iter().map(|c| (c.min_t, c.max_t, c.offset)).collect();
            let expected: Vec<(i64, i64, u64)> = metas.iter().map(|c| (c.min_t, c.max_t, c.offset)).collect();
            assert_eq!(pairs, expected);
            start = end;
        }
    }

    #[test]
    fn chunks_with_equal_timestamps_share_one_time_column_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let regular = |count: i64, step: f64| -> Vec<Sample> {
            (0..count).map(|i| Sample::new(1_000 + i * 10_000, i as f64 * step)).collect()
        };
        // Series 0 and 1 have the same timestamps; series 2 the same start and interval but
        // fewer samples (a regular column does not encode its length); series 3 its own.
        let mut series = vec![regular(300, 1.5), regular(300, 2.0), regular(20, 3.0), regular(300, 0.1)];
        series[3][7].t += 3;
        let mut writer = BlockWriter::create(dir.path(), "block").unwrap();
        for (i, samples) in series.iter().enumerate() {
            let labels = Labels::from_pairs([("__name__", "m"), ("i", &*i.to_string())]);
            writer.add_series(&labels, &mut VecSampleIterator::new(samples.clone())).unwrap();
        }
        writer.finish(0, 10_000_000, Compaction { level: 1, sources: vec!["block".to_owned()] }).unwrap();
        let block = Block::open(&dir.path().join("block")).unwrap();
        let mut shared = Vec::new();
        for (reference, expected) in block.all_postings().into_iter().zip(&series) {
            let (_, metas) = block.series(reference).unwrap();
            shared.push(metas.iter().map(|m| block.chunk(m).unwrap().shared_times.is_some()).collect::<Vec<_>>());
            let mut iterator = block.series_iterator(reference, &metas, i64::MIN, i64::MAX).unwrap().unwrap();
            assert_eq!(&collect_samples(iterator.as_mut()), expected);
        }
        assert_eq!(shared, vec![vec![false, false], vec![true, true], vec![false], vec![false, true]]);
    }

    #[test]
    fn series_with_different_label_names_read_back_with_their_own_names() {
        let dir = tempfile::tempdir().unwrap();
        // Two metrics share names, one has other names, one fewer: three name lists.
        let series = [
            Labels::from_pairs([("__name__", "a"), ("instance", "x:1"), ("job", "node")]),
            Labels::from_pairs([("__name__", "a"), ("instance", "x:2"), ("job", "node")]),
            Labels::from_pairs([("__name__", "b"), ("code", "200"), ("instance", "x:1")]),
            Labels::from_pairs([("__name__", "c")]),
        ];
        let mut writer = BlockWriter::create(dir.path(), "block").unwrap();
        for labels in &series {
            writer.add_series(labels, &mut VecSampleIterator::new(vec![Sample::new(5_000, 1.0)])).unwrap();
        }
        assert_eq!(writer.name_sets.len(), 3);
        writer.finish(1_000, 10_000, Compaction { level: 1, sources: vec!["block".to_owned()] }).unwrap();
        let block = Block::open(&dir.path().join("block")).unwrap();
        let read: Vec<(Labels, Vec<ChunkMeta>)> =
            block.all_postings().into_iter().map(|reference| block.series(reference).unwrap()).collect();
        assert_eq!(read.iter().map(|(labels, _)| labels.clone()).collect::<Vec<_>>(), series);
        // Chunk times are stored relative to the block's start and read back absolute.
        assert!(read.iter().all(|(_, metas)| metas.len() == 1 && metas[0].min_t == 5_000 && metas[0].max_t == 5_000));
        assert_eq!(block.postings("instance", "x:1").len(), 2);
    }
}
