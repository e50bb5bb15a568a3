//! The evaluator: one query's state, expression dispatch, selectors and subqueries.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;
use std::time::Instant;

use panoptes_model::{Labels, Sample, is_stale_nan};
use panoptes_storage::{Querier, Series, Storage, collect_samples};
use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, VectorSelector};

use super::steps::{Grid, Served, steppable};
use super::{CancelToken, Elem, EngineOptions, RangeSeries, RangeVal, Val, at_ms, duration_ms, offset_ms, time_bounds};
use crate::error::{Error, Result};
use crate::value::{Annotations, AnnotationsBuilder};

/// The series one selector matched, with every sample the query may need.
pub(crate) type LoadedSeries = Rc<Vec<(Labels, Vec<Sample>)>>;

/// One annotation before its position in the query text is known.
#[derive(Clone, PartialEq, Eq, Hash)]
struct PendingAnnotation {
    is_warning: bool,
    text: String,
    /// Candidate texts, separated by NUL, whose first occurrence in the query marks the
    /// position reported; the first candidate found wins.
    anchor: Option<String>,
}

/// The state of one query's evaluation.
pub(crate) struct Evaluator<'a> {
    pub(crate) options: &'a EngineOptions,
    querier: Option<Box<dyn Querier>>,
    cache: HashMap<String, LoadedSeries>,
    pub(crate) query_start: i64,
    pub(crate) query_end: i64,
    /// The range query's step in milliseconds (0 for instant queries).
    pub(crate) query_step: i64,
    /// Annotations recorded, each once, in order of first occurrence.
    annotations: Vec<PendingAnnotation>,
    /// The annotations recorded so far: a query over many series may record one per series.
    annotations_seen: HashSet<PendingAnnotation>,
    started: Instant,
    step_samples: usize,
    /// The steps of the query (one for an instant query); `None` when there are too many.
    grid: Option<Grid>,
    /// How many subqueries are being evaluated: their inner steps are not the grid's.
    subquery_depth: usize,
    /// Nodes evaluated over the whole grid, by address, served to step-by-step parents (`None`:
    /// the node is not steppable). Addresses are stable: every node evaluated belongs to the
    /// query's expression tree, which outlives the evaluator's use of it.
    served: HashMap<usize, Option<Served>>,
}

impl<'a> Evaluator<'a> {
    /// Opens one querier over everything `expr` reads when evaluated in `[start, end]`.
    pub(crate) fn open(
        options: &'a EngineOptions,
        storage: &dyn Storage,
        expr: &Expr,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<Self> {
        let querier = match time_bounds(expr, start, end, options) {
            Some((mint, maxt)) => Some(storage.querier(mint, maxt)?),
            None => None,
        };
        Ok(Self {
            options,
            querier,
            cache: HashMap::new(),
            query_start: start,
            query_end: end,
            query_step: step,
            annotations: Vec::new(),
            annotations_seen: HashSet::new(),
            started: Instant::now(),
            step_samples: 0,
            // An instant query is a range query of one step: its selectors, range functions and
            // aggregations then take the same path, with series read one at a time in parallel.
            grid: if step == 0 && start == end { Some(Grid::single(start)) } else { Grid::new(start, end, step) },
            subquery_depth: 0,
            served: HashMap::new(),
        })
    }

    /// Evaluates `expr` at one top-level step.
    pub(crate) fn eval_step(&mut self, expr: &Expr, t: i64) -> Result<Val> {
        self.step_samples = 0;
        self.check_deadline()?;
        self.eval(expr, t)
    }

    /// Returns the step grid of a range query.
    pub(crate) fn grid(&self) -> Option<Grid> {
        self.grid
    }

    /// Fails once the query has run longer than its timeout or was cancelled.
    pub(crate) fn check_deadline(&self) -> Result<()> {
        self.deadline().check()
    }

    /// Counts samples held by the current step against the limit.
    pub(crate) fn account(&mut self, samples: usize) -> Result<()> {
        self.step_samples = self.step_samples.saturating_add(samples);
        if self.step_samples > self.options.max_samples {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }

    /// Records a warning; `anchor` is text of the query that the position should point at.
    pub(crate) fn warn(&mut self, text: String, anchor: Option<String>) {
        self.record(PendingAnnotation { is_warning: true, text, anchor });
    }

    /// Records an info; see [`Evaluator::warn`].
    pub(crate) fn info(&mut self, text: String, anchor: Option<String>) {
        self.record(PendingAnnotation { is_warning: false, text, anchor });
    }

    fn record(&mut self, pending: PendingAnnotation) {
        if !self.annotations_seen.contains(&pending) {
            self.annotations_seen.insert(pending.clone());
            self.annotations.push(pending);
        }
    }

    /// Returns the annotations, with positions resolved against `query_text`.
    pub(crate) fn take_annotations(&mut self, query_text: &str) -> Annotations {
        let mut out = AnnotationsBuilder::default();
        self.annotations_seen.clear();
        for pending in std::mem::take(&mut self.annotations) {
            let prefix = if pending.is_warning { "PromQL warning: " } else { "PromQL info: " };
            let position = pending.anchor.as_deref().and_then(|anchor| position_of(query_text, anchor));
            let text = match position {
                Some((line, column)) => format!("{prefix}{} ({line}:{column})", pending.text),
                None => format!("{prefix}{}", pending.text),
            };
            if pending.is_warning {
                out.add_warning(text);
            } else {
                out.add_info(text);
            }
        }
        out.finish()
    }

    /// Evaluates `expr` at time `t`.
    pub(crate) fn eval(&mut self, expr: &Expr, t: i64) -> Result<Val> {
        if let Some(value) = self.eval_served(expr, t)? {
            return Ok(value);
        }
        match expr {
            Expr::NumberLiteral(number) => Ok(Val::Scalar(number.val)),
            Expr::StringLiteral(string) => Ok(Val::Str(string.val.clone())),
            Expr::Paren(paren) => self.eval(&paren.expr, t),
            Expr::Unary(unary) => match self.eval(&unary.expr, t)? {
                Val::Scalar(v) => Ok(Val::Scalar(-v)),
                Val::Vector(mut elems) => {
                    for elem in &mut elems {
                        elem.v = -elem.v;
                        elem.drop_name = true;
                    }
                    Ok(Val::Vector(elems))
                }
                other => Err(Error::Execution(format!("unary expression not allowed on {}", other.type_name()))),
            },
            Expr::VectorSelector(selector) => {
                let elems = self.select_instant(selector, t)?.into_iter().map(|(elem, _)| elem).collect();
                Ok(Val::Vector(elems))
            }
            Expr::MatrixSelector(matrix) => Ok(Val::Matrix(self.select_range(matrix, t)?)),
            Expr::Subquery(subquery) => Ok(Val::Matrix(self.subquery(subquery, t)?)),
            Expr::Aggregate(aggregate) => super::aggregate::eval_aggregate(self, aggregate, t),
            Expr::Binary(binary) => super::binary::eval_binary(self, binary, t),
            Expr::Call(call) => super::functions::eval_call(self, call, t),
            Expr::Extension(_) => Err(Error::Unsupported("extension expressions".into())),
        }
    }

    /// In a range query, evaluates a steppable node over the whole grid the first time a step
    /// asks for it and returns its column at `t`; `Ok(None)` when the node is not steppable or
    /// `t` is not a step of the query (inside a subquery).
    fn eval_served(&mut self, expr: &Expr, t: i64) -> Result<Option<Val>> {
        let Some(grid) = self.grid else { return Ok(None) };
        if self.subquery_depth > 0
            || !matches!(expr, Expr::VectorSelector(_) | Expr::Call(_) | Expr::Aggregate(_) | Expr::Binary(_))
        {
            return Ok(None);
        }
        let Some(index) = grid.index(t) else { return Ok(None) };
        let key = std::ptr::from_ref(expr) as usize;
        if !self.served.contains_key(&key) {
            let served = if steppable(expr) { Some(Served::new(self.eval_steps(expr, &grid)?)) } else { None };
            self.served.insert(key, served);
        }
        let Some(served) = self.served.get_mut(&key).and_then(Option::as_mut) else { return Ok(None) };
        let (elems, samples) = served.column(index);
        self.account(samples)?;
        Ok(Some(Val::Vector(elems)))
    }

    /// Evaluates `expr` and requires an instant vector.
    pub(crate) fn eval_vector(&mut self, expr: &Expr, t: i64) -> Result<Vec<Elem>> {
        match self.eval(expr, t)? {
            Val::Vector(elems) => Ok(elems),
            other => Err(Error::Execution(format!("expected instant vector, got {}", other.type_name()))),
        }
    }

    /// Evaluates `expr` and requires a scalar.
    pub(crate) fn eval_scalar(&mut self, expr: &Expr, t: i64) -> Result<f64> {
        match self.eval(expr, t)? {
            Val::Scalar(v) => Ok(v),
            other => Err(Error::Execution(format!("expected scalar, got {}", other.type_name()))),
        }
    }

    /// Evaluates `expr` and requires a range vector.
    pub(crate) fn eval_matrix(&mut self, expr: &Expr, t: i64) -> Result<RangeVal> {
        match self.eval(expr, t)? {
            Val::Matrix(range) => Ok(range),
            other => Err(Error::Execution(format!("expected range vector, got {}", other.type_name()))),
        }
    }

    /// Returns the series a selector matches, sorted by label set and each once, with their
    /// samples not read yet.
    pub(crate) fn select_series(&mut self, selector: &VectorSelector) -> Result<Vec<Series>> {
        let Some(querier) = self.querier.as_ref() else { return Ok(Vec::new()) };
        let deadline = self.deadline();
        let sets = crate::parser::selector_matchers(selector)?;
        let mut selected: Vec<Series> = Vec::new();
        let mut count = 0usize;
        for matchers in &sets {
            let series_set = querier.select(matchers)?;
            // Stores that know how many series they hand out say so: one allocation of the
            // right size instead of doubling through fresh memory.
            let mut set: Vec<Series> = Vec::with_capacity(series_set.size_hint().0);
            for series in series_set {
                // Merging the stores' series may be much of a query's work: stay responsive.
                count += 1;
                if count.is_multiple_of(1024) {
                    deadline.check()?;
                }
                set.push(series?);
            }
            if !set.is_sorted_by(|a, b| a.labels < b.labels) {
                set.sort_by(|a, b| a.labels.cmp(&b.labels));
                set.dedup_by(|later, earlier| later.labels == earlier.labels);
            }
            // Alternatives (`{__name__=~"a|b"}` split into `or` sets) may overlap and
            // interleave: merge them in label order, keeping each series once.
            selected = if selected.is_empty() { set } else { merge_by_labels(selected, set) };
        }
        Ok(selected)
    }

    /// Returns the series a selector matches, reading them on first use.
    pub(crate) fn load(&mut self, selector: &VectorSelector) -> Result<LoadedSeries> {
        let key = selector_key(selector);
        if let Some(series) = self.cache.get(&key) {
            return Ok(series.clone());
        }
        let selected = self.select_series(selector)?;
        let mut loaded: Vec<(Labels, Vec<Sample>)> = Vec::with_capacity(selected.len());
        for (index, mut series) in selected.into_iter().enumerate() {
            // Loading may be the bulk of a query's work: stay responsive to cancellation.
            if index % 1024 == 1023 {
                self.check_deadline()?;
            }
            let samples = collect_samples(series.samples.as_mut());
            if let Some(error) = series.samples.take_error() {
                return Err(error.into());
            }
            loaded.push((series.labels, samples));
        }
        let loaded: LoadedSeries = Rc::new(loaded);
        self.cache.insert(key, loaded.clone());
        Ok(loaded)
    }

    /// Returns the series of `selector` already read by [`Evaluator::load`], if any.
    pub(crate) fn loaded(&self, selector: &VectorSelector) -> Option<LoadedSeries> {
        self.cache.get(&selector_key(selector)).cloned()
    }

    /// Returns what workers need to stop a query that ran out of time or was cancelled.
    pub(crate) fn deadline(&self) -> Deadline {
        Deadline { cancel: self.options.cancel.clone(), started: self.started, timeout: self.options.timeout }
    }

    /// Evaluates a vector selector at `t`, returning each element with its sample's timestamp.
    pub(crate) fn select_instant(&mut self, selector: &VectorSelector, t: i64) -> Result<Vec<(Elem, i64)>> {
        let series = self.load(selector)?;
        let reference = at_ms(selector.at.as_ref(), self.query_start, self.query_end)
            .unwrap_or(t)
            .saturating_sub(offset_ms(selector.offset.as_ref()));
        let oldest = reference.saturating_sub(duration_ms(self.options.lookback_delta));
        let mut out = Vec::new();
        for (labels, samples) in series.iter() {
            let index = samples.partition_point(|s| s.t <= reference);
            let Some(sample) = index.checked_sub(1).map(|i| samples[i]) else { continue };
            if sample.t <= oldest || is_stale_nan(sample.v) {
                continue;
            }
            out.push((Elem { labels: labels.clone(), v: sample.v, drop_name: false }, sample.t));
        }
        self.account(out.len())?;
        Ok(out)
    }

    /// Evaluates a range selector at `t`: the samples in the left-open window ending at `t`.
    pub(crate) fn select_range(&mut self, matrix: &MatrixSelector, t: i64) -> Result<RangeVal> {
        let selector = &matrix.vs;
        let series = self.load(selector)?;
        let end = at_ms(selector.at.as_ref(), self.query_start, self.query_end)
            .unwrap_or(t)
            .saturating_sub(offset_ms(selector.offset.as_ref()));
        let range_ms = duration_ms(matrix.range);
        let start = end.saturating_sub(range_ms);
        let mut out = Vec::new();
        let mut count = 0;
        for (labels, samples) in series.iter() {
            let from = samples.partition_point(|s| s.t <= start);
            let to = samples.partition_point(|s| s.t <= end);
            let window: Vec<Sample> =
                samples[from..to.max(from)].iter().filter(|s| !is_stale_nan(s.v)).copied().collect();
            if window.is_empty() {
                continue;
            }
            count += window.len();
            out.push(RangeSeries { labels: labels.clone(), samples: window, drop_name: false });
        }
        self.account(count)?;
        Ok(RangeVal { series: out, range_ms, end })
    }

    /// Evaluates a subquery at `t`: its inner expression at every aligned step in the window.
    pub(crate) fn subquery(&mut self, subquery: &SubqueryExpr, t: i64) -> Result<RangeVal> {
        let step = match subquery.step {
            Some(step) => duration_ms(step),
            None => duration_ms(self.options.default_subquery_step),
        };
        if step <= 0 {
            return Err(Error::Execution("subquery step must be positive".into()));
        }
        let end = at_ms(subquery.at.as_ref(), self.query_start, self.query_end)
            .unwrap_or(t)
            .saturating_sub(offset_ms(subquery.offset.as_ref()));
        let range_ms = duration_ms(subquery.range);
        let lowest = end.saturating_sub(range_ms);
        let mut start = step * (lowest / step);
        if start <= lowest {
            start = start.saturating_add(step);
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut series: Vec<RangeSeries> = Vec::new();
        let mut inner_t = start;
        let mut count = 0;
        while inner_t <= end {
            self.check_deadline()?;
            let saved = self.step_samples;
            self.subquery_depth += 1;
            let evaluated = self.eval(&subquery.expr, inner_t);
            self.subquery_depth -= 1;
            let elems = match evaluated? {
                Val::Vector(elems) => elems,
                Val::Scalar(v) => vec![Elem { labels: Labels::empty(), v, drop_name: false }],
                other => {
                    return Err(Error::Execution(format!("subquery over {} is not allowed", other.type_name())));
                }
            };
            self.step_samples = saved;
            count += elems.len();
            if count > self.options.max_samples {
                return Err(Error::TooManySamples);
            }
            for elem in elems {
                let position = *index.entry(elem.labels.clone()).or_insert_with(|| {
                    series.push(RangeSeries { labels: elem.labels.clone(), samples: Vec::new(), drop_name: false });
                    series.len() - 1
                });
                series[position].samples.push(Sample::new(inner_t, elem.v));
                series[position].drop_name |= elem.drop_name;
            }
            inner_t = match inner_t.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
        self.account(count)?;
        Ok(RangeVal { series, range_ms, end })
    }
}

/// The key of a selector's series in the evaluator's cache: what it selects, not where.
fn selector_key(selector: &VectorSelector) -> String {
    format!("{:?}|{:?}", selector.name, selector.matchers)
}

/// A query's time limit and cancellation, checkable from any thread.
#[derive(Clone)]
pub(crate) struct Deadline {
    cancel: Option<CancelToken>,
    started: Instant,
    timeout: std::time::Duration,
}

impl Deadline {
    /// Fails once the query has run longer than its timeout or was cancelled.
    pub(crate) fn check(&self) -> Result<()> {
        if self.cancel.as_ref().is_some_and(CancelToken::is_cancelled) {
            return Err(Error::Canceled);
        }
        if self.started.elapsed() > self.timeout {
            return Err(Error::Timeout);
        }
        Ok(())
    }
}

/// Returns the 1-based line and column of the first occurrence of `needle` in `text`.
fn position_of(text: &str, needles: &str) -> Option<(usize, usize)> {
    let offset = needles.split('\0').filter(|n| !n.is_empty()).find_map(|needle| text.find(needle))?;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = offset - before.rfind('\n').map_or(0, |newline| newline + 1) + 1;
    Some((line, column))
}

/// Merges two lists of series sorted by labels, each label set once, into one; a label set in
/// both keeps the series of `first`.
fn merge_by_labels(first: Vec<Series>, second: Vec<Series>) -> Vec<Series> {
    let mut merged = Vec::with_capacity(first.len() + second.len());
    let mut first = first.into_iter().peekable();
    let mut second = second.into_iter().peekable();
    loop {
        let order = match (first.peek(), second.peek()) {
            (Some(a), Some(b)) => a.labels.cmp(&b.labels),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        if order == std::cmp::Ordering::Equal {
            second.next();
        }
        let next = if order == std::cmp::Ordering::Greater { second.next() } else { first.next() };
        merged.extend(next);
    }
    merged
}

#[cfg(test)]
mod tests {
    use panoptes_model::Labels;
    use panoptes_storage::{Series, VecSampleIterator};

    use super::merge_by_labels;

    fn series(names: &[(&str, f64)]) -> Vec<Series> {
        names
            .iter()
            .map(|&(name, v)| Series {
                labels: Labels::from_pairs([("__name__", name)]),
                samples: Box::new(VecSampleIterator::new(vec![panoptes_model::Sample::new(0, v)])),
            })
            .collect()
    }

    #[test]
    fn merge_by_labels_orders_by_labels_and_keeps_the_first_lists_series_of_a_label_set() {
        let merged = merge_by_labels(
            series(&[("a", 1.0), ("c", 1.0), ("d", 1.0)]),
            series(&[("b", 2.0), ("c", 2.0), ("e", 2.0)]),
        );
        let got: Vec<(String, f64)> = merged
            .into_iter()
            .map(|mut s| {
                (s.labels.get("__name__").unwrap_or_default().to_owned(), s.samples.next().map_or(f64::NAN, |x| x.v))
            })
            .collect();
        let want = [("a", 1.0), ("b", 2.0), ("c", 1.0), ("d", 1.0), ("e", 2.0)].map(|(n, v)| (n.to_owned(), v));
        assert_eq!(got, want);
    }
}
