//! `panoptes check config|rules` and `panoptes test rules`: promtool's checks for Panoptes, with
//! promtool's output (`Checking FILE`, ` SUCCESS: ...`, `  FAILED: ...`) and exit codes (0 fine,
//! 1 failed, 3 fatal lint findings).

use std::process::ExitCode;

use panoptes_rules::{CheckOptions, UnitTestOptions, check_rules, run_unit_tests};
use panoptes_scrape::config::{check_config, load_file};

use crate::cli::{CheckCommand, CheckConfigArgs, CheckRulesArgs, TestCommand};

/// Runs a `panoptes check` subcommand and returns the exit code.
pub(crate) fn run(command: CheckCommand) -> ExitCode {
    match command {
        CheckCommand::Config(args) => check_configs(&args),
        CheckCommand::Rules(args) => check_rule_files(&args),
        CheckCommand::Alertmanager(args) => {
            let mut is_failed = false;
            for file in &args.files {
                let report = panoptes_alerting::check_config(file);
                print!("{}", report.render());
                is_failed |= !report.is_success();
            }
            if is_failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
    }
}

/// Runs a `panoptes test` subcommand and returns the exit code.
pub(crate) fn run_tests(command: TestCommand) -> ExitCode {
    match command {
        TestCommand::Rules(args) => {
            let options = UnitTestOptions {
                run: args.run,
                ignore_unknown_fields: args.ignore_unknown_fields,
                skip_native_histograms: false,
            };
            let report = run_unit_tests(&args.files, &options);
            print!("{}", report.stdout);
            eprint!("{}", report.stderr);
            exit_code(report.exit_code)
        }
    }
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn check_rule_files(args: &CheckRulesArgs) -> ExitCode {
    let options = CheckOptions {
        ignore_unknown_fields: args.ignore_unknown_fields,
        lint_duplicate_rules: args.lint == "duplicate-rules",
        lint_fatal: args.lint_fatal,
    };
    let files: Vec<String> = args.files.iter().map(|path| path.display().to_string()).collect();
    let report = check_rules(&files, options);
    print!("{}", report.stdout);
    eprint!("{}", report.stderr);
    exit_code(report.exit_code)
}

fn check_configs(args: &CheckConfigArgs) -> ExitCode {
    let mut is_failed = false;
    let mut rule_files: Vec<String> = Vec::new();
    for file in &args.files {
        println!("Checking {}", file.display());
        let checked = load_file(file)
            .map_err(|error| error.to_string())
            .and_then(|config| check_config(&config, args.syntax_only));
        match checked {
            Ok(report) => {
                for warning in &report.warnings {
                    eprintln!("  WARNING: {warning}");
                }
                println!(" SUCCESS: {} is valid prometheus config file syntax", file.display());
                println!();
                rule_files.extend(report.rule_files);
            }
            Err(error) => {
                eprintln!("  FAILED: {error}");
                println!();
                is_failed = true;
            }
        }
    }
    // As promtool does, the rule files the configurations name are checked too.
    if !rule_files.is_empty() {
        let report = check_rules(&rule_files, CheckOptions::default());
        print!("{}", report.stdout);
        eprint!("{}", report.stderr);
        if report.exit_code != 0 {
            return exit_code(report.exit_code);
        }
    }
    if is_failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
