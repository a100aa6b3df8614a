//! Encryption at rest for private keys and secrets (AES-256-GCM under a master key).
//!
//! A sealed value is `version (1 byte) || nonce (12 bytes) || ciphertext || tag (16 bytes)`.
//! The caller passes a context string as additional authenticated data, so a sealed value
//! moved to another row or purpose fails to open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use zeroize::{Zeroize, Zeroizing};

const FORMAT_VERSION: u8 = 1;

/// Length of a master key in bytes.
pub const MASTER_KEY_LENGTH: usize = 32;

/// The AES-256 key that protects every private key and secret certkeeper stores.
pub struct MasterKey {
    bytes: Zeroizing<[u8; MASTER_KEY_LENGTH]>,
}

/// Error from sealing or opening a value.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error("the master key must be {MASTER_KEY_LENGTH} bytes written as 64 hex digits; found {found}")]
    BadMasterKey { found: String },
    #[error(
        "a sealed value for {context:?} failed to decrypt: the master key is not the one it was \
         sealed with, or the data is corrupt"
    )]
    OpenFailed { context: String },
    #[error("the random number generator failed")]
    Random,
}

impl MasterKey {
    /// Generates a new random master key.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LENGTH]);
        aws_lc_rs::rand::fill(bytes.as_mut()).map_err(|_| SealError::Random)?;
        Ok(MasterKey { bytes })
    }

    /// Parses a master key from 64 hex digits; surrounding whitespace is ignored.
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let trimmed = text.trim();
        let mut decoded = Zeroizing::new(Vec::new());
        let parsed = hex::decode(trimmed).map(|bytes| *decoded = bytes);
        if parsed.is_err() || decoded.len() != MASTER_KEY_LENGTH {
            let found = if parsed.is_err() {
                format!("{} characters that are not all hex digits", trimmed.len())
            } else {
                format!("{} bytes", decoded.len())
            };
            return Err(SealError::BadMasterKey { found });
        }
        let mut bytes = Zeroizing::new([0u8; MASTER_KEY_LENGTH]);
        bytes.copy_from_slice(&decoded);
        Ok(MasterKey { bytes })
    }

    /// Returns the key as 64 lower-case hex digits, for writing the key file.
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.bytes.as_ref()))
    }

    /// Returns a short identifier of the key (the first 8 bytes of SHA-256 over the key), so
    /// operators can tell keys apart without revealing them.
    pub fn key_id(&self) -> String {
        crate::sha256_hex(self.bytes.as_ref())[..16].to_owned()
    }

    fn aead_key(&self) -> LessSafeKey {
        // AES-256 accepts any 32-byte key, and the length is fixed by the type.
        let unbound = UnboundKey::new(&AES_256_GCM, self.bytes.as_ref()).expect("32-byte AES key");
        LessSafeKey::new(unbound)
    }

    /// Encrypts `plaintext`, binding it to `context`.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut in_out = plaintext.to_vec();
        self.aead_key()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| SealError::Random)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&in_out);
        in_out.zeroize();
        Ok(sealed)
    }

    /// Decrypts a value sealed with the same key and context.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let failed = || SealError::OpenFailed { context: context.to_owned() };
        if sealed.len() < 1 + NONCE_LEN + AES_256_GCM.tag_len() || sealed[0] != FORMAT_VERSION {
            return Err(failed());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
        let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let plaintext_length = self
            .aead_key()
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| failed())?
            .len();
        in_out.truncate(plaintext_length);
        Ok(in_out)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey(id {})", self.key_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("ca:root", b"secret bytes").unwrap();
        assert!(!sealed.windows(12).any(|w| w == b"secret bytes"));
        assert_eq!(key.open("ca:root", &sealed).unwrap().as_slice(), b"secret bytes");
    }

    #[test]
    fn wrong_context_or_key_fails() {
        let key = MasterKey::generate().unwrap();
        let sealed = key.seal("ca:root", b"secret").unwrap();
        assert!(matches!(key.open("ca:intermediate", &sealed), Err(SealError::OpenFailed { .. })));
        let other = MasterKey::generate().unwrap();
        assert!(matches!(other.open("ca:root", &sealed), Err(SealError::OpenFailed { .. })));
    }

    #[test]
    fn hex_round_trip_and_bad_input() {
        let key = MasterKey::generate().unwrap();
        let again = MasterKey::from_hex(&format!("{}\n", key.to_hex().as_str())).unwrap();
        assert_eq!(again.key_id(), key.key_id());
        assert!(MasterKey::from_hex("abcd").is_err());
        assert!(MasterKey::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn debug_does_not_show_key() {
        let key = MasterKey::generate().unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.to_hex().as_str()));
    }
}
