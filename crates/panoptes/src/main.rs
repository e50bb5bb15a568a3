//! The `panoptes` binary: command line and process modes.

mod cli;
mod logging;
mod server;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Server(args) => server::run(args),
    }
}
