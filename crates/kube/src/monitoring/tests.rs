//! Unit tests of the operator's resource models.

use serde_json::json;

use super::*;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
}

#[track_caller]
fn check(selector: Value, expected: bool) {
    let selector: LabelSelector = serde_json::from_value(selector).expect("selector");
    selector.validate().expect("valid selector");
    let object = labels(&[("app", "web"), ("release", "prod")]);
    assert_eq!(selector.matches(&object), expected, "{selector:?}");
}

#[test]
fn label_selectors_follow_kubernetes_semantics() {
    check(json!({}), true);
    check(json!({"matchLabels": {"app": "web"}}), true);
    check(json!({"matchLabels": {"app": "web", "release": "dev"}}), false);
    check(json!({"matchExpressions": [{"key": "release", "operator": "In", "values": ["prod", "x"]}]}), true);
    check(json!({"matchExpressions": [{"key": "release", "operator": "NotIn", "values": ["prod"]}]}), false);
    check(json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]}), true);
    check(json!({"matchExpressions": [{"key": "app", "operator": "Exists"}]}), true);
    check(json!({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}), false);
    check(json!({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}), true);
}

#[test]
fn invalid_selectors_name_the_requirement() {
    let invalid = |selector: Value| {
        serde_json::from_value::<LabelSelector>(selector).expect("decodes").validate().expect_err("invalid")
    };
    assert!(invalid(json!({"matchExpressions": [{"key": "a", "operator": "Equals"}]})).contains("matchExpressions[0]"));
    assert!(invalid(json!({"matchExpressions": [{"key": "a", "operator": "In"}]})).contains("non-empty"));
    assert!(
        invalid(json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}))
            .contains("must be empty")
    );
    assert!(serde_json::from_value::<LabelSelector>(json!({"matchLabel": {}})).is_err());
}

#[test]
fn unsupported_fields_are_listed_by_path() {
    let monitor: ServiceMonitor = serde_json::from_value(json!({
        "metadata": {"name": "m", "namespace": "ns"},
        "spec": {
            "selector": {},
            "scrapeClass": "x",
            "endpoints": [
                {"port": "web"},
                {"port": "metrics", "basicAuth": {"username": {"name": "s", "key": "u"}},
                 "oauth2": {"clientId": {"secret": {"name": "o", "key": "id"}}},
                 "tlsConfig": {"ca": {"secret": {"name": "s", "key": "ca"}, "extra": 2}, "serverName": "x"},
                 "relabelings": [{"action": "keep", "sourceLabels": ["a"], "regex": "b", "extra": 1}]}
            ]
        }
    }))
    .expect("decodes");
    let spec = monitor.spec().expect("spec");
    assert_eq!(
        spec.unsupported_fields(),
        [
            "spec.scrapeClass",
            "spec.endpoints[1].oauth2",
            "spec.endpoints[1].tlsConfig.ca.extra",
            "spec.endpoints[1].relabelings[0].extra",
        ]
    );
    assert_eq!(spec.endpoints[1].tls_config.as_ref().and_then(|tls| tls.server_name.as_deref()), Some("x"));
}

#[test]
fn secret_and_config_map_keys_are_listed_as_references() {
    let secret =
        |name: &str, key: &str| Reference { kind: ReferencedKind::Secret, name: name.to_owned(), key: key.to_owned() };
    let monitor: ServiceMonitor = serde_json::from_value(json!({
        "metadata": {"name": "m", "namespace": "ns"},
        "spec": {"endpoints": [
            // The CRD's default `bearerTokenSecret: {key: ""}` names nothing.
            {"port": "a", "bearerTokenSecret": {"key": ""}},
            {"port": "b", "basicAuth": {"username": {"name": "creds", "key": "user"}, "password": {"name": "creds", "key": "pass"}},
             "tlsConfig": {"ca": {"configMap": {"name": "bundle", "key": "ca.crt"}},
                           "cert": {"secret": {"name": "tls", "key": "tls.crt"}},
                           "keySecret": {"name": "tls", "key": "tls.key"}}},
            {"port": "c", "authorization": {"type": "Token", "credentials": {"name": "token", "key": "t"}}}
        ]}
    }))
    .expect("decodes");
    let spec = monitor.spec().expect("spec");
    assert!(spec.unsupported_fields().is_empty(), "{:?}", spec.unsupported_fields());
    assert_eq!(
        spec.references(),
        [
            secret("creds", "user"),
            secret("creds", "pass"),
            Reference { kind: ReferencedKind::ConfigMap, name: "bundle".to_owned(), key: "ca.crt".to_owned() },
            secret("tls", "tls.crt"),
            secret("tls", "tls.key"),
            secret("token", "t"),
        ]
    );
    let authorization = spec.endpoints[2].authentication.authorization.as_ref().expect("authorization");
    assert_eq!(authorization.scheme.as_deref(), Some("Token"));
}

#[test]
fn a_malformed_spec_is_an_error_of_its_object_only() {
    let monitor: ServiceMonitor = serde_json::from_value(json!({
        "metadata": {"name": "m"},
        "spec": {"endpoints": "not a list"}
    }))
    .expect("the object itself decodes");
    assert!(monitor.spec().expect_err("bad spec").contains("invalid spec"));
}
