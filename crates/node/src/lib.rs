//! Node metrics read from `/proc` and `/sys` under node-exporter's metric names, labels, units,
//! help texts and default filters, so that dashboards and alerts written for node-exporter work
//! unchanged. Reads files under configurable roots (host mounts in a container); does no
//! network I/O and never serves HTTP (the binary's `agent` mode does).

mod collector;
mod error;
mod exposition;

pub use collector::{
    CollectorName, DEFAULT_DISKSTATS_DEVICE_EXCLUDE, DEFAULT_FS_TYPES_EXCLUDE, DEFAULT_MOUNT_POINTS_EXCLUDE,
    DEFAULT_NETDEV_DEVICE_EXCLUDE, DEFAULT_NETSTAT_FIELDS, DEFAULT_VMSTAT_FIELDS, NodeCollector, NodeOptions, Paths,
};
pub use error::{Error, Result};
pub use exposition::{Family, MetricKind, MetricSet, Sample};
