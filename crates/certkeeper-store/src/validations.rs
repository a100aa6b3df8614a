//! Domain validations of orders and revocation requests.

use certkeeper_core::{CertificateRecord, CertificateStatus};

use crate::certificates::{append_log, insert_certificate_rows, insert_log_rows};
use crate::{LogEntry, Store, StoreError};

/// A validation to create with an order.
#[derive(Clone, Debug)]
pub struct NewValidation {
    pub purpose: String,
    pub domain: String,
    pub method: String,
    pub verify_type: String,
    pub record_key: String,
    pub sub_domain: String,
    pub token: String,
    pub path: String,
    /// DNS_AUTO: delete the record once the certificate is issued.
    pub remove_after_issue: bool,
    pub next_check_at: i64,
    pub expires_at: i64,
}

/// A stored validation.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ValidationRow {
    pub id: i64,
    pub certificate_id: String,
    pub purpose: String,
    pub domain: String,
    pub method: String,
    pub verify_type: String,
    pub record_key: String,
    pub sub_domain: String,
    pub token: String,
    pub path: String,
    pub remove_after_issue: bool,
    pub state: String,
    pub attempts: i64,
    pub next_check_at: i64,
    pub expires_at: i64,
    pub local_check: i64,
    pub check_values: String,
    pub reason: String,
    pub checked_at: Option<i64>,
    pub created_at: i64,
}

/// The outcome of one check, to store on its validation row.
#[derive(Clone, Debug)]
pub struct CheckOutcome<'a> {
    pub state: &'a str,
    pub local_check: i64,
    pub check_values: &'a str,
    pub reason: &'a str,
    pub next_check_at: i64,
    pub checked_at: i64,
}

/// A signed certificate to store on its order row.
#[derive(Clone, Debug)]
pub struct Issued<'a> {
    pub serial: &'a str,
    pub issuer_id: i64,
    pub certificate_der: &'a [u8],
    pub not_before: i64,
    pub not_after: i64,
}

impl Store {
    /// Stores a new order (a certificate row not yet issued), its validations and its log row in
    /// one transaction.
    pub async fn insert_order(&self, record: &CertificateRecord, validations: &[NewValidation], log: &LogEntry<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_certificate_rows(&mut tx, std::slice::from_ref(record)).await?;
        insert_log_rows(&mut tx, std::slice::from_ref(record), log).await?;
        insert_validation_rows(&mut tx, &record.id, validations).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds validations to an existing certificate, such as those of a revocation request.
    pub async fn insert_validations(&self, certificate_id: &str, validations: &[NewValidation]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_validation_rows(&mut tx, certificate_id, validations).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns the validations of a certificate for one purpose, in creation order.
    pub async fn validations_of(&self, certificate_id: &str, purpose: &str) -> Result<Vec<ValidationRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM validations WHERE certificate_id = $1 AND purpose = $2 ORDER BY id")
            .bind(certificate_id)
            .bind(purpose)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Returns ids of certificates with a pending validation due at `now`, oldest due first.
    pub async fn certificates_with_due_validations(&self, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT certificate_id FROM validations WHERE state = 'pending' AND next_check_at <= $1 \
             GROUP BY certificate_id ORDER BY min(next_check_at) LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Stores the outcome of a check on a validation row and counts the attempt.
    pub async fn record_check(&self, validation_id: i64, outcome: &CheckOutcome<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE validations SET state = $1, local_check = $2, check_values = $3, reason = $4, \
             next_check_at = $5, checked_at = $6, attempts = attempts + 1 WHERE id = $7",
        )
        .bind(outcome.state)
        .bind(outcome.local_check)
        .bind(outcome.check_values)
        .bind(outcome.reason)
        .bind(outcome.next_check_at)
        .bind(outcome.checked_at)
        .bind(validation_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks every still-pending validation of a certificate and purpose with `state`.
    pub async fn close_validations(&self, certificate_id: &str, purpose: &str, state: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE validations SET state = $1 WHERE certificate_id = $2 AND purpose = $3 AND state = 'pending'")
            .bind(state)
            .bind(certificate_id)
            .bind(purpose)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores the signed certificate on its order and moves it from `from` to issued, with
    /// the log row, in one transaction. The original of a reissue returns from status 11 to 1
    /// in the same transaction.
    pub async fn complete_issuance(&self, id: &str, from: CertificateStatus, issued: &Issued<'_>, log: &LogEntry<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE certificates SET status = $1, status_message = '', serial = $2, issuer_id = $3, \
             certificate_der = $4, not_before = $5, not_after = $6, updated_at = $7 WHERE id = $8 AND status = $9",
        )
        .bind(i64::from(CertificateStatus::Issued.code()))
        .bind(issued.serial)
        .bind(issued.issuer_id)
        .bind(issued.certificate_der)
        .bind(issued.not_before)
        .bind(issued.not_after)
        .bind(log.at)
        .bind(id)
        .bind(i64::from(from.code()))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound { id: id.to_owned() });
        }
        append_log(&mut tx, id, None, Some(from), Some(CertificateStatus::Issued), log).await?;
        crate::lifecycle::finish_reissue(&mut tx, id, log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets the status message of an order without changing its status.
    pub async fn set_status_message(&self, id: &str, message: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE certificates SET status_message = $1, updated_at = $2 WHERE id = $3")
            .bind(message)
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

pub(crate) async fn insert_validation_rows(tx: &mut sqlx::SqliteConnection, certificate_id: &str, validations: &[NewValidation]) -> Result<(), StoreError> {
    for validation in validations {
        sqlx::query(
            "INSERT INTO validations (certificate_id, purpose, domain, method, verify_type, record_key, sub_domain, \
             token, path, remove_after_issue, state, next_check_at, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $11)",
        )
        .bind(certificate_id)
        .bind(&validation.purpose)
        .bind(&validation.domain)
        .bind(&validation.method)
        .bind(&validation.verify_type)
        .bind(&validation.record_key)
        .bind(&validation.sub_domain)
        .bind(&validation.token)
        .bind(&validation.path)
        .bind(validation.remove_after_issue)
        .bind(validation.next_check_at)
        .bind(validation.expires_at)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
