//! DNS lookups without an answer cache, following CNAME chains one hop at a time.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_net::NetError;
use hickory_net::client::ClientHandle;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::tcp::TcpClientStream;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::{DnsResponse, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// Maximum number of CNAME records followed from the queried name. A longer chain fails.
pub const MAX_CNAME_HOPS: usize = 8;

/// Failure of a DNS lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsLookupError {
    /// No server to query.
    #[error(
        "no DNS server is configured and /etc/resolv.conf lists none; set validation.dns_servers"
    )]
    NoServers,
    /// The name cannot be encoded as a DNS name.
    #[error("{name:?} is not a valid DNS name: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Parser message.
        reason: String,
    },
    /// Every server failed to respond or returned an error code.
    #[error("DNS query for {name} {record_type} failed on every server: {details}")]
    QueryFailed {
        /// Queried name.
        name: String,
        /// Queried record type.
        record_type: String,
        /// One `server: error` entry per server, separated by `; `.
        details: String,
    },
    /// A CNAME chain returns to a name it has already passed.
    #[error("CNAME loop: {chain}")]
    CnameLoop {
        /// The names of the loop, such as `a.example -> b.example -> a.example`.
        chain: String,
    },
    /// A CNAME chain has more hops than [`MAX_CNAME_HOPS`].
    #[error("CNAME chain longer than the limit of {MAX_CNAME_HOPS} hops: {chain}")]
    ChainTooLong {
        /// The names followed before giving up.
        chain: String,
    },
}

/// The records of one type at the end of a CNAME chain.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolved {
    /// Record data at `final_name`; empty for NXDOMAIN and for a name without such records.
    pub records: Vec<RData>,
    /// Followed CNAMEs in order, as (owner, target).
    pub chain: Vec<(String, String)>,
    /// The name whose records were returned.
    pub final_name: String,
}

impl Resolved {
    /// Returns the chain as `owner -> target` lines.
    pub fn chain_lines(&self) -> Vec<String> {
        self.chain
            .iter()
            .map(|(owner, target)| format!("{owner} -> {target}"))
            .collect()
    }
}

/// A DNS client that sends every query afresh on a new UDP socket, so no answer (and no
/// negative answer) is reused between checks.
#[derive(Debug, Clone)]
pub(crate) struct DnsClient {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl DnsClient {
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration) -> DnsClient {
        DnsClient { servers, timeout }
    }

    /// Looks up `name` and follows CNAME records until records of `record_type` or the end of
    /// the chain.
    pub async fn resolve(
        &self,
        name: &str,
        record_type: RecordType,
    ) -> Result<Resolved, DnsLookupError> {
        let mut current = normalize(name);
        let mut visited = vec![current.clone()];
        let mut chain: Vec<(String, String)> = Vec::new();
        let mut answers = self.query(&current, record_type).await?;

        loop {
            let records: Vec<RData> = answers
                .iter()
                .filter(|record| owner_is(record, &current) && record.record_type() == record_type)
                .map(|record| record.data.clone())
                .collect();
            if !records.is_empty() {
                return Ok(Resolved {
                    records,
                    chain,
                    final_name: current,
                });
            }

            let target = answers.iter().find_map(|record| match &record.data {
                RData::CNAME(cname) if owner_is(record, &current) => {
                    Some(normalize(&cname.0.to_ascii()))
                }
                _ => None,
            });
            let Some(target) = target else {
                return Ok(Resolved {
                    records,
                    chain,
                    final_name: current,
                });
            };

            chain.push((current.clone(), target.clone()));
            if visited.contains(&target) {
                return Err(DnsLookupError::CnameLoop {
                    chain: format_chain(&chain),
                });
            }
            if chain.len() > MAX_CNAME_HOPS {
                return Err(DnsLookupError::ChainTooLong {
                    chain: format_chain(&chain),
                });
            }
            visited.push(target.clone());
            current = target;

            // A server may already have put the next link of the chain in the same response.
            if !answers.iter().any(|record| owner_is(record, &current)) {
                answers = self.query(&current, record_type).await?;
            }
        }
    }

    /// Resolves the IPv4 and IPv6 addresses of `name`, following CNAMEs. IPv4 addresses
    /// come first.
    pub async fn resolve_addresses(&self, name: &str) -> Result<Vec<IpAddr>, DnsLookupError> {
        let mut addresses = Vec::new();
        for record_type in [RecordType::A, RecordType::AAAA] {
            for data in self.resolve(name, record_type).await?.records {
                match data {
                    RData::A(a) => addresses.push(IpAddr::V4(a.0)),
                    RData::AAAA(aaaa) => addresses.push(IpAddr::V6(aaaa.0)),
                    _ => {}
                }
            }
        }
        Ok(addresses)
    }

    /// Sends one query to each server in turn and returns the answer section of the first
    /// NOERROR or NXDOMAIN response.
    async fn query(
        &self,
        name: &str,
        record_type: RecordType,
    ) -> Result<Vec<Record>, DnsLookupError> {
        if self.servers.is_empty() {
            return Err(DnsLookupError::NoServers);
        }
        let query_name =
            Name::from_ascii(format!("{name}.")).map_err(|error| DnsLookupError::InvalidName {
                name: name.to_owned(),
                reason: error.to_string(),
            })?;

        let mut details = String::new();
        for server in &self.servers {
            match self.query_server(*server, &query_name, record_type).await {
                Ok(response) => match response.metadata.response_code {
                    ResponseCode::NoError | ResponseCode::NXDomain => {
                        return Ok(response.answers.clone());
                    }
                    code => {
                        tracing::debug!(%server, %name, %record_type, %code, "DNS server returned an error code");
                        append_detail(&mut details, server, &code.to_string());
                    }
                },
                Err(error) => {
                    tracing::debug!(%server, %name, %record_type, %error, "DNS query failed");
                    append_detail(&mut details, server, &error.to_string());
                }
            }
        }
        Err(DnsLookupError::QueryFailed {
            name: name.to_owned(),
            record_type: record_type.to_string(),
            details,
        })
    }
}

impl DnsClient {
    /// Queries one server over UDP, and again over TCP when the UDP response is truncated.
    async fn query_server(
        &self,
        server: SocketAddr,
        name: &Name,
        record_type: RecordType,
    ) -> Result<DnsResponse, NetError> {
        let mut udp = UdpClientStream::builder(server, TokioRuntimeProvider::new())
            .with_timeout(Some(self.timeout))
            .exchange();
        let response = udp.query(name.clone(), DNSClass::IN, record_type).await?;
        if !response.metadata.truncation {
            return Ok(response);
        }
        tracing::debug!(%server, %name, %record_type, "truncated UDP response, retrying over TCP");
        // The provider owns the task set that runs the connection, so it must outlive the query.
        let provider = TokioRuntimeProvider::new();
        let mut tcp =
            TcpClientStream::exchange(server, None, self.timeout, None, provider.clone()).await?;
        let response = tcp.query(name.clone(), DNSClass::IN, record_type).await;
        drop(provider);
        response
    }
}

fn append_detail(details: &mut String, server: &SocketAddr, message: &str) {
    if !details.is_empty() {
        details.push_str("; ");
    }
    let _ = write!(details, "{server}: {message}");
}

/// Lower-cases a name and removes its trailing dot, so that owner names compare
/// case-insensitively (RFC 4343).
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn owner_is(record: &Record, name: &str) -> bool {
    normalize(&record.name.to_ascii()) == name
}

fn format_chain(chain: &[(String, String)]) -> String {
    let mut text = chain
        .first()
        .map(|(owner, _)| owner.clone())
        .unwrap_or_default();
    for (_, target) in chain {
        text.push_str(" -> ");
        text.push_str(target);
    }
    text
}

/// Joins the character-strings of a TXT record (RFC 7208 §3.3 does the same for SPF), decoding
/// them as UTF-8 with invalid bytes replaced.
pub(crate) fn txt_value(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => {
            let bytes: Vec<u8> = txt
                .txt_data
                .iter()
                .flat_map(|part| part.iter().copied())
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_lowercases_and_strips_dot() {
        assert_eq!(normalize("_DNSAuth.Example.TEST."), "_dnsauth.example.test");
    }

    #[test]
    fn chain_formats_every_name() {
        let chain = vec![
            ("a.test".to_owned(), "b.test".to_owned()),
            ("b.test".to_owned(), "a.test".to_owned()),
        ];
        assert_eq!(format_chain(&chain), "a.test -> b.test -> a.test");
    }
}
