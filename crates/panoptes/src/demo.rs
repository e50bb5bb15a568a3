//! `panoptes demo`: the server plus the simulated Bookinfo mesh of `panoptes_demo`. Starts the
//! simulated workloads on loopback, writes the scrape configuration, alert rules and default
//! dashboards they need into `<storage>/demo/`, then runs the ordinary server on them with the
//! demo's control API (`/api/demo/...`) among its routes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use panoptes_demo::{Demo, DemoOptions, Fault, ReviewsWeights, TrafficControl};

use crate::cli::{Cli, Command, DemoArgs, ServerArgs};
use crate::logging;

/// Runs the demo until SIGINT or SIGTERM.
///
/// # Errors
///
/// Returns an error when the flags are invalid, or logging, the runtime or the storage
/// directory cannot be set up.
pub(crate) fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let options = demo_options(&args)?;
    logging::init(args.log_level, args.log_format)?;
    let (storage_path, is_temporary) = match &args.storage_path {
        Some(path) => (path.clone(), false),
        None => (fresh_data_dir()?, true),
    };
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let result = runtime.block_on(async {
        let demo = Demo::start(options).await.context("starting the simulated mesh")?;
        let files = demo
            .write_files(&storage_path.join("demo"), args.scrape_interval)
            .context("writing the demo's configuration")?;
        tracing::info!(
            config = %files.config.display(),
            dashboards = %files.dashboards.display(),
            "demo mesh ready: Bookinfo workloads scraped from loopback, control API under /api/demo/"
        );
        let server_args = server_args(&args, &storage_path, &files)?;
        let routes = demo.router();
        let served = crate::server::serve(server_args, routes).await;
        demo.stop();
        served
    });
    if is_temporary && let Err(error) = std::fs::remove_dir_all(&storage_path) {
        tracing::warn!(path = %storage_path.display(), error = %error, "cannot remove the demo's data directory");
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "demo failed");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Returns the simulation's options from the flags.
fn demo_options(args: &DemoArgs) -> anyhow::Result<DemoOptions> {
    let mut control = TrafficControl {
        reviews: ReviewsWeights::parse(&args.reviews_weights).context("--demo.reviews-weights")?,
        ..TrafficControl::default()
    };
    let ratings = Fault { abort_percent: args.ratings_abort_percent, abort_code: 503, delay_ms: 0 };
    control.set_fault("ratings-v1", ratings).context("--demo.fault.ratings-abort-percent")?;
    let delay_ms = u64::try_from(args.reviews_v2_delay.as_millis()).unwrap_or(u64::MAX);
    let reviews_v2 = Fault { abort_percent: 0.0, abort_code: 503, delay_ms };
    control.set_fault("reviews-v2", reviews_v2).context("--demo.fault.reviews-v2-delay")?;
    Ok(DemoOptions { seed: args.seed, requests_per_second: args.requests_per_second, control, node_metrics: true })
}

/// Returns the server's flags: its defaults, with the demo's address, storage, configuration
/// and dashboards. Parsed from the command line definition so that every default stays the
/// server's own.
fn server_args(
    args: &DemoArgs,
    storage_path: &std::path::Path,
    files: &panoptes_demo::DemoFiles,
) -> anyhow::Result<ServerArgs> {
    let cli = Cli::try_parse_from(["panoptes", "server"]).context("building the server's flags")?;
    let Command::Server(mut server) = cli.command else { anyhow::bail!("not the server command") };
    server.listen_address = args.listen_address;
    server.storage_path = storage_path.to_owned();
    server.config_file = Some(files.config.clone());
    server.dashboards_provisioning_dir = Some(files.dashboards.clone());
    server.log_level = args.log_level;
    server.log_format = args.log_format;
    Ok(*server)
}

/// Creates a new, empty directory under the system's temporary directory.
fn fresh_data_dir() -> anyhow::Result<PathBuf> {
    let base = std::env::temp_dir();
    let stamp =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_nanos());
    let dir = base.join(format!("panoptes-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating the demo's data directory {}", dir.display()))?;
    Ok(dir)
}
