//! Dashboards in Grafana's JSON model: the [`DashboardStore`] (saved dashboards with version
//! history on disk, provisioned ones read-only in memory), the [`compat`] report of what Panoptes
//! renders, converts or does not support, [`import`] of grafana.com exports, and Grafana's
//! dashboard HTTP API ([`router`]). Never evaluates queries: rendering is the UI's, data comes
//! from the Prometheus API.

mod api;
pub mod compat;
mod error;
pub mod import;
mod provisioning;
mod store;

pub use api::{DashboardApiOptions, router};
pub use compat::{CompatibilityReport, Issue, PanelReport, Status, VariableReport, check_and_convert};
pub use error::{Error, MAX_UID_LEN, Result};
pub use provisioning::{ProvisioningSummary, provision_dir};
pub use store::{
    ANONYMOUS, DashboardRecord, DashboardStore, SaveOutcome, SaveRequest, SearchQuery, StoredVersion, VersionInfo,
    slugify, validate_uid,
};

/// Returns an error's message followed by its sources', joined by `: `.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
