//! Generated jobs compared with hand-written scrape configs, written as the operator's
//! generator writes them for the same objects.

use std::collections::BTreeMap;
use std::sync::Arc;

use panoptes_kube::k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use panoptes_kube::monitoring::{LabelSelector, PodMonitor, Probe, PrometheusRule, ServiceMonitor};
use serde_json::{Value, json};

use super::*;
use crate::config::{Config, OAuth2, Secret, parse_str};

/// The global section and operator connection every test shares.
const HEADER: &str = "global:\n  scrape_interval: 30s\nprometheus_operator:\n  api_server: https://10.0.0.1:6443\n  bearer_token_file: /var/run/token\n  serviceMonitorSelector: {}\n";

fn base() -> Config {
    parse_str(HEADER, "header").expect("header parses")
}

/// The context of `config` reading credentials from `objects`.
fn context<'a>(config: &'a Config, objects: &'a ReferencedObjects) -> GenerateContext<'a> {
    GenerateContext { config: config.prometheus_operator.as_ref().expect("section"), global: &config.global, objects }
}

/// Generates the jobs of `object` and compares them with `expected_jobs`, a YAML list of
/// scrape configs parsed with the same global section.
#[track_caller]
fn check(object: Value, expected_jobs: &str) -> ResourceReport {
    check_with(HEADER, &ReferencedObjects::new(), object, expected_jobs)
}

/// As [`check`], with another header (global and operator sections) and referenced objects.
#[track_caller]
fn check_with(header: &str, objects: &ReferencedObjects, object: Value, expected_jobs: &str) -> ResourceReport {
    let config = parse_str(header, "header").expect("header parses");
    let context = context(&config, objects);
    let (jobs, report) = match object["kind"].as_str() {
        Some("ServiceMonitor") => {
            service_monitor_jobs(&serde_json::from_value::<ServiceMonitor>(object).expect("object"), context)
        }
        Some("PodMonitor") => pod_monitor_jobs(&serde_json::from_value::<PodMonitor>(object).expect("object"), context),
        Some("Probe") => probe_jobs(&serde_json::from_value::<Probe>(object).expect("object"), context),
        other => panic!("unexpected kind {other:?}"),
    };
    let expected =
        parse_str(&format!("{header}scrape_configs:\n{expected_jobs}"), "expected").expect("expected parses");
    assert_eq!(jobs.len(), expected.scrape_configs.len(), "{report:?}");
    for (job, expected) in jobs.iter().zip(&expected.scrape_configs) {
        assert_eq!(job, expected, "job {}", expected.job_name);
    }
    report
}

#[test]
fn kube_prometheus_stack_service_monitor_becomes_the_operators_job() {
    // As kube-prometheus-stack ships for its Grafana: selected by app.kubernetes.io/name, a
    // named port, an interval and a relabeling.
    let report = check(
        json!({
            "kind": "ServiceMonitor",
            "metadata": {"name": "grafana", "namespace": "monitoring", "resourceVersion": "7"},
            "spec": {
                "selector": {"matchLabels": {"app.kubernetes.io/name": "grafana", "app.kubernetes.io/instance": "kps"}},
                "namespaceSelector": {"matchNames": ["monitoring"]},
                "endpoints": [{
                    "port": "http-web",
                    "path": "/metrics",
                    "interval": "15s",
                    "scrapeTimeout": "5s",
                    "honorLabels": true,
                    "relabelings": [{"action": "Replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "nodename"}],
                    "metricRelabelings": [{"action": "drop", "sourceLabels": ["__name__"], "regex": "go_.*"}]
                }]
            }
        }),
        r#"- job_name: serviceMonitor/monitoring/grafana/0
  honor_labels: true
  kubernetes_sd_configs:
  - role: endpoints
    api_server: https://10.0.0.1:6443
    bearer_token_file: /var/run/token
    namespaces:
      names: [monitoring]
  scrape_interval: 15s
  scrape_timeout: 5s
  metrics_path: /metrics
  relabel_configs:
  - source_labels: [job]
    target_label: __tmp_prometheus_job_name
  - action: keep
    source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_instance, __meta_kubernetes_service_labelpresent_app_kubernetes_io_instance]
    regex: (kps);true
  - action: keep
    source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_name, __meta_kubernetes_service_labelpresent_app_kubernetes_io_name]
    regex: (grafana);true
  - action: keep
    source_labels: [__meta_kubernetes_endpoint_port_name]
    regex: http-web
  - source_labels: [__meta_kubernetes_endpoint_address_target_kind, __meta_kubernetes_endpoint_address_target_name]
    separator: ;
    regex: Node;(.*)
    replacement: ${1}
    target_label: node
  - source_labels: [__meta_kubernetes_endpoint_address_target_kind, __meta_kubernetes_endpoint_address_target_name]
    separator: ;
    regex: Pod;(.*)
    replacement: ${1}
    target_label: pod
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_service_name]
    target_label: service
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
  - source_labels: [__meta_kubernetes_pod_container_name]
    target_label: container
  - action: drop
    source_labels: [__meta_kubernetes_pod_phase]
    regex: (Failed|Succeeded)
  - source_labels: [__meta_kubernetes_service_name]
    target_label: job
    replacement: ${1}
  - target_label: endpoint
    replacement: http-web
  - action: replace
    source_labels: [__meta_kubernetes_pod_node_name]
    target_label: nodename
  metric_relabel_configs:
  - action: drop
    source_labels: [__name__]
    regex: go_.*
"#,
    );
    assert_eq!(report.state, ResourceState::Active, "{report:?}");
    assert_eq!(report.generated, ["serviceMonitor/monitoring/grafana/0"]);
}

#[test]
fn match_expressions_target_port_job_label_and_target_labels() {
    let report = check(
        json!({
            "kind": "ServiceMonitor",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "selector": {"matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["api", "web"]},
                    {"key": "canary", "operator": "DoesNotExist"}
                ]},
                "namespaceSelector": {"any": true},
                "jobLabel": "app.kubernetes.io/name",
                "targetLabels": ["team"],
                "podTargetLabels": ["version"],
                "sampleLimit": 5000,
                "endpoints": [{"targetPort": 8080, "scheme": "HTTPS", "tlsConfig": {"insecureSkipVerify": true}, "filterRunning": false}]
            }
        }),
        r#"- job_name: serviceMonitor/shop/api/0
  honor_labels: false
  scheme: https
  tls_config:
    insecure_skip_verify: true
  sample_limit: 5000
  kubernetes_sd_configs:
  - role: endpoints
    api_server: https://10.0.0.1:6443
    bearer_token_file: /var/run/token
  relabel_configs:
  - source_labels: [job]
    target_label: __tmp_prometheus_job_name
  - action: keep
    source_labels: [__meta_kubernetes_service_label_tier, __meta_kubernetes_service_labelpresent_tier]
    regex: (api|web);true
  - action: drop
    source_labels: [__meta_kubernetes_service_labelpresent_canary]
    regex: "true"
  - action: keep
    source_labels: [__meta_kubernetes_pod_container_port_number]
    regex: "8080"
  - source_labels: [__meta_kubernetes_endpoint_address_target_kind, __meta_kubernetes_endpoint_address_target_name]
    separator: ;
    regex: Node;(.*)
    replacement: ${1}
    target_label: node
  - source_labels: [__meta_kubernetes_endpoint_address_target_kind, __meta_kubernetes_endpoint_address_target_name]
    separator: ;
    regex: Pod;(.*)
    replacement: ${1}
    target_label: pod
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_service_name]
    target_label: service
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
  - source_labels: [__meta_kubernetes_pod_container_name]
    target_label: container
  - source_labels: [__meta_kubernetes_service_label_team]
    regex: (.+)
    target_label: team
    replacement: ${1}
  - source_labels: [__meta_kubernetes_pod_label_version]
    regex: (.+)
    target_label: version
    replacement: ${1}
  - source_labels: [__meta_kubernetes_service_name]
    target_label: job
    replacement: ${1}
  - source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_name]
    regex: (.+)
    target_label: job
    replacement: ${1}
  - target_label: endpoint
    replacement: "8080"
"#,
    );
    assert_eq!(report.state, ResourceState::Active, "{report:?}");
}

#[test]
fn pod_monitor_uses_the_pod_role_and_a_namespaced_job() {
    check(
        json!({
            "kind": "PodMonitor",
            "metadata": {"name": "envoy-stats", "namespace": "istio-system"},
            "spec": {
                "selector": {"matchLabels": {"security.istio.io/tlsMode": "istio"}},
                "namespaceSelector": {"any": true},
                "podMetricsEndpoints": [{"port": "http-envoy-prom", "path": "/stats/prometheus", "honorTimestamps": false}]
            }
        }),
        r#"- job_name: podMonitor/istio-system/envoy-stats/0
  honor_labels: false
  honor_timestamps: false
  metrics_path: /stats/prometheus
  kubernetes_sd_configs:
  - role: pod
    api_server: https://10.0.0.1:6443
    bearer_token_file: /var/run/token
  relabel_configs:
  - source_labels: [job]
    target_label: __tmp_prometheus_job_name
  - action: keep
    source_labels: [__meta_kubernetes_pod_label_security_istio_io_tlsMode, __meta_kubernetes_pod_labelpresent_security_istio_io_tlsMode]
    regex: (istio);true
  - action: keep
    source_labels: [__meta_kubernetes_pod_container_port_name]
    regex: http-envoy-prom
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_pod_container_name]
    target_label: container
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
  - action: drop
    source_labels: [__meta_kubernetes_pod_phase]
    regex: (Failed|Succeeded)
  - target_label: job
    replacement: istio-system/envoy-stats
  - target_label: endpoint
    replacement: http-envoy-prom
"#,
    );
}

#[test]
fn missing_secrets_and_oauth2_refuse_the_endpoint_and_keep_the_others() {
    let monitor = json!({
        "kind": "ServiceMonitor",
        "metadata": {"name": "etcd", "namespace": "kube-system"},
        "spec": {
            "selector": {},
            "scrapeClass": "tls",
            "endpoints": [
                {"port": "metrics", "basicAuth": {"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "pass"}}},
                {"port": "web", "tlsConfig": {"ca": {"configMap": {"name": "ca", "key": "ca.crt"}}}},
                {"port": "oauth", "oauth2": {"clientId": {"secret": {"name": "o", "key": "id"}}, "tokenUrl": "https://t"}},
                {"port": "token", "bearerTokenSecret": {"name": "creds", "key": "token"}},
                {"port": "plain"}
            ]
        }
    });
    let config = base();
    // The Secret exists but lacks two keys; the ConfigMap does not exist.
    let mut objects = ReferencedObjects::new();
    objects.add_secret(&kube_secret("kube-system", "creds", &[("user", "u")]));
    let context = context(&config, &objects);
    let (jobs, report) = service_monitor_jobs(&serde_json::from_value(monitor).expect("object"), context);
    assert_eq!(jobs.iter().map(|job| job.job_name.as_str()).collect::<Vec<_>>(), ["serviceMonitor/kube-system/etcd/4"]);
    assert_eq!(report.state, ResourceState::Degraded);
    assert_eq!(
        report.errors,
        [
            r#"spec.endpoints[0]: basicAuth.password: key "pass" not found in secret kube-system/creds"#,
            "spec.endpoints[1]: tlsConfig.ca: configmap kube-system/ca not found",
            "spec.endpoints[2]: oauth2.clientId: secret kube-system/o not found",
            r#"spec.endpoints[3]: bearerTokenSecret: key "token" not found in secret kube-system/creds"#,
        ]
    );
    assert_eq!(report.unsupported_fields, ["spec.scrapeClass"], "oauth2 is honoured, not ignored");
}

#[test]
fn oauth2_client_credentials_come_from_secrets_and_config_maps() {
    let oauth2 = |extra: serde_json::Value| {
        let mut oauth2 = json!({
            "clientId": {"configMap": {"name": "oauth", "key": "id"}},
            "clientSecret": {"name": "oauth", "key": "secret"},
            "tokenUrl": "https://idp.example/token",
            "scopes": ["metrics"],
            "endpointParams": {"audience": "scrapers"}
        });
        for (key, value) in extra.as_object().expect("object") {
            oauth2[key] = value.clone();
        }
        oauth2
    };
    let monitor = json!({
        "kind": "ServiceMonitor",
        "metadata": {"name": "api", "namespace": "shop"},
        "spec": {
            "selector": {},
            "endpoints": [
                {"port": "metrics", "oauth2": oauth2(json!({}))},
                {"port": "web", "oauth2": oauth2(json!({"tlsConfig": {"insecureSkipVerify": true}}))},
                {"port": "other", "oauth2": oauth2(json!({"clientSecret": {"name": "oauth", "key": "missing"}}))}
            ]
        }
    });
    let monitor: ServiceMonitor = serde_json::from_value(monitor).expect("object");
    let references = oauth2_references(&monitor.spec().expect("spec").endpoints[0].unsupported);
    let references: Vec<_> = references.iter().map(|r| format!("{:?} {}/{}", r.kind, r.name, r.key)).collect();
    assert_eq!(references, ["ConfigMap oauth/id", "Secret oauth/secret"]);

    let config = base();
    let mut objects = ReferencedObjects::new();
    objects.add_secret(&kube_secret("shop", "oauth", &[("secret", "s3cret")]));
    objects.add_config_map(&ConfigMap {
        metadata: ObjectMeta { namespace: Some("shop".into()), name: Some("oauth".into()), ..ObjectMeta::default() },
        data: Some([("id".to_owned(), "panoptes".to_owned())].into()),
        ..ConfigMap::default()
    });
    let (jobs, report) = service_monitor_jobs(&monitor, context(&config, &objects));
    assert_eq!(jobs.len(), 1);
    let expected = OAuth2 {
        client_id: "panoptes".into(),
        client_secret: Some(Secret::new("s3cret")),
        scopes: vec!["metrics".into()],
        token_url: "https://idp.example/token".into(),
        endpoint_params: [("audience".to_owned(), "scrapers".to_owned())].into(),
        ..OAuth2::default()
    };
    assert_eq!(jobs[0].oauth2.as_ref(), Some(&expected));
    assert_eq!(
        report.errors,
        [
            "spec.endpoints[1]: oauth2.tlsConfig is not supported; not scraped without it",
            r#"spec.endpoints[2]: oauth2.clientSecret: key "missing" not found in secret shop/oauth"#,
        ]
    );
    assert!(report.unsupported_fields.is_empty(), "{report:?}");
    assert!(!format!("{report:?}{:?}", jobs[0]).contains("s3cret"), "the secret is never printed");
}

/// A Secret of `namespace/name` with text values.
fn kube_secret(
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
) -> panoptes_kube::k8s_openapi::api::core::v1::Secret {
    let mut secret = panoptes_kube::k8s_openapi::api::core::v1::Secret::default();
    secret.metadata.namespace = Some(namespace.to_owned());
    secret.metadata.name = Some(name.to_owned());
    secret.data = Some(
        data.iter()
            .map(|(key, value)| ((*key).to_owned(), panoptes_kube::k8s_openapi::ByteString(value.as_bytes().to_vec())))
            .collect(),
    );
    secret
}

/// A ConfigMap of `namespace/name`.
fn kube_config_map(
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
) -> panoptes_kube::k8s_openapi::api::core::v1::ConfigMap {
    let mut config_map = panoptes_kube::k8s_openapi::api::core::v1::ConfigMap::default();
    config_map.metadata.namespace = Some(namespace.to_owned());
    config_map.metadata.name = Some(name.to_owned());
    config_map.data = Some(data.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect());
    config_map
}

/// The relabelling the operator generates for a ServiceMonitor endpoint with port `web` and
/// an empty selector, on the `endpoints` or `endpointslice` role (`meta`).
fn web_endpoint_relabels(meta: &str, service: &str) -> String {
    format!(
        r#"  relabel_configs:
  - source_labels: [job]
    target_label: __tmp_prometheus_job_name
  - action: keep
    source_labels: [__meta_kubernetes_{meta}_port_name]
    regex: web
  - source_labels: [__meta_kubernetes_{meta}_address_target_kind, __meta_kubernetes_{meta}_address_target_name]
    separator: ;
    regex: Node;(.*)
    replacement: ${{1}}
    target_label: node
  - source_labels: [__meta_kubernetes_{meta}_address_target_kind, __meta_kubernetes_{meta}_address_target_name]
    separator: ;
    regex: Pod;(.*)
    replacement: ${{1}}
    target_label: pod
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_service_name]
    target_label: service
  - source_labels: [__meta_kubernetes_pod_name]
    target_label: pod
  - source_labels: [__meta_kubernetes_pod_container_name]
    target_label: container
  - action: drop
    source_labels: [__meta_kubernetes_pod_phase]
    regex: (Failed|Succeeded)
  - source_labels: [__meta_kubernetes_service_name]
    target_label: job
    replacement: ${{1}}
  - target_label: endpoint
    replacement: web
{service}"#
    )
}

#[test]
fn credentials_and_tls_material_from_secrets_and_config_maps_reach_the_job() {
    let mut objects = ReferencedObjects::new();
    objects.add_secret(&kube_secret(
        "shop",
        "creds",
        &[("user", "admin"), ("pass", "hunter2"), ("token", "t0k3n"), ("tls.crt", "CERT-PEM"), ("tls.key", "KEY-PEM")],
    ));
    objects.add_config_map(&kube_config_map("shop", "bundle", &[("ca.crt", "CA-PEM")]));
    // Same names in another namespace are not read.
    objects.add_secret(&kube_secret("other", "creds", &[("user", "intruder"), ("pass", "x")]));
    let report = check_with(
        HEADER,
        &objects,
        json!({
            "kind": "ServiceMonitor",
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {
                "selector": {},
                "endpoints": [
                    {"port": "web", "scheme": "https",
                     "basicAuth": {"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "pass"}},
                     "tlsConfig": {"ca": {"configMap": {"name": "bundle", "key": "ca.crt"}},
                                   "cert": {"secret": {"name": "creds", "key": "tls.crt"}},
                                   "keySecret": {"name": "creds", "key": "tls.key"},
                                   "serverName": "cart.shop.svc"}},
                    {"port": "web", "authorization": {"type": "Token", "credentials": {"name": "creds", "key": "token"}},
                     "bearerTokenSecret": {"key": ""}},
                    {"port": "web", "bearerTokenSecret": {"name": "creds", "key": "token"}}
                ]
            }
        }),
        &[
            format!(
                "- job_name: serviceMonitor/shop/cart/0\n  honor_labels: false\n  scheme: https\n  kubernetes_sd_configs:\n  - role: endpoints\n    api_server: https://10.0.0.1:6443\n    bearer_token_file: /var/run/token\n    namespaces:\n      names: [shop]\n{}",
                web_endpoint_relabels(
                    "endpoint",
                    "  basic_auth:\n    username: admin\n    password: hunter2\n  tls_config:\n    ca: CA-PEM\n    cert: CERT-PEM\n    key: KEY-PEM\n    server_name: cart.shop.svc\n"
                )
            ),
            format!(
                "- job_name: serviceMonitor/shop/cart/1\n  honor_labels: false\n  kubernetes_sd_configs:\n  - role: endpoints\n    api_server: https://10.0.0.1:6443\n    bearer_token_file: /var/run/token\n    namespaces:\n      names: [shop]\n{}",
                web_endpoint_relabels("endpoint", "  authorization:\n    type: Token\n    credentials: t0k3n\n")
            ),
            format!(
                "- job_name: serviceMonitor/shop/cart/2\n  honor_labels: false\n  kubernetes_sd_configs:\n  - role: endpoints\n    api_server: https://10.0.0.1:6443\n    bearer_token_file: /var/run/token\n    namespaces:\n      names: [shop]\n{}",
                web_endpoint_relabels("endpoint", "  bearer_token: t0k3n\n")
            ),
        ]
        .concat(),
    );
    assert_eq!(report.state, ResourceState::Active, "{report:?}");
    // The report never carries a value.
    let text = format!("{report:?}");
    assert!(!text.contains("hunter2") && !text.contains("t0k3n"), "{text}");
}

#[test]
fn endpoint_slice_role_uses_the_endpointslice_labels() {
    let header = format!("{HEADER}  serviceDiscoveryRole: EndpointSlice\n");
    let monitor = |kind: &str| {
        json!({
            "kind": kind,
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": {}, "endpoints": [{"port": "web"}], "podMetricsEndpoints": [{"port": "web"}]}
        })
    };
    check_with(
        &header,
        &ReferencedObjects::new(),
        monitor("ServiceMonitor"),
        &format!(
            "- job_name: serviceMonitor/shop/web/0\n  honor_labels: false\n  kubernetes_sd_configs:\n  - role: endpointslice\n    api_server: https://10.0.0.1:6443\n    bearer_token_file: /var/run/token\n    namespaces:\n      names: [shop]\n{}",
            web_endpoint_relabels("endpointslice", "")
        ),
    );
    // PodMonitors keep the pod role.
    let config = parse_str(&header, "header").expect("header");
    let objects = ReferencedObjects::new();
    let pod_monitor: PodMonitor = serde_json::from_value(monitor("PodMonitor")).expect("object");
    let (jobs, _) = pod_monitor_jobs(&pod_monitor, context(&config, &objects));
    assert_eq!(jobs[0].kubernetes_sd_configs[0].role, Some(KubernetesRole::Pod));
    // Anything else is refused where the section is read.
    let error = parse_str(&format!("{HEADER}  serviceDiscoveryRole: Pods\n"), "test.yml").expect_err("unknown role");
    assert_eq!(error.to_string(), "test.yml:7:25: unknown variant `Pods`, expected one of Endpoints, EndpointSlice");
}

#[test]
fn invalid_objects_are_rejected_with_the_reason() {
    let config = base();
    let objects = ReferencedObjects::new();
    let context = context(&config, &objects);
    let reject = |spec: Value| {
        let monitor =
            serde_json::from_value(json!({"metadata": {"name": "m", "namespace": "n"}, "spec": spec})).unwrap();
        let (jobs, report) = service_monitor_jobs(&monitor, context);
        assert!(jobs.is_empty());
        assert_eq!(report.state, ResourceState::Rejected, "{report:?}");
        report.errors.join("; ")
    };
    assert!(reject(json!({"endpoints": [{"port": "a", "interval": "often"}]})).contains("spec.endpoints[0]"));
    assert!(
        reject(json!({"endpoints": [{"port": "a", "interval": "10s", "scrapeTimeout": "20s"}]}))
            .contains("scrape timeout greater")
    );
    assert!(
        reject(json!({"endpoints": [{"port": "a", "relabelings": [{"action": "keep", "regex": "("}]}]}))
            .contains("spec.endpoints[0]")
    );
    assert!(
        reject(
            json!({"selector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}, "endpoints": [{"port": "a"}]})
        )
        .contains("spec.selector")
    );
    assert!(reject(json!({"endpoints": {"port": "a"}})).contains("invalid spec"));
}

#[test]
fn selection_follows_the_operator_nil_and_empty_rules() {
    let namespace = |name: &str, labels: &[(&str, &str)]| {
        let mut object = Namespace::default();
        object.metadata.name = Some(name.to_owned());
        object.metadata.labels = Some(labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        Arc::new(object)
    };
    let namespaces = [namespace("monitoring", &[("team", "infra")]), namespace("shop", &[])];
    let selector = |value: Value| serde_json::from_value::<LabelSelector>(value).unwrap();
    let release: BTreeMap<String, String> = [("release".to_owned(), "kps".to_owned())].into();
    let selected =
        |labels: &BTreeMap<String, String>, ns: &str, sel: Option<&LabelSelector>, ns_sel: Option<&LabelSelector>| {
            is_selected(labels, ns, sel, ns_sel, "monitoring", &namespaces)
        };
    let empty = selector(json!({}));
    let by_release = selector(json!({"matchLabels": {"release": "kps"}}));
    let infra = selector(json!({"matchLabels": {"team": "infra"}}));
    // A nil selector selects nothing; an empty one everything.
    assert!(!selected(&release, "monitoring", None, Some(&empty)));
    assert!(selected(&BTreeMap::new(), "shop", Some(&empty), Some(&empty)));
    assert!(selected(&release, "shop", Some(&by_release), Some(&empty)));
    assert!(!selected(&BTreeMap::new(), "shop", Some(&by_release), Some(&empty)));
    // A nil namespace selector means Panoptes' own namespace only.
    assert!(selected(&release, "monitoring", Some(&by_release), None));
    assert!(!selected(&release, "shop", Some(&by_release), None));
    // Otherwise the namespace's labels decide.
    assert!(selected(&release, "monitoring", Some(&by_release), Some(&infra)));
    assert!(!selected(&release, "shop", Some(&by_release), Some(&infra)));
}

#[test]
fn prometheus_rule_groups_become_a_rule_file() {
    let rule: PrometheusRule = serde_json::from_value(json!({
        "metadata": {"name": "r", "namespace": "n"},
        "spec": {"groups": [{"name": "g", "partial_response_strategy": "warn", "rules": [
            {"record": "one", "expr": 1},
            {"alert": "Down", "expr": "up == 0", "for": "5m", "labels": {"severity": "page"}}
        ]}]}
    }))
    .unwrap();
    let (text, unsupported) = rule_file_text(&rule).expect("rule file");
    assert_eq!(unsupported, ["spec.groups[0].partial_response_strategy"]);
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        file,
        json!({"groups": [{"name": "g", "rules": [
            {"record": "one", "expr": "1"},
            {"alert": "Down", "expr": "up == 0", "for": "5m", "labels": {"severity": "page"}}
        ]}]})
    );
    let bad: PrometheusRule =
        serde_json::from_value(json!({"metadata": {"name": "r"}, "spec": {"groups": "x"}})).unwrap();
    assert!(rule_file_text(&bad).expect_err("not a list").contains("spec.groups"));
}

#[test]
fn probe_with_static_targets_goes_through_the_prober() {
    let report = check(
        json!({
            "kind": "Probe",
            "metadata": {"name": "websites", "namespace": "monitoring"},
            "spec": {
                "jobName": "blackbox",
                "module": "http_2xx",
                "interval": "60s",
                "prober": {"url": "blackbox-exporter.monitoring:19115"},
                "targets": {"staticConfig": {
                    "static": ["https://example.com", "https://example.org"],
                    "labels": {"env": "prod"},
                    "relabelingConfigs": [{"targetLabel": "team", "replacement": "web"}]
                }}
            }
        }),
        r#"- job_name: probe/monitoring/websites
  honor_timestamps: true
  metrics_path: /probe
  scheme: http
  scrape_interval: 60s
  params:
    module: [http_2xx]
  static_configs:
  - targets: [https://example.com, https://example.org]
    labels:
      env: prod
      namespace: monitoring
  relabel_configs:
  - source_labels: [job]
    target_label: __tmp_prometheus_job_name
  - target_label: job
    replacement: blackbox
  - source_labels: [__address__]
    target_label: __param_target
  - source_labels: [__param_target]
    target_label: instance
  - target_label: __address__
    replacement: blackbox-exporter.monitoring:19115
  - target_label: team
    replacement: web
"#,
    );
    assert_eq!(report.state, ResourceState::Active, "{report:?}");
    // A Probe without targets or prober, or with missing credentials, is refused.
    let config = base();
    let objects = ReferencedObjects::new();
    let context = context(&config, &objects);
    let probe = |spec: Value| -> Probe {
        serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "n"}, "spec": spec})).unwrap()
    };
    let (jobs, report) = probe_jobs(&probe(json!({"prober": {"url": "b:9115"}, "targets": {}})), context);
    assert!(jobs.is_empty());
    assert_eq!(report.errors, ["spec.targets needs staticConfig or ingress; no job generated"]);
    let (jobs, report) = probe_jobs(
        &probe(json!({"prober": {"url": "b:9115"}, "basicAuth": {}, "targets": {"staticConfig": {"static": ["x"]}}})),
        context,
    );
    assert!(jobs.is_empty());
    assert_eq!(report.errors, ["spec.basicAuth.username must name a Secret key"]);
    let (_, report) = probe_jobs(
        &probe(json!({"prober": {"url": "b:9115"}, "oauth2": {}, "targets": {"staticConfig": {"static": ["x"]}}})),
        context,
    );
    assert_eq!(report.state, ResourceState::Rejected);
    assert_eq!(report.errors, ["spec.oauth2.tokenUrl must be set"]);
    let (_, report) = probe_jobs(&probe(json!({"targets": {"staticConfig": {"static": ["x"]}}})), context);
    assert_eq!(report.errors, ["spec.prober.url is required"]);
}

#[test]
fn probe_of_ingresses_discovers_them_and_sends_their_urls_to_the_prober() {
    let mut objects = ReferencedObjects::new();
    objects.add_secret(&kube_secret("monitoring", "prober", &[("token", "s3cret")]));
    objects.add_config_map(&kube_config_map("monitoring", "prober-ca", &[("ca.crt", "CA-PEM")]));
    let report = check_with(
        HEADER,
        &objects,
        json!({
            "kind": "Probe",
            "metadata": {"name": "ingresses", "namespace": "monitoring"},
            "spec": {
                "module": "http_2xx",
                "prober": {"url": "blackbox:9115", "scheme": "https"},
                "authorization": {"credentials": {"name": "prober", "key": "token"}},
                "tlsConfig": {"ca": {"configMap": {"name": "prober-ca", "key": "ca.crt"}}},
                "targets": {"ingress": {
                    "selector": {"matchLabels": {"probe": "yes"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["internal"]}]},
                    "namespaceSelector": {"matchNames": ["shop", "blog"]},
                    "relabelingConfigs": [{"sourceLabels": ["__meta_kubernetes_ingress_label_team"], "targetLabel": "team"}]
                }}
            }
        }),
        r#"- job_name: probe/monitoring/ingresses
  honor_timestamps: true
  metrics_path: /probe
  scheme: https
  params:
    module: [http_2xx]
  authorization:
    credentials: s3cret
  tls_config:
    ca: CA-PEM
  kubernetes_sd_configs:
  - role: ingress
    api_server: https://10.0.0.1:6443
    bearer_token_file: /var/run/token
    namespaces:
      names: [blog, shop]
  relabel_configs:
  - source_labels: [job]
    target_label: __tmp_prometheus_job_name
  - action: keep
    source_labels: [__meta_kubernetes_ingress_label_probe, __meta_kubernetes_ingress_labelpresent_probe]
    regex: (yes);true
  - action: drop
    source_labels: [__meta_kubernetes_ingress_label_tier, __meta_kubernetes_ingress_labelpresent_tier]
    regex: (internal);true
  - source_labels: [__meta_kubernetes_ingress_scheme, __address__, __meta_kubernetes_ingress_path]
    separator: ;
    regex: (.+);(.+);(.+)
    target_label: __param_target
    replacement: ${1}://${2}${3}
    action: replace
  - source_labels: [__meta_kubernetes_namespace]
    target_label: namespace
  - source_labels: [__meta_kubernetes_ingress_name]
    target_label: ingress
  - source_labels: [__address__]
    separator: ;
    regex: (.*)
    target_label: __tmp_ingress_address
    replacement: $1
    action: replace
  - source_labels: [__param_target]
    target_label: instance
  - target_label: __address__
    replacement: blackbox:9115
  - source_labels: [__meta_kubernetes_ingress_label_team]
    target_label: team
"#,
    );
    assert_eq!(report.state, ResourceState::Active, "{report:?}");
}
