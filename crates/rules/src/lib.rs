//! Prometheus recording and alerting rules (see ARCHITECTURE.md).
//!
//! [`mod@file`] reads rule files with Prometheus' validation ([`check_rules`] is `promtool check
//! rules`); [`template`] expands alert templates in Go text/template syntax with Prometheus'
//! functions; [`Group`] evaluates rules at a timestamp against any
//! [`panoptes_storage::Storage`] through the PromQL [`panoptes_promql::Engine`], with
//! Prometheus' alert states, `ALERTS` / `ALERTS_FOR_STATE` series and staleness;
//! [`unittest`] runs `promtool test rules` files.
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
pub use group::{AlertStateChange, AlertToSend, Group, RestoreOptions};
pub use manager::{
    GlobalRuleSettings, Notifier, NotifierRef, RuleManager, RuleManagerOptions, StateObserver, StateObserverRef,
    eval_timestamp,
};
pub use rule::{
    ALERT_FOR_STATE_METRIC_NAME, ALERT_METRIC_NAME, ALERT_NAME_LABEL, ALERT_STATE_LABEL, Alert, AlertState,
    AlertingRule, EvalContext, RecordingRule, Rule, RuleHealth, RuleStatus,
};
pub use unittest::{UnitTestOptions, UnitTestReport, run_unit_tests};
