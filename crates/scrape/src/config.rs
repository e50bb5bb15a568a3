//! The Prometheus configuration file: serde types for every section Panoptes reads, Prometheus'
//! defaults and validation, and [`load_file`] / [`parse_str`] with errors that name the file,
//! line and column.
//!
//! Unknown keys are errors, as with Prometheus' strict YAML decoding. Checks that need the whole
//! file (inheritance from `global`, duplicate job names) run after decoding and name the line of
//! the scrape config concerned.

mod check;
mod discovery;
mod files;
mod http;
mod operator;
mod remote;
mod scrape;
mod selector;
#[cfg(test)]
mod tests;
mod units;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use panoptes_model::{Classify, ErrorKind};
use serde::Deserialize;
use serde_saphyr::Spanned;

pub use check::{CheckReport, check_config};
pub use discovery::{
    DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesAttachMetadata, KubernetesNamespaces, KubernetesRole,
    KubernetesSdConfig, KubernetesSelector, StaticConfig,
};
pub(crate) use files::glob as glob_files;
pub use http::{Authorization, BasicAuth, HttpClientConfig, HttpHeader, OAuth2, TlsConfig};
pub use operator::{OperatorConfig, ServiceDiscoveryRole};
pub use remote::{
    AlertingConfig, AlertmanagerConfig, ExemplarsConfig, MetadataConfig, OtlpConfig, QueueConfig, RemoteReadConfig,
    RemoteWriteConfig, RuntimeConfig, StorageConfig, TracingConfig, TsdbConfig, TsdbRetentionConfig,
};
pub use scrape::{ScrapeConfig, ScrapeProtocol, accept_header};
pub use units::{ByteSize, Secret};

use crate::relabel::RelabelConfig;
use discovery::{check_static_targets, validated_option, validated_vec};
use units::deserialize_duration;

/// A line and column in a configuration file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The line.
    pub line: u64,
    /// The column.
    pub column: u64,
}

/// Why a configuration file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path:?}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, has unknown keys or values of the wrong type, or breaks a
    /// rule of Prometheus' validation.
    #[error("{}{message}", prefix(origin, *position))]
    Invalid {
        /// The file name or other origin given to [`parse_str`].
        origin: String,
        /// Where the problem is, when known.
        position: Option<Position>,
        /// What is wrong.
        message: String,
    },
}

fn prefix(origin: &str, position: Option<Position>) -> String {
    match position {
        Some(Position { line, column }) => format!("{origin}:{line}:{column}: "),
        None => format!("{origin}: "),
    }
}

impl ConfigError {
    /// Returns where the problem is, when known.
    pub fn position(&self) -> Option<Position> {
        match self {
            ConfigError::Read { .. } => None,
            ConfigError::Invalid { position, .. } => *position,
        }
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            ConfigError::Read { .. } => ErrorKind::Internal,
            ConfigError::Invalid { .. } => ErrorKind::BadData,
        }
    }
}

/// `utf8` (Prometheus 3's default) or `legacy` name validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameValidationScheme {
    /// Any UTF-8 metric and label names.
    Utf8,
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` metric names and `[a-zA-Z_][a-zA-Z0-9_]*` label names.
    Legacy,
}

impl NameValidationScheme {
    fn parse(text: Option<&str>, section: &str) -> Result<Option<NameValidationScheme>, String> {
        match text {
            None | Some("") => Ok(None),
            Some("utf8") => Ok(Some(NameValidationScheme::Utf8)),
            Some("legacy") => Ok(Some(NameValidationScheme::Legacy)),
            Some(other) => Err(format!(
                "unknown {section} name validation method specified, must be either '', 'legacy' or 'utf8', got {other}"
            )),
        }
    }
}

/// The `global` section. After [`parse_str`], durations hold Prometheus' defaults where unset.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// The default scrape interval (default 1m).
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub scrape_interval: Duration,
    /// The default scrape timeout (default 10s, at most the interval).
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub scrape_timeout: Duration,
    /// The default protocols to negotiate; when unset, each job picks Prometheus' default.
    #[serde(default)]
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// How often rules are evaluated (default 1m).
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub evaluation_interval: Duration,
    /// How far back rule evaluation looks by default.
    #[serde(default, deserialize_with = "deserialize_duration")]
    pub rule_query_offset: Duration,
    /// A file that receives the query log.
    #[serde(default)]
    pub query_log_file: Option<String>,
    /// A file that receives scrape failures.
    #[serde(default)]
    pub scrape_failure_log_file: Option<String>,
    /// Labels added to series and alerts sent to other systems.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// The default body size limit; 0 means none.
    #[serde(default)]
    pub body_size_limit: ByteSize,
    /// The default sample limit; 0 means none.
    #[serde(default)]
    pub sample_limit: u64,
    /// The default target limit; 0 means none.
    #[serde(default)]
    pub target_limit: u64,
    /// The default label count limit; 0 means none.
    #[serde(default)]
    pub label_limit: u64,
    /// The default label name length limit; 0 means none.
    #[serde(default)]
    pub label_name_length_limit: u64,
    /// The default label value length limit; 0 means none.
    #[serde(default)]
    pub label_value_length_limit: u64,
    /// The default number of dropped targets kept; 0 means all.
    #[serde(default)]
    pub keep_dropped_targets: u64,
    /// `utf8` (default) or `legacy`.
    #[serde(default)]
    pub metric_name_validation_scheme: Option<String>,
    /// How names are escaped for legacy consumers.
    #[serde(default)]
    pub metric_name_escaping_scheme: Option<String>,
    /// Also ingests classic histograms exposed next to native ones.
    #[serde(default)]
    pub always_scrape_classic_histograms: bool,
    /// Converts classic histograms to native histograms with custom buckets.
    #[serde(default)]
    pub convert_classic_histograms_to_nhcb: bool,
    /// Ingests native histograms by default.
    #[serde(default)]
    pub scrape_native_histograms: Option<bool>,
    /// Records the extra scrape metrics by default.
    #[serde(default)]
    pub extra_scrape_metrics: bool,
}

/// Prometheus' default scrape interval.
const DEFAULT_SCRAPE_INTERVAL: Duration = Duration::from_secs(60);
/// Prometheus' default scrape timeout.
const DEFAULT_SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Prometheus' default rule evaluation interval.
const DEFAULT_EVALUATION_INTERVAL: Duration = Duration::from_secs(60);

impl GlobalConfig {
    /// Returns the name validation scheme in force (`utf8` unless set to `legacy`).
    pub fn name_validation_scheme(&self) -> NameValidationScheme {
        NameValidationScheme::parse(self.metric_name_validation_scheme.as_deref(), "global")
            .ok()
            .flatten()
            .unwrap_or(NameValidationScheme::Utf8)
    }

    fn apply_defaults(&mut self) -> Result<(), String> {
        if self.scrape_interval.is_zero() {
            self.scrape_interval = DEFAULT_SCRAPE_INTERVAL;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err("global scrape timeout greater than scrape interval".to_owned());
        }
        if self.scrape_timeout.is_zero() {
            self.scrape_timeout = DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval);
        }
        if self.evaluation_interval.is_zero() {
            self.evaluation_interval = DEFAULT_EVALUATION_INTERVAL;
        }
        if let Some(protocols) = &self.scrape_protocols {
            check_protocols(protocols).map_err(|message| format!("{message} for global config"))?;
        }
        let scheme = NameValidationScheme::parse(self.metric_name_validation_scheme.as_deref(), "global")?
            .unwrap_or(NameValidationScheme::Utf8);
        self.metric_name_validation_scheme = Some(scheme_name(scheme).to_owned());
        let lookup = |name: &str| std::env::var(name).ok();
        for (name, value) in &mut self.external_labels {
            let is_valid_name = match scheme {
                NameValidationScheme::Utf8 => !name.is_empty(),
                NameValidationScheme::Legacy => panoptes_model::is_valid_legacy_label_name(name),
            };
            if !is_valid_name {
                return Err(format!("{name:?} is not a valid label name"));
            }
            *value = expand_env(value, &lookup);
        }
        Ok(())
    }

    /// Returns the escaping scheme in force: the configured one, else the validation scheme's.
    fn escaping_scheme(&self) -> Result<String, String> {
        match self.metric_name_escaping_scheme.as_deref() {
            None | Some("") => Ok(default_escaping_scheme(self.name_validation_scheme()).to_owned()),
            Some(scheme @ ("allow-utf-8" | "underscores" | "dots" | "values")) => Ok(scheme.to_owned()),
            Some(other) => Err(format!(
                "unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {other:?}"
            )),
        }
    }
}

/// Returns the escaping scheme Prometheus uses when none is configured.
fn default_escaping_scheme(scheme: NameValidationScheme) -> &'static str {
    match scheme {
        NameValidationScheme::Utf8 => "allow-utf-8",
        NameValidationScheme::Legacy => "underscores",
    }
}

/// Expands `$name` and `${name}` as Go's `os.Expand` does, with `$$` standing for `$` and
/// undefined variables expanding to nothing (Prometheus 3 expands external label values so).
fn expand_env(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    const SPECIAL: &[u8] = b"*#$@!?-0123456789";
    let mut out = String::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let bytes = after.as_bytes();
        let (name, consumed) = match bytes.first() {
            None => ("", 0),
            Some(b'{') => {
                if bytes.len() > 2 && SPECIAL.contains(&bytes[1]) && bytes[2] == b'}' {
                    (&after[1..2], 3)
                } else {
                    match after.find('}') {
                        Some(1) => ("", 2),
                        Some(close) => (&after[1..close], close + 1),
                        None => ("", 1),
                    }
                }
            }
            Some(first) if SPECIAL.contains(first) => (&after[..1], 1),
            Some(_) => {
                let len = bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
                (&after[..len], len)
            }
        };
        if name.is_empty() && consumed == 0 {
            // A `$` not followed by a name is kept.
            out.push('$');
        } else if name == "$" {
            out.push('$');
        } else if !name.is_empty() {
            out.push_str(&lookup(name).unwrap_or_default());
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

fn scheme_name(scheme: NameValidationScheme) -> &'static str {
    match scheme {
        NameValidationScheme::Utf8 => "utf8",
        NameValidationScheme::Legacy => "legacy",
    }
}

fn check_protocols(protocols: &[ScrapeProtocol]) -> Result<(), String> {
    if protocols.is_empty() {
        return Err("scrape_protocols cannot be empty".to_owned());
    }
    let mut seen = HashSet::new();
    for protocol in protocols {
        if !seen.insert(protocol) {
            let names: Vec<&str> = protocols.iter().map(|protocol| protocol.as_str()).collect();
            return Err(format!("duplicated protocol in scrape_protocols, got [{}]", names.join(" ")));
        }
    }
    Ok(())
}

/// A whole Prometheus configuration file, with defaults applied and validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// The `global` section.
    pub global: GlobalConfig,
    /// The `runtime` section.
    pub runtime: RuntimeConfig,
    /// The `alerting` section.
    pub alerting: AlertingConfig,
    /// Rule file globs.
    pub rule_files: Vec<String>,
    /// Globs of files holding more scrape configs (not loaded by [`parse_str`]).
    pub scrape_config_files: Vec<String>,
    /// The scrape jobs, in file order.
    pub scrape_configs: Vec<ScrapeConfig>,
    /// The `storage` section.
    pub storage: StorageConfig,
    /// The `tracing` section.
    pub tracing: TracingConfig,
    /// The remote write endpoints.
    pub remote_write: Vec<RemoteWriteConfig>,
    /// The remote read endpoints.
    pub remote_read: Vec<RemoteReadConfig>,
    /// The `otlp` section.
    pub otlp: OtlpConfig,
    /// The `prometheus_operator` section (a Panoptes extension): which ServiceMonitors,
    /// PodMonitors, Probes and PrometheusRules to read from a cluster.
    pub prometheus_operator: Option<OperatorConfig>,
}

/// The file as decoded, before whole-file checks.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<GlobalConfig>,
    #[serde(default)]
    runtime: Option<RuntimeConfig>,
    #[serde(default)]
    alerting: Option<AlertingConfig>,
    #[serde(default)]
    rule_files: Option<Vec<String>>,
    #[serde(default)]
    scrape_config_files: Option<Vec<String>>,
    #[serde(default)]
    scrape_configs: Option<Vec<Spanned<Option<ScrapeConfig>>>>,
    #[serde(default)]
    storage: Option<StorageConfig>,
    #[serde(default, deserialize_with = "validated_option")]
    tracing: Option<TracingConfig>,
    #[serde(default, deserialize_with = "validated_vec")]
    remote_write: Vec<RemoteWriteConfig>,
    #[serde(default, deserialize_with = "validated_vec")]
    remote_read: Vec<RemoteReadConfig>,
    #[serde(default, deserialize_with = "validated_option")]
    otlp: Option<OtlpConfig>,
    #[serde(default, deserialize_with = "validated_option")]
    prometheus_operator: Option<OperatorConfig>,
}

/// Reads and parses a configuration file; errors name the path.
///
/// # Errors
///
/// Returns [`ConfigError::Read`] when the file cannot be read and [`ConfigError::Invalid`] when
/// its contents are not a valid configuration.
pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    let mut config = parse_str(&text, &path.display().to_string())?;
    if let Some(dir) = path.parent() {
        config.resolve_paths(dir);
    }
    Ok(config)
}

impl Config {
    /// Joins every relative file path in the configuration (rule files, credentials, TLS files,
    /// file discovery globs, log files, kubeconfig) onto `dir`, as Prometheus resolves paths
    /// against the configuration file's directory. [`load_file`] calls this.
    pub fn resolve_paths(&mut self, dir: &Path) {
        http::join_dir_option(dir, &mut self.global.query_log_file);
        http::join_dir_option(dir, &mut self.global.scrape_failure_log_file);
        for file in self.rule_files.iter_mut().chain(&mut self.scrape_config_files) {
            http::join_dir(dir, file);
        }
        for scrape in &mut self.scrape_configs {
            scrape.resolve_paths(dir);
        }
        for alertmanager in &mut self.alerting.alertmanagers {
            alertmanager.resolve_paths(dir);
        }
        for remote_write in &mut self.remote_write {
            remote_write.resolve_paths(dir);
        }
        for remote_read in &mut self.remote_read {
            remote_read.resolve_paths(dir);
        }
        self.tracing.resolve_paths(dir);
        if let Some(operator) = &mut self.prometheus_operator {
            operator.resolve_paths(dir);
        }
    }
}

/// Parses a configuration from text; `origin` (usually the file name) prefixes every error.
///
/// # Errors
///
/// Returns [`ConfigError::Invalid`] naming origin, line and column for YAML syntax errors,
/// unknown keys, wrongly typed values and broken validation rules.
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    parse_str_at(text, origin, 0, 0)
}

/// The data keys that hold a Prometheus configuration in a ConfigMap, in order of preference.
const CONFIG_MAP_KEYS: [&str; 2] = ["prometheus.yml", "prometheus.yaml"];

/// Parses the Prometheus configuration held in a Kubernetes ConfigMap manifest: the
/// `data["prometheus.yml"]` entry (or `prometheus.yaml`, or the only `.yml`/`.yaml` entry).
/// Errors name positions in the manifest when the entry is a block scalar (`|`).
///
/// # Errors
///
/// Returns [`ConfigError::Invalid`] when the manifest is not a ConfigMap with such an entry, or
/// when the entry is not a valid configuration.
pub fn parse_config_map(text: &str, origin: &str) -> Result<Config, ConfigError> {
    #[derive(Deserialize)]
    struct ConfigMap {
        kind: Option<String>,
        #[serde(default)]
        data: BTreeMap<String, Spanned<String>>,
    }
    let invalid = |message: String| ConfigError::Invalid { origin: origin.to_owned(), position: None, message };
    let manifest: ConfigMap = serde_saphyr::from_str(text).map_err(|error| ConfigError::Invalid {
        origin: origin.to_owned(),
        position: error.location().map(|location| Position { line: location.line(), column: location.column() }),
        message: yaml_error_message(&error),
    })?;
    if manifest.kind.as_deref() != Some("ConfigMap") {
        return Err(invalid(format!("expected kind ConfigMap, got {:?}", manifest.kind.unwrap_or_default())));
    }
    let yaml_keys: Vec<&String> =
        manifest.data.keys().filter(|key| key.ends_with(".yml") || key.ends_with(".yaml")).collect();
    let key = CONFIG_MAP_KEYS
        .iter()
        .find(|key| manifest.data.contains_key(**key))
        .map(|key| (*key).to_owned())
        .or_else(|| (yaml_keys.len() == 1).then(|| yaml_keys[0].clone()))
        .ok_or_else(|| invalid("ConfigMap has no prometheus.yml data entry".to_owned()))?;
    let Some(entry) = manifest.data.get(&key) else {
        return Err(invalid("ConfigMap has no prometheus.yml data entry".to_owned()));
    };
    let origin = format!("{origin} (data[{key:?}])");
    // A block scalar's location is where its content starts, on the line after its `|` or `>`
    // indicator; every content line carries the same indentation.
    let content_line = entry.referenced.line();
    let indicator_line = usize::try_from(content_line).unwrap_or(usize::MAX).checked_sub(2);
    let is_block = indicator_line
        .and_then(|index| text.lines().nth(index))
        .is_some_and(|line| line.trim_end().trim_end_matches(['-', '+']).ends_with(['|', '>']));
    let (line_offset, column_offset) =
        if is_block { (content_line.saturating_sub(1), entry.referenced.column().saturating_sub(1)) } else { (0, 0) };
    parse_str_at(&entry.value, &origin, line_offset, column_offset)
}

/// Like [`parse_str`] for text embedded in a larger file (for example a Kubernetes ConfigMap's
/// `data` entry, see [`parse_config_map`]): positions are shifted by `line_offset` lines and
/// `column_offset` columns so that they refer to the larger file.
///
/// # Errors
///
/// As [`parse_str`].
pub fn parse_str_at(text: &str, origin: &str, line_offset: u64, column_offset: u64) -> Result<Config, ConfigError> {
    let invalid = |position: Option<Position>, message: String| ConfigError::Invalid {
        origin: origin.to_owned(),
        position: position
            .map(|position| Position { line: position.line + line_offset, column: position.column + column_offset }),
        message,
    };
    let raw: Option<RawConfig> = serde_saphyr::from_str(text).map_err(|error| {
        let position = error
            .location()
            .filter(|location| location.line() > 0)
            .map(|location| Position { line: location.line(), column: location.column() });
        invalid(position, explain_unsupported(yaml_error_message(&error)))
    })?;
    let Some(raw) = raw else {
        return finish(Config {
            global: defaulted_global(GlobalConfig::default()).map_err(|m| invalid(None, m))?,
            ..Config::default()
        })
        .map_err(|message| invalid(None, message));
    };
    let global = defaulted_global(raw.global.unwrap_or_default()).map_err(|message| invalid(None, message))?;
    let mut scrape_configs = Vec::new();
    let mut job_names = HashSet::new();
    for spanned in raw.scrape_configs.unwrap_or_default() {
        let position = Some(Position { line: spanned.referenced.line(), column: spanned.referenced.column() });
        let Some(mut scrape_config) = spanned.value else {
            return Err(invalid(position, "empty or null scrape config section".to_owned()));
        };
        apply_scrape_defaults(&mut scrape_config, &global).map_err(|message| invalid(position, message))?;
        if !job_names.insert(scrape_config.job_name.clone()) {
            return Err(invalid(
                position,
                format!("found multiple scrape configs with job name {:?}", scrape_config.job_name),
            ));
        }
        scrape_configs.push(scrape_config);
    }
    let config = Config {
        global,
        runtime: raw.runtime.unwrap_or_default(),
        alerting: raw.alerting.unwrap_or_default(),
        rule_files: raw.rule_files.unwrap_or_default(),
        scrape_config_files: raw.scrape_config_files.unwrap_or_default(),
        scrape_configs,
        storage: raw.storage.unwrap_or_default(),
        tracing: raw.tracing.unwrap_or_default(),
        remote_write: raw.remote_write,
        remote_read: raw.remote_read,
        otlp: raw.otlp.unwrap_or_default(),
        prometheus_operator: raw.prometheus_operator,
    };
    finish(config).map_err(|message| invalid(None, message))
}

fn defaulted_global(mut global: GlobalConfig) -> Result<GlobalConfig, String> {
    global.apply_defaults()?;
    Ok(global)
}

/// Runs the checks that span sections.
fn finish(config: Config) -> Result<Config, String> {
    if let Some(strategy @ ("NoTranslation" | "NoUTF8EscapingWithSuffixes")) =
        config.otlp.translation_strategy.as_deref()
        && config.global.name_validation_scheme() == NameValidationScheme::Legacy
    {
        return Err(format!("OTLP translation strategy {strategy:?} is not allowed when UTF8 is disabled"));
    }
    let scheme = config.global.name_validation_scheme();
    check_relabel_names(&config.alerting.alert_relabel_configs, scheme)?;
    for alertmanager in &config.alerting.alertmanagers {
        check_relabel_names(&alertmanager.relabel_configs, scheme)?;
        check_relabel_names(&alertmanager.alert_relabel_configs, scheme)?;
    }
    for remote_write in &config.remote_write {
        check_relabel_names(&remote_write.write_relabel_configs, scheme)?;
    }
    for rule_file in &config.rule_files {
        if !is_valid_glob_path(rule_file) {
            return Err(format!("invalid rule file path {rule_file:?}"));
        }
    }
    for file in &config.scrape_config_files {
        if !is_valid_glob_path(file) {
            return Err(format!("invalid scrape config file path {file:?}"));
        }
    }
    let mut names = HashSet::new();
    for remote_write in &config.remote_write {
        if let Some(name) = remote_write.name.as_deref().filter(|name| !name.is_empty())
            && !names.insert(name)
        {
            return Err(format!("found multiple remote write configs with job name {name:?}"));
        }
    }
    let mut names = HashSet::new();
    for remote_read in &config.remote_read {
        if let Some(name) = remote_read.name.as_deref().filter(|name| !name.is_empty())
            && !names.insert(name)
        {
            return Err(format!("found multiple remote read configs with job name {name:?}"));
        }
    }
    Ok(config)
}

/// Implements Prometheus' `^[^*]*(\*[^/]*)?$` for rule and scrape config file globs.
fn is_valid_glob_path(path: &str) -> bool {
    match path.split_once('*') {
        None => true,
        Some((_, after)) => !after.contains('/') && !after.contains('*'),
    }
}

/// Fills a scrape config's unset values from `global` and checks it, as Prometheus'
/// `ScrapeConfig.UnmarshalYAML` and `ScrapeConfig.Validate` do.
pub(crate) fn apply_scrape_defaults(scrape: &mut ScrapeConfig, global: &GlobalConfig) -> Result<(), String> {
    if scrape.job_name.is_empty() {
        return Err("job_name is empty".to_owned());
    }
    let job = scrape.job_name.clone();
    scrape.http_client().validate()?;
    if scrape.relabel_configs.is_empty() {
        check_static_targets(&scrape.static_configs)?;
    }
    if scrape.scrape_interval.is_zero() {
        scrape.scrape_interval = global.scrape_interval;
    }
    if scrape.scrape_timeout > scrape.scrape_interval {
        return Err(format!("scrape timeout greater than scrape interval for scrape config with job name {job:?}"));
    }
    if scrape.scrape_timeout.is_zero() {
        scrape.scrape_timeout = global.scrape_timeout.min(scrape.scrape_interval);
    }
    if scrape.body_size_limit.0 == 0 {
        scrape.body_size_limit = global.body_size_limit;
    }
    for (limit, global_limit) in [
        (&mut scrape.sample_limit, global.sample_limit),
        (&mut scrape.target_limit, global.target_limit),
        (&mut scrape.label_limit, global.label_limit),
        (&mut scrape.label_name_length_limit, global.label_name_length_limit),
        (&mut scrape.label_value_length_limit, global.label_value_length_limit),
        (&mut scrape.keep_dropped_targets, global.keep_dropped_targets),
    ] {
        if *limit == 0 {
            *limit = global_limit;
        }
    }
    if scrape.scrape_failure_log_file.as_deref().is_none_or(str::is_empty) {
        scrape.scrape_failure_log_file = global.scrape_failure_log_file.clone();
    }
    scrape.scrape_native_histograms = scrape.scrape_native_histograms.or(global.scrape_native_histograms);
    scrape.extra_scrape_metrics = scrape.extra_scrape_metrics.or(Some(global.extra_scrape_metrics));
    if scrape.scrape_protocols.is_none() {
        scrape.scrape_protocols = Some(match &global.scrape_protocols {
            Some(protocols) => protocols.clone(),
            None if scrape.is_scrape_native_histograms_enabled() => ScrapeProtocol::DEFAULT_PROTO_FIRST.to_vec(),
            None => ScrapeProtocol::DEFAULT.to_vec(),
        });
    }
    check_protocols(scrape.protocols())
        .map_err(|message| format!("{message} for scrape config with job name {job:?}"))?;
    let local_scheme = NameValidationScheme::parse(scrape.metric_name_validation_scheme.as_deref(), "scrape config")?;
    let scheme = local_scheme.unwrap_or_else(|| global.name_validation_scheme());
    scrape.metric_name_validation_scheme = Some(scheme_name(scheme).to_owned());
    let global_escaping = global.escaping_scheme()?;
    if scrape.metric_name_escaping_scheme.as_deref().is_none_or(str::is_empty) {
        scrape.metric_name_escaping_scheme = Some(match local_scheme {
            None => global_escaping,
            Some(local) => default_escaping_scheme(local).to_owned(),
        });
    }
    match scrape.metric_name_escaping_scheme.as_deref().unwrap_or_default() {
        "allow-utf-8" if scheme != NameValidationScheme::Utf8 => {
            return Err("utf8 metric names requested but validation scheme is not set to UTF8".to_owned());
        }
        "allow-utf-8" | "underscores" | "dots" | "values" => {}
        other => {
            return Err(format!(
                "unknown scrape config name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {other:?}"
            ));
        }
    }
    scrape.convert_classic_histograms_to_nhcb =
        scrape.convert_classic_histograms_to_nhcb.or(Some(global.convert_classic_histograms_to_nhcb));
    scrape.always_scrape_classic_histograms =
        scrape.always_scrape_classic_histograms.or(Some(global.always_scrape_classic_histograms));
    check_relabel_names(&scrape.relabel_configs, scheme)?;
    check_relabel_names(&scrape.metric_relabel_configs, scheme)?;
    Ok(())
}

/// Under legacy name validation, relabel target labels must be legacy names (unless templated).
fn check_relabel_names(configs: &[RelabelConfig], scheme: NameValidationScheme) -> Result<(), String> {
    if scheme != NameValidationScheme::Legacy {
        return Ok(());
    }
    for config in configs {
        let target = &config.target_label;
        if !target.is_empty() && !target.contains('$') && !panoptes_model::is_valid_legacy_label_name(target) {
            return Err(format!("{target:?} is invalid 'target_label' for {} action", config.action));
        }
    }
    Ok(())
}

/// Names the service discoveries Prometheus has and Panoptes does not, instead of calling them
/// unknown fields.
fn explain_unsupported(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    match rest.split_once('`') {
        Some((field, _)) if field.ends_with("_sd_configs") => format!(
            "{field} is not supported by Panoptes (supported: static_configs, file_sd_configs, http_sd_configs, dns_sd_configs, kubernetes_sd_configs)"
        ),
        Some((field @ ("sigv4" | "azuread" | "google_iam"), _)) => {
            format!("{field} authentication is not supported by Panoptes")
        }
        _ => message,
    }
}

/// Returns the message of a YAML error without the location the error type appends.
fn yaml_error_message(error: &serde_saphyr::Error) -> String {
    let mut options = serde_saphyr::RenderOptions::default();
    options.snippets = serde_saphyr::SnippetMode::Off;
    let message = error.without_snippet().render_with_options(options);
    match error.location() {
        Some(location) => {
            let suffix = format!(" at line {}, column {}", location.line(), location.column());
            message.strip_suffix(&suffix).map_or_else(|| message.clone(), str::to_owned)
        }
        None => message,
    }
}

impl fmt::Display for NameValidationScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(scheme_name(*self))
    }
}
