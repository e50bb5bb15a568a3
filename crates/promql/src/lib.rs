//! PromQL engine over the storage traits (see ARCHITECTURE.md).
//!
//! [`parser`] wraps the maintained `promql-parser` crate and refuses syntax this engine does not
//! evaluate; [`Engine`] evaluates instant and range queries against any
//! [`panoptes_storage::Storage`] with Prometheus semantics; [`promqltest`] runs Prometheus'
//! `.test` acceptance scripts against the engine.
//!
//! ```
//! use panoptes_model::Labels;
//! use panoptes_promql::{Engine, EngineOptions, Value};
//! use panoptes_storage::{MemStorage, Storage};
//!
//! let storage = MemStorage::new();
//! let mut appender = storage.appender();
//! let series = Labels::from_pairs([("__name__", "requests_total"), ("job", "api")]);
//! for minute in 0..=10 {
//!     appender.append(&series, minute * 60_000, (minute * 60) as f64).unwrap();
//! }
//! appender.commit().unwrap();
//!
//! let engine = Engine::new(EngineOptions::default());
//! let (value, annotations) = engine.instant_query(&storage, "rate(requests_total[5m])", 600_000).unwrap();
//! let Value::Vector(vector) = value else { panic!("a vector") };
//! assert_eq!(vector[0].labels, Labels::from_pairs([("job", "api")]));
//! assert!((vector[0].v - 1.0).abs() < 1e-9);
//! assert!(annotations.is_empty());
//!
//! let (matrix, _) = engine.range_query(&storage, "sum(requests_total)", 0, 600_000, 60_000).unwrap();
//! assert!(matches!(matrix, Value::Matrix(m) if m[0].samples.len() == 11));
//! ```

mod engine;
mod error;
pub mod parser;
pub mod promqltest;
mod value;

pub use engine::{CancelToken, Engine, EngineOptions};
pub use error::{Error, Result};
pub use value::{Annotations, MatrixSeries, Value, VectorSample};
