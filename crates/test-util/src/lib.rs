//! Test helpers shared by Panoptes crates (dev-dependency only): seeded data generators, a fake
//! Kubernetes API server (`fake_kube`), a DNS server on loopback (`fake_dns`), a renderer for
//! Helm charts (`helm`) and test TLS material with an `openssl s_server` and a TLS front for plaintext servers (`tls`), and a capture of what a test process logs (`logs`).

use panoptes_model::Labels;

/// A small, fast, seeded pseudo-random generator (SplitMix64), so tests print and reuse seeds.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: u64,
}

impl SeededRng {
    /// Returns a generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Returns a seed from the `PANOPTES_TEST_SEED` variable, or from the clock, and prints it.
    pub fn from_env_or_time(test: &str) -> (Self, u64) {
        let seed = std::env::var("PANOPTES_TEST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
        });
        eprintln!("{test}: PANOPTES_TEST_SEED={seed}");
        (Self::new(seed), seed)
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a number in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound
    }

    /// Returns a float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Returns `count` label sets shaped like node-exporter CPU series: a few metric names, many
/// instances and modes, so that postings have realistic overlap.
pub fn node_like_series(count: usize) -> Vec<Labels> {
    const MODES: [&str; 8] = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"];
    (0..count)
        .map(|i| {
            let mode = MODES[i % MODES.len()];
            let cpu = (i / MODES.len()) % 16;
            let instance = i / (MODES.len() * 16);
            Labels::from_pairs([
                ("__name__", "node_cpu_seconds_total".to_owned()),
                ("cpu", cpu.to_string()),
                ("instance", format!("10.0.{}.{}:9100", instance / 250, instance % 250)),
                ("job", "node".to_owned()),
                ("mode", mode.to_owned()),
            ])
        })
        .collect()
}

pub mod fake_dns;
pub mod fake_kube;
pub mod helm;
pub mod logs;
pub mod tls;

/// Reads an HTTP/1 request head (request line and header lines, without their line ends) up to
/// the blank line, for proxies and servers written in tests. Returns `None` when the connection
/// ends first.
pub async fn read_http_head<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<Vec<String>> {
    use tokio::io::AsyncBufReadExt;
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            return None;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            return Some(head);
        }
        head.push(line);
    }
}

/// Polls `check` every 20 ms until it holds, and panics naming `what` when it still does not
/// after `within`.
pub async fn eventually(what: &str, within: std::time::Duration, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + within;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
