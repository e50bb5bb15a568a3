//! The in-memory reference store: the model that real stores are checked against.

use std::collections::BTreeMap;
use std::sync::Arc;

use panoptes_model::{Labels, Matcher, Sample};
use parking_lot::RwLock;

use crate::{Appender, Error, Querier, Result, Series, SeriesSet, Storage, VecSampleIterator};

type SeriesMap = BTreeMap<Labels, Vec<Sample>>;

/// A store that keeps every sample in a sorted map. Simple enough to be obviously right, so
/// property tests compare other stores against it. Out-of-order samples are always rejected.
#[derive(Debug, Clone, Default)]
pub struct MemStorage {
    series: Arc<RwLock<SeriesMap>>,
}

impl MemStorage {
    /// Returns an empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the number of series stored.
    pub fn series_count(&self) -> usize {
        self.series.read().len()
    }
}

impl Storage for MemStorage {
    fn appender(&self) -> Box<dyn Appender> {
        Box::new(MemAppender { store: self.series.clone(), pending: Vec::new() })
    }

    fn querier(&self, mint: i64, maxt: i64) -> Result<Box<dyn Querier>> {
        let series = self.series.read();
        let snapshot: SeriesMap = series
            .iter()
            .filter_map(|(labels, samples)| {
                let inside: Vec<Sample> = samples.iter().filter(|s| s.t >= mint && s.t <= maxt).copied().collect();
                (!inside.is_empty()).then(|| (labels.clone(), inside))
            })
            .collect();
        Ok(Box::new(MemQuerier { series: snapshot }))
    }
}

struct MemAppender {
    store: Arc<RwLock<SeriesMap>>,
    pending: Vec<(Labels, Sample)>,
}

impl Appender for MemAppender {
    fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<()> {
        labels.validate()?;
        let pending_last = self.pending.iter().rev().find(|(l, _)| l == labels).map(|(_, s)| *s);
        let last = pending_last.or_else(|| self.store.read().get(labels).and_then(|s| s.last().copied()));
        if let Some(last) = last {
            if t < last.t {
                return Err(Error::OutOfOrder { series: labels.to_string(), t, last_t: last.t });
            }
            if t == last.t {
                if last.v.to_bits() == v.to_bits() {
                    return Ok(());
                }
                return Err(Error::DuplicateSample { series: labels.to_string(), t });
            }
        }
        self.pending.push((labels.clone(), Sample::new(t, v)));
        Ok(())
    }

    fn commit(self: Box<Self>) -> Result<()> {
        let mut store = self.store.write();
        for (labels, sample) in self.pending {
            store.entry(labels).or_default().push(sample);
        }
        Ok(())
    }
}

struct MemQuerier {
    series: SeriesMap,
}

impl MemQuerier {
    fn matching<'a>(&'a self, matchers: &'a [Matcher]) -> impl Iterator<Item = (&'a Labels, &'a Vec<Sample>)> + 'a {
        self.series.iter().filter(move |(labels, _)| matches_all(labels, matchers))
    }
}

/// Returns whether `labels` satisfy every matcher (an absent label counts as empty).
pub(crate) fn matches_all(labels: &Labels, matchers: &[Matcher]) -> bool {
    matchers.iter().all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

impl Querier for MemQuerier {
    fn select(&self, matchers: &[Matcher]) -> Result<SeriesSet> {
        let result: Vec<Result<Series>> = self
            .matching(matchers)
            .map(|(labels, samples)| {
                Ok(Series { labels: labels.clone(), samples: Box::new(VecSampleIterator::new(samples.clone())) })
            })
            .collect();
        Ok(Box::new(result.into_iter()))
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut names: Vec<String> =
            self.matching(matchers).flat_map(|(labels, _)| labels.iter().map(|l| l.name.to_string())).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut values: Vec<String> =
            self.matching(matchers).filter_map(|(labels, _)| labels.get(name).map(str::to_owned)).collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_storage_passes_the_conformance_suite() {
        crate::testsuite::run(&|| Box::new(MemStorage::new()));
    }
}
