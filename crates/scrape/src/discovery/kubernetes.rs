//! Kubernetes service discovery (`kubernetes_sd_configs`), as Prometheus'
//! `discovery/kubernetes`: one module per role turns cached objects into target groups with
//! the `__meta_kubernetes_*` labels Prometheus documents, and group sources named as
//! Prometheus names them (`pod/<namespace>/<name>`, `svc/...`, `endpoints/...`,
//! `endpointslice/...`, `ingress/...`, `node/<name>`).
//!
//! Objects come from `panoptes-kube`'s shared watch caches: two jobs watching the same kind in
//! the same namespace with the same selectors share one list/watch. After the caches first
//! synced, the discoverer recomputes its groups whenever one of its caches changed (changes
//! arriving within [`SETTLE_DELAY`] are handled together) and sends them when they differ from
//! the last ones sent.

mod endpoints;
mod endpointslice;
mod ingress;
mod node;
mod pod;
mod service;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use panoptes_kube::k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use panoptes_kube::k8s_openapi::api::discovery::v1::EndpointSlice;
use panoptes_kube::k8s_openapi::api::networking::v1::Ingress;
use panoptes_kube::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use panoptes_kube::{
    ApiServerAuth, ApiServerOptions, Cluster, Clusters, ConnectionOptions, Scope, Secret, TlsOptions, WatchCache,
    WatchedKind,
};
use tokio::sync::{mpsc, watch};

use super::TargetGroup;
use super::run::Update;
use crate::config::{KubernetesRole, KubernetesSdConfig};
use panoptes_model::error_chain;

/// How long the discoverer waits after a change for more before recomputing its groups, so
/// that a rollout touching many objects yields one update.
const SETTLE_DELAY: Duration = Duration::from_millis(100);
/// How long to wait before connecting again after the connection settings failed.
const CONNECT_RETRY: Duration = Duration::from_secs(30);

/// The prefix of every label this discovery sets.
const META: &str = "__meta_kubernetes_";
/// `__meta_kubernetes_namespace`.
const NAMESPACE_LABEL: &str = "__meta_kubernetes_namespace";
/// The value of `*_present` labels.
const PRESENT: &str = "true";

/// A label set under construction.
type LabelSet = BTreeMap<String, String>;

/// Replaces every character that is not `[a-zA-Z0-9_]` with `_`, as Prometheus'
/// `strutil.SanitizeLabelName` does for Kubernetes label and annotation names.
pub(crate) fn sanitize_label_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// Adds `<role>_name`, `<role>_label_*`, `<role>_labelpresent_*`, `<role>_annotation_*` and
/// `<role>_annotationpresent_*` for an object's metadata (Prometheus `addObjectMetaLabels`).
fn add_object_meta_labels(labels: &mut LabelSet, metadata: &ObjectMeta, role: &str) {
    labels.insert(format!("{META}{role}_name"), metadata.name.clone().unwrap_or_default());
    add_label_and_annotation_labels(labels, metadata, role);
}

/// Adds the label and annotation labels of an object without its name.
fn add_label_and_annotation_labels(labels: &mut LabelSet, metadata: &ObjectMeta, role: &str) {
    for (key, value) in metadata.labels.iter().flatten() {
        let name = sanitize_label_name(key);
        labels.insert(format!("{META}{role}_label_{name}"), value.clone());
        labels.insert(format!("{META}{role}_labelpresent_{name}"), PRESENT.to_owned());
    }
    for (key, value) in metadata.annotations.iter().flatten() {
        let name = sanitize_label_name(key);
        labels.insert(format!("{META}{role}_annotation_{name}"), value.clone());
        labels.insert(format!("{META}{role}_annotationpresent_{name}"), PRESENT.to_owned());
    }
}

/// Joins a host and a port as Go's `net.JoinHostPort` does (IPv6 hosts in brackets).
fn join_host_port(host: &str, port: impl std::fmt::Display) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// The other objects a role's groups refer to.
pub(crate) trait Lookup {
    /// Returns a pod by namespace and name.
    fn pod(&self, namespace: &str, name: &str) -> Option<Arc<Pod>>;
    /// Returns a service by namespace and name.
    fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>>;
    /// Returns a node when `attach_metadata.node` is on.
    fn node(&self, name: &str) -> Option<Arc<Node>>;
    /// Returns true when `attach_metadata.node` is on.
    fn has_node_metadata(&self) -> bool;
    /// Returns a namespace when `attach_metadata.namespace` is on.
    fn namespace(&self, name: &str) -> Option<Arc<Namespace>>;
}

/// Adds the labels of the node `name` (`__meta_kubernetes_node_name` and its labels and
/// annotations) when node metadata is attached and the node is known (Prometheus
/// `addNodeLabels`).
fn add_node_labels(labels: &mut LabelSet, lookup: &dyn Lookup, name: Option<&str>) {
    if let Some(node) = name.and_then(|name| lookup.node(name)) {
        add_object_meta_labels(labels, &node.metadata, "node");
    }
}

/// Adds the labels and annotations of the object's namespace when namespace metadata is
/// attached (`__meta_kubernetes_namespace_label_*`, `_labelpresent_*`, `_annotation_*`,
/// `_annotationpresent_*`).
fn add_namespace_labels(labels: &mut LabelSet, lookup: &dyn Lookup, namespace: &str) {
    if let Some(namespace) = lookup.namespace(namespace) {
        add_label_and_annotation_labels(labels, &namespace.metadata, "namespace");
    }
}

/// Returns the group of one target set, or `None` when it has no target.
fn group(source: String, labels: LabelSet, targets: Vec<LabelSet>) -> Option<TargetGroup> {
    (!targets.is_empty()).then_some(TargetGroup { targets, labels, source })
}

/// Turns a discovery's HTTP client settings into connection options for `panoptes-kube`.
///
/// `proxy_url` and `http_headers` go to the Kubernetes client (header files are read now, at
/// connection time). What that client cannot honour is refused with the reason: OAuth 2.0 (it
/// takes no token source), `no_proxy` and `proxy_from_environment` (one proxy for every
/// request, chosen here), `proxy_connect_header` (it sends no headers of its own on `CONNECT`),
/// TLS version bounds, an `authorization` type other than `Bearer`.
///
/// # Errors
///
/// Returns a message naming the setting that Kubernetes discovery cannot honour and why, or the
/// basic-auth or header file that cannot be read.
pub fn connection_options(config: &KubernetesSdConfig) -> Result<ConnectionOptions, String> {
    if let Some(path) = config.kubeconfig_file.as_deref().filter(|path| !path.is_empty()) {
        return Ok(ConnectionOptions::Kubeconfig { path: PathBuf::from(path), context: None });
    }
    let Some(url) = config.api_server.as_deref().filter(|url| !url.is_empty()) else {
        return Ok(ConnectionOptions::InCluster);
    };
    let client = config.http_client();
    let unsupported = |field: &str, why: &str| {
        Err(format!("kubernetes_sd_configs: {field} is not supported by Kubernetes discovery ({why})"))
    };
    if client.oauth2.is_some() {
        return unsupported("oauth2", "the Kubernetes client takes no OAuth 2.0 token source; use a bearer token file");
    }
    if client.proxy_from_environment {
        return unsupported("proxy_from_environment", "the Kubernetes client takes one proxy; set proxy_url");
    }
    if client.no_proxy.as_deref().is_some_and(|hosts| !hosts.is_empty()) {
        return unsupported(
            "no_proxy",
            "the Kubernetes client sends every request to proxy_url; remove proxy_url instead",
        );
    }
    if !client.proxy_connect_header.is_empty() {
        return unsupported("proxy_connect_header", "the Kubernetes client sends no headers of its own on CONNECT");
    }
    if client.tls_config.min_version.is_some() || client.tls_config.max_version.is_some() {
        return unsupported("tls_config.min_version/max_version", "the Kubernetes client sets no TLS version bounds");
    }
    let read = |field: &str, path: &str| {
        std::fs::read_to_string(path)
            .map(|text| text.trim().to_owned())
            .map_err(|error| format!("kubernetes_sd_configs: cannot read {field} {path}: {error}"))
    };
    let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let auth = if let Some(token) = client.bearer_token.as_ref().filter(|token| !token.is_empty()) {
        ApiServerAuth::BearerToken(Secret::new(token.expose()))
    } else if let Some(path) = non_empty(&client.bearer_token_file) {
        ApiServerAuth::BearerTokenFile(PathBuf::from(path))
    } else if let Some(authorization) = &client.authorization {
        let scheme = authorization.scheme.as_deref().unwrap_or("Bearer");
        if !scheme.is_empty() && scheme != "Bearer" {
            return Err(format!(
                "kubernetes_sd_configs: authorization type {scheme:?} is not supported by Kubernetes discovery (only Bearer)"
            ));
        }
        match (&authorization.credentials, non_empty(&authorization.credentials_file)) {
            (Some(credentials), _) if !credentials.is_empty() => {
                ApiServerAuth::BearerToken(Secret::new(credentials.expose()))
            }
            (_, Some(path)) => ApiServerAuth::BearerTokenFile(PathBuf::from(path)),
            _ => ApiServerAuth::None,
        }
    } else if let Some(basic) = &client.basic_auth {
        let username = match non_empty(&basic.username_file) {
            Some(path) => read("basic_auth.username_file", &path)?,
            None => basic.username.clone(),
        };
        let password = match (&basic.password, non_empty(&basic.password_file)) {
            (Some(password), _) if !password.is_empty() => password.expose().to_owned(),
            (_, Some(path)) => read("basic_auth.password_file", &path)?,
            _ => String::new(),
        };
        ApiServerAuth::Basic { username, password: Secret::new(password) }
    } else {
        ApiServerAuth::None
    };
    let tls = &client.tls_config;
    let tls = TlsOptions {
        ca_pem: tls.ca.clone(),
        ca_file: non_empty(&tls.ca_file).map(PathBuf::from),
        cert_pem: tls.cert.clone(),
        cert_file: non_empty(&tls.cert_file).map(PathBuf::from),
        key_pem: tls.key.as_ref().map(|key| Secret::new(key.expose())),
        key_file: non_empty(&tls.key_file).map(PathBuf::from),
        server_name: non_empty(&tls.server_name),
        insecure_skip_verify: tls.insecure_skip_verify,
    };
    let proxy_url = client.proxy_url.as_deref().filter(|url| !url.is_empty()).map(Secret::new);
    let mut headers = Vec::new();
    for (name, header) in &client.http_headers {
        headers.extend(header.values.iter().map(|value| (name.clone(), Secret::new(value.clone()))));
        headers.extend(header.secrets.iter().map(|value| (name.clone(), Secret::new(value.expose()))));
        for path in &header.files {
            headers.push((name.clone(), Secret::new(read(&format!("http_headers {name} file"), path)?)));
        }
    }
    Ok(ConnectionOptions::ApiServer(ApiServerOptions { url: url.to_owned(), auth, tls, proxy_url, headers }))
}

/// The caches one discoverer reads.
#[derive(Default)]
struct Caches {
    nodes: Option<Arc<WatchCache<Node>>>,
    namespaces: Option<Arc<WatchCache<Namespace>>>,
    pods: Vec<Arc<WatchCache<Pod>>>,
    services: Vec<Arc<WatchCache<Service>>>,
    endpoints: Vec<Arc<WatchCache<Endpoints>>>,
    endpoint_slices: Vec<Arc<WatchCache<EndpointSlice>>>,
    ingresses: Vec<Arc<WatchCache<Ingress>>>,
}

impl Lookup for Caches {
    fn pod(&self, namespace: &str, name: &str) -> Option<Arc<Pod>> {
        self.pods.iter().find_map(|cache| cache.get(namespace, name))
    }

    fn service(&self, namespace: &str, name: &str) -> Option<Arc<Service>> {
        self.services.iter().find_map(|cache| cache.get(namespace, name))
    }

    fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.as_ref().and_then(|cache| cache.get("", name))
    }

    fn has_node_metadata(&self) -> bool {
        self.nodes.is_some()
    }

    fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        self.namespaces.as_ref().and_then(|cache| cache.get("", name))
    }
}

impl Caches {
    /// Opens the caches a role needs in every watched namespace.
    fn open(cluster: &Cluster, config: &KubernetesSdConfig, role: KubernetesRole) -> Caches {
        let namespaces: Vec<Option<String>> = {
            let mut names = config.namespaces.names.clone();
            if config.namespaces.own_namespace {
                names.push(cluster.default_namespace().to_owned());
            }
            names.sort();
            names.dedup();
            if names.is_empty() { vec![None] } else { names.into_iter().map(Some).collect() }
        };
        let scope = |selector_role: KubernetesRole, namespace: Option<&String>| {
            let selector = config.selectors.iter().find(|selector| selector.role == selector_role);
            Scope {
                namespace: namespace.cloned(),
                label_selector: selector.and_then(|selector| selector.label.clone()),
                field_selector: selector.and_then(|selector| selector.field.clone()),
            }
        };
        fn each<K: WatchedKind>(
            cluster: &Cluster,
            namespaces: &[Option<String>],
            scope: impl Fn(Option<&String>) -> Scope,
        ) -> Vec<Arc<WatchCache<K>>> {
            namespaces.iter().map(|namespace| cluster.watch::<K>(scope(namespace.as_ref()))).collect()
        }
        let mut caches = Caches::default();
        let wants_nodes = role == KubernetesRole::Node
            || (config.attach_metadata.node
                && matches!(role, KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice));
        if wants_nodes {
            caches.nodes = Some(cluster.watch::<Node>(scope(KubernetesRole::Node, None)));
        }
        if config.attach_metadata.namespace && role != KubernetesRole::Node {
            caches.namespaces = Some(cluster.watch::<Namespace>(Scope::default()));
        }
        match role {
            KubernetesRole::Node => {}
            KubernetesRole::Pod => caches.pods = each(cluster, &namespaces, |ns| scope(KubernetesRole::Pod, ns)),
            KubernetesRole::Service => {
                caches.services = each(cluster, &namespaces, |ns| scope(KubernetesRole::Service, ns));
            }
            KubernetesRole::Endpoints | KubernetesRole::EndpointSlice => {
                caches.pods = each(cluster, &namespaces, |ns| scope(KubernetesRole::Pod, ns));
                caches.services = each(cluster, &namespaces, |ns| scope(KubernetesRole::Service, ns));
                if role == KubernetesRole::Endpoints {
                    caches.endpoints = each(cluster, &namespaces, |ns| scope(KubernetesRole::Endpoints, ns));
                } else {
                    caches.endpoint_slices = each(cluster, &namespaces, |ns| scope(KubernetesRole::EndpointSlice, ns));
                }
            }
            KubernetesRole::Ingress => {
                caches.ingresses = each(cluster, &namespaces, |ns| scope(KubernetesRole::Ingress, ns));
            }
        }
        caches
    }

    /// Returns a change receiver of every cache.
    fn subscribe(&self) -> Vec<watch::Receiver<u64>> {
        let mut receivers = Vec::new();
        receivers.extend(self.nodes.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.namespaces.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.pods.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.services.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.endpoints.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.endpoint_slices.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.ingresses.iter().map(|cache| cache.subscribe()));
        receivers
    }

    /// Waits until every cache listed once.
    async fn wait_synced(&self) {
        if let Some(cache) = &self.nodes {
            cache.wait_synced().await;
        }
        if let Some(cache) = &self.namespaces {
            cache.wait_synced().await;
        }
        for cache in &self.pods {
            cache.wait_synced().await;
        }
        for cache in &self.services {
            cache.wait_synced().await;
        }
        for cache in &self.endpoints {
            cache.wait_synced().await;
        }
        for cache in &self.endpoint_slices {
            cache.wait_synced().await;
        }
        for cache in &self.ingresses {
            cache.wait_synced().await;
        }
    }

    /// Builds every group of `role` from the caches' current contents.
    fn groups(&self, role: KubernetesRole) -> Vec<TargetGroup> {
        match role {
            KubernetesRole::Node => {
                self.nodes.iter().flat_map(|cache| cache.objects()).filter_map(|object| node::build(&object)).collect()
            }
            KubernetesRole::Pod => self
                .pods
                .iter()
                .flat_map(|cache| cache.objects())
                .filter_map(|object| pod::build(&object, self))
                .collect(),
            KubernetesRole::Service => self
                .services
                .iter()
                .flat_map(|cache| cache.objects())
                .filter_map(|object| service::build(&object, self))
                .collect(),
            KubernetesRole::Endpoints => self
                .endpoints
                .iter()
                .flat_map(|cache| cache.objects())
                .filter_map(|object| endpoints::build(&object, self))
                .collect(),
            KubernetesRole::EndpointSlice => self
                .endpoint_slices
                .iter()
                .flat_map(|cache| cache.objects())
                .filter_map(|object| endpointslice::build(&object, self))
                .collect(),
            KubernetesRole::Ingress => self
                .ingresses
                .iter()
                .flat_map(|cache| cache.objects())
                .filter_map(|object| ingress::build(&object, self))
                .collect(),
        }
    }
}

/// Runs one `kubernetes_sd_configs` entry: connects, opens the caches its role needs, and
/// sends its complete group list whenever it changes. Ends when the pool stops listening.
pub(crate) async fn run(config: KubernetesSdConfig, index: usize, updates: mpsc::Sender<Update>, clusters: Clusters) {
    let Some(role) = config.role else {
        return;
    };
    let options = match connection_options(&config) {
        Ok(options) => options,
        Err(error) => {
            tracing::error!(error = %error, "kubernetes SD: unusable settings; no targets from it");
            return;
        }
    };
    let cluster = loop {
        match clusters.connect(&options).await {
            Ok(cluster) => break cluster,
            Err(error) => {
                tracing::error!(connection = %options.describe(), error = %error_chain(&error), "kubernetes SD: cannot connect");
                if updates.is_closed() {
                    return;
                }
                tokio::time::sleep(CONNECT_RETRY).await;
            }
        }
    };
    let caches = Caches::open(&cluster, &config, role);
    let mut receivers = caches.subscribe();
    tokio::select! {
        () = caches.wait_synced() => {}
        () = updates.closed() => return,
    }
    let mut last_sent: Option<Vec<TargetGroup>> = None;
    loop {
        for receiver in &mut receivers {
            receiver.borrow_and_update();
        }
        let groups = caches.groups(role);
        if last_sent.as_ref() != Some(&groups) {
            if updates.send((index, groups.clone())).await.is_err() {
                return;
            }
            last_sent = Some(groups);
        }
        let changed = futures::future::select_all(receivers.iter_mut().map(|receiver| Box::pin(receiver.changed())));
        tokio::select! {
            _ = changed => {}
            () = updates.closed() => return,
        }
        tokio::time::sleep(SETTLE_DELAY).await;
    }
}
