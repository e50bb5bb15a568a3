//! Prometheus recording and alerting rules (see ARCHITECTURE.md).
//!
//! [`mod@file`] reads rule files with Prometheus' validation ([`check_rules`] is `promtool check
//! rules`); [`template`] expands alert templates in Go text/template syntax with Prometheus'
//! functions; [`Group`] evaluates rules at a timestamp against any
//! [`panoptes_storage::Storage`] through the PromQL [`panoptes_promql::Engine`], with
//! Prometheus' alert states, `ALERTS` / `ALERTS_FOR_STATE` series and staleness;
//! [`unittest`] runs `promtool test rules` files.
//!
//! # Keeping `for` across restarts
//!
//! Prometheus' `RestoreForState` counts no downtime towards `for`: after a restart, a pending
//! alert's `activeAt` moves forward by the outage, and it stays pending at least
//! `--rules.alert.for-grace-period`, so a restart delays firing. Panoptes writes
//! `ALERTS_FOR_STATE` to its own WAL, so after an outage shorter than
//! `--rules.alert.for-outage-tolerance` it knows when each alert became active, and by default
//! ([`ForRestore::Unchanged`]) restores `activeAt` as it was: the alert fires when it would have
//! without the restart (at the first evaluation after the restore if that time passed during
//! the outage). An alert that was firing at the last evaluation before the restart (its
//! `ALERTS{alertstate="firing"}` series has a sample at the time of the last
//! `ALERTS_FOR_STATE` sample) is firing again at once, with the time it started firing taken
//! from the first sample of that run, so notifications keep their `startsAt` and the alert
//! history shows no new `pending` or `firing`. The restore runs after the second evaluation,
//! as in Prometheus; `activeAt` has whole-second precision there, as the series holds seconds.
//! [`ForRestore::Prometheus`] (`--rules.alert.for-restore=prometheus`) restores Prometheus'
//! way.
//!
//! # Keeping `keep_firing_for` across restarts
//!
//! Prometheus restores only the `for` state (from `ALERTS_FOR_STATE`) and forgets alerts that
//! were kept firing by `keep_firing_for`. Panoptes also reads the `ALERTS{alertstate="firing"}`
//! series during the restore: an alert whose firing series has a non-stale last sample within
//! the outage tolerance, and which the first evaluation after the restart did not return, is
//! re-created as firing with `keepFiringSince` set to the time of that last sample. It then
//! keeps firing until `keep_firing_for` after the last time it was known to be firing, never
//! longer, and resolves as usual. No extra series is written, so stores and dashboards see
//! exactly Prometheus' series.

pub mod api;
mod check;
mod error;
pub mod file;
mod group;
mod manager;
mod rule;
pub mod template;
pub mod unittest;

pub use check::{CheckOptions, CheckReport, check_rules};
pub use error::{Error, Position, Result, RuleFileError};
pub use file::{ParseOptions, RuleConfig, RuleFile, RuleGroupConfig, load_rule_file, parse_rule_file};
pub use group::{AlertStateChange, AlertToSend, ForRestore, Group, RestoreOptions};
pub use manager::{
    GlobalRuleSettings, Notifier, NotifierRef, RuleManager, RuleManagerOptions, StateObserver, StateObserverRef,
    eval_timestamp,
};
pub use rule::{
    ALERT_FOR_STATE_METRIC_NAME, ALERT_METRIC_NAME, ALERT_NAME_LABEL, ALERT_STATE_LABEL, Alert, AlertState,
    AlertingRule, EvalContext, RecordingRule, Rule, RuleHealth, RuleStatus,
};
pub use unittest::{UnitTestOptions, UnitTestReport, run_unit_tests};
