//! The `prometheus_operator` section: which prometheus-operator resources (ServiceMonitors,
//! PodMonitors, Probes, PrometheusRules) Panoptes reads from a cluster, with the selector
//! fields of the operator's `Prometheus` resource spelled as there (camelCase), and the
//! cluster connection spelled as in `kubernetes_sd_configs`.
//!
//! Selector semantics are the operator's: an absent (or `null`) resource selector selects
//! nothing, an empty one (`{}`) everything; an absent namespace selector means the namespace
//! Panoptes runs in (the connection's default namespace), an empty one every namespace.
//!
//! `serviceDiscoveryRole` is the operator's option of the same name: ServiceMonitors are
//! discovered through `Endpoints` (the default) or `EndpointSlice` objects.

use panoptes_kube::monitoring::LabelSelector;
use serde::Deserialize;

use super::discovery::{KubernetesAttachMetadata, KubernetesNamespaces, KubernetesRole, KubernetesSdConfig, Validate};
use super::http::with_http_client_fields;

with_http_client_fields! {
    enable_http2_default = "crate::config::http::default_true";
    /// The `prometheus_operator` section.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct OperatorConfig {
        /// The API server URL; in-cluster configuration when absent.
        #[serde(default)]
        pub api_server: Option<String>,
        /// A kubeconfig file, exclusive with `api_server`.
        #[serde(default)]
        pub kubeconfig_file: Option<String>,
        /// Selects ServiceMonitors by their labels.
        #[serde(default, rename = "serviceMonitorSelector")]
        pub service_monitor_selector: Option<LabelSelector>,
        /// Selects the namespaces ServiceMonitors are read from, by namespace labels.
        #[serde(default, rename = "serviceMonitorNamespaceSelector")]
        pub service_monitor_namespace_selector: Option<LabelSelector>,
        /// Selects PodMonitors.
        #[serde(default, rename = "podMonitorSelector")]
        pub pod_monitor_selector: Option<LabelSelector>,
        /// Selects the namespaces PodMonitors are read from.
        #[serde(default, rename = "podMonitorNamespaceSelector")]
        pub pod_monitor_namespace_selector: Option<LabelSelector>,
        /// Selects Probes.
        #[serde(default, rename = "probeSelector")]
        pub probe_selector: Option<LabelSelector>,
        /// Selects the namespaces Probes are read from.
        #[serde(default, rename = "probeNamespaceSelector")]
        pub probe_namespace_selector: Option<LabelSelector>,
        /// Selects PrometheusRules.
        #[serde(default, rename = "ruleSelector")]
        pub rule_selector: Option<LabelSelector>,
        /// Selects the namespaces PrometheusRules are read from.
        #[serde(default, rename = "ruleNamespaceSelector")]
        pub rule_namespace_selector: Option<LabelSelector>,
        /// How ServiceMonitor targets are discovered; `Endpoints` when absent.
        #[serde(default, rename = "serviceDiscoveryRole")]
        pub service_discovery_role: Option<ServiceDiscoveryRole>,
    }
}

/// The Kubernetes objects ServiceMonitor targets come from, spelled as the operator's
/// `serviceDiscoveryRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ServiceDiscoveryRole {
    /// `Endpoints` objects (the `endpoints` role).
    Endpoints,
    /// `EndpointSlice` objects (the `endpointslice` role).
    EndpointSlice,
}

impl OperatorConfig {
    /// Returns the Kubernetes discovery that generated jobs use: this section's connection,
    /// `role`, and `namespaces` (all when empty).
    pub fn discovery(&self, role: KubernetesRole, namespaces: Vec<String>, attach_node: bool) -> KubernetesSdConfig {
        KubernetesSdConfig {
            role: Some(role),
            api_server: self.api_server.clone(),
            kubeconfig_file: self.kubeconfig_file.clone(),
            namespaces: KubernetesNamespaces { own_namespace: false, names: namespaces },
            selectors: Vec::new(),
            attach_metadata: KubernetesAttachMetadata { node: attach_node, namespace: false },
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            oauth2: self.oauth2.clone(),
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            no_proxy: self.no_proxy.clone(),
            proxy_from_environment: self.proxy_from_environment,
            proxy_connect_header: self.proxy_connect_header.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            http_headers: self.http_headers.clone(),
        }
    }

    /// Returns the selectors by their field names, for validation and reports.
    fn selectors(&self) -> [(&'static str, Option<&LabelSelector>); 8] {
        [
            ("serviceMonitorSelector", self.service_monitor_selector.as_ref()),
            ("serviceMonitorNamespaceSelector", self.service_monitor_namespace_selector.as_ref()),
            ("podMonitorSelector", self.pod_monitor_selector.as_ref()),
            ("podMonitorNamespaceSelector", self.pod_monitor_namespace_selector.as_ref()),
            ("probeSelector", self.probe_selector.as_ref()),
            ("probeNamespaceSelector", self.probe_namespace_selector.as_ref()),
            ("ruleSelector", self.rule_selector.as_ref()),
            ("ruleNamespaceSelector", self.rule_namespace_selector.as_ref()),
        ]
    }

    /// Resolves relative file paths against `dir`.
    pub(crate) fn resolve_paths(&mut self, dir: &std::path::Path) {
        self.resolve_http_paths(dir);
        super::http::join_dir_option(dir, &mut self.kubeconfig_file);
    }
}

impl Validate for OperatorConfig {
    fn validate(&self) -> Result<(), String> {
        self.discovery(KubernetesRole::Endpoints, Vec::new(), false)
            .validate()
            .map_err(|message| format!("prometheus_operator: {message}"))?;
        for (field, selector) in self.selectors() {
            if let Some(selector) = selector {
                selector.validate().map_err(|message| format!("prometheus_operator.{field}: {message}"))?;
            }
        }
        Ok(())
    }
}
