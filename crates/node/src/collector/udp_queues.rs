//! `node_udp_queues{ip,queue}`: the bytes queued in UDP sockets' send and receive buffers, summed
//! from the `tx_queue:rx_queue` column of `/proc/net/udp` and `/proc/net/udp6`.

use std::path::Path;

use super::Context;
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    for (file, ip) in [("net/udp", "v4"), ("net/udp6", "v6")] {
        let path = context.paths.proc(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            // IPv6 may be disabled.
            Err(error) if ip == "v6" && error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Read { path, source }),
        };
        let (tx, rx) = sum_queues(&path, &text)?;
        let help = "Number of allocated memory in the kernel for UDP datagrams in bytes.";
        out.gauge("node_udp_queues", help, &[("ip", ip), ("queue", "tx")], tx);
        out.gauge("node_udp_queues", help, &[("ip", ip), ("queue", "rx")], rx);
    }
    Ok(())
}

fn sum_queues(path: &Path, text: &str) -> Result<(f64, f64)> {
    let (mut tx, mut rx) = (0.0, 0.0);
    for line in text.lines().skip(1) {
        let Some(queues) = line.split_whitespace().nth(4) else { continue };
        let parse = |raw: &str| {
            u64::from_str_radix(raw, 16)
                .map(|value| value as f64)
                .map_err(|_| Error::Parse { path: path.to_owned(), message: format!("bad queue column {queues:?}") })
        };
        let (sent, received) = queues
            .split_once(':')
            .ok_or_else(|| Error::Parse { path: path.to_owned(), message: format!("bad queue column {queues:?}") })?;
        tx += parse(sent)?;
        rx += parse(received)?;
    }
    Ok((tx, rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn queues_are_summed_per_ip_version() {
        let fixture = Fixture::new();
        fixture.write(
            "proc/net/udp",
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
             \x20 1: 00000000:0044 00000000:0000 07 00000000:00000100 00:00000000 00000000     0        0 1 2 0000000000000000 0\n\
             \x20 2: 00000000:0045 00000000:0000 07 00000010:00000001 00:00000000 00000000     0        0 1 2 0000000000000000 0\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_udp_queues", &[("ip", "v4"), ("queue", "tx")]), Some(16.0));
        assert_eq!(out.value("node_udp_queues", &[("ip", "v4"), ("queue", "rx")]), Some(257.0));
        assert_eq!(out.value("node_udp_queues", &[("ip", "v6"), ("queue", "rx")]), None);
    }
}
