//! Prometheus `relabel_config`: the serde type, its validation and its application to a label
//! set.
//!
//! Semantics follow Prometheus' `model/relabel`: defaults (separator `;`, regex `(.*)`,
//! replacement `$1`, action `replace`), regexes anchored as `^(?s:…)$`, templates expanded like
//! Go's `regexp.Expand`, and `hashmod` as the last eight bytes of the MD5 of the joined source
//! values, read big-endian, modulo `modulus`. Label names follow the Prometheus 3 UTF-8 scheme:
//! any non-empty string.

mod expand;
mod go_regex;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use md5::{Digest, Md5};
use panoptes_model::{Label, Labels};
use serde::{Deserialize, Deserializer};

use expand::{expand, has_template_variable};

/// Why a relabel config is not valid; messages match Prometheus'.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelabelError {
    /// The action is not one of the known ones.
    #[error("unknown relabel action {0:?}")]
    UnknownAction(String),
    /// The regex does not compile.
    #[error("invalid regular expression {pattern:?}: {message}")]
    InvalidRegex {
        /// The pattern as written.
        pattern: String,
        /// What the regex compiler said.
        message: String,
    },
    /// A source label name is empty.
    #[error("{0:?} is not a valid label name")]
    InvalidLabelName(String),
    /// `hashmod` without a modulus.
    #[error("relabel configuration for hashmod requires non-zero modulus")]
    MissingModulus,
    /// An action that writes a label has no `target_label`.
    #[error("relabel configuration for {0} action requires 'target_label' value")]
    MissingTargetLabel(Action),
    /// The `target_label` is not a valid label name.
    #[error("{target:?} is invalid 'target_label' for {action} action")]
    InvalidTargetLabel {
        /// The target label as written.
        target: String,
        /// The action.
        action: Action,
    },
    /// `replacement` was set for an action that does not use it.
    #[error("'replacement' can not be set for {0} action")]
    ReplacementNotAllowed(Action),
    /// `labelmap` with an empty replacement.
    #[error("{replacement:?} is invalid 'replacement' for {action} action")]
    InvalidReplacement {
        /// The replacement as written.
        replacement: String,
        /// The action.
        action: Action,
    },
    /// `keepequal` or `dropequal` with fields other than `source_labels` and `target_label`.
    #[error("{0} action requires only 'source_labels' and `target_label`, and no other fields")]
    OnlySourceAndTargetAllowed(Action),
    /// `labeldrop` or `labelkeep` with fields other than `regex`.
    #[error("{0} action requires only 'regex', and no other fields")]
    OnlyRegexAllowed(Action),
}

/// A relabelling action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Sets `target_label` to the expanded `replacement` when `regex` matches.
    #[default]
    Replace,
    /// Keeps the label set only when `regex` matches the joined source values.
    Keep,
    /// Drops the label set when `regex` matches the joined source values.
    Drop,
    /// Keeps the label set only when the joined source values equal `target_label`'s value.
    KeepEqual,
    /// Drops the label set when the joined source values equal `target_label`'s value.
    DropEqual,
    /// Sets `target_label` to the hash of the joined source values modulo `modulus`.
    HashMod,
    /// Copies every label whose name matches `regex` to the expanded `replacement`.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Sets `target_label` to the lower-cased joined source values.
    Lowercase,
    /// Sets `target_label` to the upper-cased joined source values.
    Uppercase,
}

impl Action {
    /// Every action, in Prometheus' documentation order.
    pub const ALL: [Action; 11] = [
        Action::Replace,
        Action::Lowercase,
        Action::Uppercase,
        Action::Keep,
        Action::Drop,
        Action::KeepEqual,
        Action::DropEqual,
        Action::HashMod,
        Action::LabelMap,
        Action::LabelDrop,
        Action::LabelKeep,
    ];

    /// Returns the action's name as written in configuration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }

    /// Parses an action name case-insensitively, as Prometheus does.
    ///
    /// # Errors
    ///
    /// Returns [`RelabelError::UnknownAction`] for any other string.
    pub fn parse(name: &str) -> Result<Action, RelabelError> {
        let lower = name.to_lowercase();
        Action::ALL
            .into_iter()
            .find(|action| action.as_str() == lower)
            .ok_or_else(|| RelabelError::UnknownAction(name.to_owned()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Action::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// A regular expression as Prometheus compiles it: fully anchored, `.` matching newline.
#[derive(Clone)]
pub struct Regex {
    pattern: String,
    regex: regex::Regex,
}

/// The default relabel regex.
const DEFAULT_REGEX: &str = "(.*)";
/// The default separator between source label values.
const DEFAULT_SEPARATOR: &str = ";";
/// The default replacement template.
const DEFAULT_REPLACEMENT: &str = "$1";

impl Regex {
    /// Compiles `pattern` (Go RE2 syntax) anchored as `^(?s:pattern)$`.
    ///
    /// # Errors
    ///
    /// Returns [`RelabelError::InvalidRegex`] when the pattern does not compile.
    pub fn new(pattern: &str) -> Result<Regex, RelabelError> {
        let regex = regex::Regex::new(&format!("^(?s:{})$", go_regex::translate(pattern)))
            .map_err(|error| RelabelError::InvalidRegex { pattern: pattern.to_owned(), message: error.to_string() })?;
        Ok(Regex { pattern: pattern.to_owned(), regex })
    }

    /// Returns the pattern as written, without the anchors.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Returns whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl Default for Regex {
    fn default() -> Self {
        Regex::new(DEFAULT_REGEX).unwrap_or_else(|_| unreachable!("the default regex compiles"))
    }
}

impl PartialEq for Regex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl fmt::Debug for Regex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regex({:?})", self.pattern)
    }
}

impl<'de> Deserialize<'de> for Regex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pattern = String::deserialize(deserializer)?;
        Regex::new(&pattern).map_err(serde::de::Error::custom)
    }
}

/// One relabelling step, deserialized from a `relabel_config` YAML mapping and validated.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawRelabelConfig")]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the input.
    pub source_labels: Vec<String>,
    /// The separator between source values (default `;`).
    pub separator: String,
    /// The anchored regex (default `(.*)`).
    pub regex: Regex,
    /// The modulus for `hashmod`.
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`, or compared by
    /// `keepequal`/`dropequal`.
    pub target_label: String,
    /// The template written by `replace` and `labelmap` (default `$1`).
    pub replacement: String,
    /// The action (default `replace`).
    pub action: Action,
}

/// The YAML form before defaults and validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelabelConfig {
    #[serde(default)]
    source_labels: Option<Vec<String>>,
    #[serde(default)]
    separator: Option<String>,
    #[serde(default)]
    regex: Option<Regex>,
    #[serde(default)]
    modulus: Option<u64>,
    #[serde(default)]
    target_label: Option<String>,
    #[serde(default)]
    replacement: Option<String>,
    #[serde(default)]
    action: Option<Action>,
}

impl TryFrom<RawRelabelConfig> for RelabelConfig {
    type Error = RelabelError;

    fn try_from(raw: RawRelabelConfig) -> Result<Self, RelabelError> {
        let config = RelabelConfig {
            source_labels: raw.source_labels.unwrap_or_default(),
            separator: raw.separator.unwrap_or_else(|| DEFAULT_SEPARATOR.to_owned()),
            regex: raw.regex.unwrap_or_default(),
            modulus: raw.modulus.unwrap_or_default(),
            target_label: raw.target_label.unwrap_or_default(),
            replacement: raw.replacement.unwrap_or_else(|| DEFAULT_REPLACEMENT.to_owned()),
            action: raw.action.unwrap_or_default(),
        };
        config.validate()?;
        Ok(config)
    }
}

impl Default for RelabelConfig {
    /// Returns Prometheus' default: `replace` with separator `;`, regex `(.*)`, replacement `$1`.
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            regex: Regex::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: DEFAULT_REPLACEMENT.to_owned(),
            action: Action::Replace,
        }
    }
}

impl RelabelConfig {
    /// Checks the config the way Prometheus validates a `relabel_config`.
    ///
    /// # Errors
    ///
    /// Returns the first rule violated, with Prometheus' message.
    pub fn validate(&self) -> Result<(), RelabelError> {
        let action = self.action;
        if let Some(name) = self.source_labels.iter().find(|name| name.is_empty()) {
            return Err(RelabelError::InvalidLabelName(name.clone()));
        }
        if action == Action::HashMod && self.modulus == 0 {
            return Err(RelabelError::MissingModulus);
        }
        let writes_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if writes_target && self.target_label.is_empty() {
            return Err(RelabelError::MissingTargetLabel(action));
        }
        let is_case_or_equal =
            matches!(action, Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual);
        if is_case_or_equal && self.replacement != DEFAULT_REPLACEMENT {
            return Err(RelabelError::ReplacementNotAllowed(action));
        }
        if action == Action::LabelMap && self.replacement.is_empty() {
            return Err(RelabelError::InvalidReplacement { replacement: self.replacement.clone(), action });
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex.as_str() != DEFAULT_REGEX || self.modulus != 0 || self.separator != DEFAULT_SEPARATOR)
        {
            return Err(RelabelError::OnlySourceAndTargetAllowed(action));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !self.target_label.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(RelabelError::OnlyRegexAllowed(action));
        }
        Ok(())
    }
}

/// The label set being relabelled: unsorted, unique names, no empty values.
struct WorkingSet {
    labels: Vec<Label>,
}

impl WorkingSet {
    fn get(&self, name: &str) -> &str {
        self.labels.iter().find(|label| &*label.name == name).map_or("", |label| &label.value)
    }

    fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.delete(name);
            return;
        }
        if let Some(label) = self.labels.iter_mut().find(|label| &*label.name == name) {
            if &*label.value != value {
                label.value = Arc::from(value);
            }
        } else {
            self.labels.push(Label::new(name, value));
        }
    }

    fn delete(&mut self, name: &str) {
        self.labels.retain(|label| &*label.name != name);
    }
}

/// Applies `configs` in order to `labels`; returns `None` when a step drops the set.
pub fn process(labels: &Labels, configs: &[RelabelConfig]) -> Option<Labels> {
    let mut set = WorkingSet { labels: labels.as_slice().to_vec() };
    for config in configs {
        if !apply(config, &mut set) {
            return None;
        }
    }
    Some(Labels::from_vec(set.labels))
}

/// Applies one step; returns false when the label set is dropped.
fn apply(config: &RelabelConfig, set: &mut WorkingSet) -> bool {
    let value = config.source_labels.iter().map(|name| set.get(name)).collect::<Vec<_>>().join(&config.separator);
    match config.action {
        Action::Drop => !config.regex.is_match(&value),
        Action::Keep => config.regex.is_match(&value),
        Action::DropEqual => set.get(&config.target_label) != value,
        Action::KeepEqual => set.get(&config.target_label) == value,
        Action::Replace => {
            // Fast path: with the default regex and no variables, this sets or deletes a label.
            if value.is_empty()
                && config.regex.as_str() == DEFAULT_REGEX
                && !has_template_variable(&config.target_label)
                && !has_template_variable(&config.replacement)
            {
                let (target, replacement) = (config.target_label.clone(), config.replacement.clone());
                set.set(&target, &replacement);
                return true;
            }
            let Some(captures) = config.regex.regex.captures(&value) else {
                return true;
            };
            let target = expand(&config.regex.regex, &captures, &config.target_label);
            if target.is_empty() {
                return true;
            }
            let replacement = expand(&config.regex.regex, &captures, &config.replacement);
            set.set(&target, &replacement);
            true
        }
        Action::Lowercase => {
            let lower: String = value.chars().flat_map(char::to_lowercase).collect();
            set.set(&config.target_label, &lower);
            true
        }
        Action::Uppercase => {
            let upper: String = value.chars().flat_map(char::to_uppercase).collect();
            set.set(&config.target_label, &upper);
            true
        }
        Action::HashMod => {
            let hash = hashmod(&value, config.modulus);
            set.set(&config.target_label, &hash.to_string());
            true
        }
        Action::LabelMap => {
            let snapshot = set.labels.clone();
            for label in &snapshot {
                if let Some(captures) = config.regex.regex.captures(&label.name) {
                    let name = expand(&config.regex.regex, &captures, &config.replacement);
                    set.set(&name, &label.value);
                }
            }
            true
        }
        Action::LabelDrop => {
            set.labels.retain(|label| !config.regex.is_match(&label.name));
            true
        }
        Action::LabelKeep => {
            set.labels.retain(|label| config.regex.is_match(&label.name));
            true
        }
    }
}

/// Returns Prometheus' `hashmod` of `value`: the last eight bytes of its MD5 digest as a
/// big-endian integer, modulo `modulus` (which validation guarantees is not zero).
pub fn hashmod(value: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(value.as_bytes());
    let mut last = [0u8; 8];
    last.copy_from_slice(&digest[8..16]);
    u64::from_be_bytes(last).checked_rem(modulus).unwrap_or(0)
}
