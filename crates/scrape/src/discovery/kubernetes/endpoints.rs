//! The `endpoints` role: one target per address and port of each Endpoints object, with the
//! labels of its Service and of the Pod behind each address; then one target for every
//! container port of those Pods that no endpoint port covered (Prometheus
//! `discovery/kubernetes/endpoints.go`).

use std::sync::Arc;

use panoptes_kube::k8s_openapi::api::core::v1::{Endpoints, Pod};

use super::pod::pod_labels;
use super::service::service_labels;
use super::{
    LabelSet, Lookup, META, NAMESPACE_LABEL, add_namespace_labels, add_node_labels, add_object_meta_labels, group,
    join_host_port,
};
use crate::discovery::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// Pods seen behind endpoint addresses, in first-seen order, with the endpoint ports that
/// already produced a target for them.
#[derive(Default)]
pub(super) struct SeenPods {
    pods: Vec<(Arc<Pod>, Vec<i32>)>,
}

impl SeenPods {
    /// Records that `pod` got a target for `port` (when the port is known).
    pub(super) fn record(&mut self, pod: &Arc<Pod>, port: Option<i32>) {
        let key = |pod: &Pod| (pod.metadata.namespace.clone(), pod.metadata.name.clone());
        let index = match self.pods.iter().position(|(seen, _)| key(seen) == key(pod)) {
            Some(index) => index,
            None => {
                self.pods.push((pod.clone(), Vec::new()));
                self.pods.len() - 1
            }
        };
        self.pods[index].1.extend(port);
    }

    /// Returns a target for every container port of the seen pods that no endpoint covered.
    pub(super) fn uncovered_port_targets(&self) -> Vec<LabelSet> {
        let mut targets = Vec::new();
        for (pod, ports) in &self.pods {
            // The IP is empty while a pod starts and after it was evicted.
            let Some(ip) = pod.status.as_ref().and_then(|status| status.pod_ip.clone()).filter(|ip| !ip.is_empty())
            else {
                continue;
            };
            for container in pod.spec.iter().flat_map(|spec| &spec.containers) {
                for port in container.ports.iter().flatten() {
                    if ports.contains(&port.container_port) {
                        continue;
                    }
                    let mut target = pod_labels(pod);
                    target.insert(ADDRESS_LABEL.to_owned(), join_host_port(&ip, port.container_port));
                    target.insert(format!("{META}pod_container_name"), container.name.clone());
                    target.insert(format!("{META}pod_container_image"), container.image.clone().unwrap_or_default());
                    target.insert(format!("{META}pod_container_port_name"), port.name.clone().unwrap_or_default());
                    target.insert(format!("{META}pod_container_port_number"), port.container_port.to_string());
                    target.insert(
                        format!("{META}pod_container_port_protocol"),
                        port.protocol.clone().unwrap_or_default(),
                    );
                    targets.push(target);
                }
            }
        }
        targets
    }
}

/// Adds the container labels of the pod's container port equal to `port`, if any;
/// `protocol` is what the role reports for it.
pub(super) fn add_container_port_labels(target: &mut LabelSet, pod: &Pod, port: i32, protocol: Option<String>) {
    for container in pod.spec.iter().flat_map(|spec| &spec.containers) {
        if let Some(container_port) =
            container.ports.iter().flatten().find(|candidate| candidate.container_port == port)
        {
            target.insert(format!("{META}pod_container_name"), container.name.clone());
            target.insert(format!("{META}pod_container_image"), container.image.clone().unwrap_or_default());
            target.insert(format!("{META}pod_container_port_name"), container_port.name.clone().unwrap_or_default());
            target.insert(format!("{META}pod_container_port_number"), port.to_string());
            let protocol = protocol.or_else(|| container_port.protocol.clone()).unwrap_or_default();
            target.insert(format!("{META}pod_container_port_protocol"), protocol);
            return;
        }
    }
}

/// Returns the group of one Endpoints object (source `endpoints/<namespace>/<name>`).
pub(super) fn build(endpoints: &Endpoints, lookup: &dyn Lookup) -> Option<TargetGroup> {
    let namespace = endpoints.metadata.namespace.clone().unwrap_or_default();
    let name = endpoints.metadata.name.clone().unwrap_or_default();
    let mut labels = LabelSet::new();
    labels.insert(NAMESPACE_LABEL.to_owned(), namespace.clone());
    if let Some(service) = lookup.service(&namespace, &name) {
        labels.extend(service_labels(&service));
    }
    add_object_meta_labels(&mut labels, &endpoints.metadata, "endpoints");
    add_namespace_labels(&mut labels, lookup, &namespace);
    let mut seen = SeenPods::default();
    let mut targets = Vec::new();
    for subset in endpoints.subsets.iter().flatten() {
        for port in subset.ports.iter().flatten() {
            let ready = subset.addresses.iter().flatten().map(|address| (address, "true"));
            let not_ready = subset.not_ready_addresses.iter().flatten().map(|address| (address, "false"));
            for (address, is_ready) in ready.chain(not_ready) {
                let mut target = LabelSet::new();
                target.insert(ADDRESS_LABEL.to_owned(), join_host_port(&address.ip, port.port));
                target.insert(format!("{META}endpoint_port_name"), port.name.clone().unwrap_or_default());
                target.insert(format!("{META}endpoint_port_protocol"), port.protocol.clone().unwrap_or_default());
                target.insert(format!("{META}endpoint_ready"), is_ready.to_owned());
                if let Some(reference) = &address.target_ref {
                    target.insert(
                        format!("{META}endpoint_address_target_kind"),
                        reference.kind.clone().unwrap_or_default(),
                    );
                    target.insert(
                        format!("{META}endpoint_address_target_name"),
                        reference.name.clone().unwrap_or_default(),
                    );
                }
                if let Some(node_name) = &address.node_name {
                    target.insert(format!("{META}endpoint_node_name"), node_name.clone());
                }
                if let Some(hostname) = address.hostname.as_ref().filter(|hostname| !hostname.is_empty()) {
                    target.insert(format!("{META}endpoint_hostname"), hostname.clone());
                }
                if lookup.has_node_metadata() {
                    let node = address.node_name.as_deref().or_else(|| {
                        address
                            .target_ref
                            .as_ref()
                            .filter(|reference| reference.kind.as_deref() == Some("Node"))
                            .and_then(|reference| reference.name.as_deref())
                    });
                    add_node_labels(&mut target, lookup, node);
                }
                let pod =
                    address.target_ref.as_ref().filter(|reference| reference.kind.as_deref() == Some("Pod")).and_then(
                        |reference| {
                            lookup.pod(reference.namespace.as_deref().unwrap_or_default(), reference.name.as_deref()?)
                        },
                    );
                if let Some(pod) = pod {
                    seen.record(&pod, Some(port.port));
                    target.extend(pod_labels(&pod));
                    add_container_port_labels(&mut target, &pod, port.port, port.protocol.clone());
                }
                targets.push(target);
            }
        }
    }
    targets.extend(seen.uncovered_port_targets());
    group(format!("endpoints/{namespace}/{name}"), labels, targets)
}
