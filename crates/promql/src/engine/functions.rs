//! Function calls: dispatch, and the functions over instant vectors and scalars.

use std::cmp::Ordering;

use panoptes_model::{Labels, METRIC_NAME, is_valid_label_name};
use promql_parser::label::MatchOp as UpstreamOp;
use promql_parser::parser::{Call, Expr, VectorSelector};

use super::{Elem, Evaluator, Val};
use crate::error::{Error, Result};

pub(crate) fn eval_call(ev: &mut Evaluator<'_>, call: &Call, t: i64) -> Result<Val> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    if let Some(value) = super::range_functions::eval_range_function(ev, name, &args, t)? {
        return Ok(value);
    }
    if let Some(value) = super::histogram::eval_histogram_function(ev, name, &args, t)? {
        return Ok(value);
    }
    let call = Args { name, args: &args };
    let seconds = t as f64 / 1000.0;
    match name {
        "time" => Ok(Val::Scalar(seconds)),
        "pi" => Ok(Val::Scalar(std::f64::consts::PI)),
        "start" => Ok(Val::Scalar(ev.query_start as f64 / 1000.0)),
        "end" => Ok(Val::Scalar(ev.query_end as f64 / 1000.0)),
        "step" => Ok(Val::Scalar(ev.query_step as f64 / 1000.0)),
        "range" => Ok(Val::Scalar(ev.query_end.saturating_sub(ev.query_start) as f64 / 1000.0)),
        "min_of" | "max_of" => {
            let (a, b) = (ev.eval_scalar(call.arg(0)?, t)?, ev.eval_scalar(call.arg(1)?, t)?);
            Ok(Val::Scalar(if name == "min_of" { go_min(a, b) } else { go_max(a, b) }))
        }
        "vector" => {
            let v = ev.eval_scalar(call.arg(0)?, t)?;
            Ok(Val::Vector(vec![Elem { labels: Labels::empty(), v, drop_name: false }]))
        }
        "scalar" => {
            let elems = ev.eval_vector(call.arg(0)?, t)?;
            Ok(Val::Scalar(if elems.len() == 1 { elems[0].v } else { f64::NAN }))
        }
        "timestamp" => timestamp(ev, call.arg(0)?, t),
        "absent" => {
            let elems = ev.eval_vector(call.arg(0)?, t)?;
            if !elems.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            let labels = absent_labels(call.arg(0)?);
            Ok(Val::Vector(vec![Elem { labels, v: 1.0, drop_name: false }]))
        }
        "sort" | "sort_desc" => sort_by_value(ev, &call, t),
        "sort_by_label" | "sort_by_label_desc" => sort_by_label(ev, &call, t),
        "label_replace" => label_replace(ev, &args, t),
        "label_join" => label_join(ev, &args, t),
        "clamp" | "clamp_min" | "clamp_max" => clamp(ev, &call, t),
        "round" => {
            let elems = ev.eval_vector(call.arg(0)?, t)?;
            let to_nearest = match args.get(1) {
                Some(expr) => ev.eval_scalar(expr, t)?,
                None => 1.0,
            };
            let inverse = 1.0 / to_nearest;
            Ok(Val::Vector(map_values(elems, |v| (v * inverse + 0.5).floor() / inverse)))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" | "month" | "year" => {
            let elems = match args.first() {
                Some(expr) => ev.eval_vector(expr, t)?,
                None => vec![Elem { labels: Labels::empty(), v: seconds, drop_name: false }],
            };
            Ok(Val::Vector(map_values(elems, |v| date_part(name, v))))
        }
        _ => {
            let Some(f) = math_function(name) else {
                return Err(Error::Unsupported(format!("function {name}() is not supported by this engine")));
            };
            let elems = ev.eval_vector(call.arg(0)?, t)?;
            Ok(Val::Vector(map_values(elems, f)))
        }
    }
}

/// A call's name and arguments.
struct Args<'a> {
    name: &'static str,
    args: &'a [&'a Expr],
}

impl<'a> Args<'a> {
    fn arg(&self, index: usize) -> Result<&'a Expr> {
        self.args
            .get(index)
            .copied()
            .ok_or_else(|| Error::Execution(format!("missing argument {index} of {}()", self.name)))
    }
}

/// `timestamp()`: the sample's own timestamp for a plain selector, else the evaluation time.
fn timestamp(ev: &mut Evaluator<'_>, arg: &Expr, t: i64) -> Result<Val> {
    let mut inner = arg;
    while let Expr::Paren(paren) = inner {
        inner = &paren.expr;
    }
    let elems = if let Expr::VectorSelector(selector) = inner {
        ev.select_instant(selector, t)?
            .into_iter()
            .map(|(elem, sample_t)| Elem { v: sample_t as f64 / 1000.0, drop_name: true, ..elem })
            .collect()
    } else {
        map_values(ev.eval_vector(inner, t)?, |_| t as f64 / 1000.0)
    };
    Ok(Val::Vector(elems))
}

fn warn_sort_in_range_query(ev: &mut Evaluator<'_>, name: &str) {
    if ev.query_start != ev.query_end {
        ev.warn(
            "sort is ineffective for range queries since results are always ordered by labels".into(),
            Some(format!("{name}(")),
        );
    }
}

fn sort_by_value(ev: &mut Evaluator<'_>, call: &Args<'_>, t: i64) -> Result<Val> {
    warn_sort_in_range_query(ev, call.name);
    let mut elems = ev.eval_vector(call.arg(0)?, t)?;
    if call.name == "sort" {
        elems.sort_by(|a, b| ascending_nan_last(a.v, b.v));
    } else {
        elems.sort_by(|a, b| descending_nan_last(a.v, b.v));
    }
    Ok(Val::Vector(elems))
}

fn sort_by_label(ev: &mut Evaluator<'_>, call: &Args<'_>, t: i64) -> Result<Val> {
    warn_sort_in_range_query(ev, call.name);
    let mut elems = ev.eval_vector(call.arg(0)?, t)?;
    let mut names = Vec::new();
    for expr in call.args.iter().skip(1) {
        match ev.eval(expr, t)? {
            Val::Str(label) => names.push(label),
            other => return Err(Error::Execution(format!("expected string, got {}", other.type_name()))),
        }
    }
    let descending = call.name == "sort_by_label_desc";
    elems.sort_by(|a, b| {
        let mut order = Ordering::Equal;
        for label in &names {
            order = natural_cmp(a.labels.get(label).unwrap_or(""), b.labels.get(label).unwrap_or(""));
            if order != Ordering::Equal {
                break;
            }
        }
        let order = order.then_with(|| a.labels.cmp(&b.labels));
        if descending { order.reverse() } else { order }
    });
    Ok(Val::Vector(elems))
}

fn clamp(ev: &mut Evaluator<'_>, call: &Args<'_>, t: i64) -> Result<Val> {
    let elems = ev.eval_vector(call.arg(0)?, t)?;
    let (min, max) = match call.name {
        "clamp" => (ev.eval_scalar(call.arg(1)?, t)?, ev.eval_scalar(call.arg(2)?, t)?),
        "clamp_min" => (ev.eval_scalar(call.arg(1)?, t)?, f64::INFINITY),
        _ => (f64::NEG_INFINITY, ev.eval_scalar(call.arg(1)?, t)?),
    };
    if max < min {
        return Ok(Val::Vector(Vec::new()));
    }
    Ok(Val::Vector(map_values(elems, |v| go_max(min, go_min(max, v)))))
}

/// Applies `f` to every value and flags the metric name for removal.
pub(crate) fn map_values(elems: Vec<Elem>, f: impl Fn(f64) -> f64) -> Vec<Elem> {
    elems.into_iter().map(|e| Elem { v: f(e.v), drop_name: true, ..e }).collect()
}

pub(crate) fn math_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Go's `math.Max`: NaN wins.
pub(crate) fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

/// Go's `math.Min`: NaN wins.
pub(crate) fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

pub(crate) fn descending_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(Ordering::Equal),
    }
}

pub(crate) fn ascending_nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// Compares strings with digit runs compared as numbers.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() && !b.is_empty() {
        if a[0].is_ascii_digit() && b[0].is_ascii_digit() {
            let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
            let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let (na, nb) = (trim_zeros(&a[..da]), trim_zeros(&b[..db]));
            let order = na.len().cmp(&nb.len()).then(na.cmp(nb));
            if order != Ordering::Equal {
                return order;
            }
            a = &a[da..];
            b = &b[db..];
        } else {
            if a[0] != b[0] {
                return a[0].cmp(&b[0]);
            }
            a = &a[1..];
            b = &b[1..];
        }
    }
    a.len().cmp(&b.len())
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&c| c == b'0').count();
    &digits[zeros..]
}

/// The labels `absent()` reports: the equality matchers of a plain selector argument.
pub(crate) fn absent_labels(expr: &Expr) -> Labels {
    let selector: &VectorSelector = match expr {
        Expr::VectorSelector(selector) => selector,
        Expr::MatrixSelector(matrix) => &matrix.vs,
        _ => return Labels::empty(),
    };
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let mut repeated: Vec<&str> = Vec::new();
    for matcher in &selector.matchers.matchers {
        if matcher.name == METRIC_NAME {
            continue;
        }
        if pairs.iter().any(|(name, _)| *name == matcher.name) {
            repeated.push(&matcher.name);
            continue;
        }
        if matches!(matcher.op, UpstreamOp::Equal) {
            pairs.push((&matcher.name, &matcher.value));
        }
    }
    pairs.retain(|(name, _)| !repeated.contains(name));
    Labels::from_pairs(pairs)
}

fn string_arg(ev: &mut Evaluator<'_>, args: &[&Expr], index: usize, t: i64) -> Result<String> {
    let expr = args.get(index).ok_or_else(|| Error::Execution(format!("missing argument {index}")))?;
    match ev.eval(expr, t)? {
        Val::Str(s) => Ok(s),
        other => Err(Error::Execution(format!("expected string, got {}", other.type_name()))),
    }
}

fn label_replace(ev: &mut Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Val> {
    let elems = ev.eval_vector(args.first().copied().ok_or_else(|| Error::Execution("missing argument".into()))?, t)?;
    let destination = string_arg(ev, args, 1, t)?;
    let replacement = string_arg(ev, args, 2, t)?;
    let source = string_arg(ev, args, 3, t)?;
    let pattern = string_arg(ev, args, 4, t)?;
    let regex = regex::Regex::new(&format!("^(?s:{pattern})$"))
        .map_err(|_| Error::Execution(format!("invalid regular expression in label_replace(): {pattern}")))?;
    if !is_valid_label_name(&destination) {
        return Err(Error::Execution(format!("invalid destination label name in label_replace(): {destination}")));
    }
    let mut out = Vec::with_capacity(elems.len());
    for mut elem in elems {
        let value = elem.labels.get(&source).unwrap_or("").to_owned();
        if let Some(captures) = regex.captures(&value) {
            let mut result = String::new();
            captures.expand(&replacement, &mut result);
            let mut builder = elem.labels.builder();
            builder.set(destination.as_str(), result);
            elem.labels = builder.build();
            if destination == METRIC_NAME {
                elem.drop_name = false;
            }
        }
        out.push(elem);
    }
    Ok(Val::Vector(out))
}

fn label_join(ev: &mut Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Val> {
    let elems = ev.eval_vector(args.first().copied().ok_or_else(|| Error::Execution("missing argument".into()))?, t)?;
    let destination = string_arg(ev, args, 1, t)?;
    let separator = string_arg(ev, args, 2, t)?;
    let mut sources = Vec::new();
    for index in 3..args.len() {
        let source = string_arg(ev, args, index, t)?;
        if !is_valid_label_name(&source) {
            return Err(Error::Execution(format!("invalid source label name in label_join(): {source}")));
        }
        sources.push(source);
    }
    if !is_valid_label_name(&destination) {
        return Err(Error::Execution(format!("invalid destination label name in label_join(): {destination}")));
    }
    let mut out = Vec::with_capacity(elems.len());
    for mut elem in elems {
        let joined =
            sources.iter().map(|s| elem.labels.get(s).unwrap_or("")).collect::<Vec<_>>().join(separator.as_str());
        let mut builder = elem.labels.builder();
        builder.set(destination.as_str(), joined);
        elem.labels = builder.build();
        if destination == METRIC_NAME {
            elem.drop_name = false;
        }
        out.push(elem);
    }
    Ok(Val::Vector(out))
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn date_part(name: &str, v: f64) -> f64 {
    if v.is_nan() || v.is_infinite() || v.abs() > 1e17 {
        return f64::NAN;
    }
    let seconds = v as i64;
    let days = seconds.div_euclid(86_400);
    let second_of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let days_before_month = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let leap_extra = i64::from(is_leap(year) && month > 2);
    match name {
        "day_of_month" => f64::from(day),
        "day_of_week" => (days + 4).rem_euclid(7) as f64,
        "day_of_year" => (days_before_month[month as usize - 1] + i64::from(day) + leap_extra) as f64,
        "days_in_month" => match month {
            2 if is_leap(year) => 29.0,
            2 => 28.0,
            4 | 6 | 9 | 11 => 30.0,
            _ => 31.0,
        },
        "hour" => (second_of_day / 3600) as f64,
        "minute" => (second_of_day % 3600 / 60) as f64,
        "month" => f64::from(month),
        _ => year as f64,
    }
}

pub(crate) use panoptes_model::gofloat::{format_f as format_go_float, format_g as format_go_g};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_the_calendar() {
        // 2024-02-29T13:45:00Z
        let t = 1_709_214_300.0;
        assert_eq!(date_part("year", t), 2024.0);
        assert_eq!(date_part("month", t), 2.0);
        assert_eq!(date_part("day_of_month", t), 29.0);
        assert_eq!(date_part("days_in_month", t), 29.0);
        assert_eq!(date_part("day_of_year", t), 60.0);
        assert_eq!(date_part("day_of_week", t), 4.0);
        assert_eq!(date_part("hour", t), 13.0);
        assert_eq!(date_part("minute", t), 45.0);
    }

    #[test]
    fn natural_order_compares_numbers() {
        assert_eq!(natural_cmp("a10", "a9"), Ordering::Greater);
        assert_eq!(natural_cmp("a1b", "a1c"), Ordering::Less);
    }

    #[test]
    fn go_float_formats() {
        assert_eq!(format_go_float(f64::INFINITY), "+Inf");
        assert_eq!(format_go_float(1.5), "1.5");
        assert_eq!(format_go_g(-1.1), "-1.1");
        assert_eq!(format_go_g(1e-7), "1e-07");
    }
}
