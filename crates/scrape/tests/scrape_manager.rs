//! The scrape manager against real HTTP targets on loopback (axum servers whose pages the tests
//! change), scraping into an in-memory store: target health, report series, staleness when a
//! series or a target disappears, file discovery, reloads and limits.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use panoptes_model::{Labels, MatchOp, Matcher, Sample, is_stale_nan};
use panoptes_scrape::config::{self, ScrapeConfig};
use panoptes_scrape::{Health, ScrapeManager};
use panoptes_storage::{MemStorage, Storage, StorageRef, collect_samples};
use parking_lot::Mutex;

/// A target whose page, status and last request headers the test controls.
#[derive(Clone)]
struct FakeTarget {
    page: Arc<Mutex<(StatusCode, String)>>,
    last_headers: Arc<Mutex<HeaderMap>>,
}

impl FakeTarget {
    async fn start(page: &str) -> (FakeTarget, SocketAddr) {
        let target = FakeTarget {
            page: Arc::new(Mutex::new((StatusCode::OK, page.to_owned()))),
            last_headers: Arc::new(Mutex::new(HeaderMap::new())),
        };
        let state = target.clone();
        let app = Router::new().route(
            "/metrics",
            get(move |headers: HeaderMap| {
                let state = state.clone();
                async move {
                    *state.last_headers.lock() = headers;
                    let (status, body) = state.page.lock().clone();
                    (status, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        (target, address)
    }

    fn set(&self, status: StatusCode, page: &str) {
        *self.page.lock() = (status, page.to_owned());
    }
}

fn scrape_configs(yaml: &str) -> Vec<ScrapeConfig> {
    config::parse_str(yaml, "test.yml").expect("config parses").scrape_configs
}

fn samples(storage: &dyn Storage, name: &str) -> Vec<(Labels, Vec<Sample>)> {
    let querier = storage.querier(i64::MIN / 2, i64::MAX / 2).expect("querier");
    let matcher = Matcher::new(MatchOp::Equal, "__name__", name).expect("matcher");
    querier
        .select(&[matcher])
        .expect("select")
        .map(|series| {
            let mut series = series.expect("series");
            (series.labels.clone(), collect_samples(series.samples.as_mut()))
        })
        .collect()
}

/// Polls `check` for up to 10 s.
async fn eventually(what: &str, check: impl FnMut() -> bool) {
    panoptes_test_util::eventually(what, Duration::from_secs(10), check).await;
}

fn last_is_stale(storage: &dyn Storage, name: &str) -> bool {
    samples(storage, name).iter().any(|(_, samples)| samples.last().is_some_and(|sample| is_stale_nan(sample.v)))
}

fn job(address: SocketAddr, extra: &str) -> String {
    format!(
        "scrape_configs:\n- job_name: app\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n{extra}  static_configs:\n  - targets: ['{address}']\n    labels: {{team: core}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_targets_reports_health_and_marks_vanished_series_stale() {
    let (target, address) = FakeTarget::start("# TYPE a counter\na_total 1\nb 2\n").await;
    let storage = Arc::new(MemStorage::new());
    let manager = ScrapeManager::new(tokio::runtime::Handle::current());
    manager.apply(scrape_configs(&job(address, "")), &BTreeMap::new()).expect("applies");
    manager.start(storage.clone() as StorageRef);

    eventually("a and up are scraped", || !samples(storage.as_ref(), "a_total").is_empty()).await;
    let up = samples(storage.as_ref(), "up");
    assert_eq!(up[0].0.to_string(), format!(r#"up{{instance="{address}", job="app", team="core"}}"#));
    assert!(up[0].1.iter().all(|sample| sample.v == 1.0));
    let scraped = samples(storage.as_ref(), "scrape_samples_scraped");
    assert_eq!(scraped[0].1[0].v, 2.0);
    let added = samples(storage.as_ref(), "scrape_series_added");
    assert_eq!(added[0].1[0].v, 2.0, "both series are new at the first scrape");

    // Scrapes are stamped at a stable phase of the 200 ms interval. As in Prometheus, a scrape
    // that starts later than the 2 ms tolerance (a loaded machine) is stamped with its real,
    // later start: never earlier than its phase, and the next one returns to the phase.
    eventually("five scrapes", || samples(storage.as_ref(), "up")[0].1.len() >= 5).await;
    let times: Vec<i64> = samples(storage.as_ref(), "up")[0].1.iter().map(|sample| sample.t).collect();
    let on = |phase: i64| times.iter().filter(|t| t.rem_euclid(200) == phase).count();
    let phase = times.iter().map(|t| t.rem_euclid(200)).max_by_key(|&phase| on(phase)).expect("scrapes");
    let on_phase = on(phase);
    assert!(on_phase * 2 > times.len(), "most of {times:?} keep one phase");
    for t in &times {
        let late = (t.rem_euclid(200) - phase).rem_euclid(200);
        assert!(late < 150, "timestamp {t} of {times:?} is off its phase by {late} ms");
    }

    let snapshot = manager.targets();
    assert_eq!(snapshot.active.len(), 1);
    let active = &snapshot.active[0];
    assert_eq!((active.scrape_pool.as_str(), active.health.health), ("app", Health::Up));
    assert_eq!(active.target.url(), format!("http://{address}/metrics"));
    assert!(active.health.last_error.is_empty());
    let headers = target.last_headers.lock().clone();
    assert!(headers[header::ACCEPT].to_str().unwrap().starts_with("application/openmetrics-text;version=1.0.0"));
    assert_eq!(headers["x-prometheus-scrape-timeout-seconds"], "0.15");
    assert!(headers[header::USER_AGENT].to_str().unwrap().starts_with("Panoptes/"));

    target.set(StatusCode::OK, "a_total 2\n");
    eventually("b gets a staleness marker", || last_is_stale(storage.as_ref(), "b")).await;
    assert!(!last_is_stale(storage.as_ref(), "a_total"));

    target.set(StatusCode::INTERNAL_SERVER_ERROR, "boom");
    eventually("the target is down", || manager.targets().active[0].health.health == Health::Down).await;
    assert_eq!(manager.targets().active[0].health.last_error, "server returned HTTP status 500 Internal Server Error");
    eventually("up is 0", || samples(storage.as_ref(), "up")[0].1.last().is_some_and(|sample| sample.v == 0.0)).await;
    eventually("a failed scrape marks every series stale", || last_is_stale(storage.as_ref(), "a_total")).await;

    // Removing the job stops its loop; the report series go stale at the next scrape time.
    manager.apply(Vec::new(), &BTreeMap::new()).expect("applies");
    eventually("up is marked stale", || last_is_stale(storage.as_ref(), "up")).await;
    assert!(manager.targets().active.is_empty());
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloading_a_changed_job_keeps_series_fresh() {
    let (_target, address) = FakeTarget::start("a 1\n").await;
    let storage = Arc::new(MemStorage::new());
    let manager = ScrapeManager::new(tokio::runtime::Handle::current());
    manager.start(storage.clone() as StorageRef);
    manager.apply(scrape_configs(&job(address, "")), &BTreeMap::new()).expect("applies");
    eventually("a is scraped", || !samples(storage.as_ref(), "a").is_empty()).await;

    manager.apply(scrape_configs(&job(address, "  sample_limit: 100\n")), &BTreeMap::new()).expect("applies");
    let before = samples(storage.as_ref(), "a")[0].1.len();
    eventually("scraping continues after the reload", || samples(storage.as_ref(), "a")[0].1.len() >= before + 3).await;
    assert!(
        samples(storage.as_ref(), "a")[0].1.iter().all(|sample| !is_stale_nan(sample.v)),
        "a reload must not mark series stale"
    );
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_discovery_follows_file_changes() {
    let (_one, first) = FakeTarget::start("x 1\n").await;
    let (_two, second) = FakeTarget::start("x 2\n").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("targets.json");
    std::fs::write(&file, format!(r#"[{{"targets": ["{first}"], "labels": {{"env": "a"}}}}]"#)).expect("write");
    let yaml = format!(
        "scrape_configs:\n- job_name: files\n  scrape_interval: 200ms\n  scrape_timeout: 100ms\n  file_sd_configs:\n  - files: ['{}/*.json']\n",
        dir.path().display()
    );
    let storage = Arc::new(MemStorage::new());
    let manager = ScrapeManager::new(tokio::runtime::Handle::current());
    manager.apply(scrape_configs(&yaml), &BTreeMap::new()).expect("applies");
    manager.start(storage.clone() as StorageRef);
    eventually("the first target is scraped", || samples(storage.as_ref(), "x").len() == 1).await;
    let snapshot = manager.targets();
    let discovered = snapshot.active[0].target.discovered_labels();
    assert_eq!(discovered.get("__meta_filepath"), Some(file.display().to_string().as_str()));
    assert_eq!(discovered.get("env"), Some("a"));

    std::fs::write(&file, format!(r#"[{{"targets": ["{second}"]}}]"#)).expect("rewrite");
    eventually("the second target is scraped", || samples(storage.as_ref(), "x").len() == 2).await;
    eventually("the first target's series go stale", || {
        samples(storage.as_ref(), "x").iter().any(|(labels, samples)| {
            labels.get("env") == Some("a") && samples.last().is_some_and(|s| is_stale_nan(s.v))
        })
    })
    .await;
    assert_eq!(manager.targets().active.len(), 1);
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_fail_the_scrape_with_a_clear_error() {
    let (_target, address) = FakeTarget::start("a 1\nb 2\nc 3\n").await;
    let storage = Arc::new(MemStorage::new());
    let manager = ScrapeManager::new(tokio::runtime::Handle::current());
    manager.start(storage.clone() as StorageRef);
    manager.apply(scrape_configs(&job(address, "  sample_limit: 2\n")), &BTreeMap::new()).expect("applies");
    eventually("the sample limit fails the scrape", || {
        manager.targets().active.first().is_some_and(|target| target.health.last_error == "sample limit exceeded")
    })
    .await;
    assert!(samples(storage.as_ref(), "a").is_empty(), "a page over the limit is discarded whole");

    manager.apply(scrape_configs(&job(address, "  body_size_limit: 4B\n")), &BTreeMap::new()).expect("applies");
    eventually("the body limit fails the scrape", || {
        manager.targets().active.first().is_some_and(|target| target.health.last_error == "body size limit exceeded")
    })
    .await;

    let two_targets = format!(
        "scrape_configs:\n- job_name: app\n  scrape_interval: 200ms\n  scrape_timeout: 150ms\n  target_limit: 1\n  static_configs:\n  - targets: ['{address}', 'localhost:{}']\n",
        address.port()
    );
    manager.apply(scrape_configs(&two_targets), &BTreeMap::new()).expect("applies");
    eventually("the target limit fails every target", || {
        let snapshot = manager.targets();
        snapshot.active.len() == 2
            && snapshot
                .active
                .iter()
                .all(|target| target.health.last_error == "target_limit exceeded (number of targets: 2, limit: 1)")
    })
    .await;
    manager.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_client_setting_is_refused_before_anything_changes() {
    let storage = Arc::new(MemStorage::new());
    let manager = ScrapeManager::new(tokio::runtime::Handle::current());
    manager.start(storage as StorageRef);
    let yaml = "scrape_configs:\n- job_name: tls\n  tls_config:\n    ca_file: /nonexistent/ca.pem\n  static_configs:\n  - targets: ['localhost:1']\n";
    let error = manager.apply(scrape_configs(yaml), &BTreeMap::new()).expect_err("CA file is missing");
    assert!(error.starts_with(r#"scrape job "tls": unable to read CA file /nonexistent/ca.pem"#), "{error}");
    assert!(manager.scrape_pools().is_empty());
}
