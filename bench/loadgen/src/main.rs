//! Sends the same seeded remote-write load to any Prometheus remote-write receiver, as fast as
//! it accepts it, and reports what was acknowledged. Used by `bench/run.sh`.
//!
//! The series look like node-exporter and application metrics (8–10 labels); values are a mix
//! of counters, gauges with two decimals and near-constant series, so compression is tested on
//! realistic shapes. Samples are sent in time order: every request of one scrape step is
//! acknowledged before any request of the next step is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest};
use panoptes_test_util::SeededRng;
use prost::Message;

/// Command line of the load generator.
#[derive(Debug, Parser)]
struct Args {
    /// Remote-write URL, e.g. http://127.0.0.1:9090/api/v1/write.
    #[arg(long)]
    url: String,
    /// Number of series.
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Scrape interval being simulated, in seconds.
    #[arg(long, default_value_t = 10)]
    interval_seconds: i64,
    /// Simulated time span, in minutes; it ends now.
    #[arg(long, default_value_t = 70)]
    minutes: i64,
    /// Samples per request.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seed of the data.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Classic histograms to add (12 `_bucket` series each, `http_request_duration_seconds`),
    /// for the query benchmark's `histogram_quantile`. None by default, so the storage
    /// benchmark's load stays what it was.
    #[arg(long, default_value_t = 0)]
    histograms: usize,
    /// Timestamp of the last simulated scrape, in Unix milliseconds (default: now). Fixing it
    /// gives every server exactly the same samples.
    #[arg(long)]
    end_ms: Option<i64>,
}

/// Upper bounds of the generated histograms' buckets.
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, f64::INFINITY];

/// One generated classic histogram: its request rate, typical latency and cumulative counts.
struct Histogram {
    rate: f64,
    median: f64,
    counts: [f64; BUCKETS.len()],
}

impl Histogram {
    /// Adds one interval's observations: a log-logistic latency distribution around the
    /// median, so every bucket count is cumulative and never decreases.
    fn observe(&mut self, observations: f64) {
        for (count, bound) in self.counts.iter_mut().zip(BUCKETS) {
            let below = if bound.is_infinite() { 1.0 } else { 1.0 / (1.0 + (self.median / bound).powi(2)) };
            *count += (observations * below).round();
        }
    }
}

fn histogram_labels(index: usize, bucket: usize) -> Vec<Label> {
    let label = |name: &str, value: String| Label { name: name.as_bytes().to_vec(), value: value.into_bytes() };
    let instance = index / 8;
    let bound = BUCKETS[bucket];
    let mut labels = vec![
        label("__name__", "http_request_duration_seconds_bucket".to_owned()),
        label("handler", format!("/api/v1/resource/{}", index % 8)),
        label("instance", format!("10.{}.{}.{}:9100", instance / 65_536, (instance / 256) % 256, instance % 256)),
        label("job", "api".to_owned()),
        label("le", if bound.is_infinite() { "+Inf".to_owned() } else { bound.to_string() }),
        label("namespace", format!("team-{}", instance % 17)),
        label("pod", format!("app-{}-{:05x}", instance % 50, instance)),
    ];
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// How a series' values evolve.
#[derive(Clone, Copy)]
enum Shape {
    Counter { rate: f64 },
    Gauge { level: f64 },
    Constant { value: f64 },
}

fn series_labels(index: usize) -> Vec<Label> {
    let label = |name: &str, value: String| Label { name: name.as_bytes().to_vec(), value: value.into_bytes() };
    let instance = index / 200;
    let mut labels = if index.is_multiple_of(2) {
        const MODES: [&str; 8] = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"];
        vec![
            label("__name__", "node_cpu_seconds_total".to_owned()),
            label("cpu", ((index / 8) % 25).to_string()),
            label("mode", MODES[index % 8].to_owned()),
        ]
    } else {
        const CODES: [&str; 5] = ["200", "201", "404", "500", "503"];
        vec![
            label("__name__", "http_requests_total".to_owned()),
            label("code", CODES[index % 5].to_owned()),
            // Together with `code`, the handler fixes `index mod 200`: unique within an instance.
            label("handler", format!("/api/v1/resource/{}", (index / 5) % 40)),
            label("method", if index.is_multiple_of(3) { "POST" } else { "GET" }.to_owned()),
        ]
    };
    labels.push(label(
        "instance",
        format!("10.{}.{}.{}:9100", instance / 65_536, (instance / 256) % 256, instance % 256),
    ));
    labels.push(label("job", if index.is_multiple_of(2) { "node" } else { "api" }.to_owned()));
    labels.push(label("namespace", format!("team-{}", instance % 17)));
    labels.push(label("pod", format!("app-{}-{:05x}", instance % 50, instance)));
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = SeededRng::new(args.seed);
    let mut labels: Vec<Vec<Label>> = (0..args.series).map(series_labels).collect();
    for histogram in 0..args.histograms {
        labels.extend((0..BUCKETS.len()).map(|bucket| histogram_labels(histogram, bucket)));
    }
    let total_series = labels.len();
    let mut shapes: Vec<Shape> = (0..args.series)
        .map(|_| match rng.below(10) {
            0..=4 => Shape::Counter { rate: 1.0 + rng.below(500) as f64 },
            5..=7 => Shape::Gauge { level: rng.below(10_000) as f64 / 100.0 },
            _ => Shape::Constant { value: rng.below(4) as f64 },
        })
        .collect();
    let mut histograms: Vec<Histogram> = (0..args.histograms)
        .map(|_| Histogram {
            rate: 1.0 + rng.below(100) as f64,
            median: 0.01 + rng.below(500) as f64 / 1000.0,
            counts: [0.0; BUCKETS.len()],
        })
        .collect();
    let mut values: Vec<f64> = vec![0.0; total_series];
    let steps = args.minutes * 60 / args.interval_seconds;
    let now = match args.end_ms {
        Some(end) => end,
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64,
    };
    let start = now - steps * args.interval_seconds * 1000;
    let client = reqwest::Client::new();
    let permits = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let mut last_report = Instant::now();
    let mut tasks = Vec::new();
    for step in 0..steps {
        let t = start + step * args.interval_seconds * 1000 + rng.below(50) as i64;
        for (index, shape) in shapes.iter_mut().enumerate() {
            values[index] = match shape {
                Shape::Counter { rate } => {
                    values[index] + (*rate * args.interval_seconds as f64 * (0.5 + rng.unit())).round()
                }
                Shape::Gauge { level } => {
                    *level = ((*level + (rng.unit() - 0.5) * 2.0) * 100.0).round() / 100.0;
                    *level
                }
                Shape::Constant { value } => *value,
            };
        }
        for (index, histogram) in histograms.iter_mut().enumerate() {
            histogram.observe((histogram.rate * args.interval_seconds as f64 * (0.5 + rng.unit())).round());
            let first = args.series + index * BUCKETS.len();
            values[first..first + BUCKETS.len()].copy_from_slice(&histogram.counts);
        }
        for chunk_start in (0..total_series).step_by(args.batch) {
            let chunk_end = (chunk_start + args.batch).min(total_series);
            let mut timeseries = Vec::with_capacity(chunk_end - chunk_start);
            for index in chunk_start..chunk_end {
                timeseries.push(TimeSeries {
                    labels: labels[index].clone(),
                    samples: vec![Sample { value: values[index], timestamp: t }],
                    ..TimeSeries::default()
                });
            }
            let request = WriteRequest { timeseries, ..WriteRequest::default() };
            let body = snap::raw::Encoder::new().compress_vec(&request.encode_to_vec()).context("snappy")?;
            let samples = (chunk_end - chunk_start) as u64;
            let permit = permits.clone().acquire_owned().await?;
            let (client, url, acknowledged, failed) =
                (client.clone(), args.url.clone(), acknowledged.clone(), failed.clone());
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let response = client
                    .post(&url)
                    .header("Content-Encoding", "snappy")
                    .header("Content-Type", "application/x-protobuf")
                    .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                    .body(body)
                    .send()
                    .await;
                match response {
                    Ok(response) if response.status().is_success() => {
                        acknowledged.fetch_add(samples, Ordering::Relaxed);
                    }
                    Ok(response) => {
                        let status = response.status();
                        let text = response.text().await.unwrap_or_default();
                        if failed.fetch_add(samples, Ordering::Relaxed) == 0 {
                            eprintln!(
                                "loadgen: first failure: {status}: {}",
                                text.chars().take(300).collect::<String>()
                            );
                        }
                    }
                    Err(error) => {
                        if failed.fetch_add(samples, Ordering::Relaxed) == 0 {
                            eprintln!("loadgen: first failure: {error}");
                        }
                    }
                }
            }));
        }
        // Every series must arrive in time order, as Prometheus' sharded sender guarantees:
        // finish this step's requests before sending the next step's.
        for task in tasks.drain(..) {
            task.await?;
        }
        if last_report.elapsed().as_secs() >= 10 {
            last_report = Instant::now();
            let done = acknowledged.load(Ordering::Relaxed);
            let rate = done as f64 / began.elapsed().as_secs_f64();
            let total = (steps as u64) * total_series as u64;
            let eta = (total.saturating_sub(done)) as f64 / rate.max(1.0);
            eprintln!("loadgen: step {step}/{steps}, {done} samples acknowledged, {rate:.0} samples/s, eta {eta:.0}s");
        }
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = began.elapsed().as_secs_f64();
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    println!(
        "acknowledged={acknowledged} failed={failed} seconds={elapsed:.2} samples_per_second={:.0}",
        acknowledged as f64 / elapsed
    );
    if failed > 0 {
        bail!("{failed} samples were not acknowledged");
    }
    Ok(())
}
