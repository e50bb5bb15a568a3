//! Alertmanager's template functions (`toUpper`, `join`, `date`, `tz`, `since`, ...) and the
//! hidden functions that stand for Go methods (`__am_Firing`, `__am_SortedPairs`, ...).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};
use jiff::Timestamp;
use panoptes_gotemplate::{arg, call_error, humanize_duration, string, string_arg};

use super::time::{format_go, go_duration_string, in_zone, parse_go_duration, parse_go_time};

fn strings(items: impl IntoIterator<Item = String>) -> Value {
    Value::List(items.into_iter().map(string).collect::<Vec<_>>().into())
}

fn string_list(value: &Value, name: &str) -> Result<Vec<String>, TemplateError> {
    match value {
        Value::List(items) => Ok(items.iter().map(|item| item.as_str().unwrap_or_default().to_owned()).collect()),
        Value::Nil => Ok(Vec::new()),
        other => Err(call_error(name, format!("wrong type for value; expected []string; got {}", other.type_name()))),
    }
}

/// Returns the pairs of a label map, `alertname` first and the rest by name (Alertmanager's
/// `KV.SortedPairs`).
fn sorted_pairs(map: &BTreeMap<Arc<str>, Value>) -> Value {
    Value::List(sorted_pair_list(map).into())
}

fn sorted_pair_list(map: &BTreeMap<Arc<str>, Value>) -> Vec<Value> {
    let mut keys: Vec<&Arc<str>> = map.keys().collect();
    keys.sort_by_key(|key| (key.as_ref() != "alertname", key.to_string()));
    let pairs: Vec<Value> = keys
        .into_iter()
        .map(|key| {
            let mut pair: BTreeMap<Arc<str>, Value> = BTreeMap::new();
            pair.insert("Name".into(), Value::String(Arc::clone(key)));
            pair.insert("Value".into(), map[key].clone());
            Value::Map(Arc::new(pair))
        })
        .collect();
    pairs
}

fn alerts_with_status(args: &[Value], name: &str, status: &str) -> Result<Value, TemplateError> {
    match arg(args, 0, name)? {
        Value::List(alerts) => Ok(Value::List(
            alerts
                .iter()
                .filter(|alert| alert.field("Status").and_then(Value::as_str) == Some(status))
                .cloned()
                .collect::<Vec<_>>()
                .into(),
        )),
        other => Err(call_error(name, format!("can't evaluate field on type {}", other.type_name()))),
    }
}

/// Converts a value to seconds as Prometheus' `convertToFloat` does (durations included).
fn to_seconds(value: &Value, name: &str) -> Result<f64, TemplateError> {
    match value {
        Value::Float(v) => Ok(*v),
        Value::Int(v) => Ok(*v as f64),
        Value::Uint(v) => Ok(*v as f64),
        Value::String(text) => text
            .parse::<f64>()
            .ok()
            .or_else(|| parse_go_duration(text))
            .ok_or_else(|| call_error(name, format!("strconv.ParseFloat: parsing {text:?}: invalid syntax"))),
        other => Err(call_error(name, format!("can't convert {} to float", other.type_name()))),
    }
}

/// Returns the function map of notification templates.
pub(crate) fn functions() -> FuncMap {
    let mut funcs = FuncMap::new();
    let mut add = |name: &str, f: gotmpl::ValueFunc| {
        funcs.insert(name.to_owned(), f);
    };
    add("trimSpace", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "trimSpace")?.trim()))));
    add(
        "join",
        Arc::new(|args: &[Value]| {
            let separator = string_arg(args, 0, "join")?;
            Ok(string(string_list(arg(args, 1, "join")?, "join")?.join(&separator)))
        }),
    );
    add("safeUrl", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "safeUrl")?))));
    add(
        "urlUnescape",
        Arc::new(|args: &[Value]| {
            let text = string_arg(args, 0, "urlUnescape")?;
            let decoded: String = form_urlencoded::parse(format!("x={text}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default();
            Ok(string(decoded))
        }),
    );
    add(
        "stringSlice",
        Arc::new(|args: &[Value]| {
            Ok(strings(args.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>()))
        }),
    );
    add(
        "toJson",
        Arc::new(|args: &[Value]| {
            fn json(value: &Value) -> serde_json::Value {
                match value {
                    Value::Nil => serde_json::Value::Null,
                    Value::Bool(b) => (*b).into(),
                    Value::Int(i) => (*i).into(),
                    Value::Uint(u) => (*u).into(),
                    Value::Float(f) => (*f).into(),
                    Value::String(s) => s.to_string().into(),
                    Value::List(items) => items.iter().map(json).collect::<Vec<_>>().into(),
                    Value::Map(map) => map.iter().map(|(k, v)| (k.to_string(), json(v))).collect(),
                    _ => serde_json::Value::Null,
                }
            }
            Ok(string(json(arg(args, 0, "toJson")?).to_string()))
        }),
    );
    add(
        "date",
        Arc::new(|args: &[Value]| {
            let layout = string_arg(args, 0, "date")?;
            let time = parse_go_time(&string_arg(args, 1, "date")?).map_err(|e| call_error("date", e))?;
            Ok(string(format_go(&time, &layout)))
        }),
    );
    add(
        "tz",
        Arc::new(|args: &[Value]| {
            let zone = string_arg(args, 0, "tz")?;
            let time = parse_go_time(&string_arg(args, 1, "tz")?).map_err(|e| call_error("tz", e))?;
            Ok(string(in_zone(&time, &zone).map_err(|e| call_error("tz", e))?))
        }),
    );
    add(
        "since",
        Arc::new(|args: &[Value]| {
            let time = parse_go_time(&string_arg(args, 0, "since")?).map_err(|e| call_error("since", e))?;
            let elapsed = Timestamp::now().duration_since(time.timestamp);
            Ok(string(go_duration_string(elapsed.as_secs_f64())))
        }),
    );
    add(
        "humanizeDuration",
        Arc::new(|args: &[Value]| {
            Ok(string(humanize_duration(to_seconds(arg(args, 0, "humanizeDuration")?, "humanizeDuration")?)))
        }),
    );
    add("__am_Firing", Arc::new(|args: &[Value]| alerts_with_status(args, "Firing", "firing")));
    add("__am_Resolved", Arc::new(|args: &[Value]| alerts_with_status(args, "Resolved", "resolved")));
    add(
        "__am_SortedPairs",
        Arc::new(|args: &[Value]| match arg(args, 0, "SortedPairs")? {
            Value::Map(map) => Ok(sorted_pairs(map)),
            Value::Nil => Ok(Value::List(Vec::new().into())),
            other => Err(call_error("SortedPairs", format!("can't evaluate field on type {}", other.type_name()))),
        }),
    );
    let names_or_values = |field: &'static str| {
        Arc::new(move |args: &[Value]| match arg(args, 0, field)? {
            // A label map: names sorted, values in name order (Alertmanager's `KV.Names`).
            Value::Map(map) => {
                let pairs = sorted_pair_list(map);
                let key = if field == "Names" { "Name" } else { "Value" };
                Ok(Value::List(pairs.iter().filter_map(|pair| pair.field(key).cloned()).collect::<Vec<_>>().into()))
            }
            // A list of pairs (`.SortedPairs.Values`).
            Value::List(pairs) => {
                let key = if field == "Names" { "Name" } else { "Value" };
                Ok(Value::List(pairs.iter().filter_map(|pair| pair.field(key).cloned()).collect::<Vec<_>>().into()))
            }
            Value::Nil => Ok(Value::List(Vec::new().into())),
            other => Err(call_error(field, format!("can't evaluate field on type {}", other.type_name()))),
        }) as gotmpl::ValueFunc
    };
    add("__am_Names", names_or_values("Names"));
    add("__am_Values", names_or_values("Values"));
    add(
        "__am_Remove",
        Arc::new(|args: &[Value]| {
            let Value::Map(map) = arg(args, 0, "Remove")? else {
                return Err(call_error("Remove", "receiver is not a label map"));
            };
            let remove = string_list(arg(args, 1, "Remove")?, "Remove")?;
            let kept: BTreeMap<Arc<str>, Value> = map
                .iter()
                .filter(|(key, _)| !remove.iter().any(|name| name == key.as_ref()))
                .map(|(key, value)| (Arc::clone(key), value.clone()))
                .collect();
            Ok(Value::Map(Arc::new(kept)))
        }),
    );
    add(
        "__am_Format",
        Arc::new(|args: &[Value]| {
            let time = parse_go_time(&string_arg(args, 0, "Format")?).map_err(|e| call_error("Format", e))?;
            Ok(string(format_go(&time, &string_arg(args, 1, "Format")?)))
        }),
    );
    add(
        "__am_Unix",
        Arc::new(|args: &[Value]| {
            let time = parse_go_time(&string_arg(args, 0, "Unix")?).map_err(|e| call_error("Unix", e))?;
            Ok(Value::Int(time.timestamp.as_second()))
        }),
    );
    panoptes_gotemplate::add_string_functions(&mut funcs);
    funcs
}

#[cfg(test)]
mod tests {
    use panoptes_gotemplate::title;

    use super::*;

    #[test]
    fn humanizes_durations_like_prometheus() {
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(90061.0), "1d 1h 1m 1s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(3600.0), "1h 0m 0s");
        assert_eq!(title("disk full on node-1"), "Disk Full On Node-1");
    }
}
