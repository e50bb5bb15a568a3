//! The `endpointslice` role: one target per address and port of each EndpointSlice, with the
//! labels of its Service (named by the `kubernetes.io/service-name` label) and of the Pod
//! behind each endpoint; then one target for every container port of those Pods that no
//! slice port covered (Prometheus `discovery/kubernetes/endpointslice.go`).

use panoptes_kube::k8s_openapi::api::discovery::v1::EndpointSlice;

use super::endpoints::{SeenPods, add_container_port_labels};
use super::pod::pod_labels;
use super::service::service_labels;
use super::{
    LabelSet, Lookup, META, NAMESPACE_LABEL, PRESENT, add_namespace_labels, add_node_labels, add_object_meta_labels,
    group, join_host_port, sanitize_label_name,
};
use crate::discovery::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// The label naming an EndpointSlice's Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Returns the group of one EndpointSlice (source `endpointslice/<namespace>/<name>`).
pub(super) fn build(slice: &EndpointSlice, lookup: &dyn Lookup) -> Option<TargetGroup> {
    let namespace = slice.metadata.namespace.clone().unwrap_or_default();
    let name = slice.metadata.name.clone().unwrap_or_default();
    let mut labels = LabelSet::new();
    labels.insert(NAMESPACE_LABEL.to_owned(), namespace.clone());
    labels.insert(format!("{META}endpointslice_address_type"), slice.address_type.clone());
    add_object_meta_labels(&mut labels, &slice.metadata, "endpointslice");
    let service_name = slice.metadata.labels.as_ref().and_then(|labels| labels.get(SERVICE_NAME_LABEL));
    if let Some(service) = service_name.and_then(|service_name| lookup.service(&namespace, service_name)) {
        labels.extend(service_labels(&service));
    }
    add_namespace_labels(&mut labels, lookup, &namespace);
    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    let ports = slice.ports.as_deref().unwrap_or_default();
    for endpoint in &slice.endpoints {
        for port in ports {
            for address in &endpoint.addresses {
                let mut target = LabelSet::new();
                let joined = match port.port {
                    Some(number) => join_host_port(address, number),
                    None => address.clone(),
                };
                target.insert(ADDRESS_LABEL.to_owned(), joined);
                if let Some(port_name) = &port.name {
                    target.insert(format!("{META}endpointslice_port_name"), port_name.clone());
                }
                if let Some(protocol) = &port.protocol {
                    target.insert(format!("{META}endpointslice_port_protocol"), protocol.clone());
                }
                if let Some(number) = port.port {
                    target.insert(format!("{META}endpointslice_port"), number.to_string());
                }
                if let Some(app_protocol) = &port.app_protocol {
                    target.insert(format!("{META}endpointslice_port_app_protocol"), app_protocol.clone());
                }
                if let Some(conditions) = &endpoint.conditions {
                    for (condition, value) in [
                        ("ready", conditions.ready),
                        ("serving", conditions.serving),
                        ("terminating", conditions.terminating),
                    ] {
                        if let Some(value) = value {
                            target.insert(
                                format!("{META}endpointslice_endpoint_conditions_{condition}"),
                                value.to_string(),
                            );
                        }
                    }
                }
                if let Some(hostname) = &endpoint.hostname {
                    target.insert(format!("{META}endpointslice_endpoint_hostname"), hostname.clone());
                }
                if let Some(reference) = &endpoint.target_ref {
                    target.insert(
                        format!("{META}endpointslice_address_target_kind"),
                        reference.kind.clone().unwrap_or_default(),
                    );
                    target.insert(
                        format!("{META}endpointslice_address_target_name"),
                        reference.name.clone().unwrap_or_default(),
                    );
                }
                if let Some(node_name) = &endpoint.node_name {
                    target.insert(format!("{META}endpointslice_endpoint_node_name"), node_name.clone());
                }
                if let Some(zone) = &endpoint.zone {
                    target.insert(format!("{META}endpointslice_endpoint_zone"), zone.clone());
                }
                for (key, value) in endpoint.deprecated_topology.iter().flatten() {
                    let key = sanitize_label_name(key);
                    target.insert(format!("{META}endpointslice_endpoint_topology_{key}"), value.clone());
                    target.insert(format!("{META}endpointslice_endpoint_topology_present_{key}"), PRESENT.to_owned());
                }
                if lookup.has_node_metadata() {
                    let node = match &endpoint.target_ref {
                        Some(reference) if reference.kind.as_deref() == Some("Node") => reference.name.as_deref(),
                        _ => endpoint.node_name.as_deref(),
                    };
                    add_node_labels(&mut target, lookup, node);
                }
                let pod =
                    endpoint.target_ref.as_ref().filter(|reference| reference.kind.as_deref() == Some("Pod")).and_then(
                        |reference| {
                            lookup.pod(reference.namespace.as_deref().unwrap_or_default(), reference.name.as_deref()?)
                        },
                    );
                if let Some(pod) = pod {
                    seen.record(&pod, port.port);
                    target.extend(pod_labels(&pod));
                    if let Some(number) = port.port {
                        add_container_port_labels(&mut target, &pod, number, None);
                    }
                }
                targets.push(target);
            }
        }
    }
    targets.extend(seen.uncovered_port_targets());
    group(format!("endpointslice/{namespace}/{name}"), labels, targets)
}
