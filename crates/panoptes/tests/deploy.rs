//! The Helm chart (`deploy/helm/panoptes`) and the plain manifests rendered from it
//! (`deploy/manifests/panoptes.yaml`). No `helm` binary and no Kubernetes API server can run on
//! the build machines: the chart is rendered by `panoptes_test_util::helm` (Helm's rendering
//! rules on the `gotmpl` engine), objects are checked against `k8s-openapi`'s types, and the
//! RBAC check runs the real server against the fake API server of `panoptes-test-util`, which
//! speaks the real list/watch protocol. Configuration and rule files are checked by the real
//! `panoptes check` and by Debian's `promtool`.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use panoptes_kube::k8s_openapi::api::apps::v1::{DaemonSet, StatefulSet};
use panoptes_kube::k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use panoptes_kube::k8s_openapi::api::networking::v1::Ingress;
use panoptes_kube::k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use panoptes_test_util::fake_kube::bookinfo::Bookinfo;
use panoptes_test_util::fake_kube::{FakeApiServer, RESOURCES};
use panoptes_test_util::helm::{Chart, Manifest, Release, panoptes_chart_dir, read_yaml, to_helm_output};
use serde_json::Value;

use crate::common::{get_data, start_server, wait_ready};

const MANIFESTS: &str = "deploy/manifests/panoptes.yaml";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn release() -> Release {
    Release { name: "panoptes".to_owned(), namespace: "monitoring".to_owned() }
}

fn render_defaults() -> Vec<Manifest> {
    Chart::load(panoptes_chart_dir()).unwrap().render(&release(), &[]).unwrap()
}

fn render_all_features() -> Vec<Manifest> {
    let values = read_yaml(&panoptes_chart_dir().join("ci/all-features-values.yaml")).unwrap();
    Chart::load(panoptes_chart_dir()).unwrap().render(&release(), &[values]).unwrap()
}

/// Both value sets, named.
fn renders() -> Vec<(&'static str, Vec<Manifest>)> {
    vec![("default values", render_defaults()), ("all features", render_all_features())]
}

fn find<'m>(manifests: &'m [Manifest], kind: &str) -> &'m Manifest {
    manifests.iter().find(|manifest| manifest.kind() == kind).unwrap_or_else(|| panic!("no {kind} rendered"))
}

fn find_named<'m>(manifests: &'m [Manifest], kind: &str, name: &str) -> &'m Manifest {
    manifests
        .iter()
        .find(|manifest| manifest.kind() == kind && manifest.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

#[test]
fn committed_manifests_are_the_chart_rendered_with_default_values() {
    let header = "# Generated from deploy/helm/panoptes with default values: `helm template panoptes \
                  deploy/helm/panoptes --namespace monitoring`.\n# Do not edit; regenerate with \
                  `UPDATE_MANIFESTS=1 cargo test -p panoptes --test deploy` (docs/deploy.md).\n";
    let expected = format!("{header}{}", to_helm_output(&render_defaults()));
    let path = repo_root().join(MANIFESTS);
    if std::env::var_os("UPDATE_MANIFESTS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == expected,
        "{MANIFESTS} differs from the chart rendered with default values; regenerate it with \
         `UPDATE_MANIFESTS=1 cargo test -p panoptes --test deploy` and review the diff"
    );
}

/// Deserializes `object` as `T`, serializes it again and requires the same value: a misspelt
/// or misplaced field (which serde drops) or a wrongly typed one fails.
#[track_caller]
fn check_strict<T>(manifest: &Manifest)
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_json::from_value(manifest.object.clone()).unwrap_or_else(|error| {
        panic!("{} {} ({}) does not parse: {error}", manifest.kind(), manifest.name(), manifest.source)
    });
    let again = serde_json::to_value(&typed).unwrap();
    if again != manifest.object {
        panic!(
            "{} {} ({}) changes through its type; unknown or mistyped field? {}",
            manifest.kind(),
            manifest.name(),
            manifest.source,
            first_difference(&manifest.object, &again, String::new()).unwrap_or_default()
        );
    }
}

/// Returns the JSON path of the first difference between `source` and `typed`, with both values.
fn first_difference(source: &Value, typed: &Value, path: String) -> Option<String> {
    match (source, typed) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|key| {
                let (x, y) = (a.get(key).unwrap_or(&Value::Null), b.get(key).unwrap_or(&Value::Null));
                first_difference(x, y, format!("{path}/{key}"))
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            a.iter().zip(b).enumerate().find_map(|(i, (x, y))| first_difference(x, y, format!("{path}/{i}")))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("at {path}: source {a}, typed {b}")),
    }
}

#[test]
fn every_object_parses_as_the_kubernetes_type_it_claims() {
    for (set, manifests) in renders() {
        let mut kinds = BTreeSet::new();
        for manifest in &manifests {
            let api_version = manifest.object["apiVersion"].as_str().unwrap_or_default();
            match (api_version, manifest.kind()) {
                ("v1", "ServiceAccount") => check_strict::<ServiceAccount>(manifest),
                ("v1", "ConfigMap") => check_strict::<ConfigMap>(manifest),
                ("v1", "Service") => check_strict::<Service>(manifest),
                ("apps/v1", "StatefulSet") => check_strict::<StatefulSet>(manifest),
                ("apps/v1", "DaemonSet") => check_strict::<DaemonSet>(manifest),
                ("networking.k8s.io/v1", "Ingress") => check_strict::<Ingress>(manifest),
                ("rbac.authorization.k8s.io/v1", "ClusterRole") => check_strict::<ClusterRole>(manifest),
                ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
                    check_strict::<ClusterRoleBinding>(manifest);
                }
                (api_version, kind) => panic!("{set}: unexpected {api_version} {kind} in {}", manifest.source),
            }
            kinds.insert(manifest.kind().to_owned());
        }
        let mut expected = vec!["ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet", "Service"];
        expected.extend(["ServiceAccount", "StatefulSet"]);
        if set == "all features" {
            expected.push("Ingress");
        }
        expected.sort_unstable();
        assert_eq!(kinds.iter().map(String::as_str).collect::<Vec<_>>(), expected, "{set}");
    }
}

#[test]
fn optional_objects_follow_their_switches() {
    let chart = Chart::load(panoptes_chart_dir()).unwrap();
    let off = serde_json::json!({"agent": {"enabled": false}, "rbac": {"create": false}, "serviceAccount": {"create": false}});
    let manifests = chart.render(&release(), &[off]).unwrap();
    let kinds: BTreeSet<&str> = manifests.iter().map(Manifest::kind).collect();
    assert_eq!(kinds, BTreeSet::from(["ConfigMap", "Service", "StatefulSet"]));
    let server = find(&manifests, "StatefulSet");
    assert_eq!(server.object.pointer("/spec/template/spec/serviceAccountName"), Some(&Value::from("default")));
    let defaults = render_defaults();
    assert!(!defaults.iter().any(|manifest| manifest.kind() == "Ingress"), "the Ingress is off by default");
}

/// Returns the container `name`'s `command` and `args` of a pod template owner.
fn container_command(manifest: &Manifest, name: &str) -> Vec<String> {
    let containers = manifest.object.pointer("/spec/template/spec/containers").and_then(Value::as_array).unwrap();
    let container = containers.iter().find(|container| container["name"] == name).unwrap();
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|items| items.iter().map(|item| item.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut command = strings(&container["command"]);
    command.extend(strings(&container["args"]));
    command
}

#[test]
fn container_commands_are_accepted_by_the_binary() {
    // `--help` after the flags: clap parses and validates every flag before it (an unknown
    // flag or a bad value fails with exit code 2), then prints help instead of running.
    for (set, manifests) in renders() {
        for (kind, container) in [("StatefulSet", "server"), ("DaemonSet", "agent")] {
            let command = container_command(find(&manifests, kind), container);
            assert_eq!(command[0], "panoptes", "{set}: {kind}");
            let output =
                Command::new(env!("CARGO_BIN_EXE_panoptes")).args(&command[1..]).arg("--help").output().unwrap();
            assert!(
                output.status.success(),
                "{set}: {kind} arguments {:?} refused:\n{}",
                &command[1..],
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let server = container_command(find(&manifests, "StatefulSet"), "server");
        for flag in ["--web.listen-address=0.0.0.0:9090", "--web.enable-lifecycle", "--config.auto-reload-interval=30s"]
        {
            assert!(server.iter().any(|arg| arg == flag), "{set}: server lacks {flag}");
        }
        // The allow-lists are passed only when set (all features), as one argument each.
        let allowlists: Vec<&str> =
            server.iter().map(String::as_str).filter(|arg| arg.contains("-allowlist=")).collect();
        let expected: &[&str] = match set {
            "default values" => &[],
            _ => &[
                "--kube-state.metric-labels-allowlist=pods=[app,version],namespaces=[*],deployments=[app.kubernetes.io/*]",
                "--kube-state.metric-annotations-allowlist=pods=[prometheus.io/scrape]",
            ],
        };
        assert_eq!(allowlists, expected, "{set}: allow-list arguments");
        let agent = container_command(find(&manifests, "DaemonSet"), "agent");
        for flag in ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/host/root"] {
            assert!(agent.iter().any(|arg| arg == flag), "{set}: agent lacks {flag}");
        }
    }
    // A flag the binary does not know is refused the same way: the check can fail.
    let output =
        Command::new(env!("CARGO_BIN_EXE_panoptes")).args(["server", "--no-such-flag", "--help"]).output().unwrap();
    assert!(!output.status.success());
}

/// Writes the ConfigMap's files into `dir` with `/etc/panoptes/` pointing there.
fn write_config_map(manifests: &[Manifest], dir: &Path) -> Vec<PathBuf> {
    let config_map = find(manifests, "ConfigMap");
    let mut files = Vec::new();
    for (name, content) in config_map.object["data"].as_object().unwrap() {
        let text = content.as_str().unwrap().replace("/etc/panoptes/", &format!("{}/", dir.display()));
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    files
}

fn run_check(program: &str, args: &[&str], file: &Path) {
    let output = Command::new(program).args(args).arg(file).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} {} failed:\n{}{}\n{}",
        file.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(file).unwrap()
    );
}

/// Removes every `kubernetes_sd_configs` block (the key and the lines indented below it).
fn strip_kubernetes_sd(config: &str) -> String {
    let mut out = String::new();
    let mut skipping_below: Option<usize> = None;
    for line in config.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(key_indent) = skipping_below {
            let is_inside = indent > key_indent || (indent == key_indent && line.trim_start().starts_with("- "));
            if is_inside {
                continue;
            }
            skipping_below = None;
        }
        // Prometheus has no `prometheus_operator` section (the operator generates jobs instead).
        if line.trim_start() == "kubernetes_sd_configs:" || line == "prometheus_operator:" {
            skipping_below = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    assert!(!out.contains("role:"), "{out}");
    out
}

#[test]
fn config_map_files_pass_panoptes_and_promtool_checks() {
    let panoptes = env!("CARGO_BIN_EXE_panoptes");
    for (set, manifests) in renders() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_config_map(&manifests, dir.path());
        let config = dir.path().join("panoptes.yml");
        assert!(files.contains(&config), "{set}: no panoptes.yml");
        // The service account's token and CA exist only in a pod: syntax and semantics of
        // everything else, including the rule files the configuration names.
        run_check(panoptes, &["check", "config", "--syntax-only"], &config);
        // Debian's Prometheus is built without Kubernetes discovery: promtool checks everything
        // else of the file (relabelling, authorization, TLS, remote write).
        let without_kubernetes_sd = dir.path().join("promtool.yml");
        std::fs::write(&without_kubernetes_sd, strip_kubernetes_sd(&std::fs::read_to_string(&config).unwrap()))
            .unwrap();
        run_check("/usr/bin/promtool", &["check", "config", "--syntax-only"], &without_kubernetes_sd);
        let config_text = std::fs::read_to_string(&config).unwrap();
        let parsed = panoptes_scrape::config::load_file(&config).unwrap();
        for rule_file in parsed.rule_file_paths() {
            run_check(panoptes, &["check", "rules"], Path::new(&rule_file));
            run_check("/usr/bin/promtool", &["check", "rules"], Path::new(&rule_file));
        }
        let rule_files = files.iter().filter(|file| file.file_name().unwrap().to_str().unwrap().starts_with("rules-"));
        assert_eq!(rule_files.count(), parsed.rule_file_paths().len(), "{set}: every rule file is loaded");
        let jobs: Vec<&str> = parsed.scrape_configs.iter().map(|job| job.job_name.as_str()).collect();
        for job in ["panoptes", "kubernetes-apiservers", "kubernetes-nodes", "kubernetes-cadvisor", "kubernetes-pods"] {
            assert!(jobs.contains(&job), "{set}: no job {job} in {jobs:?}\n{config_text}");
        }
        // The agents push by default; scraped instead only when they do not.
        assert_eq!(jobs.contains(&"node"), set == "all features", "{set}: {jobs:?}");
    }
}

fn labels_at(object: &Value, pointer: &str) -> serde_json::Map<String, Value> {
    object.pointer(pointer).and_then(Value::as_object).cloned().unwrap_or_else(|| panic!("no {pointer} in {object}"))
}

#[track_caller]
fn assert_selects(selector: &serde_json::Map<String, Value>, labels: &serde_json::Map<String, Value>, what: &str) {
    assert!(!selector.is_empty(), "{what}: empty selector");
    for (key, value) in selector {
        assert_eq!(labels.get(key), Some(value), "{what}: selector {key}={value} does not match {labels:?}");
    }
}

/// Whether `name` is a DNS-1123 label: what Services and most objects' names must be.
fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

#[test]
fn names_selectors_and_references_agree() {
    for (set, manifests) in renders() {
        for manifest in &manifests {
            assert!(is_dns_label(manifest.name()), "{set}: {} name {:?}", manifest.kind(), manifest.name());
            let labels = labels_at(&manifest.object, "/metadata/labels");
            for (key, value) in &labels {
                let value = value.as_str().unwrap();
                let is_valid = value.len() <= 63
                    && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                    && value.chars().next().is_none_or(|c| c.is_ascii_alphanumeric())
                    && value.chars().last().is_none_or(|c| c.is_ascii_alphanumeric());
                assert!(is_valid, "{set}: {} label {key}={value:?}", manifest.name());
            }
        }
        let server = find(&manifests, "StatefulSet");
        let agent = find(&manifests, "DaemonSet");
        let server_labels = labels_at(&server.object, "/spec/template/metadata/labels");
        let agent_labels = labels_at(&agent.object, "/spec/template/metadata/labels");
        assert_selects(&labels_at(&server.object, "/spec/selector/matchLabels"), &server_labels, set);
        assert_selects(&labels_at(&agent.object, "/spec/selector/matchLabels"), &agent_labels, set);
        for service in manifests.iter().filter(|manifest| manifest.kind() == "Service") {
            let selector = labels_at(&service.object, "/spec/selector");
            assert_selects(&selector, &server_labels, service.name());
            let selects_agents = selector.iter().all(|(key, value)| agent_labels.get(key) == Some(value));
            assert!(!selects_agents, "{set}: Service {} also selects the agents", service.name());
        }
        // The governing Service exists and is headless.
        let governing = server.object.pointer("/spec/serviceName").and_then(Value::as_str).unwrap();
        let headless = find_named(&manifests, "Service", governing);
        assert_eq!(headless.object.pointer("/spec/clusterIP"), Some(&Value::from("None")), "{set}");
        // Service account, binding and role.
        let account = server.object.pointer("/spec/template/spec/serviceAccountName").and_then(Value::as_str).unwrap();
        let namespace = find(&manifests, "ServiceAccount").object.pointer("/metadata/namespace").cloned();
        find_named(&manifests, "ServiceAccount", account);
        let binding = find(&manifests, "ClusterRoleBinding");
        let subjects = binding.object["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 1);
        assert_eq!(
            (subjects[0]["kind"].as_str(), subjects[0]["name"].as_str()),
            (Some("ServiceAccount"), Some(account))
        );
        assert_eq!(Some(&subjects[0]["namespace"]), namespace.as_ref(), "{set}");
        let role = binding.object.pointer("/roleRef/name").and_then(Value::as_str).unwrap();
        find_named(&manifests, "ClusterRole", role);
        // The configuration volume is the rendered ConfigMap, mounted where --config.file points.
        let config_map = find(&manifests, "ConfigMap");
        let volumes = server.object.pointer("/spec/template/spec/volumes").and_then(Value::as_array).unwrap();
        let config_volume = volumes.iter().find(|volume| volume["name"] == "config").unwrap();
        assert_eq!(config_volume.pointer("/configMap/name").and_then(Value::as_str), Some(config_map.name()));
        let server_command = container_command(server, "server");
        assert!(server_command.contains(&"--config.file=/etc/panoptes/panoptes.yml".to_owned()));
        // The data volume is the claim template, mounted where the store lives.
        let claim = server.object.pointer("/spec/volumeClaimTemplates/0/metadata/name").and_then(Value::as_str);
        let mounts = server.object.pointer("/spec/template/spec/containers/0/volumeMounts").unwrap().to_string();
        assert!(mounts.contains(&format!(r#""mountPath":"/data","name":"{}""#, claim.unwrap())), "{mounts}");
        assert!(server_command.contains(&"--storage.tsdb.path=/data".to_owned()));
        // The agent pushes to the server's Service through its queue volume, when it pushes.
        let agent_command = container_command(agent, "agent");
        let service =
            manifests.iter().find(|manifest| manifest.kind() == "Service" && manifest.name() != governing).unwrap();
        let port = service.object.pointer("/spec/ports/0/port").unwrap();
        let push = format!(
            "--remote-write.url=http://{}.{}.svc:{port}/api/v1/write",
            service.name(),
            service.object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap()
        );
        assert_eq!(agent_command.contains(&push), set == "default values", "{set}: {agent_command:?}");
        // Host mounts are read-only; the agent runs on control-plane nodes too.
        let agent_spec = agent.object.pointer("/spec/template/spec").unwrap();
        assert_eq!((agent_spec["hostPID"].as_bool(), agent_spec["hostNetwork"].as_bool()), (Some(true), Some(true)));
        for mount in agent_spec.pointer("/containers/0/volumeMounts").and_then(Value::as_array).unwrap() {
            let is_host = mount["mountPath"].as_str().unwrap().starts_with("/host/");
            assert_eq!(mount["readOnly"].as_bool() == Some(true), is_host, "{set}: {mount}");
        }
        let tolerations = agent_spec["tolerations"].to_string();
        assert!(tolerations.contains("node-role.kubernetes.io/control-plane"), "{set}: {tolerations}");
        // The Ingress routes to the server's Service.
        if let Some(ingress) = manifests.iter().find(|manifest| manifest.kind() == "Ingress") {
            let backend = ingress.object.pointer("/spec/rules/0/http/paths/0/backend/service/name");
            assert_eq!(backend.and_then(Value::as_str), Some(service.name()), "{set}");
        }
    }
}

/// Returns the ClusterRole's `(apiGroup, resource)` pairs, requiring get/list/watch only.
fn granted_resources(manifests: &[Manifest]) -> BTreeSet<(String, String)> {
    let role = find(manifests, "ClusterRole");
    let mut granted = BTreeSet::new();
    for rule in role.object["rules"].as_array().unwrap() {
        let verbs: Vec<&str> = rule["verbs"].as_array().unwrap().iter().map(|verb| verb.as_str().unwrap()).collect();
        if let Some(urls) = rule.get("nonResourceURLs") {
            assert_eq!(urls, &serde_json::json!(["/metrics"]));
            assert_eq!(verbs, ["get"]);
            continue;
        }
        assert_eq!(verbs, ["get", "list", "watch"], "{rule}");
        for group in rule["apiGroups"].as_array().unwrap() {
            for resource in rule["resources"].as_array().unwrap() {
                granted.insert((group.as_str().unwrap().to_owned(), resource.as_str().unwrap().to_owned()));
            }
        }
    }
    granted
}

/// What discovery can watch: every `kubernetes_sd_configs` role, with node and namespace
/// metadata attached.
const ROLES: [&str; 6] = ["node", "pod", "service", "endpoints", "endpointslice", "ingress"];

fn every_role_config(api_server: &str) -> String {
    let mut config = String::from("global:\n  scrape_interval: 1h\nscrape_configs:\n");
    for role in ROLES {
        config.push_str(&format!(
            "- job_name: {role}\n  kubernetes_sd_configs:\n  - role: {role}\n    api_server: {api_server}\n    \
             attach_metadata:\n      node: true\n      namespace: true\n"
        ));
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rbac_grants_exactly_what_the_server_watches() {
    // The chart's own jobs (and their selectors) use only roles this test covers.
    for (set, manifests) in renders() {
        let config = find(&manifests, "ConfigMap").object["data"]["panoptes.yml"].as_str().unwrap().to_owned();
        for line in config.lines() {
            if let Some(role) = line.trim().strip_prefix("- role: ") {
                assert!(ROLES.contains(&role), "{set}: role {role} is not covered");
            }
        }
    }

    let fake = FakeApiServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yml");
    std::fs::write(&config, every_role_config(&fake.url())).unwrap();
    let log = dir.path().join("server.log");
    let kube_state = format!("--kube-state.cluster={}", fake.url());
    let (mut child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config.to_str().unwrap(), &kube_state], &log);
    let client = reqwest::Client::new();
    wait_ready(&client, address, &mut child, &log).await;
    // Everything the fake serves but the operator's kinds and the Secrets and ConfigMaps they
    // reference, which only a `prometheus_operator` section watches.
    let expected_kinds = RESOURCES
        .iter()
        .filter(|resource| {
            resource.api_version != "monitoring.coreos.com/v1" && !["secrets", "configmaps"].contains(&resource.plural)
        })
        .count();
    let deadline = Instant::now() + Duration::from_secs(20);
    let watched = loop {
        let watched: BTreeSet<(String, String)> = fake
            .requests()
            .iter()
            .filter_map(|request| request.strip_prefix("list "))
            .map(|plural| {
                let plural = plural.split(' ').next().unwrap();
                let resource = RESOURCES.iter().find(|resource| resource.plural == plural).unwrap();
                let group = resource.api_version.rsplit_once('/').map_or("", |(group, _)| group);
                (group.to_owned(), plural.to_owned())
            })
            .collect();
        if watched.len() == expected_kinds || Instant::now() > deadline {
            break watched;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let _ = child.wait();

    let mut granted = granted_resources(&render_all_features());
    // Not watched but used: the kubelet's pages through the API server proxy, and the
    // Prometheus Operator's resources with the Secrets and ConfigMaps monitors reference
    // (tests/operator.rs covers what the operator watch lists).
    let operator_grants = [
        ("monitoring.coreos.com", "servicemonitors"),
        ("monitoring.coreos.com", "podmonitors"),
        ("monitoring.coreos.com", "prometheusrules"),
        ("monitoring.coreos.com", "probes"),
        ("", "secrets"),
        ("", "configmaps"),
    ];
    for (group, resource) in [("", "nodes/proxy"), ("", "nodes/metrics")].into_iter().chain(operator_grants) {
        assert!(granted.remove(&(group.to_owned(), resource.to_owned())), "{group}/{resource} not granted");
    }
    assert_eq!(granted, watched, "ClusterRole (all features) against what the server listed");
    // Without cluster-state metrics, no access to workloads; without the operator section, no
    // access to Secrets or ConfigMaps.
    let default_grants = granted_resources(&render_defaults());
    assert!(default_grants.iter().all(|(group, _)| group != "apps"), "{default_grants:?}");
    for resource in ["secrets", "configmaps"] {
        assert!(!default_grants.contains(&(String::new(), resource.to_owned())), "{default_grants:?}");
    }
}

/// Replaces every `from` in `text` by `to`, requiring at least one.
#[track_caller]
fn replace_some(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} no longer in the configuration");
    text.replace(from, to)
}

/// Returns `(job, scrape URL, labels)` of every active target.
fn active_targets(targets: &Value) -> Vec<(String, String, serde_json::Map<String, Value>)> {
    let mut found: Vec<_> = targets["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|target| {
            (
                target["scrapePool"].as_str().unwrap().to_owned(),
                target["scrapeUrl"].as_str().unwrap().to_owned(),
                target["labels"].as_object().unwrap().clone(),
            )
        })
        .collect();
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    found
}

/// Returns the ConfigMap's configuration pointed at the fake API server: the in-cluster
/// connection becomes `api_server`, the proxy address the fake's, plain HTTP (the fake has no
/// TLS) and `token` the service account token.
fn config_for_fake(manifests: &[Manifest], fake: &FakeApiServer, token: &Path) -> String {
    let host = fake.url().trim_start_matches("http://").to_owned();
    let mut config = find(manifests, "ConfigMap").object["data"]["panoptes.yml"].as_str().unwrap().to_owned();
    for role in ["node", "endpoints", "endpointslice", "pod"] {
        let entry = format!("  - role: {role}\n");
        config = replace_some(&config, &entry, &format!("{entry}    api_server: {}\n", fake.url()));
    }
    config =
        replace_some(&config, "  tls_config:\n    ca_file: /var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n", "");
    config = replace_some(&config, "/var/run/secrets/kubernetes.io/serviceaccount/token", token.to_str().unwrap());
    config = replace_some(&config, "scheme: https", "scheme: http");
    replace_some(&config, "kubernetes.default.svc:443", &host)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_config_discovers_the_cluster() {
    let fake = FakeApiServer::start().await;
    let mut bookinfo = Bookinfo::load(&fake);
    let details = bookinfo.pods_of(&fake, "details-v1").remove(0);
    for (key, value) in
        [("prometheus.io/scrape", "true"), ("prometheus.io/port", "15020"), ("prometheus.io/path", "/stats/prometheus")]
    {
        bookinfo.annotate_pod(&fake, "default", &details, key, value);
    }
    let mut reviews = fake.get("Service", "default", "reviews").unwrap();
    reviews["metadata"]["annotations"] = serde_json::json!({"prometheus.io/scrape": "true"});
    fake.apply(reviews);

    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "chart-test-token").unwrap();
    let host = fake.url().trim_start_matches("http://").to_owned();
    let manifests = render_defaults();
    let config = config_for_fake(&manifests, &fake, &token);
    let config_path = dir.path().join("panoptes.yml");
    std::fs::write(&config_path, &config).unwrap();
    let log = dir.path().join("server.log");
    let (mut child, address) =
        start_server(&dir.path().join("data"), &["--config.file", config_path.to_str().unwrap()], &log);
    let client = reqwest::Client::new();
    wait_ready(&client, address, &mut child, &log).await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let targets = loop {
        let targets = active_targets(&get_data(&client, &format!("http://{address}/api/v1/targets")).await);
        let count = |job: &str| targets.iter().filter(|target| target.0 == job).count();
        if count("kubernetes-nodes") == 2
            && count("kubernetes-cadvisor") == 2
            && count("kubernetes-service-endpoints") == 3
            && count("kubernetes-pods") == 1
        {
            break targets;
        }
        assert!(Instant::now() < deadline, "targets missing: {targets:?}\n{}", std::fs::read_to_string(&log).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = child.kill();
    let _ = child.wait();

    let urls = |job: &str| -> Vec<&str> {
        targets.iter().filter(|target| target.0 == job).map(|target| target.1.as_str()).collect()
    };
    assert_eq!(
        urls("kubernetes-nodes"),
        [
            format!("http://{host}/api/v1/nodes/node-1/proxy/metrics"),
            format!("http://{host}/api/v1/nodes/node-2/proxy/metrics")
        ]
    );
    assert_eq!(
        urls("kubernetes-cadvisor"),
        [
            format!("http://{host}/api/v1/nodes/node-1/proxy/metrics/cadvisor"),
            format!("http://{host}/api/v1/nodes/node-2/proxy/metrics/cadvisor")
        ]
    );
    let pod = fake.get("Pod", "default", &details).unwrap();
    let pod_ip = pod["status"]["podIP"].as_str().unwrap();
    let (_, pod_url, pod_labels) = targets.iter().find(|target| target.0 == "kubernetes-pods").unwrap();
    assert_eq!(pod_url, &format!("http://{pod_ip}:15020/stats/prometheus"));
    assert_eq!(
        (pod_labels["namespace"].as_str(), pod_labels["pod"].as_str()),
        (Some("default"), Some(details.as_str()))
    );
    assert_eq!(pod_labels["app"], "details");
    for (_, url, labels) in targets.iter().filter(|target| target.0 == "kubernetes-service-endpoints") {
        assert!(url.ends_with(":9080/metrics"), "{url}");
        assert_eq!((labels["service"].as_str(), labels["namespace"].as_str()), (Some("reviews"), Some("default")));
        assert!(labels["pod"].as_str().unwrap().starts_with("reviews-v"), "{labels:?}");
    }
}

/// Runs a container's command from a manifest as a local process, with `replacements` applied
/// to each argument (in-pod paths and addresses to local ones).
fn spawn_container(manifest: &Manifest, container: &str, replacements: &[(&str, String)], log: &Path) -> KilledOnDrop {
    let command = container_command(manifest, container);
    let args: Vec<String> = command[1..]
        .iter()
        .map(|arg| replacements.iter().fold(arg.clone(), |arg, (from, to)| arg.replace(from, to)))
        .collect();
    let child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
        .args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    KilledOnDrop(child)
}

/// A child process killed (and reaped) when dropped.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Returns the HTTP paths of a container's readiness and liveness probes.
fn probe_paths(manifest: &Manifest, container: &str) -> Vec<String> {
    let containers = manifest.object.pointer("/spec/template/spec/containers").and_then(Value::as_array).unwrap();
    let container = containers.iter().find(|candidate| candidate["name"] == container).unwrap();
    ["readinessProbe", "livenessProbe"]
        .iter()
        .map(|probe| container[probe]["httpGet"]["path"].as_str().unwrap().to_owned())
        .collect()
}

async fn wait_ok(client: &reqwest::Client, url: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = client.get(url).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "GET {url} never answered 200:\n{}", std::fs::read_to_string(log).unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rendered_server_and_agent_run_and_the_agent_pushes_to_the_server() {
    // The StatefulSet's and the DaemonSet's commands as rendered, run here: in-pod paths become
    // a temporary directory (server) and this machine's /proc, /sys and / (agent), the
    // Service's name the server's loopback address.
    let manifests = render_defaults();
    let fake = FakeApiServer::start().await;
    let _bookinfo = Bookinfo::load(&fake);
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("etc");
    std::fs::create_dir(&config_dir).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "chart-test-token").unwrap();
    std::fs::write(config_dir.join("panoptes.yml"), config_for_fake(&manifests, &fake, &token)).unwrap();
    let server_address = common::free_address();
    let server_log = dir.path().join("server.log");
    let _server = spawn_container(
        find(&manifests, "StatefulSet"),
        "server",
        &[
            ("/etc/panoptes/", format!("{}/", config_dir.display())),
            ("--storage.tsdb.path=/data", format!("--storage.tsdb.path={}", dir.path().join("data").display())),
            ("0.0.0.0:9090", server_address.to_string()),
        ],
        &server_log,
    );
    let client = reqwest::Client::new();
    for path in probe_paths(find(&manifests, "StatefulSet"), "server") {
        wait_ok(&client, &format!("http://{server_address}{path}"), &server_log).await;
    }

    let agent_address = common::free_address();
    let agent_log = dir.path().join("agent.log");
    let service = find_named(&manifests, "Service", "panoptes");
    let service_host = format!("{}.{}.svc:9090", service.name(), "monitoring");
    let _agent = spawn_container(
        find(&manifests, "DaemonSet"),
        "agent",
        &[
            ("/host/proc", "/proc".to_owned()),
            ("/host/sys", "/sys".to_owned()),
            ("/host/root/", "/".to_owned()),
            ("/host/root", "/".to_owned()),
            ("/var/lib/panoptes-agent", dir.path().join("agent").display().to_string()),
            ("0.0.0.0:9100", agent_address.to_string()),
            (&service_host, server_address.to_string()),
        ],
        &agent_log,
    );
    for path in probe_paths(find(&manifests, "DaemonSet"), "agent") {
        wait_ok(&client, &format!("http://{agent_address}{path}"), &agent_log).await;
    }
    // The agent pushes every 15s (--remote-write.interval): its first push lands at once.
    let query = format!("http://{server_address}/api/v1/query?query=node_load1");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = get_data(&client, &query).await;
        if let Some(sample) = data["result"].as_array().and_then(|result| result.first()) {
            assert_eq!(sample["metric"]["job"], "node", "{sample}");
            break;
        }
        assert!(Instant::now() < deadline, "no node_load1 pushed:\n{}", std::fs::read_to_string(&agent_log).unwrap());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(dir.path().join("agent/queue").is_dir(), "the queue lives on the mounted volume");
}
