//! End-to-end tests of the InfluxDB endpoints: HTTP requests through the router into
//! `MemStorage`, checked by querying the store.

use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use panoptes_ingest::StorageHandle;
use panoptes_ingest::influx::{self, InfluxOptions};
use panoptes_model::Matcher;
use panoptes_storage::{MemStorage, Storage, StorageRef, collect_samples};
use tower::ServiceExt;

fn setup(options: InfluxOptions) -> (Router, Arc<MemStorage>) {
    let storage = Arc::new(MemStorage::new());
    let storage_ref: StorageRef = storage.clone();
    (influx::router(StorageHandle::ready(storage_ref), options), storage)
}

async fn send(router: &Router, request: Request<Body>) -> (StatusCode, String, axum::http::HeaderMap) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned(), headers)
}

fn post(uri: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(uri).body(body.into()).expect("request")
}

/// Returns every stored series printed, with its samples, sorted.
fn dump(storage: &MemStorage) -> Vec<(String, Vec<(i64, f64)>)> {
    let querier = storage.querier(i64::MIN, i64::MAX).expect("querier");
    let matcher = Matcher::new(panoptes_model::MatchOp::Regex, "__name__", ".+").expect("matcher");
    querier
        .select(&[matcher])
        .expect("select")
        .map(|series| {
            let mut series = series.expect("series");
            let samples = collect_samples(series.samples.as_mut()).into_iter().map(|s| (s.t, s.v)).collect();
            (series.labels.to_string(), samples)
        })
        .collect()
}

#[tokio::test]
async fn v1_write_stores_series_named_like_victoriametrics() {
    let (router, storage) = setup(InfluxOptions::default());
    let body = "cpu,host=a usage_idle=99.5,usage_user=0.5 1700000000000000000\n\
                mem,host=a used=1024i,ok=true 1700000000000000000\n";
    let (status, text, _) = send(&router, post("/write?db=telegraf&rp=autogen&u=x&p=y", body)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert_eq!(
        dump(&storage),
        vec![
            (r#"cpu_usage_idle{db="telegraf", host="a"}"#.to_owned(), vec![(1_700_000_000_000, 99.5)]),
            (r#"cpu_usage_user{db="telegraf", host="a"}"#.to_owned(), vec![(1_700_000_000_000, 0.5)]),
            (r#"mem_ok{db="telegraf", host="a"}"#.to_owned(), vec![(1_700_000_000_000, 1.0)]),
            (r#"mem_used{db="telegraf", host="a"}"#.to_owned(), vec![(1_700_000_000_000, 1024.0)]),
        ]
    );
}

#[tokio::test]
async fn v2_write_honours_precision_and_gzip() {
    let (router, storage) = setup(InfluxOptions::default());
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(b"disk,path=/var free=10i 1700000000\n").expect("gzip");
    let request = Request::post("/api/v2/write?org=o&bucket=b&precision=s")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(encoder.finish().expect("gzip")))
        .expect("request");
    let (status, text, _) = send(&router, request).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    assert_eq!(dump(&storage), vec![(r#"disk_free{path="/var"}"#.to_owned(), vec![(1_700_000_000_000, 10.0)])]);
}

#[tokio::test]
async fn missing_timestamp_gets_the_receive_time() {
    let (router, storage) = setup(InfluxOptions::default());
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let (status, _, _) = send(&router, post("/write", "cpu value=1")).await;
    let after = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let series = dump(&storage);
    assert_eq!(series.len(), 1);
    let t = series[0].1[0].0;
    assert!(before <= t && t <= after, "{before} <= {t} <= {after}");
}

#[tokio::test]
async fn bad_lines_are_reported_and_valid_lines_stored() {
    let (router, storage) = setup(InfluxOptions::default());
    let body = "cpu v=1 1000000000\ncpu v=oops 2000000000\nmem v=2 3000000000\n";
    let (status, text, headers) = send(&router, post("/write?db=x", body)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let message = json["error"].as_str().expect("v1 error shape");
    assert!(message.contains("unable to parse line 2, column 7: invalid field value \"oops\""), "{message}");
    assert!(message.contains("1 of 3 lines"), "{message}");
    assert!(headers.contains_key("x-influxdb-error"));
    assert_eq!(dump(&storage).len(), 2, "valid lines before and after the bad one are stored");

    let (status, text, _) = send(&router, post("/api/v2/write", "cpu")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["code"], "invalid");
    assert!(json["message"].as_str().expect("message").contains("line 1, column 4"), "{json}");
}

#[tokio::test]
async fn storage_sample_errors_name_the_series_and_keep_the_rest() {
    let (router, storage) = setup(InfluxOptions::default());
    let (status, _, _) = send(&router, post("/write?precision=ms", "cpu v=1 2000")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, text, _) = send(&router, post("/write?precision=ms", "cpu v=5 2000\nmem v=1 2000")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("cpu_v"), "the failing series is named: {text}");
    assert_eq!(dump(&storage).len(), 2);
}

#[tokio::test]
async fn invalid_precision_body_limit_and_encoding_are_refused() {
    let options = InfluxOptions { max_body_bytes: 32, ..InfluxOptions::default() };
    let (router, _) = setup(options);
    let (status, text, _) = send(&router, post("/write?precision=x", "cpu v=1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, text, _) = send(&router, post("/api/v2/write?precision=h", "cpu v=1")).await;
    assert_eq!((status, text.contains("\"code\":\"invalid\"")), (StatusCode::BAD_REQUEST, true), "{text}");
    let (status, text, _) = send(&router, post("/api/v2/write", "cpu v=1 ".repeat(10))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text.contains("request too large"), "{text}");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all("cpu v=1\n".repeat(100).as_bytes()).expect("gzip");
    let request = Request::post("/write")
        .header(header::CONTENT_ENCODING, "gzip")
        .body(Body::from(encoder.finish().expect("gzip")))
        .expect("request");
    assert_eq!(send(&router, request).await.0, StatusCode::PAYLOAD_TOO_LARGE, "the decompressed size is capped");
    let request =
        Request::post("/write").header(header::CONTENT_ENCODING, "br").body(Body::from("x")).expect("request");
    assert_eq!(send(&router, request).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn unavailable_storage_is_503() {
    let router: Router = influx::router(StorageHandle::from_fn(|| None), InfluxOptions::default());
    let (status, text, _) = send(&router, post("/api/v2/write", "cpu v=1")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(text.contains("\"code\":\"unavailable\""), "{text}");
}

#[tokio::test]
async fn ping_and_query_probes_answer_like_influxdb() {
    let options = InfluxOptions { database_names: vec!["telegraf".to_owned()], ..InfluxOptions::default() };
    let (router, _) = setup(options);
    let (status, _, headers) = send(&router, Request::get("/ping").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(headers.contains_key("x-influxdb-version"));
    let (status, text, _) =
        send(&router, Request::get("/query?q=SHOW%20DATABASES").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(json["results"][0]["series"][0]["values"], serde_json::json!([["telegraf"]]));
    let request = Request::post("/query")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("q=CREATE+DATABASE+%22telegraf%22"))
        .expect("request");
    let (status, text, _) = send(&router, request).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, r#"{"results":[{"statement_id":0}]}"#));
    let (status, text, _) =
        send(&router, Request::get("/query?q=SELECT%20*%20FROM%20cpu").body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("PromQL"), "{text}");
}
