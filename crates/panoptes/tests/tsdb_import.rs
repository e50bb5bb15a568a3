//! `panoptes tsdb import openmetrics` against the real thing: the same generated file is
//! imported by Panoptes and by Debian's `promtool tsdb create-blocks-from openmetrics`; a real
//! `panoptes server` and Debian's `prometheus` then serve the two directories and must answer
//! the same queries, and the blocks must cover the same ranges with the same counts. Bad files
//! fail with the file, line and column and leave no block behind.

mod common;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use serde_json::Value as Json;

use crate::common::{Process, get_data, start_prometheus, start_server, wait_ready};

const HOUR_MS: i64 = 3_600_000;

fn panoptes(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_panoptes")).args(args).output().expect("run panoptes");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Renders milliseconds as OpenMetrics seconds.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Writes an OpenMetrics file with every sample type over `hours` hours ending an hour ago,
/// one sample per minute (some with fractional seconds), and returns its first timestamp.
fn generate(path: &Path, hours: i64) -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    // Start off a block boundary so that the first and last blocks are partial.
    let start = (now - (hours + 1) * HOUR_MS) / 60_000 * 60_000 + 1_250;
    let points = hours * 60;
    let times: Vec<i64> = (0..points).map(|i| start + i * 60_000 + (i % 4) * 250).collect();
    let mut out = String::new();
    out.push_str("# HELP http_requests Requests served.\n# TYPE http_requests counter\n");
    for (code, method, rate) in [("200", "get", 7.0), ("500", "get", 0.25), ("200", "post", 1.5)] {
        for (i, t) in times.iter().enumerate() {
            let value = (i as f64 * rate).floor() + if i > points as usize / 2 { 3.0 } else { 0.0 };
            writeln!(out, "http_requests_total{{code=\"{code}\",method=\"{method}\"}} {value} {}", seconds(*t))
                .unwrap();
            writeln!(
                out,
                "http_requests_created{{code=\"{code}\",method=\"{method}\"}} {} {}",
                start / 1000,
                seconds(*t)
            )
            .unwrap();
        }
    }
    out.push_str("# TYPE room_temperature_celsius gauge\n# UNIT room_temperature_celsius celsius\n");
    for room in ["kitchen", "hall"] {
        for (i, t) in times.iter().enumerate() {
            let value = if i == 17 { "NaN".to_owned() } else { format!("{}", 20.0 + (i as f64 / 9.0).sin() * 3.5) };
            writeln!(out, "room_temperature_celsius{{room=\"{room}\"}} {value} {}", seconds(*t)).unwrap();
        }
    }
    out.push_str("# HELP request_duration_seconds Latency.\n# TYPE request_duration_seconds histogram\n");
    for (i, t) in times.iter().enumerate() {
        let n = i as f64;
        let buckets = [("0.1", n * 3.0), ("0.5", n * 5.0), ("2.5", n * 6.0), ("+Inf", n * 6.0 + (i / 10) as f64)];
        for (le, count) in buckets {
            writeln!(out, "request_duration_seconds_bucket{{le=\"{le}\"}} {count} {}", seconds(*t)).unwrap();
        }
        writeln!(out, "request_duration_seconds_sum {} {}", n * 1.75, seconds(*t)).unwrap();
        writeln!(out, "request_duration_seconds_count {} {}", buckets[3].1, seconds(*t)).unwrap();
        writeln!(out, "request_duration_seconds_created {} {}", start / 1000, seconds(*t)).unwrap();
    }
    out.push_str("# TYPE rpc_seconds summary\n");
    for (i, t) in times.iter().enumerate() {
        for (quantile, value) in [("0.5", 0.01 + (i % 7) as f64 / 100.0), ("0.9", 0.2 + (i % 5) as f64 / 10.0)] {
            writeln!(out, "rpc_seconds{{quantile=\"{quantile}\"}} {value} {}", seconds(*t)).unwrap();
        }
        writeln!(out, "rpc_seconds_sum {} {}", i as f64 * 0.125, seconds(*t)).unwrap();
        writeln!(out, "rpc_seconds_count {i} {}", seconds(*t)).unwrap();
    }
    out.push_str("# TYPE build info\n");
    for t in times.iter().step_by(5) {
        writeln!(out, "build_info{{version=\"1.2.3\",revision=\"abc\"}} 1 {}", seconds(*t)).unwrap();
    }
    out.push_str("# TYPE feature stateset\n");
    for (i, t) in times.iter().enumerate() {
        let on = u8::from(i % 100 < 50);
        writeln!(out, "feature{{feature=\"fast-path\"}} {on} {}", seconds(*t)).unwrap();
        writeln!(out, "feature{{feature=\"slow-path\"}} {} {}", 1 - on, seconds(*t)).unwrap();
    }
    out.push_str("# EOF\n");
    std::fs::write(path, out).unwrap();
    start
}

/// Returns `(minTime, maxTime, numSamples, numSeries)` of every block in `dir`, sorted.
fn block_metas(dir: &Path) -> Vec<(i64, i64, u64, u64)> {
    let mut metas = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path().join("meta.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let meta: Json = serde_json::from_str(&text).unwrap();
            metas.push((
                meta["minTime"].as_i64().unwrap(),
                meta["maxTime"].as_i64().unwrap(),
                meta["stats"]["numSamples"].as_u64().unwrap(),
                meta["stats"]["numSeries"].as_u64().unwrap(),
            ));
        }
    }
    metas.sort_unstable();
    metas
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Returns a query's result with series sorted by their labels.
async fn query(client: &reqwest::Client, address: std::net::SocketAddr, path_and_params: &str) -> Json {
    let data = get_data(client, &format!("http://{address}{path_and_params}")).await;
    let mut data = data;
    let list = if data.get("result").is_some() { &mut data["result"] } else { &mut data };
    if let Some(items) = list.as_array_mut() {
        items.sort_by_key(|item| item.get("metric").unwrap_or(item).to_string());
    }
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_blocks_answer_like_promtool_blocks_in_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.om");
    let start = generate(&input, 7);
    let ours = dir.path().join("panoptes-data");
    let theirs = dir.path().join("prometheus-data");

    let (ok, stdout, stderr) = panoptes(&[
        "tsdb",
        "import",
        "openmetrics",
        input.to_str().unwrap(),
        ours.to_str().unwrap(),
        "--progress-interval",
        "0s",
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("BLOCK ULID"), "{stdout}");
    assert!(stdout.contains("Imported "), "{stdout}");
    assert!(stderr.contains("import: pass 1/?:") && stderr.contains("import: pass 2/2:"), "progress: {stderr}");
    assert!(stderr.contains("samples/s, ETA"), "{stderr}");
    let output = Command::new("promtool")
        .args(["tsdb", "create-blocks-from", "openmetrics", input.to_str().unwrap(), theirs.to_str().unwrap()])
        .output()
        .expect("run promtool (apt-get install prometheus)");
    assert!(output.status.success(), "promtool: {}", String::from_utf8_lossy(&output.stderr));

    // The same block ranges with the same counts: 7 hours starting off a boundary touch 4 or 5
    // two-hour blocks.
    let our_blocks = block_metas(&ours);
    assert_eq!(our_blocks, block_metas(&theirs));
    assert!(our_blocks.len() >= 4, "{our_blocks:?}");
    assert!(our_blocks.iter().all(|(min, max, _, _)| min / (2 * HOUR_MS) == (max - 1) / (2 * HOUR_MS)));
    assert_eq!(our_blocks[0].0, start);
    // 21 series with a sample a minute and `build_info` every five minutes, over 420 minutes.
    assert_eq!(our_blocks.iter().map(|b| b.2).sum::<u64>(), 420 * 21 + 84);
    let (_, stdout, _) = panoptes(&["tsdb", "import", "openmetrics", "--help"]);
    assert!(stdout.contains("--max-block-duration"), "{stdout}");

    let client = reqwest::Client::new();
    let prometheus = start_prometheus(dir.path(), "scrape_configs: []\n", &[], &client).await;
    let log_path = dir.path().join("panoptes.log");
    let (child, address) = start_server(&ours, &[], &log_path);
    let mut server = Process { child, address };
    wait_ready(&client, address, &mut server.child, &log_path).await;

    let (begin, end) = (start / 1000, (start + 7 * HOUR_MS) / 1000);
    let mut compared = 0;
    for expression in [
        "http_requests_total",
        "rate(http_requests_total[5m])",
        "http_requests_created",
        "room_temperature_celsius",
        "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[10m])))",
        "rpc_seconds",
        "rate(rpc_seconds_sum[10m]) / rate(rpc_seconds_count[10m])",
        "build_info",
        "feature",
        "count({__name__=~\".+\"})",
    ] {
        let path = format!("/api/v1/query_range?query={}&start={begin}&end={end}&step=300", urlencode(expression));
        let ours = query(&client, address, &path).await;
        let theirs = query(&client, prometheus.address, &path).await;
        assert!(!ours["result"].as_array().unwrap().is_empty(), "{expression}: no result");
        assert_eq!(ours, theirs, "{expression}");
        compared += 1;
    }
    assert_eq!(compared, 10);
    let at = (start + 3 * HOUR_MS + 30_000) / 1000;
    let path =
        format!("/api/v1/query?query={}&time={at}", urlencode(r#"http_requests_total{code="200",method="get"}"#));
    let instant = query(&client, address, &path).await;
    assert_eq!(instant["result"][0]["value"][1], "1260", "{instant}");
    assert_eq!(instant, query(&client, prometheus.address, &path).await);
    let path = format!("/api/v1/series?match[]={}&start={begin}&end={end}", urlencode("{__name__=~\".+\"}"));
    let series = query(&client, address, &path).await;
    assert_eq!(series.as_array().unwrap().len(), 22);
    assert_eq!(series, query(&client, prometheus.address, &path).await);
}

#[test]
fn a_small_memory_budget_and_longer_blocks_import_the_same_samples() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.om");
    generate(&input, 7);
    let import = |output: &Path, extra: &[&str]| {
        let mut args = vec!["tsdb", "import", "openmetrics", input.to_str().unwrap(), output.to_str().unwrap(), "-q"];
        args.extend_from_slice(extra);
        let (ok, stdout, stderr) = panoptes(&args);
        assert!(ok, "{stderr}");
        assert!(!stdout.contains("BLOCK ULID"), "quiet: {stdout}");
        let (ok, dump, stderr) = panoptes(&["tsdb", "dump", output.to_str().unwrap()]);
        assert!(ok, "{stderr}");
        (dump, block_metas(output))
    };
    let (reference, blocks) = import(&dir.path().join("default"), &[]);
    assert_eq!(reference.lines().count(), 420 * 21 + 84);
    // 1,000 samples at a time: each 2h range (about 2,700 samples) is split into groups of series.
    let (dump, split) = import(&dir.path().join("small"), &["--max-samples-in-memory", "1000"]);
    assert_eq!(dump, reference);
    assert!(split.len() > 2 * blocks.len(), "{split:?}");
    // 13h is rounded down to 6h, Prometheus' next compaction range.
    let (dump, long) = import(&dir.path().join("long"), &["--max-block-duration", "13h"]);
    assert_eq!(dump, reference);
    assert!(long.len() < blocks.len() && long.len() >= 2, "{long:?}");
    assert!(long.iter().all(|(min, max, _, _)| min / (6 * HOUR_MS) == (max - 1) / (6 * HOUR_MS)), "{long:?}");
}

/// Imports `text` into a fresh directory and returns stderr, failing unless the import failed
/// and left the directory without any entry.
#[track_caller]
fn import_fails(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.om");
    std::fs::write(&input, text).unwrap();
    let output = dir.path().join("data");
    let (ok, _, stderr) =
        panoptes(&["tsdb", "import", "openmetrics", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(!ok, "import of {text:?} succeeded");
    let left: Vec<_> =
        std::fs::read_dir(&output).map(|d| d.map(|e| e.unwrap().file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    stderr.replace(input.to_str().unwrap(), "bad.om")
}

#[test]
fn bad_files_fail_naming_line_and_column_and_leave_nothing_behind() {
    let good = "# TYPE a counter\na_total 1 100\na_total 2 200\n";
    let check = |text: &str, expected: &str| {
        let stderr = import_fails(text);
        assert!(stderr.contains(expected), "expected {expected:?} in {stderr}");
    };
    check(good, r##"bad.om:4:1: expected "# EOF" at end of input"##);
    check(
        &format!("{good}a_total{{x=1}} 3 300\n# EOF\n"),
        r#"bad.om:4:11: expected '"' to start the value of label "x""#,
    );
    check(&format!("{good}a_total 3\n# EOF\n"), "bad.om:4: sample of a_total has no timestamp");
    check(
        &format!("{good}a_total 3 150\n# EOF\n"),
        "bad.om:4: sample of a_total at 150000 is older than the one at line 3",
    );
    check(&format!("{good}a_total 3 200\n# EOF\n"), "bad.om:4: sample of a_total at 200000 has another value");
    check(&format!("{good}# EOF\nb 1 1\n"), r##"bad.om:5:1: unexpected content after "# EOF""##);
    check("a 1 1\n# EOF\n\n", "bad.om:3:1: unexpected content after \"# EOF\"");
    check("a abc 1\n# EOF\n", r#"bad.om:1:3: invalid sample value "abc""#);
    let (ok, _, stderr) = panoptes(&["tsdb", "import", "openmetrics", "/nonexistent/input.om", "/tmp/unused"]);
    assert!(!ok);
    assert!(stderr.contains("reading /nonexistent/input.om"), "{stderr}");
}

#[test]
fn a_file_without_samples_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.om");
    std::fs::write(&input, "# HELP a Nothing.\n# TYPE a gauge\n# EOF\n").unwrap();
    let output = dir.path().join("data");
    let (ok, stdout, stderr) =
        panoptes(&["tsdb", "import", "openmetrics", input.to_str().unwrap(), output.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("No samples in"), "{stdout}");
    assert_eq!(std::fs::read_dir(&output).unwrap().count(), 0);
}
