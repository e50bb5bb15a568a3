//! Float samples and the staleness marker.

/// The bit pattern Prometheus writes as a staleness marker: a NaN distinct from the ordinary one.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Returns the staleness-marker NaN.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Returns whether `v` is exactly the staleness-marker NaN (not just any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: a millisecond timestamp and a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; may be NaN, including the staleness marker.
    pub v: f64,
}

impl Sample {
    /// Returns a sample at `t` with value `v`.
    pub fn new(t: i64, v: f64) -> Self {
        Self { t, v }
    }

    /// Returns whether both samples have the same timestamp and bit-identical values.
    pub fn bit_eq(&self, other: &Sample) -> bool {
        self.t == other.t && self.v.to_bits() == other.v.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_distinct_from_plain_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(stale_nan().is_nan());
        assert!(!is_stale_nan(f64::NAN));
    }
}
