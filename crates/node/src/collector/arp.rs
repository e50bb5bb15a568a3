//! `node_arp_entries{device}`: the number of `/proc/net/arp` entries per network device.

use std::collections::BTreeMap;

use super::{Context, read_text};
use crate::error::Result;
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let text = read_text(&context.paths.proc("net/arp"))?;
    let mut entries: BTreeMap<&str, f64> = BTreeMap::new();
    for line in text.lines().skip(1) {
        if let Some(device) = line.split_whitespace().nth(5) {
            *entries.entry(device).or_default() += 1.0;
        }
    }
    for (device, count) in entries {
        out.gauge("node_arp_entries", "ARP entries by device", &[("device", device)], count);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn entries_are_counted_per_device() {
        let fixture = Fixture::new();
        fixture.write(
            "proc/net/arp",
            "IP address       HW type     Flags       HW address            Mask     Device\n\
             192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *        eth0\n\
             192.0.2.2        0x1         0x2         02:fc:00:00:00:06     *        eth0\n\
             10.0.0.1         0x1         0x0         00:00:00:00:00:00     *        eth1\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_arp_entries", &[("device", "eth0")]), Some(2.0));
        assert_eq!(out.value("node_arp_entries", &[("device", "eth1")]), Some(1.0));
    }
}
