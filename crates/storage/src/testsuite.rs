//! Conformance checks that every [`Storage`] implementation must pass.
//!
//! Run them from the implementation's tests with a factory that returns a fresh, empty store:
//! `panoptes_storage::testsuite::run(&|| Box::new(MemStorage::new()))`. Each check panics with a
//! message naming what differs.

use panoptes_model::{Labels, MatchOp, Matcher, Sample, stale_nan};

use crate::{Error, SeriesHandle, Storage, collect_samples};

/// Builds a fresh, empty store for one check.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Storage>;

/// Runs every check against stores made by `factory`.
pub fn run(factory: Factory<'_>) {
    append_then_query_returns_samples_in_range(factory());
    uncommitted_batches_are_invisible(factory());
    sample_errors_do_not_reject_the_batch(factory());
    duplicate_samples(factory());
    matchers_select_series(factory());
    label_names_and_values(factory());
    seek_semantics(factory());
    staleness_marker_bits_are_preserved(factory());
    many_samples_round_trip(factory());
    append_pairs_addresses_the_same_series(factory());
    handles_address_their_series_in_their_store_only(factory, factory());
}

/// Returns a label set from a metric name and pairs.
pub fn series(name: &str, pairs: &[(&str, &str)]) -> Labels {
    let mut all = vec![("__name__", name)];
    all.extend_from_slice(pairs);
    Labels::from_pairs(all)
}

fn append_all(store: &dyn Storage, data: &[(Labels, i64, f64)]) {
    let mut appender = store.appender();
    for (labels, t, v) in data {
        appender.append(labels, *t, *v).unwrap_or_else(|e| panic!("append {labels} {t}: {e}"));
    }
    appender.commit().expect("commit");
}

/// Returns every selected series with its samples, for comparisons.
pub fn query(store: &dyn Storage, mint: i64, maxt: i64, matchers: &[Matcher]) -> Vec<(Labels, Vec<Sample>)> {
    let querier = store.querier(mint, maxt).expect("querier");
    querier
        .select(matchers)
        .expect("select")
        .map(|series| {
            let mut series = series.expect("series");
            let samples = collect_samples(series.samples.as_mut());
            if let Some(error) = series.samples.take_error() {
                panic!("iterating {}: {error}", series.labels);
            }
            (series.labels, samples)
        })
        .collect()
}

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).expect("matcher")
}

fn points(samples: &[Sample]) -> Vec<(i64, f64)> {
    samples.iter().map(|s| (s.t, s.v)).collect()
}

fn append_then_query_returns_samples_in_range(store: Box<dyn Storage>) {
    let a = series("up", &[("job", "b")]);
    let b = series("up", &[("job", "a")]);
    append_all(
        &*store,
        &[(a.clone(), 1000, 1.0), (b.clone(), 1000, 2.0), (a.clone(), 2000, 3.0), (b.clone(), 3000, 4.0)],
    );
    let got = query(&*store, 0, 10_000, &[Matcher::equal("__name__", "up")]);
    assert_eq!(got.len(), 2, "two series");
    assert_eq!(got[0].0, b, "series sorted by labels");
    assert_eq!(points(&got[0].1), vec![(1000, 2.0), (3000, 4.0)]);
    assert_eq!(points(&got[1].1), vec![(1000, 1.0), (2000, 3.0)]);
    // Range bounds are inclusive and series without samples in range are left out.
    let got = query(&*store, 2000, 2500, &[Matcher::equal("__name__", "up")]);
    assert_eq!(got.len(), 1, "only job=b has a sample in [2000, 2500]: {got:?}");
    assert_eq!(points(&got[0].1), vec![(2000, 3.0)]);
}

fn uncommitted_batches_are_invisible(store: Box<dyn Storage>) {
    let a = series("m", &[]);
    let mut appender = store.appender();
    appender.append(&a, 1, 1.0).expect("append");
    assert!(query(&*store, 0, 10, &[]).is_empty(), "uncommitted sample visible");
    drop(appender);
    assert!(query(&*store, 0, 10, &[]).is_empty(), "dropped batch visible");
}

fn sample_errors_do_not_reject_the_batch(store: Box<dyn Storage>) {
    let a = series("m", &[("i", "1")]);
    append_all(&*store, &[(a.clone(), 100, 1.0)]);
    let mut appender = store.appender();
    let out_of_order = appender.append(&a, 50, 2.0);
    assert!(matches!(out_of_order, Err(Error::OutOfOrder { .. } | Error::TooOld { .. })), "got {out_of_order:?}");
    let invalid = appender.append(&Labels::from_pairs([("job", "x")]), 200, 1.0);
    assert!(matches!(invalid, Err(Error::InvalidLabels(_))), "got {invalid:?}");
    appender.append(&a, 200, 3.0).expect("valid sample after errors");
    appender.commit().expect("commit");
    let got = query(&*store, 0, 1000, &[]);
    assert_eq!(points(&got[0].1), vec![(100, 1.0), (200, 3.0)]);
    let message = out_of_order.unwrap_err().to_string();
    assert!(message.contains(r#"m{i="1"}"#), "error names the series: {message}");
}

fn duplicate_samples(store: Box<dyn Storage>) {
    let a = series("m", &[]);
    append_all(&*store, &[(a.clone(), 100, 1.0)]);
    let mut appender = store.appender();
    appender.append(&a, 100, 1.0).expect("identical duplicate is accepted");
    let different = appender.append(&a, 100, 2.0);
    assert!(matches!(different, Err(Error::DuplicateSample { .. })), "got {different:?}");
    appender.commit().expect("commit");
    assert_eq!(points(&query(&*store, 0, 1000, &[])[0].1), vec![(100, 1.0)]);

    // Within one uncommitted batch, against the batch's own newest sample.
    let mut appender = store.appender();
    appender.append(&a, 200, 1.0).expect("new sample");
    appender.append(&a, 200, 1.0).expect("identical repeat within the batch is accepted");
    let different = appender.append(&a, 200, 2.0);
    assert!(matches!(different, Err(Error::DuplicateSample { .. })), "got {different:?}");
    let older = appender.append(&a, 150, 5.0);
    assert!(matches!(older, Err(Error::OutOfOrder { .. } | Error::TooOld { .. })), "got {older:?}");
    appender.append(&a, 300, 3.0).expect("newer sample within the batch");
    appender.commit().expect("commit");
    assert_eq!(points(&query(&*store, 0, 1000, &[])[0].1), vec![(100, 1.0), (200, 1.0), (300, 3.0)]);
}

fn matchers_select_series(store: Box<dyn Storage>) {
    let data = [
        series("http_requests", &[("code", "200"), ("path", "/api")]),
        series("http_requests", &[("code", "500"), ("path", "/api")]),
        series("http_requests", &[("code", "200")]),
        series("http_errors", &[("path", "/a\nb")]),
    ];
    append_all(&*store, &data.iter().map(|l| (l.clone(), 10, 1.0)).collect::<Vec<_>>());
    #[track_caller]
    fn check(store: &dyn Storage, matchers: &[Matcher], expected: &[&Labels]) {
        let got: Vec<Labels> = query(store, 0, 100, matchers).into_iter().map(|(l, _)| l).collect();
        let expected: Vec<Labels> = expected.iter().map(|l| (*l).clone()).collect();
        assert_eq!(got, expected, "matchers {matchers:?}");
    }
    let name = Matcher::equal("__name__", "http_requests");
    check(&*store, &[name.clone(), Matcher::equal("code", "200")], &[&data[2], &data[0]]);
    check(&*store, &[name.clone(), m(MatchOp::NotEqual, "code", "200")], &[&data[1]]);
    check(&*store, &[name.clone(), m(MatchOp::Regex, "code", "5..")], &[&data[1]]);
    check(&*store, &[name.clone(), m(MatchOp::Regex, "code", "2")], &[]);
    check(&*store, &[name.clone(), m(MatchOp::NotRegex, "code", "2.*")], &[&data[1]]);
    // An absent label is the empty string.
    check(&*store, &[name.clone(), Matcher::equal("path", "")], &[&data[2]]);
    check(&*store, &[name.clone(), m(MatchOp::Regex, "path", "/api|")], &[&data[2], &data[0], &data[1]]);
    check(&*store, &[name.clone(), m(MatchOp::NotEqual, "path", "")], &[&data[0], &data[1]]);
    check(&*store, &[m(MatchOp::Regex, "__name__", "http_.*")], &[&data[3], &data[2], &data[0], &data[1]]);
    // Dot matches newline.
    check(&*store, &[m(MatchOp::Regex, "path", "/a.b")], &[&data[3]]);
    check(&*store, &[Matcher::equal("__name__", "nothing")], &[]);
}

fn label_names_and_values(store: Box<dyn Storage>) {
    let a = series("a", &[("x", "1"), ("y", "2")]);
    let b = series("b", &[("x", "3"), ("z", "4")]);
    append_all(&*store, &[(a, 10, 1.0), (b, 500, 1.0)]);
    let querier = store.querier(0, 1000).expect("querier");
    assert_eq!(querier.label_names(&[]).expect("names"), ["__name__", "x", "y", "z"]);
    assert_eq!(querier.label_names(&[Matcher::equal("__name__", "b")]).expect("names"), ["__name__", "x", "z"]);
    assert_eq!(querier.label_values("x", &[]).expect("values"), ["1", "3"]);
    assert_eq!(querier.label_values("x", &[Matcher::equal("z", "4")]).expect("values"), ["3"]);
    assert!(querier.label_values("nope", &[]).expect("values").is_empty());
    let early = store.querier(0, 100).expect("querier");
    assert_eq!(early.label_values("__name__", &[]).expect("values"), ["a"], "range restricts values");
}

fn seek_semantics(store: Box<dyn Storage>) {
    let a = series("m", &[]);
    append_all(&*store, &(0..10).map(|i| (a.clone(), i * 10, i as f64)).collect::<Vec<_>>());
    let querier = store.querier(0, 1000).expect("querier");
    let mut set = querier.select(&[]).expect("select");
    let mut series = set.next().expect("one series").expect("ok");
    assert_eq!(series.samples.seek(25).map(|s| s.t), Some(30));
    assert_eq!(series.samples.seek(30).map(|s| s.t), Some(30), "current sample qualifies again");
    assert_eq!(series.samples.next().map(|s| s.t), Some(40));
    assert_eq!(series.samples.seek(0).map(|s| s.t), Some(40), "seek never goes back");
    assert_eq!(series.samples.seek(95), None);
}

fn staleness_marker_bits_are_preserved(store: Box<dyn Storage>) {
    let a = series("m", &[]);
    append_all(&*store, &[(a.clone(), 1, 1.0), (a.clone(), 2, stale_nan()), (a.clone(), 3, f64::NAN)]);
    let got = query(&*store, 0, 10, &[]);
    let bits: Vec<u64> = got[0].1.iter().map(|s| s.v.to_bits()).collect();
    assert_eq!(bits, vec![1f64.to_bits(), stale_nan().to_bits(), f64::NAN.to_bits()]);
}

fn many_samples_round_trip(store: Box<dyn Storage>) {
    // Samples arrive in time order across series, as scrapes and remote write deliver them:
    // stores may refuse samples far behind the newest one.
    let series_list: Vec<Labels> = (0..20).map(|i| series("load", &[("i", &i.to_string())])).collect();
    let mut expected: Vec<Vec<(i64, f64)>> = vec![Vec::new(); series_list.len()];
    for step in 0..1000i64 {
        let mut appender = store.appender();
        for (index, labels) in series_list.iter().enumerate() {
            let t = 1_700_000_000_000 + step * 15_000 + index as i64;
            let v = if step % 7 == 0 { step as f64 * 0.25 } else { (step * step) as f64 };
            appender.append(labels, t, v).expect("append");
            expected[index].push((t, v));
        }
        appender.commit().expect("commit");
    }
    let got = query(&*store, i64::MIN, i64::MAX, &[m(MatchOp::Regex, "i", ".+")]);
    assert_eq!(got.len(), 20);
    for (labels, samples) in got {
        let index = series_list.iter().position(|l| *l == labels).expect("known series");
        assert_eq!(points(&samples), expected[index], "samples of {labels}");
    }
}

fn append_pairs_addresses_the_same_series(store: Box<dyn Storage>) {
    let labels = series("m", &[("a", "1"), ("b", "2")]);
    append_all(&*store, &[(labels.clone(), 10, 1.0)]);
    let mut appender = store.appender();
    appender.append_pairs(&[("__name__", "m"), ("a", "1"), ("b", "2")], 20, 2.0).expect("canonical pairs");
    // Not canonical (unsorted, an empty value): still the same series.
    appender.append_pairs(&[("b", "2"), ("__name__", "m"), ("a", "1"), ("c", "")], 30, 3.0).expect("other order");
    let error = appender.append_pairs(&[("__name__", "m"), ("a", "1"), ("b", "2")], 5, 0.0);
    assert!(matches!(error, Err(Error::OutOfOrder { .. } | Error::TooOld { .. })), "{error:?}");
    let invalid = appender.append_pairs(&[("a", "1")], 40, 1.0);
    assert!(matches!(invalid, Err(Error::InvalidLabels(_))), "{invalid:?}");
    appender.append_pairs(&[("__name__", "n")], 40, 4.0).expect("a new series from pairs");
    appender.commit().expect("commit");
    let got = query(&*store, 0, 100, &[]);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, labels);
    assert_eq!(points(&got[0].1), vec![(10, 1.0), (20, 2.0), (30, 3.0)]);
    assert_eq!(points(&got[1].1), vec![(40, 4.0)]);
}

fn handles_address_their_series_in_their_store_only(factory: Factory<'_>, store: Box<dyn Storage>) {
    let a = series("m", &[("a", "1")]);
    let b = series("m", &[("a", "2")]);
    let mut handle_a: Option<SeriesHandle> = None;
    let mut handle_b: Option<SeriesHandle> = None;
    let mut appender = store.appender();
    for t in [10, 20] {
        appender.append_with_handle(&mut handle_a, &a, t, t as f64).expect("append a");
        appender.append_with_handle(&mut handle_b, &b, t, -(t as f64)).expect("append b");
    }
    let error = appender.append_with_handle(&mut handle_a, &a, 5, 0.0);
    assert!(matches!(error, Err(Error::OutOfOrder { .. } | Error::TooOld { .. })), "{error:?}");
    appender.commit().expect("commit");
    // Handles outlive the appender that filled them.
    let mut appender = store.appender();
    appender.append_with_handle(&mut handle_a, &a, 30, 30.0).expect("append a again");
    appender.commit().expect("commit");
    let got = query(&*store, 0, 100, &[]);
    assert_eq!(got.len(), 2);
    assert_eq!((&got[0].0, points(&got[0].1)), (&a, vec![(10, 10.0), (20, 20.0), (30, 30.0)]));
    assert_eq!((&got[1].0, points(&got[1].1)), (&b, vec![(10, -10.0), (20, -20.0)]));

    // Another store of the same kind must not follow this store's handle.
    let other = factory();
    let mut appender = other.appender();
    appender.append_with_handle(&mut handle_a, &b, 40, 40.0).expect("append b to the other store");
    appender.commit().expect("commit");
    let got = query(&*other, 0, 100, &[]);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!((&got[0].0, points(&got[0].1)), (&b, vec![(40, 40.0)]));
    assert_eq!(query(&*store, 0, 100, &[]).len(), 2, "the first store is unchanged");

    // A store with handles also appends through a handle alone; other stores refuse it. (A
    // handle may stop working when the store drops or reloads the series, so it is taken anew.)
    let mut appender = store.appender();
    let mut handle = None;
    appender.append_with_handle(&mut handle, &b, 30, -30.0).expect("append b");
    let Some(handle) = handle else { return };
    assert!(appender.append_by_handle(&handle, 40, -40.0).expect("append b by handle"));
    let error = appender.append_by_handle(&handle, 25, 0.0);
    assert!(matches!(error, Err(Error::OutOfOrder { .. } | Error::TooOld { .. })), "{error:?}");
    appender.commit().expect("commit");
    let mut appender = other.appender();
    assert!(!appender.append_by_handle(&handle, 50, 50.0).expect("another store's handle"), "not this store's");
    appender.commit().expect("commit");
    let got = query(&*store, 0, 100, &[]);
    assert_eq!((&got[1].0, points(&got[1].1)), (&b, vec![(10, -10.0), (20, -20.0), (30, -30.0), (40, -40.0)]));
    assert_eq!(query(&*other, 0, 100, &[]).len(), 1, "the other store is unchanged");
}
