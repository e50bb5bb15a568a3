//! The `service` role: one target per service port, at the service's cluster DNS name
//! (Prometheus `discovery/kubernetes/service.go`).

use panoptes_kube::k8s_openapi::api::core::v1::Service;

use super::{
    LabelSet, Lookup, META, NAMESPACE_LABEL, add_namespace_labels, add_object_meta_labels, group, join_host_port,
};
use crate::discovery::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// Returns the labels of a service that the `service`, `endpoints` and `endpointslice` roles
/// share (Prometheus `serviceLabels`): namespace, name, labels and annotations.
pub(super) fn service_labels(service: &Service) -> LabelSet {
    let mut labels = LabelSet::new();
    labels.insert(NAMESPACE_LABEL.to_owned(), service.metadata.namespace.clone().unwrap_or_default());
    add_object_meta_labels(&mut labels, &service.metadata, "service");
    labels
}

/// Returns the group of one service (source `svc/<namespace>/<name>`).
pub(super) fn build(service: &Service, lookup: &dyn Lookup) -> Option<TargetGroup> {
    let namespace = service.metadata.namespace.clone().unwrap_or_default();
    let name = service.metadata.name.clone().unwrap_or_default();
    let mut labels = service_labels(service);
    add_namespace_labels(&mut labels, lookup, &namespace);
    let spec = service.spec.as_ref()?;
    let service_type = spec.type_.clone().unwrap_or_default();
    let mut targets = Vec::new();
    for port in spec.ports.iter().flatten() {
        let mut target = LabelSet::new();
        target.insert(ADDRESS_LABEL.to_owned(), join_host_port(&format!("{name}.{namespace}.svc"), port.port));
        target.insert(format!("{META}service_port_name"), port.name.clone().unwrap_or_default());
        target.insert(format!("{META}service_port_number"), port.port.to_string());
        target.insert(format!("{META}service_port_protocol"), port.protocol.clone().unwrap_or_default());
        target.insert(format!("{META}service_type"), service_type.clone());
        if service_type == "ExternalName" {
            target.insert(format!("{META}service_external_name"), spec.external_name.clone().unwrap_or_default());
        } else {
            target.insert(format!("{META}service_cluster_ip"), spec.cluster_ip.clone().unwrap_or_default());
        }
        if service_type == "LoadBalancer" {
            target.insert(format!("{META}service_loadbalancer_ip"), spec.load_balancer_ip.clone().unwrap_or_default());
        }
        targets.push(target);
    }
    group(format!("svc/{namespace}/{name}"), labels, targets)
}
