//! The head appender: checks samples, logs each batch to the WAL, then applies it.

use std::cell::Cell;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use panoptes_model::{Labels, Sample, hash_label_pairs, is_canonical_label_pairs};
use panoptes_storage::{Appender, Error as StorageError, SeriesHandle};

use super::{Batched, Head, HeadSeries, SeriesData};
use crate::wal::{FrameBuffer, MAX_RETAINED_SCRATCH_BYTES, RefSample, SeriesId, Wal, push_samples, push_series};

/// Buffers one batch of samples for the head. The head's [`SeriesHandle`]s hold its
/// `Arc<HeadSeries>`.
pub(crate) struct HeadAppender {
    head: Arc<Head>,
    wal: Option<Arc<Wal>>,
    /// Unique among the head's appenders, never 0 (see [`SeriesData::batched`]).
    id: u64,
    buffers: BatchBuffers,
}

/// The growable buffers of one batch. Each thread keeps the last batch's buffers for its next
/// one: allocating them afresh for every request (and the kernel zeroing their pages after the
/// allocator returned them) cost about a tenth of remote-write CPU (bench/RESULTS.md).
#[derive(Default)]
struct BatchBuffers {
    /// The batch's samples and whether each was checked as in order (see [`apply_sample`]).
    pending: Vec<(Arc<HeadSeries>, Sample, bool)>,
    /// The batch's samples as the WAL logs them, and its framed records.
    refs: Vec<RefSample>,
    frames: FrameBuffer,
}

/// Buffers larger than this (in samples) are freed after their batch rather than kept.
const MAX_RETAINED_BATCH: usize = 1 << 16;

thread_local! {
    static SPARE_BUFFERS: Cell<Option<Box<BatchBuffers>>> = const { Cell::new(None) };
}

impl BatchBuffers {
    /// Returns this thread's spare buffers, or new ones.
    fn take() -> Self {
        SPARE_BUFFERS.take().map(|spare| *spare).unwrap_or_default()
    }

    /// Empties the buffers and keeps them as this thread's spare ones, unless they never grew or
    /// grew too large (a batch that created many series leaves megabytes of series records).
    fn give_back(mut self) {
        if self.pending.capacity() == 0
            || self.pending.capacity() > MAX_RETAINED_BATCH
            || self.frames.capacity() > MAX_RETAINED_SCRATCH_BYTES
        {
            return;
        }
        self.pending.clear();
        self.refs.clear();
        self.frames.clear();
        SPARE_BUFFERS.set(Some(Box::new(self)));
    }
}

impl Drop for HeadAppender {
    fn drop(&mut self) {
        self.head.open_appenders.close(self.id);
        std::mem::take(&mut self.buffers).give_back();
    }
}

impl HeadAppender {
    pub(crate) fn new(head: Arc<Head>, wal: Option<Arc<Wal>>) -> Self {
        let id = head.open_appenders.open();
        Self { head, wal, id, buffers: BatchBuffers::take() }
    }

    /// Decides whether a sample of `series`, whose data the caller has locked, goes into the
    /// batch: `Ok(None)` for a repeat of the sample already stored or batched at `t`, else
    /// `Ok(Some(in_order))`.
    fn check(&self, series: &HeadSeries, data: &SeriesData, t: i64, v: f64) -> Result<Option<bool>, StorageError> {
        let head = &self.head;
        let min_valid = head.min_appendable_time();
        let batched = (data.batched.owner == self.id).then_some(data.batched.sample);
        let last = match (data.last(), batched) {
            (Some(a), Some(b)) => Some(if b.t >= a.t { b } else { a }),
            (a, b) => a.or(b),
        };
        if let Some(last) = last
            && t == last.t
        {
            if last.v.to_bits() == v.to_bits() {
                return Ok(None);
            }
            return Err(StorageError::DuplicateSample { series: head.labels_of(series).to_string(), t });
        }
        let is_in_order = last.is_none_or(|last| t > last.t) && t >= min_valid;
        if is_in_order {
            return Ok(Some(true));
        }
        let window = head.options.out_of_order_window_ms;
        let window_start = head.max_time.load(Ordering::Relaxed).saturating_sub(window);
        if window > 0 && t >= window_start {
            if let Ok(index) = data.out_of_order().binary_search_by(|s| s.t.cmp(&t)) {
                if data.out_of_order()[index].v.to_bits() == v.to_bits() {
                    return Ok(None);
                }
                return Err(StorageError::DuplicateSample { series: head.labels_of(series).to_string(), t });
            }
            return Ok(Some(false));
        }
        let series_name = head.labels_of(series).to_string();
        match last {
            Some(last) if t >= min_valid => {
                head.metrics.out_of_order_rejected.inc();
                Err(StorageError::OutOfOrder { series: series_name, t, last_t: last.t })
            }
            _ => {
                head.metrics.too_old_rejected.inc();
                let min_t = if window > 0 { window_start.max(min_valid) } else { min_valid };
                Err(StorageError::TooOld { series: series_name, t, min_t })
            }
        }
    }
}

impl Appender for HeadAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<(), StorageError> {
        let series = self.find_or_create(labels)?;
        self.append_series(series, t, v)
    }

    fn append_with_handle(
        &mut self,
        handle: &mut Option<SeriesHandle>,
        labels: &Labels,
        t: i64,
        v: f64,
    ) -> Result<(), StorageError> {
        // A handle on a series that truncation removed is replaced by a fresh lookup (which
        // recreates the series), so it does not send every later batch through the commit's
        // recreation path.
        if let Some(series) = handle.as_ref().and_then(SeriesHandle::get_arc::<HeadSeries>)
            && self.head.owns(&series)
            && let Some(appended) = self.append_series_unless_removed(series, t, v)
        {
            return appended;
        }
        let series = self.find_or_create(labels)?;
        *handle = Some(SeriesHandle::new(series.clone()));
        self.append_series(series, t, v)
    }

    fn append_by_handle(&mut self, handle: &SeriesHandle, t: i64, v: f64) -> Result<bool, StorageError> {
        match handle.get_arc::<HeadSeries>() {
            Some(series) if self.head.owns(&series) => match self.append_series_unless_removed(series, t, v) {
                Some(appended) => appended.map(|()| true),
                None => Ok(false),
            },
            _ => Ok(false),
        }
    }

    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<(), StorageError> {
        if is_canonical_label_pairs(pairs) {
            let hash = hash_label_pairs(pairs.iter().copied());
            if let Some(series) = self.head.series_by_pairs(pairs, hash) {
                return self.append_series(series, t, v);
            }
        }
        self.append(&Labels::from_pairs(pairs.iter().copied()), t, v)
    }

    fn commit(mut self: Box<Self>) -> Result<(), StorageError> {
        if self.buffers.pending.is_empty() {
            return Ok(());
        }
        commit_batch(&self.head, self.wal.as_deref(), &mut self.buffers, self.id).map_err(StorageError::from)
    }
}

impl HeadAppender {
    /// Returns the head's series for `labels`, creating it (after validating the labels) when
    /// it does not exist.
    fn find_or_create(&self, labels: &Labels) -> Result<Arc<HeadSeries>, StorageError> {
        match self.head.series_by_labels(labels, labels.hash_value()) {
            Some(series) => Ok(series),
            None => {
                labels.validate()?;
                Ok(self.head.get_or_create(labels, None).0)
            }
        }
    }

    /// Checks and buffers a sample of a known series.
    fn append_series(&mut self, series: Arc<HeadSeries>, t: i64, v: f64) -> Result<(), StorageError> {
        let mut data = series.data.lock();
        let checked = self.check_and_mark(&series, &mut data, t, v)?;
        drop(data);
        if let Some(in_order) = checked {
            self.buffers.pending.push((series, Sample::new(t, v), in_order));
        }
        Ok(())
    }

    /// Like [`HeadAppender::append_series`] under the same lock as the check, except that it
    /// returns `None` for a series that truncation removed (the caller looks it up again).
    fn append_series_unless_removed(
        &mut self,
        series: Arc<HeadSeries>,
        t: i64,
        v: f64,
    ) -> Option<Result<(), StorageError>> {
        let mut data = series.data.lock();
        if data.is_removed {
            return None;
        }
        let checked = self.check_and_mark(&series, &mut data, t, v);
        drop(data);
        Some(checked.map(|checked| {
            if let Some(in_order) = checked {
                self.buffers.pending.push((series, Sample::new(t, v), in_order));
            }
        }))
    }

    /// Checks a sample and, when it joins the batch, records it as the batch's newest sample of
    /// the series (in the locked `data`). Returns what [`HeadAppender::check`] does.
    fn check_and_mark(
        &self,
        series: &HeadSeries,
        data: &mut SeriesData,
        t: i64,
        v: f64,
    ) -> Result<Option<bool>, StorageError> {
        let checked = self.check(series, data, t, v)?;
        if checked.is_some() {
            let is_newest = data.batched.owner != self.id || data.batched.sample.t <= t;
            if is_newest {
                data.batched = Batched { owner: self.id, sample: Sample::new(t, v) };
            }
        }
        Ok(checked)
    }
}

/// Logs a batch to the WAL and applies it to the head, leaving `buffers.pending` empty.
fn commit_batch(head: &Head, wal: Option<&Wal>, buffers: &mut BatchBuffers, appender_id: u64) -> crate::Result<()> {
    let BatchBuffers { pending, refs, frames, .. } = buffers;
    // A series removed by truncation while this batch was open is looked up again (recreated);
    // series the WAL does not define yet are logged first. One lock per sample for both.
    let mut unlogged: Vec<Arc<HeadSeries>> = Vec::new();
    let mut seen: HashSet<SeriesId> = HashSet::new();
    for (series, _, _) in pending.iter_mut() {
        let mut is_logged = {
            let data = series.data.lock();
            (!data.is_removed).then_some(data.is_logged)
        };
        while is_logged.is_none() {
            *series = head.get_or_create(&head.labels_of(series), None).0;
            let mut data = series.data.lock();
            // Marked as this batch's, so truncation keeps it until the batch is applied; a
            // truncation that removed it before the mark makes this look it up again.
            if !data.is_removed {
                is_logged = Some(data.is_logged);
                data.batched = Batched { owner: appender_id, sample: data.batched.sample };
            }
        }
        if is_logged == Some(false) && seen.insert(series.id) {
            unlogged.push(series.clone());
        }
    }
    // Until the samples are applied: a close of the log waits for them (Wal::close_writer).
    let _commit = wal.map(Wal::begin_commit);
    if let Some(wal) = wal {
        frames.clear();
        if !unlogged.is_empty() {
            let labels: Vec<(SeriesId, Labels)> = unlogged.iter().map(|s| (s.id, head.labels_of(s))).collect();
            let series: Vec<(SeriesId, &Labels)> = labels.iter().map(|(id, labels)| (*id, labels)).collect();
            push_series(frames, &series);
        }
        refs.clear();
        refs.extend(pending.iter().map(|(s, x, _)| RefSample { id: s.id, t: x.t, v: x.v }));
        push_samples(frames, refs);
        wal.log(frames, refs.iter().map(|sample| sample.t).max().unwrap_or(i64::MIN))?;
    }
    for series in &unlogged {
        series.data.lock().is_logged = true;
    }
    let mut appended = 0u64;
    // The head's time range is widened once for the batch: two atomic read-modify-writes per
    // sample, on lines every committing thread shares, cost more than the rest of the apply.
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    for (series, sample, in_order) in pending.drain(..) {
        if apply_sample(head, &series, sample, in_order) {
            appended += 1;
            min = min.min(sample.t);
            max = max.max(sample.t);
        }
    }
    if appended > 0 {
        head.observe_time_range(min, max);
    }
    head.metrics.samples_appended.inc_by(appended);
    head.request_compaction_if_due();
    Ok(())
}

/// Applies one logged sample to its series, in order or into the out-of-order buffer. Returns
/// whether it was stored; the caller then widens the head's time range to it
/// ([`Head::observe_time_range`]). Also used by WAL replay, which must reach the same state.
///
/// A sample the appender checked as out of order (`may_go_in_order` false) goes to the
/// out-of-order buffer even when it would now fit in order: it may lie in a range a block is
/// being written from (`Head::close_range_before`), where an in-order append could land behind
/// the writer and be dropped by the truncation; the out-of-order buffer keeps what the writer
/// did not take for the next block.
pub(crate) fn apply_sample(head: &Head, series: &HeadSeries, sample: Sample, may_go_in_order: bool) -> bool {
    let min_valid = head.min_valid_time.load(Ordering::Relaxed);
    let mut data = series.data.lock();
    let is_in_order = may_go_in_order && data.last().is_none_or(|last| sample.t > last.t) && sample.t >= min_valid;
    let stored = if is_in_order {
        data.append_in_order(sample, head.options.block_range_ms, &head.chunk_store);
        true
    } else if data.last().is_some_and(|last| last.t == sample.t) {
        false
    } else if head.options.out_of_order_window_ms > 0 {
        let inserted = data.insert_out_of_order(sample);
        if inserted {
            head.metrics.out_of_order_appended.inc();
        }
        inserted
    } else {
        // Another batch for the same series committed a newer sample in between.
        head.metrics.out_of_order_rejected.inc();
        false
    };
    drop(data);
    stored
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::TsdbMetrics;
    use crate::head::HeadOptions;

    #[test]
    fn a_handle_on_a_series_removed_by_truncation_is_replaced_by_the_recreated_series() {
        let options = HeadOptions { out_of_order_window_ms: 0, block_range_ms: 1_000 };
        let head = Arc::new(Head::new(options, Arc::new(TsdbMetrics::default()), crate::head::ChunkStore::memory()));
        let labels = Labels::from_pairs([("__name__", "m")]);
        let mut handle = None;
        let mut appender = Box::new(HeadAppender::new(head.clone(), None));
        appender.append_with_handle(&mut handle, &labels, 100, 1.0).expect("first sample");
        appender.commit().expect("commit");
        let first = handle.as_ref().and_then(SeriesHandle::get::<HeadSeries>).expect("a head handle").id;

        assert_eq!(head.truncate(1_000, &HashMap::new()), 1, "the series had nothing left");
        let mut appender = Box::new(HeadAppender::new(head.clone(), None));
        appender.append_with_handle(&mut handle, &labels, 1_500, 2.0).expect("sample after truncation");
        appender.commit().expect("commit");
        let second = handle.as_ref().and_then(SeriesHandle::get::<HeadSeries>).expect("a head handle").id;
        assert_ne!(first, second, "the handle now names the recreated series");
        let series = head.series_by_labels(&labels, labels.hash_value()).expect("recreated");
        assert_eq!(series.id, second);
        assert_eq!(series.data.lock().last(), Some(Sample::new(1_500, 2.0)));
    }
}
