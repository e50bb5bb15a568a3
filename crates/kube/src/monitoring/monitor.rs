//! The typed specs of `ServiceMonitor` and `PodMonitor`, with the fields they do not model and
//! the Secret and ConfigMap keys they reference.

use serde::Deserialize;
use serde_json::Value;

use super::{AttachMetadata, Endpoint, Limits, NamespaceSelector, Reference, Unsupported, push_paths};

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
