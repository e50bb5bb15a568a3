//! The error type of the scrape crate.

use panoptes_model::{Classify, ErrorKind};

use crate::config::ConfigError;
use crate::exposition::ParseError;
use crate::relabel::RelabelError;
use crate::target::TargetError;

/// Everything that can fail in the scrape crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An exposition page could not be parsed.
    #[error("cannot parse exposition page")]
    Exposition(#[from] ParseError),
    /// A relabelling rule is not valid.
    #[error("invalid relabel config")]
    Relabel(#[from] RelabelError),
    /// A discovered target cannot be scraped.
    #[error("invalid target")]
    Target(#[from] TargetError),
    /// A configuration file could not be loaded.
    #[error("cannot load configuration")]
    Config(#[from] ConfigError),
}

/// The result type of the scrape crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Exposition(_) | Error::Relabel(_) | Error::Target(_) => ErrorKind::BadData,
            Error::Config(error) => error.kind(),
        }
    }
}
