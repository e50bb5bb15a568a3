//! Merging what several sources (head, blocks, out-of-order buffers) return for one query.

use std::cmp::Ordering;

use panoptes_model::{Labels, Sample};

use crate::{Result, SampleIterator, Series, SeriesSet};

/// Merges sample iterators of one series in time order. When several inputs hold the same
/// timestamp, the sample of the input listed first wins and the others are skipped.
///
/// Nothing is read from the inputs before the first call: a query selects every series on one
/// thread and reads them on several, so reading (decoding chunks) must wait for the reader.
pub struct MergeSampleIterator {
    inputs: Vec<Box<dyn SampleIterator>>,
    /// The sample each input returned last and that has not been passed on yet; empty until
    /// the first `next` or `seek` (`read_all` reads the inputs whole instead).
    heads: Vec<Option<Sample>>,
    is_started: bool,
    last: Option<Sample>,
    /// The input that supplied the last sample, and the earliest head of the other inputs then:
    /// while that input's samples stay before it, they are passed on without comparing heads.
    /// Inputs usually cover disjoint times (blocks, then the head), so most samples take this
    /// path.
    run: Option<(usize, i64)>,
}

impl MergeSampleIterator {
    /// Returns an iterator over the union of `inputs`, first input winning ties.
    pub fn new(inputs: Vec<Box<dyn SampleIterator>>) -> Self {
        Self { inputs, heads: Vec::new(), is_started: false, last: None, run: None }
    }

    /// Reads every input's first sample, once.
    fn start(&mut self) {
        if !self.is_started {
            self.is_started = true;
            self.heads = self.inputs.iter_mut().map(|input| input.next()).collect();
        }
    }
}

impl SampleIterator for MergeSampleIterator {
    fn next(&mut self) -> Option<Sample> {
        self.start();
        if let Some((index, bound)) = self.run
            && let Some(sample) = self.heads[index].filter(|sample| sample.t < bound)
        {
            self.heads[index] = self.inputs[index].next();
            self.last = Some(sample);
            return Some(sample);
        }
        let mut best: Option<(usize, Sample)> = None;
        for (index, head) in self.heads.iter().enumerate() {
            if let Some(sample) = head
                && best.is_none_or(|(_, b)| sample.t < b.t)
            {
                best = Some((index, *sample));
            }
        }
        let (best_index, sample) = best?;
        let mut bound = i64::MAX;
        for (index, head) in self.heads.iter_mut().enumerate() {
            if head.is_some_and(|h| h.t == sample.t) {
                *head = self.inputs[index].next();
            }
            if index != best_index
                && let Some(h) = head
            {
                bound = bound.min(h.t);
            }
        }
        self.run = Some((best_index, bound));
        self.last = Some(sample);
        Some(sample)
    }

    fn seek(&mut self, t: i64) -> Option<Sample> {
        if let Some(last) = self.last.filter(|last| last.t >= t) {
            return Some(last);
        }
        self.run = None;
        if !self.is_started {
            self.is_started = true;
            self.heads = self.inputs.iter_mut().map(|input| input.seek(t)).collect();
            return self.next();
        }
        for (index, head) in self.heads.iter_mut().enumerate() {
            if head.is_some_and(|h| h.t < t) {
                *head = self.inputs[index].seek(t);
            }
        }
        self.next()
    }

    fn read_all(&mut self, out: &mut Vec<Sample>) {
        let before = out.len();
        // Each input's samples not passed on yet, as a range of `out`, in input order.
        let mut runs: Vec<(usize, usize)> = Vec::with_capacity(self.inputs.len());
        if self.is_started {
            for (input, head) in self.inputs.iter_mut().zip(&mut self.heads) {
                let Some(first) = head.take() else { continue };
                let start = out.len();
                out.push(first);
                input.read_all(out);
                runs.push((start, out.len()));
            }
        } else {
            // Straight into `out`: no per-input buffer, no sample peeked and put back.
            self.is_started = true;
            self.heads = vec![None; self.inputs.len()];
            for input in &mut self.inputs {
                let start = out.len();
                input.read_all(out);
                if out.len() > start {
                    runs.push((start, out.len()));
                }
            }
        }
        self.run = None;
        arrange_runs(out, before, &runs);
        if out.len() > before {
            self.last = out.last().copied();
        }
    }

    fn take_error(&mut self) -> Option<crate::Error> {
        self.inputs.iter_mut().find_map(|input| input.take_error())
    }
}

/// Puts the samples of `runs` (consecutive, non-empty ranges of `out` starting at `before`,
/// in input order, each in time order) into time order, keeping one sample per timestamp (that
/// of the earliest input).
///
/// Inputs that follow one another in time are the usual case: blocks in time order, or the
/// head listed first and then the blocks (a rotation of the time order); these are moved in
/// place. Only overlapping inputs are merged sample by sample.
fn arrange_runs(out: &mut Vec<Sample>, before: usize, runs: &[(usize, usize)]) {
    let precedes = |a: (usize, usize), b: (usize, usize)| out[a.1 - 1].t < out[b.0].t;
    if runs.windows(2).all(|pair| precedes(pair[0], pair[1])) {
        return;
    }
    let Some(first) = (0..runs.len()).min_by_key(|&index| out[runs[index].0].t) else { return };
    let rotated = runs[first..].iter().chain(&runs[..first]).copied();
    if rotated.clone().zip(rotated.skip(1)).all(|(a, b)| precedes(a, b)) {
        out[before..].rotate_left(runs[first].0 - before);
        return;
    }
    let merged_input = out.split_off(before);
    let mut positions: Vec<usize> = runs.iter().map(|&(start, _)| start - before).collect();
    loop {
        let mut best: Option<Sample> = None;
        for (&(_, end), &position) in runs.iter().zip(&positions) {
            if position < end - before && best.is_none_or(|b| merged_input[position].t < b.t) {
                best = Some(merged_input[position]);
            }
        }
        let Some(sample) = best else { break };
        for (&(_, end), position) in runs.iter().zip(&mut positions) {
            if *position < end - before && merged_input[*position].t == sample.t {
                *position += 1;
            }
        }
        out.push(sample);
    }
}

/// Merges series sets that are each sorted by labels into one sorted set; series with the same
/// labels in several sets become one series whose samples are merged (earlier sets win ties).
pub fn merge_series_sets(sets: Vec<SeriesSet>) -> SeriesSet {
    if sets.len() == 1 {
        return sets.into_iter().next().expect("one set");
    }
    let mut inputs = sets;
    let heads = inputs.iter_mut().map(Iterator::next).collect();
    Box::new(MergedSeriesSet { inputs, heads, holding: Vec::new() })
}

struct MergedSeriesSet {
    inputs: Vec<SeriesSet>,
    /// The next item of each input.
    heads: Vec<Option<Result<Series>>>,
    /// The inputs whose next series comes next (kept between calls for its allocation).
    holding: Vec<usize>,
}

impl MergedSeriesSet {
    /// Returns the head of input `index` and moves that input on.
    fn take(&mut self, index: usize) -> Option<Result<Series>> {
        let next = self.inputs[index].next();
        std::mem::replace(&mut self.heads[index], next)
    }
}

impl Iterator for MergedSeriesSet {
    type Item = Result<Series>;

    fn next(&mut self) -> Option<Self::Item> {
        // Surface errors first, in input order.
        if let Some(index) = self.heads.iter().position(|head| matches!(head, Some(Err(_)))) {
            return self.take(index);
        }
        // One comparison per input: the inputs holding the smallest label set, in input order.
        // (Comparing label sets that are equal reads every string of both, often from memory
        // that is not in cache: a head's and a block's copies of one series.)
        let mut smallest: Option<&Labels> = None;
        let mut holding = std::mem::take(&mut self.holding);
        holding.clear();
        for (index, head) in self.heads.iter().enumerate() {
            let Some(Ok(candidate)) = head else { continue };
            match smallest.map(|best| candidate.labels.cmp(best)) {
                Some(Ordering::Greater) => {}
                Some(Ordering::Equal) => holding.push(index),
                None | Some(Ordering::Less) => {
                    smallest = Some(&candidate.labels);
                    holding.clear();
                    holding.push(index);
                }
            }
        }
        let &first_index = holding.first()?;
        let Some(Ok(first)) = self.take(first_index) else { return None };
        let mut parts = Vec::with_capacity(holding.len());
        parts.push(first.samples);
        for &index in &holding[1..] {
            if let Some(Ok(other)) = self.take(index) {
                parts.push(other.samples);
            }
        }
        self.holding = holding;
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
    fn merge_takes_runs_of_one_input_up_to_the_others_and_keeps_tie_precedence() {
        let mut merged = MergeSampleIterator::new(vec![
            iter(&[(1, 1.0), (2, 2.0), (3, 3.0), (7, 7.0), (8, 8.0)]),
            iter(&[(4, 4.0), (5, 5.0), (6, 6.0), (7, 70.0), (9, 9.0)]),
            iter(&[(2, 20.0), (10, 10.0)]),
        ]);
        let got: Vec<_> = collect_samples(&mut merged).iter().map(|s| (s.t, s.v)).collect();
        let want =
            [(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0), (5, 5.0), (6, 6.0), (7, 7.0), (8, 8.0), (9, 9.0), (10, 10.0)];
        assert_eq!(got, want);
    }

    #[test]
    fn merge_read_all_concatenates_disjoint_inputs_and_merges_overlapping_ones() {
        let check = |inputs: Vec<Vec<(i64, f64)>>| {
            let boxed = || inputs.iter().map(|points| iter(points)).collect::<Vec<_>>();
            let one_by_one = collect_samples(&mut MergeSampleIterator::new(boxed()));
            let mut merged = MergeSampleIterator::new(boxed());
            let first = merged.next();
            let mut all: Vec<Sample> = first.into_iter().collect();
            merged.read_all(&mut all);
            assert_eq!(all, one_by_one, "{inputs:?}, one read first");
            assert_eq!(merged.next(), None);
            // Read whole without a first `next`, after samples already in the buffer.
            let mut merged = MergeSampleIterator::new(boxed());
            let mut all = vec![Sample::new(-1, -1.0)];
            merged.read_all(&mut all);
            assert_eq!(all[0], Sample::new(-1, -1.0));
            assert_eq!(all[1..], one_by_one, "{inputs:?}, read whole");
            assert_eq!(merged.next(), None);
        };
        // The head (newest) first, then blocks in time order, as a database querier lists them.
        check(vec![vec![(7, 7.0), (8, 8.0)], vec![(1, 1.0), (2, 2.0)], vec![(4, 4.0), (5, 5.0)]]);
        check(vec![vec![(1, 1.0), (2, 2.0)], vec![(4, 4.0), (5, 5.0)], vec![(7, 7.0), (8, 8.0)]]);
        // Disjoint, but neither in time order nor a rotation of it.
        check(vec![vec![(4, 4.0), (5, 5.0)], vec![(1, 1.0), (2, 2.0)], vec![(7, 7.0), (8, 8.0)]]);
        check(vec![vec![(2, 20.0), (6, 60.0)], vec![(1, 1.0), (2, 2.0), (3, 3.0)], vec![(6, 6.0)]]);
        check(vec![vec![], vec![(1, 1.0)], vec![]]);
        check(vec![vec![(1, 1.0), (3, 3.0)], vec![(3, 30.0), (4, 4.0)]]);
    }

    #[test]
    fn merge_seek_returns_current_when_it_qualifies() {
        let mut merged = MergeSampleIterator::new(vec![iter(&[(1, 1.0), (5, 5.0)]), iter(&[(3, 3.0), (7, 7.0)])]);
        assert_eq!(merged.seek(2).map(|s| s.t), Some(3));
        assert_eq!(merged.seek(3).map(|s| s.t), Some(3));
        assert_eq!(merged.next().map(|s| s.t), Some(5));
        assert_eq!(merged.seek(6).map(|s| s.t), Some(7));
        assert_eq!(merged.seek(8), None);
        // A seek before anything was read seeks every input.
        let mut merged = MergeSampleIterator::new(vec![iter(&[(1, 1.0), (5, 5.0)]), iter(&[(3, 3.0), (7, 7.0)])]);
        assert_eq!(merged.seek(4).map(|s| s.t), Some(5));
        assert_eq!(merged.next().map(|s| s.t), Some(7));
        assert_eq!(merged.next(), None);
    }
}
