//! `panoptes demo` as a newcomer runs it, on loopback: within a minute every simulated target is
//! up, the mesh has traffic with the reviews split visible by `destination_version`; faults and
//! routes changed through `/api/demo` show up in the data and fire the 5xx alert; every PromQL
//! query of Istio's own dashboards (`../shared/testdata/dashboards`, template variables set to
//! demo values) and of the demo's default dashboards runs without error.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const WORKLOADS: [&str; 7] =
    ["istio-ingressgateway", "productpage-v1", "details-v1", "reviews-v1", "reviews-v2", "reviews-v3", "ratings-v1"];

struct Demo {
    process: common::Process,
    log: PathBuf,
    client: reqwest::Client,
}

impl Demo {
    /// POSTs a form and returns the JSON answer.
    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, String> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|error| error.to_string())?;
        let text = response.text().await.map_err(|error| error.to_string())?;
        serde_json::from_str(&text).map_err(|error| format!("{error}: {text}"))
    }

    /// GETs a JSON answer.
    async fn get_json(&self, path: &str) -> Option<Value> {
        let text = self.client.get(self.url(path)).send().await.ok()?.text().await.ok()?;
        serde_json::from_str(&text).ok()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.process.address)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs an instant query; returns the result vector or the error text.
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let body = self.post_form("/api/v1/query", &[("query", expr)]).await?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// Runs a range query over the last two minutes; returns how many series came back.
    async fn query_range(&self, expr: &str) -> Result<usize, String> {
        let end = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        let (start, end) = (format!("{}", end - 120.0), format!("{end}"));
        let form = [("query", expr), ("start", start.as_str()), ("end", end.as_str()), ("step", "15")];
        let body = self.post_form("/api/v1/query_range", &form).await?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        Ok(body["data"]["result"].as_array().map_or(0, Vec::len))
    }

    async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self
            .client
            .put(self.url(path))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
    }

    /// Polls `check` every second until it returns `Some`, failing with the log after `timeout`.
    async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(value) = check().await {
                return value;
            }
            assert!(Instant::now() < deadline, "{what} not seen within {timeout:?}; log:\n{}", self.log());
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn start_demo(dir: &Path, extra: &[&str]) -> Demo {
    let address = common::free_address();
    let log = dir.join("demo.log");
    let child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .arg("demo")
        .arg(format!("--web.listen-address={address}"))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start panoptes demo");
    let mut process = common::Process { child, address };
    let client = reqwest::Client::new();
    common::wait_ready(&client, address, &mut process.child, &log).await;
    Demo { process, log, client }
}

fn value_of(sample: &Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mesh_is_alive_within_a_minute_and_faults_fire_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let demo = start_demo(dir.path(), &["--demo.fault.ratings-abort-percent=0"]).await;

    // Every target up: the seven workloads and the node collector.
    let targets = demo
        .wait_for("every target up", Duration::from_secs(60), || async {
            let body = demo.get_json("/api/v1/targets").await?;
            let active = body["data"]["activeTargets"].as_array()?.clone();
            let jobs: BTreeMap<String, String> = active
                .iter()
                .map(|target| {
                    (
                        target["labels"]["job"].as_str().unwrap().to_owned(),
                        target["health"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let expected =
                WORKLOADS.iter().chain(&["node"]).all(|job| jobs.get(*job).is_some_and(|health| health == "up"));
            (expected && jobs.values().all(|health| health == "up")).then_some(active)
        })
        .await;
    let productpage = targets.iter().find(|target| target["labels"]["job"] == "productpage-v1").unwrap();
    assert_eq!(productpage["labels"]["namespace"], "default");
    assert_eq!(productpage["labels"]["app"], "productpage");
    assert_eq!(productpage["labels"]["version"], "v1");
    assert!(productpage["labels"]["pod"].as_str().unwrap().starts_with("productpage-v1-"));
    assert!(productpage["scrapeUrl"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    println!("every target up after {:?}", started.elapsed());

    // Traffic, and the 50/50 reviews split by destination_version.
    let total = demo
        .wait_for("traffic", Duration::from_secs(60), || async {
            let result = demo.query("sum(rate(istio_requests_total[1m]))").await.ok()?;
            result.first().map(value_of).filter(|rate| *rate > 0.0)
        })
        .await;
    let split = r#"sum by (destination_version) (rate(istio_requests_total{reporter="destination", destination_service_name="reviews"}[1m]))"#;
    let versions = demo
        .wait_for("reviews split", Duration::from_secs(30), || async {
            let result = demo.query(split).await.ok()?;
            let versions: BTreeMap<String, f64> = result
                .iter()
                .map(|sample| (sample["metric"]["destination_version"].as_str().unwrap().to_owned(), value_of(sample)))
                .collect();
            (versions.len() == 2).then_some(versions)
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the mesh is alive within a minute, took {:?}",
        started.elapsed()
    );
    assert_eq!(versions.keys().collect::<Vec<_>>(), ["v1", "v3"], "{versions:?}");
    assert!(versions.values().all(|rate| *rate > 0.0));
    println!("after {:?}: {total:.1} requests/s in the mesh, reviews split {versions:?}", started.elapsed());
    let errors = demo.query(r#"sum(rate(istio_requests_total{response_code=~"5.."}[1m]))"#).await.unwrap();
    assert!(errors.is_empty() || value_of(&errors[0]) == 0.0, "no faults yet: {errors:?}");

    // Bad control requests are refused with the reason.
    let (status, refused) = demo.put("/api/demo/routes/reviews", &json!({"v1": 10})).await;
    assert_eq!(status, 400);
    assert_eq!(refused["error"], "invalid demo setting: reviews weights v1=10 v2=0 v3=0 add up to 10, not 100");
    let (status, refused) = demo.put("/api/demo/faults/ratings-v9", &json!({"abortPercent": 5})).await;
    assert_eq!(status, 404, "{refused}");

    // Route everything to reviews-v2 (which calls ratings), make ratings fail 20% of requests,
    // slow reviews-v2 down and take details-v1's endpoint down: each default rule fires.
    let (status, state) = demo.put("/api/demo/routes/reviews", &json!({"v1": 0, "v2": 100, "v3": 0})).await;
    assert_eq!(status, 200, "{state}");
    let (status, state) = demo.put("/api/demo/faults/ratings-v1", &json!({"abortPercent": 20, "abortCode": 503})).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["faults"]["ratings-v1"]["abortPercent"], 20.0);
    let (status, state) = demo.put("/api/demo/faults/reviews-v2", &json!({"delayMs": 1500})).await;
    assert_eq!(status, 200, "{state}");
    let (status, state) = demo.put("/api/demo/workloads/details-v1", &json!({"up": false})).await;
    assert_eq!((status, state["down"].clone()), (200, json!(["details-v1"])));
    let fault_injected = Instant::now();
    let expected = [
        ("IstioHigh5xxRate", "destination_workload", "ratings-v1"),
        ("IstioHighP99Latency", "destination_workload", "reviews-v2"),
        ("TargetDown", "job", "details-v1"),
    ];
    let firing = demo
        .wait_for("the three default alerts firing", Duration::from_secs(120), || async {
            let body = demo.get_json("/api/v1/alerts").await?;
            let alerts = body["data"]["alerts"].as_array()?.clone();
            let found: Vec<Value> = expected
                .iter()
                .filter_map(|(name, label, value)| {
                    alerts
                        .iter()
                        .find(|alert| {
                            alert["labels"]["alertname"] == *name
                                && alert["labels"][*label] == *value
                                && alert["state"] == "firing"
                        })
                        .cloned()
                })
                .collect();
            (found.len() == expected.len()).then_some(found)
        })
        .await;
    let alert = &firing[0];
    assert_eq!(alert["labels"]["severity"], "critical");
    assert!(alert["annotations"]["summary"].as_str().unwrap().starts_with("ratings-v1 answers "), "{alert}");
    let latency = firing[1]["annotations"]["summary"].as_str().unwrap();
    let milliseconds: f64 =
        latency.strip_prefix("reviews-v2 p99 latency is ").unwrap().strip_suffix(" ms").unwrap().parse().unwrap();
    assert!(milliseconds > 1500.0, "{latency}");
    println!("alerts firing {:?} after the faults were injected:", fault_injected.elapsed());
    for alert in &firing {
        println!("  {} {}", alert["labels"]["alertname"], alert["annotations"]["summary"]);
    }
    let v2 = demo
        .query(&split.replace(
            "destination_service_name=\"reviews\"",
            "destination_service_name=\"reviews\", destination_version=\"v2\"",
        ))
        .await
        .unwrap();
    assert!(!v2.is_empty() && value_of(&v2[0]) > 0.0, "v2 receives traffic after the route change");

    // Istio's own dashboards and the demo's, query by query.
    let mut failures = Vec::new();
    for (name, dashboard) in istio_dashboards() {
        let (failed, queries, with_data) = run_dashboard(&demo, &name, &dashboard, &[]).await;
        failures.extend(failed);
        // The demo simulates the sidecars, istiod and cAdvisor, so every dashboard but ztunnel's
        // (ambient mode is not simulated) has data for most of its queries.
        if !name.starts_with("ztunnel") {
            assert!(with_data * 2 >= queries, "{name}: only {with_data} of {queries} queries have data");
        }
        println!("{name}: {with_data} of {queries} queries have data");
    }
    let node = demo.query("node_uname_info").await.unwrap();
    let node_instance = node[0]["metric"]["instance"].as_str().unwrap().to_owned();
    let search = demo.get_json("/api/search?tag=panoptes-demo").await.unwrap();
    let uids: Vec<&str> = search.as_array().unwrap().iter().map(|hit| hit["uid"].as_str().unwrap()).collect();
    assert_eq!(uids, ["panoptes-mesh", "panoptes-service", "panoptes-workload", "panoptes-node"]);
    for uid in uids {
        let got = demo.get_json(&format!("/api/dashboards/uid/{uid}")).await.unwrap();
        assert_eq!(got["meta"]["provisioned"], true);
        assert_eq!(
            got["meta"]["panoptesCompatibility"]["unsupportedCount"], 0,
            "{uid}: {}",
            got["meta"]["panoptesCompatibility"]
        );
        // The demo's service dashboard selects by service name, its node dashboard by instance.
        let overrides = [("service", "reviews"), ("instance", node_instance.as_str())];
        let (failed, queries, with_data) = run_dashboard(&demo, uid, &got["dashboard"], &overrides).await;
        failures.extend(failed);
        if uid != "panoptes-node" {
            assert_eq!(with_data, queries, "{uid}: every query of the demo's mesh dashboards has data");
        }
    }
    assert!(failures.is_empty(), "queries failed:\n{}", failures.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_demo_fires_the_5xx_alert_within_a_minute() {
    // Defaults only: ratings-v1 answers 5% of its requests with 503.
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let demo = start_demo(dir.path(), &[]).await;
    let alert = demo
        .wait_for("IstioHigh5xxRate firing", Duration::from_secs(60), || async {
            let body = demo.get_json("/api/v1/alerts").await?;
            body["data"]["alerts"]
                .as_array()?
                .iter()
                .find(|alert| alert["labels"]["alertname"] == "IstioHigh5xxRate" && alert["state"] == "firing")
                .cloned()
        })
        .await;
    assert_eq!(alert["labels"]["destination_workload"], "ratings-v1");
    println!("default demo: {} after {:?}", alert["annotations"]["summary"], started.elapsed());
    let state = demo.get_json("/api/demo/state").await.unwrap();
    assert_eq!(state["faults"], json!({"ratings-v1": {"abortPercent": 5.0, "abortCode": 503, "delayMs": 0}}));
    assert_eq!(state["routes"]["reviews"], json!({"v1": 50, "v2": 0, "v3": 50}));
    assert_eq!(state["requestsPerSecond"], 20.0);
}

fn istio_dashboards() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap(),
            )
        })
        .collect()
}

/// The values a user of the demo would pick for the dashboards' variables; multi-value
/// variables with "All" become `.*`, as Grafana's All value for regex matchers.
fn substitute(expr: &str, overrides: &[(&str, &str)]) -> String {
    let defaults = [
        ("__rate_interval", "1m"),
        ("__interval", "15s"),
        ("__range_s", "120"),
        ("__range", "2m"),
        ("interval", "1m"),
        ("service", "reviews.default.svc.cluster.local"),
        ("namespace", "default"),
        ("workload", "reviews-v3"),
        ("qrep", "destination"),
        ("srccluster", ".*"),
        ("srcns", ".*"),
        ("srcwl", ".*"),
        ("dstcluster", ".*"),
        ("dstns", ".*"),
        ("dstwl", ".*"),
        ("dstsvc", ".*"),
        ("instance", ".*"),
    ];
    let mut expr = expr.to_owned();
    let values =
        overrides.iter().chain(defaults.iter().filter(|(name, _)| !overrides.iter().any(|(given, _)| given == name)));
    for (name, value) in values {
        expr = expr.replace(&format!("${{{name}}}"), value).replace(&format!("${name}"), value);
    }
    expr
}

/// Returns `(panel title, expr, instant)` for every query of every panel, nested ones included.
fn panel_queries(panels: &Value, out: &mut Vec<(String, String, bool)>, panel_count: &mut usize) {
    for panel in panels.as_array().into_iter().flatten() {
        *panel_count += 1;
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str().filter(|expr| !expr.trim().is_empty()) {
                let title = panel["title"].as_str().unwrap_or("").to_owned();
                out.push((title, expr.to_owned(), target["instant"].as_bool().unwrap_or(false)));
            }
        }
        panel_queries(&panel["panels"], out, panel_count);
    }
}

/// Runs every panel query (and every `query_result(...)` variable) of a dashboard against the
/// demo; prints the per-dashboard numbers and returns the failures, the number of queries and
/// how many returned data.
async fn run_dashboard(
    demo: &Demo,
    name: &str,
    dashboard: &Value,
    overrides: &[(&str, &str)],
) -> (Vec<String>, usize, usize) {
    let mut queries = Vec::new();
    let mut panels = 0;
    panel_queries(&dashboard["panels"], &mut queries, &mut panels);
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        let query = variable["query"].as_str().or_else(|| variable["query"]["query"].as_str()).unwrap_or("");
        if let Some(inner) = query.trim().strip_prefix("query_result(").and_then(|rest| rest.strip_suffix(')')) {
            queries.push((format!("variable {}", variable["name"]), inner.to_owned(), true));
        }
    }
    let mut failures = Vec::new();
    let mut with_data = 0;
    for (title, expr, instant) in &queries {
        let expr = substitute(expr, overrides);
        if expr.contains('$') {
            failures.push(format!("{name} / {title}: unsubstituted variable in {expr}"));
            continue;
        }
        let result =
            if *instant { demo.query(&expr).await.map(|result| result.len()) } else { demo.query_range(&expr).await };
        match result {
            Ok(series) => with_data += usize::from(series > 0),
            Err(error) => failures.push(format!("{name} / {title}: {error}\n    {expr}")),
        }
    }
    println!("{name}: {panels} panels, {} queries, {} failures, {with_data} with data", queries.len(), failures.len());
    (failures, queries.len(), with_data)
}
