//! Organisations, their administrators (managers), and the data submitted for paid orders.

use certkeeper_core::{CertificateRecord, CertificateStatus};

use crate::certificates::{CERTIFICATE_COLUMNS, append_log, certificate_from_row};
use crate::validations::insert_validation_rows;
use crate::{LogEntry, NewValidation, Store, StoreError};

/// Manager status while a reviewer has not decided.
pub const MANAGER_AUDIT: &str = "audit";
/// Manager status after a reviewer verified the manager and the organisation.
pub const MANAGER_OK: &str = "ok";
/// Manager status after a reviewer rejected the manager or the organisation.
pub const MANAGER_INVALID: &str = "invalid";

/// A stored organisation.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CompanyRow {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub country: String,
    pub province: String,
    pub city: String,
    pub address: String,
    pub phone: String,
    pub business_category: String,
    pub jurisdiction_country: String,
    pub registration_number: String,
    pub created_at: i64,
}

/// An organisation to record.
#[derive(Clone, Debug, Default)]
pub struct NewCompany {
    pub account_id: i64,
    pub name: String,
    pub country: String,
    pub province: String,
    pub city: String,
    pub address: String,
    pub phone: String,
    pub business_category: String,
    pub jurisdiction_country: String,
    pub registration_number: String,
}

/// A stored manager.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ManagerRow {
    pub id: i64,
    pub company_id: i64,
    pub account_id: i64,
    pub first_name: String,
    pub last_name: String,
    pub position: String,
    pub department: String,
    pub phone: String,
    pub email: String,
    /// [`MANAGER_AUDIT`], [`MANAGER_OK`] or [`MANAGER_INVALID`].
    pub status: String,
    pub status_info: String,
    pub decided_by: Option<String>,
    pub submitted_at: i64,
    pub verified_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub deleted_at: Option<i64>,
    pub created_at: i64,
}

impl ManagerRow {
    /// Returns true when a reviewer verified the manager and the verification has not expired
    /// at `now` (Unix seconds).
    pub fn is_verified(&self, now: i64) -> bool {
        self.status == MANAGER_OK && self.deleted_at.is_none() && self.expires_at.is_some_and(|expires_at| expires_at > now)
    }
}

/// A manager to record.
#[derive(Clone, Debug, Default)]
pub struct NewManager {
    pub first_name: String,
    pub last_name: String,
    pub position: String,
    pub department: String,
    pub phone: String,
    pub email: String,
}

/// The stored data of a paid order.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SubmissionRow {
    pub certificate_id: String,
    pub manager_id: Option<i64>,
    pub csr_type: String,
    /// JSON object of the submitted fields.
    pub data: String,
    pub letter: Option<Vec<u8>>,
    pub letter_type: Option<String>,
    pub letter_uploaded_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Whether the DNS_AUTO validation records are deleted once the order is issued.
    pub delete_dns_auto_record: bool,
}

/// Data of a paid order to store with the certificate fields it determines.
#[derive(Clone, Debug)]
pub struct NewSubmission<'a> {
    /// The order with its domain, names, key, CSR, validation method and AutoRenewFlag set.
    pub record: &'a CertificateRecord,
    pub manager_id: i64,
    pub csr_type: &'a str,
    pub data: &'a str,
}

impl Store {
    /// Records an organisation and a manager waiting for review, in one transaction, and
    /// returns their ids. With `company_id` the manager joins that organisation instead.
    pub async fn insert_manager(
        &self,
        company: Result<i64, &NewCompany>,
        account_id: i64,
        manager: &NewManager,
        at: i64,
    ) -> Result<(i64, i64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let company_id = match company {
            Ok(id) => id,
            Err(company) => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO companies (account_id, name, country, province, city, address, phone, business_category, \
                     jurisdiction_country, registration_number, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                )
                .bind(company.account_id)
                .bind(&company.name)
                .bind(&company.country)
                .bind(&company.province)
                .bind(&company.city)
                .bind(&company.address)
                .bind(&company.phone)
                .bind(&company.business_category)
                .bind(&company.jurisdiction_country)
                .bind(&company.registration_number)
                .bind(at)
                .fetch_one(&mut *tx)
                .await?;
                id
            }
        };
        let (manager_id,): (i64,) = sqlx::query_as(
            "INSERT INTO managers (company_id, account_id, first_name, last_name, position, department, phone, email, \
             status, submitted_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(company_id)
        .bind(account_id)
        .bind(&manager.first_name)
        .bind(&manager.last_name)
        .bind(&manager.position)
        .bind(&manager.department)
        .bind(&manager.phone)
        .bind(&manager.email)
        .bind(MANAGER_AUDIT)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((company_id, manager_id))
    }

    /// Returns an account's organisations (every account's for `None`), oldest first, one
    /// page of them with the total count.
    pub async fn companies(&self, account_id: Option<i64>, company_id: Option<i64>, offset: i64, limit: i64) -> Result<(Vec<CompanyRow>, i64), StoreError> {
        let rows = sqlx::query_as(
            "SELECT * FROM companies WHERE ($1 IS NULL OR account_id = $1) AND ($2 IS NULL OR id = $2) \
             ORDER BY id LIMIT $3 OFFSET $4",
        )
        .bind(account_id)
        .bind(company_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let (total,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM companies WHERE ($1 IS NULL OR account_id = $1) AND ($2 IS NULL OR id = $2)")
                .bind(account_id)
                .bind(company_id)
                .fetch_one(&self.pool)
                .await?;
        Ok((rows, total))
    }

    /// Returns one organisation.
    pub async fn company(&self, id: i64) -> Result<Option<CompanyRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM companies WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Returns an account's organisation with exactly these registered details, if any.
    pub async fn find_company(&self, company: &NewCompany) -> Result<Option<CompanyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM companies WHERE account_id = $1 AND name = $2 AND country = $3 AND province = $4 AND city = $5 \
             AND business_category = $6 AND jurisdiction_country = $7 AND registration_number = $8 ORDER BY id LIMIT 1",
        )
        .bind(company.account_id)
        .bind(&company.name)
        .bind(&company.country)
        .bind(&company.province)
        .bind(&company.city)
        .bind(&company.business_category)
        .bind(&company.jurisdiction_country)
        .bind(&company.registration_number)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Returns the live managers of an organisation, oldest first.
    pub async fn managers(&self, company_id: i64) -> Result<Vec<ManagerRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM managers WHERE company_id = $1 AND deleted_at IS NULL ORDER BY id")
            .bind(company_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Returns one live manager.
    pub async fn manager(&self, id: i64) -> Result<Option<ManagerRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM managers WHERE id = $1 AND deleted_at IS NULL").bind(id).fetch_optional(&self.pool).await?)
    }

    /// Returns the live managers in one status (every status for `None`), oldest first.
    pub async fn managers_in_status(&self, status: Option<&str>) -> Result<Vec<ManagerRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM managers WHERE deleted_at IS NULL AND ($1 IS NULL OR status = $1) ORDER BY id")
            .bind(status)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Records a reviewer's decision on a manager waiting for review: [`MANAGER_OK`] with the
    /// verification's expiry, or [`MANAGER_INVALID`] with the reason. Returns false, with
    /// nothing changed, when the manager no longer waits for review.
    pub async fn decide_manager(
        &self,
        id: i64,
        status: &str,
        status_info: &str,
        decided_by: &str,
        at: i64,
        expires_at: Option<i64>,
    ) -> Result<bool, StoreError> {
        let verified_at = (status == MANAGER_OK).then_some(at);
        let updated = sqlx::query(
            "UPDATE managers SET status = $1, status_info = $2, decided_by = $3, verified_at = $4, expires_at = $5 \
             WHERE id = $6 AND status = $7 AND deleted_at IS NULL",
        )
        .bind(status)
        .bind(status_info)
        .bind(decided_by)
        .bind(verified_at)
        .bind(expires_at)
        .bind(id)
        .bind(MANAGER_AUDIT)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Submits a manager for review again. Returns false when the manager is unknown or already
    /// waits for review.
    pub async fn resubmit_manager(&self, id: i64, at: i64) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE managers SET status = $1, status_info = '', submitted_at = $2 WHERE id = $3 AND status <> $1 AND deleted_at IS NULL",
        )
        .bind(MANAGER_AUDIT)
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Returns the number of live certificates whose order names the manager.
    pub async fn certificates_of_manager(&self, id: i64) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM order_submissions s JOIN certificates c ON c.id = s.certificate_id \
             WHERE s.manager_id = $1 AND c.deleted_at IS NULL",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// Marks a manager as deleted. Returns false when it is unknown or already deleted.
    pub async fn delete_manager(&self, id: i64, at: i64) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE managers SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Stores the data of a paid order in status 5 together with the certificate fields it
    /// determines, in one transaction. Fails with [`StoreError::StatusChanged`] when the order
    /// left status 5.
    pub async fn save_submission(&self, submission: &NewSubmission<'_>, log: &LogEntry<'_>) -> Result<(), StoreError> {
        let record = submission.record;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE certificates SET domain = $1, names = $2, key_algorithm = $3, csr_der = $4, sealed_private_key = $5, \
             validation_method = $6, auto_renew = $7, updated_at = $8 WHERE id = $9 AND status = $10 AND deleted_at IS NULL",
        )
        .bind(&record.domain)
        .bind(record.names.join(","))
        .bind(record.key_algorithm.name())
        .bind(&record.csr_der)
        .bind(&record.sealed_private_key)
        .bind(record.validation_method.as_str())
        .bind(record.auto_renew)
        .bind(log.at)
        .bind(&record.id)
        .bind(i64::from(CertificateStatus::AwaitingSubmission.code()))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let found = self.certificate(&record.id).await?;
            return Err(match found {
                Some(found) => StoreError::StatusChanged { id: record.id.clone(), expected: CertificateStatus::AwaitingSubmission, found: found.status },
                None => StoreError::NotFound { id: record.id.clone() },
            });
        }
        sqlx::query(
            "INSERT INTO order_submissions (certificate_id, manager_id, csr_type, data, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (certificate_id) DO UPDATE SET manager_id = excluded.manager_id, \
             csr_type = excluded.csr_type, data = excluded.data, updated_at = excluded.updated_at",
        )
        .bind(&record.id)
        .bind(submission.manager_id)
        .bind(submission.csr_type)
        .bind(submission.data)
        .bind(log.at)
        .execute(&mut *tx)
        .await?;
        append_log(&mut tx, &record.id, None, None, None, log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns the stored data of a paid order.
    pub async fn submission(&self, certificate_id: &str) -> Result<Option<SubmissionRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM order_submissions WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Records whether the DNS_AUTO validation records of a paid order are deleted once it is
    /// issued. Returns false when the order has no submission.
    pub async fn set_delete_dns_auto_record(&self, certificate_id: &str, delete: bool, at: i64) -> Result<bool, StoreError> {
        let updated = sqlx::query("UPDATE order_submissions SET delete_dns_auto_record = $1, updated_at = $2 WHERE certificate_id = $3")
            .bind(delete)
            .bind(at)
            .bind(certificate_id)
            .execute(&self.pool)
            .await?;
        Ok(updated.rows_affected() > 0)
    }

    /// Stores a confirmation letter for a paid order with its log row, in one transaction.
    pub async fn save_letter(&self, certificate_id: &str, letter: &[u8], letter_type: &str, log: &LogEntry<'_>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE order_submissions SET letter = $1, letter_type = $2, letter_uploaded_at = $3, updated_at = $3 WHERE certificate_id = $4",
        )
        .bind(letter)
        .bind(letter_type)
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

    /// Moves a paid order from `from` to `to` with `status_message`, and appends the log row, in
    /// one transaction. Non-empty `validations` replace the order's issuance validations, and
    /// otherwise its pending ones end as invalid.
    pub async fn move_paid_order(
        &self,
        id: &str,
        from: CertificateStatus,
        to: CertificateStatus,
        status_message: &str,
        validations: &[NewValidation],
        log: &LogEntry<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE certificates SET status = $1, status_message = $2, updated_at = $3 WHERE id = $4 AND status = $5 AND deleted_at IS NULL",
        )
        .bind(i64::from(to.code()))
        .bind(status_message)
        .bind(log.at)
        .bind(id)
        .bind(i64::from(from.code()))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let found: Option<(i64,)> = sqlx::query_as("SELECT status FROM certificates WHERE id = $1").bind(id).fetch_optional(&mut *tx).await?;
            return Err(match found.and_then(|(code,)| CertificateStatus::from_code(code as u64)) {
                Some(found) => StoreError::StatusChanged { id: id.to_owned(), expected: from, found },
                None => StoreError::NotFound { id: id.to_owned() },
            });
        }
        // New validations replace the earlier ones, whose results no longer count.
        let replace = if validations.is_empty() {
            "UPDATE validations SET state = 'invalid' WHERE certificate_id = $1 AND purpose = 'issue' AND state = 'pending'"
        } else {
            "DELETE FROM validations WHERE certificate_id = $1 AND purpose = 'issue'"
        };
        sqlx::query(replace).bind(id).execute(&mut *tx).await?;
        insert_validation_rows(&mut tx, id, validations).await?;
        append_log(&mut tx, id, None, Some(from), Some(to), log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns the live orders in `status` with `status_message`, oldest first, optionally only
    /// those whose submitted data names `manager_id`.
    pub async fn orders_with_message(
        &self,
        status: CertificateStatus,
        status_message: &str,
        manager_id: Option<i64>,
    ) -> Result<Vec<CertificateRecord>, StoreError> {
        let query = format!(
            "SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE status = $1 AND status_message = $2 AND deleted_at IS NULL \
             AND ($3 IS NULL OR id IN (SELECT certificate_id FROM order_submissions WHERE manager_id = $3)) ORDER BY created_at, id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(query))
            .bind(i64::from(status.code()))
            .bind(status_message)
            .bind(manager_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(certificate_from_row).collect()
    }
}
