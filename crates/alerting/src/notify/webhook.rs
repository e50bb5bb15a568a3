//! The generic webhook: Alertmanager's webhook JSON, version 4.

use serde_json::json;

use super::{MessageContext, NotifyError, post_json};
use crate::config::{ReceiverClient, WebhookConfig};
use crate::types::{Alert, fingerprint_string};

pub(crate) struct Webhook {
    pub(crate) config: WebhookConfig,
    pub(crate) client: ReceiverClient,
}

/// Formats a time as Go's JSON encoding of `time.Time` (RFC 3339 with nanoseconds).
pub(crate) fn json_time(timestamp: jiff::Timestamp) -> String {
    timestamp.to_string()
}

/// The zero time, which Alertmanager sends as `endsAt` of firing alerts.
pub(crate) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub(crate) fn alert_json(alert: &Alert, now: jiff::Timestamp) -> serde_json::Value {
    let is_resolved = alert.is_resolved_at(now);
    json!({
        "status": if is_resolved { "resolved" } else { "firing" },
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": json_time(alert.starts_at),
        "endsAt": if is_resolved { json_time(alert.ends_at) } else { ZERO_TIME.to_owned() },
        "generatorURL": alert.generator_url,
        "fingerprint": fingerprint_string(alert.fingerprint()),
    })
}

impl Webhook {
    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let url = match (&self.config.url, &self.config.url_file) {
            (Some(url), _) => url.expose().to_owned(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| text.trim().to_owned())
                .map_err(|e| NotifyError::fatal(format!("cannot read url_file: {e}")))?,
            (None, None) => return Err(NotifyError::fatal("no webhook URL")),
        };
        let max = usize::try_from(self.config.max_alerts).unwrap_or(usize::MAX);
        let alerts = if max > 0 && context.alerts.len() > max { &context.alerts[..max] } else { context.alerts };
        let truncated = context.alerts.len() - alerts.len();
        let data = &context.data;
        let body = json!({
            "receiver": context.receiver,
            "status": data.status,
            "alerts": alerts.iter().map(|alert| alert_json(alert, data.now)).collect::<Vec<_>>(),
            "groupLabels": data.group_labels,
            "commonLabels": data.common_labels,
            "commonAnnotations": data.common_annotations,
            "externalURL": context.external_url,
            "version": "4",
            "groupKey": context.group_key,
            "truncatedAlerts": truncated,
        });
        let (status, _, _) = post_json(&self.client, &url, &body).await?;
        context.note_status(status);
        Ok(())
    }
}
