//! Certificates, CSRs, keys and their encodings for certkeeper.
//!
//! This crate builds and parses DER; it performs no I/O and reads no clock. Signing goes
//! through rcgen's `SigningKey`, so a hardware-backed key can take the place of [`keys::SigningKeyPair`].

pub mod crl;
pub mod keystore;
pub mod csr;
pub mod describe;
pub mod ext;
pub mod keys;
pub mod ocsp;
pub mod profile;
pub mod sealed;
pub mod upload;

pub use csr::{CheckedCsr, CsrError, CsrOrganization, MAX_CSR_NAMES, check_csr, csr_organization};
pub use describe::{CertificateSummary, describe};
pub use keys::{KeyError, SigningKeyPair, SubjectKey};
pub use profile::{CaProfile, IssuerUrls, LeafProfile, ProfileError};
pub use sealed::{MasterKey, SealError};

/// Encodes DER as PEM with LF line ends and a final newline.
pub fn to_pem(label: &str, der: &[u8]) -> String {
    let block = pem::Pem::new(label, der.to_vec());
    pem::encode_config(&block, pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF))
}

/// Returns the lower-case hex SHA-256 digest of `data`, the fingerprint form used in logs.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

/// Returns the upper-case hex SHA-1 digest of `data`, the fingerprint form of the Tencent API.
pub fn sha1_hex(data: &[u8]) -> String {
    hex::encode_upper(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data))
}
