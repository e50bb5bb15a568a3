//! What the cluster around the mesh reports, so that Istio's control-plane and performance
//! dashboards have data too:
//!
//! - the kubelet's cAdvisor (`container_cpu_usage_seconds_total`,
//!   `container_memory_working_set_bytes`, `container_fs_usage_bytes`) for every container of
//!   the Bookinfo pods, the gateway and istiod. CPU follows the traffic: each request costs its
//!   sidecars and its application container CPU time;
//! - istiod (`pilot_*`, `galley_*`, `sidecar_injection_*`, `istio_build`, the Go runtime and
//!   process families). Endpoint events arrive periodically; every change made through the
//!   control API is a VirtualService or DestinationRule update that istiod validates and pushes
//!   to every proxy;
//! - the sidecars' own Envoy statistics the dashboards read (`istio_build`, the xDS connection,
//!   the Wasm runtime gauges).
//!
//! Values are deterministic functions of the traffic seen and of the time since the start.
//! Ambient mode (ztunnel) is not simulated.

use std::fmt::Write as _;

use crate::istio::{Histogram, format_value, render_histogram};
use crate::simulation::{RequestEvent, TrafficObserver};
use crate::topology::WORKLOADS;

/// The Istio release the simulated control plane and proxies report.
pub(crate) const ISTIO_TAG: &str = "1.24.2";

/// The istiod pod.
pub(crate) const ISTIOD_POD: &str = "istiod-7d4c9f8b6-m2xqs";

/// The node every pod runs on.
pub(crate) const NODE: &str = "bookinfo-node-1";

/// CPU seconds a sidecar spends per request it proxies (about 0.5 vCPU per 1,000 requests per
/// second, Istio's published figure).
const PROXY_CPU_PER_REQUEST: f64 = 0.000_5;
/// CPU seconds an application spends per request, per millisecond of its own latency.
const APP_CPU_PER_LATENCY_MS: f64 = 0.000_12;
/// Idle CPU use of a sidecar and of an application container, in vCPU.
const PROXY_IDLE_VCPU: f64 = 0.003;
const APP_IDLE_VCPU: f64 = 0.002;
/// Idle CPU of istiod's discovery container and the CPU seconds one push to one proxy costs.
const ISTIOD_IDLE_VCPU: f64 = 0.008;
const ISTIOD_CPU_PER_PUSH: f64 = 0.004;

/// An Endpoints change (a readiness flip somewhere in the cluster) every this many seconds.
const ENDPOINT_EVENT_EVERY_S: f64 = 20.0;

/// Buckets of `pilot_xds_push_time` (seconds) and `pilot_xds_config_size_bytes`, as istiod
/// declares them.
const PUSH_TIME_BUCKETS: [f64; 8] = [0.01, 0.1, 1.0, 3.0, 5.0, 10.0, 20.0, 30.0];
const CONFIG_SIZE_BUCKETS: [f64; 6] = [1.0, 10_000.0, 1_000_000.0, 4_000_000.0, 10_000_000.0, 40_000_000.0];

/// The xDS types istiod pushes, with the size of one proxy's configuration of that type.
const XDS_TYPES: [(&str, f64); 4] = [("cds", 14_800.0), ("eds", 3_900.0), ("lds", 22_500.0), ("rds", 6_100.0)];

/// One pushed xDS type's counters.
#[derive(Debug, Clone, Default)]
struct XdsPushes {
    pushes: u64,
    time: Histogram<8>,
    size: Histogram<6>,
}

/// The cluster around the mesh: cAdvisor's and istiod's view.
#[derive(Debug, Clone)]
pub(crate) struct Platform {
    start_ms: i64,
    /// Requests each workload's sidecar proxied (as a source or a destination).
    proxied: [u64; WORKLOADS.len()],
    /// CPU seconds each workload's application spent on requests.
    app_cpu: [f64; WORKLOADS.len()],
    virtual_service_updates: u64,
    /// Endpoint changes made through the control API (a workload taken down or back up).
    endpoint_changes: u64,
    validation_failures: u64,
    /// Endpoint events already pushed, so that the push counters follow the time.
    endpoint_events_pushed: u64,
    xds: [XdsPushes; 4],
}

impl Platform {
    pub(crate) fn new(start_ms: i64) -> Self {
        let mut platform = Self {
            start_ms,
            proxied: [0; WORKLOADS.len()],
            app_cpu: [0.0; WORKLOADS.len()],
            virtual_service_updates: 0,
            endpoint_changes: 0,
            validation_failures: 0,
            endpoint_events_pushed: 0,
            xds: Default::default(),
        };
        // Every proxy connects and receives its whole configuration once.
        platform.push(&[0, 1, 2, 3], 0);
        platform
    }

    /// Records a VirtualService change accepted through the control API (a weight split or a
    /// fault): istiod validates it and pushes clusters, listeners and routes to every proxy.
    pub(crate) fn virtual_service_updated(&mut self) {
        self.virtual_service_updates += 1;
        self.push(&[0, 2, 3], self.virtual_service_updates);
    }

    /// Records a workload's endpoint leaving or joining its Service: an EDS push to every proxy.
    pub(crate) fn endpoints_changed(&mut self) {
        self.endpoint_changes += 1;
        self.push(&[1], self.endpoint_changes);
    }

    /// Records a change refused by validation (a bad control API body).
    pub(crate) fn validation_failed(&mut self) {
        self.validation_failures += 1;
    }

    /// Pushes the xDS types at `types` (indexes of `XDS_TYPES`) to every proxy.
    fn push(&mut self, types: &[usize], sequence: u64) {
        for &index in types {
            let size = XDS_TYPES[index].1;
            let xds = &mut self.xds[index];
            for proxy in 0..WORKLOADS.len() {
                // 2 to 14 ms per push, varying with the proxy and the push.
                let spread = ((proxy as u64 * 7 + sequence * 3 + index as u64) % 13) as f64;
                xds.time.observe(&PUSH_TIME_BUCKETS, 0.002 + spread * 0.001);
                xds.size.observe(&CONFIG_SIZE_BUCKETS, size * (1.0 + spread / 100.0));
                xds.pushes += 1;
            }
        }
    }

    /// Catches up with the endpoint events due by `now_ms`: each is an EDS push to every proxy.
    fn catch_up(&mut self, now_ms: i64) {
        let due = self.endpoint_events(now_ms);
        while self.endpoint_events_pushed < due {
            self.endpoint_events_pushed += 1;
            self.push(&[1], self.endpoint_events_pushed);
        }
    }

    /// The periodic endpoint events due by `now_ms`.
    fn endpoint_events(&self, now_ms: i64) -> u64 {
        (self.elapsed_s(now_ms) / ENDPOINT_EVENT_EVERY_S) as u64
    }

    fn elapsed_s(&self, now_ms: i64) -> f64 {
        ((now_ms - self.start_ms).max(0) as f64) / 1000.0
    }

    /// Returns the kubelet's cAdvisor page at `now_ms`.
    pub(crate) fn render_cadvisor(&mut self, now_ms: i64) -> String {
        self.catch_up(now_ms);
        let elapsed = self.elapsed_s(now_ms);
        let pushes: u64 = self.xds.iter().map(|xds| xds.pushes).sum();
        let mut containers = Vec::new();
        for (index, workload) in WORKLOADS.iter().enumerate() {
            let proxy_cpu = PROXY_IDLE_VCPU * elapsed + PROXY_CPU_PER_REQUEST * self.proxied[index] as f64;
            // Envoy's working set grows with the connections and stats it holds, then levels off.
            let warm = 1.0 - (-(self.proxied[index] as f64) / 20_000.0).exp();
            let proxy_memory = 38.0 * MIB + 14.0 * MIB * warm + wobble(elapsed, index) * MIB;
            let image = format!("docker.io/istio/proxyv2:{ISTIO_TAG}");
            containers.push(Container::new(
                workload.namespace,
                workload.pod,
                "istio-proxy",
                image,
                proxy_cpu,
                proxy_memory,
                36_864.0,
            ));
            if workload.is_gateway() {
                continue;
            }
            let app_cpu = APP_IDLE_VCPU * elapsed + self.app_cpu[index];
            let (base, image) = match workload.app {
                "productpage" => (62.0, "docker.io/istio/examples-bookinfo-productpage-v1:1.20.2"),
                "details" => (34.0, "docker.io/istio/examples-bookinfo-details-v1:1.20.2"),
                "reviews" => (176.0, "docker.io/istio/examples-bookinfo-reviews-v1:1.20.2"),
                _ => (29.0, "docker.io/istio/examples-bookinfo-ratings-v1:1.20.2"),
            };
            let memory = base * MIB + 3.0 * MIB * warm + wobble(elapsed, index + 7) * MIB;
            containers.push(Container::new(
                workload.namespace,
                workload.pod,
                workload.app,
                image.to_owned(),
                app_cpu,
                memory,
                4_194_304.0,
            ));
        }
        let istiod_cpu = ISTIOD_IDLE_VCPU * elapsed + ISTIOD_CPU_PER_PUSH * pushes as f64;
        let istiod_memory = 92.0 * MIB + wobble(elapsed, 99) * 4.0 * MIB;
        containers.push(Container::new(
            "istio-system",
            ISTIOD_POD,
            "discovery",
            format!("docker.io/istio/pilot:{ISTIO_TAG}"),
            istiod_cpu,
            istiod_memory,
            12_288.0,
        ));

        let mut out = String::with_capacity(containers.len() * 900);
        let families: [Family; 3] = [
            ("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", |c| {
                c.cpu_seconds
            }),
            ("container_memory_working_set_bytes", "gauge", "Current working set in bytes.", |c| c.memory_bytes),
            (
                "container_fs_usage_bytes",
                "gauge",
                "Number of bytes that are consumed by the container on this filesystem.",
                |c| c.fs_bytes,
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for container in &containers {
                let device = if name == "container_fs_usage_bytes" { ",device=\"/dev/vda1\"" } else { "" };
                let _ = writeln!(
                    out,
                    "{name}{{container=\"{}\"{device},id=\"{}\",image=\"{}\",name=\"{}\",namespace=\"{}\",pod=\"{}\"}} {}",
                    container.name,
                    container.id,
                    container.image,
                    container.runtime_name,
                    container.namespace,
                    container.pod,
                    format_value(round(value(container))),
                );
            }
        }
        out
    }

    /// Returns istiod's metrics page (its monitoring port, `:15014/metrics`) at `now_ms`.
    pub(crate) fn render_istiod(&mut self, now_ms: i64) -> String {
        self.catch_up(now_ms);
        let elapsed = self.elapsed_s(now_ms);
        let endpoint_events = self.endpoint_events(now_ms) + self.endpoint_changes;
        let config_changes = self.virtual_service_updates;
        let proxies = WORKLOADS.len() as u64;
        let mut out = String::with_capacity(8192);
        let counter = |out: &mut String, name: &str, help: &str, series: &[(&str, f64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (labels, value) in series {
                let _ = writeln!(out, "{name}{labels} {}", format_value(round(*value)));
            }
        };
        let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}", format_value(round(value)));
        };
        let _ = writeln!(
            out,
            "# HELP istio_build Istio component build info\n# TYPE istio_build gauge\nistio_build{{component=\"pilot\",tag=\"{ISTIO_TAG}\"}} 1"
        );
        let _ = writeln!(
            out,
            "# HELP pilot_xds Number of endpoints connected to this pilot using XDS.\n# TYPE pilot_xds gauge\npilot_xds{{version=\"{ISTIO_TAG}\"}} {proxies}"
        );
        let pushes: Vec<(String, f64)> = XDS_TYPES
            .iter()
            .zip(&self.xds)
            .map(|((kind, _), xds)| (format!("{{type=\"{kind}\"}}"), xds.pushes as f64))
            .collect();
        counter(
            &mut out,
            "pilot_xds_pushes",
            "Pilot build and send errors for lds, rds, cds and eds.",
            &pushes.iter().map(|(labels, value)| (labels.as_str(), *value)).collect::<Vec<_>>(),
        );
        let _ = writeln!(
            out,
            "# HELP pilot_xds_push_time Total time in seconds Pilot takes to push lds, rds, cds and eds.\n# TYPE pilot_xds_push_time histogram"
        );
        for ((kind, _), xds) in XDS_TYPES.iter().zip(&self.xds) {
            render_histogram(
                &mut out,
                "pilot_xds_push_time",
                &format!("type=\"{kind}\""),
                &PUSH_TIME_BUCKETS,
                &xds.time,
                xds.pushes,
            );
        }
        let _ = writeln!(
            out,
            "# HELP pilot_xds_config_size_bytes Distribution of configuration sizes pushed to clients\n# TYPE pilot_xds_config_size_bytes histogram"
        );
        for ((kind, _), xds) in XDS_TYPES.iter().zip(&self.xds) {
            render_histogram(
                &mut out,
                "pilot_xds_config_size_bytes",
                &format!("type=\"{kind}\""),
                &CONFIG_SIZE_BUCKETS,
                &xds.size,
                xds.pushes,
            );
        }
        counter(
            &mut out,
            "pilot_push_triggers",
            "Total number of times a push was triggered, labeled by reason for the push.",
            &[
                ("{type=\"config\"}", config_changes as f64),
                ("{type=\"endpoint\"}", endpoint_events as f64),
                ("{type=\"proxy\"}", proxies as f64),
            ],
        );
        let pods = proxies + 1;
        counter(
            &mut out,
            "pilot_k8s_reg_events",
            "Events from k8s registry.",
            &[
                ("{event=\"add\",type=\"Pods\"}", pods as f64),
                ("{event=\"add\",type=\"Services\"}", 6.0),
                ("{event=\"add\",type=\"EndpointSlice\"}", 6.0),
                ("{event=\"update\",type=\"EndpointSlice\"}", endpoint_events as f64),
            ],
        );
        counter(
            &mut out,
            "pilot_k8s_cfg_events",
            "Events from k8s config.",
            &[
                ("{event=\"add\",type=\"DestinationRule\"}", 4.0),
                ("{event=\"add\",type=\"Gateway\"}", 1.0),
                ("{event=\"add\",type=\"VirtualService\"}", 2.0),
                ("{event=\"update\",type=\"VirtualService\"}", self.virtual_service_updates as f64),
            ],
        );
        counter(
            &mut out,
            "galley_validation_passed",
            "Resource is valid.",
            &[
                (
                    "{group=\"networking.istio.io\",resource=\"virtualservices\",version=\"v1\"}",
                    (2 + self.virtual_service_updates) as f64,
                ),
                ("{group=\"networking.istio.io\",resource=\"destinationrules\",version=\"v1\"}", 4.0),
            ],
        );
        counter(
            &mut out,
            "galley_validation_failed",
            "Resource validation failed.",
            &[(
                "{group=\"networking.istio.io\",reason=\"invalid_resource\",resource=\"virtualservices\",version=\"v1\"}",
                self.validation_failures as f64,
            )],
        );
        let injected = WORKLOADS.iter().filter(|workload| !workload.is_gateway()).count();
        counter(
            &mut out,
            "sidecar_injection_requests_total",
            "Total number of sidecar injection requests.",
            &[("", injected as f64)],
        );
        counter(
            &mut out,
            "sidecar_injection_success_total",
            "Total number of successful sidecar injection requests.",
            &[("", injected as f64)],
        );
        counter(
            &mut out,
            "sidecar_injection_failure_total",
            "Total number of failed sidecar injection requests.",
            &[("", 0.0)],
        );

        // The Go runtime and the process, as client_golang's collectors report them.
        let pushes: u64 = self.xds.iter().map(|xds| xds.pushes).sum();
        let heap = 58.0 * MIB + 9.0 * MIB * (0.5 + 0.5 * (elapsed / 37.0).sin()) + pushes as f64 * 2_000.0;
        gauge(
            &mut out,
            "go_goroutines",
            "Number of goroutines that currently exist.",
            640.0 + 12.0 * proxies as f64 + (wobble(elapsed, 5) * 8.0).round(),
        );
        gauge(&mut out, "go_memstats_alloc_bytes", "Number of bytes allocated and still in use.", heap);
        counter(
            &mut out,
            "go_memstats_alloc_bytes_total",
            "Total number of bytes allocated, even if freed.",
            &[("", 2.1e6 * elapsed + 40_000.0 * pushes as f64)],
        );
        counter(
            &mut out,
            "go_memstats_mallocs_total",
            "Total number of mallocs.",
            &[("", 21_000.0 * elapsed + 350.0 * pushes as f64)],
        );
        gauge(&mut out, "go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", heap);
        gauge(&mut out, "go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", heap + 6.0 * MIB);
        gauge(&mut out, "go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", 96.0 * MIB);
        gauge(&mut out, "go_memstats_stack_inuse_bytes", "Number of bytes in use by the stack allocator.", 4.5 * MIB);
        counter(
            &mut out,
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            &[("", ISTIOD_IDLE_VCPU * elapsed + ISTIOD_CPU_PER_PUSH * pushes as f64)],
        );
        gauge(&mut out, "process_open_fds", "Number of open file descriptors.", 38.0 + 2.0 * proxies as f64);
        gauge(&mut out, "process_resident_memory_bytes", "Resident memory size in bytes.", heap + 34.0 * MIB);
        gauge(&mut out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", 1.36e9);
        out
    }

    /// Returns the Envoy statistics a sidecar serves beside Istio's metrics.
    pub(crate) fn render_sidecar(&self, workload: usize, out: &mut String) {
        let _ = writeln!(out, "# TYPE istio_build gauge\nistio_build{{component=\"proxy\",tag=\"{ISTIO_TAG}\"}} 1");
        let _ = writeln!(
            out,
            "# TYPE envoy_cluster_upstream_cx_active gauge\nenvoy_cluster_upstream_cx_active{{cluster_name=\"xds-grpc\"}} 1"
        );
        // Istio's telemetry filters run in Envoy's null (compiled-in) Wasm runtime: one VM per
        // worker thread and filter; no module is fetched remotely.
        let null_vms = if WORKLOADS[workload].is_gateway() { 4 } else { 8 };
        for (name, kind, value) in [
            ("envoy_wasm_envoy_wasm_runtime_null_active", "gauge", null_vms),
            ("envoy_wasm_envoy_wasm_runtime_null_created", "counter", null_vms),
            ("envoy_wasm_envoy_wasm_runtime_v8_active", "gauge", 0),
            ("envoy_wasm_envoy_wasm_runtime_v8_created", "counter", 0),
            ("envoy_wasm_remote_load_cache_entries", "gauge", 0),
            ("envoy_wasm_remote_load_cache_hits", "counter", 0),
            ("envoy_wasm_remote_load_cache_misses", "counter", 0),
            ("envoy_wasm_remote_load_cache_negative_hits", "counter", 0),
            ("envoy_wasm_remote_load_fetch_failures", "counter", 0),
            ("envoy_wasm_remote_load_fetch_successes", "counter", 0),
        ] {
            let _ = writeln!(out, "# TYPE {name} {kind}\n{name} {value}");
        }
    }
}

impl TrafficObserver for Platform {
    fn observe(&mut self, event: &RequestEvent) {
        self.proxied[event.source] += 1;
        self.proxied[event.destination] += 1;
        self.app_cpu[event.destination] += APP_CPU_PER_LATENCY_MS * WORKLOADS[event.destination].own_latency_ms;
    }
}

const MIB: f64 = 1024.0 * 1024.0;

/// A smooth deterministic variation in [-1, 1] for the series `phase` at `elapsed` seconds.
fn wobble(elapsed: f64, phase: usize) -> f64 {
    (elapsed / 23.0 + phase as f64 * 1.7).sin()
}

/// Rounds to what an exposition page would show (microseconds, bytes).
fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// One cAdvisor metric family: name, type, help and the value it reads from a container.
type Family = (&'static str, &'static str, &'static str, fn(&Container) -> f64);

/// One container as cAdvisor reports it.
struct Container {
    namespace: &'static str,
    pod: &'static str,
    name: &'static str,
    image: String,
    id: String,
    runtime_name: String,
    cpu_seconds: f64,
    memory_bytes: f64,
    fs_bytes: f64,
}

impl Container {
    fn new(
        namespace: &'static str,
        pod: &'static str,
        name: &'static str,
        image: String,
        cpu_seconds: f64,
        memory_bytes: f64,
        fs_bytes: f64,
    ) -> Self {
        // A stable made-up container id from the pod and container names.
        let hash = pod
            .bytes()
            .chain(name.bytes())
            .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
        let runtime_name = format!("{hash:016x}{:016x}", hash.rotate_left(17));
        let id = format!("/kubepods/burstable/pod{:08x}/{runtime_name}", hash >> 32);
        Self {
            namespace,
            pod,
            name,
            image,
            id,
            runtime_name,
            cpu_seconds,
            memory_bytes: memory_bytes.round(),
            fs_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{INGRESS, PRODUCTPAGE, REVIEWS_V1};

    fn value(page: &str, series: &str) -> f64 {
        page.lines()
            .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {series} in\n{page}"))
            .parse()
            .unwrap()
    }

    fn cpu(page: &str, pod: &str, container: &str) -> f64 {
        let line = page
            .lines()
            .find(|line| {
                line.starts_with("container_cpu_usage_seconds_total{")
                    && line.contains(&format!("container=\"{container}\""))
                    && line.contains(&format!("pod=\"{pod}\""))
            })
            .unwrap_or_else(|| panic!("no cpu series for {pod}/{container}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    }

    fn request(source: usize, destination: usize) -> RequestEvent {
        RequestEvent {
            time_ms: 0,
            source,
            destination,
            response_code: 200,
            response_flags: "-",
            duration_ms: 5.0,
            request_bytes: 100.0,
            response_bytes: 100.0,
            trace_id: 1,
        }
    }

    #[test]
    fn container_cpu_follows_the_traffic_each_pod_carries() {
        let mut platform = Platform::new(0);
        for _ in 0..1000 {
            platform.observe(&request(INGRESS, PRODUCTPAGE));
        }
        let page = platform.render_cadvisor(10_000);
        let gateway = cpu(&page, WORKLOADS[INGRESS].pod, "istio-proxy");
        let productpage = cpu(&page, WORKLOADS[PRODUCTPAGE].pod, "productpage");
        let idle_reviews = cpu(&page, WORKLOADS[REVIEWS_V1].pod, "istio-proxy");
        assert!((gateway - (PROXY_IDLE_VCPU * 10.0 + 1000.0 * PROXY_CPU_PER_REQUEST)).abs() < 1e-6, "{gateway}");
        assert!(productpage > APP_IDLE_VCPU * 10.0 + 0.5, "{productpage}");
        assert!((idle_reviews - PROXY_IDLE_VCPU * 10.0).abs() < 1e-6, "{idle_reviews}");
        // The gateway has no application container; istiod has its discovery container.
        assert!(!page.contains("container=\"istio-ingressgateway\""));
        assert!(page.contains("container=\"discovery\",id="));
        assert!(page.contains(&format!("pod=\"{ISTIOD_POD}\"")));
    }

    #[test]
    fn a_configuration_change_is_validated_and_pushed_to_every_proxy() {
        let mut platform = Platform::new(0);
        let before = platform.render_istiod(1_000);
        let proxies = WORKLOADS.len() as f64;
        assert_eq!(value(&before, "pilot_xds_pushes{type=\"cds\"}"), proxies);
        assert_eq!(value(&before, "pilot_push_triggers{type=\"config\"}"), 0.0);
        platform.virtual_service_updated();
        platform.endpoints_changed();
        platform.validation_failed();
        let after = platform.render_istiod(61_000);
        assert_eq!(value(&after, "pilot_xds_pushes{type=\"cds\"}"), 2.0 * proxies);
        // Three periodic endpoint events by 61 s and one made through the control API.
        assert_eq!(value(&after, "pilot_xds_pushes{type=\"eds\"}"), 5.0 * proxies);
        assert_eq!(value(&after, "pilot_push_triggers{type=\"endpoint\"}"), 4.0);
        assert_eq!(value(&after, "pilot_push_triggers{type=\"config\"}"), 1.0);
        assert_eq!(value(&after, "pilot_k8s_cfg_events{event=\"update\",type=\"VirtualService\"}"), 1.0);
        assert_eq!(value(&after, "pilot_xds_push_time_count{type=\"rds\"}"), 2.0 * proxies);
        assert!(after.contains("galley_validation_failed{group=\"networking.istio.io\",reason=\"invalid_resource\",resource=\"virtualservices\",version=\"v1\"} 1\n"));
        assert!(after.contains(&format!("istio_build{{component=\"pilot\",tag=\"{ISTIO_TAG}\"}} 1\n")));
    }
}
