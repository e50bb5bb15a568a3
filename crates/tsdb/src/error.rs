//! Errors of the storage engine.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// An error of the storage engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("{op} {path:?}")]
    Io {
        /// What was being done ("open", "write", ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Stored bytes do not decode.
    #[error("corrupt {what} in {path:?} at offset {offset}: {reason}")]
    Corruption {
        /// The structure ("wal record", "chunk", "index").
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Where in the file.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The database was closed.
    #[error("database is closed")]
    Closed,
    /// A sample or series was refused (forwarded to the storage interface as is).
    #[error(transparent)]
    Storage(#[from] panoptes_storage::Error),
}

impl Error {
    /// Returns an I/O error for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } | Error::Corruption { .. } => ErrorKind::Internal,
            Error::Closed => ErrorKind::Unavailable,
            Error::Storage(inner) => inner.kind(),
        }
    }
}

impl From<Error> for panoptes_storage::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Storage(inner) => inner,
            Error::Closed => panoptes_storage::Error::Unavailable("database is closed".to_owned()),
            Error::Corruption { .. } => panoptes_storage::Error::Corruption(error.to_string()),
            Error::Io { op, path, source } => {
                panoptes_storage::Error::Io { context: format!("{op} {}", path.display()), source }
            }
        }
    }
}

/// The storage engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
