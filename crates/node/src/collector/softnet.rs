//! `node_softnet_{processed,dropped,times_squeezed}_total{cpu}` from `/proc/net/softnet_stat`
//! (one line of hexadecimal counters per CPU; the label is the line's position, as
//! node-exporter 1.5.0 numbers them).

use super::{Context, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// The first three columns: metric name and help text.
const COLUMNS: [(&str, &str); 3] = [
    ("node_softnet_processed_total", "Number of processed packets"),
    ("node_softnet_dropped_total", "Number of dropped packets"),
    ("node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota"),
];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("net/softnet_stat");
    let text = read_text(&path)?;
    for (cpu, line) in text.lines().enumerate() {
        let columns: Vec<&str> = line.split_whitespace().collect();
        if columns.len() < COLUMNS.len() {
            return Err(Error::Parse { path, message: format!("too few columns in {line:?}") });
        }
        let cpu = cpu.to_string();
        for ((name, help), raw) in COLUMNS.iter().zip(&columns) {
            let value = u64::from_str_radix(raw, 16)
                .map_err(|_| Error::Parse { path: path.clone(), message: format!("not hexadecimal: {raw:?}") })?;
            out.counter(name, help, &[("cpu", &cpu)], value as f64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn hexadecimal_columns_per_cpu() {
        let fixture = Fixture::new();
        fixture.write(
            "proc/net/softnet_stat",
            "00002cb5 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n\
             000033dd 0000000a 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000001\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_softnet_processed_total", &[("cpu", "0")]), Some(11445.0));
        assert_eq!(out.value("node_softnet_times_squeezed_total", &[("cpu", "0")]), Some(1.0));
        assert_eq!(out.value("node_softnet_dropped_total", &[("cpu", "1")]), Some(10.0));
    }
}
