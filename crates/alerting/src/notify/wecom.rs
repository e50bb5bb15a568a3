//! WeCom (企业微信) group robots: `POST …/cgi-bin/webhook/send?key=KEY` with a `markdown` or
//! `text` message. Long messages are split to WeCom's byte limits, sends are limited to 20 a
//! minute per robot, and errcode 45009 (rate limited) is retried.

use std::time::Duration;

use serde_json::json;

use super::{MessageContext, NotifyError, check_errcode, post_json, split_bytes};
use crate::config::{HttpClientConfig, WecomConfig};

/// WeCom's limit on `markdown.content`, in bytes.
const MARKDOWN_MAX_BYTES: usize = 4096;
/// WeCom's limit on `text.content`, in bytes.
const TEXT_MAX_BYTES: usize = 2048;
/// WeCom robots accept 20 messages a minute.
const MESSAGES_PER_MINUTE: usize = 20;
/// `api freq out of limit`.
const ERRCODE_RATE_LIMITED: i64 = 45009;

pub(crate) struct Wecom {
    pub(crate) config: WecomConfig,
    pub(crate) client: reqwest::Client,
    pub(crate) http: HttpClientConfig,
}

impl Wecom {
    pub(crate) async fn notify(&self, context: &MessageContext<'_>) -> Result<(), NotifyError> {
        let config = &self.config;
        let mut content = context.render(&config.message_template())?;
        let is_markdown = config.msgtype == "markdown";
        if is_markdown {
            // Markdown messages have no mention fields; WeCom renders `<@userid>` instead.
            let mentions: Vec<String> = config.mentioned_list.iter().map(|id| format!("<@{id}>")).collect();
            if !mentions.is_empty() {
                content.push('\n');
                content.push_str(&mentions.join(" "));
            }
        }
        let limit = if is_markdown { MARKDOWN_MAX_BYTES } else { TEXT_MAX_BYTES };
        let url = config.url();
        for piece in split_bytes(&content, limit) {
            let body = if is_markdown {
                json!({"msgtype": "markdown", "markdown": {"content": piece}})
            } else {
                json!({"msgtype": "text", "text": {
                    "content": piece,
                    "mentioned_list": config.mentioned_list,
                    "mentioned_mobile_list": config.mentioned_mobile_list,
                }})
            };
            context.limiter.acquire(&url, MESSAGES_PER_MINUTE, Duration::from_secs(60)).await;
            let (status, text, _) = post_json(&self.client, &self.http, &url, &body).await?;
            context.note_status(status);
            check_errcode(&text, &[ERRCODE_RATE_LIMITED], "wecom")?;
        }
        Ok(())
    }
}
