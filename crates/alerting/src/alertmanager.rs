//! The router handle: opens the state in a data directory, receives alerts, reloads the
//! configuration and runs the dispatcher until shutdown. Cheap to clone.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use parking_lot::{Mutex, RwLock};
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::dispatch::{AggrGroup, GroupId, run_group};
use crate::error::{Error, Result};
use crate::history::{History, HistoryEvent, StateChange, StateSource};
use crate::inhibit::{InhibitRule, Inhibitor};
use crate::metrics::AlertingMetrics;
use crate::nflog::NotificationLog;
use crate::notify::{Integration, RateLimiter, build_integrations};
use crate::persist;
use crate::route::Route;
use crate::silence::Silences;
use crate::template::Templates;
use crate::timeinterval::TimeInterval;
use crate::types::{Alert, Fingerprint, LabelSet, fingerprint, fingerprint_string};

/// Programmatic knobs of the router.
#[derive(Debug, Clone)]
pub struct AlertmanagerOptions {
    /// The URL users reach the UI at, used in links (`.ExternalURL`).
    pub external_url: String,
    /// How long expired silences and notification log entries are kept (Alertmanager's
    /// `--data.retention`, 120h).
    pub retention: Duration,
    /// The timeout of one delivery request.
    pub request_timeout: Duration,
    /// The first wait between delivery retries.
    pub retry_initial_backoff: Duration,
    /// The longest wait between delivery retries.
    pub retry_max_backoff: Duration,
    /// How often resolved alerts are collected, state saved and gauges updated.
    pub maintenance_interval: Duration,
    /// The largest API request body accepted.
    pub max_request_body_bytes: usize,
    /// Where state changes and delivery attempts are recorded, if anywhere.
    pub history: Option<History>,
}

impl Default for AlertmanagerOptions {
    fn default() -> Self {
        AlertmanagerOptions {
            external_url: "http://localhost:9090".to_owned(),
            retention: Duration::from_secs(120 * 3600),
            request_timeout: Duration::from_secs(30),
            retry_initial_backoff: Duration::from_millis(500),
            retry_max_backoff: Duration::from_secs(60),
            maintenance_interval: Duration::from_secs(30),
            max_request_body_bytes: 8 << 20,
            history: None,
        }
    }
}

/// What a configuration turns into.
pub(crate) struct Loaded {
    pub(crate) config: Config,
    pub(crate) route: Arc<Route>,
    pub(crate) inhibit_rules: Vec<InhibitRule>,
    pub(crate) time_intervals: HashMap<String, Vec<TimeInterval>>,
    pub(crate) integrations: HashMap<String, Arc<Vec<Integration>>>,
    pub(crate) templates: Templates,
}

impl Loaded {
    fn build(config: Config, options: &AlertmanagerOptions) -> Result<Loaded> {
        let bad = |message: String| {
            Error::Config(crate::config::ConfigError::Invalid {
                origin: "alertmanager config".to_owned(),
                position: None,
                message,
            })
        };
        let route = Route::build(&config.route).map_err(bad)?;
        let inhibit_rules =
            config.inhibit_rules.iter().map(InhibitRule::new).collect::<std::result::Result<_, _>>().map_err(bad)?;
        let time_intervals = config
            .time_intervals
            .iter()
            .map(|interval| (interval.name.clone(), interval.time_intervals.clone()))
            .collect();
        let mut integrations = HashMap::new();
        for receiver in &config.receivers {
            let built = build_integrations(receiver, options.request_timeout)
                .map_err(|message| bad(format!("receiver {:?}: {message}", receiver.name)))?;
            integrations.insert(receiver.name.clone(), Arc::new(built));
        }
        let templates = Templates::from_globs(&config.templates).map_err(bad)?;
        Ok(Loaded { config, route, inhibit_rules, time_intervals, integrations, templates })
    }
}

enum Command {
    Dispatch(Vec<Alert>),
    /// Alerts held at the last shutdown, routed again at start.
    Restore(Vec<Alert>),
    Reload,
}

pub(crate) struct Inner {
    pub(crate) options: AlertmanagerOptions,
    alerts_path: PathBuf,
    loaded: RwLock<Arc<Loaded>>,
    alerts: Mutex<HashMap<Fingerprint, Alert>>,
    groups: Mutex<HashMap<GroupId, Arc<AggrGroup>>>,
    pub(crate) silences: Silences,
    pub(crate) nflog: NotificationLog,
    pub(crate) metrics: AlertingMetrics,
    pub(crate) limiter: Arc<RateLimiter>,
    pub(crate) robots: Arc<crate::notify::RobotQueues>,
    pub(crate) started_at: Timestamp,
    /// The mute state last recorded in the history, per alert (absent: active).
    pub(crate) mute_states: Mutex<HashMap<Fingerprint, MuteState>>,
    commands: mpsc::UnboundedSender<Command>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Command>>>,
}

impl Inner {
    pub(crate) fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read())
    }

    /// Records events in the history, if there is one: at once on a blocking thread, or
    /// through `spawn_blocking` on a runtime worker. Failures are logged, never returned: the
    /// history must not stop alerts.
    pub(crate) fn record(&self, events: Vec<(Timestamp, HistoryEvent)>) {
        let Some(history) = &self.options.history else { return };
        if events.is_empty() {
            return;
        }
        let append = move |history: &History| {
            if let Err(error) = history.append(events) {
                tracing::error!(error = %error, "cannot record alert history");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread => {
                let history = history.clone();
                // Keeps the order of appends from one caller: block_in_place runs it here.
                tokio::task::block_in_place(move || append(&history));
            }
            _ => append(history),
        }
    }

    pub(crate) fn alerts_snapshot(&self) -> Vec<Alert> {
        self.alerts.lock().values().cloned().collect()
    }

    /// Removes a group that holds no alerts; returns whether it did.
    pub(crate) fn remove_group_if_empty(&self, group: &Arc<AggrGroup>) -> bool {
        let mut groups = self.groups.lock();
        if !group.alerts.lock().is_empty() {
            return false;
        }
        if groups.get(&group.id()).is_some_and(|current| Arc::ptr_eq(current, group)) {
            groups.remove(&group.id());
        }
        group.stop();
        true
    }
}

/// The Alertmanager-compatible router. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Alertmanager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Alertmanager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alertmanager").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

/// The routing outcome and state of one alert, as the API shows it.
#[derive(Debug, Clone)]
pub struct AlertStatus {
    /// The alert.
    pub alert: Alert,
    /// Receivers the alert is routed to.
    pub receivers: Vec<String>,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
    /// Names of the time intervals muting it now on one of its routes (a
    /// `mute_time_intervals` entry it is inside, or the `active_time_intervals` it is outside
    /// of), as Alertmanager 0.28's `mutedBy`.
    pub muted_by: Vec<String>,
}

impl AlertStatus {
    /// Returns whether a silence, an inhibition or a time interval suppresses the alert.
    pub fn is_suppressed(&self) -> bool {
        !self.silenced_by.is_empty() || !self.inhibited_by.is_empty() || !self.muted_by.is_empty()
    }
}

/// An aggregation group as the API shows it.
#[derive(Debug, Clone)]
pub struct AlertGroup {
    /// The group labels.
    pub labels: LabelSet,
    /// The receiver.
    pub receiver: String,
    /// The alerts.
    pub alerts: Vec<AlertStatus>,
}

impl Alertmanager {
    /// Opens the router's state in `data_dir` (created if needed): silences, the notification
    /// log and the alerts held at the last shutdown, which are dispatched again once
    /// [`Alertmanager::run`] starts.
    ///
    /// # Errors
    ///
    /// Returns an error when the directory or a state file cannot be read, or when the
    /// configuration cannot be turned into routes and receivers.
    pub fn open(data_dir: impl AsRef<Path>, config: Config, options: AlertmanagerOptions) -> Result<Alertmanager> {
        let dir = data_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "cannot create data directory",
            path: dir.display().to_string(),
            source,
        })?;
        let loaded = Loaded::build(config, &options)?;
        let silences = Silences::open(Some(dir.join("silences.json")), options.retention)?;
        // A damaged notification log, alert snapshot or WeCom parts file is set aside: losing them risks a repeated
        // notification, which beats not starting. Damaged silences stop the start instead, since
        // dropping them would unmute alerts.
        let nflog_path = dir.join("nflog.json");
        let nflog = match NotificationLog::open(Some(nflog_path.clone()), options.retention) {
            Err(error @ Error::Corrupted { .. }) => {
                set_aside(&nflog_path, &error);
                NotificationLog::open(Some(nflog_path), options.retention)?
            }
            other => other?,
        };
        let parts_path = dir.join("wecom-parts.json");
        let robots = match crate::notify::RobotQueues::open(parts_path.clone()) {
            Err(error @ Error::Corrupted { .. }) => {
                set_aside(&parts_path, &error);
                crate::notify::RobotQueues::open(parts_path)?
            }
            other => other?,
        };
        let alerts_path = dir.join("alerts.json");
        let stored: Vec<Alert> = match persist::read_entries(&alerts_path) {
            Err(error @ Error::Corrupted { .. }) => {
                set_aside(&alerts_path, &error);
                Vec::new()
            }
            other => other?,
        };
        let (commands, receiver) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            options,
            alerts_path,
            loaded: RwLock::new(Arc::new(loaded)),
            alerts: Mutex::new(stored.iter().map(|alert| (alert.fingerprint(), alert.clone())).collect()),
            groups: Mutex::new(HashMap::new()),
            silences,
            nflog,
            metrics: AlertingMetrics::default(),
            limiter: Arc::default(),
            robots: Arc::new(robots),
            started_at: Timestamp::now(),
            mute_states: Mutex::new(HashMap::new()),
            commands,
            receiver: Mutex::new(Some(receiver)),
        });
        if !stored.is_empty() {
            tracing::info!(alerts = stored.len(), "restored alerts");
            let _ = inner.commands.send(Command::Restore(stored));
        }
        Ok(Alertmanager { inner })
    }

    /// Receives alerts whose times are filled in (use [`Alertmanager::put_postable`] for alerts
    /// that may lack them): each is merged with the held alert of the same labels, as
    /// Alertmanager merges overlapping updates, and routed to its aggregation groups. Never
    /// blocks; callable from any thread, also before [`Alertmanager::run`] starts.
    pub fn put(&self, alerts: Vec<Alert>) {
        let now = Timestamp::now();
        let mut merged = Vec::with_capacity(alerts.len());
        let mut events = Vec::new();
        {
            let mut store = self.inner.alerts.lock();
            for alert in alerts {
                let fp = alert.fingerprint();
                let old = store.get(&fp);
                let was_firing = old.map(|old| !old.is_resolved_at(now));
                let alert = match old {
                    Some(old) if overlaps(old, &alert) => old.merge(&alert),
                    _ => alert,
                };
                let is_firing = !alert.is_resolved_at(now);
                self.inner.metrics.received(if is_firing { "firing" } else { "resolved" });
                let change = match (was_firing, is_firing) {
                    (None, true) => Some(("none", "received")),
                    (Some(false), true) => Some(("resolved", "received")),
                    (Some(true), false) => Some(("firing", "resolved")),
                    _ => None,
                };
                if let Some((from, to)) = change {
                    events.push((now, router_change(&alert, from, to, Vec::new())));
                }
                store.insert(fp, alert.clone());
                merged.push(alert);
            }
        }
        self.inner.record(events);
        let _ = self.inner.commands.send(Command::Dispatch(merged));
    }

    /// Replaces the configuration. Aggregation groups are rebuilt and every held alert is
    /// dispatched again (a group that had not flushed flushes `group_wait` after its earliest
    /// alert started, as before); the notification log keeps this from repeating notifications.
    ///
    /// # Errors
    ///
    /// Returns an error (and keeps the running configuration) when routes, receivers or
    /// templates cannot be built.
    pub fn apply_config(&self, config: Config) -> Result<()> {
        let loaded = Loaded::build(config, &self.inner.options)?;
        *self.inner.loaded.write() = Arc::new(loaded);
        let _ = self.inner.commands.send(Command::Reload);
        Ok(())
    }

    /// Returns the configuration in force.
    pub fn config(&self) -> Config {
        self.inner.loaded().config.clone()
    }

    /// Returns the resolve timeout of the configuration in force.
    pub fn resolve_timeout(&self) -> Duration {
        self.inner.loaded().config.global.resolve_timeout.0
    }

    /// Returns the options.
    pub fn options(&self) -> &AlertmanagerOptions {
        &self.inner.options
    }

    /// Returns the silences.
    pub fn silences(&self) -> &Silences {
        &self.inner.silences
    }

    /// Returns the router's self-metrics.
    pub fn metrics(&self) -> &AlertingMetrics {
        &self.inner.metrics
    }

    /// Registers the router's self-metrics in `registry`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.inner.metrics.register(registry);
    }

    /// Returns when the router was opened.
    pub fn started_at(&self) -> Timestamp {
        self.inner.started_at
    }

    /// Returns every held alert with its receivers, silences and inhibitions, sorted by
    /// fingerprint. Resolved alerts are left out, as in Alertmanager's API.
    pub fn alert_statuses(&self) -> Vec<AlertStatus> {
        let now = Timestamp::now();
        let loaded = self.inner.loaded();
        let store = self.inner.alerts_snapshot();
        let inhibitor = Inhibitor::new(&loaded.inhibit_rules, &store, now);
        let mut statuses: Vec<AlertStatus> = store
            .iter()
            .filter(|alert| !alert.is_resolved_at(now))
            .map(|alert| self.status_of(&loaded, alert, &inhibitor, now))
            .collect();
        statuses.sort_by_key(|status| status.alert.fingerprint());
        statuses
    }

    fn status_of(&self, loaded: &Loaded, alert: &Alert, inhibitor: &Inhibitor<'_>, now: Timestamp) -> AlertStatus {
        let mut receivers: Vec<String> = Vec::new();
        let mut muted_by: Vec<String> = Vec::new();
        for route in loaded.route.match_labels(&alert.labels) {
            if !receivers.contains(&route.options.receiver) {
                receivers.push(route.options.receiver.clone());
            }
            for name in crate::dispatch::muting_time_intervals(loaded, &route, now) {
                if !muted_by.contains(&name) {
                    muted_by.push(name);
                }
            }
        }
        AlertStatus {
            alert: alert.clone(),
            receivers,
            silenced_by: self.inner.silences.mutes(&alert.labels, now),
            inhibited_by: inhibitor.inhibited_by(&alert.labels).into_iter().map(fingerprint_string).collect(),
            muted_by,
        }
    }

    /// Returns the aggregation groups as Alertmanager's `/api/v2/alerts/groups` shows them:
    /// every held alert grouped by the routes it matches.
    pub fn alert_groups(&self) -> Vec<AlertGroup> {
        let now = Timestamp::now();
        let loaded = self.inner.loaded();
        let store = self.inner.alerts_snapshot();
        let inhibitor = Inhibitor::new(&loaded.inhibit_rules, &store, now);
        let mut groups: Vec<AlertGroup> = Vec::new();
        let mut index: HashMap<(String, Fingerprint), usize> = HashMap::new();
        let mut sorted: Vec<&Alert> = store.iter().filter(|alert| !alert.is_resolved_at(now)).collect();
        sorted.sort_by_key(|alert| alert.fingerprint());
        for alert in sorted {
            let status = self.status_of(&loaded, alert, &inhibitor, now);
            for route in loaded.route.match_labels(&alert.labels) {
                let labels = route.group_labels(&alert.labels);
                let position = *index.entry((route.id.clone(), fingerprint(&labels))).or_insert_with(|| {
                    groups.push(AlertGroup { labels, receiver: route.options.receiver.clone(), alerts: Vec::new() });
                    groups.len() - 1
                });
                groups[position].alerts.push(status.clone());
            }
        }
        groups
    }

    /// Runs the dispatcher until `shutdown` completes, then stops every group and saves the
    /// held alerts. Call once.
    ///
    /// # Errors
    ///
    /// Returns an error when called a second time or when the final save fails.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) -> Result<()> {
        let mut commands = self
            .inner
            .receiver
            .lock()
            .take()
            .ok_or_else(|| Error::BadData("the alertmanager dispatcher is already running".to_owned()))?;
        let mut maintenance = tokio::time::interval(self.inner.options.maintenance_interval);
        maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                command = commands.recv() => match command {
                    Some(Command::Dispatch(alerts)) => self.dispatch(alerts, false),
                    Some(Command::Restore(alerts)) => self.dispatch(alerts, true),
                    Some(Command::Reload) => self.reload_groups(),
                    None => break,
                },
                _ = maintenance.tick() => {
                    // Saving syncs files: keep it off the async workers.
                    let this = self.clone();
                    let _ = tokio::task::spawn_blocking(move || this.maintain()).await;
                }
            }
        }
        for group in self.inner.groups.lock().drain().map(|(_, group)| group) {
            group.stop();
        }
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.save_alerts())
            .await
            .unwrap_or_else(|_| Err(Error::Internal("saving alerts panicked".to_owned())))
    }

    /// Spawns [`Alertmanager::run`] on the current Tokio runtime.
    pub fn spawn(&self, shutdown: impl Future<Output = ()> + Send + 'static) -> tokio::task::JoinHandle<Result<()>> {
        let this = self.clone();
        tokio::spawn(async move { this.run(shutdown).await })
    }

    fn dispatch(&self, alerts: Vec<Alert>, is_restored: bool) {
        let loaded = self.inner.loaded();
        let mut groups = self.inner.groups.lock();
        for alert in alerts {
            for route in loaded.route.match_labels(&alert.labels) {
                let labels = route.group_labels(&alert.labels);
                let id = (route.id.clone(), fingerprint(&labels));
                let group = groups.entry(id).or_insert_with(|| {
                    let group = AggrGroup::new(Arc::clone(&route), labels);
                    tokio::spawn(run_group(Arc::clone(&self.inner), Arc::clone(&group)));
                    group
                });
                if is_restored {
                    group.insert_restored(alert.clone());
                } else {
                    group.insert(alert.clone());
                }
            }
        }
    }

    fn reload_groups(&self) {
        for group in self.inner.groups.lock().drain().map(|(_, group)| group) {
            group.stop();
        }
        // The rebuilt groups keep the timing of the ones they replace, as after a restart.
        self.dispatch(self.inner.alerts_snapshot(), true);
    }

    fn maintain(&self) {
        let now = Timestamp::now();
        // A resolved alert stays held until every group it is in has notified it, so that a
        // restart in between still sends the resolved notification.
        let pending: std::collections::HashSet<Fingerprint> = self
            .inner
            .groups
            .lock()
            .values()
            .flat_map(|group| group.alerts.lock().keys().copied().collect::<Vec<_>>())
            .collect();
        self.inner.alerts.lock().retain(|fp, alert| !alert.is_resolved_at(now) || pending.contains(fp));
        let held: std::collections::HashSet<Fingerprint> = self.inner.alerts.lock().keys().copied().collect();
        self.inner.mute_states.lock().retain(|fp, _| held.contains(fp));
        if let Err(error) = self.inner.silences.gc(now) {
            tracing::error!(error = %error, "cannot save silences");
        }
        if let Err(error) = self.inner.nflog.gc(now) {
            tracing::error!(error = %error, "cannot save the notification log");
        }
        if let Err(error) = self.save_alerts() {
            tracing::error!(error = %error, "cannot save alerts");
        }
        self.update_gauges();
    }

    /// Updates the alert and silence gauges.
    pub fn update_gauges(&self) {
        let statuses = self.alert_statuses();
        let suppressed = statuses.iter().filter(|s| s.is_suppressed()).count();
        self.inner.metrics.set_alerts(statuses.len() - suppressed, suppressed);
        self.inner.metrics.set_silences(&self.inner.silences.count_by_state(Timestamp::now()));
    }

    fn save_alerts(&self) -> Result<()> {
        let mut alerts = self.inner.alerts_snapshot();
        alerts.sort_by_key(Alert::fingerprint);
        persist::write_entries(&self.inner.alerts_path, &alerts)
    }
}

/// Whether an alert was muted when the router last recorded it, and by what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MuteState {
    /// Silenced by these silence ids.
    Silenced(Vec<String>),
    /// Inhibited by the alerts of these fingerprints.
    Inhibited(Vec<String>),
}

/// Returns a router state change of `alert` for the history.
pub(crate) fn router_change(alert: &Alert, from: &str, to: &str, muted_by: Vec<String>) -> HistoryEvent {
    HistoryEvent::State(StateChange {
        source: StateSource::Router,
        from: from.to_owned(),
        to: to.to_owned(),
        group: None,
        fingerprint: fingerprint_string(alert.fingerprint()),
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        value: None,
        muted_by,
    })
}

/// Renames a damaged state file to `<name>.corrupted` so that the next save starts afresh.
fn set_aside(path: &Path, error: &Error) {
    let aside = path.with_extension("json.corrupted");
    tracing::error!(file = %path.display(), moved_to = %aside.display(), error = %error, "state file damaged, set aside");
    if let Err(rename_error) = std::fs::rename(path, &aside) {
        tracing::error!(file = %path.display(), error = %rename_error, "cannot set damaged state file aside");
    }
}

/// Alertmanager merges an update into the held alert only when their active ranges overlap.
fn overlaps(old: &Alert, new: &Alert) -> bool {
    (new.ends_at > old.starts_at && new.ends_at < old.ends_at)
        || (new.starts_at > old.starts_at && new.starts_at < old.ends_at)
        || (new.starts_at <= old.starts_at && new.ends_at >= old.ends_at)
}
