//! Head statistics for `/api/v1/status/tsdb`, read from the postings without touching samples.

use std::sync::atomic::Ordering;

use super::Db;

/// Cardinality of the head, shaped like Prometheus' `/api/v1/status/tsdb` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeadCardinality {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label pairs in the head.
    pub num_label_pairs: u64,
    /// Chunks in the head (the open ones included).
    pub chunk_count: u64,
    /// Oldest sample time in the head (`i64::MAX` when empty, as Prometheus reports).
    pub min_time: i64,
    /// Newest sample time in the head (`i64::MIN` when empty).
    pub max_time: i64,
    /// Metric names with the most series.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Label names with the most values.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Label names by the memory their values take (value length × series).
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Label pairs with the most series.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
}

fn top(mut entries: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(limit);
    entries
}

impl Db {
    /// Returns the head's cardinality; each list holds at most `limit` entries, largest first.
    pub fn head_cardinality(&self, limit: usize) -> HeadCardinality {
        let head = &self.inner.head;
        let mut stats = HeadCardinality {
            min_time: head.min_time.load(Ordering::Relaxed),
            max_time: head.max_time.load(Ordering::Relaxed),
            ..HeadCardinality::default()
        };
        {
            let postings = head.postings.read();
            stats.num_series = postings.all.len() as u64;
            let mut values_by_name = Vec::new();
            let mut memory_by_name = Vec::new();
            let mut pairs = Vec::new();
            for (name, values) in &postings.by_label {
                stats.num_label_pairs += values.len() as u64;
                values_by_name.push((name.to_string(), values.len() as u64));
                memory_by_name
                    .push((name.to_string(), values.iter().map(|(v, ids)| (v.len() * ids.len()) as u64).sum()));
                for (value, ids) in values {
                    pairs.push((format!("{name}={value}"), ids.len() as u64));
                }
            }
            if let Some(names) = postings.by_label.get(panoptes_model::METRIC_NAME) {
                stats.series_count_by_metric_name =
                    top(names.iter().map(|(v, ids)| (v.to_string(), ids.len() as u64)).collect(), limit);
            }
            stats.label_value_count_by_label_name = top(values_by_name, limit);
            stats.memory_in_bytes_by_label_name = top(memory_by_name, limit);
            stats.series_count_by_label_value_pair = top(pairs, limit);
        }
        stats.chunk_count = head
            .all_series()
            .iter()
            .map(|series| {
                let data = series.data.lock();
                data.chunks.len() as u64 + u64::from(data.open.is_some())
            })
            .sum();
        stats
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use panoptes_storage::Storage;
    use panoptes_storage::testsuite::series;

    use crate::{Db, DbOptions};

    #[test]
    fn head_cardinality_counts_postings() {
        let dir = tempfile::tempdir().unwrap();
        let db =
            Db::open(dir.path(), DbOptions { maintenance_interval: Duration::from_secs(3600), ..DbOptions::default() })
                .unwrap();
        let mut appender = db.appender();
        for pod in ["a", "b", "c"] {
            appender.append(&series("http_requests_total", &[("pod", pod)]), 1000, 1.0).unwrap();
        }
        appender.append(&series("up", &[("pod", "a")]), 2000, 1.0).unwrap();
        appender.commit().unwrap();
        let stats = db.head_cardinality(2);
        assert_eq!((stats.num_series, stats.num_label_pairs, stats.chunk_count), (4, 5, 4));
        assert_eq!((stats.min_time, stats.max_time), (1000, 2000));
        assert_eq!(
            stats.series_count_by_metric_name,
            vec![("http_requests_total".to_owned(), 3), ("up".to_owned(), 1)]
        );
        assert_eq!(stats.label_value_count_by_label_name, vec![("pod".to_owned(), 3), ("__name__".to_owned(), 2)]);
        assert_eq!(stats.series_count_by_label_value_pair[0], ("__name__=http_requests_total".to_owned(), 3));
        assert_eq!(stats.memory_in_bytes_by_label_name[0], ("__name__".to_owned(), 19 * 3 + 2));
    }
}
