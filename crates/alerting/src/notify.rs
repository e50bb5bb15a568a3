//! Integrations: one per configured `*_configs` entry of a receiver. Each renders its message
//! from the templates and delivers it; errors say whether a retry may help. Secrets (URLs with
//! keys, robot secrets, passwords) never appear in errors or logs.

mod dingtalk;
mod email;
mod feishu;
mod slack;
mod webhook;
mod wechat;
mod wecom;

pub(crate) use wecom::RobotQueues;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use gotmpl::Value;
use parking_lot::Mutex;
use tokio::time::Instant;

use crate::config::{ReceiverClient, ReceiverConfig};
use crate::template::{TemplateData, Templates};
use crate::types::Alert;

/// Why a delivery failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct NotifyError {
    /// Whether trying again may succeed (network errors, 5xx, rate limits).
    pub(crate) is_retryable: bool,
    /// What happened, without secrets.
    pub(crate) message: String,
    /// The HTTP status of the response, when the failure came with one.
    pub(crate) status_code: Option<u16>,
}

impl NotifyError {
    pub(crate) fn retry(message: impl Into<String>) -> NotifyError {
        NotifyError { is_retryable: true, message: message.into(), status_code: None }
    }

    pub(crate) fn fatal(message: impl Into<String>) -> NotifyError {
        NotifyError { is_retryable: false, message: message.into(), status_code: None }
    }
}

/// Everything an integration needs to build a message.
pub(crate) struct MessageContext<'a> {
    pub(crate) group_key: &'a str,
    pub(crate) receiver: &'a str,
    pub(crate) alerts: &'a [Alert],
    pub(crate) templates: &'a Templates,
    pub(crate) external_url: &'a str,
    pub(crate) data: TemplateData,
    pub(crate) value: Value,
    pub(crate) limiter: &'a std::sync::Arc<RateLimiter>,
    pub(crate) robots: &'a std::sync::Arc<RobotQueues>,
    /// The HTTP status of the last response received, 0 before the first (for the history).
    pub(crate) last_status: std::sync::atomic::AtomicU16,
}

impl MessageContext<'_> {
    /// Notes the HTTP status of a response.
    pub(crate) fn note_status(&self, status: reqwest::StatusCode) {
        self.last_status.store(status.as_u16(), std::sync::atomic::Ordering::Relaxed);
    }

    /// Returns the HTTP status of the last response, if any.
    pub(crate) fn last_status(&self) -> Option<u16> {
        Some(self.last_status.load(std::sync::atomic::Ordering::Relaxed)).filter(|status| *status != 0)
    }

    /// Expands a template of the integration's configuration.
    pub(crate) fn render(&self, text: &str) -> Result<String, NotifyError> {
        self.templates.render(text, &self.value).map_err(|e| NotifyError::fatal(format!("template: {e}")))
    }
}

/// Sliding-window rate limits per robot (WeCom and DingTalk allow 20 messages a minute).
#[derive(Default)]
pub(crate) struct RateLimiter {
    sent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// Returns how many more messages `key` may send now, allowing `limit` per `window`.
    pub(crate) fn available(&self, key: &str, limit: usize, window: Duration) -> usize {
        let sent = self.sent.lock();
        let now = Instant::now();
        let used = sent.get(key).map_or(0, |queue| queue.iter().filter(|at| now.duration_since(**at) < window).count());
        limit.saturating_sub(used)
    }

    /// Waits until `key` may send another message, allowing `limit` per `window`.
    pub(crate) async fn acquire(&self, key: &str, limit: usize, window: Duration) {
        loop {
            let wait = {
                let mut sent = self.sent.lock();
                let queue = sent.entry(key.to_owned()).or_default();
                let now = Instant::now();
                while queue.front().is_some_and(|at| now.duration_since(*at) >= window) {
                    queue.pop_front();
                }
                if queue.len() < limit {
                    queue.push_back(now);
                    return;
                }
                queue.front().map(|first| window.saturating_sub(now.duration_since(*first))).unwrap_or_default()
            };
            tokio::time::sleep(wait).await;
        }
    }
}

/// One configured integration of a receiver.
pub(crate) struct Integration {
    /// `webhook`, `email`, `slack`, `wechat`, `wecom`, `dingtalk` or `feishu`.
    pub(crate) name: &'static str,
    /// The position among the receiver's integrations of the same kind.
    pub(crate) index: usize,
    pub(crate) send_resolved: bool,
    kind: Kind,
}

enum Kind {
    Webhook(webhook::Webhook),
    Email(email::Email),
    Slack(slack::Slack),
    Wechat(wechat::Wechat),
    Wecom(wecom::Wecom),
    Dingtalk(dingtalk::Dingtalk),
    Feishu(feishu::Feishu),
}

impl Integration {
    /// Returns `receiver/integration/index`, the notification log's receiver key.
    pub(crate) fn log_key(&self, receiver: &str) -> String {
        format!("{receiver}/{}/{}", self.name, self.index)
    }

    /// Delivers one notification.
    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        match &self.kind {
            Kind::Webhook(integration) => integration.notify(context).await,
            Kind::Email(integration) => integration.notify(context).await,
            Kind::Slack(integration) => integration.notify(context).await,
            Kind::Wechat(integration) => integration.notify(context).await,
            Kind::Wecom(integration) => integration.notify(context).await,
            Kind::Dingtalk(integration) => integration.notify(context).await,
            Kind::Feishu(integration) => integration.notify(context).await,
        }
    }
}

/// Builds the integrations of a receiver.
///
/// # Errors
///
/// Returns a message when an HTTP client cannot be built (for example an unreadable CA file).
pub(crate) fn build_integrations(receiver: &ReceiverConfig, timeout: Duration) -> Result<Vec<Integration>, String> {
    let client =
        |http: &Option<crate::config::HttpClientConfig>| http.clone().unwrap_or_default().build_client(timeout);
    let mut all = Vec::new();
    for (index, config) in receiver.webhook_configs.iter().enumerate() {
        let client = client(&config.http_config)?;
        all.push(Integration {
            name: "webhook",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Webhook(webhook::Webhook { config: config.clone(), client }),
        });
    }
    for (index, config) in receiver.email_configs.iter().enumerate() {
        all.push(Integration {
            name: "email",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Email(email::Email { config: config.clone(), timeout }),
        });
    }
    for (index, config) in receiver.slack_configs.iter().enumerate() {
        let client = client(&config.http_config)?;
        all.push(Integration {
            name: "slack",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Slack(slack::Slack { config: config.clone(), client }),
        });
    }
    for (index, config) in receiver.wechat_configs.iter().enumerate() {
        let client = client(&config.http_config)?;
        all.push(Integration {
            name: "wechat",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Wechat(wechat::Wechat::new(config.clone(), client)),
        });
    }
    for (index, config) in receiver.wecom_configs.iter().enumerate() {
        let client = client(&config.http_config)?;
        all.push(Integration {
            name: "wecom",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Wecom(wecom::Wecom { config: config.clone(), client }),
        });
    }
    for (index, config) in receiver.dingtalk_configs.iter().enumerate() {
        let client = client(&config.http_config)?;
        all.push(Integration {
            name: "dingtalk",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Dingtalk(dingtalk::Dingtalk { config: config.clone(), client }),
        });
    }
    for (index, config) in receiver.feishu_configs.iter().enumerate() {
        let client = client(&config.http_config)?;
        all.push(Integration {
            name: "feishu",
            index,
            send_resolved: config.send_resolved,
            kind: Kind::Feishu(feishu::Feishu { config: config.clone(), client }),
        });
    }
    Ok(all)
}

/// The most bytes of a response body read for an error message.
const MAX_ERROR_BODY: usize = 1024;

/// Posts a JSON body and returns the response status and (capped) body. Network errors and
/// 5xx/429 answers are retryable; the URL is never part of an error.
pub(crate) async fn post_json(
    client: &ReceiverClient,
    url: &str,
    body: &serde_json::Value,
) -> Result<(reqwest::StatusCode, String, Option<String>), NotifyError> {
    let request = client.request(reqwest::Method::POST, url).await.map_err(NotifyError::fatal)?.json(body);
    let response = request.send().await.map_err(|error| NotifyError::retry(describe_reqwest_error(error)))?;
    read_response(response).await
}

pub(crate) async fn read_response(
    response: reqwest::Response,
) -> Result<(reqwest::StatusCode, String, Option<String>), NotifyError> {
    let status = response.status();
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = response.bytes().await.map_err(|error| NotifyError::retry(describe_reqwest_error(error)))?;
    let body = String::from_utf8_lossy(&bytes[..bytes.len().min(64 * 1024)]).into_owned();
    let message = || format!("unexpected status code {}: {}", status.as_u16(), truncate(&body));
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        return Err(NotifyError { status_code: Some(status.as_u16()), ..NotifyError::retry(message()) });
    }
    if !status.is_success() {
        return Err(NotifyError { status_code: Some(status.as_u16()), ..NotifyError::fatal(message()) });
    }
    Ok((status, body, content_type))
}

/// Describes a client error without its URL (which may hold a robot key).
pub(crate) fn describe_reqwest_error(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

pub(crate) fn truncate(text: &str) -> &str {
    let mut end = text.len().min(MAX_ERROR_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Splits `text` into pieces of at most `max_bytes`, at line boundaries where possible and
/// never inside a UTF-8 character.
pub(crate) fn split_bytes(text: &str, max_bytes: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.len() + line.len() > max_bytes && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        let mut rest = line;
        while rest.len() > max_bytes {
            let mut end = max_bytes;
            while !rest.is_char_boundary(end) {
                end -= 1;
            }
            pieces.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        current.push_str(rest);
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Parses a robot's `{"errcode": N, "errmsg": "..."}` answer (WeCom, DingTalk, WeChat).
pub(crate) fn check_errcode(body: &str, retry_codes: &[i64], what: &str) -> Result<serde_json::Value, NotifyError> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| NotifyError::fatal(format!("{what}: unexpected response {}", truncate(body))))?;
    let code = value.get("errcode").and_then(serde_json::Value::as_i64).unwrap_or(0);
    if code == 0 {
        return Ok(value);
    }
    let message = value.get("errmsg").and_then(serde_json::Value::as_str).unwrap_or("");
    let error = format!("{what}: errcode {code}: {message}");
    if retry_codes.contains(&code) { Err(NotifyError::retry(error)) } else { Err(NotifyError::fatal(error)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_allows_twenty_a_minute_per_robot() {
        let limiter = RateLimiter::default();
        let start = Instant::now();
        for _ in 0..20 {
            limiter.acquire("robot-a", 20, Duration::from_secs(60)).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire("robot-b", 20, Duration::from_secs(60)).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire("robot-a", 20, Duration::from_secs(60)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn errors_never_show_the_url() {
        let client = crate::config::HttpClientConfig::default().build_client(Duration::from_secs(5)).unwrap();
        // Port 9 (discard) is closed on loopback: the connection is refused.
        let error =
            post_json(&client, "http://127.0.0.1:9/send?key=SECRET-KEY", &serde_json::json!({})).await.unwrap_err();
        assert!(error.is_retryable);
        assert!(!error.message.contains("SECRET-KEY"), "{}", error.message);
    }

    #[test]
    fn splits_at_lines_and_characters() {
        assert_eq!(split_bytes("ab\ncd\nef\n", 6), ["ab\ncd\n", "ef\n"]);
        assert_eq!(split_bytes("告警告警", 7), ["告警", "告警"]);
        assert_eq!(split_bytes("", 10), [""]);
    }
}
