//! What Prometheus' alert templates (`crates/rules`) and Alertmanager's notification templates
//! (`crates/alerting`) share on top of the `gotmpl` engine: argument helpers with Go's error
//! texts, the string functions both define (`toUpper`, `toLower`, `title`, `match`,
//! `reReplaceAll`, `safeHtml`) and the `humanize` family's number formatting.

use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};
use panoptes_model::gofloat::format_g_precision;

/// Returns Go's error for a failed template function call.
pub fn call_error(name: &str, message: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("error calling {name}: {message}"))
}

/// Returns argument `index` of function `name`, or Go's argument-count error.
///
/// # Errors
///
/// Returns [`TemplateError::ArgCount`] when the argument is missing.
pub fn arg<'v>(args: &'v [Value], index: usize, name: &str) -> Result<&'v Value, TemplateError> {
    args.get(index).ok_or_else(|| TemplateError::ArgCount {
        name: name.to_owned(),
        expected: index + 1,
        got: args.len(),
    })
}

/// Returns argument `index` as a string. A missing map entry (nil) reads as the empty string, as
/// a missing key of Go's `map[string]string` does (`$labels.absent`, `.CommonLabels.absent`).
///
/// # Errors
///
/// Returns Go's type error for anything but a string or nil.
pub fn string_arg(args: &[Value], index: usize, name: &str) -> Result<String, TemplateError> {
    match arg(args, index, name)? {
        Value::String(text) => Ok(text.to_string()),
        Value::Nil => Ok(String::new()),
        other => Err(call_error(name, format!("wrong type for value; expected string; got {}", other.type_name()))),
    }
}

/// Returns a template string value.
pub fn string(text: impl Into<Arc<str>>) -> Value {
    Value::String(text.into())
}

/// Upper-cases the first letter of every word, as Go's `strings.Title` (which both Prometheus
/// and Alertmanager use) does.
pub fn title(text: &str) -> String {
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

fn regex_arg(args: &[Value], name: &str) -> Result<regex::Regex, TemplateError> {
    regex::Regex::new(&string_arg(args, 0, name)?).map_err(|error| call_error(name, error))
}

/// Adds the string functions Prometheus and Alertmanager templates both have: `toUpper`,
/// `toLower`, `title`, `match`, `reReplaceAll` and `safeHtml` (no escaping: text templates).
pub fn add_string_functions(funcs: &mut FuncMap) {
    let mut add = |name: &str, f: gotmpl::ValueFunc| {
        funcs.insert(name.to_owned(), f);
    };
    add("toUpper", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "toUpper")?.to_uppercase()))));
    add("toLower", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "toLower")?.to_lowercase()))));
    add("title", Arc::new(|args: &[Value]| Ok(string(title(&string_arg(args, 0, "title")?)))));
    add("safeHtml", Arc::new(|args: &[Value]| Ok(string(string_arg(args, 0, "safeHtml")?))));
    add(
        "match",
        Arc::new(|args: &[Value]| {
            let regex = regex_arg(args, "match")?;
            Ok(Value::Bool(regex.is_match(&string_arg(args, 1, "match")?)))
        }),
    );
    add(
        "reReplaceAll",
        Arc::new(|args: &[Value]| {
            let regex = regex_arg(args, "reReplaceAll")?;
            let replacement = string_arg(args, 1, "reReplaceAll")?;
            let text = string_arg(args, 2, "reReplaceAll")?;
            Ok(string(regex.replace_all(&text, replacement.as_str()).into_owned()))
        }),
    );
}

/// Prometheus' `humanize`: SI prefixes (`1.235k`, `12.35m`) with four significant digits.
pub fn humanize(mut v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format_g_precision(v, 4);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", format_g_precision(v, 4))
}

/// Prometheus' `humanize1024`: binary prefixes (`1ki`, `1.5Mi`).
pub fn humanize1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return format_g_precision(v, 4);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", format_g_precision(v, 4))
}

/// Prometheus' and Alertmanager's `humanizeDuration` of seconds: `1d 2h 3m 4s`, `1.5s`, `250ms`.
pub fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return format_g_precision(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", format_g_precision(v, 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        #[allow(clippy::cast_possible_truncation)]
        let whole = v as i64;
        let (seconds, minutes, hours, days) = (whole % 60, (whole / 60) % 60, (whole / 3600) % 24, whole / 86_400);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", format_g_precision(v, 4));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_g_precision(v, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_humanized_like_prometheus() {
        assert_eq!(humanize(1234.0), "1.234k");
        assert_eq!(humanize(0.0125), "12.5m");
        assert_eq!(humanize1024(1536.0), "1.5ki");
        assert_eq!(humanize_duration(93_784.0), "1d 2h 3m 4s");
        assert_eq!(humanize_duration(1.5), "1.5s");
        assert_eq!(humanize_duration(0.25), "250ms");
        assert_eq!(humanize_duration(0.0), "0s");
        assert_eq!(title("hello wide_world it's"), "Hello Wide_world It's");
    }

    #[test]
    fn missing_map_entries_read_as_empty_strings() {
        assert_eq!(string_arg(&[Value::Nil], 0, "toUpper").unwrap(), "");
        let error = string_arg(&[Value::Bool(true)], 0, "toUpper").unwrap_err().to_string();
        assert!(error.contains("error calling toUpper: wrong type for value; expected string"), "{error}");
        assert!(matches!(arg(&[], 0, "first"), Err(TemplateError::ArgCount { .. })));
    }
}
