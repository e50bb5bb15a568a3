//! The set of running queues, kept equal to the configuration's `remote_write` entries: created
//! at start, and at each reload restarted when their entry (or the external labels) changed,
//! kept when unchanged, stopped when removed.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use panoptes_model::Labels;
use panoptes_scrape::client::HttpClient;
use panoptes_scrape::config::RemoteWriteConfig;
use panoptes_tsdb::Db;
use parking_lot::Mutex;
use prometheus_client::registry::Registry;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::metrics::{QueueLabels, RemoteMetrics};
use crate::position::{load_position, save_position};
use crate::queue::{Queue, QueueSettings};

/// The directory under the data directory that holds one folder per queue.
const REMOTE_DIR: &str = "remote";

/// Returns the key of a queue: a hash of its URL and name, naming its folder under
/// `<data>/remote/`. The same URL and name resume from the same position after a restart or a
/// reload; any other change of the entry keeps the position too.
pub fn queue_key(config: &RemoteWriteConfig) -> String {
    let mut text = config.url.clone();
    text.push('\n');
    text.push_str(config.name.as_deref().unwrap_or(""));
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(text.as_bytes()))
}

struct Running {
    config: RemoteWriteConfig,
    external_labels: Labels,
    queue: Queue,
}

/// Creates, updates and stops remote-write queues over one database.
pub struct RemoteWriteManager {
    db: Db,
    dir: PathBuf,
    runtime: tokio::runtime::Handle,
    metrics: RemoteMetrics,
    queues: Mutex<HashMap<String, Running>>,
}

impl RemoteWriteManager {
    /// Returns a manager without queues; `runtime` runs the HTTP requests.
    pub fn new(db: Db, runtime: tokio::runtime::Handle) -> RemoteWriteManager {
        let dir = db.dir().join(REMOTE_DIR);
        RemoteWriteManager { db, dir, runtime, metrics: RemoteMetrics::default(), queues: Mutex::new(HashMap::new()) }
    }

    /// Registers the queues' metrics.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.metrics.register(registry);
    }

    /// Checks that every entry can be run, without starting anything, so that a reload can
    /// refuse a configuration before applying any of it.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] naming the entry and the setting that cannot be honoured.
    pub fn check(configs: &[RemoteWriteConfig]) -> Result<()> {
        let mut keys = std::collections::HashSet::new();
        for config in configs {
            let name = display_name(config);
            let fail = |reason: String| Error::Config { name: name.clone(), reason };
            // Two entries with one URL and no name would share a queue and its position.
            if !keys.insert(queue_key(config)) {
                return Err(fail(format!(
                    "duplicate remote write entry for url {}; give each a name",
                    redacted_url(&config.url)
                )));
            }
            if config.protobuf_message != "prometheus.WriteRequest" {
                return Err(fail(format!("protobuf_message {} is not supported yet", config.protobuf_message)));
            }
            reqwest::Url::parse(&config.url).map_err(|error| fail(format!("invalid url: {error}")))?;
            HttpClient::new(&config.http_client(), false).map_err(fail)?;
            headers(config).map_err(fail)?;
        }
        Ok(())
    }

    /// Makes the running queues those of `configs`: unchanged entries keep running, changed
    /// ones restart from their saved position, removed ones stop, new ones start from the end
    /// of the WAL.
    ///
    /// # Errors
    ///
    /// Returns an error when an entry cannot be run (see [`RemoteWriteManager::check`]) or a
    /// queue's position cannot be read or saved; queues handled before it are applied.
    pub fn apply(&self, configs: &[RemoteWriteConfig], external_labels: &BTreeMap<String, String>) -> Result<()> {
        Self::check(configs)?;
        let external_labels = Labels::from_pairs(external_labels.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let mut queues = self.queues.lock();
        let wanted: HashMap<String, &RemoteWriteConfig> =
            configs.iter().map(|config| (queue_key(config), config)).collect();
        let stale: Vec<String> = queues
            .iter()
            .filter(|(key, running)| {
                wanted
                    .get(*key)
                    .is_none_or(|config| **config != running.config || running.external_labels != external_labels)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in stale {
            if let Some(running) = queues.remove(&key) {
                info!(remote_name = %display_name(&running.config), "stopping remote-write queue");
                running.queue.stop(Duration::ZERO);
            }
        }
        for config in configs {
            let key = queue_key(config);
            if queues.contains_key(&key) {
                continue;
            }
            let queue = self.start(&key, config, &external_labels)?;
            queues.insert(key, Running { config: config.clone(), external_labels: external_labels.clone(), queue });
        }
        Ok(())
    }

    fn start(&self, key: &str, config: &RemoteWriteConfig, external_labels: &Labels) -> Result<Queue> {
        let name = display_name(config);
        let fail = |reason: String| Error::Config { name: name.clone(), reason };
        let dir = self.dir.join(key);
        let writer = self.db.wal_position().ok_or_else(|| fail("the database is read-only".to_owned()))?;
        let start = match load_position(&dir) {
            Ok(Some(saved)) if saved > writer => {
                warn!(remote_name = %name, saved_segment = saved.segment, wal_segment = writer.segment, "saved remote-write position is past the end of the wal (was the wal removed?); starting at its end");
                writer
            }
            Ok(Some(saved)) => saved,
            Ok(None) => writer,
            Err(error) => {
                // Resend rather than skip: start with the oldest segment there is.
                warn!(remote_name = %name, error = %error, "unreadable remote-write position; resending from the oldest wal segment");
                Default::default()
            }
        };
        // Saved at once, so that a restart before the first send resumes here, not at the end.
        save_position(&dir, start)?;
        let hold = self.db.hold_wal(start.segment);
        let settings = QueueSettings {
            labels: QueueLabels { remote_name: name.clone(), url: redacted_url(&config.url) },
            url: config.url.clone(),
            dir,
            queue: config.queue_config.clone(),
            timeout: config.remote_timeout,
            external_labels: external_labels.clone(),
            relabel: config.write_relabel_configs.clone(),
            headers: headers(config).map_err(&fail)?,
            client: HttpClient::new(&config.http_client(), false).map_err(&fail)?,
        };
        Queue::start(settings, self.db.wal_dir(), start, hold, self.metrics.clone(), self.runtime.clone())
            .map_err(|error| fail(format!("cannot start the queue thread: {error}")))
    }

    /// Stops every queue, letting each send what it has read for at most `flush`. What is not
    /// acknowledged by then is sent after the next start.
    pub fn stop(&self, flush: Duration) {
        let queues: Vec<Running> = self.queues.lock().drain().map(|(_, running)| running).collect();
        if !queues.is_empty() {
            info!(queues = queues.len(), flush_seconds = flush.as_secs_f64(), "stopping remote-write queues");
        }
        // Stop them all at once: each gets the same deadline.
        let threads: Vec<_> =
            queues.into_iter().map(|running| std::thread::spawn(move || running.queue.stop(flush))).collect();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

/// Returns the name of a queue in logs and metrics: the configured one, or the first six hex
/// digits of its key (Prometheus derives it from a hash of the entry too).
fn display_name(config: &RemoteWriteConfig) -> String {
    match config.name.as_deref().filter(|name| !name.is_empty()) {
        Some(name) => name.to_owned(),
        None => queue_key(config)[..6].to_owned(),
    }
}

/// Returns the URL with its password, if any, replaced, as Go's `URL.Redacted` does.
fn redacted_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("xxxxx"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Returns the entry's `headers` as a header map.
fn headers(config: &RemoteWriteConfig) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in &config.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
        let value = HeaderValue::from_str(value).map_err(|_| format!("header {name} has an invalid value"))?;
        map.insert(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sharing_url_and_name_are_refused() {
        let parse = |yaml: &str| panoptes_scrape::config::parse_str(yaml, "t.yml").unwrap().remote_write;
        let same = parse("remote_write:\n- url: http://a/w\n- url: http://a/w\n");
        let error = RemoteWriteManager::check(&same).unwrap_err().to_string();
        assert!(error.contains("duplicate remote write entry"), "{error}");
        let named = parse("remote_write:\n- url: http://a/w\n  name: x\n- url: http://a/w\n  name: y\n");
        RemoteWriteManager::check(&named).unwrap();
        let v2 = parse("remote_write:\n- url: http://a/w\n  protobuf_message: io.prometheus.write.v2.Request\n");
        assert!(RemoteWriteManager::check(&v2).unwrap_err().to_string().contains("not supported yet"));
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redacted_url("http://u:secret@h:1/w"), "http://u:xxxxx@h:1/w");
        assert_eq!(redacted_url("http://h:1/w"), "http://h:1/w");
    }
}
