//! `node_filesystem_*{device,fstype,mountpoint}` from the mount table of process 1 (falling back
//! to `/proc/mounts`) and statfs, skipping mount points and types the exclude patterns match.
//!
//! statfs on a dead network mount can block for ever, so each call runs on its own thread and
//! is given `--collector.filesystem.mount-timeout`; a mount point whose call did not return in
//! time is reported with `node_filesystem_device_error 1` and not asked again until that call
//! returns, as node-exporter does.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Context, read_text};
use crate::error::Result;
use crate::exposition::MetricSet;

/// Mount points whose statfs call has not returned yet.
#[derive(Debug, Default)]
pub(crate) struct StuckMounts {
    stuck: Arc<Mutex<HashSet<String>>>,
}

impl StuckMounts {
    fn contains(&self, mount_point: &str) -> bool {
        self.stuck.lock().map(|stuck| stuck.contains(mount_point)).unwrap_or(false)
    }
}

/// One mount table line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mount {
    device: String,
    mount_point: String,
    fs_type: String,
    options: String,
}

/// The numbers statfs gave, already multiplied out.
struct Usage {
    size: f64,
    free: f64,
    avail: f64,
    files: f64,
    files_free: f64,
}

pub(super) fn collect(context: &Context, out: &mut MetricSet) -> Result<()> {
    let text = match read_text(&context.paths.proc("1/mounts")) {
        Ok(text) => text,
        Err(_) => read_text(&context.paths.proc("mounts"))?,
    };
    let mut seen = HashSet::new();
    for mount in parse_mounts(&text, context) {
        if context.mount_points_exclude.is_match(&mount.mount_point)
            || context.fs_types_exclude.is_match(&mount.fs_type)
        {
            continue;
        }
        if !seen.insert((mount.device.clone(), mount.mount_point.clone(), mount.fs_type.clone())) {
            continue;
        }
        let labels = [
            ("device", mount.device.as_str()),
            ("fstype", mount.fs_type.as_str()),
            ("mountpoint", mount.mount_point.as_str()),
        ];
        let usage = if context.filesystem.contains(&mount.mount_point) {
            tracing::debug!(mountpoint = %mount.mount_point, "mount point is still stuck, skipping");
            None
        } else {
            statfs(context, &mount.mount_point)
        };
        out.gauge(
            "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            &labels,
            if usage.is_some() { 0.0 } else { 1.0 },
        );
        let Some(usage) = usage else { continue };
        out.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", &labels, usage.size);
        out.gauge("node_filesystem_free_bytes", "Filesystem free space in bytes.", &labels, usage.free);
        out.gauge(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            &labels,
            usage.avail,
        );
        out.gauge("node_filesystem_files", "Filesystem total file nodes.", &labels, usage.files);
        out.gauge("node_filesystem_files_free", "Filesystem total free file nodes.", &labels, usage.files_free);
        let readonly = mount.options.split(',').any(|option| option == "ro");
        out.gauge(
            "node_filesystem_readonly",
            "Filesystem read-only status.",
            &labels,
            if readonly { 1.0 } else { 0.0 },
        );
    }
    Ok(())
}

/// Parses `/proc/<pid>/mounts`; mount points are made relative to the root filesystem.
fn parse_mounts(text: &str, context: &Context) -> Vec<Mount> {
    let rootfs = context.paths.rootfs.to_string_lossy();
    let rootfs = rootfs.trim_end_matches('/');
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [device, mount_point, fs_type, options, ..] = fields[..] else { return None };
            let mount_point = unescape(mount_point);
            let mount_point = if rootfs.is_empty() {
                mount_point
            } else {
                match mount_point.strip_prefix(rootfs) {
                    Some("") => "/".to_owned(),
                    Some(stripped) if stripped.starts_with('/') => stripped.to_owned(),
                    _ => mount_point,
                }
            };
            Some(Mount {
                device: unescape(device),
                mount_point,
                fs_type: fs_type.to_owned(),
                options: options.to_owned(),
            })
        })
        .collect()
}

/// Undoes the kernel's octal escapes for space and tab in mount table fields.
fn unescape(field: &str) -> String {
    field.replace("\\040", " ").replace("\\011", "\t")
}

/// Runs statfs on the mount point (under the root filesystem) on its own thread, waiting at most
/// the mount timeout; `None` when it failed or is stuck.
fn statfs(context: &Context, mount_point: &str) -> Option<Usage> {
    let path = context.paths.root(mount_point);
    let (sender, receiver) = std::sync::mpsc::channel();
    let stuck = Arc::clone(&context.filesystem.stuck);
    // Set by the thread under the `stuck` lock once statfs returned, so that the thread and a
    // collector giving up on it agree on whether the mount point is (still) stuck.
    let done = Arc::new(AtomicBool::new(false));
    let thread_done = Arc::clone(&done);
    let owned_mount_point = mount_point.to_owned();
    let spawned = std::thread::Builder::new().name("statfs".to_owned()).spawn(move || {
        let result = rustix::fs::statfs(&path);
        let _ = sender.send(result);
        let mut stuck = stuck.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        thread_done.store(true, Ordering::Relaxed);
        if stuck.remove(&owned_mount_point) {
            tracing::info!(mountpoint = %owned_mount_point, "statfs on stuck mount point returned");
        }
    });
    if let Err(error) = spawned {
        tracing::warn!(mountpoint = %mount_point, error = %error, "cannot start statfs thread");
        return None;
    }
    match receiver.recv_timeout(context.mount_timeout) {
        Ok(Ok(stat)) => {
            let block_size = stat.f_bsize as f64;
            Some(Usage {
                size: stat.f_blocks as f64 * block_size,
                free: stat.f_bfree as f64 * block_size,
                avail: stat.f_bavail as f64 * block_size,
                files: stat.f_files as f64,
                files_free: stat.f_ffree as f64,
            })
        }
        Ok(Err(error)) => {
            tracing::debug!(mountpoint = %mount_point, error = %error, "statfs failed");
            None
        }
        Err(_) => {
            let mut stuck = context.filesystem.stuck.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if !done.load(Ordering::Relaxed) {
                stuck.insert(mount_point.to_owned());
                tracing::warn!(mountpoint = %mount_point, "statfs timed out, marking mount point as stuck");
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::Fixture;

    #[test]
    fn mounts_are_filtered_and_measured() {
        let fixture = Fixture::new();
        let root = fixture.path("root");
        std::fs::create_dir_all(root.join("data dir")).unwrap();
        // Mount points as the host sees them; the fixture root stands for the host's `/`.
        let mounts = format!(
            "proc /proc proc rw,relatime 0 0\n\
             /dev/vda {root} ext4 rw,relatime 0 0\n\
             /dev/vdb {root}/data\\040dir ext4 ro,relatime 0 0\n\
             /dev/vdb {root}/data\\040dir ext4 ro,relatime 0 0\n\
             tmpfs {root}/dev/shm tmpfs rw 0 0\n\
             cgroup2 {root}/sys/fs/cgroup/unified cgroup2 rw 0 0\n\
             tmpfs {root}/missing tmpfs rw 0 0\n",
            root = root.display()
        );
        fixture.write("proc/1/mounts", &mounts);
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        let errors = &out.family("node_filesystem_device_error").unwrap().samples;
        let mount_points: Vec<&str> = errors.iter().map(|sample| sample.labels[2].1.as_str()).collect();
        assert_eq!(mount_points, ["/", "/data dir", "/missing"]);
        let data = [("device", "/dev/vdb"), ("fstype", "ext4"), ("mountpoint", "/data dir")];
        assert_eq!(out.value("node_filesystem_device_error", &data), Some(0.0));
        assert_eq!(out.value("node_filesystem_readonly", &data), Some(1.0));
        let missing = [("device", "tmpfs"), ("fstype", "tmpfs"), ("mountpoint", "/missing")];
        assert_eq!(out.value("node_filesystem_device_error", &missing), Some(1.0));
        assert_eq!(out.value("node_filesystem_size_bytes", &missing), None);
        // The numbers are those statfs gives for the directory.
        let stat = rustix::fs::statfs(&root).unwrap();
        let root_labels = [("device", "/dev/vda"), ("fstype", "ext4"), ("mountpoint", "/")];
        assert_eq!(
            out.value("node_filesystem_size_bytes", &root_labels),
            Some(stat.f_blocks as f64 * stat.f_bsize as f64)
        );
        assert_eq!(out.value("node_filesystem_files", &root_labels), Some(stat.f_files as f64));
        assert_eq!(out.value("node_filesystem_readonly", &root_labels), Some(0.0));
    }

    #[test]
    fn a_mount_point_that_does_not_answer_in_time_is_an_error_until_it_does() {
        let fixture = Fixture::new();
        fixture.write("proc/mounts", &format!("/dev/vda {} ext4 rw 0 0\n", fixture.path("root").display()));
        let mut context = fixture.context();
        // No statfs call returns within zero time, so this one counts as stuck; once it has
        // returned, the mount point is measured again.
        context.mount_timeout = std::time::Duration::ZERO;
        let labels = [("device", "/dev/vda"), ("fstype", "ext4"), ("mountpoint", "/")];
        // A thread could in principle finish before the collector looks, so try a few times.
        let timed_out = (0..50).any(|_| {
            let mut out = MetricSet::new();
            collect(&context, &mut out).unwrap();
            out.value("node_filesystem_device_error", &labels) == Some(1.0)
        });
        assert!(timed_out, "no statfs call ever counted as stuck");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while context.filesystem.contains("/") {
            assert!(std::time::Instant::now() < deadline, "the statfs thread never finished");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        context.mount_timeout = std::time::Duration::from_secs(5);
        let mut out = MetricSet::new();
        collect(&context, &mut out).unwrap();
        assert_eq!(out.value("node_filesystem_device_error", &labels), Some(0.0));
        assert!(out.value("node_filesystem_size_bytes", &labels).is_some());
    }

    #[test]
    fn proc_mounts_is_the_fallback() {
        let fixture = Fixture::new();
        fixture.write("proc/mounts", &format!("/dev/vda {} ext4 rw 0 0\n", fixture.path("root").display()));
        let mut out = MetricSet::new();
        collect(&fixture.context(), &mut out).unwrap();
        assert_eq!(out.family("node_filesystem_size_bytes").unwrap().samples.len(), 1);
    }
}
