//! Sending the rules' alerts to external Alertmanagers (`alerting.alertmanagers`), as
//! Prometheus' notifier does: a bounded queue (oldest alerts dropped when full, counted in the
//! log), batches of up to 64 alerts `POST`ed as JSON to `/api/v2/alerts` of every discovered
//! Alertmanager, external labels added to every alert and `alert_relabel_configs` applied.
//!
//! Each `alertmanagers` entry discovers its Alertmanagers with the scrape crate's discoverers
//! (static, file, HTTP and Kubernetes SD); each discovered target gets `__scheme__` and
//! `__alerts_path__` (`<path_prefix>/api/v2/alerts`) before `relabel_configs`, which may drop
//! it, as Prometheus' `AlertmanagerFromGroup` does. `/api/v1/alertmanagers` lists the active
//! and dropped ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use panoptes_kube::Clusters;
use panoptes_model::Labels;
use panoptes_rules::{AlertToSend, Notifier, NotifierRef};
use panoptes_scrape::client::HttpClient;
use panoptes_scrape::config::{AlertingConfig, AlertmanagerConfig};
use panoptes_scrape::discovery::{DiscoveryUpdate, TargetGroup, spawn_alertmanager_discovery};
use panoptes_scrape::relabel::{self, RelabelConfig};
use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

/// Alerts waiting to be sent (Prometheus' `--alertmanager.notification-queue-capacity`).
const QUEUE_CAPACITY: usize = 10_000;
/// The most alerts in one request.
const MAX_BATCH: usize = 64;
/// The label holding the path alerts are posted to (Prometheus' `pathLabel`).
const ALERTS_PATH_LABEL: &str = "__alerts_path__";

/// One `alertmanagers` entry: how to reach its Alertmanagers and which were discovered.
struct AlertmanagerSet {
    client: HttpClient,
    timeout: std::time::Duration,
    relabel: Vec<RelabelConfig>,
    discovered: RwLock<Discovered>,
}

/// The Alertmanagers of a set, by URL.
#[derive(Default, Clone)]
struct Discovered {
    active: Vec<String>,
    dropped: Vec<String>,
}

/// What the configuration says about sending.
#[derive(Default)]
struct Settings {
    sets: Vec<Arc<AlertmanagerSet>>,
    external_labels: Labels,
    relabel: Vec<RelabelConfig>,
}

/// The sender: a notifier for the rules, the discovery of Alertmanagers, and a task that posts
/// batches.
pub(crate) struct ExternalAlertmanagers {
    queue: mpsc::Sender<AlertToSend>,
    settings: Arc<RwLock<Settings>>,
    kube: Clusters,
    runtime: tokio::runtime::Handle,
    /// The discovery tasks of the applied configuration, aborted by the next one.
    discovery: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl ExternalAlertmanagers {
    /// Starts the sending task on the current runtime; Kubernetes SD uses the watch caches of
    /// `kube`.
    pub(crate) fn start(kube: Clusters) -> Arc<ExternalAlertmanagers> {
        let (queue, alerts) = mpsc::channel(QUEUE_CAPACITY);
        let settings = Arc::new(RwLock::new(Settings::default()));
        tokio::spawn(send_loop(alerts, settings.clone()));
        Arc::new(ExternalAlertmanagers {
            queue,
            settings,
            kube,
            runtime: tokio::runtime::Handle::current(),
            discovery: Mutex::new(Vec::new()),
        })
    }

    /// Checks that every Alertmanager of `alerting` can be sent to.
    ///
    /// # Errors
    ///
    /// Returns a message naming the Alertmanager config whose client cannot be built.
    pub(crate) fn check(alerting: &AlertingConfig) -> Result<(), String> {
        for (index, config) in alerting.alertmanagers.iter().enumerate() {
            HttpClient::new(&config.http_client(), false)
                .map_err(|error| format!("alerting.alertmanagers[{index}]: {error}"))?;
        }
        Ok(())
    }

    /// Replaces the Alertmanagers and labels alerts are sent with: stops the discovery of the
    /// previous configuration and starts that of `alerting`.
    pub(crate) fn apply(&self, alerting: &AlertingConfig, external_labels: Labels) {
        let _guard = self.runtime.enter();
        let mut discovery = self.discovery.lock();
        for task in discovery.drain(..) {
            task.abort();
        }
        let mut sets = Vec::new();
        for config in &alerting.alertmanagers {
            let Ok(client) = HttpClient::new(&config.http_client(), false) else { continue };
            let set = Arc::new(AlertmanagerSet {
                client,
                timeout: config.timeout,
                relabel: config.alert_relabel_configs.clone(),
                discovered: RwLock::new(Discovered::default()),
            });
            let (updates, mut received) = mpsc::channel::<DiscoveryUpdate>(16);
            discovery.extend(spawn_alertmanager_discovery(config, &updates, &self.kube));
            drop(updates);
            let (config, target) = (config.clone(), set.clone());
            discovery.push(tokio::spawn(async move {
                let mut groups: BTreeMap<usize, Vec<TargetGroup>> = BTreeMap::new();
                while let Some((index, list)) = received.recv().await {
                    groups.insert(index, list);
                    let discovered = alertmanagers_from_groups(&config, groups.values().flatten());
                    tracing::debug!(
                        active = discovered.active.len(),
                        dropped = discovered.dropped.len(),
                        "alertmanagers discovered"
                    );
                    *target.discovered.write() = discovered;
                }
            }));
            sets.push(set);
        }
        *self.settings.write() = Settings { sets, external_labels, relabel: alerting.alert_relabel_configs.clone() };
    }

    /// Returns this sender as the rules' notifier.
    pub(crate) fn notifier(self: &Arc<Self>) -> NotifierRef {
        self.clone()
    }

    /// Returns the URLs of the active and of the dropped Alertmanagers.
    pub(crate) fn alertmanagers(&self) -> (Vec<String>, Vec<String>) {
        let settings = self.settings.read();
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for set in &settings.sets {
            let discovered = set.discovered.read();
            active.extend(discovered.active.iter().cloned());
            dropped.extend(discovered.dropped.iter().cloned());
        }
        (active, dropped)
    }

    /// Returns the `/api/v1/alertmanagers` route (Prometheus' envelope and field names).
    pub(crate) fn routes(self: &Arc<Self>) -> axum::Router {
        let this = self.clone();
        axum::Router::new().route(
            "/api/v1/alertmanagers",
            axum::routing::get(move || {
                let (active, dropped) = this.alertmanagers();
                let urls = |urls: Vec<String>| {
                    urls.into_iter().map(|url| serde_json::json!({ "url": url })).collect::<Vec<_>>()
                };
                async move {
                    axum::Json(serde_json::json!({
                        "status": "success",
                        "data": {"activeAlertmanagers": urls(active), "droppedAlertmanagers": urls(dropped)},
                    }))
                }
            }),
        )
    }
}

impl Notifier for ExternalAlertmanagers {
    fn send(&self, alerts: Vec<AlertToSend>) {
        if self.settings.read().sets.is_empty() {
            return;
        }
        for alert in alerts {
            if self.queue.try_send(alert).is_err() {
                tracing::warn!("alert notification queue full; dropping an alert");
            }
        }
    }
}

/// Turns discovered groups into Alertmanager URLs (Prometheus' `AlertmanagerFromGroup`): each
/// target gets the configured `__scheme__` and `__alerts_path__` and the group's labels it does
/// not have, then `relabel_configs`; a dropped target is listed with its URL from before the
/// relabelling, one whose `__address__` holds a `/` is refused with a warning. URLs are
/// deduplicated.
fn alertmanagers_from_groups<'a>(
    config: &AlertmanagerConfig,
    groups: impl Iterator<Item = &'a TargetGroup>,
) -> Discovered {
    let mut discovered = Discovered::default();
    let path = alerts_path(config);
    for group in groups {
        for target in &group.targets {
            let mut pairs: BTreeMap<&str, &str> = target.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            pairs.entry("__scheme__").or_insert(config.scheme.as_str());
            pairs.entry(ALERTS_PATH_LABEL).or_insert(path.as_str());
            for (name, value) in &group.labels {
                pairs.entry(name.as_str()).or_insert(value.as_str());
            }
            let labels = Labels::from_pairs(pairs);
            let Some(relabelled) = relabel::process(&labels, &config.relabel_configs) else {
                push_unique(&mut discovered.dropped, url_of(&labels));
                continue;
            };
            let address = relabelled.get("__address__").unwrap_or_default();
            if address.is_empty() || address.contains('/') {
                tracing::warn!(address = %address, "discovered Alertmanager address is not a valid host; ignored");
                continue;
            }
            push_unique(&mut discovered.active, url_of(&relabelled));
        }
    }
    discovered
}

fn push_unique(urls: &mut Vec<String>, url: String) {
    if !urls.contains(&url) {
        urls.push(url);
    }
}

/// Returns `__scheme__://__address____alerts_path__`.
fn url_of(labels: &Labels) -> String {
    format!(
        "{}://{}{}",
        labels.get("__scheme__").unwrap_or_default(),
        labels.get("__address__").unwrap_or_default(),
        labels.get(ALERTS_PATH_LABEL).unwrap_or_default()
    )
}

/// Returns `/<path_prefix>/api/v2/alerts` with one `/` between the parts (Go's `path.Join`).
fn alerts_path(config: &AlertmanagerConfig) -> String {
    let prefix = config.path_prefix.trim_matches('/');
    if prefix.is_empty() { "/api/v2/alerts".to_owned() } else { format!("/{prefix}/api/v2/alerts") }
}

/// Renders one alert as Alertmanager's `PostableAlert` JSON, after external labels and
/// relabelling; `None` when relabelling drops it.
fn alert_json(alert: &AlertToSend, settings: &Settings, target_relabel: &[RelabelConfig]) -> Option<serde_json::Value> {
    let mut builder = alert.labels.builder();
    for label in settings.external_labels.iter() {
        if alert.labels.get(&label.name).is_none() {
            builder.set(label.name.clone(), label.value.clone());
        }
    }
    let labels = relabel::process(&builder.build(), &settings.relabel)?;
    let labels = relabel::process(&labels, target_relabel)?;
    let labels: BTreeMap<String, String> =
        labels.iter().map(|label| (label.name.to_string(), label.value.to_string())).collect();
    let mut json = serde_json::json!({
        "labels": labels,
        "annotations": alert.annotations,
        "generatorURL": "",
    });
    if alert.starts_at_ms > 0 {
        json["startsAt"] = panoptes_rules::api::rfc3339(alert.starts_at_ms).into();
    }
    if alert.ends_at_ms > 0 {
        json["endsAt"] = panoptes_rules::api::rfc3339(alert.ends_at_ms).into();
    }
    Some(json)
}

async fn send_loop(mut alerts: mpsc::Receiver<AlertToSend>, settings: Arc<RwLock<Settings>>) {
    while let Some(first) = alerts.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match alerts.try_recv() {
                Ok(alert) => batch.push(alert),
                Err(_) => break,
            }
        }
        let posts: Vec<(Arc<AlertmanagerSet>, String, Vec<u8>)> = {
            let settings = settings.read();
            let mut posts = Vec::new();
            for set in &settings.sets {
                let urls = set.discovered.read().active.clone();
                if urls.is_empty() {
                    continue;
                }
                let alerts: Vec<serde_json::Value> =
                    batch.iter().filter_map(|alert| alert_json(alert, &settings, &set.relabel)).collect();
                let body = serde_json::to_vec(&alerts).unwrap_or_default();
                for url in urls {
                    posts.push((set.clone(), url, body.clone()));
                }
            }
            posts
        };
        for (set, url, body) in posts {
            let request = match set.client.post(&url).await {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(url = %url, error = %error, "cannot send alerts");
                    continue;
                }
            };
            let outcome = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .timeout(set.timeout)
                .send()
                .await;
            match outcome {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    tracing::warn!(url = %url, status = %response.status(), "Alertmanager refused alerts")
                }
                Err(error) => tracing::warn!(url = %url, error = %error, "cannot send alerts"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use panoptes_scrape::discovery::TargetGroup;

    use super::*;

    #[track_caller]
    fn check(alerting_yaml: &str, groups: &[TargetGroup], active: &[&str], dropped: &[&str]) {
        let config = panoptes_scrape::config::parse_str(&format!("alerting:\n{alerting_yaml}"), "test.yml")
            .expect("valid configuration");
        let discovered = alertmanagers_from_groups(&config.alerting.alertmanagers[0], groups.iter());
        assert_eq!(discovered.active, active, "active");
        assert_eq!(discovered.dropped, dropped, "dropped");
    }

    fn group(addresses: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            targets: addresses
                .iter()
                .map(|address| BTreeMap::from([("__address__".to_owned(), (*address).to_owned())]))
                .collect(),
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            source: "0".to_owned(),
        }
    }

    #[test]
    fn discovered_targets_become_alertmanager_urls_as_in_prometheus() {
        let two = [group(&["a:9093", "b:9093", "a:9093"], &[])];
        // Defaults: http, `/api/v2/alerts`, duplicates once.
        check("  alertmanagers:\n  - {}\n", &two, &["http://a:9093/api/v2/alerts", "http://b:9093/api/v2/alerts"], &[]);
        // `path_prefix` joined with one slash whatever its slashes; `scheme`.
        check(
            "  alertmanagers:\n  - {scheme: https, path_prefix: '/am/'}\n",
            &two[..1],
            &["https://a:9093/am/api/v2/alerts", "https://b:9093/am/api/v2/alerts"],
            &[],
        );
        // Relabelling sees the group's labels, may rewrite `__alerts_path__` and drop targets,
        // which are listed with their URL from before relabelling.
        let labelled = [group(&["a:9093"], &[("zone", "east")]), group(&["b:9093"], &[("zone", "west")])];
        check(
            "  alertmanagers:\n  - relabel_configs:\n    - {source_labels: [zone], regex: east, action: keep}\n    - {target_label: __alerts_path__, replacement: /custom}\n",
            &labelled,
            &["http://a:9093/custom"],
            &["http://b:9093/api/v2/alerts"],
        );
        // An address with a path is refused.
        check("  alertmanagers:\n  - {}\n", &[group(&["a:9093/x"], &[])], &[], &[]);
    }
}
