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

mod auth;
mod endpoint;
mod monitor;
mod probe;
mod selector;

pub use auth::{
    Authentication, BasicAuth, KeySelector, Reference, ReferencedKind, SafeAuthorization, SecretOrConfigMap, TlsConfig,
};
pub use endpoint::{AttachMetadata, Endpoint, IntOrString, Limits, RelabelConfig};
pub use monitor::{PodMonitorSpec, ServiceMonitorSpec};
pub use probe::{ProbeIngress, ProbeSpec, ProbeStaticConfig, ProbeTargets, Prober};
pub use selector::{LabelSelector, LabelSelectorRequirement, NamespaceSelector};

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

/// Fields present in an object that the typed spec does not model, by name.
pub type Unsupported = BTreeMap<String, Value>;

/// Pushes `<prefix><name>` for every key of `unsupported`.
fn push_paths(paths: &mut Vec<String>, prefix: &str, unsupported: &Unsupported) {
    paths.extend(unsupported.keys().map(|name| format!("{prefix}{name}")));
}

#[cfg(test)]
mod tests;
