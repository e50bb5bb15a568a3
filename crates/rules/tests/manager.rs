//! The rule manager across a reload: new `global:` settings reach running groups.

use std::sync::Arc;
use std::time::Duration;

use panoptes_model::{Labels, Matcher};
use panoptes_promql::Engine;
use panoptes_rules::{GlobalRuleSettings, RuleManager, RuleManagerOptions};
use panoptes_storage::{MemStorage, StorageRef, collect_samples};

const RULES: &str = r#"
groups:
  - name: reloaded
    rules:
      - record: answer
        expr: vector(42)
      - alert: Labelled
        expr: vector(1)
        annotations:
          site: "{{ $externalLabels.site }}"
"#;

fn answer_samples(storage: &StorageRef) -> usize {
    let querier = storage.querier(i64::MIN, i64::MAX).expect("querier");
    querier
        .select(&[Matcher::equal("__name__", "answer")])
        .expect("select")
        .map(|series| collect_samples(series.expect("series").samples.as_mut()).len())
        .sum()
}

#[tokio::test]
async fn a_reload_applies_the_new_evaluation_interval_and_external_labels() {
    let dir = std::env::temp_dir().join(format!("panoptes-rules-manager-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("rules.yml");
    std::fs::write(&path, RULES).expect("rule file");
    let path = path.to_string_lossy().into_owned();

    let storage: StorageRef = Arc::new(MemStorage::new());
    let manager = RuleManager::new(storage.clone(), Engine::default(), RuleManagerOptions::default(), None);
    manager.update(&[&path]).expect("first load");
    assert_eq!(manager.rule_groups().groups[0].interval, 60.0, "the start-up default");

    let globals = GlobalRuleSettings {
        evaluation_interval: Duration::from_secs(1),
        query_offset: Duration::ZERO,
        external_labels: Labels::from_pairs([("site", "shanghai")]),
    };
    manager.update_with(&[&path], globals).expect("reload");
    assert_eq!(manager.rule_groups().groups[0].interval, 1.0, "the reloaded global interval");

    // On a one-second schedule the group evaluates several times within a few seconds; on the
    // old one-minute schedule it would evaluate at most once.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while answer_samples(&storage) < 3 {
        assert!(std::time::Instant::now() < deadline, "the group did not run on the new interval");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let alerts = manager.alerts().alerts;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].annotations.get("site").map(String::as_str), Some("shanghai"), "new external labels");

    // A plain update keeps the reloaded settings.
    manager.update(&[&path]).expect("update");
    assert_eq!(manager.rule_groups().groups[0].interval, 1.0);
    std::fs::remove_dir_all(&dir).expect("clean up");
}
