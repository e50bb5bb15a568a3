//! Table tests of relabelling, mirroring cases of Prometheus' `relabel_test.go`.

use panoptes_model::Labels;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn configs(yaml: &str) -> Vec<RelabelConfig> {
    serde_saphyr::from_str(yaml).unwrap_or_else(|error| panic!("bad test config: {error}\n{yaml}"))
}

/// Relabels `input` with the YAML list `yaml`; `expected` is `None` when the set is dropped.
#[track_caller]
fn check(input: &[(&str, &str)], yaml: &str, expected: Option<&[(&str, &str)]>) {
    let got = process(&labels(input), &configs(yaml));
    assert_eq!(got, expected.map(labels), "relabel {input:?} with\n{yaml}");
}

#[track_caller]
fn check_invalid(yaml: &str, expected_message: &str) {
    let error = serde_saphyr::from_str::<Vec<RelabelConfig>>(yaml).expect_err("config should be rejected");
    let message = error.to_string();
    assert!(message.contains(expected_message), "got {message:?}, expected it to contain {expected_message:?}");
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];

#[test]
fn replace() {
    check(
        ABC,
        "- source_labels: [a]\n  regex: f(.*)\n  target_label: d\n  replacement: ch${1}-ch${1}\n",
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
    );
    check(
        ABC,
        "- source_labels: [a, b]\n  regex: f(.*);(.*)r\n  target_label: a\n  replacement: b${1}${2}m\n\
         - source_labels: [c, a]\n  regex: (b).*b(.*)ba(.*)\n  target_label: d\n  replacement: $1$2$2$3\n",
        Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz"), ("d", "boooom")]),
    );
    // No match: nothing happens.
    check(&[("a", "foo")], "- source_labels: [a]\n  regex: x(.*)\n  target_label: d\n", Some(&[("a", "foo")]));
    // An empty expansion deletes the target.
    check(
        &[("a", "foo"), ("d", "x")],
        "- source_labels: [a]\n  regex: (f).*\n  target_label: d\n  replacement: $2\n",
        Some(&[("a", "foo")]),
    );
    // Fast path: no source labels sets a constant.
    check(&[("a", "foo")], "- target_label: b\n  replacement: bar\n", Some(&[("a", "foo"), ("b", "bar")]));
    // Variables in the target label.
    check(
        &[("a", "some-name-value")],
        "- source_labels: [a]\n  regex: some-([^-]+)-([^,]+)\n  target_label: ${1}\n  replacement: ${2}\n",
        Some(&[("a", "some-name-value"), ("name", "value")]),
    );
    // An empty expanded target name leaves the set alone.
    check(&[("a", "x")], "- source_labels: [a]\n  target_label: $9\n", Some(&[("a", "x")]));
    // Missing source labels count as empty strings.
    check(&[("a", "x")], "- source_labels: [a, nope]\n  target_label: b\n", Some(&[("a", "x"), ("b", "x;")]));
    // The default regex matches a newline (dot-all).
    check(
        &[("a", "x\ny")],
        "- source_labels: [a]\n  regex: x.y\n  target_label: b\n  replacement: ok\n",
        Some(&[("a", "x\ny"), ("b", "ok")]),
    );
    // Anchored: a partial match is no match.
    check(&[("a", "foo")], "- source_labels: [a]\n  regex: o+\n  target_label: b\n", Some(&[("a", "foo")]));
    // The seed configuration's address rewrite.
    check(
        &[("__address__", "10.0.0.1:80"), ("port", "9102")],
        "- source_labels: [__address__, port]\n  regex: ([^:]+)(?::\\d+)?;(\\d+)\n  target_label: __address__\n  replacement: $1:$2\n",
        Some(&[("__address__", "10.0.0.1:9102"), ("port", "9102")]),
    );
}

#[test]
fn template_expansion_follows_go() {
    let yaml = |replacement: &str| {
        format!("- source_labels: [a]\n  regex: (?P<first>f)(o+)\n  target_label: r\n  replacement: '{replacement}'\n")
    };
    for (replacement, expected) in [
        ("$1", "f"),
        ("${1}", "f"),
        ("${first}", "f"),
        ("$first", "f"),
        ("$2x", ""),
        ("${2}x", "oox"),
        ("$$1", "$1"),
        ("a$", "a$"),
        ("$-", "$-"),
        ("${1", "${1"),
        ("$01", ""),
        ("$0", "foo"),
        ("$nope", ""),
    ] {
        let expected_labels: Vec<(&str, &str)> =
            if expected.is_empty() { vec![("a", "foo")] } else { vec![("a", "foo"), ("r", expected)] };
        check(&[("a", "foo")], &yaml(replacement), Some(&expected_labels));
    }
}

#[test]
fn keep_and_drop() {
    check(ABC, "- source_labels: [a]\n  regex: f.*\n  action: keep\n", Some(ABC));
    check(ABC, "- source_labels: [a]\n  regex: b.*\n  action: keep\n", None);
    check(ABC, "- source_labels: [a]\n  regex: f.*\n  action: drop\n", None);
    check(ABC, "- source_labels: [a]\n  regex: f|o\n  action: drop\n", Some(ABC));
    check(ABC, "- source_labels: [a, b]\n  regex: foo;bar\n  action: KEEP\n", Some(ABC));
    check(ABC, "- source_labels: [a]\n  separator: ','\n  regex: foo\n  action: Drop\n", None);
}

#[test]
fn keepequal_and_dropequal() {
    let same = &[("a", "foo"), ("b", "foo")];
    check(same, "- source_labels: [a]\n  target_label: b\n  action: keepequal\n", Some(same));
    check(ABC, "- source_labels: [a]\n  target_label: b\n  action: keepequal\n", None);
    check(same, "- source_labels: [a]\n  target_label: b\n  action: dropequal\n", None);
    check(ABC, "- source_labels: [a]\n  target_label: b\n  action: dropequal\n", Some(ABC));
}

#[test]
fn hashmod_matches_prometheus() {
    // Prometheus' relabel_test.go: md5("baz") modulo 1000 is 976.
    check(
        ABC,
        "- source_labels: [c]\n  target_label: d\n  action: hashmod\n  modulus: 1000\n",
        Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "976")]),
    );
    assert_eq!(hashmod("foo", 1000), 696);
    assert_eq!(hashmod("", 10), 8);
    assert_eq!(hashmod("ns1;target1:9100", 3), 1);
    assert_eq!(hashmod("a;b", u64::MAX), 2_420_134_994_223_480_074);
}

#[test]
fn labelmap_labeldrop_labelkeep() {
    check(
        &[("__meta_kubernetes_node_label_zone", "a"), ("__meta_other", "x"), ("job", "j")],
        "- action: labelmap\n  regex: __meta_kubernetes_node_label_(.+)\n",
        Some(&[("__meta_kubernetes_node_label_zone", "a"), ("__meta_other", "x"), ("job", "j"), ("zone", "a")]),
    );
    check(
        &[("a", "foo"), ("b", "bar")],
        "- action: labelmap\n  regex: (.*)\n  replacement: ${1}_x\n",
        Some(&[("a", "foo"), ("a_x", "foo"), ("b", "bar"), ("b_x", "bar")]),
    );
    check(ABC, "- action: labeldrop\n  regex: '[ab]'\n", Some(&[("c", "baz")]));
    check(ABC, "- action: labelkeep\n  regex: '[ab]'\n", Some(&[("a", "foo"), ("b", "bar")]));
    check(ABC, "- action: labeldrop\n  regex: (.*)\n", Some(&[]));
}

#[test]
fn lowercase_and_uppercase() {
    check(
        &[("a", "FoO")],
        "- source_labels: [a]\n  target_label: l\n  action: lowercase\n",
        Some(&[("a", "FoO"), ("l", "foo")]),
    );
    check(&[("a", "FoO")], "- source_labels: [a]\n  target_label: a\n  action: uppercase\n", Some(&[("a", "FOO")]));
}

#[test]
fn validation_errors_match_prometheus() {
    check_invalid(
        "- action: hashmod\n  target_label: x\n",
        "relabel configuration for hashmod requires non-zero modulus",
    );
    check_invalid("- source_labels: [a]\n", "relabel configuration for replace action requires 'target_label' value");
    check_invalid(
        "- action: lowercase\n  source_labels: [a]\n",
        "relabel configuration for lowercase action requires 'target_label' value",
    );
    check_invalid(
        "- action: uppercase\n  target_label: a\n  replacement: x\n",
        "'replacement' can not be set for uppercase action",
    );
    check_invalid(
        "- action: keepequal\n  target_label: a\n  regex: x\n",
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_invalid(
        "- action: dropequal\n  target_label: a\n  separator: ','\n",
        "dropequal action requires only 'source_labels' and `target_label`, and no other fields",
    );
    check_invalid(
        "- action: labeldrop\n  source_labels: [a]\n",
        "labeldrop action requires only 'regex', and no other fields",
    );
    check_invalid(
        "- action: labelkeep\n  replacement: x\n",
        "labelkeep action requires only 'regex', and no other fields",
    );
    check_invalid("- action: labelmap\n  replacement: ''\n", "\"\" is invalid 'replacement' for labelmap action");
    check_invalid("- action: frobnicate\n", "unknown relabel action \"frobnicate\"");
    check_invalid("- regex: '(a'\n  target_label: x\n", "invalid regular expression \"(a\"");
    check_invalid("- target_label: x\n  regexp: a\n", "regexp");
    check_invalid("- source_labels: ['']\n  target_label: x\n", "\"\" is not a valid label name");
}

#[test]
fn defaults_are_prometheus_defaults() {
    let config = &configs("- target_label: x\n")[0];
    assert_eq!(config.action, Action::Replace);
    assert_eq!(config.separator, ";");
    assert_eq!(config.regex.as_str(), "(.*)");
    assert_eq!(config.replacement, "$1");
    assert_eq!(*config, RelabelConfig { target_label: "x".to_owned(), ..RelabelConfig::default() });
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn replace_never_panics_on_any_template(
            template in "[$a-z0-9{}_é]{0,12}",
            value in "\\PC{0,12}",
        ) {
            let config = RelabelConfig {
                source_labels: vec!["a".to_owned()],
                regex: Regex::new("(?P<x>.)(.*)").expect("compiles"),
                target_label: "t".to_owned(),
                replacement: template,
                ..RelabelConfig::default()
            };
            let input = labels(&[("a", &value)]);
            let output = process(&input, std::slice::from_ref(&config));
            prop_assert!(output.is_some());
        }

        #[test]
        fn hashmod_stays_below_modulus(value in "\\PC{0,16}", modulus in 1u64..1000) {
            prop_assert!(hashmod(&value, modulus) < modulus);
        }
    }
}
