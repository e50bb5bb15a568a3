//! The command line: subcommands and their flags, named like Prometheus' where one exists.
//!
//! Parsing only; what a mode does lives in its own module (`server.rs`, ...).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Panoptes: one program for metrics, alerts, dashboards, mesh graph, traces and logs.
#[derive(Debug, Parser)]
#[command(name = "panoptes", version, about)]
pub(crate) struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The process modes.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Runs the server: HTTP API, remote write receiver and metrics store.
    Server(Box<ServerArgs>),
    /// Inspects a data directory, also while a server uses it, or imports samples into one
    /// (like `promtool tsdb`).
    #[command(subcommand)]
    Tsdb(TsdbCommand),
    /// Runs queries against a Prometheus-compatible server (like `promtool query`).
    #[command(subcommand)]
    Query(QueryCommand),
    /// Runs promqltest scripts (`.test` files) against the PromQL engine.
    #[command(name = "promql-test")]
    PromqlTest(PromqlTestArgs),
    /// Checks configuration files (like `promtool check`).
    #[command(subcommand)]
    Check(CheckCommand),
    /// Runs unit tests (like `promtool test`).
    #[command(subcommand)]
    Test(TestCommand),
    /// Runs the node agent: node metrics from /proc and /sys with node-exporter's names.
    Agent(Box<AgentArgs>),
    /// Runs the server with a simulated Istio Bookinfo mesh scraped on loopback, default alert
    /// rules and dashboards (see docs/demo.md).
    Demo(Box<DemoArgs>),
}

/// Flags of `panoptes demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Address to listen on for the web interface and API.
    #[arg(long = "web.listen-address", value_name = "ADDRESS", default_value = "127.0.0.1:9090")]
    pub(crate) listen_address: SocketAddr,

    /// Base path for metrics storage; default a fresh directory under the system's temporary
    /// directory, removed at exit.
    #[arg(long = "storage.tsdb.path", value_name = "PATH")]
    pub(crate) storage_path: Option<PathBuf>,

    /// How often the simulated workloads are scraped (and rules evaluated).
    #[arg(long = "demo.scrape-interval", value_name = "DURATION", default_value = "5s", value_parser = parse_positive_duration)]
    pub(crate) scrape_interval: Duration,

    /// Seed of the simulated traffic: the same seed gives the same traffic second by second.
    #[arg(long = "demo.seed", value_name = "NUMBER", default_value_t = 1)]
    pub(crate) seed: u64,

    /// User requests per second entering the mesh at the ingress gateway.
    #[arg(long = "demo.requests-per-second", value_name = "RATE", default_value_t = 20.0)]
    pub(crate) requests_per_second: f64,

    /// The reviews VirtualService weight split, e.g. `v1=50,v3=50` (must add up to 100).
    #[arg(long = "demo.reviews-weights", value_name = "WEIGHTS", default_value = "v1=50,v3=50")]
    pub(crate) reviews_weights: String,

    /// Share of requests ratings-v1 answers with 503, in percent (0 disables the fault).
    #[arg(long = "demo.fault.ratings-abort-percent", value_name = "PERCENT", default_value_t = 5.0)]
    pub(crate) ratings_abort_percent: f64,

    /// Delay added to every request served by reviews-v2 (0s disables the fault).
    #[arg(long = "demo.fault.reviews-v2-delay", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub(crate) reviews_v2_delay: Duration,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    pub(crate) log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "logfmt")]
    pub(crate) log_format: LogFormat,
}

/// `panoptes check` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CheckCommand {
    /// Checks Prometheus configuration files, the files they refer to and their targets.
    Config(CheckConfigArgs),
    /// Checks rule files.
    Rules(CheckRulesArgs),
    /// Checks Alertmanager configuration files (like `amtool check-config`).
    Alertmanager(CheckAlertmanagerArgs),
}

/// Flags of `panoptes check alertmanager`.
#[derive(Debug, Args)]
pub(crate) struct CheckAlertmanagerArgs {
    /// The `alertmanager.yml` files to check.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// Flags of `panoptes check rules`.
#[derive(Debug, Args)]
pub(crate) struct CheckRulesArgs {
    /// Accepts keys the rule file format does not define.
    #[arg(long = "ignore-unknown-fields")]
    pub(crate) ignore_unknown_fields: bool,
    /// Lint findings (duplicate rules) fail the check with exit code 3.
    #[arg(long = "lint-fatal")]
    pub(crate) lint_fatal: bool,
    /// Which lint checks to run: `duplicate-rules` (default) or `none`.
    #[arg(long = "lint", default_value = "duplicate-rules", value_parser = ["duplicate-rules", "none"])]
    pub(crate) lint: String,
    /// The rule files to check.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// `panoptes test` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TestCommand {
    /// Runs rule unit tests (the `promtool test rules` format).
    Rules(TestRulesArgs),
}

/// Flags of `panoptes test rules`.
#[derive(Debug, Args)]
pub(crate) struct TestRulesArgs {
    /// Runs only test groups whose name matches this regular expression; repeatable.
    #[arg(long = "run")]
    pub(crate) run: Vec<String>,
    /// Accepts keys the rule file format does not define.
    #[arg(long = "ignore-unknown-fields")]
    pub(crate) ignore_unknown_fields: bool,
    /// The test files to run.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// Flags of `panoptes check config`.
#[derive(Debug, Args)]
pub(crate) struct CheckConfigArgs {
    /// Only checks the syntax of the configuration files, not the files they refer to.
    #[arg(long = "syntax-only")]
    pub(crate) syntax_only: bool,
    /// The configuration files to check.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// `panoptes query` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum QueryCommand {
    /// Runs an instant query.
    Instant(InstantQueryArgs),
    /// Runs a range query.
    Range(RangeQueryArgs),
    /// Lists the series matching selectors.
    Series(SeriesQueryArgs),
    /// Lists the values of a label, or every label name when no name is given.
    Labels(LabelsQueryArgs),
}

/// Flags of `panoptes query instant`.
#[derive(Debug, Args)]
pub(crate) struct InstantQueryArgs {
    /// The server's URL, e.g. `http://localhost:9090`.
    pub(crate) server: String,
    /// The PromQL expression.
    pub(crate) expr: String,
    /// Evaluation time (RFC 3339 or Unix seconds); default now.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) time: Option<String>,
}

/// Flags of `panoptes query range`.
#[derive(Debug, Args)]
pub(crate) struct RangeQueryArgs {
    /// The server's URL.
    pub(crate) server: String,
    /// The PromQL expression.
    pub(crate) expr: String,
    /// Start time (RFC 3339 or Unix seconds); default five minutes before the end.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) start: Option<String>,
    /// End time (RFC 3339 or Unix seconds); default now.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) end: Option<String>,
    /// Resolution step (a duration such as `15s`, or seconds); default (end-start)/250, at least 1s.
    #[arg(long)]
    pub(crate) step: Option<String>,
}

/// Flags of `panoptes query series`.
#[derive(Debug, Args)]
pub(crate) struct SeriesQueryArgs {
    /// The server's URL.
    pub(crate) server: String,
    /// Series selector; repeatable.
    #[arg(long = "match", required = true)]
    pub(crate) matches: Vec<String>,
    /// The time range considered.
    #[command(flatten)]
    pub(crate) range: TimeRangeArgs,
}

/// Flags of `panoptes query labels`.
#[derive(Debug, Args)]
pub(crate) struct LabelsQueryArgs {
    /// The server's URL.
    pub(crate) server: String,
    /// The label whose values to list; every label name when absent.
    pub(crate) name: Option<String>,
    /// Series selector restricting the series considered; repeatable.
    #[arg(long = "match")]
    pub(crate) matches: Vec<String>,
    /// The time range considered.
    #[command(flatten)]
    pub(crate) range: TimeRangeArgs,
}

/// The optional `--start`/`--end` of series and label queries.
#[derive(Debug, Args)]
pub(crate) struct TimeRangeArgs {
    /// Start time (RFC 3339 or Unix seconds).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) start: Option<String>,
    /// End time (RFC 3339 or Unix seconds).
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) end: Option<String>,
}

/// Flags of `panoptes promql-test`.
#[derive(Debug, Args)]
pub(crate) struct PromqlTestArgs {
    /// The `.test` files to run.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// `panoptes tsdb` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TsdbCommand {
    /// Prints cardinality statistics: series, label pairs, highest-cardinality metrics and
    /// labels, and label pairs of series that churn.
    Analyze(AnalyzeArgs),
    /// Prints the samples of matching series as `labels value timestamp` lines.
    Dump(DumpArgs),
    /// Creates blocks from a file (backfill, like `promtool tsdb create-blocks-from`).
    #[command(subcommand)]
    Import(ImportCommand),
}

/// `panoptes tsdb import` formats.
#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// Imports samples from an OpenMetrics text file (every sample with a timestamp, ending
    /// with `# EOF`) into blocks aligned to the block duration (see docs/backfill.md).
    Openmetrics(ImportOpenMetricsArgs),
}

/// Flags of `panoptes tsdb import openmetrics`.
#[derive(Debug, Args)]
pub(crate) struct ImportOpenMetricsArgs {
    /// OpenMetrics file to read samples from.
    pub(crate) input: PathBuf,
    /// Data directory the blocks are written to (created when missing).
    #[arg(default_value = "data/")]
    pub(crate) output: PathBuf,
    /// Longest time range one block may cover; the block range is the largest of 2h, 6h, 18h,
    /// ... (Prometheus' compaction ranges) that fits.
    #[arg(long = "max-block-duration", value_name = "DURATION", default_value = "2h", value_parser = parse_duration)]
    pub(crate) max_block_duration: Duration,
    /// Prints times as RFC 3339 and sizes in binary units.
    #[arg(short = 'r', long = "human-readable")]
    pub(crate) human_readable: bool,
    /// Does not print the blocks created.
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
    /// Most samples held in memory at once (16 bytes each); block ranges with more are
    /// written in several blocks, each with a share of the series.
    #[arg(long = "max-samples-in-memory", value_name = "COUNT", default_value_t = 20_000_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_samples_in_memory: u64,
    /// How often progress is printed on standard error.
    #[arg(long = "progress-interval", value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub(crate) progress_interval: Duration,
}

/// Flags of `panoptes tsdb analyze`.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Data directory.
    #[arg(default_value = "data/")]
    pub(crate) path: PathBuf,
    /// How many entries each list shows.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    /// Start of the analysed range in milliseconds (default: the oldest sample).
    #[arg(long = "min-time", allow_hyphen_values = true)]
    pub(crate) min_time: Option<i64>,
    /// End of the analysed range in milliseconds (default: the newest sample).
    #[arg(long = "max-time", allow_hyphen_values = true)]
    pub(crate) max_time: Option<i64>,
}

/// Flags of `panoptes tsdb dump`.
#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    /// Data directory.
    #[arg(default_value = "data/")]
    pub(crate) path: PathBuf,
    /// Series selector, e.g. `up{job="api"}` (default: every series).
    #[arg(long = "match")]
    pub(crate) selector: Option<String>,
    /// Start of the range in milliseconds.
    #[arg(long = "min-time", allow_hyphen_values = true, default_value_t = i64::MIN)]
    pub(crate) min_time: i64,
    /// End of the range in milliseconds.
    #[arg(long = "max-time", allow_hyphen_values = true, default_value_t = i64::MAX)]
    pub(crate) max_time: i64,
}

/// Flags of `panoptes server`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// Prometheus configuration file (scrape jobs, discovery, external labels).
    #[arg(long = "config.file", value_name = "PATH")]
    pub(crate) config_file: Option<PathBuf>,

    /// Base path for metrics storage.
    #[arg(long = "storage.tsdb.path", value_name = "PATH", default_value = "data/")]
    pub(crate) storage_path: PathBuf,

    /// Re-reads the configuration file, its rule files and the Alertmanager file this often and
    /// reloads when their contents changed (a mounted ConfigMap changes in place); off when
    /// absent. Prometheus has this flag behind `--enable-feature=auto-reload-config`.
    #[arg(long = "config.auto-reload-interval", value_name = "DURATION", value_parser = parse_positive_duration)]
    pub(crate) config_auto_reload_interval: Option<Duration>,

    /// How long to retain samples in storage (e.g. 15d, 12h, 1w).
    #[arg(long = "storage.tsdb.retention.time", value_name = "DURATION", default_value = "15d", value_parser = parse_duration)]
    pub(crate) retention_time: Duration,

    /// Maximum number of bytes that can be stored for blocks (B, KB, MB, GB, TB, PB, EB; powers
    /// of 1024). 0 disables the limit.
    #[arg(long = "storage.tsdb.retention.size", value_name = "SIZE", default_value = "0B", value_parser = parse_size)]
    pub(crate) retention_size: u64,

    /// How far behind the newest sample of a series an out-of-order sample is still accepted.
    #[arg(long = "storage.tsdb.out-of-order-time-window", value_name = "DURATION", default_value = "0s", value_parser = parse_duration)]
    pub(crate) out_of_order_time_window: Duration,

    /// When the WAL is fsynced: `always` (before acknowledging each commit), `never`, or an
    /// interval such as `1s`. Defaults to the storage engine's choice.
    #[arg(long = "storage.tsdb.wal-fsync", value_name = "POLICY", value_parser = parse_fsync)]
    pub(crate) wal_fsync: Option<WalFsync>,

    /// Time range of blocks cut from the head. Hidden, like Prometheus' flag of the same name:
    /// for benchmarks and tests that need blocks sooner than every 2h.
    #[arg(long = "storage.tsdb.min-block-duration", value_name = "DURATION", default_value = "2h", value_parser = parse_duration, hide = true)]
    pub(crate) min_block_duration: Duration,

    /// Address to listen on for the web interface and API.
    #[arg(long = "web.listen-address", value_name = "ADDRESS", default_value = "127.0.0.1:9090")]
    pub(crate) listen_address: SocketAddr,

    /// Maximum duration before timing out the read of a request body.
    #[arg(long = "web.read-timeout", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) read_timeout: Duration,

    /// Largest decompressed remote write request accepted (same units as retention.size).
    #[arg(long = "web.max-remote-write-bytes", value_name = "SIZE", default_value = "32MB", value_parser = parse_size)]
    pub(crate) max_remote_write_bytes: u64,

    /// Enables the admin endpoints (`/api/v1/admin/tsdb/*`).
    #[arg(long = "web.enable-admin-api")]
    pub(crate) enable_admin_api: bool,

    /// Enables shutdown and reload over HTTP (`POST /-/quit`, `POST /-/reload`).
    #[arg(long = "web.enable-lifecycle")]
    pub(crate) enable_lifecycle: bool,

    /// The maximum lookback duration for retrieving metrics during expression evaluations.
    #[arg(long = "query.lookback-delta", value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    pub(crate) query_lookback_delta: Duration,

    /// Maximum time a query may take before being aborted.
    #[arg(long = "query.timeout", value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub(crate) query_timeout: Duration,

    /// Maximum number of samples a single query can load into memory.
    #[arg(long = "query.max-samples", value_name = "COUNT", default_value_t = 50_000_000)]
    pub(crate) query_max_samples: usize,

    /// Maximum number of queries executed concurrently; further queries wait.
    #[arg(long = "query.max-concurrency", value_name = "COUNT", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) query_max_concurrency: u32,

    /// The most samples one remote read request may return.
    #[arg(long = "storage.remote.read-sample-limit", value_name = "COUNT", default_value_t = 50_000_000)]
    pub(crate) remote_read_sample_limit: usize,

    /// How many remote read requests may run at once; further ones wait.
    #[arg(long = "storage.remote.read-concurrent-limit", value_name = "COUNT", default_value_t = 10)]
    pub(crate) remote_read_concurrent_limit: usize,

    /// Serves cluster-state metrics with kube-state-metrics' names on `/kube-state/metrics`,
    /// read from this cluster: `in-cluster`, an API server URL, or a kubeconfig file.
    #[arg(long = "kube-state.cluster", value_name = "in-cluster|URL|PATH")]
    pub(crate) kube_state_cluster: Option<String>,

    /// The object labels `kube_<kind>_labels` carry, per resource, as kube-state-metrics'
    /// --metric-labels-allowlist: `pods=[app,version],namespaces=[*]`. Unset: every pod label
    /// (kube-state-metrics' default, the empty list, is `--kube-state.metric-labels-allowlist=`).
    #[arg(long = "kube-state.metric-labels-allowlist", value_name = "RESOURCE=[KEYS],...", value_parser = parse_allowlist)]
    pub(crate) kube_state_labels_allowlist: Option<panoptes_kube::AllowList>,

    /// The object annotations `kube_<kind>_annotations` carry, per resource, as
    /// kube-state-metrics' --metric-annotations-allowlist. Unset: none.
    #[arg(long = "kube-state.metric-annotations-allowlist", value_name = "RESOURCE=[KEYS],...", value_parser = parse_allowlist)]
    pub(crate) kube_state_annotations_allowlist: Option<panoptes_kube::AllowList>,

    /// How long remote-write queues may keep sending at shutdown; what is not acknowledged by
    /// then is sent after the next start (Prometheus' default is 1m).
    #[arg(long = "storage.remote.flush-deadline", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub(crate) remote_flush_deadline: Duration,

    /// The most WAL bytes kept, once a checkpoint replaced them, for remote-write queues that
    /// have not sent them yet (a receiver outage); beyond it the oldest go and are counted in
    /// panoptes_tsdb_wal_hold_dropped_segments_total.
    #[arg(long = "storage.remote.max-held-wal-size", value_name = "SIZE", default_value = "1GB", value_parser = parse_size)]
    pub(crate) remote_max_held_wal_size: u64,

    /// Alertmanager configuration file: when given, the built-in router delivers the alerts of
    /// the rules and serves Alertmanager's API v2 under `/api/v2/`.
    #[arg(long = "alertmanager.config.file", value_name = "PATH")]
    pub(crate) alertmanager_config_file: Option<PathBuf>,

    /// How the `for` state of alerts is restored at start: `unchanged` keeps `activeAt`, so an
    /// alert fires when it would have without the restart; `prometheus` adds the outage to
    /// `activeAt` and applies `--rules.alert.for-grace-period`, as Prometheus does.
    #[arg(long = "rules.alert.for-restore", value_name = "MODE", value_enum, default_value = "unchanged")]
    pub(crate) rules_alert_for_restore: ForRestoreMode,

    /// With `--rules.alert.for-restore=prometheus`: minimum duration an alert stays pending
    /// after its `for` state is restored at start (rules whose `for` is shorter are not
    /// restored).
    #[arg(long = "rules.alert.for-grace-period", value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub(crate) rules_alert_for_grace_period: Duration,

    /// Longest outage after which the `for` state of alerts is still restored.
    #[arg(long = "rules.alert.for-outage-tolerance", value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub(crate) rules_alert_for_outage_tolerance: Duration,

    /// How long the alert and notification history (`/api/v1/alerts/history`) is kept.
    #[arg(long = "alerting.history.retention", value_name = "DURATION", default_value = "15d", value_parser = parse_duration)]
    pub(crate) alerting_history_retention: Duration,

    /// The URL under which users reach Panoptes (links in notifications); default
    /// `http://<web.listen-address>`.
    #[arg(long = "web.external-url", value_name = "URL")]
    pub(crate) external_url: Option<String>,

    /// Minimum time between two sends of the same alert to Alertmanager.
    #[arg(long = "rules.alert.resend-delay", value_name = "DURATION", default_value = "1m", value_parser = parse_duration)]
    pub(crate) rules_alert_resend_delay: Duration,

    /// Directory of Grafana dashboard JSON files loaded at start, read-only through the API.
    #[arg(long = "dashboards.provisioning-dir", value_name = "PATH")]
    pub(crate) dashboards_provisioning_dir: Option<PathBuf>,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    pub(crate) log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "logfmt")]
    pub(crate) log_format: LogFormat,
}

/// Flags of `panoptes agent`, named like node-exporter's.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// Address on which to expose metrics.
    #[arg(long = "web.listen-address", value_name = "ADDRESS", default_value = "127.0.0.1:9100")]
    pub(crate) listen_address: SocketAddr,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", value_name = "PATH", default_value = "/metrics")]
    pub(crate) telemetry_path: String,

    /// procfs mountpoint.
    #[arg(long = "path.procfs", value_name = "PATH", default_value = "/proc")]
    pub(crate) procfs: PathBuf,

    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", value_name = "PATH", default_value = "/sys")]
    pub(crate) sysfs: PathBuf,

    /// rootfs mountpoint.
    #[arg(long = "path.rootfs", value_name = "PATH", default_value = "/")]
    pub(crate) rootfs: PathBuf,

    /// udev data path.
    #[arg(long = "path.udev.data", value_name = "PATH", default_value = "/run/udev/data")]
    pub(crate) udev_data: PathBuf,

    /// Regexp of mount points to exclude for the filesystem collector.
    #[arg(long = "collector.filesystem.mount-points-exclude", value_name = "REGEX", default_value = panoptes_node::DEFAULT_MOUNT_POINTS_EXCLUDE)]
    pub(crate) mount_points_exclude: String,

    /// Regexp of filesystem types to exclude for the filesystem collector.
    #[arg(long = "collector.filesystem.fs-types-exclude", value_name = "REGEX", default_value = panoptes_node::DEFAULT_FS_TYPES_EXCLUDE)]
    pub(crate) fs_types_exclude: String,

    /// How long to wait for a mount point to respond before marking it as stale.
    #[arg(long = "collector.filesystem.mount-timeout", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub(crate) mount_timeout: Duration,

    /// Regexp of diskstats devices to exclude.
    #[arg(long = "collector.diskstats.device-exclude", value_name = "REGEX", default_value = panoptes_node::DEFAULT_DISKSTATS_DEVICE_EXCLUDE)]
    pub(crate) diskstats_device_exclude: String,

    /// Regexp of net devices to exclude.
    #[arg(long = "collector.netdev.device-exclude", value_name = "REGEX", default_value = panoptes_node::DEFAULT_NETDEV_DEVICE_EXCLUDE)]
    pub(crate) netdev_device_exclude: String,

    /// Regexp of fields to return for the netstat collector.
    #[arg(long = "collector.netstat.fields", value_name = "REGEX", default_value = panoptes_node::DEFAULT_NETSTAT_FIELDS)]
    pub(crate) netstat_fields: String,

    /// Regexp of fields to return for the vmstat collector.
    #[arg(long = "collector.vmstat.fields", value_name = "REGEX", default_value = panoptes_node::DEFAULT_VMSTAT_FIELDS)]
    pub(crate) vmstat_fields: String,

    /// Also push the collected samples to this remote-write receiver (e.g.
    /// `http://server:9090/api/v1/write`) through an on-disk queue.
    #[arg(long = "remote-write.url", value_name = "URL")]
    pub(crate) remote_write_url: Option<String>,

    /// How often samples are collected and queued for remote write.
    #[arg(long = "remote-write.interval", value_name = "DURATION", default_value = "15s", value_parser = parse_positive_duration)]
    pub(crate) remote_write_interval: Duration,

    /// Directory of the remote-write queue; what it holds is sent after a restart.
    #[arg(long = "remote-write.queue-dir", value_name = "PATH", default_value = "agent-queue/")]
    pub(crate) remote_write_queue_dir: PathBuf,

    /// The most queued requests kept while the receiver is unreachable; older ones are dropped.
    #[arg(long = "remote-write.max-queued", value_name = "COUNT", default_value_t = 20_000)]
    pub(crate) remote_write_max_queued: usize,

    /// A label added to every pushed series, `NAME=VALUE`; repeatable. `job="node"` and
    /// `instance="<hostname>"` are added unless given here.
    #[arg(long = "remote-write.label", value_name = "NAME=VALUE", value_parser = parse_label)]
    pub(crate) remote_write_labels: Vec<(String, String)>,

    /// Which collectors run: `--collector.<name>` / `--no-collector.<name>` and
    /// `--collector.disable-defaults`.
    #[command(flatten)]
    pub(crate) collectors: CollectorFlags,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", value_name = "LEVEL", default_value = "info")]
    pub(crate) log_level: LogLevel,

    /// Output format of log messages.
    #[arg(long = "log.format", value_name = "FORMAT", default_value = "logfmt")]
    pub(crate) log_format: LogFormat,
}

/// The `--collector.<name>` and `--no-collector.<name>` flag ids of each collector, in
/// `panoptes_node::CollectorName::ALL` order; clap ids must be static strings.
const COLLECTOR_FLAGS: [(&str, &str); 24] = [
    ("collector.arp", "no-collector.arp"),
    ("collector.conntrack", "no-collector.conntrack"),
    ("collector.cpu", "no-collector.cpu"),
    ("collector.diskstats", "no-collector.diskstats"),
    ("collector.entropy", "no-collector.entropy"),
    ("collector.filefd", "no-collector.filefd"),
    ("collector.filesystem", "no-collector.filesystem"),
    ("collector.hwmon", "no-collector.hwmon"),
    ("collector.loadavg", "no-collector.loadavg"),
    ("collector.meminfo", "no-collector.meminfo"),
    ("collector.netclass", "no-collector.netclass"),
    ("collector.netdev", "no-collector.netdev"),
    ("collector.netstat", "no-collector.netstat"),
    ("collector.os", "no-collector.os"),
    ("collector.pressure", "no-collector.pressure"),
    ("collector.selinux", "no-collector.selinux"),
    ("collector.sockstat", "no-collector.sockstat"),
    ("collector.softnet", "no-collector.softnet"),
    ("collector.stat", "no-collector.stat"),
    ("collector.time", "no-collector.time"),
    ("collector.timex", "no-collector.timex"),
    ("collector.udp_queues", "no-collector.udp_queues"),
    ("collector.uname", "no-collector.uname"),
    ("collector.vmstat", "no-collector.vmstat"),
];

/// The collector switches as node-exporter's kingpin booleans: every collector is on by
/// default; `--no-collector.<name>` turns one off, `--collector.disable-defaults` turns all off
/// and `--collector.<name>` turns one on again; the last of a pair given wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CollectorFlags {
    /// The collectors that run.
    pub(crate) enabled: Vec<panoptes_node::CollectorName>,
}

impl clap::FromArgMatches for CollectorFlags {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let defaults = !matches.get_flag("collector.disable-defaults");
        let enabled = panoptes_node::CollectorName::ALL
            .into_iter()
            .zip(COLLECTOR_FLAGS)
            .filter(|(_, (on, off))| {
                // `overrides_with` leaves only the last of the pair set.
                if matches.get_flag(on) {
                    true
                } else if matches.get_flag(off) {
                    false
                } else {
                    defaults
                }
            })
            .map(|(collector, _)| collector)
            .collect();
        Ok(CollectorFlags { enabled })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Args for CollectorFlags {
    fn augment_args(mut command: clap::Command) -> clap::Command {
        command = command.arg(
            clap::Arg::new("collector.disable-defaults")
                .long("collector.disable-defaults")
                .action(clap::ArgAction::SetTrue)
                .help("Disables every collector not enabled explicitly with --collector.<name>"),
        );
        for (on, off) in COLLECTOR_FLAGS {
            command = command
                .arg(
                    clap::Arg::new(on)
                        .long(on)
                        .action(clap::ArgAction::SetTrue)
                        .overrides_with(off)
                        .help("Enables this collector (default: enabled)"),
                )
                .arg(clap::Arg::new(off).long(off).action(clap::ArgAction::SetTrue).overrides_with(on).hide(true));
        }
        command
    }

    fn augment_args_for_update(command: clap::Command) -> clap::Command {
        Self::augment_args(command)
    }
}

/// The `--log.level` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogLevel {
    /// Everything, including debugging detail.
    Debug,
    /// Lifecycle messages and above.
    Info,
    /// Recovered anomalies and above.
    Warn,
    /// Only failures.
    Error,
}

/// The `--rules.alert.for-restore` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ForRestoreMode {
    /// Restore `activeAt` as it was before the restart.
    Unchanged,
    /// Prometheus' restore: the outage does not count towards `for`.
    Prometheus,
}

/// The `--log.format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    /// `key=value` pairs, one event a line.
    Logfmt,
    /// One JSON object a line.
    Json,
}

/// The `--storage.tsdb.wal-fsync` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WalFsync {
    /// Fsync before acknowledging each commit.
    Always,
    /// Fsync at most this often.
    Interval(Duration),
    /// Leave flushing to the operating system.
    Never,
}

fn parse_duration(input: &str) -> Result<Duration, String> {
    panoptes_model::time::parse_duration(input)
}

fn parse_positive_duration(input: &str) -> Result<Duration, String> {
    match parse_duration(input)? {
        duration if duration.is_zero() => Err("must be positive".to_owned()),
        duration => Ok(duration),
    }
}

fn parse_label(input: &str) -> Result<(String, String), String> {
    match input.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("expected NAME=VALUE, got {input:?}")),
    }
}

fn parse_fsync(input: &str) -> Result<WalFsync, String> {
    match input {
        "always" => Ok(WalFsync::Always),
        "never" => Ok(WalFsync::Never),
        interval => match parse_duration(interval) {
            Ok(duration) if !duration.is_zero() => Ok(WalFsync::Interval(duration)),
            _ => Err(format!("expected always, never or a positive duration such as 1s, got {input:?}")),
        },
    }
}

fn parse_allowlist(input: &str) -> Result<panoptes_kube::AllowList, String> {
    panoptes_kube::AllowList::parse(input).map_err(|error| error.to_string())
}

/// Parses a byte size the way Prometheus' `units.Base2Bytes` does (see
/// `panoptes_model::size::parse_base2_bytes`).
fn parse_size(input: &str) -> Result<u64, String> {
    panoptes_model::size::parse_base2_bytes(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_args(arguments: &[&str]) -> ServerArgs {
        let cli = Cli::try_parse_from(["panoptes", "server"].iter().chain(arguments)).expect("valid flags");
        match cli.command {
            Command::Server(args) => *args,
            _ => panic!("not the server command"),
        }
    }

    #[test]
    fn kube_state_allow_lists_parse_with_kube_state_metrics_syntax() {
        let args = server_args(&[]);
        assert_eq!(args.kube_state_labels_allowlist, None);
        let args = server_args(&[
            "--kube-state.metric-labels-allowlist=pods=[app],namespaces=[*]",
            "--kube-state.metric-annotations-allowlist=",
        ]);
        assert_eq!(
            args.kube_state_labels_allowlist,
            Some(panoptes_kube::AllowList::parse("pods=[app],namespaces=[*]").unwrap())
        );
        assert_eq!(args.kube_state_annotations_allowlist, Some(panoptes_kube::AllowList::default()));
        let Err(error) = Cli::try_parse_from(["panoptes", "server", "--kube-state.metric-labels-allowlist=pods=[app"])
        else {
            panic!("malformed list accepted");
        };
        let error = error.to_string();
        assert!(
            error.contains("--kube-state.metric-labels-allowlist")
                && error.contains("invalid allow-list at character 9: missing `]` closing the list of pods"),
            "{error}"
        );
    }

    #[test]
    fn server_defaults_match_prometheus() {
        let args = server_args(&[]);
        assert_eq!(args.storage_path, PathBuf::from("data/"));
        assert_eq!(args.retention_time, Duration::from_secs(15 * 24 * 3600));
        assert_eq!(args.retention_size, 0);
        assert_eq!(args.out_of_order_time_window, Duration::ZERO);
        assert_eq!(args.wal_fsync, None);
        assert_eq!(args.listen_address, "127.0.0.1:9090".parse().unwrap());
        assert_eq!(args.max_remote_write_bytes, 32 << 20);
        assert_eq!(args.read_timeout, Duration::from_secs(300));
        assert_eq!((args.log_level, args.log_format), (LogLevel::Info, LogFormat::Logfmt));
        assert_eq!(args.config_file, None);
        assert_eq!(args.config_auto_reload_interval, None);
        assert!(!args.enable_admin_api);
        assert_eq!(args.query_lookback_delta, Duration::from_secs(300));
        assert_eq!(args.query_timeout, Duration::from_secs(120));
        assert_eq!(args.query_max_samples, 50_000_000);
        assert_eq!(args.query_max_concurrency, 20);
    }

    #[test]
    fn server_flags_are_parsed() {
        let args = server_args(&[
            "--config.file=panoptes.yml",
            "--config.auto-reload-interval=30s",
            "--storage.tsdb.path",
            "/var/lib/panoptes",
            "--storage.tsdb.retention.time=30d",
            "--storage.tsdb.retention.size=1GB",
            "--storage.tsdb.out-of-order-time-window=10m",
            "--storage.tsdb.wal-fsync=always",
            "--web.listen-address=0.0.0.0:9091",
            "--web.max-remote-write-bytes=1MB",
            "--web.read-timeout=30s",
            "--log.level=debug",
            "--log.format=json",
            "--web.enable-admin-api",
            "--query.lookback-delta=1m",
            "--query.timeout=10s",
            "--query.max-samples=1000",
            "--query.max-concurrency=2",
        ]);
        assert!(args.enable_admin_api);
        assert_eq!(args.query_lookback_delta, Duration::from_secs(60));
        assert_eq!(args.query_timeout, Duration::from_secs(10));
        assert_eq!((args.query_max_samples, args.query_max_concurrency), (1000, 2));
        assert_eq!(args.config_file, Some(PathBuf::from("panoptes.yml")));
        assert_eq!(args.config_auto_reload_interval, Some(Duration::from_secs(30)));
        assert_eq!(args.storage_path, PathBuf::from("/var/lib/panoptes"));
        assert_eq!(args.retention_time, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(args.retention_size, 1 << 30);
        assert_eq!(args.out_of_order_time_window, Duration::from_secs(600));
        assert_eq!(args.wal_fsync, Some(WalFsync::Always));
        assert_eq!(args.listen_address, "0.0.0.0:9091".parse().unwrap());
        assert_eq!(args.max_remote_write_bytes, 1 << 20);
        assert_eq!(args.read_timeout, Duration::from_secs(30));
        assert_eq!((args.log_level, args.log_format), (LogLevel::Debug, LogFormat::Json));
    }

    #[test]
    fn invalid_flag_values_are_refused() {
        for arguments in [
            ["--storage.tsdb.retention.time=15 days"],
            ["--storage.tsdb.retention.size=12XB"],
            ["--storage.tsdb.wal-fsync=sometimes"],
            ["--web.listen-address=localhost"],
            ["--log.level=verbose"],
            ["--query.max-concurrency=0"],
            ["--config.auto-reload-interval=0s"],
        ] {
            let result = Cli::try_parse_from(["panoptes", "server"].iter().chain(&arguments));
            assert!(result.is_err(), "{arguments:?} was accepted");
        }
    }

    #[test]
    fn query_subcommands_take_promtool_arguments() {
        let cli = Cli::try_parse_from([
            "panoptes",
            "query",
            "range",
            "http://x:9090",
            "up",
            "--start=1",
            "--end=2",
            "--step=15s",
        ])
        .unwrap();
        let Command::Query(QueryCommand::Range(args)) = cli.command else { panic!("not a range query") };
        assert_eq!(
            (args.start.as_deref(), args.end.as_deref(), args.step.as_deref()),
            (Some("1"), Some("2"), Some("15s"))
        );
        let cli =
            Cli::try_parse_from(["panoptes", "query", "series", "http://x", "--match=up", "--match=down"]).unwrap();
        let Command::Query(QueryCommand::Series(args)) = cli.command else { panic!("not a series query") };
        assert_eq!(args.matches, ["up", "down"]);
        assert!(Cli::try_parse_from(["panoptes", "query", "series", "http://x"]).is_err());
        assert!(Cli::try_parse_from(["panoptes", "promql-test"]).is_err());
    }

    fn agent_args(arguments: &[&str]) -> AgentArgs {
        let cli = Cli::try_parse_from(["panoptes", "agent"].iter().chain(arguments)).expect("valid flags");
        match cli.command {
            Command::Agent(args) => *args,
            _ => panic!("not the agent command"),
        }
    }

    #[test]
    fn agent_defaults_match_node_exporter_on_loopback() {
        let args = agent_args(&[]);
        assert_eq!(args.listen_address, "127.0.0.1:9100".parse().unwrap());
        assert_eq!(args.telemetry_path, "/metrics");
        assert_eq!(
            (args.procfs.as_path(), args.sysfs.as_path(), args.rootfs.as_path()),
            (std::path::Path::new("/proc"), std::path::Path::new("/sys"), std::path::Path::new("/"))
        );
        assert_eq!(args.collectors.enabled, panoptes_node::CollectorName::ALL);
        assert_eq!(args.netdev_device_exclude, "^lo$");
        assert_eq!(args.mount_timeout, Duration::from_secs(5));
    }

    #[test]
    fn collector_flags_enable_and_disable_like_node_exporter() {
        use panoptes_node::CollectorName;
        let args = agent_args(&["--no-collector.hwmon", "--no-collector.cpu", "--collector.cpu"]);
        assert!(!args.collectors.enabled.contains(&CollectorName::Hwmon));
        assert!(args.collectors.enabled.contains(&CollectorName::Cpu));
        assert_eq!(args.collectors.enabled.len(), 23);
        let args = agent_args(&["--collector.disable-defaults", "--collector.meminfo", "--collector.loadavg"]);
        assert_eq!(args.collectors.enabled, [CollectorName::Loadavg, CollectorName::Meminfo]);
        let args = agent_args(&["--path.procfs=/host/proc", "--path.rootfs", "/host/root", "--log.level=debug"]);
        assert_eq!(args.procfs, PathBuf::from("/host/proc"));
        assert_eq!(args.rootfs, PathBuf::from("/host/root"));
        assert_eq!(args.log_level, LogLevel::Debug);
        assert!(Cli::try_parse_from(["panoptes", "agent", "--collector.nonexistent"]).is_err());
        let args = agent_args(&[
            "--remote-write.url=http://server:9090/api/v1/write",
            "--remote-write.interval=250ms",
            "--remote-write.label=job=nodes",
            "--remote-write.label",
            "dc=eu=1",
        ]);
        assert_eq!(args.remote_write_url.as_deref(), Some("http://server:9090/api/v1/write"));
        assert_eq!(args.remote_write_interval, Duration::from_millis(250));
        assert_eq!(
            args.remote_write_labels,
            [("job".to_owned(), "nodes".to_owned()), ("dc".to_owned(), "eu=1".to_owned())]
        );
        assert!(Cli::try_parse_from(["panoptes", "agent", "--remote-write.interval=0s"]).is_err());
        assert!(Cli::try_parse_from(["panoptes", "agent", "--remote-write.label=novalue"]).is_err());
    }

    #[track_caller]
    fn check_size(input: &str, expected: Option<u64>) {
        assert_eq!(parse_size(input).ok(), expected, "{input}");
    }

    #[test]
    fn sizes_are_powers_of_1024() {
        check_size("0", Some(0));
        check_size("512B", Some(512));
        check_size("1KB", Some(1024));
        check_size("512MB", Some(512 << 20));
        check_size("1GB", Some(1 << 30));
        check_size("2GiB", Some(2 << 30));
        check_size("1TB", Some(1 << 40));
        check_size("1PB", Some(1 << 50));
        check_size("1EB", Some(1 << 60));
        check_size("1GB512MB", Some((1 << 30) + (512 << 20)));
        check_size("16EB", None);
        check_size("", None);
        check_size("MB", None);
        check_size("1mb", None);
        check_size("1.5GB", None);
    }

    #[test]
    fn fsync_accepts_always_never_and_intervals() {
        assert_eq!(parse_fsync("never"), Ok(WalFsync::Never));
        assert_eq!(parse_fsync("250ms"), Ok(WalFsync::Interval(Duration::from_millis(250))));
        assert!(parse_fsync("0s").is_err());
    }
}
