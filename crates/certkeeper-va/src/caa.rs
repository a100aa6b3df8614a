//! CAA checking (RFC 8659): may certkeeper's CA issue for a name?

use certkeeper_core::DnsName;
use hickory_proto::rr::RData;
use hickory_proto::rr::RecordType;
use hickory_proto::rr::rdata::CAA;

use crate::dns::{DnsClient, DnsLookupError};

/// Property tags that this checker recognizes. An unknown tag with the critical flag forbids issuance
/// (RFC 8659 §4.1).
const KNOWN_TAGS: [&str; 5] = ["issue", "issuewild", "iodef", "issuemail", "issuevmc"];

/// A successful CAA check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaAuthorization {
    /// Name whose CAA set decided, or `None` when no name up to the top-level domain has one.
    pub record_owner: Option<String>,
    /// The relevant CAA set in presentation form, such as `0 issue "certkeeper.example"`.
    pub records: Vec<String>,
    /// One-line explanation of why issuance is allowed.
    pub reason: String,
}

/// Reason issuance is not allowed, or a failed CAA lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CaaError {
    /// The relevant set names other issuers only.
    #[error(
        "CAA records at {owner} do not authorize {identities} to issue for {domain}; found {records}. \
         Add a record such as `{owner}. CAA 0 {tag} \"{first}\"`",
        first = .identities.split(", ").next().unwrap_or_default()
    )]
    NotAuthorized {
        /// The checked domain.
        domain: String,
        /// Owner name of the CAA set.
        owner: String,
        /// The relevant records, joined by `, `.
        records: String,
        /// The configured issuer domains, joined by `, `.
        identities: String,
        /// `issue` or `issuewild`.
        tag: &'static str,
    },
    /// A record with the critical flag has a tag this checker does not understand.
    #[error(
        "CAA record {record} at {owner} is critical with an unknown tag, so issuance for {domain} is not allowed"
    )]
    UnknownCriticalTag {
        /// The checked domain.
        domain: String,
        /// Owner name of the record.
        owner: String,
        /// The record.
        record: String,
    },
    /// The CAA lookup failed; RFC 8659 §3 forbids issuance then.
    #[error("CAA lookup for {domain} at {name} failed: {source}")]
    Lookup {
        /// The checked domain.
        domain: String,
        /// The name being queried.
        name: String,
        /// The DNS error.
        source: DnsLookupError,
    },
}

/// Climbs from the domain towards the top-level domain and evaluates the first non-empty CAA
/// set. CNAMEs at each name are followed as the resolver would (RFC 8659 §3).
pub(crate) async fn check_caa(
    dns: &DnsClient,
    domain: &DnsName,
    identities: &[String],
) -> Result<CaaAuthorization, CaaError> {
    let mut name = domain.base().to_owned();
    loop {
        let resolved = dns
            .resolve(&name, RecordType::CAA)
            .await
            .map_err(|source| CaaError::Lookup {
                domain: domain.to_string(),
                name: name.clone(),
                source,
            })?;
        let set: Vec<CAA> = resolved
            .records
            .into_iter()
            .filter_map(|data| match data {
                RData::CAA(caa) => Some(caa),
                _ => None,
            })
            .collect();
        if !set.is_empty() {
            return evaluate(domain, &name, &set, identities);
        }
        match name.split_once('.') {
            Some((_, parent)) => name = parent.to_owned(),
            None => break,
        }
    }
    Ok(CaaAuthorization {
        record_owner: None,
        records: Vec::new(),
        reason: format!(
            "no CAA records at {} or its parents, so any CA may issue",
            domain.base()
        ),
    })
}

fn evaluate(
    domain: &DnsName,
    owner: &str,
    set: &[CAA],
    identities: &[String],
) -> Result<CaaAuthorization, CaaError> {
    if let Some(record) = set
        .iter()
        .find(|caa| caa.issuer_critical && !is_known(&caa.tag))
    {
        return Err(CaaError::UnknownCriticalTag {
            domain: domain.to_string(),
            owner: owner.to_owned(),
            record: present(record),
        });
    }

    // RFC 8659 §4.3: for a wildcard name, issuewild records take precedence when present.
    let tag = if domain.is_wildcard()
        && set
            .iter()
            .any(|caa| caa.tag.eq_ignore_ascii_case("issuewild"))
    {
        "issuewild"
    } else {
        "issue"
    };
    let relevant: Vec<&CAA> = set
        .iter()
        .filter(|caa| caa.tag.eq_ignore_ascii_case(tag))
        .collect();
    let records: Vec<String> = relevant.iter().map(|caa| present(caa)).collect();
    if relevant.is_empty() {
        return Ok(CaaAuthorization {
            record_owner: Some(owner.to_owned()),
            records: set.iter().map(present).collect(),
            reason: format!(
                "CAA records at {owner} have no {tag} property, so they do not restrict issuance"
            ),
        });
    }

    let expected_issuers: Vec<String> = identities
        .iter()
        .map(|identity| normalize_issuer(identity))
        .collect();
    if let Some(record) = relevant
        .iter()
        .find(|caa| issuer_domain(caa).is_some_and(|issuer| expected_issuers.contains(&issuer)))
    {
        return Ok(CaaAuthorization {
            record_owner: Some(owner.to_owned()),
            reason: format!(
                "CAA record {} at {owner} authorizes issuance",
                present(record)
            ),
            records,
        });
    }
    Err(CaaError::NotAuthorized {
        domain: domain.to_string(),
        owner: owner.to_owned(),
        records: records.join(", "),
        identities: identities.join(", "),
        tag,
    })
}

fn is_known(tag: &str) -> bool {
    KNOWN_TAGS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(tag))
}

/// Returns the issuer domain of an issue or issuewild value (RFC 8659 §4.2): the text before
/// the first `;`, or `None` when it is empty, which authorizes no CA.
fn issuer_domain(caa: &CAA) -> Option<String> {
    let text = String::from_utf8_lossy(&caa.value);
    let issuer = text.split(';').next().unwrap_or_default().trim();
    (!issuer.is_empty()).then(|| normalize_issuer(issuer))
}

fn normalize_issuer(issuer: &str) -> String {
    issuer.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn present(caa: &CAA) -> String {
    format!(
        "{} {} \"{}\"",
        caa.flags(),
        caa.tag,
        String::from_utf8_lossy(&caa.value).escape_debug()
    )
}
