//! DNS_AUTO: certkeeper writes and deletes the `_dnsauth` TXT record itself by RFC 2136
//! dynamic update, signed with TSIG (RFC 8945).

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use hickory_net::client::ClientHandle;
use hickory_net::runtime::TokioRuntimeProvider;
use hickory_net::udp::UdpClientStream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, RData, Record, TSigner};
use zeroize::Zeroizing;

use crate::challenge::Challenge;
use crate::config::{DnsAutoConfig, DnsAutoZone, TsigAlgorithmName};
use crate::dns::normalize;

/// TTL of the TXT records certkeeper writes, in seconds: short, because the record is
/// deleted after validation.
pub const RECORD_TTL: u32 = 60;

/// Allowed clock difference for TSIG signatures, in seconds (RFC 8945 §10 recommends 300).
const TSIG_FUDGE: u16 = 300;

/// Time to wait for the server's response to one update.
const UPDATE_TIMEOUT: Duration = Duration::from_secs(10);

/// Outcome of [`DnsAutoUpdater::publish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAutoPublish {
    /// The server accepted the record.
    Published {
        /// The configured zone that contains the record.
        zone: String,
        /// The server that was updated.
        server: SocketAddr,
        /// Owner name of the TXT record.
        record_name: String,
    },
    /// No configured zone contains the record, so the applicant must publish it by hand, as
    /// for the DNS method.
    ManualFallback {
        /// Reason the automatic update was not attempted.
        reason: String,
    },
}

/// Failure of an automatic DNS update, or an invalid DNS_AUTO configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DnsAutoError {
    /// Neither or both secret sources are set.
    #[error("dns_auto zone {zone}: set exactly one of tsig_secret and tsig_secret_file")]
    SecretSource {
        /// The zone.
        zone: String,
    },
    /// The secret file cannot be read.
    #[error("dns_auto zone {zone}: cannot read tsig_secret_file {path}: {reason}")]
    SecretFile {
        /// The zone.
        zone: String,
        /// The file.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The secret is not base64. The secret itself is never part of the message.
    #[error("dns_auto zone {zone}: the TSIG secret is not valid base64")]
    SecretEncoding {
        /// The zone.
        zone: String,
    },
    /// The zone or key name is not a DNS name.
    #[error("dns_auto zone {zone}: invalid name {name:?}: {reason}")]
    InvalidName {
        /// The zone.
        zone: String,
        /// The invalid name.
        name: String,
        /// Parser message.
        reason: String,
    },
    /// The server rejected the TSIG signature, or its response failed TSIG verification.
    #[error(
        "{server} rejected the TSIG key {key_name:?} ({algorithm}) for zone {zone}: \
         check that tsig_key_name, tsig_algorithm and the secret match the server's key, and \
         that the clocks agree within 5 minutes ({detail})"
    )]
    TsigRejected {
        /// The zone.
        zone: String,
        /// The server.
        server: SocketAddr,
        /// The key name.
        key_name: String,
        /// The algorithm.
        algorithm: &'static str,
        /// Response code or library message.
        detail: String,
    },
    /// The server answered with an error code, for example REFUSED when the key may not
    /// update the zone.
    #[error("{server} answered {code} to the update of {record_name} in zone {zone}")]
    UpdateRejected {
        /// The zone.
        zone: String,
        /// The server.
        server: SocketAddr,
        /// The record.
        record_name: String,
        /// The DNS response code.
        code: String,
    },
    /// The update did not reach the server or got no response.
    #[error("update of {record_name} at {server} failed: {reason}")]
    Network {
        /// The server.
        server: SocketAddr,
        /// The record.
        record_name: String,
        /// The error.
        reason: String,
    },
}

/// One configured zone with its loaded TSIG key.
struct ZoneUpdater {
    zone: String,
    zone_name: Name,
    server: SocketAddr,
    key_name: String,
    algorithm: TsigAlgorithmName,
    signer: TSigner,
}

impl fmt::Debug for ZoneUpdater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZoneUpdater")
            .field("zone", &self.zone)
            .field("server", &self.server)
            .field("key_name", &self.key_name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"***")
            .finish()
    }
}

/// Writes and deletes validation TXT records in the configured zones.
#[derive(Debug, Default)]
pub struct DnsAutoUpdater {
    zones: Vec<ZoneUpdater>,
}

impl DnsAutoUpdater {
    /// Loads the TSIG keys of every zone, reading secret files now.
    pub fn new(config: &DnsAutoConfig) -> Result<DnsAutoUpdater, DnsAutoError> {
        let zones = config
            .zones
            .iter()
            .map(load_zone)
            .collect::<Result<_, _>>()?;
        Ok(DnsAutoUpdater { zones })
    }

    /// Returns the configured zone that contains `record_name` (the longest match).
    pub fn zone_for(&self, record_name: &str) -> Option<&str> {
        self.find(record_name).map(|zone| zone.zone.as_str())
    }

    /// Adds the challenge's TXT record to its zone, or returns
    /// [`DnsAutoPublish::ManualFallback`] when no zone is configured for it.
    pub async fn publish(&self, challenge: &Challenge) -> Result<DnsAutoPublish, DnsAutoError> {
        let record_name = normalize(&challenge.key);
        let Some(zone) = self.find(&record_name) else {
            return Ok(DnsAutoPublish::ManualFallback {
                reason: self.fallback_reason(&record_name),
            });
        };
        let record = txt_record(zone, &record_name, &challenge.value)?;
        let mut handle = zone.connect();
        let outcome = handle.append(record, zone.zone_name.clone(), false).await;
        zone.check_outcome(&record_name, outcome)?;
        tracing::info!(zone = %zone.zone, server = %zone.server, record = %record_name, "published validation TXT record");
        Ok(DnsAutoPublish::Published {
            zone: zone.zone.clone(),
            server: zone.server,
            record_name,
        })
    }

    /// Deletes the challenge's TXT record (only the one with its value). Returns false when no
    /// zone is configured for it. Deleting a record that does not exist succeeds.
    pub async fn remove(&self, challenge: &Challenge) -> Result<bool, DnsAutoError> {
        let record_name = normalize(&challenge.key);
        let Some(zone) = self.find(&record_name) else {
            return Ok(false);
        };
        let record = txt_record(zone, &record_name, &challenge.value)?;
        let mut handle = zone.connect();
        let outcome = handle.delete_by_rdata(record, zone.zone_name.clone()).await;
        zone.check_outcome(&record_name, outcome)?;
        tracing::info!(zone = %zone.zone, server = %zone.server, record = %record_name, "deleted validation TXT record");
        Ok(true)
    }

    fn find(&self, record_name: &str) -> Option<&ZoneUpdater> {
        let name = normalize(record_name);
        self.zones
            .iter()
            .filter(|zone| name == zone.zone || name.ends_with(&format!(".{}", zone.zone)))
            .max_by_key(|zone| zone.zone.len())
    }

    fn fallback_reason(&self, record_name: &str) -> String {
        if self.zones.is_empty() {
            return format!(
                "no [[dns_auto.zones]] entry is configured, so the TXT record {record_name} must be published by hand"
            );
        }
        let zones: Vec<&str> = self.zones.iter().map(|zone| zone.zone.as_str()).collect();
        format!(
            "{record_name} is in none of the DNS_AUTO zones ({}), so the TXT record must be published by hand",
            zones.join(", ")
        )
    }
}

impl ZoneUpdater {
    fn connect(&self) -> hickory_net::xfer::DnsExchange<TokioRuntimeProvider> {
        UdpClientStream::builder(self.server, TokioRuntimeProvider::new())
            .with_timeout(Some(UPDATE_TIMEOUT))
            .with_signer(Some(self.signer.clone()))
            .exchange()
    }

    fn check_outcome(
        &self,
        record_name: &str,
        outcome: Result<hickory_proto::op::DnsResponse, hickory_net::NetError>,
    ) -> Result<(), DnsAutoError> {
        match outcome {
            Ok(response) => match response.metadata.response_code {
                ResponseCode::NoError => Ok(()),
                ResponseCode::NotAuth
                | ResponseCode::BADSIG
                | ResponseCode::BADKEY
                | ResponseCode::BADTIME => {
                    Err(self.tsig_rejected(response.metadata.response_code.to_string()))
                }
                code => Err(DnsAutoError::UpdateRejected {
                    zone: self.zone.clone(),
                    server: self.server,
                    record_name: record_name.to_owned(),
                    code: code.to_string(),
                }),
            },
            Err(error) => {
                let text = error.to_string();
                tracing::warn!(zone = %self.zone, server = %self.server, record = %record_name, error = %text, "DNS update failed");
                // BIND 9.18 answers a wrong key with a BADSIG response whose TSIG MAC is shorter
                // than the algorithm's output, and hickory-proto 0.26 rejects that MAC with a
                // message about "truncated HMACs". Other TSIG or HMAC messages also mean that
                // the key was not accepted.
                let lower = text.to_ascii_lowercase();
                if lower.contains("truncated hmac") {
                    Err(self.tsig_rejected(
                        "the response carries no valid signature, as servers answer BADSIG or BADKEY".to_owned(),
                    ))
                } else if lower.contains("hmac")
                    || lower.contains("tsig")
                    || lower.contains("signature")
                {
                    Err(self.tsig_rejected(text))
                } else {
                    Err(DnsAutoError::Network {
                        server: self.server,
                        record_name: record_name.to_owned(),
                        reason: text,
                    })
                }
            }
        }
    }

    fn tsig_rejected(&self, detail: String) -> DnsAutoError {
        DnsAutoError::TsigRejected {
            zone: self.zone.clone(),
            server: self.server,
            key_name: self.key_name.clone(),
            algorithm: self.algorithm.as_str(),
            detail,
        }
    }
}

fn load_zone(config: &DnsAutoZone) -> Result<ZoneUpdater, DnsAutoError> {
    let zone = normalize(&config.zone);
    let encoded: Zeroizing<String> = match (&config.tsig_secret, &config.tsig_secret_file) {
        (Some(secret), None) => Zeroizing::new(secret.expose().trim().to_owned()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(text) => Zeroizing::new(text.trim().to_owned()),
            Err(error) => {
                return Err(DnsAutoError::SecretFile {
                    zone,
                    path: path.display().to_string(),
                    reason: error.to_string(),
                });
            }
        },
        _ => return Err(DnsAutoError::SecretSource { zone }),
    };
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded.as_bytes())
        .map_err(|_| DnsAutoError::SecretEncoding { zone: zone.clone() })?;

    let zone_name = parse_name(&zone, &zone)?;
    let key_name = parse_name(&zone, &config.tsig_key_name)?;
    let algorithm = match config.tsig_algorithm {
        TsigAlgorithmName::HmacSha256 => TsigAlgorithm::HmacSha256,
        TsigAlgorithmName::HmacSha384 => TsigAlgorithm::HmacSha384,
        TsigAlgorithmName::HmacSha512 => TsigAlgorithm::HmacSha512,
    };
    // `new` fails only for algorithms that hickory cannot compute, and all three above are
    // supported with the dnssec-aws-lc-rs feature.
    let signer = TSigner::new(key, algorithm, key_name, TSIG_FUDGE).map_err(|error| {
        DnsAutoError::InvalidName {
            zone: zone.clone(),
            name: config.tsig_key_name.clone(),
            reason: error.to_string(),
        }
    })?;
    Ok(ZoneUpdater {
        zone,
        zone_name,
        server: config.server,
        key_name: config.tsig_key_name.clone(),
        algorithm: config.tsig_algorithm,
        signer,
    })
}

fn parse_name(zone: &str, name: &str) -> Result<Name, DnsAutoError> {
    Name::from_ascii(format!("{}.", normalize(name))).map_err(|error| DnsAutoError::InvalidName {
        zone: zone.to_owned(),
        name: name.to_owned(),
        reason: error.to_string(),
    })
}

fn txt_record(zone: &ZoneUpdater, record_name: &str, value: &str) -> Result<Record, DnsAutoError> {
    let name = parse_name(&zone.zone, record_name)?;
    Ok(Record::from_rdata(
        name,
        RECORD_TTL,
        RData::TXT(TXT::new(vec![value.to_owned()])),
    ))
}
