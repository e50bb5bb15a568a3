//! The errors of parsing and evaluating PromQL.

use panoptes_model::{Classify, ErrorKind};

/// An error from parsing or evaluating a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query text is not valid PromQL.
    #[error("{0}")]
    Parse(String),
    /// The query uses syntax or a feature this engine refuses to evaluate.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Evaluation failed for a reason the query is responsible for (for example duplicate label
    /// sets or many-to-many matching).
    #[error("{0}")]
    Execution(String),
    /// The query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query ran longer than the configured timeout.
    #[error("query timed out in query execution")]
    Timeout,
    /// The query was cancelled, usually because its client went away.
    #[error("query was canceled in query execution")]
    Canceled,
    /// The store could not be read.
    #[error(transparent)]
    Storage(#[from] panoptes_storage::Error),
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Parse(_) | Error::Unsupported(_) | Error::Execution(_) => ErrorKind::BadData,
            Error::TooManySamples => ErrorKind::TooManyRequests,
            Error::Timeout => ErrorKind::Timeout,
            Error::Canceled => ErrorKind::Canceled,
            Error::Storage(error) => error.kind(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
