//! Store semantics beyond the differential test: persistence details, corrupt files, limits,
//! and the exposition page's shape.

use super::path::GroupingKey;
use super::render::render_exposition;
use super::store::{PushError, PushLimits, PushMode, PushStore, STORE_FILE_NAME, parse_push_body};

fn key(job: &str) -> GroupingKey {
    [("job".to_owned(), job.to_owned())].into_iter().collect()
}

fn push(store: &PushStore, job: &str, body: &str, mode: PushMode) -> Result<(), PushError> {
    let (families, has_timestamps) = parse_push_body(body.as_bytes(), store.limits())?;
    let outcome = store.push(&key(job), families, has_timestamps, mode, 1_700_000_000_000);
    outcome.persist.expect("persist");
    outcome.push
}

#[test]
fn store_round_trips_special_values_and_failures_through_its_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = PushStore::open(dir.path(), PushLimits::default()).expect("open");
    push(
        &store,
        "a",
        "# HELP weird Help with \\\\ and \\n.\nweird{l=\"x\\\"y\"} NaN\ninf_metric +Inf\n",
        PushMode::ReplaceGroup,
    )
    .expect("push");
    let refused = push(&store, "b", "m 1 1000\n", PushMode::ReplaceGroup);
    assert!(matches!(refused, Err(PushError::Inconsistent(_))));
    let before = store.groups();
    let reopened = PushStore::open(dir.path(), PushLimits::default()).expect("reopen");
    let after = reopened.groups();
    assert_eq!(after.len(), 2);
    assert_eq!(after[1].push_failure_time_seconds, 1_700_000_000.0, "a refused push is remembered");
    assert_eq!(after[1].push_time_seconds, 0.0);
    let weird = &after[0].families["weird"];
    assert!(weird.series[0].value.is_nan());
    assert_eq!(weird.help, "Help with \\ and \n.");
    assert_eq!(render_exposition(&after), render_exposition(&before));
}

#[test]
fn corrupt_file_is_set_aside_and_the_store_starts_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(STORE_FILE_NAME), b"{not json").expect("write");
    let store = PushStore::open(dir.path(), PushLimits::default()).expect("open never fails on damage");
    assert!(store.groups().is_empty());
    assert!(dir.path().join("pushgateway.json.corrupt").exists());
}

#[test]
fn in_memory_store_writes_no_file_and_limits_apply() {
    let limits = PushLimits { max_series_per_push: 2, max_groups: 1, ..PushLimits::default() };
    let store = PushStore::in_memory(limits);
    assert!(matches!(push(&store, "a", "a 1\nb 2\nc 3\n", PushMode::ReplaceGroup), Err(PushError::Malformed(_))));
    push(&store, "a", "a 1\n", PushMode::ReplaceGroup).expect("first group");
    let error = push(&store, "b", "a 1\n", PushMode::ReplaceGroup).expect_err("second group over the limit");
    assert!(error.to_string().contains("limit"), "{error}");
    store.close().expect("nothing to write");
}

#[test]
fn exposition_page_carries_grouping_labels_and_empty_instance() {
    let store = PushStore::in_memory(PushLimits::default());
    push(&store, "batch", "# TYPE done counter\ndone{job=\"ignored\"} 3\n", PushMode::ReplaceGroup).expect("push");
    let page = render_exposition(&store.groups());
    assert!(page.contains("# TYPE done counter\ndone{instance=\"\",job=\"batch\"} 3\n"), "{page}");
    assert!(page.contains("push_time_seconds{instance=\"\",job=\"batch\"} 1.7e+09\n"), "{page}");
    assert!(page.contains("push_failure_time_seconds{instance=\"\",job=\"batch\"} 0\n"), "{page}");
    store.delete(&key("batch")).expect("delete");
    assert_eq!(render_exposition(&store.groups()), "");
}
