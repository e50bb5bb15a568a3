//! Dropping head data that has been written to a block, and garbage-collecting empty series.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Head, HeadSeries};
use crate::wal::SeriesId;

impl Head {
    /// Drops what a block now holds: in-order data before `cut`, and exactly the out-of-order
    /// samples that were written (`written_out_of_order`, per series). Series left with no data
    /// are removed. Returns the number of series removed.
    pub(crate) fn truncate(&self, cut: i64, written_out_of_order: &HashMap<SeriesId, Vec<i64>>) -> usize {
        self.min_valid_time.fetch_max(cut, Ordering::Relaxed);
        let min_valid = self.min_valid_time.load(Ordering::Relaxed);
        let mut removed: Vec<Arc<HeadSeries>> = Vec::new();
        let mut new_min = i64::MAX;
        for series in self.all_series() {
            let mut data = series.data.lock();
            data.chunks.retain(|chunk| chunk.max_t >= min_valid);
            data.chunks.shrink_to_fit();
            if let Some(written) = written_out_of_order.get(&series.id) {
                data.retain_out_of_order(|s| written.binary_search(&s.t).is_err());
            }
            let open_is_current = data.open.is_some() && data.last().is_some_and(|last| last.t >= min_valid);
            if !open_is_current && data.open.is_some() {
                data.open = None;
            }
            // A series an open appender has batched a sample for stays (as Prometheus keeps
            // series with a pending commit): the batch would be applied to a removed series. The
            // appender stays open until its batch is applied, so asking now, under the series'
            // lock, cannot miss it.
            let is_empty = data.chunks.is_empty() && data.open.is_none() && data.out_of_order().is_empty();
            if is_empty && !(data.batched.owner != 0 && self.open_appenders.contains(data.batched.owner)) {
                data.is_removed = true;
                removed.push(series.clone());
                continue;
            }
            let in_order_min =
                data.chunks.first().map(|c| c.min_t).or(data.open.as_ref().map(|(_, t)| *t)).map(|t| t.max(min_valid));
            let out_of_order_min = data.out_of_order().first().map(|s| s.t);
            for t in [in_order_min, out_of_order_min].into_iter().flatten() {
                new_min = new_min.min(t);
            }
        }
        self.min_time.store(new_min, Ordering::Relaxed);
        if new_min == i64::MAX {
            self.max_time.store(i64::MIN, Ordering::Relaxed);
        }
        self.remove_series(&removed);
        removed.len()
    }

    /// Removes the series replay created that hold no sample and never held one: their
    /// samples were all older than the blocks (a checkpoint leaves the segments that still
    /// hold head samples, and those hold older samples and the series of them too). Returns
    /// the number removed.
    pub(crate) fn remove_unused_series(&self) -> usize {
        let mut removed: Vec<Arc<HeadSeries>> = Vec::new();
        for series in self.all_series() {
            let mut data = series.data.lock();
            let is_unused =
                !data.has_last && data.chunks.is_empty() && data.open.is_none() && data.out_of_order().is_empty();
            if is_unused {
                data.is_removed = true;
                removed.push(series.clone());
            }
        }
        self.remove_series(&removed);
        removed.len()
    }

    fn remove_series(&self, removed: &[Arc<HeadSeries>]) {
        if removed.is_empty() {
            return;
        }
        let ids: HashSet<SeriesId> = removed.iter().map(|s| s.id).collect();
        for series in removed {
            let hash = self.hash_of(series);
            self.by_hash[super::shard_of(hash)].write().remove(hash, series.id);
            self.by_id[super::shard_of(series.id)].write().remove(&series.id);
        }
        let mut postings = self.postings.write();
        postings.all.remove_all(&ids);
        postings.by_label.retain(|_, values| {
            values.retain(|_, list| {
                list.remove_all(&ids);
                !list.is_empty()
            });
            !values.is_empty()
        });
        drop(postings);
        self.metrics.head_series.dec_by(removed.len() as i64);
        self.metrics.head_series_removed.inc_by(removed.len() as u64);
        // The series' strings are freed when the last holder drops them (symbols.rs).
    }
}
