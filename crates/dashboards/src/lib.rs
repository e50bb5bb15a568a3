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
pub(crate) use panoptes_model::error_chain;
pub use provisioning::{ProvisioningSummary, provision_dir};
pub use store::{
    ANONYMOUS, DashboardRecord, DashboardStore, FolderRecord, SaveOutcome, SaveRequest, SearchQuery, StoredVersion,
    VersionInfo, slugify, validate_uid,
};
