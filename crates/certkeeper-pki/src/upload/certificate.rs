//! The facts about one uploaded certificate that chain building and the checks need.

use certkeeper_core::KeyAlgorithm;
use x509_parser::prelude::*;
use x509_parser::public_key::PublicKey;

use super::der::oid;

/// Signature algorithms that hash with SHA-1 (RFC 3279 §2.2): sha1WithRSAEncryption and
/// ecdsa-with-SHA1.
const SHA1_SIGNATURES: [&str; 2] = ["1.2.840.113549.1.1.5", "1.2.840.10045.4.1"];
/// SM2 with SM3 signatures, 1.2.156.10197.1.501.
const SM2_SIGNATURE: &str = "1.2.156.10197.1.501";

/// An X.509 certificate from an upload, parsed once.
#[derive(Clone, Debug)]
pub struct UploadedCertificate {
    pub der: Vec<u8>,
    /// Lower-case hex SHA-256 of the DER.
    pub sha256: String,
    /// Subject in RFC 4514 form.
    pub subject: String,
    pub issuer: String,
    pub(crate) subject_raw: Vec<u8>,
    pub(crate) issuer_raw: Vec<u8>,
    /// True when basicConstraints sets cA.
    pub is_ca: bool,
    /// True when subject and issuer are equal and the certificate verifies its own signature.
    pub self_signed: bool,
    /// Validity, Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
    /// The subjectPublicKey BIT STRING contents.
    #[doc(hidden)]
    pub public_key: Vec<u8>,
    /// The key algorithm, or a description of an algorithm certkeeper does not host.
    pub key_algorithm: Result<KeyAlgorithm, String>,
    /// Modulus size of an RSA key.
    pub rsa_bits: Option<usize>,
    pub uses_sm2: bool,
    pub sha1_signature: bool,
    /// The common name, if any.
    pub common_name: Option<String>,
    /// DNS names and IP addresses of the subjectAltName, lower case.
    pub alt_names: Vec<String>,
    /// caIssuers URLs of the Authority Information Access extension (RFC 5280 §4.2.2.1).
    pub ca_issuers: Vec<String>,
    /// Position in the upload, counting from 0.
    pub position: usize,
}

impl UploadedCertificate {
    /// Parses a certificate. The DER must hold exactly one certificate and nothing after it.
    pub fn parse(der: &[u8], position: usize) -> Result<Self, String> {
        let (rest, certificate) = X509Certificate::from_der(der).map_err(|error| error.to_string())?;
        if !rest.is_empty() {
            return Err(format!("{} bytes follow the certificate", rest.len()));
        }
        let spki = certificate.public_key();
        let curve_oid = spki.algorithm.parameters.as_ref().and_then(|parameters| parameters.as_oid().ok());
        let uses_sm2 = certificate.signature_algorithm.algorithm.to_id_string() == SM2_SIGNATURE
            || curve_oid.as_ref().is_some_and(|curve| curve.as_bytes() == oid::SM2);
        let (key_algorithm, rsa_bits) = key_algorithm(spki, curve_oid.as_ref().map(|curve| curve.as_bytes()));
        let signature_oid = certificate.signature_algorithm.algorithm.to_id_string();
        let is_ca = certificate.basic_constraints().ok().flatten().is_some_and(|constraints| constraints.value.ca);
        let subject_raw = certificate.subject().as_raw().to_vec();
        let issuer_raw = certificate.issuer().as_raw().to_vec();
        let self_signed = subject_raw == issuer_raw && certificate.verify_signature(None).is_ok();

        Ok(Self {
            der: der.to_vec(),
            sha256: crate::sha256_hex(der),
            subject: certificate.subject().to_string(),
            issuer: certificate.issuer().to_string(),
            subject_raw,
            issuer_raw,
            is_ca,
            self_signed,
            not_before: certificate.validity().not_before.timestamp(),
            not_after: certificate.validity().not_after.timestamp(),
            public_key: spki.subject_public_key.data.to_vec(),
            key_algorithm,
            rsa_bits,
            uses_sm2,
            sha1_signature: SHA1_SIGNATURES.contains(&signature_oid.as_str()),
            common_name: common_name(&certificate),
            alt_names: alt_names(&certificate),
            ca_issuers: ca_issuers(&certificate),
            position,
        })
    }

    /// Returns true when `issuer` signed this certificate: the names match and the signature
    /// verifies with the issuer's key.
    pub fn is_issued_by(&self, issuer: &UploadedCertificate) -> bool {
        if self.issuer_raw != issuer.subject_raw {
            return false;
        }
        let (Ok((_, child)), Ok((_, parent))) = (X509Certificate::from_der(&self.der), X509Certificate::from_der(&issuer.der)) else {
            return false;
        };
        child.verify_signature(Some(parent.public_key())).is_ok()
    }

    /// Returns the subject and DNS names for messages, such as `CN=www.example.test
    /// (www.example.test, api.example.test)`.
    pub fn describe(&self) -> String {
        if self.alt_names.is_empty() {
            self.subject.clone()
        } else {
            format!("{} ({})", self.subject, self.alt_names.join(", "))
        }
    }

    /// Returns the names to store: the common name when it is a DNS name, then the
    /// subjectAltName entries, without duplicates.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if let Some(common_name) = &self.common_name {
            let lower = common_name.trim().to_ascii_lowercase();
            if !lower.is_empty() && !lower.contains(' ') {
                names.push(lower);
            }
        }
        for name in &self.alt_names {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }
}

fn key_algorithm(spki: &SubjectPublicKeyInfo<'_>, curve: Option<&[u8]>) -> (Result<KeyAlgorithm, String>, Option<usize>) {
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            let algorithm = KeyAlgorithm::rsa_with_bits(bits).ok_or_else(|| format!("{bits}-bit RSA"));
            (algorithm, Some(bits))
        }
        Ok(PublicKey::EC(_)) => {
            let algorithm = match curve {
                Some(oid::P256) => Ok(KeyAlgorithm::EcdsaP256),
                Some(oid::P384) => Ok(KeyAlgorithm::EcdsaP384),
                Some(oid::SM2) => Ok(KeyAlgorithm::Sm2),
                Some(oid::P521) => Err("ECDSA P-521".to_owned()),
                _ => Err("ECDSA on an unknown curve".to_owned()),
            };
            (algorithm, None)
        }
        Ok(PublicKey::DSA(_)) => (Err("DSA".to_owned()), None),
        Ok(_) | Err(_) => (Err(format!("algorithm {}", spki.algorithm.algorithm.to_id_string())), None),
    }
}

fn common_name(certificate: &X509Certificate<'_>) -> Option<String> {
    certificate.subject().iter_common_name().next().and_then(|attribute| attribute.as_str().ok()).map(str::to_owned)
}

fn alt_names(certificate: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(extension)) = certificate.subject_alternative_name() else {
        return Vec::new();
    };
    extension
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(dns.to_ascii_lowercase()),
            GeneralName::IPAddress(bytes) => ip_text(bytes),
            _ => None,
        })
        .collect()
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let octets: [u8; 16] = bytes.try_into().ok()?;
            Some(std::net::Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

fn ca_issuers(certificate: &X509Certificate<'_>) -> Vec<String> {
    let mut urls = Vec::new();
    for extension in certificate.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(access) = extension.parsed_extension() {
            for description in &access.accessdescs {
                if description.access_method.to_id_string() == "1.3.6.1.5.5.7.48.2"
                    && let GeneralName::URI(uri) = &description.access_location
                {
                    urls.push((*uri).to_owned());
                }
            }
        }
    }
    urls
}
