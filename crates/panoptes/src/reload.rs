//! The running configuration: loaded at start, reloaded on SIGHUP, `POST /-/reload` or (with
//! `--config.auto-reload-interval`) when the files' contents change, applied
//! to the scrape manager and (once the store is open) the rule manager. Everything is validated
//! before anything is applied: a reload that fails (unreadable or invalid file, invalid rule
//! file, unusable scrape client settings) changes nothing and sets
//! `panoptes_config_last_reload_successful` to 0. Prometheus applies what it can in that case;
//! Panoptes never runs half of a configuration.
//!
//! With a `prometheus_operator` section, the jobs and rule files generated from the selected
//! prometheus-operator resources join the file's own (see `operator.rs`). A change of those
//! resources re-applies the last loaded file with the new generation, through the same
//! validate-then-apply path; neither that file nor the alert router's is read again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock, Weak};

use panoptes_model::Labels;

use crate::notify::ExternalAlertmanagers;
use crate::operator::{OperatorStatus, OperatorWatch, generate, remove_stale_rule_files};
use crate::server::error_chain;

use panoptes_remote::RemoteWriteManager;
use panoptes_rules::{GlobalRuleSettings, ParseOptions, RuleManager, load_rule_file};
use panoptes_scrape::ScrapeManager;
use panoptes_scrape::config::{Config, RemoteWriteConfig, ScrapeConfig, load_file, parse_str};
use panoptes_server::ConfigControl;
use parking_lot::Mutex;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// What the last (re)load left behind.
struct Loaded {
    /// The file's text, secrets hidden, for `/api/v1/status/config`.
    yaml: String,
    is_success: bool,
    /// When the running configuration was loaded, in ms since the epoch.
    loaded_ms: i64,
    /// The rule files of the running configuration, for a rule manager that starts later.
    rule_files: Vec<String>,
    /// The global settings rules are built with.
    rule_settings: GlobalRuleSettings,
    /// The `remote_write` entries, for a queue manager that starts later.
    remote_write: Vec<RemoteWriteConfig>,
    /// `global.external_labels`, as remote write adds them.
    external_labels: BTreeMap<String, String>,
    /// The file's text and configuration, re-applied when operator resources change.
    file: Option<(String, Config)>,
}

/// The configuration file and everything configured from it.
pub(crate) struct RunningConfig {
    path: Option<PathBuf>,
    scrape: Arc<ScrapeManager>,
    rules: Arc<OnceLock<RuleManager>>,
    /// The remote-write queues, once the store is open.
    remote: OnceLock<Arc<RemoteWriteManager>>,
    /// `host:port` of this server, to scrape the push store's page; `None`: no built-in job.
    push_target: Option<String>,
    /// The built-in alert router and its configuration file, reloaded with the main file.
    router: Option<RouterHandle>,
    /// The sender to external Alertmanagers (`alerting.alertmanagers`).
    senders: Arc<ExternalAlertmanagers>,
    loaded: Mutex<Loaded>,
    /// Serialises reloads (SIGHUP and HTTP may race).
    reloading: Mutex<()>,
    last_reload_successful: Gauge,
    last_reload_success_seconds: Gauge<f64, AtomicU64>,
    /// This configuration, for the operator watch's change callback.
    me: Weak<RunningConfig>,
    /// Where rule files generated from PrometheusRules are written.
    operator_rules_dir: PathBuf,
    /// The watch of the running `prometheus_operator` section.
    operator: Mutex<Option<OperatorWatch>>,
    /// The reports of the running generation.
    operator_status: Arc<OperatorStatus>,
}

impl RunningConfig {
    /// Loads the configuration file (if any) and applies it.
    ///
    /// # Errors
    ///
    /// Returns why the file cannot be loaded or applied; the server must not start then.
    pub(crate) fn load(
        path: Option<PathBuf>,
        scrape: Arc<ScrapeManager>,
        rules: Arc<OnceLock<RuleManager>>,
        push_target: Option<String>,
        router: Option<RouterHandle>,
        senders: Arc<ExternalAlertmanagers>,
        operator_rules_dir: PathBuf,
    ) -> Result<Arc<RunningConfig>, String> {
        let running = Arc::new_cyclic(|me| RunningConfig {
            path,
            scrape,
            rules,
            remote: OnceLock::new(),
            push_target,
            router,
            senders,
            loaded: Mutex::new(Loaded {
                yaml: String::new(),
                is_success: true,
                loaded_ms: 0,
                rule_files: Vec::new(),
                rule_settings: GlobalRuleSettings::default(),
                remote_write: Vec::new(),
                external_labels: BTreeMap::new(),
                file: None,
            }),
            reloading: Mutex::new(()),
            last_reload_successful: Gauge::default(),
            last_reload_success_seconds: Gauge::default(),
            me: me.clone(),
            operator_rules_dir,
            operator: Mutex::new(None),
            operator_status: Arc::new(OperatorStatus::default()),
        });
        running.apply()?;
        Ok(running)
    }

    /// Hands over the rule manager once the store is open, and loads the running configuration's
    /// rule files into it. Must run within the Tokio runtime.
    ///
    /// # Errors
    ///
    /// Returns why the rule files (checked when the configuration was loaded) no longer load.
    pub(crate) fn start_rules(&self, manager: RuleManager) -> Result<(), String> {
        let _reloading = self.reloading.lock();
        let rule_files = self.loaded.lock().rule_files.clone();
        manager.update(&rule_files).map_err(|error| error.to_string())?;
        if !rule_files.is_empty() {
            tracing::info!(files = rule_files.len(), "rule files loaded");
        }
        let _ = self.rules.set(manager);
        Ok(())
    }

    /// Hands over the remote-write manager once the store is open, and starts the running
    /// configuration's queues in it.
    ///
    /// # Errors
    ///
    /// Returns why a queue cannot start (its position cannot be read or saved).
    pub(crate) fn start_remote_write(&self, manager: Arc<RemoteWriteManager>) -> Result<(), String> {
        let _reloading = self.reloading.lock();
        let (configs, external_labels) = {
            let loaded = self.loaded.lock();
            (loaded.remote_write.clone(), loaded.external_labels.clone())
        };
        manager.apply(&configs, &external_labels).map_err(|error| error_chain(&error))?;
        if !configs.is_empty() {
            tracing::info!(queues = configs.len(), "remote write started");
        }
        let _ = self.remote.set(manager);
        Ok(())
    }

    /// Returns the global settings of the running configuration that rules are built with.
    pub(crate) fn rule_settings(&self) -> GlobalRuleSettings {
        self.loaded.lock().rule_settings.clone()
    }

    /// Registers the reload gauges.
    pub(crate) fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "panoptes_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            self.last_reload_successful.clone(),
        );
        registry.register(
            "panoptes_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            self.last_reload_success_seconds.clone(),
        );
        self.operator_status.register_metrics(registry);
    }

    /// Returns the reports of the prometheus-operator resources in use.
    pub(crate) fn operator_status(&self) -> Arc<OperatorStatus> {
        self.operator_status.clone()
    }

    /// Re-applies the running file with a new generation from the operator's resources,
    /// after the watch saw them change. A failure is logged and keeps what runs.
    fn apply_operator_change(&self) {
        let _reloading = self.reloading.lock();
        let Some((text, config)) = self.loaded.lock().file.clone() else {
            return;
        };
        match self.apply_config(text, config, false) {
            Ok(applied) => {
                let mut loaded = self.loaded.lock();
                loaded.rule_files = applied.rule_files;
                tracing::info!("configuration regenerated from prometheus operator resources");
            }
            Err(error) => {
                tracing::error!(error = %error, "applying prometheus operator resources failed; keeping the running configuration");
            }
        }
    }

    /// Loads the file and applies it; records the outcome.
    fn apply(&self) -> Result<(), String> {
        let _reloading = self.reloading.lock();
        let result = self.load_and_apply();
        let now_ms = panoptes_model::time::now_millis();
        let mut loaded = self.loaded.lock();
        match result {
            Ok(Applied { yaml, rule_files, rule_settings, remote_write, external_labels, file }) => {
                *loaded = Loaded {
                    yaml,
                    is_success: true,
                    loaded_ms: now_ms,
                    rule_files,
                    rule_settings,
                    remote_write,
                    external_labels,
                    file: Some(file),
                };
                self.last_reload_successful.set(1);
                #[allow(clippy::cast_precision_loss)]
                self.last_reload_success_seconds.set(now_ms as f64 / 1000.0);
                Ok(())
            }
            Err(error) => {
                loaded.is_success = false;
                self.last_reload_successful.set(0);
                Err(error)
            }
        }
    }

    /// Loads, validates, then applies; returns what the running configuration keeps.
    fn load_and_apply(&self) -> Result<Applied, String> {
        let (text, config) = match &self.path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("cannot read configuration file {}: {error}", path.display()))?;
                (text, load_file(path).map_err(|error| error.to_string())?)
            }
            // No file: Prometheus' defaults, so that built-in jobs still run.
            None => (String::new(), parse_str("", "<defaults>").map_err(|error| error.to_string())?),
        };
        self.apply_config(text, config, true)
    }

    /// Starts a watch of the section's resources unless the running one follows the same
    /// section. The new watch is returned, to be installed only when the apply succeeds.
    fn operator_watch_for(&self, config: &Config) -> Result<Option<OperatorWatch>, String> {
        let Some(section) = &config.prometheus_operator else {
            return Ok(None);
        };
        if self.operator.lock().as_ref().is_some_and(|watch| watch.config() == section) {
            return Ok(None);
        }
        let me = self.me.clone();
        let on_change: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Some(running) = me.upgrade() {
                running.apply_operator_change();
            }
        });
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|error| format!("prometheus_operator: no async runtime to watch resources on: {error}"))?;
        OperatorWatch::start(section.clone(), self.scrape.kube_clusters().clone(), &runtime, on_change).map(Some)
    }

    /// Validates, then applies, a loaded file together with what the operator's resources
    /// generate. The alert router's own file is read and applied only when `with_router` (a
    /// reload), not when operator resources changed.
    fn apply_config(&self, text: String, config: Config, with_router: bool) -> Result<Applied, String> {
        let mut scrape_configs = config.all_scrape_configs().map_err(|error| error.to_string())?;
        if let Some(address) = &self.push_target
            && !scrape_configs.iter().any(|job| job.job_name == PUSH_JOB)
        {
            scrape_configs.push(push_job(address, &config)?);
        }
        let new_watch = self.operator_watch_for(&config)?;
        let generated = match (&config.prometheus_operator, &new_watch) {
            (None, _) => None,
            (Some(section), Some(watch)) => {
                Some(generate(&watch.selection(), section, &config.global, &scrape_configs, &self.operator_rules_dir))
            }
            (Some(section), None) => self.operator.lock().as_ref().map(|watch| {
                generate(&watch.selection(), section, &config.global, &scrape_configs, &self.operator_rules_dir)
            }),
        };
        let mut rule_files = config.rule_file_paths();
        for file in &rule_files {
            load_rule_file(file, ParseOptions::default())
                .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        }
        let (reports, generated_rule_files) = match generated {
            Some(generated) => {
                scrape_configs.extend(generated.jobs);
                (generated.reports, generated.rule_files)
            }
            None => (Vec::new(), Vec::new()),
        };
        rule_files.extend(generated_rule_files.iter().cloned());
        ScrapeManager::check(&scrape_configs)?;
        ExternalAlertmanagers::check(&config.alerting)?;
        RemoteWriteManager::check(&config.remote_write).map_err(|error| error.to_string())?;
        let router_config = match &self.router {
            Some(router) if with_router => {
                Some(panoptes_alerting::load_file(&router.path).map_err(|error| error.to_string())?)
            }
            _ => None,
        };
        // Validated: from here on nothing fails but a rule file changing under our feet.
        let rule_settings = GlobalRuleSettings {
            evaluation_interval: config.global.evaluation_interval,
            query_offset: config.global.rule_query_offset,
            external_labels: Labels::from_pairs(
                config.global.external_labels.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            ),
        };
        if let Some(rules) = self.rules.get() {
            rules.update_with(&rule_files, rule_settings.clone()).map_err(|error| error.to_string())?;
        }
        let jobs = scrape_configs.len();
        self.scrape.apply(scrape_configs, &config.global.external_labels)?;
        if let (Some(router), Some(router_config)) = (&self.router, router_config) {
            router.am.apply_config(router_config).map_err(|error| error.to_string())?;
        }
        self.senders.apply(&config.alerting, rule_settings.external_labels.clone());
        if let Some(remote) = self.remote.get() {
            remote.apply(&config.remote_write, &config.global.external_labels).map_err(|error| error_chain(&error))?;
        }
        if let Some(path) = &self.path {
            tracing::info!(path = %path.display(), scrape_jobs = jobs, rule_files = rule_files.len(), "configuration loaded");
        }
        // Applied: the generation is now the running one.
        if config.prometheus_operator.is_none() {
            *self.operator.lock() = None;
        } else if let Some(watch) = new_watch {
            *self.operator.lock() = Some(watch);
        }
        remove_stale_rule_files(&self.operator_rules_dir, &generated_rule_files);
        self.operator_status.publish(reports);
        Ok(Applied {
            yaml: hide_secrets(&text),
            rule_files,
            rule_settings,
            remote_write: config.remote_write.clone(),
            external_labels: config.global.external_labels.clone(),
            file: (text, config),
        })
    }
}

impl RunningConfig {
    /// Returns a fingerprint of the contents of every file a reload reads: the configuration
    /// file, the rule files and scrape config files it names now (globs expanded again, as
    /// Prometheus' `GenerateChecksum` does) and the alert router's file; `None` without a configuration
    /// file. A file that cannot be read counts as its error, so a vanished file is a change.
    pub(crate) fn files_fingerprint(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        fn add(hasher: &mut impl Hasher, file: &std::path::Path) {
            file.hash(hasher);
            match std::fs::read(file) {
                Ok(bytes) => bytes.hash(hasher),
                Err(error) => error.kind().hash(hasher),
            }
        }
        let path = self.path.as_ref()?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        add(&mut hasher, path);
        if let Ok(config) = load_file(path) {
            for rule_file in config.rule_file_paths() {
                add(&mut hasher, std::path::Path::new(&rule_file));
            }
            // The jobs of `scrape_config_files`, as parsed (only hashed, never shown).
            match config.all_scrape_configs() {
                Ok(jobs) => format!("{jobs:?}").hash(&mut hasher),
                Err(error) => error.to_string().hash(&mut hasher),
            }
        }
        if let Some(router) = &self.router {
            add(&mut hasher, &router.path);
        }
        Some(hasher.finish())
    }
}

/// What a successful (re)load keeps.
struct Applied {
    yaml: String,
    rule_files: Vec<String>,
    rule_settings: GlobalRuleSettings,
    remote_write: Vec<RemoteWriteConfig>,
    external_labels: BTreeMap<String, String>,
    file: (String, Config),
}

impl ConfigControl for RunningConfig {
    fn reload(&self) -> Result<(), String> {
        tracing::info!("reloading configuration");
        let result = self.apply();
        if let Err(error) = &result {
            tracing::error!(error = %error, "configuration reload failed; keeping the running configuration");
        }
        result
    }

    fn yaml(&self) -> String {
        self.loaded.lock().yaml.clone()
    }

    fn last_reload(&self) -> (bool, i64) {
        let loaded = self.loaded.lock();
        (loaded.is_success, loaded.loaded_ms)
    }

    fn external_labels(&self) -> Labels {
        self.loaded.lock().rule_settings.external_labels.clone()
    }
}

/// The built-in alert router as the reload sees it.
pub(crate) struct RouterHandle {
    /// The router.
    pub(crate) am: panoptes_alerting::Alertmanager,
    /// Its configuration file.
    pub(crate) path: PathBuf,
}

/// The built-in job that stores what clients push (Pushgateway API), unless the configuration
/// has a job of this name itself.
const PUSH_JOB: &str = "pushgateway";

/// Returns the built-in scrape job of the push store's page at `address`, with the global
/// interval and `honor_labels: true`, as users configure a Pushgateway job.
fn push_job(address: &str, config: &Config) -> Result<ScrapeConfig, String> {
    let yaml = format!(
        "scrape_configs:\n- job_name: {PUSH_JOB}\n  honor_labels: true\n  metrics_path: {}\n  static_configs:\n  - targets: ['{address}']\n",
        panoptes_ingest::pushgateway::EXPOSITION_PATH
    );
    let mut job =
        parse_str(&yaml, "<built-in pushgateway job>").map_err(|error| error.to_string())?.scrape_configs.remove(0);
    job.scrape_interval = config.global.scrape_interval;
    job.scrape_timeout = config.global.scrape_timeout;
    Ok(job)
}

/// Keys whose values are secrets in Prometheus' configuration (`config.Secret` fields).
const SECRET_KEYS: [&str; 6] = ["password", "credentials", "bearer_token", "client_secret", "key", "secrets"];

/// Replaces the value of every secret key with `<secret>`, line by line, keeping comments and
/// layout. A secret given as a block (a list, or a `|` / `>` scalar) is replaced whole.
fn hide_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    // While hiding a block value: the indentation of its key.
    let mut hiding_below: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let body = line.trim_start();
        if let Some(key_indent) = hiding_below {
            let is_inside = body.is_empty() || indent > key_indent || (indent == key_indent && body.starts_with("- "));
            if is_inside {
                continue;
            }
            hiding_below = None;
        }
        let key_part = body.strip_prefix("- ").unwrap_or(body);
        if let Some((key, value)) = key_part.split_once(':')
            && SECRET_KEYS.contains(&key.trim())
        {
            let value = value.trim();
            let is_block = value.is_empty() || value.starts_with(['|', '>', '#']);
            let key_indent = line.len() - key_part.len();
            if is_block {
                hiding_below = Some(key_indent);
            }
            out.push_str(&line[..key_indent + key.len() + 1]);
            out.push_str(" <secret>\n");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::hide_secrets;

    #[test]
    fn secrets_are_hidden_and_everything_else_kept() {
        let text = "scrape_configs:\n- job_name: a # comment\n  basic_auth:\n    username: u\n    password: hunter2\n  authorization:\n    credentials: 'abc'\n  bearer_token: t0k\n  tls_config:\n    key: |\n      -----BEGIN KEY-----\n      pem1\n    key_file: /k.pem\n  http_headers:\n    X-Api:\n      secrets:\n      - s1\n      - s2\n      values: [v]\n";
        let hidden = hide_secrets(text);
        for secret in ["hunter2", "abc", "t0k", "s1", "s2", "pem1", "BEGIN"] {
            assert!(!hidden.contains(secret), "{secret} leaked in:\n{hidden}");
        }
        assert!(hidden.contains("    password: <secret>\n"));
        assert!(hidden.contains("  bearer_token: <secret>\n"));
        assert!(hidden.contains("      secrets: <secret>\n      values: [v]\n"));
        assert!(hidden.contains("    key: <secret>\n    key_file: /k.pem\n"));
        assert!(hidden.contains("- job_name: a # comment\n") && hidden.contains("    key_file: /k.pem\n"));
    }
}
