//! Federation with the real client: Debian's `prometheus` scrapes Panoptes' `/federate` with
//! `honor_labels: true`, as a global Prometheus scrapes a regional one, and must store the newest
//! sample of each matching series with Panoptes' external labels added.

mod common;

use std::time::{Duration, Instant};

use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest};
use serde_json::{Value as Json, json};

use crate::common::{Process, start_prometheus, start_server, wait_ready};

fn series(name: &str, instance: &str, timestamp: i64, value: f64) -> TimeSeries {
    TimeSeries {
        labels: vec![Label::new("__name__", name), Label::new("instance", instance), Label::new("job", "app")],
        samples: vec![Sample { value, timestamp }],
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_federates_from_panoptes() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, "global:\n  external_labels:\n    region: eu-1\n").unwrap();
    let log_path = dir.path().join("panoptes.log");
    let (child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config_path.to_str().unwrap()], &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let now =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let request = WriteRequest {
        timeseries: vec![
            series("app_requests_total", "a", now - 30_000, 5.0),
            series("app_requests_total", "b", now - 30_000, 1.25e7),
            series("app_ignored", "a", now - 30_000, 1.0),
        ],
        metadata: Vec::new(),
    };
    common::remote_write(&client, address, &request).await;

    let page = client
        .get(format!("http://{address}/federate?match[]=app_requests_total"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.starts_with("# TYPE app_requests_total untyped\n"), "{page}");
    assert!(
        page.contains(&format!(
            "app_requests_total{{instance=\"b\",job=\"app\",region=\"eu-1\"}} 1.25e+07 {}",
            now - 30_000
        )),
        "{page}"
    );

    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: federate\n  honor_labels: true\n  metrics_path: /federate\n  params:\n    'match[]': ['{{job=\"app\",__name__=~\"app_requests.*\"}}']\n  static_configs:\n  - targets: ['{address}']\n"
    );
    let prometheus = start_prometheus(dir.path(), &config, &[], &client).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let response = client
            .get(format!("http://{}/api/v1/query?query=app_requests_total", prometheus.address))
            .send()
            .await
            .unwrap();
        let body: Json = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        let result = body["data"]["result"].as_array().cloned().unwrap_or_default();
        if result.len() == 2 {
            let mut metrics: Vec<Json> = result.iter().map(|entry| entry["metric"].clone()).collect();
            metrics.sort_by_key(ToString::to_string);
            assert_eq!(
                metrics,
                vec![
                    json!({"__name__": "app_requests_total", "instance": "a", "job": "app", "region": "eu-1"}),
                    json!({"__name__": "app_requests_total", "instance": "b", "job": "app", "region": "eu-1"}),
                ]
            );
            let values: Vec<&str> = result.iter().filter_map(|entry| entry["value"][1].as_str()).collect();
            assert!(values.contains(&"12500000") && values.contains(&"5"), "{values:?}");
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not federate: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
