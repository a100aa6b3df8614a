//! Helpers shared by the benchmarks.

use certkeeper_core::SerialNumber;

/// Builds a DER OCSPRequest with a SHA-1 CertID and, when given, a nonce extension.
pub fn ocsp_request(issuer_der: &[u8], serial: &SerialNumber, nonce: Option<[u8; 16]>) -> Vec<u8> {
    use der::asn1::{ObjectIdentifier, OctetString};
    use der::{Decode, Encode};
    use x509_cert::spki::AlgorithmIdentifierOwned;

    let issuer = x509_cert::Certificate::from_der(issuer_der).unwrap();
    let sha1 = |data: &[u8]| aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data).as_ref().to_vec();
    let cert_id = x509_ocsp::CertId {
        hash_algorithm: AlgorithmIdentifierOwned { oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"), parameters: None },
        issuer_name_hash: OctetString::new(sha1(&issuer.tbs_certificate.subject.to_der().unwrap())).unwrap(),
        issuer_key_hash: OctetString::new(sha1(issuer.tbs_certificate.subject_public_key_info.subject_public_key.raw_bytes()))
            .unwrap(),
        serial_number: x509_cert::serial_number::SerialNumber::new(serial.as_bytes()).unwrap(),
    };
    let extensions = nonce.map(|value| {
        vec![x509_cert::ext::Extension {
            extn_id: ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2"),
            critical: false,
            extn_value: OctetString::new(OctetString::new(value.to_vec()).unwrap().to_der().unwrap()).unwrap(),
        }]
    });
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request { req_cert: cert_id, single_request_extensions: None }],
            request_extensions: extensions,
        },
        optional_signature: None,
    };
    request.to_der().unwrap()
}
