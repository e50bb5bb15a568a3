//! `--config.auto-reload-interval`: the server reloads when the contents of its configuration,
//! rule or scrape config files change, as they do when the kubelet updates a mounted ConfigMap:
//! it writes a new timestamped directory and swaps the `..data` symlink the file links point
//! through. The swap is done here exactly that way, on real files.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{get_data, start_server, wait_ready};

/// Publishes `files` as the kubelet's atomic writer does: `..<version>/` holds them, `..data`
/// points at it (replaced with a rename), and each visible file links through `..data`.
fn publish(dir: &Path, version: u32, files: &[(&str, &str)]) {
    let payload = dir.join(format!("..{version}"));
    std::fs::create_dir(&payload).unwrap();
    for (name, text) in files {
        std::fs::write(payload.join(name), text).unwrap();
    }
    let staged = dir.join("..data_tmp");
    std::os::unix::fs::symlink(format!("..{version}"), &staged).unwrap();
    std::fs::rename(&staged, dir.join("..data")).unwrap();
    for (name, _) in files {
        let link = dir.join(name);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(format!("..data/{name}"), &link).unwrap();
        }
    }
}

/// The main file names `rules.yml` and `jobs.yml` next to it.
fn config(job: &str, dir: &Path) -> String {
    format!(
        "global:\n  evaluation_interval: 1h\nrule_files: [{}]\nscrape_config_files: [{}]\nscrape_configs:\n- job_name: \
         {job}\n  static_configs:\n  - targets: ['127.0.0.1:1']\n",
        dir.join("rules.yml").display(),
        dir.join("jobs.yml").display()
    )
}

fn jobs(job: &str) -> String {
    format!("scrape_configs:\n- job_name: {job}\n  static_configs:\n  - targets: ['127.0.0.1:2']\n")
}

fn rules(alert: &str) -> String {
    format!("groups:\n- name: g\n  rules:\n  - alert: {alert}\n    expr: vector(1)\n")
}

async fn wait_for(what: &str, log: &Path, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}; server log:\n{}", std::fs::read_to_string(log).unwrap_or_default());
}

async fn reload_successful(client: &reqwest::Client, address: std::net::SocketAddr) -> Option<f64> {
    let text = client.get(format!("http://{address}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("panoptes_config_last_reload_successful "))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_config_map_files_are_reloaded_without_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("config");
    std::fs::create_dir(&mount).unwrap();
    publish(
        &mount,
        1,
        &[("panoptes.yml", &config("first", &mount)), ("jobs.yml", &jobs("extra-a")), ("rules.yml", &rules("First"))],
    );
    let log = dir.path().join("server.log");
    let config_file = mount.join("panoptes.yml");
    let (mut child, address) = start_server(
        &dir.path().join("data"),
        &["--config.file", config_file.to_str().unwrap(), "--config.auto-reload-interval=100ms"],
        &log,
    );
    let client = reqwest::Client::new();
    wait_ready(&client, address, &mut child, &log).await;
    let status_url = format!("http://{address}/api/v1/status/config");
    let rules_url = format!("http://{address}/api/v1/rules");
    assert!(get_data(&client, &status_url).await["yaml"].as_str().unwrap().contains("job_name: first"));

    // A new configuration: reloaded with no SIGHUP and no /-/reload.
    publish(
        &mount,
        2,
        &[("panoptes.yml", &config("second", &mount)), ("jobs.yml", &jobs("extra-a")), ("rules.yml", &rules("First"))],
    );
    wait_for("the second configuration", &log, async || {
        get_data(&client, &status_url).await["yaml"].as_str().unwrap().contains("job_name: second")
    })
    .await;

    // Only a rule file changes: reloaded too.
    publish(
        &mount,
        3,
        &[("panoptes.yml", &config("second", &mount)), ("jobs.yml", &jobs("extra-a")), ("rules.yml", &rules("Second"))],
    );
    wait_for("the changed rule file", &log, async || {
        get_data(&client, &rules_url).await.to_string().contains("Second")
    })
    .await;

    // A broken file is refused and the running configuration kept.
    publish(
        &mount,
        4,
        &[("panoptes.yml", "scrape_configs: [oops\n"), ("jobs.yml", &jobs("extra-a")), ("rules.yml", &rules("Second"))],
    );
    wait_for("the failed reload", &log, async || reload_successful(&client, address).await == Some(0.0)).await;
    assert!(get_data(&client, &status_url).await["yaml"].as_str().unwrap().contains("job_name: second"));
    assert_eq!(child.try_wait().unwrap(), None, "the server keeps running");

    // Fixed again: reloaded.
    publish(
        &mount,
        5,
        &[("panoptes.yml", &config("third", &mount)), ("jobs.yml", &jobs("extra-a")), ("rules.yml", &rules("Second"))],
    );
    wait_for("the third configuration", &log, async || reload_successful(&client, address).await == Some(1.0)).await;
    assert!(get_data(&client, &status_url).await["yaml"].as_str().unwrap().contains("job_name: third"));

    // Only a scrape config file changes: reloaded too.
    let pools_url = format!("http://{address}/api/v1/scrape_pools");
    assert!(get_data(&client, &pools_url).await.to_string().contains("extra-a"));
    publish(
        &mount,
        6,
        &[("panoptes.yml", &config("third", &mount)), ("jobs.yml", &jobs("extra-b")), ("rules.yml", &rules("Second"))],
    );
    wait_for("the changed scrape config file", &log, async || {
        get_data(&client, &pools_url).await.to_string().contains("extra-b")
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
}
