//! Errors of the persistent parts of this crate (the Pushgateway group store). Request errors are
//! answered by each protocol in its own wire format and never leave the handlers.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// An error opening, writing or closing the Pushgateway group store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the file.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The persisted file could not be decoded (it is set aside at open, never fatal there).
    #[error("corrupt pushgateway store {path}: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Internal
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
