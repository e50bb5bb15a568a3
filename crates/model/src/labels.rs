//! Label sets: the identity of a series.

use std::fmt;
use std::sync::Arc;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// Separator used when hashing label sets; it cannot occur in valid UTF-8.
const HASH_SEPARATOR: u8 = 0xff;

/// One name/value pair. Names and values are shared strings so that a head can intern them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Label {
    /// The label name.
    pub name: Arc<str>,
    /// The label value; never empty inside a [`Labels`] (empty means absent).
    pub value: Arc<str>,
}

impl Label {
    /// Returns a label from anything string-like.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        Self { name: name.into(), value: value.into() }
    }
}

/// Orders by name, then value, as strings. Interned strings make equal names and values the
/// same allocation, which compares equal without reading the bytes: sorting or merging a
/// store's label sets, which share most pairs, then compares few strings.
impl Ord for Label {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        fn compare(a: &Arc<str>, b: &Arc<str>) -> std::cmp::Ordering {
            if Arc::ptr_eq(a, b) { std::cmp::Ordering::Equal } else { a.as_ref().cmp(b.as_ref()) }
        }
        compare(&self.name, &other.name).then_with(|| compare(&self.value, &other.value))
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value)
    }
}

/// Why a label set is not acceptable for storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    /// The set has no `__name__` label, or an empty one.
    #[error("series {labels} has no metric name")]
    MissingMetricName {
        /// The offending label set, printed.
        labels: String,
    },
    /// A label name is empty.
    #[error("series {labels} has an empty label name")]
    EmptyLabelName {
        /// The offending label set, printed.
        labels: String,
    },
    /// The same label name occurs twice.
    #[error("series {labels} has duplicate label name {name:?}")]
    DuplicateLabelName {
        /// The offending label set, printed.
        labels: String,
        /// The duplicated name.
        name: String,
    },
}

/// A set of labels sorted by name, with unique names and no empty values.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels {
    labels: Vec<Label>,
}

impl Labels {
    /// Returns the empty label set.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Returns a label set from pairs, sorting them and dropping empty values.
    ///
    /// Duplicate names are kept so that [`Labels::validate`] can report them.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        Self::from_vec(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// Returns a label set from labels, sorting them and dropping empty values.
    pub fn from_vec(mut labels: Vec<Label>) -> Self {
        labels.retain(|label| !label.value.is_empty());
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        Self { labels }
    }

    /// Returns a label set from labels already sorted by name, unique and non-empty.
    ///
    /// Used by decoders of formats we wrote ourselves; checked in debug builds.
    pub fn from_sorted_unchecked(labels: Vec<Label>) -> Self {
        debug_assert!(labels.windows(2).all(|w| w[0].name < w[1].name));
        Self { labels }
    }

    /// Returns the value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels.binary_search_by(|label| (*label.name).cmp(name)).ok().map(|index| &*self.labels[index].value)
    }

    /// Returns the metric name, if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Returns whether a label called `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Returns the labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.labels.iter()
    }

    /// Returns the number of labels.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Returns whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Returns the labels as a slice.
    pub fn as_slice(&self) -> &[Label] {
        &self.labels
    }

    /// Consumes the set and returns its labels.
    pub fn into_vec(self) -> Vec<Label> {
        self.labels
    }

    /// Returns a stable 64-bit hash of the whole set (xxh3 over names and values).
    pub fn hash_value(&self) -> u64 {
        hash_label_pairs(self.labels.iter().map(|l| (&*l.name, &*l.value)))
    }

    /// Returns a hash over only the named labels (`on`) or all but them (`ignoring`),
    /// always leaving out `__name__` when `without` is true, as Prometheus' matching does.
    pub fn hash_for(&self, names: &[&str], without: bool) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for label in &self.labels {
            let listed = names.contains(&&*label.name);
            let keep = if without { !listed && &*label.name != METRIC_NAME } else { listed };
            if keep {
                hasher.update(label.name.as_bytes());
                hasher.update(&[HASH_SEPARATOR]);
                hasher.update(label.value.as_bytes());
                hasher.update(&[HASH_SEPARATOR]);
            }
        }
        hasher.digest()
    }

    /// Checks the set the way Prometheus 3 checks an ingested series: a non-empty metric name,
    /// non-empty label names, no duplicate names. Names may be any UTF-8.
    ///
    /// # Errors
    ///
    /// Returns the first problem found, naming the series.
    pub fn validate(&self) -> Result<(), LabelsError> {
        if self.metric_name().is_none() {
            return Err(LabelsError::MissingMetricName { labels: self.to_string() });
        }
        for (index, label) in self.labels.iter().enumerate() {
            if !is_valid_label_name(&label.name) {
                return Err(LabelsError::EmptyLabelName { labels: self.to_string() });
            }
            if index > 0 && self.labels[index - 1].name == label.name {
                return Err(LabelsError::DuplicateLabelName { labels: self.to_string(), name: label.name.to_string() });
            }
        }
        Ok(())
    }

    /// Returns a builder that starts from this set.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder { labels: self.labels.clone() }
    }

    /// Returns a copy without `__name__`.
    pub fn without_metric_name(&self) -> Labels {
        let mut builder = self.builder();
        builder.remove(METRIC_NAME);
        builder.build()
    }
}

impl fmt::Display for Labels {
    /// Formats as `name{a="b", c="d"}`, the way Prometheus prints a series.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        let is_legacy_name = name.is_some_and(is_valid_legacy_metric_name);
        if let Some(name) = name.filter(|_| is_legacy_name) {
            f.write_str(name)?;
        }
        f.write_str("{")?;
        let mut first = true;
        if let Some(name) = name.filter(|_| !is_legacy_name) {
            write!(f, "{name:?}")?;
            first = false;
        }
        for label in &self.labels {
            if name.is_some() && &*label.name == METRIC_NAME {
                continue;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            if is_valid_legacy_label_name(&label.name) {
                f.write_str(&label.name)?;
            } else {
                write!(f, "{:?}", &*label.name)?;
            }
            write!(f, "={:?}", &*label.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.labels.iter()
    }
}

/// Returns the hash [`Labels::hash_value`] gives the set made of these pairs, when they are
/// already in its canonical form (sorted by name, unique names, no empty values): stores use it
/// to find a series without building a [`Labels`].
pub fn hash_label_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut buffer = [0u8; 256];
    let mut used = 0;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    // Small pieces are batched: the streaming hasher has a per-call cost.
    let mut feed = |bytes: &[u8], hasher: &mut xxhash_rust::xxh3::Xxh3| {
        if used + bytes.len() > buffer.len() {
            hasher.update(&buffer[..used]);
            used = 0;
        }
        if bytes.len() > buffer.len() {
            hasher.update(bytes);
        } else {
            buffer[used..used + bytes.len()].copy_from_slice(bytes);
            used += bytes.len();
        }
    };
    for (name, value) in pairs {
        feed(name.as_bytes(), &mut hasher);
        feed(&[HASH_SEPARATOR], &mut hasher);
        feed(value.as_bytes(), &mut hasher);
        feed(&[HASH_SEPARATOR], &mut hasher);
    }
    hasher.update(&buffer[..used]);
    hasher.digest()
}

/// Returns whether pairs are in canonical label-set form: sorted by name with unique, non-empty
/// names and non-empty values.
pub fn is_canonical_label_pairs(pairs: &[(&str, &str)]) -> bool {
    pairs.iter().all(|(name, value)| !name.is_empty() && !value.is_empty()) && pairs.windows(2).all(|w| w[0].0 < w[1].0)
}

/// Edits a label set: set, remove, keep; then [`LabelsBuilder::build`] sorts once.
#[derive(Debug, Clone, Default)]
pub struct LabelsBuilder {
    labels: Vec<Label>,
}

impl LabelsBuilder {
    /// Returns an empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        self.labels.retain(|label| label.name != name);
        if !value.is_empty() {
            self.labels.push(Label { name, value });
        }
        self
    }

    /// Removes `name` if present.
    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.labels.retain(|label| &*label.name != name);
        self
    }

    /// Keeps only the labels whose names are listed.
    pub fn keep(&mut self, names: &[&str]) -> &mut Self {
        self.labels.retain(|label| names.contains(&&*label.name));
        self
    }

    /// Returns the current value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels.iter().find(|label| &*label.name == name).map(|label| &*label.value)
    }

    /// Returns the finished, sorted label set.
    pub fn build(&self) -> Labels {
        Labels::from_vec(self.labels.clone())
    }
}

/// Returns whether `name` is acceptable as a label name in Prometheus 3 (any non-empty UTF-8).
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

/// Returns whether `name` matches the legacy pattern `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Returns whether `name` matches the legacy metric-name pattern `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_valid_legacy_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_drops_empty_values() {
        let labels = Labels::from_pairs([("job", "api"), ("__name__", "up"), ("zone", "")]);
        assert_eq!(labels.len(), 2);
        assert_eq!(labels.metric_name(), Some("up"));
        assert_eq!(labels.to_string(), r#"up{job="api"}"#);
    }

    #[test]
    fn validate_rejects_missing_name_and_duplicates() {
        assert!(matches!(Labels::from_pairs([("job", "a")]).validate(), Err(LabelsError::MissingMetricName { .. })));
        let duplicated = Labels::from_pairs([("__name__", "up"), ("a", "1"), ("a", "2")]);
        assert!(matches!(duplicated.validate(), Err(LabelsError::DuplicateLabelName { .. })));
        let utf8 = Labels::from_pairs([("__name__", "http.requests"), ("k8s.pod", "x")]);
        assert_eq!(utf8.validate(), Ok(()));
        assert_eq!(utf8.to_string(), r#"{"http.requests", "k8s.pod"="x"}"#);
    }

    #[test]
    fn hash_differs_when_boundary_moves() {
        let a = Labels::from_pairs([("__name__", "m"), ("a", "bc")]);
        let b = Labels::from_pairs([("__name__", "m"), ("ab", "c")]);
        assert_ne!(a.hash_value(), b.hash_value());
    }

    #[test]
    fn pair_hash_equals_label_set_hash() {
        let long = "x".repeat(300);
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "api"), ("long", long.as_str())]);
        let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (&*l.name, &*l.value)).collect();
        assert!(is_canonical_label_pairs(&pairs));
        assert_eq!(hash_label_pairs(pairs.iter().copied()), labels.hash_value());
        assert!(!is_canonical_label_pairs(&[("b", "1"), ("a", "2")]));
        assert!(!is_canonical_label_pairs(&[("a", "")]));
    }

    #[test]
    fn hash_for_on_and_ignoring() {
        let a = Labels::from_pairs([("__name__", "x"), ("job", "j"), ("instance", "1")]);
        let b = Labels::from_pairs([("__name__", "y"), ("job", "j"), ("instance", "2")]);
        assert_eq!(a.hash_for(&["job"], false), b.hash_for(&["job"], false));
        assert_eq!(a.hash_for(&["instance"], true), b.hash_for(&["instance"], true));
        assert_ne!(a.hash_for(&[], true), b.hash_for(&[], true));
    }
}
