//! Reads a block through memory maps: index tables decoded at open, series and chunks on demand.

#![allow(unsafe_code)]

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memmap2::{Mmap, UncheckedAdvice};
use panoptes_model::{Label, Labels, Matcher};
use panoptes_storage::{Querier, SampleIterator, Series, SeriesSet};
use parking_lot::RwLock;

use super::meta::BlockMeta;
use super::tombstones::{self, Tombstones};
use super::writer::{CHUNKS_FILE, ChunkMeta, INDEX_FILE};
use super::{CHUNKS_MAGIC, INDEX_MAGIC, INDEX_VERSION, index_toc_bytes};
use crate::chunkenc::{Encoding, columnar_time_owner};
use crate::encoding::Cursor;
use crate::error::{Error, Result};
use crate::iterator::{ChunkBytes, ChunkRef, chunks_iterator};
use crate::postings::{Postings, PostingsSource, postings_for_matchers};

/// An open, immutable block.
pub(crate) struct Block {
    pub(crate) dir: PathBuf,
    pub(crate) meta: BlockMeta,
    index: Arc<Mmap>,
    chunks: Arc<Mmap>,
    symbols: Vec<Arc<str>>,
    /// The index format version (see docs/format/index.md).
    index_version: u8,
    /// Version 2: the lists of label names series entries refer to, as symbol numbers.
    name_sets: Vec<Box<[u32]>>,
    /// Per label name, its values (sorted) with the offsets of their postings lists.
    postings: HashMap<Arc<str>, Vec<(Arc<str>, usize)>>,
    all_postings_offset: usize,
    pub(crate) tombstones: RwLock<Tombstones>,
    pub(crate) size_bytes: u64,
    /// The offset (plus one; zero for none) of the last chunk whose shared timestamps passed
    /// their CRC check. Most of a block's chunks share one time column: checking it again for
    /// every series a query reads cost as much as checking the series' own chunk.
    verified_time_owner: AtomicU64,
}

fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(Error::io("open", path))?;
    // SAFETY: block files are written once, synced and renamed into place before they are
    // opened, and Panoptes never modifies them afterwards (deletion only unlinks, which keeps
    // existing maps valid). Another process truncating them would be undefined behaviour; the
    // data directory is documented as owned by one Panoptes process.
    unsafe { Mmap::map(&file) }.map_err(Error::io("map", path))
}

impl Block {
    /// Opens the block in `dir`, checking magic numbers and the index checksum.
    pub(crate) fn open(dir: &Path) -> Result<Block> {
        let meta = BlockMeta::read(dir)?;
        let index_path = dir.join(INDEX_FILE);
        let chunks_path = dir.join(CHUNKS_FILE);
        let index = map_file(&index_path)?;
        let chunks = map_file(&chunks_path)?;
        let corrupt = |path: &Path, offset: usize, reason: &str| Error::Corruption {
            what: "block",
            path: path.to_owned(),
            offset: offset as u64,
            reason: reason.to_owned(),
        };
        if chunks.len() < 5 || &chunks[..4] != CHUNKS_MAGIC {
            return Err(corrupt(&chunks_path, 0, "bad chunk file magic"));
        }
        if index.len() < 5 || &index[..4] != INDEX_MAGIC {
            return Err(corrupt(&index_path, 0, "bad index magic"));
        }
        let index_version = index[4];
        if !(1..=INDEX_VERSION).contains(&index_version) {
            return Err(corrupt(&index_path, 4, &format!("unknown index version {index_version}")));
        }
        let toc_bytes = index_toc_bytes(index_version);
        if index.len() < 5 + toc_bytes {
            return Err(corrupt(&index_path, 0, "index shorter than its table of contents"));
        }
        let crc_at = index.len() - 4;
        if crc32fast::hash(&index[..crc_at]) != u32::from_le_bytes(index[crc_at..].try_into().expect("4 bytes")) {
            return Err(corrupt(&index_path, crc_at, "index checksum mismatch"));
        }
        let toc_at = index.len() - toc_bytes;
        let mut toc = Cursor::at(&index, toc_at);
        let mut offsets = Vec::with_capacity(6);
        for _ in 0..(toc_bytes - 4) / 8 {
            offsets.push(
                toc.u64_le()
                    .and_then(|v| usize::try_from(v).ok())
                    .filter(|v| *v < toc_at)
                    .ok_or_else(|| corrupt(&index_path, toc_at, "bad table of contents"))?,
            );
        }
        // Version 1 has no name lists: its series entries name every label.
        if index_version == 1 {
            offsets.insert(1, 0);
        }
        let [symbols_offset, name_sets_offset, _series_offset, _postings_offset, table_offset, all_postings_offset] =
            offsets[..]
        else {
            unreachable!("six offsets")
        };

        let mut cursor = Cursor::at(&index, symbols_offset);
        let count = cursor.uvarint().ok_or_else(|| corrupt(&index_path, symbols_offset, "bad symbol count"))?;
        let mut symbols = Vec::with_capacity(count.min(1 << 24) as usize);
        for _ in 0..count {
            let at = cursor.position();
            symbols.push(Arc::<str>::from(cursor.str().ok_or_else(|| corrupt(&index_path, at, "bad symbol"))?));
        }
        let mut name_sets = Vec::new();
        if index_version >= 2 {
            let mut cursor = Cursor::at(&index, name_sets_offset);
            let count =
                cursor.uvarint().ok_or_else(|| corrupt(&index_path, name_sets_offset, "bad name list count"))?;
            for _ in 0..count {
                let at = cursor.position();
                let names = cursor.uvarint().and_then(|n| {
                    (0..n)
                        .map(|_| {
                            cursor
                                .uvarint()
                                .and_then(|i| u32::try_from(i).ok())
                                .filter(|&i| (i as usize) < symbols.len())
                        })
                        .collect::<Option<Box<[u32]>>>()
                });
                name_sets.push(names.ok_or_else(|| corrupt(&index_path, at, "bad label name list"))?);
            }
        }
        let mut cursor = Cursor::at(&index, table_offset);
        let count = cursor.uvarint().ok_or_else(|| corrupt(&index_path, table_offset, "bad postings table"))?;
        let mut postings: HashMap<Arc<str>, Vec<(Arc<str>, usize)>> = HashMap::new();
        for _ in 0..count {
            let at = cursor.position();
            let entry = (cursor.uvarint(), cursor.uvarint(), cursor.uvarint());
            let (Some(name), Some(value), Some(offset)) = entry else {
                return Err(corrupt(&index_path, at, "bad postings table entry"));
            };
            let (Some(name), Some(value)) = (symbols.get(name as usize), symbols.get(value as usize)) else {
                return Err(corrupt(&index_path, at, "postings table names an unknown symbol"));
            };
            postings.entry(name.clone()).or_default().push((value.clone(), offset as usize));
        }
        let tombstones = tombstones::read(dir)?;
        let size_bytes = crate::wal::directory_size(dir);
        let block = Block {
            dir: dir.to_owned(),
            meta,
            index: Arc::new(index),
            chunks: Arc::new(chunks),
            symbols,
            index_version,
            name_sets,
            postings,
            all_postings_offset,
            tombstones: RwLock::new(tombstones),
            size_bytes,
            verified_time_owner: AtomicU64::new(0),
        };
        // The checksum read the whole index.
        block.release_pages();
        Ok(block)
    }

    /// Unmaps the pages of the block's files that the process has touched (`MADV_DONTNEED`),
    /// so that what a checksum or a compaction read no longer counts as its resident memory:
    /// the kernel keeps the pages in its page cache and maps them again on the next access.
    /// Compactions read whole blocks; without this their sources' pages added up to 35 MB to
    /// the peak RSS of the 100k-series benchmark (bench/RESULTS.md).
    pub(crate) fn release_pages(&self) {
        for map in [&self.index, &self.chunks] {
            // SAFETY: both are shared, read-only maps of files nobody writes (see `map_file`).
            // Dropping their pages changes no byte any borrow reads: the next access maps the
            // same file contents again. (Private or written maps would lose data; these are
            // neither.)
            let _ = unsafe { map.unchecked_advise(UncheckedAdvice::DontNeed) };
        }
    }

    fn read_postings(&self, offset: usize) -> Postings {
        let mut cursor = Cursor::at(&self.index, offset);
        let count = cursor.uvarint().unwrap_or(0);
        let mut out = Vec::with_capacity(count.min(1 << 24) as usize);
        let mut previous = 0u64;
        for _ in 0..count {
            let Some(delta) = cursor.uvarint() else { break };
            previous += delta;
            out.push(previous);
        }
        out
    }

    /// Returns the error for a series entry at `reference` that does not decode, given why.
    fn series_corruption(&self, reference: u64) -> impl Fn(&str) -> Error + '_ {
        move |reason: &str| Error::Corruption {
            what: "index series",
            path: self.dir.join(INDEX_FILE),
            offset: reference,
            reason: reason.to_owned(),
        }
    }

    /// Decodes the series entry at `reference`: its labels and chunk metas.
    pub(crate) fn series(&self, reference: u64) -> Result<(Labels, Vec<ChunkMeta>)> {
        let corrupt = self.series_corruption(reference);
        let mut cursor = Cursor::at(&self.index, reference as usize);
        let symbol = |cursor: &mut Cursor<'_>| cursor.uvarint().and_then(|i| self.symbols.get(i as usize));
        let mut labels;
        if self.index_version == 1 {
            let count = cursor.uvarint().ok_or_else(|| corrupt("truncated"))?;
            labels = Vec::with_capacity(count.min(64) as usize);
            for _ in 0..count {
                let name = symbol(&mut cursor).ok_or_else(|| corrupt("bad label name"))?;
                let value = symbol(&mut cursor).ok_or_else(|| corrupt("bad label value"))?;
                labels.push(Label { name: name.clone(), value: value.clone() });
            }
        } else {
            let names = cursor
                .uvarint()
                .and_then(|i| self.name_sets.get(i as usize))
                .ok_or_else(|| corrupt("bad label name list"))?;
            labels = Vec::with_capacity(names.len());
            for &name in names.iter() {
                let value = symbol(&mut cursor).ok_or_else(|| corrupt("bad label value"))?;
                labels.push(Label { name: self.symbols[name as usize].clone(), value: value.clone() });
            }
        }
        let chunks = self.chunk_metas(&mut cursor, &corrupt)?;
        Ok((Labels::from_sorted_unchecked(labels), chunks))
    }

    /// Decodes the chunk metas of a series entry, which follow its labels.
    fn chunk_metas(&self, cursor: &mut Cursor<'_>, corrupt: &dyn Fn(&str) -> Error) -> Result<Vec<ChunkMeta>> {
        let count = cursor.uvarint().ok_or_else(|| corrupt("truncated"))?;
        let mut chunks = Vec::with_capacity(count.min(1 << 16) as usize);
        // Version 1 stored the first chunk's start as is, version 2 relative to the block's.
        let mut previous_max = if self.index_version == 1 { 0 } else { self.meta.min_time };
        let mut previous_offset = 0u64;
        for _ in 0..count {
            let (Some(min_delta), Some(span), Some(offset_delta)) =
                (cursor.varint(), cursor.uvarint(), cursor.uvarint())
            else {
                return Err(corrupt("truncated chunk meta"));
            };
            let min_t = previous_max.wrapping_add(min_delta);
            let max_t = min_t.wrapping_add(span as i64);
            let offset = previous_offset + offset_delta;
            chunks.push(ChunkMeta { min_t, max_t, offset });
            previous_max = max_t;
            previous_offset = offset;
        }
        Ok(chunks)
    }

    /// Decodes the chunk metas of the series entry at `reference`, skipping its labels (see
    /// [`Block::series`]).
    fn series_chunks(&self, reference: u64) -> Result<Vec<ChunkMeta>> {
        let corrupt = self.series_corruption(reference);
        let mut cursor = Cursor::at(&self.index, reference as usize);
        let symbols = if self.index_version == 1 {
            cursor.uvarint().ok_or_else(|| corrupt("truncated"))?.saturating_mul(2)
        } else {
            let names = cursor
                .uvarint()
                .and_then(|i| self.name_sets.get(i as usize))
                .ok_or_else(|| corrupt("bad label name list"))?;
            names.len() as u64
        };
        for _ in 0..symbols {
            cursor.uvarint().ok_or_else(|| corrupt("truncated"))?;
        }
        self.chunk_metas(&mut cursor, &corrupt)
    }

    /// Compares the labels of the series entry at `reference` with `other` as [`Labels`] order
    /// them, without building them: a query merging a block's series with the head's, which
    /// nearly always holds the same series, then builds each label set once.
    pub(crate) fn compare_series_labels(&self, reference: u64, other: &Labels) -> Result<std::cmp::Ordering> {
        use std::cmp::Ordering;
        let corrupt = self.series_corruption(reference);
        let mut cursor = Cursor::at(&self.index, reference as usize);
        let mut others = other.iter();
        // The order of `Label`s (name, then value, as strings), then of their lists.
        let mut compare = |name: &str, value: &str| match others.next() {
            None => Ordering::Greater,
            Some(label) => name.cmp(&label.name).then_with(|| value.cmp(&label.value)),
        };
        let symbol = |cursor: &mut Cursor<'_>| cursor.uvarint().and_then(|i| self.symbols.get(i as usize));
        if self.index_version == 1 {
            let count = cursor.uvarint().ok_or_else(|| corrupt("truncated"))?;
            for _ in 0..count {
                let name = symbol(&mut cursor).ok_or_else(|| corrupt("bad label name"))?;
                let value = symbol(&mut cursor).ok_or_else(|| corrupt("bad label value"))?;
                let order = compare(name, value);
                if order != Ordering::Equal {
                    return Ok(order);
                }
            }
        } else {
            let names = cursor
                .uvarint()
                .and_then(|i| self.name_sets.get(i as usize))
                .ok_or_else(|| corrupt("bad label name list"))?;
            for &name in names.iter() {
                let value = symbol(&mut cursor).ok_or_else(|| corrupt("bad label value"))?;
                let order = compare(&self.symbols[name as usize], value);
                if order != Ordering::Equal {
                    return Ok(order);
                }
            }
        }
        Ok(if others.next().is_some() { Ordering::Less } else { Ordering::Equal })
    }

    /// Returns the chunk at `offset`, checking its CRC (and that of the chunk whose timestamps
    /// it shares, if any, unless that was the last one checked).
    pub(crate) fn chunk(&self, meta: &ChunkMeta) -> Result<ChunkRef> {
        let (encoding, start, end) = self.chunk_entry(meta.offset)?;
        let mut shared_times = None;
        if encoding == Encoding::Columnar
            && let Some(owner) = columnar_time_owner(&self.chunks[start..end])
        {
            let corrupt = |reason: &str| Error::Corruption {
                what: "chunk",
                path: self.dir.join(CHUNKS_FILE),
                offset: meta.offset,
                reason: reason.to_owned(),
            };
            if owner >= meta.offset {
                return Err(corrupt("timestamps shared with a later chunk"));
            }
            // The mapped bytes never change, so a chunk that passed its check once still does.
            let is_verified = self.verified_time_owner.load(Ordering::Relaxed) == owner.wrapping_add(1);
            let (owner_encoding, owner_start, owner_end) = self.chunk_entry_checked(owner, !is_verified)?;
            if !is_verified {
                self.verified_time_owner.store(owner.wrapping_add(1), Ordering::Relaxed);
            }
            if owner_encoding != Encoding::Columnar {
                return Err(corrupt("timestamps shared with a chunk of another encoding"));
            }
            shared_times = Some((owner_start, owner_end));
        }
        Ok(ChunkRef {
            min_t: meta.min_t,
            max_t: meta.max_t,
            encoding,
            bytes: ChunkBytes::Mapped(self.chunks.clone(), start, end),
            shared_times,
        })
    }

    /// Returns the encoding and data range of the chunk entry at `offset`, checking its CRC.
    fn chunk_entry(&self, offset: u64) -> Result<(Encoding, usize, usize)> {
        self.chunk_entry_checked(offset, true)
    }

    /// Returns the encoding and data range of the chunk entry at `offset`, checking its CRC
    /// when `check_crc`.
    fn chunk_entry_checked(&self, offset: u64, check_crc: bool) -> Result<(Encoding, usize, usize)> {
        let corrupt = |reason: &str| Error::Corruption {
            what: "chunk",
            path: self.dir.join(CHUNKS_FILE),
            offset,
            reason: reason.to_owned(),
        };
        let mut cursor = Cursor::at(&self.chunks, offset as usize);
        let encoding = cursor.u8().and_then(Encoding::from_byte).ok_or_else(|| corrupt("unknown encoding"))?;
        let len = cursor.uvarint().ok_or_else(|| corrupt("truncated header"))? as usize;
        let start = cursor.position();
        let data = cursor.bytes(len).ok_or_else(|| corrupt("truncated data"))?;
        let crc = cursor.u32_le().ok_or_else(|| corrupt("truncated checksum"))?;
        if check_crc && crc32fast::hash(data) != crc {
            return Err(corrupt("checksum mismatch"));
        }
        Ok((encoding, start, start + len))
    }

    /// Returns an iterator over a series' samples in `[mint, maxt]`, or `None` if it has none.
    pub(crate) fn series_iterator(
        &self,
        reference: u64,
        chunks: &[ChunkMeta],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<Box<dyn SampleIterator>>> {
        let overlaps = |c: &&ChunkMeta| c.max_t >= mint && c.min_t <= maxt;
        // Exactly as many slots as chunks (usually one): collecting from a filter starts at four,
        // 224 bytes instead of 56 per series selected, fresh memory each query (page faults).
        let mut refs = Vec::with_capacity(chunks.iter().filter(overlaps).count());
        for chunk in chunks.iter().filter(overlaps) {
            refs.push(self.chunk(chunk)?);
        }
        if refs.is_empty() {
            return Ok(None);
        }
        // `None` for the series without deletions (nearly all): nothing allocated or shared.
        let deleted: Option<Arc<[(i64, i64)]>> =
            self.tombstones.read().get(&reference).map(|intervals| intervals.as_slice().into());
        // Peeking would decode a chunk and, over every series of a block (compaction, large
        // selects), cost memory at once; the chunks' ranges nearly always make it unnecessary.
        Ok(chunks_iterator(refs, mint, maxt, deleted, true))
    }

    /// Returns whether the block's range is entirely inside `[mint, maxt]`.
    fn is_inside(&self, mint: i64, maxt: i64) -> bool {
        mint <= self.meta.min_time && maxt >= self.meta.max_time - 1
    }
}

impl PostingsSource for Block {
    fn label_values_unsorted(&self, name: &str) -> Vec<String> {
        self.postings.get(name).map(|values| values.iter().map(|(v, _)| v.to_string()).collect()).unwrap_or_default()
    }

    fn postings(&self, name: &str, value: &str) -> Postings {
        let Some(values) = self.postings.get(name) else { return Vec::new() };
        match values.binary_search_by(|(v, _)| (**v).cmp(value)) {
            Ok(index) => self.read_postings(values[index].1),
            Err(_) => Vec::new(),
        }
    }

    fn all_postings(&self) -> Postings {
        self.read_postings(self.all_postings_offset)
    }
}

/// Reads one block within `[mint, maxt]`.
pub(crate) struct BlockQuerier {
    block: Arc<Block>,
    mint: i64,
    maxt: i64,
}

impl BlockQuerier {
    pub(crate) fn new(block: Arc<Block>, mint: i64, maxt: i64) -> Self {
        Self { block, mint, maxt }
    }

    /// Returns the labels of the matching series that have samples in range.
    fn matching_labels(&self, matchers: &[Matcher]) -> Result<Vec<Labels>> {
        let mut out = Vec::new();
        let is_inside = self.block.is_inside(self.mint, self.maxt) && self.block.tombstones.read().is_empty();
        for reference in postings_for_matchers(&*self.block, matchers) {
            let (labels, chunks) = self.block.series(reference)?;
            if is_inside || self.block.series_iterator(reference, &chunks, self.mint, self.maxt)?.is_some() {
                out.push(labels);
            }
        }
        Ok(out)
    }
}

impl BlockQuerier {
    /// Returns the block read.
    pub(crate) fn block(&self) -> &Block {
        &self.block
    }

    /// Returns the references of the series that satisfy every matcher, in label order.
    pub(crate) fn postings(&self, matchers: &[Matcher]) -> Postings {
        postings_for_matchers(&*self.block, matchers)
    }

    /// Returns the series of `postings` (from [`BlockQuerier::postings`]) that have samples in
    /// range, in label order, as their references and samples: their labels stay in the index
    /// ([`Block::compare_series_labels`], [`Block::series`]).
    pub(crate) fn unlabelled_series(&self, postings: Postings) -> Result<Vec<(u64, Box<dyn SampleIterator>)>> {
        let mut out = Vec::with_capacity(postings.len());
        for reference in postings {
            let chunks = self.block.series_chunks(reference)?;
            if let Some(samples) = self.block.series_iterator(reference, &chunks, self.mint, self.maxt)? {
                out.push((reference, samples));
            }
        }
        Ok(out)
    }

    /// Returns the series of `postings` (from [`BlockQuerier::postings`]) that have samples in
    /// range, read as the caller asks for them.
    pub(crate) fn series_set(&self, postings: Postings) -> SeriesSet {
        let (block, mint, maxt) = (self.block.clone(), self.mint, self.maxt);
        let series = postings.into_iter().filter_map(move |reference| {
            let read = block.series(reference).and_then(|(labels, chunks)| {
                Ok(block.series_iterator(reference, &chunks, mint, maxt)?.map(|samples| Series { labels, samples }))
            });
            read.map_err(panoptes_storage::Error::from).transpose()
        });
        Box::new(series)
    }
}

impl Querier for BlockQuerier {
    fn select(&self, matchers: &[Matcher]) -> panoptes_storage::Result<SeriesSet> {
        // Series are read as the caller asks for them: compaction merges whole blocks, and
        // holding every series of every source at once was most of the server's peak memory
        // (bench/RESULTS.md, 2026-12-06).
        Ok(self.series_set(self.postings(matchers)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        if matchers.is_empty() && self.block.is_inside(self.mint, self.maxt) {
            let mut names: Vec<String> = self.block.postings.keys().map(|n| n.to_string()).collect();
            names.sort();
            return Ok(names);
        }
        let mut names: Vec<String> = self
            .matching_labels(matchers)?
            .iter()
            .flat_map(|l| l.iter().map(|x| x.name.to_string()).collect::<Vec<_>>())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        if matchers.is_empty() && self.block.is_inside(self.mint, self.maxt) {
            let mut values = self.block.label_values_unsorted(name);
            values.sort();
            return Ok(values);
        }
        let mut values: Vec<String> =
            self.matching_labels(matchers)?.iter().filter_map(|l| l.get(name).map(str::to_owned)).collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}
