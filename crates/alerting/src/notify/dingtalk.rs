//! DingTalk (钉钉) robots: `POST …/robot/send?access_token=…` with a `markdown` or `text`
//! message and mentions. With a secret (加签), the URL carries `timestamp` (ms) and
//! `sign` = urlencode(base64(HMAC-SHA256(key = secret, timestamp + "\n" + secret))).

use std::time::Duration;

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::json;

use super::{MessageContext, NotifyError, check_errcode, post_json, split_bytes};
use crate::config::{DingtalkConfig, ReceiverClient, url_encode};

/// DingTalk rejects markdown above 20000 bytes; keep a margin for the mentions.
const MAX_BYTES: usize = 18_000;
/// DingTalk robots accept 20 messages a minute.
const MESSAGES_PER_MINUTE: usize = 20;
/// `send too fast, exceed 20 times per minute`.
const ERRCODE_RATE_LIMITED: i64 = 130_101;

pub(crate) struct Dingtalk {
    pub(crate) config: DingtalkConfig,
    pub(crate) client: ReceiverClient,
}

/// Returns DingTalk's signature of `timestamp_ms` with `secret`.
pub(crate) fn dingtalk_sign(timestamp_ms: i64, secret: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Dingtalk {
    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let config = &self.config;
        let title = context.render(&config.title)?;
        let mut content = context.render(&config.message_template())?;
        // DingTalk only highlights mentions that also appear in the text as `@mobile`.
        let mentions: Vec<String> =
            config.at_mobiles.iter().chain(&config.at_user_ids).map(|id| format!("@{id}")).collect();
        if !mentions.is_empty() {
            content.push_str("\n\n");
            content.push_str(&mentions.join(" "));
        }
        let at = json!({"atMobiles": config.at_mobiles, "atUserIds": config.at_user_ids, "isAtAll": config.is_at_all});
        let base_url = config.url();
        for piece in split_bytes(&content, MAX_BYTES) {
            let body = if config.msgtype == "markdown" {
                json!({"msgtype": "markdown", "markdown": {"title": title, "text": piece}, "at": at})
            } else {
                json!({"msgtype": "text", "text": {"content": piece}, "at": at})
            };
            context.limiter.acquire(&base_url, MESSAGES_PER_MINUTE, Duration::from_secs(60)).await;
            let url = match &config.secret {
                Some(secret) if !secret.is_empty() => {
                    let timestamp = jiff::Timestamp::now().as_millisecond();
                    let sign = dingtalk_sign(timestamp, secret.expose());
                    let separator = if base_url.contains('?') { '&' } else { '?' };
                    format!("{base_url}{separator}timestamp={timestamp}&sign={}", url_encode(&sign))
                }
                _ => base_url.clone(),
            };
            let (status, text, _) = post_json(&self.client, &url, &body).await?;
            context.note_status(status);
            check_errcode(&text, &[ERRCODE_RATE_LIMITED], "dingtalk")?;
        }
        Ok(())
    }
}
