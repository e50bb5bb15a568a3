//! Notification templates: Go text/template (through the pinned `gotmpl`) with Alertmanager's
//! data (`.Receiver`, `.Status`, `.Alerts`, `.GroupLabels`, ...), its functions, Panoptes'
//! default templates (`template/default.tmpl`) and the operator's template files.
//!
//! In Go, `.Alerts.Firing`, `.Labels.SortedPairs`, `.Names`, `.Values`, `.Remove` and the time
//! methods `.Format` / `.Unix` are methods. gotmpl has no methods, so every parsed template is
//! rewritten once: a field chain ending in one of those names becomes a call of a hidden
//! function (`.Alerts.Firing` → `(__am_Firing .Alerts)`).

mod funcs;
mod time;

use std::collections::BTreeMap;
use std::sync::Arc;

use gotmpl::Value;
use gotmpl::parse::{CommandNode, Expr, ListNode, Node, PipeNode, Pos, SmolStr};
use jiff::Timestamp;

use crate::types::{Alert, LabelSet, fingerprint_string};

pub(crate) use time::go_time_string;

/// Panoptes' default notification templates.
const DEFAULT_TEMPLATES: &str = include_str!("template/default.tmpl");

/// The names that are Go methods in Alertmanager's template data.
const METHODS: [&str; 8] = ["Firing", "Resolved", "SortedPairs", "Names", "Values", "Remove", "Format", "Unix"];

/// Parsed template definitions: the defaults, then the operator's files (which may redefine
/// them).
#[derive(Clone)]
pub struct Templates {
    defines: Vec<(String, ListNode)>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").field("defines", &self.defines.len()).finish()
    }
}

impl Templates {
    /// Parses the default templates and every file matched by `globs`.
    ///
    /// # Errors
    ///
    /// Returns a message naming the file for an unreadable file, a bad glob or a template that
    /// does not parse.
    pub fn from_globs(globs: &[String]) -> Result<Templates, String> {
        let mut templates = Templates { defines: Vec::new() };
        templates.add_source("default.tmpl", DEFAULT_TEMPLATES)?;
        for pattern in globs {
            let paths = glob::glob(pattern).map_err(|e| format!("invalid template glob {pattern:?}: {e}"))?;
            for path in paths {
                let path = path.map_err(|e| format!("cannot read template {pattern:?}: {e}"))?;
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read template file {}: {e}", path.display()))?;
                templates.add_source(&path.display().to_string(), &text)?;
            }
        }
        Ok(templates)
    }

    fn add_source(&mut self, name: &str, text: &str) -> Result<(), String> {
        let (_, defines) = parse(name, text)?;
        self.defines.extend(defines);
        Ok(())
    }

    /// Expands `text` (which may call `{{ template "..." . }}`) with `data`.
    ///
    /// # Errors
    ///
    /// Returns Go-style parse and execution errors.
    pub fn render(&self, text: &str, data: &Value) -> Result<String, String> {
        if !text.contains("{{") {
            return Ok(text.to_owned());
        }
        const NAME: &str = "__text";
        let (root, defines) = parse(NAME, text)?;
        let mut template = gotmpl::Template::new(NAME)
            .missing_key(gotmpl::MissingKey::ZeroValue)
            .max_range_iters(100_000)
            .funcs(funcs::functions());
        for (name, body) in self.defines.iter().cloned().chain(defines) {
            template = template.add_parse_tree(&name, body);
        }
        template = template.add_parse_tree(NAME, root);
        let output =
            template.execute_template_to_string(NAME, data).map_err(|error| format!("template: {NAME}: {error}"))?;
        // Go prints a missing key of a map[string]string as "" with missingkey=zero.
        Ok(output.replace("<no value>", ""))
    }
}

/// Parses a template source and rewrites method calls; returns the root and the defines.
fn parse(name: &str, text: &str) -> Result<(ListNode, Vec<(String, ListNode)>), String> {
    let (mut root, defines) = gotmpl::parse::Parser::new(text, "{{", "}}")
        .and_then(|parser| parser.parse())
        .map_err(|error| format!("template: {name}: {error}"))?;
    rewrite_list(&mut root);
    let defines = defines
        .into_iter()
        .map(|mut define| {
            rewrite_list(&mut define.body);
            (define.name.to_string(), define.body)
        })
        .collect();
    Ok((root, defines))
}

fn rewrite_list(list: &mut ListNode) {
    for node in &mut list.nodes {
        match node {
            Node::List(inner) => rewrite_list(inner),
            Node::Action(action) => rewrite_pipe(&mut action.pipe),
            Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
                rewrite_pipe(&mut branch.pipe);
                rewrite_list(&mut branch.body);
                if let Some(else_body) = &mut branch.else_body {
                    rewrite_list(else_body);
                }
            }
            Node::Template(template) => {
                if let Some(pipe) = &mut template.pipe {
                    rewrite_pipe(pipe);
                }
            }
            Node::Define(define) => rewrite_list(&mut define.body),
            _ => {}
        }
    }
}

fn rewrite_pipe(pipe: &mut PipeNode) {
    for command in &mut pipe.commands {
        rewrite_command(command);
    }
}

fn rewrite_command(command: &mut CommandNode) {
    for arg in &mut command.args {
        rewrite_expr(arg);
    }
    // A method with arguments in first position (`.CommonLabels.Remove .GroupLabels.Names`,
    // `.StartsAt.Format "..."`) receives the rest of the command as arguments.
    if command.args.len() > 1
        && let Some(Expr::Pipe(_, inner)) = command.args.first()
        && inner.commands.len() == 1
        && let Some(Expr::Identifier(_, function)) = inner.commands[0].args.first()
        && (function == "__am_Remove" || function == "__am_Format")
    {
        let mut args = inner.commands[0].args.clone();
        args.extend(command.args.drain(1..));
        command.args = args;
    }
}

fn method_call(pos: Pos, method: &str, receiver: Expr) -> Expr {
    let command =
        CommandNode { pos, args: vec![Expr::Identifier(pos, SmolStr::new(format!("__am_{method}"))), receiver] };
    Expr::Pipe(pos, PipeNode { pos, decl: Vec::new(), commands: vec![command], is_assign: false })
}

/// Splits a field chain at its first method name: receiver fields, method, remaining fields.
fn split_at_method(fields: &[SmolStr]) -> Option<(usize, &str)> {
    fields.iter().enumerate().find(|(_, field)| METHODS.contains(&field.as_str())).map(|(i, f)| (i, f.as_str()))
}

fn rewrite_expr(expr: &mut Expr) {
    match expr {
        Expr::Pipe(_, pipe) => rewrite_pipe(pipe),
        Expr::Chain(pos, inner, fields) => {
            rewrite_expr(inner);
            if let Some((index, method)) = split_at_method(fields) {
                let pos = *pos;
                let method = method.to_owned();
                let receiver = if index == 0 {
                    (**inner).clone()
                } else {
                    Expr::Chain(pos, inner.clone(), fields[..index].to_vec())
                };
                let rest = fields[index + 1..].to_vec();
                *expr = chain(pos, method_call(pos, &method, receiver), rest);
            }
        }
        Expr::Field(pos, fields) => {
            if let Some((index, method)) = split_at_method(fields) {
                let pos = *pos;
                let method = method.to_owned();
                let receiver = if index == 0 { Expr::Dot(pos) } else { Expr::Field(pos, fields[..index].to_vec()) };
                let rest = fields[index + 1..].to_vec();
                *expr = chain(pos, method_call(pos, &method, receiver), rest);
            }
        }
        Expr::Variable(pos, name, fields) => {
            if let Some((index, method)) = split_at_method(fields) {
                let pos = *pos;
                let method = method.to_owned();
                let receiver = Expr::Variable(pos, name.clone(), fields[..index].to_vec());
                let rest = fields[index + 1..].to_vec();
                *expr = chain(pos, method_call(pos, &method, receiver), rest);
            }
        }
        _ => {}
    }
}

fn chain(pos: Pos, inner: Expr, rest: Vec<SmolStr>) -> Expr {
    if rest.is_empty() {
        return inner;
    }
    let mut expr = Expr::Chain(pos, Box::new(inner), rest);
    rewrite_expr(&mut expr);
    expr
}

/// What a notification template sees, before conversion to a template value.
#[derive(Debug, Clone)]
pub struct TemplateData {
    /// The receiver's name.
    pub receiver: String,
    /// `firing` when any alert fires, else `resolved`.
    pub status: String,
    /// The alerts of the notification.
    pub alerts: Vec<Alert>,
    /// The group's labels.
    pub group_labels: LabelSet,
    /// Labels all alerts share.
    pub common_labels: LabelSet,
    /// Annotations all alerts share.
    pub common_annotations: LabelSet,
    /// The router's external URL.
    pub external_url: String,
    /// The time the notification is built at.
    pub now: Timestamp,
}

impl TemplateData {
    /// Builds Alertmanager's template data for a notification.
    pub fn new(receiver: &str, group_labels: LabelSet, alerts: Vec<Alert>, external_url: &str) -> TemplateData {
        let now = Timestamp::now();
        let is_firing = alerts.iter().any(|alert| !alert.is_resolved_at(now));
        let common = |get: &dyn Fn(&Alert) -> &LabelSet| -> LabelSet {
            let Some(first) = alerts.first() else {
                return LabelSet::new();
            };
            get(first)
                .iter()
                .filter(|(name, value)| alerts.iter().all(|alert| get(alert).get(*name) == Some(*value)))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect()
        };
        TemplateData {
            receiver: regex::escape(receiver),
            status: if is_firing { "firing" } else { "resolved" }.to_owned(),
            common_labels: common(&|alert| &alert.labels),
            common_annotations: common(&|alert| &alert.annotations),
            alerts,
            group_labels,
            external_url: external_url.to_owned(),
            now,
        }
    }

    /// Returns the data as a template value.
    pub fn to_value(&self) -> Value {
        let alerts: Vec<Value> = self.alerts.iter().map(|alert| alert_value(alert, self.now)).collect();
        let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
        map.insert("Receiver".into(), string(&self.receiver));
        map.insert("Status".into(), string(&self.status));
        map.insert("Alerts".into(), Value::List(alerts.into()));
        map.insert("GroupLabels".into(), kv_value(&self.group_labels));
        map.insert("CommonLabels".into(), kv_value(&self.common_labels));
        map.insert("CommonAnnotations".into(), kv_value(&self.common_annotations));
        map.insert("ExternalURL".into(), string(&self.external_url));
        Value::Map(Arc::new(map))
    }
}

fn string(text: &str) -> Value {
    Value::String(text.into())
}

pub(crate) fn kv_value(labels: &LabelSet) -> Value {
    let map: BTreeMap<Arc<str>, Value> =
        labels.iter().map(|(name, value)| (Arc::from(name.as_str()), string(value))).collect();
    Value::Map(Arc::new(map))
}

fn alert_value(alert: &Alert, now: Timestamp) -> Value {
    let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    let status = if alert.is_resolved_at(now) { "resolved" } else { "firing" };
    map.insert("Status".into(), string(status));
    map.insert("Labels".into(), kv_value(&alert.labels));
    map.insert("Annotations".into(), kv_value(&alert.annotations));
    map.insert("StartsAt".into(), string(&go_time_string(alert.starts_at, &jiff::tz::TimeZone::UTC)));
    // Go prints the zero time for an alert that is still firing without a known end.
    let ends_at = if alert.is_resolved_at(now) {
        go_time_string(alert.ends_at, &jiff::tz::TimeZone::UTC)
    } else {
        "0001-01-01 00:00:00 +0000 UTC".to_owned()
    };
    map.insert("EndsAt".into(), string(&ends_at));
    map.insert("GeneratorURL".into(), string(&alert.generator_url));
    map.insert("Fingerprint".into(), string(&fingerprint_string(alert.fingerprint())));
    Value::Map(Arc::new(map))
}

#[cfg(test)]
mod tests;
