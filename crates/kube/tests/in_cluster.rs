//! The in-cluster connection end to end: a service account directory made here (token, CA,
//! namespace), the fake API server of `panoptes-test-util` (a fake speaking the real list/watch
//! wire format, because no real API server can run on the build machines) requiring the token,
//! behind `panoptes_test_util::tls::tls_front` with a server certificate signed by a CA made at
//! test time with Debian's `openssl`. The front terminates TLS and passes the bytes on, so the
//! client sees exactly what an API server serving HTTPS would send.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use panoptes_kube::k8s_openapi::api::core::v1::Pod;
use panoptes_kube::{ClusterState, Clusters, ConnectionOptions, InClusterOptions, KubeMetrics, Scope, WatchCache};
use panoptes_test_util::fake_kube::FakeApiServer;
use panoptes_test_util::tls::{TestPki, tls_front};
use parking_lot::Mutex;
use serde_json::json;

/// Makes a CA in `dir` and a certificate `server` it signs for the API server's names.
fn make_pki(dir: &Path) -> TestPki {
    let pki = TestPki::new(dir);
    pki.issue_server("server", "kubernetes", "IP:127.0.0.1,DNS:kubernetes.default.svc");
    pki
}

/// The fake API server behind a TLS front with the `server` certificate of `pki`.
async fn front(pki: &TestPki, server: &FakeApiServer) -> SocketAddr {
    tls_front(pki, "server", server.url().trim_start_matches("http://").parse().unwrap()).await
}

/// Writes a service account directory in `dir`: `token`, `ca.crt` (`ca_pem`) and `namespace`.
fn write_service_account(dir: &Path, ca_pem: &str, token: &str, namespace: &str) -> std::path::PathBuf {
    let account = dir.join("serviceaccount");
    std::fs::create_dir_all(&account).unwrap();
    std::fs::write(account.join("ca.crt"), ca_pem).unwrap();
    // Kubernetes writes the token without a trailing newline, the namespace likewise.
    std::fs::write(account.join("token"), token).unwrap();
    std::fs::write(account.join("namespace"), namespace).unwrap();
    account
}

/// Everything logged by the process.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    panoptes_test_util::logs::capture(tracing::Level::INFO)
}

fn in_cluster(account: &Path, front: SocketAddr) -> InClusterOptions {
    InClusterOptions {
        service_account_dir: account.to_owned(),
        service_host: Some(front.ip().to_string()),
        service_port: Some(front.port().to_string()),
    }
}

fn pod(name: &str) -> serde_json::Value {
    json!({"kind": "Pod", "metadata": {"name": name, "namespace": "monitoring", "labels": {"app": name}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": "Running", "podIP": "10.244.1.7", "hostIP": "10.0.0.11"}})
}

/// Waits up to `seconds` for `condition` on the cache.
async fn eventually<K>(cache: &WatchCache<K>, seconds: u64, what: &str, condition: impl Fn(&WatchCache<K>) -> bool) {
    panoptes_test_util::eventually(what, Duration::from_secs(seconds), || condition(cache)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_cluster_connection_uses_the_service_account_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let server = FakeApiServer::start().await;
    server.require_bearer_token("sa-token-1");
    server.apply(pod("collector"));
    let front = front(&pki, &server).await;
    let account = write_service_account(dir.path(), &pki.ca_pem, "sa-token-1", "monitoring");

    let clusters = Clusters::new(KubeMetrics::default()).with_in_cluster(in_cluster(&account, front));
    let cluster = clusters.connect(&ConnectionOptions::InCluster).await.expect("connect in-cluster");
    assert_eq!(cluster.default_namespace(), "monitoring", "own_namespace comes from the namespace file");
    assert_eq!(cluster.api_server(), format!("https://127.0.0.1:{}", front.port()));
    assert_eq!(cluster.description(), "in-cluster");

    let pods = cluster.watch::<Pod>(Scope::namespace(Some(cluster.default_namespace())));
    tokio::time::timeout(Duration::from_secs(10), pods.wait_synced()).await.expect("pods listed over TLS");
    assert_eq!(pods.objects().iter().filter_map(|pod| pod.metadata.name.clone()).collect::<Vec<_>>(), ["collector"]);
    assert_eq!(server.last_authorization().as_deref(), Some("Bearer sa-token-1"));
    assert_eq!(server.unauthorized_requests(), 0);
    // Changes arrive through the watch over the same TLS connection setup.
    server.apply(pod("shipper"));
    eventually(&pods, 10, "the new pod through the watch", |pods| pods.len() == 2).await;

    // The cluster-state metrics, which read every kind cluster-wide, work in-cluster as well.
    let state = ClusterState::watch(&cluster, panoptes_kube::ClusterStateOptions::default());
    tokio::time::timeout(Duration::from_secs(10), state.wait_synced()).await.expect("cluster state synced");
    let text = state.render();
    assert!(
        text.contains(r#"kube_pod_info{namespace="monitoring",pod="collector","#),
        "cluster state over the in-cluster connection:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_certificate_authority_is_reported_with_the_api_server_url() {
    let logs = logs();
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let other = tempfile::tempdir().unwrap();
    let other = TestPki::named(other.path(), "panoptes test other ca");
    let server = FakeApiServer::start().await;
    server.require_bearer_token("sa-token-1");
    server.apply(pod("collector"));
    let front = front(&pki, &server).await;
    // The mounted CA is not the one that signed the server's certificate.
    let account = write_service_account(dir.path(), &other.ca_pem, "sa-token-1", "monitoring");

    let clusters = Clusters::new(KubeMetrics::default()).with_in_cluster(in_cluster(&account, front));
    let cluster = clusters.connect(&ConnectionOptions::InCluster).await.expect("the configuration itself is valid");
    let pods = cluster.watch::<Pod>(Scope::namespace(Some("monitoring")));
    let url = format!("https://127.0.0.1:{}", front.port());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let line = loop {
        let text = String::from_utf8_lossy(&logs.lock()).into_owned();
        if let Some(line) = text.lines().find(|line| line.contains(&url)) {
            break line.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no log line names {url}:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(line.contains("kubernetes list failed"), "{line}");
    assert!(line.contains("resource=pods"), "{line}");
    // The cause, not only kube's outer "client error".
    assert!(line.contains("UnknownIssuer"), "the certificate problem is named: {line}");
    assert!(!line.contains("sa-token-1"), "no token in logs: {line}");
    assert!(!pods.is_synced());
    assert_eq!(server.requests(), Vec::<String>::new(), "nothing reached the server");
}

#[tokio::test]
async fn missing_service_account_files_and_environment_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("serviceaccount");
    std::fs::create_dir_all(&account).unwrap();
    let front: SocketAddr = "127.0.0.1:6443".parse().unwrap();
    let check = async |options: InClusterOptions| {
        let clusters = Clusters::new(KubeMetrics::default()).with_in_cluster(options);
        clusters.connect(&ConnectionOptions::InCluster).await.expect_err("cannot connect").to_string()
    };

    let namespace = account.join("namespace");
    assert_eq!(
        check(in_cluster(&account, front)).await,
        format!("cannot read in-cluster service account namespace file {namespace:?}")
    );
    std::fs::write(&namespace, "monitoring\n").unwrap();
    let ca = account.join("ca.crt");
    assert_eq!(
        check(in_cluster(&account, front)).await,
        format!("cannot read in-cluster service account ca.crt file {ca:?}")
    );
    std::fs::write(&ca, TestPki::new(dir.path()).ca_pem).unwrap();
    let token = account.join("token");
    assert_eq!(
        check(in_cluster(&account, front)).await,
        format!("cannot read in-cluster service account token file {token:?}")
    );
    std::fs::write(&token, "sa-token-1").unwrap();
    let unset = InClusterOptions { service_host: Some(String::new()), ..in_cluster(&account, front) };
    assert_eq!(check(unset).await, "in-cluster connection: KUBERNETES_SERVICE_HOST is not set (not running in a pod?)");
    let bad_port = InClusterOptions { service_port: Some("https".to_owned()), ..in_cluster(&account, front) };
    assert_eq!(check(bad_port).await, r#"in-cluster connection: KUBERNETES_SERVICE_PORT "https" is not a port number"#);
    std::fs::write(&namespace, "\n").unwrap();
    assert_eq!(
        check(in_cluster(&account, front)).await,
        format!("in-cluster connection: the service account namespace file {namespace:?} is empty")
    );
    std::fs::write(&namespace, "monitoring\n").unwrap();
    let clusters = Clusters::new(KubeMetrics::default()).with_in_cluster(in_cluster(&account, front));
    let cluster = clusters.connect(&ConnectionOptions::InCluster).await.expect("everything in place");
    assert_eq!(cluster.default_namespace(), "monitoring", "the trailing newline is not part of the namespace");
}

/// kube re-reads the token file when its copy is 50 s old (it keeps a read for 60 s and renews
/// 10 s before), as client-go re-reads it every minute; nothing shortens that period, so this
/// test takes about a minute and a half.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: the token file is re-read about once a minute"]
async fn rotated_token_is_used_without_reconnecting() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let server = FakeApiServer::start().await;
    server.require_bearer_token("sa-token-1");
    server.apply(pod("collector"));
    let front = front(&pki, &server).await;
    let account = write_service_account(dir.path(), &pki.ca_pem, "sa-token-1", "monitoring");
    let clusters = Clusters::new(KubeMetrics::default()).with_in_cluster(in_cluster(&account, front));
    let cluster = clusters.connect(&ConnectionOptions::InCluster).await.expect("connect in-cluster");
    let pods = cluster.watch::<Pod>(Scope::namespace(Some("monitoring")));
    tokio::time::timeout(Duration::from_secs(10), pods.wait_synced()).await.expect("pods listed");

    // The kubelet writes a new token and the old one stops working.
    // Open watches end (an open stream is not authenticated again), and the change is made
    // once they did, so that only a new request with the new token can see it.
    std::fs::write(account.join("token"), "sa-token-2").unwrap();
    server.require_bearer_token("sa-token-2");
    server.hold_watches();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.apply(pod("shipper"));
    server.release_watches();
    eventually(&pods, 120, "the new pod, seen with the rotated token", |pods| pods.len() == 2).await;
    assert_eq!(server.last_authorization().as_deref(), Some("Bearer sa-token-2"));
    assert!(server.unauthorized_requests() > 0, "the old token was refused meanwhile");
}
