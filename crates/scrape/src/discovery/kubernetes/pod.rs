//! The `pod` role: one target per declared container port, and one port-less target per
//! container without ports, init containers included (Prometheus `discovery/kubernetes/pod.go`).

use panoptes_kube::k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::{
    LabelSet, Lookup, META, NAMESPACE_LABEL, add_namespace_labels, add_node_labels, add_object_meta_labels, group,
    join_host_port,
};
use crate::discovery::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// Returns `true`, `false` or `unknown`: the pod's `Ready` condition, lowercased.
fn ready(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|condition| condition.type_ == "Ready"))
        .map_or_else(|| "unknown".to_owned(), |condition| condition.status.to_lowercase())
}

/// Returns the labels every target of a pod shares, in every role that shows pods
/// (Prometheus `podLabels`): IP, readiness, phase, node, host IP, uid, controller, name,
/// labels and annotations.
pub(super) fn pod_labels(pod: &Pod) -> LabelSet {
    let status = pod.status.as_ref();
    let mut labels = LabelSet::new();
    labels.insert(format!("{META}pod_ip"), status.and_then(|status| status.pod_ip.clone()).unwrap_or_default());
    labels.insert(format!("{META}pod_ready"), ready(pod));
    labels.insert(format!("{META}pod_phase"), status.and_then(|status| status.phase.clone()).unwrap_or_default());
    labels.insert(
        format!("{META}pod_node_name"),
        pod.spec.as_ref().and_then(|spec| spec.node_name.clone()).unwrap_or_default(),
    );
    labels.insert(format!("{META}pod_host_ip"), status.and_then(|status| status.host_ip.clone()).unwrap_or_default());
    labels.insert(format!("{META}pod_uid"), pod.metadata.uid.clone().unwrap_or_default());
    add_object_meta_labels(&mut labels, &pod.metadata, "pod");
    let controller =
        pod.metadata.owner_references.iter().flatten().find(|reference| reference.controller == Some(true));
    if let Some(controller) = controller {
        if !controller.kind.is_empty() {
            labels.insert(format!("{META}pod_controller_kind"), controller.kind.clone());
        }
        if !controller.name.is_empty() {
            labels.insert(format!("{META}pod_controller_name"), controller.name.clone());
        }
    }
    labels
}

fn container_id(statuses: Option<&Vec<ContainerStatus>>, name: &str) -> String {
    statuses
        .into_iter()
        .flatten()
        .find(|status| status.name == name)
        .and_then(|status| status.container_id.clone())
        .unwrap_or_default()
}

/// Returns the group of one pod (source `pod/<namespace>/<name>`), or `None` while it has no IP.
pub(super) fn build(pod: &Pod, lookup: &dyn Lookup) -> Option<TargetGroup> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let source = format!("pod/{namespace}/{name}");
    // The IP is empty while a pod starts and after it was evicted.
    let ip = pod.status.as_ref().and_then(|status| status.pod_ip.clone()).filter(|ip| !ip.is_empty())?;
    let spec = pod.spec.as_ref()?;
    let mut labels = pod_labels(pod);
    labels.insert(NAMESPACE_LABEL.to_owned(), namespace.clone());
    if lookup.has_node_metadata() {
        add_node_labels(&mut labels, lookup, spec.node_name.as_deref());
    }
    add_namespace_labels(&mut labels, lookup, &namespace);
    let status = pod.status.as_ref();
    let containers = spec.containers.iter().map(|container| (container, false));
    let init_containers = spec.init_containers.iter().flatten().map(|container| (container, true));
    let mut targets = Vec::new();
    for (container, is_init) in containers.chain(init_containers) {
        let statuses = status.and_then(|status| {
            if is_init { status.init_container_statuses.as_ref() } else { status.container_statuses.as_ref() }
        });
        let mut common = LabelSet::new();
        common.insert(format!("{META}pod_container_name"), container.name.clone());
        common.insert(format!("{META}pod_container_id"), container_id(statuses, &container.name));
        common.insert(format!("{META}pod_container_image"), container.image.clone().unwrap_or_default());
        common.insert(format!("{META}pod_container_init"), is_init.to_string());
        let ports = container.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            // No port: the address is the bare pod IP and relabelling must add one.
            let mut target = common;
            target.insert(ADDRESS_LABEL.to_owned(), ip.clone());
            targets.push(target);
            continue;
        }
        for port in ports {
            let mut target = common.clone();
            target.insert(ADDRESS_LABEL.to_owned(), join_host_port(&ip, port.container_port));
            target.insert(format!("{META}pod_container_port_number"), port.container_port.to_string());
            target.insert(format!("{META}pod_container_port_name"), port.name.clone().unwrap_or_default());
            target.insert(format!("{META}pod_container_port_protocol"), port.protocol.clone().unwrap_or_default());
            targets.push(target);
        }
    }
    group(source, labels, targets)
}
