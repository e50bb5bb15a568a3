//! Remote read with the real client: Debian's `prometheus` is configured with Panoptes as its
//! `remote_read` endpoint; data remote-written into Panoptes must come back, sample for sample,
//! from queries answered by Prometheus. Also the sample limit, with Prometheus' error.

mod common;

use std::time::{Duration, Instant};

use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest};
use serde_json::Value as Json;

use crate::common::{Process, start_prometheus, start_server, wait_ready};

fn series(name: &str, instance: &str, first_ms: i64, values: &[f64]) -> TimeSeries {
    series_every(name, instance, first_ms, 15_000, values)
}

fn series_every(name: &str, instance: &str, first_ms: i64, step_ms: i64, values: &[f64]) -> TimeSeries {
    TimeSeries {
        labels: vec![Label::new("__name__", name), Label::new("instance", instance), Label::new("job", "rr")],
        samples: values
            .iter()
            .enumerate()
            .map(|(index, value)| Sample { value: *value, timestamp: first_ms + index as i64 * step_ms })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

async fn query(client: &reqwest::Client, address: std::net::SocketAddr, form: &[(&str, String)]) -> Json {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form {
        query.append_pair(name, value);
    }
    let url = format!("http://{address}/api/v1/query_range?{}", query.finish());
    let response = client.get(url).send().await.unwrap();
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_reads_back_what_panoptes_stores() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("panoptes.log");
    let (child, address) =
        start_server(&dir.path().join("data"), &["--storage.remote.read-sample-limit=100"], &log_path);
    let mut panoptes = Process { child, address };
    wait_ready(&client, address, &mut panoptes.child, &log_path).await;

    let now_ms =
        i64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let first = (now_ms - 10 * 60_000) / 15_000 * 15_000;
    let request = WriteRequest {
        timeseries: vec![
            series("rr_requests_total", "a", first, &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]),
            series("rr_requests_total", "b", first, &[0.5, f64::INFINITY, -3.25, 7.0]),
            series("rr_other", "a", first, &[42.0]),
            // 400 samples within the queried window: over the limit of 100.
            series_every("rr_big", "a", first - 200_000, 1_000, &[1.0; 400]),
        ],
        metadata: Vec::new(),
    };
    common::remote_write(&client, address, &request).await;

    let config = format!(
        "global:\n  scrape_interval: 1m\nremote_read:\n- url: http://{address}/api/v1/read\n  read_recent: true\n"
    );
    let prometheus = start_prometheus(dir.path(), &config, &[], &client).await;
    let form = |expr: &str| {
        vec![
            ("query", expr.to_owned()),
            ("start", format!("{}", first / 1000)),
            ("end", format!("{}", (first + 7 * 15_000) / 1000)),
            ("step", "15".to_owned()),
        ]
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let theirs = loop {
        let answer = query(&client, prometheus.address, &form("rr_requests_total")).await;
        if answer["data"]["result"].as_array().is_some_and(|result| result.len() == 2) {
            break answer;
        }
        assert!(Instant::now() < deadline, "prometheus never read the series: {answer}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let ours = query(&client, address, &form("rr_requests_total")).await;
    assert_eq!(theirs["data"], ours["data"], "the same samples through remote read");
    assert_eq!(theirs["data"]["result"][1]["values"][1][1], "+Inf");

    // Over the sample limit: Prometheus reports the remote read failure it got from us.
    let too_many = query(&client, prometheus.address, &form("rr_big")).await;
    let text = too_many.to_string();
    assert!(text.contains("exceeded sample limit (100)"), "{text}");
    drop(prometheus);
}
