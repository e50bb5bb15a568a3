//! Inhibition: a firing alert matching a rule's source matchers mutes alerts matching its target
//! matchers when the `equal` labels have the same values (absent counts as empty). An alert
//! matching both sides is not inhibited by alerts that also match the target, so a rule never
//! lets an alert mute itself.

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

/// Returns the fingerprints of the alerts that inhibit `labels`, one per rule that applies,
/// looking at the firing alerts in `alerts`.
pub(crate) fn inhibited_by<'a>(
    rules: &[InhibitRule],
    labels: &LabelSet,
    alerts: impl Iterator<Item = &'a Alert> + Clone,
    now: Timestamp,
) -> Vec<Fingerprint> {
    let mut inhibitors = Vec::new();
    for rule in rules {
        if !rule.target.matches(labels) {
            continue;
        }
        let exclude_two_sided = rule.source.matches(labels);
        let source = alerts.clone().find(|alert| {
            !alert.is_resolved_at(now)
                && rule.source.matches(&alert.labels)
                && rule.equal.iter().all(|name| alert.labels.get(name) == labels.get(name))
                && !(exclude_two_sided && rule.target.matches(&alert.labels))
        });
        if let Some(source) = source {
            inhibitors.push(source.fingerprint());
        }
    }
    inhibitors
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
        assert_eq!(inhibited_by(&rules, &target("a"), alerts.iter(), now), [critical.fingerprint()]);
        assert!(inhibited_by(&rules, &target("b"), alerts.iter(), now).is_empty());
        assert!(inhibited_by(&rules, &critical.labels, alerts.iter(), now).is_empty());
    }

    #[test]
    fn an_alert_matching_both_sides_does_not_inhibit_itself() {
        let config: InhibitRuleConfig =
            serde_saphyr::from_str("source_matchers: ['team=db']\ntarget_matchers: ['team=db']").unwrap();
        let rules = [InhibitRule::new(&config).unwrap()];
        let only = alert(&[("team", "db")], true);
        assert!(inhibited_by(&rules, &only.labels, [only.clone()].iter(), Timestamp::now()).is_empty());
    }
}
