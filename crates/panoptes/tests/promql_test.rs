//! `panoptes promql-test`: per-file lines, the final `N passed, M failed` and the exit code.

use std::path::Path;
use std::process::{Command, Output};

fn run(files: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_panoptes")).arg("promql-test").args(files).output().expect("run panoptes")
}

fn last_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned()
}

#[test]
fn failures_are_counted_and_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("mixed.test");
    std::fs::write(
        &script,
        "load 1m\n  up{job=\"a\"} 1 2 3\n\neval instant at 2m up\n  up{job=\"a\"} 3\n\neval instant at 2m up\n  up{job=\"a\"} 4\n",
    )
    .unwrap();
    let output = run(&[&script]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with(&format!("{}: 1 passed, 1 failed, 0 skipped\n", script.display())), "{stdout}");
    assert!(stdout.contains("FAIL line 7"), "{stdout}");
    assert_eq!(last_line(&output), "1 passed, 1 failed");
}

#[test]
fn upstream_scripts_pass() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/promqltest");
    let files = [testdata.join("literals.test"), testdata.join("trig_functions.test")];
    let output = run(&[&files[0], &files[1]]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let summary = last_line(&output);
    let passed: usize = summary.strip_suffix(" passed, 0 failed").and_then(|n| n.parse().ok()).expect(&summary);
    assert!(passed > 20, "{summary}");
}
