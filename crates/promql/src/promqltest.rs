//! A runner for Prometheus' promqltest scripts (`.test` files): loads series into a
//! [`MemStorage`], runs every `eval` against the [`Engine`] and compares results, errors and
//! annotations the way Prometheus' framework does.
//!
//! Evals that need features this engine does not implement (native histograms, start
//! timestamps, experimental syntax) are skipped with a named reason, never counted as passed.

mod pinning;
mod script;

use std::collections::HashSet;

use promql_parser::parser::VectorSelector;
use std::path::Path;

use panoptes_model::{Labels, is_stale_nan};
use panoptes_storage::{MemStorage, Storage};

use crate::engine::{Engine, EngineOptions};
use crate::error::Error;
use crate::value::{Annotations, Value};
use script::{Command, Eval, Expected, MessageMatcher, Point, SeriesLine};

/// An eval that was not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedEval {
    /// The eval's line in the file (1-based).
    pub line: usize,
    /// The out-of-scope feature it needs.
    pub reason: String,
}

/// The outcome of running one script.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Evals whose result matched.
    pub passed: usize,
    /// Evals whose result did not match (or that could not run).
    pub failed: usize,
    /// Evals not run because they need an out-of-scope feature.
    pub skipped_with_reason: Vec<SkippedEval>,
    /// One message per failure, starting with the line number.
    pub failures: Vec<String>,
    /// The lines of the failed evals, in file order.
    pub failed_lines: Vec<usize>,
}

/// One step of a series written in the `load` notation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadValue {
    /// A float sample (possibly the staleness marker).
    Float(f64),
    /// A native histogram literal, which this engine does not evaluate.
    Histogram,
    /// No sample at this step (`_`).
    Empty,
}

/// Parses a series description (`up{job="x"}`) and its values in the `load` notation
/// (`0+1x10 _ stale`) into the labels and one [`LoadValue`] per step, for tools that build
/// `load` blocks from other formats (promtool's `input_series`).
///
/// # Errors
///
/// Returns a message when the series or a value does not parse.
pub fn parse_load_series(series: &str, values: &str) -> Result<(Labels, Vec<LoadValue>), String> {
    let (labels, points) = script::parse_load_series(series, values)?;
    let values = points
        .into_iter()
        .map(|point| match point {
            Point::Float(v) => LoadValue::Float(v),
            Point::Histogram => LoadValue::Histogram,
            Point::Empty => LoadValue::Empty,
        })
        .collect();
    Ok((labels, values))
}

/// The engine configuration the scripts assume (Prometheus' `RunBuiltinTests`).
pub fn test_engine() -> Engine {
    Engine::new(EngineOptions {
        lookback_delta: std::time::Duration::from_secs(300),
        max_samples: 10_000,
        timeout: std::time::Duration::from_secs(100),
        default_subquery_step: std::time::Duration::from_secs(60),
        cancel: None,
    })
}

/// Runs the script at `path`. A file that cannot be read or parsed is reported as one failure.
pub fn run_file(path: &Path) -> Report {
    match std::fs::read_to_string(path) {
        Ok(text) => run_script(&text),
        Err(error) => Report {
            failed: 1,
            failures: vec![format!("cannot read {}: {error}", path.display())],
            ..Report::default()
        },
    }
}

/// Runs a script given as text.
pub fn run_script(text: &str) -> Report {
    let mut report = Report::default();
    let commands = match script::parse_script(text) {
        Ok(commands) => commands,
        Err(error) => {
            report.failed = 1;
            report.failures.push(format!("script does not parse: {error}"));
            return report;
        }
    };
    let mut runner = Runner::new();
    for command in commands {
        match command {
            Command::Clear => runner = Runner::new(),
            Command::Load { interval, with_nhcb, series, start_timestamp_names } => {
                if let Err(error) = runner.load(interval, with_nhcb, &series, start_timestamp_names) {
                    report.failed += 1;
                    report.failures.push(format!("load failed: {error}"));
                }
            }
            Command::Eval(eval) => {
                if let Some(reason) = runner.skip_reason(&eval) {
                    report.skipped_with_reason.push(SkippedEval { line: eval.line, reason });
                    continue;
                }
                match runner.run_eval(&eval) {
                    Ok(()) => report.passed += 1,
                    Err(message) => {
                        report.failed += 1;
                        report.failed_lines.push(eval.line);
                        report.failures.push(format!("line {}: {}: {message}", eval.line, eval.query));
                    }
                }
            }
        }
    }
    report
}

struct Runner {
    engine: Engine,
    storage: MemStorage,
    histogram_series: Vec<Labels>,
    start_timestamp_names: HashSet<String>,
}

impl Runner {
    fn new() -> Self {
        Self {
            engine: test_engine(),
            storage: MemStorage::new(),
            histogram_series: Vec::new(),
            start_timestamp_names: HashSet::new(),
        }
    }

    fn load(
        &mut self,
        interval: i64,
        with_nhcb: bool,
        series: &[SeriesLine],
        start_timestamp_names: Vec<String>,
    ) -> Result<(), String> {
        self.start_timestamp_names.extend(start_timestamp_names);
        let mut appender = self.storage.appender();
        for line in series {
            let name = line.labels.metric_name().unwrap_or("").to_owned();
            if with_nhcb {
                for suffix in ["_bucket", "_count", "_sum"] {
                    if let Some(base) = name.strip_suffix(suffix) {
                        let mut builder = line.labels.builder();
                        builder.remove("le");
                        builder.set(panoptes_model::METRIC_NAME, base);
                        self.histogram_series.push(builder.build());
                    }
                }
            }
            for (index, point) in line.points.iter().enumerate() {
                let t = index as i64 * interval;
                match point {
                    Point::Float(v) => appender.append(&line.labels, t, *v).map_err(|e| e.to_string())?,
                    Point::Histogram => {
                        if !self.histogram_series.contains(&line.labels) {
                            self.histogram_series.push(line.labels.clone());
                        }
                    }
                    Point::Empty => {}
                }
            }
        }
        appender.commit().map_err(|e| e.to_string())
    }

    /// Returns why an eval is out of scope, if it is.
    fn skip_reason(&self, eval: &Eval) -> Option<String> {
        let query = eval.query.as_str();
        if query.contains("{{") {
            return Some("native histograms".into());
        }
        if let Err(Error::Unsupported(message)) = crate::parser::parse(query) {
            return Some(skip_reason_for(&message));
        }
        let identifiers = identifiers(query);
        if identifiers.iter().any(|id| self.start_timestamp_names.contains(*id)) {
            return Some("start timestamps (@st)".into());
        }
        if !self.histogram_series.is_empty()
            && let Ok(expr) = promql_parser::parser::parse(query)
        {
            let mut selectors = Vec::new();
            collect_selectors(&expr, &mut selectors);
            if selectors.iter().any(|selector| self.histogram_series.iter().any(|l| selector_matches(selector, l))) {
                return Some("native histograms".into());
            }
        }
        None
    }

    fn run_eval(&self, eval: &Eval) -> Result<(), String> {
        let Some((start, end, step)) = eval.range else {
            return self.run_instant_eval(eval);
        };
        let result = self.engine.range_query(&self.storage, &eval.query, start, end, step);
        check_outcome(eval, result, &eval.expected)
    }

    /// Runs an instant eval as written, then (like Prometheus' framework) with selectors pinned
    /// by `@` at other evaluation times, and each of those also in range mode.
    fn run_instant_eval(&self, eval: &Eval) -> Result<(), String> {
        let expr = crate::parser::parse(&eval.query).map_err(|e| format!("does not parse: {e}"))?;
        let mut cases = vec![(expr.clone(), eval.query.clone(), eval.at)];
        if !pinning::is_time_dependent(&expr) {
            let mut pinned = expr;
            pinning::pin(&mut pinned, eval.at);
            let text = pinned.to_string();
            for t in pinning::additional_times(eval.at) {
                cases.push((pinned.clone(), text.clone(), t));
            }
        }
        for (expr, text, t) in cases {
            let result = self.engine.instant_query_expr(&self.storage, &expr, &text, t);
            let instant_value = match &result {
                Ok((value, _)) => Some(value.clone()),
                Err(_) => None,
            };
            check_outcome(eval, result, &eval.expected).map_err(|e| format!("{e} (query {text} at {t})"))?;
            let skip_range_mode = matches!(eval.expected, Expected::RangeVector { .. } | Expected::String(_))
                || ["start()", "end()", "range()", "step()"].iter().any(|f| text.contains(f));
            let Some(instant_value) = instant_value.filter(|_| !skip_range_mode) else { continue };
            let range = self
                .engine
                .range_query_expr(&self.storage, &expr, &text, t - 60_000, t + 60_000, 60_000)
                .map_err(|e| format!("range mode of {text} at {t} failed: {e}"))?;
            if eval.ordered {
                continue;
            }
            compare_range_mode(eval, &range.0, &instant_value, t)
                .map_err(|e| format!("range mode of {text} at {t}: {e}"))?;
        }
        Ok(())
    }
}

/// Checks a query outcome against the eval's expectations.
fn check_outcome(eval: &Eval, result: crate::Result<(Value, Annotations)>, expected: &Expected) -> Result<(), String> {
    match (result, &eval.fail) {
        (Err(error), Some(matcher)) => {
            let message = error.to_string();
            if message_matches(matcher, &message)? {
                Ok(())
            } else {
                Err(format!("error {message:?} does not match {matcher:?}"))
            }
        }
        (Err(error), None) => Err(format!("unexpected error: {error}")),
        (Ok(_), Some(_)) => Err("expected an error, the query succeeded".into()),
        (Ok((value, annotations)), None) => {
            check_annotations(eval, &annotations)?;
            compare(eval, expected, &value)
        }
    }
}

/// Checks the range-mode run of an instant eval: sorted by labels, and its points at `t` equal
/// the expectation.
fn compare_range_mode(eval: &Eval, range: &Value, instant: &Value, t: i64) -> Result<(), String> {
    let Value::Matrix(matrix) = range else {
        return Err(format!("range query returned a {}", range.type_name()));
    };
    if matrix.windows(2).any(|w| w[0].labels > w[1].labels) {
        return Err("range query result is not sorted by labels".into());
    }
    let vector: Vec<crate::value::VectorSample> = matrix
        .iter()
        .filter_map(|series| {
            series.samples.iter().find(|s| s.t == t).map(|s| crate::value::VectorSample {
                labels: series.labels.clone(),
                t,
                v: s.v,
            })
        })
        .collect();
    let value = match instant {
        Value::Scalar { .. } => match vector.first() {
            Some(sample) => Value::Scalar { t, v: sample.v },
            None => return Err("range query has no point at the evaluation time".into()),
        },
        _ => Value::Vector(vector),
    };
    compare(eval, &eval.expected, &value)
}

/// Names the out-of-scope feature behind an [`Error::Unsupported`] message.
fn skip_reason_for(message: &str) -> String {
    let reason = if message.contains("byte escapes") {
        "byte escapes above \\x7f in string literals"
    } else if message.contains("trim operators") {
        "native histogram trim operators"
    } else if message.contains("native histogram") {
        "native histograms"
    } else if message.contains("info()") {
        "info() function"
    } else if message.contains("fill modifiers") {
        "binary operator fill modifiers"
    } else if message.contains("anchored/smoothed") {
        "anchored/smoothed range selectors"
    } else if message.contains("duration expressions") {
        "duration expressions"
    } else if let Some(function) = message.split_whitespace().find(|word| word.ends_with("()")) {
        return format!("experimental function {function}");
    } else {
        return format!("unsupported: {message}");
    };
    reason.into()
}

/// Returns the identifiers of a query outside string literals.
fn identifiers(query: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = query.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let c = bytes[index];
        if c == b'"' || c == b'\'' || c == b'`' {
            index += 1;
            while index < bytes.len() && bytes[index] != c {
                index += if bytes[index] == b'\\' { 2 } else { 1 };
            }
            index += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = index;
            while index < bytes.len()
                && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_' || bytes[index] == b':')
            {
                index += 1;
            }
            out.push(&query[start..index]);
            continue;
        }
        index += 1;
    }
    out
}

fn collect_selectors<'a>(expr: &'a promql_parser::parser::Expr, out: &mut Vec<&'a VectorSelector>) {
    use promql_parser::parser::Expr;
    match expr {
        Expr::VectorSelector(selector) => out.push(selector),
        Expr::MatrixSelector(matrix) => out.push(&matrix.vs),
        Expr::Aggregate(aggregate) => {
            collect_selectors(&aggregate.expr, out);
            if let Some(param) = &aggregate.param {
                collect_selectors(param, out);
            }
        }
        Expr::Unary(unary) => collect_selectors(&unary.expr, out),
        Expr::Binary(binary) => {
            collect_selectors(&binary.lhs, out);
            collect_selectors(&binary.rhs, out);
        }
        Expr::Paren(paren) => collect_selectors(&paren.expr, out),
        Expr::Subquery(subquery) => collect_selectors(&subquery.expr, out),
        Expr::Call(call) => call.args.args.iter().for_each(|arg| collect_selectors(arg, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Whether a selector selects a series with these labels.
fn selector_matches(selector: &VectorSelector, labels: &Labels) -> bool {
    use promql_parser::label::MatchOp;
    if let Some(name) = &selector.name
        && labels.metric_name() != Some(name.as_str())
    {
        return false;
    }
    let matches = |matcher: &promql_parser::label::Matcher| {
        let value = labels.get(&matcher.name).unwrap_or("");
        match &matcher.op {
            MatchOp::Equal => matcher.value == value,
            MatchOp::NotEqual => matcher.value != value,
            MatchOp::Re(regex) => regex.is_match(value),
            MatchOp::NotRe(regex) => !regex.is_match(value),
        }
    };
    let base = selector.matchers.matchers.iter().all(matches);
    if selector.matchers.or_matchers.is_empty() {
        base
    } else {
        base && selector.matchers.or_matchers.iter().any(|group| group.iter().all(matches))
    }
}

fn message_matches(matcher: &MessageMatcher, message: &str) -> Result<bool, String> {
    Ok(match matcher {
        MessageMatcher::Any => true,
        MessageMatcher::Exact(text) => message.trim() == text.trim(),
        MessageMatcher::Regex(pattern) => {
            regex::Regex::new(pattern).map_err(|e| format!("bad regex {pattern:?}: {e}"))?.is_match(message)
        }
    })
}

fn check_annotations(eval: &Eval, annotations: &Annotations) -> Result<(), String> {
    check_annotation_kind("warning", &eval.warn, eval.no_warn, &annotations.warnings)?;
    check_annotation_kind("info", &eval.info, eval.no_info, &annotations.infos)
}

fn check_annotation_kind(kind: &str, expected: &[MessageMatcher], none: bool, got: &[String]) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("expected no {kind} annotations, got {got:?}"));
    }
    if expected.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    for matcher in expected {
        let mut found = false;
        for text in got {
            found |= message_matches(matcher, text)?;
        }
        if !found {
            return Err(format!("no {kind} annotation matches {matcher:?}; got {got:?}"));
        }
    }
    for text in got {
        let mut found = false;
        for matcher in expected {
            found |= message_matches(matcher, text)?;
        }
        if !found {
            return Err(format!("unexpected {kind} annotation {text:?}"));
        }
    }
    Ok(())
}

/// Prometheus' `almost.Equal` with the framework's tolerance; NaN equals NaN, the staleness
/// marker only equals itself.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || (a.abs() + b.abs()) < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < EPSILON
}

fn compare(eval: &Eval, expected: &Expected, value: &Value) -> Result<(), String> {
    match (expected, value) {
        (Expected::Scalar(expected), Value::Scalar { v, .. }) => {
            if almost_equal(*expected, *v) {
                Ok(())
            } else {
                Err(format!("expected scalar {expected}, got {v}"))
            }
        }
        (Expected::String(expected), Value::String { v, .. }) => {
            if expected == v {
                Ok(())
            } else {
                Err(format!("expected string {expected:?}, got {v:?}"))
            }
        }
        (Expected::Series(expected), Value::Vector(vector)) if eval.range.is_none() => {
            compare_vector(expected, vector, eval.ordered)
        }
        (Expected::Series(expected), Value::Matrix(matrix)) if eval.range.is_some() => {
            let (start, _, step) = eval.range.unwrap_or((0, 0, 1));
            compare_matrix(expected, matrix, start, step)
        }
        (Expected::Series(expected), Value::Matrix(matrix)) if expected.is_empty() && matrix.is_empty() => Ok(()),
        (Expected::RangeVector { start, step, series, .. }, Value::Matrix(matrix)) => {
            compare_matrix(series, matrix, *start, *step)
        }
        (expected, got) => {
            Err(format!("expected {}, got a {} result: {got:?}", expected_kind(expected), got.type_name()))
        }
    }
}

fn expected_kind(expected: &Expected) -> &'static str {
    match expected {
        Expected::Series(_) => "series",
        Expected::Scalar(_) => "a scalar",
        Expected::String(_) => "a string",
        Expected::RangeVector { .. } => "a range vector",
    }
}

fn compare_vector(expected: &[SeriesLine], got: &[crate::value::VectorSample], ordered: bool) -> Result<(), String> {
    if expected.len() != got.len() {
        return Err(format!("expected {} series, got {}: {got:?}", expected.len(), got.len()));
    }
    for (position, line) in expected.iter().enumerate() {
        let [Point::Float(value)] = line.points.as_slice() else {
            return Err(format!("expected series {} must have exactly one float value", line.labels));
        };
        let found = if ordered {
            Some(&got[position]).filter(|sample| sample.labels == line.labels)
        } else {
            got.iter().find(|sample| sample.labels == line.labels)
        };
        let Some(sample) = found else {
            return Err(format!("expected series {} not found (or out of order) in {got:?}", line.labels));
        };
        if !almost_equal(*value, sample.v) {
            return Err(format!("series {}: expected {value}, got {}", line.labels, sample.v));
        }
    }
    Ok(())
}

fn compare_matrix(
    expected: &[SeriesLine],
    got: &[crate::value::MatrixSeries],
    start: i64,
    step: i64,
) -> Result<(), String> {
    if expected.len() != got.len() {
        let labels: Vec<String> = got.iter().map(|s| s.labels.to_string()).collect();
        return Err(format!("expected {} series, got {}: {labels:?}", expected.len(), got.len()));
    }
    for line in expected {
        let Some(series) = got.iter().find(|s| s.labels == line.labels) else {
            return Err(format!("expected series {} not found", line.labels));
        };
        let points: Vec<(i64, f64)> = line
            .points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p {
                Point::Float(v) => Some((start + i as i64 * step, *v)),
                _ => None,
            })
            .collect();
        let matches = points.len() == series.samples.len()
            && points.iter().zip(&series.samples).all(|((t, v), s)| *t == s.t && almost_equal(*v, s.v));
        if !matches {
            let got_points: Vec<(i64, f64)> = series.samples.iter().map(|s| (s.t, s.v)).collect();
            return Err(format!("series {}: expected {points:?}, got {got_points:?}", line.labels));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_passing_failing_and_skipped_evals() {
        let script = "load 1m\n  up{job=\"a\"} 0+1x10\n\n\
                      eval instant at 5m up\n  up{job=\"a\"} 5\n\n\
                      eval instant at 5m up\n  up{job=\"a\"} 6\n\n\
                      eval range from 0 to 2m step 1m up * 2\n  {job=\"a\"} 0 2 4\n\n\
                      eval instant at 5m histogram_count(up)\n  {job=\"a\"} 1\n";
        let report = run_script(script);
        assert_eq!(report.passed, 2, "{:?}", report.failures);
        assert_eq!(report.failed, 1);
        assert_eq!(report.failed_lines, vec![7]);
        assert_eq!(report.skipped_with_reason.len(), 1);
    }

    #[test]
    fn expect_lines_check_errors_and_annotations() {
        let script = "load 1m\n  a{x=\"1\"} 1\n  b{x=\"1\"} 2\n  c 0+1x5\n\n\
                      eval instant at 0m abs({x=\"1\"})\n  expect fail msg: vector cannot contain metrics with the same labelset\n\n\
                      eval instant at 5m rate(c[5m])\n  expect info\n  {} 0.016666666666666666\n\n\
                      eval instant at 5m rate(c[5m])\n  expect no_info\n  {} 0.016666666666666666\n";
        let report = run_script(script);
        assert_eq!(report.passed, 2, "{:?}", report.failures);
        assert_eq!(report.failed_lines, vec![13]);
    }
}
