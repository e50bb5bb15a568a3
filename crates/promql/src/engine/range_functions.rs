//! Functions over range vectors: `rate` and friends, `deriv`, `predict_linear` and the
//! `*_over_time` family.

use promql_parser::parser::Expr;

use super::aggregate::{kahan_add, quantile};
use super::functions::{absent_labels, format_go_g};
use super::{Elem, Evaluator, Val};
use crate::error::{Error, Result};
use panoptes_model::{Labels, Sample};

/// Evaluates `name` when it is a range-vector function; `Ok(None)` otherwise.
pub(crate) fn eval_range_function(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], t: i64) -> Result<Option<Val>> {
    let Some(matrix_index) = matrix_argument(name) else { return Ok(None) };
    let Some(matrix_expr) = args.get(matrix_index).copied() else {
        return Err(Error::Execution(format!("missing range vector argument of {name}()")));
    };
    let mut scalars = Vec::new();
    for (index, expr) in args.iter().enumerate() {
        if index != matrix_index {
            scalars.push(ev.eval_scalar(expr, t)?);
        }
    }
    let range = ev.eval_matrix(matrix_expr, t)?;
    if name == "absent_over_time" {
        if !range.series.is_empty() {
            return Ok(Some(Val::Vector(Vec::new())));
        }
        let labels = absent_labels(matrix_expr);
        return Ok(Some(Val::Vector(vec![Elem { labels, v: 1.0, drop_name: false }])));
    }
    check_range_function_args(ev, name, args, &scalars)?;
    let anchor = Some(anchor_candidates(matrix_expr));
    let drop_name = !keeps_name(name);
    let range_start = range.end.saturating_sub(range.range_ms);
    let kernel = RangeKernel::new(name);
    let mut out = Vec::with_capacity(range.series.len());
    for series in &range.series {
        let window = Window {
            samples: &series.samples,
            start: range_start,
            end: range.end,
            range_seconds: range.range_ms as f64 / 1000.0,
            has_no_resets: false,
        };
        if let Some(v) = kernel.value(&window, t, &scalars) {
            if warns_non_counter(name) {
                possible_non_counter(ev, &series.labels, anchor.clone());
            }
            out.push(Elem { labels: series.labels.clone(), v, drop_name: series.drop_name || drop_name });
        }
    }
    Ok(Some(Val::Vector(out)))
}

/// Index of the range-vector argument of range function `name`, or `None` when `name` is not
/// a range function.
pub(crate) fn matrix_argument(name: &str) -> Option<usize> {
    match name {
        "quantile_over_time" => Some(1),
        "rate"
        | "increase"
        | "delta"
        | "irate"
        | "idelta"
        | "deriv"
        | "predict_linear"
        | "resets"
        | "changes"
        | "avg_over_time"
        | "sum_over_time"
        | "count_over_time"
        | "min_over_time"
        | "max_over_time"
        | "stddev_over_time"
        | "stdvar_over_time"
        | "last_over_time"
        | "first_over_time"
        | "present_over_time"
        | "mad_over_time"
        | "absent_over_time"
        | "double_exponential_smoothing"
        | "ts_of_first_over_time"
        | "ts_of_last_over_time"
        | "ts_of_max_over_time"
        | "ts_of_min_over_time" => Some(0),
        _ => None,
    }
}

/// Whether range function `name` keeps the metric name of its input.
pub(crate) fn keeps_name(name: &str) -> bool {
    matches!(name, "last_over_time" | "first_over_time")
}

/// Whether a result of `name` warns when its input's name does not look like a counter.
pub(crate) fn warns_non_counter(name: &str) -> bool {
    matches!(name, "rate" | "increase" | "irate")
}

/// Validates the scalar arguments of a range function: warnings for out-of-range quantiles,
/// errors for smoothing factors outside `(0, 1)`.
pub(crate) fn check_range_function_args(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    scalars: &[f64],
) -> Result<()> {
    let scalar = |i: usize| scalars.get(i).copied().unwrap_or(f64::NAN);
    match name {
        "quantile_over_time" => {
            let q = scalar(0);
            if !(0.0..=1.0).contains(&q) {
                let param_anchor = args.first().map(|a| a.to_string());
                ev.warn(format!("quantile value should be between 0 and 1, got {}", format_go_g(q)), param_anchor);
            }
        }
        "double_exponential_smoothing" => {
            let (sf, tf) = (scalar(0), scalar(1));
            if !(sf > 0.0 && sf < 1.0) {
                return Err(Error::Execution(format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}")));
            }
            if !(tf > 0.0 && tf < 1.0) {
                return Err(Error::Execution(format!("invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}")));
            }
        }
        _ => {}
    }
    Ok(())
}

/// One series' samples inside a range selector's window, with the window's bounds.
pub(crate) struct Window<'a> {
    /// The samples, stale markers removed, in time order.
    pub(crate) samples: &'a [Sample],
    /// The window's (exclusive) start in milliseconds.
    pub(crate) start: i64,
    /// The window's (inclusive) end in milliseconds.
    pub(crate) end: i64,
    /// The window's length in seconds (`rate` divides by it; computed once per node).
    pub(crate) range_seconds: f64,
    /// Whether the caller knows that no sample in the window is below the one before it, so
    /// `rate` and `increase` need not look for counter resets.
    pub(crate) has_no_resets: bool,
}

/// A range function's kernel, chosen once per node from the function's name so that evaluating
/// each window does not match the name again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum RangeKernel<'a> {
    /// `rate`, `increase` and `delta`.
    ExtrapolatedRate { is_counter: bool, is_rate: bool },
    /// `irate` and `idelta`.
    Instant { is_rate: bool },
    /// `predict_linear`.
    PredictLinear,
    /// The `*_over_time` functions, `deriv`, `resets` and `changes`, by name.
    OverTime(&'a str),
}

impl<'a> RangeKernel<'a> {
    /// Returns the kernel of range function `name`.
    pub(crate) fn new(name: &'a str) -> Self {
        match name {
            "rate" | "increase" | "delta" => {
                RangeKernel::ExtrapolatedRate { is_counter: name != "delta", is_rate: name == "rate" }
            }
            "irate" | "idelta" => RangeKernel::Instant { is_rate: name == "irate" },
            "predict_linear" => RangeKernel::PredictLinear,
            _ => RangeKernel::OverTime(name),
        }
    }

    /// The value of the function over one window evaluated at `t`, or `None` when the window
    /// yields no sample. `scalars` are the function's other arguments, in order.
    pub(crate) fn value(self, window: &Window<'_>, t: i64, scalars: &[f64]) -> Option<f64> {
        match self {
            RangeKernel::ExtrapolatedRate { is_counter, is_rate } => extrapolated_rate(window, is_counter, is_rate),
            RangeKernel::Instant { is_rate } => instant_value(window.samples, is_rate),
            RangeKernel::PredictLinear => (window.samples.len() >= 2).then(|| {
                let (slope, intercept) = linear_regression(window.samples, t);
                slope * scalars.first().copied().unwrap_or(f64::NAN) + intercept
            }),
            RangeKernel::OverTime(name) => over_time(name, window.samples, scalars),
        }
    }
}

/// Candidate texts locating `expr` in the query: its printed form, then its metric name followed
/// by a selector bracket, then the bare name (see the evaluator's annotation positions).
pub(crate) fn anchor_candidates(expr: &Expr) -> String {
    let name = match expr {
        Expr::MatrixSelector(matrix) => matrix.vs.name.clone(),
        Expr::VectorSelector(selector) => selector.name.clone(),
        _ => None,
    };
    match name {
        Some(name) => format!("{expr}\0{name}{{\0{name}[\0{name}"),
        None => expr.to_string(),
    }
}

pub(crate) fn possible_non_counter(ev: &mut Evaluator<'_>, labels: &Labels, anchor: Option<String>) {
    let name = labels.metric_name().unwrap_or("");
    if !is_counter_name(name) {
        non_counter_info(ev, name, anchor);
    }
}

/// Whether a metric name has a counter's suffix (`_total`, `_sum`, `_count`, `_bucket`).
pub(crate) fn is_counter_name(name: &str) -> bool {
    ["_total", "_sum", "_count", "_bucket"].iter().any(|suffix| name.ends_with(suffix))
}

/// Records that the series named `name` might not be a counter.
pub(crate) fn non_counter_info(ev: &mut Evaluator<'_>, name: &str, anchor: Option<String>) {
    ev.info(
        format!("metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"),
        anchor,
    );
}

/// Prometheus' `extrapolatedRate` for `rate`, `increase` and `delta`.
fn extrapolated_rate(window: &Window<'_>, is_counter: bool, is_rate: bool) -> Option<f64> {
    let samples = window.samples;
    if samples.len() < 2 {
        return None;
    }
    let (range_start, range_end) = (window.start, window.end);
    let first = samples[0];
    let last = samples[samples.len() - 1];
    let mut result = last.v - first.v;
    // Without resets the loop below adds nothing: every `previous` it could add is skipped (and
    // a negative first sample adds 0.0 to a result that cannot be -0.0 then).
    if is_counter && !window.has_no_resets {
        let mut previous = 0.0;
        for sample in samples {
            if sample.v < previous {
                result += previous;
            }
            previous = sample.v;
        }
    }
    let mut duration_to_start = first.t.saturating_sub(range_start) as f64 / 1000.0;
    let mut duration_to_end = range_end.saturating_sub(last.t) as f64 / 1000.0;
    let sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let average_between = sampled_interval / (samples.len() - 1) as f64;
    let threshold = average_between * 1.1;
    if duration_to_start >= threshold {
        duration_to_start = average_between / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        let duration_to_zero = sampled_interval * (first.v / result);
        if duration_to_zero < duration_to_start {
            duration_to_start = duration_to_zero;
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = average_between / 2.0;
    }
    let mut factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    if is_rate {
        factor /= window.range_seconds;
    }
    Some(result * factor)
}

/// One window of a series for [`extrapolated_rates`]: the samples `from..to` (at least two) of
/// the series, the window's bounds, and the step it belongs to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateWindow {
    pub(crate) step: u32,
    pub(crate) from: usize,
    pub(crate) to: usize,
    /// The counter resets after the window's first sample, as a range of the series'
    /// [`CounterResets::dropped_from`] ([`CounterResets::in_window`]); empty for `delta`.
    pub(crate) resets: (u32, u32),
    /// The window's (exclusive) start in milliseconds.
    pub(crate) start: i64,
    /// The window's (inclusive) end in milliseconds.
    pub(crate) end: i64,
}

/// The counter resets of one series (a sample below the one before it), for `rate` and
/// `increase`: found once per series instead of once per window that holds them.
#[derive(Debug, Default)]
pub(crate) struct CounterResets {
    /// `through[i]` counts the resets among samples `1..=i`.
    through: Vec<u32>,
    /// The value before each reset, in sample order: what Prometheus' loop adds to the increase.
    dropped_from: Vec<f64>,
}

impl CounterResets {
    /// Finds the resets of `samples`, replacing those of the last series.
    pub(crate) fn fill(&mut self, samples: &[Sample]) {
        self.through.clear();
        self.through.reserve(samples.len());
        self.through.push(0);
        // Written without a branch on the values (a gauge's resets are unpredictable): every
        // value is stored, and the count moves past it only at a reset.
        self.dropped_from.clear();
        self.dropped_from.resize(samples.len(), 0.0);
        let mut count = 0usize;
        for pair in samples.windows(2) {
            self.dropped_from[count] = pair[0].v;
            count += usize::from(pair[1].v < pair[0].v);
            self.through.push(count as u32);
        }
        self.dropped_from.truncate(count);
    }

    /// Returns the resets of the window `from..to` after its first sample, as a range of
    /// `dropped_from`.
    pub(crate) fn in_window(&self, from: usize, to: usize) -> (u32, u32) {
        (self.through[from], self.through[to - 1])
    }

    /// Returns the values before the resets, in sample order.
    pub(crate) fn dropped_from(&self) -> &[f64] {
        &self.dropped_from
    }
}

impl RateWindow {
    /// Returns the window over `samples` (the series' samples) as [`extrapolated_rate`] takes it,
    /// without the no-resets hint.
    #[cfg(test)]
    fn plain<'a>(&self, samples: &'a [Sample], range_seconds: f64) -> Window<'a> {
        Window {
            samples: &samples[self.from..self.to],
            start: self.start,
            end: self.end,
            range_seconds,
            has_no_resets: false,
        }
    }
}

/// The times of a window that [`extrapolated_rate`]'s arithmetic depends on, besides its values:
/// its first sample's distance from the window's start, its last sample's distance from the
/// end, the time between them (all in milliseconds) and the number of gaps between its samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WindowShape {
    to_start_ms: i64,
    to_end_ms: i64,
    sampled_ms: i64,
    gaps: usize,
}

/// What [`extrapolated_rate`] computes from a [`WindowShape`] alone: five of its seven divisions.
#[derive(Debug, Clone, Copy, Default)]
struct ShapeValues {
    sampled_interval: f64,
    /// The duration to extrapolate to the window's start, unless the counter reaches zero first.
    duration_to_start: f64,
    duration_to_end: f64,
    /// The factor to multiply the increase by when the counter does not reach zero first.
    factor: f64,
}

impl ShapeValues {
    /// The same operations in the same order as [`extrapolated_rate`], so the same bits.
    fn new(shape: WindowShape, is_rate: bool, range_seconds: f64) -> Self {
        let duration_to_start = shape.to_start_ms as f64 / 1000.0;
        let duration_to_end = shape.to_end_ms as f64 / 1000.0;
        let sampled_interval = shape.sampled_ms as f64 / 1000.0;
        let average_between = sampled_interval / shape.gaps as f64;
        let threshold = average_between * 1.1;
        let half = average_between / 2.0;
        let duration_to_start = if duration_to_start >= threshold { half } else { duration_to_start };
        let duration_to_end = if duration_to_end >= threshold { half } else { duration_to_end };
        let mut factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
        if is_rate {
            factor /= range_seconds;
        }
        Self { sampled_interval, duration_to_start, duration_to_end, factor }
    }
}

/// The [`ShapeValues`] of the last window seen at each step, kept from one series to the next
/// (by the caller, per thread): the series of one selector are nearly always sampled at the
/// same times (one scrape stamps all of a target's series alike, and a remote-write sender's
/// series usually share timestamps), so the window of the next series at the same step has the
/// same shape, and only the divisions that involve its values remain.
#[derive(Debug, Default)]
pub(crate) struct RateShapes {
    /// Whether the values are of `rate` (divided by the range) rather than `increase` or
    /// `delta`.
    is_rate: bool,
    /// The range in seconds the values were computed for.
    range_seconds: f64,
    by_step: Vec<(WindowShape, ShapeValues)>,
}

impl RateShapes {
    /// Prepares the memo for windows of `rate` (`is_rate`) or not over `range_seconds`,
    /// forgetting what it held for other ones.
    pub(crate) fn prepare(&mut self, is_rate: bool, range_seconds: f64) {
        if self.is_rate != is_rate || self.range_seconds.to_bits() != range_seconds.to_bits() {
            self.by_step.clear();
            self.is_rate = is_rate;
            self.range_seconds = range_seconds;
        }
    }

    /// Returns the values of `shape`, computing them unless the last window at `step` had it.
    #[inline]
    fn values(&mut self, step: u32, shape: WindowShape) -> ShapeValues {
        let step = step as usize;
        if step >= self.by_step.len() {
            // A default shape has no gaps, which no window has (it holds at least two samples).
            self.by_step.resize(step + 1, Default::default());
        }
        let (known, values) = &mut self.by_step[step];
        if *known != shape {
            *known = shape;
            *values = ShapeValues::new(shape, self.is_rate, self.range_seconds);
        }
        *values
    }
}

/// [`extrapolated_rate`] over many windows of one series, appending `(step, value)` for each;
/// `dropped_from` is [`CounterResets::dropped_from`] of the series' samples, and `shapes` was
/// prepared ([`RateShapes::prepare`]) for `rate` or not and the range.
///
/// The same operations in the same order as [`extrapolated_rate`], so the same bits; but what
/// depends only on a window's times is taken from `shapes` when the window before at the same
/// step (usually another series') had the same times, the comparisons pick values instead of
/// branching, and the windows share nothing, so the processor overlaps the divisions of
/// consecutive windows.
pub(crate) fn extrapolated_rates(
    samples: &[Sample],
    dropped_from: &[f64],
    windows: &[RateWindow],
    is_counter: bool,
    shapes: &mut RateShapes,
    out: &mut Vec<(u32, f64)>,
) {
    let (is_rate, range_seconds) = (shapes.is_rate, shapes.range_seconds);
    out.reserve(windows.len());
    for window in windows {
        debug_assert!(window.to >= window.from + 2 && window.to <= samples.len());
        let first = samples[window.from];
        let last = samples[window.to - 1];
        let mut result = last.v - first.v;
        // `extrapolated_rate`'s loop over the samples, whose additions depend on one another:
        // its `previous` starts at 0.0, so a first sample below zero adds 0.0, then each reset
        // adds the value before it, in order. Without resets the loop adds nothing.
        let (resets_from, resets_to) = (window.resets.0 as usize, window.resets.1 as usize);
        if is_counter && resets_to > resets_from {
            if first.v < 0.0 {
                result += 0.0;
            }
            for &previous in &dropped_from[resets_from..resets_to] {
                result += previous;
            }
        }
        let shape = WindowShape {
            to_start_ms: first.t.saturating_sub(window.start),
            to_end_ms: window.end.saturating_sub(last.t),
            sampled_ms: last.t - first.t,
            gaps: window.to - window.from - 1,
        };
        let known = shapes.values(window.step, shape);
        // Computed for every window (no side effects) and used as `extrapolated_rate` uses it.
        let duration_to_zero = known.sampled_interval * (first.v / result);
        let to_zero = is_counter && result > 0.0 && first.v >= 0.0 && duration_to_zero < known.duration_to_start;
        let factor = if to_zero {
            let mut factor =
                (known.sampled_interval + duration_to_zero + known.duration_to_end) / known.sampled_interval;
            if is_rate {
                factor /= range_seconds;
            }
            factor
        } else {
            known.factor
        };
        out.push((window.step, result * factor));
    }
}

/// `irate` and `idelta`: from the last two samples.
fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let last = samples[samples.len() - 1];
    let previous = samples[samples.len() - 2];
    let mut result = if is_rate && last.v < previous.v { last.v } else { last.v - previous.v };
    let interval = last.t - previous.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        result /= interval as f64 / 1000.0;
    }
    Some(result)
}

/// Least-squares fit of value over time (seconds relative to `intercept_time`).
fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let initial = samples[0].v;
    let mut constant = true;
    for (index, sample) in samples.iter().enumerate() {
        if constant && index > 0 && sample.v != initial {
            constant = false;
        }
        n += 1.0;
        let x = sample.t.saturating_sub(intercept_time) as f64 / 1000.0;
        (sum_x, c_x) = kahan_add(x, sum_x, c_x);
        (sum_y, c_y) = kahan_add(sample.v, sum_y, c_y);
        (sum_xy, c_xy) = kahan_add(x * sample.v, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_add(x * x, sum_x2, c_x2);
    }
    if constant {
        if initial.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, initial);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

fn over_time(name: &str, samples: &[Sample], scalars: &[f64]) -> Option<f64> {
    let first = *samples.first()?;
    let values = || samples.iter().map(|s| s.v);
    Some(match name {
        "deriv" => {
            if samples.len() < 2 {
                return None;
            }
            linear_regression(samples, first.t).0
        }
        "resets" => samples.windows(2).filter(|w| w[1].v < w[0].v).count() as f64,
        "changes" => {
            samples.windows(2).filter(|w| !(w[1].v == w[0].v || (w[1].v.is_nan() && w[0].v.is_nan()))).count() as f64
        }
        "avg_over_time" => average(samples),
        "sum_over_time" => {
            let (sum, c) = values().fold((0.0, 0.0), |(sum, c), v| kahan_add(v, sum, c));
            sum + c
        }
        "count_over_time" => samples.len() as f64,
        "min_over_time" => values().fold(first.v, |m, v| if m > v || m.is_nan() { v } else { m }),
        "max_over_time" => values().fold(first.v, |m, v| if m < v || m.is_nan() { v } else { m }),
        "stddev_over_time" | "stdvar_over_time" => {
            let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for v in values() {
                count += 1.0;
                let delta = v - (mean + c_mean);
                (mean, c_mean) = kahan_add(delta / count, mean, c_mean);
                (aux, c_aux) = kahan_add(delta * (v - (mean + c_mean)), aux, c_aux);
            }
            let variance = (aux + c_aux) / count;
            if name == "stddev_over_time" { variance.sqrt() } else { variance }
        }
        "last_over_time" => samples[samples.len() - 1].v,
        "first_over_time" => first.v,
        "present_over_time" => 1.0,
        "quantile_over_time" => quantile(scalars.first().copied().unwrap_or(f64::NAN), values().collect()),
        "mad_over_time" if values().any(f64::is_nan) => f64::NAN,
        "mad_over_time" => {
            let median = quantile(0.5, values().collect());
            quantile(0.5, values().map(|v| (v - median).abs()).collect())
        }
        "ts_of_first_over_time" => first.t as f64 / 1000.0,
        "ts_of_last_over_time" => samples[samples.len() - 1].t as f64 / 1000.0,
        "ts_of_max_over_time" | "ts_of_min_over_time" => {
            let mut best = first;
            for sample in samples {
                let better = if name == "ts_of_max_over_time" { sample.v >= best.v } else { sample.v <= best.v };
                if better || best.v.is_nan() {
                    best = *sample;
                }
            }
            best.t as f64 / 1000.0
        }
        "double_exponential_smoothing" => {
            double_exponential_smoothing(samples, scalars.first().copied()?, scalars.get(1).copied()?)?
        }
        _ => return None,
    })
}

/// Mean with Neumaier summation, switching to an incremental mean on overflow.
fn average(samples: &[Sample]) -> f64 {
    let (mut sum, mut count) = (samples[0].v, 1.0);
    let (mut mean, mut c, mut incremental) = (0.0, 0.0, false);
    for (index, sample) in samples[1..].iter().enumerate() {
        count = (index + 2) as f64;
        if !incremental {
            let (new_sum, new_c) = kahan_add(sample.v, sum, c);
            if !new_sum.is_infinite() {
                (sum, c) = (new_sum, new_c);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_add(sample.v / count, q * mean, q * c);
    }
    if incremental { mean + c } else { sum / count + c / count }
}

fn double_exponential_smoothing(samples: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if samples.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, samples[0].v);
    let mut b = samples[1].v - samples[0].v;
    for (i, sample) in samples.iter().enumerate().skip(1) {
        let x = sf * sample.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(name: &str, scalars: &[f64], expected: f64) {
        // A counter from 10 to 40 over 30 s, with a reset to 5 after 20, in a 40 s window.
        let samples =
            [Sample::new(10_000, 10.0), Sample::new(20_000, 20.0), Sample::new(30_000, 5.0), Sample::new(40_000, 25.0)];
        let window = Window { samples: &samples, start: 0, end: 40_000, range_seconds: 40.0, has_no_resets: false };
        let got = RangeKernel::new(name).value(&window, 40_000, scalars).expect("a value");
        assert!((got - expected).abs() < 1e-9, "{name}: got {got}, want {expected}");
    }

    #[test]
    fn range_kernel_chosen_by_name_computes_that_function() {
        // Counter increase 35 (10→20, reset, 5→25 counted as 10 + 25) over 30 s, extrapolated
        // to the window's start 10 s before the first sample (within 1.1 × the 10 s average
        // interval) but only as far as zero: at 35 per 30 s the counter was 0 about 8.57 s
        // before its first value 10, so 35 × (30 + 30 × 10 / 35) / 30 = 45.
        check("increase", &[], 45.0);
        check("rate", &[], 45.0 / 40.0);
        // Not a counter: 25 − 10 = 15 extrapolated over the whole 10 s to the start.
        check("delta", &[], 15.0 * 40.0 / 30.0);
        check("irate", &[], 2.0);
        check("idelta", &[], 20.0);
        check("sum_over_time", &[], 60.0);
        check("resets", &[], 1.0);
        check("predict_linear", &[0.0], {
            // Least squares through (−30, 10), (−20, 20), (−10, 5), (0, 25) seconds relative to t.
            let (xs, ys) = ([-30.0, -20.0, -10.0, 0.0], [10.0, 20.0, 5.0, 25.0]);
            let (mx, my) = (xs.iter().sum::<f64>() / 4.0, ys.iter().sum::<f64>() / 4.0);
            let slope = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum::<f64>()
                / xs.iter().map(|x| (x - mx) * (x - mx)).sum::<f64>();
            my - slope * mx
        });
    }

    /// Returns the samples of a random series: mostly a rising counter with jittered times,
    /// with resets, negative, zero, equal and non-finite values mixed in.
    fn random_series(seed: &mut u64, count: usize) -> Vec<Sample> {
        let mut next = move || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let mut samples = Vec::with_capacity(count);
        let (mut t, mut v) = (1_000_000i64, (next() % 100) as f64);
        for _ in 0..count {
            t += 1 + (next() % 45_000) as i64;
            v = match next() % 40 {
                0 => 0.0,
                1 => v / 3.0,
                2 => -((next() % 10) as f64),
                3 => f64::INFINITY,
                4 => f64::NAN,
                5 | 6 => v,
                _ => v + (next() % 1000) as f64 / 7.0,
            };
            samples.push(Sample::new(t, v));
        }
        samples
    }

    /// Returns the windows of `samples` ending every 7.777 s from the first sample on.
    fn rate_windows(samples: &[Sample], resets: &CounterResets, range_ms: i64) -> Vec<RateWindow> {
        let mut windows = Vec::new();
        for (step, end) in (samples[0].t..samples[samples.len() - 1].t + range_ms).step_by(7_777).enumerate() {
            let start = end - range_ms;
            let from = samples.partition_point(|s| s.t <= start);
            let to = samples.partition_point(|s| s.t <= end);
            if to >= from + 2 {
                let (resets_from, resets_to) = resets.in_window(from, to);
                let has_resets = (from + 1..to).any(|i| samples[i].v < samples[i - 1].v);
                assert_eq!(resets_to > resets_from, has_resets);
                let dropped: Vec<u64> = (from + 1..to)
                    .filter(|&i| samples[i].v < samples[i - 1].v)
                    .map(|i| samples[i - 1].v.to_bits())
                    .collect();
                let found: Vec<u64> = resets.dropped_from()[resets_from as usize..resets_to as usize]
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                assert_eq!(found, dropped);
                windows.push(RateWindow { step: step as u32, from, to, resets: (resets_from, resets_to), start, end });
            }
        }
        windows
    }

    /// Checks [`extrapolated_rates`] against [`extrapolated_rate`] for each window, as a
    /// counter and not, as `rate` and not, with `shapes` kept from earlier calls.
    fn check_rates(samples: &[Sample], range_ms: i64, shapes: &mut RateShapes, context: &str) {
        let range_seconds = range_ms as f64 / 1000.0;
        let mut resets = CounterResets::default();
        resets.fill(samples);
        let windows = rate_windows(samples, &resets, range_ms);
        for (is_counter, is_rate) in [(true, true), (true, false), (false, false)] {
            let mut batched = Vec::new();
            let dropped_from = resets.dropped_from();
            shapes.prepare(is_rate, range_seconds);
            extrapolated_rates(samples, dropped_from, &windows, is_counter, shapes, &mut batched);
            let plain: Vec<(u32, f64)> = windows
                .iter()
                .filter_map(|w| {
                    extrapolated_rate(&w.plain(samples, range_seconds), is_counter, is_rate).map(|v| (w.step, v))
                })
                .collect();
            let bits = |points: &[(u32, f64)]| points.iter().map(|&(s, v)| (s, v.to_bits())).collect::<Vec<_>>();
            assert_eq!(bits(&batched), bits(&plain), "{context}, counter {is_counter}, rate {is_rate}");
        }
    }

    #[test]
    fn extrapolated_rates_equals_extrapolated_rate_bit_for_bit() {
        let seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut state = seed;
        // One memo for every call: windows at one step with other times, other ranges and
        // other kinds must not reuse what does not apply to them.
        let mut shapes = RateShapes::default();
        for round in 0..200 {
            let samples = random_series(&mut state, 2 + round % 60);
            let range_ms = [60_000i64, 300_000, 600_000][round % 3];
            check_rates(&samples, range_ms, &mut shapes, &format!("seed {seed:#x}, round {round}"));
        }
        // Series sampled at the same times, as a selector's usually are: windows at one step
        // share their times, so later series take the memo's values.
        for round in 0..50 {
            let times = random_series(&mut state, 2 + round % 60);
            let mut series = Vec::new();
            for _ in 0..4 {
                let values = random_series(&mut state, times.len());
                series.push(times.iter().zip(&values).map(|(t, v)| Sample::new(t.t, v.v)).collect::<Vec<_>>());
            }
            let range_ms = [60_000i64, 300_000][round % 2];
            for (index, samples) in series.iter().enumerate() {
                check_rates(samples, range_ms, &mut shapes, &format!("seed {seed:#x}, shared round {round}, {index}"));
            }
        }
    }
}
