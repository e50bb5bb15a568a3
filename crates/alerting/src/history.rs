//! Alert and notification history: an append-only log of JSON records, one per line, in
//! segment files that each cover a span of time (`<start-ms>.jsonl`), so retention deletes
//! whole files. Records are state changes of alerts (from the rules and from the router) and
//! delivery attempts. It never holds secrets: receivers are named, never their URLs. Format and
//! guarantees: `docs/format/alerting.md` and `docs/alerts-history.md`.
//!
//! An append returns after the bytes were handed to the kernel with `write(2)` (and, with
//! [`HistoryOptions::sync`], after `fdatasync`), so an acknowledged record survives `kill -9`.
//! A torn last line left by a crash is cut off with a warning when the store opens. Queries
//! stream the segments newest first and hold at most `limit` records.

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::matchers::Matchers;
use crate::metrics::HistoryMetrics;
use crate::types::LabelSet;

/// The file name extension of segments.
const SEGMENT_EXTENSION: &str = "jsonl";
/// Lines longer than this are skipped when read: every writer caps what it records (at most
/// [`MAX_ALERTS_PER_DELIVERY`] alerts per delivery), so a longer line is damage.
const MAX_LINE_BYTES: usize = 4 << 20;
/// A delivery record lists at most this many alerts (and counts the rest), so that one
/// notification to a huge group cannot produce a record of megabytes.
pub const MAX_ALERTS_PER_DELIVERY: usize = 100;

/// Programmatic knobs of the history store.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// How long records are kept (`--alerting.history.retention`, 15 days).
    pub retention: Duration,
    /// The span of time one segment file covers; retention deletes whole segments, so a record
    /// lives at most `retention + segment_duration`.
    pub segment_duration: Duration,
    /// Whether every append is also synced to disk (`fdatasync`), so that it survives a power
    /// loss and not only a crash of the process.
    pub sync: bool,
    /// The most records one query returns.
    pub max_query_limit: usize,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            retention: Duration::from_secs(15 * 24 * 3600),
            // An hour keeps a 15-day history in at most 360 small files.
            segment_duration: Duration::from_secs(3600),
            sync: true,
            max_query_limit: 10_000,
        }
    }
}

/// One stored record: a sequence number, the time of the event and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// Increases by one with every record appended; orders records of the same time.
    pub seq: u64,
    /// When the event happened.
    pub time: Timestamp,
    /// The event.
    #[serde(flatten)]
    pub event: HistoryEvent,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum HistoryEvent {
    /// An alert changed state.
    State(StateChange),
    /// A notification was attempted.
    Delivery(DeliveryAttempt),
}

impl HistoryEvent {
    /// Returns `state` or `delivery`.
    pub fn kind(&self) -> EventKind {
        match self {
            HistoryEvent::State(_) => EventKind::State,
            HistoryEvent::Delivery(_) => EventKind::Delivery,
        }
    }
}

/// The kinds of events, for filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// [`HistoryEvent::State`].
    State,
    /// [`HistoryEvent::Delivery`].
    Delivery,
}

/// Where a state change was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateSource {
    /// The rules engine: `inactive→pending`, `pending→firing`, `firing→resolved`,
    /// `pending→inactive` (and `inactive→firing` for rules without `for`).
    Rules,
    /// The router: `received`, `resolved`, `silenced`, `inhibited`, `unmuted`.
    Router,
}

/// A state change of one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    /// Who saw the change.
    pub source: StateSource,
    /// The state before (`inactive`, `pending`, `firing` for the rules; `none`, `active`,
    /// `suppressed` for the router).
    pub from: String,
    /// The state after (see [`StateSource`]).
    pub to: String,
    /// The rule group (`<file>;<name>`) for changes seen by the rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Alertmanager's fingerprint of the labels (16 hex digits).
    pub fingerprint: String,
    /// The alert's labels.
    pub labels: LabelSet,
    /// The alert's annotations.
    #[serde(default)]
    pub annotations: LabelSet,
    /// The value of the rule's expression for the alert (rules only; `null` for NaN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// What mutes the alert: silence ids for `silenced`, fingerprints of the inhibiting
    /// alerts for `inhibited`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub muted_by: Vec<String>,
}

/// The result of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Delivered.
    Success,
    /// Failed; another attempt follows.
    Retry,
    /// Failed; no further attempt for this flush.
    Failed,
}

/// An alert as a delivery record lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveredAlert {
    /// Alertmanager's fingerprint.
    pub fingerprint: String,
    /// `firing` or `resolved`.
    pub status: String,
    /// The alert's labels.
    pub labels: LabelSet,
}

/// One attempt to deliver a notification through one integration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// The receiver's name.
    pub receiver: String,
    /// The integration type (`webhook`, `email`, `wecom`, ...).
    pub integration: String,
    /// The integration's position among the receiver's integrations of its type.
    pub integration_index: usize,
    /// The aggregation group's key.
    pub group_key: String,
    /// The alerts in the notification (at most [`MAX_ALERTS_PER_DELIVERY`]).
    pub alerts: Vec<DeliveredAlert>,
    /// How many alerts the notification held in all.
    pub alerts_total: usize,
    /// 1 for the first attempt of a flush, then 2, 3, ...
    pub attempt: u32,
    /// The result.
    pub outcome: Outcome,
    /// The HTTP status of the last response, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Why the attempt failed (never holds a URL or secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How long the attempt took.
    pub duration_seconds: f64,
}

/// What a query asks for. Every filter given must match.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Records at or after this time.
    pub start: Option<Timestamp>,
    /// Records at or before this time.
    pub end: Option<Timestamp>,
    /// Label matcher sets, any of which must match the alert's labels (for a delivery: the
    /// labels of any alert in it). Empty: no label filter.
    pub matchers: Vec<Matchers>,
    /// Only deliveries to this receiver (state changes never match).
    pub receiver: Option<String>,
    /// Only this kind of event.
    pub kind: Option<EventKind>,
    /// The most records returned (capped by [`HistoryOptions::max_query_limit`]).
    pub limit: usize,
}

impl HistoryQuery {
    fn matches(&self, record: &HistoryRecord) -> bool {
        if self.start.is_some_and(|start| record.time < start) || self.end.is_some_and(|end| record.time > end) {
            return false;
        }
        if self.kind.is_some_and(|kind| kind != record.event.kind()) {
            return false;
        }
        match &record.event {
            HistoryEvent::State(change) => {
                self.receiver.is_none()
                    && (self.matchers.is_empty() || self.matchers.iter().any(|m| m.matches(&change.labels)))
            }
            HistoryEvent::Delivery(delivery) => {
                self.receiver.as_ref().is_none_or(|receiver| *receiver == delivery.receiver)
                    && (self.matchers.is_empty()
                        || delivery.alerts.iter().any(|alert| self.matchers.iter().any(|m| m.matches(&alert.labels))))
            }
        }
    }
}

/// The answer to a query.
#[derive(Debug, Clone, Default)]
pub struct HistoryPage {
    /// The records, newest first.
    pub records: Vec<HistoryRecord>,
    /// Whether more records matched than the limit allowed.
    pub is_truncated: bool,
}

struct Writer {
    /// The start (ms) of every segment, oldest first.
    segments: Vec<i64>,
    /// The newest segment, open for appending.
    file: Option<File>,
    next_seq: u64,
}

struct Inner {
    dir: PathBuf,
    options: HistoryOptions,
    writer: Mutex<Writer>,
    metrics: HistoryMetrics,
}

/// The history store. Cheap to clone; clones share the files. Thread-safe; appends and
/// queries do blocking file I/O, so async callers use `spawn_blocking`.
#[derive(Clone)]
pub struct History {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("dir", &self.inner.dir).field("options", &self.inner.options).finish()
    }
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io { what, path: path.display().to_string(), source }
}

fn millis(timestamp: Timestamp) -> i64 {
    timestamp.as_millisecond()
}

impl History {
    /// Opens the store in `dir` (created if needed). The newest segment's torn last line, if
    /// a crash left one, is cut off with a warning.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory or the newest segment cannot be read or repaired.
    pub fn open(dir: impl AsRef<Path>, options: HistoryOptions) -> Result<History> {
        let dir = dir.as_ref().to_owned();
        std::fs::create_dir_all(&dir).map_err(io_error("cannot create history directory", &dir))?;
        let segments = list_segments(&dir)?;
        let mut next_seq = 0;
        let mut file = None;
        if let Some(&last) = segments.last() {
            let path = segment_path(&dir, last);
            let (good_len, last_seq) = scan_tail(&path)?;
            let mut opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_error("cannot open history segment", &path))?;
            let len = opened.metadata().map_err(io_error("cannot open history segment", &path))?.len();
            if good_len < len {
                tracing::warn!(
                    segment = %path.display(),
                    dropped_bytes = len - good_len,
                    "history segment ends in a torn record, cut off"
                );
                opened.set_len(good_len).map_err(io_error("cannot repair history segment", &path))?;
                opened.sync_all().map_err(io_error("cannot repair history segment", &path))?;
            }
            opened.seek(std::io::SeekFrom::End(0)).map_err(io_error("cannot open history segment", &path))?;
            file = Some(opened);
            next_seq = match last_seq {
                Some(seq) => seq + 1,
                None => previous_seq(&dir, &segments)?.map_or(0, |seq| seq + 1),
            };
        }
        let metrics = HistoryMetrics::default();
        metrics.segments.set(segments.len() as i64);
        Ok(History {
            inner: Arc::new(Inner { dir, options, writer: Mutex::new(Writer { segments, file, next_seq }), metrics }),
        })
    }

    /// Returns the options.
    pub fn options(&self) -> &HistoryOptions {
        &self.inner.options
    }

    /// Returns the store's self-metrics.
    pub fn metrics(&self) -> &HistoryMetrics {
        &self.inner.metrics
    }

    /// Appends events with the times they happened. Returns once the records are written
    /// (and synced, with [`HistoryOptions::sync`]).
    ///
    /// # Errors
    ///
    /// Returns an error when a segment cannot be created, written or synced; records written
    /// before the failure stay.
    pub fn append(&self, events: impl IntoIterator<Item = (Timestamp, HistoryEvent)>) -> Result<()> {
        let result = self.append_inner(events);
        if result.is_err() {
            self.inner.metrics.append_failures.inc();
        }
        result
    }

    fn append_inner(&self, events: impl IntoIterator<Item = (Timestamp, HistoryEvent)>) -> Result<()> {
        let inner = &self.inner;
        let segment_ms = i64::try_from(inner.options.segment_duration.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut writer = inner.writer.lock();
        let mut buffer: Vec<u8> = Vec::new();
        for (time, event) in events {
            let time_ms = millis(time);
            let current = writer.segments.last().copied();
            if writer.file.is_none() || current.is_some_and(|start| time_ms >= start.saturating_add(segment_ms)) {
                self.flush_buffer(&mut writer, &mut buffer)?;
                let start = time_ms - time_ms.rem_euclid(segment_ms);
                // A clock that went back past the newest segment keeps appending to it: segment
                // starts only grow, which the queries and the retention rely on.
                if current.is_none_or(|current| start > current) {
                    self.roll(&mut writer, start)?;
                } else if writer.file.is_none() {
                    return Err(Error::Internal("history segment is not open".to_owned()));
                }
            }
            let kind = match event.kind() {
                EventKind::State => "state",
                EventKind::Delivery => "delivery",
            };
            let record = HistoryRecord { seq: writer.next_seq, time, event };
            serde_json::to_writer(&mut buffer, &record)
                .map_err(|error| Error::Internal(format!("cannot encode history record: {error}")))?;
            buffer.push(b'\n');
            writer.next_seq += 1;
            inner.metrics.records.get_or_create(&vec![("kind".to_owned(), kind.to_owned())]).inc();
        }
        self.flush_buffer(&mut writer, &mut buffer)?;
        Ok(())
    }

    fn flush_buffer(&self, writer: &mut Writer, buffer: &mut Vec<u8>) -> Result<()> {
        if buffer.is_empty() {
            return Ok(());
        }
        let start = writer.segments.last().copied().unwrap_or_default();
        let path = segment_path(&self.inner.dir, start);
        let file = writer.file.as_mut().ok_or_else(|| Error::Internal("history segment is not open".to_owned()))?;
        // One write per batch: a crash leaves whole records and at most one torn last line.
        file.write_all(buffer).map_err(io_error("cannot write history segment", &path))?;
        if self.inner.options.sync {
            file.sync_data().map_err(io_error("cannot sync history segment", &path))?;
        }
        buffer.clear();
        Ok(())
    }

    fn roll(&self, writer: &mut Writer, start: i64) -> Result<()> {
        let path = segment_path(&self.inner.dir, start);
        if let Some(file) = writer.file.take() {
            let _ = file.sync_all();
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error("cannot create history segment", &path))?;
        File::open(&self.inner.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error("cannot sync history directory", &self.inner.dir))?;
        writer.segments.push(start);
        writer.file = Some(file);
        self.inner.metrics.segments.set(writer.segments.len() as i64);
        Ok(())
    }

    /// Deletes the segments whose every record is older than `now - retention`. The newest
    /// segment is never deleted.
    ///
    /// # Errors
    ///
    /// Returns an error when a segment cannot be deleted.
    pub fn apply_retention(&self, now: Timestamp) -> Result<usize> {
        let retention =
            jiff::SignedDuration::try_from(self.inner.options.retention).unwrap_or(jiff::SignedDuration::MAX);
        let cutoff = now.checked_sub(retention).map_or(i64::MIN, millis);
        let mut writer = self.inner.writer.lock();
        // Segment k holds records older than the start of segment k+1.
        let expired = writer.segments.windows(2).take_while(|pair| pair[1] <= cutoff).count();
        let mut deleted = 0;
        for &start in &writer.segments[..expired] {
            let path = segment_path(&self.inner.dir, start);
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => deleted += 1,
                Err(source) => {
                    writer.segments.drain(..deleted);
                    return Err(Error::Io {
                        what: "cannot delete history segment",
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        }
        writer.segments.drain(..deleted);
        self.inner.metrics.segments.set(writer.segments.len() as i64);
        self.inner.metrics.segments_deleted.inc_by(deleted as u64);
        if deleted > 0 {
            tracing::info!(segments = deleted, "deleted history segments past the retention");
        }
        Ok(deleted)
    }

    /// Returns the newest records matching `query`, newest first. Reads the segments newest
    /// first, one line at a time, holding at most `limit` records.
    ///
    /// # Errors
    ///
    /// Returns an error when a segment cannot be read.
    pub fn query(&self, query: &HistoryQuery) -> Result<HistoryPage> {
        let limit = query.limit.clamp(1, self.inner.options.max_query_limit.max(1));
        let segments = self.inner.writer.lock().segments.clone();
        let start_ms = query.start.map(millis);
        // A min-heap (by time, then seq) of the newest matches so far.
        let mut newest: BinaryHeap<std::cmp::Reverse<Ordered>> = BinaryHeap::new();
        let mut is_truncated = false;
        for index in (0..segments.len()).rev() {
            let upper = segments.get(index + 1).copied().unwrap_or(i64::MAX);
            if start_ms.is_some_and(|start| upper <= start) {
                break;
            }
            if newest.len() == limit && newest.peek().is_some_and(|min| millis(min.0.0.time) >= upper) {
                is_truncated = true;
                break;
            }
            let path = segment_path(&self.inner.dir, segments[index]);
            let file = match File::open(&path) {
                Ok(file) => file,
                // Deleted by the retention since the list was taken.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(Error::Io {
                        what: "cannot read history segment",
                        path: path.display().to_string(),
                        source,
                    });
                }
            };
            for_each_record(&path, file, |record| {
                if !query.matches(&record) {
                    return;
                }
                newest.push(std::cmp::Reverse(Ordered(record)));
                if newest.len() > limit {
                    newest.pop();
                    is_truncated = true;
                }
            })?;
        }
        let mut records: Vec<HistoryRecord> = newest.into_iter().map(|entry| entry.0.0).collect();
        records.sort_by_key(|record| std::cmp::Reverse((record.time, record.seq)));
        Ok(HistoryPage { records, is_truncated })
    }
}

/// Orders records by time, then sequence number.
struct Ordered(HistoryRecord);

impl PartialEq for Ordered {
    fn eq(&self, other: &Self) -> bool {
        (self.0.time, self.0.seq) == (other.0.time, other.0.seq)
    }
}
impl Eq for Ordered {}
impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.time, self.0.seq).cmp(&(other.0.time, other.0.seq))
    }
}

fn segment_path(dir: &Path, start_ms: i64) -> PathBuf {
    dir.join(format!("{start_ms}.{SEGMENT_EXTENSION}"))
}

fn list_segments(dir: &Path) -> Result<Vec<i64>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error("cannot list history directory", dir))? {
        let entry = entry.map_err(io_error("cannot list history directory", dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|name| name.strip_suffix(&format!(".{SEGMENT_EXTENSION}"))) else {
            continue;
        };
        match stem.parse::<i64>() {
            Ok(start) => segments.push(start),
            Err(_) => tracing::warn!(file = %entry.path().display(), "ignoring unexpected file in history directory"),
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Calls `each` for every whole, decodable record of a segment. A last line without its
/// newline is a write in progress (or torn) and skipped; undecodable lines are skipped with a
/// warning.
fn for_each_record(path: &Path, file: File, mut each: impl FnMut(HistoryRecord)) -> Result<()> {
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut skipped = 0usize;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_error("cannot read history segment", path))?;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            if line.len() > MAX_LINE_BYTES {
                // Skip the rest of an overlong line.
                let mut rest = Vec::new();
                reader.read_until(b'\n', &mut rest).map_err(io_error("cannot read history segment", path))?;
                skipped += 1;
                continue;
            }
            break;
        }
        match serde_json::from_slice::<HistoryRecord>(&line) {
            Ok(record) => each(record),
            Err(_) => skipped += 1,
        }
    }
    if skipped > 0 {
        tracing::warn!(segment = %path.display(), records = skipped, "skipped undecodable history records");
    }
    Ok(())
}

/// Returns the length of a segment's prefix of whole, decodable records and the last
/// record's sequence number.
fn scan_tail(path: &Path) -> Result<(u64, Option<u64>)> {
    let file = File::open(path).map_err(io_error("cannot read history segment", path))?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut good_len = 0u64;
    let mut offset = 0u64;
    let mut last_seq = None;
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io_error("cannot read history segment", path))?;
        if read == 0 {
            break;
        }
        offset += read as u64;
        if line.last() != Some(&b'\n') {
            break;
        }
        // Only damage after the last good record is cut off; readers skip damaged lines in
        // the middle.
        if let Ok(record) = serde_json::from_slice::<HistoryRecord>(&line) {
            last_seq = Some(record.seq);
            good_len = offset;
        }
    }
    Ok((good_len, last_seq))
}

/// Returns the sequence number of the newest record in the segments before the newest one.
fn previous_seq(dir: &Path, segments: &[i64]) -> Result<Option<u64>> {
    for &start in segments.iter().rev().skip(1) {
        let (_, seq) = scan_tail(&segment_path(dir, start))?;
        if seq.is_some() {
            return Ok(seq);
        }
    }
    Ok(None)
}

/// Builds the delivery-record alert list of a notification.
pub(crate) fn delivered_alerts(alerts: &[crate::types::Alert], now: Timestamp) -> Vec<DeliveredAlert> {
    alerts
        .iter()
        .take(MAX_ALERTS_PER_DELIVERY)
        .map(|alert| DeliveredAlert {
            fingerprint: crate::types::fingerprint_string(alert.fingerprint()),
            status: if alert.is_resolved_at(now) { "resolved" } else { "firing" }.to_owned(),
            labels: alert.labels.clone(),
        })
        .collect()
}

mod api;

pub use api::history_router;

#[cfg(test)]
mod tests;
