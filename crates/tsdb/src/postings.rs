//! Postings (sorted lists of series references) and matcher evaluation over them.
//!
//! Shared by the head and by blocks through [`PostingsSource`]: both keep, for every label
//! pair, the sorted references of the series that carry it. Matchers that cannot match the
//! empty string select by union of postings; those that can (`a=""`, `a!="x"`, `a!~"x|"`)
//! subtract what they exclude, as Prometheus' `PostingsForMatchers` does.

use panoptes_model::Matcher;

/// A sorted, duplicate-free list of series references.
pub(crate) type Postings = Vec<u64>;

/// An index that can list label values and the postings of label pairs.
pub(crate) trait PostingsSource {
    /// Returns the values of `name` in any order.
    fn label_values_unsorted(&self, name: &str) -> Vec<String>;
    /// Returns the postings of `name="value"` (empty when absent).
    fn postings(&self, name: &str, value: &str) -> Postings;
    /// Returns the postings of every series.
    fn all_postings(&self) -> Postings;
}

/// Returns the sorted references of the series that satisfy every matcher.
pub(crate) fn postings_for_matchers(source: &dyn PostingsSource, matchers: &[Matcher]) -> Postings {
    let mut result: Option<Postings> = None;
    let mut subtract: Vec<Postings> = Vec::new();
    // Positive selections first (they shrink the result most), then exclusions.
    for matcher in matchers {
        if matcher.matches_everything() {
            continue;
        }
        if matcher.matches_empty() {
            // Series lacking the label match; exclude those whose value does not match.
            let excluded: Vec<Postings> = source
                .label_values_unsorted(&matcher.name)
                .iter()
                .filter(|value| !matcher.matches(value))
                .map(|value| source.postings(&matcher.name, value))
                .collect();
            subtract.push(union(excluded));
            continue;
        }
        let selected = match matcher.set_matches() {
            Some(values) => union(values.iter().map(|value| source.postings(&matcher.name, value)).collect()),
            None => union(
                source
                    .label_values_unsorted(&matcher.name)
                    .iter()
                    .filter(|value| matcher.matches(value))
                    .map(|value| source.postings(&matcher.name, value))
                    .collect(),
            ),
        };
        result = Some(match result {
            None => selected,
            Some(current) => intersect(&current, &selected),
        });
        if result.as_ref().is_some_and(Vec::is_empty) {
            return Vec::new();
        }
    }
    let mut result = result.unwrap_or_else(|| source.all_postings());
    for excluded in subtract {
        result = without(&result, &excluded);
    }
    result
}

/// Below this ratio of list lengths, [`intersect`] walks both lists; above it, a binary search
/// of the longer for each element of the shorter reads less.
const LINEAR_INTERSECT_RATIO: usize = 16;

/// Returns the intersection of two sorted lists.
pub(crate) fn intersect(a: &[u64], b: &[u64]) -> Postings {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    // Lists of like sizes (`__name__` and a label both selecting tens of thousands of
    // series): one pass over both, instead of a binary search of the rest for each element.
    if large.len() / LINEAR_INTERSECT_RATIO <= small.len() {
        let (mut i, mut j) = (0, 0);
        while i < small.len() && j < large.len() {
            let (x, y) = (small[i], large[j]);
            if x == y {
                out.push(x);
            }
            i += usize::from(x <= y);
            j += usize::from(y <= x);
        }
        return out;
    }
    let mut rest = large;
    for &value in small {
        let position = rest.partition_point(|&x| x < value);
        rest = &rest[position..];
        if rest.first() == Some(&value) {
            out.push(value);
        }
    }
    out
}

/// Returns the elements of `a` that are not in `b`.
pub(crate) fn without(a: &[u64], b: &[u64]) -> Postings {
    if b.is_empty() {
        return a.to_vec();
    }
    a.iter().copied().filter(|value| b.binary_search(value).is_err()).collect()
}

/// Returns the union of sorted lists.
pub(crate) fn union(mut lists: Vec<Postings>) -> Postings {
    lists.retain(|list| !list.is_empty());
    match lists.len() {
        0 => Vec::new(),
        1 => lists.pop().expect("one list"),
        _ => {
            let total: usize = lists.iter().map(Vec::len).sum();
            let low = lists.iter().map(|list| list[0]).min().unwrap_or(0);
            let high = lists.iter().map(|list| list[list.len() - 1]).max().unwrap_or(0);
            // References close together (the head's ids, dense in creation order): one bit per
            // reference in the span, set and then read in order, instead of sorting every
            // reference of every list (`__name__=~".+"` unites the postings of every name).
            let span_words = usize::try_from((high - low) / 64 + 1).unwrap_or(usize::MAX);
            if span_words <= total {
                return union_in_bitmap(&lists, low, span_words, total);
            }
            let mut all: Postings = lists.concat();
            all.sort_unstable();
            all.dedup();
            all
        }
    }
}

/// [`union`] of lists whose references all lie in `low..low + 64 * words`.
fn union_in_bitmap(lists: &[Postings], low: u64, words: usize, total: usize) -> Postings {
    let mut bits = IdBits { base: low, words: vec![0; words] };
    for &reference in lists.iter().flatten() {
        bits.insert(reference);
    }
    let mut out = Vec::with_capacity(total);
    bits.push_all(&mut out);
    out
}

/// A set of series ids (or references) as bits from the smallest one it may hold: the head's
/// ids are handed out in increasing order, so live ones are dense, and a lookup or an insert is
/// one word instead of a probe in a hash table.
pub(crate) struct IdBits {
    base: u64,
    words: Vec<u64>,
}

impl IdBits {
    /// Returns an empty set sized for `ids`.
    pub(crate) fn spanning(ids: impl Iterator<Item = u64> + Clone) -> IdBits {
        let base = ids.clone().min().unwrap_or(0);
        let span = ids.max().map_or(0, |max| max - base + 1);
        IdBits { base, words: vec![0; span.div_ceil(64) as usize] }
    }

    /// Adds `id`, which must lie in the span the set was made for.
    pub(crate) fn insert(&mut self, id: u64) {
        let offset = id - self.base;
        self.words[(offset / 64) as usize] |= 1 << (offset % 64);
    }

    pub(crate) fn contains(&self, id: &u64) -> bool {
        id.checked_sub(self.base)
            .and_then(|offset| self.words.get((offset / 64) as usize).map(|word| word >> (offset % 64) & 1 == 1))
            .unwrap_or(false)
    }

    /// Appends the ids to `out` in increasing order.
    pub(crate) fn push_all(&self, out: &mut Vec<u64>) {
        for (index, &word) in self.words.iter().enumerate() {
            let mut word = word;
            while word != 0 {
                out.push(self.base + index as u64 * 64 + u64::from(word.trailing_zeros()));
                word &= word - 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use panoptes_model::MatchOp;

    use super::*;

    struct Fake(BTreeMap<(String, String), Postings>, Postings);

    impl PostingsSource for Fake {
        fn label_values_unsorted(&self, name: &str) -> Vec<String> {
            self.0.keys().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect()
        }
        fn postings(&self, name: &str, value: &str) -> Postings {
            self.0.get(&(name.to_owned(), value.to_owned())).cloned().unwrap_or_default()
        }
        fn all_postings(&self) -> Postings {
            self.1.clone()
        }
    }

    #[test]
    fn id_bits_hold_exactly_the_ids_inserted() {
        let ids = [70u64, 5, 200, 133];
        let mut set = IdBits::spanning(ids.iter().copied());
        for &id in &ids {
            set.insert(id);
        }
        for id in 0..300 {
            assert_eq!(set.contains(&id), ids.contains(&id), "{id}");
        }
        let mut all = Vec::new();
        set.push_all(&mut all);
        assert_eq!(all, [5, 70, 133, 200], "in increasing order");
        assert!(!IdBits::spanning(std::iter::empty()).contains(&0), "an empty set holds nothing");
    }

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5]), vec![3, 5]);
        // Like sizes (one pass over both) and very different ones (binary searches) alike.
        let evens: Postings = (0..1000u64).map(|i| i * 2).collect();
        let threes: Postings = (0..700u64).map(|i| i * 3).collect();
        let want: Postings = (0..2000u64).filter(|i| i % 6 == 0).collect();
        assert_eq!(intersect(&evens, &threes), want);
        assert_eq!(intersect(&threes, &evens), want);
        assert_eq!(intersect(&evens, &[0, 7, 8, 1998, 1999, 5000]), vec![0, 8, 1998]);
        assert_eq!(intersect(&[], &evens), Vec::<u64>::new());
        assert_eq!(intersect(&[u64::MAX], &[1, u64::MAX]), vec![u64::MAX]);
        assert_eq!(without(&[1, 3, 5, 7], &[3, 7]), vec![1, 5]);
        assert_eq!(union(vec![vec![1, 4], vec![2, 4, 9]]), vec![1, 2, 4, 9]);
        // Dense references (a bitmap) and sparse ones (a sort) alike.
        assert_eq!(union(vec![vec![], vec![7]]), vec![7]);
        assert_eq!(union(vec![vec![100, 164, 165], vec![101, 164, 300], vec![]]), vec![100, 101, 164, 165, 300]);
        assert_eq!(union(vec![vec![5, u64::MAX - 1], vec![6, u64::MAX]]), vec![5, 6, u64::MAX - 1, u64::MAX]);
        let lists: Vec<Postings> =
            (0..7u64).map(|k| (0..500u64).map(|i| 1000 + i * (k + 1)).filter(|i| i % 5 != k).collect()).collect();
        let mut want: Postings = lists.concat();
        want.sort_unstable();
        want.dedup();
        assert_eq!(union(lists), want);
    }

    #[test]
    fn matchers_select_and_exclude() {
        let mut map = BTreeMap::new();
        map.insert(("job".to_owned(), "a".to_owned()), vec![1, 2]);
        map.insert(("job".to_owned(), "b".to_owned()), vec![3]);
        map.insert(("env".to_owned(), "prod".to_owned()), vec![2, 3]);
        let fake = Fake(map, vec![1, 2, 3, 4]);
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        assert_eq!(postings_for_matchers(&fake, &[m(MatchOp::Equal, "job", "a")]), vec![1, 2]);
        assert_eq!(postings_for_matchers(&fake, &[m(MatchOp::Equal, "env", "")]), vec![1, 4]);
        assert_eq!(postings_for_matchers(&fake, &[m(MatchOp::NotEqual, "job", "a")]), vec![3, 4]);
        assert_eq!(
            postings_for_matchers(&fake, &[m(MatchOp::Regex, "job", "a|b"), m(MatchOp::NotRegex, "env", "pr.*")]),
            vec![1]
        );
        assert_eq!(postings_for_matchers(&fake, &[]), vec![1, 2, 3, 4]);
    }
}
