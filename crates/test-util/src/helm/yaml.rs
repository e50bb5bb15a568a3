//! `toYaml`: Go values printed as `sigs.k8s.io/yaml.Marshal` prints them (JSON, then yaml.v2's
//! block style). Never folds long lines, which yaml.v2 does past column 80 (see helm.rs).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;

use super::{go_float, go_quote};

/// `toYaml`: what `sigs.k8s.io/yaml.Marshal` prints (yaml.v2's block style, map keys in its
/// natural order, integral numbers as integers, strings quoted only when they must be).
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Map(fields) if !fields.is_empty() => write_map(&mut out, fields, 0),
        Value::List(items) if !items.is_empty() => write_list(&mut out, items, 0),
        scalar => {
            out.push_str(&scalar_text(scalar, 0));
            out.push('\n');
        }
    }
    out
}

fn write_map(out: &mut String, fields: &BTreeMap<Arc<str>, Value>, indent: usize) {
    let mut keys: Vec<&Arc<str>> = fields.keys().collect();
    keys.sort_by(|a, b| yaml_key_order(a, b));
    for (index, key) in keys.into_iter().enumerate() {
        if index > 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str(&string_scalar(key, indent));
        out.push(':');
        write_value_after_key(out, &fields[key], indent);
    }
}

fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Map(fields) if !fields.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 2));
            write_map(out, fields, indent + 2);
        }
        Value::List(items) if !items.is_empty() => {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            write_list(out, items, indent);
        }
        scalar => {
            out.push(' ');
            out.push_str(&scalar_text(scalar, indent + 2));
            out.push('\n');
        }
    }
}

fn write_list(out: &mut String, items: &[Value], indent: usize) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(&" ".repeat(indent));
        }
        out.push_str("- ");
        match item {
            Value::Map(fields) if !fields.is_empty() => write_map(out, fields, indent + 2),
            Value::List(items) if !items.is_empty() => write_list(out, items, indent + 2),
            scalar => {
                out.push_str(&scalar_text(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value, indent: usize) -> String {
    match value {
        Value::Nil => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Uint(n) => n.to_string(),
        // JSON prints integral floats below 1e21 as integers, which YAML then reads as ints.
        #[allow(clippy::cast_possible_truncation)]
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{}", *f as i128),
        Value::Float(f) => go_float(*f),
        Value::String(text) => string_scalar(text, indent),
        Value::Map(_) => "{}".to_owned(),
        Value::List(_) => "[]".to_owned(),
        Value::Function(_) => "null".to_owned(),
    }
}

/// A string as yaml.v2 writes it: literal block when it has a newline, plain when that reads
/// back as the same string, single-quoted when plain is not allowed there, double-quoted when
/// plain would read as another type.
fn string_scalar(text: &str, indent: usize) -> String {
    if text.contains('\n') {
        let chomp = if !text.ends_with('\n') {
            "-"
        } else if text.ends_with("\n\n") {
            "+"
        } else {
            ""
        };
        let indicator = if text.starts_with(' ') { "2" } else { "" };
        let pad = " ".repeat(indent);
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<String> =
            body.split('\n').map(|line| if line.is_empty() { String::new() } else { format!("{pad}{line}") }).collect();
        return format!("|{indicator}{chomp}\n{}", lines.join("\n"));
    }
    if resolves_to_non_string(text) {
        return go_quote(text);
    }
    if !is_plain_allowed(text) {
        return format!("'{}'", text.replace('\'', "''"));
    }
    text.to_owned()
}

/// Whether yaml.v2 would read `text`, unquoted, as something other than a string.
fn resolves_to_non_string(text: &str) -> bool {
    const SPECIAL: [&str; 37] = [
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE", "n",
        "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE", ".nan", ".NaN", ".NAN", ".inf", ".Inf",
        ".INF", "+.inf", "+.Inf", "-.inf", "-.Inf",
    ];
    if SPECIAL.contains(&text) || text == "<<" {
        return true;
    }
    let digits = text.replace('_', "");
    let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(&digits);
    let is_int = !unsigned.is_empty()
        && (unsigned.bytes().all(|b| b.is_ascii_digit())
            || unsigned
                .strip_prefix("0x")
                .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
            || unsigned
                .strip_prefix("0b")
                .is_some_and(|bin| !bin.is_empty() && bin.bytes().all(|b| b == b'0' || b == b'1')));
    is_int || is_yaml_float(text) || is_base60(text) || is_timestamp(text)
}

/// yaml.v2's float pattern `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() && !fraction.is_empty() || !whole.is_empty())
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|exp| {
        let digits = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// yaml.v2 quotes sexagesimal-looking numbers (`1:20`) for YAML 1.1 readers.
fn is_base60(text: &str) -> bool {
    let rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = rest.split(':');
    let first = parts.next().unwrap_or_default();
    let others: Vec<&str> = parts.collect();
    !others.is_empty()
        && !first.is_empty()
        && first.bytes().all(|b| b.is_ascii_digit())
        && !first.starts_with('0')
        && others.iter().all(|part| {
            let whole = part.split('.').next().unwrap_or_default();
            (1..=2).contains(&whole.len()) && part.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        })
}

/// A plain `YYYY-M-D...` date reads as a timestamp in yaml.v2.
fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 8 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-' && bytes[5].is_ascii_digit()
}

/// Whether libyaml's emitter allows `text` as a plain scalar in block context.
fn is_plain_allowed(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    if text.starts_with(' ') || text.ends_with(' ') || text.starts_with("---") || text.starts_with("...") {
        return false;
    }
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    let second = text.chars().nth(1);
    if matches!(first, '-' | '?' | ':') && second.is_none_or(|c| c == ' ') {
        return false;
    }
    if text.ends_with(':') || text.contains(": ") || text.contains(" #") || text.contains(":\t") {
        return false;
    }
    text.chars().all(|c| c == ' ' || !c.is_control())
}

/// yaml.v2's key order: letters by code point, digit runs by number, non-letters first.
pub(crate) fn yaml_key_order(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    for i in 0..a.len().min(b.len()) {
        if a[i] == b[i] {
            continue;
        }
        let (a_letter, b_letter) = (a[i].is_alphabetic(), b[i].is_alphabetic());
        if a_letter && b_letter {
            return a[i].cmp(&b[i]);
        }
        if a_letter || b_letter {
            return if b_letter { Ordering::Less } else { Ordering::Greater };
        }
        let (mut a_number, mut b_number) = (0i64, 0i64);
        if a[i] == '0' || b[i] == '0' {
            let mut j = i;
            while j > 0 && a[j - 1].is_ascii_digit() {
                j -= 1;
                if a[j] != '0' {
                    a_number = 1;
                    b_number = 1;
                    break;
                }
            }
        }
        let mut a_end = i;
        while a_end < a.len() && a[a_end].is_ascii_digit() {
            a_number = a_number.saturating_mul(10).saturating_add(i64::from(a[a_end] as u8 - b'0'));
            a_end += 1;
        }
        let mut b_end = i;
        while b_end < b.len() && b[b_end].is_ascii_digit() {
            b_number = b_number.saturating_mul(10).saturating_add(i64::from(b[b_end] as u8 - b'0'));
            b_end += 1;
        }
        if a_number != b_number {
            return a_number.cmp(&b_number);
        }
        if a_end != b_end {
            return a_end.cmp(&b_end);
        }
        return a[i].cmp(&b[i]);
    }
    a.len().cmp(&b.len())
}
