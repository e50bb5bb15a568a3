//! The Prometheus rule-file format: decoding with file:line:column errors and the checks of
//! Prometheus' `rulefmt` (what `promtool check rules` reports). Knows nothing of evaluation.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use crate::error::{Position, RuleFileError};
use crate::template;

/// How rule files are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept (and drop) keys the format does not define instead of refusing the file.
    pub ignore_unknown_fields: bool,
}

/// A parsed, validated rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The path the file was read from (as given).
    pub path: String,
    /// Its groups in file order.
    pub groups: Vec<RuleGroupConfig>,
}

/// One `groups[]` entry of a rule file.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroupConfig {
    /// The group's name, unique in its file.
    pub name: String,
    /// The evaluation interval; `None` means the global evaluation interval.
    pub interval: Option<Duration>,
    /// The most alerts or series a rule of the group may produce; 0 means no limit.
    pub limit: usize,
    /// How far in the past rules query; `None` means the global rule query offset.
    pub query_offset: Option<Duration>,
    /// Labels added to every rule of the group (a rule's own labels win).
    pub labels: BTreeMap<String, String>,
    /// The rules in evaluation order.
    pub rules: Vec<RuleConfig>,
    /// Where the group starts in the file.
    pub position: Position,
}

/// One rule of a group: a recording rule when `record` is set, else an alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleConfig {
    /// The recorded metric name (recording rules).
    pub record: Option<String>,
    /// The alert name (alerting rules).
    pub alert: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long an alert stays pending before it fires.
    pub for_duration: Duration,
    /// How long an alert keeps firing after its condition cleared.
    pub keep_firing_for: Duration,
    /// Labels added to results or alerts (templates for alerting rules).
    pub labels: BTreeMap<String, String>,
    /// Annotation templates of alerts.
    pub annotations: BTreeMap<String, String>,
    /// Where the rule starts in the file.
    pub position: Position,
}

impl RuleConfig {
    /// Returns the record or alert name.
    pub fn name(&self) -> &str {
        self.record.as_deref().or(self.alert.as_deref()).unwrap_or("")
    }

    /// Returns whether this is an alerting rule.
    pub fn is_alerting(&self) -> bool {
        self.record.is_none()
    }
}

/// A YAML scalar read as text, as Go's YAML decoder does for string fields (`for: 5m`,
/// `severity: 1`, `eval_time: 0`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Text(pub(crate) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Text, E> {
                Ok(Text(String::new()))
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

#[derive(Debug, Deserialize)]
struct RawFile {
    groups: Option<Vec<Spanned<RawGroup>>>,
}

#[derive(Debug, Deserialize)]
struct RawGroup {
    name: Option<Text>,
    interval: Option<Text>,
    query_offset: Option<Text>,
    limit: Option<Text>,
    labels: Option<BTreeMap<String, Text>>,
    rules: Option<Vec<Spanned<RawRule>>>,
}

#[derive(Debug, Deserialize)]
struct RawRule {
    record: Option<Text>,
    alert: Option<Text>,
    expr: Option<Text>,
    #[serde(rename = "for")]
    for_duration: Option<Text>,
    keep_firing_for: Option<Text>,
    labels: Option<BTreeMap<String, Text>>,
    annotations: Option<BTreeMap<String, Text>>,
}

/// The same shape with unknown keys refused; decoded first so that an unknown key is reported
/// at its own line and column.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictFile {
    #[serde(rename = "groups")]
    _groups: Option<Vec<StrictGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictGroup {
    #[serde(rename = "name")]
    _name: Option<IgnoredAny>,
    #[serde(rename = "interval")]
    _interval: Option<IgnoredAny>,
    #[serde(rename = "query_offset")]
    _query_offset: Option<IgnoredAny>,
    #[serde(rename = "limit")]
    _limit: Option<IgnoredAny>,
    #[serde(rename = "labels")]
    _labels: Option<IgnoredAny>,
    #[serde(rename = "rules")]
    _rules: Option<Vec<StrictRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictRule {
    #[serde(rename = "record")]
    _record: Option<IgnoredAny>,
    #[serde(rename = "alert")]
    _alert: Option<IgnoredAny>,
    #[serde(rename = "expr")]
    _expr: Option<IgnoredAny>,
    #[serde(rename = "for")]
    _for: Option<IgnoredAny>,
    #[serde(rename = "keep_firing_for")]
    _keep_firing_for: Option<IgnoredAny>,
    #[serde(rename = "labels")]
    _labels: Option<IgnoredAny>,
    #[serde(rename = "annotations")]
    _annotations: Option<IgnoredAny>,
}

/// Reads and parses the rule file at `path`.
///
/// # Errors
///
/// Returns one error naming the file when it cannot be read, else as [`parse_rule_file`].
pub fn load_rule_file(path: &str, options: ParseOptions) -> Result<RuleFile, Vec<RuleFileError>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_rule_file(&text, path, options),
        Err(error) => Err(vec![RuleFileError {
            path: path.to_owned(),
            position: None,
            group: None,
            rule: None,
            message: format!("cannot read file: {error}"),
        }]),
    }
}

/// Parses and validates a rule file given as text; `path` names it in errors.
///
/// # Errors
///
/// Returns every problem found, each naming the file and, where known, the line and column,
/// group and rule: YAML syntax errors, unknown keys (unless ignored), wrongly typed values,
/// repeated group names, invalid names, durations and expressions, fields that do not belong
/// to the rule's kind, and annotation or label templates that do not parse.
pub fn parse_rule_file(text: &str, path: &str, options: ParseOptions) -> Result<RuleFile, Vec<RuleFileError>> {
    let file_error = |position: Option<Position>, message: String| RuleFileError {
        path: path.to_owned(),
        position,
        group: None,
        rule: None,
        message,
    };
    if !options.ignore_unknown_fields
        && let Err(error) = serde_saphyr::from_str::<Option<StrictFile>>(text)
    {
        return Err(vec![file_error(yaml_position(&error), yaml_error_message(&error))]);
    }
    let raw: Option<RawFile> = serde_saphyr::from_str(text)
        .map_err(|error| vec![file_error(yaml_position(&error), yaml_error_message(&error))])?;
    let mut errors = Vec::new();
    let mut groups = Vec::new();
    let mut names = HashSet::new();
    for spanned in raw.and_then(|raw| raw.groups).unwrap_or_default() {
        let position = Position { line: spanned.referenced.line(), column: spanned.referenced.column() };
        let raw = spanned.value;
        let name = raw.name.map(|t| t.0).unwrap_or_default();
        let mut group_error = |message: String| {
            errors.push(RuleFileError {
                path: path.to_owned(),
                position: Some(position),
                group: None,
                rule: None,
                message,
            })
        };
        if name.is_empty() {
            group_error("groupname must not be empty".to_owned());
        } else if !names.insert(name.clone()) {
            group_error(format!("groupname: {name:?} is repeated in the same file"));
        }
        let mut group_error = |message: String| {
            errors.push(RuleFileError {
                path: path.to_owned(),
                position: Some(position),
                group: Some(name.clone()),
                rule: None,
                message,
            })
        };
        let interval = optional_duration(raw.interval.as_ref(), "interval").unwrap_or_else(|message| {
            group_error(message);
            None
        });
        let query_offset = optional_duration(raw.query_offset.as_ref(), "query_offset").unwrap_or_else(|message| {
            group_error(message);
            None
        });
        let limit = match raw.limit.as_ref().map(|t| t.0.parse::<i64>()) {
            None => 0,
            Some(Ok(limit)) if limit >= 0 => limit as usize,
            Some(_) => {
                group_error(format!("invalid limit {:?}: must be a non-negative integer", raw.limit.map(|t| t.0)));
                0
            }
        };
        let labels = text_map(raw.labels);
        for (label, value) in &labels {
            if let Some(message) = label_problem(label, value) {
                group_error(message);
            }
        }
        let mut rules = Vec::new();
        for (index, spanned) in raw.rules.unwrap_or_default().into_iter().enumerate() {
            let position = Position { line: spanned.referenced.line(), column: spanned.referenced.column() };
            let (rule, problems) = convert_rule(spanned.value, position);
            for message in problems {
                errors.push(RuleFileError {
                    path: path.to_owned(),
                    position: Some(position),
                    group: Some(name.clone()),
                    rule: Some((index + 1, rule.name().to_owned())),
                    message,
                });
            }
            rules.push(rule);
        }
        groups.push(RuleGroupConfig { name, interval, limit, query_offset, labels, rules, position });
    }
    if errors.is_empty() { Ok(RuleFile { path: path.to_owned(), groups }) } else { Err(errors) }
}

fn text_map(map: Option<BTreeMap<String, Text>>) -> BTreeMap<String, String> {
    map.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect()
}

fn label_problem(name: &str, _value: &str) -> Option<String> {
    if !panoptes_model::is_valid_label_name(name) || name == panoptes_model::METRIC_NAME {
        return Some(format!("invalid label name: {name}"));
    }
    None
}

fn optional_duration(text: Option<&Text>, field: &str) -> Result<Option<Duration>, String> {
    match text {
        None => Ok(None),
        Some(Text(text)) if text.is_empty() => Ok(None),
        Some(Text(text)) => panoptes_model::time::parse_duration(text)
            .map(Some)
            .map_err(|message| format!("invalid {field}: {message}")),
    }
}

/// Converts one raw rule and lists what is wrong with it (Prometheus' `RuleNode.Validate`).
fn convert_rule(raw: RawRule, position: Position) -> (RuleConfig, Vec<String>) {
    let mut problems = Vec::new();
    let non_empty = |t: Option<Text>| t.map(|t| t.0).filter(|s| !s.is_empty());
    let record = non_empty(raw.record);
    let alert = non_empty(raw.alert);
    let expr = raw.expr.map(|t| t.0).unwrap_or_default();
    let mut duration = |text: Option<&Text>, field: &str| {
        optional_duration(text, field).unwrap_or_else(|message| {
            problems.push(message);
            None
        })
    };
    let for_duration = duration(raw.for_duration.as_ref(), "for");
    let keep_firing_for = duration(raw.keep_firing_for.as_ref(), "keep_firing_for");
    let rule = RuleConfig {
        record: record.clone(),
        alert: alert.clone(),
        expr: expr.clone(),
        for_duration: for_duration.unwrap_or_default(),
        keep_firing_for: keep_firing_for.unwrap_or_default(),
        labels: text_map(raw.labels),
        annotations: text_map(raw.annotations),
        position,
    };
    match (&record, &alert) {
        (Some(_), Some(_)) => problems.push("only one of 'record' and 'alert' must be set".to_owned()),
        (None, None) => problems.push("one of 'record' or 'alert' must be set".to_owned()),
        _ => {}
    }
    if expr.is_empty() {
        problems.push("field 'expr' must be set in rule".to_owned());
    } else if let Err(error) = panoptes_promql::parser::parse(&expr) {
        problems.push(format!("could not parse expression: {error}"));
    }
    if let Some(record) = &record {
        if !rule.annotations.is_empty() {
            problems.push("invalid field 'annotations' in recording rule".to_owned());
        }
        if for_duration.is_some_and(|d| !d.is_zero()) {
            problems.push("invalid field 'for' in recording rule".to_owned());
        }
        if keep_firing_for.is_some_and(|d| !d.is_zero()) {
            problems.push("invalid field 'keep_firing_for' in recording rule".to_owned());
        }
        if !panoptes_model::is_valid_label_name(record) {
            problems.push(format!("invalid recording rule name: {record}"));
        }
    }
    for (name, value) in &rule.labels {
        if let Some(message) = label_problem(name, value) {
            problems.push(message);
        }
    }
    for name in rule.annotations.keys() {
        if !panoptes_model::is_valid_label_name(name) {
            problems.push(format!("invalid annotation name: {name}"));
        }
    }
    if let Some(alert) = &alert {
        for (kind, map) in [("label", &rule.labels), ("annotation", &rule.annotations)] {
            for (name, text) in map {
                if let Err(error) = template::check_alert_template(alert, text) {
                    problems.push(format!("{kind} {name:?}: {error}"));
                }
            }
        }
    }
    (rule, problems)
}

fn yaml_position(error: &serde_saphyr::Error) -> Option<Position> {
    error
        .location()
        .filter(|location| location.line() > 0)
        .map(|location| Position { line: location.line(), column: location.column() })
}

/// Returns the message of a YAML error without the location the error type appends.
pub(crate) fn yaml_error_message(error: &serde_saphyr::Error) -> String {
    let mut options = serde_saphyr::RenderOptions::default();
    options.snippets = serde_saphyr::SnippetMode::Off;
    let message = error.without_snippet().render_with_options(options);
    match error.location() {
        Some(location) => {
            let suffix = format!(" at line {}, column {}", location.line(), location.column());
            message.strip_suffix(&suffix).map_or_else(|| message.clone(), str::to_owned)
        }
        None => message,
    }
}

/// Returns the position of a YAML error, when it has one.
pub(crate) fn yaml_error_position(error: &serde_saphyr::Error) -> Option<Position> {
    yaml_position(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_errors(text: &str, options: ParseOptions, expected: &[&str]) {
        let errors = parse_rule_file(text, "r.yml", options).expect_err("invalid");
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn parses_groups_and_rules() {
        let text = "groups:\n- name: g\n  interval: 30s\n  limit: 3\n  query_offset: 1m\n  labels: {team: a}\n  rules:\n  - record: a:b\n    expr: sum(up)\n  - alert: X\n    expr: up == 0\n    for: 5m\n    keep_firing_for: 1m\n    labels: {severity: 1}\n    annotations: {summary: 'x {{ $value }}'}\n";
        let file = parse_rule_file(text, "r.yml", ParseOptions::default()).expect("valid");
        let group = &file.groups[0];
        assert_eq!(group.interval, Some(Duration::from_secs(30)));
        assert_eq!(group.limit, 3);
        assert_eq!(group.query_offset, Some(Duration::from_secs(60)));
        assert_eq!(group.labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(group.rules[0].record.as_deref(), Some("a:b"));
        assert_eq!(group.rules[1].for_duration, Duration::from_secs(300));
        assert_eq!(group.rules[1].labels.get("severity").map(String::as_str), Some("1"));
        assert_eq!(group.rules[1].position, Position { line: 10, column: 5 });
    }

    #[test]
    fn unknown_keys_are_errors_with_position_unless_ignored() {
        let text = "groups:\n- name: g\n  owner: x\n  rules: []\n";
        let errors = parse_rule_file(text, "r.yml", ParseOptions::default()).expect_err("strict");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().starts_with("r.yml: 3:3: unknown field `owner`"), "{}", errors[0]);
        let options = ParseOptions { ignore_unknown_fields: true };
        assert!(parse_rule_file(text, "r.yml", options).is_ok());
    }

    #[test]
    fn validation_names_group_and_rule() {
        let text = "groups:\n- name: g\n  rules:\n  - record: x\n    expr: 'up +'\n    for: 1m\n  - alert: A\n    record: b\n    expr: up\n- name: g\n  rules: []\n";
        check_errors(
            text,
            ParseOptions::default(),
            &[
                "r.yml: 4:5: group \"g\", rule 1, \"x\": could not parse expression: invalid promql query",
                "r.yml: 4:5: group \"g\", rule 1, \"x\": invalid field 'for' in recording rule",
                "r.yml: 7:5: group \"g\", rule 2, \"b\": only one of 'record' and 'alert' must be set",
                "r.yml: 10:3: groupname: \"g\" is repeated in the same file",
            ],
        );
    }

    #[test]
    fn undefined_template_variable_is_reported() {
        let text =
            "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up\n    annotations:\n      s: '{{ $label.x }}'\n";
        let errors = parse_rule_file(text, "r.yml", ParseOptions::default()).expect_err("bad template");
        let message = errors[0].to_string();
        assert!(message.starts_with("r.yml: 4:5: group \"g\", rule 1, \"A\": annotation \"s\": "), "{message}");
        assert!(message.contains("$label"), "{message}");
    }
}
