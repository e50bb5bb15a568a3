//! Scraping without the network: configuration, discovery output, targets, exposition
//! parsing, relabelling and appending (see ARCHITECTURE.md). The scrape loop (scheduling and
//! HTTP) drives these pieces; none of them does network I/O.
//!
//! - [`config`]: the Prometheus configuration file ([`config::load_file`], [`config::parse_str`],
//!   [`config::parse_config_map`]), `scrape_config_files` ([`config::Config::all_scrape_configs`])
//!   and promtool's extra checks ([`config::check_config`]).
//! - [`discovery`]: the [`discovery::TargetGroup`]s discoverers produce, and the file-SD format.
//! - [`target`]: a group's label sets turned into scrape targets (labels, URL, interval).
//! - [`exposition`]: a streaming parser over `&[u8]` for the Prometheus text format 0.0.4 and
//!   OpenMetrics 1.0, chosen with [`exposition::Format::negotiate`].
//! - [`relabel`]: Prometheus `relabel_config` semantics.
//! - [`append`]: one scraped page appended to storage with Prometheus' rules (label merging,
//!   metric relabelling, limits, staleness markers, `up` and `scrape_*` series).
//!
//! One scrape, in order: `target::targets_from_group` → HTTP GET of `Target::url()` with
//! `ScrapeConfig::accept_header()` → `Format::negotiate(content_type, fallback)` →
//! `ScrapeCache::append_page` (or `ScrapeCache::mark_all_stale` when the request failed) →
//! `append::append_report`.

pub mod append;
pub mod client;
pub mod config;
pub mod discovery;
mod error;
pub mod exposition;
pub mod manager;
pub mod operator;
pub mod relabel;
mod scrape_loop;
pub mod target;

pub use manager::{ActiveTarget, DroppedTarget, ScrapeManager, TargetsSnapshot};
pub use scrape_loop::{Health, TargetHealth};

pub use error::{Error, Result};
