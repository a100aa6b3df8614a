//! DNS and DNS_AUTO validation: the TXT record at `_dnsauth.<domain>`.

use hickory_proto::rr::RecordType;

use crate::challenge::Challenge;
use crate::dns::{DnsClient, txt_value};
use crate::result::{DomainValidationResult, LocalCheck, escape_received};

/// Checks a DNS or DNS_AUTO challenge with a fresh lookup. Any one TXT record with the token
/// is enough, so a name can carry the values of several pending challenges (for example a
/// wildcard and its apex).
pub(crate) async fn check_txt(dns: &DnsClient, challenge: &Challenge) -> DomainValidationResult {
    let mut result = DomainValidationResult {
        domain: challenge.domain.clone(),
        method: challenge.method,
        local_check: LocalCheck::RecordMissing,
        check_value: Vec::new(),
        hops: Vec::new(),
        cname_chain: Vec::new(),
        reason: String::new(),
        error: None,
    };
    let record_name = &challenge.key;
    let resolved = match dns.resolve(record_name, RecordType::TXT).await {
        Ok(resolved) => resolved,
        Err(error) => {
            result.reason = format!("TXT lookup of {record_name} failed: {error}");
            result.error = Some(error.to_string());
            return result;
        }
    };

    result.cname_chain = resolved.chain_lines();
    result.check_value = resolved.records.iter().filter_map(txt_value).collect();
    let place = if resolved.chain.is_empty() {
        record_name.clone()
    } else {
        format!(
            "{} (reached through CNAME {})",
            resolved.final_name,
            result.cname_chain.join(", ")
        )
    };
    let expected = &challenge.value;

    if result.check_value.is_empty() {
        result.reason =
            format!("no TXT record found at {place}; expected one with the value \"{expected}\"");
        return result;
    }
    if result.check_value.iter().any(|value| value == expected) {
        result.local_check = LocalCheck::Ok;
        result.reason = format!("TXT record at {place} has the expected value");
        return result;
    }

    result.local_check = LocalCheck::ValueMismatch;
    let received: Vec<String> = result
        .check_value
        .iter()
        .map(|value| format!("\"{}\"", escape_received(value.as_bytes())))
        .collect();
    result.reason = format!(
        "{count} TXT record(s) found at {place}, none with the expected value: expected \"{expected}\", received {}",
        received.join(", "),
        count = received.len(),
    );
    result
}
