//! Slack: an attachment message to an incoming webhook or `chat.postMessage`.

use serde_json::json;

use super::{MessageContext, NotifyError, post_json, truncate};
use crate::config::{ReceiverClient, SlackConfig};

pub(crate) struct Slack {
    pub(crate) config: SlackConfig,
    pub(crate) client: ReceiverClient,
}

impl Slack {
    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let config = &self.config;
        let url = match (&config.api_url, &config.api_url_file) {
            (Some(url), _) => url.expose().to_owned(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .map(|text| text.trim().to_owned())
                .map_err(|e| NotifyError::fatal(format!("cannot read api_url_file: {e}")))?,
            (None, None) => return Err(NotifyError::fatal("no Slack API URL")),
        };
        let mut fields = Vec::new();
        for field in &config.fields {
            fields.push(json!({
                "title": context.render(&field.title)?,
                "value": context.render(&field.value)?,
                "short": field.short.unwrap_or(config.short_fields),
            }));
        }
        let mut attachment = json!({
            "title": context.render(&config.title)?,
            "title_link": context.render(&config.title_link)?,
            "pretext": context.render(&config.pretext)?,
            "text": context.render(&config.text)?,
            "fallback": context.render(&config.fallback)?,
            "callback_id": context.render(&config.callback_id)?,
            "color": context.render(&config.color)?,
            "footer": context.render(&config.footer)?,
            "mrkdwn_in": if config.mrkdwn_in.is_empty() { vec!["fallback".to_owned(), "pretext".to_owned(), "text".to_owned()] } else { config.mrkdwn_in.clone() },
        });
        if !fields.is_empty() {
            attachment["fields"] = json!(fields);
        }
        if !config.image_url.is_empty() {
            attachment["image_url"] = json!(context.render(&config.image_url)?);
        }
        if !config.thumb_url.is_empty() {
            attachment["thumb_url"] = json!(context.render(&config.thumb_url)?);
        }
        let mut body = json!({
            "channel": context.render(&config.channel)?,
            "username": context.render(&config.username)?,
            "attachments": [attachment],
        });
        if !config.icon_emoji.is_empty() {
            body["icon_emoji"] = json!(context.render(&config.icon_emoji)?);
        }
        if !config.icon_url.is_empty() {
            body["icon_url"] = json!(context.render(&config.icon_url)?);
        }
        if config.link_names {
            body["link_names"] = json!(true);
        }
        let (status, text, content_type) = post_json(&self.client, &url, &body).await?;
        context.note_status(status);
        // Incoming webhooks answer `ok` as text; the Web API answers JSON with `ok: true`.
        if content_type.as_deref().is_some_and(|t| t.starts_with("application/json")) {
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|_| NotifyError::fatal(format!("slack: unexpected response {}", truncate(&text))))?;
            if value.get("ok").and_then(serde_json::Value::as_bool) != Some(true) {
                let error = value.get("error").and_then(serde_json::Value::as_str).unwrap_or("unknown");
                return Err(NotifyError::fatal(format!("slack: error response from Slack: {error}")));
            }
        } else if text.trim() != "ok" && !text.trim().is_empty() {
            return Err(NotifyError::fatal(format!("slack: unexpected response {}", truncate(&text))));
        }
        Ok(())
    }
}
