//! The scrape manager: one pool per scrape job, each running its discoverers and one loop per
//! target, reconciled whenever discovery or the configuration changes.
//!
//! A pool is a tokio task that owns its loops. Discoverers send complete group lists to it; it
//! turns them into targets (`target::targets_from_group`), deduplicates them by labels and URL,
//! starts loops for new targets and stops loops of vanished targets, which then mark their series
//! stale. Applying a new configuration keeps pools whose job is unchanged; a changed job restarts
//! its discoverers and loops, handing each surviving target's cache to its new loop so that no
//! series goes stale across a reload.
//!
//! The manager can be configured before the store is open; pools start once
//! [`ScrapeManager::start`] hands it the store.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use panoptes_kube::{Clusters, KubeMetrics};
use panoptes_model::Labels;
use panoptes_storage::StorageRef;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use crate::append::ScrapeCache;
use crate::client::HttpClient;
use crate::config::ScrapeConfig;
use crate::discovery::TargetGroup;
use crate::discovery::run::{Update, spawn_all};
use crate::scrape_loop::{self, LoopContext, Stop, TargetHealth};
use crate::target::{Target, targets_from_group};

/// How long a pool waits after a discovery update for more before reconciling its loops.
const SYNC_DELAY: Duration = Duration::from_millis(200);

/// An active target as the targets API shows it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    /// The job (scrape pool) it belongs to.
    pub scrape_pool: String,
    /// The target: labels, discovered labels, URL, interval and timeout.
    pub target: Target,
    /// The outcome of its last scrape.
    pub health: TargetHealth,
}

/// A discovered target that relabelling dropped.
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    /// The job (scrape pool) it belongs to.
    pub scrape_pool: String,
    /// Its labels before relabelling.
    pub discovered_labels: Labels,
}

/// A snapshot of every pool's targets.
#[derive(Debug, Clone, Default)]
pub struct TargetsSnapshot {
    /// Targets being scraped, by pool then labels.
    pub active: Vec<ActiveTarget>,
    /// Dropped targets kept for display (`keep_dropped_targets` limits them per pool).
    pub dropped: Vec<DroppedTarget>,
    /// How many targets each pool dropped, kept or not.
    pub dropped_counts: BTreeMap<String, usize>,
}

/// What one pool shows the API.
#[derive(Default)]
struct PoolView {
    active: Vec<(Target, Arc<Mutex<TargetHealth>>)>,
    dropped: Vec<Labels>,
    dropped_count: usize,
}

/// Messages to a pool task.
enum PoolCommand {
    /// Replace the configuration (already known to differ).
    Reload(Arc<ScrapeConfig>),
    /// Stop every loop; `stale` marks their series stale (the job was removed).
    Stop { stale: bool },
}

/// The handle of a running pool.
struct PoolHandle {
    config: Arc<ScrapeConfig>,
    commands: mpsc::UnboundedSender<PoolCommand>,
    view: Arc<Mutex<PoolView>>,
    task: JoinHandle<()>,
}

struct ManagerState {
    storage: Option<StorageRef>,
    /// The scrape configs to run, by job name.
    configs: Vec<ScrapeConfig>,
    pools: BTreeMap<String, PoolHandle>,
    offset_seed: u64,
}

/// Tells loops the process is stopping.
struct Shutdown {
    sender: watch::Sender<bool>,
}

/// Runs the scrape pools of the current configuration.
pub struct ScrapeManager {
    runtime: tokio::runtime::Handle,
    /// The Kubernetes connections and watch caches that every Kubernetes discovery shares.
    kube: Clusters,
    state: Mutex<ManagerState>,
    shutdown: Shutdown,
    /// Bounds how many scraped pages are appended at once, process-wide (see
    /// [`LoopContext::appends`]).
    appends: Arc<Semaphore>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("ScrapeManager")
            .field("is_started", &state.storage.is_some())
            .field("pools", &state.pools.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ScrapeManager {
    /// Returns a manager with no jobs that spawns its tasks on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        ScrapeManager {
            runtime,
            kube: Clusters::new(KubeMetrics::default()),
            state: Mutex::new(ManagerState {
                storage: None,
                configs: Vec::new(),
                pools: BTreeMap::new(),
                offset_seed: 0,
            }),
            shutdown: Shutdown { sender: watch::channel(false).0 },
            appends: Arc::new(Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from))),
        }
    }

    /// Starts scraping into `storage` with the configuration applied so far.
    pub fn start(&self, storage: StorageRef) {
        let mut state = self.state.lock();
        state.storage = Some(storage);
        self.reconcile(&mut state);
    }

    /// Applies a new set of scrape configs (every job, `scrape_config_files` included).
    /// `external_labels` seed the targets' scrape offsets, as in Prometheus.
    ///
    /// # Errors
    ///
    /// Returns a message naming the job whose HTTP client cannot be built; nothing is changed
    /// then.
    pub fn apply(&self, configs: Vec<ScrapeConfig>, external_labels: &BTreeMap<String, String>) -> Result<(), String> {
        Self::check(&configs)?;
        let mut state = self.state.lock();
        state.offset_seed = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::hash::DefaultHasher::new();
            external_labels.hash(&mut hasher);
            hasher.finish()
        };
        state.configs = configs;
        self.reconcile(&mut state);
        Ok(())
    }

    /// Checks that every job's HTTP client can be built (CA and client certificates readable,
    /// supported settings), without applying anything.
    ///
    /// # Errors
    ///
    /// Returns a message naming the first job that cannot be scraped.
    pub fn check(configs: &[ScrapeConfig]) -> Result<(), String> {
        for config in configs {
            HttpClient::new(&config.http_client(), config.enable_compression)
                .map_err(|error| format!("scrape job {:?}: {error}", config.job_name))?;
            for kubernetes in &config.kubernetes_sd_configs {
                crate::discovery::kubernetes::connection_options(kubernetes)
                    .map_err(|error| format!("scrape job {:?}: {error}", config.job_name))?;
            }
        }
        Ok(())
    }

    /// Returns the Kubernetes connections and watch caches Kubernetes discovery uses, so that
    /// other users share them and their metrics can be registered.
    pub fn kube_clusters(&self) -> &Clusters {
        &self.kube
    }

    /// Stops every pool without staleness markers (process shutdown) and waits for them.
    pub async fn stop(&self) {
        self.shutdown.sender.send_replace(true);
        let pools = std::mem::take(&mut self.state.lock().pools);
        for (_, pool) in pools {
            let _ = pool.commands.send(PoolCommand::Stop { stale: false });
            let _ = pool.task.await;
        }
    }

    /// Returns the names of the scrape pools, in configuration order.
    pub fn scrape_pools(&self) -> Vec<String> {
        self.state.lock().configs.iter().map(|config| config.job_name.clone()).collect()
    }

    /// Returns every pool's targets and their health.
    pub fn targets(&self) -> TargetsSnapshot {
        let state = self.state.lock();
        let mut snapshot = TargetsSnapshot::default();
        for (name, pool) in &state.pools {
            let view = pool.view.lock();
            for (target, health) in &view.active {
                snapshot.active.push(ActiveTarget {
                    scrape_pool: name.clone(),
                    target: target.clone(),
                    health: health.lock().clone(),
                });
            }
            for labels in &view.dropped {
                snapshot.dropped.push(DroppedTarget { scrape_pool: name.clone(), discovered_labels: labels.clone() });
            }
            snapshot.dropped_counts.insert(name.clone(), view.dropped_count);
        }
        snapshot
    }

    /// Starts, reloads and stops pools to match `state.configs` (once the store is open).
    fn reconcile(&self, state: &mut ManagerState) {
        let Some(storage) = state.storage.clone() else { return };
        let wanted: HashMap<&str, &ScrapeConfig> =
            state.configs.iter().map(|config| (config.job_name.as_str(), config)).collect();
        let removed: Vec<String> =
            state.pools.keys().filter(|name| !wanted.contains_key(name.as_str())).cloned().collect();
        for name in removed {
            if let Some(pool) = state.pools.remove(&name) {
                tracing::info!(job = %name, "scrape job removed, stopping its targets");
                let _ = pool.commands.send(PoolCommand::Stop { stale: true });
            }
        }
        for config in &state.configs {
            match state.pools.get_mut(&config.job_name) {
                Some(pool) if *pool.config == *config => {}
                Some(pool) => {
                    tracing::info!(job = %config.job_name, "scrape job changed, restarting it");
                    pool.config = Arc::new(config.clone());
                    let _ = pool.commands.send(PoolCommand::Reload(pool.config.clone()));
                }
                None => {
                    let config = Arc::new(config.clone());
                    let (commands, receiver) = mpsc::unbounded_channel();
                    let view = Arc::new(Mutex::new(PoolView::default()));
                    let pool = Pool {
                        config: config.clone(),
                        storage: storage.clone(),
                        offset_seed: state.offset_seed,
                        view: view.clone(),
                        loops: HashMap::new(),
                        groups: BTreeMap::new(),
                        forced_error: Arc::new(Mutex::new(None)),
                        shutdown: self.shutdown.sender.subscribe(),
                        kube: self.kube.clone(),
                        appends: self.appends.clone(),
                    };
                    let task = self.runtime.spawn(pool.run(receiver));
                    state.pools.insert(config.job_name.clone(), PoolHandle { config, commands, view, task });
                }
            }
        }
    }
}

/// The settings that decide the labels a scraped series is stored under; when they change, the
/// scrape caches' stored labels are rebuilt.
fn labelling(config: &ScrapeConfig) -> impl PartialEq + '_ {
    (
        &config.metric_relabel_configs,
        config.honor_labels,
        config.label_limit,
        config.label_name_length_limit,
        config.label_value_length_limit,
        &config.metric_name_validation_scheme,
    )
}

/// A running target loop.
struct LoopHandle {
    target: Target,
    health: Arc<Mutex<TargetHealth>>,
    stop: watch::Sender<Stop>,
    task: JoinHandle<ScrapeCache>,
}

/// The state a pool task owns.
struct Pool {
    config: Arc<ScrapeConfig>,
    storage: StorageRef,
    offset_seed: u64,
    view: Arc<Mutex<PoolView>>,
    /// Running loops by target hash.
    loops: HashMap<u64, LoopHandle>,
    /// The latest groups of each discoverer, by discoverer index.
    groups: BTreeMap<usize, Vec<TargetGroup>>,
    forced_error: Arc<Mutex<Option<String>>>,
    shutdown: watch::Receiver<bool>,
    kube: Clusters,
    appends: Arc<Semaphore>,
}

impl Pool {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<PoolCommand>) {
        let mut caches: HashMap<u64, ScrapeCache> = HashMap::new();
        'config: loop {
            let Some(context) = self.context() else {
                // The manager checked the client before applying; only a file read can fail.
                tracing::error!(job = %self.config.job_name, "cannot build the scrape job's HTTP client; not scraping it");
                match commands.recv().await {
                    Some(PoolCommand::Reload(config)) => {
                        self.config = config;
                        continue 'config;
                    }
                    Some(PoolCommand::Stop { .. }) | None => return,
                }
            };
            let (updates_tx, mut updates) = mpsc::channel::<Update>(16);
            let discoverers = spawn_all(&self.config, &updates_tx, &self.kube);
            drop(updates_tx);
            self.groups.clear();
            let mut is_discovery_done = false;
            loop {
                tokio::select! {
                    update = updates.recv(), if !is_discovery_done => {
                        // `None`: every discoverer ended (static configs only).
                        let Some((index, groups)) = update else {
                            is_discovery_done = true;
                            continue;
                        };
                        self.groups.insert(index, groups);
                        // Coalesce bursts of updates (many files changing at once).
                        tokio::time::sleep(SYNC_DELAY).await;
                        while let Ok((index, groups)) = updates.try_recv() {
                            self.groups.insert(index, groups);
                        }
                        let has_every_discoverer_reported = self.groups.len() >= discoverers.len();
                        self.sync(&context, &mut caches, has_every_discoverer_reported);
                    }
                    command = commands.recv() => {
                        let command = command.unwrap_or(PoolCommand::Stop { stale: false });
                        if self.handle(command, &discoverers, &mut caches).await {
                            return;
                        }
                        continue 'config;
                    }
                }
            }
        }
    }

    /// Handles a command; returns whether the pool is done.
    async fn handle(
        &mut self,
        command: PoolCommand,
        discoverers: &[JoinHandle<()>],
        caches: &mut HashMap<u64, ScrapeCache>,
    ) -> bool {
        for task in discoverers {
            task.abort();
        }
        match command {
            PoolCommand::Reload(config) => {
                let is_labelling_changed = labelling(&self.config) != labelling(&config);
                self.config = config;
                *caches = self.stop_loops(Stop::Quiet).await;
                if is_labelling_changed {
                    caches.values_mut().for_each(ScrapeCache::reset_labels);
                }
                false
            }
            PoolCommand::Stop { stale } => {
                self.stop_loops(if stale { Stop::Stale } else { Stop::Quiet }).await;
                true
            }
        }
    }

    fn context(&self) -> Option<LoopContext> {
        let client = HttpClient::new(&self.config.http_client(), self.config.enable_compression).ok()?;
        Some(LoopContext {
            accept: Arc::from(self.config.accept_header()),
            config: self.config.clone(),
            client,
            storage: self.storage.clone(),
            forced_error: self.forced_error.clone(),
            offset_seed: self.offset_seed,
            shutdown: self.shutdown.clone(),
            appends: self.appends.clone(),
        })
    }

    /// Stops every loop; with [`Stop::Quiet`] waits for them and returns their caches by hash.
    /// With [`Stop::Stale`] the loops finish on their own after writing staleness markers.
    async fn stop_loops(&mut self, mode: Stop) -> HashMap<u64, ScrapeCache> {
        let mut caches = HashMap::new();
        for (hash, handle) in self.loops.drain() {
            let _ = handle.stop.send(mode);
            if mode == Stop::Quiet
                && let Ok(cache) = handle.task.await
            {
                caches.insert(hash, cache);
            }
        }
        let mut view = self.view.lock();
        view.active.clear();
        caches
    }

    /// Turns the discovered groups into targets and starts or stops loops to match.
    /// Caches handed over by a reload wait until every discoverer has reported once: a target
    /// that a slower discoverer brings back must not go stale in between.
    fn sync(
        &mut self,
        context: &LoopContext,
        caches: &mut HashMap<u64, ScrapeCache>,
        has_every_discoverer_reported: bool,
    ) {
        let mut active: Vec<Target> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut dropped = Vec::new();
        for group in self.groups.values().flatten() {
            let built = targets_from_group(&self.config, group);
            for failure in built.failures {
                tracing::warn!(job = %self.config.job_name, error = %failure, "cannot create target");
            }
            for target in built.active {
                if seen.insert(scrape_loop::target_hash(&target)) {
                    active.push(target);
                }
            }
            dropped.extend(built.dropped);
        }
        let limit = usize::try_from(self.config.target_limit).unwrap_or(usize::MAX);
        *self.forced_error.lock() = (limit > 0 && active.len() > limit)
            .then(|| format!("target_limit exceeded (number of targets: {}, limit: {limit})", active.len()));

        let mut wanted: HashMap<u64, Target> =
            active.into_iter().map(|target| (scrape_loop::target_hash(&target), target)).collect();
        let vanished: Vec<u64> = self.loops.keys().filter(|hash| !wanted.contains_key(hash)).copied().collect();
        for hash in vanished {
            if let Some(handle) = self.loops.remove(&hash) {
                let _ = handle.stop.send(Stop::Stale);
            }
        }
        for (hash, target) in wanted.drain() {
            if let Some(handle) = self.loops.get_mut(&hash) {
                // Same labels and URL; the discovered labels may differ.
                handle.target = target;
                continue;
            }
            let health = Arc::new(Mutex::new(TargetHealth::default()));
            let (stop, stop_rx) = watch::channel(Stop::Run);
            let cache = caches.remove(&hash).unwrap_or_default();
            let task = tokio::spawn(scrape_loop::run(context.clone(), target.clone(), health.clone(), cache, stop_rx));
            self.loops.insert(hash, LoopHandle { target, health, stop, task });
        }
        // Caches of targets that did not come back: their series go stale.
        let leftovers = if has_every_discoverer_reported { std::mem::take(caches) } else { HashMap::new() };
        for (_, mut cache) in leftovers {
            let storage = self.storage.clone();
            let t = panoptes_model::time::now_millis();
            tokio::task::spawn_blocking(move || cache.mark_all_stale(storage.as_ref(), t));
        }

        let keep = usize::try_from(self.config.keep_dropped_targets).unwrap_or(usize::MAX);
        let dropped_count = dropped.len();
        if keep > 0 {
            dropped.truncate(keep);
        }
        let mut active: Vec<(Target, Arc<Mutex<TargetHealth>>)> =
            self.loops.values().map(|handle| (handle.target.clone(), handle.health.clone())).collect();
        active.sort_by(|a, b| a.0.internal_labels().cmp(b.0.internal_labels()));
        let mut view = self.view.lock();
        *view = PoolView { active, dropped, dropped_count };
        tracing::debug!(job = %self.config.job_name, targets = view.active.len(), dropped = dropped_count, "scrape pool synced");
    }
}
