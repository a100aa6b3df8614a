//! Owner revocation requests, the reviews that decide some of them, and certificate deletion.

use certkeeper_core::CertificateStatus;
use sqlx::SqliteConnection;

use crate::certificates::append_log;
use crate::{LogEntry, NewRevocation, NewValidation, RevocationRow, Store, StoreError};

/// Kind of a review of a revocation request decided on its reason alone.
pub const REVIEW_KIND_REVOKE: &str = "revoke";
/// Kind of a review of a revocation request that needs a signed confirmation letter.
pub const REVIEW_KIND_REVOKE_LETTER: &str = "revoke-letter";
/// Kind of a review of a revocation request that needs a signed application form.
pub const REVIEW_KIND_REVOKE_FORM: &str = "revoke-form";

/// A revocation request to store with the change to status 9 (revoking).
#[derive(Clone, Debug)]
pub struct NewRevocationRequest<'a> {
    /// Revocation policy of the product, such as `domain-validation`.
    pub policy: &'a str,
    /// RFC 5280 CRLReason code that the final revocation records.
    pub reason_code: i64,
    /// The owner's reason text.
    pub reason: &'a str,
    pub requested_by: &'a str,
    /// Validations (purpose `revoke`) that must pass before the revocation is made.
    pub validations: &'a [NewValidation],
    /// Kind of the pending review row to create when a reviewer decides the request, such as
    /// [`REVIEW_KIND_REVOKE`].
    pub review_kind: Option<&'a str>,
    /// Whether the request waits for a letter: the certificate moves on from status 9 to 12
    /// (awaiting the revocation letter) in the same transaction.
    pub awaiting_letter: bool,
    /// Status message shown while the request is pending.
    pub status_message: &'a str,
}

/// A stored revocation request.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRequestRow {
    pub certificate_id: String,
    pub policy: String,
    pub reason_code: i64,
    pub reason: String,
    pub requested_by: String,
    pub created_at: i64,
}

/// A stored review.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ReviewRow {
    pub id: i64,
    pub certificate_id: String,
    pub kind: String,
    /// `pending`, `approved` or `rejected`.
    pub state: String,
    pub reason: String,
    pub reason_code: i64,
    pub decision_reason: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub created_at: i64,
    /// When reviewers were last reminded of this review, Unix seconds.
    pub reminded_at: Option<i64>,
}

/// A letter or application form to attach to a pending revocation review.
#[derive(Clone, Debug)]
pub struct NewRevocationLetter<'a> {
    pub review_id: i64,
    /// `confirmation-letter` or `application-form`.
    pub kind: &'a str,
    pub content_type: &'a str,
    pub content: &'a [u8],
    pub sha256: &'a str,
    pub uploaded_by: &'a str,
}

/// A stored revocation letter.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationLetterRow {
    pub review_id: i64,
    pub certificate_id: String,
    pub kind: String,
    pub content_type: String,
    pub content: Vec<u8>,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: i64,
}

/// Outcome of [`Store::attach_revocation_letter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterAttached {
    /// The first letter of the review; the certificate moved from status 12 to 9.
    First,
    /// A new letter replaced the earlier one.
    Replaced,
    /// The review already has a letter and replacing is not allowed; nothing changed.
    AlreadyUploaded,
    /// The review is no longer pending; nothing changed.
    NotPending,
}

impl Store {
    /// Moves an issued certificate to status 9 (revoking) and stores the request, its
    /// validations, its review row when one is needed, and the log row, in one transaction.
    /// Returns the id of the new review, if any.
    ///
    /// The update only matches a live certificate in status 1, so two concurrent requests
    /// cannot both succeed; the loser gets [`StoreError::StatusChanged`].
    pub async fn start_revocation(
        &self,
        certificate_id: &str,
        request: &NewRevocationRequest<'_>,
        log: &LogEntry<'_>,
    ) -> Result<Option<i64>, StoreError> {
        let (from, to) = (CertificateStatus::Issued, CertificateStatus::Revoking);
        let mut tx = self.pool.begin().await?;
        move_status(&mut tx, certificate_id, from, to, request.status_message, log.at).await?;
        let to = if request.awaiting_letter {
            move_status(&mut tx, certificate_id, to, CertificateStatus::AwaitingRevokeLetter, request.status_message, log.at).await?;
            CertificateStatus::AwaitingRevokeLetter
        } else {
            to
        };
        sqlx::query(
            "INSERT INTO revocation_requests (certificate_id, policy, reason_code, reason, requested_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (certificate_id) DO UPDATE SET policy = excluded.policy, \
             reason_code = excluded.reason_code, reason = excluded.reason, requested_by = excluded.requested_by, \
             created_at = excluded.created_at",
        )
        .bind(certificate_id)
        .bind(request.policy)
        .bind(request.reason_code)
        .bind(request.reason)
        .bind(request.requested_by)
        .bind(log.at)
        .execute(&mut *tx)
        .await?;
        crate::validations::insert_validation_rows(&mut tx, certificate_id, request.validations).await?;
        let review_id = if let Some(kind) = request.review_kind {
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO reviews (certificate_id, kind, state, reason, reason_code, created_at) \
                 VALUES ($1, $2, 'pending', $3, $4, $5) RETURNING id",
            )
            .bind(certificate_id)
            .bind(kind)
            .bind(request.reason)
            .bind(request.reason_code)
            .bind(log.at)
            .fetch_one(&mut *tx)
            .await?;
            Some(id)
        } else {
            None
        };
        append_log(&mut tx, certificate_id, None, Some(from), Some(to), log).await?;
        tx.commit().await?;
        Ok(review_id)
    }

    /// Returns the latest revocation request of a certificate, if any.
    pub async fn revocation_request(&self, certificate_id: &str) -> Result<Option<RevocationRequestRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM revocation_requests WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Returns the reviews in one state (every state when `None`), oldest first.
    pub async fn reviews(&self, state: Option<&str>) -> Result<Vec<ReviewRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM reviews WHERE $1 IS NULL OR state = $1 ORDER BY id")
            .bind(state)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Returns one review, if it exists.
    pub async fn review(&self, id: i64) -> Result<Option<ReviewRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM reviews WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Approves a pending revocation review and revokes its certificate (status 9 to 10) with
    /// the revocation row and the log row, in one transaction, together with the certificates
    /// reissued from it. Returns `None`, with nothing changed, when the review is no longer
    /// pending.
    pub async fn approve_review(
        &self,
        review_id: i64,
        decided_by: &str,
        revocation: &NewRevocation<'_>,
        log: &LogEntry<'_>,
        shard_of: crate::ShardOf<'_>,
    ) -> Result<Option<RevocationRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(certificate_id) = decide(&mut tx, review_id, "approved", decided_by, "", log.at).await? else {
            return Ok(None);
        };
        let (from, to) = (CertificateStatus::Revoking, CertificateStatus::Revoked);
        move_status(&mut tx, &certificate_id, from, to, "", log.at).await?;
        let row = crate::revocations::insert_revocation_row(&mut tx, revocation).await?;
        append_log(&mut tx, &certificate_id, None, Some(from), Some(to), log).await?;
        crate::lifecycle::revoke_reissues(&mut tx, &certificate_id, revocation, log, shard_of).await?;
        tx.commit().await?;
        Ok(Some(row))
    }

    /// Rejects a pending revocation review and returns its certificate to status 1 with
    /// `status_message`, with the log row, in one transaction. Returns false, with nothing
    /// changed, when the review is no longer pending.
    pub async fn reject_review(
        &self,
        review_id: i64,
        decided_by: &str,
        decision_reason: &str,
        status_message: &str,
        log: &LogEntry<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(certificate_id) = decide(&mut tx, review_id, "rejected", decided_by, decision_reason, log.at).await? else {
            return Ok(false);
        };
        let from = current_status(&mut tx, &certificate_id).await?;
        let from = if from == CertificateStatus::AwaitingRevokeLetter { from } else { CertificateStatus::Revoking };
        let to = CertificateStatus::Issued;
        move_status(&mut tx, &certificate_id, from, to, status_message, log.at).await?;
        append_log(&mut tx, &certificate_id, None, Some(from), Some(to), log).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Returns the pending review of a certificate, if it has one.
    pub async fn pending_review_of(&self, certificate_id: &str) -> Result<Option<ReviewRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM reviews WHERE certificate_id = $1 AND state = 'pending' ORDER BY id DESC LIMIT 1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Stores the letter of a pending review with its log row, in one transaction. The first
    /// letter moves the certificate from status 12 (awaiting the letter) to 9 (revoking), where
    /// the reviewer decides. With `replace` false a second letter is refused.
    pub async fn attach_revocation_letter(
        &self,
        letter: &NewRevocationLetter<'_>,
        replace: bool,
        status_message: &str,
        log: &LogEntry<'_>,
    ) -> Result<LetterAttached, StoreError> {
        let mut tx = self.pool.begin().await?;
        let review: Option<(String,)> = sqlx::query_as("SELECT certificate_id FROM reviews WHERE id = $1 AND state = 'pending'")
            .bind(letter.review_id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some((certificate_id,)) = review else {
            return Ok(LetterAttached::NotPending);
        };
        let existing: Option<(i64,)> = sqlx::query_as("SELECT review_id FROM revocation_letters WHERE review_id = $1")
            .bind(letter.review_id)
            .fetch_optional(&mut *tx)
            .await?;
        if existing.is_some() && !replace {
            return Ok(LetterAttached::AlreadyUploaded);
        }
        sqlx::query(
            "INSERT INTO revocation_letters (review_id, certificate_id, kind, content_type, content, sha256, uploaded_by, \
             uploaded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (review_id) DO UPDATE SET \
             content_type = excluded.content_type, content = excluded.content, sha256 = excluded.sha256, \
             uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at",
        )
        .bind(letter.review_id)
        .bind(&certificate_id)
        .bind(letter.kind)
        .bind(letter.content_type)
        .bind(letter.content)
        .bind(letter.sha256)
        .bind(letter.uploaded_by)
        .bind(log.at)
        .execute(&mut *tx)
        .await?;
        let outcome = if existing.is_some() {
            append_log(&mut tx, &certificate_id, None, None, None, log).await?;
            LetterAttached::Replaced
        } else {
            let (from, to) = (CertificateStatus::AwaitingRevokeLetter, CertificateStatus::Revoking);
            move_status(&mut tx, &certificate_id, from, to, status_message, log.at).await?;
            append_log(&mut tx, &certificate_id, None, Some(from), Some(to), log).await?;
            LetterAttached::First
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Returns the letter of a review, if one was uploaded.
    pub async fn revocation_letter(&self, review_id: i64) -> Result<Option<RevocationLetterRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM revocation_letters WHERE review_id = $1")
            .bind(review_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records a reminder of a pending review at `at` unless the last one was sent after
    /// `not_after_last` (Unix seconds), with its log row, in one transaction. Returns false,
    /// with nothing changed, when the review is not pending or was reminded too recently.
    pub async fn remind_review(&self, review_id: i64, not_after_last: i64, log: &LogEntry<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String,)> = sqlx::query_as(
            "UPDATE reviews SET reminded_at = $1 WHERE id = $2 AND state = 'pending' \
             AND (reminded_at IS NULL OR reminded_at <= $3) RETURNING certificate_id",
        )
        .bind(log.at)
        .bind(review_id)
        .bind(not_after_last)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((certificate_id,)) = row else {
            return Ok(false);
        };
        append_log(&mut tx, &certificate_id, None, None, None, log).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks a live certificate as deleted and appends the log row, in one transaction. Lists
    /// no longer show it, while its serial stays in the CRL and OCSP tables. Returns false when
    /// the certificate does not exist or is already deleted.
    pub async fn delete_certificate(&self, certificate_id: &str, log: &LogEntry<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query("UPDATE certificates SET deleted_at = $1, updated_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(log.at)
            .bind(certificate_id)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        append_log(&mut tx, certificate_id, None, None, None, log).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Returns the time a certificate was deleted, `None` while it is live, and
    /// [`StoreError::NotFound`] for an unknown id.
    pub async fn deleted_at(&self, certificate_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(Option<i64>,)> = sqlx::query_as("SELECT deleted_at FROM certificates WHERE id = $1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(deleted_at,)| deleted_at).ok_or_else(|| StoreError::NotFound { id: certificate_id.to_owned() })
    }
}

/// Moves a live certificate from `from` to `to`, or fails with [`StoreError::StatusChanged`]
/// or [`StoreError::NotFound`].
async fn move_status(
    tx: &mut SqliteConnection,
    certificate_id: &str,
    from: CertificateStatus,
    to: CertificateStatus,
    status_message: &str,
    at: i64,
) -> Result<(), StoreError> {
    let updated = sqlx::query(
        "UPDATE certificates SET status = $1, status_message = $2, updated_at = $3 \
         WHERE id = $4 AND status = $5 AND deleted_at IS NULL",
    )
    .bind(i64::from(to.code()))
    .bind(status_message)
    .bind(at)
    .bind(certificate_id)
    .bind(i64::from(from.code()))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() > 0 {
        return Ok(());
    }
    let found: Option<(i64,)> = sqlx::query_as("SELECT status FROM certificates WHERE id = $1 AND deleted_at IS NULL")
        .bind(certificate_id)
        .fetch_optional(&mut *tx)
        .await?;
    Err(match found.and_then(|(code,)| CertificateStatus::from_code(code as u64)) {
        Some(found) => StoreError::StatusChanged { id: certificate_id.to_owned(), expected: from, found },
        None => StoreError::NotFound { id: certificate_id.to_owned() },
    })
}

/// Returns the status of a live certificate.
async fn current_status(tx: &mut SqliteConnection, certificate_id: &str) -> Result<CertificateStatus, StoreError> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT status FROM certificates WHERE id = $1 AND deleted_at IS NULL")
        .bind(certificate_id)
        .fetch_optional(&mut *tx)
        .await?;
    found
        .and_then(|(code,)| u64::try_from(code).ok())
        .and_then(CertificateStatus::from_code)
        .ok_or_else(|| StoreError::NotFound { id: certificate_id.to_owned() })
}

/// Records the decision on a pending review and returns its certificate id, or `None` when
/// the review is unknown or already decided.
async fn decide(
    tx: &mut SqliteConnection,
    review_id: i64,
    state: &str,
    decided_by: &str,
    decision_reason: &str,
    at: i64,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as(
        "UPDATE reviews SET state = $1, decided_by = $2, decision_reason = $3, decided_at = $4 \
         WHERE id = $5 AND state = 'pending' RETURNING certificate_id",
    )
    .bind(state)
    .bind(decided_by)
    .bind(decision_reason)
    .bind(at)
    .bind(review_id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(id,)| id))
}
