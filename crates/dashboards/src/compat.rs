//! The compatibility report: what of a Grafana dashboard Panoptes renders, what it converted
//! (legacy `graph` to `timeseries`, `singlestat` to `stat` or `gauge`) and what it does not
//! support, named panel by panel with its JSON path. Nothing is removed from the dashboard: an
//! unsupported panel or option stays in the JSON (so an export gives it back to Grafana) and is
//! listed here.

mod legacy;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Panel types the UI renders.
pub const SUPPORTED_PANEL_TYPES: &[&str] =
    &["timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "piechart", "row"];

/// Template variable types the UI evaluates.
pub const SUPPORTED_VARIABLE_TYPES: &[&str] = &["query", "custom", "interval", "constant", "textbox", "datasource"];

/// Panel keys every supported panel type understands (layout, queries, common options).
const COMMON_PANEL_KEYS: &[&str] = &[
    "id",
    "gridPos",
    "type",
    "title",
    "description",
    "datasource",
    "targets",
    "fieldConfig",
    "options",
    "transparent",
    "links",
    "repeat",
    "repeatDirection",
    "maxPerRow",
    "interval",
    "maxDataPoints",
    "timeFrom",
    "timeShift",
    "hideTimeOverride",
    "pluginVersion",
    "collapsed",
    "panels",
    "transformations",
    "scopedVars",
    "cacheTimeout",
    "queryCachingTTL",
    "editable",
    "error",
    "isNew",
    "span",
    "height",
    "libraryPanel",
];

/// Keys of `fieldConfig.defaults` the UI applies.
const FIELD_DEFAULT_KEYS: &[&str] = &[
    "unit",
    "decimals",
    "min",
    "max",
    "thresholds",
    "mappings",
    "color",
    "custom",
    "displayName",
    "noValue",
    "links",
    "description",
];

/// Override matchers the UI applies.
const OVERRIDE_MATCHERS: &[&str] = &["byName", "byRegexp", "byFrameRefID", "byType"];

/// Override properties the UI applies; `custom.*` properties are all accepted.
const OVERRIDE_PROPERTIES: &[&str] =
    &["unit", "decimals", "min", "max", "color", "displayName", "thresholds", "mappings", "noValue", "links"];

/// Reducers of legends and stat panels the UI computes.
const CALCS: &[&str] = &["min", "max", "mean", "last", "lastNotNull", "first", "firstNotNull", "sum", "count", "range"];

/// Query target keys the UI understands.
const TARGET_KEYS: &[&str] = &[
    "expr",
    "legendFormat",
    "interval",
    "instant",
    "range",
    "format",
    "refId",
    "hide",
    "datasource",
    "editorMode",
    "step",
    "intervalFactor",
    "queryType",
    "exemplar",
    "metric",
];

/// The compatibility report of one dashboard, stored in its meta and returned on save and
/// import under `panoptesCompatibility`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompatibilityReport {
    /// Panels found, rows included, nested ones too.
    pub panel_count: usize,
    /// PromQL queries found (targets with an `expr`).
    pub query_count: usize,
    /// Panels whose legacy type was converted.
    pub converted_count: usize,
    /// Panels, variables and dashboard settings with at least one unsupported item.
    pub unsupported_count: usize,
    /// Every panel, in document order.
    pub panels: Vec<PanelReport>,
    /// Every template variable, in document order.
    pub variables: Vec<VariableReport>,
    /// Dashboard-level items that are not supported (annotation queries, legacy layout).
    pub dashboard: Vec<Issue>,
    /// What the import resolved by default (a data source input left out).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl CompatibilityReport {
    /// Returns true when nothing was converted and nothing is unsupported.
    pub fn is_fully_supported(&self) -> bool {
        self.converted_count == 0 && self.unsupported_count == 0
    }

    /// Returns every unsupported item as `path: message` lines, panels first.
    pub fn unsupported_lines(&self) -> Vec<String> {
        let panels = self.panels.iter().flat_map(|panel| panel.unsupported.iter());
        let variables = self.variables.iter().flat_map(|variable| variable.unsupported.iter());
        panels
            .chain(variables)
            .chain(self.dashboard.iter())
            .map(|issue| format!("{}: {}", issue.path, issue.message))
            .collect()
    }
}

/// How well one panel is supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Rendered as Grafana would, as far as Panoptes knows.
    Supported,
    /// A legacy type or option was converted to its modern equivalent; see `conversions`.
    Converted,
    /// Something is not supported; see `unsupported`.
    Unsupported,
}

/// One panel's entry in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PanelReport {
    /// JSON path of the panel in the dashboard, e.g. `panels[3].panels[0]`.
    pub path: String,
    /// The panel's `id`.
    pub id: Option<i64>,
    /// The panel's title.
    pub title: String,
    /// The panel's type after conversion.
    #[serde(rename = "type")]
    pub panel_type: String,
    /// The type before conversion, when it was converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_type: Option<String>,
    /// Supported, converted or unsupported (unsupported wins over converted).
    pub status: Status,
    /// PromQL queries of the panel.
    pub queries: usize,
    /// What was converted, one sentence each.
    pub conversions: Vec<String>,
    /// What is not supported.
    pub unsupported: Vec<Issue>,
}

/// One template variable's entry in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableReport {
    /// JSON path, e.g. `templating.list[2]`.
    pub path: String,
    /// The variable's name.
    pub name: String,
    /// The variable's type.
    #[serde(rename = "type")]
    pub variable_type: String,
    /// Supported or unsupported.
    pub status: Status,
    /// What is not supported.
    pub unsupported: Vec<Issue>,
}

/// One unsupported item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// JSON path of the item, e.g. `panels[2].fieldConfig.overrides[0].matcher`.
    pub path: String,
    /// What is not supported and what Panoptes does instead.
    pub message: String,
}

/// Converts legacy panels of `dashboard` in place and returns its compatibility report.
pub fn check_and_convert(dashboard: &mut Value) -> CompatibilityReport {
    let mut report = CompatibilityReport::default();
    let variables: BTreeSet<String> = dashboard
        .pointer("/templating/list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|variable| variable.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if let Some(panels) = dashboard.get_mut("panels").and_then(Value::as_array_mut) {
        for (index, panel) in panels.iter_mut().enumerate() {
            check_panel(panel, &format!("panels[{index}]"), &variables, &mut report);
        }
    }
    if let Some(rows) = dashboard.get_mut("rows").and_then(Value::as_array_mut) {
        report.dashboard.push(Issue {
            path: "rows".to_owned(),
            message: "legacy `rows` layout (schemaVersion < 16) is not converted to a grid; open and save the \
                      dashboard in Grafana 5 or later first"
                .to_owned(),
        });
        for (row_index, row) in rows.iter_mut().enumerate() {
            if let Some(panels) = row.get_mut("panels").and_then(Value::as_array_mut) {
                for (index, panel) in panels.iter_mut().enumerate() {
                    check_panel(panel, &format!("rows[{row_index}].panels[{index}]"), &variables, &mut report);
                }
            }
        }
    }
    if let Some(variables) = dashboard.pointer("/templating/list").and_then(Value::as_array) {
        for (index, variable) in variables.iter().enumerate() {
            report.variables.push(check_variable(variable, &format!("templating.list[{index}]")));
        }
    }
    check_annotations(dashboard, &mut report);
    report.converted_count = report.panels.iter().filter(|panel| !panel.conversions.is_empty()).count();
    report.unsupported_count = report.panels.iter().filter(|panel| !panel.unsupported.is_empty()).count()
        + report.variables.iter().filter(|variable| !variable.unsupported.is_empty()).count()
        + report.dashboard.len();
    report
}

fn check_panel(panel: &mut Value, path: &str, variables: &BTreeSet<String>, report: &mut CompatibilityReport) {
    let Some(object) = panel.as_object_mut() else {
        report.panels.push(PanelReport {
            path: path.to_owned(),
            id: None,
            title: String::new(),
            panel_type: String::new(),
            original_type: None,
            status: Status::Unsupported,
            queries: 0,
            conversions: Vec::new(),
            unsupported: vec![Issue { path: path.to_owned(), message: "panel is not a JSON object".to_owned() }],
        });
        return;
    };
    let original_type = object.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    let mut entry = PanelReport {
        path: path.to_owned(),
        id: object.get("id").and_then(Value::as_i64),
        title: object.get("title").and_then(Value::as_str).unwrap_or("").to_owned(),
        panel_type: original_type.clone(),
        original_type: None,
        status: Status::Supported,
        queries: 0,
        conversions: Vec::new(),
        unsupported: Vec::new(),
    };
    let issue =
        |entry: &mut PanelReport, at: String, message: String| entry.unsupported.push(Issue { path: at, message });
    match original_type.as_str() {
        "graph" => legacy::convert_graph(object, path, &mut entry),
        "singlestat" | "grafana-singlestat-panel" => legacy::convert_singlestat(object, path, &mut entry),
        "table-old" => legacy::rename_type(object, &mut entry, "table"),
        "grafana-piechart-panel" => legacy::rename_type(object, &mut entry, "piechart"),
        "" => issue(&mut entry, format!("{path}.type"), "panel has no type; shown as a placeholder".to_owned()),
        known if SUPPORTED_PANEL_TYPES.contains(&known) => {}
        unknown => issue(
            &mut entry,
            format!("{path}.type"),
            format!("panel type `{unknown}` is not supported; the panel is kept and shown as a placeholder"),
        ),
    }
    if entry.original_type.is_some() {
        entry.panel_type = object.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    }
    if SUPPORTED_PANEL_TYPES.contains(&entry.panel_type.as_str()) {
        for key in object.keys() {
            if !COMMON_PANEL_KEYS.contains(&key.as_str()) {
                issue(&mut entry, format!("{path}.{key}"), format!("panel option `{key}` is not supported"));
            }
        }
    }
    check_common_options(object, path, &mut entry);
    check_variable_references(object, path, variables, &mut entry);
    entry.status = if !entry.unsupported.is_empty() {
        Status::Unsupported
    } else if !entry.conversions.is_empty() {
        Status::Converted
    } else {
        Status::Supported
    };
    report.panel_count += 1;
    report.query_count += entry.queries;
    report.panels.push(entry);
    if let Some(children) = object.get_mut("panels").and_then(Value::as_array_mut) {
        for (index, child) in children.iter_mut().enumerate() {
            check_panel(child, &format!("{path}.panels[{index}]"), variables, report);
        }
    }
}

/// Checks what every panel type shares: queries, transformations, field config, legend.
fn check_common_options(object: &Map<String, Value>, path: &str, entry: &mut PanelReport) {
    let mut push = |at: String, message: String| entry.unsupported.push(Issue { path: at, message });
    // Rows and text panels run no queries; Grafana keeps leftover targets on them.
    let runs_queries = !matches!(entry.panel_type.as_str(), "row" | "text");
    if let Some(targets) = object.get("targets").and_then(Value::as_array).filter(|_| runs_queries) {
        for (index, target) in targets.iter().enumerate() {
            let at = format!("{path}.targets[{index}]");
            let Some(target) = target.as_object() else {
                push(at, "query is not a JSON object".to_owned());
                continue;
            };
            let hidden = target.get("hide").and_then(Value::as_bool).unwrap_or(false);
            match target.get("expr").and_then(Value::as_str) {
                Some(expr) if !expr.trim().is_empty() => entry.queries += 1,
                _ if hidden => {}
                _ => push(at.clone(), "query has no PromQL `expr` (only Prometheus queries are supported)".to_owned()),
            }
            for key in target.keys() {
                if !TARGET_KEYS.contains(&key.as_str()) {
                    push(format!("{at}.{key}"), format!("query option `{key}` is not supported"));
                }
            }
            if target.get("exemplar").and_then(Value::as_bool) == Some(true) {
                push(format!("{at}.exemplar"), "exemplars are not shown".to_owned());
            }
            if let Some(format) = target.get("format").and_then(Value::as_str)
                && !matches!(format, "time_series" | "table" | "heatmap")
            {
                push(format!("{at}.format"), format!("query format `{format}` is not supported"));
            }
        }
    }
    if let Some(transformations) = object.get("transformations").and_then(Value::as_array) {
        for (index, transformation) in transformations.iter().enumerate() {
            let id = transformation.get("id").and_then(Value::as_str).unwrap_or("?");
            push(format!("{path}.transformations[{index}]"), format!("transformation `{id}` is not applied"));
        }
    }
    if object.contains_key("libraryPanel") {
        push(format!("{path}.libraryPanel"), "library panels are not resolved".to_owned());
    }
    if let Some(defaults) =
        object.get("fieldConfig").and_then(|config| config.get("defaults")).and_then(Value::as_object)
    {
        for key in defaults.keys() {
            if !FIELD_DEFAULT_KEYS.contains(&key.as_str()) {
                push(format!("{path}.fieldConfig.defaults.{key}"), format!("field option `{key}` is not supported"));
            }
        }
    }
    if let Some(overrides) =
        object.get("fieldConfig").and_then(|config| config.get("overrides")).and_then(Value::as_array)
    {
        for (index, field_override) in overrides.iter().enumerate() {
            let at = format!("{path}.fieldConfig.overrides[{index}]");
            let matcher = field_override.pointer("/matcher/id").and_then(Value::as_str).unwrap_or("");
            if !OVERRIDE_MATCHERS.contains(&matcher) {
                push(
                    format!("{at}.matcher"),
                    format!("override matcher `{matcher}` is not supported; override ignored"),
                );
            }
            for (property_index, property) in
                field_override.get("properties").and_then(Value::as_array).into_iter().flatten().enumerate()
            {
                let id = property.get("id").and_then(Value::as_str).unwrap_or("");
                if !id.starts_with("custom.") && !OVERRIDE_PROPERTIES.contains(&id) {
                    push(
                        format!("{at}.properties[{property_index}]"),
                        format!("override property `{id}` is not supported"),
                    );
                }
            }
        }
    }
    for pointer in ["/options/legend/calcs", "/options/reduceOptions/calcs"] {
        for (index, calc) in object_pointer(object, pointer).and_then(Value::as_array).into_iter().flatten().enumerate()
        {
            let calc = calc.as_str().unwrap_or("");
            if !CALCS.contains(&calc) {
                let at = format!("{path}{}[{index}]", pointer.replace('/', "."));
                push(at, format!("reducer `{calc}` is not supported"));
            }
        }
    }
}

/// Grafana's global variables, which dashboards use without defining them.
const GLOBAL_VARIABLES: &[&str] = &[
    "__interval",
    "__interval_ms",
    "__rate_interval",
    "__rate_interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
    "__from",
    "__to",
    "__dashboard",
    "__org",
    "__user",
    "__name",
    "__all",
    "__timezone",
];

/// Reports queries and repeats that refer to a variable the dashboard does not define (a
/// dangling reference stays in the query text and makes it fail).
fn check_variable_references(
    object: &Map<String, Value>,
    path: &str,
    variables: &BTreeSet<String>,
    entry: &mut PanelReport,
) {
    let is_known = |name: &str| variables.contains(name) || GLOBAL_VARIABLES.contains(&name);
    if let Some(repeat) = object.get("repeat").and_then(Value::as_str).filter(|repeat| !repeat.is_empty())
        && !is_known(repeat)
    {
        entry.unsupported.push(Issue {
            path: format!("{path}.repeat"),
            message: format!("repeats by variable `{repeat}`, which the dashboard does not define"),
        });
    }
    for (index, target) in object.get("targets").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let Some(expr) = target.get("expr").and_then(Value::as_str) else { continue };
        let mut reported = BTreeSet::new();
        for name in variable_references(expr) {
            if !is_known(name) && reported.insert(name) {
                entry.unsupported.push(Issue {
                    path: format!("{path}.targets[{index}].expr"),
                    message: format!("query refers to variable `${name}`, which the dashboard does not define"),
                });
            }
        }
    }
}

/// Returns the variable names an expression refers to as `$name`, `${name}`, `${name:format}`
/// or `[[name]]`. Names starting with a digit are regex group references (`label_replace`'s
/// `"$1"`), not variables.
fn variable_references(expr: &str) -> Vec<&str> {
    let is_name = |character: char| character.is_ascii_alphanumeric() || character == '_';
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(position) = rest.find(['$', '[']) {
        let after = &rest[position + 1..];
        if rest[position..].starts_with("${") {
            let inner = &after[1..];
            let end = inner.find(|character: char| !is_name(character)).unwrap_or(inner.len());
            if end > 0 {
                names.push(&inner[..end]);
            }
        } else if rest[position..].starts_with("[[") {
            let inner = &after[1..];
            let end = inner.find(|character: char| !is_name(character)).unwrap_or(inner.len());
            if end > 0 && (inner[end..].starts_with("]]") || inner[end..].starts_with(':')) {
                names.push(&inner[..end]);
            }
        } else if rest[position..].starts_with('$') {
            let end = after.find(|character: char| !is_name(character)).unwrap_or(after.len());
            if end > 0 {
                names.push(&after[..end]);
            }
        }
        rest = after;
    }
    names.retain(|name| !name.starts_with(|character: char| character.is_ascii_digit()));
    names
}

fn object_pointer<'a>(object: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let mut parts = pointer.trim_start_matches('/').splitn(2, '/');
    let first = object.get(parts.next()?)?;
    match parts.next() {
        Some(rest) => first.pointer(&format!("/{rest}")),
        None => Some(first),
    }
}

fn check_variable(variable: &Value, path: &str) -> VariableReport {
    let name = variable.get("name").and_then(Value::as_str).unwrap_or("").to_owned();
    let variable_type = variable.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    let mut unsupported = Vec::new();
    if !SUPPORTED_VARIABLE_TYPES.contains(&variable_type.as_str()) {
        unsupported.push(Issue {
            path: format!("{path}.type"),
            message: format!("variable type `{variable_type}` is not supported; the variable is empty"),
        });
    }
    if variable_type == "query" {
        let query = match variable.get("query") {
            Some(Value::String(query)) => query.clone(),
            Some(Value::Object(object)) => object.get("query").and_then(Value::as_str).unwrap_or("").to_owned(),
            _ => String::new(),
        };
        let query = query.trim();
        let function = query.split('(').next().unwrap_or("").trim();
        let is_function_call = query.ends_with(')') && !function.is_empty() && !function.contains(' ');
        if is_function_call && !matches!(function, "label_values" | "metrics" | "query_result") {
            unsupported.push(Issue {
                path: format!("{path}.query"),
                message: format!("query variable function `{function}` is not supported"),
            });
        } else if !is_function_call && !query.is_empty() {
            unsupported.push(Issue {
                path: format!("{path}.query"),
                message: "query variables must use label_values(), metrics() or query_result()".to_owned(),
            });
        }
    }
    let status = if unsupported.is_empty() { Status::Supported } else { Status::Unsupported };
    VariableReport { path: path.to_owned(), name, variable_type, status, unsupported }
}

fn check_annotations(dashboard: &Value, report: &mut CompatibilityReport) {
    let Some(list) = dashboard.pointer("/annotations/list").and_then(Value::as_array) else { return };
    for (index, annotation) in list.iter().enumerate() {
        let built_in = annotation.get("builtIn").and_then(Value::as_i64) == Some(1);
        let enabled = annotation.get("enable").and_then(Value::as_bool).unwrap_or(true);
        if !built_in && enabled {
            let name = annotation.get("name").and_then(Value::as_str).unwrap_or("");
            report.dashboard.push(Issue {
                path: format!("annotations.list[{index}]"),
                message: format!("annotation query `{name}` is not evaluated"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn graph_becomes_timeseries_with_converted_options() {
        let mut dashboard = json!({"panels": [{
            "id": 1, "type": "graph", "title": "Requests",
            "targets": [{"expr": "rate(x[5m])", "refId": "A"}],
            "yaxes": [{"format": "reqps", "min": 0}, {"format": "short"}],
            "legend": {"show": true, "alignAsTable": true, "max": true, "current": true},
            "stack": true, "fill": 1, "lines": true,
            "seriesOverrides": [{"alias": "/5xx/", "color": "red", "zindex": 3}],
            "aliasColors": {"ok": "green"}
        }]});
        let report = check_and_convert(&mut dashboard);
        let panel = &dashboard["panels"][0];
        assert_eq!(panel["type"], "timeseries");
        assert_eq!(panel["fieldConfig"]["defaults"]["unit"], "reqps");
        assert_eq!(panel["fieldConfig"]["defaults"]["min"], 0.0);
        assert_eq!(panel["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"], "normal");
        assert_eq!(panel["fieldConfig"]["defaults"]["custom"]["fillOpacity"], 10.0);
        assert_eq!(panel["options"]["legend"]["displayMode"], "table");
        assert_eq!(panel["options"]["legend"]["calcs"], json!(["max", "lastNotNull"]));
        assert!(panel.get("yaxes").is_none(), "legacy keys are replaced");
        assert_eq!(panel["fieldConfig"]["overrides"].as_array().unwrap().len(), 2);
        let entry = &report.panels[0];
        assert_eq!(entry.original_type.as_deref(), Some("graph"));
        assert_eq!(entry.status, Status::Unsupported, "{entry:?}");
        assert_eq!(entry.unsupported[0].path, "panels[0].seriesOverrides[0].zindex");
        assert_eq!(report.query_count, 1);
    }

    #[test]
    fn graph_thresholds_become_threshold_steps_drawn_as_lines_and_areas() {
        let mut dashboard = json!({"panels": [
            {"id": 1, "type": "graph", "thresholds": [
                {"value": 90, "op": "gt", "colorMode": "critical", "fill": true, "line": true},
                {"value": 70, "op": "gt", "colorMode": "warning", "fill": true, "line": false}
            ]},
            {"id": 2, "type": "graph", "thresholds": [
                {"value": 10, "op": "lt", "colorMode": "custom", "fillColor": "#ff000033", "fill": false, "line": true}
            ]},
            {"id": 3, "type": "graph", "thresholds": [{"value": "high", "op": "gt"}]}
        ]});
        let report = check_and_convert(&mut dashboard);
        let first = &dashboard["panels"][0]["fieldConfig"]["defaults"];
        assert_eq!(
            first["thresholds"],
            json!({"mode": "absolute", "steps": [
                {"color": "transparent", "value": null},
                {"color": "orange", "value": 70.0},
                {"color": "red", "value": 90.0}
            ]})
        );
        assert_eq!(first["custom"]["thresholdsStyle"], json!({"mode": "line+area"}));
        assert_eq!(report.panels[0].status, Status::Converted, "{:?}", report.panels[0]);
        // Below 10 coloured, nothing above; only a line.
        let second = &dashboard["panels"][1]["fieldConfig"]["defaults"];
        assert_eq!(
            second["thresholds"]["steps"],
            json!([{"color": "#ff000033", "value": null}, {"color": "transparent", "value": 10.0}])
        );
        assert_eq!(second["custom"]["thresholdsStyle"], json!({"mode": "line"}));
        // A threshold without a number is reported, not guessed.
        assert_eq!(report.panels[2].status, Status::Unsupported);
        assert_eq!(report.panels[2].unsupported[0].path, "panels[2].thresholds");
        assert!(dashboard["panels"][2]["fieldConfig"]["defaults"].get("thresholds").is_none());
    }

    #[test]
    fn singlestat_becomes_stat_or_gauge() {
        let mut dashboard = json!({"panels": [
            {"id": 1, "type": "singlestat", "format": "percent", "thresholds": "80,90",
             "colors": ["green", "orange", "red"], "valueName": "current", "colorBackground": true,
             "sparkline": {"show": true}, "valueMaps": [{"value": "0", "op": "=", "text": "down"}]},
            {"id": 2, "type": "singlestat", "gauge": {"show": true, "maxValue": 100, "minValue": 0}}
        ]});
        let report = check_and_convert(&mut dashboard);
        let stat = &dashboard["panels"][0];
        assert_eq!(stat["type"], "stat");
        assert_eq!(stat["fieldConfig"]["defaults"]["unit"], "percent");
        assert_eq!(stat["fieldConfig"]["defaults"]["thresholds"]["steps"][2], json!({"color": "red", "value": 90.0}));
        assert_eq!(stat["options"]["reduceOptions"]["calcs"], json!(["lastNotNull"]));
        assert_eq!(stat["options"]["colorMode"], "background");
        assert_eq!(stat["options"]["graphMode"], "area");
        assert_eq!(stat["fieldConfig"]["defaults"]["mappings"][0]["options"]["0"]["text"], "down");
        assert_eq!(dashboard["panels"][1]["type"], "gauge");
        assert_eq!(dashboard["panels"][1]["fieldConfig"]["defaults"]["max"], 100.0);
        assert_eq!(report.converted_count, 2);
        assert!(report.panels.iter().all(|panel| panel.status == Status::Converted), "{report:?}");
    }

    #[test]
    fn legacy_rows_layout_is_reported_and_its_panels_checked() {
        let mut dashboard = json!({"rows": [{"title": "Row", "panels": [
            {"id": 1, "type": "singlestat", "span": 6, "targets": [{"expr": "up"}]},
            {"id": 2, "type": "dashlist", "span": 6}
        ]}]});
        let report = check_and_convert(&mut dashboard);
        assert_eq!(report.panel_count, 2);
        assert_eq!(dashboard["rows"][0]["panels"][0]["type"], "stat");
        assert_eq!(
            report.unsupported_lines(),
            [
                "rows[0].panels[1].type: panel type `dashlist` is not supported; the panel is kept and shown as a placeholder",
                "rows: legacy `rows` layout (schemaVersion < 16) is not converted to a grid; open and save the dashboard in Grafana 5 or later first",
            ]
        );
    }

    #[test]
    fn dangling_variable_references_are_reported() {
        assert_eq!(
            variable_references("rate(x{a=\"$ns\", b=~\"${wl:regex}\", c=\"[[old]]\"}[$__rate_interval]) > $1"),
            ["ns", "wl", "old", "__rate_interval"]
        );
        let mut dashboard = json!({
            "templating": {"list": [{"name": "ns", "type": "custom"}]},
            "panels": [{"id": 1, "type": "stat", "repeat": "pod", "targets": [
                {"expr": "sum(rate(x{ns=\"$ns\", wl=\"$wl\", other=\"${wl}\"}[$__rate_interval]))"}
            ]}]
        });
        let report = check_and_convert(&mut dashboard);
        assert_eq!(
            report.unsupported_lines(),
            [
                "panels[0].repeat: repeats by variable `pod`, which the dashboard does not define",
                "panels[0].targets[0].expr: query refers to variable `$wl`, which the dashboard does not define",
            ]
        );
    }

    #[test]
    fn unsupported_types_options_and_variables_are_named_not_dropped() {
        let mut dashboard = json!({
            "panels": [
                {"id": 1, "type": "row", "collapsed": true, "panels": [
                    {"id": 2, "type": "nodeGraph", "title": "Graph", "targets": [{"refId": "A", "query": "x"}]}
                ]},
                {"id": 3, "type": "timeseries", "title": "T", "transformations": [{"id": "merge"}],
                 "fieldConfig": {"defaults": {}, "overrides": [{"matcher": {"id": "byValue"}, "properties": []}]}}
            ],
            "templating": {"list": [
                {"name": "ns", "type": "query", "query": "label_values(up, namespace)"},
                {"name": "filters", "type": "adhoc"},
                {"name": "names", "type": "query", "query": {"query": "label_names()", "refId": "A"}}
            ]},
            "annotations": {"list": [{"builtIn": 1, "name": "Annotations & Alerts"}, {"name": "deploys", "expr": "x"}]}
        });
        let report = check_and_convert(&mut dashboard);
        assert_eq!(dashboard["panels"][0]["panels"][0]["type"], "nodeGraph", "kept as is");
        assert_eq!(report.panel_count, 3);
        let lines = report.unsupported_lines();
        let expected = [
            "panels[0].panels[0].type: panel type `nodeGraph` is not supported; the panel is kept and shown as a placeholder",
            "panels[0].panels[0].targets[0]: query has no PromQL `expr` (only Prometheus queries are supported)",
            "panels[0].panels[0].targets[0].query: query option `query` is not supported",
            "panels[1].transformations[0]: transformation `merge` is not applied",
            "panels[1].fieldConfig.overrides[0].matcher: override matcher `byValue` is not supported; override ignored",
            "templating.list[1].type: variable type `adhoc` is not supported; the variable is empty",
            "templating.list[2].query: query variable function `label_names` is not supported",
            "annotations.list[1]: annotation query `deploys` is not evaluated",
        ];
        assert_eq!(lines, expected);
        assert_eq!(report.unsupported_count, 5);
        assert_eq!(report.variables[0].status, Status::Supported);
    }
}
