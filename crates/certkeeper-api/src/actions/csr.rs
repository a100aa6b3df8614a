//! CreateCSR, DescribeCSR, DescribeCSRSet, ModifyCSR and BatchDeleteCSR.
//!
//! A CSR record is a draft until it is saved with `Generate=true`. certkeeper then generates
//! the key and the CSR, seals the key under the master key and freezes the record.

use std::sync::Arc;

use certkeeper_core::{DnsName, KeyAlgorithm};
use certkeeper_pki::SigningKeyPair;
use certkeeper_store::CsrRecord;
use rcgen::{CertificateParams, DnType, DnValue};
use serde_json::{Value, json};

use super::format::api_time;
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

const INVALID_CSR_ID: &str = "InvalidParameter.InvalidCSRId";
const WITH_DETAIL_REASON: &str = "InvalidParameter.WithDetailReason";

/// Default and maximum page size of DescribeCSRSet.
const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 100;
/// Most ids one BatchDeleteCSR call may delete.
const MAX_DELETE_IDS: usize = 100;
/// Longest accepted value of a subject field, in characters.
const MAX_FIELD_CHARS: usize = 64;

const CREATE_CSR: &[&str] = &[
    "Domain",
    "Organization",
    "Department",
    "Email",
    "Province",
    "City",
    "Country",
    "EncryptAlgo",
    "KeyParameter",
    "Generate",
    "KeyPassword",
    "Remark",
    "Tags",
];

const MODIFY_CSR: &[&str] = &[
    "CSRId",
    "Generate",
    "Domain",
    "Organization",
    "Department",
    "Email",
    "Province",
    "City",
    "Country",
    "EncryptAlgo",
    "KeyParameter",
    "KeyPassword",
    "Remark",
];

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("CreateCSR", CREATE_CSR, create_csr);
    registry.register("ModifyCSR", MODIFY_CSR, modify_csr);
    registry.register("DescribeCSR", &["CSRId"], describe_csr);
    registry.register("DescribeCSRSet", &["Limit", "Offset", "Domain", "EncryptAlgo"], describe_csr_set);
    registry.register("BatchDeleteCSR", &["CSRIds"], batch_delete_csr);
}

fn detail_error(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(WITH_DETAIL_REASON, detail.to_string())
}

/// Maps `EncryptAlgo` and `KeyParameter` to a key algorithm certkeeper can generate.
fn key_algorithm(encrypt_algo: &str, key_parameter: &str) -> Result<KeyAlgorithm, ApiError> {
    match (encrypt_algo, key_parameter) {
        ("RSA", "2048") => Ok(KeyAlgorithm::Rsa2048),
        ("RSA", "4096") => Ok(KeyAlgorithm::Rsa4096),
        ("ECC", "prime256v1") => Ok(KeyAlgorithm::EcdsaP256),
        _ => Err(detail_error(format!(
            "EncryptAlgo {encrypt_algo:?} with KeyParameter {key_parameter:?} is not supported; \
             use RSA with 2048 or 4096, or ECC with prime256v1"
        ))),
    }
}

/// Checks the fields of a record before it is stored.
fn check_record(record: &CsrRecord) -> Result<(), ApiError> {
    DnsName::parse(&record.domain).map_err(|error| detail_error(format!("Domain {:?} is invalid: {error}", record.domain)))?;
    key_algorithm(&record.encrypt_algo, &record.key_parameter)?;
    if record.country.len() != 2 || !record.country.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return Err(detail_error(format!("Country {:?} must be a two-letter ISO 3166 code such as CN", record.country)));
    }
    if !record.email.contains('@') || !record.email.is_ascii() {
        return Err(detail_error(format!("Email {:?} is not an email address", record.email)));
    }
    let fields = [
        ("Organization", &record.organization),
        ("Department", &record.department),
        ("Province", &record.province),
        ("City", &record.city),
        ("Email", &record.email),
    ];
    for (name, value) in fields {
        if value.trim().is_empty() || value.chars().count() > MAX_FIELD_CHARS {
            return Err(detail_error(format!("{name} must have 1 to {MAX_FIELD_CHARS} characters")));
        }
    }
    Ok(())
}

/// Overwrites the record's fields with those present in the parameters.
fn apply_fields(record: &mut CsrRecord, params: &Params) -> Result<(), ApiError> {
    let targets: [(&str, &mut String); 9] = [
        ("Domain", &mut record.domain),
        ("Organization", &mut record.organization),
        ("Department", &mut record.department),
        ("Email", &mut record.email),
        ("Province", &mut record.province),
        ("City", &mut record.city),
        ("Country", &mut record.country),
        ("EncryptAlgo", &mut record.encrypt_algo),
        ("KeyParameter", &mut record.key_parameter),
    ];
    for (name, target) in targets {
        if let Some(value) = params.optional_string(name)? {
            *target = value.trim().to_owned();
        }
    }
    record.encrypt_algo = record.encrypt_algo.to_ascii_uppercase();
    record.country = record.country.to_ascii_uppercase();
    if let Some(remark) = params.optional_string("Remark")? {
        record.remark = remark;
    }
    Ok(())
}

/// Generates the key and the CSR, seals the key and marks the record as generated.
async fn generate(services: &Services, ctx: &RequestContext, record: &mut CsrRecord) -> Result<(), ApiError> {
    let algorithm = key_algorithm(&record.encrypt_algo, &record.key_parameter)?;
    let subject = record.clone();
    let generated = tokio::task::spawn_blocking(move || build_csr(algorithm, &subject))
        .await
        .map_err(|error| store_failure(ctx, &error))?;
    let (csr_pem, key_pem) = generated.map_err(|error| ApiError::new("FailedOperation.GenCSRFail", error))?;
    let sealed = services
        .master_key
        .seal(&format!("csr-key:{}", record.id), key_pem.as_bytes())
        .map_err(|error| store_failure(ctx, &error))?;
    record.csr_pem = Some(csr_pem);
    record.sealed_private_key = Some(sealed);
    record.status = 1;
    Ok(())
}

/// Returns the CSR PEM and the PKCS#8 private key PEM.
fn build_csr(algorithm: KeyAlgorithm, record: &CsrRecord) -> Result<(String, String), String> {
    let key = SigningKeyPair::generate(algorithm).map_err(|error| error.to_string())?;
    let mut params = CertificateParams::new(vec![record.domain.clone()]).map_err(|error| error.to_string())?;
    let name = &mut params.distinguished_name;
    name.push(DnType::CountryName, record.country.as_str());
    name.push(DnType::StateOrProvinceName, record.province.as_str());
    name.push(DnType::LocalityName, record.city.as_str());
    name.push(DnType::OrganizationName, record.organization.as_str());
    name.push(DnType::OrganizationalUnitName, record.department.as_str());
    name.push(DnType::CommonName, record.domain.as_str());
    let email = rcgen::string::Ia5String::try_from(record.email.as_str()).map_err(|error| error.to_string())?;
    name.push(DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]), DnValue::Ia5String(email));
    let csr = params.serialize_request(&key).map_err(|error| error.to_string())?;
    let csr_pem = csr.pem().map_err(|error| error.to_string())?;
    Ok((csr_pem, certkeeper_pki::to_pem("PRIVATE KEY", &key.pkcs8_der())))
}

/// Returns a random positive id below 2^53, so JSON clients that read numbers as doubles keep it exact.
fn new_csr_id() -> Result<i64, certkeeper_pki::SealError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| certkeeper_pki::SealError::Random)?;
    Ok((u64::from_be_bytes(bytes) % ((1u64 << 53) - 1)) as i64 + 1)
}

fn seal_password(services: &Services, ctx: &RequestContext, id: i64, password: Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    // NOTE: the password is stored and returned, but the generated key is not encrypted with it.
    password
        .filter(|password| !password.is_empty())
        .map(|password| services.master_key.seal(&format!("csr-key-password:{id}"), password.as_bytes()))
        .transpose()
        .map_err(|error| store_failure(ctx, &error))
}

async fn create_csr(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    for name in &CREATE_CSR[..9] {
        params.required_string(name)?;
    }
    let generate_now: bool = params.required("Generate")?;
    if let Some(tags) = params.get("Tags")
        && !tags.is_array()
    {
        return Err(ApiError::invalid_parameter("Tags", "expected an array of {TagKey, TagValue} objects"));
    }
    let now = services.now();
    let id = new_csr_id().map_err(|error| store_failure(&ctx, &error))?;
    let mut record = CsrRecord {
        id,
        account_id: ctx.account_id,
        domain: String::new(),
        organization: String::new(),
        department: String::new(),
        email: String::new(),
        province: String::new(),
        city: String::new(),
        country: String::new(),
        encrypt_algo: String::new(),
        key_parameter: String::new(),
        remark: String::new(),
        status: 0,
        csr_pem: None,
        sealed_private_key: None,
        sealed_key_password: None,
        created_at: now,
        updated_at: now,
    };
    apply_fields(&mut record, &params)?;
    check_record(&record)?;
    record.sealed_key_password = seal_password(&services, &ctx, id, params.optional_string("KeyPassword")?)?;
    if generate_now {
        generate(&services, &ctx, &mut record).await?;
    }
    services.store.insert_csr(&record).await.map_err(|error| store_failure(&ctx, &error))?;
    Ok(json!({ "Id": id }))
}

async fn find_csr(services: &Services, ctx: &RequestContext, id: i64) -> Result<CsrRecord, ApiError> {
    services
        .store
        .csr_for_account(account_scope(ctx), id)
        .await
        .map_err(|error| store_failure(ctx, &error))?
        .ok_or_else(|| ApiError::new(INVALID_CSR_ID, format!("CSR {id} not found")))
}

async fn modify_csr(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_integer("CSRId")?;
    let generate_now: bool = params.required("Generate")?;
    let mut record = find_csr(&services, &ctx, id).await?;
    if record.status != 0 {
        return Err(detail_error(format!("CSR {id} was generated and can no longer be changed")));
    }
    apply_fields(&mut record, &params)?;
    check_record(&record)?;
    if params.contains("KeyPassword") {
        record.sealed_key_password = seal_password(&services, &ctx, id, params.optional_string("KeyPassword")?)?;
    }
    record.updated_at = services.now();
    if generate_now {
        generate(&services, &ctx, &mut record).await?;
    }
    let updated = services.store.update_draft_csr(&record).await.map_err(|error| store_failure(&ctx, &error))?;
    if !updated {
        return Err(detail_error(format!("CSR {id} was generated or deleted in the meantime")));
    }
    Ok(json!({ "Id": id }))
}

fn open_text(services: &Services, ctx: &RequestContext, context: &str, sealed: Option<&Vec<u8>>) -> Result<Option<String>, ApiError> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let opened = services.master_key.open(context, sealed).map_err(|error| store_failure(ctx, &error))?;
    String::from_utf8(opened.to_vec()).map(Some).map_err(|error| store_failure(ctx, &error))
}

fn csr_item(record: &CsrRecord) -> serde_json::Map<String, Value> {
    let item = json!({
        "Id": record.id,
        "OwnerUin": record.account_id.to_string(),
        "Domain": record.domain,
        "Organization": record.organization,
        "Department": record.department,
        "Email": record.email,
        "Province": record.province,
        "City": record.city,
        "Country": record.country,
        "Remarks": record.remark,
        "Status": record.status,
        "CreateTime": api_time(record.created_at),
        "EncryptAlgo": record.encrypt_algo,
        "KeyParameter": record.key_parameter,
    });
    match item {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

async fn describe_csr(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_integer("CSRId")?;
    let record = find_csr(&services, &ctx, id).await?;
    let mut fields = csr_item(&record);
    let key = open_text(&services, &ctx, &format!("csr-key:{id}"), record.sealed_private_key.as_ref())?;
    let password = open_text(&services, &ctx, &format!("csr-key-password:{id}"), record.sealed_key_password.as_ref())?;
    fields.insert("KeyPassword".into(), json!(password));
    fields.insert("CSR".into(), json!(record.csr_pem));
    fields.insert("PrivateKey".into(), json!(key));
    Ok(Value::Object(fields))
}

async fn describe_csr_set(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let offset = params.optional_unsigned("Offset")?.unwrap_or(0);
    let limit = params.optional_unsigned("Limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let domain = params.optional_string("Domain")?.filter(|domain| !domain.trim().is_empty());
    let algorithm = params.optional_string("EncryptAlgo")?.map(|text| text.trim().to_ascii_uppercase()).filter(|text| !text.is_empty());
    let (total, records) = services
        .store
        .list_csrs(account_scope(&ctx), domain.as_deref(), algorithm.as_deref(), offset, limit)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    let set: Vec<Value> = records.iter().map(|record| Value::Object(csr_item(record))).collect();
    Ok(json!({ "Total": total, "Set": set }))
}

async fn batch_delete_csr(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let ids: Vec<i64> = params.required("CSRIds")?;
    if ids.is_empty() || ids.len() > MAX_DELETE_IDS {
        return Err(detail_error(format!("CSRIds has {} ids; give 1 to {MAX_DELETE_IDS}", ids.len())));
    }
    let deleted = services
        .store
        .delete_csrs(account_scope(&ctx), &ids)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    Ok(json!({ "Success": deleted }))
}
