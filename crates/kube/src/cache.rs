//! A watch cache: the objects of one resource kind in one scope (namespace, label and field
//! selectors), kept current by list and watch, as client-go's reflector does.
//!
//! The cache lists every object (in pages), then watches from the list's resource version
//! with bookmarks enabled. Watch streams end when the server's timeout passes, and the cache
//! resumes from the last resource version it saw (an event's or a bookmark's). When the server
//! says that version is too old (`410 Gone`, as an `ERROR` event or as the HTTP status), the
//! cache lists again and replaces its contents. Failed requests are retried with exponential
//! backoff. Users read snapshots and wait for change notifications; they never see a half-applied
//! list.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use kube::api::{ListParams, ObjectList, WatchEvent, WatchParams};
use kube::{Resource, ResourceExt};
use parking_lot::RwLock;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use crate::metrics::{CacheLabels, EventLabels, KubeMetrics, ListLabels};

/// How many objects one list page asks for (client-go's reflector uses the same).
const LIST_PAGE_SIZE: u32 = 500;
/// The first retry delay after a failed request.
const INITIAL_BACKOFF: Duration = Duration::from_millis(500);
/// The longest retry delay: long enough not to hammer a struggling API server, short enough
/// that discovery recovers within a scrape interval or two.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The watch timeout asked of the server; kube refuses 295 s and more. Each watch adds up to
/// `WATCH_TIMEOUT_JITTER_SECS` so that many caches do not reconnect together.
const WATCH_TIMEOUT_SECS: u32 = 240;
const WATCH_TIMEOUT_JITTER_SECS: u32 = 50;
/// How long one list page may take. Clients have no read timeout (watches stay open for
/// minutes), so without this a half-open connection would stall a list forever.
const LIST_PAGE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a watch stream may stay silent beyond its timeout before the cache assumes the
/// connection is dead: the server closes the stream at the timeout, so silence past it means a
/// half-open connection.
const WATCH_IDLE_GRACE: Duration = Duration::from_secs(60);

/// A Kubernetes object type a cache can hold: any `k8s-openapi` type with a static resource
/// path (pods, services, nodes ...).
pub trait WatchedKind:
    Resource<DynamicType = (), Scope: ResourceScope> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

impl<K> WatchedKind for K where
    K: Resource<DynamicType = (), Scope: ResourceScope> + Clone + DeserializeOwned + Debug + Send + Sync + 'static
{
}

/// Builds the request path of a kind according to its scope: namespaced kinds honour the
/// cache's namespace, cluster-scoped kinds (nodes, namespaces) ignore it. The cache sends its
/// own requests so that it sees each answer's text: a list decodes typed when every object in
/// it does, else object by object (see [`decode_page`]).
pub trait ResourceScope {
    /// Returns the requests of `K` in `namespace` (all namespaces when `None`).
    fn request<K: Resource<DynamicType = (), Scope = Self>>(namespace: Option<&str>) -> kube::core::Request
    where
        Self: Sized;
}

impl ResourceScope for kube::core::NamespaceResourceScope {
    fn request<K: Resource<DynamicType = (), Scope = Self>>(namespace: Option<&str>) -> kube::core::Request {
        kube::core::Request::new(K::url_path(&(), namespace))
    }
}

impl ResourceScope for kube::core::ClusterResourceScope {
    fn request<K: Resource<DynamicType = (), Scope = Self>>(_namespace: Option<&str>) -> kube::core::Request {
        kube::core::Request::new(K::url_path(&(), None))
    }
}

/// Which objects of a kind a cache holds: one namespace or all, narrowed by selectors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Scope {
    /// The namespace; all namespaces when `None`. Ignored for cluster-scoped kinds.
    pub namespace: Option<String>,
    /// A label selector, e.g. `app=web,tier!=db`.
    pub label_selector: Option<String>,
    /// A field selector, e.g. `spec.nodeName=n1`.
    pub field_selector: Option<String>,
}

impl Scope {
    /// Returns the scope of every object in `namespace` (all namespaces when `None`).
    pub fn namespace(namespace: Option<&str>) -> Self {
        Scope { namespace: namespace.map(str::to_owned), ..Scope::default() }
    }

    /// Returns a short description for metrics and logs, `all` for the whole cluster.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(namespace) = &self.namespace {
            parts.push(format!("namespace={namespace}"));
        }
        if let Some(selector) = self.label_selector.as_deref().filter(|selector| !selector.is_empty()) {
            parts.push(format!("labels={selector}"));
        }
        if let Some(selector) = self.field_selector.as_deref().filter(|selector| !selector.is_empty()) {
            parts.push(format!("fields={selector}"));
        }
        if parts.is_empty() { "all".to_owned() } else { parts.join(" ") }
    }
}

/// Identifies an object in a cache: its namespace (empty for cluster-scoped kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    /// The namespace, empty for cluster-scoped objects.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    fn of<K: Resource>(object: &K) -> Self {
        ObjectKey { namespace: object.namespace().unwrap_or_default(), name: object.name_any() }
    }

    /// Returns the key of an undecoded object when its `metadata.name` is a string (and its
    /// namespace one or absent), whatever else is wrong with it.
    fn of_value(object: &Value) -> Option<Self> {
        let metadata = object.get("metadata")?;
        let name = metadata.get("name")?.as_str()?.to_owned();
        let namespace = match metadata.get("namespace") {
            None | Some(Value::Null) => String::new(),
            Some(namespace) => namespace.as_str()?.to_owned(),
        };
        Some(ObjectKey { namespace, name })
    }
}

/// What the cache task and its readers share.
struct Shared<K> {
    objects: RwLock<BTreeMap<ObjectKey, Arc<K>>>,
    /// Incremented after every change (an event or a completed list).
    generation: watch::Sender<u64>,
    /// True once the first list completed.
    synced: watch::Sender<bool>,
}

impl<K> Shared<K> {
    fn notify(&self) {
        self.generation.send_modify(|generation| *generation += 1);
    }
}

/// The objects of one kind in one scope, kept current by a background task that stops when
/// the last handle is dropped.
pub struct WatchCache<K> {
    shared: Arc<Shared<K>>,
    task: tokio::task::AbortHandle,
    resource: String,
    scope: Scope,
    metrics: KubeMetrics,
}

impl<K> Debug for WatchCache<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field("resource", &self.resource)
            .field("scope", &self.scope)
            .field("objects", &self.shared.objects.read().len())
            .finish()
    }
}

impl<K> Drop for WatchCache<K> {
    fn drop(&mut self) {
        self.task.abort();
        self.metrics.caches.dec();
        let labels = CacheLabels { resource: self.resource.clone(), scope: self.scope.describe() };
        self.metrics.objects.remove(&labels);
        self.metrics.last_sync.remove(&labels);
    }
}

impl<K: WatchedKind> WatchCache<K> {
    /// Starts a cache on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Panics when called outside a tokio runtime.
    pub(crate) fn spawn(client: kube::Client, api_server: &str, scope: Scope, metrics: KubeMetrics) -> Self {
        let resource = K::plural(&()).into_owned();
        let shared = Arc::new(Shared {
            objects: RwLock::new(BTreeMap::new()),
            generation: watch::channel(0).0,
            synced: watch::channel(false).0,
        });
        let request = K::Scope::request::<K>(scope.namespace.as_deref());
        let runner = Runner {
            client,
            request,
            shared: shared.clone(),
            api_server: api_server.to_owned(),
            labels: CacheLabels { resource: resource.clone(), scope: scope.describe() },
            scope: scope.clone(),
            metrics: metrics.clone(),
            backoff: Backoff::default(),
        };
        metrics.caches.inc();
        let task = tokio::spawn(runner.run()).abort_handle();
        WatchCache { shared, task, resource, scope, metrics }
    }
}

impl<K> WatchCache<K> {
    /// Returns the object `namespace/name` (empty namespace for cluster-scoped kinds).
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        let key = ObjectKey { namespace: namespace.to_owned(), name: name.to_owned() };
        self.shared.objects.read().get(&key).cloned()
    }

    /// Returns every object, ordered by namespace and name.
    pub fn objects(&self) -> Vec<Arc<K>> {
        self.shared.objects.read().values().cloned().collect()
    }

    /// Returns how many objects the cache holds.
    pub fn len(&self) -> usize {
        self.shared.objects.read().len()
    }

    /// Returns true when the cache holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns a receiver whose value changes after every change of the cache's contents.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.generation.subscribe()
    }

    /// Returns true once the first list completed.
    pub fn is_synced(&self) -> bool {
        *self.shared.synced.borrow()
    }

    /// Waits until the first list completed.
    pub async fn wait_synced(&self) {
        let mut synced = self.shared.synced.subscribe();
        // The sender lives as long as `self`, so this only ends once synced.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    /// Returns the resource name (plural), e.g. `pods`.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Returns the cache's scope.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

/// Exponential backoff with jitter.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: INITIAL_BACKOFF }
    }
}

impl Backoff {
    /// Returns the delay to wait now and doubles the next one.
    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_BACKOFF);
        // Up to 25% jitter from the clock's sub-second part: retries of many caches spread out
        // without a random number generator.
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_nanos();
        delay + delay.mul_f64(f64::from(nanos % 1000) / 4000.0)
    }

    fn reset(&mut self) {
        self.next = INITIAL_BACKOFF;
    }
}

/// One list page as sent, its objects not decoded yet.
#[derive(Deserialize)]
struct UntypedPage {
    #[serde(default)]
    metadata: ListMeta,
    #[serde(default)]
    items: Option<Vec<Value>>,
}

/// An object of a list page that does not decode.
#[derive(Debug)]
pub(crate) struct Undecodable {
    /// Its namespace and name, when `metadata` has them as strings.
    pub(crate) key: Option<ObjectKey>,
    /// Its position in the page's `items`, from 0.
    pub(crate) index: usize,
    /// Why it does not decode (see [`undecodable_reason`]).
    pub(crate) reason: String,
}

/// One list page, decoded.
#[derive(Debug)]
pub(crate) struct Page<K> {
    pub(crate) metadata: ListMeta,
    pub(crate) objects: Vec<K>,
    pub(crate) undecodable: Vec<Undecodable>,
}

/// Decodes one list page of `kind` objects. The whole page is decoded typed first, in one
/// pass; only when that fails is it read again untyped and each object decoded on its own, so
/// that one malformed object (its `metadata` included) is left out rather than failing the
/// page. The typed decoder's message is discarded: it could quote a Secret's value.
///
/// # Errors
///
/// Returns why the text is not a list at all (for Secrets without the decoder's message).
pub(crate) fn decode_page<K: DeserializeOwned + Clone>(kind: &str, text: &str) -> Result<Page<K>, String> {
    if let Ok(list) = serde_json::from_str::<ObjectList<K>>(text) {
        return Ok(Page { metadata: list.metadata, objects: list.items, undecodable: Vec::new() });
    }
    let page: UntypedPage = serde_json::from_str(text).map_err(|error| {
        if kind == "Secret" && !error.is_syntax() && !error.is_eof() {
            "the answer is not a list (the decoder's message is withheld: it could quote a secret value)".to_owned()
        } else {
            format!("the answer is not a list: {error}")
        }
    })?;
    let mut objects = Vec::new();
    let mut undecodable = Vec::new();
    for (index, item) in page.items.unwrap_or_default().iter().enumerate() {
        match decode_object(kind, item) {
            Ok(object) => objects.push(object),
            Err(reason) => undecodable.push(Undecodable { key: ObjectKey::of_value(item), index, reason }),
        }
    }
    Ok(Page { metadata: page.metadata, objects, undecodable })
}

/// Decodes one untyped object of `kind`, or returns why it does not decode.
pub(crate) fn decode_object<K: DeserializeOwned>(kind: &str, object: &Value) -> Result<K, String> {
    K::deserialize(object).map_err(|error| undecodable_reason(kind, object, &error))
}

/// Returns why an object of `kind` does not decode. Malformed `metadata` is said to be so. For
/// the `data` and `binaryData` maps of Secrets and ConfigMaps, the first key whose value is not
/// base64 is named. The decoder's own message is withheld for Secrets, because decoders quote
/// what they could not read (a value, or a byte of it; annotations can hold a copy of the data).
fn undecodable_reason(kind: &str, fields: &Value, error: &serde_json::Error) -> String {
    let message = if kind == "Secret" {
        "the decoder's message is withheld: it could quote a secret value".to_owned()
    } else {
        error.to_string()
    };
    if let Some(metadata) = fields.get("metadata")
        && ObjectMeta::deserialize(metadata).is_err()
    {
        return format!("metadata does not decode ({message})");
    }
    for map in ["data", "binaryData"] {
        let Some(entries) = fields.get(map).and_then(Value::as_object) else { continue };
        for (key, value) in entries {
            let is_base64 =
                value.as_str().is_some_and(|text| base64::engine::general_purpose::STANDARD.decode(text).is_ok());
            if value.is_null() || is_base64 {
                continue;
            }
            // A ConfigMap's `data` holds plain text: only `binaryData` is base64 there.
            if kind == "ConfigMap" && map == "data" {
                continue;
            }
            return format!("{map} key {key:?} is not valid base64");
        }
    }
    if kind == "Secret" { format!("the object does not decode ({message})") } else { message }
}

/// Returns an error's message followed by those of its sources, so that the cause of a
/// transport failure (an unknown certificate authority, a refused connection) is logged, not
/// only kube's outer "client error".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

fn now_seconds() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// Why a watch ended.
enum WatchEnd {
    /// The stream ended (server timeout) or broke; resume from the last version.
    Resume,
    /// The resource version is too old: list again.
    Gone,
}

struct Runner<K> {
    client: kube::Client,
    /// Builds the list and watch requests of the cache's kind and namespace.
    request: kube::core::Request,
    shared: Arc<Shared<K>>,
    /// The API server's URL, named in failure logs.
    api_server: String,
    labels: CacheLabels,
    scope: Scope,
    metrics: KubeMetrics,
    backoff: Backoff,
}

impl<K: WatchedKind> Runner<K> {
    async fn run(mut self) {
        let mut reason = "initial";
        loop {
            let mut version = match self.list().await {
                Ok(version) => version,
                Err(error) => {
                    self.metrics.failures.get_or_create(&self.labels).inc();
                    tracing::warn!(server = %self.api_server, resource = %self.labels.resource, scope = %self.labels.scope, error = %error, "kubernetes list failed");
                    tokio::time::sleep(self.backoff.next_delay()).await;
                    continue;
                }
            };
            self.metrics
                .lists
                .get_or_create(&ListLabels {
                    resource: self.labels.resource.clone(),
                    scope: self.labels.scope.clone(),
                    reason,
                })
                .inc();
            self.backoff.reset();
            while let WatchEnd::Resume = self.watch(&mut version).await {}
            reason = "gone";
        }
    }

    /// Lists every object page by page, replaces the cache's contents and returns the list's
    /// resource version.
    async fn list(&self) -> Result<String, String> {
        let mut params = ListParams {
            label_selector: self.scope.label_selector.clone().filter(|selector| !selector.is_empty()),
            field_selector: self.scope.field_selector.clone().filter(|selector| !selector.is_empty()),
            limit: Some(LIST_PAGE_SIZE),
            ..ListParams::default()
        };
        let mut objects = BTreeMap::new();
        let kind = K::kind(&());
        let version = loop {
            let request = self.request.list(&params).map_err(|error| error_chain(&error))?;
            let text = tokio::time::timeout(LIST_PAGE_TIMEOUT, self.client.request_text(request))
                .await
                .map_err(|_| format!("no answer within {LIST_PAGE_TIMEOUT:?}"))?
                .map_err(|error| error_chain(&error))?;
            let page = decode_page::<K>(&kind, &text)?;
            for object in page.objects {
                objects.insert(ObjectKey::of(&object), Arc::new(object));
            }
            for object in page.undecodable {
                self.report_undecodable(
                    object.key.as_ref(),
                    &format!("item {} of a list page", object.index),
                    &object.reason,
                );
            }
            match page.metadata.continue_.filter(|token| !token.is_empty()) {
                Some(token) => params.continue_token = Some(token),
                None => break page.metadata.resource_version.unwrap_or_default(),
            }
        };
        let count = objects.len();
        *self.shared.objects.write() = objects;
        self.shared.synced.send_replace(true);
        self.shared.notify();
        self.metrics.objects.get_or_create(&self.labels).set(count as i64);
        self.metrics.last_sync.get_or_create(&self.labels).set(now_seconds());
        Ok(version)
    }

    /// Watches from `version` until the stream ends, applying events and advancing `version`.
    async fn watch(&mut self, version: &mut String) -> WatchEnd {
        let jitter = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().subsec_millis()
            % WATCH_TIMEOUT_JITTER_SECS.max(1);
        let timeout = WATCH_TIMEOUT_SECS + jitter;
        let mut params = WatchParams::default().timeout(timeout);
        params.bookmarks = true;
        params.label_selector = self.scope.label_selector.clone().filter(|selector| !selector.is_empty());
        params.field_selector = self.scope.field_selector.clone().filter(|selector| !selector.is_empty());
        self.metrics.watches.get_or_create(&self.labels).inc();
        let stream = match self.request.watch(&params, version) {
            Ok(request) => self.client.request_events::<Value>(request).await,
            Err(error) => Err(kube::Error::BuildRequest(error)),
        };
        let stream = match stream {
            Ok(stream) => stream,
            Err(kube::Error::Api(status)) if status.code == 410 => {
                tracing::info!(resource = %self.labels.resource, scope = %self.labels.scope, "kubernetes watch: resource version expired, listing again");
                return WatchEnd::Gone;
            }
            Err(error) => {
                self.metrics.failures.get_or_create(&self.labels).inc();
                tracing::warn!(server = %self.api_server, resource = %self.labels.resource, scope = %self.labels.scope, error = %error_chain(&error), "kubernetes watch failed");
                tokio::time::sleep(self.backoff.next_delay()).await;
                return WatchEnd::Resume;
            }
        };
        let mut stream = std::pin::pin!(stream);
        let idle_limit = Duration::from_secs(u64::from(timeout)) + WATCH_IDLE_GRACE;
        loop {
            let item = match tokio::time::timeout(idle_limit, stream.next()).await {
                Ok(Some(item)) => item,
                // The server closed the stream at its timeout: resume at once.
                Ok(None) => return WatchEnd::Resume,
                Err(_) => {
                    tracing::warn!(resource = %self.labels.resource, scope = %self.labels.scope, "kubernetes watch silent past its timeout, reconnecting");
                    return WatchEnd::Resume;
                }
            };
            let event = match item {
                Ok(event) => event,
                Err(error) => {
                    self.metrics.failures.get_or_create(&self.labels).inc();
                    tracing::warn!(server = %self.api_server, resource = %self.labels.resource, scope = %self.labels.scope, error = %error_chain(&error), "kubernetes watch stream broke");
                    tokio::time::sleep(self.backoff.next_delay()).await;
                    return WatchEnd::Resume;
                }
            };
            self.backoff.reset();
            match event {
                WatchEvent::Added(object) => self.apply("added", version, object, false),
                WatchEvent::Modified(object) => self.apply("modified", version, object, false),
                WatchEvent::Deleted(object) => self.apply("deleted", version, object, true),
                WatchEvent::Bookmark(bookmark) => {
                    self.count_event("bookmark");
                    *version = bookmark.metadata.resource_version;
                    self.metrics.last_sync.get_or_create(&self.labels).set(now_seconds());
                }
                WatchEvent::Error(status) => {
                    self.count_event("error");
                    if status.code == 410 {
                        tracing::info!(resource = %self.labels.resource, scope = %self.labels.scope, "kubernetes watch: resource version expired, listing again");
                        return WatchEnd::Gone;
                    }
                    self.metrics.failures.get_or_create(&self.labels).inc();
                    tracing::warn!(resource = %self.labels.resource, scope = %self.labels.scope, code = status.code, message = %status.message, "kubernetes watch error event");
                    tokio::time::sleep(self.backoff.next_delay()).await;
                    return WatchEnd::Resume;
                }
            }
        }
    }

    fn count_event(&self, event: &'static str) {
        let labels = EventLabels { resource: self.labels.resource.clone(), scope: self.labels.scope.clone(), event };
        self.metrics.events.get_or_create(&labels).inc();
    }

    /// Counts and logs an object left out of the cache: by namespace and name when readable,
    /// else by `place` (never quoting a Secret's value: see [`undecodable_reason`]).
    fn report_undecodable(&self, key: Option<&ObjectKey>, place: &str, reason: &str) {
        self.metrics.undecodable.get_or_create(&self.labels).inc();
        match key {
            Some(key) => tracing::warn!(
                server = %self.api_server,
                resource = %self.labels.resource,
                namespace = %key.namespace,
                name = %key.name,
                reason = %reason,
                "kubernetes object cannot be decoded; left out of the cache"
            ),
            None => tracing::warn!(
                server = %self.api_server,
                resource = %self.labels.resource,
                scope = %self.labels.scope,
                object = %place,
                reason = %reason,
                "kubernetes object cannot be decoded (nor its name read); left out of the cache"
            ),
        }
    }

    fn apply(&self, event: &'static str, version: &mut String, object: Value, is_delete: bool) {
        self.count_event(event);
        if let Some(object_version) = object.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
            object_version.clone_into(version);
        }
        // A deleted object needs no decoding; a changed one that no longer decodes leaves the
        // cache rather than staying there with its old contents.
        let decoded = if is_delete {
            None
        } else {
            match decode_object::<K>(&K::kind(&()), &object) {
                Ok(decoded) => Some(decoded),
                Err(reason) => {
                    self.report_undecodable(
                        ObjectKey::of_value(&object).as_ref(),
                        &format!("a watch event ({event})"),
                        &reason,
                    );
                    None
                }
            }
        };
        let key = match &decoded {
            Some(decoded) => ObjectKey::of(decoded),
            // Without a readable name there is nothing to remove.
            None => match ObjectKey::of_value(&object) {
                Some(key) => key,
                None => return,
            },
        };
        let count = {
            let mut objects = self.shared.objects.write();
            match decoded {
                Some(object) => objects.insert(key, Arc::new(object)),
                None => objects.remove(&key),
            };
            objects.len()
        };
        self.shared.notify();
        self.metrics.objects.get_or_create(&self.labels).set(count as i64);
        self.metrics.last_sync.get_or_create(&self.labels).set(now_seconds());
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Pod, Secret};
    use serde_json::json;

    use super::*;

    fn page(items: Vec<Value>) -> String {
        json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "7", "continue": "next"}, "items": items})
            .to_string()
    }

    #[test]
    fn a_page_that_decodes_typed_keeps_every_object_in_order() {
        let text = page(vec![json!({"metadata": {"name": "a"}}), json!({"metadata": {"name": "b", "namespace": "x"}})]);
        let page = decode_page::<Pod>("Pod", &text).unwrap();
        let names: Vec<String> = page.objects.iter().map(|pod| pod.name_any()).collect();
        assert_eq!(names, ["a", "b"]);
        assert!(page.undecodable.is_empty());
        assert_eq!(page.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(page.metadata.continue_.as_deref(), Some("next"));
        // `items: null` is an empty page, as the API server may send it.
        let empty = json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": null}).to_string();
        assert!(decode_page::<Pod>("Pod", &empty).unwrap().objects.is_empty());
    }

    #[test]
    fn undecodable_objects_are_left_out_with_key_or_index() {
        let text = page(vec![
            json!({"metadata": {"name": "good", "namespace": "x"}}),
            json!({"metadata": {"name": "labels", "namespace": "x", "labels": {"app": 1}}}),
            json!({"metadata": {"name": {"first": "no"}}}),
            json!({"metadata": {"name": "spec", "namespace": "x"}, "spec": {"containers": "none"}}),
        ]);
        let page = decode_page::<Pod>("Pod", &text).unwrap();
        assert_eq!(page.objects.len(), 1);
        let left_out: Vec<(Option<String>, usize, &str)> = page
            .undecodable
            .iter()
            .map(|object| {
                (
                    object.key.as_ref().map(|key| format!("{}/{}", key.namespace, key.name)),
                    object.index,
                    object.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(left_out.len(), 3);
        assert_eq!((left_out[0].0.as_deref(), left_out[0].1), (Some("x/labels"), 1));
        assert!(left_out[0].2.starts_with("metadata does not decode (invalid type: integer `1`"), "{}", left_out[0].2);
        assert_eq!((left_out[1].0.as_deref(), left_out[1].1), (None, 2));
        assert!(left_out[1].2.starts_with("metadata does not decode"), "{}", left_out[1].2);
        assert_eq!((left_out[2].0.as_deref(), left_out[2].1), (Some("x/spec"), 3));
        assert!(left_out[2].2.starts_with("invalid type: string \"none\""), "{}", left_out[2].2);
    }

    #[test]
    fn answers_that_are_not_lists_fail_the_page_without_quoting_secrets() {
        let error = decode_page::<Pod>("Pod", "{\"items\": [").unwrap_err();
        assert!(error.starts_with("the answer is not a list: EOF while parsing"), "{error}");
        let error = decode_page::<Pod>("Pod", r#"{"items": "hunter2"}"#).unwrap_err();
        assert!(error.contains("invalid type"), "{error}");
        let error = decode_page::<Secret>("Secret", r#"{"items": "hunter2"}"#).unwrap_err();
        assert!(!error.contains("hunter2") && error.contains("withheld"), "{error}");
        let text = page(vec![json!({"metadata": {"name": "s", "annotations": {"a": "b"}}, "data": {"k": "hunter2!"}})]);
        let page = decode_page::<Secret>("Secret", &text).unwrap();
        assert_eq!(page.undecodable[0].reason, "data key \"k\" is not valid base64");
    }
}
