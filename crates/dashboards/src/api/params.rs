//! Request parsing: the capped body reader, the save and import bodies checked field by field
//! (errors name the JSON path), and the search query string (repeated `tag`, `dashboardUIDs`).

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use serde_json::{Map, Value};

use super::{ApiError, ApiState};
use crate::import::ImportInput;
use crate::store::SearchQuery;

/// Grafana's default and largest search page.
const DEFAULT_SEARCH_LIMIT: usize = 1000;
const MAX_SEARCH_LIMIT: usize = 5000;

/// Reads the body as JSON, refusing it beyond the size limit or the read timeout.
pub(crate) async fn read_json(state: &ApiState, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    let limit = state.options.max_body_bytes;
    let too_large = || {
        ApiError::with_status(StatusCode::PAYLOAD_TOO_LARGE, format!("request body exceeds the limit of {limit} bytes"))
    };
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let timeout = state.options.read_timeout;
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, limit).collect()).await else {
        return Err(ApiError::with_status(
            StatusCode::REQUEST_TIMEOUT,
            format!("request body not received within {timeout:?}"),
        ));
    };
    let bytes = match collected {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return Err(too_large()),
        Err(error) => return Err(ApiError::bad_request(format!("cannot read request body: {error}"))),
    };
    serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::bad_request(format!("bad request data: invalid JSON: {error}")))
}

/// The body of `POST /api/dashboards/db`.
pub(crate) struct SaveBody {
    pub(crate) dashboard: Value,
    pub(crate) folder_uid: Option<String>,
    pub(crate) message: String,
    pub(crate) overwrite: bool,
}

/// The body of `POST /api/dashboards/import`.
pub(crate) struct ImportBody {
    pub(crate) dashboard: Value,
    pub(crate) folder_uid: Option<String>,
    pub(crate) overwrite: bool,
    pub(crate) inputs: Vec<ImportInput>,
}

fn bad(path: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("bad request data: {path}: {message}"))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expect_object(value: Value, path: &str) -> Result<Map<String, Value>, ApiError> {
    match value {
        Value::Object(object) => Ok(object),
        other => Err(bad(path, format!("expected an object, got {}", kind(&other)))),
    }
}

fn optional_string(object: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(bad(&format!("{path}{key}"), format!("expected a string, got {}", kind(other)))),
    }
}

fn optional_bool(object: &Map<String, Value>, key: &str, path: &str) -> Result<bool, ApiError> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(other) => Err(bad(&format!("{path}{key}"), format!("expected a boolean, got {}", kind(other)))),
    }
}

impl SaveBody {
    pub(crate) fn parse(body: Value) -> Result<Self, ApiError> {
        let mut object = expect_object(body, "body")?;
        let dashboard = object.remove("dashboard").ok_or_else(|| bad("dashboard", "missing"))?;
        check_dashboard(&dashboard)?;
        Ok(Self {
            dashboard,
            folder_uid: optional_string(&object, "folderUid", "")?,
            message: optional_string(&object, "message", "")?.unwrap_or_default(),
            overwrite: optional_bool(&object, "overwrite", "")?,
        })
    }
}

impl ImportBody {
    pub(crate) fn parse(body: Value) -> Result<Self, ApiError> {
        let mut object = expect_object(body, "body")?;
        let dashboard = object.remove("dashboard").ok_or_else(|| bad("dashboard", "missing"))?;
        check_dashboard(&dashboard)?;
        let inputs = match object.remove("inputs") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(index, item)| {
                    serde_json::from_value(item).map_err(|error| bad(&format!("inputs[{index}]"), error))
                })
                .collect::<Result<_, _>>()?,
            Some(other) => return Err(bad("inputs", format!("expected an array, got {}", kind(&other)))),
        };
        Ok(Self {
            dashboard,
            folder_uid: optional_string(&object, "folderUid", "")?,
            overwrite: optional_bool(&object, "overwrite", "")?,
            inputs,
        })
    }
}

/// Returns the `version` of a restore body.
/// The body of `POST /api/folders` (`uid`, `title`) and of `PUT /api/folders/:uid` (`title`,
/// `version`, `overwrite`).
pub(crate) struct FolderBody {
    pub(crate) uid: String,
    pub(crate) title: String,
    pub(crate) version: i64,
    pub(crate) overwrite: bool,
}

impl FolderBody {
    pub(crate) fn parse(body: Value) -> Result<Self, ApiError> {
        let object = expect_object(body, "body")?;
        let version = match object.get("version") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(number)) if number.as_i64().is_some() => number.as_i64().unwrap_or_default(),
            Some(other) => return Err(bad("version", format!("expected an integer, got {}", kind(other)))),
        };
        Ok(Self {
            uid: optional_string(&object, "uid", "")?.unwrap_or_default(),
            title: optional_string(&object, "title", "")?.unwrap_or_default(),
            version,
            overwrite: optional_bool(&object, "overwrite", "")?,
        })
    }
}

pub(crate) fn restore_version(body: Value) -> Result<i64, ApiError> {
    let object = expect_object(body, "body")?;
    match object.get("version") {
        Some(Value::Number(number)) if number.as_i64().is_some_and(|version| version > 0) => {
            Ok(number.as_i64().unwrap_or_default())
        }
        Some(other) => Err(bad("version", format!("expected a positive integer, got {other}"))),
        None => Err(bad("version", "missing")),
    }
}

/// Checks the parts of the dashboard model the store and the UI rely on, naming the JSON path
/// of the first problem.
pub(crate) fn check_dashboard(dashboard: &Value) -> Result<(), ApiError> {
    let Value::Object(object) = dashboard else {
        return Err(bad("dashboard", format!("expected an object, got {}", kind(dashboard))));
    };
    for key in ["title", "uid"] {
        optional_string(object, key, "dashboard.")?;
    }
    for key in ["id", "version"] {
        match object.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::Number(number)) if number.is_i64() => {}
            Some(other) => {
                return Err(bad(&format!("dashboard.{key}"), format!("expected an integer, got {}", kind(other))));
            }
        }
    }
    if let Some(tags) = object.get("tags").filter(|tags| !tags.is_null()) {
        let Value::Array(tags) = tags else {
            return Err(bad("dashboard.tags", format!("expected an array, got {}", kind(tags))));
        };
        if let Some((index, tag)) = tags.iter().enumerate().find(|(_, tag)| !tag.is_string()) {
            return Err(bad(&format!("dashboard.tags[{index}]"), format!("expected a string, got {}", kind(tag))));
        }
    }
    if let Some(panels) = object.get("panels").filter(|panels| !panels.is_null()) {
        check_panels(panels, "dashboard.panels")?;
    }
    if let Some(templating) = object.get("templating").filter(|templating| !templating.is_null()) {
        let Value::Object(templating) = templating else {
            return Err(bad("dashboard.templating", format!("expected an object, got {}", kind(templating))));
        };
        if let Some(list) = templating.get("list").filter(|list| !list.is_null()) {
            let Value::Array(list) = list else {
                return Err(bad("dashboard.templating.list", format!("expected an array, got {}", kind(list))));
            };
            for (index, variable) in list.iter().enumerate() {
                let path = format!("dashboard.templating.list[{index}]");
                let Value::Object(variable) = variable else {
                    return Err(bad(&path, format!("expected an object, got {}", kind(variable))));
                };
                optional_string(variable, "name", &format!("{path}."))?;
                optional_string(variable, "type", &format!("{path}."))?;
            }
        }
    }
    Ok(())
}

fn check_panels(panels: &Value, path: &str) -> Result<(), ApiError> {
    let Value::Array(panels) = panels else {
        return Err(bad(path, format!("expected an array, got {}", kind(panels))));
    };
    for (index, panel) in panels.iter().enumerate() {
        let path = format!("{path}[{index}]");
        let Value::Object(panel) = panel else {
            return Err(bad(&path, format!("expected an object, got {}", kind(panel))));
        };
        optional_string(panel, "type", &format!("{path}."))?;
        optional_string(panel, "title", &format!("{path}."))?;
        if let Some(grid) = panel.get("gridPos").filter(|grid| !grid.is_null()) {
            let Value::Object(grid) = grid else {
                return Err(bad(&format!("{path}.gridPos"), format!("expected an object, got {}", kind(grid))));
            };
            for key in ["x", "y", "w", "h"] {
                match grid.get(key) {
                    None | Some(Value::Null) | Some(Value::Number(_)) => {}
                    Some(other) => {
                        return Err(bad(
                            &format!("{path}.gridPos.{key}"),
                            format!("expected a number, got {}", kind(other)),
                        ));
                    }
                }
            }
        }
        if let Some(targets) = panel.get("targets").filter(|targets| !targets.is_null()) {
            let Value::Array(targets) = targets else {
                return Err(bad(&format!("{path}.targets"), format!("expected an array, got {}", kind(targets))));
            };
            for (target_index, target) in targets.iter().enumerate() {
                let target_path = format!("{path}.targets[{target_index}]");
                let Value::Object(target) = target else {
                    return Err(bad(&target_path, format!("expected an object, got {}", kind(target))));
                };
                optional_string(target, "expr", &format!("{target_path}."))?;
            }
        }
        if let Some(children) = panel.get("panels").filter(|children| !children.is_null()) {
            check_panels(children, &format!("{path}.panels"))?;
        }
    }
    Ok(())
}

/// The query string of `GET /api/search`.
pub(crate) struct SearchParams {
    pub(crate) query: SearchQuery,
    /// `starred=true` lists nothing: there are no users to star dashboards.
    pub(crate) lists_nothing: bool,
    /// Folders are listed (before the dashboards): no `type` or `type=dash-folder`, and no
    /// filter only dashboards have (tags, dashboard uids or ids, folders).
    pub(crate) folders: bool,
    /// Dashboards are listed: no `type` or `type=dash-db`.
    pub(crate) dashboards: bool,
}

impl SearchParams {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut query = SearchQuery { limit: DEFAULT_SEARCH_LIMIT, page: 1, ..SearchQuery::default() };
        let mut lists_nothing = false;
        let (mut folders, mut dashboards) = (true, true);
        for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let list = || value.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned);
            match key.as_ref() {
                "query" => query.query = Some(value.into_owned()),
                "tag" => query.tags.push(value.into_owned()),
                "dashboardUIDs" => query.uids.extend(list()),
                "folderUIDs" => query.folder_uids.extend(list()),
                "dashboardIds" => {
                    for id in list() {
                        let id = id.parse().map_err(|_| bad_param("dashboardIds", &id, "an integer"))?;
                        query.ids.push(id);
                    }
                }
                "starred" => match value.as_ref() {
                    "true" => lists_nothing = true,
                    "false" | "" => {}
                    other => return Err(bad_param("starred", other, "true or false")),
                },
                "type" => match value.as_ref() {
                    "" => {}
                    "dash-db" => folders = false,
                    "dash-folder" => dashboards = false,
                    other => return Err(bad_param("type", other, "dash-db or dash-folder")),
                },
                "limit" => {
                    let limit: usize = value.parse().map_err(|_| bad_param("limit", &value, "a positive integer"))?;
                    query.limit = limit.clamp(1, MAX_SEARCH_LIMIT);
                }
                "page" => {
                    query.page = value.parse().map_err(|_| bad_param("page", &value, "a positive integer"))?;
                }
                _ => {}
            }
        }
        let dashboard_filters =
            !query.tags.is_empty() || !query.uids.is_empty() || !query.ids.is_empty() || !query.folder_uids.is_empty();
        Ok(Self { query, lists_nothing, folders: folders && !dashboard_filters, dashboards })
    }
}

fn bad_param(name: &str, value: &str, expected: &str) -> ApiError {
    ApiError::bad_request(format!("bad request data: query parameter {name}={value:?}: expected {expected}"))
}

/// `limit` and `start` of the versions list; invalid values fall back to the defaults, as in
/// Grafana.
pub(crate) fn versions_params(raw: Option<&str>) -> (usize, usize) {
    let mut limit = 1000;
    let mut start = 0;
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "limit" => limit = value.parse().ok().filter(|limit| *limit > 0).unwrap_or(1000),
            "start" => start = value.parse().unwrap_or(0),
            _ => {}
        }
    }
    (limit, start)
}
