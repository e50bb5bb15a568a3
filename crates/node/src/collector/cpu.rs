//! `node_cpu_seconds_total{cpu,mode}` and `node_cpu_guest_seconds_total{cpu,mode}` from the
//! `cpuN` lines of `/proc/stat`; thermal throttle counters and isolated CPUs from sysfs where
//! the kernel offers them.
//!
//! The kernel's idle and iowait times can step back a little; like node-exporter, the collector
//! keeps the largest value seen per CPU and mode so that the counters never decrease, and
//! forgets a CPU whose idle time fell by 3 s or more (it went offline and came back).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{Context, list_dir, parse_number, read_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::MetricSet;

/// Clock ticks per second of `/proc/stat` (`USER_HZ`, 100 on every Linux architecture's ABI).
const USER_HZ: f64 = 100.0;

/// An idle time this far below the last one means the CPU was reset (hotplug), not jitter.
const JUMP_BACK_SECONDS: f64 = 3.0;

/// The largest values seen per CPU: the eight modes, then guest and guest nice, in seconds.
#[derive(Debug, Default)]
pub(crate) struct CpuCounters {
    last: Mutex<HashMap<String, [f64; 10]>>,
}

impl CpuCounters {
    /// Returns `current` with every value raised to the largest seen before for this CPU.
    fn monotonic(&self, cpu: &str, mut current: [f64; 10]) -> [f64; 10] {
        let Ok(mut last) = self.last.lock() else { return current };
        let previous = last.entry(cpu.to_owned()).or_insert(current);
        // Index 3 is idle.
        if previous[3] - current[3] >= JUMP_BACK_SECONDS {
            *previous = current;
        }
        for (value, previous) in current.iter_mut().zip(previous.iter_mut()) {
            if *value >= *previous {
                *previous = *value;
            } else {
                *value = *previous;
            }
        }
        current
    }
}

/// The columns of a `cpuN` line in order, as node-exporter names the modes.
const MODES: [&str; 8] = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("stat");
    let text = read_text(&path)?;
    let mut found = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some(cpu) = fields.next().and_then(|name| name.strip_prefix("cpu")) else { continue };
        if cpu.is_empty() {
            continue;
        }
        let values = fields.map(|field| parse_number(&path, field)).collect::<Result<Vec<f64>>>()?;
        if values.len() < MODES.len() {
            return Err(Error::Parse { path, message: format!("too few columns in {line:?}") });
        }
        let mut seconds = [0.0; 10];
        for (slot, value) in seconds.iter_mut().zip(&values) {
            *slot = value / USER_HZ;
        }
        let seconds = context.cpu_counters.monotonic(cpu, seconds);
        for (mode, value) in MODES.iter().zip(&seconds) {
            out.counter(
                "node_cpu_seconds_total",
                "Seconds the CPUs spent in each mode.",
                &[("cpu", cpu), ("mode", mode)],
                *value,
            );
        }
        for (mode, value) in [("user", seconds[8]), ("nice", seconds[9])] {
            out.counter(
                "node_cpu_guest_seconds_total",
                "Seconds the CPUs spent in guests (VMs) for each mode.",
                &[("cpu", cpu), ("mode", mode)],
                value,
            );
        }
        found = true;
    }
    if !found {
        return Err(Error::Parse { path, message: "no cpuN lines".to_owned() });
    }
    isolated(context, out)?;
    throttles(context, out);
    Ok(())
}

/// `node_cpu_isolated{cpu}` from `/sys/devices/system/cpu/isolated` (a list like `1-3,5`).
fn isolated(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.sys("devices/system/cpu/isolated");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    for range in text.trim().split(',').filter(|range| !range.is_empty()) {
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let parse = |number: &str| {
            number
                .parse::<u32>()
                .map_err(|_| Error::Parse { path: path.clone(), message: format!("bad CPU list {text:?}") })
        };
        for cpu in parse(first)?..=parse(last)? {
            out.gauge(
                "node_cpu_isolated",
                "Whether each core is isolated, information from /sys/devices/system/cpu/isolated.",
                &[("cpu", &cpu.to_string())],
                1.0,
            );
        }
    }
    Ok(())
}

/// `node_cpu_core_throttles_total{core,package}` and `node_cpu_package_throttles_total{package}`
/// from `cpuN/thermal_throttle`, counted once per core and per package.
fn throttles(context: &Context, out: &mut MetricSet) {
    let directory = context.paths.sys("devices/system/cpu");
    let Ok(entries) = list_dir(&directory) else { return };
    let mut cores: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    let mut packages: BTreeMap<u64, f64> = BTreeMap::new();
    for entry in entries {
        let Some(number) = entry.strip_prefix("cpu") else { continue };
        if number.is_empty() || !number.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        let cpu = directory.join(&entry);
        let id = |file: &str| read_number(&cpu.join("topology").join(file)).ok().map(|value| value as u64);
        let (Some(package), Some(core)) = (id("physical_package_id"), id("core_id")) else { continue };
        if let std::collections::btree_map::Entry::Vacant(slot) = cores.entry((package, core))
            && let Ok(count) = read_number(&cpu.join("thermal_throttle/core_throttle_count"))
        {
            slot.insert(count);
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = packages.entry(package)
            && let Ok(count) = read_number(&cpu.join("thermal_throttle/package_throttle_count"))
        {
            slot.insert(count);
        }
    }
    for ((package, core), count) in cores {
        out.counter(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            &[("package", &package.to_string()), ("core", &core.to_string())],
            count,
        );
    }
    for (package, count) in packages {
        out.counter(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            &[("package", &package.to_string())],
            count,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    const STAT: &str = "cpu  21821 0 2310 10999 234 0 63 282 0 0\n\
        cpu0 10679 0 1116 5851 52 0 12 141 0 0\n\
        cpu1 11142 3 1194 5148 181 0 51 140 7 2\n\
        intr 176442 0 0 0 1 1\nctxt 275676\nbtime 1796485485\n";

    #[test]
    fn ticks_become_seconds_per_cpu_and_mode() {
        let fixture = Fixture::new();
        fixture.write("proc/stat", STAT);
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let family = out.family("node_cpu_seconds_total").unwrap();
        assert_eq!(family.samples.len(), 16);
        assert_eq!(out.value("node_cpu_seconds_total", &[("cpu", "1"), ("mode", "user")]), Some(111.42));
        assert_eq!(out.value("node_cpu_seconds_total", &[("cpu", "1"), ("mode", "nice")]), Some(0.03));
        assert_eq!(out.value("node_cpu_seconds_total", &[("cpu", "0"), ("mode", "idle")]), Some(58.51));
        assert_eq!(out.value("node_cpu_seconds_total", &[("cpu", "1"), ("mode", "steal")]), Some(1.4));
        assert_eq!(out.value("node_cpu_guest_seconds_total", &[("cpu", "1"), ("mode", "user")]), Some(0.07));
        assert_eq!(out.value("node_cpu_guest_seconds_total", &[("cpu", "1"), ("mode", "nice")]), Some(0.02));
        assert!(out.family("node_cpu_isolated").is_none());
        assert!(out.family("node_cpu_core_throttles_total").is_none());
    }

    #[test]
    fn counters_never_step_back_unless_the_cpu_was_reset() {
        let fixture = Fixture::new();
        let context = fixture.context();
        let read = |stat: &str| {
            fixture.write("proc/stat", stat);
            let mut out = MetricSet::new();
            collect(&context, &mut out).unwrap();
            let value = |mode: &str| out.value("node_cpu_seconds_total", &[("cpu", "0"), ("mode", mode)]).unwrap();
            (value("idle"), value("iowait"), value("user"))
        };
        assert_eq!(read("cpu0 100 0 0 1000 50 0 0 0 0 0\n"), (10.0, 0.5, 1.0));
        // iowait steps back by 0.2 s: the larger value stays.
        assert_eq!(read("cpu0 110 0 0 1010 30 0 0 0 0 0\n"), (10.1, 0.5, 1.1));
        assert_eq!(read("cpu0 120 0 0 1020 60 0 0 0 0 0\n"), (10.2, 0.6, 1.2));
        // Idle 5 s lower: the CPU was offline; start again from what the kernel says.
        assert_eq!(read("cpu0 5 0 0 500 1 0 0 0 0 0\n"), (5.0, 0.01, 0.05));
    }

    #[test]
    fn throttles_and_isolated_cpus_are_read_from_sysfs() {
        let fixture = Fixture::new();
        fixture.write("proc/stat", STAT);
        fixture.write("sys/devices/system/cpu/isolated", "1,3-4\n");
        for (cpu, core) in [(0, 0), (1, 0), (2, 1)] {
            let base = format!("sys/devices/system/cpu/cpu{cpu}");
            fixture.write(&format!("{base}/topology/physical_package_id"), "0\n");
            fixture.write(&format!("{base}/topology/core_id"), &format!("{core}\n"));
            fixture.write(&format!("{base}/thermal_throttle/core_throttle_count"), &format!("{}\n", 10 + cpu));
            fixture.write(&format!("{base}/thermal_throttle/package_throttle_count"), "7\n");
        }
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.family("node_cpu_isolated").unwrap().samples.len(), 3);
        assert_eq!(out.value("node_cpu_isolated", &[("cpu", "4")]), Some(1.0));
        assert_eq!(out.value("node_cpu_core_throttles_total", &[("package", "0"), ("core", "0")]), Some(10.0));
        assert_eq!(out.value("node_cpu_core_throttles_total", &[("package", "0"), ("core", "1")]), Some(12.0));
        assert_eq!(out.value("node_cpu_package_throttles_total", &[("package", "0")]), Some(7.0));
    }
}
