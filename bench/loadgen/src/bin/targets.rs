//! Scrape targets for `bench/scrape.sh`: `--targets` HTTP servers on consecutive loopback ports,
//! each exposing `--series` series in the Prometheus text format at `/metrics`, so that every
//! server under test scrapes exactly the same pages.
//!
//! A page has ten metric families (with HELP and TYPE) of counters, two-decimal gauges and
//! constants, 8 labels per series; values are a function of the series and the time, so
//! consecutive scrapes change the way real exporters' values change.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Parser;

/// Command line of the target servers.
#[derive(Debug, Parser)]
struct Args {
    /// Number of targets (one port each).
    #[arg(long, default_value_t = 50)]
    targets: u16,
    /// Series per target.
    #[arg(long, default_value_t = 1_000)]
    series: usize,
    /// The first port; target `i` listens on `port + i`.
    #[arg(long, default_value_t = 19_200)]
    port: u16,
}

/// What one target serves.
struct Target {
    index: usize,
    series: usize,
    started: Instant,
}

const FAMILIES: [(&str, &str); 10] = [
    ("bench_http_requests_total", "counter"),
    ("bench_http_request_bytes_total", "counter"),
    ("bench_queue_depth", "gauge"),
    ("bench_cpu_seconds_total", "counter"),
    ("bench_memory_bytes", "gauge"),
    ("bench_temperature_celsius", "gauge"),
    ("bench_build_info", "gauge"),
    ("bench_errors_total", "counter"),
    ("bench_connections", "gauge"),
    ("bench_config_reloads_total", "counter"),
];

impl Target {
    fn page(&self) -> String {
        let seconds = self.started.elapsed().as_secs_f64();
        let per_family = self.series.div_ceil(FAMILIES.len());
        let mut page = String::with_capacity(self.series * 120);
        let mut written = 0;
        for (family_index, (name, kind)) in FAMILIES.iter().enumerate() {
            let _ = writeln!(page, "# HELP {name} Benchmark series of kind {kind}.\n# TYPE {name} {kind}");
            for i in 0..per_family {
                if written == self.series {
                    break;
                }
                written += 1;
                let seed = (self.index * 7_919 + family_index * 104_729 + i * 31) as f64;
                let value = match (*kind, family_index) {
                    (_, 6) => 1.0,
                    ("counter", _) => (seed % 1_000.0) * 10.0 + (seconds * (1.0 + seed % 17.0)).floor(),
                    _ => (((seed % 500.0) + 10.0 * (seconds / 30.0 + seed).sin()) * 100.0).round() / 100.0,
                };
                let _ = writeln!(
                    page,
                    "{name}{{cluster=\"bench\",namespace=\"ns-{}\",pod=\"pod-{}\",container=\"app\",path=\"/api/v{}/items\",method=\"{}\",code=\"{}\",shard=\"{i}\"}} {value}",
                    self.index % 5,
                    self.index,
                    i % 3,
                    ["GET", "POST", "PUT", "DELETE"][i % 4],
                    [200, 201, 404, 500][(i / 4) % 4],
                );
            }
        }
        page
    }
}

async fn metrics(State(target): State<Arc<Target>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], target.page())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    let mut servers = Vec::new();
    for index in 0..args.targets {
        let target = Arc::new(Target { index: usize::from(index), series: args.series, started });
        let address = SocketAddr::from(([127, 0, 0, 1], args.port + index));
        let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("binding {address}"))?;
        let app = Router::new().route("/metrics", get(metrics)).with_state(target);
        servers.push(tokio::spawn(async move { axum::serve(listener, app).await }));
    }
    eprintln!(
        "serving {} targets of {} series on ports {}..{}",
        args.targets,
        args.series,
        args.port,
        args.port + args.targets - 1
    );
    for server in servers {
        server.await.context("target task")?.context("serving")?;
    }
    Ok(())
}
