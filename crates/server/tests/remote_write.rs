//! Remote write over real HTTP against an in-memory store.

mod common;

use common::{TestServer, encode, series, stored};
use panoptes_server::ServerOptions;
use panoptes_storage::MemStorage;

const UP: &[(&str, &str)] = &[("__name__", "up"), ("job", "node")];
const LOAD: &[(&str, &str)] = &[("__name__", "load1"), ("instance", "a")];

#[tokio::test]
async fn write_stores_samples_and_answers_204() {
    let storage = MemStorage::new();
    let server = TestServer::with_storage(storage.clone(), ServerOptions::default()).await;

    let body = encode(vec![series(UP, &[(1000, 1.0), (2000, 0.0)]), series(LOAD, &[(1000, 0.5)])]);
    let (status, text) = server.post_write(body).await;

    assert_eq!((status, text.as_str()), (204, ""));
    assert_eq!(stored(&storage, UP), vec![(1000, 1.0), (2000, 0.0)]);
    assert_eq!(stored(&storage, LOAD), vec![(1000, 0.5)]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn out_of_order_sample_gets_400_naming_its_series_while_valid_samples_are_stored() {
    let storage = MemStorage::new();
    let server = TestServer::with_storage(storage.clone(), ServerOptions::default()).await;
    assert_eq!(server.post_write(encode(vec![series(UP, &[(5000, 1.0)])])).await.0, 204);

    let body = encode(vec![series(LOAD, &[(1000, 0.5), (2000, 0.7)]), series(UP, &[(3000, 1.0), (6000, 1.0)])]);
    let (status, text) = server.post_write(body).await;

    assert_eq!(status, 400, "{text}");
    assert!(text.contains("1 of 4 samples rejected"), "{text}");
    assert!(text.contains("out of order"), "{text}");
    assert!(text.contains(r#"up{job="node"}"#), "{text}");
    assert!(!text.contains("load1"), "{text}");
    assert_eq!(stored(&storage, LOAD), vec![(1000, 0.5), (2000, 0.7)]);
    assert_eq!(stored(&storage, UP), vec![(5000, 1.0), (6000, 1.0)]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn invalid_series_are_rejected_alone() {
    let storage = MemStorage::new();
    let server = TestServer::with_storage(storage.clone(), ServerOptions::default()).await;
    let mut not_utf8 = series(&[("__name__", "bad"), ("path", "x")], &[(1000, 1.0)]);
    not_utf8.labels[1].value = vec![b'a', 0xff, b'b'];
    let body = encode(vec![
        series(&[("job", "no_name")], &[(1000, 1.0)]),
        series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(1000, 1.0)]),
        not_utf8,
        series(UP, &[(1000, 1.0)]),
    ]);

    let (status, text) = server.post_write(body).await;

    assert_eq!(status, 400, "{text}");
    assert!(text.contains("3 of 4 samples rejected"), "{text}");
    assert!(text.contains("no metric name"), "{text}");
    assert!(text.contains("duplicate label name"), "{text}");
    assert!(text.contains("not valid UTF-8") && text.contains("a\u{fffd}b"), "{text}");
    assert_eq!(stored(&storage, UP), vec![(1000, 1.0)]);
    assert_eq!(storage.series_count(), 1);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn garbage_bodies_get_400_naming_what_failed() {
    let server = TestServer::with_storage(MemStorage::new(), ServerOptions::default()).await;

    let (status, text) = server.post_write(b"this is not snappy at all".to_vec()).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("snappy"), "{text}");

    let not_protobuf = snap::raw::Encoder::new().compress_vec(b"\x0a\xff\xff\xff\x0f").unwrap();
    let (status, text) = server.post_write(not_protobuf).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("protobuf"), "{text}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let storage = MemStorage::new();
    let options = ServerOptions { max_remote_write_bytes: 1024, ..ServerOptions::default() };
    let server = TestServer::with_storage(storage.clone(), options).await;

    // Compresses well below the limit but decompresses above it.
    let long_value = "x".repeat(4096);
    let (status, text) =
        server.post_write(encode(vec![series(&[("__name__", "big"), ("v", &long_value)], &[(1, 1.0)])])).await;
    assert_eq!(status, 413, "{text}");

    // Incompressible and larger than any snappy encoding of 1 KiB.
    let noise: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (status, text) = server.post_write(noise).await;
    assert_eq!(status, 413, "{text}");

    assert_eq!(storage.series_count(), 0);
    assert_eq!(server.post_write(encode(vec![series(UP, &[(1, 1.0)])])).await.0, 204);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn remote_write_2_and_other_encodings_get_415() {
    let server = TestServer::with_storage(MemStorage::new(), ServerOptions::default()).await;
    let body = encode(vec![series(UP, &[(1, 1.0)])]);

    let v2 = server
        .client
        .post(server.url("/api/v1/write"))
        .header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
        .header("Content-Encoding", "snappy")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(v2.status(), 415);

    let gzip = server
        .client
        .post(server.url("/api/v1/write"))
        .header("Content-Encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(gzip.status(), 415);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn native_histograms_are_ignored_and_counted() {
    let storage = MemStorage::new();
    let server = TestServer::with_storage(storage.clone(), ServerOptions::default()).await;
    let mut with_histogram = series(UP, &[(1000, 1.0)]);
    with_histogram.histograms.push(panoptes_server::prompb::Histogram {});

    assert_eq!(server.post_write(encode(vec![with_histogram])).await.0, 204);

    assert_eq!(stored(&storage, UP), vec![(1000, 1.0)]);
    let (_, metrics) = server.get("/metrics").await;
    assert!(metrics.contains("panoptes_remote_write_histograms_ignored_total 1"), "{metrics}");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stalled_body_gets_408_after_the_read_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let options = ServerOptions { read_timeout: std::time::Duration::from_millis(200), ..ServerOptions::default() };
    let server = TestServer::with_storage(MemStorage::new(), options).await;
    let mut stream = tokio::net::TcpStream::connect(server.address).await.unwrap();
    let head =
        "POST /api/v1/write HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789";
    stream.write_all(head.as_bytes()).await.unwrap();

    let mut response = String::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_string(&mut response)).await;

    assert!(read.is_ok(), "no answer to a stalled body");
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    server.stop().await.unwrap();
}
