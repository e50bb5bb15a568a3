//! Runs Prometheus' promqltest acceptance scripts against the engine.

use std::collections::BTreeMap;
use std::path::Path;

use panoptes_promql::promqltest::run_file;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/promqltest");

/// Evals known to fail, as `file:line`; asserted exactly so that changes in either direction
/// are noticed.
const KNOWN_FAILURES: &[&str] = &[];

/// The fewest evals that must pass across all files.
const MIN_PASSED: usize = 1023;

#[test]
fn promqltest_scripts_pass() {
    let mut files: Vec<_> = std::fs::read_dir(Path::new(TESTDATA))
        .expect("testdata folder")
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .test files in {TESTDATA}");
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    println!("{:<28} {:>7} {:>7} {:>8}", "file", "passed", "failed", "skipped");
    for path in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_owned();
        let report = run_file(path);
        println!("{name:<28} {:>7} {:>7} {:>8}", report.passed, report.failed, report.skipped_with_reason.len());
        passed += report.passed;
        failed += report.failed;
        skipped += report.skipped_with_reason.len();
        for skip in &report.skipped_with_reason {
            *reasons.entry(skip.reason.clone()).or_default() += 1;
        }
        for line in &report.failed_lines {
            failures.push(format!("{name}:{line}"));
        }
        for message in &report.failures {
            println!("  FAIL {name} {message}");
        }
    }
    println!("{:<28} {passed:>7} {failed:>7} {skipped:>8}", "total");
    for (reason, count) in &reasons {
        println!("  skipped {count:>4}: {reason}");
    }
    assert!(
        reasons.keys().all(|reason| !reason.is_empty() && !reason.starts_with("unsupported:")),
        "every skipped eval must name a known out-of-scope feature: {reasons:?}"
    );
    let expected: Vec<String> = KNOWN_FAILURES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(failures, expected, "failing evals differ from the known list");
    assert!(failed == failures.len(), "file-level failures: {failed} vs {}", failures.len());
    assert!(passed >= MIN_PASSED, "only {passed} evals passed, expected at least {MIN_PASSED}");
}

/// Lists the skipped evals of one file (`PROMQLTEST_FILE`, default `aggregators.test`) with
/// their reasons: `cargo test -p panoptes-promql --test promqltest -- --ignored --nocapture`.
#[test]
#[ignore = "diagnostic listing of skipped evals"]
fn list_skipped() {
    let file = std::env::var("PROMQLTEST_FILE").unwrap_or_else(|_| "aggregators.test".into());
    let report = run_file(&Path::new(TESTDATA).join(file));
    for skip in report.skipped_with_reason {
        println!("{} {}", skip.line, skip.reason);
    }
}
