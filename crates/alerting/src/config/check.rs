//! `panoptes check alertmanager FILE` (amtool `check-config`) and the routing test (amtool
//! `config routes test`): which receivers an alert with given labels reaches. Both print what
//! amtool prints, so operators can compare.

use std::path::Path;

use super::{Config, load_file};
use crate::matchers::parse_matchers;
use crate::route::Route;
use crate::template::Templates;
use crate::types::LabelSet;

/// The outcome of checking one configuration file.
#[derive(Debug)]
pub struct CheckReport {
    /// The file checked.
    pub path: String,
    /// The loaded configuration, when it is valid.
    pub config: Option<Config>,
    /// Why the file is not valid.
    pub error: Option<String>,
    /// Why the templates it names do not parse (the configuration itself is then valid).
    pub template_error: Option<String>,
}

impl CheckReport {
    /// Returns whether the file is valid.
    pub fn is_success(&self) -> bool {
        self.error.is_none() && self.template_error.is_none()
    }

    /// Prints the report as amtool `check-config` does.
    pub fn render(&self) -> String {
        let mut out = format!("Checking '{}'", self.path);
        match (&self.config, &self.error) {
            (_, Some(error)) => out.push_str(&format!("  FAILED: {error}\n")),
            (Some(config), None) => {
                out.push_str("  SUCCESS\nFound:\n");
                out.push_str(" - global config\n - route\n");
                out.push_str(&format!(" - {} inhibit rules\n", config.inhibit_rules.len()));
                out.push_str(&format!(" - {} receivers\n", config.receivers.len()));
                out.push_str(&format!(" - {} templates\n", config.templates.len()));
                match &self.template_error {
                    Some(error) => out.push_str(&format!("  FAILED: {error}\n")),
                    None if !config.templates.is_empty() => out.push_str("  SUCCESS\n"),
                    None => {}
                }
            }
            (None, None) => {}
        }
        out.push('\n');
        out
    }
}

/// Loads and validates a configuration file and the templates it names, as amtool
/// `check-config` does. Never fails: problems are in the report.
pub fn check_config(path: impl AsRef<Path>) -> CheckReport {
    let path = path.as_ref();
    let display = path.display().to_string();
    let config = match load_file(path) {
        Ok(config) => config,
        Err(error) => {
            let message = match &error {
                super::ConfigError::Read { source, .. } => format!("{error}: {source}"),
                super::ConfigError::Invalid { .. } => error.to_string(),
            };
            return CheckReport { path: display, config: None, error: Some(message), template_error: None };
        }
    };
    if let Err(error) = Route::build(&config.route) {
        return CheckReport { path: display, config: None, error: Some(error), template_error: None };
    }
    let template_error = Templates::from_globs(&config.templates).err();
    CheckReport { path: display, config: Some(config), error: None, template_error }
}

/// Returns the receivers an alert with `labels` is routed to, in routing order, without
/// duplicates (amtool `config routes test`). `labels` are matchers in Alertmanager syntax,
/// e.g. `["team=node", "severity=critical"]`, of which only the equality ones make labels.
///
/// # Errors
///
/// Returns a message when a label does not parse or the route tree cannot be built.
pub fn routes_test(config: &Config, labels: &[String]) -> Result<Vec<String>, String> {
    let mut set = LabelSet::new();
    for text in labels {
        for matcher in parse_matchers(text)? {
            set.insert(matcher.name, matcher.value);
        }
    }
    let root = Route::build(&config.route)?;
    let mut receivers: Vec<String> = Vec::new();
    for route in root.match_labels(&set) {
        if !receivers.contains(&route.options.receiver) {
            receivers.push(route.options.receiver.clone());
        }
    }
    Ok(receivers)
}

/// Prints the result of [`routes_test`] as amtool does: receivers joined by commas, and with
/// `expected` a verdict line.
pub fn format_routes_test(receivers: &[String], expected: Option<&str>) -> (String, bool) {
    let joined = receivers.join(",");
    match expected {
        Some(expected) if expected != joined => {
            (format!("WARNING: Expected receivers did not match resolved receivers.\n{joined}\n"), false)
        }
        _ => (format!("{joined}\n"), true),
    }
}

/// Prints the routing tree as amtool `config routes show` does.
pub fn format_routing_tree(config: &Config) -> Result<String, String> {
    let root = Route::build(&config.route)?;
    let mut out = String::from("Routing tree:\n.\n");
    fn node(route: &Route, prefix: &str, is_last: bool, is_root: bool, out: &mut String) {
        let branch = if is_last { "└── " } else { "├── " };
        let name = if is_root { "default-route".to_owned() } else { route.matchers.to_string() };
        let mut line = format!("{prefix}{branch}{name}");
        if route.continue_matching {
            line.push_str("  continue: true");
        }
        line.push_str(&format!("  receiver: {}", route.options.receiver));
        out.push_str(&line);
        out.push('\n');
        let child_prefix = format!("{prefix}{}", if is_last { "    " } else { "│   " });
        for (index, child) in route.routes.iter().enumerate() {
            node(child, &child_prefix, index + 1 == route.routes.len(), false, out);
        }
    }
    node(&root, "", true, true, &mut out);
    Ok(out)
}
