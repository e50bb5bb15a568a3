//! One remote-write queue: a thread that tails the WAL, gathers samples into rounds, sends each
//! round over its shards, and saves the WAL position once the receiver accepted all of it.
//!
//! Rounds are lockstep: a round ends when it holds `shards × capacity` samples or its oldest
//! sample has waited `batch_send_deadline`; its samples are spread over the shards by series, so
//! each series' samples go out in order; each shard sends its part in batches of
//! `max_samples_per_send`, retrying recoverable failures with exponential backoff; only when
//! every shard is done is the position after the round saved and the WAL hold moved. A crash
//! or a stop in the middle of a round thus resends the round (at least once), never skips it.

use std::collections::HashMap;
use std::hash::{Hash as _, Hasher as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use panoptes_model::Labels;
use panoptes_scrape::client::HttpClient;
use panoptes_scrape::config::QueueConfig;
use panoptes_scrape::relabel::{self, RelabelConfig};
use panoptes_tsdb::wal::{Record, SeriesId, Tail, WalHold, WalPosition};
use prost::Message as _;
use reqwest::header::{HeaderMap, HeaderValue};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::metrics::{DropLabels, QueueLabels, RemoteMetrics};
use crate::position::save_position;
use crate::prompb::{Label, Sample, TimeSeries, WriteRequest};

/// How often an idle queue looks for new WAL records.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How much of an error response's body goes into the log.
const MAX_ERROR_BODY_BYTES: usize = 512;

/// Everything one queue needs, resolved from its `remote_write` entry.
pub(crate) struct QueueSettings {
    /// Metric labels: name and credential-free URL.
    pub(crate) labels: QueueLabels,
    pub(crate) url: String,
    /// Where the position file lives.
    pub(crate) dir: PathBuf,
    pub(crate) queue: QueueConfig,
    pub(crate) timeout: Duration,
    pub(crate) external_labels: Labels,
    pub(crate) relabel: Vec<RelabelConfig>,
    /// The entry's `headers`.
    pub(crate) headers: HeaderMap,
    pub(crate) client: HttpClient,
}

/// When the queue must stop: `None` while running; `Some(deadline)` once asked to stop, the
/// deadline bounding how long it may still try to send what it has read.
type StopSignal = Option<Instant>;

/// A running queue; stopping it joins its thread.
pub(crate) struct Queue {
    stop: watch::Sender<StopSignal>,
    thread: Option<std::thread::JoinHandle<()>>,
    labels: QueueLabels,
    metrics: RemoteMetrics,
}

impl Queue {
    /// Starts the queue's thread reading the WAL in `wal_dir` from `start`.
    pub(crate) fn start(
        settings: QueueSettings,
        wal_dir: PathBuf,
        start: WalPosition,
        hold: Option<WalHold>,
        metrics: RemoteMetrics,
        runtime: tokio::runtime::Handle,
    ) -> std::io::Result<Queue> {
        let (stop, stopped) = watch::channel(None);
        let labels = settings.labels.clone();
        let runner = Runner {
            tail: Tail::new(&wal_dir, start),
            series: HashMap::new(),
            shards: settings.queue.min_shards.max(1) as usize,
            saved: start,
            pruned_at_checkpoint: None,
            prune_checked_segment: None,
            settings: Arc::new(settings),
            hold,
            metrics: metrics.clone(),
            runtime,
            stopped,
        };
        let thread = std::thread::Builder::new()
            .name(format!("remote-write-{}", labels.remote_name))
            .spawn(move || runner.run())?;
        Ok(Queue { stop, thread: Some(thread), labels, metrics })
    }

    /// Asks the queue to stop, letting it send what it has read for at most `flush`, and waits.
    pub(crate) fn stop(mut self, flush: Duration) {
        let _ = self.stop.send(Some(Instant::now() + flush));
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!(remote_name = %self.labels.remote_name, "remote-write queue thread panicked");
        }
        self.metrics.remove(&self.labels);
    }
}

/// A sample ready to send: its series' final labels and the sample.
type Pending = (Arc<[Label]>, Sample);

/// A known series: the segment where it was last defined, and its final labels (`None` when
/// relabelling dropped it).
type KnownSeries = (u32, Option<Arc<[Label]>>);

/// The outcome of sending a batch.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    /// The receiver accepted it.
    Accepted,
    /// The receiver refused it for good; dropped and counted.
    Refused,
    /// The queue was stopped before it got through.
    Stopped,
}

struct Runner {
    settings: Arc<QueueSettings>,
    tail: Tail,
    /// Series id to the segment where it was last defined and its final labels (`None` when
    /// relabelling dropped the series).
    series: HashMap<SeriesId, KnownSeries>,
    /// The newest checkpoint whose series the map was pruned to.
    pruned_at_checkpoint: Option<u32>,
    /// The tail's segment when pruning was last considered: checkpoints come with new segments.
    prune_checked_segment: Option<u32>,
    shards: usize,
    /// The position last saved.
    saved: WalPosition,
    hold: Option<WalHold>,
    metrics: RemoteMetrics,
    runtime: tokio::runtime::Handle,
    stopped: watch::Receiver<StopSignal>,
}

impl Runner {
    fn run(mut self) {
        let labels = self.settings.labels.clone();
        let queue = self.settings.queue.clone();
        self.metrics.shards_min.get_or_create(&labels).set(queue.min_shards as i64);
        self.metrics.shards_max.get_or_create(&labels).set(queue.max_shards as i64);
        self.metrics.shard_capacity.get_or_create(&labels).set(queue.capacity as i64);
        let mut series = std::mem::take(&mut self.series);
        let settings = self.settings.clone();
        let segment = self.tail.position().segment;
        if let Err(error) = self.tail.read_series_before(&mut |id, labels| {
            series.insert(id, (segment, final_labels(&settings, &labels)));
        }) {
            error!(remote_name = %labels.remote_name, error = %error, "cannot read series before the queue's wal position; their samples will be dropped");
        }
        self.series = series;
        info!(remote_name = %labels.remote_name, url = %labels.url, segment = self.tail.position().segment, offset = self.tail.position().offset, "remote-write queue started");
        let mut losses = self.tail.losses();
        loop {
            let (round, is_full) = self.gather_round();
            let current = self.tail.losses();
            self.metrics.wal_damaged_bytes.get_or_create(&labels).inc_by(current.damaged_bytes - losses.damaged_bytes);
            self.metrics
                .wal_missing_segments
                .get_or_create(&labels)
                .inc_by(current.missing_segments - losses.missing_segments);
            losses = current;
            let samples: usize = round.iter().map(Vec::len).sum();
            let is_stopping = self.stopped.borrow().is_some();
            if samples > 0 {
                self.metrics.samples_pending.get_or_create(&labels).set(samples as i64);
                let highest = round.iter().flatten().map(|(_, s)| s.timestamp).max();
                let all_sent = self.runtime.block_on(send_round(
                    self.settings.clone(),
                    round,
                    self.metrics.clone(),
                    self.stopped.clone(),
                ));
                self.metrics.samples_pending.get_or_create(&labels).set(0);
                if !all_sent {
                    info!(remote_name = %labels.remote_name, samples, "remote-write queue stopped with samples unsent; they are sent again after the restart");
                    return;
                }
                if let Some(highest) = highest {
                    let gauge = self.metrics.highest_sent_timestamp.get_or_create(&labels);
                    gauge.set(gauge.get().max(highest as f64 / 1000.0));
                }
            }
            self.commit();
            if is_stopping {
                info!(remote_name = %labels.remote_name, "remote-write queue stopped");
                return;
            }
            self.reshard(is_full, samples);
            self.prune_series();
        }
    }

    /// Forgets the series that the newest checkpoint dropped, once the tail is past it, so the
    /// map follows the head's churn instead of growing forever.
    fn prune_series(&mut self) {
        let segment = self.tail.position().segment;
        if self.prune_checked_segment == Some(segment) {
            return;
        }
        self.prune_checked_segment = Some(segment);
        match self.tail.newest_checkpoint_series(self.pruned_at_checkpoint) {
            Ok(Some((checkpoint, alive))) if segment > checkpoint => {
                let before = self.series.len();
                self.series.retain(|id, (defined_in, _)| *defined_in > checkpoint || alive.contains(id));
                self.pruned_at_checkpoint = Some(checkpoint);
                if self.series.len() < before {
                    info!(remote_name = %self.settings.labels.remote_name, checkpoint, removed = before - self.series.len(), "remote-write queue forgot series gone from the head");
                }
            }
            Ok(_) => {}
            Err(error) => {
                warn!(remote_name = %self.settings.labels.remote_name, error = %error, "cannot read the wal checkpoint's series; keeping every series");
            }
        }
    }

    /// Saves the position after everything read so far and lets the WAL drop what is before it.
    fn commit(&mut self) {
        let position = self.tail.position();
        if position == self.saved {
            return;
        }
        self.saved = position;
        if let Err(error) = save_position(&self.settings.dir, position) {
            error!(remote_name = %self.settings.labels.remote_name, error = %error, "cannot save remote-write position; samples may be sent again after a restart");
        }
        if let Some(hold) = &self.hold {
            hold.set_needed_from(position.segment);
        }
    }

    /// Doubles the shards after a full round (the receiver is behind), and halves them toward
    /// `min_shards` after a round that filled less than half of one batch per shard.
    fn reshard(&mut self, was_full: bool, samples: usize) {
        let queue = &self.settings.queue;
        let (min, max) = (queue.min_shards.max(1) as usize, queue.max_shards.max(queue.min_shards).max(1) as usize);
        let per_send = queue.max_samples_per_send.max(1) as usize;
        let desired = if was_full {
            (self.shards * 2).min(max)
        } else if samples < self.shards * per_send / 2 {
            (self.shards / 2).max(min)
        } else {
            self.shards
        };
        let labels = &self.settings.labels;
        self.metrics.shards_desired.get_or_create(labels).set(desired as i64);
        if desired != self.shards {
            info!(remote_name = %labels.remote_name, from = self.shards, to = desired, "remote-write resharding");
            self.shards = desired;
        }
        self.metrics.shards.get_or_create(labels).set(self.shards as i64);
    }

    /// Reads records until a round is full, its oldest sample is due, or the queue stops (then
    /// with what is already written). Returns the round's samples per shard and whether it is
    /// full.
    fn gather_round(&mut self) -> (Vec<Vec<Pending>>, bool) {
        let queue = &self.settings.queue;
        let per_shard = queue.capacity.max(queue.max_samples_per_send).max(1) as usize;
        let limit = per_shard * self.shards;
        let mut round: Vec<Vec<Pending>> = vec![Vec::new(); self.shards];
        let mut count = 0usize;
        let mut first_at: Option<Instant> = None;
        let labels = self.settings.labels.clone();
        let samples_in = self.metrics.samples_in.get_or_create(&labels).clone();
        let highest = self.metrics.highest_timestamp.get_or_create(&labels).clone();
        let drop = |reason| DropLabels { remote_name: labels.remote_name.clone(), url: labels.url.clone(), reason };
        let age_limit_ms = queue.sample_age_limit.as_millis() as i64;
        loop {
            let record = match self.tail.next_record() {
                Ok(record) => record,
                Err(error) => {
                    error!(remote_name = %labels.remote_name, error = %error, "cannot read the wal; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                    None
                }
            };
            match record {
                Some(Record::Series(defined)) => {
                    let segment = self.tail.position().segment;
                    for (id, labels) in defined {
                        let labels = final_labels(&self.settings, &labels);
                        self.series.insert(id, (segment, labels));
                    }
                }
                Some(Record::Samples(samples)) => {
                    samples_in.inc_by(samples.len() as u64);
                    let now_ms = panoptes_model::time::now_millis();
                    let mut newest = i64::MIN;
                    for sample in samples {
                        newest = newest.max(sample.t);
                        let Some((_, entry)) = self.series.get(&sample.id) else {
                            self.metrics.samples_dropped.get_or_create(&drop("unknown_series")).inc();
                            continue;
                        };
                        let Some(series_labels) = entry else {
                            self.metrics.samples_dropped.get_or_create(&drop("dropped_series")).inc();
                            continue;
                        };
                        if age_limit_ms > 0 && sample.t < now_ms - age_limit_ms {
                            self.metrics.samples_dropped.get_or_create(&drop("too_old")).inc();
                            continue;
                        }
                        let shard = shard_of(sample.id, self.shards);
                        round[shard].push((series_labels.clone(), Sample { value: sample.v, timestamp: sample.t }));
                        count += 1;
                        first_at.get_or_insert_with(Instant::now);
                    }
                    if newest > i64::MIN {
                        highest.set(highest.get().max(newest as f64 / 1000.0));
                    }
                    if count >= limit {
                        return (round, true);
                    }
                }
                // Chunks are only in the checkpoint a clean shutdown writes, which a tail never
                // reads samples from.
                Some(Record::Tombstones(_) | Record::Chunks(_)) => {}
                None => {
                    if self.stopped.borrow().is_some() {
                        return (round, false);
                    }
                    if first_at.is_some_and(|first| first.elapsed() >= queue.batch_send_deadline) {
                        return (round, false);
                    }
                    // Idle without samples: still save the position now and then, so series
                    // records read meanwhile are not read again after a restart.
                    if first_at.is_none() && count == 0 && self.tail.position() != self.saved {
                        return (round, false);
                    }
                    std::thread::sleep(POLL_INTERVAL);
                }
            }
        }
    }
}

/// Returns the labels a series is sent with: external labels added where the series has no
/// label of that name, then `write_relabel_configs`; `None` when relabelling drops it.
fn final_labels(settings: &QueueSettings, labels: &Labels) -> Option<Arc<[Label]>> {
    let with_external = if settings.external_labels.is_empty() {
        labels.clone()
    } else {
        let mut builder = labels.builder();
        for label in settings.external_labels.iter() {
            if !labels.has(&label.name) {
                builder.set(label.name.clone(), label.value.clone());
            }
        }
        builder.build()
    };
    let relabelled =
        if settings.relabel.is_empty() { with_external } else { relabel::process(&with_external, &settings.relabel)? };
    if relabelled.is_empty() {
        return None;
    }
    Some(
        relabelled
            .iter()
            .map(|label| Label { name: label.name.to_string(), value: label.value.to_string() })
            .collect::<Vec<_>>()
            .into(),
    )
}

/// Returns the shard of a series: the same series always goes to the same shard of a round.
fn shard_of(id: SeriesId, shards: usize) -> usize {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut hasher);
    (hasher.finish() % shards as u64) as usize
}

/// Sends every shard's samples concurrently; returns false when the queue was stopped before
/// all got through.
async fn send_round(
    settings: Arc<QueueSettings>,
    round: Vec<Vec<Pending>>,
    metrics: RemoteMetrics,
    stopped: watch::Receiver<StopSignal>,
) -> bool {
    let mut shards = tokio::task::JoinSet::new();
    for samples in round.into_iter().filter(|samples| !samples.is_empty()) {
        let settings = settings.clone();
        let metrics = metrics.clone();
        let mut stopped = stopped.clone();
        shards.spawn(async move {
            let per_send = settings.queue.max_samples_per_send.max(1) as usize;
            for batch in samples.chunks(per_send) {
                if send_batch(&settings, batch, &metrics, &mut stopped).await == Sent::Stopped {
                    return false;
                }
            }
            true
        });
    }
    let mut all_sent = true;
    while let Some(result) = shards.join_next().await {
        all_sent &= result.unwrap_or(false);
    }
    all_sent
}

/// Encodes a batch as a snappy-compressed `WriteRequest`, one time series per series in the
/// order they first appear.
fn encode(batch: &[Pending]) -> Vec<u8> {
    let mut index: HashMap<*const Label, usize> = HashMap::new();
    let mut request = WriteRequest { timeseries: Vec::new() };
    for (labels, sample) in batch {
        let at = *index.entry(labels.as_ptr()).or_insert_with(|| {
            request.timeseries.push(TimeSeries { labels: labels.to_vec(), samples: Vec::new() });
            request.timeseries.len() - 1
        });
        request.timeseries[at].samples.push(*sample);
    }
    let raw = request.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).unwrap_or_default()
}

/// Why an attempt failed.
enum Failure {
    /// Worth retrying (5xx, 429 when allowed, network), after `retry_after` if the receiver said.
    Recoverable { retry_after: Option<Duration>, message: String },
    /// Retrying cannot help (other 4xx); the batch is dropped.
    Permanent { message: String },
}

/// Sends one batch until the receiver accepts or refuses it for good, or the queue stops.
async fn send_batch(
    settings: &QueueSettings,
    batch: &[Pending],
    metrics: &RemoteMetrics,
    stopped: &mut watch::Receiver<StopSignal>,
) -> Sent {
    let labels = &settings.labels;
    let body = encode(batch);
    let count = batch.len() as u64;
    metrics.samples.get_or_create(labels).inc_by(count);
    let mut backoff = settings.queue.min_backoff;
    let mut attempt = 0u64;
    loop {
        attempt += 1;
        let started = Instant::now();
        let result = tokio::select! {
            result = attempt_send(settings, body.clone()) => result,
            () = wait_for_stop_deadline(stopped.clone()) => return Sent::Stopped,
        };
        metrics.sent_batch_duration.get_or_create(labels).observe(started.elapsed().as_secs_f64());
        let (retry_after, message) = match result {
            Ok(()) => {
                metrics.bytes.get_or_create(labels).inc_by(body.len() as u64);
                if attempt > 1 {
                    info!(remote_name = %labels.remote_name, attempts = attempt, samples = count, "remote write succeeded after retries");
                }
                return Sent::Accepted;
            }
            Err(Failure::Permanent { message }) => {
                error!(remote_name = %labels.remote_name, url = %labels.url, samples = count, error = %message, "remote write refused; dropping the batch");
                metrics.samples_failed.get_or_create(labels).inc_by(count);
                return Sent::Refused;
            }
            Err(Failure::Recoverable { retry_after, message }) => (retry_after, message),
        };
        // Every failure of a long outage would flood the log: the first, then every tenth.
        if attempt == 1 || attempt.is_multiple_of(10) {
            warn!(remote_name = %labels.remote_name, url = %labels.url, attempt, samples = count, error = %message, "remote write failed; retrying");
        }
        let pause = retry_after.unwrap_or(backoff);
        backoff = (backoff * 2).min(settings.queue.max_backoff);
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = wait_for_stop_deadline(stopped.clone()) => return Sent::Stopped,
        }
        if stopped.borrow().is_some_and(|deadline| Instant::now() >= deadline) {
            return Sent::Stopped;
        }
        metrics.samples_retried.get_or_create(labels).inc_by(count);
    }
}

/// Returns when the queue has been asked to stop and its flush deadline has passed.
async fn wait_for_stop_deadline(mut stopped: watch::Receiver<StopSignal>) {
    loop {
        let deadline = *stopped.borrow_and_update();
        if let Some(deadline) = deadline {
            tokio::time::sleep_until(deadline.into()).await;
            return;
        }
        if stopped.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Makes one request; classifies a failure as Prometheus does.
async fn attempt_send(settings: &QueueSettings, body: Vec<u8>) -> Result<(), Failure> {
    let request = settings
        .client
        .post(&settings.url)
        .await
        .map_err(|message| Failure::Recoverable { retry_after: None, message })?
        .headers(settings.headers.clone())
        .header(reqwest::header::CONTENT_ENCODING, HeaderValue::from_static("snappy"))
        .header(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"))
        .header("X-Prometheus-Remote-Write-Version", HeaderValue::from_static("0.1.0"))
        .timeout(settings.timeout)
        .body(body);
    // Errors can name the URL, which may hold credentials: leave it out.
    let response = request
        .send()
        .await
        .map_err(|error| Failure::Recoverable { retry_after: None, message: error.without_url().to_string() })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX_ERROR_BODY_BYTES)]);
    let message = format!("server returned HTTP status {status}: {}", text.trim());
    let is_recoverable = status.is_server_error()
        || (status == reqwest::StatusCode::TOO_MANY_REQUESTS && settings.queue.retry_on_http_429);
    if is_recoverable {
        Err(Failure::Recoverable { retry_after, message })
    } else {
        Err(Failure::Permanent { message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_group_samples_by_series_in_order() {
        let a: Arc<[Label]> = vec![Label { name: "__name__".into(), value: "a".into() }].into();
        let b: Arc<[Label]> = vec![Label { name: "__name__".into(), value: "b".into() }].into();
        let sample = |t| Sample { value: t as f64, timestamp: t };
        let batch = vec![(a.clone(), sample(1)), (b.clone(), sample(1)), (a.clone(), sample(2))];
        let bytes = snap::raw::Decoder::new().decompress_vec(&encode(&batch)).unwrap();
        let request = WriteRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(request.timeseries.len(), 2);
        assert_eq!(request.timeseries[0].labels, a.to_vec());
        assert_eq!(request.timeseries[0].samples, vec![sample(1), sample(2)]);
        assert_eq!(request.timeseries[1].samples, vec![sample(1)]);
    }
}
