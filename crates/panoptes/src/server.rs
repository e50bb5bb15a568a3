//! `panoptes server`: the long-running process. Wires the store and the HTTP server in one
//! visible function: logging, bind, open the store in the background, serve, close the store.

use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use panoptes_server::{Server, ServerOptions, ShutdownHook, StorageOpener, shutdown_signal};
use panoptes_storage::StorageRef;
use panoptes_tsdb::{Db, DbOptions, FsyncPolicy};

use crate::cli::{ServerArgs, WalFsync};
use crate::logging;

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
    match runtime.block_on(serve(args)) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "server failed");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting panoptes");
    if let Some(path) = &args.config_file {
        tracing::warn!(path = %path.display(), "configuration file loading is not implemented yet; ignoring it");
    }
    let max_remote_write_bytes =
        usize::try_from(args.max_remote_write_bytes).context("--web.max-remote-write-bytes is too large")?;
    let options =
        ServerOptions { listen_address: args.listen_address, max_remote_write_bytes, read_timeout: args.read_timeout };
    let server = Server::bind(options).await?;
    let (opener, on_shutdown) = storage(&args);
    server.run(opener, shutdown_signal(), on_shutdown).await?;
    Ok(())
}

/// Returns the opener of the on-disk metrics store and the hook that closes it.
fn storage(args: &ServerArgs) -> (StorageOpener, ShutdownHook) {
    let dir = args.storage_path.clone();
    let options = db_options(args);
    let opened = Arc::new(OnceLock::<Db>::new());
    let opened_by_opener = opened.clone();
    let opener: StorageOpener = Box::new(move |registry| {
        tracing::info!(path = %dir.display(), "opening storage");
        let db = Db::open(&dir, options).map_err(|error| error_chain(&error))?;
        db.register_metrics(registry);
        let storage: StorageRef = Arc::new(db.clone());
        let _ = opened_by_opener.set(db);
        Ok(storage)
    });
    let on_shutdown: ShutdownHook = Box::new(move || {
        let Some(db) = opened.get() else { return Ok(()) };
        tracing::info!("closing storage");
        db.close().map_err(|error| error_chain(&error))?;
        tracing::info!("storage closed");
        Ok(())
    });
    (opener, on_shutdown)
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
        ..defaults
    }
}

/// Returns an error's message followed by its sources', joined by `: `.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
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
