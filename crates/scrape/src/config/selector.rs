//! Syntax checks for Kubernetes label and field selectors in `kubernetes_sd_configs`, following
//! the grammar of Kubernetes' `labels.Parse` and `fields.ParseSelector`. Only validation: the
//! Kubernetes client sends the strings as written.

/// Checks a label selector such as `app=web,tier in (a, b),!canary`.
pub(crate) fn check_label_selector(selector: &str) -> Result<(), String> {
    let invalid = |reason: &str| format!("invalid label selector {selector:?}: {reason}");
    if selector.trim().is_empty() {
        return Ok(());
    }
    for requirement in split_requirements(selector) {
        let requirement = requirement.trim();
        if requirement.is_empty() {
            return Err(invalid("empty requirement"));
        }
        if let Some(key) = requirement.strip_prefix('!') {
            check_label_key(key.trim()).map_err(|reason| invalid(&reason))?;
            continue;
        }
        let key_end = requirement.find(|c: char| c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>' | '('));
        let (key, rest) = requirement.split_at(key_end.unwrap_or(requirement.len()));
        check_label_key(key).map_err(|reason| invalid(&reason))?;
        let rest = rest.trim_start();
        if rest.is_empty() {
            continue;
        }
        if let Some(value) = ["==", "!=", "="].iter().find_map(|op| rest.strip_prefix(op)) {
            check_label_value(value.trim()).map_err(|reason| invalid(&reason))?;
        } else if let Some(value) = ["<", ">"].iter().find_map(|op| rest.strip_prefix(op)) {
            if value.trim().parse::<i64>().is_err() {
                return Err(invalid(&format!(
                    "for 'Gt', 'Lt' operators, the value must be an integer, got {:?}",
                    value.trim()
                )));
            }
        } else if let Some(list) = rest.strip_prefix("notin").or_else(|| rest.strip_prefix("in")) {
            let list = list.trim();
            let Some(values) = list.strip_prefix('(').and_then(|inner| inner.strip_suffix(')')) else {
                return Err(invalid("expected '(' and ')' around the values of a set operator"));
            };
            for value in values.split(',') {
                check_label_value(value.trim()).map_err(|reason| invalid(&reason))?;
            }
        } else {
            return Err(invalid(&format!("unknown operator in {requirement:?}")));
        }
    }
    Ok(())
}

/// Splits at commas outside parentheses.
fn split_requirements(selector: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&selector[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&selector[start..]);
    parts
}

/// A qualified name: an optional DNS-subdomain prefix and `/`, then 1–63 characters of
/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let is_subdomain = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !is_subdomain {
            return Err(format!("key prefix {prefix:?} must be a DNS subdomain"));
        }
    }
    if name.is_empty() {
        return Err(format!("key {key:?} has no name"));
    }
    if !is_label_token(name) {
        return Err(format!(
            "key {key:?}: name part must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
        ));
    }
    Ok(())
}

/// A value: empty, or 1–63 characters like a key's name part.
fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_token(value) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character"
        ))
    }
}

fn is_label_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Checks a field selector such as `metadata.name=x,status.phase!=Running`; `\` escapes `,`,
/// `=`, `!` and `\` in values.
pub(crate) fn check_field_selector(selector: &str) -> Result<(), String> {
    let invalid = |term: &str| format!("invalid selector: {selector:?}; can't understand {term:?}");
    if selector.is_empty() {
        return Ok(());
    }
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut chars = selector.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped @ (',' | '=' | '!' | '\\')) => {
                    current.push('\\');
                    current.push(escaped);
                }
                _ => return Err(format!("invalid field selector {selector:?}: invalid escape sequence")),
            },
            ',' => terms.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    terms.push(current);
    for term in &terms {
        let operator = ["!=", "==", "="].iter().find_map(|op| unescaped_find(term, op).map(|index| (index, op.len())));
        let Some((index, _)) = operator else {
            return Err(invalid(term));
        };
        if term[..index].is_empty() {
            return Err(invalid(term));
        }
    }
    Ok(())
}

/// Finds `needle` in `term` where it is not escaped with `\`.
fn unescaped_find(term: &str, needle: &str) -> Option<usize> {
    let bytes = term.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' {
            index += 2;
            continue;
        }
        if bytes[index..].starts_with(needle.as_bytes()) {
            return Some(index);
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn selector_checks_never_panic(selector in "\\PC{0,24}|[a-z=!,()\\\\ é]{0,24}") {
            let _ = check_label_selector(&selector);
            let _ = check_field_selector(&selector);
        }
    }

    #[test]
    fn label_selectors() {
        for valid in [
            "",
            "app=web",
            "app==web,tier!=db",
            "app.kubernetes.io/name=web",
            "!canary",
            "env in (prod, staging),tier notin (db)",
            "release",
            "replicas>2",
            "app=",
        ] {
            assert_eq!(check_label_selector(valid), Ok(()), "{valid}");
        }
        for (invalid, reason) in [
            ("app=we b", "value \"we b\""),
            ("-app=web", "key \"-app\""),
            ("app=web,", "empty requirement"),
            ("Bad_Prefix/app=x", "DNS subdomain"),
            ("env in prod", "expected '('"),
            ("replicas>two", "must be an integer"),
            ("app~web", "key \"app~web\""),
        ] {
            let error = check_label_selector(invalid).expect_err(invalid);
            assert!(error.contains(reason), "{invalid}: {error}");
        }
    }

    #[test]
    fn field_selectors() {
        for valid in ["", "metadata.name=x", "spec.nodeName==n1,status.phase!=Running", r"metadata.name=a\,b"] {
            assert_eq!(check_field_selector(valid), Ok(()), "{valid}");
        }
        assert_eq!(
            check_field_selector("metadata.name"),
            Err(r#"invalid selector: "metadata.name"; can't understand "metadata.name""#.to_owned())
        );
        assert!(check_field_selector("=x").is_err());
        assert!(check_field_selector(r"a=b\q").is_err());
    }
}
