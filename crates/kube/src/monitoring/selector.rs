//! Kubernetes label selectors (`matchLabels`, `matchExpressions`) as the operator's resources
//! carry them, and a monitor's `namespaceSelector`. Only matching; never reads objects.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::Unsupported;

/// A Kubernetes label selector: every `matchLabels` pair and every `matchExpressions`
/// requirement must hold. An empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with these values.
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    /// Set-based requirements.
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One set-based requirement of a [`LabelSelector`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// The values for `In` and `NotIn`; must be empty for the others.
    #[serde(default)]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Checks the operators and their values as the API server does.
    ///
    /// # Errors
    ///
    /// Returns a message naming the requirement (`matchExpressions[i]`) that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (index, requirement) in self.match_expressions.iter().enumerate() {
            let field = format!("matchExpressions[{index}]");
            if requirement.key.is_empty() {
                return Err(format!("{field}.key must not be empty"));
            }
            match requirement.operator.as_str() {
                "In" | "NotIn" if requirement.values.is_empty() => {
                    return Err(format!("{field}: values must be non-empty for operator {}", requirement.operator));
                }
                "Exists" | "DoesNotExist" if !requirement.values.is_empty() => {
                    return Err(format!("{field}: values must be empty for operator {}", requirement.operator));
                }
                "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
                other => {
                    return Err(format!(
                        "{field}: unknown operator {other:?} (expected In, NotIn, Exists or DoesNotExist)"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Returns true when `labels` satisfy every requirement. Unknown operators (which
    /// [`LabelSelector::validate`] refuses) match nothing.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels.iter().all(|(key, value)| labels.get(key) == Some(value))
            && self.match_expressions.iter().all(|requirement| {
                let value = labels.get(&requirement.key);
                match requirement.operator.as_str() {
                    "In" => value.is_some_and(|value| requirement.values.contains(value)),
                    "NotIn" => !value.is_some_and(|value| requirement.values.contains(value)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    /// Returns true for the empty selector, which matches everything.
    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// The namespaces a monitor looks for Services or Pods in: `any`, a list, or (neither) the
/// monitor's own namespace.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    /// Every namespace.
    #[serde(default)]
    pub any: bool,
    /// These namespaces.
    #[serde(default)]
    pub match_names: Vec<String>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}
