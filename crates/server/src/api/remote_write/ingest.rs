//! Appends a decoded `WriteRequest` to the store, without HTTP types.

use std::collections::BTreeMap;

use panoptes_model::{Label, Labels, LabelsError, is_canonical_label_pairs};
use panoptes_storage::{Error, Storage};

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
/// Label names and values are read in place; a series already in the store is found from them
/// without building a label set.
///
/// # Errors
///
/// Returns [`IngestError::Malformed`] when the body does not decode, or the store's error when
/// an append fails for a reason other than the sample itself (store closed, limit reached) or
/// the commit fails; nothing of the request is then visible.
pub(crate) fn ingest(storage: &dyn Storage, body: &[u8]) -> Result<IngestOutcome, IngestError> {
    let mut outcome = IngestOutcome::default();
    let mut appender = storage.appender();
    let mut fatal: Option<Error> = None;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    walk_write_request(body, |series| {
        if fatal.is_some() {
            return;
        }
        outcome.histograms_ignored += series.histograms as u64;
        let mut series_reported = false;
        pairs.clear();
        for (name, value) in series.labels {
            match (std::str::from_utf8(name), std::str::from_utf8(value)) {
                (Ok(name), Ok(value)) => pairs.push((name, value)),
                _ => {
                    let error = invalid_series(series.labels);
                    outcome.reject("invalid_labels", series.samples.len() as u64, &error, &mut series_reported);
                    return;
                }
            }
        }
        let labels = if is_canonical_label_pairs(&pairs) {
            None
        } else {
            let labels = Labels::from_pairs(pairs.iter().copied());
            if let Err(error) = labels.validate() {
                outcome.reject("invalid_labels", series.samples.len() as u64, &error, &mut series_reported);
                return;
            }
            Some(labels)
        };
        for &(timestamp, value) in series.samples {
            let result = match &labels {
                None => appender.append_pairs(&pairs, timestamp, value),
                Some(labels) => appender.append(labels, timestamp, value),
            };
            match result {
                Ok(()) => outcome.accepted += 1,
                Err(error) if error.is_sample_error() => {
                    outcome.reject(reason(&error), 1, &error, &mut series_reported);
                }
                Err(error) => {
                    fatal = Some(error);
                    return;
                }
            }
        }
    })
    .map_err(IngestError::Malformed)?;
    if let Some(error) = fatal {
        return Err(IngestError::Storage(error));
    }
    appender.commit().map_err(IngestError::Storage)?;
    Ok(outcome)
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
