//! prometheus-operator resources end to end: `panoptes server` with a `prometheus_operator`
//! section pointed at the fake API server of `panoptes-test-util`, which serves the
//! `monitoring.coreos.com/v1` resources with the real list/watch protocol (no real API server
//! can run on the build machines) next to the Bookinfo objects. ServiceMonitors must become
//! targets with the labels the operator's jobs give, PrometheusRules rule groups, and every
//! change must reach the running server within seconds, without a restart.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use panoptes_test_util::fake_kube::FakeApiServer;
use panoptes_test_util::fake_kube::bookinfo::Bookinfo;
use serde_json::{Value, json};

use crate::common::{active, get_data, start_server, wait_ready};

const JOB: &str = "serviceMonitor/default/productpage/0";
const PROBE: &str = "probe/default/websites";

fn config(api_server: &str) -> String {
    format!(
        r#"
global:
  scrape_interval: 1m
prometheus_operator:
  api_server: {api_server}
  serviceMonitorSelector:
    matchLabels:
      release: panoptes
  serviceMonitorNamespaceSelector: {{}}
  ruleSelector:
    matchExpressions:
    - key: release
      operator: In
      values: [panoptes]
  ruleNamespaceSelector: {{}}
  probeSelector: {{}}
  probeNamespaceSelector: {{}}
"#
    )
}

fn service_monitor(name: &str, release: Option<&str>, spec: Value) -> Value {
    let mut labels = json!({});
    if let Some(release) = release {
        labels["release"] = json!(release);
    }
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": spec,
    })
}

fn prometheus_rule(name: &str, release: &str, groups: Value) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": "default", "labels": {"release": release}},
        "spec": {"groups": groups},
    })
}

fn pools(targets: &Value) -> Vec<String> {
    let mut pools: Vec<String> = targets["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .filter_map(|target| target["scrapePool"].as_str().map(str::to_owned))
        .filter(|pool| pool != "pushgateway")
        .collect();
    pools.sort();
    pools.dedup();
    pools
}

fn rule_groups(rules: &Value) -> Vec<String> {
    let mut names: Vec<String> = rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|group| group["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// Polls `url` until `done` holds for its data, failing after 10 s with the server log.
async fn wait_for(
    client: &reqwest::Client,
    url: &str,
    log: &std::path::Path,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = get_data(client, url).await;
        if done(&data) {
            return data;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {:.2000}\n{}",
            data.to_string(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_monitors_and_prometheus_rules_follow_the_cluster() {
    let fake = FakeApiServer::start().await;
    let bookinfo = Bookinfo::load(&fake);
    let productpage_spec = json!({
        "selector": {"matchLabels": {"app": "productpage"}},
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
    });
    fake.apply(service_monitor("productpage", Some("panoptes"), productpage_spec.clone()));
    // Outside the selector: another release.
    fake.apply(service_monitor(
        "details",
        Some("other"),
        json!({"selector": {"matchLabels": {"app": "details"}}, "endpoints": [{"port": "http"}]}),
    ));
    // Selected, with a field Panoptes does not honour and one endpoint needing a Secret that
    // does not exist.
    fake.apply(service_monitor(
        "reviews",
        Some("panoptes"),
        json!({
            "selector": {"matchLabels": {"app": "reviews"}},
            "scrapeClass": "istio-mtls",
            "endpoints": [
                {"port": "http", "basicAuth": {"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "password"}}},
                {"port": "http", "path": "/stats"}
            ],
        }),
    ));
    let alert_group = json!([{"name": "bookinfo.alerts", "rules": [
        {"alert": "ProductpageDown", "expr": "up{service=\"productpage\"} == 0", "for": "5m", "labels": {"severity": "page"}}
    ]}]);
    fake.apply(prometheus_rule("bookinfo", "panoptes", alert_group));
    fake.apply(prometheus_rule(
        "ignored",
        "other",
        json!([{"name": "other.rules", "rules": [{"record": "x", "expr": "vector(1)"}]}]),
    ));
    fake.apply(prometheus_rule(
        "broken",
        "panoptes",
        json!([{"name": "broken.rules", "rules": [{"record": "bad", "expr": "sum(("}]}]),
    ));

    fake.apply(json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Probe",
        "metadata": {"name": "websites", "namespace": "default"},
        "spec": {
            "module": "http_2xx",
            "prober": {"url": "127.0.0.1:9"},
            "targets": {"staticConfig": {"static": ["https://example.com"], "labels": {"env": "prod"}}}
        }
    }));

    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config(&fake.url())).unwrap();
    let log = dir.path().join("server.log");
    let config_flag = format!("--config.file={}", config_path.display());
    let (mut child, address) = start_server(&dir.path().join("data"), &[&config_flag, "--web.enable-lifecycle"], &log);
    let client = reqwest::Client::new();
    wait_ready(&client, address, &mut child, &log).await;
    let targets_url = format!("http://{address}/api/v1/targets");
    let rules_url = format!("http://{address}/api/v1/rules");
    let resources_url = format!("http://{address}/api/v1/operator/resources");

    let targets = wait_for(&client, &targets_url, &log, "service monitor targets", |targets| {
        active(targets, JOB).len() == 1 && active(targets, "serviceMonitor/default/reviews/1").len() == 3
    })
    .await;
    let pod_name = bookinfo.pods_of(&fake, "productpage-v1").remove(0);
    let pod = fake.get("Pod", "default", &pod_name).expect("productpage pod");
    let instance = format!("{}:9080", pod["status"]["podIP"].as_str().unwrap());
    let expected_labels = |extra: &[(&str, &str)]| {
        let mut labels: BTreeMap<String, String> = [
            ("container", "productpage"),
            ("endpoint", "http"),
            ("instance", instance.as_str()),
            ("job", "productpage"),
            ("namespace", "default"),
            ("pod", pod_name.as_str()),
            ("service", "productpage"),
        ]
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
        labels.extend(extra.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
        labels
    };
    assert_eq!(active(&targets, JOB), [(expected_labels(&[]), format!("http://{instance}/metrics"))]);
    // Outside the selector: no job. The endpoint of `reviews` whose Secret is missing is
    // refused, not scraped.
    assert_eq!(pools(&targets), [PROBE, JOB, "serviceMonitor/default/reviews/1"]);
    // The Probe's static target goes through the prober, as the operator's job does it.
    let probe = active(&targets, PROBE);
    let probe_labels: BTreeMap<String, String> =
        [("env", "prod"), ("instance", "https://example.com"), ("job", PROBE), ("namespace", "default")]
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
    assert_eq!(probe.len(), 1);
    assert_eq!(probe[0].0, probe_labels);
    assert!(probe[0].1.starts_with("http://127.0.0.1:9/probe?"), "{}", probe[0].1);
    assert!(probe[0].1.contains("module=http_2xx") && probe[0].1.contains("target=https"), "{}", probe[0].1);
    let scrape_interval = targets["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|target| target["scrapePool"] == JOB)
        .map(|target| target["scrapeInterval"].clone());
    assert_eq!(scrape_interval, Some(json!("30s")));

    // The selected, valid PrometheusRule is loaded; the broken one is reported and does not
    // keep it out; the unselected one is ignored.
    let rules = wait_for(&client, &rules_url, &log, "rule groups", |rules| !rule_groups(rules).is_empty()).await;
    assert_eq!(rule_groups(&rules), ["bookinfo.alerts"]);
    let group = &rules["groups"][0];
    assert!(group["file"].as_str().unwrap().contains("/operator-rules/default-bookinfo-"), "{group}");
    assert_eq!(group["rules"][0]["name"], "ProductpageDown");

    let resources = get_data(&client, &resources_url).await;
    let report = |kind: &str, name: &str| {
        resources["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|report| report["kind"] == kind && report["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no report for {kind} {name}: {resources}"))
    };
    assert_eq!(report("ServiceMonitor", "productpage")["state"], "active");
    let reviews = report("ServiceMonitor", "reviews");
    assert_eq!(reviews["state"], "degraded", "{reviews}");
    assert_eq!(reviews["generated"], json!(["serviceMonitor/default/reviews/1"]));
    assert_eq!(reviews["unsupportedFields"], json!(["spec.scrapeClass"]));
    assert_eq!(
        reviews["errors"],
        json!(["spec.endpoints[0]: basicAuth.username: secret default/creds not found"]),
        "{reviews}"
    );
    let broken = report("PrometheusRule", "broken");
    assert_eq!(broken["state"], "rejected", "{broken}");
    assert!(broken["errors"][0].as_str().unwrap().contains("broken.rules"), "{broken}");
    assert_eq!(report("Probe", "websites")["state"], "active");
    assert_eq!(resources["resources"].as_array().unwrap().len(), 5, "unselected objects are not listed: {resources}");
    let metrics = client.get(format!("http://{address}/metrics")).send().await.unwrap().text().await.unwrap();
    for line in [
        r#"panoptes_operator_resources{kind="ServiceMonitor",state="active"} 1"#,
        r#"panoptes_operator_resources{kind="ServiceMonitor",state="degraded"} 1"#,
        r#"panoptes_operator_resources{kind="PrometheusRule",state="rejected"} 1"#,
        r#"panoptes_operator_resources{kind="PrometheusRule",state="active"} 1"#,
    ] {
        assert!(metrics.lines().any(|candidate| candidate == line), "missing {line}");
    }
    assert!(std::fs::read_to_string(&log).unwrap().contains("prometheus operator resource not fully honoured"));

    // Editing the ServiceMonitor changes the target within seconds.
    let started = Instant::now();
    let mut edited = productpage_spec.clone();
    edited["endpoints"][0]["path"] = json!("/custom");
    edited["endpoints"][0]["relabelings"] =
        json!([{"targetLabel": "team", "replacement": "shop", "action": "replace"}]);
    fake.apply(service_monitor("productpage", Some("panoptes"), edited));
    let targets = wait_for(&client, &targets_url, &log, "edited service monitor", |targets| {
        active(targets, JOB).first().is_some_and(|target| target.1.ends_with("/custom"))
    })
    .await;
    assert_eq!(active(&targets, JOB), [(expected_labels(&[("team", "shop")]), format!("http://{instance}/custom"))]);
    eprintln!("edit to new target in {:?}", started.elapsed());

    // Labels no longer matching the selector remove its job, as deleting it would.
    fake.apply(service_monitor("productpage", Some("other"), productpage_spec.clone()));
    wait_for(&client, &targets_url, &log, "unselected service monitor", |targets| active(targets, JOB).is_empty())
        .await;
    fake.apply(service_monitor("productpage", Some("panoptes"), productpage_spec));
    wait_for(&client, &targets_url, &log, "reselected service monitor", |targets| active(targets, JOB).len() == 1)
        .await;
    fake.delete("ServiceMonitor", "default", "productpage").expect("deleted");
    let targets =
        wait_for(&client, &targets_url, &log, "deleted service monitor", |targets| active(targets, JOB).is_empty())
            .await;
    assert_eq!(pools(&targets), [PROBE, "serviceMonitor/default/reviews/1"]);

    // A deleted PrometheusRule's groups disappear; its file is removed.
    let rules_dir = dir.path().join("data/operator-rules");
    assert_eq!(std::fs::read_dir(&rules_dir).unwrap().count(), 1, "only the valid rule's file is written");
    fake.delete("PrometheusRule", "default", "bookinfo").expect("deleted");
    wait_for(&client, &rules_url, &log, "deleted rule", |rules| rule_groups(rules).is_empty()).await;
    // The file goes once the whole apply finished, just after the rule manager's update.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&rules_dir).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the deleted rule's file stayed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // None of this was a reload of the file.
    let metrics = client.get(format!("http://{address}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("panoptes_config_last_reload_successful 1"), "{metrics}");
    assert!(!std::fs::read_to_string(&log).unwrap().contains("reloading configuration"));

    // A reload with a mistake in the section is refused and keeps the running selection.
    let reload_url = format!("http://{address}/-/reload");
    std::fs::write(&config_path, config(&fake.url()).replace("operator: In", "operator: Equals")).unwrap();
    let response = client.post(&reload_url).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let message = response.text().await.unwrap();
    assert!(message.contains("prometheus_operator.ruleSelector: matchExpressions[0]"), "{message}");
    let targets = get_data(&client, &targets_url).await;
    assert_eq!(pools(&targets), [PROBE, "serviceMonitor/default/reviews/1"]);
    // A reload that changes the selector switches to what the new one selects.
    std::fs::write(&config_path, config(&fake.url()).replace("release: panoptes", "release: other")).unwrap();
    let response = client.post(&reload_url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    wait_for(&client, &targets_url, &log, "service monitors of the new selector", |targets| {
        pools(targets) == [PROBE, "serviceMonitor/default/details/0"]
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
}

/// Base64 as the API server encodes a Secret's `data` (and as `Authorization: Basic` does).
fn base64(bytes: &[u8]) -> String {
    let encoded = serde_json::to_value(panoptes_kube::k8s_openapi::ByteString(bytes.to_vec())).unwrap();
    encoded.as_str().unwrap().to_owned()
}

fn secret(name: &str, data: &[(&str, &str)]) -> Value {
    let data: serde_json::Map<String, Value> =
        data.iter().map(|(key, value)| ((*key).to_owned(), json!(base64(value.as_bytes())))).collect();
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "default"}, "type": "Opaque", "data": data})
}

/// A Service `name` (label `app: name`) whose Endpoints point at `127.0.0.1:port`, port `web`.
fn loopback_service(fake: &FakeApiServer, name: &str, port: u16) {
    let metadata = json!({"name": name, "namespace": "default", "labels": {"app": name}});
    fake.apply(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": metadata,
        "spec": {"selector": {"app": name}, "ports": [{"name": "web", "port": 80, "targetPort": port}]}
    }));
    fake.apply(json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": metadata,
        "subsets": [{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "web", "port": port, "protocol": "TCP"}]}]
    }));
}

/// A real HTTP server on loopback that serves metrics only with `Basic` credentials equal to
/// the expected ones, and records the `Authorization` header of every request.
struct BasicAuthTarget {
    port: u16,
    expected: std::sync::Arc<parking_lot::Mutex<String>>,
    seen: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
}

impl BasicAuthTarget {
    async fn start(user: &str, password: &str) -> BasicAuthTarget {
        use axum::http::{HeaderMap, StatusCode};
        let expected = std::sync::Arc::new(parking_lot::Mutex::new(format!(
            "Basic {}",
            base64(format!("{user}:{password}").as_bytes())
        )));
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let (want, log) = (expected.clone(), seen.clone());
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move |headers: HeaderMap| {
                let (want, log) = (want.clone(), log.clone());
                async move {
                    let header = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or("");
                    log.lock().push(header.to_owned());
                    if header == want.lock().as_str() {
                        (StatusCode::OK, "cart_orders_total 7\n")
                    } else {
                        (StatusCode::UNAUTHORIZED, "credentials required\n")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        BasicAuthTarget { port, expected, seen }
    }

    fn expect(&self, user: &str, password: &str) -> String {
        let header = format!("Basic {}", base64(format!("{user}:{password}").as_bytes()));
        *self.expected.lock() = header.clone();
        header
    }

    fn last_seen(&self) -> Option<String> {
        self.seen.lock().last().cloned()
    }
}

/// A fake OAuth 2.0 authorization server (an axum token endpoint on loopback speaking RFC
/// 6749's wire format: a form POST with basic client authentication, a JSON token answer) and a
/// real target that serves metrics only with the token it issued. Records the client
/// authentication of every token request.
struct OAuth2Target {
    target_port: u16,
    token_url: String,
    token_requests: std::sync::Arc<parking_lot::Mutex<Vec<String>>>,
}

impl OAuth2Target {
    async fn start() -> OAuth2Target {
        use axum::http::{HeaderMap, StatusCode};
        let token_requests = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = token_requests.clone();
        let issuer = axum::Router::new().route(
            "/token",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let header = headers.get("authorization").and_then(|value| value.to_str().ok()).unwrap_or("");
                    log.lock().push(format!("{header} {body}"));
                    let token = r#"{"access_token":"issued-token","token_type":"bearer","expires_in":3600}"#;
                    (StatusCode::OK, [("content-type", "application/json")], token)
                }
            }),
        );
        let target = axum::Router::new().route(
            "/metrics",
            axum::routing::get(|headers: HeaderMap| async move {
                match headers.get("authorization").and_then(|value| value.to_str().ok()) {
                    Some("Bearer issued-token") => (StatusCode::OK, "tokens_total 1\n"),
                    _ => (StatusCode::UNAUTHORIZED, "token required\n"),
                }
            }),
        );
        let issuer_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token_url = format!("http://{}/token", issuer_listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(issuer_listener, issuer).await.unwrap() });
        let target_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target_port = target_listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(target_listener, target).await.unwrap() });
        OAuth2Target { target_port, token_url, token_requests }
    }
}

/// `openssl s_server -WWW` (Debian's openssl) serving `metrics` from `dir` over TLS with a
/// server certificate for 127.0.0.1 signed by a CA made here; returns the CA's PEM.
struct TlsTarget {
    server: panoptes_test_util::tls::OpensslServer,
    ca_pem: String,
}

impl TlsTarget {
    fn start(dir: &std::path::Path) -> TlsTarget {
        let pki = panoptes_test_util::tls::TestPki::new(dir);
        pki.issue_server("server", "localhost", "IP:127.0.0.1,DNS:localhost");
        std::fs::write(dir.join("metrics"), "secure_requests_total 3\n").unwrap();
        TlsTarget { server: panoptes_test_util::tls::OpensslServer::start(&pki, "server", false), ca_pem: pki.ca_pem }
    }
}

/// The target of `job`: (health, lastError), or `None` while it has none.
fn health(targets: &Value, job: &str) -> Option<(String, String)> {
    targets["activeTargets"].as_array().unwrap().iter().find(|target| target["scrapePool"] == job).map(|target| {
        (target["health"].as_str().unwrap_or("").to_owned(), target["lastError"].as_str().unwrap_or("").to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_and_ca_come_from_secrets_and_config_maps() {
    // The Kubernetes API is the fake of panoptes-test-util; both targets are real servers on
    // loopback: one demands basic authentication, the other (Debian's openssl) serves TLS with a
    // certificate of a CA made here.
    let fake = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let target = BasicAuthTarget::start("shop", "first-password").await;
    let tls_dir = dir.path().join("tls");
    std::fs::create_dir(&tls_dir).unwrap();
    let tls = TlsTarget::start(&tls_dir);
    let oauth2 = OAuth2Target::start().await;
    loopback_service(&fake, "cart", target.port);
    loopback_service(&fake, "secure", tls.server.port);
    loopback_service(&fake, "tokens", oauth2.target_port);
    let monitor = |name: &str, endpoint: Value| {
        json!({
            "apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": name, "namespace": "default", "labels": {"release": "panoptes"}},
            "spec": {"selector": {"matchLabels": {"app": name}}, "endpoints": [endpoint]}
        })
    };
    fake.apply(monitor(
        "cart",
        json!({"port": "web", "interval": "1s", "basicAuth": {
            "username": {"name": "cart-creds", "key": "user"}, "password": {"name": "cart-creds", "key": "password"}
        }}),
    ));
    fake.apply(monitor(
        "secure",
        json!({"port": "web", "interval": "1s", "scheme": "https", "tlsConfig": {
            "ca": {"configMap": {"name": "secure-ca", "key": "ca.crt"}}, "serverName": "localhost"
        }}),
    ));
    fake.apply(monitor(
        "tokens",
        json!({"port": "web", "interval": "1s", "oauth2": {
            "clientId": {"secret": {"name": "oauth-client", "key": "id"}},
            "clientSecret": {"name": "oauth-client", "key": "secret"},
            "tokenUrl": oauth2.token_url, "scopes": ["metrics"]
        }}),
    ));
    // An unrelated Secret in the same namespace.
    fake.apply(secret("unrelated", &[("token", "never-read")]));

    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(
        &config_path,
        format!(
            "global:\n  scrape_interval: 1m\nprometheus_operator:\n  api_server: {}\n  serviceMonitorSelector:\n    matchLabels:\n      release: panoptes\n",
            fake.url()
        ),
    )
    .unwrap();
    let log = dir.path().join("server.log");
    let config_flag = format!("--config.file={}", config_path.display());
    let (mut child, address) = start_server(&dir.path().join("data"), &[&config_flag], &log);
    let client = reqwest::Client::new();
    wait_ready(&client, address, &mut child, &log).await;
    let targets_url = format!("http://{address}/api/v1/targets");
    let resources_url = format!("http://{address}/api/v1/operator/resources");
    let cart_job = "serviceMonitor/default/cart/0";
    let secure_job = "serviceMonitor/default/secure/0";
    let tokens_job = "serviceMonitor/default/tokens/0";

    // Before the Secret and the ConfigMap exist, both endpoints are refused with the reason.
    let resources = wait_for(&client, &resources_url, &log, "refusals", |data| {
        data["resources"].as_array().is_some_and(|resources| resources.len() == 3)
    })
    .await;
    let errors = |resources: &Value, name: &str| -> Value {
        resources["resources"].as_array().unwrap().iter().find(|report| report["name"] == name).unwrap()["errors"]
            .clone()
    };
    assert_eq!(
        errors(&resources, "cart"),
        json!(["spec.endpoints[0]: basicAuth.username: secret default/cart-creds not found"])
    );
    assert_eq!(
        errors(&resources, "secure"),
        json!(["spec.endpoints[0]: tlsConfig.ca: configmap default/secure-ca not found"])
    );
    assert_eq!(
        errors(&resources, "tokens"),
        json!(["spec.endpoints[0]: oauth2.clientId: secret default/oauth-client not found"])
    );
    let targets = get_data(&client, &targets_url).await;
    assert_eq!((health(&targets, cart_job), health(&targets, secure_job)), (None, None), "not scraped");
    assert_eq!(health(&targets, tokens_job), None, "not scraped without its client credentials");
    assert!(oauth2.token_requests.lock().is_empty());

    // A Secret without the password key: still refused, naming the key.
    fake.apply(secret("cart-creds", &[("user", "shop")]));
    wait_for(&client, &resources_url, &log, "missing key", |data| {
        errors(data, "cart")
            == json!([
                r#"spec.endpoints[0]: basicAuth.password: key "password" not found in secret default/cart-creds"#
            ])
    })
    .await;

    // With the key, the target is scraped with exactly those credentials.
    let started = Instant::now();
    fake.apply(secret("cart-creds", &[("user", "shop"), ("password", "first-password")]));
    let first = target.expect("shop", "first-password");
    wait_for(&client, &targets_url, &log, "authenticated target up", |targets| {
        health(targets, cart_job).is_some_and(|(health, _)| health == "up")
    })
    .await;
    assert_eq!(target.last_seen(), Some(first));
    eprintln!("secret to scraped target in {:?}", started.elapsed());

    // A new password reaches the scrape client within seconds, without a reload.
    let started = Instant::now();
    let second = target.expect("shop", "second-password");
    fake.apply(secret("cart-creds", &[("user", "shop"), ("password", "second-password")]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while target.last_seen().as_ref() != Some(&second) {
        assert!(Instant::now() < deadline, "new password not used: {:?}", target.last_seen());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for(&client, &targets_url, &log, "target up with the new password", |targets| {
        health(targets, cart_job).is_some_and(|(health, error)| health == "up" && error.is_empty())
    })
    .await;
    eprintln!("password change to new header in {:?}", started.elapsed());

    // The CA from the ConfigMap verifies the TLS target's certificate, for the name of serverName.
    fake.apply(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "secure-ca", "namespace": "default"},
        "data": {"ca.crt": tls.ca_pem}
    }));
    wait_for(&client, &targets_url, &log, "TLS target up", |targets| {
        health(targets, secure_job).is_some_and(|(health, _)| health == "up")
    })
    .await;

    // The OAuth 2.0 client credentials come from the Secret: a token is fetched with them and
    // the target is scraped with it.
    fake.apply(secret("oauth-client", &[("id", "panoptes"), ("secret", "oauth-secret")]));
    wait_for(&client, &targets_url, &log, "OAuth 2.0 target up", |targets| {
        health(targets, tokens_job).is_some_and(|(health, _)| health == "up")
    })
    .await;
    let expected = format!("Basic {} grant_type=client_credentials&scope=metrics", base64(b"panoptes:oauth-secret"));
    assert_eq!(oauth2.token_requests.lock().first(), Some(&expected));

    let resources = get_data(&client, &resources_url).await;
    for report in resources["resources"].as_array().unwrap() {
        assert_eq!(report["state"], "active", "{report}");
    }

    // Secret values reach neither the API nor the log; the status page shows the file only.
    let config = get_data(&client, &format!("http://{address}/api/v1/status/config")).await;
    let log_text = std::fs::read_to_string(&log).unwrap();
    for text in [resources.to_string(), config.to_string(), targets.to_string(), log_text] {
        for value in ["first-password", "second-password", "never-read", "oauth-secret"] {
            assert!(!text.contains(value), "{value} leaked: {text}");
        }
    }
    // Secrets and ConfigMaps are listed in the monitors' namespace only, never cluster-wide.
    for kind in ["secrets", "configmaps"] {
        let namespaces = fake.list_namespaces(kind);
        assert!(!namespaces.is_empty(), "{kind} never listed");
        assert!(namespaces.iter().all(|namespace| namespace.as_deref() == Some("default")), "{kind}: {namespaces:?}");
    }
    let _ = child.kill();
    let _ = child.wait();
}
