//! Kernel counters from `/proc/stat`: `node_boot_time_seconds`, `node_context_switches_total`,
//! `node_forks_total`, `node_intr_total`, `node_procs_running`, `node_procs_blocked`.

use super::{Context, parse_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("stat");
    let text = read_text(&path)?;
    let mut boot_time = None;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(key), Some(first)) = (fields.next(), fields.next()) else { continue };
        match key {
            "btime" => boot_time = Some(parse_number(&path, first)?),
            "ctxt" => out.counter(
                "node_context_switches_total",
                "Total number of context switches.",
                &[],
                parse_number(&path, first)?,
            ),
            "processes" => {
                out.counter("node_forks_total", "Total number of forks.", &[], parse_number(&path, first)?);
            }
            "intr" => {
                out.counter("node_intr_total", "Total number of interrupts serviced.", &[], parse_number(&path, first)?)
            }
            "procs_running" => out.gauge(
                "node_procs_running",
                "Number of processes in runnable state.",
                &[],
                parse_number(&path, first)?,
            ),
            "procs_blocked" => out.gauge(
                "node_procs_blocked",
                "Number of processes blocked waiting for I/O to complete.",
                &[],
                parse_number(&path, first)?,
            ),
            _ => {}
        }
    }
    let Some(boot_time) = boot_time else {
        return Err(Error::Parse { path, message: "no btime line".to_owned() });
    };
    out.gauge("node_boot_time_seconds", "Node boot time, in unixtime.", &[], boot_time);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    pub(crate) const STAT: &str = "cpu  21821 0 2310 10999 234 0 63 282 0 0\n\
        cpu0 10679 0 1116 5851 52 0 12 141 0 0\n\
        cpu1 11142 3 1194 5148 181 0 51 140 7 2\n\
        intr 176442 0 0 0 1 1\n\
        ctxt 275676\n\
        btime 1796485485\n\
        processes 5544\n\
        procs_running 3\n\
        procs_blocked 1\n\
        softirq 86968 0 10161 4 5437 29874 0 183 15447 0 25862\n";

    #[test]
    fn kernel_counters_are_read() {
        let fixture = Fixture::new();
        fixture.write("proc/stat", STAT);
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_boot_time_seconds", &[]), Some(1_796_485_485.0));
        assert_eq!(out.value("node_context_switches_total", &[]), Some(275_676.0));
        assert_eq!(out.value("node_forks_total", &[]), Some(5544.0));
        assert_eq!(out.value("node_intr_total", &[]), Some(176_442.0));
        assert_eq!(out.value("node_procs_running", &[]), Some(3.0));
        assert_eq!(out.value("node_procs_blocked", &[]), Some(1.0));
    }
}
