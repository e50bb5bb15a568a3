//! Kubernetes discovery end to end: `panoptes server --config.file` with the jobs of a standard
//! Prometheus Kubernetes configuration (kubelet/cAdvisor through the API server proxy,
//! `prometheus.io/*` annotations on pods and services) pointed at the fake API server of
//! `panoptes-test-util`. The fake speaks the real list/watch wire format because no real API
//! server can run on the build machines; it holds the Istio Bookinfo manifests turned into
//! live objects. The targets must show on `/api/v1/targets` as Prometheus would show them.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use panoptes_test_util::fake_kube::FakeApiServer;
use panoptes_test_util::fake_kube::bookinfo::Bookinfo;
use serde_json::json;

use crate::common::{active, get_data, start_server, wait_ready};

fn config(api_server: &str) -> String {
    let host = api_server.trim_start_matches("http://");
    format!(
        r#"
global:
  scrape_interval: 1m
scrape_configs:
- job_name: kubernetes-cadvisor
  kubernetes_sd_configs:
  - role: node
    api_server: {api_server}
  relabel_configs:
  - action: labelmap
    regex: __meta_kubernetes_node_label_(.+)
  - target_label: __address__
    replacement: {host}
  - source_labels: [__meta_kubernetes_node_name]
    regex: (.+)
    target_label: __metrics_path__
    replacement: /api/v1/nodes/${{1}}/proxy/metrics/cadvisor
- job_name: kubernetes-service-endpoints
  kubernetes_sd_configs:
  - role: endpoints
    api_server: {api_server}
  relabel_configs:
  - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scrape]
    action: keep
    regex: true
  - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scheme]
    target_label: __scheme__
    regex: (https?)
  - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_path]
    target_label: __metrics_path__
    regex: (.+)
  - source_labels: [__address__, __meta_kubernetes_service_annotation_prometheus_io_port]
    target_label: __address__
    regex: ([^:]+)(?::\d+)?;(\d+)
    replacement: $1:$2
  - action: labelmap
    regex: __meta_kubernetes_service_label_(.+)
  - source_labels: [__meta_kubernetes_namespace]
    target_label: kubernetes_namespace
  - source_labels: [__meta_kubernetes_service_name]
    target_label: kubernetes_name
- job_name: kubernetes-pods
  kubernetes_sd_configs:
  - role: pod
    api_server: {api_server}
    namespaces:
      names: [default]
  relabel_configs:
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
    action: keep
    regex: true
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scheme]
    target_label: __scheme__
    regex: (https?)
  - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
    target_label: __metrics_path__
    regex: (.+)
  - source_labels: [__address__, __meta_kubernetes_pod_annotation_prometheus_io_port]
    regex: ([^:]+)(?::\d+)?;(\d+)
    replacement: $1:$2
    target_label: __address__
  - action: labelmap
    regex: __meta_kubernetes_pod_label_(.+)
  - source_labels: [__meta_kubernetes_namespace]
    target_label: kubernetes_namespace
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: kubernetes_pod_name
"#
    )
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_discovers_bookinfo_through_the_kubernetes_api() {
    let fake = FakeApiServer::start().await;
    let mut bookinfo = Bookinfo::load(&fake);
    let details = bookinfo.pods_of(&fake, "details-v1").remove(0);
    for (key, value) in
        [("prometheus.io/scrape", "true"), ("prometheus.io/port", "15020"), ("prometheus.io/path", "/stats/prometheus")]
    {
        bookinfo.annotate_pod(&fake, "default", &details, key, value);
    }
    let mut reviews = fake.get("Service", "default", "reviews").expect("reviews service");
    reviews["metadata"]["annotations"] = json!({"prometheus.io/scrape": "true", "prometheus.io/path": "/metrics"});
    fake.apply(reviews);

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config(&fake.url())).unwrap();
    let log = dir.path().join("server.log");
    let config_flag = format!("--config.file={}", config_path.display());
    let kube_state_flag = format!("--kube-state.cluster={}", fake.url());
    let (mut child, address) = start_server(
        &dir.path().join("data"),
        &[
            &config_flag,
            &kube_state_flag,
            "--kube-state.metric-labels-allowlist=pods=[app],namespaces=[*]",
            "--kube-state.metric-annotations-allowlist=pods=[prometheus.io/*]",
        ],
        &log,
    );
    let client = reqwest::Client::new();
    wait_ready(&client, address, &mut child, &log).await;

    let targets_url = format!("http://{address}/api/v1/targets");
    let deadline = Instant::now() + Duration::from_secs(10);
    let targets = loop {
        let targets = get_data(&client, &targets_url).await;
        let count = |job| active(&targets, job).len();
        if count("kubernetes-cadvisor") == 2
            && count("kubernetes-service-endpoints") == 3
            && count("kubernetes-pods") == 1
        {
            break targets;
        }
        assert!(
            Instant::now() < deadline,
            "targets did not appear: {targets}\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let host = fake.url().trim_start_matches("http://").to_owned();
    let node_target = |node: &str, zone: &str| {
        (
            labels(&[
                ("instance", node),
                ("job", "kubernetes-cadvisor"),
                ("kubernetes_io_arch", "amd64"),
                ("kubernetes_io_hostname", node),
                ("kubernetes_io_os", "linux"),
                ("topology_kubernetes_io_zone", zone),
            ]),
            format!("http://{host}/api/v1/nodes/{node}/proxy/metrics/cadvisor"),
        )
    };
    assert_eq!(
        active(&targets, "kubernetes-cadvisor"),
        [node_target("node-1", "zone-a"), node_target("node-2", "zone-b")]
    );

    let mut expected_endpoints: Vec<(BTreeMap<String, String>, String)> = bookinfo
        .pods_of(&fake, "reviews-v1")
        .into_iter()
        .chain(bookinfo.pods_of(&fake, "reviews-v2"))
        .chain(bookinfo.pods_of(&fake, "reviews-v3"))
        .map(|name| {
            let pod = fake.get("Pod", "default", &name).expect("pod");
            let instance = format!("{}:9080", pod["status"]["podIP"].as_str().unwrap());
            let url = format!("http://{instance}/metrics");
            (
                labels(&[
                    ("app", "reviews"),
                    ("instance", &instance),
                    ("job", "kubernetes-service-endpoints"),
                    ("kubernetes_name", "reviews"),
                    ("kubernetes_namespace", "default"),
                    ("service", "reviews"),
                ]),
                url,
            )
        })
        .collect();
    expected_endpoints.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(active(&targets, "kubernetes-service-endpoints"), expected_endpoints);

    let pod = fake.get("Pod", "default", &details).expect("details pod");
    let ip = pod["status"]["podIP"].as_str().unwrap();
    let hash = pod["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    assert_eq!(
        active(&targets, "kubernetes-pods"),
        [(
            labels(&[
                ("app", "details"),
                ("instance", &format!("{ip}:15020")),
                ("job", "kubernetes-pods"),
                ("kubernetes_namespace", "default"),
                ("kubernetes_pod_name", &details),
                ("pod_template_hash", hash),
                ("version", "v1"),
            ]),
            format!("http://{ip}:15020/stats/prometheus"),
        )]
    );
    // The other five pods are dropped by the keep rule and listed as such.
    let dropped = targets["droppedTargetCounts"]["kubernetes-pods"].as_u64();
    assert_eq!(dropped, Some(5), "{}", targets["droppedTargetCounts"]);

    // An annotation added to a running pod makes it a target within seconds.
    let ratings = bookinfo.pods_of(&fake, "ratings-v1").remove(0);
    let started = Instant::now();
    bookinfo.annotate_pod(&fake, "default", &ratings, "prometheus.io/scrape", "true");
    loop {
        let targets = get_data(&client, &targets_url).await;
        if active(&targets, "kubernetes-pods").len() == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the annotated pod did not become a target: {targets}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("annotation to active target in {:?}", started.elapsed());

    let metrics = client.get(format!("http://{address}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"panoptes_kube_cache_objects{resource="pods",scope="namespace=default"} 6"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"panoptes_kube_cache_objects{resource="nodes",scope="all"} 2"#), "{metrics}");

    // Cluster-state metrics from the same caches, with kube-state-metrics' names.
    let deadline = Instant::now() + Duration::from_secs(10);
    let state = loop {
        let response = client.get(format!("http://{address}/kube-state/metrics")).send().await.unwrap();
        if response.status() == 200 {
            break response.text().await.unwrap();
        }
        assert_eq!(response.status(), 503, "503 until the caches synced");
        assert!(Instant::now() < deadline, "cluster state never synced");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let line = format!(
        r#"kube_pod_info{{namespace="default",pod="{details}",uid="{}",host_ip="{}",pod_ip="{ip}",node="{}",created_by_kind="ReplicaSet",created_by_name="details-v1-{hash}",priority_class="",host_network="false"}} 1"#,
        pod["metadata"]["uid"].as_str().unwrap(),
        pod["status"]["hostIP"].as_str().unwrap(),
        pod["spec"]["nodeName"].as_str().unwrap(),
    );
    assert!(state.lines().any(|candidate| candidate == line), "missing {line} in\n{state}");
    // The allow-list flags reach the families.
    let who = format!(r#"namespace="default",pod="{details}",uid="{}""#, pod["metadata"]["uid"].as_str().unwrap());
    let labels = format!(r#"kube_pod_labels{{{who},label_app="details"}} 1"#);
    assert!(state.lines().any(|candidate| candidate == labels), "missing {labels} in\n{state}");
    let annotations = format!(
        r#"kube_pod_annotations{{{who},annotation_prometheus_io_path="/stats/prometheus",annotation_prometheus_io_port="15020",annotation_prometheus_io_scrape="true"}} 1"#
    );
    assert!(state.lines().any(|candidate| candidate == annotations), "missing {annotations} in\n{state}");
    assert!(state.contains(r#"kube_namespace_labels{namespace="default""#), "{state}");
    assert!(!state.contains("kube_deployment_labels{"), "deployments are not allowed: {state}");
    assert!(
        state.contains(r#"kube_deployment_spec_replicas{namespace="default",deployment="reviews-v1"} 1"#),
        "{state}"
    );
    assert!(
        state.contains(r#"kube_node_status_condition{node="node-1",condition="Ready",status="true"} 1"#),
        "{state}"
    );
    let _ = child.kill();
    let _ = child.wait();
}
