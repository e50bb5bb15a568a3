//! Group evaluation through the public API: alert states, `ALERTS` series, staleness, limits,
//! query offset, notification timing and restoring state after a restart.

use std::sync::Arc;
use std::time::Duration;

use panoptes_model::{Labels, Matcher, is_stale_nan};
use panoptes_promql::{Engine, EngineOptions};
use panoptes_rules::{
    AlertState, AlertStateChange, EvalContext, ForRestore, Group, ParseOptions, RestoreOptions, Rule, RuleHealth,
    parse_rule_file,
};
use panoptes_storage::{MemStorage, StorageRef, collect_samples};

const MINUTE: i64 = 60_000;

fn context(storage: &StorageRef) -> EvalContext {
    EvalContext {
        storage: Arc::clone(storage),
        engine: Engine::new(EngineOptions::default()),
        external_labels: Labels::empty(),
        external_url: "http://prom.example".to_owned(),
    }
}

fn group(yaml: &str, should_restore: bool) -> Group {
    let file = parse_rule_file(yaml, "test.yml", ParseOptions::default()).expect("valid rule file");
    Group::new(&file.groups[0], "test.yml", Duration::from_secs(60), should_restore).expect("group")
}

fn append(storage: &StorageRef, series: &[(&str, &str)], t: i64, v: f64) {
    let mut appender = storage.appender();
    appender.append(&Labels::from_pairs(series.iter().copied()), t, v).expect("append");
    appender.commit().expect("commit");
}

fn samples(storage: &StorageRef, matchers: &[(&str, &str)]) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let querier = storage.querier(i64::MIN / 2, i64::MAX / 2).expect("querier");
    let matchers: Vec<Matcher> = matchers.iter().map(|(k, v)| Matcher::equal(*k, *v)).collect();
    querier
        .select(&matchers)
        .expect("select")
        .map(|series| {
            let mut series = series.expect("series");
            let samples = collect_samples(&mut *series.samples).into_iter().map(|s| (s.t, s.v)).collect();
            (series.labels, samples)
        })
        .collect()
}

fn alert_states(group: &Group) -> Vec<AlertState> {
    group
        .rules()
        .iter()
        .filter_map(|rule| match rule {
            Rule::Alerting(rule) => Some(rule.alerts().iter().map(|a| a.state).collect::<Vec<_>>()),
            Rule::Recording(_) => None,
        })
        .flatten()
        .collect()
}

const ALERT_RULES: &str = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels: {severity: page}\n    annotations: {summary: '{{ $labels.job }} is down ({{ $value }})'}\n";

#[test]
fn alert_goes_pending_then_firing_then_resolves() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let mut group = group(ALERT_RULES, false);
    let job = [("__name__", "up"), ("job", "api")];
    let resend = Duration::from_secs(60);
    for minute in 0..=3 {
        append(&storage, &job, minute * MINUTE, 0.0);
        let sent = group.eval(&context, minute * MINUTE, Duration::ZERO, resend);
        let expected = if minute < 2 { AlertState::Pending } else { AlertState::Firing };
        assert_eq!(alert_states(&group), vec![expected], "minute {minute}");
        // Pending alerts are never sent; a firing one is sent at once, then after the resend delay.
        assert_eq!(sent.len(), usize::from(minute == 2), "minute {minute}");
        if minute == 2 {
            assert_eq!(sent[0].starts_at_ms, 2 * MINUTE);
            assert_eq!(sent[0].ends_at_ms, 2 * MINUTE + 4 * MINUTE, "endsAt = now + 4 x max(interval, resend)");
            assert_eq!(sent[0].annotations["summary"], "api is down (0)");
            assert_eq!(sent[0].labels.get("severity"), Some("page"));
        }
    }
    append(&storage, &job, 4 * MINUTE, 1.0);
    let sent = group.eval(&context, 4 * MINUTE, Duration::ZERO, resend);
    assert_eq!(alert_states(&group), vec![AlertState::Inactive]);
    assert_eq!(sent.len(), 1, "a resolved alert is sent at once");
    assert_eq!(sent[0].ends_at_ms, 4 * MINUTE);

    let alerts = samples(&storage, &[("__name__", "ALERTS")]);
    let states: Vec<(String, Vec<(i64, f64)>)> =
        alerts.iter().map(|(labels, s)| (labels.get("alertstate").unwrap_or("").to_owned(), s.clone())).collect();
    assert_eq!(states[0].0, "firing");
    assert_eq!(&states[0].1[..2], &[(2 * MINUTE, 1.0), (3 * MINUTE, 1.0)]);
    assert!(is_stale_nan(states[0].1[2].1), "firing series is marked stale when the alert resolves");
    assert_eq!(states[1].0, "pending");
    assert_eq!(&states[1].1[..2], &[(0, 1.0), (MINUTE, 1.0)]);
    assert!(is_stale_nan(states[1].1[2].1) && states[1].1[2].0 == 2 * MINUTE);
    let for_state = samples(&storage, &[("__name__", "ALERTS_FOR_STATE")]);
    assert_eq!(for_state[0].1[0], (0, 0.0), "ALERTS_FOR_STATE holds activeAt in seconds");

    // Resolved alerts are kept for 15 minutes, then dropped.
    for minute in 5..=19 {
        append(&storage, &job, minute * MINUTE, 1.0);
        group.eval(&context, minute * MINUTE, Duration::ZERO, resend);
    }
    assert_eq!(alert_states(&group), vec![AlertState::Inactive]);
    append(&storage, &job, 20 * MINUTE, 1.0);
    group.eval(&context, 20 * MINUTE, Duration::ZERO, resend);
    assert!(alert_states(&group).is_empty());
}

#[test]
fn keep_firing_for_holds_a_firing_alert() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    keep_firing_for: 2m\n";
    let mut group = group(yaml, false);
    let job = [("__name__", "up"), ("job", "api")];
    let mut states = Vec::new();
    for (minute, value) in [(0, 0.0), (1, 1.0), (2, 1.0), (3, 1.0)] {
        append(&storage, &job, minute * MINUTE, value);
        group.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
        states.push(alert_states(&group));
    }
    assert_eq!(
        states,
        vec![vec![AlertState::Firing], vec![AlertState::Firing], vec![AlertState::Firing], vec![AlertState::Inactive]]
    );
}

#[test]
fn recording_rules_see_earlier_results_and_vanished_series_go_stale() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let yaml = "groups:\n- name: g\n  labels: {team: a}\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - record: job:up:double\n    expr: job:up:sum * 2\n";
    let mut group = group(yaml, false);
    append(&storage, &[("__name__", "up"), ("job", "api")], 0, 3.0);
    group.eval(&context, 0, Duration::ZERO, Duration::from_secs(60));
    let doubled = samples(&storage, &[("__name__", "job:up:double")]);
    assert_eq!(doubled[0].0, Labels::from_pairs([("__name__", "job:up:double"), ("job", "api"), ("team", "a")]));
    assert_eq!(doubled[0].1, vec![(0, 6.0)]);
    // At 10m the input is beyond the lookback window: the results vanish and are marked stale.
    group.eval(&context, 10 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    let recorded = samples(&storage, &[("__name__", "job:up:sum")]);
    assert!(is_stale_nan(recorded[0].1[1].1) && recorded[0].1[1].0 == 10 * MINUTE);
}

#[test]
fn limit_and_query_offset() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let yaml = "groups:\n- name: g\n  limit: 1\n  query_offset: 1m\n  rules:\n  - record: r\n    expr: up\n";
    let mut group = group(yaml, false);
    append(&storage, &[("__name__", "up"), ("job", "a")], 0, 1.0);
    group.eval(&context, 2 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    assert_eq!(samples(&storage, &[("__name__", "r")])[0].1, vec![(MINUTE, 1.0)], "written at ts - query_offset");
    append(&storage, &[("__name__", "up"), ("job", "b")], 0, 1.0);
    group.eval(&context, 3 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    let status = group.rules()[0].status();
    assert_eq!(status.health, RuleHealth::Err);
    assert_eq!(status.last_error.as_deref(), Some("exceeded limit of 1 with 2 series"));
}

/// Evaluates `yaml` every minute from 0m to 10m with `up{job="api"} == 0`, restarts (down
/// from 10m to 15m), evaluates at 15m and 16m and restores with `mode`; returns the group.
fn restart_in_the_middle_of_for(storage: &StorageRef, yaml: &str, mode: ForRestore) -> Group {
    let context = context(storage);
    let job = [("__name__", "up"), ("job", "api")];
    let mut before = group(yaml, false);
    for minute in 0..=10 {
        append(storage, &job, minute * MINUTE, 0.0);
        before.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
    }
    let mut after = group(yaml, true);
    for minute in [15, 16] {
        append(storage, &job, minute * MINUTE, 0.0);
        after.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
    }
    assert!(
        samples(storage, &[("__name__", "ALERTS")]).iter().all(|series| series.1.iter().all(|s| s.0 <= 10 * MINUTE)),
        "no ALERTS series before the state is restored"
    );
    after.restore_for_state(&context, 16 * MINUTE, RestoreOptions { mode, ..RestoreOptions::default() });
    after
}

fn first_alert(group: &Group) -> panoptes_rules::Alert {
    let Rule::Alerting(rule) = &group.rules()[0] else { panic!("alerting rule") };
    rule.alerts()[0].clone()
}

#[test]
fn restart_restores_for_state_as_prometheus_does_when_asked() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 30m\n";
    let after = restart_in_the_middle_of_for(&storage, yaml, ForRestore::Prometheus);
    // It had been pending 10m of its 30m at the outage; the 6m outage extends activeAt.
    assert_eq!(first_alert(&after).active_at_ms, 6 * MINUTE);
}

#[test]
fn restart_keeps_active_at_so_the_alert_fires_when_it_would_have() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 30m\n";
    let mut after = restart_in_the_middle_of_for(&storage, yaml, ForRestore::Unchanged);
    assert_eq!(first_alert(&after).active_at_ms, 0);
    assert_eq!(first_alert(&after).state, AlertState::Pending);
    assert_eq!(transitions(&after.take_state_changes()), []);
    let job = [("__name__", "up"), ("job", "api")];
    let mut fired_at = None;
    let mut changes = Vec::new();
    for minute in 17..=31 {
        append(&storage, &job, minute * MINUTE, 0.0);
        let sent = after.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
        changes.extend(after.take_state_changes());
        if fired_at.is_none() && !sent.is_empty() {
            fired_at = Some(minute);
            assert_eq!(sent[0].starts_at_ms, 30 * MINUTE);
        }
    }
    // Exactly 30m after it became active, as without the restart.
    assert_eq!(fired_at, Some(30));
    assert_eq!(transitions(&changes), [(30, "pending", "firing")]);
    let for_state = samples(&storage, &[("__name__", "ALERTS_FOR_STATE")]);
    assert!(for_state[0].1.iter().all(|&(_, v)| v == 0.0), "ALERTS_FOR_STATE keeps activeAt: {for_state:?}");
}

#[test]
fn restart_keeps_a_firing_alert_firing_since_it_fired() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    // Fires at 5m, before the outage from 10m to 15m.
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 5m\n";
    let mut after = restart_in_the_middle_of_for(&storage, yaml, ForRestore::Unchanged);
    let alert = first_alert(&after);
    assert_eq!((alert.state, alert.active_at_ms, alert.fired_at_ms), (AlertState::Firing, 0, Some(5 * MINUTE)));
    // No new `pending` nor `firing`: it was firing all along.
    assert_eq!(transitions(&after.take_state_changes()), []);
    append(&storage, &[("__name__", "up"), ("job", "api")], 17 * MINUTE, 0.0);
    let sent = after.eval(&context, 17 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].starts_at_ms, 5 * MINUTE, "startsAt is when it first fired");
    assert_eq!(transitions(&after.take_state_changes()), []);

    // Prometheus' way (for shorter than the grace period: not restored) starts it afresh.
    let storage: StorageRef = Arc::new(MemStorage::new());
    let mut after = restart_in_the_middle_of_for(&storage, yaml, ForRestore::Prometheus);
    assert_eq!((first_alert(&after).state, first_alert(&after).active_at_ms), (AlertState::Pending, 15 * MINUTE));
    assert_eq!(transitions(&after.take_state_changes()), [(15, "inactive", "pending")]);
}

#[test]
fn restart_keeps_keep_firing_for() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    keep_firing_for: 10m\n";
    let job = [("__name__", "up"), ("job", "api")];
    let mut before = group(yaml, false);
    append(&storage, &job, 0, 0.0);
    before.eval(&context, 0, Duration::ZERO, Duration::from_secs(60));
    append(&storage, &job, MINUTE, 1.0);
    before.eval(&context, MINUTE, Duration::ZERO, Duration::from_secs(60));
    // Restart at 3m: the expression no longer returns the alert, which keeps firing until 11m.
    let mut after = group(yaml, true);
    append(&storage, &job, 3 * MINUTE, 1.0);
    after.eval(&context, 3 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    after.restore_for_state(&context, 3 * MINUTE, RestoreOptions::default());
    assert_eq!(alert_states(&after), vec![AlertState::Firing]);
    let alert = first_alert(&after);
    assert_eq!((alert.fired_at_ms, alert.keep_firing_since_ms), (Some(0), Some(MINUTE)), "fired at 0, kept since 1m");
    append(&storage, &job, 4 * MINUTE, 1.0);
    after.eval(&context, 4 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    assert_eq!(alert_states(&after), vec![AlertState::Firing]);
    append(&storage, &job, 11 * MINUTE, 1.0);
    after.eval(&context, 11 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    assert_eq!(alert_states(&after), vec![AlertState::Inactive]);
}

#[test]
fn api_json_has_prometheus_field_names() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let mut group = group(ALERT_RULES, false);
    append(&storage, &[("__name__", "up"), ("job", "api")], 0, 0.0);
    group.eval(&context, 0, Duration::ZERO, Duration::from_secs(60));
    let rules = serde_json::to_value(panoptes_rules::api::rule_discovery([&group])).expect("json");
    let rule = &rules["groups"][0]["rules"][0];
    assert_eq!(rules["groups"][0]["interval"], 60.0);
    assert_eq!(rules["groups"][0]["lastEvaluation"], "1970-01-01T00:00:00Z");
    assert_eq!(rule["type"], "alerting");
    assert_eq!(rule["state"], "pending");
    assert_eq!(rule["duration"], 120.0);
    assert_eq!(rule["keepFiringFor"], 0.0);
    assert_eq!(rule["health"], "ok");
    assert_eq!(rule["alerts"][0]["value"], "0e+00");
    assert_eq!(rule["alerts"][0]["activeAt"], "1970-01-01T00:00:00Z");
    assert_eq!(rule["alerts"][0]["labels"]["alertname"], "Down");
    let alerts = serde_json::to_value(panoptes_rules::api::alert_discovery([&group])).expect("json");
    assert_eq!(alerts["alerts"][0]["state"], "pending");
}

/// Returns `(minute, from, to)` of each state change, in order.
fn transitions(changes: &[AlertStateChange]) -> Vec<(i64, &'static str, &'static str)> {
    changes.iter().map(|change| (change.time_ms / MINUTE, change.from.as_str(), change.to_name())).collect()
}

#[test]
fn state_changes_are_reported_once_per_evaluation() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let mut group = group(ALERT_RULES, false);
    let api = [("__name__", "up"), ("job", "api")];
    let db = [("__name__", "up"), ("job", "db")];
    let mut seen = Vec::new();
    // api: down 0m..3m, up at 4m (pending, firing, resolved); db: down at 1m only (pending,
    // then deleted while pending).
    for minute in 0..=4 {
        append(&storage, &api, minute * MINUTE, if minute < 4 { 0.0 } else { 1.0 });
        append(&storage, &db, minute * MINUTE, if minute == 1 { 0.0 } else { 1.0 });
        group.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
        let changes = group.take_state_changes();
        assert!(group.take_state_changes().is_empty(), "taken once");
        seen.extend(changes);
    }
    assert_eq!(
        transitions(&seen),
        [
            (0, "inactive", "pending"),
            (1, "inactive", "pending"),
            (2, "pending", "firing"),
            (2, "pending", "inactive"),
            (4, "firing", "resolved"),
        ]
    );
    let firing = &seen[2];
    assert_eq!(firing.labels.get("job"), Some("api"));
    assert_eq!(firing.annotations["summary"], "api is down (0)");
    assert_eq!((firing.group_file.as_str(), firing.group_name.as_str()), ("test.yml", "g"));
    assert_eq!(seen[3].labels.get("job"), Some("db"));
}

#[test]
fn a_restart_reports_no_new_pending_for_an_alert_active_before_it() {
    let storage: StorageRef = Arc::new(MemStorage::new());
    let context = context(&storage);
    let yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n    for: 30m\n";
    let api = [("__name__", "up"), ("job", "api")];
    let db = [("__name__", "up"), ("job", "db")];
    let mut before = group(yaml, false);
    for minute in 0..=10 {
        append(&storage, &api, minute * MINUTE, 0.0);
        before.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
    }
    assert_eq!(transitions(&before.take_state_changes()), []);
    // After the restart, api was pending before it; db is new.
    let mut after = group(yaml, true);
    for minute in [15, 16] {
        append(&storage, &api, minute * MINUTE, 0.0);
        append(&storage, &db, minute * MINUTE, 0.0);
        after.eval(&context, minute * MINUTE, Duration::ZERO, Duration::from_secs(60));
        assert_eq!(transitions(&after.take_state_changes()), [], "held until the restore");
    }
    after.restore_for_state(&context, 16 * MINUTE, RestoreOptions::default());
    let changes = after.take_state_changes();
    assert_eq!(transitions(&changes), [(15, "inactive", "pending")]);
    assert_eq!(changes[0].labels.get("job"), Some("db"));
    append(&storage, &api, 17 * MINUTE, 0.0);
    append(&storage, &db, 17 * MINUTE, 1.0);
    after.eval(&context, 17 * MINUTE, Duration::ZERO, Duration::from_secs(60));
    assert_eq!(transitions(&after.take_state_changes()), [(17, "pending", "inactive")]);
}
