//! Captures everything a test process logs through `tracing`, for tests that check what a
//! failure says (and that secrets never appear in it).

use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

/// Installs (once per test process) a global subscriber at `level` whose output is kept in
/// memory, and returns that buffer. The first caller's level wins.
pub fn capture(level: tracing::Level) -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .with_max_level(level)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber in this test process");
        buffer
    })
}

/// Returns what was logged so far (after [`capture`]), as text.
pub fn captured_text() -> String {
    let buffer = capture(tracing::Level::INFO).lock();
    String::from_utf8_lossy(&buffer).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_lines_are_captured() {
        capture(tracing::Level::INFO);
        tracing::warn!(object = "ns/name", "a capturable line");
        assert!(captured_text().contains("a capturable line object=\"ns/name\""), "{}", captured_text());
    }
}
