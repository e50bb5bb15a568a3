//! prometheus-operator resources in the running server: [`OperatorWatch`] follows the
//! ServiceMonitors, PodMonitors, Probes, PrometheusRules (and Namespaces) of the cluster
//! named in the `prometheus_operator` section through the shared watch caches, plus the
//! Secrets and ConfigMaps that selected monitors take credentials and TLS material from (one
//! cache per kind and namespace, opened only for namespaces whose monitors reference one), and
//! asks for a regeneration when the selected set or a referenced value changes (values are
//! compared in memory, never logged); [`generate`] turns the selection into scrape
//! jobs and rule files (written under `<data>/operator-rules/`) with one
//! [`ResourceReport`] per object; [`OperatorStatus`] publishes the reports on
//! `/api/v1/operator/resources` and as `panoptes_operator_resources{kind,state}`, and logs
//! every problem once per object version.
//!
//! Regeneration goes through the running configuration's normal apply path
//! (`reload::RunningConfig`), so a failure keeps what runs.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use panoptes_kube::k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use panoptes_kube::monitoring::{PodMonitor, Probe, PrometheusRule, Reference, ReferencedKind, ServiceMonitor};
use panoptes_kube::{Clusters, Scope, WatchCache, WatchedKind};
use panoptes_model::error_chain;
use panoptes_rules::{ParseOptions, parse_rule_file};
use panoptes_scrape::ScrapeManager;
use panoptes_scrape::config::{GlobalConfig, KubernetesRole, OperatorConfig, ScrapeConfig};
use panoptes_scrape::discovery::kubernetes::connection_options;
use panoptes_scrape::operator::{
    GenerateContext, ReferencedObjects, ResourceReport, ResourceState, is_selected, oauth2_references,
    pod_monitor_jobs, probe_jobs, rule_file_text, service_monitor_jobs,
};
use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::{Value, json};
use tokio::sync::watch;

/// How long the watcher waits after a change for more, so that `kubectl apply -f dir/`
/// yields one regeneration.
const SETTLE_DELAY: Duration = Duration::from_millis(200);
/// How long to wait before connecting again after the connection settings failed.
const CONNECT_RETRY: Duration = Duration::from_secs(30);
/// How long a newly opened Secret or ConfigMap cache may take to list before generation goes
/// on without it (its endpoints are refused until it lists, then regenerated).
const REFERENCED_SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// The objects currently selected, as the caches hold them, and the data of the Secrets and
/// ConfigMaps they reference.
#[derive(Debug, Default, Clone)]
pub(crate) struct Selection {
    service_monitors: Vec<Arc<ServiceMonitor>>,
    pod_monitors: Vec<Arc<PodMonitor>>,
    probes: Vec<Arc<Probe>>,
    rules: Vec<Arc<PrometheusRule>>,
    objects: ReferencedObjects,
}

impl Selection {
    /// Returns the namespaced Secret and ConfigMap keys the selected monitors and Probes read.
    /// Specs that do not decode reference nothing (they are rejected anyway).
    fn references(&self) -> BTreeSet<(String, Reference)> {
        fn namespaced<'a, K: WatchedKind>(
            objects: &'a [Arc<K>],
            references: impl Fn(&K) -> Vec<Reference> + 'a,
        ) -> impl Iterator<Item = (String, Reference)> + 'a {
            objects.iter().flat_map(move |object| {
                let namespace = object.meta().namespace.clone().unwrap_or_default();
                references(object.as_ref()).into_iter().map(move |reference| (namespace.clone(), reference))
            })
        }
        // `oauth2` is not modelled by the kube crate: the scrape crate finds its references.
        let endpoints = |endpoints: &[panoptes_kube::monitoring::Endpoint]| -> Vec<Reference> {
            endpoints.iter().flat_map(|endpoint| oauth2_references(&endpoint.unsupported)).collect()
        };
        namespaced(&self.service_monitors, move |monitor| {
            let spec = monitor.spec().ok();
            let mut references = spec.as_ref().map(|spec| spec.references()).unwrap_or_default();
            references.extend(spec.map(|spec| endpoints(&spec.endpoints)).unwrap_or_default());
            references
        })
        .chain(namespaced(&self.pod_monitors, move |monitor| {
            let spec = monitor.spec().ok();
            let mut references = spec.as_ref().map(|spec| spec.references()).unwrap_or_default();
            references.extend(spec.map(|spec| endpoints(&spec.pod_metrics_endpoints)).unwrap_or_default());
            references
        }))
        .chain(namespaced(&self.probes, |probe| {
            let spec = probe.spec().ok();
            let mut references = spec.as_ref().map(|spec| spec.references()).unwrap_or_default();
            references.extend(spec.map(|spec| oauth2_references(&spec.unsupported)).unwrap_or_default());
            references
        }))
        .collect()
    }

    /// Identifies the selection: kind, namespace, name and resource version of each object.
    fn key(&self) -> Vec<(&'static str, String, String, String)> {
        fn keys<'a, K: WatchedKind>(
            kind: &'static str,
            objects: &'a [Arc<K>],
        ) -> impl Iterator<Item = (&'static str, String, String, String)> + 'a {
            objects.iter().map(move |object| {
                let metadata = object.meta();
                (
                    kind,
                    metadata.namespace.clone().unwrap_or_default(),
                    metadata.name.clone().unwrap_or_default(),
                    metadata.resource_version.clone().unwrap_or_default(),
                )
            })
        }
        keys("ServiceMonitor", &self.service_monitors)
            .chain(keys("PodMonitor", &self.pod_monitors))
            .chain(keys("Probe", &self.probes))
            .chain(keys("PrometheusRule", &self.rules))
            .collect()
    }
}

/// Follows the operator's resources of one `prometheus_operator` section; stops when dropped.
pub(crate) struct OperatorWatch {
    config: OperatorConfig,
    selection: Arc<Mutex<Selection>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for OperatorWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl OperatorWatch {
    /// Starts following the resources `config` selects; `on_change` runs (on a blocking
    /// thread) whenever the selection changed. Must be called within the Tokio runtime.
    ///
    /// # Errors
    ///
    /// Returns why the section's connection settings cannot be used.
    pub(crate) fn start(
        config: OperatorConfig,
        clusters: Clusters,
        runtime: &tokio::runtime::Handle,
        on_change: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<OperatorWatch, String> {
        let options = connection_options(&config.discovery(KubernetesRole::Endpoints, Vec::new(), false))
            .map_err(|error| format!("prometheus_operator: {error}"))?;
        let selection = Arc::new(Mutex::new(Selection::default()));
        let task = runtime.spawn(follow(config.clone(), clusters, options, selection.clone(), on_change));
        Ok(OperatorWatch { config, selection, task })
    }

    /// Returns the section this watch follows.
    pub(crate) fn config(&self) -> &OperatorConfig {
        &self.config
    }

    /// Returns the objects selected now.
    pub(crate) fn selection(&self) -> Selection {
        self.selection.lock().clone()
    }
}

/// The caches of one watch; a kind whose selector is absent selects nothing and is not
/// watched at all (its CRD need not exist).
struct Caches {
    service_monitors: Option<Arc<WatchCache<ServiceMonitor>>>,
    pod_monitors: Option<Arc<WatchCache<PodMonitor>>>,
    probes: Option<Arc<WatchCache<Probe>>>,
    rules: Option<Arc<WatchCache<PrometheusRule>>>,
    namespaces: Option<Arc<WatchCache<Namespace>>>,
    /// Secrets by namespace, for the namespaces whose selected objects reference one.
    secrets: BTreeMap<String, Arc<WatchCache<Secret>>>,
    /// ConfigMaps by namespace, likewise.
    config_maps: BTreeMap<String, Arc<WatchCache<ConfigMap>>>,
}

impl Caches {
    /// Opens the Secret and ConfigMap caches of the namespaces `references` need and drops
    /// the others; waits (boundedly) for new ones to list. Returns true when the set changed.
    async fn follow_references(
        &mut self,
        cluster: &panoptes_kube::Cluster,
        references: &BTreeSet<(String, Reference)>,
    ) -> bool {
        let wanted = |kind: ReferencedKind| -> BTreeSet<String> {
            references
                .iter()
                .filter(|(_, reference)| reference.kind == kind)
                .map(|(namespace, _)| namespace.clone())
                .collect()
        };
        let mut opened = false;
        let mut changed = reconcile(&mut self.secrets, &wanted(ReferencedKind::Secret), cluster, &mut opened);
        changed |= reconcile(&mut self.config_maps, &wanted(ReferencedKind::ConfigMap), cluster, &mut opened);
        if opened {
            let secrets = futures::future::join_all(self.secrets.values().map(|cache| cache.wait_synced()));
            let config_maps = futures::future::join_all(self.config_maps.values().map(|cache| cache.wait_synced()));
            let synced = futures::future::join(secrets, config_maps);
            if tokio::time::timeout(REFERENCED_SYNC_TIMEOUT, synced).await.is_err() {
                tracing::warn!(
                    "prometheus operator resources: secrets or configmaps not listed yet; their endpoints wait"
                );
            }
        }
        changed
    }

    /// Returns the data of the referenced objects the caches hold.
    fn referenced_objects(&self, references: &BTreeSet<(String, Reference)>) -> ReferencedObjects {
        let mut objects = ReferencedObjects::new();
        let names: BTreeSet<(&str, ReferencedKind, &str)> = references
            .iter()
            .map(|(namespace, reference)| (namespace.as_str(), reference.kind, reference.name.as_str()))
            .collect();
        for (namespace, kind, name) in names {
            match kind {
                ReferencedKind::Secret => {
                    if let Some(secret) = self.secrets.get(namespace).and_then(|cache| cache.get(namespace, name)) {
                        objects.add_secret(&secret);
                    }
                }
                ReferencedKind::ConfigMap => {
                    if let Some(config_map) =
                        self.config_maps.get(namespace).and_then(|cache| cache.get(namespace, name))
                    {
                        objects.add_config_map(&config_map);
                    }
                }
            }
        }
        objects
    }

    fn subscribe(&self) -> Vec<watch::Receiver<u64>> {
        let mut receivers = Vec::new();
        receivers.extend(self.secrets.values().map(|cache| cache.subscribe()));
        receivers.extend(self.config_maps.values().map(|cache| cache.subscribe()));
        receivers.extend(self.service_monitors.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.pod_monitors.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.probes.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.rules.iter().map(|cache| cache.subscribe()));
        receivers.extend(self.namespaces.iter().map(|cache| cache.subscribe()));
        receivers
    }

    fn select(&self, config: &OperatorConfig, own_namespace: &str) -> Selection {
        let namespaces = self.namespaces.as_ref().map(|cache| cache.objects()).unwrap_or_default();
        fn pick<K: WatchedKind>(
            cache: Option<&Arc<WatchCache<K>>>,
            selector: Option<&panoptes_kube::monitoring::LabelSelector>,
            namespace_selector: Option<&panoptes_kube::monitoring::LabelSelector>,
            own_namespace: &str,
            namespaces: &[Arc<Namespace>],
        ) -> Vec<Arc<K>> {
            let empty = BTreeMap::new();
            cache
                .map(|cache| cache.objects())
                .unwrap_or_default()
                .into_iter()
                .filter(|object| {
                    let metadata = object.meta();
                    is_selected(
                        metadata.labels.as_ref().unwrap_or(&empty),
                        metadata.namespace.as_deref().unwrap_or_default(),
                        selector,
                        namespace_selector,
                        own_namespace,
                        namespaces,
                    )
                })
                .collect()
        }
        Selection {
            service_monitors: pick(
                self.service_monitors.as_ref(),
                config.service_monitor_selector.as_ref(),
                config.service_monitor_namespace_selector.as_ref(),
                own_namespace,
                &namespaces,
            ),
            pod_monitors: pick(
                self.pod_monitors.as_ref(),
                config.pod_monitor_selector.as_ref(),
                config.pod_monitor_namespace_selector.as_ref(),
                own_namespace,
                &namespaces,
            ),
            probes: pick(
                self.probes.as_ref(),
                config.probe_selector.as_ref(),
                config.probe_namespace_selector.as_ref(),
                own_namespace,
                &namespaces,
            ),
            rules: pick(
                self.rules.as_ref(),
                config.rule_selector.as_ref(),
                config.rule_namespace_selector.as_ref(),
                own_namespace,
                &namespaces,
            ),
            objects: ReferencedObjects::new(),
        }
    }
}

/// Keeps one cache of `K` per namespace in `wanted`: opens the missing ones (setting
/// `opened`), drops the others. Returns true when the set changed.
fn reconcile<K: WatchedKind>(
    caches: &mut BTreeMap<String, Arc<WatchCache<K>>>,
    wanted: &BTreeSet<String>,
    cluster: &panoptes_kube::Cluster,
    opened: &mut bool,
) -> bool {
    let before = caches.len();
    caches.retain(|namespace, _| wanted.contains(namespace));
    let mut changed = caches.len() != before;
    for namespace in wanted {
        if !caches.contains_key(namespace) {
            caches.insert(namespace.clone(), cluster.watch(Scope::namespace(Some(namespace))));
            *opened = true;
            changed = true;
        }
    }
    changed
}

/// Connects, opens the caches, and keeps `selection` current.
async fn follow(
    config: OperatorConfig,
    clusters: Clusters,
    options: panoptes_kube::ConnectionOptions,
    selection: Arc<Mutex<Selection>>,
    on_change: Arc<dyn Fn() + Send + Sync>,
) {
    let cluster = loop {
        match clusters.connect(&options).await {
            Ok(cluster) => break cluster,
            Err(error) => {
                tracing::error!(connection = %options.describe(), error = %error_chain(&error), "prometheus operator resources: cannot connect");
                tokio::time::sleep(CONNECT_RETRY).await;
            }
        }
    };
    let needs_namespaces = [
        (&config.service_monitor_selector, &config.service_monitor_namespace_selector),
        (&config.pod_monitor_selector, &config.pod_monitor_namespace_selector),
        (&config.probe_selector, &config.probe_namespace_selector),
        (&config.rule_selector, &config.rule_namespace_selector),
    ]
    .iter()
    .any(|(selector, namespaces)| {
        selector.is_some() && namespaces.as_ref().is_some_and(|selector| !selector.is_empty())
    });
    let mut caches = Caches {
        service_monitors: config.service_monitor_selector.is_some().then(|| cluster.watch(Scope::default())),
        pod_monitors: config.pod_monitor_selector.is_some().then(|| cluster.watch(Scope::default())),
        probes: config.probe_selector.is_some().then(|| cluster.watch(Scope::default())),
        rules: config.rule_selector.is_some().then(|| cluster.watch(Scope::default())),
        namespaces: needs_namespaces.then(|| cluster.watch(Scope::default())),
        secrets: BTreeMap::new(),
        config_maps: BTreeMap::new(),
    };
    let own_namespace = cluster.default_namespace().to_owned();
    let mut receivers = caches.subscribe();
    let mut last_key = None;
    loop {
        for receiver in &mut receivers {
            receiver.borrow_and_update();
        }
        let mut selected = caches.select(&config, &own_namespace);
        let references = selected.references();
        if caches.follow_references(&cluster, &references).await {
            // New receivers start from the current versions: select again, so that nothing
            // that changed since the selection above is missed.
            receivers = caches.subscribe();
            continue;
        }
        selected.objects = caches.referenced_objects(&references);
        // Referenced values are compared, not only versions: a change of a password must
        // regenerate, an unrelated Secret in the namespace must not.
        let key = Some((selected.key(), selected.objects.clone()));
        if key != last_key {
            *selection.lock() = selected;
            last_key = key;
            let on_change = on_change.clone();
            let _ = tokio::task::spawn_blocking(move || on_change()).await;
        }
        if receivers.is_empty() {
            return;
        }
        let changed = futures::future::select_all(receivers.iter_mut().map(|receiver| Box::pin(receiver.changed())));
        if changed.await.0.is_err() {
            return;
        }
        tokio::time::sleep(SETTLE_DELAY).await;
    }
}

/// What one generation produced.
#[derive(Debug, Default)]
pub(crate) struct Generated {
    /// Scrape jobs, each valid on its own.
    pub(crate) jobs: Vec<ScrapeConfig>,
    /// Rule files written, each valid on its own.
    pub(crate) rule_files: Vec<String>,
    /// One report per selected object.
    pub(crate) reports: Vec<ResourceReport>,
}

/// Turns a selection into jobs and rule files. Jobs whose client cannot be built, or whose
/// name a job of the configuration file already uses, are refused in their object's report;
/// rule files are validated before they are written to `rules_dir`.
pub(crate) fn generate(
    selection: &Selection,
    config: &OperatorConfig,
    global: &GlobalConfig,
    file_jobs: &[ScrapeConfig],
    rules_dir: &Path,
) -> Generated {
    let context = GenerateContext { config, global, objects: &selection.objects };
    let file_job_names: HashSet<&str> = file_jobs.iter().map(|job| job.job_name.as_str()).collect();
    let mut generated = Generated::default();
    let mut add = |(jobs, mut report): (Vec<ScrapeConfig>, ResourceReport)| {
        for job in jobs {
            let refusal = if file_job_names.contains(job.job_name.as_str()) {
                Some(format!("job {:?} is also defined in the configuration file, which wins", job.job_name))
            } else {
                ScrapeManager::check(std::slice::from_ref(&job)).err()
            };
            if let Some(refusal) = refusal {
                report.generated.retain(|name| *name != job.job_name);
                report.errors.push(refusal);
            } else {
                generated.jobs.push(job);
            }
        }
        report.state = state_of(&report);
        generated.reports.push(report);
    };
    for monitor in &selection.service_monitors {
        add(service_monitor_jobs(monitor, context));
    }
    for monitor in &selection.pod_monitors {
        add(pod_monitor_jobs(monitor, context));
    }
    for probe in &selection.probes {
        add(probe_jobs(probe, context));
    }
    for rule in &selection.rules {
        let (report, path) = rule_file(rule, rules_dir);
        generated.rule_files.extend(path);
        generated.reports.push(report);
    }
    generated
}

/// Recomputes a report's state after refusals were added.
fn state_of(report: &ResourceReport) -> ResourceState {
    if report.generated.is_empty() && !report.errors.is_empty() {
        ResourceState::Rejected
    } else if !report.errors.is_empty() || !report.unsupported_fields.is_empty() {
        ResourceState::Degraded
    } else {
        ResourceState::Active
    }
}

/// Writes the rule file of one PrometheusRule, named `<namespace>-<name>-<uid>.yaml` as the
/// operator names its ConfigMap entries, after checking it parses as a rule file.
fn rule_file(rule: &PrometheusRule, rules_dir: &Path) -> (ResourceReport, Option<String>) {
    let metadata = &rule.metadata;
    let mut report = ResourceReport {
        kind: "PrometheusRule",
        namespace: metadata.namespace.clone().unwrap_or_default(),
        name: metadata.name.clone().unwrap_or_default(),
        resource_version: metadata.resource_version.clone().unwrap_or_default(),
        state: ResourceState::Active,
        generated: Vec::new(),
        unsupported_fields: Vec::new(),
        errors: Vec::new(),
    };
    let file_name =
        format!("{}-{}-{}.yaml", report.namespace, report.name, metadata.uid.as_deref().unwrap_or("no-uid"));
    let path = rules_dir.join(file_name).display().to_string();
    let result = rule_file_text(rule).and_then(|(text, unsupported)| {
        report.unsupported_fields = unsupported;
        parse_rule_file(&text, &path, ParseOptions::default())
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
        write_if_changed(rules_dir, &path, &text)?;
        Ok(())
    });
    let written = match result {
        Ok(()) => {
            report.generated.push(path.clone());
            Some(path)
        }
        Err(error) => {
            report.errors.push(error);
            None
        }
    };
    report.state = state_of(&report);
    (report, written)
}

fn write_if_changed(dir: &Path, path: &str, text: &str) -> Result<(), String> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
    let temporary = format!("{path}.tmp");
    std::fs::write(&temporary, text).map_err(|error| format!("cannot write {temporary}: {error}"))?;
    std::fs::rename(&temporary, path).map_err(|error| format!("cannot rename {temporary}: {error}"))
}

/// Deletes the rule files in `rules_dir` that `keep` does not list (objects deleted or no
/// longer selected).
pub(crate) fn remove_stale_rule_files(rules_dir: &Path, keep: &[String]) {
    let keep: BTreeSet<PathBuf> = keep.iter().map(PathBuf::from).collect();
    let Ok(entries) = std::fs::read_dir(rules_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|extension| extension == "yaml")
            && !keep.contains(&path)
            && let Err(error) = std::fs::remove_file(&path)
        {
            tracing::warn!(path = %path.display(), error = %error, "cannot remove a stale operator rule file");
        }
    }
}

/// The labels of `panoptes_operator_resources`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResourceLabels {
    kind: &'static str,
    state: &'static str,
}

/// The reports of the running configuration, for the API, the metric and the log.
#[derive(Debug, Default)]
pub(crate) struct OperatorStatus {
    reports: Mutex<Vec<ResourceReport>>,
    resources: Family<ResourceLabels, Gauge>,
    /// (kind, namespace, name, resource version) of reports already logged.
    logged: Mutex<HashSet<(&'static str, String, String, String)>>,
}

impl OperatorStatus {
    /// Registers `panoptes_operator_resources`.
    pub(crate) fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "panoptes_operator_resources",
            "Selected prometheus-operator resources by kind and state (active, degraded, rejected).",
            self.resources.clone(),
        );
    }

    /// Makes `reports` the current ones; logs each problem once per object version.
    pub(crate) fn publish(&self, reports: Vec<ResourceReport>) {
        let mut counts: BTreeMap<(&'static str, &'static str), i64> = BTreeMap::new();
        for kind in ["ServiceMonitor", "PodMonitor", "Probe", "PrometheusRule"] {
            for state in [ResourceState::Active, ResourceState::Degraded, ResourceState::Rejected] {
                counts.insert((kind, state.as_str()), 0);
            }
        }
        let mut logged = self.logged.lock();
        let mut seen = HashSet::new();
        for report in &reports {
            *counts.entry((report.kind, report.state.as_str())).or_default() += 1;
            let key = (report.kind, report.namespace.clone(), report.name.clone(), report.resource_version.clone());
            if report.state != ResourceState::Active && !logged.contains(&key) {
                tracing::warn!(
                    kind = report.kind,
                    namespace = %report.namespace,
                    name = %report.name,
                    state = report.state.as_str(),
                    unsupported_fields = %report.unsupported_fields.join(", "),
                    errors = %report.errors.join("; "),
                    "prometheus operator resource not fully honoured"
                );
            }
            seen.insert(key);
        }
        *logged = seen;
        for ((kind, state), count) in counts {
            self.resources.get_or_create(&ResourceLabels { kind, state }).set(count);
        }
        *self.reports.lock() = reports;
    }

    fn to_json(&self) -> Value {
        json!({ "status": "success", "data": { "resources": *self.reports.lock() } })
    }
}

/// `GET /api/v1/operator/resources`: the report of every selected object.
pub(crate) fn routes(status: Arc<OperatorStatus>) -> axum::Router {
    axum::Router::new()
        .route(
            "/api/v1/operator/resources",
            get(|State(status): State<Arc<OperatorStatus>>| async move { Json(status.to_json()) }),
        )
        .with_state(status)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_job_of_the_configuration_file_wins_over_a_generated_one_of_the_same_name() {
        let config = panoptes_scrape::config::parse_str(
            "prometheus_operator:\n  api_server: http://127.0.0.1:1\n  serviceMonitorSelector: {}\nscrape_configs:\n- job_name: serviceMonitor/default/web/0\n  static_configs:\n  - targets: ['a:1']\n",
            "test.yml",
        )
        .expect("config");
        let monitor: ServiceMonitor = serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {}, "endpoints": [{"port": "a"}, {"port": "b"}]}
        }))
        .expect("monitor");
        let selection = Selection { service_monitors: vec![Arc::new(monitor)], ..Selection::default() };
        let dir = std::env::temp_dir().join(format!("panoptes-operator-test-{}", std::process::id()));
        let section = config.prometheus_operator.as_ref().expect("section");
        let generated = generate(&selection, section, &config.global, &config.scrape_configs, &dir);
        let names: Vec<&str> = generated.jobs.iter().map(|job| job.job_name.as_str()).collect();
        assert_eq!(names, ["serviceMonitor/default/web/1"]);
        let report = &generated.reports[0];
        assert_eq!(report.state, ResourceState::Degraded);
        assert_eq!(report.generated, ["serviceMonitor/default/web/1"]);
        assert_eq!(
            report.errors,
            ["job \"serviceMonitor/default/web/0\" is also defined in the configuration file, which wins"]
        );
        assert!(generated.rule_files.is_empty());
    }
}
