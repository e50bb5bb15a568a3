//! A DNS server on loopback speaking the real wire format (RFC 1035 messages over UDP, and over
//! TCP with the two-byte length prefix), encoded and decoded with `hickory-proto`. Tests edit
//! its zone while it runs.
//!
//! It answers like an authoritative server: the records of the asked type (a CNAME is answered
//! with its target's records of that type after it), an empty NOERROR answer when the name has
//! records of other types only, NXDOMAIN when it has none, and SERVFAIL for names set failing.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One record of the fake zone; host names may be given with or without the final dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeRecord {
    /// A service record.
    Srv {
        /// Lower is preferred.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The host serving it.
        target: String,
    },
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchanger.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchanger's host name.
        exchange: String,
    },
    /// A name server.
    Ns(String),
    /// An alias for another name of the zone.
    Cname(String),
}

#[derive(Debug, Default)]
struct Zone {
    records: HashMap<String, Vec<FakeRecord>>,
    failing: HashSet<String>,
    queries: u64,
}

/// A running fake DNS server; stops when dropped.
#[derive(Debug)]
pub struct FakeDns {
    address: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl FakeDns {
    /// Starts a server on a free loopback port (the same one for UDP and TCP).
    ///
    /// # Panics
    ///
    /// Panics when no loopback port is free for both protocols.
    pub async fn start() -> FakeDns {
        let (udp, tcp) = bind_pair().await;
        let address = udp.local_addr().expect("udp address");
        let zone = Arc::new(Mutex::new(Zone::default()));
        let udp_zone = zone.clone();
        let udp_task = tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            loop {
                let Ok((len, peer)) = udp.recv_from(&mut buffer).await else { return };
                if let Some(answer) = answer(&udp_zone, &buffer[..len], Some(512)) {
                    let _ = udp.send_to(&answer, peer).await;
                }
            }
        });
        let tcp_zone = zone.clone();
        let tcp_task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = tcp.accept().await else { return };
                let zone = tcp_zone.clone();
                tokio::spawn(async move {
                    loop {
                        let Ok(len) = stream.read_u16().await else { return };
                        let mut query = vec![0u8; usize::from(len)];
                        if stream.read_exact(&mut query).await.is_err() {
                            return;
                        }
                        let Some(answer) = answer(&zone, &query, None) else { return };
                        let Ok(len) = u16::try_from(answer.len()) else { return };
                        if stream.write_u16(len).await.is_err() || stream.write_all(&answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeDns { address, zone, tasks: vec![udp_task, tcp_task] }
    }

    /// Returns the address to send queries to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Replaces the records of `name`; an empty list removes the name (NXDOMAIN).
    pub fn set_records(&self, name: &str, records: &[FakeRecord]) {
        let mut zone = self.zone.lock();
        if records.is_empty() {
            zone.records.remove(&normalize(name));
        } else {
            zone.records.insert(normalize(name), records.to_vec());
        }
    }

    /// Makes queries for `name` answer SERVFAIL (or answer again).
    pub fn set_failing(&self, name: &str, is_failing: bool) {
        let mut zone = self.zone.lock();
        if is_failing {
            zone.failing.insert(normalize(name));
        } else {
            zone.failing.remove(&normalize(name));
        }
    }

    /// Returns how many queries were answered so far.
    pub fn queries(&self) -> u64 {
        self.zone.lock().queries
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Binds UDP and TCP sockets on one free loopback port.
async fn bind_pair() -> (tokio::net::UdpSocket, tokio::net::TcpListener) {
    for _ in 0..100 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let address = udp.local_addr().expect("udp address");
        if let Ok(tcp) = tokio::net::TcpListener::bind(address).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}

fn normalize(name: &str) -> String {
    let name = name.to_ascii_lowercase();
    if name.ends_with('.') { name } else { format!("{name}.") }
}

fn name(text: &str) -> Name {
    Name::from_ascii(normalize(text)).expect("valid DNS name in a test zone")
}

/// Returns the encoded answer to an encoded query, or `None` for bytes that are no query.
/// Over UDP (`udp_limit`), an answer longer than the limit is sent truncated (TC set, no
/// records), as servers do, so that the client asks again over TCP.
fn answer(zone: &Mutex<Zone>, query: &[u8], udp_limit: Option<usize>) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let question = request.queries().first()?.clone();
    let mut response = Message::new();
    response
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_authoritative(true)
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .add_query(question.clone());
    let asked = normalize(&question.name().to_ascii());
    let mut zone = zone.lock();
    zone.queries += 1;
    if zone.failing.contains(&asked) {
        response.set_response_code(ResponseCode::ServFail);
    } else if let Some(records) = zone.records.get(&asked) {
        let mut owner = asked.clone();
        let mut records = records.clone();
        // Follow one CNAME within the zone, as an authoritative server adds the target's records.
        if let Some(FakeRecord::Cname(target)) = records.first().cloned()
            && question.query_type() != RecordType::CNAME
        {
            response.add_answer(Record::from_rdata(name(&owner), 0, RData::CNAME(CNAME(name(&target)))));
            owner = normalize(&target);
            records = zone.records.get(&owner).cloned().unwrap_or_default();
        }
        for record in records {
            let data = match (record, question.query_type()) {
                (FakeRecord::Srv { priority, weight, port, target }, RecordType::SRV) => {
                    RData::SRV(SRV::new(priority, weight, port, name(&target)))
                }
                (FakeRecord::A(address), RecordType::A) => RData::A(A(address)),
                (FakeRecord::Aaaa(address), RecordType::AAAA) => RData::AAAA(AAAA(address)),
                (FakeRecord::Mx { preference, exchange }, RecordType::MX) => {
                    RData::MX(MX::new(preference, name(&exchange)))
                }
                (FakeRecord::Ns(host), RecordType::NS) => RData::NS(NS(name(&host))),
                _ => continue,
            };
            response.add_answer(Record::from_rdata(name(&owner), 0, data));
        }
        response.set_response_code(ResponseCode::NoError);
    } else {
        response.set_response_code(ResponseCode::NXDomain);
    }
    drop(zone);
    let bytes = response.to_vec().ok()?;
    match udp_limit {
        Some(limit) if bytes.len() > limit => {
            response.take_answers();
            response.set_truncated(true);
            response.to_vec().ok()
        }
        _ => Some(bytes),
    }
}
