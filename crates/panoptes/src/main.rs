//! The `panoptes` binary: command line and process modes.

mod cli;
mod logging;
mod server;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Server(args) => server::run(args),
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
