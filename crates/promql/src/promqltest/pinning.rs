//! The framework's `@` cross-check: an instant eval must give the same result when every
//! selector and outermost subquery is pinned with `@ <eval time>` and evaluated at other times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promql_parser::parser::{AtModifier, Expr};

/// Functions whose value depends on the evaluation time even for step-invariant arguments
/// (Prometheus' `AtModifierUnsafeFunctions`).
const TIME_DEPENDENT_FUNCTIONS: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
    "start",
    "end",
    "range",
    "step",
];

/// Returns whether the expression calls a function whose value depends on the evaluation time.
pub(crate) fn is_time_dependent(expr: &Expr) -> bool {
    match expr {
        Expr::Call(call) => {
            TIME_DEPENDENT_FUNCTIONS.contains(&call.func.name) || call.args.args.iter().any(|a| is_time_dependent(a))
        }
        Expr::Aggregate(aggregate) => {
            is_time_dependent(&aggregate.expr) || aggregate.param.as_deref().is_some_and(is_time_dependent)
        }
        Expr::Unary(unary) => is_time_dependent(&unary.expr),
        Expr::Binary(binary) => is_time_dependent(&binary.lhs) || is_time_dependent(&binary.rhs),
        Expr::Paren(paren) => is_time_dependent(&paren.expr),
        Expr::Subquery(subquery) => is_time_dependent(&subquery.expr),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => false,
    }
}

/// Returns `t` (milliseconds) as a system time.
fn system_time(t: i64) -> SystemTime {
    let magnitude = Duration::from_millis(t.unsigned_abs());
    if t >= 0 { UNIX_EPOCH + magnitude } else { UNIX_EPOCH - magnitude }
}

/// Pins every selector and outermost subquery without `@` to `t`; selectors inside subqueries
/// are left alone.
pub(crate) fn pin(expr: &mut Expr, t: i64) {
    let at = || Some(AtModifier::At(system_time(t)));
    match expr {
        Expr::VectorSelector(selector) => {
            if selector.at.is_none() {
                selector.at = at();
            }
        }
        Expr::MatrixSelector(matrix) => {
            if matrix.vs.at.is_none() {
                matrix.vs.at = at();
            }
        }
        Expr::Subquery(subquery) => {
            if subquery.at.is_none() {
                subquery.at = at();
            }
        }
        Expr::Call(call) => call.args.args.iter_mut().for_each(|a| pin(a, t)),
        Expr::Aggregate(aggregate) => {
            pin(&mut aggregate.expr, t);
            if let Some(param) = &mut aggregate.param {
                pin(param, t);
            }
        }
        Expr::Unary(unary) => pin(&mut unary.expr, t),
        Expr::Binary(binary) => {
            pin(&mut binary.lhs, t);
            pin(&mut binary.rhs, t);
        }
        Expr::Paren(paren) => pin(&mut paren.expr, t),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The other evaluation times the framework tries for an eval at `t`.
pub(crate) fn additional_times(t: i64) -> Vec<i64> {
    if t == 0 { vec![-1000, 0, 1000] } else { vec![-10 * t, 0, t / 5, t, 10 * t] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_selectors_but_not_inside_subqueries() {
        let mut expr = crate::parser::parse("rate(a[5m]) + max_over_time(b[10m:1m])").expect("parse");
        pin(&mut expr, 60_000);
        let text = expr.to_string();
        assert!(text.contains("a[5m] @ 60.000"), "{text}");
        assert!(text.contains("b[10m:1m] @ 60.000"), "{text}");
        assert!(!text.contains("b @"), "{text}");
    }

    #[test]
    fn detects_time_dependent_functions() {
        assert!(is_time_dependent(&crate::parser::parse("sum(timestamp(a))").expect("parse")));
        assert!(!is_time_dependent(&crate::parser::parse("sum(rate(a[1m]))").expect("parse")));
    }
}
