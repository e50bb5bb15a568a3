//! The head written out as a WAL checkpoint at a clean shutdown (docs/format/wal.md,
//! "Shutdown snapshot"): replaying it rebuilds the same head from a third of the bytes that the
//! samples records it replaces took.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use panoptes_model::Labels;
use tracing::info;

use super::{Head, SeriesData};
use crate::chunkenc::{Encoding, chunk_from};
use crate::error::Result;
use crate::wal::{
    CheckpointSink, RefSample, SeriesId, Tombstone, push_chunks, push_samples, push_series, push_tombstones,
};

/// Series per group of records: big enough that records compress and frames are few, small
/// enough that a group's chunks (about 200 bytes per series) stay well under a megabyte.
const SERIES_PER_GROUP: usize = 1_000;

/// What a snapshot wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SnapshotStats {
    pub(crate) series: u64,
    pub(crate) chunks: u64,
}

/// The records of one group of series, in the order replay needs them.
#[derive(Default)]
struct Group<'a> {
    chunks: Vec<(SeriesId, Encoding, Cow<'a, [u8]>)>,
    /// Each series' newest in-order sample when no chunk holds it any more (deleted): logged and
    /// deleted again by `tombstones`, so that replay restores the series' ordering bound.
    newest: Vec<RefSample>,
    tombstones: Vec<Tombstone>,
    out_of_order: Vec<RefSample>,
}

impl Head {
    /// Writes every series of the head to `sink`: a series record per group of series, then
    /// their in-order samples as chunks (from `min_valid_time` on, as a checkpoint keeps them),
    /// then their out-of-order samples. The caller makes sure nothing is appended meanwhile.
    ///
    /// # Errors
    ///
    /// Returns the sink's I/O error.
    pub(crate) fn write_snapshot(&self, sink: &mut CheckpointSink) -> Result<SnapshotStats> {
        let min_valid = self.min_valid_time.load(std::sync::atomic::Ordering::Relaxed);
        let mut all = self.all_series();
        // Ascending ids: chunk records store id deltas.
        all.sort_unstable_by_key(|series| series.id);
        let started = Instant::now();
        let mut last_report = started;
        let mut stats = SnapshotStats { series: all.len() as u64, ..SnapshotStats::default() };
        for (index, group_series) in all.chunks(SERIES_PER_GROUP).enumerate() {
            let labels: Vec<(SeriesId, Labels)> = group_series.iter().map(|s| (s.id, self.labels_of(s))).collect();
            let refs: Vec<(SeriesId, &Labels)> = labels.iter().map(|(id, labels)| (*id, labels)).collect();
            sink.push(|frames| push_series(frames, &refs))?;
            let locked: Vec<_> = group_series.iter().map(|s| (s.id, s.data.lock())).collect();
            let mut group = Group::default();
            for (id, data) in &locked {
                add_series(&mut group, *id, data, min_valid);
            }
            stats.chunks += group.chunks.len() as u64;
            if !group.chunks.is_empty() {
                let chunks: Vec<(SeriesId, Encoding, &[u8])> =
                    group.chunks.iter().map(|(id, encoding, bytes)| (*id, *encoding, &**bytes)).collect();
                sink.push(|frames| push_chunks(frames, &chunks))?;
            }
            if !group.newest.is_empty() {
                sink.push(|frames| push_samples(frames, &group.newest))?;
                sink.push(|frames| push_tombstones(frames, &group.tombstones))?;
            }
            if !group.out_of_order.is_empty() {
                sink.push(|frames| push_samples(frames, &group.out_of_order))?;
            }
            drop(group);
            drop(locked);
            if last_report.elapsed() >= Duration::from_secs(2) {
                last_report = Instant::now();
                let done = ((index + 1) * SERIES_PER_GROUP).min(all.len());
                let elapsed = started.elapsed().as_secs_f64();
                let rate = done as f64 / elapsed.max(1e-9);
                info!(
                    progress = format!("{:.1}%", 100.0 * done as f64 / all.len().max(1) as f64),
                    series_per_second = rate as u64,
                    eta_seconds = ((all.len() - done) as f64 / rate.max(1.0)) as u64,
                    "writing head snapshot"
                );
            }
        }
        Ok(stats)
    }
}

/// Adds one series' data to `group`.
fn add_series<'a>(group: &mut Group<'a>, id: SeriesId, data: &'a SeriesData, min_valid: i64) {
    let mut newest_in_chunks: Option<i64> = None;
    let mut add = |encoding: Encoding, bytes: Cow<'a, [u8]>, min_t: i64, max_t: i64| {
        if let Some((encoding, bytes)) = chunk_from(encoding, bytes, Some((min_t, max_t)), min_valid) {
            group.chunks.push((id, encoding, bytes));
            newest_in_chunks = Some(max_t);
        }
    };
    for chunk in &data.chunks {
        // A shared time column goes back inline: a record's chunks decode alone (and snappy
        // finds the repeated column of the series around it).
        if let Some(bytes) = chunk.standalone_bytes() {
            add(chunk.encoding(), bytes, chunk.min_t, chunk.max_t);
        }
    }
    if let (Some((appender, min_t)), Some(last)) = (&data.open, data.last()) {
        // In the smallest of XOR, decimal and head decimal (standalone, unlike a closed head
        // chunk's shared column).
        let (encoding, bytes) = appender.clone().finish();
        add(encoding, Cow::Owned(bytes), *min_t, last.t);
    }
    if let Some(last) = data.last()
        && last.t >= min_valid
        && newest_in_chunks.is_none_or(|newest| last.t > newest)
    {
        group.newest.push(RefSample { id, t: last.t, v: last.v });
        group.tombstones.push(Tombstone { id, mint: last.t, maxt: last.t });
    }
    group.out_of_order.extend(data.out_of_order().iter().map(|s| RefSample { id, t: s.t, v: s.v }));
}
