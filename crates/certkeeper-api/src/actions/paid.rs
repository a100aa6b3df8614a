//! The paid order flow: DescribeProducts, CreateCertificate, CertificateInfoSubmit with
//! CertificateOrderSubmit, SubmitCertificateInformation with CommitCertificateInformation,
//! UploadConfirmLetter, CancelAuditCertificate and ModifyCertificateResubmit.
//!
//! DescribeProducts is a certkeeper extension that lists the catalogue: `Products`
//! [{`ProductId`, `Name`, `ValidationLevel`, `KeyAlgorithms`, `ValidityDays`,
//! `RevocationPolicy`, `Free`, `Issuable`}] and `TotalCount`. CreateCertificate orders
//! without payment. An OV or EV order names a manager with `ManagerId`, or gives the
//! organisation (`Org*` or `Organization*`) and administrator (`Admin*`) fields. Those are
//! matched against the account's profiles, so a profile with the same details is reused.
//! Otherwise a new profile waits for a reviewer.

use std::sync::Arc;

use base64::Engine;
use certkeeper_core::{CertificateStatus, KeyAlgorithm, ValidationLevel, ValidationMethod};
use certkeeper_ra::{OrderInformation, PaidError, PaidKey};
use certkeeper_store::{NewCompany, NewManager};
use serde_json::{Value, json};

use super::organizations::paid_failure;
use super::orders::{now_of, order_service, read_auto_renew, read_method};
use super::{ActionRegistry, Services};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

/// A failed or cancelled order is the only kind that can be resubmitted.
pub const FAILED_OPERATION_STATUS_NOT_ALLOW_RESUBMIT: &str = "FailedOperation.CertificateStatusNotAllowResubmit";

const CERTIFICATE_INFO_SUBMIT: &[&str] = &[
    "CertId", "GenCsrType", "CertCommonName", "CompanyType", "CompanyId", "OrgIdType", "OrgIdNumber", "AdminIdType",
    "AdminIdNumber", "TechIdType", "TechIdNumber", "Csr", "DnsNames", "KeyPass", "OrgOrganization", "OrgDivision",
    "OrgAddress", "OrgCountry", "OrgCity", "OrgRegion", "OrgPhoneArea", "OrgPhoneNumber", "VerifyType", "AdminFirstName",
    "AdminLastName", "AdminPhone", "AdminEmail", "AdminTitle", "TechFirstName", "TechLastName", "TechPhone", "TechEmail",
    "TechTitle", "ContactEmail", "AutoRenewFlag", "CsrKeyParameter", "CsrEncryptAlgo", "ManagerId", "TechTelephone",
    "AdminTelephone", "TechPostCode", "Type", "CaType", "SignAlgo", "UseCrossSignRoot",
];

const SUBMIT_CERTIFICATE_INFORMATION: &[&str] = &[
    "CertificateId", "CsrType", "CsrContent", "CertificateDomain", "DomainList", "KeyPassword", "OrganizationName",
    "OrganizationDivision", "OrganizationAddress", "OrganizationCountry", "OrganizationCity", "OrganizationRegion",
    "PostalCode", "PhoneAreaCode", "PhoneNumber", "VerifyType", "AdminFirstName", "AdminLastName", "AdminPhoneNum",
    "AdminEmail", "AdminPosition", "ContactFirstName", "ContactLastName", "ContactEmail", "ContactNumber",
    "ContactPosition", "IsDV", "ManagerId",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("DescribeProducts", &[], describe_products);
    registry.register("CreateCertificate", &["ProductId", "DomainNum", "TimeSpan", "AutoVoucher", "Tags", "OldCertificateId"], create_certificate);
    registry.register("CertificateInfoSubmit", CERTIFICATE_INFO_SUBMIT, certificate_info_submit);
    registry.register("CertificateOrderSubmit", &["CertId", "DeleteDnsAutoRecord", "VerifyType"], certificate_order_submit);
    registry.register("SubmitCertificateInformation", SUBMIT_CERTIFICATE_INFORMATION, submit_certificate_information);
    registry.register("CommitCertificateInformation", &["CertificateId", "VerifyType"], commit_certificate_information);
    registry.register("UploadConfirmLetter", &["CertificateId", "ConfirmLetter"], upload_confirm_letter);
    registry.register("CancelAuditCertificate", &["CertificateId"], cancel_audit_certificate);
    registry.register("ModifyCertificateResubmit", &["CertificateId"], modify_certificate_resubmit);
}

fn actor(ctx: &RequestContext) -> String {
    format!("account:{}", ctx.account_id)
}

fn text(params: &Params, name: &str) -> Result<String, ApiError> {
    Ok(params.optional_string(name)?.map(|value| value.trim().to_owned()).unwrap_or_default())
}

async fn describe_products(services: Arc<Services>, _ctx: RequestContext, _params: Params) -> Result<Value, ApiError> {
    let products: Vec<Value> = services
        .catalogue
        .products()
        .iter()
        .map(|product| {
            let algorithms: Vec<&str> = product.key_algorithms.iter().map(|algorithm| algorithm.name()).collect();
            json!({
                "ProductId": product.id,
                "Name": product.name,
                "ValidationLevel": product.level.as_str(),
                "KeyAlgorithms": algorithms,
                "ValidityDays": product.validity_days,
                "RevocationPolicy": product.revocation_policy.as_str(),
                "Free": product.free,
                "Issuable": !product.is_shangmi(),
            })
        })
        .collect();
    Ok(json!({ "TotalCount": products.len(), "Products": products }))
}

async fn create_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let product_id = params.required_integer("ProductId")?;
    let product_id = u32::try_from(product_id)
        .map_err(|_| ApiError::invalid_parameter_value("ProductId", format!("{product_id} is not a product id; list them with DescribeProducts")))?;
    let product = services
        .catalogue
        .get(product_id)
        .map_err(|error| ApiError::invalid_parameter_value("ProductId", format!("{error}; list them with DescribeProducts")))?;
    if product.free {
        return Err(ApiError::invalid_parameter_value("ProductId", format!("product {product_id} is free; order it with ApplyCertificate")));
    }
    if product.is_shangmi() {
        return Err(ApiError::invalid_parameter_value("ProductId", format!("product {product_id} issues SM2 certificates, which certkeeper cannot issue yet")));
    }
    let domain_count = params.required_integer("DomainNum")?;
    let max_domains = certkeeper_ra::paid::MAX_ORDER_DOMAINS;
    let domain_count = u32::try_from(domain_count).ok().filter(|count| (1..=max_domains).contains(count)).ok_or_else(|| {
        ApiError::new(
            "InvalidParameter.DomainCountInvalid",
            format!("DomainNum {domain_count} is out of range; give 1 to {max_domains} domains"),
        )
    })?;
    let years = params.required_integer("TimeSpan")?;
    let years = u32::try_from(years).ok().filter(|years| (1..=5).contains(years));
    let years = years.ok_or_else(|| ApiError::invalid_parameter_value("TimeSpan", "give 1 to 5 years"))?;
    // NOTE: certkeeper takes no payment, so vouchers and tags are accepted and ignored.
    params.optional_integer("AutoVoucher")?;
    let old_id = params.optional_string("OldCertificateId")?.map(|id| id.trim().to_owned()).filter(|id| !id.is_empty());
    if let Some(old_id) = &old_id {
        services.visible_certificate(&ctx, old_id).await?;
    }
    let record = orders
        .create_paid(ctx.account_id, product_id, domain_count, years, old_id.as_deref(), now_of(&services))
        .await
        .map_err(|error| paid_failure(&ctx, "CreateCertificate", error))?;
    Ok(json!({ "CertificateIds": [record.id], "DealIds": [record.id], "ResourceIds": [record.id] }))
}

/// Reads the key of a submission: `online` with the key parameters, or `parse` with a CSR.
fn read_paid_key(csr_type: &str, csr: Option<String>, family: Option<String>, parameter: Option<String>, type_name: &str) -> Result<PaidKey, ApiError> {
    match csr_type.to_ascii_lowercase().as_str() {
        "parse" => {
            let csr = csr.filter(|text| !text.trim().is_empty()).ok_or_else(|| ApiError::missing_parameter(if type_name == "GenCsrType" { "Csr" } else { "CsrContent" }))?;
            Ok(PaidKey::Parse(csr.into_bytes()))
        }
        "online" | "" => {
            let family = family.map(|text| text.trim().to_ascii_uppercase()).unwrap_or_default();
            let parameter = parameter.map(|text| text.trim().to_ascii_lowercase()).unwrap_or_default();
            let algorithm = match (family.as_str(), parameter.as_str()) {
                ("" | "RSA", "" | "2048") => KeyAlgorithm::Rsa2048,
                ("RSA", "3072") => KeyAlgorithm::Rsa3072,
                ("RSA", "4096") => KeyAlgorithm::Rsa4096,
                ("ECC", "" | "prime256v1" | "secp256r1") => KeyAlgorithm::EcdsaP256,
                ("ECC", "secp384r1") => KeyAlgorithm::EcdsaP384,
                ("RSA" | "ECC", other) => {
                    return Err(ApiError::invalid_parameter_value("CsrKeyParameter", format!("{other:?} is not offered; use 2048, 3072 or 4096 for RSA and prime256v1 or secp384r1 for ECC")));
                }
                (other, _) => return Err(ApiError::invalid_parameter_value("CsrEncryptAlgo", format!("unknown algorithm {other:?}; use RSA or ECC"))),
            };
            Ok(PaidKey::Online(algorithm))
        }
        other => Err(ApiError::invalid_parameter_value(type_name, format!("unknown CSR type {other:?}; use online or parse"))),
    }
}

fn read_verify_type(params: &Params) -> Result<ValidationMethod, ApiError> {
    if params.optional_string("VerifyType")?.is_none_or(|text| text.trim().is_empty()) {
        return Ok(ValidationMethod::Dns);
    }
    read_method(params, "VerifyType")
}

/// Resolves the manager of an OV or EV submission: `ManagerId`, or the organisation and
/// administrator fields matched against the account's profiles. `None` for DV products.
async fn resolve_manager(services: &Services, ctx: &RequestContext, certificate_id: &str, company: NewCompany, manager: NewManager, manager_id: Option<i64>) -> Result<Option<i64>, ApiError> {
    let record = services.visible_certificate(ctx, certificate_id).await?;
    let level = services.catalogue.get(record.product_id).map(|product| product.level).unwrap_or(ValidationLevel::Dv);
    if level == ValidationLevel::Dv {
        return Ok(None);
    }
    if let Some(id) = manager_id.filter(|id| *id > 0) {
        return Ok(Some(id));
    }
    let orders = order_service(services)?;
    let id = orders.find_or_submit_manager(company, &manager, now_of(services)).await.map_err(|error| paid_failure(ctx, certificate_id, error))?;
    Ok(Some(id))
}

async fn submit_information(services: &Services, ctx: &RequestContext, id: &str, info: OrderInformation) -> Result<(), ApiError> {
    let orders = order_service(services)?;
    services.visible_certificate(ctx, id).await?;
    orders.submit_information(id, &info, now_of(services)).await.map_err(|error| paid_failure(ctx, id, error))?;
    Ok(())
}

async fn certificate_info_submit(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertId")?;
    let csr_type = params.required_string("GenCsrType")?;
    let common_name = params.required_string("CertCommonName")?;
    let company_type = params.required_integer("CompanyType")?;
    params.required_string("CompanyId")?;
    let key = read_paid_key(&csr_type, params.optional_string("Csr")?, params.optional_string("CsrEncryptAlgo")?, params.optional_string("CsrKeyParameter")?, "GenCsrType")?;
    let method = read_verify_type(&params)?;
    let auto_renew = read_auto_renew(&params)?;
    let dns_names = params.optional_string_array("DnsNames")?.unwrap_or_default();
    let record = services.visible_certificate(&ctx, &id).await?;
    let level = services.catalogue.get(record.product_id).map(|product| product.level).unwrap_or(ValidationLevel::Dv);
    if level != ValidationLevel::Dv && company_type != 2 {
        return Err(ApiError::invalid_parameter_value("CompanyType", format!("{company_type} is not allowed for {} products; give 2 (company)", level.as_str())));
    }
    let contact_email = text(&params, "ContactEmail")?;
    if level != ValidationLevel::Dv && contact_email.is_empty() {
        return Err(ApiError::missing_parameter("ContactEmail"));
    }
    let company = NewCompany {
        account_id: record.account_id.unwrap_or(ctx.account_id),
        name: text(&params, "OrgOrganization")?,
        country: text(&params, "OrgCountry")?.to_ascii_uppercase(),
        province: text(&params, "OrgRegion")?,
        city: text(&params, "OrgCity")?,
        address: text(&params, "OrgAddress")?,
        phone: format!("{}{}", text(&params, "OrgPhoneArea")?, text(&params, "OrgPhoneNumber")?),
        ..NewCompany::default()
    };
    let manager = NewManager {
        first_name: text(&params, "AdminFirstName")?,
        last_name: text(&params, "AdminLastName")?,
        position: text(&params, "AdminTitle")?,
        department: text(&params, "OrgDivision")?,
        phone: text(&params, "AdminPhone")?,
        email: text(&params, "AdminEmail")?,
    };
    let data = json!({
        "CsrType": csr_type.to_ascii_lowercase(),
        "CsrContent": params.optional_string("Csr")?,
        "CertificateDomain": common_name,
        "DomainList": dns_names,
        "KeyPassword": Value::Null,
        "Organization": {
            "Name": company.name, "Division": manager.department, "Address": company.address,
            "Country": company.country, "City": company.city, "Region": company.province,
        },
        "PostalCode": params.optional_string("TechPostCode")?,
        "PhoneAreaCode": params.optional_string("OrgPhoneArea")?,
        "PhoneNumber": params.optional_string("OrgPhoneNumber")?,
        "Admin": {
            "FirstName": manager.first_name, "LastName": manager.last_name, "PhoneNum": manager.phone,
            "Email": manager.email, "Position": manager.position,
        },
        "Contact": {
            "FirstName": params.optional_string("TechFirstName")?, "LastName": params.optional_string("TechLastName")?,
            "Number": params.optional_string("TechPhone")?, "Email": contact_email, "Position": params.optional_string("TechTitle")?,
        },
        "VerifyType": method.as_str(),
    });
    let manager_id = resolve_manager(&services, &ctx, &id, company, manager, params.optional_integer("ManagerId")?).await?;
    let info = OrderInformation { actor: actor(&ctx), key, common_name, dns_names, manager_id, method, auto_renew, data: data.to_string() };
    submit_information(&services, &ctx, &id, info).await?;
    Ok(json!({}))
}

async fn order_submit(services: &Services, ctx: &RequestContext, id: &str, delete_dns_auto_record: Option<bool>) -> Result<Value, ApiError> {
    let orders = order_service(services)?;
    services.visible_certificate(ctx, id).await?;
    let record = orders
        .submit_order_with(id, &actor(ctx), delete_dns_auto_record, now_of(services))
        .await
        .map_err(|error| paid_failure(ctx, id, error))?;
    let audited = record.status_message != certkeeper_ra::paid::PRE_REVIEWING;
    Ok(json!({ "OrderId": record.id, "Status": u64::from(record.status.code()), "IsAudited": audited }))
}

async fn certificate_order_submit(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertId")?;
    check_verify_type(&services, &ctx, &id, &params).await?;
    // The SDK sends 0 or 1; GET requests and other clients may send true or false.
    let delete_dns_auto_record = match params.optional_integer("DeleteDnsAutoRecord") {
        Ok(value) => value.map(|value| value != 0),
        Err(_) => params.optional_bool("DeleteDnsAutoRecord")?,
    };
    order_submit(&services, &ctx, &id, delete_dns_auto_record).await
}

/// Rejects a `VerifyType` that differs from the submitted information's method.
async fn check_verify_type(services: &Services, ctx: &RequestContext, id: &str, params: &Params) -> Result<(), ApiError> {
    let record = services.visible_certificate(ctx, id).await?;
    if params.optional_string("VerifyType")?.is_some_and(|text| !text.trim().is_empty()) {
        let method = read_method(params, "VerifyType")?;
        if method != record.validation_method {
            return Err(ApiError::invalid_parameter_value(
                "VerifyType",
                format!("{method} differs from the submitted {}; change it with CertificateInfoSubmit", record.validation_method),
            ));
        }
    }
    Ok(())
}

async fn submit_certificate_information(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    let csr_type = text(&params, "CsrType")?;
    let key = read_paid_key(&csr_type, params.optional_string("CsrContent")?, None, None, "CsrType")?;
    let common_name = params.optional_string("CertificateDomain")?.unwrap_or_default();
    let dns_names = params.optional_string_array("DomainList")?.unwrap_or_default();
    let method = read_verify_type(&params)?;
    params.optional_bool("IsDV")?;
    let record = services.visible_certificate(&ctx, &id).await?;
    let company = NewCompany {
        account_id: record.account_id.unwrap_or(ctx.account_id),
        name: text(&params, "OrganizationName")?,
        country: text(&params, "OrganizationCountry")?.to_ascii_uppercase(),
        province: text(&params, "OrganizationRegion")?,
        city: text(&params, "OrganizationCity")?,
        address: text(&params, "OrganizationAddress")?,
        phone: format!("{}{}", text(&params, "PhoneAreaCode")?, text(&params, "PhoneNumber")?),
        ..NewCompany::default()
    };
    let manager = NewManager {
        first_name: text(&params, "AdminFirstName")?,
        last_name: text(&params, "AdminLastName")?,
        position: text(&params, "AdminPosition")?,
        department: text(&params, "OrganizationDivision")?,
        phone: text(&params, "AdminPhoneNum")?,
        email: text(&params, "AdminEmail")?,
    };
    let level = services.catalogue.get(record.product_id).map(|product| product.level).unwrap_or(ValidationLevel::Dv);
    if level != ValidationLevel::Dv && text(&params, "ContactEmail")?.is_empty() {
        return Err(ApiError::missing_parameter("ContactEmail"));
    }
    let data = json!({
        "CsrType": if csr_type.is_empty() { "online".to_owned() } else { csr_type.to_ascii_lowercase() },
        "CsrContent": params.optional_string("CsrContent")?,
        "CertificateDomain": common_name,
        "DomainList": dns_names,
        "KeyPassword": Value::Null,
        "Organization": {
            "Name": company.name, "Division": manager.department, "Address": company.address,
            "Country": company.country, "City": company.city, "Region": company.province,
        },
        "PostalCode": params.optional_string("PostalCode")?,
        "PhoneAreaCode": params.optional_string("PhoneAreaCode")?,
        "PhoneNumber": params.optional_string("PhoneNumber")?,
        "Admin": {
            "FirstName": manager.first_name, "LastName": manager.last_name, "PhoneNum": manager.phone,
            "Email": manager.email, "Position": manager.position,
        },
        "Contact": {
            "FirstName": params.optional_string("ContactFirstName")?, "LastName": params.optional_string("ContactLastName")?,
            "Number": params.optional_string("ContactNumber")?, "Email": params.optional_string("ContactEmail")?,
            "Position": params.optional_string("ContactPosition")?,
        },
        "VerifyType": method.as_str(),
    });
    let manager_id = resolve_manager(&services, &ctx, &id, company, manager, params.optional_integer("ManagerId")?).await?;
    let info = OrderInformation { actor: actor(&ctx), key, common_name, dns_names, manager_id, method, auto_renew: false, data: data.to_string() };
    submit_information(&services, &ctx, &id, info).await?;
    Ok(json!({ "CertificateId": id }))
}

async fn commit_certificate_information(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    check_verify_type(&services, &ctx, &id, &params).await?;
    let result = order_submit(&services, &ctx, &id, None).await?;
    Ok(json!({ "OrderId": result["OrderId"], "Status": result["Status"] }))
}

async fn upload_confirm_letter(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    let encoded = params.required_string("ConfirmLetter")?;
    let letter = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|error| ApiError::invalid_parameter_value("ConfirmLetter", format!("not base64: {error}; send the file in standard base64")))?;
    services.visible_certificate(&ctx, &id).await?;
    orders.upload_letter(&id, &letter, &actor(&ctx), now_of(&services)).await.map_err(|error| paid_failure(&ctx, &id, error))?;
    Ok(json!({ "CertificateId": id, "IsSuccess": true }))
}

async fn cancel_audit_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    services.visible_certificate(&ctx, &id).await?;
    match orders.cancel_audit(&id, &actor(&ctx), now_of(&services)).await {
        Ok(()) => Ok(json!({ "Result": true })),
        Err(PaidError::Order(certkeeper_ra::OrderError::WrongStatus { status, .. })) => Err(ApiError::new(
            "FailedOperation.CancelAuditCertificateFailed",
            format!("certificate {id} is {status} (status {}); only a submitted order that is not issued (status 0, 4 or 8) has a review to cancel", status.code()),
        )),
        Err(error) => Err(paid_failure(&ctx, &id, error)),
    }
}

async fn modify_certificate_resubmit(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let orders = order_service(&services)?;
    let id = params.required_string("CertificateId")?;
    let record = services.visible_certificate(&ctx, &id).await?;
    if !matches!(record.status, CertificateStatus::ReviewFailed | CertificateStatus::Cancelled) {
        return Err(ApiError::new(
            FAILED_OPERATION_STATUS_NOT_ALLOW_RESUBMIT,
            format!("certificate {id} is {} (status {}); only failed or cancelled orders (status 2 or 7) can be resubmitted", record.status, record.status.code()),
        ));
    }
    orders.resubmit(&id, &actor(&ctx), now_of(&services)).await.map_err(|error| paid_failure(&ctx, &id, error))?;
    Ok(json!({ "CertificateId": id }))
}
