//! The other ingestion protocols through `panoptes server`: InfluxDB line protocol writes become
//! queryable series at once, and metrics pushed to the Pushgateway-compatible API are stored by
//! the built-in `pushgateway` scrape job (the push store survives a restart).

mod common;

use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Process, get_data, start_server, wait_ready};

async fn wait_for(client: &reqwest::Client, address: std::net::SocketAddr, query: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let data = get_data(
            client,
            &format!(
                "http://{address}/api/v1/query?query={}",
                form_urlencoded::byte_serialize(query.as_bytes()).collect::<String>()
            ),
        )
        .await;
        if data["result"].as_array().is_some_and(|result| !result.is_empty()) {
            return data["result"].clone();
        }
        assert!(Instant::now() < deadline, "nothing for {query}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn influx_writes_and_pushes_are_stored() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, "global:\n  scrape_interval: 1s\n").unwrap();
    let log_path = dir.path().join("panoptes.log");
    let data = dir.path().join("data");
    let flags = ["--config.file", config_path.to_str().unwrap()];
    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    // InfluxDB line protocol, as Telegraf sends it.
    let response = client
        .post(format!("http://{address}/write?db=telegraf&precision=s"))
        .body("cpu,host=web-1 usage_user=12.5,usage_system=3i\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    let result = get_data(&client, &format!("http://{address}/api/v1/query?query=cpu_usage_user")).await;
    assert_eq!(result["result"][0]["metric"], json!({"__name__": "cpu_usage_user", "db": "telegraf", "host": "web-1"}));
    assert_eq!(result["result"][0]["value"][1], "12.5");

    // A batch job pushes its result; the built-in job scrapes it with honor_labels.
    let response = client
        .put(format!("http://{address}/metrics/job/nightly_backup/instance/db-1"))
        .body("# TYPE backup_last_success_seconds gauge\nbackup_last_success_seconds 1700000000\n")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let result = wait_for(&client, address, "backup_last_success_seconds").await;
    assert_eq!(
        result[0]["metric"],
        json!({"__name__": "backup_last_success_seconds", "instance": "db-1", "job": "nightly_backup"})
    );
    assert_eq!(result[0]["value"][1], "1700000000");
    let pools = get_data(&client, &format!("http://{address}/api/v1/scrape_pools")).await;
    assert_eq!(pools["scrapePools"], json!(["pushgateway"]));

    // The pushed group outlives a restart.
    let _ = std::process::Command::new("kill").args(["-TERM", &panoptes.child.id().to_string()]).status();
    assert!(common::wait_exit(&mut panoptes.child, Duration::from_secs(20)).is_some_and(|status| status.success()));
    let (child, address) = start_server(&data, &flags, &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;
    let page = client.get(format!("http://{address}/pushgateway/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("backup_last_success_seconds{instance=\"db-1\",job=\"nightly_backup\"} 1.7e+09"), "{page}");
}
