//! ModifyCertificateAlias, ModifyCertificateProject and DescribeCertificateOperateLogs.

use std::sync::Arc;

use certkeeper_store::{LogEntry, OperationLogRow};
use serde_json::{Value, json};

use super::format::{api_time, parse_api_time};
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

/// Longest alias accepted, in characters.
const MAX_ALIAS_CHARS: usize = 200;
/// Most certificate ids one ModifyCertificateProject call may change.
const MAX_PROJECT_IDS: usize = 100;
/// Default and maximum page size of DescribeCertificateOperateLogs.
const DEFAULT_LOG_LIMIT: u64 = 20;
const MAX_LOG_LIMIT: u64 = 1000;
/// Default start of the log window: 15 days before now.
const DEFAULT_LOG_WINDOW_SECONDS: i64 = 15 * 24 * 3600;

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("ModifyCertificateAlias", &["CertificateId", "Alias"], modify_alias);
    registry.register("ModifyCertificateProject", &["CertificateIdList", "ProjectId"], modify_project);
    registry.register("DescribeCertificateOperateLogs", &["Offset", "Limit", "StartTime", "EndTime"], operate_logs);
}

/// Returns the operation-log actor of an API caller.
pub(super) fn actor(ctx: &RequestContext) -> String {
    format!("account:{}", ctx.account_id)
}

async fn modify_alias(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    let alias = read_alias(&params)?;
    let actor = actor(&ctx);
    let detail = format!("alias set to {alias:?}");
    let log = LogEntry { actor: &actor, action: "updateAlias", detail: &detail, at: services.now() };
    let updated = services
        .store
        .update_certificate_alias(account_scope(&ctx), &id, &alias, &log)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    if !updated {
        return Err(ApiError::certificate_not_found(&id));
    }
    Ok(json!({ "CertificateId": id }))
}

async fn modify_project(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let ids = params.required_string_array("CertificateIdList")?;
    let project_id: u64 = params.required("ProjectId")?;
    if ids.is_empty() {
        return Err(ApiError::invalid_parameter_value("CertificateIdList", "give at least one certificate id"));
    }
    if ids.len() > MAX_PROJECT_IDS {
        return Err(ApiError::new(
            "InvalidParameter.CertificateIdNumberLimit",
            format!("CertificateIdList has {} ids; at most {MAX_PROJECT_IDS} are allowed", ids.len()),
        ));
    }
    let actor = actor(&ctx);
    let detail = format!("project set to {project_id}");
    let log = LogEntry { actor: &actor, action: "changeProject", detail: &detail, at: services.now() };
    let changed = services
        .store
        .update_certificate_projects(account_scope(&ctx), &ids, project_id, &log)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    let mut failed: Vec<&String> = ids.iter().filter(|id| !changed.contains(id)).collect();
    failed.dedup();
    Ok(json!({ "SuccessCertificates": changed, "FailCertificates": failed }))
}

fn read_time(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    match params.optional_string(name)? {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Ok(None),
        Some(text) => parse_api_time(&text)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_parameter_value(name, format!("{text:?} is not a time of the form YYYY-MM-DD HH:MM:SS"))),
    }
}

/// Describes a log row as a sentence for the `Action` field.
fn log_sentence(row: &OperationLogRow) -> String {
    let certificate = row.certificate_id.as_deref().unwrap_or("-");
    if row.detail.is_empty() {
        format!("{} on certificate {certificate}", row.action)
    } else {
        format!("{} on certificate {certificate}: {}", row.action, row.detail)
    }
}

async fn operate_logs(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let now = services.now();
    let offset = params.optional_unsigned("Offset")?.unwrap_or(0);
    let limit = params.optional_unsigned("Limit")?.unwrap_or(DEFAULT_LOG_LIMIT).min(MAX_LOG_LIMIT);
    let end = read_time(&params, "EndTime")?.unwrap_or(now);
    let start = read_time(&params, "StartTime")?.unwrap_or(end - DEFAULT_LOG_WINDOW_SECONDS);
    if start > end {
        return Err(ApiError::invalid_parameter_value("StartTime", "StartTime is later than EndTime"));
    }
    let (total, rows) = services
        .store
        .operation_logs_for_account(account_scope(&ctx), start, end, offset, limit)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    let logs: Vec<Value> = rows
        .iter()
        .map(|row| {
            let sub_account = if row.actor.starts_with("account:") { row.actor.clone() } else { "--".to_owned() };
            json!({
                "Action": log_sentence(row),
                "CreatedOn": api_time(row.created_at),
                "Uin": row.account_id.map_or_else(String::new, |id| id.to_string()),
                "SubAccountUin": sub_account,
                "CertId": row.certificate_id,
                "Type": row.action,
            })
        })
        .collect();
    Ok(json!({ "AllTotal": total, "TotalCount": logs.len(), "OperateLogs": logs }))
}

/// Reads the optional `Alias` parameter (empty when absent) and rejects one over 200 characters.
pub(super) fn read_alias(params: &Params) -> Result<String, ApiError> {
    let alias = params.optional_string("Alias")?.unwrap_or_default();
    if alias.chars().count() > MAX_ALIAS_CHARS {
        let count = alias.chars().count();
        return Err(ApiError::invalid_parameter_value("Alias", format!("has {count} characters; at most {MAX_ALIAS_CHARS} are allowed")));
    }
    Ok(alias)
}
