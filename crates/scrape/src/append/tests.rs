//! Tests of appending scrapes, against the in-memory reference store.

use panoptes_model::{MatchOp, Matcher, is_stale_nan};
use panoptes_storage::{MemStorage, collect_samples};

use super::*;

const TEXT: Format = Format::PrometheusText;

fn target() -> Labels {
    Labels::from_pairs([("job", "node"), ("instance", "a:9100")])
}

fn options() -> AppendOptions<'static> {
    AppendOptions {
        honor_labels: false,
        honor_timestamps: true,
        track_timestamps_staleness: false,
        metric_relabel_configs: &[],
        sample_limit: 0,
        label_limit: 0,
        label_name_length_limit: 0,
        label_value_length_limit: 0,
        name_validation_scheme: crate::config::NameValidationScheme::Utf8,
    }
}

/// Renders every stored series with its samples (`S` for a staleness marker).
fn dump(storage: &MemStorage) -> String {
    let querier = storage.querier(i64::MIN, i64::MAX).expect("querier");
    let matcher = Matcher::new(MatchOp::Regex, "__name__", ".+").expect("matcher");
    let mut lines = Vec::new();
    for series in querier.select(&[matcher]).expect("select") {
        let mut series = series.expect("series");
        let samples: Vec<String> =
            collect_samples(series.samples.as_mut())
                .iter()
                .map(|sample| {
                    if is_stale_nan(sample.v) {
                        format!("S@{}", sample.t)
                    } else {
                        format!("{}@{}", sample.v, sample.t)
                    }
                })
                .collect();
        lines.push(format!("{} {}", series.labels, samples.join(" ")));
    }
    lines.join("\n")
}

#[track_caller]
fn check_storage(storage: &MemStorage, expected: &str) {
    assert_eq!(dump(storage), expected.trim());
}

#[test]
fn target_labels_are_attached_and_clashes_exported() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    let page = b"a{job=\"x\"} 1\nb{exported_job=\"y\",job=\"z\"} 2\nc 3 500\n";
    let report = cache.append_page(&storage, page, TEXT, &target(), &options(), 1000).expect("appends");
    assert_eq!(report.samples_scraped, 3);
    assert_eq!(report.samples_post_metric_relabeling, 3);
    assert_eq!(report.series_added, 3);
    check_storage(
        &storage,
        r#"
a{exported_job="x", instance="a:9100", job="node"} 1@1000
b{exported_exported_job="z", exported_job="y", instance="a:9100", job="node"} 2@1000
c{instance="a:9100", job="node"} 3@500
"#,
    );
}

#[test]
fn honor_labels_keeps_exposed_values_and_timestamps_can_be_ignored() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    let options = AppendOptions { honor_labels: true, honor_timestamps: false, ..options() };
    cache.append_page(&storage, b"a{job=\"x\"} 1 500\n", TEXT, &target(), &options, 1000).expect("appends");
    check_storage(&storage, r#"a{instance="a:9100", job="x"} 1@1000"#);
}

#[test]
fn vanished_series_get_staleness_markers() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    cache.append_page(&storage, b"a 1\nb 2\nt 3 100\n", TEXT, &target(), &options(), 1000).expect("first");
    let report = cache.append_page(&storage, b"a 4\nc 5\n", TEXT, &target(), &options(), 2000).expect("second");
    assert_eq!(report.series_added, 1);
    // `t` had an explicit timestamp, so it is not tracked for staleness.
    check_storage(
        &storage,
        r#"
a{instance="a:9100", job="node"} 1@1000 4@2000
b{instance="a:9100", job="node"} 2@1000 S@2000
c{instance="a:9100", job="node"} 5@2000
t{instance="a:9100", job="node"} 3@100
"#,
    );
}

#[test]
fn series_that_move_on_the_page_are_still_known() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    let first = b"a{k=\"1\"} 1\nb{k=\"2\"} 2\nc{k=\"3\"} 3\n";
    assert_eq!(cache.append_page(&storage, first, TEXT, &target(), &options(), 1000).expect("first").series_added, 3);
    // Reordered, with a new series in the middle and one twice.
    let second = b"c{k=\"3\"} 13\nx{k=\"9\"} 19\na{k=\"1\"} 11\nb{k=\"2\"} 12\nc{k=\"3\"} 13\n";
    let report = cache.append_page(&storage, second, TEXT, &target(), &options(), 2000).expect("second");
    assert_eq!((report.samples_scraped, report.series_added), (5, 1));
    // `b` and `x` vanish; `a` and `c` keep their order.
    let third = b"a{k=\"1\"} 21\nc{k=\"3\"} 23\n";
    let report = cache.append_page(&storage, third, TEXT, &target(), &options(), 3000).expect("third");
    assert_eq!((report.samples_scraped, report.series_added), (2, 0));
    assert_eq!(cache.len(), 2);
    let fourth = b"b{k=\"2\"} 32\na{k=\"1\"} 31\nc{k=\"3\"} 33\n";
    let report = cache.append_page(&storage, fourth, TEXT, &target(), &options(), 4000).expect("fourth");
    assert_eq!((report.samples_scraped, report.series_added), (3, 1));
    check_storage(
        &storage,
        r#"
a{instance="a:9100", job="node", k="1"} 1@1000 11@2000 21@3000 31@4000
b{instance="a:9100", job="node", k="2"} 2@1000 12@2000 S@3000 32@4000
c{instance="a:9100", job="node", k="3"} 3@1000 13@2000 23@3000 33@4000
x{instance="a:9100", job="node", k="9"} 19@2000 S@3000
"#,
    );
}

#[test]
fn failed_scrape_discards_page_and_marks_previous_series_stale() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    cache.append_page(&storage, b"a 1\n", TEXT, &target(), &options(), 1000).expect("first");
    let error = cache.append_page(&storage, b"b 2\nc{ 3\n", TEXT, &target(), &options(), 2000).expect_err("bad page");
    assert!(matches!(error, AppendError::Parse(_)), "{error}");
    check_storage(&storage, r#"a{instance="a:9100", job="node"} 1@1000 S@2000"#);
    // The next good scrape starts over.
    cache.append_page(&storage, b"a 3\n", TEXT, &target(), &options(), 3000).expect("third");
    check_storage(&storage, r#"a{instance="a:9100", job="node"} 1@1000 S@2000 3@3000"#);
}

#[test]
fn limits_fail_the_scrape_with_prometheus_messages() {
    let page = b"a{x=\"1\"} 1\nb{long_label_name=\"vvvvvvvvvv\"} 2\nc 3\n";
    let check = |options: AppendOptions<'_>, expected: &str| {
        let storage = MemStorage::new();
        let error = ScrapeCache::new().append_page(&storage, page, TEXT, &target(), &options, 1000).expect_err("limit");
        assert_eq!(error.to_string(), expected);
        assert_eq!(dump(&storage), "", "nothing of a failed page is stored");
    };
    check(AppendOptions { sample_limit: 2, ..options() }, "sample limit exceeded");
    check(
        AppendOptions { label_limit: 3, ..options() },
        "label_limit exceeded (metric: a, number of labels: 4, limit: 3)",
    );
    check(
        AppendOptions { label_name_length_limit: 10, ..options() },
        "label_name_length_limit exceeded (metric: b, label name: long_label_name, length: 15, limit: 10)",
    );
    check(
        AppendOptions { label_value_length_limit: 9, ..options() },
        r#"label_value_length_limit exceeded (metric: b, label name: long_label_name, value: "vvvvvvvvvv", length: 10, limit: 9)"#,
    );
}

#[test]
fn metric_relabelling_drops_and_rewrites_series() {
    let relabel: Vec<RelabelConfig> = serde_saphyr::from_str(
        "- {source_labels: [__name__], regex: 'go_.*', action: drop}\n- {target_label: env, replacement: prod}\n",
    )
    .expect("relabel config");
    let options = AppendOptions { metric_relabel_configs: &relabel, sample_limit: 1, ..options() };
    let storage = MemStorage::new();
    let report = ScrapeCache::new()
        .append_page(&storage, b"go_goroutines 7\nhttp_requests_total 9\n", TEXT, &target(), &options, 1000)
        .expect("dropped samples do not count against the limit");
    assert_eq!((report.samples_scraped, report.samples_post_metric_relabeling), (2, 1));
    check_storage(&storage, r#"http_requests_total{env="prod", instance="a:9100", job="node"} 9@1000"#);

    let unnamed: Vec<RelabelConfig> =
        serde_saphyr::from_str("- {action: labeldrop, regex: __name__}\n").expect("relabel");
    let options = AppendOptions { metric_relabel_configs: &unnamed, ..options };
    let error =
        ScrapeCache::new().append_page(&storage, b"x 1\n", TEXT, &target(), &options, 1000).expect_err("no name");
    assert_eq!(error.to_string(), "missing metric name (__name__ label)");
}

#[test]
fn out_of_order_samples_are_counted_not_fatal() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    cache.append_page(&storage, b"a 1 5000\n", TEXT, &target(), &options(), 5000).expect("first");
    let report = cache.append_page(&storage, b"a 2 4000\nb 1\n", TEXT, &target(), &options(), 6000).expect("second");
    assert_eq!(report.out_of_order, 1);
    assert_eq!(report.samples_post_metric_relabeling, 2);
}

#[test]
fn report_series_carry_target_labels() {
    let storage = MemStorage::new();
    let outcome = ScrapeOutcome {
        is_up: true,
        duration: Duration::from_millis(250),
        report: AppendReport {
            samples_scraped: 3,
            samples_post_metric_relabeling: 2,
            series_added: 1,
            ..AppendReport::default()
        },
        extra: Some(ExtraScrapeMetrics { timeout: Duration::from_secs(10), sample_limit: 0, body_size_bytes: 42 }),
    };
    append_report(&storage, &target(), &outcome, 1000).expect("report");
    check_storage(
        &storage,
        r#"
scrape_body_size_bytes{instance="a:9100", job="node"} 42@1000
scrape_duration_seconds{instance="a:9100", job="node"} 0.25@1000
scrape_sample_limit{instance="a:9100", job="node"} 0@1000
scrape_samples_post_metric_relabeling{instance="a:9100", job="node"} 2@1000
scrape_samples_scraped{instance="a:9100", job="node"} 3@1000
scrape_series_added{instance="a:9100", job="node"} 1@1000
scrape_timeout_seconds{instance="a:9100", job="node"} 10@1000
up{instance="a:9100", job="node"} 1@1000
"#,
    );
    append_report_stale(&storage, &target(), false, 2000).expect("stale");
    assert!(dump(&storage).contains(r#"up{instance="a:9100", job="node"} 1@1000 S@2000"#));
    assert!(dump(&storage).contains(r#"scrape_timeout_seconds{instance="a:9100", job="node"} 10@1000"#));
}

#[test]
fn legacy_name_validation_rejects_utf8_names() {
    let page = b"{\"http.requests\"} 1\n";
    let storage = MemStorage::new();
    ScrapeCache::new().append_page(&storage, page, TEXT, &target(), &options(), 1000).expect("utf8 names are fine");
    let legacy = AppendOptions { name_validation_scheme: crate::config::NameValidationScheme::Legacy, ..options() };
    let error = ScrapeCache::new().append_page(&storage, page, TEXT, &target(), &legacy, 2000).expect_err("legacy");
    assert_eq!(
        error.to_string(),
        r#"invalid metric name or label names: {"http.requests", instance="a:9100", job="node"}"#
    );
    let error = ScrapeCache::new()
        .append_page(&storage, b"ok{\"a.b\"=\"x\"} 1\n", TEXT, &target(), &legacy, 2000)
        .expect_err("legacy label name");
    assert!(matches!(error, AppendError::InvalidNames { .. }), "{error}");
}

#[test]
fn known_series_reuse_their_labels_until_the_labelling_changes() {
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    let rename: Vec<RelabelConfig> =
        serde_saphyr::from_str("- {source_labels: [mode], target_label: state}\n- {action: labeldrop, regex: mode}\n")
            .expect("relabel");
    let renaming = AppendOptions { metric_relabel_configs: &rename, ..options() };
    let page = b"cpu{mode=\"idle\"} 1\ncpu{mode=\"user\"} 2\n";
    cache.append_page(&storage, page, TEXT, &target(), &renaming, 1000).expect("appends");
    let report = cache.append_page(&storage, page, TEXT, &target(), &renaming, 2000).expect("appends");
    assert_eq!((report.samples_scraped, report.series_added), (2, 0));
    assert_eq!(cache.len(), 2);

    // The relabelling is removed (a reload): labels are built again, the renamed series end.
    cache.reset_labels();
    let report = cache.append_page(&storage, page, TEXT, &target(), &options(), 3000).expect("appends");
    assert_eq!(report.series_added, 2);
    check_storage(
        &storage,
        r#"
cpu{instance="a:9100", job="node", mode="idle"} 1@3000
cpu{instance="a:9100", job="node", mode="user"} 2@3000
cpu{instance="a:9100", job="node", state="idle"} 1@1000 1@2000 S@3000
cpu{instance="a:9100", job="node", state="user"} 2@1000 2@2000 S@3000
"#,
    );
}
