//! One target's scrape loop: a tokio task that scrapes at a stable, jittered phase of its
//! interval, appends each page through [`ScrapeCache`], writes the `up` / `scrape_*` report
//! series and keeps the target's health for the targets API.
//!
//! Timing follows Prometheus: a target is always scraped at the same offset within its interval
//! (derived from a hash of its labels and URL), so that load spreads over the interval and
//! timestamps stay regular; a scrape that starts within [`TIMESTAMP_TOLERANCE_MS`] of its
//! scheduled time is stamped with the scheduled time, which keeps delta-of-delta encoding at zero.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use panoptes_model::Labels;
use panoptes_model::time::now_millis;
use panoptes_storage::StorageRef;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::append::{
    AppendOptions, AppendReport, ExtraScrapeMetrics, MetricMetadata, ScrapeCache, ScrapeOutcome, append_report,
    append_report_stale,
};
use crate::client::HttpClient;
use crate::config::ScrapeConfig;
use crate::exposition::Format;
use crate::target::Target;
use panoptes_model::error_chain;

/// How far (in ms) a scrape may start from its scheduled time and still carry the scheduled
/// timestamp (Prometheus' `--scrape.timestamp-tolerance` default).
pub(crate) const TIMESTAMP_TOLERANCE_MS: i64 = 2;

/// A target's health, as the targets API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl Health {
    /// Returns Prometheus' name: `unknown`, `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Unknown => "unknown",
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The outcome of a target's last scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealth {
    /// Up, down or not scraped yet.
    pub health: Health,
    /// Why the last scrape failed; empty when it succeeded.
    pub last_error: String,
    /// When the last scrape started, in ms since the epoch.
    pub last_scrape_ms: Option<i64>,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
    /// The metric metadata of the last successful scrape, by family name.
    pub metadata: Arc<BTreeMap<String, MetricMetadata>>,
}

impl Default for TargetHealth {
    fn default() -> Self {
        TargetHealth {
            health: Health::Unknown,
            last_error: String::new(),
            last_scrape_ms: None,
            last_scrape_duration: Duration::ZERO,
            metadata: Arc::default(),
        }
    }
}

/// How a loop ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Keep running.
    Run,
    /// The target went away: mark its series stale at the time of its next scrape.
    Stale,
    /// The loop is replaced (reload) or the process stops: end at once, no staleness markers.
    Quiet,
}

/// What a loop needs besides its target.
#[derive(Clone)]
pub(crate) struct LoopContext {
    pub(crate) config: Arc<ScrapeConfig>,
    pub(crate) client: HttpClient,
    pub(crate) storage: StorageRef,
    /// The `Accept` header of every scrape.
    pub(crate) accept: Arc<str>,
    /// An error that replaces scraping for every target of the pool (`target_limit`).
    pub(crate) forced_error: Arc<Mutex<Option<String>>>,
    /// Mixed into every target's offset so that two servers scraping the same targets do not
    /// scrape them at the same instant (Prometheus seeds it with the external labels).
    pub(crate) offset_seed: u64,
    /// Becomes true when the process stops: pending end-of-run staleness markers are skipped.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Permits to append a page, one per core and shared by every loop of the process: pages
    /// fetched at once wait for a permit instead of each taking a blocking thread (whose
    /// allocator heap would keep its memory).
    pub(crate) appends: Arc<Semaphore>,
}

/// Returns the stable identity of a target: its labels and URL.
pub(crate) fn target_hash(target: &Target) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    target.internal_labels().hash(&mut hasher);
    target.url().hash(&mut hasher);
    hasher.finish()
}

/// Returns how long to wait from `now_ms` until the target's first scrape: the next instant whose
/// position within the interval equals `(hash ^ seed) % interval`, as Prometheus' `offset`.
pub(crate) fn first_delay(interval: Duration, hash: u64, seed: u64, now_ms: i64) -> Duration {
    let interval_ms = u64::try_from(interval.as_millis()).unwrap_or(u64::MAX).max(1);
    let phase = (hash ^ seed) % interval_ms;
    let position = now_ms.rem_euclid(i64::try_from(interval_ms).unwrap_or(i64::MAX)).unsigned_abs();
    let wait = (phase + interval_ms - position) % interval_ms;
    Duration::from_millis(wait)
}

/// Runs a target's loop until `stop` says otherwise; returns the cache so that a replacing loop
/// (same target after a reload) continues staleness tracking without a gap.
pub(crate) async fn run(
    context: LoopContext,
    target: Target,
    health: Arc<Mutex<TargetHealth>>,
    mut cache: ScrapeCache,
    mut stop: watch::Receiver<Stop>,
) -> ScrapeCache {
    let interval = target.interval();
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    let url = target.url();
    let target_labels = target.labels();
    let now_ms = now_millis();
    let delay = first_delay(interval, target_hash(&target), context.offset_seed, now_ms);
    let mut next = Instant::now() + delay;
    let mut scheduled_ms = now_ms + i64::try_from(delay.as_millis()).unwrap_or(0);
    // The page buffer, kept from one scrape to the next so that pages of a steady size are
    // read without growing a new buffer each time.
    let mut body = Vec::new();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            changed = stop.changed() => {
                let mode = if changed.is_ok() { *stop.borrow_and_update() } else { Stop::Quiet };
                match mode {
                    Stop::Run => continue,
                    Stop::Quiet => return cache,
                    Stop::Stale => {
                        end_of_run_staleness(&context, &target_labels, cache, next, scheduled_ms).await;
                        return ScrapeCache::new();
                    }
                }
            }
        }
        let start_ms = now_millis();
        let t = if (start_ms - scheduled_ms).abs() <= TIMESTAMP_TOLERANCE_MS { scheduled_ms } else { start_ms };
        let (returned, outcome) =
            scrape_and_report(&context, &target, &url, &target_labels, cache, std::mem::take(&mut body), t).await;
        (cache, body) = returned;
        {
            let mut health = health.lock();
            health.last_scrape_ms = Some(t);
            health.last_scrape_duration = outcome.duration;
            health.metadata = cache.metadata();
            match outcome.error {
                None => {
                    health.health = Health::Up;
                    health.last_error.clear();
                }
                Some(error) => {
                    tracing::debug!(url = %url, error = %error, "scrape failed");
                    health.health = Health::Down;
                    health.last_error = error;
                }
            }
        }
        // Next tick; after a stall, skip the ticks that were missed rather than bursting.
        next += interval;
        scheduled_ms = scheduled_ms.saturating_add(interval_ms);
        let now = Instant::now();
        while next <= now {
            next += interval;
            scheduled_ms = scheduled_ms.saturating_add(interval_ms);
        }
    }
}

/// What one scrape did.
struct Outcome {
    duration: Duration,
    error: Option<String>,
}

/// Scrapes once (or reports the pool's forced error) into `body`, appends the page and the
/// report series; returns the cache and the page buffer for the next scrape.
async fn scrape_and_report(
    context: &LoopContext,
    target: &Target,
    url: &str,
    target_labels: &Labels,
    cache: ScrapeCache,
    body: Vec<u8>,
    t: i64,
) -> ((ScrapeCache, Vec<u8>), Outcome) {
    let started = std::time::Instant::now();
    let forced = context.forced_error.lock().clone();
    let fetched = match forced {
        Some(error) => Err(FetchError { message: error, is_body_limit: false }),
        None => fetch(context, url, target.timeout(), body).await,
    };
    let config = context.config.clone();
    let storage = context.storage.clone();
    let labels = target_labels.clone();
    let timeout = target.timeout();
    // A closed semaphore (never, in practice) only lifts the bound.
    let permit = context.appends.clone().acquire_owned().await.ok();
    let joined = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut cache = cache;
        let mut body = Vec::new();
        let (report, body_size, error) = match fetched {
            Ok(page) => {
                let body_size = i64::try_from(page.body.len()).unwrap_or(i64::MAX);
                let fallback = config
                    .fallback_scrape_protocol
                    .map(|protocol| Format::from_content_type(Some(protocol.header_media_type())));
                let result = Format::negotiate(page.content_type.as_deref(), fallback)
                    .map_err(|error| error.to_string())
                    .and_then(|format| {
                        cache
                            .append_page(
                                storage.as_ref(),
                                &page.body,
                                format,
                                &labels,
                                &AppendOptions::from_config(&config),
                                t,
                            )
                            .map_err(|error| error_chain(&error))
                    });
                body = reusable(page.body);
                match result {
                    Ok(report) => (report, body_size, None),
                    Err(error) => (AppendReport::default(), body_size, Some(error)),
                }
            }
            Err(error) => {
                if let Err(stale_error) = cache.mark_all_stale(storage.as_ref(), t) {
                    tracing::warn!(error = %stale_error, "cannot write staleness markers");
                }
                (AppendReport::default(), if error.is_body_limit { -1 } else { 0 }, Some(error.message))
            }
        };
        let duration = started.elapsed();
        let outcome = ScrapeOutcome {
            is_up: error.is_none(),
            duration,
            report,
            extra: config.is_extra_scrape_metrics_enabled().then_some(ExtraScrapeMetrics {
                timeout,
                sample_limit: config.sample_limit,
                body_size_bytes: body_size,
            }),
        };
        if let Err(report_error) = append_report(storage.as_ref(), &labels, &outcome, t) {
            tracing::warn!(error = %report_error, "cannot append scrape report series");
        }
        ((cache, body), Outcome { duration, error })
    });
    match joined.await {
        Ok(result) => result,
        Err(error) => (
            (ScrapeCache::new(), Vec::new()),
            Outcome { duration: started.elapsed(), error: Some(format!("append task failed: {error}")) },
        ),
    }
}

/// Waits until the target would have been scraped next, then marks its series and report series
/// stale at that time, as Prometheus' `endOfRunStaleness` does: the last value stays visible for
/// the interval it stands for. Ends without markers when the process stops meanwhile.
async fn end_of_run_staleness(
    context: &LoopContext,
    target_labels: &Labels,
    cache: ScrapeCache,
    next: Instant,
    scheduled_ms: i64,
) {
    let mut shutdown = context.shutdown.clone();
    tokio::select! {
        () = tokio::time::sleep_until(next) => {}
        _ = shutdown.wait_for(|is_stopping| *is_stopping) => return,
    }
    let storage = context.storage.clone();
    let labels = target_labels.clone();
    let has_extra_metrics = context.config.is_extra_scrape_metrics_enabled();
    let marked = tokio::task::spawn_blocking(move || {
        let mut cache = cache;
        cache.mark_all_stale(storage.as_ref(), scheduled_ms)?;
        append_report_stale(storage.as_ref(), &labels, has_extra_metrics, scheduled_ms)
    })
    .await;
    match marked {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(error = %error, "cannot write end-of-run staleness markers"),
        Err(error) => tracing::warn!(error = %error, "staleness task failed"),
    }
}

/// Returns a page's buffer emptied for the next scrape; one much larger than the page it held
/// (a target whose page shrank) is let go, so that one large page does not stay allocated.
fn reusable(mut body: Vec<u8>) -> Vec<u8> {
    if body.capacity() > 2 * body.len() + (64 << 10) {
        return Vec::new();
    }
    body.clear();
    body
}

/// A fetched page.
struct Page {
    body: Vec<u8>,
    content_type: Option<String>,
}

/// Why a fetch failed.
struct FetchError {
    message: String,
    /// The body exceeded `body_size_limit` (reported as body size -1).
    is_body_limit: bool,
}

impl FetchError {
    fn new(message: impl Into<String>) -> Self {
        FetchError { message: message.into(), is_body_limit: false }
    }
}

/// GETs `url` with the scrape headers, within `timeout`, into `body` (empty), reading at most
/// `body_size_limit` decompressed bytes.
async fn fetch(context: &LoopContext, url: &str, timeout: Duration, mut body: Vec<u8>) -> Result<Page, FetchError> {
    let limit = context.config.body_size_limit.0;
    // The request is prepared within the timeout: with oauth2, preparing it can fetch a token.
    let read = async {
        let request = context
            .client
            .get(url)
            .await
            .map_err(FetchError::new)?
            .header(reqwest::header::ACCEPT, &*context.accept)
            .header("X-Prometheus-Scrape-Timeout-Seconds", format!("{}", timeout.as_secs_f64()));
        let mut response = request.send().await.map_err(|error| FetchError::new(request_error(url, &error)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::new(format!("server returned HTTP status {status}")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        body.clear();
        body.reserve(usize::try_from(response.content_length().unwrap_or(0)).unwrap_or(0).min(64 << 20));
        while let Some(chunk) = response.chunk().await.map_err(|error| FetchError::new(request_error(url, &error)))? {
            if limit > 0 && (body.len() + chunk.len()) as u64 > limit {
                return Err(FetchError { message: "body size limit exceeded".to_owned(), is_body_limit: true });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Page { body, content_type })
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::new(format!(
            "Get {url:?}: context deadline exceeded (scrape timeout {})",
            panoptes_model::time::format_duration(timeout)
        ))),
    }
}

/// Formats a request error with its causes, as Go prints `Get "url": cause`.
fn request_error(url: &str, error: &reqwest::Error) -> String {
    let mut message = format!("Get {url:?}");
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    if source.is_none() {
        message.push_str(&format!(": {error}"));
    }
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_buffer_is_kept_for_a_steady_page_and_let_go_after_a_large_one() {
        let mut steady = Vec::with_capacity(150_000);
        steady.resize(140_000, b'x');
        let kept = reusable(steady);
        assert!(kept.is_empty());
        assert!(kept.capacity() >= 150_000, "the buffer is kept");
        let mut shrunk = Vec::with_capacity(10 << 20);
        shrunk.resize(1_000, b'x');
        assert_eq!(reusable(shrunk).capacity(), 0, "a buffer far larger than its page is let go");
    }

    #[test]
    fn first_scrape_lands_on_the_target_phase() {
        let interval = Duration::from_secs(15);
        for (hash, now_ms) in [(0_u64, 1_000_i64), (7_500, 3_000), (14_999, 14_999), (123_456_789, 1_700_000_000_123)] {
            let wait = first_delay(interval, hash, 0, now_ms);
            assert!(wait < interval, "wait {wait:?} for hash {hash}");
            let scrape_ms = now_ms + i64::try_from(wait.as_millis()).unwrap();
            assert_eq!(scrape_ms.rem_euclid(15_000) as u64, hash % 15_000, "hash {hash} now {now_ms}");
        }
        // The seed moves the phase.
        assert_ne!(first_delay(interval, 1, 0, 0), first_delay(interval, 1, 2, 0));
    }
}
