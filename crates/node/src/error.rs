//! Errors of the node collectors.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// Why a collector could not produce its metrics.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory under the configured roots could not be read.
    #[error("cannot read {path:?}")]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A file had content in a form the collector does not understand.
    #[error("cannot parse {path:?}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// The kernel does not offer what the collector reads (for example no `/sys/class/hwmon`).
    #[error("no data: {what}")]
    NoData {
        /// What is missing.
        what: String,
    },
    /// A collector panicked; this is a bug, reported instead of taking the agent down.
    #[error("collector panicked: {message}")]
    Panicked {
        /// The panic payload, when it was a string.
        message: String,
    },
    /// A regular expression given in the options does not compile.
    #[error("invalid regular expression for {option}")]
    Regex {
        /// The option, for example `collector.netdev.device-exclude`.
        option: &'static str,
        /// The compile error.
        #[source]
        source: regex::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            Error::NoData { .. } => ErrorKind::NotFound,
            Error::Regex { .. } => ErrorKind::BadData,
            Error::Read { .. } | Error::Parse { .. } | Error::Panicked { .. } => ErrorKind::Internal,
        }
    }
}

impl Error {
    /// Returns whether this error only says that the data does not exist on this machine, which
    /// node-exporter logs at debug level rather than as an error.
    pub fn is_no_data(&self) -> bool {
        matches!(self, Error::NoData { .. })
    }
}
