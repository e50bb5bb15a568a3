//! The collector set: which collectors run, their roots and filters, and the per-collector
//! `node_scrape_collector_*` series. One module per collector under `collector/`, each a
//! function from [`Context`] to samples in a [`MetricSet`].

mod arp;
mod conntrack;
mod cpu;
mod diskstats;
mod entropy;
mod filefd;
mod filesystem;
mod hwmon;
mod loadavg;
mod meminfo;
mod netclass;
mod netdev;
mod netstat;
mod os;
mod pressure;
mod selinux;
mod sockstat;
mod softnet;
mod stat;
mod time;
mod timex;
mod udp_queues;
mod uname;
mod vmstat;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use regex::Regex;

use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// The collectors, named as node-exporter names them (`--collector.<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CollectorName {
    /// `node_arp_entries` from `/proc/net/arp`.
    Arp,
    /// `node_nf_conntrack_*` from `/proc/sys/net/netfilter` and `/proc/net/stat/nf_conntrack`.
    Conntrack,
    /// `node_cpu_seconds_total`, guest time, throttles, isolated CPUs.
    Cpu,
    /// `node_disk_*` from `/proc/diskstats` and udev.
    Diskstats,
    /// `node_entropy_*`.
    Entropy,
    /// `node_filefd_*`.
    Filefd,
    /// `node_filesystem_*` from the mount table and statfs.
    Filesystem,
    /// `node_hwmon_*` from `/sys/class/hwmon`.
    Hwmon,
    /// `node_load1`, `node_load5`, `node_load15`.
    Loadavg,
    /// `node_memory_*` from `/proc/meminfo`.
    Meminfo,
    /// `node_network_up`, `node_network_info` and the other device properties from sysfs.
    Netclass,
    /// `node_network_{receive,transmit}_*_total`.
    Netdev,
    /// `node_netstat_*` from `/proc/net/{netstat,snmp,snmp6}`.
    Netstat,
    /// `node_os_info`, `node_os_version`.
    Os,
    /// `node_pressure_*` from `/proc/pressure`.
    Pressure,
    /// `node_selinux_*`.
    Selinux,
    /// `node_sockstat_*`.
    Sockstat,
    /// `node_softnet_*` from `/proc/net/softnet_stat`.
    Softnet,
    /// `node_boot_time_seconds`, context switches, forks, interrupts, processes.
    Stat,
    /// `node_time_*`.
    Time,
    /// `node_timex_*` from adjtimex(2).
    Timex,
    /// `node_udp_queues` from `/proc/net/udp{,6}`.
    UdpQueues,
    /// `node_uname_info`.
    Uname,
    /// `node_vmstat_*`.
    Vmstat,
}

impl CollectorName {
    /// Every collector, in name order.
    pub const ALL: [CollectorName; 24] = [
        CollectorName::Arp,
        CollectorName::Conntrack,
        CollectorName::Cpu,
        CollectorName::Diskstats,
        CollectorName::Entropy,
        CollectorName::Filefd,
        CollectorName::Filesystem,
        CollectorName::Hwmon,
        CollectorName::Loadavg,
        CollectorName::Meminfo,
        CollectorName::Netclass,
        CollectorName::Netdev,
        CollectorName::Netstat,
        CollectorName::Os,
        CollectorName::Pressure,
        CollectorName::Selinux,
        CollectorName::Sockstat,
        CollectorName::Softnet,
        CollectorName::Stat,
        CollectorName::Time,
        CollectorName::Timex,
        CollectorName::UdpQueues,
        CollectorName::Uname,
        CollectorName::Vmstat,
    ];

    /// Returns the name used in flags and in the `collector` label.
    pub fn as_str(self) -> &'static str {
        match self {
            CollectorName::Arp => "arp",
            CollectorName::Conntrack => "conntrack",
            CollectorName::Cpu => "cpu",
            CollectorName::Diskstats => "diskstats",
            CollectorName::Entropy => "entropy",
            CollectorName::Filefd => "filefd",
            CollectorName::Filesystem => "filesystem",
            CollectorName::Hwmon => "hwmon",
            CollectorName::Loadavg => "loadavg",
            CollectorName::Meminfo => "meminfo",
            CollectorName::Netclass => "netclass",
            CollectorName::Netdev => "netdev",
            CollectorName::Netstat => "netstat",
            CollectorName::Os => "os",
            CollectorName::Pressure => "pressure",
            CollectorName::Selinux => "selinux",
            CollectorName::Sockstat => "sockstat",
            CollectorName::Softnet => "softnet",
            CollectorName::Stat => "stat",
            CollectorName::Time => "time",
            CollectorName::Timex => "timex",
            CollectorName::UdpQueues => "udp_queues",
            CollectorName::Uname => "uname",
            CollectorName::Vmstat => "vmstat",
        }
    }

    /// Returns the collector called `name`, if there is one.
    pub fn parse(name: &str) -> Option<CollectorName> {
        CollectorName::ALL.into_iter().find(|collector| collector.as_str() == name)
    }

    fn collect(self, context: &Context, out: &mut MetricSet) -> Result<()> {
        match self {
            CollectorName::Arp => arp::collect(context, out),
            CollectorName::Conntrack => conntrack::collect(context, out),
            CollectorName::Cpu => cpu::collect(context, out),
            CollectorName::Diskstats => diskstats::collect(context, out),
            CollectorName::Entropy => entropy::collect(context, out),
            CollectorName::Filefd => filefd::collect(context, out),
            CollectorName::Filesystem => filesystem::collect(context, out),
            CollectorName::Hwmon => hwmon::collect(context, out),
            CollectorName::Loadavg => loadavg::collect(context, out),
            CollectorName::Meminfo => meminfo::collect(context, out),
            CollectorName::Netclass => netclass::collect(context, out),
            CollectorName::Netdev => netdev::collect(context, out),
            CollectorName::Netstat => netstat::collect(context, out),
            CollectorName::Os => os::collect(context, out),
            CollectorName::Pressure => pressure::collect(context, out),
            CollectorName::Selinux => selinux::collect(context, out),
            CollectorName::Sockstat => sockstat::collect(context, out),
            CollectorName::Softnet => softnet::collect(context, out),
            CollectorName::Stat => stat::collect(context, out),
            CollectorName::Time => time::collect(context, out),
            CollectorName::Timex => timex::collect(context, out),
            CollectorName::UdpQueues => udp_queues::collect(context, out),
            CollectorName::Uname => uname::collect(context, out),
            CollectorName::Vmstat => vmstat::collect(context, out),
        }
    }
}

/// Where the collectors read from (node-exporter's `--path.*` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The procfs mount point, `/proc` by default.
    pub procfs: PathBuf,
    /// The sysfs mount point, `/sys` by default.
    pub sysfs: PathBuf,
    /// The root filesystem, `/` by default: mount points and `/etc/os-release` are under it.
    pub rootfs: PathBuf,
    /// udev's database of device properties, `/run/udev/data` by default.
    pub udev_data: PathBuf,
}

impl Default for Paths {
    fn default() -> Self {
        Paths {
            procfs: PathBuf::from("/proc"),
            sysfs: PathBuf::from("/sys"),
            rootfs: PathBuf::from("/"),
            udev_data: PathBuf::from("/run/udev/data"),
        }
    }
}

impl Paths {
    /// Returns the path under the procfs root, `relative` without a leading slash.
    pub(crate) fn proc(&self, relative: &str) -> PathBuf {
        self.procfs.join(relative)
    }

    /// Returns the path under the sysfs root, `relative` without a leading slash.
    pub(crate) fn sys(&self, relative: &str) -> PathBuf {
        self.sysfs.join(relative)
    }

    /// Returns `path` (absolute on the host) under the root filesystem.
    pub(crate) fn root(&self, path: &str) -> PathBuf {
        self.rootfs.join(path.trim_start_matches('/'))
    }
}

/// The options of a [`NodeCollector`]; [`NodeOptions::default`] gives node-exporter's defaults
/// (of the Debian 1.5.0 build this project compares against).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The roots read from.
    pub paths: Paths,
    /// The collectors that run.
    pub enabled: Vec<CollectorName>,
    /// Mount points whose filesystems are not reported.
    pub filesystem_mount_points_exclude: String,
    /// Filesystem types not reported.
    pub filesystem_fs_types_exclude: String,
    /// How long one statfs call may take before the mount point counts as stuck.
    pub filesystem_mount_timeout: Duration,
    /// Block devices not reported by the diskstats collector.
    pub diskstats_device_exclude: String,
    /// Network devices not reported by the netdev collector.
    pub netdev_device_exclude: String,
    /// The `/proc/net/{netstat,snmp,snmp6}` fields reported (`<Protocol>_<Field>`).
    pub netstat_fields: String,
    /// The `/proc/vmstat` fields reported.
    pub vmstat_fields: String,
}

/// node-exporter's default mount points excluded from the filesystem collector.
pub const DEFAULT_MOUNT_POINTS_EXCLUDE: &str =
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)";
/// node-exporter's default filesystem types excluded from the filesystem collector.
pub const DEFAULT_FS_TYPES_EXCLUDE: &str = "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$";
/// node-exporter's default block devices excluded from the diskstats collector (partitions,
/// RAM, loop and floppy devices).
pub const DEFAULT_DISKSTATS_DEVICE_EXCLUDE: &str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";
/// node-exporter's default network devices excluded from the netdev collector.
pub const DEFAULT_NETDEV_DEVICE_EXCLUDE: &str = "^lo$";
/// node-exporter's default netstat fields.
pub const DEFAULT_NETSTAT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";
/// node-exporter's default vmstat fields.
pub const DEFAULT_VMSTAT_FIELDS: &str = "^(oom_kill|pgpg|pswp|pg.*fault).*";

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            paths: Paths::default(),
            enabled: CollectorName::ALL.to_vec(),
            filesystem_mount_points_exclude: DEFAULT_MOUNT_POINTS_EXCLUDE.to_owned(),
            filesystem_fs_types_exclude: DEFAULT_FS_TYPES_EXCLUDE.to_owned(),
            filesystem_mount_timeout: Duration::from_secs(5),
            diskstats_device_exclude: DEFAULT_DISKSTATS_DEVICE_EXCLUDE.to_owned(),
            netdev_device_exclude: DEFAULT_NETDEV_DEVICE_EXCLUDE.to_owned(),
            netstat_fields: DEFAULT_NETSTAT_FIELDS.to_owned(),
            vmstat_fields: DEFAULT_VMSTAT_FIELDS.to_owned(),
        }
    }
}

/// What every collector receives: roots and compiled filters.
pub(crate) struct Context {
    pub(crate) paths: Paths,
    pub(crate) mount_points_exclude: Regex,
    pub(crate) fs_types_exclude: Regex,
    pub(crate) mount_timeout: Duration,
    pub(crate) diskstats_device_exclude: Regex,
    pub(crate) netdev_device_exclude: Regex,
    pub(crate) netstat_fields: Regex,
    pub(crate) vmstat_fields: Regex,
    pub(crate) filesystem: filesystem::StuckMounts,
    pub(crate) cpu_counters: cpu::CpuCounters,
}

/// Runs the enabled collectors and renders what they found.
pub struct NodeCollector {
    context: Context,
    enabled: Vec<CollectorName>,
}

impl NodeCollector {
    /// Compiles the options' filters.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Regex`] when a filter does not compile.
    pub fn try_new(options: NodeOptions) -> Result<Self> {
        let compile =
            |option: &'static str, pattern: &str| Regex::new(pattern).map_err(|source| Error::Regex { option, source });
        let context = Context {
            mount_points_exclude: compile(
                "collector.filesystem.mount-points-exclude",
                &options.filesystem_mount_points_exclude,
            )?,
            fs_types_exclude: compile("collector.filesystem.fs-types-exclude", &options.filesystem_fs_types_exclude)?,
            mount_timeout: options.filesystem_mount_timeout,
            diskstats_device_exclude: compile("collector.diskstats.device-exclude", &options.diskstats_device_exclude)?,
            netdev_device_exclude: compile("collector.netdev.device-exclude", &options.netdev_device_exclude)?,
            netstat_fields: compile("collector.netstat.fields", &options.netstat_fields)?,
            vmstat_fields: compile("collector.vmstat.fields", &options.vmstat_fields)?,
            filesystem: filesystem::StuckMounts::default(),
            cpu_counters: cpu::CpuCounters::default(),
            paths: options.paths,
        };
        let mut enabled = options.enabled;
        enabled.sort();
        enabled.dedup();
        Ok(NodeCollector { context, enabled })
    }

    /// Returns the collectors that run.
    pub fn enabled(&self) -> &[CollectorName] {
        &self.enabled
    }

    /// Runs every enabled collector once and returns their samples, plus
    /// `node_scrape_collector_duration_seconds` and `node_scrape_collector_success` per
    /// collector. A collector that fails or panics reports success 0 and is logged; the others
    /// are unaffected. Blocks on file reads: call from a blocking thread.
    pub fn gather(&self) -> MetricSet {
        let mut out = MetricSet::new();
        for &name in &self.enabled {
            let started = Instant::now();
            let result = self.run_one(name, &mut out);
            let elapsed = started.elapsed().as_secs_f64();
            let success = match result {
                Ok(()) => 1.0,
                Err(error) => {
                    if error.is_no_data() {
                        tracing::debug!(collector = name.as_str(), error = %error, "collector found no data");
                    } else {
                        tracing::warn!(collector = name.as_str(), error = %error, "collector failed");
                    }
                    0.0
                }
            };
            let labels = [("collector", name.as_str())];
            out.gauge(
                "node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.",
                &labels,
                elapsed,
            );
            out.gauge(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
                &labels,
                success,
            );
        }
        out.gauge(
            "panoptes_agent_build_info",
            "A metric with a constant '1' value labeled by the version of the Panoptes agent.",
            &[("version", env!("CARGO_PKG_VERSION"))],
            1.0,
        );
        out
    }

    /// Runs one collector, turning a panic into [`Error::Panicked`].
    fn run_one(&self, name: CollectorName, out: &mut MetricSet) -> Result<()> {
        match std::panic::catch_unwind(AssertUnwindSafe(|| name.collect(&self.context, out))) {
            Ok(result) => result,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Error::Panicked { message })
            }
        }
    }

    /// Runs the enabled collectors and renders the page (text format 0.0.4).
    pub fn render(&self) -> String {
        self.gather().render()
    }
}

/// Reads a whole file as text.
pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_owned(), source })
}

/// Reads a file holding one number (sysfs and `/proc/sys` style), trimming whitespace.
pub(crate) fn read_number(path: &Path) -> Result<f64> {
    let text = read_text(path)?;
    parse_number(path, text.trim())
}

/// Parses one number, naming `path` in the error.
pub(crate) fn parse_number(path: &Path, text: &str) -> Result<f64> {
    text.parse::<f64>().map_err(|_| Error::Parse { path: path.to_owned(), message: format!("not a number: {text:?}") })
}

/// Lists a directory's entry names, sorted.
pub(crate) fn list_dir(path: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(path).map_err(|source| Error::Read { path: path.to_owned(), source })?;
    let mut names: Vec<String> =
        entries.filter_map(|entry| entry.ok()).map(|entry| entry.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::testing::Fixture;
    use super::*;

    #[test]
    fn failing_collectors_report_zero_and_the_others_still_run() {
        let fixture = Fixture::new();
        fixture.write("proc/loadavg", "0.5 0.25 0.125 1/2 3\n");
        fixture.write("proc/meminfo", "this is not meminfo\n");
        let options = NodeOptions {
            paths: fixture.paths(),
            enabled: vec![CollectorName::Meminfo, CollectorName::Loadavg, CollectorName::Entropy, CollectorName::Hwmon],
            ..NodeOptions::default()
        };
        let collector = NodeCollector::try_new(options).unwrap();
        let set = collector.gather();
        let success = |name: &str| set.value("node_scrape_collector_success", &[("collector", name)]);
        assert_eq!(success("loadavg"), Some(1.0));
        assert_eq!(success("meminfo"), Some(0.0));
        assert_eq!(success("entropy"), Some(0.0));
        assert_eq!(success("hwmon"), Some(0.0));
        assert_eq!(success("cpu"), None);
        assert_eq!(set.value("node_load15", &[]), Some(0.125));
        assert!(set.value("node_scrape_collector_duration_seconds", &[("collector", "loadavg")]).is_some());
        let page = collector.render();
        assert!(page.contains("# TYPE node_load1 gauge\nnode_load1 0.5\n"), "{page}");
        assert!(page.contains("panoptes_agent_build_info{version=\""), "{page}");
    }

    #[test]
    fn invalid_patterns_are_refused() {
        let options = NodeOptions { netdev_device_exclude: "(".to_owned(), ..NodeOptions::default() };
        let error = NodeCollector::try_new(options).err().expect("refused");
        assert!(matches!(error, Error::Regex { option: "collector.netdev.device-exclude", .. }), "{error}");
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Fixture trees: a fake `/proc`, `/sys` and root written from real-format content.

    use std::path::Path;

    use super::{Context, NodeCollector, NodeOptions, Paths};

    /// A temporary fake root with `proc/`, `sys/` and `root/` directories.
    pub(crate) struct Fixture {
        pub(crate) dir: tempfile::TempDir,
    }

    impl Fixture {
        pub(crate) fn new() -> Self {
            let dir = tempfile::tempdir().expect("temp dir");
            for sub in ["proc", "sys", "root", "udev"] {
                std::fs::create_dir_all(dir.path().join(sub)).expect("create fixture dir");
            }
            Fixture { dir }
        }

        /// Writes `content` at `relative` (e.g. `proc/meminfo`), creating parent directories.
        pub(crate) fn write(&self, relative: &str, content: &str) -> &Self {
            let path = self.dir.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("create parent");
            std::fs::write(path, content).expect("write fixture file");
            self
        }

        pub(crate) fn path(&self, relative: &str) -> std::path::PathBuf {
            self.dir.path().join(relative)
        }

        pub(crate) fn paths(&self) -> Paths {
            let root: &Path = self.dir.path();
            Paths {
                procfs: root.join("proc"),
                sysfs: root.join("sys"),
                rootfs: root.join("root"),
                udev_data: root.join("udev"),
            }
        }

        pub(crate) fn context(&self) -> Context {
            let options = NodeOptions { paths: self.paths(), ..NodeOptions::default() };
            NodeCollector::try_new(options).expect("default options compile").context
        }
    }
}
