//! Self-metrics of the watch caches, declared in one place. Every series carries the cache's
//! `resource` (plural, e.g. `pods`) and `scope` (namespace and selectors, `all` for a
//! cluster-wide unfiltered cache).

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The labels of one cache's series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CacheLabels {
    /// The resource, plural (`pods`, `endpointslices`).
    pub(crate) resource: String,
    /// Namespace and selectors of the cache.
    pub(crate) scope: String,
}

/// The labels of watch event counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EventLabels {
    /// The resource, plural.
    pub(crate) resource: String,
    /// Namespace and selectors of the cache.
    pub(crate) scope: String,
    /// `added`, `modified`, `deleted`, `bookmark` or `error`.
    pub(crate) event: &'static str,
}

/// The labels of list counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct ListLabels {
    /// The resource, plural.
    pub(crate) resource: String,
    /// Namespace and selectors of the cache.
    pub(crate) scope: String,
    /// Why the cache listed: `initial`, `gone` (the watch's resource version expired) or `error`
    /// (the watch failed in another way and the cache could not resume it).
    pub(crate) reason: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// The watch caches' metrics; cheap to clone (every family is shared).
#[derive(Clone, Default)]
pub struct KubeMetrics {
    pub(crate) lists: Family<ListLabels, Counter>,
    pub(crate) watches: Family<CacheLabels, Counter>,
    pub(crate) events: Family<EventLabels, Counter>,
    pub(crate) failures: Family<CacheLabels, Counter>,
    pub(crate) undecodable: Family<CacheLabels, Counter>,
    pub(crate) objects: Family<CacheLabels, Gauge>,
    pub(crate) last_sync: Family<CacheLabels, FloatGauge>,
    pub(crate) caches: Gauge,
}

impl std::fmt::Debug for KubeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeMetrics").finish_non_exhaustive()
    }
}

impl KubeMetrics {
    /// Registers every metric in `registry` under `panoptes_kube_`.
    pub fn register(&self, registry: &mut Registry) {
        let registry = registry.sub_registry_with_prefix("panoptes_kube");
        registry.register(
            "cache_lists",
            "Successful full lists of a watch cache, by reason (initial, gone, error)",
            self.lists.clone(),
        );
        registry.register("cache_watches", "Watch requests a cache started", self.watches.clone());
        registry.register(
            "cache_watch_events",
            "Watch events a cache received, by type (added, modified, deleted, bookmark, error)",
            self.events.clone(),
        );
        registry.register(
            "cache_failures",
            "Failed list or watch requests of a cache (each followed by a backoff)",
            self.failures.clone(),
        );
        registry.register(
            "cache_undecodable_objects",
            "Objects a cache left out because they do not decode (each logged with its namespace and name)",
            self.undecodable.clone(),
        );
        registry.register("cache_objects", "Objects a watch cache holds", self.objects.clone());
        registry.register(
            "cache_last_sync_timestamp_seconds",
            "When a cache last knew it was up to date (a list, event or bookmark arrived)",
            self.last_sync.clone(),
        );
        registry.register("caches", "Watch caches running in the process", self.caches.clone());
    }
}
