//! PromQL engine over the storage traits (see ARCHITECTURE.md).
//!
//! [`parser`] wraps the maintained `promql-parser` crate and refuses syntax this engine does not
//! evaluate; [`Engine`] evaluates instant and range queries against any
//! [`panoptes_storage::Storage`] with Prometheus semantics; [`promqltest`] runs Prometheus'
//! `.test` acceptance scripts against the engine.

mod engine;
mod error;
pub mod parser;
pub mod promqltest;
mod value;

pub use engine::{Engine, EngineOptions};
pub use error::{Error, Result};
pub use value::{Annotations, MatrixSeries, Value, VectorSample};
