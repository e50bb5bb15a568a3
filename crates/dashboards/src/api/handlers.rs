//! Thin handlers: parse (params.rs), call the store, encode Grafana's JSON.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::params::{FolderBody, ImportBody, SaveBody, SearchParams, read_json, restore_version, versions_params};
use super::{ApiError, ApiState};
use crate::import::{BUILTIN_DATASOURCE_UID, apply_inputs};
use crate::store::{ANONYMOUS, DashboardRecord, FolderRecord, SaveRequest, VersionInfo};

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs store work that writes files off the async workers.
async fn blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> crate::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(error) => {
            tracing::error!(error = %error, "dashboard store task failed");
            Err(ApiError::with_status(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"))
        }
    }
}

fn time(timestamp: Timestamp) -> String {
    timestamp.to_string()
}

/// The title and URL of a dashboard's folder (`General` and no URL for the General folder).
fn folder_of(state: &ApiState, folder_uid: &str) -> (String, String) {
    if folder_uid.is_empty() {
        return ("General".to_owned(), String::new());
    }
    match state.store.folder(folder_uid) {
        Ok(folder) => (folder.title.clone(), folder.url()),
        Err(_) => (folder_uid.to_owned(), format!("/dashboards/f/{folder_uid}/")),
    }
}

/// `GET /api/search`.
pub(crate) async fn search(State(state): State<ApiState>, RawQuery(raw): RawQuery) -> ApiResult {
    let params = SearchParams::parse(raw.as_deref())?;
    if params.lists_nothing {
        return Ok(Json(json!([])));
    }
    let needle = params.query.query.as_deref().map(str::to_lowercase).unwrap_or_default();
    let folders = if params.folders { state.store.folders() } else { Vec::new() };
    let mut hits: Vec<Value> = folders
        .iter()
        .filter(|folder| folder.title.to_lowercase().contains(&needle))
        .map(|folder| {
            json!({
                "id": folder.id,
                "uid": folder.uid,
                "title": folder.title,
                "uri": format!("db/{}", crate::store::slugify(&folder.title)),
                "url": folder.url(),
                "slug": "",
                "type": "dash-folder",
                "tags": [],
                "isStarred": false,
                "sortMeta": 0,
            })
        })
        .collect();
    // Folders first, then dashboards; `limit` and `page` apply to the whole list.
    let mut every_dashboard = params.query.clone();
    every_dashboard.page = 1;
    every_dashboard.limit = usize::MAX;
    let dashboards = if params.dashboards { state.store.search(&every_dashboard) } else { Vec::new() };
    hits.extend(dashboards.iter().map(|record| {
        let mut hit = json!({
            "id": record.id,
            "uid": record.uid,
            "title": record.title,
            "uri": format!("db/{}", record.slug),
            "url": record.url(),
            "slug": "",
            "type": "dash-db",
            "tags": record.tags,
            "isStarred": false,
            "sortMeta": 0,
        });
        if !record.folder_uid.is_empty() {
            let (title, url) = folder_of(&state, &record.folder_uid);
            hit["folderUid"] = json!(record.folder_uid);
            hit["folderTitle"] = json!(title);
            hit["folderUrl"] = json!(url);
        }
        hit
    }));
    let limit = params.query.limit.max(1);
    let skip = params.query.page.saturating_sub(1).saturating_mul(limit);
    Ok(Json(hits.into_iter().skip(skip).take(limit).collect()))
}

/// `GET /api/dashboards/tags`.
pub(crate) async fn tags(State(state): State<ApiState>) -> ApiResult {
    let tags: Vec<Value> =
        state.store.tags().into_iter().map(|(term, count)| json!({"term": term, "count": count})).collect();
    Ok(Json(Value::Array(tags)))
}

/// `POST /api/dashboards/db`.
pub(crate) async fn save(State(state): State<ApiState>, headers: HeaderMap, body: Body) -> ApiResult {
    let body = SaveBody::parse(read_json(&state, &headers, body).await?)?;
    let store = state.store.clone();
    let request = SaveRequest {
        dashboard: body.dashboard,
        folder_uid: body.folder_uid,
        message: body.message,
        overwrite: body.overwrite,
        notes: Vec::new(),
        restored_from: 0,
    };
    let outcome = blocking(move || store.save(request)).await?;
    Ok(Json(save_answer(&outcome.record)))
}

/// The answer of a save and of a restore.
fn save_answer(record: &DashboardRecord) -> Value {
    let mut answer = json!({
        "id": record.id,
        "uid": record.uid,
        "url": record.url(),
        "status": "success",
        "version": record.version,
        "slug": record.slug,
        "panoptesCompatibility": record.report,
    });
    if !record.folder_uid.is_empty() {
        answer["folderUid"] = json!(record.folder_uid);
    }
    answer
}

/// `POST /api/dashboards/uid/{uid}/restore` with `{"version": N}`.
pub(crate) async fn restore(
    State(state): State<ApiState>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let version = restore_version(read_json(&state, &headers, body).await?)?;
    let store = state.store.clone();
    let outcome = blocking(move || store.restore(&uid, version)).await?;
    Ok(Json(save_answer(&outcome.record)))
}

/// `POST /api/dashboards/import`.
pub(crate) async fn import(State(state): State<ApiState>, headers: HeaderMap, body: Body) -> ApiResult {
    let ImportBody { mut dashboard, folder_uid, overwrite, inputs } =
        ImportBody::parse(read_json(&state, &headers, body).await?)?;
    let notes = apply_inputs(&mut dashboard, &inputs)?;
    if let Some(object) = dashboard.as_object_mut() {
        // An exported id belongs to the instance it came from; the uid identifies it here.
        object.remove("id");
    }
    let store = state.store.clone();
    let request =
        SaveRequest { dashboard, folder_uid, message: "imported".to_owned(), overwrite, notes, restored_from: 0 };
    let record = blocking(move || store.save(request)).await?.record;
    let revision = record.dashboard.get("revision").and_then(Value::as_i64).unwrap_or(1);
    Ok(Json(json!({
        "uid": record.uid,
        "pluginId": "",
        "title": record.title,
        "imported": true,
        "importedUri": format!("db/{}", record.slug),
        "importedUrl": record.url(),
        "slug": record.slug,
        "dashboardId": record.id,
        "folderId": 0,
        "folderUid": record.folder_uid,
        "importedRevision": revision,
        "revision": revision,
        "description": "",
        "path": "",
        "removed": false,
        "panoptesCompatibility": record.report,
    })))
}

/// `GET /api/dashboards/uid/{uid}`.
pub(crate) async fn get_dashboard(State(state): State<ApiState>, Path(uid): Path<String>) -> ApiResult {
    let record = state.store.get(&uid)?;
    let provisioned = record.provisioned_from.is_some();
    let (folder_title, folder_url) = folder_of(&state, &record.folder_uid);
    let meta = json!({
        "type": "db",
        "canSave": !provisioned,
        "canEdit": true,
        "canAdmin": false,
        "canStar": false,
        "canDelete": !provisioned,
        "slug": record.slug,
        "url": record.url(),
        "expires": "0001-01-01T00:00:00Z",
        "created": time(record.created),
        "updated": time(record.updated),
        "updatedBy": ANONYMOUS,
        "createdBy": ANONYMOUS,
        "version": record.version,
        "hasAcl": false,
        "isFolder": false,
        "folderId": 0,
        "folderUid": record.folder_uid,
        "folderTitle": folder_title,
        "folderUrl": folder_url,
        "provisioned": provisioned,
        "provisionedExternalId": record.provisioned_from.clone().unwrap_or_default(),
        "panoptesCompatibility": record.report,
    });
    Ok(Json(json!({"dashboard": record.dashboard, "meta": meta})))
}

/// `DELETE /api/dashboards/uid/{uid}`.
pub(crate) async fn delete(State(state): State<ApiState>, Path(uid): Path<String>) -> ApiResult {
    let store = state.store.clone();
    let record = blocking(move || store.delete(&uid)).await?;
    Ok(Json(json!({
        "id": record.id,
        "title": record.title,
        "message": format!("Dashboard {} deleted", record.title),
    })))
}

fn version_json(record: &DashboardRecord, info: &VersionInfo) -> Value {
    json!({
        "id": info.version,
        "dashboardId": record.id,
        "uid": record.uid,
        "parentVersion": info.parent_version,
        "restoredFrom": info.restored_from,
        "version": info.version,
        "created": time(info.created),
        "createdBy": info.created_by,
        "message": info.message,
    })
}

/// `GET /api/dashboards/uid/{uid}/versions`.
pub(crate) async fn versions(
    State(state): State<ApiState>,
    Path(uid): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    let (limit, start) = versions_params(raw.as_deref());
    let (record, versions) = state.store.versions(&uid, limit, start)?;
    let versions: Vec<Value> = versions.iter().map(|info| version_json(&record, info)).collect();
    Ok(Json(json!({"continueToken": "", "versions": versions})))
}

/// `GET /api/dashboards/uid/{uid}/versions/{id}`.
pub(crate) async fn version(State(state): State<ApiState>, Path((uid, id)): Path<(String, String)>) -> ApiResult {
    let version: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("bad request data: version id {id:?}: expected an integer")))?;
    let store = state.store.clone();
    let (record, info, data) = blocking(move || store.version(&uid, version)).await?;
    let mut answer = version_json(&record, &info);
    answer["data"] = data;
    Ok(Json(answer))
}

fn builtin_datasource() -> Value {
    json!({
        "id": 1,
        "uid": BUILTIN_DATASOURCE_UID,
        "orgId": 1,
        "name": "Panoptes",
        "type": "prometheus",
        "typeName": "Prometheus",
        "typeLogoUrl": "",
        "access": "proxy",
        "url": "",
        "user": "",
        "database": "",
        "basicAuth": false,
        "isDefault": true,
        "jsonData": {"httpMethod": "POST"},
        "readOnly": true,
    })
}

/// `GET /api/datasources`: the one built-in Prometheus data source.
pub(crate) async fn datasources() -> ApiResult {
    Ok(Json(json!([builtin_datasource()])))
}

/// `GET /api/datasources/uid/{uid}`.
pub(crate) async fn datasource_by_uid(Path(uid): Path<String>) -> ApiResult {
    if uid == BUILTIN_DATASOURCE_UID {
        return Ok(Json(builtin_datasource()));
    }
    Err(ApiError::with_status(StatusCode::NOT_FOUND, "Data source not found"))
}

/// `GET /api/datasources/name/{name}`.
pub(crate) async fn datasource_by_name(Path(name): Path<String>) -> ApiResult {
    if name == "Panoptes" {
        return Ok(Json(builtin_datasource()));
    }
    Err(ApiError::with_status(StatusCode::NOT_FOUND, "Data source not found"))
}

/// `GET /api/health`.
pub(crate) async fn health(State(state): State<ApiState>) -> ApiResult {
    Ok(Json(json!({"commit": state.options.commit, "database": "ok", "version": state.options.version})))
}

/// A folder as `GET /api/folders/:uid` and the folder writes answer it.
fn folder_json(folder: &FolderRecord) -> Value {
    json!({
        "id": folder.id,
        "uid": folder.uid,
        "title": folder.title,
        "url": folder.url(),
        "hasAcl": false,
        "canSave": true,
        "canEdit": true,
        "canAdmin": true,
        "canDelete": true,
        "createdBy": ANONYMOUS,
        "created": time(folder.created),
        "updatedBy": ANONYMOUS,
        "updated": time(folder.updated),
        "version": folder.version,
    })
}

/// `GET /api/folders`: every folder, `{id, uid, title}`, sorted by title.
pub(crate) async fn folders(State(state): State<ApiState>) -> ApiResult {
    let folders = state.store.folders();
    Ok(Json(folders.iter().map(|folder| json!({"id": folder.id, "uid": folder.uid, "title": folder.title})).collect()))
}

/// `GET /api/folders/{uid}`.
pub(crate) async fn folder(State(state): State<ApiState>, Path(uid): Path<String>) -> ApiResult {
    Ok(Json(folder_json(&state.store.folder(&uid)?)))
}

/// `POST /api/folders` with `{"uid"?, "title"}`.
pub(crate) async fn create_folder(State(state): State<ApiState>, headers: HeaderMap, body: Body) -> ApiResult {
    let body = FolderBody::parse(read_json(&state, &headers, body).await?)?;
    let store = state.store.clone();
    let folder = blocking(move || store.create_folder(&body.uid, &body.title)).await?;
    Ok(Json(folder_json(&folder)))
}

/// `PUT /api/folders/{uid}` with `{"title", "version", "overwrite"?}`.
pub(crate) async fn update_folder(
    State(state): State<ApiState>,
    Path(uid): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult {
    let body = FolderBody::parse(read_json(&state, &headers, body).await?)?;
    let store = state.store.clone();
    let folder = blocking(move || store.update_folder(&uid, &body.title, body.version, body.overwrite)).await?;
    Ok(Json(folder_json(&folder)))
}

/// `DELETE /api/folders/{uid}`: the folder and its dashboards.
pub(crate) async fn delete_folder(State(state): State<ApiState>, Path(uid): Path<String>) -> ApiResult {
    let store = state.store.clone();
    let folder = blocking(move || store.delete_folder(&uid)).await?;
    Ok(Json(json!({"id": folder.id, "title": folder.title, "message": format!("Folder {} deleted", folder.title)})))
}
