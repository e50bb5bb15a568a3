//! Appends a decoded `WriteRequest` to the store, without HTTP types.

use std::collections::BTreeMap;

use panoptes_model::{Label, Labels, LabelsError};
use panoptes_storage::{Appender, Error, SeriesHandle, Storage};

use super::series_cache::{self, CacheUpdates, SeriesCache};
use crate::prompb::{SeriesView, WalkError, walk_write_request};

/// How many failing series the error answer names; the rest are only counted.
const MAX_REPORTED_ERRORS: usize = 10;

/// What happened to the samples of one request.
#[derive(Debug, Default)]
pub(crate) struct IngestOutcome {
    /// Samples committed.
    pub(crate) accepted: u64,
    /// Rejected samples per reason (`invalid_labels`, `out_of_order`, `too_old`, `duplicate_sample`).
    pub(crate) rejected_by_reason: BTreeMap<&'static str, u64>,
    /// The first error of each of the first few failing series.
    pub(crate) first_errors: Vec<String>,
    /// Native histogram samples dropped.
    pub(crate) histograms_ignored: u64,
}

impl IngestOutcome {
    /// Returns the number of rejected samples.
    pub(crate) fn rejected(&self) -> u64 {
        self.rejected_by_reason.values().sum()
    }

    /// Returns the text of the `400` answer, or `None` when every sample was accepted.
    pub(crate) fn error_message(&self) -> Option<String> {
        let rejected = self.rejected();
        if rejected == 0 {
            return None;
        }
        let total = rejected + self.accepted;
        let mut message = format!("{rejected} of {total} samples rejected");
        for error in &self.first_errors {
            message.push('\n');
            message.push_str(error);
        }
        Some(message)
    }

    fn reject(&mut self, reason: &'static str, count: u64, error: &dyn std::fmt::Display, series_reported: &mut bool) {
        *self.rejected_by_reason.entry(reason).or_default() += count;
        if !*series_reported && self.first_errors.len() < MAX_REPORTED_ERRORS {
            self.first_errors.push(error.to_string());
            *series_reported = true;
        }
    }
}

/// Why a request was not ingested at all.
#[derive(Debug)]
pub(crate) enum IngestError {
    /// The body is not a valid `WriteRequest`; nothing was committed.
    Malformed(WalkError),
    /// The store failed for a reason other than a sample; nothing was committed.
    Storage(Error),
}

/// Appends every valid sample of a decompressed `WriteRequest` body and commits them together.
/// A series sent before is found through `cache` from its encoded labels alone; the labels of
/// a new one are decoded, checked and looked up (or created) in the store, and its handle is
/// remembered.
///
/// # Errors
///
/// Returns [`IngestError::Malformed`] when the body does not decode, or the store's error when
/// an append fails for a reason other than the sample itself (store closed, limit reached) or
/// the commit fails; nothing of the request is then visible.
pub(crate) fn ingest(storage: &dyn Storage, cache: &SeriesCache, body: &[u8]) -> Result<IngestOutcome, IngestError> {
    let mut outcome = IngestOutcome::default();
    let mut appender = storage.appender();
    let mut fatal: Option<Error> = None;
    let mut reader = cache.reader();
    let mut updates = CacheUpdates::default();
    let mut pairs = Vec::new();
    let walked = walk_write_request(body, |series| {
        if fatal.is_some() {
            return Ok(());
        }
        outcome.histograms_ignored += series.histograms as u64;
        let key = series.label_bytes.map(series_cache::key);
        let mut handle = key.and_then(|key| reader.get(key));
        let mut series_reported = false;
        let mut labels: Option<Labels> = None;
        for &(timestamp, value) in series.samples {
            let result = match &handle {
                Some(known) => match appender.append_by_handle(known, timestamp, value) {
                    Ok(true) => Ok(()),
                    Ok(false) => {
                        // The store dropped the series: look it up again by its labels.
                        handle = None;
                        if let Some(key) = key {
                            updates.forget.push(key);
                        }
                        continue_by_labels(
                            &mut *appender,
                            series,
                            &mut pairs,
                            &mut labels,
                            &mut handle,
                            timestamp,
                            value,
                        )
                    }
                    Err(error) => Err(AppendError::Store(error)),
                },
                None => {
                    continue_by_labels(&mut *appender, series, &mut pairs, &mut labels, &mut handle, timestamp, value)
                }
            };
            match result {
                Ok(()) => outcome.accepted += 1,
                Err(AppendError::Malformed(error)) => return Err(error),
                Err(AppendError::Labels(error)) => {
                    outcome.reject("invalid_labels", series.samples.len() as u64, &error, &mut series_reported);
                    return Ok(());
                }
                Err(AppendError::Store(error)) if error.is_sample_error() => {
                    outcome.reject(reason(&error), 1, &error, &mut series_reported);
                }
                Err(AppendError::Store(error)) => {
                    fatal = Some(error);
                    return Ok(());
                }
            }
        }
        if let (Some(key), Some(handle), true) = (key, handle, labels.is_some()) {
            updates.remember.push((key, handle));
        }
        Ok(())
    });
    // The reader's lock must be released before the cache is written.
    drop(reader);
    cache.update(updates);
    walked.map_err(IngestError::Malformed)?;
    if let Some(error) = fatal {
        return Err(IngestError::Storage(error));
    }
    appender.commit().map_err(IngestError::Storage)?;
    Ok(outcome)
}

/// Why one sample was not appended.
enum AppendError {
    /// The series' `Label` messages do not decode: the request is malformed.
    Malformed(WalkError),
    /// The series' labels are invalid: none of its samples can be stored.
    Labels(InvalidSeries),
    /// The store refused the sample (or failed).
    Store(Error),
}

impl From<Error> for AppendError {
    fn from(error: Error) -> Self {
        AppendError::Store(error)
    }
}

/// Appends a sample of a series not (or no longer) known by handle: decodes (into `pairs`) and
/// checks its labels once (kept in `labels` for its other samples) and leaves the store's
/// handle in `handle`.
fn continue_by_labels<'a>(
    appender: &mut dyn Appender,
    series: &SeriesView<'a, '_>,
    pairs: &mut Vec<(&'a [u8], &'a [u8])>,
    labels: &mut Option<Labels>,
    handle: &mut Option<SeriesHandle>,
    t: i64,
    v: f64,
) -> Result<(), AppendError> {
    let labels = match labels {
        Some(labels) => labels,
        None => {
            series.decode_labels(pairs).map_err(AppendError::Malformed)?;
            labels.insert(decode_labels(pairs).map_err(AppendError::Labels)?)
        }
    };
    appender.append_with_handle(handle, labels, t, v).map_err(|error| match error {
        Error::InvalidLabels(error) => AppendError::Labels(InvalidSeries::Labels(error)),
        error => AppendError::Store(error),
    })
}

/// Returns the checked label set of a series as sent.
fn decode_labels(pairs: &[(&[u8], &[u8])]) -> Result<Labels, InvalidSeries> {
    let mut decoded: Vec<(&str, &str)> = Vec::with_capacity(pairs.len());
    for (name, value) in pairs {
        match (std::str::from_utf8(name), std::str::from_utf8(value)) {
            (Ok(name), Ok(value)) => decoded.push((name, value)),
            _ => return Err(invalid_series(pairs)),
        }
    }
    let labels = Labels::from_pairs(decoded);
    labels.validate()?;
    Ok(labels)
}

/// Returns the error for a series with labels that are not UTF-8, naming it decoded lossily.
fn invalid_series(labels: &[(&[u8], &[u8])]) -> InvalidSeries {
    let decoded: Vec<Label> = labels
        .iter()
        .map(|(n, v)| Label::new(String::from_utf8_lossy(n).as_ref(), String::from_utf8_lossy(v).as_ref()))
        .collect();
    InvalidSeries::InvalidUtf8 { labels: Labels::from_vec(decoded).to_string() }
}

/// Why a series' labels were refused before reaching the store.
#[derive(Debug, thiserror::Error)]
enum InvalidSeries {
    /// A label name or value is not UTF-8; `labels` is decoded lossily.
    #[error("series {labels} has a label name or value that is not valid UTF-8")]
    InvalidUtf8 { labels: String },
    /// The store's own label checks failed.
    #[error(transparent)]
    Labels(#[from] LabelsError),
}

/// Returns the `reason` label value of a per-sample error.
fn reason(error: &Error) -> &'static str {
    match error {
        Error::InvalidLabels(_) => "invalid_labels",
        Error::OutOfOrder { .. } => "out_of_order",
        Error::TooOld { .. } => "too_old",
        Error::DuplicateSample { .. } => "duplicate_sample",
        Error::Limit(_) | Error::Unavailable(_) | Error::Corruption(_) | Error::Io { .. } => "other",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use panoptes_storage::{Appender, MemStorage, Querier, Result as StorageResult};

    use super::*;
    use crate::prompb::{Label, Sample, TimeSeries, WriteRequest};

    /// The memory store with handles: a handle names its series' labels and stops working
    /// once `handles_valid` is cleared (as the head's do once it drops the series). Counts
    /// appends by labels and by handle.
    #[derive(Default)]
    struct HandleStore {
        inner: MemStorage,
        handles_valid: Arc<AtomicBool>,
        by_labels: Arc<AtomicU64>,
        by_handle: Arc<AtomicU64>,
    }

    struct HandleAppender {
        inner: Box<dyn Appender>,
        handles_valid: Arc<AtomicBool>,
        by_labels: Arc<AtomicU64>,
        by_handle: Arc<AtomicU64>,
    }

    impl Storage for HandleStore {
        fn appender(&self) -> Box<dyn Appender> {
            Box::new(HandleAppender {
                inner: self.inner.appender(),
                handles_valid: self.handles_valid.clone(),
                by_labels: self.by_labels.clone(),
                by_handle: self.by_handle.clone(),
            })
        }
        fn querier(&self, mint: i64, maxt: i64) -> StorageResult<Box<dyn Querier>> {
            self.inner.querier(mint, maxt)
        }
    }

    impl Appender for HandleAppender {
        fn append(&mut self, labels: &Labels, t: i64, v: f64) -> StorageResult<()> {
            self.by_labels.fetch_add(1, Ordering::Relaxed);
            self.inner.append(labels, t, v)
        }
        fn append_with_handle(
            &mut self,
            series: &mut Option<SeriesHandle>,
            labels: &Labels,
            t: i64,
            v: f64,
        ) -> StorageResult<()> {
            self.append(labels, t, v)?;
            *series = Some(SeriesHandle::new(Arc::new(labels.clone())));
            Ok(())
        }
        fn append_by_handle(&mut self, series: &SeriesHandle, t: i64, v: f64) -> StorageResult<bool> {
            let Some(labels) = series.get::<Labels>().filter(|_| self.handles_valid.load(Ordering::Relaxed)) else {
                return Ok(false);
            };
            self.by_handle.fetch_add(1, Ordering::Relaxed);
            self.inner.append(labels, t, v).map(|()| true)
        }
        fn commit(self: Box<Self>) -> StorageResult<()> {
            self.inner.commit()
        }
    }

    fn request(t: i64) -> Vec<u8> {
        let series = |job: &str| TimeSeries {
            labels: vec![Label::new("__name__", "up"), Label::new("job", job)],
            samples: vec![Sample { value: t as f64, timestamp: t }],
            ..TimeSeries::default()
        };
        prost::Message::encode_to_vec(&WriteRequest {
            timeseries: vec![series("a"), series("b")],
            ..WriteRequest::default()
        })
    }

    #[test]
    fn known_series_are_appended_by_handle_and_dropped_handles_fall_back_to_labels() {
        let store = HandleStore { handles_valid: Arc::new(AtomicBool::new(true)), ..HandleStore::default() };
        let cache = SeriesCache::default();
        let counts = || (store.by_labels.load(Ordering::Relaxed), store.by_handle.load(Ordering::Relaxed));

        assert_eq!(ingest(&store, &cache, &request(10)).expect("first").accepted, 2);
        assert_eq!(counts(), (2, 0), "new series are looked up by their labels");
        assert_eq!(ingest(&store, &cache, &request(20)).expect("second").accepted, 2);
        assert_eq!(counts(), (2, 2), "known series go by handle");

        store.handles_valid.store(false, Ordering::Relaxed);
        assert_eq!(ingest(&store, &cache, &request(30)).expect("third").accepted, 2);
        assert_eq!(counts(), (4, 2), "dropped handles fall back to labels");
        store.handles_valid.store(true, Ordering::Relaxed);
        assert_eq!(ingest(&store, &cache, &request(40)).expect("fourth").accepted, 2);
        assert_eq!(counts(), (4, 4), "and the new handles are remembered");

        // Out-of-order samples through a handle are still refused one by one.
        let outcome = ingest(&store, &cache, &request(15)).expect("fifth");
        assert_eq!((outcome.accepted, outcome.rejected()), (0, 2));
        let stored = panoptes_storage::testsuite::query(&store, 0, 100, &[]);
        let times: Vec<Vec<i64>> = stored.iter().map(|(_, samples)| samples.iter().map(|s| s.t).collect()).collect();
        assert_eq!(times, vec![vec![10, 20, 30, 40], vec![10, 20, 30, 40]]);
    }

    #[test]
    fn a_malformed_label_message_of_a_new_series_refuses_the_whole_request() {
        let store = HandleStore { handles_valid: Arc::new(AtomicBool::new(true)), ..HandleStore::default() };
        let cache = SeriesCache::default();
        // `request(10)` with one more series whose only Label message holds a field of wire type 7.
        let mut body = request(10);
        let bad_label = [0x0a, 0x02, 0x0f, 0x00];
        let mut bad_series = bad_label.to_vec();
        bad_series.extend_from_slice(&prost::Message::encode_to_vec(&TimeSeries {
            samples: vec![Sample { value: 1.0, timestamp: 10 }],
            ..TimeSeries::default()
        }));
        body.push(0x0a);
        prost::encoding::encode_varint(bad_series.len() as u64, &mut body);
        body.extend_from_slice(&bad_series);

        match ingest(&store, &cache, &body) {
            Err(IngestError::Malformed(error)) => assert_eq!(error.message, "unsupported wire type"),
            other => panic!("expected a malformed request, got {other:?}"),
        }
        assert!(panoptes_storage::testsuite::query(&store, 0, 100, &[]).is_empty(), "nothing was committed");
    }
}
