//! Engine tests against the in-memory store.

use panoptes_model::Labels;
use panoptes_storage::{MemStorage, Storage};

use super::*;

type SeriesSpec<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

fn store(series: &[SeriesSpec<'_>]) -> MemStorage {
    let storage = MemStorage::new();
    let mut appender = storage.appender();
    for (labels, samples) in series {
        let labels = Labels::from_pairs(labels.iter().copied());
        for (t, v) in *samples {
            appender.append(&labels, *t, *v).expect("append");
        }
    }
    appender.commit().expect("commit");
    storage
}

#[test]
fn instant_selector_uses_lookback_and_staleness() {
    let storage = store(&[(&[("__name__", "up")], &[(0, 1.0), (60_000, panoptes_model::stale_nan())])]);
    let engine = Engine::default();
    let (value, _) = engine.instant_query(&storage, "up", 30_000).expect("query");
    assert!(matches!(&value, Value::Vector(v) if v.len() == 1 && v[0].v == 1.0));
    let (value, _) = engine.instant_query(&storage, "up", 61_000).expect("query");
    assert_eq!(value, Value::Vector(Vec::new()));
}

#[test]
fn rate_drops_the_metric_name_and_reports_non_counters() {
    let storage = store(&[(&[("__name__", "requests")], &[(0, 0.0), (60_000, 60.0), (120_000, 120.0)])]);
    let (value, annotations) = Engine::default().instant_query(&storage, "rate(requests[2m])", 120_000).expect("query");
    let Value::Vector(vector) = value else { panic!("expected a vector") };
    assert_eq!(vector[0].labels, Labels::empty());
    assert!((vector[0].v - 1.0).abs() < 1e-9);
    assert_eq!(
        annotations.infos,
        vec![
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \
             \"requests\" (1:6)"
                .to_owned()
        ]
    );
}

#[test]
fn rate_over_many_non_counters_reports_one_info_per_name() {
    let storage = MemStorage::new();
    let mut appender = storage.appender();
    for i in 0..300 {
        let labels = Labels::from_pairs([("__name__", "requests"), ("instance", &*i.to_string())]);
        for t in 0..20 {
            appender.append(&labels, t * 60_000, (t * i) as f64).expect("append");
        }
    }
    appender.commit().expect("commit");
    // `label_replace` runs step by step over its steppable argument.
    let query = "label_replace(rate(requests[2m]), \"a\", \"b\", \"\", \"\")";
    let (value, annotations) =
        Engine::default().range_query(&storage, query, 120_000, 1_140_000, 60_000).expect("query");
    let Value::Matrix(matrix) = value else { panic!("expected a matrix") };
    assert_eq!(matrix.len(), 300);
    assert_eq!(annotations.infos.len(), 1, "{:?}", annotations.infos);
    assert!(annotations.infos[0].contains("\"requests\""), "{:?}", annotations.infos);
}

#[test]
fn range_query_rejects_duplicate_labelsets() {
    let storage =
        store(&[(&[("__name__", "a"), ("x", "1")], &[(0, 1.0)]), (&[("__name__", "b"), ("x", "1")], &[(0, 2.0)])]);
    let error = Engine::default().range_query(&storage, "abs({x=\"1\"})", 0, 60_000, 30_000).expect_err("duplicate");
    assert_eq!(error.to_string(), "vector cannot contain metrics with the same labelset");
}

#[test]
fn extreme_offsets_and_at_values_do_not_panic() {
    let storage = store(&[(&[("__name__", "up")], &[(0, 1.0)])]);
    let engine = Engine::default();
    for query in [
        "up offset 292y",
        "up offset -292y",
        "rate(up[292y] offset -292y)",
        "up @ 9000000000000",
        "max_over_time(up[1h:1m] offset -292y)",
        "predict_linear(up[292y], 1e300)",
        "day_of_month(vector(1e300))",
    ] {
        let _ = engine.instant_query(&storage, query, 0);
        let _ = engine.range_query(&storage, query, i64::MAX - 10, i64::MAX, 5);
    }
}

#[test]
fn subquery_respects_the_sample_limit() {
    let storage = store(&[(&[("__name__", "up")], &[(0, 1.0)])]);
    let engine = Engine::new(EngineOptions { max_samples: 100, ..EngineOptions::default() });
    let error = engine.instant_query(&storage, "max_over_time(vector(1)[1d:1s])", 0).expect_err("limit");
    assert!(matches!(error, Error::TooManySamples), "{error}");
}

#[test]
fn queries_time_out() {
    let storage = store(&[(&[("__name__", "up")], &[(0, 1.0)])]);
    let engine = Engine::new(EngineOptions { timeout: std::time::Duration::ZERO, ..EngineOptions::default() });
    std::thread::sleep(std::time::Duration::from_millis(2));
    let error = engine.range_query(&storage, "up", 0, 3_600_000, 1_000).expect_err("timeout");
    assert!(matches!(error, Error::Timeout), "{error}");
}

#[test]
fn cancelled_queries_stop() {
    let storage = store(&[(&[("__name__", "up")], &[(0, 1.0)])]);
    let token = crate::CancelToken::new();
    let engine = Engine::new(EngineOptions { cancel: Some(token.clone()), ..EngineOptions::default() });
    assert!(engine.instant_query(&storage, "up", 0).is_ok(), "not cancelled yet");
    token.cancel();
    let error = engine.range_query(&storage, "up", 0, 3_600_000, 1_000).expect_err("cancelled");
    assert!(matches!(error, Error::Canceled), "{error}");
    assert_eq!(error.to_string(), "query was canceled in query execution");
}

#[test]
fn refuses_native_histogram_functions_instead_of_answering() {
    let storage = store(&[(&[("__name__", "up")], &[(0, 1.0)])]);
    let error = Engine::default().instant_query(&storage, "histogram_count(up)", 0).expect_err("refused");
    assert!(matches!(error, Error::Unsupported(_)), "{error}");
}

#[test]
fn binary_matching_reports_many_to_many() {
    let storage = store(&[
        (&[("__name__", "a"), ("job", "x"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("job", "x"), ("i", "1")], &[(0, 1.0)]),
        (&[("__name__", "b"), ("job", "x"), ("i", "2")], &[(0, 1.0)]),
    ]);
    let engine = Engine::default();
    let error = engine.instant_query(&storage, "a + on(job) b", 0).expect_err("many-to-many");
    assert!(error.to_string().starts_with("found duplicate series for the match group {job=\"x\"}"), "{error}");
    let (value, _) = engine.instant_query(&storage, "b * on(job) group_left a", 0).expect("group_left");
    assert!(matches!(value, Value::Vector(v) if v.len() == 2));
}

#[test]
fn range_query_refuses_label_sets_that_collide_within_a_step() {
    let storage = panoptes_storage::MemStorage::new();
    let mut appender = panoptes_storage::Storage::appender(&storage);
    for job in ["a", "b"] {
        let labels = panoptes_model::Labels::from_pairs([("__name__", "up"), ("job", job)]);
        for t in [0, 60_000] {
            appender.append(&labels, t, 1.0).unwrap();
        }
    }
    appender.commit().unwrap();
    let engine = crate::Engine::default();
    let error = engine
        .range_query(&storage, r#"label_replace(up, "job", "same", "job", ".*")"#, 0, 60_000, 30_000)
        .unwrap_err();
    assert_eq!(error.to_string(), "vector cannot contain metrics with the same labelset");
    assert!(matches!(error, crate::Error::Execution(_)));
    // Without the collision the same query succeeds.
    assert!(engine.range_query(&storage, r#"label_replace(up, "j2", "$1", "job", "(.*)")"#, 0, 60_000, 30_000).is_ok());
}

#[test]
fn series_shared_among_workers_keep_their_own_values() {
    // Enough series for several workers: series `i` is a counter rising by `i` per second.
    let storage = MemStorage::new();
    let series = 5_000;
    for i in 0..series {
        let mut appender = storage.appender();
        let (name, group) = (format!("{i:05}"), format!("{}", i % 3));
        let labels = Labels::from_pairs([("__name__", "x_total"), ("i", name.as_str()), ("g", group.as_str())]);
        for t in (0..=900).step_by(30) {
            appender.append(&labels, t * 1000, (i * t) as f64).expect("append");
        }
        appender.commit().expect("commit");
    }
    let engine = Engine::default();
    let (value, _) = engine.range_query(&storage, "rate(x_total[5m])", 600_000, 900_000, 60_000).expect("range");
    let Value::Matrix(matrix) = value else { panic!("expected a matrix") };
    assert_eq!(matrix.len(), series as usize);
    let mut seen = vec![false; series as usize];
    for row in &matrix {
        let i: usize = row.labels.get("i").and_then(|i| i.parse().ok()).expect("label i");
        assert!(!std::mem::replace(&mut seen[i], true), "series {i} twice");
        assert_eq!(row.samples.len(), 6);
        for sample in &row.samples {
            assert!((sample.v - i as f64).abs() <= 1e-9 * (i as f64).max(1.0), "series {i}: {sample:?}");
        }
    }
    let (value, _) = engine.instant_query(&storage, "sum by (g) (rate(x_total[5m]))", 900_000).expect("instant");
    let Value::Vector(vector) = value else { panic!("expected a vector") };
    let mut sums: Vec<(String, f64)> =
        vector.iter().map(|s| (s.labels.get("g").unwrap_or_default().to_owned(), s.v)).collect();
    sums.sort_by(|a, b| a.0.cmp(&b.0));
    for (g, sum) in sums {
        let want: i64 = (0..series).filter(|i| format!("{}", i % 3) == g).sum();
        assert!((sum - want as f64).abs() <= 1e-6 * want as f64, "group {g}: {sum} vs {want}");
    }
}

#[test]
fn grid_rate_skips_reset_checks_only_where_there_are_none() {
    // Resets at 90 s and 300 s; each step's rate over the grid must equal the step-by-step
    // evaluation of the same window inside a one-step subquery.
    let values = [0.0, 10.0, 20.0, 5.0, 15.0, 25.0, 35.0, 45.0, 55.0, 65.0, 1.0, 11.0, -3.0, 7.0];
    let samples: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, &v)| (i as i64 * 30_000, v)).collect();
    let storage = store(&[(&[("__name__", "c_total")], &samples)]);
    let engine = Engine::default();
    for function in ["rate", "increase"] {
        let query = format!("{function}(c_total[2m])");
        let (value, _) = engine.range_query(&storage, &query, 60_000, 390_000, 15_000).expect("range");
        let Value::Matrix(matrix) = value else { panic!("expected a matrix") };
        assert_eq!(matrix.len(), 1);
        assert!(matrix[0].samples.len() > 15);
        for sample in &matrix[0].samples {
            let reference = format!("last_over_time({query}[1ms:1ms])");
            let (value, _) = engine.instant_query(&storage, &reference, sample.t).expect("instant");
            let Value::Vector(vector) = value else { panic!("expected a vector") };
            assert_eq!(vector.len(), 1, "{query} at {}", sample.t);
            assert_eq!(
                vector[0].v.to_bits(),
                sample.v.to_bits(),
                "{query} at {}: {} vs {}",
                sample.t,
                vector[0].v,
                sample.v
            );
        }
    }
}

/// 6,000 series (three workers' worth of chunks on any machine with two cores or more) of
/// counters with resets and values of very different magnitudes, so a change in the order in
/// which a group's values are added shows in the last bits of the sums.
fn many_counters() -> MemStorage {
    let storage = MemStorage::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for series in 0..6_000 {
        let labels = Labels::from_pairs([
            ("__name__", "work_total"),
            ("group", ["a", "b", "c"][series % 3]),
            ("series", &format!("{series:05}")),
        ]);
        let mut appender = storage.appender();
        let scale = 10f64.powi((random() % 12) as i32);
        let mut value = 0.0;
        for i in 0..40i64 {
            value = if random() % 17 == 0 { 0.0 } else { value + (random() % 1000) as f64 * scale / 7.0 };
            appender.append(&labels, i * 15_000 + (random() % 1000) as i64, value).expect("append");
        }
        appender.commit().expect("commit");
    }
    storage
}

#[test]
fn folding_series_as_they_are_read_adds_in_series_order() {
    let storage = many_counters();
    let engine = Engine::default();
    // `* 1` keeps every value but makes the aggregation's input a collected node rather than a
    // selector whose series are folded as workers compute them: both must add in series order.
    for (streamed, collected) in [
        ("sum by (group) (rate(work_total[2m]))", "sum by (group) (rate(work_total[2m]) * 1)"),
        ("avg(increase(work_total[1m]))", "avg(increase(work_total[1m]) * 1)"),
        ("stddev by (group) (work_total)", "stddev by (group) (work_total * 1)"),
        ("count without (series) (work_total)", "count without (series) (work_total * 1)"),
        ("max by (group) (work_total)", "max by (group) (work_total * 1)"),
    ] {
        let (expected, _) = engine.range_query(&storage, collected, 60_000, 600_000, 10_000).expect(collected);
        let (actual, _) = engine.range_query(&storage, streamed, 60_000, 600_000, 10_000).expect(streamed);
        let (Value::Matrix(expected), Value::Matrix(actual)) = (expected, actual) else { panic!("matrices") };
        assert!(!expected.is_empty(), "{collected}");
        assert_eq!(actual.len(), expected.len(), "{streamed}");
        for (a, e) in actual.iter().zip(&expected) {
            assert_eq!(a.labels, e.labels, "{streamed}");
            let bits = |series: &MatrixSeries| series.samples.iter().map(|s| (s.t, s.v.to_bits())).collect::<Vec<_>>();
            assert_eq!(bits(a), bits(e), "{streamed}: {}", a.labels);
        }
    }
}

#[test]
fn aggregations_over_many_series_add_in_series_order() {
    let storage = many_counters();
    let engine = Engine::default();
    let (start, end, step) = (60_000, 600_000, 10_000);
    let (rates, _) = engine.range_query(&storage, "rate(work_total[2m])", start, end, step).expect("rates");
    let Value::Matrix(rates) = rates else { panic!("expected a matrix") };
    // The result is sorted by `group`, then `series`: within a group, the order of selection.
    // Models of both folds, fed in that order: Neumaier-compensated sums, and Welford's
    // variance, whose last bits depend on the order of its inputs.
    let mut sums: std::collections::BTreeMap<(String, i64), (f64, f64)> = Default::default();
    let mut variances: std::collections::BTreeMap<(String, i64), (f64, f64, f64)> = Default::default();
    for series in &rates {
        let group = series.labels.get("group").expect("group").to_owned();
        for sample in &series.samples {
            let (sum, c) = sums.entry((group.clone(), sample.t)).or_insert((0.0, 0.0));
            (*sum, *c) = super::aggregate::kahan_add(sample.v, *sum, *c);
            let (count, mean, squares) = variances.entry((group.clone(), sample.t)).or_insert((0.0, 0.0, 0.0));
            *count += 1.0;
            let delta = sample.v - *mean;
            *mean += delta / *count;
            *squares += delta * (sample.v - *mean);
        }
    }
    for (query, expected) in [
        ("sum by (group) (rate(work_total[2m]))", sums.iter().map(|(k, (sum, c))| (k.clone(), sum + c)).collect()),
        (
            "stdvar by (group) (rate(work_total[2m]))",
            variances.iter().map(|(k, (count, _, squares))| (k.clone(), squares / count)).collect::<Vec<_>>(),
        ),
    ] {
        let (value, _) = engine.range_query(&storage, query, start, end, step).expect(query);
        let Value::Matrix(matrix) = value else { panic!("expected a matrix") };
        let actual: Vec<((String, i64), f64)> = matrix
            .iter()
            .flat_map(|series| {
                let group = series.labels.get("group").expect("group").to_owned();
                series.samples.iter().map(move |sample| ((group.clone(), sample.t), sample.v))
            })
            .collect();
        assert_eq!(actual.len(), expected.len(), "{query}");
        for ((key, a), (expected_key, e)) in actual.iter().zip(&expected) {
            assert_eq!(key, expected_key, "{query}");
            assert_eq!(a.to_bits(), e.to_bits(), "{query} at {key:?}: {a} vs {e}");
        }
    }
}

#[test]
fn range_function_over_many_series_keeps_series_order_and_counts_resets() {
    let storage = many_counters();
    let engine = Engine::default();
    let (value, _) = engine.range_query(&storage, "increase(work_total[2m])", 120_000, 600_000, 30_000).expect("query");
    let Value::Matrix(matrix) = value else { panic!("expected a matrix") };
    assert_eq!(matrix.len(), 6_000);
    // Every step's value must equal the instant query's, which slices each window afresh.
    for series in matrix.iter().step_by(397) {
        for sample in &series.samples {
            let selector = format!("increase(work_total{{series=\"{}\"}}[2m])", series.labels.get("series").unwrap());
            let (instant, _) = engine.instant_query(&storage, &selector, sample.t).expect("instant");
            let Value::Vector(vector) = instant else { panic!("expected a vector") };
            assert_eq!(vector.len(), 1, "{selector} at {}", sample.t);
            assert_eq!(vector[0].v.to_bits(), sample.v.to_bits(), "{selector} at {}", sample.t);
        }
    }
}
