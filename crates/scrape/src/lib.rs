//! Exposition parsing, relabelling and scrape configuration (see ARCHITECTURE.md).
//!
//! - [`exposition`]: a streaming parser over `&[u8]` for the Prometheus text format 0.0.4 and
//!   OpenMetrics 1.0, chosen from a `Content-Type` header with [`exposition::Format::from_content_type`].
//! - [`relabel`]: Prometheus `relabel_config` semantics.
//! - [`config`]: the Prometheus configuration file, loaded with [`config::load_file`] or
//!   [`config::parse_str`].
//! - [`append`]: one scraped page appended to storage with Prometheus' rules (label merging,
//!   metric relabelling, limits, staleness markers, `up` and `scrape_*` series).
//! - [`discovery`]: the target groups discoverers produce, and the file-SD file format.
//! - [`target`]: discovered label sets turned into scrape targets (labels, URL, timing).

pub mod append;
pub mod config;
pub mod discovery;
mod error;
pub mod exposition;
pub mod relabel;
pub mod target;

pub use error::{Error, Result};
