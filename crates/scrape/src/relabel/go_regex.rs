//! Rewrites Go (RE2) regex syntax into the equivalent for the `regex` crate where the two
//! differ, so that a pattern matches what it matches in Prometheus.
//!
//! Differences handled: `\d`, `\w`, `\s` and `\b` are ASCII-only in Go but Unicode-aware in
//! Rust; `\Q…\E` quoting exists only in Go; inside a bracket class, Go treats `[`, `&&`, `--` and
//! `~~` as literals where Rust reads nested classes and set operations. Everything else is
//! passed through unchanged.

/// Go's `\d`, `\w` and `\s` as class contents.
const DIGIT: &str = "0-9";
const WORD: &str = "0-9A-Za-z_";
const SPACE: &str = r"\t\n\f\r ";

/// Returns `pattern` rewritten for the `regex` crate.
pub(super) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    // Whether the next character is the first of a class body, where `]` is literal.
    let mut at_class_start = false;
    while let Some(c) = chars.next() {
        let was_class_start = at_class_start;
        at_class_start = false;
        match c {
            '\\' => {
                let Some(escaped) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let perl_class = match escaped {
                    'd' => Some((DIGIT, false)),
                    'D' => Some((DIGIT, true)),
                    'w' => Some((WORD, false)),
                    'W' => Some((WORD, true)),
                    's' => Some((SPACE, false)),
                    'S' => Some((SPACE, true)),
                    _ => None,
                };
                match (perl_class, escaped) {
                    (Some((body, false)), _) if in_class => out.push_str(body),
                    (Some((body, negated)), _) => {
                        out.push_str(if negated { "[^" } else { "[" });
                        out.push_str(body);
                        out.push(']');
                    }
                    (None, 'b' | 'B') if !in_class => {
                        out.push_str("(?-u:\\");
                        out.push(escaped);
                        out.push(')');
                    }
                    (None, 'Q') if !in_class => {
                        let mut literal = String::new();
                        while let Some(next) = chars.next() {
                            if next == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            literal.push(next);
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    _ => {
                        out.push('\\');
                        out.push(escaped);
                    }
                }
            }
            '[' if !in_class => {
                out.push('[');
                in_class = true;
                at_class_start = true;
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class such as `[:alpha:]`: copied through to its closing `:]`.
                out.push('[');
                for next in chars.by_ref() {
                    out.push(next);
                    if next == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str(r"\["),
            ']' if in_class && !was_class_start => {
                out.push(']');
                in_class = false;
            }
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && chars.peek() == Some(&'-') => out.push_str(r"\-"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[track_caller]
    fn check(go: &str, expected: &str) {
        assert_eq!(translate(go), expected, "translate({go:?})");
    }

    #[test]
    fn translates_go_specific_syntax() {
        check(r"(\d+)", r"([0-9]+)");
        check(r"\D\W\S", r"[^0-9][^0-9A-Za-z_][^\t\n\f\r ]");
        check(r"[\d.]+", r"[0-9.]+");
        check(r"[^\s,]", r"[^\t\n\f\r ,]");
        check(r"\bfoo\B", r"(?-u:\b)foo(?-u:\B)");
        check(r"\Qa.b*\Ec", r"a\.b\*c");
        check(r"[[a]", r"[\[a]");
        check(r"[]a]", r"[]a]");
        check(r"[^]a]", r"[^]a]");
        check(r"[a&&b]", r"[a\&\&b]");
        check(r"[a--b]", r"[a\--b]");
        check(r"[[:alpha:]_]", r"[[:alpha:]_]");
        check(r"a\.b\\d", r"a\.b\\d");
        check(r"\pL\x{41}", r"\pL\x{41}");
        check(r"trailing\", r"trailing\");
    }

    #[test]
    fn translated_patterns_match_like_go() {
        let digits = regex::Regex::new(&format!("^(?s:{})$", translate(r"\d+"))).expect("compiles");
        assert!(digits.is_match("0123"));
        assert!(!digits.is_match("٣"), "Go's \\d is ASCII-only");
        let class = regex::Regex::new(&format!("^(?s:{})$", translate(r"[[a]+"))).expect("compiles");
        assert!(class.is_match("[a["));
    }
}
