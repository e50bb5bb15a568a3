//! Import of dashboards exported for sharing (grafana.com): the `__inputs` section declares data
//! source and constant inputs that the dashboard refers to as `${NAME}`; an import replaces them
//! with the values the request supplies, as Grafana's `DashTemplateEvaluator` does.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// The uid of Panoptes' own Prometheus-compatible data source, which a data source input that the
/// request leaves out resolves to.
pub const BUILTIN_DATASOURCE_UID: &str = "panoptes";

/// One input of an import request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportInput {
    /// The input's name, as in `__inputs` (`DS_PROMETHEUS`).
    #[serde(default)]
    pub name: String,
    /// `datasource` or `constant`.
    #[serde(default, rename = "type")]
    pub input_type: String,
    /// The data source plugin, for data source inputs.
    #[serde(default)]
    pub plugin_id: String,
    /// The value: a data source uid or name, or the constant.
    #[serde(default)]
    pub value: String,
}

/// Replaces the `${NAME}` references of `dashboard`'s `__inputs` with `inputs` and removes
/// `__inputs`. Returns notes on inputs resolved by default (for the compatibility report).
///
/// # Errors
///
/// `InputMissing` for an input that is neither supplied, nor has a default value, nor is a
/// Prometheus data source (which resolves to the built-in one).
pub fn apply_inputs(dashboard: &mut Value, inputs: &[ImportInput]) -> Result<Vec<String>> {
    let Some(object) = dashboard.as_object_mut() else {
        return Err(Error::BadRequest("dashboard: expected an object".into()));
    };
    let declared = object.remove("__inputs").and_then(|inputs| inputs.as_array().cloned()).unwrap_or_default();
    let mut values = BTreeMap::new();
    let mut notes = Vec::new();
    for (index, input) in declared.iter().enumerate() {
        let Some(name) = input.get("name").and_then(Value::as_str) else {
            return Err(Error::BadRequest(format!("dashboard.__inputs[{index}].name: missing")));
        };
        let input_type = input.get("type").and_then(Value::as_str).unwrap_or("");
        let plugin = input.get("pluginId").and_then(Value::as_str).unwrap_or("");
        let supplied = inputs.iter().find(|given| given.name == name).map(|given| given.value.clone());
        let value = match supplied {
            Some(value) if !value.is_empty() => value,
            _ => match input.get("value").and_then(Value::as_str).filter(|value| !value.is_empty()) {
                Some(default) => default.to_owned(),
                None if input_type == "datasource" && plugin == "prometheus" => {
                    notes.push(format!("input {name} not supplied: uses the built-in data source"));
                    BUILTIN_DATASOURCE_UID.to_owned()
                }
                None => return Err(Error::InputMissing(name.to_owned())),
            },
        };
        values.insert(name.to_owned(), value);
    }
    if !values.is_empty() {
        replace_references(dashboard, &values);
    }
    Ok(notes)
}

fn replace_references(value: &mut Value, values: &BTreeMap<String, String>) {
    match value {
        Value::String(text) if text.contains("${") => {
            for (name, replacement) in values {
                let reference = format!("${{{name}}}");
                if text.contains(&reference) {
                    *text = text.replace(&reference, replacement);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| replace_references(item, values)),
        Value::Object(map) => map.values_mut().for_each(|item| replace_references(item, values)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn inputs_are_substituted_everywhere_and_removed() {
        let mut dashboard = json!({
            "__inputs": [
                {"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"},
                {"name": "VAR_JOB", "type": "constant", "value": "node"}
            ],
            "panels": [{"datasource": "${DS_PROMETHEUS}", "targets": [{"expr": "up{job=\"${VAR_JOB}\"}"}]}],
            "templating": {"list": [{"datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}}]}
        });
        let inputs = [ImportInput { name: "DS_PROMETHEUS".into(), value: "prom-uid".into(), ..ImportInput::default() }];
        let notes = apply_inputs(&mut dashboard, &inputs).unwrap();
        assert!(notes.is_empty());
        assert!(dashboard.get("__inputs").is_none());
        assert_eq!(dashboard["panels"][0]["datasource"], "prom-uid");
        assert_eq!(dashboard["panels"][0]["targets"][0]["expr"], "up{job=\"node\"}");
        assert_eq!(dashboard["templating"]["list"][0]["datasource"]["uid"], "prom-uid");
    }

    #[test]
    fn a_missing_prometheus_input_defaults_and_others_fail() {
        let mut dashboard =
            json!({"__inputs": [{"name": "DS_P", "type": "datasource", "pluginId": "prometheus"}], "x": "${DS_P}"});
        let notes = apply_inputs(&mut dashboard, &[]).unwrap();
        assert_eq!(dashboard["x"], BUILTIN_DATASOURCE_UID);
        assert_eq!(notes.len(), 1);
        let mut dashboard = json!({"__inputs": [{"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"}]});
        let error = apply_inputs(&mut dashboard, &[]).unwrap_err();
        assert_eq!(error.to_string(), "Dashboard input missing: DS_LOKI");
    }
}
