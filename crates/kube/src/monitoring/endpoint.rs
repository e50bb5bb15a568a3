//! A monitor's scrape endpoint (`spec.endpoints[]`), its relabelling rules, `attachMetadata`
//! and the per-monitor limits.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{Authentication, Reference, TlsConfig, Unsupported, push_paths};

/// `attachMetadata`: extra metadata on discovered targets.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachMetadata {
    /// Attaches node labels.
    #[serde(default)]
    pub node: Option<bool>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// A relabelling rule in the operator's spelling (`sourceLabels`, `targetLabel` ...).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RelabelConfig {
    /// Source labels.
    #[serde(default)]
    pub source_labels: Option<Vec<String>>,
    /// The separator joining source values.
    #[serde(default)]
    pub separator: Option<String>,
    /// The target label.
    #[serde(default)]
    pub target_label: Option<String>,
    /// The regular expression.
    #[serde(default)]
    pub regex: Option<String>,
    /// The modulus of `hashmod`.
    #[serde(default)]
    pub modulus: Option<u64>,
    /// The replacement.
    #[serde(default)]
    pub replacement: Option<String>,
    /// The action, in either case (`replace` or `Replace`).
    #[serde(default)]
    pub action: Option<String>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// A port given by number or by name (`intstr.IntOrString`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    /// A number.
    Int(i64),
    /// A name.
    String(String),
}

impl std::fmt::Display for IntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrString::Int(number) => write!(f, "{number}"),
            IntOrString::String(name) => f.write_str(name),
        }
    }
}

/// What a `ServiceMonitor` endpoint and a `PodMonitor` endpoint share.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// The port name (a Service port for ServiceMonitors, a container port for PodMonitors).
    #[serde(default)]
    pub port: Option<String>,
    /// A container port number (PodMonitors only).
    #[serde(default)]
    pub port_number: Option<i64>,
    /// The target port, by number or name.
    #[serde(default)]
    pub target_port: Option<IntOrString>,
    /// The HTTP path.
    #[serde(default)]
    pub path: Option<String>,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// URL parameters.
    #[serde(default)]
    pub params: Option<BTreeMap<String, Vec<String>>>,
    /// The scrape interval, e.g. `30s`.
    #[serde(default)]
    pub interval: Option<String>,
    /// The scrape timeout.
    #[serde(default)]
    pub scrape_timeout: Option<String>,
    /// Keeps scraped labels on conflict.
    #[serde(default)]
    pub honor_labels: Option<bool>,
    /// Uses exposed timestamps.
    #[serde(default)]
    pub honor_timestamps: Option<bool>,
    /// Writes staleness markers for series with timestamps.
    #[serde(default)]
    pub track_timestamps_staleness: Option<bool>,
    /// Relabelling of discovered targets, after the generated rules.
    #[serde(default)]
    pub relabelings: Vec<RelabelConfig>,
    /// Relabelling of scraped series.
    #[serde(default)]
    pub metric_relabelings: Vec<RelabelConfig>,
    /// Drops targets of Pods that are not running (default true).
    #[serde(default)]
    pub filter_running: Option<bool>,
    /// Follows redirects.
    #[serde(default)]
    pub follow_redirects: Option<bool>,
    /// Allows HTTP/2.
    #[serde(default)]
    pub enable_http2: Option<bool>,
    /// A bearer token file in Panoptes' file system (deprecated by the operator).
    #[serde(default)]
    pub bearer_token_file: Option<String>,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// A proxy URL.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Authentication with credentials from Secrets.
    #[serde(flatten)]
    pub authentication: Authentication,
    /// Fields not modelled, such as `oauth2`.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl Endpoint {
    /// Returns the Secret and ConfigMap keys the endpoint reads.
    pub fn references(&self) -> Vec<Reference> {
        let mut references = Vec::new();
        self.authentication.push_references(&mut references);
        if let Some(tls) = &self.tls_config {
            tls.push_references(&mut references);
        }
        references
    }

    /// Returns the paths of every unsupported field under `prefix` (e.g. `endpoints[0].`).
    pub(super) fn unsupported_fields(&self, prefix: &str, paths: &mut Vec<String>) {
        push_paths(paths, prefix, &self.unsupported);
        self.authentication.unsupported_fields(prefix, paths);
        if let Some(tls) = &self.tls_config {
            tls.unsupported_fields(&format!("{prefix}tlsConfig."), paths);
        }
        for (index, relabel) in self.relabelings.iter().enumerate() {
            push_paths(paths, &format!("{prefix}relabelings[{index}]."), &relabel.unsupported);
        }
        for (index, relabel) in self.metric_relabelings.iter().enumerate() {
            push_paths(paths, &format!("{prefix}metricRelabelings[{index}]."), &relabel.unsupported);
        }
    }
}

/// The limits a monitor may set on its jobs.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Samples per scrape.
    #[serde(default)]
    pub sample_limit: Option<u64>,
    /// Targets per job.
    #[serde(default)]
    pub target_limit: Option<u64>,
    /// Labels per series.
    #[serde(default)]
    pub label_limit: Option<u64>,
    /// Label name length.
    #[serde(default)]
    pub label_name_length_limit: Option<u64>,
    /// Label value length.
    #[serde(default)]
    pub label_value_length_limit: Option<u64>,
    /// Dropped targets kept for the API.
    #[serde(default)]
    pub keep_dropped_targets: Option<u64>,
}
