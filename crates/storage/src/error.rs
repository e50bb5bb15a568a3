//! Errors at the storage interface, shared by every store.

use panoptes_model::{Classify, ErrorKind, LabelsError};

/// An error from an [`crate::Appender`] or a [`crate::Querier`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The series' labels are not acceptable.
    #[error(transparent)]
    InvalidLabels(#[from] LabelsError),
    /// The sample is older than the newest sample of its series and outside the out-of-order
    /// window.
    #[error("out of order sample for series {series}: timestamp {t} is not after the last sample at {last_t}")]
    OutOfOrder {
        /// The series, printed.
        series: String,
        /// The rejected timestamp.
        t: i64,
        /// The newest timestamp already stored.
        last_t: i64,
    },
    /// The sample is older than anything the store still accepts.
    #[error("sample for series {series} at timestamp {t} is too old: the oldest accepted is {min_t}")]
    TooOld {
        /// The series, printed.
        series: String,
        /// The rejected timestamp.
        t: i64,
        /// The oldest timestamp the store accepts now.
        min_t: i64,
    },
    /// A sample with the same timestamp and a different value is already stored.
    #[error("duplicate sample for series {series} at timestamp {t} with a different value")]
    DuplicateSample {
        /// The series, printed.
        series: String,
        /// The timestamp.
        t: i64,
    },
    /// A limit was reached (series count, for example).
    #[error("{0}")]
    Limit(String),
    /// The store is closed or not ready yet.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("corrupt data: {0}")]
    Corruption(String),
    /// An I/O operation failed.
    #[error("{context}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Returns whether the error concerns one sample only (the batch goes on).
    pub fn is_sample_error(&self) -> bool {
        matches!(
            self,
            Error::InvalidLabels(_) | Error::OutOfOrder { .. } | Error::TooOld { .. } | Error::DuplicateSample { .. }
        )
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidLabels(_)
            | Error::OutOfOrder { .. }
            | Error::TooOld { .. }
            | Error::DuplicateSample { .. } => ErrorKind::BadData,
            Error::Limit(_) => ErrorKind::TooManyRequests,
            Error::Unavailable(_) => ErrorKind::Unavailable,
            Error::Corruption(_) | Error::Io { .. } => ErrorKind::Internal,
        }
    }
}

/// The storage interface's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
