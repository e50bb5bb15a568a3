//! The `panoptes server` process: graceful shutdown closes the store, data survives a restart,
//! and a store that cannot be opened stops the process with an error.

mod common;

use std::process::Command;
use std::time::Duration;

use panoptes_model::Matcher;
use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest, encode_write_request};
use panoptes_storage::Storage;
use panoptes_tsdb::{Db, DbOptions};

use crate::common::{start_server, wait_exit, wait_ready};

fn request(value: f64, timestamp: i64) -> Vec<u8> {
    encode_write_request(&WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "graceful_test"), Label::new("job", "test")],
            samples: vec![Sample { value, timestamp }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }],
        metadata: Vec::new(),
    })
}

#[tokio::test]
async fn sigterm_closes_the_store_and_samples_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let log_path = logs.path().join("first.log");
    // `never` fsyncs only at close: the close on SIGTERM is what makes the data durable.
    let (mut child, address) = start_server(data.path(), &["--storage.tsdb.wal-fsync=never"], &log_path);
    wait_ready(&client, address, &mut child, &log_path).await;
    let response =
        client.post(format!("http://{address}/api/v1/write")).body(request(42.0, 1_000)).send().await.unwrap();
    assert_eq!(response.status(), 204);

    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut child, Duration::from_secs(10)).expect("server exits after SIGTERM");

    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(exit.success(), "exit {exit}:\n{log}");
    assert!(log.contains(r#"msg="storage closed""#), "{log}");
    let log_path = logs.path().join("second.log");
    let (mut child, address) = start_server(data.path(), &[], &log_path);
    wait_ready(&client, address, &mut child, &log_path).await;
    let response =
        client.post(format!("http://{address}/api/v1/write")).body(request(43.0, 2_000)).send().await.unwrap();
    assert_eq!(response.status(), 204);
    Command::new("kill").arg("-INT").arg(child.id().to_string()).status().unwrap();
    assert!(wait_exit(&mut child, Duration::from_secs(10)).expect("server exits after SIGINT").success());

    let db = Db::open(data.path(), DbOptions::default()).unwrap();
    let querier = db.querier(i64::MIN, i64::MAX).unwrap();
    let mut series: Vec<_> = querier.select(&[Matcher::equal("__name__", "graceful_test")]).unwrap().collect();
    assert_eq!(series.len(), 1);
    let samples = panoptes_storage::collect_samples(series[0].as_mut().unwrap().samples.as_mut());
    assert_eq!(samples.iter().map(|s| (s.t, s.v)).collect::<Vec<_>>(), vec![(1_000, 42.0), (2_000, 43.0)]);
    drop(querier);
    db.close().unwrap();
}

#[tokio::test]
async fn a_store_that_cannot_be_opened_stops_the_process_with_an_error() {
    let data = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let first_log = logs.path().join("first.log");
    let (mut first, first_address) = start_server(data.path(), &[], &first_log);
    wait_ready(&client, first_address, &mut first, &first_log).await;

    // The first server holds the directory's lock.
    let second_log = logs.path().join("second.log");
    let (mut second, _) = start_server(data.path(), &[], &second_log);
    let exit = wait_exit(&mut second, Duration::from_secs(10)).expect("second server exits");

    let log = std::fs::read_to_string(&second_log).unwrap();
    assert!(!exit.success(), "{log}");
    assert!(log.contains("level=error") && log.contains("cannot open storage"), "{log}");
    first.kill().unwrap();
    first.wait().unwrap();
}
