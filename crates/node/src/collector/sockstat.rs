//! `node_sockstat_*` from `/proc/net/sockstat` and `/proc/net/sockstat6`: one gauge per protocol
//! and field, `mem` (pages) also as `mem_bytes`.

use super::{Context, parse_number};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let page_size = rustix::param::page_size() as f64;
    for (file, required) in [("net/sockstat", true), ("net/sockstat6", false)] {
        let path = context.paths.proc(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if !required && error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Read { path, source }),
        };
        for line in text.lines() {
            let Some((protocol, fields)) = line.split_once(':') else { continue };
            let fields: Vec<&str> = fields.split_whitespace().collect();
            if !fields.len().is_multiple_of(2) {
                return Err(Error::Parse { path, message: format!("odd number of fields in {line:?}") });
            }
            for pair in fields.chunks(2) {
                let (key, value) = (pair[0], parse_number(&path, pair[1])?);
                if protocol == "sockets" {
                    if key == "used" {
                        out.gauge("node_sockstat_sockets_used", "Number of IPv4 sockets in use.", &[], value);
                    }
                    continue;
                }
                emit(out, protocol, key, value);
                if key == "mem" {
                    emit(out, protocol, "mem_bytes", value * page_size);
                }
            }
        }
    }
    Ok(())
}

fn emit(out: &mut MetricSet, protocol: &str, key: &str, value: f64) {
    let name = format!("node_sockstat_{protocol}_{key}");
    let help = format!("Number of {protocol} sockets in state {key}.");
    out.gauge(&name, &help, &[], value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn protocols_and_fields_become_gauges() {
        let fixture = Fixture::new();
        fixture.write(
            "proc/net/sockstat",
            "sockets: used 19\nTCP: inuse 5 orphan 0 tw 1 alloc 5 mem 325\nUDP: inuse 0 mem 2\nFRAG: inuse 0 memory 7\n",
        );
        fixture.write("proc/net/sockstat6", "TCP6: inuse 3\nFRAG6: inuse 0 memory 0\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let page = rustix::param::page_size() as f64;
        assert_eq!(out.value("node_sockstat_sockets_used", &[]), Some(19.0));
        assert_eq!(out.value("node_sockstat_TCP_tw", &[]), Some(1.0));
        assert_eq!(out.value("node_sockstat_TCP_mem", &[]), Some(325.0));
        assert_eq!(out.value("node_sockstat_TCP_mem_bytes", &[]), Some(325.0 * page));
        assert_eq!(out.value("node_sockstat_UDP_mem_bytes", &[]), Some(2.0 * page));
        assert_eq!(out.value("node_sockstat_FRAG_memory", &[]), Some(7.0));
        assert!(out.family("node_sockstat_FRAG_memory_bytes").is_none());
        assert_eq!(out.value("node_sockstat_TCP6_inuse", &[]), Some(3.0));
        assert_eq!(out.family("node_sockstat_TCP_inuse").unwrap().help, "Number of TCP sockets in state inuse.");
    }

    #[test]
    fn missing_sockstat6_is_not_an_error() {
        let fixture = Fixture::new();
        fixture.write("proc/net/sockstat", "sockets: used 1\n");
        collect(&fixture.context(), &mut MetricSet::new()).unwrap();
    }
}
