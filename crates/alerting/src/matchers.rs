//! Alertmanager's matcher syntax: `{a="b", c=~"d.*"}`, `a=b`, `"dotted.name"!~"x"`, as used in
//! route `matchers`, inhibition rules, silences and API `filter` parameters. Label names and
//! values may be any UTF-8 text when quoted. Matching itself is `panoptes_model::Matcher`.

use std::fmt;

use panoptes_model::{MatchOp, Matcher};

use crate::types::LabelSet;

/// A list of matchers that must all match (Alertmanager's `labels.Matchers`).
#[derive(Clone, Default)]
pub struct Matchers(pub Vec<Matcher>);

impl Matchers {
    /// Returns whether every matcher accepts `labels` (a missing label reads as empty).
    pub fn matches(&self, labels: &LabelSet) -> bool {
        self.0.iter().all(|m| m.matches(labels.get(&m.name).map_or("", String::as_str)))
    }

    /// Returns whether there are no matchers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Matchers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl PartialEq for Matchers {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

impl fmt::Display for Matchers {
    /// Prints `{a="b",c=~"d"}` as Alertmanager's `Matchers.String` does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (index, matcher) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            f.write_str(&matcher_string(matcher))?;
        }
        f.write_str("}")
    }
}

/// Prints one matcher as `name="value"`, quoting the name when it is not a plain identifier.
pub(crate) fn matcher_string(matcher: &Matcher) -> String {
    let name = if is_plain_name(&matcher.name) { matcher.name.clone() } else { quote(&matcher.name) };
    format!("{name}{}{}", matcher.op.as_str(), quote(&matcher.value))
}

fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Quotes a string with Go's `%q`-style escapes for `"`, `\` and control characters.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Parses a matcher list such as `{a="b", c!~"d"}` or `a=b,c=~d` (braces optional, as in
/// Alertmanager's `ParseMatchers`).
///
/// # Errors
///
/// Returns a message naming the offending text: an unterminated quote, a missing operator, an
/// empty label name or an invalid regular expression.
pub fn parse_matchers(input: &str) -> Result<Vec<Matcher>, String> {
    let trimmed = input.trim();
    let inner = match trimmed.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}').ok_or_else(|| format!("{input}: missing closing '}}'"))?,
        None => trimmed,
    };
    let mut matchers = Vec::new();
    for part in split_unquoted(inner, ',').map_err(|e| format!("{input}: {e}"))? {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        matchers.push(parse_matcher(part).map_err(|e| format!("bad matcher {part:?}: {e}"))?);
    }
    Ok(matchers)
}

/// Parses one matcher such as `severity=~"critical|warning"`.
///
/// # Errors
///
/// As [`parse_matchers`].
pub fn parse_matcher(input: &str) -> Result<Matcher, String> {
    let input = input.trim();
    let (name, rest) = if input.starts_with('"') {
        let (name, consumed) = unquote_prefix(input)?;
        (name, &input[consumed..])
    } else {
        let end = input.find(['=', '!', '~']).ok_or("no operator found (one of =, !=, =~, !~)")?;
        (input[..end].trim().to_owned(), &input[end..])
    };
    let rest = rest.trim_start();
    let (op, value_text) = if let Some(v) = rest.strip_prefix("=~") {
        (MatchOp::Regex, v)
    } else if let Some(v) = rest.strip_prefix("!~") {
        (MatchOp::NotRegex, v)
    } else if let Some(v) = rest.strip_prefix("!=") {
        (MatchOp::NotEqual, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (MatchOp::Equal, v)
    } else {
        return Err("no operator found (one of =, !=, =~, !~)".to_owned());
    };
    if name.is_empty() {
        return Err("empty label name".to_owned());
    }
    let value_text = value_text.trim();
    let value = if value_text.starts_with('"') {
        let (value, consumed) = unquote_prefix(value_text)?;
        if !value_text[consumed..].trim().is_empty() {
            return Err(format!("unexpected text after value: {:?}", &value_text[consumed..]));
        }
        value
    } else {
        value_text.to_owned()
    };
    Matcher::new(op, name, value).map_err(|e| e.to_string())
}

/// Splits on `separator` outside double quotes.
fn split_unquoted(text: &str, separator: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            c if c == separator && !in_quotes => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    if in_quotes {
        return Err("unterminated quoted string".to_owned());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Reads a double-quoted string with Go escapes at the start of `text`; returns it and the bytes
/// consumed.
fn unquote_prefix(text: &str) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((index, c)) = chars.next() {
        match c {
            '"' => return Ok((out, index + 1)),
            '\\' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(c @ ('\\' | '"' | '\'')) => out.push(c),
                Some(other) => return Err(format!("unknown escape sequence \\{other}")),
                None => break,
            },
            c => out.push(c),
        }
    }
    Err("unterminated quoted string".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: &str) {
        let result = match parse_matchers(input) {
            Ok(matchers) => Matchers(matchers).to_string(),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(result, expected, "parse_matchers({input:?})");
    }

    #[test]
    fn parses_alertmanager_matcher_syntax() {
        check(r#"{foo="bar"}"#, r#"{foo="bar"}"#);
        check("foo=bar", r#"{foo="bar"}"#);
        check(r#"a="b", c=~"d.*",e!="f" , g!~"h""#, r#"{a="b",c=~"d.*",e!="f",g!~"h"}"#);
        check(r#"{"service.name"="checkout"}"#, r#"{"service.name"="checkout"}"#);
        check(r#"team="a,b""#, r#"{team="a,b"}"#);
        check(r#"msg="say \"hi\"""#, r#"{msg="say \"hi\""}"#);
        check("服务=订单", r#"{"服务"="订单"}"#);
        check("foo", "error: bad matcher \"foo\": no operator found (one of =, !=, =~, !~)");
        check(r#"foo="bar"#, "error: foo=\"bar: unterminated quoted string");
        check("=x", "error: bad matcher \"=x\": empty label name");
        let error = parse_matchers("a=~(").unwrap_err();
        assert!(error.starts_with("bad matcher \"a=~(\": invalid regular expression \"(\""), "{error}");
        check("{a=b", "error: {a=b: missing closing '}'");
        check("", "{}");
    }

    #[test]
    fn matches_missing_labels_as_empty() {
        let matchers = Matchers(parse_matchers(r#"a="", b=~"x|""#).unwrap());
        assert!(matchers.matches(&LabelSet::new()));
        let labels: LabelSet = [("a".to_owned(), "1".to_owned())].into();
        assert!(!matchers.matches(&labels));
    }
}
