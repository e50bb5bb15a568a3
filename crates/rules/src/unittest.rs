//! The `promtool test rules` runner: loads test files, evaluates rule files over input series
//! in a [`MemStorage`], and checks alerts and PromQL results, printing promtool's output.
//!
//! Differences from promtool: native histograms are not supported (a test group with a
//! histogram input series fails with a message saying so, or its histogram cases are skipped
//! with [`UnitTestOptions::skip_native_histograms`]); `@` and negative offsets are always on,
//! as in promtool's CLI; JUnit output is not written.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use panoptes_model::Labels;
use panoptes_promql::promqltest::{LoadValue, parse_load_series};
use panoptes_promql::{Engine, EngineOptions, Value};
use panoptes_storage::{MemStorage, Storage, StorageRef};
use serde::Deserialize;

use crate::file::{ParseOptions, Text, load_rule_file, yaml_error_message, yaml_error_position};
use crate::group::Group;
use crate::rule::{AlertState, EvalContext, Rule, millis};

/// How [`run_unit_tests`] runs.
#[derive(Debug, Clone, Default)]
pub struct UnitTestOptions {
    /// Regexes (promtool's repeatable `--run`): only test groups whose name matches one of them
    /// run. Empty: all groups.
    pub run: Vec<String>,
    /// Accept unknown keys in the rule files (promtool's `--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// Skip (and report) PromQL cases about native histograms instead of failing the group.
    pub skip_native_histograms: bool,
}

/// The outcome of [`run_unit_tests`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitTestReport {
    /// 0 when every test passed, else 1 (promtool's exit codes).
    pub exit_code: i32,
    /// What promtool prints on standard output.
    pub stdout: String,
    /// What promtool prints on standard error (failures).
    pub stderr: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitTestFile {
    #[serde(default)]
    rule_files: Vec<String>,
    evaluation_interval: Option<Text>,
    #[serde(default)]
    group_eval_order: Vec<String>,
    #[serde(default)]
    fuzzy_compare: bool,
    #[serde(default)]
    tests: Vec<Option<TestGroup>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    interval: Option<Text>,
    #[serde(default)]
    input_series: Vec<InputSeries>,
    #[serde(default)]
    alert_rule_test: Vec<AlertTestCase>,
    #[serde(default)]
    promql_expr_test: Vec<PromqlTestCase>,
    #[serde(default)]
    external_labels: BTreeMap<String, Text>,
    #[serde(default)]
    external_url: String,
    #[serde(default)]
    name: String,
    start_timestamp: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSeries {
    series: Text,
    #[serde(default)]
    values: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertTestCase {
    eval_time: Option<Text>,
    #[serde(default)]
    alertname: String,
    #[serde(default)]
    exp_alerts: Vec<ExpectedAlert>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedAlert {
    #[serde(default)]
    exp_labels: BTreeMap<String, Text>,
    #[serde(default)]
    exp_annotations: BTreeMap<String, Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PromqlTestCase {
    #[serde(default)]
    expr: String,
    eval_time: Option<Text>,
    #[serde(default)]
    exp_samples: Vec<ExpectedSample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedSample {
    #[serde(default)]
    labels: Text,
    #[serde(default)]
    value: f64,
    #[serde(default)]
    histogram: String,
}

/// Runs the test files in `paths` like `promtool test rules FILE...`.
pub fn run_unit_tests<P: AsRef<Path>>(paths: &[P], options: &UnitTestOptions) -> UnitTestReport {
    let mut report = UnitTestReport::default();
    let run_filter = if options.run.is_empty() {
        None
    } else {
        match regex::Regex::new(&options.run.join("|")) {
            Ok(regex) => Some(regex),
            Err(error) => {
                report.stderr.push_str(&format!("invalid --run regex: {error}\n"));
                report.exit_code = 1;
                return report;
            }
        }
    };
    for path in paths {
        let path = path.as_ref();
        let _ = writeln!(report.stdout, "Unit Testing:  {}", path.display());
        let mut warnings = String::new();
        let errors = run_file(path, options, run_filter.as_ref(), &mut report.stdout, &mut warnings);
        report.stderr.push_str(&warnings);
        if errors.is_empty() {
            report.stdout.push_str("  SUCCESS\n");
        } else {
            report.stderr.push_str("  FAILED:\n");
            for error in errors {
                let _ = writeln!(report.stderr, "{error}");
                report.stdout.push('\n');
            }
            report.exit_code = 1;
        }
        report.stdout.push('\n');
    }
    report
}

fn run_file(
    path: &Path,
    options: &UnitTestOptions,
    run_filter: Option<&regex::Regex>,
    stdout: &mut String,
    warnings: &mut String,
) -> Vec<String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => return vec![format!("open {}: {error}", path.display())],
    };
    let file: UnitTestFile = match serde_saphyr::from_str::<Option<UnitTestFile>>(&text) {
        Ok(file) => file.unwrap_or(UnitTestFile {
            rule_files: Vec::new(),
            evaluation_interval: None,
            group_eval_order: Vec::new(),
            fuzzy_compare: false,
            tests: Vec::new(),
        }),
        Err(error) => {
            let position =
                yaml_error_position(&error).map(|p| format!("{}:{}: ", p.line, p.column)).unwrap_or_default();
            return vec![format!("{}: {position}{}", path.display(), yaml_error_message(&error))];
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut rule_files = Vec::new();
    for pattern in &file.rule_files {
        let matches = glob(base, pattern);
        if matches.is_empty() {
            let _ = writeln!(warnings, "  WARNING: no file match pattern {}", base.join(pattern).display());
        }
        rule_files.extend(matches);
    }
    let evaluation_interval = match parse_duration_text(file.evaluation_interval.as_ref()) {
        Ok(Some(interval)) if !interval.is_zero() => interval,
        Ok(_) => Duration::from_secs(60),
        Err(error) => return vec![format!("evaluation_interval: {error}")],
    };
    let mut group_order = HashMap::new();
    for (index, name) in file.group_eval_order.iter().enumerate() {
        if group_order.insert(name.clone(), index).is_some() {
            return vec![format!("group name repeated in evaluation order: {name}")];
        }
    }
    let settings = FileSettings {
        rule_files,
        evaluation_interval,
        group_order,
        fuzzy_compare: file.fuzzy_compare,
        ignore_unknown_fields: options.ignore_unknown_fields,
        skip_native_histograms: options.skip_native_histograms,
    };
    let mut errors = Vec::new();
    for (index, group) in file.tests.into_iter().enumerate() {
        let group = group.unwrap_or_default();
        let name = if group.name.is_empty() { format!("unnamed#{index}") } else { group.name.clone() };
        if let Some(filter) = run_filter
            && !filter.is_match(&group.name)
        {
            continue;
        }
        let _ = name;
        errors.extend(run_group(&group, &settings, stdout));
    }
    errors
}

struct FileSettings {
    rule_files: Vec<PathBuf>,
    evaluation_interval: Duration,
    group_order: HashMap<String, usize>,
    fuzzy_compare: bool,
    ignore_unknown_fields: bool,
    skip_native_histograms: bool,
}

/// Resolves a rule-file pattern relative to the test file's folder; `*`, `?` and `[...]` are
/// supported in the last path component.
fn glob(base: &Path, pattern: &str) -> Vec<PathBuf> {
    let full = if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { base.join(pattern) };
    let name = full.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return if full.exists() { vec![full] } else { Vec::new() };
    }
    let dir = full.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let regex_text = format!(
        "^{}$",
        name.chars()
            .map(|c| match c {
                '*' => "[^/]*".to_owned(),
                '?' => "[^/]".to_owned(),
                '[' | ']' => c.to_string(),
                other => regex::escape(&other.to_string()),
            })
            .collect::<String>()
    );
    let Ok(regex) = regex::Regex::new(&regex_text) else { return Vec::new() };
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter(|e| regex.is_match(&e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn parse_duration_text(text: Option<&Text>) -> Result<Option<Duration>, String> {
    match text {
        None => Ok(None),
        Some(Text(text)) => panoptes_model::time::parse_duration(text).map(Some),
    }
}

fn eval_time_ms(text: Option<&Text>) -> Result<i64, String> {
    Ok(parse_duration_text(text)?.map_or(0, millis))
}

/// Parses `start_timestamp`: Unix seconds (possibly fractional) or RFC 3339.
fn parse_start_timestamp(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        return Ok((seconds * 1000.0).round() as i64);
    }
    parse_rfc3339(text).ok_or_else(|| format!("cannot parse start_timestamp {text:?}: not Unix seconds nor RFC3339"))
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let zone_start = rest.find(['Z', 'z', '+', '-'])?;
    let (time, zone) = rest.split_at(zone_start);
    let mut time_parts = time.split(':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second_text = time_parts.next()?;
    let second: f64 = second_text.parse().ok()?;
    let offset_minutes = if zone.eq_ignore_ascii_case("z") {
        0
    } else {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?)
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 - offset_minutes * 60;
    Some(seconds * 1000 + (second * 1000.0).round() as i64)
}

struct LoadedSeries {
    labels: Labels,
    values: Vec<LoadValue>,
}

fn run_group(group: &TestGroup, settings: &FileSettings, stdout: &mut String) -> Vec<String> {
    let evaluation_interval = settings.evaluation_interval;
    let interval = match parse_duration_text(group.interval.as_ref()) {
        Ok(Some(interval)) if !interval.is_zero() => interval,
        Ok(_) => evaluation_interval,
        Err(error) => return vec![format!("interval: {error}")],
    };
    let start = match group.start_timestamp.as_ref() {
        None => 0,
        Some(Text(text)) => match parse_start_timestamp(text) {
            Ok(start) => start,
            Err(error) => return vec![error],
        },
    };
    let mut series = Vec::new();
    let mut histogram_names = BTreeSet::new();
    for input in &group.input_series {
        match parse_load_series(&input.series.0, &input.values.0) {
            Ok((labels, values)) => {
                if values.iter().any(|v| matches!(v, LoadValue::Histogram)) {
                    if !settings.skip_native_histograms {
                        return vec![format!(
                            "    input series {}: native histograms are not supported by Panoptes",
                            input.series.0
                        )];
                    }
                    histogram_names.insert(labels.metric_name().unwrap_or("").to_owned());
                    continue;
                }
                series.push(LoadedSeries { labels, values });
            }
            Err(error) => return vec![format!("    input series {:?}: {error}", input.series.0)],
        }
    }
    let storage: StorageRef = Arc::new(MemStorage::new());
    let engine = Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        max_samples: 10_000,
        timeout: Duration::from_secs(100),
        default_subquery_step: evaluation_interval,
        cancel: None,
    });
    let context = EvalContext {
        storage: Arc::clone(&storage),
        engine: engine.clone(),
        external_labels: Labels::from_pairs(group.external_labels.iter().map(|(k, v)| (k.as_str(), v.0.as_str()))),
        external_url: group.external_url.clone(),
    };
    let mut groups: Vec<(usize, Group)> = Vec::new();
    let mut load_errors = Vec::new();
    let parse_options = ParseOptions { ignore_unknown_fields: settings.ignore_unknown_fields };
    for path in &settings.rule_files {
        let path_text = path.to_string_lossy().into_owned();
        match load_rule_file(&path_text, parse_options) {
            Ok(file) => {
                for config in &file.groups {
                    match Group::new(config, &path_text, interval, false) {
                        Ok(g) => groups.push((settings.group_order.get(&config.name).copied().unwrap_or(0), g)),
                        Err(error) => load_errors.push(format!("{path_text}: {error}")),
                    }
                }
            }
            Err(errors) => load_errors.extend(errors.iter().map(ToString::to_string)),
        }
    }
    if !load_errors.is_empty() {
        return load_errors;
    }
    groups.sort_by_key(|(order, _)| *order);
    let mut groups: Vec<Group> = groups.into_iter().map(|(_, g)| g).collect();

    let mut errors = Vec::new();
    let mut alert_cases: BTreeMap<i64, Vec<&AlertTestCase>> = BTreeMap::new();
    let mut max_eval_time = 0i64;
    for case in &group.alert_rule_test {
        let eval_time = match eval_time_ms(case.eval_time.as_ref()) {
            Ok(t) => t,
            Err(error) => return vec![format!("eval_time: {error}")],
        };
        if case.alertname.is_empty() {
            let in_group =
                if group.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", group.name) };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                prometheus_duration(eval_time)
            )];
        }
        max_eval_time = max_eval_time.max(eval_time);
        alert_cases.entry(eval_time).or_default().push(case);
    }
    let mut promql_cases = Vec::new();
    for case in &group.promql_expr_test {
        let eval_time = match eval_time_ms(case.eval_time.as_ref()) {
            Ok(t) => t,
            Err(error) => return vec![format!("eval_time: {error}")],
        };
        max_eval_time = max_eval_time.max(eval_time);
        promql_cases.push((eval_time, case));
    }

    let step = millis(evaluation_interval).max(1);
    let interval_ms = millis(interval).max(1);
    let mut loaded_until = vec![0usize; series.len()];
    let alert_times: Vec<i64> = alert_cases.keys().copied().collect();
    let mut current = 0usize;
    let mut ts = start;
    while ts <= start + max_eval_time {
        if let Err(error) = append_until(&*storage, &series, &mut loaded_until, start, interval_ms, ts) {
            errors.push(error);
        }
        let mut eval_errors = Vec::new();
        for group in &mut groups {
            group.eval(&context, ts, Duration::ZERO, Duration::from_secs(60));
            for rule in group.rules() {
                if let Some(error) = &rule.status().last_error {
                    eval_errors.push(format!(
                        "    rule: {}, time: {}, err: {error}",
                        rule.name(),
                        go_duration(ts - start)
                    ));
                }
            }
        }
        if !eval_errors.is_empty() {
            errors.extend(eval_errors);
            return errors;
        }
        while current < alert_times.len()
            && ts - start <= alert_times[current]
            && alert_times[current] < ts + step - start
        {
            let time = alert_times[current];
            for case in &alert_cases[&time] {
                if let Some(error) = check_alerts(case, time, &groups, &group.name) {
                    errors.push(error);
                }
            }
            current += 1;
        }
        ts += step;
    }

    for (eval_time, case) in promql_cases {
        if settings.skip_native_histograms
            && (case.exp_samples.iter().any(|s| !s.histogram.is_empty())
                || histogram_names.iter().any(|name| case.expr.contains(name.as_str())))
        {
            let _ = writeln!(
                stdout,
                "  SKIPPED: expr {:?} at {}: native histograms",
                case.expr,
                prometheus_duration(eval_time)
            );
            continue;
        }
        if let Some(error) =
            check_promql(&engine, &*storage, case, start + eval_time, eval_time, settings.fuzzy_compare)
        {
            errors.push(error);
        }
    }
    errors
}

/// Appends the input samples with timestamps up to `until` that are not loaded yet.
fn append_until(
    storage: &dyn Storage,
    series: &[LoadedSeries],
    loaded_until: &mut [usize],
    start: i64,
    interval_ms: i64,
    until: i64,
) -> Result<(), String> {
    let mut appender = storage.appender();
    for (index, line) in series.iter().enumerate() {
        while loaded_until[index] < line.values.len() {
            let t = start + loaded_until[index] as i64 * interval_ms;
            if t > until {
                break;
            }
            if let LoadValue::Float(v) = line.values[loaded_until[index]] {
                appender.append(&line.labels, t, v).map_err(|e| e.to_string())?;
            }
            loaded_until[index] += 1;
        }
    }
    appender.commit().map_err(|e| e.to_string())
}

type LabelsAndAnnotations = (BTreeMap<String, String>, BTreeMap<String, String>);

fn check_alerts(case: &AlertTestCase, eval_time: i64, groups: &[Group], group_name: &str) -> Option<String> {
    let mut got: Vec<LabelsAndAnnotations> = Vec::new();
    for group in groups {
        for rule in group.rules() {
            let Rule::Alerting(rule) = rule else { continue };
            if rule.name != case.alertname {
                continue;
            }
            for alert in rule.alerts() {
                if alert.state == AlertState::Firing {
                    let labels = alert.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect();
                    got.push((labels, alert.annotations.clone()));
                }
            }
        }
    }
    let mut expected: Vec<LabelsAndAnnotations> = case
        .exp_alerts
        .iter()
        .map(|alert| {
            let mut labels: BTreeMap<String, String> =
                alert.exp_labels.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
            labels.insert("alertname".to_owned(), case.alertname.clone());
            let annotations = alert.exp_annotations.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect();
            (labels, annotations)
        })
        .collect();
    got.sort();
    expected.sort();
    if got == expected {
        return None;
    }
    let name = if group_name.is_empty() { String::new() } else { format!("    name: {group_name},\n") };
    let indent = "            ";
    Some(format!(
        "{name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
        case.alertname,
        prometheus_duration(eval_time),
        indent_lines(&alerts_string(&expected), indent),
        indent_lines(&alerts_string(&got), indent)
    ))
}

fn alerts_string(alerts: &[LabelsAndAnnotations]) -> String {
    if alerts.is_empty() {
        return "[]".to_owned();
    }
    let mut out = String::from("[\n");
    for (index, (labels, annotations)) in alerts.iter().enumerate() {
        if index > 0 {
            out.push_str(",\n");
        }
        let entry = format!("\nLabels:{}\nAnnotations:{}", map_string(labels), map_string(annotations));
        let _ = write!(out, "{index}:{}", indent_lines(&entry, "  "));
    }
    out.push_str("\n]");
    out
}

fn indent_lines(text: &str, indent: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| if i > 0 { format!("{indent}{line}") } else { line.to_owned() })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_promql(
    engine: &Engine,
    storage: &dyn Storage,
    case: &PromqlTestCase,
    time: i64,
    eval_time: i64,
    fuzzy: bool,
) -> Option<String> {
    let header = format!("    expr: {:?}, time: {}", case.expr, prometheus_duration(eval_time));
    let got = match engine.instant_query(storage, &case.expr, time) {
        Ok((Value::Vector(vector), _)) => vector.into_iter().map(|s| (s.labels, s.v)).collect::<Vec<_>>(),
        Ok((Value::Scalar { v, .. }, _)) => vec![(Labels::empty(), v)],
        Ok(_) => return Some(format!("{header}, err: rule result is not a vector or scalar")),
        Err(error) => return Some(format!("{header}, err: {error}")),
    };
    let mut expected = Vec::new();
    for sample in &case.exp_samples {
        match parse_load_series(&sample.labels.0, "") {
            Ok((labels, _)) => expected.push((labels, sample.value)),
            Err(error) => return Some(format!("{header}, err: labels {:?}: {error}", sample.labels.0)),
        }
        if !sample.histogram.is_empty() {
            return Some(format!("{header}, err: native histograms are not supported by Panoptes"));
        }
    }
    let mut got = got;
    got.sort_by(|a, b| a.0.cmp(&b.0));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let equal = got.len() == expected.len()
        && got.iter().zip(&expected).all(|(g, e)| g.0 == e.0 && floats_equal(g.1, e.1, fuzzy));
    if equal {
        return None;
    }
    Some(format!("{header},\n        exp: {}\n        got: {}", samples_string(&expected), samples_string(&got)))
}

fn floats_equal(a: f64, b: f64, fuzzy: bool) -> bool {
    a == b || (fuzzy && (a.next_up() == b || a.next_down() == b))
}

fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_owned();
    }
    samples
        .iter()
        .map(|(labels, v)| format!("{} {}", go_labels(labels), format_go_e(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Formats labels like Prometheus' `Labels.String()`: `{__name__="up", job="x"}`.
pub(crate) fn go_labels(labels: &Labels) -> String {
    map_string(&labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect())
}

fn map_string(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(name, value)| {
            let name = if panoptes_model::is_valid_legacy_label_name(name) { name.clone() } else { go_quote(name) };
            format!("{name}={}", go_quote(value))
        })
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Quotes like Go's `strconv.Quote` for printable text.
fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Formats like Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `3.0000000000000004E+00`.
fn format_go_e(v: f64) -> String {
    panoptes_model::gofloat::format_e(v, true)
}

/// Formats milliseconds like Prometheus' `model.Duration` (`1d`, `4m59s`, `0s`).
fn prometheus_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    format!("{sign}{}", panoptes_model::time::format_duration(Duration::from_millis(ms.unsigned_abs())))
}

/// Formats milliseconds like Go's `time.Duration.String()` (`1m0s`, `2m59.999s`, `0s`).
fn go_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.unsigned_abs();
    if ms < 1000 {
        return format!("{sign}{ms}ms");
    }
    let (hours, minutes, seconds, millis) = (ms / 3_600_000, (ms / 60_000) % 60, (ms / 1000) % 60, ms % 1000);
    let seconds_text = if millis == 0 {
        format!("{seconds}s")
    } else {
        format!("{seconds}.{}s", format!("{millis:03}").trim_end_matches('0'))
    };
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds_text}")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds_text}")
    } else {
        format!("{sign}{seconds_text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format_go_e(1.0), "1E+00");
        assert_eq!(format_go_e(60.0), "6E+01");
        assert_eq!(format_go_e(3.0000000000000004), "3.0000000000000004E+00");
        assert_eq!(format_go_e(0.5), "5E-01");
        assert_eq!(go_duration(60_000), "1m0s");
        assert_eq!(go_duration(179_999), "2m59.999s");
        assert_eq!(go_duration(86_400_000), "24h0m0s");
        assert_eq!(prometheus_duration(299_000), "4m59s");
        assert_eq!(prometheus_duration(86_400_000), "1d");
        assert_eq!(
            go_labels(&Labels::from_pairs([("__name__", "test"), ("a", "x\"y")])),
            r#"{__name__="test", a="x\"y"}"#
        );
    }

    #[test]
    fn parses_start_timestamps() {
        assert_eq!(parse_start_timestamp("1609459200"), Ok(1_609_459_200_000));
        assert_eq!(parse_start_timestamp("2024-01-01T00:00:00Z"), Ok(1_704_067_200_000));
        assert_eq!(parse_start_timestamp("2024-01-01T01:00:00+01:00"), Ok(1_704_067_200_000));
        assert!(parse_start_timestamp("yesterday").is_err());
    }
}
