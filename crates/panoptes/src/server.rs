//! `panoptes server`: the long-running process. Wires the store and the HTTP server in one
//! visible function: logging, bind, open the store in the background, serve, close the store.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use panoptes_alerting::{
    Alertmanager, AlertmanagerOptions, History, HistoryEvent, HistoryOptions, PostableAlert, StateChange, StateSource,
    generator_url,
};
use panoptes_ingest::StorageHandle;
use panoptes_ingest::influx::InfluxOptions;
use panoptes_ingest::pushgateway::{PushLimits, PushStore, PushgatewayOptions};
use panoptes_model::Matcher;
use panoptes_promql::{Engine, EngineOptions};
use panoptes_remote::RemoteWriteManager;
use panoptes_rules::{RuleManager, RuleManagerOptions};
use panoptes_scrape::ScrapeManager;
use panoptes_server::{
    ConfigControl as _, Server, ServerOptions, ShutdownHook, StorageOpener, TsdbAdmin, TsdbStats, shutdown_signal,
};
use panoptes_storage::StorageRef;
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

use crate::cli::{ServerArgs, WalFsync};
use crate::logging;
use crate::notify::ExternalAlertmanagers;
use crate::reload::{RouterHandle, RunningConfig};
pub(crate) use panoptes_model::error_chain;

/// Runs the server until SIGINT or SIGTERM and returns the process' exit code. Failures after
/// logging is set up (listener, store, closing the store) are logged and give a failure code.
///
/// # Errors
///
/// Returns an error when logging or the async runtime cannot be set up.
pub(crate) fn run(args: ServerArgs) -> anyhow::Result<ExitCode> {
    logging::init(args.log_level, args.log_format)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    match runtime.block_on(serve(args, axum::Router::new())) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "server failed");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Serves until shutdown, with `extra_routes` (the demo's control API) next to the built-in ones.
pub(crate) async fn serve(args: ServerArgs, extra_routes: axum::Router) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting panoptes");
    let dashboards = open_dashboards(&args)?;
    let scrape = Arc::new(ScrapeManager::new(tokio::runtime::Handle::current()));
    let rules = Arc::new(OnceLock::new());
    let push_dir = args.storage_path.join("pushgateway");
    let push_store = Arc::new(
        PushStore::open(&push_dir, PushLimits::default())
            .with_context(|| format!("opening the push store in {}", push_dir.display()))?,
    );
    let external_url = args.external_url.clone().unwrap_or_else(|| format!("http://{}", self_address(&args)));
    let history = open_history(&args)?;
    let router = open_router(&args, &external_url, &history)?;
    let senders = ExternalAlertmanagers::start(scrape.kube_clusters().clone());
    let running_config = RunningConfig::load(
        args.config_file.clone(),
        scrape.clone(),
        rules.clone(),
        Some(self_address(&args)),
        router.as_ref().map(|router| router.handle()),
        senders.clone(),
        args.storage_path.join("operator-rules"),
    )
    .map_err(|error| anyhow::anyhow!("{error}"))
    .context("loading the configuration file")?;
    let max_remote_write_bytes =
        usize::try_from(args.max_remote_write_bytes).context("--web.max-remote-write-bytes is too large")?;
    let opened = Arc::new(OnceLock::<Db>::new());
    let options = ServerOptions {
        listen_address: args.listen_address,
        max_remote_write_bytes,
        read_timeout: args.read_timeout,
        engine: options_engine(&args),
        max_concurrent_queries: args.query_max_concurrency as usize,
        enable_admin_api: args.enable_admin_api,
        tsdb_admin: Some(Arc::new(DbAdmin(opened.clone()))),
        flags: flags(&args),
        config: Some(running_config.clone()),
        scrape: Some(scrape.clone()),
        enable_lifecycle: args.enable_lifecycle,
        rules: Some(rules.clone()),
        remote_read_sample_limit: args.remote_read_sample_limit,
        max_concurrent_remote_reads: args.remote_read_concurrent_limit,
        extra_routes: Some({
            let routes = ingest_routes(&args, &opened, &push_store)
                .merge(panoptes_alerting::history_router(history.clone()))
                .merge(crate::kube_state::routes(
                    args.kube_state_cluster.as_deref(),
                    crate::kube_state::options(&args),
                    scrape.kube_clusters().clone(),
                ))
                .merge(crate::operator::routes(running_config.operator_status()))
                .merge(senders.routes())
                .merge(dashboards)
                .merge(extra_routes);
            let routes = match &router {
                Some(router) => routes.merge(panoptes_alerting::api_router(router.am.clone())),
                None => routes,
            };
            // The web UI answers only what no other route does (its fallback).
            routes.merge(panoptes_ui::router())
        }),
    };
    let server = Server::bind(options).await?;
    tracing::info!(
        path = panoptes_ingest::pushgateway::EXPOSITION_PATH,
        "push API ready; scrape that path with honor_labels: true to store pushed metrics"
    );
    let reload_on_sighup = tokio::spawn(reload_on_sighup(running_config.clone()));
    let reload_on_change = args
        .config_auto_reload_interval
        .map(|interval| tokio::spawn(reload_on_change(running_config.clone(), interval)));
    let history_retention = tokio::spawn(apply_history_retention(history.clone()));
    let engine = options_engine(&args);
    let (opener, on_shutdown) = storage(
        &args,
        opened,
        Subsystems { running_config, scrape, rules, engine, push_store, router, external_url, senders, history },
    );
    let result = server.run(opener, shutdown_signal(), on_shutdown).await;
    reload_on_sighup.abort();
    if let Some(task) = reload_on_change {
        task.abort();
    }
    history_retention.abort();
    result?;
    Ok(())
}

/// The built-in Alertmanager-compatible router and the task running its dispatcher.
struct Router {
    am: Alertmanager,
    /// The configuration file, reloaded with the main one.
    path: PathBuf,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<panoptes_alerting::Result<()>>>>,
}

impl Router {
    fn handle(&self) -> RouterHandle {
        RouterHandle { am: self.am.clone(), path: self.path.clone() }
    }

    /// Stops the dispatcher (it saves its state) and waits for it.
    fn stop(&self, runtime: &tokio::runtime::Handle) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            let _ = stop.send(());
        }
        let task = self.task.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(task) = task {
            match runtime.block_on(task) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(error = %error, "alert router stopped with an error"),
                Err(error) => tracing::error!(error = %error, "alert router task failed"),
            }
        }
    }
}

/// Opens the built-in router when `--alertmanager.config.file` is given, and starts its
/// dispatcher.
fn open_router(args: &ServerArgs, external_url: &str, history: &History) -> anyhow::Result<Option<Router>> {
    let Some(path) = &args.alertmanager_config_file else { return Ok(None) };
    let config = panoptes_alerting::load_file(path)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("loading the Alertmanager configuration {}", path.display()))?;
    let options = AlertmanagerOptions {
        external_url: external_url.to_owned(),
        history: Some(history.clone()),
        ..AlertmanagerOptions::default()
    };
    let dir = args.storage_path.join("alerting");
    let am = Alertmanager::open(&dir, config, options)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("opening the alert router in {}", dir.display()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = am.spawn(async move {
        let _ = stopped.await;
    });
    tracing::info!(config = %path.display(), "alert router running; Alertmanager API v2 under /api/v2/");
    Ok(Some(Router {
        am,
        path: path.clone(),
        stop: std::sync::Mutex::new(Some(stop)),
        task: std::sync::Mutex::new(Some(task)),
    }))
}

/// Opens the dashboard store under `<storage>/dashboards`, loads the provisioning directory and
/// returns Grafana's dashboard API over it.
fn open_dashboards(args: &ServerArgs) -> anyhow::Result<axum::Router> {
    let dir = args.storage_path.join("dashboards");
    let store = panoptes_dashboards::DashboardStore::open(&dir)
        .map_err(|error| anyhow::anyhow!(error_chain(&error)))
        .with_context(|| format!("opening the dashboard store in {}", dir.display()))?;
    if let Some(provisioning) = &args.dashboards_provisioning_dir {
        let summary = panoptes_dashboards::provision_dir(&store, provisioning)
            .map_err(|error| anyhow::anyhow!(error_chain(&error)))
            .with_context(|| format!("loading dashboards from {}", provisioning.display()))?;
        tracing::info!(
            dir = %provisioning.display(),
            loaded = summary.loaded.len(),
            refused = summary.refused.len(),
            "dashboards provisioned"
        );
    }
    let options = panoptes_dashboards::DashboardApiOptions {
        read_timeout: args.read_timeout,
        commit: env!("PANOPTES_REVISION").to_owned(),
        ..panoptes_dashboards::DashboardApiOptions::default()
    };
    Ok(panoptes_dashboards::router(Arc::new(store), options))
}

/// Opens the alert and notification history under `<storage>/alerting/history`; the rules
/// and the router record into it.
fn open_history(args: &ServerArgs) -> anyhow::Result<History> {
    let dir = args.storage_path.join("alerting").join("history");
    let options = HistoryOptions { retention: args.alerting_history_retention, ..HistoryOptions::default() };
    History::open(&dir, options)
        .map_err(|error| anyhow::anyhow!("{error}"))
        .with_context(|| format!("opening the alert history in {}", dir.display()))
}

/// How often segments past the history's retention are looked for.
const HISTORY_RETENTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes history segments past the retention, now and every minute.
async fn apply_history_retention(history: History) {
    let mut ticks = tokio::time::interval(HISTORY_RETENTION_INTERVAL);
    loop {
        ticks.tick().await;
        let history = history.clone();
        let result = tokio::task::spawn_blocking(move || history.apply_retention(jiff::Timestamp::now())).await;
        if let Ok(Err(error)) = result {
            tracing::error!(error = %error, "cannot apply the alert history retention");
        }
    }
}

/// Records the rules' alert state changes in the history.
struct HistoryObserver(History);

impl panoptes_rules::StateObserver for HistoryObserver {
    fn observe(&self, changes: Vec<panoptes_rules::AlertStateChange>) {
        let events = changes.into_iter().map(|change| {
            let labels: panoptes_alerting::LabelSet =
                change.labels.iter().map(|label| (label.name.to_string(), label.value.to_string())).collect();
            let time = jiff::Timestamp::from_millisecond(change.time_ms).unwrap_or_else(|_| jiff::Timestamp::now());
            let event = HistoryEvent::State(StateChange {
                source: StateSource::Rules,
                from: change.from.as_str().to_owned(),
                to: change.to_name().to_owned(),
                group: Some(format!("{};{}", change.group_file, change.group_name)),
                fingerprint: panoptes_alerting::fingerprint_string(panoptes_alerting::fingerprint(&labels)),
                labels,
                annotations: change.annotations,
                value: Some(change.value).filter(|value| value.is_finite()),
                muted_by: Vec::new(),
            });
            (time, event)
        });
        if let Err(error) = self.0.append(events) {
            tracing::error!(error = %error, "cannot record alert state changes in the history");
        }
    }
}

/// Hands the rules' alerts to the built-in router, as Prometheus sends them to Alertmanager.
struct RouterNotifier {
    am: Alertmanager,
    external_url: String,
}

impl panoptes_rules::Notifier for RouterNotifier {
    fn send(&self, alerts: Vec<panoptes_rules::AlertToSend>) {
        let postable = alerts
            .iter()
            .map(|alert| {
                PostableAlert::from_rule(
                    &alert.labels,
                    &alert.annotations,
                    alert.starts_at_ms,
                    alert.ends_at_ms,
                    generator_url(&self.external_url, &alert.expr),
                )
            })
            .collect();
        if let Err(error) = self.am.put_postable(postable) {
            tracing::warn!(error = %error, "alerts refused by the built-in router");
        }
    }
}

/// Returns `host:port` at which this server reaches itself: the listen address, with an
/// unspecified host (`0.0.0.0`, `::`) replaced by loopback.
fn self_address(args: &ServerArgs) -> String {
    let mut address = args.listen_address;
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    address.to_string()
}

/// Returns the PromQL engine options from the flags (queries and rules alike).
fn options_engine(args: &ServerArgs) -> EngineOptions {
    EngineOptions {
        lookback_delta: args.query_lookback_delta,
        max_samples: args.query_max_samples,
        timeout: args.query_timeout,
        ..EngineOptions::default()
    }
}

/// What runs on the store once it is open.
struct Subsystems {
    running_config: Arc<RunningConfig>,
    scrape: Arc<ScrapeManager>,
    rules: Arc<OnceLock<RuleManager>>,
    engine: EngineOptions,
    push_store: Arc<PushStore>,
    router: Option<Router>,
    external_url: String,
    senders: Arc<ExternalAlertmanagers>,
    history: History,
}

/// Hands alerts to several notifiers (the built-in router and external Alertmanagers).
struct Notifiers(Vec<panoptes_rules::NotifierRef>);

impl panoptes_rules::Notifier for Notifiers {
    fn send(&self, alerts: Vec<panoptes_rules::AlertToSend>) {
        for notifier in &self.0 {
            notifier.send(alerts.clone());
        }
    }
}

/// Returns the routes of the other ingestion protocols: InfluxDB line protocol writes and the
/// Pushgateway-compatible push API (its groups are stored by scraping its exposition page).
fn ingest_routes(args: &ServerArgs, opened: &Arc<OnceLock<Db>>, push_store: &Arc<PushStore>) -> axum::Router {
    let opened = opened.clone();
    let storage = StorageHandle::from_fn(move || opened.get().map(|db| Arc::new(db.clone()) as StorageRef));
    let influx_options = InfluxOptions { read_timeout: args.read_timeout, ..InfluxOptions::default() };
    let push_options = PushgatewayOptions {
        read_timeout: args.read_timeout,
        enable_admin_api: args.enable_admin_api,
        ..PushgatewayOptions::default()
    };
    axum::Router::new()
        .merge(panoptes_ingest::influx::router(storage, influx_options))
        .merge(panoptes_ingest::pushgateway::router(push_store.clone(), push_options))
}

/// Reloads the configuration on every SIGHUP, as Prometheus does.
async fn reload_on_sighup(config: Arc<RunningConfig>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(error) => {
                tracing::warn!(error = %error, "cannot install SIGHUP handler; reload through /-/reload only");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            tracing::info!(signal = "SIGHUP", "received signal");
            let config = config.clone();
            // Failures are logged and counted by the reload itself.
            let _ = tokio::task::spawn_blocking(move || config.reload()).await;
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}

/// Reloads the configuration whenever the contents of its files changed, checked every
/// `interval` (Prometheus' `--config.auto-reload-interval`): a mounted ConfigMap is replaced in
/// place by the kubelet, and nobody sends a signal then. A failed reload is not retried until
/// the files change again.
async fn reload_on_change(config: Arc<RunningConfig>, interval: std::time::Duration) {
    let fingerprint = |config: Arc<RunningConfig>| async move {
        tokio::task::spawn_blocking(move || config.files_fingerprint()).await.ok().flatten()
    };
    let mut last = fingerprint(config.clone()).await;
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let current = fingerprint(config.clone()).await;
        if current == last {
            continue;
        }
        tracing::info!("configuration files changed");
        let reloading = config.clone();
        // Failures are logged and counted by the reload itself.
        let _ = tokio::task::spawn_blocking(move || reloading.reload()).await;
        // The fingerprint from before the reload read the files (it already covers the rule
        // files the new configuration names): a change made during the reload is seen at the
        // next tick, at worst reloading the same files twice.
        last = current;
    }
}

/// Returns the opener of the on-disk metrics store, which starts scraping once it is open, and the
/// hook that stops scraping and closes the store.
fn storage(args: &ServerArgs, opened: Arc<OnceLock<Db>>, subsystems: Subsystems) -> (StorageOpener, ShutdownHook) {
    let dir = args.storage_path.clone();
    let options = db_options(args);
    let opened_by_opener = opened.clone();
    let Subsystems { running_config, scrape, rules, engine, push_store, router, external_url, senders, history } =
        subsystems;
    let mut notifiers = vec![senders.notifier()];
    if let Some(router) = &router {
        notifiers.push(Arc::new(RouterNotifier { am: router.am.clone(), external_url: external_url.clone() }));
    }
    let notifier: Option<panoptes_rules::NotifierRef> = Some(Arc::new(Notifiers(notifiers)));
    let router_metrics = router.as_ref().map(|router| router.am.clone());
    let scrape_started = scrape.clone();
    let remote = Arc::new(OnceLock::<Arc<RemoteWriteManager>>::new());
    let remote_started = remote.clone();
    let remote_flush = args.remote_flush_deadline;
    let runtime_for_remote = tokio::runtime::Handle::current();
    let settings = running_config.rule_settings();
    let rule_options = RuleManagerOptions {
        evaluation_interval: settings.evaluation_interval,
        query_offset: settings.query_offset,
        external_labels: settings.external_labels,
        resend_delay: args.rules_alert_resend_delay,
        restore: panoptes_rules::RestoreOptions {
            outage_tolerance: args.rules_alert_for_outage_tolerance,
            for_grace_period: args.rules_alert_for_grace_period,
            mode: match args.rules_alert_for_restore {
                crate::cli::ForRestoreMode::Unchanged => panoptes_rules::ForRestore::Unchanged,
                crate::cli::ForRestoreMode::Prometheus => panoptes_rules::ForRestore::Prometheus,
            },
        },
        ..RuleManagerOptions::default()
    };
    let opener: StorageOpener = Box::new(move |registry| {
        tracing::info!(path = %dir.display(), "opening storage");
        let db = Db::open(&dir, options).map_err(|error| error_chain(&error))?;
        db.register_metrics(registry);
        running_config.register_metrics(registry);
        scrape_started.kube_clusters().metrics().register(registry);
        if let Some(am) = &router_metrics {
            am.register_metrics(registry);
        }
        history.metrics().register(registry);
        // Remote write starts before anything appends, so that its queues see every sample.
        let manager = Arc::new(RemoteWriteManager::new(db.clone(), runtime_for_remote.clone()));
        manager.register_metrics(registry);
        running_config
            .start_remote_write(manager.clone())
            .map_err(|error| format!("starting remote write: {error}"))?;
        let _ = remote_started.set(manager);
        let storage: StorageRef = Arc::new(db.clone());
        let _ = opened_by_opener.set(db);
        scrape_started.start(storage.clone());
        let manager = RuleManager::new(storage.clone(), Engine::new(engine), rule_options, notifier);
        manager.set_state_observer(Arc::new(HistoryObserver(history.clone())));
        running_config.start_rules(manager).map_err(|error| format!("loading rule files: {error}"))?;
        // WAL replay and the subsystems' start-up ran code that will not run again.
        crate::resident::release_startup_code();
        Ok(storage)
    });
    let runtime = tokio::runtime::Handle::current();
    let on_shutdown: ShutdownHook = Box::new(move || {
        tracing::info!("stopping scrapes and rule evaluation");
        runtime.block_on(scrape.stop());
        if let Some(rules) = rules.get() {
            runtime.block_on(rules.run(std::future::ready(())));
        }
        if let Err(error) = push_store.close() {
            tracing::error!(error = %error, "cannot save the push store");
        }
        if let Some(router) = &router {
            router.stop(&runtime);
        }
        // The store closes while the remote-write queues still hold the segments they have not
        // sent: the snapshot that replaces the log keeps those for them.
        let closed = match opened.get() {
            Some(db) => {
                tracing::info!("closing storage");
                let closed = db.close().map_err(|error| error_chain(&error));
                if closed.is_ok() {
                    tracing::info!("storage closed");
                }
                closed
            }
            None => Ok(()),
        };
        // After the last append: queues send what they read within the flush deadline; the rest
        // waits in the WAL for the next start.
        if let Some(remote) = remote.get() {
            remote.stop(remote_flush);
        }
        closed
    });
    (opener, on_shutdown)
}

/// Cardinality statistics and deletion over the store, once it is open.
struct DbAdmin(Arc<OnceLock<Db>>);

impl DbAdmin {
    fn db(&self) -> panoptes_storage::Result<&Db> {
        self.0.get().ok_or_else(|| panoptes_storage::Error::Unavailable("storage is not open yet".into()))
    }
}

impl TsdbAdmin for DbAdmin {
    fn stats(&self, limit: usize) -> panoptes_storage::Result<TsdbStats> {
        let head = self.db()?.head_cardinality(limit);
        Ok(TsdbStats {
            num_series: head.num_series,
            num_label_pairs: head.num_label_pairs,
            chunk_count: head.chunk_count,
            min_time: head.min_time,
            max_time: head.max_time,
            series_count_by_metric_name: head.series_count_by_metric_name,
            label_value_count_by_label_name: head.label_value_count_by_label_name,
            memory_in_bytes_by_label_name: head.memory_in_bytes_by_label_name,
            series_count_by_label_value_pair: head.series_count_by_label_value_pair,
        })
    }

    fn delete_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> panoptes_storage::Result<()> {
        Ok(self.db()?.delete(matchers, mint, maxt)?)
    }

    fn clean_tombstones(&self) -> panoptes_storage::Result<()> {
        Ok(self.db()?.clean_tombstones()?)
    }
}

/// Returns the flags as Prometheus' `/api/v1/status/flags` lists them.
fn flags(args: &ServerArgs) -> Vec<(String, String)> {
    let path = |p: &std::path::Path| p.display().to_string();
    let mut flags = vec![
        ("config.file", args.config_file.as_deref().map(path).unwrap_or_default()),
        ("config.auto-reload-interval", args.config_auto_reload_interval.map(format_duration).unwrap_or_default()),
        ("storage.tsdb.path", path(&args.storage_path)),
        ("storage.tsdb.retention.time", format_duration(args.retention_time)),
        ("storage.tsdb.retention.size", format!("{}B", args.retention_size)),
        ("storage.tsdb.out-of-order-time-window", format_duration(args.out_of_order_time_window)),
        ("web.listen-address", args.listen_address.to_string()),
        ("web.read-timeout", format_duration(args.read_timeout)),
        ("web.max-remote-write-bytes", args.max_remote_write_bytes.to_string()),
        ("web.enable-admin-api", args.enable_admin_api.to_string()),
        ("web.enable-lifecycle", args.enable_lifecycle.to_string()),
        ("query.lookback-delta", format_duration(args.query_lookback_delta)),
        ("query.timeout", format_duration(args.query_timeout)),
        ("query.max-samples", args.query_max_samples.to_string()),
        ("query.max-concurrency", args.query_max_concurrency.to_string()),
        ("rules.alert.resend-delay", format_duration(args.rules_alert_resend_delay)),
        ("rules.alert.for-restore", format!("{:?}", args.rules_alert_for_restore).to_lowercase()),
        ("rules.alert.for-grace-period", format_duration(args.rules_alert_for_grace_period)),
        ("rules.alert.for-outage-tolerance", format_duration(args.rules_alert_for_outage_tolerance)),
        ("alertmanager.config.file", args.alertmanager_config_file.as_deref().map(path).unwrap_or_default()),
        ("alerting.history.retention", format_duration(args.alerting_history_retention)),
        ("dashboards.provisioning-dir", args.dashboards_provisioning_dir.as_deref().map(path).unwrap_or_default()),
        ("web.external-url", args.external_url.clone().unwrap_or_default()),
        ("storage.remote.read-sample-limit", args.remote_read_sample_limit.to_string()),
        ("storage.remote.read-concurrent-limit", args.remote_read_concurrent_limit.to_string()),
        ("storage.remote.flush-deadline", format_duration(args.remote_flush_deadline)),
        ("storage.remote.max-held-wal-size", format!("{}B", args.remote_max_held_wal_size)),
        ("kube-state.cluster", args.kube_state_cluster.clone().unwrap_or_default()),
        ("kube-state.metric-labels-allowlist", crate::kube_state::options(args).labels_allowlist.to_string()),
        ("kube-state.metric-annotations-allowlist", crate::kube_state::options(args).annotations_allowlist.to_string()),
    ];
    flags.sort();
    flags.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
}

/// Formats a duration as Prometheus' `model.Duration.String()`: years and weeks only when they
/// divide it exactly (`15d`, not `2w1d`).
fn format_duration(duration: std::time::Duration) -> String {
    let mut ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let day = 24 * 3_600_000;
    for (unit, size, exact) in [
        ("y", 365 * day, true),
        ("w", 7 * day, true),
        ("d", day, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ] {
        if exact && ms % size != 0 {
            continue;
        }
        let count = ms / size;
        if count > 0 {
            out.push_str(&format!("{count}{unit}"));
            ms -= count * size;
        }
    }
    out
}

/// Returns the storage engine's options from the flags.
fn db_options(args: &ServerArgs) -> DbOptions {
    let defaults = DbOptions::default();
    DbOptions {
        retention: args.retention_time,
        retention_bytes: (args.retention_size > 0).then_some(args.retention_size),
        out_of_order_window: args.out_of_order_time_window,
        block_range: args.min_block_duration,
        wal_fsync: match args.wal_fsync {
            None => defaults.wal_fsync,
            Some(WalFsync::Always) => FsyncPolicy::Always,
            Some(WalFsync::Interval(interval)) => FsyncPolicy::Interval(interval),
            Some(WalFsync::Never) => FsyncPolicy::Never,
        },
        max_wal_hold_bytes: args.remote_max_held_wal_size,
        ..defaults
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn db_options_for(arguments: &[&str]) -> DbOptions {
        let cli = Cli::try_parse_from(["panoptes", "server"].iter().chain(arguments)).expect("valid flags");
        let Command::Server(args) = cli.command else { panic!("not the server command") };
        db_options(&args)
    }

    #[test]
    fn flags_become_db_options() {
        let options = db_options_for(&[
            "--storage.tsdb.retention.time=30d",
            "--storage.tsdb.retention.size=512MB",
            "--storage.tsdb.out-of-order-time-window=5m",
            "--storage.tsdb.wal-fsync=never",
        ]);
        assert_eq!(options.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(options.retention_bytes, Some(512 << 20));
        assert_eq!(options.out_of_order_window, Duration::from_secs(300));
        assert_eq!(options.wal_fsync, FsyncPolicy::Never);
    }

    #[test]
    fn durations_are_formatted_like_prometheus() {
        let check = |seconds: u64, expected: &str| assert_eq!(format_duration(Duration::from_secs(seconds)), expected);
        check(15 * 86_400, "15d");
        check(14 * 86_400, "2w");
        check(365 * 86_400, "1y");
        check(90 * 60, "1h30m");
        check(0, "0s");
    }

    #[test]
    fn default_flags_keep_the_engine_defaults() {
        let options = db_options_for(&[]);
        let defaults = DbOptions::default();
        assert_eq!(options.retention, Duration::from_secs(15 * 86_400));
        assert_eq!(options.retention_bytes, None);
        assert_eq!(options.out_of_order_window, Duration::ZERO);
        assert_eq!(options.wal_fsync, defaults.wal_fsync);
        assert_eq!(options.block_range, defaults.block_range);
    }
}
