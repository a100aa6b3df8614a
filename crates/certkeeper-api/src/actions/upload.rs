//! UploadCertificate, CheckCertificateChain and CheckCertificateExist.
//!
//! Every rejected upload gets its own error code (the table is in `docs/api.md`) and a message
//! that names the problem and the fix, and nothing is stored. An accepted upload's response
//! adds `UploadReport` to the documented fields: what was reordered, dropped or added, and the
//! warnings.

use std::sync::Arc;

use certkeeper_pki::upload::{self, CertificateKind, ChainChange, ChainSources, HostedChain, UploadError, UploadedCertificate};
use certkeeper_ra::{HostingError, UploadOutcome, UploadRequest};
use serde_json::{Value, json};

use super::metadata::{actor, read_alias};
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;


const UPLOAD_PARAMETERS: &[&str] = &[
    "CertificatePublicKey",
    "CertificatePrivateKey",
    "CertificateType",
    "CertificateUse",
    "ProjectId",
    "Alias",
    "Tags",
    "Repeatable",
    "KeyPassword",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("UploadCertificate", UPLOAD_PARAMETERS, upload_certificate);
    registry.register("CheckCertificateChain", &["CertificateChain"], check_chain);
    registry.register("CheckCertificateExist", &["CertificatePublicKey"], check_exist);
}

/// Maps a rejected upload to its error code. Each variant has its own code so that clients
/// and the documentation can tell the cases apart.
pub fn upload_error(error: &UploadError) -> ApiError {
    let code = match error {
        UploadError::Empty { .. } => "InvalidParameterValue.CertificateEmpty",
        UploadError::TooLarge { .. } => "InvalidParameterValue.CertificateTooLarge",
        UploadError::Utf16 { .. } => "InvalidParameterValue.CertificateUtf16",
        UploadError::Binary { .. } => "InvalidParameterValue.CertificateBinary",
        UploadError::NoPem { .. } => "FailedOperation.CertificateParseError",
        UploadError::UnterminatedBlock { .. } => "InvalidParameterValue.CertificatePemUnterminated",
        UploadError::MismatchedLabels { .. } => "InvalidParameterValue.CertificatePemLabelMismatch",
        UploadError::InvalidBase64 { .. } => "InvalidParameterValue.CertificateBase64Invalid",
        UploadError::TruncatedBlock { .. } => "InvalidParameterValue.CertificateTruncated",
        UploadError::InvalidCertificate { .. } => "FailedOperation.CertificateInvalid",
        UploadError::UnsupportedBlock { .. } => "InvalidParameterValue.CertificatePemTypeUnsupported",
        UploadError::KeyInCertificateField { .. } => "InvalidParameterValue.PrivateKeyInCertificateField",
        UploadError::CertificateInKeyField { .. } => "InvalidParameterValue.CertificateInPrivateKeyField",
        UploadError::MultipleKeys { .. } => "InvalidParameterValue.PrivateKeyMultiple",
        UploadError::TooManyCertificates { .. } => "InvalidParameterValue.CertificateChainTooLong",
        UploadError::PasswordRequired { .. } => "FailedOperation.PrivateKeyPasswordRequired",
        UploadError::WrongPassword { .. } => "FailedOperation.PrivateKeyPasswordIncorrect",
        UploadError::UnsupportedKeyEncryption { .. } => "FailedOperation.PrivateKeyEncryptionUnsupported",
        UploadError::InvalidKey { .. } => "FailedOperation.PrivateKeyInvalid",
        UploadError::UnsupportedKey { .. } => "FailedOperation.PrivateKeyUnsupported",
        UploadError::OpenSshKey => "FailedOperation.PrivateKeyOpenSshFormat",
        UploadError::Sm2 { .. } => "FailedOperation.CertificateEncryptInvalid",
        UploadError::InvalidPkcs12 { .. } => "FailedOperation.CertificatePkcs12Invalid",
        UploadError::InvalidPkcs7 { .. } => "FailedOperation.CertificatePkcs7Invalid",
        UploadError::CsrGiven { .. } => "InvalidParameterValue.CertificateIsCsr",
        UploadError::KeyMismatch { .. } => "FailedOperation.CertificateMismatch",
        UploadError::KeyOfCaCertificate { .. } => "FailedOperation.PrivateKeyOfCaCertificate",
        UploadError::NoLeaf { .. } => "FailedOperation.CertificateNoLeaf",
        UploadError::NotCa { .. } => "FailedOperation.CertificateCaError",
        UploadError::Expired { .. } => "FailedOperation.CertificateExpired",
        UploadError::WeakKey { .. } => "FailedOperation.CertificateWeakKey",
        UploadError::UnsupportedCertificateKey { .. } => "FailedOperation.CertificateKeyUnsupported",
        UploadError::NoNames { .. } => "FailedOperation.CertificateNoDomain",
        UploadError::KeyRequired => crate::error::codes::MISSING_PARAMETER,
        _ => "FailedOperation.CertificateInvalid",
    };
    ApiError::new(code, error.to_string())
}

fn hosting_failure(ctx: &RequestContext, error: HostingError) -> ApiError {
    match error {
        HostingError::Upload(error) => {
            tracing::debug!(request_id = %ctx.request_id, %error, "upload rejected");
            upload_error(&error)
        }
        HostingError::Revoked { .. } => {
            tracing::debug!(request_id = %ctx.request_id, %error, "upload of a revoked certificate rejected");
            ApiError::new("FailedOperation.CertificateInvalid", error.to_string())
        }
        other => store_failure(ctx, &other),
    }
}

fn read_kind(params: &Params) -> Result<CertificateKind, ApiError> {
    match params.optional_string("CertificateType")?.map(|text| text.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") | Some("SVR") => Ok(CertificateKind::Server),
        Some("CA") => Ok(CertificateKind::Ca),
        Some(other) => Err(ApiError::invalid_parameter_value("CertificateType", format!("expected SVR or CA, got {other:?}"))),
    }
}

fn read_request(params: &Params, ctx: &RequestContext) -> Result<UploadRequest, ApiError> {
    let certificate = params.required_string("CertificatePublicKey")?;
    let private_key = params.optional_string("CertificatePrivateKey")?.filter(|key| !key.trim().is_empty());
    let kind = read_kind(params)?;
    let alias = read_alias(params)?;
    // NOTE: certkeeper keeps no tags and binds no cloud products, so Tags and CertificateUse are
    // checked for shape only.
    if let Some(tags) = params.get("Tags")
        && !tags.is_array()
        && !tags.is_null()
    {
        return Err(ApiError::invalid_parameter("Tags", "expected an array of {TagKey, TagValue} objects"));
    }
    params.optional_string("CertificateUse")?;
    Ok(UploadRequest {
        account_id: Some(ctx.account_id),
        certificate,
        private_key,
        password: params.optional_string("KeyPassword")?.filter(|password| !password.is_empty()),
        kind,
        alias,
        project_id: params.optional_unsigned("ProjectId")?.unwrap_or(0),
        repeatable: params.optional_bool("Repeatable")?.unwrap_or(true),
        actor: actor(ctx),
    })
}

fn change_json(change: &ChainChange, key: &str) -> Value {
    json!({ "Subject": change.subject, "Fingerprint": change.sha256, key: change.reason })
}

fn chain_subjects(chain: &HostedChain) -> Vec<String> {
    std::iter::once(&chain.leaf).chain(chain.intermediates.iter()).chain(chain.root.iter()).map(|certificate| certificate.subject.clone()).collect()
}

/// Builds the `UploadReport` extension of an UploadCertificate response.
fn report_json(outcome: &UploadOutcome, key_encoding: Option<&str>) -> Value {
    let report = &outcome.chain.report;
    json!({
        "Chain": chain_subjects(&outcome.chain),
        "Reordered": report.reordered,
        "Dropped": report.dropped.iter().map(|change| change_json(change, "Reason")).collect::<Vec<_>>(),
        "Added": report.added.iter().map(|change| change_json(change, "Source")).collect::<Vec<_>>(),
        "DuplicatesRemoved": outcome.duplicates,
        "SkippedBlocks": outcome.skipped,
        "KeyEncoding": key_encoding,
        "IsTrustedCA": report.trusted,
        "Warnings": report.warnings.iter().map(|warning| json!({ "Code": warning.code, "Message": warning.message })).collect::<Vec<_>>(),
    })
}

async fn upload_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let request = read_request(&params, &ctx)?;
    let key_encoding = key_encoding(&request);
    let outcome = services.hosting.upload(&request, services.now()).await.map_err(|error| hosting_failure(&ctx, error))?;
    Ok(json!({
        "CertificateId": outcome.certificate_id,
        "RepeatCertId": outcome.repeat_of.clone().unwrap_or_default(),
        "UploadReport": report_json(&outcome, key_encoding.as_deref()),
    }))
}

/// Names the encoding of the uploaded key for the report, without decrypting anything.
fn key_encoding(request: &UploadRequest) -> Option<String> {
    let key = request.private_key.as_deref()?;
    let label = key.find("-----BEGIN ").map(|start| &key[start + 11..]).and_then(|rest| rest.split("-----").next())?;
    let encoding = match label.trim() {
        "PRIVATE KEY" => "PKCS#8",
        "ENCRYPTED PRIVATE KEY" => "encrypted PKCS#8",
        "RSA PRIVATE KEY" if key.contains("Proc-Type") => "PKCS#1, legacy encrypted",
        "RSA PRIVATE KEY" => "PKCS#1",
        "EC PARAMETERS" | "EC PRIVATE KEY" if key.contains("Proc-Type") => "SEC1, legacy encrypted",
        "EC PARAMETERS" | "EC PRIVATE KEY" => "SEC1",
        _ => return None,
    };
    Some(encoding.to_owned())
}

/// Returns the common name of a certificate, or its whole subject when it has none.
fn display_name(certificate: &UploadedCertificate) -> String {
    certificate.common_name.clone().unwrap_or_else(|| certificate.subject.clone())
}

async fn check_chain(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let text = params.required_string("CertificateChain")?;
    let parsed = services.hosting.parse_certificates("CertificateChain", &text).map_err(|error| hosting_failure(&ctx, error))?;
    let own: Vec<Vec<u8>> = services.issuers.iter().map(|issuer| issuer.certificate_der.clone()).collect();
    let sources = ChainSources { own, fetched: Vec::new() };
    let now = services.now();
    let result = match upload::assemble(&parsed.certificates, None, CertificateKind::Server, now, &sources) {
        Ok(chain) => chain,
        Err(error) => {
            // The chain cannot be used at all (expired leaf, unsupported key, no leaf).
            let names: Vec<String> = parsed.certificates.iter().map(display_name).collect();
            return Ok(json!({ "IsValid": false, "IsTrustedCA": false, "Chains": names, "Problems": [error.to_string()] }));
        }
    };
    let mut problems: Vec<String> = result.report.warnings.iter().map(|warning| warning.message.clone()).collect();
    for dropped in result.report.dropped.iter().filter(|dropped| dropped.reason == "unrelated") {
        problems.push(format!("{} is not part of the leaf's chain", dropped.subject));
    }
    let valid = result.report.missing_issuer.is_none() && !result.report.dropped.iter().any(|dropped| dropped.reason == "unrelated");
    let names: Vec<String> = std::iter::once(&result.leaf).chain(result.intermediates.iter()).chain(result.root.iter()).map(display_name).collect();
    Ok(json!({
        "IsValid": valid,
        "IsTrustedCA": result.report.trusted,
        "Chains": names,
        "Problems": problems,
    }))
}

async fn check_exist(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let text = params.required_string("CertificatePublicKey")?;
    let existing = services.hosting.find_existing(account_scope(&ctx), &text).await.map_err(|error| hosting_failure(&ctx, error))?;
    Ok(json!({ "RepeatCertId": existing.unwrap_or_default() }))
}
