//! A sample iterator over a vector, used by in-memory stores and tests.

use panoptes_model::Sample;

use crate::SampleIterator;

/// Iterates a vector of samples sorted by time.
#[derive(Debug, Clone)]
pub struct VecSampleIterator {
    samples: Vec<Sample>,
    /// Index of the next sample `next` returns.
    position: usize,
}

impl VecSampleIterator {
    /// Returns an iterator over `samples`, which must be sorted by strictly increasing time.
    pub fn new(samples: Vec<Sample>) -> Self {
        debug_assert!(samples.windows(2).all(|w| w[0].t < w[1].t));
        Self { samples, position: 0 }
    }
}

impl SampleIterator for VecSampleIterator {
    fn next(&mut self) -> Option<Sample> {
        let sample = self.samples.get(self.position).copied();
        if sample.is_some() {
            self.position += 1;
        }
        sample
    }

    fn read_all(&mut self, out: &mut Vec<Sample>) {
        out.extend_from_slice(&self.samples[self.position..]);
        self.position = self.samples.len();
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        // The last returned sample counts as current and may qualify again.
        let start = self.position.saturating_sub(1);
        let offset = self.samples[start..].partition_point(|s| s.t < t);
        self.position = start + offset;
        self.next()
    }
}
