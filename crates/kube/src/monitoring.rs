//! The prometheus-operator's custom resources (`monitoring.coreos.com/v1`): `ServiceMonitor`,
//! `PodMonitor`, `Probe` and `PrometheusRule`, as watch caches hold them, and the Kubernetes
//! [`LabelSelector`] that selects them.
//!
//! A cached object keeps its `spec` as raw JSON: one malformed object must never make a whole
//! list fail to decode. Typed specs ([`ServiceMonitorSpec`], [`PodMonitorSpec`]) are decoded
//! per object by [`ServiceMonitor::spec`] and friends; every field they do not model is kept
//! in an `unsupported` map so that callers report it instead of silently dropping it
//! ([`ServiceMonitorSpec::unsupported_fields`]). Credentials and TLS material that live in
//! Secrets and ConfigMaps are modelled as references ([`KeySelector`]); each spec lists them
//! ([`ServiceMonitorSpec::references`]) so that the caller can watch exactly those objects.
//! This module only models; turning specs into scrape jobs is `panoptes-scrape`'s `operator`
//! module.

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Deserialize;
use serde_json::Value;

/// The API group of the operator's resources.
pub const MONITORING_GROUP: &str = "monitoring.coreos.com";
/// The API version of the operator's resources.
pub const MONITORING_VERSION: &str = "v1";

macro_rules! monitoring_resource {
    ($(#[$meta:meta])* $name:ident, $plural:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        pub struct $name {
            /// The object's metadata.
            pub metadata: ObjectMeta,
            /// The raw `spec`; decode it with the kind's `spec()` method.
            #[serde(default)]
            pub spec: Value,
        }

        impl Resource for $name {
            type DynamicType = ();
            type Scope = NamespaceResourceScope;

            fn kind(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(stringify!($name))
            }

            fn group(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(MONITORING_GROUP)
            }

            fn version(_: &()) -> Cow<'_, str> {
                Cow::Borrowed(MONITORING_VERSION)
            }

            fn plural(_: &()) -> Cow<'_, str> {
                Cow::Borrowed($plural)
            }

            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }

            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

monitoring_resource!(
    /// A `ServiceMonitor`: scrape the endpoints of the Services its selector picks.
    ServiceMonitor,
    "servicemonitors"
);
monitoring_resource!(
    /// A `PodMonitor`: scrape the Pods its selector picks.
    PodMonitor,
    "podmonitors"
);
monitoring_resource!(
    /// A `Probe`: probe static targets or Ingresses through a blackbox prober.
    Probe,
    "probes"
);
monitoring_resource!(
    /// A `PrometheusRule`: groups of recording and alerting rules.
    PrometheusRule,
    "prometheusrules"
);

impl ServiceMonitor {
    /// Decodes the spec.
    ///
    /// # Errors
    ///
    /// Returns the decoder's message when a modelled field has the wrong type.
    pub fn spec(&self) -> Result<ServiceMonitorSpec, String> {
        ServiceMonitorSpec::deserialize(&self.spec).map_err(|error| format!("invalid spec: {error}"))
    }
}

impl PodMonitor {
    /// Decodes the spec.
    ///
    /// # Errors
    ///
    /// Returns the decoder's message when a modelled field has the wrong type.
    pub fn spec(&self) -> Result<PodMonitorSpec, String> {
        PodMonitorSpec::deserialize(&self.spec).map_err(|error| format!("invalid spec: {error}"))
    }
}

impl Probe {
    /// Decodes the spec.
    ///
    /// # Errors
    ///
    /// Returns the decoder's message when a modelled field has the wrong type.
    pub fn spec(&self) -> Result<ProbeSpec, String> {
        ProbeSpec::deserialize(&self.spec).map_err(|error| format!("invalid spec: {error}"))
    }
}

/// A Kubernetes label selector: every `matchLabels` pair and every `matchExpressions`
/// requirement must hold. An empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` and `NotIn`; must be empty for the others.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Checks the operators and their values as the API server does.
    ///
    /// # Errors
    ///
    /// Returns a message naming the requirement (`matchExpressions[i]`) that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (index, requirement) in self.match_expressions.iter().enumerate() {
            let field = format!("matchExpressions[{index}]");
            if requirement.key.is_empty() {
                return Err(format!("{field}.key must not be empty"));
            }
            match requirement.operator.as_str() {
                "In" | "NotIn" if requirement.values.is_empty() => {
                    return Err(format!("{field}: values must be non-empty for operator {}", requirement.operator));
                }
                "Exists" | "DoesNotExist" if !requirement.values.is_empty() => {
                    return Err(format!("{field}: values must be empty for operator {}", requirement.operator));
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => {
                    return Err(format!(
                        "{field}: unknown operator {other:?} (expected In, NotIn, Exists or DoesNotExist)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Returns true when `labels` satisfy every requirement. Unknown operators (which
    /// [`LabelSelector::validate`] refuses) match nothing.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(key, value)| labels.get(key) == Some(value))
            && self.match_expressions.iter().all(|requirement| {
                let value = labels.get(&requirement.key);
                match requirement.operator.as_str() {
                    "In" => value.is_some_and(|value| requirement.values.contains(value)),
                    "NotIn" => !value.is_some_and(|value| requirement.values.contains(value)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// Returns true for the empty selector, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// Fields present in an object that the typed spec does not model, by name.
pub type Unsupported = BTreeMap<String, Value>;

/// Pushes `<prefix><name>` for every key of `unsupported`.
fn push_paths(paths: &mut Vec<String>, prefix: &str, unsupported: &Unsupported) {
    paths.extend(unsupported.keys().map(|name| format!("{prefix}{name}")));
}

/// The namespaces a monitor looks for Services or Pods in: `any`, a list, or (neither) the
/// monitor's own namespace.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Every namespace.
    #[serde(default)]
    pub any: bool,
    /// These namespaces.
    #[serde(default)]
    pub match_names: Vec<String>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

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

/// Which kind of object a [`Reference`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReferencedKind {
    /// A `Secret`.
    Secret,
    /// A `ConfigMap`.
    ConfigMap,
}

impl ReferencedKind {
    /// Returns the kind's name as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferencedKind::Secret => "Secret",
            ReferencedKind::ConfigMap => "ConfigMap",
        }
    }
}

/// One key of a Secret or ConfigMap that a monitor's spec reads, always in the monitor's own
/// namespace (as the operator reads them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// Secret or ConfigMap.
    pub kind: ReferencedKind,
    /// The object's name.
    pub name: String,
    /// The key in its `data`.
    pub key: String,
}

/// A key of a Secret or a ConfigMap (`core/v1.SecretKeySelector`, `ConfigMapKeySelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// The object's name; an empty name means "not set", as the operator treats it.
    #[serde(default)]
    pub name: String,
    /// The key.
    #[serde(default)]
    pub key: String,
    /// Accepted and ignored, as the operator ignores it: a missing key is an error.
    #[serde(default)]
    pub optional: Option<bool>,
}

impl KeySelector {
    /// Returns true when the selector names an object (the CRD defaults leave `name` empty).
    pub fn is_set(&self) -> bool {
        !self.name.is_empty()
    }

    fn push_reference(&self, kind: ReferencedKind, references: &mut Vec<Reference>) {
        if self.is_set() {
            references.push(Reference { kind, name: self.name.clone(), key: self.key.clone() });
        }
    }
}

/// TLS material taken from a Secret or a ConfigMap key (`SecretOrConfigMap`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretOrConfigMap {
    /// A Secret key.
    #[serde(default)]
    pub secret: Option<KeySelector>,
    /// A ConfigMap key.
    #[serde(default)]
    pub config_map: Option<KeySelector>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl SecretOrConfigMap {
    fn push_references(&self, references: &mut Vec<Reference>) {
        if let Some(secret) = &self.secret {
            secret.push_reference(ReferencedKind::Secret, references);
        }
        if let Some(config_map) = &self.config_map {
            config_map.push_reference(ReferencedKind::ConfigMap, references);
        }
    }
}

/// `basicAuth`: user name and password from Secret keys.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// The user name's Secret key.
    #[serde(default)]
    pub username: Option<KeySelector>,
    /// The password's Secret key.
    #[serde(default)]
    pub password: Option<KeySelector>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `authorization`: the `Authorization` header's type and credentials from a Secret key.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeAuthorization {
    /// The scheme, `Bearer` when absent.
    #[serde(default, rename = "type")]
    pub scheme: Option<String>,
    /// The credentials' Secret key.
    #[serde(default)]
    pub credentials: Option<KeySelector>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `tlsConfig` of an endpoint or a Probe: files in Panoptes' file system, or CA, certificate
/// and key from Secrets and ConfigMaps of the monitor's namespace.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// A CA file in Panoptes' file system.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// A client certificate file.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// A client key file.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The CA certificate from a Secret or ConfigMap.
    #[serde(default)]
    pub ca: Option<SecretOrConfigMap>,
    /// The client certificate from a Secret or ConfigMap.
    #[serde(default)]
    pub cert: Option<SecretOrConfigMap>,
    /// The client key from a Secret.
    #[serde(default)]
    pub key_secret: Option<KeySelector>,
    /// The server name to verify.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skips verification.
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl TlsConfig {
    fn push_references(&self, references: &mut Vec<Reference>) {
        for material in [&self.ca, &self.cert].into_iter().flatten() {
            material.push_references(references);
        }
        if let Some(key) = &self.key_secret {
            key.push_reference(ReferencedKind::Secret, references);
        }
    }

    fn unsupported_fields(&self, prefix: &str, paths: &mut Vec<String>) {
        push_paths(paths, prefix, &self.unsupported);
        for (name, material) in [("ca", &self.ca), ("cert", &self.cert)] {
            if let Some(material) = material {
                push_paths(paths, &format!("{prefix}{name}."), &material.unsupported);
            }
        }
    }
}

/// The Secret-based authentication an endpoint or a Probe may use.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token from a Secret key (deprecated by the operator for `authorization`).
    #[serde(default)]
    pub bearer_token_secret: Option<KeySelector>,
    /// The `Authorization` header.
    #[serde(default)]
    pub authorization: Option<SafeAuthorization>,
}

impl Authentication {
    fn push_references(&self, references: &mut Vec<Reference>) {
        if let Some(basic) = &self.basic_auth {
            for selector in [&basic.username, &basic.password].into_iter().flatten() {
                selector.push_reference(ReferencedKind::Secret, references);
            }
        }
        if let Some(token) = &self.bearer_token_secret {
            token.push_reference(ReferencedKind::Secret, references);
        }
        if let Some(credentials) = self.authorization.as_ref().and_then(|auth| auth.credentials.as_ref()) {
            credentials.push_reference(ReferencedKind::Secret, references);
        }
    }

    fn unsupported_fields(&self, prefix: &str, paths: &mut Vec<String>) {
        if let Some(basic) = &self.basic_auth {
            push_paths(paths, &format!("{prefix}basicAuth."), &basic.unsupported);
        }
        if let Some(authorization) = &self.authorization {
            push_paths(paths, &format!("{prefix}authorization."), &authorization.unsupported);
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
    fn unsupported_fields(&self, prefix: &str, paths: &mut Vec<String>) {
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

/// The spec of a [`ServiceMonitor`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitorSpec {
    /// The Service label whose value becomes the `job` label.
    #[serde(default)]
    pub job_label: Option<String>,
    /// Service labels copied onto targets.
    #[serde(default)]
    pub target_labels: Vec<String>,
    /// Pod labels copied onto targets.
    #[serde(default)]
    pub pod_target_labels: Vec<String>,
    /// The endpoints to scrape.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    /// Which Services.
    #[serde(default)]
    pub selector: Option<Value>,
    /// Where the Services are.
    #[serde(default)]
    pub namespace_selector: Option<NamespaceSelector>,
    /// Extra metadata.
    #[serde(default)]
    pub attach_metadata: Option<AttachMetadata>,
    /// Limits.
    #[serde(flatten)]
    pub limits: Limits,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl ServiceMonitorSpec {
    /// Returns the JSON path (from `spec.`) of every field present but not modelled.
    pub fn unsupported_fields(&self) -> Vec<String> {
        monitor_unsupported_fields(
            &self.unsupported,
            self.namespace_selector.as_ref(),
            self.attach_metadata.as_ref(),
            ("endpoints", &self.endpoints),
        )
    }

    /// Returns the Secret and ConfigMap keys of every endpoint, in the monitor's namespace.
    pub fn references(&self) -> Vec<Reference> {
        self.endpoints.iter().flat_map(Endpoint::references).collect()
    }
}

/// The unsupported fields of a ServiceMonitor's or PodMonitor's spec: its own, its namespace
/// selector's, its metadata options' and each endpoint's (under `spec.<key>[i].`).
fn monitor_unsupported_fields(
    unsupported: &Unsupported,
    namespace_selector: Option<&NamespaceSelector>,
    attach_metadata: Option<&AttachMetadata>,
    (key, endpoints): (&str, &[Endpoint]),
) -> Vec<String> {
    let mut paths = Vec::new();
    push_paths(&mut paths, "spec.", unsupported);
    if let Some(namespaces) = namespace_selector {
        push_paths(&mut paths, "spec.namespaceSelector.", &namespaces.unsupported);
    }
    if let Some(attach) = attach_metadata {
        push_paths(&mut paths, "spec.attachMetadata.", &attach.unsupported);
    }
    for (index, endpoint) in endpoints.iter().enumerate() {
        endpoint.unsupported_fields(&format!("spec.{key}[{index}]."), &mut paths);
    }
    paths
}

/// The spec of a [`PodMonitor`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// The Pod label whose value becomes the `job` label.
    #[serde(default)]
    pub job_label: Option<String>,
    /// Pod labels copied onto targets.
    #[serde(default)]
    pub pod_target_labels: Vec<String>,
    /// The endpoints to scrape.
    #[serde(default)]
    pub pod_metrics_endpoints: Vec<Endpoint>,
    /// Which Pods.
    #[serde(default)]
    pub selector: Option<Value>,
    /// Where the Pods are.
    #[serde(default)]
    pub namespace_selector: Option<NamespaceSelector>,
    /// Extra metadata.
    #[serde(default)]
    pub attach_metadata: Option<AttachMetadata>,
    /// Limits.
    #[serde(flatten)]
    pub limits: Limits,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl PodMonitorSpec {
    /// Returns the JSON path (from `spec.`) of every field present but not modelled.
    pub fn unsupported_fields(&self) -> Vec<String> {
        monitor_unsupported_fields(
            &self.unsupported,
            self.namespace_selector.as_ref(),
            self.attach_metadata.as_ref(),
            ("podMetricsEndpoints", &self.pod_metrics_endpoints),
        )
    }

    /// Returns the Secret and ConfigMap keys of every endpoint, in the monitor's namespace.
    pub fn references(&self) -> Vec<Reference> {
        self.pod_metrics_endpoints.iter().flat_map(Endpoint::references).collect()
    }
}

/// `spec.prober`: the blackbox prober that probes the targets.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prober {
    /// The prober's `host:port`.
    #[serde(default)]
    pub url: String,
    /// `http` (default) or `https`.
    #[serde(default)]
    pub scheme: Option<String>,
    /// The probe path (default `/probe`).
    #[serde(default)]
    pub path: Option<String>,
    /// A proxy URL.
    #[serde(default)]
    pub proxy_url: Option<String>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `spec.targets.staticConfig`: fixed targets.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeStaticConfig {
    /// The targets (URLs or hosts handed to the prober).
    #[serde(default, rename = "static")]
    pub targets: Vec<String>,
    /// Labels attached to every target.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Relabelling of the targets, after the generated rules.
    #[serde(default)]
    pub relabeling_configs: Vec<RelabelConfig>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `spec.targets.ingress`: the Ingresses whose hosts and paths are probed.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeIngress {
    /// Which Ingresses, by their labels (raw; decoded where used).
    #[serde(default)]
    pub selector: Option<Value>,
    /// Where the Ingresses are.
    #[serde(default)]
    pub namespace_selector: Option<NamespaceSelector>,
    /// Relabelling of the targets, after the generated rules.
    #[serde(default)]
    pub relabeling_configs: Vec<RelabelConfig>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `spec.targets`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeTargets {
    /// Fixed targets.
    #[serde(default)]
    pub static_config: Option<ProbeStaticConfig>,
    /// Ingresses.
    #[serde(default)]
    pub ingress: Option<ProbeIngress>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// The spec of a [`Probe`].
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    /// The `job` label of the probes.
    #[serde(default)]
    pub job_name: Option<String>,
    /// The prober.
    #[serde(default)]
    pub prober: Option<Prober>,
    /// The prober module (the `module` URL parameter).
    #[serde(default)]
    pub module: Option<String>,
    /// What to probe.
    #[serde(default)]
    pub targets: Option<ProbeTargets>,
    /// The probe interval.
    #[serde(default)]
    pub interval: Option<String>,
    /// The probe timeout.
    #[serde(default)]
    pub scrape_timeout: Option<String>,
    /// Relabelling of the prober's series.
    #[serde(default)]
    pub metric_relabelings: Vec<RelabelConfig>,
    /// Limits.
    #[serde(flatten)]
    pub limits: Limits,
    /// Authentication with credentials from Secrets.
    #[serde(flatten)]
    pub authentication: Authentication,
    /// TLS settings of the connection to the prober.
    #[serde(default)]
    pub tls_config: Option<TlsConfig>,
    /// Fields not modelled, such as `oauth2`.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl ProbeSpec {
    /// Returns the Secret and ConfigMap keys the Probe reads, in its namespace.
    pub fn references(&self) -> Vec<Reference> {
        let mut references = Vec::new();
        self.authentication.push_references(&mut references);
        if let Some(tls) = &self.tls_config {
            tls.push_references(&mut references);
        }
        references
    }

    /// Returns the JSON path (from `spec.`) of every field present but not modelled.
    pub fn unsupported_fields(&self) -> Vec<String> {
        let mut paths = Vec::new();
        push_paths(&mut paths, "spec.", &self.unsupported);
        self.authentication.unsupported_fields("spec.", &mut paths);
        if let Some(tls) = &self.tls_config {
            tls.unsupported_fields("spec.tlsConfig.", &mut paths);
        }
        if let Some(prober) = &self.prober {
            push_paths(&mut paths, "spec.prober.", &prober.unsupported);
        }
        if let Some(targets) = &self.targets {
            push_paths(&mut paths, "spec.targets.", &targets.unsupported);
            if let Some(static_config) = &targets.static_config {
                push_paths(&mut paths, "spec.targets.staticConfig.", &static_config.unsupported);
                for (index, relabel) in static_config.relabeling_configs.iter().enumerate() {
                    push_paths(
                        &mut paths,
                        &format!("spec.targets.staticConfig.relabelingConfigs[{index}]."),
                        &relabel.unsupported,
                    );
                }
            }
            if let Some(ingress) = &targets.ingress {
                push_paths(&mut paths, "spec.targets.ingress.", &ingress.unsupported);
                if let Some(namespaces) = &ingress.namespace_selector {
                    push_paths(&mut paths, "spec.targets.ingress.namespaceSelector.", &namespaces.unsupported);
                }
                for (index, relabel) in ingress.relabeling_configs.iter().enumerate() {
                    push_paths(
                        &mut paths,
                        &format!("spec.targets.ingress.relabelingConfigs[{index}]."),
                        &relabel.unsupported,
                    );
                }
            }
        }
        for (index, relabel) in self.metric_relabelings.iter().enumerate() {
            push_paths(&mut paths, &format!("spec.metricRelabelings[{index}]."), &relabel.unsupported);
        }
        paths
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[track_caller]
    fn check(selector: Value, expected: bool) {
        let selector: LabelSelector = serde_json::from_value(selector).expect("selector");
        selector.validate().expect("valid selector");
        let object = labels(&[("app", "web"), ("release", "prod")]);
        assert_eq!(selector.matches(&object), expected, "{selector:?}");
    }

    #[test]
    fn label_selectors_follow_kubernetes_semantics() {
        check(json!({}), true);
        check(json!({"matchLabels": {"app": "web"}}), true);
        check(json!({"matchLabels": {"app": "web", "release": "dev"}}), false);
        check(json!({"matchExpressions": [{"key": "release", "operator": "In", "values": ["prod", "x"]}]}), true);
        check(json!({"matchExpressions": [{"key": "release", "operator": "NotIn", "values": ["prod"]}]}), false);
        check(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}), true);
        check(json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}), true);
        check(json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}), false);
        check(json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}), true);
    }

    #[test]
    fn invalid_selectors_name_the_requirement() {
        let invalid = |selector: Value| {
            serde_json::from_value::<LabelSelector>(selector).expect("decodes").validate().expect_err("invalid")
        };
        assert!(
            invalid(json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]})).contains("matchExpressions[0]")
        );
        assert!(invalid(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})).contains("non-empty"));
        assert!(
            invalid(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}))
                .contains("must be empty")
        );
        assert!(serde_json::from_value::<LabelSelector>(json!({"matchLabel": {}})).is_err());
    }

    #[test]
    fn unsupported_fields_are_listed_by_path() {
        let monitor: ServiceMonitor = serde_json::from_value(json!({
            "metadata": {"name": "m", "namespace": "ns"},
            "spec": {
                "selector": {},
                "scrapeClass": "x",
                "endpoints": [
                    {"port": "web"},
                    {"port": "metrics", "basicAuth": {"username": {"name": "s", "key": "u"}},
                     "oauth2": {"clientId": {"secret": {"name": "o", "key": "id"}}},
                     "tlsConfig": {"ca": {"secret": {"name": "s", "key": "ca"}, "extra": 2}, "serverName": "x"},
                     "relabelings": [{"action": "keep", "sourceLabels": ["a"], "regex": "b", "extra": 1}]}
                ]
            }
        }))
        .expect("decodes");
        let spec = monitor.spec().expect("spec");
        assert_eq!(
            spec.unsupported_fields(),
            [
                "spec.scrapeClass",
                "spec.endpoints[1].oauth2",
                "spec.endpoints[1].tlsConfig.ca.extra",
                "spec.endpoints[1].relabelings[0].extra",
            ]
        );
        assert_eq!(spec.endpoints[1].tls_config.as_ref().and_then(|tls| tls.server_name.as_deref()), Some("x"));
    }

    #[test]
    fn secret_and_config_map_keys_are_listed_as_references() {
        let secret = |name: &str, key: &str| Reference {
            kind: ReferencedKind::Secret,
            name: name.to_owned(),
            key: key.to_owned(),
        };
        let monitor: ServiceMonitor = serde_json::from_value(json!({
            "metadata": {"name": "m", "namespace": "ns"},
            "spec": {"endpoints": [
                // The CRD's default `bearerTokenSecret: {key: ""}` names nothing.
                {"port": "a", "bearerTokenSecret": {"key": ""}},
                {"port": "b", "basicAuth": {"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "pass"}},
                 "tlsConfig": {"ca": {"configMap": {"name": "bundle", "key": "ca.crt"}},
                               "cert": {"secret": {"name": "tls", "key": "tls.crt"}},
                               "keySecret": {"name": "tls", "key": "tls.key"}}},
                {"port": "c", "authorization": {"type": "Token", "credentials": {"name": "token", "key": "t"}}}
            ]}
        }))
        .expect("decodes");
        let spec = monitor.spec().expect("spec");
        assert!(spec.unsupported_fields().is_empty(), "{:?}", spec.unsupported_fields());
        assert_eq!(
            spec.references(),
            [
                secret("creds", "user"),
                secret("creds", "pass"),
                Reference { kind: ReferencedKind::ConfigMap, name: "bundle".to_owned(), key: "ca.crt".to_owned() },
                secret("tls", "tls.crt"),
                secret("tls", "tls.key"),
                secret("token", "t"),
            ]
        );
        let authorization = spec.endpoints[2].authentication.authorization.as_ref().expect("authorization");
        assert_eq!(authorization.scheme.as_deref(), Some("Token"));
    }

    #[test]
    fn a_malformed_spec_is_an_error_of_its_object_only() {
        let monitor: ServiceMonitor = serde_json::from_value(json!({
            "metadata": {"name": "m"},
            "spec": {"endpoints": "not a list"}
        }))
        .expect("the object itself decodes");
        assert!(monitor.spec().expect_err("bad spec").contains("invalid spec"));
    }
}
