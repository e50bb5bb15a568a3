//! `panoptes tsdb analyze|dump` on a real data directory, while the database is open in another
//! handle (as when a server runs) and after it is closed.

use std::process::Command;
use std::time::Duration;

use panoptes_storage::Storage;
use panoptes_storage::testsuite::series;
use panoptes_tsdb::{Db, DbOptions};

fn panoptes(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_panoptes")).args(args).output().expect("run panoptes");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn populated() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = DbOptions {
        block_range: Duration::from_secs(600),
        maintenance_interval: Duration::from_secs(3600),
        ..DbOptions::default()
    };
    let db = Db::open(dir.path(), options).expect("open");
    for minute in 0..40i64 {
        let mut appender = db.appender();
        for pod in 0..3 {
            let labels = series("http_requests_total", &[("job", "api"), ("pod", &format!("p{pod}"))]);
            appender.append(&labels, minute * 60_000, (minute * 10 + pod) as f64).expect("append");
        }
        appender.append(&series("up", &[("job", "api")]), minute * 60_000, 1.0).expect("append");
        appender.commit().expect("commit");
    }
    db.run_maintenance();
    assert!(!db.blocks().is_empty(), "some data is in blocks");
    (dir, db)
}

#[test]
fn dump_prints_matching_samples_from_blocks_and_head() {
    let (dir, db) = populated();
    let path = dir.path().to_str().unwrap();
    let (ok, stdout, stderr) = panoptes(&["tsdb", "dump", path, "--match", r#"http_requests_total{pod="p1"}"#]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 40, "{stdout}");
    assert_eq!(lines[0], r#"http_requests_total{job="api", pod="p1"} 1 0"#);
    assert_eq!(lines[39], r#"http_requests_total{job="api", pod="p1"} 391 2340000"#);
    let (ok, stdout, _) = panoptes(&["tsdb", "dump", path, "--min-time", "60000", "--max-time", "60000"]);
    assert!(ok);
    assert_eq!(stdout.lines().count(), 4);
    drop(db);
}

#[test]
fn analyze_reports_cardinality() {
    let (dir, db) = populated();
    db.close().expect("close");
    let (ok, stdout, stderr) = panoptes(&["tsdb", "analyze", dir.path().to_str().unwrap(), "--limit", "3"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("Series: 4\n"), "{stdout}");
    assert!(stdout.contains("Samples: 160\n"), "{stdout}");
    assert!(stdout.contains("Highest cardinality metric names:\n3 http_requests_total\n1 up\n"), "{stdout}");
    assert!(stdout.contains("Highest cardinality labels:\n3 pod\n"), "{stdout}");
}

#[test]
fn bad_input_is_reported_with_a_clear_error() {
    let (dir, _db) = populated();
    let (ok, _, stderr) = panoptes(&["tsdb", "dump", dir.path().to_str().unwrap(), "--match", "up{job="]);
    assert!(!ok);
    assert!(stderr.contains("invalid selector"), "{stderr}");
    let (ok, _, stderr) = panoptes(&["tsdb", "analyze", "/nonexistent/panoptes-data"]);
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/panoptes-data is not a data directory"), "{stderr}");
}
