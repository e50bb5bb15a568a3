//! Table-driven tests of the line protocol parser and of the mapping to series.

use std::borrow::Cow;

use panoptes_model::Labels;
use proptest::prelude::*;

use super::InfluxOptions;
use super::line::{FieldValue, LineParser, ParseError, Point};
use super::mapping::{Mapper, Precision, sanitize_name};

fn parse_one(input: &str) -> Result<Point<'_>, ParseError> {
    let mut items: Vec<_> = LineParser::new(input.as_bytes()).collect();
    assert_eq!(items.len(), 1, "expected exactly one line in {input:?}");
    items.remove(0).1
}

fn tags<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    pairs.iter().map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v))).collect()
}

/// A parser case: name, input, tags, fields, timestamp.
type ValidCase = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<(&'static str, FieldValue<'static>)>,
    Option<i64>,
);

#[test]
fn parses_valid_lines() {
    use FieldValue::{Boolean, Float, Integer, String as Str, Unsigned};
    let cases: Vec<ValidCase> = vec![
        ("minimal", "cpu value=1", vec![], vec![("value", Float(1.0))], None),
        (
            "tags and timestamp",
            "cpu,host=a,region=eu usage=0.5 1465839830100400200",
            vec![("host", "a"), ("region", "eu")],
            vec![("usage", Float(0.5))],
            Some(1_465_839_830_100_400_200),
        ),
        (
            "every field type",
            r#"m f=-1.5e3,i=-42i,u=42u,b=t,B=FALSE,s="hi" -5"#,
            vec![],
            vec![
                ("f", Float(-1500.0)),
                ("i", Integer(-42)),
                ("u", Unsigned(42)),
                ("b", Boolean(true)),
                ("B", Boolean(false)),
                ("s", Str(Cow::Borrowed("hi"))),
            ],
            Some(-5),
        ),
        ("leading dot float", "m f=.5", vec![], vec![("f", Float(0.5))], None),
        ("trailing dot float", "m f=5.", vec![], vec![("f", Float(5.0))], None),
        (
            "integer extremes",
            "m a=9223372036854775807i,b=-9223372036854775808i,c=18446744073709551615u",
            vec![],
            vec![("a", Integer(i64::MAX)), ("b", Integer(i64::MIN)), ("c", Unsigned(u64::MAX))],
            None,
        ),
        ("escaped measurement", r"cpu\,01\ x,host=a v=1", vec![("host", "a")], vec![("v", Float(1.0))], None),
        ("equals sign in measurement is literal", "a=b v=1", vec![], vec![("v", Float(1.0))], None),
        (
            "escaped tag key and value",
            r"m,tag\ key\,x\=y=tag\ value\,1\=2 v=1",
            vec![("tag key,x=y", "tag value,1=2")],
            vec![("v", Float(1.0))],
            None,
        ),
        ("escaped field key", r"m field\ k\=1\,2=1i", vec![], vec![("field k=1,2", Integer(1))], None),
        (
            "escaped string field",
            r#"m s="a \"quoted\" \\ back\slash, with=sep and space""#,
            vec![],
            vec![("s", Str(Cow::Owned(r#"a "quoted" \ back\slash, with=sep and space"#.to_owned())))],
            None,
        ),
        ("double backslash in tag", r"m,t=a\\b v=1", vec![("t", r"a\b")], vec![("v", Float(1.0))], None),
        ("lone backslash in tag is literal", r"m,t=a\b v=1", vec![("t", r"a\b")], vec![("v", Float(1.0))], None),
        ("leading and trailing spaces", "   m v=1   2  ", vec![], vec![("v", Float(1.0))], Some(2)),
        ("several spaces before fields", "m    v=1", vec![], vec![("v", Float(1.0))], None),
        (
            "utf-8 names",
            "température,pièce=salon valeur=21.5",
            vec![("pièce", "salon")],
            vec![("valeur", Float(21.5))],
            None,
        ),
    ];
    for (name, input, want_tags, want_fields, want_timestamp) in cases {
        let point = parse_one(input).unwrap_or_else(|error| panic!("{name}: {input:?}: {error}"));
        assert_eq!(point.tags, tags(&want_tags), "{name}: tags");
        let fields: Vec<(&str, FieldValue<'_>)> = point.fields.iter().map(|(k, v)| (&**k, v.clone())).collect();
        assert_eq!(fields, want_fields, "{name}: fields");
        assert_eq!(point.timestamp, want_timestamp, "{name}: timestamp");
    }
    assert_eq!(parse_one(r"cpu\,01\ x,host=a v=1").expect("parse").measurement, "cpu,01 x");
    assert_eq!(parse_one("a=b v=1").expect("parse").measurement, "a=b");
}

#[test]
fn reports_errors_with_line_column_and_expectation() {
    let cases = [
        ("m", 1, 2, "expected a space and a field set after the measurement, found end of line"),
        ("m,t=1", 1, 6, "expected a space and a field set after the tag set, found end of line"),
        ("m ", 1, 3, "expected field key, found end of line"),
        (",t=1 v=1", 1, 1, "expected measurement, found ','"),
        ("m,=1 v=1", 1, 3, "expected tag key, found '='"),
        ("m,t v=1", 1, 4, "expected '=' after tag key, found ' '"),
        ("m,t= v=1", 1, 5, "expected tag value, found ' '"),
        ("m,t=a=b v=1", 1, 6, "unescaped '=' in tag value (escape it as \\=)"),
        ("m,t=a,t=b v=1", 1, 7, "duplicate tag key \"t\""),
        ("m v", 1, 4, "expected '=' after field key, found end of line"),
        ("m v=", 1, 5, "expected field value, found end of line"),
        ("m v=,w=1", 1, 5, "expected field value, found ','"),
        ("m v=abc", 1, 5, "invalid field value \"abc\""),
        ("m v=1.2.3", 1, 5, "invalid field value \"1.2.3\""),
        ("m v=NaN", 1, 5, "invalid field value \"NaN\""),
        ("m v=1e", 1, 5, "invalid field value \"1e\""),
        ("m v=+1", 1, 5, "invalid field value \"+1\""),
        ("m v=1x", 1, 5, "invalid field value \"1x\""),
        ("m v=9223372036854775808i", 1, 5, "integer field value 9223372036854775808i out of range"),
        ("m v=-1u", 1, 5, "invalid field value \"-1u\""),
        ("m v=\"open", 1, 5, "unterminated string field value"),
        ("m v=\"a\"b", 1, 8, "expected ',', a space or the end of the line after a field, found 'b'"),
        ("m v=1 12x", 1, 7, "invalid timestamp \"12x\": expected an integer"),
        ("m v=1 99999999999999999999", 1, 7, "timestamp 99999999999999999999 out of range"),
        ("m v=1 1 2", 1, 9, "expected the end of the line after the timestamp, found '2'"),
        ("m\tx v=1", 1, 2, "control character '\\t' in measurement"),
        ("mé,t=1 v=x", 1, 10, "invalid field value \"x\""),
    ];
    for (input, line, column, message) in cases {
        let error = parse_one(input).expect_err(input);
        assert_eq!((error.line, error.column), (line, column), "{input:?}: {error}");
        assert!(error.message.starts_with(message), "{input:?}: got {:?}, want prefix {message:?}", error.message);
    }
}

#[test]
fn skips_blank_lines_and_comments_and_numbers_lines() {
    let body = b"# a comment\n\n   \r\ncpu v=1\r\n  # indented comment\nbad\nmem v=2";
    let items: Vec<_> = LineParser::new(body).collect();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0].0.number, 4);
    assert!(items[0].1.is_ok());
    let error = items[1].1.clone().expect_err("bad line");
    assert_eq!((error.line, error.column), (6, 4));
    assert_eq!(items[2].0.number, 7);
    assert_eq!(items[2].1.as_ref().map(|p| p.measurement.to_string()), Ok("mem".to_owned()));
}

#[test]
fn invalid_utf8_is_an_error_with_its_column() {
    let error = LineParser::new(b"m,t=\xff v=1").next().expect("one line").1.expect_err("invalid");
    assert_eq!((error.line, error.column, error.message.as_str()), (1, 5, "invalid UTF-8"));
}

#[test]
fn precision_converts_to_milliseconds() {
    assert_eq!(Precision::parse_v1(None), Some(Precision::Nanoseconds));
    assert_eq!(Precision::parse_v1(Some("u")), Some(Precision::Microseconds));
    assert_eq!(Precision::parse_v1(Some("h")), Some(Precision::Hours));
    assert_eq!(Precision::parse_v1(Some("us")), Some(Precision::Microseconds));
    assert_eq!(Precision::parse_v2(Some("m")), None);
    assert_eq!(Precision::parse_v2(Some("us")), Some(Precision::Microseconds));
    assert_eq!(Precision::parse_v1(Some("x")), None);
    assert_eq!(Precision::Nanoseconds.to_millis(1_465_839_830_100_400_200), Some(1_465_839_830_100));
    assert_eq!(Precision::Nanoseconds.to_millis(-1), Some(-1));
    assert_eq!(Precision::Microseconds.to_millis(1_500), Some(1));
    assert_eq!(Precision::Seconds.to_millis(2), Some(2_000));
    assert_eq!(Precision::Minutes.to_millis(2), Some(120_000));
    assert_eq!(Precision::Hours.to_millis(1), Some(3_600_000));
    assert_eq!(Precision::Hours.to_millis(i64::MAX), None);
}

fn map(options: &InfluxOptions, db: Option<&str>, line: &str) -> Result<Vec<(String, i64, f64)>, String> {
    let point = parse_one(line).expect("valid line");
    let mapper = Mapper { options, db, precision: Precision::Seconds, now_ms: 42 };
    let mut samples = Vec::new();
    mapper.map_point(&point, |labels: &Labels, t, v| samples.push((labels.to_string(), t, v)))?;
    Ok(samples)
}

#[test]
fn maps_points_like_victoriametrics() {
    let options = InfluxOptions::default();
    assert_eq!(
        map(&options, Some("telegraf"), r#"foo,tag1=value1 field1=12,field2=40i,up=true,down=F,s="abc",n="1.5" 10"#),
        Ok(vec![
            (r#"foo_field1{db="telegraf", tag1="value1"}"#.to_owned(), 10_000, 12.0),
            (r#"foo_field2{db="telegraf", tag1="value1"}"#.to_owned(), 10_000, 40.0),
            (r#"foo_up{db="telegraf", tag1="value1"}"#.to_owned(), 10_000, 1.0),
            (r#"foo_down{db="telegraf", tag1="value1"}"#.to_owned(), 10_000, 0.0),
            (r#"foo_s{db="telegraf", tag1="value1"}"#.to_owned(), 10_000, 0.0),
            (r#"foo_n{db="telegraf", tag1="value1"}"#.to_owned(), 10_000, 1.5),
        ])
    );
    // A `db` tag wins over the query parameter; no timestamp means the receive time; the field
    // named `value` is not special.
    assert_eq!(
        map(&options, Some("q"), "cpu,db=line value=1"),
        Ok(vec![(r#"cpu_value{db="line"}"#.to_owned(), 42, 1.0)])
    );
    assert_eq!(map(&options, None, "cpu value=1"), Ok(vec![("cpu_value{}".to_owned(), 42, 1.0)]));
    // UTF-8 and dotted names are kept as they are by default.
    assert_eq!(
        map(&options, None, "http.server,k8s.pod=x req-count=1"),
        Ok(vec![(r#"{"http.server_req-count", "k8s.pod"="x"}"#.to_owned(), 42, 1.0)])
    );
}

#[test]
fn naming_options_follow_victoriametrics_flags() {
    let single = InfluxOptions { skip_single_field: true, ..InfluxOptions::default() };
    assert_eq!(map(&single, None, "cpu value=1"), Ok(vec![("cpu{}".to_owned(), 42, 1.0)]));
    assert_eq!(map(&single, None, "cpu a=1,b=2").map(|s| s.len()), Ok(2));
    let no_measurement = InfluxOptions { skip_measurement: true, ..InfluxOptions::default() };
    assert_eq!(map(&no_measurement, None, "cpu usage=1"), Ok(vec![("usage{}".to_owned(), 42, 1.0)]));
    let separator = InfluxOptions { measurement_field_separator: ".".to_owned(), ..InfluxOptions::default() };
    assert_eq!(map(&separator, None, "cpu usage=1"), Ok(vec![(r#"{"cpu.usage"}"#.to_owned(), 42, 1.0)]));
    let compatible = InfluxOptions { prometheus_compatible_naming: true, ..InfluxOptions::default() };
    assert_eq!(
        map(&compatible, None, "foo.bar-baz/1,1tag.x=v field=1"),
        Ok(vec![(r#"foo_bar_baz_1_field{_tag_x="v"}"#.to_owned(), 42, 1.0)])
    );
    assert_eq!(sanitize_name("1a:b", true), "_a:b");
    assert_eq!(sanitize_name("a:b", false), "a_b");
    assert_eq!(sanitize_name("é", false), "_");
}

#[test]
fn mapping_enforces_limits_and_reserved_names() {
    let options = InfluxOptions { max_labels_per_series: 2, max_label_value_bytes: 8, ..InfluxOptions::default() };
    assert!(map(&options, None, "m,a=1 v=1").is_ok());
    let error = map(&options, None, "m,a=1,b=2 v=1").expect_err("too many labels");
    assert!(error.contains("3 labels, more than the limit of 2"), "{error}");
    let error = map(&options, None, "m,a=123456789 v=1").expect_err("long value");
    assert!(error.contains("longer than the limit of 8 bytes"), "{error}");
    let error = map(&options, None, "measurement v=1").expect_err("long name");
    assert!(error.contains("metric name"), "{error}");
    let error = map(&InfluxOptions::default(), None, "m,__name__=x v=1").expect_err("reserved");
    assert!(error.contains("reserved"), "{error}");
    let error = map(&InfluxOptions::default(), None, "m v=1 9223372036854775807").expect_err("overflow");
    assert!(error.contains("out of range"), "{error}");
}

proptest! {
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        for (raw, result) in LineParser::new(&input) {
            let _ = raw.to_string();
            if let Err(error) = result {
                prop_assert!(error.line >= 1 && error.column >= 1);
            }
        }
    }

    #[test]
    fn parser_never_panics_on_line_protocol_like_text(
        input in proptest::collection::vec(
            prop_oneof![
                Just(b'\\'), Just(b','), Just(b'='), Just(b' '), Just(b'"'), Just(b'\n'), Just(b'#'),
                Just(b'i'), Just(b'u'), Just(b't'), Just(b'-'), Just(b'.'), Just(b'e'), b'0'..=b'9', b'a'..=b'z',
                Just(0xc3), Just(0xa9),
            ],
            0..256,
        )
    ) {
        let lines = LineParser::new(&input).count();
        prop_assert!(lines <= input.iter().filter(|&&b| b == b'\n').count() + 1);
    }

    #[test]
    fn escaped_names_round_trip(measurement in "[a-z ,=\\\\]{1,12}", key in "[a-z ,=\\\\]{1,12}", value in "[a-z ,=\\\\]{1,12}") {
        // Escape as client libraries do: backslashes first, then the element's special characters.
        let escape = |text: &str, specials: &[char]| {
            let mut out = String::new();
            for c in text.chars() {
                if c == '\\' || specials.contains(&c) {
                    out.push('\\');
                }
                out.push(c);
            }
            out
        };
        let line = format!(
            "{},{}={} f=1",
            escape(&measurement, &[',', ' ']),
            escape(&key, &[',', ' ', '=']),
            escape(&value, &[',', ' ', '='])
        );
        let point = parse_one(&line).map_err(|error| TestCaseError::fail(format!("{line:?}: {error}")))?;
        prop_assert_eq!(&*point.measurement, measurement.as_str());
        prop_assert_eq!(point.tags, vec![(Cow::Owned(key), Cow::Owned(value))]);
    }
}
