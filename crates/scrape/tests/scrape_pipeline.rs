//! The scrape pipeline through the public API only: configuration, targets, content-type
//! negotiation, parsing, appending and the report series, as the scrape loop will drive them.

use std::path::PathBuf;
use std::time::Duration;

use panoptes_model::{MatchOp, Matcher};
use panoptes_scrape::append::{AppendOptions, ScrapeCache, ScrapeOutcome, append_report};
use panoptes_scrape::config;
use panoptes_scrape::discovery::TargetGroup;
use panoptes_scrape::exposition::Format;
use panoptes_scrape::target::targets_from_group;
use panoptes_storage::{MemStorage, Storage, collect_samples};

const PAGE: &[u8] = b"# HELP http_requests Requests.\n# TYPE http_requests counter\n\
http_requests_total{code=\"200\",instance=\"spoofed\"} 1027\n\
http_requests_created{code=\"200\"} 1700000000\n# EOF\n";

#[test]
fn notes_config_scrape_appends_labelled_series() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-configs/notes-prometheus.yml");
    let config = config::load_file(&path).expect("seed config loads");
    let job = config.scrape_configs.iter().find(|job| job.job_name == "example-random").expect("job exists");

    let group = TargetGroup::from_static_config(&job.static_configs[1], 1);
    let targets = targets_from_group(job, &group);
    assert!(targets.failures.is_empty() && targets.dropped.is_empty());
    let target = &targets.active[0];
    assert_eq!(target.url(), "http://localhost:8082/metrics");
    assert_eq!((target.interval(), target.timeout()), (Duration::from_secs(5), Duration::from_secs(5)));
    assert!(job.accept_header().starts_with("application/openmetrics-text;version=1.0.0"));

    let format = Format::negotiate(Some("application/openmetrics-text; version=1.0.0; charset=utf-8"), None)
        .expect("supported content type");
    let storage = MemStorage::new();
    let mut cache = ScrapeCache::new();
    let report = cache
        .append_page(&storage, PAGE, format, &target.labels(), &AppendOptions::from_config(job), 10_000)
        .expect("page appends");
    assert_eq!((report.samples_scraped, report.series_added), (2, 2));
    let outcome = ScrapeOutcome { is_up: true, duration: Duration::from_millis(12), report, extra: None };
    append_report(&storage, &target.labels(), &outcome, 10_000).expect("report appends");

    let querier = storage.querier(0, 20_000).expect("querier");
    let matcher = Matcher::new(MatchOp::Regex, "__name__", "http_.*|up").expect("matcher");
    let mut lines = Vec::new();
    for series in querier.select(&[matcher]).expect("select") {
        let mut series = series.expect("series");
        let values: Vec<f64> = collect_samples(series.samples.as_mut()).iter().map(|sample| sample.v).collect();
        lines.push(format!("{} {values:?}", series.labels));
    }
    assert_eq!(
        lines,
        [
            r#"http_requests_created{code="200", group="canary", instance="localhost:8082", job="example-random"} [1700000000.0]"#,
            r#"http_requests_total{code="200", exported_instance="spoofed", group="canary", instance="localhost:8082", job="example-random"} [1027.0]"#,
            r#"up{group="canary", instance="localhost:8082", job="example-random"} [1.0]"#,
        ]
    );
}

#[test]
fn kubernetes_example_uses_every_role_and_relabel_action() {
    use std::collections::BTreeSet;

    use panoptes_scrape::relabel::Action;

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/prometheus-kubernetes.yml");
    let config = config::load_file(&path).expect("the example loads");
    config::check_config(&config, true).expect("the example checks (syntax only)");
    let roles: BTreeSet<String> = config
        .scrape_configs
        .iter()
        .flat_map(|job| job.kubernetes_sd_configs.iter().filter_map(|sd| sd.role.map(|role| role.as_str().to_owned())))
        .collect();
    assert_eq!(roles, ["endpoints", "endpointslice", "ingress", "node", "pod", "service"].map(String::from).into());
    let actions: BTreeSet<&str> = config
        .scrape_configs
        .iter()
        .flat_map(|job| job.relabel_configs.iter().chain(&job.metric_relabel_configs))
        .map(|relabel| relabel.action.as_str())
        .collect();
    let all: BTreeSet<&str> = Action::ALL.iter().map(|action| action.as_str()).collect();
    assert_eq!(actions, all, "every relabel action appears in the example");
}
