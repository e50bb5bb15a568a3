//! Kubernetes discovery against the fake API server of `panoptes-test-util` (a fake speaking
//! the real list/watch wire format, because no real API server can run on the build
//! machines), loaded with the Istio Bookinfo manifests turned into live objects. Expected label
//! sets are written out from Prometheus' documentation of each role; generated identifiers
//! (pod names, uids, IPs, container ids) are read from the fake's objects.

use std::time::Duration;

use panoptes_kube::{Clusters, InClusterOptions, KubeMetrics};
use panoptes_test_util::fake_kube::FakeApiServer;
use panoptes_test_util::fake_kube::bookinfo::Bookinfo;
use panoptes_test_util::tls::{TestPki, tls_front};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::*;
use crate::config::parse_str;

/// Parses one `kubernetes_sd_configs` entry written in YAML (indented under the job).
fn sd_config(server: &FakeApiServer, body: &str) -> KubernetesSdConfig {
    let yaml =
        format!("scrape_configs:\n- job_name: k\n  kubernetes_sd_configs:\n  - api_server: {}\n{body}", server.url());
    let config = parse_str(&yaml, "test.yml").unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    config.scrape_configs[0].kubernetes_sd_configs[0].clone()
}

struct Discovery {
    updates: mpsc::Receiver<Update>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Discovery {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Discovery {
    fn start(config: KubernetesSdConfig, clusters: &Clusters) -> Discovery {
        let (sender, updates) = mpsc::channel(16);
        let task = tokio::spawn(run(config, 3, sender, clusters.clone()));
        Discovery { updates, task }
    }

    /// Returns the next update's groups, within five seconds.
    async fn next(&mut self) -> Vec<TargetGroup> {
        let (index, groups) = tokio::time::timeout(Duration::from_secs(5), self.updates.recv())
            .await
            .expect("an update within 5 s")
            .expect("discovery runs");
        assert_eq!(index, 3, "updates carry the discoverer's index");
        groups
    }

    /// Returns the first update whose groups satisfy `condition`, within five seconds.
    async fn until(&mut self, what: &str, condition: impl Fn(&[TargetGroup]) -> bool) -> Vec<TargetGroup> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let update = tokio::time::timeout(remaining, self.updates.recv()).await;
            let (_, groups) =
                update.unwrap_or_else(|_| panic!("timed out waiting for {what}")).expect("discovery runs");
            if condition(&groups) {
                return groups;
            }
        }
    }
}

async fn discover(server: &FakeApiServer, body: &str) -> Vec<TargetGroup> {
    let clusters = Clusters::new(KubeMetrics::default());
    Discovery::start(sd_config(server, body), &clusters).next().await
}

fn labels(pairs: &[(&str, &str)]) -> LabelSet {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

fn group_of<'a>(groups: &'a [TargetGroup], source: &str) -> &'a TargetGroup {
    groups.iter().find(|group| group.source == source).unwrap_or_else(|| {
        panic!("no group {source}; have {:?}", groups.iter().map(|group| &group.source).collect::<Vec<_>>())
    })
}

/// Returns a JSON string field, "" when missing.
fn text<'a>(value: &'a Value, path: &str) -> &'a str {
    path.split('.')
        .fold(value, |value, key| match key.parse::<usize>() {
            Ok(index) => &value[index],
            Err(_) => &value[key],
        })
        .as_str()
        .unwrap_or_default()
}

fn pod_named(server: &FakeApiServer, prefix: &str) -> Value {
    server.list("Pod").into_iter().find(|pod| text(pod, "metadata.name").starts_with(prefix)).expect("pod")
}

/// The labels Prometheus gives a Bookinfo pod in every role that shows pods.
fn bookinfo_pod_labels(pod: &Value, app: &str) -> LabelSet {
    let template_hash = text(pod, "metadata.labels.pod-template-hash");
    labels(&[
        ("__meta_kubernetes_pod_name", text(pod, "metadata.name")),
        ("__meta_kubernetes_pod_ip", text(pod, "status.podIP")),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", text(pod, "spec.nodeName")),
        ("__meta_kubernetes_pod_host_ip", text(pod, "status.hostIP")),
        ("__meta_kubernetes_pod_uid", text(pod, "metadata.uid")),
        ("__meta_kubernetes_pod_label_app", app),
        ("__meta_kubernetes_pod_labelpresent_app", "true"),
        ("__meta_kubernetes_pod_label_version", "v1"),
        ("__meta_kubernetes_pod_labelpresent_version", "true"),
        ("__meta_kubernetes_pod_label_pod_template_hash", template_hash),
        ("__meta_kubernetes_pod_labelpresent_pod_template_hash", "true"),
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
        ("__meta_kubernetes_pod_controller_name", text(pod, "metadata.ownerReferences.0.name")),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_role_gives_prometheus_labels() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let groups = discover(&server, "    role: pod\n").await;
    assert_eq!(groups.len(), 6, "one group per Bookinfo pod");
    let pod = pod_named(&server, "details-v1-");
    let group = group_of(&groups, &format!("pod/default/{}", text(&pod, "metadata.name")));
    let mut expected = bookinfo_pod_labels(&pod, "details");
    expected.insert("__meta_kubernetes_namespace".to_owned(), "default".to_owned());
    assert_eq!(group.labels, expected);
    let ip = text(&pod, "status.podIP");
    assert_eq!(
        group.targets,
        [labels(&[
            ("__address__", &format!("{ip}:9080")),
            ("__meta_kubernetes_pod_container_name", "details"),
            ("__meta_kubernetes_pod_container_id", text(&pod, "status.containerStatuses.0.containerID")),
            ("__meta_kubernetes_pod_container_image", "registry.istio.io/release/examples-bookinfo-details-v1:1.20.3"),
            ("__meta_kubernetes_pod_container_init", "false"),
            ("__meta_kubernetes_pod_container_port_number", "9080"),
            ("__meta_kubernetes_pod_container_port_name", ""),
            ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_role_adds_port_less_and_init_container_targets_and_node_metadata() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let mut pod = pod_named(&server, "ratings-v1-");
    pod["spec"]["initContainers"] = json!([{ "name": "init", "image": "busybox:1.36" }]);
    pod["spec"]["containers"][0]["ports"][0]["name"] = json!("http");
    pod["metadata"]["annotations"] = json!({ "prometheus.io/scrape": "true" });
    server.apply(pod.clone());
    let groups = discover(&server, "    role: pod\n    attach_metadata: {node: true, namespace: true}\n").await;
    let group = group_of(&groups, &format!("pod/default/{}", text(&pod, "metadata.name")));
    let node = text(&pod, "spec.nodeName");
    let zone = if node == "node-1" { "zone-a" } else { "zone-b" };
    let mut expected = bookinfo_pod_labels(&pod, "ratings");
    expected.extend(labels(&[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", "true"),
        ("__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape", "true"),
        ("__meta_kubernetes_node_name", node),
        ("__meta_kubernetes_node_label_kubernetes_io_hostname", node),
        ("__meta_kubernetes_node_labelpresent_kubernetes_io_hostname", "true"),
        ("__meta_kubernetes_node_label_kubernetes_io_os", "linux"),
        ("__meta_kubernetes_node_labelpresent_kubernetes_io_os", "true"),
        ("__meta_kubernetes_node_label_kubernetes_io_arch", "amd64"),
        ("__meta_kubernetes_node_labelpresent_kubernetes_io_arch", "true"),
        ("__meta_kubernetes_node_label_topology_kubernetes_io_zone", zone),
        ("__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone", "true"),
        ("__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl", "0"),
        ("__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"),
        ("__meta_kubernetes_namespace_label_kubernetes_io_metadata_name", "default"),
        ("__meta_kubernetes_namespace_labelpresent_kubernetes_io_metadata_name", "true"),
        ("__meta_kubernetes_namespace_label_istio_injection", "enabled"),
        ("__meta_kubernetes_namespace_labelpresent_istio_injection", "true"),
    ]));
    assert_eq!(group.labels, expected);
    let ip = text(&pod, "status.podIP");
    assert_eq!(group.targets.len(), 2);
    assert_eq!(group.targets[0]["__address__"], format!("{ip}:9080"));
    assert_eq!(group.targets[0]["__meta_kubernetes_pod_container_port_name"], "http");
    assert_eq!(
        group.targets[1],
        labels(&[
            ("__address__", ip),
            ("__meta_kubernetes_pod_container_name", "init"),
            ("__meta_kubernetes_pod_container_id", ""),
            ("__meta_kubernetes_pod_container_image", "busybox:1.36"),
            ("__meta_kubernetes_pod_container_init", "true"),
        ]),
        "a container without ports is one target at the bare pod IP"
    );
}

fn bookinfo_service_labels(name: &str) -> LabelSet {
    labels(&[
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", name),
        ("__meta_kubernetes_service_label_app", name),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        ("__meta_kubernetes_service_label_service", name),
        ("__meta_kubernetes_service_labelpresent_service", "true"),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_role_gives_prometheus_labels() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let groups = discover(&server, "    role: service\n").await;
    let sources: Vec<&str> = groups.iter().map(|group| group.source.as_str()).collect();
    assert_eq!(
        sources,
        ["svc/default/details", "svc/default/productpage", "svc/default/ratings", "svc/default/reviews"]
    );
    let service = server.get("Service", "default", "details").expect("service");
    let group = group_of(&groups, "svc/default/details");
    assert_eq!(group.labels, bookinfo_service_labels("details"));
    assert_eq!(
        group.targets,
        [labels(&[
            ("__address__", "details.default.svc:9080"),
            ("__meta_kubernetes_service_port_name", "http"),
            ("__meta_kubernetes_service_port_number", "9080"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "ClusterIP"),
            ("__meta_kubernetes_service_cluster_ip", text(&service, "spec.clusterIP")),
        ])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_role_labels_external_name_and_load_balancer_services() {
    let server = FakeApiServer::start().await;
    server.apply(json!({"kind": "Service", "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"port": 5432, "protocol": "TCP"}]}}));
    server.apply(json!({"kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.1.1", "loadBalancerIP": "203.0.113.7",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}}));
    let groups = discover(&server, "    role: service\n    namespaces: {names: [shop]}\n").await;
    assert_eq!(
        group_of(&groups, "svc/shop/db").targets,
        [labels(&[
            ("__address__", "db.shop.svc:5432"),
            ("__meta_kubernetes_service_port_name", ""),
            ("__meta_kubernetes_service_port_number", "5432"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "ExternalName"),
            ("__meta_kubernetes_service_external_name", "db.example.com"),
        ])]
    );
    assert_eq!(
        group_of(&groups, "svc/shop/web").targets,
        [labels(&[
            ("__address__", "web.shop.svc:443"),
            ("__meta_kubernetes_service_port_name", "https"),
            ("__meta_kubernetes_service_port_number", "443"),
            ("__meta_kubernetes_service_port_protocol", "TCP"),
            ("__meta_kubernetes_service_type", "LoadBalancer"),
            ("__meta_kubernetes_service_cluster_ip", "10.96.1.1"),
            ("__meta_kubernetes_service_loadbalancer_ip", "203.0.113.7"),
        ])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_role_gives_prometheus_labels() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    // A metrics port no Service exposes: the endpoints role still finds it through the pod.
    let mut pod = pod_named(&server, "reviews-v1-");
    pod["spec"]["containers"][0]["ports"] = json!([
        {"containerPort": 9080, "protocol": "TCP"},
        {"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"},
    ]);
    server.apply(pod.clone());
    let groups = discover(&server, "    role: endpoints\n").await;
    assert_eq!(groups.len(), 4);
    let group = group_of(&groups, "endpoints/default/reviews");
    let mut expected_group = bookinfo_service_labels("reviews");
    expected_group.extend(labels(&[
        ("__meta_kubernetes_endpoints_name", "reviews"),
        ("__meta_kubernetes_endpoints_label_app", "reviews"),
        ("__meta_kubernetes_endpoints_labelpresent_app", "true"),
        ("__meta_kubernetes_endpoints_label_service", "reviews"),
        ("__meta_kubernetes_endpoints_labelpresent_service", "true"),
    ]));
    assert_eq!(group.labels, expected_group);
    // Three reviews pods on port 9080, plus the uncovered 15090 of reviews-v1.
    assert_eq!(group.targets.len(), 4, "{:#?}", group.targets);
    let ip = text(&pod, "status.podIP");
    let name = text(&pod, "metadata.name");
    let endpoint_target =
        group.targets.iter().find(|target| target["__address__"] == format!("{ip}:9080")).expect("9080");
    let mut expected = bookinfo_pod_labels(&pod, "reviews");
    expected.extend(labels(&[
        ("__address__", &format!("{ip}:9080")),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
        ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpoint_address_target_name", name),
        ("__meta_kubernetes_endpoint_node_name", text(&pod, "spec.nodeName")),
        ("__meta_kubernetes_pod_container_name", "reviews"),
        ("__meta_kubernetes_pod_container_image", "registry.istio.io/release/examples-bookinfo-reviews-v1:1.20.3"),
        ("__meta_kubernetes_pod_container_port_name", ""),
        ("__meta_kubernetes_pod_container_port_number", "9080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]));
    assert_eq!(*endpoint_target, expected);
    let mut expected_extra = bookinfo_pod_labels(&pod, "reviews");
    expected_extra.extend(labels(&[
        ("__address__", &format!("{ip}:15090")),
        ("__meta_kubernetes_pod_container_name", "reviews"),
        ("__meta_kubernetes_pod_container_image", "registry.istio.io/release/examples-bookinfo-reviews-v1:1.20.3"),
        ("__meta_kubernetes_pod_container_port_name", "http-envoy-prom"),
        ("__meta_kubernetes_pod_container_port_number", "15090"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]));
    assert_eq!(group.targets.last(), Some(&expected_extra), "uncovered container ports come last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpointslice_role_gives_prometheus_labels() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let groups = discover(&server, "    role: endpointslice\n    attach_metadata: {node: true}\n").await;
    assert_eq!(groups.len(), 4);
    let slice = server
        .list("EndpointSlice")
        .into_iter()
        .find(|slice| text(slice, "metadata.name").starts_with("details-"))
        .expect("slice");
    let slice_name = text(&slice, "metadata.name");
    let group = group_of(&groups, &format!("endpointslice/default/{slice_name}"));
    let mut expected_group = bookinfo_service_labels("details");
    expected_group.extend(labels(&[
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        ("__meta_kubernetes_endpointslice_name", slice_name),
        ("__meta_kubernetes_endpointslice_label_app", "details"),
        ("__meta_kubernetes_endpointslice_labelpresent_app", "true"),
        ("__meta_kubernetes_endpointslice_label_service", "details"),
        ("__meta_kubernetes_endpointslice_labelpresent_service", "true"),
        ("__meta_kubernetes_endpointslice_label_kubernetes_io_service_name", "details"),
        ("__meta_kubernetes_endpointslice_labelpresent_kubernetes_io_service_name", "true"),
        (
            "__meta_kubernetes_endpointslice_label_endpointslice_kubernetes_io_managed_by",
            "endpointslice-controller.k8s.io",
        ),
        ("__meta_kubernetes_endpointslice_labelpresent_endpointslice_kubernetes_io_managed_by", "true"),
        (
            "__meta_kubernetes_endpointslice_annotation_endpoints_kubernetes_io_last_change_trigger_time",
            "2026-12-01T00:00:06Z",
        ),
        ("__meta_kubernetes_endpointslice_annotationpresent_endpoints_kubernetes_io_last_change_trigger_time", "true"),
    ]));
    assert_eq!(group.labels, expected_group);
    let pod = pod_named(&server, "details-v1-");
    let ip = text(&pod, "status.podIP");
    let node = text(&pod, "spec.nodeName");
    let zone = if node == "node-1" { "zone-a" } else { "zone-b" };
    let mut expected = bookinfo_pod_labels(&pod, "details");
    expected.extend(labels(&[
        ("__address__", &format!("{ip}:9080")),
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port", "9080"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_ready", "true"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_serving", "true"),
        ("__meta_kubernetes_endpointslice_endpoint_conditions_terminating", "false"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpointslice_address_target_name", text(&pod, "metadata.name")),
        ("__meta_kubernetes_endpointslice_endpoint_node_name", node),
        ("__meta_kubernetes_endpointslice_endpoint_zone", zone),
        ("__meta_kubernetes_pod_container_name", "details"),
        ("__meta_kubernetes_pod_container_image", "registry.istio.io/release/examples-bookinfo-details-v1:1.20.3"),
        ("__meta_kubernetes_pod_container_port_name", ""),
        ("__meta_kubernetes_pod_container_port_number", "9080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
        ("__meta_kubernetes_node_name", node),
        ("__meta_kubernetes_node_label_kubernetes_io_hostname", node),
        ("__meta_kubernetes_node_labelpresent_kubernetes_io_hostname", "true"),
        ("__meta_kubernetes_node_label_kubernetes_io_os", "linux"),
        ("__meta_kubernetes_node_labelpresent_kubernetes_io_os", "true"),
        ("__meta_kubernetes_node_label_kubernetes_io_arch", "amd64"),
        ("__meta_kubernetes_node_labelpresent_kubernetes_io_arch", "true"),
        ("__meta_kubernetes_node_label_topology_kubernetes_io_zone", zone),
        ("__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone", "true"),
        ("__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl", "0"),
        ("__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"),
    ]));
    assert_eq!(group.targets, [expected]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_role_gives_prometheus_labels() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let groups = discover(&server, "    role: node\n").await;
    let sources: Vec<&str> = groups.iter().map(|group| group.source.as_str()).collect();
    assert_eq!(sources, ["node/node-1", "node/node-2"]);
    assert_eq!(
        groups[0].labels,
        labels(&[
            ("__meta_kubernetes_node_name", "node-1"),
            ("__meta_kubernetes_node_provider_id", "kind://docker/bookinfo/node-1"),
            ("__meta_kubernetes_node_label_kubernetes_io_hostname", "node-1"),
            ("__meta_kubernetes_node_labelpresent_kubernetes_io_hostname", "true"),
            ("__meta_kubernetes_node_label_kubernetes_io_os", "linux"),
            ("__meta_kubernetes_node_labelpresent_kubernetes_io_os", "true"),
            ("__meta_kubernetes_node_label_kubernetes_io_arch", "amd64"),
            ("__meta_kubernetes_node_labelpresent_kubernetes_io_arch", "true"),
            ("__meta_kubernetes_node_label_topology_kubernetes_io_zone", "zone-a"),
            ("__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone", "true"),
            ("__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl", "0"),
            ("__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"),
        ])
    );
    assert_eq!(
        groups[0].targets,
        [labels(&[
            ("__address__", "10.0.0.11:10250"),
            ("instance", "node-1"),
            ("__meta_kubernetes_node_address_InternalIP", "10.0.0.11"),
            ("__meta_kubernetes_node_address_Hostname", "node-1"),
        ])]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingress_role_gives_prometheus_labels() {
    let server = FakeApiServer::start().await;
    server.apply(json!({
        "kind": "Ingress",
        "metadata": {"name": "bookinfo", "namespace": "default", "labels": {"app": "productpage"},
                     "annotations": {"prometheus.io/probe": "true"}},
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["*.example.com"]}],
            "rules": [
                {"host": "shop.example.com", "http": {"paths": [
                    {"path": "/productpage", "pathType": "Prefix", "backend": {"service": {"name": "productpage", "port": {"number": 9080}}}},
                    {"pathType": "Prefix", "backend": {"service": {"name": "productpage", "port": {"number": 9080}}}},
                ]}},
                {"host": "internal.local"},
            ],
        },
    }));
    let groups = discover(&server, "    role: ingress\n").await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].source, "ingress/default/bookinfo");
    assert_eq!(
        groups[0].labels,
        labels(&[
            ("__meta_kubernetes_namespace", "default"),
            ("__meta_kubernetes_ingress_name", "bookinfo"),
            ("__meta_kubernetes_ingress_class_name", "nginx"),
            ("__meta_kubernetes_ingress_label_app", "productpage"),
            ("__meta_kubernetes_ingress_labelpresent_app", "true"),
            ("__meta_kubernetes_ingress_annotation_prometheus_io_probe", "true"),
            ("__meta_kubernetes_ingress_annotationpresent_prometheus_io_probe", "true"),
        ])
    );
    let target = |host: &str, scheme: &str, path: &str| {
        labels(&[
            ("__address__", host),
            ("__meta_kubernetes_ingress_host", host),
            ("__meta_kubernetes_ingress_scheme", scheme),
            ("__meta_kubernetes_ingress_path", path),
        ])
    };
    assert_eq!(
        groups[0].targets,
        [
            target("shop.example.com", "https", "/productpage"),
            target("shop.example.com", "https", "/"),
            target("internal.local", "http", "/"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_and_selectors_narrow_discovery() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let selected =
        discover(&server, "    role: pod\n    selectors:\n    - role: pod\n      label: app=reviews,version!=v3\n")
            .await;
    assert_eq!(selected.len(), 2, "{:?}", selected.iter().map(|group| &group.source).collect::<Vec<_>>());
    let by_field =
        discover(&server, "    role: pod\n    selectors:\n    - role: pod\n      field: spec.nodeName=node-2\n").await;
    assert!(by_field.iter().all(|group| group.labels["__meta_kubernetes_pod_node_name"] == "node-2"));
    assert_eq!(by_field.len(), 3);
    let elsewhere = discover(&server, "    role: pod\n    namespaces: {names: [istio-system]}\n").await;
    assert!(elsewhere.is_empty());
    assert!(server.requests().iter().any(|request| request == "list pods"), "{:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_changes_become_target_changes() {
    let server = FakeApiServer::start().await;
    let mut bookinfo = Bookinfo::load(&server);
    let clusters = Clusters::new(KubeMetrics::default());
    let mut endpoints = Discovery::start(sd_config(&server, "    role: endpoints\n"), &clusters);
    let mut pods = Discovery::start(sd_config(&server, "    role: pod\n"), &clusters);
    let reviews_targets = |groups: &[TargetGroup]| {
        groups.iter().find(|group| group.source == "endpoints/default/reviews").map_or(0, |group| group.targets.len())
    };
    assert_eq!(reviews_targets(&endpoints.next().await), 3);
    assert_eq!(pods.next().await.len(), 6);

    // Scale up: two more reviews-v2 pods become endpoint and pod targets.
    let started = tokio::time::Instant::now();
    bookinfo.scale(&server, "reviews-v2", 3);
    endpoints.until("two more reviews endpoints", |groups| reviews_targets(groups) == 5).await;
    pods.until("eight pods", |groups| groups.len() == 8).await;

    // Pod deleted: its group and its endpoint target go.
    let victim = bookinfo.pods_of(&server, "ratings-v1").remove(0);
    bookinfo.delete_pod(&server, "default", &victim);
    let source = format!("pod/default/{victim}");
    pods.until("the deleted pod's group to go", |groups| groups.iter().all(|group| group.source != source)).await;
    endpoints
        .until("no ratings endpoint", |groups| groups.iter().all(|group| group.source != "endpoints/default/ratings"))
        .await;

    // Annotation added: the label appears on the pod's group.
    let pod = bookinfo.pods_of(&server, "details-v1").remove(0);
    bookinfo.annotate_pod(&server, "default", &pod, "prometheus.io/scrape", "true");
    let source = format!("pod/default/{pod}");
    pods.until("the annotation label", |groups| {
        groups.iter().any(|group| {
            group.source == source
                && group.labels.get("__meta_kubernetes_pod_annotation_prometheus_io_scrape").map(String::as_str)
                    == Some("true")
        })
    })
    .await;
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "three changes took {elapsed:?}");
    eprintln!("scale up, pod deletion and annotation seen in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_watch_relists_and_discovery_reflects_the_truth() {
    let server = FakeApiServer::start().await;
    let mut bookinfo = Bookinfo::load(&server);
    let clusters = Clusters::new(KubeMetrics::default());
    let mut pods = Discovery::start(sd_config(&server, "    role: pod\n"), &clusters);
    assert_eq!(pods.next().await.len(), 6);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while server.count_requests("watch pods") == 0 {
        assert!(tokio::time::Instant::now() < deadline, "the watch never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.hold_watches();
    let victim = bookinfo.pods_of(&server, "productpage-v1").remove(0);
    bookinfo.delete_pod(&server, "default", &victim);
    bookinfo.scale(&server, "details-v1", 2);
    server.compact();
    server.release_watches();
    let groups = pods
        .until("the state after the 410", |groups| {
            groups.len() == 6 && groups.iter().all(|group| !group.source.ends_with(&victim))
        })
        .await;
    let mut expected: Vec<String> =
        server.list("Pod").iter().map(|pod| format!("pod/default/{}", text(pod, "metadata.name"))).collect();
    expected.sort();
    let mut sources: Vec<String> = groups.iter().map(|group| group.source.clone()).collect();
    sources.sort();
    assert_eq!(sources, expected);
    assert_eq!(server.count_requests("gone pods"), 1);
    assert_eq!(server.count_requests("list pods"), 2);
}

/// A pod of namespace `namespace` with one container port 9100.
fn exporter_pod(namespace: &str, name: &str, ip: &str) -> Value {
    json!({"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}"), "labels": {"app": "exporter"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "node-exporter",
            "ports": [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "hostIP": "10.0.0.11"}})
}

/// `kubernetes_sd_configs` without `api_server` or `kubeconfig_file` connects in-cluster: the
/// service account directory made here (token, CA, namespace), and the fake API server behind
/// `tls_front` with a certificate of a CA made at test time, requiring the account's token.
/// `own_namespace` narrows discovery to the namespace file's namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_discovery_gives_targets_of_its_own_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::new(dir.path());
    pki.issue_server("server", "kubernetes", "IP:127.0.0.1,DNS:kubernetes.default.svc");
    let server = FakeApiServer::start().await;
    server.require_bearer_token("sa-token-1");
    server.apply(exporter_pod("monitoring", "exporter-a", "10.244.1.7"));
    server.apply(exporter_pod("default", "elsewhere", "10.244.2.9"));
    let front = tls_front(&pki, "server", server.url().trim_start_matches("http://").parse().unwrap()).await;
    let account = dir.path().join("serviceaccount");
    std::fs::create_dir_all(&account).unwrap();
    std::fs::write(account.join("ca.crt"), &pki.ca_pem).unwrap();
    std::fs::write(account.join("token"), "sa-token-1").unwrap();
    std::fs::write(account.join("namespace"), "monitoring").unwrap();
    let clusters = Clusters::new(KubeMetrics::default()).with_in_cluster(InClusterOptions {
        service_account_dir: account,
        service_host: Some(front.ip().to_string()),
        service_port: Some(front.port().to_string()),
    });
    let yaml = "scrape_configs:\n- job_name: k\n  kubernetes_sd_configs:\n  - role: pod\n    namespaces: {own_namespace: true}\n";
    let config = parse_str(yaml, "test.yml").expect("in-cluster configuration");
    let config = config.scrape_configs[0].kubernetes_sd_configs[0].clone();
    assert_eq!(connection_options(&config), Ok(ConnectionOptions::InCluster));

    let mut discovery = Discovery::start(config, &clusters);
    let groups = discovery.next().await;
    assert_eq!(groups.iter().map(|group| group.source.as_str()).collect::<Vec<_>>(), ["pod/monitoring/exporter-a"]);
    let group = &groups[0];
    assert_eq!(group.targets.len(), 1);
    assert_eq!(group.targets[0]["__address__"], "10.244.1.7:9100");
    assert_eq!(group.targets[0]["__meta_kubernetes_pod_container_port_name"], "metrics");
    assert_eq!(group.labels[NAMESPACE_LABEL], "monitoring");
    assert_eq!(group.labels["__meta_kubernetes_pod_name"], "exporter-a");
    assert_eq!(server.last_authorization().as_deref(), Some("Bearer sa-token-1"));
    assert_eq!(server.unauthorized_requests(), 0);
    assert_eq!(server.list_namespaces("pods"), [Some("monitoring".to_owned())], "only the own namespace is listed");

    // A new pod arrives through the watch over the same TLS connection setup.
    server.apply(exporter_pod("monitoring", "exporter-b", "10.244.1.8"));
    let groups = discovery.until("the second pod", |groups| groups.len() == 2).await;
    assert_eq!(group_of(&groups, "pod/monitoring/exporter-b").targets[0]["__address__"], "10.244.1.8:9100");
}

/// What the CONNECT proxy saw: each request head (request line, then header lines), and the
/// bytes clients sent through its tunnels.
#[derive(Default)]
struct ProxySeen {
    heads: Vec<Vec<String>>,
    tunnelled: Vec<u8>,
}

/// A real HTTP forward proxy on loopback, written here, for `CONNECT` (what the Kubernetes
/// client sends to a proxy, for `http://` and `https://` API servers alike): it records the
/// request head, answers 200 and passes bytes both ways, recording what the client sends.
/// Anything but `CONNECT` gets 405.
async fn start_connect_proxy() -> (Arc<parking_lot::Mutex<ProxySeen>>, std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
    let seen: Arc<parking_lot::Mutex<ProxySeen>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let Some(head) = panoptes_test_util::read_http_head(&mut client).await else { return };
                let target = match head[0].split(' ').collect::<Vec<_>>()[..] {
                    ["CONNECT", target, _] => target.to_owned(),
                    _ => {
                        record.lock().heads.push(head);
                        let _ = client
                            .get_mut()
                            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                            .await;
                        return;
                    }
                };
                record.lock().heads.push(head);
                let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else { return };
                // The client waits for this answer before sending, so nothing is buffered yet.
                let mut client = client.into_inner();
                if client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.is_err() {
                    return;
                }
                let (mut client_read, mut client_write) = client.into_split();
                let (mut upstream_read, mut upstream_write) = upstream.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
                });
                let mut buffer = [0_u8; 8192];
                while let Ok(read) = client_read.read(&mut buffer).await {
                    if read == 0 || upstream_write.write_all(&buffer[..read]).await.is_err() {
                        break;
                    }
                    record.lock().tunnelled.extend_from_slice(&buffer[..read]);
                }
            });
        }
    });
    (seen, address)
}

/// `proxy_url` and `http_headers` reach the fake API server through the proxy: discovery goes
/// by `CONNECT` with the proxy's basic credentials from the URL, and every request in the
/// tunnel carries the configured headers and the bearer token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_through_a_proxy_with_custom_headers() {
    let server = FakeApiServer::start().await;
    server.require_bearer_token("t0ken");
    server.apply(exporter_pod("monitoring", "exporter-a", "10.244.1.7"));
    let (seen, proxy) = start_connect_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let header_file = dir.path().join("tenant");
    std::fs::write(&header_file, "team-a\n").unwrap();
    let body = format!(
        "    role: pod\n    bearer_token: t0ken\n    proxy_url: http://proxy-user:proxy-pw@{proxy}\n    http_headers:\n      X-Panoptes-Test: {{values: [on]}}\n      X-Tenant: {{files: [{}]}}\n",
        header_file.display()
    );
    let clusters = Clusters::new(KubeMetrics::default());
    let mut discovery = Discovery::start(sd_config(&server, &body), &clusters);
    let groups = discovery.next().await;
    assert_eq!(groups.iter().map(|group| group.source.as_str()).collect::<Vec<_>>(), ["pod/monitoring/exporter-a"]);
    assert_eq!(server.last_authorization().as_deref(), Some("Bearer t0ken"));

    // The watch follows the list; wait for it to go through the tunnel as well.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while String::from_utf8_lossy(&seen.lock().tunnelled).to_ascii_lowercase().matches("get /api/v1/").count() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "no watch request through the tunnel");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock();
    let api_server = server.url().trim_start_matches("http://").to_owned();
    assert!(!seen.heads.is_empty(), "discovery went through the proxy");
    for head in &seen.heads {
        assert_eq!(head[0], format!("CONNECT {api_server} HTTP/1.1"), "{head:?}");
        // base64("proxy-user:proxy-pw")
        assert!(
            head.iter()
                .any(|line| line.eq_ignore_ascii_case("proxy-authorization: Basic cHJveHktdXNlcjpwcm94eS1wdw==")),
            "the proxy's credentials come from the URL: {head:?}"
        );
    }
    let tunnelled = String::from_utf8_lossy(&seen.tunnelled).to_ascii_lowercase();
    let requests = tunnelled.matches("get /api/v1/").count();
    assert!(tunnelled.contains("watch=true"), "the list and the watch went through the tunnel:\n{tunnelled}");
    assert_eq!(tunnelled.matches("x-panoptes-test: on\r\n").count(), requests, "{tunnelled}");
    assert_eq!(tunnelled.matches("x-tenant: team-a\r\n").count(), requests, "header files are trimmed: {tunnelled}");
}

/// A proxy URL the Kubernetes client cannot use is reported when connecting, with the setting
/// named and without the URL (it may hold a password).
#[tokio::test]
async fn unusable_proxy_url_is_named_without_its_credentials() {
    let server = FakeApiServer::start().await;
    let config = sd_config(&server, "    role: pod\n    proxy_url: socks5://user:s3cret@proxy:1080\n");
    let options = connection_options(&config).expect("the configuration is valid");
    let error = Clusters::new(KubeMetrics::default()).connect(&options).await.expect_err("socks5 is refused");
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "invalid API server setting proxy_url for {}: proxy scheme \"socks5\" is not supported (http and https are)",
            server.url()
        )
    );
    assert!(!message.contains("s3cret"));
}

#[test]
fn connection_options_follow_the_configuration() {
    let check = |yaml: &str| {
        let config = parse_str(
            &format!("scrape_configs:\n- job_name: k\n  kubernetes_sd_configs:\n  - role: pod\n{yaml}"),
            "t.yml",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        connection_options(&config.scrape_configs[0].kubernetes_sd_configs[0])
    };
    assert_eq!(check(""), Ok(ConnectionOptions::InCluster));
    assert_eq!(
        check("    kubeconfig_file: /etc/kube/config\n"),
        Ok(ConnectionOptions::Kubeconfig { path: PathBuf::from("/etc/kube/config"), context: None })
    );
    let Ok(ConnectionOptions::ApiServer(options)) = check(
        "    api_server: https://k:6443\n    bearer_token: s3cret\n    tls_config: {insecure_skip_verify: true, server_name: k8s}\n",
    ) else {
        panic!("api server options");
    };
    assert_eq!(options.url, "https://k:6443");
    assert_eq!(options.auth, ApiServerAuth::BearerToken(Secret::new("s3cret")));
    assert!(options.tls.insecure_skip_verify && options.tls.server_name.as_deref() == Some("k8s"));
    assert!(!format!("{options:?}").contains("s3cret"), "secrets stay out of Debug output");
    let Ok(ConnectionOptions::ApiServer(options)) =
        check("    api_server: https://k\n    authorization: {credentials_file: /var/run/token}\n")
    else {
        panic!("api server options");
    };
    assert_eq!(options.auth, ApiServerAuth::BearerTokenFile(PathBuf::from("/var/run/token")));
    let Ok(ConnectionOptions::ApiServer(options)) =
        check("    api_server: https://k\n    basic_auth: {username: u, password: p}\n")
    else {
        panic!("api server options");
    };
    assert_eq!(options.auth, ApiServerAuth::Basic { username: "u".to_owned(), password: Secret::new("p") });
    assert_eq!(
        check("    api_server: https://k\n    authorization: {type: Token, credentials: x}\n"),
        Err("kubernetes_sd_configs: authorization type \"Token\" is not supported by Kubernetes discovery (only Bearer)".to_owned())
    );
    let Ok(ConnectionOptions::ApiServer(options)) = check(
        "    api_server: https://k\n    proxy_url: http://user:pw@proxy:3128\n    http_headers: {X-Scope: {values: [a, b], secrets: [c]}}\n",
    ) else {
        panic!("api server options");
    };
    assert_eq!(options.proxy_url, Some(Secret::new("http://user:pw@proxy:3128")));
    let headers: Vec<(&str, &str)> =
        options.headers.iter().map(|(name, value)| (name.as_str(), value.expose())).collect();
    assert_eq!(headers, [("X-Scope", "a"), ("X-Scope", "b"), ("X-Scope", "c")]);
    assert!(!format!("{options:?}").contains("pw@"), "the proxy password stays out of Debug output");
    assert_eq!(
        check("    api_server: https://k\n    proxy_from_environment: true\n"),
        Err("kubernetes_sd_configs: proxy_from_environment is not supported by Kubernetes discovery (the Kubernetes client takes one proxy; set proxy_url)".to_owned())
    );
    assert_eq!(
        check("    api_server: https://k\n    proxy_url: http://proxy:3128\n    no_proxy: k\n"),
        Err("kubernetes_sd_configs: no_proxy is not supported by Kubernetes discovery (the Kubernetes client sends every request to proxy_url; remove proxy_url instead)".to_owned())
    );
    assert_eq!(
        check("    api_server: https://k\n    proxy_url: http://proxy:3128\n    proxy_connect_header: {X-A: [b]}\n"),
        Err("kubernetes_sd_configs: proxy_connect_header is not supported by Kubernetes discovery (the Kubernetes client sends no headers of its own on CONNECT)".to_owned())
    );
    assert_eq!(
        check("    api_server: https://k\n    oauth2: {client_id: c, client_secret: s, token_url: https://t/token}\n"),
        Err("kubernetes_sd_configs: oauth2 is not supported by Kubernetes discovery (the Kubernetes client takes no OAuth 2.0 token source; use a bearer token file)".to_owned())
    );
    assert_eq!(
        check("    api_server: https://k\n    http_headers: {X-A: {files: [/nonexistent/h]}}\n"),
        Err("kubernetes_sd_configs: cannot read http_headers X-A file /nonexistent/h: No such file or directory (os error 2)".to_owned())
    );
    assert_eq!(
        check("    api_server: https://k\n    basic_auth: {username: u, password_file: /nonexistent/pw}\n"),
        Err("kubernetes_sd_configs: cannot read basic_auth.password_file /nonexistent/pw: No such file or directory (os error 2)".to_owned())
    );
}

#[test]
fn label_names_are_sanitized_as_prometheus_does() {
    assert_eq!(sanitize_label_name("app.kubernetes.io/name"), "app_kubernetes_io_name");
    assert_eq!(sanitize_label_name("prometheus.io/scrape"), "prometheus_io_scrape");
    // One underscore per character, multi-byte ones included, as Go's regexp replaces runes.
    assert_eq!(sanitize_label_name("ünï-code"), "_n__code");
}

/// Runs a job of the seed EKS configuration (the Prometheus example for Kubernetes) on what a
/// discovery of `role` finds, and returns its active targets as (labels, URL).
async fn seed_job_targets(server: &FakeApiServer, job: &str, role: &str) -> Vec<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-configs/eks-prometheus.yml");
    let config = crate::config::load_file(&path).expect("seed config loads");
    let job = config.scrape_configs.iter().find(|candidate| candidate.job_name == job).expect("job");
    let groups = discover(server, &format!("    role: {role}\n")).await;
    let mut targets: Vec<(String, String)> = groups
        .iter()
        .flat_map(|group| crate::target::targets_from_group(job, group).active)
        .map(|target| (target.labels().to_string(), target.url()))
        .collect();
    targets.sort();
    targets
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackbox_probes_of_annotated_services_and_ingresses() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let mut productpage = server.get("Service", "default", "productpage").expect("service");
    productpage["metadata"]["annotations"] = json!({"prometheus.io/probe": "true"});
    server.apply(productpage);
    server.apply(json!({
        "kind": "Ingress",
        "metadata": {"name": "bookinfo", "namespace": "default", "labels": {"app": "productpage"},
                     "annotations": {"prometheus.io/probe": "true"}},
        "spec": {"tls": [{"hosts": ["shop.example.com"]}], "rules": [{"host": "shop.example.com", "http": {"paths": [
            {"path": "/productpage", "pathType": "Prefix", "backend": {"service": {"name": "productpage", "port": {"number": 9080}}}},
        ]}}]},
    }));
    assert_eq!(
        seed_job_targets(&server, "kubernetes-services", "service").await,
        [(
            r#"{app="productpage", instance="productpage.default.svc:9080", job="kubernetes-services", kubernetes_name="productpage", kubernetes_namespace="default", service="productpage"}"#.to_owned(),
            "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=productpage.default.svc%3A9080".to_owned(),
        )]
    );
    assert_eq!(
        seed_job_targets(&server, "kubernetes-ingresses", "ingress").await,
        [(
            r#"{app="productpage", instance="https://shop.example.com/productpage", job="kubernetes-ingresses", kubernetes_name="bookinfo", kubernetes_namespace="default"}"#.to_owned(),
            "http://blackbox-exporter.example.com:9115/metrics?target=https%3A%2F%2Fshop.example.com%2Fproductpage".to_owned(),
        )]
    );
}
