//! Parsing of uploaded certificates and keys in whatever shape people paste them, and the
//! chain built from them.
//!
//! [`parse_upload`] reads the certificate field (PEM blocks in any order, DER, PKCS#7 or
//! PKCS#12 as base64) and the key field (PKCS#8 plain or encrypted, PKCS#1, SEC1, legacy
//! encrypted PEM). [`assemble`] then picks the leaf, orders and completes the chain, and runs
//! the checks. Nothing here performs I/O or reads the clock.

mod certificate;
mod chain;
mod der;
mod error;
mod key;
mod text;

pub use certificate::UploadedCertificate;
pub use chain::{ChainChange, ChainReport, ChainSources, ChainWarning, HostedChain, MAX_CHAIN_DEPTH, MissingIssuer, assemble, bundled_intermediates};
pub use error::UploadError;
pub use key::PrivateKey;

use text::{Block, Contents};

/// Largest certificate field accepted, in bytes of text (1 MiB).
pub const MAX_CERTIFICATE_FIELD_BYTES: usize = 1024 * 1024;
/// Largest private key field accepted, in bytes of text (64 KiB; an RSA-4096 key in PEM is
/// about 3.3 KB).
pub const MAX_KEY_FIELD_BYTES: usize = 64 * 1024;
/// Most certificates one upload may hold, duplicates included.
pub const MAX_CERTIFICATES: usize = 100;

/// What an upload is: a server certificate with its key, or a CA certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateKind {
    /// `SVR`: a server certificate; the key is required.
    Server,
    /// `CA`: a CA certificate, for example to verify client certificates; the key is optional.
    Ca,
}

/// The fields of an upload request.
#[derive(Clone, Copy, Debug)]
pub struct UploadInput<'a> {
    /// Name of the certificate parameter, used in messages (`CertificatePublicKey`).
    pub certificate_field: &'static str,
    pub certificate: &'a str,
    /// Name of the key parameter, used in messages (`CertificatePrivateKey`).
    pub key_field: &'static str,
    pub private_key: Option<&'a str>,
    /// Password of an encrypted key or PKCS#12 file.
    pub password: Option<&'a str>,
}

/// The certificates and key of an upload, decoded but not yet ordered.
#[derive(Debug)]
pub struct ParsedUpload {
    /// Distinct certificates in upload order.
    pub certificates: Vec<UploadedCertificate>,
    /// Copies of certificates that appeared more than once, dropped.
    pub duplicates: Vec<UploadedCertificate>,
    pub key: Option<PrivateKey>,
    /// Blocks that were skipped, for the report (`EC PARAMETERS block at line 1`).
    pub skipped: Vec<String>,
}

/// Certificates and a key found in one field.
#[derive(Default)]
struct Found {
    certificates: Vec<(Vec<u8>, String, usize)>,
    keys: Vec<PrivateKey>,
    skipped: Vec<String>,
}

/// Decodes the certificate and key fields of an upload.
pub fn parse_upload(input: &UploadInput<'_>) -> Result<ParsedUpload, UploadError> {
    let mut found = Found::default();
    match text::read_field(input.certificate_field, input.certificate, MAX_CERTIFICATE_FIELD_BYTES)? {
        Contents::Pem(blocks) => certificate_blocks(input, &blocks, &mut found)?,
        Contents::Der(blob) => certificate_blob(input, &blob, &mut found)?,
    }
    let key_text = input.private_key.filter(|text| !text.trim().is_empty());
    if let Some(key_text) = key_text {
        let mut key_found = Found::default();
        match text::read_field(input.key_field, key_text, MAX_KEY_FIELD_BYTES)? {
            Contents::Pem(blocks) => key_blocks(input, &blocks, &mut key_found)?,
            Contents::Der(blob) => key_blob(input, &blob, &mut key_found)?,
        }
        // A key in the key field replaces one found in a PKCS#12 certificate field only when
        // it is the same key.
        if let (Some(given), Some(bundled)) = (key_found.keys.first(), found.keys.first())
            && given.public_key != bundled.public_key
        {
            return Err(UploadError::MultipleKeys { field: input.key_field, count: 2 });
        }
        found.keys = key_found.keys;
        found.skipped.extend(key_found.skipped);
    }
    if found.keys.len() > 1 {
        return Err(UploadError::MultipleKeys { field: input.key_field, count: found.keys.len() });
    }

    let mut certificates: Vec<UploadedCertificate> = Vec::new();
    let mut duplicates = Vec::new();
    for (der, what, line) in found.certificates {
        let position = certificates.len() + duplicates.len();
        let parsed = UploadedCertificate::parse(&der, position).map_err(|detail| UploadError::InvalidCertificate {
            field: input.certificate_field,
            what,
            line,
            detail,
        })?;
        if certificates.iter().any(|known| known.sha256 == parsed.sha256) {
            duplicates.push(parsed);
        } else {
            certificates.push(parsed);
        }
    }
    if certificates.is_empty() {
        return Err(UploadError::NoPem { field: input.certificate_field });
    }
    Ok(ParsedUpload { certificates, duplicates, key: found.keys.pop(), skipped: found.skipped })
}

fn push_certificate(input: &UploadInput<'_>, found: &mut Found, der: Vec<u8>, what: String, line: usize) -> Result<(), UploadError> {
    if found.certificates.len() >= MAX_CERTIFICATES {
        return Err(UploadError::TooManyCertificates { field: input.certificate_field, count: found.certificates.len() + 1, limit: MAX_CERTIFICATES });
    }
    found.certificates.push((der, what, line));
    Ok(())
}

fn certificate_blocks(input: &UploadInput<'_>, blocks: &[Block], found: &mut Found) -> Result<(), UploadError> {
    let field = input.certificate_field;
    let total = blocks.iter().filter(|block| block.label.contains("CERTIFICATE")).count();
    if total > MAX_CERTIFICATES {
        return Err(UploadError::TooManyCertificates { field, count: total, limit: MAX_CERTIFICATES });
    }
    for (index, block) in blocks.iter().enumerate() {
        let what = format!("block {} ({} at line {})", index + 1, block.label, block.line);
        match block.label.as_str() {
            "CERTIFICATE" | "X509 CERTIFICATE" | "X.509 CERTIFICATE" => push_certificate(input, found, block.der.clone(), what, block.line)?,
            // OpenSSL's trusted form appends trust settings after the certificate.
            "TRUSTED CERTIFICATE" => {
                let first = der::read(&block.der).map(|(element, _)| element.encoded.to_vec()).unwrap_or_default();
                push_certificate(input, found, first, what, block.line)?;
            }
            "PKCS7" | "PKCS #7 SIGNED DATA" | "CMS" => {
                let ders = der::pkcs7_certificates(&block.der).map_err(|detail| UploadError::InvalidPkcs7 { field, detail: detail.to_owned() })?;
                for (position, der) in ders.into_iter().enumerate() {
                    push_certificate(input, found, der, format!("certificate {} of the PKCS#7 block at line {}", position + 1, block.line), block.line)?;
                }
            }
            "PKCS12" => pkcs12(input, &block.der, found)?,
            "EC PARAMETERS" => found.skipped.push(format!("EC PARAMETERS block at line {} of {field}", block.line)),
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => return Err(UploadError::CsrGiven { field, what }),
            label if label.ends_with("PRIVATE KEY") => {
                return Err(UploadError::KeyInCertificateField { field, label: label.to_owned(), line: block.line });
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                return Err(UploadError::UnsupportedBlock {
                    field,
                    label: block.label.clone(),
                    line: block.line,
                    hint: "a public key is not a certificate; upload the certificate the CA issued",
                });
            }
            _ => {
                return Err(UploadError::UnsupportedBlock {
                    field,
                    label: block.label.clone(),
                    line: block.line,
                    hint: "upload CERTIFICATE blocks, a PKCS7 bundle or a PKCS#12 file",
                });
            }
        }
    }
    Ok(())
}

fn certificate_blob(input: &UploadInput<'_>, blob: &[u8], found: &mut Found) -> Result<(), UploadError> {
    let field = input.certificate_field;
    match der::classify(blob) {
        der::BlobKind::Certificates => {
            let mut rest = blob;
            let mut index = 0;
            while let Some((element, after)) = der::read(rest) {
                index += 1;
                push_certificate(input, found, element.encoded.to_vec(), format!("DER certificate {index}"), 1)?;
                rest = after;
            }
            if !rest.is_empty() {
                return Err(UploadError::InvalidCertificate {
                    field,
                    what: format!("the data after DER certificate {index}"),
                    line: 1,
                    detail: format!("{} bytes that are not a complete DER element", rest.len()),
                });
            }
            Ok(())
        }
        der::BlobKind::Pkcs7 => {
            let ders = der::pkcs7_certificates(blob).map_err(|detail| UploadError::InvalidPkcs7 { field, detail: detail.to_owned() })?;
            for (index, der) in ders.into_iter().enumerate() {
                push_certificate(input, found, der, format!("certificate {} of the PKCS#7 bundle", index + 1), 1)?;
            }
            Ok(())
        }
        der::BlobKind::Pkcs12 => pkcs12(input, blob, found),
        der::BlobKind::PrivateKey | der::BlobKind::EncryptedPrivateKey => {
            Err(UploadError::KeyInCertificateField { field, label: "DER private key".into(), line: 1 })
        }
        der::BlobKind::Unknown => Err(UploadError::InvalidCertificate {
            field,
            what: "the base64 data".into(),
            line: 1,
            detail: "it is not a certificate, a PKCS#7 bundle or a PKCS#12 file".into(),
        }),
    }
}

/// Reads a PKCS#12 file: every certificate, and the key if there is one.
fn pkcs12(input: &UploadInput<'_>, blob: &[u8], found: &mut Found) -> Result<(), UploadError> {
    let field = input.certificate_field;
    let password = input.password.unwrap_or("");
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(blob, password).map_err(|error| match error {
        p12_keystore::error::Error::MacError(_) if password.is_empty() => UploadError::PasswordRequired { scheme: "PKCS#12 file".into() },
        p12_keystore::error::Error::MacError(_) => UploadError::WrongPassword { what: "PKCS#12 file", scheme: "PKCS#12 MAC".into() },
        other => UploadError::InvalidPkcs12 { field, detail: other.to_string() },
    })?;
    for (index, bag) in archive.certs.iter().enumerate() {
        push_certificate(input, found, bag.cert.as_der().to_vec(), format!("certificate {} of the PKCS#12 file", index + 1), 1)?;
    }
    for bag in &archive.keys {
        found.keys.push(key::from_pkcs8(bag.key.as_der(), "PKCS#12")?);
    }
    Ok(())
}

fn key_blocks(input: &UploadInput<'_>, blocks: &[Block], found: &mut Found) -> Result<(), UploadError> {
    let field = input.key_field;
    let curve = blocks
        .iter()
        .find(|block| block.label == "EC PARAMETERS")
        .and_then(|block| der::read(&block.der))
        .filter(|(element, _)| element.tag == der::TAG_OID)
        .map(|(element, _)| element.contents.to_vec());
    let key_count = blocks.iter().filter(|block| block.label.ends_with("PRIVATE KEY")).count();
    if key_count > 1 {
        return Err(UploadError::MultipleKeys { field, count: key_count });
    }
    for block in blocks {
        match block.label.as_str() {
            label if label.ends_with("PRIVATE KEY") => found.keys.push(key::from_block(block, curve.as_deref(), input.password)?),
            "EC PARAMETERS" => found.skipped.push(format!("EC PARAMETERS block at line {} of {field}", block.line)),
            label if label.contains("CERTIFICATE") && key_count > 0 => {
                found.skipped.push(format!("{label} block at line {} of {field}", block.line));
            }
            label if label.contains("CERTIFICATE") => return Err(UploadError::CertificateInKeyField { field, label: label.to_owned() }),
            "PUBLIC KEY" | "RSA PUBLIC KEY" if key_count == 0 => {
                return Err(UploadError::UnsupportedBlock {
                    field,
                    label: block.label.clone(),
                    line: block.line,
                    hint: "it holds the public key; upload the private key of the certificate",
                });
            }
            _ => found.skipped.push(format!("{} block at line {} of {field}", block.label, block.line)),
        }
    }
    if found.keys.is_empty() {
        return Err(UploadError::InvalidKey { encoding: "PEM", detail: format!("{field} holds no PRIVATE KEY block") });
    }
    Ok(())
}

fn key_blob(input: &UploadInput<'_>, blob: &[u8], found: &mut Found) -> Result<(), UploadError> {
    match der::classify(blob) {
        der::BlobKind::Pkcs12 => {
            let mut bundle = Found::default();
            pkcs12(input, blob, &mut bundle)?;
            found.keys = bundle.keys;
            Ok(())
        }
        der::BlobKind::Certificates | der::BlobKind::Pkcs7 => {
            Err(UploadError::CertificateInKeyField { field: input.key_field, label: "DER certificate".into() })
        }
        _ => {
            found.keys.push(key::from_der(blob, input.password)?);
            Ok(())
        }
    }
}

/// Returns the certificates of a caIssuers response, which RFC 5280 §4.2.2.1 allows as one DER
/// certificate or a PKCS#7 `certs-only` bundle; PEM is accepted too. Anything else gives an
/// empty list.
pub fn certificates_in(bytes: &[u8]) -> Vec<Vec<u8>> {
    if let Ok(text) = std::str::from_utf8(bytes)
        && let Ok(Contents::Pem(blocks)) = text::read_field("caIssuers", text, MAX_CERTIFICATE_FIELD_BYTES)
    {
        return blocks.into_iter().filter(|block| block.label == "CERTIFICATE").map(|block| block.der).collect();
    }
    match der::classify(bytes) {
        der::BlobKind::Certificates => der::read(bytes).map(|(element, _)| vec![element.encoded.to_vec()]).unwrap_or_default(),
        der::BlobKind::Pkcs7 => der::pkcs7_certificates(bytes).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Converts a stored private key (PEM of any supported encoding, or DER) to PKCS#8 DER, for
/// keystores. Encrypted keys are not accepted here, because stored keys are never encrypted.
pub fn private_key_to_pkcs8(bytes: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, UploadError> {
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN") => {
            let mut found = Found::default();
            let input = UploadInput { certificate_field: "", certificate: "", key_field: "stored key", private_key: Some(text), password: None };
            match text::read_field("stored key", text, MAX_KEY_FIELD_BYTES)? {
                Contents::Pem(blocks) => key_blocks(&input, &blocks, &mut found)?,
                Contents::Der(blob) => key_blob(&input, &blob, &mut found)?,
            }
            found.keys.pop().ok_or(UploadError::InvalidKey { encoding: "PEM", detail: "no private key".into() })?
        }
        _ => key::from_der(bytes, None)?,
    };
    Ok(parsed.pkcs8)
}

/// The body of the upload fuzz target (`fuzz/fuzz_targets/upload.rs`), also run on stable by
/// `tests/upload_fuzz.rs` over the corpus and pseudo-random mutations of it.
///
/// The input is split at the first two `0xFF` bytes into the certificate field, the key field
/// and the password; each part is read as Latin-1 when it is not UTF-8. Parsing and chain
/// building must return, never panic, and an accepted upload must pair its leaf with the key.
#[doc(hidden)]
pub fn fuzz_upload(data: &[u8]) {
    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap_or_else(|_| bytes.iter().map(|byte| char::from(*byte)).collect())
    }
    let mut parts = data.splitn(3, |byte| *byte == 0xFF);
    let certificate = text(parts.next().unwrap_or_default());
    let key = parts.next().map(text);
    let password = parts.next().map(text);
    let input = UploadInput {
        certificate_field: "CertificatePublicKey",
        certificate: &certificate,
        key_field: "CertificatePrivateKey",
        private_key: key.as_deref(),
        password: password.as_deref(),
    };
    let Ok(parsed) = parse_upload(&input) else {
        return;
    };
    assert!(!parsed.certificates.is_empty(), "an accepted parse holds a certificate");
    for kind in [CertificateKind::Server, CertificateKind::Ca] {
        if let Ok(chain) = assemble(&parsed.certificates, parsed.key.as_ref(), kind, 1_800_000_000, &ChainSources::default()) {
            if let Some(key) = &parsed.key {
                assert_eq!(chain.leaf.public_key, key.public_key, "the leaf matches the key");
            }
            assert!(chain.intermediates.len() < MAX_CHAIN_DEPTH);
            assert!(chain.intermediates.iter().all(|certificate| certificate.sha256 != chain.leaf.sha256), "no certificate repeats");
        }
    }
}
