//! Tests of configuration loading: the seed configurations, defaults and validation errors.

use std::path::PathBuf;

use super::*;
use crate::relabel::Action;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/seed-configs").join(name)
}

#[track_caller]
fn load(yaml: &str) -> Config {
    parse_str(yaml, "test.yml").unwrap_or_else(|error| panic!("config should load: {error}"))
}

/// Asserts that `yaml` is rejected with exactly `expected` as the message.
#[track_caller]
fn check_error(yaml: &str, expected: &str) {
    match parse_str(yaml, "test.yml") {
        Ok(config) => panic!("config should be rejected, got {config:?}"),
        Err(error) => assert_eq!(error.to_string(), expected, "for\n{yaml}"),
    }
}

#[test]
fn eks_seed_config_loads() {
    let config = load_file(testdata("eks-prometheus.yml")).expect("eks-prometheus.yml loads");
    assert_eq!(config.global.scrape_interval, Duration::from_secs(15));
    assert_eq!(config.global.scrape_timeout, Duration::from_secs(10));
    assert_eq!(config.global.evaluation_interval, Duration::from_secs(15));
    let jobs: Vec<&str> = config.scrape_configs.iter().map(|job| job.job_name.as_str()).collect();
    assert_eq!(
        jobs,
        [
            "kubernetes-apiservers",
            "kubernetes-nodes",
            "kubernetes-cadvisor",
            "kubernetes-service-endpoints",
            "kubernetes-services",
            "kubernetes-ingresses",
            "kubernetes-pods"
        ]
    );
    let apiservers = &config.scrape_configs[0];
    assert_eq!(apiservers.scheme, "https");
    assert_eq!(apiservers.scrape_interval, Duration::from_secs(15));
    assert_eq!(apiservers.scrape_timeout, Duration::from_secs(10));
    assert_eq!(apiservers.metrics_path, "/metrics");
    assert!(apiservers.honor_timestamps);
    assert_eq!(apiservers.kubernetes_sd_configs[0].role, Some(KubernetesRole::Endpoints));
    assert_eq!(apiservers.tls_config.ca_file.as_deref(), Some("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"));
    assert_eq!(apiservers.bearer_token_file.as_deref(), Some("/var/run/secrets/kubernetes.io/serviceaccount/token"));
    assert_eq!(apiservers.relabel_configs[0].action, Action::Keep);
    assert_eq!(apiservers.relabel_configs[0].regex.as_str(), "default;kubernetes;https");
    let services = &config.scrape_configs[4];
    assert_eq!(services.metrics_path, "/probe");
    assert_eq!(services.params.get("module"), Some(&vec!["http_2xx".to_owned()]));
    assert_eq!(services.kubernetes_sd_configs[0].role, Some(KubernetesRole::Service));
    assert_eq!(config.scrape_configs[5].kubernetes_sd_configs[0].role, Some(KubernetesRole::Ingress));
    assert_eq!(config.scrape_configs[6].relabel_configs.len(), 6);
    // `regex: true` is a YAML boolean that Prometheus reads as the pattern "true".
    let keep = &config.scrape_configs[3].relabel_configs[0];
    assert_eq!((keep.action, keep.regex.as_str()), (Action::Keep, "true"));
    assert!(keep.regex.is_match("true") && !keep.regex.is_match("True"));
    let address = &config.scrape_configs[3].relabel_configs[3];
    assert_eq!(address.regex.as_str(), r"([^:]+)(?::\d+)?;(\d+)");
    assert_eq!(address.replacement, "$1:$2");
}

#[test]
fn eks_configmap_seed_config_loads() {
    #[derive(serde::Deserialize)]
    struct ConfigMap {
        data: BTreeMap<String, String>,
    }
    let path = testdata("eks-prometheus-configmap.yaml");
    let text = std::fs::read_to_string(&path).expect("configmap readable");
    let config_map: ConfigMap = serde_saphyr::from_str(&text).expect("configmap parses");
    let embedded = config_map.data.get("prometheus.yml").expect("configmap has prometheus.yml");
    let config = parse_str(embedded, &path.display().to_string()).expect("embedded prometheus.yml loads");
    let plain = load_file(testdata("eks-prometheus.yml")).expect("eks-prometheus.yml loads");
    assert_eq!(config, plain);
}

#[test]
fn notes_seed_config_loads() {
    let config = load_file(testdata("notes-prometheus.yml")).expect("notes-prometheus.yml loads");
    assert!(config.rule_files.is_empty());
    assert_eq!(config.scrape_configs.len(), 2);
    let prometheus = &config.scrape_configs[0];
    assert_eq!(prometheus.job_name, "prometheus");
    assert_eq!(prometheus.static_configs[0].targets, ["localhost:9090"]);
    assert_eq!(prometheus.scrape_interval, Duration::from_secs(15));
    let random = &config.scrape_configs[1];
    assert_eq!(random.scrape_interval, Duration::from_secs(5));
    // The global timeout (10s) is capped at the job's interval.
    assert_eq!(random.scrape_timeout, Duration::from_secs(5));
    assert_eq!(random.static_configs[0].targets, ["localhost:8080", "localhost:8081"]);
    assert_eq!(random.static_configs[0].labels.get("group").map(String::as_str), Some("production"));
    assert_eq!(random.static_configs[1].labels.get("group").map(String::as_str), Some("canary"));
}

#[test]
fn empty_file_gets_prometheus_defaults() {
    for text in ["", "global:\n", "{}\n"] {
        let config = load(text);
        assert_eq!(config.global.scrape_interval, Duration::from_secs(60));
        assert_eq!(config.global.scrape_timeout, Duration::from_secs(10));
        assert_eq!(config.global.evaluation_interval, Duration::from_secs(60));
        assert_eq!(config.global.scrape_protocols, None);
        assert_eq!(config.global.name_validation_scheme(), NameValidationScheme::Utf8);
        assert!(config.scrape_configs.is_empty());
    }
}

#[test]
fn scrape_configs_inherit_global_values() {
    let config = load(
        "global:\n  scrape_interval: 5s\n  sample_limit: 100\n  body_size_limit: 10MB\n  label_limit: 7\n\
         scrape_configs:\n  - job_name: a\n  - job_name: b\n    sample_limit: 5\n    scrape_timeout: 2s\n    \
         body_size_limit: 1KB\n    scrape_protocols: [PrometheusText0.0.4]\n",
    );
    assert_eq!(config.global.scrape_timeout, Duration::from_secs(5));
    let a = &config.scrape_configs[0];
    assert_eq!((a.scrape_interval, a.scrape_timeout), (Duration::from_secs(5), Duration::from_secs(5)));
    assert_eq!((a.sample_limit, a.label_limit, a.body_size_limit), (100, 7, ByteSize(10 << 20)));
    assert_eq!(a.protocols(), ScrapeProtocol::DEFAULT);
    assert_eq!((a.scheme.as_str(), a.metrics_path.as_str()), ("http", "/metrics"));
    assert!(a.follow_redirects && a.enable_http2 && a.enable_compression);
    let b = &config.scrape_configs[1];
    assert_eq!((b.sample_limit, b.scrape_timeout, b.body_size_limit), (5, Duration::from_secs(2), ByteSize(1024)));
    assert_eq!(b.protocols(), [ScrapeProtocol::PrometheusText0_0_4]);
}

#[test]
fn misspelled_keys_name_file_line_and_column() {
    let yaml =
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    static_config:\n      - targets: [x]\n";
    let error = parse_str(yaml, "prometheus.yml").expect_err("unknown key");
    assert_eq!(error.position(), Some(Position { line: 5, column: 5 }));
    let message = error.to_string();
    assert!(message.starts_with("prometheus.yml:5:5: unknown field `static_config`, expected one of"), "{message}");
    assert!(!message.contains(" at line "), "{message}");

    let error = parse_str("global:\n  scrape_intervall: 1m\n", "p.yml").expect_err("unknown key");
    assert!(error.to_string().starts_with("p.yml:2:3: unknown field `scrape_intervall`"), "{error}");
    let error =
        parse_str("scrape_configs:\n- job_name: a\n  relabel_configs:\n  - action: keep\n    regexp: x\n", "p.yml")
            .expect_err("unknown key");
    assert!(error.to_string().starts_with("p.yml:5:5: unknown field `regexp`"), "{error}");
    let error = parse_str("alertmanager:\n  x: 1\n", "p.yml").expect_err("unknown section");
    assert!(error.to_string().starts_with("p.yml:1:1: unknown field `alertmanager`"), "{error}");
}

#[test]
fn yaml_syntax_and_type_errors_are_located() {
    let error = parse_str("global:\n  scrape_interval: 15x\n", "p.yml").expect_err("bad duration");
    assert_eq!(error.to_string(), r#"p.yml:2:20: not a valid duration string: "15x""#);
    let error = parse_str("scrape_configs:\n- job_name: a\n  sample_limit: many\n", "p.yml").expect_err("bad number");
    assert_eq!(error.position(), Some(Position { line: 3, column: 17 }));
    let error = parse_str("scrape_configs: [\n", "p.yml").expect_err("bad yaml");
    assert!(error.position().is_some(), "{error}");
}

#[test]
fn validation_errors() {
    check_error(
        "scrape_configs:\n- job_name: a\n- job_name: b\n- job_name: a\n",
        r#"test.yml:4:3: found multiple scrape configs with job name "a""#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  scrape_interval: 5s\n  scrape_timeout: 10s\n",
        r#"test.yml:2:3: scrape timeout greater than scrape interval for scrape config with job name "a""#,
    );
    check_error(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n",
        "test.yml: global scrape timeout greater than scrape interval",
    );
    check_error("scrape_configs:\n- scrape_interval: 5s\n", "test.yml:2:3: job_name is empty");
    check_error("scrape_configs:\n-\n", "test.yml:2:2: empty or null scrape config section");
    check_error(
        "scrape_configs:\n- job_name: a\n  bearer_token: x\n  bearer_token_file: y\n",
        r#"test.yml:2:3: at most one of bearer_token & bearer_token_file must be configured"#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  basic_auth:\n    username: u\n  authorization:\n    credentials: c\n",
        r#"test.yml:2:3: at most one of basic_auth, oauth2 & authorization must be configured"#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  authorization:\n    type: Basic\n",
        r#"test.yml:2:3: authorization type cannot be set to "basic", use "basic_auth" instead"#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  scrape_protocols: [PrometheusText0.0.4, PrometheusText0.0.4]\n",
        r#"test.yml:2:3: duplicated protocol in scrape_protocols, got [PrometheusText0.0.4 PrometheusText0.0.4] for scrape config with job name "a""#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  scrape_protocols: [Text]\n",
        "test.yml:3:22: unknown scrape protocol Text, supported: [OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 PrometheusText1.0.0]",
    );
    check_error(
        "global:\n  metric_name_validation_scheme: ascii\n",
        "test.yml: unknown global name validation method specified, must be either '', 'legacy' or 'utf8', got ascii",
    );
    check_error(
        "global:\n  metric_name_validation_scheme: legacy\nscrape_configs:\n- job_name: a\n  relabel_configs:\n  - target_label: a.b\n",
        r#"test.yml:4:3: "a.b" is invalid 'target_label' for replace action"#,
    );
    check_error("rule_files: ['rules/*/x.yml']\n", r#"test.yml: invalid rule file path "rules/*/x.yml""#);
    check_error(
        "scrape_configs:\n- job_name: a\n  static_configs:\n  - targets: ['http://x:1/metrics']\n",
        r#"test.yml:2:3: "http://x:1/metrics" is not a valid hostname"#,
    );
}

#[test]
fn service_discovery_validation() {
    let job = |sd: &str| format!("scrape_configs:\n- job_name: a\n  {sd}\n");
    check_error(
        &job("kubernetes_sd_configs:\n  - namespaces: {names: [x]}"),
        "test.yml:4:5: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
    );
    check_error(
        &job("kubernetes_sd_configs:\n  - role: deployment"),
        r#"test.yml:4:11: unknown Kubernetes SD role "deployment""#,
    );
    check_error(
        &job("kubernetes_sd_configs:\n  - role: pod\n    api_server: https://k:6443\n    kubeconfig_file: /k"),
        "test.yml:4:5: cannot use 'kubeconfig_file' and 'api_server' simultaneously",
    );
    check_error(
        &job("kubernetes_sd_configs:\n  - role: pod\n    bearer_token: t"),
        "test.yml:4:5: to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
    );
    check_error(
        &job(
            "kubernetes_sd_configs:\n  - role: pod\n    api_server: https://k\n    namespaces:\n      own_namespace: true",
        ),
        "test.yml:4:5: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
    );
    check_error(
        &job("kubernetes_sd_configs:\n  - role: pod\n    selectors:\n    - role: node\n      label: a=b"),
        "test.yml:4:5: pod role supports only pod selectors",
    );
    check_error(
        &job("kubernetes_sd_configs:\n  - role: endpoints\n    selectors:\n    - role: pod\n    - role: pod"),
        "test.yml:4:5: duplicated selector role: pod",
    );
    check_error(
        &job("file_sd_configs:\n  - files: []"),
        "test.yml:4:5: file service discovery config must contain at least one path name",
    );
    check_error(
        &job("file_sd_configs:\n  - files: [targets.txt]"),
        r#"test.yml:4:5: path name "targets.txt" is not valid for file discovery"#,
    );
    check_error(&job("http_sd_configs:\n  - url: ftp://x/"), "test.yml:4:5: URL scheme must be 'http' or 'https'");
    check_error(&job("http_sd_configs:\n  - url: http:///x"), "test.yml:4:5: host is missing in URL");

    let config = load(&job("kubernetes_sd_configs:\n  - role: endpoints\n    api_server: https://k:6443\n    \
         tls_config: {insecure_skip_verify: true}\n    namespaces: {names: [a, b]}\n    \
         selectors:\n    - {role: pod, label: app=web}\n    - {role: service, field: metadata.name=x}\n    \
         attach_metadata: {node: true}\n  file_sd_configs:\n  - files: [targets/*.json]"));
    let kubernetes = &config.scrape_configs[0].kubernetes_sd_configs[0];
    assert_eq!(kubernetes.api_server.as_deref(), Some("https://k:6443"));
    assert_eq!(kubernetes.namespaces.names, ["a", "b"]);
    assert_eq!(kubernetes.selectors[1].field.as_deref(), Some("metadata.name=x"));
    assert!(kubernetes.attach_metadata.node && kubernetes.http_client().tls_config.insecure_skip_verify);
    let file_sd = &config.scrape_configs[0].file_sd_configs[0];
    assert_eq!(file_sd.refresh_interval, Duration::from_secs(300));
}

#[test]
fn alerting_and_remote_sections() {
    let config = load(
        "alerting:\n  alert_relabel_configs:\n  - action: labeldrop\n    regex: replica\n  alertmanagers:\n  \
         - static_configs:\n    - targets: ['am:9093']\n    path_prefix: /am\nremote_write:\n- url: http://rw/api/v1/write\n  \
         name: a\n  queue_config: {max_shards: 10}\n  write_relabel_configs:\n  - source_labels: [__name__]\n    regex: go_.*\n    \
         action: drop\nremote_read:\n- url: http://rr/api/v1/read\n  read_recent: true\nstorage:\n  tsdb:\n    \
         out_of_order_time_window: 30m\n  exemplars:\n    max_exemplars: 100000\n",
    );
    assert_eq!(config.alerting.alert_relabel_configs[0].action, Action::LabelDrop);
    let alertmanager = &config.alerting.alertmanagers[0];
    assert_eq!(alertmanager.static_configs[0].targets, ["am:9093"]);
    assert_eq!((alertmanager.path_prefix.as_str(), alertmanager.timeout), ("/am", Duration::from_secs(10)));
    let remote_write = &config.remote_write[0];
    assert_eq!((remote_write.queue_config.max_shards, remote_write.queue_config.capacity), (10, 10_000));
    assert_eq!(remote_write.remote_timeout, Duration::from_secs(30));
    assert!(remote_write.metadata_config.send);
    assert!(config.remote_read[0].read_recent && config.remote_read[0].filter_external_labels);
    assert_eq!(config.storage.tsdb.as_ref().map(|tsdb| tsdb.out_of_order_time_window), Some(Duration::from_secs(1800)));

    check_error("remote_write:\n- name: a\n", "test.yml:2:3: url for remote_write is empty");
    check_error(
        "remote_write:\n- url: http://a\n  headers: {Content-Type: x}\n",
        "test.yml:2:3: Content-Type is a reserved header. It must not be changed",
    );
    check_error(
        "remote_write:\n- {url: http://a, name: x}\n- {url: http://b, name: x}\n",
        r#"test.yml: found multiple remote write configs with job name "x""#,
    );
    check_error("remote_read:\n- read_recent: true\n", "test.yml:2:3: url for remote_read is empty");
    check_error(
        "alerting:\n  alertmanagers:\n  - api_version: v1\n",
        "test.yml:3:5: expected Alertmanager api version to be one of [v2] but got v1",
    );
}

#[test]
fn load_file_reports_missing_files() {
    let error = load_file("/nonexistent/prometheus.yml").expect_err("missing file");
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.to_string(), r#"cannot read configuration file "/nonexistent/prometheus.yml""#);
}

#[test]
fn parse_str_at_shifts_lines() {
    let error = parse_str_at("global:\n  bogus: 1\n", "cm.yaml", 7, 4).expect_err("unknown key");
    assert_eq!(error.position(), Some(Position { line: 9, column: 7 }));
}

#[test]
fn secrets_are_not_printed() {
    let config = load("scrape_configs:\n- job_name: a\n  basic_auth: {username: u, password: hunter2}\n");
    let printed = format!("{config:?}");
    assert!(!printed.contains("hunter2"), "{printed}");
    let password = config.scrape_configs[0].basic_auth.as_ref().and_then(|auth| auth.password.as_ref());
    assert_eq!(password.map(Secret::expose), Some("hunter2"));
}

#[test]
fn unsupported_service_discoveries_are_named() {
    check_error(
        "scrape_configs:\n- job_name: a\n  consul_sd_configs:\n  - server: x\n",
        "test.yml:3:3: consul_sd_configs is not supported by Panoptes (supported: static_configs, file_sd_configs, http_sd_configs, dns_sd_configs, kubernetes_sd_configs)",
    );
}

#[test]
fn accept_header_matches_prometheus() {
    let config = load("scrape_configs:\n- job_name: a\n- job_name: b\n  scrape_protocols: [PrometheusText0.0.4]\n");
    assert_eq!(
        config.scrape_configs[0].accept_header(),
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
         application/openmetrics-text;version=0.0.1;q=0.5,\
         text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
         text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
    );
    assert_eq!(config.scrape_configs[1].accept_header(), "text/plain;version=0.0.4;q=0.6,*/*;q=0.5");
    let legacy = load(
        "global:\n  metric_name_validation_scheme: legacy\nscrape_configs:\n- job_name: a\n  scrape_protocols: [OpenMetricsText1.0.0]\n",
    );
    assert_eq!(
        legacy.scrape_configs[0].accept_header(),
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,*/*;q=0.5"
    );
}

#[test]
fn external_labels_expand_environment_like_go() {
    let lookup = |name: &str| match name {
        "REGION" => Some("eu-1".to_owned()),
        "1" => Some("one".to_owned()),
        _ => None,
    };
    for (input, expected) in [
        ("$REGION", "eu-1"),
        ("${REGION}-a", "eu-1-a"),
        ("x$$y", "x$y"),
        ("$UNSET", ""),
        ("a$", "a$"),
        ("${}b", "b"),
        ("${REGION", "REGION"),
        ("$1x", "onex"),
        ("$-", ""),
        ("plain", "plain"),
    ] {
        assert_eq!(expand_env(input, &lookup), expected, "expand_env({input:?})");
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let config = load("global:\n  external_labels:\n    path: ${PATH}\n    gone: $PANOPTES_SURELY_UNSET_VARIABLE\n");
    assert_eq!(config.global.external_labels.get("path").cloned(), Some(path).filter(|p| !p.is_empty()));
    // Like Prometheus, an unset variable leaves a blank value rather than an error.
    assert_eq!(config.global.external_labels.get("gone").map(String::as_str), Some(""));
}

#[test]
fn prometheus_3_scrape_options() {
    let config = load(
        "global:\n  scrape_native_histograms: true\nscrape_configs:\n- job_name: a\n  fallback_scrape_protocol: PrometheusText0.0.4\n\
         - job_name: b\n  scrape_native_histograms: false\n  always_scrape_classic_histograms: true\n\
         - job_name: c\n  metric_name_validation_scheme: legacy\n  static_configs:\n  - targets: ['http://x/y']\n  \
         relabel_configs:\n  - {source_labels: [__address__], target_label: __param_target}\n",
    );
    let [a, b, c] = &config.scrape_configs[..] else { panic!("three jobs") };
    assert_eq!(a.fallback_scrape_protocol, Some(ScrapeProtocol::PrometheusText0_0_4));
    assert_eq!(a.protocols(), ScrapeProtocol::DEFAULT_PROTO_FIRST);
    assert!(a.is_scrape_native_histograms_enabled() && !a.is_always_scrape_classic_histograms_enabled());
    assert_eq!(b.protocols(), ScrapeProtocol::DEFAULT);
    assert!(b.is_always_scrape_classic_histograms_enabled() && !b.is_extra_scrape_metrics_enabled());
    // A job-level legacy scheme implies underscore escaping; URLs are fine when relabelled.
    assert_eq!(c.metric_name_escaping_scheme.as_deref(), Some("underscores"));
    assert_eq!(c.static_configs[0].targets, ["http://x/y"]);

    check_error(
        "scrape_configs:\n- job_name: a\n  metric_name_validation_scheme: legacy\n  metric_name_escaping_scheme: allow-utf-8\n",
        "test.yml:2:3: utf8 metric names requested but validation scheme is not set to UTF8",
    );
    check_error(
        "global:\n  metric_name_escaping_scheme: slashes\nscrape_configs:\n- job_name: a\n",
        r#"test.yml:4:3: unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got "slashes""#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  scrape_protocols: []\n",
        r#"test.yml:2:3: scrape_protocols cannot be empty for scrape config with job name "a""#,
    );
    check_error("global:\n  scrape_protocols: []\n", "test.yml: scrape_protocols cannot be empty for global config");
    check_error(
        "scrape_configs:\n- job_name: a\n  http_headers:\n    user-agent: {values: [x]}\n",
        r#"test.yml:2:3: setting header "User-Agent" is not allowed"#,
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  no_proxy: localhost\n",
        "test.yml:2:3: if no_proxy is configured, proxy_url must also be configured",
    );
    check_error(
        "scrape_configs:\n- job_name: a\n  oauth2: {client_id: c, token_url: http://t}\n  basic_auth: {username: u}\n",
        "test.yml:2:3: at most one of basic_auth, oauth2 & authorization must be configured",
    );
}

#[test]
fn remote_and_observability_defaults_and_checks() {
    let config =
        load("remote_write:\n- url: http://rw\nremote_read:\n- url: http://rr\ntracing:\n  endpoint: otel:4317\n");
    assert!(!config.remote_write[0].enable_http2, "remote write disables HTTP/2 by default");
    assert_eq!(config.remote_write[0].metadata_config.max_samples_per_send, 2000);
    assert!(config.remote_read[0].enable_http2);
    assert_eq!(config.remote_read[0].chunked_read_limit, 50_000_000);
    assert_eq!(config.tracing.client_type, "grpc");
    assert!(config.otlp.label_name_underscore_sanitization);

    check_error(
        "remote_write:\n- url: http://a\n  headers: {Authorization: x}\n",
        "test.yml:2:3: authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter",
    );
    check_error(
        "remote_write:\n- url: http://a\n  sigv4: {region: x}\n",
        "test.yml:3:3: sigv4 authentication is not supported by Panoptes",
    );
    check_error("tracing:\n  client_type: grpc\n", "test.yml:2:3: tracing endpoint must be set");
    check_error(
        "tracing:\n  endpoint: x\n  client_type: udp\n",
        "test.yml:2:3: expected tracing client type to be to be http or grpc, but got udp",
    );
    check_error(
        "otlp:\n  translation_strategy: Shout\n",
        r#"test.yml:2:3: unsupported OTLP translation strategy "Shout""#,
    );
    check_error(
        "global:\n  metric_name_validation_scheme: legacy\notlp:\n  translation_strategy: NoTranslation\n",
        r#"test.yml: OTLP translation strategy "NoTranslation" is not allowed when UTF8 is disabled"#,
    );
    check_error(
        "otlp:\n  ignore_resource_attributes: [a]\n",
        "test.yml:2:3: 'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true",
    );
}

#[test]
fn load_file_resolves_relative_paths_against_the_file() {
    let dir = std::env::temp_dir().join(format!("panoptes-scrape-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("prometheus.yml");
    std::fs::write(
        &path,
        "rule_files: [rules/*.yml, /abs/r.yml]\nscrape_configs:\n- job_name: a\n  bearer_token_file: token\n  \
         tls_config: {ca_file: ca.crt}\n  file_sd_configs:\n  - files: [sd/*.json]\n",
    )
    .expect("write config");
    let config = load_file(&path);
    std::fs::remove_dir_all(&dir).ok();
    let config = config.expect("config loads");
    let under = |name: &str| dir.join(name).display().to_string();
    assert_eq!(config.rule_files, [under("rules/*.yml"), "/abs/r.yml".to_owned()]);
    let job = &config.scrape_configs[0];
    assert_eq!(job.bearer_token_file.as_deref(), Some(under("token").as_str()));
    assert_eq!(job.tls_config.ca_file.as_deref(), Some(under("ca.crt").as_str()));
    assert_eq!(job.file_sd_configs[0].files, [under("sd/*.json")]);
}

#[test]
fn config_maps_are_read_with_positions_in_the_manifest() {
    let path = testdata("eks-prometheus-configmap.yaml");
    let text = std::fs::read_to_string(&path).expect("configmap readable");
    let config = parse_config_map(&text, "cm.yaml").expect("configmap loads");
    assert_eq!(config.scrape_configs.len(), 7);

    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: p\ndata:\n  other.txt: x\n  prometheus.yml: |\n    global:\n      scrape_intervall: 1m\n";
    let error = parse_config_map(manifest, "cm.yaml").expect_err("misspelled key");
    assert_eq!(error.position(), Some(Position { line: 9, column: 7 }));
    assert!(
        error.to_string().starts_with(r#"cm.yaml (data["prometheus.yml"]):9:7: unknown field `scrape_intervall`"#),
        "{error}"
    );

    let error = parse_config_map("kind: Secret\ndata: {}\n", "s.yaml").expect_err("not a configmap");
    assert_eq!(error.to_string(), r#"s.yaml: expected kind ConfigMap, got "Secret""#);
    let error = parse_config_map("kind: ConfigMap\ndata: {a.txt: x}\n", "c.yaml").expect_err("no entry");
    assert_eq!(error.to_string(), "c.yaml: ConfigMap has no prometheus.yml data entry");
}

#[test]
fn prometheus_operator_section_keeps_nil_and_empty_selectors_apart() {
    let config = load(
        "prometheus_operator:\n  api_server: https://10.0.0.1:6443\n  serviceMonitorSelector:\n    matchLabels:\n      release: kps\n  serviceMonitorNamespaceSelector: {}\n  ruleSelector:\n    matchExpressions:\n    - key: release\n      operator: In\n      values: [kps]\n  podMonitorSelector:\n",
    );
    let section = config.prometheus_operator.expect("section");
    assert_eq!(section.api_server.as_deref(), Some("https://10.0.0.1:6443"));
    let selector = section.service_monitor_selector.expect("service monitor selector");
    assert_eq!(selector.match_labels.get("release").map(String::as_str), Some("kps"));
    assert!(section.service_monitor_namespace_selector.expect("empty, not nil").is_empty());
    assert_eq!(section.rule_selector.expect("rule selector").match_expressions[0].values, ["kps"]);
    // `podMonitorSelector:` with no value is nil: no PodMonitor is selected.
    assert!(section.pod_monitor_selector.is_none());
    assert!(section.probe_selector.is_none());
    assert!(load("global: {}\n").prometheus_operator.is_none());
}

#[test]
fn prometheus_operator_section_mistakes_name_the_field() {
    let error = |yaml: &str| match parse_str(yaml, "test.yml") {
        Ok(config) => panic!("config should be rejected, got {config:?}"),
        Err(error) => error.to_string(),
    };
    let message = error("prometheus_operator:\n  serviceMonitorSelectors: {}\n");
    assert!(message.starts_with("test.yml:2:") && message.contains("serviceMonitorSelectors"), "{message}");
    let message = error(
        "prometheus_operator:\n  ruleSelector:\n    matchExpressions:\n    - key: release\n      operator: Equals\n      values: [x]\n",
    );
    assert!(message.starts_with("test.yml:"), "{message}");
    assert!(
        message.contains("prometheus_operator.ruleSelector: matchExpressions[0]: unknown operator \"Equals\""),
        "{message}"
    );
    let message = error("prometheus_operator:\n  podMonitorSelector:\n    matchLabel: {app: x}\n");
    assert!(message.starts_with("test.yml:3:") && message.contains("matchLabel"), "{message}");
    let message = error("prometheus_operator:\n  api_server: https://a\n  kubeconfig_file: /k\n");
    assert!(
        message.contains("prometheus_operator: cannot use 'kubeconfig_file' and 'api_server' simultaneously"),
        "{message}"
    );
}
