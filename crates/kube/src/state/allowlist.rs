//! Which object labels and annotations become Prometheus labels on the `kube_<kind>_labels` and
//! `kube_<kind>_annotations` families: kube-state-metrics' `--metric-labels-allowlist` and
//! `--metric-annotations-allowlist`, with their syntax and meaning. Owns the parsing of the
//! list and the conversion of the allowed keys into label names; never renders a family.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};

/// The resource names kube-state-metrics accepts in an allow-list. Panoptes renders
/// `kube_*_labels`/`_annotations` for [`RENDERED_RESOURCES`] only; the others are accepted so
/// that a list written for kube-state-metrics works unchanged, and have no effect.
const KNOWN_RESOURCES: &[&str] = &[
    "certificatesigningrequests",
    "clusterrolebindings",
    "clusterroles",
    "configmaps",
    "cronjobs",
    "daemonsets",
    "deployments",
    "endpoints",
    "endpointslices",
    "horizontalpodautoscalers",
    "ingressclasses",
    "ingresses",
    "jobs",
    "leases",
    "limitranges",
    "mutatingwebhookconfigurations",
    "namespaces",
    "networkpolicies",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "poddisruptionbudgets",
    "pods",
    "replicasets",
    "replicationcontrollers",
    "resourcequotas",
    "rolebindings",
    "roles",
    "secrets",
    "serviceaccounts",
    "services",
    "statefulsets",
    "storageclasses",
    "validatingwebhookconfigurations",
    "volumeattachments",
];

/// The resources whose `kube_*_labels` and `kube_*_annotations` families Panoptes renders.
pub const RENDERED_RESOURCES: &[&str] = &[
    "daemonsets",
    "deployments",
    "endpoints",
    "namespaces",
    "nodes",
    "pods",
    "replicasets",
    "services",
    "statefulsets",
];

/// Allows every key of every resource; also the whole list of a resource when it comes first.
const WILDCARD: &str = "*";

/// The allowed label (or annotation) keys per resource, as kube-state-metrics'
/// `--metric-labels-allowlist`: `pods=[app,version],namespaces=[*]`.
///
/// A resource that is not listed, or listed with `[]`, gets no `kube_<kind>_labels` series at
/// all. `*` as the first key of a resource allows every key; a key with one `*` inside
/// (`app.kubernetes.io/*`) allows the keys it matches; `*` as the resource name applies its list
/// to every resource, taking precedence over the others.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AllowList {
    resources: BTreeMap<String, Vec<String>>,
}

impl std::fmt::Display for AllowList {
    /// Writes the list in the syntax [`AllowList::parse`] reads, resources in name order.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, (resource, keys)) in self.resources.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{resource}=[{}]", keys.join(","))?;
        }
        Ok(())
    }
}

impl AllowList {
    /// Returns the list allowing every key of `resource` (`<resource>=[*]`).
    pub fn everything_of(resource: &str) -> Self {
        AllowList { resources: BTreeMap::from([(resource.to_owned(), vec![WILDCARD.to_owned()])]) }
    }

    /// Parses kube-state-metrics' syntax: comma-separated `resource=[key,key...]` entries,
    /// whitespace around names ignored; the empty text is the empty list. A resource given
    /// twice keeps its last entry, as in kube-state-metrics.
    ///
    /// # Errors
    ///
    /// Returns [`Error::AllowList`] with the character position and what is wrong: a missing
    /// `=`, `[` or `]`, an empty resource or key, an unknown resource, a key with more than one
    /// `*`, text after a `]` other than `,`.
    pub fn parse(text: &str) -> Result<Self> {
        let chars: Vec<char> = text.chars().collect();
        let error = |position: usize, message: String| Error::AllowList { position, message };
        let mut resources = BTreeMap::new();
        let mut position = 0;
        if text.trim().is_empty() {
            return Ok(AllowList { resources });
        }
        loop {
            let start = position;
            while position < chars.len() && !matches!(chars[position], '=' | '[' | ']' | ',') {
                position += 1;
            }
            let resource: String = chars[start..position].iter().collect::<String>().trim().to_owned();
            if chars.get(position) != Some(&'=') {
                let found = chars.get(position).map_or("the end".to_owned(), |c| format!("`{c}`"));
                return Err(error(position, format!("expected `=` after resource {resource:?}, found {found}")));
            }
            if resource.is_empty() {
                return Err(error(position, "missing resource name before `=`".to_owned()));
            }
            if resource != WILDCARD && !KNOWN_RESOURCES.contains(&resource.as_str()) {
                return Err(error(
                    start,
                    format!("unknown resource {resource:?} (resources are plural, e.g. pods, namespaces, deployments)"),
                ));
            }
            position += 1;
            if chars.get(position) != Some(&'[') {
                return Err(error(position, format!("expected `[` after `{resource}=`")));
            }
            position += 1;
            let mut keys = Vec::new();
            let list_start = position;
            loop {
                let key_start = position;
                while position < chars.len() && !matches!(chars[position], ',' | ']' | '[' | '=') {
                    position += 1;
                }
                let key: String = chars[key_start..position].iter().collect::<String>().trim().to_owned();
                match chars.get(position) {
                    Some(']') if key.is_empty() && position == list_start => break,
                    Some(',' | ']') if key.is_empty() => {
                        return Err(error(key_start, format!("empty key in the list of {resource}")));
                    }
                    Some(',' | ']') => {
                        if key.matches('*').count() > 1 {
                            return Err(error(
                                key_start,
                                format!("key {key:?} of {resource} has more than one `*` (one wildcard per key)"),
                            ));
                        }
                        keys.push(key);
                        if chars[position] == ']' {
                            break;
                        }
                        position += 1;
                    }
                    Some(other) => {
                        return Err(error(position, format!("unexpected `{other}` in the list of {resource}")));
                    }
                    None => return Err(error(position, format!("missing `]` closing the list of {resource}"))),
                }
            }
            resources.insert(resource.clone(), keys);
            position += 1;
            match chars.get(position) {
                None => break,
                Some(',') if position + 1 < chars.len() => position += 1,
                Some(',') => return Err(error(position, "trailing `,`".to_owned())),
                Some(other) => {
                    return Err(error(position, format!("expected `,` after the list of {resource}, found `{other}`")));
                }
            }
        }
        Ok(AllowList { resources })
    }

    /// Returns the allowed keys of `resource`: those of `*` when it is listed.
    fn allowed(&self, resource: &str) -> &[String] {
        self.resources.get(WILDCARD).or_else(|| self.resources.get(resource)).map_or(&[], Vec::as_slice)
    }

    /// Returns the Prometheus labels (`<prefix>_<name>`, sorted by key) of the allowed keys of
    /// `keys` for `resource`, or `None` when nothing is allowed for the resource: then
    /// kube-state-metrics emits no series at all, not even one without these labels.
    pub(crate) fn prometheus_labels(
        &self,
        resource: &str,
        prefix: &str,
        keys: Option<&BTreeMap<String, String>>,
    ) -> Option<Vec<(String, String)>> {
        let allowed = self.allowed(resource);
        if allowed.is_empty() {
            return None;
        }
        let empty = BTreeMap::new();
        let keys = keys.unwrap_or(&empty);
        let mut picked: BTreeMap<&str, &str> = BTreeMap::new();
        for (index, pattern) in allowed.iter().enumerate() {
            if pattern == WILDCARD {
                // Only a leading `*` means "everything"; elsewhere kube-state-metrics ignores it.
                if index == 0 {
                    picked = keys.iter().map(|(key, value)| (key.as_str(), value.as_str())).collect();
                    break;
                }
                continue;
            }
            match pattern.split_once('*') {
                None => {
                    if let Some((key, value)) = keys.get_key_value(pattern) {
                        picked.insert(key, value);
                    }
                }
                Some((before, after)) => {
                    for (key, value) in keys {
                        if key.len() >= before.len() + after.len() && key.starts_with(before) && key.ends_with(after) {
                            picked.insert(key, value);
                        }
                    }
                }
            }
        }
        Some(label_names(prefix, picked))
    }
}

/// Turns keys into Prometheus label names as kube-state-metrics does: characters outside
/// `[a-zA-Z0-9_]` become `_`, `aB` becomes `a_b`, everything is lowercased, and names that
/// collide get `_conflict1`, `_conflict2` ... in key order.
fn label_names(prefix: &str, keys: BTreeMap<&str, &str>) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = Vec::with_capacity(keys.len());
    // Where each emitted name is, and how many suffixes each colliding base name handed out.
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut conflicts: HashMap<String, usize> = HashMap::new();
    let next_free = |base: &str, count: &mut usize, used: &HashMap<String, usize>| loop {
        *count += 1;
        let candidate = format!("{base}_conflict{count}");
        if !used.contains_key(&candidate) {
            return candidate;
        }
    };
    for (key, value) in keys {
        let base = format!("{prefix}_{}", snake_case(&sanitize(key)));
        let name = if let Some(count) = conflicts.get_mut(&base) {
            next_free(&base, count, &used)
        } else if let Some(index) = used.remove(&base) {
            // The first collision renames the label already emitted under the plain name.
            let mut count = 0;
            let renamed = next_free(&base, &mut count, &used);
            labels[index].0 = renamed.clone();
            used.insert(renamed, index);
            let name = next_free(&base, &mut count, &used);
            conflicts.insert(base, count);
            name
        } else {
            base
        };
        used.insert(name.clone(), labels.len());
        labels.push((name, value.to_owned()));
    }
    labels
}

/// Replaces characters outside `[a-zA-Z0-9_]` with `_` (a multi-byte character counts once).
pub(crate) fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// Puts `_` between a lowercase letter or digit and the capital after it, then lowercases.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if c.is_ascii_uppercase() && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        previous = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(text: &str, expected: Result<&[(&str, &[&str])], &str>) {
        let parsed = AllowList::parse(text).map_err(|error| error.to_string());
        let expected = expected
            .map(|entries| AllowList {
                resources: entries
                    .iter()
                    .map(|(resource, keys)| {
                        ((*resource).to_owned(), keys.iter().map(|key| (*key).to_owned()).collect())
                    })
                    .collect(),
            })
            .map_err(str::to_owned);
        assert_eq!(parsed, expected, "{text:?}");
    }

    #[test]
    fn parses_kube_state_metrics_syntax() {
        check("", Ok(&[]));
        check("pods=[app,version]", Ok(&[("pods", &["app", "version"])]));
        check(
            "pods=[app.kubernetes.io/name, app],namespaces=[*]",
            Ok(&[("namespaces", &["*"]), ("pods", &["app.kubernetes.io/name", "app"])]),
        );
        check(" pods=[ app ],nodes=[]", Ok(&[("nodes", &[]), ("pods", &["app"])]));
        check("*=[*]", Ok(&[("*", &["*"])]));
        check("pods=[app.kubernetes.io/*]", Ok(&[("pods", &["app.kubernetes.io/*"])]));
        check("pods=[a],pods=[b]", Ok(&[("pods", &["b"])]));
        // Known to kube-state-metrics, accepted, no family here.
        check("jobs=[team]", Ok(&[("jobs", &["team"])]));
    }

    #[test]
    fn prints_what_it_parses() {
        for text in ["", "namespaces=[*],pods=[app,app.kubernetes.io/*]", "nodes=[]"] {
            assert_eq!(AllowList::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_lists_naming_the_place() {
        check("pods", Err(r#"invalid allow-list at character 4: expected `=` after resource "pods", found the end"#));
        check("pods[app]", Err(r#"invalid allow-list at character 4: expected `=` after resource "pods", found `[`"#));
        check("pods=app", Err("invalid allow-list at character 5: expected `[` after `pods=`"));
        check("pods=[app", Err("invalid allow-list at character 9: missing `]` closing the list of pods"));
        check("pods=[app,,version]", Err("invalid allow-list at character 10: empty key in the list of pods"));
        check("pods=[app,]", Err("invalid allow-list at character 10: empty key in the list of pods"));
        check("pods=[app],", Err("invalid allow-list at character 10: trailing `,`"));
        check(",pods=[app]", Err("invalid allow-list at character 0: expected `=` after resource \"\", found `,`"));
        check("=[app]", Err("invalid allow-list at character 0: missing resource name before `=`"));
        check("pods=[app]x", Err("invalid allow-list at character 10: expected `,` after the list of pods, found `x`"));
        check(
            "pod=[app]",
            Err(
                r#"invalid allow-list at character 0: unknown resource "pod" (resources are plural, e.g. pods, namespaces, deployments)"#,
            ),
        );
        check(
            "pods=[*app*]",
            Err(
                r#"invalid allow-list at character 6: key "*app*" of pods has more than one `*` (one wildcard per key)"#,
            ),
        );
        check("pods=[a=b]", Err("invalid allow-list at character 7: unexpected `=` in the list of pods"));
    }

    fn labels(list: &str, resource: &str, keys: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        let keys: BTreeMap<String, String> =
            keys.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect();
        AllowList::parse(list).unwrap().prometheus_labels(resource, "label", Some(&keys))
    }

    fn owned(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect())
    }

    #[test]
    fn selects_allowed_keys_as_kube_state_metrics() {
        let keys = [("app", "web"), ("version", "v1"), ("app.kubernetes.io/name", "shop"), ("team", "a")];
        assert_eq!(labels("pods=[app,missing]", "pods", &keys), owned(&[("label_app", "web")]));
        assert_eq!(labels("pods=[app]", "nodes", &keys), None, "nodes not listed: no series");
        assert_eq!(labels("pods=[]", "pods", &keys), None, "empty list: no series");
        assert_eq!(labels("pods=[missing]", "pods", &keys), owned(&[]), "allowed but absent: the series alone");
        assert_eq!(
            labels("pods=[*]", "pods", &keys),
            owned(&[
                ("label_app", "web"),
                ("label_app_kubernetes_io_name", "shop"),
                ("label_team", "a"),
                ("label_version", "v1")
            ])
        );
        assert_eq!(labels("pods=[team,*]", "pods", &keys), owned(&[("label_team", "a")]), "`*` counts only first");
        assert_eq!(
            labels("pods=[app.kubernetes.io/*,ver*]", "pods", &keys),
            owned(&[("label_app_kubernetes_io_name", "shop"), ("label_version", "v1")])
        );
        assert_eq!(labels("*=[team],pods=[app]", "pods", &keys), owned(&[("label_team", "a")]), "`*` wins");
        assert_eq!(labels("*=[team]", "namespaces", &keys), owned(&[("label_team", "a")]));
    }

    #[test]
    fn label_names_are_sanitised_snake_cased_and_deconflicted() {
        assert_eq!(
            labels("pods=[*]", "pods", &[("helm.sh/chartName", "x"), ("aBC", "y"), ("région", "z")]),
            owned(&[("label_a_bc", "y"), ("label_helm_sh_chart_name", "x"), ("label_r_gion", "z")])
        );
        // `a-b`, `a.b` and `a_b` all become `label_a_b`: the first collision renames the label
        // already emitted, later ones take the next suffix, in key order.
        assert_eq!(
            labels("pods=[*]", "pods", &[("a_b", "3"), ("a-b", "1"), ("a.b", "2")]),
            owned(&[("label_a_b_conflict1", "1"), ("label_a_b_conflict2", "2"), ("label_a_b_conflict3", "3")])
        );
        assert_eq!(
            labels("pods=[*]", "pods", &[("a-b", "1"), ("a_b", "2"), ("a_b_conflict1", "3")]),
            owned(&[
                ("label_a_b_conflict1_conflict1", "1"),
                ("label_a_b_conflict2", "2"),
                ("label_a_b_conflict1_conflict2", "3")
            ])
        );
    }
}
