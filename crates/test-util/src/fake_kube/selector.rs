//! Label and field selectors as the API server evaluates them on JSON objects.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A parsed label selector (`app=web,tier!=db,env in (a,b),!legacy`); empty matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match character {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter().map(str::trim).filter(|part| !part.is_empty()).collect()
}

fn parse_set(text: &str) -> Result<Vec<String>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("invalid set {text:?}"))?;
    Ok(inner.split(',').map(|value| value.trim().to_owned()).collect())
}

impl LabelSelector {
    /// Parses a selector.
    ///
    /// # Errors
    ///
    /// Returns a message naming the malformed requirement.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let requirement = if let Some(key) = part.strip_prefix('!') {
                Requirement::DoesNotExist(key.trim().to_owned())
            } else if let Some((key, value)) = part.split_once("!=") {
                Requirement::NotEquals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = part.split_once("==") {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, value)) = part.split_once('=') {
                Requirement::Equals(key.trim().to_owned(), value.trim().to_owned())
            } else if let Some((key, set)) = part.split_once(" notin ") {
                Requirement::NotIn(key.trim().to_owned(), parse_set(set)?)
            } else if let Some((key, set)) = part.split_once(" in ") {
                Requirement::In(key.trim().to_owned(), parse_set(set)?)
            } else if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                Requirement::Exists(part.to_owned())
            } else {
                return Err(format!("unable to parse requirement: {part:?}"));
            };
            requirements.push(requirement);
        }
        Ok(LabelSelector { requirements })
    }

    /// Returns true when the object's labels satisfy every requirement.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        let label = |key: &str| labels.get(key).and_then(Value::as_str);
        self.requirements.iter().all(|requirement| match requirement {
            Requirement::Equals(key, value) => label(key) == Some(value),
            Requirement::NotEquals(key, value) => label(key) != Some(value),
            Requirement::In(key, values) => label(key).is_some_and(|label| values.iter().any(|value| value == label)),
            Requirement::NotIn(key, values) => {
                !label(key).is_some_and(|label| values.iter().any(|value| value == label))
            }
            Requirement::Exists(key) => label(key).is_some(),
            Requirement::DoesNotExist(key) => label(key).is_none(),
        })
    }
}

/// A parsed field selector (`spec.nodeName=n1,status.phase!=Failed`); empty matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// (dotted path, value, negated)
    requirements: Vec<(String, String, bool)>,
}

impl FieldSelector {
    /// Parses a selector.
    ///
    /// # Errors
    ///
    /// Returns a message naming the malformed requirement.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let requirement = if let Some((path, value)) = part.split_once("!=") {
                (path.trim().to_owned(), value.trim().to_owned(), true)
            } else if let Some((path, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (path.trim().to_owned(), value.trim().to_owned(), false)
            } else {
                return Err(format!("invalid field selector requirement: {part:?}"));
            };
            requirements.push(requirement);
        }
        Ok(FieldSelector { requirements })
    }

    /// Returns true when every field has (or, negated, has not) its value; a missing field
    /// reads as the empty string, as on the API server.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|(path, value, is_negated)| {
            let field = path.split('.').fold(object, |value, key| &value[key]);
            let text = match field {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (text == *value) != *is_negated
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_match_as_on_the_api_server() {
        let object = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        for (selector, expected) in [
            ("", true),
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("tier in (front, back)", true),
            ("tier notin (front)", false),
            ("app,!legacy", true),
            ("legacy", false),
        ] {
            assert_eq!(LabelSelector::parse(selector).expect(selector).matches(&object), expected, "{selector}");
        }
        assert!(LabelSelector::parse("a in b").is_err());
    }

    #[test]
    fn field_selectors_read_dotted_paths() {
        let object = json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n1"}});
        for (selector, expected) in
            [("spec.nodeName=n1", true), ("spec.nodeName!=n1", false), ("metadata.name=p,status.phase!=Failed", true)]
        {
            assert_eq!(FieldSelector::parse(selector).expect(selector).matches(&object), expected, "{selector}");
        }
    }
}
