//! RevokeCertificate, DeleteCertificate, DeleteCertificates, and the revocation review actions.
//!
//! RevokeCertificate accepts, besides the standard `CertificateId` and `Reason`, a certkeeper
//! extension `ReasonCode`: the RFC 5280 reason (0, 1, 3, 4 or 5; default 0) that CRLs and OCSP
//! responses carry once the certificate is revoked. The domain-validation policy returns
//! `RevokeDomainValidateAuths`, and DescribeCertificate and DescribeCertificateDetail show the
//! same values in `DvRevokeAuthDetail` while the request is pending.
//!
//! The review actions are certkeeper extensions without a Tencent Cloud counterpart. Only
//! accounts with the role reviewer or admin may call them; others get `UnauthorizedOperation`.
//!
//! * `DescribeRevokeReviews`: `State` (optional: `pending`, `approved` or `rejected`), `Offset`,
//!   `Limit` → `TotalCount`, `Reviews` [{`ReviewId`, `CertificateId`, `Kind`, `State`, `Reason`,
//!   `ReasonCode`, `DecisionReason`, `DecidedBy`, `DecidedAt`, `CreatedAt`}].
//! * `ApproveRevokeReview`: `ReviewId` → `ReviewId`, `CertificateId`, `Status` (10).
//! * `RejectRevokeReview`: `ReviewId`, `Reason` (required) → `ReviewId`, `CertificateId`,
//!   `Status` (1).
//! * `DescribeRevokeLetter`: `ReviewId` → `ReviewId`, `CertificateId`, `Kind`, `ContentType`,
//!   `Size`, `Sha256`, `UploadedBy`, `UploadedAt`, `Content` (base64).
//!
//! UploadRevokeLetter takes `CertificateId` and `RevokeLetter` (base64 of a JPG, PNG or PDF
//! confirmation letter; JPG, GIF or PDF for an application form; 1 KiB to 1.4 MiB, recognised
//! by content) while the certificate waits for it (status 12). Owners may also call the
//! extension `RemindRevokeReviewers` (`CertificateId` → `CertificateId`, `ReviewId`,
//! `RemindedAt`, `NextReminderAt`) once per hour while a review is pending.

use std::sync::Arc;

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus};
use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use certkeeper_ra::letter::LetterProblem;
use certkeeper_ra::revocation::PURPOSE_REVOKE;
use certkeeper_ra::{RevocationService, RevokeError, RevokeOutcome, RevokeRequest};
use certkeeper_store::{LogEntry, ReviewRow, StoreError, ValidationRow};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::format::api_time;
use super::metadata::actor;
use super::{ActionRegistry, Services, store_failure};
use crate::action::RequestContext;
use crate::credentials::Role;
use crate::error::{ApiError, codes};
use crate::params::Params;

/// The certificate is an upload, which certkeeper cannot revoke.
pub const FAILED_OPERATION_INVALID_SOURCE: &str = "FailedOperation.InvalidCertificateSource";
/// The certificate's status does not allow the operation.
pub const FAILED_OPERATION_INVALID_STATUS: &str = "FailedOperation.InvalidCertificateStatusCode";
/// A revocation rule other than the status rejected the request.
pub const FAILED_OPERATION_REVOKE_FAILED: &str = "FailedOperation.RevokeFailed";
/// The certificate is issued and unexpired, so it must be revoked before it is deleted.
pub const FAILED_OPERATION_CANNOT_DELETE_ISSUED: &str = "FailedOperation.CannotBeDeletedIssued";
/// A free certificate cannot be deleted within an hour of its application.
pub const FAILED_OPERATION_CANNOT_DELETE_WITHIN_HOUR: &str = "FailedOperation.CannotBeDeletedWithinHour";
/// No review with the given id exists.
pub const RESOURCE_NOT_FOUND: &str = "ResourceNotFound";
/// The letter is not one of the accepted file types, or is incomplete.
pub const FAILED_OPERATION_INVALID_LETTER_FORMAT: &str = "FailedOperation.InvalidConfirmLetterFormat";
/// The letter is smaller than 1 KiB.
pub const FAILED_OPERATION_LETTER_TOO_SMALL: &str = "FailedOperation.ConfirmLetterTooSmall";
/// The letter is larger than 1.4 MiB.
pub const FAILED_OPERATION_LETTER_TOO_LARGE: &str = "FailedOperation.ConfirmLetterTooLarge";
/// An application form was already uploaded for the request (certkeeper extension code).
pub const FAILED_OPERATION_FORM_ALREADY_UPLOADED: &str = "FailedOperation.ApplicationFormAlreadyUploaded";
/// Reviewers were reminded less than an hour ago.
pub const LIMIT_EXCEEDED_REMINDER: &str = "LimitExceeded.RateLimitExceeded";

/// A free certificate can be deleted this many seconds after its application at the earliest.
const FREE_DELETE_DELAY_SECONDS: i64 = 3600;
/// Most ids one DeleteCertificates call may name.
const MAX_DELETE_IDS: usize = 100;
/// Default and maximum page size of DescribeRevokeReviews.
const DEFAULT_REVIEW_LIMIT: u64 = 20;
const MAX_REVIEW_LIMIT: u64 = 1000;

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("DeleteCertificate", &["CertificateId", "IsCheckResource"], delete_certificate);
    registry.register("DeleteCertificates", &["CertificateIds", "IsSync"], delete_certificates);
    if registry.state().revocations.is_none() {
        return;
    }
    registry.register("RevokeCertificate", &["CertificateId", "Reason", "ReasonCode"], revoke_certificate);
    registry.register("DescribeRevokeReviews", &["State", "Offset", "Limit"], describe_reviews);
    registry.register("ApproveRevokeReview", &["ReviewId"], approve_review);
    registry.register("RejectRevokeReview", &["ReviewId", "Reason"], reject_review);
    registry.register("DescribeRevokeLetter", &["ReviewId"], describe_letter);
    registry.register("UploadRevokeLetter", &["CertificateId", "RevokeLetter"], upload_letter);
    registry.register("RemindRevokeReviewers", &["CertificateId"], remind_reviewers);
    add_revoke_auth_detail(registry, "DescribeCertificate");
    add_revoke_auth_detail(registry, "DescribeCertificateDetail");
}

fn revocation_service(services: &Services) -> Result<&RevocationService, ApiError> {
    services
        .revocations
        .as_ref()
        .ok_or_else(|| ApiError::unsupported_operation("this server does not accept revocation requests"))
}

fn now_of(services: &Services) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(services.now()).unwrap_or_else(|_| OffsetDateTime::now_utc())
}

/// Maps a revocation failure to the API error a client can act on. Failures the client cannot
/// fix are logged with the request id and returned as `InternalError`.
fn revoke_failure(ctx: &RequestContext, error: RevokeError) -> ApiError {
    let message = error.to_string();
    match error {
        RevokeError::NotFound { id } => ApiError::certificate_not_found(&id),
        RevokeError::ReasonCode { .. } => ApiError::invalid_parameter_value("ReasonCode", message),
        RevokeError::ReasonRequired { .. } | RevokeError::RejectionReasonRequired => {
            ApiError::new(codes::MISSING_PARAMETER, format!("missing required parameter Reason: {message}"))
        }
        RevokeError::Uploaded { .. } => ApiError::new(FAILED_OPERATION_INVALID_SOURCE, message),
        RevokeError::AlreadyRevoked { .. }
        | RevokeError::AlreadyRevoking { .. }
        | RevokeError::WrongStatus { .. }
        | RevokeError::Expired { .. }
        | RevokeError::Store(StoreError::StatusChanged { .. }) => ApiError::new(FAILED_OPERATION_INVALID_STATUS, message),
        RevokeError::Reissued { .. } | RevokeError::AwaitingRenewal { .. } | RevokeError::OperatorOnly { .. } => {
            ApiError::new(FAILED_OPERATION_REVOKE_FAILED, message)
        }
        RevokeError::Letter { problem, .. } => ApiError::new(
            match problem {
                LetterProblem::TooSmall { .. } => FAILED_OPERATION_LETTER_TOO_SMALL,
                LetterProblem::TooLarge { .. } => FAILED_OPERATION_LETTER_TOO_LARGE,
                _ => FAILED_OPERATION_INVALID_LETTER_FORMAT,
            },
            message,
        ),
        RevokeError::LetterNotNeeded { .. } | RevokeError::NoPendingReview { .. } | RevokeError::LetterMissing { .. } => {
            ApiError::new(FAILED_OPERATION_INVALID_STATUS, message)
        }
        RevokeError::FormAlreadyUploaded { .. } => ApiError::new(FAILED_OPERATION_FORM_ALREADY_UPLOADED, message),
        RevokeError::RemindTooSoon { .. } => ApiError::new(LIMIT_EXCEEDED_REMINDER, message),
        RevokeError::ReviewNotFound { .. } => ApiError::new(RESOURCE_NOT_FOUND, message),
        RevokeError::ReviewDecided { .. } => ApiError::failed_operation(message),
        other => {
            tracing::error!(request_id = %ctx.request_id, action = %ctx.action, error = %other, "revocation failed; returned InternalError");
            ApiError::internal()
        }
    }
}

/// Reads `ReasonCode`, which defaults to 0 (unspecified).
fn read_reason_code(params: &Params) -> Result<i64, ApiError> {
    Ok(params.optional_integer("ReasonCode")?.unwrap_or(0))
}

/// Builds one `RevokeDomainValidateAuths` item. The path is the directory of a FILE
/// validation and empty for DNS, and the key is the record or file name.
fn domain_validate_auth(row: &ValidationRow) -> Value {
    let path = if row.verify_type == "FILE" { row.path.strip_suffix(&row.record_key).unwrap_or(&row.path) } else { "" };
    json!({
        "DomainValidateAuthPath": path,
        "DomainValidateAuthKey": row.record_key,
        "DomainValidateAuthValue": row.token,
        "DomainValidateAuthDomain": row.domain.strip_prefix("*.").unwrap_or(&row.domain),
    })
}

async fn revoke_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let revocations = revocation_service(&services)?;
    let id = params.required_string("CertificateId")?;
    let request = RevokeRequest {
        actor: actor(&ctx),
        reason_code: read_reason_code(&params)?,
        reason: params.optional_string("Reason")?.unwrap_or_default().trim().to_owned(),
    };
    services.visible_certificate(&ctx, &id).await?;
    let outcome = revocations.request(&id, &request, now_of(&services)).await.map_err(|error| revoke_failure(&ctx, error))?;
    let auths: Vec<Value> = match outcome {
        RevokeOutcome::Validations(rows) => rows.iter().map(domain_validate_auth).collect(),
        RevokeOutcome::Review { .. } | RevokeOutcome::AwaitingLetter { .. } => Vec::new(),
    };
    Ok(json!({ "RevokeDomainValidateAuths": auths }))
}

/// Replaces the registered action `name` with one that also fills `DvRevokeAuthDetail` with the
/// validations of the certificate's current revocation request.
fn add_revoke_auth_detail(registry: &mut ActionRegistry<Services>, name: &'static str) {
    let Some(inner) = registry.actions.remove(name) else { return };
    let parameters = inner.parameters;
    let run = Arc::new(inner.run);
    registry.register(name, parameters, move |services: Arc<Services>, ctx: RequestContext, params: Params| {
        let run = Arc::clone(&run);
        async move {
            let id = params.optional_string("CertificateId").ok().flatten();
            let mut output = run(Arc::clone(&services), ctx.clone(), params).await?;
            if let (Some(id), Value::Object(fields)) = (id, &mut output) {
                let detail = revoke_auth_detail(&services, &ctx, &id).await?;
                fields.insert("DvRevokeAuthDetail".into(), Value::Array(detail));
            }
            Ok(output)
        }
    });
}

/// Returns the `DvAuths` items of the validations of a certificate's latest revocation
/// request, or none when there is no such request.
async fn revoke_auth_detail(services: &Services, ctx: &RequestContext, id: &str) -> Result<Vec<Value>, ApiError> {
    let Some(request) = services.store.revocation_request(id).await.map_err(|error| store_failure(ctx, &error))? else {
        return Ok(Vec::new());
    };
    let rows = services.store.validations_of(id, PURPOSE_REVOKE).await.map_err(|error| store_failure(ctx, &error))?;
    Ok(rows
        .iter()
        .filter(|row| row.created_at >= request.created_at)
        .map(|row| {
            json!({
                "DvAuthKey": row.record_key,
                "DvAuthValue": row.token,
                "DvAuthDomain": row.domain.strip_prefix("*.").unwrap_or(&row.domain),
                "DvAuthPath": if row.verify_type == "FILE" { Value::String(row.path.clone()) } else { Value::Null },
                "DvAuthSubDomain": row.sub_domain,
                "DvAuthVerifyType": row.verify_type,
            })
        })
        .collect())
}

/// Checks that a certificate may be deleted now (Unix seconds).
fn check_deletable(services: &Services, record: &CertificateRecord, now: i64) -> Result<(), ApiError> {
    let id = &record.id;
    if record.source == CertificateSource::Issued {
        match record.status {
            CertificateStatus::Issued if record.not_after.is_some_and(|not_after| not_after > now) => {
                return Err(ApiError::new(
                    FAILED_OPERATION_CANNOT_DELETE_ISSUED,
                    format!("certificate {id} is issued and has not expired; revoke it with RevokeCertificate before deleting it"),
                ));
            }
            CertificateStatus::Revoking | CertificateStatus::AwaitingRevokeLetter => {
                return Err(ApiError::new(
                    FAILED_OPERATION_CANNOT_DELETE_ISSUED,
                    format!("certificate {id} has a revocation request in progress; delete it once it is revoked"),
                ));
            }
            CertificateStatus::Reviewing | CertificateStatus::DnsRecordAdded | CertificateStatus::Reissuing | CertificateStatus::Migrating => {
                return Err(ApiError::new(
                    FAILED_OPERATION_INVALID_STATUS,
                    format!(
                        "certificate {id} is in status {} ({}); cancel the order with CancelCertificateOrder before deleting it",
                        record.status.code(),
                        record.status
                    ),
                ));
            }
            _ => {}
        }
    }
    let free = services.catalogue.get(record.product_id).is_ok_and(|product| product.free);
    let age = now - record.created_at;
    if free && record.source == CertificateSource::Issued && record.status != CertificateStatus::Revoked && age < FREE_DELETE_DELAY_SECONDS {
        return Err(ApiError::new(
            FAILED_OPERATION_CANNOT_DELETE_WITHIN_HOUR,
            format!(
                "certificate {id} is a free certificate applied for {} minutes ago; it can be deleted one hour after its application",
                age / 60
            ),
        ));
    }
    Ok(())
}

/// Deletes one certificate visible to the caller, after checking the deletion rules.
async fn delete_one(services: &Services, ctx: &RequestContext, id: &str) -> Result<(), ApiError> {
    let record = services.visible_certificate(ctx, id).await?;
    let now = services.now();
    check_deletable(services, &record, now)?;
    let actor = actor(ctx);
    let log = LogEntry { actor: &actor, action: "delete", detail: "", at: now };
    let deleted = services.store.delete_certificate(id, &log).await.map_err(|error| store_failure(ctx, &error))?;
    if !deleted {
        return Err(ApiError::certificate_not_found(id));
    }
    tracing::info!(request_id = %ctx.request_id, certificate_id = %id, actor = %actor, "certificate deleted");
    Ok(())
}

async fn delete_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    // NOTE: certkeeper binds no cloud resources, so the resource check always passes and the
    // deletion is synchronous.
    params.optional_bool("IsCheckResource")?;
    delete_one(&services, &ctx, &id).await?;
    Ok(json!({ "DeleteResult": true, "TaskId": Value::Null }))
}

async fn delete_certificates(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let ids = params.required_string_array("CertificateIds")?;
    params.optional_bool("IsSync")?;
    if ids.is_empty() || ids.len() > MAX_DELETE_IDS {
        return Err(ApiError::invalid_parameter_value(
            "CertificateIds",
            format!("{} ids given; give 1 to {MAX_DELETE_IDS}", ids.len()),
        ));
    }
    let mut success = Vec::new();
    let mut fail = Vec::new();
    for id in &ids {
        match delete_one(&services, &ctx, id).await {
            Ok(()) => success.push(Value::String(id.clone())),
            Err(error) if error.code == codes::INTERNAL_ERROR => return Err(error),
            Err(error) => fail.push(json!({ "CertId": id, "Msg": error.message })),
        }
    }
    Ok(json!({ "Success": success, "Fail": fail, "CertTaskIds": [] }))
}

fn require_reviewer(ctx: &RequestContext) -> Result<(), ApiError> {
    match ctx.role {
        Role::Reviewer | Role::Admin => Ok(()),
        Role::User => Err(ApiError::unauthorized_operation(format!(
            "{} needs an account with the role reviewer or admin",
            ctx.action
        ))),
    }
}

fn review_json(review: &ReviewRow) -> Value {
    json!({
        "ReviewId": review.id,
        "CertificateId": review.certificate_id,
        "Kind": review.kind,
        "State": review.state,
        "Reason": review.reason,
        "ReasonCode": review.reason_code,
        "DecisionReason": review.decision_reason,
        "DecidedBy": review.decided_by,
        "DecidedAt": review.decided_at.map(api_time),
        "CreatedAt": api_time(review.created_at),
        "RemindedAt": review.reminded_at.map(api_time),
    })
}

async fn upload_letter(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let revocations = revocation_service(&services)?;
    let id = params.required_string("CertificateId")?;
    let encoded = params.required_string("RevokeLetter")?;
    let content = decode_letter(&encoded)?;
    services.visible_certificate(&ctx, &id).await?;
    revocations
        .upload_letter(&id, &content, &actor(&ctx), now_of(&services))
        .await
        .map_err(|error| revoke_failure(&ctx, error))?;
    Ok(json!({ "CertificateId": id, "IsSuccess": true }))
}

/// Decodes the base64 letter, tolerating line breaks and a `data:` URL prefix.
fn decode_letter(encoded: &str) -> Result<Vec<u8>, ApiError> {
    let body = encoded.trim();
    let body = match body.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or(rest, |(_, data)| data),
        None => body,
    };
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64_STANDARD.decode(compact.as_bytes()).map_err(|error| {
        ApiError::invalid_parameter_value(
            "RevokeLetter",
            format!("RevokeLetter is not valid base64 ({error}); send the file's bytes encoded in standard base64"),
        )
    })
}

async fn remind_reviewers(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let revocations = revocation_service(&services)?;
    let id = params.required_string("CertificateId")?;
    services.visible_certificate(&ctx, &id).await?;
    let reminder = revocations.remind(&id, &actor(&ctx), now_of(&services)).await.map_err(|error| revoke_failure(&ctx, error))?;
    Ok(json!({
        "CertificateId": id,
        "ReviewId": reminder.review.id,
        "RemindedAt": reminder.review.reminded_at.map(api_time),
        "NextReminderAt": api_time(reminder.next_at),
    }))
}

async fn describe_letter(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    require_reviewer(&ctx)?;
    let revocations = revocation_service(&services)?;
    let review_id = read_review_id(&params)?;
    let letter = revocations.letter(review_id).await.map_err(|error| revoke_failure(&ctx, error))?.ok_or_else(|| {
        ApiError::new(RESOURCE_NOT_FOUND, format!("review {review_id} has no letter; the owner has not uploaded one yet"))
    })?;
    Ok(json!({
        "ReviewId": review_id,
        "CertificateId": letter.certificate_id,
        "Kind": letter.kind,
        "ContentType": letter.content_type,
        "Size": letter.content.len(),
        "Sha256": letter.sha256,
        "UploadedBy": letter.uploaded_by,
        "UploadedAt": api_time(letter.uploaded_at),
        "Content": BASE64_STANDARD.encode(&letter.content),
    }))
}

async fn describe_reviews(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    require_reviewer(&ctx)?;
    let revocations = revocation_service(&services)?;
    let state = params.optional_string("State")?.map(|state| state.trim().to_ascii_lowercase()).filter(|state| !state.is_empty());
    if let Some(state) = &state
        && !["pending", "approved", "rejected"].contains(&state.as_str())
    {
        return Err(ApiError::invalid_parameter_value("State", format!("unknown state {state:?}; use pending, approved or rejected")));
    }
    let offset = params.optional_unsigned("Offset")?.unwrap_or(0);
    let limit = params.optional_unsigned("Limit")?.unwrap_or(DEFAULT_REVIEW_LIMIT).min(MAX_REVIEW_LIMIT);
    let reviews = revocations.reviews(state.as_deref()).await.map_err(|error| revoke_failure(&ctx, error))?;
    let page: Vec<Value> = reviews
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(review_json)
        .collect();
    Ok(json!({ "TotalCount": reviews.len(), "Reviews": page }))
}

fn read_review_id(params: &Params) -> Result<i64, ApiError> {
    params.required_integer("ReviewId")
}

async fn approve_review(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    require_reviewer(&ctx)?;
    let revocations = revocation_service(&services)?;
    let review_id = read_review_id(&params)?;
    let reviewer = actor(&ctx);
    let row = revocations.approve(review_id, &reviewer, now_of(&services)).await.map_err(|error| revoke_failure(&ctx, error))?;
    Ok(json!({
        "ReviewId": review_id,
        "CertificateId": row.certificate_id,
        "Status": CertificateStatus::Revoked.code(),
    }))
}

async fn reject_review(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    require_reviewer(&ctx)?;
    let revocations = revocation_service(&services)?;
    let review_id = read_review_id(&params)?;
    let reason = params.optional_string("Reason")?.unwrap_or_default();
    let reviewer = actor(&ctx);
    let review = revocations
        .reject(review_id, &reviewer, reason.trim(), now_of(&services))
        .await
        .map_err(|error| revoke_failure(&ctx, error))?;
    Ok(json!({
        "ReviewId": review_id,
        "CertificateId": review.certificate_id,
        "Status": CertificateStatus::Issued.code(),
    }))
}
