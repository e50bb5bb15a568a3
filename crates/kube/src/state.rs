//! Cluster-state metrics from the watch caches, with kube-state-metrics' names, labels and
//! values for the most used families, so that queries written for kube-state-metrics (such as
//! `container_cpu_usage_seconds_total * on (namespace, pod) group_left(node) kube_pod_info`)
//! work unchanged. Rendered as the Prometheus text format 0.0.4.
//!
//! The `kube_<kind>_labels` and `kube_<kind>_annotations` families carry the keys their
//! [`AllowList`] allows, as kube-state-metrics' `--metric-labels-allowlist` and
//! `--metric-annotations-allowlist` do; families not listed in docs/kubernetes.md are not
//! produced.

mod allowlist;

pub use allowlist::{AllowList, RENDERED_RESOURCES};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::cache::{Scope, WatchCache};
use crate::clusters::Cluster;
use allowlist::sanitize;

/// What the cluster-state families include.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterStateOptions {
    /// The object labels allowed on `kube_<kind>_labels`.
    pub labels_allowlist: AllowList,
    /// The object annotations allowed on `kube_<kind>_annotations`.
    pub annotations_allowlist: AllowList,
}

impl Default for ClusterStateOptions {
    /// Every pod label on `kube_pod_labels` (what Panoptes always did; kube-state-metrics allows
    /// nothing by default), no annotations.
    fn default() -> Self {
        ClusterStateOptions {
            labels_allowlist: AllowList::everything_of("pods"),
            annotations_allowlist: AllowList::default(),
        }
    }
}

/// The caches cluster-state metrics are computed from (every namespace).
#[derive(Debug)]
pub struct ClusterState {
    pods: Arc<WatchCache<Pod>>,
    nodes: Arc<WatchCache<Node>>,
    namespaces: Arc<WatchCache<Namespace>>,
    services: Arc<WatchCache<Service>>,
    endpoints: Arc<WatchCache<Endpoints>>,
    deployments: Arc<WatchCache<Deployment>>,
    replica_sets: Arc<WatchCache<ReplicaSet>>,
    stateful_sets: Arc<WatchCache<StatefulSet>>,
    daemon_sets: Arc<WatchCache<DaemonSet>>,
    options: ClusterStateOptions,
}

/// One metric family being rendered.
struct Family<'a> {
    out: &'a mut String,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        Family { out }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (index, (label, label_value)) in labels.iter().enumerate() {
                if index > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{label}=\"{}\"", escape(label_value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// Parses a Kubernetes quantity (`100m`, `7Gi`, `1.5`, `2e3`) into a number.
pub fn parse_quantity(quantity: &str) -> Option<f64> {
    let quantity = quantity.trim();
    // Fractional suffixes divide, so that `3800m` is exactly the double nearest 3.8.
    let divisors: [(&str, f64); 3] = [("n", 1e9), ("u", 1e6), ("m", 1e3)];
    for (suffix, divisor) in divisors {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|number| number / divisor);
        }
    }
    let factors: [(&str, f64); 12] = [
        ("Ki", 1024.0),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in factors {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|number| number * factor);
        }
    }
    quantity.parse().ok()
}

/// Returns kube-state-metrics' `unit` label of a resource.
fn unit_of(resource: &str) -> &'static str {
    match resource {
        "cpu" => "core",
        "memory" | "ephemeral-storage" | "storage" => "byte",
        name if name.starts_with("hugepages-") => "byte",
        _ => "integer",
    }
}

/// A count family of a workload kind: name, help and how to read the count.
type CountFamily<K> = (&'static str, &'static str, fn(&K) -> Option<i32>);

/// Renders count families of one workload kind, labelled `namespace` and `kind_label`.
fn render_counts<K: kube::Resource>(
    out: &mut String,
    objects: &[Arc<K>],
    kind_label: &str,
    families: &[CountFamily<K>],
) {
    for (name, help, value) in families {
        let mut family = Family::new(out, name, "gauge", help);
        for object in objects {
            let meta = object.meta();
            let namespace = meta.namespace.clone().unwrap_or_default();
            let object_name = meta.name.clone().unwrap_or_default();
            family.sample(
                name,
                &[("namespace", &namespace), (kind_label, &object_name)],
                f64::from(value(object).unwrap_or(0)),
            );
        }
    }
}

/// Renders an `_owner` family: one series per owner reference of each object (`owner_kind`,
/// `owner_name`, `owner_is_controller`), or one with `<none>` everywhere for an object without
/// owner, as kube-state-metrics does.
fn render_owners<K: kube::Resource>(
    out: &mut String,
    objects: &[Arc<K>],
    name: &str,
    help: &str,
    identity: impl Fn(&K) -> Vec<(&'static str, String)>,
) {
    let mut family = Family::new(out, name, "gauge", help);
    for object in objects {
        let identity = identity(object);
        let owners = object.meta().owner_references.as_deref().unwrap_or_default();
        let none = [("<none>", "<none>", "<none>")];
        let rows: Vec<(&str, &str, &str)> = if owners.is_empty() {
            none.to_vec()
        } else {
            owners
                .iter()
                .map(|owner| {
                    let is_controller = if owner.controller == Some(true) { "true" } else { "false" };
                    (owner.kind.as_str(), owner.name.as_str(), is_controller)
                })
                .collect()
        };
        for (kind, owner_name, is_controller) in rows {
            let mut labels: Vec<(&str, &str)> =
                identity.iter().map(|(label, value)| (*label, value.as_str())).collect();
            labels.extend([("owner_kind", kind), ("owner_name", owner_name), ("owner_is_controller", is_controller)]);
            family.sample(name, &labels, 1.0);
        }
    }
}

/// Returns the `namespace` and `<kind_label>` (name) labels of a namespaced object.
fn namespaced_identity<K: kube::Resource>(object: &K, kind_label: &'static str) -> Vec<(&'static str, String)> {
    let meta = object.meta();
    vec![("namespace", meta.namespace.clone().unwrap_or_default()), (kind_label, meta.name.clone().unwrap_or_default())]
}

fn ready_states(status: &str) -> [(&'static str, f64); 3] {
    let status = status.to_lowercase();
    [
        ("true", f64::from(status == "true")),
        ("false", f64::from(status == "false")),
        ("unknown", f64::from(status == "unknown")),
    ]
}

impl ClusterState {
    /// Opens (or shares) the cluster-wide caches of every kind the metrics need.
    /// Must be called within a tokio runtime.
    pub fn watch(cluster: &Cluster, options: ClusterStateOptions) -> Self {
        ClusterState {
            pods: cluster.watch(Scope::default()),
            nodes: cluster.watch(Scope::default()),
            namespaces: cluster.watch(Scope::default()),
            services: cluster.watch(Scope::default()),
            endpoints: cluster.watch(Scope::default()),
            deployments: cluster.watch(Scope::default()),
            replica_sets: cluster.watch(Scope::default()),
            stateful_sets: cluster.watch(Scope::default()),
            daemon_sets: cluster.watch(Scope::default()),
            options,
        }
    }

    /// Waits until every cache listed once.
    pub async fn wait_synced(&self) {
        self.pods.wait_synced().await;
        self.nodes.wait_synced().await;
        self.namespaces.wait_synced().await;
        self.services.wait_synced().await;
        self.endpoints.wait_synced().await;
        self.deployments.wait_synced().await;
        self.replica_sets.wait_synced().await;
        self.stateful_sets.wait_synced().await;
        self.daemon_sets.wait_synced().await;
    }

    /// Renders every family as the Prometheus text format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_pods(&mut out);
        self.render_nodes(&mut out);
        self.render_workloads(&mut out);
        self.render_namespaces_services_endpoints(&mut out);
        out
    }

    fn render_pods(&self, out: &mut String) {
        let pods = self.pods.objects();
        let identity = |pod: &Pod| {
            (
                pod.metadata.namespace.clone().unwrap_or_default(),
                pod.metadata.name.clone().unwrap_or_default(),
                pod.metadata.uid.clone().unwrap_or_default(),
            )
        };
        let mut family = Family::new(out, "kube_pod_info", "gauge", "Information about pod.");
        for pod in &pods {
            let (namespace, name, uid) = identity(pod);
            let status = pod.status.as_ref();
            let spec = pod.spec.as_ref();
            let controller =
                pod.metadata.owner_references.iter().flatten().find(|reference| reference.controller == Some(true));
            let host_ip = status.and_then(|status| status.host_ip.clone()).unwrap_or_default();
            let pod_ip = status.and_then(|status| status.pod_ip.clone()).unwrap_or_default();
            let node = spec.and_then(|spec| spec.node_name.clone()).unwrap_or_default();
            let priority_class = spec.and_then(|spec| spec.priority_class_name.clone()).unwrap_or_default();
            let host_network = spec.and_then(|spec| spec.host_network).unwrap_or(false).to_string();
            family.sample(
                "kube_pod_info",
                &[
                    ("namespace", &namespace),
                    ("pod", &name),
                    ("uid", &uid),
                    ("host_ip", &host_ip),
                    ("pod_ip", &pod_ip),
                    ("node", &node),
                    ("created_by_kind", controller.map_or("<none>", |reference| reference.kind.as_str())),
                    ("created_by_name", controller.map_or("<none>", |reference| reference.name.as_str())),
                    ("priority_class", &priority_class),
                    ("host_network", &host_network),
                ],
                1.0,
            );
        }
        let mut family = Family::new(out, "kube_pod_status_phase", "gauge", "The pods current phase.");
        for pod in &pods {
            let (namespace, name, uid) = identity(pod);
            let phase = pod.status.as_ref().and_then(|status| status.phase.clone()).unwrap_or_default();
            if phase.is_empty() {
                continue;
            }
            for candidate in ["Pending", "Succeeded", "Failed", "Unknown", "Running"] {
                family.sample(
                    "kube_pod_status_phase",
                    &[("namespace", &namespace), ("pod", &name), ("uid", &uid), ("phase", candidate)],
                    f64::from(phase == candidate),
                );
            }
        }
        let mut family =
            Family::new(out, "kube_pod_status_ready", "gauge", "Describes whether the pod is ready to serve requests.");
        for pod in &pods {
            let (namespace, name, uid) = identity(pod);
            let conditions = pod.status.as_ref().and_then(|status| status.conditions.as_ref());
            for condition in conditions.into_iter().flatten().filter(|condition| condition.type_ == "Ready") {
                for (state, value) in ready_states(&condition.status) {
                    family.sample(
                        "kube_pod_status_ready",
                        &[("namespace", &namespace), ("pod", &name), ("uid", &uid), ("condition", state)],
                        value,
                    );
                }
            }
        }
        let mut family = Family::new(
            out,
            "kube_pod_container_status_restarts_total",
            "counter",
            "The number of container restarts per container.",
        );
        for pod in &pods {
            let (namespace, name, uid) = identity(pod);
            let statuses = pod.status.as_ref().and_then(|status| status.container_statuses.as_ref());
            for status in statuses.into_iter().flatten() {
                family.sample(
                    "kube_pod_container_status_restarts_total",
                    &[("namespace", &namespace), ("pod", &name), ("uid", &uid), ("container", &status.name)],
                    f64::from(status.restart_count),
                );
            }
        }
        let mut family = Family::new(
            out,
            "kube_pod_container_status_waiting_reason",
            "gauge",
            "Describes the reason the container is currently in waiting state.",
        );
        for pod in &pods {
            let (namespace, name, uid) = identity(pod);
            let statuses = pod.status.as_ref().and_then(|status| status.container_statuses.as_ref());
            for status in statuses.into_iter().flatten() {
                // As kube-state-metrics: a series per waiting container, its reason possibly empty.
                let Some(waiting) = status.state.as_ref().and_then(|state| state.waiting.as_ref()) else {
                    continue;
                };
                let reason = waiting.reason.as_deref().unwrap_or_default();
                family.sample(
                    "kube_pod_container_status_waiting_reason",
                    &[
                        ("namespace", &namespace),
                        ("pod", &name),
                        ("uid", &uid),
                        ("container", &status.name),
                        ("reason", reason),
                    ],
                    1.0,
                );
            }
        }
        render_owners(out, &pods, "kube_pod_owner", "Information about the Pod's owner.", |pod| {
            let (namespace, name, uid) = identity(pod);
            vec![("namespace", namespace), ("pod", name), ("uid", uid)]
        });
        for (family_name, help, pick_limits) in [
            ("kube_pod_container_resource_requests", "The number of requested request resource by a container.", false),
            ("kube_pod_container_resource_limits", "The number of requested limit resource by a container.", true),
        ] {
            let mut family = Family::new(out, family_name, "gauge", help);
            for pod in &pods {
                let (namespace, name, uid) = identity(pod);
                let node = pod.spec.as_ref().and_then(|spec| spec.node_name.clone()).unwrap_or_default();
                for container in pod.spec.iter().flat_map(|spec| &spec.containers) {
                    let resources = container.resources.as_ref();
                    let values: Option<&BTreeMap<String, Quantity>> = resources.and_then(|resources| {
                        if pick_limits { resources.limits.as_ref() } else { resources.requests.as_ref() }
                    });
                    for (resource, quantity) in values.into_iter().flatten() {
                        let Some(value) = parse_quantity(&quantity.0) else { continue };
                        family.sample(
                            family_name,
                            &[
                                ("namespace", &namespace),
                                ("pod", &name),
                                ("uid", &uid),
                                ("container", &container.name),
                                ("node", &node),
                                ("resource", &sanitize(resource)),
                                ("unit", unit_of(resource)),
                            ],
                            value,
                        );
                    }
                }
            }
        }
        self.render_metadata(out, &pods, "pods", "pod", |pod| {
            let (namespace, name, uid) = identity(pod);
            vec![("namespace", namespace), ("pod", name), ("uid", uid)]
        });
    }

    /// Renders `kube_<kind>_labels` and `kube_<kind>_annotations` of `objects`: the identity
    /// labels, then the allowed keys; no series for a resource nothing is allowed for.
    fn render_metadata<K: kube::Resource>(
        &self,
        out: &mut String,
        objects: &[Arc<K>],
        resource: &str,
        kind: &str,
        identity: impl Fn(&K) -> Vec<(&'static str, String)>,
    ) {
        let families = [
            ("labels", "label", "Kubernetes labels converted to Prometheus labels.", &self.options.labels_allowlist),
            (
                "annotations",
                "annotation",
                "Kubernetes annotations converted to Prometheus labels.",
                &self.options.annotations_allowlist,
            ),
        ];
        for (suffix, prefix, help, allowlist) in families {
            let name = format!("kube_{kind}_{suffix}");
            let mut family = Family::new(out, &name, "gauge", help);
            for object in objects {
                let meta = object.meta();
                let keys = if suffix == "labels" { meta.labels.as_ref() } else { meta.annotations.as_ref() };
                let Some(extra) = allowlist.prometheus_labels(resource, prefix, keys) else { continue };
                let identity = identity(object);
                let mut labels: Vec<(&str, &str)> =
                    identity.iter().map(|(label, value)| (*label, value.as_str())).collect();
                labels.extend(extra.iter().map(|(label, value)| (label.as_str(), value.as_str())));
                family.sample(&name, &labels, 1.0);
            }
        }
    }

    fn render_nodes(&self, out: &mut String) {
        let nodes = self.nodes.objects();
        self.render_metadata(out, &nodes, "nodes", "node", |node| {
            vec![("node", node.metadata.name.clone().unwrap_or_default())]
        });
        let mut family = Family::new(out, "kube_node_info", "gauge", "Information about a cluster node.");
        for node in &nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let status = node.status.as_ref();
            let info = status.and_then(|status| status.node_info.clone()).unwrap_or_default();
            let spec = node.spec.as_ref();
            let internal_ip = status
                .and_then(|status| status.addresses.as_ref())
                .and_then(|addresses| addresses.iter().find(|address| address.type_ == "InternalIP"))
                .map(|address| address.address.clone())
                .unwrap_or_default();
            family.sample(
                "kube_node_info",
                &[
                    ("node", &name),
                    ("kernel_version", &info.kernel_version),
                    ("os_image", &info.os_image),
                    ("container_runtime_version", &info.container_runtime_version),
                    ("kubelet_version", &info.kubelet_version),
                    ("kubeproxy_version", &info.kube_proxy_version),
                    ("provider_id", spec.and_then(|spec| spec.provider_id.as_deref()).unwrap_or_default()),
                    ("pod_cidr", spec.and_then(|spec| spec.pod_cidr.as_deref()).unwrap_or_default()),
                    ("system_uuid", &info.system_uuid),
                    ("internal_ip", &internal_ip),
                ],
                1.0,
            );
        }
        let mut family = Family::new(out, "kube_node_status_condition", "gauge", "The condition of a cluster node.");
        for node in &nodes {
            let name = node.metadata.name.clone().unwrap_or_default();
            let conditions = node.status.as_ref().and_then(|status| status.conditions.as_ref());
            for condition in conditions.into_iter().flatten() {
                for (state, value) in ready_states(&condition.status) {
                    family.sample(
                        "kube_node_status_condition",
                        &[("node", &name), ("condition", &condition.type_), ("status", state)],
                        value,
                    );
                }
            }
        }
        for (family_name, help, pick_capacity) in [
            (
                "kube_node_status_allocatable",
                "The allocatable for different resources of a node that are available for scheduling.",
                false,
            ),
            ("kube_node_status_capacity", "The capacity for different resources of a node.", true),
        ] {
            let mut family = Family::new(out, family_name, "gauge", help);
            for node in &nodes {
                let name = node.metadata.name.clone().unwrap_or_default();
                let values = node.status.as_ref().and_then(|status| {
                    if pick_capacity { status.capacity.as_ref() } else { status.allocatable.as_ref() }
                });
                for (resource, quantity) in values.into_iter().flatten() {
                    let Some(value) = parse_quantity(&quantity.0) else { continue };
                    family.sample(
                        family_name,
                        &[("node", &name), ("resource", &sanitize(resource)), ("unit", unit_of(resource))],
                        value,
                    );
                }
            }
        }
    }

    fn render_workloads(&self, out: &mut String) {
        let families: &[CountFamily<Deployment>] = &[
            ("kube_deployment_spec_replicas", "Number of desired pods for a deployment.", |d| {
                d.spec.as_ref().and_then(|s| s.replicas)
            }),
            ("kube_deployment_status_replicas", "The number of replicas per deployment.", |d| {
                d.status.as_ref().and_then(|s| s.replicas)
            }),
            ("kube_deployment_status_replicas_ready", "The number of ready replicas per deployment.", |d| {
                d.status.as_ref().and_then(|s| s.ready_replicas)
            }),
            ("kube_deployment_status_replicas_available", "The number of available replicas per deployment.", |d| {
                d.status.as_ref().and_then(|s| s.available_replicas)
            }),
            (
                "kube_deployment_status_replicas_unavailable",
                "The number of unavailable replicas per deployment.",
                |d| d.status.as_ref().and_then(|s| s.unavailable_replicas),
            ),
            ("kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", |d| {
                d.status.as_ref().and_then(|s| s.updated_replicas)
            }),
        ];
        let objects = self.deployments.objects();
        render_counts(out, &objects, "deployment", families);
        self.render_metadata(out, &objects, "deployments", "deployment", |object| {
            namespaced_identity(object, "deployment")
        });
        let families: &[CountFamily<ReplicaSet>] = &[
            ("kube_replicaset_spec_replicas", "Number of desired pods for a ReplicaSet.", |r| {
                r.spec.as_ref().and_then(|s| s.replicas)
            }),
            ("kube_replicaset_status_replicas", "The number of replicas per ReplicaSet.", |r| {
                r.status.as_ref().map(|s| s.replicas)
            }),
            ("kube_replicaset_status_ready_replicas", "The number of ready replicas per ReplicaSet.", |r| {
                r.status.as_ref().and_then(|s| s.ready_replicas)
            }),
        ];
        let objects = self.replica_sets.objects();
        render_counts(out, &objects, "replicaset", families);
        render_owners(out, &objects, "kube_replicaset_owner", "Information about the ReplicaSet's owner.", |object| {
            namespaced_identity(object, "replicaset")
        });
        self.render_metadata(out, &objects, "replicasets", "replicaset", |object| {
            namespaced_identity(object, "replicaset")
        });
        let families: &[CountFamily<StatefulSet>] = &[
            ("kube_statefulset_replicas", "Number of desired pods for a StatefulSet.", |s| {
                s.spec.as_ref().and_then(|s| s.replicas)
            }),
            ("kube_statefulset_status_replicas", "The number of replicas per StatefulSet.", |s| {
                s.status.as_ref().map(|s| s.replicas)
            }),
            ("kube_statefulset_status_replicas_ready", "The number of ready replicas per StatefulSet.", |s| {
                s.status.as_ref().and_then(|s| s.ready_replicas)
            }),
            ("kube_statefulset_status_replicas_current", "The number of current replicas per StatefulSet.", |s| {
                s.status.as_ref().and_then(|s| s.current_replicas)
            }),
            ("kube_statefulset_status_replicas_updated", "The number of updated replicas per StatefulSet.", |s| {
                s.status.as_ref().and_then(|s| s.updated_replicas)
            }),
        ];
        let objects = self.stateful_sets.objects();
        render_counts(out, &objects, "statefulset", families);
        self.render_metadata(out, &objects, "statefulsets", "statefulset", |object| {
            namespaced_identity(object, "statefulset")
        });
        let families: &[CountFamily<DaemonSet>] = &[
            (
                "kube_daemonset_status_desired_number_scheduled",
                "The number of nodes that should be running the daemon pod.",
                |d| d.status.as_ref().map(|s| s.desired_number_scheduled),
            ),
            (
                "kube_daemonset_status_current_number_scheduled",
                "The number of nodes running at least one daemon pod and are supposed to.",
                |d| d.status.as_ref().map(|s| s.current_number_scheduled),
            ),
            (
                "kube_daemonset_status_number_ready",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
                |d| d.status.as_ref().map(|s| s.number_ready),
            ),
            (
                "kube_daemonset_status_number_available",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available.",
                |d| d.status.as_ref().and_then(|s| s.number_available),
            ),
            (
                "kube_daemonset_status_number_misscheduled",
                "The number of nodes running a daemon pod but are not supposed to.",
                |d| d.status.as_ref().map(|s| s.number_misscheduled),
            ),
            (
                "kube_daemonset_status_updated_number_scheduled",
                "The total number of nodes that are running updated daemon pod.",
                |d| d.status.as_ref().and_then(|s| s.updated_number_scheduled),
            ),
        ];
        let objects = self.daemon_sets.objects();
        render_counts(out, &objects, "daemonset", families);
        self.render_metadata(out, &objects, "daemonsets", "daemonset", |object| {
            namespaced_identity(object, "daemonset")
        });
    }

    fn render_namespaces_services_endpoints(&self, out: &mut String) {
        let namespaces = self.namespaces.objects();
        self.render_metadata(out, &namespaces, "namespaces", "namespace", |namespace| {
            vec![("namespace", namespace.metadata.name.clone().unwrap_or_default())]
        });
        let services = self.services.objects();
        self.render_metadata(out, &services, "services", "service", |service| {
            let mut identity = namespaced_identity(service, "service");
            identity.push(("uid", service.metadata.uid.clone().unwrap_or_default()));
            identity
        });
        let endpoints = self.endpoints.objects();
        self.render_metadata(out, &endpoints, "endpoints", "endpoint", |object| {
            namespaced_identity(object, "endpoint")
        });
        let mut family = Family::new(out, "kube_namespace_status_phase", "gauge", "kubernetes namespace status phase.");
        for namespace in namespaces {
            let name = namespace.metadata.name.clone().unwrap_or_default();
            let phase = namespace.status.as_ref().and_then(|status| status.phase.clone()).unwrap_or_default();
            for candidate in ["Active", "Terminating"] {
                family.sample(
                    "kube_namespace_status_phase",
                    &[("namespace", &name), ("phase", candidate)],
                    f64::from(phase == candidate),
                );
            }
        }
        let mut family = Family::new(out, "kube_service_info", "gauge", "Information about service.");
        for service in services {
            let namespace = service.metadata.namespace.clone().unwrap_or_default();
            let name = service.metadata.name.clone().unwrap_or_default();
            let uid = service.metadata.uid.clone().unwrap_or_default();
            let spec = service.spec.as_ref();
            family.sample(
                "kube_service_info",
                &[
                    ("namespace", &namespace),
                    ("service", &name),
                    ("uid", &uid),
                    ("cluster_ip", spec.and_then(|spec| spec.cluster_ip.as_deref()).unwrap_or_default()),
                    ("external_name", spec.and_then(|spec| spec.external_name.as_deref()).unwrap_or_default()),
                    ("load_balancer_ip", spec.and_then(|spec| spec.load_balancer_ip.as_deref()).unwrap_or_default()),
                ],
                1.0,
            );
        }
        let mut family = Family::new(
            out,
            "kube_endpoint_address",
            "gauge",
            "Information about Endpoint available and non available addresses.",
        );
        for endpoints in endpoints {
            let namespace = endpoints.metadata.namespace.clone().unwrap_or_default();
            let name = endpoints.metadata.name.clone().unwrap_or_default();
            for subset in endpoints.subsets.iter().flatten() {
                let ready = subset.addresses.iter().flatten().map(|address| (address, "true"));
                let not_ready = subset.not_ready_addresses.iter().flatten().map(|address| (address, "false"));
                for (address, is_ready) in ready.chain(not_ready) {
                    family.sample(
                        "kube_endpoint_address",
                        &[("namespace", &namespace), ("endpoint", &name), ("ip", &address.ip), ("ready", is_ready)],
                        1.0,
                    );
                }
            }
        }
    }
}
