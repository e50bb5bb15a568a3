//! `/api/v1/rules` and `/api/v1/alerts`: the rule manager's groups and active alerts in
//! Prometheus' JSON shape, with Prometheus' filters (`type`, `rule_name[]`, `rule_group[]`,
//! `file[]`).

use axum::extract::State;
use serde_json::{Value as Json, json};

use super::params::{Form, FromForm, invalid_param};
use super::{Params, PromResponse, PromResult};
use crate::api::ApiError;
use crate::state::AppState;

/// Parameters of `/api/v1/rules`.
#[derive(Debug, Default)]
pub(crate) struct RulesParams {
    /// `alert` or `record`; both when absent.
    kind: Option<&'static str>,
    rule_names: Vec<String>,
    rule_groups: Vec<String>,
    files: Vec<String>,
    exclude_alerts: bool,
}

impl FromForm for RulesParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        let kind = match form.get("type").map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("alert") => Some("alerting"),
            Some("record") => Some("recording"),
            Some(other) => return Err(invalid_param("type", format!("not supported value {other:?}"))),
        };
        let exclude_alerts = match form.get("exclude_alerts") {
            None => false,
            Some(text) => {
                text.parse().map_err(|_| invalid_param("exclude_alerts", format!("{text:?} is not a boolean")))?
            }
        };
        let owned = |name: &str| form.all(name).into_iter().map(str::to_owned).collect::<Vec<_>>();
        Ok(Self {
            kind,
            rule_names: owned("rule_name[]"),
            rule_groups: owned("rule_group[]"),
            files: owned("file[]"),
            exclude_alerts,
        })
    }
}

/// `GET /api/v1/rules`.
pub(crate) async fn rules(State(state): State<AppState>, Params(params): Params<RulesParams>) -> PromResult {
    let Some(manager) = state.rules() else {
        return Ok(PromResponse::json(&json!({ "groups": [] })));
    };
    let mut data = serde_json::to_value(manager.rule_groups())
        .map_err(|error| ApiError::new(panoptes_model::ErrorKind::Internal, error.to_string()))?;
    filter_groups(&mut data, &params);
    Ok(PromResponse::json(&data))
}

/// `GET /api/v1/alerts`.
pub(crate) async fn alerts(State(state): State<AppState>) -> PromResult {
    let Some(manager) = state.rules() else {
        return Ok(PromResponse::json(&json!({ "alerts": [] })));
    };
    let data = serde_json::to_value(manager.alerts())
        .map_err(|error| ApiError::new(panoptes_model::ErrorKind::Internal, error.to_string()))?;
    Ok(PromResponse::json(&data))
}

/// Applies the filters to `{"groups": [...]}`: groups whose file or name is not listed go, rules
/// of another type or name go, and groups left without rules go (as Prometheus does when a
/// filter is given).
fn filter_groups(data: &mut Json, params: &RulesParams) {
    let is_filtered = params.kind.is_some() || !params.rule_names.is_empty();
    let Some(groups) = data.get_mut("groups").and_then(Json::as_array_mut) else { return };
    let listed =
        |list: &[String], value: Option<&str>| list.is_empty() || value.is_some_and(|v| list.iter().any(|x| x == v));
    groups.retain(|group| {
        listed(&params.rule_groups, group["name"].as_str()) && listed(&params.files, group["file"].as_str())
    });
    for group in groups.iter_mut() {
        if let Some(rules) = group.get_mut("rules").and_then(Json::as_array_mut) {
            rules.retain(|rule| {
                params.kind.is_none_or(|kind| rule["type"] == kind) && listed(&params.rule_names, rule["name"].as_str())
            });
            if params.exclude_alerts {
                for rule in rules.iter_mut() {
                    if let Some(rule) = rule.as_object_mut() {
                        rule.remove("alerts");
                    }
                }
            }
        }
    }
    if is_filtered {
        groups.retain(|group| group["rules"].as_array().is_some_and(|rules| !rules.is_empty()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_select_types_names_groups_and_files() {
        let data = json!({"groups": [
            {"name": "a", "file": "f1", "rules": [
                {"type": "alerting", "name": "Down", "alerts": []},
                {"type": "recording", "name": "job:up:sum"}
            ]},
            {"name": "b", "file": "f2", "rules": [{"type": "recording", "name": "x"}]}
        ]});
        let run = |params: RulesParams| {
            let mut data = data.clone();
            filter_groups(&mut data, &params);
            data
        };
        let alerts_only = run(RulesParams { kind: Some("alerting"), ..RulesParams::default() });
        assert_eq!(alerts_only["groups"].as_array().unwrap().len(), 1);
        assert_eq!(alerts_only["groups"][0]["rules"][0]["name"], "Down");
        let in_file = run(RulesParams { files: vec!["f2".into()], ..RulesParams::default() });
        assert_eq!(in_file["groups"][0]["name"], "b");
        let excluded = run(RulesParams { exclude_alerts: true, ..RulesParams::default() });
        assert!(excluded["groups"][0]["rules"][0].get("alerts").is_none());
        assert_eq!(run(RulesParams::default()), data);
    }
}
