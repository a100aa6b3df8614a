//! DescribeCertificates, DescribeCertificate and DescribeCertificateDetail.

use std::sync::Arc;

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, Product};
use certkeeper_store::{CertificateFilter, CertificateOrder, IssuerRow, ValidationRow, Window};
use serde_json::{Value, json};

use super::format::{self, EXPIRING_WINDOW_SECONDS, api_time};
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

/// Default page size of DescribeCertificates.
const DEFAULT_LIMIT: u64 = 10;
/// Largest page of DescribeCertificates; larger requests are clamped to it.
const MAX_LIMIT: u64 = 1000;

const DESCRIBE_CERTIFICATES: &[&str] = &[
    "Offset",
    "Limit",
    "SearchKey",
    "CertificateType",
    "ProjectId",
    "ExpirationSort",
    "CertificateStatus",
    "Deployable",
    "Upload",
    "Renew",
    "FilterSource",
    "IsSM",
    "FilterExpiring",
    "Hostable",
    "Tags",
    "IsPendingIssue",
    "CertIds",
    "ServiceId",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("DescribeCertificates", DESCRIBE_CERTIFICATES, describe_certificates);
    registry.register("DescribeCertificate", &["CertificateId"], describe_certificate);
    registry.register("DescribeCertificateDetail", &["CertificateId"], describe_certificate_detail);
}

/// Reads an `Int64` flag where 1 turns a filter on and any other value leaves it off.
fn flag(params: &Params, name: &str) -> Result<bool, ApiError> {
    Ok(params.optional_integer(name)? == Some(1))
}

/// Reads a `UInt64` that must be 0 or 1.
fn optional_binary(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match params.optional_unsigned(name)? {
        None => Ok(None),
        Some(0) => Ok(Some(false)),
        Some(1) => Ok(Some(true)),
        Some(other) => Err(ApiError::invalid_parameter_value(name, format!("expected 0 or 1, got {other}"))),
    }
}

/// Builds the listing filter and order from the DescribeCertificates parameters.
fn read_filter(params: &Params, ctx: &RequestContext, now: i64) -> Result<(CertificateFilter, CertificateOrder), ApiError> {
    let mut filter = CertificateFilter { account_id: account_scope(ctx), ..CertificateFilter::default() };
    filter.search = params.optional_string("SearchKey")?.map(|key| key.trim().to_owned()).filter(|key| !key.is_empty());
    filter.project_id = params.optional_unsigned("ProjectId")?;

    match params.optional_string("CertificateType")?.map(|text| text.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") => {}
        Some("SVR") => filter.ca_type = Some(false),
        Some("CA") => filter.ca_type = Some(true),
        Some(other) => return Err(ApiError::invalid_parameter_value("CertificateType", format!("expected CA or SVR, got {other:?}"))),
    }

    let order = match params.optional_string("ExpirationSort")?.map(|text| text.trim().to_ascii_uppercase()).as_deref() {
        None | Some("") => CertificateOrder::Newest,
        Some("ASC") => CertificateOrder::ExpiryAscending,
        Some("DESC") => CertificateOrder::ExpiryDescending,
        Some(other) => return Err(ApiError::invalid_parameter_value("ExpirationSort", format!("expected ASC or DESC, got {other:?}"))),
    };

    let statuses: Option<Vec<u64>> = params.optional("CertificateStatus")?;
    for code in statuses.unwrap_or_default() {
        let status = CertificateStatus::from_code(code)
            .ok_or_else(|| ApiError::invalid_parameter_value("CertificateStatus", format!("unknown status {code}; use 0 to 15")))?;
        filter.statuses.push(status);
    }

    let deployable = optional_binary(params, "Deployable")?;
    let hostable = optional_binary(params, "Hostable")?;
    if let (Some(deployable), Some(hostable)) = (deployable, hostable)
        && deployable != hostable
    {
        filter.match_nothing = true;
    }
    filter.deployable = deployable.or(hostable).map(|wanted| (now, wanted));

    let window = Window { from: now + 1, until: now + EXPIRING_WINDOW_SECONDS };
    if params.optional_unsigned("FilterExpiring")? == Some(1) {
        filter.expiring = Some(window);
    }
    if flag(params, "Renew")? {
        filter.renewable = Some(window);
    }
    if flag(params, "IsSM")? {
        filter.shangmi = Some(true);
    }
    filter.pending_issue = flag(params, "IsPendingIssue")?;

    let mut source = flag(params, "Upload")?.then_some(CertificateSource::Uploaded);
    match params.optional_string("FilterSource")?.map(|text| text.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") => {}
        Some(name @ ("upload" | "buy")) => {
            let wanted = if name == "upload" { CertificateSource::Uploaded } else { CertificateSource::Issued };
            if source.is_some_and(|earlier| earlier != wanted) {
                filter.match_nothing = true;
            }
            source = Some(wanted);
        }
        Some(other) => return Err(ApiError::invalid_parameter_value("FilterSource", format!("expected upload or buy, got {other:?}"))),
    }
    filter.source = source;

    filter.ids = params.optional_string_array("CertIds")?;
    // Tags and ServiceId are checked for shape only: certkeeper keeps neither tags nor
    // subscription services, so neither can narrow the result.
    if let Some(tags) = params.get("Tags")
        && !tags.is_array()
    {
        return Err(ApiError::invalid_parameter("Tags", "expected an array of {TagKey, TagValue} objects"));
    }
    params.optional_string("ServiceId")?;
    Ok((filter, order))
}

fn product<'a>(services: &'a Services, record: &CertificateRecord) -> Option<&'a Product> {
    services.catalogue.get(record.product_id).ok()
}

async fn describe_certificates(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let now = services.now();
    let offset = params.optional_unsigned("Offset")?.unwrap_or(0);
    let limit = params.optional_unsigned("Limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let (filter, order) = read_filter(&params, &ctx, now)?;
    let (total, records) = services
        .store
        .list_certificates(&filter, order, offset, limit)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    let ids: Vec<String> = records.iter().map(|record| record.id.clone()).collect();
    let ignored = services.store.expiry_notice_opt_outs(&ids).await.map_err(|error| store_failure(&ctx, &error))?;
    let ca_uploads = services.store.ca_uploads(&ids).await.map_err(|error| store_failure(&ctx, &error))?;
    let mut items: Vec<Value> = records.iter().map(|record| format::list_item(record, product(&services, record), now)).collect();
    for (item, record) in items.iter_mut().zip(&records) {
        if ignored.contains(&record.id) {
            item["IsIgnore"] = Value::Bool(true);
        }
        if ca_uploads.contains(&record.id) {
            item["CertificateType"] = json!("CA");
        }
    }
    Ok(json!({ "TotalCount": total, "Certificates": items }))
}

async fn describe_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    let record = services.visible_certificate(&ctx, &id).await?;
    let now = services.now();
    let product = product(&services, &record);
    let mut fields = format::common_fields(&record, product, now);
    let uploaded = record.source == CertificateSource::Uploaded;
    fields.insert("PackageTypeName".into(), if uploaded { Value::Null } else { json!(product.map(|p| p.name.clone())) });
    if uploaded && let Some(upload) = services.store.upload(&record.id).await.map_err(|error| store_failure(&ctx, &error))? {
        fields.insert("CertificateType".into(), json!(upload.certificate_type));
    }
    fields.insert("OrderId".into(), Value::String(record.id.clone()));
    fields.insert("DvAuthDetail".into(), dv_auth_detail(&services, &ctx, &record).await?);
    fields.insert("VulnerabilityReport".into(), Value::Null);
    fields.insert("SubmittedData".into(), submitted_data(&services, &ctx, &record.id).await?);
    fields.insert("CAEncryptAlgorithms".into(), Value::Null);
    fields.insert("CACommonNames".into(), Value::Null);
    fields.insert("CAEndTimes".into(), Value::Null);
    fields.insert("DvRevokeAuthDetail".into(), json!([]));
    Ok(Value::Object(fields))
}

/// Returns the data submitted for a paid order as `SubmittedData`, `null` for other certificates.
async fn submitted_data(services: &Services, ctx: &RequestContext, id: &str) -> Result<Value, ApiError> {
    let submission = services.store.submission(id).await.map_err(|error| store_failure(ctx, &error))?;
    Ok(submission.and_then(|row| serde_json::from_str(&row.data).ok()).unwrap_or(Value::Null))
}

/// Builds `DvAuthDetail` from the validation rows of an order: the first domain's values at the
/// top level and every domain in `DvAuths`. Certificates without validation rows get `null`.
async fn dv_auth_detail(services: &Services, ctx: &RequestContext, record: &CertificateRecord) -> Result<Value, ApiError> {
    let rows = services
        .store
        .validations_of(&record.id, certkeeper_ra::orders::PURPOSE_ISSUE)
        .await
        .map_err(|error| store_failure(ctx, &error))?;
    let Some(first) = rows.first() else {
        return Ok(Value::Null);
    };
    let auths: Vec<Value> = rows.iter().map(dv_auth).collect();
    Ok(json!({
        "DvAuthKey": first.record_key,
        "DvAuthValue": first.token,
        "DvAuthDomain": validated_domain(first),
        "DvAuthPath": file_path(first),
        "DvAuthKeySubDomain": first.sub_domain,
        "DvAuths": auths,
    }))
}

/// Builds one `DvAuths` item.
fn dv_auth(row: &ValidationRow) -> Value {
    json!({
        "DvAuthKey": row.record_key,
        "DvAuthValue": row.token,
        "DvAuthDomain": validated_domain(row),
        "DvAuthPath": file_path(row),
        "DvAuthSubDomain": row.sub_domain,
        "DvAuthVerifyType": row.verify_type,
    })
}

/// Returns the name whose control a row proves: its domain without a leading `*.`.
fn validated_domain(row: &ValidationRow) -> &str {
    row.domain.strip_prefix("*.").unwrap_or(&row.domain)
}

/// Returns the URL path of a FILE validation, and `null` for DNS records.
fn file_path(row: &ValidationRow) -> Value {
    if row.verify_type == "FILE" { Value::String(row.path.clone()) } else { Value::Null }
}

/// Returns the `DomainType` of the detail: 1 single, 2 multiple, 3 wildcard, 4 multiple with a
/// wildcard.
fn domain_type(names: &[String]) -> u64 {
    let wildcard = names.iter().any(|name| name.starts_with("*."));
    match (names.len() > 1, wildcard) {
        (false, false) => 1,
        (true, false) => 2,
        (false, true) => 3,
        (true, true) => 4,
    }
}

fn chain_entry(der: &[u8]) -> Value {
    match certkeeper_pki::describe(der) {
        Ok(summary) => json!({
            "Issuer": summary.issuer,
            "Subject": summary.subject,
            "Fingerprint": summary.sha1,
            "ValidFrom": api_time(summary.not_before),
            "ValidTo": api_time(summary.not_after),
        }),
        Err(_) => Value::Null,
    }
}

/// The CA certificates above a leaf: its issuing intermediate and that intermediate's root.
pub(super) struct IssuerChain {
    pub intermediate: Option<IssuerRow>,
    pub root: Option<IssuerRow>,
}

/// Looks up the intermediate and root of an issued certificate. Uploaded certificates have
/// neither.
pub(super) async fn issuer_chain(services: &Services, ctx: &RequestContext, record: &CertificateRecord) -> Result<IssuerChain, ApiError> {
    let Some(issuer_id) = record.issuer_id else {
        return Ok(IssuerChain { intermediate: None, root: None });
    };
    let intermediate = services.issuer(issuer_id).await.map_err(|error| store_failure(ctx, &error))?;
    let root = match intermediate.as_ref().and_then(|row| row.parent_id) {
        Some(parent) => services.issuer(parent).await.map_err(|error| store_failure(ctx, &error))?,
        None => None,
    };
    Ok(IssuerChain { intermediate, root })
}

/// Opens the private key certkeeper generated for a certificate and returns it as PEM.
pub(super) fn private_key_pem(services: &Services, ctx: &RequestContext, record: &CertificateRecord) -> Result<Option<String>, ApiError> {
    let Some(sealed) = &record.sealed_private_key else {
        return Ok(None);
    };
    let opened = services
        .master_key
        .open(&format!("certificate-key:{}", record.id), sealed)
        .map_err(|error| store_failure(ctx, &error))?;
    // The sealed value is either PEM text or PKCS#8 DER.
    if opened.starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&opened).map_err(|error| store_failure(ctx, &error))?;
        Ok(Some(format::normalize_pem(text)))
    } else {
        Ok(Some(certkeeper_pki::to_pem("PRIVATE KEY", &opened)))
    }
}

async fn describe_certificate_detail(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    let record = services.visible_certificate(&ctx, &id).await?;
    let now = services.now();
    let product = product(&services, &record);
    let chain = issuer_chain(&services, &ctx, &record).await?;
    let mut fields = format::common_fields(&record, product, now);

    let uploaded = record.source == CertificateSource::Uploaded;
    let main_domain = record.domain.clone();
    let other_names: Vec<&String> = record.names.iter().filter(|name| **name != main_domain).collect();
    fields.insert("SubjectAltName".into(), json!(other_names));
    fields.insert("TypeName".into(), if uploaded { Value::Null } else { json!(product.map(|p| p.name.clone())) });
    fields.insert("OrderId".into(), Value::String(record.id.clone()));
    fields.insert("DvAuthDetail".into(), dv_auth_detail(&services, &ctx, &record).await?);
    fields.insert("VulnerabilityReport".into(), Value::Null);
    fields.insert("SubmittedData".into(), submitted_data(&services, &ctx, &record.id).await?);
    fields.insert("CAEncryptAlgorithms".into(), Value::Null);
    fields.insert("CACommonNames".into(), Value::Null);
    fields.insert("CAEndTimes".into(), Value::Null);
    fields.insert("DvRevokeAuthDetail".into(), json!([]));

    let mut public_key = Value::Null;
    let mut fingerprint = Value::Null;
    let mut chain_info = Vec::new();
    if let Some(leaf) = &record.certificate_der {
        let mut bundle = certkeeper_pki::to_pem("CERTIFICATE", leaf);
        fingerprint = Value::String(certkeeper_pki::sha1_hex(leaf));
        chain_info.push(chain_entry(leaf));
        if let Some(intermediate) = &chain.intermediate {
            bundle.push_str(&certkeeper_pki::to_pem("CERTIFICATE", &intermediate.certificate_der));
            chain_info.push(chain_entry(&intermediate.certificate_der));
        }
        if let Some(root) = &chain.root {
            chain_info.push(chain_entry(&root.certificate_der));
        }
        public_key = Value::String(bundle);
    }
    let mut root_pem = chain.root.as_ref().map(|root| certkeeper_pki::to_pem("CERTIFICATE", &root.certificate_der));
    // An upload keeps its own intermediates and root.
    if uploaded && let Some(upload) = services.store.upload(&record.id).await.map_err(|error| store_failure(&ctx, &error))? {
        fields.insert("CertificateType".into(), json!(upload.certificate_type));
        let mut bundle = public_key.as_str().unwrap_or_default().to_owned();
        for intermediate in super::download::split_der(&upload.chain_der) {
            bundle.push_str(&certkeeper_pki::to_pem("CERTIFICATE", &intermediate));
            chain_info.push(chain_entry(&intermediate));
        }
        if let Some(root) = &upload.root_der {
            chain_info.push(chain_entry(root));
            root_pem = Some(certkeeper_pki::to_pem("CERTIFICATE", root));
        }
        public_key = Value::String(bundle);
    }

    fields.insert("CertificatePrivateKey".into(), json!(private_key_pem(&services, &ctx, &record)?));
    fields.insert("CertificatePublicKey".into(), public_key);
    fields.insert("RootCert".into(), json!({ "Sign": Value::Null, "Encrypt": Value::Null, "Standard": root_pem }));
    fields.insert("EncryptCert".into(), Value::Null);
    fields.insert("EncryptPrivateKey".into(), Value::Null);
    fields.insert("CertFingerprint".into(), fingerprint);
    fields.insert("EncryptCertFingerprint".into(), Value::Null);
    fields.insert("EncryptAlgorithm".into(), json!(record.key_algorithm.display_label()));
    fields.insert("CertChainInfo".into(), json!(chain_info));
    fields.insert("DomainType".into(), json!(domain_type(&record.names)));
    fields.insert("CertType".into(), json!(product.map(|p| p.level.as_str())));
    fields.insert("UseCrossSignRoot".into(), json!(false));
    fields.insert("HostingStatus".into(), json!(-1));
    Ok(Value::Object(fields))
}
