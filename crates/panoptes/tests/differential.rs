//! Differential test against real Prometheus: the same remote-write data goes into Debian's
//! `prometheus` (2.42) and into `panoptes server`, then a broad generated query set runs as
//! instant and range queries against both, and the answers must be equal: label sets exactly,
//! values within 1e-9 relative, NaN and infinities equal.
//!
//! Sample timestamps sit 3 s after a 15 s grid and evaluation times 10 s after it, so no sample
//! ever falls on a range or lookback boundary: there, Prometheus 3 (which Panoptes follows)
//! excludes the left end and 2.42 includes it. Queries whose answers legitimately differ
//! between 2.42 and 3.x are listed in [`KNOWN_DIFFERENCES`] with the reason: they run like every
//! other query, their differences are printed but tolerated, and each must still differ at
//! least once, so that the list cannot rot.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest, encode_write_request};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;

use crate::common::{Process, start_prometheus, start_server, wait_ready};

const STEP_MS: i64 = 15_000;
/// Samples per series: one hour of 15 s samples.
const POINTS: i64 = 241;

/// Queries whose answers differ between Prometheus 2.42 and Prometheus 3 semantics (which
/// Panoptes implements), with the reason. `{T}` is replaced by the Unix time (seconds) of a
/// sample, so that the range boundary falls exactly on one.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "rate(fresh_counter_total[5m])",
        "counter extrapolation at a series' first sample: when the extrapolated zero point lies \
         between half the average sample interval and 1.1 intervals before the first sample (here \
         12 s: the counter starts at 8 and grows by 10 every 15 s), Prometheus 2.42 extrapolates to \
         the zero point, Prometheus 3 only by half an interval (extrapolatedRate caps \
         durationToStart before applying durationToZero). The other counters start high, so that \
         this case is confined to this series",
    ),
    (
        "temperature_celsius atan2 temperature_celsius offset 5m",
        "atan2 drops the metric name since Prometheus 2.46 (prometheus/prometheus#12595); 2.42 keeps it",
    ),
    (
        "count_over_time(memory_usage_bytes[1m] @ {T})",
        "range selectors are left-open in Prometheus 3: the sample exactly at the window's start is \
         excluded (4 samples), Prometheus 2.42 includes it (5 samples)",
    ),
];

/// One generated series: labels and one value per point (`None`: no sample).
struct GenSeries {
    labels: Vec<(String, String)>,
    values: Vec<Option<f64>>,
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
}

/// Generates counters, gauges, classic histograms and info series with a fixed seed.
fn generate(seed: u64) -> Vec<GenSeries> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut all = Vec::new();
    let n = POINTS as usize;
    // Counters with random increments; some reset once.
    for job in ["api", "web"] {
        for instance in 0..5 {
            for method in ["GET", "POST"] {
                for code in ["200", "500"] {
                    let mut value = rng.random_range(1000..5000) as f64;
                    let reset_at = if rng.random_bool(0.3) { Some(rng.random_range(10..n - 10)) } else { None };
                    let values = (0..n)
                        .map(|i| {
                            value += rng.random_range(0..50) as f64 + rng.random_range(0..4) as f64 * 0.25;
                            if Some(i) == reset_at {
                                value = rng.random_range(0..5) as f64;
                            }
                            Some(value)
                        })
                        .collect();
                    let instance = format!("i-{instance}");
                    all.push(GenSeries {
                        labels: labels(&[
                            ("__name__", "http_requests_total"),
                            ("job", job),
                            ("instance", &instance),
                            ("method", method),
                            ("code", code),
                        ]),
                        values,
                    });
                }
            }
        }
    }
    for service in 0..50 {
        let mut value = rng.random_range(500..1000) as f64;
        let values = (0..n)
            .map(|_| {
                value += rng.random_range(0..7) as f64;
                Some(value)
            })
            .collect();
        let service = format!("svc-{service}");
        all.push(GenSeries { labels: labels(&[("__name__", "app_errors_total"), ("service", &service)]), values });
    }
    for instance in 0..5 {
        for cpu in ["0", "1"] {
            for mode in ["idle", "user", "system"] {
                let mut value = rng.random_range(10_000..20_000) as f64 / 8.0;
                let values = (0..n)
                    .map(|_| {
                        value += rng.random_range(0..120) as f64 / 8.0;
                        Some(value)
                    })
                    .collect();
                let instance = format!("i-{instance}");
                all.push(GenSeries {
                    labels: labels(&[
                        ("__name__", "node_cpu_seconds_total"),
                        ("instance", &instance),
                        ("cpu", cpu),
                        ("mode", mode),
                    ]),
                    values,
                });
            }
        }
    }
    // Gauges: memory as a random walk, temperatures (negative too, one with a 15 minute gap, one
    // that stops 20 minutes before the end), queue lengths (one with a NaN sample).
    for job in ["api", "web"] {
        for instance in 0..5 {
            let mut value = 5e8 + rng.random_range(-1000..1000) as f64 * 1e5;
            let values = (0..n)
                .map(|_| {
                    value += rng.random_range(-100..100) as f64 * 1e4;
                    Some(value)
                })
                .collect();
            let instance = format!("i-{instance}");
            all.push(GenSeries {
                labels: labels(&[("__name__", "memory_usage_bytes"), ("job", job), ("instance", &instance)]),
                values,
            });
        }
    }
    for room in 0..10 {
        for sensor in ["a", "b"] {
            let mut value = rng.random_range(-40..120) as f64 / 4.0;
            let values = (0..n)
                .map(|i| {
                    value += rng.random_range(-4..=4) as f64 / 4.0;
                    let in_gap = room == 1 && (80..140).contains(&i);
                    let stopped = room == 2 && sensor == "a" && i > n - 80;
                    (!in_gap && !stopped).then_some(value)
                })
                .collect();
            let room = format!("r{room}");
            all.push(GenSeries {
                labels: labels(&[("__name__", "temperature_celsius"), ("room", &room), ("sensor", sensor)]),
                values,
            });
        }
    }
    for queue in 0..6 {
        let values = (0..n)
            .map(|i| if queue == 0 && i == n - 30 { Some(f64::NAN) } else { Some(rng.random_range(0..100) as f64) })
            .collect();
        let queue = format!("q{queue}");
        all.push(GenSeries { labels: labels(&[("__name__", "queue_length"), ("queue", &queue)]), values });
    }
    all.push(GenSeries {
        labels: labels(&[("__name__", "fresh_counter_total")]),
        values: (0..n).map(|i| Some(8.0 + 10.0 * i as f64)).collect(),
    });
    // Info series for group_left joins.
    for instance in 0..5 {
        let instance = format!("i-{instance}");
        let version = format!("1.{}", instance.len() % 3 + instance.as_bytes()[2] as usize % 2);
        all.push(GenSeries {
            labels: labels(&[("__name__", "build_info"), ("instance", &instance), ("version", &version)]),
            values: vec![Some(1.0); n],
        });
    }
    // Classic histograms: cumulative buckets, `_sum` and `_count`.
    const BOUNDS: [&str; 7] = ["0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];
    for job in ["api", "web"] {
        for instance in 0..5 {
            let instance = format!("i-{instance}");
            // High initial counts: see `fresh_counter_total` for counters that start near zero.
            let mut buckets = [1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0f64];
            let mut sum = 9000.0;
            let mut rows: Vec<Vec<Option<f64>>> = (0..9).map(|_| Vec::with_capacity(n)).collect();
            for _ in 0..n {
                for _ in 0..rng.random_range(0..20) {
                    let bucket = rng.random_range(0..7);
                    for b in &mut buckets[bucket..] {
                        *b += 1.0;
                    }
                    sum += [0.03, 0.07, 0.2, 0.4, 0.8, 2.0, 4.0][bucket];
                }
                for (row, value) in rows.iter_mut().zip(buckets.iter().copied().chain([sum, buckets[6]])) {
                    row.push(Some(value));
                }
            }
            for (i, row) in rows.into_iter().enumerate() {
                let labels = match i {
                    0..7 => labels(&[
                        ("__name__", "http_request_duration_seconds_bucket"),
                        ("job", job),
                        ("instance", &instance),
                        ("le", BOUNDS[i]),
                    ]),
                    7 => labels(&[
                        ("__name__", "http_request_duration_seconds_sum"),
                        ("job", job),
                        ("instance", &instance),
                    ]),
                    _ => labels(&[
                        ("__name__", "http_request_duration_seconds_count"),
                        ("job", job),
                        ("instance", &instance),
                    ]),
                };
                all.push(GenSeries { labels, values: row });
            }
        }
    }
    all
}

/// Sends the series to `address` in one-minute slices, in time order across all series (so
/// that Prometheus' head accepts every sample).
async fn send(client: &reqwest::Client, address: SocketAddr, all: &[GenSeries], first: i64) {
    let slice = 4;
    for start in (0..POINTS as usize).step_by(slice) {
        let timeseries = all
            .iter()
            .map(|series| TimeSeries {
                labels: series.labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
                samples: (start..(start + slice).min(POINTS as usize))
                    .filter_map(|i| {
                        series.values[i].map(|value| Sample { value, timestamp: first + i as i64 * STEP_MS })
                    })
                    .collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .filter(|series| !series.samples.is_empty())
            .collect();
        let body = encode_write_request(&WriteRequest { timeseries, metadata: Vec::new() });
        let response = client
            .post(format!("http://{address}/api/v1/write"))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_success(), "remote write to {address}: {status} {}", response.text().await.unwrap());
    }
}

/// The generated query set.
fn queries() -> Vec<String> {
    let mut queries: Vec<String> = Vec::new();
    let selectors = [
        "http_requests_total",
        "http_requests_total{job=\"api\"}",
        "http_requests_total{job!=\"api\",code=\"500\"}",
        "http_requests_total{method=~\"GET|PUT\",code!~\"5..\"}",
        "http_requests_total{instance=~\"i-[0-2]\",job=~\".+\"}",
        "{__name__=~\"http_requests_total|app_errors_total\",job=\"api\"}",
        "{__name__=~\"node_cpu.*\",mode!~\"idle|user\"}",
        "app_errors_total{service=~\"svc-1.*\"}",
        "memory_usage_bytes",
        "temperature_celsius",
        "temperature_celsius{room!=\"r0\",sensor=~\"a|c\"}",
        "queue_length",
        "http_request_duration_seconds_bucket{le=\"+Inf\"}",
        "memory_usage_bytes offset 10m",
        "memory_usage_bytes offset -2m",
        "temperature_celsius offset 17m",
        "nonexistent_metric",
    ];
    queries.extend(selectors.iter().map(|s| (*s).to_owned()));
    for counter in ["http_requests_total", "app_errors_total{service=~\"svc-[0-3]\"}", "node_cpu_seconds_total"] {
        for function in ["rate", "irate", "increase", "resets", "changes"] {
            for window in ["1m", "5m", "10m"] {
                queries.push(format!("{function}({counter}[{window}])"));
            }
        }
        queries.push(format!("rate({counter}[5m] offset 10m)"));
    }
    for gauge in ["memory_usage_bytes", "temperature_celsius", "queue_length"] {
        for function in [
            "delta",
            "idelta",
            "deriv",
            "avg_over_time",
            "min_over_time",
            "max_over_time",
            "sum_over_time",
            "count_over_time",
            "stddev_over_time",
            "stdvar_over_time",
            "last_over_time",
            "present_over_time",
            "changes",
            "absent_over_time",
        ] {
            for window in ["2m", "10m"] {
                queries.push(format!("{function}({gauge}[{window}])"));
            }
        }
        queries.push(format!("quantile_over_time(0.9, {gauge}[10m])"));
        queries.push(format!("quantile_over_time(0.25, {gauge}[5m])"));
        queries.push(format!("predict_linear({gauge}[10m], 600)"));
    }
    let inputs = ["rate(http_requests_total[5m])", "memory_usage_bytes", "temperature_celsius"];
    let groupings = ["", " by (job)", " without (instance)", " by (job, method)", " by (room)", " without ()"];
    for input in inputs {
        for op in ["sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"] {
            for grouping in groupings {
                queries.push(format!("{op}{grouping} ({input})"));
            }
        }
        for grouping in ["", " by (job)", " by (sensor)"] {
            queries.push(format!("quantile{grouping} (0.9, {input})"));
            // Which of tied series `topk` keeps is unspecified; temperatures (steps of 0.25)
            // tie often, so they are left out.
            if !input.starts_with("temperature") {
                queries.push(format!("topk{grouping} (3, {input})"));
                queries.push(format!("bottomk{grouping} (2, {input})"));
            }
        }
    }
    queries.extend(
        [
            "count_values(\"version\", build_info)",
            "count_values by (job) (\"value\", floor(memory_usage_bytes / 1e8))",
            "rate(http_requests_total[5m]) * on(instance) group_left(version) build_info",
            "sum by (job, instance) (rate(http_requests_total[5m])) * on(instance) group_left(version) build_info",
            "build_info * on(instance) group_right(version) memory_usage_bytes",
            "rate(http_requests_total{code=\"500\"}[5m]) / ignoring(code) rate(http_requests_total{code=\"200\"}[5m])",
            "sum by (job) (rate(http_requests_total{code=\"500\"}[5m])) / on(job) sum by (job) (rate(http_requests_total[5m]))",
            "memory_usage_bytes > 5e8",
            "memory_usage_bytes > bool 5e8",
            "temperature_celsius < 0",
            "temperature_celsius <= bool 0",
            "memory_usage_bytes and on(instance) build_info{version=\"1.1\"}",
            "temperature_celsius or queue_length",
            "http_requests_total unless http_requests_total{code=\"500\"}",
            "http_requests_total unless on(instance) build_info{version=\"1.0\"}",
            "2 * memory_usage_bytes + 1",
            "memory_usage_bytes % 7",
            "memory_usage_bytes ^ 0.5",
            "-temperature_celsius",
            "memory_usage_bytes == bool memory_usage_bytes offset 1m",
            "memory_usage_bytes != memory_usage_bytes offset 1m",
            "1 - temperature_celsius / 100",
            "(1 + 2) * 3 ^ 2 % 5",
            "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            "histogram_quantile(0.9, sum by (job, le) (rate(http_request_duration_seconds_bucket[5m])))",
            "histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[10m]))",
            "histogram_quantile(0, rate(http_request_duration_seconds_bucket[5m]))",
            "histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
            "histogram_quantile(0.9, sum by (le) (http_request_duration_seconds_bucket))",
            "rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])",
            "max_over_time(rate(http_requests_total[1m])[10m:1m])",
            "avg_over_time(memory_usage_bytes[15m:30s])",
            "min_over_time(sum by (job) (rate(http_requests_total[5m]))[20m:])",
            "max_over_time(deriv(temperature_celsius[5m])[10m:2m] offset 5m)",
            "rate(app_errors_total{service=\"svc-1\"}[5m])[10m:2m]",
            "memory_usage_bytes{instance=\"i-1\"}[2m]",
            "sort(sum by (instance) (memory_usage_bytes))",
            "sort_desc(sum by (instance) (memory_usage_bytes))",
            "sort(queue_length)",
            "absent(nonexistent_metric)",
            "absent(nonexistent_metric{job=\"x\",instance=~\"a.*\"})",
            "absent(memory_usage_bytes)",
            "absent_over_time(nonexistent_metric{job=\"x\"}[5m])",
            "label_replace(memory_usage_bytes, \"host\", \"$1\", \"instance\", \"i-(.*)\")",
            "label_replace(memory_usage_bytes, \"instance\", \"\", \"instance\", \".*\")",
            "label_replace(temperature_celsius, \"x\", \"$1-$2\", \"room\", \"r(\\\\d)(.*)\")",
            "label_join(memory_usage_bytes, \"id\", \"-\", \"job\", \"instance\")",
            "time()",
            "timestamp(memory_usage_bytes)",
            "timestamp(temperature_celsius offset 3m)",
            "hour()",
            "minute(timestamp(memory_usage_bytes))",
            "day_of_week()",
            "day_of_month()",
            "day_of_year()",
            "month()",
            "year()",
            "days_in_month()",
            "abs(temperature_celsius)",
            "ceil(temperature_celsius / 3)",
            "floor(temperature_celsius / 3)",
            "round(temperature_celsius)",
            "round(memory_usage_bytes, 1e6)",
            "sqrt(memory_usage_bytes)",
            "exp(temperature_celsius / 10)",
            "ln(memory_usage_bytes)",
            "log2(memory_usage_bytes)",
            "log10(memory_usage_bytes)",
            "clamp(temperature_celsius, 0, 10)",
            "clamp_min(temperature_celsius, 5)",
            "clamp_max(temperature_celsius, 5)",
            "sgn(temperature_celsius)",
            "sin(temperature_celsius)",
            "cos(temperature_celsius)",
            "tan(temperature_celsius)",
            "asin(clamp(temperature_celsius / 40, -1, 1))",
            "acos(clamp(temperature_celsius / 40, -1, 1))",
            "atan(temperature_celsius)",
            "sinh(temperature_celsius / 10)",
            "cosh(temperature_celsius / 10)",
            "tanh(temperature_celsius)",
            "asinh(temperature_celsius)",
            "atanh(clamp(temperature_celsius / 40, -0.9, 0.9))",
            "deg(temperature_celsius)",
            "rad(temperature_celsius)",
            "pi()",
            "scalar(sum(memory_usage_bytes))",
            "scalar(memory_usage_bytes)",
            "vector(1)",
            "vector(time())",
            "sum(memory_usage_bytes) by (job) / scalar(count(memory_usage_bytes))",
            "sum(rate(http_requests_total[5m])) by (job) > 50",
            "count(count by (instance) (http_requests_total))",
            "avg by (job) (memory_usage_bytes @ end())",
            "memory_usage_bytes @ start()",
            "sum(queue_length)",
            "max(queue_length) by (queue)",
            "\"a string\"",
            "-1.5",
            "NaN",
            "Inf",
            "1 / 0",
            "-1 / 0",
            "0 / 0",
        ]
        .iter()
        .map(|q| (*q).to_owned()),
    );
    queries
}

/// A parsed answer, normalised for comparison.
#[derive(Debug, PartialEq)]
enum Answer {
    Error(String),
    Scalar(f64Bits),
    String(String),
    /// Label set → value, in answer order.
    Vector(Vec<(BTreeMap<String, String>, f64Bits)>),
    Matrix(BTreeMap<BTreeMap<String, String>, Vec<(i64, f64Bits)>>),
}

/// A value compared with NaN equal to NaN and a relative tolerance of 1e-9.
#[derive(Debug, Clone, Copy)]
#[allow(non_camel_case_types)]
struct f64Bits(f64);

impl PartialEq for f64Bits {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.0, other.0);
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        if a.is_infinite() || b.is_infinite() {
            return a == b;
        }
        // A tiny absolute floor: float sums cancelling to about zero in a different order.
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a - b).abs() < 1e-12
    }
}

fn parse_value(text: &Json) -> f64Bits {
    let text = text.as_str().expect("value string");
    f64Bits(match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().expect("float"),
    })
}

fn parse_labels(metric: &Json) -> BTreeMap<String, String> {
    metric
        .as_object()
        .expect("metric object")
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn parse_ms(t: &Json) -> i64 {
    (t.as_f64().expect("timestamp") * 1000.0).round() as i64
}

fn parse_answer(body: &Json, keep_order: bool) -> Answer {
    if body["status"] != "success" {
        return Answer::Error(body["errorType"].as_str().unwrap_or("?").to_owned());
    }
    let result = &body["data"]["result"];
    match body["data"]["resultType"].as_str() {
        Some("scalar") => Answer::Scalar(parse_value(&result[1])),
        Some("string") => Answer::String(result[1].as_str().unwrap_or_default().to_owned()),
        Some("vector") => {
            let mut samples: Vec<_> = result
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (parse_labels(&s["metric"]), parse_value(&s["value"][1])))
                .collect();
            if !keep_order {
                samples.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Answer::Vector(samples)
        }
        Some("matrix") => Answer::Matrix(
            result
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    let points =
                        s["values"].as_array().unwrap().iter().map(|p| (parse_ms(&p[0]), parse_value(&p[1]))).collect();
                    (parse_labels(&s["metric"]), points)
                })
                .collect(),
        ),
        other => panic!("unexpected result type {other:?}: {body}"),
    }
}

async fn ask(client: &reqwest::Client, address: SocketAddr, path: &str, form: &[(&str, String)]) -> Json {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let response = client
        .post(format!("http://{address}{path}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{address}{path} answered non-JSON: {text}"))
}

/// One comparison: query kind, query text, the two answers.
struct Outcome {
    description: String,
    equal: bool,
    detail: String,
}

async fn compare(
    client: &reqwest::Client,
    prometheus: SocketAddr,
    panoptes: SocketAddr,
    path: &str,
    form: Vec<(&str, String)>,
    keep_order: bool,
) -> Outcome {
    let expected = ask(client, prometheus, path, &form).await;
    let actual = ask(client, panoptes, path, &form).await;
    let (expected_answer, actual_answer) = (parse_answer(&expected, keep_order), parse_answer(&actual, keep_order));
    let equal = expected_answer == actual_answer;
    let detail = if equal { String::new() } else { first_difference(&expected_answer, &actual_answer) };
    Outcome { description: format!("{path} {form:?}"), equal, detail }
}

/// Describes the first difference between two answers.
fn first_difference(expected: &Answer, actual: &Answer) -> String {
    match (expected, actual) {
        (Answer::Vector(a), Answer::Vector(b)) => {
            for (x, y) in a.iter().zip(b) {
                if x != y {
                    return format!("  prometheus: {x:?}\n  panoptes:   {y:?}");
                }
            }
            format!("  prometheus: {} samples\n  panoptes:   {} samples", a.len(), b.len())
        }
        (Answer::Matrix(a), Answer::Matrix(b)) => {
            for (labels, points) in a {
                let Some(other) = b.get(labels) else { return format!("  only in prometheus: {labels:?}") };
                for (x, y) in points.iter().zip(other) {
                    if x != y {
                        return format!("  {labels:?}\n  prometheus: {x:?}\n  panoptes:   {y:?}");
                    }
                }
                if points.len() != other.len() {
                    let first = |p: &[(i64, f64Bits)]| p.first().map(|x| x.0);
                    return format!(
                        "  {labels:?}\n  prometheus: {} points from {:?}\n  panoptes:   {} points from {:?}",
                        points.len(),
                        first(points),
                        other.len(),
                        first(other)
                    );
                }
            }
            let extra: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
            format!("  only in panoptes: {extra:?}")
        }
        _ => format!("  prometheus: {expected:?}\n  panoptes:   {actual:?}"),
    }
}

#[tokio::test]
async fn panoptes_answers_like_prometheus() {
    assert!(
        Path::new("/usr/bin/prometheus").exists(),
        "/usr/bin/prometheus is missing: apt-get install prometheus (scripts/test does)"
    );
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let prometheus = start_prometheus(
        dir.path(),
        "global:\n  scrape_interval: 1m\n",
        &["--web.enable-remote-write-receiver"],
        &client,
    )
    .await;
    let data = dir.path().join("panoptes");
    let log_path = dir.path().join("panoptes.log");
    let (mut child, address) = start_server(&data, &[], &log_path);
    wait_ready(&client, address, &mut child, &log_path).await;
    let panoptes = Process { child, address };

    // Samples 3 s after the 15 s grid; the last one at most 15 s ago.
    let now = panoptes_model::time::now_millis();
    let last = (now - 3_000) / STEP_MS * STEP_MS + 3_000;
    let first = last - (POINTS - 1) * STEP_MS;
    let series = generate(20_260_101);
    println!("{} series, {} samples each", series.len(), POINTS);
    assert!(series.len() >= 250);
    send(&client, prometheus.address, &series, first).await;
    send(&client, panoptes.address, &series, first).await;

    // Evaluation times 10 s after the grid (7 s after a sample).
    let grid_end = last - 3_000;
    let instants = [
        grid_end + 10_000 - 15_000,
        grid_end + 10_000 - 17 * 60_000,
        grid_end + 10_000 - 33 * 60_000,
        // Near the start of the data, where `offset 10m` windows hold only the first samples.
        first + 7_000 + 12 * 60_000,
    ];
    let ranges = [
        (grid_end + 10_000 - 50 * 60_000, grid_end + 10_000 - 15_000, 60_000),
        (first + 7_000, last, 300_000),
        // Across the start of the data, 10 s after the grid like the others.
        (grid_end + 10_000 - 65 * 60_000, grid_end + 10_000 - 30 * 60_000, 60_000),
    ];
    let seconds = |ms: i64| format!("{}", ms as f64 / 1000.0);

    let sample_time = seconds(last - 20 * STEP_MS);
    let known =
        |query: &str| KNOWN_DIFFERENCES.iter().find(|(template, _)| template.replace("{T}", &sample_time) == query);
    let mut queries = queries();
    for (template, _) in KNOWN_DIFFERENCES {
        let query = template.replace("{T}", &sample_time);
        if !queries.contains(&query) {
            queries.push(query);
        }
    }
    let mut outcomes = Vec::new();
    for query in &queries {
        let keep_order = query.starts_with("sort");
        for time in instants {
            let form = vec![("query", query.clone()), ("time", seconds(time))];
            let outcome = compare(&client, prometheus.address, panoptes.address, "/api/v1/query", form, keep_order);
            outcomes.push((query.clone(), outcome.await));
        }
        for (start, end, step) in ranges {
            let form = vec![
                ("query", query.clone()),
                ("start", seconds(start)),
                ("end", seconds(end)),
                ("step", seconds(step)),
            ];
            let outcome = compare(&client, prometheus.address, panoptes.address, "/api/v1/query_range", form, false);
            outcomes.push((query.clone(), outcome.await));
        }
    }
    // Metadata endpoints: the same series, label names and values.
    let window = [("start", seconds(first)), ("end", seconds(last))];
    let mut metadata_checks = 0;
    let mut metadata_differences = Vec::new();
    for (path, mut form) in [
        ("/api/v1/series", vec![("match[]", "http_requests_total{job=\"api\",code=~\"5..\"}".to_owned())]),
        ("/api/v1/series", vec![("match[]", "{__name__=~\"temp.*|queue_length\"}".to_owned())]),
        ("/api/v1/series", vec![("match[]", "build_info".to_owned()), ("match[]", "fresh_counter_total".to_owned())]),
        ("/api/v1/labels", vec![]),
        ("/api/v1/labels", vec![("match[]", "http_request_duration_seconds_bucket".to_owned())]),
        ("/api/v1/label/__name__/values", vec![]),
        ("/api/v1/label/le/values", vec![]),
        ("/api/v1/label/instance/values", vec![("match[]", "memory_usage_bytes{job=\"web\"}".to_owned())]),
    ] {
        form.extend(window.iter().cloned());
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
        let path_and_query = format!("{path}?{query}");
        let fetch = |address: SocketAddr| {
            let client = client.clone();
            let url = format!("http://{address}{path_and_query}");
            async move {
                let text = client.get(url).send().await.unwrap().text().await.unwrap();
                let body: Json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
                let mut items: Vec<String> =
                    body["data"].as_array().expect("a list").iter().map(|item| item.to_string()).collect();
                items.sort();
                items
            }
        };
        let (expected, actual) = (fetch(prometheus.address).await, fetch(panoptes.address).await);
        metadata_checks += 1;
        assert!(!expected.is_empty(), "{path_and_query} found nothing in Prometheus");
        if expected != actual {
            metadata_differences
                .push(format!("{path_and_query}\n  prometheus: {expected:?}\n  panoptes:   {actual:?}"));
        }
    }
    println!("{metadata_checks} metadata comparisons, {} differences", metadata_differences.len());
    assert!(metadata_differences.is_empty(), "metadata differs:\n{}", metadata_differences.join("\n"));

    let (tolerated, differences): (Vec<_>, Vec<_>) =
        outcomes.iter().filter(|(_, o)| !o.equal).partition(|(query, _)| known(query).is_some());
    println!(
        "{} queries, {} comparisons, {} known differences, {} unexpected differences",
        queries.len(),
        outcomes.len(),
        tolerated.len(),
        differences.len()
    );
    for (query, outcome) in &tolerated {
        let reason = known(query).map_or("", |(_, reason)| *reason);
        println!("KNOWN {}\n{}\n  reason: {reason}", outcome.description, outcome.detail);
    }
    for (_, outcome) in &differences {
        println!("DIFF {}\n{}", outcome.description, outcome.detail);
    }
    // Every listed difference must still show up, so that the list only shrinks.
    let stale: Vec<&str> = KNOWN_DIFFERENCES
        .iter()
        .map(|(template, _)| *template)
        .filter(|template| !tolerated.iter().any(|(query, _)| *query == template.replace("{T}", &sample_time)))
        .collect();
    assert!(stale.is_empty(), "listed differences no longer differ, remove them: {stale:?}");
    assert!(differences.is_empty(), "{} of {} comparisons differ from Prometheus", differences.len(), outcomes.len());
}
