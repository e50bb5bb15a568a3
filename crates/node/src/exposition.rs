//! The metrics one gathering produced and their rendering as the Prometheus text format 0.0.4.
//!
//! Families and samples are ordered as Go's `client_golang` registry orders them (families by
//! name, samples by their label values in label-name order), so pages can be compared line by
//! line with node-exporter's. Never reads files; the collectors do.

use std::collections::HashMap;
use std::fmt::Write as _;

/// The type announced on a family's `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that only goes up (until a reset).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A value of unknown kind (node-exporter's netstat and vmstat fields).
    Untyped,
}

impl MetricKind {
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
        }
    }
}

/// One sample: labels sorted by name, and a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `(name, value)` pairs sorted by name; the metric name is not among them.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// A metric family: name, help text, type and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name.
    pub name: String,
    /// The `# HELP` text.
    pub help: String,
    /// The `# TYPE`.
    pub kind: MetricKind,
    /// The samples, in the order they were added until [`MetricSet::render`] sorts them.
    pub samples: Vec<Sample>,
}

/// The families gathered in one pass, in the order first added.
#[derive(Debug, Default)]
pub struct MetricSet {
    families: Vec<Family>,
    index: HashMap<String, usize>,
}

impl MetricSet {
    /// Returns an empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a gauge sample; `labels` may come in any order.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricKind::Gauge, labels, value);
    }

    /// Adds a counter sample; `labels` may come in any order.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricKind::Counter, labels, value);
    }

    /// Adds an untyped sample; `labels` may come in any order.
    pub fn untyped(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.add(name, help, MetricKind::Untyped, labels, value);
    }

    /// Adds a sample to the family `name`, creating the family with `help` and `kind` the first
    /// time; later help texts and kinds for the same name are ignored.
    pub fn add(&mut self, name: &str, help: &str, kind: MetricKind, labels: &[(&str, &str)], value: f64) {
        let mut pairs: Vec<(String, String)> =
            labels.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let position = match self.index.get(name) {
            Some(&position) => position,
            None => {
                self.families.push(Family { name: name.to_owned(), help: help.to_owned(), kind, samples: Vec::new() });
                self.index.insert(name.to_owned(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        self.families[position].samples.push(Sample { labels: pairs, value });
    }

    /// Returns the families in the order first added.
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// Returns the family called `name`, if any sample was added to it.
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.index.get(name).map(|&position| &self.families[position])
    }

    /// Returns the value of the sample of `name` with exactly `labels` (any order), if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut wanted: Vec<(&str, &str)> = labels.to_vec();
        wanted.sort_by(|a, b| a.0.cmp(b.0));
        self.family(name)?
            .samples
            .iter()
            .find(|sample| {
                sample.labels.len() == wanted.len()
                    && sample.labels.iter().zip(&wanted).all(|(have, want)| have.0 == want.0 && have.1 == want.1)
            })
            .map(|sample| sample.value)
    }

    /// Renders the set as the text format 0.0.4: families sorted by name, each with `# HELP` and
    /// `# TYPE`, samples sorted by label values; a second sample with the same labels as an
    /// earlier one is dropped, as a registry would refuse it.
    pub fn render(mut self) -> String {
        self.families.sort_by(|a, b| a.name.cmp(&b.name));
        let samples: usize = self.families.iter().map(|family| family.samples.len()).sum();
        let mut out = String::with_capacity(self.families.len() * 128 + samples * 64);
        for family in &mut self.families {
            if family.samples.is_empty() {
                continue;
            }
            family
                .samples
                .sort_by(|a, b| a.labels.iter().map(|(_, value)| value).cmp(b.labels.iter().map(|(_, value)| value)));
            family.samples.dedup_by(|later, earlier| later.labels == earlier.labels);
            out.push_str("# HELP ");
            out.push_str(&family.name);
            out.push(' ');
            escape_help(&mut out, &family.help);
            out.push_str("\n# TYPE ");
            out.push_str(&family.name);
            out.push(' ');
            out.push_str(family.kind.as_str());
            out.push('\n');
            for sample in &family.samples {
                out.push_str(&family.name);
                if !sample.labels.is_empty() {
                    out.push('{');
                    for (position, (name, value)) in sample.labels.iter().enumerate() {
                        if position > 0 {
                            out.push(',');
                        }
                        out.push_str(name);
                        out.push_str("=\"");
                        escape_label_value(&mut out, value);
                        out.push('"');
                    }
                    out.push('}');
                }
                out.push(' ');
                write_value(&mut out, sample.value);
                out.push('\n');
            }
        }
        out
    }
}

fn escape_help(out: &mut String, help: &str) {
    for character in help.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    for character in value.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            other => out.push(other),
        }
    }
}

/// Writes `value` as Go's `strconv.FormatFloat(v, 'g', -1, 64)`, as `client_golang` does;
/// small integers (most node values) take a fast path without the exponent formatting.
fn write_value(out: &mut String, value: f64) {
    #[allow(clippy::cast_possible_truncation)]
    if value.fract() == 0.0 && value.abs() < 1e6 {
        if value == 0.0 && value.is_sign_negative() {
            out.push_str("-0");
        } else {
            let _ = write!(out, "{}", value as i64);
        }
        return;
    }
    out.push_str(&panoptes_model::gofloat::format_g(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_sorts_families_and_samples_and_escapes() {
        let mut set = MetricSet::new();
        set.gauge("node_b", "B help with \\ and\nnewline.", &[("z", "1"), ("a", "x\"y")], 1.5);
        set.gauge("node_b", "ignored", &[("a", "a"), ("z", "2")], 2e9);
        set.counter("node_a_total", "A.", &[], 42.0);
        set.gauge("node_b", "ignored", &[("a", "a"), ("z", "2")], 7.0);
        let expected = "# HELP node_a_total A.\n# TYPE node_a_total counter\nnode_a_total 42\n\
            # HELP node_b B help with \\\\ and\\nnewline.\n# TYPE node_b gauge\n\
            node_b{a=\"a\",z=\"2\"} 2e+09\nnode_b{a=\"x\\\"y\",z=\"1\"} 1.5\n";
        assert_eq!(set.render(), expected);
    }

    #[test]
    fn values_are_formatted_as_go_does() {
        for (value, expected) in [
            (0.0, "0"),
            (-3.0, "-3"),
            (999_999.0, "999999"),
            (1e6, "1e+06"),
            (8.63675392e8, "8.63675392e+08"),
            (0.1, "0.1"),
            (27.173000000000002, "27.173000000000002"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ] {
            let mut out = String::new();
            write_value(&mut out, value);
            assert_eq!(out, expected, "{value}");
        }
    }
}
