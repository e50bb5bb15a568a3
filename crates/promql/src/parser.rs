//! Parsing PromQL: a thin wrapper over the maintained `promql-parser` crate that also refuses the
//! syntax this engine does not evaluate, so that such queries fail clearly instead of giving a
//! wrong answer.

use panoptes_model::{MatchOp, Matcher};
use promql_parser::label::MatchOp as UpstreamOp;
use promql_parser::parser::{self as upstream, BinModifier};
pub use promql_parser::parser::{Expr, VectorSelector};

use crate::error::{Error, Result};

/// Functions the engine evaluates. Anything else the upstream parser accepts (native histogram
/// functions, `info()`, `start_timestamp()`, `histogram_quantiles()`) is refused at parse time.
pub(crate) const SUPPORTED_FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "end",
    "max_of",
    "min_of",
    "range",
    "start",
    "step",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "exp",
    "first_over_time",
    "floor",
    "histogram_fraction",
    "histogram_quantile",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
    "vector",
    "year",
];

/// Parses `query` and checks that the engine supports everything it uses.
///
/// # Errors
///
/// Returns [`Error::Parse`] for invalid PromQL and [`Error::Unsupported`] for valid PromQL that
/// uses native histogram functions, `info()`, binary operator fill modifiers or other
/// experimental syntax.
pub fn parse(query: &str) -> Result<Expr> {
    if has_high_byte_escape(query) {
        // Go decodes `\xff` to the byte 0xff; the upstream parser decodes it to U+00FF, which
        // would silently select or write different label values.
        return Err(Error::Unsupported(
            "byte escapes above \\x7f in string literals (\\xNN, \\NNN) are not supported".into(),
        ));
    }
    let expr = upstream::parse(query).map_err(|message| match experimental_feature(query) {
        Some(feature) => Error::Unsupported(format!("{feature} are experimental and not supported by this engine")),
        None => Error::Parse(lowercase_first(&message)),
    })?;
    check_supported(&expr)?;
    Ok(expr)
}

/// Parses a series selector such as `up{job="api"}` (the `match[]` parameter of the HTTP API)
/// into matcher sets: one set per `or` alternative; a series matches the selector when it
/// satisfies every matcher of at least one set.
///
/// # Errors
///
/// Returns [`Error::Parse`] when `text` is not valid PromQL or not a plain vector selector.
pub fn parse_selector(text: &str) -> Result<Vec<Vec<Matcher>>> {
    match upstream::parse(text).map_err(|message| Error::Parse(lowercase_first(&message)))? {
        Expr::VectorSelector(selector) if selector.offset.is_none() && selector.at.is_none() => {
            selector_matchers(&selector)
        }
        _ => Err(Error::Parse(format!("invalid series selector {text:?}: expected a vector selector"))),
    }
}

/// Converts a parsed selector's matchers (metric name included) into Panoptes matchers, one set
/// per `or` alternative.
///
/// # Errors
///
/// Returns [`Error::Parse`] when a regular expression is not acceptable.
pub fn selector_matchers(selector: &VectorSelector) -> Result<Vec<Vec<Matcher>>> {
    let common = &selector.matchers.matchers;
    let alternatives: Vec<Vec<&promql_parser::label::Matcher>> = if selector.matchers.or_matchers.is_empty() {
        vec![common.iter().collect()]
    } else {
        selector.matchers.or_matchers.iter().map(|group| common.iter().chain(group.iter()).collect()).collect()
    };
    let mut sets = Vec::with_capacity(alternatives.len());
    for alternative in alternatives {
        let mut matchers = Vec::with_capacity(alternative.len() + 1);
        if let Some(name) = &selector.name {
            matchers.push(Matcher::equal(panoptes_model::METRIC_NAME, name.clone()));
        }
        for matcher in alternative {
            let op = match matcher.op {
                UpstreamOp::Equal => MatchOp::Equal,
                UpstreamOp::NotEqual => MatchOp::NotEqual,
                UpstreamOp::Re(_) => MatchOp::Regex,
                UpstreamOp::NotRe(_) => MatchOp::NotRegex,
            };
            let converted = Matcher::new(op, matcher.name.clone(), matcher.value.clone())
                .map_err(|error| Error::Parse(error.to_string()))?;
            matchers.push(converted);
        }
        sets.push(matchers);
    }
    Ok(sets)
}

/// Checks a parsed expression for features the engine refuses.
///
/// # Errors
///
/// Returns [`Error::Unsupported`] naming the first unsupported feature found.
pub fn check_supported(expr: &Expr) -> Result<()> {
    match expr {
        Expr::Aggregate(aggregate) => {
            if let Some(param) = &aggregate.param {
                check_supported(param)?;
            }
            check_supported(&aggregate.expr)
        }
        Expr::Unary(unary) => check_supported(&unary.expr),
        Expr::Binary(binary) => {
            if let Some(BinModifier { fill_values, .. }) = &binary.modifier
                && (fill_values.lhs.is_some() || fill_values.rhs.is_some())
            {
                return Err(Error::Unsupported("binary operator fill modifiers are experimental".into()));
            }
            check_supported(&binary.lhs)?;
            check_supported(&binary.rhs)
        }
        Expr::Paren(paren) => check_supported(&paren.expr),
        Expr::Subquery(subquery) => check_supported(&subquery.expr),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::VectorSelector(_) | Expr::MatrixSelector(_) => Ok(()),
        Expr::Call(call) => {
            let name = call.func.name;
            if !SUPPORTED_FUNCTIONS.contains(&name) {
                let native = name.starts_with("histogram_") && name != "histogram_quantiles";
                let what = if native { "native histogram function" } else { "function" };
                return Err(Error::Unsupported(format!("{what} {name}() is not supported by this engine")));
            }
            call.args.args.iter().try_for_each(|arg| check_supported(arg))
        }
        Expr::Extension(_) => Err(Error::Unsupported("extension expressions".into())),
    }
}

/// Names the experimental syntax a query that failed to parse most likely uses, so that the
/// error says what is missing instead of only "invalid promql query".
fn experimental_feature(query: &str) -> Option<&'static str> {
    let lower = query.to_lowercase();
    if query.contains("{{") {
        return Some("native histogram literals");
    }
    if query.contains(">/") || query.contains("</") {
        return Some("native histogram trim operators (>/ and </)");
    }
    if lower.contains("info(") {
        return Some("info() calls");
    }
    if lower.contains("anchored") || lower.contains("smoothed") {
        return Some("anchored/smoothed range selector modifiers");
    }
    if lower.contains("fill(") || lower.contains("fill_left(") || lower.contains("fill_right(") {
        return Some("binary operator fill modifiers");
    }
    if has_duration_arithmetic(query) {
        return Some("duration expressions");
    }
    None
}

/// Whether a range, subquery or offset holds an expression instead of a plain duration.
fn has_duration_arithmetic(query: &str) -> bool {
    let mut inside_brackets = false;
    for c in query.chars() {
        match c {
            '[' => inside_brackets = true,
            ']' => inside_brackets = false,
            '+' | '-' | '*' | '/' | '(' | '%' | '^' if inside_brackets => return true,
            _ => {}
        }
    }
    // An offset whose value does not start with a digit (after an optional sign) is an expression.
    let lower = query.to_lowercase();
    lower.match_indices("offset").any(|(index, _)| {
        let rest = lower[index + "offset".len()..].trim_start();
        let rest = rest.strip_prefix(['-', '+']).unwrap_or(rest).trim_start();
        !rest.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Whether a quoted string literal of the query contains a `\xNN` or octal escape of a byte
/// above 0x7f.
fn has_high_byte_escape(query: &str) -> bool {
    let mut chars = query.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            None => match c {
                '"' | '\'' | '`' => quote = Some(c),
                '#' => {
                    for next in chars.by_ref() {
                        if next == '\n' {
                            break;
                        }
                    }
                }
                _ => {}
            },
            Some(q) if c == q => quote = None,
            Some('`') => {}
            Some(_) if c == '\\' => {
                let Some(escape) = chars.next() else { return false };
                let (digits, radix) = match escape {
                    'x' => (2, 16),
                    '0'..='7' => (2, 8),
                    _ => continue,
                };
                let mut text = if radix == 8 { escape.to_string() } else { String::new() };
                for _ in 0..digits {
                    if let Some(digit) = chars.next() {
                        text.push(digit);
                    }
                }
                if u32::from_str_radix(&text, radix).is_ok_and(|value| value > 0x7f) {
                    return true;
                }
            }
            Some(_) => {}
        }
    }
    false
}

fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_queries() {
        assert!(parse("sum by (job) (rate(http_requests_total[5m]))").is_ok());
    }

    #[test]
    fn rejects_invalid_syntax() {
        assert!(matches!(parse("sum(("), Err(Error::Parse(_))));
    }

    #[test]
    fn parses_series_selectors_into_matcher_sets() {
        let sets = parse_selector(r#"up{job=~"a|b", env!="dev"}"#).expect("selector");
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].len(), 3);
        assert!(sets[0].iter().any(|m| m.name == "__name__" && m.value == "up"));
        let sets = parse_selector(r#"{a="1" or b="2"}"#).expect("or selector");
        assert_eq!(sets.len(), 2);
        assert!(parse_selector("sum(up)").is_err());
        assert!(parse_selector("up offset 5m").is_err());
    }

    #[test]
    fn names_experimental_syntax_in_errors() {
        for (query, feature) in [
            ("rate(foo[5m] anchored)", "anchored/smoothed"),
            ("foo[5m+1m]", "duration expressions"),
            ("foo offset (1m*2)", "duration expressions"),
            ("foo >/ 2", "trim operators"),
        ] {
            match parse(query) {
                Err(Error::Unsupported(message)) => assert!(message.contains(feature), "{query}: {message}"),
                other => panic!("{query}: expected unsupported, got {other:?}"),
            }
        }
        assert!(matches!(parse("foo[5m"), Err(Error::Parse(_))));
    }

    #[test]
    fn refuses_high_byte_escapes_only_inside_strings() {
        assert!(matches!(parse(r#"label_replace(a, "\xff", "", "b", "")"#), Err(Error::Unsupported(_))));
        assert!(matches!(parse(r#"a{b="\303\251"}"#), Err(Error::Unsupported(_))));
        assert!(parse(r#"a{b="\x41\n\\xff"}"#).is_ok());
        assert!(parse("a{b=`\\xff`}").is_ok());
    }

    #[test]
    fn refuses_native_histogram_functions_and_fill() {
        assert!(matches!(parse("histogram_count(foo)"), Err(Error::Unsupported(_))));
        assert!(matches!(parse("info(foo)"), Err(Error::Unsupported(_))));
        assert!(matches!(parse("a + fill(0) b"), Err(Error::Unsupported(_))));
    }
}
