//! The demo's workloads and control API over real HTTP on loopback: every sidecar page parses
//! with the scrape crate's exposition parser, carries Istio's full label set, has unique series
//! and counters that only grow; the control API validates and applies its changes.

use std::collections::BTreeSet;
use std::time::Duration;

use panoptes_demo::{Demo, DemoOptions, Error, ReviewsWeights, TrafficControl, WORKLOADS};
use panoptes_scrape::exposition::{Entry, Format, parse};
use serde_json::{Value, json};

/// Istio's labels of a request series as stored: `grpc_response_status` is on the page but
/// empty for HTTP, and a parser drops empty labels.
const REQUEST_LABELS: [&str; 25] = [
    "connection_security_policy",
    "destination_app",
    "destination_canonical_revision",
    "destination_canonical_service",
    "destination_cluster",
    "destination_principal",
    "destination_service",
    "destination_service_name",
    "destination_service_namespace",
    "destination_version",
    "destination_workload",
    "destination_workload_namespace",
    "reporter",
    "request_protocol",
    "response_code",
    "response_flags",
    "source_app",
    "source_canonical_revision",
    "source_canonical_service",
    "source_cluster",
    "source_principal",
    "source_version",
    "source_workload",
    "source_workload_namespace",
    "__name__",
];

/// One sample of a page: metric name, labels (name included) and value.
type Sample = (String, Vec<(String, String)>, f64);

struct Page {
    samples: Vec<Sample>,
}

async fn scrape(client: &reqwest::Client, url: &str) -> Page {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    let body = response.bytes().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    if url.ends_with(panoptes_demo::METRICS_PATH) {
        // A sidecar's page: the empty gRPC status is written, as Istio writes it.
        assert!(text.contains(",grpc_response_status=\"\","), "{url}: {}", &text[..text.len().min(3000)]);
    }
    let entries = parse(&body, Format::PrometheusText).unwrap_or_else(|error| panic!("{url}: {error}"));
    let samples = entries
        .into_iter()
        .filter_map(|entry| match entry {
            Entry::Series(series) => {
                let labels: Vec<(String, String)> =
                    series.labels.iter().map(|label| (label.name.to_string(), label.value.to_string())).collect();
                let name = labels.iter().find(|(name, _)| name == "__name__").unwrap().1.clone();
                Some((name, labels, series.value))
            }
            _ => None,
        })
        .collect();
    Page { samples }
}

#[tokio::test]
async fn sidecar_pages_parse_with_istio_labels_and_growing_counters() {
    // Every reviews version gets traffic, so that every sidecar has something to report.
    let control = TrafficControl { reviews: ReviewsWeights { v1: 34, v2: 33, v3: 33 }, ..TrafficControl::default() };
    let options = DemoOptions { seed: 7, requests_per_second: 50.0, node_metrics: false, control };
    let demo = Demo::start(options).await.unwrap();
    // One target per workload's sidecar, then istiod and the kubelet's cAdvisor.
    assert_eq!(demo.targets().len(), WORKLOADS.len() + 2);
    let (sidecars, platform) = demo.targets().split_at(WORKLOADS.len());
    assert_eq!(
        platform.iter().map(|target| target.job.as_str()).collect::<Vec<_>>(),
        ["istiod", "kubernetes-cadvisor"]
    );
    let client = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let mut first = Vec::new();
    for target in sidecars {
        let url = format!("http://{}{}", target.address, target.metrics_path);
        let page = scrape(&client, &url).await;
        let mut seen = BTreeSet::new();
        for (name, labels, _) in &page.samples {
            assert!(seen.insert(labels.clone()), "{url}: duplicate series {labels:?}");
            if name == "istio_requests_total" {
                let names: BTreeSet<&str> = labels.iter().map(|(name, _)| name.as_str()).collect();
                assert_eq!(names, REQUEST_LABELS.iter().copied().collect::<BTreeSet<_>>(), "{url}");
            }
        }
        let requests = page.samples.iter().filter(|(name, _, _)| name == "istio_requests_total").count();
        assert!(requests > 0, "{url} reports requests after two seconds");
        for family in [
            "istio_request_duration_milliseconds_bucket",
            "istio_request_bytes_sum",
            "istio_response_bytes_count",
            "istio_tcp_sent_bytes_total",
            "istio_tcp_received_bytes_total",
            "istio_tcp_connections_opened_total",
            "istio_tcp_connections_closed_total",
        ] {
            assert!(page.samples.iter().any(|(name, _, _)| name == family), "{url} has {family}");
        }
        first.push(page);
    }
    // istiod's and cAdvisor's pages parse, without duplicates, with what the dashboards read:
    // every container of every pod, CPU that grew with the traffic.
    for target in platform {
        let url = format!("http://{}{}", target.address, target.metrics_path);
        let page = scrape(&client, &url).await;
        let mut seen = BTreeSet::new();
        for (_, labels, _) in &page.samples {
            assert!(seen.insert(labels.clone()), "{url}: duplicate series {labels:?}");
        }
        let families: BTreeSet<&str> = page.samples.iter().map(|(name, _, _)| name.as_str()).collect();
        let expected: &[&str] = if target.job == "istiod" {
            &[
                "pilot_xds",
                "pilot_xds_pushes",
                "pilot_xds_push_time_bucket",
                "pilot_k8s_cfg_events",
                "go_goroutines",
                "istio_build",
            ]
        } else {
            &["container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "container_fs_usage_bytes"]
        };
        for family in expected {
            assert!(families.contains(family), "{url} has {family}: {families:?}");
        }
        if target.job == "kubernetes-cadvisor" {
            for workload in &WORKLOADS {
                let proxy_cpu = page
                    .samples
                    .iter()
                    .find(|(name, labels, _)| {
                        name == "container_cpu_usage_seconds_total"
                            && labels.contains(&("pod".to_owned(), workload.pod.to_owned()))
                            && labels.contains(&("container".to_owned(), "istio-proxy".to_owned()))
                    })
                    .map(|(_, _, value)| *value);
                // Idle use alone is 3 ms per second: the traffic adds far more.
                assert!(proxy_cpu.is_some_and(|cpu| cpu > 0.01), "{} sidecar CPU {proxy_cpu:?}", workload.name);
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (target, before) in sidecars.iter().zip(&first) {
        let after = scrape(&client, &format!("http://{}{}", target.address, target.metrics_path)).await;
        for (name, labels, value) in &before.samples {
            let later = after.samples.iter().find(|(_, other, _)| other == labels).map(|(_, _, value)| *value);
            assert!(later.is_some_and(|later| later >= *value), "{name} {labels:?} went from {value} to {later:?}");
        }
    }
    demo.stop();
}

async fn call(client: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(serde_json::to_vec(&body).unwrap());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, serde_json::from_str(&response.text().await.unwrap()).unwrap())
}

#[tokio::test]
async fn control_api_validates_and_applies_changes() {
    let options = DemoOptions { node_metrics: false, ..DemoOptions::default() };
    let demo = Demo::start(options).await.unwrap();
    let router: axum::Router = demo.router();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();
    use reqwest::Method;

    let (status, state) = call(&client, Method::GET, &format!("{base}/api/demo/state"), None).await;
    assert_eq!(status, 200);
    assert_eq!(state["routes"]["reviews"], json!({"v1": 50, "v2": 0, "v3": 50}));
    assert_eq!(state["targets"].as_array().unwrap().len(), WORKLOADS.len() + 2);

    let (status, state) =
        call(&client, Method::PUT, &format!("{base}/api/demo/routes/reviews"), Some(json!({"v2": 20, "v3": 80}))).await;
    assert_eq!((status, state["routes"]["reviews"].clone()), (200, json!({"v1": 0, "v2": 20, "v3": 80})));
    let (status, error) =
        call(&client, Method::PUT, &format!("{base}/api/demo/routes/reviews"), Some(json!({"v5": 100}))).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().starts_with("invalid JSON body: unknown field `v5`"), "{error}");

    let fault = json!({"abortPercent": 10, "abortCode": 500, "delayMs": 250});
    let (status, state) = call(&client, Method::PUT, &format!("{base}/api/demo/faults/details-v1"), Some(fault)).await;
    assert_eq!(status, 200);
    assert_eq!(state["faults"]["details-v1"], json!({"abortPercent": 10.0, "abortCode": 500, "delayMs": 250}));
    let (status, error) =
        call(&client, Method::PUT, &format!("{base}/api/demo/faults/details-v1"), Some(json!({"abortCode": 302})))
            .await;
    assert_eq!(
        (status, error["error"].clone()),
        (400, json!("invalid demo setting: abortCode 302 must be an HTTP error status (400..599)"))
    );
    let (status, state) = call(&client, Method::DELETE, &format!("{base}/api/demo/faults/details-v1"), None).await;
    assert_eq!((status, state["faults"].clone()), (200, json!({})));
    let (status, _) = call(&client, Method::DELETE, &format!("{base}/api/demo/faults/nobody"), None).await;
    assert_eq!(status, 404);

    // A workload taken down answers 503 on its metrics page until it is brought back.
    let ratings = demo.targets().iter().find(|target| target.job == "ratings-v1").unwrap();
    let page = format!("http://{}{}", ratings.address, ratings.metrics_path);
    let (status, state) =
        call(&client, Method::PUT, &format!("{base}/api/demo/workloads/ratings-v1"), Some(json!({"up": false}))).await;
    assert_eq!((status, state["down"].clone()), (200, json!(["ratings-v1"])));
    assert_eq!(client.get(&page).send().await.unwrap().status(), 503);
    call(&client, Method::PUT, &format!("{base}/api/demo/workloads/ratings-v1"), Some(json!({"up": true}))).await;
    assert_eq!(client.get(&page).send().await.unwrap().status(), 200);
    demo.stop();
}

async fn start_error(options: DemoOptions) -> String {
    let error = Demo::start(options).await.unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    error.to_string()
}

#[tokio::test]
async fn bad_options_are_refused_before_anything_listens() {
    assert_eq!(
        start_error(DemoOptions { requests_per_second: 0.0, ..DemoOptions::default() }).await,
        "invalid demo setting: requests per second 0 must be within (0, 10000]"
    );
    let mut control = TrafficControl::default();
    control.reviews.v1 = 10;
    assert_eq!(
        start_error(DemoOptions { control, ..DemoOptions::default() }).await,
        "invalid demo setting: reviews weights v1=10 v2=0 v3=50 add up to 60, not 100"
    );
}
