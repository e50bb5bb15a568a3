//! Running discoverers: each one is a tokio task that sends its complete list of target groups
//! whenever it changes. Static configs send once; file SD re-reads its files when their size or
//! modification time changes (polled every second) and at `refresh_interval`; HTTP SD polls its
//! URL at `refresh_interval` and keeps the last good answer when a poll fails, as Prometheus does;
//! DNS SD resolves its names at `refresh_interval` (`dns.rs`); Kubernetes SD follows shared
//! watch caches (`kubernetes.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::TargetGroup;
use super::file::parse_target_groups;
use super::http::parse_response;
use crate::client::HttpClient;
use crate::config::{
    AlertmanagerConfig, DnsSdConfig, FileSdConfig, HttpSdConfig, KubernetesSdConfig, ScrapeConfig, StaticConfig,
};

/// How often file SD checks its files for changes.
const FILE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// An update from one discoverer: its index in the pool and all its groups.
pub(crate) type Update = (usize, Vec<TargetGroup>);

/// Starts every discoverer of a scrape config; returns their tasks and how many there are.
pub(crate) fn spawn_all(
    config: &ScrapeConfig,
    updates: &mpsc::Sender<Update>,
    kube: &panoptes_kube::Clusters,
) -> Vec<tokio::task::JoinHandle<()>> {
    let sources = Sources {
        name: &config.job_name,
        static_configs: &config.static_configs,
        file_sd_configs: &config.file_sd_configs,
        http_sd_configs: &config.http_sd_configs,
        kubernetes_sd_configs: &config.kubernetes_sd_configs,
        dns_sd_configs: &config.dns_sd_configs,
    };
    sources.spawn(updates, kube)
}

/// The discovery configurations of a scrape config or of an `alerting.alertmanagers` entry.
struct Sources<'a> {
    /// The job or Alertmanager set, for logs.
    name: &'a str,
    static_configs: &'a [StaticConfig],
    file_sd_configs: &'a [FileSdConfig],
    http_sd_configs: &'a [HttpSdConfig],
    kubernetes_sd_configs: &'a [KubernetesSdConfig],
    dns_sd_configs: &'a [DnsSdConfig],
}

impl Sources<'_> {
    /// Starts one task per discoverer, numbered static first (all static configs are one
    /// discoverer), then file, HTTP, Kubernetes and DNS SD.
    fn spawn(
        &self,
        updates: &mpsc::Sender<Update>,
        kube: &panoptes_kube::Clusters,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let static_groups: Vec<TargetGroup> = self
            .static_configs
            .iter()
            .enumerate()
            .map(|(position, static_config)| TargetGroup::from_static_config(static_config, position))
            .collect();
        let sender = updates.clone();
        let mut tasks = vec![tokio::spawn(async move {
            let _ = sender.send((0, static_groups)).await;
        })];
        let mut index = 1;
        for file_sd in self.file_sd_configs {
            tasks.push(tokio::spawn(run_file_sd(file_sd.clone(), index, updates.clone())));
            index += 1;
        }
        for http_sd in self.http_sd_configs {
            tasks.push(tokio::spawn(run_http_sd(http_sd.clone(), index, updates.clone())));
            index += 1;
        }
        for kubernetes in self.kubernetes_sd_configs {
            tasks.push(tokio::spawn(super::kubernetes::run(kubernetes.clone(), index, updates.clone(), kube.clone())));
            index += 1;
        }
        for dns_sd in self.dns_sd_configs {
            match super::dns::DnsResolver::system() {
                Ok(resolver) => {
                    tasks.push(tokio::spawn(super::dns::run(dns_sd.clone(), index, updates.clone(), resolver)));
                }
                Err(error) => {
                    tracing::error!(job = %self.name, error = %error, "DNS SD: cannot read the system's resolver configuration; no targets from it")
                }
            }
            index += 1;
        }
        tasks
    }
}

/// What identifies a file's version: its size and modification time.
type Signature = (u64, Option<SystemTime>);

async fn run_file_sd(config: FileSdConfig, index: usize, updates: mpsc::Sender<Update>) {
    let mut known: BTreeMap<PathBuf, (Signature, Vec<TargetGroup>)> = BTreeMap::new();
    let mut last_sent: Option<Vec<TargetGroup>> = None;
    let mut last_full_read = tokio::time::Instant::now();
    loop {
        let is_full_read = last_full_read.elapsed() >= config.refresh_interval;
        if is_full_read {
            last_full_read = tokio::time::Instant::now();
        }
        let files: Vec<PathBuf> = config.files.iter().flat_map(|pattern| crate::config::glob_files(pattern)).collect();
        known.retain(|path, _| files.contains(path));
        for path in files {
            let signature = match std::fs::metadata(&path) {
                Ok(metadata) => (metadata.len(), metadata.modified().ok()),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %error, "file SD: cannot read file");
                    known.remove(&path);
                    continue;
                }
            };
            if !is_full_read && known.get(&path).is_some_and(|(known_signature, _)| *known_signature == signature) {
                continue;
            }
            let groups = std::fs::read_to_string(&path).map_err(|error| error.to_string()).and_then(|text| {
                parse_target_groups(&text, &path.display().to_string()).map_err(|error| error.to_string())
            });
            match groups {
                Ok(groups) => {
                    known.insert(path, (signature, groups));
                }
                // A half-written or broken file keeps its previous targets.
                Err(error) => tracing::warn!(path = %path.display(), error = %error, "file SD: cannot parse file"),
            }
        }
        let groups: Vec<TargetGroup> = known.values().flat_map(|(_, groups)| groups.iter().cloned()).collect();
        if last_sent.as_ref() != Some(&groups) {
            if updates.send((index, groups.clone())).await.is_err() {
                return;
            }
            last_sent = Some(groups);
        }
        tokio::time::sleep(FILE_POLL_INTERVAL.min(config.refresh_interval.max(Duration::from_millis(100)))).await;
    }
}

async fn run_http_sd(config: HttpSdConfig, index: usize, updates: mpsc::Sender<Update>) {
    let client = match HttpClient::new(&config.http_client(), true) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(url = %config.url, error = %error, "HTTP SD: cannot build client; no targets from it");
            return;
        }
    };
    let mut last_sent: Option<Vec<TargetGroup>> = None;
    let refresh_seconds = config.refresh_interval.as_secs().to_string();
    loop {
        match poll_http_sd(&client, &config.url, &refresh_seconds).await {
            Ok(groups) => {
                if last_sent.as_ref() != Some(&groups) {
                    if updates.send((index, groups.clone())).await.is_err() {
                        return;
                    }
                    last_sent = Some(groups);
                }
            }
            Err(error) => {
                tracing::warn!(url = %config.url, error = %error, "HTTP SD: poll failed, keeping previous targets")
            }
        }
        tokio::time::sleep(config.refresh_interval.max(Duration::from_secs(1))).await;
    }
}

async fn poll_http_sd(client: &HttpClient, url: &str, refresh_seconds: &str) -> Result<Vec<TargetGroup>, String> {
    let request = client.get(url).await?.header("X-Prometheus-Refresh-Interval-Seconds", refresh_seconds);
    let response = tokio::time::timeout(Duration::from_secs(30), request.send())
        .await
        .map_err(|_| "request timed out".to_owned())?
        .map_err(|error| error.to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("server returned HTTP status {status}"));
    }
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).map(str::to_owned);
    let body = response.text().await.map_err(|error| error.to_string())?;
    parse_response(&body, content_type.as_deref(), url).map_err(|error| error.to_string())
}

/// Starts every discoverer of an `alerting.alertmanagers` entry, numbered as [`spawn_all`]
/// numbers those of a scrape config (static first, then file, HTTP, Kubernetes and DNS SD).
pub(crate) fn spawn_for_alertmanagers(
    config: &AlertmanagerConfig,
    updates: &mpsc::Sender<Update>,
    kube: &panoptes_kube::Clusters,
) -> Vec<tokio::task::JoinHandle<()>> {
    let sources = Sources {
        name: "alertmanagers",
        static_configs: &config.static_configs,
        file_sd_configs: &config.file_sd_configs,
        http_sd_configs: &config.http_sd_configs,
        kubernetes_sd_configs: &config.kubernetes_sd_configs,
        dns_sd_configs: &config.dns_sd_configs,
    };
    sources.spawn(updates, kube)
}
