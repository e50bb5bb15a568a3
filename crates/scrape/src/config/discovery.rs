//! Configuration of target discovery: static targets and the file, HTTP, DNS and Kubernetes
//! service discoveries. Only parsing and validation live here; the discoverers belong in
//! `discovery/`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::http::with_http_client_fields;
use super::units::{deserialize_duration, deserialize_optional_duration};

/// A type whose deserialized value must also pass Prometheus' validation.
pub(crate) trait Validate {
    /// Returns Prometheus' message for the first problem found.
    fn validate(&self) -> Result<(), String>;
}

/// Deserializes one value and validates it, so that the YAML parser locates the error.
struct Validated<T>(T);

impl<'de, T: Deserialize<'de> + Validate> Deserialize<'de> for Validated<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = T::deserialize(deserializer)?;
        value.validate().map_err(serde::de::Error::custom)?;
        Ok(Validated(value))
    }
}

/// Deserializes an optional section and validates it when present.
pub(crate) fn validated_option<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Validate,
{
    Ok(Option::<Validated<T>>::deserialize(deserializer)?.map(|Validated(value)| value))
}

/// Deserializes a list whose elements are validated one by one.
pub(crate) fn validated_vec<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Validate,
{
    let items = Option::<Vec<Validated<T>>>::deserialize(deserializer)?.unwrap_or_default();
    Ok(items.into_iter().map(|Validated(value)| value).collect())
}

/// Checks a target address the way Prometheus' `CheckTargetAddress` does.
pub(crate) fn check_target_address(address: &str) -> Result<(), String> {
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    Ok(())
}

/// A static target group: addresses and the labels they share.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticConfig {
    /// `host:port` addresses.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels attached to every target of the group.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Validate for StaticConfig {
    fn validate(&self) -> Result<(), String> {
        if let Some(name) = self.labels.keys().find(|name| name.is_empty()) {
            return Err(format!("{name:?} is not a valid label name"));
        }
        Ok(())
    }
}

fn default_file_refresh() -> Duration {
    Duration::from_secs(5 * 60)
}

/// File-based discovery: JSON or YAML target groups in files matching globs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths, whose last element may hold a `*` glob.
    #[serde(default)]
    pub files: Vec<String>,
    /// How often to re-read the files (default 5m).
    #[serde(default = "default_file_refresh", deserialize_with = "deserialize_duration")]
    pub refresh_interval: Duration,
}

impl Validate for FileSdConfig {
    fn validate(&self) -> Result<(), String> {
        if self.files.is_empty() {
            return Err("file service discovery config must contain at least one path name".to_owned());
        }
        for file in &self.files {
            if !is_valid_sd_file_path(file) {
                return Err(format!("path name {file:?} is not valid for file discovery"));
            }
        }
        Ok(())
    }
}

impl FileSdConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        for file in &mut self.files {
            super::http::join_dir(dir, file);
        }
    }
}

impl HttpSdConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
    }
}

impl KubernetesSdConfig {
    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
        super::http::join_dir_option(dir, &mut self.kubeconfig_file);
    }
}

/// Checks static targets for URLs, as Prometheus does for sections without relabelling.
pub(crate) fn check_static_targets(static_configs: &[StaticConfig]) -> Result<(), String> {
    static_configs.iter().flat_map(|group| &group.targets).try_for_each(|target| check_target_address(target))
}

/// Implements Prometheus' `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`.
fn is_valid_sd_file_path(path: &str) -> bool {
    let Some((stem, extension)) = path.rsplit_once('.') else {
        return false;
    };
    if !matches!(extension, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML") {
        return false;
    }
    match stem.split_once('*') {
        None => true,
        Some((_, after_star)) => !after_star.contains('/') && !after_star.contains('*'),
    }
}

fn default_http_sd_refresh() -> Duration {
    Duration::from_secs(60)
}

with_http_client_fields! {
    enable_http2_default = "crate::config::http::default_true";
    /// HTTP-based discovery: target groups fetched as JSON from a URL.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct HttpSdConfig {
        /// The URL to fetch.
        pub url: String,
        /// How often to fetch it (default 1m).
        #[serde(default = "default_http_sd_refresh", deserialize_with = "deserialize_duration")]
        pub refresh_interval: Duration,
    }
}

impl Validate for HttpSdConfig {
    fn validate(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Err("URL is missing".to_owned());
        }
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return Err("URL scheme must be 'http' or 'https'".to_owned());
        };
        if scheme != "http" && scheme != "https" {
            return Err("URL scheme must be 'http' or 'https'".to_owned());
        }
        if rest.split(['/', '?', '#']).next().unwrap_or_default().is_empty() {
            return Err("host is missing in URL".to_owned());
        }
        self.http_client().validate()
    }
}

/// DNS-based discovery.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsSdConfig {
    /// Names to resolve.
    #[serde(default)]
    pub names: Vec<String>,
    /// How often to resolve them (default 30s).
    #[serde(default, deserialize_with = "deserialize_optional_duration")]
    pub refresh_interval: Option<Duration>,
    /// The record type: `SRV` (default), `A`, `AAAA`, `MX` or `NS`.
    #[serde(default, rename = "type")]
    pub record_type: Option<String>,
    /// The port for record types without one.
    #[serde(default)]
    pub port: u16,
}

impl Validate for DnsSdConfig {
    fn validate(&self) -> Result<(), String> {
        if self.names.is_empty() {
            return Err("DNS-SD config must contain at least one SRV record name".to_owned());
        }
        let record_type = self.record_type.as_deref().unwrap_or("SRV").to_uppercase();
        match record_type.as_str() {
            "SRV" => Ok(()),
            "A" | "AAAA" | "MX" | "NS" if self.port == 0 => {
                Err("a port is required in DNS-SD configs for all record types except SRV".to_owned())
            }
            "A" | "AAAA" | "MX" | "NS" => Ok(()),
            _ => Err(format!("invalid DNS-SD records type {record_type}")),
        }
    }
}

/// The Kubernetes object kind a Kubernetes discovery watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KubernetesRole {
    /// Nodes.
    Node,
    /// Pods.
    Pod,
    /// Services.
    Service,
    /// Endpoints.
    Endpoints,
    /// EndpointSlices.
    EndpointSlice,
    /// Ingresses.
    Ingress,
}

impl KubernetesRole {
    /// Returns the role as written in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Node => "node",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn parse(name: &str) -> Option<KubernetesRole> {
        Some(match name {
            "node" => KubernetesRole::Node,
            "pod" => KubernetesRole::Pod,
            "service" => KubernetesRole::Service,
            "endpoints" => KubernetesRole::Endpoints,
            "endpointslice" => KubernetesRole::EndpointSlice,
            "ingress" => KubernetesRole::Ingress,
            _ => return None,
        })
    }

    /// Returns the selector roles Prometheus allows for a discovery of this role.
    fn allowed_selector_roles(self) -> &'static [&'static str] {
        match self {
            KubernetesRole::Endpoints => &["pod", "service", "endpoints"],
            KubernetesRole::EndpointSlice => &["pod", "service", "endpointslice"],
            KubernetesRole::Ingress => &["ingress"],
            KubernetesRole::Node => &["node"],
            KubernetesRole::Pod => &["pod"],
            KubernetesRole::Service => &["service"],
        }
    }
}

impl<'de> Deserialize<'de> for KubernetesRole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        KubernetesRole::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown Kubernetes SD role {name:?}")))
    }
}

/// Which namespaces a Kubernetes discovery watches.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesNamespaces {
    /// Includes the namespace Panoptes runs in.
    #[serde(default)]
    pub own_namespace: bool,
    /// Namespace names; empty means all.
    #[serde(default)]
    pub names: Vec<String>,
}

/// A label or field selector applied to one role's watch.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesSelector {
    /// The role the selector applies to.
    pub role: KubernetesRole,
    /// A label selector, for example `app=web`.
    #[serde(default)]
    pub label: Option<String>,
    /// A field selector, for example `metadata.name=x`.
    #[serde(default)]
    pub field: Option<String>,
}

/// Extra metadata attached to discovered targets.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesAttachMetadata {
    /// Attaches node labels to pod and endpoint targets.
    #[serde(default)]
    pub node: bool,
    /// Attaches namespace labels.
    #[serde(default)]
    pub namespace: bool,
}

with_http_client_fields! {
    enable_http2_default = "crate::config::http::default_true";
    /// Kubernetes discovery.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct KubernetesSdConfig {
        /// The role to discover; required.
        #[serde(default)]
        pub role: Option<KubernetesRole>,
        /// The API server URL; in-cluster configuration when absent.
        #[serde(default)]
        pub api_server: Option<String>,
        /// A kubeconfig file, exclusive with `api_server`.
        #[serde(default)]
        pub kubeconfig_file: Option<String>,
        /// The namespaces to watch.
        #[serde(default)]
        pub namespaces: KubernetesNamespaces,
        /// Selectors per role.
        #[serde(default)]
        pub selectors: Vec<KubernetesSelector>,
        /// Extra metadata to attach.
        #[serde(default)]
        pub attach_metadata: KubernetesAttachMetadata,
    }
}

impl Validate for KubernetesSdConfig {
    fn validate(&self) -> Result<(), String> {
        let Some(role) = self.role else {
            return Err("role missing (one of: pod, service, endpoints, endpointslice, node, ingress)".to_owned());
        };
        let http_client = self.http_client();
        http_client.validate()?;
        let has_api_server = self.api_server.as_ref().is_some_and(|url| !url.is_empty());
        let has_kubeconfig = self.kubeconfig_file.as_ref().is_some_and(|file| !file.is_empty());
        if has_api_server && has_kubeconfig {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".to_owned());
        }
        let is_default_client = http_client == super::HttpClientConfig::default();
        if has_kubeconfig && !is_default_client {
            return Err("cannot use a custom HTTP client configuration together with 'kubeconfig_file'".to_owned());
        }
        if !has_api_server && !has_kubeconfig && !is_default_client {
            return Err(
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly".to_owned()
            );
        }
        if has_api_server && self.namespaces.own_namespace {
            return Err("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".to_owned());
        }
        if has_kubeconfig && self.namespaces.own_namespace {
            return Err("cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".to_owned());
        }
        let allowed = role.allowed_selector_roles();
        let mut seen = Vec::new();
        for selector in &self.selectors {
            if seen.contains(&selector.role) {
                return Err(format!("duplicated selector role: {}", selector.role.as_str()));
            }
            seen.push(selector.role);
            if !allowed.contains(&selector.role.as_str()) {
                return Err(format!("{} role supports only {} selectors", role.as_str(), allowed.join(", ")));
            }
            super::selector::check_field_selector(selector.field.as_deref().unwrap_or_default())?;
            super::selector::check_label_selector(selector.label.as_deref().unwrap_or_default())?;
        }
        Ok(())
    }
}
