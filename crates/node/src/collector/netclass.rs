//! `node_network_*` device properties from `/sys/class/net/<device>` (`node_network_up`,
//! `node_network_info`, `node_network_mtu_bytes`, `node_network_speed_bytes`, ...), for every
//! device. An attribute the kernel refuses to read (`carrier` of a device that is down) is
//! left out, as node-exporter leaves it out.

use std::path::Path;

use super::{Context, list_dir};
use crate::error::Result;
use crate::exposition::MetricSet;

/// Numeric attributes: file, metric name (after `node_network_`), whether a counter, and the
/// factor to node-exporter's unit.
const ATTRIBUTES: [(&str, &str, bool, f64); 17] = [
    ("addr_assign_type", "address_assign_type", false, 1.0),
    ("carrier", "carrier", false, 1.0),
    ("carrier_changes", "carrier_changes_total", true, 1.0),
    ("carrier_up_count", "carrier_up_changes_total", true, 1.0),
    ("carrier_down_count", "carrier_down_changes_total", true, 1.0),
    ("dev_id", "device_id", false, 1.0),
    ("dormant", "dormant", false, 1.0),
    ("flags", "flags", false, 1.0),
    ("ifindex", "iface_id", false, 1.0),
    ("iflink", "iface_link", false, 1.0),
    ("link_mode", "iface_link_mode", false, 1.0),
    ("mtu", "mtu_bytes", false, 1.0),
    ("name_assign_type", "name_assign_type", false, 1.0),
    ("netdev_group", "net_dev_group", false, 1.0),
    // Mbit/s to bytes per second.
    ("speed", "speed_bytes", false, 125_000.0),
    ("tx_queue_len", "transmit_queue_length", false, 1.0),
    ("type", "protocol_type", false, 1.0),
];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let class = context.paths.sys("class/net");
    for device in list_dir(&class)? {
        let directory = class.join(&device);
        if !directory.is_dir() {
            continue;
        }
        let text = |file: &str| read_attribute(&directory, file);
        let operstate = text("operstate").unwrap_or_default();
        out.gauge(
            "node_network_up",
            "Value is 1 if operstate is 'up', 0 otherwise.",
            &[("device", &device)],
            if operstate == "up" { 1.0 } else { 0.0 },
        );
        out.gauge(
            "node_network_info",
            "Non-numeric data from /sys/class/net/<iface>, value is always 1.",
            &[
                ("device", &device),
                ("address", &text("address").unwrap_or_default()),
                ("broadcast", &text("broadcast").unwrap_or_default()),
                ("duplex", &text("duplex").unwrap_or_default()),
                ("operstate", &operstate),
                ("ifalias", &text("ifalias").unwrap_or_default()),
            ],
            1.0,
        );
        for (file, name, is_counter, factor) in ATTRIBUTES {
            let Some(value) = text(file).and_then(|raw| parse_integer(&raw)) else { continue };
            let name = format!("node_network_{name}");
            let help = format!("Network device property: {}", &name["node_network_".len()..]);
            let labels = [("device", device.as_str())];
            if is_counter {
                out.counter(&name, &help, &labels, value * factor);
            } else {
                out.gauge(&name, &help, &labels, value * factor);
            }
        }
    }
    Ok(())
}

/// Reads one attribute file without its trailing newline; `None` when the kernel refuses.
fn read_attribute(directory: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(directory.join(file)).ok().map(|text| text.trim_end_matches('\n').to_owned())
}

/// Parses a decimal or `0x` hexadecimal integer (`flags`, `dev_id` are hexadecimal).
fn parse_integer(raw: &str) -> Option<f64> {
    let raw = raw.trim();
    let value = match raw.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => raw.parse::<i64>().ok()?,
    };
    Some(value as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn properties_of_each_device_are_reported() {
        let fixture = Fixture::new();
        for (file, content) in [
            ("address", "02:fc:00:00:00:01"),
            ("broadcast", "ff:ff:ff:ff:ff:ff"),
            ("duplex", "unknown"),
            ("operstate", "up"),
            ("ifalias", ""),
            ("flags", "0x1003"),
            ("dev_id", "0x0"),
            ("mtu", "1400"),
            ("speed", "-1"),
            ("carrier", "1"),
            ("carrier_changes", "2"),
            ("tx_queue_len", "1000"),
            ("type", "1"),
        ] {
            fixture.write(&format!("sys/class/net/eth0/{file}"), &format!("{content}\n"));
        }
        fixture.write("sys/class/net/ifb0/operstate", "down\n");
        fixture.write("sys/class/net/ifb0/speed", "1000\n");
        fixture.write("sys/class/net/bonding_masters", "\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let eth0 = [("device", "eth0")];
        assert_eq!(out.value("node_network_up", &eth0), Some(1.0));
        assert_eq!(out.value("node_network_up", &[("device", "ifb0")]), Some(0.0));
        assert_eq!(out.value("node_network_flags", &eth0), Some(4099.0));
        assert_eq!(out.value("node_network_device_id", &eth0), Some(0.0));
        assert_eq!(out.value("node_network_mtu_bytes", &eth0), Some(1400.0));
        assert_eq!(out.value("node_network_speed_bytes", &eth0), Some(-125_000.0));
        assert_eq!(out.value("node_network_speed_bytes", &[("device", "ifb0")]), Some(125_000_000.0));
        assert_eq!(out.value("node_network_carrier_changes_total", &eth0), Some(2.0));
        assert_eq!(out.value("node_network_carrier", &[("device", "ifb0")]), None);
        let info = [
            ("device", "eth0"),
            ("address", "02:fc:00:00:00:01"),
            ("broadcast", "ff:ff:ff:ff:ff:ff"),
            ("duplex", "unknown"),
            ("operstate", "up"),
            ("ifalias", ""),
        ];
        assert_eq!(out.value("node_network_info", &info), Some(1.0));
        assert_eq!(out.family("node_network_up").unwrap().samples.len(), 2);
        assert_eq!(out.family("node_network_mtu_bytes").unwrap().help, "Network device property: mtu_bytes");
    }
}
