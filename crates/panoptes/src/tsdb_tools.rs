//! `panoptes tsdb analyze|dump|import`: offline inspection of a data directory, and backfill
//! (`import`, in its own module).
//!
//! `analyze` and `dump` open the directory read-only (no lock, no repair, no background work),
//! so they work while a server is running and after one has stopped.

mod import;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use panoptes_model::Matcher;
use panoptes_tsdb::{Db, DbOptions};

use crate::cli::{ImportCommand, TsdbCommand};

/// Series that start or stop more than this far from the range's ends count as churning; one
/// scrape interval of slack keeps steady series out.
const CHURN_SLACK_MS: i64 = 5 * 60_000;

pub(crate) fn run(command: TsdbCommand) -> anyhow::Result<ExitCode> {
    match command {
        TsdbCommand::Analyze(args) => {
            let db = open(&args.path)?;
            let (oldest, newest) = data_range(&db).unwrap_or((0, 0));
            let mint = args.min_time.unwrap_or(oldest);
            let maxt = args.max_time.unwrap_or(newest);
            let report = panoptes_tsdb::tools::analyze(&db, mint, maxt, args.limit, CHURN_SLACK_MS)
                .with_context(|| format!("analysing {}", args.path.display()))?;
            println!("Blocks: {}", db.blocks().len());
            println!("Head series: {}", db.head_series_count());
            print!("{report}");
        }
        TsdbCommand::Dump(args) => {
            let db = open(&args.path)?;
            let matchers = match &args.selector {
                Some(selector) => parse_selector(selector)?,
                None => Vec::new(),
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            panoptes_tsdb::tools::dump(&db, &matchers, args.min_time, args.max_time, &mut out)
                .with_context(|| format!("dumping {}", args.path.display()))?;
            out.flush().context("writing to standard output")?;
        }
        TsdbCommand::Import(ImportCommand::Openmetrics(args)) => import::run(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn open(path: &std::path::Path) -> anyhow::Result<Db> {
    if !path.is_dir() {
        bail!("{} is not a data directory", path.display());
    }
    Db::open_read_only(path, DbOptions::default()).with_context(|| format!("opening {}", path.display()))
}

/// Returns the oldest and newest sample times held in blocks and head.
fn data_range(db: &Db) -> Option<(i64, i64)> {
    let blocks = db.blocks();
    let head = db.head_time_range();
    let mins = blocks.iter().map(|b| b.1).chain(head.map(|h| h.0));
    let maxes = blocks.iter().map(|b| b.2 - 1).chain(head.map(|h| h.1));
    Some((mins.min()?, maxes.max()?))
}

/// Parses a series selector such as `up{job="api"}` into matchers.
fn parse_selector(selector: &str) -> anyhow::Result<Vec<Matcher>> {
    let mut alternatives = panoptes_promql::parser::parse_selector(selector)
        .map_err(|e| anyhow::anyhow!("invalid selector {selector:?}: {e}"))?;
    if alternatives.len() != 1 {
        bail!("invalid selector {selector:?}: expected one series selector");
    }
    Ok(alternatives.remove(0))
}
