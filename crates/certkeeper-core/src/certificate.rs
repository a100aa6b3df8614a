//! Facts about a certificate record that are not its status.

use std::fmt;
use std::str::FromStr;

/// Where a certificate came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertificateSource {
    /// Signed by certkeeper's own CA.
    Issued,
    /// Issued elsewhere and uploaded for hosting.
    Uploaded,
}

impl CertificateSource {
    /// Returns the name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CertificateSource::Issued => "issued",
            CertificateSource::Uploaded => "upload",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "issued" => Some(CertificateSource::Issued),
            "upload" => Some(CertificateSource::Uploaded),
            _ => None,
        }
    }
}

/// How domain ownership is proven, with the Tencent API's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValidationMethod {
    /// The applicant publishes a TXT record.
    Dns,
    /// certkeeper writes the TXT record itself by RFC 2136 dynamic update.
    DnsAuto,
    /// The applicant serves a file under `/.well-known/pki-validation/`.
    File,
    /// No domain validation: operator issuance (`ca sign`) or a product that skips it.
    None,
}

impl ValidationMethod {
    /// Returns the API name (`DNS`, `DNS_AUTO`, `FILE`), or `NONE`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationMethod::Dns => "DNS",
            ValidationMethod::DnsAuto => "DNS_AUTO",
            ValidationMethod::File => "FILE",
            ValidationMethod::None => "NONE",
        }
    }
}

impl fmt::Display for ValidationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ValidationMethod {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_uppercase().as_str() {
            "DNS" => Ok(ValidationMethod::Dns),
            "DNS_AUTO" => Ok(ValidationMethod::DnsAuto),
            "FILE" => Ok(ValidationMethod::File),
            "NONE" => Ok(ValidationMethod::None),
            _ => Err(format!("unknown validation method {text:?}; use DNS, DNS_AUTO or FILE")),
        }
    }
}
