//! HTTP API, configuration and wiring (see ARCHITECTURE.md).
//!
//! The binary starts a [`Server`] before the metrics store is open: [`Server::bind`] listens at
//! once, [`Server::run`] opens the store through a [`StorageOpener`] on a blocking thread and
//! answers `503 Service Unavailable` on store-dependent endpoints (and `/-/ready`) until it is
//! open. This crate never names a concrete store; it sees only [`panoptes_storage::Storage`].

mod api;
mod error;
mod metrics;
pub mod prompb;
mod server;
mod state;

pub use api::{ConfigControl, TsdbAdmin, TsdbStats};
pub use error::{Error, Result};
pub use server::{Server, ServerOptions, ShutdownHook, StorageOpener, shutdown_signal};
