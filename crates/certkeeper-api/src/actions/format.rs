//! Output values shared by the actions: times, certificate objects and PEM text.

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm, Product, ValidationLevel, ValidationMethod};
use serde_json::{Map, Value, json};
use time::{OffsetDateTime, UtcOffset};

/// Seconds in the "expiring soon" window: the API flags certificates within 30 days of notAfter.
pub const EXPIRING_WINDOW_SECONDS: i64 = 30 * 24 * 3600;

/// Offset of the API's times: China Standard Time, GMT+8.
const API_OFFSET_SECONDS: i32 = 8 * 3600;

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` in GMT+8, the API's time format.
pub fn api_time(unix: i64) -> String {
    let offset = UtcOffset::from_whole_seconds(API_OFFSET_SECONDS).unwrap_or(UtcOffset::UTC);
    match OffsetDateTime::from_unix_timestamp(unix) {
        Ok(time) => {
            let local = time.to_offset(offset);
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                local.year(),
                u8::from(local.month()),
                local.day(),
                local.hour(),
                local.minute(),
                local.second()
            )
        }
        Err(_) => String::new(),
    }
}

/// Parses `YYYY-MM-DD HH:MM:SS` in GMT+8 into Unix seconds.
pub fn parse_api_time(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let local = time::PrimitiveDateTime::parse(text.trim(), &format).ok()?;
    let offset = UtcOffset::from_whole_seconds(API_OFFSET_SECONDS).ok()?;
    Some(local.assume_offset(offset).unix_timestamp())
}

/// Formats an optional time, `null` when absent.
pub fn optional_time(unix: Option<i64>) -> Value {
    unix.map_or(Value::Null, |unix| Value::String(api_time(unix)))
}

/// Returns true for an issued certificate that is not past its notAfter.
pub fn is_deployable(record: &CertificateRecord, now: i64) -> bool {
    record.status == CertificateStatus::Issued && record.not_after.is_some_and(|not_after| not_after > now)
}

/// Returns true for an issued certificate within 30 days of its notAfter.
pub fn is_expiring(record: &CertificateRecord, now: i64) -> bool {
    is_deployable(record, now) && record.not_after.is_some_and(|not_after| not_after <= now + EXPIRING_WINDOW_SECONDS)
}

/// Returns the validity in whole months as the API's `ValidityPeriod` string.
fn validity_months(record: &CertificateRecord, product: Option<&Product>) -> String {
    let days = match (record.not_before, record.not_after, product) {
        (Some(begin), Some(end), _) => (end - begin + 1) / 86_400,
        (_, _, Some(product)) => i64::from(product.validity_days),
        _ => 0,
    };
    ((days + 15) / 30).to_string()
}

fn verify_type(method: ValidationMethod) -> Value {
    match method {
        ValidationMethod::None => Value::Null,
        other => Value::String(other.as_str().to_owned()),
    }
}

fn project_info(record: &CertificateRecord) -> Value {
    let owner = record.account_id.unwrap_or(0).max(0) as u64;
    let name = if record.project_id == 0 { "Default Project".to_owned() } else { format!("Project {}", record.project_id) };
    json!({
        "ProjectName": name,
        "ProjectCreatorUin": owner,
        "ProjectCreateTime": api_time(record.created_at),
        "ProjectResume": "",
        "OwnerUin": owner,
        "ProjectId": record.project_id.to_string(),
    })
}

fn certificate_extra(record: &CertificateRecord) -> Value {
    json!({
        "DomainNumber": record.names.len().to_string(),
        "OriginCertificateId": record.renewed_from,
        "ReplacedBy": record.reissued_from,
        "ReplacedFor": record.reissued_by,
        "RenewOrder": record.renewal_id,
        "SMCert": i64::from(record.key_algorithm == KeyAlgorithm::Sm2),
        "CompanyType": Value::Null,
        "ServiceRenewCertificateId": Value::Null,
        "ServiceOriginCertificateId": Value::Null,
    })
}

/// Fields shared by `DescribeCertificates` items, `DescribeCertificate` and
/// `DescribeCertificateDetail`.
pub fn common_fields(record: &CertificateRecord, product: Option<&Product>, now: i64) -> Map<String, Value> {
    let uploaded = record.source == CertificateSource::Uploaded;
    let level = product.map(|product| product.level);
    let product_name = if uploaded { Value::Null } else { json!(product.map(|product| product.name.clone())) };
    let owner = record.account_id.map_or_else(String::new, |id| id.to_string());
    let fields = json!({
        "OwnerUin": owner,
        "ProjectId": record.project_id.to_string(),
        "From": if uploaded { "upload" } else { "certkeeper" },
        "CertificateType": "SVR",
        "PackageType": if uploaded { Value::Null } else { Value::String(record.product_id.to_string()) },
        "ProductZhName": product_name,
        "Domain": record.domain,
        "Alias": record.alias,
        "Status": u64::from(record.status.code()),
        "StatusMsg": record.status_message,
        "StatusName": record.status.name(),
        "VerifyType": verify_type(record.validation_method),
        "VulnerabilityStatus": "INACTIVE",
        "CertBeginTime": optional_time(record.not_before),
        "CertEndTime": optional_time(record.not_after),
        "ValidityPeriod": validity_months(record, product),
        "InsertTime": api_time(record.created_at),
        "CertificateId": record.id,
        "CertificateExtra": certificate_extra(record),
        "SubjectAltName": record.names,
        "IsVip": false,
        "IsDv": level.map_or(Value::Null, |level| Value::Bool(level == ValidationLevel::Dv)),
        "IsWildcard": record.names.iter().any(|name| name.starts_with("*.")),
        "IsVulnerability": false,
        "RenewAble": is_expiring(record, now) && record.renewal_id.is_none(),
        "Deployable": is_deployable(record, now),
        "Tags": [],
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Builds one item of `DescribeCertificates.Certificates`.
// TODO: building about 90 keys through `serde_json::Value` takes about a third of the CPU of a
// DescribeCertificates request; typed `Serialize` structs would cut it.
pub fn list_item(record: &CertificateRecord, product: Option<&Product>, now: i64) -> Value {
    let mut fields = common_fields(record, product, now);
    let uploaded = record.source == CertificateSource::Uploaded;
    let validated = record.status == CertificateStatus::Issued && record.validation_method != ValidationMethod::None;
    let revoked_time = if record.status == CertificateStatus::Revoked { api_time(record.updated_at) } else { String::new() };
    // IIS and Tomcat keystores need the private key.
    let holds_key = record.sealed_private_key.is_some();
    let extra = json!({
        "PackageTypeName": if uploaded { Value::Null } else { json!(product.map(|product| product.name.clone())) },
        "ProjectInfo": project_info(record),
        "BoundResource": [],
        "IsIgnore": false,
        "IsSM": record.key_algorithm == KeyAlgorithm::Sm2,
        "EncryptAlgorithm": record.key_algorithm.display_label(),
        "CAEncryptAlgorithms": Value::Null,
        "CAEndTimes": Value::Null,
        "CACommonNames": Value::Null,
        "PreAuditInfo": Value::Null,
        "AutoRenewFlag": i64::from(record.auto_renew),
        "HostingStatus": Value::Null,
        "HostingCompleteTime": Value::Null,
        "HostingRenewCertId": Value::Null,
        "HasRenewOrder": record.renewal_id,
        "ReplaceOriCertIsDelete": false,
        "IsExpiring": is_expiring(record, now),
        "DVAuthDeadline": Value::Null,
        "ValidationPassedTime": if validated { optional_time(record.not_before) } else { json!("--") },
        "CertSANs": record.names,
        "AwaitingValidationMsg": Value::Null,
        "AllowDownload": record.status.allows_download(),
        "IsDNSPODResolve": false,
        "IsPackage": false,
        "KeyPasswordCustomFlag": false,
        "SupportDownloadType": {
            "NGINX": true, "APACHE": true, "TOMCAT": holds_key, "IIS": holds_key, "JKS": holds_key, "OTHER": true, "ROOT": true,
        },
        "CertRevokedTime": revoked_time,
        "HostingResourceTypes": Value::Null,
        "HostingConfig": Value::Null,
        "IsHostingUploadRenewCert": false,
        "ServiceId": Value::Null,
        "ServiceStatus": Value::Null,
        "CertServiceBeginTime": Value::Null,
        "CertServiceEndTime": Value::Null,
        "CertServiceShareEnabled": Value::Null,
        "CertServiceValidCertificateCount": Value::Null,
    });
    if let Value::Object(extra) = extra {
        fields.extend(extra);
    }
    Value::Object(fields)
}

/// Returns PEM text with LF line ends and exactly one final newline.
pub fn normalize_pem(text: &str) -> String {
    let mut normalized = text.replace("\r\n", "\n").trim().to_owned();
    normalized.push('\n');
    normalized
}
