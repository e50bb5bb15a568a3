//! `node_vmstat_<field>` from `/proc/vmstat` for the fields `--collector.vmstat.fields` selects;
//! untyped, as node-exporter exposes them.

use super::{Context, parse_number, read_text};
use crate::error::Result;
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("vmstat");
    let text = read_text(&path)?;
    for line in text.lines() {
        let Some((field, value)) = line.split_once(' ') else { continue };
        if !context.vmstat_fields.is_match(field) {
            continue;
        }
        let value = parse_number(&path, value.trim())?;
        let help = format!("/proc/vmstat information field {field}.");
        out.untyped(&format!("node_vmstat_{field}"), &help, &[], value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn default_fields_are_selected() {
        let fixture = Fixture::new();
        fixture.write(
            "proc/vmstat",
            "nr_free_pages 5791011\npgpgin 843433\npgpgout 1188960\npswpin 0\npswpout 0\npgfault 2647790\n\
             pgmajfault 486\npgfree 123\noom_kill 2\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let mut names: Vec<&str> = out.families().iter().map(|family| family.name.as_str()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "node_vmstat_oom_kill",
                "node_vmstat_pgfault",
                "node_vmstat_pgmajfault",
                "node_vmstat_pgpgin",
                "node_vmstat_pgpgout",
                "node_vmstat_pswpin",
                "node_vmstat_pswpout"
            ]
        );
        assert_eq!(out.value("node_vmstat_pgpgout", &[]), Some(1_188_960.0));
        assert_eq!(out.family("node_vmstat_oom_kill").unwrap().help, "/proc/vmstat information field oom_kill.");
    }
}
