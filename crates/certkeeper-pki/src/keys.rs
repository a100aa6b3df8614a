//! Key pairs that certkeeper generates and holds, and subject public keys taken from CSRs.

use certkeeper_core::KeyAlgorithm;
use rcgen::{KeyPair, PublicKeyData, RsaKeySize, SignatureAlgorithm, SigningKey};
use zeroize::Zeroizing;

/// Error from generating or loading a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("certkeeper cannot generate or sign with {algorithm} keys")]
    Unsupported { algorithm: KeyAlgorithm },
    #[error("generating a {algorithm} key failed: {source}")]
    Generate { algorithm: KeyAlgorithm, source: rcgen::Error },
    #[error("the stored {algorithm} key does not load: {source}")]
    Load { algorithm: KeyAlgorithm, source: rcgen::Error },
}

/// Returns rcgen's algorithm for a key: the SubjectPublicKeyInfo it writes and, for a signing
/// key, the signature algorithm (SHA-256 for RSA and P-256, SHA-384 for P-384).
pub fn rcgen_algorithm(algorithm: KeyAlgorithm) -> Result<&'static SignatureAlgorithm, KeyError> {
    match algorithm {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => Ok(&rcgen::PKCS_RSA_SHA256),
        KeyAlgorithm::EcdsaP256 => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyAlgorithm::EcdsaP384 => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyAlgorithm::Sm2 => Err(KeyError::Unsupported { algorithm }),
    }
}

/// A private key held by certkeeper, able to sign.
pub struct SigningKeyPair {
    algorithm: KeyAlgorithm,
    inner: KeyPair,
}

impl SigningKeyPair {
    /// Generates a new key pair.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        let signature_algorithm = rcgen_algorithm(algorithm)?;
        let rsa_size = match algorithm {
            KeyAlgorithm::Rsa2048 => Some(RsaKeySize::_2048),
            KeyAlgorithm::Rsa3072 => Some(RsaKeySize::_3072),
            KeyAlgorithm::Rsa4096 => Some(RsaKeySize::_4096),
            _ => None,
        };
        let generated = match rsa_size {
            Some(size) => KeyPair::generate_rsa_for(signature_algorithm, size),
            None => KeyPair::generate_for(signature_algorithm),
        };
        let inner = generated.map_err(|source| KeyError::Generate { algorithm, source })?;
        Ok(SigningKeyPair { algorithm, inner })
    }

    /// Loads a key from its PKCS#8 DER encoding.
    pub fn from_pkcs8(algorithm: KeyAlgorithm, pkcs8_der: &[u8]) -> Result<Self, KeyError> {
        let signature_algorithm = rcgen_algorithm(algorithm)?;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8_der);
        let inner = KeyPair::from_pkcs8_der_and_sign_algo(&der, signature_algorithm)
            .map_err(|source| KeyError::Load { algorithm, source })?;
        Ok(SigningKeyPair { algorithm, inner })
    }

    /// Returns the key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Returns the PKCS#8 DER encoding of the private key, zeroed when dropped.
    pub fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.inner.serialize_der())
    }

    /// Returns the DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.inner.subject_public_key_info()
    }
}

impl PublicKeyData for SigningKeyPair {
    fn der_bytes(&self) -> &[u8] {
        self.inner.der_bytes()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        PublicKeyData::algorithm(&self.inner)
    }
}

impl SigningKey for SigningKeyPair {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.inner.sign(message)
    }
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKeyPair({})", self.algorithm)
    }
}

/// The public key of a certificate subject, with its algorithm taken from the
/// SubjectPublicKeyInfo itself.
///
/// rcgen's own CSR path takes the key algorithm from the CSR's signature algorithm, so a P-384
/// key in a CSR signed with ecdsa-with-SHA256 would be written into the certificate as a P-256
/// key. This type carries the algorithm that the key really has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectKey {
    algorithm: KeyAlgorithm,
    /// Contents of the subjectPublicKey BIT STRING.
    public_key: Vec<u8>,
    /// The whole SubjectPublicKeyInfo, as received.
    spki_der: Vec<u8>,
}

impl SubjectKey {
    /// Builds a subject key from a checked algorithm and the SPKI parts.
    pub fn new(algorithm: KeyAlgorithm, public_key: Vec<u8>, spki_der: Vec<u8>) -> Result<Self, KeyError> {
        rcgen_algorithm(algorithm)?;
        Ok(SubjectKey { algorithm, public_key, spki_der })
    }

    /// Returns the key algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Returns the DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
}

impl PublicKeyData for SubjectKey {
    fn der_bytes(&self) -> &[u8] {
        &self.public_key
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        // `new` has checked that the algorithm maps to an rcgen algorithm.
        rcgen_algorithm(self.algorithm).expect("algorithm checked in SubjectKey::new")
    }
}
