//! Browser test of the web UI: starts a real `panoptes server` (with rules, a self-scrape and
//! the built-in Alertmanager), backfills six hours of Istio-shaped traffic by remote write, then
//! runs `web/e2e/ui.mjs`, where playwright-core drives Debian's Chromium headless through every
//! page, Explore, silences and every dashboard in `../shared/testdata/dashboards`.
//! Screenshots and `summary.json` are written under `target/ui-e2e/`.
//!
//! Needs `/usr/bin/chromium` and `web/node_modules` (`scripts/test` installs both).

mod common;

use std::process::Command;

use common::{Process, free_address, wait_ready};
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest};

const STEP_MS: i64 = 15_000;
const HOURS: i64 = 6;

/// One edge of the simulated mesh: who calls whom, at how many requests per second.
struct Edge {
    source: &'static str,
    source_app: &'static str,
    destination: &'static str,
    destination_app: &'static str,
    service: &'static str,
    rps: f64,
    /// The share of 503 answers.
    errors: f64,
    latency_ms: f64,
}

const EDGES: &[Edge] = &[
    Edge {
        source: "istio-ingressgateway",
        source_app: "istio-ingressgateway",
        destination: "productpage-v1",
        destination_app: "productpage",
        service: "productpage",
        rps: 20.0,
        errors: 0.0,
        latency_ms: 40.0,
    },
    Edge {
        source: "productpage-v1",
        source_app: "productpage",
        destination: "details-v1",
        destination_app: "details",
        service: "details",
        rps: 20.0,
        errors: 0.0,
        latency_ms: 5.0,
    },
    Edge {
        source: "productpage-v1",
        source_app: "productpage",
        destination: "reviews-v1",
        destination_app: "reviews",
        service: "reviews",
        rps: 10.0,
        errors: 0.0,
        latency_ms: 8.0,
    },
    Edge {
        source: "productpage-v1",
        source_app: "productpage",
        destination: "reviews-v3",
        destination_app: "reviews",
        service: "reviews",
        rps: 10.0,
        errors: 0.0,
        latency_ms: 30.0,
    },
    Edge {
        source: "reviews-v3",
        source_app: "reviews",
        destination: "ratings-v1",
        destination_app: "ratings",
        service: "ratings",
        rps: 10.0,
        errors: 0.05,
        latency_ms: 6.0,
    },
];

const BUCKETS: &[f64] = &[1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0];

fn labels(pairs: &[(&str, String)]) -> Vec<Label> {
    let mut labels: Vec<Label> = pairs.iter().map(|(name, value)| Label::new(name, value)).collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

fn istio_labels(edge: &Edge, reporter: &str, code: &str) -> Vec<(&'static str, String)> {
    let ns = "default".to_owned();
    let service = format!("{}.default.svc.cluster.local", edge.service);
    vec![
        ("reporter", reporter.to_owned()),
        ("source_workload", edge.source.to_owned()),
        (
            "source_workload_namespace",
            if edge.source == "istio-ingressgateway" { "istio-system".to_owned() } else { ns.clone() },
        ),
        ("source_app", edge.source_app.to_owned()),
        ("source_version", edge.source.rsplit('-').next().unwrap_or("v1").to_owned()),
        ("source_principal", format!("spiffe://cluster.local/ns/default/sa/bookinfo-{}", edge.source_app)),
        ("source_cluster", "Kubernetes".to_owned()),
        ("destination_service", service),
        ("destination_service_name", edge.service.to_owned()),
        ("destination_service_namespace", ns.clone()),
        ("destination_workload", edge.destination.to_owned()),
        ("destination_workload_namespace", ns),
        ("destination_app", edge.destination_app.to_owned()),
        ("destination_version", edge.destination.rsplit('-').next().unwrap_or("v1").to_owned()),
        ("destination_principal", format!("spiffe://cluster.local/ns/default/sa/bookinfo-{}", edge.destination_app)),
        ("destination_cluster", "Kubernetes".to_owned()),
        ("request_protocol", "http".to_owned()),
        ("response_code", code.to_owned()),
        ("response_flags", "-".to_owned()),
        ("grpc_response_status", String::new()),
        (
            "connection_security_policy",
            if reporter == "destination" { "mutual_tls".to_owned() } else { "unknown".to_owned() },
        ),
        ("job", "kubernetes-pods".to_owned()),
        ("instance", format!("10.0.0.{}:15020", edge.destination.len())),
    ]
}

/// Builds every series of the simulated data with its value at step `i` (counters grow
/// linearly with a daily-looking wave so graphs are not flat).
fn generate(start_ms: i64, steps: i64) -> Vec<(Vec<Label>, Vec<f64>)> {
    let wave = |i: i64, phase: f64| 1.0 + 0.3 * ((i as f64) / 90.0 + phase).sin();
    let counter = |rate: f64, phase: f64| {
        let mut total = 0.0;
        (0..steps)
            .map(|i| {
                total += rate * wave(i, phase) * (STEP_MS as f64 / 1000.0);
                total
            })
            .collect::<Vec<f64>>()
    };
    let mut out = Vec::new();
    for (k, edge) in EDGES.iter().enumerate() {
        let phase = k as f64;
        for reporter in ["source", "destination"] {
            for (code, share) in [("200", 1.0 - edge.errors), ("503", edge.errors)] {
                if share == 0.0 {
                    continue;
                }
                let base = istio_labels(edge, reporter, code);
                let mut with = |name: &str, extra: Option<(&'static str, String)>, values: Vec<f64>| {
                    let mut pairs = base.clone();
                    pairs.push(("__name__", name.to_owned()));
                    pairs.extend(extra);
                    out.push((labels(&pairs), values));
                };
                let rps = edge.rps * share;
                with("istio_requests_total", None, counter(rps, phase));
                for (metric, mean) in [
                    ("istio_request_duration_milliseconds", edge.latency_ms),
                    ("istio_request_bytes", 700.0),
                    ("istio_response_bytes", 4000.0),
                ] {
                    for bound in BUCKETS {
                        // The share of requests at or under the bound, from an exponential distribution.
                        let below = 1.0 - (-bound / mean).exp();
                        with(
                            &format!("{metric}_bucket"),
                            Some(("le", format!("{bound}"))),
                            counter(rps * below, phase),
                        );
                    }
                    with(&format!("{metric}_bucket"), Some(("le", "+Inf".to_owned())), counter(rps, phase));
                    with(&format!("{metric}_sum"), None, counter(rps * mean, phase));
                    with(&format!("{metric}_count"), None, counter(rps, phase));
                }
            }
        }
    }
    // The render benchmark's data: 20 panels × 10 series of gauges.
    for panel in 0..20 {
        for series in 0..10 {
            let values = (0..steps).map(|i| (panel * 10 + series) as f64 + 5.0 * wave(i, series as f64)).collect();
            out.push((
                labels(&[
                    ("__name__", "bench_series".to_owned()),
                    ("panel", panel.to_string()),
                    ("series", series.to_string()),
                ]),
                values,
            ));
        }
    }
    let _ = start_ms;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_every_shared_dashboard_render_in_chromium() {
    let browser = common::Browser::find("ui-e2e");
    let root = browser.root.clone();
    let dashboards = root.join("../shared/testdata/dashboards");
    assert!(dashboards.is_dir(), "{} is missing", dashboards.display());
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let address = free_address();
    std::fs::write(dir.path().join("am.yml"), "route:\n  receiver: blackhole\nreceivers:\n- name: blackhole\n")
        .unwrap();
    std::fs::write(
        dir.path().join("rules.yml"),
        "groups:\n- name: mesh\n  rules:\n  - record: workload:istio_requests:rate5m\n    expr: sum by (destination_workload) (rate(istio_requests_total[5m]))\n  - alert: AlwaysFiring\n    expr: vector(1)\n    labels: {severity: info}\n    annotations: {summary: 'fires so that the Alerts page has something to show'}\n  - alert: HighErrorRatio\n    expr: sum by (destination_workload) (rate(istio_requests_total{response_code=~\"5..\"}[5m])) / sum by (destination_workload) (rate(istio_requests_total[5m])) > 0.5\n    for: 5m\n    labels: {severity: critical}\n    annotations: {summary: 'more than half of the requests fail'}\n",
    )
    .unwrap();
    let config_path = dir.path().join("panoptes.yml");
    // No scrapes or rules while backfilling: their samples at "now" would make the six hours
    // of history older than the head accepts.
    // The evaluation interval is set from the start: a reload does not apply a changed global
    // evaluation_interval to the rule groups it creates (they keep the previous one).
    std::fs::write(
        &config_path,
        "global:\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: pushgateway\n  static_configs: []\n",
    )
    .unwrap();
    let log_path = dir.path().join("server.log");
    let child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .arg("server")
        .arg("--storage.tsdb.path")
        .arg(dir.path().join("data"))
        .arg(format!("--web.listen-address={address}"))
        .arg("--config.file")
        .arg(&config_path)
        .arg("--alertmanager.config.file")
        .arg(dir.path().join("am.yml"))
        .arg("--web.enable-lifecycle")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("start panoptes");
    let mut server = Process { child, address };
    wait_ready(&client, address, &mut server.child, &log_path).await;

    let now =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let steps = HOURS * 3_600_000 / STEP_MS + 1;
    let start = (now - (steps - 1) * STEP_MS) / STEP_MS * STEP_MS;
    let data = generate(start, steps);
    // Time-ordered batches of 20 minutes across all series, as a scraper would have sent them.
    let per_batch = 80;
    for first in (0..steps).step_by(per_batch) {
        let last = (first + per_batch as i64).min(steps);
        let timeseries = data
            .iter()
            .map(|(labels, values)| TimeSeries {
                labels: labels.clone(),
                samples: (first..last)
                    .map(|i| Sample { value: values[i as usize], timestamp: start + i * STEP_MS })
                    .collect(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect();
        common::remote_write(&client, address, &WriteRequest { timeseries, metadata: Vec::new() }).await;
    }

    std::fs::write(
        &config_path,
        format!(
            "global:\n  scrape_interval: 5s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n- job_name: panoptes\n  static_configs:\n  - targets: ['{address}']\n- job_name: unreachable\n  static_configs:\n  - targets: ['127.0.0.1:1']\n",
            dir.path().join("rules.yml").display()
        ),
    )
    .unwrap();
    let reload = client.post(format!("http://{address}/-/reload")).send().await.unwrap();
    assert_eq!(reload.status(), 200, "reload: {}", reload.text().await.unwrap_or_default());
    // Wait for the first scrape and rule evaluation so that every page has content.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let alerts = common::get_data(&client, &format!("http://{address}/api/v1/alerts")).await;
        let targets = common::get_data(&client, &format!("http://{address}/api/v1/targets")).await;
        let firing = alerts["alerts"].as_array().is_some_and(|a| a.iter().any(|a| a["state"] == "firing"));
        let scraped = targets["activeTargets"].as_array().is_some_and(|t| t.iter().any(|t| t["health"] == "up"));
        if firing && scraped {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no firing alert or healthy target after 20 s: {alerts} {targets}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    let (summary, succeeded, stderr) =
        browser.run("ui.mjs", address, &[("PANOPTES_DASHBOARDS", dashboards.clone().into_os_string())]).await;
    for dashboard in summary["dashboards"].as_array().unwrap() {
        eprintln!(
            "dashboard {}: {} panels ({} with data), {} queries, {} failures, {} panels with unsupported features",
            dashboard["dashboard"],
            dashboard["panels"],
            dashboard["panelsWithData"],
            dashboard["queries"],
            dashboard["failures"].as_array().unwrap().len(),
            dashboard["panelsWithUnsupported"]
        );
    }
    eprintln!(
        "render of 20 panels × 10 series over 6h: {} ms to the last canvas (median; queries done at {} ms), runs {}",
        summary["bench"]["medianMs"], summary["bench"]["medianQueriesDoneMs"], summary["bench"]["runs"]
    );
    eprintln!("screenshots in {}", browser.artifacts.display());
    assert!(succeeded, "browser test failed: {}\n{stderr}", summary["failures"]);
    assert_eq!(summary["failures"], serde_json::json!([]));
    assert_eq!(summary["explore"]["graph"], true);
    assert_eq!(summary["explore"]["completion"], true);
    assert_eq!(summary["editor"]["panelDrawn"], true);
    assert_eq!(summary["silence"]["created"], true);
    assert_eq!(summary["silence"]["expired"], true);
    let shared = std::fs::read_dir(root.join("../shared/testdata/dashboards"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
        .count();
    assert_eq!(summary["dashboards"].as_array().unwrap().len(), shared, "every shared dashboard is rendered");
    for dashboard in summary["dashboards"].as_array().unwrap() {
        assert!(dashboard["panels"].as_u64().unwrap() > 0, "{dashboard}");
        assert!(dashboard["queries"].as_u64().unwrap() > 0, "{dashboard}");
    }
}
