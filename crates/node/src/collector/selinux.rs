//! `node_selinux_enabled`, and where SELinux is on, `node_selinux_current_mode` (from selinuxfs)
//! and `node_selinux_config_mode` (from `/etc/selinux/config`): 1 enforcing, 0 permissive,
//! -1 disabled.

use super::Context;
use crate::error::Result;
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let enforce = std::fs::read_to_string(context.paths.sys("fs/selinux/enforce")).ok();
    let Some(enforce) = enforce else {
        out.gauge("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false", &[], 0.0);
        return Ok(());
    };
    out.gauge("node_selinux_enabled", "SELinux is enabled, 1 is true, 0 is false", &[], 1.0);
    let current = if enforce.trim() == "1" { 1.0 } else { 0.0 };
    out.gauge("node_selinux_current_mode", "Current SELinux enforcement mode", &[], current);
    let config = std::fs::read_to_string(context.paths.root("/etc/selinux/config")).unwrap_or_default();
    let configured = config
        .lines()
        .filter_map(|line| line.trim().strip_prefix("SELINUX="))
        .map(|mode| match mode.trim() {
            "enforcing" => 1.0,
            "permissive" => 0.0,
            _ => -1.0,
        })
        .next_back()
        .unwrap_or(-1.0);
    out.gauge("node_selinux_config_mode", "Configured SELinux enforcement mode", &[], configured);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn without_selinuxfs_selinux_is_disabled() {
        let fixture = Fixture::new();
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_selinux_enabled", &[]), Some(0.0));
        assert!(out.family("node_selinux_current_mode").is_none());
    }

    #[test]
    fn modes_are_read_where_selinux_is_on() {
        let fixture = Fixture::new();
        fixture.write("sys/fs/selinux/enforce", "0");
        fixture.write("root/etc/selinux/config", "# comment\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.value("node_selinux_enabled", &[]), Some(1.0));
        assert_eq!(out.value("node_selinux_current_mode", &[]), Some(0.0));
        assert_eq!(out.value("node_selinux_config_mode", &[]), Some(1.0));
    }
}
