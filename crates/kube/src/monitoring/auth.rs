//! Credentials and TLS material of monitors and probes: references to Secret and ConfigMap keys
//! (`basicAuth`, `authorization`, `bearerTokenSecret`, `tlsConfig`) and the list of those
//! references. Never reads a Secret or ConfigMap; the caller resolves the references.

use serde::Deserialize;

use super::{Unsupported, push_paths};

/// Which kind of object a [`Reference`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReferencedKind {
    /// A `Secret`.
    Secret,
    /// A `ConfigMap`.
    ConfigMap,
}

impl ReferencedKind {
    /// Returns the kind's name as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReferencedKind::Secret => "Secret",
            ReferencedKind::ConfigMap => "ConfigMap",
        }
    }
}

/// One key of a Secret or ConfigMap that a monitor's spec reads, always in the monitor's own
/// namespace (as the operator reads them).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// Secret or ConfigMap.
    pub kind: ReferencedKind,
    /// The object's name.
    pub name: String,
    /// The key in its `data`.
    pub key: String,
}

/// A key of a Secret or a ConfigMap (`core/v1.SecretKeySelector`, `ConfigMapKeySelector`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// The object's name; an empty name means "not set", as the operator treats it.
    #[serde(default)]
    pub name: String,
    /// The key.
    #[serde(default)]
    pub key: String,
    /// Accepted and ignored, as the operator ignores it: a missing key is an error.
    #[serde(default)]
    pub optional: Option<bool>,
}

impl KeySelector {
    /// Returns true when the selector names an object (the CRD defaults leave `name` empty).
    pub fn is_set(&self) -> bool {
        !self.name.is_empty()
    }

    pub(super) fn push_reference(&self, kind: ReferencedKind, references: &mut Vec<Reference>) {
        if self.is_set() {
            references.push(Reference { kind, name: self.name.clone(), key: self.key.clone() });
        }
    }
}

/// TLS material taken from a Secret or a ConfigMap key (`SecretOrConfigMap`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretOrConfigMap {
    /// A Secret key.
    #[serde(default)]
    pub secret: Option<KeySelector>,
    /// A ConfigMap key.
    #[serde(default)]
    pub config_map: Option<KeySelector>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl SecretOrConfigMap {
    pub(super) fn push_references(&self, references: &mut Vec<Reference>) {
        if let Some(secret) = &self.secret {
            secret.push_reference(ReferencedKind::Secret, references);
        }
        if let Some(config_map) = &self.config_map {
            config_map.push_reference(ReferencedKind::ConfigMap, references);
        }
    }
}

/// `basicAuth`: user name and password from Secret keys.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// The user name's Secret key.
    #[serde(default)]
    pub username: Option<KeySelector>,
    /// The password's Secret key.
    #[serde(default)]
    pub password: Option<KeySelector>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `authorization`: the `Authorization` header's type and credentials from a Secret key.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeAuthorization {
    /// The scheme, `Bearer` when absent.
    #[serde(default, rename = "type")]
    pub scheme: Option<String>,
    /// The credentials' Secret key.
    #[serde(default)]
    pub credentials: Option<KeySelector>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

/// `tlsConfig` of an endpoint or a Probe: files in Panoptes' file system, or CA, certificate
/// and key from Secrets and ConfigMaps of the monitor's namespace.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// A CA file in Panoptes' file system.
    #[serde(default)]
    pub ca_file: Option<String>,
    /// A client certificate file.
    #[serde(default)]
    pub cert_file: Option<String>,
    /// A client key file.
    #[serde(default)]
    pub key_file: Option<String>,
    /// The CA certificate from a Secret or ConfigMap.
    #[serde(default)]
    pub ca: Option<SecretOrConfigMap>,
    /// The client certificate from a Secret or ConfigMap.
    #[serde(default)]
    pub cert: Option<SecretOrConfigMap>,
    /// The client key from a Secret.
    #[serde(default)]
    pub key_secret: Option<KeySelector>,
    /// The server name to verify.
    #[serde(default)]
    pub server_name: Option<String>,
    /// Skips verification.
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
    /// Fields not modelled.
    #[serde(flatten)]
    pub unsupported: Unsupported,
}

impl TlsConfig {
    pub(super) fn push_references(&self, references: &mut Vec<Reference>) {
        for material in [&self.ca, &self.cert].into_iter().flatten() {
            material.push_references(references);
        }
        if let Some(key) = &self.key_secret {
            key.push_reference(ReferencedKind::Secret, references);
        }
    }

    pub(super) fn unsupported_fields(&self, prefix: &str, paths: &mut Vec<String>) {
        push_paths(paths, prefix, &self.unsupported);
        for (name, material) in [("ca", &self.ca), ("cert", &self.cert)] {
            if let Some(material) = material {
                push_paths(paths, &format!("{prefix}{name}."), &material.unsupported);
            }
        }
    }
}

/// The Secret-based authentication an endpoint or a Probe may use.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Authentication {
    /// HTTP basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token from a Secret key (deprecated by the operator for `authorization`).
    #[serde(default)]
    pub bearer_token_secret: Option<KeySelector>,
    /// The `Authorization` header.
    #[serde(default)]
    pub authorization: Option<SafeAuthorization>,
}

impl Authentication {
    pub(super) fn push_references(&self, references: &mut Vec<Reference>) {
        if let Some(basic) = &self.basic_auth {
            for selector in [&basic.username, &basic.password].into_iter().flatten() {
                selector.push_reference(ReferencedKind::Secret, references);
            }
        }
        if let Some(token) = &self.bearer_token_secret {
            token.push_reference(ReferencedKind::Secret, references);
        }
        if let Some(credentials) = self.authorization.as_ref().and_then(|auth| auth.credentials.as_ref()) {
            credentials.push_reference(ReferencedKind::Secret, references);
        }
    }

    pub(super) fn unsupported_fields(&self, prefix: &str, paths: &mut Vec<String>) {
        if let Some(basic) = &self.basic_auth {
            push_paths(paths, &format!("{prefix}basicAuth."), &basic.unsupported);
        }
        if let Some(authorization) = &self.authorization {
            push_paths(paths, &format!("{prefix}authorization."), &authorization.unsupported);
        }
    }
}
