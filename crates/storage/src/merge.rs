//! Merging what several sources (head, blocks, out-of-order buffers) return for one query.

use std::cmp::Ordering;
use std::iter::Peekable;

use panoptes_model::{Labels, Sample};

use crate::{Result, SampleIterator, Series, SeriesSet};

/// Merges sample iterators of one series in time order. When several inputs hold the same
/// timestamp, the sample of the input listed first wins and the others are skipped.
pub struct MergeSampleIterator {
    inputs: Vec<Box<dyn SampleIterator>>,
    /// The sample each input returned last and that has not been passed on yet.
    heads: Vec<Option<Sample>>,
    last: Option<Sample>,
}

impl MergeSampleIterator {
    /// Returns an iterator over the union of `inputs`, first input winning ties.
    pub fn new(mut inputs: Vec<Box<dyn SampleIterator>>) -> Self {
        let heads = inputs.iter_mut().map(|input| input.next()).collect();
        Self { inputs, heads, last: None }
    }
}

impl SampleIterator for MergeSampleIterator {
    fn next(&mut self) -> Option<Sample> {
        let mut best: Option<(usize, Sample)> = None;
        for (index, head) in self.heads.iter().enumerate() {
            if let Some(sample) = head
                && best.is_none_or(|(_, b)| sample.t < b.t)
            {
                best = Some((index, *sample));
            }
        }
        let (_, sample) = best?;
        for (index, head) in self.heads.iter_mut().enumerate() {
            if head.is_some_and(|h| h.t == sample.t) {
                *head = self.inputs[index].next();
            }
        }
        self.last = Some(sample);
        Some(sample)
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        if let Some(last) = self.last.filter(|last| last.t >= t) {
            return Some(last);
        }
        for (index, head) in self.heads.iter_mut().enumerate() {
            if head.is_some_and(|h| h.t < t) {
                *head = self.inputs[index].seek(t);
            }
        }
        self.next()
    }

    fn take_error(&mut self) -> Option<crate::Error> {
        self.inputs.iter_mut().find_map(|input| input.take_error())
    }
}

/// Merges series sets that are each sorted by labels into one sorted set; series with the same
/// labels in several sets become one series whose samples are merged (earlier sets win ties).
pub fn merge_series_sets(sets: Vec<SeriesSet>) -> SeriesSet {
    if sets.len() == 1 {
        return sets.into_iter().next().expect("one set");
    }
    Box::new(MergedSeriesSet { inputs: sets.into_iter().map(Iterator::peekable).collect() })
}

struct MergedSeriesSet {
    inputs: Vec<Peekable<SeriesSet>>,
}

impl Iterator for MergedSeriesSet {
    type Item = Result<Series>;

    fn next(&mut self) -> Option<Self::Item> {
        // Surface errors first, in input order.
        for input in &mut self.inputs {
            if matches!(input.peek(), Some(Err(_))) {
                return input.next();
            }
        }
        let mut smallest: Option<(usize, Labels)> = None;
        for (index, input) in self.inputs.iter_mut().enumerate() {
            let Some(Ok(candidate)) = input.peek() else { continue };
            if smallest.as_ref().is_none_or(|(_, best)| candidate.labels.cmp(best) == Ordering::Less) {
                smallest = Some((index, candidate.labels.clone()));
            }
        }
        let first_index = smallest?.0;
        let Some(Ok(first)) = self.inputs[first_index].next() else { return None };
        let mut parts = vec![first.samples];
        for index in first_index + 1..self.inputs.len() {
            if let Some(Ok(other)) = self.inputs[index].peek()
                && other.labels == first.labels
                && let Some(Ok(other)) = self.inputs[index].next()
            {
                parts.push(other.samples);
            }
        }
        let samples: Box<dyn SampleIterator> =
            if parts.len() == 1 { parts.pop().expect("one part") } else { Box::new(MergeSampleIterator::new(parts)) };
        Some(Ok(Series { labels: first.labels, samples }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{VecSampleIterator, collect_samples};

    fn iter(points: &[(i64, f64)]) -> Box<dyn SampleIterator> {
        Box::new(VecSampleIterator::new(points.iter().map(|&(t, v)| Sample::new(t, v)).collect()))
    }

    #[test]
    fn merge_interleaves_and_first_input_wins_ties() {
        let mut merged =
            MergeSampleIterator::new(vec![iter(&[(1, 1.0), (3, 3.0)]), iter(&[(2, 2.0), (3, 9.0), (4, 4.0)])]);
        let got: Vec<_> = collect_samples(&mut merged).iter().map(|s| (s.t, s.v)).collect();
        assert_eq!(got, vec![(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]);
    }

    #[test]
    fn merge_seek_returns_current_when_it_qualifies() {
        let mut merged = MergeSampleIterator::new(vec![iter(&[(1, 1.0), (5, 5.0)]), iter(&[(3, 3.0), (7, 7.0)])]);
        assert_eq!(merged.seek(2).map(|s| s.t), Some(3));
        assert_eq!(merged.seek(3).map(|s| s.t), Some(3));
        assert_eq!(merged.next().map(|s| s.t), Some(5));
        assert_eq!(merged.seek(6).map(|s| s.t), Some(7));
        assert_eq!(merged.seek(8), None);
    }
}
