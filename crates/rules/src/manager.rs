//! The rule manager: loads rule files, runs one Tokio task per group at Prometheus-aligned
//! evaluation times, carries state across reloads, restores alert state after a start, and
//! hands alerts to a [`Notifier`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use panoptes_model::Labels;
use panoptes_promql::Engine;
use panoptes_storage::StorageRef;
use tokio::sync::watch;

use crate::api::{AlertDiscovery, RuleDiscovery, alert_discovery, rule_discovery};
use crate::error::{Error, RuleFileError};
use crate::file::{ParseOptions, load_rule_file};
use crate::group::{AlertStateChange, AlertToSend, Group, RestoreOptions};
use crate::rule::{EvalContext, millis};

/// Receives the alerts a group wants sent after each evaluation.
///
/// Contract: must not block for long (queue and return); is called from blocking evaluation
/// threads, never while a group is being evaluated by another caller.
pub trait Notifier: Send + Sync {
    /// Sends `alerts`, which are never empty.
    fn send(&self, alerts: Vec<AlertToSend>);
}

/// A shared notifier.
pub type NotifierRef = Arc<dyn Notifier>;

/// Receives the alert state changes of each evaluation (for the alert history).
///
/// Contract: as [`Notifier`]: called from blocking evaluation threads after the evaluation,
/// with the changes in the order they were seen; may do blocking I/O but should be quick.
pub trait StateObserver: Send + Sync {
    /// Records `changes`, which are never empty.
    fn observe(&self, changes: Vec<AlertStateChange>);
}

/// A shared state observer.
pub type StateObserverRef = Arc<dyn StateObserver>;

/// Programmatic knobs of the rule manager.
#[derive(Debug, Clone)]
pub struct RuleManagerOptions {
    /// The interval of groups that set none (Prometheus' `global.evaluation_interval`, 1m).
    pub evaluation_interval: Duration,
    /// The query offset of groups that set none (`global.rule_query_offset`, 0).
    pub query_offset: Duration,
    /// External labels, visible to templates.
    pub external_labels: Labels,
    /// External URL, visible to templates.
    pub external_url: String,
    /// The least time between two sends of an unchanged alert (`--rules.alert.resend-delay`, 1m).
    pub resend_delay: Duration,
    /// How alert state is restored after a start.
    pub restore: RestoreOptions,
    /// Accept unknown keys in rule files.
    pub ignore_unknown_fields: bool,
}

impl Default for RuleManagerOptions {
    fn default() -> Self {
        Self {
            evaluation_interval: Duration::from_secs(60),
            query_offset: Duration::ZERO,
            external_labels: Labels::empty(),
            external_url: String::new(),
            resend_delay: Duration::from_secs(60),
            restore: RestoreOptions::default(),
            ignore_unknown_fields: false,
        }
    }
}

/// The `global:` settings of the configuration that rules depend on.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalRuleSettings {
    /// The interval of groups that set none (`global.evaluation_interval`).
    pub evaluation_interval: Duration,
    /// The query offset of groups that set none (`global.rule_query_offset`).
    pub query_offset: Duration,
    /// External labels, visible to templates.
    pub external_labels: Labels,
}

impl Default for GlobalRuleSettings {
    fn default() -> Self {
        let options = RuleManagerOptions::default();
        Self {
            evaluation_interval: options.evaluation_interval,
            query_offset: options.query_offset,
            external_labels: options.external_labels,
        }
    }
}

impl Inner {
    /// Returns the current evaluation context.
    fn context(&self) -> Arc<EvalContext> {
        self.context.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

struct GroupHandle {
    group: Arc<Mutex<Group>>,
    stop: watch::Sender<bool>,
}

struct Inner {
    /// Replaced as a whole when a reload changes the external labels.
    context: RwLock<Arc<EvalContext>>,
    options: RuleManagerOptions,
    /// `global:` settings as of the last update (a reload may change them).
    globals: Mutex<GlobalRuleSettings>,
    notifier: Option<NotifierRef>,
    observer: Mutex<Option<StateObserverRef>>,
    groups: Mutex<Vec<((String, String), GroupHandle)>>,
    has_loaded: Mutex<bool>,
}

/// Runs rule groups. Cheap to clone; clones share the groups.
#[derive(Clone)]
pub struct RuleManager {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RuleManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleManager").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

impl RuleManager {
    /// Returns a manager without groups, evaluating against `storage` with `engine`.
    pub fn new(
        storage: StorageRef,
        engine: Engine,
        options: RuleManagerOptions,
        notifier: Option<NotifierRef>,
    ) -> Self {
        let context = EvalContext {
            storage,
            engine,
            external_labels: options.external_labels.clone(),
            external_url: options.external_url.clone(),
        };
        let globals = GlobalRuleSettings {
            evaluation_interval: options.evaluation_interval,
            query_offset: options.query_offset,
            external_labels: options.external_labels.clone(),
        };
        Self {
            inner: Arc::new(Inner {
                context: RwLock::new(Arc::new(context)),
                globals: Mutex::new(globals),
                options,
                notifier,
                observer: Mutex::new(None),
                groups: Mutex::new(Vec::new()),
                has_loaded: Mutex::new(false),
            }),
        }
    }

    /// Sets the observer of alert state changes; set it before the first [`RuleManager::update`]
    /// so that no change is missed.
    pub fn set_state_observer(&self, observer: StateObserverRef) {
        *self.inner.observer.lock().unwrap_or_else(|e| e.into_inner()) = Some(observer);
    }

    /// Loads `files` (already expanded from `rule_files` globs) and replaces the running
    /// groups: unchanged groups (same file and name) keep their alerts and series, removed
    /// groups stop and mark their series stale, new groups start. On the first load, alert
    /// state is restored from the store after the second evaluation, as Prometheus does.
    /// Must be called within a Tokio runtime.
    ///
    /// # Errors
    ///
    /// Returns every problem of every file; the running groups are then left unchanged.
    pub fn update<P: AsRef<str>>(&self, files: &[P]) -> Result<(), Error> {
        let globals = self.inner.globals.lock().unwrap_or_else(|e| e.into_inner()).clone();
        self.update_with(files, globals)
    }

    /// As [`RuleManager::update`], with new `global:` settings: the default interval and query
    /// offset of groups that set none, and the external labels templates see. A group whose
    /// effective interval changes restarts on the new schedule, keeping its alerts.
    ///
    /// # Errors
    ///
    /// As [`RuleManager::update`]; the settings are then left unchanged too.
    pub fn update_with<P: AsRef<str>>(&self, files: &[P], globals: GlobalRuleSettings) -> Result<(), Error> {
        let options = ParseOptions { ignore_unknown_fields: self.inner.options.ignore_unknown_fields };
        let mut errors: Vec<RuleFileError> = Vec::new();
        let mut new_groups = Vec::new();
        let should_restore = {
            let mut has_loaded = self.inner.has_loaded.lock().unwrap_or_else(|e| e.into_inner());
            !std::mem::replace(&mut *has_loaded, true)
        };
        for path in files {
            let path = path.as_ref();
            match load_rule_file(path, options) {
                Ok(file) => {
                    for config in &file.groups {
                        match Group::new(config, path, globals.evaluation_interval, should_restore) {
                            Ok(group) => new_groups.push(group),
                            Err(error) => errors.push(RuleFileError {
                                path: path.to_owned(),
                                position: Some(config.position),
                                group: Some(config.name.clone()),
                                rule: None,
                                message: error.to_string(),
                            }),
                        }
                    }
                }
                Err(file_errors) => errors.extend(file_errors),
            }
        }
        if !errors.is_empty() {
            return Err(Error::InvalidRuleFile(errors));
        }
        {
            let mut context = self.inner.context.write().unwrap_or_else(|e| e.into_inner());
            if context.external_labels != globals.external_labels {
                let mut replaced = (**context).clone();
                replaced.external_labels = globals.external_labels.clone();
                *context = Arc::new(replaced);
            }
        }
        *self.inner.globals.lock().unwrap_or_else(|e| e.into_inner()) = globals;
        let mut running = self.inner.groups.lock().unwrap_or_else(|e| e.into_inner());
        let mut old: HashMap<(String, String), GroupHandle> = running.drain(..).collect();
        for mut group in new_groups {
            let key = group.key();
            if let Some(previous) = old.remove(&key) {
                let _ = previous.stop.send(true);
                let previous_group = previous.group.lock().unwrap_or_else(|e| e.into_inner());
                group.copy_state(&previous_group);
            }
            let handle = self.start(group);
            running.push((key, handle));
        }
        let now = panoptes_model::time::now_millis();
        for (_, handle) in old {
            let _ = handle.stop.send(true);
            let mut group = handle.group.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(error) = group.mark_stale(&self.inner.context(), now) {
                tracing::warn!(group = group.name(), error = %error, "cannot mark series of removed group stale");
            }
        }
        Ok(())
    }

    fn start(&self, group: Group) -> GroupHandle {
        let (stop, stopped) = watch::channel(false);
        let group = Arc::new(Mutex::new(group));
        tokio::spawn(run_group(Arc::clone(&self.inner), Arc::clone(&group), stopped));
        GroupHandle { group, stop }
    }

    /// Runs until `shutdown` completes, then stops every group.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        shutdown.await;
        let running = self.inner.groups.lock().unwrap_or_else(|e| e.into_inner());
        for (_, handle) in running.iter() {
            let _ = handle.stop.send(true);
        }
    }

    /// Returns `/api/v1/rules` data for the current groups.
    pub fn rule_groups(&self) -> RuleDiscovery {
        let groups = self.snapshot();
        rule_discovery(groups.iter())
    }

    /// Returns `/api/v1/alerts` data: the pending and firing alerts of every group.
    pub fn alerts(&self) -> AlertDiscovery {
        let groups = self.snapshot();
        alert_discovery(groups.iter())
    }

    /// Returns copies of the current groups (for routers and custom views).
    pub fn snapshot(&self) -> Vec<Group> {
        let running = self.inner.groups.lock().unwrap_or_else(|e| e.into_inner());
        running.iter().map(|(_, handle)| handle.group.lock().unwrap_or_else(|e| e.into_inner()).clone()).collect()
    }
}

/// Returns the first evaluation time at or after `now_ms`'s interval slot for a group, aligned
/// like Prometheus' `EvalTimestamp`: a stable per-group offset within the interval, derived from
/// the group's file and name, so groups spread over the interval and keep their phase across
/// restarts.
pub fn eval_timestamp(file: &str, name: &str, interval: Duration, now_ms: i64) -> i64 {
    let interval_ms = millis(interval).max(1);
    let hash = Labels::from_pairs([("file", file), ("name", name)]).hash_value();
    let offset = (hash % interval_ms as u64) as i64;
    let adjusted = now_ms - offset;
    let base = adjusted - adjusted.rem_euclid(interval_ms);
    base + offset
}

async fn run_group(inner: Arc<Inner>, group: Arc<Mutex<Group>>, mut stopped: watch::Receiver<bool>) {
    let (file, name, interval, mut should_restore) = {
        let group = group.lock().unwrap_or_else(|e| e.into_inner());
        (group.file().to_owned(), group.name().to_owned(), group.interval(), group.should_restore)
    };
    let interval_ms = millis(interval).max(1);
    let mut next = eval_timestamp(&file, &name, interval, panoptes_model::time::now_millis()) + interval_ms;
    let mut evaluations = 0u64;
    loop {
        let wait = (next - panoptes_model::time::now_millis()).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {}
            _ = stopped.changed() => return,
        }
        if *stopped.borrow() {
            return;
        }
        let ts = next;
        let inner_for_eval = Arc::clone(&inner);
        let group_for_eval = Arc::clone(&group);
        let restore_now = should_restore && evaluations == 1;
        let result = tokio::task::spawn_blocking(move || {
            let mut group = group_for_eval.lock().unwrap_or_else(|e| e.into_inner());
            let context = inner_for_eval.context();
            let query_offset = inner_for_eval.globals.lock().unwrap_or_else(|e| e.into_inner()).query_offset;
            let alerts = group.eval(&context, ts, query_offset, inner_for_eval.options.resend_delay);
            if restore_now {
                group.restore_for_state(&context, panoptes_model::time::now_millis(), inner_for_eval.options.restore);
                group.should_restore = false;
            }
            let changes = group.take_state_changes();
            drop(group);
            let observer = inner_for_eval.observer.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(observer) = observer
                && !changes.is_empty()
            {
                observer.observe(changes);
            }
            if let Some(notifier) = &inner_for_eval.notifier
                && !alerts.is_empty()
            {
                notifier.send(alerts);
            }
        })
        .await;
        if let Err(error) = result {
            tracing::error!(group = %name, error = %error, "rule group evaluation panicked");
        }
        if restore_now {
            should_restore = false;
        }
        evaluations += 1;
        // Skip the evaluations that were missed while this one ran, as Prometheus does.
        let now = panoptes_model::time::now_millis();
        let missed = ((now - next) / interval_ms - 1).max(0);
        next += (missed + 1) * interval_ms;
    }
}
