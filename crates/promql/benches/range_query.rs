//! Range-query evaluation over an in-memory store: the shapes of a dashboard's queries over an
//! hour of data at a 30 s step (`cargo bench -p panoptes-promql --bench range_query`).
//!
//! Storage reads are not measured apart: the in-memory store hands out decoded samples, so the
//! numbers are the evaluator's own cost (selecting windows, functions, grouping, merging steps).

use criterion::{Criterion, criterion_group, criterion_main};
use panoptes_model::Labels;
use panoptes_promql::Engine;
use panoptes_storage::{MemStorage, Storage};

const START: i64 = 1_700_000_000_000;
const SCRAPE_MS: i64 = 30_000;
/// 65 minutes of samples: the hour queried plus the first window's 5 minutes.
const SAMPLES: i64 = 130;

/// 10 namespaces × 200 pods × 5 series each (2 counters, 3 histogram buckets).
fn storage() -> MemStorage {
    let storage = MemStorage::new();
    for namespace in 0..10 {
        for pod in 0..200 {
            let base = [("namespace", format!("ns-{namespace}")), ("pod", format!("pod-{pod}"))];
            let mut series = Vec::new();
            for code in ["200", "500"] {
                series.push(vec![("__name__", "http_requests_total".to_owned()), ("code", code.to_owned())]);
            }
            for le in ["0.1", "1", "+Inf"] {
                series
                    .push(vec![("__name__", "http_request_duration_seconds_bucket".to_owned()), ("le", le.to_owned())]);
            }
            for (index, extra) in series.into_iter().enumerate() {
                let pairs = base.iter().cloned().chain(extra).collect::<Vec<_>>();
                let labels = Labels::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
                // One appender per series: the in-memory store checks order against its pending
                // samples linearly.
                let mut appender = storage.appender();
                let mut value = 0.0;
                for i in 0..SAMPLES {
                    value += ((i * 7 + pod + index as i64) % 13) as f64;
                    appender.append(&labels, START + i * SCRAPE_MS + (pod % 50), value).expect("append");
                }
                appender.commit().expect("commit");
            }
        }
    }
    storage
}

fn bench(c: &mut Criterion) {
    let storage = storage();
    let engine = Engine::default();
    let end = START + (SAMPLES - 1) * SCRAPE_MS;
    let start = end - 3_600_000;
    let queries = [
        ("sum_by_rate", "sum by (namespace) (rate(http_requests_total[5m]))"),
        ("rate", "rate(http_requests_total[5m])"),
        ("topk_rate", "topk(5, rate(http_requests_total[5m]))"),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, sum by (le, namespace) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
        (
            "ratio",
            "sum by (namespace) (rate(http_requests_total{code=\"500\"}[5m])) / sum by (namespace) (rate(http_requests_total[5m]))",
        ),
        ("selector", "http_requests_total"),
    ];
    let mut group = c.benchmark_group("range_query_1h_30s");
    group.sample_size(10);
    for (name, query) in queries {
        group
            .bench_function(name, |b| b.iter(|| engine.range_query(&storage, query, start, end, 30_000).expect(query)));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
