//! Revocation requested by a certificate's owner, and the reviews that decide some requests.
//!
//! An accepted request moves the certificate from status 1 (issued) to 9 (revoking), after
//! which it can no longer be downloaded and the request cannot be withdrawn. How it ends
//! depends on the product's [`RevocationPolicy`]:
//!
//! * `domain-validation`: the owner proves control of every domain again, with the method the
//!   certificate was validated with. The order scheduler rechecks these validations (purpose
//!   `revoke`). When all pass the certificate is revoked (status 10), and when a token expires
//!   first it returns to status 1 with a status message that gives the reason.
//! * `review-only`: a reviewer approves (status 10) or rejects (status 1) the request.
//! * `confirmation-letter` and `application-form`: the certificate waits in status 12 for a
//!   signed letter (or form), which [`RevocationService::upload_letter`] checks and attaches to
//!   the pending review. The certificate then returns to status 9 and a reviewer decides. A
//!   certificate of a confirmation-letter product validated by automatic DNS (with its zone
//!   still configured) or by file is revoked through domain validation instead, with no letter.
//!
//! Owners may remind reviewers of a pending review at most once per hour.
//!
//! The running server publishes every committed revocation in its CRLs and OCSP responses.

use std::sync::Arc;

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, DnsName, RevocationPolicy, SerialNumber, ValidationMethod};
use certkeeper_store::{
    LetterAttached, LogEntry, NewRevocation, NewRevocationLetter, NewRevocationRequest, NewValidation, REVIEW_KIND_REVOKE,
    REVIEW_KIND_REVOKE_FORM, REVIEW_KIND_REVOKE_LETTER, ReviewRow, RevocationLetterRow, RevocationRow, Store, StoreError,
    ValidationRow,
};
use certkeeper_va::{Challenge, DnsAutoPublish, Validator};
use time::OffsetDateTime;

use crate::issuance::IssuanceService;
use crate::letter::{LetterFormat, LetterProblem, LetterRules};
use crate::orders::{OrderError, challenge_from_row};

/// Purpose of validations made for a revocation request.
pub const PURPOSE_REVOKE: &str = "revoke";

/// RFC 5280 reason codes an owner may give: unspecified, keyCompromise, affiliationChanged,
/// superseded and cessationOfOperation. certificateHold (6) and removeFromCRL (8) would make
/// a revocation undoable, and 7 is unassigned.
pub const OWNER_REASON_CODES: [u8; 5] = [0, 1, 3, 4, 5];

/// Status message while the owner proves domain control for a revocation.
pub const PENDING_REVOKE_DCV: &str = "PENDING-REVOKE-DCV";

/// Status message while a reviewer decides a revocation request.
pub const PENDING_REVOKE_REVIEW: &str = "PENDING-REVOKE-REVIEW";

/// Status message while a revocation request waits for the owner's letter or form.
pub const PENDING_REVOKE_LETTER: &str = "PENDING-REVOKE-LETTER";

/// Owners may remind reviewers of one pending review once in this many seconds (an hour).
pub const REMINDER_INTERVAL_SECONDS: i64 = 3600;

/// Error from a revocation request or a review decision.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    #[error("certificate {id} does not exist")]
    NotFound { id: String },
    #[error("certificate {id} was uploaded, not issued by certkeeper, so certkeeper cannot revoke it")]
    Uploaded { id: String },
    #[error("certificate {id} is already revoked")]
    AlreadyRevoked { id: String },
    #[error("certificate {id} already has a revocation request in progress, which cannot be withdrawn")]
    AlreadyRevoking { id: String },
    #[error("certificate {id} is in status {} ({status}); only issued certificates (status 1) can be revoked", status.code())]
    WrongStatus { id: String, status: CertificateStatus },
    #[error("certificate {id} has expired; expired certificates are not revoked")]
    Expired { id: String },
    #[error("certificate {id} is a reissue of certificate {original}; revoke {original}, which revokes its reissue too")]
    Reissued { id: String, original: String },
    #[error("certificate {id} expires within 30 days and waits for its renewal {renewal}; it cannot be revoked")]
    AwaitingRenewal { id: String, renewal: String },
    #[error("certificate {id} was issued before {date}, so an operator must revoke it; contact the operator")]
    OperatorOnly { id: String, date: time::Date },
    #[error("reason code {code} is not allowed; an owner may give 0, 1, 3, 4 or 5 (RFC 5280 reason codes)")]
    ReasonCode { code: i64 },
    #[error("a reason is required: a reviewer decides revocations of certificate {id} on the stated reason")]
    ReasonRequired { id: String },
    #[error("certificate {id} needs no revocation letter: {detail}")]
    LetterNotNeeded { id: String, detail: String },
    #[error("the {noun} for certificate {id} was refused: {problem}")]
    Letter { id: String, noun: &'static str, problem: LetterProblem },
    #[error("the application form for certificate {id} was already uploaded, and a form can be uploaded once only; wait for the reviewer's decision")]
    FormAlreadyUploaded { id: String },
    #[error("review {review_id} has no {noun} yet; the owner of certificate {id} must upload it with UploadRevokeLetter before it can be approved")]
    LetterMissing { id: String, review_id: i64, noun: &'static str },
    #[error("certificate {id} has no revocation request waiting for a reviewer")]
    NoPendingReview { id: String },
    #[error("reviewers of review {review_id} were reminded at {last}; the next reminder can be sent from {next} (one per hour)")]
    RemindTooSoon { review_id: i64, last: String, next: String },
    #[error("review {id} does not exist")]
    ReviewNotFound { id: i64 },
    #[error("review {id} is already {state}")]
    ReviewDecided { id: i64, state: String },
    #[error("a rejection needs a reason")]
    RejectionReasonRequired,
    #[error("the stored certificate {id} is incomplete: {detail}")]
    Incomplete { id: String, detail: &'static str },
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A revocation request by a certificate's owner.
#[derive(Clone, Debug)]
pub struct RevokeRequest {
    /// The requester, as written in the operation log: `account:<id>`.
    pub actor: String,
    /// RFC 5280 reason code; one of [`OWNER_REASON_CODES`].
    pub reason_code: i64,
    /// Free text; required by the policies that a reviewer decides.
    pub reason: String,
}

/// The next step of an accepted revocation request.
#[derive(Clone, Debug)]
pub enum RevokeOutcome {
    /// The owner must pass these validations.
    Validations(Vec<ValidationRow>),
    /// A reviewer decides the review with this id.
    Review { review_id: i64 },
    /// The owner must upload a letter or form (status 12); a reviewer then decides the review
    /// with this id.
    AwaitingLetter { review_id: i64, rules: LetterRules },
}

/// A reminder sent to the reviewers of a pending review.
#[derive(Clone, Debug)]
pub struct Reminder {
    pub review: ReviewRow,
    /// When the next reminder may be sent, Unix seconds.
    pub next_at: i64,
}

/// Receives the events of revocation requests that people should hear about. The service
/// calls it after the change is committed; a failure to deliver never undoes the change.
pub trait RevocationEvents: Send + Sync {
    /// Asks the reviewers to decide a pending review.
    fn remind_reviewers(&self, review: &ReviewRow);
    /// Reports a decided review: `approved` (the certificate is revoked) or `rejected`.
    fn review_decided(&self, review: &ReviewRow);
}

/// Writes the events to the log only.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogOnlyEvents;

impl RevocationEvents for LogOnlyEvents {
    fn remind_reviewers(&self, review: &ReviewRow) {
        tracing::info!(target: "audit", event = "remind_reviewers", review_id = review.id, certificate_id = %review.certificate_id, kind = %review.kind);
    }

    fn review_decided(&self, review: &ReviewRow) {
        tracing::info!(target: "audit", event = "review_decided", review_id = review.id, certificate_id = %review.certificate_id, state = %review.state);
    }
}

/// Accepts owner revocation requests, advances their validations and applies review decisions.
#[derive(Clone)]
pub struct RevocationService {
    store: Store,
    issuance: IssuanceService,
    validator: Arc<Validator>,
    events: Arc<dyn RevocationEvents>,
}

impl RevocationService {
    pub fn new(store: Store, issuance: IssuanceService, validator: Arc<Validator>) -> Self {
        RevocationService { store, issuance, validator, events: Arc::new(LogOnlyEvents) }
    }

    /// Sends reminders and review decisions to `events` instead of only the log.
    pub fn with_events(mut self, events: Arc<dyn RevocationEvents>) -> Self {
        self.events = events;
        self
    }

    /// Checks a request against the revocation rules and, when it is accepted, moves the
    /// certificate to status 9 with its validations or review in one transaction. Nothing is
    /// stored when a rule rejects the request.
    pub async fn request(&self, id: &str, request: &RevokeRequest, now: OffsetDateTime) -> Result<RevokeOutcome, RevokeError> {
        if !OWNER_REASON_CODES.iter().any(|&code| i64::from(code) == request.reason_code) {
            return Err(RevokeError::ReasonCode { code: request.reason_code });
        }
        let record = self.store.certificate(id).await?.ok_or_else(|| RevokeError::NotFound { id: id.to_owned() })?;
        let policy = self.check_revocable(&record, now)?;
        let policy = match policy {
            RevocationPolicy::ConfirmationLetter if self.validates_automatically(&record).await => {
                tracing::info!(certificate_id = %id, method = %record.validation_method.as_str(), "automatic validation is set up; domain validation replaces the confirmation letter");
                RevocationPolicy::DomainValidation
            }
            policy => policy,
        };
        let at = now.unix_timestamp();
        let log = LogEntry { actor: &request.actor, action: "revoke", detail: &request.reason, at };
        match policy {
            RevocationPolicy::DomainValidation => {
                let validations = self.new_validations(&record, now).await?;
                let stored = NewRevocationRequest {
                    policy: policy.as_str(),
                    reason_code: request.reason_code,
                    reason: &request.reason,
                    requested_by: &request.actor,
                    validations: &validations,
                    review_kind: None,
                    awaiting_letter: false,
                    status_message: PENDING_REVOKE_DCV,
                };
                self.store.start_revocation(id, &stored, &log).await?;
                tracing::info!(certificate_id = %id, reason_code = request.reason_code, "revocation requested; waiting for domain validation");
                Ok(RevokeOutcome::Validations(self.store.validations_of(id, PURPOSE_REVOKE).await?))
            }
            RevocationPolicy::ReviewOnly | RevocationPolicy::ConfirmationLetter | RevocationPolicy::ApplicationForm => {
                if request.reason.trim().is_empty() {
                    return Err(RevokeError::ReasonRequired { id: id.to_owned() });
                }
                let rules = LetterRules::of(policy);
                let (review_kind, status_message) = match policy {
                    RevocationPolicy::ConfirmationLetter => (REVIEW_KIND_REVOKE_LETTER, PENDING_REVOKE_LETTER),
                    RevocationPolicy::ApplicationForm => (REVIEW_KIND_REVOKE_FORM, PENDING_REVOKE_LETTER),
                    _ => (REVIEW_KIND_REVOKE, PENDING_REVOKE_REVIEW),
                };
                let stored = NewRevocationRequest {
                    policy: policy.as_str(),
                    reason_code: request.reason_code,
                    reason: &request.reason,
                    requested_by: &request.actor,
                    validations: &[],
                    review_kind: Some(review_kind),
                    awaiting_letter: rules.is_some(),
                    status_message,
                };
                let review_id = self.store.start_revocation(id, &stored, &log).await?.ok_or_else(|| RevokeError::Incomplete {
                    id: id.to_owned(),
                    detail: "the review row was not created",
                })?;
                tracing::info!(certificate_id = %id, review_id, kind = review_kind, reason_code = request.reason_code, "revocation requested; waiting for review");
                Ok(match rules {
                    Some(rules) => RevokeOutcome::AwaitingLetter { review_id, rules },
                    None => RevokeOutcome::Review { review_id },
                })
            }
        }
    }

    /// Returns whether the certificate's domains can be validated again without a letter,
    /// because it was validated by file, or by automatic DNS with every zone still configured.
    async fn validates_automatically(&self, record: &CertificateRecord) -> bool {
        match record.validation_method {
            ValidationMethod::File => true,
            ValidationMethod::DnsAuto => record.names.iter().all(|name| {
                DnsName::parse(name)
                    .ok()
                    .and_then(|domain| Challenge::new(domain, ValidationMethod::DnsAuto).ok())
                    .is_some_and(|challenge| self.validator.dns_auto_configured(&challenge))
            }),
            _ => false,
        }
    }

    /// Checks a letter or application form and attaches it to the pending review of a
    /// certificate in status 12, which moves it to status 9 for the reviewer. A confirmation
    /// letter may be replaced while the review is pending; an application form may not.
    pub async fn upload_letter(&self, id: &str, content: &[u8], actor: &str, now: OffsetDateTime) -> Result<LetterFormat, RevokeError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| RevokeError::NotFound { id: id.to_owned() })?;
        let (review, rules) = self.letter_review(&record).await?;
        let format = rules.check(content).map_err(|problem| RevokeError::Letter { id: id.to_owned(), noun: rules.noun, problem })?;
        let sha256 = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, content));
        let letter = NewRevocationLetter {
            review_id: review.id,
            kind: rules.kind,
            content_type: format.content_type(),
            content,
            sha256: &sha256,
            uploaded_by: actor,
        };
        let detail = format!("{} uploaded for review {}: {format}, {} bytes, sha256 {sha256}", rules.noun, review.id, content.len());
        let log = LogEntry { actor, action: "editRevokeLetter", detail: &detail, at: now.unix_timestamp() };
        match self.store.attach_revocation_letter(&letter, rules.replaceable, PENDING_REVOKE_REVIEW, &log).await? {
            LetterAttached::First | LetterAttached::Replaced => {
                tracing::info!(certificate_id = %id, review_id = review.id, kind = rules.kind, size = content.len(), "revocation letter stored");
                Ok(format)
            }
            LetterAttached::AlreadyUploaded => Err(RevokeError::FormAlreadyUploaded { id: id.to_owned() }),
            LetterAttached::NotPending => Err(RevokeError::NoPendingReview { id: id.to_owned() }),
        }
    }

    /// Returns the pending review of a certificate whose request needs a letter, with the rules
    /// for that letter.
    async fn letter_review(&self, record: &CertificateRecord) -> Result<(ReviewRow, LetterRules), RevokeError> {
        let id = record.id.clone();
        let needs_none = |detail: String| RevokeError::LetterNotNeeded { id: id.clone(), detail };
        if !matches!(record.status, CertificateStatus::AwaitingRevokeLetter | CertificateStatus::Revoking) {
            return Err(needs_none(format!(
                "it is in status {} ({}); a letter is accepted only while a revocation request waits for it (status 12)",
                record.status.code(),
                record.status
            )));
        }
        let review = self.store.pending_review_of(&record.id).await?;
        let request = self.store.revocation_request(&record.id).await?;
        let rules = request.as_ref().and_then(|request| policy_named(&request.policy)).and_then(LetterRules::of);
        match (review, rules) {
            (Some(review), Some(rules)) if review.kind == REVIEW_KIND_REVOKE_LETTER || review.kind == REVIEW_KIND_REVOKE_FORM => Ok((review, rules)),
            _ => Err(needs_none(
                "its revocation request is decided by domain validation or by a reviewer on the stated reason alone".to_owned(),
            )),
        }
    }

    /// Returns the letter attached to a review, if any.
    pub async fn letter(&self, review_id: i64) -> Result<Option<RevocationLetterRow>, RevokeError> {
        self.review(review_id).await?;
        Ok(self.store.revocation_letter(review_id).await?)
    }

    /// Reminds the reviewers of the pending review of a certificate. The store rejects a second
    /// reminder within [`REMINDER_INTERVAL_SECONDS`] of the last one.
    pub async fn remind(&self, id: &str, actor: &str, now: OffsetDateTime) -> Result<Reminder, RevokeError> {
        let review = self.store.pending_review_of(id).await?.ok_or_else(|| RevokeError::NoPendingReview { id: id.to_owned() })?;
        let at = now.unix_timestamp();
        let detail = format!("reviewers of review {} reminded", review.id);
        let log = LogEntry { actor, action: "remindReviewers", detail: &detail, at };
        if !self.store.remind_review(review.id, at - REMINDER_INTERVAL_SECONDS, &log).await? {
            let current = self.review(review.id).await?;
            let Some(last) = current.reminded_at.filter(|_| current.state == "pending") else {
                return Err(RevokeError::NoPendingReview { id: id.to_owned() });
            };
            return Err(RevokeError::RemindTooSoon {
                review_id: review.id,
                last: utc_text(last),
                next: utc_text(last + REMINDER_INTERVAL_SECONDS),
            });
        }
        let review = self.review(review.id).await?;
        self.events.remind_reviewers(&review);
        Ok(Reminder { next_at: at + REMINDER_INTERVAL_SECONDS, review })
    }

    /// Applies the owner revocation rules to a certificate and returns its product's policy.
    pub fn check_revocable(&self, record: &CertificateRecord, now: OffsetDateTime) -> Result<RevocationPolicy, RevokeError> {
        let id = record.id.clone();
        if record.source != CertificateSource::Issued {
            return Err(RevokeError::Uploaded { id });
        }
        match record.status {
            CertificateStatus::Issued => {}
            CertificateStatus::Revoked => return Err(RevokeError::AlreadyRevoked { id }),
            CertificateStatus::Revoking | CertificateStatus::AwaitingRevokeLetter => return Err(RevokeError::AlreadyRevoking { id }),
            CertificateStatus::Expired => return Err(RevokeError::Expired { id }),
            status => return Err(RevokeError::WrongStatus { id, status }),
        }
        let at = now.unix_timestamp();
        let not_after = record.not_after.ok_or_else(|| RevokeError::Incomplete { id: id.clone(), detail: "no notAfter" })?;
        if not_after <= at {
            return Err(RevokeError::Expired { id });
        }
        if let Some(original) = &record.reissued_from {
            return Err(RevokeError::Reissued { id, original: original.clone() });
        }
        // A certificate waiting for its renewal is replaced by it instead of revoked.
        if let Some(renewal) = &record.renewal_id
            && record.awaits_renewal(at)
        {
            return Err(RevokeError::AwaitingRenewal { id, renewal: renewal.clone() });
        }
        let product = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?;
        if let Some(date) = product.owner_revocation_not_before {
            let not_before = record.not_before.ok_or_else(|| RevokeError::Incomplete { id: id.clone(), detail: "no notBefore" })?;
            let first_allowed = date.midnight().assume_utc().unix_timestamp();
            if not_before < first_allowed {
                return Err(RevokeError::OperatorOnly { id, date });
            }
        }
        Ok(product.revocation_policy)
    }

    /// Builds one validation per domain with the method the certificate was validated with.
    /// DNS_AUTO records are published at once; a domain whose zone certkeeper cannot update,
    /// and a certificate issued without validation (method NONE), use DNS instead.
    async fn new_validations(&self, record: &CertificateRecord, now: OffsetDateTime) -> Result<Vec<NewValidation>, RevokeError> {
        let config = self.validator.config();
        let lifetime = time::Duration::try_from(config.token_lifetime).unwrap_or(time::Duration::days(3));
        let expires_at = (now + lifetime).unix_timestamp();
        let at = now.unix_timestamp();
        let later = at + config.recheck_interval.as_secs() as i64;
        let method = match record.validation_method {
            ValidationMethod::None => ValidationMethod::Dns,
            method => method,
        };
        let mut validations = Vec::new();
        for name in &record.names {
            let domain = DnsName::parse(name).map_err(|source| OrderError::Name { value: name.clone(), source })?;
            let mut challenge = Challenge::new(domain, method).map_err(OrderError::from)?;
            let mut first_check = later;
            if method == ValidationMethod::DnsAuto {
                match self.validator.publish_dns_auto(&challenge).await {
                    Ok(DnsAutoPublish::Published { zone, .. }) => {
                        tracing::info!(certificate_id = %record.id, domain = %name, zone = %zone, "revocation validation record published");
                        first_check = at;
                    }
                    Ok(DnsAutoPublish::ManualFallback { reason }) => {
                        tracing::info!(certificate_id = %record.id, domain = %name, %reason, "automatic DNS not available; the owner publishes the record");
                        challenge.method = ValidationMethod::Dns;
                    }
                    Err(error) => {
                        tracing::warn!(certificate_id = %record.id, domain = %name, %error, "automatic DNS update failed; the owner publishes the record");
                        challenge.method = ValidationMethod::Dns;
                    }
                }
            }
            validations.push(NewValidation {
                purpose: PURPOSE_REVOKE.to_owned(),
                domain: challenge.domain.to_string(),
                method: challenge.method.as_str().to_owned(),
                verify_type: challenge.verify_type.as_str().to_owned(),
                record_key: challenge.key.clone(),
                sub_domain: challenge.sub_domain.clone(),
                token: challenge.value.clone(),
                path: challenge.path.clone(),
                remove_after_issue: challenge.method == ValidationMethod::DnsAuto,
                next_check_at: first_check,
                expires_at,
            });
        }
        Ok(validations)
    }

    /// Returns the revocation validations of a certificate.
    pub async fn validations(&self, id: &str) -> Result<Vec<ValidationRow>, RevokeError> {
        Ok(self.store.validations_of(id, PURPOSE_REVOKE).await?)
    }

    /// Checks every pending revocation validation of a certificate in status 9 now. Revokes it
    /// when all have passed, and returns it to status 1 when one has expired. Returns the
    /// validations with their latest results.
    pub async fn check(&self, id: &str, now: OffsetDateTime) -> Result<Vec<ValidationRow>, RevokeError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| RevokeError::NotFound { id: id.to_owned() })?;
        if record.status != CertificateStatus::Revoking {
            return self.validations(id).await;
        }
        let at = now.unix_timestamp();
        let pending = self.validations(id).await?;
        crate::orders::check_pending(&self.store, &self.validator, &pending, at).await?;

        let rows = self.validations(id).await?;
        if let Some(expired) = rows.iter().find(|row| row.state == "expired") {
            let message = format!(
                "revocation not made: domain validation of {} expired before it passed (last result: {}). \
                 The certificate is usable again; request revocation again to retry",
                expired.domain, expired.reason
            );
            let log = LogEntry { actor: "system", action: "cancelRevoke", detail: &message, at };
            self.store.change_status(id, CertificateStatus::Revoking, CertificateStatus::Issued, &message, &log).await?;
            self.store.close_validations(id, PURPOSE_REVOKE, "invalid").await?;
            self.remove_dns_auto_records(&record).await;
            tracing::info!(certificate_id = %id, reason = %message, "revocation request expired");
        } else if !rows.is_empty() && rows.iter().all(|row| row.state == "valid") {
            let request = self.store.revocation_request(id).await?;
            let reason_code = request.as_ref().map_or(0, |request| request.reason_code);
            let detail = format!("domain validation passed, reason {reason_code}");
            let log = LogEntry { actor: "system", action: "revoked", detail: &detail, at };
            let revocation = self.revocation_of(&record, reason_code, at)?;
            let serial = revocation.serial.to_owned();
            let revocation = NewRevocation { serial: &serial, ..revocation };
            let shard_of = |serial: &str| self.shard_of(serial);
            self.store.revoke_certificate(id, CertificateStatus::Revoking, &revocation, &log, &shard_of).await?;
            self.remove_dns_auto_records(&record).await;
            tracing::info!(target: "audit", event = "revoked", certificate_id = %id, serial = %serial, reason_code, actor = "owner");
        }
        self.validations(id).await
    }

    /// Builds the revocation row of a certificate, revoked at `at` (Unix seconds).
    fn revocation_of<'a>(&self, record: &'a CertificateRecord, reason_code: i64, at: i64) -> Result<NewRevocation<'a>, RevokeError> {
        let incomplete = |detail| RevokeError::Incomplete { id: record.id.clone(), detail };
        let serial_hex = record.serial.as_deref().ok_or_else(|| incomplete("no serial"))?;
        let serial = SerialNumber::from_hex(serial_hex).ok_or_else(|| incomplete("the serial is not hex"))?;
        Ok(NewRevocation {
            serial: serial_hex,
            issuer_id: record.issuer_id.ok_or_else(|| incomplete("no issuer"))?,
            shard: i64::from(self.issuance.ca().urls().crl_shard(&serial)),
            certificate_id: Some(&record.id),
            revoked_at: at,
            reason_code,
            not_after: record.not_after.ok_or_else(|| incomplete("no notAfter"))?,
            created_at: at,
        })
    }

    /// Returns the CRL shard of a serial given as hex, for the reissues that a revocation of
    /// their original revokes too.
    fn shard_of(&self, serial_hex: &str) -> Option<i64> {
        let serial = SerialNumber::from_hex(serial_hex)?;
        Some(i64::from(self.issuance.ca().urls().crl_shard(&serial)))
    }

    async fn remove_dns_auto_records(&self, record: &CertificateRecord) {
        let Ok(rows) = self.validations(&record.id).await else { return };
        for row in rows.iter().filter(|row| row.remove_after_issue) {
            let Ok(challenge) = challenge_from_row(row) else { continue };
            if let Err(error) = self.validator.remove_dns_auto(&challenge).await {
                tracing::warn!(certificate_id = %record.id, domain = %row.domain, %error, "removing the revocation validation record failed");
            }
        }
    }

    /// Returns the reviews in one state, or all of them.
    pub async fn reviews(&self, state: Option<&str>) -> Result<Vec<ReviewRow>, RevokeError> {
        Ok(self.store.reviews(state).await?)
    }

    /// Returns one review.
    pub async fn review(&self, review_id: i64) -> Result<ReviewRow, RevokeError> {
        self.store.review(review_id).await?.ok_or(RevokeError::ReviewNotFound { id: review_id })
    }

    /// Approves a pending review: the certificate is revoked (status 10) with the reason code
    /// of its request.
    pub async fn approve(&self, review_id: i64, reviewer: &str, now: OffsetDateTime) -> Result<RevocationRow, RevokeError> {
        let review = self.pending_review(review_id).await?;
        let id = review.certificate_id.clone();
        let record = self.store.certificate(&id).await?.ok_or_else(|| RevokeError::NotFound { id: id.clone() })?;
        if record.status == CertificateStatus::AwaitingRevokeLetter {
            let noun = if review.kind == REVIEW_KIND_REVOKE_FORM { "application form" } else { "confirmation letter" };
            return Err(RevokeError::LetterMissing { id, review_id, noun });
        }
        let at = now.unix_timestamp();
        let revocation = self.revocation_of(&record, review.reason_code, at)?;
        let detail = format!("review {review_id} approved by {reviewer}, reason {}", review.reason_code);
        let log = LogEntry { actor: reviewer, action: "revoked", detail: &detail, at };
        let shard_of = |serial: &str| self.shard_of(serial);
        let row = self.store.approve_review(review_id, reviewer, &revocation, &log, &shard_of).await?;
        let row = row.ok_or_else(|| RevokeError::ReviewDecided { id: review_id, state: "decided".to_owned() })?;
        tracing::info!(target: "audit", event = "revoked", certificate_id = %id, review_id, serial = %row.serial, actor = reviewer);
        if let Ok(decided) = self.review(review_id).await {
            self.events.review_decided(&decided);
        }
        Ok(row)
    }

    /// Rejects a pending review: the certificate returns to status 1 with the reason in its
    /// status message.
    pub async fn reject(&self, review_id: i64, reviewer: &str, reason: &str, now: OffsetDateTime) -> Result<ReviewRow, RevokeError> {
        if reason.trim().is_empty() {
            return Err(RevokeError::RejectionReasonRequired);
        }
        self.pending_review(review_id).await?;
        let message = format!("revocation request rejected by the reviewer: {reason}");
        let detail = format!("review {review_id} rejected by {reviewer}: {reason}");
        let log = LogEntry { actor: reviewer, action: "cancelRevoke", detail: &detail, at: now.unix_timestamp() };
        if !self.store.reject_review(review_id, reviewer, reason, &message, &log).await? {
            return Err(RevokeError::ReviewDecided { id: review_id, state: "decided".to_owned() });
        }
        tracing::info!(review_id, reviewer, "revocation review rejected");
        let decided = self.review(review_id).await?;
        self.events.review_decided(&decided);
        Ok(decided)
    }

    async fn pending_review(&self, review_id: i64) -> Result<ReviewRow, RevokeError> {
        let review = self.review(review_id).await?;
        if review.state != "pending" {
            return Err(RevokeError::ReviewDecided { id: review_id, state: review.state });
        }
        Ok(review)
    }
}

/// Returns the policy with a configuration name.
fn policy_named(name: &str) -> Option<RevocationPolicy> {
    [
        RevocationPolicy::DomainValidation,
        RevocationPolicy::ConfirmationLetter,
        RevocationPolicy::ReviewOnly,
        RevocationPolicy::ApplicationForm,
    ]
    .into_iter()
    .find(|policy| policy.as_str() == name)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_text(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp(at).ok().and_then(|at| at.format(&format).ok()).unwrap_or_else(|| at.to_string())
}
