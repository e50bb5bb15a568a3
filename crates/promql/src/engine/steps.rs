//! Queries evaluated one node at a time over every step of the query (the step grid; one step
//! for an instant query), rather than one step at a time over the whole expression.
//!
//! Most of a range query's work is per series: find each series' sample or window at every
//! step, apply a range function, add the value to its group. Evaluated step by step, every step
//! slices each window again, copies it, clones each series' labels and recomputes each series'
//! group. Evaluated over the grid, a series' window slides forward with two cursors, its labels
//! are cloned once and its group is found once; an aggregation directly over a selector or a
//! range function folds each series' points as soon as they are computed (in series order), so
//! no series' points outlive its turn.
//!
//! Only node kinds whose results are per series (or per group) and whose other operands are
//! number literals are evaluated this way ([`steppable`]); every other node is evaluated step by
//! step as before and asks for the columns of its steppable children one step at a time (see
//! `Evaluator::eval`), so a query gains wherever its heavy part is steppable. Both paths share
//! the same kernels (range functions over one window, aggregation accumulators, vector-scalar
//! operators), feed them values in the same order and account the same samples at each step, so
//! their answers are the same.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use panoptes_model::{Labels, METRIC_NAME, Sample, is_stale_nan};
use promql_parser::parser::{AggregateExpr, BinaryExpr, Call, Expr, UnaryExpr, VectorSelector};

use super::aggregate::{FoldOp, Group, GroupIndex, Grouping, accumulate, finish, group_labels, kahan_add};
use super::binary::{scalar_op, scalar_op_drops_name};
use super::functions::{format_go_g, math_function};
use super::parallel::{Point, PointSink};
use super::range_functions::{
    CounterResets, RangeKernel, RateShapes, RateWindow, Window, anchor_candidates, check_range_function_args,
    extrapolated_rates, is_counter_name, keeps_name, matrix_argument, non_counter_info, warns_non_counter,
};
use super::{Evaluator, at_ms, duration_ms, offset_ms};
use crate::error::{Error, Result};

/// The evaluation times of a range query: `start`, `start + step`, … (`count` of them).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid {
    start: i64,
    step: i64,
    count: usize,
}

impl Grid {
    /// Returns the grid of a range query from `start` to `end` (inclusive); `None` for instant
    /// queries (`step` 0) and grids too large to index.
    pub(crate) fn new(start: i64, end: i64, step: i64) -> Option<Self> {
        if step <= 0 || end < start {
            return None;
        }
        let count = usize::try_from((end - start) / step).ok()?.checked_add(1)?;
        u32::try_from(count).ok()?;
        Some(Self { start, step, count })
    }

    /// Returns the grid of an instant query: the one step `t`.
    pub(crate) fn single(t: i64) -> Self {
        Self { start: t, step: 1, count: 1 }
    }

    /// Returns the time of step `index`.
    pub(crate) fn time(&self, index: usize) -> i64 {
        self.start + self.step * index as i64
    }

    /// Returns the index of the step at time `t`, if `t` is one of the grid's times.
    pub(crate) fn index(&self, t: i64) -> Option<usize> {
        let offset = t.checked_sub(self.start)?;
        if offset < 0 || offset % self.step != 0 {
            return None;
        }
        usize::try_from(offset / self.step).ok().filter(|&index| index < self.count)
    }

    /// Returns the number of steps.
    pub(crate) fn len(&self) -> usize {
        self.count
    }
}

/// One series of a node evaluated over the grid: its points, by step index, in step order.
#[derive(Debug)]
pub(crate) struct StepSeries {
    pub(crate) labels: Labels,
    pub(crate) drop_name: bool,
    pub(crate) points: Vec<(u32, f64)>,
}

/// A node evaluated over the grid.
#[derive(Debug)]
pub(crate) struct Steps {
    pub(crate) series: Vec<StepSeries>,
    /// Samples the node's selectors hold at each step, as step-by-step evaluation accounts them.
    pub(crate) samples: Vec<usize>,
}

/// A steppable node's result being served to a step-by-step parent, one column per step.
pub(crate) struct Served {
    steps: Steps,
    /// Per series, the position of its first point not yet served.
    cursors: Vec<usize>,
}

impl Served {
    pub(crate) fn new(steps: Steps) -> Self {
        let cursors = vec![0; steps.series.len()];
        Self { steps, cursors }
    }

    /// Returns the elements at step `index` and the samples accounted at that step.
    pub(crate) fn column(&mut self, index: usize) -> (Vec<super::Elem>, usize) {
        let mut out = Vec::new();
        let step = index as u32;
        for (series, cursor) in self.steps.series.iter().zip(&mut self.cursors) {
            if series.points.get(*cursor).is_some_and(|&(at, _)| at > step) {
                // Asked for an earlier step than last time: find the position again.
                *cursor = series.points.partition_point(|&(at, _)| at < step);
            }
            while series.points.get(*cursor).is_some_and(|&(at, _)| at < step) {
                *cursor += 1;
            }
            if let Some(&(at, v)) = series.points.get(*cursor)
                && at == step
            {
                out.push(super::Elem { labels: series.labels.clone(), v, drop_name: series.drop_name });
            }
        }
        (out, self.steps.samples.get(index).copied().unwrap_or(0))
    }
}

thread_local! {
    /// The windows of one series that `rate` and friends evaluate together, kept from one series
    /// to the next on each thread.
    static RATE_WINDOWS: std::cell::Cell<Vec<RateWindow>> = const { std::cell::Cell::new(Vec::new()) };
    /// What those windows' times alone decide, by step, kept from one series to the next (the
    /// series of a selector usually share their sample times).
    /// The counter resets of one series (`rate`, `increase`), kept likewise.
    static COUNTER_RESETS: std::cell::Cell<CounterResets> = std::cell::Cell::new(CounterResets::default());
    static RATE_SHAPES: std::cell::RefCell<RateShapes> = std::cell::RefCell::new(RateShapes::default());
}

/// The most aggregation states (groups × steps) folded series by series; about 120 bytes each.
const MAX_FOLD_STATES: usize = 1 << 18;

/// Returns the value of a number literal, possibly in parentheses or negated.
fn literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(number) => Some(number.val),
        Expr::Paren(paren) => literal(&paren.expr),
        Expr::Unary(unary) => literal(&unary.expr).map(|v| -v),
        _ => None,
    }
}

/// The aggregation operators evaluated over the grid: those that fold each group's values into
/// one number (not `topk`, `count_values`, `limitk`, ...).
fn steppable_aggregation(op: &str) -> bool {
    matches!(op, "sum" | "avg" | "count" | "group" | "min" | "max" | "stddev" | "stdvar" | "quantile")
}

/// Whether `expr` is an instant-vector expression this module evaluates over the grid.
pub(crate) fn steppable(expr: &Expr) -> bool {
    match expr {
        Expr::Paren(paren) => steppable(&paren.expr),
        Expr::VectorSelector(_) => true,
        Expr::Unary(unary) => steppable(&unary.expr),
        Expr::Aggregate(aggregate) => {
            let op = aggregate.op.to_string();
            let param_ok = match &aggregate.param {
                None => op != "quantile",
                Some(param) => op == "quantile" && literal(param).is_some(),
            };
            steppable_aggregation(&op) && param_ok && steppable(&aggregate.expr)
        }
        Expr::Binary(binary) => {
            let op = binary.op.to_string();
            let arithmetic_or_comparison = !matches!(op.as_str(), "and" | "or" | "unless");
            arithmetic_or_comparison
                && match (literal(&binary.lhs), literal(&binary.rhs)) {
                    (Some(_), None) => steppable(&binary.rhs),
                    (None, Some(_)) => steppable(&binary.lhs),
                    _ => false,
                }
        }
        Expr::Call(call) => steppable_call(call),
        _ => false,
    }
}

fn steppable_call(call: &Call) -> bool {
    let name = call.func.name;
    let args = &call.args.args;
    if let Some(matrix_index) = matrix_argument(name) {
        return name != "absent_over_time"
            && args.iter().enumerate().all(|(index, arg)| {
                if index == matrix_index {
                    matches!(arg.as_ref(), Expr::MatrixSelector(_))
                } else {
                    literal(arg).is_some()
                }
            })
            && args.len() > matrix_index;
    }
    math_function(name).is_some() && args.len() == 1 && steppable(&args[0])
}

impl Evaluator<'_> {
    /// Evaluates a [`steppable`] expression at every step of `grid`.
    pub(crate) fn eval_steps(&mut self, expr: &Expr, grid: &Grid) -> Result<Steps> {
        match expr {
            Expr::Paren(paren) => self.eval_steps(&paren.expr, grid),
            Expr::VectorSelector(_) => self.leaf_steps(expr, grid),
            Expr::Unary(unary) => self.unary_steps(unary, grid),
            Expr::Aggregate(aggregate) => self.aggregate_steps(aggregate, grid),
            Expr::Binary(binary) => self.binary_steps(binary, grid),
            Expr::Call(call) if matrix_argument(call.func.name).is_some() => self.leaf_steps(expr, grid),
            Expr::Call(call) => self.math_steps(call, grid),
            _ => Err(Error::Execution(format!("internal: {expr} is not evaluated over the step grid"))),
        }
    }

    /// A selector or a range function over a range selector: its series computed one at a
    /// time ([`Evaluator::map_series`]) and collected.
    fn leaf_steps(&mut self, expr: &Expr, grid: &Grid) -> Result<Steps> {
        let mut sink = Collect { drop_name: leaf_drops_name(expr), series: Vec::new() };
        let samples = self.map_leaf(expr, grid, &mut sink)?;
        Ok(Steps { series: sink.series, samples })
    }

    /// Computes the points of every series of a leaf node (see [`leaf`]) and hands them to
    /// `sink` in series order; returns the samples held at each step.
    fn map_leaf(&mut self, expr: &Expr, grid: &Grid, sink: &mut dyn PointSink) -> Result<Vec<usize>> {
        let held = match expr {
            Expr::Paren(paren) => return self.map_leaf(&paren.expr, grid, sink),
            Expr::VectorSelector(selector) => self.map_selector(selector, grid, sink)?,
            Expr::Call(call) => self.map_range_function(call, grid, sink)?,
            _ => return Err(Error::Execution(format!("internal: {expr} is not a selector over the step grid"))),
        };
        self.check_held(&held)?;
        Ok(held)
    }

    /// A vector selector: at each step, each series' latest sample within the lookback delta.
    fn map_selector(&mut self, selector: &VectorSelector, grid: &Grid, sink: &mut dyn PointSink) -> Result<Vec<usize>> {
        let pinned = at_ms(selector.at.as_ref(), self.query_start, self.query_end);
        let offset = offset_ms(selector.offset.as_ref());
        let lookback = duration_ms(self.options.lookback_delta);
        let per_series = |samples: &[Sample], held: &mut [usize], points: &mut Vec<Point>| {
            let mut next = 0;
            for (index, held) in held.iter_mut().enumerate() {
                let reference = pinned.unwrap_or_else(|| grid.time(index)).saturating_sub(offset);
                while samples.get(next).is_some_and(|s| s.t <= reference) {
                    next += 1;
                }
                let Some(sample) = next.checked_sub(1).map(|i| samples[i]) else { continue };
                if sample.t <= reference.saturating_sub(lookback) || is_stale_nan(sample.v) {
                    continue;
                }
                points.push((index as u32, sample.v));
                *held += 1;
            }
        };
        self.map_series(selector, grid.len(), &per_series, sink)
    }

    /// A range function over a range selector: each series' window slides along the grid.
    fn map_range_function(&mut self, call: &Call, grid: &Grid, sink: &mut dyn PointSink) -> Result<Vec<usize>> {
        let name = call.func.name;
        let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
        let matrix_index = matrix_argument(name).unwrap_or(0);
        let Some(Expr::MatrixSelector(matrix)) = args.get(matrix_index).copied() else {
            return Err(Error::Execution(format!("missing range vector argument of {name}()")));
        };
        let scalars: Vec<f64> = args
            .iter()
            .enumerate()
            .filter(|&(index, _)| index != matrix_index)
            .map(|(_, arg)| literal(arg).unwrap_or(f64::NAN))
            .collect();
        check_range_function_args(self, name, &args, &scalars)?;
        let selector = &matrix.vs;
        let pinned = at_ms(selector.at.as_ref(), self.query_start, self.query_end);
        let offset = offset_ms(selector.offset.as_ref());
        let range_ms = duration_ms(matrix.range);
        let range_seconds = range_ms as f64 / 1000.0;
        let counts_resets = matches!(name, "rate" | "increase");
        let kernel = RangeKernel::new(name);
        let per_series = |samples: &[Sample], held: &mut [usize], points: &mut Vec<Point>| {
            let samples: Cow<'_, [Sample]> = if samples.iter().any(|s| is_stale_nan(s.v)) {
                Cow::Owned(samples.iter().filter(|s| !is_stale_nan(s.v)).copied().collect())
            } else {
                Cow::Borrowed(samples)
            };
            // A sample below the one before it is a counter reset; `rate` need not look for
            // resets in a window without any (and `delta` never does).
            let resets = counts_resets.then(|| {
                let mut resets = COUNTER_RESETS.with(|cell| cell.take());
                resets.fill(&samples);
                resets
            });
            let resets_in =
                |from: usize, to: usize| resets.as_ref().map_or((0, 0), |resets| resets.in_window(from, to));
            let (mut from, mut to) = (0, 0);
            // `rate`, `increase` and `delta` collect their windows and evaluate them together.
            let mut rate_windows = matches!(kernel, RangeKernel::ExtrapolatedRate { .. }).then(|| {
                let mut windows = RATE_WINDOWS.with(|cell| cell.take());
                windows.clear();
                windows
            });
            for (index, held) in held.iter_mut().enumerate() {
                let t = grid.time(index);
                let end = pinned.unwrap_or(t).saturating_sub(offset);
                let start = end.saturating_sub(range_ms);
                while samples.get(from).is_some_and(|s| s.t <= start) {
                    from += 1;
                }
                to = to.max(from);
                while samples.get(to).is_some_and(|s| s.t <= end) {
                    to += 1;
                }
                if from == to {
                    continue;
                }
                *held += to - from;
                if let Some(rate_windows) = rate_windows.as_mut() {
                    // Evaluated after the loop, all windows at once.
                    if to - from >= 2 {
                        let resets = resets_in(from, to);
                        rate_windows.push(RateWindow { step: index as u32, from, to, resets, start, end });
                    }
                    continue;
                }
                let (resets_from, resets_to) = resets_in(from, to);
                let has_no_resets = counts_resets && resets_to == resets_from;
                let window = Window { samples: &samples[from..to], start, end, range_seconds, has_no_resets };
                if let Some(v) = kernel.value(&window, t, &scalars) {
                    points.push((index as u32, v));
                }
            }
            if let (Some(windows), RangeKernel::ExtrapolatedRate { is_counter, is_rate }) = (rate_windows, kernel) {
                let dropped_from = resets.as_ref().map_or(&[][..], CounterResets::dropped_from);
                RATE_SHAPES.with_borrow_mut(|shapes| {
                    shapes.prepare(is_rate, range_seconds);
                    extrapolated_rates(&samples, dropped_from, &windows, is_counter, shapes, points);
                });
                RATE_WINDOWS.with(|cell| cell.replace(windows));
            }
            if let Some(resets) = resets {
                COUNTER_RESETS.with(|cell| cell.replace(resets));
            }
        };
        if !warns_non_counter(name) {
            return self.map_series(selector, grid.len(), &per_series, sink);
        }
        let mut names = NonCounterNames { inner: sink, names: Vec::new(), last: None };
        let held = self.map_series(selector, grid.len(), &per_series, &mut names)?;
        let anchor = anchor_candidates(args[matrix_index]);
        for name in names.names {
            non_counter_info(self, &name, Some(anchor.clone()));
        }
        Ok(held)
    }

    /// An aggregation: each input series' group is found once, then every step folds the
    /// values present at that step in input order. With few enough groups, every group keeps
    /// one state per step and the input is folded series by series (each state still receives
    /// its values in input order), as the series are computed when the input is a selector or
    /// a range function; otherwise step by step with one state per group.
    fn aggregate_steps(&mut self, aggregate: &AggregateExpr, grid: &Grid) -> Result<Steps> {
        let op = aggregate.op.to_string();
        let q = aggregate.param.as_deref().and_then(literal);
        if op == "quantile"
            && let Some(q) = q
            && !(0.0..=1.0).contains(&q)
        {
            let param_text = aggregate.param.as_ref().map(|p| p.to_string());
            self.warn(format!("quantile value should be between 0 and 1, got {}", format_go_g(q)), param_text);
        }
        let Some(fold) = FoldOp::parse(&op) else {
            return Err(Error::Execution(format!("internal: {op} is not evaluated over the step grid")));
        };
        let grouping = Grouping::of(aggregate);
        let steps = grid.len();
        let input = match leaf(&aggregate.expr) {
            Some(leaf) if fold != FoldOp::Quantile => {
                let mut sink = FoldSink::new(fold, steps, &grouping, leaf_drops_name(leaf));
                let samples = self.map_leaf(leaf, grid, &mut sink)?;
                match sink.finish(q) {
                    Ok(series) => return Ok(Steps { series, samples }),
                    Err(series) => Steps { series, samples },
                }
            }
            _ => self.eval_steps(&aggregate.expr, grid)?,
        };
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut groups: Vec<StepSeries> = Vec::new();
        let mut member_group = Vec::with_capacity(input.series.len());
        for member in &input.series {
            let labels = group_labels(&member.labels, &grouping);
            let position = *index.entry(labels.clone()).or_insert_with(|| {
                groups.push(StepSeries { labels, drop_name: false, points: Vec::new() });
                groups.len() - 1
            });
            let group = &mut groups[position];
            group.drop_name |= member.drop_name && group.labels.has(METRIC_NAME);
            member_group.push(position);
        }
        if fold != FoldOp::Quantile && groups.len().saturating_mul(steps) <= MAX_FOLD_STATES {
            // One state per group and step: each member's points are folded in one pass over
            // them (memory order), and every state still sees its values in input order.
            let mut states: Vec<Group> = std::iter::repeat_with(Group::default).take(groups.len() * steps).collect();
            for (position, (member, &group)) in input.series.iter().zip(&member_group).enumerate() {
                if position % 1024 == 0 {
                    self.check_deadline()?;
                }
                let row = &mut states[group * steps..(group + 1) * steps];
                for &(at, v) in &member.points {
                    accumulate(fold, &mut row[at as usize], v);
                }
            }
            for (position, group) in groups.iter_mut().enumerate() {
                let row = &states[position * steps..(position + 1) * steps];
                for (at, state) in row.iter().enumerate() {
                    if state.seen {
                        group.points.push((at as u32, finish(fold, state, q)));
                    }
                }
            }
            groups.retain(|group| !group.points.is_empty());
            return Ok(Steps { series: groups, samples: input.samples });
        }
        let mut states: Vec<Group> = groups.iter().map(|_| Group::default()).collect();
        let mut cursors = vec![0usize; input.series.len()];
        let mut touched = Vec::new();
        for step in 0..grid.len() {
            if step % 64 == 0 {
                self.check_deadline()?;
            }
            let at = step as u32;
            for ((member, cursor), &position) in input.series.iter().zip(&mut cursors).zip(&member_group) {
                let Some(&(point_step, v)) = member.points.get(*cursor) else { continue };
                if point_step != at {
                    continue;
                }
                *cursor += 1;
                let state = &mut states[position];
                if !state.seen {
                    touched.push(position);
                }
                accumulate(fold, state, v);
            }
            for position in touched.drain(..) {
                let state = std::mem::take(&mut states[position]);
                groups[position].points.push((at, finish(fold, &state, q)));
            }
        }
        groups.retain(|group| !group.points.is_empty());
        Ok(Steps { series: groups, samples: input.samples })
    }

    /// A vector-scalar operation with a number literal on one side.
    fn binary_steps(&mut self, binary: &BinaryExpr, grid: &Grid) -> Result<Steps> {
        let op = binary.op.to_string();
        let return_bool = binary.modifier.as_ref().is_some_and(|m| m.return_bool);
        let (vector, scalar, swap) = match (literal(&binary.lhs), literal(&binary.rhs)) {
            (Some(scalar), None) => (&binary.rhs, scalar, true),
            (None, Some(scalar)) => (&binary.lhs, scalar, false),
            _ => return Err(Error::Execution(format!("internal: {op} is not evaluated over the step grid"))),
        };
        let mut input = self.eval_steps(vector, grid)?;
        let drop_name = scalar_op_drops_name(&op, return_bool);
        for series in &mut input.series {
            let mut kept = Vec::with_capacity(series.points.len());
            for &(at, v) in &series.points {
                if let Some(value) = scalar_op(&op, v, scalar, swap, return_bool)? {
                    kept.push((at, value));
                }
            }
            series.points = kept;
            series.drop_name |= drop_name;
        }
        input.series.retain(|series| !series.points.is_empty());
        Ok(input)
    }

    /// Unary minus.
    fn unary_steps(&mut self, unary: &UnaryExpr, grid: &Grid) -> Result<Steps> {
        let mut input = self.eval_steps(&unary.expr, grid)?;
        for series in &mut input.series {
            series.points.iter_mut().for_each(|(_, v)| *v = -*v);
            series.drop_name = true;
        }
        Ok(input)
    }

    /// A function applied to each value (`abs`, `ln`, `sqrt`, ...).
    fn math_steps(&mut self, call: &Call, grid: &Grid) -> Result<Steps> {
        let name = call.func.name;
        let Some(f) = math_function(name) else {
            return Err(Error::Unsupported(format!("function {name}() is not supported by this engine")));
        };
        let Some(arg) = call.args.args.first() else {
            return Err(Error::Execution(format!("missing argument of {name}()")));
        };
        let mut input = self.eval_steps(arg, grid)?;
        for series in &mut input.series {
            series.points.iter_mut().for_each(|(_, v)| *v = f(*v));
            series.drop_name = true;
        }
        Ok(input)
    }

    /// Fails when the samples a node holds at some step exceed the query's limit.
    fn check_held(&self, samples_per_step: &[usize]) -> Result<()> {
        if samples_per_step.iter().any(|&held| held > self.options.max_samples) {
            return Err(Error::TooManySamples);
        }
        Ok(())
    }
}

/// Returns the node that computes the series of `expr` one at a time, if it is one (parentheses
/// removed): a vector selector, or a [`steppable`] range function over a range selector.
fn leaf(expr: &Expr) -> Option<&Expr> {
    match expr {
        Expr::Paren(paren) => leaf(&paren.expr),
        Expr::VectorSelector(_) => Some(expr),
        Expr::Call(call) if matrix_argument(call.func.name).is_some() && steppable_call(call) => Some(expr),
        _ => None,
    }
}

/// Whether the results of leaf node `expr` lose their metric name.
fn leaf_drops_name(expr: &Expr) -> bool {
    match expr {
        Expr::Paren(paren) => leaf_drops_name(&paren.expr),
        Expr::Call(call) => !keeps_name(call.func.name),
        _ => false,
    }
}

/// Collects a leaf node's series.
struct Collect {
    drop_name: bool,
    series: Vec<StepSeries>,
}

impl PointSink for Collect {
    fn series(&mut self, _index: usize, labels: Cow<'_, Labels>, points: &[Point]) -> Result<()> {
        self.series.push(StepSeries {
            labels: labels.into_owned(),
            drop_name: self.drop_name,
            points: points.to_vec(),
        });
        Ok(())
    }
}

/// Passes series on and notes, once each in order, the metric names of those that do not look
/// like counters (`rate` and friends warn about them).
struct NonCounterNames<'s> {
    inner: &'s mut dyn PointSink,
    names: Vec<String>,
    /// The metric name of the last series, already checked.
    last: Option<Arc<str>>,
}

impl PointSink for NonCounterNames<'_> {
    fn begin(&mut self, labels: &[Cow<'_, Labels>]) -> Result<()> {
        self.inner.begin(labels)
    }

    fn series(&mut self, index: usize, labels: Cow<'_, Labels>, points: &[Point]) -> Result<()> {
        // The metric name is nearly always the first label (`_` sorts after capitals and
        // digits only), and usually the same string as the last series' (one interned copy).
        let name = match labels.iter().next() {
            Some(first) if &*first.name == METRIC_NAME => Some(&first.value),
            _ => labels.iter().find(|label| &*label.name == METRIC_NAME).map(|label| &label.value),
        };
        if let Some(name) = name
            && self.last.as_ref().is_some_and(|last| Arc::ptr_eq(last, name))
        {
            return self.inner.series(index, labels, points);
        }
        self.last = name.cloned();
        let name = name.map_or("", |name| &**name);
        if !is_counter_name(name) && !self.names.iter().any(|noted| noted == name) {
            self.names.push(name.to_owned());
        }
        self.inner.series(index, labels, points)
    }
}

/// Folds a leaf node's series into an aggregation's groups as they are computed: one state per
/// group and step, each receiving its values in input order, so no series' points are kept.
/// With too many groups for that, it collects the series for the step-by-step fold instead.
struct FoldSink<'g> {
    fold: FoldOp,
    steps: usize,
    grouping: &'g Grouping<'g>,
    member_drops_name: bool,
    /// Per selected series, the index of its group's labels in `group_labels`.
    member_group: Vec<u32>,
    /// The distinct group label sets, in order of first appearance among the selected series.
    group_labels: Vec<Labels>,
    /// Per distinct group, its position in `groups` once one of its members has a point.
    position: Vec<Option<u32>>,
    /// The result's groups, in order of first appearance among the series with points (as the
    /// step-by-step fold orders them), with the index of their labels.
    groups: Vec<(StepSeries, usize)>,
    /// `group_labels.len() × steps` states; empty when collecting or summing.
    states: Vec<Group>,
    /// For `sum`, the states instead of `states`: a fifth of a [`Group`]'s size, so a row of
    /// them stays in cache while a series' points are added (the fold runs on the calling
    /// thread, between its own reads).
    sums: Vec<SumState>,
    /// The series, when there are too many groups to fold them as they come.
    collected: Option<Collect>,
}

impl<'g> FoldSink<'g> {
    fn new(fold: FoldOp, steps: usize, grouping: &'g Grouping<'g>, member_drops_name: bool) -> Self {
        Self {
            fold,
            steps,
            grouping,
            member_drops_name,
            member_group: Vec::new(),
            group_labels: Vec::new(),
            position: Vec::new(),
            groups: Vec::new(),
            states: Vec::new(),
            sums: Vec::new(),
            collected: None,
        }
    }

    /// Returns the folded groups, or the collected series when there were too many groups.
    fn finish(self, q: Option<f64>) -> std::result::Result<Vec<StepSeries>, Vec<StepSeries>> {
        if let Some(collected) = self.collected {
            return Err(collected.series);
        }
        let steps = self.steps;
        let mut out = Vec::with_capacity(self.groups.len());
        for (mut group, distinct) in self.groups {
            if self.fold == FoldOp::Sum {
                let row = &self.sums[distinct * steps..(distinct + 1) * steps];
                for (at, state) in row.iter().enumerate() {
                    if state.seen {
                        // `finish` of a sum.
                        group.points.push((at as u32, state.value + state.kahan));
                    }
                }
                if !group.points.is_empty() {
                    out.push(group);
                }
                continue;
            }
            let row = &self.states[distinct * steps..(distinct + 1) * steps];
            for (at, state) in row.iter().enumerate() {
                if state.seen {
                    group.points.push((at as u32, finish(self.fold, state, q)));
                }
            }
            if !group.points.is_empty() {
                out.push(group);
            }
        }
        Ok(out)
    }
}

impl PointSink for FoldSink<'_> {
    fn begin(&mut self, labels: &[Cow<'_, Labels>]) -> Result<()> {
        let mut index = GroupIndex::default();
        self.member_group.reserve(labels.len());
        for member in labels {
            let distinct = index.find_or_add(member, self.grouping, &mut self.group_labels)?;
            self.member_group.push(distinct);
        }
        if self.group_labels.len().saturating_mul(self.steps) > MAX_FOLD_STATES {
            self.collected = Some(Collect { drop_name: self.member_drops_name, series: Vec::new() });
            return Ok(());
        }
        self.position = vec![None; self.group_labels.len()];
        if self.fold == FoldOp::Sum {
            self.sums = vec![SumState::default(); self.group_labels.len() * self.steps];
        } else {
            self.states = std::iter::repeat_with(Group::default).take(self.group_labels.len() * self.steps).collect();
        }
        Ok(())
    }

    fn series(&mut self, index: usize, labels: Cow<'_, Labels>, points: &[Point]) -> Result<()> {
        if let Some(collected) = &mut self.collected {
            return collected.series(index, labels, points);
        }
        let distinct = self.member_group[index] as usize;
        let position = match self.position[distinct] {
            Some(position) => position as usize,
            None => {
                let labels = self.group_labels[distinct].clone();
                self.groups.push((StepSeries { labels, drop_name: false, points: Vec::new() }, distinct));
                self.position[distinct] = Some((self.groups.len() - 1) as u32);
                self.groups.len() - 1
            }
        };
        let group = &mut self.groups[position].0;
        group.drop_name |= self.member_drops_name && group.labels.has(METRIC_NAME);
        if self.fold == FoldOp::Sum {
            let row = &mut self.sums[distinct * self.steps..(distinct + 1) * self.steps];
            for &(at, v) in points {
                // `accumulate` of a sum.
                let state = &mut row[at as usize];
                (state.value, state.kahan) = kahan_add(v, state.value, state.kahan);
                state.seen = true;
            }
            return Ok(());
        }
        let row = &mut self.states[distinct * self.steps..(distinct + 1) * self.steps];
        for &(at, v) in points {
            accumulate(self.fold, &mut row[at as usize], v);
        }
        Ok(())
    }
}

/// The state of one `sum` group at one step: what [`accumulate`] and [`finish`] use of a
/// [`Group`] for a sum.
#[derive(Clone, Copy, Default)]
struct SumState {
    value: f64,
    kahan: f64,
    seen: bool,
}

/// Turns a node evaluated over the grid into the series of a range query's result.
pub(crate) fn into_range_series(steps: Steps, grid: &Grid) -> Vec<(Labels, Vec<Sample>, bool)> {
    steps
        .series
        .into_iter()
        .map(|series| {
            let samples = series.points.iter().map(|&(at, v)| Sample::new(grid.time(at as usize), v)).collect();
            (series.labels, samples, series.drop_name)
        })
        .collect()
}
