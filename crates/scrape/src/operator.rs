//! prometheus-operator resources turned into what Prometheus runs, the way the operator's
//! config generator does it: each `ServiceMonitor` endpoint becomes a job
//! `serviceMonitor/<namespace>/<name>/<index>` on the `endpoints` role, each `PodMonitor`
//! endpoint a job `podMonitor/<namespace>/<name>/<index>` on the `pod` role, with the
//! operator's relabelling (selector keeps, port keep, the `namespace`, `service`, `pod`,
//! `container`, `job` and `endpoint` labels, then the user's `relabelings`), each `Probe` a job
//! `probe/<namespace>/<name>` through its prober (static targets, or the Ingresses its selector
//! picks on the `ingress` role). With `serviceDiscoveryRole: EndpointSlice` ServiceMonitors use
//! the `endpointslice` role and its labels. A `PrometheusRule`'s groups become a rule file.
//!
//! Credentials and TLS material from Secrets and ConfigMaps (`basicAuth`, `bearerTokenSecret`,
//! `authorization`, `tlsConfig.ca`/`cert`/`keySecret`) are read from the
//! [`ReferencedObjects`] the caller gathered (see `credentials.rs`); a missing one refuses
//! the endpoint, never scrapes it without its credentials. `oauth2` (client credentials) is
//! read likewise from the fields the kube crate leaves unmodelled.
//!
//! Nothing is silently dropped: every object yields a [`ResourceReport`] listing the fields
//! Panoptes does not honour and why an endpoint or object was refused.
//!
//! This module is pure: the binary watches the objects and applies the results.

use std::collections::BTreeMap;
use std::sync::Arc;

use panoptes_kube::k8s_openapi::api::core::v1::Namespace;
use panoptes_kube::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use panoptes_kube::monitoring::{
    AttachMetadata, Endpoint, IntOrString, LabelSelector, Limits, NamespaceSelector, PodMonitor, PrometheusRule,
    RelabelConfig as OperatorRelabel, ServiceMonitor,
};
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::{
    GlobalConfig, KubernetesRole, OperatorConfig, ScrapeConfig, ServiceDiscoveryRole, apply_scrape_defaults,
};
use crate::discovery::kubernetes::sanitize_label_name;

mod credentials;
mod probe;

#[cfg(test)]
mod tests;

pub use credentials::{ReferencedObjects, oauth2_references};
pub use probe::probe_jobs;

/// How far an object made it into the running configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResourceState {
    /// Everything in it is honoured.
    Active,
    /// In use, but some fields are ignored or some endpoints refused (see the report).
    Degraded,
    /// Nothing generated from it.
    Rejected,
}

impl ResourceState {
    /// Returns the state's name as in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Active => "active",
            ResourceState::Degraded => "degraded",
            ResourceState::Rejected => "rejected",
        }
    }
}

/// What became of one selected object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceReport {
    /// `ServiceMonitor`, `PodMonitor`, `Probe` or `PrometheusRule`.
    pub kind: &'static str,
    /// The object's namespace.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The object's resource version when generated.
    #[serde(rename = "resourceVersion")]
    pub resource_version: String,
    /// The outcome.
    pub state: ResourceState,
    /// Scrape jobs generated from it (or the rule file, for PrometheusRules).
    pub generated: Vec<String>,
    /// Paths of fields present but not honoured, e.g. `spec.endpoints[0].scrapeClass`.
    #[serde(rename = "unsupportedFields")]
    pub unsupported_fields: Vec<String>,
    /// Why parts (or all) of it were refused.
    pub errors: Vec<String>,
}

impl ResourceReport {
    fn new(kind: &'static str, metadata: &ObjectMeta) -> Self {
        ResourceReport {
            kind,
            namespace: metadata.namespace.clone().unwrap_or_default(),
            name: metadata.name.clone().unwrap_or_default(),
            resource_version: metadata.resource_version.clone().unwrap_or_default(),
            state: ResourceState::Active,
            generated: Vec::new(),
            unsupported_fields: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Sets the state from what was generated and reported.
    fn finish(mut self) -> Self {
        self.state = if self.generated.is_empty() && !self.errors.is_empty() {
            ResourceState::Rejected
        } else if !self.errors.is_empty() || !self.unsupported_fields.is_empty() {
            ResourceState::Degraded
        } else {
            ResourceState::Active
        };
        self
    }

    fn reject(mut self, error: String) -> Self {
        self.errors.push(error);
        self.generated.clear();
        self.finish()
    }
}

/// Returns true when an object in `namespace` with `labels` is selected: `selector` absent
/// selects nothing, empty selects everything; `namespace_selector` absent allows only
/// `own_namespace`, otherwise the namespace's labels must match it (empty: every namespace).
pub fn is_selected(
    labels: &BTreeMap<String, String>,
    namespace: &str,
    selector: Option<&LabelSelector>,
    namespace_selector: Option<&LabelSelector>,
    own_namespace: &str,
    namespaces: &[Arc<Namespace>],
) -> bool {
    let Some(selector) = selector else {
        return false;
    };
    if !selector.matches(labels) {
        return false;
    }
    match namespace_selector {
        None => namespace == own_namespace,
        Some(selector) if selector.is_empty() => true,
        Some(selector) => namespaces.iter().any(|candidate| {
            candidate.metadata.name.as_deref() == Some(namespace)
                && selector.matches(candidate.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()))
        }),
    }
}

/// What generation needs from the running configuration and the cluster.
#[derive(Debug, Clone, Copy)]
pub struct GenerateContext<'a> {
    /// The `prometheus_operator` section (its connection goes into every generated job).
    pub config: &'a OperatorConfig,
    /// The `global` section (defaults of every generated job).
    pub global: &'a GlobalConfig,
    /// The Secrets and ConfigMaps that credentials and TLS material are read from.
    pub objects: &'a ReferencedObjects,
}

/// Which monitor kind a job comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MonitorKind {
    Service,
    Pod,
}

impl MonitorKind {
    /// The `__meta_kubernetes_<role>_label_` role whose labels the monitor's selector reads.
    fn selector_role(self) -> &'static str {
        match self {
            MonitorKind::Service => "service",
            MonitorKind::Pod => "pod",
        }
    }

    fn job_prefix(self) -> &'static str {
        match self {
            MonitorKind::Service => "serviceMonitor",
            MonitorKind::Pod => "podMonitor",
        }
    }

    fn endpoints_field(self) -> &'static str {
        match self {
            MonitorKind::Service => "endpoints",
            MonitorKind::Pod => "podMetricsEndpoints",
        }
    }
}

/// The parts of a monitor's spec that every endpoint's job uses.
struct Monitor<'a> {
    kind: MonitorKind,
    namespace: &'a str,
    name: &'a str,
    job_label: Option<&'a str>,
    target_labels: &'a [String],
    pod_target_labels: &'a [String],
    selector: LabelSelector,
    namespaces: Vec<String>,
    attach_node: bool,
    limits: &'a Limits,
}

/// Returns the jobs of a `ServiceMonitor` and its report.
pub fn service_monitor_jobs(
    monitor: &ServiceMonitor,
    context: GenerateContext<'_>,
) -> (Vec<ScrapeConfig>, ResourceReport) {
    let (spec, report) =
        match decoded("ServiceMonitor", &monitor.metadata, monitor.spec(), |spec| spec.unsupported_fields()) {
            Ok(decoded) => decoded,
            Err(rejected) => return (Vec::new(), *rejected),
        };
    let fields = MonitorFields {
        job_label: spec.job_label.as_deref(),
        target_labels: &spec.target_labels,
        pod_target_labels: &spec.pod_target_labels,
        selector: spec.selector.as_ref(),
        namespace_selector: spec.namespace_selector.as_ref(),
        attach_metadata: spec.attach_metadata.as_ref(),
        limits: &spec.limits,
        endpoints: &spec.endpoints,
    };
    fields.jobs(MonitorKind::Service, context, report)
}

/// Starts the report of an object of `kind` and decodes its spec, listing the fields it does not
/// model; a spec that does not decode rejects the object.
fn decoded<S>(
    kind: &'static str,
    metadata: &ObjectMeta,
    spec: Result<S, String>,
    unsupported_fields: impl FnOnce(&S) -> Vec<String>,
) -> Result<(S, ResourceReport), Box<ResourceReport>> {
    let mut report = ResourceReport::new(kind, metadata);
    match spec {
        Ok(spec) => {
            report.unsupported_fields = unsupported_fields(&spec);
            report.unsupported_fields.retain(|field| !credentials::is_honoured_oauth2(field));
            Ok((spec, report))
        }
        Err(error) => Err(Box::new(report.reject(error))),
    }
}

/// What ServiceMonitors and PodMonitors share, borrowed from either spec.
struct MonitorFields<'a> {
    job_label: Option<&'a str>,
    target_labels: &'a [String],
    pod_target_labels: &'a [String],
    selector: Option<&'a Value>,
    namespace_selector: Option<&'a NamespaceSelector>,
    attach_metadata: Option<&'a AttachMetadata>,
    limits: &'a Limits,
    endpoints: &'a [Endpoint],
}

impl MonitorFields<'_> {
    /// Returns the monitor's jobs, one per endpoint, and its report.
    fn jobs(
        &self,
        kind: MonitorKind,
        context: GenerateContext<'_>,
        report: ResourceReport,
    ) -> (Vec<ScrapeConfig>, ResourceReport) {
        let namespace = report.namespace.clone();
        let name = report.name.clone();
        let selector = match parse_selector(self.selector, "spec.selector") {
            Ok(selector) => selector,
            Err(error) => return (Vec::new(), report.reject(error)),
        };
        let shape = Monitor {
            kind,
            namespace: &namespace,
            name: &name,
            job_label: self.job_label.filter(|label| !label.is_empty()),
            target_labels: self.target_labels,
            pod_target_labels: self.pod_target_labels,
            selector,
            namespaces: monitored_namespaces(self.namespace_selector, &namespace),
            attach_node: self.attach_metadata.and_then(|attach| attach.node).unwrap_or(false),
            limits: self.limits,
        };
        monitor_jobs(&shape, self.endpoints, context, report)
    }
}

/// Returns the jobs of a `PodMonitor` and its report.
pub fn pod_monitor_jobs(monitor: &PodMonitor, context: GenerateContext<'_>) -> (Vec<ScrapeConfig>, ResourceReport) {
    let (spec, report) =
        match decoded("PodMonitor", &monitor.metadata, monitor.spec(), |spec| spec.unsupported_fields()) {
            Ok(decoded) => decoded,
            Err(rejected) => return (Vec::new(), *rejected),
        };
    let fields = MonitorFields {
        job_label: spec.job_label.as_deref(),
        target_labels: &[],
        pod_target_labels: &spec.pod_target_labels,
        selector: spec.selector.as_ref(),
        namespace_selector: spec.namespace_selector.as_ref(),
        attach_metadata: spec.attach_metadata.as_ref(),
        limits: &spec.limits,
        endpoints: &spec.pod_metrics_endpoints,
    };
    fields.jobs(MonitorKind::Pod, context, report)
}

/// Returns the rule file text of a `PrometheusRule` (its `spec.groups` as a rule file) and
/// the paths of fields not honoured. `partial_response_strategy` (Thanos only) is dropped, as
/// the operator does for Prometheus, and listed.
///
/// # Errors
///
/// Returns why the spec has no usable `groups` list.
pub fn rule_file_text(rule: &PrometheusRule) -> Result<(String, Vec<String>), String> {
    let mut unsupported = Vec::new();
    let Some(spec) = rule.spec.as_object() else {
        return Err("invalid spec: not an object".to_owned());
    };
    unsupported.extend(spec.keys().filter(|key| *key != "groups").map(|key| format!("spec.{key}")));
    let groups = match spec.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(groups)) => groups.clone(),
        Some(_) => return Err("invalid spec.groups: not a list".to_owned()),
    };
    let mut out = Vec::with_capacity(groups.len());
    for (index, mut group) in groups.into_iter().enumerate() {
        if let Some(group) = group.as_object_mut() {
            if group.remove("partial_response_strategy").is_some() {
                unsupported.push(format!("spec.groups[{index}].partial_response_strategy"));
            }
            for rule in group.get_mut("rules").and_then(Value::as_array_mut).into_iter().flatten() {
                // `expr` is an IntOrString in the CRD: `expr: 1` is a valid rule.
                if let Some(expr) = rule.get_mut("expr").filter(|expr| expr.is_number()) {
                    *expr = Value::String(expr.to_string());
                }
            }
        }
        out.push(group);
    }
    let text = serde_json::to_string_pretty(&json!({ "groups": out }))
        .map_err(|error| format!("cannot encode the rule groups: {error}"))?;
    Ok((text, unsupported))
}

/// Builds one job per endpoint; refused endpoints are reported and skipped.
fn monitor_jobs(
    monitor: &Monitor<'_>,
    endpoints: &[Endpoint],
    context: GenerateContext<'_>,
    mut report: ResourceReport,
) -> (Vec<ScrapeConfig>, ResourceReport) {
    let mut jobs = Vec::new();
    for (index, endpoint) in endpoints.iter().enumerate() {
        let path = format!("spec.{}[{index}]", monitor.kind.endpoints_field());
        match endpoint_job(monitor, index, endpoint, context) {
            Ok(job) => {
                report.generated.push(job.job_name.clone());
                jobs.push(job);
            }
            Err(error) => report.errors.push(format!("{path}: {error}")),
        }
    }
    (jobs, report.finish())
}

/// Decodes and checks the label selector at `field` (e.g. `spec.selector`); absent means empty.
fn parse_selector(selector: Option<&Value>, field: &str) -> Result<LabelSelector, String> {
    let selector: LabelSelector = match selector {
        None | Some(Value::Null) => LabelSelector::default(),
        Some(value) => serde::Deserialize::deserialize(value).map_err(|error| format!("invalid {field}: {error}"))?,
    };
    selector.validate().map_err(|error| format!("invalid {field}: {error}"))?;
    Ok(selector)
}

/// The namespaces a monitor's targets are discovered in: none (all) for `any`, the listed
/// ones, or the monitor's own namespace.
fn monitored_namespaces(selector: Option<&NamespaceSelector>, own: &str) -> Vec<String> {
    match selector {
        Some(selector) if selector.any => Vec::new(),
        Some(selector) if !selector.match_names.is_empty() => {
            let mut names = selector.match_names.clone();
            names.sort();
            names.dedup();
            names
        }
        _ => vec![own.to_owned()],
    }
}

/// A relabel rule as the scrape config spells it.
fn relabel(
    source_labels: &[&str],
    regex: Option<&str>,
    target_label: Option<&str>,
    replacement: Option<&str>,
    action: Option<&str>,
) -> Value {
    let mut rule = serde_json::Map::new();
    if !source_labels.is_empty() {
        rule.insert("source_labels".to_owned(), json!(source_labels));
    }
    if let Some(regex) = regex {
        rule.insert("regex".to_owned(), json!(regex));
    }
    if let Some(target) = target_label {
        rule.insert("target_label".to_owned(), json!(target));
    }
    if let Some(replacement) = replacement {
        rule.insert("replacement".to_owned(), json!(replacement));
    }
    if let Some(action) = action {
        rule.insert("action".to_owned(), json!(action));
    }
    Value::Object(rule)
}

/// Converts a relabel rule from the operator's spelling, lowercasing the action as the
/// operator accepts `Replace` and `replace` alike.
fn user_relabel(rule: &OperatorRelabel) -> Value {
    let mut out = serde_json::Map::new();
    if let Some(source_labels) = &rule.source_labels {
        out.insert("source_labels".to_owned(), json!(source_labels));
    }
    if let Some(separator) = &rule.separator {
        out.insert("separator".to_owned(), json!(separator));
    }
    if let Some(target) = &rule.target_label {
        out.insert("target_label".to_owned(), json!(target));
    }
    if let Some(regex) = &rule.regex {
        out.insert("regex".to_owned(), json!(regex));
    }
    if let Some(modulus) = rule.modulus {
        out.insert("modulus".to_owned(), json!(modulus));
    }
    if let Some(replacement) = &rule.replacement {
        out.insert("replacement".to_owned(), json!(replacement));
    }
    if let Some(action) = &rule.action {
        out.insert("action".to_owned(), json!(action.to_lowercase()));
    }
    Value::Object(out)
}

/// The keep/drop rules that implement a label selector on discovered labels of `role`.
fn selector_relabels(selector: &LabelSelector, role: &str) -> Vec<Value> {
    let label = |key: &str| format!("__meta_kubernetes_{role}_label_{}", sanitize_label_name(key));
    let present = |key: &str| format!("__meta_kubernetes_{role}_labelpresent_{}", sanitize_label_name(key));
    let mut rules = Vec::new();
    for (key, value) in &selector.match_labels {
        rules.push(relabel(&[&label(key), &present(key)], Some(&format!("({value});true")), None, None, Some("keep")));
    }
    for requirement in &selector.match_expressions {
        let key = requirement.key.as_str();
        let values = requirement.values.join("|");
        let rule = match requirement.operator.as_str() {
            "In" => relabel(&[&label(key), &present(key)], Some(&format!("({values});true")), None, None, Some("keep")),
            "NotIn" => {
                relabel(&[&label(key), &present(key)], Some(&format!("({values});true")), None, None, Some("drop"))
            }
            "Exists" => relabel(&[&present(key)], Some("true"), None, None, Some("keep")),
            // `validate` allowed only the four operators.
            _ => relabel(&[&present(key)], Some("true"), None, None, Some("drop")),
        };
        rules.push(rule);
    }
    rules
}

/// Builds the job of one endpoint.
fn endpoint_job(
    monitor: &Monitor<'_>,
    index: usize,
    endpoint: &Endpoint,
    context: GenerateContext<'_>,
) -> Result<ScrapeConfig, String> {
    if let Some(field) = endpoint.tls_config.as_ref().and_then(|tls| tls.unsupported.keys().next()) {
        return Err(format!("tlsConfig.{field} is not supported; endpoint not scraped without it"));
    }
    let kind = monitor.kind;
    let role = kind.selector_role();
    let slices = kind == MonitorKind::Service
        && context.config.service_discovery_role == Some(ServiceDiscoveryRole::EndpointSlice);
    let endpoint_meta = if slices { "endpointslice" } else { "endpoint" };
    let mut relabels = vec![relabel(&["job"], None, Some("__tmp_prometheus_job_name"), None, None)];
    relabels.extend(selector_relabels(&monitor.selector, role));
    let endpoint_label: Option<String> = match (kind, endpoint) {
        (_, Endpoint { port: Some(port), .. }) if !port.is_empty() => {
            let source = match kind {
                MonitorKind::Service => format!("__meta_kubernetes_{endpoint_meta}_port_name"),
                MonitorKind::Pod => "__meta_kubernetes_pod_container_port_name".to_owned(),
            };
            relabels.push(relabel(&[source.as_str()], Some(port), None, None, Some("keep")));
            Some(port.clone())
        }
        (MonitorKind::Pod, Endpoint { port_number: Some(number), .. }) => {
            relabels.push(relabel(
                &["__meta_kubernetes_pod_container_port_number"],
                Some(&number.to_string()),
                None,
                None,
                Some("keep"),
            ));
            Some(number.to_string())
        }
        (_, Endpoint { target_port: Some(target), .. }) => {
            match target {
                IntOrString::String(name) if !name.is_empty() => relabels.push(relabel(
                    &["__meta_kubernetes_pod_container_port_name"],
                    Some(name),
                    None,
                    None,
                    Some("keep"),
                )),
                IntOrString::Int(number) if *number != 0 => relabels.push(relabel(
                    &["__meta_kubernetes_pod_container_port_number"],
                    Some(&number.to_string()),
                    None,
                    None,
                    Some("keep"),
                )),
                _ => {}
            }
            Some(target.to_string()).filter(|text| !text.is_empty() && text != "0")
        }
        _ => None,
    };
    if kind == MonitorKind::Service {
        let target_kind = format!("__meta_kubernetes_{endpoint_meta}_address_target_kind");
        let target_name = format!("__meta_kubernetes_{endpoint_meta}_address_target_name");
        let target = [target_kind.as_str(), target_name.as_str()];
        for (regex, label) in [("Node;(.*)", "node"), ("Pod;(.*)", "pod")] {
            let mut rule = relabel(&target, Some(regex), Some(label), Some("${1}"), None);
            rule["separator"] = json!(";");
            relabels.push(rule);
        }
        relabels.push(relabel(&["__meta_kubernetes_namespace"], None, Some("namespace"), None, None));
        relabels.push(relabel(&["__meta_kubernetes_service_name"], None, Some("service"), None, None));
        relabels.push(relabel(&["__meta_kubernetes_pod_name"], None, Some("pod"), None, None));
        relabels.push(relabel(&["__meta_kubernetes_pod_container_name"], None, Some("container"), None, None));
    } else {
        relabels.push(relabel(&["__meta_kubernetes_namespace"], None, Some("namespace"), None, None));
        relabels.push(relabel(&["__meta_kubernetes_pod_container_name"], None, Some("container"), None, None));
        relabels.push(relabel(&["__meta_kubernetes_pod_name"], None, Some("pod"), None, None));
    }
    if endpoint.filter_running.unwrap_or(true) {
        relabels.push(relabel(&["__meta_kubernetes_pod_phase"], Some("(Failed|Succeeded)"), None, None, Some("drop")));
    }
    for (prefix, labels) in [
        ("__meta_kubernetes_service_label_", monitor.target_labels),
        ("__meta_kubernetes_pod_label_", monitor.pod_target_labels),
    ] {
        for label in labels {
            let name = sanitize_label_name(label);
            relabels.push(relabel(&[&format!("{prefix}{name}")], Some("(.+)"), Some(&name), Some("${1}"), None));
        }
    }
    match kind {
        MonitorKind::Service => {
            relabels.push(relabel(&["__meta_kubernetes_service_name"], None, Some("job"), Some("${1}"), None));
        }
        MonitorKind::Pod => {
            let job = format!("{}/{}", monitor.namespace, monitor.name);
            relabels.push(relabel(&[], None, Some("job"), Some(&job), None));
        }
    }
    if let Some(job_label) = monitor.job_label {
        let source = format!("__meta_kubernetes_{role}_label_{}", sanitize_label_name(job_label));
        relabels.push(relabel(&[&source], Some("(.+)"), Some("job"), Some("${1}"), None));
    }
    if let Some(label) = &endpoint_label {
        relabels.push(relabel(&[], None, Some("endpoint"), Some(label), None));
    }
    relabels.extend(endpoint.relabelings.iter().map(user_relabel));

    let job_name = format!("{}/{}/{}/{index}", kind.job_prefix(), monitor.namespace, monitor.name);
    let mut job = json!({
        "job_name": job_name,
        "honor_labels": endpoint.honor_labels.unwrap_or(false),
        "relabel_configs": relabels,
    });
    let fields: [(&str, Option<Value>); 12] = [
        ("honor_timestamps", endpoint.honor_timestamps.map(Value::from)),
        ("track_timestamps_staleness", endpoint.track_timestamps_staleness.map(Value::from)),
        ("scrape_interval", endpoint.interval.clone().filter(|text| !text.is_empty()).map(Value::from)),
        ("scrape_timeout", endpoint.scrape_timeout.clone().filter(|text| !text.is_empty()).map(Value::from)),
        ("metrics_path", endpoint.path.clone().filter(|text| !text.is_empty()).map(Value::from)),
        (
            "scheme",
            endpoint.scheme.clone().filter(|text| !text.is_empty()).map(|scheme| Value::from(scheme.to_lowercase())),
        ),
        ("params", endpoint.params.as_ref().map(|params| json!(params))),
        ("proxy_url", endpoint.proxy_url.clone().filter(|text| !text.is_empty()).map(Value::from)),
        ("follow_redirects", endpoint.follow_redirects.map(Value::from)),
        ("enable_http2", endpoint.enable_http2.map(Value::from)),
        ("bearer_token_file", endpoint.bearer_token_file.clone().filter(|text| !text.is_empty()).map(Value::from)),
        (
            "metric_relabel_configs",
            (!endpoint.metric_relabelings.is_empty())
                .then(|| Value::Array(endpoint.metric_relabelings.iter().map(user_relabel).collect())),
        ),
    ];
    for (key, value) in fields
        .into_iter()
        .chain(limit_fields(monitor.limits).into_iter().map(|(key, value)| (key, value.map(Value::from))))
    {
        if let Some(value) = value {
            job[key] = value;
        }
    }
    let mut config: ScrapeConfig =
        serde_json::from_value(job).map_err(|error| format!("cannot build a scrape config: {error}"))?;
    // Credentials are set on the typed config, never in the JSON above: they must not reach
    // a decoder's error message.
    let namespace = monitor.namespace;
    credentials::apply_authentication(&mut config, namespace, &endpoint.authentication, context.objects, "")?;
    credentials::apply_oauth2(&mut config, namespace, &endpoint.unsupported, context.objects, "")?;
    if let Some(tls) = &endpoint.tls_config {
        credentials::apply_tls(&mut config, namespace, tls, context.objects, "")?;
    }
    let role = match kind {
        MonitorKind::Service if slices => KubernetesRole::EndpointSlice,
        MonitorKind::Service => KubernetesRole::Endpoints,
        MonitorKind::Pod => KubernetesRole::Pod,
    };
    config.kubernetes_sd_configs =
        vec![context.config.discovery(role, monitor.namespaces.clone(), monitor.attach_node)];
    apply_scrape_defaults(&mut config, context.global)?;
    Ok(config)
}

/// Returns the scrape-config keys of a monitor's or probe's limits with their values.
fn limit_fields(limits: &Limits) -> [(&'static str, Option<u64>); 6] {
    [
        ("sample_limit", limits.sample_limit),
        ("target_limit", limits.target_limit),
        ("label_limit", limits.label_limit),
        ("label_name_length_limit", limits.label_name_length_limit),
        ("label_value_length_limit", limits.label_value_length_limit),
        ("keep_dropped_targets", limits.keep_dropped_targets),
    ]
}
