//! Scalar configuration types: Prometheus durations, base-2 byte sizes and secrets.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Deserializes a Prometheus duration string (`15s`, `1h30m`, `0`).
pub(crate) fn deserialize_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    panoptes_model::time::parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Deserializes an optional Prometheus duration string.
pub(crate) fn deserialize_optional_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    deserialize_duration(deserializer).map(Some)
}

/// A size in bytes, written like Go's `units.Base2Bytes` (`100MB`, `1GiB`, `512KB`, `0`): every
/// unit is a power of 1024.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parses a base-2 byte size such as `10MB`, `1KiB` or `1GB512MB`.
    ///
    /// # Errors
    ///
    /// Returns a message naming the input when it has no number, an unknown unit or overflows.
    pub fn parse(text: &str) -> Result<ByteSize, String> {
        panoptes_model::size::parse_base2_bytes(text).map(ByteSize)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ByteSize::parse(&text).map_err(serde::de::Error::custom)
    }
}

pub use panoptes_model::Secret;

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Option<u64>) {
        assert_eq!(ByteSize::parse(input).ok().map(|size| size.0), expected, "ByteSize::parse({input:?})");
    }

    #[test]
    fn parses_base2_sizes() {
        check("0", Some(0));
        check("100B", Some(100));
        check("1KB", Some(1024));
        check("1KiB", Some(1024));
        check("10MB", Some(10 << 20));
        check("1GB512MB", Some((1 << 30) + (512 << 20)));
        check("", None);
        check("10", None);
        check("10XB", None);
        check("MB", None);
        check("99999999999EB", None);
    }

    #[test]
    fn secret_is_redacted_in_debug() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "<secret>");
    }
}
