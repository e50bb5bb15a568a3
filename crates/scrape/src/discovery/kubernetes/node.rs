//! The `node` role: one target per node, at its kubelet port, on the first address of the
//! preferred type (Prometheus `discovery/kubernetes/node.go`).

use std::collections::BTreeMap;

use panoptes_kube::k8s_openapi::api::core::v1::Node;

use super::{LabelSet, META, add_object_meta_labels, group, join_host_port, sanitize_label_name};
use crate::discovery::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// Address types in order of preference, as Kubernetes' `GetPreferredNodeAddress`.
const ADDRESS_PREFERENCE: &[&str] =
    &["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"];

/// Returns the group of one node (source `node/<name>`), or `None` when it has no address.
pub(super) fn build(node: &Node) -> Option<TargetGroup> {
    let name = node.metadata.name.clone().unwrap_or_default();
    let mut labels = LabelSet::new();
    let provider_id = node.spec.as_ref().and_then(|spec| spec.provider_id.clone()).unwrap_or_default();
    labels.insert(format!("{META}node_provider_id"), provider_id);
    add_object_meta_labels(&mut labels, &node.metadata, "node");
    let status = node.status.as_ref();
    let mut by_type: BTreeMap<&str, &str> = BTreeMap::new();
    for address in status.and_then(|status| status.addresses.as_ref()).into_iter().flatten() {
        by_type.entry(address.type_.as_str()).or_insert(address.address.as_str());
    }
    let Some(address) = ADDRESS_PREFERENCE.iter().find_map(|kind| by_type.get(kind)) else {
        tracing::warn!(node = %name, "kubernetes SD: node has no address");
        return None;
    };
    let port = status
        .and_then(|status| status.daemon_endpoints.as_ref())
        .and_then(|endpoints| endpoints.kubelet_endpoint.as_ref())
        .map_or(0, |endpoint| endpoint.port);
    let mut target = LabelSet::new();
    target.insert(ADDRESS_LABEL.to_owned(), join_host_port(address, port));
    target.insert("instance".to_owned(), name.clone());
    for (kind, address) in &by_type {
        target.insert(sanitize_label_name(&format!("{META}node_address_{kind}")), (*address).to_owned());
    }
    group(format!("node/{name}"), labels, vec![target])
}
