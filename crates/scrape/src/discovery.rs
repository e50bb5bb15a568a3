//! Target discovery: the [`TargetGroup`] every discoverer produces, and one module per
//! discovery mechanism. Discoverers only produce groups; turning them into targets is
//! `target`'s job.

pub mod dns;
pub mod file;
pub mod http;
pub mod kubernetes;
pub(crate) mod run;

use std::collections::BTreeMap;

use crate::config::{AlertmanagerConfig, StaticConfig};

/// An update from one discoverer: its position among the discoverers of a config and all its
/// groups.
pub type DiscoveryUpdate = (usize, Vec<TargetGroup>);

/// Starts the discoverers of an `alerting.alertmanagers` entry (static, file, HTTP and
/// Kubernetes SD) as the scrape manager does for a job: each is a task that sends all its groups
/// on `updates` whenever they change, until it is aborted. Must be called within a Tokio
/// runtime.
pub fn spawn_alertmanager_discovery(
    config: &AlertmanagerConfig,
    updates: &tokio::sync::mpsc::Sender<DiscoveryUpdate>,
    kube: &panoptes_kube::Clusters,
) -> Vec<tokio::task::JoinHandle<()>> {
    run::spawn_for_alertmanagers(config, updates, kube)
}

/// A set of targets sharing labels, as one discoverer reports it (Prometheus'
/// `targetgroup.Group`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// One label set per target, each holding at least `__address__`.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels shared by every target of the group; a target's own labels win.
    pub labels: BTreeMap<String, String>,
    /// Identifies the group within its discoverer, so that an update replaces it.
    pub source: String,
}

impl TargetGroup {
    /// Returns the group of a `static_configs` entry; `index` is its position in the list, which
    /// Prometheus uses as the source.
    pub fn from_static_config(config: &StaticConfig, index: usize) -> Self {
        TargetGroup {
            targets: config
                .targets
                .iter()
                .map(|address| BTreeMap::from([(crate::target::ADDRESS_LABEL.to_owned(), address.clone())]))
                .collect(),
            labels: config.labels.clone(),
            source: index.to_string(),
        }
    }
}
