//! Queries over the blocks and the head of a database, merged.

use std::sync::Arc;

use panoptes_model::Matcher;
use panoptes_storage::{Querier, Series, SeriesSet, merge_series_sets};

use super::DbInner;
use crate::block::reader::BlockQuerier;
use crate::head::HeadQuerier;

/// Below this many series matched in the blocks, a select merges the head's and the blocks'
/// series as the caller reads them: starting a worker costs tens of microseconds, selecting a
/// series from a block about one.
const MIN_SERIES_FOR_WORKERS: usize = 1000;

/// Reads every block overlapping the range and the head.
pub(crate) struct DbQuerier {
    parts: Vec<Box<dyn Querier>>,
}

impl DbQuerier {
    pub(crate) fn new(db: &DbInner, mint: i64, maxt: i64) -> Self {
        let mut parts: Vec<Box<dyn Querier>> = Vec::new();
        // The head first: when a sample exists twice (a crash between writing a block and
        // truncating the head), both copies are equal, and the first source wins ties.
        parts.push(Box::new(HeadQuerier::new(db.head.clone(), mint, maxt)));
        for block in db.blocks.read().iter() {
            if block.meta.max_time > mint && block.meta.min_time <= maxt {
                parts.push(Box::new(BlockQuerier::new(Arc::clone(block), mint, maxt)));
            }
        }
        Self { parts }
    }
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
        let blocks = self.parts[1..].iter().map(|block| block.select(matchers)).collect::<Result<Vec<_>, _>>()?;
        let at_most = blocks.iter().map(|set| set.size_hint().1.unwrap_or(usize::MAX)).fold(0, usize::saturating_add);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        if blocks.is_empty() || cores < 2 || at_most < MIN_SERIES_FOR_WORKERS {
            let mut sets = vec![self.parts[0].select(matchers)?];
            sets.extend(blocks);
            return Ok(merge_series_sets(sets));
        }
        // Many series: a worker decodes the blocks' series (labels, chunk references) while this
        // thread selects and sorts the head's, then both merge halves of the label range.
        let (head, blocks) = std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                blocks.into_iter().map(|set| set.collect::<panoptes_storage::Result<Vec<Series>>>()).collect()
            });
            let head = self.parts[0].select(matchers).and_then(|set| set.collect::<panoptes_storage::Result<Vec<_>>>());
            let blocks: panoptes_storage::Result<Vec<Vec<Series>>> =
                worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (head, blocks)
        });
        let mut parts = vec![head?];
        parts.extend(blocks?);
        parts.retain(|part| !part.is_empty());
        Ok(Box::new(merge_in_parallel(parts, cores).into_iter().map(Ok)))
    }

    fn label_names(&self, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        let lists =
            self.parts.iter().map(|part| part.label_names(matchers)).collect::<panoptes_storage::Result<Vec<_>>>()?;
        Ok(merge_sorted(lists))
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> panoptes_storage::Result<Vec<String>> {
        let lists = self
            .parts
            .iter()
            .map(|part| part.label_values(name, matchers))
            .collect::<panoptes_storage::Result<Vec<_>>>()?;
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
