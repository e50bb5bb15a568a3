//! WeCom (企业微信) group robots: `POST …/cgi-bin/webhook/send?key=KEY` with a `markdown` or
//! `text` message. A robot accepts 20 messages a minute; notifications for one robot go
//! through its queue, and when more are waiting than the robot's remaining budget allows, they
//! are merged into as few messages as WeCom's byte limits allow instead of waiting for the
//! budget. errcode 45009 (rate limited) is retried.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::oneshot;

use super::{MessageContext, NotifyError, RateLimiter, check_errcode, post_json, split_bytes};
use crate::config::{HttpClientConfig, WecomConfig};

/// WeCom's limit on `markdown.content`, in bytes.
const MARKDOWN_MAX_BYTES: usize = 4096;
/// WeCom's limit on `text.content`, in bytes.
const TEXT_MAX_BYTES: usize = 2048;
/// WeCom robots accept 20 messages a minute.
const MESSAGES_PER_MINUTE: usize = 20;
/// The window of [`MESSAGES_PER_MINUTE`].
const BUDGET_WINDOW: Duration = Duration::from_secs(60);
/// `api freq out of limit`.
const ERRCODE_RATE_LIMITED: i64 = 45009;
/// What separates two notifications merged into one message.
const MERGE_SEPARATOR: &str = "\n\n";

pub(crate) struct Wecom {
    pub(crate) config: WecomConfig,
    pub(crate) client: reqwest::Client,
    pub(crate) http: HttpClientConfig,
}

/// A notification waiting in a robot's queue and where its result goes.
struct Waiting {
    content: String,
    done: oneshot::Sender<Result<u16, NotifyError>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
}

/// The queues of the WeCom robots, by robot URL, message type and mentions (only messages
/// that would look the same are merged). Shared by all receivers, as the budget is. A queue
/// exists while its sender runs.
#[derive(Default)]
pub(crate) struct RobotQueues {
    queues: Mutex<HashMap<String, Queue>>,
}

/// What the sender of one queue needs, owned so that it outlives the notification that
/// started it.
struct Sender {
    key: String,
    url: String,
    is_markdown: bool,
    config: WecomConfig,
    client: reqwest::Client,
    http: HttpClientConfig,
    limiter: Arc<RateLimiter>,
    queues: Arc<RobotQueues>,
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
        let url = config.url();
        let key = format!("{url}\n{}\n{:?}\n{:?}", config.msgtype, config.mentioned_list, config.mentioned_mobile_list);
        let (done, result) = oneshot::channel();
        let should_start = {
            let mut queues = context.robots.queues.lock();
            let is_running = queues.contains_key(&key);
            queues.entry(key.clone()).or_default().waiting.push(Waiting { content, done });
            !is_running
        };
        if should_start {
            let sender = Sender {
                key,
                url,
                is_markdown,
                config: config.clone(),
                client: self.client.clone(),
                http: self.http.clone(),
                limiter: Arc::clone(context.limiter),
                queues: Arc::clone(context.robots),
            };
            tokio::spawn(sender.run());
        }
        match result.await {
            Ok(Ok(status)) => {
                context.note_status(reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::OK));
                Ok(())
            }
            Ok(Err(error)) => Err(error),
            Err(_) => Err(NotifyError::retry("wecom: the robot's sender stopped")),
        }
    }
}

impl Sender {
    /// Sends what is queued until the queue is empty: waits for one message of budget, takes
    /// everything waiting, and sends each notification as it is when the remaining budget
    /// covers them all, merged otherwise.
    async fn run(self) {
        loop {
            self.limiter.acquire(&self.url, MESSAGES_PER_MINUTE, BUDGET_WINDOW).await;
            let batch = {
                let mut queues = self.queues.queues.lock();
                let Some(queue) = queues.get_mut(&self.key) else { return };
                if queue.waiting.is_empty() {
                    queues.remove(&self.key);
                    return;
                }
                std::mem::take(&mut queue.waiting)
            };
            let limit = if self.is_markdown { MARKDOWN_MAX_BYTES } else { TEXT_MAX_BYTES };
            // The budget taken above plus what is left of it.
            let budget = 1 + self.limiter.available(&self.url, MESSAGES_PER_MINUTE, BUDGET_WINDOW);
            let contents: Vec<&str> = batch.iter().map(|waiting| waiting.content.as_str()).collect();
            let messages = plan_messages(&contents, limit, budget);
            let mut results: Vec<Result<u16, NotifyError>> = vec![Ok(0); batch.len()];
            for (index, (text, members)) in messages.iter().enumerate() {
                if index > 0 {
                    self.limiter.acquire(&self.url, MESSAGES_PER_MINUTE, BUDGET_WINDOW).await;
                }
                let result = self.send(text).await;
                for &member in members {
                    if results[member].is_ok() {
                        results[member] = result.clone();
                    }
                }
            }
            for (waiting, result) in batch.into_iter().zip(results) {
                // The notification may have stopped waiting (its deadline passed).
                let _ = waiting.done.send(result);
            }
            let mut queues = self.queues.queues.lock();
            if queues.get(&self.key).is_none_or(|queue| queue.waiting.is_empty()) {
                queues.remove(&self.key);
                return;
            }
        }
    }

    async fn send(&self, content: &str) -> Result<u16, NotifyError> {
        let config = &self.config;
        let body = if self.is_markdown {
            json!({"msgtype": "markdown", "markdown": {"content": content}})
        } else {
            json!({"msgtype": "text", "text": {
                "content": content,
                "mentioned_list": config.mentioned_list,
                "mentioned_mobile_list": config.mentioned_mobile_list,
            }})
        };
        let (status, text, _) = post_json(&self.client, &self.http, &self.url, &body).await?;
        check_errcode(&text, &[ERRCODE_RATE_LIMITED], "wecom")
            .map_err(|error| NotifyError { status_code: Some(status.as_u16()), ..error })?;
        Ok(status.as_u16())
    }
}

/// Plans the messages for queued notifications: each is split to `limit` bytes; when that
/// makes more messages than `budget`, consecutive pieces are merged (joined by a blank line)
/// into as few messages of at most `limit` bytes as possible, in order. Returns each message
/// with the indices of the notifications it carries.
fn plan_messages(contents: &[&str], limit: usize, budget: usize) -> Vec<(String, Vec<usize>)> {
    let separate: Vec<(String, Vec<usize>)> = contents
        .iter()
        .enumerate()
        .flat_map(|(index, content)| split_bytes(content, limit).into_iter().map(move |piece| (piece, vec![index])))
        .collect();
    if separate.len() <= budget {
        return separate;
    }
    let mut merged: Vec<(String, Vec<usize>)> = Vec::new();
    for (piece, members) in separate {
        match merged.last_mut() {
            Some((text, last_members)) if text.len() + MERGE_SEPARATOR.len() + piece.len() <= limit => {
                text.push_str(MERGE_SEPARATOR);
                text.push_str(&piece);
                for member in members {
                    if !last_members.contains(&member) {
                        last_members.push(member);
                    }
                }
            }
            _ => merged.push((piece, members)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_merged_only_when_the_budget_is_short() {
        let contents = ["a".repeat(1000), "b".repeat(1000), "c".repeat(1000), "d".repeat(5000)];
        let contents: Vec<&str> = contents.iter().map(String::as_str).collect();
        // Five messages (the last notification takes two) fit a budget of five: nothing merges.
        let separate = plan_messages(&contents, 4096, 5);
        assert_eq!(separate.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(), [[0], [1], [2], [3], [3]]);
        // With less budget, consecutive pieces share messages within the byte limit, in order.
        let merged = plan_messages(&contents, 4096, 2);
        assert_eq!(merged.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(), [vec![0, 1, 2], vec![3], vec![3]]);
        assert_eq!(merged[0].0, [contents[0], contents[1], contents[2]].join(MERGE_SEPARATOR));
        assert_eq!(format!("{}{}", merged[1].0, merged[2].0), contents[3]);
        let small: Vec<String> = (0..45).map(|i| format!("alert {i}")).collect();
        let small: Vec<&str> = small.iter().map(String::as_str).collect();
        let merged = plan_messages(&small, 4096, 20);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].1, (0..45).collect::<Vec<_>>());
    }
}
