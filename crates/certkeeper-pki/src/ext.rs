//! DER contents of the extensions that rcgen does not build itself.

use der::Encode;
use der::asn1::{Ia5String, ObjectIdentifier};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax, CertificatePolicies};

/// OID of the Authority Information Access extension (RFC 5280 §4.2.2.1).
pub const OID_AUTHORITY_INFO_ACCESS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];

/// OID of the Certificate Policies extension (RFC 5280 §4.2.1.4).
pub const OID_CERTIFICATE_POLICIES: &[u64] = &[2, 5, 29, 32];

const OID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const OID_AD_CA_ISSUERS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.2");

/// Error from encoding an extension.
#[derive(Debug, thiserror::Error)]
#[error("encoding the {extension} extension failed: {detail}")]
pub struct ExtensionError {
    pub extension: &'static str,
    pub detail: String,
}

/// Encodes AuthorityInfoAccessSyntax with an OCSP URL and a caIssuers URL (RFC 5280 §4.2.2.1),
/// OCSP first as CA/Browser Forum Baseline Requirements §7.1.2.7.7 lists it.
pub fn authority_info_access(ocsp_url: Option<&str>, ca_issuers_url: &str) -> Result<Vec<u8>, ExtensionError> {
    let error = |detail: String| ExtensionError { extension: "authorityInfoAccess", detail };
    let uri = |url: &str| {
        Ia5String::new(url)
            .map(GeneralName::UniformResourceIdentifier)
            .map_err(|e| error(format!("{url:?} is not IA5 text: {e}")))
    };

    let mut descriptions = Vec::new();
    if let Some(ocsp) = ocsp_url {
        descriptions.push(AccessDescription { access_method: OID_AD_OCSP, access_location: uri(ocsp)? });
    }
    descriptions.push(AccessDescription { access_method: OID_AD_CA_ISSUERS, access_location: uri(ca_issuers_url)? });
    AuthorityInfoAccessSyntax(descriptions).to_der().map_err(|e| error(e.to_string()))
}

/// Encodes CertificatePolicies with one policy OID and no qualifiers (RFC 5280 §4.2.1.4).
pub fn certificate_policies(policy_oids: &[&str]) -> Result<Vec<u8>, ExtensionError> {
    let error = |detail: String| ExtensionError { extension: "certificatePolicies", detail };
    let mut policies = Vec::new();
    for oid in policy_oids {
        let policy_identifier = ObjectIdentifier::new(oid).map_err(|e| error(format!("{oid}: {e}")))?;
        policies.push(PolicyInformation { policy_identifier, policy_qualifiers: None });
    }
    CertificatePolicies(policies).to_der().map_err(|e| error(e.to_string()))
}
