//! The Istio Bookinfo manifests (`../shared/testdata/bookinfo/platform/kube/bookinfo.yaml`)
//! turned into the live objects a cluster would hold once its controllers ran: two nodes,
//! the `default` namespace, Services with cluster IPs, a ReplicaSet per Deployment, running
//! and ready Pods with IPs spread over the nodes, and the Endpoints and EndpointSlices the
//! endpoint controllers derive from Services and Pods.
//!
//! [`Bookinfo`] then plays the controllers when a test scales a Deployment, deletes a Pod or
//! changes its annotations: Endpoints and EndpointSlices follow.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::FakeApiServer;

/// Returns the directory of the Bookinfo platform manifests (`../shared/testdata/bookinfo/
/// platform/kube` beside the repository).
pub fn manifests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/bookinfo/platform/kube")
}

/// The nodes of the fake cluster: name, internal IP, zone.
pub const NODES: &[(&str, &str, &str)] = &[("node-1", "10.0.0.11", "zone-a"), ("node-2", "10.0.0.12", "zone-b")];

/// Deterministic hex digits from a name, standing in for the hashes controllers generate.
fn name_hash(name: &str, length: usize) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    // FNV barely mixes the last bytes into the high bits: finish with SplitMix64's mixer so
    // that `web-7` and `web-8` get unrelated prefixes.
    let mut digits = String::new();
    for round in 0..4u64 {
        let mut z = hash.wrapping_add(round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        digits.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    // Pod-template hashes use consonants and digits only; hex is close enough for tests.
    digits.chars().take(length).collect()
}

/// The Bookinfo cluster on a fake API server, with the controllers' bookkeeping.
#[derive(Debug)]
pub struct Bookinfo {
    deployments: Vec<Value>,
    pod_counter: u64,
}

impl Bookinfo {
    /// Loads `bookinfo.yaml` from [`manifests_dir`] into `server` as live objects.
    ///
    /// # Panics
    ///
    /// Panics when the manifests cannot be read or parsed (the test cannot run then).
    pub fn load(server: &FakeApiServer) -> Bookinfo {
        let path = manifests_dir().join("bookinfo.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        let documents: Vec<Value> =
            serde_saphyr::from_multiple(&text).unwrap_or_else(|error| panic!("parse {}: {error}", path.display()));
        for (index, (name, ip, zone)) in NODES.iter().enumerate() {
            server.apply(json!({
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "topology.kubernetes.io/zone": zone,
                    },
                    "annotations": { "node.alpha.kubernetes.io/ttl": "0" },
                },
                "spec": { "providerID": format!("kind://docker/bookinfo/{name}"), "podCIDR": format!("10.244.{}.0/24", index + 1) },
                "status": {
                    "addresses": [
                        { "type": "InternalIP", "address": ip },
                        { "type": "Hostname", "address": name },
                    ],
                    "daemonEndpoints": { "kubeletEndpoint": { "Port": 10250 } },
                    "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady" }],
                    "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
                    "allocatable": { "cpu": "3800m", "memory": "7Gi", "pods": "110" },
                    "nodeInfo": {
                        "kernelVersion": "6.1.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                        "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.35.0",
                        "kubeProxyVersion": "v1.35.0", "architecture": "amd64", "operatingSystem": "linux",
                        "machineID": "", "systemUUID": "", "bootID": "",
                    },
                },
            }));
        }
        server.apply(json!({
            "kind": "Namespace",
            "metadata": { "name": "default", "labels": { "kubernetes.io/metadata.name": "default", "istio-injection": "enabled" } },
            "status": { "phase": "Active" },
        }));
        let mut bookinfo = Bookinfo { deployments: Vec::new(), pod_counter: 0 };
        let mut service_index = 0;
        for mut document in documents.into_iter().filter(|document| !document.is_null()) {
            match document["kind"].as_str() {
                Some("Service") => {
                    service_index += 1;
                    apply_service_defaults(&mut document, service_index);
                    server.apply(document);
                }
                Some("Deployment") => bookinfo.deployments.push(document),
                // ServiceAccounts are not served: discovery does not use them.
                _ => {}
            }
        }
        for index in 0..bookinfo.deployments.len() {
            bookinfo.reconcile_deployment(server, index);
        }
        bookinfo.sync_endpoints(server);
        bookinfo
    }

    /// Sets a Deployment's replicas, creating or deleting its Pods, then updates endpoints.
    ///
    /// # Panics
    ///
    /// Panics when there is no such Deployment (a test bug).
    pub fn scale(&mut self, server: &FakeApiServer, deployment: &str, replicas: u64) {
        let index = self
            .deployments
            .iter()
            .position(|candidate| candidate["metadata"]["name"] == deployment)
            .unwrap_or_else(|| panic!("no deployment {deployment}"));
        self.deployments[index]["spec"]["replicas"] = json!(replicas);
        self.reconcile_deployment(server, index);
        self.sync_endpoints(server);
    }

    /// Deletes a Pod (without its Deployment replacing it), then updates endpoints.
    pub fn delete_pod(&mut self, server: &FakeApiServer, namespace: &str, name: &str) {
        server.delete("Pod", namespace, name);
        self.sync_endpoints(server);
    }

    /// Sets an annotation on a Pod.
    ///
    /// # Panics
    ///
    /// Panics when there is no such Pod (a test bug).
    pub fn annotate_pod(&mut self, server: &FakeApiServer, namespace: &str, name: &str, key: &str, value: &str) {
        let mut pod = server.get("Pod", namespace, name).unwrap_or_else(|| panic!("no pod {namespace}/{name}"));
        pod["metadata"]["annotations"][key] = json!(value);
        server.apply(pod);
        self.sync_endpoints(server);
    }

    /// Returns the names of a Deployment's Pods, sorted.
    pub fn pods_of(&self, server: &FakeApiServer, deployment: &str) -> Vec<String> {
        let replica_set = format!("{deployment}-{}", name_hash(deployment, 10));
        server
            .list("Pod")
            .iter()
            .filter(|pod| pod["metadata"]["ownerReferences"][0]["name"] == replica_set.as_str())
            .filter_map(|pod| pod["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// Creates or deletes Pods so that a Deployment has its replicas, and keeps its
    /// ReplicaSet and the Deployment object current.
    fn reconcile_deployment(&mut self, server: &FakeApiServer, index: usize) {
        let deployment = self.deployments[index].clone();
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let namespace = deployment["metadata"]["namespace"].as_str().unwrap_or("default").to_owned();
        let replicas = deployment["spec"]["replicas"].as_u64().unwrap_or(1);
        let template_hash = name_hash(&name, 10);
        let replica_set_name = format!("{name}-{template_hash}");
        let mut deployment_object = deployment.clone();
        deployment_object["metadata"]["namespace"] = json!(namespace);
        deployment_object["status"] = json!({
            "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas,
            "updatedReplicas": replicas, "observedGeneration": 1,
        });
        let deployment_object = server.apply(deployment_object);
        let mut labels = deployment["spec"]["template"]["metadata"]["labels"].clone();
        labels["pod-template-hash"] = json!(template_hash);
        let replica_set = server.apply(json!({
            "kind": "ReplicaSet",
            "metadata": {
                "name": replica_set_name, "namespace": namespace, "labels": labels,
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                    "uid": deployment_object["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": { "replicas": replicas, "selector": deployment["spec"]["selector"], "template": deployment["spec"]["template"] },
            "status": { "replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas },
        }));
        let mut pods = self.pods_of(server, &name);
        while pods.len() as u64 > replicas {
            let victim = pods.pop().unwrap_or_default();
            server.delete("Pod", &namespace, &victim);
        }
        while (pods.len() as u64) < replicas {
            self.pod_counter += 1;
            let counter = self.pod_counter;
            let suffix = name_hash(&format!("{name}-{counter}"), 5);
            let pod_name = format!("{replica_set_name}-{suffix}");
            let (node, node_ip, _) = NODES[(counter as usize) % NODES.len()];
            let node_index = (counter as usize) % NODES.len() + 1;
            let mut spec = deployment["spec"]["template"]["spec"].clone();
            spec["nodeName"] = json!(node);
            let mut statuses = Vec::new();
            if let Some(containers) = spec["containers"].as_array_mut() {
                for container in containers {
                    if let Some(ports) = container["ports"].as_array_mut() {
                        for port in ports {
                            if port["protocol"].is_null() {
                                port["protocol"] = json!("TCP");
                            }
                        }
                    }
                    statuses.push(json!({
                        "name": container["name"], "image": container["image"], "ready": true, "started": true,
                        "restartCount": 0, "imageID": format!("{}@sha256:{}", container["image"].as_str().unwrap_or_default(), name_hash(&pod_name, 64)),
                        "containerID": format!("containerd://{}", name_hash(&format!("{pod_name}/{}", container["name"]), 64)),
                        "state": { "running": { "startedAt": "2026-12-01T00:00:05Z" } },
                    }));
                }
            }
            server.apply(json!({
                "kind": "Pod",
                "metadata": {
                    "name": pod_name, "namespace": namespace, "labels": labels,
                    "ownerReferences": [{
                        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": replica_set_name,
                        "uid": replica_set["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
                    }],
                },
                "spec": spec,
                "status": {
                    "phase": "Running",
                    "hostIP": node_ip,
                    "podIP": format!("10.244.{node_index}.{}", 10 + counter),
                    "podIPs": [{ "ip": format!("10.244.{node_index}.{}", 10 + counter) }],
                    "conditions": [
                        { "type": "PodScheduled", "status": "True" },
                        { "type": "Initialized", "status": "True" },
                        { "type": "ContainersReady", "status": "True" },
                        { "type": "Ready", "status": "True" },
                    ],
                    "containerStatuses": statuses,
                    "qosClass": "BestEffort",
                    "startTime": "2026-12-01T00:00:01Z",
                },
            }));
            pods.push(pod_name);
        }
    }

    /// Recomputes every Service's Endpoints and EndpointSlice from the Pods its selector
    /// matches, writing only what changed (as the endpoint controllers do).
    pub fn sync_endpoints(&self, server: &FakeApiServer) {
        let pods = server.list("Pod");
        for service in server.list("Service") {
            let namespace = service["metadata"]["namespace"].as_str().unwrap_or_default().to_owned();
            let name = service["metadata"]["name"].as_str().unwrap_or_default().to_owned();
            let Some(selector) = service["spec"]["selector"].as_object().filter(|selector| !selector.is_empty()) else {
                continue;
            };
            let mut members: Vec<&Value> = pods
                .iter()
                .filter(|pod| pod["metadata"]["namespace"] == namespace.as_str())
                .filter(|pod| selector.iter().all(|(key, value)| &pod["metadata"]["labels"][key] == value))
                .filter(|pod| pod["status"]["podIP"].is_string())
                .collect();
            members.sort_by_key(|pod| pod["status"]["podIP"].as_str().unwrap_or_default().to_owned());
            let is_ready = |pod: &Value| {
                pod["status"]["conditions"].as_array().is_some_and(|conditions| {
                    conditions.iter().any(|condition| condition["type"] == "Ready" && condition["status"] == "True")
                })
            };
            let target_ref = |pod: &Value| json!({ "kind": "Pod", "namespace": namespace, "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"] });
            let address = |pod: &Value| json!({ "ip": pod["status"]["podIP"], "nodeName": pod["spec"]["nodeName"], "targetRef": target_ref(pod) });
            let ports: Vec<Value> = service["spec"]["ports"]
                .as_array()
                .map(|ports| {
                    ports
                        .iter()
                        .map(|port| {
                            let mut endpoint_port = json!({ "port": port["targetPort"].as_u64().or(port["port"].as_u64()), "protocol": port["protocol"] });
                            if let Some(name) = port["name"].as_str() {
                                endpoint_port["name"] = json!(name);
                            }
                            endpoint_port
                        })
                        .collect()
                })
                .unwrap_or_default();
            let ready: Vec<Value> = members.iter().filter(|pod| is_ready(pod)).map(|pod| address(pod)).collect();
            let not_ready: Vec<Value> = members.iter().filter(|pod| !is_ready(pod)).map(|pod| address(pod)).collect();
            let mut subset = json!({ "ports": ports });
            if !ready.is_empty() {
                subset["addresses"] = json!(ready);
            }
            if !not_ready.is_empty() {
                subset["notReadyAddresses"] = json!(not_ready);
            }
            let subsets = if members.is_empty() { json!([]) } else { json!([subset]) };
            let endpoints = json!({
                "kind": "Endpoints",
                "metadata": { "name": name, "namespace": namespace, "labels": service["metadata"]["labels"] },
                "subsets": subsets,
            });
            apply_if_changed(server, endpoints);
            let mut slice_labels = service["metadata"]["labels"].clone();
            if !slice_labels.is_object() {
                slice_labels = json!({});
            }
            slice_labels["kubernetes.io/service-name"] = json!(name);
            slice_labels["endpointslice.kubernetes.io/managed-by"] = json!("endpointslice-controller.k8s.io");
            let slice_endpoints: Vec<Value> = members
                .iter()
                .map(|pod| {
                    let node = pod["spec"]["nodeName"].as_str().unwrap_or_default();
                    let zone =
                        NODES.iter().find(|(name, _, _)| *name == node).map(|(_, _, zone)| *zone).unwrap_or_default();
                    json!({
                        "addresses": [pod["status"]["podIP"]],
                        "conditions": { "ready": is_ready(pod), "serving": is_ready(pod), "terminating": false },
                        "nodeName": node,
                        "zone": zone,
                        "targetRef": target_ref(pod),
                    })
                })
                .collect();
            let slice = json!({
                "kind": "EndpointSlice",
                "metadata": {
                    "name": format!("{name}-{}", name_hash(&name, 5)), "namespace": namespace, "labels": slice_labels,
                    "annotations": { "endpoints.kubernetes.io/last-change-trigger-time": "2026-12-01T00:00:06Z" },
                    "ownerReferences": [{ "apiVersion": "v1", "kind": "Service", "name": name, "uid": service["metadata"]["uid"], "controller": true }],
                },
                "addressType": "IPv4",
                "endpoints": slice_endpoints,
                "ports": ports,
            });
            apply_if_changed(server, slice);
        }
    }
}

/// Fills in what the API server defaults on a Service: cluster IP, type, port protocol and
/// target port.
fn apply_service_defaults(service: &mut Value, index: usize) {
    if service["metadata"]["namespace"].is_null() {
        service["metadata"]["namespace"] = json!("default");
    }
    let spec = &mut service["spec"];
    if spec["type"].is_null() {
        spec["type"] = json!("ClusterIP");
    }
    if spec["clusterIP"].is_null() {
        spec["clusterIP"] = json!(format!("10.96.0.{}", 10 + index));
        spec["clusterIPs"] = json!([format!("10.96.0.{}", 10 + index)]);
    }
    if let Some(ports) = spec["ports"].as_array_mut() {
        for port in ports {
            if port["protocol"].is_null() {
                port["protocol"] = json!("TCP");
            }
            if port["targetPort"].is_null() {
                port["targetPort"] = port["port"].clone();
            }
        }
    }
}

/// Applies `object` unless the stored one already has the same content.
fn apply_if_changed(server: &FakeApiServer, object: Value) {
    let kind = object["kind"].as_str().unwrap_or_default();
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(existing) = server.get(kind, namespace, name) {
        let strip = |value: &Value| {
            let mut value = value.clone();
            if let Some(metadata) = value["metadata"].as_object_mut() {
                for key in ["resourceVersion", "uid", "creationTimestamp"] {
                    metadata.remove(key);
                }
            }
            if let Some(object) = value.as_object_mut() {
                object.remove("apiVersion");
            }
            value
        };
        if strip(&existing) == strip(&object) {
            return;
        }
    }
    server.apply(object);
}

/// Returns a Service's labels, for tests that spell out expected targets.
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object["metadata"]["labels"]
        .as_object()
        .map(|labels| {
            labels.iter().map(|(key, value)| (key.clone(), value.as_str().unwrap_or_default().to_owned())).collect()
        })
        .unwrap_or_default()
}
