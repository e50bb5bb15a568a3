//! Points to series, as VictoriaMetrics maps them (see the module docs of `influx`), and
//! timestamps to milliseconds.

use std::sync::Arc;

use panoptes_model::{Label, Labels, METRIC_NAME};

use super::InfluxOptions;
use super::line::{FieldValue, Point};

/// The unit of the timestamps of a request (`precision` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Nanoseconds, the default of both APIs.
    Nanoseconds,
    /// Microseconds.
    Microseconds,
    /// Milliseconds.
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes (1.x API only).
    Minutes,
    /// Hours (1.x API only).
    Hours,
}

impl Precision {
    /// Returns the precision of an InfluxDB 1.x `/write` request: `n`, `ns`, `u`, `us`, `µ`,
    /// `ms`, `s`, `m` or `h`; nanoseconds when absent or empty.
    pub fn parse_v1(value: Option<&str>) -> Option<Precision> {
        match value.unwrap_or_default() {
            "" | "n" | "ns" => Some(Precision::Nanoseconds),
            "u" | "us" | "µ" => Some(Precision::Microseconds),
            "ms" => Some(Precision::Milliseconds),
            "s" => Some(Precision::Seconds),
            "m" => Some(Precision::Minutes),
            "h" => Some(Precision::Hours),
            _ => None,
        }
    }

    /// Returns the precision of an InfluxDB 2.x `/api/v2/write` request: `ns`, `us`, `ms` or
    /// `s`; nanoseconds when absent or empty.
    pub fn parse_v2(value: Option<&str>) -> Option<Precision> {
        match value.unwrap_or_default() {
            "" | "ns" => Some(Precision::Nanoseconds),
            "us" => Some(Precision::Microseconds),
            "ms" => Some(Precision::Milliseconds),
            "s" => Some(Precision::Seconds),
            _ => None,
        }
    }

    /// Converts a timestamp in this precision to milliseconds, rounding down; `None` when the
    /// result does not fit.
    pub fn to_millis(self, timestamp: i64) -> Option<i64> {
        match self {
            Precision::Nanoseconds => Some(timestamp.div_euclid(1_000_000)),
            Precision::Microseconds => Some(timestamp.div_euclid(1_000)),
            Precision::Milliseconds => Some(timestamp),
            Precision::Seconds => timestamp.checked_mul(1_000),
            Precision::Minutes => timestamp.checked_mul(60_000),
            Precision::Hours => timestamp.checked_mul(3_600_000),
        }
    }
}

/// Maps the points of one request to samples.
pub(crate) struct Mapper<'a> {
    pub(crate) options: &'a InfluxOptions,
    /// The `db` query parameter, when given and not empty.
    pub(crate) db: Option<&'a str>,
    pub(crate) precision: Precision,
    /// The receive time, for points without timestamp.
    pub(crate) now_ms: i64,
}

impl Mapper<'_> {
    /// Calls `sample` for every field of the point with its series, timestamp and value.
    ///
    /// # Errors
    ///
    /// Returns why the point cannot be stored (a limit, a reserved tag key, a timestamp out of
    /// range); no sample of it is then emitted.
    pub(crate) fn map_point(&self, point: &Point<'_>, mut sample: impl FnMut(&Labels, i64, f64)) -> Result<(), String> {
        let options = self.options;
        let t = match point.timestamp {
            None => self.now_ms,
            Some(timestamp) => self
                .precision
                .to_millis(timestamp)
                .ok_or_else(|| format!("timestamp {timestamp} out of range for precision {:?}", self.precision))?,
        };
        let has_db_tag = point.tags.iter().any(|(key, _)| *key == options.db_label);
        let db = self.db.filter(|_| !has_db_tag);
        let label_count = point.tags.len() + usize::from(db.is_some()) + 1;
        if label_count > options.max_labels_per_series {
            return Err(format!(
                "series of measurement {:?} would have {label_count} labels, more than the limit of {}",
                point.measurement, options.max_labels_per_series
            ));
        }
        let mut base = Vec::with_capacity(label_count);
        for (key, value) in point.tags.iter().map(|(k, v)| (&**k, &**v)).chain(db.map(|db| (&*options.db_label, db))) {
            if key == METRIC_NAME {
                return Err(format!("tag key {METRIC_NAME:?} is reserved for the metric name"));
            }
            if key.len() > options.max_label_name_bytes {
                return Err(format!(
                    "tag key {key:?} is longer than the limit of {} bytes",
                    options.max_label_name_bytes
                ));
            }
            if value.len() > options.max_label_value_bytes {
                return Err(format!(
                    "value of tag {key:?} is longer than the limit of {} bytes",
                    options.max_label_value_bytes
                ));
            }
            let name: Arc<str> =
                if options.prometheus_compatible_naming { sanitize_name(key, false).into() } else { key.into() };
            base.push(Label::new(name, value));
        }
        let mut prefix = String::new();
        if !options.skip_measurement {
            prefix.push_str(&point.measurement);
        }
        let skip_field_key = !options.skip_measurement && point.fields.len() == 1 && options.skip_single_field;
        if !prefix.is_empty() && !skip_field_key {
            prefix.push_str(&options.measurement_field_separator);
        }
        let mut name = String::new();
        for (key, value) in &point.fields {
            name.clear();
            name.push_str(&prefix);
            if !skip_field_key {
                name.push_str(key);
            }
            if name.len() > options.max_label_value_bytes {
                return Err(format!(
                    "metric name {name:?} is longer than the limit of {} bytes",
                    options.max_label_value_bytes
                ));
            }
            let metric_name: Arc<str> = if options.prometheus_compatible_naming {
                sanitize_name(&name, true).into()
            } else {
                name.as_str().into()
            };
            let mut labels = base.clone();
            labels.push(Label::new(METRIC_NAME, metric_name));
            sample(&Labels::from_vec(labels), t, field_as_f64(value));
        }
        Ok(())
    }
}

/// Returns the sample value of a field: numbers as they are, booleans as 1 or 0, strings parsed
/// as numbers when they hold one and 0 otherwise, as VictoriaMetrics does.
pub(crate) fn field_as_f64(value: &FieldValue<'_>) -> f64 {
    match value {
        FieldValue::Float(value) => *value,
        #[allow(clippy::cast_precision_loss)]
        FieldValue::Integer(value) => *value as f64,
        #[allow(clippy::cast_precision_loss)]
        FieldValue::Unsigned(value) => *value as f64,
        FieldValue::Boolean(value) => f64::from(u8::from(*value)),
        FieldValue::String(text) => text.parse::<f64>().unwrap_or(0.0),
    }
}

/// Replaces every character that Prometheus' legacy name pattern refuses with `_`, as
/// VictoriaMetrics' `-usePromCompatibleNaming` does: a metric name keeps `[a-zA-Z0-9_:]` and may
/// not start with a digit; a label name keeps `[a-zA-Z0-9_]` and may not start with a digit.
pub(crate) fn sanitize_name(name: &str, is_metric_name: bool) -> String {
    name.chars()
        .enumerate()
        .map(|(index, c)| {
            let is_allowed = c.is_ascii_alphabetic()
                || c == '_'
                || (is_metric_name && c == ':')
                || (index > 0 && c.is_ascii_digit());
            if is_allowed { c } else { '_' }
        })
        .collect()
}
