//! `node_memory_*` from `/proc/meminfo`: `Active(anon)` becomes `Active_anon`, fields in kB
//! become bytes with a `_bytes` suffix, unitless fields (`HugePages_Total`) keep their name.

use super::{Context, parse_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("meminfo");
    let text = read_text(&path)?;
    let mut found = false;
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (key, value, has_unit) = match parts[..] {
            [key, value] => (key, value, false),
            [key, value, _unit] => (key, value, true),
            [] => continue,
            _ => return Err(Error::Parse { path, message: format!("invalid line {line:?}") }),
        };
        let key = key.strip_suffix(':').unwrap_or(key);
        let mut name = String::with_capacity(key.len() + 20);
        name.push_str("node_memory_");
        match key.split_once('(') {
            Some((before, inner)) => {
                name.push_str(before);
                name.push('_');
                name.push_str(inner.trim_end_matches(')'));
            }
            None => name.push_str(key),
        }
        let mut value = parse_number(&path, value)?;
        if has_unit {
            value *= 1024.0;
            name.push_str("_bytes");
        }
        let help = format!("Memory information field {}.", &name["node_memory_".len()..]);
        out.gauge(&name, &help, &[], value);
        found = true;
    }
    if !found {
        return Err(Error::Parse { path, message: "no fields".to_owned() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn fields_get_node_exporter_names_and_units() {
        let fixture = Fixture::new();
        fixture.write(
            "proc/meminfo",
            "MemTotal:       24683780 kB\nActive(anon):     123456 kB\nHugePages_Total:       0\nHugepagesize:       2048 kB\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_memory_MemTotal_bytes", &[]), Some(24_683_780.0 * 1024.0));
        assert_eq!(out.value("node_memory_Active_anon_bytes", &[]), Some(123_456.0 * 1024.0));
        assert_eq!(out.value("node_memory_HugePages_Total", &[]), Some(0.0));
        assert_eq!(out.value("node_memory_Hugepagesize_bytes", &[]), Some(2048.0 * 1024.0));
        let family = out.family("node_memory_Active_anon_bytes").unwrap();
        assert_eq!(family.help, "Memory information field Active_anon_bytes.");
    }
}
