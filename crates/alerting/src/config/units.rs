//! Small value types of the configuration: durations, secrets, matcher lists.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::matchers::{Matchers, parse_matchers};

pub use panoptes_model::Secret;

/// A duration written as a Prometheus duration string (`30s`, `4h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ConfigDuration(pub Duration);

impl<'de> Deserialize<'de> for ConfigDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        panoptes_model::time::parse_duration(&text).map(ConfigDuration).map_err(serde::de::Error::custom)
    }
}

impl Serialize for ConfigDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

/// Formats a duration as Prometheus' `model.Duration.String` (`1h30m`, `0s`).
pub fn format_duration(duration: Duration) -> String {
    let mut millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in
        [("y", 31_536_000_000u128), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
    {
        if millis >= size {
            out.push_str(&format!("{}{unit}", millis / size));
            millis %= size;
        }
    }
    if millis > 0 {
        out.push_str(&format!("{millis}ms"));
    }
    out
}

/// A list of matcher strings as in route `matchers` and inhibition rules; each entry may hold
/// several comma-separated matchers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatcherList(pub Matchers);

impl<'de> Deserialize<'de> for MatcherList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let lines = Vec::<String>::deserialize(deserializer)?;
        let mut all = Vec::new();
        for line in lines {
            all.extend(parse_matchers(&line).map_err(serde::de::Error::custom)?);
        }
        Ok(MatcherList(Matchers(all)))
    }
}

impl Serialize for MatcherList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let lines: Vec<String> = self.0.0.iter().map(crate::matchers::matcher_string).collect();
        lines.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_like_prometheus() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "<secret>");
        assert_eq!(serde_json::to_string(&Secret::new("hunter2")).unwrap(), "\"<secret>\"");
    }
}
