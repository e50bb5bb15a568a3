//! `GET /federate`: the newest sample of every series matching `match[]`, in the Prometheus text
//! format, with the server's external labels added where a series lacks them — what a
//! federating Prometheus scrapes (with `honor_labels: true`).
//!
//! As Prometheus: only samples within the lookback delta count, a series whose newest sample is
//! a staleness marker is left out, every metric is typed `untyped` and samples carry their own
//! timestamps.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use panoptes_model::gofloat::format_g;
use panoptes_model::{Labels, METRIC_NAME, Sample, is_stale_nan};
use panoptes_storage::Storage;

use super::ApiError;
use super::prometheus::{Params, match_params_form};
use crate::state::AppState;

/// The federation route.
pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/federate", get(federate))
}

async fn federate(
    State(state): State<AppState>,
    Params(matchers): Params<FederateParams>,
) -> Result<Response, ApiError> {
    let storage = state.storage().ok_or_else(ApiError::storage_not_ready)?;
    let lookback = i64::try_from(state.engine().options().lookback_delta.as_millis()).unwrap_or(i64::MAX);
    let external = state.config().map(|config| config.external_labels()).unwrap_or_default();
    let now = panoptes_model::time::now_millis();
    let page = tokio::task::spawn_blocking(move || render(storage.as_ref(), &matchers.0, &external, now, lookback))
        .await
        .map_err(|error| {
            ApiError::new(panoptes_model::ErrorKind::Internal, format!("federation task failed: {error}"))
        })??;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], page).into_response())
}

/// The `match[]` selectors of a federation request.
#[derive(Debug)]
pub(crate) struct FederateParams(Vec<Vec<panoptes_model::Matcher>>);

impl super::prometheus::FromForm for FederateParams {
    fn from_form(form: &super::prometheus::Form) -> Result<Self, ApiError> {
        match_params_form(form).map(FederateParams)
    }
}

fn render(
    storage: &dyn Storage,
    selectors: &[Vec<panoptes_model::Matcher>],
    external: &Labels,
    now: i64,
    lookback: i64,
) -> Result<String, ApiError> {
    let querier =
        storage.querier(now.saturating_sub(lookback), now).map_err(|error| ApiError::from_classified(&error))?;
    // By metric name, then label set: the newest sample of each series.
    let mut families: BTreeMap<String, BTreeMap<Labels, Sample>> = BTreeMap::new();
    for matchers in selectors {
        for series in querier.select(matchers).map_err(|error| ApiError::from_classified(&error))? {
            let mut series = series.map_err(|error| ApiError::from_classified(&error))?;
            // Only the newest sample matters: walk the window without collecting it.
            let mut newest = None;
            while let Some(sample) = series.samples.next() {
                newest = Some(sample);
            }
            let Some(newest) = newest else { continue };
            if is_stale_nan(newest.v) {
                continue;
            }
            let mut builder = series.labels.builder();
            for label in external.iter() {
                if series.labels.get(&label.name).is_none() {
                    builder.set(label.name.clone(), label.value.clone());
                }
            }
            let labels = builder.build();
            let name = labels.metric_name().unwrap_or_default().to_owned();
            families.entry(name).or_default().insert(labels, newest);
        }
    }
    let mut page = String::new();
    for (name, series) in &families {
        page.push_str(&format!("# TYPE {name} untyped\n"));
        for (labels, sample) in series {
            page.push_str(name);
            let mut is_first = true;
            for label in labels.iter().filter(|label| &*label.name != METRIC_NAME) {
                page.push(if is_first { '{' } else { ',' });
                is_first = false;
                page.push_str(&label.name);
                page.push_str("=\"");
                push_escaped(&mut page, &label.value);
                page.push('"');
            }
            if !is_first {
                page.push('}');
            }
            page.push_str(&format!(" {} {}\n", format_g(sample.v), sample.t));
        }
    }
    Ok(page)
}

/// Escapes a label value for the text format: backslash, double quote and newline.
fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use panoptes_model::{MatchOp, Matcher, stale_nan};
    use panoptes_storage::MemStorage;

    use super::*;

    #[test]
    fn newest_samples_with_external_labels_and_no_stale_series() {
        let storage = MemStorage::new();
        let mut appender = storage.appender();
        let up = Labels::from_pairs([("__name__", "up"), ("job", "a\"b")]);
        let gone = Labels::from_pairs([("__name__", "up"), ("job", "gone")]);
        let mine = Labels::from_pairs([("__name__", "big"), ("region", "mine")]);
        appender.append(&up, 1_000, 1.0).unwrap();
        appender.append(&up, 2_000, 0.0).unwrap();
        appender.append(&gone, 1_000, 1.0).unwrap();
        appender.append(&gone, 2_000, stale_nan()).unwrap();
        appender.append(&mine, 2_000, 2.5e10).unwrap();
        appender.commit().unwrap();
        let external = Labels::from_pairs([("region", "eu")]);
        let selectors = vec![
            vec![Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()],
            vec![Matcher::new(MatchOp::Equal, "__name__", "big").unwrap()],
        ];
        let page = render(&storage, &selectors, &external, 3_000, 300_000).unwrap();
        assert_eq!(
            page,
            "# TYPE big untyped\nbig{region=\"mine\"} 2.5e+10 2000\n# TYPE up untyped\nup{job=\"a\\\"b\",region=\"eu\"} 0 2000\n"
        );
        // Outside the lookback window nothing is federated.
        assert_eq!(render(&storage, &selectors, &external, 400_000, 300_000).unwrap(), "");
    }
}
