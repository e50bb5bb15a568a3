//! `node_network_{receive,transmit}_<statistic>_total{device}` for devices
//! `--collector.netdev.device-exclude` does not exclude.
//!
//! node-exporter reads these over netlink and folds the detailed error counters into the
//! `/proc/net/dev` columns, so the columns of `/proc/net/dev` are the same numbers; netlink's
//! one extra counter, `rx_nohandler`, is read from sysfs.

use super::{Context, parse_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// The sixteen `/proc/net/dev` columns in order, as node-exporter names them.
const COLUMNS: [&str; 16] = [
    "receive_bytes",
    "receive_packets",
    "receive_errs",
    "receive_drop",
    "receive_fifo",
    "receive_frame",
    "receive_compressed",
    "receive_multicast",
    "transmit_bytes",
    "transmit_packets",
    "transmit_errs",
    "transmit_drop",
    "transmit_fifo",
    "transmit_colls",
    "transmit_carrier",
    "transmit_compressed",
];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("net/dev");
    let text = read_text(&path)?;
    for line in text.lines().skip(2) {
        let Some((device, columns)) = line.split_once(':') else {
            return Err(Error::Parse { path, message: format!("no device name in {line:?}") });
        };
        let device = device.trim();
        if context.netdev_device_exclude.is_match(device) {
            continue;
        }
        let values: Vec<&str> = columns.split_whitespace().collect();
        if values.len() != COLUMNS.len() {
            return Err(Error::Parse { path, message: format!("expected 16 columns in {line:?}") });
        }
        for (name, raw) in COLUMNS.iter().zip(values) {
            emit(out, device, name, parse_number(&path, raw)?);
        }
        let nohandler = context.paths.sys(&format!("class/net/{device}/statistics/rx_nohandler"));
        if let Ok(text) = std::fs::read_to_string(&nohandler) {
            emit(out, device, "receive_nohandler", parse_number(&nohandler, text.trim())?);
        }
    }
    Ok(())
}

fn emit(out: &mut MetricSet, device: &str, statistic: &str, value: f64) {
    out.counter(
        &format!("node_network_{statistic}_total"),
        &format!("Network device statistic {statistic}."),
        &[("device", device)],
        value,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit\n \
        face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
        lo:   63223      67    0    0    0     0          0         0    63223      67    0    0    0     0       0          0\n  \
        eth0: 151028408    4507    1    2    3     4          5         6   260261    2833    7    8    9     10       11          12\n";

    #[test]
    fn columns_and_nohandler_become_counters() {
        let fixture = Fixture::new();
        fixture.write("proc/net/dev", NET_DEV);
        fixture.write("sys/class/net/eth0/statistics/rx_nohandler", "13\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let eth0 = [("device", "eth0")];
        assert_eq!(out.value("node_network_receive_bytes_total", &eth0), Some(151_028_408.0));
        assert_eq!(out.value("node_network_receive_multicast_total", &eth0), Some(6.0));
        assert_eq!(out.value("node_network_transmit_colls_total", &eth0), Some(10.0));
        assert_eq!(out.value("node_network_transmit_compressed_total", &eth0), Some(12.0));
        assert_eq!(out.value("node_network_receive_nohandler_total", &eth0), Some(13.0));
        assert_eq!(out.value("node_network_receive_bytes_total", &[("device", "lo")]), None);
        assert_eq!(
            out.family("node_network_receive_bytes_total").unwrap().help,
            "Network device statistic receive_bytes."
        );
    }
}
