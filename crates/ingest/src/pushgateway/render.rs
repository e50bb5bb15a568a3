//! What the store shows: the exposition page scraped with `honor_labels: true`, the
//! `/api/v1/metrics` JSON, and Go's float formatting that both use.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::store::{
    FamilyType, Group, PUSH_FAILURE_TIME_HELP, PUSH_FAILURE_TIME_METRIC, PUSH_TIME_HELP, PUSH_TIME_METRIC,
    StoredSeries, group_series_labels,
};

/// Formats a float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` and the text format do:
/// shortest round-trip digits, exponent form below 1e-4 and from 1e6, `+Inf`, `-Inf`, `NaN`.
pub(crate) fn format_go_float(value: f64) -> String {
    panoptes_model::gofloat::format_g(value)
}

/// Parses a float as Go's `strconv.ParseFloat` accepts it in label values (`+Inf`, `-Inf`,
/// `NaN` in any case, decimal and exponent forms).
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    match unsigned.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => Some(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }),
        "nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

fn is_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn write_escaped(out: &mut String, text: &str, escape_quotes: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if escape_quotes => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

fn write_name(out: &mut String, name: &str) {
    if is_legacy_metric_name(name) {
        out.push_str(name);
    } else {
        out.push('"');
        write_escaped(out, name, true);
        out.push('"');
    }
}

fn write_series(out: &mut String, name: &str, labels: &[(String, String)], value: f64) {
    let is_legacy = is_legacy_metric_name(name);
    if is_legacy {
        out.push_str(name);
    }
    if !labels.is_empty() || !is_legacy {
        out.push('{');
        let mut first = true;
        if !is_legacy {
            write_name(out, name);
            first = false;
        }
        for (label, value) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            if panoptes_model::is_valid_legacy_label_name(label) {
                out.push_str(label);
            } else {
                out.push('"');
                write_escaped(out, label, true);
                out.push('"');
            }
            out.push_str("=\"");
            write_escaped(out, value, true);
            out.push('"');
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", format_go_float(value));
}

/// Returns the exposition page of every group in the text format 0.0.4: one block per family
/// name across groups, every series carrying its group's labels and `instance` (empty when not
/// in the grouping key, so that Prometheus with `honor_labels: true` keeps the target's
/// `instance` then, exactly as with a Pushgateway), plus `push_time_seconds` and
/// `push_failure_time_seconds` per group.
pub(crate) fn render_exposition(groups: &[Group]) -> String {
    /// A series to print: name, labels, value.
    type Line<'a> = (&'a str, &'a [(String, String)], f64);
    struct Block<'a> {
        help: &'a str,
        family_type: FamilyType,
        series: Vec<Line<'a>>,
    }
    let mut blocks: BTreeMap<&str, Block<'_>> = BTreeMap::new();
    let push_labels: Vec<Vec<(String, String)>> =
        groups.iter().map(|group| group_series_labels(&group.labels)).collect();
    for (group, labels) in groups.iter().zip(&push_labels) {
        for (name, help, value) in [
            (PUSH_FAILURE_TIME_METRIC, PUSH_FAILURE_TIME_HELP, group.push_failure_time_seconds),
            (PUSH_TIME_METRIC, PUSH_TIME_HELP, group.push_time_seconds),
        ] {
            blocks
                .entry(name)
                .or_insert_with(|| Block { help, family_type: FamilyType::Gauge, series: Vec::new() })
                .series
                .push((name, labels, value));
        }
        for (name, family) in &group.families {
            // As in the Pushgateway, help and type of the first group win when groups disagree on
            // help (a type disagreement is refused at push time).
            let block = blocks.entry(name).or_insert_with(|| Block {
                help: &family.help,
                family_type: family.family_type,
                series: Vec::new(),
            });
            block
                .series
                .extend(family.series.iter().map(|s: &StoredSeries| (s.name.as_str(), s.labels.as_slice(), s.value)));
        }
    }
    let mut out = String::new();
    for (name, block) in blocks {
        if block.series.is_empty() {
            continue;
        }
        if !block.help.is_empty() {
            out.push_str("# HELP ");
            write_name(&mut out, name);
            out.push(' ');
            write_escaped(&mut out, block.help, false);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        write_name(&mut out, name);
        let _ = writeln!(out, " {}", block.family_type.as_str());
        for (series_name, labels, value) in block.series {
            write_series(&mut out, series_name, labels, value);
        }
    }
    out
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC with milliseconds.
fn rfc3339_millis(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    )
}

fn labels_json(labels: &[(String, String)], without: Option<&str>) -> serde_json::Map<String, serde_json::Value> {
    labels
        .iter()
        .filter(|(name, _)| Some(name.as_str()) != without)
        .map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone())))
        .collect()
}

fn gauge_json(help: &str, labels: &[(String, String)], value: f64, ms: i64) -> serde_json::Value {
    serde_json::json!({
        "time_stamp": rfc3339_millis(ms),
        "type": "GAUGE",
        "help": help,
        "metrics": [{ "labels": labels_json(labels, None), "value": format_go_float(value) }],
    })
}

/// Returns the Pushgateway's `GET /api/v1/metrics` document: per group its grouping labels,
/// `last_push_successful`, and each family with its type, help, time stamp and metrics
/// (histograms with `buckets`, summaries with `quantiles`, both with `count` and `sum`).
pub(crate) fn render_api_json(groups: &[Group]) -> serde_json::Value {
    let data: Vec<serde_json::Value> = groups
        .iter()
        .map(|group| {
            let mut object = serde_json::Map::new();
            let labels: serde_json::Map<String, serde_json::Value> =
                group.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
            object.insert("labels".to_owned(), labels.into());
            object.insert(
                "last_push_successful".to_owned(),
                (group.push_failure_time_seconds <= group.push_time_seconds).into(),
            );
            let push_labels = group_series_labels(&group.labels);
            object.insert(
                PUSH_TIME_METRIC.to_owned(),
                gauge_json(PUSH_TIME_HELP, &push_labels, group.push_time_seconds, group.push_time_ms),
            );
            object.insert(
                PUSH_FAILURE_TIME_METRIC.to_owned(),
                gauge_json(PUSH_FAILURE_TIME_HELP, &push_labels, group.push_failure_time_seconds, group.push_failure_time_ms),
            );
            for (name, family) in &group.families {
                let metrics: Vec<serde_json::Value> = match family.family_type {
                    FamilyType::Histogram | FamilyType::Summary => composite_metrics_json(name, family.family_type, &family.series),
                    _ => family
                        .series
                        .iter()
                        .map(|s| serde_json::json!({ "labels": labels_json(&s.labels, None), "value": format_go_float(s.value) }))
                        .collect(),
                };
                object.insert(
                    name.clone(),
                    serde_json::json!({
                        "time_stamp": rfc3339_millis(family.pushed_at_ms),
                        "type": family.family_type.as_str().to_ascii_uppercase(),
                        "help": family.help,
                        "metrics": metrics,
                    }),
                );
            }
            serde_json::Value::Object(object)
        })
        .collect();
    serde_json::json!({ "status": "success", "data": data })
}

/// Folds the flat series of a histogram or summary back into one object per label set.
fn composite_metrics_json(name: &str, family_type: FamilyType, series: &[StoredSeries]) -> Vec<serde_json::Value> {
    let (bound_label, bounds_key) = match family_type {
        FamilyType::Histogram => ("le", "buckets"),
        _ => ("quantile", "quantiles"),
    };
    type Labels = Vec<(String, String)>;
    let mut metrics: Vec<(Labels, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    for s in series {
        let labels: Vec<(String, String)> = s.labels.iter().filter(|(k, _)| k != bound_label).cloned().collect();
        let index = match metrics.iter().position(|(existing, _)| *existing == labels) {
            Some(index) => index,
            None => {
                let mut object = serde_json::Map::new();
                object.insert("labels".to_owned(), labels_json(&labels, None).into());
                object.insert(bounds_key.to_owned(), serde_json::Map::new().into());
                metrics.push((labels, object));
                metrics.len() - 1
            }
        };
        let object = &mut metrics[index].1;
        let value = serde_json::Value::String(format_go_float(s.value));
        let suffix = s.name.strip_prefix(name).unwrap_or_default();
        match suffix {
            "_sum" => {
                object.insert("sum".to_owned(), value);
            }
            "_count" => {
                object.insert("count".to_owned(), value);
            }
            _ => {
                if let Some((_, bound)) = s.labels.iter().find(|(k, _)| k == bound_label)
                    && let Some(serde_json::Value::Object(bounds)) = object.get_mut(bounds_key)
                {
                    bounds.insert(bound.clone(), value);
                }
            }
        }
    }
    metrics.into_iter().map(|(_, object)| object.into()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_floats_like_go() {
        let cases = [
            (0.0, "0"),
            (1.0, "1"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (100000.0, "100000"),
            (123_456.7, "123456.7"),
            (1e6, "1e+06"),
            (1_795_327_625.047_756_2, "1.7953276250477562e+09"),
            (1e21, "1e+21"),
            (-2.5e-7, "-2.5e-07"),
            (123_456_789.0, "1.23456789e+08"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (value, want) in cases {
            assert_eq!(format_go_float(value), want, "{value}");
        }
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("0.50"), Some(0.5));
        assert_eq!(parse_go_float("x"), None);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_millis(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
