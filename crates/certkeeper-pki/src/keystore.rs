//! PKCS#12 and Java keystores for IIS and Tomcat downloads.
//!
//! Each keystore contains one private-key entry whose chain is the leaf followed by its
//! intermediates. The root is left out because servers do not send it.

/// Encryption of a PKCS#12 file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pkcs12Form {
    /// Key and certificate bags encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC and a SHA-1 MAC
    /// (RFC 7292 appendix C), the newest form Windows Server 2016 and older Java and macOS
    /// releases import.
    Compatible,
    /// PBES2 with AES-256-CBC and PBKDF2-HMAC-SHA256 (RFC 8018), with an HMAC-SHA256 MAC: the
    /// OpenSSL 3 default, imported by Windows Server 2019 and later.
    Modern,
}

/// Error from building a keystore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeystoreError {
    #[error("the PKCS#12 writer failed: {0}")]
    Pkcs12(String),
    #[error("the JKS writer failed: {0}")]
    Jks(String),
}

/// PBKDF iterations of the compatible form: 2048, the count OpenSSL 1.1 writes by default.
const COMPATIBLE_ITERATIONS: u32 = 2048;
/// PBKDF2 iterations of the modern form: 2048, the count OpenSSL 3.0 writes by default.
const MODERN_ITERATIONS: u32 = 2048;

/// Builds a PKCS#12 file with one key entry named `alias`.
pub fn pkcs12(alias: &str, key_pkcs8: &[u8], chain: &[Vec<u8>], password: &str, form: Pkcs12Form) -> Result<Vec<u8>, KeystoreError> {
    use p12_keystore::{Certificate, EncryptionAlgorithm, KeyStore, KeyStoreEntry, MacAlgorithm, PrivateKey, PrivateKeyChain};

    let failed = |error: p12_keystore::error::Error| KeystoreError::Pkcs12(error.to_string());
    let key = PrivateKey::from_der(key_pkcs8).map_err(failed)?;
    let certificates = chain.iter().map(|der| Certificate::from_der(der)).collect::<Result<Vec<_>, _>>().map_err(failed)?;
    // The local key id ties the key bag to the leaf's certificate bag. OpenSSL uses the leaf's
    // SHA-1 digest, and so does certkeeper.
    let local_key_id = chain.first().map(|leaf| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf).as_ref().to_vec()).unwrap_or_default();
    let mut store = KeyStore::new();
    store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, certificates)));
    let writer = store.writer(password);
    let writer = match form {
        Pkcs12Form::Compatible => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .encryption_iterations(COMPATIBLE_ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha1)
            .mac_iterations(COMPATIBLE_ITERATIONS),
        Pkcs12Form::Modern => writer
            .encryption_algorithm(EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(MODERN_ITERATIONS)
            .mac_algorithm(MacAlgorithm::HmacSha256)
            .mac_iterations(MODERN_ITERATIONS),
    };
    writer.write().map_err(failed)
}

/// Builds a JKS keystore (the format of Java's `keytool` before Java 9) with one key entry
/// named `alias`, protected by `password` for both the store and the key, as Tomcat expects.
pub fn jks(alias: &str, key_pkcs8: &[u8], chain: &[Vec<u8>], password: &str, created_at: std::time::SystemTime) -> Result<Vec<u8>, KeystoreError> {
    let failed = |error: jks::KeyStoreError| KeystoreError::Jks(error.to_string());
    let entry = jks::PrivateKeyEntry {
        creation_time: created_at,
        private_key: key_pkcs8.to_vec(),
        certificate_chain: chain.iter().map(|der| jks::Certificate { cert_type: "X.509".to_owned(), content: der.clone() }).collect(),
    };
    let mut store = jks::KeyStore::new();
    store.set_private_key_entry(alias, entry, password.as_bytes()).map_err(failed)?;
    let mut out = Vec::new();
    store.store(&mut out, password.as_bytes()).map_err(failed)?;
    Ok(out)
}
