//! Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`,
//! `istio_request_bytes`, `istio_response_bytes`, `istio_tcp_*`) as each workload's sidecar
//! reports them: the caller's sidecar with `reporter="source"`, the callee's with
//! `reporter="destination"` (the ingress gateway only reports as a source), with the label set
//! and histogram buckets of Istio's stats plugin. Rendered per workload in the text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::simulation::{RequestEvent, TrafficObserver};
use crate::topology::{CLUSTER, WORKLOADS, Workload};

/// Buckets of `istio_request_duration_milliseconds` (the stats plugin's defaults).
const DURATION_BUCKETS_MS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0, 60000.0, 300000.0,
    600000.0, 1800000.0, 3600000.0,
];

/// Buckets of `istio_request_bytes` and `istio_response_bytes`: powers of ten up to 1 GB.
const SIZE_BUCKETS: [f64; 10] = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// Requests carried by one pooled upstream connection before the sidecar opens a new one.
const REQUESTS_PER_CONNECTION: u64 = 200;

/// Extra bytes a connection carries per request beyond the HTTP sizes (TLS records, framing).
const TLS_OVERHEAD_BYTES: f64 = 90.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Reporter {
    Source,
    Destination,
}

impl Reporter {
    fn as_str(self) -> &'static str {
        match self {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        }
    }
}

/// Key of one request series: the reporting workload, reporter, edge and response.
type RequestKey = (usize, Reporter, usize, usize, u16, &'static str);
/// Key of one TCP series: the reporting workload, reporter and edge.
type TcpKey = (usize, Reporter, usize, usize);
/// Reads one counter of a TCP series.
type TcpValue = fn(&TcpSeries) -> f64;

#[derive(Debug, Clone)]
pub(crate) struct Histogram<const N: usize> {
    buckets: [u64; N],
    sum: f64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Self { buckets: [0; N], sum: 0.0 }
    }
}

impl<const N: usize> Histogram<N> {
    pub(crate) fn observe(&mut self, bounds: &[f64; N], value: f64) {
        if let Some(index) = bounds.iter().position(|bound| value <= *bound) {
            self.buckets[index] += 1;
        }
        self.sum += value;
    }
}

#[derive(Debug, Clone, Default)]
struct RequestSeries {
    count: u64,
    duration: Histogram<19>,
    request_bytes: Histogram<10>,
    response_bytes: Histogram<10>,
}

#[derive(Debug, Clone, Default)]
struct TcpSeries {
    requests: u64,
    sent_bytes: f64,
    received_bytes: f64,
    opened: u64,
    closed: u64,
}

/// The metrics of every sidecar, fed by the simulation.
#[derive(Debug, Default)]
pub struct IstioMetrics {
    requests: BTreeMap<RequestKey, RequestSeries>,
    tcp: BTreeMap<TcpKey, TcpSeries>,
}

impl TrafficObserver for IstioMetrics {
    fn observe(&mut self, event: &RequestEvent) {
        // Both sidecars report; the caller's adds its own proxying time to what the callee
        // measured. Nobody calls the gateway, so it only ever reports as a source.
        let reporters = [
            (event.destination, Reporter::Destination, event.duration_ms),
            (event.source, Reporter::Source, event.duration_ms + 0.4),
        ];
        for (reporting, reporter, duration) in reporters {
            let key = (reporting, reporter, event.source, event.destination, event.response_code, event.response_flags);
            let series = self.requests.entry(key).or_default();
            series.count += 1;
            series.duration.observe(&DURATION_BUCKETS_MS, duration);
            series.request_bytes.observe(&SIZE_BUCKETS, event.request_bytes);
            series.response_bytes.observe(&SIZE_BUCKETS, event.response_bytes);
            let tcp = self.tcp.entry((reporting, reporter, event.source, event.destination)).or_default();
            if tcp.requests.is_multiple_of(REQUESTS_PER_CONNECTION) {
                if tcp.requests > 0 {
                    tcp.closed += 1;
                }
                tcp.opened += 1;
            }
            tcp.requests += 1;
            // Seen from the destination's sidecar, the request is received and the response sent;
            // the source's sidecar sees it the other way round, as Istio reports it.
            let (received, sent) = match reporter {
                Reporter::Destination => (event.request_bytes, event.response_bytes),
                Reporter::Source => (event.response_bytes, event.request_bytes),
            };
            tcp.received_bytes += received + TLS_OVERHEAD_BYTES;
            tcp.sent_bytes += sent + TLS_OVERHEAD_BYTES;
        }
    }
}

/// The labels both workloads of an edge give a series, without the response labels.
fn edge_labels(reporter: Reporter, source: &Workload, destination: &Workload) -> String {
    let security = match reporter {
        Reporter::Destination => "mutual_tls",
        Reporter::Source => "unknown",
    };
    let source_revision = if source.is_gateway() { "latest" } else { source.version };
    format!(
        "reporter=\"{reporter}\",source_workload=\"{source_workload}\",source_workload_namespace=\"{source_namespace}\",\
source_principal=\"{source_principal}\",source_app=\"{source_app}\",source_version=\"{source_version}\",\
source_canonical_service=\"{source_app}\",source_canonical_revision=\"{source_revision}\",source_cluster=\"{CLUSTER}\",\
destination_workload=\"{destination_workload}\",destination_workload_namespace=\"{destination_namespace}\",\
destination_principal=\"{destination_principal}\",destination_app=\"{destination_app}\",\
destination_version=\"{destination_version}\",destination_service=\"{destination_service}\",\
destination_service_name=\"{destination_app}\",destination_service_namespace=\"{destination_namespace}\",\
destination_canonical_service=\"{destination_app}\",destination_canonical_revision=\"{destination_version}\",\
destination_cluster=\"{CLUSTER}\",connection_security_policy=\"{security}\"",
        reporter = reporter.as_str(),
        source_workload = source.name,
        source_namespace = source.namespace,
        source_principal = source.principal(),
        source_app = source.app,
        source_version = source.version,
        destination_workload = destination.name,
        destination_namespace = destination.namespace,
        destination_principal = destination.principal(),
        destination_app = destination.app,
        destination_version = destination.version,
        destination_service = destination.service_host(),
    )
}

pub(crate) fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{}", value as i64) } else { format!("{value}") }
}

pub(crate) fn render_histogram<const N: usize>(
    out: &mut String,
    name: &str,
    labels: &str,
    bounds: &[f64; N],
    histogram: &Histogram<N>,
    count: u64,
) {
    let mut cumulative = 0;
    for (bound, bucket) in bounds.iter().zip(histogram.buckets) {
        cumulative += bucket;
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}", format_value(*bound));
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", format_value(histogram.sum));
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

impl IstioMetrics {
    /// Returns the exposition page of the sidecar of the workload at `workload` (an index of
    /// `WORKLOADS`), in the text format 0.0.4.
    pub fn render(&self, workload: usize) -> String {
        let requests: Vec<(&RequestKey, &RequestSeries)> = self
            .requests
            .range((workload, Reporter::Source, 0, 0, 0, "")..)
            .take_while(|(key, _)| key.0 == workload)
            .collect();
        let tcp: Vec<(&TcpKey, &TcpSeries)> =
            self.tcp.range((workload, Reporter::Source, 0, 0)..).take_while(|(key, _)| key.0 == workload).collect();
        let request_labels = |key: &RequestKey| {
            let edge = edge_labels(key.1, &WORKLOADS[key.2], &WORKLOADS[key.3]);
            format!(
                "{edge},request_protocol=\"http\",response_code=\"{}\",grpc_response_status=\"\",response_flags=\"{}\"",
                key.4, key.5
            )
        };
        let tcp_labels = |key: &TcpKey| {
            let edge = edge_labels(key.1, &WORKLOADS[key.2], &WORKLOADS[key.3]);
            format!("{edge},request_protocol=\"tcp\",response_flags=\"-\"")
        };
        let mut out = String::with_capacity(4096 + requests.len() * 12_000);
        out.push_str("# TYPE istio_requests_total counter\n");
        for (key, series) in &requests {
            let _ = writeln!(out, "istio_requests_total{{{}}} {}", request_labels(key), series.count);
        }
        out.push_str("# TYPE istio_request_duration_milliseconds histogram\n");
        for (key, series) in &requests {
            render_histogram(
                &mut out,
                "istio_request_duration_milliseconds",
                &request_labels(key),
                &DURATION_BUCKETS_MS,
                &series.duration,
                series.count,
            );
        }
        out.push_str("# TYPE istio_request_bytes histogram\n");
        for (key, series) in &requests {
            render_histogram(
                &mut out,
                "istio_request_bytes",
                &request_labels(key),
                &SIZE_BUCKETS,
                &series.request_bytes,
                series.count,
            );
        }
        out.push_str("# TYPE istio_response_bytes histogram\n");
        for (key, series) in &requests {
            render_histogram(
                &mut out,
                "istio_response_bytes",
                &request_labels(key),
                &SIZE_BUCKETS,
                &series.response_bytes,
                series.count,
            );
        }
        let families: [(&str, TcpValue); 4] = [
            ("istio_tcp_sent_bytes_total", |series| series.sent_bytes),
            ("istio_tcp_received_bytes_total", |series| series.received_bytes),
            ("istio_tcp_connections_opened_total", |series| series.opened as f64),
            ("istio_tcp_connections_closed_total", |series| series.closed as f64),
        ];
        for (name, value) in families {
            let _ = writeln!(out, "# TYPE {name} counter");
            for (key, series) in &tcp {
                let _ = writeln!(out, "{name}{{{}}} {}", tcp_labels(key), format_value(value(series)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::{INGRESS, PRODUCTPAGE, RATINGS, REVIEWS_V3};

    fn event(source: usize, destination: usize, code: u16, duration_ms: f64) -> RequestEvent {
        RequestEvent {
            time_ms: 0,
            source,
            destination,
            response_code: code,
            response_flags: "-",
            duration_ms,
            request_bytes: 600.0,
            response_bytes: 48.0,
            trace_id: 1,
        }
    }

    #[test]
    fn both_sidecars_report_with_istio_labels_and_buckets() {
        let mut metrics = IstioMetrics::default();
        metrics.observe(&event(REVIEWS_V3, RATINGS, 200, 3.0));
        metrics.observe(&event(REVIEWS_V3, RATINGS, 503, 0.7));
        let ratings = metrics.render(RATINGS);
        let labels = "reporter=\"destination\",source_workload=\"reviews-v3\",source_workload_namespace=\"default\",\
source_principal=\"spiffe://cluster.local/ns/default/sa/bookinfo-reviews\",source_app=\"reviews\",source_version=\"v3\",\
source_canonical_service=\"reviews\",source_canonical_revision=\"v3\",source_cluster=\"Kubernetes\",\
destination_workload=\"ratings-v1\",destination_workload_namespace=\"default\",\
destination_principal=\"spiffe://cluster.local/ns/default/sa/bookinfo-ratings\",destination_app=\"ratings\",\
destination_version=\"v1\",destination_service=\"ratings.default.svc.cluster.local\",\
destination_service_name=\"ratings\",destination_service_namespace=\"default\",\
destination_canonical_service=\"ratings\",destination_canonical_revision=\"v1\",\
destination_cluster=\"Kubernetes\",connection_security_policy=\"mutual_tls\",request_protocol=\"http\",\
response_code=\"503\",grpc_response_status=\"\",response_flags=\"-\"";
        assert!(ratings.contains(&format!("istio_requests_total{{{labels}}} 1\n")), "{ratings}");
        assert!(ratings.contains(&format!("istio_request_duration_milliseconds_bucket{{{labels},le=\"0.5\"}} 0\n")));
        assert!(ratings.contains(&format!("istio_request_duration_milliseconds_bucket{{{labels},le=\"1\"}} 1\n")));
        assert!(ratings.contains(&format!("istio_request_duration_milliseconds_bucket{{{labels},le=\"+Inf\"}} 1\n")));
        assert!(ratings.contains("istio_tcp_connections_opened_total{reporter=\"destination\""));
        assert!(!ratings.contains("reporter=\"source\""), "ratings calls nobody");
        let reviews = metrics.render(REVIEWS_V3);
        assert!(reviews.contains("istio_requests_total{reporter=\"source\",source_workload=\"reviews-v3\""));
        assert!(reviews.contains("connection_security_policy=\"unknown\""));
    }

    #[test]
    fn the_gateway_reports_only_as_a_source() {
        let mut metrics = IstioMetrics::default();
        metrics.observe(&event(INGRESS, PRODUCTPAGE, 200, 20.0));
        let gateway = metrics.render(INGRESS);
        assert!(gateway.contains(
            "reporter=\"source\",source_workload=\"istio-ingressgateway\",source_workload_namespace=\"istio-system\""
        ));
        assert!(gateway.contains("source_version=\"unknown\",source_canonical_service=\"istio-ingressgateway\",source_canonical_revision=\"latest\""));
        assert!(!gateway.contains("reporter=\"destination\""));
        assert!(
            metrics.render(PRODUCTPAGE).contains("reporter=\"destination\",source_workload=\"istio-ingressgateway\"")
        );
    }
}
