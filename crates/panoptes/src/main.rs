//! The `panoptes` binary: command line and process modes.

mod cli;
mod logging;
mod promql_test;
mod query;
mod server;
mod tsdb_tools;

use std::process::ExitCode;

use clap::Parser;

/// The global allocator. Ingestion allocates label strings and request buffers from several
/// threads at once; glibc's allocator spent about a third of server CPU in malloc, free and its
/// arena locks under remote-write load (perf, bench/RESULTS.md), mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Server(args) => server::run(args),
        cli::Command::Tsdb(command) => tsdb_tools::run(command),
        cli::Command::Query(command) => query::run(command),
        cli::Command::PromqlTest(args) => Ok(promql_test::run(&args)),
    };
    match result {
        Ok(code) => code,
        // Errors before logging is set up; later ones are logged by the mode itself.
        Err(error) => {
            eprintln!("panoptes: {error:#}");
            ExitCode::FAILURE
        }
    }
}
