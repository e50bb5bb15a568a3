//! What decoding a large list page costs the watch caches: 5,000 Bookinfo-like pods with their
//! Istio sidecars, as one JSON answer, decoded three ways:
//!
//! - `typed`: the whole list straight into `ObjectList<Pod>`, the caches' common path;
//! - `dynamic_then_typed`: into `ObjectList<DynamicObject>`, then each object rebuilt as one
//!   JSON value and decoded from it, as the caches did before decoding typed first;
//! - `untyped_then_typed`: every item as a `serde_json::Value`, then each decoded from it, the
//!   caches' fallback when the typed list does not decode (one object is malformed).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DynamicObject, ObjectList};
use serde::Deserialize;
use serde_json::{Value, json};

const PODS: usize = 5_000;

/// The workloads of Bookinfo: (app, version).
const WORKLOADS: [(&str, &str); 6] = [
    ("productpage", "v1"),
    ("details", "v1"),
    ("ratings", "v1"),
    ("reviews", "v1"),
    ("reviews", "v2"),
    ("reviews", "v3"),
];

/// Returns pod `index` as the API server sends it in a list: an application container, an
/// injected `istio-proxy` sidecar and `istio-init`, managed fields, a running status.
fn pod(index: usize) -> Value {
    let (app, version) = WORKLOADS[index % WORKLOADS.len()];
    let name = format!("{app}-{version}-7d{index:06x}-x{:04x}", index * 7919 % 65_536);
    let env: Vec<Value> =
        (0..14).map(|i| json!({"name": format!("ISTIO_META_VAR_{i}"), "value": format!("value-{i}-{app}")})).collect();
    let mounts: Vec<Value> = [
        "workload-socket",
        "credential-socket",
        "istiod-ca-cert",
        "istio-data",
        "istio-envoy",
        "istio-token",
        "istio-podinfo",
    ]
    .iter()
    .map(|volume| json!({"name": volume, "mountPath": format!("/var/run/{volume}")}))
    .collect();
    let volumes: Vec<Value> = ["workload-socket", "credential-socket", "istio-envoy", "istio-data"]
        .iter()
        .map(|volume| json!({"name": volume, "emptyDir": {}}))
        .chain([json!({"name": "istio-token", "projected": {"sources": [{"serviceAccountToken": {"audience": "istio-ca", "expirationSeconds": 43200, "path": "istio-token"}}]}})])
        .collect();
    let condition = |kind: &str| json!({"type": kind, "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-12-01T00:00:05Z"});
    let status = |container: &str, image: &str| {
        json!({"name": container, "ready": true, "restartCount": 0, "started": true, "image": image,
            "imageID": format!("docker.io/{image}@sha256:{:064x}", index), "containerID": format!("containerd://{:064x}", index * 31),
            "state": {"running": {"startedAt": "2026-12-01T00:00:04Z"}}})
    };
    json!({
        "metadata": {
            "name": name, "generateName": format!("{app}-{version}-7d{index:06x}-"), "namespace": "default",
            "uid": format!("{:08x}-0000-4000-8000-{:012x}", index, index), "resourceVersion": (100_000 + index).to_string(),
            "creationTimestamp": "2026-12-01T00:00:00Z",
            "labels": {"app": app, "version": version, "pod-template-hash": format!("7d{index:06x}"),
                "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app, "service.istio.io/canonical-revision": version},
            "annotations": {"istio.io/rev": "default", "kubectl.kubernetes.io/default-container": app,
                "prometheus.io/path": "/stats/prometheus", "prometheus.io/port": "15020", "prometheus.io/scrape": "true",
                "sidecar.istio.io/status": "{\"initContainers\":[\"istio-init\"],\"containers\":[\"istio-proxy\"],\"volumes\":[\"workload-socket\",\"istio-envoy\",\"istio-data\",\"istio-podinfo\",\"istio-token\",\"istiod-ca-cert\"],\"imagePullSecrets\":null,\"revision\":\"default\"}"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{app}-{version}-7d{index:06x}"),
                "uid": format!("{:08x}-1111-4000-8000-{:012x}", index, index), "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-12-01T00:00:00Z",
                "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:version": {}}},
                "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}]
        },
        "spec": {
            "containers": [
                {"name": app, "image": format!("docker.io/istio/examples-bookinfo-{app}-{version}:1.20.2"), "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 9080, "protocol": "TCP"}], "resources": {},
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"},
                {"name": "istio-proxy", "image": "docker.io/istio/proxyv2:1.24.0", "args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
                    "env": env, "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}],
                    "readinessProbe": {"httpGet": {"path": "/healthz/ready", "port": 15021, "scheme": "HTTP"}, "periodSeconds": 15, "timeoutSeconds": 3, "failureThreshold": 4},
                    "resources": {"limits": {"cpu": "2", "memory": "1Gi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "privileged": false, "readOnlyRootFilesystem": true, "runAsGroup": 1337, "runAsNonRoot": true, "runAsUser": 1337},
                    "volumeMounts": mounts}
            ],
            "initContainers": [{"name": "istio-init", "image": "docker.io/istio/proxyv2:1.24.0", "args": ["istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"]}],
            "volumes": volumes, "nodeName": format!("node-{}", index % 50), "serviceAccountName": format!("bookinfo-{app}"),
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler", "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "startTime": "2026-12-01T00:00:01Z",
            "hostIP": format!("10.0.0.{}", index % 50), "podIP": format!("10.1.{}.{}", index / 250, index % 250),
            "podIPs": [{"ip": format!("10.1.{}.{}", index / 250, index % 250)}],
            "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
            "containerStatuses": [status(app, &format!("istio/examples-bookinfo-{app}-{version}:1.20.2")), status("istio-proxy", "istio/proxyv2:1.24.0")],
            "initContainerStatuses": [{"name": "istio-init", "ready": true, "restartCount": 0, "image": "istio/proxyv2:1.24.0", "imageID": "", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-12-01T00:00:02Z", "finishedAt": "2026-12-01T00:00:03Z"}}}]
        }
    })
}

fn list(items: Vec<Value>) -> String {
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "200000"}, "items": items})
        .to_string()
}

/// The fallback's view of a page: items left untyped.
#[derive(Deserialize)]
struct UntypedPage {
    items: Vec<Value>,
}

fn typed(text: &str) -> usize {
    serde_json::from_str::<ObjectList<Pod>>(text).expect("typed").items.len()
}

/// The caches' decoding before typed-first: each object's fields and re-serialized metadata
/// in one value, decoded from it.
fn dynamic_then_typed(text: &str) -> usize {
    let list: ObjectList<DynamicObject> = serde_json::from_str(text).expect("dynamic");
    list.items
        .into_iter()
        .filter_map(|object| {
            let DynamicObject { metadata, data: mut fields, .. } = object;
            if let Value::Object(map) = &mut fields {
                map.insert("metadata".to_owned(), serde_json::to_value(metadata).unwrap_or_default());
            }
            Pod::deserialize(&fields).ok()
        })
        .count()
}

fn untyped_then_typed(text: &str) -> usize {
    let page: UntypedPage = serde_json::from_str(text).expect("untyped");
    page.items.iter().filter_map(|item| Pod::deserialize(item).ok()).count()
}

fn bench(c: &mut Criterion) {
    let text = list((0..PODS).map(pod).collect());
    assert_eq!(typed(&text), PODS);
    assert_eq!(dynamic_then_typed(&text), PODS);
    assert_eq!(untyped_then_typed(&text), PODS);
    let mut group = c.benchmark_group("pod_list");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("typed", |b| b.iter(|| typed(&text)));
    group.bench_function("dynamic_then_typed", |b| b.iter(|| dynamic_then_typed(&text)));
    group.bench_function("untyped_then_typed", |b| b.iter(|| untyped_then_typed(&text)));
    group.finish();
    println!("pod_list: {PODS} pods, {} bytes of JSON", text.len());
}

criterion_group!(benches, bench);
criterion_main!(benches);
