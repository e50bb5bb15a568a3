//! Recording and alerting rules and their evaluation at one timestamp (Prometheus'
//! `RecordingRule.Eval` and `AlertingRule.Eval`). Writing results is the group's job.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use panoptes_model::{Labels, METRIC_NAME};
use panoptes_promql::{Engine, Value};
use panoptes_storage::StorageRef;
use promql_parser::parser::Expr;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::file::RuleConfig;
use crate::template::{QuerySample, TemplateData, TemplateQueryFn, expand_alert_template};

/// The metric name of the series describing active alerts.
pub const ALERT_METRIC_NAME: &str = "ALERTS";
/// The metric name of the series holding each active alert's `activeAt` (Unix seconds).
pub const ALERT_FOR_STATE_METRIC_NAME: &str = "ALERTS_FOR_STATE";
/// The label naming the alert.
pub const ALERT_NAME_LABEL: &str = "alertname";
/// The label of `ALERTS` holding the state.
pub const ALERT_STATE_LABEL: &str = "alertstate";
/// How long a resolved alert is kept (and re-sent) after it resolved.
pub(crate) const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// The state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// Not active (resolved alerts kept for notification).
    Inactive,
    /// Active, waiting for the rule's `for` duration.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// Returns Prometheus' name of the state.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// The health of a rule after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleHealth {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation succeeded.
    Ok,
    /// The last evaluation failed.
    Err,
}

/// One alert of an alerting rule. Times are milliseconds since the epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The alert's labels: the series' labels without `__name__`, the rule's labels and
    /// `alertname`.
    pub labels: Labels,
    /// The expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// The current state.
    pub state: AlertState,
    /// The value of the last evaluation that returned the alert.
    pub value: f64,
    /// When the alert became active (pending).
    pub active_at_ms: i64,
    /// When the alert started firing.
    pub fired_at_ms: Option<i64>,
    /// When the alert resolved.
    pub resolved_at_ms: Option<i64>,
    /// When the alert was last handed to the notifier.
    pub last_sent_at_ms: Option<i64>,
    /// Until when the last notification is valid (`endsAt` of a firing alert).
    pub valid_until_ms: Option<i64>,
    /// Since when the alert keeps firing although its expression no longer returns it.
    pub keep_firing_since_ms: Option<i64>,
}

impl Alert {
    /// Returns whether the alert should be (re)sent at `ts_ms` (Prometheus' `needsSending`).
    pub fn needs_sending(&self, ts_ms: i64, resend_delay: Duration) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let last_sent = self.last_sent_at_ms.unwrap_or(i64::MIN);
        if self.resolved_at_ms.is_some_and(|resolved| resolved > last_sent) {
            return true;
        }
        self.last_sent_at_ms.is_none_or(|sent| sent.saturating_add(millis(resend_delay)) < ts_ms)
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// What rules need from the server while they evaluate.
#[derive(Clone)]
pub struct EvalContext {
    /// The store queries read and results are written to.
    pub storage: StorageRef,
    /// The PromQL engine.
    pub engine: Engine,
    /// The server's external labels, visible to templates.
    pub external_labels: Labels,
    /// The server's external URL, visible to templates.
    pub external_url: String,
}

impl std::fmt::Debug for EvalContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalContext")
            .field("external_labels", &self.external_labels)
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

/// One sample a rule produced, to be written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutputSample {
    pub(crate) labels: Labels,
    pub(crate) t: i64,
    pub(crate) v: f64,
}

/// Runs an instant query the way rules do: a scalar becomes one sample without labels, other
/// non-vector results are errors (Prometheus' `EngineQueryFunc`).
pub(crate) fn query_vector(context: &EvalContext, expr: &Expr, text: &str, t: i64) -> Result<Vec<QuerySample>> {
    let (value, _) = context.engine.instant_query_expr(&*context.storage, expr, text, t)?;
    match value {
        Value::Vector(vector) => Ok(vector.into_iter().map(|s| QuerySample { labels: s.labels, value: s.v }).collect()),
        Value::Scalar { v, .. } => Ok(vec![QuerySample { labels: Labels::empty(), value: v }]),
        _ => Err(Error::Evaluation("rule result is not a vector or scalar".to_owned())),
    }
}

/// Returns the `query` function of templates, running against the context's store.
pub(crate) fn template_query(context: &EvalContext) -> TemplateQueryFn {
    let storage = Arc::clone(&context.storage);
    let engine = context.engine.clone();
    Arc::new(move |query: &str, t: i64| {
        let (value, _) = engine.instant_query(&*storage, query, t).map_err(|e| e.to_string())?;
        match value {
            Value::Vector(vector) => {
                Ok(vector.into_iter().map(|s| QuerySample { labels: s.labels, value: s.v }).collect())
            }
            Value::Scalar { v, .. } => Ok(vec![QuerySample { labels: Labels::empty(), value: v }]),
            _ => Err("rule result is not a vector or scalar".to_owned()),
        }
    })
}

/// Bookkeeping shared by both kinds of rule.
#[derive(Debug, Clone)]
pub struct RuleStatus {
    /// Health after the last evaluation.
    pub health: RuleHealth,
    /// The last evaluation's error.
    pub last_error: Option<String>,
    /// When the rule was last evaluated (ms), if ever.
    pub last_evaluation_ms: Option<i64>,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
}

impl Default for RuleStatus {
    fn default() -> Self {
        Self {
            health: RuleHealth::Unknown,
            last_error: None,
            last_evaluation_ms: None,
            evaluation_time: Duration::ZERO,
        }
    }
}

/// A recording rule: writes the result of its expression under a new metric name.
#[derive(Debug, Clone)]
pub struct RecordingRule {
    /// The recorded metric name.
    pub name: String,
    /// The expression's text.
    pub query: String,
    expr: Expr,
    /// Labels set on every result (the group's labels merged under the rule's).
    pub labels: Labels,
    /// Evaluation bookkeeping.
    pub status: RuleStatus,
}

impl RecordingRule {
    /// Evaluates the rule at `ts_ms - query_offset` and returns the samples to write.
    pub(crate) fn eval(&self, context: &EvalContext, query_time: i64, limit: usize) -> Result<Vec<OutputSample>> {
        let vector = query_vector(context, &self.expr, &self.query, query_time)?;
        let mut seen = std::collections::HashSet::with_capacity(vector.len());
        let mut out = Vec::with_capacity(vector.len());
        for sample in vector {
            let mut builder = sample.labels.builder();
            builder.set(METRIC_NAME, self.name.as_str());
            for label in &self.labels {
                builder.set(Arc::clone(&label.name), Arc::clone(&label.value));
            }
            let labels = builder.build();
            if !seen.insert(labels.clone()) {
                return Err(Error::Evaluation(
                    "vector contains metrics with the same labelset after applying rule labels".to_owned(),
                ));
            }
            out.push(OutputSample { labels, t: query_time, v: sample.value });
        }
        if limit > 0 && out.len() > limit {
            return Err(Error::Evaluation(format!("exceeded limit of {limit} with {} series", out.len())));
        }
        Ok(out)
    }
}

/// An alerting rule with its active alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    /// The alert name.
    pub name: String,
    /// The expression's text.
    pub query: String,
    expr: Expr,
    /// How long an alert stays pending.
    pub hold_duration: Duration,
    /// How long an alert keeps firing after its expression stopped returning it.
    pub keep_firing_for: Duration,
    /// Label templates (the group's labels merged under the rule's).
    pub labels: BTreeMap<String, String>,
    /// Annotation templates.
    pub annotations: BTreeMap<String, String>,
    /// Active alerts (pending, firing, and resolved ones kept for notification) by label set.
    pub(crate) active: HashMap<Labels, Alert>,
    /// Whether the `for` state was restored (or needs no restoring); `ALERTS` series are
    /// written only then.
    pub(crate) restored: bool,
    /// Evaluation bookkeeping.
    pub status: RuleStatus,
}

impl AlertingRule {
    /// Returns the active alerts (pending, firing, and inactive ones kept after resolving),
    /// sorted by labels.
    pub fn alerts(&self) -> Vec<&Alert> {
        let mut alerts: Vec<&Alert> = self.active.values().collect();
        alerts.sort_by(|a, b| a.labels.cmp(&b.labels));
        alerts
    }

    /// Returns the pending and firing alerts, sorted by labels.
    pub fn active_alerts(&self) -> Vec<&Alert> {
        self.alerts().into_iter().filter(|a| a.state != AlertState::Inactive).collect()
    }

    /// Marks the rule's state as restored (or not needing restoring).
    pub fn set_restored(&mut self, restored: bool) {
        self.restored = restored;
    }

    /// Returns the rule's static labels (template text) as a label set.
    pub(crate) fn static_labels(&self) -> Labels {
        Labels::from_pairs(self.labels.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Evaluates the rule at `ts_ms` (querying at `ts_ms - query_offset`), updates the alerts
    /// and returns the `ALERTS` / `ALERTS_FOR_STATE` samples to write.
    pub(crate) fn eval(
        &mut self,
        context: &EvalContext,
        ts_ms: i64,
        query_offset_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutputSample>> {
        let query_time = ts_ms - query_offset_ms;
        let vector = query_vector(context, &self.expr, &self.query, query_time)?;
        let query_fn = template_query(context);
        let mut current: HashMap<Labels, Alert> = HashMap::with_capacity(vector.len());
        for sample in vector {
            let data = TemplateData {
                labels: &sample.labels,
                value: sample.value,
                external_labels: &context.external_labels,
                external_url: &context.external_url,
                timestamp_ms: ts_ms,
                query: Some(Arc::clone(&query_fn)),
            };
            let expand = |text: &str| expand_alert_template(&self.name, text, &data);
            let mut builder = sample.labels.builder();
            builder.remove(METRIC_NAME);
            for (name, text) in &self.labels {
                builder.set(name.as_str(), expand(text));
            }
            builder.set(ALERT_NAME_LABEL, self.name.as_str());
            let annotations = self.annotations.iter().map(|(name, text)| (name.clone(), expand(text))).collect();
            let labels = builder.build();
            if current.contains_key(&labels) {
                return Err(Error::Evaluation(
                    "vector contains metrics with the same labelset after applying alert labels".to_owned(),
                ));
            }
            current.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    state: AlertState::Pending,
                    value: sample.value,
                    active_at_ms: ts_ms,
                    fired_at_ms: None,
                    resolved_at_ms: None,
                    last_sent_at_ms: None,
                    valid_until_ms: None,
                    keep_firing_since_ms: None,
                },
            );
        }
        let returned: std::collections::HashSet<Labels> = current.keys().cloned().collect();
        for (labels, alert) in current {
            match self.active.get_mut(&labels) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = alert.value;
                    existing.annotations = alert.annotations;
                }
                _ => {
                    self.active.insert(labels, alert);
                }
            }
        }
        let hold_ms = millis(self.hold_duration);
        let keep_ms = millis(self.keep_firing_for);
        let mut output = Vec::new();
        let mut active_count = 0usize;
        let mut to_delete = Vec::new();
        let mut keys: Vec<Labels> = self.active.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let Some(alert) = self.active.get_mut(&key) else { continue };
            if !returned.contains(&key) {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && keep_ms > 0 {
                    let since = *alert.keep_firing_since_ms.get_or_insert(ts_ms);
                    keep_firing = ts_ms - since < keep_ms;
                }
                if alert.state == AlertState::Pending
                    || alert.resolved_at_ms.is_some_and(|resolved| ts_ms - resolved > RESOLVED_RETENTION_MS)
                {
                    to_delete.push(key.clone());
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at_ms = Some(ts_ms);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                alert.keep_firing_since_ms = None;
            }
            active_count += 1;
            if alert.state == AlertState::Pending && ts_ms - alert.active_at_ms >= hold_ms {
                alert.state = AlertState::Firing;
                alert.fired_at_ms = Some(ts_ms);
            }
            if self.restored {
                output.push(OutputSample { labels: alert_series(alert, &self.name), t: query_time, v: 1.0 });
                output.push(OutputSample {
                    labels: for_state_series(alert, &self.name),
                    t: query_time,
                    v: (alert.active_at_ms.div_euclid(1000)) as f64,
                });
            }
        }
        for key in to_delete {
            self.active.remove(&key);
        }
        if limit > 0 && active_count > limit {
            self.active.clear();
            return Err(Error::Evaluation(format!("exceeded limit of {limit} with {active_count} alerts")));
        }
        Ok(output)
    }
}

/// The `ALERTS{alertname, alertstate, ...}` series of an alert.
fn alert_series(alert: &Alert, name: &str) -> Labels {
    let mut builder = alert.labels.builder();
    builder.set(METRIC_NAME, ALERT_METRIC_NAME);
    builder.set(ALERT_NAME_LABEL, name);
    builder.set(ALERT_STATE_LABEL, alert.state.as_str());
    builder.build()
}

/// The `ALERTS_FOR_STATE{alertname, ...}` series of an alert.
pub(crate) fn for_state_series(alert: &Alert, name: &str) -> Labels {
    let mut builder = alert.labels.builder();
    builder.set(METRIC_NAME, ALERT_FOR_STATE_METRIC_NAME);
    builder.set(ALERT_NAME_LABEL, name);
    builder.build()
}

/// A rule of either kind.
#[derive(Debug, Clone)]
pub enum Rule {
    /// A recording rule.
    Recording(RecordingRule),
    /// An alerting rule.
    Alerting(AlertingRule),
}

impl Rule {
    /// Builds a rule from its configuration; `group_labels` are merged under the rule's labels.
    ///
    /// # Errors
    ///
    /// Returns the parse error of the expression (validated files never have one).
    pub fn from_config(config: &RuleConfig, group_labels: &BTreeMap<String, String>) -> Result<Self> {
        let expr = panoptes_promql::parser::parse(&config.expr)?;
        let mut labels = group_labels.clone();
        labels.extend(config.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(match &config.record {
            Some(name) => Rule::Recording(RecordingRule {
                name: name.clone(),
                query: config.expr.clone(),
                expr,
                labels: Labels::from_pairs(
                    labels.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str())),
                ),
                status: RuleStatus::default(),
            }),
            None => Rule::Alerting(AlertingRule {
                name: config.alert.clone().unwrap_or_default(),
                query: config.expr.clone(),
                expr,
                hold_duration: config.for_duration,
                keep_firing_for: config.keep_firing_for,
                labels,
                annotations: config.annotations.clone(),
                active: HashMap::new(),
                restored: false,
                status: RuleStatus::default(),
            }),
        })
    }

    /// Returns the record or alert name.
    pub fn name(&self) -> &str {
        match self {
            Rule::Recording(rule) => &rule.name,
            Rule::Alerting(rule) => &rule.name,
        }
    }

    /// Returns the expression's text.
    pub fn query(&self) -> &str {
        match self {
            Rule::Recording(rule) => &rule.query,
            Rule::Alerting(rule) => &rule.query,
        }
    }

    /// Returns the evaluation bookkeeping.
    pub fn status(&self) -> &RuleStatus {
        match self {
            Rule::Recording(rule) => &rule.status,
            Rule::Alerting(rule) => &rule.status,
        }
    }

    pub(crate) fn status_mut(&mut self) -> &mut RuleStatus {
        match self {
            Rule::Recording(rule) => &mut rule.status,
            Rule::Alerting(rule) => &mut rule.status,
        }
    }
}
