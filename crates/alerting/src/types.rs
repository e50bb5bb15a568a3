//! The alert as the router keeps it, label sets and Alertmanager's fingerprints.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A label set, sorted by name.
pub type LabelSet = BTreeMap<String, String>;

/// A label set's 64-bit fingerprint (FNV-1a as in Prometheus' `model.LabelSet.Fingerprint`).
pub type Fingerprint = u64;

/// Returns the fingerprint of `labels`, identical to Alertmanager's.
pub fn fingerprint(labels: &LabelSet) -> Fingerprint {
    const OFFSET: u64 = 14_695_981_039_346_656_037;
    const PRIME: u64 = 1_099_511_628_211;
    const SEPARATOR: u8 = 0xff;
    let mut hash = OFFSET;
    let mut add = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    };
    for (name, value) in labels {
        name.bytes().for_each(&mut add);
        add(SEPARATOR);
        value.bytes().for_each(&mut add);
        add(SEPARATOR);
    }
    hash
}

/// Formats a fingerprint as Alertmanager does (16 hex digits).
pub fn fingerprint_string(fp: Fingerprint) -> String {
    format!("{fp:016x}")
}

/// Prints a label set as Prometheus' `LabelSet.String` does: `{a="b", c="d"}`.
pub(crate) fn labels_string(labels: &LabelSet) -> String {
    let pairs: Vec<String> =
        labels.iter().map(|(name, value)| format!("{name}={}", crate::matchers::quote(value))).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// An alert as received and merged by the router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Identifying labels.
    pub labels: LabelSet,
    /// Informational annotations.
    #[serde(default)]
    pub annotations: LabelSet,
    /// When the alert started firing.
    pub starts_at: Timestamp,
    /// When the alert ends (in the future while firing).
    pub ends_at: Timestamp,
    /// The link back to the rule that produced the alert.
    #[serde(default)]
    pub generator_url: String,
    /// When the router last received the alert.
    pub updated_at: Timestamp,
    /// Whether `ends_at` was set by the router (`resolve_timeout`) rather than by the sender.
    #[serde(default)]
    pub timeout: bool,
}

impl Alert {
    /// Returns the alert's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        fingerprint(&self.labels)
    }

    /// Returns the alert name label (empty when missing).
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Returns whether the alert is resolved at `now`.
    pub fn is_resolved_at(&self, now: Timestamp) -> bool {
        self.ends_at <= now
    }

    /// Merges a newer update of the same alert as Alertmanager's `Alert.Merge` does: the earliest
    /// start wins; an explicit end time beats one set by the resolve timeout.
    pub fn merge(&self, other: &Alert) -> Alert {
        if other.updated_at < self.updated_at {
            return other.merge(self);
        }
        let mut result = other.clone();
        if self.starts_at < other.starts_at {
            result.starts_at = self.starts_at;
        }
        let now = Timestamp::now();
        if other.is_resolved_at(now) {
            if self.is_resolved_at(now) && self.ends_at > other.ends_at {
                result.ends_at = self.ends_at;
            }
        } else if self.ends_at > other.ends_at && !self.timeout {
            result.ends_at = self.ends_at;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_prometheus() {
        // Prometheus' model.LabelSet{}.Fingerprint() is the FNV-1a offset basis.
        assert_eq!(fingerprint(&LabelSet::new()), 0xcbf29ce484222325);
        let labels: LabelSet = [("alertname".to_owned(), "x".to_owned())].into();
        assert_eq!(fingerprint_string(fingerprint(&labels)).len(), 16);
        assert_eq!(labels_string(&labels), r#"{alertname="x"}"#);
    }
}
