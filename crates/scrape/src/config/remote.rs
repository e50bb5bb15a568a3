//! The sections that talk to other systems: `alerting`, `remote_write`, `remote_read`, plus the
//! small `storage`, `tracing`, `otlp` and `runtime` sections.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::discovery::{
    DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, StaticConfig, Validate, check_static_targets,
    validated_vec,
};
use super::http::{TlsConfig, default_true, with_http_client_fields};
use super::units::{deserialize_duration, deserialize_optional_duration};
use crate::relabel::RelabelConfig;

/// Headers that remote write and read set themselves (`authorization` is checked apart).
const RESERVED_HEADERS: [&str; 17] = [
    "host",
    "content-encoding",
    "content-length",
    "content-type",
    "user-agent",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "www-authenticate",
    "accept-encoding",
    "x-prometheus-remote-write-version",
    "x-prometheus-remote-read-version",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "x-prometheus-scrape-timeout-seconds",
];

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), String> {
    for name in headers.keys() {
        let lower = name.to_lowercase();
        if lower == "authorization" {
            return Err("authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter".to_owned());
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            return Err(format!("{name} is a reserved header. It must not be changed"));
        }
    }
    Ok(())
}

/// The `alerting` section.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertingConfig {
    /// Relabelling applied to every alert before it is sent.
    #[serde(default)]
    pub alert_relabel_configs: Vec<RelabelConfig>,
    /// The Alertmanagers to send to.
    #[serde(default, deserialize_with = "validated_vec")]
    pub alertmanagers: Vec<AlertmanagerConfig>,
}

fn default_alertmanager_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_path_prefix() -> String {
    "/".to_owned()
}

fn default_scheme() -> String {
    "http".to_owned()
}

fn default_api_version() -> String {
    "v2".to_owned()
}

with_http_client_fields! {
    enable_http2_default = "crate::config::http::default_true";
    /// One set of Alertmanagers and how to reach them.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AlertmanagerConfig {
        /// `http` (default) or `https`.
        #[serde(default = "default_scheme")]
        pub scheme: String,
        /// The path prefix of the Alertmanager API (default `/`).
        #[serde(default = "default_path_prefix")]
        pub path_prefix: String,
        /// The push timeout (default 10s).
        #[serde(default = "default_alertmanager_timeout", deserialize_with = "deserialize_duration")]
        pub timeout: Duration,
        /// The API version; only `v2` exists.
        #[serde(default = "default_api_version")]
        pub api_version: String,
        /// Static Alertmanagers.
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
        /// Relabelling of discovered Alertmanagers.
        #[serde(default)]
        pub relabel_configs: Vec<RelabelConfig>,
        /// Relabelling of alerts sent to these Alertmanagers.
        #[serde(default)]
        pub alert_relabel_configs: Vec<RelabelConfig>,
    }
}

impl Validate for AlertmanagerConfig {
    fn validate(&self) -> Result<(), String> {
        if self.api_version != "v2" {
            return Err(format!("expected Alertmanager api version to be one of [v2] but got {}", self.api_version));
        }
        self.http_client().validate()?;
        if self.relabel_configs.is_empty() {
            check_static_targets(&self.static_configs)?;
        }
        Ok(())
    }
}

impl AlertmanagerConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
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

/// Queue tuning of one remote write.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Samples buffered per shard (default 10000).
    pub capacity: u64,
    /// The most shards (default 50).
    pub max_shards: u64,
    /// The fewest shards (default 1).
    pub min_shards: u64,
    /// Samples per request (default 2000).
    pub max_samples_per_send: u64,
    /// The longest a sample waits in a shard (default 5s).
    #[serde(deserialize_with = "deserialize_duration")]
    pub batch_send_deadline: Duration,
    /// The first retry delay (default 30ms).
    #[serde(deserialize_with = "deserialize_duration")]
    pub min_backoff: Duration,
    /// The longest retry delay (default 5s).
    #[serde(deserialize_with = "deserialize_duration")]
    pub max_backoff: Duration,
    /// Retries on HTTP 429.
    pub retry_on_http_429: bool,
    /// Drops samples older than this instead of sending them; zero keeps all.
    #[serde(deserialize_with = "deserialize_duration")]
    pub sample_age_limit: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            max_shards: 50,
            min_shards: 1,
            max_samples_per_send: 2000,
            batch_send_deadline: Duration::from_secs(5),
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            retry_on_http_429: false,
            sample_age_limit: Duration::ZERO,
        }
    }
}

/// Metadata sending of one remote write.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataConfig {
    /// Sends metric metadata (default true).
    pub send: bool,
    /// How often (default 1m).
    #[serde(deserialize_with = "deserialize_duration")]
    pub send_interval: Duration,
    /// Metadata entries per request (default 2000).
    pub max_samples_per_send: u64,
}

impl Default for MetadataConfig {
    fn default() -> Self {
        MetadataConfig { send: true, send_interval: Duration::from_secs(60), max_samples_per_send: 2000 }
    }
}

fn default_remote_write_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_protobuf_message() -> String {
    "prometheus.WriteRequest".to_owned()
}

with_http_client_fields! {
    enable_http2_default = "Default::default";
    /// One remote write endpoint.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RemoteWriteConfig {
        /// The endpoint URL; required.
        #[serde(default)]
        pub url: String,
        /// The request timeout (default 30s).
        #[serde(default = "default_remote_write_timeout", deserialize_with = "deserialize_duration")]
        pub remote_timeout: Duration,
        /// Extra request headers.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// Relabelling applied before sending.
        #[serde(default)]
        pub write_relabel_configs: Vec<RelabelConfig>,
        /// A unique name for metrics and logs.
        #[serde(default)]
        pub name: Option<String>,
        /// Sends exemplars.
        #[serde(default)]
        pub send_exemplars: bool,
        /// Sends native histograms.
        #[serde(default)]
        pub send_native_histograms: bool,
        /// Spreads requests over all resolved addresses.
        #[serde(default)]
        pub round_robin_dns: bool,
        /// `prometheus.WriteRequest` (1.0, default) or `io.prometheus.write.v2.Request` (2.0).
        #[serde(default = "default_protobuf_message")]
        pub protobuf_message: String,
        /// Queue tuning.
        #[serde(default)]
        pub queue_config: QueueConfig,
        /// Metadata sending.
        #[serde(default)]
        pub metadata_config: MetadataConfig,
    }
}

impl Validate for RemoteWriteConfig {
    fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Err("url for remote_write is empty".to_owned());
        }
        check_headers(&self.headers)?;
        const MESSAGES: [&str; 2] = ["prometheus.WriteRequest", "io.prometheus.write.v2.Request"];
        if !MESSAGES.contains(&self.protobuf_message.as_str()) {
            return Err(format!(
                "invalid protobuf_message value: unknown remote write protobuf message {}, supported: {}",
                self.protobuf_message,
                MESSAGES.join(", ")
            ));
        }
        self.http_client().validate()?;
        let configured: Vec<&str> = [
            (self.basic_auth.is_some(), "basic_auth"),
            (self.authorization.is_some(), "authorization"),
            (self.oauth2.is_some(), "oauth2"),
        ]
        .into_iter()
        .filter_map(|(is_set, name)| is_set.then_some(name))
        .collect();
        if configured.len() > 1 {
            return Err(format!(
                "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [{}]",
                configured.join(" ")
            ));
        }
        Ok(())
    }
}

impl RemoteWriteConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
    }
}

fn default_remote_read_timeout() -> Duration {
    Duration::from_secs(60)
}

with_http_client_fields! {
    enable_http2_default = "crate::config::http::default_true";
    /// One remote read endpoint.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct RemoteReadConfig {
        /// The endpoint URL; required.
        #[serde(default)]
        pub url: String,
        /// The request timeout (default 1m).
        #[serde(default = "default_remote_read_timeout", deserialize_with = "deserialize_duration")]
        pub remote_timeout: Duration,
        /// Extra request headers.
        #[serde(default)]
        pub headers: BTreeMap<String, String>,
        /// Also reads ranges the local store covers.
        #[serde(default)]
        pub read_recent: bool,
        /// A unique name for metrics and logs.
        #[serde(default)]
        pub name: Option<String>,
        /// Equality matchers every query must contain to be sent.
        #[serde(default)]
        pub required_matchers: BTreeMap<String, String>,
        /// Adds external labels as matchers (default true).
        #[serde(default = "default_true")]
        pub filter_external_labels: bool,
        /// The largest frame of a streamed (chunked) response, in bytes (default 50MB).
        #[serde(default = "default_chunked_read_limit")]
        pub chunked_read_limit: u64,
    }
}

fn default_chunked_read_limit() -> u64 {
    50_000_000
}

impl RemoteReadConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
    }
}

impl Validate for RemoteReadConfig {
    fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Err("url for remote_read is empty".to_owned());
        }
        check_headers(&self.headers)?;
        self.http_client().validate()
    }
}

/// The `storage` section.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Settings of the local TSDB.
    #[serde(default)]
    pub tsdb: Option<TsdbConfig>,
    /// Settings of the exemplar store.
    #[serde(default)]
    pub exemplars: Option<ExemplarsConfig>,
}

/// `storage.tsdb`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbConfig {
    /// How far back out-of-order samples are accepted; zero rejects them.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub out_of_order_time_window: Duration,
    /// Retention, overriding the command-line flags.
    #[serde(default)]
    pub retention: Option<TsdbRetentionConfig>,
}

/// `storage.tsdb.retention`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TsdbRetentionConfig {
    /// How long samples are kept; zero means the default.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub time: Duration,
    /// The most bytes blocks may take; zero means no limit.
    #[serde(default)]
    pub size: super::units::ByteSize,
}

/// `storage.exemplars`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExemplarsConfig {
    /// The capacity of the exemplar ring buffer.
    #[serde(default)]
    pub max_exemplars: i64,
}

fn default_client_type() -> String {
    "grpc".to_owned()
}

/// The `tracing` section (Panoptes' own traces).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// `grpc` (default) or `http`.
    #[serde(default = "default_client_type")]
    pub client_type: String,
    /// The OTLP endpoint.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The fraction of traces sampled.
    #[serde(default)]
    pub sampling_fraction: f64,
    /// Disables TLS.
    #[serde(default)]
    pub insecure: bool,
    /// TLS settings.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// `gzip` or none.
    #[serde(default)]
    pub compression: Option<String>,
    /// The export timeout.
    #[serde(default, deserialize_with = "deserialize_optional_duration")]
    pub timeout: Option<Duration>,
}

impl Validate for TracingConfig {
    fn validate(&self) -> Result<(), String> {
        if self.client_type != "http" && self.client_type != "grpc" {
            return Err(format!("expected tracing client type to be to be http or grpc, but got {}", self.client_type));
        }
        for name in self.headers.keys() {
            let lower = name.to_lowercase();
            if lower == "authorization" {
                return Err("custom authorization header configuration is not yet supported".to_owned());
            }
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(format!("{name} is a reserved header. It must not be changed"));
            }
        }
        if self.endpoint.as_deref().is_none_or(str::is_empty) {
            return Err("tracing endpoint must be set".to_owned());
        }
        match self.compression.as_deref() {
            None | Some("" | "gzip") => self.tls_config.validate(),
            Some(other) => Err(format!("invalid compression type {other} provided, valid options: gzip")),
        }
    }
}

/// The `otlp` section: how OTLP metrics are translated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// Resource attributes promoted to labels.
    #[serde(default)]
    pub promote_resource_attributes: Vec<String>,
    /// Promotes every resource attribute except those ignored.
    #[serde(default)]
    pub promote_all_resource_attributes: bool,
    /// Resource attributes never promoted.
    #[serde(default)]
    pub ignore_resource_attributes: Vec<String>,
    /// How names are translated.
    #[serde(default)]
    pub translation_strategy: Option<String>,
    /// Keeps `service.*` attributes on `target_info`.
    #[serde(default)]
    pub keep_identifying_resource_attributes: bool,
    /// Converts explicit-bucket histograms to native histograms with custom buckets.
    #[serde(default)]
    pub convert_histograms_to_nhcb: bool,
    /// Promotes instrumentation scope metadata to labels.
    #[serde(default)]
    pub promote_scope_metadata: bool,
    /// Prefixes label names starting with a single `_` with `key` (legacy escaping only).
    #[serde(default = "default_true")]
    pub label_name_underscore_sanitization: bool,
    /// Keeps runs of underscores in label names (legacy escaping only).
    #[serde(default = "default_true")]
    pub label_name_preserve_multiple_underscores: bool,
}

impl Validate for OtlpConfig {
    fn validate(&self) -> Result<(), String> {
        if self.promote_all_resource_attributes {
            if !self.promote_resource_attributes.is_empty() {
                return Err(
                    "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously"
                        .to_owned(),
                );
            }
        } else if !self.ignore_resource_attributes.is_empty() {
            return Err(
                "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true"
                    .to_owned(),
            );
        }
        match self.translation_strategy.as_deref() {
            None
            | Some(
                ""
                | "UnderscoreEscapingWithSuffixes"
                | "UnderscoreEscapingWithoutSuffixes"
                | "NoUTF8EscapingWithSuffixes"
                | "NoTranslation",
            ) => Ok(()),
            Some(other) => Err(format!("unsupported OTLP translation strategy {other:?}")),
        }
    }
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            promote_resource_attributes: Vec::new(),
            promote_all_resource_attributes: false,
            ignore_resource_attributes: Vec::new(),
            translation_strategy: None,
            keep_identifying_resource_attributes: false,
            convert_histograms_to_nhcb: false,
            promote_scope_metadata: false,
            label_name_underscore_sanitization: true,
            label_name_preserve_multiple_underscores: true,
        }
    }
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            client_type: default_client_type(),
            endpoint: None,
            sampling_fraction: 0.0,
            insecure: false,
            tls_config: TlsConfig::default(),
            headers: BTreeMap::new(),
            compression: None,
            timeout: None,
        }
    }
}

impl TracingConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.tls_config.resolve_paths(dir);
    }
}

/// The `runtime` section.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Go's GC percentage; accepted for compatibility and ignored.
    #[serde(default)]
    pub gogc: Option<i64>,
}
