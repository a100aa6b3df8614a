//! The order actions: ApplyCertificate, CompleteCertificate, CheckCertificateDomainVerification
//! and CancelCertificateOrder.
//!
//! ApplyCertificate with `OldCertificateId` renews that certificate: it must be issued, expire
//! within 30 days without having expired, have no renewal yet, and be for `DomainName`.
//!
//! They run on the [`OrderService`] in [`Services::orders`], and [`super::ssl_actions`]
//! registers them only when that service is present.

use std::sync::Arc;

use certkeeper_core::product::FREE_DV_PRODUCT_ID;
use certkeeper_core::{CertificateStatus, KeyAlgorithm, ValidationMethod};
use certkeeper_ra::{ApplyRequest, OrderError, OrderService};
use certkeeper_store::ValidationRow;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ActionRegistry, Services};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

/// The domain name is malformed, an IP address or a public suffix.
pub const INVALID_PARAMETER_DOMAIN_INVALID: &str = "InvalidParameter.DomainInvalid";
/// The certificate is not waiting for domain validation.
pub const FAILED_OPERATION_STATUS_NOT_ALLOW_VERIFY: &str = "FailedOperation.CertificateStatusNotAllowVerify";
/// The certificate is unknown or no longer an order that can be cancelled.
pub const FAILED_OPERATION_NOT_FOUND_OR_CANT_CANCEL: &str = "FailedOperation.CertificateNotFoundOrCantCancel";

/// The certificate named by `OldCertificateId` does not expire within 30 days (certkeeper code).
pub const FAILED_OPERATION_RENEW_NOT_DUE: &str = "FailedOperation.RenewNotAllowed";
/// The certificate named by `OldCertificateId` already has a renewal (certkeeper code).
pub const FAILED_OPERATION_ALREADY_RENEWED: &str = "FailedOperation.AlreadyRenewed";

/// State of a validation row whose check has passed.
const VALIDATION_PASSED: &str = "valid";
/// `CaCheck` of a domain whose validation has not passed.
const CA_CHECK_NOT_PASSED: i64 = -1;
/// `CaCheck` of a domain whose validation has passed.
const CA_CHECK_PASSED: i64 = 2;

const APPLY_CERTIFICATE: &[&str] = &[
    "DvAuthMethod",
    "DomainName",
    "ProjectId",
    "PackageType",
    "ContactEmail",
    "ContactPhone",
    "ValidityPeriod",
    "CsrEncryptAlgo",
    "CsrKeyParameter",
    "CsrKeyPassword",
    "Alias",
    "OldCertificateId",
    "PackageId",
    "DeleteDnsAutoRecord",
    "DnsNames",
    "AutoRenewFlag",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("ApplyCertificate", APPLY_CERTIFICATE, apply_certificate);
    registry.register("CompleteCertificate", &["CertificateId"], complete_certificate);
    registry.register("CheckCertificateDomainVerification", &["CertificateId"], check_domain_verification);
    registry.register("CancelCertificateOrder", &["CertificateId"], cancel_certificate_order);
}

pub(super) fn order_service(services: &Services) -> Result<&OrderService, ApiError> {
    services
        .orders
        .as_ref()
        .ok_or_else(|| ApiError::unsupported_operation("this server does not accept certificate orders"))
}

pub(super) fn now_of(services: &Services) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(services.now()).unwrap_or_else(|_| OffsetDateTime::now_utc())
}

/// Maps an order failure to the API error a client can act on. `subject` is the certificate id,
/// or the domain of an application. Failures the client cannot fix are logged with the request
/// id and returned as `InternalError`.
pub(super) fn order_failure(ctx: &RequestContext, subject: &str, error: OrderError) -> ApiError {
    match error {
        OrderError::Name { value, source } => {
            ApiError::new(INVALID_PARAMETER_DOMAIN_INVALID, format!("invalid DomainName {value:?}: {source}"))
        }
        OrderError::Product(source) => ApiError::invalid_parameter_value("PackageType", source),
        OrderError::Key(source @ certkeeper_pki::KeyError::Unsupported { .. }) => {
            ApiError::invalid_parameter_value("CsrEncryptAlgo", source)
        }
        OrderError::Csr(source) => ApiError::invalid_parameter_value("CSR", source),
        OrderError::Challenge(source) => ApiError::invalid_parameter("DvAuthMethod", source),
        OrderError::DomainNotInCsr { .. } => ApiError::invalid_parameter("DomainName", error),
        OrderError::NotFound { id } => ApiError::certificate_not_found(&id),
        OrderError::Uploaded { .. } => ApiError::new(super::revoke::FAILED_OPERATION_INVALID_SOURCE, error.to_string()),
        OrderError::WrongStatus { .. } | OrderError::Expired { .. } | OrderError::ReissueInProgress { .. } => {
            ApiError::new(super::revoke::FAILED_OPERATION_INVALID_STATUS, error.to_string())
        }
        OrderError::NotDueForRenewal { .. } => ApiError::new(FAILED_OPERATION_RENEW_NOT_DUE, error.to_string()),
        OrderError::AlreadyRenewed { .. } => ApiError::new(FAILED_OPERATION_ALREADY_RENEWED, error.to_string()),
        OrderError::RenewalDomainDiffers { .. } => ApiError::invalid_parameter_value("DomainName", error),
        OrderError::Store(certkeeper_store::StoreError::StatusChanged { .. }) => {
            ApiError::new(super::revoke::FAILED_OPERATION_INVALID_STATUS, format!("{error}; read it again and retry"))
        }
        other => {
            tracing::error!(
                request_id = %ctx.request_id,
                action = %ctx.action,
                subject,
                error = %other,
                "order operation failed; returned InternalError"
            );
            ApiError::internal()
        }
    }
}

/// Reads the validation method parameter `name`: DNS, DNS_AUTO or FILE in any letter case.
pub(super) fn read_method(params: &Params, name: &str) -> Result<ValidationMethod, ApiError> {
    let text = params.required_string(name)?;
    match text.parse::<ValidationMethod>() {
        Ok(ValidationMethod::None) | Err(_) => {
            Err(ApiError::invalid_parameter_value(name, format!("unknown method {text:?}; use DNS, DNS_AUTO or FILE")))
        }
        Ok(method) => Ok(method),
    }
}

/// Reads `PackageType`, which may only name the free DV product.
fn read_product(params: &Params) -> Result<u32, ApiError> {
    match params.optional_string("PackageType")?.map(|text| text.trim().to_owned()) {
        None => Ok(FREE_DV_PRODUCT_ID),
        Some(text) if text.is_empty() || text == FREE_DV_PRODUCT_ID.to_string() => Ok(FREE_DV_PRODUCT_ID),
        Some(text) => Err(ApiError::invalid_parameter_value(
            "PackageType",
            format!("{text:?} is not available; ApplyCertificate issues only the free DV product {FREE_DV_PRODUCT_ID}"),
        )),
    }
}

/// Reads `CsrEncryptAlgo` (RSA by default, or ECC) and its `CsrKeyParameter`.
fn read_key_algorithm(params: &Params) -> Result<KeyAlgorithm, ApiError> {
    let family = params.optional_string("CsrEncryptAlgo")?.map(|text| text.trim().to_ascii_uppercase());
    let parameter = params.optional_string("CsrKeyParameter")?.map(|text| text.trim().to_owned()).filter(|text| !text.is_empty());
    match family.as_deref() {
        None | Some("") | Some("RSA") => match parameter.as_deref() {
            None | Some("2048") => Ok(KeyAlgorithm::Rsa2048),
            Some(other) => Err(ApiError::invalid_parameter_value(
                "CsrKeyParameter",
                format!("{other:?} is not accepted for RSA; the free DV product takes 2048"),
            )),
        },
        Some("ECC") => match parameter.as_deref() {
            None => Ok(KeyAlgorithm::EcdsaP256),
            Some(name) if name.eq_ignore_ascii_case("prime256v1") => Ok(KeyAlgorithm::EcdsaP256),
            Some(other) => Err(ApiError::invalid_parameter_value(
                "CsrKeyParameter",
                format!("{other:?} is not accepted for ECC; the free DV product takes prime256v1"),
            )),
        },
        Some(other) => Err(ApiError::invalid_parameter_value("CsrEncryptAlgo", format!("unknown algorithm {other:?}; use RSA or ECC"))),
    }
}

/// Checks and converts the ApplyCertificate parameters. Nothing is stored here.
fn read_apply_request(ctx: &RequestContext, params: &Params) -> Result<ApplyRequest, ApiError> {
    let method = read_method(params, "DvAuthMethod")?;
    let domain = params.required_string("DomainName")?.trim().to_owned();
    let product_id = read_product(params)?;
    let project_id = params.optional_unsigned("ProjectId")?.unwrap_or(0);
    if let Some(period) = params.optional_string("ValidityPeriod")?
        && !period.trim().is_empty()
        && period.trim() != "3"
    {
        return Err(ApiError::invalid_parameter_value("ValidityPeriod", format!("{period:?} is not offered; the free DV product lasts 3 months")));
    }
    let key_algorithm = read_key_algorithm(params)?;
    let alias = super::metadata::read_alias(params)?;
    let delete_dns_auto_record = params.optional_bool("DeleteDnsAutoRecord")?.unwrap_or(false);

    // CsrKeyPassword is read by apply_certificate. Contacts and the package id are accepted for
    // compatibility and not stored.
    params.optional_string("CsrKeyPassword")?;
    for ignored in ["ContactEmail", "ContactPhone", "PackageId"] {
        params.optional_string(ignored)?;
    }
    if params.optional_string_array("DnsNames")?.is_some_and(|names| !names.is_empty()) {
        return Err(ApiError::invalid_parameter(
            "DnsNames",
            "additional domain names are not supported; apply for one certificate per domain",
        ));
    }
    Ok(ApplyRequest {
        account_id: ctx.account_id,
        domain,
        method,
        product_id,
        csr: None,
        key_algorithm,
        alias,
        project_id,
        delete_dns_auto_record,
    })
}

/// Reads `AutoRenewFlag`, a certkeeper extension of ApplyCertificate: 1 renews the certificate
/// automatically before expiry where its validation needs no one, 0 (the default) does not.
pub(super) fn read_auto_renew(params: &Params) -> Result<bool, ApiError> {
    match params.optional_integer("AutoRenewFlag")? {
        None | Some(0) => Ok(false),
        Some(1) => Ok(true),
        Some(other) => Err(ApiError::invalid_parameter_value("AutoRenewFlag", format!("{other} is not a flag; use 0 or 1"))),
    }
}

async fn apply_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let request = read_apply_request(&ctx, &params)?;
    let auto_renew = read_auto_renew(&params)?;
    let old_id = params.optional_string("OldCertificateId")?.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
    let domain = request.domain.clone();
    let now = now_of(&services);
    let result = match &old_id {
        Some(old_id) => {
            services.visible_certificate(&ctx, old_id).await?;
            orders.renew(old_id, request, auto_renew, now).await
        }
        None => {
            let options = certkeeper_ra::OrderOptions { auto_renew, ..Default::default() };
            orders.apply_with(request, options, now).await
        }
    };
    let record = result.map_err(|error| order_failure(&ctx, &domain, error))?;
    if let Some(password) = params.optional_string("CsrKeyPassword")?.filter(|password| !password.is_empty()) {
        store_key_password(&services, &ctx, &record.id, &password).await;
    }
    Ok(json!({ "CertificateId": record.id }))
}

async fn complete_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    let record = services.visible_certificate(&ctx, &id).await?;
    if !matches!(record.status, CertificateStatus::Reviewing | CertificateStatus::DnsRecordAdded) {
        return Err(ApiError::new(
            FAILED_OPERATION_STATUS_NOT_ALLOW_VERIFY,
            format!(
                "certificate {id} is {} (status {}); only orders in status 0 or 4 are validated",
                record.status.name(),
                record.status.code()
            ),
        ));
    }
    orders.check_order(&id, now_of(&services)).await.map_err(|error| order_failure(&ctx, &id, error))?;
    Ok(json!({ "CertificateId": id }))
}

/// Builds one `DomainValidationResult` from a validation row.
fn validation_result(row: &ValidationRow, issued: bool) -> Value {
    let passed = row.state == VALIDATION_PASSED;
    let check_values: Vec<&str> = row.check_values.split('\n').filter(|value| !value.is_empty()).collect();
    json!({
        "Domain": row.domain,
        "VerifyType": row.method,
        "LocalCheck": row.local_check,
        "CaCheck": if passed { CA_CHECK_PASSED } else { CA_CHECK_NOT_PASSED },
        "LocalCheckFailReason": row.reason,
        "CheckValue": check_values,
        "Frequently": false,
        "Issued": issued,
    })
}

async fn check_domain_verification(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    services.visible_certificate(&ctx, &id).await?;
    let rows = orders.check_order(&id, now_of(&services)).await.map_err(|error| order_failure(&ctx, &id, error))?;
    let record = services.visible_certificate(&ctx, &id).await?;
    let issued = record.status == CertificateStatus::Issued;
    let results: Vec<Value> = rows.iter().map(|row| validation_result(row, issued)).collect();
    Ok(json!({ "VerificationResults": results }))
}

async fn cancel_certificate_order(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    services.visible_certificate(&ctx, &id).await?;
    let actor = format!("account:{}", ctx.account_id);
    match orders.cancel(&id, &actor, now_of(&services)).await {
        Ok(()) => Ok(json!({ "CertificateId": id })),
        Err(OrderError::WrongStatus { status, .. }) => Err(ApiError::new(
            FAILED_OPERATION_NOT_FOUND_OR_CANT_CANCEL,
            format!("certificate {id} is {} (status {}); only orders that are not issued can be cancelled", status.name(), status.code()),
        )),
        Err(error) => Err(order_failure(&ctx, &id, error)),
    }
}

/// Keeps CsrKeyPassword, sealed, as the password of the order's IIS and Tomcat keystores.
///
/// NOTE: this runs after the order is stored, in its own transaction. When it fails, the error
/// is logged and the order is kept. Its keystores then get a random password, which the
/// download writes into `keystorePass.txt` as usual.
async fn store_key_password(services: &Services, ctx: &RequestContext, id: &str, password: &str) {
    let context = certkeeper_ra::hosting::key_password_context(id);
    let stored = match services.master_key.seal(&context, password.as_bytes()) {
        Ok(sealed) => services.store.set_key_password(id, &sealed).await.map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = stored {
        tracing::error!(request_id = %ctx.request_id, certificate_id = %id, %error, "storing CsrKeyPassword failed; keystores get a random password");
    }
}
