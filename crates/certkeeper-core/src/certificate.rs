//! Facts about a certificate record that are not its status.

use std::fmt;
use std::str::FromStr;

/// Origin of a certificate.
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

/// Method of proving domain ownership, with the Tencent API's names.
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

/// Seconds before notAfter from which a certificate may be renewed: 30 days, the window in which
/// the Tencent API offers renewal (`RenewAble`) and flags a certificate as expiring.
pub const RENEWAL_WINDOW_SECONDS: i64 = 30 * 24 * 3600;

/// One certificate as certkeeper keeps it: an order and, once issued, the certificate itself.
///
/// Times are Unix seconds (UTC). Links name other certificate ids: `renewed_from` and
/// `renewal_id` join a certificate and its renewal, `reissued_from` and `reissued_by` join an
/// original and its reissue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRecord {
    /// Eight-character identifier, the API's `CertificateId`.
    pub id: String,
    /// Owning account; `None` for operator issuance (`ca sign`).
    pub account_id: Option<i64>,
    pub product_id: u32,
    pub status: crate::CertificateStatus,
    /// Free-text detail of the status, such as a failure reason or `PENDING-DCV`.
    pub status_message: String,
    pub source: CertificateSource,
    pub validation_method: ValidationMethod,
    /// The main domain (first name).
    pub domain: String,
    /// Every name, the main domain first.
    pub names: Vec<String>,
    pub key_algorithm: crate::KeyAlgorithm,
    pub alias: String,
    pub project_id: u64,
    /// Serial as lower-case hex, once signed.
    pub serial: Option<String>,
    /// Issuer row id, once signed.
    pub issuer_id: Option<i64>,
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// DER of the certificate, once signed.
    pub certificate_der: Option<Vec<u8>>,
    /// DER of the CSR the order was made with.
    pub csr_der: Option<Vec<u8>>,
    /// Private key sealed under the master key, when certkeeper generated it.
    pub sealed_private_key: Option<Vec<u8>>,
    pub renewed_from: Option<String>,
    pub renewal_id: Option<String>,
    pub reissued_from: Option<String>,
    pub reissued_by: Option<String>,
    /// Renew automatically before expiry (`AutoRenewFlag`), where validation needs no one.
    pub auto_renew: bool,
    /// End of a multi-year service term, Unix seconds. Until then the certificate is renewed
    /// automatically with consecutive certificates, the last of which ends at the term's end.
    pub term_ends_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CertificateRecord {
    /// Returns true when the certificate has not expired at `now` (Unix seconds) and expires
    /// within [`RENEWAL_WINDOW_SECONDS`].
    pub fn in_renewal_window(&self, now: i64) -> bool {
        self.not_after.is_some_and(|not_after| not_after > now && not_after - now <= RENEWAL_WINDOW_SECONDS)
    }

    /// Returns true while the certificate waits for its renewal: a renewal order exists and
    /// the certificate is in its renewal window. The renewal order replaces it, so its owner
    /// cannot revoke it. A renewal that fails or is cancelled clears `renewal_id`.
    pub fn awaits_renewal(&self, now: i64) -> bool {
        self.renewal_id.is_some() && self.in_renewal_window(now)
    }
}
