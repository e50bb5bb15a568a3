//! Appends a decoded `WriteRequest` to the store, without HTTP types.

use std::collections::BTreeMap;

use panoptes_model::{Label, Labels, LabelsError};
use panoptes_storage::{Appender, Error, SeriesHandle, Storage};

use super::series_cache::{self, SeriesCache};
use crate::prompb::{WalkError, walk_write_request};

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
    cache.maybe_rotate();
    walk_write_request(body, |series| {
        if fatal.is_some() {
            return;
        }
        outcome.histograms_ignored += series.histograms as u64;
        let key = series.label_bytes.map(series_cache::key);
        let mut handle = key.and_then(|key| cache.get(key));
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
                            cache.remove(key);
                        }
                        continue_by_labels(&mut *appender, series.labels, &mut labels, &mut handle, timestamp, value)
                    }
                    Err(error) => Err(AppendError::Store(error)),
                },
                None => continue_by_labels(&mut *appender, series.labels, &mut labels, &mut handle, timestamp, value),
            };
            match result {
                Ok(()) => outcome.accepted += 1,
                Err(AppendError::Labels(error)) => {
                    outcome.reject("invalid_labels", series.samples.len() as u64, &error, &mut series_reported);
                    return;
                }
                Err(AppendError::Store(error)) if error.is_sample_error() => {
                    outcome.reject(reason(&error), 1, &error, &mut series_reported);
                }
                Err(AppendError::Store(error)) => {
                    fatal = Some(error);
                    return;
                }
            }
        }
        if let (Some(key), Some(handle), true) = (key, handle, labels.is_some()) {
            cache.insert(key, handle);
        }
    })
    .map_err(IngestError::Malformed)?;
    if let Some(error) = fatal {
        return Err(IngestError::Storage(error));
    }
    appender.commit().map_err(IngestError::Storage)?;
    Ok(outcome)
}

/// Why one sample was not appended.
enum AppendError {
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

/// Appends a sample of a series not (or no longer) known by handle: decodes and checks its
/// labels once (kept in `labels` for its other samples) and leaves the store's handle in
/// `handle`.
fn continue_by_labels(
    appender: &mut dyn Appender,
    pairs: &[(&[u8], &[u8])],
    labels: &mut Option<Labels>,
    handle: &mut Option<SeriesHandle>,
    t: i64,
    v: f64,
) -> Result<(), AppendError> {
    let labels = match labels {
        Some(labels) => labels,
        None => labels.insert(decode_labels(pairs).map_err(AppendError::Labels)?),
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
