//! `node_uname_info` from the uname system call (the kernel of the host or container the agent
//! runs in, as node-exporter reports it).

use super::Context;
use crate::error::Result;
use crate::exposition::MetricSet;

pub(super) fn collect(_context: &Context, out: &mut MetricSet) -> Result<()> {
    let uname = rustix::system::uname();
    let text = |value: &std::ffi::CStr| value.to_string_lossy().into_owned();
    let (sysname, nodename, release, version, machine, domainname) = (
        text(uname.sysname()),
        text(uname.nodename()),
        text(uname.release()),
        text(uname.version()),
        text(uname.machine()),
        text(uname.domainname()),
    );
    out.gauge(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        &[
            ("sysname", &sysname),
            ("release", &release),
            ("version", &version),
            ("machine", &machine),
            ("nodename", &nodename),
            ("domainname", &domainname),
        ],
        1.0,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn uname_matches_the_proc_files_of_this_kernel() {
        let fixture = Fixture::new();
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let family = out.family("node_uname_info").unwrap();
        let labels = &family.samples[0].labels;
        let label = |name: &str| labels.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str()).unwrap();
        let proc = |file: &str| std::fs::read_to_string(format!("/proc/sys/kernel/{file}")).unwrap().trim().to_owned();
        assert_eq!(label("sysname"), proc("ostype"));
        assert_eq!(label("release"), proc("osrelease"));
        assert_eq!(label("version"), proc("version"));
        assert_eq!(label("nodename"), proc("hostname"));
        assert_eq!(label("domainname"), proc("domainname"));
        assert_eq!(label("machine"), std::env::consts::ARCH);
    }
}
