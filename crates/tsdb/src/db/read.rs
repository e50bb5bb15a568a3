//! Queries over the blocks and the head of a database, merged.

use std::cmp::Ordering;
use std::sync::Arc;

use panoptes_model::{Labels, Matcher};
use panoptes_storage::{MergeSampleIterator, Querier, SampleIterator, Series, SeriesSet, merge_series_sets};

use super::DbInner;
use crate::block::reader::{Block, BlockQuerier};
use crate::head::HeadQuerier;
use crate::postings::Postings;

/// Below this many series matched in the blocks, a select merges the head's and the blocks'
/// series as the caller reads them: starting a worker costs tens of microseconds, selecting a
/// series from a block about one.
const MIN_SERIES_FOR_WORKERS: usize = 1000;

/// Reads every block overlapping the range and the head.
pub(crate) struct DbQuerier {
    head: HeadQuerier,
    blocks: Vec<BlockQuerier>,
}

impl DbQuerier {
    pub(crate) fn new(db: &DbInner, mint: i64, maxt: i64) -> Self {
        // The head first: when a sample exists twice (a crash between writing a block and
        // truncating the head), both copies are equal, and the first source wins ties.
        let head = HeadQuerier::new(db.head.clone(), mint, maxt);
        let blocks = db
            .blocks
            .read()
            .iter()
            .filter(|block| block.meta.max_time > mint && block.meta.min_time <= maxt)
            .map(|block| BlockQuerier::new(Arc::clone(block), mint, maxt))
            .collect();
        Self { head, blocks }
    }

    /// Returns the head's querier, then the blocks'.
    fn parts(&self) -> impl Iterator<Item = &dyn Querier> {
        std::iter::once(&self.head as &dyn Querier).chain(self.blocks.iter().map(|block| block as &dyn Querier))
    }
}

/// A block's series: its reference in the block's index and its samples.
type UnlabelledSeries = (u64, Box<dyn SampleIterator>);

/// A block's selected series in label order, their labels left in the index.
struct BlockList<'a> {
    block: &'a Block,
    series: Vec<UnlabelledSeries>,
}

impl BlockList<'_> {
    /// Returns the position of the first series whose labels are not below `bound`.
    fn partition_point(&self, bound: &Labels) -> panoptes_storage::Result<usize> {
        let (mut low, mut high) = (0, self.series.len());
        while low < high {
            let middle = low + (high - low) / 2;
            if self.block.compare_series_labels(self.series[middle].0, bound)? == Ordering::Less {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }

    /// Returns the list's series as [`Series`], their labels built.
    fn into_series(self) -> panoptes_storage::Result<Vec<Series>> {
        let block = self.block;
        self.series
            .into_iter()
            .map(|(reference, samples)| Ok(Series { labels: block.series(reference)?.0, samples }))
            .collect()
    }
}

/// Merges the head's sorted series with the blocks' (the head winning ties, then the blocks
/// in order, as [`merge_series_sets`]) on up to `threads` threads, each merging one range of
/// labels cut from the head's list. A block's series is compared with the head's in the index
/// and its labels are built only when the head does not hold it.
fn merge_with_head(
    mut head: Vec<Series>,
    mut blocks: Vec<BlockList<'_>>,
    threads: usize,
) -> panoptes_storage::Result<Vec<Series>> {
    let cut_count = threads.clamp(1, head.len().max(1));
    // Cuts from the last to the first: each takes the tail of every list from its cut on.
    let mut ranges: Vec<(Vec<Series>, Vec<BlockList<'_>>)> = Vec::with_capacity(cut_count);
    for cut in (1..cut_count).rev() {
        let at = head.len() * cut / cut_count;
        let bound = head[at].labels.clone();
        let mut tails = Vec::with_capacity(blocks.len());
        for list in &mut blocks {
            let from = list.partition_point(&bound)?;
            tails.push(BlockList { block: list.block, series: list.series.split_off(from) });
        }
        ranges.push((head.split_off(at), tails));
    }
    ranges.push((head, blocks));
    ranges.reverse();
    let size = |(head, blocks): &(Vec<Series>, Vec<BlockList<'_>>)| {
        head.len() + blocks.iter().map(|list| list.series.len()).sum::<usize>()
    };
    // Allocated at its largest size (no series in common) rather than grown by doubling
    // through fresh memory: what stays untouched is never faulted in.
    let mut merged = Vec::with_capacity(ranges.iter().map(size).sum());
    std::thread::scope(|scope| {
        let mut ranges = ranges.into_iter();
        let (first_head, first_blocks) = ranges.next().unwrap_or_default();
        let workers: Vec<_> = ranges
            .map(|range| {
                scope.spawn(move || {
                    let mut merged = Vec::with_capacity(size(&range));
                    merge_range_with_head(range.0, range.1, &mut merged).map(|()| merged)
                })
            })
            .collect();
        let mut outcome = merge_range_with_head(first_head, first_blocks, &mut merged);
        for worker in workers {
            let part = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            outcome = outcome.and_then(|()| part.map(|part| merged.extend(part)));
        }
        outcome
    })?;
    Ok(merged)
}

/// Merges one range of [`merge_with_head`] into `merged` on the calling thread.
fn merge_range_with_head(
    head: Vec<Series>,
    blocks: Vec<BlockList<'_>>,
    merged: &mut Vec<Series>,
) -> panoptes_storage::Result<()> {
    let mut head = head.into_iter();
    let mut blocks: Vec<(&Block, std::vec::IntoIter<UnlabelledSeries>)> =
        blocks.into_iter().map(|list| (list.block, list.series.into_iter())).collect();
    // The blocks holding the smallest label set, in order.
    let mut holding: Vec<usize> = Vec::with_capacity(blocks.len());
    loop {
        holding.clear();
        // The smallest label set: the head's next one, or one built from a block.
        let mut built: Option<Labels> = None;
        let mut is_head_smallest = !head.as_slice().is_empty();
        for (index, (block, series)) in blocks.iter().enumerate() {
            let Some(&(reference, _)) = series.as_slice().first() else { continue };
            let smallest = match &built {
                Some(labels) => Some(labels),
                None => head.as_slice().first().filter(|_| is_head_smallest).map(|series| &series.labels),
            };
            let order = match smallest {
                Some(smallest) => block.compare_series_labels(reference, smallest)?,
                None => Ordering::Less,
            };
            match order {
                Ordering::Greater => {}
                Ordering::Equal => holding.push(index),
                Ordering::Less => {
                    built = Some(block.series(reference)?.0);
                    is_head_smallest = false;
                    holding.clear();
                    holding.push(index);
                }
            }
        }
        let (labels, mut parts) = match built {
            Some(labels) => (labels, Vec::with_capacity(holding.len())),
            None if is_head_smallest => {
                let Some(first) = head.next() else { break };
                let mut parts = Vec::with_capacity(1 + holding.len());
                parts.push(first.samples);
                (first.labels, parts)
            }
            None => break,
        };
        for &index in &holding {
            if let Some((_, samples)) = blocks[index].1.next() {
                parts.push(samples);
            }
        }
        let samples: Box<dyn SampleIterator> =
            if parts.len() == 1 { parts.pop().expect("one part") } else { Box::new(MergeSampleIterator::new(parts)) };
        merged.push(Series { labels, samples });
    }
    Ok(())
}

/// Merges sorted series lists (earlier lists winning ties, as [`merge_series_sets`]) on up to
/// `threads` threads, each merging one range of labels: the largest list is cut into equal
/// pieces and the others where their labels reach each cut.
fn merge_in_parallel(mut parts: Vec<Vec<Series>>, threads: usize) -> Vec<Series> {
    // Merges into `out`, allocated by the caller at its largest size (no series in common)
    // rather than grown by doubling through fresh memory: what stays untouched is never
    // faulted in.
    let merge_into = |pieces: Vec<Vec<Series>>, out: &mut Vec<Series>| {
        let sets: Vec<SeriesSet> =
            pieces.into_iter().map(|piece| Box::new(piece.into_iter().map(Ok)) as SeriesSet).collect();
        // Merging lists read no samples, so nothing here fails.
        out.extend(merge_series_sets(sets).filter_map(Result::ok));
    };
    let merge = |pieces: Vec<Vec<Series>>| -> Vec<Series> {
        let mut merged = Vec::with_capacity(pieces.iter().map(Vec::len).sum());
        merge_into(pieces, &mut merged);
        merged
    };
    if parts.len() < 2 || threads < 2 {
        return merge(parts);
    }
    let largest = (0..parts.len()).max_by_key(|&index| parts[index].len()).unwrap_or(0);
    let cut_count = threads.min(parts[largest].len());
    // Cuts from the last to the first: each takes the tail of every list from its cut on.
    let mut ranges: Vec<Vec<Vec<Series>>> = Vec::with_capacity(cut_count);
    for cut in (1..cut_count).rev() {
        let at = parts[largest].len() * cut / cut_count;
        let bound = parts[largest][at].labels.clone();
        let tails = parts
            .iter_mut()
            .map(|part| {
                let from = part.partition_point(|series| series.labels < bound);
                part.split_off(from)
            })
            .collect();
        ranges.push(tails);
    }
    ranges.push(parts);
    ranges.reverse();
    let total = ranges.iter().flatten().map(Vec::len).sum();
    std::thread::scope(|scope| {
        let mut ranges = ranges.into_iter();
        let first = ranges.next().unwrap_or_default();
        let workers: Vec<_> = ranges.map(|range| scope.spawn(move || merge(range))).collect();
        let mut merged = Vec::with_capacity(total);
        merge_into(first, &mut merged);
        for worker in workers {
            merged.extend(worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        merged
    })
}

fn merge_sorted(lists: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = lists.into_iter().flatten().collect();
    all.sort();
    all.dedup();
    all
}

impl Querier for DbQuerier {
    fn select(&self, matchers: &[Matcher]) -> panoptes_storage::Result<SeriesSet> {
        // The blocks find their postings here and decode series only when read.
        let postings: Vec<Postings> = self.blocks.iter().map(|block| block.postings(matchers)).collect();
        let at_most = postings.iter().map(Vec::len).fold(0, usize::saturating_add);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if self.blocks.is_empty() || cores < 2 || at_most < MIN_SERIES_FOR_WORKERS {
            let mut sets = vec![self.head.select(matchers)?];
            sets.extend(self.blocks.iter().zip(postings).map(|(block, postings)| block.series_set(postings)));
            return Ok(merge_series_sets(sets));
        }
        // Many series: a worker decodes the blocks' series (chunk references; their labels stay
        // in the index) while this thread selects and sorts the head's, then both merge halves
        // of the label range.
        let (head, blocks) = std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                self.blocks
                    .iter()
                    .zip(postings)
                    .map(|(block, postings)| {
                        Ok(BlockList { block: block.block(), series: block.unlabelled_series(postings)? })
                    })
                    .collect::<panoptes_storage::Result<Vec<BlockList<'_>>>>()
            });
            // Collected into a list of the set's exact size (collecting a fallible iterator
            // would grow it by doubling, through fresh memory).
            let head = self.head.select(matchers).and_then(|set| {
                let mut list = Vec::with_capacity(set.size_hint().0);
                for series in set {
                    list.push(series?);
                }
                Ok(list)
            });
            let blocks = worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (head, blocks)
        });
        let head = head?;
        let mut blocks = blocks?;
        blocks.retain(|list| !list.series.is_empty());
        if blocks.iter().all(|list| list.series.len() <= head.len()) {
            return Ok(Box::new(merge_with_head(head, blocks, cores)?.into_iter().map(Ok)));
        }
        // The head holds fewer series than a block: its list would cut the ranges unevenly.
        let mut parts = vec![head];
        for list in blocks {
            parts.push(list.into_series()?);
        }
        parts.retain(|part| !part.is_empty());
        Ok(Box::new(merge_in_parallel(parts, cores).into_iter().map(Ok)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        let lists =
            self.parts().map(|part| part.label_names(matchers)).collect::<panoptes_storage::Result<Vec<_>>>()?;
        Ok(merge_sorted(lists))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        let lists =
            self.parts().map(|part| part.label_values(name, matchers)).collect::<panoptes_storage::Result<Vec<_>>>()?;
        Ok(merge_sorted(lists))
    }
}

#[cfg(test)]
mod tests {
    use panoptes_model::{Labels, Sample};
    use panoptes_storage::{VecSampleIterator, collect_samples};

    use super::*;

    /// Returns a sorted list of series `name{i="<index>"}` for each index, each with one
    /// sample at `t` whose value names the list.
    fn list(indexes: &[u32], t: i64, v: f64) -> Vec<Series> {
        let mut series: Vec<Series> = indexes
            .iter()
            .map(|index| Series {
                labels: Labels::from_pairs([("__name__", "m"), ("i", format!("{index:04}").as_str())]),
                samples: Box::new(VecSampleIterator::new(vec![Sample::new(t, v)])),
            })
            .collect();
        series.sort_by(|a, b| a.labels.cmp(&b.labels));
        series
    }

    fn read(series: Vec<Series>) -> Vec<(Labels, Vec<Sample>)> {
        series.into_iter().map(|mut s| (s.labels, collect_samples(s.samples.as_mut()))).collect()
    }

    #[test]
    fn merge_in_parallel_equals_the_lazy_merge_for_any_thread_count() {
        let indexes = |from: u32, to: u32, every: u32| (from..to).filter(|i| i % every == 0).collect::<Vec<_>>();
        let lists = || {
            vec![
                list(&indexes(0, 300, 1), 10, 1.0),
                list(&indexes(100, 700, 2), 10, 2.0),
                list(&indexes(0, 1000, 3), 20, 3.0),
                list(&[], 0, 0.0),
            ]
        };
        let lazy: Vec<Series> = merge_series_sets(
            lists().into_iter().map(|list| Box::new(list.into_iter().map(Ok)) as SeriesSet).collect(),
        )
        .map(|series| series.expect("no error"))
        .collect();
        let want = read(lazy);
        for threads in 1..6 {
            assert_eq!(read(merge_in_parallel(lists(), threads)), want, "{threads} threads");
        }
    }
}
