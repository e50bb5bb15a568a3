//! Appends a decoded `WriteRequest` to the store, without HTTP types.

use std::collections::BTreeMap;

use panoptes_model::{Label, Labels, LabelsError};
use panoptes_storage::{Error, Storage};

use crate::prompb::{self, WriteRequest};

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

/// Appends every valid sample of `request` and commits them together.
///
/// # Errors
///
/// Returns the store's error when an append fails for a reason other than the sample itself
/// (store closed, limit reached) or the commit fails; nothing of the request is then visible.
pub(crate) fn ingest(storage: &dyn Storage, request: WriteRequest) -> Result<IngestOutcome, Error> {
    let mut outcome = IngestOutcome::default();
    let mut appender = storage.appender();
    for series in request.timeseries {
        outcome.histograms_ignored += series.histograms.len() as u64;
        let mut series_reported = false;
        let labels = match to_labels(&series.labels) {
            Ok(labels) => labels,
            Err(error) => {
                let count = series.samples.len() as u64;
                outcome.reject("invalid_labels", count, &error, &mut series_reported);
                continue;
            }
        };
        for sample in series.samples {
            match appender.append(&labels, sample.timestamp, sample.value) {
                Ok(()) => outcome.accepted += 1,
                Err(error) if error.is_sample_error() => {
                    outcome.reject(reason(&error), 1, &error, &mut series_reported);
                }
                Err(error) => return Err(error),
            }
        }
    }
    appender.commit()?;
    Ok(outcome)
}

/// Returns the label set of a series, or why it is invalid. Invalid UTF-8 is decoded lossily to
/// name the series in the error; the other checks are [`Labels::validate`]'s.
fn to_labels(labels: &[prompb::Label]) -> Result<Labels, InvalidSeries> {
    let mut valid_utf8 = true;
    let decoded: Vec<Label> = labels
        .iter()
        .map(|label| {
            let name = String::from_utf8_lossy(&label.name);
            let value = String::from_utf8_lossy(&label.value);
            valid_utf8 &= matches!((&name, &value), (std::borrow::Cow::Borrowed(_), std::borrow::Cow::Borrowed(_)));
            Label::new(name.as_ref(), value.as_ref())
        })
        .collect();
    let labels = Labels::from_vec(decoded);
    if !valid_utf8 {
        return Err(InvalidSeries::InvalidUtf8 { labels: labels.to_string() });
    }
    labels.validate()?;
    Ok(labels)
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
