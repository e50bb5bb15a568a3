//! The Alertmanager configuration file (`alertmanager.yml`): serde types with Alertmanager's
//! defaults, validation, and [`load_file`] / [`parse_str`] with errors that name the file, line
//! and column. Unknown keys are errors, as with Alertmanager's strict YAML decoding.

mod check;
mod http;
mod receivers;
mod units;

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use panoptes_model::{Classify, ErrorKind, MatchOp, Matcher};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

pub use check::{CheckReport, check_config, format_routes_test, format_routing_tree, routes_test};
pub(crate) use http::ReceiverClient;
pub use http::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};
pub use receivers::{
    DingtalkConfig, EmailConfig, FeishuConfig, ReceiverConfig, SlackConfig, SlackField, WebhookConfig, WechatConfig,
    WecomConfig,
};
pub use units::{ConfigDuration, MatcherList, Secret, format_duration};

pub(crate) use receivers::encode as url_encode;

use crate::matchers::Matchers;
use crate::timeinterval::TimeInterval;

/// A line and column in a configuration file, both 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// The line.
    pub line: u64,
    /// The column.
    pub column: u64,
}

pub(crate) fn position_of(location: &serde_saphyr::Location) -> Option<Position> {
    (location.line() > 0).then(|| Position { line: location.line(), column: location.column() })
}

/// Why a configuration file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path:?}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML, has unknown keys or wrongly typed values, or breaks a rule of
    /// Alertmanager's validation.
    #[error("{}{message}", prefix(origin, *position))]
    Invalid {
        /// The file name or other origin given to [`parse_str`].
        origin: String,
        /// Where the problem is, when known.
        position: Option<Position>,
        /// What is wrong.
        message: String,
    },
}

fn prefix(origin: &str, position: Option<Position>) -> String {
    match position {
        Some(Position { line, column }) => format!("{origin}:{line}:{column}: "),
        None => format!("{origin}: "),
    }
}

impl ConfigError {
    /// Returns what is wrong without the origin and position.
    pub fn message(&self) -> String {
        match self {
            ConfigError::Read { source, .. } => source.to_string(),
            ConfigError::Invalid { message, .. } => message.clone(),
        }
    }
}

impl Classify for ConfigError {
    fn kind(&self) -> ErrorKind {
        match self {
            ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => ErrorKind::NotFound,
            ConfigError::Read { .. } => ErrorKind::Internal,
            ConfigError::Invalid { .. } => ErrorKind::BadData,
        }
    }
}

/// Alertmanager's default `resolve_timeout`.
const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Alertmanager's default `group_wait`.
pub const DEFAULT_GROUP_WAIT: Duration = Duration::from_secs(30);
/// Alertmanager's default `group_interval`.
pub const DEFAULT_GROUP_INTERVAL: Duration = Duration::from_secs(5 * 60);
/// Alertmanager's default `repeat_interval`.
pub const DEFAULT_REPEAT_INTERVAL: Duration = Duration::from_secs(4 * 3600);

/// The `global` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalConfig {
    /// How long an alert without `endsAt` stays firing after its last update (default 5m).
    #[serde(default = "default_resolve_timeout")]
    pub resolve_timeout: ConfigDuration,
    /// The default HTTP client configuration of receivers.
    #[serde(default)]
    pub http_config: HttpClientConfig,
    /// The default e-mail sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_from: Option<String>,
    /// The default HELO host name (default `localhost`).
    #[serde(default = "default_smtp_hello")]
    pub smtp_hello: String,
    /// The default `host:port` of the SMTP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_smarthost: Option<String>,
    /// The default SMTP AUTH user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_username: Option<String>,
    /// The default SMTP AUTH password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password: Option<Secret>,
    /// A file holding the default SMTP AUTH password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_password_file: Option<String>,
    /// The default SMTP AUTH CRAM-MD5 secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_secret: Option<Secret>,
    /// The default SMTP AUTH PLAIN identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_auth_identity: Option<String>,
    /// Requires STARTTLS by default (default true).
    #[serde(default = "default_true")]
    pub smtp_require_tls: bool,
    /// The default SMTP TLS settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls_config: Option<TlsConfig>,
    /// The default Slack URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_api_url: Option<Secret>,
    /// A file holding the default Slack URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_api_url_file: Option<String>,
    /// The WeChat Work API base URL.
    #[serde(default = "default_wechat_api_url")]
    pub wechat_api_url: String,
    /// The default WeChat Work application secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat_api_secret: Option<Secret>,
    /// The default WeChat Work corporation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat_api_corp_id: Option<String>,
    /// Accepted for compatibility; Panoptes has no PagerDuty receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagerduty_url: Option<String>,
    /// Accepted for compatibility; Panoptes has no Opsgenie receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opsgenie_api_url: Option<String>,
    /// Accepted for compatibility; Panoptes has no VictorOps receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victorops_api_url: Option<String>,
    /// Accepted for compatibility; Panoptes has no Telegram receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telegram_api_url: Option<String>,
    /// Accepted for compatibility; Panoptes has no Webex receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webex_api_url: Option<String>,
}

fn default_true() -> bool {
    true
}
fn default_resolve_timeout() -> ConfigDuration {
    ConfigDuration(DEFAULT_RESOLVE_TIMEOUT)
}
fn default_smtp_hello() -> String {
    "localhost".to_owned()
}
fn default_wechat_api_url() -> String {
    "https://qyapi.weixin.qq.com/cgi-bin/".to_owned()
}

impl Default for GlobalConfig {
    fn default() -> Self {
        GlobalConfig {
            resolve_timeout: default_resolve_timeout(),
            http_config: HttpClientConfig::default(),
            smtp_from: None,
            smtp_hello: default_smtp_hello(),
            smtp_smarthost: None,
            smtp_auth_username: None,
            smtp_auth_password: None,
            smtp_auth_password_file: None,
            smtp_auth_secret: None,
            smtp_auth_identity: None,
            smtp_require_tls: true,
            smtp_tls_config: None,
            slack_api_url: None,
            slack_api_url_file: None,
            wechat_api_url: default_wechat_api_url(),
            wechat_api_secret: None,
            wechat_api_corp_id: None,
            pagerduty_url: None,
            opsgenie_api_url: None,
            victorops_api_url: None,
            telegram_api_url: None,
            webex_api_url: None,
        }
    }
}

/// A node of the routing tree as written. Unset values inherit from the parent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteConfig {
    /// The receiver of alerts that stop at this node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Labels that group alerts; `...` groups by all labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<Vec<String>>,
    /// Goes on matching siblings after a match.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Equality matchers (deprecated form).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", rename = "match")]
    pub match_equal: BTreeMap<String, String>,
    /// Regex matchers (deprecated form).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub match_re: BTreeMap<String, String>,
    /// Matchers in Alertmanager's syntax.
    #[serde(skip_serializing_if = "is_empty_matchers")]
    pub matchers: MatcherList,
    /// How long to wait before the first notification of a new group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_wait: Option<ConfigDuration>,
    /// How long to wait before notifying about changes of a group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_interval: Option<ConfigDuration>,
    /// How long to wait before repeating an unchanged notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_interval: Option<ConfigDuration>,
    /// Names of time intervals in which notifications are muted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<String>,
    /// Names of time intervals outside which notifications are muted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_time_intervals: Vec<String>,
    /// Child routes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteConfig>,
    /// Where the route is defined.
    #[serde(skip)]
    pub position: Option<Position>,
}

fn is_empty_matchers(matchers: &MatcherList) -> bool {
    matchers.0.is_empty()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    #[serde(default)]
    receiver: Option<String>,
    #[serde(default)]
    group_by: Option<Vec<String>>,
    #[serde(default, rename = "continue")]
    continue_matching: bool,
    #[serde(default, rename = "match")]
    match_equal: BTreeMap<String, String>,
    #[serde(default)]
    match_re: BTreeMap<String, String>,
    #[serde(default)]
    matchers: MatcherList,
    #[serde(default)]
    group_wait: Option<ConfigDuration>,
    #[serde(default)]
    group_interval: Option<ConfigDuration>,
    #[serde(default)]
    repeat_interval: Option<ConfigDuration>,
    #[serde(default)]
    mute_time_intervals: Vec<String>,
    #[serde(default)]
    active_time_intervals: Vec<String>,
    #[serde(default)]
    routes: Vec<RouteConfig>,
}

impl<'de> Deserialize<'de> for RouteConfig {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<RawRoute>::deserialize(deserializer)?;
        let raw = spanned.value;
        let route = RouteConfig {
            receiver: raw.receiver,
            group_by: raw.group_by,
            continue_matching: raw.continue_matching,
            match_equal: raw.match_equal,
            match_re: raw.match_re,
            matchers: raw.matchers,
            group_wait: raw.group_wait,
            group_interval: raw.group_interval,
            repeat_interval: raw.repeat_interval,
            mute_time_intervals: raw.mute_time_intervals,
            active_time_intervals: raw.active_time_intervals,
            routes: raw.routes,
            position: position_of(&spanned.referenced),
        };
        route.validate_node().map_err(serde::de::Error::custom)?;
        Ok(route)
    }
}

impl RouteConfig {
    /// Checks what can be checked on one node: group_by, intervals and the deprecated matchers.
    fn validate_node(&self) -> Result<(), String> {
        if let Some(group_by) = &self.group_by {
            let mut seen = HashSet::new();
            for name in group_by {
                if name == "..." {
                    if group_by.len() > 1 {
                        return Err(
                            "cannot have wildcard group_by (`...`) and other other labels at the same time".to_owned()
                        );
                    }
                    continue;
                }
                if !panoptes_model::is_valid_label_name(name) {
                    return Err(format!("invalid label name {name:?} in group_by list"));
                }
                if !seen.insert(name) {
                    return Err(format!("duplicated label {name:?} in group_by"));
                }
            }
        }
        if self.group_interval.is_some_and(|d| d.0.is_zero()) {
            return Err("group_interval cannot be zero".to_owned());
        }
        if self.repeat_interval.is_some_and(|d| d.0.is_zero()) {
            return Err("repeat_interval cannot be zero".to_owned());
        }
        for name in self.match_equal.keys().chain(self.match_re.keys()) {
            if !panoptes_model::is_valid_label_name(name) {
                return Err(format!("invalid label name {name:?}"));
            }
        }
        self.all_matchers()?;
        Ok(())
    }

    /// Returns the node's matchers: `match`, then `match_re`, then `matchers`, as Alertmanager
    /// combines them.
    ///
    /// # Errors
    ///
    /// Returns a message for an invalid `match_re` regular expression.
    pub fn all_matchers(&self) -> Result<Matchers, String> {
        let mut all = Vec::new();
        for (name, value) in &self.match_equal {
            all.push(Matcher::equal(name.clone(), value.clone()));
        }
        for (name, value) in &self.match_re {
            all.push(Matcher::new(MatchOp::Regex, name.clone(), value.clone()).map_err(|e| e.to_string())?);
        }
        all.extend(self.matchers.0.0.iter().cloned());
        // Alertmanager sorts the combined list so that the route key is stable.
        all.sort_by(|a, b| (&a.name, a.op.as_str(), &a.value).cmp(&(&b.name, b.op.as_str(), &b.value)));
        Ok(Matchers(all))
    }
}

/// An inhibition rule: a firing source alert mutes target alerts with the same `equal` labels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InhibitRuleConfig {
    /// Equality matchers of the source (deprecated form).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match: BTreeMap<String, String>,
    /// Regex matchers of the source (deprecated form).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub source_match_re: BTreeMap<String, String>,
    /// Matchers of the source.
    #[serde(default, skip_serializing_if = "is_empty_matchers")]
    pub source_matchers: MatcherList,
    /// Equality matchers of the target (deprecated form).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match: BTreeMap<String, String>,
    /// Regex matchers of the target (deprecated form).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_match_re: BTreeMap<String, String>,
    /// Matchers of the target.
    #[serde(default, skip_serializing_if = "is_empty_matchers")]
    pub target_matchers: MatcherList,
    /// Labels whose values must be equal in source and target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

impl InhibitRuleConfig {
    /// Returns the combined source and target matchers.
    pub(crate) fn matchers(&self) -> Result<(Matchers, Matchers), String> {
        let combine = |equal: &BTreeMap<String, String>, re: &BTreeMap<String, String>, list: &MatcherList| {
            let mut all: Vec<Matcher> = equal.iter().map(|(n, v)| Matcher::equal(n.clone(), v.clone())).collect();
            for (name, value) in re {
                all.push(Matcher::new(MatchOp::Regex, name.clone(), value.clone()).map_err(|e| e.to_string())?);
            }
            all.extend(list.0.0.iter().cloned());
            Ok::<_, String>(Matchers(all))
        };
        Ok((
            combine(&self.source_match, &self.source_match_re, &self.source_matchers)?,
            combine(&self.target_match, &self.target_match_re, &self.target_matchers)?,
        ))
    }
}

/// A named set of time intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeIntervalConfig {
    /// The name routes refer to.
    pub name: String,
    /// The intervals; the set matches when any of them does.
    #[serde(default)]
    pub time_intervals: Vec<TimeInterval>,
}

/// The configuration file's text; its `Debug` output hides it because it holds secrets.
#[derive(Clone, Default, PartialEq)]
pub struct OriginalText(pub String);

impl fmt::Debug for OriginalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

/// A whole Alertmanager configuration, with defaults applied and validated.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Config {
    /// The `global` section.
    pub global: GlobalConfig,
    /// The routing tree.
    pub route: RouteConfig,
    /// Inhibition rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRuleConfig>,
    /// Receivers.
    pub receivers: Vec<ReceiverConfig>,
    /// Template file globs.
    pub templates: Vec<String>,
    /// Named time intervals (`time_intervals` and the deprecated `mute_time_intervals`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<TimeIntervalConfig>,
    /// The text the configuration was parsed from (secrets included: never log it).
    #[serde(skip)]
    pub original: OriginalText,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    global: Option<GlobalConfig>,
    #[serde(default)]
    route: Option<Spanned<RouteConfig>>,
    #[serde(default)]
    inhibit_rules: Vec<InhibitRuleConfig>,
    #[serde(default)]
    receivers: Vec<ReceiverConfig>,
    #[serde(default)]
    templates: Vec<String>,
    #[serde(default)]
    time_intervals: Vec<Spanned<TimeIntervalConfig>>,
    #[serde(default)]
    mute_time_intervals: Vec<Spanned<TimeIntervalConfig>>,
}

/// Reads and parses a configuration file; errors name the path. Template globs are resolved
/// against the file's directory.
///
/// # Errors
///
/// Returns [`ConfigError::Read`] when the file cannot be read and [`ConfigError::Invalid`] when
/// its contents are not a valid configuration.
pub fn load_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
    let mut config = parse_str(&text, &path.display().to_string())?;
    if let Some(dir) = path.parent() {
        config.resolve_paths(dir);
    }
    Ok(config)
}

impl Config {
    /// Joins relative template globs and credential files onto `dir`, as Alertmanager resolves
    /// them against the configuration file's directory. [`load_file`] calls this.
    pub fn resolve_paths(&mut self, dir: &Path) {
        for template in &mut self.templates {
            if Path::new(template).is_relative() {
                *template = dir.join(&*template).display().to_string();
            }
        }
        for receiver in &mut self.receivers {
            receiver.resolve_paths(dir);
        }
    }

    /// Returns the receiver called `name`.
    pub fn receiver(&self, name: &str) -> Option<&ReceiverConfig> {
        self.receivers.iter().find(|receiver| receiver.name == name)
    }
}

/// Rewrites serde's message for an integration Panoptes does not have.
fn explain_unsupported(message: String) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message;
    };
    match rest.split_once('`') {
        Some((field, _)) if field.ends_with("_configs") => format!(
            "{field} is not supported by Panoptes (supported: webhook_configs, email_configs, slack_configs, wechat_configs, wecom_configs, dingtalk_configs, feishu_configs)"
        ),
        _ => message,
    }
}

/// Returns the message of a YAML error without the location the error type appends.
fn yaml_error_message(error: &serde_saphyr::Error) -> String {
    let mut options = serde_saphyr::RenderOptions::default();
    options.snippets = serde_saphyr::SnippetMode::Off;
    let message = error.without_snippet().render_with_options(options);
    match error.location() {
        Some(location) => {
            let suffix = format!(" at line {}, column {}", location.line(), location.column());
            message.strip_suffix(&suffix).map_or_else(|| message.clone(), str::to_owned)
        }
        None => message,
    }
}

/// Parses a configuration from text; `origin` (usually the file name) prefixes every error.
///
/// # Errors
///
/// Returns [`ConfigError::Invalid`] naming origin, line and column for YAML syntax errors,
/// unknown keys, wrongly typed values and broken validation rules (undefined or duplicate
/// receivers, bad matchers, undefined time intervals, ...).
pub fn parse_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let invalid = |position: Option<Position>, message: String| ConfigError::Invalid {
        origin: origin.to_owned(),
        position,
        message,
    };
    let raw: Option<RawConfig> = serde_saphyr::from_str(text).map_err(|error| {
        let position = error
            .location()
            .filter(|location| location.line() > 0)
            .map(|location| Position { line: location.line(), column: location.column() });
        invalid(position, explain_unsupported(yaml_error_message(&error)))
    })?;
    let raw = raw.ok_or_else(|| invalid(None, "no route provided in config".to_owned()))?;
    let global = raw.global.unwrap_or_default();
    let mut receivers = raw.receivers;
    let mut names = HashSet::new();
    for receiver in &mut receivers {
        receiver.apply_global(&global).map_err(|message| invalid(receiver.position, message))?;
        if !names.insert(receiver.name.clone()) {
            return Err(invalid(
                receiver.position,
                format!("notification config name {:?} is not unique", receiver.name),
            ));
        }
    }
    let mut time_intervals = Vec::new();
    let mut interval_names = HashSet::new();
    for spanned in raw.mute_time_intervals.into_iter().chain(raw.time_intervals) {
        let position = position_of(&spanned.referenced);
        let interval = spanned.value;
        if interval.name.is_empty() {
            return Err(invalid(position, "missing name in time interval".to_owned()));
        }
        if !interval_names.insert(interval.name.clone()) {
            return Err(invalid(position, format!("time interval {:?} is not unique", interval.name)));
        }
        time_intervals.push(interval);
    }
    for rule in &raw.inhibit_rules {
        rule.matchers().map_err(|message| invalid(None, message))?;
        for name in &rule.equal {
            if !panoptes_model::is_valid_label_name(name) {
                return Err(invalid(None, format!("invalid label name {name:?} in inhibit rule equal list")));
            }
        }
    }
    let route = raw.route.ok_or_else(|| invalid(None, "no routes provided".to_owned()))?;
    let route_position = position_of(&route.referenced);
    let route = route.value;
    if route.receiver.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(route_position, "root route must specify a default receiver".to_owned()));
    }
    let has_matchers = route.all_matchers().map(|m| !m.is_empty()).unwrap_or(true);
    if has_matchers {
        return Err(invalid(route_position, "root route must not have any matchers".to_owned()));
    }
    if !route.mute_time_intervals.is_empty() {
        return Err(invalid(route_position, "root route must not have any mute time intervals".to_owned()));
    }
    if !route.active_time_intervals.is_empty() {
        return Err(invalid(route_position, "root route must not have any active time intervals".to_owned()));
    }
    check_route_references(&route, &names, &interval_names)
        .map_err(|(position, message)| invalid(position.or(route_position), message))?;
    Ok(Config {
        global,
        route,
        inhibit_rules: raw.inhibit_rules,
        receivers,
        templates: raw.templates,
        time_intervals,
        original: OriginalText(text.to_owned()),
    })
}

fn check_route_references(
    route: &RouteConfig,
    receivers: &HashSet<String>,
    intervals: &HashSet<String>,
) -> Result<(), (Option<Position>, String)> {
    if let Some(receiver) = &route.receiver
        && !receivers.contains(receiver)
    {
        return Err((route.position, format!("undefined receiver {receiver:?} used in route")));
    }
    for name in route.mute_time_intervals.iter().chain(&route.active_time_intervals) {
        if !intervals.contains(name) {
            return Err((route.position, format!("undefined time interval {name:?} used in route")));
        }
    }
    for child in &route.routes {
        check_route_references(child, receivers, intervals)?;
    }
    Ok(())
}

impl fmt::Display for Config {
    /// Prints the configuration as YAML-compatible JSON with secrets hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&serde_json::to_string_pretty(self).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests;
