//! Conversion of legacy panels to their modern equivalents, as Grafana's own migrations do for
//! the common options: `graph` to `timeseries`, `singlestat` to `stat` or `gauge`, `table-old`
//! to `table`, `grafana-piechart-panel` to `piechart`. What a conversion cannot carry over is
//! pushed to the panel's unsupported list, never dropped silently.

use serde_json::{Map, Value, json};

use super::{Issue, PanelReport};

/// Changes the panel's type and records the conversion.
pub(super) fn rename_type(object: &mut Map<String, Value>, entry: &mut PanelReport, to: &str) {
    let from = object.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
    object.insert("type".to_owned(), Value::String(to.to_owned()));
    entry.conversions.push(format!("panel type `{from}` converted to `{to}`"));
    entry.original_type = Some(from);
}

/// Legacy graph keys converted to timeseries field config and options.
const GRAPH_CONVERTED_KEYS: &[&str] = &[
    "yaxes",
    "xaxis",
    "lines",
    "bars",
    "points",
    "linewidth",
    "fill",
    "fillGradient",
    "stack",
    "percentage",
    "steppedLine",
    "nullPointMode",
    "legend",
    "tooltip",
    "aliasColors",
    "pointradius",
    "dashes",
    "dashLength",
    "spaceLength",
    "renderer",
    "yaxis",
    "seriesOverrides",
    "thresholds",
    "timeRegions",
    "hiddenSeries",
    "decimals",
    "format",
];

/// Converts a legacy `graph` panel to `timeseries`, as Grafana's own migration does for the
/// common options; what is not converted is reported.
pub(super) fn convert_graph(object: &mut Map<String, Value>, path: &str, entry: &mut PanelReport) {
    rename_type(object, entry, "timeseries");
    let mut defaults = Map::new();
    let mut custom = Map::new();
    let mut options = object.get("options").and_then(Value::as_object).cloned().unwrap_or_default();
    let mut overrides = Vec::new();
    let mut push = |at: String, message: String| entry.unsupported.push(Issue { path: at, message });
    if let Some(left) = object.get("yaxes").and_then(|axes| axes.get(0)) {
        if let Some(format) = left.get("format").and_then(Value::as_str)
            && format != "short"
        {
            defaults.insert("unit".to_owned(), json!(format));
        }
        for key in ["min", "max", "decimals"] {
            if let Some(value) = left.get(key).filter(|value| !value.is_null()) {
                let number = value.as_f64().or_else(|| value.as_str().and_then(|text| text.parse().ok()));
                if let Some(number) = number {
                    defaults.insert(key.to_owned(), json!(number));
                }
            }
        }
        if let Some(base) = left.get("logBase").and_then(Value::as_f64)
            && base > 1.0
        {
            custom.insert("scaleDistribution".to_owned(), json!({"type": "log", "log": base}));
        }
    }
    if let Some(mode) = object.pointer_like("xaxis", "mode")
        && mode != "time"
    {
        push(format!("{path}.xaxis.mode"), format!("graph x-axis mode `{mode}` is not supported; drawn over time"));
    }
    let is_on = |object: &Map<String, Value>, key: &str, default: bool| {
        object.get(key).and_then(Value::as_bool).unwrap_or(default)
    };
    let draw_style = if is_on(object, "bars", false) {
        "bars"
    } else if !is_on(object, "lines", true) && is_on(object, "points", false) {
        "points"
    } else {
        "line"
    };
    custom.insert("drawStyle".to_owned(), json!(draw_style));
    if let Some(width) = object.get("linewidth").and_then(Value::as_f64) {
        custom.insert("lineWidth".to_owned(), json!(width));
    }
    if let Some(fill) = object.get("fill").and_then(Value::as_f64) {
        custom.insert("fillOpacity".to_owned(), json!(fill * 10.0));
    }
    if is_on(object, "stack", false) {
        let mode = if is_on(object, "percentage", false) { "percent" } else { "normal" };
        custom.insert("stacking".to_owned(), json!({"mode": mode, "group": "A"}));
    }
    if is_on(object, "steppedLine", false) {
        custom.insert("lineInterpolation".to_owned(), json!("stepAfter"));
    }
    if object.get("nullPointMode").and_then(Value::as_str) == Some("connected") {
        custom.insert("spanNulls".to_owned(), json!(true));
    }
    if let Some(legend) = object.get("legend").and_then(Value::as_object) {
        let show = legend.get("show").and_then(Value::as_bool).unwrap_or(true);
        let table = legend.get("alignAsTable").and_then(Value::as_bool).unwrap_or(false);
        let display_mode = if !show {
            "hidden"
        } else if table {
            "table"
        } else {
            "list"
        };
        let placement =
            if legend.get("rightSide").and_then(Value::as_bool).unwrap_or(false) { "right" } else { "bottom" };
        let calcs: Vec<&str> =
            [("min", "min"), ("max", "max"), ("avg", "mean"), ("current", "lastNotNull"), ("total", "sum")]
                .into_iter()
                .filter(|(legacy, _)| legend.get(*legacy).and_then(Value::as_bool).unwrap_or(false))
                .map(|(_, calc)| calc)
                .collect();
        options.insert(
            "legend".to_owned(),
            json!({"showLegend": show, "displayMode": display_mode, "placement": placement, "calcs": calcs}),
        );
    }
    if let Some(tooltip) = object.get("tooltip").and_then(Value::as_object) {
        let mode = if tooltip.get("shared").and_then(Value::as_bool).unwrap_or(true) { "multi" } else { "single" };
        let sort = match tooltip.get("sort").and_then(Value::as_i64) {
            Some(1) => "asc",
            Some(2) => "desc",
            _ => "none",
        };
        options.insert("tooltip".to_owned(), json!({"mode": mode, "sort": sort}));
    }
    if let Some(colors) = object.get("aliasColors").and_then(Value::as_object) {
        for (name, color) in colors {
            overrides.push(json!({
                "matcher": {"id": "byName", "options": name},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}],
            }));
        }
    }
    for (index, series_override) in
        object.get("seriesOverrides").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let Some(series_override) = series_override.as_object() else { continue };
        let alias = series_override.get("alias").and_then(Value::as_str).unwrap_or("");
        let matcher = if alias.starts_with('/') && alias.ends_with('/') && alias.len() > 1 {
            json!({"id": "byRegexp", "options": alias[1..alias.len() - 1]})
        } else {
            json!({"id": "byName", "options": alias})
        };
        let mut properties = Vec::new();
        for (key, value) in series_override {
            match (key.as_str(), value) {
                ("alias", _) => {}
                ("transform", Value::String(transform)) if transform == "negative-Y" => {
                    properties.push(json!({"id": "custom.transform", "value": "negative-Y"}));
                }
                ("yaxis", value) if value.as_i64() == Some(2) => {
                    properties.push(json!({"id": "custom.axisPlacement", "value": "right"}));
                }
                ("color", Value::String(color)) => {
                    properties.push(json!({"id": "color", "value": {"mode": "fixed", "fixedColor": color}}));
                }
                ("fill", value) if value.is_number() => {
                    let fill = value.as_f64().unwrap_or(0.0) * 10.0;
                    properties.push(json!({"id": "custom.fillOpacity", "value": fill}));
                }
                ("linewidth", value) if value.is_number() => {
                    properties.push(json!({"id": "custom.lineWidth", "value": value}));
                }
                ("legend", Value::Bool(false)) => {
                    properties.push(
                        json!({"id": "custom.hideFrom", "value": {"legend": true, "tooltip": false, "viz": false}}),
                    );
                }
                (other, _) => push(
                    format!("{path}.seriesOverrides[{index}].{other}"),
                    format!("graph series override `{other}` is not converted"),
                ),
            }
        }
        if !properties.is_empty() {
            overrides.push(json!({"matcher": matcher, "properties": properties}));
        }
    }
    if let Some(thresholds) = object.get("thresholds").and_then(Value::as_array).filter(|list| !list.is_empty()) {
        match graph_thresholds(thresholds) {
            Ok((steps, mode)) => {
                defaults.insert("thresholds".to_owned(), json!({"mode": "absolute", "steps": steps}));
                custom.insert("thresholdsStyle".to_owned(), json!({"mode": mode}));
            }
            Err(message) => push(format!("{path}.thresholds"), message),
        }
    }
    if object.get("timeRegions").and_then(Value::as_array).is_some_and(|regions| !regions.is_empty()) {
        push(format!("{path}.timeRegions"), "graph time regions are not converted".to_owned());
    }
    for key in GRAPH_CONVERTED_KEYS {
        object.remove(*key);
    }
    defaults.insert("custom".to_owned(), Value::Object(custom));
    merge_field_config(object, defaults, overrides);
    object.insert("options".to_owned(), Value::Object(options));
    entry.conversions.push("legacy graph options converted to field config and options".to_owned());
}

/// Converts a graph's `thresholds` (each a `value`, an `op` of `gt` or `lt`, a `colorMode` and
/// whether its `line` and `fill` are drawn) into threshold steps (the base step first, with a
/// null value) and a `thresholdsStyle` mode, as Grafana's graph migration does: `gt` starts its
/// colour at the value; `lt` colours below its value, up to the next threshold.
fn graph_thresholds(thresholds: &[Value]) -> Result<(Vec<Value>, &'static str), String> {
    let mut parsed = Vec::with_capacity(thresholds.len());
    for (index, threshold) in thresholds.iter().enumerate() {
        let value = threshold
            .get("value")
            .and_then(|value| value.as_f64().or_else(|| value.as_str().and_then(|text| text.parse().ok())))
            .ok_or_else(|| format!("graph threshold {index} has no numeric `value`; not converted"))?;
        let op = threshold.get("op").and_then(Value::as_str).unwrap_or("gt");
        if op != "gt" && op != "lt" {
            return Err(format!("graph threshold {index} has op `{op}` (gt or lt expected); not converted"));
        }
        let color = match threshold.get("colorMode").and_then(Value::as_str) {
            Some("warning") => "orange".to_owned(),
            Some("ok") => "green".to_owned(),
            Some("custom") => ["fillColor", "lineColor"]
                .iter()
                .find_map(|key| threshold.get(*key).and_then(Value::as_str).filter(|color| !color.is_empty()))
                .unwrap_or("red")
                .to_owned(),
            _ => "red".to_owned(),
        };
        let fill = threshold.get("fill").and_then(Value::as_bool).unwrap_or(true);
        let line = threshold.get("line").and_then(Value::as_bool).unwrap_or(true);
        parsed.push((value, op == "lt", color, fill, line));
    }
    parsed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut steps: Vec<(Option<f64>, String)> = Vec::new();
    for (index, (value, below, color, _, _)) in parsed.iter().enumerate() {
        if !below {
            steps.push((Some(*value), color.clone()));
            continue;
        }
        if steps.is_empty() {
            steps.push((None, color.clone()));
        }
        // Above an `lt` threshold: the next `lt` threshold's colour, else nothing.
        let above = match parsed.get(index + 1) {
            Some((_, true, next_color, _, _)) => next_color.clone(),
            _ => "transparent".to_owned(),
        };
        steps.push((Some(*value), above));
    }
    if steps.first().is_some_and(|(value, _)| value.is_some()) {
        steps.insert(0, (None, "transparent".to_owned()));
    }
    let area = parsed.iter().any(|threshold| threshold.3);
    let line = parsed.iter().any(|threshold| threshold.4);
    let mode = match (line, area) {
        (true, true) => "line+area",
        (false, true) => "area",
        _ => "line",
    };
    let steps = steps.into_iter().map(|(value, color)| json!({"color": color, "value": value})).collect();
    Ok((steps, mode))
}

/// Legacy singlestat keys converted to stat or gauge options.
const SINGLESTAT_CONVERTED_KEYS: &[&str] = &[
    "format",
    "decimals",
    "thresholds",
    "colors",
    "colorBackground",
    "colorValue",
    "valueName",
    "sparkline",
    "gauge",
    "valueMaps",
    "rangeMaps",
    "mappingType",
    "mappingTypes",
    "prefix",
    "postfix",
    "prefixFontSize",
    "postfixFontSize",
    "valueFontSize",
    "nullPointMode",
    "nullText",
    "colorPrefix",
    "colorPostfix",
    "tableColumn",
    "hideTimeOverride",
];

/// Converts a legacy `singlestat` panel to `stat` (or `gauge` when its gauge was shown).
pub(super) fn convert_singlestat(object: &mut Map<String, Value>, path: &str, entry: &mut PanelReport) {
    let is_gauge = object.pointer_like("gauge", "show") == Some("true".to_owned());
    rename_type(object, entry, if is_gauge { "gauge" } else { "stat" });
    let mut defaults = Map::new();
    if let Some(format) = object.get("format").and_then(Value::as_str)
        && format != "none"
    {
        defaults.insert("unit".to_owned(), json!(format));
    }
    if let Some(decimals) = object.get("decimals").and_then(Value::as_i64) {
        defaults.insert("decimals".to_owned(), json!(decimals));
    }
    let colors: Vec<Value> = object.get("colors").and_then(Value::as_array).cloned().unwrap_or_default();
    let thresholds: Vec<f64> = match object.get("thresholds") {
        Some(Value::String(text)) => text.split(',').filter_map(|part| part.trim().parse().ok()).collect(),
        Some(Value::Array(values)) => values.iter().filter_map(Value::as_f64).collect(),
        _ => Vec::new(),
    };
    let color_at = |index: usize| colors.get(index).cloned().unwrap_or_else(|| json!("green"));
    let mut steps = vec![json!({"color": color_at(0), "value": null})];
    for (index, value) in thresholds.iter().enumerate() {
        steps.push(json!({"color": color_at(index + 1), "value": value}));
    }
    defaults.insert("thresholds".to_owned(), json!({"mode": "absolute", "steps": steps}));
    let mut mappings = Vec::new();
    for (index, map) in object.get("valueMaps").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let value =
            map.get("value").map(|value| value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()));
        let text = map.get("text").and_then(Value::as_str);
        match (value, text) {
            (Some(value), Some(text)) if value != "null" => {
                mappings.push(json!({"type": "value", "options": {value: {"text": text}}}));
            }
            _ => entry.unsupported.push(Issue {
                path: format!("{path}.valueMaps[{index}]"),
                message: "singlestat value map is not converted".to_owned(),
            }),
        }
    }
    if object.get("rangeMaps").and_then(Value::as_array).is_some_and(|maps| !maps.is_empty())
        && object.get("mappingType").and_then(Value::as_i64) == Some(2)
    {
        entry.unsupported.push(Issue {
            path: format!("{path}.rangeMaps"),
            message: "singlestat range maps are not converted".to_owned(),
        });
    }
    defaults.insert("mappings".to_owned(), Value::Array(mappings));
    for (key, what) in [("prefix", "prefix"), ("postfix", "postfix")] {
        if object.get(key).and_then(Value::as_str).is_some_and(|text| !text.is_empty()) {
            entry.unsupported.push(Issue {
                path: format!("{path}.{key}"),
                message: format!("singlestat {what} text is not converted"),
            });
        }
    }
    let calc = match object.get("valueName").and_then(Value::as_str).unwrap_or("avg") {
        "min" => "min",
        "max" => "max",
        "current" => "lastNotNull",
        "total" => "sum",
        "first" => "firstNotNull",
        "range" => "range",
        "name" => "lastNotNull",
        _ => "mean",
    };
    let background = object.get("colorBackground").and_then(Value::as_bool).unwrap_or(false);
    let value_colored = object.get("colorValue").and_then(Value::as_bool).unwrap_or(false);
    let color_mode = if background {
        "background"
    } else if value_colored {
        "value"
    } else {
        "none"
    };
    let sparkline = object.pointer_like("sparkline", "show") == Some("true".to_owned());
    let mut options = json!({
        "reduceOptions": {"calcs": [calc], "fields": "", "values": false},
        "orientation": "horizontal",
        "textMode": "auto",
        "colorMode": color_mode,
        "graphMode": if sparkline { "area" } else { "none" },
        "justifyMode": "auto",
    });
    if is_gauge {
        options["showThresholdMarkers"] =
            json!(object.pointer_like("gauge", "thresholdMarkers") == Some("true".to_owned()));
        options["showThresholdLabels"] =
            json!(object.pointer_like("gauge", "thresholdLabels") == Some("true".to_owned()));
        for key in ["minValue", "maxValue"] {
            if let Some(value) = object.get("gauge").and_then(|gauge| gauge.get(key)).and_then(Value::as_f64) {
                defaults.insert(if key == "minValue" { "min" } else { "max" }.to_owned(), json!(value));
            }
        }
    }
    for key in SINGLESTAT_CONVERTED_KEYS {
        object.remove(*key);
    }
    merge_field_config(object, defaults, Vec::new());
    object.insert("options".to_owned(), options);
    entry.conversions.push("legacy singlestat options converted to field config and options".to_owned());
}

/// Puts converted defaults and overrides into the panel's `fieldConfig`, keeping what is there.
fn merge_field_config(object: &mut Map<String, Value>, defaults: Map<String, Value>, overrides: Vec<Value>) {
    let field_config = object.entry("fieldConfig").or_insert_with(|| json!({"defaults": {}, "overrides": []}));
    if !field_config.is_object() {
        *field_config = json!({"defaults": {}, "overrides": []});
    }
    let existing_defaults = field_config.as_object_mut().and_then(|config| {
        config.entry("defaults").or_insert_with(|| json!({}));
        config.get_mut("defaults").and_then(Value::as_object_mut)
    });
    if let Some(existing) = existing_defaults {
        for (key, value) in defaults {
            existing.entry(key).or_insert(value);
        }
    }
    if let Some(config) = field_config.as_object_mut() {
        let list = config.entry("overrides").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.extend(overrides);
        }
    }
}

/// Reads `object[key][field]` as text (booleans and numbers as their JSON text).
trait PointerLike {
    fn pointer_like(&self, key: &str, field: &str) -> Option<String>;
}

impl PointerLike for Map<String, Value> {
    fn pointer_like(&self, key: &str, field: &str) -> Option<String> {
        let value = self.get(key)?.get(field)?;
        Some(value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string()))
    }
}
