//! Push ingestion protocols served next to the Prometheus API: InfluxDB line protocol writes
//! ([`influx`]) and a Pushgateway-compatible push API with its persistent group store
//! ([`pushgateway`]).
//!
//! Each protocol is a library with an axum [`axum::Router`] that the server mounts; this crate
//! never opens a listener, never names a concrete store (samples go through
//! `panoptes_storage::Appender`) and never reads global flags: each router receives its options.

mod body;
mod error;
pub mod influx;
pub mod pushgateway;
mod storage_handle;

pub use error::{Error, Result};
pub use storage_handle::StorageHandle;
