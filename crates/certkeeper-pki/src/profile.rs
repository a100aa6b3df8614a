//! Certificate profiles: the root CA, the issuing intermediate, and TLS server leaves.

use certkeeper_core::{DnsName, OrganizationSubject, SerialNumber, ValidationLevel};
use rcgen::{
    BasicConstraints, CertificateParams, CrlDistributionPoint, CustomExtension, DistinguishedName, DnType,
    DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyUsagePurpose, PublicKeyData, SanType,
    SigningKey,
};
use time::OffsetDateTime;

use crate::ext::{self, ExtensionError};
use crate::keys::{SigningKeyPair, SubjectKey};

/// OID of anyPolicy (RFC 5280 §4.2.1.4), written into the intermediate so that it can issue DV,
/// OV and EV leaves.
const ANY_POLICY: &str = "2.5.29.32.0";

/// Longest CN value allowed by X.520 ub-common-name (RFC 5280 Appendix A.1).
const MAX_COMMON_NAME_LENGTH: usize = 64;

/// Error from building a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    #[error(transparent)]
    Extension(#[from] ExtensionError),
    #[error("rcgen failed to build the {what}: {source}")]
    Build { what: &'static str, source: rcgen::Error },
    #[error("the issuer certificate does not parse: {source}")]
    Issuer { source: rcgen::Error },
    #[error("the certificate has no names")]
    NoNames,
}

/// Subject names and lifetimes of certkeeper's CA certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaProfile {
    /// `C` of both CA certificates: a two-letter ISO 3166 code, written as PrintableString.
    pub country: String,
    /// `O` of both CA certificates.
    pub organization: String,
    /// CN of the root.
    pub root_common_name: String,
    /// CN of the issuing intermediate.
    pub intermediate_common_name: String,
    /// Root validity in days.
    pub root_days: u32,
    /// Intermediate validity in days.
    pub intermediate_days: u32,
}

/// URLs written into a certificate that point back at its issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerUrls {
    /// OCSP responder (AIA id-ad-ocsp); leaves only.
    pub ocsp: Option<String>,
    /// URL of the issuer's certificate (AIA id-ad-caIssuers).
    pub ca_issuers: String,
    /// CRL distribution point; for leaves this names the CRL shard of the serial.
    pub crl: String,
}

/// Contents of one TLS server leaf.
#[derive(Clone, Debug)]
pub struct LeafProfile<'a> {
    pub key: &'a SubjectKey,
    pub names: &'a [DnsName],
    pub serial: &'a SerialNumber,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub level: ValidationLevel,
    pub urls: IssuerUrls,
    /// Verified organisation of an OV or EV certificate; `None` for DV, whose subject holds only
    /// the common name.
    pub subject: Option<&'a OrganizationSubject>,
}

/// jurisdictionCountryName (EV Guidelines §9.2.4).
const OID_JURISDICTION_COUNTRY: [u64; 11] = [1, 3, 6, 1, 4, 1, 311, 60, 2, 1, 3];
/// businessCategory (X.520, 2.5.4.15).
const OID_BUSINESS_CATEGORY: [u64; 4] = [2, 5, 4, 15];
/// serialNumber (X.520, 2.5.4.5), the registration number for EV.
const OID_SERIAL_NUMBER: [u64; 4] = [2, 5, 4, 5];

fn printable(value: &str, attribute: &'static str) -> Result<DnValue, ProfileError> {
    let text = rcgen::string::PrintableString::try_from(value).map_err(|source| ProfileError::Build { what: attribute, source })?;
    Ok(DnValue::PrintableString(text))
}

/// Builds the subject of a leaf: the organisation attributes (countryName and the EV
/// jurisdiction and serial number as PrintableString, the others as UTF8String), then the CN.
fn leaf_subject(subject: Option<&OrganizationSubject>, common_name: Option<&str>) -> Result<DistinguishedName, ProfileError> {
    let mut name = DistinguishedName::new();
    if let Some(subject) = subject {
        name.push(DnType::CountryName, printable(&subject.country, "subject countryName")?);
        name.push(DnType::StateOrProvinceName, DnValue::Utf8String(subject.state.clone()));
        name.push(DnType::LocalityName, DnValue::Utf8String(subject.locality.clone()));
        name.push(DnType::OrganizationName, DnValue::Utf8String(subject.organization.clone()));
        if let Some(ev) = &subject.ev {
            name.push(DnType::CustomDnType(OID_BUSINESS_CATEGORY.to_vec()), DnValue::Utf8String(ev.business_category.clone()));
            name.push(
                DnType::CustomDnType(OID_JURISDICTION_COUNTRY.to_vec()),
                printable(&ev.jurisdiction_country, "subject jurisdictionCountryName")?,
            );
            name.push(DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()), printable(&ev.registration_number, "subject serialNumber")?);
        }
    }
    if let Some(common_name) = common_name {
        name.push(DnType::CommonName, DnValue::Utf8String(common_name.to_owned()));
    }
    Ok(name)
}

fn ca_subject(profile: &CaProfile, common_name: &str) -> Result<DistinguishedName, ProfileError> {
    let country = rcgen::string::PrintableString::try_from(profile.country.as_str())
        .map_err(|source| ProfileError::Build { what: "CA subject countryName", source })?;
    let organization = profile.organization.as_str();
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, DnValue::PrintableString(country));
    name.push(DnType::OrganizationName, DnValue::Utf8String(organization.to_owned()));
    name.push(DnType::CommonName, DnValue::Utf8String(common_name.to_owned()));
    Ok(name)
}

/// RFC 5280 §4.2.1.2 method 1: the SHA-1 digest of the subjectPublicKey BIT STRING contents.
fn key_identifier(key: &impl PublicKeyData) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, key.der_bytes()).as_ref().to_vec()
}

fn serial_of(serial: &SerialNumber) -> rcgen::SerialNumber {
    rcgen::SerialNumber::from_slice(serial.as_bytes())
}

/// Builds the self-signed root CA certificate and returns its DER.
///
/// Profile: basicConstraints CA with no path length limit, keyCertSign and cRLSign, a subject
/// key identifier, and no other extensions (CA/Browser Forum Baseline Requirements §7.1.2.1).
pub fn build_root(
    key: &SigningKeyPair,
    profile: &CaProfile,
    serial: &SerialNumber,
    not_before: OffsetDateTime,
) -> Result<Vec<u8>, ProfileError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_subject(profile, &profile.root_common_name)?;
    params.serial_number = Some(serial_of(serial));
    params.not_before = not_before;
    params.not_after = not_before + time::Duration::days(i64::from(profile.root_days));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(key));
    let certificate = params
        .self_signed(key)
        .map_err(|source| ProfileError::Build { what: "root CA certificate", source })?;
    Ok(certificate.der().to_vec())
}

/// Builds the issuing intermediate, signed by the root, and returns its DER.
///
/// Profile: basicConstraints CA with path length 0, digitalSignature, keyCertSign and cRLSign,
/// EKU serverAuth, AKI and SKI, AIA caIssuers pointing at the root, a CRL distribution point for
/// the root's CRL, and anyPolicy (Baseline Requirements §7.1.2.10).
pub fn build_intermediate(
    key: &SigningKeyPair,
    root_der: &[u8],
    root_key: &SigningKeyPair,
    profile: &CaProfile,
    serial: &SerialNumber,
    not_before: OffsetDateTime,
    urls: &IssuerUrls,
) -> Result<Vec<u8>, ProfileError> {
    let root = Issuer::from_ca_cert_der(&root_der.into(), root_key).map_err(|source| ProfileError::Issuer { source })?;

    let mut params = CertificateParams::default();
    params.distinguished_name = ca_subject(profile, &profile.intermediate_common_name)?;
    params.serial_number = Some(serial_of(serial));
    params.not_before = not_before;
    params.not_after = not_before + time::Duration::days(i64::from(profile.intermediate_days));
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key_identifier(key));
    params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![urls.crl.clone()] }];
    params.custom_extensions = vec![
        CustomExtension::from_oid_content(ext::OID_AUTHORITY_INFO_ACCESS, ext::authority_info_access(None, &urls.ca_issuers)?),
        CustomExtension::from_oid_content(ext::OID_CERTIFICATE_POLICIES, ext::certificate_policies(&[ANY_POLICY])?),
    ];
    let certificate = params
        .signed_by(key, &root)
        .map_err(|source| ProfileError::Build { what: "intermediate CA certificate", source })?;
    Ok(certificate.der().to_vec())
}

/// An issuing CA ready to sign leaves: its certificate and its key.
pub struct LeafIssuer<S: SigningKey> {
    issuer: Issuer<'static, S>,
}

impl<S: SigningKey> LeafIssuer<S> {
    /// Wraps an issuer certificate (DER) and the key that belongs to it.
    pub fn new(issuer_der: &[u8], key: S) -> Result<Self, ProfileError> {
        let issuer = Issuer::from_ca_cert_der(&issuer_der.into(), key).map_err(|source| ProfileError::Issuer { source })?;
        Ok(LeafIssuer { issuer })
    }

    /// Signs a TLS server leaf and returns its DER.
    ///
    /// Profile (Baseline Requirements §7.1.2.7): the given serial and validity, subject CN = the
    /// first name when it fits in 64 characters after the organisation attributes of OV and EV, every name as a dNSName SAN, digitalSignature
    /// (plus keyEncipherment for RSA keys), EKU serverAuth, AKI, no basicConstraints, AIA with
    /// OCSP and caIssuers, the CRL distribution point, and the policy OID of the level.
    pub fn sign_leaf(&self, leaf: &LeafProfile<'_>) -> Result<Vec<u8>, ProfileError> {
        let first = leaf.names.first().ok_or(ProfileError::NoNames)?;
        let mut params = CertificateParams::default();
        let common_name = Some(first.as_str()).filter(|name| name.len() <= MAX_COMMON_NAME_LENGTH);
        params.distinguished_name = leaf_subject(leaf.subject, common_name)?;
        params.serial_number = Some(serial_of(leaf.serial));
        params.not_before = leaf.not_before;
        params.not_after = leaf.not_after;
        params.subject_alt_names = leaf
            .names
            .iter()
            .map(|name| {
                rcgen::string::Ia5String::try_from(name.as_str())
                    .map(SanType::DnsName)
                    .map_err(|source| ProfileError::Build { what: "subjectAltName", source })
            })
            .collect::<Result<_, _>>()?;
        params.is_ca = IsCa::NoCa;
        params.key_usages = if leaf.key.algorithm().is_rsa() {
            vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment]
        } else {
            vec![KeyUsagePurpose::DigitalSignature]
        };
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.crl_distribution_points = vec![CrlDistributionPoint { uris: vec![leaf.urls.crl.clone()] }];
        params.custom_extensions = vec![
            CustomExtension::from_oid_content(
                ext::OID_AUTHORITY_INFO_ACCESS,
                ext::authority_info_access(leaf.urls.ocsp.as_deref(), &leaf.urls.ca_issuers)?,
            ),
            CustomExtension::from_oid_content(ext::OID_CERTIFICATE_POLICIES, ext::certificate_policies(&[leaf.level.policy_oid()])?),
        ];
        let certificate = params
            .signed_by(leaf.key, &self.issuer)
            .map_err(|source| ProfileError::Build { what: "leaf certificate", source })?;
        Ok(certificate.der().to_vec())
    }
}
