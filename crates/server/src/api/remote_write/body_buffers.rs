//! Decompressed request bodies kept for the next requests.
//!
//! A remote-write body decompresses to about a megabyte for 5,000 samples. Allocated afresh per
//! request, such a buffer comes straight from the system and goes back to it when freed, and
//! the kernel zeroes its pages every time; reusing a few buffers avoids that.

use parking_lot::Mutex;

/// How many idle buffers are kept: requests are decompressed on the ingest threads, one at a
/// time on each, so as many buffers as threads are in use (more only when requests fall back to
/// tokio's blocking pool).
const MAX_IDLE: usize = 8;

/// Buffers that grew past this are freed rather than kept (one huge request must not pin its
/// memory).
const MAX_RETAINED_BYTES: usize = 8 << 20;

/// A pool of idle buffers.
pub(super) struct BodyBuffers {
    idle: Mutex<Vec<Vec<u8>>>,
}

/// The process' pool for remote-write bodies.
pub(super) static BODY_BUFFERS: BodyBuffers = BodyBuffers::new();

impl BodyBuffers {
    const fn new() -> Self {
        Self { idle: Mutex::new(Vec::new()) }
    }

    /// Returns an idle buffer, or a new empty one.
    pub(super) fn take(&self) -> Vec<u8> {
        self.idle.lock().pop().unwrap_or_default()
    }

    /// Keeps `buffer` for a later request, unless enough are kept or it is too large.
    pub(super) fn give_back(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > MAX_RETAINED_BYTES {
            return;
        }
        buffer.clear();
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_emptied_and_oversized_or_surplus_ones_are_dropped() {
        let pool = BodyBuffers::new();
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"request");
        let pointer = buffer.as_ptr();
        pool.give_back(buffer);
        let again = pool.take();
        assert!(again.is_empty(), "a reused buffer starts empty");
        assert_eq!(again.as_ptr(), pointer, "the kept allocation is handed out again");

        pool.give_back(Vec::with_capacity(MAX_RETAINED_BYTES + 1));
        assert!(pool.take().capacity() == 0, "an oversized buffer is not kept");
        for _ in 0..MAX_IDLE + 3 {
            pool.give_back(Vec::with_capacity(16));
        }
        assert_eq!(pool.idle.lock().len(), MAX_IDLE);
    }
}
