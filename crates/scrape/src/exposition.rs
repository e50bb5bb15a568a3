//! Exposition formats: the Prometheus text format 0.0.4 (with Prometheus 3 UTF-8 quoted names)
//! and OpenMetrics 1.0 text.
//!
//! [`Parser`] streams [`Entry`] values out of a page held in memory (`&[u8]`); it never panics
//! and stops at the first malformed line with a [`ParseError`] naming line and column. This
//! module only parses: limits, relabelling and appending belong to the scrape loop.
//!
//! Escaping follows each format as Prometheus' scraper reads it: label values (both formats) and
//! OpenMetrics HELP text resolve `\\`, `\"` and `\n`; text-format HELP resolves `\\` and `\n`.
//! Any other backslash sequence is kept verbatim rather than failing the scrape, as Prometheus
//! does. Timestamps are integer milliseconds in the text format and float seconds in
//! OpenMetrics, truncated to milliseconds as Prometheus truncates them.

mod parser;
#[cfg(test)]
mod tests;

use std::fmt;

use panoptes_model::Labels;

pub use parser::{Parser, PieceState};

/// Which text format a page is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// The Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), timestamps in integer
    /// milliseconds.
    PrometheusText,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`), timestamps in float seconds and a
    /// mandatory `# EOF` line.
    OpenMetrics,
}

impl Format {
    /// Returns the format a `Content-Type` header announces; anything that is not OpenMetrics,
    /// including a missing header, is the Prometheus text format.
    pub fn from_content_type(content_type: Option<&str>) -> Format {
        let Some(content_type) = content_type else {
            return Format::PrometheusText;
        };
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::PrometheusText
        }
    }

    /// Returns the format for a response the way Prometheus 3 decides it: a text or
    /// OpenMetrics media type selects that parser; a missing, blank or other type (protobuf
    /// included, which Panoptes does not parse yet) selects `fallback`, and is an error without
    /// one.
    ///
    /// # Errors
    ///
    /// Returns [`UnsupportedContentType`] when no parser fits and no fallback is configured.
    pub fn negotiate(content_type: Option<&str>, fallback: Option<Format>) -> Result<Format, UnsupportedContentType> {
        let media_type = content_type.and_then(|value| value.split(';').next()).map(str::trim).unwrap_or_default();
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            return Ok(Format::OpenMetrics);
        }
        if media_type.eq_ignore_ascii_case("text/plain") {
            return Ok(Format::PrometheusText);
        }
        fallback.ok_or_else(|| UnsupportedContentType { content_type: content_type.unwrap_or_default().to_owned() })
    }
}

/// The type of a metric family as announced by a `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonically increasing counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A classic histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// An OpenMetrics gauge histogram (`_bucket`, `_gsum`, `_gcount`).
    GaugeHistogram,
    /// A summary (quantiles, `_sum`, `_count`).
    Summary,
    /// An OpenMetrics info metric (`_info`, value 1).
    Info,
    /// An OpenMetrics state set (one series per state, value 0 or 1).
    StateSet,
    /// `untyped` in the text format, `unknown` in OpenMetrics.
    Unknown,
}

impl MetricType {
    /// Returns the name OpenMetrics uses for this type.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }

    fn parse(word: &str, format: Format) -> Option<MetricType> {
        let common = match word {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            _ => MetricType::Unknown,
        };
        match (format, word) {
            (_, "counter" | "gauge" | "histogram" | "summary") => Some(common),
            (Format::PrometheusText, "untyped") => Some(MetricType::Unknown),
            (Format::OpenMetrics, "unknown") => Some(MetricType::Unknown),
            (Format::OpenMetrics, "gaugehistogram") => Some(MetricType::GaugeHistogram),
            (Format::OpenMetrics, "info") => Some(MetricType::Info),
            (Format::OpenMetrics, "stateset") => Some(MetricType::StateSet),
            _ => None,
        }
    }
}

impl fmt::Display for MetricType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response whose `Content-Type` names no format Panoptes parses, with no fallback configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("received unsupported Content-Type {content_type:?} and no fallback_scrape_protocol specified for target")]
pub struct UnsupportedContentType {
    /// The header value received (empty when absent).
    pub content_type: String,
}

/// The most characters (names plus values) an exemplar's labels may have, per OpenMetrics.
pub const MAX_EXEMPLAR_LABEL_CHARS: usize = 128;

/// An exemplar attached to an OpenMetrics sample after ` # `.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The exemplar's labels (for example `trace_id`); never a metric name.
    pub labels: Labels,
    /// The exemplar's value.
    pub value: f64,
    /// The exemplar's timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
}

impl SeriesEntry {
    /// Returns the value read as a creation time in seconds, converted to milliseconds
    /// (truncated, as timestamps are); `None` when it is not finite.
    pub fn created_ms(&self) -> Option<i64> {
        #[allow(clippy::cast_possible_truncation)]
        self.value.is_finite().then_some((self.value * 1000.0) as i64)
    }
}

impl Exemplar {
    /// Returns whether the labels exceed [`MAX_EXEMPLAR_LABEL_CHARS`]; Prometheus then drops the
    /// exemplar (not the sample) when appending.
    pub fn is_label_set_too_long(&self) -> bool {
        let chars: usize =
            self.labels.iter().map(|label| label.name.chars().count() + label.value.chars().count()).sum();
        chars > MAX_EXEMPLAR_LABEL_CHARS
    }
}

/// One sample line of a page.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesEntry {
    /// The series' labels, `__name__` included; labels with empty values are dropped.
    pub labels: Labels,
    /// The sample value; may be NaN or infinite.
    pub value: f64,
    /// The sample's own timestamp in milliseconds, if the page gave one.
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any (OpenMetrics only).
    pub exemplar: Option<Exemplar>,
}

/// A sample whose labels were not built: see [`Parser::lazy`].
#[derive(Debug, Clone, PartialEq)]
pub struct RawSeriesEntry {
    /// The byte range of the series text (`name{labels}`) in the page.
    pub span: std::ops::Range<usize>,
    /// The 1-based line of the sample, for errors found when the labels are built.
    pub line: usize,
    /// The sample value.
    pub value: f64,
    /// The sample's own timestamp in milliseconds, if the page gave one.
    pub timestamp_ms: Option<i64>,
    /// The exemplar, if any (OpenMetrics only).
    pub exemplar: Option<Exemplar>,
    /// Whether this is an OpenMetrics `_created` series (see [`Entry::Created`]).
    pub is_created: bool,
    /// Whether the series text is the one the caller expected (see [`Parser::next_expecting`]).
    pub is_expected: bool,
}

/// Builds the labels of a series text taken from a page (a [`RawSeriesEntry`]'s span); errors
/// name `line` and the column within it.
///
/// # Errors
///
/// Returns a [`ParseError`] when the labels are malformed.
pub fn parse_series_text(text: &[u8], format: Format, line: usize) -> Result<Labels, ParseError> {
    let mut sample = Vec::with_capacity(text.len() + 3);
    sample.extend_from_slice(text);
    sample.extend_from_slice(b" 0\n");
    let relocate = |error: ParseError| ParseError { line, ..error };
    match Parser::new(&sample, format).next() {
        Some(Ok(Entry::Series(entry) | Entry::Created(entry))) => Ok(entry.labels),
        Some(Err(error)) => Err(relocate(error)),
        _ => Err(ParseError { line, column: 1, message: "expected a series".to_owned() }),
    }
}

/// One thing a page says, in page order.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A `# HELP` line, with escapes resolved.
    Help {
        /// The metric family name.
        family: String,
        /// The help text.
        help: String,
    },
    /// A `# TYPE` line.
    Type {
        /// The metric family name.
        family: String,
        /// The announced type.
        metric_type: MetricType,
    },
    /// A `# UNIT` line (OpenMetrics only).
    Unit {
        /// The metric family name.
        family: String,
        /// The unit, for example `seconds`.
        unit: String,
    },
    /// A sample.
    Series(SeriesEntry),
    /// A sample from a [`Parser::lazy`] parser: the series text's byte range instead of labels.
    Raw(RawSeriesEntry),
    /// An OpenMetrics `<family>_created` sample of a counter, histogram or summary: the time the
    /// series of that family with these labels (other than the name) started. Prometheus 3
    /// stores it as an ordinary series unless created-timestamp ingestion is on.
    Created(SeriesEntry),
}

/// Why a page could not be parsed, with the 1-based line and column (in characters) of the
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// The 1-based line number.
    pub line: usize,
    /// The 1-based column, counted in characters.
    pub column: usize,
    /// What was expected or wrong.
    pub message: String,
}

/// Parses a whole page, returning its entries or the first error.
///
/// # Errors
///
/// Returns a [`ParseError`] for the first malformed line.
pub fn parse(input: &[u8], format: Format) -> Result<Vec<Entry>, ParseError> {
    Parser::new(input, format).collect()
}
