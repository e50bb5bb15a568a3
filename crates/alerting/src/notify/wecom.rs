//! WeCom (企业微信) group robots: `POST …/cgi-bin/webhook/send?key=KEY` with a `markdown` or
//! `text` message. A robot accepts 20 messages a minute; notifications for one robot go
//! through its queue, and when more are waiting than the robot's remaining budget allows, they
//! are merged into as few messages as WeCom's byte limits allow instead of waiting for the
//! budget. errcode 45009 (rate limited) is retried.
//!
//! A notification longer than a message is sent as several parts. Each part has its own
//! result, and the parts a robot accepted are remembered (by hashes of the group, receiver,
//! robot and the notification's content) until the whole notification got through, also across
//! restarts (`wecom-parts.json`), so a retry, also one by a later flush or after a restart,
//! sends only the parts that failed: every part arrives once.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::oneshot;

use super::{MessageContext, NotifyError, RateLimiter, check_errcode, post_json, split_bytes};
use crate::config::{ReceiverClient, WecomConfig};

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
    pub(crate) client: ReceiverClient,
}

/// How long the parts delivered of a notification that never got through whole are
/// remembered: a retry comes at the latest with the group's next flush (`group_interval`).
const DELIVERED_PARTS_TTL: Duration = Duration::from_secs(24 * 3600);
/// The most notifications whose delivered parts are remembered; the oldest are forgotten.
const MAX_DELIVERED_PARTS: usize = 10_000;

/// One part of a notification waiting in a robot's queue and where its result goes.
struct Waiting {
    content: String,
    /// Identifies the notification (see [`RobotQueues::delivered`]).
    notification: Arc<str>,
    /// The index of this part among the notification's parts.
    part: usize,
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
    /// The parts each not yet wholly delivered notification got through, with when the last
    /// one did.
    delivered: Mutex<HashMap<Arc<str>, DeliveredParts>>,
    /// Where `delivered` is saved (`wecom-parts.json`), so that a restart does not send
    /// delivered parts again either.
    path: Option<PathBuf>,
    /// Serializes saves; each writes the state as it is when it runs.
    save_lock: Mutex<()>,
}

/// The parts of a notification a robot accepted, and when it last accepted one.
type DeliveredParts = (BTreeSet<usize>, Timestamp);

/// One entry of `wecom-parts.json` (`docs/format/alerting.md`).
#[derive(Serialize, Deserialize)]
struct PartsEntry {
    /// Hashes of the group, receiver, robot and content; never the robot's URL (it holds the
    /// robot's key).
    notification: String,
    parts: Vec<usize>,
    updated_at: Timestamp,
}

impl RobotQueues {
    /// Opens the queues with the delivered parts saved at `path` (none when it is missing).
    ///
    /// # Errors
    ///
    /// Returns the error of a file that cannot be read or decoded.
    pub(crate) fn open(path: PathBuf) -> crate::error::Result<RobotQueues> {
        let entries: Vec<PartsEntry> = crate::persist::read_entries(&path)?;
        let delivered = entries
            .into_iter()
            .map(|entry| (Arc::from(entry.notification), (entry.parts.into_iter().collect(), entry.updated_at)))
            .collect();
        Ok(RobotQueues { delivered: Mutex::new(delivered), path: Some(path), ..RobotQueues::default() })
    }

    /// Returns the parts of `notification` a robot already accepted.
    fn delivered_parts(&self, notification: &str) -> BTreeSet<usize> {
        self.delivered.lock().get(notification).map(|(parts, _)| parts.clone()).unwrap_or_default()
    }

    /// Remembers that a robot accepted `part` of `notification`.
    fn mark_delivered(self: &Arc<Self>, notification: &Arc<str>, part: usize) {
        let now = Timestamp::now();
        {
            let mut delivered = self.delivered.lock();
            let ttl = jiff::SignedDuration::try_from(DELIVERED_PARTS_TTL).unwrap_or_default();
            delivered.retain(|_, (_, at)| now.duration_since(*at) < ttl);
            if delivered.len() >= MAX_DELIVERED_PARTS
                && !delivered.contains_key(notification)
                && let Some(oldest) = delivered.iter().min_by_key(|(_, (_, at))| *at).map(|(key, _)| Arc::clone(key))
            {
                delivered.remove(&oldest);
            }
            let entry = delivered.entry(Arc::clone(notification)).or_insert_with(|| (BTreeSet::new(), now));
            entry.0.insert(part);
            entry.1 = now;
        }
        self.save_in_background();
    }

    /// Forgets the parts of a notification that got through whole.
    fn forget(self: &Arc<Self>, notification: &str) {
        if self.delivered.lock().remove(notification).is_some() {
            self.save_in_background();
        }
    }

    /// Saves the delivered parts on a blocking thread (saving syncs a file). Failures are
    /// logged: at worst a restart sends delivered parts again.
    fn save_in_background(self: &Arc<Self>) {
        if self.path.is_none() {
            return;
        }
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let Some(path) = &this.path else { return };
            let _saving = this.save_lock.lock();
            let mut entries: Vec<PartsEntry> = this
                .delivered
                .lock()
                .iter()
                .map(|(notification, (parts, at))| PartsEntry {
                    notification: notification.to_string(),
                    parts: parts.iter().copied().collect(),
                    updated_at: *at,
                })
                .collect();
            entries.sort_by(|a, b| a.notification.cmp(&b.notification));
            if let Err(error) = crate::persist::write_entries(path, &entries) {
                tracing::error!(error = %error, "cannot save the delivered parts of WeCom notifications");
            }
        });
    }
}

/// FNV-1a of a notification's content (or destination), to tell notifications apart across
/// retries and restarts.
fn content_hash(content: &str) -> u64 {
    content
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// What the sender of one queue needs, owned so that it outlives the notification that
/// started it.
struct Sender {
    key: String,
    url: String,
    is_markdown: bool,
    config: WecomConfig,
    client: ReceiverClient,
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
        let limit = if is_markdown { MARKDOWN_MAX_BYTES } else { TEXT_MAX_BYTES };
        let destination = format!("{}\n{}\n{key}", context.group_key, context.receiver);
        let notification: Arc<str> =
            format!("{:016x}-{:016x}", content_hash(&destination), content_hash(&content)).into();
        let delivered = context.robots.delivered_parts(&notification);
        let mut results = Vec::new();
        let should_start = {
            let mut queues = context.robots.queues.lock();
            let is_running = queues.contains_key(&key);
            let queue = queues.entry(key.clone()).or_default();
            for (part, piece) in split_bytes(&content, limit).into_iter().enumerate() {
                if delivered.contains(&part) {
                    continue;
                }
                let (done, result) = oneshot::channel();
                queue.waiting.push(Waiting { content: piece, notification: Arc::clone(&notification), part, done });
                results.push(result);
            }
            if !is_running && queue.waiting.is_empty() {
                queues.remove(&key);
            }
            !is_running && !results.is_empty()
        };
        if should_start {
            let sender = Sender {
                key,
                url,
                is_markdown,
                config: config.clone(),
                client: self.client.clone(),
                limiter: Arc::clone(context.limiter),
                queues: Arc::clone(context.robots),
            };
            tokio::spawn(sender.run());
        }
        let mut first_error = None;
        for result in results {
            match result.await {
                Ok(Ok(status)) => {
                    context.note_status(reqwest::StatusCode::from_u16(status).unwrap_or(reqwest::StatusCode::OK));
                }
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(_) => {
                    first_error.get_or_insert(NotifyError::retry("wecom: the robot's sender stopped"));
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => {
                context.robots.forget(&notification);
                Ok(())
            }
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
                if result.is_ok() {
                    // Remembered here, not by the waiting notification, which may have given up.
                    for &member in members {
                        self.queues.mark_delivered(&batch[member].notification, batch[member].part);
                    }
                }
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
        let (status, text, _) = post_json(&self.client, &self.url, &body).await?;
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
