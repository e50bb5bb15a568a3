//! Errors of the router: configuration, persistence, templates and the API.

use panoptes_model::{Classify, ErrorKind};

pub(crate) use crate::config::ConfigError;

/// Why an operation of the router failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A state file in the data directory could not be read or written.
    #[error("{what} {path:?}")]
    Io {
        /// What was being done, e.g. `cannot write silences`.
        what: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A state file holds data that does not decode.
    #[error("corrupted state file {path:?}: {message}")]
    Corrupted {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A request (a silence, alerts) is not valid.
    #[error("{0}")]
    BadData(String),
    /// The silence, alert or receiver asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A background task failed unexpectedly.
    #[error("internal error: {0}")]
    Internal(String),
    /// A notification template failed.
    #[error("{0}")]
    Template(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(error) => error.kind(),
            Error::Io { .. } | Error::Corrupted { .. } | Error::Template(_) | Error::Internal(_) => ErrorKind::Internal,
            Error::BadData(_) => ErrorKind::BadData,
            Error::NotFound(_) => ErrorKind::NotFound,
        }
    }
}
