//! Binary operators: arithmetic, comparison (with and without `bool`), vector matching and the
//! set operators `and`, `or` and `unless`.

use std::collections::{HashMap, HashSet};

use panoptes_model::{Labels, METRIC_NAME};
use promql_parser::label::Labels as UpstreamLabels;
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::{Elem, Evaluator, Val};
use crate::error::{Error, Result};

/// How the two sides of a vector-vector operation are matched.
struct Matching<'a> {
    on: bool,
    names: Vec<&'a str>,
    card: &'a VectorMatchCardinality,
}

pub(crate) fn eval_binary(ev: &mut Evaluator<'_>, binary: &BinaryExpr, t: i64) -> Result<Val> {
    let op = binary.op.to_string();
    let return_bool = binary.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&binary.lhs, t)?;
    let rhs = ev.eval(&binary.rhs, t)?;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => {
            let (value, keep) = apply(&op, l, r)?;
            if is_comparison(&op) { Ok(Val::Scalar(if keep { 1.0 } else { 0.0 })) } else { Ok(Val::Scalar(value)) }
        }
        (Val::Vector(l), Val::Scalar(r)) => Ok(Val::Vector(vector_scalar(&op, l, r, false, return_bool)?)),
        (Val::Scalar(l), Val::Vector(r)) => Ok(Val::Vector(vector_scalar(&op, r, l, true, return_bool)?)),
        (Val::Vector(l), Val::Vector(r)) => {
            let modifier = binary.modifier.as_ref();
            let (on, names) = match modifier.and_then(|m| m.matching.as_ref()) {
                Some(LabelModifier::Include(labels)) => (true, label_names(labels)),
                Some(LabelModifier::Exclude(labels)) => (false, label_names(labels)),
                None => (false, Vec::new()),
            };
            let default_card = if is_set_operator(&op) {
                VectorMatchCardinality::ManyToMany
            } else {
                VectorMatchCardinality::OneToOne
            };
            let card = modifier.map_or(&default_card, |m| &m.card);
            let matching = Matching { on, names, card };
            let out = match op.as_str() {
                "and" => vector_and(l, r, &matching),
                "or" => vector_or(l, r, &matching),
                "unless" => vector_unless(l, r, &matching),
                _ => vector_vector(&op, l, r, &matching, return_bool)?,
            };
            Ok(Val::Vector(out))
        }
        (l, r) => Err(Error::Execution(format!(
            "binary operator {op} not allowed between {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn label_names(labels: &UpstreamLabels) -> Vec<&str> {
    labels.labels.iter().map(String::as_str).collect()
}

pub(crate) fn is_comparison(op: &str) -> bool {
    matches!(op, "==" | "!=" | ">" | "<" | ">=" | "<=")
}

fn is_set_operator(op: &str) -> bool {
    matches!(op, "and" | "or" | "unless")
}

fn drops_name(op: &str) -> bool {
    matches!(op, "+" | "-" | "*" | "/" | "%" | "^" | "atan2")
}

/// Applies an arithmetic or comparison operator; returns the value and, for comparisons,
/// whether the comparison holds.
fn apply(op: &str, l: f64, r: f64) -> Result<(f64, bool)> {
    Ok(match op {
        "+" => (l + r, true),
        "-" => (l - r, true),
        "*" => (l * r, true),
        "/" => (l / r, true),
        "%" => (l % r, true),
        "^" => (l.powf(r), true),
        "atan2" => (l.atan2(r), true),
        "==" => (l, l == r),
        "!=" => (l, l != r),
        ">" => (l, l > r),
        "<" => (l, l < r),
        ">=" => (l, l >= r),
        "<=" => (l, l <= r),
        other => return Err(Error::Execution(format!("operator {other:?} not allowed for scalar operations"))),
    })
}

fn vector_scalar(op: &str, vector: Vec<Elem>, scalar: f64, swap: bool, return_bool: bool) -> Result<Vec<Elem>> {
    let mut out = Vec::with_capacity(vector.len());
    let drop_name = scalar_op_drops_name(op, return_bool);
    for mut elem in vector {
        if let Some(value) = scalar_op(op, elem.v, scalar, swap, return_bool)? {
            elem.v = value;
            elem.drop_name |= drop_name;
            out.push(elem);
        }
    }
    Ok(out)
}

/// One element of a vector-scalar operation: the result, or `None` when a comparison filters
/// the element out. `swap` puts the scalar on the left.
pub(crate) fn scalar_op(op: &str, v: f64, scalar: f64, swap: bool, return_bool: bool) -> Result<Option<f64>> {
    let (l, r) = if swap { (scalar, v) } else { (v, scalar) };
    let (mut value, keep) = apply(op, l, r)?;
    if is_comparison(op) && swap {
        value = r;
    }
    if return_bool {
        return Ok(Some(if keep { 1.0 } else { 0.0 }));
    }
    Ok(keep.then_some(value))
}

/// Whether the results of a vector-scalar operation lose their metric name.
pub(crate) fn scalar_op_drops_name(op: &str, return_bool: bool) -> bool {
    return_bool || drops_name(op)
}

/// The matching signature of a series: its `on` labels, or all but its `ignoring` labels and
/// the metric name.
fn signature(labels: &Labels, matching: &Matching<'_>) -> Vec<(String, String)> {
    labels
        .iter()
        .filter(|label| {
            let listed = matching.names.contains(&&*label.name);
            if matching.on { listed } else { !listed && &*label.name != METRIC_NAME }
        })
        .map(|label| (label.name.to_string(), label.value.to_string()))
        .collect()
}

fn vector_and(lhs: Vec<Elem>, rhs: Vec<Elem>, matching: &Matching<'_>) -> Vec<Elem> {
    if lhs.is_empty() || rhs.is_empty() {
        return Vec::new();
    }
    let right: HashSet<_> = rhs.iter().map(|e| signature(&e.labels, matching)).collect();
    lhs.into_iter().filter(|e| right.contains(&signature(&e.labels, matching))).collect()
}

fn vector_or(lhs: Vec<Elem>, rhs: Vec<Elem>, matching: &Matching<'_>) -> Vec<Elem> {
    let left: HashSet<_> = lhs.iter().map(|e| signature(&e.labels, matching)).collect();
    let mut out = lhs;
    out.extend(rhs.into_iter().filter(|e| !left.contains(&signature(&e.labels, matching))));
    out
}

fn vector_unless(lhs: Vec<Elem>, rhs: Vec<Elem>, matching: &Matching<'_>) -> Vec<Elem> {
    let right: HashSet<_> = rhs.iter().map(|e| signature(&e.labels, matching)).collect();
    lhs.into_iter().filter(|e| !right.contains(&signature(&e.labels, matching))).collect()
}

fn vector_vector(
    op: &str,
    lhs: Vec<Elem>,
    rhs: Vec<Elem>,
    matching: &Matching<'_>,
    return_bool: bool,
) -> Result<Vec<Elem>> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let one_to_many = matches!(matching.card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_side: HashMap<Vec<(String, String)>, Elem> = HashMap::new();
    for elem in one {
        let sig = signature(&elem.labels, matching);
        if let Some(previous) = one_side.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let group = Labels::from_pairs(sig.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            let (first, second) = if elem.labels <= previous.labels {
                (&elem.labels, &previous.labels)
            } else {
                (&previous.labels, &elem.labels)
            };
            return Err(Error::Execution(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: \
                 [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                go_labels(&group),
                go_labels(first),
                go_labels(second)
            )));
        }
        one_side.insert(sig, elem);
    }
    let include: Vec<&str> = match matching.card {
        VectorMatchCardinality::ManyToOne(labels) | VectorMatchCardinality::OneToMany(labels) => label_names(labels),
        _ => Vec::new(),
    };
    let one_to_one = matches!(matching.card, VectorMatchCardinality::OneToOne);
    let mut matched: HashMap<Vec<(String, String)>, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for elem in many {
        let sig = signature(&elem.labels, matching);
        let Some(other) = one_side.get(&sig) else { continue };
        let (l, r) = if one_to_many { (other.v, elem.v) } else { (elem.v, other.v) };
        let (mut value, keep) = apply(op, l, r)?;
        if one_to_one {
            if matched.contains_key(&sig) {
                return Err(Error::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .into(),
                ));
            }
            matched.insert(sig.clone(), HashSet::new());
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        let labels = result_labels(&elem.labels, &other.labels, matching, one_to_one, &include);
        let seen = matched.get_mut(&sig);
        if !one_to_one {
            let set = match seen {
                Some(set) => set,
                None => matched.entry(sig).or_default(),
            };
            if !set.insert(labels.clone()) {
                return Err(Error::Execution(
                    "multiple matches for labels: grouping labels must ensure unique label set".into(),
                ));
            }
        }
        let drop_name = return_bool || drops_name(op) || elem.drop_name;
        out.push(Elem { labels, v: value, drop_name });
    }
    Ok(out)
}

fn result_labels(many: &Labels, one: &Labels, matching: &Matching<'_>, one_to_one: bool, include: &[&str]) -> Labels {
    let mut builder = many.builder();
    if one_to_one {
        if matching.on {
            builder.keep(&matching.names);
        } else {
            for name in &matching.names {
                builder.remove(name);
            }
        }
    }
    for name in include {
        match one.get(name) {
            Some(value) => builder.set(*name, value),
            None => builder.remove(name),
        };
    }
    builder.build()
}

/// Formats labels as Go's `labels.Labels.String()`: every label, the name included, quoted.
pub(crate) fn go_labels(labels: &Labels) -> String {
    let pairs: Vec<String> = labels.iter().map(|l| format!("{}={:?}", l.name, &*l.value)).collect();
    format!("{{{}}}", pairs.join(", "))
}
