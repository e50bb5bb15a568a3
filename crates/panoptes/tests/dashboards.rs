//! `panoptes server` serves Grafana's dashboard API: dashboards saved through it survive a
//! restart of the process with their history, and dashboards of `--dashboards.provisioning-dir`
//! are served read-only.

mod common;

use serde_json::{Value, json};

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}")))
}

fn post_json(client: &reqwest::Client, url: String, body: &Value) -> reqwest::RequestBuilder {
    client.post(url).header("content-type", "application/json").body(serde_json::to_vec(body).unwrap())
}

#[tokio::test]
async fn saved_dashboards_survive_a_restart_and_provisioned_ones_are_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let provisioning = dir.path().join("provisioning");
    std::fs::create_dir(&provisioning).unwrap();
    std::fs::write(
        provisioning.join("team.json"),
        serde_json::to_vec(&json!({"uid": "team", "title": "Team board", "tags": ["ops"], "panels": [
            {"id": 1, "type": "graph", "title": "Requests", "targets": [{"expr": "sum(rate(http_requests_total[5m]))"}]}
        ]}))
        .unwrap(),
    )
    .unwrap();
    let provisioning_flag = format!("--dashboards.provisioning-dir={}", provisioning.display());
    let log = dir.path().join("server.log");
    let client = reqwest::Client::new();

    let (child, address) = common::start_server(&data, &[&provisioning_flag], &log);
    let mut server = common::Process { child, address };
    common::wait_ready(&client, address, &mut server.child, &log).await;
    let base = format!("http://{address}");
    for (version, title) in [(0, "Checkout"), (1, "Checkout service")] {
        let body = json!({"dashboard": {"uid": "checkout", "title": title, "version": version}, "message": format!("save {version}")});
        let (status, saved) = send(post_json(&client, format!("{base}/api/dashboards/db"), &body)).await;
        assert_eq!(status, 200, "{saved}");
    }
    let (status, provisioned) = send(client.get(format!("{base}/api/dashboards/uid/team"))).await;
    assert_eq!(status, 200);
    assert_eq!(provisioned["meta"]["provisioned"], true);
    assert_eq!(provisioned["dashboard"]["panels"][0]["type"], "timeseries", "graph converted");
    assert_eq!(provisioned["meta"]["panoptesCompatibility"]["panels"][0]["originalType"], "graph");
    let (status, refused) = send(post_json(
        &client,
        format!("{base}/api/dashboards/db"),
        &json!({"dashboard": {"uid": "team", "title": "Team board"}, "overwrite": true}),
    ))
    .await;
    assert_eq!((status, refused), (400, json!({"message": "Cannot save provisioned dashboard"})));
    let (_, flags) = send(client.get(format!("{base}/api/v1/status/flags"))).await;
    assert_eq!(flags["data"]["dashboards.provisioning-dir"], provisioning.display().to_string());
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    drop(server);

    // A killed process loses nothing that was acknowledged.
    let (child, address) = common::start_server(&data, &[], &log);
    let mut server = common::Process { child, address };
    common::wait_ready(&client, address, &mut server.child, &log).await;
    let base = format!("http://{address}");
    let (status, got) = send(client.get(format!("{base}/api/dashboards/uid/checkout"))).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["dashboard"]["title"], "Checkout service");
    assert_eq!(got["meta"]["version"], 2);
    let (_, versions) = send(client.get(format!("{base}/api/dashboards/uid/checkout/versions"))).await;
    let messages: Vec<&str> =
        versions["versions"].as_array().unwrap().iter().map(|version| version["message"].as_str().unwrap()).collect();
    assert_eq!(messages, ["save 1", "save 0"]);
    let (_, search) = send(client.get(format!("{base}/api/search"))).await;
    let titles: Vec<&str> = search.as_array().unwrap().iter().map(|hit| hit["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Checkout service"], "without the flag the provisioned dashboard is gone");
    assert!(server.child.try_wait().unwrap().is_none(), "the server is still running");
}
