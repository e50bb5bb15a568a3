//! The head: recent series and samples in memory as compressed chunks, with an inverted index.
//!
//! The head owns series identity (ids that the WAL refers to), the postings of every label
//! pair, and each series' chunks and out-of-order buffer. It does no file I/O itself: the
//! appender hands records to the WAL, and [`crate::Db`] cuts the head into blocks. Split by
//! activity: `append.rs` (appender), `read.rs` (querier), `truncate.rs` (dropping data that
//! moved to blocks), `replay.rs` (rebuilding from the WAL), `snapshot.rs` (the head as a WAL
//! checkpoint at shutdown).

mod append;
mod chunk_files;
mod read;
mod replay;
mod snapshot;
mod symbols;
mod times;
mod truncate;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use panoptes_model::{Labels, Sample};
use parking_lot::{Mutex, RwLock};

pub(crate) use append::HeadAppender;
pub(crate) use read::{HeadQuerier, head_postings_for_matchers, head_series_iterator};
pub(crate) use replay::Replayer;

pub(crate) use chunk_files::{ChunkData, ChunkStore, HEAD_CHUNKS_DIR, Segment};
pub(crate) use symbols::SymbolTable;
pub(crate) use times::TimeColumn;

use crate::chunkenc::{
    Encoding, HeadChunkAppender, TimeSource, decode_chunk, decode_columnar, encode_columnar, with_inline_times,
};
use crate::iterator::{ChunkBytes, ChunkRef};
use crate::metrics::TsdbMetrics;
use crate::postings::Postings;
use crate::wal::SeriesId;

/// Number of lock shards for the series maps; a power of two well above the core count.
const SHARDS: usize = 32;

/// Hashes `u64` keys that are already hashes or sequential ids with a multiplication: SipHash
/// would be wasted work, and plain identity would leave sequential ids without high bits, which
/// the hash table needs.
#[derive(Default, Clone, Copy)]
pub(crate) struct U64Hasher(u64);

impl std::hash::Hasher for U64Hasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, value: u64) {
        // The high half folded down, so that the table's low bits depend on every key bit
        // (block writers key by `name << 32 | value`).
        let product = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = product ^ (product >> 32);
    }
}

pub(crate) type U64Map<V> = HashMap<u64, V, std::hash::BuildHasherDefault<U64Hasher>>;
pub(crate) type U64Set = HashSet<u64, std::hash::BuildHasherDefault<U64Hasher>>;

/// The open appenders or readers of a head, by ids increasing in creation order, so that
/// maintenance can wait for those opened before a point (as Prometheus waits for overlapping
/// appenders and pending readers before it truncates the head).
#[derive(Default)]
pub(crate) struct OpenSet {
    ids: Mutex<U64Set>,
    last: AtomicU64,
}

impl OpenSet {
    /// Registers a new member and returns its id (never 0).
    pub(crate) fn open(&self) -> u64 {
        // Inserted under the lock that `wait_for_earlier` reads the set with, after taking the
        // id: a waiter that saw the id counter past it also sees it in the set.
        let mut ids = self.ids.lock();
        let id = self.last.fetch_add(1, Ordering::SeqCst) + 1;
        ids.insert(id);
        id
    }

    pub(crate) fn close(&self, id: u64) {
        self.ids.lock().remove(&id);
    }

    /// Returns whether `id` is open.
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.ids.lock().contains(&id)
    }

    /// Returns once every member opened before the call is closed; logs every 10 s of waiting.
    fn wait_for_earlier(&self, what: &str) {
        let last = self.last.load(Ordering::SeqCst);
        let started = std::time::Instant::now();
        let mut warned_at = started;
        while self.ids.lock().iter().any(|&id| id <= last) {
            if warned_at.elapsed() >= std::time::Duration::from_secs(10) {
                warned_at = std::time::Instant::now();
                tracing::warn!(waited_seconds = started.elapsed().as_secs(), "head maintenance waits for open {what}");
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

/// A closed, immutable head chunk: columnar with its time column shared (`times`), or, when
/// its samples did not decode, as the appender left it. Its bytes are in a head chunk file
/// (head/chunk_files.rs) or, failing that, in memory.
pub(crate) struct HeadChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) data: ChunkData,
    /// The time column of a columnar chunk, in [`times::TIME_COLUMNS`].
    pub(crate) times: Option<Arc<TimeColumn>>,
}

// One per closed chunk, a few per series.
const _: () = assert!(std::mem::size_of::<HeadChunk>() == 48);

impl HeadChunk {
    /// Closes an appender's chunk: the timestamps go to the process' table of time columns
    /// (series appended together share one), the values into a columnar chunk in `store`.
    fn close(appender: HeadChunkAppender, min_t: i64, max_t: i64, store: &ChunkStore) -> HeadChunk {
        match decode_chunk(appender.encoding(), appender.bytes()) {
            Some(samples) if !samples.is_empty() => {
                let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
                HeadChunk {
                    min_t,
                    max_t,
                    data: store.store(Encoding::Columnar, encode_columnar(&samples, TimeSource::Shared(0))),
                    times: Some(times::TIME_COLUMNS.intern(&times)),
                }
            }
            _ => {
                let (encoding, bytes) = appender.finish();
                HeadChunk { min_t, max_t, data: store.store(encoding, bytes), times: None }
            }
        }
    }

    pub(crate) fn encoding(&self) -> Encoding {
        self.data.encoding()
    }

    /// Returns the chunk's samples; `None` when they do not decode.
    pub(crate) fn samples(&self) -> Option<Vec<Sample>> {
        let bytes = self.data.copied();
        match &self.times {
            Some(times) => decode_columnar(&bytes, Some(&times.bytes)),
            None => decode_chunk(self.encoding(), &bytes),
        }
    }

    /// Returns the chunk as it decodes alone: its bytes, with the time column put back inline
    /// when it is shared.
    pub(crate) fn standalone_bytes(&self) -> Option<Cow<'static, [u8]>> {
        let bytes = self.data.copied();
        match &self.times {
            Some(times) => with_inline_times(&bytes, &times.bytes).map(Cow::Owned),
            None => Some(Cow::Owned(bytes.to_vec())),
        }
    }
}

/// The mutable part of a series. Its size matters (one per series; bench/RESULTS.md): the
/// flags and the newest sample are laid out so that a `HeadSeries` fits a 224-byte allocation.
pub(crate) struct SeriesData {
    pub(crate) chunks: Vec<HeadChunk>,
    /// The chunk being appended to and its first timestamp.
    pub(crate) open: Option<(HeadChunkAppender, i64)>,
    /// The newest in-order sample, when `has_last` (see [`SeriesData::last`]).
    last: Sample,
    has_last: bool,
    /// Accepted out-of-order samples, sorted by time, unique timestamps; boxed (and `None` when
    /// empty) because almost no series has any, and an inline `Vec` would cost 24 bytes each.
    #[allow(clippy::box_collection)] // the point: 8 bytes inline instead of a `Vec`'s 24
    out_of_order: Option<Box<Vec<Sample>>>,
    /// Whether the WAL holds this series' definition.
    pub(crate) is_logged: bool,
    /// Whether truncation removed the series; appenders holding it must look it up again.
    pub(crate) is_removed: bool,
    /// The newest sample an uncommitted batch holds for the series. An appender finds repeats
    /// within its own batch here rather than in a map of its own; another appender's entry is
    /// ignored (and overwritten).
    pub(crate) batched: Batched,
}

/// The newest sample of a series in an uncommitted batch, and the appender whose batch it is.
#[derive(Clone, Copy)]
pub(crate) struct Batched {
    /// The id of the appender (0: no batch holds a sample).
    pub(crate) owner: u64,
    /// Meaningful only when `owner` is not 0.
    pub(crate) sample: Sample,
}

impl Default for Batched {
    fn default() -> Self {
        Self { owner: 0, sample: Sample::new(0, 0.0) }
    }
}

impl Default for SeriesData {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            open: None,
            last: Sample::new(0, 0.0),
            has_last: false,
            out_of_order: None,
            is_logged: false,
            is_removed: false,
            batched: Batched::default(),
        }
    }
}

impl SeriesData {
    /// Returns the newest in-order sample.
    pub(crate) fn last(&self) -> Option<Sample> {
        self.has_last.then_some(self.last)
    }

    /// Returns the accepted out-of-order samples, sorted by time.
    pub(crate) fn out_of_order(&self) -> &[Sample] {
        self.out_of_order.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Keeps the out-of-order samples for which `keep` is true.
    pub(crate) fn retain_out_of_order(&mut self, keep: impl FnMut(&Sample) -> bool) {
        if let Some(samples) = &mut self.out_of_order {
            samples.retain(keep);
            if samples.is_empty() {
                self.out_of_order = None;
            }
        }
    }

    /// Appends an in-order sample, cutting a chunk when the open one is full or the sample
    /// lies in another `chunk_range_ms` window (the head's block range) than the chunk's
    /// first, as Prometheus does: no chunk then spans a block boundary, so truncating the head
    /// after a block is written frees every chunk before the boundary (a chunk of 120 samples
    /// at 10 s spans 20 minutes and kept up to that much older data in memory).
    pub(crate) fn append_in_order(&mut self, sample: Sample, chunk_range_ms: i64, store: &ChunkStore) {
        if self.open.as_ref().is_some_and(|(appender, min_t)| {
            appender.is_full() || min_t.div_euclid(chunk_range_ms) != sample.t.div_euclid(chunk_range_ms)
        }) {
            self.close_open_chunk(store);
        }
        let (appender, _) = self.open.get_or_insert_with(|| (HeadChunkAppender::new(), sample.t));
        appender.append(sample.t, sample.v);
        self.last = sample;
        self.has_last = true;
    }

    pub(crate) fn close_open_chunk(&mut self, store: &ChunkStore) {
        if let Some((appender, min_t)) = self.open.take() {
            let max_t = self.last().map_or(min_t, |s| s.t);
            // Exactly as many slots as chunks: a series holds one to three closed chunks for
            // hours, and `push`'s first growth to four would leave 120 bytes of the list unused.
            self.chunks.reserve_exact(1);
            self.chunks.push(HeadChunk::close(appender, min_t, max_t, store));
        }
    }

    /// Inserts an out-of-order sample; an existing one at the same time is kept.
    pub(crate) fn insert_out_of_order(&mut self, sample: Sample) -> bool {
        let samples = self.out_of_order.get_or_insert_default();
        match samples.binary_search_by(|s| s.t.cmp(&sample.t)) {
            Ok(_) => false,
            Err(position) => {
                samples.insert(position, sample);
                true
            }
        }
    }

    /// Removes the samples that exist now in `[mint, maxt]`; samples appended later are not
    /// affected. In-order chunks are decoded and re-encoded (deletion is a rare admin action).
    /// The newest-timestamp bookkeeping stays, so ordering rules are unchanged.
    pub(crate) fn delete_range(&mut self, mint: i64, maxt: i64, chunk_range_ms: i64, store: &ChunkStore) {
        self.retain_out_of_order(|s| s.t < mint || s.t > maxt);
        let touches = |min_t: i64, max_t: i64| max_t >= mint && min_t <= maxt;
        let open_touched = match (&self.open, self.last()) {
            (Some((_, min_t)), Some(last)) => touches(*min_t, last.t),
            _ => false,
        };
        if !open_touched && !self.chunks.iter().any(|c| touches(c.min_t, c.max_t)) {
            return;
        }
        let (last, has_last) = (self.last, self.has_last);
        let mut kept: Vec<Sample> = Vec::new();
        for chunk in &self.chunks {
            let samples = chunk.samples().unwrap_or_default();
            kept.extend(samples.into_iter().filter(|s| s.t < mint || s.t > maxt));
        }
        if let Some((appender, _)) = &self.open {
            let samples = crate::chunkenc::decode_chunk(appender.encoding(), appender.bytes()).unwrap_or_default();
            kept.extend(samples.into_iter().filter(|s| s.t < mint || s.t > maxt));
        }
        self.chunks.clear();
        self.open = None;
        for sample in kept {
            self.append_in_order(sample, chunk_range_ms, store);
        }
        self.close_open_chunk(store);
        (self.last, self.has_last) = (last, has_last);
    }

    /// Returns whether the open chunk's last sample, which it holds, lies in `[mint, maxt]`:
    /// then the series has a sample in range without decoding anything.
    /// (It is also the series' newest sample, so [`SeriesData::chunk_refs`] lists the chunk.)
    pub(crate) fn open_chunk_ends_in(&self, mint: i64, maxt: i64) -> bool {
        let open_last = self.open.as_ref().and_then(|(appender, _)| appender.last_time());
        open_last.is_some_and(|t| t >= mint && t <= maxt && self.last().is_some_and(|last| last.t == t))
    }

    /// Returns the chunks overlapping `[mint, maxt]` (the open one copied). With `read`
    /// [`ChunkRead::Copy`], closed chunks in files are copied rather than mapped.
    pub(crate) fn chunk_refs(&self, mint: i64, maxt: i64, read: ChunkRead) -> Vec<ChunkRef> {
        let overlaps = |c: &&HeadChunk| c.max_t >= mint && c.min_t <= maxt;
        // Exactly as many slots as chunks: most series have only the open chunk in a query's
        // range, and `push`'s first growth to four would allocate 224 bytes per series selected
        // instead of 56 (fresh memory each query: page faults).
        let mut refs: Vec<ChunkRef> = Vec::with_capacity(self.chunks.iter().filter(overlaps).count() + 1);
        refs.extend(self.chunks.iter().filter(overlaps).map(|c| ChunkRef {
            min_t: c.min_t,
            max_t: c.max_t,
            encoding: c.encoding(),
            bytes: match (read, &c.times) {
                (ChunkRead::Map, times) => c.data.for_query(times.as_ref()),
                (ChunkRead::Copy, Some(times)) => ChunkBytes::SharedTimes(c.data.copied(), times.clone()),
                (ChunkRead::Copy, None) => ChunkBytes::Shared(c.data.copied()),
            },
            shared_times: None,
        }));
        if let (Some((appender, min_t)), Some(last)) = (&self.open, self.last())
            && last.t >= mint
            && *min_t <= maxt
        {
            refs.push(ChunkRef {
                min_t: *min_t,
                max_t: last.t,
                encoding: appender.encoding(),
                bytes: ChunkBytes::Shared(appender.bytes().into()),
                shared_times: None,
            });
        }
        refs
    }
}

/// How [`SeriesData::chunk_refs`] reads closed chunks that are in head chunk files.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChunkRead {
    /// Through the files' maps (queries: no copy).
    Map,
    /// Copied with `pread` (the block writer: it reads every chunk of a range once, and mapped
    /// pages would count as the process' memory until the files go).
    Copy,
}

/// A series in the head.
pub(crate) struct HeadSeries {
    pub(crate) id: SeriesId,
    /// The symbol table of the head the series belongs to: it holds the strings of
    /// `label_ids` for as long as the series lives, and tells this head from others in the
    /// process (series handles are checked against it, [`Head::owns`]).
    symbols: Arc<RwLock<SymbolTable>>,
    /// The labels as ids in `symbols`, name and value of each label in turn;
    /// [`Head::labels_of`] returns them as [`Labels`].
    label_ids: Box<[u32]>,
    pub(crate) data: Mutex<SeriesData>,
}

impl HeadSeries {
    /// Returns a series with `labels` (their strings are added to `symbols`).
    fn new(id: SeriesId, symbols: &Arc<RwLock<SymbolTable>>, labels: &Labels) -> Self {
        let label_ids = symbols.write().intern_labels(labels);
        Self { id, symbols: symbols.clone(), label_ids, data: Mutex::default() }
    }
}

impl HeadSeries {
    /// Returns the number of labels of the series.
    pub(crate) fn label_count(&self) -> usize {
        self.label_ids.len() / 2
    }
}

impl Drop for HeadSeries {
    fn drop(&mut self) {
        // Strings no other series uses are freed. No code path drops a series while it holds
        // the symbol table's lock.
        self.symbols.write().release(&self.label_ids);
    }
}

/// The series of one hash shard by label hash. Almost every hash names one series, so the
/// main map holds one reference per hash and the rare collisions live aside, instead of a
/// list (and its allocation) per hash.
#[derive(Default)]
struct HashShard {
    first: U64Map<Arc<HeadSeries>>,
    collisions: U64Map<Vec<Arc<HeadSeries>>>,
}

impl HashShard {
    fn find(&self, hash: u64, mut matches: impl FnMut(&HeadSeries) -> bool) -> Option<&Arc<HeadSeries>> {
        let first = self.first.get(&hash)?;
        if matches(first) {
            return Some(first);
        }
        self.collisions.get(&hash)?.iter().find(|s| matches(s))
    }

    fn insert(&mut self, hash: u64, series: Arc<HeadSeries>) {
        match self.first.entry(hash) {
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(series);
            }
            std::collections::hash_map::Entry::Occupied(_) => self.collisions.entry(hash).or_default().push(series),
        }
    }

    fn remove(&mut self, hash: u64, id: SeriesId) {
        if let Some(list) = self.collisions.get_mut(&hash) {
            list.retain(|s| s.id != id);
            let replacement = if self.first.get(&hash).is_some_and(|s| s.id == id) { list.pop() } else { None };
            if list.is_empty() {
                self.collisions.remove(&hash);
            }
            if let Some(series) = replacement {
                self.first.insert(hash, series);
            }
            return;
        }
        if self.first.get(&hash).is_some_and(|s| s.id == id) {
            self.first.remove(&hash);
        }
    }
}

/// Postings of every label pair in the head.
#[derive(Default)]
pub(crate) struct MemPostings {
    pub(crate) by_label: HashMap<Arc<str>, HashMap<Arc<str>, IdList>>,
    pub(crate) all: IdList,
}

impl MemPostings {
    /// Adds series `id` to the postings of its label pairs (strings shared with the head's
    /// symbol table).
    fn add<'a>(&mut self, id: SeriesId, labels: impl Iterator<Item = (&'a Arc<str>, &'a Arc<str>)>) {
        self.all.insert(id);
        for (name, value) in labels {
            let values = match self.by_label.get_mut(&**name) {
                Some(values) => values,
                None => self.by_label.entry(name.clone()).or_default(),
            };
            match values.get_mut(&**value) {
                Some(list) => list.insert(id),
                None => values.entry(value.clone()).or_default().insert(id),
            }
        }
    }
}

/// The sorted ids of the series of one label pair: `u32` while every id fits, which halves
/// the postings' memory (ids count up from 1, so a head practically never leaves this form),
/// and `u64` from the first id that does not.
pub(crate) enum IdList {
    /// Every id is below 2^32.
    Narrow(Vec<u32>),
    /// Any ids.
    Wide(Vec<SeriesId>),
}

impl Default for IdList {
    fn default() -> Self {
        IdList::Narrow(Vec::new())
    }
}

impl IdList {
    /// Inserts `id`; ids mostly arrive in increasing order, so this is usually a push.
    fn insert(&mut self, id: SeriesId) {
        if let IdList::Narrow(list) = self {
            match u32::try_from(id) {
                Ok(narrow) => return insert_sorted(list, narrow),
                Err(_) => *self = IdList::Wide(list.iter().map(|&id| SeriesId::from(id)).collect()),
            }
        }
        if let IdList::Wide(list) = self {
            insert_sorted(list, id);
        }
    }

    /// Removes the ids in `removed`.
    fn remove_all(&mut self, removed: &HashSet<SeriesId>) {
        match self {
            IdList::Narrow(list) => list.retain(|&id| !removed.contains(&SeriesId::from(id))),
            IdList::Wide(list) => list.retain(|id| !removed.contains(id)),
        }
    }

    /// Returns the number of ids.
    pub(crate) fn len(&self) -> usize {
        match self {
            IdList::Narrow(list) => list.len(),
            IdList::Wide(list) => list.len(),
        }
    }

    /// Returns whether the list is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns the ids as postings.
    pub(crate) fn to_postings(&self) -> Postings {
        match self {
            IdList::Narrow(list) => list.iter().map(|&id| SeriesId::from(id)).collect(),
            IdList::Wide(list) => list.clone(),
        }
    }
}

/// Inserts into a sorted list; ids mostly arrive in increasing order, so this is usually a push.
fn insert_sorted<T: Ord + Copy>(list: &mut Vec<T>, id: T) {
    match list.last() {
        Some(&last) if last >= id => {
            if let Err(position) = list.binary_search(&id) {
                list.insert(position, id);
            }
        }
        _ => list.push(id),
    }
}

/// Options the head needs from the database.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadOptions {
    /// Samples up to this much older than the head's newest sample are accepted out of order.
    pub(crate) out_of_order_window_ms: i64,
    /// The block range; in-order appends more than half of it behind the newest sample are
    /// refused, so that a head range being written to a block can no longer change.
    pub(crate) block_range_ms: i64,
}

/// The in-memory head of the database.
pub(crate) struct Head {
    by_hash: Vec<RwLock<HashShard>>,
    by_id: Vec<RwLock<U64Map<Arc<HeadSeries>>>>,
    pub(crate) postings: RwLock<MemPostings>,
    /// The strings of every series' labels (each series holds it too).
    symbols: Arc<RwLock<SymbolTable>>,
    next_id: AtomicU64,
    /// Oldest sample time in the head (`i64::MAX` when empty).
    pub(crate) min_time: AtomicI64,
    /// Newest sample time in the head (`i64::MIN` when empty).
    pub(crate) max_time: AtomicI64,
    /// In-order samples older than this belong to blocks: appends are refused (or go out of
    /// order) and reads leave them out.
    pub(crate) min_valid_time: AtomicI64,
    pub(crate) options: HeadOptions,
    pub(crate) metrics: Arc<TsdbMetrics>,
    /// Wakes the database's maintenance thread (set when it starts): a commit that makes the
    /// head compactable asks for compaction at once, as Prometheus' appender does, instead of
    /// at the next periodic run. Under fast ingestion (a backlog, a replayed remote-write
    /// queue) a 30-second period let the head grow by far more than a block range.
    pub(crate) wake_maintenance: OnceLock<std::sync::mpsc::Sender<()>>,
    /// Whether a wake-up for compaction is pending (cleared after the head compaction).
    pub(crate) compaction_requested: AtomicBool,
    /// In-order appends below this are refused: raised to the end of a range before the range
    /// is written to a block (reads still see the range until truncation raises
    /// `min_valid_time`).
    append_floor: AtomicI64,
    /// The open appenders (see [`Head::close_range_before`]).
    pub(crate) open_appenders: OpenSet,
    /// The open queriers (see [`Head::wait_for_open_readers`]).
    pub(crate) open_readers: OpenSet,
    /// Where closed chunks' bytes go.
    pub(crate) chunk_store: ChunkStore,
}

fn shard_of(key: u64) -> usize {
    (key as usize) & (SHARDS - 1)
}

impl Head {
    pub(crate) fn new(options: HeadOptions, metrics: Arc<TsdbMetrics>, chunk_store: ChunkStore) -> Self {
        Self {
            by_hash: (0..SHARDS).map(|_| RwLock::default()).collect(),
            by_id: (0..SHARDS).map(|_| RwLock::default()).collect(),
            postings: RwLock::default(),
            symbols: Arc::default(),
            next_id: AtomicU64::new(1),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            min_valid_time: AtomicI64::new(i64::MIN),
            options,
            metrics,
            wake_maintenance: OnceLock::new(),
            compaction_requested: AtomicBool::new(false),
            append_floor: AtomicI64::new(i64::MIN),
            open_appenders: OpenSet::default(),
            open_readers: OpenSet::default(),
            chunk_store,
        }
    }

    /// Returns whether `series` belongs to this head (a series handle may name another's).
    pub(crate) fn owns(&self, series: &HeadSeries) -> bool {
        Arc::ptr_eq(&series.symbols, &self.symbols)
    }

    /// Returns the labels of a series of this head.
    pub(crate) fn labels_of(&self, series: &HeadSeries) -> Labels {
        debug_assert!(self.owns(series));
        self.symbols.read().labels(&series.label_ids)
    }

    /// Returns the hash of a series' labels ([`Labels::hash_value`]).
    fn hash_of(&self, series: &HeadSeries) -> u64 {
        panoptes_model::hash_label_pairs(self.symbols.read().pairs(&series.label_ids))
    }

    /// Returns the series with exactly these labels.
    pub(crate) fn series_by_labels(&self, labels: &Labels, hash: u64) -> Option<Arc<HeadSeries>> {
        let shard = self.by_hash[shard_of(hash)].read();
        let symbols = self.symbols.read();
        shard.find(hash, |s| symbols.equals(&s.label_ids, labels)).cloned()
    }

    /// Returns the series whose labels are exactly these canonical pairs.
    pub(crate) fn series_by_pairs(&self, pairs: &[(&str, &str)], hash: u64) -> Option<Arc<HeadSeries>> {
        let shard = self.by_hash[shard_of(hash)].read();
        let symbols = self.symbols.read();
        shard.find(hash, |s| symbols.equals_pairs(&s.label_ids, pairs)).cloned()
    }

    pub(crate) fn series_by_id(&self, id: SeriesId) -> Option<Arc<HeadSeries>> {
        self.by_id[shard_of(id)].read().get(&id).cloned()
    }

    /// Returns the series of those `ids` that exist, in order, taking each shard's lock once:
    /// a select looks up thousands of series on several threads, and taking a lock per id
    /// made the threads contend for the locks' words. The shards are locked in order and only
    /// for reading, and writers hold one shard at a time, so this cannot deadlock.
    pub(crate) fn series_by_ids(&self, ids: &[SeriesId]) -> Vec<Arc<HeadSeries>> {
        let shards: Vec<_> = self.by_id.iter().map(|shard| shard.read()).collect();
        ids.iter().filter_map(|&id| shards[shard_of(id)].get(&id).cloned()).collect()
    }

    /// Returns the series for `labels`, creating it (with a new id, or `id` during replay).
    /// The boolean says whether it was created.
    pub(crate) fn get_or_create(&self, labels: &Labels, id: Option<SeriesId>) -> (Arc<HeadSeries>, bool) {
        let hash = labels.hash_value();
        if let Some(series) = self.series_by_labels(labels, hash) {
            return (series, false);
        }
        let mut shard = self.by_hash[shard_of(hash)].write();
        let existing = {
            let symbols = self.symbols.read();
            shard.find(hash, |s| symbols.equals(&s.label_ids, labels)).cloned()
        };
        if let Some(series) = existing {
            return (series, false);
        }
        let id = match id {
            Some(id) => {
                self.next_id.fetch_max(id + 1, Ordering::Relaxed);
                id
            }
            None => self.next_id.fetch_add(1, Ordering::Relaxed),
        };
        let series = Arc::new(HeadSeries::new(id, &self.symbols, labels));
        shard.insert(hash, series.clone());
        self.by_id[shard_of(id)].write().insert(id, series.clone());
        {
            let symbols = self.symbols.read();
            let pairs = series.label_ids.chunks_exact(2).map(|pair| (symbols.string(pair[0]), symbols.string(pair[1])));
            self.postings.write().add(id, pairs);
        }
        self.metrics.head_series.inc();
        self.metrics.head_series_created.inc();
        (series, true)
    }

    /// Returns every series, in the order of their labels.
    pub(crate) fn all_series_sorted(&self) -> Vec<Arc<HeadSeries>> {
        let mut series = self.all_series();
        let ranks = self.symbols.read().ranks();
        // Series have distinct label sets, so an unstable sort gives the one order.
        series.sort_unstable_by(|a, b| {
            a.label_ids.iter().map(|&id| ranks[id as usize]).cmp(b.label_ids.iter().map(|&id| ranks[id as usize]))
        });
        series
    }

    /// Returns every series (unordered).
    pub(crate) fn all_series(&self) -> Vec<Arc<HeadSeries>> {
        self.by_id.iter().flat_map(|shard| shard.read().values().cloned().collect::<Vec<_>>()).collect()
    }

    /// Returns the number of series.
    pub(crate) fn series_count(&self) -> usize {
        self.by_id.iter().map(|shard| shard.read().len()).sum()
    }

    /// Widens the head's time range to include `min..=max`.
    pub(crate) fn observe_time_range(&self, min: i64, max: i64) {
        self.min_time.fetch_min(min, Ordering::Relaxed);
        self.max_time.fetch_max(max, Ordering::Relaxed);
    }

    /// Returns the oldest timestamp an in-order append may have now.
    pub(crate) fn min_appendable_time(&self) -> i64 {
        let min_valid = self.min_valid_time.load(Ordering::Relaxed).max(self.append_floor.load(Ordering::SeqCst));
        let max = self.max_time.load(Ordering::Relaxed);
        if max == i64::MIN { min_valid } else { min_valid.max(max.saturating_sub(self.options.block_range_ms / 2)) }
    }

    /// Returns `(min, max)` sample times, or `None` when the head is empty.
    pub(crate) fn time_range(&self) -> Option<(i64, i64)> {
        let min = self.min_time.load(Ordering::Relaxed);
        let max = self.max_time.load(Ordering::Relaxed);
        (min <= max).then_some((min, max))
    }

    /// Makes the range before `end` final for a block to be written from it, as Prometheus
    /// waits for overlapping appenders: in-order appends before `end` are refused from now on,
    /// and this returns once every appender that was open before (and may hold samples before
    /// `end` it checked earlier) has committed or been dropped. Without the wait, a batch
    /// committed while the block was written could land behind the writer and be dropped by
    /// the truncation that follows (found by the model test once compaction ran concurrently).
    pub(crate) fn close_range_before(&self, end: i64) {
        self.append_floor.fetch_max(end, Ordering::SeqCst);
        self.wait_for_open_appenders();
    }

    /// Returns once every appender open at the call has committed or been dropped. A WAL
    /// checkpoint waits so: a commit logs its records before it applies them, and a batch
    /// logged in a segment being checkpointed must be in the head when the checkpoint looks at
    /// what the head holds.
    pub(crate) fn wait_for_open_appenders(&self) {
        self.open_appenders.wait_for_earlier("appenders");
    }

    /// Returns once every querier of the head opened before the call is dropped. Truncation
    /// waits so after the block holding the truncated range is published: a querier that took
    /// the list of blocks before would otherwise find the range in neither.
    pub(crate) fn wait_for_open_readers(&self) {
        self.open_readers.wait_for_earlier("queriers");
    }

    /// Returns whether the head spans more than 1.5 block ranges, so that a block can be cut
    /// from it (Prometheus' rule).
    pub(crate) fn is_compactable(&self) -> bool {
        self.time_range().is_some_and(|(min, max)| max.saturating_sub(min) > self.options.block_range_ms / 2 * 3)
    }

    /// Wakes the maintenance thread when the head has become compactable and no wake-up is
    /// pending; called after each commit.
    pub(crate) fn request_compaction_if_due(&self) {
        if self.is_compactable()
            && !self.compaction_requested.swap(true, Ordering::Relaxed)
            && let Some(wake) = self.wake_maintenance.get()
        {
            // A closed database's thread is gone; nothing to wake then.
            let _ = wake.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(id: SeriesId) -> Arc<HeadSeries> {
        Arc::new(HeadSeries::new(id, &Arc::default(), &Labels::from_pairs([("__name__", format!("m{id}"))])))
    }

    #[test]
    fn a_head_series_with_its_reference_counts_fits_a_224_byte_allocation() {
        // mimalloc size classes around here are 192, 224 and 256 bytes; `Arc` adds two counts.
        assert!(std::mem::size_of::<HeadSeries>() + 16 <= 224, "{}", std::mem::size_of::<HeadSeries>());
    }

    #[test]
    fn hash_shard_keeps_colliding_series_apart_and_promotes_one_on_removal() {
        let mut shard = HashShard::default();
        for id in 1..=3 {
            shard.insert(7, series(id));
        }
        shard.insert(8, series(4));
        for id in 1..=4 {
            let hash = if id == 4 { 8 } else { 7 };
            assert_eq!(shard.find(hash, |s| s.id == id).map(|s| s.id), Some(id));
        }
        shard.remove(7, 1);
        assert!(shard.find(7, |s| s.id == 1).is_none());
        assert_eq!(shard.find(7, |s| s.id == 2).map(|s| s.id), Some(2));
        assert_eq!(shard.find(7, |s| s.id == 3).map(|s| s.id), Some(3));
        shard.remove(7, 3);
        shard.remove(7, 2);
        assert!(!shard.first.contains_key(&7) && shard.collisions.is_empty());
        assert_eq!(shard.find(8, |_| true).map(|s| s.id), Some(4));
    }

    #[test]
    fn chunks_are_cut_at_block_range_boundaries() {
        // 10 s samples, 10-minute block range: 60 samples per window, so chunks are cut at each
        // window's first sample long before they hold 120.
        let range = 600_000;
        let store = ChunkStore::memory();
        let mut data = SeriesData::default();
        for i in 0..150 {
            data.append_in_order(Sample::new(5_000 + i * 10_000, i as f64), range, &store);
        }
        let spans: Vec<(i64, i64)> = data.chunks.iter().map(|c| (c.min_t, c.max_t)).collect();
        assert_eq!(spans, [(5_000, 595_000), (605_000, 1_195_000)]);
        assert_eq!(data.open.as_ref().map(|(_, min_t)| *min_t), Some(1_205_000));
        assert_eq!(data.chunks.capacity(), 2, "no unused chunk slots");
        // A full chunk is still cut within a window.
        let mut data = SeriesData::default();
        for i in 0..130 {
            data.append_in_order(Sample::new(i, 1.0), range, &store);
        }
        assert_eq!(data.chunks.iter().map(|c| (c.min_t, c.max_t)).collect::<Vec<_>>(), [(0, 119)]);
    }

    #[test]
    fn open_chunk_ends_in_a_range_only_when_its_last_sample_does() {
        let store = ChunkStore::memory();
        let mut data = SeriesData::default();
        for i in 0..10 {
            data.append_in_order(Sample::new(i * 10, i as f64), i64::MAX, &store);
        }
        assert!(data.open_chunk_ends_in(35, 200));
        assert!(data.open_chunk_ends_in(90, 90));
        // Straddling the range's start with its last sample after its end: only decoding tells.
        assert!(!data.open_chunk_ends_in(35, 89));
        assert!(!data.open_chunk_ends_in(91, 200));
        // A deletion rewrites the chunks and closes the open one; the next sample opens one.
        data.delete_range(80, 90, i64::MAX, &store);
        assert!(!data.open_chunk_ends_in(0, 200));
        data.append_in_order(Sample::new(100, 1.0), i64::MAX, &store);
        assert!(data.open_chunk_ends_in(95, 100));
    }

    #[test]
    fn closed_head_chunks_of_decimal_values_are_stored_smaller_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let in_files = ChunkStore::open(&dir.path().join(HEAD_CHUNKS_DIR)).unwrap();
        for store in [ChunkStore::memory(), in_files] {
            let mut data = SeriesData::default();
            let samples: Vec<Sample> =
                (0..250).map(|i| Sample::new(1_000 + i * 10_000 + i % 7, (i * i * 37) as f64 / 100.0)).collect();
            for &sample in &samples {
                data.append_in_order(sample, i64::MAX, &store);
            }
            assert_eq!(data.chunks.len(), 2);
            assert!(data.chunks.iter().all(|c| c.encoding() == Encoding::Columnar && c.times.is_some()));
            let read = |data: &SeriesData, how: ChunkRead| {
                let refs = data.chunk_refs(i64::MIN, i64::MAX, how);
                let mut iterator = crate::iterator::ChunksIterator::new(refs, i64::MIN, i64::MAX, Arc::from([]));
                panoptes_storage::collect_samples(&mut iterator)
            };
            // Buffered, then in the file (mapped for queries, copied for the block writer).
            assert_eq!(read(&data, ChunkRead::Map), samples);
            store.flush();
            assert_eq!(read(&data, ChunkRead::Map), samples);
            assert_eq!(read(&data, ChunkRead::Copy), samples);
            data.delete_range(1_000, 95_000, i64::MAX, &store);
            assert_eq!(read(&data, ChunkRead::Map), samples[10..]);
            assert_eq!(read(&data, ChunkRead::Copy), samples[10..]);
        }
    }
}
