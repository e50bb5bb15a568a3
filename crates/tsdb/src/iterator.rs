//! Sample iteration over a series' chunks, clipped to a time range and to deleted intervals.
//!
//! Used for head chunks (shared in memory) and block chunks (memory-mapped) alike.

use std::sync::Arc;

use memmap2::Mmap;
use panoptes_model::Sample;
use panoptes_storage::SampleIterator;

use crate::chunkenc::{
    ColumnarScratch, Encoding, XorIterator, decode_columnar, decode_columnar_into, decode_decimal, decode_head_decimal,
    decode_head_decimal_into, head_decimal_has_time_in,
};
use crate::head::{Segment, TimeColumn};

thread_local! {
    /// Buffers for decoding columnar chunks in [`ChunksIterator::read_all`], kept per thread
    /// from one series to the next: a query reads many series on few threads, and a block's
    /// series mostly share one time column, which stays decoded here.
    static COLUMNAR_SCRATCH: std::cell::RefCell<ColumnarScratch> = std::cell::RefCell::new(ColumnarScratch::default());
}

/// Chunk bytes, owned by the head or mapped from a block's chunk file.
#[derive(Clone)]
pub(crate) enum ChunkBytes {
    /// A head chunk, shared with the head.
    Shared(Arc<[u8]>),
    /// A closed head chunk (columnar) and the time column it shares (head/times.rs).
    SharedTimes(Arc<[u8]>, Arc<TimeColumn>),
    /// A chunk inside a mapped file: the map and the byte range.
    Mapped(Arc<Mmap>, usize, usize),
    /// A closed head chunk in a head chunk file (head/chunk_files.rs): the segment, offset and
    /// length, and the time column it shares when columnar.
    HeadFile(Arc<Segment>, u32, u32, Option<Arc<TimeColumn>>),
}

impl AsRef<[u8]> for ChunkBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            ChunkBytes::Shared(bytes) | ChunkBytes::SharedTimes(bytes, _) => bytes,
            ChunkBytes::Mapped(map, start, end) => &map[*start..*end],
            ChunkBytes::HeadFile(segment, offset, len, _) => segment.slice(*offset, *len),
        }
    }
}

/// A chunk and the time range it covers.
#[derive(Clone)]
pub(crate) struct ChunkRef {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) encoding: Encoding,
    pub(crate) bytes: ChunkBytes,
    /// For a columnar chunk of a block that shares its timestamps: the byte range of the chunk
    /// holding them, in the same file (one map reference per chunk, not two). A head chunk's
    /// shared column comes with its bytes ([`ChunkBytes::SharedTimes`]).
    pub(crate) shared_times: Option<(usize, usize)>,
}

impl ChunkRef {
    /// Returns the data of the chunk holding this chunk's timestamps, if it shares them.
    fn shared_times(&self) -> Option<&[u8]> {
        match (&self.bytes, self.shared_times) {
            (ChunkBytes::Mapped(map, ..), Some((start, end))) => Some(&map[start..end]),
            (ChunkBytes::SharedTimes(_, times), _) | (ChunkBytes::HeadFile(.., Some(times)), _) => Some(&times.bytes),
            _ => None,
        }
    }
}

/// Decodes one chunk of either encoding.
enum ChunkDecoder {
    /// Streams an XOR chunk.
    Xor(XorIterator<ChunkBytes>),
    /// A decimal or columnar chunk, decoded whole (at most a few hundred samples); `is_corrupt` when it did not decode.
    Decoded { samples: std::vec::IntoIter<Sample>, is_corrupt: bool },
}

impl ChunkDecoder {
    fn new(chunk: &ChunkRef) -> Self {
        match chunk.encoding {
            Encoding::Xor => ChunkDecoder::Xor(XorIterator::new(chunk.bytes.clone())),
            Encoding::Decimal => Self::decoded(decode_decimal(chunk.bytes.as_ref())),
            Encoding::HeadDecimal => Self::decoded(decode_head_decimal(chunk.bytes.as_ref())),
            Encoding::Columnar => Self::decoded(decode_columnar(chunk.bytes.as_ref(), chunk.shared_times())),
        }
    }

    fn decoded(samples: Option<Vec<Sample>>) -> Self {
        match samples {
            Some(samples) => ChunkDecoder::Decoded { samples: samples.into_iter(), is_corrupt: false },
            None => ChunkDecoder::Decoded { samples: Vec::new().into_iter(), is_corrupt: true },
        }
    }

    fn next(&mut self) -> Option<Sample> {
        match self {
            ChunkDecoder::Xor(iterator) => iterator.next(),
            ChunkDecoder::Decoded { samples, .. } => samples.next(),
        }
    }

    fn is_corrupt(&self) -> bool {
        match self {
            ChunkDecoder::Xor(iterator) => iterator.is_corrupt(),
            ChunkDecoder::Decoded { is_corrupt, .. } => *is_corrupt,
        }
    }
}

/// Iterates the samples of time-ordered, non-overlapping chunks within `[mint, maxt]`, leaving
/// out deleted intervals.
pub(crate) struct ChunksIterator {
    chunks: Vec<ChunkRef>,
    next_chunk: usize,
    /// The chunk being streamed, boxed: only `next`, `seek` and XOR chunks use it, while a
    /// query's `read_all` decodes whole chunks straight into its buffer. Unboxed, it made the
    /// iterator about 210 bytes (an allocation of 224) instead of 128, fresh memory for every
    /// series a select returns, each query (page faults).
    current: Option<Box<ChunkDecoder>>,
    mint: i64,
    maxt: i64,
    /// The deleted intervals; `None` when there are none (nearly every series), so that an
    /// iterator costs no allocation or shared reference count for them.
    deleted: Option<Arc<[(i64, i64)]>>,
    last: Option<Sample>,
    is_done: bool,
    error: Option<String>,
}

// A select allocates one per series and block; see `current`.
const _: () = assert!(std::mem::size_of::<ChunksIterator>() <= 128);

impl ChunksIterator {
    #[cfg(test)]
    pub(crate) fn new(chunks: Vec<ChunkRef>, mint: i64, maxt: i64, deleted: Arc<[(i64, i64)]>) -> Self {
        Self::with_deletions(chunks, mint, maxt, Some(deleted).filter(|deleted| !deleted.is_empty()))
    }

    /// Like [`ChunksIterator::new`], with `None` for no deleted intervals.
    pub(crate) fn with_deletions(
        chunks: Vec<ChunkRef>,
        mint: i64,
        maxt: i64,
        deleted: Option<Arc<[(i64, i64)]>>,
    ) -> Self {
        Self { chunks, next_chunk: 0, current: None, mint, maxt, deleted, last: None, is_done: false, error: None }
    }

    fn is_deleted(&self, t: i64) -> bool {
        is_deleted(self.deleted.as_deref(), t)
    }

    /// Appends the samples of a decoded chunk that lie in range and are not deleted.
    fn push_in_range(&mut self, samples: impl Iterator<Item = Sample>, out: &mut Vec<Sample>) {
        for sample in samples {
            if sample.t > self.maxt {
                self.is_done = true;
                break;
            }
            if sample.t >= self.mint && !self.is_deleted(sample.t) {
                out.push(sample);
            }
        }
    }

    /// Appends the samples of a chunk decoded whole (columnar or head decimal) that lie in
    /// range and are not deleted, decoding them straight into `out` and clipping there;
    /// returns false when the chunk did not decode.
    fn push_whole_in_range(&mut self, chunk_index: usize, out: &mut Vec<Sample>) -> bool {
        let chunk = &self.chunks[chunk_index];
        let start = out.len();
        let decoded = match chunk.encoding {
            Encoding::Columnar => {
                let shared_times = chunk.shared_times();
                COLUMNAR_SCRATCH
                    .with_borrow_mut(|scratch| decode_columnar_into(chunk.bytes.as_ref(), shared_times, scratch, out))
            }
            Encoding::HeadDecimal => decode_head_decimal_into(chunk.bytes.as_ref(), out),
            Encoding::Xor | Encoding::Decimal => {
                debug_assert!(false, "{:?} is not decoded into the output", chunk.encoding);
                None
            }
        };
        if decoded.is_none() {
            return false;
        }
        // A columnar chunk is never empty (`decode_columnar_into` refuses a sample count of
        // 0); a head chunk may be.
        if out.len() == start {
            return true;
        }
        if out.last().is_some_and(|last| last.t > self.maxt) {
            self.is_done = true;
        }
        // Decoded samples are checked rather than the chunk's recorded range, which an index
        // could get wrong.
        let is_whole = out[start].t >= self.mint && !self.is_done && self.deleted.is_none();
        if !is_whole {
            let (mint, maxt) = (self.mint, self.maxt);
            let mut kept = start;
            for index in start..out.len() {
                let sample = out[index];
                if sample.t >= mint && sample.t <= maxt && !self.is_deleted(sample.t) {
                    out[kept] = sample;
                    kept += 1;
                }
            }
            out.truncate(kept);
        }
        true
    }

    fn open_next_chunk(&mut self) -> bool {
        while let Some(chunk) = self.chunks.get(self.next_chunk) {
            self.next_chunk += 1;
            if chunk.max_t < self.mint {
                continue;
            }
            if chunk.min_t > self.maxt {
                return false;
            }
            self.current = Some(Box::new(ChunkDecoder::new(chunk)));
            return true;
        }
        false
    }
}

impl SampleIterator for ChunksIterator {
    fn next(&mut self) -> Option<Sample> {
        while !self.is_done {
            if self.current.is_none() && !self.open_next_chunk() {
                self.is_done = true;
                break;
            }
            let current = self.current.as_mut().expect("opened");
            let next = current.next();
            let is_corrupt = current.is_corrupt();
            match next {
                Some(sample) if sample.t < self.mint => continue,
                Some(sample) if sample.t > self.maxt => self.is_done = true,
                Some(sample) if self.is_deleted(sample.t) => continue,
                Some(sample) => {
                    self.last = Some(sample);
                    return Some(sample);
                }
                None => {
                    if is_corrupt {
                        self.error = Some(format!("chunk {} ends before its sample count", self.next_chunk - 1));
                    }
                    self.current = None;
                }
            }
        }
        None
    }

    fn read_all(&mut self, out: &mut Vec<Sample>) {
        let before = out.len();
        while !self.is_done {
            // A chunk decoded whole and partly read (the head's first sample was peeked).
            if matches!(self.current.as_deref(), Some(ChunkDecoder::Decoded { .. }))
                && let Some(ChunkDecoder::Decoded { samples, is_corrupt }) = self.current.take().map(|decoder| *decoder)
            {
                if is_corrupt {
                    self.error = Some(format!("chunk {} ends before its sample count", self.next_chunk - 1));
                }
                self.push_in_range(samples, out);
                continue;
            }
            if self.current.is_none() {
                while self.chunks.get(self.next_chunk).is_some_and(|chunk| chunk.max_t < self.mint) {
                    self.next_chunk += 1;
                }
                let Some(chunk) = self.chunks.get(self.next_chunk).filter(|chunk| chunk.min_t <= self.maxt) else {
                    self.is_done = true;
                    break;
                };
                // Chunks decoded whole go straight to `out`; XOR chunks stream below.
                if matches!(chunk.encoding, Encoding::Columnar | Encoding::HeadDecimal) {
                    self.next_chunk += 1;
                    if !self.push_whole_in_range(self.next_chunk - 1, out) {
                        self.error = Some(format!("chunk {} ends before its sample count", self.next_chunk - 1));
                    }
                    continue;
                }
                if chunk.encoding != Encoding::Xor {
                    self.next_chunk += 1;
                    let ChunkDecoder::Decoded { samples, is_corrupt } = ChunkDecoder::new(chunk) else { continue };
                    if is_corrupt {
                        self.error = Some(format!("chunk {} ends before its sample count", self.next_chunk - 1));
                        continue;
                    }
                    self.push_in_range(samples, out);
                    continue;
                }
            }
            match self.next() {
                Some(sample) => out.push(sample),
                None => break,
            }
        }
        if out.len() > before {
            self.last = out.last().copied();
        }
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        if let Some(last) = self.last.filter(|last| last.t >= t) {
            return Some(last);
        }
        // Skip whole chunks that end before `t` without decoding them.
        if self.current.is_some() && self.next_chunk > 0 && self.chunks[self.next_chunk - 1].max_t < t {
            self.current = None;
        }
        if self.current.is_none() {
            while self.chunks.get(self.next_chunk).is_some_and(|chunk| chunk.max_t < t) {
                self.next_chunk += 1;
            }
        }
        while let Some(sample) = self.next() {
            if sample.t >= t {
                return Some(sample);
            }
        }
        None
    }

    fn take_error(&mut self) -> Option<panoptes_storage::Error> {
        self.error.take().map(panoptes_storage::Error::Corruption)
    }
}

/// Returns whether `t` lies in one of the `deleted` intervals.
fn is_deleted(deleted: Option<&[(i64, i64)]>, t: i64) -> bool {
    deleted.is_some_and(|deleted| deleted.iter().any(|&(from, to)| t >= from && t <= to))
}

thread_local! {
    /// Samples decoded to find whether a series has one in range ([`has_sample_in_range`]),
    /// kept per thread from one series to the next.
    static PEEK_SCRATCH: std::cell::RefCell<Vec<Sample>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Returns whether [`ChunksIterator`] over `chunks` would yield a sample: the same chunks
/// skipped, the same samples clipped and left out, a chunk that does not decode yielding what
/// it yields there (nothing, or an XOR chunk's samples before the damage). Decodes into a
/// per-thread buffer, so the iterator handed out afterwards holds nothing decoded: a select
/// checks every series on one thread, and each check allocating a decoded chunk (and a wrapper
/// holding it) cost more than decoding the chunk again when the series is read.
fn has_sample_in_range(chunks: &[ChunkRef], mint: i64, maxt: i64, deleted: Option<&[(i64, i64)]>) -> bool {
    // `Some(true)`: a sample in range; `Some(false)`: past `maxt`, none can follow; `None`: go on.
    let verdict = |t: i64| match t {
        t if t > maxt => Some(false),
        t if t < mint || is_deleted(deleted, t) => None,
        _ => Some(true),
    };
    PEEK_SCRATCH.with_borrow_mut(|scratch| {
        for chunk in chunks {
            if chunk.max_t < mint {
                continue;
            }
            if chunk.min_t > maxt {
                return false;
            }
            scratch.clear();
            let decoded = match chunk.encoding {
                Encoding::Xor => {
                    for sample in XorIterator::new(chunk.bytes.clone()) {
                        if let Some(found) = verdict(sample.t) {
                            return found;
                        }
                    }
                    continue;
                }
                // Without deletions, a chunk that holds no sample in range holds none after it
                // either, or only later ones: the next chunk is then skipped or ends the check.
                Encoding::HeadDecimal if deleted.is_none() => {
                    if head_decimal_has_time_in(chunk.bytes.as_ref(), mint, maxt) == Some(true) {
                        return true;
                    }
                    continue;
                }
                Encoding::HeadDecimal => decode_head_decimal_into(chunk.bytes.as_ref(), scratch),
                Encoding::Columnar => COLUMNAR_SCRATCH.with_borrow_mut(|columnar| {
                    decode_columnar_into(chunk.bytes.as_ref(), chunk.shared_times(), columnar, scratch)
                }),
                Encoding::Decimal => decode_decimal(chunk.bytes.as_ref()).map(|samples| scratch.extend(samples)),
            };
            if decoded.is_some()
                && let Some(found) = scratch.iter().find_map(|sample| verdict(sample.t))
            {
                return found;
            }
        }
        false
    })
}

/// Returns an iterator over the samples of `chunks` in `[mint, maxt]` outside `deleted`, or
/// `None` when there is none.
///
/// Decodes nothing when the chunks' recorded ranges show a sample in range, which is nearly
/// always: a chunk's `min_t` is the time of its first sample, and its `max_t` that of its last
/// when `max_t_is_a_sample` (block chunks; not head chunks, whose end a deletion may have
/// removed). A query selects every series on one thread and reads them on several, so decoding
/// here would be done on that one thread. Otherwise (a chunk straddling the range, or
/// deletions) the chunks are decoded into a scratch buffer to find out
/// ([`has_sample_in_range`]).
pub(crate) fn chunks_iterator(
    chunks: Vec<ChunkRef>,
    mint: i64,
    maxt: i64,
    deleted: Option<Arc<[(i64, i64)]>>,
    max_t_is_a_sample: bool,
) -> Option<Box<dyn SampleIterator>> {
    let deleted = deleted.filter(|deleted| !deleted.is_empty());
    let is_inside = |t: i64| t >= mint && t <= maxt;
    let has_sample_inside = if deleted.is_none()
        && chunks.iter().any(|c| is_inside(c.min_t) || (max_t_is_a_sample && is_inside(c.max_t)))
    {
        true
    } else {
        has_sample_in_range(&chunks, mint, maxt, deleted.as_deref())
    };
    has_sample_inside
        .then(|| Box::new(ChunksIterator::with_deletions(chunks, mint, maxt, deleted)) as Box<dyn SampleIterator>)
}

/// Returns the iterator if it yields at least one sample, with that sample put back in front.
pub(crate) fn non_empty(mut inner: Box<dyn SampleIterator>) -> Option<Box<dyn SampleIterator>> {
    let first = inner.next()?;
    Some(Box::new(Peeked { first: Some(first), inner }))
}

/// An iterator whose first sample was already read.
struct Peeked {
    first: Option<Sample>,
    inner: Box<dyn SampleIterator>,
}

impl SampleIterator for Peeked {
    fn next(&mut self) -> Option<Sample> {
        self.first.take().or_else(|| self.inner.next())
    }

    fn read_all(&mut self, out: &mut Vec<Sample>) {
        if let Some(first) = self.first.take() {
            out.push(first);
        }
        self.inner.read_all(out);
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        match self.first.take() {
            Some(first) if first.t >= t => Some(first),
            // The inner iterator's current sample is `first`, so seeking it is right either way.
            _ => self.inner.seek(t),
        }
    }

    fn take_error(&mut self) -> Option<panoptes_storage::Error> {
        self.inner.take_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::{TimeSource, XorAppender, encode_columnar, encode_time_column};

    fn xor_chunk(samples: &[Sample]) -> ChunkRef {
        let mut appender = XorAppender::new();
        for sample in samples {
            appender.append(sample.t, sample.v);
        }
        let bytes: Arc<[u8]> = appender.finish().into();
        ChunkRef {
            min_t: samples[0].t,
            max_t: samples[samples.len() - 1].t,
            encoding: Encoding::Xor,
            bytes: ChunkBytes::Shared(bytes),
            shared_times: None,
        }
    }

    fn columnar_chunk(samples: &[Sample]) -> ChunkRef {
        let times: Vec<i64> = samples.iter().map(|s| s.t).collect();
        let column = encode_time_column(&times);
        let bytes: Arc<[u8]> = encode_columnar(samples, TimeSource::Inline(&column)).into();
        ChunkRef {
            min_t: samples[0].t,
            max_t: samples[samples.len() - 1].t,
            encoding: Encoding::Columnar,
            bytes: ChunkBytes::Shared(bytes),
            shared_times: None,
        }
    }

    fn samples(from: i64, to: i64) -> Vec<Sample> {
        (from..to).map(|t| Sample::new(t * 10, (t * 3 % 7) as f64 + 0.5)).collect()
    }

    #[test]
    fn chunks_iterator_is_none_exactly_when_no_sample_is_in_range_and_not_deleted() {
        // Samples at 0, 10, ..., 190 and 200, ..., 390.
        let chunks = || vec![columnar_chunk(&samples(0, 20)), xor_chunk(&samples(20, 40))];
        let check = |mint: i64, maxt: i64, deleted: Vec<(i64, i64)>, max_t_is_a_sample: bool| {
            let deleted: Arc<[(i64, i64)]> = deleted.into();
            let mut all = ChunksIterator::new(chunks(), mint, maxt, deleted.clone());
            let want: Vec<Sample> = std::iter::from_fn(|| all.next()).collect();
            let got = chunks_iterator(chunks(), mint, maxt, Some(deleted), max_t_is_a_sample)
                .map(|mut iterator| panoptes_storage::collect_samples(iterator.as_mut()));
            assert_eq!(got, (!want.is_empty()).then_some(want), "[{mint}, {maxt}], {max_t_is_a_sample}");
        };
        for max_t_is_a_sample in [false, true] {
            check(0, 1000, vec![], max_t_is_a_sample);
            check(185, 195, vec![], max_t_is_a_sample);
            check(181, 189, vec![], max_t_is_a_sample);
            check(205, 209, vec![], max_t_is_a_sample);
            check(150, 390, vec![(0, 390)], max_t_is_a_sample);
            check(150, 390, vec![(0, 200)], max_t_is_a_sample);
            check(400, 500, vec![], max_t_is_a_sample);
        }
    }

    #[test]
    fn read_all_returns_what_next_returns_over_mixed_chunks_clipped_and_deleted() {
        let chunks = || {
            vec![
                columnar_chunk(&samples(0, 20)),
                xor_chunk(&samples(20, 40)),
                columnar_chunk(&samples(40, 60)),
                xor_chunk(&samples(60, 80)),
            ]
        };
        for (mint, maxt, deleted) in
            [(0, 1000, vec![]), (55, 455, vec![]), (205, 395, vec![(250, 300)]), (0, 1000, vec![(100, 650)])]
        {
            let deleted: Arc<[(i64, i64)]> = deleted.into();
            let mut one_by_one = ChunksIterator::new(chunks(), mint, maxt, deleted.clone());
            let want: Vec<Sample> = std::iter::from_fn(|| one_by_one.next()).collect();
            for consumed_first in [0, 1, 3] {
                let mut iterator = ChunksIterator::new(chunks(), mint, maxt, deleted.clone());
                let mut got: Vec<Sample> = (0..consumed_first).filter_map(|_| iterator.next()).collect();
                iterator.read_all(&mut got);
                assert_eq!(got, want, "range [{mint}, {maxt}], {consumed_first} read first");
                assert_eq!(iterator.next(), None);
                assert!(iterator.take_error().is_none());
            }
        }
    }
}
