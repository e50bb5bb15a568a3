//! Configuration (stub).

use panoptes_model::{Classify, ErrorKind};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Classify for ConfigError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::BadData
    }
}
