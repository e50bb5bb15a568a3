//! Offline inspection of a data directory: cardinality analysis and sample dumps, like
//! `promtool tsdb analyze` and `promtool tsdb dump`. Reads through the storage traits only.

use std::collections::HashMap;
use std::io::Write;

use panoptes_model::{MatchOp, Matcher};
use panoptes_storage::Storage;

/// Cardinality statistics of the series with samples in a time range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalyzeReport {
    /// Start of the analysed range.
    pub mint: i64,
    /// End of the analysed range.
    pub maxt: i64,
    /// Series with at least one sample in the range.
    pub series: usize,
    /// Samples in the range.
    pub samples: u64,
    /// Distinct label names.
    pub label_names: usize,
    /// Distinct label pairs (postings lists).
    pub label_pairs: usize,
    /// Metric names with the most series.
    pub top_metrics: Vec<(String, usize)>,
    /// Label names with the most distinct values.
    pub top_label_cardinality: Vec<(String, usize)>,
    /// Label pairs carried by the most series.
    pub top_label_pairs: Vec<(String, usize)>,
    /// Label pairs of series that start or stop inside the range (churn), most first.
    pub top_churn_pairs: Vec<(String, usize)>,
    /// Series that start or stop inside the range.
    pub churning_series: usize,
}

fn top(map: HashMap<String, usize>, limit: usize) -> Vec<(String, usize)> {
    let mut entries: Vec<(String, usize)> = map.into_iter().collect();
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(limit);
    entries
}

/// Analyses the series of `storage` with samples in `[mint, maxt]`; lists hold `limit` entries.
/// A series churns when its first sample comes more than `churn_slack_ms` after the range's
/// first sample or its last more than that before the range's last sample.
///
/// # Errors
///
/// Returns the storage error when reading fails.
pub fn analyze(
    storage: &dyn Storage,
    mint: i64,
    maxt: i64,
    limit: usize,
    churn_slack_ms: i64,
) -> panoptes_storage::Result<AnalyzeReport> {
    let querier = storage.querier(mint, maxt)?;
    let all = Matcher::new(MatchOp::Regex, "__name__", ".+").expect("valid regex");
    let mut spans = Vec::new();
    let mut report = AnalyzeReport { mint, maxt, ..AnalyzeReport::default() };
    let mut metrics: HashMap<String, usize> = HashMap::new();
    let mut pairs: HashMap<String, usize> = HashMap::new();
    let mut values_by_name: HashMap<String, std::collections::HashSet<String>> = HashMap::new();
    for series in querier.select(&[all])? {
        let mut series = series?;
        let mut first = None;
        let mut last = None;
        while let Some(sample) = series.samples.next() {
            first.get_or_insert(sample.t);
            last = Some(sample.t);
            report.samples += 1;
        }
        if let Some(error) = series.samples.take_error() {
            return Err(error);
        }
        report.series += 1;
        *metrics.entry(series.labels.metric_name().unwrap_or_default().to_owned()).or_default() += 1;
        for label in &series.labels {
            *pairs.entry(format!("{}={}", label.name, label.value)).or_default() += 1;
            values_by_name.entry(label.name.to_string()).or_default().insert(label.value.to_string());
        }
        spans.push((series.labels, first.unwrap_or(mint), last.unwrap_or(maxt)));
    }
    let range_first = spans.iter().map(|s| s.1).min().unwrap_or(mint);
    let range_last = spans.iter().map(|s| s.2).max().unwrap_or(maxt);
    let mut churn: HashMap<String, usize> = HashMap::new();
    for (labels, first, last) in &spans {
        if *first > range_first + churn_slack_ms || *last < range_last - churn_slack_ms {
            report.churning_series += 1;
            for label in labels {
                *churn.entry(format!("{}={}", label.name, label.value)).or_default() += 1;
            }
        }
    }
    report.label_names = values_by_name.len();
    report.label_pairs = pairs.len();
    report.top_metrics = top(metrics, limit);
    report.top_label_cardinality = top(values_by_name.into_iter().map(|(k, v)| (k, v.len())).collect(), limit);
    report.top_label_pairs = top(pairs, limit);
    report.top_churn_pairs = top(churn, limit);
    Ok(report)
}

impl std::fmt::Display for AnalyzeReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Range: {} .. {} ({:.1}h)", self.mint, self.maxt, (self.maxt - self.mint) as f64 / 3.6e6)?;
        writeln!(f, "Series: {}", self.series)?;
        writeln!(f, "Samples: {}", self.samples)?;
        writeln!(f, "Label names: {}", self.label_names)?;
        writeln!(f, "Label pairs: {}", self.label_pairs)?;
        writeln!(f, "Churning series: {}", self.churning_series)?;
        for (title, list) in [
            ("Highest cardinality metric names", &self.top_metrics),
            ("Highest cardinality labels", &self.top_label_cardinality),
            ("Most common label pairs", &self.top_label_pairs),
            ("Label pairs most involved in churning", &self.top_churn_pairs),
        ] {
            writeln!(f, "\n{title}:")?;
            for (name, count) in list {
                writeln!(f, "{count} {name}")?;
            }
        }
        Ok(())
    }
}

/// Writes every sample of the matching series in `[mint, maxt]` as `labels value timestamp`
/// lines, the format of `promtool tsdb dump`. Returns the number of samples written.
///
/// # Errors
///
/// Returns the storage error, or an I/O error from `out` as [`panoptes_storage::Error::Io`].
pub fn dump(
    storage: &dyn Storage,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    out: &mut dyn Write,
) -> panoptes_storage::Result<u64> {
    let querier = storage.querier(mint, maxt)?;
    let all;
    let matchers = if matchers.is_empty() {
        all = [Matcher::new(MatchOp::Regex, "__name__", ".+").expect("valid regex")];
        &all[..]
    } else {
        matchers
    };
    let io = |source| panoptes_storage::Error::Io { context: "write dump".to_owned(), source };
    let mut written = 0;
    for series in querier.select(matchers)? {
        let mut series = series?;
        let labels = series.labels.to_string();
        while let Some(sample) = series.samples.next() {
            writeln!(out, "{labels} {} {}", format_value(sample.v), sample.t).map_err(io)?;
            written += 1;
        }
        if let Some(error) = series.samples.take_error() {
            return Err(error);
        }
    }
    Ok(written)
}

/// Formats a value the way Prometheus prints floats (`NaN`, `+Inf`, shortest round trip).
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use panoptes_storage::testsuite::series;
    use panoptes_storage::{MemStorage, Storage};

    use super::*;

    fn store() -> MemStorage {
        let store = MemStorage::new();
        let mut appender = store.appender();
        for i in 0..4 {
            let labels = series("http_requests_total", &[("pod", &format!("p{i}")), ("job", "api")]);
            // Pod 3 appears late: it churns.
            let start = if i == 3 { 50 } else { 0 };
            for t in start..100 {
                appender.append(&labels, t * 1000, t as f64).unwrap();
            }
        }
        appender.append(&series("up", &[("job", "api")]), 0, 1.0).unwrap();
        appender.append(&series("up", &[("job", "api")]), 99_000, f64::NAN).unwrap();
        appender.commit().unwrap();
        store
    }

    #[test]
    fn analyze_counts_cardinality_and_churn() {
        let report = analyze(&store(), 0, 100_000, 10, 10_000).unwrap();
        assert_eq!(report.series, 5);
        assert_eq!(report.samples, 3 * 100 + 50 + 2);
        assert_eq!(report.top_metrics[0], ("http_requests_total".to_owned(), 4));
        assert_eq!(report.top_label_cardinality[0], ("pod".to_owned(), 4));
        assert_eq!(report.top_label_pairs[0], ("job=api".to_owned(), 5));
        assert_eq!(report.churning_series, 1);
        assert!(report.top_churn_pairs.contains(&("pod=p3".to_owned(), 1)));
        let text = report.to_string();
        assert!(text.contains("Highest cardinality labels:\n4 pod"), "{text}");
    }

    #[test]
    fn dump_prints_promtool_lines() {
        let mut out = Vec::new();
        let written = dump(&store(), &[Matcher::equal("__name__", "up")], 0, 100_000, &mut out).unwrap();
        assert_eq!(written, 2);
        assert_eq!(String::from_utf8(out).unwrap(), "up{job=\"api\"} 1 0\nup{job=\"api\"} NaN 99000\n");
    }
}
