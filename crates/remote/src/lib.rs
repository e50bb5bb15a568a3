//! Panoptes' remote-write sender.
//!
//! One queue per `remote_write` entry tails the metrics WAL ([`panoptes_tsdb::wal::Tail`]) from a
//! position saved under the data directory, turns series and sample records into remote write
//! 1.0 requests (external labels, then `write_relabel_configs`), spreads series over shards and
//! sends with retries. The saved position moves only after the receiver accepted everything
//! before it, and the queue holds WAL truncation back until then, so an outage of the receiver
//! or a restart of Panoptes loses nothing (up to the database's bound on held WAL bytes).
//! [`RemoteWriteManager`] creates, updates and stops queues as the configuration changes.
//! See docs/remote-write.md.

mod error;
mod manager;
mod metrics;
mod position;
mod prompb;
mod queue;

pub use error::{Error, Result};
pub use manager::{RemoteWriteManager, queue_key};
pub use metrics::RemoteMetrics;
pub use position::{load_position, save_position};
pub use prompb::{Label, Sample, TimeSeries, WriteRequest};
