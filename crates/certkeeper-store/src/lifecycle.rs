//! Links between certificates: reissues and renewals, and what happens to the linked
//! certificates when an order issues, fails, is cancelled or is revoked.

use certkeeper_core::{CertificateRecord, CertificateStatus, ValidationMethod};
use sqlx::SqliteConnection;

use crate::certificates::{CERTIFICATE_COLUMNS, append_log, certificate_from_row, insert_certificate_rows, insert_log_rows};
use crate::jobs::enqueue_job_in;
use crate::revocations::insert_revocation_row;
use crate::validations::insert_validation_rows;
use crate::{LogEntry, NewJob, NewRevocation, NewValidation, RevocationRow, Store, StoreError};

/// Job kind that deletes the DNS_AUTO validation records of a cancelled order. Its payload is
/// `{"certificate_id": ID}`. A revocation enqueues it for each reissue order it cancels, in the
/// same transaction.
pub const KIND_DNS_AUTO_CLEANUP: &str = "dns_auto.cleanup";

/// Attempts of a `dns_auto.cleanup` job before it is marked dead.
pub const DNS_AUTO_CLEANUP_MAX_ATTEMPTS: i64 = 10;

/// Function that returns the CRL shard of a serial given as lower-case hex, or `None` when the
/// text is not a serial. The CA's URL scheme defines the shards, so the caller supplies it.
pub type ShardOf<'a> = &'a (dyn Fn(&str) -> Option<i64> + Sync);

/// Statuses of an order that has not produced a certificate yet.
const PENDING_ORDER_STATUSES: [CertificateStatus; 5] = [
    CertificateStatus::Reviewing,
    CertificateStatus::DnsRecordAdded,
    CertificateStatus::AwaitingSubmission,
    CertificateStatus::AwaitingConfirmLetter,
    CertificateStatus::FreeAwaitingSubmission,
];

impl Store {
    /// Stores a reissue order of `original_id` and moves the original from status 1 (issued) to
    /// 11 (reissuing) with `reissued_by` pointing at the new order, with both log rows, in one
    /// transaction.
    ///
    /// With `allow_repeat` false (free products) the update only matches an original that was
    /// never reissued, so two concurrent requests cannot both get the one reissue. When the
    /// original changed in the meantime, nothing is stored and the result is
    /// [`StoreError::StatusChanged`] or [`StoreError::NotFound`].
    pub async fn insert_reissue(
        &self,
        original_id: &str,
        record: &CertificateRecord,
        validations: &[NewValidation],
        allow_repeat: bool,
        log: &LogEntry<'_>,
    ) -> Result<(), StoreError> {
        let (from, to) = (CertificateStatus::Issued, CertificateStatus::Reissuing);
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE certificates SET status = $1, status_message = '', reissued_by = $2, updated_at = $3 \
             WHERE id = $4 AND status = $5 AND deleted_at IS NULL AND (reissued_by IS NULL OR $6)",
        )
        .bind(i64::from(to.code()))
        .bind(&record.id)
        .bind(log.at)
        .bind(original_id)
        .bind(i64::from(from.code()))
        .bind(allow_repeat)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(status_changed(&mut tx, original_id, from).await?);
        }
        insert_certificate_rows(&mut tx, std::slice::from_ref(record)).await?;
        insert_log_rows(&mut tx, std::slice::from_ref(record), log).await?;
        insert_validation_rows(&mut tx, &record.id, validations).await?;
        append_log(&mut tx, original_id, None, Some(from), Some(to), log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a renewal order of `old_id` and sets the old certificate's `renewal_id`, with the
    /// log rows, in one transaction. The update only matches a live, issued certificate without
    /// a renewal, so a certificate is never renewed twice. Otherwise nothing is stored and the
    /// result is [`StoreError::StatusChanged`] or [`StoreError::NotFound`].
    pub async fn insert_renewal(
        &self,
        old_id: &str,
        record: &CertificateRecord,
        validations: &[NewValidation],
        log: &LogEntry<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_renewal_rows(&mut tx, old_id, record, validations, log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores a paid order, or with `renewal_of` a paid renewal as [`Store::insert_renewal`]
    /// does, together with the number of domains it was ordered for, in one transaction.
    pub async fn insert_paid_order(
        &self,
        renewal_of: Option<&str>,
        record: &CertificateRecord,
        domain_count: i64,
        log: &LogEntry<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        match renewal_of {
            Some(old_id) => insert_renewal_rows(&mut tx, old_id, record, &[], log).await?,
            None => {
                insert_certificate_rows(&mut tx, std::slice::from_ref(record)).await?;
                insert_log_rows(&mut tx, std::slice::from_ref(record), log).await?;
            }
        }
        sqlx::query("INSERT INTO paid_order_domains (certificate_id, domain_count, created_at) VALUES ($1, $2, $3)")
            .bind(&record.id)
            .bind(domain_count)
            .bind(log.at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns the number of domains a paid order was placed for, if it was recorded.
    pub async fn ordered_domain_count(&self, certificate_id: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64,)> = sqlx::query_as("SELECT domain_count FROM paid_order_domains WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(count,)| count))
    }

    /// Returns up to `limit` live, issued certificates without a renewal whose notAfter lies in
    /// `(now, until]` and which carry AutoRenewFlag or have service term left after their
    /// notAfter, soonest notAfter first.
    pub async fn auto_renewal_candidates(&self, now: i64, until: i64, limit: i64) -> Result<Vec<CertificateRecord>, StoreError> {
        let query = format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates \
             WHERE deleted_at IS NULL AND renewal_id IS NULL AND (auto_renew = 1 OR term_ends_at IS NOT NULL) \
             AND status = $1 AND not_after > $2 AND not_after <= $3 AND (auto_renew = 1 OR term_ends_at > not_after) \
             ORDER BY not_after, id LIMIT $4"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(i64::from(CertificateStatus::Issued.code()))
            .bind(now)
            .bind(until)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(certificate_from_row).collect()
    }

    /// Returns the certificates reissued from `original_id`, deleted ones included, oldest
    /// first.
    pub async fn reissues_of(&self, original_id: &str) -> Result<Vec<CertificateRecord>, StoreError> {
        let query = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE reissued_from = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(query)).bind(original_id).fetch_all(&self.pool).await?;
        rows.iter().map(certificate_from_row).collect()
    }
}

/// Returns the error for a certificate that is no longer in `expected` or no longer live.
async fn status_changed(tx: &mut SqliteConnection, id: &str, expected: CertificateStatus) -> Result<StoreError, StoreError> {
    let found: Option<(i64,)> = sqlx::query_as("SELECT status FROM certificates WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    Ok(match found.and_then(|(code,)| CertificateStatus::from_code(code as u64)) {
        Some(found) => StoreError::StatusChanged { id: id.to_owned(), expected, found },
        None => StoreError::NotFound { id: id.to_owned() },
    })
}

/// Revokes, inside the caller's transaction, every issued certificate reissued from
/// `original_id` and cancels every reissue order of it that has no certificate yet. Each
/// revoked reissue gets its own revocation row with the original's time and reason code, so
/// CRLs and OCSP list it. Returns the new revocation rows.
pub(crate) async fn revoke_reissues(
    tx: &mut SqliteConnection,
    original_id: &str,
    original: &NewRevocation<'_>,
    log: &LogEntry<'_>,
    shard_of: ShardOf<'_>,
) -> Result<Vec<RevocationRow>, StoreError> {
    let query = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE reissued_from = $1 ORDER BY created_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(query)).bind(original_id).fetch_all(&mut *tx).await?;
    let reissues: Vec<CertificateRecord> = rows.iter().map(certificate_from_row).collect::<Result<_, _>>()?;
    let detail = format!("revoked with its original {original_id}: {}", log.detail);
    let cascade_log = LogEntry { detail: &detail, ..log.clone() };
    let cancel_detail = format!("cancelled because its original {original_id} was revoked");
    let cancel_log = LogEntry { action: "cancel", detail: &cancel_detail, ..log.clone() };

    let mut revoked = Vec::new();
    for reissue in &reissues {
        if PENDING_ORDER_STATUSES.contains(&reissue.status) {
            set_status(tx, &reissue.id, reissue.status, CertificateStatus::Cancelled, &cancel_detail, log.at).await?;
            sqlx::query("UPDATE validations SET state = 'invalid' WHERE certificate_id = $1 AND state = 'pending'")
                .bind(&reissue.id)
                .execute(&mut *tx)
                .await?;
            append_log(tx, &reissue.id, None, Some(reissue.status), Some(CertificateStatus::Cancelled), &cancel_log).await?;
            if reissue.validation_method == ValidationMethod::DnsAuto {
                let job = NewJob {
                    kind: KIND_DNS_AUTO_CLEANUP.to_owned(),
                    unique_key: format!("{KIND_DNS_AUTO_CLEANUP}:{}", reissue.id),
                    payload: serde_json::json!({ "certificate_id": reissue.id }).to_string(),
                    run_after: log.at,
                    max_attempts: DNS_AUTO_CLEANUP_MAX_ATTEMPTS,
                };
                enqueue_job_in(tx, &job, log.at).await?;
            }
            continue;
        }
        if reissue.status != CertificateStatus::Issued {
            continue;
        }
        let incomplete = |detail: &str| StoreError::Corrupt { what: format!("certificate {}", reissue.id), detail: detail.to_owned() };
        let serial = reissue.serial.as_deref().ok_or_else(|| incomplete("issued without a serial"))?;
        let revocation = NewRevocation {
            serial,
            issuer_id: reissue.issuer_id.ok_or_else(|| incomplete("issued without an issuer"))?,
            shard: shard_of(serial).ok_or_else(|| incomplete("the serial is not hex"))?,
            certificate_id: Some(&reissue.id),
            not_after: reissue.not_after.ok_or_else(|| incomplete("issued without notAfter"))?,
            ..original.clone()
        };
        set_status(tx, &reissue.id, CertificateStatus::Issued, CertificateStatus::Revoked, "", log.at).await?;
        revoked.push(insert_revocation_row(tx, &revocation).await?);
        append_log(tx, &reissue.id, None, Some(CertificateStatus::Issued), Some(CertificateStatus::Revoked), &cascade_log).await?;
    }
    Ok(revoked)
}

/// Updates the links, inside the caller's transaction, once the order `id` is issued: its
/// original leaves status 11 (reissuing) for 1 (issued).
pub(crate) async fn finish_reissue(tx: &mut SqliteConnection, id: &str, log: &LogEntry<'_>) -> Result<(), StoreError> {
    let original: Option<(String,)> = sqlx::query_as(
        "UPDATE certificates SET status = $1, updated_at = $2 \
         WHERE id = (SELECT reissued_from FROM certificates WHERE id = $3) AND status = $4 RETURNING id",
    )
    .bind(i64::from(CertificateStatus::Issued.code()))
    .bind(log.at)
    .bind(id)
    .bind(i64::from(CertificateStatus::Reissuing.code()))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((original_id,)) = original {
        let detail = format!("reissue {id} issued");
        let entry = LogEntry { action: "replace", detail: &detail, ..log.clone() };
        append_log(tx, &original_id, None, Some(CertificateStatus::Reissuing), Some(CertificateStatus::Issued), &entry).await?;
    }
    Ok(())
}

/// Updates the links, inside the caller's transaction, when the order `id` ends without a
/// certificate (failed or cancelled). An original that waited for this reissue returns to
/// status 1 and may be reissued again, and a certificate that waited for this renewal may be
/// renewed again.
pub(crate) async fn release_links(tx: &mut SqliteConnection, id: &str, log: &LogEntry<'_>) -> Result<(), StoreError> {
    let original: Option<(String,)> = sqlx::query_as(
        "UPDATE certificates SET status = $1, reissued_by = NULL, updated_at = $2 \
         WHERE reissued_by = $3 AND status = $4 RETURNING id",
    )
    .bind(i64::from(CertificateStatus::Issued.code()))
    .bind(log.at)
    .bind(id)
    .bind(i64::from(CertificateStatus::Reissuing.code()))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((original_id,)) = original {
        let detail = format!("reissue {id} ended without a certificate");
        let entry = LogEntry { action: "replace", detail: &detail, ..log.clone() };
        append_log(tx, &original_id, None, Some(CertificateStatus::Reissuing), Some(CertificateStatus::Issued), &entry).await?;
    }
    let old: Option<(String,)> = sqlx::query_as("UPDATE certificates SET renewal_id = NULL, updated_at = $1 WHERE renewal_id = $2 RETURNING id")
        .bind(log.at)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some((old_id,)) = old {
        let detail = format!("renewal {id} ended without a certificate");
        let entry = LogEntry { action: "renew", detail: &detail, ..log.clone() };
        append_log(tx, &old_id, None, None, None, &entry).await?;
    }
    Ok(())
}

async fn set_status(
    tx: &mut SqliteConnection,
    id: &str,
    from: CertificateStatus,
    to: CertificateStatus,
    status_message: &str,
    at: i64,
) -> Result<(), StoreError> {
    let updated = sqlx::query("UPDATE certificates SET status = $1, status_message = $2, updated_at = $3 WHERE id = $4 AND status = $5")
        .bind(i64::from(to.code()))
        .bind(status_message)
        .bind(at)
        .bind(id)
        .bind(i64::from(from.code()))
        .execute(&mut *tx)
        .await?;
    if updated.rows_affected() == 0 {
        return Err(status_changed(tx, id, from).await?);
    }
    Ok(())
}

/// Sets the old certificate's `renewal_id` and inserts the renewal order with its log rows.
async fn insert_renewal_rows(
    tx: &mut SqliteConnection,
    old_id: &str,
    record: &CertificateRecord,
    validations: &[NewValidation],
    log: &LogEntry<'_>,
) -> Result<(), StoreError> {
    let issued = CertificateStatus::Issued;
    let updated = sqlx::query(
        "UPDATE certificates SET renewal_id = $1, updated_at = $2 \
         WHERE id = $3 AND status = $4 AND deleted_at IS NULL AND renewal_id IS NULL",
    )
    .bind(&record.id)
    .bind(log.at)
    .bind(old_id)
    .bind(i64::from(issued.code()))
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(status_changed(tx, old_id, issued).await?);
    }
    insert_certificate_rows(tx, std::slice::from_ref(record)).await?;
    insert_log_rows(tx, std::slice::from_ref(record), log).await?;
    insert_validation_rows(tx, &record.id, validations).await?;
    append_log(tx, old_id, None, None, None, log).await?;
    Ok(())
}
