//! Per-series work of one selector spread over the machine's cores.
//!
//! A selector node evaluated over the step grid does the same work for every series on its own:
//! read its samples, then find its point or window at each step. [`Evaluator::map_series`] cuts
//! the series into chunks of [`CHUNK_SERIES`] consecutive series; threads (the calling one
//! among them) take chunks in order, read each series into a reused buffer (nothing of a series
//! is kept once its points are known) and write the points of a whole chunk into one flat
//! buffer. The calling thread hands each chunk's points to a [`PointSink`] strictly in series
//! order, so what the parent node folds, and in which order, does not depend on the number of
//! threads, and a parent that folds (an aggregation) never holds every series' points at once.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use panoptes_model::{Labels, Sample};
use panoptes_storage::SampleIterator;
use promql_parser::parser::VectorSelector;

use super::Evaluator;
use super::eval::Deadline;
use crate::error::{Error, Result};

/// Below this many series a node runs on the calling thread: starting workers costs more than
/// it saves (tens of microseconds against about a microsecond per series).
const MIN_SERIES_PER_WORKER: usize = 2048;

/// The most threads one node uses.
const MAX_WORKERS: usize = 8;

/// Series per unit of work: small enough that the points of the chunks in flight stay in cache
/// (512 series × 121 steps × 16 bytes ≈ 1 MB), large enough that taking a chunk and handing its
/// points over (a lock and a channel message) costs nothing next to reading 512 series.
const CHUNK_SERIES: usize = 512;

/// The most points a batch reserves before its series are read: a 1 MB buffer, what a chunk of
/// series holds over a grid of 128 steps (a 1 h range at 30 s has 121).
const MAX_RESERVED_POINTS: usize = CHUNK_SERIES * 128;

/// One point of a node evaluated over the grid: the step index and the value.
pub(crate) type Point = (u32, f64);

/// Receives, on the calling thread and in series order, the points of every series a selector
/// matched that has at least one point.
pub(crate) trait PointSink {
    /// Called once, before any series is handed over, with the labels of every selected series in
    /// order (those that will turn out to have no point included).
    ///
    /// # Errors
    ///
    /// An error stops the node.
    fn begin(&mut self, _labels: &[Cow<'_, Labels>]) -> Result<()> {
        Ok(())
    }

    /// Called with the `index`-th selected series' labels and its points (in step order).
    ///
    /// # Errors
    ///
    /// An error stops the node.
    fn series(&mut self, index: usize, labels: Cow<'_, Labels>, points: &[Point]) -> Result<()>;
}

/// Where one series' samples come from: already read by the step-by-step evaluator, or still in
/// the store.
enum Source<'a> {
    Loaded(&'a [Sample]),
    Stored(Box<dyn SampleIterator>),
}

/// The points of one chunk: `kept` lists, per series with points, its index in the chunk and
/// the end of its points in `points`.
#[derive(Default)]
struct Batch {
    chunk: usize,
    kept: Vec<(u32, u32)>,
    points: Vec<Point>,
}

impl Evaluator<'_> {
    /// Calls `per_series` with the samples of every series `selector` matches (in label order,
    /// stale markers included), the per-step counters of samples held, which it may increase,
    /// and a buffer to append the series' points to. Hands every series that got points to
    /// `sink` in series order and returns the counters summed over all series.
    ///
    /// # Errors
    ///
    /// Returns storage errors (unreadable chunks), the sink's errors and
    /// [`crate::Error::Timeout`] or [`crate::Error::Canceled`].
    pub(crate) fn map_series(
        &mut self,
        selector: &VectorSelector,
        steps: usize,
        per_series: &(impl Fn(&[Sample], &mut [usize], &mut Vec<Point>) + Sync),
        sink: &mut dyn PointSink,
    ) -> Result<Vec<usize>> {
        let deadline = self.deadline();
        deadline.check()?;
        let loaded = self.loaded(selector);
        let (mut labels, sources): (Vec<Cow<'_, Labels>>, Vec<Source<'_>>) = match &loaded {
            Some(loaded) => {
                loaded.iter().map(|(labels, samples)| (Cow::Borrowed(labels), Source::Loaded(samples))).unzip()
            }
            None => self
                .select_series(selector)?
                .into_iter()
                .map(|series| (Cow::Owned(series.labels), Source::Stored(series.samples)))
                .unzip(),
        };
        let workers = worker_count(sources.len());
        let mut chunks: Vec<Vec<Source<'_>>> = Vec::with_capacity(sources.len().div_ceil(CHUNK_SERIES));
        let mut sources = sources.into_iter();
        loop {
            let chunk: Vec<Source<'_>> = sources.by_ref().take(CHUNK_SERIES).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }
        let chunk_count = chunks.len();
        let queue = Mutex::new(chunks.into_iter().enumerate());
        let spare: Mutex<Vec<Batch>> = Mutex::new(Vec::new());
        let stop = AtomicBool::new(false);
        let mut held = vec![0usize; steps];
        std::thread::scope(|scope| -> Result<()> {
            let (sender, receiver) = mpsc::channel::<Result<Batch>>();
            let helpers: Vec<_> = (1..workers)
                .map(|_| {
                    let sender = sender.clone();
                    let (queue, spare, stop, deadline) = (&queue, &spare, &stop, &deadline);
                    scope.spawn(move || {
                        let mut held = vec![0usize; steps];
                        let mut buffer = Vec::new();
                        while let Some(batch) =
                            next_batch(queue, spare, stop, deadline, steps, per_series, &mut held, &mut buffer)
                        {
                            if batch.is_err() {
                                stop.store(true, Ordering::Relaxed);
                            }
                            if sender.send(batch).is_err() {
                                break;
                            }
                        }
                        held
                    })
                })
                .collect();
            drop(sender);
            // The helpers read while the sink looks at the labels (an aggregation finds each
            // series' group).
            let began = sink.begin(&labels);
            let mut deliver = |batch: &Batch| -> Result<()> {
                let first = batch.chunk * CHUNK_SERIES;
                let mut start = 0usize;
                for &(offset, end) in &batch.kept {
                    let index = first + offset as usize;
                    let owned = std::mem::replace(&mut labels[index], Cow::Owned(Labels::empty()));
                    sink.series(index, owned, &batch.points[start..end as usize])?;
                    start = end as usize;
                }
                Ok(())
            };
            // The calling thread reads chunks too, and hands over every chunk whose turn has
            // come after each of its own.
            let mut pending: BTreeMap<usize, Batch> = BTreeMap::new();
            let mut next = 0usize;
            let mut buffer = Vec::new();
            let outcome = (|| -> Result<()> {
                began?;
                loop {
                    let own = next_batch(&queue, &spare, &stop, &deadline, steps, per_series, &mut held, &mut buffer);
                    let finished_own = own.is_none();
                    if let Some(batch) = own {
                        let batch = batch?;
                        pending.insert(batch.chunk, batch);
                    }
                    loop {
                        while let Some(batch) = pending.remove(&next) {
                            deliver(&batch)?;
                            next += 1;
                            recycle(&spare, batch);
                        }
                        if next == chunk_count {
                            return Ok(());
                        }
                        // Out of chunks to read: wait for the helpers' last ones.
                        let received = if finished_own { receiver.recv().ok() } else { receiver.try_recv().ok() };
                        match received {
                            Some(batch) => {
                                let batch = batch?;
                                pending.insert(batch.chunk, batch);
                            }
                            None if finished_own => {
                                return Err(Error::Execution("internal: a query worker stopped early".into()));
                            }
                            None => break,
                        }
                    }
                }
            })();
            if outcome.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            drop(receiver);
            for helper in helpers {
                let helper_held = helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                for (total, add) in held.iter_mut().zip(&helper_held) {
                    *total = total.saturating_add(*add);
                }
            }
            outcome
        })?;
        Ok(held)
    }
}

/// Returns how many threads share `series` series.
fn worker_count(series: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.min(MAX_WORKERS).min(series / MIN_SERIES_PER_WORKER).max(1)
}

/// Takes the next chunk from `queue` and computes its points; `None` once the queue is empty
/// or the node stopped.
#[allow(clippy::too_many_arguments)]
fn next_batch<'a, I: Iterator<Item = (usize, Vec<Source<'a>>)>>(
    queue: &Mutex<I>,
    spare: &Mutex<Vec<Batch>>,
    stop: &AtomicBool,
    deadline: &Deadline,
    steps: usize,
    per_series: &(impl Fn(&[Sample], &mut [usize], &mut Vec<Point>) + Sync),
    held: &mut [usize],
    buffer: &mut Vec<Sample>,
) -> Option<Result<Batch>> {
    if stop.load(Ordering::Relaxed) {
        return None;
    }
    let (chunk, sources) = queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner).next()?;
    if let Err(error) = deadline.check() {
        return Some(Err(error));
    }
    let mut batch = spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop().unwrap_or_default();
    batch.chunk = chunk;
    // Room for a point at every step of every series at once, rather than doubling towards it
    // through fresh memory (each step copying what the last one faulted in).
    batch.points.reserve(CHUNK_SERIES.saturating_mul(steps).min(MAX_RESERVED_POINTS));
    debug_assert_eq!(held.len(), steps);
    for (offset, source) in sources.into_iter().enumerate() {
        let before = batch.points.len();
        match source {
            Source::Loaded(samples) => per_series(samples, held, &mut batch.points),
            Source::Stored(mut samples) => {
                buffer.clear();
                samples.read_all(buffer);
                if let Some(error) = samples.take_error() {
                    return Some(Err(error.into()));
                }
                per_series(buffer, held, &mut batch.points);
            }
        }
        if batch.points.len() > before {
            // A chunk holds at most `CHUNK_SERIES` series of at most `u32::MAX` steps each
            // (`Grid::new`), so its points are counted in a u32 only up to 2^32: checked.
            let Ok(end) = u32::try_from(batch.points.len()) else {
                return Some(Err(Error::TooManySamples));
            };
            batch.kept.push((offset as u32, end));
        }
    }
    Some(Ok(batch))
}

/// Empties a delivered batch and keeps it for the next chunk.
fn recycle(spare: &Mutex<Vec<Batch>>, mut batch: Batch) {
    batch.kept.clear();
    batch.points.clear();
    spare.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(batch);
}
