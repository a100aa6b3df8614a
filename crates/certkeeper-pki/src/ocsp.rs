//! OCSP (RFC 6960) requests, responses and the delegated responder certificate.
//!
//! The ASN.1 types come from x509-ocsp 0.2.1, which is built on x509-cert 0.2 and der 0.7.
//! This module keeps those types inside, so callers only see DER bytes and certkeeper types.

use certkeeper_core::{KeyAlgorithm, SerialNumber};
use der::asn1::{BitString, Null, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, PublicKeyData, SigningKey,
};
use x509_cert::spki::AlgorithmIdentifierOwned;
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::CrlReason;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, ResponderId, ResponseData,
    RevokedInfo, SingleResponse, Version,
};

use crate::crl::{CaSigner, CrlError, RevocationReason};
use crate::keys::SigningKeyPair;

/// id-pkix-ocsp-nonce (RFC 6960 §4.4.1).
const OID_NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), as an rcgen OID.
const OID_OCSP_NOCHECK: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");

/// Maximum number of certificates asked about in one request. OpenSSL and browsers send one;
/// the bound keeps a single request from costing many lookups.
pub const MAX_REQUESTS: usize = 16;

/// Maximum nonce length accepted, in octets. RFC 8954 §2.1 allows at most 32; a little more is
/// accepted because some clients send the OCTET STRING wrapped twice.
const MAX_NONCE_LENGTH: usize = 64;

/// Error from parsing an OCSP request or building a response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OcspError {
    #[error("the OCSP request is malformed: {detail}")]
    Malformed { detail: String },
    #[error("encoding the OCSP response failed: {detail}")]
    Encode { detail: String },
    #[error("signing the OCSP response failed: {source}")]
    Sign { source: rcgen::Error },
    #[error("the OCSP responder key algorithm {algorithm} is not supported")]
    UnsupportedKey { algorithm: KeyAlgorithm },
    #[error(transparent)]
    Crl(#[from] CrlError),
}

fn malformed(detail: impl Into<String>) -> OcspError {
    OcspError::Malformed { detail: detail.into() }
}

fn encode_error(error: der::Error) -> OcspError {
    OcspError::Encode { detail: error.to_string() }
}

/// One certificate asked about: the CertID exactly as the client sent it, and its serial.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRequest {
    cert_id: CertId,
    serial: SerialNumber,
}

impl CertRequest {
    /// Returns the serial asked about, without a DER sign byte.
    pub fn serial(&self) -> &SerialNumber {
        &self.serial
    }

    /// Returns the DER CertID, usable as a cache key together with the issuer.
    pub fn cert_id_der(&self) -> Result<Vec<u8>, OcspError> {
        self.cert_id.to_der().map_err(encode_error)
    }
}

/// A parsed OCSP request.
#[derive(Clone, Debug)]
pub struct ParsedRequest {
    pub requests: Vec<CertRequest>,
    /// The nonce extension to echo, unchanged, in the response.
    nonce: Option<Extension>,
}

impl ParsedRequest {
    /// Returns true when the request carries a nonce, so its response cannot be shared.
    pub fn has_nonce(&self) -> bool {
        self.nonce.is_some()
    }
}

/// Parses a DER OCSPRequest. Signed requests are accepted and their signature is ignored,
/// because certkeeper's responses are public.
pub fn parse_request(der: &[u8]) -> Result<ParsedRequest, OcspError> {
    let request = OcspRequest::from_der(der).map_err(|error| malformed(error.to_string()))?;
    let list = request.tbs_request.request_list;
    if list.is_empty() {
        return Err(malformed("the request list is empty"));
    }
    if list.len() > MAX_REQUESTS {
        return Err(malformed(format!("{} certificates asked about, at most {MAX_REQUESTS} allowed", list.len())));
    }
    let requests = list
        .into_iter()
        .map(|single| {
            let serial = serial_of(single.req_cert.serial_number.as_bytes());
            CertRequest { cert_id: single.req_cert, serial }
        })
        .collect();
    let nonce = request
        .tbs_request
        .request_extensions
        .unwrap_or_default()
        .into_iter()
        .find(|extension| extension.extn_id == OID_NONCE);
    if let Some(nonce) = &nonce {
        let length = nonce.extn_value.as_bytes().len();
        if length == 0 || length > MAX_NONCE_LENGTH {
            return Err(malformed(format!("the nonce is {length} octets, expected 1 to {MAX_NONCE_LENGTH}")));
        }
    }
    Ok(ParsedRequest { requests, nonce })
}

/// Removes the sign octet that DER adds before a serial whose top bit is set.
fn serial_of(content: &[u8]) -> SerialNumber {
    match content {
        [0, rest @ ..] if rest.first().is_some_and(|b| b & 0x80 != 0) => SerialNumber::from_bytes(rest),
        _ => SerialNumber::from_bytes(content),
    }
}

/// The issuer hashes a CertID is compared with (RFC 6960 §4.1.1), for SHA-1 and SHA-256.
#[derive(Clone, Debug)]
pub struct CertIdMatcher {
    name_sha1: Vec<u8>,
    key_sha1: Vec<u8>,
    name_sha256: Vec<u8>,
    key_sha256: Vec<u8>,
}

impl CertIdMatcher {
    /// Computes the hashes of an issuer certificate's subject DN and public key.
    pub fn new(issuer_der: &[u8]) -> Result<Self, OcspError> {
        let certificate = Certificate::from_der(issuer_der).map_err(encode_error)?;
        let name = certificate.tbs_certificate.subject.to_der().map_err(encode_error)?;
        let key = certificate.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes().to_vec();
        let sha1 = |data: &[u8]| digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
        let sha256 = |data: &[u8]| digest(&aws_lc_rs::digest::SHA256, data);
        Ok(CertIdMatcher { name_sha1: sha1(&name), key_sha1: sha1(&key), name_sha256: sha256(&name), key_sha256: sha256(&key) })
    }

    /// Returns true when the CertID names this issuer with SHA-1 or SHA-256. CertIDs with any
    /// other hash algorithm never match.
    pub fn matches(&self, request: &CertRequest) -> bool {
        let cert_id = &request.cert_id;
        let (name, key) = match cert_id.hash_algorithm.oid {
            OID_SHA1 => (&self.name_sha1, &self.key_sha1),
            OID_SHA256 => (&self.name_sha256, &self.key_sha256),
            _ => return false,
        };
        cert_id.issuer_name_hash.as_bytes() == name.as_slice() && cert_id.issuer_key_hash.as_bytes() == key.as_slice()
    }
}

fn digest(algorithm: &'static aws_lc_rs::digest::Algorithm, data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(algorithm, data).as_ref().to_vec()
}

/// The status of one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateStatus {
    Good,
    Revoked { revoked_at: OffsetDateTime, reason: RevocationReason },
    /// The issuer never signed the serial.
    Unknown,
}

/// One SingleResponse of a response: the CertID asked about and its status.
#[derive(Clone, Debug)]
pub struct SingleAnswer<'a> {
    pub request: &'a CertRequest,
    pub status: CertificateStatus,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
}

/// A delegated OCSP responder: its certificate, issued by the CA, and its key.
pub struct Responder {
    certificate: Certificate,
    certificate_der: Vec<u8>,
    key: SigningKeyPair,
    key_hash: Vec<u8>,
    signature_algorithm: AlgorithmIdentifierOwned,
    not_after: OffsetDateTime,
}

impl Responder {
    /// Generates a responder key and has `ca` issue its certificate, valid from `not_before`
    /// for `validity`.
    ///
    /// Profile (RFC 6960 §4.2.2.2 and Baseline Requirements §7.1.2.8): EKU id-kp-OCSPSigning,
    /// keyUsage digitalSignature, id-pkix-ocsp-nocheck, AKI, no basicConstraints.
    pub fn issue<S: SigningKey>(
        ca: &CaSigner<S>,
        algorithm: KeyAlgorithm,
        common_name: &str,
        serial: &SerialNumber,
        not_before: OffsetDateTime,
        validity: time::Duration,
    ) -> Result<Self, OcspError> {
        let key = SigningKeyPair::generate(algorithm).map_err(|error| OcspError::Encode { detail: error.to_string() })?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, DnValue::Utf8String(common_name.to_owned()));
        params.distinguished_name = name;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(serial.as_bytes()));
        params.not_before = not_before;
        params.not_after = not_before + validity;
        params.is_ca = IsCa::NoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
        params.use_authority_key_identifier_extension = true;
        params.custom_extensions = vec![CustomExtension::from_oid_content(OID_OCSP_NOCHECK, vec![0x05, 0x00])];
        let certificate = params
            .signed_by(&key, ca.issuer())
            .map_err(|source| CrlError::Build { what: "OCSP responder certificate", source })?;
        Self::new(certificate.der().to_vec(), key)
    }

    /// Wraps an existing responder certificate (DER) and its key.
    pub fn new(certificate_der: Vec<u8>, key: SigningKeyPair) -> Result<Self, OcspError> {
        let certificate = Certificate::from_der(&certificate_der).map_err(encode_error)?;
        let not_after_unix = certificate.tbs_certificate.validity.not_after.to_unix_duration().as_secs();
        let not_after = OffsetDateTime::from_unix_timestamp(not_after_unix as i64)
            .map_err(|error| OcspError::Encode { detail: error.to_string() })?;
        let key_hash = digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key.der_bytes());
        let signature_algorithm = signature_algorithm(key.algorithm())?;
        Ok(Responder { certificate, certificate_der, key, key_hash, signature_algorithm, not_after })
    }

    /// Returns the responder certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// Returns the end of the responder certificate's validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Signs a successful response with these single responses and returns the OCSPResponse DER. The
    /// request's nonce, if any, is echoed unchanged (RFC 6960 §4.4.1).
    pub fn sign_response(
        &self,
        answers: &[SingleAnswer<'_>],
        produced_at: OffsetDateTime,
        request: &ParsedRequest,
    ) -> Result<Vec<u8>, OcspError> {
        let responses = answers.iter().map(single_response).collect::<Result<Vec<_>, _>>()?;
        let tbs_response_data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByKey(OctetString::new(self.key_hash.clone()).map_err(encode_error)?),
            produced_at: generalized_time(produced_at)?,
            responses,
            response_extensions: request.nonce.clone().map(|nonce| vec![nonce]),
        };
        let tbs_der = tbs_response_data.to_der().map_err(encode_error)?;
        let signature = self.key.sign(&tbs_der).map_err(|source| OcspError::Sign { source })?;
        let basic = BasicOcspResponse {
            tbs_response_data,
            signature_algorithm: self.signature_algorithm.clone(),
            signature: BitString::from_bytes(&signature).map_err(encode_error)?,
            certs: Some(vec![self.certificate.clone()]),
        };
        OcspResponse::successful(basic).and_then(|response| response.to_der()).map_err(encode_error)
    }
}

fn single_response(answer: &SingleAnswer<'_>) -> Result<SingleResponse, OcspError> {
    let cert_status = match answer.status {
        CertificateStatus::Good => CertStatus::Good(Null),
        CertificateStatus::Unknown => CertStatus::Unknown(Null),
        CertificateStatus::Revoked { revoked_at, reason } => CertStatus::Revoked(RevokedInfo {
            revocation_time: generalized_time(revoked_at)?,
            // As in CRL entries, an unspecified reason is left out.
            revocation_reason: crl_reason(reason),
        }),
    };
    Ok(SingleResponse {
        cert_id: answer.request.cert_id.clone(),
        cert_status,
        this_update: generalized_time(answer.this_update)?,
        next_update: Some(generalized_time(answer.next_update)?),
        single_extensions: None,
    })
}

fn crl_reason(reason: RevocationReason) -> Option<CrlReason> {
    Some(match reason {
        RevocationReason::Unspecified => return None,
        RevocationReason::KeyCompromise => CrlReason::KeyCompromise,
        RevocationReason::CaCompromise => CrlReason::CaCompromise,
        RevocationReason::AffiliationChanged => CrlReason::AffiliationChanged,
        RevocationReason::Superseded => CrlReason::Superseded,
        RevocationReason::CessationOfOperation => CrlReason::CessationOfOperation,
        RevocationReason::CertificateHold => CrlReason::CertificateHold,
        RevocationReason::RemoveFromCrl => CrlReason::RemoveFromCRL,
        RevocationReason::PrivilegeWithdrawn => CrlReason::PrivilegeWithdrawn,
        RevocationReason::AaCompromise => CrlReason::AaCompromise,
    })
}

fn generalized_time(at: OffsetDateTime) -> Result<OcspGeneralizedTime, OcspError> {
    let seconds = u64::try_from(at.unix_timestamp()).map_err(|_| malformed(format!("time {at} is before 1970")))?;
    let date_time = der::DateTime::from_unix_duration(std::time::Duration::from_secs(seconds)).map_err(encode_error)?;
    Ok(OcspGeneralizedTime::from(date_time))
}

fn signature_algorithm(algorithm: KeyAlgorithm) -> Result<AlgorithmIdentifierOwned, OcspError> {
    let (oid, parameters) = match algorithm {
        KeyAlgorithm::EcdsaP256 => (OID_ECDSA_SHA256, None),
        KeyAlgorithm::EcdsaP384 => (OID_ECDSA_SHA384, None),
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096 => {
            (OID_RSA_SHA256, Some(der::Any::from(Null)))
        }
        KeyAlgorithm::Sm2 => return Err(OcspError::UnsupportedKey { algorithm }),
    };
    Ok(AlgorithmIdentifierOwned { oid, parameters })
}

/// Returns the DER OCSPResponse with status malformedRequest (RFC 6960 §4.2.1).
pub fn malformed_request_response() -> Vec<u8> {
    OcspResponse::malformed_request().to_der().expect("a status-only OCSPResponse always encodes")
}

/// Returns the DER OCSPResponse with status unauthorized, sent for CertIDs of other issuers
/// (RFC 5019 §2.2.3).
pub fn unauthorized_response() -> Vec<u8> {
    OcspResponse::unauthorized().to_der().expect("a status-only OCSPResponse always encodes")
}

/// Returns the DER OCSPResponse with status internalError.
pub fn internal_error_response() -> Vec<u8> {
    OcspResponse::internal_error().to_der().expect("a status-only OCSPResponse always encodes")
}

/// Returns the DER OCSPResponse with status tryLater.
pub fn try_later_response() -> Vec<u8> {
    OcspResponse::try_later().to_der().expect("a status-only OCSPResponse always encodes")
}
