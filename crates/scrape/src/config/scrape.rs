//! The `scrape_configs` section: one job's targets, HTTP settings, limits and relabelling.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::discovery::{DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, StaticConfig, validated_vec};
use super::http::{default_true, with_http_client_fields};
use super::units::{ByteSize, deserialize_duration};
use crate::relabel::RelabelConfig;

/// A wire format a scrape may negotiate, in Prometheus' spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScrapeProtocol {
    /// `PrometheusProto`: the protobuf format (needed for native histograms).
    PrometheusProto,
    /// `OpenMetricsText0.0.1`.
    OpenMetricsText0_0_1,
    /// `OpenMetricsText1.0.0`.
    OpenMetricsText1_0_0,
    /// `PrometheusText0.0.4`.
    PrometheusText0_0_4,
    /// `PrometheusText1.0.0`: the text format with UTF-8 names.
    PrometheusText1_0_0,
}

impl ScrapeProtocol {
    /// Every protocol, sorted by name as Prometheus lists them in errors.
    pub const ALL: [ScrapeProtocol; 5] = [
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::PrometheusText0_0_4,
        ScrapeProtocol::PrometheusText1_0_0,
    ];

    /// Prometheus' preference order when native histograms are scraped: protobuf first.
    pub const DEFAULT_PROTO_FIRST: [ScrapeProtocol; 5] = [
        ScrapeProtocol::PrometheusProto,
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// Prometheus 3's default preference order.
    pub const DEFAULT: [ScrapeProtocol; 4] = [
        ScrapeProtocol::OpenMetricsText1_0_0,
        ScrapeProtocol::OpenMetricsText0_0_1,
        ScrapeProtocol::PrometheusText1_0_0,
        ScrapeProtocol::PrometheusText0_0_4,
    ];

    /// Returns the protocol's configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => "PrometheusProto",
            ScrapeProtocol::OpenMetricsText0_0_1 => "OpenMetricsText0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "OpenMetricsText1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "PrometheusText0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "PrometheusText1.0.0",
        }
    }

    /// Returns the media type and parameters this protocol is requested with.
    pub fn header_media_type(self) -> &'static str {
        match self {
            ScrapeProtocol::PrometheusProto => {
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
            }
            ScrapeProtocol::OpenMetricsText0_0_1 => "application/openmetrics-text;version=0.0.1",
            ScrapeProtocol::OpenMetricsText1_0_0 => "application/openmetrics-text;version=1.0.0",
            ScrapeProtocol::PrometheusText0_0_4 => "text/plain;version=0.0.4",
            ScrapeProtocol::PrometheusText1_0_0 => "text/plain;version=1.0.0",
        }
    }

    /// Returns whether the media type takes an `escaping` parameter (the UTF-8 aware formats).
    fn takes_escaping(self) -> bool {
        matches!(self, ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0)
    }
}

/// Returns the `Accept` header Prometheus sends for `protocols` in preference order: each media
/// type with a descending `q` weight, the UTF-8 aware ones with `escaping=<escaping_scheme>`,
/// then `*/*` with the lowest weight.
pub fn accept_header(protocols: &[ScrapeProtocol], escaping_scheme: &str) -> String {
    let mut weight = ScrapeProtocol::ALL.len() + 1;
    let mut values = Vec::with_capacity(protocols.len() + 1);
    for protocol in protocols {
        let mut value = protocol.header_media_type().to_owned();
        if protocol.takes_escaping() {
            value.push_str(";escaping=");
            value.push_str(escaping_scheme);
        }
        value.push_str(&format!(";q=0.{weight}"));
        values.push(value);
        weight = weight.saturating_sub(1);
    }
    values.push(format!("*/*;q=0.{weight}"));
    values.join(",")
}

impl fmt::Display for ScrapeProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ScrapeProtocol {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ScrapeProtocol::ALL.into_iter().find(|protocol| protocol.as_str() == name).ok_or_else(|| {
            let supported: Vec<&str> = ScrapeProtocol::ALL.iter().map(|protocol| protocol.as_str()).collect();
            serde::de::Error::custom(format!("unknown scrape protocol {name}, supported: [{}]", supported.join(" ")))
        })
    }
}

fn default_metrics_path() -> String {
    "/metrics".to_owned()
}

fn default_scheme() -> String {
    "http".to_owned()
}

with_http_client_fields! {
    enable_http2_default = "crate::config::http::default_true";
    /// One scrape job. After [`super::parse_str`], zero durations and limits have been replaced
    /// by the global ones, as Prometheus does.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ScrapeConfig {
        /// The job name, unique in the file; the default `job` label.
        #[serde(default)]
        pub job_name: String,
        /// Keeps the scraped labels when they clash with target labels.
        #[serde(default)]
        pub honor_labels: bool,
        /// Uses the timestamps the target exposes (default true).
        #[serde(default = "default_true")]
        pub honor_timestamps: bool,
        /// Writes staleness markers for series with explicit timestamps.
        #[serde(default)]
        pub track_timestamps_staleness: bool,
        /// URL query parameters.
        #[serde(default)]
        pub params: BTreeMap<String, Vec<String>>,
        /// How often to scrape; inherits the global interval.
        #[serde(default, deserialize_with = "deserialize_duration")]
        pub scrape_interval: Duration,
        /// The per-scrape timeout; inherits the global timeout, capped at the interval.
        #[serde(default, deserialize_with = "deserialize_duration")]
        pub scrape_timeout: Duration,
        /// Protocols to negotiate, in preference order; after loading, the job's own list, the
        /// global one, or Prometheus' default (protobuf first when native histograms are on).
        #[serde(default)]
        pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
        /// The protocol assumed when the response's content type is missing or unknown.
        #[serde(default)]
        pub fallback_scrape_protocol: Option<ScrapeProtocol>,
        /// Ingests native histograms (needs the protobuf protocol); inherits the global value.
        #[serde(default)]
        pub scrape_native_histograms: Option<bool>,
        /// Records `scrape_timeout_seconds`, `scrape_sample_limit` and `scrape_body_size_bytes`;
        /// inherits the global value.
        #[serde(default)]
        pub extra_scrape_metrics: Option<bool>,
        /// A file that receives scrape failures.
        #[serde(default)]
        pub scrape_failure_log_file: Option<String>,
        /// Requests compressed responses (default true).
        #[serde(default = "default_true")]
        pub enable_compression: bool,
        /// The HTTP path (default `/metrics`).
        #[serde(default = "default_metrics_path")]
        pub metrics_path: String,
        /// `http` (default) or `https`.
        #[serde(default = "default_scheme")]
        pub scheme: String,
        /// The largest uncompressed response accepted; 0 means no limit.
        #[serde(default)]
        pub body_size_limit: ByteSize,
        /// The most samples accepted per scrape; 0 means no limit.
        #[serde(default)]
        pub sample_limit: u64,
        /// The most targets after relabelling; 0 means no limit.
        #[serde(default)]
        pub target_limit: u64,
        /// The most labels per series; 0 means no limit.
        #[serde(default)]
        pub label_limit: u64,
        /// The longest label name; 0 means no limit.
        #[serde(default)]
        pub label_name_length_limit: u64,
        /// The longest label value; 0 means no limit.
        #[serde(default)]
        pub label_value_length_limit: u64,
        /// The most buckets of a native histogram; 0 means no limit.
        #[serde(default)]
        pub native_histogram_bucket_limit: u64,
        /// The least growth factor between native histogram buckets.
        #[serde(default)]
        pub native_histogram_min_bucket_factor: f64,
        /// How many dropped targets to remember for the API; 0 means all.
        #[serde(default)]
        pub keep_dropped_targets: u64,
        /// `utf8` or `legacy`; inherits the global scheme.
        #[serde(default)]
        pub metric_name_validation_scheme: Option<String>,
        /// How names are escaped for legacy consumers; inherits the global scheme.
        #[serde(default)]
        pub metric_name_escaping_scheme: Option<String>,
        /// Also ingests classic histograms exposed next to native ones; inherits the global value.
        #[serde(default)]
        pub always_scrape_classic_histograms: Option<bool>,
        /// Converts classic histograms to native histograms with custom buckets; inherits the
        /// global value.
        #[serde(default)]
        pub convert_classic_histograms_to_nhcb: Option<bool>,
        /// Static target groups.
        #[serde(default, deserialize_with = "validated_vec")]
        pub static_configs: Vec<StaticConfig>,
        /// File-based discovery.
        #[serde(default, deserialize_with = "validated_vec")]
        pub file_sd_configs: Vec<FileSdConfig>,
        /// HTTP-based discovery.
        #[serde(default, deserialize_with = "validated_vec")]
        pub http_sd_configs: Vec<HttpSdConfig>,
        /// DNS-based discovery.
        #[serde(default, deserialize_with = "validated_vec")]
        pub dns_sd_configs: Vec<DnsSdConfig>,
        /// Kubernetes discovery.
        #[serde(default, deserialize_with = "validated_vec")]
        pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
        /// Relabelling of discovered targets.
        #[serde(default)]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Relabelling of scraped series.
        #[serde(default)]
        pub metric_relabel_configs: Vec<RelabelConfig>,
    }
}

impl ScrapeConfig {
    /// Returns the protocols to negotiate (Prometheus' default when unset).
    pub fn protocols(&self) -> &[ScrapeProtocol] {
        self.scrape_protocols.as_deref().unwrap_or(&ScrapeProtocol::DEFAULT)
    }

    /// Returns the `Accept` header for this job's protocols and escaping scheme.
    pub fn accept_header(&self) -> String {
        accept_header(self.protocols(), self.metric_name_escaping_scheme.as_deref().unwrap_or("allow-utf-8"))
    }

    /// Returns whether native histograms are scraped.
    pub fn is_scrape_native_histograms_enabled(&self) -> bool {
        self.scrape_native_histograms == Some(true)
    }

    /// Returns whether classic histograms are kept next to native ones.
    pub fn is_always_scrape_classic_histograms_enabled(&self) -> bool {
        self.always_scrape_classic_histograms == Some(true)
    }

    /// Returns whether classic histograms become native histograms with custom buckets.
    pub fn is_convert_classic_histograms_to_nhcb_enabled(&self) -> bool {
        self.convert_classic_histograms_to_nhcb == Some(true)
    }

    /// Returns whether the extra scrape metrics are recorded.
    pub fn is_extra_scrape_metrics_enabled(&self) -> bool {
        self.extra_scrape_metrics == Some(true)
    }

    /// Resolves relative file paths against `dir` (the configuration file's directory).
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
        super::http::join_dir_option(dir, &mut self.scrape_failure_log_file);
        for file_sd in &mut self.file_sd_configs {
            file_sd.resolve_paths(dir);
        }
        for http_sd in &mut self.http_sd_configs {
            http_sd.resolve_paths(dir);
        }
        for kubernetes in &mut self.kubernetes_sd_configs {
            kubernetes.resolve_paths(dir);
        }
    }
}
