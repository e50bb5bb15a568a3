//! `panoptes tsdb import openmetrics FILE DIR`: backfills an OpenMetrics file into blocks, like
//! `promtool tsdb create-blocks-from openmetrics`.
//!
//! The file is never held whole: it is read in pieces of [`PIECE_BYTES`] cut at line ends and
//! parsed with the scrape crate's exposition parser. A first pass checks the whole file (syntax,
//! a timestamp on every sample, samples of each series in time order) and counts the samples of
//! each block range, so a bad file fails before anything is written. Later passes each hold the
//! samples of some block ranges, at most `--max-samples-in-memory` of them (a block range with
//! more is split into groups of series, one pass and one block each), and write their blocks.
//! Memory is therefore bounded by that limit times 16 bytes, plus the label sets of all series,
//! plus two pieces. Blocks are built in `DIR/import-….tmp` and renamed into `DIR` only when all
//! of them are complete, so a failed or interrupted import leaves no block behind (a server
//! opening `DIR` removes a leftover `.tmp` directory).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use panoptes_model::{Labels, Sample};
use panoptes_scrape::exposition::{Entry, Format, ParseError, Parser, PieceState, parse_series_text};
use panoptes_tsdb::backfill::{BlockBuilder, BlockSummary};

use crate::cli::ImportOpenMetricsArgs;

/// Bytes read from the file at a time; lines longer than this make the piece grow up to
/// [`MAX_LINE_BYTES`].
const PIECE_BYTES: usize = 4 << 20;
/// The longest line accepted: a sample line this long is a broken file, not a label set.
const MAX_LINE_BYTES: usize = 64 << 20;
/// Prometheus' default block range, the smallest block an import writes.
const DEFAULT_BLOCK_MS: i64 = 2 * 3600 * 1000;

/// Runs the import and prints its summary.
pub(crate) fn run(args: &ImportOpenMetricsArgs) -> anyhow::Result<()> {
    let block_ms = compatible_block_duration(args.max_block_duration);
    let size = std::fs::metadata(&args.input).with_context(|| format!("reading {}", args.input.display()))?.len();
    std::fs::create_dir_all(&args.output).with_context(|| format!("creating {}", args.output.display()))?;
    let started = Instant::now();
    let mut progress = Progress::new(size, args.progress_interval);
    let mut series = SeriesTable::default();
    let scan = scan(&args.input, &mut series, block_ms, &mut progress)?;
    let Some((min_time, max_time)) = scan.time_range else {
        println!("No samples in {}; nothing written to {}.", args.input.display(), args.output.display());
        return Ok(());
    };
    let passes = plan_passes(&scan.samples_per_block, args.max_samples_in_memory);
    progress.set_passes(passes.len() + 1);

    let staging = Staging::create(&args.output)?;
    let order = series.label_order();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let table = BlockTable { human_readable: args.human_readable, is_quiet: args.quiet };
    let mut blocks: Vec<BlockSummary> = Vec::new();
    for pass in &passes {
        let samples = collect_pass(&args.input, &mut series, pass, block_ms, &mut progress)?;
        for &start in &pass.blocks {
            let mut builder = BlockBuilder::create(&staging.path).context("creating a block")?;
            for &id in &order {
                let all = &samples[id as usize];
                let from = all.partition_point(|sample| sample.t < start);
                let to = all.partition_point(|sample| sample.t < start + block_ms);
                if let Err(error) = builder.add_series(&series.labels[id as usize], &all[from..to]) {
                    builder.abort();
                    return Err(error).context("writing a block");
                }
            }
            if let Some(summary) = builder.finish().context("writing a block")? {
                table.print(&mut out, &summary, blocks.is_empty())?;
                blocks.push(summary);
            }
        }
    }
    staging.publish(&blocks).with_context(|| format!("moving the new blocks into {}", args.output.display()))?;
    progress.finish();
    let samples: u64 = blocks.iter().map(|block| block.num_samples).sum();
    let mut summary = format!(
        "Imported {samples} samples of {} series ({} to {}) into {} block{} in {} in {:.1}s",
        series.labels.len(),
        format_time(min_time, true),
        format_time(max_time, true),
        blocks.len(),
        if blocks.len() == 1 { "" } else { "s" },
        args.output.display(),
        started.elapsed().as_secs_f64(),
    );
    if scan.duplicates > 0 {
        summary.push_str(&format!("; {} repeated samples skipped", scan.duplicates));
    }
    writeln!(out, "{summary}.").context("writing to standard output")?;
    Ok(())
}

/// Returns the block range to use: the largest of Prometheus' compaction ranges (2h times a
/// power of three, up to 3^9) that fits in `max`, and never less than 2h.
fn compatible_block_duration(max: Duration) -> i64 {
    let max_ms = i64::try_from(max.as_millis()).unwrap_or(i64::MAX);
    let mut block = DEFAULT_BLOCK_MS;
    for _ in 0..9 {
        if block * 3 > max_ms {
            break;
        }
        block *= 3;
    }
    block
}

/// Where one sample line's series is written: its text (`name{...}`) or, for the quoted-name
/// form, its labels.
enum SeriesKey<'a> {
    Text(&'a [u8]),
    Labels(Labels),
}

/// One sample line as read.
struct RawSample<'a> {
    key: SeriesKey<'a>,
    line: usize,
    value: f64,
    timestamp_ms: Option<i64>,
}

/// Reads `path` in pieces and calls `each` for every sample line (`_created` lines included,
/// as Prometheus stores them); metadata lines and exemplars are not imported. `each` returns
/// whether it took the sample, for the progress line's rate.
fn read_samples(
    path: &Path,
    progress: &mut Progress,
    mut each: impl FnMut(RawSample<'_>) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let name = path.display();
    let mut file = File::open(path).with_context(|| format!("opening {name}"))?;
    let mut buffer = vec![0u8; PIECE_BYTES];
    let mut filled = 0;
    let mut is_end = false;
    let mut state = PieceState::default();
    let mut offset = 0u64;
    loop {
        while !is_end && filled < buffer.len() {
            match file.read(&mut buffer[filled..]) {
                Ok(0) => is_end = true,
                Ok(read) => filled += read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error).with_context(|| format!("reading {name}")),
            }
        }
        let piece_len = if is_end {
            filled
        } else {
            match buffer[..filled].iter().rposition(|&byte| byte == b'\n') {
                Some(newline) => newline + 1,
                None if buffer.len() < MAX_LINE_BYTES => {
                    buffer.resize((buffer.len() * 2).min(MAX_LINE_BYTES), 0);
                    continue;
                }
                None => {
                    bail!("{name}:{}: line longer than {} MiB (at byte {offset})", state.line(), MAX_LINE_BYTES >> 20)
                }
            }
        };
        let piece = &buffer[..piece_len];
        let mut parser = Parser::piece(piece, Format::OpenMetrics, state, is_end);
        while let Some(entry) = parser.next() {
            let sample = match entry.map_err(|error| parse_error(path, &error))? {
                Entry::Raw(raw) => RawSample {
                    key: SeriesKey::Text(&piece[raw.span]),
                    line: raw.line,
                    value: raw.value,
                    timestamp_ms: raw.timestamp_ms,
                },
                Entry::Series(series) | Entry::Created(series) => RawSample {
                    key: SeriesKey::Labels(series.labels),
                    line: parser.entry_line(),
                    value: series.value,
                    timestamp_ms: series.timestamp_ms,
                },
                Entry::Help { .. } | Entry::Type { .. } | Entry::Unit { .. } => continue,
            };
            if each(sample)? {
                progress.samples += 1;
            }
        }
        state = parser.piece_state();
        offset += piece_len as u64;
        progress.advance(piece_len as u64);
        if is_end {
            return Ok(());
        }
        buffer.copy_within(piece_len..filled, 0);
        filled -= piece_len;
    }
}

/// Renders a series for messages: `name{labels}`, or just `name` without other labels.
fn display(labels: &Labels) -> String {
    let text = labels.to_string();
    text.strip_suffix("{}").map(str::to_owned).unwrap_or(text)
}

fn parse_error(path: &Path, error: &ParseError) -> anyhow::Error {
    anyhow::anyhow!("{}:{}:{}: {}", path.display(), error.line, error.column, error.message)
}

/// Every series of the file: its labels, how its texts map to it, and (during the first pass)
/// its last sample, to check time order.
#[derive(Default)]
struct SeriesTable {
    by_text: HashMap<Box<[u8]>, u32>,
    by_labels: HashMap<Labels, u32>,
    labels: Vec<Labels>,
    /// Timestamp, value bits and line of each series' last sample.
    last: Vec<(i64, u64, usize)>,
}

impl SeriesTable {
    /// Returns the id of a sample's series, adding it when `may_add` (the first pass).
    fn resolve(&mut self, path: &Path, key: SeriesKey<'_>, line: usize, may_add: bool) -> anyhow::Result<u32> {
        let labels = match key {
            SeriesKey::Text(text) => {
                if let Some(&id) = self.by_text.get(text) {
                    return Ok(id);
                }
                let labels =
                    parse_series_text(text, Format::OpenMetrics, line).map_err(|error| parse_error(path, &error))?;
                let id = self.add(path, labels, line, may_add)?;
                self.by_text.insert(text.into(), id);
                return Ok(id);
            }
            SeriesKey::Labels(labels) => labels,
        };
        self.add(path, labels, line, may_add)
    }

    fn add(&mut self, path: &Path, labels: Labels, line: usize, may_add: bool) -> anyhow::Result<u32> {
        if let Some(&id) = self.by_labels.get(&labels) {
            return Ok(id);
        }
        if !may_add {
            bail!(
                "{}:{line}: series {} was not in the file before; did it change during the import?",
                path.display(),
                display(&labels)
            );
        }
        labels
            .validate()
            .map_err(|error| anyhow::anyhow!("{}:{line}: series {}: {error}", path.display(), display(&labels)))?;
        let id = u32::try_from(self.labels.len()).context("more than 4 billion series")?;
        self.by_labels.insert(labels.clone(), id);
        self.labels.push(labels);
        self.last.push((i64::MIN, 0, 0));
        Ok(id)
    }

    /// Returns the series ids in label order, the order blocks take them in.
    fn label_order(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.labels.len() as u32).collect();
        order.sort_unstable_by(|a, b| self.labels[*a as usize].cmp(&self.labels[*b as usize]));
        order
    }
}

/// What the first pass learned.
struct Scan {
    /// Oldest and newest sample timestamps; `None` without samples.
    time_range: Option<(i64, i64)>,
    /// Samples per block range, by the range's start.
    samples_per_block: BTreeMap<i64, u64>,
    /// Samples that repeat their series' previous timestamp and value (skipped).
    duplicates: u64,
}

/// The first pass: checks every line and counts samples per block range.
fn scan(path: &Path, series: &mut SeriesTable, block_ms: i64, progress: &mut Progress) -> anyhow::Result<Scan> {
    let mut result = Scan { time_range: None, samples_per_block: BTreeMap::new(), duplicates: 0 };
    let name = path.display();
    read_samples(path, progress, |sample| {
        let line = sample.line;
        let id = series.resolve(path, sample.key, line, true)? as usize;
        let Some(t) = sample.timestamp_ms else {
            bail!(
                "{name}:{line}: sample of {} has no timestamp; every sample of an import needs one",
                display(&series.labels[id])
            );
        };
        let (last_t, last_bits, last_line) = series.last[id];
        if t < last_t {
            bail!(
                "{name}:{line}: sample of {} at {t} is older than the one at line {last_line} ({last_t}); \
                 the samples of a series must be in time order",
                display(&series.labels[id])
            );
        }
        if t == last_t {
            if sample.value.to_bits() != last_bits {
                bail!(
                    "{name}:{line}: sample of {} at {t} has another value than the one at line {last_line}; \
                     a series has one value per timestamp",
                    display(&series.labels[id])
                );
            }
            result.duplicates += 1;
            return Ok(false);
        }
        series.last[id] = (t, sample.value.to_bits(), line);
        let (min, max) = result.time_range.get_or_insert((t, t));
        *min = (*min).min(t);
        *max = (*max).max(t);
        *result.samples_per_block.entry(t.div_euclid(block_ms) * block_ms).or_default() += 1;
        Ok(true)
    })?;
    Ok(result)
}

/// One later pass over the file: the block ranges it collects, and which share of their
/// series (`group` of `groups`, by series id) when one range has too many samples for memory.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pass {
    blocks: Vec<i64>,
    group: u32,
    groups: u32,
}

/// Groups consecutive block ranges into passes holding at most `budget` samples; a range with
/// more gets passes of its own, each for a share of its series.
fn plan_passes(samples_per_block: &BTreeMap<i64, u64>, budget: u64) -> Vec<Pass> {
    let budget = budget.max(1);
    let mut passes = Vec::new();
    let mut current = Pass { blocks: Vec::new(), group: 0, groups: 1 };
    let mut held = 0u64;
    for (&start, &count) in samples_per_block {
        if count > budget {
            if !current.blocks.is_empty() {
                passes.push(std::mem::replace(&mut current, Pass { blocks: Vec::new(), group: 0, groups: 1 }));
                held = 0;
            }
            let groups = u32::try_from(count.div_ceil(budget)).unwrap_or(u32::MAX);
            passes.extend((0..groups).map(|group| Pass { blocks: vec![start], group, groups }));
            continue;
        }
        if held + count > budget && !current.blocks.is_empty() {
            passes.push(std::mem::replace(&mut current, Pass { blocks: Vec::new(), group: 0, groups: 1 }));
            held = 0;
        }
        current.blocks.push(start);
        held += count;
    }
    if !current.blocks.is_empty() {
        passes.push(current);
    }
    passes.sort_by_key(|pass| pass.blocks[0]);
    passes
}

/// A later pass: returns, per series id, the samples inside the pass's block ranges.
fn collect_pass(
    path: &Path,
    series: &mut SeriesTable,
    pass: &Pass,
    block_ms: i64,
    progress: &mut Progress,
) -> anyhow::Result<Vec<Vec<Sample>>> {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); series.labels.len()];
    let start = pass.blocks[0];
    let end = pass.blocks[pass.blocks.len() - 1] + block_ms;
    read_samples(path, progress, |sample| {
        let Some(t) = sample.timestamp_ms.filter(|t| (start..end).contains(t)) else {
            return Ok(false);
        };
        if pass.blocks.binary_search(&(t.div_euclid(block_ms) * block_ms)).is_err() {
            return Ok(false);
        }
        let id = series.resolve(path, sample.key, sample.line, false)?;
        if id % pass.groups != pass.group {
            return Ok(false);
        }
        let held = &mut samples[id as usize];
        // The first pass checked the order; a repeated sample is skipped as it was there.
        let is_new = held.last().is_none_or(|last| last.t < t);
        if is_new {
            held.push(Sample::new(t, sample.value));
        }
        Ok(is_new)
    })?;
    Ok(samples)
}

/// The directory new blocks are built in, removed unless they were published.
struct Staging {
    path: PathBuf,
    parent: PathBuf,
}

impl Staging {
    fn create(parent: &Path) -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let path = parent.join(format!("import-{}-{nanos}.tmp", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path, parent: parent.to_owned() })
    }

    /// Moves every block into the parent directory.
    fn publish(&self, blocks: &[BlockSummary]) -> anyhow::Result<()> {
        for block in blocks {
            let target = self.parent.join(&block.id);
            std::fs::rename(&block.dir, &target).with_context(|| format!("renaming to {}", target.display()))?;
        }
        panoptes_tsdb::backfill::sync_dir(&self.parent)?;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Prints the blocks written, like `promtool`'s table.
struct BlockTable {
    human_readable: bool,
    is_quiet: bool,
}

impl BlockTable {
    fn print(&self, out: &mut impl Write, block: &BlockSummary, is_first: bool) -> anyhow::Result<()> {
        if self.is_quiet {
            return Ok(());
        }
        let time_width = if self.human_readable { 24 } else { 14 };
        if is_first {
            writeln!(
                out,
                "{:<26}  {:<time_width$}  {:<time_width$}  {:>10}  {:>12}  {:>10}  {:>10}  {:>10}",
                "BLOCK ULID", "MIN TIME", "MAX TIME", "DURATION", "NUM SAMPLES", "NUM CHUNKS", "NUM SERIES", "SIZE"
            )?;
        }
        let duration_ms = block.max_time - block.min_time;
        let (duration, size) = if self.human_readable {
            (format_duration(duration_ms), format_bytes(block.size_bytes))
        } else {
            (duration_ms.to_string(), block.size_bytes.to_string())
        };
        writeln!(
            out,
            "{:<26}  {:<time_width$}  {:<time_width$}  {duration:>10}  {:>12}  {:>10}  {:>10}  {size:>10}",
            block.id,
            format_time(block.min_time, self.human_readable),
            format_time(block.max_time, self.human_readable),
            block.num_samples,
            block.num_chunks,
            block.num_series,
        )
        .context("writing to standard output")
    }
}

fn format_time(ms: i64, human_readable: bool) -> String {
    if !human_readable {
        return ms.to_string();
    }
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |time| time.to_string())
}

/// Renders a duration as Go does (`2h0m0s`, `1m30s`, `1.5s`, `1ms`), as `promtool` prints it.
fn format_duration(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (hours, minutes) = (ms / 3_600_000, ms / 60_000 % 60);
    let seconds = (ms % 60_000) as f64 / 1000.0;
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// Progress on standard error: bytes read over all passes, samples per second and the time
/// left, at most once per interval.
struct Progress {
    file_bytes: u64,
    /// All passes, once the first one planned them (`None` before).
    passes: Option<usize>,
    read_bytes: u64,
    samples: u64,
    started: Instant,
    last_print: Option<Instant>,
    interval: Duration,
}

impl Progress {
    fn new(file_bytes: u64, interval: Duration) -> Self {
        Self {
            file_bytes,
            passes: None,
            read_bytes: 0,
            samples: 0,
            started: Instant::now(),
            last_print: None,
            interval,
        }
    }

    /// Sets the number of passes once the first one planned the others.
    fn set_passes(&mut self, passes: usize) {
        self.passes = Some(passes);
    }

    fn advance(&mut self, bytes: u64) {
        self.read_bytes += bytes;
        let now = Instant::now();
        let is_due = match self.last_print {
            Some(last) => now.duration_since(last) >= self.interval,
            None => now.duration_since(self.started) >= self.interval,
        };
        if is_due {
            self.last_print = Some(now);
            self.print(now);
        }
    }

    fn print(&self, now: Instant) {
        let passes = self.passes.unwrap_or(1) as u64;
        let total = self.file_bytes.max(1) * passes;
        let elapsed = now.duration_since(self.started).as_secs_f64().max(1e-3);
        let pass = (self.read_bytes.saturating_sub(1) / self.file_bytes.max(1) + 1).min(passes);
        let rate = self.samples as f64 / elapsed;
        let left = total.saturating_sub(self.read_bytes) as f64 * elapsed / self.read_bytes.max(1) as f64;
        // Before the first pass ends, the time left is that of the first pass only.
        let (of_passes, eta_note) = match self.passes {
            Some(passes) => (passes.to_string(), ""),
            None => ("?".to_owned(), " for this pass"),
        };
        eprintln!(
            "import: pass {pass}/{of_passes}: {} of {} read, {rate:.0} samples/s, ETA {left:.0}s{eta_note}",
            format_bytes(self.read_bytes),
            format_bytes(total),
        );
    }

    fn finish(&self) {
        if self.last_print.is_some() {
            self.print(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_duration_is_a_compaction_range_within_the_maximum() {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        assert_eq!(compatible_block_duration(hours(1)), DEFAULT_BLOCK_MS);
        assert_eq!(compatible_block_duration(hours(2)), DEFAULT_BLOCK_MS);
        assert_eq!(compatible_block_duration(hours(5)), DEFAULT_BLOCK_MS);
        assert_eq!(compatible_block_duration(hours(6)), 3 * DEFAULT_BLOCK_MS);
        assert_eq!(compatible_block_duration(hours(100)), 27 * DEFAULT_BLOCK_MS);
        assert_eq!(compatible_block_duration(Duration::MAX), 3i64.pow(9) * DEFAULT_BLOCK_MS);
    }

    #[test]
    fn staged_blocks_vanish_unless_published() {
        let dir = tempfile::tempdir().unwrap();
        let labels = Labels::from_pairs([("__name__", "m")]);
        let build = |staging: &Staging| {
            let mut builder = BlockBuilder::create(&staging.path).unwrap();
            builder.add_series(&labels, &[Sample::new(1_000, 1.0)]).unwrap();
            builder.finish().unwrap().unwrap()
        };
        // An import that fails after writing a block leaves nothing in the directory.
        let staging = Staging::create(dir.path()).unwrap();
        build(&staging);
        drop(staging);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // A published block stays; the staging directory goes.
        let staging = Staging::create(dir.path()).unwrap();
        let block = build(&staging);
        staging.publish(std::slice::from_ref(&block)).unwrap();
        drop(staging);
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, vec![block.id]);
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(format_duration(1), "1ms");
        assert_eq!(format_duration(1_500), "1.5s");
        assert_eq!(format_duration(90_000), "1m30s");
        assert_eq!(format_duration(DEFAULT_BLOCK_MS), "2h0m0s");
        assert_eq!(format_duration(DEFAULT_BLOCK_MS - 1), "1h59m59.999s");
    }

    #[test]
    fn passes_hold_at_most_the_budget_and_split_big_ranges_by_series() {
        let counts: BTreeMap<i64, u64> = [(0, 40), (10, 50), (20, 250), (30, 10), (40, 95), (50, 5)].into();
        let pass = |blocks: &[i64], group, groups| Pass { blocks: blocks.to_vec(), group, groups };
        assert_eq!(
            plan_passes(&counts, 100),
            vec![
                pass(&[0, 10], 0, 1),
                pass(&[20], 0, 3),
                pass(&[20], 1, 3),
                pass(&[20], 2, 3),
                pass(&[30], 0, 1),
                pass(&[40, 50], 0, 1),
            ]
        );
        assert_eq!(plan_passes(&counts, 1_000), vec![pass(&[0, 10, 20, 30, 40, 50], 0, 1)]);
        let counts: BTreeMap<i64, u64> = [(0, 40), (20, 250), (30, 10)].into();
        assert_eq!(plan_passes(&counts, 100)[0], pass(&[0], 0, 1), "a pass never spans a range split by series");
    }
}
