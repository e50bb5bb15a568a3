//! Pushing the agent's own samples to a remote-write receiver: every interval the collectors
//! run, the page becomes one remote-write request in the on-disk queue, and one sender sends
//! the queue oldest first, deleting a segment once the receiver accepted it and retrying with
//! backoff while it is unreachable or answers 5xx/429.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use panoptes_node::{MetricSet, NodeCollector};
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest, encode_write_request};

use super::queue::{DiskQueue, segments};

/// The remote-write settings of the agent.
pub(crate) struct RemoteWriteOptions {
    /// The receiver, e.g. `http://server:9090/api/v1/write`.
    pub(crate) url: String,
    /// How often samples are collected and queued.
    pub(crate) interval: Duration,
    /// The queue directory.
    pub(crate) queue_dir: std::path::PathBuf,
    /// The most segments kept; older ones are dropped.
    pub(crate) max_segments: usize,
    /// Labels added to every series (`job`, `instance`, ...).
    pub(crate) labels: Vec<(String, String)>,
}

/// Counters shown on the agent's page as `panoptes_agent_remote_write_*`.
#[derive(Debug, Default)]
pub(crate) struct RemoteWriteStats {
    /// Segments the receiver accepted.
    pub(crate) sent_segments: AtomicU64,
    /// Sends that failed and will be retried.
    pub(crate) failed_sends: AtomicU64,
    /// Segments dropped: refused with a 4xx, or deleted because the queue was full.
    pub(crate) dropped_segments: AtomicU64,
    /// Segments waiting in the queue after the last change.
    pub(crate) pending_segments: AtomicU64,
}

impl RemoteWriteStats {
    /// Adds the counters to a page.
    pub(crate) fn add_to(&self, out: &mut MetricSet) {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64;
        out.counter(
            "panoptes_agent_remote_write_sent_segments_total",
            "Queue segments the remote-write receiver accepted.",
            &[],
            load(&self.sent_segments),
        );
        out.counter(
            "panoptes_agent_remote_write_failed_sends_total",
            "Remote-write sends that failed and are retried.",
            &[],
            load(&self.failed_sends),
        );
        out.counter(
            "panoptes_agent_remote_write_dropped_segments_total",
            "Queue segments dropped: refused by the receiver with a 4xx, or deleted because the queue was full.",
            &[],
            load(&self.dropped_segments),
        );
        out.gauge(
            "panoptes_agent_remote_write_pending_segments",
            "Queue segments waiting to be sent.",
            &[],
            load(&self.pending_segments),
        );
    }
}

/// Runs the collect-and-queue loop and the sender until the process ends.
///
/// # Errors
///
/// Returns an error when the queue directory cannot be opened.
pub(crate) fn start(
    options: RemoteWriteOptions,
    collector: Arc<NodeCollector>,
    stats: Arc<RemoteWriteStats>,
) -> anyhow::Result<()> {
    let queue = DiskQueue::open(&options.queue_dir, options.max_segments)
        .map_err(|error| anyhow::anyhow!("cannot open the queue directory {:?}: {error}", options.queue_dir))?;
    let pending = segments(&options.queue_dir).map(|found| found.len()).unwrap_or(0);
    stats.pending_segments.store(pending as u64, Ordering::Relaxed);
    tracing::info!(url = %options.url, queue = %options.queue_dir.display(), pending, "remote write enabled");
    let notify = Arc::new(tokio::sync::Notify::new());
    let options = Arc::new(options);
    tokio::spawn(collect_loop(options.clone(), collector, queue, stats.clone(), notify.clone()));
    tokio::spawn(send_loop(options, stats, notify));
    Ok(())
}

async fn collect_loop(
    options: Arc<RemoteWriteOptions>,
    collector: Arc<NodeCollector>,
    queue: DiskQueue,
    stats: Arc<RemoteWriteStats>,
    notify: Arc<tokio::sync::Notify>,
) {
    let queue = Arc::new(parking_lot::Mutex::new(queue));
    let mut ticker = tokio::time::interval(options.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (collector, queue, options, stats) = (collector.clone(), queue.clone(), options.clone(), stats.clone());
        let result = tokio::task::spawn_blocking(move || {
            let set = collector.gather();
            let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_millis() as i64);
            let body = encode_write_request(&write_request(&set, &options.labels, timestamp));
            let pushed = queue.lock().push(&body)?;
            if pushed.dropped > 0 {
                stats.dropped_segments.fetch_add(pushed.dropped as u64, Ordering::Relaxed);
                tracing::warn!(dropped = pushed.dropped, "remote-write queue full, dropped the oldest segments");
            }
            let pending = segments(&options.queue_dir)?.len();
            stats.pending_segments.store(pending as u64, Ordering::Relaxed);
            std::io::Result::Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => notify.notify_one(),
            Ok(Err(error)) => tracing::error!(error = %error, "cannot queue samples for remote write"),
            Err(error) => tracing::error!(error = %error, "collecting for remote write failed"),
        }
    }
}

/// Builds one request: every sample of the page at `timestamp`, with `labels` added unless the
/// series has a label of that name.
fn write_request(set: &MetricSet, labels: &[(String, String)], timestamp: i64) -> WriteRequest {
    let mut timeseries = Vec::new();
    for family in set.families() {
        for sample in &family.samples {
            let mut pairs: Vec<(&str, &str)> = vec![("__name__", family.name.as_str())];
            pairs.extend(sample.labels.iter().map(|(name, value)| (name.as_str(), value.as_str())));
            for (name, value) in labels {
                if !sample.labels.iter().any(|(existing, _)| existing == name) {
                    pairs.push((name, value));
                }
            }
            pairs.sort_unstable();
            timeseries.push(TimeSeries {
                labels: pairs
                    .into_iter()
                    .filter(|(_, value)| !value.is_empty())
                    .map(|(name, value)| Label { name: name.as_bytes().to_vec(), value: value.as_bytes().to_vec() })
                    .collect(),
                samples: vec![Sample { value: sample.value, timestamp }],
                ..TimeSeries::default()
            });
        }
    }
    WriteRequest { timeseries, ..WriteRequest::default() }
}

async fn send_loop(options: Arc<RemoteWriteOptions>, stats: Arc<RemoteWriteStats>, notify: Arc<tokio::sync::Notify>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(100);
    // A receiver back from an outage is found within a few seconds.
    const MAX_BACKOFF: Duration = Duration::from_secs(5);
    let client = match reqwest::Client::builder().timeout(Duration::from_secs(30)).build() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "cannot build the remote-write client");
            return;
        }
    };
    let mut backoff = MIN_BACKOFF;
    loop {
        let dir = options.queue_dir.clone();
        let oldest = tokio::task::spawn_blocking(move || -> std::io::Result<Option<(std::path::PathBuf, Vec<u8>)>> {
            let Some((_, path)) = segments(&dir)?.into_iter().next() else { return Ok(None) };
            let body = std::fs::read(&path)?;
            Ok(Some((path, body)))
        })
        .await;
        let (path, body) = match oldest {
            Ok(Ok(Some(found))) => found,
            Ok(Ok(None)) => {
                notify.notified().await;
                continue;
            }
            Ok(Err(error)) => {
                tracing::warn!(error = %error, "cannot read the remote-write queue");
                tokio::time::sleep(MAX_BACKOFF).await;
                continue;
            }
            Err(_) => return,
        };
        let response = client
            .post(&options.url)
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .header("User-Agent", concat!("panoptes-agent/", env!("CARGO_PKG_VERSION")))
            .body(body)
            .send()
            .await;
        let delete = match response {
            Ok(response) if response.status().is_success() => {
                stats.sent_segments.fetch_add(1, Ordering::Relaxed);
                backoff = MIN_BACKOFF;
                true
            }
            Ok(response) if response.status().is_client_error() && response.status().as_u16() != 429 => {
                let status = response.status();
                let text = response.text().await.unwrap_or_default();
                tracing::warn!(status = %status, response = %text.trim(), segment = %path.display(), "remote write refused the segment, dropping it");
                stats.dropped_segments.fetch_add(1, Ordering::Relaxed);
                true
            }
            failure => {
                let reason = match failure {
                    Ok(response) => format!("status {}", response.status()),
                    Err(error) => error.to_string(),
                };
                stats.failed_sends.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %reason, retry_in = ?backoff, "remote write failed, will retry");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                false
            }
        };
        if delete {
            let dir = options.queue_dir.clone();
            let removed = tokio::task::spawn_blocking(move || {
                std::fs::remove_file(&path)?;
                segments(&dir).map(|found| found.len())
            })
            .await;
            match removed {
                Ok(Ok(pending)) => stats.pending_segments.store(pending as u64, Ordering::Relaxed),
                Ok(Err(error)) => {
                    tracing::error!(error = %error, "cannot delete a sent segment");
                    tokio::time::sleep(MAX_BACKOFF).await;
                }
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_every_sample_with_added_labels() {
        let mut set = MetricSet::new();
        set.gauge("node_load1", "1m load average.", &[], 0.5);
        set.gauge("node_disk_info", "Info.", &[("device", "vda"), ("model", ""), ("job", "own")], 1.0);
        let labels = vec![("job".to_owned(), "node".to_owned()), ("instance".to_owned(), "host".to_owned())];
        let request = write_request(&set, &labels, 1234);
        let render = |series: &TimeSeries| -> Vec<String> {
            series
                .labels
                .iter()
                .map(|label| {
                    format!("{}={}", String::from_utf8_lossy(&label.name), String::from_utf8_lossy(&label.value))
                })
                .collect()
        };
        assert_eq!(render(&request.timeseries[0]), ["__name__=node_load1", "instance=host", "job=node"]);
        assert_eq!(
            render(&request.timeseries[1]),
            ["__name__=node_disk_info", "device=vda", "instance=host", "job=own"]
        );
        assert_eq!(request.timeseries[0].samples, [Sample { value: 0.5, timestamp: 1234 }]);
    }
}
