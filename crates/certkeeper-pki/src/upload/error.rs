//! Reasons an upload is rejected.
//!
//! Each variant names the request field at fault (the Tencent API parameter name, passed in
//! by the caller) and states what to change. The API maps each variant to its own error code.

/// An upload that certkeeper does not store, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    #[error("{field} is empty; paste the PEM text of the certificate and its chain")]
    Empty { field: &'static str },

    #[error("{field} is {size} bytes, over the limit of {limit} bytes; upload only the leaf, its intermediates and its key")]
    TooLarge { field: &'static str, size: usize, limit: usize },

    #[error("{field} is UTF-16 text; save the file as ASCII or UTF-8 (PEM is plain ASCII) and upload it again")]
    Utf16 { field: &'static str },

    #[error(
        "{field} contains binary data (character U+{code_point:04X} at offset {offset}), not PEM text; \
         send PEM text, or base64 of a DER, PKCS#7 or PKCS#12 file"
    )]
    Binary { field: &'static str, offset: usize, code_point: u32 },

    #[error("{field} contains no PEM block and no base64 DER; {}", paste_hint(field))]
    NoPem { field: &'static str },

    #[error("{field}: the {label} block at line {line} has no -----END {label}----- line; the text is cut off, so paste the whole block")]
    UnterminatedBlock { field: &'static str, label: String, line: usize },

    #[error("{field}: the block at line {line} begins with BEGIN {begin} but ends with END {end}; both lines must name the same type")]
    MismatchedLabels { field: &'static str, line: usize, begin: String, end: String },

    #[error("{field}: the base64 text of the {label} block at line {line} is invalid ({detail}); the block was changed or cut, so copy it again")]
    InvalidBase64 { field: &'static str, label: String, line: usize, detail: String },

    #[error(
        "{field}: the {label} block at line {line} is truncated: its DER header announces {expected} bytes but \
         only {found} follow; copy the whole block again"
    )]
    TruncatedBlock { field: &'static str, label: String, line: usize, expected: usize, found: usize },

    #[error("{field}: {what} at line {line} is not a valid X.509 certificate ({detail}); upload the certificate as issued by the CA")]
    InvalidCertificate { field: &'static str, what: String, line: usize, detail: String },

    #[error("{field}: the {label} block at line {line} is not supported here; {hint}")]
    UnsupportedBlock { field: &'static str, label: String, line: usize, hint: &'static str },

    #[error("{field} contains a {label} block at line {line}; private keys go in CertificatePrivateKey, certificates in {field}")]
    KeyInCertificateField { field: &'static str, label: String, line: usize },

    #[error(
        "{field} holds a {label} block and no private key; paste the private key \
         (-----BEGIN PRIVATE KEY----- or similar) and send certificates in CertificatePublicKey"
    )]
    CertificateInKeyField { field: &'static str, label: String },

    #[error("{field} contains {count} private keys; upload the one key that belongs to the certificate")]
    MultipleKeys { field: &'static str, count: usize },

    #[error("{field} contains {count} certificates, more than the limit of {limit}; upload the leaf and its intermediates only")]
    TooManyCertificates { field: &'static str, count: usize, limit: usize },

    #[error("the private key is passphrase-protected ({scheme}); give its password in KeyPassword, or upload the key decrypted")]
    PasswordRequired { scheme: String },

    #[error("KeyPassword does not decrypt the {what} ({scheme}); check the password, or upload the key decrypted")]
    WrongPassword { what: &'static str, scheme: String },

    #[error("the private key is encrypted with {scheme}, which certkeeper cannot decrypt; re-export it with AES-256-CBC (PBES2) or unencrypted")]
    UnsupportedKeyEncryption { scheme: String },

    #[error("the private key ({encoding}) is not valid: {detail}; upload the key file as generated")]
    InvalidKey { encoding: &'static str, detail: String },

    #[error("the private key is {algorithm}, which certkeeper does not host; use an RSA (2048, 3072 or 4096 bits) or ECDSA P-256 or P-384 key")]
    UnsupportedKey { algorithm: String },

    #[error("the private key is in OpenSSH format; convert it with `ssh-keygen -p -m PEM -f FILE` or use the key the certificate request was made with")]
    OpenSshKey,

    #[error("{what} uses SM2 (the Chinese national algorithm), which certkeeper does not host yet; upload an RSA or ECDSA certificate")]
    Sm2 { what: String },

    #[error("{field}: the PKCS#12 file could not be read ({detail})")]
    InvalidPkcs12 { field: &'static str, detail: String },

    #[error("{field}: the PKCS#7 bundle could not be read ({detail}); export the chain as PEM instead")]
    InvalidPkcs7 { field: &'static str, detail: String },

    #[error("{field}: {what} is a certificate signing request, not a certificate; upload the certificate the CA issued for it")]
    CsrGiven { field: &'static str, what: String },

    #[error("the private key matches none of the {count} certificates ({certificates}); upload the certificate issued for this key, or the key of that certificate")]
    KeyMismatch { count: usize, certificates: String },

    #[error("the private key belongs to the CA certificate {subject}, not to a server certificate; upload the key of the leaf certificate")]
    KeyOfCaCertificate { subject: String },

    #[error("no server certificate found: every certificate is a CA certificate ({subjects}); add the leaf certificate, or set CertificateType to CA")]
    NoLeaf { subjects: String },

    #[error("CertificateType is CA, but {subject} is not a CA certificate (basicConstraints cA is false or absent); upload it as CertificateType SVR with its key")]
    NotCa { subject: String },

    #[error("the certificate {subject} expired on {not_after} (UTC); upload a certificate that is still valid")]
    Expired { subject: String, not_after: String },

    #[error("the certificate {subject} has a {bits}-bit RSA key, below the minimum of 2048 bits; have it reissued with a 2048-bit or larger key")]
    WeakKey { subject: String, bits: usize },

    #[error("the certificate {subject} has a {algorithm} public key, which certkeeper does not host; use an RSA (2048, 3072 or 4096 bits) or ECDSA P-256 or P-384 certificate")]
    UnsupportedCertificateKey { subject: String, algorithm: String },

    #[error(
        "missing required parameter CertificatePrivateKey: a certificate of CertificateType SVR needs its private key \
         (in CertificatePrivateKey, or inside a PKCS#12 file); use CertificateType CA to upload a CA certificate without a key"
    )]
    KeyRequired,

    #[error("the certificate {subject} carries no DNS name (no subjectAltName and no common name); upload a server certificate")]
    NoNames { subject: String },
}

/// Tells what to paste into an upload field: the key for the key field, else certificates.
fn paste_hint(field: &str) -> &'static str {
    if field.contains("PrivateKey") {
        "paste the key text from its -----BEGIN ... PRIVATE KEY----- line to its -----END ... PRIVATE KEY----- line"
    } else {
        "paste the text from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----"
    }
}
