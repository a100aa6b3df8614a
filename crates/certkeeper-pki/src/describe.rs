//! Human-readable facts about a certificate, for logs, the CLI and API responses.

use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

/// The facts about one certificate that operators look at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateSummary {
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    /// notBefore and notAfter as Unix seconds (UTC).
    pub not_before: i64,
    pub not_after: i64,
    /// DNS names of the subjectAltName extension.
    pub dns_names: Vec<String>,
    pub sha256: String,
    pub sha1: String,
    pub is_ca: bool,
}

/// Error from parsing a certificate for its summary.
#[derive(Debug, thiserror::Error)]
#[error("the certificate does not parse as X.509 DER: {detail}")]
pub struct DescribeError {
    pub detail: String,
}

/// Parses a DER certificate and returns its summary.
pub fn describe(der: &[u8]) -> Result<CertificateSummary, DescribeError> {
    let (_, certificate) = X509Certificate::from_der(der).map_err(|e| DescribeError { detail: e.to_string() })?;
    let mut dns_names = Vec::new();
    for extension in certificate.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = extension.parsed_extension() {
            for name in &san.general_names {
                if let GeneralName::DNSName(value) = name {
                    dns_names.push((*value).to_owned());
                }
            }
        }
    }
    Ok(CertificateSummary {
        subject: certificate.subject().to_string(),
        issuer: certificate.issuer().to_string(),
        serial_hex: hex::encode(certificate.raw_serial()),
        not_before: certificate.validity().not_before.timestamp(),
        not_after: certificate.validity().not_after.timestamp(),
        dns_names,
        sha256: crate::sha256_hex(der),
        sha1: crate::sha1_hex(der),
        is_ca: certificate.is_ca(),
    })
}
