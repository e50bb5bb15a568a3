//! Queries over the blocks and the head of a database, merged.

use std::sync::Arc;

use panoptes_model::Matcher;
use panoptes_storage::{Querier, SeriesSet, merge_series_sets};

use super::DbInner;
use crate::block::reader::BlockQuerier;
use crate::head::HeadQuerier;

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
        let sets = self.parts.iter().map(|part| part.select(matchers)).collect::<panoptes_storage::Result<Vec<_>>>()?;
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
