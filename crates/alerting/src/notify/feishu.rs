//! Feishu / Lark (飞书) bots: `POST …/open-apis/bot/v2/hook/…` with an interactive card, a
//! `post` rich text or plain text. With a secret (签名校验), the body carries `timestamp`
//! (seconds) and `sign` = base64(HMAC-SHA256(key = timestamp + "\n" + secret, empty message)).

use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::json;

use super::{MessageContext, NotifyError, post_json, split_bytes, truncate};
use crate::config::{FeishuConfig, ReceiverClient};

/// Feishu rejects request bodies above 20 KB; keep a margin for the JSON around the text.
const MAX_BYTES: usize = 18_000;
/// `frequency limited`.
const CODE_RATE_LIMITED: i64 = 11_232;

pub(crate) struct Feishu {
    pub(crate) config: FeishuConfig,
    pub(crate) client: ReceiverClient,
}

/// Returns Feishu's signature of `timestamp_secs` with `secret`.
pub(crate) fn feishu_sign(timestamp_secs: i64, secret: &str) -> String {
    let key = format!("{timestamp_secs}\n{secret}");
    let mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).expect("HMAC accepts any key length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

impl Feishu {
    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let config = &self.config;
        let title = context.render(&config.title)?;
        let content = context.render(&config.message)?;
        let is_firing = context.data.status == "firing";
        let url = config.webhook_url.as_ref().map(|url| url.expose().to_owned()).unwrap_or_default();
        for piece in split_bytes(&content, MAX_BYTES) {
            let mut body = match config.msg_type.as_str() {
                "interactive" => json!({"msg_type": "interactive", "card": {
                    "config": {"wide_screen_mode": true},
                    "header": {"title": {"tag": "plain_text", "content": title}, "template": if is_firing { "red" } else { "green" }},
                    "elements": [{"tag": "markdown", "content": piece}],
                }}),
                "post" => {
                    let lines: Vec<serde_json::Value> =
                        piece.lines().map(|line| json!([{"tag": "text", "text": line}])).collect();
                    json!({"msg_type": "post", "content": {"post": {"zh_cn": {"title": title, "content": lines}}}})
                }
                _ => json!({"msg_type": "text", "content": {"text": format!("{title}\n{piece}")}}),
            };
            if let Some(secret) = config.secret.as_ref().filter(|secret| !secret.is_empty()) {
                let timestamp = jiff::Timestamp::now().as_second();
                body["timestamp"] = json!(timestamp.to_string());
                body["sign"] = json!(feishu_sign(timestamp, secret.expose()));
            }
            let (status, text, _) = post_json(&self.client, &url, &body).await?;
            context.note_status(status);
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|_| NotifyError::fatal(format!("feishu: unexpected response {}", truncate(&text))))?;
            let code =
                value.get("code").or_else(|| value.get("StatusCode")).and_then(serde_json::Value::as_i64).unwrap_or(0);
            if code != 0 {
                let message = value.get("msg").and_then(serde_json::Value::as_str).unwrap_or("");
                let error = format!("feishu: code {code}: {message}");
                return Err(if code == CODE_RATE_LIMITED {
                    NotifyError::retry(error)
                } else {
                    NotifyError::fatal(error)
                });
            }
        }
        Ok(())
    }
}
