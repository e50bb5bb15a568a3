use super::*;

#[track_caller]
fn error(yaml: &str) -> String {
    match parse_str(yaml, "am.yml") {
        Ok(_) => panic!("expected an error for {yaml}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn loads_the_seed_notes_configuration() {
    let config = load_file("../../../shared/testdata/seed-configs/notes-alertmanager.yml").unwrap();
    assert_eq!(config.receivers.len(), 2);
    let email = &config.receivers[1].email_configs[0];
    assert_eq!(email.smarthost.as_deref(), Some("localhost:25"));
    assert_eq!(email.from.as_deref(), Some("alertmanager@example.org"));
    assert_eq!(config.route.routes[0].group_wait, Some(ConfigDuration(Duration::from_secs(10))));
    assert_eq!(config.global.resolve_timeout.0, Duration::from_secs(300));
}

#[test]
fn loads_native_chinese_receivers() {
    let config = parse_str(
        r#"
route: {receiver: ops}
receivers:
- name: ops
  wecom_configs: [{key: abc, mentioned_mobile_list: ["13800000000"]}]
  dingtalk_configs: [{access_token: t, secret: SECxyz, at_mobiles: ["13800000000"]}]
  feishu_configs: [{webhook_url: "https://open.feishu.cn/open-apis/bot/v2/hook/x", secret: s, msg_type: post}]
"#,
        "am.yml",
    )
    .unwrap();
    let receiver = &config.receivers[0];
    assert_eq!(receiver.wecom_configs[0].url(), "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc");
    assert_eq!(receiver.dingtalk_configs[0].url(), "https://oapi.dingtalk.com/robot/send?access_token=t");
    assert!(receiver.feishu_configs[0].send_resolved);
    assert_eq!(receiver.integration_count(), 3);
    // Secrets never print.
    let debug = format!("{config:?}");
    assert!(!debug.contains("SECxyz") && !debug.contains("abc"), "{debug}");
    assert!(!config.to_string().contains("SECxyz"));
}

#[test]
fn errors_name_file_line_and_column() {
    assert_eq!(
        error("route:\n  receiver: x\nreceivers:\n- name: y\n"),
        r#"am.yml:2:3: undefined receiver "x" used in route"#
    );
    assert_eq!(
        error("route:\n  receiver: y\n  routes:\n  - receiver: z\nreceivers:\n- name: y\n"),
        r#"am.yml:4:5: undefined receiver "z" used in route"#
    );
    assert_eq!(
        error("route: {receiver: y}\nreceivers:\n- name: y\n- name: y\n"),
        r#"am.yml:4:3: notification config name "y" is not unique"#
    );
    let unknown = error("route: {receiver: y, recevier: z}\nreceivers: [{name: y}]\n");
    assert!(unknown.starts_with("am.yml:1:22: unknown field `recevier`"), "{unknown}");
    let matcher = error("route:\n  receiver: y\n  routes:\n  - matchers: ['a=~(']\nreceivers: [{name: y}]\n");
    assert!(matcher.starts_with("am.yml:4:") && matcher.contains("bad matcher"), "{matcher}");
    assert_eq!(
        error("route: {receiver: y}\nreceivers:\n- name: y\n  pagerduty_configs: [{routing_key: x}]\n"),
        "am.yml:4:3: pagerduty_configs is not supported by Panoptes (supported: webhook_configs, email_configs, slack_configs, wechat_configs, wecom_configs, dingtalk_configs, feishu_configs)"
    );
    assert_eq!(error("receivers: [{name: y}]\n"), "am.yml: no routes provided");
    assert!(
        error("route: {receiver: y}\nreceivers:\n- name: y\n  email_configs: [{to: a@b}]\n")
            .ends_with("no global SMTP smarthost set")
    );
    assert!(
        error("route: {receiver: y}\nreceivers:\n- name: y\n  wecom_configs: [{msgtype: markdown}]\n")
            .ends_with("one of webhook_url or key must be configured in wecom_configs")
    );
    assert_eq!(
        error("route:\n  receiver: y\n  routes:\n  - mute_time_intervals: [night]\nreceivers: [{name: y}]\n"),
        r#"am.yml:4:5: undefined time interval "night" used in route"#
    );
    assert!(
        error("route: {receiver: y, group_by: ['...', a]}\nreceivers: [{name: y}]\n")
            .contains("cannot have wildcard group_by")
    );
    assert!(
        error("route: {receiver: y, matchers: [a=b]}\nreceivers: [{name: y}]\n")
            .ends_with("root route must not have any matchers")
    );
    assert!(
        error("route: {receiver: y, repeat_interval: 0s}\nreceivers: [{name: y}]\n")
            .contains("repeat_interval cannot be zero")
    );
}

#[test]
fn routes_test_reports_receivers_like_amtool() {
    let config = load_file("../../../shared/testdata/seed-configs/notes-alertmanager.yml").unwrap();
    assert_eq!(routes_test(&config, &["team=node".to_owned()]).unwrap(), ["email"]);
    assert_eq!(routes_test(&config, &["team=db".to_owned()]).unwrap(), ["default"]);
    assert_eq!(format_routes_test(&["email".to_owned()], Some("email")), ("email\n".to_owned(), true));
    assert_eq!(
        format_routing_tree(&config).unwrap(),
        "Routing tree:\n.\n└── default-route  receiver: default\n    └── {team=\"node\"}  receiver: email\n"
    );
}

#[test]
fn malformed_files_are_errors_not_panics() {
    for text in [
        "",
        "route: 5\n",
        "[]\n",
        "route: {receiver: y}\nreceivers: {}\n",
        "route:\n  receiver: [a]\n",
        "\t:\n",
        "route: {receiver: y, routes: [5]}\nreceivers: [{name: y}]\n",
    ] {
        assert!(parse_str(text, "am.yml").is_err(), "{text:?}");
    }
    assert_eq!(error(""), "am.yml: no route provided in config");
}

#[test]
fn check_report_prints_template_failures_like_amtool() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.tmpl"), "{{ define \"x\" }}hi{{ end \n").unwrap();
    let path = dir.path().join("t.yml");
    std::fs::write(&path, "route: {receiver: y}\nreceivers: [{name: y}]\ntemplates: ['*.tmpl']\n").unwrap();
    let report = check_config(&path);
    assert!(!report.is_success());
    let rendered = report.render();
    assert!(rendered.contains(" - 1 templates\n  FAILED: template: "), "{rendered}");
}
