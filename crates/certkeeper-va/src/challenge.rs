//! Challenges: the random values an applicant publishes to prove control of a domain.

use std::fmt;

use certkeeper_core::{DnsName, ValidationMethod};
use serde::Serialize;

/// Label prepended to a domain to form the owner name of the DNS TXT record.
pub const DNS_RECORD_LABEL: &str = "_dnsauth";

/// Directory of validation files on the applicant's web server.
pub const FILE_DIRECTORY: &str = "/.well-known/pki-validation/";

/// Random bytes in a token: 160 bits, above the 128 bits that CA/Browser Forum Baseline
/// Requirements §1.6.1 ("Random Value") require.
const TOKEN_BYTES: usize = 20;

/// Random bytes in a file name.
const FILE_NAME_BYTES: usize = 16;

/// The record type or file an applicant publishes, as the Tencent API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum VerifyType {
    /// A DNS TXT record.
    #[serde(rename = "TXT")]
    Txt,
    /// A file on the web server.
    #[serde(rename = "FILE")]
    File,
}

impl VerifyType {
    /// Returns `TXT` or `FILE`.
    pub fn as_str(self) -> &'static str {
        match self {
            VerifyType::Txt => "TXT",
            VerifyType::File => "FILE",
        }
    }
}

impl fmt::Display for VerifyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Record or file an applicant must publish for one domain.
///
/// For `DNS` and `DNS_AUTO`, a TXT record named [`Challenge::key`] whose value is
/// [`Challenge::value`]. For `FILE`, the file at [`Challenge::path`] on `http://<domain>/`
/// whose content is [`Challenge::value`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    /// Domain as it goes into the certificate; may be a wildcard.
    pub domain: DnsName,
    /// Validation method.
    pub method: ValidationMethod,
    /// Record type or file.
    pub verify_type: VerifyType,
    /// DNS: the TXT record's owner name, such as `_dnsauth.example.com` (also for
    /// `*.example.com`). FILE: the file name, such as `3f…9a.txt`.
    pub key: String,
    /// Sub-domain label of the record relative to [`Challenge::validated_domain`]
    /// (`_dnsauth`); empty for FILE.
    pub sub_domain: String,
    /// The token: lower-case hex of 20 random bytes.
    pub value: String,
    /// FILE: the URL path, such as `/.well-known/pki-validation/3f…9a.txt`; empty for DNS.
    pub path: String,
}

/// Error from creating a challenge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// A wildcard name can only be validated through DNS.
    #[error(
        "{domain} is a wildcard name, which can only be validated with DNS or DNS_AUTO; \
         choose one of those methods"
    )]
    WildcardNeedsDns {
        /// The wildcard domain.
        domain: DnsName,
    },
    /// The method is not a domain validation method.
    #[error("{method} is not a domain validation method; use DNS, DNS_AUTO or FILE for {domain}")]
    NoValidationMethod {
        /// The domain.
        domain: DnsName,
        /// The requested method.
        method: ValidationMethod,
    },
    /// The system random generator failed.
    #[error("the system random number generator failed")]
    Random,
}

impl Challenge {
    /// Creates a challenge with a fresh random token (and file name for FILE).
    pub fn new(domain: DnsName, method: ValidationMethod) -> Result<Challenge, ChallengeError> {
        let value = random_hex(TOKEN_BYTES)?;
        match method {
            ValidationMethod::Dns | ValidationMethod::DnsAuto => Ok(Challenge {
                key: dns_record_name(&domain),
                sub_domain: DNS_RECORD_LABEL.to_owned(),
                verify_type: VerifyType::Txt,
                path: String::new(),
                domain,
                method,
                value,
            }),
            ValidationMethod::File if domain.is_wildcard() => {
                Err(ChallengeError::WildcardNeedsDns { domain })
            }
            ValidationMethod::File => {
                let key = format!("{}.txt", random_hex(FILE_NAME_BYTES)?);
                Ok(Challenge {
                    path: format!("{FILE_DIRECTORY}{key}"),
                    sub_domain: String::new(),
                    verify_type: VerifyType::File,
                    domain,
                    method,
                    key,
                    value,
                })
            }
            ValidationMethod::None => Err(ChallengeError::NoValidationMethod { domain, method }),
        }
    }

    /// Returns the name whose control is proven: the domain without a leading `*.`.
    pub fn validated_domain(&self) -> &str {
        self.domain.base()
    }

    /// Returns the first URL a file check fetches, with the given HTTP port.
    pub fn file_url(&self, http_port: u16) -> String {
        format!(
            "http://{}:{http_port}{}",
            self.validated_domain(),
            self.path
        )
    }
}

/// Returns the TXT record owner name for a domain: `_dnsauth.` plus the domain without `*.`.
pub fn dns_record_name(domain: &DnsName) -> String {
    format!("{DNS_RECORD_LABEL}.{}", domain.base())
}

fn random_hex(bytes: usize) -> Result<String, ChallengeError> {
    let mut buffer = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buffer).map_err(|_| ChallengeError::Random)?;
    Ok(hex::encode(buffer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> DnsName {
        DnsName::parse(text).unwrap()
    }

    #[test]
    fn dns_challenge_for_wildcard_uses_base() {
        let challenge = Challenge::new(name("*.example.test"), ValidationMethod::Dns).unwrap();
        assert_eq!(challenge.key, "_dnsauth.example.test");
        assert_eq!(challenge.verify_type, VerifyType::Txt);
        assert_eq!(challenge.value.len(), 40);
        assert!(challenge.path.is_empty());
    }

    #[test]
    fn file_challenge_has_path() {
        let challenge = Challenge::new(name("www.example.test"), ValidationMethod::File).unwrap();
        assert!(challenge.path.starts_with("/.well-known/pki-validation/"));
        assert!(challenge.path.ends_with(".txt"));
        assert_eq!(challenge.path, format!("{FILE_DIRECTORY}{}", challenge.key));
        assert_eq!(
            challenge.file_url(8080),
            format!("http://www.example.test:8080{}", challenge.path)
        );
    }

    #[test]
    fn wildcard_file_challenge_is_rejected() {
        let error = Challenge::new(name("*.example.test"), ValidationMethod::File).unwrap_err();
        assert!(error.to_string().contains("*.example.test"), "{error}");
    }

    #[test]
    fn tokens_differ() {
        let first = Challenge::new(name("example.test"), ValidationMethod::Dns).unwrap();
        let second = Challenge::new(name("example.test"), ValidationMethod::Dns).unwrap();
        assert_ne!(first.value, second.value);
    }
}
