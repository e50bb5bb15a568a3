//! Reading the head: matcher evaluation over its postings and series snapshots.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use panoptes_model::{Matcher, Sample};
use panoptes_storage::{MergeSampleIterator, Querier, SampleIterator, Series, SeriesSet, VecSampleIterator};
use parking_lot::RwLockReadGuard;

use super::{Head, HeadSeries, IdList, MemPostings};
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
        head_series_iterator(&self.head, series, self.mint, self.maxt)
    }

    fn has_samples(&self, series: &HeadSeries) -> bool {
        self.covers_head() || self.series_iterator(series).is_some()
    }
}

/// Returns an iterator over the samples of a head series in `[mint, maxt]`, or `None` if empty.
pub(crate) fn head_series_iterator(
    head: &Head,
    series: &HeadSeries,
    mint: i64,
    maxt: i64,
) -> Option<Box<dyn SampleIterator>> {
    let min_valid = head.min_valid_time.load(Ordering::Relaxed);
    let data = series.data.lock();
    let in_order_min = mint.max(min_valid);
    let chunks = data.chunk_refs(in_order_min, maxt);
    let out_of_order: Vec<Sample> =
        data.out_of_order().iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
    drop(data);
    if out_of_order.is_empty() {
        return chunks_iterator(chunks, in_order_min, maxt, Arc::from([]), false);
    }
    let in_order: Box<dyn SampleIterator> = Box::new(ChunksIterator::new(chunks, in_order_min, maxt, Arc::from([])));
    non_empty(Box::new(MergeSampleIterator::new(vec![in_order, Box::new(VecSampleIterator::new(out_of_order))])))
}

impl Querier for HeadQuerier {
    fn select(&self, matchers: &[Matcher]) -> panoptes_storage::Result<SeriesSet> {
        let mut result: Vec<Series> = self
            .matching_series(matchers)
            .into_iter()
            .filter_map(|series| {
                let samples = self.series_iterator(&series)?;
                Some(Series { labels: self.head.labels_of(&series), samples })
            })
            .collect();
        // Unstable is enough (label sets are unique) and faster: the head's ids are in creation order.
        result.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
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
