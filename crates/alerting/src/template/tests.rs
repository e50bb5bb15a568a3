use super::*;

fn alert(labels: &[(&str, &str)], annotations: &[(&str, &str)], is_firing: bool) -> Alert {
    let now = Timestamp::now();
    Alert {
        labels: labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        annotations: annotations.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        starts_at: "2024-03-04T01:30:00Z".parse().unwrap(),
        ends_at: if is_firing {
            now + jiff::SignedDuration::from_secs(300)
        } else {
            now - jiff::SignedDuration::from_secs(1)
        },
        generator_url: "http://prometheus/graph".to_owned(),
        updated_at: now,
        timeout: false,
    }
}

fn data() -> Value {
    let alerts = vec![
        alert(
            &[("alertname", "DiskFull"), ("instance", "a"), ("severity", "critical")],
            &[("summary", "磁盘已满")],
            true,
        ),
        alert(
            &[("alertname", "DiskFull"), ("instance", "b"), ("severity", "critical")],
            &[("summary", "磁盘已满")],
            false,
        ),
    ];
    let group: LabelSet = [("alertname".to_owned(), "DiskFull".to_owned())].into();
    TemplateData::new("ops.team", group, alerts, "http://panoptes:9090").to_value()
}

#[track_caller]
fn check(text: &str, expected: &str) {
    let templates = Templates::from_globs(&[]).unwrap();
    let result = templates.render(text, &data()).unwrap_or_else(|e| format!("error: {e}"));
    assert_eq!(result, expected, "{text}");
}

#[test]
fn exposes_alertmanager_data_and_methods() {
    check("{{ .Status }} {{ .Receiver }} {{ len .Alerts }}", r"firing ops\.team 2");
    check("{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}", "1/1");
    check("{{ range .Alerts.Firing }}{{ .Labels.instance }}{{ end }}", "a");
    check("{{ .CommonLabels.SortedPairs.Values | join \",\" }}", "DiskFull,critical");
    check(
        "{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }};{{ end }}",
        "alertname=DiskFull;severity=critical;",
    );
    check("{{ .CommonLabels.Remove .GroupLabels.Names | len }}", "1");
    check("{{ .CommonAnnotations.summary }} {{ .CommonLabels.missing }}|", "磁盘已满 |");
    check("{{ $a := .Alerts }}{{ len $a.Firing }}", "1");
    check("{{ (index .Alerts 0).StartsAt }}", "2024-03-04 01:30:00 +0000 UTC");
    check("{{ (index .Alerts 0).StartsAt.Format \"2006-01-02\" }}", "2024-03-04");
    check(
        "{{ with index .Alerts 0 }}{{ .StartsAt | tz \"Asia/Shanghai\" | date \"15:04 MST\" }}{{ end }}",
        "09:30 CST",
    );
    check("{{ with index .Alerts 0 }}{{ .StartsAt.Unix }}{{ end }}", "1709515800");
}

#[test]
fn provides_alertmanager_functions() {
    check("{{ toUpper \"a\" }}{{ toLower \"B\" }}{{ title \"hello world\" }}", "AbHello World");
    check("{{ stringSlice \"a\" \"b\" | join \"-\" }}", "a-b");
    check("{{ match \"^Disk\" \"DiskFull\" }} {{ reReplaceAll \"(a)\" \"<$1>\" \"banana\" }}", "true b<a>n<a>n<a>");
    check("{{ safeHtml \"<b>\" }} {{ humanizeDuration 3661 }} {{ humanizeDuration \"1m30s\" }}", "<b> 1h 1m 1s 1m 30s");
    check("{{ with index .Alerts 0 }}{{ since .StartsAt | humanizeDuration | len | lt 0 }}{{ end }}", "true");
}

#[test]
fn default_templates_render_in_chinese_and_english() {
    let templates = Templates::from_globs(&[]).unwrap();
    let render = |name: &str| templates.render(&format!("{{{{ template \"{name}\" . }}}}"), &data()).unwrap();
    assert_eq!(render("__subject"), "[FIRING:1] DiskFull");
    let wecom = render("wecom.default.message");
    assert!(wecom.starts_with("<font color=\"warning\">**【告警】DiskFull (1)**</font>"), "{wecom}");
    assert!(wecom.contains("> 摘要: 磁盘已满") && wecom.contains("<font color=\"info\">已恢复</font>"), "{wecom}");
    assert!(wecom.contains("[在 Panoptes 中查看](http://panoptes:9090/#/alerts?receiver=ops%5C.team)"), "{wecom}");
    let dingtalk = render("dingtalk.default.message");
    assert!(dingtalk.contains("- **告警级别**: critical"), "{dingtalk}");
    assert!(render("feishu.default.message").contains("摘要: 磁盘已满"));
    assert!(render("email.default.html").contains("Resolved / 已恢复 (1)"));
    assert!(render("slack.default.text").contains("*DiskFull* `critical` 磁盘已满"));
}

#[test]
fn operator_templates_override_defaults_and_errors_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("my.tmpl"), r#"{{ define "__subject" }}custom {{ .Status }}{{ end }}"#).unwrap();
    let glob = format!("{}/*.tmpl", dir.path().display());
    let templates = Templates::from_globs(&[glob]).unwrap();
    assert_eq!(templates.render(r#"{{ template "__subject" . }}"#, &data()).unwrap(), "custom firing");
    std::fs::write(dir.path().join("bad.tmpl"), "{{ if }}").unwrap();
    let error = Templates::from_globs(&[format!("{}/bad.tmpl", dir.path().display())]).unwrap_err();
    assert!(error.contains("bad.tmpl"), "{error}");
}

#[test]
fn runaway_templates_fail_instead_of_crashing() {
    let templates = Templates::from_globs(&[]).unwrap();
    let error =
        templates.render(r#"{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}"#, &data());
    assert!(error.is_err());
    let error = templates.render("{{ range $i := 1000000000 }}x{{ end }}", &data());
    assert!(error.is_err());
}
