//! Errors of the simulation: bad settings from flags or the control API, and listeners that
//! cannot be bound or files that cannot be written.

use std::path::PathBuf;

use panoptes_model::{Classify, ErrorKind};

/// An error configuring or starting the demo.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range or malformed; the message names it.
    #[error("invalid demo setting: {0}")]
    Invalid(String),
    /// No simulated workload has this name.
    #[error(
        "unknown workload {0:?}; workloads: istio-ingressgateway, productpage-v1, details-v1, reviews-v1, reviews-v2, reviews-v3, ratings-v1"
    )]
    UnknownWorkload(String),
    /// A workload's listener could not be bound.
    #[error("cannot listen on 127.0.0.1 for {workload}")]
    Bind {
        /// The workload.
        workload: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A generated file could not be written.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::BadData,
            Error::UnknownWorkload(_) => ErrorKind::NotFound,
            Error::Bind { .. } | Error::Write { .. } => ErrorKind::Internal,
        }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
