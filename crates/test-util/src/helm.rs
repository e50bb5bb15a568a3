//! Renders a Helm v3 chart the way `helm template` does, for tests (there is no `helm` binary
//! on the build machines and none can be installed). Templates run on the `gotmpl` engine
//! with the subset of Helm's and Sprig's functions that `deploy/helm/panoptes` uses; a chart
//! calling anything else fails to parse with an error naming the function. What it does not
//! do: subcharts, `.Files`, `.Capabilities`, `lookup`, `tpl`, hooks and `NOTES.txt`; numbers
//! of a million or more print as plain integers where Go prints `1e+06`; `toYaml` never folds
//! long strings (yaml.v2 does past column 80). See docs/deploy.md.
//!
//! What it does as Helm does: values are YAML numbers as float64, user values merged over the
//! chart's (a null deletes a key), files under `templates/` parsed into one template set so
//! `include` reaches every `define`, files starting with `_` rendered but not output,
//! `<no value>` removed, documents split at `---` lines, sorted by file path then by Helm's
//! install order of kinds (stable), and printed as `---\n# Source: <chart>/<path>\n<doc>\n`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock, Weak};

use gotmpl::{FuncMap, Template, TemplateError, Value};
use serde_json::Value as Json;

mod yaml;

pub use yaml::to_yaml;

/// Why a chart cannot be loaded or rendered; the message names the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelmError(String);

impl fmt::Display for HelmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelmError {}

/// The release a chart is rendered for (`helm template NAME CHART --namespace NAMESPACE`).
#[derive(Debug, Clone)]
pub struct Release {
    /// `.Release.Name`.
    pub name: String,
    /// `.Release.Namespace`.
    pub namespace: String,
}

/// One rendered Kubernetes object, as `helm template` prints it.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The template it came from, `<chart>/templates/<file>`.
    pub source: String,
    /// The document's text, trimmed.
    pub content: String,
    /// The document parsed as JSON-like data.
    pub object: Json,
}

impl Manifest {
    /// Returns the object's `kind` ("" when absent).
    pub fn kind(&self) -> &str {
        self.object.get("kind").and_then(Json::as_str).unwrap_or("")
    }

    /// Returns the object's `metadata.name` ("" when absent).
    pub fn name(&self) -> &str {
        self.object.pointer("/metadata/name").and_then(Json::as_str).unwrap_or("")
    }
}

/// A chart directory: `Chart.yaml`, `values.yaml` and `templates/`.
#[derive(Debug, Clone)]
pub struct Chart {
    name: String,
    metadata: Json,
    values: Json,
    /// Template files by path relative to the chart (`templates/x.yaml`), sorted.
    templates: BTreeMap<String, String>,
}

impl Chart {
    /// Loads the chart in `dir`.
    ///
    /// # Errors
    ///
    /// Returns which file cannot be read or parsed.
    pub fn load(dir: impl AsRef<Path>) -> Result<Chart, HelmError> {
        let dir = dir.as_ref();
        let metadata = read_yaml(&dir.join("Chart.yaml"))?;
        let name = metadata
            .get("name")
            .and_then(Json::as_str)
            .ok_or_else(|| HelmError(format!("{}: no chart name", dir.join("Chart.yaml").display())))?
            .to_owned();
        let values = read_yaml(&dir.join("values.yaml"))?;
        let mut templates = BTreeMap::new();
        let templates_dir = dir.join("templates");
        let entries = std::fs::read_dir(&templates_dir)
            .map_err(|error| HelmError(format!("cannot read {}: {error}", templates_dir.display())))?;
        for entry in entries {
            let path = entry.map_err(|error| HelmError(format!("{}: {error}", templates_dir.display())))?.path();
            let file_name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default().to_owned();
            if !path.is_file() || file_name == "NOTES.txt" {
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|error| HelmError(format!("cannot read {}: {error}", path.display())))?;
            templates.insert(format!("templates/{file_name}"), text);
        }
        Ok(Chart { name, metadata, values, templates })
    }

    /// Returns the chart's default values (`values.yaml`).
    pub fn values(&self) -> &Json {
        &self.values
    }

    /// Renders every template with the chart's values and `overrides` merged over them in
    /// order (as repeated `--values` files), and returns the objects in `helm template` order.
    ///
    /// # Errors
    ///
    /// Returns the first template error (with its file), or a document that is not YAML.
    pub fn render(&self, release: &Release, overrides: &[Json]) -> Result<Vec<Manifest>, HelmError> {
        let mut values = self.values.clone();
        for layer in overrides {
            merge_values(&mut values, layer);
        }
        let set = self.template_set()?;
        let mut manifests = Vec::new();
        for (path, text) in &self.templates {
            let source = format!("{}/{path}", self.name);
            let data = self.data(release, &values, &source);
            let file = (*set)
                .clone()
                .parse(&strip_defines(text))
                .map_err(|error| HelmError(format!("parse error in {source}: {error}")))?;
            let output = file
                .execute_to_string(&data)
                .map_err(|error| HelmError(format!("render error in {source}: {error}")))?
                .replace("<no value>", "");
            if path.rsplit('/').next().is_some_and(|base| base.starts_with('_')) || output.trim().is_empty() {
                continue;
            }
            for document in split_documents(&output) {
                let object: Json = serde_saphyr::from_str(&document)
                    .map_err(|error| HelmError(format!("YAML parse error on {source}: {error}\n{document}")))?;
                manifests.push(Manifest { source: source.clone(), content: document, object });
            }
        }
        manifests.sort_by_key(|manifest| install_order(manifest.kind()));
        Ok(manifests)
    }

    /// Parses every template file (for their `define`s) into one set, with the functions.
    fn template_set(&self) -> Result<Arc<Template>, HelmError> {
        let this: Arc<OnceLock<Weak<Template>>> = Arc::new(OnceLock::new());
        let mut set = Template::new(&self.name).funcs(functions(this.clone()));
        for (path, text) in &self.templates {
            set = set
                .parse(&only_defines(text))
                .map_err(|error| HelmError(format!("parse error in {}/{path}: {error}", self.name)))?;
        }
        let set = Arc::new(set);
        let _ = this.set(Arc::downgrade(&set));
        Ok(set)
    }

    /// Returns the top-level data of one template: `.Values`, `.Release`, `.Chart`, `.Template`.
    fn data(&self, release: &Release, values: &Json, source: &str) -> Value {
        let mut chart = BTreeMap::new();
        if let Some(fields) = self.metadata.as_object() {
            for (key, value) in fields {
                chart.insert(go_field_name(key).into(), to_value(value));
            }
        }
        let release = map([
            ("Name", string(&release.name)),
            ("Namespace", string(&release.namespace)),
            ("Service", string("Helm")),
            ("IsInstall", Value::Bool(true)),
            ("IsUpgrade", Value::Bool(false)),
            ("Revision", Value::Int(1)),
        ]);
        let template = map([("Name", string(source)), ("BasePath", string(&format!("{}/templates", self.name)))]);
        map([
            ("Values", to_value(values)),
            ("Release", release),
            ("Chart", Value::Map(Arc::new(chart))),
            ("Template", template),
        ])
    }
}

/// Prints manifests exactly as `helm template` does.
pub fn to_helm_output(manifests: &[Manifest]) -> String {
    let mut out = String::new();
    for manifest in manifests {
        out.push_str("---\n# Source: ");
        out.push_str(&manifest.source);
        out.push('\n');
        out.push_str(&manifest.content);
        out.push('\n');
    }
    out
}

/// Reads a YAML file (values, `Chart.yaml`) as JSON-like data; an empty file is an empty map.
///
/// # Errors
///
/// Returns which file cannot be read or parsed.
pub fn read_yaml(path: &Path) -> Result<Json, HelmError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| HelmError(format!("cannot read {}: {error}", path.display())))?;
    if text.trim().is_empty() {
        return Ok(Json::Object(serde_json::Map::new()));
    }
    serde_saphyr::from_str(&text).map_err(|error| HelmError(format!("{}: {error}", path.display())))
}

/// Returns the chart directory of the repository's Panoptes chart.
pub fn panoptes_chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/helm/panoptes")
}

/// Merges `layer` over `base` as Helm coalesces user values over chart values: maps merge key
/// by key, anything else replaces, and a null removes the key.
pub fn merge_values(base: &mut Json, layer: &Json) {
    match (base, layer) {
        (Json::Object(base), Json::Object(layer)) => {
            for (key, value) in layer {
                if value.is_null() {
                    base.remove(key);
                } else if let Some(existing) = base.get_mut(key)
                    && existing.is_object()
                    && value.is_object()
                {
                    merge_values(existing, value);
                } else {
                    base.insert(key.clone(), value.clone());
                }
            }
        }
        (base, layer) => *base = layer.clone(),
    }
}

/// Helm's install order of kinds; unknown kinds go last (in `helm template` output too).
const INSTALL_ORDER: [&str; 37] = [
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
];

fn install_order(kind: &str) -> usize {
    INSTALL_ORDER.iter().position(|known| *known == kind).unwrap_or(INSTALL_ORDER.len())
}

/// Splits rendered output into trimmed, non-empty documents at `---` lines.
fn split_documents(output: &str) -> Vec<String> {
    let mut documents = Vec::new();
    let mut current = String::new();
    for line in output.lines() {
        if line.trim_end() == "---" {
            documents.push(std::mem::take(&mut current));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.push(current);
    documents.into_iter().map(|document| document.trim().to_owned()).filter(|document| !document.is_empty()).collect()
}

/// Splits a template file into its `define` blocks and the rest (its body). A define must
/// start on its own line; blocks (`if`, `with`, `range`, `define`, `block`) are counted up to
/// the `end` that closes it. Helm needs none of this; the chart keeps to it (docs/deploy.md).
fn split_defines(text: &str) -> (String, String) {
    let (mut defines, mut body) = (String::new(), String::new());
    let mut depth = 0usize;
    for line in text.split_inclusive('\n') {
        let keywords = action_keywords(line);
        if depth == 0 && keywords.first().is_none_or(|keyword| *keyword != "define") {
            body.push_str(line);
            continue;
        }
        for keyword in keywords {
            match keyword {
                "if" | "with" | "range" | "define" | "block" => depth += 1,
                "end" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        defines.push_str(line);
    }
    (defines, body)
}

fn only_defines(text: &str) -> String {
    split_defines(text).0
}

fn strip_defines(text: &str) -> String {
    split_defines(text).1
}

/// Returns the first word of every `{{ ... }}` action on a line.
fn action_keywords(line: &str) -> Vec<&str> {
    let mut keywords = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        let action = rest[start + 2..].trim_start_matches('-').trim_start();
        let word_end = action.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(action.len());
        keywords.push(&action[..word_end]);
        rest = &rest[start + 2..];
    }
    keywords
}

/// Helm's `.Chart` field names are Go's (`appVersion` → `AppVersion`).
fn go_field_name(key: &str) -> String {
    match key {
        "apiVersion" => "APIVersion".to_owned(),
        "appVersion" => "AppVersion".to_owned(),
        "kubeVersion" => "KubeVersion".to_owned(),
        _ => {
            let mut chars = key.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
        }
    }
}

fn string(text: &str) -> Value {
    Value::String(text.into())
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(Arc::new(entries.into_iter().map(|(key, value)| (Arc::from(key), value)).collect()))
}

/// Turns parsed YAML into a template value; numbers become floats, as Helm's values are.
fn to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(number) => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
        Json::String(text) => string(text),
        Json::Array(items) => Value::List(items.iter().map(to_value).collect()),
        Json::Object(fields) => {
            Value::Map(Arc::new(fields.iter().map(|(key, value)| (Arc::from(key.as_str()), to_value(value))).collect()))
        }
    }
}

fn call_error(name: &str, message: impl fmt::Display) -> TemplateError {
    TemplateError::Exec(format!("error calling {name}: {message}"))
}

fn arg<'v>(args: &'v [Value], index: usize, name: &str) -> Result<&'v Value, TemplateError> {
    args.get(index).ok_or_else(|| TemplateError::ArgCount {
        name: name.to_owned(),
        expected: index + 1,
        got: args.len(),
    })
}

fn string_arg(args: &[Value], index: usize, name: &str) -> Result<String, TemplateError> {
    match arg(args, index, name)? {
        Value::String(text) => Ok(text.to_string()),
        Value::Nil => Ok(String::new()),
        other => Err(call_error(name, format!("wrong type for value; expected string; got {}", other.type_name()))),
    }
}

fn int_arg(args: &[Value], index: usize, name: &str) -> Result<i64, TemplateError> {
    match arg(args, index, name)? {
        Value::Int(n) => Ok(*n),
        #[allow(clippy::cast_possible_truncation)]
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        other => Err(call_error(name, format!("expected an integer, got {}", other.type_name()))),
    }
}

/// Sprig's `strval`: strings as they are, everything else as Go's `%v` prints it.
fn strval(value: &Value) -> String {
    match value {
        Value::String(text) => text.to_string(),
        Value::Float(f) => go_float(*f),
        other => other.to_string(),
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`).
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let exponent = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
    if (-4..6).contains(&exponent) {
        return format!("{f}");
    }
    // Rust's `{:e}` has the same shortest digits; Go writes the exponent signed, two digits.
    let text = format!("{f:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Sprig's `empty`.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Nil => true,
        Value::Bool(b) => !b,
        Value::Int(n) => *n == 0,
        Value::Uint(n) => *n == 0,
        Value::Float(f) => *f == 0.0,
        Value::String(text) => text.is_empty(),
        Value::List(items) => items.is_empty(),
        Value::Map(fields) => fields.is_empty(),
        Value::Function(_) => false,
    }
}

/// Go's `%q` of a string.
pub(crate) fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn indent(spaces: i64, text: &str) -> String {
    let pad = " ".repeat(usize::try_from(spaces).unwrap_or(0));
    format!("{pad}{}", text.replace('\n', &format!("\n{pad}")))
}

/// The Helm and Sprig functions the chart uses.
fn functions(this: Arc<OnceLock<Weak<Template>>>) -> FuncMap {
    let mut funcs = FuncMap::new();
    let mut add = |name: &str, f: gotmpl::ValueFunc| {
        funcs.insert(name.to_owned(), f);
    };
    add(
        "include",
        Arc::new(move |args: &[Value]| {
            let name = string_arg(args, 0, "include")?;
            let data = args.get(1).cloned().unwrap_or(Value::Nil);
            let set = this.get().and_then(Weak::upgrade).ok_or_else(|| call_error("include", "no template set"))?;
            Ok(Value::String(set.execute_template_to_string(&name, &data)?.into()))
        }),
    );
    add(
        "toYaml",
        Arc::new(|args: &[Value]| {
            Ok(Value::String(to_yaml(arg(args, 0, "toYaml")?).trim_end_matches('\n').to_owned().into()))
        }),
    );
    add(
        "indent",
        Arc::new(|args: &[Value]| {
            Ok(Value::String(indent(int_arg(args, 0, "indent")?, &string_arg(args, 1, "indent")?).into()))
        }),
    );
    add(
        "nindent",
        Arc::new(|args: &[Value]| {
            Ok(Value::String(
                format!("\n{}", indent(int_arg(args, 0, "nindent")?, &string_arg(args, 1, "nindent")?)).into(),
            ))
        }),
    );
    add(
        "quote",
        Arc::new(|args: &[Value]| {
            let quoted: Vec<String> = args
                .iter()
                .filter(|value| !matches!(value, Value::Nil))
                .map(|value| go_quote(&strval(value)))
                .collect();
            Ok(Value::String(quoted.join(" ").into()))
        }),
    );
    add(
        "default",
        Arc::new(|args: &[Value]| {
            let fallback = arg(args, 0, "default")?;
            Ok(match args.get(1) {
                Some(given) if !is_empty(given) => given.clone(),
                _ => fallback.clone(),
            })
        }),
    );
    add(
        "required",
        Arc::new(|args: &[Value]| {
            let message = string_arg(args, 0, "required")?;
            match args.get(1) {
                None | Some(Value::Nil) => Err(call_error("required", message)),
                Some(Value::String(text)) if text.is_empty() => Err(call_error("required", message)),
                Some(value) => Ok(value.clone()),
            }
        }),
    );
    add(
        "trunc",
        Arc::new(|args: &[Value]| {
            let length = int_arg(args, 0, "trunc")?;
            let text = string_arg(args, 1, "trunc")?;
            let count = i64::try_from(text.len()).unwrap_or(i64::MAX);
            let out = if length < 0 && -length < count {
                &text[usize::try_from(count + length).unwrap_or(0)..]
            } else if length >= 0 && length < count {
                &text[..usize::try_from(length).unwrap_or(0)]
            } else {
                &text
            };
            Ok(Value::String(out.into()))
        }),
    );
    add(
        "trimSuffix",
        Arc::new(|args: &[Value]| {
            let suffix = string_arg(args, 0, "trimSuffix")?;
            let text = string_arg(args, 1, "trimSuffix")?;
            Ok(Value::String(text.strip_suffix(suffix.as_str()).unwrap_or(&text).into()))
        }),
    );
    add(
        "replace",
        Arc::new(|args: &[Value]| {
            let (old, new) = (string_arg(args, 0, "replace")?, string_arg(args, 1, "replace")?);
            Ok(Value::String(string_arg(args, 2, "replace")?.replace(&old, &new).into()))
        }),
    );
    add(
        "contains",
        Arc::new(|args: &[Value]| {
            Ok(Value::Bool(string_arg(args, 1, "contains")?.contains(&string_arg(args, 0, "contains")?)))
        }),
    );
    add("toString", Arc::new(|args: &[Value]| Ok(Value::String(strval(arg(args, 0, "toString")?).into()))));
    add("empty", Arc::new(|args: &[Value]| Ok(Value::Bool(is_empty(arg(args, 0, "empty")?)))));
    funcs
}

#[cfg(test)]
mod tests {
    use super::yaml::yaml_key_order;
    use super::*;

    #[track_caller]
    fn check_yaml(json: Json, expected: &str) {
        assert_eq!(to_yaml(&to_value(&json)), expected);
    }

    #[test]
    fn to_yaml_prints_like_yaml_v2() {
        check_yaml(
            serde_json::json!({"b": [1, "x"], "a": {"z": true, "y": null}, "c": [], "d": {}}),
            "a:\n  \"y\": null\n  z: true\nb:\n- 1\n- x\nc: []\nd: {}\n",
        );
        check_yaml(
            serde_json::json!([{"name": "a", "value": "1"}, ["x", "y"]]),
            "- name: a\n  value: \"1\"\n- - x\n  - \"y\"\n",
        );
        check_yaml(
            serde_json::json!({"k": "a: b", "l": "- x", "m": "", "num": "0.5", "o": "on"}),
            "k: 'a: b'\nl: '- x'\nm: \"\"\nnum: \"0.5\"\no: \"on\"\n",
        );
        check_yaml(
            serde_json::json!({"cpu": 0.5, "mem": "64Mi", "big": 1_000_000}),
            "big: 1000000\ncpu: 0.5\nmem: 64Mi\n",
        );
        check_yaml(serde_json::json!({"s": "a\nb\n"}), "s: |\n  a\n  b\n");
    }

    #[test]
    fn yaml_keys_sort_naturally() {
        let mut keys = vec!["a10", "a9", "b", "A", "a-b", "ab"];
        keys.sort_by(|a, b| yaml_key_order(a, b));
        assert_eq!(keys, ["A", "a-b", "a9", "a10", "ab", "b"]);
    }

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_float(9090.0), "9090");
        assert_eq!(go_float(1_000_000.0), "1e+06");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(0.00001), "1e-05");
    }

    #[test]
    fn values_merge_like_helm() {
        let mut base = serde_json::json!({"a": {"b": 1, "c": 2}, "d": [1], "e": 1});
        merge_values(&mut base, &serde_json::json!({"a": {"b": 3}, "d": [2], "e": null}));
        assert_eq!(base, serde_json::json!({"a": {"b": 3, "c": 2}, "d": [2]}));
    }

    #[test]
    fn templates_render_with_include_and_sprig_functions() {
        let dir = std::env::temp_dir().join(format!("panoptes-helm-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: \"4.5\"\n")
            .unwrap();
        std::fs::write(dir.join("values.yaml"), "port: 9090\nlabels:\n  team: obs\nname: \"\"\n").unwrap();
        std::fs::write(
            dir.join("templates/_helpers.tpl"),
            "{{- define \"demo.name\" -}}\n{{ default .Chart.Name .Values.name | trunc 63 | trimSuffix \"-\" }}\n{{- end }}\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("templates/svc.yaml"),
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"demo.name\" . }}\n  labels:\n    {{- toYaml .Values.labels | nindent 4 }}\n    version: {{ .Chart.AppVersion | quote }}\nspec:\n  ports:\n  - port: {{ required \"port is required\" .Values.port }}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {{ .Release.Name }}\n  namespace: {{ .Release.Namespace }}\n",
        )
        .unwrap();
        let chart = Chart::load(&dir).unwrap();
        let release = Release { name: "r".to_owned(), namespace: "ns".to_owned() };
        let manifests = chart.render(&release, &[]).unwrap();
        let output = to_helm_output(&manifests);
        assert_eq!(
            output,
            "---\n# Source: demo/templates/svc.yaml\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: r\n  namespace: ns\n---\n# Source: demo/templates/svc.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: demo\n  labels:\n    team: obs\n    version: \"4.5\"\nspec:\n  ports:\n  - port: 9090\n"
        );
        let error = chart.render(&release, &[serde_json::json!({"port": null})]).map(|_| ()).unwrap_err();
        assert!(error.to_string().contains("demo/templates/svc.yaml"), "{error}");
        assert!(error.to_string().contains("port is required"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
