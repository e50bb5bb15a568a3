//! `panoptes check config`: `promtool check config` for Panoptes. Prints promtool's lines
//! (`Checking FILE`, ` SUCCESS: ...`, `  FAILED: ...`) and exits 1 when any file fails.

use std::process::ExitCode;

use panoptes_scrape::config::{check_config, load_file};

use crate::cli::{CheckCommand, CheckConfigArgs};

/// Runs a `panoptes check` subcommand and returns the exit code.
pub(crate) fn run(command: CheckCommand) -> ExitCode {
    match command {
        CheckCommand::Config(args) => check_configs(&args),
    }
}

fn check_configs(args: &CheckConfigArgs) -> ExitCode {
    let mut is_failed = false;
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
                for rule_file in &report.rule_files {
                    println!("  rule file: {rule_file}");
                }
                println!();
            }
            Err(error) => {
                eprintln!("  FAILED: {error}");
                println!();
                is_failed = true;
            }
        }
    }
    if is_failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
