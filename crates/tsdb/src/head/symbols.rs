//! The head's symbol table: every label name and value of its series, stored once and named by
//! a `u32`, so that a series keeps its labels as ids (8 bytes a label instead of two `Arc<str>`,
//! 32 bytes) and [`Labels`] are built only when read.
//!
//! Each string counts the series using it; a series releases its strings when dropped (not
//! when the head removes it: an appender or a series handle may still hold it and read its
//! labels), and a string no series uses is freed and its id reused.

use std::collections::HashMap;
use std::sync::Arc;

use panoptes_model::{Label, Labels};
use parking_lot::Mutex;

/// The strings of the head's labels by id.
#[derive(Default)]
pub(crate) struct SymbolTable {
    /// Strings by id; a freed id holds the empty string until it is reused.
    strings: Vec<Arc<str>>,
    /// The number of uses of each id (a series using a string for name and value counts 2).
    uses: Vec<u32>,
    ids: HashMap<Arc<str>, u32>,
    /// Freed ids, reused before new ones.
    free: Vec<u32>,
    /// [`SymbolTable::ranks`] as last computed, until a string is added or freed: queries
    /// sort the series they select by it, and strings change only with series churn.
    ranks: Mutex<Option<Arc<[u32]>>>,
}

impl SymbolTable {
    /// Returns the id of `string`, adding it when new.
    ///
    /// # Panics
    ///
    /// Panics when the head holds more than `u32::MAX` distinct strings, which it cannot hold
    /// in memory anyway.
    fn intern(&mut self, string: &Arc<str>) -> u32 {
        if let Some(&id) = self.ids.get(string) {
            self.uses[id as usize] += 1;
            return id;
        }
        *self.ranks.get_mut() = None;
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = string.clone();
                self.uses[id as usize] = 1;
                id
            }
            None => {
                self.strings.push(string.clone());
                self.uses.push(1);
                u32::try_from(self.strings.len() - 1).expect("fewer than 2^32 distinct label strings")
            }
        };
        self.ids.insert(string.clone(), id);
        id
    }

    /// Releases one use of each id in `ids`, freeing the strings no longer used.
    pub(crate) fn release(&mut self, ids: &[u32]) {
        for &id in ids {
            let uses = &mut self.uses[id as usize];
            *uses -= 1;
            if *uses == 0 {
                *self.ranks.get_mut() = None;
                let string = std::mem::replace(&mut self.strings[id as usize], Arc::from(""));
                self.ids.remove(&string);
                self.free.push(id);
            }
        }
    }

    /// Returns the ids of `labels`, name and value of each label in turn, counting one use of
    /// each; [`SymbolTable::release`] gives them back.
    pub(crate) fn intern_labels(&mut self, labels: &Labels) -> Box<[u32]> {
        labels.iter().flat_map(|label| [self.intern(&label.name), self.intern(&label.value)]).collect()
    }

    /// Returns the string of `id`.
    pub(crate) fn string(&self, id: u32) -> &Arc<str> {
        &self.strings[id as usize]
    }

    /// Returns the `(name, value)` pairs of label ids.
    pub(crate) fn pairs<'a>(&'a self, ids: &'a [u32]) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        ids.chunks_exact(2).map(|pair| (&**self.string(pair[0]), &**self.string(pair[1])))
    }

    /// Returns the labels that `ids` name (interned strings, shared with the table).
    pub(crate) fn labels(&self, ids: &[u32]) -> Labels {
        let labels: Vec<Label> = ids
            .chunks_exact(2)
            .map(|pair| Label { name: self.string(pair[0]).clone(), value: self.string(pair[1]).clone() })
            .collect();
        Labels::from_sorted_unchecked(labels)
    }

    /// Returns whether `ids` name exactly `labels`.
    pub(crate) fn equals(&self, ids: &[u32], labels: &Labels) -> bool {
        ids.len() == labels.len() * 2
            && self
                .pairs(ids)
                .zip(labels.iter())
                .all(|((name, value), label)| *label.name == *name && *label.value == *value)
    }

    /// Returns whether `ids` name exactly these canonical pairs.
    pub(crate) fn equals_pairs(&self, ids: &[u32], pairs: &[(&str, &str)]) -> bool {
        ids.len() == pairs.len() * 2
            && self
                .pairs(ids)
                .zip(pairs)
                .all(|((name, value), (other_name, other_value))| name == *other_name && value == *other_value)
    }

    /// Returns each id's place in the sorted order of the strings, so that comparing label-id
    /// lists by the ranks of their ids orders them as their [`Labels`] are ordered, without
    /// comparing strings (a sort of the head's series by labels then compares integers).
    pub(crate) fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.strings.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.strings[a as usize].cmp(&self.strings[b as usize]));
        let mut ranks = vec![0u32; order.len()];
        for (place, id) in order.into_iter().enumerate() {
            ranks[id as usize] = place as u32;
        }
        ranks
    }

    /// Returns [`SymbolTable::ranks`], computed once until a string is added or freed; `None`
    /// when it is not computed yet and computing it would cost more than sorting `series`
    /// label sets by their strings (it sorts every string of the table).
    pub(crate) fn cached_ranks(&self, series: usize) -> Option<Arc<[u32]>> {
        let mut cached = self.ranks.lock();
        if cached.is_none() && series.saturating_mul(4) >= self.strings.len() {
            *cached = Some(self.ranks().into());
        }
        cached.clone()
    }

    /// Returns the number of strings held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_ids_read_back_compare_and_free_unused_strings() {
        let mut table = SymbolTable::default();
        let a = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
        let b = Labels::from_pairs([("__name__", "up"), ("job", "api")]);
        let a_ids = table.intern_labels(&a);
        let b_ids = table.intern_labels(&b);
        assert_eq!(table.labels(&a_ids), a);
        assert_eq!(table.labels(&b_ids), b);
        assert_eq!(table.len(), 5, "names and equal values are stored once");
        assert!(table.equals(&a_ids, &a) && !table.equals(&a_ids, &b));
        assert!(table.equals_pairs(&b_ids, &[("__name__", "up"), ("job", "api")]));
        let short = Labels::from_pairs([("__name__", "up")]);
        let short_ids = table.intern_labels(&short);
        let ranks = table.ranks();
        let ranked = |ids: &[u32]| ids.iter().map(|&id| ranks[id as usize]).collect::<Vec<_>>();
        for (x, x_ids) in [(&a, &a_ids), (&b, &b_ids), (&short, &short_ids)] {
            for (y, y_ids) in [(&a, &a_ids), (&b, &b_ids), (&short, &short_ids)] {
                assert_eq!(ranked(x_ids).cmp(&ranked(y_ids)), x.cmp(y), "{x} vs {y}");
            }
        }
        table.release(&short_ids);

        table.release(&b_ids);
        assert_eq!(table.len(), 4, "\"api\" is freed");
        let c = Labels::from_pairs([("__name__", "up"), ("job", "db")]);
        let c_ids = table.intern_labels(&c);
        assert_eq!(table.len(), 5);
        assert_eq!(table.labels(&c_ids), c);
        assert_eq!(table.labels(&a_ids), a);
        assert_eq!(c_ids[3], b_ids[3], "the freed id is reused");
    }

    #[test]
    fn cached_ranks_follow_added_and_freed_strings() {
        let mut table = SymbolTable::default();
        let sorted_by_ranks = |table: &SymbolTable, sets: &[(&Labels, &[u32])]| {
            let ranks = table.cached_ranks(sets.len()).expect("few strings: ranks computed");
            let mut sets = sets.to_vec();
            sets.sort_by_key(|(_, ids)| ids.iter().map(|&id| ranks[id as usize]).collect::<Vec<_>>());
            sets.into_iter().map(|(labels, _)| labels.clone()).collect::<Vec<_>>()
        };
        let a = Labels::from_pairs([("__name__", "up"), ("job", "b")]);
        let a_ids = table.intern_labels(&a);
        assert!(table.cached_ranks(0).is_none(), "not worth computing for no series");
        assert_eq!(sorted_by_ranks(&table, &[(&a, &a_ids)]), vec![a.clone()]);
        // A string sorting between and before the cached ones: ranks must be computed again.
        let b = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let b_ids = table.intern_labels(&b);
        assert_eq!(sorted_by_ranks(&table, &[(&a, &a_ids), (&b, &b_ids)]), vec![b.clone(), a.clone()]);
        // A freed id reused for a string that sorts elsewhere.
        table.release(&b_ids);
        let c = Labels::from_pairs([("__name__", "up"), ("job", "c")]);
        let c_ids = table.intern_labels(&c);
        assert_eq!(c_ids[3], b_ids[3], "the freed id is reused");
        assert_eq!(sorted_by_ranks(&table, &[(&c, &c_ids), (&a, &a_ids)]), vec![a, c]);
    }
}
