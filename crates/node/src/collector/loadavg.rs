//! `node_load1`, `node_load5`, `node_load15` from `/proc/loadavg`.

use super::{Context, parse_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("loadavg");
    let text = read_text(&path)?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() < 3 {
        return Err(Error::Parse { path, message: format!("expected three load averages, got {text:?}") });
    }
    for (field, (name, help)) in fields.iter().zip([
        ("node_load1", "1m load average."),
        ("node_load5", "5m load average."),
        ("node_load15", "15m load average."),
    ]) {
        out.gauge(name, help, &[], parse_number(&path, field)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn load_averages_are_read() {
        let fixture = Fixture::new();
        fixture.write("proc/loadavg", "1.86 0.70 0.26 3/129 4754\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_load1", &[]), Some(1.86));
        assert_eq!(out.value("node_load5", &[]), Some(0.7));
        assert_eq!(out.value("node_load15", &[]), Some(0.26));
    }

    #[test]
    fn truncated_file_is_an_error() {
        let fixture = Fixture::new();
        fixture.write("proc/loadavg", "1.86\n");
        assert!(matches!(collect(&fixture.context(), &mut MetricSet::new()), Err(Error::Parse { .. })));
    }
}
