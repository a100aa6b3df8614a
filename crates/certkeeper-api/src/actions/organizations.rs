//! Organisation profiles: DescribeCompanies, DescribeManagers, DescribeManagerDetail,
//! SubmitAuditManager, VerifyManager and DeleteManager.
//!
//! SubmitAuditManager also records profiles, as a certkeeper extension. Without `ManagerId` it
//! takes the manager's fields (`ManagerFirstName`, `ManagerLastName`, `ManagerPosition`,
//! `ManagerDepartment`, `ManagerPhone`, `ManagerMail`) and either `CompanyId` or a new
//! organisation (`CompanyName`, `CompanyCountry`, `CompanyProvince`, `CompanyCity`,
//! `CompanyAddress`, `CompanyPhone`, and for EV `CompanyBusinessCategory`,
//! `CompanyJurisdictionCountry` and `CompanyIdNumber`). A reviewer decides with
//! `certkeeper review managers`.

use std::sync::Arc;

use certkeeper_ra::{CompanyChoice, OrderError, PaidError};
use certkeeper_store::{CompanyRow, MANAGER_OK, ManagerRow, NewCompany, NewManager};
use serde_json::{Value, json};

use super::format::{api_time, optional_time};
use super::orders::{now_of, order_failure, order_service};
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::RequestContext;
use crate::error::{ApiError, codes};
use crate::params::Params;

/// No manager with the given id is visible to the caller.
pub const RESOURCE_NOT_FOUND_MANAGER: &str = "ResourceNotFound.Manager";
/// The manager's status does not allow the operation.
pub const FAILED_OPERATION_ILLEGAL_MANAGER_STATUS: &str = "FailedOperation.IllegalManagerStatus";
/// Certificates name the manager, so it cannot be deleted.
pub const FAILED_OPERATION_MANAGER_CANNOT_DELETE_CERT: &str = "FailedOperation.ManagerCanNotDeleteCert";

/// A verified manager is shown as `expiring` this many seconds before its verification ends.
const EXPIRING_SECONDS: i64 = 30 * 24 * 3600;
const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 1000;

const SUBMIT_AUDIT_MANAGER: &[&str] = &[
    "ManagerId",
    "CompanyId",
    "CompanyName",
    "CompanyCountry",
    "CompanyProvince",
    "CompanyCity",
    "CompanyAddress",
    "CompanyPhone",
    "CompanyBusinessCategory",
    "CompanyJurisdictionCountry",
    "CompanyIdNumber",
    "ManagerFirstName",
    "ManagerLastName",
    "ManagerPosition",
    "ManagerDepartment",
    "ManagerPhone",
    "ManagerMail",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("DescribeCompanies", &["Offset", "Limit", "CompanyId"], describe_companies);
    registry.register(
        "DescribeManagers",
        &["CompanyId", "Offset", "Limit", "ManagerName", "ManagerMail", "Status", "SearchKey"],
        describe_managers,
    );
    registry.register("DescribeManagerDetail", &["ManagerId", "Limit", "Offset"], describe_manager_detail);
    registry.register("SubmitAuditManager", SUBMIT_AUDIT_MANAGER, submit_audit_manager);
    registry.register("VerifyManager", &["ManagerId"], verify_manager);
    registry.register("DeleteManager", &["ManagerId"], delete_manager);
}

/// Maps a failure of the paid flow or of profiles to the API error a client can act on.
pub(super) fn paid_failure(ctx: &RequestContext, subject: &str, error: PaidError) -> ApiError {
    match error {
        PaidError::Missing { field, .. } => ApiError::new(codes::MISSING_PARAMETER, format!("missing required parameter {field}: {error}")),
        PaidError::Invalid { field, .. } => ApiError::invalid_parameter_value(field, &error),
        PaidError::DomainCount { .. } => ApiError::new("InvalidParameter.DomainCountInvalid", error.to_string()),
        PaidError::CsrContradicts { .. } => ApiError::invalid_parameter_value("Csr", &error),
        PaidError::ManagerNotFound { .. } | PaidError::CompanyNotFound { .. } => ApiError::new(RESOURCE_NOT_FOUND_MANAGER, error.to_string()),
        PaidError::ManagerStatus { .. } => ApiError::new(FAILED_OPERATION_ILLEGAL_MANAGER_STATUS, error.to_string()),
        PaidError::ManagerInUse { .. } => ApiError::new(FAILED_OPERATION_MANAGER_CANNOT_DELETE_CERT, error.to_string()),
        PaidError::LetterNotNeeded { .. } => ApiError::new("FailedOperation.UploadConfirmCertificateNotSupport", error.to_string()),
        PaidError::LetterSize { size } if size < *certkeeper_ra::paid::LETTER_SIZE.start() => {
            ApiError::new("FailedOperation.ConfirmLetterTooSmall", error.to_string())
        }
        PaidError::LetterSize { .. } => ApiError::new("FailedOperation.ConfirmLetterTooLarge", error.to_string()),
        PaidError::LetterType => ApiError::new("FailedOperation.InvalidConfirmLetterFormat", error.to_string()),
        PaidError::NotPaid { .. } | PaidError::NotSubmitted { .. } | PaidError::LetterMissing { .. } => {
            ApiError::new(super::revoke::FAILED_OPERATION_INVALID_STATUS, error.to_string())
        }
        PaidError::Order(OrderError::Csr(source)) => ApiError::invalid_parameter_value("Csr", source),
        PaidError::Order(OrderError::Product(source)) => ApiError::invalid_parameter_value("CsrEncryptAlgo", source),
        PaidError::Order(inner) => order_failure(ctx, subject, inner),
        other => {
            tracing::error!(request_id = %ctx.request_id, action = %ctx.action, subject, error = %other, "paid order operation failed; returned InternalError");
            ApiError::internal()
        }
    }
}

/// Returns the API's manager status: `audit`, `ok`, `expiring`, `expired` or `invalid`.
fn manager_status(manager: &ManagerRow, now: i64) -> &'static str {
    match manager.status.as_str() {
        MANAGER_OK => match manager.expires_at {
            Some(expires_at) if expires_at <= now => "expired",
            Some(expires_at) if expires_at - now <= EXPIRING_SECONDS => "expiring",
            _ => "ok",
        },
        "audit" => "audit",
        _ => "invalid",
    }
}

fn company_json(company: &CompanyRow) -> Value {
    json!({
        "CompanyId": company.id,
        "CompanyName": company.name,
        "CompanyCountry": company.country,
        "CompanyProvince": company.province,
        "CompanyCity": company.city,
        "CompanyAddress": company.address,
        "CompanyPhone": company.phone,
        "IdType": if company.registration_number.is_empty() { Value::Null } else { json!("REGISTRATION") },
        "IdNumber": if company.registration_number.is_empty() { Value::Null } else { json!(company.registration_number) },
        "BusinessCategory": company.business_category,
        "JurisdictionCountry": company.jurisdiction_country,
        "Tags": [],
    })
}

fn manager_json(manager: &ManagerRow, certificates: i64, now: i64) -> Value {
    json!({
        "ManagerId": manager.id,
        "CompanyId": manager.company_id,
        "Status": manager_status(manager, now),
        "StatusInfo": manager.status_info,
        "ManagerFirstName": manager.first_name,
        "ManagerLastName": manager.last_name,
        "ManagerPosition": manager.position,
        "ManagerDepartment": manager.department,
        "ManagerPhone": manager.phone,
        "ManagerMail": manager.email,
        "CreateTime": api_time(manager.created_at),
        "SubmitAuditTime": api_time(manager.submitted_at),
        "VerifyTime": optional_time(manager.verified_at),
        "ExpireTime": optional_time(manager.expires_at),
        "CertCount": certificates,
        "DomainCount": 0,
        "Tags": [],
    })
}

fn page(params: &Params) -> Result<(i64, i64), ApiError> {
    let offset = params.optional_unsigned("Offset")?.unwrap_or(0);
    let limit = params.optional_unsigned("Limit")?.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    Ok((i64::try_from(offset).unwrap_or(i64::MAX), limit as i64))
}

fn read_id(params: &Params, name: &str) -> Result<i64, ApiError> {
    let id = params.required_integer(name)?;
    if id <= 0 {
        return Err(ApiError::invalid_parameter_value(name, format!("{id} is not an id; give a positive integer")));
    }
    Ok(id)
}

async fn describe_companies(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let (offset, limit) = page(&params)?;
    let company_id = params.optional_integer("CompanyId")?.filter(|id| *id > 0);
    let (rows, total) = services.store.companies(account_scope(&ctx), company_id, offset, limit).await.map_err(|error| store_failure(&ctx, &error))?;
    let companies: Vec<Value> = rows.iter().map(company_json).collect();
    Ok(json!({ "Companies": companies, "TotalCount": total }))
}

/// Returns a manager visible to the caller, or `ResourceNotFound.Manager`.
async fn visible_manager(services: &Services, ctx: &RequestContext, id: i64) -> Result<(ManagerRow, CompanyRow), ApiError> {
    let orders = order_service(services)?;
    orders.manager_with_company(id, account_scope(ctx)).await.map_err(|error| paid_failure(ctx, &id.to_string(), error))
}

async fn describe_managers(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let company_id = read_id(&params, "CompanyId")?;
    let (offset, limit) = page(&params)?;
    let (companies, _) = services.store.companies(account_scope(&ctx), Some(company_id), 0, 1).await.map_err(|error| store_failure(&ctx, &error))?;
    if companies.is_empty() {
        return Err(ApiError::new(RESOURCE_NOT_FOUND_MANAGER, format!("organisation {company_id} not found")));
    }
    let name = params.optional_string("ManagerName")?.map(|text| text.to_lowercase());
    let mail = params.optional_string("ManagerMail")?.map(|text| text.to_lowercase());
    let status = params.optional_string("Status")?;
    let search = params.optional_string("SearchKey")?.map(|text| text.to_lowercase());
    let now = services.now();
    let rows = services.store.managers(company_id).await.map_err(|error| store_failure(&ctx, &error))?;
    let matching: Vec<&ManagerRow> = rows
        .iter()
        .filter(|row| {
            let full_name = format!("{} {}", row.first_name, row.last_name).to_lowercase();
            name.as_ref().is_none_or(|name| full_name.contains(name.as_str()))
                && mail.as_ref().is_none_or(|mail| row.email.to_lowercase().contains(mail.as_str()))
                && status.as_ref().is_none_or(|status| manager_status(row, now) == status.as_str())
                && search.as_ref().is_none_or(|key| full_name.contains(key.as_str()) || row.email.to_lowercase().contains(key.as_str()))
        })
        .collect();
    let mut managers = Vec::new();
    for row in matching.iter().skip(offset as usize).take(limit as usize) {
        let count = services.store.certificates_of_manager(row.id).await.map_err(|error| store_failure(&ctx, &error))?;
        managers.push(manager_json(row, count, now));
    }
    Ok(json!({ "Managers": managers, "TotalCount": matching.len() }))
}

async fn describe_manager_detail(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = read_id(&params, "ManagerId")?;
    page(&params)?;
    let (manager, company) = visible_manager(&services, &ctx, id).await?;
    let count = services.store.certificates_of_manager(id).await.map_err(|error| store_failure(&ctx, &error))?;
    let mut detail = manager_json(&manager, count, services.now());
    if let Value::Object(fields) = &mut detail {
        fields.insert("ContactFirstName".into(), json!(manager.first_name));
        fields.insert("ContactLastName".into(), json!(manager.last_name));
        fields.insert("ContactPosition".into(), json!(manager.position));
        fields.insert("ContactPhone".into(), json!(manager.phone));
        fields.insert("ContactMail".into(), json!(manager.email));
        fields.insert("CompanyInfo".into(), company_json(&company));
    }
    Ok(detail)
}

fn text(params: &Params, name: &str) -> Result<String, ApiError> {
    Ok(params.optional_string(name)?.map(|value| value.trim().to_owned()).unwrap_or_default())
}

async fn submit_audit_manager(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let now = now_of(&services);
    if let Some(id) = params.optional_integer("ManagerId")?.filter(|id| *id > 0) {
        let (manager, _) = visible_manager(&services, &ctx, id).await?;
        orders.resubmit_manager(id, now).await.map_err(|error| paid_failure(&ctx, &id.to_string(), error))?;
        return Ok(json!({ "ManagerId": id, "CompanyId": manager.company_id }));
    }
    let manager = NewManager {
        first_name: text(&params, "ManagerFirstName")?,
        last_name: text(&params, "ManagerLastName")?,
        position: text(&params, "ManagerPosition")?,
        department: text(&params, "ManagerDepartment")?,
        phone: text(&params, "ManagerPhone")?,
        email: text(&params, "ManagerMail")?,
    };
    let company = match params.optional_integer("CompanyId")?.filter(|id| *id > 0) {
        Some(id) => CompanyChoice::Existing(id),
        None => CompanyChoice::New(Box::new(NewCompany {
            account_id: ctx.account_id,
            name: text(&params, "CompanyName")?,
            country: text(&params, "CompanyCountry")?.to_ascii_uppercase(),
            province: text(&params, "CompanyProvince")?,
            city: text(&params, "CompanyCity")?,
            address: text(&params, "CompanyAddress")?,
            phone: text(&params, "CompanyPhone")?,
            business_category: text(&params, "CompanyBusinessCategory")?,
            jurisdiction_country: text(&params, "CompanyJurisdictionCountry")?.to_ascii_uppercase(),
            registration_number: text(&params, "CompanyIdNumber")?,
        })),
    };
    let (company_id, manager_id) =
        orders.submit_manager(ctx.account_id, company, &manager, now).await.map_err(|error| paid_failure(&ctx, "manager", error))?;
    Ok(json!({ "ManagerId": manager_id, "CompanyId": company_id }))
}

async fn verify_manager(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = read_id(&params, "ManagerId")?;
    visible_manager(&services, &ctx, id).await?;
    orders.resubmit_manager(id, now_of(&services)).await.map_err(|error| paid_failure(&ctx, &id.to_string(), error))?;
    Ok(json!({ "ManagerId": id }))
}

async fn delete_manager(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = read_id(&params, "ManagerId")?;
    visible_manager(&services, &ctx, id).await?;
    orders.delete_manager(id, now_of(&services)).await.map_err(|error| paid_failure(&ctx, &id.to_string(), error))?;
    Ok(json!({ "ManagerId": id }))
}
