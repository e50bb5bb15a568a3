//! `node_disk_*` from `/proc/diskstats` for devices `--collector.diskstats.device-exclude` does
//! not exclude, with `node_disk_info` and the udev-derived info series from udev's database.

use std::collections::HashMap;

use super::{Context, parse_number, read_text};
use crate::error::{Error, Result};
use crate::exposition::{MetricKind, MetricSet};

/// Sectors in `/proc/diskstats` are always 512 bytes, whatever the device's block size.
const SECTOR_BYTES: f64 = 512.0;
/// Times in `/proc/diskstats` are milliseconds.
const SECONDS_PER_TICK: f64 = 0.001;

/// The statistics columns in order: name, help, type and the factor to node-exporter's unit.
const COLUMNS: [(&str, &str, MetricKind, f64); 17] = [
    ("reads_completed_total", "The total number of reads completed successfully.", MetricKind::Counter, 1.0),
    ("reads_merged_total", "The total number of reads merged.", MetricKind::Counter, 1.0),
    ("read_bytes_total", "The total number of bytes read successfully.", MetricKind::Counter, SECTOR_BYTES),
    (
        "read_time_seconds_total",
        "The total number of seconds spent by all reads.",
        MetricKind::Counter,
        SECONDS_PER_TICK,
    ),
    ("writes_completed_total", "The total number of writes completed successfully.", MetricKind::Counter, 1.0),
    ("writes_merged_total", "The number of writes merged.", MetricKind::Counter, 1.0),
    ("written_bytes_total", "The total number of bytes written successfully.", MetricKind::Counter, SECTOR_BYTES),
    (
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        MetricKind::Counter,
        SECONDS_PER_TICK,
    ),
    ("io_now", "The number of I/Os currently in progress.", MetricKind::Gauge, 1.0),
    ("io_time_seconds_total", "Total seconds spent doing I/Os.", MetricKind::Counter, SECONDS_PER_TICK),
    (
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        MetricKind::Counter,
        SECONDS_PER_TICK,
    ),
    ("discards_completed_total", "The total number of discards completed successfully.", MetricKind::Counter, 1.0),
    ("discards_merged_total", "The total number of discards merged.", MetricKind::Counter, 1.0),
    ("discarded_sectors_total", "The total number of sectors discarded successfully.", MetricKind::Counter, 1.0),
    (
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        MetricKind::Counter,
        SECONDS_PER_TICK,
    ),
    ("flush_requests_total", "The total number of flush requests completed successfully", MetricKind::Counter, 1.0),
    (
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        MetricKind::Counter,
        SECONDS_PER_TICK,
    ),
];

/// The udev properties read as ATA gauges, with their metric names and help texts.
const ATA: [(&str, &str, &str); 3] = [
    ("ID_ATA_WRITE_CACHE", "node_disk_ata_write_cache", "ATA disk has a write cache."),
    ("ID_ATA_WRITE_CACHE_ENABLED", "node_disk_ata_write_cache_enabled", "ATA disk has its write cache enabled."),
    ("ID_ATA_ROTATION_RATE_RPM", "node_disk_ata_rotation_rate_rpm", "ATA disk rotation rate in RPMs (0 for SSDs)."),
];

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let path = context.paths.proc("diskstats");
    let text = read_text(&path)?;
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        let (major, minor, device) = (fields[0], fields[1], fields[2]);
        if context.diskstats_device_exclude.is_match(device) {
            continue;
        }
        let udev = udev_properties(context, major, minor);
        let property = |key: &str| udev.get(key).map(String::as_str).unwrap_or("");
        let serial = [property("SCSI_IDENT_SERIAL"), property("ID_SERIAL_SHORT")]
            .into_iter()
            .find(|serial| !serial.is_empty())
            .unwrap_or("");
        out.gauge(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            &[
                ("device", device),
                ("major", major),
                ("minor", minor),
                ("path", property("ID_PATH")),
                ("wwn", property("ID_WWN")),
                ("model", property("ID_MODEL")),
                ("serial", serial),
                ("revision", property("ID_REVISION")),
            ],
            1.0,
        );
        for ((name, help, kind, factor), raw) in COLUMNS.iter().zip(&fields[3..]) {
            let value = parse_number(&path, raw)?;
            out.add(&format!("node_disk_{name}"), help, *kind, &[("device", device)], value * factor);
        }
        if !property("ID_FS_TYPE").is_empty() {
            out.gauge(
                "node_disk_filesystem_info",
                "Info about disk filesystem.",
                &[
                    ("device", device),
                    ("type", property("ID_FS_TYPE")),
                    ("usage", property("ID_FS_USAGE")),
                    ("uuid", property("ID_FS_UUID")),
                    ("version", property("ID_FS_VERSION")),
                ],
                1.0,
            );
        }
        if !property("DM_NAME").is_empty() {
            out.gauge(
                "node_disk_device_mapper_info",
                "Info about disk device mapper.",
                &[
                    ("device", device),
                    ("name", property("DM_NAME")),
                    ("uuid", property("DM_UUID")),
                    ("vg_name", property("DM_VG_NAME")),
                    ("lv_name", property("DM_LV_NAME")),
                    ("lv_layer", property("DM_LV_LAYER")),
                ],
                1.0,
            );
        }
        if !property("ID_ATA").is_empty() {
            for (key, name, help) in ATA {
                if let Some(value) = udev.get(key).and_then(|value| value.parse::<f64>().ok()) {
                    out.gauge(name, help, &[("device", device)], value);
                }
            }
        }
    }
    if text.trim().is_empty() {
        return Err(Error::Parse { path, message: "empty".to_owned() });
    }
    Ok(())
}

/// Reads the `E:KEY=value` properties udev recorded for block device `major:minor`; empty when
/// udev's database is not there (containers without `/run/udev`).
fn udev_properties(context: &Context, major: &str, minor: &str) -> HashMap<String, String> {
    let path = context.paths.udev_data.join(format!("b{major}:{minor}"));
    let Ok(text) = std::fs::read_to_string(path) else { return HashMap::new() };
    text.lines()
        .filter_map(|line| line.strip_prefix("E:"))
        .filter_map(|property| property.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    const DISKSTATS: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n \
        254       0 vda 25285 5031 1691802 11027 5977 26917 2411560 13691 0 7708 27426 4719 61 298896 1433 515 1273\n \
        254       1 vda1 10 0 80 1 0 0 0 0 0 1 1\n \
        253       0 zram0 0 0 0 0 0 0 0 0 0 0 0\n   8       0 sda 1 2 3 4\n";

    #[test]
    fn columns_get_units_and_partitions_are_excluded() {
        let fixture = Fixture::new();
        fixture.write("proc/diskstats", DISKSTATS);
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let devices: Vec<&str> =
            out.family("node_disk_info").unwrap().samples.iter().map(|sample| sample.labels[0].1.as_str()).collect();
        assert_eq!(devices, ["vda", "zram0", "sda"]);
        let vda = [("device", "vda")];
        assert_eq!(out.value("node_disk_reads_completed_total", &vda), Some(25285.0));
        assert_eq!(out.value("node_disk_read_bytes_total", &vda), Some(1_691_802.0 * 512.0));
        assert_eq!(out.value("node_disk_read_time_seconds_total", &vda), Some(11027.0 * 0.001));
        assert_eq!(out.value("node_disk_io_now", &vda), Some(0.0));
        assert_eq!(out.value("node_disk_io_time_weighted_seconds_total", &vda), Some(27426.0 * 0.001));
        assert_eq!(out.value("node_disk_discarded_sectors_total", &vda), Some(298_896.0));
        assert_eq!(out.value("node_disk_flush_requests_time_seconds_total", &vda), Some(1273.0 * 0.001));
        assert_eq!(out.family("node_disk_io_now").unwrap().kind, MetricKind::Gauge);
        // A device with eleven columns has no discard or flush series; one with four has reads only.
        assert_eq!(out.value("node_disk_io_time_weighted_seconds_total", &[("device", "zram0")]), Some(0.0));
        assert_eq!(out.value("node_disk_discards_completed_total", &[("device", "zram0")]), None);
        assert_eq!(out.value("node_disk_read_time_seconds_total", &[("device", "sda")]), Some(0.004));
        assert_eq!(out.value("node_disk_writes_completed_total", &[("device", "sda")]), None);
    }

    #[test]
    fn udev_properties_fill_info_labels() {
        let fixture = Fixture::new();
        fixture.write("proc/diskstats", "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n");
        fixture.write(
            "udev/b8:0",
            "S:disk/by-id/ata-X\nE:ID_ATA=1\nE:ID_MODEL=Samsung_SSD\nE:ID_SERIAL_SHORT=S123\nE:ID_PATH=pci-0000:00:1f.2-ata-1\n\
             E:ID_WWN=0x5002\nE:ID_REVISION=1B6Q\nE:ID_ATA_ROTATION_RATE_RPM=0\nE:ID_ATA_WRITE_CACHE=1\n\
             E:ID_FS_TYPE=ext4\nE:ID_FS_UUID=abc\nE:ID_FS_USAGE=filesystem\nE:ID_FS_VERSION=1.0\n",
        );
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let info = [
            ("device", "sda"),
            ("major", "8"),
            ("minor", "0"),
            ("path", "pci-0000:00:1f.2-ata-1"),
            ("wwn", "0x5002"),
            ("model", "Samsung_SSD"),
            ("serial", "S123"),
            ("revision", "1B6Q"),
        ];
        assert_eq!(out.value("node_disk_info", &info), Some(1.0));
        assert_eq!(out.value("node_disk_ata_rotation_rate_rpm", &[("device", "sda")]), Some(0.0));
        assert_eq!(out.value("node_disk_ata_write_cache", &[("device", "sda")]), Some(1.0));
        assert_eq!(out.value("node_disk_ata_write_cache_enabled", &[("device", "sda")]), None);
        let filesystem =
            [("device", "sda"), ("type", "ext4"), ("usage", "filesystem"), ("uuid", "abc"), ("version", "1.0")];
        assert_eq!(out.value("node_disk_filesystem_info", &filesystem), Some(1.0));
    }
}
