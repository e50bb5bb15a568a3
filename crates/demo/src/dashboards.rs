//! The demo's default dashboards in Grafana's JSON model (schemaVersion 39): mesh overview,
//! service, workload and node. Every query uses metrics the demo produces, so each panel shows
//! data within the first minute; the binary test runs them all.

use serde_json::{Value, json};

/// Returns `(file name, dashboard)` of every default dashboard.
pub fn default_dashboards() -> Vec<(&'static str, Value)> {
    vec![
        ("mesh-overview.json", mesh_overview()),
        ("service.json", service()),
        ("workload.json", workload()),
        ("node.json", node()),
    ]
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn grid(x: u32, y: u32, w: u32, h: u32) -> Value {
    json!({"x": x, "y": y, "w": w, "h": h})
}

fn targets(queries: &[(&str, &str)]) -> Value {
    let letters = ["A", "B", "C", "D", "E", "F"];
    Value::Array(
        queries
            .iter()
            .zip(letters)
            .map(|((expr, legend), ref_id)| {
                json!({"datasource": datasource(), "expr": expr, "legendFormat": legend, "refId": ref_id, "range": true})
            })
            .collect(),
    )
}

fn timeseries(id: u32, title: &str, position: Value, unit: &str, queries: &[(&str, &str)]) -> Value {
    json!({
        "id": id, "type": "timeseries", "title": title, "gridPos": position, "datasource": datasource(),
        "fieldConfig": {"defaults": {"unit": unit, "custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10}}, "overrides": []},
        "options": {"legend": {"showLegend": true, "displayMode": "table", "placement": "bottom", "calcs": ["mean", "max", "lastNotNull"]}, "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": targets(queries),
    })
}

/// Draws a dashed threshold line at `value` on a timeseries panel.
fn with_threshold_line(mut panel: Value, value: f64, color: &str) -> Value {
    let defaults = &mut panel["fieldConfig"]["defaults"];
    defaults["thresholds"] = json!({"mode": "absolute", "steps": [{"color": "transparent", "value": null}, {"color": color, "value": value}]});
    defaults["custom"]["thresholdsStyle"] = json!({"mode": "dashed"});
    panel
}

fn stat(id: u32, title: &str, position: Value, unit: &str, expr: &str, thresholds: &[(f64, &str)]) -> Value {
    let mut steps = vec![json!({"color": "green", "value": null})];
    steps.extend(thresholds.iter().map(|(value, color)| json!({"color": color, "value": value})));
    json!({
        "id": id, "type": "stat", "title": title, "gridPos": position, "datasource": datasource(),
        "fieldConfig": {"defaults": {"unit": unit, "decimals": 2, "thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}, "colorMode": "value", "graphMode": "area", "textMode": "auto", "justifyMode": "auto", "orientation": "auto"},
        "targets": targets(&[(expr, "")]),
    })
}

fn row(id: u32, title: &str, y: u32) -> Value {
    json!({"id": id, "type": "row", "title": title, "gridPos": grid(0, y, 24, 1), "collapsed": false, "panels": []})
}

fn datasource_variable() -> Value {
    json!({"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "current": {"text": "Panoptes", "value": "panoptes"}, "hide": 0})
}

fn query_variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name, "label": label, "type": "query", "datasource": datasource(),
        "query": query, "definition": query, "refresh": 2, "sort": 1, "includeAll": false, "multi": false, "hide": 0,
    })
}

fn dashboard(uid: &str, title: &str, tags: &[&str], variables: Vec<Value>, panels: Vec<Value>) -> Value {
    let mut list = vec![datasource_variable()];
    list.extend(variables);
    json!({
        "uid": uid, "title": title, "tags": tags, "editable": false, "schemaVersion": 39, "version": 1,
        "time": {"from": "now-15m", "to": "now"}, "refresh": "10s", "timezone": "browser", "graphTooltip": 1,
        "templating": {"list": list},
        "annotations": {"list": [{"builtIn": 1, "name": "Annotations & Alerts", "type": "dashboard", "enable": true, "hide": true}]},
        "panels": panels,
    })
}

fn mesh_overview() -> Value {
    let panels = vec![
        stat(
            1,
            "Global request volume",
            grid(0, 0, 6, 4),
            "reqps",
            r#"sum(rate(istio_requests_total{reporter="source"}[$__rate_interval]))"#,
            &[],
        ),
        stat(
            2,
            "Global success rate (non-5xx)",
            grid(6, 0, 6, 4),
            "percentunit",
            r#"sum(rate(istio_requests_total{reporter="source", response_code!~"5.."}[$__rate_interval])) / sum(rate(istio_requests_total{reporter="source"}[$__rate_interval]))"#,
            &[],
        ),
        stat(
            3,
            "4xx responses",
            grid(12, 0, 6, 4),
            "reqps",
            r#"sum(rate(istio_requests_total{reporter="source", response_code=~"4.."}[$__rate_interval])) or vector(0)"#,
            &[(1.0, "orange")],
        ),
        stat(
            4,
            "5xx responses",
            grid(18, 0, 6, 4),
            "reqps",
            r#"sum(rate(istio_requests_total{reporter="source", response_code=~"5.."}[$__rate_interval])) or vector(0)"#,
            &[(0.01, "red")],
        ),
        timeseries(
            5,
            "Requests by destination service",
            grid(0, 4, 12, 8),
            "reqps",
            &[(
                r#"sum by (destination_service_name) (rate(istio_requests_total{reporter="destination"}[$__rate_interval]))"#,
                "{{destination_service_name}}",
            )],
        ),
        timeseries(
            6,
            "5xx by destination workload",
            grid(12, 4, 12, 8),
            "reqps",
            &[(
                r#"sum by (destination_workload) (rate(istio_requests_total{reporter="destination", response_code=~"5.."}[$__rate_interval]))"#,
                "{{destination_workload}}",
            )],
        ),
        // The IstioHighP99Latency alert's threshold, drawn as a dashed line.
        with_threshold_line(
            timeseries(
                7,
                "P99 latency by destination workload",
                grid(0, 12, 12, 8),
                "ms",
                &[(
                    r#"histogram_quantile(0.99, sum by (destination_workload, le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination"}[$__rate_interval])))"#,
                    "{{destination_workload}}",
                )],
            ),
            1000.0,
            "red",
        ),
        json!({
            "id": 8, "type": "piechart", "title": "reviews traffic split by version", "gridPos": grid(12, 12, 12, 8), "datasource": datasource(),
            "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}, "pieType": "donut", "legend": {"showLegend": true, "displayMode": "table", "placement": "right"}},
            "targets": targets(&[(r#"sum by (destination_version) (rate(istio_requests_total{reporter="destination", destination_service_name="reviews"}[$__rate_interval]))"#, "reviews-{{destination_version}}")]),
        }),
        json!({
            "id": 9, "type": "table", "title": "Workloads", "gridPos": grid(0, 20, 24, 8), "datasource": datasource(),
            "fieldConfig": {"defaults": {"unit": "reqps"}, "overrides": []},
            "options": {"showHeader": true},
            "targets": [
                {"datasource": datasource(), "refId": "A", "instant": true, "format": "table", "legendFormat": "",
                 "expr": r#"sum by (destination_workload, destination_workload_namespace) (rate(istio_requests_total{reporter="destination"}[$__rate_interval]))"#},
            ],
        }),
    ];
    dashboard("panoptes-mesh", "Istio mesh overview", &["istio", "panoptes-demo"], Vec::new(), panels)
}

fn service() -> Value {
    let variables = vec![query_variable(
        "service",
        "Service",
        r#"label_values(istio_requests_total{reporter="destination"}, destination_service_name)"#,
    )];
    let selector = r#"reporter="destination", destination_service_name="$service""#;
    let panels = vec![
        row(100, "Service: $service", 0),
        stat(
            1,
            "Request volume",
            grid(0, 1, 8, 4),
            "reqps",
            &format!("sum(rate(istio_requests_total{{{selector}}}[$__rate_interval]))"),
            &[],
        ),
        stat(
            2,
            "Success rate (non-5xx)",
            grid(8, 1, 8, 4),
            "percentunit",
            &format!(
                "sum(rate(istio_requests_total{{{selector}, response_code!~\"5..\"}}[$__rate_interval])) / sum(rate(istio_requests_total{{{selector}}}[$__rate_interval]))"
            ),
            &[],
        ),
        stat(
            3,
            "P99 latency",
            grid(16, 1, 8, 4),
            "ms",
            &format!(
                "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[$__rate_interval])))"
            ),
            &[(1000.0, "red")],
        ),
        timeseries(
            4,
            "Requests by response code",
            grid(0, 5, 12, 8),
            "reqps",
            &[(
                &format!("sum by (response_code) (rate(istio_requests_total{{{selector}}}[$__rate_interval]))"),
                "{{response_code}}",
            )],
        ),
        timeseries(
            5,
            "Requests by destination version (traffic split)",
            grid(12, 5, 12, 8),
            "reqps",
            &[(
                &format!("sum by (destination_version) (rate(istio_requests_total{{{selector}}}[$__rate_interval]))"),
                "{{destination_version}}",
            )],
        ),
        timeseries(
            6,
            "Request duration",
            grid(0, 13, 12, 8),
            "ms",
            &[
                (
                    &format!(
                        "histogram_quantile(0.50, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[$__rate_interval])))"
                    ),
                    "p50",
                ),
                (
                    &format!(
                        "histogram_quantile(0.90, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[$__rate_interval])))"
                    ),
                    "p90",
                ),
                (
                    &format!(
                        "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{selector}}}[$__rate_interval])))"
                    ),
                    "p99",
                ),
            ],
        ),
        timeseries(
            7,
            "Incoming requests by source workload",
            grid(12, 13, 12, 8),
            "reqps",
            &[(
                &format!("sum by (source_workload) (rate(istio_requests_total{{{selector}}}[$__rate_interval]))"),
                "{{source_workload}}",
            )],
        ),
        timeseries(
            8,
            "Request and response size (p50)",
            grid(0, 21, 24, 8),
            "decbytes",
            &[
                (
                    &format!(
                        "histogram_quantile(0.50, sum by (le) (rate(istio_request_bytes_bucket{{{selector}}}[$__rate_interval])))"
                    ),
                    "request",
                ),
                (
                    &format!(
                        "histogram_quantile(0.50, sum by (le) (rate(istio_response_bytes_bucket{{{selector}}}[$__rate_interval])))"
                    ),
                    "response",
                ),
            ],
        ),
    ];
    dashboard("panoptes-service", "Istio service", &["istio", "panoptes-demo"], variables, panels)
}

fn workload() -> Value {
    let variables = vec![
        query_variable("namespace", "Namespace", "label_values(istio_requests_total, destination_workload_namespace)"),
        query_variable(
            "workload",
            "Workload",
            r#"label_values(istio_requests_total{destination_workload_namespace="$namespace"}, destination_workload)"#,
        ),
    ];
    let inbound =
        r#"reporter="destination", destination_workload="$workload", destination_workload_namespace="$namespace""#;
    let outbound = r#"reporter="source", source_workload="$workload", source_workload_namespace="$namespace""#;
    let panels = vec![
        row(100, "Inbound", 0),
        json!({
            "id": 1, "type": "gauge", "title": "Inbound success rate", "gridPos": grid(0, 1, 6, 8), "datasource": datasource(),
            "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1, "thresholds": {"mode": "absolute", "steps": [
                {"color": "red", "value": null}, {"color": "orange", "value": 0.95}, {"color": "green", "value": 0.99}]}}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}, "showThresholdMarkers": true},
            "targets": targets(&[(&format!("sum(rate(istio_requests_total{{{inbound}, response_code!~\"5..\"}}[$__rate_interval])) / sum(rate(istio_requests_total{{{inbound}}}[$__rate_interval]))"), "")]),
        }),
        timeseries(
            2,
            "Inbound requests by source and response code",
            grid(6, 1, 9, 8),
            "reqps",
            &[(
                &format!(
                    "sum by (source_workload, response_code) (rate(istio_requests_total{{{inbound}}}[$__rate_interval]))"
                ),
                "{{source_workload}} {{response_code}}",
            )],
        ),
        timeseries(
            3,
            "Inbound request duration",
            grid(15, 1, 9, 8),
            "ms",
            &[
                (
                    &format!(
                        "histogram_quantile(0.50, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{inbound}}}[$__rate_interval])))"
                    ),
                    "p50",
                ),
                (
                    &format!(
                        "histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{{{inbound}}}[$__rate_interval])))"
                    ),
                    "p99",
                ),
            ],
        ),
        row(101, "Outbound", 9),
        timeseries(
            4,
            "Outbound requests by destination service",
            grid(0, 10, 12, 8),
            "reqps",
            &[(
                &format!(
                    "sum by (destination_service_name, destination_version, response_code) (rate(istio_requests_total{{{outbound}}}[$__rate_interval]))"
                ),
                "{{destination_service_name}} {{destination_version}} {{response_code}}",
            )],
        ),
        timeseries(
            5,
            "Outbound request duration (p99)",
            grid(12, 10, 12, 8),
            "ms",
            &[(
                &format!(
                    "histogram_quantile(0.99, sum by (destination_service_name, le) (rate(istio_request_duration_milliseconds_bucket{{{outbound}}}[$__rate_interval])))"
                ),
                "{{destination_service_name}}",
            )],
        ),
        row(102, "TCP", 18),
        timeseries(
            6,
            "Bytes received and sent",
            grid(0, 19, 12, 8),
            "Bps",
            &[
                (&format!("sum(rate(istio_tcp_received_bytes_total{{{inbound}}}[$__rate_interval]))"), "received"),
                (&format!("sum(rate(istio_tcp_sent_bytes_total{{{inbound}}}[$__rate_interval]))"), "sent"),
            ],
        ),
        timeseries(
            7,
            "Connections opened and closed",
            grid(12, 19, 12, 8),
            "cps",
            &[
                (&format!("sum(rate(istio_tcp_connections_opened_total{{{inbound}}}[$__rate_interval]))"), "opened"),
                (&format!("sum(rate(istio_tcp_connections_closed_total{{{inbound}}}[$__rate_interval]))"), "closed"),
            ],
        ),
    ];
    dashboard("panoptes-workload", "Istio workload", &["istio", "panoptes-demo"], variables, panels)
}

fn node() -> Value {
    let variables =
        vec![query_variable("instance", "Instance", r#"label_values(node_uname_info{job="node"}, instance)"#)];
    let panels = vec![
        json!({
            "id": 1, "type": "gauge", "title": "CPU busy", "gridPos": grid(0, 0, 6, 6), "datasource": datasource(),
            "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1, "thresholds": {"mode": "absolute", "steps": [
                {"color": "green", "value": null}, {"color": "orange", "value": 0.7}, {"color": "red", "value": 0.9}]}}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}},
            "targets": targets(&[(r#"1 - avg(rate(node_cpu_seconds_total{instance="$instance", mode="idle"}[$__rate_interval]))"#, "")]),
        }),
        stat(2, "Load (1m)", grid(6, 0, 6, 6), "short", r#"node_load1{instance="$instance"}"#, &[]),
        stat(
            3,
            "Memory available",
            grid(12, 0, 6, 6),
            "bytes",
            r#"node_memory_MemAvailable_bytes{instance="$instance"}"#,
            &[],
        ),
        json!({
            "id": 4, "type": "bargauge", "title": "Filesystem used", "gridPos": grid(18, 0, 6, 6), "datasource": datasource(),
            "fieldConfig": {"defaults": {"unit": "percentunit", "min": 0, "max": 1}, "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false}, "orientation": "horizontal", "displayMode": "gradient"},
            "targets": targets(&[(r#"1 - node_filesystem_avail_bytes{instance="$instance", fstype!~"tmpfs|overlay"} / node_filesystem_size_bytes{instance="$instance", fstype!~"tmpfs|overlay"}"#, "{{mountpoint}}")]),
        }),
        timeseries(
            5,
            "CPU by mode",
            grid(0, 6, 12, 8),
            "percentunit",
            &[(
                r#"sum by (mode) (rate(node_cpu_seconds_total{instance="$instance", mode!="idle"}[$__rate_interval])) / scalar(count(node_cpu_seconds_total{instance="$instance", mode="idle"}))"#,
                "{{mode}}",
            )],
        ),
        timeseries(
            6,
            "Memory used",
            grid(12, 6, 12, 8),
            "bytes",
            &[(
                r#"node_memory_MemTotal_bytes{instance="$instance"} - node_memory_MemAvailable_bytes{instance="$instance"}"#,
                "used",
            )],
        ),
        timeseries(
            7,
            "Network traffic",
            grid(0, 14, 12, 8),
            "Bps",
            &[
                (
                    r#"sum by (device) (rate(node_network_receive_bytes_total{instance="$instance", device!="lo"}[$__rate_interval]))"#,
                    "{{device}} received",
                ),
                (
                    r#"sum by (device) (rate(node_network_transmit_bytes_total{instance="$instance", device!="lo"}[$__rate_interval]))"#,
                    "{{device}} sent",
                ),
            ],
        ),
        timeseries(
            8,
            "Disk I/O",
            grid(12, 14, 12, 8),
            "Bps",
            &[
                (
                    r#"sum by (device) (rate(node_disk_read_bytes_total{instance="$instance"}[$__rate_interval]))"#,
                    "{{device}} read",
                ),
                (
                    r#"sum by (device) (rate(node_disk_written_bytes_total{instance="$instance"}[$__rate_interval]))"#,
                    "{{device}} written",
                ),
            ],
        ),
    ];
    dashboard("panoptes-node", "Node", &["node", "panoptes-demo"], variables, panels)
}
