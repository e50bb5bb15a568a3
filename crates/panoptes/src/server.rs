//! `panoptes server`: the long-running process. Wires the store and the HTTP server in one
//! visible function: logging, bind, open the store in the background, serve, close the store.

use std::sync::Arc;

use anyhow::Context as _;
use panoptes_server::{Server, ServerOptions, StorageOpener, shutdown_signal};
use panoptes_storage::StorageRef;

use crate::cli::ServerArgs;
use crate::logging;

/// Runs the server until SIGINT or SIGTERM.
///
/// # Errors
///
/// Returns an error when the logger, the listener or the store cannot be set up, or when
/// closing the store fails.
pub(crate) fn run(args: ServerArgs) -> anyhow::Result<()> {
    logging::init(args.log_level, args.log_format)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let result = runtime.block_on(serve(args));
    if let Err(error) = &result {
        tracing::error!(error = format!("{error:#}"), "server failed");
    }
    result
}

async fn serve(args: ServerArgs) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting panoptes");
    if let Some(path) = &args.config_file {
        tracing::warn!(path = %path.display(), "configuration file loading is not implemented yet; ignoring it");
    }
    let max_remote_write_bytes =
        usize::try_from(args.max_remote_write_bytes).context("--web.max-remote-write-bytes is too large")?;
    let options = ServerOptions { listen_address: args.listen_address, max_remote_write_bytes };
    let server = Server::bind(options).await?;
    let (opener, on_shutdown) = storage(&args);
    server.run(opener, shutdown_signal(), on_shutdown).await?;
    Ok(())
}

/// Returns the opener of the metrics store and the hook that closes it.
fn storage(args: &ServerArgs) -> (StorageOpener, panoptes_server::ShutdownHook) {
    let _ = args;
    tracing::warn!("the on-disk storage engine is not wired yet; samples are kept in memory only");
    let opener: StorageOpener = Box::new(|_registry| Ok(Arc::new(panoptes_storage::MemStorage::new()) as StorageRef));
    (opener, Box::new(|| Ok(())))
}
