//! The Prometheus HTTP API of a real `panoptes server`: JSON shapes, error types and status
//! codes, form bodies, metadata and status endpoints, the admin API, and real clients (Debian's
//! `promtool query` and `panoptes query`, whose outputs must be identical).

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};

use panoptes_server::prompb::{Label, Sample, TimeSeries, WriteRequest, encode_write_request};
use serde_json::{Value as Json, json};

use crate::common::{start_server, wait_ready};

/// A server process, killed when dropped.
struct Running {
    child: Child,
    address: SocketAddr,
    client: reqwest::Client,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    async fn start(extra: &[&str]) -> Running {
        let data = tempfile::tempdir().unwrap();
        let logs = tempfile::tempdir().unwrap();
        let log_path = logs.path().join("server.log");
        let client = reqwest::Client::new();
        let (mut child, address) = start_server(data.path(), extra, &log_path);
        wait_ready(&client, address, &mut child, &log_path).await;
        Running { child, address, client, _dirs: (data, logs) }
    }

    fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    async fn write(&self, timeseries: Vec<TimeSeries>) {
        let body = encode_write_request(&WriteRequest { timeseries, metadata: Vec::new() });
        let response = self
            .client
            .post(format!("{}/api/v1/write", self.url()))
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "{}", response.text().await.unwrap());
    }

    /// GETs `path_and_query`; returns status and body.
    async fn get(&self, path_and_query: &str) -> (u16, String) {
        let response = self.client.get(format!("{}{path_and_query}", self.url())).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// GETs and parses the JSON answer.
    async fn get_json(&self, path_and_query: &str) -> (u16, Json) {
        let (status, body) = self.get(path_and_query).await;
        (status, serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}")))
    }

    /// POSTs a form.
    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> (u16, String) {
        let body = form_encode(form);
        let response = self
            .client
            .post(format!("{}{path}", self.url()))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

fn form_encode(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish()
}

fn series(labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
        samples: samples.into_iter().map(|(timestamp, value)| Sample { value, timestamp }).collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

/// A minute boundary ten minutes ago, in milliseconds: the first sample of every series.
fn base_time() -> i64 {
    panoptes_model::time::now_millis() / 60_000 * 60_000 - 600_000
}

/// Loads two counters and a gauge: 41 samples every 15 s from `base` (the counters grow by 10
/// and 20 per sample).
async fn load(server: &Running, base: i64) {
    let points = |per_step: f64| (0..=40).map(|i| (base + i * 15_000, i as f64 * per_step)).collect::<Vec<_>>();
    server
        .write(vec![
            series(&[("__name__", "api_requests_total"), ("job", "api"), ("instance", "a")], points(10.0)),
            series(&[("__name__", "api_requests_total"), ("job", "api"), ("instance", "b")], points(20.0)),
            series(&[("__name__", "api_temperature"), ("room", "x\"y")], points(0.5)),
        ])
        .await;
}

fn seconds(millis: i64) -> String {
    format!("{}", millis / 1000)
}

#[tokio::test]
async fn query_answers_have_prometheus_shapes_and_values() {
    let server = Running::start(&[]).await;
    let base = base_time();
    load(&server, base).await;
    let end = seconds(base + 600_000);

    let (status, body) = server.get(&format!("/api/v1/query?query=sum(api_requests_total)&time={end}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            r#"{{"status":"success","data":{{"resultType":"vector","result":[{{"metric":{{}},"value":[{end},"1200"]}}]}}}}"#
        )
    );

    // POST form bodies give the same answer as query strings.
    let (status, posted) =
        server.post_form("/api/v1/query", &[("query", "sum(api_requests_total)"), ("time", &end)]).await;
    assert_eq!((status, posted), (200, body));

    for (query, expected) in [("1/0", "+Inf"), ("-1/0", "-Inf"), ("0/0", "NaN"), ("0.1+0.2", "0.30000000000000004")] {
        let (status, json) = server.get_json(&format!("/api/v1/query?query={}&time=1.5", form_value(query))).await;
        assert_eq!(status, 200);
        assert_eq!(json["data"], json!({"resultType": "scalar", "result": [1.5, expected]}), "{query}");
    }
    let (_, json) = server.get_json("/api/v1/query?query=%22hello%22&time=2015-07-01T20:10:51.781Z").await;
    assert_eq!(json["data"], json!({"resultType": "string", "result": [1435781451.781, "hello"]}));

    let range = format!(
        "/api/v1/query_range?query=api_requests_total{{instance=%22a%22}}&start={}&end={end}&step=5m",
        seconds(base)
    );
    let (status, json) = server.get_json(&range).await;
    assert_eq!(status, 200);
    let t = |offset: i64| json!((base + offset) / 1000);
    assert_eq!(
        json["data"],
        json!({"resultType": "matrix", "result": [{
            "metric": {"__name__": "api_requests_total", "instance": "a", "job": "api"},
            "values": [[t(0), "0"], [t(300_000), "200"], [t(600_000), "400"]],
        }]})
    );

    // Annotations ride in the envelope.
    let (_, json) = server.get_json(&format!("/api/v1/query?query=rate(api_temperature[5m])&time={end}")).await;
    let infos = json["infos"].as_array().expect("an info annotation");
    assert!(infos[0].as_str().unwrap().contains("metric might not be a counter"), "{json}");

    // `lookback_delta` shortens how far back the latest sample is looked for.
    let later = seconds(base + 600_000 + 120_000);
    let (_, json) = server.get_json(&format!("/api/v1/query?query=api_requests_total&time={later}")).await;
    assert_eq!(json["data"]["result"].as_array().unwrap().len(), 2, "{json}");
    let (_, json) =
        server.get_json(&format!("/api/v1/query?query=api_requests_total&time={later}&lookback_delta=1m")).await;
    assert_eq!(json["data"]["result"], json!([]), "{json}");

    // `stats=all` adds timings and sample counts.
    let (_, json) = server.get_json(&format!("/api/v1/query?query=api_requests_total&time={end}&stats=all")).await;
    assert!(json["data"]["stats"]["timings"]["evalTotalTime"].is_number(), "{json}");
    assert_eq!(json["data"]["stats"]["samples"]["totalQueryableSamples"], 2);
}

fn form_value(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn errors_have_prometheus_types_and_statuses() {
    let server = Running::start(&["--query.max-samples=50"]).await;
    let base = base_time();
    load(&server, base).await;
    let end = seconds(base + 600_000);

    #[track_caller]
    fn check(answer: (u16, Json), status: u16, error_type: &str, message: &str) {
        let (actual_status, json) = answer;
        assert_eq!(actual_status, status, "{json}");
        assert_eq!(json["status"], "error", "{json}");
        assert_eq!(json["errorType"], error_type, "{json}");
        let error = json["error"].as_str().unwrap();
        assert!(error.contains(message), "{error:?} does not contain {message:?}");
    }

    check(server.get_json("/api/v1/query?query=sum(").await, 400, "bad_data", "invalid parameter \"query\"");
    check(
        server.get_json("/api/v1/query?query=up&time=tomorrow").await,
        400,
        "bad_data",
        "invalid parameter \"time\": cannot parse \"tomorrow\" to a valid timestamp",
    );
    check(
        server.get_json("/api/v1/query_range?query=up&start=0&end=11001&step=1").await,
        400,
        "bad_data",
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    );
    check(
        server.get_json("/api/v1/query_range?query=up&start=0&end=100&step=-1").await,
        400,
        "bad_data",
        "zero or negative query resolution step widths are not accepted. Try a positive integer",
    );
    check(server.get_json("/api/v1/series").await, 400, "bad_data", "no match[] parameter provided");
    check(
        server.get_json(&format!("/api/v1/query?query=api_requests_total[10m]&time={end}")).await,
        422,
        "execution",
        "query processing would load too many samples into memory in query execution",
    );
    check(
        server
            .get_json(&format!(
                "/api/v1/query?query={}&time={end}",
                form_value("api_requests_total + on() api_requests_total")
            ))
            .await,
        422,
        "execution",
        "many-to",
    );
}

#[tokio::test]
async fn series_labels_and_metadata_endpoints() {
    let server = Running::start(&[]).await;
    let base = base_time();
    load(&server, base).await;

    let (status, json) = server.get_json("/api/v1/series?match[]=api_requests_total&match[]={room=~\"x.*\"}").await;
    assert_eq!(status, 200);
    assert_eq!(
        json["data"],
        json!([
            {"__name__": "api_requests_total", "instance": "a", "job": "api"},
            {"__name__": "api_requests_total", "instance": "b", "job": "api"},
            {"__name__": "api_temperature", "room": "x\"y"},
        ])
    );
    let (_, json) = server.get_json("/api/v1/series?match[]=api_requests_total&limit=1").await;
    assert_eq!(json["data"].as_array().unwrap().len(), 1);
    assert_eq!(json["warnings"], json!(["results truncated due to limit"]));
    // A range before every sample finds nothing.
    let (_, json) = server.get_json("/api/v1/series?match[]=api_requests_total&start=0&end=1").await;
    assert_eq!(json["data"], json!([]));

    let (_, json) = server.get_json("/api/v1/labels").await;
    assert_eq!(json["data"], json!(["__name__", "instance", "job", "room"]));
    let (_, json) = server.get_json("/api/v1/labels?match[]=api_temperature").await;
    assert_eq!(json["data"], json!(["__name__", "room"]));
    let (status, body) = server.post_form("/api/v1/labels", &[("match[]", "api_requests_total")]).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<Json>(&body).unwrap()["data"], json!(["__name__", "instance", "job"]));
    let (_, json) = server.get_json("/api/v1/label/__name__/values").await;
    assert_eq!(json["data"], json!(["api_requests_total", "api_temperature"]));
    let (_, json) = server.get_json("/api/v1/label/instance/values?match[]=api_requests_total{instance=\"b\"}").await;
    assert_eq!(json["data"], json!(["b"]));
    // Prometheus 3 accepts any UTF-8 label name.
    let (status, json) = server.get_json("/api/v1/label/in-valid/values").await;
    assert_eq!((status, &json["data"]), (200, &json!([])));

    let (_, json) = server.get_json("/api/v1/metadata").await;
    assert_eq!(json, json!({"status": "success", "data": {}}));
    let (_, json) = server.get_json("/api/v1/query_exemplars?query=api_requests_total&start=0&end=1").await;
    assert_eq!(json, json!({"status": "success", "data": []}));
    let (_, json) = server.get_json("/api/v1/format_query?query=sum(rate(foo[5m]))by(job)").await;
    assert_eq!(json["data"], "sum by (job) (rate(foo[5m]))");
    let (_, json) = server.get_json("/api/v1/parse_query?query=sum(up)").await;
    assert_eq!(json["data"]["type"], "aggregation", "{json}");
}

#[tokio::test]
async fn status_endpoints_describe_the_server() {
    let server = Running::start(&["--query.max-samples=1234"]).await;
    load(&server, base_time()).await;

    let (status, json) = server.get_json("/api/v1/status/buildinfo").await;
    assert_eq!(status, 200);
    assert_eq!(json["data"]["version"], env!("CARGO_PKG_VERSION"));
    // Built from this checkout: the revision is its HEAD commit.
    let head = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().expect("git rev-parse");
    assert_eq!(json["data"]["revision"], String::from_utf8_lossy(&head.stdout).trim(), "{json}");
    assert!(json["data"]["buildDate"].as_str().is_some_and(|date| date.len() == 17), "{json}");
    let (_, json) = server.get_json("/api/v1/status/flags").await;
    assert_eq!(json["data"]["query.max-samples"], "1234");
    assert_eq!(json["data"]["query.lookback-delta"], "5m");
    let (_, json) = server.get_json("/api/v1/status/runtimeinfo").await;
    assert_eq!(json["data"]["storageRetention"], "15d");
    assert!(json["data"]["startTime"].as_str().unwrap().ends_with('Z'));
    let (_, json) = server.get_json("/api/v1/status/tsdb?limit=1").await;
    assert_eq!(json["data"]["headStats"]["numSeries"], 3, "{json}");
    assert_eq!(json["data"]["seriesCountByMetricName"], json!([{"name": "api_requests_total", "value": 2}]));
}

#[tokio::test]
async fn admin_api_is_off_by_default_and_deletes_series_when_enabled() {
    let server = Running::start(&[]).await;
    let (status, body) = server.post_form("/api/v1/admin/tsdb/delete_series", &[("match[]", "up")]).await;
    assert_eq!(status, 503);
    let json: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(json, json!({"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"}));
    drop(server);

    let server = Running::start(&["--web.enable-admin-api"]).await;
    let base = base_time();
    load(&server, base).await;
    let (status, _) = server.post_form("/api/v1/admin/tsdb/delete_series", &[]).await;
    assert_eq!(status, 400);
    let (status, body) = server
        .post_form("/api/v1/admin/tsdb/delete_series", &[("match[]", "api_requests_total{instance=\"a\"}")])
        .await;
    assert_eq!((status, body.as_str()), (204, ""));
    let (_, json) = server.get_json("/api/v1/series?match[]=api_requests_total").await;
    assert_eq!(json["data"], json!([{"__name__": "api_requests_total", "instance": "b", "job": "api"}]));
    let (status, _) = server.post_form("/api/v1/admin/tsdb/clean_tombstones", &[]).await;
    assert_eq!(status, 204);
}

/// Runs a command and returns its stdout, failing with stderr when it fails.
fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(output.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// Runs the same query with Debian's `promtool query` and `panoptes query`; both must print
/// `expected`.
#[track_caller]
fn check_clients(args: &[&str], expected: &str) {
    let promtool = run("promtool", &[&["query"], args].concat());
    assert_eq!(promtool, expected, "promtool query {args:?}");
    let panoptes = run(env!("CARGO_BIN_EXE_panoptes"), &[&["query"], args].concat());
    assert_eq!(panoptes, expected, "panoptes query {args:?}");
}

#[tokio::test]
async fn promtool_and_panoptes_query_print_the_same() {
    assert!(
        Path::new("/usr/bin/promtool").exists(),
        "promtool is missing: apt-get install prometheus (scripts/test does)"
    );
    let server = Running::start(&[]).await;
    let base = base_time();
    load(&server, base).await;
    let url = server.url();
    let end = seconds(base + 600_000);
    let start = seconds(base + 540_000);
    let (t9, t10) = (seconds(base + 540_000), end.clone());

    check_clients(
        &["instant", &url, "sum by (instance) (api_requests_total)", &format!("--time={end}")],
        &format!("{{instance=\"a\"}} => 400 @[{end}]\n{{instance=\"b\"}} => 800 @[{end}]\n"),
    );
    check_clients(
        &["instant", &url, "api_temperature", &format!("--time={end}")],
        &format!("api_temperature{{room=\"x\\\"y\"}} => 20 @[{end}]\n"),
    );
    check_clients(&["instant", &url, "1/0", "--time=1.5"], "scalar: +Inf @[1.5]\n");
    check_clients(
        &[
            "range",
            &url,
            "api_requests_total{instance=\"a\"}",
            &format!("--start={start}"),
            &format!("--end={end}"),
            "--step=1m",
        ],
        &format!("api_requests_total{{instance=\"a\", job=\"api\"}} =>\n360 @[{t9}]\n400 @[{t10}]\n"),
    );
    check_clients(
        &["series", &url, "--match=api_requests_total"],
        "{__name__=\"api_requests_total\", instance=\"a\", job=\"api\"}\n\
         {__name__=\"api_requests_total\", instance=\"b\", job=\"api\"}\n",
    );
    // Restricted to the loaded series: the built-in push job's `up` and `scrape_*` series appear
    // whenever its first scrape happens.
    check_clients(&["labels", &url, "instance", "--match={__name__=~\"api_.*\"}"], "a\nb\n");
    check_clients(
        &["labels", &url, "__name__", "--match={__name__=~\"api_.*\"}"],
        "api_requests_total\napi_temperature\n",
    );

    // A failing query exits non-zero with the error on stderr.
    let output =
        Command::new(env!("CARGO_BIN_EXE_panoptes")).args(["query", "instant", &url, "sum("]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).starts_with("query error: bad_data: invalid parameter \"query\""));
}
