use super::*;
use crate::matchers::parse_matchers;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + seconds).unwrap()
}

fn options() -> HistoryOptions {
    HistoryOptions {
        retention: Duration::from_secs(3 * 3600),
        segment_duration: Duration::from_secs(3600),
        sync: false,
        max_query_limit: 1000,
    }
}

fn state(alertname: &str, from: &str, to: &str) -> HistoryEvent {
    let labels: LabelSet = [("alertname".to_owned(), alertname.to_owned())].into();
    HistoryEvent::State(StateChange {
        source: StateSource::Rules,
        from: from.to_owned(),
        to: to.to_owned(),
        group: Some("rules.yml;demo".to_owned()),
        fingerprint: crate::types::fingerprint_string(crate::types::fingerprint(&labels)),
        labels,
        annotations: LabelSet::new(),
        value: Some(1.0),
        muted_by: Vec::new(),
    })
}

fn delivery(receiver: &str, alertname: &str, outcome: Outcome, status_code: u16) -> HistoryEvent {
    HistoryEvent::Delivery(DeliveryAttempt {
        receiver: receiver.to_owned(),
        integration: "webhook".to_owned(),
        integration_index: 0,
        group_key: "{}:{}".to_owned(),
        alerts: vec![DeliveredAlert {
            fingerprint: "0".repeat(16),
            status: "firing".to_owned(),
            labels: [("alertname".to_owned(), alertname.to_owned())].into(),
        }],
        alerts_total: 1,
        attempt: 1,
        outcome,
        status_code: Some(status_code),
        error: None,
        duration_seconds: 0.01,
    })
}

fn query(history: &History, query: HistoryQuery) -> Vec<(u64, Timestamp)> {
    history.query(&query).unwrap().records.iter().map(|record| (record.seq, record.time)).collect()
}

fn all(limit: usize) -> HistoryQuery {
    HistoryQuery { limit, ..HistoryQuery::default() }
}

#[test]
fn queries_return_newest_first_with_filters() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), options()).unwrap();
    history
        .append([
            (at(0), state("A", "inactive", "pending")),
            (at(10), state("A", "pending", "firing")),
            (at(11), delivery("hook", "A", Outcome::Retry, 500)),
            (at(12), delivery("hook", "A", Outcome::Success, 200)),
            (at(20), state("B", "inactive", "pending")),
            (at(30), delivery("other", "B", Outcome::Success, 200)),
        ])
        .unwrap();
    assert_eq!(query(&history, all(100)).iter().map(|r| r.0).collect::<Vec<_>>(), [5, 4, 3, 2, 1, 0]);
    let kind = HistoryQuery { kind: Some(EventKind::State), ..all(100) };
    assert_eq!(query(&history, kind).iter().map(|r| r.0).collect::<Vec<_>>(), [4, 1, 0]);
    let receiver = HistoryQuery { receiver: Some("hook".to_owned()), ..all(100) };
    assert_eq!(query(&history, receiver).iter().map(|r| r.0).collect::<Vec<_>>(), [3, 2]);
    let matchers = HistoryQuery { matchers: vec![Matchers(parse_matchers("{alertname=\"B\"}").unwrap())], ..all(100) };
    assert_eq!(query(&history, matchers).iter().map(|r| r.0).collect::<Vec<_>>(), [5, 4]);
    let range = HistoryQuery { start: Some(at(10)), end: Some(at(12)), ..all(100) };
    assert_eq!(query(&history, range).iter().map(|r| r.0).collect::<Vec<_>>(), [3, 2, 1]);
    let page = history.query(&all(2)).unwrap();
    assert!(page.is_truncated);
    assert_eq!(page.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [5, 4]);
    assert!(!history.query(&all(6)).unwrap().is_truncated);
}

#[test]
fn records_survive_reopening_and_a_torn_last_line_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    {
        let history = History::open(dir.path(), options()).unwrap();
        history.append([(at(0), state("A", "inactive", "pending")), (at(1), state("A", "pending", "firing"))]).unwrap();
    }
    // A crash in the middle of a write leaves part of a record.
    let segment = list_segments(dir.path()).unwrap()[0];
    let path = segment_path(dir.path(), segment);
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    file.write_all(br#"{"seq":2,"time":"2023-11-14T22:13:22Z","kind":"sta"#).unwrap();
    drop(file);
    let history = History::open(dir.path(), options()).unwrap();
    history.append([(at(2), state("A", "firing", "resolved"))]).unwrap();
    let records = history.query(&all(100)).unwrap().records;
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 1, 0]);
    let HistoryEvent::State(change) = &records[0].event else { panic!("not a state change") };
    assert_eq!(change.to, "resolved");
    // Every line of the file decodes again.
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.lines().all(|line| serde_json::from_str::<HistoryRecord>(line).is_ok()));
}

#[test]
fn sequence_numbers_continue_from_an_older_segment_when_the_newest_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    {
        let history = History::open(dir.path(), options()).unwrap();
        history.append([(at(0), state("A", "inactive", "pending"))]).unwrap();
    }
    // The newest segment was created, then the process died before the first write landed.
    std::fs::write(segment_path(dir.path(), millis(at(7200))), b"").unwrap();
    let history = History::open(dir.path(), options()).unwrap();
    history.append([(at(7300), state("A", "pending", "firing"))]).unwrap();
    assert_eq!(query(&history, all(10)).iter().map(|r| r.0).collect::<Vec<_>>(), [1, 0]);
}

#[test]
fn retention_deletes_whole_segments_past_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), options()).unwrap();
    // One record in each of six hourly segments.
    for hour in 0..6 {
        history.append([(at(hour * 3600 + 60), state("A", "inactive", "pending"))]).unwrap();
    }
    assert_eq!(list_segments(dir.path()).unwrap().len(), 6);
    // Three hours of retention at 5h30m after the first record: the segments of hours 0 and 1
    // hold only records older than 2h30m, the segment of hour 2 still holds a younger one.
    let deleted = history.apply_retention(at(5 * 3600 + 1800)).unwrap();
    assert_eq!(deleted, 2);
    assert_eq!(list_segments(dir.path()).unwrap().len(), 4);
    let times: Vec<Timestamp> = query(&history, all(100)).iter().map(|r| r.1).collect();
    assert_eq!(times.last(), Some(&at(2 * 3600 + 60)));
    // The newest segment is never deleted, however old.
    assert_eq!(history.apply_retention(at(100 * 3600)).unwrap(), 3);
    assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
    assert_eq!(history.query(&all(100)).unwrap().records.len(), 1);
}

#[test]
fn queries_stop_early_and_respect_time_ranges_across_segments() {
    let dir = tempfile::tempdir().unwrap();
    let history =
        History::open(dir.path(), HistoryOptions { retention: Duration::from_secs(1 << 30), ..options() }).unwrap();
    for minute in 0..600 {
        history.append([(at(minute * 60), state("A", "inactive", "pending"))]).unwrap();
    }
    assert_eq!(list_segments(dir.path()).unwrap().len(), 11);
    let newest = query(&history, all(3));
    assert_eq!(newest.iter().map(|r| r.1).collect::<Vec<_>>(), [at(599 * 60), at(598 * 60), at(597 * 60)]);
    let window = HistoryQuery { start: Some(at(60 * 60)), end: Some(at(61 * 60)), ..all(100) };
    assert_eq!(query(&history, window).iter().map(|r| r.1).collect::<Vec<_>>(), [at(61 * 60), at(60 * 60)]);
    let old = HistoryQuery { end: Some(at(2 * 60)), ..all(2) };
    assert_eq!(query(&history, old).iter().map(|r| r.1).collect::<Vec<_>>(), [at(120), at(60)]);
}

#[test]
fn a_clock_going_back_keeps_appending_to_the_newest_segment() {
    let dir = tempfile::tempdir().unwrap();
    let history = History::open(dir.path(), options()).unwrap();
    history.append([(at(7200), state("A", "inactive", "pending"))]).unwrap();
    history.append([(at(0), state("A", "pending", "firing"))]).unwrap();
    assert_eq!(list_segments(dir.path()).unwrap().len(), 1);
    assert_eq!(query(&history, all(10)), [(0, at(7200)), (1, at(0))]);
}
