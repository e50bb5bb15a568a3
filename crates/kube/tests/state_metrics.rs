//! Cluster-state metrics from the watch caches, against the fake API server of
//! `panoptes-test-util` (a fake speaking the real list/watch wire format, because no real API
//! server can run on the build machines) loaded with Bookinfo. Expected series are written out
//! with kube-state-metrics' names and labels.

use std::time::Duration;

use panoptes_kube::{
    AllowList, ApiServerOptions, ClusterState, ClusterStateOptions, Clusters, ConnectionOptions, KubeMetrics,
    parse_quantity,
};
use panoptes_test_util::fake_kube::FakeApiServer;
use panoptes_test_util::fake_kube::bookinfo::Bookinfo;
use serde_json::json;

#[test]
fn quantities_parse_as_kubernetes_defines_them() {
    for (text, expected) in [
        ("100m", 0.1),
        ("2", 2.0),
        ("7Gi", 7.0 * 1024.0 * 1024.0 * 1024.0),
        ("128Mi", 134_217_728.0),
        ("1k", 1000.0),
        ("1.5", 1.5),
        ("2e3", 2000.0),
        ("500n", 5e-7),
    ] {
        assert_eq!(parse_quantity(text), Some(expected), "{text}");
    }
    assert_eq!(parse_quantity("lots"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookinfo_state_renders_kube_state_metrics_series() {
    let server = FakeApiServer::start().await;
    let mut bookinfo = Bookinfo::load(&server);
    let productpage = bookinfo.pods_of(&server, "productpage-v1").remove(0);
    let mut pod = server.get("Pod", "default", &productpage).expect("pod");
    pod["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}});
    pod["status"]["containerStatuses"][0]["restartCount"] = json!(3);
    pod["status"]["containerStatuses"][0]["state"] =
        json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}});
    server.apply(pod.clone());
    bookinfo.scale(&server, "reviews-v3", 2);
    server.apply(json!({"kind": "StatefulSet", "metadata": {"name": "mongodb", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {}, "serviceName": "mongodb", "template": {}},
        "status": {"replicas": 1, "readyReplicas": 1, "currentReplicas": 1, "updatedReplicas": 1}}));
    server.apply(json!({"kind": "DaemonSet", "metadata": {"name": "panoptes-agent", "namespace": "monitoring"},
        "spec": {"selector": {}, "template": {}},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1, "numberAvailable": 1, "numberMisscheduled": 0, "updatedNumberScheduled": 2}}));

    let clusters = Clusters::new(KubeMetrics::default());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connect");
    let state = ClusterState::watch(&cluster, ClusterStateOptions::default());
    tokio::time::timeout(Duration::from_secs(5), state.wait_synced()).await.expect("synced");
    let text = state.render();

    let uid = pod["metadata"]["uid"].as_str().unwrap();
    let ip = pod["status"]["podIP"].as_str().unwrap();
    let host_ip = pod["status"]["hostIP"].as_str().unwrap();
    let node = pod["spec"]["nodeName"].as_str().unwrap();
    let replica_set = pod["metadata"]["ownerReferences"][0]["name"].as_str().unwrap();
    let hash = pod["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    let who = format!(r#"namespace="default",pod="{productpage}",uid="{uid}""#);
    for expected in [
        format!(r#"kube_pod_info{{{who},host_ip="{host_ip}",pod_ip="{ip}",node="{node}",created_by_kind="ReplicaSet",created_by_name="{replica_set}",priority_class="",host_network="false"}} 1"#),
        format!(r#"kube_pod_status_phase{{{who},phase="Running"}} 1"#),
        format!(r#"kube_pod_status_phase{{{who},phase="Pending"}} 0"#),
        format!(r#"kube_pod_status_ready{{{who},condition="true"}} 1"#),
        format!(r#"kube_pod_status_ready{{{who},condition="false"}} 0"#),
        format!(r#"kube_pod_container_status_restarts_total{{{who},container="productpage"}} 3"#),
        format!(r#"kube_pod_container_status_waiting_reason{{{who},container="productpage",reason="CrashLoopBackOff"}} 1"#),
        format!(r#"kube_pod_owner{{{who},owner_kind="ReplicaSet",owner_name="{replica_set}",owner_is_controller="true"}} 1"#),
        format!(r#"kube_pod_container_resource_requests{{{who},container="productpage",node="{node}",resource="cpu",unit="core"}} 0.1"#),
        format!(r#"kube_pod_container_resource_requests{{{who},container="productpage",node="{node}",resource="memory",unit="byte"}} 134217728"#),
        format!(r#"kube_pod_container_resource_limits{{{who},container="productpage",node="{node}",resource="memory",unit="byte"}} 268435456"#),
        format!(r#"kube_pod_labels{{{who},label_app="productpage",label_pod_template_hash="{hash}",label_version="v1"}} 1"#),
        r#"kube_node_info{node="node-1",kernel_version="6.1.0",os_image="Debian GNU/Linux 12 (bookworm)",container_runtime_version="containerd://1.7.24",kubelet_version="v1.35.0",kubeproxy_version="v1.35.0",provider_id="kind://docker/bookinfo/node-1",pod_cidr="10.244.1.0/24",system_uuid="",internal_ip="10.0.0.11"} 1"#.to_owned(),
        r#"kube_node_status_condition{node="node-2",condition="Ready",status="true"} 1"#.to_owned(),
        r#"kube_node_status_condition{node="node-2",condition="Ready",status="unknown"} 0"#.to_owned(),
        r#"kube_node_status_allocatable{node="node-1",resource="cpu",unit="core"} 3.8"#.to_owned(),
        r#"kube_node_status_capacity{node="node-1",resource="memory",unit="byte"} 8589934592"#.to_owned(),
        r#"kube_node_status_capacity{node="node-1",resource="pods",unit="integer"} 110"#.to_owned(),
        r#"kube_deployment_spec_replicas{namespace="default",deployment="reviews-v3"} 2"#.to_owned(),
        r#"kube_deployment_status_replicas_available{namespace="default",deployment="reviews-v3"} 2"#.to_owned(),
        r#"kube_deployment_status_replicas_unavailable{namespace="default",deployment="reviews-v3"} 0"#.to_owned(),
        r#"kube_statefulset_status_replicas_ready{namespace="default",statefulset="mongodb"} 1"#.to_owned(),
        r#"kube_daemonset_status_number_ready{namespace="monitoring",daemonset="panoptes-agent"} 1"#.to_owned(),
        r#"kube_daemonset_status_desired_number_scheduled{namespace="monitoring",daemonset="panoptes-agent"} 2"#.to_owned(),
        r#"kube_namespace_status_phase{namespace="default",phase="Active"} 1"#.to_owned(),
        r#"kube_namespace_status_phase{namespace="default",phase="Terminating"} 0"#.to_owned(),
    ] {
        assert!(text.lines().any(|line| line == expected), "missing\n{expected}\nin\n{text}");
    }
    let service = server.get("Service", "default", "details").expect("details");
    let service_line = format!(
        r#"kube_service_info{{namespace="default",service="details",uid="{}",cluster_ip="{}",external_name="",load_balancer_ip=""}} 1"#,
        service["metadata"]["uid"].as_str().unwrap(),
        service["spec"]["clusterIP"].as_str().unwrap()
    );
    assert!(text.lines().any(|line| line == service_line), "missing {service_line}");
    let deployment = server.get("ReplicaSet", "default", replica_set).expect("replica set")["metadata"]["ownerReferences"][0]
        ["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(deployment, "productpage-v1");
    let owner = format!(
        r#"kube_replicaset_owner{{namespace="default",replicaset="{replica_set}",owner_kind="Deployment",owner_name="productpage-v1",owner_is_controller="true"}} 1"#
    );
    assert!(text.lines().any(|line| line == owner), "missing {owner} in\n{text}");
    let replica_sets = text.lines().filter(|line| line.starts_with("kube_replicaset_spec_replicas{")).count();
    assert_eq!(replica_sets, 6, "one per Bookinfo Deployment");
    let reviews_addresses = text
        .lines()
        .filter(|line| line.starts_with(r#"kube_endpoint_address{namespace="default",endpoint="reviews","#))
        .count();
    assert_eq!(reviews_addresses, 4, "reviews v1, v2 and two v3 pods");
    let pods = text.lines().filter(|line| line.starts_with("kube_pod_info{")).count();
    assert_eq!(pods, 7);
    for line in text.lines().filter(|line| line.starts_with("# TYPE")) {
        assert!(line.ends_with(" gauge") || line.ends_with(" counter"), "{line}");
    }
}

/// Returns the series of `family` (no comments), sorted.
fn series_of(text: &str, family: &str) -> Vec<String> {
    let prefix = format!("{family}{{");
    let mut lines: Vec<String> = text.lines().filter(|line| line.starts_with(&prefix)).map(str::to_owned).collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_pick_labels_and_annotations_as_kube_state_metrics() {
    let server = FakeApiServer::start().await;
    server.apply(json!({"kind": "Namespace", "metadata": {"name": "shop",
        "labels": {"team": "payments", "kubernetes.io/metadata.name": "shop"},
        "annotations": {"owner": "alice@example.com"}}, "status": {"phase": "Active"}}));
    server.apply(json!({"kind": "Pod", "metadata": {"name": "cart-0", "namespace": "shop", "uid": "u-cart",
        "labels": {"app": "cart", "version": "v2", "app.kubernetes.io/name": "cart", "app.kubernetes.io/partOf": "shop", "secret-ish": "x"},
        "annotations": {"prometheus.io/scrape": "true", "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"containers": []}, "status": {"phase": "Running"}}));
    server.apply(json!({"kind": "Pod", "metadata": {"name": "bare-0", "namespace": "shop", "uid": "u-bare"},
        "spec": {"containers": []}, "status": {"phase": "Running"}}));
    server.apply(
        json!({"kind": "Deployment", "metadata": {"name": "cart", "namespace": "shop", "labels": {"app": "cart"}},
        "spec": {"replicas": 1, "selector": {}, "template": {}}, "status": {}}),
    );
    let clusters = Clusters::new(KubeMetrics::default());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connect");
    let render = async |labels: &str, annotations: &str| {
        let options = ClusterStateOptions {
            labels_allowlist: AllowList::parse(labels).expect("labels allow-list"),
            annotations_allowlist: AllowList::parse(annotations).expect("annotations allow-list"),
        };
        let state = ClusterState::watch(&cluster, options);
        tokio::time::timeout(Duration::from_secs(5), state.wait_synced()).await.expect("synced");
        state.render()
    };

    // Named keys, a partial wildcard, and a key no object has.
    let text = render("pods=[app,app.kubernetes.io/*,missing],namespaces=[*]", "pods=[prometheus.io/scrape]").await;
    assert_eq!(
        series_of(&text, "kube_pod_labels"),
        [
            r#"kube_pod_labels{namespace="shop",pod="bare-0",uid="u-bare"} 1"#,
            r#"kube_pod_labels{namespace="shop",pod="cart-0",uid="u-cart",label_app="cart",label_app_kubernetes_io_name="cart",label_app_kubernetes_io_part_of="shop"} 1"#,
        ]
    );
    assert_eq!(
        series_of(&text, "kube_namespace_labels"),
        [r#"kube_namespace_labels{namespace="shop",label_kubernetes_io_metadata_name="shop",label_team="payments"} 1"#]
    );
    assert_eq!(
        series_of(&text, "kube_pod_annotations"),
        [
            r#"kube_pod_annotations{namespace="shop",pod="bare-0",uid="u-bare"} 1"#,
            r#"kube_pod_annotations{namespace="shop",pod="cart-0",uid="u-cart",annotation_prometheus_io_scrape="true"} 1"#,
        ]
    );
    // A pod without owner, as kube-state-metrics shows it; no waiting container, no series.
    assert_eq!(
        series_of(&text, "kube_pod_owner")[0],
        r#"kube_pod_owner{namespace="shop",pod="bare-0",uid="u-bare",owner_kind="<none>",owner_name="<none>",owner_is_controller="<none>"} 1"#
    );
    assert_eq!(series_of(&text, "kube_pod_container_status_waiting_reason"), Vec::<String>::new());
    // Resources not listed have no series, only the family's comments.
    assert_eq!(series_of(&text, "kube_deployment_labels"), Vec::<String>::new());
    assert_eq!(series_of(&text, "kube_namespace_annotations"), Vec::<String>::new());
    assert!(text.contains("# TYPE kube_deployment_labels gauge\n"), "{text}");

    // `*` as the resource applies to every kind and wins over the others.
    let text = render("*=[app],pods=[version]", "").await;
    assert_eq!(
        series_of(&text, "kube_deployment_labels"),
        [r#"kube_deployment_labels{namespace="shop",deployment="cart",label_app="cart"} 1"#]
    );
    assert!(
        series_of(&text, "kube_pod_labels")
            .contains(&r#"kube_pod_labels{namespace="shop",pod="cart-0",uid="u-cart",label_app="cart"} 1"#.to_owned())
    );
    assert_eq!(series_of(&text, "kube_pod_annotations"), Vec::<String>::new());

    // kube-state-metrics' default, the empty list: no `_labels` series at all.
    let text = render("", "").await;
    for family in ["kube_pod_labels", "kube_namespace_labels", "kube_deployment_labels", "kube_pod_annotations"] {
        assert_eq!(series_of(&text, family), Vec::<String>::new(), "{family}");
    }
    // Panoptes' default: every pod label, nothing else.
    let state = ClusterState::watch(&cluster, ClusterStateOptions::default());
    tokio::time::timeout(Duration::from_secs(5), state.wait_synced()).await.expect("synced");
    let text = state.render();
    assert_eq!(
        series_of(&text, "kube_pod_labels")[1],
        r#"kube_pod_labels{namespace="shop",pod="cart-0",uid="u-cart",label_app="cart",label_app_kubernetes_io_name="cart",label_app_kubernetes_io_part_of="shop",label_secret_ish="x",label_version="v2"} 1"#
    );
    assert_eq!(series_of(&text, "kube_namespace_labels"), Vec::<String>::new());
}
