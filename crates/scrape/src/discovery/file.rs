//! The file format of file-based discovery (`file_sd_configs`): a JSON or YAML list of
//! `{targets: [...], labels: {...}}` groups. Parsing only; watching files belongs to the
//! discovery manager.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::TargetGroup;
use crate::target::ADDRESS_LABEL;

/// The label holding the file a target was read from.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// Why a target file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    /// The file.
    pub path: String,
    /// What is wrong, with its position when known.
    pub message: String,
}

/// A group in YAML, decoded strictly as Prometheus' `yaml.UnmarshalStrict` does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StrictGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A group in JSON, where Go's decoder ignores unknown keys.
#[derive(Deserialize)]
struct LenientGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses the target groups of one file-SD file; `path` decides the format (a `.json` extension,
/// in any case, is JSON; anything else YAML) and becomes `__meta_filepath` and the groups' sources (`path:index`).
///
/// # Errors
///
/// Returns a [`FileError`] for malformed content, a null group, or an empty label name.
pub fn parse_target_groups(content: &str, path: &str) -> Result<Vec<TargetGroup>, FileError> {
    let is_json = std::path::Path::new(path).extension().is_some_and(|ext| ext.eq_ignore_ascii_case("json"));
    parse_groups(content, is_json, (FILEPATH_LABEL, path), path)
        .map_err(|message| FileError { path: path.to_owned(), message })
}

/// Parses a JSON or YAML list of groups, adding the label `origin` to each and naming each group
/// `source:index`.
pub(super) fn parse_groups(
    content: &str,
    is_json: bool,
    origin: (&str, &str),
    source: &str,
) -> Result<Vec<TargetGroup>, String> {
    let groups: Vec<Option<LenientGroup>> = if is_json {
        serde_json::from_str(content).map_err(|json| json.to_string())?
    } else {
        serde_saphyr::from_str::<Option<Vec<Option<StrictGroup>>>>(content)
            .map_err(|yaml| yaml.without_snippet().to_string())?
            .unwrap_or_default()
            .into_iter()
            .map(|group| group.map(|StrictGroup { targets, labels }| LenientGroup { targets, labels }))
            .collect()
    };
    let mut out = Vec::with_capacity(groups.len());
    for (index, group) in groups.into_iter().enumerate() {
        let Some(LenientGroup { targets, mut labels }) = group else {
            return Err("nil target group item found".to_owned());
        };
        if let Some(name) = labels.keys().find(|name| name.is_empty()) {
            return Err(format!("{name:?} is not a valid label name"));
        }
        labels.insert(origin.0.to_owned(), origin.1.to_owned());
        out.push(TargetGroup {
            targets: targets.into_iter().map(|address| BTreeMap::from([(ADDRESS_LABEL.to_owned(), address)])).collect(),
            labels,
            source: format!("{source}:{index}"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(content: &str, path: &str, expected: &str) {
        let got = match parse_target_groups(content, path) {
            Ok(groups) => groups
                .iter()
                .map(|group| {
                    let targets: Vec<&str> =
                        group.targets.iter().filter_map(|t| t.get(ADDRESS_LABEL).map(String::as_str)).collect();
                    format!("{} {targets:?} {:?}", group.source, group.labels)
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(error) => format!("error: {error}"),
        };
        assert_eq!(got, expected.trim());
    }

    #[test]
    fn parses_json_and_yaml_groups() {
        check(
            r#"[{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}]"#,
            "/sd/x.json",
            r#"
/sd/x.json:0 ["a:1", "b:2"] {"__meta_filepath": "/sd/x.json", "env": "prod"}
/sd/x.json:1 ["c:3"] {"__meta_filepath": "/sd/x.json"}
"#,
        );
        check(
            "- targets: ['a:1']\n  labels:\n    team: db\n",
            "/sd/y.yml",
            r#"/sd/y.yml:0 ["a:1"] {"__meta_filepath": "/sd/y.yml", "team": "db"}"#,
        );
        check("", "/sd/empty.yml", "");
        // Go's JSON decoder ignores unknown keys; its strict YAML decoder does not.
        check(
            r#"[{"targets": ["a:1"], "comment": "x"}]"#,
            "/sd/c.JSON",
            r#"/sd/c.JSON:0 ["a:1"] {"__meta_filepath": "/sd/c.JSON"}"#,
        );
    }

    #[test]
    fn rejects_bad_files() {
        check("[null]", "/sd/x.json", "error: /sd/x.json: nil target group item found");
        check(
            r#"[{"targets": ["a"], "labels": {"": "x"}}]"#,
            "/sd/x.json",
            r#"error: /sd/x.json: "" is not a valid label name"#,
        );
        let typo = parse_target_groups("- target: ['a:1']\n", "/sd/y.yml").expect_err("unknown key");
        assert!(typo.message.contains("unknown field `target`"), "{typo}");
        assert!(parse_target_groups("[{", "/sd/x.json").is_err());
    }
}
