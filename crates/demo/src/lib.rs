//! `panoptes demo`'s simulated Istio Bookinfo mesh. Each workload, istiod, the kubelet's cAdvisor
//! (`platform`) and a node collector serve their metrics on their own HTTP listener on
//! 127.0.0.1, so the server scrapes them through its normal scrape path; [`Demo::write_files`] writes the scrape configuration, the alert rules and
//! the default dashboards for it; [`Demo::router`] serves the control API under `/api/demo/`.
//! Never writes to storage itself. See `docs/demo.md`.
//!
//! The workload model (`simulation`) produces one [`RequestEvent`] per hop and hands it to
//! [`TrafficObserver`]s; the Istio metrics are the first observer, access logs and spans will
//! be others.

mod api;
mod control;
pub mod dashboards;
mod error;
mod files;
mod istio;
mod platform;
mod rng;
mod simulation;
mod topology;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use panoptes_node::{NodeCollector, NodeOptions};
use parking_lot::Mutex;

pub use control::{Fault, ReviewsWeights, TrafficControl};
pub use error::{Error, Result};
pub use files::DemoFiles;
pub use istio::IstioMetrics;
pub use simulation::{RequestEvent, Simulation, TICK_MS, TrafficObserver};
pub use topology::{APP_NAMESPACE, REVIEWS_VERSIONS, WORKLOADS, Workload, workload_index};

/// The path under which each simulated sidecar serves its metrics, as Istio's merged metrics
/// endpoint (`:15020/stats/prometheus`).
pub const METRICS_PATH: &str = "/stats/prometheus";

/// The content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How the demo starts.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Seed of the traffic's random numbers.
    pub seed: u64,
    /// User requests per second entering at the ingress gateway.
    pub requests_per_second: f64,
    /// The initial traffic control (weights, faults).
    pub control: TrafficControl,
    /// Also serves this machine's node metrics (the `node` job).
    pub node_metrics: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { seed: 1, requests_per_second: 20.0, control: TrafficControl::default(), node_metrics: true }
    }
}

/// One scrape target of the demo: a job with one loopback endpoint and the labels Kubernetes
/// pod discovery with Istio's usual relabelling would give it.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The scrape job's name.
    pub job: String,
    /// The listener.
    pub address: SocketAddr,
    /// The metrics path.
    pub metrics_path: String,
    /// Target labels (`namespace`, `pod`, `app`, `version`).
    pub labels: Vec<(String, String)>,
}

/// The simulation, its outputs and its control, behind one lock.
pub(crate) struct Mesh {
    pub(crate) simulation: Simulation,
    pub(crate) istio: IstioMetrics,
    pub(crate) platform: platform::Platform,
    pub(crate) control: TrafficControl,
}

impl Mesh {
    /// Simulates up to now.
    fn advance(&mut self) {
        let Mesh { simulation, istio, platform, control } = self;
        simulation.advance_to(now_ms(), control, &mut [istio, platform]);
    }
}

pub(crate) type MeshRef = Arc<Mutex<Mesh>>;

/// The running demo: its listeners and the shared mesh.
pub struct Demo {
    mesh: MeshRef,
    seed: u64,
    targets: Vec<Target>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Demo").field("targets", &self.targets).finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

impl Demo {
    /// Validates the options, binds one loopback listener per workload (and the node collector)
    /// and starts serving them on the current runtime.
    ///
    /// # Errors
    ///
    /// `Error::Invalid` for bad options, `Error::Bind` when a listener cannot be bound.
    pub async fn start(options: DemoOptions) -> Result<Self> {
        options.control.reviews.validate()?;
        for (workload, fault) in &options.control.faults {
            workload_index(workload).ok_or_else(|| Error::UnknownWorkload(workload.clone()))?;
            fault.validate()?;
        }
        if !(options.requests_per_second > 0.0 && options.requests_per_second <= 10_000.0) {
            return Err(Error::Invalid(format!(
                "requests per second {} must be within (0, 10000]",
                options.requests_per_second
            )));
        }
        let start_ms = now_ms();
        let mesh = Arc::new(Mutex::new(Mesh {
            simulation: Simulation::new(options.seed, options.requests_per_second, start_ms),
            istio: IstioMetrics::default(),
            platform: platform::Platform::new(start_ms),
            control: options.control,
        }));
        let mut targets = Vec::new();
        let mut tasks = Vec::new();
        for (index, workload) in WORKLOADS.iter().enumerate() {
            let router = Router::new()
                .route(METRICS_PATH, get(workload_metrics))
                .route("/metrics", get(workload_metrics))
                .with_state((mesh.clone(), index));
            let (address, task) = serve_loopback(workload.name, router).await?;
            tasks.push(task);
            targets.push(Target {
                job: workload.name.to_owned(),
                address,
                metrics_path: METRICS_PATH.to_owned(),
                labels: vec![
                    ("namespace".to_owned(), workload.namespace.to_owned()),
                    ("pod".to_owned(), workload.pod.to_owned()),
                    ("app".to_owned(), workload.app.to_owned()),
                    ("version".to_owned(), workload.version.to_owned()),
                ],
            });
        }
        // istiod's monitoring port and the kubelet's cAdvisor endpoint.
        let router = Router::new().route("/metrics", get(istiod_metrics)).with_state(mesh.clone());
        let (address, task) = serve_loopback("istiod", router).await?;
        tasks.push(task);
        targets.push(Target {
            job: "istiod".to_owned(),
            address,
            metrics_path: "/metrics".to_owned(),
            labels: vec![
                ("namespace".to_owned(), "istio-system".to_owned()),
                ("pod".to_owned(), platform::ISTIOD_POD.to_owned()),
                ("app".to_owned(), "istiod".to_owned()),
                ("istio".to_owned(), "pilot".to_owned()),
            ],
        });
        let router = Router::new().route("/metrics/cadvisor", get(cadvisor_metrics)).with_state(mesh.clone());
        let (address, task) = serve_loopback("kubelet", router).await?;
        tasks.push(task);
        targets.push(Target {
            job: "kubernetes-cadvisor".to_owned(),
            address,
            metrics_path: "/metrics/cadvisor".to_owned(),
            labels: vec![("node".to_owned(), platform::NODE.to_owned())],
        });
        if options.node_metrics {
            match NodeCollector::try_new(NodeOptions::default()) {
                Ok(collector) => {
                    let router = Router::new().route("/metrics", get(node_metrics)).with_state(Arc::new(collector));
                    let (address, task) = serve_loopback("node", router).await?;
                    tasks.push(task);
                    targets.push(Target {
                        job: "node".to_owned(),
                        address,
                        metrics_path: "/metrics".to_owned(),
                        labels: Vec::new(),
                    });
                }
                Err(error) => {
                    tracing::warn!(error = %error, "node collector unavailable; the demo runs without the node job")
                }
            }
        }
        tracing::info!(workloads = WORKLOADS.len(), seed = options.seed, "demo mesh serving metrics on loopback");
        Ok(Self { mesh, seed: options.seed, targets, tasks })
    }

    /// Returns the scrape targets, one job each.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Returns the control API: `GET /api/demo/state`, `PUT /api/demo/routes/reviews`,
    /// `PUT|DELETE /api/demo/faults/{workload}`, `PUT /api/demo/workloads/{workload}`.
    pub fn router<S>(&self) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        api::router(api::ApiState { mesh: self.mesh.clone(), seed: self.seed, targets: Arc::new(self.targets.clone()) })
    }

    /// Returns the current traffic control.
    pub fn control(&self) -> TrafficControl {
        self.mesh.lock().control.clone()
    }

    /// Writes the scrape configuration, the alert rules and the default dashboards under `dir`.
    ///
    /// # Errors
    ///
    /// `Error::Write` naming the file.
    pub fn write_files(&self, dir: &std::path::Path, scrape_interval: Duration) -> Result<DemoFiles> {
        files::write(dir, &self.targets, scrape_interval)
    }

    /// Stops the listeners.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

async fn serve_loopback(name: &str, router: Router) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let bind_error = |source| Error::Bind { workload: name.to_owned(), source };
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await.map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    let name = name.to_owned();
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(workload = %name, error = %error, "demo workload listener failed");
        }
    });
    Ok((address, task))
}

async fn workload_metrics(State((mesh, index)): State<(MeshRef, usize)>) -> Response {
    let page = {
        let mut mesh = mesh.lock();
        if mesh.control.is_down(WORKLOADS[index].name) {
            return (StatusCode::SERVICE_UNAVAILABLE, "workload taken down through /api/demo\n").into_response();
        }
        mesh.advance();
        let mut page = mesh.istio.render(index);
        mesh.platform.render_sidecar(index, &mut page);
        page
    };
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], page).into_response()
}

async fn istiod_metrics(State(mesh): State<MeshRef>) -> Response {
    let page = {
        let mut mesh = mesh.lock();
        mesh.advance();
        mesh.platform.render_istiod(now_ms())
    };
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], page).into_response()
}

async fn cadvisor_metrics(State(mesh): State<MeshRef>) -> Response {
    let page = {
        let mut mesh = mesh.lock();
        mesh.advance();
        mesh.platform.render_cadvisor(now_ms())
    };
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], page).into_response()
}

async fn node_metrics(State(collector): State<Arc<NodeCollector>>) -> Response {
    match tokio::task::spawn_blocking(move || collector.gather().render()).await {
        Ok(page) => ([(header::CONTENT_TYPE, TEXT_FORMAT)], page).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "gathering node metrics failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "gathering node metrics failed\n").into_response()
        }
    }
}
