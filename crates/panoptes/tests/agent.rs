//! `panoptes agent` against Debian's real `prometheus-node-exporter` on the same machine: both
//! pages are fetched (node-exporter, the agent, node-exporter again) and, for every collector
//! the agent implements, must have the same metric names, help texts, types, label names and
//! series, with values inside the two node-exporter readings (plus a tolerance for gauges that
//! move). The names only one side has must be exactly the list in `docs/node-agent.md`. Also:
//! gzip, `/-/healthy`, a failing collector, SIGTERM, and remote write to a real `panoptes
//! server` that goes down and comes back while the agent itself restarts.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Process, free_address, get_data, wait_exit, wait_ready};

/// Label name to value, sorted.
type LabelSet = BTreeMap<String, String>;

/// One metric name of a page: help, type and its series.
#[derive(Debug, Default, Clone)]
struct Metric {
    help: String,
    kind: String,
    series: BTreeMap<LabelSet, f64>,
}

/// Keeps the tests of this file from running at the same time: the remote-write test's fsyncs
/// and processes would otherwise move the gauges the comparison reads.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A parsed text-format page, by metric name. Unlike the scrape parser, this keeps labels with
/// empty values (node-exporter's `node_disk_info{model=""}`), so label names compare exactly.
type Page = BTreeMap<String, Metric>;

fn parse_page(text: &str) -> Page {
    let mut page = Page::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            page.entry(name.to_owned()).or_default().help = help.replace("\\n", "\n").replace("\\\\", "\\");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("type line");
            page.entry(name.to_owned()).or_default().kind = kind.to_owned();
        } else if !line.is_empty() && !line.starts_with('#') {
            let (series, value) = line.rsplit_once(' ').expect("sample line");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, parse_labels(labels.strip_suffix('}').expect("closing brace"))),
                None => (series, LabelSet::new()),
            };
            let previous = page.entry(name.to_owned()).or_default().series.insert(labels, value);
            assert!(previous.is_none(), "duplicate series in {line:?}");
        }
    }
    page
}

fn parse_labels(text: &str) -> LabelSet {
    let mut labels = LabelSet::new();
    let mut characters = text.chars().peekable();
    while characters.peek().is_some() {
        let name: String = characters.by_ref().take_while(|&character| character != '=').collect();
        assert_eq!(characters.next(), Some('"'), "label value must be quoted in {text:?}");
        let mut value = String::new();
        while let Some(character) = characters.next() {
            match character {
                '"' => break,
                '\\' => match characters.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => panic!("dangling escape in {text:?}"),
                },
                other => value.push(other),
            }
        }
        labels.insert(name, value);
        if characters.peek() == Some(&',') {
            characters.next();
        }
    }
    labels
}

/// The collectors the agent implements, with a predicate for the metric names each owns.
fn collector_of(name: &str) -> Option<&'static str> {
    let netdev = name.starts_with("node_network_receive_") || name.starts_with("node_network_transmit_");
    let collector = match name {
        _ if name.starts_with("node_cpu_") => "cpu",
        "node_arp_entries" => "arp",
        _ if name.starts_with("node_nf_conntrack_") => "conntrack",
        "node_udp_queues" => "udp_queues",
        _ if name.starts_with("node_selinux_") => "selinux",
        _ if name.starts_with("node_timex_") => "timex",
        _ if name.starts_with("node_softnet_") => "softnet",
        _ if name.starts_with("node_memory_") => "meminfo",
        "node_load1" | "node_load5" | "node_load15" => "loadavg",
        _ if name.starts_with("node_filesystem_") => "filesystem",
        _ if name.starts_with("node_disk_") => "diskstats",
        _ if netdev && name.ends_with("_total") => "netdev",
        _ if name.starts_with("node_network_") => "netclass",
        _ if name.starts_with("node_netstat_") => "netstat",
        _ if name.starts_with("node_sockstat_") => "sockstat",
        "node_uname_info" => "uname",
        _ if name.starts_with("node_os_") => "os",
        "node_boot_time_seconds" | "node_context_switches_total" | "node_forks_total" | "node_intr_total" => "stat",
        "node_procs_running" | "node_procs_blocked" => "stat",
        _ if name.starts_with("node_time_") => "time",
        _ if name.starts_with("node_vmstat_") => "vmstat",
        _ if name.starts_with("node_pressure_") => "pressure",
        _ if name.starts_with("node_entropy_") => "entropy",
        _ if name.starts_with("node_filefd_") => "filefd",
        _ if name.starts_with("node_hwmon_") => "hwmon",
        "node_scrape_collector_success" | "node_scrape_collector_duration_seconds" => "scrape",
        _ => return None,
    };
    Some(collector)
}

const COLLECTORS: [&str; 24] = [
    "arp",
    "conntrack",
    "cpu",
    "diskstats",
    "entropy",
    "filefd",
    "filesystem",
    "hwmon",
    "loadavg",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "os",
    "pressure",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
];

/// How a value of ours must relate to node-exporter's two readings `low..=high` (sorted).
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Equal to both readings (constants: sizes, boot time, info series).
    Equal,
    /// Inside the readings, widened by an absolute amount for values that move up and down or
    /// counters the kernel lets step back slightly (idle and iowait time).
    Within(f64),
    /// Not compared (durations of our own collectors).
    Ignored,
}

fn rule(name: &str, kind: &str) -> Rule {
    const MIB: f64 = 1024.0 * 1024.0;
    match name {
        "node_scrape_collector_duration_seconds" => Rule::Ignored,
        "node_filesystem_size_bytes" | "node_filesystem_files" | "node_filesystem_readonly" => Rule::Equal,
        "node_filesystem_device_error" | "node_boot_time_seconds" | "node_entropy_pool_size_bits" => Rule::Equal,
        "node_filefd_maximum" | "node_memory_MemTotal_bytes" | "node_memory_SwapTotal_bytes" => Rule::Equal,
        "node_scrape_collector_success" | "node_time_zone_offset_seconds" | "node_netstat_Ip_Forwarding" => Rule::Equal,
        "node_filesystem_free_bytes" | "node_filesystem_avail_bytes" => Rule::Within(256.0 * MIB),
        "node_filesystem_files_free" => Rule::Within(10_000.0),
        "node_time_seconds" => Rule::Within(1.0),
        // Instantaneous counts that jump with what other processes on the machine do.
        "node_procs_running" | "node_procs_blocked" => Rule::Within(64.0),
        "node_nf_conntrack_entries" => Rule::Within(64.0),
        "node_nf_conntrack_entries_limit" => Rule::Equal,
        "node_udp_queues" => Rule::Within(1024.0 * 1024.0),
        // The kernel's clock discipline moves these between readings.
        "node_timex_offset_seconds" | "node_timex_frequency_adjustment_ratio" => Rule::Within(0.001),
        "node_timex_maxerror_seconds" | "node_timex_estimated_error_seconds" => Rule::Within(1.0),
        "node_disk_io_now" => Rule::Within(1024.0),
        "node_filefd_allocated" => Rule::Within(500.0),
        "node_netstat_Tcp_CurrEstab" => Rule::Within(20.0),
        "node_entropy_available_bits" => Rule::Within(256.0),
        _ if name.ends_with("_info") => Rule::Equal,
        _ if name.starts_with("node_os_") || name.starts_with("node_uname_") => Rule::Equal,
        _ if name.starts_with("node_memory_") && name.ends_with("_bytes") => Rule::Within(256.0 * MIB),
        _ if name.starts_with("node_memory_") => Rule::Within(64.0),
        _ if name.starts_with("node_sockstat_") && name.ends_with("_bytes") => Rule::Within(16.0 * MIB),
        _ if name.starts_with("node_sockstat_") => Rule::Within(64.0),
        _ if name.starts_with("node_cpu_") => Rule::Within(0.5),
        _ if name.starts_with("node_load") => Rule::Within(0.5),
        _ if kind == "counter" || kind == "untyped" => Rule::Within(0.0),
        _ => Rule::Within(0.0),
    }
}

/// Reads the `<!-- differences -->` list of `docs/node-agent.md`: `(metric, side)` pairs.
fn documented_differences() -> BTreeSet<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/node-agent.md");
    let text = std::fs::read_to_string(&path).expect("docs/node-agent.md");
    let start = text.find("<!-- differences:begin -->").expect("differences:begin marker");
    let end = text.find("<!-- differences:end -->").expect("differences:end marker");
    text[start..end]
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .map(|line| {
            let (name, rest) = line.split_once('`').expect("metric in backquotes");
            let side = rest.split('|').nth(1).expect("side column").trim().to_owned();
            (name.to_owned(), side)
        })
        .collect()
}

async fn wait_for(client: &reqwest::Client, url: &str, process: &mut Process, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = process.child.try_wait().unwrap() {
            panic!("{what} exited with {status}");
        }
        if client.get(url).send().await.is_ok_and(|response| response.status() == 200) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what} did not answer {url} within 15 s");
}

async fn start_node_exporter(client: &reqwest::Client) -> Process {
    let address = free_address();
    let child = Command::new("/usr/bin/prometheus-node-exporter")
        .arg(format!("--web.listen-address={address}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start /usr/bin/prometheus-node-exporter (apt-get install prometheus-node-exporter)");
    let mut process = Process { child, address };
    wait_for(client, &format!("http://{address}/metrics"), &mut process, "node exporter").await;
    process
}

async fn start_agent(client: &reqwest::Client, extra: &[&str], log: &Path) -> Process {
    let address = free_address();
    let child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .arg("agent")
        .arg(format!("--web.listen-address={address}"))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start panoptes agent");
    let mut process = Process { child, address };
    wait_for(client, &format!("http://{address}/-/healthy"), &mut process, "panoptes agent").await;
    process
}

async fn fetch(client: &reqwest::Client, process: &Process) -> String {
    let response = client.get(format!("http://{}/metrics", process.address)).send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200);
    response.text().await.expect("page")
}

/// Restricts a page to the metrics of the compared collectors (and the scrape series to them).
fn compared(page: &Page) -> Page {
    page.iter()
        .filter(|(name, _)| collector_of(name).is_some())
        .map(|(name, metric)| {
            let mut metric = metric.clone();
            if collector_of(name) == Some("scrape") {
                metric.series.retain(|labels, _| COLLECTORS.contains(&labels["collector"].as_str()));
            }
            (name.clone(), metric)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_matches_node_exporter_on_this_machine() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let node_exporter = start_node_exporter(&client).await;
    let agent = start_agent(&client, &[], &dir.path().join("agent.log")).await;
    // Warm both up once (first gathers open files and compile nothing, but be fair).
    fetch(&client, &node_exporter).await;
    fetch(&client, &agent).await;

    let before = compared(&parse_page(&fetch(&client, &node_exporter).await));
    let ours = compared(&parse_page(&fetch(&client, &agent).await));
    let after = compared(&parse_page(&fetch(&client, &node_exporter).await));

    // Names: what only one side has must be exactly the documented list.
    let theirs_names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let our_names: BTreeSet<&String> = ours.keys().collect();
    let mut differences = BTreeSet::new();
    for name in theirs_names.difference(&our_names) {
        differences.insert(((*name).clone(), "node-exporter only".to_owned()));
    }
    for name in our_names.difference(&theirs_names) {
        differences.insert(((*name).clone(), "Panoptes only".to_owned()));
    }
    assert_eq!(
        differences,
        documented_differences(),
        "the metrics only one side has differ from the list in docs/node-agent.md"
    );

    let mut failures = Vec::new();
    let mut compared_values = 0;
    for (name, metric) in &ours {
        let (Some(first), Some(second)) = (before.get(name), after.get(name)) else { continue };
        if metric.help != first.help {
            failures.push(format!("{name}: help {:?}, node-exporter {:?}", metric.help, first.help));
        }
        if metric.kind != first.kind {
            failures.push(format!("{name}: type {}, node-exporter {}", metric.kind, first.kind));
        }
        let label_names = |metric: &Metric| -> BTreeSet<Vec<String>> {
            metric.series.keys().map(|labels| labels.keys().cloned().collect()).collect()
        };
        if label_names(metric) != label_names(first) {
            failures.push(format!(
                "{name}: label names {:?}, node-exporter {:?}",
                label_names(metric),
                label_names(first)
            ));
            continue;
        }
        let ours_series: BTreeSet<&LabelSet> = metric.series.keys().collect();
        let theirs_series: BTreeSet<&LabelSet> = first.series.keys().collect();
        if ours_series != theirs_series {
            failures.push(format!("{name}: series {ours_series:?}, node-exporter {theirs_series:?}"));
            continue;
        }
        for (labels, &value) in &metric.series {
            let (Some(&a), Some(&b)) = (first.series.get(labels), second.series.get(labels)) else { continue };
            let (low, high) = (a.min(b), a.max(b));
            let ok = match rule(name, &metric.kind) {
                Rule::Ignored => true,
                Rule::Equal => value == a && value == b,
                Rule::Within(slack) => {
                    let float_slack = 1e-9 * high.abs().max(1.0);
                    low - slack - float_slack <= value && value <= high + slack + float_slack
                }
            };
            compared_values += 1;
            if !ok {
                failures.push(format!("{name}{labels:?}: {value}, node-exporter {a} then {b}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} mismatches:\n{}", failures.len(), failures.join("\n"));
    // Every compared collector succeeded or failed alike; at least the basics were compared.
    assert!(compared_values > 200, "only {compared_values} values compared");
    println!("compared {compared_values} values of {} metric names", ours.len());
}

/// Sends `GET path` with extra header lines over a fresh connection and returns the response
/// head (lower-cased) and body.
fn get_raw(address: std::net::SocketAddr, path: &str, headers: &str) -> (String, Vec<u8>) {
    use std::io::Write as _;
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Connection: close\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("read response");
    let split = response.windows(4).position(|window| window == b"\r\n\r\n").expect("end of head");
    let head = String::from_utf8_lossy(&response[..split]).to_lowercase();
    (head, response[split + 4..].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_serves_gzip_survives_a_broken_procfs_and_stops_on_sigterm() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let empty = dir.path().join("empty-proc");
    std::fs::create_dir_all(&empty).unwrap();
    let procfs = format!("--path.procfs={}", empty.display());
    let log = dir.path().join("agent.log");
    let mut agent = start_agent(&client, &[&procfs], &log).await;

    // A plain HTTP/1.1 exchange, so that no client decompresses behind the test's back.
    let (head, body) = get_raw(agent.address, "/metrics", "Accept-Encoding: gzip\r\n");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"), "{head}");
    let compressed = body;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_string(&mut text).expect("gzip body");
    let page = parse_page(&text);
    let success = &page["node_scrape_collector_success"].series;
    let of = |collector: &str| success[&LabelSet::from([("collector".to_owned(), collector.to_owned())])];
    // Collectors reading the empty procfs fail; the others still answer.
    for collector in ["meminfo", "cpu", "loadavg", "stat", "vmstat"] {
        assert_eq!(of(collector), 0.0, "{collector}");
    }
    for collector in ["uname", "time"] {
        assert_eq!(of(collector), 1.0, "{collector}");
    }
    assert!(page.contains_key("node_uname_info"));
    assert!(!page.contains_key("node_memory_MemTotal_bytes"));
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("collector failed") && log_text.contains("collector=meminfo"), "{log_text}");

    // Without gzip in the request the page is plain text.
    let (head, body) = get_raw(agent.address, "/metrics", "");
    assert!(!head.contains("content-encoding"), "{head}");
    assert!(String::from_utf8(body).unwrap().contains("# TYPE node_uname_info gauge"));
    let (head, body) = get_raw(agent.address, "/-/healthy", "");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(body, b"Healthy\n");

    let status = Command::new("kill").arg("-TERM").arg(agent.child.id().to_string()).status().unwrap();
    assert!(status.success());
    let exit = wait_exit(&mut agent.child, Duration::from_secs(10)).expect("agent exits after SIGTERM");
    assert!(exit.success(), "{exit}");
}

fn spawn_server(data: &Path, address: std::net::SocketAddr, log: &Path) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .arg("server")
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address={address}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("start panoptes server");
    Process { child, address }
}

fn queued_segments(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.filter_map(Result::ok).filter(|entry| entry.path().extension().is_some_and(|e| e == "seg")).count()
        })
        .unwrap_or(0)
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_write_queue_survives_a_server_outage_and_an_agent_restart() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let data = dir.path().join("data");
    let queue = dir.path().join("queue");
    let server_address = free_address();
    let server_log = dir.path().join("server.log");
    let mut server = spawn_server(&data, server_address, &server_log);
    wait_ready(&client, server_address, &mut server.child, &server_log).await;

    let url = format!("--remote-write.url=http://{server_address}/api/v1/write");
    let queue_flag = format!("--remote-write.queue-dir={}", queue.display());
    let flags = [
        "--collector.disable-defaults",
        "--collector.time",
        "--collector.loadavg",
        "--remote-write.interval=100ms",
        "--remote-write.label=instance=test-node",
        &url,
        &queue_flag,
    ];
    let mut agent = start_agent(&client, &flags, &dir.path().join("agent1.log")).await;

    let count_url = format!(
        "http://{server_address}/api/v1/query?query={}",
        form_urlencoded::byte_serialize(b"count_over_time(node_time_seconds{job=\"node\",instance=\"test-node\"}[5m])")
            .collect::<String>()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let data = get_data(&client, &count_url).await;
        let count = data["result"][0]["value"][1].as_str().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        if count >= 3.0 {
            break;
        }
        assert!(Instant::now() < deadline, "samples did not arrive: {data}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The server goes away; the agent keeps collecting into its queue.
    drop(server);
    let outage_start = now_seconds();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let queued_before_restart = queued_segments(&queue);
    assert!(queued_before_restart >= 8, "only {queued_before_restart} segments queued during the outage");

    // The agent restarts during the outage and finds its queue again.
    Command::new("kill").arg("-TERM").arg(agent.child.id().to_string()).status().unwrap();
    assert!(wait_exit(&mut agent.child, Duration::from_secs(10)).expect("agent stops").success());
    assert!(queued_segments(&queue) >= queued_before_restart);
    let agent = start_agent(&client, &flags, &dir.path().join("agent2.log")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(queued_segments(&queue) > queued_before_restart);
    let outage_end = now_seconds();

    // The server comes back on the same address and data; the backlog drains oldest first.
    let server_log = dir.path().join("server2.log");
    let mut server = spawn_server(&data, server_address, &server_log);
    wait_ready(&client, server_address, &mut server.child, &server_log).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while queued_segments(&queue) > 1 {
        assert!(Instant::now() < deadline, "queue not drained: {} segments left", queued_segments(&queue));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let raw_url = format!(
        "http://{server_address}/api/v1/query?query={}",
        form_urlencoded::byte_serialize(b"node_time_seconds{instance=\"test-node\"}[5m]").collect::<String>()
    );
    let data = get_data(&client, &raw_url).await;
    let values = data["result"][0]["values"].as_array().expect("raw samples").clone();
    let samples: Vec<(f64, f64)> = values
        .iter()
        .map(|pair| (pair[0].as_f64().unwrap(), pair[1].as_str().unwrap().parse::<f64>().unwrap()))
        .collect();
    // Each sample is the clock reading taken when it was collected, stamped at that time.
    for &(timestamp, value) in &samples {
        assert!((timestamp - value).abs() < 1.0, "sample at {timestamp} holds {value}");
    }
    let during_outage = samples
        .iter()
        .filter(|(timestamp, _)| *timestamp > outage_start + 0.2 && *timestamp < outage_end - 0.2)
        .count();
    // About 3 s of outage at 100 ms, minus the agent's restart: about 25 samples on an idle
    // machine, fewer when collection runs late under load (18 seen with the whole test suite
    // running). Loss shows as a gap, checked below; this only checks the outage was covered.
    assert!(during_outage >= 12, "only {during_outage} samples from the outage arrived");
    let largest_gap = samples.windows(2).map(|pair| pair[1].0 - pair[0].0).fold(0.0, f64::max);
    // Only the agent's own restart (well under a second) may leave a gap.
    assert!(largest_gap < 1.2, "a gap of {largest_gap} s in the pushed samples");

    let page = parse_page(&fetch(&client, &agent).await);
    let sent = page["panoptes_agent_remote_write_sent_segments_total"].series[&LabelSet::new()];
    let failed = page["panoptes_agent_remote_write_failed_sends_total"].series[&LabelSet::new()];
    assert!(sent >= 15.0 && failed >= 1.0, "sent {sent}, failed {failed}");
    println!(
        "outage {:.1} s: {during_outage} samples queued and delivered; largest gap {largest_gap:.2} s; {} samples",
        outage_end - outage_start,
        samples.len()
    );
    drop(agent);
}
