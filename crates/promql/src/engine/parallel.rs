//! Per-series work of one selector spread over the machine's cores.
//!
//! A selector node evaluated over the step grid does the same work for every series on its own:
//! read its samples, then find its point or window at each step. [`Evaluator::map_series`] reads
//! the series one at a time into a reused buffer (nothing of a series is kept once its points
//! are known) and splits the series into contiguous runs, one per worker thread. Results come
//! back in series order, so what the parent node folds, and in which order, does not depend on
//! the number of threads.

use panoptes_model::{Labels, Sample};
use panoptes_storage::Series;
use promql_parser::parser::VectorSelector;

use super::Evaluator;
use super::eval::Deadline;
use crate::error::Result;

/// Below this many series a node runs on the calling thread: starting workers costs more than
/// it saves (tens of microseconds against about a microsecond per series).
const MIN_SERIES_PER_WORKER: usize = 2048;

/// The most worker threads one node uses.
const MAX_WORKERS: usize = 8;

/// What [`Evaluator::map_series`] returns: the series it kept with their values, in order, and
/// the samples held at each step.
pub(crate) type Mapped<T> = (Vec<(Labels, T)>, Vec<usize>);

/// One series to work on: already read by the step-by-step evaluator, or still in the store.
enum Input<'a> {
    Loaded(&'a Labels, &'a [Sample]),
    Stored(Series),
}

/// What one worker produced: the outputs of its series in order, and the samples it held at
/// each step.
struct Output<T> {
    mapped: Vec<(Labels, T)>,
    held: Vec<usize>,
}

impl Evaluator<'_> {
    /// Calls `per_series` with the samples of every series `selector` matches (in label order,
    /// stale markers included) and with the per-step counters of samples held, which it may
    /// increase. Returns the series for which it returned a value, in order, with those values,
    /// and the counters summed over all series.
    ///
    /// # Errors
    ///
    /// Returns storage errors (unreadable chunks) and [`crate::Error::Timeout`] or
    /// [`crate::Error::Canceled`].
    pub(crate) fn map_series<T: Send>(
        &mut self,
        selector: &VectorSelector,
        steps: usize,
        per_series: impl Fn(&[Sample], &mut [usize]) -> Option<T> + Sync,
    ) -> Result<Mapped<T>> {
        let deadline = self.deadline();
        deadline.check()?;
        let loaded = self.loaded(selector);
        let inputs: Vec<Input<'_>> = match &loaded {
            Some(loaded) => loaded.iter().map(|(labels, samples)| Input::Loaded(labels, samples)).collect(),
            None => self.select_series(selector)?.into_iter().map(Input::Stored).collect(),
        };
        let workers = worker_count(inputs.len());
        let outputs = if workers <= 1 {
            vec![map_run(inputs, steps, &per_series, &deadline)?]
        } else {
            let runs = split(inputs, workers);
            std::thread::scope(|scope| {
                let handles: Vec<_> =
                    runs.into_iter().map(|run| scope.spawn(|| map_run(run, steps, &per_series, &deadline))).collect();
                handles
                    .into_iter()
                    .map(|handle| handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
                    .collect::<Result<Vec<_>>>()
            })?
        };
        let mut held = vec![0usize; steps];
        let mut mapped = Vec::with_capacity(outputs.iter().map(|output| output.mapped.len()).sum());
        for output in outputs {
            for (total, add) in held.iter_mut().zip(&output.held) {
                *total = total.saturating_add(*add);
            }
            mapped.extend(output.mapped);
        }
        Ok((mapped, held))
    }
}

/// Returns how many threads share `series` series.
fn worker_count(series: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores.min(MAX_WORKERS).min(series / MIN_SERIES_PER_WORKER).max(1)
}

/// Splits `inputs` into `parts` contiguous runs of nearly equal length, in order.
fn split<I>(inputs: Vec<I>, parts: usize) -> Vec<Vec<I>> {
    let total = inputs.len();
    let mut inputs = inputs.into_iter();
    (0..parts)
        .map(|part| {
            let len = (part + 1) * total / parts - part * total / parts;
            inputs.by_ref().take(len).collect()
        })
        .collect()
}

/// Runs `per_series` over one run of series, reading stored ones into a reused buffer.
fn map_run<T>(
    inputs: Vec<Input<'_>>,
    steps: usize,
    per_series: &(impl Fn(&[Sample], &mut [usize]) -> Option<T> + Sync),
    deadline: &Deadline,
) -> Result<Output<T>> {
    let mut output = Output { mapped: Vec::new(), held: vec![0; steps] };
    let mut buffer: Vec<Sample> = Vec::new();
    for (index, input) in inputs.into_iter().enumerate() {
        if index % 1024 == 1023 {
            deadline.check()?;
        }
        match input {
            Input::Loaded(labels, samples) => {
                if let Some(value) = per_series(samples, &mut output.held) {
                    output.mapped.push((labels.clone(), value));
                }
            }
            Input::Stored(mut series) => {
                buffer.clear();
                series.samples.read_all(&mut buffer);
                if let Some(error) = series.samples.take_error() {
                    return Err(error.into());
                }
                if let Some(value) = per_series(&buffer, &mut output.held) {
                    output.mapped.push((series.labels, value));
                }
            }
        }
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn split_keeps_order_and_every_input() {
        for (len, parts) in [(0, 2), (1, 2), (5, 2), (10, 3), (4097, 8)] {
            let runs = split((0..len).collect::<Vec<_>>(), parts);
            assert_eq!(runs.len(), parts);
            assert_eq!(runs.concat(), (0..len).collect::<Vec<_>>(), "len {len}, parts {parts}");
            let (shortest, longest) = (runs.iter().map(Vec::len).min(), runs.iter().map(Vec::len).max());
            assert!(longest.unwrap_or(0) - shortest.unwrap_or(0) <= 1, "len {len}, parts {parts}");
        }
    }
}
