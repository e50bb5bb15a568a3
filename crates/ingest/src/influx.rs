//! InfluxDB line protocol writes: `POST /write` (InfluxDB 1.x API), `POST /api/v2/write`
//! (InfluxDB 2.x API), `/ping` and the `/query` probes that Telegraf and other agents send.
//!
//! Points become series the way VictoriaMetrics maps them, so that dashboards written against
//! VictoriaMetrics keep working (see `docs/api.md`):
//!
//! - each field is a series named `{measurement}_{field}` (the separator, dropping the
//!   measurement or, for single-field lines, the field key are options with VictoriaMetrics'
//!   defaults);
//! - tags become labels as they are; the `db` query parameter becomes a `db` label unless the
//!   line has a `db` tag;
//! - floats, integers and unsigned integers are the sample value, booleans are 1 or 0, and string
//!   values are parsed as numbers when they hold one and are 0 otherwise (VictoriaMetrics: "non
//!   numeric field values are converted to 0");
//! - a line without timestamp gets the time the request was received.
//!
//! A batch with malformed lines or rejected samples stores every valid line and is answered
//! `400` naming the first problem (line and column), as InfluxDB 1.x does for partial writes and
//! as our remote write does: clients do not retry a `400`, so storing what is valid loses the
//! least data. This module does not open listeners or know the concrete store.

mod handlers;
mod line;
mod mapping;
#[cfg(test)]
mod tests;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

pub use line::{FieldValue, LineParser, ParseError, Point, RawLine};
pub use mapping::Precision;

use crate::StorageHandle;

/// Knobs of the InfluxDB endpoints. The naming options mirror VictoriaMetrics' flags of the same
/// meaning and default to VictoriaMetrics' defaults.
#[derive(Debug, Clone)]
pub struct InfluxOptions {
    /// The largest request body accepted, after gzip decompression (VictoriaMetrics'
    /// `-influx.maxRequestSize` default: 64 MiB).
    pub max_body_bytes: usize,
    /// How long a client may take to send its body.
    pub read_timeout: Duration,
    /// The label that receives the `db` query parameter (`-influxDBLabel`).
    pub db_label: String,
    /// The separator between measurement and field in series names
    /// (`-influxMeasurementFieldSeparator`).
    pub measurement_field_separator: String,
    /// Names single-field lines `{measurement}` only (`-influxSkipSingleField`).
    pub skip_single_field: bool,
    /// Names series `{field}` only (`-influxSkipMeasurement`).
    pub skip_measurement: bool,
    /// Replaces characters outside `[a-zA-Z0-9_:]` in metric names and `[a-zA-Z0-9_]` in label
    /// names with `_` (`-usePromCompatibleNaming`); off by default since Prometheus 3 stores
    /// UTF-8 names.
    pub prometheus_compatible_naming: bool,
    /// The databases `SHOW DATABASES` lists (`-influx.databaseNames`).
    pub database_names: Vec<String>,
    /// The most labels (tags, `db` and the name) one series may have.
    pub max_labels_per_series: usize,
    /// The longest label name, in bytes.
    pub max_label_name_bytes: usize,
    /// The longest label value, in bytes.
    pub max_label_value_bytes: usize,
}

impl Default for InfluxOptions {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 << 20,
            read_timeout: Duration::from_secs(60),
            db_label: "db".to_owned(),
            measurement_field_separator: "_".to_owned(),
            skip_single_field: false,
            skip_measurement: false,
            prometheus_compatible_naming: false,
            database_names: Vec::new(),
            // Generous for Telegraf (a dozen tags) yet bounded against label explosions.
            max_labels_per_series: 64,
            max_label_name_bytes: 1024,
            // Tag values are identifiers, not documents: 16 KiB is far above any real one.
            max_label_value_bytes: 16 << 10,
        }
    }
}

/// Returns the routes `POST /write`, `POST /api/v2/write`, `GET|HEAD /ping` and
/// `GET|POST /query`, appending to the store `storage` returns.
pub fn router<S>(storage: StorageHandle, options: InfluxOptions) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let state = handlers::InfluxState::new(storage, options);
    Router::new()
        .route("/write", post(handlers::write_v1))
        .route("/api/v2/write", post(handlers::write_v2))
        .route("/ping", get(handlers::ping).head(handlers::ping))
        .route("/query", get(handlers::query).post(handlers::query))
        .with_state(state)
}
