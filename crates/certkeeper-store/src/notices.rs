//! Expiry notices, the per-certificate notice switch and per-account notification settings.

use crate::certificates::append_log;
use crate::jobs::{NewJob, enqueue_job_in};
use crate::{LogEntry, ReviewRow, Store, StoreError};

/// An issued, live certificate whose notAfter lies in a scan window.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ExpiryCandidate {
    pub certificate_id: String,
    pub account_id: Option<i64>,
    pub domain: String,
    /// Unix seconds.
    pub not_after: i64,
    /// Smallest threshold, in days, whose notice is recorded; `None` before the first notice.
    pub smallest_notified: Option<i64>,
}

/// An expiry notice to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewExpiryNotice<'a> {
    pub certificate_id: &'a str,
    pub threshold_days: i64,
    pub days_left: i64,
    pub not_after: i64,
}

/// Notification settings of one account.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationSettingsRow {
    pub account_id: i64,
    /// Days, descending, separated by commas.
    pub expiry_thresholds: String,
    /// Email recipients separated by commas; empty for none.
    pub email: String,
    pub updated_at: i64,
}

impl Store {
    /// Returns the certificates in status 1, not deleted and with notices on, whose notAfter is
    /// after `after` and before `before` (Unix seconds), in order of notAfter, each with the
    /// smallest threshold notified so far. The range is one scan of the notAfter index, and the
    /// notices of each certificate one lookup in the index of their unique constraint.
    pub async fn expiry_candidates(&self, after: i64, before: i64) -> Result<Vec<ExpiryCandidate>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.id AS certificate_id, c.account_id, c.domain, c.not_after, \
                    (SELECT min(n.threshold_days) FROM expiry_notices n WHERE n.certificate_id = c.id) AS smallest_notified \
             FROM certificates c \
             WHERE c.not_after > $1 AND c.not_after < $2 AND c.status = 1 AND c.deleted_at IS NULL \
               AND NOT EXISTS (SELECT 1 FROM expiry_notice_opt_outs o WHERE o.certificate_id = c.id) \
             ORDER BY c.not_after",
        )
        .bind(after)
        .bind(before)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Returns the thresholds recorded for one certificate, largest first.
    pub async fn expiry_notices_of(&self, certificate_id: &str) -> Result<Vec<i64>, StoreError> {
        let rows: Vec<(i64,)> =
            sqlx::query_as("SELECT threshold_days FROM expiry_notices WHERE certificate_id = $1 ORDER BY threshold_days DESC")
                .bind(certificate_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|(days,)| days).collect())
    }

    /// Records a notice and enqueues its delivery jobs in one transaction. Returns true, or
    /// false, enqueuing nothing, when the notice for this certificate and threshold was
    /// recorded before (by this process or another).
    pub async fn record_expiry_notice(&self, notice: &NewExpiryNotice<'_>, deliveries: &[NewJob], at: i64) -> Result<bool, StoreError> {
        let recorded = self.record_expiry_notices(&[(notice.clone(), deliveries.to_vec())], at).await?;
        Ok(recorded == 1)
    }

    /// Records notices with their delivery jobs, all in one transaction, and returns how many
    /// were new. The jobs of a notice recorded before (by this process or another) are not
    /// enqueued.
    pub async fn record_expiry_notices(&self, notices: &[(NewExpiryNotice<'_>, Vec<NewJob>)], at: i64) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut recorded = 0;
        for (notice, deliveries) in notices {
            let inserted: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO expiry_notices (certificate_id, threshold_days, days_left, not_after, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (certificate_id, threshold_days) DO NOTHING RETURNING id",
            )
            .bind(notice.certificate_id)
            .bind(notice.threshold_days)
            .bind(notice.days_left)
            .bind(notice.not_after)
            .bind(at)
            .fetch_optional(&mut *tx)
            .await?;
            if inserted.is_none() {
                continue;
            }
            recorded += 1;
            for job in deliveries {
                enqueue_job_in(&mut tx, job, at).await?;
            }
        }
        tx.commit().await?;
        Ok(recorded)
    }

    /// Enqueues several jobs in one transaction and returns how many were new.
    pub async fn enqueue_jobs(&self, jobs: &[NewJob], at: i64) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut added = 0;
        for job in jobs {
            if enqueue_job_in(&mut tx, job, at).await?.is_some() {
                added += 1;
            }
        }
        tx.commit().await?;
        Ok(added)
    }

    /// Turns expiry notices off (`ignore`) or on for the certificates among `ids` that exist, are
    /// not deleted and belong to `account_id` (any account when `None`). Appends a log row for
    /// each and returns their ids, in the order given and without repeats.
    pub async fn set_expiry_notice_switch(
        &self,
        account_id: Option<i64>,
        ids: &[String],
        ignore: bool,
        log: &LogEntry<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut changed: Vec<String> = Vec::new();
        for id in ids {
            if changed.contains(id) {
                continue;
            }
            let visible: Option<(String,)> = sqlx::query_as(
                "SELECT id FROM certificates WHERE id = $1 AND deleted_at IS NULL AND ($2 IS NULL OR account_id = $2)",
            )
            .bind(id)
            .bind(account_id)
            .fetch_optional(&mut *tx)
            .await?;
            if visible.is_none() {
                continue;
            }
            if ignore {
                sqlx::query("INSERT INTO expiry_notice_opt_outs (certificate_id, created_at) VALUES ($1, $2) ON CONFLICT (certificate_id) DO NOTHING")
                    .bind(id)
                    .bind(log.at)
                    .execute(&mut *tx)
                    .await?;
            } else {
                sqlx::query("DELETE FROM expiry_notice_opt_outs WHERE certificate_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            append_log(&mut tx, id, None, None, None, log).await?;
            changed.push(id.clone());
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Returns which of `ids` have expiry notices turned off.
    pub async fn expiry_notice_opt_outs(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut ignored = Vec::new();
        for chunk in ids.chunks(500) {
            let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new("SELECT certificate_id FROM expiry_notice_opt_outs WHERE certificate_id IN (");
            let mut separated = builder.separated(", ");
            for id in chunk {
                separated.push_bind(id);
            }
            builder.push(")");
            let rows: Vec<(String,)> = builder.build_query_as().fetch_all(&self.pool).await?;
            ignored.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(ignored)
    }

    /// Returns up to `limit` decided reviews whose decision was not notified yet, oldest first.
    pub async fn decisions_to_notify(&self, limit: i64) -> Result<Vec<ReviewRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, certificate_id, kind, state, reason, reason_code, decision_reason, decided_by, decided_at, created_at, reminded_at \
             FROM reviews WHERE decided_at IS NOT NULL AND decision_notified_at IS NULL AND state <> 'pending' \
             ORDER BY id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records that the decision of review `id` was notified at `at`.
    pub async fn mark_decision_notified(&self, id: i64, at: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE reviews SET decision_notified_at = $1 WHERE id = $2 AND decision_notified_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Returns the notification settings of an account, if it has set any.
    pub async fn notification_settings(&self, account_id: i64) -> Result<Option<NotificationSettingsRow>, StoreError> {
        Ok(sqlx::query_as("SELECT account_id, expiry_thresholds, email, updated_at FROM notification_settings WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Returns the notification settings of every account that has set some.
    pub async fn all_notification_settings(&self) -> Result<Vec<NotificationSettingsRow>, StoreError> {
        Ok(sqlx::query_as("SELECT account_id, expiry_thresholds, email, updated_at FROM notification_settings ORDER BY account_id")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Stores an account's notification settings, replacing earlier ones. The caller has
    /// validated the threshold list and the addresses.
    pub async fn set_notification_settings(&self, account_id: i64, expiry_thresholds: &str, email: &str, at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO notification_settings (account_id, expiry_thresholds, email, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id) DO UPDATE SET expiry_thresholds = $2, email = $3, updated_at = $4",
        )
        .bind(account_id)
        .bind(expiry_thresholds)
        .bind(email)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
