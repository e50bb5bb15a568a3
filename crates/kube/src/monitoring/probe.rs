//! The typed spec of a `Probe`: its prober, static or Ingress targets, and the fields it does
//! not model.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::{Authentication, Limits, NamespaceSelector, Reference, RelabelConfig, TlsConfig, Unsupported, push_paths};

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
