//! The server's lifecycle: bind, open the store in the background, serve, shut down gracefully.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use panoptes_promql::EngineOptions;
use panoptes_storage::StorageRef;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::api;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Opens the metrics store. Runs once on a blocking thread after the server listens; may take
/// long (WAL replay). Registers the store's self-metrics in the registry it is given.
pub type StorageOpener = Box<dyn FnOnce(&mut Registry) -> Result<StorageRef, String> + Send>;

/// Runs once on a blocking thread after the last in-flight request finished (the binary closes
/// the store here). Not run when the store failed to open.
pub type ShutdownHook = Box<dyn FnOnce() -> Result<(), String> + Send>;

/// Programmatic knobs of the server.
#[derive(Clone)]
pub struct ServerOptions {
    /// Where to listen; loopback by default.
    pub listen_address: SocketAddr,
    /// The largest decompressed remote write body accepted, in bytes.
    pub max_remote_write_bytes: usize,
    /// How long reading a request body may take before the request fails with `408`.
    pub read_timeout: Duration,
    /// Lookback delta, timeout and sample limit of PromQL queries.
    pub engine: EngineOptions,
    /// How many queries may run at once; further queries wait (`--query.max-concurrency`).
    pub max_concurrent_queries: usize,
    /// Whether `/api/v1/admin/*` endpoints are enabled (`--web.enable-admin-api`).
    pub enable_admin_api: bool,
    /// Cardinality statistics and deletion, when the store offers them.
    pub tsdb_admin: Option<Arc<dyn api::TsdbAdmin>>,
    /// The command-line flags as `(name, value)` pairs, shown by `/api/v1/status/flags`.
    pub flags: Vec<(String, String)>,
    /// The running configuration, for `/-/reload` and `/api/v1/status/config`.
    pub config: Option<Arc<dyn api::ConfigControl>>,
    /// The scrape manager, for `/api/v1/targets` and `/api/v1/scrape_pools`.
    pub scrape: Option<Arc<panoptes_scrape::ScrapeManager>>,
    /// Whether `/-/reload` and `/-/quit` are enabled (`--web.enable-lifecycle`).
    pub enable_lifecycle: bool,
    /// The most samples one remote read request may return (`--storage.remote.read-sample-limit`).
    pub remote_read_sample_limit: usize,
    /// How many remote read requests run at once (`--storage.remote.read-concurrent-limit`).
    pub max_concurrent_remote_reads: usize,
    /// More routes served next to the API (ingestion protocols from other crates, each with its
    /// own state), merged before the request metrics layer.
    pub extra_routes: Option<axum::Router>,
    /// The rule manager, set once the store is open, for `/api/v1/rules` and `/api/v1/alerts`.
    pub rules: Option<Arc<OnceLock<panoptes_rules::RuleManager>>>,
}

impl std::fmt::Debug for ServerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOptions")
            .field("listen_address", &self.listen_address)
            .field("max_remote_write_bytes", &self.max_remote_write_bytes)
            .field("read_timeout", &self.read_timeout)
            .field("engine", &self.engine)
            .field("max_concurrent_queries", &self.max_concurrent_queries)
            .field("enable_admin_api", &self.enable_admin_api)
            .field("tsdb_admin", &self.tsdb_admin.is_some())
            .field("config", &self.config.is_some())
            .field("scrape", &self.scrape.is_some())
            .field("enable_lifecycle", &self.enable_lifecycle)
            .finish_non_exhaustive()
    }
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            listen_address: SocketAddr::from(([127, 0, 0, 1], 9090)),
            // Prometheus' `decodeReadLimit`: 32 MiB decompressed.
            max_remote_write_bytes: 32 << 20,
            // Prometheus' `--web.read-timeout` default.
            read_timeout: Duration::from_secs(5 * 60),
            engine: EngineOptions::default(),
            // Prometheus' `--query.max-concurrency` default.
            max_concurrent_queries: 20,
            enable_admin_api: false,
            tsdb_admin: None,
            flags: Vec::new(),
            config: None,
            scrape: None,
            enable_lifecycle: false,
            remote_read_sample_limit: 50_000_000,
            max_concurrent_remote_reads: 10,
            extra_routes: None,
            rules: None,
        }
    }
}

/// A bound HTTP server, not yet serving.
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    state: AppState,
    extra_routes: Option<axum::Router>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

impl Server {
    /// Binds the listen address. Port 0 picks a free port; see [`Server::local_addr`].
    ///
    /// # Errors
    ///
    /// Returns [`Error::Bind`] when the address cannot be bound.
    pub async fn bind(options: ServerOptions) -> Result<Server> {
        let address = options.listen_address;
        let listener = TcpListener::bind(address).await.map_err(|source| Error::Bind { address, source })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind { address, source })?;
        Ok(Server { listener, local_addr, state: AppState::new(&options), extra_routes: options.extra_routes })
    }

    /// Returns the address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` completes, opening the store with `open_storage` meanwhile.
    ///
    /// Until the opener returns, `/-/ready` and store-dependent endpoints answer `503`. When
    /// `shutdown` completes the server stops accepting connections, finishes in-flight requests
    /// and then runs `on_shutdown`; when the store is still opening at that point, it waits for
    /// the opener first, so that `on_shutdown` always sees an open store.
    ///
    /// # Errors
    ///
    /// Returns [`Error::OpenStorage`] (after a graceful stop) when the opener fails or panics,
    /// [`Error::Serve`] when the listener fails and [`Error::Shutdown`] when the hook fails.
    pub async fn run(
        self,
        open_storage: StorageOpener,
        shutdown: impl Future<Output = ()> + Send + 'static,
        on_shutdown: ShutdownHook,
    ) -> Result<()> {
        let Server { listener, local_addr, state, extra_routes } = self;
        tracing::info!(address = %local_addr, "listening");

        let (open_failed_tx, open_failed_rx) = oneshot::channel::<String>();
        let opener_state = state.clone();
        let opening = tokio::task::spawn_blocking(move || {
            let mut registry = Registry::default();
            open_storage(&mut registry).map(|storage| (storage, registry))
        });
        let opened = tokio::spawn(async move {
            let failure = match opening.await {
                Ok(Ok((storage, registry))) => {
                    opener_state.set_storage(storage, registry);
                    tracing::info!("storage opened, server is ready");
                    return Ok(());
                }
                Ok(Err(message)) => message,
                Err(error) => format!("storage opener panicked: {error}"),
            };
            // The receiver is gone only when the server has already stopped.
            let _ = open_failed_tx.send(failure.clone());
            Err(failure)
        });

        let open_failure = Arc::new(Mutex::new(None::<String>));
        let failure_slot = open_failure.clone();
        let quit_state = state.clone();
        let stop = async move {
            let open_failed = async {
                match open_failed_rx.await {
                    Ok(message) => message,
                    // The opener succeeded: only `shutdown` can stop the server.
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                () = shutdown => tracing::info!("shutdown requested, finishing in-flight requests"),
                () = quit_state.quit_requested() => tracing::info!("shutdown requested through /-/quit, finishing in-flight requests"),
                message = open_failed => {
                    tracing::error!(error = %message, "cannot open storage, shutting down");
                    *failure_slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(message);
                }
            }
        };
        axum::serve(listener, api::router(state, extra_routes))
            .with_graceful_shutdown(stop)
            .await
            .map_err(|source| Error::Serve { source })?;

        let failure = open_failure.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(message) = failure {
            return Err(Error::OpenStorage { message });
        }
        // Stopping while the store opens: let it finish, so that the hook can close it cleanly.
        if !opened.is_finished() {
            tracing::info!("waiting for storage to finish opening before closing it");
        }
        match opened.await {
            Ok(Ok(())) => {}
            Ok(Err(message)) => return Err(Error::OpenStorage { message }),
            Err(error) => return Err(Error::OpenStorage { message: format!("storage opener task failed: {error}") }),
        }
        tokio::task::spawn_blocking(on_shutdown)
            .await
            .map_err(|error| Error::Shutdown { message: format!("shutdown hook panicked: {error}") })?
            .map_err(|message| Error::Shutdown { message })?;
        tracing::info!("server stopped");
        Ok(())
    }
}

/// Completes on the first SIGINT or SIGTERM (Ctrl-C only on non-Unix platforms).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "received signal"),
                    _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "received signal"),
                }
                return;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot install SIGTERM handler, only SIGINT stops the server")
            }
        }
    }
    if let Err(error) = tokio::signal::ctrl_c().await {
        tracing::warn!(error = %error, "cannot install SIGINT handler");
        std::future::pending::<()>().await;
    }
}
