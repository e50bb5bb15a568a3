//! `PushStore`: the groups pushed so far, the Pushgateway's update rules and consistency checks,
//! and persistence after every change (format in `docs/format/pushgateway.md`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use panoptes_scrape::exposition::{Entry, Format, MetricType, Parser};
use parking_lot::Mutex;

use super::path::GroupingKey;
use super::persist;
use crate::{Error, Result};

/// The series name of the last successful change of each group.
pub(crate) const PUSH_TIME_METRIC: &str = "push_time_seconds";
/// Its help text, as the Pushgateway writes it.
pub(crate) const PUSH_TIME_HELP: &str = "Last Unix time when changing this group in the Pushgateway succeeded.";
/// The series name of the last failed change of each group.
pub(crate) const PUSH_FAILURE_TIME_METRIC: &str = "push_failure_time_seconds";
/// Its help text.
pub(crate) const PUSH_FAILURE_TIME_HELP: &str = "Last Unix time when changing this group in the Pushgateway failed.";

/// The type of a pushed metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FamilyType {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram` (series `_bucket`, `_sum`, `_count`).
    Histogram,
    /// `summary` (quantile series, `_sum`, `_count`).
    Summary,
    /// `untyped`: no `# TYPE` line.
    Untyped,
}

impl FamilyType {
    /// Returns the word the text format uses.
    pub fn as_str(self) -> &'static str {
        match self {
            FamilyType::Counter => "counter",
            FamilyType::Gauge => "gauge",
            FamilyType::Histogram => "histogram",
            FamilyType::Summary => "summary",
            FamilyType::Untyped => "untyped",
        }
    }

    fn from_exposition(metric_type: MetricType) -> FamilyType {
        match metric_type {
            MetricType::Counter => FamilyType::Counter,
            MetricType::Gauge => FamilyType::Gauge,
            MetricType::Histogram | MetricType::GaugeHistogram => FamilyType::Histogram,
            MetricType::Summary => FamilyType::Summary,
            MetricType::Info | MetricType::StateSet | MetricType::Unknown => FamilyType::Untyped,
        }
    }

    /// Returns the suffixes whose series belong to a family of this type besides its own name.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            FamilyType::Histogram => &["_bucket", "_sum", "_count"],
            FamilyType::Summary => &["_sum", "_count"],
            _ => &[],
        }
    }
}

/// One series of a family: its full name (with suffix), its labels other than the name (sorted,
/// grouping labels and `instance` included) and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSeries {
    /// The series name, for example `rpc_duration_seconds_bucket`.
    pub name: String,
    /// The labels without `__name__`, sorted by name; values may be empty (`instance=""`).
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// A metric family as pushed into one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The help text, empty when none was pushed.
    pub help: String,
    /// The type.
    pub family_type: FamilyType,
    /// The series, in push order.
    pub series: Vec<StoredSeries>,
    /// When the push that set this family happened, in milliseconds since the epoch.
    pub pushed_at_ms: i64,
}

/// One group: its grouping key, its families and the push time series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Group {
    /// The grouping key (`job` and the path labels).
    pub labels: GroupingKey,
    /// The families by name, without `push_time_seconds` and `push_failure_time_seconds`.
    pub families: BTreeMap<String, Family>,
    /// The last successful change in seconds since the epoch, 0 if none.
    pub push_time_seconds: f64,
    /// The last failed change in seconds since the epoch, 0 if none.
    pub push_failure_time_seconds: f64,
    /// When the push time series was last set, in milliseconds (for the JSON API).
    pub push_time_ms: i64,
    /// When the failure time series was last set, in milliseconds.
    pub push_failure_time_ms: i64,
}

/// How a push combines with what the group holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// `PUT`: the pushed families replace every family of the group.
    ReplaceGroup,
    /// `POST`: the pushed families replace the families of the same name only.
    ReplaceSameName,
}

/// Why a push was refused; the message is the text of the `400` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The body is not in the text format, or breaks a limit.
    #[error("{0}")]
    Malformed(String),
    /// The push would make the store inconsistent (recorded as a failed push of the group).
    #[error("pushed metrics are invalid or inconsistent with existing metrics: {0}")]
    Inconsistent(String),
}

/// Limits applied to every push.
#[derive(Debug, Clone)]
pub struct PushLimits {
    /// The most series one push may carry.
    pub max_series_per_push: usize,
    /// The most groups the store keeps; a push creating one more is refused.
    pub max_groups: usize,
    /// The most labels one series may have, grouping labels included.
    pub max_labels_per_series: usize,
    /// The longest label name or metric name, in bytes.
    pub max_label_name_bytes: usize,
    /// The longest label value, in bytes.
    pub max_label_value_bytes: usize,
}

impl Default for PushLimits {
    fn default() -> Self {
        Self {
            // Batch jobs push a few hundred series; 100k leaves room without risking memory.
            max_series_per_push: 100_000,
            max_groups: 100_000,
            max_labels_per_series: 64,
            max_label_name_bytes: 1024,
            max_label_value_bytes: 16 << 10,
        }
    }
}

/// The parsed body of one push: families by name.
pub type PushedFamilies = BTreeMap<String, Family>;

/// Parses a push body in the Prometheus text format 0.0.4 into families.
///
/// # Errors
///
/// Returns [`PushError::Malformed`] for a parse error (line and column) or a broken limit. The
/// returned flag says whether a series carries its own timestamp, which [`PushStore::push`]
/// refuses as the Pushgateway does (recording a failed push).
pub fn parse_push_body(body: &[u8], limits: &PushLimits) -> Result<(PushedFamilies, bool), PushError> {
    let mut families = PushedFamilies::new();
    let mut has_timestamps = false;
    let mut series_count = 0usize;
    for entry in Parser::new(body, Format::PrometheusText) {
        let entry = entry.map_err(|error| PushError::Malformed(format!("text format parsing error in {error}")))?;
        match entry {
            Entry::Help { family, help } => family_entry(&mut families, &family).help = help,
            Entry::Type { family, metric_type } => {
                family_entry(&mut families, &family).family_type = FamilyType::from_exposition(metric_type);
            }
            // `Parser::new` (not `Parser::lazy`) never yields raw entries.
            Entry::Unit { .. } | Entry::Raw(_) => {}
            Entry::Series(series) | Entry::Created(series) => {
                series_count += 1;
                if series_count > limits.max_series_per_push {
                    return Err(PushError::Malformed(format!(
                        "push has more than {} series, the limit per push",
                        limits.max_series_per_push
                    )));
                }
                has_timestamps |= series.timestamp_ms.is_some();
                series.labels.validate().map_err(|error| PushError::Malformed(error.to_string()))?;
                let name = series.labels.metric_name().unwrap_or_default().to_owned();
                let family_name = family_of(&families, &name);
                let family = family_entry(&mut families, &family_name);
                let mut labels = Vec::with_capacity(series.labels.len());
                for label in series.labels.iter().filter(|label| &*label.name != panoptes_model::METRIC_NAME) {
                    let mut value = label.value.to_string();
                    let is_bound = (family.family_type == FamilyType::Histogram && &*label.name == "le")
                        || (family.family_type == FamilyType::Summary && &*label.name == "quantile");
                    if is_bound {
                        // The Pushgateway stores bounds as floats and prints them back Go-style.
                        let bound = super::render::parse_go_float(&value).ok_or_else(|| {
                            PushError::Malformed(format!(
                                "text format parsing error: expected float as value for {:?} label, got {value:?}",
                                &*label.name
                            ))
                        })?;
                        value = super::render::format_go_float(bound);
                    }
                    labels.push((label.name.to_string(), value));
                }
                family.series.push(StoredSeries { name, labels, value: series.value });
            }
        }
    }
    Ok((families, has_timestamps))
}

fn family_entry<'a>(families: &'a mut PushedFamilies, name: &str) -> &'a mut Family {
    families.entry(name.to_owned()).or_insert_with(|| Family {
        help: String::new(),
        family_type: FamilyType::Untyped,
        series: Vec::new(),
        pushed_at_ms: 0,
    })
}

/// Returns the family a series name belongs to: a declared histogram or summary claims its
/// suffixed series, anything else is its own family.
fn family_of(families: &PushedFamilies, name: &str) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && families.get(base).is_some_and(|family| family.family_type.suffixes().contains(&suffix))
        {
            return base.to_owned();
        }
    }
    name.to_owned()
}

/// Sets the grouping labels on every series (their values win over pushed ones, as in the
/// Pushgateway's `sanitizeLabels`), adds `instance=""` when absent, and sorts the labels.
fn sanitize(families: &mut PushedFamilies, grouping: &GroupingKey) {
    for family in families.values_mut() {
        for series in &mut family.series {
            series.labels.retain(|(name, _)| !grouping.contains_key(name));
            series.labels.extend(grouping.iter().map(|(k, v)| (k.clone(), v.clone())));
            if !series.labels.iter().any(|(name, _)| name == "instance") {
                series.labels.push(("instance".to_owned(), String::new()));
            }
            series.labels.sort();
        }
    }
}

/// Returns the labels every push time series of a group carries.
pub(crate) fn group_series_labels(grouping: &GroupingKey) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = grouping.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if !grouping.contains_key("instance") {
        labels.push(("instance".to_owned(), String::new()));
        labels.sort();
    }
    labels
}

#[derive(Debug, Default)]
struct State {
    groups: BTreeMap<GroupingKey, Group>,
    /// Bumped on every change; compared with what was persisted last.
    generation: u64,
}

/// The Pushgateway's group store, persisted to one file after every change.
///
/// All methods are synchronous and may write and fsync a file: call them off the async workers.
#[derive(Debug)]
pub struct PushStore {
    state: Mutex<State>,
    /// The file, or `None` for a store kept in memory only.
    path: Option<PathBuf>,
    /// Serialises writers and remembers the generation on disk, so that concurrent changes are
    /// persisted once.
    persisted_generation: Mutex<u64>,
    limits: PushLimits,
}

/// The file name of the store inside its data directory.
pub const STORE_FILE_NAME: &str = "pushgateway.json";

impl PushStore {
    /// Opens the store in `dir` (created if missing), loading `pushgateway.json` when present.
    /// A file that cannot be decoded is renamed aside (`.corrupt`) with an error log and the
    /// store starts empty, so that a damaged file never prevents start-up.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the directory cannot be created or the file cannot be read.
    pub fn open(dir: &Path, limits: PushLimits) -> Result<PushStore> {
        std::fs::create_dir_all(dir)
            .map_err(|source| Error::io(format!("cannot create directory {}", dir.display()), source))?;
        let path = dir.join(STORE_FILE_NAME);
        let groups = match persist::load(&path) {
            Ok(groups) => groups,
            Err(Error::Corrupt { path, message }) => {
                let aside = path.with_extension("json.corrupt");
                tracing::error!(file = %path.display(), moved_to = %aside.display(), error = %message, "pushgateway store is corrupt, starting empty");
                std::fs::rename(&path, &aside)
                    .map_err(|source| Error::io(format!("cannot move aside {}", path.display()), source))?;
                Vec::new()
            }
            Err(error) => return Err(error),
        };
        let state =
            State { groups: groups.into_iter().map(|group| (group.labels.clone(), group)).collect(), generation: 0 };
        Ok(PushStore { state: Mutex::new(state), path: Some(path), persisted_generation: Mutex::new(0), limits })
    }

    /// Returns a store kept in memory only (tests, or no data directory).
    pub fn in_memory(limits: PushLimits) -> PushStore {
        PushStore { state: Mutex::default(), path: None, persisted_generation: Mutex::new(0), limits }
    }

    /// Returns the limits pushes are checked against.
    pub fn limits(&self) -> &PushLimits {
        &self.limits
    }

    /// Applies a parsed push to the group `grouping` at `now_ms`, with the Pushgateway's rules:
    /// pushed series must not carry timestamps, the grouping labels are set on every series,
    /// and the result must stay consistent (one type per family name across groups, no series
    /// twice, no histogram or summary whose suffixed series collide with another family). A
    /// refused push sets the group's `push_failure_time_seconds` (creating the group), a
    /// successful one its `push_time_seconds`; the change is persisted before returning.
    /// The returned [`PushOutcome`] says whether the push was accepted ([`PushError::Inconsistent`]
    /// when not) and whether persisting worked.
    pub fn push(
        &self,
        grouping: &GroupingKey,
        mut families: PushedFamilies,
        has_timestamps: bool,
        mode: PushMode,
        now_ms: i64,
    ) -> PushOutcome {
        let outcome = {
            let mut state = self.state.lock();
            let result = if has_timestamps {
                Err("pushed metrics must not have timestamps".to_owned())
            } else if !state.groups.contains_key(grouping) && state.groups.len() >= self.limits.max_groups {
                Err(format!("the store holds {} groups, the limit", self.limits.max_groups))
            } else {
                families.remove(PUSH_TIME_METRIC);
                families.remove(PUSH_FAILURE_TIME_METRIC);
                sanitize(&mut families, grouping);
                let mut candidate = state
                    .groups
                    .get(grouping)
                    .cloned()
                    .unwrap_or_else(|| Group { labels: grouping.clone(), ..Group::default() });
                if mode == PushMode::ReplaceGroup {
                    candidate.families.clear();
                }
                for (name, mut family) in families {
                    family.pushed_at_ms = now_ms;
                    candidate.families.insert(name, family);
                }
                check_limits(&candidate, &self.limits)
                    .and_then(|()| check_consistency(&state.groups, &candidate))
                    .map(|()| candidate)
            };
            #[allow(clippy::cast_precision_loss)]
            let now_seconds = now_ms as f64 / 1000.0;
            state.generation += 1;
            match result {
                Ok(mut candidate) => {
                    candidate.push_time_seconds = now_seconds;
                    candidate.push_time_ms = now_ms;
                    state.groups.insert(grouping.clone(), candidate);
                    Ok(())
                }
                Err(message) => {
                    let group = state
                        .groups
                        .entry(grouping.clone())
                        .or_insert_with(|| Group { labels: grouping.clone(), ..Group::default() });
                    group.push_failure_time_seconds = now_seconds;
                    group.push_failure_time_ms = now_ms;
                    Err(PushError::Inconsistent(message))
                }
            }
        };
        PushOutcome { push: outcome, persist: self.persist() }
    }

    /// Deletes the group `grouping` (nothing happens when it does not exist) and persists.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the change could not be persisted (it stays in memory).
    pub fn delete(&self, grouping: &GroupingKey) -> Result<()> {
        {
            let mut state = self.state.lock();
            if state.groups.remove(grouping).is_some() {
                state.generation += 1;
            }
        }
        self.persist()
    }

    /// Deletes every group and persists.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the change could not be persisted.
    pub fn wipe(&self) -> Result<()> {
        {
            let mut state = self.state.lock();
            state.groups.clear();
            state.generation += 1;
        }
        self.persist()
    }

    /// Returns a copy of every group, sorted by grouping key.
    pub fn groups(&self) -> Vec<Group> {
        self.state.lock().groups.values().cloned().collect()
    }

    /// Writes the store to its file if it changed since the last write: a temporary file,
    /// fsync, rename over the old one, fsync of the directory.
    ///
    /// # Errors
    ///
    /// Returns an I/O error; the next change retries.
    pub fn persist(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let mut persisted = self.persisted_generation.lock();
        let (generation, document) = {
            let state = self.state.lock();
            if state.generation == *persisted {
                return Ok(());
            }
            (state.generation, persist::encode(state.groups.values()))
        };
        persist::write_atomically(path, document.as_bytes())?;
        *persisted = generation;
        Ok(())
    }

    /// Persists what is not yet on disk; call at shutdown.
    ///
    /// # Errors
    ///
    /// Returns an I/O error when the last changes could not be written.
    pub fn close(&self) -> Result<()> {
        self.persist()
    }
}

/// The result of [`PushStore::push`]: whether the push was accepted and whether persisting the
/// resulting state (accepted or failure timestamp) worked.
#[derive(Debug)]
pub struct PushOutcome {
    /// The push's own result.
    pub push: std::result::Result<(), PushError>,
    /// Persisting afterwards.
    pub persist: Result<()>,
}

fn check_limits(group: &Group, limits: &PushLimits) -> std::result::Result<(), String> {
    for family in group.families.values() {
        for series in &family.series {
            if series.labels.len() + 1 > limits.max_labels_per_series {
                return Err(format!(
                    "series {} has {} labels, more than the limit of {}",
                    series.name,
                    series.labels.len() + 1,
                    limits.max_labels_per_series
                ));
            }
            if series.name.len() > limits.max_label_name_bytes {
                return Err(format!(
                    "metric name {:?} is longer than {} bytes",
                    series.name, limits.max_label_name_bytes
                ));
            }
            for (name, value) in &series.labels {
                if name.len() > limits.max_label_name_bytes || value.len() > limits.max_label_value_bytes {
                    return Err(format!("label {name:?} of series {} is longer than the limit", series.name));
                }
            }
        }
    }
    Ok(())
}

/// Checks what the Pushgateway's gathering would refuse once `candidate` replaces its group:
/// a family name with two types, a series present twice, and suffix collisions between a
/// histogram or summary and another family.
fn check_consistency(groups: &BTreeMap<GroupingKey, Group>, candidate: &Group) -> std::result::Result<(), String> {
    let all_groups = groups.values().filter(|group| group.labels != candidate.labels).chain(std::iter::once(candidate));
    let mut types: HashMap<&str, FamilyType> = HashMap::new();
    let mut seen: HashSet<(&str, &[(String, String)])> = HashSet::new();
    for group in all_groups {
        for (name, family) in &group.families {
            if family.series.is_empty() {
                continue;
            }
            match types.get(name.as_str()) {
                Some(existing) if *existing != family.family_type => {
                    return Err(format!(
                        "metric family {name:?} is pushed as {} but exists as {} in another group",
                        family.family_type.as_str(),
                        existing.as_str()
                    ));
                }
                _ => {
                    types.insert(name, family.family_type);
                }
            }
            for series in &family.series {
                if !seen.insert((&series.name, &series.labels)) {
                    return Err(format!(
                        "collected metric {:?} {{{}}} was collected before with the same name and label values",
                        series.name,
                        series.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    for (name, family_type) in &types {
        for suffix in family_type.suffixes() {
            let suffixed = format!("{name}{suffix}");
            if types.contains_key(suffixed.as_str()) {
                return Err(format!(
                    "collected metric named {suffixed:?} collides with previously collected {} named {name:?}",
                    family_type.as_str()
                ));
            }
        }
    }
    Ok(())
}
