//! Aggregation operators: `sum`, `avg`, `count`, `topk`, `quantile` and the rest.

use std::collections::HashMap;

use panoptes_model::{Label, Labels, METRIC_NAME, is_valid_label_name};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::functions::{ascending_nan_last, descending_nan_last, format_go_float, format_go_g};
use super::{Elem, Evaluator, Val};
use crate::error::{Error, Result};

/// The running state of one group.
#[derive(Default)]
pub(crate) struct Group {
    labels: Labels,
    drop_name: bool,
    count: f64,
    value: f64,
    kahan: f64,
    mean: f64,
    incremental_mean: bool,
    pub(crate) seen: bool,
    values: Vec<f64>,
    members: Vec<Elem>,
}

pub(crate) fn eval_aggregate(ev: &mut Evaluator<'_>, aggregate: &AggregateExpr, t: i64) -> Result<Val> {
    let op = aggregate.op.to_string();
    let param = match &aggregate.param {
        Some(param) => Some(ev.eval(param, t)?),
        None => None,
    };
    let input = ev.eval_vector(&aggregate.expr, t)?;
    let grouping = Grouping::of(aggregate);
    let param_text = aggregate.param.as_ref().map(|p| p.to_string());
    let scalar_param = || match &param {
        Some(Val::Scalar(v)) => Ok(*v),
        _ => Err(Error::Execution(format!("expected scalar parameter for {op}"))),
    };
    let out = match op.as_str() {
        "topk" | "bottomk" | "limitk" => select_k(&op, input, scalar_param()?, &grouping)?,
        "limit_ratio" => limit_ratio(ev, input, scalar_param()?, param_text)?,
        "count_values" => match param {
            Some(Val::Str(label)) => count_values(input, &label, &grouping)?,
            _ => return Err(Error::Execution("expected string parameter for count_values".into())),
        },
        _ => {
            let Some(fold) = FoldOp::parse(&op) else {
                return Err(Error::Unsupported(format!("aggregation {op} is not supported by this engine")));
            };
            let q = if fold == FoldOp::Quantile { Some(scalar_param()?) } else { None };
            if let Some(q) = q
                && !(0.0..=1.0).contains(&q)
            {
                ev.warn(format!("quantile value should be between 0 and 1, got {}", format_go_g(q)), param_text);
            }
            group(input, &grouping, |group, elem| accumulate(fold, group, elem.v))
                .into_iter()
                .map(|group| Elem { v: finish(fold, &group, q), labels: group.labels, drop_name: group.drop_name })
                .collect()
        }
    };
    Ok(Val::Vector(out))
}

/// The `by`/`without` clause of an aggregation.
pub(crate) struct Grouping<'a> {
    pub(crate) by: bool,
    pub(crate) names: Vec<&'a str>,
}

impl<'a> Grouping<'a> {
    /// Returns the grouping of `aggregate` (no clause: one group of everything).
    pub(crate) fn of(aggregate: &'a AggregateExpr) -> Self {
        match &aggregate.modifier {
            Some(LabelModifier::Include(labels)) => {
                Grouping { by: true, names: labels.labels.iter().map(String::as_str).collect() }
            }
            Some(LabelModifier::Exclude(labels)) => {
                Grouping { by: false, names: labels.labels.iter().map(String::as_str).collect() }
            }
            None => Grouping { by: true, names: Vec::new() },
        }
    }
}

fn limit_ratio(ev: &mut Evaluator<'_>, input: Vec<Elem>, ratio: f64, param_text: Option<String>) -> Result<Vec<Elem>> {
    if ratio.is_nan() {
        return Err(Error::Execution("Ratio value is NaN".into()));
    }
    let mut ratio = ratio;
    if !(-1.0..=1.0).contains(&ratio) {
        let capped = ratio.clamp(-1.0, 1.0);
        ev.warn(
            format!(
                "ratio value should be between -1 and 1, got {}, capping to {}",
                format_go_g(ratio),
                format_go_g(capped)
            ),
            param_text,
        );
        ratio = capped;
    }
    Ok(input.into_iter().filter(|e| ratio_selects(ratio, &e.labels)).collect())
}

fn count_values(input: Vec<Elem>, label: &str, grouping: &Grouping<'_>) -> Result<Vec<Elem>> {
    if !is_valid_label_name(label) {
        return Err(Error::Execution(format!("invalid label name {label:?}")));
    }
    let mut counts: Vec<(Labels, f64)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for elem in input {
        let mut builder = group_labels(&elem.labels, grouping).builder();
        builder.set(label, format_go_float(elem.v));
        let labels = builder.build();
        let position = *index.entry(labels.clone()).or_insert_with(|| {
            counts.push((labels, 0.0));
            counts.len() - 1
        });
        counts[position].1 += 1.0;
    }
    Ok(counts.into_iter().map(|(labels, v)| Elem { labels, v, drop_name: false }).collect())
}

/// Returns the labels identifying an element's group.
pub(crate) fn group_labels(labels: &Labels, grouping: &Grouping<'_>) -> Labels {
    // A subset of a sorted label set is sorted: only the kept labels are cloned.
    Labels::from_sorted_unchecked(kept_labels(labels, grouping).cloned().collect())
}

/// Returns the labels of `labels` that identify its group, in order ([`group_labels`] without
/// building them).
pub(crate) fn kept_labels<'l>(labels: &'l Labels, grouping: &'l Grouping<'l>) -> impl Iterator<Item = &'l Label> + 'l {
    labels.iter().filter(move |label| {
        let is_named = grouping.names.contains(&&*label.name);
        if grouping.by { is_named } else { !is_named && &*label.name != METRIC_NAME }
    })
}

/// Finds the group of each element among the distinct group label sets met so far, building
/// an element's group labels only when its group is new (or shares its hash with another).
#[derive(Default)]
pub(crate) struct GroupIndex {
    /// The first group met with each hash of the kept labels.
    by_hash: HashMap<u64, u32>,
    /// The groups whose hash an earlier group had.
    colliding: HashMap<Labels, u32>,
}

impl GroupIndex {
    /// Returns the index in `groups` of the group of `labels`, appending the group when it
    /// is new.
    ///
    /// # Errors
    ///
    /// Fails when there are more than `u32::MAX` groups.
    pub(crate) fn find_or_add(
        &mut self,
        labels: &Labels,
        grouping: &Grouping<'_>,
        groups: &mut Vec<Labels>,
    ) -> Result<u32> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        for label in kept_labels(labels, grouping) {
            label.name.hash(&mut hasher);
            label.value.hash(&mut hasher);
        }
        self.find_or_add_hashed(hasher.finish(), labels, grouping, groups)
    }

    /// [`GroupIndex::find_or_add`] with the hash of the kept labels computed.
    fn find_or_add_hashed(
        &mut self,
        hash: u64,
        labels: &Labels,
        grouping: &Grouping<'_>,
        groups: &mut Vec<Labels>,
    ) -> Result<u32> {
        let add = |group: Labels, groups: &mut Vec<Labels>| -> Result<u32> {
            let distinct =
                u32::try_from(groups.len()).map_err(|_| Error::Execution("internal: too many groups".into()))?;
            groups.push(group);
            Ok(distinct)
        };
        match self.by_hash.get(&hash).copied() {
            Some(distinct) if kept_labels(labels, grouping).eq(groups[distinct as usize].iter()) => Ok(distinct),
            Some(_) => {
                let group = group_labels(labels, grouping);
                if let Some(&distinct) = self.colliding.get(&group) {
                    return Ok(distinct);
                }
                let distinct = add(group.clone(), groups)?;
                self.colliding.insert(group, distinct);
                Ok(distinct)
            }
            None => {
                let distinct = add(group_labels(labels, grouping), groups)?;
                self.by_hash.insert(hash, distinct);
                Ok(distinct)
            }
        }
    }
}

/// Splits `input` into groups in order of first appearance, feeding each element to `add`.
fn group(input: Vec<Elem>, grouping: &Grouping<'_>, mut add: impl FnMut(&mut Group, &Elem)) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for elem in input {
        let labels = group_labels(&elem.labels, grouping);
        let position = *index.entry(labels.clone()).or_insert_with(|| {
            groups.push(Group { labels, ..Group::default() });
            groups.len() - 1
        });
        let group = &mut groups[position];
        group.drop_name |= elem.drop_name && group.labels.has(METRIC_NAME);
        add(group, &elem);
        group.members.push(elem);
    }
    groups
}

/// Neumaier-compensated addition, as Prometheus' `kahanSumInc`.
pub(crate) fn kahan_add(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// The aggregation operators that fold a group's values into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoldOp {
    Sum,
    Avg,
    Count,
    Group,
    Min,
    Max,
    Stddev,
    Stdvar,
    Quantile,
}

impl FoldOp {
    /// Returns the folding operator named `op`, `None` for the others (`topk`, `count_values`, ...).
    pub(crate) fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "sum" => FoldOp::Sum,
            "avg" => FoldOp::Avg,
            "count" => FoldOp::Count,
            "group" => FoldOp::Group,
            "min" => FoldOp::Min,
            "max" => FoldOp::Max,
            "stddev" => FoldOp::Stddev,
            "stdvar" => FoldOp::Stdvar,
            "quantile" => FoldOp::Quantile,
            _ => return None,
        })
    }
}

pub(crate) fn accumulate(op: FoldOp, group: &mut Group, v: f64) {
    let first = !group.seen;
    group.seen = true;
    match op {
        FoldOp::Sum => (group.value, group.kahan) = kahan_add(v, group.value, group.kahan),
        FoldOp::Avg => {
            group.count += 1.0;
            if first {
                group.value = v;
                group.kahan = 0.0;
                return;
            }
            if !group.incremental_mean {
                let (sum, c) = kahan_add(v, group.value, group.kahan);
                if !sum.is_infinite() {
                    group.value = sum;
                    group.kahan = c;
                    return;
                }
                group.incremental_mean = true;
                group.mean = group.value / (group.count - 1.0);
                group.kahan /= group.count - 1.0;
            }
            if group.mean.is_infinite() {
                if v.is_infinite() && (group.mean > 0.0) == (v > 0.0) {
                    return;
                }
                if !v.is_infinite() && !v.is_nan() {
                    return;
                }
            }
            let current = group.mean + group.kahan;
            (group.mean, group.kahan) = kahan_add(v / group.count - current / group.count, group.mean, group.kahan);
        }
        FoldOp::Count | FoldOp::Group => group.count += 1.0,
        FoldOp::Min => {
            if first || group.value > v || group.value.is_nan() {
                group.value = v;
            }
        }
        FoldOp::Max => {
            if first || group.value < v || group.value.is_nan() {
                group.value = v;
            }
        }
        FoldOp::Stddev | FoldOp::Stdvar => {
            group.count += 1.0;
            let delta = v - group.mean;
            group.mean += delta / group.count;
            group.value += delta * (v - group.mean);
        }
        FoldOp::Quantile => group.values.push(v),
    }
}

pub(crate) fn finish(op: FoldOp, group: &Group, q: Option<f64>) -> f64 {
    match op {
        FoldOp::Sum => group.value + group.kahan,
        FoldOp::Avg => {
            if group.incremental_mean {
                group.mean + group.kahan
            } else {
                (group.value + group.kahan) / group.count
            }
        }
        FoldOp::Count => group.count,
        FoldOp::Group => 1.0,
        FoldOp::Min | FoldOp::Max => group.value,
        FoldOp::Stdvar => group.value / group.count,
        FoldOp::Stddev => (group.value / group.count).sqrt(),
        FoldOp::Quantile => quantile(q.unwrap_or(f64::NAN), group.values.clone()),
    }
}

/// Prometheus' `quantile`: linear interpolation between the closest ranks.
pub(crate) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    sort_floats_nan_first(&mut values);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// Sorts ascending with NaN first, as Go's `sort.Float64s`.
pub(crate) fn sort_floats_nan_first(values: &mut [f64]) {
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
}

/// `topk`, `bottomk` and `limitk`: at most `k` elements of each group.
fn select_k(op: &str, input: Vec<Elem>, k: f64, grouping: &Grouping<'_>) -> Result<Vec<Elem>> {
    if k.is_nan() {
        return Err(Error::Execution("Parameter value is NaN".into()));
    }
    let k = if k >= 9.2e18 {
        usize::MAX
    } else if k < 1.0 {
        return Ok(Vec::new());
    } else {
        k as usize
    };
    let mut out = Vec::new();
    for group in group(input, grouping, |_, _| {}) {
        let mut members = group.members;
        match op {
            "topk" => members.sort_by(|a, b| descending_nan_last(a.v, b.v)),
            "bottomk" => members.sort_by(|a, b| ascending_nan_last(a.v, b.v)),
            _ => {}
        }
        members.truncate(k);
        out.extend(members);
    }
    Ok(out)
}

/// Whether `limit_ratio(ratio, ...)` keeps a series, using Prometheus' label hash so the same
/// series are chosen.
fn ratio_selects(ratio: f64, labels: &Labels) -> bool {
    let mut bytes = Vec::new();
    for label in labels {
        bytes.extend_from_slice(label.name.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(label.value.as_bytes());
        bytes.push(0xff);
    }
    let offset = xxhash_rust::xxh64::xxh64(&bytes, 0) as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_index_finds_each_group_once_even_when_every_hash_collides() {
        let members: Vec<Labels> =
            [("a", "1", "x"), ("b", "1", "x"), ("a", "2", "y"), ("c", "2", "x"), ("d", "1", "y")]
                .iter()
                .map(|&(name, ns, other)| Labels::from_pairs([("__name__", name), ("ns", ns), ("other", other)]))
                .collect();
        for grouping in [Grouping { by: true, names: vec!["ns"] }, Grouping { by: false, names: vec!["ns"] }] {
            let mut naive: HashMap<Labels, u32> = HashMap::new();
            let mut want_groups: Vec<Labels> = Vec::new();
            let want: Vec<u32> = members
                .iter()
                .map(|member| {
                    let group = group_labels(member, &grouping);
                    *naive.entry(group.clone()).or_insert_with(|| {
                        want_groups.push(group);
                        (want_groups.len() - 1) as u32
                    })
                })
                .collect();
            for colliding in [false, true] {
                let mut index = GroupIndex::default();
                let mut groups = Vec::new();
                let got: Vec<u32> = members
                    .iter()
                    .map(|member| {
                        if colliding {
                            index.find_or_add_hashed(7, member, &grouping, &mut groups)
                        } else {
                            index.find_or_add(member, &grouping, &mut groups)
                        }
                        .expect("few groups")
                    })
                    .collect();
                assert_eq!(got, want, "by {}, colliding {colliding}", grouping.by);
                assert_eq!(groups, want_groups, "by {}, colliding {colliding}", grouping.by);
            }
        }
    }
}
