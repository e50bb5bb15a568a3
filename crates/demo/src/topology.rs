//! Bookinfo as Istio sees it (`../shared/testdata/bookinfo`): the workloads, their Kubernetes
//! identity (namespace, pod, app and version labels, service account) and the call graph.
//! Static data only; traffic is made by `simulation.rs`.

/// The Kubernetes namespace of the application.
pub const APP_NAMESPACE: &str = "default";

/// The mesh's trust domain and cluster name, as a default Istio install reports them.
pub(crate) const TRUST_DOMAIN: &str = "cluster.local";
pub(crate) const CLUSTER: &str = "Kubernetes";

/// One simulated workload (a Deployment with one pod and an Envoy sidecar).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Workload {
    /// The workload (Deployment) name, e.g. `reviews-v2`.
    pub name: &'static str,
    /// The `app` label, which is also the Service name.
    pub app: &'static str,
    /// The `version` label.
    pub version: &'static str,
    /// The namespace.
    pub namespace: &'static str,
    /// The pod name (Deployment name, ReplicaSet hash, pod suffix).
    pub pod: &'static str,
    /// The service account, which makes the SPIFFE principal.
    pub service_account: &'static str,
    /// Median time the application itself spends on a request, in milliseconds.
    pub(crate) own_latency_ms: f64,
    /// Typical response body size in bytes.
    pub(crate) response_bytes: f64,
}

impl Workload {
    /// Returns the SPIFFE identity of the workload's sidecar.
    pub fn principal(&self) -> String {
        format!("spiffe://{TRUST_DOMAIN}/ns/{}/sa/{}", self.namespace, self.service_account)
    }

    /// Returns the fully qualified name of the workload's Service.
    pub fn service_host(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.app, self.namespace)
    }

    /// Returns true for the ingress gateway, which only reports as a source.
    pub fn is_gateway(&self) -> bool {
        self.name == WORKLOADS[INGRESS].name
    }
}

/// Index of each workload in [`WORKLOADS`].
pub(crate) const INGRESS: usize = 0;
pub(crate) const PRODUCTPAGE: usize = 1;
pub(crate) const DETAILS: usize = 2;
pub(crate) const REVIEWS_V1: usize = 3;
pub(crate) const REVIEWS_V2: usize = 4;
pub(crate) const REVIEWS_V3: usize = 5;
pub(crate) const RATINGS: usize = 6;

/// The workloads, gateway first. Latencies and sizes are what Bookinfo's pages measure roughly:
/// productpage renders HTML, the others answer small JSON documents.
pub const WORKLOADS: [Workload; 7] = [
    Workload {
        name: "istio-ingressgateway",
        app: "istio-ingressgateway",
        version: "unknown",
        namespace: "istio-system",
        pod: "istio-ingressgateway-6f9d7b8c5-q4wzt",
        service_account: "istio-ingressgateway-service-account",
        own_latency_ms: 0.6,
        response_bytes: 0.0,
    },
    Workload {
        name: "productpage-v1",
        app: "productpage",
        version: "v1",
        namespace: APP_NAMESPACE,
        pod: "productpage-v1-5b8d7c6f4d-x7k2p",
        service_account: "bookinfo-productpage",
        own_latency_ms: 9.0,
        response_bytes: 5_200.0,
    },
    Workload {
        name: "details-v1",
        app: "details",
        version: "v1",
        namespace: APP_NAMESPACE,
        pod: "details-v1-65b8bdbd47-8kq7n",
        service_account: "bookinfo-details",
        own_latency_ms: 2.5,
        response_bytes: 178.0,
    },
    Workload {
        name: "reviews-v1",
        app: "reviews",
        version: "v1",
        namespace: APP_NAMESPACE,
        pod: "reviews-v1-5c8c4c6d9b-2mxlz",
        service_account: "bookinfo-reviews",
        own_latency_ms: 6.0,
        response_bytes: 358.0,
    },
    Workload {
        name: "reviews-v2",
        app: "reviews",
        version: "v2",
        namespace: APP_NAMESPACE,
        pod: "reviews-v2-7f6bd8c9b7-ptl4c",
        service_account: "bookinfo-reviews",
        own_latency_ms: 7.0,
        response_bytes: 436.0,
    },
    Workload {
        name: "reviews-v3",
        app: "reviews",
        version: "v3",
        namespace: APP_NAMESPACE,
        pod: "reviews-v3-6d7b9f8c6-hj5vd",
        service_account: "bookinfo-reviews",
        own_latency_ms: 7.0,
        response_bytes: 434.0,
    },
    Workload {
        name: "ratings-v1",
        app: "ratings",
        version: "v1",
        namespace: APP_NAMESPACE,
        pod: "ratings-v1-85c9b7d6f5-vn8rb",
        service_account: "bookinfo-ratings",
        own_latency_ms: 1.8,
        response_bytes: 48.0,
    },
];

/// Returns the index of the workload named `name`.
pub fn workload_index(name: &str) -> Option<usize> {
    WORKLOADS.iter().position(|workload| workload.name == name)
}

/// The versions of `reviews` a route can split traffic between, in weight order.
pub const REVIEWS_VERSIONS: [&str; 3] = ["v1", "v2", "v3"];

/// Returns the reviews workload of a version index (0 = v1).
pub(crate) fn reviews_workload(version_index: usize) -> usize {
    [REVIEWS_V1, REVIEWS_V2, REVIEWS_V3][version_index]
}
