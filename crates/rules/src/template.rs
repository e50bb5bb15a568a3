//! Alert label and annotation templates: Go text/template (through the pinned `gotmpl` crate)
//! with Prometheus' prelude variables and function library. Never panics on user input: a
//! template that fails renders as Prometheus' `<error expanding template: ...>` text.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::{FuncMap, TemplateError, Value};
use panoptes_gotemplate::{arg, call_error, humanize, humanize_duration, humanize1024, string, string_arg};
use panoptes_model::Labels;
use panoptes_model::gofloat::format_g_precision;

/// Declares Prometheus' convenience variables in front of every alert template.
const PRELUDE: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// One sample of a `query` result inside a template.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    /// The series' labels (including `__name__` when the result has it).
    pub labels: Labels,
    /// The value.
    pub value: f64,
}

/// Runs a PromQL instant query for the `query` template function at the given time (ms).
pub type TemplateQueryFn = Arc<dyn Fn(&str, i64) -> Result<Vec<QuerySample>, String> + Send + Sync>;

/// What an alert template can see.
#[derive(Clone)]
pub struct TemplateData<'a> {
    /// The alert's series labels (`$labels`).
    pub labels: &'a Labels,
    /// The alert's value (`$value`).
    pub value: f64,
    /// The server's external labels (`$externalLabels`).
    pub external_labels: &'a Labels,
    /// The server's external URL (`$externalURL`, `externalURL`, `pathPrefix`).
    pub external_url: &'a str,
    /// The evaluation time in milliseconds, at which `query` runs.
    pub timestamp_ms: i64,
    /// Runs `query`; `None` makes `query` fail.
    pub query: Option<TemplateQueryFn>,
}

impl std::fmt::Debug for TemplateData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateData")
            .field("labels", self.labels)
            .field("value", &self.value)
            .field("external_url", &self.external_url)
            .finish_non_exhaustive()
    }
}

/// Expands an alert label or annotation template of the alerting rule `alert_name`. A template
/// that does not parse or fails while running yields `<error expanding template: ...>`, as in
/// Prometheus.
pub fn expand_alert_template(alert_name: &str, text: &str, data: &TemplateData<'_>) -> String {
    match try_expand(&format!("__alert_{alert_name}"), text, data) {
        Ok(result) => result,
        Err(error) => {
            tracing::warn!(alert = alert_name, error = %error, "expanding alert template failed");
            format!("<error expanding template: {error}>")
        }
    }
}

/// Expands a template with the Prometheus prelude; `name` is the template's name in errors.
///
/// # Errors
///
/// Returns Prometheus-style text (`error parsing template ...`, `error executing template ...`).
pub fn try_expand(name: &str, text: &str, data: &TemplateData<'_>) -> Result<String, String> {
    let source = format!("{PRELUDE}{text}");
    let funcs = functions(data);
    let parse_error = |error: TemplateError| format!("error parsing template {name}: {error}");
    let mut template = gotmpl::Template::new(name)
        .missing_key(gotmpl::MissingKey::ZeroValue)
        .funcs(funcs)
        .parse(&source)
        .map_err(parse_error)?;
    // gotmpl prints a float action with Rust's formatting; Go prints `%v` (`1.2345675e+06`).
    // Every printing action gets a final `| __goValue` command that formats floats as Go does.
    let (mut root, defines) =
        gotmpl::parse::Parser::new(&source, "{{", "}}").and_then(|parser| parser.parse()).map_err(parse_error)?;
    let format_command = go_value_command().map_err(parse_error)?;
    append_to_actions(&mut root, &format_command);
    for mut define in defines {
        append_to_actions(&mut define.body, &format_command);
        template = template.add_parse_tree(&define.name, define.body);
    }
    template = template.add_parse_tree(name, root);
    let value = template_data(data);
    let output = template
        .execute_template_to_string(name, &value)
        .map_err(|error| format!("error executing template {name}: {error}"))?;
    // Go prints a missing key of a `map[string]string` (labels) as the empty string; gotmpl has
    // no typed maps and prints `<no value>` instead.
    Ok(output.replace("<no value>", ""))
}

/// The name of the function that formats an action's result as Go's `fmt.Sprint` would.
const GO_VALUE_FUNCTION: &str = "__goValue";

/// Returns the parsed command `__goValue`, taken from a tiny template because the parser's
/// identifier type is not constructible from outside gotmpl.
fn go_value_command() -> Result<gotmpl::parse::CommandNode, TemplateError> {
    let (root, _) = gotmpl::parse::Parser::new("{{.|__goValue}}", "{{", "}}")?.parse()?;
    match root.nodes.first() {
        Some(gotmpl::parse::Node::Action(action)) if action.pipe.commands.len() == 2 => {
            Ok(action.pipe.commands[1].clone())
        }
        _ => Err(TemplateError::Exec("cannot build the value formatting command".to_owned())),
    }
}

/// Appends `command` to the pipeline of every action that prints.
fn append_to_actions(list: &mut gotmpl::parse::ListNode, command: &gotmpl::parse::CommandNode) {
    use gotmpl::parse::Node;
    for node in &mut list.nodes {
        match node {
            Node::List(inner) => append_to_actions(inner, command),
            Node::Action(action) if action.pipe.decl.is_empty() => action.pipe.commands.push(command.clone()),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                append_to_actions(&mut branch.body, command);
                if let Some(else_body) = &mut branch.else_body {
                    append_to_actions(else_body, command);
                }
            }
            Node::Define(define) => append_to_actions(&mut define.body, command),
            _ => {}
        }
    }
}

/// Formats a float like Go's `%v` (shortest `%g`, exponent form below 1e-4 and from 1e6).
pub(crate) fn format_go_v(v: f64) -> String {
    panoptes_model::gofloat::format_g(v)
}

/// Checks that an alert template parses (as `promtool check rules` does).
pub(crate) fn check_alert_template(alert_name: &str, text: &str) -> Result<(), String> {
    let name = format!("__alert_{alert_name}");
    let empty = Labels::empty();
    let data = TemplateData {
        labels: &empty,
        value: 0.0,
        external_labels: &empty,
        external_url: "",
        timestamp_ms: 0,
        query: None,
    };
    let source = format!("{PRELUDE}{text}");
    gotmpl::Template::new(&name).funcs(functions(&data)).parse(&source).map_err(|error| error.to_string())?;
    // Go refuses undefined variables when parsing; gotmpl only when running.
    let (root, defines) = gotmpl::parse::Parser::new(&source, "{{", "}}")
        .and_then(|parser| parser.parse())
        .map_err(|error| error.to_string())?;
    let mut checker = VariableChecker { scope: vec!["$".into()], undefined: None };
    checker.list(&root);
    for define in &defines {
        checker.scope = vec!["$".into()];
        checker.list(&define.body);
    }
    match checker.undefined {
        Some((line, variable)) => Err(format!("template: {name}:{line}: undefined variable {variable:?}")),
        None => Ok(()),
    }
}

/// Finds the first variable used outside the scope of its declaration.
struct VariableChecker {
    scope: Vec<String>,
    undefined: Option<(usize, String)>,
}

impl VariableChecker {
    fn list(&mut self, list: &gotmpl::parse::ListNode) {
        let mark = self.scope.len();
        for node in &list.nodes {
            self.node(node);
        }
        self.scope.truncate(mark);
    }

    fn node(&mut self, node: &gotmpl::parse::Node) {
        use gotmpl::parse::Node;
        match node {
            Node::List(list) => self.list(list),
            Node::Action(action) => self.pipe(&action.pipe),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                let mark = self.scope.len();
                self.pipe(&branch.pipe);
                self.list(&branch.body);
                if let Some(else_body) = &branch.else_body {
                    self.list(else_body);
                }
                self.scope.truncate(mark);
            }
            Node::Template(template) => {
                if let Some(pipe) = &template.pipe {
                    self.pipe(pipe);
                }
            }
            Node::Define(_) | Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }

    fn pipe(&mut self, pipe: &gotmpl::parse::PipeNode) {
        for command in &pipe.commands {
            for arg in &command.args {
                self.expr(arg);
            }
        }
        if !pipe.is_assign {
            self.scope.extend(pipe.decl.iter().map(|name| name.to_string()));
        } else {
            for name in &pipe.decl {
                self.check(name, pipe.pos.line);
            }
        }
    }

    fn expr(&mut self, expr: &gotmpl::parse::Expr) {
        use gotmpl::parse::Expr;
        match expr {
            Expr::Variable(pos, name, _) => self.check(name, pos.line),
            Expr::Pipe(_, pipe) => {
                let mark = self.scope.len();
                self.pipe(pipe);
                self.scope.truncate(mark);
            }
            Expr::Chain(_, inner, _) => self.expr(inner),
            _ => {}
        }
    }

    fn check(&mut self, name: &str, line: usize) {
        if self.undefined.is_none() && !self.scope.iter().any(|v| v == name) {
            self.undefined = Some((line, name.to_owned()));
        }
    }
}

fn labels_value(labels: &Labels) -> Value {
    let map: BTreeMap<Arc<str>, Value> =
        labels.iter().map(|l| (Arc::clone(&l.name), Value::String(Arc::clone(&l.value)))).collect();
    Value::Map(Arc::new(map))
}

fn template_data(data: &TemplateData<'_>) -> Value {
    let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    map.insert("Labels".into(), labels_value(data.labels));
    map.insert("ExternalLabels".into(), labels_value(data.external_labels));
    map.insert("ExternalURL".into(), Value::String(data.external_url.into()));
    map.insert("Value".into(), Value::Float(data.value));
    Value::Map(Arc::new(map))
}

fn sample_value(sample: &QuerySample) -> Value {
    let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    map.insert("Labels".into(), labels_value(&sample.labels));
    map.insert("Value".into(), Value::Float(sample.value));
    Value::Map(Arc::new(map))
}

fn float_arg(args: &[Value], name: &str) -> Result<f64, TemplateError> {
    convert_to_float(arg(args, 0, name)?).map_err(|message| call_error(name, message))
}

/// Converts a template value to a float as Prometheus' `convertToFloat` does.
fn convert_to_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Float(v) => Ok(*v),
        Value::Int(v) => Ok(*v as f64),
        Value::Uint(v) => Ok(*v as f64),
        Value::String(s) => {
            parse_go_float(s).ok_or_else(|| format!("strconv.ParseFloat: parsing {s:?}: invalid syntax"))
        }
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

fn parse_go_float(text: &str) -> Option<f64> {
    let lower = text.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    if matches!(body, "inf" | "infinity") {
        return Some(if lower.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if body == "nan" {
        return Some(f64::NAN);
    }
    text.replace('_', "").parse::<f64>().ok()
}

fn query_samples(value: &Value, name: &str) -> Result<Vec<Value>, TemplateError> {
    match value {
        Value::List(items) => Ok(items.to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => {
            Err(call_error(name, format!("wrong type for value; expected query result; got {}", other.type_name())))
        }
    }
}

fn sample_labels(sample: &Value) -> Option<&Value> {
    sample.field("Labels")
}

fn functions(data: &TemplateData<'_>) -> FuncMap {
    let mut funcs = FuncMap::new();
    let mut add = |name: &str, f: gotmpl::ValueFunc| {
        funcs.insert(name.to_owned(), f);
    };
    add(
        GO_VALUE_FUNCTION,
        Arc::new(|args: &[Value]| match args.last() {
            Some(Value::Float(v)) => Ok(string(format_go_v(*v))),
            Some(other) => Ok(other.clone()),
            None => Ok(Value::Nil),
        }),
    );
    add("query", query_function(data));
    add(
        "first",
        Arc::new(|args: &[Value]| {
            let samples = query_samples(arg(args, 0, "first")?, "first")?;
            samples.into_iter().next().ok_or_else(|| call_error("first", "first() called on vector with no elements"))
        }),
    );
    add(
        "label",
        Arc::new(|args: &[Value]| {
            let name = string_arg(args, 0, "label")?;
            let sample = arg(args, 1, "label")?;
            Ok(sample_labels(sample).and_then(|labels| labels.field(&name)).cloned().unwrap_or_else(|| string("")))
        }),
    );
    add(
        "value",
        Arc::new(|args: &[Value]| Ok(arg(args, 0, "value")?.field("Value").cloned().unwrap_or(Value::Float(0.0)))),
    );
    add(
        "strvalue",
        Arc::new(|args: &[Value]| {
            let sample = arg(args, 0, "strvalue")?;
            Ok(sample_labels(sample)
                .and_then(|labels| labels.field("__value__"))
                .cloned()
                .unwrap_or_else(|| string("")))
        }),
    );
    add(
        "args",
        Arc::new(|args: &[Value]| {
            let map: BTreeMap<Arc<str>, Value> =
                args.iter().enumerate().map(|(i, v)| (Arc::from(format!("arg{i}")), v.clone())).collect();
            Ok(Value::Map(Arc::new(map)))
        }),
    );
    add(
        "sortByLabel",
        Arc::new(|args: &[Value]| {
            let name = string_arg(args, 0, "sortByLabel")?;
            let mut samples = query_samples(arg(args, 1, "sortByLabel")?, "sortByLabel")?;
            let key = |v: &Value| {
                sample_labels(v).and_then(|l| l.field(&name)).and_then(Value::as_str).unwrap_or("").to_owned()
            };
            samples.sort_by_key(key);
            Ok(Value::List(samples.into()))
        }),
    );
    add("humanize", Arc::new(|args: &[Value]| Ok(string(humanize(float_arg(args, "humanize")?)))));
    add("humanize1024", Arc::new(|args: &[Value]| Ok(string(humanize1024(float_arg(args, "humanize1024")?)))));
    add(
        "humanizeDuration",
        Arc::new(|args: &[Value]| Ok(string(humanize_duration(float_arg(args, "humanizeDuration")?)))),
    );
    add(
        "humanizePercentage",
        Arc::new(|args: &[Value]| {
            Ok(string(format!("{}%", format_g_precision(float_arg(args, "humanizePercentage")? * 100.0, 4))))
        }),
    );
    add(
        "humanizeTimestamp",
        Arc::new(|args: &[Value]| {
            let v = float_arg(args, "humanizeTimestamp")?;
            if v.is_nan() || v.is_infinite() {
                return Ok(string(format_g_precision(v, 4)));
            }
            Ok(string(float_to_time(v).map_err(|e| call_error("humanizeTimestamp", e))?))
        }),
    );
    add(
        "toTime",
        Arc::new(|args: &[Value]| {
            let v = float_arg(args, "toTime")?;
            if v.is_nan() || v.is_infinite() {
                return Err(call_error("toTime", "value is NaN or Inf"));
            }
            Ok(string(float_to_time(v).map_err(|e| call_error("toTime", e))?))
        }),
    );
    add(
        "parseDuration",
        Arc::new(|args: &[Value]| {
            let text = string_arg(args, 0, "parseDuration")?;
            let duration = panoptes_model::time::parse_duration(&text).map_err(|e| call_error("parseDuration", e))?;
            Ok(Value::Float(duration.as_secs_f64()))
        }),
    );
    let external_url = data.external_url.to_owned();
    let path_prefix = url_path(data.external_url);
    add("externalURL", Arc::new(move |_: &[Value]| Ok(string(external_url.as_str()))));
    add("pathPrefix", Arc::new(move |_: &[Value]| Ok(string(path_prefix.as_str()))));
    add("stripPort", Arc::new(|args: &[Value]| Ok(string(strip_port(&string_arg(args, 0, "stripPort")?)))));
    add("stripDomain", Arc::new(|args: &[Value]| Ok(string(strip_domain(&string_arg(args, 0, "stripDomain")?)))));
    panoptes_gotemplate::add_string_functions(&mut funcs);
    funcs
}

/// Builds the `query` function, bound to the evaluation time.
fn query_function(data: &TemplateData<'_>) -> gotmpl::ValueFunc {
    match &data.query {
        None => Arc::new(|_: &[Value]| Err(call_error("query", "no query engine available"))),
        Some(query) => {
            let query = Arc::clone(query);
            let timestamp_ms = data.timestamp_ms;
            Arc::new(move |args: &[Value]| {
                let text = string_arg(args, 0, "query")?;
                let samples = query(&text, timestamp_ms).map_err(|e| call_error("query", e))?;
                Ok(Value::List(samples.iter().map(sample_value).collect::<Vec<_>>().into()))
            })
        }
    }
}

/// Formats Unix seconds like Go's `time.Time.String()` in UTC, at millisecond precision
/// (Prometheus converts through `model.Time`).
fn float_to_time(v: f64) -> Result<String, String> {
    let nanos = v * 1e9;
    if !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&nanos) {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_g_precision(v, 17)
        ));
    }
    let millis = (nanos as i64) / 1_000_000;
    Ok(format_go_time(millis))
}

/// Formats milliseconds since the epoch as `2006-01-02 15:04:05.999 +0000 UTC`.
pub(crate) fn format_go_time(millis: i64) -> String {
    let seconds = millis.div_euclid(1000);
    let ms = millis.rem_euclid(1000);
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        second_of_day / 3600,
        (second_of_day / 60) % 60,
        second_of_day % 60
    );
    if ms != 0 {
        out.push_str(format!(".{ms:03}").trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// Converts days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Returns the path of a URL (`http://host/prefix` → `/prefix`).
fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    match after_scheme.find('/') {
        Some(index) => {
            let path = &after_scheme[index..];
            path.split(['?', '#']).next().unwrap_or("").to_owned()
        }
        None => String::new(),
    }
}

/// Splits `host:port` like Go's `net.SplitHostPort`.
fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return (!port.contains(':')).then_some((host, port));
    }
    let (host, port) = text.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

fn strip_port(text: &str) -> String {
    split_host_port(text).map_or_else(|| text.to_owned(), |(host, _)| host.to_owned())
}

fn strip_domain(text: &str) -> String {
    let (host, port) = split_host_port(text).unwrap_or((text, ""));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return text.to_owned();
    }
    let host = host.split('.').next().unwrap_or("");
    if port.is_empty() {
        host.to_owned()
    } else if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl PartialOrd for QuerySample {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.labels.cmp(&other.labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_stub() -> TemplateQueryFn {
        Arc::new(|query: &str, t: i64| match query {
            "up" => Ok(vec![
                QuerySample { labels: Labels::from_pairs([("__name__", "up"), ("instance", "b:9")]), value: 0.0 },
                QuerySample { labels: Labels::from_pairs([("__name__", "up"), ("instance", "a:9")]), value: 1.0 },
            ]),
            "time()" => Ok(vec![QuerySample { labels: Labels::empty(), value: t as f64 / 1000.0 }]),
            "none" => Ok(Vec::new()),
            other => Err(format!("cannot run {other:?}")),
        })
    }

    /// Expands `text` for an alert with labels `instance="host.example.com:9100"` and value
    /// 1234567.5 at t=60s, external URL `http://prom.example.com/sub`.
    #[track_caller]
    fn check(text: &str, expected: &str) {
        let labels = Labels::from_pairs([("__name__", "up"), ("instance", "host.example.com:9100")]);
        let external = Labels::from_pairs([("cluster", "eu1")]);
        let data = TemplateData {
            labels: &labels,
            value: 1_234_567.5,
            external_labels: &external,
            external_url: "http://prom.example.com/sub",
            timestamp_ms: 60_000,
            query: Some(query_stub()),
        };
        assert_eq!(expand_alert_template("Test", text, &data), expected, "template {text:?}");
    }

    #[test]
    fn prelude_variables() {
        check(
            "{{ $labels.instance }} {{ $value }} {{ $externalLabels.cluster }} {{ $externalURL }}",
            "host.example.com:9100 1.2345675e+06 eu1 http://prom.example.com/sub",
        );
        check("[{{ $labels.missing }}]", "[]");
        check("{{ printf \"%.2f\" $value }}", "1234567.50");
    }

    #[test]
    fn humanize_functions_match_prometheus_docs() {
        check("{{ humanize 1234567.0 }}", "1.235M");
        check("{{ humanize 0.12345 }}", "123.5m");
        check("{{ humanize 0 }}", "0");
        check("{{ humanize 250 }}", "250");
        check("{{ humanize1024 1048576.0 }}", "1Mi");
        check("{{ humanize1024 512 }}", "512");
        check("{{ humanizeDuration 3600.0 }}", "1h 0m 0s");
        check("{{ humanizeDuration 176461 }}", "2d 1h 1m 1s");
        check("{{ humanizeDuration 1.5 }}", "1.5s");
        check("{{ humanizeDuration 0.1 }}", "100ms");
        check("{{ humanizeDuration 0 }}", "0s");
        check("{{ humanizePercentage 0.1234 }}", "12.34%");
        check("{{ humanizeTimestamp 1435065584.128 }}", "2015-06-23 13:19:44.128 +0000 UTC");
        check("{{ toTime 0 }}", "1970-01-01 00:00:00 +0000 UTC");
        check("{{ \"1.5e3\" | humanize }}", "1.5k");
    }

    #[test]
    fn string_functions() {
        check("{{ title \"aa bb CC\" }}", "Aa Bb CC");
        check("{{ toUpper \"aB\" }} {{ toLower \"aB\" }}", "AB ab");
        check("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", "xa");
        check("{{ if match \"^host\" $labels.instance }}yes{{ end }}", "yes");
        check("{{ stripPort $labels.instance }}", "host.example.com");
        check("{{ stripDomain $labels.instance }}", "host:9100");
        check("{{ stripDomain \"192.168.0.1:9090\" }}", "192.168.0.1:9090");
        check("{{ stripPort \"[::1]:80\" }}", "::1");
        check("{{ parseDuration \"1h2m10ms\" }}", "3720.01");
        check("{{ externalURL }} {{ pathPrefix }}", "http://prom.example.com/sub /sub");
        check("{{ safeHtml \"<b>\" }}", "<b>");
        check("{{ with args 1 \"x\" }}{{ .arg0 }} {{ .arg1 }}{{ end }}", "1 x");
    }

    #[test]
    fn query_functions() {
        check("{{ query \"time()\" | first | value }}", "60");
        check("{{ range query \"up\" }}{{ .Labels.instance }}={{ .Value }} {{ end }}", "b:9=0 a:9=1 ");
        check("{{ range query \"up\" | sortByLabel \"instance\" }}{{ label \"instance\" . }} {{ end }}", "a:9 b:9 ");
        check("{{ with query \"none\" }}{{ . | first | value }}{{ else }}empty{{ end }}", "empty");
    }

    #[test]
    fn errors_render_as_prometheus_error_text() {
        let rendered = {
            let labels = Labels::empty();
            let data = TemplateData {
                labels: &labels,
                value: 0.0,
                external_labels: &labels,
                external_url: "",
                timestamp_ms: 0,
                query: Some(query_stub()),
            };
            (
                expand_alert_template("A", "{{ query \"none\" | first | value }}", &data),
                expand_alert_template("A", "{{ query \"bad\" }}", &data),
                expand_alert_template("A", "{{ .Nope", &data),
            )
        };
        assert!(
            rendered.0.starts_with("<error expanding template: error executing template __alert_A: "),
            "{}",
            rendered.0
        );
        assert!(rendered.0.contains("first() called on vector with no elements"), "{}", rendered.0);
        assert!(rendered.1.contains("error calling query: cannot run \"bad\""), "{}", rendered.1);
        assert!(
            rendered
                .2
                .starts_with("<error expanding template: error parsing template __alert_A: template: __alert_A:1:"),
            "{}",
            rendered.2
        );
    }

    #[test]
    fn formats_g_like_go() {
        assert_eq!(format_g_precision(1234.5, 4), "1234");
        assert_eq!(format_g_precision(12345.0, 4), "1.234e+04");
        assert_eq!(format_g_precision(9999.5, 4), "1e+04");
        assert_eq!(format_g_precision(0.0001234, 4), "0.0001234");
        assert_eq!(format_g_precision(0.00001234, 4), "1.234e-05");
        assert_eq!(format_g_precision(f64::INFINITY, 4), "+Inf");
    }
}
