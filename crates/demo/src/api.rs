//! The demo's control API under `/api/demo/` (documented in `docs/demo.md`): read the state,
//! change the reviews weight split, inject or clear faults, take a workload's endpoint down.
//! Bodies are small JSON objects; errors are `400`/`404` with `{"error": "..."}`. A change
//! applies from the next simulated second on.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::control::{Fault, ReviewsWeights};
use crate::error::Error;
use crate::{MeshRef, Target};

/// Control bodies are a few numbers; 64 KiB is far more than enough.
const MAX_BODY_BYTES: usize = 64 << 10;

#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) mesh: MeshRef,
    pub(crate) seed: u64,
    pub(crate) targets: Arc<Vec<Target>>,
}

pub(crate) fn router<S>(state: ApiState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/demo/state", get(state_handler))
        .route("/api/demo/routes/reviews", put(set_reviews).post(set_reviews))
        .route("/api/demo/faults/{workload}", put(set_fault).post(set_fault).delete(clear_fault))
        .route("/api/demo/workloads/{workload}", put(set_workload).post(set_workload))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

struct ApiError(StatusCode, String);

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match error {
            Error::UnknownWorkload(_) => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|error| ApiError(StatusCode::BAD_REQUEST, format!("invalid JSON body: {error}")))
}

fn state_json(state: &ApiState) -> Value {
    let mesh = state.mesh.lock();
    let targets: Vec<Value> = state
        .targets
        .iter()
        .map(|target| {
            let labels: serde_json::Map<String, Value> =
                target.labels.iter().map(|(name, value)| (name.clone(), json!(value))).collect();
            json!({"job": target.job, "address": target.address.to_string(), "metricsPath": target.metrics_path, "labels": labels})
        })
        .collect();
    json!({
        "seed": state.seed,
        "requestsPerSecond": mesh.simulation.requests_per_second(),
        "routes": {"reviews": mesh.control.reviews},
        "faults": mesh.control.faults,
        "down": mesh.control.down,
        "targets": targets,
    })
}

async fn state_handler(State(state): State<ApiState>) -> Json<Value> {
    Json(state_json(&state))
}

async fn set_reviews(State(state): State<ApiState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let weights = parse::<ReviewsWeights>(&body).and_then(|weights| Ok(weights.validate().map(|()| weights)?));
    let weights = match weights {
        Ok(weights) => weights,
        Err(error) => {
            // istiod's validating webhook refuses the VirtualService.
            state.mesh.lock().platform.validation_failed();
            return Err(error);
        }
    };
    {
        let mut mesh = state.mesh.lock();
        mesh.advance();
        mesh.control.reviews = weights;
        mesh.platform.virtual_service_updated();
    }
    tracing::info!(v1 = weights.v1, v2 = weights.v2, v3 = weights.v3, "demo reviews weights changed");
    Ok(Json(state_json(&state)))
}

async fn set_fault(
    State(state): State<ApiState>,
    Path(workload): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let fault: Fault = parse(&body)?;
    {
        let mut mesh = state.mesh.lock();
        mesh.advance();
        mesh.control.set_fault(&workload, fault)?;
        mesh.platform.virtual_service_updated();
    }
    tracing::info!(workload = %workload, abort_percent = fault.abort_percent, delay_ms = fault.delay_ms, "demo fault set");
    Ok(Json(state_json(&state)))
}

async fn clear_fault(State(state): State<ApiState>, Path(workload): Path<String>) -> Result<Json<Value>, ApiError> {
    {
        let mut mesh = state.mesh.lock();
        mesh.advance();
        mesh.control.set_fault(&workload, Fault { abort_percent: 0.0, abort_code: 503, delay_ms: 0 })?;
        mesh.platform.virtual_service_updated();
    }
    tracing::info!(workload = %workload, "demo fault cleared");
    Ok(Json(state_json(&state)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkloadBody {
    up: bool,
}

async fn set_workload(
    State(state): State<ApiState>,
    Path(workload): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let WorkloadBody { up } = parse(&body)?;
    {
        let mut mesh = state.mesh.lock();
        mesh.control.set_up(&workload, up)?;
        mesh.platform.endpoints_changed();
    }
    tracing::info!(workload = %workload, up, "demo workload endpoint switched");
    Ok(Json(state_json(&state)))
}
