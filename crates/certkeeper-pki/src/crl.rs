//! Certificate revocation lists (RFC 5280 §5) signed by one of certkeeper's CAs.

use certkeeper_core::SerialNumber;
use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, Issuer, KeyIdMethod,
    RevokedCertParams, SigningKey,
};
use time::OffsetDateTime;

/// Error from building a CRL or a responder certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    #[error("the issuer certificate does not parse: {detail}")]
    Issuer { detail: String },
    #[error("rcgen failed to build the {what}: {source}")]
    Build { what: &'static str, source: rcgen::Error },
    #[error("{code} is not an RFC 5280 CRLReason code (0-6 or 8-10)")]
    InvalidReason { code: i64 },
}

/// RFC 5280 §5.3.1 CRLReason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RevocationReason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
    RemoveFromCrl,
    PrivilegeWithdrawn,
    AaCompromise,
}

impl RevocationReason {
    /// Returns the reason of a CRLReason code; code 7 is unassigned and is rejected.
    pub fn from_code(code: i64) -> Result<Self, CrlError> {
        Ok(match code {
            0 => Self::Unspecified,
            1 => Self::KeyCompromise,
            2 => Self::CaCompromise,
            3 => Self::AffiliationChanged,
            4 => Self::Superseded,
            5 => Self::CessationOfOperation,
            6 => Self::CertificateHold,
            8 => Self::RemoveFromCrl,
            9 => Self::PrivilegeWithdrawn,
            10 => Self::AaCompromise,
            _ => return Err(CrlError::InvalidReason { code }),
        })
    }

    /// Returns the CRLReason code.
    pub fn code(self) -> i64 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    fn to_rcgen(self) -> rcgen::RevocationReason {
        match self {
            Self::Unspecified => rcgen::RevocationReason::Unspecified,
            Self::KeyCompromise => rcgen::RevocationReason::KeyCompromise,
            Self::CaCompromise => rcgen::RevocationReason::CaCompromise,
            Self::AffiliationChanged => rcgen::RevocationReason::AffiliationChanged,
            Self::Superseded => rcgen::RevocationReason::Superseded,
            Self::CessationOfOperation => rcgen::RevocationReason::CessationOfOperation,
            Self::CertificateHold => rcgen::RevocationReason::CertificateHold,
            Self::RemoveFromCrl => rcgen::RevocationReason::RemoveFromCrl,
            Self::PrivilegeWithdrawn => rcgen::RevocationReason::PrivilegeWithdrawn,
            Self::AaCompromise => rcgen::RevocationReason::AaCompromise,
        }
    }
}

/// One revoked certificate as listed in a CRL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    pub serial: SerialNumber,
    pub revoked_at: OffsetDateTime,
    pub reason: RevocationReason,
}

/// Scope of a CRL, written into its issuingDistributionPoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrlScope {
    /// End-entity certificates only (onlyContainsUserCerts).
    Leaves,
    /// CA certificates only (onlyContainsCACerts), as in the root's CRL.
    CaCertificates,
}

/// The variable parts of one CRL.
#[derive(Clone, Debug)]
pub struct CrlContents<'a> {
    /// CRL number (RFC 5280 §5.2.3); the caller keeps it strictly increasing per scope.
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    /// The URL this CRL is served from, which is also the CRL distribution point of the
    /// certificates it covers.
    pub distribution_point: &'a str,
    pub scope: CrlScope,
    pub entries: &'a [CrlEntry],
}

/// A CA certificate with its key, able to sign CRLs and OCSP responder certificates.
pub struct CaSigner<S: SigningKey> {
    issuer: Issuer<'static, S>,
    key_identifier: Vec<u8>,
    certificate_der: Vec<u8>,
}

impl<S: SigningKey> CaSigner<S> {
    /// Wraps a CA certificate (DER) and its key.
    ///
    /// The authority key identifier written into CRLs is the certificate's own subject key
    /// identifier, so relying parties match the CRL to the certificate whichever method made
    /// that identifier.
    pub fn new(certificate_der: &[u8], key: S) -> Result<Self, CrlError> {
        let (_, certificate) = x509_parser::parse_x509_certificate(certificate_der)
            .map_err(|error| CrlError::Issuer { detail: error.to_string() })?;
        let key_identifier = certificate
            .extensions()
            .iter()
            .find_map(|extension| match extension.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| CrlError::Issuer { detail: "it has no subject key identifier".to_owned() })?;
        let issuer = Issuer::from_ca_cert_der(&certificate_der.into(), key)
            .map_err(|error| CrlError::Issuer { detail: error.to_string() })?;
        Ok(CaSigner { issuer, key_identifier, certificate_der: certificate_der.to_vec() })
    }

    /// Returns the CA certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, S> {
        &self.issuer
    }

    /// Signs a version 2 CRL and returns its DER.
    ///
    /// Profile (RFC 5280 §5, CA/Browser Forum Baseline Requirements §7.2): CRL number,
    /// authority key identifier, and a critical issuingDistributionPoint naming
    /// `distribution_point` with the scope. Entries carry a reasonCode extension unless the
    /// reason is unspecified, because RFC 5280 §5.3.1 recommends leaving it out. With no entries the
    /// revokedCertificates field is absent, as RFC 5280 §5.1.2.6 requires; rcgen 0.14.10 writes
    /// it that way, and the tests check the encoding.
    pub fn sign_crl(&self, contents: &CrlContents<'_>) -> Result<Vec<u8>, CrlError> {
        let revoked_certs = contents
            .entries
            .iter()
            .map(|entry| RevokedCertParams {
                serial_number: rcgen::SerialNumber::from_slice(entry.serial.as_bytes()),
                revocation_time: entry.revoked_at,
                reason_code: Some(entry.reason.to_rcgen()),
                invalidity_date: None,
            })
            .collect();
        let scope = match contents.scope {
            CrlScope::Leaves => rcgen::CrlScope::UserCertsOnly,
            CrlScope::CaCertificates => rcgen::CrlScope::CaCertsOnly,
        };
        let params = CertificateRevocationListParams {
            this_update: contents.this_update,
            next_update: contents.next_update,
            crl_number: rcgen::SerialNumber::from(contents.number),
            issuing_distribution_point: Some(CrlIssuingDistributionPoint {
                distribution_point: CrlDistributionPoint { uris: vec![contents.distribution_point.to_owned()] },
                scope: Some(scope),
            }),
            revoked_certs,
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_identifier.clone()),
        };
        let crl = params
            .signed_by(&self.issuer)
            .map_err(|source| CrlError::Build { what: "CRL", source })?;
        Ok(crl.der().to_vec())
    }
}
