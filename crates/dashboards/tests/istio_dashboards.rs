//! Imports each of Istio's real Grafana dashboards (read at test time from
//! `../shared/testdata/dashboards`) through the HTTP import API and checks the compatibility
//! report against the reviewed golden file `tests/istio-dashboards.expected`: panels, queries,
//! conversions and every unsupported item by JSON path. `UPDATE_EXPECT=1` rewrites the file.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use panoptes_dashboards::{DashboardApiOptions, DashboardStore};
use serde_json::{Value, json};

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/dashboards")
}

#[tokio::test]
async fn istio_dashboards_import_with_their_compatibility_report() {
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(DashboardStore::open(data.path()).unwrap());
    let router: axum::Router = panoptes_dashboards::router(store, DashboardApiOptions::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = reqwest::Client::new();

    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .unwrap_or_else(|error| panic!("{}: {error}", testdata().display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7, "Istio's seven dashboards");
    let mut summary = String::new();
    for path in &files {
        let dashboard: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let title = dashboard["title"].as_str().unwrap().to_owned();
        let response = client
            .post(format!("http://{address}/api/dashboards/import"))
            .json(&json!({"dashboard": dashboard, "overwrite": true, "inputs": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", path.display());
        let imported: Value = response.json().await.unwrap();
        assert_eq!(imported["title"], title);
        let uid = imported["uid"].as_str().unwrap();
        // The stored dashboard carries the same report and still has every panel.
        let stored: Value = client
            .get(format!("http://{address}/api/dashboards/uid/{uid}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let report = &imported["panoptesCompatibility"];
        assert_eq!(stored["meta"]["panoptesCompatibility"]["panels"], report["panels"]);
        assert_eq!(count_panels(&stored["dashboard"]), report["panelCount"].as_u64().unwrap() as usize);

        let name = path.file_name().unwrap().to_string_lossy();
        let _ = writeln!(
            summary,
            "{name}: {title:?} panels={} queries={} converted={} unsupported={}",
            report["panelCount"], report["queryCount"], report["convertedCount"], report["unsupportedCount"]
        );
        for panel in report["panels"].as_array().unwrap() {
            let kind = panel["type"].as_str().unwrap();
            let _ = writeln!(
                summary,
                "  {} {kind} {:?} {}",
                panel["path"].as_str().unwrap(),
                panel["title"].as_str().unwrap(),
                panel["status"].as_str().unwrap()
            );
            for issue in panel["unsupported"].as_array().unwrap() {
                let _ = writeln!(
                    summary,
                    "    {}: {}",
                    issue["path"].as_str().unwrap(),
                    issue["message"].as_str().unwrap()
                );
            }
        }
        for variable in report["variables"].as_array().unwrap() {
            let _ = writeln!(
                summary,
                "  variable {} ({}) {}",
                variable["name"].as_str().unwrap(),
                variable["type"].as_str().unwrap(),
                variable["status"].as_str().unwrap()
            );
            for issue in variable["unsupported"].as_array().unwrap() {
                let _ = writeln!(
                    summary,
                    "    {}: {}",
                    issue["path"].as_str().unwrap(),
                    issue["message"].as_str().unwrap()
                );
            }
        }
        for issue in report["dashboard"].as_array().unwrap() {
            let _ = writeln!(summary, "  {}: {}", issue["path"].as_str().unwrap(), issue["message"].as_str().unwrap());
        }
    }
    println!("{summary}");
    let expected_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/istio-dashboards.expected");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &summary).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert_eq!(summary, expected, "the report changed; review and rerun with UPDATE_EXPECT=1");
}

fn count_panels(dashboard: &Value) -> usize {
    fn count(panels: &Value) -> usize {
        panels.as_array().map_or(0, |panels| panels.iter().map(|panel| 1 + count(&panel["panels"])).sum())
    }
    count(&dashboard["panels"])
}
