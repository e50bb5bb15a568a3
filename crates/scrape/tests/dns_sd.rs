//! DNS service discovery against a DNS server on loopback speaking the real wire format
//! (`panoptes_test_util::fake_dns`, a faithful fake: no real zone can be served here): every
//! record type, Prometheus' `__meta_dns_*` labels, NXDOMAIN and empty answers, failures keeping
//! the previous targets, truncated UDP answers retried over TCP, and configuration errors that
//! name the field.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use panoptes_scrape::config::{DnsSdConfig, parse_str};
use panoptes_scrape::discovery::TargetGroup;
use panoptes_scrape::discovery::dns::{DnsDiscoverer, DnsRecordType, DnsResolver};
use panoptes_test_util::fake_dns::{FakeDns, FakeRecord};

fn config(names: &[&str], record_type: Option<&str>, port: u16) -> DnsSdConfig {
    DnsSdConfig {
        names: names.iter().map(|name| (*name).to_owned()).collect(),
        refresh_interval: None,
        record_type: record_type.map(str::to_owned),
        port,
    }
}

/// Renders a group's targets as sorted `label=value` lists, for readable comparisons.
fn targets(group: &TargetGroup) -> Vec<String> {
    let mut rendered: Vec<String> = group
        .targets
        .iter()
        .map(|target| target.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(" "))
        .collect();
    rendered.sort();
    rendered
}

fn srv(port: u16, target: &str) -> FakeRecord {
    FakeRecord::Srv { priority: 10, weight: 5, port, target: target.to_owned() }
}

#[tokio::test]
async fn every_record_type_becomes_targets_with_prometheus_meta_labels() {
    let dns = FakeDns::start().await;
    dns.set_records("_api._tcp.example.org", &[srv(8080, "api-1.example.org"), srv(9090, "api-2.example.org.")]);
    dns.set_records(
        "web.example.org",
        &[FakeRecord::A(Ipv4Addr::new(10, 0, 0, 1)), FakeRecord::A(Ipv4Addr::new(10, 0, 0, 2))],
    );
    dns.set_records("v6.example.org", &[FakeRecord::Aaaa(Ipv6Addr::LOCALHOST)]);
    dns.set_records(
        "example.org",
        &[
            FakeRecord::Mx { preference: 10, exchange: "mail.example.org".to_owned() },
            FakeRecord::Ns("ns1.example.org".to_owned()),
        ],
    );
    let resolver = DnsResolver::with_name_servers(&[dns.address()]);

    let mut srv_discoverer =
        DnsDiscoverer::new(&config(&["_api._tcp.example.org."], None, 0), resolver.clone()).unwrap();
    let groups = srv_discoverer.refresh().await;
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].source, "_api._tcp.example.org.");
    assert_eq!(
        targets(&groups[0]),
        [
            "__address__=api-1.example.org:8080 __meta_dns_name=_api._tcp.example.org. \
         __meta_dns_srv_record_port=8080 __meta_dns_srv_record_target=api-1.example.org.",
            "__address__=api-2.example.org:9090 __meta_dns_name=_api._tcp.example.org. \
         __meta_dns_srv_record_port=9090 __meta_dns_srv_record_target=api-2.example.org.",
        ]
    );

    let check = |name: &'static str, record_type: &'static str, expected: Vec<&'static str>| {
        let resolver = resolver.clone();
        async move {
            let mut discoverer = DnsDiscoverer::new(&config(&[name], Some(record_type), 9100), resolver).unwrap();
            let groups = discoverer.refresh().await;
            assert_eq!(targets(&groups[0]), expected, "{record_type} {name}");
        }
    };
    check(
        "web.example.org.",
        "A",
        vec![
            "__address__=10.0.0.1:9100 __meta_dns_name=web.example.org.",
            "__address__=10.0.0.2:9100 __meta_dns_name=web.example.org.",
        ],
    )
    .await;
    check("v6.example.org.", "aaaa", vec!["__address__=[::1]:9100 __meta_dns_name=v6.example.org."]).await;
    check("example.org.", "MX", vec![
        "__address__=mail.example.org:9100 __meta_dns_mx_record_target=mail.example.org. __meta_dns_name=example.org.",
    ])
    .await;
    check("example.org.", "NS", vec![
        "__address__=ns1.example.org:9100 __meta_dns_name=example.org. __meta_dns_ns_record_target=ns1.example.org.",
    ])
    .await;
    assert!(dns.queries() >= 5, "the server was asked");
}

#[tokio::test]
async fn missing_names_empty_their_group_and_failures_keep_the_previous_one() {
    let dns = FakeDns::start().await;
    dns.set_records("a.example.org", &[FakeRecord::A(Ipv4Addr::new(10, 0, 0, 1))]);
    dns.set_records("b.example.org", &[FakeRecord::A(Ipv4Addr::new(10, 0, 1, 1))]);
    let resolver = DnsResolver::with_name_servers(&[dns.address()]);
    let names = ["a.example.org.", "b.example.org.", "c.example.org."];
    let mut discoverer = DnsDiscoverer::new(&config(&names, Some("A"), 80), resolver).unwrap();
    let addresses = |groups: &[TargetGroup]| -> BTreeMap<String, Vec<String>> {
        groups
            .iter()
            .map(|group| (group.source.clone(), group.targets.iter().map(|t| t["__address__"].clone()).collect()))
            .collect()
    };
    let first = discoverer.refresh().await;
    // c does not exist: an empty group, as Prometheus sends for NXDOMAIN.
    assert_eq!(
        addresses(&first),
        BTreeMap::from([
            ("a.example.org.".to_owned(), vec!["10.0.0.1:80".to_owned()]),
            ("b.example.org.".to_owned(), vec!["10.0.1.1:80".to_owned()]),
            ("c.example.org.".to_owned(), vec![]),
        ])
    );

    // a fails (SERVFAIL): its previous targets stay. b changes; c now exists with records of
    // another type only (an empty NOERROR answer).
    dns.set_failing("a.example.org", true);
    dns.set_records("b.example.org", &[FakeRecord::A(Ipv4Addr::new(10, 0, 1, 2))]);
    dns.set_records("c.example.org", &[FakeRecord::Aaaa(Ipv6Addr::LOCALHOST)]);
    let second = discoverer.refresh().await;
    assert_eq!(
        addresses(&second),
        BTreeMap::from([
            ("a.example.org.".to_owned(), vec!["10.0.0.1:80".to_owned()]),
            ("b.example.org.".to_owned(), vec!["10.0.1.2:80".to_owned()]),
            ("c.example.org.".to_owned(), vec![]),
        ])
    );

    // a answers again, now without the name: its targets go.
    dns.set_failing("a.example.org", false);
    dns.set_records("a.example.org", &[]);
    let third = discoverer.refresh().await;
    assert_eq!(addresses(&third)["a.example.org."], Vec::<String>::new());
}

#[tokio::test]
async fn answers_too_long_for_udp_are_read_over_tcp_and_cnames_are_followed() {
    let dns = FakeDns::start().await;
    let records: Vec<FakeRecord> = (0..40).map(|i| srv(9000 + i, &format!("backend-{i}.pods.example.org"))).collect();
    dns.set_records("_metrics._tcp.example.org", &records);
    dns.set_records("alias.example.org", &[FakeRecord::Cname("web.example.org".to_owned())]);
    dns.set_records("web.example.org", &[FakeRecord::A(Ipv4Addr::new(192, 0, 2, 7))]);
    let resolver = DnsResolver::with_name_servers(&[dns.address()]);

    let group = resolver.lookup_group("_metrics._tcp.example.org.", DnsRecordType::Srv, 0).await.unwrap();
    assert_eq!(group.targets.len(), 40, "all 40 records, more than 512 bytes of UDP hold");
    assert!(group.targets.iter().any(|t| t["__address__"] == "backend-39.pods.example.org:9039"));

    let group = resolver.lookup_group("alias.example.org.", DnsRecordType::A, 9100).await.unwrap();
    assert_eq!(targets(&group), ["__address__=192.0.2.7:9100 __meta_dns_name=alias.example.org."]);
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_naming_the_lookup() {
    // A bound UDP socket that never answers.
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let resolver = DnsResolver::with_name_servers(&[silent.local_addr().unwrap()]);
    let error = resolver.lookup_group("a.example.org.", DnsRecordType::A, 80).await.unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(r#"DNS lookup of A records of "a.example.org." failed: "#), "{message}");
}

#[track_caller]
fn check_config_error(entry: &str, expected: &str) {
    let yaml = format!("scrape_configs:\n- job_name: dns\n  dns_sd_configs:\n  - {entry}\n");
    match parse_str(&yaml, "test.yml") {
        Ok(config) => panic!("accepted {entry}: {config:?}"),
        Err(error) => assert_eq!(error.to_string(), expected, "{yaml}"),
    }
}

#[test]
fn configuration_errors_name_the_entry() {
    check_config_error("names: []", "test.yml:4:5: DNS-SD config must contain at least one SRV record name");
    check_config_error(
        "{names: [a.example.org], type: A}",
        "test.yml:4:5: a port is required in DNS-SD configs for all record types except SRV",
    );
    check_config_error("{names: [a.example.org], type: TXT}", "test.yml:4:5: invalid DNS-SD records type TXT");
    let config = parse_str(
        "scrape_configs:\n- job_name: dns\n  dns_sd_configs:\n  - {names: [_x._tcp.example.org], refresh_interval: 1m}\n",
        "test.yml",
    )
    .unwrap();
    let entry = &config.scrape_configs[0].dns_sd_configs[0];
    assert_eq!(entry.refresh_interval, Some(std::time::Duration::from_secs(60)));
    assert_eq!(DnsRecordType::parse(entry.record_type.as_deref()), Some(DnsRecordType::Srv));
}
