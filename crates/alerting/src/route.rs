//! The routing tree built from [`RouteConfig`]: inherited options, matching with `continue`, and
//! Alertmanager's route keys (the prefix of every group key).

use std::sync::Arc;
use std::time::Duration;

use crate::config::{DEFAULT_GROUP_INTERVAL, DEFAULT_GROUP_WAIT, DEFAULT_REPEAT_INTERVAL, RouteConfig};
use crate::matchers::Matchers;
use crate::types::LabelSet;

/// The options of a route after inheritance.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteOptions {
    /// The receiver.
    pub receiver: String,
    /// Labels that group alerts.
    pub group_by: Vec<String>,
    /// Groups by every label (`...`).
    pub group_by_all: bool,
    /// Wait before the first notification of a group.
    pub group_wait: Duration,
    /// Wait between notifications about changes of a group.
    pub group_interval: Duration,
    /// Wait before repeating an unchanged notification.
    pub repeat_interval: Duration,
    /// Time intervals that mute notifications.
    pub mute_time_intervals: Vec<String>,
    /// Time intervals outside which notifications are muted.
    pub active_time_intervals: Vec<String>,
}

/// A node of the routing tree.
#[derive(Debug)]
pub struct Route {
    /// A unique id: the key plus the node's index among its siblings.
    pub id: String,
    /// Alertmanager's route key (`{}/{team="node"}`), the prefix of group keys.
    pub key: String,
    /// The node's own matchers.
    pub matchers: Matchers,
    /// Whether matching goes on after this node matched.
    pub continue_matching: bool,
    /// The inherited options.
    pub options: RouteOptions,
    /// Children.
    pub routes: Vec<Arc<Route>>,
}

impl Route {
    /// Builds the tree from a validated configuration's root route.
    ///
    /// # Errors
    ///
    /// Returns a message for an invalid regular expression in `match_re`.
    pub fn build(config: &RouteConfig) -> Result<Arc<Route>, String> {
        let defaults = RouteOptions {
            receiver: String::new(),
            group_by: Vec::new(),
            group_by_all: false,
            group_wait: DEFAULT_GROUP_WAIT,
            group_interval: DEFAULT_GROUP_INTERVAL,
            repeat_interval: DEFAULT_REPEAT_INTERVAL,
            mute_time_intervals: Vec::new(),
            active_time_intervals: Vec::new(),
        };
        build_node(config, &defaults, None, 0)
    }

    /// Returns the routes that `labels` ends at: the deepest matching nodes, following siblings
    /// after a match only where `continue` is set. Empty when the node itself does not match.
    pub fn match_labels(self: &Arc<Self>, labels: &LabelSet) -> Vec<Arc<Route>> {
        if !self.matchers.matches(labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let matches = child.match_labels(labels);
            let has_matched = !matches.is_empty();
            all.extend(matches);
            if has_matched && !child.continue_matching {
                break;
            }
        }
        if all.is_empty() {
            all.push(Arc::clone(self));
        }
        all
    }

    /// Calls `visit` on every node, depth first, with its depth.
    pub fn walk(self: &Arc<Self>, visit: &mut dyn FnMut(&Arc<Route>, usize)) {
        fn inner(route: &Arc<Route>, depth: usize, visit: &mut dyn FnMut(&Arc<Route>, usize)) {
            visit(route, depth);
            for child in &route.routes {
                inner(child, depth + 1, visit);
            }
        }
        inner(self, 0, visit);
    }

    /// Returns the group labels of `labels` on this route.
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        if self.options.group_by_all {
            return labels.clone();
        }
        self.options
            .group_by
            .iter()
            .filter_map(|name| labels.get(name).map(|value| (name.clone(), value.clone())))
            .collect()
    }
}

fn build_node(
    config: &RouteConfig,
    parent: &RouteOptions,
    parent_key: Option<&str>,
    index: usize,
) -> Result<Arc<Route>, String> {
    let matchers = config.all_matchers()?;
    let mut options = parent.clone();
    if let Some(receiver) = &config.receiver {
        options.receiver = receiver.clone();
    }
    if let Some(group_by) = &config.group_by {
        options.group_by_all = group_by.iter().any(|name| name == "...");
        options.group_by = group_by.iter().filter(|name| *name != "...").cloned().collect();
    }
    if let Some(wait) = config.group_wait {
        options.group_wait = wait.0;
    }
    if let Some(interval) = config.group_interval {
        options.group_interval = interval.0;
    }
    if let Some(interval) = config.repeat_interval {
        options.repeat_interval = interval.0;
    }
    // Time intervals apply to the node that names them only.
    options.mute_time_intervals = config.mute_time_intervals.clone();
    options.active_time_intervals = config.active_time_intervals.clone();
    let key = match parent_key {
        Some(parent_key) => format!("{parent_key}/{matchers}"),
        None => matchers.to_string(),
    };
    let id = if parent_key.is_some() { format!("{key}/{index}") } else { key.clone() };
    let mut routes = Vec::new();
    for (child_index, child) in config.routes.iter().enumerate() {
        routes.push(build_node(child, &options, Some(&key), child_index)?);
    }
    Ok(Arc::new(Route { id, key, matchers, continue_matching: config.continue_matching, options, routes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(yaml: &str) -> Arc<Route> {
        let config = crate::config::parse_str(yaml, "test.yml").unwrap();
        Route::build(&config.route).unwrap()
    }

    #[track_caller]
    fn check(root: &Arc<Route>, labels: &[(&str, &str)], expected: &[&str]) {
        let labels: LabelSet = labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        let receivers: Vec<String> = root.match_labels(&labels).iter().map(|r| r.options.receiver.clone()).collect();
        assert_eq!(receivers, expected, "{labels:?}");
    }

    #[test]
    fn routes_follow_continue_and_inherit_options() {
        let root = tree(
            r#"
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  routes:
  - matchers: ['team="db"']
    receiver: db
    continue: true
  - match_re: {team: "db|web"}
    receiver: oncall
    routes:
    - matchers: [severity="critical"]
      receiver: pager
      group_by: ['...']
  - matchers: ['team=~"web"']
    receiver: web
receivers: [{name: default}, {name: db}, {name: oncall}, {name: pager}, {name: web}]
"#,
        );
        check(&root, &[("team", "db")], &["db", "oncall"]);
        check(&root, &[("team", "web")], &["oncall"]);
        check(&root, &[("team", "db"), ("severity", "critical")], &["db", "pager"]);
        check(&root, &[("team", "x")], &["default"]);
        let pager = &root.routes[1].routes[0];
        assert!(pager.options.group_by_all);
        assert_eq!(pager.options.group_wait, Duration::from_secs(1));
        assert_eq!(pager.key, r#"{}/{team=~"db|web"}/{severity="critical"}"#);
        assert_eq!(root.routes[1].options.group_by, ["alertname"]);
    }
}
