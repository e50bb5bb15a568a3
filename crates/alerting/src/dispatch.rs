//! Aggregation groups and the notification pipeline. Each group (a route and the values of its
//! `group_by` labels) runs as one task: the first flush comes `group_wait` after the group was
//! created (at once for alerts older than that; after a restart or a reload, `group_wait` after
//! its earliest alert started), later flushes every `group_interval`. A flush
//! drops inhibited alerts, honours the route's mute/active time intervals, drops silenced
//! alerts, then asks the notification log per integration whether to notify (new firing alerts,
//! newly resolved ones with `send_resolved`, or `repeat_interval` elapsed), delivers with retries
//! and records what was sent.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::alertmanager::{Inner, Loaded, MuteState, router_change};
use crate::history::{DeliveryAttempt, HistoryEvent, Outcome, delivered_alerts};
use crate::inhibit::Inhibitor;
use crate::nflog::needs_update;
use crate::notify::{Integration, MessageContext};
use crate::route::Route;
use crate::template::TemplateData;
use crate::types::{Alert, Fingerprint, LabelSet, fingerprint, labels_string};

/// One aggregation group.
pub(crate) struct AggrGroup {
    pub(crate) key: String,
    pub(crate) route: Arc<Route>,
    pub(crate) labels: LabelSet,
    pub(crate) alerts: Mutex<BTreeMap<Fingerprint, Alert>>,
    has_flushed: AtomicBool,
    next_flush: Mutex<Instant>,
    wake: Notify,
    is_stopped: AtomicBool,
}

/// Identifies a group: the route's id and the fingerprint of the group labels.
pub(crate) type GroupId = (String, Fingerprint);

impl AggrGroup {
    pub(crate) fn new(route: Arc<Route>, labels: LabelSet) -> Arc<AggrGroup> {
        let key = format!("{}:{}", route.key, labels_string(&labels));
        let next_flush = Instant::now() + route.options.group_wait;
        Arc::new(AggrGroup {
            key,
            route,
            labels,
            alerts: Mutex::new(BTreeMap::new()),
            has_flushed: AtomicBool::new(false),
            next_flush: Mutex::new(next_flush),
            wake: Notify::new(),
            is_stopped: AtomicBool::new(false),
        })
    }

    pub(crate) fn id(&self) -> GroupId {
        (self.route.id.clone(), fingerprint(&self.labels))
    }

    /// Adds or replaces an alert; a group that has not flushed yet flushes at once when the
    /// alert is older than `group_wait`.
    pub(crate) fn insert(&self, alert: Alert) {
        let group_wait = jiff::SignedDuration::try_from(self.route.options.group_wait).unwrap_or_default();
        let is_old = alert.starts_at.saturating_add(group_wait).is_ok_and(|due| due < Timestamp::now());
        self.alerts.lock().insert(alert.fingerprint(), alert);
        if !self.has_flushed.load(Ordering::Acquire) && is_old {
            *self.next_flush.lock() = Instant::now();
            self.wake.notify_one();
        }
    }

    /// Adds an alert held across a restart or a reload: a group that has not flushed yet flushes
    /// `group_wait` after the alert started, as it would have without the restart (at once when
    /// that time passed), instead of `group_wait` after the restart.
    pub(crate) fn insert_restored(&self, alert: Alert) {
        let group_wait = jiff::SignedDuration::try_from(self.route.options.group_wait).unwrap_or_default();
        let now = Timestamp::now();
        let left = alert
            .starts_at
            .saturating_add(group_wait)
            .map(|due| due.duration_since(now))
            .ok()
            .and_then(|left| std::time::Duration::try_from(left).ok())
            .unwrap_or_default();
        self.alerts.lock().insert(alert.fingerprint(), alert);
        if !self.has_flushed.load(Ordering::Acquire) {
            let due = Instant::now() + left;
            let mut next = self.next_flush.lock();
            if due < *next {
                *next = due;
                self.wake.notify_one();
            }
        }
    }

    pub(crate) fn stop(&self) {
        self.is_stopped.store(true, Ordering::Release);
        self.wake.notify_one();
    }
}

/// Runs a group until it is stopped or empties.
pub(crate) async fn run_group(inner: Arc<Inner>, group: Arc<AggrGroup>) {
    loop {
        if group.is_stopped.load(Ordering::Acquire) {
            return;
        }
        let next = *group.next_flush.lock();
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = group.wake.notified() => continue,
        }
        if group.is_stopped.load(Ordering::Acquire) {
            return;
        }
        if Instant::now() < *group.next_flush.lock() {
            continue;
        }
        *group.next_flush.lock() = Instant::now() + group.route.options.group_interval;
        group.has_flushed.store(true, Ordering::Release);
        flush(&inner, &group).await;
        if inner.remove_group_if_empty(&group) {
            return;
        }
    }
}

async fn flush(inner: &Arc<Inner>, group: &Arc<AggrGroup>) {
    let now = Timestamp::now();
    let mut alerts: Vec<Alert> = group.alerts.lock().values().cloned().collect();
    if alerts.is_empty() {
        return;
    }
    alerts.sort_by(notification_order);
    let loaded = inner.loaded();
    let is_success = notify_group(inner, &loaded, group, alerts.clone(), now).await;
    if is_success {
        // Forget resolved alerts that did not change while they were being notified.
        let mut held = group.alerts.lock();
        for alert in alerts.iter().filter(|alert| alert.is_resolved_at(now)) {
            if held.get(&alert.fingerprint()).is_some_and(|current| current.updated_at == alert.updated_at) {
                held.remove(&alert.fingerprint());
            }
        }
    }
}

/// Alertmanager's order of alerts in a notification: by `job`, then `instance` (alerts
/// without the label last), then by the whole label set.
fn notification_order(a: &Alert, b: &Alert) -> std::cmp::Ordering {
    for name in ["job", "instance"] {
        match (a.labels.get(name), b.labels.get(name)) {
            (None, None) => continue,
            (None, Some(_)) => return std::cmp::Ordering::Greater,
            (Some(_), None) => return std::cmp::Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    a.labels.iter().cmp(b.labels.iter())
}

/// Returns whether the route's time intervals mute notifications at `now`.
fn is_muted_by_time(loaded: &Loaded, route: &Route, now: Timestamp) -> bool {
    !muting_time_intervals(loaded, route, now).is_empty()
}

/// Returns the names of the route's time intervals that mute it at `now`: the
/// `mute_time_intervals` it is inside of, or, when it is inside none of its
/// `active_time_intervals`, all of those.
pub(crate) fn muting_time_intervals(loaded: &Loaded, route: &Route, now: Timestamp) -> Vec<String> {
    let is_inside = |name: &String| {
        loaded.time_intervals.get(name).is_some_and(|intervals| intervals.iter().any(|i| i.contains(now)))
    };
    let muting: Vec<String> =
        route.options.mute_time_intervals.iter().filter(|name| is_inside(name)).cloned().collect();
    if !muting.is_empty() {
        return muting;
    }
    if !route.options.active_time_intervals.is_empty() && !route.options.active_time_intervals.iter().any(is_inside) {
        return route.options.active_time_intervals.clone();
    }
    Vec::new()
}

/// Runs the pipeline for one flush; returns whether every integration succeeded.
async fn notify_group(
    inner: &Arc<Inner>,
    loaded: &Arc<Loaded>,
    group: &Arc<AggrGroup>,
    mut alerts: Vec<Alert>,
    now: Timestamp,
) -> bool {
    let store: Vec<Alert> = inner.alerts_snapshot();
    let inhibitor = Inhibitor::new(&loaded.inhibit_rules, &store, now);
    let mut mutes: Vec<(Fingerprint, Option<MuteState>)> = Vec::with_capacity(alerts.len());
    alerts.retain(|alert| {
        let inhibited_by = inhibitor.inhibited_by(&alert.labels);
        if !inhibited_by.is_empty() {
            let by = inhibited_by.into_iter().map(crate::types::fingerprint_string).collect();
            mutes.push((alert.fingerprint(), Some(MuteState::Inhibited(by))));
            return false;
        }
        true
    });
    if is_muted_by_time(loaded, &group.route, now) {
        record_mutes(inner, group, mutes, now);
        return true;
    }
    alerts.retain(|alert| {
        let silenced_by = inner.silences.mutes(&alert.labels, now);
        if !silenced_by.is_empty() {
            mutes.push((alert.fingerprint(), Some(MuteState::Silenced(silenced_by))));
            return false;
        }
        if !alert.is_resolved_at(now) {
            mutes.push((alert.fingerprint(), None));
        }
        true
    });
    record_mutes(inner, group, mutes, now);
    if alerts.is_empty() {
        return true;
    }
    let receiver = group.route.options.receiver.clone();
    let Some(integrations) = loaded.integrations.get(&receiver) else {
        tracing::error!(receiver = %receiver, "receiver has no integrations loaded");
        return false;
    };
    let firing: BTreeSet<Fingerprint> =
        alerts.iter().filter(|a| !a.is_resolved_at(now)).map(Alert::fingerprint).collect();
    let resolved: BTreeSet<Fingerprint> =
        alerts.iter().filter(|a| a.is_resolved_at(now)).map(Alert::fingerprint).collect();
    // Integrations are notified concurrently, so a slow or failing one delays no other.
    let mut deliveries = tokio::task::JoinSet::new();
    for (index, integration) in integrations.iter().enumerate() {
        let log_key = integration.log_key(&receiver);
        let entry = inner.nflog.query(&group.key, &log_key);
        if !needs_update(
            entry.as_ref(),
            &firing,
            &resolved,
            integration.send_resolved,
            group.route.options.repeat_interval,
            now,
        ) {
            continue;
        }
        let to_send: Vec<Alert> = if integration.send_resolved {
            alerts.clone()
        } else {
            alerts.iter().filter(|a| !a.is_resolved_at(now)).cloned().collect()
        };
        let (inner, loaded, group, integrations) =
            (Arc::clone(inner), Arc::clone(loaded), Arc::clone(group), Arc::clone(integrations));
        let (firing, resolved) = (firing.clone(), resolved.clone());
        deliveries.spawn(async move {
            if !to_send.is_empty() {
                let deadline = Instant::now() + group.route.options.group_interval;
                if !deliver(&inner, &loaded, &group, &integrations[index], &to_send, deadline).await {
                    return false;
                }
            }
            // Saving syncs a file: keep it off the async workers.
            let key = group.key.clone();
            let saved =
                tokio::task::spawn_blocking(move || inner.nflog.log(&key, &log_key, firing, resolved, now)).await;
            if let Ok(Err(error)) = saved {
                tracing::error!(error = %error, "cannot save the notification log");
            }
            true
        });
    }
    let mut is_success = true;
    while let Some(result) = deliveries.join_next().await {
        is_success &= result.unwrap_or(false);
    }
    is_success
}

/// Records in the history the alerts whose mute state changed since it was last recorded.
fn record_mutes(inner: &Inner, group: &AggrGroup, mutes: Vec<(Fingerprint, Option<MuteState>)>, now: Timestamp) {
    if inner.options.history.is_none() {
        return;
    }
    let mut events = Vec::new();
    {
        let held = group.alerts.lock();
        let mut states = inner.mute_states.lock();
        for (fp, state) in mutes {
            let Some(alert) = held.get(&fp) else { continue };
            let previous = states.get(&fp).cloned();
            if previous == state {
                continue;
            }
            let from = match &previous {
                None => "active",
                Some(MuteState::Silenced(_)) => "silenced",
                Some(MuteState::Inhibited(_)) => "inhibited",
            };
            let (to, by) = match &state {
                None => ("active", Vec::new()),
                Some(MuteState::Silenced(by)) => ("silenced", by.clone()),
                Some(MuteState::Inhibited(by)) => ("inhibited", by.clone()),
            };
            events.push((now, router_change(alert, from, to, by)));
            match state {
                Some(state) => states.insert(fp, state),
                None => states.remove(&fp),
            };
        }
    }
    inner.record(events);
}

/// Delivers with exponential backoff until success, a non-retryable error or the deadline.
async fn deliver(
    inner: &Arc<Inner>,
    loaded: &Loaded,
    group: &AggrGroup,
    integration: &Integration,
    alerts: &[Alert],
    deadline: Instant,
) -> bool {
    let receiver = &group.route.options.receiver;
    let data = TemplateData::new(receiver, group.labels.clone(), alerts.to_vec(), &inner.options.external_url);
    let value = data.to_value();
    let context = MessageContext {
        group_key: &group.key,
        receiver,
        alerts,
        templates: &loaded.templates,
        external_url: &inner.options.external_url,
        data,
        value,
        limiter: &inner.limiter,
        robots: &inner.robots,
        last_status: std::sync::atomic::AtomicU16::new(0),
    };
    let mut backoff = inner.options.retry_initial_backoff;
    let mut attempt = 1u32;
    let now = Timestamp::now();
    let record = |attempt: u32, started: Timestamp, outcome: Outcome, status_code: Option<u16>, error: Option<&str>| {
        if inner.options.history.is_none() {
            return;
        }
        let duration = Timestamp::now().duration_since(started).as_secs_f64().max(0.0);
        let event = HistoryEvent::Delivery(DeliveryAttempt {
            receiver: receiver.clone(),
            integration: integration.name.to_owned(),
            integration_index: integration.index,
            group_key: group.key.clone(),
            alerts: delivered_alerts(alerts, now),
            alerts_total: alerts.len(),
            attempt,
            outcome,
            status_code,
            error: error.map(str::to_owned),
            duration_seconds: duration,
        });
        inner.record(vec![(started, event)]);
    };
    loop {
        context.last_status.store(0, std::sync::atomic::Ordering::Relaxed);
        let started = Timestamp::now();
        let result = tokio::time::timeout_at(deadline, integration.notify(&context)).await;
        let error = match result {
            Ok(Ok(())) => {
                record(attempt, started, Outcome::Success, context.last_status(), None);
                inner.metrics.notification(integration.name, false);
                tracing::debug!(receiver = %receiver, integration = integration.name, attempts = attempt, "notify success");
                return true;
            }
            Ok(Err(error)) => error,
            Err(_) => crate::notify::NotifyError::fatal("notification deadline exceeded"),
        };
        let next_try = Instant::now() + backoff;
        let is_final = !error.is_retryable || next_try >= deadline;
        let outcome = if is_final { Outcome::Failed } else { Outcome::Retry };
        record(attempt, started, outcome, error.status_code.or_else(|| context.last_status()), Some(&error.message));
        if is_final {
            inner.metrics.notification(integration.name, true);
            tracing::warn!(
                receiver = %receiver,
                integration = integration.name,
                attempts = attempt,
                error = %error.message,
                "notify failed"
            );
            return false;
        }
        tracing::debug!(receiver = %receiver, integration = integration.name, error = %error.message, "notify failed, retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(inner.options.retry_max_backoff);
        attempt += 1;
    }
}
