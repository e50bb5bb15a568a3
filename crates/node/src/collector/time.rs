//! `node_time_seconds`, `node_time_zone_offset_seconds` and the clocksources from
//! `/sys/devices/system/clocksource`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Context, list_dir, read_text};
use crate::error::Result;
use crate::exposition::MetricSet;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|since| since.as_secs_f64()).unwrap_or(0.0);
    out.gauge("node_time_seconds", "System time in seconds since epoch (1970).", &[], now);
    let zoned = jiff::Zoned::now();
    let info = zoned.time_zone().to_offset_info(zoned.timestamp());
    out.gauge(
        "node_time_zone_offset_seconds",
        "System time zone offset in seconds.",
        &[("time_zone", info.abbreviation())],
        f64::from(info.offset().seconds()),
    );
    let directory = context.paths.sys("devices/system/clocksource");
    for entry in list_dir(&directory)? {
        let Some(device) = entry.strip_prefix("clocksource") else { continue };
        if device.is_empty() || !device.bytes().all(|byte| byte.is_ascii_digit()) {
            continue;
        }
        let available = read_text(&directory.join(&entry).join("available_clocksource"))?;
        for clocksource in available.split_whitespace() {
            out.gauge(
                "node_time_clocksource_available_info",
                "Available clocksources read from '/sys/devices/system/clocksource'.",
                &[("clocksource", clocksource), ("device", device)],
                1.0,
            );
        }
        let current = read_text(&directory.join(&entry).join("current_clocksource"))?;
        out.gauge(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
            &[("clocksource", current.trim()), ("device", device)],
            1.0,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn clocksources_and_time_are_reported() {
        let fixture = Fixture::new();
        fixture.write("sys/devices/system/clocksource/clocksource0/available_clocksource", "kvm-clock tsc acpi_pm \n");
        fixture.write("sys/devices/system/clocksource/clocksource0/current_clocksource", "tsc\n");
        fixture.write("sys/devices/system/clocksource/uevent", "");
        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let now = out.value("node_time_seconds", &[]).unwrap();
        assert!(before <= now && now <= after);
        assert_eq!(out.family("node_time_clocksource_available_info").unwrap().samples.len(), 3);
        assert_eq!(
            out.value("node_time_clocksource_current_info", &[("clocksource", "tsc"), ("device", "0")]),
            Some(1.0)
        );
        assert_eq!(out.family("node_time_zone_offset_seconds").unwrap().samples.len(), 1);
    }
}
