//! Appending one scrape to storage with Prometheus' rules (`scrapeLoop.append`): target labels
//! merged per `honor_labels` (clashing exposed labels become `exported_<name>`), metric
//! relabelling, label and sample limits, `honor_timestamps`, staleness markers for series that
//! disappear, and the `up` / `scrape_*` report series.
//!
//! A page is appended as one batch: any failure (parse error, limit) discards the whole page,
//! and, as Prometheus appends an empty scrape then, every series of the previous scrape gets a
//! staleness marker. HTTP and scheduling belong to the scrape loop, not here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use panoptes_model::{Label, Labels, METRIC_NAME, stale_nan};
use panoptes_storage::{Appender, SeriesHandle, Storage};
use xxhash_rust::xxh3::Xxh3Builder;

use crate::config::{NameValidationScheme, ScrapeConfig};
use crate::exposition::{Entry, Format, MetricType, ParseError, Parser, parse_series_text};
use crate::relabel::{self, RelabelConfig};

/// The per-job settings that shape how samples are appended.
#[derive(Debug, Clone, Copy)]
pub struct AppendOptions<'a> {
    /// Keeps exposed labels that clash with target labels (else they become `exported_*`).
    pub honor_labels: bool,
    /// Uses the timestamps the page carries.
    pub honor_timestamps: bool,
    /// Also writes staleness markers for series with explicit timestamps.
    pub track_timestamps_staleness: bool,
    /// Relabelling applied to every sample.
    pub metric_relabel_configs: &'a [RelabelConfig],
    /// The most samples per scrape after relabelling; 0 means no limit.
    pub sample_limit: u64,
    /// The most labels per series; 0 means no limit.
    pub label_limit: u64,
    /// The longest label name in bytes; 0 means no limit.
    pub label_name_length_limit: u64,
    /// The longest label value in bytes; 0 means no limit.
    pub label_value_length_limit: u64,
    /// Which metric and label names are accepted.
    pub name_validation_scheme: NameValidationScheme,
}

impl<'a> AppendOptions<'a> {
    /// Returns the options of a loaded scrape config.
    pub fn from_config(config: &'a ScrapeConfig) -> Self {
        AppendOptions {
            honor_labels: config.honor_labels,
            honor_timestamps: config.honor_timestamps,
            track_timestamps_staleness: config.track_timestamps_staleness,
            metric_relabel_configs: &config.metric_relabel_configs,
            sample_limit: config.sample_limit,
            label_limit: config.label_limit,
            label_name_length_limit: config.label_name_length_limit,
            label_value_length_limit: config.label_value_length_limit,
            name_validation_scheme: match config.metric_name_validation_scheme.as_deref() {
                Some("legacy") => NameValidationScheme::Legacy,
                _ => NameValidationScheme::Utf8,
            },
        }
    }
}

/// Counts from appending one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppendReport {
    /// Samples in the page, before metric relabelling (`scrape_samples_scraped`).
    pub samples_scraped: u64,
    /// Samples left after metric relabelling (`scrape_samples_post_metric_relabeling`).
    pub samples_post_metric_relabeling: u64,
    /// Series appended that were not in the previous scrape (`scrape_series_added`).
    pub series_added: u64,
    /// Samples rejected as out of order.
    pub out_of_order: u64,
    /// Samples rejected as duplicates with a different value.
    pub duplicate: u64,
    /// Samples rejected as too old.
    pub too_old: u64,
    /// Samples rejected for invalid labels.
    pub invalid_labels: u64,
}

/// Why a page was not appended; messages match Prometheus' scrape errors.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The page is malformed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A series has no metric name after relabelling.
    #[error("missing metric name (__name__ label)")]
    MissingMetricName,
    /// Under legacy name validation, a series has a name that is not a legacy name.
    #[error("invalid metric name or label names: {series}")]
    InvalidNames {
        /// The series, printed.
        series: String,
    },
    /// More samples than `sample_limit`.
    #[error("sample limit exceeded")]
    SampleLimit,
    /// A series has more labels than `label_limit`.
    #[error("label_limit exceeded (metric: {metric:.50}, number of labels: {count}, limit: {limit})")]
    LabelLimit {
        /// The metric name.
        metric: String,
        /// The series' label count.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// A label name is longer than `label_name_length_limit`.
    #[error(
        "label_name_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, length: {length}, limit: {limit})"
    )]
    LabelNameLength {
        /// The metric name.
        metric: String,
        /// The label name.
        name: String,
        /// Its length in bytes.
        length: u64,
        /// The limit.
        limit: u64,
    },
    /// A label value is longer than `label_value_length_limit`.
    #[error(
        "label_value_length_limit exceeded (metric: {metric:.50}, label name: {name:.50}, value: {quoted_value}, length: {length}, limit: {limit})"
    )]
    LabelValueLength {
        /// The metric name.
        metric: String,
        /// The label name.
        name: String,
        /// The first 50 characters of the value, quoted.
        quoted_value: String,
        /// Its length in bytes.
        length: u64,
        /// The limit.
        limit: u64,
    },
    /// The store failed (not a per-sample rejection).
    #[error("cannot append scraped samples")]
    Storage(#[from] panoptes_storage::Error),
}

impl panoptes_model::Classify for AppendError {
    fn kind(&self) -> panoptes_model::ErrorKind {
        match self {
            AppendError::Storage(error) => error.kind(),
            AppendError::SampleLimit
            | AppendError::LabelLimit { .. }
            | AppendError::LabelNameLength { .. }
            | AppendError::LabelValueLength { .. } => panoptes_model::ErrorKind::TooManyRequests,
            AppendError::Parse(_) | AppendError::MissingMetricName | AppendError::InvalidNames { .. } => {
                panoptes_model::ErrorKind::BadData
            }
        }
    }
}

/// Remembers, per target, the series of the previous scrape by their text on the page: known
/// series skip label parsing, target label merging, relabelling and validation, those that
/// vanish get a staleness marker, and those that appear count as added (Prometheus'
/// `scrapeCache`). It keeps them in page order: while a page lists its series in the same
/// order as before, the parser only compares each series' text with the one expected next,
/// with no scan for the end of its labels and no hash lookup.
#[derive(Debug, Default)]
pub struct ScrapeCache {
    /// The series of the last successful scrape (and, during an append, of the current one) with
    /// their text on the page, in the order first seen: for a page whose series keep their
    /// order, the page's order, so that each series is usually the one after the last.
    slots: Vec<Slot>,
    /// Where each text of `slots` is.
    slot_by_text: HashMap<Arc<[u8]>, usize, Xxh3Builder>,
    /// Series given in the `{"name", ...}` form, which the lazy parser does not yield as text.
    quoted_series: HashMap<Labels, CachedSeries, Xxh3Builder>,
    /// Counts successful scrapes; `CachedSeries::scraped_in` refers to it.
    generation: u64,
    /// Series of the last scrape under settings that changed since ([`ScrapeCache::reset_labels`]):
    /// those the next scrape does not append again get a staleness marker.
    orphans: Vec<Labels>,
    /// Metric metadata of the last successful scrape, shared with the metadata APIs.
    metadata: Arc<BTreeMap<String, MetricMetadata>>,
}

/// A series written `name` or `name{...}` on the page, and its text there.
#[derive(Debug)]
struct Slot {
    text: Arc<[u8]>,
    cached: CachedSeries,
}

/// What the cache knows about one series of a target.
#[derive(Debug, Clone)]
struct CachedSeries {
    /// The stored labels (target labels merged, relabelled); `None` when relabelling drops it.
    labels: Option<Labels>,
    /// The generation of the last scrape that had this series.
    scraped_in: u64,
    /// `scraped_in` before the current append, to undo a failed one.
    previous: u64,
    /// Whether it gets a staleness marker when it vanishes (no explicit timestamp, or
    /// `track_timestamps_staleness`).
    is_tracked: bool,
    /// The store's handle on the series, so appends skip the label lookup.
    handle: Option<SeriesHandle>,
}

/// What appending a page's entries produced: the report and the metadata of its families.
type PageAppended = (AppendReport, BTreeMap<String, MetricMetadata>);

/// What a page says about a metric family: `# TYPE`, `# HELP` and `# UNIT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricMetadata {
    /// The announced type (`unknown` when only HELP or UNIT was given).
    pub metric_type: MetricType,
    /// The help text.
    pub help: String,
    /// The unit (OpenMetrics only).
    pub unit: String,
}

impl ScrapeCache {
    /// Returns an empty cache, as for a new target.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the metric metadata of the last successful scrape, by family name.
    pub fn metadata(&self) -> Arc<BTreeMap<String, MetricMetadata>> {
        self.metadata.clone()
    }

    /// Forgets the stored labels of every series, for a scrape config whose relabelling or label
    /// handling changed: the next scrape builds them again, and series of the last scrape it no
    /// longer appends get a staleness marker.
    pub fn reset_labels(&mut self) {
        let last = self.generation;
        self.slot_by_text.clear();
        self.orphans = self
            .slots
            .drain(..)
            .map(|slot| slot.cached)
            .chain(self.quoted_series.drain().map(|(_, cached)| cached))
            .filter(|cached| cached.is_tracked && cached.scraped_in == last)
            .filter_map(|cached| cached.labels)
            .collect();
    }

    /// Returns how many series the last successful scrape had.
    pub fn len(&self) -> usize {
        self.slots.len() + self.quoted_series.len()
    }

    /// Returns whether the last successful scrape had no series (or there was none).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one page scraped at `scrape_time_ms` for a target whose public labels are
    /// `target_labels`, and commits it.
    ///
    /// # Errors
    ///
    /// Returns why the page was discarded; staleness markers for the previous scrape's series
    /// have then been written and committed, as Prometheus does after a failed scrape.
    pub fn append_page(
        &mut self,
        storage: &dyn Storage,
        page: &[u8],
        format: Format,
        target_labels: &Labels,
        options: &AppendOptions<'_>,
        scrape_time_ms: i64,
    ) -> Result<AppendReport, AppendError> {
        let mut appender = storage.appender();
        let current = self.generation + 1;
        match self.append_entries(appender.as_mut(), page, format, target_labels, options, scrape_time_ms) {
            Ok((report, metadata)) => {
                let vanished = self
                    .slots
                    .iter()
                    .map(|slot| &slot.cached)
                    .chain(self.quoted_series.values())
                    .filter(|cached| cached.scraped_in != current && cached.is_tracked);
                let mut stale: Vec<&Labels> = vanished.filter_map(|cached| cached.labels.as_ref()).collect();
                let orphans = std::mem::take(&mut self.orphans);
                if !orphans.is_empty() {
                    let appended: std::collections::HashSet<&Labels> = self
                        .slots
                        .iter()
                        .map(|slot| &slot.cached)
                        .chain(self.quoted_series.values())
                        .filter(|cached| cached.scraped_in == current)
                        .filter_map(|cached| cached.labels.as_ref())
                        .collect();
                    stale.extend(orphans.iter().filter(|labels| !appended.contains(labels)));
                }
                for labels in stale {
                    // A marker the store rejects (say, out of order) is as good as written.
                    if let Err(error) = appender.append(labels, scrape_time_ms, stale_nan())
                        && !error.is_sample_error()
                    {
                        return Err(error.into());
                    }
                }
                appender.commit()?;
                self.forget_slots_not_scraped_in(current);
                self.quoted_series.retain(|_, cached| cached.scraped_in == current);
                self.generation = current;
                if *self.metadata != metadata {
                    self.metadata = Arc::new(metadata);
                }
                Ok(report)
            }
            Err(error) => {
                drop(appender);
                // Undo the partial append, then forget the previous scrape's series.
                let slots = self.slots.iter_mut().map(|slot| &mut slot.cached);
                for cached in slots.chain(self.quoted_series.values_mut()) {
                    if cached.scraped_in == current {
                        cached.scraped_in = cached.previous;
                    }
                }
                self.mark_all_stale(storage, scrape_time_ms)?;
                Err(error)
            }
        }
    }

    /// Writes a staleness marker at `t` for every tracked series of the previous scrape and
    /// forgets them: for a failed scrape, or a target that went away.
    ///
    /// # Errors
    ///
    /// Returns a storage error other than a per-sample rejection.
    pub fn mark_all_stale(&mut self, storage: &dyn Storage, t: i64) -> Result<(), panoptes_storage::Error> {
        let mut appender = storage.appender();
        let last = self.generation;
        let stale = self
            .slots
            .iter()
            .map(|slot| &slot.cached)
            .chain(self.quoted_series.values())
            .filter(|cached| cached.is_tracked && cached.scraped_in == last);
        for labels in stale.filter_map(|cached| cached.labels.as_ref()) {
            if let Err(error) = appender.append(labels, t, stale_nan())
                && !error.is_sample_error()
            {
                return Err(error);
            }
        }
        appender.commit()?;
        self.slots.clear();
        self.slot_by_text.clear();
        self.quoted_series.clear();
        // A new generation: whatever comes next counts as added.
        self.generation += 1;
        Ok(())
    }

    /// Appends every sample of the page, updating the cache entries to the current generation;
    /// returns the report and the page's metadata.
    fn append_entries(
        &mut self,
        appender: &mut dyn Appender,
        page: &[u8],
        format: Format,
        target_labels: &Labels,
        options: &AppendOptions<'_>,
        scrape_time_ms: i64,
    ) -> Result<PageAppended, AppendError> {
        let previous_generation = self.generation;
        let current = previous_generation + 1;
        let mut report = AppendReport::default();
        let mut metadata: BTreeMap<String, MetricMetadata> = BTreeMap::new();
        let unknown = || MetricMetadata { metric_type: MetricType::Unknown, help: String::new(), unit: String::new() };
        let mut is_sample_limit_exceeded = false;
        let mut parser = Parser::lazy(page, format);
        // The slot after the last series' one: the series expected next.
        let mut next_slot = 0;
        loop {
            let expected = self.slots.get(next_slot).map(|slot| &*slot.text);
            let Some(entry) = parser.next_expecting(expected) else { break };
            let (cached, value, timestamp_ms) = match entry? {
                Entry::Raw(raw) => {
                    // The expected series costs no lookup, another known one a lookup; a new
                    // one is built and added.
                    let index = if raw.is_expected {
                        next_slot
                    } else {
                        let text = &page[raw.span.clone()];
                        match self.slot_by_text.get(text) {
                            Some(&index) => index,
                            None => {
                                let exposed = parse_series_text(text, format, raw.line)?;
                                let labels = final_labels(&exposed, target_labels, options)?;
                                let text: Arc<[u8]> = text.into();
                                let index = self.slots.len();
                                self.slot_by_text.insert(text.clone(), index);
                                self.slots.push(Slot { text, cached: CachedSeries::new(labels) });
                                index
                            }
                        }
                    };
                    next_slot = index + 1;
                    (&mut self.slots[index].cached, raw.value, raw.timestamp_ms)
                }
                Entry::Series(series) | Entry::Created(series) => {
                    if !self.quoted_series.contains_key(&series.labels) {
                        let labels = final_labels(&series.labels, target_labels, options)?;
                        self.quoted_series.insert(series.labels.clone(), CachedSeries::new(labels));
                    }
                    let cached = self.quoted_series.get_mut(&series.labels).ok_or(AppendError::MissingMetricName)?;
                    (cached, series.value, series.timestamp_ms)
                }
                Entry::Help { family, help } => {
                    metadata.entry(family).or_insert_with(unknown).help = help;
                    continue;
                }
                Entry::Type { family, metric_type } => {
                    metadata.entry(family).or_insert_with(unknown).metric_type = metric_type;
                    continue;
                }
                Entry::Unit { family, unit } => {
                    metadata.entry(family).or_insert_with(unknown).unit = unit;
                    continue;
                }
            };
            report.samples_scraped += 1;
            let last_seen_in = cached.scraped_in;
            if last_seen_in != current {
                cached.previous = last_seen_in;
                cached.scraped_in = current;
            }
            let Some(labels) = &cached.labels else { continue };
            report.samples_post_metric_relabeling += 1;
            if options.sample_limit > 0 && report.samples_post_metric_relabeling > options.sample_limit {
                // Prometheus keeps counting to report the total, then discards the page.
                is_sample_limit_exceeded = true;
                continue;
            }
            let explicit_timestamp = timestamp_ms.filter(|_| options.honor_timestamps);
            let t = explicit_timestamp.unwrap_or(scrape_time_ms);
            let is_added = match appender.append_with_handle(&mut cached.handle, labels, t, value) {
                Ok(()) => true,
                Err(panoptes_storage::Error::OutOfOrder { .. }) => {
                    report.out_of_order += 1;
                    false
                }
                Err(panoptes_storage::Error::DuplicateSample { .. }) => {
                    report.duplicate += 1;
                    false
                }
                Err(panoptes_storage::Error::TooOld { .. }) => {
                    report.too_old += 1;
                    false
                }
                Err(panoptes_storage::Error::InvalidLabels(_)) => {
                    report.invalid_labels += 1;
                    false
                }
                Err(error) => return Err(error.into()),
            };
            // New: not in the previous scrape (nor earlier in this page).
            if is_added && last_seen_in != current && last_seen_in != previous_generation {
                report.series_added += 1;
            }
            cached.is_tracked = explicit_timestamp.is_none() || options.track_timestamps_staleness;
        }
        if is_sample_limit_exceeded {
            return Err(AppendError::SampleLimit);
        }
        Ok((report, metadata))
    }
}

impl ScrapeCache {
    /// Drops the slots of series that the scrape of generation `current` did not have, keeping
    /// the others in order.
    fn forget_slots_not_scraped_in(&mut self, current: u64) {
        if self.slots.iter().all(|slot| slot.cached.scraped_in == current) {
            return;
        }
        self.slots.retain(|slot| slot.cached.scraped_in == current);
        self.slot_by_text.clear();
        for (index, slot) in self.slots.iter().enumerate() {
            self.slot_by_text.insert(slot.text.clone(), index);
        }
    }
}

/// The generation of a series not scraped successfully yet.
const NEVER: u64 = u64::MAX;

impl CachedSeries {
    /// Returns the entry of a series seen for the first time.
    fn new(labels: Option<Labels>) -> Self {
        CachedSeries { labels, scraped_in: NEVER, previous: NEVER, is_tracked: true, handle: None }
    }
}

/// Returns the labels a scraped series is stored under, `None` when relabelling drops it, after
/// checking names and limits as Prometheus does.
fn final_labels(
    exposed: &Labels,
    target_labels: &Labels,
    options: &AppendOptions<'_>,
) -> Result<Option<Labels>, AppendError> {
    let Some(labels) = mutate_sample_labels(exposed, target_labels, options) else {
        return Ok(None);
    };
    let Some(metric_name) = labels.metric_name() else {
        return Err(AppendError::MissingMetricName);
    };
    if options.name_validation_scheme == NameValidationScheme::Legacy
        && (!is_legacy_metric_name(metric_name)
            || !labels
                .iter()
                .all(|label| &*label.name == METRIC_NAME || panoptes_model::is_valid_legacy_label_name(&label.name)))
    {
        return Err(AppendError::InvalidNames { series: labels.to_string() });
    }
    verify_label_limits(&labels, options)?;
    Ok(Some(labels))
}

/// Merges target labels into an exposed series and applies metric relabelling, as
/// Prometheus' `mutateSampleLabels` does; `None` when relabelling drops the series.
pub fn mutate_sample_labels(exposed: &Labels, target_labels: &Labels, options: &AppendOptions<'_>) -> Option<Labels> {
    let mut builder = exposed.builder();
    if options.honor_labels {
        for label in target_labels {
            if !exposed.has(&label.name) {
                builder.set(label.name.clone(), label.value.clone());
            }
        }
    } else {
        let mut conflicts: Vec<Label> = Vec::new();
        for label in target_labels {
            if let Some(existing) = exposed.get(&label.name) {
                conflicts.push(Label::new(label.name.clone(), existing));
            }
            builder.set(label.name.clone(), label.value.clone());
        }
        // Shorter names first, so that `exported_a` is claimed before `exported_exported_a`.
        conflicts.sort_by_key(|label| label.name.len());
        for conflict in conflicts {
            let mut name = conflict.name.to_string();
            loop {
                name = format!("exported_{name}");
                if builder.get(&name).is_none() {
                    builder.set(name, conflict.value.clone());
                    break;
                }
            }
        }
    }
    let labels = builder.build();
    let labels = if options.metric_relabel_configs.is_empty() {
        labels
    } else {
        relabel::process(&labels, options.metric_relabel_configs)?
    };
    (!labels.is_empty()).then_some(labels)
}

/// Returns whether `name` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn verify_label_limits(labels: &Labels, options: &AppendOptions<'_>) -> Result<(), AppendError> {
    let metric = || labels.metric_name().unwrap_or_default().to_owned();
    let count = u64::try_from(labels.len()).unwrap_or(u64::MAX);
    if options.label_limit > 0 && count > options.label_limit {
        return Err(AppendError::LabelLimit { metric: metric(), count, limit: options.label_limit });
    }
    for label in labels {
        let name_length = u64::try_from(label.name.len()).unwrap_or(u64::MAX);
        if options.label_name_length_limit > 0 && name_length > options.label_name_length_limit {
            return Err(AppendError::LabelNameLength {
                metric: metric(),
                name: label.name.to_string(),
                length: name_length,
                limit: options.label_name_length_limit,
            });
        }
        let value_length = u64::try_from(label.value.len()).unwrap_or(u64::MAX);
        if options.label_value_length_limit > 0 && value_length > options.label_value_length_limit {
            let truncated: String = label.value.chars().take(50).collect();
            return Err(AppendError::LabelValueLength {
                metric: metric(),
                name: label.name.to_string(),
                quoted_value: format!("{truncated:?}"),
                length: value_length,
                limit: options.label_value_length_limit,
            });
        }
    }
    Ok(())
}

/// The outcome of one scrape, reported as the `up` and `scrape_*` series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScrapeOutcome {
    /// Whether the scrape succeeded.
    pub is_up: bool,
    /// How long the scrape took.
    pub duration: Duration,
    /// The append counts (zero for a failed scrape).
    pub report: AppendReport,
    /// The values of the extra metrics, when `extra_scrape_metrics` is on.
    pub extra: Option<ExtraScrapeMetrics>,
}

/// The values behind Prometheus' optional extra scrape metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtraScrapeMetrics {
    /// The configured timeout (`scrape_timeout_seconds`).
    pub timeout: Duration,
    /// The configured sample limit (`scrape_sample_limit`).
    pub sample_limit: u64,
    /// The uncompressed body size, or -1 when the body limit was hit (`scrape_body_size_bytes`).
    pub body_size_bytes: i64,
}

/// Returns the report series and values for `outcome`, in Prometheus' order.
fn report_values(outcome: &ScrapeOutcome) -> Vec<(&'static str, f64)> {
    #[allow(clippy::cast_precision_loss)]
    let count = |value: u64| value as f64;
    let mut values = vec![
        ("up", if outcome.is_up { 1.0 } else { 0.0 }),
        ("scrape_duration_seconds", outcome.duration.as_secs_f64()),
        ("scrape_samples_scraped", count(outcome.report.samples_scraped)),
        ("scrape_samples_post_metric_relabeling", count(outcome.report.samples_post_metric_relabeling)),
        ("scrape_series_added", count(outcome.report.series_added)),
    ];
    if let Some(extra) = outcome.extra {
        #[allow(clippy::cast_precision_loss)]
        let body = extra.body_size_bytes as f64;
        values.push(("scrape_timeout_seconds", extra.timeout.as_secs_f64()));
        values.push(("scrape_sample_limit", count(extra.sample_limit)));
        values.push(("scrape_body_size_bytes", body));
    }
    values
}

/// Returns the labels of a report series: the target's labels and the metric name.
fn report_labels(name: &str, target_labels: &Labels) -> Labels {
    let mut builder = target_labels.builder();
    builder.set(METRIC_NAME, name);
    builder.build()
}

/// Appends and commits the report series of one scrape at `t`.
///
/// # Errors
///
/// Returns a storage error other than a per-sample rejection.
pub fn append_report(
    storage: &dyn Storage,
    target_labels: &Labels,
    outcome: &ScrapeOutcome,
    t: i64,
) -> Result<(), panoptes_storage::Error> {
    let mut appender = storage.appender();
    for (name, value) in report_values(outcome) {
        if let Err(error) = appender.append(&report_labels(name, target_labels), t, value)
            && !error.is_sample_error()
        {
            return Err(error);
        }
    }
    appender.commit()
}

/// Appends staleness markers at `t` for the report series of a target that went away.
///
/// # Errors
///
/// Returns a storage error other than a per-sample rejection.
pub fn append_report_stale(
    storage: &dyn Storage,
    target_labels: &Labels,
    has_extra_metrics: bool,
    t: i64,
) -> Result<(), panoptes_storage::Error> {
    let outcome = ScrapeOutcome {
        is_up: false,
        duration: Duration::ZERO,
        report: AppendReport::default(),
        extra: has_extra_metrics.then_some(ExtraScrapeMetrics {
            timeout: Duration::ZERO,
            sample_limit: 0,
            body_size_bytes: 0,
        }),
    };
    let mut appender = storage.appender();
    for (name, _) in report_values(&outcome) {
        if let Err(error) = appender.append(&report_labels(name, target_labels), t, stale_nan())
            && !error.is_sample_error()
        {
            return Err(error);
        }
    }
    appender.commit()
}

#[cfg(test)]
mod tests;
