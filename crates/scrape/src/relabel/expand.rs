//! Template expansion with the exact rules of Go's `regexp.Expand`.
//!
//! `$$` is a dollar sign; `$name` takes the longest run of letters, digits and underscores, so
//! `$1x` names the group `1x` (usually absent, hence empty); `${name}` delimits the name; a
//! name of digits only (without a leading zero) is a group number; a missing group expands to
//! nothing; a `$` not followed by a valid name is kept literally.

/// Returns whether `template` contains a `$`, as Prometheus' `varInRegexTemplate` checks.
pub(super) fn has_template_variable(template: &str) -> bool {
    template.contains('$')
}

/// Expands `template` with the groups of `captures`.
pub(super) fn expand(regex: &regex::Regex, captures: &regex::Captures<'_>, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let Some((name, after)) = extract(rest) else {
            out.push('$');
            continue;
        };
        rest = after;
        let group = match group_number(name) {
            Some(number) => captures.get(number),
            None => regex
                .capture_names()
                .position(|candidate| candidate == Some(name))
                .and_then(|index| captures.get(index)),
        };
        if let Some(group) = group {
            out.push_str(group.as_str());
        }
    }
    out.push_str(rest);
    out
}

/// Splits a variable name (optionally in braces) off the start of `text`.
fn extract(text: &str) -> Option<(&str, &str)> {
    let (is_braced, body) = match text.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let end = body.find(|c: char| !(c.is_alphabetic() || c.is_numeric() || c == '_')).unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let after = &body[end..];
    if is_braced {
        let after = after.strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, after))
}

/// Returns the group number a name denotes, if it is all ASCII digits without a leading zero and
/// at most nine digits long (Go stops at 10^8 before the next digit).
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|byte| byte.is_ascii_digit()) || (name.len() > 1 && name.starts_with('0')) || name.len() > 9 {
        return None;
    }
    name.parse().ok()
}
