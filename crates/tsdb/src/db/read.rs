//! Queries over the blocks and the head of a database, merged.

use std::sync::Arc;

use panoptes_model::Matcher;
use panoptes_storage::{Querier, SeriesSet, merge_series_sets};

use super::DbInner;
use crate::block::reader::BlockQuerier;
use crate::head::HeadQuerier;

/// Below this many series matched in the head, blocks are selected on the calling thread:
/// starting workers costs tens of microseconds, selecting a series from a block about one.
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

fn merge_sorted(lists: Vec<Vec<String>>) -> Vec<String> {
    let mut all: Vec<String> = lists.into_iter().flatten().collect();
    all.sort();
    all.dedup();
    all
}

impl Querier for DbQuerier {
    fn select(&self, matchers: &[Matcher]) -> panoptes_storage::Result<SeriesSet> {
        // The head answers first. When it holds many matching series, the blocks, which decode
        // every series' labels and chunk references, are selected on worker threads.
        let head = self.parts[0].select(matchers)?;
        let blocks = &self.parts[1..];
        let workers = std::thread::available_parallelism().map_or(1, usize::from).min(blocks.len());
        let mut sets = vec![head];
        if workers < 2 || sets[0].size_hint().0 < MIN_SERIES_FOR_WORKERS {
            for block in blocks {
                sets.push(block.select(matchers)?);
            }
        } else {
            let per_worker = blocks.len().div_ceil(workers);
            let selected = std::thread::scope(|scope| {
                let handles: Vec<_> = blocks
                    .chunks(per_worker)
                    .map(|run| {
                        scope.spawn(move || {
                            run.iter().map(|block| block.select(matchers)).collect::<panoptes_storage::Result<Vec<_>>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect::<panoptes_storage::Result<Vec<_>>>()
            })?;
            sets.extend(selected.into_iter().flatten());
        }
        Ok(merge_series_sets(sets))
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
