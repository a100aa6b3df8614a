//! ReplaceCertificate: reissue of an issued certificate as a new order.
//!
//! `CsrType` is compared without regard to letter case. `original` (the default) keeps the key
//! of the certificate being reissued, and `upload` takes a CSR for the same names in
//! `CsrContent`. With `online` certkeeper generates a key of `CertCSREncryptAlgo` and
//! `CertCSRKeyParameter`, by default of the algorithm of the certificate being reissued. The
//! response carries the new certificate's id. Errors beyond the shared order errors:
//!
//! * `FailedOperation.OrderAlreadyReplaced`: a free certificate was already reissued once.
//! * `FailedOperation.InvalidCertificateStatusCode`: the certificate is not issued, has
//!   expired, or a reissue of it is still in progress.
//! * `FailedOperation.InvalidCertificateSource`: the certificate was uploaded.

use std::sync::Arc;

use certkeeper_core::KeyAlgorithm;
use certkeeper_ra::{OrderError, ReissueKey, ReissueRequest};
use serde_json::{Value, json};

use super::orders::{now_of, order_failure, order_service, read_method};
use super::{ActionRegistry, Services};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

/// A free certificate was already reissued.
pub const FAILED_OPERATION_ORDER_ALREADY_REPLACED: &str = "FailedOperation.OrderAlreadyReplaced";

const REPLACE_CERTIFICATE: &[&str] = &[
    "CertificateId",
    "ValidType",
    "CsrType",
    "CsrContent",
    "CsrkeyPassword",
    "Reason",
    "CertCSREncryptAlgo",
    "CertCSRKeyParameter",
    "SignAlgo",
    "UseCrossSignRoot",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("ReplaceCertificate", REPLACE_CERTIFICATE, replace_certificate);
}

/// Reads `CertCSREncryptAlgo` (`RSA` or `ECC`) and `CertCSRKeyParameter`; `None` when both are
/// absent.
fn read_online_key(params: &Params) -> Result<Option<KeyAlgorithm>, ApiError> {
    let family = params.optional_string("CertCSREncryptAlgo")?.map(|text| text.trim().to_ascii_uppercase()).filter(|text| !text.is_empty());
    let parameter = params.optional_string("CertCSRKeyParameter")?.map(|text| text.trim().to_ascii_lowercase()).filter(|text| !text.is_empty());
    let algorithm = match (family.as_deref(), parameter.as_deref()) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(ApiError::missing_parameter("CertCSREncryptAlgo")),
        (Some("RSA"), None | Some("2048")) => KeyAlgorithm::Rsa2048,
        (Some("RSA"), Some("3072")) => KeyAlgorithm::Rsa3072,
        (Some("RSA"), Some("4096")) => KeyAlgorithm::Rsa4096,
        (Some("ECC"), None | Some("prime256v1") | Some("secp256r1")) => KeyAlgorithm::EcdsaP256,
        (Some("ECC"), Some("secp384r1")) => KeyAlgorithm::EcdsaP384,
        (Some("SM2"), _) => KeyAlgorithm::Sm2,
        (Some("RSA" | "ECC"), Some(other)) => {
            return Err(ApiError::invalid_parameter_value(
                "CertCSRKeyParameter",
                format!("{other:?} is not offered; use 2048, 3072 or 4096 for RSA and prime256v1 or secp384r1 for ECC"),
            ));
        }
        (Some(other), _) => {
            return Err(ApiError::invalid_parameter_value("CertCSREncryptAlgo", format!("unknown algorithm {other:?}; use RSA or ECC")));
        }
    };
    Ok(Some(algorithm))
}

/// Reads `CsrType` with `CsrContent` and the online key parameters into the key of the reissue.
fn read_reissue_key(params: &Params, original_algorithm: KeyAlgorithm) -> Result<ReissueKey, ApiError> {
    let csr_type = params.optional_string("CsrType")?.map(|text| text.trim().to_ascii_lowercase()).unwrap_or_default();
    let content = params.optional_string("CsrContent")?.filter(|text| !text.trim().is_empty());
    let online_key = read_online_key(params)?;
    if online_key.is_some() && csr_type != "online" {
        return Err(ApiError::invalid_parameter("CertCSREncryptAlgo", "is only used with CsrType online; remove it or set CsrType to online"));
    }
    match csr_type.as_str() {
        "" | "original" => {
            if content.is_some() {
                return Err(ApiError::invalid_parameter("CsrContent", "is only used with CsrType upload; remove it or set CsrType to upload"));
            }
            Ok(ReissueKey::Original)
        }
        "upload" => {
            let content = content.ok_or_else(|| ApiError::missing_parameter("CsrContent"))?;
            Ok(ReissueKey::Upload(content.into_bytes()))
        }
        "online" => {
            if content.is_some() {
                return Err(ApiError::invalid_parameter("CsrContent", "is only used with CsrType upload; remove it or set CsrType to upload"));
            }
            Ok(ReissueKey::Online(online_key.unwrap_or(original_algorithm)))
        }
        other => Err(ApiError::invalid_parameter_value("CsrType", format!("unknown CSR type {other:?}; use original, upload or online"))),
    }
}

/// Maps a reissue failure: CSR and key errors name this action's parameters, the rest goes
/// through the shared order mapping.
fn reissue_failure(ctx: &RequestContext, id: &str, error: OrderError) -> ApiError {
    match error {
        OrderError::Csr(source) => ApiError::invalid_parameter_value("CsrContent", source),
        OrderError::NamesDiffer { .. } => ApiError::invalid_parameter_value("CsrContent", error),
        OrderError::Key(source @ certkeeper_pki::KeyError::Unsupported { .. }) => {
            ApiError::invalid_parameter_value("CertCSREncryptAlgo", source)
        }
        OrderError::Product(source) => ApiError::invalid_parameter_value("CertCSREncryptAlgo", source),
        OrderError::AlreadyReissued { .. } => ApiError::new(FAILED_OPERATION_ORDER_ALREADY_REPLACED, error.to_string()),
        other => order_failure(ctx, id, other),
    }
}

async fn replace_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    let method = read_method(&params, "ValidType")?;
    let record = services.visible_certificate(&ctx, &id).await?;
    let key = read_reissue_key(&params, record.key_algorithm)?;
    if let Some(algorithm) = params.optional_string("SignAlgo")?
        && !algorithm.trim().is_empty()
        && !algorithm.trim().eq_ignore_ascii_case("SHA256")
    {
        return Err(ApiError::invalid_parameter_value("SignAlgo", format!("{algorithm:?} is not offered; certkeeper signs with SHA256")));
    }
    // NOTE: both are accepted and ignored. certkeeper has no cross-signed root, and the key
    // password only protects JKS and PFX downloads, which certkeeper does not produce.
    params.optional_bool("UseCrossSignRoot")?;
    params.optional_string("CsrkeyPassword")?;
    let reason = params.optional_string("Reason")?.unwrap_or_default();

    let request = ReissueRequest { actor: format!("account:{}", ctx.account_id), method, key, reason };
    let reissue = orders.reissue(&id, &request, now_of(&services)).await.map_err(|error| reissue_failure(&ctx, &id, error))?;
    Ok(json!({ "CertificateId": reissue.id }))
}
