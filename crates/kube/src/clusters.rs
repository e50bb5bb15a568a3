//! The process-wide registry of cluster connections and their watch caches. Equal
//! [`ConnectionOptions`] share one [`Cluster`]; equal (kind, scope) pairs of one cluster share
//! one [`WatchCache`]. Both are held weakly: a cache stops when its last user drops it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::cache::{Scope, WatchCache, WatchedKind};
use crate::connection::{ConnectionOptions, InClusterOptions};
use crate::error::{Error, Result};
use crate::metrics::KubeMetrics;

type AnyCache = dyn Any + Send + Sync;

/// Every cluster connection of the process; cheap to clone.
#[derive(Clone, Default)]
pub struct Clusters {
    clusters: Arc<Mutex<HashMap<ConnectionOptions, Weak<Cluster>>>>,
    metrics: KubeMetrics,
    in_cluster: Arc<InClusterOptions>,
}

impl std::fmt::Debug for Clusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clusters = self.clusters.lock();
        f.debug_struct("Clusters")
            .field("connections", &clusters.keys().map(ConnectionOptions::describe).collect::<Vec<_>>())
            .finish()
    }
}

impl Clusters {
    /// Returns an empty registry whose caches report to `metrics`.
    pub fn new(metrics: KubeMetrics) -> Self {
        Clusters { clusters: Arc::default(), metrics, in_cluster: Arc::default() }
    }

    /// Returns the registry reading the in-cluster environment and service account from
    /// `in_cluster` instead of the process environment and
    /// `/var/run/secrets/kubernetes.io/serviceaccount` (for tests).
    pub fn with_in_cluster(mut self, in_cluster: InClusterOptions) -> Self {
        self.in_cluster = Arc::new(in_cluster);
        self
    }

    /// Returns the metrics of every cache of this registry.
    pub fn metrics(&self) -> &KubeMetrics {
        &self.metrics
    }

    /// Returns the cluster reached with `options`, connecting when no user holds it yet.
    ///
    /// # Errors
    ///
    /// Returns why the options do not give a client: missing in-cluster credentials, an
    /// unreadable kubeconfig or certificate, an unknown context, an invalid URL.
    pub async fn connect(&self, options: &ConnectionOptions) -> Result<Arc<Cluster>> {
        if let Some(cluster) = self.clusters.lock().get(options).and_then(Weak::upgrade) {
            return Ok(cluster);
        }
        let config = options.to_config(&self.in_cluster).await?;
        let default_namespace = config.default_namespace.clone();
        let api_server = config.cluster_url.to_string().trim_end_matches('/').to_owned();
        let client = kube::Client::try_from(config).map_err(Error::Client)?;
        let cluster = Arc::new(Cluster {
            client,
            default_namespace,
            api_server,
            description: options.describe(),
            caches: Mutex::default(),
            metrics: self.metrics.clone(),
        });
        let mut clusters = self.clusters.lock();
        // Another user may have connected meanwhile; keep the first so caches are shared.
        if let Some(existing) = clusters.get(options).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        clusters.retain(|_, cluster| cluster.strong_count() > 0);
        clusters.insert(options.clone(), Arc::downgrade(&cluster));
        Ok(cluster)
    }
}

/// One cluster connection and its shared caches.
pub struct Cluster {
    client: kube::Client,
    default_namespace: String,
    api_server: String,
    description: String,
    caches: Mutex<HashMap<(TypeId, Scope), Weak<AnyCache>>>,
    metrics: KubeMetrics,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("connection", &self.description)
            .field("api_server", &self.api_server)
            .field("caches", &self.caches.lock().len())
            .finish()
    }
}

impl Cluster {
    /// Returns the namespace of the connection: the pod's own namespace in-cluster, the
    /// context's namespace for kubeconfig files, `default` otherwise.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Returns the API server's URL, e.g. `https://10.96.0.1:443`.
    pub fn api_server(&self) -> &str {
        &self.api_server
    }

    /// Returns the connection's description (no secrets).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Returns the cache of `K` objects in `scope`, starting it when no user holds it yet.
    /// Must be called within a tokio runtime.
    pub fn watch<K: WatchedKind>(&self, scope: Scope) -> Arc<WatchCache<K>> {
        let key = (TypeId::of::<K>(), scope);
        let mut caches = self.caches.lock();
        if let Some(cache) = caches.get(&key).and_then(Weak::upgrade).and_then(|cache| cache.downcast().ok()) {
            return cache;
        }
        caches.retain(|_, cache| cache.strong_count() > 0);
        let cache = Arc::new(WatchCache::<K>::spawn(
            self.client.clone(),
            &self.api_server,
            key.1.clone(),
            self.metrics.clone(),
        ));
        let erased: Arc<AnyCache> = cache.clone();
        caches.insert(key, Arc::downgrade(&erased));
        cache
    }
}
