//! Runs Prometheus' promqltest acceptance scripts against the engine.

use std::collections::BTreeMap;
use std::path::Path;

use panoptes_promql::promqltest::run_file;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/promqltest");

/// The checked-in list of skipped evals, one `file:line reason` a line. The computed skip set
/// must equal it exactly; `UPDATE_EXPECT=1 cargo test` rewrites it (review the diff: the list
/// may only shrink).
const SKIPS_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/promqltest-skips.txt");

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
    let mut skip_lines = Vec::new();
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
            skip_lines.push(format!("{name}:{} {}", skip.line, skip.reason));
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
    check_skip_list(&skip_lines);
    let expected: Vec<String> = KNOWN_FAILURES.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(failures, expected, "failing evals differ from the known list");
    assert!(failed == failures.len(), "file-level failures: {failed} vs {}", failures.len());
    assert!(passed >= MIN_PASSED, "only {passed} evals passed, expected at least {MIN_PASSED}");
}

/// Asserts that the skipped evals are exactly those of [`SKIPS_FILE`], or rewrites it with
/// `UPDATE_EXPECT=1`.
fn check_skip_list(skip_lines: &[String]) {
    let actual: String = skip_lines.iter().map(|line| format!("{line}\n")).collect();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(SKIPS_FILE, &actual).expect("write the skip list");
        return;
    }
    let expected = std::fs::read_to_string(SKIPS_FILE).unwrap_or_default();
    let expected_lines: Vec<&str> = expected.lines().collect();
    let actual_lines: Vec<&str> = actual.lines().collect();
    let newly_skipped: Vec<&&str> = actual_lines.iter().filter(|line| !expected_lines.contains(line)).collect();
    let no_longer_skipped: Vec<&&str> = expected_lines.iter().filter(|line| !actual_lines.contains(line)).collect();
    assert!(
        newly_skipped.is_empty() && no_longer_skipped.is_empty(),
        "skipped evals differ from {SKIPS_FILE} (run with UPDATE_EXPECT=1 to rewrite it, then review the diff)\n\
         newly skipped: {newly_skipped:#?}\nno longer skipped: {no_longer_skipped:#?}"
    );
    assert_eq!(actual, expected, "skip list order differs; run with UPDATE_EXPECT=1");
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
