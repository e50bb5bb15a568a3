//! Table tests and property tests of the exposition parser.

use proptest::prelude::*;

use super::*;

fn render_value(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value == f64::INFINITY {
        "+Inf".to_owned()
    } else if value == f64::NEG_INFINITY {
        "-Inf".to_owned()
    } else {
        value.to_string()
    }
}

/// Renders entries one per line, or the error, so that tables stay readable.
fn render_labels(labels: &panoptes_model::Labels) -> String {
    let text = labels.to_string();
    text.strip_suffix("{}").map(str::to_owned).unwrap_or(text)
}

fn render(result: Result<Vec<Entry>, ParseError>) -> String {
    let entries = match result {
        Ok(entries) => entries,
        Err(error) => return format!("error: {error}"),
    };
    let mut lines = Vec::new();
    for entry in entries {
        lines.push(match entry {
            Entry::Raw(raw) => format!("raw {:?}", raw.span),
            Entry::Help { family, help } => format!("help {family} {help:?}"),
            Entry::Type { family, metric_type } => format!("type {family} {metric_type}"),
            Entry::Unit { family, unit } => format!("unit {family} {unit}"),
            Entry::Created(series) => {
                format!("created {} {:?}", render_labels(&series.labels), series.created_ms())
            }
            Entry::Series(series) => {
                let mut line = format!("{} {}", render_labels(&series.labels), render_value(series.value));
                if let Some(ts) = series.timestamp_ms {
                    line.push_str(&format!(" @{ts}"));
                }
                if let Some(exemplar) = series.exemplar {
                    line.push_str(&format!(" # {} {}", exemplar.labels, render_value(exemplar.value)));
                    if let Some(ts) = exemplar.timestamp_ms {
                        line.push_str(&format!(" @{ts}"));
                    }
                }
                line
            }
        });
    }
    lines.join("\n")
}

/// Parses with [`Parser::lazy`], building the labels of raw entries from their text as the
/// scrape cache does on a miss, so that the result compares with the eager parser's.
fn parse_lazily(input: &[u8], format: Format) -> Result<Vec<Entry>, ParseError> {
    Parser::lazy(input, format)
        .map(|entry| match entry? {
            Entry::Raw(raw) => {
                let labels = parse_series_text(&input[raw.span.clone()], format, raw.line)?;
                let series =
                    SeriesEntry { labels, value: raw.value, timestamp_ms: raw.timestamp_ms, exemplar: raw.exemplar };
                Ok(if raw.is_created { Entry::Created(series) } else { Entry::Series(series) })
            }
            other => Ok(other),
        })
        .collect()
}

/// Returns the series texts a lazy parser yields as spans, in page order, up to an error.
fn span_texts(input: &[u8], format: Format) -> Vec<Vec<u8>> {
    Parser::lazy(input, format)
        .map_while(Result::ok)
        .filter_map(|entry| match entry {
            Entry::Raw(raw) => Some(input[raw.span].to_vec()),
            _ => None,
        })
        .collect()
}

/// Parses lazily as the scrape cache does, knowing the series texts of a previous page: each
/// series is expected to be the one after the previous page's series that the last series was.
/// Returns the entries (labels built as in [`parse_lazily`]) and how many series were expected.
fn parse_expecting(input: &[u8], format: Format, previous: &[Vec<u8>]) -> (Result<Vec<Entry>, ParseError>, usize) {
    let mut parser = Parser::lazy(input, format);
    let mut next = 0;
    let mut expected_count = 0;
    let mut entries = Vec::new();
    while let Some(entry) = parser.next_expecting(previous.get(next).map(Vec::as_slice)) {
        let raw = match entry {
            Ok(Entry::Raw(raw)) => raw,
            Ok(other) => {
                entries.push(other);
                continue;
            }
            Err(error) => return (Err(error), expected_count),
        };
        let text = &input[raw.span.clone()];
        if raw.is_expected {
            assert_eq!(text, previous[next], "an expected series has the expected text");
            expected_count += 1;
        }
        next = previous.iter().position(|known| known == text).map_or(next, |index| index + 1);
        let labels = match parse_series_text(text, format, raw.line) {
            Ok(labels) => labels,
            Err(error) => return (Err(error), expected_count),
        };
        let series = SeriesEntry { labels, value: raw.value, timestamp_ms: raw.timestamp_ms, exemplar: raw.exemplar };
        entries.push(if raw.is_created { Entry::Created(series) } else { Entry::Series(series) });
    }
    (Ok(entries), expected_count)
}

/// Parses with [`Parser::piece`], cutting the input after every `lines_per_piece` lines, as a
/// caller reading a large file does.
fn parse_in_pieces(input: &[u8], format: Format, lines_per_piece: usize) -> Result<Vec<Entry>, ParseError> {
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut lines = 0;
    for (index, byte) in input.iter().enumerate() {
        if *byte == b'\n' {
            lines += 1;
            if lines == lines_per_piece {
                pieces.push(&input[start..=index]);
                start = index + 1;
                lines = 0;
            }
        }
    }
    pieces.push(&input[start..]);
    let mut state = PieceState::default();
    let mut entries = Vec::new();
    let count = pieces.len();
    for (index, piece) in pieces.into_iter().enumerate() {
        let mut parser = Parser::piece(piece, format, state, index + 1 == count);
        for entry in parser.by_ref() {
            entries.push(match entry? {
                Entry::Raw(raw) => {
                    let labels = parse_series_text(&piece[raw.span.clone()], format, raw.line)?;
                    let series = SeriesEntry {
                        labels,
                        value: raw.value,
                        timestamp_ms: raw.timestamp_ms,
                        exemplar: raw.exemplar,
                    };
                    if raw.is_created { Entry::Created(series) } else { Entry::Series(series) }
                }
                other => other,
            });
        }
        state = parser.piece_state();
    }
    Ok(entries)
}

#[track_caller]
fn check(format: Format, input: &str, expected: &str) {
    let got = render(parse(input.as_bytes(), format));
    assert_eq!(got, expected.trim(), "input:\n{input}");
    let lazily = render(parse_lazily(input.as_bytes(), format));
    assert_eq!(lazily, expected.trim(), "lazy parser, input:\n{input}");
    let previous = span_texts(input.as_bytes(), format);
    let (again, _) = parse_expecting(input.as_bytes(), format, &previous);
    assert_eq!(render(again), expected.trim(), "lazy parser expecting the page's own series, input:\n{input}");
    // OpenMetrics has no raw newlines inside quotes, so any cut after a newline is valid.
    if format == Format::OpenMetrics {
        for lines_per_piece in [1, 2] {
            let pieces = render(parse_in_pieces(input.as_bytes(), format, lines_per_piece));
            assert_eq!(pieces, expected.trim(), "pieces of {lines_per_piece} lines, input:\n{input}");
        }
    }
}

#[test]
fn pieces_report_lines_of_the_whole_document() {
    let input = b"# TYPE c counter\nc_total 1 10\nc_created 5 10\nc_total 2 20\nc_total{x=} 3\n# EOF\n";
    let mut parser = Parser::piece(&input[..30], Format::OpenMetrics, PieceState::default(), false);
    assert!(matches!(parser.next(), Some(Ok(Entry::Type { .. }))));
    assert!(matches!(parser.next(), Some(Ok(Entry::Raw(RawSeriesEntry { line: 2, .. })))));
    assert_eq!(parser.entry_line(), 2);
    assert!(parser.next().is_none(), "a piece that is not the last ends without asking for # EOF");
    let mut parser = Parser::piece(&input[30..], Format::OpenMetrics, parser.piece_state(), true);
    let created = parser.next();
    assert!(matches!(created, Some(Ok(Entry::Raw(RawSeriesEntry { line: 3, is_created: true, .. })))), "{created:?}");
    assert!(matches!(parser.next(), Some(Ok(Entry::Raw(RawSeriesEntry { line: 4, .. })))));
    let Some(Ok(Entry::Raw(raw))) = parser.next() else { panic!("raw entry") };
    let error = parse_series_text(&input[30..][raw.span], Format::OpenMetrics, raw.line).unwrap_err();
    assert_eq!(error.to_string(), r#"line 5, column 11: expected '"' to start the value of label "x", found '}'"#);
    assert!(parser.next().is_none());
    let mut parser = Parser::piece(b"up 1 1\n", Format::OpenMetrics, PieceState::default(), true);
    assert!(parser.next().is_some());
    assert_eq!(
        parser.next().unwrap().unwrap_err().to_string(),
        r##"line 2, column 1: expected "# EOF" at end of input"##
    );
}

const TEXT: Format = Format::PrometheusText;
const OM: Format = Format::OpenMetrics;

#[test]
fn text_format_series_and_metadata() {
    check(
        TEXT,
        "# HELP http_requests_total The total.\n# TYPE http_requests_total counter\n\
         http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
         http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n",
        r#"
help http_requests_total "The total."
type http_requests_total counter
http_requests_total{code="200", method="post"} 1027 @1395066363000
http_requests_total{code="400", method="post"} 3 @1395066363000
"#,
    );
    check(TEXT, "up 1", "up 1");
    check(TEXT, "up 1\n\n  \n", "up 1");
    check(TEXT, "  up{} 1\t\n", "up 1");
    check(TEXT, "up{a=\"b\",} 1\n", r#"up{a="b"} 1"#);
    check(TEXT, "up { a = \"b\" , c=\"\" } 1\n", r#"up{a="b"} 1"#);
    check(TEXT, "x NaN\ny +Inf\nz -Inf\nw 1.5e3\nv -0.25 5\n", "x NaN\ny +Inf\nz -Inf\nw 1500\nv -0.25 @5");
    check(TEXT, "v 1 -5\n", r#"error: line 1, column 5: invalid timestamp "-5""#);
    check(TEXT, "# TYPE u untyped\n# a plain comment\n#HELP not metadata\n", "type u unknown");
    check(TEXT, "# HELP m\n# HELP m2 \n", "help m \"\"\nhelp m2 \"\"");
}

#[test]
fn raw_newlines_inside_quotes() {
    // Prometheus' text lexer accepts a raw newline inside quotes; lines after it count on.
    check(
        TEXT,
        "m{a=\"x\ny\"} 1\nn{b\n c} 2",
        "error: line 3, column 4: expected '=' after label name \"b\", found end of line",
    );
    check(TEXT, "m{a=\"x\ny\"} 1\n", r#"m{a="x\ny"} 1"#);
    check(OM, "m{a=\"x\ny\"} 1\n# EOF\n", "error: line 1, column 5: unterminated quoted label value");
}

#[test]
fn text_format_escaping() {
    check(TEXT, r#"m{a="x\\y\"z\nw"} 1"#, r#"m{a="x\\y\"z\nw"} 1"#);
    // Unknown escapes are kept verbatim, as Prometheus' scraper does.
    check(TEXT, r#"m{a="\q"} 1"#, r#"m{a="\\q"} 1"#);
    check(TEXT, "# HELP m a\\\\b\\nc\\\"d\n", r#"help m "a\\b\nc\\\"d""#);
}

#[test]
fn utf8_quoted_names() {
    check(TEXT, r#"{"my.metric", "a.b"="v"} 1"#, r#"{"my.metric", "a.b"="v"} 1"#);
    check(TEXT, r#"{"a.b"="v", "my.metric"} 2"#, r#"{"my.metric", "a.b"="v"} 2"#);
    check(TEXT, "# TYPE \"my.metric\" gauge\n", "type my.metric gauge");
    check(TEXT, r#"{"my.metric"} 1"#, r#"{"my.metric"} 1"#);
    check(OM, "{\"my.metric\",\"a.b\"=\"v\"} 1\n# EOF\n", r#"{"my.metric", "a.b"="v"} 1"#);
}

#[test]
fn text_format_errors() {
    check(TEXT, "up{job 1", r#"error: line 1, column 8: expected '=' after label name "job", found '1'"#);
    check(
        TEXT,
        "a 1\nb 2\nup{job=\"x\",instance \"y\"} 1",
        r#"error: line 3, column 21: expected '=' after label name "instance", found '"'"#,
    );
    check(TEXT, "up{job=x} 1", r#"error: line 1, column 8: expected '"' to start the value of label "job", found 'x'"#);
    check(TEXT, "up{job=\"x} 1", "error: line 1, column 8: unterminated quoted label value");
    check(TEXT, "a 1\nup{job=\"x\n} 1", "error: line 2, column 8: unterminated quoted label value");
    check(TEXT, "up", "error: line 1, column 3: expected whitespace before the sample value, found end of input");
    check(TEXT, "up abc", r#"error: line 1, column 4: invalid sample value "abc""#);
    check(TEXT, "up 1 1.5", r#"error: line 1, column 6: invalid timestamp "1.5""#);
    check(TEXT, "up 1 2 3", "error: line 1, column 8: expected end of line after sample, found '3'");
    check(TEXT, "up{a=\"1\",a=\"2\"} 1", r#"error: line 1, column 10: duplicate label name "a""#);
    check(TEXT, "{a=\"1\"} 1", "error: line 1, column 8: series has no metric name");
    check(TEXT, "m{\"x\", \"y\"} 1", "error: line 1, column 3: metric name given twice");
    check(TEXT, "{\"x\", \"y\"} 1", "error: line 1, column 7: metric name given twice");
    check(TEXT, "m{\"x\"} 1", "error: line 1, column 3: metric name given twice");
    check(TEXT, "# TYPE m flute\n", r#"error: line 1, column 10: unknown metric type "flute""#);
    check(TEXT, "# TYPE m gaugehistogram\n", r#"error: line 1, column 10: unknown metric type "gaugehistogram""#);
    check(TEXT, "1up 1", "error: line 1, column 1: expected metric name or '{', found '1'");
    check(TEXT, "é{} 1", "error: line 1, column 1: expected metric name or '{', found 'é'");
    check(TEXT, "m{a=\"é\",b c} 1", r#"error: line 1, column 11: expected '=' after label name "b", found 'c'"#);
    check(TEXT, "up{a=\"x\"} 1 # {t=\"1\"} 1", r##"error: line 1, column 13: invalid timestamp "#""##);
}

#[test]
fn openmetrics_full_page() {
    check(
        OM,
        "# TYPE acme_http_router_request_seconds summary\n\
         # UNIT acme_http_router_request_seconds seconds\n\
         # HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n\
         acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n\
         acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n\
         acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n\
         # TYPE go_goroutines gauge\n\
         go_goroutines 69 1520879607.789\n\
         # TYPE foo counter\n\
         foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n\
         foo_total{a=\"b\"} 1 # {trace_id=\"x\"} 0.5 1520879607.1\n\
         # TYPE st stateset\n\
         st{st=\"a\"} 1\n\
         # TYPE i info\n\
         i_info{version=\"1\"} 1\n\
         # TYPE gh gaugehistogram\n\
         gh_bucket{le=\"+Inf\"} 3\n\
         # TYPE u unknown\n\
         u NaN\n\
         # EOF\n",
        r#"
type acme_http_router_request_seconds summary
unit acme_http_router_request_seconds seconds
help acme_http_router_request_seconds "Latency though all of ACME's HTTP request router."
acme_http_router_request_seconds_sum{method="GET", path="/api/v1"} 9036.32
acme_http_router_request_seconds_count{method="GET", path="/api/v1"} 807283
created acme_http_router_request_seconds_created{method="GET", path="/api/v1"} Some(1605281325000)
type go_goroutines gauge
go_goroutines 69 @1520879607789
type foo counter
foo_total 17 @1520879607789 # {trace_id="KOO5S4vxi0o"} 0.67
foo_total{a="b"} 1 # {trace_id="x"} 0.5 @1520879607100
type st stateset
st{st="a"} 1
type i info
i_info{version="1"} 1
type gh gaugehistogram
gh_bucket{le="+Inf"} 3
type u unknown
u NaN
"#,
    );
    check(OM, "# EOF", "");
    check(OM, "# TYPE g gauge\ng_created 5\n# EOF\n", "type g gauge\ng_created 5");
}

#[test]
fn openmetrics_escaping() {
    check(OM, "m{a=\"x\\\\y\\\"z\\nw\"} 1\n# EOF\n", r#"m{a="x\\y\"z\nw"} 1"#);
    check(OM, "m{a=\"\\q\"} 1\n# EOF\n", r#"m{a="\\q"} 1"#);
    check(OM, "# HELP m a\\\"b\\\\c\n# EOF\n", r#"help m "a\"b\\c""#);
    check(OM, "# HELP m a\\tb\n# EOF\n", r#"help m "a\\tb""#);
    check(TEXT, "# HELP m a\\\"b\n", r#"help m "a\\\"b""#);
}

#[test]
fn openmetrics_errors() {
    check(OM, "up 1\n", "error: line 2, column 1: expected \"# EOF\" at end of input");
    check(OM, "", "error: line 1, column 1: expected \"# EOF\" at end of input");
    check(OM, "# EOF\nup 1\n", "error: line 2, column 1: unexpected content after \"# EOF\"");
    check(OM, "up 1\n\n# EOF\n", "error: line 2, column 1: unexpected empty line");
    check(OM, "up  1\n# EOF\n", r#"error: line 1, column 4: expected sample value, found ' '"#);
    check(OM, "# foo\n# EOF\n", "error: line 1, column 3: expected HELP, TYPE, UNIT or EOF after '# '");
    check(
        OM,
        "# UNIT m_bytes seconds\n# EOF\n",
        r#"error: line 1, column 16: unit "seconds" is not a suffix of metric family "m_bytes""#,
    );
    check(OM, "# TYPE m untyped\n# EOF\n", r#"error: line 1, column 10: unknown metric type "untyped""#);
    check(OM, "up 1 # {a=\"b\"} x\n# EOF\n", r#"error: line 1, column 16: invalid exemplar value "x""#);
    check(OM, "up 1 #{a=\"b\"} 1\n# EOF\n", "error: line 1, column 7: expected a single space after '#', found '{'");
    check(OM, "up 1 # {\"n\"} 1\n# EOF\n", r#"error: line 1, column 12: expected '=' after label name "n", found '}'"#);
    check(OM, "up 1 inf\n# EOF\n", r#"error: line 1, column 6: invalid timestamp "inf""#);
}

#[test]
fn exemplar_label_length_limit() {
    let exemplar = |value: &str| {
        let page = format!("up_total 1 # {{t=\"{value}\"}} 1\n# EOF\n");
        match parse(page.as_bytes(), OM) {
            Ok(mut entries) => match entries.pop() {
                Some(Entry::Series(SeriesEntry { exemplar: Some(exemplar), .. })) => exemplar,
                other => panic!("expected a series with an exemplar, got {other:?}"),
            },
            Err(error) => panic!("page should parse: {error}"),
        }
    };
    assert!(!exemplar(&"é".repeat(127)).is_label_set_too_long());
    assert!(exemplar(&"x".repeat(128)).is_label_set_too_long());
}

#[test]
fn openmetrics_timestamps_are_truncated_to_milliseconds() {
    check(OM, "a 1 1.0019\nb 1 -1.5\nc 1 1e3\n# EOF\n", "a 1 @1001\nb 1 @-1500\nc 1 @1000000");
}

#[test]
fn strict_negotiation_follows_prometheus_3() {
    let text = Some(Format::PrometheusText);
    assert_eq!(Format::negotiate(Some("text/plain; version=0.0.4"), None), Ok(Format::PrometheusText));
    assert_eq!(Format::negotiate(Some("application/openmetrics-text; version=1.0.0"), None), Ok(Format::OpenMetrics));
    assert_eq!(Format::negotiate(None, text), Ok(Format::PrometheusText));
    assert_eq!(Format::negotiate(Some("application/json"), Some(Format::OpenMetrics)), Ok(Format::OpenMetrics));
    let error = Format::negotiate(Some(""), None).expect_err("blank content type");
    assert_eq!(
        error.to_string(),
        r#"received unsupported Content-Type "" and no fallback_scrape_protocol specified for target"#
    );
    assert!(Format::negotiate(Some("application/vnd.google.protobuf"), None).is_err());
}

#[test]
fn content_type_negotiation() {
    assert_eq!(Format::from_content_type(None), Format::PrometheusText);
    assert_eq!(Format::from_content_type(Some("text/plain; version=0.0.4; charset=utf-8")), Format::PrometheusText);
    assert_eq!(
        Format::from_content_type(Some("application/openmetrics-text; version=1.0.0; charset=utf-8")),
        Format::OpenMetrics
    );
    assert_eq!(Format::from_content_type(Some("Application/OpenMetrics-Text")), Format::OpenMetrics);
    assert_eq!(Format::from_content_type(Some("application/json")), Format::PrometheusText);
}

#[test]
fn parser_stops_after_first_error() {
    let mut parser = Parser::new(b"a 1\nb x\nc 3\n", TEXT);
    assert!(matches!(parser.next(), Some(Ok(Entry::Series(_)))));
    assert!(matches!(parser.next(), Some(Err(ParseError { line: 2, .. }))));
    assert!(parser.next().is_none());
}

const VALID_PAGE: &str = "# HELP a_total x\\ny\n# TYPE a_total counter\na_total{x=\"1\",y=\"\\\"\"} 1 # {t=\"1\"} 2 3\n{\"m.x\",\"q\"=\"z\"} +Inf 17\n# UNIT b_seconds seconds\nb_seconds_created 1.5\n# EOF\n";

proptest! {
    #[test]
    fn parser_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse(&bytes, Format::PrometheusText);
        let _ = parse(&bytes, Format::OpenMetrics);
    }

    #[test]
    fn parser_never_panics_on_mutated_pages(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
    ) {
        let mut bytes = VALID_PAGE.as_bytes().to_vec();
        for (index, byte, op) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let at = index.index(bytes.len());
            match op {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
        }
        for format in [Format::PrometheusText, Format::OpenMetrics] {
            let eager = parse(&bytes, format);
            if let Err(error) = &eager {
                prop_assert!(error.line >= 1 && error.column >= 1);
                prop_assert!(error.line <= bytes.iter().filter(|b| **b == b'\n').count() + 1);
            }
            // The lazy parser accepts exactly the same pages, with the same entries.
            match (eager, parse_lazily(&bytes, format)) {
                (Ok(eager), Ok(lazy)) => prop_assert_eq!(eager, lazy),
                (Err(_), Err(_)) => {}
                (eager, lazy) => prop_assert!(false, "eager {:?} but lazy {:?}", eager, lazy),
            }
            // So does a lazy parser that expects the series of the unmutated page.
            let previous = span_texts(VALID_PAGE.as_bytes(), format);
            match (parse(&bytes, format), parse_expecting(&bytes, format, &previous).0) {
                (Ok(eager), Ok(expecting)) => prop_assert_eq!(eager, expecting),
                (Err(_), Err(_)) => {}
                (eager, expecting) => prop_assert!(false, "eager {:?} but expecting {:?}", eager, expecting),
            }
        }
    }
}

#[test]
fn valid_page_parses_in_both_formats() {
    assert_eq!(parse(VALID_PAGE.as_bytes(), OM).map(|entries| entries.len()), Ok(6));
    // The text format rejects the exemplar.
    assert!(parse(VALID_PAGE.as_bytes(), TEXT).is_err());
}

fn escape(text: &str) -> String {
    text.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

fn is_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Writes one series line in the text format (or OpenMetrics when `seconds` is set).
fn write_series(
    name: &str,
    labels: &std::collections::BTreeMap<String, String>,
    value: f64,
    ts: Option<i64>,
) -> String {
    let mut parts = Vec::new();
    let mut line = String::new();
    if is_legacy_metric_name(name) {
        line.push_str(name);
    } else {
        parts.push(format!("\"{}\"", escape(name)));
    }
    for (label_name, label_value) in labels {
        let written_name = if panoptes_model::is_valid_legacy_label_name(label_name) {
            label_name.clone()
        } else {
            format!("\"{}\"", escape(label_name))
        };
        parts.push(format!("{written_name}=\"{}\"", escape(label_value)));
    }
    line.push('{');
    line.push_str(&parts.join(","));
    line.push('}');
    line.push_str(&format!(" {value:?}"));
    if let Some(ts) = ts {
        line.push_str(&format!(" {ts}"));
    }
    line.push('\n');
    line
}

proptest! {
    #[test]
    fn written_series_parse_back(
        name in "[a-zA-Z_:][a-zA-Z0-9_:]{0,8}|\\PC{1,8}",
        labels in proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,6}|\\PC{1,6}", "\\PC{0,10}|[\\\\\"\n]{1,4}", 0..5),
        value in any::<f64>(),
        ts in proptest::option::of(0..i64::MAX),
    ) {
        prop_assume!(!labels.contains_key("__name__"));
        let page = write_series(&name, &labels, value, ts);
        let entries = parse(page.as_bytes(), Format::PrometheusText);
        let Ok(mut entries) = entries else {
            return Err(TestCaseError::fail(format!("{entries:?} for page {page:?}")));
        };
        prop_assert_eq!(entries.len(), 1);
        let Some(Entry::Series(series)) = entries.pop() else {
            return Err(TestCaseError::fail("expected a series"));
        };
        let mut expected: Vec<(String, String)> = labels.into_iter().collect();
        expected.push(("__name__".to_owned(), name));
        prop_assert_eq!(series.labels, panoptes_model::Labels::from_pairs(expected));
        prop_assert!(series.value.to_bits() == value.to_bits() || (series.value.is_nan() && value.is_nan()));
        prop_assert_eq!(series.timestamp_ms, ts);
    }
}

#[test]
fn utf8_shapes_prometheus_accepts() {
    check(
        TEXT,
        "# HELP \"db.query_seconds\" Query latency.\n# \tTYPE \"db.query_seconds\" summary\n\
         { \"db.query_seconds\", quantile = \"0.5\", a= \"b\", } 0.25\n\
         {q=\"0.9\",\"http.status\",a=\"b\"} 3\n\
         {\"Grüße {weird}\\nname\",\"label ©\\n\\\"q\\\"\"=\"6\"} 10.0\n\
         _underscore_metric{_underscore_label=\"\\\"v\\\"\"} 1\n\
         nul_metric{a=\"x\u{0}y\"} 1\n",
        r#"
help db.query_seconds "Query latency."
type db.query_seconds summary
{"db.query_seconds", a="b", quantile="0.5"} 0.25
{"http.status", a="b", q="0.9"} 3
{"Grüße {weird}\nname", "label ©\n\"q\""="6"} 10
_underscore_metric{_underscore_label="\"v\""} 1
nul_metric{a="x\0y"} 1
"#,
    );
    check(
        OM,
        "# TYPE \"db.query_seconds\" summary\n{\"db.query_seconds_created\"} 12.5\n\
         # TYPE fizz_created gauge\nfizz_created 17\n\
         req_count 1 # {\"trace.id\"=\"abc\",other=\"x\"} 4\n# EOF\n",
        r#"
type db.query_seconds summary
created {"db.query_seconds_created"} Some(12500)
type fizz_created gauge
fizz_created 17
req_count 1 # {other="x", "trace.id"="abc"} 4
"#,
    );
}

/// Prints parser throughput; run with `cargo test --release -- --ignored parse_throughput`.
#[test]
#[ignore = "slow"]
fn parse_throughput() {
    let mut page = String::new();
    for family in 0..500 {
        page.push_str(&format!("# HELP metric_{family}_total Requests.\n# TYPE metric_{family}_total counter\n"));
        for series in 0..100 {
            page.push_str(&format!(
                "metric_{family}_total{{method=\"GET\",code=\"200\",handler=\"/api/v1/query\",pod=\"pod-{series}\"}} {}.5\n",
                series * 7
            ));
        }
    }
    let start = std::time::Instant::now();
    let mut count = 0;
    for entry in Parser::new(page.as_bytes(), Format::PrometheusText) {
        assert!(entry.is_ok());
        count += 1;
    }
    let elapsed = start.elapsed();
    println!(
        "{count} entries, {} bytes in {elapsed:?}: {:.1} MB/s, {:.0} ns/series",
        page.len(),
        page.len() as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_nanos() as f64 / 50_000.0
    );
}

#[test]
fn lazy_series_text_ends_at_the_first_closing_brace_outside_quotes() {
    for page in [
        "m{a=\"}{\",b=\"x\"} 1\n",
        "m{a=\"\\\"}\\\\\",b=\"\\\\\"} 2\n",
        "m {a=\"v\"} 3\n",
        "m 4\nn{} 5\n",
        // A backslash before a raw newline inside quotes: the full parser decides.
        "m{a=\"x\\\ny\"} 6\n",
    ] {
        let eager = parse(page.as_bytes(), TEXT);
        assert_eq!(eager.is_ok(), !page.contains("\\\n"), "{page:?}: {eager:?}");
        assert_eq!(parse_lazily(page.as_bytes(), TEXT), eager, "{page:?}");
    }
    let entries = parse_lazily(b"m{a=\"}{\",b=\"x\"} 1\n", TEXT).unwrap();
    let Entry::Series(series) = &entries[0] else { panic!("{entries:?}") };
    assert_eq!(series.labels.get("a"), Some("}{"));
    assert_eq!(series.labels.get("b"), Some("x"));
}

#[test]
fn expected_series_text_is_stepped_over_and_any_other_is_scanned() {
    let page = b"a{x=\"1\"} 1\nb{y=\"2\"} 2\nc 3\n";
    let own = span_texts(page, TEXT);
    let (entries, expected_count) = parse_expecting(page, TEXT, &own);
    assert_eq!(entries, parse(page, TEXT));
    assert_eq!(expected_count, 2, "both series written with braces are expected; `c` is scanned");
    // A previous page whose second series had another label value: only `a` is expected.
    let previous = span_texts(b"a{x=\"1\"} 9\nb{y=\"3\"} 9\nc 9\n", TEXT);
    let (entries, expected_count) = parse_expecting(page, TEXT, &previous);
    assert_eq!(entries, parse(page, TEXT));
    assert_eq!(expected_count, 1);
    // Text from a text-format page with a blank before the braces is not an OpenMetrics series.
    let previous = span_texts(b"a {x=\"1\"} 1\n", TEXT);
    assert_eq!(previous, [b"a {x=\"1\"}".to_vec()]);
    let page = b"a {x=\"1\"} 1\n# EOF\n";
    let (entries, expected_count) = parse_expecting(page, OM, &previous);
    assert_eq!(expected_count, 0);
    assert!(entries.is_err(), "{entries:?}");
    assert_eq!(entries, parse(page, OM));
    // An expected text followed by more than a separator fails as a scanned one does.
    let page = b"a{x=\"1\"}} 1\n";
    let (entries, _) = parse_expecting(page, TEXT, &own);
    assert_eq!(entries, parse(page, TEXT));
    assert!(entries.is_err());
}

#[test]
fn common_sample_values_take_the_short_decimal_path() {
    for (token, value) in
        [("0", 0.0), ("-0", -0.0), ("123.45", 123.45), ("-0.001", -0.001), ("999999999999999", 999_999_999_999_999.0)]
    {
        assert_eq!(
            parser::parse_short_decimal(token.as_bytes()).map(f64::to_bits),
            Some(f64::to_bits(value)),
            "{token}"
        );
    }
    for token in ["1e3", "1.", ".5", "1.2.3", "+1", "Inf", "NaN", "1234567890123456", "", "-"] {
        assert_eq!(parser::parse_short_decimal(token.as_bytes()), None, "{token}");
    }
}

proptest! {
    #[test]
    fn short_decimals_parse_to_the_bits_of_a_full_parse(token in "-?[0-9]{1,17}(\\.[0-9]{1,17})?") {
        if let Some(fast) = parser::parse_short_decimal(token.as_bytes()) {
            let full: f64 = token.parse().unwrap();
            prop_assert_eq!(fast.to_bits(), full.to_bits(), "{}", token);
        }
    }
}
