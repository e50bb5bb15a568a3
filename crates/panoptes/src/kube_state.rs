//! `/kube-state/metrics`: cluster-state series with kube-state-metrics' names, rendered from
//! the process' shared watch caches (`panoptes_kube::ClusterState`) when
//! `--kube-state.cluster` names a cluster. Scrape it like kube-state-metrics.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use panoptes_kube::{ApiServerOptions, Cluster, ClusterState, ClusterStateOptions, Clusters, ConnectionOptions};

use crate::cli::ServerArgs;

/// How long to wait before connecting again when the cluster cannot be reached.
const CONNECT_RETRY: Duration = Duration::from_secs(30);

/// Returns the connection `--kube-state.cluster` names: `in-cluster`, an `http(s)://` API
/// server URL (no credentials), or a kubeconfig file (its current context).
fn connection(spec: &str) -> ConnectionOptions {
    match spec {
        "in-cluster" => ConnectionOptions::InCluster,
        url if url.starts_with("http://") || url.starts_with("https://") => {
            ConnectionOptions::ApiServer(ApiServerOptions { url: url.to_owned(), ..ApiServerOptions::default() })
        }
        path => ConnectionOptions::Kubeconfig { path: path.into(), context: None },
    }
}

/// Returns what the families include: the allow-list flags, each defaulting to
/// [`ClusterStateOptions::default`]'s (every pod label, no annotation).
pub(crate) fn options(args: &ServerArgs) -> ClusterStateOptions {
    let defaults = ClusterStateOptions::default();
    ClusterStateOptions {
        labels_allowlist: args.kube_state_labels_allowlist.clone().unwrap_or(defaults.labels_allowlist),
        annotations_allowlist: args.kube_state_annotations_allowlist.clone().unwrap_or(defaults.annotations_allowlist),
    }
}

/// Returns the route, empty when no cluster is named. The caches start at once; the page
/// answers `503` until every cache listed once.
pub(crate) fn routes(spec: Option<&str>, state_options: ClusterStateOptions, clusters: Clusters) -> axum::Router {
    let Some(spec) = spec else {
        return axum::Router::new();
    };
    let options = connection(spec);
    let state: Arc<OnceLock<(Arc<Cluster>, ClusterState)>> = Arc::default();
    let filled = state.clone();
    tokio::spawn(async move {
        let cluster = loop {
            match clusters.connect(&options).await {
                Ok(cluster) => break cluster,
                Err(error) => {
                    tracing::error!(cluster = %options.describe(), error = %error, "kube-state: cannot connect");
                    tokio::time::sleep(CONNECT_RETRY).await;
                }
            }
        };
        let cluster_state = ClusterState::watch(&cluster, state_options);
        cluster_state.wait_synced().await;
        tracing::info!(cluster = %options.describe(), "kube-state: caches synced; serving /kube-state/metrics");
        let _ = filled.set((cluster, cluster_state));
    });
    axum::Router::new().route(
        "/kube-state/metrics",
        get(move || {
            let state = state.clone();
            async move {
                match state.get() {
                    Some((_, cluster_state)) => {
                        ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], cluster_state.render())
                            .into_response()
                    }
                    None => (StatusCode::SERVICE_UNAVAILABLE, "cluster state not synced yet\n").into_response(),
                }
            }
        }),
    )
}
