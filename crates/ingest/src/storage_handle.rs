//! How a router finds the store: the server opens storage after the listener is up, so the
//! handle is asked on every request.

use std::fmt;
use std::sync::Arc;

use panoptes_storage::StorageRef;

/// Returns the store to append to, or `None` while it is not open yet (requests then get `503`).
#[derive(Clone)]
pub struct StorageHandle(Arc<dyn Fn() -> Option<StorageRef> + Send + Sync>);

impl StorageHandle {
    /// Returns a handle to a store that is already open.
    pub fn ready(storage: StorageRef) -> Self {
        Self(Arc::new(move || Some(storage.clone())))
    }

    /// Returns a handle that asks `get` on every request, for example the server's state.
    pub fn from_fn(get: impl Fn() -> Option<StorageRef> + Send + Sync + 'static) -> Self {
        Self(Arc::new(get))
    }

    /// Returns the store, or `None` when it is not open yet.
    pub fn get(&self) -> Option<StorageRef> {
        (self.0)()
    }
}

impl fmt::Debug for StorageHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StorageHandle")
    }
}
