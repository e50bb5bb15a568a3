//! Query results and the annotations that accompany them.

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

    pub(crate) fn add_warning(&mut self, text: String) {
        if !self.warnings.contains(&text) {
            self.warnings.push(text);
        }
    }

    pub(crate) fn add_info(&mut self, text: String) {
        if !self.infos.contains(&text) {
            self.infos.push(text);
        }
    }
}
