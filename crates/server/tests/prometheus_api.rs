//! The Prometheus API of an in-process server over a `MemStorage`: readiness, the envelope of
//! errors raised before the store is open, and stores without administration.

mod common;

use common::TestServer;
use panoptes_model::Labels;
use panoptes_server::ServerOptions;
use panoptes_storage::{MemStorage, Storage};

#[tokio::test]
async fn queries_answer_unavailable_in_the_envelope_until_the_store_is_open() {
    let storage = MemStorage::new();
    let (server, release_tx) = TestServer::start_gated(storage.clone()).await;

    let (status, body) = server.get("/api/v1/query?query=up").await;
    assert_eq!(status, 503);
    assert_eq!(body, r#"{"status":"error","errorType":"unavailable","error":"Service Unavailable"}"#);
    let (status, _) = server.get("/api/v1/labels").await;
    assert_eq!(status, 503);
    // Parameters are validated first: a bad request is a bad request even while opening.
    let (status, body) = server.get("/api/v1/query_range?query=up").await;
    assert_eq!(status, 400, "{body}");

    let mut appender = storage.appender();
    appender.append(&Labels::from_pairs([("__name__", "up"), ("job", "a")]), 1_000, 1.0).unwrap();
    appender.commit().unwrap();
    release_tx.send(()).unwrap();
    server.wait_ready().await;
    let (status, body) = server.get("/api/v1/query?query=up&time=1").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[1,"1"]}]}}"#
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn stores_without_administration_refuse_tsdb_status_and_admin_calls() {
    let options = ServerOptions { enable_admin_api: true, ..ServerOptions::default() };
    let server = TestServer::with_storage(MemStorage::new(), options).await;
    let (status, body) = server.get("/api/v1/status/tsdb").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""errorType":"unavailable""#), "{body}");
    let response = server.client.post(server.url("/api/v1/admin/tsdb/clean_tombstones")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    server.stop().await.unwrap();
}
