//! The state shared by every handler: the store once it is open, limits and self-metrics.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use panoptes_promql::Engine;
use panoptes_rules::RuleManager;
use panoptes_scrape::ScrapeManager;
use panoptes_storage::StorageRef;
use prometheus_client::registry::Registry;
use tokio::sync::{Notify, Semaphore};

use crate::api::remote_write::{IngestWorkers, SeriesCache};
use crate::api::{ConfigControl, TsdbAdmin};
use crate::metrics::Metrics;
use crate::server::ServerOptions;

/// Handler state; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    /// Set once, when the storage opener returns.
    storage: OnceLock<OpenedStorage>,
    metrics: Metrics,
    max_remote_write_bytes: usize,
    /// Handles of the series remote-write senders sent, by their encoded labels.
    remote_write_series: Arc<SeriesCache>,
    /// The threads remote-write requests are applied on.
    remote_write_workers: IngestWorkers,
    read_timeout: Duration,
    engine: Engine,
    /// One permit per query allowed to run at once; further queries wait for a permit.
    query_permits: Arc<Semaphore>,
    enable_admin_api: bool,
    tsdb_admin: Option<Arc<dyn TsdbAdmin>>,
    flags: Vec<(String, String)>,
    /// When the server started, in milliseconds since the epoch.
    start_time_ms: i64,
    config: Option<Arc<dyn ConfigControl>>,
    scrape: Option<Arc<ScrapeManager>>,
    enable_lifecycle: bool,
    rules: Option<Arc<OnceLock<RuleManager>>>,
    remote_read_sample_limit: usize,
    /// One permit per remote read allowed to run at once.
    remote_read_permits: Arc<Semaphore>,
    /// Notified by `/-/quit`.
    quit: Notify,
}

struct OpenedStorage {
    storage: StorageRef,
    registry: Registry,
}

impl AppState {
    /// Returns state with no store yet.
    pub(crate) fn new(options: &ServerOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage: OnceLock::new(),
                metrics: Metrics::new(),
                max_remote_write_bytes: options.max_remote_write_bytes,
                remote_write_series: Arc::default(),
                remote_write_workers: IngestWorkers::default(),
                read_timeout: options.read_timeout,
                engine: Engine::new(options.engine.clone()),
                query_permits: Arc::new(Semaphore::new(options.max_concurrent_queries.max(1))),
                enable_admin_api: options.enable_admin_api,
                tsdb_admin: options.tsdb_admin.clone(),
                flags: options.flags.clone(),
                start_time_ms: panoptes_model::time::now_millis(),
                config: options.config.clone(),
                scrape: options.scrape.clone(),
                enable_lifecycle: options.enable_lifecycle,
                rules: options.rules.clone(),
                remote_read_sample_limit: options.remote_read_sample_limit,
                remote_read_permits: Arc::new(Semaphore::new(options.max_concurrent_remote_reads.max(1))),
                quit: Notify::new(),
            }),
        }
    }

    /// Installs the opened store and the registry its metrics were registered in.
    pub(crate) fn set_storage(&self, storage: StorageRef, registry: Registry) {
        if self.inner.storage.set(OpenedStorage { storage, registry }).is_ok() {
            self.inner.metrics.storage_ready.set(1);
        }
    }

    /// Returns the store, or `None` while it is still being opened.
    pub(crate) fn storage(&self) -> Option<StorageRef> {
        self.inner.storage.get().map(|opened| opened.storage.clone())
    }

    /// Returns the store's metrics registry, once it is open.
    pub(crate) fn storage_registry(&self) -> Option<&Registry> {
        self.inner.storage.get().map(|opened| &opened.registry)
    }

    /// Returns the server's self-metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Returns the largest decompressed remote write body accepted, in bytes.
    pub(crate) fn max_remote_write_bytes(&self) -> usize {
        self.inner.max_remote_write_bytes
    }

    /// Returns the remote-write series cache.
    pub(crate) fn remote_write_series(&self) -> Arc<SeriesCache> {
        self.inner.remote_write_series.clone()
    }

    /// Returns the threads remote-write requests are applied on.
    pub(crate) fn remote_write_workers(&self) -> &IngestWorkers {
        &self.inner.remote_write_workers
    }

    /// Returns how long reading one request body may take.
    pub(crate) fn read_timeout(&self) -> Duration {
        self.inner.read_timeout
    }
}

impl AppState {
    /// Returns the PromQL engine configured from the flags.
    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Returns the semaphore bounding concurrent queries.
    pub(crate) fn query_permits(&self) -> Arc<Semaphore> {
        self.inner.query_permits.clone()
    }

    /// Returns whether the admin endpoints are enabled.
    pub(crate) fn admin_api_enabled(&self) -> bool {
        self.inner.enable_admin_api
    }

    /// Returns the store's administration handle, when the binary provided one.
    pub(crate) fn tsdb_admin(&self) -> Option<Arc<dyn TsdbAdmin>> {
        self.inner.tsdb_admin.clone()
    }

    /// Returns the command-line flags as `(name, value)` pairs, for `/api/v1/status/flags`.
    pub(crate) fn flags(&self) -> &[(String, String)] {
        &self.inner.flags
    }

    /// Returns when the server started, in milliseconds since the epoch.
    pub(crate) fn start_time_ms(&self) -> i64 {
        self.inner.start_time_ms
    }

    /// Returns the running configuration's control, when the binary provided one.
    pub(crate) fn config(&self) -> Option<&Arc<dyn ConfigControl>> {
        self.inner.config.as_ref()
    }

    /// Returns the scrape manager, when the binary provided one.
    pub(crate) fn scrape(&self) -> Option<&Arc<ScrapeManager>> {
        self.inner.scrape.as_ref()
    }

    /// Returns the rule manager, once the store is open.
    pub(crate) fn rules(&self) -> Option<&RuleManager> {
        self.inner.rules.as_ref().and_then(|rules| rules.get())
    }

    /// Returns the most samples one remote read may return.
    pub(crate) fn remote_read_sample_limit(&self) -> usize {
        self.inner.remote_read_sample_limit
    }

    /// Returns the semaphore bounding concurrent remote reads.
    pub(crate) fn remote_read_permits(&self) -> Arc<Semaphore> {
        self.inner.remote_read_permits.clone()
    }

    /// Returns whether `/-/reload` and `/-/quit` are enabled.
    pub(crate) fn lifecycle_enabled(&self) -> bool {
        self.inner.enable_lifecycle
    }

    /// Asks the server to stop, as SIGTERM would.
    pub(crate) fn request_quit(&self) {
        self.inner.quit.notify_one();
    }

    /// Completes once `/-/quit` was called.
    pub(crate) async fn quit_requested(&self) {
        self.inner.quit.notified().await;
    }
}
