//! Objects that do not decode, against the fake API server of `panoptes-test-util` (a fake
//! speaking the real list/watch wire format; no real API server can run on the build machines).
//! A real API server stores Secret values as bytes and always sends valid base64, but a proxy,
//! an aggregated API or a bug can send anything: the cache must name the object and key, never
//! quote the value, and keep the other objects.

use std::sync::Arc;
use std::time::Duration;

use panoptes_kube::k8s_openapi::api::core::v1::{Pod, Secret};
use panoptes_kube::{ApiServerOptions, Clusters, ConnectionOptions, KubeMetrics, Scope, WatchCache};
use panoptes_test_util::fake_kube::FakeApiServer;
use parking_lot::Mutex;
use serde_json::json;

/// Everything logged by the process.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    panoptes_test_util::logs::capture(tracing::Level::INFO)
}

fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock()).into_owned()
}

/// Waits up to five seconds for a log line containing every one of `parts`; returns it.
async fn log_line(parts: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = log_text();
        if let Some(line) = text.lines().find(|line| parts.iter().all(|part| line.contains(part))) {
            return line.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no log line with {parts:?}:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits up to five seconds for `condition` on the cache.
async fn eventually<K>(cache: &WatchCache<K>, what: &str, condition: impl Fn(&WatchCache<K>) -> bool) {
    panoptes_test_util::eventually(what, Duration::from_secs(5), || condition(cache)).await;
}

fn secret(name: &str, password: serde_json::Value) -> serde_json::Value {
    json!({"kind": "Secret", "metadata": {"name": name, "namespace": "shop"}, "type": "Opaque",
        "data": {"username": "YWRtaW4=", "password": password}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_secret_data_is_named_by_key_and_never_quoted() {
    logs();
    let server = FakeApiServer::start().await;
    server.apply(secret("good", json!("aHVudGVyMg==")));
    server.apply(secret("creds", json!("s3cr3t!value")));
    let metrics = KubeMetrics::default();
    let clusters = Clusters::new(metrics.clone());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connect");
    let secrets = cluster.watch::<Secret>(Scope::namespace(Some("shop")));
    tokio::time::timeout(Duration::from_secs(5), secrets.wait_synced()).await.expect("listed despite the bad one");
    let names: Vec<String> = secrets.objects().iter().filter_map(|secret| secret.metadata.name.clone()).collect();
    assert_eq!(names, ["good"], "the malformed Secret is left out, the others are kept");

    let line = log_line(&["name=creds", "cannot be decoded"]).await;
    assert!(line.contains("resource=secrets") && line.contains("namespace=shop"), "{line}");
    assert!(line.contains(r#"reason=data key "password" is not valid base64"#), "{line}");

    // Fixed: the watch brings it in.
    server.apply(secret("creds", json!("czNjcjN0")));
    eventually(&secrets, "the fixed Secret", |secrets| secrets.get("shop", "creds").is_some()).await;
    let fixed = secrets.get("shop", "creds").unwrap();
    assert_eq!(fixed.data.as_ref().unwrap()["password"].0, b"s3cr3t");

    // Broken again through the watch: it leaves the cache instead of keeping its old value. A
    // value of the wrong type is reported the same way.
    server.apply(secret("creds", json!("still*bad")));
    eventually(&secrets, "the broken Secret gone", |secrets| secrets.get("shop", "creds").is_none()).await;
    server.apply(secret("numeric", json!(12345)));
    log_line(&["name=numeric", r#"reason=data key "password" is not valid base64"#]).await;
    assert_eq!(secrets.len(), 1);

    // The log is the process', shared with the other test: look at this server's lines.
    let server_field = format!("server={}", server.url());
    let text: Vec<String> = log_text().lines().filter(|line| line.contains(&server_field)).map(str::to_owned).collect();
    assert_eq!(text.len(), 3, "{text:#?}");
    for value in ["s3cr3t!value", "still*bad", "12345", "Invalid symbol", "invalid type"] {
        assert!(text.iter().all(|line| !line.contains(value)), "{value:?} reached the log:\n{text:#?}");
    }
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut exposition = String::new();
    prometheus_client::encoding::text::encode(&mut exposition, &registry).unwrap();
    assert!(
        exposition
            .contains(r#"panoptes_kube_cache_undecodable_objects_total{resource="secrets",scope="namespace=shop"} 3"#),
        "{exposition}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_undecodable_objects_are_named_with_the_decoder_message() {
    logs();
    let server = FakeApiServer::start().await;
    server.apply(json!({"kind": "Pod", "metadata": {"name": "fine", "namespace": "shop"}, "spec": {"containers": []}}));
    server.apply(
        json!({"kind": "Pod", "metadata": {"name": "odd", "namespace": "shop"}, "spec": {"containers": "none"}}),
    );
    let clusters = Clusters::new(KubeMetrics::default());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connect");
    let pods = cluster.watch::<Pod>(Scope::namespace(Some("shop")));
    tokio::time::timeout(Duration::from_secs(5), pods.wait_synced()).await.expect("listed");
    assert_eq!(pods.len(), 1);
    let line = log_line(&["name=odd", "resource=pods", "cannot be decoded"]).await;
    assert!(line.contains("invalid type"), "a Pod's decoder message is useful and kept: {line}");
}

/// Reads the process' metrics exposition for `metrics`.
fn exposition(metrics: &KubeMetrics) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    let mut exposition = String::new();
    prometheus_client::encoding::text::encode(&mut exposition, &registry).unwrap();
    exposition
}

fn pod(metadata: serde_json::Value) -> serde_json::Value {
    json!({"kind": "Pod", "metadata": metadata, "spec": {"containers": []}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_with_malformed_metadata_are_left_out_of_lists_and_watches() {
    logs();
    let server = FakeApiServer::start().await;
    server.apply(pod(json!({"name": "fine", "namespace": "meta"})));
    // A label value that is not a string; a name that is not one (stored by the fake under
    // its JSON text `["x"]`, which sorts first: item 0 of the list).
    server.apply(pod(json!({"name": "bad-labels", "namespace": "meta", "labels": {"app": 5}})));
    server.apply(pod(json!({"name": ["x"], "namespace": "meta"})));
    let metrics = KubeMetrics::default();
    let clusters = Clusters::new(metrics.clone());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connect");
    let pods = cluster.watch::<Pod>(Scope::namespace(Some("meta")));
    tokio::time::timeout(Duration::from_secs(5), pods.wait_synced()).await.expect("listed despite the bad ones");
    let names: Vec<String> = pods.objects().iter().filter_map(|pod| pod.metadata.name.clone()).collect();
    assert_eq!(names, ["fine"]);
    let line = log_line(&["name=bad-labels", "cannot be decoded"]).await;
    assert!(
        line.contains("namespace=meta") && line.contains("reason=metadata does not decode (invalid type"),
        "{line}"
    );
    let line = log_line(&["object=item 0 of a list page", "nor its name read"]).await;
    assert!(line.contains("resource=pods") && line.contains("scope=namespace=meta"), "{line}");
    assert!(line.contains("reason=metadata does not decode"), "{line}");
    let counted = r#"panoptes_kube_cache_undecodable_objects_total{resource="pods",scope="namespace=meta"}"#;
    assert!(exposition(&metrics).contains(&format!("{counted} 2")), "{}", exposition(&metrics));

    // Through the watch: a change that breaks the metadata removes the object; the watch goes
    // on (the next good event is applied), and fixing the object brings it back.
    server.apply(pod(json!({"name": "fine", "namespace": "meta", "annotations": {"note": true}})));
    eventually(&pods, "the broken pod gone", |pods| pods.is_empty()).await;
    log_line(&["name=fine", "namespace=meta", "reason=metadata does not decode"]).await;
    server.apply(pod(json!({"name": "later", "namespace": "meta"})));
    eventually(&pods, "the next pod", |pods| pods.get("meta", "later").is_some()).await;
    server.apply(pod(json!({"name": "bad-labels", "namespace": "meta", "labels": {"app": "5"}})));
    eventually(&pods, "the fixed pod", |pods| pods.get("meta", "bad-labels").is_some()).await;
    assert_eq!(pods.len(), 2);
    assert!(exposition(&metrics).contains(&format!("{counted} 3")), "{}", exposition(&metrics));
    // The cache listed once: nothing failed the list or the watch.
    assert_eq!(server.count_requests("list pods"), 1, "{:?}", server.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_with_malformed_metadata_is_named_and_its_annotations_never_quoted() {
    logs();
    let server = FakeApiServer::start().await;
    server.apply(secret("good", json!("aHVudGVyMg==")));
    // `kubectl apply` keeps a copy of the object, data included, in an annotation; a wrong
    // type elsewhere in `metadata` must not get the decoder to quote anything.
    let mut bad = secret("annotated", json!("aHVudGVyMg=="));
    bad["metadata"]["annotations"] = json!({"kubectl.kubernetes.io/last-applied-configuration": 31337});
    server.apply(bad);
    let clusters = Clusters::new(KubeMetrics::default());
    let options = ConnectionOptions::ApiServer(ApiServerOptions { url: server.url(), ..ApiServerOptions::default() });
    let cluster = clusters.connect(&options).await.expect("connect");
    let secrets = cluster.watch::<Secret>(Scope::namespace(Some("shop")));
    tokio::time::timeout(Duration::from_secs(5), secrets.wait_synced()).await.expect("listed");
    assert_eq!(secrets.len(), 1);
    assert!(secrets.get("shop", "good").is_some());
    let line = log_line(&["name=annotated", "resource=secrets", "cannot be decoded"]).await;
    assert!(line.contains("reason=metadata does not decode (the decoder's message is withheld"), "{line}");
    assert!(!line.contains("31337") && !line.contains("invalid type"), "{line}");
}
