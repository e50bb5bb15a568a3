//! The byte-level parser shared by both text formats; see the module docs of `exposition` for the
//! escaping rules.

use std::sync::Arc;

use panoptes_model::{Label, Labels, METRIC_NAME};

use super::{Entry, Exemplar, Format, MetricType, ParseError, RawSeriesEntry, SeriesEntry};

/// Streams the entries of one page; yields at most one error and then ends.
#[derive(Debug)]
pub struct Parser<'a> {
    input: &'a [u8],
    format: Format,
    pos: usize,
    line: usize,
    line_start: usize,
    is_done: bool,
    has_seen_eof: bool,
    /// The family named by the last OpenMetrics metadata line, to recognise `_created` series.
    family: Option<(String, MetricType)>,
    /// Yield [`Entry::Raw`] for series written `name{...}` instead of building their labels.
    is_lazy: bool,
    /// Whether the end of `input` is the end of the document (false for all but the last piece
    /// of a document read in pieces).
    is_last_piece: bool,
    /// The line on which the entry last returned started.
    entry_line: usize,
}

/// Where a parser stopped at the end of one piece of a document, to go on with the next piece:
/// see [`Parser::piece`].
#[derive(Debug, Clone)]
pub struct PieceState {
    line: usize,
    has_seen_eof: bool,
    family: Option<(String, MetricType)>,
}

impl PieceState {
    /// Returns the 1-based line the next piece starts on.
    pub fn line(&self) -> usize {
        self.line
    }
}

impl Default for PieceState {
    fn default() -> Self {
        Self { line: 1, has_seen_eof: false, family: None }
    }
}

impl<'a> Parser<'a> {
    /// Returns a parser over a whole page in the given format.
    pub fn new(input: &'a [u8], format: Format) -> Self {
        Self {
            input,
            format,
            pos: 0,
            line: 1,
            line_start: 0,
            is_done: false,
            has_seen_eof: false,
            family: None,
            is_lazy: false,
            is_last_piece: true,
            entry_line: 1,
        }
    }

    /// Returns a lazy parser (see [`Parser::lazy`]) over one piece of a document too large to
    /// hold at once. Every piece but the last must end with a newline and must not split a
    /// line; `state` is [`PieceState::default`] for the first piece and
    /// [`Parser::piece_state`] of the previous piece's parser after it for the others, so
    /// that line numbers, the current family and `# EOF` carry over. Only the last piece
    /// (`is_last`) may end the document, so only it reports a missing `# EOF`.
    pub fn piece(input: &'a [u8], format: Format, state: PieceState, is_last: bool) -> Self {
        Self {
            line: state.line,
            entry_line: state.line,
            has_seen_eof: state.has_seen_eof,
            family: state.family,
            is_last_piece: is_last,
            ..Self::lazy(input, format)
        }
    }

    /// Returns what the next piece's parser needs to go on where this one stopped; meaningful
    /// once this parser has returned `None`.
    pub fn piece_state(&self) -> PieceState {
        PieceState { line: self.line, has_seen_eof: self.has_seen_eof, family: self.family.clone() }
    }

    /// Returns the 1-based line on which the entry last returned started.
    pub fn entry_line(&self) -> usize {
        self.entry_line
    }

    /// Returns a parser that yields series written `name` or `name{...}` as [`Entry::Raw`]: the
    /// byte range of the series text, without building labels, for callers that cache series by
    /// their text (the scrape loop). Their labels come from [`parse_series_text`] when needed.
    /// Series in the `{"name", ...}` form are yielded as [`Entry::Series`] as usual.
    pub fn lazy(input: &'a [u8], format: Format) -> Self {
        Self { is_lazy: true, ..Self::new(input, format) }
    }

    /// Skips `name{...}` and returns the name's byte range, or `None` (position unchanged) when
    /// the text is not in that simple form; label syntax inside the braces is checked later,
    /// when the labels are built from the text. This runs for every series of every scrape, so
    /// it walks the bytes directly: past the name, then from quote to quote.
    fn skip_simple_series(&mut self) -> Option<std::ops::Range<usize>> {
        let input = self.input;
        let start = self.pos;
        let mut i = start;
        while input.get(i).is_some_and(|&byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b':') {
            i += 1;
        }
        let name = start..i;
        let after_name = i;
        if !self.is_openmetrics() {
            while matches!(input.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        }
        if input.get(i) != Some(&b'{') {
            self.pos = after_name;
            return Some(name);
        }
        i += 1;
        // Usually the first '}' closes the label set: when no backslash or newline comes before
        // it, it does exactly if an even number of quotes comes before it.
        if let Some(close) = memchr::memchr(b'}', &input[i..]) {
            let labels = &input[i..i + close];
            if memchr::memchr2(b'\\', b'\n', labels).is_none()
                && labels.iter().filter(|&&byte| byte == b'"').count() % 2 == 0
            {
                self.pos = i + close + 1;
                return Some(name);
            }
        }
        loop {
            // Outside quotes: up to a quote or the closing brace.
            loop {
                match *input.get(i)? {
                    b'}' => {
                        self.pos = i + 1;
                        return Some(name);
                    }
                    b'"' => break,
                    b'\n' => return None,
                    _ => i += 1,
                }
            }
            i += 1;
            // Inside quotes: up to the closing quote, stepping over escapes.
            loop {
                match *input.get(i)? {
                    b'"' => break,
                    b'\\' if !matches!(input.get(i + 1), None | Some(b'\n')) => i += 2,
                    b'\n' | b'\\' => return None,
                    _ => i += 1,
                }
            }
            i += 1;
        }
    }

    fn is_openmetrics(&self) -> bool {
        self.format == Format::OpenMetrics
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn error_at(&self, pos: usize, message: impl Into<String>) -> ParseError {
        self.error_on_line(self.line, self.line_start, pos, message)
    }

    /// Returns an error at `pos` on an earlier line that started at `line_start`.
    fn error_on_line(&self, line: usize, line_start: usize, pos: usize, message: impl Into<String>) -> ParseError {
        let pos = pos.min(self.input.len());
        let start = line_start.min(pos);
        let column = String::from_utf8_lossy(&self.input[start..pos]).chars().count() + 1;
        ParseError { line, column, message: message.into() }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        self.error_at(self.pos, message)
    }

    /// Describes the byte at the cursor for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "end of input".to_owned(),
            Some(b'\n') => "end of line".to_owned(),
            Some(_) => {
                let rest = &self.input[self.pos..];
                let len = rest.len().min(4);
                let text = String::from_utf8_lossy(&rest[..len]);
                let c = text.chars().next().unwrap_or('\u{fffd}');
                format!("{c:?}")
            }
        }
    }

    fn skip_blanks(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips blanks where the text format allows them; OpenMetrics allows none.
    fn skip_optional_blanks(&mut self) {
        if !self.is_openmetrics() {
            self.skip_blanks();
        }
    }

    /// Consumes the separator between tokens: one space in OpenMetrics, blanks in text.
    fn expect_separator(&mut self, what: &str) -> Result<(), ParseError> {
        if self.is_openmetrics() {
            if self.peek() == Some(b' ') {
                self.pos += 1;
                Ok(())
            } else {
                Err(self.error(format!("expected a single space {what}, found {}", self.found())))
            }
        } else if self.skip_blanks() > 0 {
            Ok(())
        } else {
            Err(self.error(format!("expected whitespace {what}, found {}", self.found())))
        }
    }

    /// Consumes the end of a line (a newline, or the end of input in the text format).
    fn expect_line_end(&mut self, after: &str) -> Result<(), ParseError> {
        match self.peek() {
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                self.line_start = self.pos;
                Ok(())
            }
            None if !self.is_openmetrics() => Ok(()),
            None => Err(self.error(format!("expected end of line {after}, found end of input"))),
            Some(_) => Err(self.error(format!("expected end of line {after}, found {}", self.found()))),
        }
    }

    fn skip_to_line_end(&mut self) {
        while let Some(byte) = self.peek() {
            if byte == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Returns the next entry like [`Iterator::next`], given the series text the caller expects
    /// next: the text of a span that a lazy parser yielded before, as a caller that remembers
    /// the previous page's order knows it. When the line starts with exactly that text, written
    /// `name{...}`, the parser steps over it without scanning it and yields an [`Entry::Raw`]
    /// with `is_expected` set.
    ///
    /// This is sound because where a series text written `name{...}` ends depends only on its
    /// own bytes: text that ended a series once ends it the same way again.
    pub fn next_expecting(&mut self, expected: Option<&[u8]>) -> Option<Result<Entry, ParseError>> {
        if self.is_done {
            return None;
        }
        match self.next_entry(expected) {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.is_done = true;
                None
            }
            Err(error) => {
                self.is_done = true;
                Some(Err(error))
            }
        }
    }

    fn next_entry(&mut self, expected: Option<&[u8]>) -> Result<Option<Entry>, ParseError> {
        loop {
            self.entry_line = self.line;
            if self.has_seen_eof {
                return match self.peek() {
                    None => Ok(None),
                    Some(_) => Err(self.error("unexpected content after \"# EOF\"")),
                };
            }
            if self.is_openmetrics() {
                match self.peek() {
                    None if !self.is_last_piece => return Ok(None),
                    None => return Err(self.error("expected \"# EOF\" at end of input")),
                    Some(b'\n') => return Err(self.error("unexpected empty line")),
                    Some(b'#') => {
                        if let Some(entry) = self.openmetrics_comment()? {
                            return Ok(Some(entry));
                        }
                    }
                    Some(_) => return self.series(expected).map(Some),
                }
            } else {
                self.skip_blanks();
                match self.peek() {
                    None => return Ok(None),
                    Some(b'\n') => self.expect_line_end("")?,
                    Some(b'#') => {
                        if let Some(entry) = self.text_comment()? {
                            return Ok(Some(entry));
                        }
                    }
                    Some(_) => return self.series(expected).map(Some),
                }
            }
        }
    }

    /// Parses a text-format comment line; returns `None` for a plain comment.
    fn text_comment(&mut self) -> Result<Option<Entry>, ParseError> {
        self.pos += 1; // '#'
        if self.skip_blanks() == 0 {
            self.skip_to_line_end();
            self.expect_line_end("")?;
            return Ok(None);
        }
        let keyword = self.keyword();
        let is_meta = matches!(keyword, Some("HELP" | "TYPE")) && matches!(self.peek(), Some(b' ' | b'\t'));
        if !is_meta {
            self.skip_to_line_end();
            self.expect_line_end("")?;
            return Ok(None);
        }
        let keyword = keyword.unwrap_or_default();
        self.skip_blanks();
        let family = self.family_name(keyword)?;
        let entry = if keyword == "HELP" {
            let help = if self.skip_blanks() > 0 || self.peek().is_none() || self.peek() == Some(b'\n') {
                self.help_text()?
            } else {
                return Err(self.error(format!("expected whitespace after metric name, found {}", self.found())));
            };
            Entry::Help { family, help }
        } else {
            self.expect_separator("after metric name")?;
            let metric_type = self.type_word()?;
            self.skip_blanks();
            Entry::Type { family, metric_type }
        };
        self.expect_line_end("")?;
        Ok(Some(entry))
    }

    /// Parses an OpenMetrics `#` line; returns `None` only after `# EOF`.
    fn openmetrics_comment(&mut self) -> Result<Option<Entry>, ParseError> {
        self.pos += 1; // '#'
        if self.peek() != Some(b' ') {
            return Err(self.error(format!("expected a single space after '#', found {}", self.found())));
        }
        self.pos += 1;
        let keyword_pos = self.pos;
        let keyword = self.keyword();
        if keyword == Some("EOF") {
            match self.peek() {
                None => {}
                Some(b'\n') => self.expect_line_end("")?,
                Some(_) => return Err(self.error(format!("expected end of line after EOF, found {}", self.found()))),
            }
            self.has_seen_eof = true;
            return Ok(None);
        }
        let Some(keyword @ ("HELP" | "TYPE" | "UNIT")) = keyword else {
            return Err(self.error_at(keyword_pos, "expected HELP, TYPE, UNIT or EOF after '# '"));
        };
        self.expect_separator(&format!("after {keyword}"))?;
        let family = self.family_name(keyword)?;
        let entry = match keyword {
            "HELP" => {
                let help = match self.peek() {
                    None | Some(b'\n') => String::new(),
                    _ => {
                        self.expect_separator("after metric name")?;
                        self.help_text()?
                    }
                };
                Entry::Help { family, help }
            }
            "TYPE" => {
                self.expect_separator("after metric name")?;
                let metric_type = self.type_word()?;
                self.family = Some((family.clone(), metric_type));
                Entry::Type { family, metric_type }
            }
            _ => {
                let mut unit_pos = self.pos;
                let unit = match self.peek() {
                    None | Some(b'\n') => String::new(),
                    _ => {
                        self.expect_separator("after metric name")?;
                        let start = self.pos;
                        unit_pos = start;
                        self.skip_to_line_end();
                        self.utf8(start, self.pos, "unit")?
                    }
                };
                if !unit.is_empty() && !family.ends_with(&format!("_{unit}")) {
                    return Err(
                        self.error_at(unit_pos, format!("unit {unit:?} is not a suffix of metric family {family:?}"))
                    );
                }
                Entry::Unit { family, unit }
            }
        };
        if let Entry::Help { family, .. } | Entry::Unit { family, .. } = &entry
            && self.family.as_ref().is_none_or(|(name, _)| name != family)
        {
            self.family = Some((family.clone(), MetricType::Unknown));
        }
        self.expect_line_end("")?;
        Ok(Some(entry))
    }

    /// Reads an upper-case word (HELP, TYPE, UNIT, EOF) without consuming anything else.
    fn keyword(&mut self) -> Option<&'static str> {
        let rest = &self.input[self.pos..];
        for word in ["HELP", "TYPE", "UNIT", "EOF"] {
            if rest.starts_with(word.as_bytes()) {
                let after = rest.get(word.len()).copied();
                if matches!(after, None | Some(b' ' | b'\t' | b'\n')) {
                    self.pos += word.len();
                    return Some(word);
                }
            }
        }
        None
    }

    /// Reads a metric family name in a metadata line: a legacy name or a quoted one.
    fn family_name(&mut self, keyword: &str) -> Result<String, ParseError> {
        match self.peek() {
            Some(b'"') => self.quoted_string("metric name"),
            Some(byte) if is_metric_name_start(byte) => Ok(self.metric_name_token()),
            _ => Err(self.error(format!("expected metric name after {keyword}, found {}", self.found()))),
        }
    }

    fn type_word(&mut self) -> Result<MetricType, ParseError> {
        let start = self.pos;
        while matches!(self.peek(), Some(byte) if !matches!(byte, b' ' | b'\t' | b'\n')) {
            self.pos += 1;
        }
        let word = String::from_utf8_lossy(&self.input[start..self.pos]).into_owned();
        MetricType::parse(&word, self.format)
            .ok_or_else(|| self.error_at(start, format!("unknown metric type {word:?}")))
    }

    /// Reads HELP text to the end of the line, resolving the format's escapes.
    fn help_text(&mut self) -> Result<String, ParseError> {
        let mut out = Vec::new();
        while let Some(byte) = self.peek() {
            match byte {
                b'\n' => break,
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'n') => out.push(b'\n'),
                        Some(b'"') if self.is_openmetrics() => out.push(b'"'),
                        None | Some(b'\n') => {
                            out.push(b'\\');
                            continue;
                        }
                        Some(other) => out.extend_from_slice(&[b'\\', other]),
                    }
                    self.pos += 1;
                }
                _ => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in help text"))
    }

    fn utf8(&self, start: usize, end: usize, what: &str) -> Result<String, ParseError> {
        std::str::from_utf8(&self.input[start..end])
            .map(str::to_owned)
            .map_err(|error| self.error_at(start + error.valid_up_to(), format!("invalid UTF-8 in {what}")))
    }

    /// Reads `[a-zA-Z_:][a-zA-Z0-9_:]*`; the caller checked the first byte.
    fn metric_name_token(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(byte) if byte.is_ascii_alphanumeric() || byte == b'_' || byte == b':') {
            self.pos += 1;
        }
        // Only ASCII was consumed.
        String::from_utf8_lossy(&self.input[start..self.pos]).into_owned()
    }

    /// Reads `[a-zA-Z_][a-zA-Z0-9_]*`; the caller checked the first byte.
    fn label_name_token(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(byte) if byte.is_ascii_alphanumeric() || byte == b'_') {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.input[start..self.pos]).into_owned()
    }

    /// Reads a double-quoted string at the cursor, resolving escapes as label values do.
    ///
    /// The text format, like Prometheus' lexer, lets a raw newline stand inside the quotes;
    /// OpenMetrics does not.
    fn quoted_string(&mut self, what: &str) -> Result<String, ParseError> {
        let open = self.pos;
        let (open_line, open_line_start) = (self.line, self.line_start);
        let unterminated = |parser: &Self| {
            parser.error_on_line(open_line, open_line_start, open, format!("unterminated quoted {what}"))
        };
        self.pos += 1; // '"'
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'\n') if !self.is_openmetrics() => {
                    out.push(b'\n');
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                None | Some(b'\n') => return Err(unterminated(self)),
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'\\') => out.push(b'\\'),
                        Some(b'"') => out.push(b'"'),
                        Some(b'n') => out.push(b'\n'),
                        None | Some(b'\n') => return Err(unterminated(self)),
                        Some(other) => out.extend_from_slice(&[b'\\', other]),
                    }
                    self.pos += 1;
                }
                Some(byte) => {
                    out.push(byte);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out)
            .map_err(|_| self.error_on_line(open_line, open_line_start, open, format!("invalid UTF-8 in {what}")))
    }

    /// Parses `{name="value", ...}` at the cursor. `name` receives a quoted metric name given
    /// inside the braces; `None` means no metric name is allowed (exemplars).
    fn label_set(&mut self, mut name: Option<&mut Option<String>>) -> Result<Vec<Label>, ParseError> {
        self.pos += 1; // '{'
        let mut labels: Vec<Label> = Vec::new();
        loop {
            self.skip_optional_blanks();
            let token_pos = self.pos;
            let label_name = match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b'"') => {
                    let quoted = self.quoted_string("label name")?;
                    self.skip_optional_blanks();
                    if self.peek() != Some(b'=') {
                        // A quoted string on its own is the metric name (Prometheus 3).
                        match name.as_deref_mut() {
                            Some(slot @ None) => *slot = Some(quoted),
                            Some(Some(_)) => return Err(self.error_at(token_pos, "metric name given twice")),
                            None => {
                                return Err(self.error(format!(
                                    "expected '=' after label name {quoted:?}, found {}",
                                    self.found()
                                )));
                            }
                        }
                        if !self.label_separator()? {
                            break;
                        }
                        continue;
                    }
                    quoted
                }
                Some(byte) if byte.is_ascii_alphabetic() || byte == b'_' => self.label_name_token(),
                _ => {
                    return Err(self.error(format!("expected label name or '}}', found {}", self.found())));
                }
            };
            self.skip_optional_blanks();
            if self.peek() != Some(b'=') {
                return Err(self.error(format!("expected '=' after label name {label_name:?}, found {}", self.found())));
            }
            self.pos += 1;
            self.skip_optional_blanks();
            if self.peek() != Some(b'"') {
                return Err(self.error(format!(
                    "expected '\"' to start the value of label {label_name:?}, found {}",
                    self.found()
                )));
            }
            let value = self.quoted_string("label value")?;
            if label_name == METRIC_NAME || labels.iter().any(|label| *label.name == *label_name) {
                return Err(self.error_at(token_pos, format!("duplicate label name {label_name:?}")));
            }
            labels.push(Label::new(Arc::<str>::from(label_name), Arc::<str>::from(value)));
            if !self.label_separator()? {
                break;
            }
        }
        Ok(labels)
    }

    /// After a label: consumes `,` (returns true, more may follow) or `}` (returns false).
    fn label_separator(&mut self) -> Result<bool, ParseError> {
        self.skip_optional_blanks();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(self.error(format!("expected ',' or '}}' after label, found {}", self.found()))),
        }
    }

    /// Reads a whitespace-delimited token.
    fn token(&mut self) -> (usize, &'a [u8]) {
        let start = self.pos;
        while matches!(self.peek(), Some(byte) if !matches!(byte, b' ' | b'\t' | b'\n')) {
            self.pos += 1;
        }
        (start, &self.input[start..self.pos])
    }

    fn float(&mut self, what: &str) -> Result<f64, ParseError> {
        let (start, token) = self.token();
        if token.is_empty() {
            return Err(self.error(format!("expected {what}, found {}", self.found())));
        }
        parse_float(token)
            .ok_or_else(|| self.error_at(start, format!("invalid {what} {:?}", String::from_utf8_lossy(token))))
    }

    /// Reads a timestamp: integer milliseconds in text, float seconds in OpenMetrics.
    fn timestamp(&mut self) -> Result<i64, ParseError> {
        let (start, token) = self.token();
        let invalid =
            |parser: &Self| parser.error_at(start, format!("invalid timestamp {:?}", String::from_utf8_lossy(token)));
        if self.is_openmetrics() {
            let seconds = parse_float(token).filter(|seconds| seconds.is_finite()).ok_or_else(|| invalid(self))?;
            // Truncated like Prometheus' `int64(ts * 1000)`; `as` saturates out-of-range values.
            #[allow(clippy::cast_possible_truncation)]
            Ok((seconds * 1000.0) as i64)
        } else {
            // Prometheus' lexer accepts only digits here: no sign, so no negative timestamps.
            if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
                return Err(invalid(self));
            }
            std::str::from_utf8(token).ok().and_then(|text| text.parse::<i64>().ok()).ok_or_else(|| invalid(self))
        }
    }

    /// Returns the length of `expected` when the input at the cursor starts with it and it is a
    /// series text written `name{...}` (the only kind a caller gets back as a span).
    fn expected_series_len(&self, expected: Option<&[u8]>) -> Option<usize> {
        let expected = expected.filter(|text| text.last() == Some(&b'}'))?;
        if !self.input[self.pos..].starts_with(expected) {
            return None;
        }
        // Under OpenMetrics a name and its labels cannot stand apart, as they may in text
        // cached from a page in the text format.
        let is_spaced = self.is_openmetrics()
            && memchr::memchr2(b' ', b'\t', &expected[..memchr::memchr(b'{', expected)?]).is_some();
        (!is_spaced).then_some(expected.len())
    }

    fn series(&mut self, expected: Option<&[u8]>) -> Result<Entry, ParseError> {
        if self.is_lazy && self.peek().is_some_and(is_metric_name_start) {
            let start = self.pos;
            let (name, is_expected) = match self.expected_series_len(expected) {
                Some(len) => {
                    self.pos += len;
                    (None, true)
                }
                None => (self.skip_simple_series(), false),
            };
            if is_expected || name.is_some() {
                let span = start..self.pos;
                let line = self.line;
                let (value, timestamp_ms, exemplar) = self.sample_rest()?;
                // Only OpenMetrics has `_created` series; the name is ASCII (checked above).
                let is_created = self.is_openmetrics() && {
                    let name = name.unwrap_or_else(|| {
                        let text = &self.input[span.clone()];
                        start..start + memchr::memchr(b'{', text).unwrap_or(text.len())
                    });
                    std::str::from_utf8(&self.input[name]).is_ok_and(|name| self.is_created_series(name))
                };
                return Ok(Entry::Raw(RawSeriesEntry {
                    span,
                    line,
                    value,
                    timestamp_ms,
                    exemplar,
                    is_created,
                    is_expected,
                }));
            }
        }
        let mut name: Option<String> = None;
        match self.peek() {
            Some(b'{') => {}
            Some(byte) if is_metric_name_start(byte) => name = Some(self.metric_name_token()),
            _ => return Err(self.error(format!("expected metric name or '{{', found {}", self.found()))),
        }
        let after_name = self.pos;
        self.skip_optional_blanks();
        if self.peek() != Some(b'{') {
            self.pos = after_name;
        }
        let mut labels = Vec::new();
        if self.peek() == Some(b'{') {
            labels = self.label_set(Some(&mut name))?;
        }
        let Some(name) = name.filter(|name| !name.is_empty()) else {
            return Err(self.error("series has no metric name"));
        };
        let (value, timestamp_ms, exemplar) = self.sample_rest()?;
        labels.push(Label::new(METRIC_NAME, Arc::<str>::from(name.as_str())));
        let entry = SeriesEntry { labels: Labels::from_vec(labels), value, timestamp_ms, exemplar };
        if self.is_created_series(&name) {
            return Ok(Entry::Created(entry));
        }
        Ok(Entry::Series(entry))
    }

    /// Reads what follows a series' labels: the value, the optional timestamp and (OpenMetrics)
    /// exemplar, and the line end.
    fn sample_rest(&mut self) -> Result<(f64, Option<i64>, Option<Exemplar>), ParseError> {
        self.expect_separator("before the sample value")?;
        let value = self.float("sample value")?;
        let mut timestamp_ms = None;
        let mut exemplar = None;
        if self.is_openmetrics() {
            if self.peek() == Some(b' ') {
                self.pos += 1;
                if self.peek() != Some(b'#') {
                    timestamp_ms = Some(self.timestamp()?);
                    if self.peek() == Some(b' ') {
                        self.pos += 1;
                        if self.peek() != Some(b'#') {
                            return Err(self.error(format!("expected '#' before exemplar, found {}", self.found())));
                        }
                    }
                }
                if self.peek() == Some(b'#') {
                    exemplar = Some(self.exemplar()?);
                }
            }
        } else {
            self.skip_blanks();
            if matches!(self.peek(), Some(byte) if byte != b'\n') {
                timestamp_ms = Some(self.timestamp()?);
                self.skip_blanks();
            }
        }
        self.expect_line_end("after sample")?;
        Ok((value, timestamp_ms, exemplar))
    }

    /// Returns whether `name` is the `_created` series of the current OpenMetrics counter,
    /// histogram or summary family.
    fn is_created_series(&self, name: &str) -> bool {
        self.family.as_ref().is_some_and(|(family, metric_type)| {
            self.is_openmetrics()
                && matches!(metric_type, MetricType::Counter | MetricType::Histogram | MetricType::Summary)
                && name.strip_suffix("_created") == Some(family.as_str())
        })
    }

    /// Parses `# {labels} value [timestamp]` at the `#`.
    fn exemplar(&mut self) -> Result<Exemplar, ParseError> {
        self.pos += 1; // '#'
        self.expect_separator("after '#'")?;
        if self.peek() != Some(b'{') {
            return Err(self.error(format!("expected '{{' to start exemplar labels, found {}", self.found())));
        }
        let labels = self.label_set(None)?;
        self.expect_separator("before the exemplar value")?;
        let value = self.float("exemplar value")?;
        let mut timestamp_ms = None;
        if self.peek() == Some(b' ') {
            self.pos += 1;
            timestamp_ms = Some(self.timestamp()?);
        }
        Ok(Exemplar { labels: Labels::from_vec(labels), value, timestamp_ms })
    }
}

impl Iterator for Parser<'_> {
    type Item = Result<Entry, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_expecting(None)
    }
}

fn is_metric_name_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b':'
}

/// Parses a float the way Go's `strconv.ParseFloat` accepts one in practice: decimal or
/// exponent notation, `NaN`, and `Inf`/`Infinity` with an optional sign, case-insensitively.
fn parse_float(token: &[u8]) -> Option<f64> {
    if let Some(value) = parse_short_decimal(token) {
        return Some(value);
    }
    let text = std::str::from_utf8(token).ok()?;
    // Rust accepts the same spellings of NaN and infinity as Go; it rejects hex floats and
    // underscores, which exporters do not write.
    text.parse::<f64>().ok()
}

/// Parses the common case of a sample value quickly: an optional `-`, at most 15 digits with at
/// most one `.` among them (not first or last). Both the digits as an integer and the power of
/// ten are exact in an `f64` then, so one division rounds correctly and gives the same bits as
/// a full parse (Clinger's fast path). Returns `None` for anything else.
pub(super) fn parse_short_decimal(token: &[u8]) -> Option<f64> {
    const POWERS_OF_TEN: [f64; 16] =
        [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
    let (is_negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    if digits.is_empty() || digits.len() > 16 || digits.first() == Some(&b'.') || digits.last() == Some(&b'.') {
        return None;
    }
    let mut mantissa: u64 = 0;
    let mut digit_count = 0;
    let mut fraction_digits = None;
    for (index, &byte) in digits.iter().enumerate() {
        match byte {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(byte - b'0');
                digit_count += 1;
            }
            b'.' if fraction_digits.is_none() => fraction_digits = Some(digits.len() - index - 1),
            _ => return None,
        }
    }
    if digit_count > 15 {
        return None;
    }
    #[allow(clippy::cast_precision_loss)] // at most 15 digits: exact
    let value = mantissa as f64 / POWERS_OF_TEN[fraction_digits.unwrap_or(0)];
    Some(if is_negative { -value } else { value })
}
