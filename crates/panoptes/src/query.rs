//! `panoptes query instant|range|series|labels`: queries a Prometheus-compatible server over its
//! HTTP API and prints the result exactly as `promtool query` does (Go's `model.Value` text).

use std::process::ExitCode;

use anyhow::{Context as _, anyhow};
use serde_json::Value as Json;

use crate::cli::{InstantQueryArgs, LabelsQueryArgs, QueryCommand, RangeQueryArgs, SeriesQueryArgs, TimeRangeArgs};

/// Runs one query command; a failed query prints `query error: ...` and exits with 1.
///
/// # Errors
///
/// Returns an error when the async runtime cannot start.
pub(crate) fn run(command: QueryCommand) -> anyhow::Result<ExitCode> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    match runtime.block_on(execute(command)) {
        Ok(text) => {
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("query error: {error:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn execute(command: QueryCommand) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    match command {
        QueryCommand::Instant(args) => instant(&client, args).await,
        QueryCommand::Range(args) => range(&client, args).await,
        QueryCommand::Series(args) => series(&client, args).await,
        QueryCommand::Labels(args) => labels(&client, args).await,
    }
}

async fn instant(client: &reqwest::Client, args: InstantQueryArgs) -> anyhow::Result<String> {
    let mut form = vec![("query", args.expr)];
    form.push(("time", args.time.unwrap_or_else(|| seconds_text(panoptes_model::time::now_millis()))));
    let data = call(client, &args.server, "/api/v1/query", &form).await?;
    format_result(&data)
}

async fn range(client: &reqwest::Client, args: RangeQueryArgs) -> anyhow::Result<String> {
    let end = args.end.unwrap_or_else(|| seconds_text(panoptes_model::time::now_millis()));
    let start = match args.start {
        Some(start) => start,
        None => {
            let end_seconds: f64 =
                end.parse().map_err(|_| anyhow!("--start is required when --end is not in seconds"))?;
            seconds_text((end_seconds * 1000.0) as i64 - 5 * 60_000)
        }
    };
    let step = match args.step {
        Some(step) => step,
        // promtool's default: (end - start) / 250, at least a second.
        None => match (start.parse::<f64>(), end.parse::<f64>()) {
            (Ok(start), Ok(end)) => format!("{}", ((end - start) / 250.0).floor().max(1.0)),
            _ => "15s".to_owned(),
        },
    };
    let form = vec![("query", args.expr), ("start", start), ("end", end), ("step", step)];
    let data = call(client, &args.server, "/api/v1/query_range", &form).await?;
    format_result(&data)
}

/// Returns the form of a series or labels query: every `match[]`, then the optional range.
fn selection_form(matches: Vec<String>, range: TimeRangeArgs) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&str, String)> = matches.into_iter().map(|m| ("match[]", m)).collect();
    form.extend(range.start.map(|start| ("start", start)));
    form.extend(range.end.map(|end| ("end", end)));
    form
}

async fn series(client: &reqwest::Client, args: SeriesQueryArgs) -> anyhow::Result<String> {
    let form = selection_form(args.matches, args.range);
    let data = call(client, &args.server, "/api/v1/series", &form).await?;
    let list = data.as_array().ok_or_else(|| anyhow!("unexpected series answer: {data}"))?;
    let lines: Vec<String> = list.iter().map(|labels| label_set_text(labels, true)).collect::<anyhow::Result<_>>()?;
    Ok(lines.join("\n"))
}

async fn labels(client: &reqwest::Client, args: LabelsQueryArgs) -> anyhow::Result<String> {
    let form = selection_form(args.matches, args.range);
    let data = match &args.name {
        Some(name) => {
            let path = format!("/api/v1/label/{name}/values");
            let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
            get(client, &args.server, &format!("{path}?{query}")).await?
        }
        None => call(client, &args.server, "/api/v1/labels", &form).await?,
    };
    let list = data.as_array().ok_or_else(|| anyhow!("unexpected labels answer: {data}"))?;
    Ok(list.iter().map(|value| value.as_str().unwrap_or_default().to_owned()).collect::<Vec<_>>().join("\n"))
}

/// POSTs a form to `path` and returns the answer's `data`.
async fn call(client: &reqwest::Client, server: &str, path: &str, form: &[(&str, String)]) -> anyhow::Result<Json> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let response = client
        .post(format!("{}{path}", server.trim_end_matches('/')))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    read_data(response).await
}

/// GETs `path_and_query` and returns the answer's `data`.
async fn get(client: &reqwest::Client, server: &str, path_and_query: &str) -> anyhow::Result<Json> {
    let response = client
        .get(format!("{}{path_and_query}", server.trim_end_matches('/')))
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    read_data(response).await
}

/// Returns `data` of a success envelope, or the envelope's error as Go's client prints it
/// (`bad_data: ...`).
async fn read_data(response: reqwest::Response) -> anyhow::Result<Json> {
    let status = response.status();
    let text = response.text().await.context("reading the answer")?;
    let envelope: Json =
        serde_json::from_str(&text).map_err(|_| anyhow!("server answered {status}: {}", text.trim()))?;
    if envelope["status"] == "success" {
        return Ok(envelope["data"].clone());
    }
    let error_type = envelope["errorType"].as_str().unwrap_or("unknown");
    let message = envelope["error"].as_str().unwrap_or_default();
    Err(anyhow!("{error_type}: {message}"))
}

/// Formats a query result as Go's `model.Value.String()`.
fn format_result(data: &Json) -> anyhow::Result<String> {
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("vector") => {
            let mut lines = Vec::new();
            for sample in result.as_array().into_iter().flatten() {
                lines.push(format!(
                    "{} => {}",
                    label_set_text(&sample["metric"], false)?,
                    point_text(&sample["value"])?
                ));
            }
            Ok(lines.join("\n"))
        }
        Some("matrix") => {
            let mut streams = Vec::new();
            for series in result.as_array().into_iter().flatten() {
                let mut lines = vec![format!("{} =>", label_set_text(&series["metric"], false)?)];
                for point in series["values"].as_array().into_iter().flatten() {
                    lines.push(point_text(point)?);
                }
                streams.push(lines.join("\n"));
            }
            // Go sorts a matrix by its metrics' label sets before printing; the server already
            // returns it sorted.
            Ok(streams.join("\n"))
        }
        Some("scalar") => Ok(format!("scalar: {}", point_text(result)?)),
        Some("string") => {
            let value = result[1].as_str().unwrap_or_default();
            Ok(format!("{value} @[{}]", timestamp_text(&result[0])?))
        }
        other => Err(anyhow!("unexpected result type {other:?}")),
    }
}

/// `value @[timestamp]`.
fn point_text(point: &Json) -> anyhow::Result<String> {
    let value = point[1].as_str().ok_or_else(|| anyhow!("unexpected sample {point}"))?;
    Ok(format!("{value} @[{}]", timestamp_text(&point[0])?))
}

/// A JSON timestamp in seconds, printed as Go's `model.Time.String()`.
fn timestamp_text(value: &Json) -> anyhow::Result<String> {
    let seconds = value.as_f64().ok_or_else(|| anyhow!("unexpected timestamp {value}"))?;
    Ok(seconds_text((seconds * 1000.0).round() as i64))
}

/// Milliseconds as seconds without trailing zeros.
fn seconds_text(millis: i64) -> String {
    let sign = if millis < 0 { "-" } else { "" };
    let abs = millis.unsigned_abs();
    match abs % 1000 {
        0 => format!("{sign}{}", abs / 1000),
        fraction => format!("{sign}{}.{}", abs / 1000, format!("{fraction:03}").trim_end_matches('0')),
    }
}

/// Formats a label set as Go: `model.Metric` (`name{a="b", c="d"}`) or, with `all_braced`,
/// `model.LabelSet` (`{__name__="name", a="b"}`).
fn label_set_text(labels: &Json, all_braced: bool) -> anyhow::Result<String> {
    let object = labels.as_object().ok_or_else(|| anyhow!("unexpected label set {labels}"))?;
    let mut pairs: Vec<(&str, &str)> =
        object.iter().map(|(name, value)| (name.as_str(), value.as_str().unwrap_or_default())).collect();
    pairs.sort();
    let name = if all_braced { None } else { object.get("__name__").and_then(Json::as_str) };
    let rest: Vec<String> = pairs
        .iter()
        .filter(|(label, _)| all_braced || *label != "__name__")
        .map(|(label, value)| format!("{label}={}", go_quote(value)))
        .collect();
    Ok(match (name, rest.is_empty()) {
        (Some(name), true) => name.to_owned(),
        (None, true) => "{}".to_owned(),
        (name, false) => format!("{}{{{}}}", name.unwrap_or_default(), rest.join(", ")),
    })
}

/// Quotes like Go's `%q`.
fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[track_caller]
    fn check(data: Json, expected: &str) {
        assert_eq!(format_result(&data).unwrap(), expected);
    }

    #[test]
    fn results_print_like_promtool() {
        check(
            json!({"resultType": "vector", "result": [
                {"metric": {"__name__": "up", "job": "a", "instance": "x\"y"}, "value": [1700000000.5, "1"]},
                {"metric": {}, "value": [1700000000, "+Inf"]},
            ]}),
            "up{instance=\"x\\\"y\", job=\"a\"} => 1 @[1700000000.5]\n{} => +Inf @[1700000000]",
        );
        check(
            json!({"resultType": "matrix", "result": [
                {"metric": {"__name__": "up"}, "values": [[1, "1"], [16, "NaN"]]},
            ]}),
            "up =>\n1 @[1]\nNaN @[16]",
        );
        check(json!({"resultType": "scalar", "result": [1.25, "2"]}), "scalar: 2 @[1.25]");
        check(json!({"resultType": "vector", "result": []}), "");
    }

    #[test]
    fn series_print_as_label_sets() {
        let labels = json!({"job": "a", "__name__": "up"});
        assert_eq!(label_set_text(&labels, true).unwrap(), "{__name__=\"up\", job=\"a\"}");
    }
}
