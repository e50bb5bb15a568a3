//! Keeps code that ran only at start from staying resident.
//!
//! Starting a server runs a lot of code once: configuration parsing, TLS set-up, WAL replay,
//! provisioning. The kernel maps each page of the executable it touches (with 64 KiB around
//! it, "fault-around") and keeps it mapped for the life of the process: 18 MB of an idle
//! server's resident memory was its executable (bench/RESULTS.md). Once the store is open,
//! [`release_startup_code`] unmaps the executable's code; the pages stay in the page cache,
//! and those the server runs again are mapped again on first use (a minor fault each).

/// Unmaps the executable's code pages from the process (`MADV_DONTNEED` on its read-only,
/// executable mappings that hold no private copy of a page). Does nothing elsewhere than on
/// Linux or when `/proc` cannot be read.
pub(crate) fn release_startup_code() {
    #[cfg(target_os = "linux")]
    linux::release_startup_code();
}

#[cfg(target_os = "linux")]
mod linux {
    /// A mapping of `/proc/self/smaps`: its range, permissions, path, resident and private
    /// bytes.
    struct Mapping {
        start: usize,
        end: usize,
        perms: String,
        path: String,
        rss_kb: u64,
        anonymous_kb: u64,
    }

    fn mappings(smaps: &str) -> Vec<Mapping> {
        let mut mappings: Vec<Mapping> = Vec::new();
        for line in smaps.lines() {
            let mut fields = line.split_whitespace();
            let Some(first) = fields.next() else { continue };
            if let Some((start, end)) = first.split_once('-')
                && let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16))
            {
                let perms = fields.next().unwrap_or_default().to_owned();
                // Offset, device, inode, then the path (which may hold spaces).
                let path = fields.skip(3).collect::<Vec<_>>().join(" ");
                mappings.push(Mapping { start, end, perms, path, rss_kb: 0, anonymous_kb: 0 });
            } else if let Some(mapping) = mappings.last_mut() {
                let mut kb = || fields.next().and_then(|kb| kb.parse().ok()).unwrap_or(u64::MAX);
                match first {
                    "Rss:" => mapping.rss_kb = kb(),
                    "Anonymous:" => mapping.anonymous_kb = kb(),
                    _ => {}
                }
            }
        }
        mappings
    }

    /// Returns the mappings of the executable's code.
    fn code_mappings() -> Vec<Mapping> {
        let (Ok(exe), Ok(smaps)) = (std::fs::read_link("/proc/self/exe"), std::fs::read_to_string("/proc/self/smaps"))
        else {
            return Vec::new();
        };
        let exe = exe.to_string_lossy();
        mappings(&smaps).into_iter().filter(|mapping| mapping.path == exe && mapping.perms == "r-xp").collect()
    }

    pub(super) fn release_startup_code() {
        let mut released = 0usize;
        for mapping in code_mappings() {
            // Only code: never written, so every page equals the file's. (A page with a
            // private copy, a debugger's breakpoint, is left alone with its whole mapping.)
            if mapping.anonymous_kb != 0 {
                continue;
            }
            // SAFETY: the range is a whole mapping of the executable's code, read-only and
            // without private pages: dropping its pages changes no byte the process can read,
            // as the next access maps the same file contents again.
            #[allow(unsafe_code)]
            let result = unsafe {
                libc::madvise(mapping.start as *mut libc::c_void, mapping.end - mapping.start, libc::MADV_DONTNEED)
            };
            if result == 0 {
                released += mapping.end - mapping.start;
            }
        }
        tracing::debug!(mapped_bytes = released, "released the executable's code pages");
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn smaps_mappings_are_parsed_with_their_private_pages() {
            let smaps = "55d0c0000000-55d0c1000000 r-xp 00100000 08:01 1234 /usr/bin/panoptes server\n\
                         Size:              16384 kB\n\
                         Rss:                 912 kB\n\
                         Anonymous:             0 kB\n\
                         7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n\
                         Anonymous:             4 kB\n";
            let parsed = mappings(smaps);
            assert_eq!(parsed.len(), 2);
            assert_eq!((parsed[0].start, parsed[0].end), (0x55d0_c000_0000, 0x55d0_c100_0000));
            assert_eq!((parsed[0].perms.as_str(), parsed[0].path.as_str()), ("r-xp", "/usr/bin/panoptes server"));
            assert_eq!((parsed[0].rss_kb, parsed[0].anonymous_kb), (912, 0));
            assert_eq!((parsed[1].path.as_str(), parsed[1].anonymous_kb), ("", 4));
        }

        #[test]
        fn released_code_runs_again() {
            let resident_code_kb = || code_mappings().iter().map(|mapping| mapping.rss_kb).sum::<u64>();
            let before = resident_code_kb();
            assert!(before > 0);
            release_startup_code();
            // This test's own code runs again (it is mapped again), and formatting and
            // parsing code from elsewhere in the executable still work.
            let after = resident_code_kb();
            assert!(after < before, "resident code {after} kB, was {before} kB");
            assert_eq!(format!("{}", 6 * 7).parse::<u32>().unwrap(), 42);
        }
    }
}
