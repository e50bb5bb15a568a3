//! The simulation's random numbers: SplitMix64, tiny and fully determined by its seed, so two
//! runs with the same seed produce the same traffic tick for tick (no dependency whose stream
//! could change between versions).

/// A seeded SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a uniform number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Returns a standard normal number (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(f64::MIN_POSITIVE);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Returns `median * exp(sigma * N(0,1))`: positive, right-skewed like real latencies.
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// Returns true with probability `percent / 100`.
    pub(crate) fn chance_percent(&mut self, percent: f64) -> bool {
        percent > 0.0 && self.unit() * 100.0 < percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_sane_distributions() {
        let mut first = SplitMix64::new(42);
        let mut second = SplitMix64::new(42);
        assert!((0..100).all(|_| first.next_u64() == second.next_u64()));
        let mut rng = SplitMix64::new(7);
        let samples: Vec<f64> = (0..10_000).map(|_| rng.log_normal(10.0, 0.3)).collect();
        let mut sorted = samples.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[5_000];
        assert!((9.0..11.0).contains(&median), "median {median}");
        let hits = (0..10_000).filter(|_| rng.chance_percent(5.0)).count();
        assert!((400..600).contains(&hits), "5% of 10000 gave {hits}");
    }
}
