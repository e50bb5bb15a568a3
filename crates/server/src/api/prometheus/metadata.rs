//! `/api/v1/metadata` and `/api/v1/targets/metadata`: the `# TYPE`, `# HELP` and `# UNIT` of
//! scraped metric families, as the scrape loops saw them in their last successful scrape.

use std::collections::BTreeMap;

use axum::extract::State;
use panoptes_model::{Labels, Matcher};
use panoptes_scrape::append::MetricMetadata;
use serde_json::{Map, Value as Json, json};

use super::params::{Form, FromForm, invalid_param};
use super::{Params, PromResponse, PromResult};
use crate::api::ApiError;
use crate::state::AppState;

/// Parses an optional integer limit; absent means no limit, as Prometheus' `-1` default.
fn optional_limit(form: &Form, name: &str) -> Result<Option<usize>, ApiError> {
    match form.get(name) {
        None => Ok(None),
        Some(text) => {
            let limit: i64 = text.parse().map_err(|_| invalid_param(name, format!("{text:?} is not a number")))?;
            Ok(usize::try_from(limit).ok())
        }
    }
}

/// Parameters of `/api/v1/metadata`.
#[derive(Debug)]
pub(crate) struct MetadataParams {
    limit: Option<usize>,
    limit_per_metric: Option<usize>,
    metric: Option<String>,
}

impl FromForm for MetadataParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        Ok(Self {
            limit: optional_limit(form, "limit")?,
            limit_per_metric: optional_limit(form, "limit_per_metric")?,
            metric: form.get("metric").map(str::to_owned),
        })
    }
}

fn metadata_json(metadata: &MetricMetadata) -> Json {
    json!({"type": metadata.metric_type.as_str(), "help": metadata.help, "unit": metadata.unit})
}

/// `GET /api/v1/metadata`: per metric name, the distinct metadata every target reported.
pub(crate) async fn metadata(State(state): State<AppState>, Params(params): Params<MetadataParams>) -> PromResult {
    let snapshot = state.scrape().map(|manager| manager.targets()).unwrap_or_default();
    let mut by_metric: BTreeMap<String, Vec<Json>> = BTreeMap::new();
    for target in &snapshot.active {
        for (name, metadata) in target.health.metadata.iter() {
            if params.metric.as_deref().is_some_and(|wanted| wanted != name) {
                continue;
            }
            let entry = metadata_json(metadata);
            let list = by_metric.entry(name.clone()).or_default();
            if !list.contains(&entry) && params.limit_per_metric.is_none_or(|limit| list.len() < limit) {
                list.push(entry);
            }
        }
    }
    let limit = params.limit.unwrap_or(usize::MAX);
    let data: Map<String, Json> =
        by_metric.into_iter().take(limit).map(|(name, list)| (name, Json::Array(list))).collect();
    Ok(PromResponse::json(&Json::Object(data)))
}

/// Parameters of `/api/v1/targets/metadata`.
#[derive(Debug)]
pub(crate) struct TargetMetadataParams {
    match_target: Vec<Matcher>,
    metric: Option<String>,
    limit: Option<usize>,
}

impl FromForm for TargetMetadataParams {
    fn from_form(form: &Form) -> Result<Self, ApiError> {
        let match_target = match form.get("match_target") {
            None => Vec::new(),
            Some(text) => {
                let mut sets = panoptes_promql::parser::parse_selector(text)
                    .map_err(|error| invalid_param("match_target", error))?;
                if sets.len() != 1 {
                    return Err(invalid_param("match_target", "expected one label selector"));
                }
                sets.remove(0)
            }
        };
        Ok(Self { match_target, metric: form.get("metric").map(str::to_owned), limit: optional_limit(form, "limit")? })
    }
}

fn labels_json(labels: &Labels) -> Json {
    Json::Object(labels.iter().map(|label| (label.name.to_string(), Json::String(label.value.to_string()))).collect())
}

/// `GET /api/v1/targets/metadata`: the metadata of each target matching `match_target`.
pub(crate) async fn targets_metadata(
    State(state): State<AppState>,
    Params(params): Params<TargetMetadataParams>,
) -> PromResult {
    let snapshot = state.scrape().map(|manager| manager.targets()).unwrap_or_default();
    let limit = params.limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    'targets: for target in &snapshot.active {
        let labels = target.target.labels();
        if !params.match_target.iter().all(|matcher| matcher.matches(labels.get(&matcher.name).unwrap_or_default())) {
            continue;
        }
        for (name, metadata) in target.health.metadata.iter() {
            if out.len() >= limit {
                break 'targets;
            }
            let mut entry = json!({"target": labels_json(&labels)});
            match &params.metric {
                Some(wanted) if wanted != name => continue,
                Some(_) => {}
                None => entry["metric"] = Json::String(name.clone()),
            }
            if let (Some(object), Json::Object(fields)) = (entry.as_object_mut(), metadata_json(metadata)) {
                object.extend(fields);
            }
            out.push(entry);
        }
    }
    Ok(PromResponse::json(&Json::Array(out)))
}
