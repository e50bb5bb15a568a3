//! The Alertmanager-compatible router: the `alertmanager.yml` configuration ([`config`]),
//! routing, grouping, inhibition, silences, the notification log, notification templates,
//! receivers (webhook, e-mail, Slack, WeChat, and native WeCom, DingTalk and Feishu robots) and
//! Alertmanager's API v2 ([`api_router`]).
//!
//! The server opens an [`Alertmanager`] on a data directory, mounts [`api_router`], runs
//! [`Alertmanager::run`] until shutdown, and feeds it alerts with [`Alertmanager::put`] or
//! [`Alertmanager::put_postable`] (the rules engine's alerts map onto [`PostableAlert`]).
//!
//! ```text
//! let config = panoptes_alerting::load_file("alertmanager.yml")?;
//! let am = Alertmanager::open(data_dir.join("alerting"), config, AlertmanagerOptions { external_url, ..Default::default() })?;
//! am.register_metrics(&mut registry);
//! let router = router.merge(panoptes_alerting::api_router(am.clone()));
//! let dispatcher = am.spawn(shutdown_signal);
//! // rules: impl Notifier { fn send(&self, alerts) { am.put_postable(alerts.iter().map(|a|
//! //     PostableAlert::from_rule(&a.labels, &a.annotations, a.starts_at_ms, a.ends_at_ms,
//! //         generator_url(&external_url, &a.expr))).collect()) } }
//! // reload: am.apply_config(panoptes_alerting::load_file(path)?)?;
//! ```

mod alertmanager;
mod api;
pub mod config;
mod dispatch;
mod error;
mod history;
mod inhibit;
mod matchers;
mod metrics;
mod nflog;
mod notify;
mod persist;
mod route;
mod silence;
mod template;
mod timeinterval;
mod types;

pub use alertmanager::{AlertGroup, AlertStatus, Alertmanager, AlertmanagerOptions};
pub use api::{PostableAlert, api_router, generator_url};
pub use config::{
    CheckReport, Config, ConfigError, check_config, format_routes_test, format_routing_tree, load_file, parse_str,
    routes_test,
};
pub use error::{Error, Result};
pub use history::{
    DeliveredAlert, DeliveryAttempt, EventKind, History, HistoryEvent, HistoryOptions, HistoryPage, HistoryQuery,
    HistoryRecord, MAX_ALERTS_PER_DELIVERY, Outcome, StateChange, StateSource, history_router,
};
pub use matchers::{Matchers, parse_matcher, parse_matchers};
pub use metrics::{AlertingMetrics, HistoryMetrics};
pub use route::{Route, RouteOptions};
pub use silence::{Silence, SilenceMatcher, SilenceState, Silences};
pub use template::{TemplateData, Templates};
pub use timeinterval::TimeInterval;
pub use types::{Alert, Fingerprint, LabelSet, fingerprint, fingerprint_string};
