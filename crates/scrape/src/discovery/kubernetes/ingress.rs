//! The `ingress` role: one target per path of each rule, at the rule's host, with `https`
//! when a TLS entry covers the host (wildcards included) (Prometheus
//! `discovery/kubernetes/ingress.go`).

use panoptes_kube::k8s_openapi::api::networking::v1::Ingress;

use super::{LabelSet, Lookup, META, NAMESPACE_LABEL, add_namespace_labels, add_object_meta_labels, group};
use crate::discovery::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// Returns true when `host` equals `pattern` or matches a `*.example.com` pattern on exactly
/// one leading label.
fn matches_host_pattern(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let pattern_parts: Vec<&str> = pattern.split('.').collect();
    let host_parts: Vec<&str> = host.split('.').collect();
    pattern_parts.first() == Some(&"*")
        && pattern_parts.len() == host_parts.len()
        && pattern_parts[1..] == host_parts[1..]
}

/// Returns the group of one ingress (source `ingress/<namespace>/<name>`).
pub(super) fn build(ingress: &Ingress, lookup: &dyn Lookup) -> Option<TargetGroup> {
    let namespace = ingress.metadata.namespace.clone().unwrap_or_default();
    let name = ingress.metadata.name.clone().unwrap_or_default();
    let spec = ingress.spec.as_ref()?;
    let mut labels = LabelSet::new();
    labels.insert(NAMESPACE_LABEL.to_owned(), namespace.clone());
    if let Some(class) = &spec.ingress_class_name {
        labels.insert(format!("{META}ingress_class_name"), class.clone());
    }
    add_object_meta_labels(&mut labels, &ingress.metadata, "ingress");
    add_namespace_labels(&mut labels, lookup, &namespace);
    let tls_hosts: Vec<&str> =
        spec.tls.iter().flatten().flat_map(|tls| tls.hosts.iter().flatten()).map(String::as_str).collect();
    let mut targets = Vec::new();
    for rule in spec.rules.iter().flatten() {
        let host = rule.host.clone().unwrap_or_default();
        let scheme =
            if tls_hosts.iter().any(|pattern| matches_host_pattern(pattern, &host)) { "https" } else { "http" };
        let paths: Vec<String> = match &rule.http {
            None => vec!["/".to_owned()],
            Some(http) => http
                .paths
                .iter()
                .map(|path| path.path.clone().filter(|path| !path.is_empty()).unwrap_or_else(|| "/".to_owned()))
                .collect(),
        };
        for path in paths {
            let mut target = LabelSet::new();
            target.insert(ADDRESS_LABEL.to_owned(), host.clone());
            target.insert(format!("{META}ingress_scheme"), scheme.to_owned());
            target.insert(format!("{META}ingress_host"), host.clone());
            target.insert(format!("{META}ingress_path"), path);
            targets.push(target);
        }
    }
    group(format!("ingress/{namespace}/{name}"), labels, targets)
}

#[cfg(test)]
mod tests {
    use super::matches_host_pattern;

    #[test]
    fn tls_host_patterns_match_one_leading_label() {
        assert!(matches_host_pattern("a.example.com", "a.example.com"));
        assert!(matches_host_pattern("*.example.com", "a.example.com"));
        assert!(!matches_host_pattern("*.example.com", "a.b.example.com"));
        assert!(!matches_host_pattern("*.example.com", "example.com"));
        assert!(!matches_host_pattern("a.*.com", "a.example.com"));
    }
}
