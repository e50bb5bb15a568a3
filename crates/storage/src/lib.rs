//! The small read and append interface of the metrics store, and what is built on it alone.
//!
//! Query code (PromQL, rules, the HTTP API) sees only these traits, never a concrete store, just
//! as Prometheus' `promql` imports `storage` and not `tsdb`. This crate also holds the merge
//! helpers every store needs, [`MemStorage`] (the reference model), and [`testsuite`], the
//! conformance checks that every implementation must pass.

mod error;
mod iter;
mod mem;
mod merge;
pub mod testsuite;

use std::any::Any;
use std::sync::Arc;

use panoptes_model::{Labels, Matcher, Sample};

pub use error::{Error, Result};
pub use iter::VecSampleIterator;
pub use mem::MemStorage;
pub use merge::{MergeSampleIterator, merge_series_sets};

/// Writes samples in batches: [`Appender::append`] checks and buffers, [`Appender::commit`]
/// makes the whole batch durable and visible at once.
///
/// An error from `append` concerns that sample only; the appender stays usable and the other
/// samples of the batch are still committed. Dropping an appender without committing discards
/// its batch.
pub trait Appender: Send {
    /// Buffers one float sample for the series `labels` (which need not be sorted by the
    /// caller beyond what [`Labels`] guarantees).
    ///
    /// # Errors
    ///
    /// Returns [`Error::InvalidLabels`], [`Error::OutOfOrder`], [`Error::TooOld`] or
    /// [`Error::DuplicateSample`] for this sample; the batch is not affected. A sample equal to
    /// the last one of its series (same timestamp, same value bits) is silently accepted and
    /// stored once.
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<()>;

    /// Like [`Appender::append`] for a series given as label pairs in canonical form (sorted by
    /// name, unique, no empty values: see `panoptes_model::is_canonical_label_pairs`), as
    /// remote write and exposition pages usually deliver them. Stores may find an existing
    /// series from the pairs without building a [`Labels`]; the default builds one.
    ///
    /// # Errors
    ///
    /// As [`Appender::append`].
    fn append_pairs(&mut self, pairs: &[(&str, &str)], t: i64, v: f64) -> Result<()> {
        self.append(&Labels::from_pairs(pairs.iter().copied()), t, v)
    }

    /// Like [`Appender::append`], for a caller that appends to the same series again and again
    /// (a scrape loop): `series` carries the store's handle on the series from one call to the
    /// next. When it holds a handle of this store, the store appends through it without looking
    /// the labels up; otherwise (first call, another store's handle) the store finds or creates
    /// the series from `labels` and leaves its handle in `series`. A store without handles keeps
    /// it `None` (the default). `labels` must always be the series' labels.
    ///
    /// # Errors
    ///
    /// As [`Appender::append`].
    fn append_with_handle(&mut self, series: &mut Option<SeriesHandle>, labels: &Labels, t: i64, v: f64) -> Result<()> {
        let _ = series;
        self.append(labels, t, v)
    }

    /// Appends one sample through a handle that [`Appender::append_with_handle`] left earlier,
    /// without the series' labels. Returns `Ok(false)`, appending nothing, when the handle can
    /// no longer be used (another store's, or a series the store has dropped since): the caller
    /// then appends by labels. Stores without handles always answer `Ok(false)`.
    ///
    /// # Errors
    ///
    /// As [`Appender::append`].
    fn append_by_handle(&mut self, series: &SeriesHandle, t: i64, v: f64) -> Result<bool> {
        let _ = (series, t, v);
        Ok(false)
    }

    /// Makes every buffered sample durable (per the store's durability promise) and visible.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the batch could not be made durable; none of it is then visible.
    fn commit(self: Box<Self>) -> Result<()>;
}

/// A store's own handle on one of its series, kept by callers between appends (see
/// [`Appender::append_with_handle`]); opaque to everyone but the store that made it.
#[derive(Clone)]
pub struct SeriesHandle(Arc<dyn Any + Send + Sync>);

impl SeriesHandle {
    /// Wraps a store's series.
    pub fn new<T: Any + Send + Sync>(series: Arc<T>) -> Self {
        SeriesHandle(series)
    }

    /// Returns the store's series when the handle is one of `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// Returns a shared reference to the store's series when the handle is one of `T`.
    pub fn get_arc<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.0.clone().downcast::<T>().ok()
    }
}

impl std::fmt::Debug for SeriesHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeriesHandle")
    }
}

/// A store that accepts samples and answers queries.
pub trait Storage: Send + Sync {
    /// Returns a fresh appender for one batch.
    fn appender(&self) -> Box<dyn Appender>;

    /// Returns a querier over samples with `mint <= t <= maxt` (inclusive on both ends).
    ///
    /// # Errors
    ///
    /// Returns an error when the store cannot be read (closed, I/O failure).
    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>>;
}

/// A shared handle to a store.
pub type StorageRef = Arc<dyn Storage>;

/// Reads series from a fixed time range of a store.
///
/// Contract: every method considers only series that have at least one sample inside the
/// querier's range; results are sorted (series by label set, names and values by string); an
/// absent label matches a matcher exactly when the matcher matches the empty string.
pub trait Querier: Send + Sync {
    /// Returns the series that satisfy every matcher, sorted by label set.
    ///
    /// At least one matcher should not match the empty string; with none, every series is
    /// returned.
    ///
    /// # Errors
    ///
    /// Returns an error when the store cannot be read.
    fn select(&self, matchers: &[Matcher]) -> Result<SeriesSet>;

    /// Returns the sorted, unique label names of the series that satisfy `matchers` (all series
    /// when empty).
    ///
    /// # Errors
    ///
    /// Returns an error when the store cannot be read.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>>;

    /// Returns the sorted, unique values of `name` among the series that satisfy `matchers`.
    ///
    /// # Errors
    ///
    /// Returns an error when the store cannot be read.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>>;
}

/// One series of a query result: its labels and an iterator over its samples in the range.
pub struct Series {
    /// The series' label set.
    pub labels: Labels,
    /// Its samples in time order, restricted to the querier's range.
    pub samples: Box<dyn SampleIterator>,
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series").field("labels", &self.labels).finish_non_exhaustive()
    }
}

/// The series of a query result, sorted by label set.
pub type SeriesSet = Box<dyn Iterator<Item = Result<Series>> + Send>;

/// Iterates the samples of one series in strictly increasing time order.
pub trait SampleIterator: Send {
    /// Returns the next sample, or `None` at the end.
    fn next(&mut self) -> Option<Sample>;

    /// Returns the first sample with timestamp `>= t`, starting from the sample last returned
    /// (which is returned again when it qualifies); `next` then continues after it.
    fn seek(&mut self, t: i64) -> Option<Sample>;

    /// Appends every sample not returned yet to `out`, in time order; `next` then returns
    /// `None`. Stores override it to decode whole chunks at once.
    fn read_all(&mut self, out: &mut Vec<Sample>) {
        while let Some(sample) = self.next() {
            out.push(sample);
        }
    }

    /// Returns the error that ended iteration early, if any (for example a corrupt chunk).
    fn take_error(&mut self) -> Option<Error> {
        None
    }
}

/// Drains an iterator into a vector (tests, tools and small reads).
pub fn collect_samples(iterator: &mut dyn SampleIterator) -> Vec<Sample> {
    let mut samples = Vec::new();
    iterator.read_all(&mut samples);
    samples
}
