//! Sending the rules' alerts to external Alertmanagers (`alerting.alertmanagers`), as
//! Prometheus' notifier does: a bounded queue (oldest alerts dropped when full, counted in the
//! log), batches of up to 64 alerts `POST`ed as JSON to `/api/v2/alerts` of every configured
//! Alertmanager, external labels added to every alert and `alert_relabel_configs` applied.
//!
//! Only static targets are supported for now; other discovery mechanisms in an Alertmanager
//! config are logged and ignored.

use std::collections::BTreeMap;
use std::sync::Arc;

use panoptes_model::Labels;
use panoptes_rules::{AlertToSend, Notifier, NotifierRef};
use panoptes_scrape::client::HttpClient;
use panoptes_scrape::config::{AlertingConfig, AlertmanagerConfig};
use panoptes_scrape::relabel::{self, RelabelConfig};
use parking_lot::RwLock;
use tokio::sync::mpsc;

/// Alerts waiting to be sent (Prometheus' `--alertmanager.notification-queue-capacity`).
const QUEUE_CAPACITY: usize = 10_000;
/// The most alerts in one request.
const MAX_BATCH: usize = 64;

/// One Alertmanager to send to.
struct Target {
    url: String,
    client: HttpClient,
    timeout: std::time::Duration,
    relabel: Vec<RelabelConfig>,
}

/// What the configuration says about sending.
#[derive(Default)]
struct Settings {
    targets: Vec<Arc<Target>>,
    external_labels: Labels,
    relabel: Vec<RelabelConfig>,
}

/// The sender: a notifier for the rules, and a task that posts batches.
pub(crate) struct ExternalAlertmanagers {
    queue: mpsc::Sender<AlertToSend>,
    settings: Arc<RwLock<Settings>>,
}

impl ExternalAlertmanagers {
    /// Starts the sending task on the current runtime.
    pub(crate) fn start() -> Arc<ExternalAlertmanagers> {
        let (queue, alerts) = mpsc::channel(QUEUE_CAPACITY);
        let settings = Arc::new(RwLock::new(Settings::default()));
        tokio::spawn(send_loop(alerts, settings.clone()));
        Arc::new(ExternalAlertmanagers { queue, settings })
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

    /// Replaces the Alertmanagers and labels alerts are sent with.
    pub(crate) fn apply(&self, alerting: &AlertingConfig, external_labels: Labels) {
        let mut targets = Vec::new();
        for config in &alerting.alertmanagers {
            if !config.file_sd_configs.is_empty()
                || !config.http_sd_configs.is_empty()
                || !config.dns_sd_configs.is_empty()
                || !config.kubernetes_sd_configs.is_empty()
            {
                tracing::warn!("only static_configs are supported for Alertmanagers yet; other discovery is ignored");
            }
            let Ok(client) = HttpClient::new(&config.http_client(), false) else { continue };
            for address in config.static_configs.iter().flat_map(|group| group.targets.iter()) {
                targets.push(Arc::new(Target {
                    url: alerts_url(config, address),
                    client: client.clone(),
                    timeout: config.timeout,
                    relabel: config.alert_relabel_configs.clone(),
                }));
            }
        }
        *self.settings.write() = Settings { targets, external_labels, relabel: alerting.alert_relabel_configs.clone() };
    }

    /// Returns this sender as the rules' notifier.
    pub(crate) fn notifier(self: &Arc<Self>) -> NotifierRef {
        self.clone()
    }
}

impl Notifier for ExternalAlertmanagers {
    fn send(&self, alerts: Vec<AlertToSend>) {
        if self.settings.read().targets.is_empty() {
            return;
        }
        for alert in alerts {
            if self.queue.try_send(alert).is_err() {
                tracing::warn!("alert notification queue full; dropping an alert");
            }
        }
    }
}

/// Returns `scheme://address/path_prefix/api/v2/alerts`.
fn alerts_url(config: &AlertmanagerConfig, address: &str) -> String {
    let prefix = config.path_prefix.trim_end_matches('/');
    format!("{}://{address}{prefix}/api/v2/alerts", config.scheme)
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
        let (targets, bodies) = {
            let settings = settings.read();
            let bodies: Vec<Vec<u8>> = settings
                .targets
                .iter()
                .map(|target| {
                    let alerts: Vec<serde_json::Value> =
                        batch.iter().filter_map(|alert| alert_json(alert, &settings, &target.relabel)).collect();
                    serde_json::to_vec(&alerts).unwrap_or_default()
                })
                .collect();
            (settings.targets.clone(), bodies)
        };
        for (target, body) in targets.iter().zip(bodies) {
            let request = match target.client.post(&target.url) {
                Ok(request) => request,
                Err(error) => {
                    tracing::warn!(url = %target.url, error = %error, "cannot send alerts");
                    continue;
                }
            };
            let outcome = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .timeout(target.timeout)
                .send()
                .await;
            match outcome {
                Ok(response) if response.status().is_success() => {}
                Ok(response) => {
                    tracing::warn!(url = %target.url, status = %response.status(), "Alertmanager refused alerts")
                }
                Err(error) => tracing::warn!(url = %target.url, error = %error, "cannot send alerts"),
            }
        }
    }
}
