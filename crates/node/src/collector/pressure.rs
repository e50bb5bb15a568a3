//! `node_pressure_*` from `/proc/pressure/{cpu,io,memory}` (PSI): the `total` of the `some`
//! line as time waited, of the `full` line as time stalled, in seconds.

use super::Context;
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    for resource in ["cpu", "io", "memory"] {
        let path = context.paths.proc(&format!("pressure/{resource}"));
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoData {
                    what: "pressure information is unavailable (needs Linux 4.20 with CONFIG_PSI)".to_owned(),
                });
            }
            Err(source) => return Err(Error::Read { path, source }),
        };
        let (some, full) = parse(&text).ok_or_else(|| Error::Parse { path, message: "no some line".to_owned() })?;
        match resource {
            "cpu" => out.counter(
                "node_pressure_cpu_waiting_seconds_total",
                "Total time in seconds that processes have waited for CPU time",
                &[],
                some,
            ),
            "io" => {
                out.counter(
                    "node_pressure_io_waiting_seconds_total",
                    "Total time in seconds that processes have waited due to IO congestion",
                    &[],
                    some,
                );
                out.counter(
                    "node_pressure_io_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to IO congestion",
                    &[],
                    full.unwrap_or(0.0),
                );
            }
            _ => {
                out.counter(
                    "node_pressure_memory_waiting_seconds_total",
                    "Total time in seconds that processes have waited for memory",
                    &[],
                    some,
                );
                out.counter(
                    "node_pressure_memory_stalled_seconds_total",
                    "Total time in seconds no process could make progress due to memory congestion",
                    &[],
                    full.unwrap_or(0.0),
                );
            }
        }
    }
    Ok(())
}

/// Returns the `total` of the `some` and (if present) `full` lines, in seconds (divided by 1000
/// twice, as node-exporter does, so that the same counter gives the same float).
fn parse(text: &str) -> Option<(f64, Option<f64>)> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let kind = fields.next();
        let total = fields
            .find_map(|field| field.strip_prefix("total="))
            .and_then(|total| total.parse::<u64>().ok())
            .map(|micros| micros as f64 / 1000.0 / 1000.0);
        match kind {
            Some("some") => some = total,
            Some("full") => full = total,
            _ => {}
        }
    }
    Some((some?, full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn totals_become_seconds() {
        let fixture = Fixture::new();
        let line = |some: u64, full: u64| {
            format!(
                "some avg10=8.21 avg60=13.44 avg300=6.49 total={some}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total={full}\n"
            )
        };
        fixture.write("proc/pressure/cpu", &line(24_859_419, 0));
        fixture.write("proc/pressure/io", &line(3_909_318, 1_537_312));
        fixture.write("proc/pressure/memory", &line(5, 3));
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_pressure_cpu_waiting_seconds_total", &[]), Some(24_859_419.0 / 1000.0 / 1000.0));
        assert_eq!(out.value("node_pressure_io_waiting_seconds_total", &[]), Some(3_909_318.0 / 1000.0 / 1000.0));
        assert_eq!(out.value("node_pressure_io_stalled_seconds_total", &[]), Some(1_537_312.0 / 1000.0 / 1000.0));
        assert_eq!(out.value("node_pressure_memory_waiting_seconds_total", &[]), Some(5.0 / 1000.0 / 1000.0));
        assert_eq!(out.value("node_pressure_memory_stalled_seconds_total", &[]), Some(3.0 / 1000.0 / 1000.0));
        assert!(out.family("node_pressure_cpu_stalled_seconds_total").is_none());
    }

    #[test]
    fn missing_pressure_directory_is_no_data() {
        let fixture = Fixture::new();
        let error = collect(&fixture.context(), &mut MetricSet::new()).unwrap_err();
        assert!(error.is_no_data(), "{error}");
    }
}
