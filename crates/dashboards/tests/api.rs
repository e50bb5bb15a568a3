//! Grafana's dashboard API over real HTTP: the router is served on 127.0.0.1 and driven with an
//! HTTP client the way scripts written for Grafana drive Grafana, checking status codes and JSON
//! shapes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use panoptes_dashboards::{DashboardApiOptions, DashboardStore, provision_dir};
use serde_json::{Value, json};

struct Api {
    base: String,
    client: reqwest::Client,
}

async fn start(data: &Path, provisioning: Option<&Path>, options: DashboardApiOptions) -> Api {
    let store = DashboardStore::open(data).unwrap();
    if let Some(dir) = provisioning {
        let summary = provision_dir(&store, dir).unwrap();
        assert!(summary.refused.is_empty(), "{:?}", summary.refused);
    }
    let router: axum::Router = panoptes_dashboards::router(Arc::new(store), options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Api { base: format!("http://{address}"), client: reqwest::Client::new() }
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"));
        (status, body)
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(body)).await
    }

    async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        self.send(
            self.client.post(format!("{}{path}", self.base)).header("content-type", "application/json").body(body),
        )
        .await
    }

    async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(self.client.put(format!("{}{path}", self.base)).json(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(self.client.get(format!("{}{path}", self.base))).await
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(self.client.delete(format!("{}{path}", self.base))).await
    }
}

fn titles(hits: &Value) -> Vec<&str> {
    hits.as_array().unwrap().iter().map(|hit| hit["title"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn create_update_conflict_search_versions_delete_like_grafana() {
    let data = tempfile::tempdir().unwrap();
    let api = start(data.path(), None, DashboardApiOptions::default()).await;

    // Create without uid: Grafana generates one and answers id/uid/url/status/version/slug.
    let (status, created) = api
        .post("/api/dashboards/db", &json!({"dashboard": {"id": null, "uid": null, "title": "Production Overview", "tags": ["templated", "prod"]}, "message": "first", "overwrite": false}))
        .await;
    assert_eq!(status, 200, "{created}");
    let uid = created["uid"].as_str().unwrap().to_owned();
    assert_eq!(uid.len(), 14);
    assert_eq!(created["id"], 1);
    assert_eq!(created["status"], "success");
    assert_eq!(created["version"], 1);
    assert_eq!(created["slug"], "production-overview");
    assert_eq!(created["url"], format!("/d/{uid}/production-overview"));
    assert_eq!(created["panoptesCompatibility"]["panelCount"], 0);

    // Update from version 1, then a stale save from version 1 again: 412 version-mismatch.
    let update = json!({"dashboard": {"uid": uid, "title": "Production Overview", "version": 1, "tags": ["prod"]}, "message": "second"});
    let (status, updated) = api.post("/api/dashboards/db", &update).await;
    assert_eq!((status, updated["version"].clone(), updated["id"].clone()), (200, json!(2), json!(1)), "{updated}");
    let (status, conflict) = api.post("/api/dashboards/db", &update).await;
    assert_eq!(status, 412);
    assert_eq!(
        conflict,
        json!({"message": "The dashboard has been changed by someone else", "status": "version-mismatch"})
    );

    // A second dashboard with the same title in the same folder: 412 name-exists.
    let (status, exists) =
        api.post("/api/dashboards/db", &json!({"dashboard": {"uid": "other", "title": "production overview"}})).await;
    assert_eq!(status, 412);
    assert_eq!(
        exists,
        json!({"message": "A dashboard with the same name in the folder already exists", "status": "name-exists"})
    );

    // overwrite: true saves over the stale version.
    let (status, forced) = api
        .post("/api/dashboards/db", &json!({"dashboard": {"uid": uid, "title": "Production Overview", "version": 1, "tags": ["prod", "db"]}, "overwrite": true, "message": "forced"}))
        .await;
    assert_eq!((status, forced["version"].clone()), (200, json!(3)));

    // A dashboard goes into an existing folder only.
    let (status, missing_folder) = api
        .post(
            "/api/dashboards/db",
            &json!({"dashboard": {"title": "Staging", "tags": ["staging"]}, "folderUid": "team-a"}),
        )
        .await;
    assert_eq!((status, missing_folder), (400, json!({"message": "folder not found"})));
    let (status, folder) = api.post("/api/folders", &json!({"uid": "team-a", "title": "Team A"})).await;
    assert_eq!(status, 200, "{folder}");
    assert_eq!(
        (folder["uid"].clone(), folder["title"].clone(), folder["version"].clone()),
        (json!("team-a"), json!("Team A"), json!(1))
    );
    assert_eq!(folder["url"], "/dashboards/f/team-a/team-a");
    let (status, _) = api
        .post(
            "/api/dashboards/db",
            &json!({"dashboard": {"title": "Staging", "tags": ["staging"]}, "folderUid": "team-a"}),
        )
        .await;
    assert_eq!(status, 200);

    // Get: {dashboard, meta}.
    let (status, got) = api.get(&format!("/api/dashboards/uid/{uid}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["dashboard"]["uid"], uid);
    assert_eq!(got["dashboard"]["version"], 3);
    assert_eq!(got["dashboard"]["id"], 1);
    assert_eq!(got["meta"]["type"], "db");
    assert_eq!(got["meta"]["slug"], "production-overview");
    assert_eq!(got["meta"]["url"], format!("/d/{uid}/production-overview"));
    assert_eq!(got["meta"]["version"], 3);
    assert_eq!(got["meta"]["provisioned"], false);
    assert_eq!(got["meta"]["canSave"], true);
    assert_eq!(got["meta"]["folderUid"], "");
    assert!(got["meta"]["created"].as_str().unwrap().ends_with('Z'));
    let (status, missing) = api.get("/api/dashboards/uid/nope").await;
    assert_eq!((status, missing), (404, json!({"message": "Dashboard not found", "status": "not-found"})));

    // Search: sorted by title, filters by query, tags (all of them), uids, folders, type, limit.
    let (_, all) = api.get("/api/search").await;
    assert_eq!(titles(&all), ["Team A", "Production Overview", "Staging"], "folders first");
    assert_eq!(all[0]["type"], "dash-folder");
    assert_eq!(all[0]["url"], "/dashboards/f/team-a/team-a");
    assert_eq!(all[2]["folderTitle"], "Team A");
    let all = json!(all.as_array().unwrap()[1..]);
    let first = &all[0];
    assert_eq!(first["type"], "dash-db");
    assert_eq!(first["uri"], "db/production-overview");
    assert_eq!(first["url"], format!("/d/{uid}/production-overview"));
    assert_eq!(first["tags"], json!(["prod", "db"]));
    assert_eq!(all[1]["folderUid"], "team-a");
    assert_eq!(titles(&api.get("/api/search?query=overview").await.1), ["Production Overview"]);
    assert_eq!(titles(&api.get("/api/search?query=STAG").await.1), ["Staging"]);
    assert_eq!(titles(&api.get("/api/search?tag=prod&tag=db").await.1), ["Production Overview"]);
    assert!(titles(&api.get("/api/search?tag=prod&tag=staging").await.1).is_empty());
    assert_eq!(titles(&api.get(&format!("/api/search?dashboardUIDs={uid}")).await.1), ["Production Overview"]);
    assert_eq!(titles(&api.get("/api/search?folderUIDs=team-a").await.1), ["Staging"]);
    assert_eq!(titles(&api.get("/api/search?limit=1&page=3").await.1), ["Staging"]);
    assert_eq!(titles(&api.get("/api/search?type=dash-folder").await.1), ["Team A"]);
    assert_eq!(titles(&api.get("/api/search?type=dash-folder&query=prod").await.1), Vec::<&str>::new());
    assert_eq!(api.get("/api/search?starred=true").await.1, json!([]));
    assert_eq!(titles(&api.get("/api/search?starred=false&type=dash-db").await.1).len(), 2);
    let (status, bad_limit) = api.get("/api/search?limit=many").await;
    assert_eq!(status, 400);
    assert_eq!(bad_limit["message"], "bad request data: query parameter limit=\"many\": expected a positive integer");
    let (_, tags) = api.get("/api/dashboards/tags").await;
    assert!(tags.as_array().unwrap().contains(&json!({"term": "prod", "count": 1})), "{tags}");

    // Versions, newest first, and one version with its data.
    let (status, versions) = api.get(&format!("/api/dashboards/uid/{uid}/versions")).await;
    assert_eq!(status, 200);
    assert_eq!(versions["continueToken"], "");
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.iter().map(|version| version["version"].as_i64().unwrap()).collect::<Vec<_>>(), [3, 2, 1]);
    assert_eq!(list[0]["message"], "forced");
    assert_eq!(list[0]["parentVersion"], 2);
    assert_eq!(list[0]["dashboardId"], 1);
    assert_eq!(list[0]["uid"], uid);
    assert_eq!(list[2]["createdBy"], "Anonymous");
    let (_, limited) = api.get(&format!("/api/dashboards/uid/{uid}/versions?limit=1&start=1")).await;
    assert_eq!(limited["versions"].as_array().unwrap().len(), 1);
    assert_eq!(limited["versions"][0]["version"], 2);
    let (status, first_version) = api.get(&format!("/api/dashboards/uid/{uid}/versions/1")).await;
    assert_eq!(status, 200);
    assert_eq!(first_version["message"], "first");
    assert_eq!(first_version["data"]["tags"], json!(["templated", "prod"]));
    assert_eq!(api.get(&format!("/api/dashboards/uid/{uid}/versions/9")).await.0, 404);

    // Restore version 1 as version 4.
    let (status, restored) = api.post(&format!("/api/dashboards/uid/{uid}/restore"), &json!({"version": 1})).await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!((restored["version"].clone(), restored["status"].clone()), (json!(4), json!("success")));
    let (_, got) = api.get(&format!("/api/dashboards/uid/{uid}")).await;
    assert_eq!(got["dashboard"]["tags"], json!(["templated", "prod"]));
    let (_, versions) = api.get(&format!("/api/dashboards/uid/{uid}/versions?limit=1")).await;
    assert_eq!(versions["versions"][0]["restoredFrom"], 1);
    assert_eq!(versions["versions"][0]["message"], "Restored from version 1");
    let (status, bad_restore) = api.post(&format!("/api/dashboards/uid/{uid}/restore"), &json!({"version": "1"})).await;
    assert_eq!(status, 400);
    assert_eq!(bad_restore["message"], "bad request data: version: expected a positive integer, got \"1\"");
    assert_eq!(api.post(&format!("/api/dashboards/uid/{uid}/restore"), &json!({"version": 9})).await.0, 404);

    // Delete, then it is gone.
    let (status, deleted) = api.delete(&format!("/api/dashboards/uid/{uid}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        deleted,
        json!({"id": 1, "title": "Production Overview", "message": "Dashboard Production Overview deleted"})
    );
    assert_eq!(api.get(&format!("/api/dashboards/uid/{uid}")).await.0, 404);
    assert_eq!(api.delete(&format!("/api/dashboards/uid/{uid}")).await.0, 404);
    assert_eq!(titles(&api.get("/api/search?type=dash-db").await.1), ["Staging"]);
}

#[tokio::test]
async fn folders_are_created_renamed_listed_and_deleted_with_their_dashboards_like_grafana() {
    let data = tempfile::tempdir().unwrap();
    {
        let api = start(data.path(), None, DashboardApiOptions::default()).await;
        let (status, mesh) = api.post("/api/folders", &json!({"title": "Mesh"})).await;
        assert_eq!(status, 200);
        let mesh_uid = mesh["uid"].as_str().unwrap().to_owned();
        assert_eq!(mesh_uid.len(), 14, "a generated uid: {mesh}");
        let (status, _) = api.post("/api/folders", &json!({"uid": "infra", "title": "Infrastructure"})).await;
        assert_eq!(status, 200);
        // Conflicts: the same title (any case), the same uid, an empty title, a bad uid.
        let (status, same_title) = api.post("/api/folders", &json!({"title": "mesh"})).await;
        assert_eq!(
            (status, same_title),
            (409, json!({"message": "a folder or dashboard in the general folder with the same name already exists"}))
        );
        let (status, _) = api.post("/api/folders", &json!({"uid": "infra", "title": "Other"})).await;
        assert_eq!(status, 409);
        let (status, empty) = api.post("/api/folders", &json!({"title": " "})).await;
        assert_eq!((status, empty), (400, json!({"message": "folder title cannot be empty"})));
        let (status, _) = api.post("/api/folders", &json!({"uid": "a/b", "title": "Slash"})).await;
        assert_eq!(status, 400);
        let (status, bad_body) = api.post("/api/folders", &json!({"title": 3})).await;
        assert_eq!(status, 400);
        assert!(bad_body["message"].as_str().unwrap().contains("title"), "{bad_body}");

        // Rename: the version must match unless overwrite.
        let (status, stale) = api.put("/api/folders/infra", &json!({"title": "Infra", "version": 7})).await;
        assert_eq!((status, stale), (409, json!({"message": "the folder has been changed by someone else"})));
        let (status, renamed) = api.put("/api/folders/infra", &json!({"title": "Infra", "version": 1})).await;
        assert_eq!((status, renamed["title"].clone(), renamed["version"].clone()), (200, json!("Infra"), json!(2)));
        let (status, forced) =
            api.put("/api/folders/infra", &json!({"title": "Infrastructure", "overwrite": true})).await;
        assert_eq!((status, forced["version"].clone()), (200, json!(3)));
        let (status, missing) = api.put("/api/folders/nope", &json!({"title": "x", "version": 1})).await;
        assert_eq!((status, missing), (404, json!({"message": "folder not found"})));

        for (title, folder) in [("Gateway", mesh_uid.as_str()), ("Sidecars", mesh_uid.as_str()), ("Nodes", "infra")] {
            let (status, saved) =
                api.post("/api/dashboards/db", &json!({"dashboard": {"title": title}, "folderUid": folder})).await;
            assert_eq!((status, saved["folderUid"].as_str()), (200, Some(folder)), "{saved}");
        }
        let (_, list) = api.get("/api/folders").await;
        assert_eq!(titles(&list), ["Infrastructure", "Mesh"]);
        assert_eq!(list[0], json!({"id": 2, "uid": "infra", "title": "Infrastructure"}));
        let (_, nodes) = api.get("/api/search?query=Nodes&type=dash-db").await;
        let (_, got) = api.get(&format!("/api/dashboards/uid/{}", nodes[0]["uid"].as_str().unwrap())).await;
        assert_eq!(got["meta"]["folderTitle"], "Infrastructure");
        assert_eq!(got["meta"]["folderUrl"], "/dashboards/f/infra/infrastructure");

        // Deleting a folder deletes its dashboards.
        let (status, deleted) = api.delete(&format!("/api/folders/{mesh_uid}")).await;
        assert_eq!((status, deleted["message"].clone()), (200, json!("Folder Mesh deleted")));
        assert_eq!(titles(&api.get("/api/search").await.1), ["Infrastructure", "Nodes"]);
        let (status, _) = api.get(&format!("/api/folders/{mesh_uid}")).await;
        assert_eq!(status, 404);
    }
    // Folders survive a restart, and ids keep counting after them.
    let api = start(data.path(), None, DashboardApiOptions::default()).await;
    let (status, infra) = api.get("/api/folders/infra").await;
    assert_eq!((status, infra["title"].clone(), infra["version"].clone()), (200, json!("Infrastructure"), json!(3)));
    let (_, created) =
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "After"}, "folderUid": "infra"})).await;
    assert_eq!(created["id"], 6, "{created}");
}

#[tokio::test]
async fn dashboards_and_history_survive_a_restart() {
    let data = tempfile::tempdir().unwrap();
    {
        let api = start(data.path(), None, DashboardApiOptions::default()).await;
        for version in 0..3 {
            let (status, _) = api
                .post("/api/dashboards/db", &json!({"dashboard": {"uid": "kept", "title": "Kept", "version": version}}))
                .await;
            assert_eq!(status, 200);
        }
    }
    let api = start(data.path(), None, DashboardApiOptions::default()).await;
    let (_, got) = api.get("/api/dashboards/uid/kept").await;
    assert_eq!(got["dashboard"]["version"], 3);
    let (_, versions) = api.get("/api/dashboards/uid/kept/versions").await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 3);
    let (_, created) = api.post("/api/dashboards/db", &json!({"dashboard": {"title": "New"}})).await;
    assert_eq!(created["id"], 2, "ids are not reused after a restart");
}

#[tokio::test]
async fn provisioned_dashboards_are_read_only() {
    let data = tempfile::tempdir().unwrap();
    let provisioning = tempfile::tempdir().unwrap();
    std::fs::create_dir(provisioning.path().join("team")).unwrap();
    std::fs::write(provisioning.path().join("mesh.json"), r#"{"uid": "mesh", "title": "Mesh", "panels": []}"#).unwrap();
    std::fs::write(provisioning.path().join("team").join("Node Board.json"), r#"{"title": "Node"}"#).unwrap();
    let api = start(data.path(), Some(provisioning.path()), DashboardApiOptions::default()).await;

    let (status, got) = api.get("/api/dashboards/uid/mesh").await;
    assert_eq!(status, 200);
    assert_eq!(got["meta"]["provisioned"], true);
    assert_eq!(got["meta"]["provisionedExternalId"], "mesh.json");
    assert_eq!(got["meta"]["canSave"], false);
    assert_eq!(titles(&api.get("/api/search").await.1), ["Mesh", "Node"]);
    assert_eq!(api.get("/api/dashboards/uid/node-board").await.0, 200, "uid derived from the file name");

    let (status, refused) = api
        .post(
            "/api/dashboards/db",
            &json!({"dashboard": {"uid": "mesh", "title": "Mesh", "version": 1}, "overwrite": true}),
        )
        .await;
    assert_eq!((status, refused), (400, json!({"message": "Cannot save provisioned dashboard"})));
    let (status, refused) = api.delete("/api/dashboards/uid/mesh").await;
    assert_eq!((status, refused), (400, json!({"message": "provisioned dashboard cannot be deleted"})));
    let (status, refused) =
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "Mesh"}, "overwrite": true})).await;
    assert_eq!(status, 400, "overwriting by title is refused too: {refused}");
}

#[tokio::test]
async fn import_substitutes_inputs_and_reports_conversions() {
    let data = tempfile::tempdir().unwrap();
    let api = start(data.path(), None, DashboardApiOptions::default()).await;
    let exported = json!({
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__requires": [{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
        "id": 7,
        "uid": "node-full",
        "title": "Node Exporter Full",
        "revision": 31,
        "panels": [
            {"id": 1, "type": "graph", "title": "CPU", "datasource": "${DS_PROMETHEUS}",
             "targets": [{"expr": "rate(node_cpu_seconds_total[5m])", "refId": "A"}],
             "yaxes": [{"format": "percentunit"}, {"format": "short"}]},
            {"id": 2, "type": "singlestat", "title": "Uptime", "datasource": "${DS_PROMETHEUS}", "format": "s",
             "targets": [{"expr": "time() - node_boot_time_seconds", "refId": "A"}]},
            {"id": 3, "type": "worldmap-panel", "title": "Map", "targets": []}
        ],
        "templating": {"list": [{"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, "query": "label_values(node_uname_info, job)"}]}
    });
    let request = json!({"dashboard": exported, "overwrite": true, "inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "value": "panoptes"}], "folderUid": ""});
    let (status, imported) = api.post("/api/dashboards/import", &request).await;
    assert_eq!(status, 200, "{imported}");
    assert_eq!(imported["imported"], true);
    assert_eq!(imported["uid"], "node-full");
    assert_eq!(imported["importedUrl"], "/d/node-full/node-exporter-full");
    assert_eq!(imported["importedUri"], "db/node-exporter-full");
    assert_eq!(imported["dashboardId"], 1, "the exported id is not kept");
    assert_eq!(imported["importedRevision"], 31);
    let report = &imported["panoptesCompatibility"];
    assert_eq!(report["convertedCount"], 2);
    assert_eq!(report["panels"][0]["originalType"], "graph");
    assert_eq!(report["panels"][0]["type"], "timeseries");
    assert_eq!(report["panels"][1]["type"], "stat");
    assert_eq!(report["panels"][2]["status"], "unsupported");
    assert_eq!(report["panels"][2]["unsupported"][0]["path"], "panels[2].type");

    let (_, got) = api.get("/api/dashboards/uid/node-full").await;
    let dashboard = &got["dashboard"];
    assert!(dashboard.get("__inputs").is_none());
    assert_eq!(dashboard["panels"][0]["datasource"], "panoptes");
    assert_eq!(dashboard["panels"][0]["fieldConfig"]["defaults"]["unit"], "percentunit");
    assert_eq!(dashboard["panels"][2]["type"], "worldmap-panel", "unsupported panels are kept");
    assert_eq!(dashboard["templating"]["list"][0]["datasource"]["uid"], "panoptes");
    assert_eq!(got["meta"]["panoptesCompatibility"], *report);

    // Importing again without overwrite conflicts like a save.
    let mut again = request.clone();
    again["overwrite"] = json!(false);
    assert_eq!(api.post("/api/dashboards/import", &again).await.0, 412);

    // An input that is not supplied and not a Prometheus data source.
    let loki = json!({"dashboard": {"__inputs": [{"name": "DS_LOKI", "type": "datasource", "pluginId": "loki"}], "title": "Logs"}});
    let (status, missing) = api.post("/api/dashboards/import", &loki).await;
    assert_eq!((status, missing), (400, json!({"message": "Dashboard input missing: DS_LOKI"})));
}

#[tokio::test]
async fn bad_requests_name_what_and_where() {
    let data = tempfile::tempdir().unwrap();
    let options = DashboardApiOptions { max_body_bytes: 4096, ..DashboardApiOptions::default() };
    let api = start(data.path(), None, options).await;
    let check = |(status, body): (u16, Value), expected_status: u16, expected: &str| {
        assert_eq!(status, expected_status, "{body}");
        let message = body["message"].as_str().unwrap().to_owned();
        assert!(message.contains(expected), "{message:?} should contain {expected:?}");
    };
    check(
        api.post_raw("/api/dashboards/db", "{\"dashboard\": ").await,
        400,
        "bad request data: invalid JSON: EOF while parsing",
    );
    check(
        api.post("/api/dashboards/db", &json!({"overwrite": true})).await,
        400,
        "bad request data: dashboard: missing",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": []})).await,
        400,
        "dashboard: expected an object, got an array",
    );
    check(
        api.post(
            "/api/dashboards/db",
            &json!({"dashboard": {"title": "x", "panels": [{"type": "stat"}, {"gridPos": {"w": "12"}}]}}),
        )
        .await,
        400,
        "bad request data: dashboard.panels[1].gridPos.w: expected a number, got a string",
    );
    check(
        api.post(
            "/api/dashboards/db",
            &json!({"dashboard": {"title": "x", "panels": [{"type": "row", "panels": [{"targets": [{"expr": 1}]}]}]}}),
        )
        .await,
        400,
        "dashboard.panels[0].panels[0].targets[0].expr: expected a string, got a number",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "x", "tags": ["a", 2]}})).await,
        400,
        "dashboard.tags[1]: expected a string",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "x"}, "overwrite": "yes"})).await,
        400,
        "overwrite: expected a boolean",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "  "}})).await,
        400,
        "Dashboard title cannot be empty",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "x", "uid": "a b"}})).await,
        400,
        "uid contains illegal characters",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "x", "uid": "a".repeat(41)}})).await,
        400,
        "uid too long, max 40 characters",
    );
    check(
        api.post("/api/dashboards/db", &json!({"dashboard": {"title": "x", "id": 99}})).await,
        404,
        "Dashboard not found",
    );
    let huge = json!({"dashboard": {"title": "x".repeat(5000)}});
    check(api.post("/api/dashboards/db", &huge).await, 413, "request body exceeds the limit of 4096 bytes");
    check(api.get("/api/dashboards/uid/x/versions/abc").await, 400, "version id \"abc\": expected an integer");
}

#[tokio::test]
async fn datasources_and_health_answer_like_grafana() {
    let data = tempfile::tempdir().unwrap();
    let api = start(data.path(), None, DashboardApiOptions::default()).await;
    let (status, list) = api.get("/api/datasources").await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["uid"], "panoptes");
    assert_eq!(list[0]["type"], "prometheus");
    assert_eq!(list[0]["isDefault"], true);
    assert_eq!(api.get("/api/datasources/uid/panoptes").await.1["name"], "Panoptes");
    assert_eq!(api.get("/api/datasources/uid/other").await.0, 404);
    let (status, health) = api.get("/api/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["database"], "ok");
}
