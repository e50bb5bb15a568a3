//! Writes a block: chunks streamed to the chunk file, then the index and meta, then the rename.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use panoptes_model::{Labels, Sample};
use panoptes_storage::SampleIterator;

use super::meta::{BlockMeta, BlockStats, Compaction, write_synced};
use super::{CHUNKS_MAGIC, FORMAT_VERSION, INDEX_MAGIC};
use crate::chunkenc::{Encoding, MAX_SAMPLES_PER_BLOCK_CHUNK, TimeSource, encode_columnar, encode_time_column};
use crate::encoding::{put_str, put_uvarint, put_varint};
use crate::error::{Error, Result};

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
pub(crate) struct BlockWriter {
    id: String,
    final_dir: PathBuf,
    temporary_dir: PathBuf,
    chunks: BufWriter<File>,
    chunks_offset: u64,
    series: Vec<(Labels, Vec<ChunkMeta>)>,
    stats: BlockStats,
    /// Time columns written inline so far and the offsets of their chunks, so that chunks with
    /// the same timestamps (series scraped together) point to one copy.
    time_columns: HashMap<Vec<u8>, u64>,
    /// Bytes of the keys of `time_columns`, bounded by [`TIME_COLUMNS_MAX_BYTES`].
    time_columns_bytes: usize,
}

/// Memory the writer spends on remembering time columns; when full, it starts over (later
/// chunks share with newer columns only). 16 MiB hold about 100,000 jittered 240-sample
/// columns or millions of regular ones.
const TIME_COLUMNS_MAX_BYTES: usize = 16 << 20;

impl BlockWriter {
    /// Starts a block `id` below `parent`.
    pub(crate) fn create(parent: &Path, id: &str) -> Result<Self> {
        let final_dir = parent.join(id);
        let temporary_dir = parent.join(format!("{id}.tmp"));
        let _ = std::fs::remove_dir_all(&temporary_dir);
        std::fs::create_dir_all(&temporary_dir).map_err(Error::io("create block directory", &temporary_dir))?;
        let path = temporary_dir.join(CHUNKS_FILE);
        let file = File::create(&path).map_err(Error::io("create", &path))?;
        let mut chunks = BufWriter::with_capacity(1 << 20, file);
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
            series: Vec::new(),
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
        debug_assert!(self.series.last().is_none_or(|(last, _)| last < labels), "series out of order");
        let mut metas = Vec::new();
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
                metas.push(ChunkMeta { min_t: buffer[0].t, max_t: buffer[buffer.len() - 1].t, offset });
                buffer.clear();
            }
            if next.is_none() {
                break;
            }
        }
        if let Some(error) = samples.take_error() {
            return Err(Error::Storage(error));
        }
        if count > 0 {
            self.stats.num_samples += count;
            self.stats.num_series += 1;
            self.series.push((labels.clone(), metas));
        }
        Ok(count)
    }

    /// Returns whether no sample was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Writes the index and meta, syncs everything and moves the block into place.
    pub(crate) fn finish(mut self, min_time: i64, max_time: i64, compaction: Compaction) -> Result<BlockMeta> {
        let chunks_path = self.temporary_dir.join(CHUNKS_FILE);
        self.chunks.flush().map_err(Error::io("write", &chunks_path))?;
        self.chunks.get_ref().sync_all().map_err(Error::io("sync", &chunks_path))?;
        let index = encode_index(&self.series);
        write_synced(&self.temporary_dir.join(INDEX_FILE), &index)?;
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

/// Encodes the index file (see docs/format/index.md).
fn encode_index(series: &[(Labels, Vec<ChunkMeta>)]) -> Vec<u8> {
    let mut strings: Vec<&str> =
        series.iter().flat_map(|(l, _)| l.iter().flat_map(|x| [&*x.name, &*x.value])).collect();
    strings.sort_unstable();
    strings.dedup();
    let symbol_of: HashMap<&str, u64> = strings.iter().enumerate().map(|(i, s)| (*s, i as u64)).collect();

    let mut out = INDEX_MAGIC.to_vec();
    out.push(FORMAT_VERSION);
    let symbols_offset = out.len() as u64;
    put_uvarint(&mut out, strings.len() as u64);
    for symbol in &strings {
        put_str(&mut out, symbol);
    }

    let series_offset = out.len() as u64;
    let mut postings: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    let mut all = Vec::with_capacity(series.len());
    for (labels, chunks) in series {
        let reference = out.len() as u64;
        all.push(reference);
        put_uvarint(&mut out, labels.len() as u64);
        for label in labels {
            let name = symbol_of[&*label.name];
            let value = symbol_of[&*label.value];
            put_uvarint(&mut out, name);
            put_uvarint(&mut out, value);
            postings.entry((name, value)).or_default().push(reference);
        }
        put_uvarint(&mut out, chunks.len() as u64);
        let mut previous_max = 0i64;
        let mut previous_offset = 0u64;
        for (index, chunk) in chunks.iter().enumerate() {
            let min_delta = if index == 0 { chunk.min_t } else { chunk.min_t.wrapping_sub(previous_max) };
            put_varint(&mut out, min_delta);
            put_uvarint(&mut out, chunk.max_t.wrapping_sub(chunk.min_t) as u64);
            put_uvarint(&mut out, chunk.offset - previous_offset);
            previous_max = chunk.max_t;
            previous_offset = chunk.offset;
        }
    }

    let postings_offset = out.len() as u64;
    let mut table = Vec::with_capacity(postings.len());
    for ((name, value), references) in &postings {
        table.push((*name, *value, out.len() as u64));
        put_postings(&mut out, references);
    }
    let all_offset = out.len() as u64;
    put_postings(&mut out, &all);
    let table_offset = out.len() as u64;
    put_uvarint(&mut out, table.len() as u64);
    for (name, value, offset) in table {
        put_uvarint(&mut out, name);
        put_uvarint(&mut out, value);
        put_uvarint(&mut out, offset);
    }
    for offset in [symbols_offset, series_offset, postings_offset, table_offset, all_offset] {
        out.extend_from_slice(&offset.to_le_bytes());
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn put_postings(out: &mut Vec<u8>, references: &[u64]) {
    put_uvarint(out, references.len() as u64);
    let mut previous = 0;
    for &reference in references {
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
}
