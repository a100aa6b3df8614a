//! certkeeper's signing authority.
//!
//! Creates the root and the issuing intermediate, keeps their keys sealed under the master key
//! while stored, and signs leaves. It records nothing itself: the caller stores the sealed keys
//! it returns and reserves each serial before asking for a signature.

mod urls;

use certkeeper_core::{KeyAlgorithm, SerialNumber};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_pki::profile::{self, CaProfile, IssuerUrls, LeafIssuer, LeafProfile};
use certkeeper_pki::{KeyError, MasterKey, ProfileError, SealError};
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use urls::UrlScheme;

/// Error from creating, loading or using the CA.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error("the stored {role} CA certificate does not parse: {detail}")]
    BadCertificate { role: &'static str, detail: String },
    #[error("the random number generator failed")]
    Random,
}

/// One CA certificate with its sealed key, as the store keeps it.
#[derive(Clone, Debug)]
pub struct SealedIssuer {
    pub key_algorithm: KeyAlgorithm,
    pub certificate_der: Vec<u8>,
    pub sealed_key: Vec<u8>,
}

/// A newly created root and intermediate, ready to be stored.
#[derive(Clone, Debug)]
pub struct NewCa {
    pub root: SealedIssuer,
    pub intermediate: SealedIssuer,
}

/// Returns a fresh serial of 16 bytes from the system CSPRNG, made positive and kept at 16
/// bytes in DER (`SerialNumber::from_random`), so 126 of its bits are random.
///
/// An earlier version put the Unix second in the first four bytes to keep the serial index
/// growing at its end. In the issuance benchmark that made no difference once certificate ids
/// were time-ordered, so serials are random throughout.
pub fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = [0u8; SerialNumber::RANDOM_LENGTH];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| CaError::Random)?;
    Ok(SerialNumber::from_random(bytes))
}

/// Context string that binds a sealed CA key to its certificate.
fn seal_context(certificate_der: &[u8]) -> String {
    format!("issuer-key:{}", certkeeper_pki::sha256_hex(certificate_der))
}

/// Creates a root CA and an issuing intermediate with keys of `algorithm`.
///
/// `root_issuer_id` is the id the root will have in the store, used for the intermediate's
/// caIssuers and CRL URLs.
pub fn create(
    algorithm: KeyAlgorithm,
    profile: &CaProfile,
    urls: &UrlScheme,
    master_key: &MasterKey,
    now: OffsetDateTime,
) -> Result<NewCa, CaError> {
    let root_key = SigningKeyPair::generate(algorithm)?;
    let root_der = profile::build_root(&root_key, profile, &random_serial()?, now)?;

    let intermediate_key = SigningKeyPair::generate(algorithm)?;
    let root_urls = IssuerUrls { ocsp: None, ca_issuers: urls.root_certificate_url(), crl: urls.root_crl_url() };
    let intermediate_der = profile::build_intermediate(
        &intermediate_key,
        &root_der,
        &root_key,
        profile,
        &random_serial()?,
        now,
        &root_urls,
    )?;

    let seal = |key: &SigningKeyPair, der: &[u8]| master_key.seal(&seal_context(der), &key.pkcs8_der());
    Ok(NewCa {
        root: SealedIssuer { key_algorithm: algorithm, sealed_key: seal(&root_key, &root_der)?, certificate_der: root_der },
        intermediate: SealedIssuer {
            key_algorithm: algorithm,
            sealed_key: seal(&intermediate_key, &intermediate_der)?,
            certificate_der: intermediate_der,
        },
    })
}

/// Opens a sealed CA key. Fails with [`SealError::OpenFailed`] under the wrong master key.
pub fn open_key(issuer: &SealedIssuer, master_key: &MasterKey) -> Result<SigningKeyPair, CaError> {
    let pkcs8: Zeroizing<Vec<u8>> = master_key.open(&seal_context(&issuer.certificate_der), &issuer.sealed_key)?;
    Ok(SigningKeyPair::from_pkcs8(issuer.key_algorithm, &pkcs8)?)
}

/// The issuing CA in memory: its certificate chain and its opened key.
pub struct CertificateAuthority {
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    intermediate_id: i64,
    signer: LeafIssuer<SigningKeyPair>,
    urls: UrlScheme,
}

/// The variable parts of one leaf.
pub struct LeafRequest<'a> {
    pub key: &'a certkeeper_pki::SubjectKey,
    pub names: &'a [certkeeper_core::DnsName],
    pub serial: &'a SerialNumber,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub level: certkeeper_core::ValidationLevel,
    /// Verified organisation of an OV or EV certificate; `None` for DV.
    pub subject: Option<&'a certkeeper_core::OrganizationSubject>,
}

impl CertificateAuthority {
    /// Opens the intermediate's key and prepares it for signing.
    pub fn load(
        root: &SealedIssuer,
        intermediate: &SealedIssuer,
        intermediate_id: i64,
        master_key: &MasterKey,
        urls: UrlScheme,
    ) -> Result<Self, CaError> {
        let key = open_key(intermediate, master_key)?;
        let signer = LeafIssuer::new(&intermediate.certificate_der, key)?;
        Ok(CertificateAuthority {
            root_der: root.certificate_der.clone(),
            intermediate_der: intermediate.certificate_der.clone(),
            intermediate_id,
            signer,
            urls,
        })
    }

    /// Returns the root certificate (DER).
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// Returns the issuing intermediate certificate (DER).
    pub fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// Returns the store id of the issuing intermediate.
    pub fn intermediate_id(&self) -> i64 {
        self.intermediate_id
    }

    /// Returns the URL scheme written into certificates.
    pub fn urls(&self) -> &UrlScheme {
        &self.urls
    }

    /// Signs a leaf whose serial the caller has already reserved, and returns its DER.
    pub fn sign_leaf(&self, request: &LeafRequest<'_>) -> Result<Vec<u8>, CaError> {
        let urls = IssuerUrls {
            ocsp: Some(self.urls.ocsp_url()),
            ca_issuers: self.urls.issuer_certificate_url(self.intermediate_id),
            crl: self.urls.crl_url(self.intermediate_id, request.serial),
        };
        let der = self.signer.sign_leaf(&LeafProfile {
            key: request.key,
            names: request.names,
            serial: request.serial,
            not_before: request.not_before,
            not_after: request.not_after,
            level: request.level,
            urls,
            subject: request.subject,
        })?;
        tracing::info!(
            target: "audit",
            event = "leaf-signed",
            serial = %request.serial,
            issuer = self.intermediate_id,
            sha256 = %certkeeper_pki::sha256_hex(&der),
            names = request.names.len(),
        );
        Ok(der)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn random_serials_are_positive_16_bytes() {
        for _ in 0..1000 {
            let serial = random_serial().unwrap();
            let bytes = serial.as_bytes();
            assert_eq!(bytes.len(), 16);
            assert!(bytes[0] & 0x80 == 0, "{}", serial.to_hex());
            assert!(bytes[0] != 0, "{}", serial.to_hex());
        }
    }

    #[test]
    fn random_serials_have_random_leading_bytes() {
        let prefixes: HashSet<Vec<u8>> = (0..1000).map(|_| random_serial().unwrap().as_bytes()[..4].to_vec()).collect();
        assert!(prefixes.len() > 990, "only {} distinct 4-byte prefixes in 1000 serials", prefixes.len());
    }
}
