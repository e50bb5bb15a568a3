//! The state shared by every handler: the store once it is open, limits and self-metrics.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use panoptes_storage::StorageRef;
use prometheus_client::registry::Registry;

use crate::metrics::Metrics;

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
    read_timeout: Duration,
}

struct OpenedStorage {
    storage: StorageRef,
    registry: Registry,
}

impl AppState {
    /// Returns state with no store yet.
    pub(crate) fn new(max_remote_write_bytes: usize, read_timeout: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                storage: OnceLock::new(),
                metrics: Metrics::new(),
                max_remote_write_bytes,
                read_timeout,
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

    /// Returns how long reading one request body may take.
    pub(crate) fn read_timeout(&self) -> Duration {
        self.inner.read_timeout
    }
}
