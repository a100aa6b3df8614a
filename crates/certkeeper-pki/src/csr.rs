//! CSR parsing and policy checks, done before anything reaches the signing library.

use certkeeper_core::key::ACCEPTED_CSR_KEYS;
use certkeeper_core::{DnsName, KeyAlgorithm, NameError};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::keys::SubjectKey;

/// Most names one certificate may carry (CN and SANs together, after removing duplicates).
pub const MAX_CSR_NAMES: usize = 100;

/// Largest CSR accepted, in bytes of DER; RSA-4096 CSRs with 100 names stay far below it.
pub const MAX_CSR_DER_LENGTH: usize = 64 * 1024;

/// A CSR whose signature, key and names passed every check.
#[derive(Clone, Debug)]
pub struct CheckedCsr {
    /// The subject public key, with the algorithm read from the SubjectPublicKeyInfo.
    pub key: SubjectKey,
    /// Normalised DNS names: the CN first (when present), then the SANs, without duplicates.
    pub names: Vec<DnsName>,
    /// The DER encoding of the CSR as received.
    pub der: Vec<u8>,
}

/// Rejection of a CSR. Each message names the value at fault and what is accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    #[error("the CSR is not PEM (\"BEGIN CERTIFICATE REQUEST\") or DER: {detail}")]
    NotCsr { detail: String },
    #[error("the CSR is {length} bytes; the limit is {MAX_CSR_DER_LENGTH}")]
    TooLarge { length: usize },
    #[error("the CSR signature does not verify, so the CSR was altered or signed with another key")]
    BadSignature,
    #[error("the CSR key is {found}; accepted keys are {}", accepted_keys())]
    KeyNotAccepted { found: String },
    #[error("the CSR contains the {kind} {value:?}; certkeeper issues DNS names only, so remove it")]
    UnsupportedName { kind: &'static str, value: String },
    #[error("the CSR name {value:?} is an IP address written as a DNS name; certkeeper does not issue IP address certificates")]
    IpAsDnsName { value: String },
    #[error("the CSR name {value:?} is invalid: {source}")]
    InvalidName { value: String, source: NameError },
    #[error("the CSR names no domain; put the domain in the CN or in a DNS subjectAltName")]
    NoNames,
    #[error("the CSR names {count} domains; at most {MAX_CSR_NAMES} are allowed per certificate")]
    TooManyNames { count: usize },
    #[error("the CSR has a malformed subjectAltName or extension request: {detail}")]
    BadExtension { detail: String },
}

fn accepted_keys() -> String {
    let names: Vec<&str> = ACCEPTED_CSR_KEYS.iter().map(|k| k.name()).collect();
    names.join(", ")
}

/// Parses a CSR given as PEM or DER and runs every check: signature, key policy and names.
///
/// Does not check the names against a public suffix list or against validated domains; the
/// caller does that for the order.
pub fn check_csr(input: &[u8]) -> Result<CheckedCsr, CsrError> {
    let der = decode_csr(input)?;
    if der.len() > MAX_CSR_DER_LENGTH {
        return Err(CsrError::TooLarge { length: der.len() });
    }
    if der.is_empty() {
        return Err(CsrError::NotCsr { detail: "the input is empty".into() });
    }
    if der[0] != 0x30 {
        return Err(CsrError::NotCsr { detail: "the input is neither PEM text nor DER (DER starts with a SEQUENCE, byte 0x30)".into() });
    }
    let (rest, csr) = X509CertificationRequest::from_der(&der).map_err(|_| CsrError::NotCsr {
        detail: "the DER is not a PKCS#10 certification request; it is cut off or another structure".into(),
    })?;
    if !rest.is_empty() {
        return Err(CsrError::NotCsr { detail: format!("{} bytes follow the CSR", rest.len()) });
    }
    // The key policy comes first: the crypto backend cannot verify signatures made with keys
    // outside it (RSA-1024, secp256k1), and the message must name the key, not the signature.
    let key = subject_key(&csr)?;
    csr.verify_signature().map_err(|_| CsrError::BadSignature)?;

    let names = requested_names(&csr)?;
    Ok(CheckedCsr { key, names, der: der.clone() })
}

fn decode_csr(input: &[u8]) -> Result<Vec<u8>, CsrError> {
    let text_start = input.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(input.len());
    if input[text_start..].starts_with(b"-----BEGIN") || input.starts_with(b"\xEF\xBB\xBF") {
        let text = std::str::from_utf8(input)
            .map_err(|_| CsrError::NotCsr { detail: "the PEM text is not UTF-8".into() })?;
        let text = text.trim_start_matches('\u{feff}');
        let block = pem::parse(text).map_err(|_| CsrError::NotCsr {
            detail: "the PEM block is malformed: it is cut off, or its BEGIN and END lines do not match".into(),
        })?;
        if !matches!(block.tag(), "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST") {
            return Err(CsrError::NotCsr {
                detail: format!("the PEM block is labelled {:?}, not \"CERTIFICATE REQUEST\"", block.tag()),
            });
        }
        return Ok(block.into_contents());
    }
    Ok(input.to_vec())
}

fn subject_key(csr: &X509CertificationRequest<'_>) -> Result<SubjectKey, CsrError> {
    let spki = &csr.certification_request_info.subject_pki;
    let algorithm_oid = &spki.algorithm.algorithm;
    let found = |text: String| CsrError::KeyNotAccepted { found: text };

    let algorithm = if *algorithm_oid == OID_PKCS1_RSAENCRYPTION {
        let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
            return Err(found("an RSA key whose modulus does not parse".into()));
        };
        let bits = modulus_bits(rsa.modulus);
        KeyAlgorithm::rsa_with_bits(bits).ok_or_else(|| found(format!("RSA {bits}")))?
    } else if *algorithm_oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .ok_or_else(|| found("an EC key without a named curve".into()))?;
        let point_length = spki.subject_public_key.data.len();
        if curve == OID_EC_P256 && point_length == 65 {
            KeyAlgorithm::EcdsaP256
        } else if curve.to_id_string() == "1.3.132.0.34" && point_length == 97 {
            KeyAlgorithm::EcdsaP384
        } else {
            return Err(found(format!("ECDSA on curve {}", curve_name(&curve.to_id_string()))));
        }
    } else {
        return Err(found(format!("an unsupported algorithm ({})", key_algorithm_name(&algorithm_oid.to_id_string()))));
    };

    SubjectKey::new(algorithm, spki.subject_public_key.data.to_vec(), spki.raw.to_vec())
        .map_err(|_| found(algorithm.to_string()))
}

fn modulus_bits(modulus: &[u8]) -> usize {
    let trimmed: &[u8] = match modulus.iter().position(|b| *b != 0) {
        Some(start) => &modulus[start..],
        None => return 0,
    };
    trimmed.len() * 8 - trimmed[0].leading_zeros() as usize
}

fn curve_name(oid: &str) -> String {
    match oid {
        "1.3.132.0.10" => "secp256k1".into(),
        "1.3.132.0.35" => "P-521 (secp521r1)".into(),
        "1.2.840.10045.3.1.7" => "P-256 with a malformed point".into(),
        "1.3.132.0.34" => "P-384 with a malformed point".into(),
        other => other.into(),
    }
}

fn key_algorithm_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.10" => "RSASSA-PSS".into(),
        "1.3.101.112" => "Ed25519".into(),
        "1.3.101.113" => "Ed448".into(),
        "1.2.840.10040.4.1" => "DSA".into(),
        other => format!("OID {other}"),
    }
}

fn requested_names(csr: &X509CertificationRequest<'_>) -> Result<Vec<DnsName>, CsrError> {
    let mut raw: Vec<String> = Vec::new();
    for cn in csr.certification_request_info.subject.iter_common_name() {
        let value = cn
            .as_str()
            .map_err(|_| CsrError::BadExtension { detail: "the CN is not a text string".into() })?;
        if is_ip_text(value) {
            return Err(CsrError::UnsupportedName { kind: "IP address CN", value: value.to_owned() });
        }
        raw.push(value.to_owned());
    }

    if let Some(extensions) = csr.requested_extensions() {
        for extension in extensions {
            match extension {
                ParsedExtension::SubjectAlternativeName(san) => {
                    for name in &san.general_names {
                        raw.push(dns_name_from_general_name(name)?);
                    }
                }
                ParsedExtension::ParseError { error } => {
                    return Err(CsrError::BadExtension { detail: error.to_string() });
                }
                _ => {}
            }
        }
    }

    let mut names: Vec<DnsName> = Vec::new();
    for value in raw {
        if is_ip_text(&value) {
            return Err(CsrError::IpAsDnsName { value });
        }
        let name = DnsName::parse(&value).map_err(|source| CsrError::InvalidName { value: value.clone(), source })?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Err(CsrError::NoNames);
    }
    if names.len() > MAX_CSR_NAMES {
        return Err(CsrError::TooManyNames { count: names.len() });
    }
    Ok(names)
}

fn dns_name_from_general_name(name: &GeneralName<'_>) -> Result<String, CsrError> {
    let unsupported = |kind, value: String| Err(CsrError::UnsupportedName { kind, value });
    match name {
        GeneralName::DNSName(value) => Ok((*value).to_owned()),
        GeneralName::RFC822Name(value) => unsupported("email address (rfc822Name)", (*value).to_owned()),
        GeneralName::URI(value) => unsupported("URI", (*value).to_owned()),
        GeneralName::IPAddress(bytes) => unsupported("IP address", format_ip(bytes)),
        GeneralName::OtherName(oid, _) => unsupported("otherName", oid.to_id_string()),
        GeneralName::DirectoryName(value) => unsupported("directoryName", value.to_string()),
        GeneralName::RegisteredID(oid) => unsupported("registeredID", oid.to_id_string()),
        GeneralName::X400Address(_) => unsupported("x400Address", String::new()),
        GeneralName::EDIPartyName(_) => unsupported("ediPartyName", String::new()),
        GeneralName::Invalid(_, bytes) => unsupported("malformed name", String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn format_ip(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(bytes);
            std::net::Ipv6Addr::from(octets).to_string()
        }
        _ => hex::encode(bytes),
    }
}

fn is_ip_text(value: &str) -> bool {
    let value = value.trim().trim_start_matches('[').trim_end_matches(']');
    value.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignores_leading_zeros() {
        let mut modulus = vec![0u8];
        modulus.extend(std::iter::repeat_n(0xffu8, 256));
        assert_eq!(modulus_bits(&modulus), 2048);
        let mut odd = vec![0x00, 0x80];
        odd.extend(std::iter::repeat_n(0u8, 273));
        assert_eq!(modulus_bits(&odd), 2192);
        assert_eq!(modulus_bits(&[0x00, 0x01]), 1);
    }

    #[test]
    fn garbage_is_not_a_csr() {
        assert!(matches!(check_csr(b"hello"), Err(CsrError::NotCsr { .. })));
        let cases: [(&[u8], &str); 4] = [
            (b"", "the input is empty"),
            (b"hello", "neither PEM text nor DER"),
            (b"\x30\x03\x02\x01", "not a PKCS#10 certification request"),
            (b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n", "the PEM block is malformed"),
        ];
        for (input, detail) in cases {
            let message = check_csr(input).unwrap_err().to_string();
            assert!(message.contains(detail), "{input:?}: {message}");
            assert!(!message.contains("Nom"), "{input:?}: {message}");
            assert!(!message.contains("Parsing"), "{input:?}: {message}");
        }
        let wrong_label = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let error = check_csr(wrong_label).unwrap_err();
        assert!(error.to_string().contains("\"CERTIFICATE\""), "{error}");
    }
}

/// Organisation attributes in a CSR's subject, each `None` when absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsrOrganization {
    pub organization: Option<String>,
    pub locality: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
}

/// Reads O, L, ST and C from the subject of a CSR (PEM or DER) whose checks passed. An
/// attribute that is not a string is reported as absent.
pub fn csr_organization(input: &[u8]) -> Result<CsrOrganization, CsrError> {
    let der = decode_csr(input)?;
    let (_, csr) = X509CertificationRequest::from_der(&der).map_err(|error| CsrError::NotCsr { detail: error.to_string() })?;
    let subject = &csr.certification_request_info.subject;
    let first = |values: Vec<&x509_parser::x509::AttributeTypeAndValue<'_>>| {
        values.first().and_then(|value| value.as_str().ok()).map(str::to_owned)
    };
    Ok(CsrOrganization {
        organization: first(subject.iter_organization().collect()),
        locality: first(subject.iter_locality().collect()),
        state: first(subject.iter_state_or_province().collect()),
        country: first(subject.iter_country().collect()),
    })
}
