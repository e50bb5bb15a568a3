//! JSON encoding of query results exactly as Prometheus writes them: timestamps as Unix seconds
//! (`1435781451.781`), sample values as strings in Go's shortest `'f'` form (`"NaN"`, `"+Inf"`).

use std::fmt::Write as _;

use panoptes_model::Labels;
use panoptes_promql::Value;

/// Formats a sample value as Go's `strconv.FormatFloat(v, 'f', -1, 64)` with Prometheus' `+Inf`.
pub(crate) fn format_value(v: f64) -> String {
    panoptes_model::gofloat::format_f(v)
}

/// Formats a millisecond timestamp as Unix seconds without trailing zeros (`1.5`, `-0.001`).
pub(crate) fn format_timestamp(t: i64) -> String {
    let sign = if t < 0 { "-" } else { "" };
    let abs = t.unsigned_abs();
    let (seconds, millis) = (abs / 1000, abs % 1000);
    if millis == 0 {
        format!("{sign}{seconds}")
    } else {
        let fraction = format!("{millis:03}");
        format!("{sign}{seconds}.{}", fraction.trim_end_matches('0'))
    }
}

/// Appends `text` as a JSON string.
pub(crate) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a label set as a JSON object.
pub(crate) fn push_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_string(out, &label.name);
        out.push(':');
        push_string(out, &label.value);
    }
    out.push('}');
}

fn push_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    out.push_str(&format_timestamp(t));
    out.push_str(",\"");
    out.push_str(&format_value(v));
    out.push_str("\"]");
}

/// Appends the `resultType` and `result` members (without braces) of a query result.
pub(crate) fn push_result(out: &mut String, value: &Value) {
    out.push_str(r#""resultType":"#);
    push_string(out, value.type_name());
    out.push_str(r#","result":"#);
    match value {
        Value::Scalar { t, v } => push_point(out, *t, *v),
        Value::String { t, v } => {
            out.push('[');
            out.push_str(&format_timestamp(*t));
            out.push(',');
            push_string(out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, sample) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_labels(out, &sample.labels);
                out.push_str(r#","value":"#);
                push_point(out, sample.t, sample.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, one) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                push_labels(out, &one.labels);
                out.push_str(r#","values":["#);
                for (j, sample) in one.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    push_point(out, sample.t, sample.v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use panoptes_model::Sample;
    use panoptes_promql::{MatrixSeries, VectorSample};

    use super::*;

    #[test]
    fn values_are_formatted_like_go() {
        for (v, expected) in [
            (1.0, "1"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e21, "1000000000000000000000"),
            (1.5e-7, "0.00000015"),
            (123_456_789.123, "123456789.123"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (-0.0, "-0"),
        ] {
            assert_eq!(format_value(v), expected);
        }
    }

    #[test]
    fn timestamps_are_seconds_without_trailing_zeros() {
        assert_eq!(format_timestamp(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_timestamp(1_435_781_451_780), "1435781451.78");
        assert_eq!(format_timestamp(1_435_781_451_000), "1435781451");
        assert_eq!(format_timestamp(-1), "-0.001");
        assert_eq!(format_timestamp(0), "0");
    }

    #[track_caller]
    fn check(value: Value, expected: &str) {
        let mut out = String::new();
        push_result(&mut out, &value);
        assert_eq!(out, expected);
    }

    #[test]
    fn results_have_prometheus_shapes() {
        check(Value::Scalar { t: 1500, v: 2.0 }, r#""resultType":"scalar","result":[1.5,"2"]"#);
        check(Value::String { t: 1000, v: "a\"b".into() }, r#""resultType":"string","result":[1,"a\"b"]"#);
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a\nb")]);
        check(
            Value::Vector(vec![VectorSample { labels: labels.clone(), t: 1000, v: f64::NAN }]),
            r#""resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\nb"},"value":[1,"NaN"]}]"#,
        );
        check(
            Value::Matrix(vec![MatrixSeries {
                labels,
                samples: vec![Sample { t: 1000, v: 1.0 }, Sample { t: 2000, v: f64::INFINITY }],
            }]),
            r#""resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\nb"},"values":[[1,"1"],[2,"+Inf"]]}]"#,
        );
    }
}
