//! Kubernetes cluster access: connections ([`ConnectionOptions`]: in-cluster service account,
//! kubeconfig files and contexts, or an explicit API server with its authentication and TLS),
//! and shared list/watch caches ([`WatchCache`]) that every user in the process reaches through
//! one [`Clusters`] registry.
//!
//! A cache lists its objects, then watches from the list's resource version with bookmarks; a
//! `410 Gone` (an `ERROR` watch event or an HTTP 410) makes it list again, other failures retry
//! with exponential backoff. Its health is exported as `panoptes_kube_*` metrics
//! ([`KubeMetrics`]).
//!
//! [`monitoring`] models the prometheus-operator's custom resources so that they are watched
//! like any other kind.
//!
//! [`ClusterState`] renders cluster-state metrics with kube-state-metrics' names from the
//! same caches.
//!
//! This crate knows nothing about scraping: it hands out typed objects (re-exported
//! [`k8s_openapi`] types) and change notifications. Turning objects into targets is
//! `panoptes-scrape`'s job (`discovery/kubernetes`), which depends on this crate, never the
//! reverse.

mod cache;
mod clusters;
mod connection;
mod error;
mod metrics;
pub mod monitoring;
mod state;

pub use cache::{ObjectKey, ResourceScope, Scope, WatchCache, WatchedKind};
pub use clusters::{Cluster, Clusters};
pub use connection::{
    ApiServerAuth, ApiServerOptions, ConnectionOptions, InClusterOptions, SERVICE_ACCOUNT_DIR, Secret, TlsOptions,
};
pub use error::{Error, Result};
pub use k8s_openapi;
pub use kube::Resource;
pub use metrics::KubeMetrics;
pub use state::{AllowList, ClusterState, ClusterStateOptions, RENDERED_RESOURCES, parse_quantity};
