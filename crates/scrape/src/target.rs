//! Targets: turning a discovered label set into the labels, URL and timing of one scrape, as
//! Prometheus' `PopulateLabels` does (defaults from the scrape config, target relabelling,
//! address and interval checks, removal of `__meta_*` labels, `instance` defaulting).
//!
//! This module does no I/O; the scrape loop owns the HTTP requests.

use std::collections::BTreeMap;
use std::time::Duration;

use panoptes_model::time::{format_duration, parse_duration};
use panoptes_model::{Label, Labels};

use crate::config::ScrapeConfig;
use crate::discovery::TargetGroup;
use crate::relabel;

/// The label holding a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";
/// The label holding a target's URL scheme.
pub const SCHEME_LABEL: &str = "__scheme__";
/// The label holding a target's metrics path.
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
/// The label holding a target's scrape interval.
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
/// The label holding a target's scrape timeout.
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
/// The prefix of labels that set URL query parameters.
pub const PARAM_LABEL_PREFIX: &str = "__param_";
/// The prefix of discovery metadata labels, removed after relabelling.
pub const META_LABEL_PREFIX: &str = "__meta_";
/// The prefix of labels that never reach stored series.
pub const RESERVED_LABEL_PREFIX: &str = "__";

/// Why a discovered target cannot be scraped; messages match Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// No `__address__` after relabelling.
    #[error("no address")]
    NoAddress,
    /// The address is not a `host:port` (for example a URL).
    #[error("{0:?} is not a valid hostname")]
    InvalidAddress(String),
    /// `__scrape_interval__` is not a duration.
    #[error("error parsing scrape interval: {0}")]
    InvalidInterval(String),
    /// `__scrape_interval__` is zero.
    #[error("scrape interval cannot be 0")]
    ZeroInterval,
    /// `__scrape_timeout__` is not a duration.
    #[error("error parsing scrape timeout: {0}")]
    InvalidTimeout(String),
    /// `__scrape_timeout__` is zero.
    #[error("scrape timeout cannot be 0")]
    ZeroTimeout,
    /// The timeout exceeds the interval.
    #[error("scrape timeout cannot be greater than scrape interval ({timeout:?} > {interval:?})")]
    TimeoutAboveInterval {
        /// The timeout as written in the label.
        timeout: String,
        /// The interval as written in the label.
        interval: String,
    },
}

/// One scrape target after relabelling.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// All labels after relabelling, internal `__` labels included (but no `__meta_*`).
    labels: Labels,
    /// The labels as discovered, before relabelling.
    discovered_labels: Labels,
    /// Query parameters from the scrape config.
    params: BTreeMap<String, Vec<String>>,
    interval: Duration,
    timeout: Duration,
}

impl Target {
    /// Returns the labels attached to every scraped series: those not starting with `__`.
    pub fn labels(&self) -> Labels {
        let public =
            self.labels.iter().filter(|label| !label.name.starts_with(RESERVED_LABEL_PREFIX)).cloned().collect();
        Labels::from_sorted_unchecked(public)
    }

    /// Returns every label after relabelling, internal ones included.
    pub fn internal_labels(&self) -> &Labels {
        &self.labels
    }

    /// Returns the labels as discovered, before relabelling (shown by the targets API).
    pub fn discovered_labels(&self) -> &Labels {
        &self.discovered_labels
    }

    /// Returns the scrape interval from `__scrape_interval__`.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Returns the scrape timeout from `__scrape_timeout__`.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Returns the URL to scrape: `__scheme__://__address____metrics_path__?params`, where
    /// `__param_<name>` labels override the first value of the configured parameter.
    pub fn url(&self) -> String {
        let mut params = self.params.clone();
        for label in self.labels.iter() {
            if let Some(name) = label.name.strip_prefix(PARAM_LABEL_PREFIX) {
                let values = params.entry(name.to_owned()).or_default();
                match values.first_mut() {
                    Some(first) => *first = label.value.to_string(),
                    None => values.push(label.value.to_string()),
                }
            }
        }
        let scheme = self.labels.get(SCHEME_LABEL).unwrap_or_default();
        let address = self.labels.get(ADDRESS_LABEL).unwrap_or_default();
        let path = self.labels.get(METRICS_PATH_LABEL).unwrap_or_default();
        let mut url = format!("{scheme}://{address}{}", escape_path(path));
        let query: Vec<String> = params
            .iter()
            .flat_map(|(name, values)| {
                values.iter().map(move |value| format!("{}={}", escape_query(name), escape_query(value)))
            })
            .collect();
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }
}

/// Percent-encodes a query component like Go's `url.QueryEscape` (space becomes `+`).
fn escape_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Percent-encodes a path like Go's `url.URL.EscapedPath`, keeping `/` and the sub-delimiters
/// Go leaves alone.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'/'
            | b'$'
            | b'&'
            | b'+'
            | b','
            | b':'
            | b';'
            | b'='
            | b'@' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Returns the labels of a discovered target before relabelling: the target's own labels, then
/// its group's, then the scrape config's defaults (`job`, `__scheme__`, `__metrics_path__`,
/// `__scrape_interval__`, `__scrape_timeout__`, `__param_*`) where not already set.
pub fn discovered_labels(
    config: &ScrapeConfig,
    target_labels: &BTreeMap<String, String>,
    group_labels: &BTreeMap<String, String>,
) -> Labels {
    let mut labels: BTreeMap<String, String> = target_labels.clone();
    for (name, value) in group_labels {
        labels.entry(name.clone()).or_insert_with(|| value.clone());
    }
    let defaults = [
        ("job", config.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, format_duration(config.scrape_interval)),
        (SCRAPE_TIMEOUT_LABEL, format_duration(config.scrape_timeout)),
        (METRICS_PATH_LABEL, config.metrics_path.clone()),
        (SCHEME_LABEL, config.scheme.clone()),
    ];
    for (name, value) in defaults {
        let entry = labels.entry(name.to_owned()).or_default();
        if entry.is_empty() {
            *entry = value;
        }
    }
    for (name, values) in &config.params {
        if let Some(first) = values.first() {
            let entry = labels.entry(format!("{PARAM_LABEL_PREFIX}{name}")).or_default();
            if entry.is_empty() {
                entry.clone_from(first);
            }
        }
    }
    Labels::from_pairs(labels)
}

/// Builds a target from a discovered label set, as Prometheus' `PopulateLabels` does.
///
/// Returns `Ok(None)` when target relabelling drops the target.
///
/// # Errors
///
/// Returns a [`TargetError`] when the relabelled labels have no usable address or timing.
pub fn populate(config: &ScrapeConfig, discovered: Labels) -> Result<Option<Target>, TargetError> {
    let Some(relabelled) = relabel::process(&discovered, &config.relabel_configs) else {
        return Ok(None);
    };
    let address = relabelled.get(ADDRESS_LABEL).ok_or(TargetError::NoAddress)?.to_owned();
    if address.contains('/') {
        return Err(TargetError::InvalidAddress(address));
    }
    let interval_text = relabelled.get(SCRAPE_INTERVAL_LABEL).unwrap_or_default().to_owned();
    let interval = parse_duration(&interval_text).map_err(TargetError::InvalidInterval)?;
    if interval.is_zero() {
        return Err(TargetError::ZeroInterval);
    }
    let timeout_text = relabelled.get(SCRAPE_TIMEOUT_LABEL).unwrap_or_default().to_owned();
    let timeout = parse_duration(&timeout_text).map_err(TargetError::InvalidTimeout)?;
    if timeout.is_zero() {
        return Err(TargetError::ZeroTimeout);
    }
    if timeout > interval {
        return Err(TargetError::TimeoutAboveInterval { timeout: timeout_text, interval: interval_text });
    }
    let mut labels: Vec<Label> =
        relabelled.into_vec().into_iter().filter(|label| !label.name.starts_with(META_LABEL_PREFIX)).collect();
    if !labels.iter().any(|label| &*label.name == "instance") {
        labels.push(Label::new("instance", address));
    }
    Ok(Some(Target {
        labels: Labels::from_vec(labels),
        discovered_labels: discovered,
        params: config.params.clone(),
        interval,
        timeout,
    }))
}

/// The outcome of turning one target group into targets.
#[derive(Debug, Default)]
pub struct GroupTargets {
    /// Targets to scrape.
    pub active: Vec<Target>,
    /// Discovered label sets that relabelling dropped (for the targets API).
    pub dropped: Vec<Labels>,
    /// Targets that could not be built, with the reason, as Prometheus reports them.
    pub failures: Vec<String>,
}

/// Turns a target group into targets for `config`, as Prometheus' `TargetsFromGroup` does;
/// failures name the target's index and the group's source.
pub fn targets_from_group(config: &ScrapeConfig, group: &TargetGroup) -> GroupTargets {
    let mut out = GroupTargets::default();
    for (index, target_labels) in group.targets.iter().enumerate() {
        let discovered = discovered_labels(config, target_labels, &group.labels);
        match populate(config, discovered.clone()) {
            Ok(Some(target)) => out.active.push(target),
            Ok(None) => out.dropped.push(discovered),
            Err(error) => out.failures.push(format!("instance {index} in group {}: {error}", group.source)),
        }
    }
    out
}

#[cfg(test)]
mod tests;
