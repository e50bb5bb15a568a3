//! The PromQL evaluator: instant and range queries over a [`Storage`].
//!
//! A query is evaluated over its step grid (an instant query is a grid of one step): selectors,
//! range functions, folding aggregations and literal arithmetic node by node over every step
//! (`steps`), with each selector's series read one at a time and shared among worker threads
//! (`parallel`); every other node step by step, taking its children's results one step at a
//! time, with the series of each step merged by label set. All reads go through one querier over
//! the time range the query touches. The metric name is removed late (Prometheus' delayed
//! `__name__` removal): operations flag the samples whose name must go, and the flag is applied
//! only when the final result is built.

mod aggregate;
mod binary;
mod eval;
mod functions;
mod histogram;
mod parallel;
mod range_functions;
mod steps;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use panoptes_model::{Labels, Sample};
use panoptes_storage::Storage;
use promql_parser::parser::{AtModifier, Expr, Offset};

use crate::error::{Error, Result};
use crate::parser;
use crate::value::{Annotations, MatrixSeries, Value, VectorSample};

pub(crate) use eval::Evaluator;

/// Programmatic knobs of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back a vector selector looks for the latest sample (Prometheus default 5m).
    pub lookback_delta: Duration,
    /// The most samples a query may hold in memory at once.
    pub max_samples: usize,
    /// The longest a query may run.
    pub timeout: Duration,
    /// The step of subqueries written without one (`[10m:]`).
    pub default_subquery_step: Duration,
    /// Stops the query with [`crate::Error::Canceled`] once cancelled (the client went away).
    pub cancel: Option<CancelToken>,
}

/// A flag that cancels a running query; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// Returns a token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancels every query holding a clone of this token; they stop at their next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Returns whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step: Duration::from_secs(60),
            cancel: None,
        }
    }
}

/// Evaluates PromQL queries. Cheap to clone and share; holds no per-query state.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
}

/// One element of an instant vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct Elem {
    pub(crate) labels: Labels,
    pub(crate) v: f64,
    /// Whether `__name__` must be removed from the final result.
    pub(crate) drop_name: bool,
}

/// One series of a range vector during evaluation.
#[derive(Debug, Clone)]
pub(crate) struct RangeSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<Sample>,
    pub(crate) drop_name: bool,
}

/// A range vector with the window it covers, which extrapolating functions need.
#[derive(Debug, Clone)]
pub(crate) struct RangeVal {
    pub(crate) series: Vec<RangeSeries>,
    /// The window's length in milliseconds.
    pub(crate) range_ms: i64,
    /// The window's (inclusive) end in milliseconds.
    pub(crate) end: i64,
}

/// A value during evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    Str(String),
    Vector(Vec<Elem>),
    Matrix(RangeVal),
}

impl Val {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

impl Engine {
    /// Returns an engine with the given options.
    pub fn new(options: EngineOptions) -> Self {
        Self { options }
    }

    /// Returns the engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at `time_ms`.
    ///
    /// # Errors
    ///
    /// Returns parse errors, unsupported-feature errors, evaluation errors (duplicate label sets,
    /// many-to-many matching, ...), [`Error::TooManySamples`], [`Error::Timeout`] or storage
    /// errors.
    pub fn instant_query(&self, storage: &dyn Storage, query: &str, time_ms: i64) -> Result<(Value, Annotations)> {
        let expr = parser::parse(query)?;
        self.instant_query_expr(storage, &expr, query, time_ms)
    }

    /// Evaluates an already parsed expression at `time_ms`; `query_text` is the text that
    /// annotation positions refer to.
    ///
    /// # Errors
    ///
    /// As [`Engine::instant_query`].
    pub fn instant_query_expr(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        query_text: &str,
        time_ms: i64,
    ) -> Result<(Value, Annotations)> {
        parser::check_supported(expr)?;
        let mut evaluator = Evaluator::open(&self.options, storage, expr, time_ms, time_ms, 0)?;
        let value = evaluator.eval_step(expr, time_ms)?;
        let result = match value {
            Val::Scalar(v) => Value::Scalar { t: time_ms, v },
            Val::Str(v) => Value::String { t: time_ms, v },
            Val::Vector(elems) => Value::Vector(finish_vector(elems, time_ms)?),
            Val::Matrix(range) => Value::Matrix(finish_matrix(
                range.series.into_iter().map(|s| (s.labels, s.samples, s.drop_name)).collect(),
            )?),
        };
        Ok((result, evaluator.take_annotations(query_text)))
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` (inclusive) and returns a
    /// matrix sorted by label set.
    ///
    /// # Errors
    ///
    /// As [`Engine::instant_query`], plus an error when the step is not positive, the range is
    /// inverted or the expression is not a scalar or instant vector.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<(Value, Annotations)> {
        let expr = parser::parse(query)?;
        self.range_query_expr(storage, &expr, query, start_ms, end_ms, step_ms)
    }

    /// Evaluates an already parsed expression as a range query; see [`Engine::range_query`].
    ///
    /// # Errors
    ///
    /// As [`Engine::range_query`].
    pub fn range_query_expr(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        query_text: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<(Value, Annotations)> {
        parser::check_supported(expr)?;
        if step_ms <= 0 {
            return Err(Error::Execution("zero or negative query resolution step widths are not accepted".into()));
        }
        if end_ms < start_ms {
            return Err(Error::Execution("end timestamp must not be before start time".into()));
        }
        let value_type = expr.value_type();
        use promql_parser::parser::value::ValueType;
        if !matches!(value_type, ValueType::Scalar | ValueType::Vector) {
            return Err(Error::Execution(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                match value_type {
                    ValueType::Matrix => "range vector",
                    ValueType::String => "string",
                    _ => "unknown",
                }
            )));
        }
        let mut evaluator = Evaluator::open(&self.options, storage, expr, start_ms, end_ms, step_ms)?;
        if let Some(grid) = evaluator.grid()
            && steps::steppable(expr)
        {
            let evaluated = evaluator.eval_steps(expr, &grid)?;
            let points: usize = evaluated.series.iter().map(|series| series.points.len()).sum();
            if points > self.options.max_samples {
                return Err(Error::TooManySamples);
            }
            let mut matrix = finish_matrix(steps::into_range_series(evaluated, &grid))?;
            matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
            return Ok((Value::Matrix(matrix), evaluator.take_annotations(query_text)));
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut series: Vec<(Labels, Vec<Sample>, bool)> = Vec::new();
        let mut points = 0usize;
        let mut t = start_ms;
        while t <= end_ms {
            let value = evaluator.eval_step(expr, t)?;
            let elems = match value {
                Val::Scalar(v) => vec![Elem { labels: Labels::empty(), v, drop_name: false }],
                Val::Vector(elems) => elems,
                other => {
                    return Err(Error::Execution(format!(
                        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                        other.type_name()
                    )));
                }
            };
            points += elems.len();
            if points > self.options.max_samples {
                return Err(Error::TooManySamples);
            }
            for elem in elems {
                let position = *index.entry(elem.labels.clone()).or_insert_with(|| {
                    series.push((elem.labels.clone(), Vec::new(), false));
                    series.len() - 1
                });
                // Two results of one step with the same labels (`label_replace` collisions):
                // Prometheus refuses the query rather than keep one of them.
                if series[position].1.last().is_some_and(|last| last.t == t) {
                    return Err(Error::Execution(DUPLICATE_LABELSET.into()));
                }
                series[position].1.push(Sample::new(t, elem.v));
                series[position].2 |= elem.drop_name;
            }
            t = match t.checked_add(step_ms) {
                Some(next) => next,
                None => break,
            };
        }
        let mut matrix = finish_matrix(series)?;
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((Value::Matrix(matrix), evaluator.take_annotations(query_text)))
    }
}

const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// Applies delayed name removal to a vector and checks that label sets stay unique.
fn finish_vector(elems: Vec<Elem>, t: i64) -> Result<Vec<VectorSample>> {
    let mut out = Vec::with_capacity(elems.len());
    let mut seen = std::collections::HashSet::with_capacity(elems.len());
    for elem in elems {
        let labels = if elem.drop_name { drop_reserved(&elem.labels) } else { elem.labels };
        if !seen.insert(labels.clone()) {
            return Err(Error::Execution(DUPLICATE_LABELSET.into()));
        }
        out.push(VectorSample { labels, t, v: elem.v });
    }
    Ok(out)
}

/// Applies delayed name removal to a matrix and checks that label sets stay unique. Series that
/// only collide after the name is removed are merged when their points do not overlap in time.
fn finish_matrix(series: Vec<(Labels, Vec<Sample>, bool)>) -> Result<Vec<MatrixSeries>> {
    let mut out: Vec<MatrixSeries> = Vec::with_capacity(series.len());
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(series.len());
    for (labels, samples, drop_name) in series {
        let labels = if drop_name { drop_reserved(&labels) } else { labels };
        match index.get(&labels) {
            Some(&position) => {
                let existing = &mut out[position].samples;
                if samples.iter().any(|s| existing.binary_search_by_key(&s.t, |e| e.t).is_ok()) {
                    return Err(Error::Execution(DUPLICATE_LABELSET.into()));
                }
                existing.extend(samples);
                existing.sort_by_key(|s| s.t);
            }
            None => {
                index.insert(labels.clone(), out.len());
                out.push(MatrixSeries { labels, samples });
            }
        }
    }
    Ok(out)
}

/// Removes the metric name together with the type and unit metadata labels, as Prometheus'
/// `DropReserved` does when a result loses its name.
fn drop_reserved(labels: &Labels) -> Labels {
    let mut builder = labels.builder();
    builder.remove(panoptes_model::METRIC_NAME);
    builder.remove("__type__");
    builder.remove("__unit__");
    builder.build()
}

/// Returns an offset in milliseconds (negative offsets look into the future).
pub(crate) fn offset_ms(offset: Option<&Offset>) -> i64 {
    match offset {
        Some(Offset::Pos(duration)) => duration_ms(*duration),
        Some(Offset::Neg(duration)) => -duration_ms(*duration),
        None => 0,
    }
}

/// Returns a duration in milliseconds, saturating.
pub(crate) fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Returns the timestamp an `@` modifier pins evaluation to, given the query's start and end.
pub(crate) fn at_ms(at: Option<&AtModifier>, query_start: i64, query_end: i64) -> Option<i64> {
    match at? {
        AtModifier::Start => Some(query_start),
        AtModifier::End => Some(query_end),
        AtModifier::At(time) => Some(match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(after) => duration_ms(after),
            Err(before) => -duration_ms(before.duration()),
        }),
    }
}

/// Returns the range `[mint, maxt]` of sample timestamps a query evaluated at times in
/// `[start, end]` may read, or `None` when it reads no series.
pub(crate) fn time_bounds(expr: &Expr, start: i64, end: i64, options: &EngineOptions) -> Option<(i64, i64)> {
    let mut bounds = None;
    walk_bounds(expr, start, end, start, end, options, &mut bounds);
    bounds
}

fn widen(bounds: &mut Option<(i64, i64)>, mint: i64, maxt: i64) {
    *bounds = Some(match *bounds {
        Some((lo, hi)) => (lo.min(mint), hi.max(maxt)),
        None => (mint, maxt),
    });
}

fn walk_bounds(
    expr: &Expr,
    lo: i64,
    hi: i64,
    query_start: i64,
    query_end: i64,
    options: &EngineOptions,
    bounds: &mut Option<(i64, i64)>,
) {
    let pinned = |at: Option<&AtModifier>, offset: Option<&Offset>| {
        let (lo, hi) = match at_ms(at, query_start, query_end) {
            Some(t) => (t, t),
            None => (lo, hi),
        };
        let offset = offset_ms(offset);
        (lo.saturating_sub(offset), hi.saturating_sub(offset))
    };
    let recurse = |child: &Expr, lo: i64, hi: i64, bounds: &mut Option<(i64, i64)>| {
        walk_bounds(child, lo, hi, query_start, query_end, options, bounds);
    };
    match expr {
        Expr::VectorSelector(selector) => {
            let (lo, hi) = pinned(selector.at.as_ref(), selector.offset.as_ref());
            widen(bounds, lo.saturating_sub(duration_ms(options.lookback_delta)), hi);
        }
        Expr::MatrixSelector(matrix) => {
            let (lo, hi) = pinned(matrix.vs.at.as_ref(), matrix.vs.offset.as_ref());
            widen(bounds, lo.saturating_sub(duration_ms(matrix.range)), hi);
        }
        Expr::Subquery(subquery) => {
            let (lo, hi) = pinned(subquery.at.as_ref(), subquery.offset.as_ref());
            recurse(&subquery.expr, lo.saturating_sub(duration_ms(subquery.range)), hi, bounds);
        }
        Expr::Aggregate(aggregate) => {
            if let Some(param) = &aggregate.param {
                recurse(param, lo, hi, bounds);
            }
            recurse(&aggregate.expr, lo, hi, bounds);
        }
        Expr::Unary(unary) => recurse(&unary.expr, lo, hi, bounds),
        Expr::Binary(binary) => {
            recurse(&binary.lhs, lo, hi, bounds);
            recurse(&binary.rhs, lo, hi, bounds);
        }
        Expr::Paren(paren) => recurse(&paren.expr, lo, hi, bounds),
        Expr::Call(call) => {
            for arg in &call.args.args {
                recurse(arg, lo, hi, bounds);
            }
        }
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests;
