//! The parser of Prometheus' promqltest script format (`load`, `clear`, `eval ...` blocks).

use panoptes_model::{Labels, time::parse_duration};

/// One value of a `load` line or of an expected series, at a step index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Point {
    /// A float (which may be the staleness marker).
    Float(f64),
    /// A native histogram literal (not supported; only noted).
    Histogram,
    /// No sample at this step.
    Empty,
}

/// One series of a `load` block or an expectation.
#[derive(Debug, Clone)]
pub(crate) struct SeriesLine {
    pub(crate) labels: Labels,
    pub(crate) points: Vec<Point>,
}

/// How an `expect` line matches a message.
#[derive(Debug, Clone)]
pub(crate) enum MessageMatcher {
    Any,
    Exact(String),
    Regex(String),
}

/// What an eval expects as its result.
#[derive(Debug, Clone)]
pub(crate) enum Expected {
    Series(Vec<SeriesLine>),
    Scalar(f64),
    String(String),
    RangeVector { start: i64, step: i64, series: Vec<SeriesLine> },
}

/// One `eval` command.
#[derive(Debug, Clone)]
pub(crate) struct Eval {
    pub(crate) line: usize,
    pub(crate) query: String,
    /// `Some((start, end, step))` for range evals.
    pub(crate) range: Option<(i64, i64, i64)>,
    /// The evaluation time of instant evals.
    pub(crate) at: i64,
    pub(crate) fail: Option<MessageMatcher>,
    pub(crate) warn: Vec<MessageMatcher>,
    pub(crate) info: Vec<MessageMatcher>,
    pub(crate) no_warn: bool,
    pub(crate) no_info: bool,
    pub(crate) ordered: bool,
    pub(crate) expected: Expected,
}

/// One command of a script.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    Load { interval: i64, with_nhcb: bool, series: Vec<SeriesLine>, start_timestamp_names: Vec<String> },
    Clear,
    Eval(Box<Eval>),
}

/// Parses a whole script; errors name the line.
pub(crate) fn parse_script(text: &str) -> Result<Vec<Command>, String> {
    let lines: Vec<&str> = text.split('\n').map(|l| if l.trim().starts_with('#') { "" } else { l.trim() }).collect();
    let mut commands = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if line.is_empty() {
            index += 1;
            continue;
        }
        let start = index;
        index += 1;
        let mut block = Vec::new();
        let first_word = line.split_whitespace().next().unwrap_or("").to_lowercase();
        if first_word == "clear" {
            commands.push(Command::Clear);
            continue;
        }
        while index < lines.len() && !lines[index].is_empty() {
            block.push((index + 1, lines[index]));
            index += 1;
        }
        let command = if first_word.starts_with("load") {
            parse_load(line, &block).map_err(|e| format!("line {}: {e}", start + 1))?
        } else if first_word.starts_with("eval") {
            Command::Eval(Box::new(parse_eval(start + 1, line, &block)?))
        } else {
            return Err(format!("line {}: invalid command {line:?}", start + 1));
        };
        commands.push(command);
    }
    Ok(commands)
}

fn parse_load(line: &str, block: &[(usize, &str)]) -> Result<Command, String> {
    let mut words = line.split_whitespace();
    let keyword = words.next().unwrap_or("");
    let with_nhcb = keyword == "load_with_nhcb";
    let interval = parse_time(words.next().ok_or("missing load interval")?)?;
    let mut series: Vec<SeriesLine> = Vec::new();
    let mut start_timestamp_names = Vec::new();
    for (number, text) in block {
        let (labels, rest) = parse_series_head(text).map_err(|e| format!("line {number}: {e}"))?;
        if let Some(rest) = rest.strip_prefix("@st") {
            let _ = rest;
            if let Some(name) = labels.metric_name() {
                start_timestamp_names.push(name.to_owned());
            }
            continue;
        }
        let points = parse_points(rest, true).map_err(|e| format!("line {number}: {e}"))?;
        series.retain(|s| s.labels != labels);
        series.push(SeriesLine { labels, points });
    }
    Ok(Command::Load { interval, with_nhcb, series, start_timestamp_names })
}

/// Parses a series description (`up{job="x"}`) and its values in the `load` notation
/// (`1+1x10 _ stale`), as promtool's `input_series` give them.
pub(crate) fn parse_load_series(series: &str, values: &str) -> Result<(Labels, Vec<Point>), String> {
    let (labels, rest) = parse_series_head(series.trim())?;
    if !rest.is_empty() {
        return Err(format!("unexpected {rest:?} after the series {series:?}"));
    }
    Ok((labels, parse_points(values, true)?))
}

/// Parses a duration or a signed duration into milliseconds.
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let duration = parse_duration(body)?;
    let ms = i64::try_from(duration.as_millis()).map_err(|_| format!("duration too large: {text}"))?;
    Ok(if negative { -ms } else { ms })
}

fn parse_eval(line_number: usize, line: &str, block: &[(usize, &str)]) -> Result<Eval, String> {
    let error = |message: String| format!("line {line_number}: {message}");
    let (keyword, rest) = line.split_once(char::is_whitespace).ok_or_else(|| error("empty eval".into()))?;
    let rest = rest.trim();
    let mut eval = Eval {
        line: line_number,
        query: String::new(),
        range: None,
        at: 0,
        fail: None,
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        ordered: false,
        expected: Expected::Series(Vec::new()),
    };
    match keyword {
        "eval" => {}
        "eval_fail" => eval.fail = Some(MessageMatcher::Any),
        "eval_warn" => eval.warn.push(MessageMatcher::Any),
        "eval_info" => eval.info.push(MessageMatcher::Any),
        "eval_ordered" => eval.ordered = true,
        other => return Err(error(format!("unknown command {other}"))),
    }
    if let Some(rest) = rest.strip_prefix("instant") {
        let rest = rest.trim_start().strip_prefix("at").ok_or_else(|| error("expected 'at'".into()))?.trim_start();
        let (time, query) = rest.split_once(char::is_whitespace).ok_or_else(|| error("missing query".into()))?;
        eval.at = parse_time(time).map_err(&error)?;
        eval.query = query.trim().to_owned();
    } else if let Some(rest) = rest.strip_prefix("range") {
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() < 7 || words[0] != "from" || words[2] != "to" || words[4] != "step" {
            return Err(error(format!("malformed range eval {line:?}")));
        }
        let start = parse_time(words[1]).map_err(&error)?;
        let end = parse_time(words[3]).map_err(&error)?;
        let step = parse_time(words[5]).map_err(&error)?;
        if end < start {
            return Err(error("end before start".into()));
        }
        eval.range = Some((start, end, step));
        let mut remainder = rest.trim_start();
        for _ in 0..6 {
            let word_end = remainder.find(char::is_whitespace).unwrap_or(remainder.len());
            remainder = remainder[word_end..].trim_start();
        }
        eval.query = remainder.trim().to_owned();
    } else {
        return Err(error(format!("malformed eval {line:?}")));
    }
    let mut series = Vec::new();
    for (number, text) in block {
        let error = |message: String| format!("line {number}: {message}");
        if let Some(expect) = text.strip_prefix("expect ") {
            parse_expect(&mut eval, expect.trim()).map_err(&error)?;
            continue;
        }
        if let Some(message) = text.strip_prefix("expected_fail_message") {
            eval.fail = Some(MessageMatcher::Exact(message.trim().to_owned()));
            continue;
        }
        if let Some(pattern) = text.strip_prefix("expected_fail_regexp") {
            eval.fail = Some(MessageMatcher::Regex(pattern.trim().to_owned()));
            continue;
        }
        if let Ok(value) = parse_number(text) {
            eval.expected = Expected::Scalar(value);
            break;
        }
        let (labels, rest) = parse_series_head(text).map_err(&error)?;
        let points = parse_points(rest, false).map_err(&error)?;
        series.push(SeriesLine { labels, points });
    }
    match &mut eval.expected {
        Expected::Series(list) | Expected::RangeVector { series: list, .. } => *list = series,
        _ => {}
    }
    Ok(eval)
}

fn parse_expect(eval: &mut Eval, text: &str) -> Result<(), String> {
    if let Some(rest) = text.strip_prefix("range vector") {
        let words: Vec<&str> = rest.split_whitespace().collect();
        if words.len() != 6 || words[0] != "from" || words[2] != "to" || words[4] != "step" {
            return Err(format!("malformed expect range vector {text:?}"));
        }
        let (start, end, step) = (parse_time(words[1])?, parse_time(words[3])?, parse_time(words[5])?);
        eval.at = end;
        eval.expected = Expected::RangeVector { start, step, series: Vec::new() };
        return Ok(());
    }
    if let Some(rest) = text.strip_prefix("string") {
        eval.expected = Expected::String(unquote(rest.trim())?);
        return Ok(());
    }
    let (kind, rest) = match text.split_once(char::is_whitespace) {
        Some((kind, rest)) => (kind, rest.trim()),
        None => (text, ""),
    };
    let matcher = if let Some(message) = rest.strip_prefix("msg:") {
        MessageMatcher::Exact(message.trim().to_owned())
    } else if let Some(pattern) = rest.strip_prefix("regex:") {
        MessageMatcher::Regex(pattern.trim().to_owned())
    } else if rest.is_empty() {
        MessageMatcher::Any
    } else {
        return Err(format!("malformed expect line {text:?}"));
    };
    match kind {
        "fail" => eval.fail = Some(matcher),
        "warn" => eval.warn.push(matcher),
        "info" => eval.info.push(matcher),
        "no_warn" => eval.no_warn = true,
        "no_info" => eval.no_info = true,
        "ordered" => eval.ordered = true,
        other => return Err(format!("unknown expect kind {other:?}")),
    }
    Ok(())
}

/// Splits a series line into its label set and the text after it.
fn parse_series_head(text: &str) -> Result<(Labels, &str), String> {
    let name_end = text.find(|c: char| c == '{' || c.is_whitespace() || c == '@').unwrap_or(text.len());
    let name = &text[..name_end];
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".into(), name.into()));
    }
    let mut rest = &text[name_end..];
    if rest.starts_with('{') {
        let (inner, after) = split_braces(rest)?;
        rest = after;
        for item in split_items(inner) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            match split_assignment(item) {
                Some((label, value)) => pairs.push((unquote_name(label.trim())?, unquote(value.trim())?)),
                None => pairs.push(("__name__".into(), unquote(item)?)),
            }
        }
    }
    Ok((Labels::from_pairs(pairs), rest.trim()))
}

/// Yields the characters of `text` (with their byte positions) that are outside quoted strings:
/// `"…"` and `'…'` with backslash escapes, and raw `` `…` ``.
fn unquoted_chars(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    text.char_indices().filter(move |&(_, c)| {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            false
        } else if c == '"' || c == '\'' || c == '`' {
            quote = Some(c);
            false
        } else {
            true
        }
    })
}

fn split_braces(text: &str) -> Result<(&str, &str), String> {
    unquoted_chars(text)
        .find(|&(_, c)| c == '}')
        .map(|(index, _)| (&text[1..index], &text[index + 1..]))
        .ok_or_else(|| format!("unclosed braces in {text:?}"))
}

fn split_items(text: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut start = 0;
    for (index, _) in unquoted_chars(text).filter(|&(_, c)| c == ',') {
        items.push(&text[start..index]);
        start = index + 1;
    }
    items.push(&text[start..]);
    items
}

fn split_assignment(item: &str) -> Option<(&str, &str)> {
    unquoted_chars(item).find(|&(_, c)| c == '=').map(|(index, _)| (&item[..index], &item[index + 1..]))
}

fn unquote_name(text: &str) -> Result<String, String> {
    if text.starts_with(['"', '\'', '`']) { unquote(text) } else { Ok(text.to_owned()) }
}

/// Unquotes a Go string literal (double, single or back quotes).
pub(crate) fn unquote(text: &str) -> Result<String, String> {
    let mut chars = text.chars();
    let quote = chars.next().ok_or("empty string literal")?;
    if !matches!(quote, '"' | '\'' | '`') || text.len() < 2 || !text.ends_with(quote) {
        return Err(format!("invalid string literal {text:?}"));
    }
    let body = &text[1..text.len() - 1];
    if quote == '`' {
        return Ok(body.to_owned());
    }
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut iter = body.chars().peekable();
    while let Some(c) = iter.next() {
        if c != '\\' {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            continue;
        }
        let escape = iter.next().ok_or("dangling escape")?;
        let simple = match escape {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'v' => Some('\x0b'),
            '\\' => Some('\\'),
            '"' => Some('"'),
            '\'' => Some('\''),
            _ => None,
        };
        if let Some(c) = simple {
            bytes.push(c as u8);
            continue;
        }
        let digits = match escape {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            '0'..='7' => {
                let mut value = escape.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    value = value * 8 + iter.next().and_then(|d| d.to_digit(8)).ok_or("bad octal escape")?;
                }
                bytes.push(value as u8);
                continue;
            }
            other => return Err(format!("unknown escape \\{other}")),
        };
        let hex: String = (0..digits).filter_map(|_| iter.next()).collect();
        let value = u32::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\{escape}{hex}"))?;
        if escape == 'x' {
            bytes.push(value as u8);
        } else {
            let c = char::from_u32(value).ok_or("bad unicode escape")?;
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
        }
    }
    out.push_str(&String::from_utf8_lossy(&bytes));
    Ok(out)
}

/// Parses a number of the series notation (decimal, `Inf`, `NaN`); `0x5` is a repetition there,
/// not hex.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Ok(sign * f64::INFINITY);
    }
    if lower == "nan" {
        return Ok(f64::NAN);
    }
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return Err(format!("bad number {text:?}"));
    }
    body.parse::<f64>().map(|v| sign * v).map_err(|_| format!("bad number {text:?}"))
}

/// Expands a value sequence (`1 2 _ stale 0+10x5 _x3 {{...}}`).
fn parse_points(text: &str, is_load: bool) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    let mut tokens = text.split_whitespace().peekable();
    while let Some(token) = tokens.next() {
        if token.starts_with("{{") {
            let mut whole = token.to_owned();
            while whole.matches("{{").count() > whole.matches("}}").count() {
                let next = tokens.next().ok_or("unclosed histogram literal")?;
                whole.push(' ');
                whole.push_str(next);
            }
            let after = whole.rsplit_once("}}").map(|(_, a)| a).unwrap_or("");
            let copies = match after.rsplit_once('x') {
                Some((_, k)) if !k.is_empty() => k.parse::<usize>().map_err(|_| format!("bad repeat {whole:?}"))? + 1,
                _ => 1,
            };
            points.extend(std::iter::repeat_n(Point::Histogram, copies));
            continue;
        }
        points.extend(expand_token(token, is_load)?);
    }
    Ok(points)
}

fn expand_token(token: &str, is_load: bool) -> Result<Vec<Point>, String> {
    if token == "_" {
        return Ok(vec![Point::Empty]);
    }
    if token == "stale" {
        return Ok(vec![Point::Float(panoptes_model::stale_nan())]);
    }
    if let Ok(value) = parse_number(token) {
        return Ok(vec![Point::Float(value)]);
    }
    let (base, times) = token.rsplit_once('x').ok_or_else(|| format!("bad value {token:?}"))?;
    let times: usize = times.parse().map_err(|_| format!("bad repeat count in {token:?}"))?;
    if base == "_" {
        return Ok(vec![Point::Empty; times]);
    }
    if let Ok(value) = parse_number(base) {
        let _ = is_load;
        return Ok(vec![Point::Float(value); times + 1]);
    }
    let bytes = base.as_bytes();
    let split = (1..bytes.len())
        .find(|&i| (bytes[i] == b'+' || bytes[i] == b'-') && !matches!(bytes[i - 1], b'e' | b'E'))
        .ok_or_else(|| format!("bad value {token:?}"))?;
    let start = parse_number(&base[..split])?;
    let step = parse_number(&base[split + 1..])?;
    let step = if bytes[split] == b'-' { -step } else { step };
    Ok((0..=times).map(|i| Point::Float(start + step * i as f64)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_series_notation() {
        let points = parse_points("0+10x2 _ stale -1-1x1 _x2 3x1", true).expect("parse");
        assert_eq!(points.len(), 3 + 1 + 1 + 2 + 2 + 2);
        assert_eq!(points[2], Point::Float(20.0));
        assert_eq!(points[3], Point::Empty);
        assert!(matches!(points[4], Point::Float(v) if panoptes_model::is_stale_nan(v)));
        assert_eq!(points[6], Point::Float(-2.0));
    }

    #[test]
    fn parses_series_heads_with_quoted_values() {
        let (labels, rest) = parse_series_head(r#"foo{a="x,}y", "b"='z'} 1 2"#).expect("parse");
        assert_eq!(labels.get("a"), Some("x,}y"));
        assert_eq!(labels.get("b"), Some("z"));
        assert_eq!(labels.metric_name(), Some("foo"));
        assert_eq!(rest, "1 2");
    }

    #[test]
    fn parses_eval_blocks() {
        let script = "load 1m\n  a 1 2\n\neval instant at 1m a\n  expect warn msg: x\n  a 2\n\nclear\n";
        let commands = parse_script(script).expect("parse");
        assert_eq!(commands.len(), 3);
        let Command::Eval(eval) = &commands[1] else { panic!("expected eval") };
        assert_eq!(eval.at, 60_000);
        assert_eq!(eval.warn.len(), 1);
    }
}
