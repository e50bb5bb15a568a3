//! The JSON shapes of Prometheus' `/api/v1/rules` and `/api/v1/alerts` data, built from groups.
//! Field names and formats follow Prometheus' `web/api/v1` exactly (seconds as numbers,
//! RFC 3339 times, values as strings).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::group::Group;
use crate::rule::{Alert, AlertState, Rule, RuleHealth};

/// The `data` of `/api/v1/rules`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleDiscovery {
    /// The rule groups.
    pub groups: Vec<RuleGroupJson>,
}

/// The `data` of `/api/v1/alerts`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertDiscovery {
    /// The pending and firing alerts.
    pub alerts: Vec<AlertJson>,
}

/// One group of `/api/v1/rules`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleGroupJson {
    /// The group's name.
    pub name: String,
    /// The file it comes from.
    pub file: String,
    /// Its rules.
    pub rules: Vec<RuleJson>,
    /// The evaluation interval in seconds.
    #[serde(serialize_with = "go_float")]
    pub interval: f64,
    /// The group's limit (0: none).
    pub limit: usize,
    /// How long the last evaluation took, in seconds.
    #[serde(rename = "evaluationTime")]
    #[serde(serialize_with = "go_float")]
    pub evaluation_time: f64,
    /// When the group was last evaluated (RFC 3339; Go's zero time if never).
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: String,
}

/// One rule of `/api/v1/rules`.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RuleJson {
    /// An alerting rule.
    Alerting(AlertingRuleJson),
    /// A recording rule.
    Recording(RecordingRuleJson),
}

/// An alerting rule as Prometheus' API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertingRuleJson {
    /// The most severe state of its alerts.
    pub state: AlertState,
    /// The alert name.
    pub name: String,
    /// The expression.
    pub query: String,
    /// `for`, in seconds.
    #[serde(serialize_with = "go_float")]
    pub duration: f64,
    /// `keep_firing_for`, in seconds.
    #[serde(rename = "keepFiringFor")]
    #[serde(serialize_with = "go_float")]
    pub keep_firing_for: f64,
    /// The label templates.
    pub labels: BTreeMap<String, String>,
    /// The annotation templates.
    pub annotations: BTreeMap<String, String>,
    /// The active alerts.
    pub alerts: Vec<AlertJson>,
    /// `ok`, `err` or `unknown`.
    pub health: RuleHealth,
    /// The last evaluation's error.
    #[serde(rename = "lastError", skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// How long the last evaluation took, in seconds.
    #[serde(rename = "evaluationTime")]
    #[serde(serialize_with = "go_float")]
    pub evaluation_time: f64,
    /// When the rule was last evaluated.
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: String,
    /// Always `alerting`.
    #[serde(rename = "type")]
    pub rule_type: &'static str,
}

/// A recording rule as Prometheus' API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RecordingRuleJson {
    /// The recorded metric name.
    pub name: String,
    /// The expression.
    pub query: String,
    /// The labels set on results.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// `ok`, `err` or `unknown`.
    pub health: RuleHealth,
    /// The last evaluation's error.
    #[serde(rename = "lastError", skip_serializing_if = "String::is_empty")]
    pub last_error: String,
    /// How long the last evaluation took, in seconds.
    #[serde(rename = "evaluationTime")]
    #[serde(serialize_with = "go_float")]
    pub evaluation_time: f64,
    /// When the rule was last evaluated.
    #[serde(rename = "lastEvaluation")]
    pub last_evaluation: String,
    /// Always `recording`.
    #[serde(rename = "type")]
    pub rule_type: &'static str,
}

/// An alert as Prometheus' API shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertJson {
    /// The alert's labels.
    pub labels: BTreeMap<String, String>,
    /// The expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing` (`inactive` never appears).
    pub state: AlertState,
    /// When the alert became active.
    #[serde(rename = "activeAt", skip_serializing_if = "Option::is_none")]
    pub active_at: Option<String>,
    /// Since when it keeps firing without its expression returning it.
    #[serde(rename = "keepFiringSince", skip_serializing_if = "Option::is_none")]
    pub keep_firing_since: Option<String>,
    /// The value, formatted like Go's `%e` shortest form (`1e+00`).
    pub value: String,
}

impl AlertJson {
    /// Returns the API form of an alert.
    pub fn from_alert(alert: &Alert) -> Self {
        Self {
            labels: alert.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect(),
            annotations: alert.annotations.clone(),
            state: alert.state,
            active_at: Some(rfc3339(alert.active_at_ms)),
            keep_firing_since: alert.keep_firing_since_ms.map(rfc3339),
            value: format_value(alert.value),
        }
    }
}

/// Builds `/api/v1/rules` data from groups.
pub fn rule_discovery<'a>(groups: impl IntoIterator<Item = &'a Group>) -> RuleDiscovery {
    RuleDiscovery { groups: groups.into_iter().map(group_json).collect() }
}

/// Builds `/api/v1/alerts` data (pending and firing alerts) from groups.
pub fn alert_discovery<'a>(groups: impl IntoIterator<Item = &'a Group>) -> AlertDiscovery {
    let mut alerts = Vec::new();
    for group in groups {
        for rule in group.rules() {
            if let Rule::Alerting(rule) = rule {
                alerts.extend(rule.active_alerts().into_iter().map(AlertJson::from_alert));
            }
        }
    }
    AlertDiscovery { alerts }
}

fn group_json(group: &Group) -> RuleGroupJson {
    let rules = group
        .rules()
        .iter()
        .map(|rule| {
            let status = rule.status();
            let last_evaluation = status.last_evaluation_ms.map_or_else(|| GO_ZERO_TIME.to_owned(), rfc3339);
            let last_error = status.last_error.clone().unwrap_or_default();
            match rule {
                Rule::Alerting(rule) => {
                    let alerts: Vec<AlertJson> = rule.active_alerts().into_iter().map(AlertJson::from_alert).collect();
                    let state = if alerts.iter().any(|a| a.state == AlertState::Firing) {
                        AlertState::Firing
                    } else if alerts.is_empty() {
                        AlertState::Inactive
                    } else {
                        AlertState::Pending
                    };
                    RuleJson::Alerting(AlertingRuleJson {
                        state,
                        name: rule.name.clone(),
                        query: rule.query.clone(),
                        duration: rule.hold_duration.as_secs_f64(),
                        keep_firing_for: rule.keep_firing_for.as_secs_f64(),
                        labels: rule.labels.clone(),
                        annotations: rule.annotations.clone(),
                        alerts,
                        health: status.health,
                        last_error,
                        evaluation_time: status.evaluation_time.as_secs_f64(),
                        last_evaluation,
                        rule_type: "alerting",
                    })
                }
                Rule::Recording(rule) => RuleJson::Recording(RecordingRuleJson {
                    name: rule.name.clone(),
                    query: rule.query.clone(),
                    labels: rule.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect(),
                    health: status.health,
                    last_error,
                    evaluation_time: status.evaluation_time.as_secs_f64(),
                    last_evaluation,
                    rule_type: "recording",
                }),
            }
        })
        .collect();
    RuleGroupJson {
        name: group.name().to_owned(),
        file: group.file().to_owned(),
        rules,
        interval: group.interval().as_secs_f64(),
        limit: group.limit(),
        evaluation_time: group.evaluation_time().as_secs_f64(),
        last_evaluation: group.last_evaluation_ms().map_or_else(|| GO_ZERO_TIME.to_owned(), rfc3339),
    }
}

/// How Go marshals a zero `time.Time`.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats milliseconds since the epoch as RFC 3339 in UTC with trimmed fractional seconds,
/// as Go's `time.Time` marshals to JSON.
pub fn rfc3339(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = crate::template::civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60
    );
    if ms != 0 {
        out.push_str(format!(".{ms:03}").trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Formats a value like Go's `strconv.FormatFloat(v, 'e', -1, 64)`.
/// Serialises a number as Go's `encoding/json` does for a `float64`: whole numbers without a
/// fraction (`1`, not `1.0`).
fn go_float<S: serde::Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;
    if value.fract() == 0.0 && value.abs() < EXACT_INTEGER_LIMIT {
        #[allow(clippy::cast_possible_truncation)]
        return serializer.serialize_i64(*value as i64);
    }
    serializer.serialize_f64(*value)
}

fn format_value(v: f64) -> String {
    panoptes_model::gofloat::format_e(v, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_and_values_like_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_200_500), "2024-01-01T00:00:00.5Z");
        assert_eq!(format_value(1.0), "1e+00");
        assert_eq!(format_value(0.25), "2.5e-01");
        assert_eq!(format_value(1234.5), "1.2345e+03");
    }
}
