//! The error type of the scrape crate.

use panoptes_model::{Classify, ErrorKind};

use crate::append::AppendError;
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
    /// A scraped page could not be appended.
    #[error("cannot append scrape")]
    Append(#[from] AppendError),
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
            Error::Append(error) => error.kind(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_kinds() {
        let parse = crate::exposition::parse(b"up{", crate::exposition::Format::PrometheusText).expect_err("bad page");
        assert_eq!(Error::from(parse).kind(), ErrorKind::BadData);
        let missing = crate::config::load_file("/nonexistent/panoptes.yml").expect_err("missing");
        assert_eq!(Error::from(missing).kind(), ErrorKind::NotFound);
        assert_eq!(Error::from(AppendError::SampleLimit).kind(), ErrorKind::TooManyRequests);
        let invalid = crate::config::parse_str("bogus: 1\n", "p.yml").expect_err("unknown key");
        let error = Error::from(invalid);
        assert_eq!(error.kind(), ErrorKind::BadData);
        assert_eq!(error.to_string(), "cannot load configuration");
        let source = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
        assert!(source.starts_with("p.yml:1:1: unknown field `bogus`"), "{source}");
    }
}
