//! `node_nf_conntrack_entries`, `node_nf_conntrack_entries_limit` and the
//! `node_nf_conntrack_stat_*` counters (summed over CPUs) from `/proc/sys/net/netfilter` and
//! `/proc/net/stat/nf_conntrack`; no data without the `nf_conntrack` module.

use super::{Context, read_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// The statistics columns reported, with their help texts.
const STATS: [(&str, &str); 8] = [
    ("found", "Number of searched entries which were successful."),
    ("invalid", "Number of packets seen which can not be tracked."),
    ("ignore", "Number of packets seen which are already connected to a conntrack entry."),
    ("insert", "Number of entries inserted into the list."),
    ("insert_failed", "Number of entries for which list insertion was attempted but failed."),
    ("drop", "Number of packets dropped due to conntrack failure."),
    ("early_drop", "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached."),
    ("search_restart", "Number of conntrack table lookups which had to be restarted due to hashtable resizes."),
];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let count = context.paths.proc("sys/net/netfilter/nf_conntrack_count");
    if !count.exists() {
        return Err(Error::NoData { what: "no connection tracking (nf_conntrack module not loaded)".to_owned() });
    }
    out.gauge(
        "node_nf_conntrack_entries",
        "Number of currently allocated flow entries for connection tracking.",
        &[],
        read_number(&count)?,
    );
    out.gauge(
        "node_nf_conntrack_entries_limit",
        "Maximum size of connection tracking table.",
        &[],
        read_number(&context.paths.proc("sys/net/netfilter/nf_conntrack_max"))?,
    );
    let path = context.paths.proc("net/stat/nf_conntrack");
    let text = read_text(&path)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    let mut sums = vec![0.0; header.len()];
    for line in lines {
        for (sum, raw) in sums.iter_mut().zip(line.split_whitespace()) {
            *sum += u64::from_str_radix(raw, 16)
                .map_err(|_| Error::Parse { path: path.clone(), message: format!("not hexadecimal: {raw:?}") })?
                as f64;
        }
    }
    for (column, help) in STATS {
        let Some(position) = header.iter().position(|name| *name == column) else { continue };
        out.gauge(&format!("node_nf_conntrack_stat_{column}"), help, &[], sums[position]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn counts_limit_and_statistics_summed_over_cpus() {
        let fixture = Fixture::new();
        fixture.write("proc/sys/net/netfilter/nf_conntrack_count", "123\n");
        fixture.write("proc/sys/net/netfilter/nf_conntrack_max", "262144\n");
        fixture.write(
            "proc/net/stat/nf_conntrack",
            "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n\
             0000007b  00000000 00000001 00000000 0000000a 00000000 00000000 00000000 00000002 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000003\n\
             0000007b  00000000 00000001 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000005 00000000 00000000  00000000 00000000 00000000 00000000\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_nf_conntrack_entries", &[]), Some(123.0));
        assert_eq!(out.value("node_nf_conntrack_entries_limit", &[]), Some(262_144.0));
        assert_eq!(out.value("node_nf_conntrack_stat_found", &[]), Some(2.0));
        assert_eq!(out.value("node_nf_conntrack_stat_invalid", &[]), Some(11.0));
        assert_eq!(out.value("node_nf_conntrack_stat_drop", &[]), Some(5.0));
        assert_eq!(out.value("node_nf_conntrack_stat_search_restart", &[]), Some(3.0));
    }

    #[test]
    fn without_the_module_there_is_no_data() {
        let fixture = Fixture::new();
        assert!(collect(&fixture.context(), &mut MetricSet::new()).unwrap_err().is_no_data());
    }
}
