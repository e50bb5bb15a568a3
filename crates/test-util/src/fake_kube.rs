//! A fake Kubernetes API server on loopback, for tests. No real API server can run on the
//! build machines, so this one speaks the real wire format that clients see: JSON lists with
//! `metadata.resourceVersion` (and `limit`/`continue` paging), `?watch=1` chunked streams of
//! newline-delimited watch events starting after the requested `resourceVersion`, `BOOKMARK`
//! events when `allowWatchBookmarks=true`, `410 Gone` for compacted resource versions (an
//! `ERROR` event carrying a `Status` with code 410, as the API server sends it, or an HTTP 410
//! answer), `timeoutSeconds`, and `labelSelector`/`fieldSelector` filtering, including the
//! `DELETED`/`ADDED` events a watch sees when an object leaves or enters its selector.
//!
//! Objects are `serde_json::Value`s, so the server is kind-agnostic; [`bookinfo`] turns the
//! Istio Bookinfo manifests into live objects (nodes, pods with IPs, endpoints, endpoint
//! slices) and plays the controllers' part when a test scales or deletes something.
//!
//! Test controls: [`FakeApiServer::hold_watches`] closes every open watch and makes new ones
//! wait until [`FakeApiServer::release_watches`]; [`FakeApiServer::compact`] expires every
//! resource version before the current one, as etcd compaction does;
//! [`FakeApiServer::require_bearer_token`] makes it answer `401 Unauthorized` (a `Status`, as the
//! API server does) to requests without that token.

pub mod bookinfo;
mod selector;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, watch};

pub use selector::{FieldSelector, LabelSelector};

/// A resource the fake serves: its plural name, API path prefix, kind and scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// The plural name in URLs, e.g. `pods`.
    pub plural: &'static str,
    /// The group/version path, e.g. `api/v1` or `apis/discovery.k8s.io/v1`.
    pub prefix: &'static str,
    /// The `apiVersion` of objects.
    pub api_version: &'static str,
    /// The kind, e.g. `Pod`.
    pub kind: &'static str,
    /// True for namespaced kinds.
    pub is_namespaced: bool,
}

/// Every resource the fake serves.
pub const RESOURCES: &[ResourceType] = &[
    ResourceType { plural: "pods", prefix: "api/v1", api_version: "v1", kind: "Pod", is_namespaced: true },
    ResourceType { plural: "services", prefix: "api/v1", api_version: "v1", kind: "Service", is_namespaced: true },
    ResourceType { plural: "endpoints", prefix: "api/v1", api_version: "v1", kind: "Endpoints", is_namespaced: true },
    ResourceType { plural: "nodes", prefix: "api/v1", api_version: "v1", kind: "Node", is_namespaced: false },
    ResourceType { plural: "namespaces", prefix: "api/v1", api_version: "v1", kind: "Namespace", is_namespaced: false },
    // Served like any core kind; a Secret's `data` values are base64, as the real API sends them.
    ResourceType { plural: "secrets", prefix: "api/v1", api_version: "v1", kind: "Secret", is_namespaced: true },
    ResourceType { plural: "configmaps", prefix: "api/v1", api_version: "v1", kind: "ConfigMap", is_namespaced: true },
    ResourceType {
        plural: "endpointslices",
        prefix: "apis/discovery.k8s.io/v1",
        api_version: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        is_namespaced: true,
    },
    ResourceType {
        plural: "ingresses",
        prefix: "apis/networking.k8s.io/v1",
        api_version: "networking.k8s.io/v1",
        kind: "Ingress",
        is_namespaced: true,
    },
    ResourceType {
        plural: "deployments",
        prefix: "apis/apps/v1",
        api_version: "apps/v1",
        kind: "Deployment",
        is_namespaced: true,
    },
    ResourceType {
        plural: "statefulsets",
        prefix: "apis/apps/v1",
        api_version: "apps/v1",
        kind: "StatefulSet",
        is_namespaced: true,
    },
    ResourceType {
        plural: "daemonsets",
        prefix: "apis/apps/v1",
        api_version: "apps/v1",
        kind: "DaemonSet",
        is_namespaced: true,
    },
    ResourceType {
        plural: "replicasets",
        prefix: "apis/apps/v1",
        api_version: "apps/v1",
        kind: "ReplicaSet",
        is_namespaced: true,
    },
    // The prometheus-operator's custom resources, served as the API server serves a CRD's
    // objects (the same list/watch protocol under their group's path).
    ResourceType {
        plural: "servicemonitors",
        prefix: "apis/monitoring.coreos.com/v1",
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        is_namespaced: true,
    },
    ResourceType {
        plural: "podmonitors",
        prefix: "apis/monitoring.coreos.com/v1",
        api_version: "monitoring.coreos.com/v1",
        kind: "PodMonitor",
        is_namespaced: true,
    },
    ResourceType {
        plural: "probes",
        prefix: "apis/monitoring.coreos.com/v1",
        api_version: "monitoring.coreos.com/v1",
        kind: "Probe",
        is_namespaced: true,
    },
    ResourceType {
        plural: "prometheusrules",
        prefix: "apis/monitoring.coreos.com/v1",
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        is_namespaced: true,
    },
];

/// Returns the resource type of `kind` (e.g. `Pod`).
pub fn resource_of_kind(kind: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|resource| resource.kind == kind)
}

fn resource_of_plural(plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|resource| resource.plural == plural)
}

/// How the server refuses a watch from a compacted resource version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GoneStyle {
    /// `200 OK` and one `ERROR` event with a 410 `Status`, as the API server's watch cache does.
    ErrorEvent,
    /// An HTTP `410 Gone` answer with a `Status` body.
    HttpStatus,
}

/// One change of an object, kept in the history that watches replay.
#[derive(Debug, Clone)]
struct Change {
    resource: &'static str,
    version: u64,
    /// The object before the change (`None` when added).
    old: Option<Value>,
    /// The object after the change (`None` when deleted).
    new: Option<Value>,
}

type ObjectMap = BTreeMap<(String, String), Value>;

struct ServerState {
    version: u64,
    next_uid: u64,
    objects: BTreeMap<&'static str, ObjectMap>,
    history: Vec<Change>,
    /// Watches from a version older than this get `410 Gone`.
    oldest_watchable: u64,
    /// Every request: `list pods`, `watch pods from 12` ...
    requests: Vec<String>,
    /// The plural and namespace (`None`: all namespaces) of every list request.
    lists: Vec<(&'static str, Option<String>)>,
    gone_style: GoneStyle,
    bookmark_interval: Duration,
    /// The `Authorization` header of the latest request.
    last_authorization: Option<String>,
    /// When set, requests must carry `Authorization: Bearer <token>`.
    required_token: Option<String>,
    /// How many requests were refused with 401.
    unauthorized: usize,
}

struct Inner {
    state: Mutex<ServerState>,
    changes: broadcast::Sender<Change>,
    /// While true, open watches end and new ones wait.
    held: watch::Sender<bool>,
    /// Incremented to end every open watch stream.
    closes: watch::Sender<u64>,
}

/// The fake API server; stops when dropped.
pub struct FakeApiServer {
    inner: Arc<Inner>,
    address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FakeApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeApiServer").field("address", &self.address).finish()
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApiServer {
    /// Starts an empty server on `127.0.0.1` at a free port.
    ///
    /// # Panics
    ///
    /// Panics when no loopback port can be bound (tests cannot run then).
    pub async fn start() -> Self {
        let inner = Arc::new(Inner {
            state: Mutex::new(ServerState {
                version: 100,
                next_uid: 1,
                objects: BTreeMap::new(),
                history: Vec::new(),
                oldest_watchable: 0,
                requests: Vec::new(),
                lists: Vec::new(),
                gone_style: GoneStyle::ErrorEvent,
                bookmark_interval: Duration::from_secs(1),
                last_authorization: None,
                required_token: None,
                unauthorized: 0,
            }),
            changes: broadcast::channel(4096).0,
            held: watch::channel(false).0,
            closes: watch::channel(0).0,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let app = axum::Router::new().fallback(handle).with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeApiServer { inner, address, task }
    }

    /// Returns the server's URL, e.g. `http://127.0.0.1:43123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Chooses how watches from compacted versions are refused.
    pub fn set_gone_style(&self, style: GoneStyle) {
        self.inner.state.lock().gone_style = style;
    }

    /// Sets how often watches that asked for bookmarks get one (default 1 s).
    pub fn set_bookmark_interval(&self, interval: Duration) {
        self.inner.state.lock().bookmark_interval = interval;
    }

    /// Returns the current resource version.
    pub fn resource_version(&self) -> u64 {
        self.inner.state.lock().version
    }

    /// Returns every request served so far (`list pods`, `watch pods from 12`, `gone pods from 12`).
    pub fn requests(&self) -> Vec<String> {
        self.inner.state.lock().requests.clone()
    }

    /// Returns the namespace of every list request of `plural` so far, in order (`None`: a
    /// list across all namespaces).
    pub fn list_namespaces(&self, plural: &str) -> Vec<Option<String>> {
        let state = self.inner.state.lock();
        state.lists.iter().filter(|(listed, _)| *listed == plural).map(|(_, namespace)| namespace.clone()).collect()
    }

    /// Returns the `Authorization` header of the latest request, if it had one.
    pub fn last_authorization(&self) -> Option<String> {
        self.inner.state.lock().last_authorization.clone()
    }

    /// Makes every later request need `Authorization: Bearer <token>`; others get
    /// `401 Unauthorized`. A new token replaces the old one at once (a rotated service account
    /// token whose predecessor expired).
    pub fn require_bearer_token(&self, token: &str) {
        self.inner.state.lock().required_token = Some(token.to_owned());
    }

    /// Returns how many requests were refused with `401 Unauthorized`.
    pub fn unauthorized_requests(&self) -> usize {
        self.inner.state.lock().unauthorized
    }

    /// Returns how many requests start with `prefix`, e.g. `list pods`.
    pub fn count_requests(&self, prefix: &str) -> usize {
        self.inner.state.lock().requests.iter().filter(|request| request.starts_with(prefix)).count()
    }

    /// Creates or replaces an object (its kind and `apiVersion` name the resource), stamping
    /// a new resource version, and a uid and creation time when missing. Returns the stored
    /// object.
    ///
    /// A real API server validates what it stores; this fake serves malformed objects too (a
    /// proxy or an aggregated API can send them): a `metadata.name` that is not a string is
    /// stored under its JSON text.
    ///
    /// # Panics
    ///
    /// Panics when the object's kind is not served, it has no name or its `metadata` is not
    /// an object (a test bug).
    pub fn apply(&self, mut object: Value) -> Value {
        let kind = object["kind"].as_str().unwrap_or_default().to_owned();
        let resource = resource_of_kind(&kind).unwrap_or_else(|| panic!("the fake does not serve kind {kind:?}"));
        object["apiVersion"] = json!(resource.api_version);
        let name = match &object["metadata"]["name"] {
            Value::String(name) => name.clone(),
            Value::Null => panic!("object has no name"),
            other => other.to_string(),
        };
        let namespace = if resource.is_namespaced {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
            object["metadata"]["namespace"] = json!(namespace);
            namespace
        } else {
            String::new()
        };
        let mut state = self.inner.state.lock();
        state.version += 1;
        let version = state.version;
        let old = state.objects.entry(resource.plural).or_default().get(&(namespace.clone(), name.clone())).cloned();
        let metadata = &mut object["metadata"];
        metadata["resourceVersion"] = json!(version.to_string());
        match &old {
            Some(old) => {
                metadata["uid"] = old["metadata"]["uid"].clone();
                metadata["creationTimestamp"] = old["metadata"]["creationTimestamp"].clone();
            }
            None => {
                if metadata["uid"].is_null() {
                    metadata["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", state.next_uid));
                    state.next_uid += 1;
                }
                if metadata["creationTimestamp"].is_null() {
                    metadata["creationTimestamp"] = json!("2026-12-01T00:00:00Z");
                }
            }
        }
        state.objects.entry(resource.plural).or_default().insert((namespace, name), object.clone());
        let change = Change { resource: resource.plural, version, old, new: Some(object.clone()) };
        state.history.push(change.clone());
        // Sent under the lock so that a watch starting now sees it exactly once.
        let _ = self.inner.changes.send(change);
        object
    }

    /// Deletes an object; returns it, or `None` when it did not exist.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let resource = resource_of_kind(kind)?;
        let namespace = if resource.is_namespaced { namespace.to_owned() } else { String::new() };
        let mut state = self.inner.state.lock();
        let mut old = state.objects.get_mut(resource.plural)?.remove(&(namespace, name.to_owned()))?;
        state.version += 1;
        let version = state.version;
        let mut deleted = old.clone();
        deleted["metadata"]["resourceVersion"] = json!(version.to_string());
        let change = Change { resource: resource.plural, version, old: Some(old.clone()), new: None };
        state.history.push(change.clone());
        let _ = self.inner.changes.send(change);
        old["metadata"]["resourceVersion"] = json!(version.to_string());
        Some(old)
    }

    /// Returns an object, if it exists.
    pub fn get(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let resource = resource_of_kind(kind)?;
        let namespace = if resource.is_namespaced { namespace.to_owned() } else { String::new() };
        self.inner.state.lock().objects.get(resource.plural)?.get(&(namespace, name.to_owned())).cloned()
    }

    /// Returns every object of a kind, ordered by namespace and name.
    pub fn list(&self, kind: &str) -> Vec<Value> {
        let Some(resource) = resource_of_kind(kind) else {
            return Vec::new();
        };
        self.inner
            .state
            .lock()
            .objects
            .get(resource.plural)
            .map(|objects| objects.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Expires every resource version before the current one: later watches from them get
    /// `410 Gone`, as after an etcd compaction.
    pub fn compact(&self) {
        let mut state = self.inner.state.lock();
        state.oldest_watchable = state.version;
        let oldest = state.oldest_watchable;
        state.history.retain(|change| change.version > oldest);
    }

    /// Ends every open watch stream and makes new watch requests wait until
    /// [`FakeApiServer::release_watches`], so a test can change objects unseen by clients.
    pub fn hold_watches(&self) {
        self.inner.held.send_replace(true);
        self.inner.closes.send_modify(|closes| *closes += 1);
    }

    /// Lets waiting and new watch requests proceed.
    pub fn release_watches(&self) {
        self.inner.held.send_replace(false);
    }

    /// Ends every open watch stream; clients reconnect from their last resource version.
    pub fn close_watches(&self) {
        self.inner.closes.send_modify(|closes| *closes += 1);
    }
}

/// Parsed `GET` path: resource and namespace.
fn parse_path(path: &str) -> Option<(&'static ResourceType, Option<String>)> {
    let path = path.trim_start_matches('/');
    let rest = if let Some(rest) = path.strip_prefix("api/v1/") {
        ("api/v1", rest)
    } else {
        let rest = path.strip_prefix("apis/")?;
        let mut parts = rest.splitn(3, '/');
        let group = parts.next()?;
        let version = parts.next()?;
        let rest = parts.next()?;
        let prefix = format!("apis/{group}/{version}");
        let resource_plural = rest.rsplit('/').next()?;
        let resource = resource_of_plural(resource_plural).filter(|resource| resource.prefix == prefix)?;
        return namespace_of(rest, resource);
    };
    let resource_plural = rest.1.rsplit('/').next()?;
    let resource = resource_of_plural(resource_plural).filter(|resource| resource.prefix == rest.0)?;
    namespace_of(rest.1, resource)
}

fn namespace_of(rest: &str, resource: &'static ResourceType) -> Option<(&'static ResourceType, Option<String>)> {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [plural] if *plural == resource.plural => Some((resource, None)),
        ["namespaces", namespace, plural] if *plural == resource.plural && resource.is_namespaced => {
            Some((resource, Some((*namespace).to_owned())))
        }
        _ => None,
    }
}

/// What a request filters on.
struct Filter {
    namespace: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        if let Some(namespace) = &self.namespace
            && object["metadata"]["namespace"].as_str() != Some(namespace)
        {
            return false;
        }
        self.labels.matches(object) && self.fields.matches(object)
    }
}

fn status(code: StatusCode, reason: &str, message: String) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (code, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    uri: Uri,
    headers: axum::http::HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
    {
        let mut state = inner.state.lock();
        let is_allowed = match &state.required_token {
            Some(token) => authorization.as_deref().and_then(|value| value.strip_prefix("Bearer ")) == Some(token),
            None => true,
        };
        state.last_authorization = authorization;
        if !is_allowed {
            state.unauthorized += 1;
            drop(state);
            return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized".to_owned());
        }
    }
    let Some((resource, namespace)) = parse_path(uri.path()) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("the server could not find the requested resource {}", uri.path()),
        );
    };
    let labels = match LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or_default()) {
        Ok(selector) => selector,
        Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", message),
    };
    let fields = match FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or_default()) {
        Ok(selector) => selector,
        Err(message) => return status(StatusCode::BAD_REQUEST, "BadRequest", message),
    };
    let filter = Filter { namespace, labels, fields };
    let is_watch = matches!(query.get("watch").map(String::as_str), Some("1" | "true"));
    if is_watch {
        watch_response(inner, resource, filter, &query).await
    } else {
        list_response(&inner, resource, &filter, &query)
    }
}

fn list_response(
    inner: &Inner,
    resource: &'static ResourceType,
    filter: &Filter,
    query: &BTreeMap<String, String>,
) -> Response {
    let mut state = inner.state.lock();
    state.requests.push(format!("list {}", resource.plural));
    state.lists.push((resource.plural, filter.namespace.clone()));
    let all: Vec<Value> = state
        .objects
        .get(resource.plural)
        .map(|objects| objects.values().filter(|object| filter.matches(object)).cloned().collect())
        .unwrap_or_default();
    // `continue` is the offset of the next page; a real server's token is opaque.
    let start: usize = query.get("continue").and_then(|token| token.parse().ok()).unwrap_or(0);
    let limit: usize =
        query.get("limit").and_then(|limit| limit.parse().ok()).filter(|limit| *limit > 0).unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(all.len());
    let items: Vec<Value> = all.get(start..end).map(<[Value]>::to_vec).unwrap_or_default();
    let mut metadata = json!({ "resourceVersion": state.version.to_string() });
    if end < all.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(all.len() - end);
    }
    let body = json!({
        "kind": format!("{}List", resource.kind),
        "apiVersion": resource.api_version,
        "metadata": metadata,
        "items": items,
    });
    ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn event_line(event_type: &str, object: &Value) -> String {
    let mut line = json!({ "type": event_type, "object": object }).to_string();
    line.push('\n');
    line
}

/// Returns the event a filtered watch sees for a change, if any.
fn filtered_event(change: &Change, filter: &Filter) -> Option<String> {
    let old_matches = change.old.as_ref().is_some_and(|old| filter.matches(old));
    let new_matches = change.new.as_ref().is_some_and(|new| filter.matches(new));
    match (&change.old, &change.new) {
        (_, Some(new)) if new_matches && old_matches => Some(event_line("MODIFIED", new)),
        (_, Some(new)) if new_matches => Some(event_line("ADDED", new)),
        // The object left the selector: the watch sees it deleted, with its new state.
        (Some(_), Some(new)) if old_matches => Some(event_line("DELETED", new)),
        (Some(old), None) if old_matches => {
            let mut deleted = old.clone();
            deleted["metadata"]["resourceVersion"] = json!(change.version.to_string());
            Some(event_line("DELETED", &deleted))
        }
        _ => None,
    }
}

async fn watch_response(
    inner: Arc<Inner>,
    resource: &'static ResourceType,
    filter: Filter,
    query: &BTreeMap<String, String>,
) -> Response {
    let mut held = inner.held.subscribe();
    let _ = held.wait_for(|held| !held).await;
    let from: u64 = query.get("resourceVersion").and_then(|version| version.parse().ok()).unwrap_or(0);
    let wants_bookmarks = query.get("allowWatchBookmarks").is_some_and(|value| value == "true" || value == "1");
    let timeout = query.get("timeoutSeconds").and_then(|seconds| seconds.parse().ok()).map(Duration::from_secs);
    let (backlog, mut changes, bookmark_interval, gone, from_version) = {
        let mut state = inner.state.lock();
        // Version 0 means "any": start from now.
        let from = if from == 0 { state.version } else { from };
        let current = state.version;
        if from < state.oldest_watchable {
            state.requests.push(format!("gone {} from {from}", resource.plural));
            let message = format!("too old resource version: {from} ({})", state.oldest_watchable);
            (Vec::new(), inner.changes.subscribe(), state.bookmark_interval, Some((state.gone_style, message)), current)
        } else {
            state.requests.push(format!("watch {} from {from}", resource.plural));
            let backlog: Vec<String> = state
                .history
                .iter()
                .filter(|change| change.resource == resource.plural && change.version > from)
                .filter_map(|change| filtered_event(change, &filter))
                .collect();
            (backlog, inner.changes.subscribe(), state.bookmark_interval, None, current)
        }
    };
    if let Some((GoneStyle::HttpStatus, message)) = &gone {
        return status(StatusCode::GONE, "Expired", message.clone());
    }
    let (sender, receiver) = mpsc::channel::<String>(64);
    let mut closes = inner.closes.subscribe();
    closes.mark_unchanged();
    tokio::spawn(async move {
        if let Some((_, message)) = gone {
            let status = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": "Expired", "code": 410,
            });
            let _ = sender.send(event_line("ERROR", &status)).await;
            return;
        }
        for line in backlog {
            if sender.send(line).await.is_err() {
                return;
            }
        }
        // Bookmarks carry the newest version this stream has passed, so that a client resuming
        // from one never skips an event still queued for it.
        let mut last_seen = from_version;
        let deadline = timeout.map(|timeout| tokio::time::Instant::now() + timeout);
        let mut bookmarks = tokio::time::interval(bookmark_interval);
        bookmarks.tick().await;
        loop {
            let line = tokio::select! {
                change = changes.recv() => match change {
                    Ok(change) => {
                        last_seen = last_seen.max(change.version);
                        if change.resource == resource.plural { filtered_event(&change, &filter) } else { None }
                    }
                    // A watcher that fell behind loses its stream, as on a real server.
                    Err(_) => return,
                },
                _ = bookmarks.tick(), if wants_bookmarks => {
                    Some(event_line("BOOKMARK", &json!({
                        "kind": resource.kind,
                        "apiVersion": resource.api_version,
                        "metadata": { "resourceVersion": last_seen.to_string() },
                    })))
                }
                _ = closes.changed() => return,
                () = async { match deadline { Some(deadline) => tokio::time::sleep_until(deadline).await, None => std::future::pending().await } } => return,
            };
            if let Some(line) = line
                && sender.send(line).await.is_err()
            {
                return;
            }
        }
    });
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|line| (Ok::<_, Infallible>(line), receiver))
    });
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(stream)).into_response()
}
