//! `panoptes agent`: the node collector served on `/metrics` like node-exporter, with
//! `/-/healthy`; gzip when the scraper accepts it; with `--remote-write.url` also pushes its
//! samples through an on-disk queue (`queue`, `remote_write`); stops on SIGINT/SIGTERM.

mod queue;
mod remote_write;

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use panoptes_node::{NodeCollector, NodeOptions, Paths};
use remote_write::{RemoteWriteOptions, RemoteWriteStats};

use crate::cli::AgentArgs;
use crate::logging;

/// The content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Runs the agent until SIGINT or SIGTERM.
///
/// # Errors
///
/// Returns an error when logging, the collector options, the runtime or the listener cannot be
/// set up.
pub(crate) fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    logging::init(args.log_level, args.log_format)?;
    let collector = NodeCollector::try_new(node_options(&args)).context("invalid collector options")?;
    let enabled: Vec<&str> = collector.enabled().iter().map(|name| name.as_str()).collect();
    tracing::info!(collectors = %enabled.join(","), "enabled collectors");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, Arc::new(collector)))?;
    Ok(ExitCode::SUCCESS)
}

/// What the handlers share.
#[derive(Clone)]
struct AgentState {
    collector: Arc<NodeCollector>,
    remote_write: Option<Arc<RemoteWriteStats>>,
}

fn remote_write_options(args: &AgentArgs, url: &str) -> RemoteWriteOptions {
    let mut labels = args.remote_write_labels.clone();
    let hostname = kernel_hostname();
    for (name, value) in [("job", "node".to_owned()), ("instance", hostname)] {
        if !labels.iter().any(|(existing, _)| existing == name) {
            labels.push((name.to_owned(), value));
        }
    }
    RemoteWriteOptions {
        url: url.to_owned(),
        interval: args.remote_write_interval,
        queue_dir: args.remote_write_queue_dir.clone(),
        max_segments: args.remote_write_max_queued,
        labels,
    }
}

/// The host name as the kernel reports it (`/proc/sys/kernel/hostname`, which is what uname
/// gives), or `localhost`.
fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn node_options(args: &AgentArgs) -> NodeOptions {
    NodeOptions {
        paths: Paths {
            procfs: args.procfs.clone(),
            sysfs: args.sysfs.clone(),
            rootfs: args.rootfs.clone(),
            udev_data: args.udev_data.clone(),
        },
        enabled: args.collectors.enabled.clone(),
        filesystem_mount_points_exclude: args.mount_points_exclude.clone(),
        filesystem_fs_types_exclude: args.fs_types_exclude.clone(),
        filesystem_mount_timeout: args.mount_timeout,
        diskstats_device_exclude: args.diskstats_device_exclude.clone(),
        netdev_device_exclude: args.netdev_device_exclude.clone(),
        netstat_fields: args.netstat_fields.clone(),
        vmstat_fields: args.vmstat_fields.clone(),
    }
}

async fn serve(args: AgentArgs, collector: Arc<NodeCollector>) -> anyhow::Result<()> {
    let remote_write = match &args.remote_write_url {
        Some(url) => {
            let stats = Arc::new(RemoteWriteStats::default());
            remote_write::start(remote_write_options(&args, url), collector.clone(), stats.clone())?;
            Some(stats)
        }
        None => None,
    };
    let state = AgentState { collector, remote_write };
    let router = Router::new()
        .route(&args.telemetry_path, get(metrics))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/", get(landing_page))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(args.listen_address)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen_address))?;
    tracing::info!(address = %args.listen_address, path = %args.telemetry_path, "agent listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(panoptes_server::shutdown_signal())
        .await
        .context("serving HTTP")?;
    tracing::info!("agent stopped");
    Ok(())
}

/// Gathers on a blocking thread (collectors read files) and answers the page, gzipped when
/// the request accepts gzip.
async fn metrics(State(state): State<AgentState>, headers: HeaderMap) -> Response {
    let gathered = tokio::task::spawn_blocking(move || {
        let mut set = state.collector.gather();
        if let Some(stats) = &state.remote_write {
            stats.add_to(&mut set);
        }
        set.render()
    });
    let page = match gathered.await {
        Ok(page) => page,
        Err(error) => {
            tracing::error!(error = %error, "gathering metrics failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "gathering metrics failed\n").into_response();
        }
    };
    let mut response = if accepts_gzip(&headers) {
        let mut encoder =
            flate2::write::GzEncoder::new(Vec::with_capacity(page.len() / 4), flate2::Compression::fast());
        match encoder.write_all(page.as_bytes()).and_then(|()| encoder.finish()) {
            Ok(compressed) => {
                let mut response = Response::new(Body::from(compressed));
                response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response
            }
            Err(error) => {
                tracing::warn!(error = %error, "gzip failed, answering uncompressed");
                Response::new(Body::from(page))
            }
        }
    } else {
        Response::new(Body::from(page))
    };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
    response
}

/// Returns whether `Accept-Encoding` lists gzip without `q=0`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|value| value.to_str().ok()).any(|value| {
        value.split(',').any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|parameter| {
                parameter.strip_prefix("q=").and_then(|q| q.parse::<f64>().ok()).is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
    })
}

async fn landing_page() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        "<html><head><title>Panoptes agent</title></head><body><h1>Panoptes agent</h1>\
         <p><a href=\"/metrics\">Metrics</a></p></body></html>\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_gzip(accept: &str, expected: bool) {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(accept).unwrap());
        assert_eq!(accepts_gzip(&headers), expected, "{accept}");
    }

    #[test]
    fn gzip_is_used_only_when_accepted() {
        check_gzip("gzip", true);
        check_gzip("deflate, GZIP;q=0.5", true);
        check_gzip("*", true);
        check_gzip("gzip;q=0", false);
        check_gzip("identity", false);
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
