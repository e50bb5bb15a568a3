//! Reading the head: matcher evaluation over its postings and series snapshots.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use panoptes_model::{Labels, Matcher, Sample};
use panoptes_storage::{MergeSampleIterator, Querier, SampleIterator, Series, SeriesSet, VecSampleIterator};
use parking_lot::{Mutex, RwLockReadGuard};

use super::{ChunkRead, Head, HeadSeries, IdList, MemPostings};
use crate::iterator::{ChunksIterator, chunks_iterator, non_empty};
use crate::postings::{Postings, PostingsSource, postings_for_matchers};

struct HeadIndex<'a>(RwLockReadGuard<'a, MemPostings>);

impl PostingsSource for HeadIndex<'_> {
    fn label_values_unsorted(&self, name: &str) -> Vec<String> {
        self.0.by_label.get(name).map(|values| values.keys().map(|v| v.to_string()).collect()).unwrap_or_default()
    }

    fn postings(&self, name: &str, value: &str) -> Postings {
        self.0.by_label.get(name).and_then(|values| values.get(value)).map(IdList::to_postings).unwrap_or_default()
    }

    fn all_postings(&self) -> Postings {
        self.0.all.to_postings()
    }
}

/// Returns the ids of the head series that satisfy every matcher.
pub(crate) fn head_postings_for_matchers(head: &Head, matchers: &[Matcher]) -> Postings {
    postings_for_matchers(&HeadIndex(head.postings.read()), matchers)
}

/// Reads the head within `[mint, maxt]`.
pub(crate) struct HeadQuerier {
    head: Arc<Head>,
    mint: i64,
    maxt: i64,
    /// The querier's id among the head's open readers ([`Head::wait_for_open_readers`]).
    reader: u64,
}

impl Drop for HeadQuerier {
    fn drop(&mut self) {
        self.head.open_readers.close(self.reader);
    }
}

impl HeadQuerier {
    pub(crate) fn new(head: Arc<Head>, mint: i64, maxt: i64) -> Self {
        let reader = head.open_readers.open();
        Self { head, mint, maxt, reader }
    }

    fn matching_series(&self, matchers: &[Matcher]) -> Vec<Arc<HeadSeries>> {
        let ids = head_postings_for_matchers(&self.head, matchers);
        ids.into_iter().filter_map(|id| self.head.series_by_id(id)).collect()
    }

    /// Returns whether every head sample is inside the range, so no per-series check is needed.
    fn covers_head(&self) -> bool {
        self.head.time_range().is_none_or(|(min, max)| self.mint <= min && self.maxt >= max)
    }

    /// Returns the series' samples in range, or `None` when it has none.
    pub(crate) fn series_iterator(&self, series: &HeadSeries) -> Option<Box<dyn SampleIterator>> {
        head_series_iterator(&self.head, series, self.mint, self.maxt, ChunkRead::Map)
    }

    fn has_samples(&self, series: &HeadSeries) -> bool {
        self.covers_head() || self.series_iterator(series).is_some()
    }
}

/// Returns an iterator over the samples of a head series in `[mint, maxt]`, or `None` if empty;
/// `read` says how closed chunks in files are read ([`ChunkRead`]).
pub(crate) fn head_series_iterator(
    head: &Head,
    series: &HeadSeries,
    mint: i64,
    maxt: i64,
    read: ChunkRead,
) -> Option<Box<dyn SampleIterator>> {
    let min_valid = head.min_valid_time.load(Ordering::Relaxed);
    let data = series.data.lock();
    let in_order_min = mint.max(min_valid);
    let chunks = data.chunk_refs(in_order_min, maxt, read);
    let out_of_order: Vec<Sample> =
        data.out_of_order().iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
    // The open chunk usually straddles the start of a recent range; when its last sample is
    // in range, the series has a sample there, and its chunk need not be decoded to find out
    // (the head keeps no deleted intervals: a deletion rewrites the chunks).
    let open_ends_in_range = data.open_chunk_ends_in(in_order_min, maxt);
    drop(data);
    if out_of_order.is_empty() {
        if open_ends_in_range {
            return Some(Box::new(ChunksIterator::with_deletions(chunks, in_order_min, maxt, None)));
        }
        return chunks_iterator(chunks, in_order_min, maxt, None, false);
    }
    let in_order: Box<dyn SampleIterator> = Box::new(ChunksIterator::with_deletions(chunks, in_order_min, maxt, None));
    non_empty(Box::new(MergeSampleIterator::new(vec![in_order, Box::new(VecSampleIterator::new(out_of_order))])))
}

/// The series of one piece of a select's ids that have samples in range, in id order: their
/// labels, samples (each taken once, into the select's result) and, when the head's string
/// ranks are at hand, their sort keys (the ranks of their label ids, side by side, each
/// series' ending at its `key_ends` entry).
struct SelectedPiece {
    labels: Vec<Labels>,
    samples: Vec<Option<Box<dyn SampleIterator>>>,
    keys: Vec<u32>,
    key_ends: Vec<u32>,
}

/// Below this many series per thread a select's per-series work stays on the calling thread:
/// starting a thread costs tens of microseconds, a series a microsecond or more (its lock, its
/// chunk list and, when its chunks straddle the range's start, decoding one to peek).
const MIN_SERIES_PER_THREAD: usize = 8192;

/// The most threads one select uses.
const MAX_SELECT_THREADS: usize = 8;

/// Returns how many threads share the per-series work of `series` series.
fn select_threads(series: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.min(MAX_SELECT_THREADS).min(series / MIN_SERIES_PER_THREAD).max(1)
}

/// Series per piece of a select's per-series work that threads take in turn: a thread the
/// machine deschedules (a busy core) holds back at most one piece, a few milliseconds of work,
/// while the others take the rest; taking a piece costs one atomic addition.
const PIECE_SERIES: usize = 2048;

/// Calls `work` on consecutive pieces of `items` of `piece_items` each (the last one shorter)
/// on up to `threads` threads, the calling one among them, each taking the next piece not yet
/// taken; returns the results in the pieces' order.
fn map_pieces<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    piece_items: usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if threads < 2 || items.len() <= piece_items {
        return vec![work(items)];
    }
    let pieces: Vec<&[T]> = items.chunks(piece_items.max(1)).collect();
    let results: Vec<Mutex<Option<R>>> = pieces.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let take_pieces = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(index) else { break };
            *results[index].lock() = Some(work(piece));
        }
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads.min(pieces.len())).map(|_| scope.spawn(take_pieces)).collect();
        take_pieces();
        for helper in helpers {
            helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
    results.into_iter().map(|slot| slot.into_inner().expect("every piece is taken once")).collect()
}

/// Merges lists each sorted by `less` into one (ties: the earlier list first).
fn merge_sorted_lists(lists: Vec<Vec<u32>>, less: impl Fn(u32, u32) -> bool) -> Vec<u32> {
    let mut lists: Vec<std::iter::Peekable<std::vec::IntoIter<u32>>> =
        lists.into_iter().filter(|list| !list.is_empty()).map(|list| list.into_iter().peekable()).collect();
    if lists.len() == 1 {
        return lists.pop().map(Iterator::collect).unwrap_or_default();
    }
    let mut merged = Vec::with_capacity(lists.iter().map(|list| list.len()).sum());
    loop {
        let mut least: Option<(usize, u32)> = None;
        for (position, list) in lists.iter_mut().enumerate() {
            if let Some(&candidate) = list.peek()
                && least.is_none_or(|(_, current)| less(candidate, current))
            {
                least = Some((position, candidate));
            }
        }
        let Some((position, index)) = least else { return merged };
        lists[position].next();
        merged.push(index);
    }
}

impl Querier for HeadQuerier {
    fn select(&self, matchers: &[Matcher]) -> panoptes_storage::Result<SeriesSet> {
        let ids = head_postings_for_matchers(&self.head, matchers);
        // Each series' lock, chunk list and (when its chunks straddle the range's start) the
        // peek that decodes one are independent of the others: large selects share them out,
        // and build each selected series' labels and sort key there too, while its strings'
        // ids are in the cache (reading them again later, in sorted order, missed it).
        let threads = select_threads(ids.len());
        // Label sets compared as the ranks of their strings order as the sets do
        // ([`SymbolTable::ranks`]): each series' ranks side by side in one buffer, so a
        // comparison reads two short runs of integers instead of strings all over the heap.
        // The ranks cover every string of the series in `ids`: they were interned before the
        // series entered the postings, and live as long as the series.
        let ranks = self.head.symbols.read().cached_ranks(ids.len());
        let pieces: Vec<SelectedPiece> = map_pieces(&ids, threads, PIECE_SERIES, |piece| {
            let found = self.head.series_by_ids(piece);
            let mut kept = Vec::with_capacity(found.len());
            for series in found {
                if let Some(samples) = self.series_iterator(&series) {
                    kept.push((series, samples));
                }
            }
            // No series' lock is held from here on, so the strings may be read: an appender
            // holding a series' lock may wait for them.
            let symbols = self.head.symbols.read();
            let key_count =
                if ranks.is_some() { kept.iter().map(|(series, _)| series.label_ids.len()).sum() } else { 0 };
            let mut selected = SelectedPiece {
                labels: Vec::with_capacity(kept.len()),
                samples: Vec::with_capacity(kept.len()),
                keys: Vec::with_capacity(key_count),
                key_ends: Vec::with_capacity(if ranks.is_some() { kept.len() } else { 0 }),
            };
            for (series, samples) in kept {
                if let Some(ranks) = &ranks {
                    selected.keys.extend(series.label_ids.iter().map(|&id| ranks[id as usize]));
                    selected.key_ends.push(selected.keys.len() as u32);
                }
                selected.labels.push(symbols.labels(&series.label_ids));
                selected.samples.push(Some(samples));
            }
            selected
        });
        let count: usize = pieces.iter().map(|piece| piece.labels.len()).sum();
        let mut labels: Vec<Labels> = Vec::with_capacity(count);
        let mut samples: Vec<Option<Box<dyn SampleIterator>>> = Vec::with_capacity(count);
        let mut keys: Vec<u32> = Vec::with_capacity(pieces.iter().map(|piece| piece.keys.len()).sum());
        let mut spans: Vec<(u32, u32)> = Vec::with_capacity(if ranks.is_some() { count } else { 0 });
        for piece in pieces {
            let offset = keys.len() as u32;
            let mut start = offset;
            for end in piece.key_ends {
                spans.push((start, offset + end));
                start = offset + end;
            }
            keys.extend(piece.keys);
            labels.extend(piece.labels);
            samples.extend(piece.samples);
        }
        if ranks.is_none() {
            let mut result: Vec<Series> = labels
                .into_iter()
                .zip(samples)
                .filter_map(|(labels, samples)| Some(Series { labels, samples: samples? }))
                .collect();
            // Unstable is enough (label sets are unique) and faster: the head's ids are in creation order.
            result.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
            return Ok(Box::new(result.into_iter().map(Ok)));
        }
        let key = |index: u32| {
            let (start, end) = spans[index as usize];
            &keys[start as usize..end as usize]
        };
        let indexes: Vec<u32> = (0..count as u32).collect();
        // Pieces sorted on their threads, then merged. Unstable is enough (label sets are
        // unique) and faster: the head's ids are in creation order.
        // One piece per thread, so that the merge takes few lists.
        let sorted = map_pieces(&indexes, threads, indexes.len().div_ceil(threads), |piece| {
            let mut piece = piece.to_vec();
            piece.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
            piece
        });
        let order = merge_sorted_lists(sorted, |a, b| key(a) < key(b));
        let result: Vec<Series> = order
            .into_iter()
            .filter_map(|index| {
                let index = index as usize;
                Some(Series { labels: std::mem::take(&mut labels[index]), samples: samples[index].take()? })
            })
            .collect();
        Ok(Box::new(result.into_iter().map(Ok)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        let mut names: Vec<String> = if matchers.is_empty() && self.covers_head() {
            self.head.postings.read().by_label.keys().map(|n| n.to_string()).collect()
        } else {
            self.matching_series(matchers)
                .iter()
                .filter(|s| self.has_samples(s))
                .flat_map(|s| self.head.labels_of(s).iter().map(|l| l.name.to_string()).collect::<Vec<_>>())
                .collect()
        };
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        let mut values: Vec<String> = if matchers.is_empty() && self.covers_head() {
            HeadIndex(self.head.postings.read()).label_values_unsorted(name)
        } else {
            self.matching_series(matchers)
                .iter()
                .filter_map(|s| {
                    let value = self.head.labels_of(s).get(name).map(str::to_owned)?;
                    self.has_samples(s).then_some(value)
                })
                .collect()
        };
        values.sort();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_sorted_apart_and_merged_equal_one_sort_for_any_thread_count() {
        // Keys with many ties, so that ties between pieces are exercised too.
        let keys: Vec<u32> = (0..1000u32).map(|i| i.wrapping_mul(2_654_435_761) % 97).collect();
        let indexes: Vec<u32> = (0..keys.len() as u32).collect();
        let mut want = indexes.clone();
        want.sort_by_key(|&index| keys[index as usize]);
        for threads in 1..6 {
            // One piece per thread, so that the merge takes few lists.
            let sorted = map_pieces(&indexes, threads, indexes.len().div_ceil(threads), |piece| {
                let mut piece = piece.to_vec();
                piece.sort_by_key(|&index| keys[index as usize]);
                piece
            });
            assert_eq!(sorted.len(), threads, "one result per piece");
            let merged = merge_sorted_lists(sorted, |a, b| keys[a as usize] < keys[b as usize]);
            assert_eq!(merged, want, "{threads} threads");
        }
        assert_eq!(map_pieces(&[] as &[u32], 3, 10, <[u32]>::len), vec![0]);
        let items: Vec<u32> = (0..1000).collect();
        for threads in 1..4 {
            let sums = map_pieces(&items, threads, 64, |piece| piece.iter().sum::<u32>());
            assert_eq!(sums.len(), if threads == 1 { 1 } else { 16 }, "{threads} threads");
            assert_eq!(sums.iter().sum::<u32>(), items.iter().sum::<u32>());
            if threads > 1 {
                assert_eq!(sums[0], (0..64).sum::<u32>(), "results in the pieces' order");
            }
        }
    }
}
