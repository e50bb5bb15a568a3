//! Errors of the remote-write sender.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// An error of the remote-write sender.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `remote_write` entry cannot be honoured (unsupported setting, bad client settings).
    #[error("remote_write {name}: {reason}")]
    Config {
        /// The queue's name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The queue's position file or directory cannot be read or written.
    #[error("{op} {path:?}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The WAL cannot be read.
    #[error("reading the wal")]
    Wal(#[from] panoptes_tsdb::Error),
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
            Error::Config { .. } => ErrorKind::BadData,
            Error::Io { .. } => ErrorKind::Internal,
            Error::Wal(inner) => inner.kind(),
        }
    }
}

/// The result of remote-write operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
