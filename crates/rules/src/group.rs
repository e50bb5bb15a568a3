//! A rule group: evaluates its rules in order at one timestamp, writes their results, marks
//! vanished series stale and restores alert state after a restart (Prometheus' `Group.Eval`
//! and `RestoreForState`). Scheduling lives in the manager.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use panoptes_model::{Labels, METRIC_NAME, Matcher, is_stale_nan, stale_nan};

use crate::error::{Error, Result};
use crate::file::RuleGroupConfig;
use crate::rule::{
    ALERT_FOR_STATE_METRIC_NAME, ALERT_METRIC_NAME, ALERT_NAME_LABEL, ALERT_STATE_LABEL, Alert, AlertState,
    EvalContext, OutputSample, Rule, RuleHealth, millis,
};

/// How the `for` state of an alert comes back after a restart (see the crate documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForRestore {
    /// `activeAt` (and, for an alert that was firing, the firing time) is restored unchanged:
    /// the alert fires when it would have fired without the restart, and a firing alert stays
    /// firing. The grace period does not apply.
    #[default]
    Unchanged,
    /// Prometheus' `RestoreForState`: the outage does not count towards `for` (`activeAt` moves
    /// by the outage), an alert stays pending at least the grace period, and rules whose `for`
    /// is shorter than the grace period are not restored.
    Prometheus,
}

/// How a group restores alert state after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreOptions {
    /// How long an outage may last for `for` state to be restored (Prometheus'
    /// `--rules.alert.for-outage-tolerance`, 1h).
    pub outage_tolerance: Duration,
    /// The least time an alert stays pending after a restore (Prometheus'
    /// `--rules.alert.for-grace-period`, 10m); only with [`ForRestore::Prometheus`].
    pub for_grace_period: Duration,
    /// How `activeAt` is restored.
    pub mode: ForRestore,
}

impl Default for RestoreOptions {
    fn default() -> Self {
        Self {
            outage_tolerance: Duration::from_secs(3600),
            for_grace_period: Duration::from_secs(600),
            mode: ForRestore::default(),
        }
    }
}

/// An alert handed to the notifier, with Prometheus' `startsAt` / `endsAt` semantics already
/// applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertToSend {
    /// The alert's labels (with `alertname`).
    pub labels: Labels,
    /// The expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing (ms).
    pub starts_at_ms: i64,
    /// When it resolved, or until when this notification is valid (ms).
    pub ends_at_ms: i64,
    /// The rule's expression, for the generator URL.
    pub expr: String,
}

/// A state change of one alert, seen by an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertStateChange {
    /// The file of the alert's rule group.
    pub group_file: String,
    /// The name of the alert's rule group.
    pub group_name: String,
    /// The alert's labels (with `alertname`).
    pub labels: Labels,
    /// The expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// The value of the last evaluation that returned the alert.
    pub value: f64,
    /// The state before the evaluation.
    pub from: AlertState,
    /// The state after it (`Inactive` from `Firing` means resolved).
    pub to: AlertState,
    /// The evaluation time (ms).
    pub time_ms: i64,
}

impl AlertStateChange {
    /// Returns the name of the new state: `pending`, `firing`, `resolved` (from firing) or
    /// `inactive` (from pending).
    pub fn to_name(&self) -> &'static str {
        match (self.from, self.to) {
            (AlertState::Firing, AlertState::Inactive) => "resolved",
            (_, to) => to.as_str(),
        }
    }
}

/// The most state changes a group keeps for a restore that has not run yet; beyond this,
/// the oldest are dropped.
const MAX_HELD_STATE_CHANGES: usize = 10_000;

/// A group of rules evaluated together at one interval.
#[derive(Debug, Clone)]
pub struct Group {
    name: String,
    file: String,
    interval: Duration,
    limit: usize,
    query_offset: Option<Duration>,
    rules: Vec<Rule>,
    /// The series each rule wrote in its last successful evaluation, to mark vanished ones stale.
    series_in_previous_eval: Vec<HashSet<Labels>>,
    last_evaluation_ms: Option<i64>,
    evaluation_time: Duration,
    /// The query offset of the last evaluation (ms): series are written at the evaluation
    /// time less this.
    last_query_offset_ms: i64,
    /// Whether `for` state must be restored after the next evaluations (first load only).
    pub(crate) should_restore: bool,
    /// The alert state changes of the last evaluation, until taken.
    state_changes: Vec<AlertStateChange>,
    /// The state changes of evaluations before the restore, which decides which are real.
    held_state_changes: Vec<AlertStateChange>,
}

impl Group {
    /// Builds a group from its configuration; `default_interval` applies when the group sets
    /// none. With `should_restore`, alerting rules write no `ALERTS` series until
    /// [`Group::restore_for_state`] ran, as after a Prometheus restart.
    ///
    /// # Errors
    ///
    /// Returns an error when an expression does not parse (validated files never have one).
    pub fn new(config: &RuleGroupConfig, file: &str, default_interval: Duration, should_restore: bool) -> Result<Self> {
        let mut rules = Vec::with_capacity(config.rules.len());
        for rule in &config.rules {
            let mut rule = Rule::from_config(rule, &config.labels)?;
            if let Rule::Alerting(alerting) = &mut rule {
                alerting.set_restored(!should_restore);
            }
            rules.push(rule);
        }
        let interval = config.interval.filter(|i| !i.is_zero()).unwrap_or(default_interval);
        Ok(Self {
            name: config.name.clone(),
            file: file.to_owned(),
            interval,
            limit: config.limit,
            query_offset: config.query_offset,
            series_in_previous_eval: vec![HashSet::new(); rules.len()],
            rules,
            last_evaluation_ms: None,
            evaluation_time: Duration::ZERO,
            last_query_offset_ms: 0,
            should_restore,
            state_changes: Vec::new(),
            held_state_changes: Vec::new(),
        })
    }

    /// Returns the group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the file the group was loaded from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Returns the evaluation interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Returns the group's limit (0: none).
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Returns the group's own query offset, if it sets one.
    pub fn query_offset(&self) -> Option<Duration> {
        self.query_offset
    }

    /// Returns the rules in evaluation order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Returns the rules for changing state (tests, restore).
    pub fn rules_mut(&mut self) -> &mut [Rule] {
        &mut self.rules
    }

    /// Returns when the group was last evaluated (ms).
    pub fn last_evaluation_ms(&self) -> Option<i64> {
        self.last_evaluation_ms
    }

    /// Returns how long the last evaluation took.
    pub fn evaluation_time(&self) -> Duration {
        self.evaluation_time
    }

    /// Returns the identity used to carry state across reloads and to spread evaluations.
    pub fn key(&self) -> (String, String) {
        (self.file.clone(), self.name.clone())
    }

    /// Evaluates every rule at `ts_ms` in order, writing each rule's results before the next
    /// rule runs, and returns the alerts to send (per Prometheus' resend rules). Rule errors
    /// are recorded on the rule (health, last error) and do not stop the group.
    pub fn eval(
        &mut self,
        context: &EvalContext,
        ts_ms: i64,
        default_query_offset: Duration,
        resend_delay: Duration,
    ) -> Vec<AlertToSend> {
        let started = Instant::now();
        let query_offset_ms = millis(self.query_offset.unwrap_or(default_query_offset));
        self.last_query_offset_ms = query_offset_ms;
        let mut to_send = Vec::new();
        let mut changes = Vec::new();
        for index in 0..self.rules.len() {
            let rule_started = Instant::now();
            let result = match &mut self.rules[index] {
                Rule::Recording(rule) => rule.eval(context, ts_ms - query_offset_ms, self.limit),
                Rule::Alerting(rule) => {
                    let before = alert_states(rule);
                    let result = rule.eval(context, ts_ms, query_offset_ms, self.limit);
                    diff_alert_states(&before, rule, ts_ms, &self.file, &self.name, &mut changes);
                    result
                }
            };
            let status = self.rules[index].status_mut();
            status.last_evaluation_ms = Some(ts_ms);
            let vector = match result {
                Ok(vector) => {
                    status.health = RuleHealth::Ok;
                    status.last_error = None;
                    vector
                }
                Err(error) => {
                    status.health = RuleHealth::Err;
                    status.last_error = Some(error.to_string());
                    status.evaluation_time = rule_started.elapsed();
                    tracing::warn!(group = %self.name, rule = self.rules[index].name(), error = %error, "rule evaluation failed");
                    continue;
                }
            };
            if let Rule::Alerting(rule) = &mut self.rules[index] {
                to_send.extend(collect_alerts_to_send(rule, ts_ms, resend_delay, self.interval));
            }
            if let Err(error) = self.write(index, context, vector, ts_ms - query_offset_ms) {
                let status = self.rules[index].status_mut();
                status.health = RuleHealth::Err;
                status.last_error = Some(error.to_string());
            }
            self.rules[index].status_mut().evaluation_time = rule_started.elapsed();
        }
        self.last_evaluation_ms = Some(ts_ms);
        self.evaluation_time = started.elapsed();
        if self.should_restore {
            self.held_state_changes.extend(changes);
            let excess = self.held_state_changes.len().saturating_sub(MAX_HELD_STATE_CHANGES);
            self.held_state_changes.drain(..excess);
        } else {
            self.state_changes = changes;
        }
        to_send
    }

    /// Takes the alert state changes of the last evaluation (after a restart: of the
    /// evaluations up to the restore, less the alerts the restore found already active).
    pub fn take_state_changes(&mut self) -> Vec<AlertStateChange> {
        std::mem::take(&mut self.state_changes)
    }

    /// Appends one rule's results, marks series it no longer returns stale, and commits.
    fn write(&mut self, index: usize, context: &EvalContext, vector: Vec<OutputSample>, stale_time: i64) -> Result<()> {
        let mut appender = context.storage.appender();
        let mut returned = HashSet::with_capacity(vector.len());
        let mut first_error = None;
        for sample in vector {
            match appender.append(&sample.labels, sample.t, sample.v) {
                Ok(()) => {
                    returned.insert(sample.labels);
                }
                Err(error) => {
                    tracing::warn!(group = %self.name, series = %sample.labels, error = %error, "rule sample rejected");
                    first_error.get_or_insert(error);
                }
            }
        }
        for labels in &self.series_in_previous_eval[index] {
            if !returned.contains(labels) {
                // Refusals here are expected when another rule writes the same series.
                let _ = appender.append(labels, stale_time, stale_nan());
            }
        }
        appender.commit()?;
        self.series_in_previous_eval[index] = returned;
        match first_error {
            Some(error) => Err(Error::Storage(error)),
            None => Ok(()),
        }
    }

    /// Writes staleness markers for every series the group wrote last, as Prometheus does when
    /// a group is removed by a reload.
    ///
    /// # Errors
    ///
    /// Returns the store's commit error.
    pub fn mark_stale(&mut self, context: &EvalContext, ts_ms: i64) -> Result<()> {
        let mut appender = context.storage.appender();
        for series in &self.series_in_previous_eval {
            for labels in series {
                let _ = appender.append(labels, ts_ms, stale_nan());
            }
        }
        appender.commit()?;
        for series in &mut self.series_in_previous_eval {
            series.clear();
        }
        Ok(())
    }

    /// Takes over the state of the group with the same file and name from before a reload:
    /// active alerts of rules with the same name and labels, written series and timestamps
    /// (Prometheus' `CopyState`).
    pub fn copy_state(&mut self, old: &Group) {
        self.last_evaluation_ms = old.last_evaluation_ms;
        self.evaluation_time = old.evaluation_time;
        self.last_query_offset_ms = old.last_query_offset_ms;
        let mut used = HashSet::new();
        for (index, rule) in self.rules.iter_mut().enumerate() {
            let found = old
                .rules
                .iter()
                .enumerate()
                .find(|(old_index, old_rule)| !used.contains(old_index) && same_rule(rule, old_rule));
            let Some((old_index, old_rule)) = found else { continue };
            used.insert(old_index);
            self.series_in_previous_eval[index] = old.series_in_previous_eval[old_index].clone();
            *rule.status_mut() = old_rule.status().clone();
            if let (Rule::Alerting(new), Rule::Alerting(old)) = (rule, old_rule) {
                new.active = old.active.clone();
                new.restored = old.restored;
            }
        }
        self.should_restore = false;
    }

    /// Restores the `for` state of active alerts from the `ALERTS_FOR_STATE` series, and the
    /// `keep_firing_for` state from the `ALERTS{alertstate="firing"}` series, as they were
    /// before a restart at `ts_ms` (see the crate documentation for both designs).
    pub fn restore_for_state(&mut self, context: &EvalContext, ts_ms: i64, options: RestoreOptions) {
        let mint = ts_ms - millis(options.outage_tolerance);
        let querier = match context.storage.querier(mint, ts_ms) {
            Ok(querier) => querier,
            Err(error) => {
                tracing::error!(group = %self.name, error = %error, "cannot open querier to restore alert state");
                return;
            }
        };
        let grace_ms = millis(options.for_grace_period);
        let offset_ms = self.last_query_offset_ms;
        for rule in &mut self.rules {
            let Rule::Alerting(rule) = rule else { continue };
            let hold_ms = millis(rule.hold_duration);
            let mut matchers = vec![
                Matcher::equal(METRIC_NAME, ALERT_FOR_STATE_METRIC_NAME),
                Matcher::equal(ALERT_NAME_LABEL, rule.name.as_str()),
            ];
            for label in &rule.static_labels() {
                matchers.push(Matcher::equal(&*label.name, &*label.value));
            }
            match options.mode {
                ForRestore::Unchanged => restore_unchanged(rule, &*querier, &matchers, offset_ms),
                ForRestore::Prometheus if hold_ms >= grace_ms => {
                    let last_samples = last_samples(&*querier, &matchers);
                    for alert in rule.active.values_mut() {
                        let Some(&(down_at, active_at_secs)) = last_samples.get(&alert.labels) else { continue };
                        if is_stale_nan(active_at_secs) {
                            continue;
                        }
                        // Prometheus works in whole seconds here.
                        let down_at = down_at.div_euclid(1000) * 1000;
                        let mut restored_active_at = (active_at_secs as i64) * 1000;
                        let remaining = hold_ms - (down_at - restored_active_at);
                        if remaining <= 0 {
                            // It was firing when the server went down; the next evaluation fires it.
                        } else if remaining < grace_ms {
                            restored_active_at = ts_ms - hold_ms + grace_ms;
                        } else {
                            restored_active_at += ts_ms - down_at;
                        }
                        alert.active_at_ms = restored_active_at;
                    }
                }
                ForRestore::Prometheus => {}
            }
            if !rule.keep_firing_for.is_zero() {
                restore_keep_firing(rule, &*querier, ts_ms, offset_ms);
            }
            rule.set_restored(true);
        }
        // An alert that was active before the restart is not new: its pending (or firing)
        // state reaches back to before the restart, so what the first evaluations saw of it
        // (`inactive→pending`, and `→firing` of an alert firing before) is dropped.
        let held = std::mem::take(&mut self.held_state_changes);
        let is_backdated = |change: &AlertStateChange| {
            self.rules.iter().any(|rule| match rule {
                Rule::Alerting(rule) => rule.active.get(&change.labels).is_some_and(|alert| match change.to {
                    AlertState::Pending => {
                        change.from == AlertState::Inactive
                            && alert.state != AlertState::Inactive
                            && alert.active_at_ms < change.time_ms
                    }
                    AlertState::Firing => {
                        alert.state == AlertState::Firing && alert.fired_at_ms.is_some_and(|at| at < change.time_ms)
                    }
                    AlertState::Inactive => false,
                }),
                Rule::Recording(_) => false,
            })
        };
        let kept: Vec<AlertStateChange> = held.into_iter().filter(|change| !is_backdated(change)).collect();
        self.state_changes.splice(0..0, kept);
        self.should_restore = false;
    }
}

/// Restores `activeAt` of the rule's active alerts unchanged from `ALERTS_FOR_STATE` (selected
/// by `for_state_matchers`); an alert that was firing at its last evaluation before the restart
/// is firing again at once, since the time it started firing.
fn restore_unchanged(
    rule: &mut crate::rule::AlertingRule,
    querier: &dyn panoptes_storage::Querier,
    for_state_matchers: &[Matcher],
    offset_ms: i64,
) {
    let for_state = last_samples(querier, for_state_matchers);
    let firing = firing_series(querier, for_state_matchers);
    for alert in rule.active.values_mut() {
        let Some(&(down_at, active_at_secs)) = for_state.get(&alert.labels) else { continue };
        if is_stale_nan(active_at_secs) {
            continue;
        }
        let restored_active_at = (active_at_secs as i64) * 1000;
        if restored_active_at >= alert.active_at_ms {
            continue;
        }
        alert.active_at_ms = restored_active_at;
        let Some(samples) = firing.get(&alert.labels) else { continue };
        // It was firing at its last evaluation when `ALERTS{alertstate="firing"}` has a sample
        // at the time of the last `ALERTS_FOR_STATE` sample.
        if samples.last().is_some_and(|&(t, v)| t == down_at && !is_stale_nan(v))
            && let Some(first) = first_firing_sample(samples, restored_active_at - offset_ms)
        {
            alert.state = AlertState::Firing;
            alert.fired_at_ms = Some(first + offset_ms);
            alert.resolved_at_ms = None;
        }
    }
}

/// Returns the samples of the rule's `ALERTS{alertstate="firing"}` series by alert labels;
/// `matchers` select the rule's `ALERTS_FOR_STATE` series.
fn firing_series(
    querier: &dyn panoptes_storage::Querier,
    for_state_matchers: &[Matcher],
) -> HashMap<Labels, Vec<(i64, f64)>> {
    let mut matchers = for_state_matchers.to_vec();
    matchers[0] = Matcher::equal(METRIC_NAME, ALERT_METRIC_NAME);
    matchers.push(Matcher::equal(ALERT_STATE_LABEL, "firing"));
    all_samples_with(querier, &matchers, ALERT_STATE_LABEL)
}

/// Returns the time of the first sample of the last run of non-stale samples at or after
/// `not_before` (the firing series' start of the current episode).
fn first_firing_sample(samples: &[(i64, f64)], not_before: i64) -> Option<i64> {
    samples.iter().rev().take_while(|&&(t, v)| t >= not_before && !is_stale_nan(v)).last().map(|&(t, _)| t)
}

/// The pending and firing alerts of a rule (absent alerts are inactive).
fn alert_states(rule: &crate::rule::AlertingRule) -> HashMap<Labels, Alert> {
    rule.active
        .iter()
        .filter(|(_, alert)| alert.state != AlertState::Inactive)
        .map(|(labels, alert)| (labels.clone(), alert.clone()))
        .collect()
}

/// Appends the changes between `before` and the rule's alerts now.
fn diff_alert_states(
    before: &HashMap<Labels, Alert>,
    rule: &crate::rule::AlertingRule,
    ts_ms: i64,
    file: &str,
    group: &str,
    changes: &mut Vec<AlertStateChange>,
) {
    let change = |alert: &Alert, from: AlertState, to: AlertState| AlertStateChange {
        group_file: file.to_owned(),
        group_name: group.to_owned(),
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
        value: alert.value,
        from,
        to,
        time_ms: ts_ms,
    };
    let mut found = Vec::new();
    for (labels, alert) in &rule.active {
        let from = before.get(labels).map_or(AlertState::Inactive, |old| old.state);
        if from != alert.state {
            found.push(change(alert, from, alert.state));
        }
    }
    // A pending alert the expression no longer returns is deleted, as are all alerts of a
    // rule over its limit.
    for (labels, old) in before {
        if !rule.active.contains_key(labels) {
            found.push(change(old, old.state, AlertState::Inactive));
        }
    }
    found.sort_by(|a, b| a.labels.cmp(&b.labels));
    changes.extend(found);
}

/// Brings back alerts that were firing before a restart but whose expression no longer
/// returns them, so that they keep firing for what is left of `keep_firing_for`.
fn restore_keep_firing(
    rule: &mut crate::rule::AlertingRule,
    querier: &dyn panoptes_storage::Querier,
    ts_ms: i64,
    offset_ms: i64,
) {
    let mut matchers = vec![
        Matcher::equal(METRIC_NAME, ALERT_METRIC_NAME),
        Matcher::equal(ALERT_NAME_LABEL, rule.name.as_str()),
        Matcher::equal(ALERT_STATE_LABEL, "firing"),
    ];
    for label in &rule.static_labels() {
        matchers.push(Matcher::equal(&*label.name, &*label.value));
    }
    let keep_ms = millis(rule.keep_firing_for);
    let mut for_state_matchers = matchers.clone();
    for_state_matchers[0] = Matcher::equal(METRIC_NAME, ALERT_FOR_STATE_METRIC_NAME);
    for_state_matchers.remove(2);
    let active_at = last_samples(querier, &for_state_matchers);
    for (labels, samples) in all_samples_with(querier, &matchers, ALERT_STATE_LABEL) {
        let Some(&(last_firing_at, value)) = samples.last() else { continue };
        if is_stale_nan(value) || rule.active.contains_key(&labels) {
            continue;
        }
        // The alert was firing at its last sample; it kept firing from then at the latest.
        if ts_ms - last_firing_at >= keep_ms {
            continue;
        }
        let active_at_ms = active_at.get(&labels).map_or(last_firing_at, |&(_, v)| (v as i64) * 1000);
        let fired_at_ms = first_firing_sample(&samples, active_at_ms - offset_ms).unwrap_or(last_firing_at) + offset_ms;
        rule.active.insert(
            labels.clone(),
            Alert {
                labels,
                annotations: BTreeMap::new(),
                state: AlertState::Firing,
                value: f64::NAN,
                active_at_ms,
                fired_at_ms: Some(fired_at_ms),
                resolved_at_ms: None,
                last_sent_at_ms: None,
                valid_until_ms: None,
                keep_firing_since_ms: Some(last_firing_at),
            },
        );
    }
}

/// Returns, per alert label set (series labels without `__name__`), the last sample's time and
/// value among the series selected by `matchers`.
fn last_samples(querier: &dyn panoptes_storage::Querier, matchers: &[Matcher]) -> HashMap<Labels, (i64, f64)> {
    series_samples(querier, matchers, None)
        .into_iter()
        .filter_map(|(labels, samples)| samples.last().map(|last| (labels, *last)))
        .collect()
}

/// Returns, per alert label set (series labels without `__name__` and `drop_label`), every
/// sample in the querier's range, oldest first.
fn all_samples_with(
    querier: &dyn panoptes_storage::Querier,
    matchers: &[Matcher],
    drop_label: &str,
) -> HashMap<Labels, Vec<(i64, f64)>> {
    series_samples(querier, matchers, Some(drop_label))
}

/// Reads the series selected by `matchers`, keyed by their labels without `__name__` (and
/// `drop_label`); read errors are logged and skip the series.
fn series_samples(
    querier: &dyn panoptes_storage::Querier,
    matchers: &[Matcher],
    drop_label: Option<&str>,
) -> HashMap<Labels, Vec<(i64, f64)>> {
    let mut out = HashMap::new();
    let series_set = match querier.select(matchers) {
        Ok(set) => set,
        Err(error) => {
            tracing::error!(error = %error, "cannot read alert state series");
            return out;
        }
    };
    for series in series_set {
        let mut series = match series {
            Ok(series) => series,
            Err(error) => {
                tracing::error!(error = %error, "cannot read alert state series");
                continue;
            }
        };
        let mut samples = Vec::new();
        while let Some(sample) = series.samples.next() {
            samples.push((sample.t, sample.v));
        }
        let mut builder = series.labels.builder();
        builder.remove(METRIC_NAME);
        if let Some(drop_label) = drop_label {
            builder.remove(drop_label);
        }
        out.insert(builder.build(), samples);
    }
    out
}

fn same_rule(new: &Rule, old: &Rule) -> bool {
    match (new, old) {
        (Rule::Recording(a), Rule::Recording(b)) => a.name == b.name && a.labels == b.labels,
        (Rule::Alerting(a), Rule::Alerting(b)) => a.name == b.name && a.labels == b.labels,
        _ => false,
    }
}

/// Marks the alerts that need sending as sent and returns them (Prometheus' `sendAlerts`).
fn collect_alerts_to_send(
    rule: &mut crate::rule::AlertingRule,
    ts_ms: i64,
    resend_delay: Duration,
    interval: Duration,
) -> Vec<AlertToSend> {
    let delta = millis(resend_delay.max(interval));
    let mut out = Vec::new();
    let mut keys: Vec<Labels> = rule.active.keys().cloned().collect();
    keys.sort();
    for key in keys {
        let Some(alert) = rule.active.get_mut(&key) else { continue };
        if !alert.needs_sending(ts_ms, resend_delay) {
            continue;
        }
        alert.last_sent_at_ms = Some(ts_ms);
        alert.valid_until_ms = Some(ts_ms + 4 * delta);
        out.push(AlertToSend {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            starts_at_ms: alert.fired_at_ms.unwrap_or(alert.active_at_ms),
            ends_at_ms: alert.resolved_at_ms.unwrap_or(ts_ms + 4 * delta),
            expr: rule.query.clone(),
        });
    }
    out
}
