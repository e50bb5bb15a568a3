//! The InfluxDB line protocol parser: points out of a request body held in memory.
//!
//! Grammar and escaping follow InfluxDB's line protocol reference:
//!
//! ```text
//! <measurement>[,<tag_key>=<tag_value>...] <field_key>=<field_value>[,<field_key>=<field_value>...] [<timestamp>]
//! ```
//!
//! - the measurement escapes commas and spaces (`\,` `\ `); tag keys, tag values and field keys
//!   escape commas, equals signs and spaces (`\,` `\=` `\ `); string field values escape double
//!   quotes and backslashes (`\"` `\\`);
//! - two contiguous backslashes are one escaped backslash everywhere; a backslash before any
//!   other character is a literal backslash;
//! - field values are floats (`1`, `-1.5e3`, `.5`), integers (`1i`), unsigned integers (`1u`),
//!   booleans (`t`, `T`, `true`, `True`, `TRUE`, `f`, `F`, `false`, `False`, `FALSE`) or double
//!   quoted strings; `NaN` and infinities are not line protocol;
//! - the timestamp is an optional signed integer in the request's precision;
//! - blank lines and lines starting with `#` (after optional spaces) are skipped; `\r\n` line
//!   endings are accepted; a newline always ends a line, also inside a quoted string (the
//!   reference says newlines are not supported in values).
//!
//! Lines are independent: the parser reports a malformed line and goes on with the next one, so
//! the caller decides what happens to the valid lines of a batch. Errors name the 1-based line
//! and column (in characters) and what was expected. The parser never panics.

use std::borrow::Cow;
use std::fmt;

/// One parsed line: a measurement, its tags, its fields and an optional timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Point<'a> {
    /// The measurement name, unescaped.
    pub measurement: Cow<'a, str>,
    /// The tags in line order, unescaped; keys and values are never empty.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The fields in line order (at least one), keys unescaped.
    pub fields: Vec<(Cow<'a, str>, FieldValue<'a>)>,
    /// The timestamp as written, in the request's precision.
    pub timestamp: Option<i64>,
}

/// A field value with its line protocol type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// A float (`1.5`, `1`, `-2e3`).
    Float(f64),
    /// A signed 64-bit integer (`1i`).
    Integer(i64),
    /// An unsigned 64-bit integer (`1u`).
    Unsigned(u64),
    /// A boolean (`t`, `false`, ...).
    Boolean(bool),
    /// A string, unescaped.
    String(Cow<'a, str>),
}

/// Why a line could not be parsed, with its 1-based line and column (in characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// The 1-based line number in the body.
    pub line: usize,
    /// The 1-based column, counted in characters.
    pub column: usize,
    /// What was expected or wrong.
    pub message: String,
}

/// A line of the body as the parser saw it, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The 1-based line number.
    pub number: usize,
    /// The line's bytes without its line ending.
    pub bytes: &'a [u8],
}

impl fmt::Display for RawLine<'_> {
    /// Prints the line lossily, cut to 256 bytes so that error messages stay readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_SHOWN_BYTES: usize = 256;
        let shown = &self.bytes[..self.bytes.len().min(MAX_SHOWN_BYTES)];
        f.write_str(&String::from_utf8_lossy(shown))?;
        if shown.len() < self.bytes.len() {
            f.write_str("...")?;
        }
        Ok(())
    }
}

/// Streams the points of a body, one item per non-blank, non-comment line.
#[derive(Debug)]
pub struct LineParser<'a> {
    input: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineParser<'a> {
    /// Returns a parser over a whole body.
    pub fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0, line: 0 }
    }
}

impl<'a> Iterator for LineParser<'a> {
    type Item = (RawLine<'a>, Result<Point<'a>, ParseError>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.input.len() {
            let rest = &self.input[self.pos..];
            let (mut line, advance) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => (&rest[..end], end + 1),
                None => (rest, rest.len()),
            };
            self.pos += advance;
            self.line += 1;
            if let [head @ .., b'\r'] = line {
                line = head;
            }
            let raw = RawLine { number: self.line, bytes: line };
            let start = line.iter().position(|&b| b != b' ').unwrap_or(line.len());
            if start == line.len() || line[start] == b'#' {
                continue;
            }
            let result = match std::str::from_utf8(line) {
                Ok(text) => LineCursor { text, bytes: line, pos: start, line: self.line }.parse_point(),
                Err(error) => {
                    let valid = &line[..error.valid_up_to()];
                    let column = String::from_utf8_lossy(valid).chars().count() + 1;
                    Err(ParseError { line: self.line, column, message: "invalid UTF-8".to_owned() })
                }
            };
            return Some((raw, result));
        }
        None
    }
}

/// Which element is being read, deciding which characters end it and which escapes apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Element {
    Measurement,
    TagKey,
    TagValue,
    FieldKey,
}

impl Element {
    fn name(self) -> &'static str {
        match self {
            Element::Measurement => "measurement",
            Element::TagKey => "tag key",
            Element::TagValue => "tag value",
            Element::FieldKey => "field key",
        }
    }

    /// Returns whether `b` may follow a backslash as an escaped character.
    fn is_escapable(self, b: u8) -> bool {
        match self {
            Element::Measurement => matches!(b, b',' | b' ' | b'\\'),
            _ => matches!(b, b',' | b' ' | b'=' | b'\\'),
        }
    }

    /// Returns whether an unescaped `b` ends the element.
    fn is_delimiter(self, b: u8) -> bool {
        match self {
            Element::Measurement => matches!(b, b',' | b' '),
            _ => matches!(b, b',' | b' ' | b'='),
        }
    }
}

struct LineCursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineCursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let pos = pos.min(self.bytes.len());
        // Positions are always on character boundaries: the cursor only stops on ASCII bytes.
        let column = self.text.get(..pos).map_or(pos, |prefix| prefix.chars().count()) + 1;
        ParseError { line: self.line, column, message: message.into() }
    }

    /// Describes the character at `pos` for error messages.
    fn found_at(&self, pos: usize) -> String {
        match self.text.get(pos..).and_then(|rest| rest.chars().next()) {
            None => "end of line".to_owned(),
            Some(c) => format!("{c:?}"),
        }
    }

    fn parse_point(mut self) -> Result<Point<'a>, ParseError> {
        let measurement = self.parse_name(Element::Measurement)?;
        let mut tags = Vec::new();
        while self.peek() == Some(b',') {
            self.pos += 1;
            let key_start = self.pos;
            let key = self.parse_name(Element::TagKey)?;
            if self.peek() != Some(b'=') {
                return Err(
                    self.error_at(self.pos, format!("expected '=' after tag key, found {}", self.found_at(self.pos)))
                );
            }
            self.pos += 1;
            let value = self.parse_name(Element::TagValue)?;
            if self.peek() == Some(b'=') {
                return Err(self.error_at(self.pos, "unescaped '=' in tag value (escape it as \\=)"));
            }
            if tags.iter().any(|(existing, _): &(Cow<'_, str>, Cow<'_, str>)| *existing == key) {
                return Err(self.error_at(key_start, format!("duplicate tag key {key:?}")));
            }
            tags.push((key, value));
        }
        if self.peek() != Some(b' ') {
            let what = if tags.is_empty() { "measurement" } else { "tag set" };
            return Err(self.error_at(
                self.pos,
                format!("expected a space and a field set after the {what}, found {}", self.found_at(self.pos)),
            ));
        }
        self.skip_spaces();
        let mut fields = Vec::new();
        loop {
            let key = self.parse_name(Element::FieldKey)?;
            if self.peek() != Some(b'=') {
                return Err(
                    self.error_at(self.pos, format!("expected '=' after field key, found {}", self.found_at(self.pos)))
                );
            }
            self.pos += 1;
            let value = self.parse_field_value()?;
            fields.push((key, value));
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b' ') | None => break,
                Some(_) => {
                    return Err(self.error_at(
                        self.pos,
                        format!(
                            "expected ',', a space or the end of the line after a field, found {}",
                            self.found_at(self.pos)
                        ),
                    ));
                }
            }
        }
        self.skip_spaces();
        let timestamp = if self.pos < self.bytes.len() { Some(self.parse_timestamp()?) } else { None };
        Ok(Point { measurement, tags, fields, timestamp })
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    /// Reads a measurement, key or tag value up to its first unescaped delimiter, unescaping it.
    fn parse_name(&mut self, element: Element) -> Result<Cow<'a, str>, ParseError> {
        let start = self.pos;
        let mut has_escapes = false;
        while let Some(b) = self.peek() {
            if element.is_delimiter(b) {
                break;
            }
            if b == b'\\' {
                if self.bytes.get(self.pos + 1).is_some_and(|&next| element.is_escapable(next)) {
                    has_escapes = true;
                    self.pos += 2;
                } else {
                    self.pos += 1;
                }
                continue;
            }
            if b < 0x20 || b == 0x7f {
                return Err(self.error_at(self.pos, format!("control character {:?} in {}", b as char, element.name())));
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error_at(start, format!("expected {}, found {}", element.name(), self.found_at(start))));
        }
        let raw = &self.text[start..self.pos];
        if !has_escapes {
            return Ok(Cow::Borrowed(raw));
        }
        let mut unescaped = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(&next) = chars.peek()
                && next.is_ascii()
                && element.is_escapable(next as u8)
            {
                unescaped.push(next);
                chars.next();
            } else {
                unescaped.push(c);
            }
        }
        Ok(Cow::Owned(unescaped))
    }

    fn parse_field_value(&mut self) -> Result<FieldValue<'a>, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            return self.parse_string_value();
        }
        while let Some(b) = self.peek() {
            if matches!(b, b',' | b' ') {
                break;
            }
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        if token.is_empty() {
            return Err(self.error_at(start, format!("expected field value, found {}", self.found_at(start))));
        }
        match token {
            "t" | "T" | "true" | "True" | "TRUE" => return Ok(FieldValue::Boolean(true)),
            "f" | "F" | "false" | "False" | "FALSE" => return Ok(FieldValue::Boolean(false)),
            _ => {}
        }
        if let Some(digits) = token.strip_suffix('i') {
            let unsigned = digits.strip_prefix('-').unwrap_or(digits);
            if is_decimal_digits(unsigned) {
                return digits
                    .parse::<i64>()
                    .map(FieldValue::Integer)
                    .map_err(|_| self.error_at(start, format!("integer field value {token} out of range")));
            }
        } else if let Some(digits) = token.strip_suffix('u') {
            if is_decimal_digits(digits) {
                return digits
                    .parse::<u64>()
                    .map(FieldValue::Unsigned)
                    .map_err(|_| self.error_at(start, format!("unsigned field value {token} out of range")));
            }
        } else if is_float_literal(token)
            && let Ok(value) = token.parse::<f64>()
            && value.is_finite()
        {
            return Ok(FieldValue::Float(value));
        }
        Err(self.error_at(
            start,
            format!(
                "invalid field value {token:?}: expected a float (1.5), an integer (1i), an unsigned integer (1u), \
                 a boolean (true) or a double-quoted string"
            ),
        ))
    }

    fn parse_string_value(&mut self) -> Result<FieldValue<'a>, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let content_start = self.pos;
        let mut has_escapes = false;
        loop {
            match self.peek() {
                None => {
                    return Err(self.error_at(
                        open,
                        "unterminated string field value: expected a closing '\"' before the end of the line",
                    ));
                }
                Some(b'"') => break,
                Some(b'\\') if matches!(self.bytes.get(self.pos + 1), Some(b'"' | b'\\')) => {
                    has_escapes = true;
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = &self.text[content_start..self.pos];
        self.pos += 1;
        if !has_escapes {
            return Ok(FieldValue::String(Cow::Borrowed(raw)));
        }
        let mut unescaped = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\'
                && let Some(&next) = chars.peek()
                && matches!(next, '"' | '\\')
            {
                unescaped.push(next);
                chars.next();
            } else {
                unescaped.push(c);
            }
        }
        Ok(FieldValue::String(Cow::Owned(unescaped)))
    }

    fn parse_timestamp(&mut self) -> Result<i64, ParseError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b' ' {
                break;
            }
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        let digits = token.strip_prefix('-').unwrap_or(token);
        if !is_decimal_digits(digits) {
            return Err(self.error_at(start, format!("invalid timestamp {token:?}: expected an integer")));
        }
        let timestamp =
            token.parse::<i64>().map_err(|_| self.error_at(start, format!("timestamp {token} out of range")))?;
        self.skip_spaces();
        if self.pos < self.bytes.len() {
            return Err(self.error_at(
                self.pos,
                format!("expected the end of the line after the timestamp, found {}", self.found_at(self.pos)),
            ));
        }
        Ok(timestamp)
    }
}

fn is_decimal_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Returns whether `text` is a float as the line protocol writes them:
/// `-?(digits(.digits?)?|.digits)([eE][+-]?digits)?`.
fn is_float_literal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let integer_start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    let mut has_digits = i > integer_start;
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        let fraction_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        has_digits |= i > fraction_start;
    }
    if !has_digits {
        return false;
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        i += 1;
        if i < bytes.len() && matches!(bytes[i], b'+' | b'-') {
            i += 1;
        }
        let exponent_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == exponent_start {
            return false;
        }
    }
    i == bytes.len()
}
