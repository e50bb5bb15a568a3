//! Errors of the server's lifecycle (listening, serving, opening and closing the store).
//!
//! Errors answered to HTTP clients are `api::ApiError`; this type is for the process that runs
//! the server.

use std::net::SocketAddr;

use panoptes_model::{Classify, ErrorKind};

/// An error that stops the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The listener failed while serving.
    #[error("http server failed")]
    Serve {
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The storage opener returned an error or panicked.
    #[error("cannot open storage: {message}")]
    OpenStorage {
        /// What the opener reported.
        message: String,
    },
    /// The shutdown hook (closing the store) failed.
    #[error("shutdown hook failed: {message}")]
    Shutdown {
        /// What the hook reported.
        message: String,
    },
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Bind { .. } | Error::Serve { .. } | Error::OpenStorage { .. } | Error::Shutdown { .. } => {
                ErrorKind::Internal
            }
        }
    }
}

/// The server's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
