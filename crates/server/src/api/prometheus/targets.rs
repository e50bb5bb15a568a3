//! `/api/v1/targets` and `/api/v1/scrape_pools`: the scrape manager's targets with their health,
//! in Prometheus' JSON shape (`web/api/v1/api.go`, `targets`).

use axum::extract::State;
use panoptes_model::Labels;
use panoptes_model::time::format_duration;
use panoptes_scrape::{ActiveTarget, Health, TargetsSnapshot};
use serde_json::{Map, Value as Json, json};

use super::params::{Form, FromForm, format_rfc3339, invalid_param};
use super::{Params, PromResponse, PromResult};
use crate::api::ApiError;
use crate::state::AppState;

/// Go's zero `time.Time`, which Prometheus shows for a target never scraped.
const NEVER: &str = "0001-01-01T00:00:00Z";

/// Which targets `/api/v1/targets` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetState {
    Active,
    Dropped,
    Any,
}

/// Parameters of `/api/v1/targets`.
#[derive(Debug)]
pub(crate) struct TargetsParams {
    state: TargetState,
    scrape_pool: Option<String>,
}

impl FromForm for TargetsParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        let state = match form.get("state").map(str::to_ascii_lowercase).as_deref() {
            None | Some("any") => TargetState::Any,
            Some("active") => TargetState::Active,
            Some("dropped") => TargetState::Dropped,
            Some(other) => return Err(invalid_param("state", format!("unknown target state {other:?}"))),
        };
        Ok(Self { state, scrape_pool: form.get("scrapePool").map(str::to_owned) })
    }
}

/// `GET /api/v1/targets`.
pub(crate) async fn targets(State(state): State<AppState>, Params(params): Params<TargetsParams>) -> PromResult {
    let snapshot = state.scrape().map(|manager| manager.targets()).unwrap_or_default();
    Ok(PromResponse::json(&render_targets(&snapshot, &params, &host_name())))
}

/// `GET /api/v1/scrape_pools`.
pub(crate) async fn scrape_pools(State(state): State<AppState>) -> PromResult {
    let pools = state.scrape().map(|manager| manager.scrape_pools()).unwrap_or_default();
    Ok(PromResponse::json(&json!({ "scrapePools": pools })))
}

fn render_targets(snapshot: &TargetsSnapshot, params: &TargetsParams, host: &str) -> Json {
    let in_pool = |pool: &str| params.scrape_pool.as_deref().is_none_or(|wanted| wanted == pool);
    let active: Vec<Json> = if params.state == TargetState::Dropped {
        Vec::new()
    } else {
        snapshot
            .active
            .iter()
            .filter(|target| in_pool(&target.scrape_pool))
            .map(|target| active_json(target, host))
            .collect()
    };
    let dropped: Vec<Json> = if params.state == TargetState::Active {
        Vec::new()
    } else {
        snapshot
            .dropped
            .iter()
            .filter(|target| in_pool(&target.scrape_pool))
            .map(|target| json!({"discoveredLabels": labels_json(&target.discovered_labels), "scrapePool": target.scrape_pool}))
            .collect()
    };
    let counts: Map<String, Json> = snapshot
        .dropped_counts
        .iter()
        .filter(|(pool, _)| in_pool(pool))
        .map(|(pool, count)| (pool.clone(), Json::from(*count)))
        .collect();
    json!({"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": counts})
}

fn active_json(active: &ActiveTarget, host: &str) -> Json {
    let target = &active.target;
    let url = target.url();
    json!({
        "discoveredLabels": labels_json(target.discovered_labels()),
        "labels": labels_json(&target.labels()),
        "scrapePool": active.scrape_pool,
        "scrapeUrl": url,
        "globalUrl": global_url(&url, host),
        "lastError": active.health.last_error,
        "lastScrape": active.health.last_scrape_ms.map_or_else(|| NEVER.to_owned(), format_rfc3339),
        "lastScrapeDuration": active.health.last_scrape_duration.as_secs_f64(),
        "health": match active.health.health {
            Health::Up => "up",
            Health::Down => "down",
            Health::Unknown => "unknown",
        },
        "scrapeInterval": format_duration(target.interval()),
        "scrapeTimeout": format_duration(target.timeout()),
    })
}

fn labels_json(labels: &Labels) -> Json {
    Json::Object(labels.iter().map(|label| (label.name.to_string(), Json::String(label.value.to_string()))).collect())
}

/// Returns the URL with a loopback host replaced by this machine's name, as Prometheus' global
/// URL does, so that links work from other machines.
fn global_url(url: &str, host: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (name, port) = match authority.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || authority.starts_with('[') => (name, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() || !matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
        return url.to_owned();
    }
    match port {
        Some(port) => format!("{scheme}://{host}:{port}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|name| name.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_become_the_machine_name() {
        assert_eq!(global_url("http://localhost:9100/metrics", "node1"), "http://node1:9100/metrics");
        assert_eq!(global_url("http://127.0.0.1:9100/metrics?a=b", "node1"), "http://node1:9100/metrics?a=b");
        assert_eq!(global_url("https://[::1]:9100/m", "node1"), "https://node1:9100/m");
        assert_eq!(global_url("http://db:9100/metrics", "node1"), "http://db:9100/metrics");
        assert_eq!(global_url("http://localhost:9100/metrics", ""), "http://localhost:9100/metrics");
    }
}
