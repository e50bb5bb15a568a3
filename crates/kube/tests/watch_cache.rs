//! Watch caches against the fake API server of `panoptes-test-util`: a fake speaking the real
//! list/watch wire format (no real API server can run on the build machines), loaded with the
//! Istio Bookinfo manifests turned into live objects.

use std::sync::Arc;
use std::time::Duration;

use panoptes_kube::k8s_openapi::api::core::v1::{Node, Pod, Service};
use panoptes_kube::{ApiServerOptions, Clusters, ConnectionOptions, KubeMetrics, Scope, WatchCache};
use panoptes_test_util::fake_kube::bookinfo::Bookinfo;
use panoptes_test_util::fake_kube::{FakeApiServer, GoneStyle};

async fn connect(server: &FakeApiServer, clusters: &Clusters) -> Arc<panoptes_kube::Cluster> {
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    clusters.connect(&options).await.expect("connect to the fake API server")
}

/// Waits up to five seconds for `condition` on the cache.
async fn eventually<K>(cache: &WatchCache<K>, what: &str, condition: impl Fn(&WatchCache<K>) -> bool) {
    panoptes_test_util::eventually(what, Duration::from_secs(5), || condition(cache)).await;
}

fn pod_names(cache: &WatchCache<Pod>) -> Vec<String> {
    cache.objects().iter().filter_map(|pod| pod.metadata.name.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_lists_then_follows_changes() {
    let server = FakeApiServer::start().await;
    let mut bookinfo = Bookinfo::load(&server);
    let clusters = Clusters::new(KubeMetrics::default());
    let cluster = connect(&server, &clusters).await;
    let pods = cluster.watch::<Pod>(Scope::namespace(Some("default")));
    tokio::time::timeout(Duration::from_secs(5), pods.wait_synced()).await.expect("synced");
    // details, ratings, reviews v1-v3 and productpage: six pods, one each.
    assert_eq!(pods.len(), 6, "{:?}", pod_names(&pods));
    let pod = pods
        .objects()
        .into_iter()
        .find(|pod| pod.metadata.name.as_deref().is_some_and(|n| n.starts_with("details-v1-")))
        .expect("details pod");
    let status = pod.status.as_ref().expect("status");
    assert!(status.pod_ip.as_deref().is_some_and(|ip| ip.starts_with("10.244.")));
    assert!(pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()).is_some_and(|node| node.starts_with("node-")));

    let mut changes = pods.subscribe();
    bookinfo.scale(&server, "reviews-v2", 3);
    tokio::time::timeout(Duration::from_secs(5), changes.changed()).await.expect("notified").expect("sender alive");
    eventually(&pods, "scale up to 8 pods", |pods| pods.len() == 8).await;
    let victim = bookinfo.pods_of(&server, "ratings-v1").remove(0);
    bookinfo.delete_pod(&server, "default", &victim);
    eventually(&pods, "pod deletion", |pods| pods.get("default", &victim).is_none()).await;
    assert_eq!(pods.len(), 7);
    assert_eq!(server.count_requests("list pods"), 1, "no re-list needed: {:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caches_are_shared_per_kind_and_scope() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let clusters = Clusters::new(KubeMetrics::default());
    let first = connect(&server, &clusters).await;
    let second = connect(&server, &clusters).await;
    assert!(Arc::ptr_eq(&first, &second), "equal connection options share one cluster");
    let pods = first.watch::<Pod>(Scope::default());
    let same = second.watch::<Pod>(Scope::default());
    assert!(Arc::ptr_eq(&pods, &same), "one cache per kind and scope");
    let selected = first.watch::<Pod>(Scope { label_selector: Some("app=reviews".to_owned()), ..Scope::default() });
    assert!(!Arc::ptr_eq(&pods, &selected));
    let services = first.watch::<Service>(Scope::default());
    for cache in [&pods, &selected] {
        tokio::time::timeout(Duration::from_secs(5), cache.wait_synced()).await.expect("synced");
    }
    tokio::time::timeout(Duration::from_secs(5), services.wait_synced()).await.expect("synced");
    assert_eq!(selected.len(), 3, "the label selector reaches the server: {:?}", pod_names(&selected));
    assert_eq!(services.len(), 4);
    // Two users of the unfiltered pod cache, one list.
    assert_eq!(server.count_requests("list pods"), 2, "{:?}", server.requests());
    drop((pods, same, selected));
    let again = first.watch::<Pod>(Scope::default());
    tokio::time::timeout(Duration::from_secs(5), again.wait_synced()).await.expect("synced");
    assert_eq!(server.count_requests("list pods"), 3, "a cache nobody holds stops and a new one lists again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_selector_scope_filters_on_the_server() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let clusters = Clusters::new(KubeMetrics::default());
    let cluster = connect(&server, &clusters).await;
    let on_node_1 =
        cluster.watch::<Pod>(Scope { field_selector: Some("spec.nodeName=node-1".to_owned()), ..Scope::default() });
    let nodes = cluster.watch::<Node>(Scope::namespace(Some("ignored-for-nodes")));
    tokio::time::timeout(Duration::from_secs(5), on_node_1.wait_synced()).await.expect("synced");
    tokio::time::timeout(Duration::from_secs(5), nodes.wait_synced()).await.expect("synced");
    assert!(
        on_node_1
            .objects()
            .iter()
            .all(|pod| pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref()) == Some("node-1"))
    );
    assert_eq!(on_node_1.len(), 3);
    assert_eq!(nodes.len(), 2, "nodes are cluster-scoped");
}

async fn check_gone_relists(style: GoneStyle) {
    let server = FakeApiServer::start().await;
    server.set_gone_style(style);
    let mut bookinfo = Bookinfo::load(&server);
    let metrics = KubeMetrics::default();
    let clusters = Clusters::new(metrics.clone());
    let cluster = connect(&server, &clusters).await;
    let pods = cluster.watch::<Pod>(Scope::default());
    tokio::time::timeout(Duration::from_secs(5), pods.wait_synced()).await.expect("synced");
    // Let the watch start, then change objects while no watch can see them, and compact
    // history so that the cache's resource version is too old when it reconnects.
    eventually(&pods, "watch started", |_| server.count_requests("watch pods") >= 1).await;
    server.hold_watches();
    let victim = bookinfo.pods_of(&server, "details-v1").remove(0);
    bookinfo.delete_pod(&server, "default", &victim);
    bookinfo.scale(&server, "productpage-v1", 2);
    server.compact();
    server.release_watches();
    eventually(&pods, "re-list after 410", |pods| pods.get("default", &victim).is_none() && pods.len() == 6).await;
    assert_eq!(server.count_requests("gone pods"), 1, "{:?}", server.requests());
    assert_eq!(server.count_requests("list pods"), 2, "{:?}", server.requests());
    let expected: Vec<String> = {
        let mut names: Vec<String> =
            server.list("Pod").iter().filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_owned)).collect();
        names.sort();
        names
    };
    assert_eq!(pod_names(&pods), expected, "the cache holds exactly the server's pods");
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let encode = || {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text
    };
    // The cache counts the list once its objects are in place, which the test may see first.
    let gone_line = r#"panoptes_kube_cache_lists_total{resource="pods",scope="all",reason="gone"} 1"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !encode().contains(gone_line) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = encode();
    assert!(text.contains(gone_line), "{text}");
    assert!(
        text.contains(r#"panoptes_kube_cache_lists_total{resource="pods",scope="all",reason="initial"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"panoptes_kube_cache_objects{resource="pods",scope="all"} 6"#), "{text}");
    assert!(text.contains("panoptes_kube_caches 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_error_event_leads_to_a_relist() {
    check_gone_relists(GoneStyle::ErrorEvent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_http_status_leads_to_a_relist() {
    check_gone_relists(GoneStyle::HttpStatus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_let_a_closed_watch_resume_without_relisting() {
    let server = FakeApiServer::start().await;
    server.set_bookmark_interval(Duration::from_millis(50));
    let mut bookinfo = Bookinfo::load(&server);
    let metrics = KubeMetrics::default();
    let clusters = Clusters::new(metrics.clone());
    let cluster = connect(&server, &clusters).await;
    let pods = cluster.watch::<Pod>(Scope::default());
    tokio::time::timeout(Duration::from_secs(5), pods.wait_synced()).await.expect("synced");
    // Changes to other kinds advance the resource version; bookmarks carry it to the cache.
    bookinfo.scale(&server, "details-v1", 1);
    server.apply(serde_json::json!({"kind": "Namespace", "metadata": {"name": "other"}}));
    let version = server.resource_version();
    eventually(&pods, "a bookmark", |_| {
        let mut registry = prometheus_client::registry::Registry::default();
        metrics.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
        text.contains(r#"event="bookmark""#)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    server.close_watches();
    bookinfo.scale(&server, "ratings-v1", 2);
    eventually(&pods, "the new pod", |pods| pods.len() == 7).await;
    let resumed =
        server.requests().into_iter().rfind(|request| request.starts_with("watch pods from ")).expect("a watch");
    let from: u64 = resumed.trim_start_matches("watch pods from ").parse().expect("version");
    assert!(from >= version, "resumed from the bookmark's version {from}, not the list's ({version} is the newest)");
    assert_eq!(server.count_requests("list pods"), 1, "{:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_retried_with_backoff() {
    let server = FakeApiServer::start().await;
    let url = server.url();
    drop(server);
    let metrics = KubeMetrics::default();
    let clusters = Clusters::new(metrics.clone());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url, ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connecting is lazy");
    let pods = cluster.watch::<Pod>(Scope::default());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!pods.is_synced());
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).expect("encode");
    let failures: u64 = text
        .lines()
        .find(|line| line.starts_with("panoptes_kube_cache_failures_total{"))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .expect("failures counted");
    // 0.5 s, then 1 s backoff: two or three attempts in 1.2 s, not a busy loop.
    assert!((1..=3).contains(&failures), "{failures} failures in 1.2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubeconfig_contexts_choose_cluster_user_and_namespace() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let dir = std::env::temp_dir().join(format!("panoptes-kubeconfig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("config");
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: broken\n\
         clusters:\n- name: fake\n  cluster:\n    server: {url}\n- name: nowhere\n  cluster:\n    server: http://127.0.0.1:1\n\
         users:\n- name: dev\n  user:\n    token: not-logged\n\
         contexts:\n- name: broken\n  context: {{cluster: nowhere, user: dev}}\n\
         - name: bookinfo\n  context: {{cluster: fake, user: dev, namespace: default}}\n",
        url = server.url()
    );
    std::fs::write(&path, kubeconfig).expect("write kubeconfig");
    let clusters = Clusters::new(KubeMetrics::default());
    let options = ConnectionOptions::Kubeconfig { path: path.clone(), context: Some("bookinfo".to_owned()) };
    let cluster = clusters.connect(&options).await.expect("connect through the bookinfo context");
    assert_eq!(cluster.default_namespace(), "default");
    let nodes = cluster.watch::<Node>(Scope::default());
    tokio::time::timeout(Duration::from_secs(5), nodes.wait_synced()).await.expect("synced through the context");
    assert_eq!(nodes.len(), 2);
    assert!(!format!("{cluster:?} {options:?}").contains("not-logged"));

    let missing = ConnectionOptions::Kubeconfig { path: path.clone(), context: Some("nope".to_owned()) };
    let error = clusters.connect(&missing).await.expect_err("unknown context");
    assert!(error.to_string().starts_with("cannot load kubeconfig file"), "{error}");
    let absent = ConnectionOptions::Kubeconfig { path: dir.join("absent"), context: None };
    let error = clusters.connect(&absent).await.expect_err("missing file");
    assert!(error.to_string().contains("absent"), "the error names the file: {error}");
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_credentials_reach_the_server_and_bad_files_are_named() {
    let server = FakeApiServer::start().await;
    Bookinfo::load(&server);
    let clusters = Clusters::new(KubeMetrics::default());
    let options = ConnectionOptions::ApiServer(ApiServerOptions {
        url: server.url(),
        auth: panoptes_kube::ApiServerAuth::BearerToken(panoptes_kube::Secret::new("t0ken")),
        ..ApiServerOptions::default()
    });
    assert!(!format!("{options:?}").contains("t0ken"), "tokens stay out of Debug output");
    let cluster = clusters.connect(&options).await.expect("connect");
    let pods = cluster.watch::<Pod>(Scope::default());
    tokio::time::timeout(Duration::from_secs(5), pods.wait_synced()).await.expect("synced");
    assert_eq!(server.last_authorization().as_deref(), Some("Bearer t0ken"));

    let options = ConnectionOptions::ApiServer(ApiServerOptions {
        url: "https://127.0.0.1:6443".to_owned(),
        tls: panoptes_kube::TlsOptions { ca_file: Some("/nonexistent/ca.crt".into()), ..Default::default() },
        ..ApiServerOptions::default()
    });
    let error = clusters.connect(&options).await.expect_err("unreadable CA");
    assert_eq!(error.to_string(), r#"cannot read tls_config.ca_file file "/nonexistent/ca.crt""#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_lists_are_read_in_pages() {
    let server = FakeApiServer::start().await;
    for index in 0..1203 {
        server.apply(serde_json::json!({
            "kind": "Pod",
            "metadata": {"name": format!("batch-{index:04}"), "namespace": "jobs"},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
        }));
    }
    let clusters = Clusters::new(KubeMetrics::default());
    let cluster = connect(&server, &clusters).await;
    let pods = cluster.watch::<Pod>(Scope::namespace(Some("jobs")));
    tokio::time::timeout(Duration::from_secs(10), pods.wait_synced()).await.expect("synced");
    assert_eq!(pods.len(), 1203);
    // 500 per page: three pages make one list.
    assert_eq!(server.count_requests("list pods"), 3, "{:?}", server.requests());
    assert!(pods.get("jobs", "batch-1202").is_some());
}
