//! Tests of target label population.

use super::*;
use crate::config;
use crate::discovery::TargetGroup;

fn scrape_config(yaml: &str) -> ScrapeConfig {
    let config = config::parse_str(yaml, "test.yml").unwrap_or_else(|error| panic!("config loads: {error}"));
    config.scrape_configs.into_iter().next().expect("one scrape config")
}

/// Populates one static target of the first job; `expected` is the rendered outcome.
#[track_caller]
fn check(yaml: &str, expected: &str) {
    let config = scrape_config(yaml);
    let group =
        config.static_configs.first().map(|group| TargetGroup::from_static_config(group, 0)).unwrap_or_default();
    let outcome = targets_from_group(&config, &group);
    let mut lines = Vec::new();
    for target in &outcome.active {
        lines.push(format!("{} {}", target.labels(), target.url()));
    }
    for dropped in &outcome.dropped {
        lines.push(format!("dropped {dropped}"));
    }
    lines.extend(outcome.failures.iter().map(|failure| format!("error {failure}")));
    assert_eq!(lines.join("\n"), expected.trim(), "for\n{yaml}");
}

#[test]
fn static_targets_get_job_instance_and_url() {
    check(
        "scrape_configs:\n- job_name: node\n  static_configs:\n  - targets: ['a:9100', 'b:9100']\n    labels: {group: prod}\n",
        r#"
{group="prod", instance="a:9100", job="node"} http://a:9100/metrics
{group="prod", instance="b:9100", job="node"} http://b:9100/metrics
"#,
    );
}

#[test]
fn params_and_param_labels_build_the_query() {
    check(
        "scrape_configs:\n- job_name: blackbox\n  metrics_path: /probe\n  params: {module: [http_2xx], x: [a b, c]}\n  \
         static_configs:\n  - targets: ['example.com']\n  relabel_configs:\n  - source_labels: [__address__]\n    \
         target_label: __param_target\n  - source_labels: [__param_target]\n    target_label: instance\n  \
         - target_label: __address__\n    replacement: bb:9115\n",
        r#"{instance="example.com", job="blackbox"} http://bb:9115/probe?module=http_2xx&target=example.com&x=a+b&x=c"#,
    );
}

#[test]
fn relabelling_can_drop_and_break_targets() {
    check(
        "scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['a:1']\n  relabel_configs:\n  \
         - {source_labels: [__address__], regex: 'b.*', action: keep}\n",
        r#"dropped {__address__="a:1", __metrics_path__="/metrics", __scheme__="http", __scrape_interval__="1m", __scrape_timeout__="10s", job="a"}"#,
    );
    check(
        "scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['a:1']\n  relabel_configs:\n  \
         - {target_label: __address__, replacement: ''}\n",
        "error instance 0 in group 0: no address",
    );
    check(
        "scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['a:1']\n  relabel_configs:\n  \
         - {target_label: __scrape_timeout__, replacement: 2m}\n",
        r#"error instance 0 in group 0: scrape timeout cannot be greater than scrape interval ("2m" > "1m")"#,
    );
    check(
        "scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['a:1']\n  relabel_configs:\n  \
         - {target_label: __address__, replacement: 'http://x/'}\n",
        r#"error instance 0 in group 0: "http://x/" is not a valid hostname"#,
    );
}

#[test]
fn meta_labels_are_removed_and_interval_overrides_apply() {
    let config = scrape_config("scrape_configs:\n- job_name: k\n  scrape_interval: 30s\n  scheme: https\n");
    let target_labels = BTreeMap::from([
        (ADDRESS_LABEL.to_owned(), "10.0.0.1:443".to_owned()),
        ("__meta_kubernetes_node_name".to_owned(), "n1".to_owned()),
        (SCRAPE_INTERVAL_LABEL.to_owned(), "15s".to_owned()),
    ]);
    let discovered = discovered_labels(&config, &target_labels, &BTreeMap::new());
    assert_eq!(discovered.get("__meta_kubernetes_node_name"), Some("n1"));
    let target = populate(&config, discovered).expect("valid").expect("kept");
    assert_eq!(target.interval(), Duration::from_secs(15));
    assert_eq!(target.timeout(), Duration::from_secs(10));
    assert!(target.internal_labels().get("__meta_kubernetes_node_name").is_none());
    assert_eq!(target.url(), "https://10.0.0.1:443/metrics");
    assert_eq!(target.labels().to_string(), r#"{instance="10.0.0.1:443", job="k"}"#);
}

#[test]
fn eks_pod_job_relabels_an_annotated_pod() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-configs/eks-prometheus.yml");
    let config = config::load_file(&path).expect("seed config loads");
    let pods = config.scrape_configs.iter().find(|job| job.job_name == "kubernetes-pods").expect("pods job");
    let pod = |scrape: &str| {
        BTreeMap::from(
            [
                (ADDRESS_LABEL, "10.1.2.3:8080"),
                ("__meta_kubernetes_namespace", "shop"),
                ("__meta_kubernetes_pod_name", "web-7d9f"),
                ("__meta_kubernetes_pod_label_app", "web"),
                ("__meta_kubernetes_pod_annotation_prometheus_io_scrape", scrape),
                ("__meta_kubernetes_pod_annotation_prometheus_io_port", "9102"),
                ("__meta_kubernetes_pod_annotation_prometheus_io_path", "/stats"),
            ]
            .map(|(name, value)| (name.to_owned(), value.to_owned())),
        )
    };
    let group =
        TargetGroup { targets: vec![pod("true"), pod("false")], labels: BTreeMap::new(), source: "pods".to_owned() };
    let outcome = targets_from_group(pods, &group);
    assert_eq!(outcome.dropped.len(), 1, "the pod without the scrape annotation is dropped");
    let [target] = &outcome.active[..] else { panic!("one active target, got {:?}", outcome.active) };
    assert_eq!(target.url(), "http://10.1.2.3:9102/stats");
    assert_eq!(
        target.labels().to_string(),
        r#"{app="web", instance="10.1.2.3:9102", job="kubernetes-pods", kubernetes_namespace="shop", kubernetes_pod_name="web-7d9f"}"#
    );
    assert_eq!(target.interval(), Duration::from_secs(15));
}
