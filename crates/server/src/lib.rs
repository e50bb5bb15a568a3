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

/// Where the running binary was built from, for `/api/v1/status/buildinfo` and
/// `panoptes_build_info`. The binary records it once at start ([`set_build_info`]), so that a
/// new commit rebuilds only the binary, not this crate.
#[derive(Debug, Clone, Copy)]
pub struct BuildInfo {
    /// The git commit.
    pub revision: &'static str,
    /// The git branch.
    pub branch: &'static str,
    /// The commit date, as Prometheus prints build dates (`20060102-15:04:05`).
    pub build_date: &'static str,
}

static BUILD_INFO: std::sync::OnceLock<BuildInfo> = std::sync::OnceLock::new();

/// Records where the binary was built from; only the first call counts.
pub fn set_build_info(info: BuildInfo) {
    let _ = BUILD_INFO.set(info);
}

/// Returns what [`set_build_info`] recorded, or `unknown` everywhere.
pub(crate) fn build_info() -> BuildInfo {
    BUILD_INFO.get().copied().unwrap_or(BuildInfo { revision: "unknown", branch: "unknown", build_date: "unknown" })
}
