//! `promtool check rules`: validates rule files and lints duplicate rules, with promtool's
//! output and exit codes (0 success, 1 failure, 3 fatal lint).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::file::{ParseOptions, RuleFile, load_rule_file};

/// How [`check_rules`] checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// Accept keys the format does not define.
    pub ignore_unknown_fields: bool,
    /// Report rules with the same name and labels (promtool's `--lint=duplicate-rules`, on by
    /// default).
    pub lint_duplicate_rules: bool,
    /// Make lint findings fail the check with exit code 3 (promtool's `--lint-fatal`).
    pub lint_fatal: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self { ignore_unknown_fields: false, lint_duplicate_rules: true, lint_fatal: false }
    }
}

/// The outcome of [`check_rules`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The process exit code promtool would return: 0, 1, or 3 for fatal lint findings.
    pub exit_code: i32,
    /// What promtool prints on standard output (`Checking FILE`, `  SUCCESS: N rules found`).
    pub stdout: String,
    /// What promtool prints on standard error (`  FAILED:` and one error per line).
    pub stderr: String,
}

/// Checks every rule file in `paths` like `promtool check rules FILE...`.
pub fn check_rules<P: AsRef<str>>(paths: &[P], options: CheckOptions) -> CheckReport {
    let mut report = CheckReport::default();
    let (mut failed, mut has_errors) = (false, false);
    let parse_options = ParseOptions { ignore_unknown_fields: options.ignore_unknown_fields };
    for path in paths {
        let path = path.as_ref();
        let _ = writeln!(report.stdout, "Checking {path}");
        let file = match load_rule_file(path, parse_options) {
            Ok(file) => file,
            Err(errors) => {
                failed = true;
                has_errors = true;
                report.stderr.push_str("  FAILED:\n");
                for error in errors {
                    let _ = writeln!(report.stderr, "{error}");
                }
                continue;
            }
        };
        let rule_count: usize = file.groups.iter().map(|g| g.rules.len()).sum();
        let duplicates = if options.lint_duplicate_rules { duplicate_rules(&file) } else { Vec::new() };
        if duplicates.is_empty() {
            let _ = writeln!(report.stdout, "  SUCCESS: {rule_count} rules found");
        } else {
            failed = true;
            let mut message = format!("lint error {} duplicate rule(s) found.\n", duplicates.len());
            for (name, labels) in &duplicates {
                let _ = writeln!(message, "Metric: {name}\nLabel(s):");
                for (label, value) in labels {
                    let _ = writeln!(message, "\t{label}: {value}");
                }
            }
            message.push_str("Might cause inconsistency while recording expressions");
            report.stderr.push_str("  FAILED:\n");
            let _ = writeln!(report.stderr, "{message}");
        }
        report.stdout.push('\n');
    }
    report.exit_code = match (failed, has_errors) {
        (true, true) => 1,
        (true, false) if options.lint_fatal => 3,
        _ => 0,
    };
    report
}

/// Returns the rules that share a name and label set with another rule of the file (group
/// labels included), each reported once, sorted.
pub(crate) fn duplicate_rules(file: &RuleFile) -> Vec<(String, BTreeMap<String, String>)> {
    let mut keys: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for group in &file.groups {
        for rule in &group.rules {
            let mut labels = group.labels.clone();
            labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
            keys.push((rule.name().to_owned(), labels));
        }
    }
    keys.sort();
    let mut duplicates: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for pair in keys.windows(2) {
        if pair[0] == pair[1] && duplicates.last() != Some(&pair[1]) {
            duplicates.push(pair[1].clone());
        }
    }
    duplicates
}
