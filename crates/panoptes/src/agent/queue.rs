//! The agent's on-disk remote-write queue: a directory of segment files, each one complete
//! remote-write request body (snappy-compressed protobuf) named by a 20-digit sequence number
//! (`00000000000000000042.seg`). A segment is written to `<n>.tmp`, synced and renamed, so a
//! crash leaves whole segments or a `.tmp` that the next open deletes. Sending takes the lowest
//! number first and deletes the file only after the server accepted it, so a server outage or
//! an agent restart loses nothing. Format: `docs/format/agent-queue.md`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The writing end of the queue; the reading side works on the directory alone.
pub(crate) struct DiskQueue {
    dir: PathBuf,
    next: u64,
    max_segments: usize,
}

/// What [`DiskQueue::push`] did besides appending.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pushed {
    /// Oldest segments deleted because the queue was full.
    pub(crate) dropped: usize,
}

impl DiskQueue {
    /// Opens (creating) the queue directory, deletes unfinished `.tmp` files and continues the
    /// numbering after the highest segment present.
    pub(crate) fn open(dir: &Path, max_segments: usize) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|extension| extension == "tmp") {
                std::fs::remove_file(&path)?;
            }
        }
        let next = segments(dir)?.last().map_or(0, |(sequence, _)| sequence + 1);
        Ok(DiskQueue { dir: dir.to_owned(), next, max_segments: max_segments.max(1) })
    }

    /// Appends one request body as a new segment (synced before the rename that publishes it)
    /// and deletes the oldest segments beyond the size limit.
    pub(crate) fn push(&mut self, body: &[u8]) -> std::io::Result<Pushed> {
        let name = format!("{:020}", self.next);
        let temporary = self.dir.join(format!("{name}.tmp"));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(body)?;
        file.sync_data()?;
        drop(file);
        std::fs::rename(&temporary, self.dir.join(format!("{name}.seg")))?;
        self.next += 1;
        let mut pushed = Pushed::default();
        let present = segments(&self.dir)?;
        if present.len() > self.max_segments {
            for (_, path) in &present[..present.len() - self.max_segments] {
                std::fs::remove_file(path)?;
                pushed.dropped += 1;
            }
        }
        Ok(pushed)
    }
}

/// Returns the segments of `dir` as `(sequence, path)`, lowest first.
pub(crate) fn segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|extension| extension != "seg") {
            continue;
        }
        let Some(sequence) = path.file_stem().and_then(|stem| stem.to_str()).and_then(|stem| stem.parse().ok()) else {
            continue;
        };
        found.push((sequence, path));
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_survive_reopening_in_order_and_the_oldest_are_dropped_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let mut queue = DiskQueue::open(dir.path(), 3).unwrap();
        for body in [b"a", b"b"] {
            assert_eq!(queue.push(body).unwrap(), Pushed::default());
        }
        std::fs::write(dir.path().join("00000000000000000002.tmp"), b"torn").unwrap();
        let mut queue = DiskQueue::open(dir.path(), 3).unwrap();
        assert!(!dir.path().join("00000000000000000002.tmp").exists());
        queue.push(b"c").unwrap();
        assert_eq!(queue.push(b"d").unwrap(), Pushed { dropped: 1 });
        let bodies: Vec<Vec<u8>> =
            segments(dir.path()).unwrap().iter().map(|(_, path)| std::fs::read(path).unwrap()).collect();
        assert_eq!(bodies, [b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]);
        assert_eq!(segments(dir.path()).unwrap()[0].0, 1);
    }
}
