//! Private keys in every common encoding: PKCS#8 (plain or encrypted), PKCS#1, SEC1 (with or
//! without an `EC PARAMETERS` block) and legacy encrypted PEM (`Proc-Type: 4,ENCRYPTED`).
//!
//! Every key is converted to PKCS#8 and loaded with aws-lc-rs, which checks that it is a
//! consistent key pair, and its public key is kept for matching against certificates.

use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use certkeeper_core::KeyAlgorithm;
use zeroize::Zeroizing;

use super::UploadError;
use super::der::{self, TAG_CONTEXT_0, TAG_INTEGER, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, oid};
use super::text::Block;

/// A decoded private key.
pub struct PrivateKey {
    /// The key as PKCS#8 `PrivateKeyInfo` DER (RFC 5208).
    pub pkcs8: Zeroizing<Vec<u8>>,
    pub algorithm: KeyAlgorithm,
    /// The public key as it appears in a certificate's subjectPublicKey BIT STRING: an
    /// `RSAPublicKey` for RSA, the uncompressed point for ECDSA.
    pub public_key: Vec<u8>,
    /// The encoding it was uploaded in, for the upload report (`PKCS#8`, `SEC1`, …).
    pub encoding: &'static str,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({}, {})", self.algorithm, self.encoding)
    }
}

/// Decodes one PEM block that holds a private key. `curve` is the OID contents of a preceding
/// `EC PARAMETERS` block, if any.
pub(crate) fn from_block(block: &Block, curve: Option<&[u8]>, password: Option<&str>) -> Result<PrivateKey, UploadError> {
    let encrypted = block.header("Proc-Type").is_some_and(|value| value.to_ascii_uppercase().contains("ENCRYPTED"));
    match block.label.as_str() {
        "PRIVATE KEY" => from_pkcs8(&block.der, "PKCS#8"),
        "ENCRYPTED PRIVATE KEY" => from_encrypted_pkcs8(&block.der, password),
        "RSA PRIVATE KEY" if encrypted => {
            let plain = decrypt_legacy(block, password)?;
            from_pkcs1(&plain, "PKCS#1 (legacy encrypted PEM)")
        }
        "RSA PRIVATE KEY" => from_pkcs1(&block.der, "PKCS#1"),
        "EC PRIVATE KEY" if encrypted => {
            let plain = decrypt_legacy(block, password)?;
            from_sec1(&plain, curve, "SEC1 (legacy encrypted PEM)")
        }
        "EC PRIVATE KEY" => from_sec1(&block.der, curve, "SEC1"),
        "DSA PRIVATE KEY" => Err(UploadError::UnsupportedKey { algorithm: "DSA".into() }),
        "OPENSSH PRIVATE KEY" => Err(UploadError::OpenSshKey),
        other => Err(UploadError::UnsupportedKey { algorithm: format!("a {other} block") }),
    }
}

/// Decodes a private key given as DER without PEM armour, trying each encoding.
pub(crate) fn from_der(der_bytes: &[u8], password: Option<&str>) -> Result<PrivateKey, UploadError> {
    if der::classify(der_bytes) == der::BlobKind::EncryptedPrivateKey {
        return from_encrypted_pkcs8(der_bytes, password);
    }
    let (outer, _) = der::read(der_bytes).ok_or_else(|| invalid("DER", "not valid DER"))?;
    let items = der::children(outer.contents).ok_or_else(|| invalid("DER", "not valid DER"))?;
    match items.as_slice() {
        [version, algorithm, ..] if version.tag == TAG_INTEGER && algorithm.tag == TAG_SEQUENCE => from_pkcs8(der_bytes, "PKCS#8"),
        [version, private, ..] if version.tag == TAG_INTEGER && private.tag == TAG_OCTET_STRING => from_sec1(der_bytes, None, "SEC1"),
        _ => from_pkcs1(der_bytes, "PKCS#1"),
    }
}

fn invalid(encoding: &'static str, detail: impl Into<String>) -> UploadError {
    UploadError::InvalidKey { encoding, detail: detail.into() }
}

/// Loads a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn from_pkcs8(pkcs8: &[u8], encoding: &'static str) -> Result<PrivateKey, UploadError> {
    let (outer, _) = der::read(pkcs8).ok_or_else(|| invalid(encoding, "not valid DER"))?;
    let items = der::children(outer.contents).ok_or_else(|| invalid(encoding, "not valid DER"))?;
    let [_, algorithm, private_key, ..] = items.as_slice() else {
        return Err(invalid(encoding, "PrivateKeyInfo has too few fields"));
    };
    let algorithm_fields = der::children(algorithm.contents).ok_or_else(|| invalid(encoding, "bad AlgorithmIdentifier"))?;
    let algorithm_oid = algorithm_fields.first().filter(|field| field.tag == TAG_OID).map(|field| field.contents).unwrap_or_default();
    let parameter = algorithm_fields.get(1).filter(|field| field.tag == TAG_OID).map(|field| field.contents);

    if algorithm_oid == oid::RSA_ENCRYPTION {
        return load_rsa(pkcs8, private_key.contents, encoding);
    }
    if algorithm_oid == oid::EC_PUBLIC_KEY {
        let curve = match parameter {
            Some(curve) => curve,
            None => curve_of_sec1(private_key.contents).ok_or_else(|| invalid(encoding, "the EC key names no curve"))?,
        };
        return load_ecdsa(pkcs8, curve, encoding);
    }
    let name = match algorithm_oid {
        oid::RSASSA_PSS => "RSASSA-PSS",
        oid::ED25519 => "Ed25519",
        oid::ED448 => "Ed448",
        oid::DSA => "DSA",
        _ => "an unknown algorithm",
    };
    Err(UploadError::UnsupportedKey { algorithm: name.into() })
}

/// Counts the bits of the modulus of an `RSAPrivateKey` (RFC 8017 §A.1.2).
fn rsa_modulus_bits(pkcs1: &[u8]) -> Option<usize> {
    let (outer, _) = der::read(pkcs1)?;
    let items = der::children(outer.contents)?;
    let modulus = items.get(1)?.contents;
    let significant: Vec<u8> = modulus.iter().copied().skip_while(|byte| *byte == 0).collect();
    let first = *significant.first()?;
    Some(significant.len() * 8 - first.leading_zeros() as usize)
}

fn load_rsa(pkcs8: &[u8], pkcs1: &[u8], encoding: &'static str) -> Result<PrivateKey, UploadError> {
    let bits = rsa_modulus_bits(pkcs1).ok_or_else(|| invalid(encoding, "the RSA key has no modulus"))?;
    let Some(algorithm) = KeyAlgorithm::rsa_with_bits(bits) else {
        let note = if bits < 2048 { ", below the minimum of 2048 bits" } else { "" };
        return Err(UploadError::UnsupportedKey { algorithm: format!("RSA with a {bits}-bit modulus{note}") });
    };
    let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|error| invalid(encoding, format!("the RSA key is inconsistent ({error})")))?;
    Ok(PrivateKey {
        pkcs8: Zeroizing::new(pkcs8.to_vec()),
        algorithm,
        public_key: pair.public_key().as_ref().to_vec(),
        encoding,
    })
}

fn load_ecdsa(pkcs8: &[u8], curve: &[u8], encoding: &'static str) -> Result<PrivateKey, UploadError> {
    let (algorithm, signing) = match curve {
        oid::P256 => (KeyAlgorithm::EcdsaP256, &signature::ECDSA_P256_SHA256_ASN1_SIGNING),
        oid::P384 => (KeyAlgorithm::EcdsaP384, &signature::ECDSA_P384_SHA384_ASN1_SIGNING),
        oid::SM2 => return Err(UploadError::Sm2 { what: "the private key".into() }),
        oid::P521 => return Err(UploadError::UnsupportedKey { algorithm: "ECDSA P-521".into() }),
        _ => return Err(UploadError::UnsupportedKey { algorithm: "ECDSA on an unknown curve".into() }),
    };
    let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8).map_err(|error| invalid(encoding, format!("the EC key is inconsistent ({error})")))?;
    Ok(PrivateKey {
        pkcs8: Zeroizing::new(pkcs8.to_vec()),
        algorithm,
        public_key: pair.public_key().as_ref().to_vec(),
        encoding,
    })
}

/// Wraps a PKCS#1 `RSAPrivateKey` in PKCS#8 and loads it.
fn from_pkcs1(pkcs1: &[u8], encoding: &'static str) -> Result<PrivateKey, UploadError> {
    if der::read(pkcs1).is_none_or(|(outer, _)| outer.tag != TAG_SEQUENCE) {
        return Err(invalid(encoding, "not valid DER"));
    }
    let mut algorithm = der::encode(TAG_OID, oid::RSA_ENCRYPTION);
    algorithm.extend_from_slice(&[0x05, 0x00]);
    let pkcs8 = wrap_pkcs8(&algorithm, pkcs1);
    load_rsa(&pkcs8, pkcs1, encoding)
}

/// Returns the curve named inside an `ECPrivateKey` (RFC 5915 §3), or guesses it from the
/// length of the private key when the parameters are left out.
fn curve_of_sec1(sec1: &[u8]) -> Option<&[u8]> {
    let (outer, _) = der::read(sec1)?;
    let items = der::children(outer.contents)?;
    if let Some(parameters) = items.iter().find(|item| item.tag == TAG_CONTEXT_0)
        && let Some((curve, _)) = der::read(parameters.contents)
        && curve.tag == TAG_OID
    {
        return Some(curve.contents);
    }
    match items.get(1).map(|private| private.contents.len()) {
        Some(32) => Some(oid::P256),
        Some(48) => Some(oid::P384),
        _ => None,
    }
}

/// Wraps a SEC1 `ECPrivateKey` in PKCS#8 and loads it. `curve` comes from an `EC PARAMETERS`
/// block when the key itself names none.
fn from_sec1(sec1: &[u8], curve: Option<&[u8]>, encoding: &'static str) -> Result<PrivateKey, UploadError> {
    let named = curve_of_sec1(sec1);
    let curve = match (named, curve) {
        (Some(named), _) => named.to_vec(),
        (None, Some(given)) => given.to_vec(),
        (None, None) => return Err(invalid(encoding, "the EC key names no curve and its length matches none")),
    };
    let mut algorithm = der::encode(TAG_OID, oid::EC_PUBLIC_KEY);
    algorithm.extend_from_slice(&der::encode(TAG_OID, &curve));
    let pkcs8 = wrap_pkcs8(&algorithm, sec1);
    load_ecdsa(&pkcs8, &curve, encoding)
}

/// Builds `PrivateKeyInfo { version 0, algorithm, privateKey }` around an inner key.
fn wrap_pkcs8(algorithm_fields: &[u8], inner: &[u8]) -> Vec<u8> {
    let mut contents = vec![TAG_INTEGER, 0x01, 0x00];
    contents.extend_from_slice(&der::encode(TAG_SEQUENCE, algorithm_fields));
    contents.extend_from_slice(&der::encode(TAG_OCTET_STRING, inner));
    der::encode(TAG_SEQUENCE, &contents)
}

/// Decrypts an `EncryptedPrivateKeyInfo` (RFC 5958 §3) and loads the key inside.
fn from_encrypted_pkcs8(der_bytes: &[u8], password: Option<&str>) -> Result<PrivateKey, UploadError> {
    use pkcs8::der::Decode;

    let scheme = encryption_scheme_name(der_bytes);
    if scheme != "PBES2" {
        return Err(UploadError::UnsupportedKeyEncryption { scheme });
    }
    let info = pkcs8::EncryptedPrivateKeyInfoRef::from_der(der_bytes).map_err(|error| match error.kind() {
        pkcs8::der::ErrorKind::OidUnknown { .. } => UploadError::UnsupportedKeyEncryption { scheme: scheme.clone() },
        _ => invalid("encrypted PKCS#8", format!("EncryptedPrivateKeyInfo is malformed ({error})")),
    })?;
    let Some(password) = password.filter(|password| !password.is_empty()) else {
        return Err(UploadError::PasswordRequired { scheme: format!("encrypted PKCS#8, {scheme}") });
    };
    let plain = info.decrypt(password).map_err(|error| match error {
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::UnsupportedAlgorithm { .. } | pkcs8::pkcs5::Error::NoPbes1CryptSupport) => {
            UploadError::UnsupportedKeyEncryption { scheme: scheme.clone() }
        }
        _ => UploadError::WrongPassword { what: "encrypted private key", scheme: format!("encrypted PKCS#8, {scheme}") },
    })?;
    let plain = Zeroizing::new(plain.as_bytes().to_vec());
    from_pkcs8(&plain, "encrypted PKCS#8")
}

/// Names the scheme of an `EncryptedPrivateKeyInfo` for messages.
fn encryption_scheme_name(der_bytes: &[u8]) -> String {
    let algorithm = der::read(der_bytes)
        .and_then(|(outer, _)| der::children(outer.contents))
        .and_then(|items| items.first().and_then(|algorithm| der::children(algorithm.contents)))
        .and_then(|fields| fields.first().map(|oid| oid.contents.to_vec()));
    match algorithm {
        Some(found) if found == oid::PBES2 => "PBES2".to_owned(),
        Some(_) => "a PBES1 or PKCS#12 scheme".to_owned(),
        None => "an unreadable scheme".to_owned(),
    }
}

/// Ciphers of legacy encrypted PEM (`DEK-Info`), with key and IV lengths in bytes.
#[derive(Clone, Copy)]
enum LegacyCipher {
    Aes128,
    Aes192,
    Aes256,
    DesEde3,
    Des,
}

impl LegacyCipher {
    fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "AES-128-CBC" => Some(Self::Aes128),
            "AES-192-CBC" => Some(Self::Aes192),
            "AES-256-CBC" => Some(Self::Aes256),
            "DES-EDE3-CBC" => Some(Self::DesEde3),
            "DES-CBC" => Some(Self::Des),
            _ => None,
        }
    }

    fn key_length(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 | Self::DesEde3 => 24,
            Self::Aes256 => 32,
            Self::Des => 8,
        }
    }

    fn iv_length(self) -> usize {
        match self {
            Self::Aes128 | Self::Aes192 | Self::Aes256 => 16,
            Self::DesEde3 | Self::Des => 8,
        }
    }
}

/// Derives a legacy PEM key as OpenSSL's `EVP_BytesToKey` does with MD5 and one iteration:
/// D_i = MD5(D_{i-1} || password || salt), where the salt is the first 8 bytes of the IV.
fn bytes_to_key(password: &[u8], salt: &[u8], length: usize) -> Zeroizing<Vec<u8>> {
    use md5::{Digest, Md5};

    let mut key = Zeroizing::new(Vec::with_capacity(length + 16));
    let mut previous: Vec<u8> = Vec::new();
    while key.len() < length {
        let mut hasher = Md5::new();
        hasher.update(&previous);
        hasher.update(password);
        hasher.update(salt);
        previous = hasher.finalize().to_vec();
        key.extend_from_slice(&previous);
    }
    key.truncate(length);
    key
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>>
where
    C: cbc::cipher::BlockCipherDecrypt + cbc::cipher::KeyInit,
{
    use cbc::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::Pkcs7};

    let decryptor = cbc::Decryptor::<C>::new_from_slices(key, iv).ok()?;
    decryptor.decrypt_padded_vec::<Pkcs7>(data).ok()
}

/// Decrypts a legacy encrypted PEM block (RFC 1421 headers as OpenSSL writes them).
fn decrypt_legacy(block: &Block, password: Option<&str>) -> Result<Zeroizing<Vec<u8>>, UploadError> {
    let dek_info = block.header("DEK-Info").unwrap_or_default();
    let (cipher_name, iv_hex) = dek_info.split_once(',').unwrap_or((dek_info, ""));
    let scheme = format!("legacy PEM encryption, DEK-Info {}", cipher_name.trim());
    let Some(cipher) = LegacyCipher::parse(cipher_name.trim()) else {
        return Err(UploadError::UnsupportedKeyEncryption { scheme });
    };
    let iv = hex::decode(iv_hex.trim()).ok().filter(|iv| iv.len() == cipher.iv_length());
    let Some(iv) = iv else {
        return Err(invalid("legacy encrypted PEM", format!("the DEK-Info IV {:?} is not {} hex bytes", iv_hex.trim(), cipher.iv_length())));
    };
    let Some(password) = password.filter(|password| !password.is_empty()) else {
        return Err(UploadError::PasswordRequired { scheme });
    };
    let key = bytes_to_key(password.as_bytes(), &iv[..8], cipher.key_length());
    let plain = match cipher {
        LegacyCipher::Aes128 => cbc_decrypt::<aes::Aes128>(&key, &iv, &block.der),
        LegacyCipher::Aes192 => cbc_decrypt::<aes::Aes192>(&key, &iv, &block.der),
        LegacyCipher::Aes256 => cbc_decrypt::<aes::Aes256>(&key, &iv, &block.der),
        LegacyCipher::DesEde3 => cbc_decrypt::<des::TdesEde3>(&key, &iv, &block.der),
        LegacyCipher::Des => cbc_decrypt::<des::Des>(&key, &iv, &block.der),
    };
    // A wrong password yields bad padding, or (one time in 256) good padding around noise that
    // is not DER.
    match plain {
        Some(plain) if der::read(&plain).is_some_and(|(outer, rest)| outer.tag == TAG_SEQUENCE && rest.is_empty()) => {
            Ok(Zeroizing::new(plain))
        }
        _ => Err(UploadError::WrongPassword { what: "encrypted private key", scheme }),
    }
}
