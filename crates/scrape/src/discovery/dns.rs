//! DNS-based discovery (`dns_sd_configs`): each name is resolved with one record type (SRV by
//! default, or A, AAAA, MX, NS) at every refresh interval, and its answers become one target
//! group (source: the name) with Prometheus' `__meta_dns_*` labels.
//!
//! As in Prometheus, a name that does not exist (NXDOMAIN) or has no records of the type gives
//! an empty group, while a failed lookup (timeout, SERVFAIL, ...) keeps the name's previous
//! group: Prometheus' discovery manager keeps a source it hears nothing new about. Lookups go
//! through the system's resolver configuration (`/etc/resolv.conf`, search domains included)
//! with no cache, so every refresh asks the servers.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{ResolveError, TokioResolver};
use tokio::sync::mpsc;

use super::TargetGroup;
use super::run::Update;
use crate::config::DnsSdConfig;
use crate::target::ADDRESS_LABEL;

/// The name looked up.
pub const NAME_LABEL: &str = "__meta_dns_name";
/// The target of an SRV record, as the record has it (with the final dot).
pub const SRV_RECORD_TARGET_LABEL: &str = "__meta_dns_srv_record_target";
/// The port of an SRV record.
pub const SRV_RECORD_PORT_LABEL: &str = "__meta_dns_srv_record_port";
/// The exchange of an MX record (with the final dot).
pub const MX_RECORD_TARGET_LABEL: &str = "__meta_dns_mx_record_target";
/// The name server of an NS record (with the final dot).
pub const NS_RECORD_TARGET_LABEL: &str = "__meta_dns_ns_record_target";

/// Prometheus' default `refresh_interval` for DNS discovery.
const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// The record types DNS discovery asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsRecordType {
    /// Service records: host and port per target.
    Srv,
    /// IPv4 addresses, with the configured port.
    A,
    /// IPv6 addresses, with the configured port.
    Aaaa,
    /// Mail exchangers, with the configured port.
    Mx,
    /// Name servers, with the configured port.
    Ns,
}

impl DnsRecordType {
    /// Returns the type a configuration names (case-insensitively; SRV when absent), or `None`
    /// for an unknown one (configuration validation reports it).
    pub fn parse(name: Option<&str>) -> Option<DnsRecordType> {
        match name.unwrap_or("SRV").to_ascii_uppercase().as_str() {
            "SRV" => Some(DnsRecordType::Srv),
            "A" => Some(DnsRecordType::A),
            "AAAA" => Some(DnsRecordType::Aaaa),
            "MX" => Some(DnsRecordType::Mx),
            "NS" => Some(DnsRecordType::Ns),
            _ => None,
        }
    }

    fn record_type(self) -> RecordType {
        match self {
            DnsRecordType::Srv => RecordType::SRV,
            DnsRecordType::A => RecordType::A,
            DnsRecordType::Aaaa => RecordType::AAAA,
            DnsRecordType::Mx => RecordType::MX,
            DnsRecordType::Ns => RecordType::NS,
        }
    }
}

/// Why a lookup gave no answer to act on; the name keeps its previous targets.
#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {record_type:?} records of {name:?} failed: {source}")]
pub struct DnsLookupError {
    /// The name looked up.
    pub name: String,
    /// The record type asked for.
    pub record_type: DnsRecordType,
    /// The resolver's error.
    #[source]
    pub source: ResolveError,
}

/// A DNS resolver for discovery: the system's configuration, or given name servers.
#[derive(Clone)]
pub struct DnsResolver {
    resolver: TokioResolver,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsResolver").field("name_servers", &self.resolver.config().name_servers()).finish()
    }
}

impl DnsResolver {
    /// Returns a resolver reading the system's configuration (`/etc/resolv.conf`).
    ///
    /// # Errors
    ///
    /// Returns the resolver's error when the configuration cannot be read.
    pub fn system() -> Result<DnsResolver, ResolveError> {
        let mut builder = TokioResolver::builder_tokio()?;
        *builder.options_mut() = options(builder.options_mut().clone());
        Ok(DnsResolver { resolver: builder.build() })
    }

    /// Returns a resolver asking the given name servers over UDP (and TCP for truncated
    /// answers), without search domains.
    pub fn with_name_servers(servers: &[SocketAddr]) -> DnsResolver {
        let mut config = ResolverConfig::new();
        for server in servers {
            config.add_name_server(NameServerConfig::new(*server, Protocol::Udp));
            config.add_name_server(NameServerConfig::new(*server, Protocol::Tcp));
        }
        let builder = TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
            .with_options(options(ResolverOpts::default()));
        DnsResolver { resolver: builder.build() }
    }

    /// Resolves `name` and returns its target group; `port` is used for types without one.
    ///
    /// # Errors
    ///
    /// Returns a [`DnsLookupError`] when no server gave a usable answer (a timeout, SERVFAIL,
    /// a refusal); NXDOMAIN and an empty answer are an empty group.
    pub async fn lookup_group(
        &self,
        name: &str,
        record_type: DnsRecordType,
        port: u16,
    ) -> Result<TargetGroup, DnsLookupError> {
        let mut group = TargetGroup { source: name.to_owned(), ..TargetGroup::default() };
        let lookup = match self.resolver.lookup(name, record_type.record_type()).await {
            Ok(lookup) => lookup,
            Err(error) if is_no_such_records(&error) => return Ok(group),
            Err(source) => return Err(DnsLookupError { name: name.to_owned(), record_type, source }),
        };
        for record in lookup.record_iter() {
            let mut target = BTreeMap::from([(NAME_LABEL.to_owned(), name.to_owned())]);
            let address = match record.data() {
                RData::SRV(srv) => {
                    let host = rooted(&srv.target().to_ascii());
                    target.insert(SRV_RECORD_TARGET_LABEL.to_owned(), host.clone());
                    target.insert(SRV_RECORD_PORT_LABEL.to_owned(), srv.port().to_string());
                    join_host_port(host.trim_end_matches('.'), srv.port())
                }
                RData::A(address) => SocketAddr::new(IpAddr::V4(address.0), port).to_string(),
                RData::AAAA(address) => SocketAddr::new(IpAddr::V6(address.0), port).to_string(),
                RData::MX(mx) => {
                    let host = rooted(&mx.exchange().to_ascii());
                    target.insert(MX_RECORD_TARGET_LABEL.to_owned(), host.clone());
                    join_host_port(host.trim_end_matches('.'), port)
                }
                RData::NS(ns) => {
                    let host = rooted(&ns.0.to_ascii());
                    target.insert(NS_RECORD_TARGET_LABEL.to_owned(), host.clone());
                    join_host_port(host.trim_end_matches('.'), port)
                }
                // A CNAME comes with the records it points to; other types were not asked for.
                _ => continue,
            };
            target.insert(ADDRESS_LABEL.to_owned(), address);
            group.targets.push(target);
        }
        Ok(group)
    }
}

/// No cache (every refresh asks the servers, as Prometheus does) and at most a few seconds per
/// attempt.
fn options(mut options: ResolverOpts) -> ResolverOpts {
    options.cache_size = 0;
    options.timeout = Duration::from_secs(5);
    options.attempts = 2;
    options
}

/// Returns whether the error is an authoritative "no such name" or "no records of this type".
fn is_no_such_records(error: &ResolveError) -> bool {
    error.proto().is_some_and(|proto| {
        matches!(
            proto.kind(),
            ProtoErrorKind::NoRecordsFound { response_code: ResponseCode::NXDomain | ResponseCode::NoError, .. }
        )
    })
}

/// Returns a name with its final dot, as DNS records spell names.
fn rooted(name: &str) -> String {
    if name.ends_with('.') { name.to_owned() } else { format!("{name}.") }
}

/// Joins host and port as Go's `net.JoinHostPort` does (brackets around IPv6 literals).
fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// One `dns_sd_configs` entry: its names, and the last group each name got.
#[derive(Debug)]
pub struct DnsDiscoverer {
    names: Vec<String>,
    record_type: DnsRecordType,
    port: u16,
    resolver: DnsResolver,
    groups: BTreeMap<String, TargetGroup>,
}

impl DnsDiscoverer {
    /// Returns a discoverer for a validated configuration entry.
    ///
    /// # Errors
    ///
    /// Returns a message naming the record type when it is not one DNS discovery supports
    /// (configuration validation refuses it first).
    pub fn new(config: &DnsSdConfig, resolver: DnsResolver) -> Result<DnsDiscoverer, String> {
        let record_type = DnsRecordType::parse(config.record_type.as_deref()).ok_or_else(|| {
            format!("invalid DNS-SD records type {}", config.record_type.as_deref().unwrap_or_default())
        })?;
        Ok(DnsDiscoverer {
            names: config.names.clone(),
            record_type,
            port: config.port,
            resolver,
            groups: BTreeMap::new(),
        })
    }

    /// Resolves every name at once and returns one group per name, in configuration order:
    /// the new answer, or the previous group of a name whose lookup failed (logged), or none
    /// for a name that never resolved.
    pub async fn refresh(&mut self) -> Vec<TargetGroup> {
        let lookups = self.names.iter().map(|name| self.resolver.lookup_group(name, self.record_type, self.port));
        let results = futures::future::join_all(lookups).await;
        for (name, result) in self.names.iter().zip(results) {
            match result {
                Ok(group) => {
                    self.groups.insert(name.clone(), group);
                }
                Err(error) => tracing::warn!(error = %error, "DNS SD: lookup failed, keeping previous targets"),
            }
        }
        self.names.iter().filter_map(|name| self.groups.get(name).cloned()).collect()
    }
}

/// Runs one `dns_sd_configs` entry: refreshes at each refresh interval and sends the groups
/// whenever they change.
pub(crate) async fn run(config: DnsSdConfig, index: usize, updates: mpsc::Sender<Update>, resolver: DnsResolver) {
    let mut discoverer = match DnsDiscoverer::new(&config, resolver) {
        Ok(discoverer) => discoverer,
        Err(error) => {
            tracing::error!(error = %error, "DNS SD: no targets from this entry");
            return;
        }
    };
    let refresh_interval = config.refresh_interval.unwrap_or(DEFAULT_REFRESH_INTERVAL).max(Duration::from_secs(1));
    let mut last_sent: Option<Vec<TargetGroup>> = None;
    loop {
        let groups = discoverer.refresh().await;
        if last_sent.as_ref() != Some(&groups) {
            if updates.send((index, groups.clone())).await.is_err() {
                return;
            }
            last_sent = Some(groups);
        }
        tokio::time::sleep(refresh_interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_types_parse_like_prometheus() {
        assert_eq!(DnsRecordType::parse(None), Some(DnsRecordType::Srv));
        assert_eq!(DnsRecordType::parse(Some("aaaa")), Some(DnsRecordType::Aaaa));
        assert_eq!(DnsRecordType::parse(Some("MX")), Some(DnsRecordType::Mx));
        assert_eq!(DnsRecordType::parse(Some("TXT")), None);
    }

    #[test]
    fn host_ports_join_like_go() {
        assert_eq!(join_host_port("db.example.org", 5432), "db.example.org:5432");
        assert_eq!(join_host_port("::1", 80), "[::1]:80");
        assert_eq!(rooted("a.example"), "a.example.");
        assert_eq!(rooted("a.example."), "a.example.");
    }
}
