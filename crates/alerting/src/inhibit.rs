//! Inhibition: a firing alert matching a rule's source matchers mutes alerts matching its target
//! matchers when the `equal` labels have the same values (absent counts as empty). An alert
//! matching both sides is not inhibited by alerts that also match the target, so a rule never
//! lets an alert mute itself.

use std::collections::HashMap;

use jiff::Timestamp;

use crate::config::InhibitRuleConfig;
use crate::matchers::Matchers;
use crate::types::{Alert, Fingerprint, LabelSet};

/// One compiled inhibition rule.
#[derive(Debug, Clone)]
pub(crate) struct InhibitRule {
    source: Matchers,
    target: Matchers,
    equal: Vec<String>,
}

impl InhibitRule {
    /// Compiles a configured rule.
    ///
    /// # Errors
    ///
    /// Returns a message for an invalid regular expression.
    pub(crate) fn new(config: &InhibitRuleConfig) -> Result<InhibitRule, String> {
        let (source, target) = config.matchers()?;
        Ok(InhibitRule { source, target, equal: config.equal.clone() })
    }
}

/// The firing source alerts of every rule at one instant, indexed by their `equal` label
/// values, so that checking a target costs one hash lookup per rule.
pub(crate) struct Inhibitor<'a> {
    rules: &'a [InhibitRule],
    /// Per rule: equal-label values → source alerts.
    sources: Vec<HashMap<Vec<Option<&'a str>>, Vec<&'a Alert>>>,
}

impl<'a> Inhibitor<'a> {
    /// Indexes the alerts of `alerts` that fire at `now` and match a rule's source.
    pub(crate) fn new(rules: &'a [InhibitRule], alerts: &'a [Alert], now: Timestamp) -> Inhibitor<'a> {
        let sources = rules
            .iter()
            .map(|rule| {
                let mut index: HashMap<Vec<Option<&str>>, Vec<&Alert>> = HashMap::new();
                for alert in alerts.iter().filter(|a| !a.is_resolved_at(now) && rule.source.matches(&a.labels)) {
                    index.entry(rule.key(&alert.labels)).or_default().push(alert);
                }
                index
            })
            .collect();
        Inhibitor { rules, sources }
    }

    /// Returns the fingerprints of the alerts that inhibit `labels`, one per rule that applies.
    pub(crate) fn inhibited_by(&self, labels: &LabelSet) -> Vec<Fingerprint> {
        let mut inhibitors = Vec::new();
        for (rule, index) in self.rules.iter().zip(&self.sources) {
            if !rule.target.matches(labels) {
                continue;
            }
            let exclude_two_sided = rule.source.matches(labels);
            let source = index.get(&rule.key(labels)).and_then(|candidates| {
                candidates.iter().find(|a| !(exclude_two_sided && rule.target.matches(&a.labels)))
            });
            if let Some(source) = source {
                inhibitors.push(source.fingerprint());
            }
        }
        inhibitors
    }
}

impl InhibitRule {
    /// Returns the values of the `equal` labels (absent labels count as empty).
    fn key<'l>(&self, labels: &'l LabelSet) -> Vec<Option<&'l str>> {
        self.equal.iter().map(|name| labels.get(name).map(String::as_str).filter(|v| !v.is_empty())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(pairs: &[(&str, &str)], firing: bool) -> Alert {
        let now = Timestamp::now();
        Alert {
            labels: pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            annotations: LabelSet::new(),
            starts_at: now - jiff::SignedDuration::from_secs(60),
            ends_at: if firing {
                now + jiff::SignedDuration::from_secs(60)
            } else {
                now - jiff::SignedDuration::from_secs(1)
            },
            generator_url: String::new(),
            updated_at: now,
            timeout: false,
        }
    }

    #[test]
    fn critical_inhibits_warning_on_the_same_cluster() {
        let config: InhibitRuleConfig = serde_saphyr::from_str(
            "source_matchers: [severity=critical]\ntarget_match: {severity: warning}\nequal: [cluster]",
        )
        .unwrap();
        let rules = [InhibitRule::new(&config).unwrap()];
        let critical = alert(&[("severity", "critical"), ("cluster", "a")], true);
        let resolved = alert(&[("severity", "critical"), ("cluster", "b")], false);
        let alerts = [critical.clone(), resolved];
        let now = Timestamp::now();
        let target = |cluster: &str| -> LabelSet {
            [("severity".to_owned(), "warning".to_owned()), ("cluster".to_owned(), cluster.to_owned())].into()
        };
        let inhibitor = Inhibitor::new(&rules, &alerts, now);
        assert_eq!(inhibitor.inhibited_by(&target("a")), [critical.fingerprint()]);
        assert!(inhibitor.inhibited_by(&target("b")).is_empty());
        assert!(inhibitor.inhibited_by(&critical.labels).is_empty());
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_inhibit_itself() {
        let config: InhibitRuleConfig =
            serde_saphyr::from_str("source_matchers: ['team=db']\ntarget_matchers: ['team=db']").unwrap();
        let rules = [InhibitRule::new(&config).unwrap()];
        let only = alert(&[("team", "db")], true);
        let alerts = [only.clone()];
        assert!(Inhibitor::new(&rules, &alerts, Timestamp::now()).inhibited_by(&only.labels).is_empty());
    }
}
