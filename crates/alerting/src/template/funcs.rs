//! Alertmanager's template functions (`toUpper`, `join`, `date`, `tz`, `since`, ...) and the
//! hidden functions that stand for Go methods (`__am_Firing`, `__am_SortedPairs`, ...).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};
use jiff::Timestamp;

use super::time::{format_go, go_duration_string, in_zone, parse_go_duration, parse_go_time};

fn call_error(name: &str, message: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("error calling {name}: {message}"))
}

fn arg<'v>(args: &'v [Value], index: usize, name: &str) -> Result<&'v Value, TemplateError> {
    args.get(index).ok_or_else(|| TemplateError::ArgCount {
        name: name.to_owned(),
        expected: index + 1,
        got: args.len(),
    })
}

fn string_arg(args: &[Value], index: usize, name: &str) -> Result<String, TemplateError> {
    match arg(args, index, name)? {
        Value::String(s) => Ok(s.to_string()),
        Value::Nil => Ok(String::new()),
        other => Err(call_error(name, format!("wrong type for value; expected string; got {}", other.type_name()))),
    }
}

fn string(text: impl Into<Arc<str>>) -> Value {
    Value::String(text.into())
}

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

/// Formats like Go's `%.4g`.
fn format_g4(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let scientific = format!("{v:.3e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim =
        |s: &str| if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s.to_owned() };
    if !(-4..4).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (3 - exponent).max(0) as usize;
        trim(&format!("{v:.decimals$}"))
    }
}

/// Prometheus' `humanizeDuration`.
pub(crate) fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format_g4(v);
    }
    if v == 0.0 {
        return "0s".to_owned();
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let total = v as i64;
        let (days, hours, minutes, seconds) = (total / 86_400, total / 3600 % 24, total / 60 % 60, total % 60);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", format_g4(v));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_g4(v))
}

fn title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_word_start = true;
    for c in text.chars() {
        if at_word_start && c.is_alphabetic() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        at_word_start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

fn regex_arg(pattern: &str, name: &str) -> Result<regex::Regex, TemplateError> {
    regex::Regex::new(pattern).map_err(|e| call_error(name, e))
}

/// Returns the function map of notification templates.
pub(crate) fn functions() -> FuncMap {
    let mut funcs = FuncMap::new();
    let mut add = |name: &str, f: gotmpl::ValueFunc| {
        funcs.insert(name.to_owned(), f);
    };
    add("toUpper", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "toUpper")?.to_uppercase()))));
    add("toLower", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "toLower")?.to_lowercase()))));
    add("title", Arc::new(|args: &[Value]| Ok(string(title(&string_arg(args, 0, "title")?)))));
    add("trimSpace", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "trimSpace")?.trim()))));
    add(
        "join",
        Arc::new(|args: &[Value]| {
            let separator = string_arg(args, 0, "join")?;
            Ok(string(string_list(arg(args, 1, "join")?, "join")?.join(&separator)))
        }),
    );
    add(
        "match",
        Arc::new(|args: &[Value]| {
            let regex = regex_arg(&string_arg(args, 0, "match")?, "match")?;
            Ok(Value::Bool(regex.is_match(&string_arg(args, 1, "match")?)))
        }),
    );
    add(
        "reReplaceAll",
        Arc::new(|args: &[Value]| {
            let regex = regex_arg(&string_arg(args, 0, "reReplaceAll")?, "reReplaceAll")?;
            let replacement = string_arg(args, 1, "reReplaceAll")?;
            let text = string_arg(args, 2, "reReplaceAll")?;
            Ok(string(regex.replace_all(&text, replacement.as_str()).into_owned()))
        }),
    );
    add("safeHtml", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "safeHtml")?))));
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
    funcs
}

#[cfg(test)]
mod tests {
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
