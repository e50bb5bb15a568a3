//! Credentials and TLS material of generated jobs, read from the Secrets and ConfigMaps of
//! the monitor's own namespace, as the operator reads them: `basicAuth`, `bearerTokenSecret`,
//! `authorization`, `oauth2` (`clientId` from a Secret or ConfigMap, `clientSecret` from a
//! Secret) and `tlsConfig` (`ca`, `cert`, `keySecret`). Values stay in memory as
//! [`Secret`]s (printed as `<secret>`); nothing is written to disk, because the scrape client
//! takes inline PEM and credentials.
//!
//! A reference to a missing object or key refuses the endpoint with a reason naming
//! `namespace/name` and the key; the endpoint is generated as soon as the object appears.

use std::collections::BTreeMap;

use panoptes_kube::k8s_openapi::api::core::v1::{ConfigMap, Secret as KubeSecret};
use panoptes_kube::monitoring::{
    Authentication, KeySelector, Reference, ReferencedKind, SecretOrConfigMap, TlsConfig as OperatorTls, Unsupported,
};
use panoptes_model::Secret;
use serde::Deserialize;

use crate::config::{Authorization, BasicAuth, OAuth2, ScrapeConfig};

/// One key's value; `None` when it is not UTF-8 text (the scrape client needs text).
type Value = Option<Secret>;

/// The data of the Secrets and ConfigMaps that selected objects reference, by namespace and
/// name. Equal contents compare equal, so a change of any referenced value is seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferencedObjects {
    secrets: BTreeMap<(String, String), BTreeMap<String, Value>>,
    config_maps: BTreeMap<(String, String), BTreeMap<String, Value>>,
}

fn text(bytes: &[u8]) -> Value {
    std::str::from_utf8(bytes).ok().map(Secret::new)
}

fn key_of(namespace: Option<&String>, name: Option<&String>) -> (String, String) {
    (namespace.cloned().unwrap_or_default(), name.cloned().unwrap_or_default())
}

impl ReferencedObjects {
    /// Returns an empty set (every reference is missing).
    pub fn new() -> Self {
        ReferencedObjects::default()
    }

    /// Adds a Secret's `data`.
    pub fn add_secret(&mut self, secret: &KubeSecret) {
        let metadata = &secret.metadata;
        let data = secret
            .data
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), text(&value.0)))
            .chain(secret.string_data.iter().flatten().map(|(key, value)| (key.clone(), Some(Secret::new(value)))))
            .collect();
        self.secrets.insert(key_of(metadata.namespace.as_ref(), metadata.name.as_ref()), data);
    }

    /// Adds a ConfigMap's `data` and `binaryData`.
    pub fn add_config_map(&mut self, config_map: &ConfigMap) {
        let metadata = &config_map.metadata;
        let data = config_map
            .data
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), Some(Secret::new(value))))
            .chain(config_map.binary_data.iter().flatten().map(|(key, value)| (key.clone(), text(&value.0))))
            .collect();
        self.config_maps.insert(key_of(metadata.namespace.as_ref(), metadata.name.as_ref()), data);
    }

    /// Returns the value of a Secret key in `namespace`.
    ///
    /// # Errors
    ///
    /// Returns a message naming `namespace/name` and the key when the Secret or the key is
    /// missing or the value is not UTF-8 text.
    pub fn secret(&self, namespace: &str, selector: &KeySelector) -> Result<Secret, String> {
        lookup(&self.secrets, "secret", namespace, selector)
    }

    /// Returns the value of a ConfigMap key in `namespace`.
    ///
    /// # Errors
    ///
    /// As [`ReferencedObjects::secret`], for a ConfigMap.
    pub fn config_map(&self, namespace: &str, selector: &KeySelector) -> Result<Secret, String> {
        lookup(&self.config_maps, "configmap", namespace, selector)
    }

    /// Returns the value a `SecretOrConfigMap` names: exactly one of the two must be set.
    fn secret_or_config_map(&self, namespace: &str, material: &SecretOrConfigMap) -> Result<Option<Secret>, String> {
        let secret = material.secret.as_ref().filter(|selector| selector.is_set());
        let config_map = material.config_map.as_ref().filter(|selector| selector.is_set());
        match (secret, config_map) {
            (Some(_), Some(_)) => Err("cannot take both a secret and a configMap".to_owned()),
            (Some(selector), None) => self.secret(namespace, selector).map(Some),
            (None, Some(selector)) => self.config_map(namespace, selector).map(Some),
            (None, None) => Ok(None),
        }
    }
}

fn lookup(
    objects: &BTreeMap<(String, String), BTreeMap<String, Value>>,
    kind: &str,
    namespace: &str,
    selector: &KeySelector,
) -> Result<Secret, String> {
    let name = &selector.name;
    let Some(data) = objects.get(&(namespace.to_owned(), name.clone())) else {
        return Err(format!("{kind} {namespace}/{name} not found"));
    };
    match data.get(&selector.key) {
        None => Err(format!("key {:?} not found in {kind} {namespace}/{name}", selector.key)),
        Some(None) => Err(format!("key {:?} of {kind} {namespace}/{name} is not UTF-8 text", selector.key)),
        Some(Some(value)) => Ok(value.clone()),
    }
}

/// Sets the authentication of `config` from Secrets in `namespace`; `field_prefix` names the
/// spec location in errors (empty for endpoints, `spec.` for Probes).
///
/// # Errors
///
/// Returns the field and the missing object or key.
pub(super) fn apply_authentication(
    config: &mut ScrapeConfig,
    namespace: &str,
    authentication: &Authentication,
    objects: &ReferencedObjects,
    field_prefix: &str,
) -> Result<(), String> {
    let read = |field: &str, selector: Option<&KeySelector>| -> Result<Secret, String> {
        match selector.filter(|selector| selector.is_set()) {
            Some(selector) => {
                objects.secret(namespace, selector).map_err(|error| format!("{field_prefix}{field}: {error}"))
            }
            None => Err(format!("{field_prefix}{field} must name a Secret key")),
        }
    };
    if let Some(basic) = &authentication.basic_auth {
        let username = read("basicAuth.username", basic.username.as_ref())?;
        let password = read("basicAuth.password", basic.password.as_ref())?;
        config.basic_auth = Some(BasicAuth {
            username: username.expose().to_owned(),
            username_file: None,
            password: Some(password),
            password_file: None,
        });
    }
    if let Some(token) = authentication.bearer_token_secret.as_ref().filter(|selector| selector.is_set()) {
        config.bearer_token = Some(read("bearerTokenSecret", Some(token))?);
    }
    if let Some(authorization) = &authentication.authorization {
        let credentials = match authorization.credentials.as_ref().filter(|selector| selector.is_set()) {
            Some(selector) => Some(read("authorization.credentials", Some(selector))?),
            None => None,
        };
        config.authorization = Some(Authorization {
            scheme: authorization.scheme.clone().filter(|scheme| !scheme.is_empty()),
            credentials,
            credentials_file: None,
        });
    }
    Ok(())
}

/// The operator's `OAuth2` (client credentials), found among the fields the kube crate leaves
/// unmodelled. `tlsConfig` and the proxy fields are not modelled: an `oauth2` with them is
/// refused rather than used without them.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OperatorOAuth2 {
    #[serde(default)]
    client_id: SecretOrConfigMap,
    #[serde(default)]
    client_secret: Option<KeySelector>,
    #[serde(default)]
    token_url: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    endpoint_params: BTreeMap<String, String>,
    #[serde(flatten)]
    unsupported: Unsupported,
}

/// Decodes the `oauth2` of an endpoint's or a Probe's unmodelled fields.
fn operator_oauth2(unsupported: &Unsupported) -> Option<Result<OperatorOAuth2, String>> {
    let value = unsupported.get("oauth2")?;
    Some(OperatorOAuth2::deserialize(value).map_err(|error| format!("oauth2: {error}")))
}

/// Returns the Secret and ConfigMap keys the `oauth2` among `unsupported` reads, so that the
/// caller watches them as it watches the modelled references.
pub fn oauth2_references(unsupported: &Unsupported) -> Vec<Reference> {
    let Some(Ok(oauth2)) = operator_oauth2(unsupported) else {
        return Vec::new();
    };
    let reference =
        |kind, selector: &KeySelector| Reference { kind, name: selector.name.clone(), key: selector.key.clone() };
    let client_id = &oauth2.client_id;
    [
        client_id.secret.as_ref().map(|selector| (ReferencedKind::Secret, selector)),
        client_id.config_map.as_ref().map(|selector| (ReferencedKind::ConfigMap, selector)),
        oauth2.client_secret.as_ref().map(|selector| (ReferencedKind::Secret, selector)),
    ]
    .into_iter()
    .flatten()
    .filter(|(_, selector)| selector.is_set())
    .map(|(kind, selector)| reference(kind, selector))
    .collect()
}

/// Returns whether the unmodelled field `field` of a report is an `oauth2` this module honours,
/// so that it is not listed as ignored.
pub(super) fn is_honoured_oauth2(field: &str) -> bool {
    field == "spec.oauth2" || (field.starts_with("spec.endpoints[") && field.ends_with("].oauth2"))
}

/// Sets `config.oauth2` from the `oauth2` among the spec's unmodelled fields, with the client id
/// and secret read from Secrets and ConfigMaps in `namespace`, as the operator generates it.
///
/// # Errors
///
/// Returns the field and what is wrong: a missing object or key, no `tokenUrl`, a `clientId`
/// naming both or neither a Secret and a ConfigMap, or a field that is not modelled.
pub(super) fn apply_oauth2(
    config: &mut ScrapeConfig,
    namespace: &str,
    unsupported: &Unsupported,
    objects: &ReferencedObjects,
    field_prefix: &str,
) -> Result<(), String> {
    let Some(oauth2) = operator_oauth2(unsupported) else {
        return Ok(());
    };
    let oauth2 = oauth2.map_err(|error| format!("{field_prefix}{error}"))?;
    if let Some(field) = oauth2.unsupported.keys().next() {
        return Err(format!("{field_prefix}oauth2.{field} is not supported; not scraped without it"));
    }
    if oauth2.token_url.is_empty() {
        return Err(format!("{field_prefix}oauth2.tokenUrl must be set"));
    }
    let client_id = objects
        .secret_or_config_map(namespace, &oauth2.client_id)
        .map_err(|error| format!("{field_prefix}oauth2.clientId: {error}"))?
        .ok_or_else(|| format!("{field_prefix}oauth2.clientId must name a Secret or ConfigMap key"))?;
    let client_secret = match oauth2.client_secret.as_ref().filter(|selector| selector.is_set()) {
        Some(selector) => objects
            .secret(namespace, selector)
            .map_err(|error| format!("{field_prefix}oauth2.clientSecret: {error}"))?,
        None => return Err(format!("{field_prefix}oauth2.clientSecret must name a Secret key")),
    };
    config.oauth2 = Some(OAuth2 {
        client_id: client_id.expose().to_owned(),
        client_secret: Some(client_secret),
        scopes: oauth2.scopes,
        token_url: oauth2.token_url,
        endpoint_params: oauth2.endpoint_params,
        ..OAuth2::default()
    });
    Ok(())
}

/// Sets the TLS settings of `config` from the spec's `tlsConfig`: file paths as given, CA,
/// certificate and key from Secrets and ConfigMaps in `namespace`.
///
/// # Errors
///
/// Returns the field and the missing object or key.
pub(super) fn apply_tls(
    config: &mut ScrapeConfig,
    namespace: &str,
    tls: &OperatorTls,
    objects: &ReferencedObjects,
    field_prefix: &str,
) -> Result<(), String> {
    let out = &mut config.tls_config;
    let non_empty = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    out.ca_file = non_empty(&tls.ca_file);
    out.cert_file = non_empty(&tls.cert_file);
    out.key_file = non_empty(&tls.key_file);
    out.server_name = non_empty(&tls.server_name);
    out.insecure_skip_verify = tls.insecure_skip_verify.unwrap_or(false);
    let material = |field: &str, material: Option<&SecretOrConfigMap>| -> Result<Option<String>, String> {
        let Some(material) = material else {
            return Ok(None);
        };
        objects
            .secret_or_config_map(namespace, material)
            .map(|value| value.map(|value| value.expose().to_owned()))
            .map_err(|error| format!("{field_prefix}tlsConfig.{field}: {error}"))
    };
    out.ca = material("ca", tls.ca.as_ref())?;
    out.cert = material("cert", tls.cert.as_ref())?;
    if let Some(key) = tls.key_secret.as_ref().filter(|selector| selector.is_set()) {
        out.key = Some(
            objects.secret(namespace, key).map_err(|error| format!("{field_prefix}tlsConfig.keySecret: {error}"))?,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use panoptes_kube::k8s_openapi::ByteString;
    use panoptes_kube::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::*;

    fn selector(name: &str, key: &str) -> KeySelector {
        KeySelector { name: name.to_owned(), key: key.to_owned(), optional: None }
    }

    fn objects() -> ReferencedObjects {
        let mut objects = ReferencedObjects::new();
        let metadata = ObjectMeta { namespace: Some("ns".into()), name: Some("creds".into()), ..ObjectMeta::default() };
        objects.add_secret(&KubeSecret {
            metadata: metadata.clone(),
            data: Some(
                [
                    ("user".to_owned(), ByteString(b"admin".to_vec())),
                    ("binary".to_owned(), ByteString(vec![0xff, 0xfe])),
                ]
                .into(),
            ),
            ..KubeSecret::default()
        });
        objects.add_config_map(&ConfigMap {
            metadata,
            data: Some([("ca.crt".to_owned(), "PEM".to_owned())].into()),
            ..ConfigMap::default()
        });
        objects
    }

    #[test]
    fn lookups_name_the_namespace_object_and_key_they_miss() {
        let objects = objects();
        assert_eq!(objects.secret("ns", &selector("creds", "user")).expect("present").expose(), "admin");
        assert_eq!(objects.config_map("ns", &selector("creds", "ca.crt")).expect("present").expose(), "PEM");
        assert_eq!(
            objects.secret("other", &selector("creds", "user")).expect_err("namespace"),
            "secret other/creds not found"
        );
        assert_eq!(
            objects.secret("ns", &selector("creds", "password")).expect_err("key"),
            r#"key "password" not found in secret ns/creds"#
        );
        assert_eq!(
            objects.secret("ns", &selector("creds", "binary")).expect_err("binary"),
            r#"key "binary" of secret ns/creds is not UTF-8 text"#
        );
        assert_eq!(
            objects.config_map("ns", &selector("x", "ca.crt")).expect_err("missing"),
            "configmap ns/x not found"
        );
    }

    #[test]
    fn secret_values_are_never_printed() {
        let text = format!("{:?}", objects());
        assert!(!text.contains("admin") && text.contains("<secret>"), "{text}");
    }
}
