//! `panoptes promql-test FILE...`: runs promqltest scripts against the engine and prints one
//! line per file, each failure, and a final `N passed, M failed`.

use std::process::ExitCode;

use panoptes_promql::promqltest::{Report, run_file};

use crate::cli::PromqlTestArgs;

/// Runs every file and returns failure when any eval failed.
pub(crate) fn run(args: &PromqlTestArgs) -> ExitCode {
    let mut total = Report::default();
    for path in &args.files {
        let report = run_file(path);
        println!("{}", file_line(&path.display().to_string(), &report));
        for failure in &report.failures {
            println!("  FAIL {failure}");
        }
        for skip in &report.skipped_with_reason {
            println!("  SKIP line {}: {}", skip.line, skip.reason);
        }
        total.passed += report.passed;
        total.failed += report.failed;
    }
    println!("{}", summary(&total));
    if total.failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn file_line(name: &str, report: &Report) -> String {
    format!("{name}: {} passed, {} failed, {} skipped", report.passed, report.failed, report.skipped_with_reason.len())
}

/// The last line of the output.
fn summary(total: &Report) -> String {
    format!("{} passed, {} failed", total.passed, total.failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_is_passed_then_failed() {
        let report = Report { passed: 3, failed: 1, ..Report::default() };
        assert_eq!(summary(&report), "3 passed, 1 failed");
        assert_eq!(file_line("a.test", &report), "a.test: 3 passed, 1 failed, 0 skipped");
    }
}
