//! Label matchers (`=`, `!=`, `=~`, `!~`) with Prometheus 3 regex semantics and fast paths.
//!
//! Regexes are fully anchored and `.` matches newline, exactly as Prometheus compiles them
//! (`^(?s:…)$`). Common regex shapes are recognised once, at construction, so that matching a
//! value or a postings list does not run the regex engine: a literal, an alternation of
//! literals, a literal prefix followed by `.*`, and `.*` / `.+`.

use std::fmt;

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind, Literal};

/// A matcher operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// Returns the operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// Why a matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?} for label {name:?}: {message}")]
pub struct MatcherError {
    /// The label the matcher is for.
    pub name: String,
    /// The pattern as given.
    pub pattern: String,
    /// What the regex parser said.
    pub message: String,
}

/// How a regex pattern is evaluated, decided once when the matcher is built.
#[derive(Clone)]
enum Pattern {
    /// Equality with one string (also used for `=` and `!=`).
    Literal(String),
    /// One of a few strings (`a|b|c`), sorted for binary search.
    Set(Vec<String>),
    /// A literal prefix followed by `.*`.
    Prefix(String),
    /// `.*`: matches everything, the empty string included.
    Any,
    /// `.+`: matches every non-empty string.
    NonEmpty,
    /// Anything else: the anchored regex.
    Regex(Regex),
}

/// A label matcher: a name, an operator and a value or pattern.
#[derive(Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or pattern as written.
    pub value: String,
    pattern: Pattern,
}

impl Matcher {
    /// Returns a matcher, compiling and analysing the pattern of regex operators.
    ///
    /// # Errors
    ///
    /// Returns [`MatcherError`] when a regex does not parse.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self, MatcherError> {
        let name = name.into();
        let value = value.into();
        let pattern = match op {
            MatchOp::Equal | MatchOp::NotEqual => Pattern::Literal(value.clone()),
            MatchOp::Regex | MatchOp::NotRegex => compile_pattern(&name, &value)?,
        };
        Ok(Self { name, op, value, pattern })
    }

    /// Returns an equality matcher; it cannot fail.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        let value = value.into();
        Self { name: name.into(), op: MatchOp::Equal, pattern: Pattern::Literal(value.clone()), value }
    }

    /// Returns whether `value` (the empty string for an absent label) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        let positive = match &self.pattern {
            Pattern::Literal(literal) => literal == value,
            Pattern::Set(set) => set.binary_search_by(|s| s.as_str().cmp(value)).is_ok(),
            Pattern::Prefix(prefix) => value.starts_with(prefix.as_str()),
            Pattern::Any => true,
            Pattern::NonEmpty => !value.is_empty(),
            Pattern::Regex(regex) => regex.is_match(value),
        };
        match self.op {
            MatchOp::Equal | MatchOp::Regex => positive,
            MatchOp::NotEqual | MatchOp::NotRegex => !positive,
        }
    }

    /// Returns whether the matcher accepts the empty string, i.e. series without the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// Returns the exact values that satisfy a positive matcher, when there are finitely many
    /// (`=`, or `=~` over a literal or an alternation of literals). Used to look up postings
    /// directly instead of scanning every value of the label.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        if !matches!(self.op, MatchOp::Equal | MatchOp::Regex) {
            return None;
        }
        match &self.pattern {
            Pattern::Literal(literal) => Some(vec![literal.as_str()]),
            Pattern::Set(set) => Some(set.iter().map(String::as_str).collect()),
            _ => None,
        }
    }

    /// Returns the literal prefix every matching value must start with, for a positive prefix
    /// matcher (`=~"foo.*"`), so an index can seek instead of scanning.
    pub fn prefix(&self) -> Option<&str> {
        match (&self.pattern, self.op) {
            (Pattern::Prefix(prefix), MatchOp::Regex) => Some(prefix),
            _ => None,
        }
    }

    /// Returns whether this is `=~".*"` (or `!~` of something matching nothing), a no-op filter.
    pub fn matches_everything(&self) -> bool {
        matches!((&self.pattern, self.op), (Pattern::Any, MatchOp::Regex))
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

fn compile_pattern(name: &str, pattern: &str) -> Result<Pattern, MatcherError> {
    let wrapped = format!("(?s:{pattern})");
    let error = |message: String| MatcherError { name: name.to_owned(), pattern: pattern.to_owned(), message };
    let hir = regex_syntax::ParserBuilder::new().build().parse(&wrapped).map_err(|e| error(e.to_string()))?;
    // A pattern that does not parse on its own (`)x|(`) escapes the wrapper, and Prometheus,
    // which concatenates the same strings, then matches it unanchored: only the plain regex
    // reproduces that.
    let is_self_contained = regex_syntax::ParserBuilder::new().build().parse(pattern).is_ok();
    if is_self_contained && let Some(fast) = analyse(&hir) {
        return Ok(fast);
    }
    let regex = Regex::new(&format!("^{wrapped}$")).map_err(|e| error(e.to_string()))?;
    Ok(Pattern::Regex(regex))
}

/// Recognises the regex shapes that need no regex engine.
fn analyse(hir: &Hir) -> Option<Pattern> {
    match hir.kind() {
        HirKind::Capture(capture) => analyse(&capture.sub),
        HirKind::Empty => Some(Pattern::Literal(String::new())),
        HirKind::Literal(Literal(bytes)) => String::from_utf8(bytes.to_vec()).ok().map(Pattern::Literal),
        HirKind::Alternation(branches) => {
            let mut set = Vec::with_capacity(branches.len());
            for branch in branches {
                match analyse(branch)? {
                    Pattern::Literal(literal) => set.push(literal),
                    Pattern::Set(more) => set.extend(more),
                    _ => return None,
                }
            }
            set.sort();
            set.dedup();
            Some(Pattern::Set(set))
        }
        HirKind::Repetition(_) => {
            match_any_repetition(hir).map(|min| if min == 0 { Pattern::Any } else { Pattern::NonEmpty })
        }
        HirKind::Concat(parts) => {
            let (last, init) = parts.split_last()?;
            if match_any_repetition(last) != Some(0) {
                return None;
            }
            let mut prefix = String::new();
            for part in init {
                match analyse(part)? {
                    Pattern::Literal(literal) => prefix.push_str(&literal),
                    _ => return None,
                }
            }
            Some(Pattern::Prefix(prefix))
        }
        _ => None,
    }
}

/// Returns the minimum count when `hir` is `.*` or `.+` over every character (dot-all).
fn match_any_repetition(hir: &Hir) -> Option<u32> {
    let HirKind::Repetition(repetition) = hir.kind() else { return None };
    if repetition.max.is_some() || repetition.min > 1 {
        return None;
    }
    let is_any_char = match repetition.sub.kind() {
        HirKind::Class(Class::Unicode(class)) => {
            let ranges = class.ranges();
            ranges.len() == 1 && ranges[0].start() == '\0' && ranges[0].end() == char::MAX
        }
        _ => false,
    };
    is_any_char.then_some(repetition.min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(op: MatchOp, pattern: &str, value: &str, expected: bool) {
        let matcher = Matcher::new(op, "l", pattern).unwrap();
        assert_eq!(matcher.matches(value), expected, "{matcher} on {value:?}");
        // The fast path must agree with the plain anchored regex.
        if matches!(op, MatchOp::Regex) {
            let reference = Regex::new(&format!("^(?s:{pattern})$")).unwrap();
            assert_eq!(reference.is_match(value), expected, "reference {pattern:?} on {value:?}");
        }
    }

    #[test]
    fn regexes_are_anchored_and_dot_matches_newline() {
        check(MatchOp::Regex, "foo.bar", "foo\nbar", true);
        check(MatchOp::Regex, "foo", "xfoo", false);
        check(MatchOp::Regex, "foo", "foox", false);
        check(MatchOp::NotRegex, "foo", "foox", true);
        check(MatchOp::Regex, "a|b|cd", "cd", true);
        check(MatchOp::Regex, "a|b|cd", "c", false);
        check(MatchOp::Regex, "api-.*", "api-gw", true);
        check(MatchOp::Regex, "api-.*", "xapi-gw", false);
        check(MatchOp::Regex, ".*", "", true);
        check(MatchOp::Regex, ".+", "", false);
        check(MatchOp::Regex, ".+", "x", true);
        check(MatchOp::Regex, "", "", true);
        check(MatchOp::Regex, "(?i)foo", "FOO", true);
        // Escapes the `^(?s:…)$` wrapper exactly as in Prometheus: `()$` matches anything.
        check(MatchOp::Regex, ")x|(", "a", true);
        check(MatchOp::Regex, "[0-9]+", "123", true);
        check(MatchOp::Equal, "x", "x", true);
        check(MatchOp::NotEqual, "x", "", true);
    }

    #[test]
    fn fast_paths_are_recognised() {
        let set = Matcher::new(MatchOp::Regex, "l", "b|a|(c)").unwrap();
        assert_eq!(set.set_matches(), Some(vec!["a", "b", "c"]));
        let prefix = Matcher::new(MatchOp::Regex, "l", "api-.*").unwrap();
        assert_eq!(prefix.prefix(), Some("api-"));
        assert!(Matcher::new(MatchOp::Regex, "l", ".*").unwrap().matches_everything());
        assert!(Matcher::new(MatchOp::Regex, "l", "(").is_err());
    }

    proptest::proptest! {
        #[test]
        fn fast_paths_agree_with_regex(pattern in "(a|b|c|\\.\\*|\\.\\+|x\\||\\(|\\)){0,6}", value in "[abcx\n]{0,5}") {
            if let Ok(matcher) = Matcher::new(MatchOp::Regex, "l", pattern.clone()) {
                let reference = Regex::new(&format!("^(?s:{pattern})$")).unwrap();
                proptest::prop_assert_eq!(matcher.matches(&value), reference.is_match(&value));
            }
        }
    }
}
