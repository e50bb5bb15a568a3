//! Classic (bucket series) histogram functions: `histogram_quantile` and `histogram_fraction`
//! over series with an `le` label.

use std::collections::HashMap;

use panoptes_model::Labels;
use promql_parser::parser::Expr;

use super::functions::format_go_g;
use super::{Elem, Evaluator, Val};
use crate::error::Result;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper_bound: f64,
    count: f64,
}

/// Evaluates `name` when it is a classic histogram function; `Ok(None)` otherwise.
pub(crate) fn eval_histogram_function(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Option<Val>> {
    let scalar_count = match name {
        "histogram_quantile" => 1,
        "histogram_fraction" => 2,
        _ => return Ok(None),
    };
    let mut scalars = Vec::new();
    for expr in args.iter().take(scalar_count) {
        scalars.push(ev.eval_scalar(expr, t)?);
    }
    let Some(vector_expr) = args.get(scalar_count) else { return Ok(Some(Val::Vector(Vec::new()))) };
    let elems = ev.eval_vector(vector_expr, t)?;
    let anchor = Some(super::range_functions::anchor_candidates(vector_expr));
    if name == "histogram_quantile" {
        let q = scalars[0];
        if !(0.0..=1.0).contains(&q) {
            ev.warn(
                format!("quantile value should be between 0 and 1, got {}", format_go_g(q)),
                Some(args[0].to_string()),
            );
        }
    }
    let mut groups: Vec<(Labels, String, Vec<Bucket>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for elem in elems {
        let metric = elem.labels.metric_name().unwrap_or("").to_owned();
        let le = elem.labels.get("le").unwrap_or("");
        let Some(upper_bound) = parse_go_float(le) else {
            ev.warn(
                format!("bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {metric:?}"),
                anchor.clone(),
            );
            continue;
        };
        let mut builder = elem.labels.builder();
        builder.remove("le");
        let labels = builder.build();
        let position = *index.entry(labels.clone()).or_insert_with(|| {
            groups.push((labels, metric, Vec::new()));
            groups.len() - 1
        });
        groups[position].2.push(Bucket { upper_bound, count: elem.v });
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, metric, buckets) in groups {
        let v = if name == "histogram_quantile" {
            let (v, forced_monotonic) = bucket_quantile(scalars[0], buckets);
            if forced_monotonic {
                ev.info(
                    format!(
                        "input to histogram_quantile needed to be fixed for monotonicity (see \
                         https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for \
                         metric name {metric:?}"
                    ),
                    anchor.clone(),
                );
            }
            v
        } else {
            bucket_fraction(scalars[0], scalars[1], buckets)
        };
        out.push(Elem { labels, v, drop_name: true });
    }
    Ok(Some(Val::Vector(out)))
}

/// Parses a float the way Go's `strconv.ParseFloat` accepts `le` values.
fn parse_go_float(text: &str) -> Option<f64> {
    if text.is_empty() {
        return None;
    }
    text.parse::<f64>().ok()
}

fn sort_and_coalesce(mut buckets: Vec<Bucket>) -> Vec<Bucket> {
    buckets.sort_by(|a, b| a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(std::cmp::Ordering::Equal));
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        match out.last_mut() {
            Some(last) if last.upper_bound == bucket.upper_bound => last.count += bucket.count,
            _ => out.push(bucket),
        }
    }
    out
}

/// Prometheus' `almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b {
        return true;
    }
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || (a.abs() + b.abs()) < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / (a.abs() + b.abs()).min(f64::MAX) < epsilon
}

fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let mut previous = buckets[0].count;
    for bucket in buckets.iter_mut().skip(1) {
        let current = bucket.count;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, 1e-12) {
            bucket.count = previous;
            continue;
        }
        if current < previous {
            bucket.count = previous;
            forced = true;
            continue;
        }
        previous = current;
    }
    forced
}

/// Prometheus' `BucketQuantile`; also returns whether monotonicity had to be forced.
fn bucket_quantile(q: f64, buckets: Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    let mut buckets = sort_and_coalesce(buckets);
    match buckets.last() {
        Some(last) if last.upper_bound == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }
    let forced = ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|bucket| bucket.count < rank);
    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].upper_bound, forced);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return (buckets[0].upper_bound, forced);
    }
    let mut bucket_start = 0.0;
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (bucket_start + (bucket_end - bucket_start) * (rank / count), forced)
}

/// Prometheus' `BucketFraction`: the estimated share of observations in `[lower, upper]`.
fn bucket_fraction(lower: f64, upper: f64, buckets: Vec<Bucket>) -> f64 {
    let buckets = sort_and_coalesce(buckets);
    match buckets.last() {
        Some(last) if last.upper_bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, bucket) in buckets.iter().enumerate() {
        let lower_bound = if i > 0 {
            buckets[i - 1].upper_bound
        } else if bucket.upper_bound > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let upper_bound = bucket.upper_bound;
        let interpolate = |v: f64| rank + (bucket.count - rank) * (v - lower_bound) / (upper_bound - lower_bound);
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = if lower_bound.is_infinite() {
                bucket.count
            } else if upper_bound.is_infinite() {
                rank
            } else {
                interpolate(lower)
            };
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = if upper_bound.is_infinite() || lower_bound.is_infinite() { rank } else { interpolate(upper) };
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = bucket.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank).max(0.0) / count
}
