//! Query results and the annotations that accompany them.

use std::collections::HashSet;

use panoptes_model::{Labels, Sample};

/// One element of an instant vector result.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSample {
    /// The series' labels.
    pub labels: Labels,
    /// The evaluation timestamp in milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector (matrix) result.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Its points in time order.
    pub samples: Vec<Sample>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A single number at the evaluation time.
    Scalar {
        /// The evaluation timestamp in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string literal at the evaluation time.
    String {
        /// The evaluation timestamp in milliseconds.
        t: i64,
        /// The string.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<VectorSample>),
    /// A range vector: the result of every range query, and of instant queries over a range
    /// selector or subquery.
    Matrix(Vec<MatrixSeries>),
}

impl Value {
    /// Returns the Prometheus name of the value's type (`scalar`, `string`, `vector`, `matrix`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Warnings and infos a query produced alongside its result, each formatted as Prometheus prints
/// them (`PromQL warning: ... (1:6)`), without duplicates, in order of first occurrence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    /// Warnings: the result may be wrong or incomplete.
    pub warnings: Vec<String>,
    /// Infos: the query may not do what its author meant.
    pub infos: Vec<String>,
}

impl Annotations {
    /// Returns whether there are neither warnings nor infos.
    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}

/// Builds [`Annotations`], dropping duplicates in O(1) amortised time per addition (a query over
/// many series may record the same text once per series) while keeping first-occurrence order.
#[derive(Debug, Default)]
pub(crate) struct AnnotationsBuilder {
    annotations: Annotations,
    seen_warnings: HashSet<String>,
    seen_infos: HashSet<String>,
}

impl AnnotationsBuilder {
    /// Adds a warning unless it was added before.
    pub(crate) fn add_warning(&mut self, text: String) {
        add_once(&mut self.annotations.warnings, &mut self.seen_warnings, text);
    }

    /// Adds an info unless it was added before.
    pub(crate) fn add_info(&mut self, text: String) {
        add_once(&mut self.annotations.infos, &mut self.seen_infos, text);
    }

    /// Returns the annotations added, in order of first occurrence.
    pub(crate) fn finish(self) -> Annotations {
        self.annotations
    }
}

fn add_once(list: &mut Vec<String>, seen: &mut HashSet<String>, text: String) {
    if !seen.contains(&text) {
        seen.insert(text.clone());
        list.push(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_builder_drops_duplicates_keeping_first_occurrence_order() {
        let mut builder = AnnotationsBuilder::default();
        for i in 0..20_000 {
            builder.add_info(format!("info {}", i % 3));
            builder.add_warning(format!("warning {}", (i + 1) % 2));
        }
        builder.add_info("warning 0".to_string());
        let annotations = builder.finish();
        assert_eq!(annotations.infos, ["info 0", "info 1", "info 2", "warning 0"]);
        assert_eq!(annotations.warnings, ["warning 1", "warning 0"]);
    }
}
