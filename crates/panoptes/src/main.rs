//! The `panoptes` binary: command line and process modes.

mod agent;
mod check;
mod cli;
mod demo;
mod kube_state;
mod logging;
mod notify;
mod operator;
mod promql_test;
mod query;
mod reload;
mod resident;
mod server;
mod tsdb_tools;

use std::process::ExitCode;

use clap::Parser;

/// The global allocator. Ingestion allocates label strings and request buffers from several
/// threads at once; glibc's allocator spent about a third of server CPU in malloc, free and its
/// arena locks under remote-write load (perf, bench/RESULTS.md), mimalloc far less.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes mimalloc return freed memory to the system at once and commit arena memory only when
/// used: under remote-write load this took peak RSS from 113 MB to 38 MB at the same CPU
/// (bench/RESULTS.md). Environment variables (`MIMALLOC_*`) still override these.
///
/// Also turns transparent huge pages off for the process (as `MIMALLOC_ALLOW_THP=0` does):
/// mimalloc asks for them on its arena, and a 2 MiB page stays resident while any object in
/// it lives, so the head's small long-lived objects, spread over the arena, kept far more
/// memory resident than they used (100k remote-write series: 133 MB anonymous memory with huge
/// pages, 78 MB without; bench/RESULTS.md). mimalloc reads its option before `main`, so the
/// process setting is changed directly; it also covers the memory mapped before this call.
///
/// And keeps no full pages per size class in reserve (mimalloc keeps two per thread heap):
/// ingestion and compaction allocate from a dozen threads, and the pages they kept took the
/// peak of the 100k-series benchmark from about 141 to 151 MB (bench/RESULTS.md).
#[allow(unsafe_code)]
fn tune_allocator() {
    use libmimalloc_sys::{mi_option_set_default, mi_option_t};
    // Ids from `enum mi_option_e` in the mimalloc v3 header bundled with libmimalloc-sys 0.1.49
    // (pinned in Cargo.lock); the crate does not export these.
    const ARENA_EAGER_COMMIT: mi_option_t = 4;
    const PURGE_DELAY: mi_option_t = 15;
    const PAGE_FULL_RETAIN: mi_option_t = 36;
    // SAFETY: plain calls into mimalloc's option table with valid option ids; they only change
    // defaults that environment variables have not set, and are safe at any time.
    unsafe {
        mi_option_set_default(PURGE_DELAY, 0);
        mi_option_set_default(ARENA_EAGER_COMMIT, 0);
        mi_option_set_default(PAGE_FULL_RETAIN, 0);
    }
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and only sets a flag of
        // this process; a failure (an old kernel) leaves huge pages allowed, which is harmless.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
}

fn main() -> ExitCode {
    tune_allocator();
    // From build.rs: the git checkout this binary was built from.
    panoptes_server::set_build_info(panoptes_server::BuildInfo {
        revision: env!("PANOPTES_REVISION"),
        branch: env!("PANOPTES_BRANCH"),
        build_date: env!("PANOPTES_BUILD_DATE"),
    });
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Server(args) => server::run(*args),
        cli::Command::Demo(args) => demo::run(*args),
        cli::Command::Agent(args) => agent::run(*args),
        cli::Command::Tsdb(command) => tsdb_tools::run(command),
        cli::Command::Query(command) => query::run(command),
        cli::Command::PromqlTest(args) => Ok(promql_test::run(&args)),
        cli::Command::Check(command) => Ok(check::run(command)),
        cli::Command::Test(command) => Ok(check::run_tests(command)),
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
