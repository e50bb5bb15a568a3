//! `node_netstat_<Protocol>_<Field>` from `/proc/net/netstat`, `/proc/net/snmp` (header and
//! value line pairs) and `/proc/net/snmp6` (`Ip6InOctets 128` lines), for the fields
//! `--collector.netstat.fields` selects; untyped, as node-exporter exposes them.

use std::path::Path;

use super::{Context, parse_number};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let mut stats: Vec<(String, String, f64)> = Vec::new();
    for file in ["net/netstat", "net/snmp"] {
        let path = context.paths.proc(file);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read { path: path.clone(), source })?;
        parse_pairs(&path, &text, &mut stats)?;
    }
    let path = context.paths.proc("net/snmp6");
    match std::fs::read_to_string(&path) {
        Ok(text) => parse_snmp6(&path, &text, &mut stats)?,
        // IPv6 may be disabled; node-exporter then reports the IPv4 statistics alone.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(Error::Read { path, source }),
    }
    for (protocol, field, value) in stats {
        let key = format!("{protocol}_{field}");
        if !context.netstat_fields.is_match(&key) {
            continue;
        }
        out.untyped(&format!("node_netstat_{key}"), &format!("Statistic {protocol}{field}."), &[], value);
    }
    Ok(())
}

/// Parses `Proto: Name1 Name2` / `Proto: 1 2` line pairs.
fn parse_pairs(path: &Path, text: &str, stats: &mut Vec<(String, String, f64)>) -> Result<()> {
    let mut lines = text.lines();
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let (Some((protocol, names)), Some((value_protocol, values))) = (names.split_once(':'), values.split_once(':'))
        else {
            return Err(Error::Parse { path: path.to_owned(), message: format!("malformed line pair at {names:?}") });
        };
        let names: Vec<&str> = names.split_whitespace().collect();
        let values: Vec<&str> = values.split_whitespace().collect();
        if protocol != value_protocol || names.len() != values.len() {
            return Err(Error::Parse {
                path: path.to_owned(),
                message: format!("header and values of {protocol} do not match"),
            });
        }
        for (name, value) in names.into_iter().zip(values) {
            stats.push((protocol.to_owned(), name.to_owned(), parse_number(path, value)?));
        }
    }
    Ok(())
}

/// Parses `/proc/net/snmp6`: the protocol is the name up to and including its first `6`.
fn parse_snmp6(path: &Path, text: &str, stats: &mut Vec<(String, String, f64)>) -> Result<()> {
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(value)) = (fields.next(), fields.next()) else { continue };
        let Some(six) = name.find('6') else { continue };
        let (protocol, field) = name.split_at(six + 1);
        stats.push((protocol.to_owned(), field.to_owned(), parse_number(path, value)?));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    fn fixture() -> Fixture {
        let fixture = Fixture::new();
        fixture.write(
            "proc/net/netstat",
            "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows TCPTimeouts TCPOFOQueue\n\
             TcpExt: 0 1 2 3 4\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 150968709 223326\n",
        );
        fixture.write(
            "proc/net/snmp",
            "Ip: Forwarding DefaultTTL InReceives\nIp: 2 64 4500\n\
             Tcp: RtoAlgorithm MaxConn ActiveOpens CurrEstab InErrs\nTcp: 1 -1 17 6 0\n\
             Udp: InDatagrams NoPorts InErrors\nUdp: 27 0 0\n",
        );
        fixture.write(
            "proc/net/snmp6",
            "Ip6InReceives                   \t4\nIp6InOctets 128\nIcmp6OutMsgs 9\nUdpLite6InErrors 0\n",
        );
        fixture
    }

    #[test]
    fn default_fields_are_selected_from_all_three_files() {
        let fixture = fixture();
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let mut names: Vec<&str> = out.families().iter().map(|family| family.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "node_netstat_Icmp6_OutMsgs",
                "node_netstat_Ip6_InOctets",
                "node_netstat_IpExt_InOctets",
                "node_netstat_IpExt_OutOctets",
                "node_netstat_Ip_Forwarding",
                "node_netstat_TcpExt_ListenOverflows",
                "node_netstat_TcpExt_SyncookiesRecv",
                "node_netstat_TcpExt_SyncookiesSent",
                "node_netstat_TcpExt_TCPTimeouts",
                "node_netstat_Tcp_ActiveOpens",
                "node_netstat_Tcp_CurrEstab",
                "node_netstat_Tcp_InErrs",
                "node_netstat_UdpLite6_InErrors",
                "node_netstat_Udp_InDatagrams",
                "node_netstat_Udp_InErrors",
                "node_netstat_Udp_NoPorts",
            ]
        );
        assert_eq!(out.value("node_netstat_IpExt_InOctets", &[]), Some(150_968_709.0));
        assert_eq!(out.value("node_netstat_Ip6_InOctets", &[]), Some(128.0));
        assert_eq!(out.family("node_netstat_Ip6_InOctets").unwrap().help, "Statistic Ip6InOctets.");
        assert_eq!(out.family("node_netstat_Ip6_InOctets").unwrap().kind, crate::MetricKind::Untyped);
    }

    #[test]
    fn mismatched_header_is_an_error() {
        let fixture = fixture();
        fixture.write("proc/net/snmp", "Ip: Forwarding DefaultTTL\nIp: 2\n");
        assert!(matches!(collect(&fixture.context(), &mut MetricSet::new()), Err(Error::Parse { .. })));
    }
}
