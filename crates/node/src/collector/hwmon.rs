//! `node_hwmon_*{chip,sensor}` from `/sys/class/hwmon` (temperatures, fans, voltages, currents,
//! power, energy, humidity), with node-exporter's chip names, metric names and units.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Context, list_dir};
use crate::error::{Error, Result};
use crate::exposition::{MetricKind, MetricSet};

/// The sensor types read; other files (`name`, `uevent`, ...) are ignored.
const SENSOR_TYPES: [&str; 13] = [
    "vrm",
    "beep_enable",
    "update_interval",
    "in",
    "cpu",
    "fan",
    "pwm",
    "temp",
    "curr",
    "power",
    "energy",
    "humidity",
    "intrusion",
];

/// A sensor's files: property (`input`, `max`, ..., `""` for a bare `pwm1`) to raw content.
type Sensor = BTreeMap<String, String>;

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let class = context.paths.sys("class/hwmon");
    let entries = match list_dir(&class) {
        Ok(entries) => entries,
        Err(Error::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoData { what: "no /sys/class/hwmon".to_owned() });
        }
        Err(error) => return Err(error),
    };
    let mut last_error = None;
    for entry in entries {
        let directory = class.join(&entry);
        if !directory.is_dir() {
            continue;
        }
        if let Err(error) = collect_chip(&directory, out) {
            last_error = Some(error);
        }
    }
    last_error.map_or(Ok(()), Err)
}

fn collect_chip(directory: &Path, out: &mut MetricSet) -> Result<()> {
    let chip = chip_name(directory)?;
    if let Ok(name) = std::fs::read_to_string(directory.join("name")) {
        let human = clean_name(&name);
        if !human.is_empty() {
            out.gauge(
                "node_hwmon_chip_names",
                "Annotation metric for human-readable chip names",
                &[("chip", &chip), ("chip_name", &human)],
                1.0,
            );
        }
    }
    let mut sensors: BTreeMap<String, Sensor> = BTreeMap::new();
    read_sensor_files(directory, &mut sensors)?;
    let device = directory.join("device");
    if device.exists() {
        read_sensor_files(&device, &mut sensors)?;
    }
    for (sensor, properties) in &sensors {
        emit_sensor(out, &chip, sensor, properties);
    }
    Ok(())
}

fn emit_sensor(out: &mut MetricSet, chip: &str, sensor: &str, properties: &Sensor) {
    let sensor_type = split_file_name(sensor).map(|(sensor_type, _, _)| sensor_type).unwrap_or(sensor);
    let labels = [("chip", chip), ("sensor", sensor)];
    if let Some(label) = properties.get("label") {
        out.gauge(
            "node_hwmon_sensor_label",
            "Label for given chip and sensor",
            &[("chip", chip), ("sensor", sensor), ("label", label)],
            1.0,
        );
    }
    let bare = properties.get("").map(String::as_str);
    match sensor_type {
        "beep_enable" => {
            let value = if bare == Some("1") { 1.0 } else { 0.0 };
            out.gauge("node_hwmon_beep_enabled", "Hardware beep enabled", &labels, value);
            return;
        }
        "vrm" => {
            if let Some(value) = bare.and_then(|raw| raw.parse::<f64>().ok()) {
                out.gauge("node_hwmon_voltage_regulator_version", "Hardware voltage regulator", &labels, value);
            }
            return;
        }
        "update_interval" => {
            if let Some(value) = bare.and_then(|raw| raw.parse::<f64>().ok()) {
                out.gauge(
                    "node_hwmon_update_interval_seconds",
                    "Hardware monitor update interval",
                    &labels,
                    value * 0.001,
                );
            }
            return;
        }
        _ => {}
    }
    for (element, raw) in properties {
        if element == "label" {
            continue;
        }
        let Ok(value) = raw.parse::<f64>() else { continue };
        let mut name = format!("node_hwmon_{sensor_type}");
        if element == "input" {
            // `input` is the value itself unless a bare file holds it.
            if bare.is_some() {
                name.push_str("_input");
            }
        } else if !element.is_empty() {
            name.push('_');
            name.push_str(&clean_name(element));
        }
        let (suffix, help, kind, value) = describe(sensor_type, element, value);
        out.add(&format!("{name}{suffix}"), &help, kind, &labels, value);
    }
}

/// Returns the name suffix, help text, type and scaled value of one sensor element.
fn describe(sensor_type: &str, element: &str, value: f64) -> (&'static str, String, MetricKind, f64) {
    use MetricKind::{Counter, Gauge};
    match (sensor_type, element) {
        (_, "fault" | "alarm") => ("", format!("Hardware sensor {element} status ({sensor_type})"), Gauge, value),
        (_, "beep") => ("_enabled", "Hardware monitor sensor has beeping enabled".to_owned(), Gauge, value),
        ("in" | "cpu", _) => ("_volts", format!("Hardware monitor for voltage ({element})"), Gauge, value * 0.001),
        ("temp", element) if element != "type" => {
            ("_celsius", format!("Hardware monitor for temperature ({element})"), Gauge, value * 0.001)
        }
        ("curr", _) => ("_amps", format!("Hardware monitor for current ({element})"), Gauge, value * 0.001),
        ("energy", _) => {
            ("_joule_total", format!("Hardware monitor for joules used so far ({element})"), Counter, value / 1e6)
        }
        ("power", "accuracy") => {
            ("", "Hardware monitor power meter accuracy, as a ratio".to_owned(), Gauge, value / 1e6)
        }
        ("power", "average_interval" | "average_interval_min" | "average_interval_max") => {
            ("_seconds", format!("Hardware monitor power usage update interval ({element})"), Gauge, value * 0.001)
        }
        ("power", _) => ("_watt", format!("Hardware monitor for power usage in watts ({element})"), Gauge, value / 1e6),
        ("humidity", _) => (
            "",
            format!(
                "Hardware monitor for humidity, as a ratio (multiply with 100.0 to get the humidity as a percentage) ({element})"
            ),
            Gauge,
            value / 1e6,
        ),
        ("fan", "input" | "min" | "max" | "target") => {
            ("_rpm", format!("Hardware monitor for fan revolutions per minute ({element})"), Gauge, value)
        }
        _ => ("", format!("Hardware monitor {sensor_type} element {element}"), Gauge, value),
    }
}

/// Reads the sensor files of `directory` into `sensors`, keyed by type and number (`temp1`).
fn read_sensor_files(directory: &Path, sensors: &mut BTreeMap<String, Sensor>) -> Result<()> {
    for file in list_dir(directory)? {
        let Some((sensor_type, number, property)) = split_file_name(&file) else { continue };
        if !SENSOR_TYPES.contains(&sensor_type) {
            continue;
        }
        let Ok(raw) = std::fs::read_to_string(directory.join(&file)) else { continue };
        let value = raw.trim_matches('\n').to_owned();
        sensors.entry(format!("{sensor_type}{number}")).or_default().insert(property.to_owned(), value);
    }
    Ok(())
}

/// Splits a sensor file name into type, number (0 when absent) and property: `temp1_input` is
/// `("temp", 1, "input")`, `pwm2` is `("pwm", 2, "")`, `update_interval` is
/// `("update_interval", 0, "")`.
fn split_file_name(file: &str) -> Option<(&str, u32, &str)> {
    let type_end = file.find(|character: char| character.is_ascii_digit()).unwrap_or(file.len());
    if type_end == 0 {
        return None;
    }
    let sensor_type = &file[..type_end];
    let rest = &file[type_end..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let number = if digits == 0 { 0 } else { rest[..digits].parse().ok()? };
    let rest = &rest[digits..];
    let property = match rest.strip_prefix('_') {
        Some(property) if !property.is_empty() => property,
        None if rest.is_empty() => "",
        _ => return None,
    };
    Some((sensor_type, number, property))
}

/// Returns the chip label: `<bus>_<device>` from the `device` link (stable across reboots),
/// else the `name` file, else the `hwmonN` directory name; all cleaned to `[a-z0-9:_]`.
fn chip_name(directory: &Path) -> Result<String> {
    if let Ok(device) = std::fs::canonicalize(directory.join("device")) {
        let device_name = device.file_name().map(|name| clean_name(&name.to_string_lossy())).unwrap_or_default();
        let bus = device
            .parent()
            .and_then(Path::file_name)
            .map(|name| clean_name(&name.to_string_lossy()))
            .unwrap_or_default();
        match (bus.is_empty(), device_name.is_empty()) {
            (false, false) => return Ok(format!("{bus}_{device_name}")),
            (true, false) => return Ok(device_name),
            _ => {}
        }
    }
    if let Ok(name) = std::fs::read_to_string(directory.join("name")) {
        let name = clean_name(&name);
        if !name.is_empty() {
            return Ok(name);
        }
    }
    let real = std::fs::canonicalize(directory).map_err(|source| Error::Read { path: directory.to_owned(), source })?;
    let name = real.file_name().map(|name| clean_name(&name.to_string_lossy())).unwrap_or_default();
    if name.is_empty() {
        return Err(Error::Parse { path: directory.to_owned(), message: "cannot derive a chip name".to_owned() });
    }
    Ok(name)
}

/// Lower-cases `name`, replaces characters outside `[a-z0-9:_]` with `_` and trims `_`.
fn clean_name(name: &str) -> String {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .map(|character| {
            if character.is_ascii_lowercase() || character.is_ascii_digit() || character == ':' || character == '_' {
                character
            } else {
                '_'
            }
        })
        .collect();
    cleaned.trim_matches('_').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn file_names_split_into_type_number_and_property() {
        assert_eq!(split_file_name("temp1_input"), Some(("temp", 1, "input")));
        assert_eq!(split_file_name("pwm2"), Some(("pwm", 2, "")));
        assert_eq!(split_file_name("update_interval"), Some(("update_interval", 0, "")));
        assert_eq!(split_file_name("power1_average_interval"), Some(("power", 1, "average_interval")));
        assert_eq!(split_file_name("1abc"), None);
        assert_eq!(clean_name("Package id 0\n"), "package_id_0");
        assert_eq!(clean_name("0000:00:18.3"), "0000:00:18_3");
    }

    #[test]
    fn sensors_get_units_and_chip_names() {
        let fixture = Fixture::new();
        let device = "sys/devices/platform/coretemp.0";
        fixture.write(&format!("{device}/hwmon/hwmon1/name"), "coretemp\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/temp1_input"), "55000\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/temp1_label"), "Package id 0\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/temp1_max"), "100000\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/temp1_crit_alarm"), "0\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/fan2_input"), "1200\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/in0_input"), "1100\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/power1_average"), "15500000\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/energy1_input"), "2500000\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/pwm1"), "128\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/pwm1_enable"), "2\n");
        fixture.write(&format!("{device}/hwmon/hwmon1/uevent"), "\n");
        std::fs::create_dir_all(fixture.path("sys/class/hwmon")).unwrap();
        std::os::unix::fs::symlink(
            fixture.path(&format!("{device}/hwmon/hwmon1")),
            fixture.path("sys/class/hwmon/hwmon1"),
        )
        .unwrap();
        std::os::unix::fs::symlink(fixture.path(device), fixture.path(&format!("{device}/hwmon/hwmon1/device")))
            .unwrap();
        // A chip without a device link is named after its name file.
        fixture.write("sys/class/hwmon/hwmon2/name", "acpitz\n");
        fixture.write("sys/class/hwmon/hwmon2/temp1_input", "27800\n");

        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let chip = "platform_coretemp_0";
        let temp1 = [("chip", chip), ("sensor", "temp1")];
        assert_eq!(out.value("node_hwmon_temp_celsius", &temp1), Some(55.0));
        assert_eq!(out.value("node_hwmon_temp_max_celsius", &temp1), Some(100.0));
        assert_eq!(out.value("node_hwmon_temp_crit_alarm_celsius", &temp1), Some(0.0));
        assert_eq!(
            out.value("node_hwmon_sensor_label", &[("chip", chip), ("sensor", "temp1"), ("label", "Package id 0")]),
            Some(1.0)
        );
        assert_eq!(out.value("node_hwmon_chip_names", &[("chip", chip), ("chip_name", "coretemp")]), Some(1.0));
        assert_eq!(out.value("node_hwmon_fan_rpm", &[("chip", chip), ("sensor", "fan2")]), Some(1200.0));
        assert_eq!(out.value("node_hwmon_in_volts", &[("chip", chip), ("sensor", "in0")]), Some(1.1));
        assert_eq!(out.value("node_hwmon_power_average_watt", &[("chip", chip), ("sensor", "power1")]), Some(15.5));
        assert_eq!(out.value("node_hwmon_energy_joule_total", &[("chip", chip), ("sensor", "energy1")]), Some(2.5));
        assert_eq!(out.family("node_hwmon_energy_joule_total").unwrap().kind, MetricKind::Counter);
        assert_eq!(out.value("node_hwmon_pwm", &[("chip", chip), ("sensor", "pwm1")]), Some(128.0));
        assert_eq!(out.value("node_hwmon_pwm_enable", &[("chip", chip), ("sensor", "pwm1")]), Some(2.0));
        assert_eq!(out.value("node_hwmon_temp_celsius", &[("chip", "acpitz"), ("sensor", "temp1")]), Some(27.8));
        assert_eq!(out.family("node_hwmon_temp_celsius").unwrap().help, "Hardware monitor for temperature (input)");
    }

    #[test]
    fn missing_hwmon_class_is_no_data() {
        let fixture = Fixture::new();
        assert!(collect(&fixture.context(), &mut MetricSet::new()).unwrap_err().is_no_data());
    }
}
