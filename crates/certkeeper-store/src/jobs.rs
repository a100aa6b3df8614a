//! Durable jobs: enqueue by unique key, claim with a lease, complete, or fail with backoff.
//!
//! Two processes on one database never hold a lease on the same job at once: a claim is one
//! conditional UPDATE whose WHERE clause repeats the claimability test, so the second of two
//! concurrent claims matches no row. A job can still run twice when a worker keeps working past
//! its lease expiry, so leases must be longer than any run, and handlers should be safe to repeat.

use sqlx::SqliteConnection;

use crate::{Store, StoreError};

/// State of a job waiting to run or to be retried.
pub const JOB_QUEUED: &str = "queued";
/// State of a job that finished.
pub const JOB_DONE: &str = "done";
/// State of a job that failed on its last allowed attempt.
pub const JOB_DEAD: &str = "dead";

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewJob {
    /// Dispatch name that the runner maps to a handler.
    pub kind: String,
    /// De-duplication key: a job whose key is stored already, in any state, is not added.
    pub unique_key: String,
    /// Handler input, JSON.
    pub payload: String,
    /// Earliest run time, Unix seconds.
    pub run_after: i64,
    /// Attempts before the job is marked dead.
    pub max_attempts: i64,
}

/// A stored job.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub unique_key: String,
    pub payload: String,
    /// `queued`, `done` or `dead`.
    pub state: String,
    pub run_after: i64,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<i64>,
    /// Attempts started so far, counting the one in progress.
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_error: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

/// Retry delays after a failure: `base_seconds` × 2^(attempts − 1), at most `max_seconds`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base_seconds: i64,
    pub max_seconds: i64,
}

impl Backoff {
    /// Returns the delay before the next attempt after `attempts` failed ones.
    pub fn delay(&self, attempts: i64) -> i64 {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 62)).unwrap_or(62);
        self.base_seconds.saturating_mul(1_i64 << exponent).min(self.max_seconds)
    }
}

/// Outcome of [`Store::fail_job`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again to run at this Unix time.
    Retry { run_after: i64 },
    /// Marked dead: its attempts are used up.
    Dead,
    /// The caller no longer held the lease, so nothing changed.
    LeaseLost,
}

/// Columns of [`JobRow`], as a literal for `concat!`.
macro_rules! job_columns {
    () => {
        "id, kind, unique_key, payload, state, run_after, lease_owner, lease_expires_at, attempts, \
         max_attempts, last_error, created_at, updated_at, finished_at"
    };
}

impl Store {
    /// Adds a job unless one with the same unique key exists. Returns the new job's id, or
    /// `None` when the key was taken.
    pub async fn enqueue_job(&self, job: &NewJob, at: i64) -> Result<Option<i64>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        enqueue_job_in(&mut connection, job, at).await
    }

    /// Leases up to `limit` due jobs of the given kinds to `owner` until `at + lease_seconds`,
    /// counts an attempt for each and returns them, oldest due first. Jobs whose lease has
    /// expired are due again. Jobs of other kinds are left for runners that handle them, and an
    /// empty `kinds` claims nothing.
    pub async fn claim_jobs(
        &self,
        owner: &str,
        kinds: &[&str],
        limit: i64,
        lease_seconds: i64,
        at: i64,
    ) -> Result<Vec<JobRow>, StoreError> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        // One numbered placeholder per kind, after the four fixed parameters.
        let kind_placeholders: Vec<String> = (0..kinds.len()).map(|index| format!("${}", index + 5)).collect();
        let kind_list = kind_placeholders.join(", ");
        // The UPDATE is the transaction's first statement, so SQLite takes the write lock before
        // reading and no other writer can claim between the SELECT and the UPDATE. The outer
        // WHERE repeats the test so that a job leased in the meantime is skipped on databases
        // that re-read rows after a lock wait. PostgreSQL would add FOR UPDATE SKIP LOCKED to
        // the subquery, so that concurrent claimers take different rows instead of waiting.
        let sql = format!(
            "UPDATE jobs SET lease_owner = $1, lease_expires_at = $2, attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs \
                          WHERE state = 'queued' AND run_after <= $3 AND kind IN ({kind_list}) \
                            AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
                          ORDER BY run_after, id LIMIT $4) \
               AND state = 'queued' AND run_after <= $3 \
               AND (lease_expires_at IS NULL OR lease_expires_at <= $3) \
             RETURNING {}",
            job_columns!()
        );
        let mut tx = self.pool.begin().await?;
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(owner).bind(at + lease_seconds).bind(at).bind(limit);
        for kind in kinds {
            query = query.bind(*kind);
        }
        let mut rows: Vec<JobRow> = query.fetch_all(&mut *tx).await?;
        tx.commit().await?;
        rows.sort_by_key(|row| (row.run_after, row.id));
        Ok(rows)
    }

    /// Marks a leased job done. Returns false, changing nothing, when `owner` no longer holds
    /// the lease (it expired and another worker claimed the job).
    pub async fn complete_job(&self, id: i64, owner: &str, at: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_expires_at = NULL, last_error = '', \
             updated_at = $3, finished_at = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'queued'",
        )
        .bind(id)
        .bind(owner)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Records a failed attempt with its error. The job runs again after the backoff delay, or
    /// is marked dead when it has used `max_attempts`.
    pub async fn fail_job(&self, id: i64, owner: &str, error: &str, backoff: Backoff, at: i64) -> Result<FailOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Touching the row first takes the write lock before the read below.
        let touched = sqlx::query("UPDATE jobs SET updated_at = $3 WHERE id = $1 AND lease_owner = $2 AND state = 'queued'")
            .bind(id)
            .bind(owner)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        if touched.rows_affected() == 0 {
            return Ok(FailOutcome::LeaseLost);
        }
        let (attempts, max_attempts): (i64, i64) = sqlx::query_as("SELECT attempts, max_attempts FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let outcome = if attempts >= max_attempts {
            sqlx::query(
                "UPDATE jobs SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, last_error = $2, \
                 finished_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            FailOutcome::Dead
        } else {
            let run_after = at + backoff.delay(attempts);
            sqlx::query(
                "UPDATE jobs SET run_after = $2, lease_owner = NULL, lease_expires_at = NULL, last_error = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(run_after)
            .bind(error)
            .execute(&mut *tx)
            .await?;
            FailOutcome::Retry { run_after }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    /// Returns one job.
    pub async fn job(&self, id: i64) -> Result<Option<JobRow>, StoreError> {
        let sql = concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1");
        Ok(sqlx::query_as(sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Returns the job with this unique key.
    pub async fn job_by_key(&self, unique_key: &str) -> Result<Option<JobRow>, StoreError> {
        let sql = concat!("SELECT ", job_columns!(), " FROM jobs WHERE unique_key = $1");
        Ok(sqlx::query_as(sql).bind(unique_key).fetch_optional(&self.pool).await?)
    }

    /// Returns the jobs of one kind, in order of id.
    pub async fn jobs_of_kind(&self, kind: &str) -> Result<Vec<JobRow>, StoreError> {
        let sql = concat!("SELECT ", job_columns!(), " FROM jobs WHERE kind = $1 ORDER BY id");
        Ok(sqlx::query_as(sql).bind(kind).fetch_all(&self.pool).await?)
    }

    /// Returns the dead jobs of one kind (their last attempt failed), oldest first.
    pub async fn dead_jobs_of_kind(&self, kind: &str) -> Result<Vec<JobRow>, StoreError> {
        let sql = concat!("SELECT ", job_columns!(), " FROM jobs WHERE state = 'dead' AND kind = $1 ORDER BY id");
        Ok(sqlx::query_as(sql).bind(kind).fetch_all(&self.pool).await?)
    }

    /// Deletes jobs that finished (done or dead) before `before`, and returns how many. Their
    /// unique keys become free again.
    pub async fn prune_jobs(&self, before: i64) -> Result<u64, StoreError> {
        let result = sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'dead') AND finished_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }
}

/// Inserts a job on an open connection or transaction unless its unique key is taken.
pub(crate) async fn enqueue_job_in(connection: &mut SqliteConnection, job: &NewJob, at: i64) -> Result<Option<i64>, StoreError> {
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO jobs (kind, unique_key, payload, state, run_after, max_attempts, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $6) ON CONFLICT (unique_key) DO NOTHING RETURNING id",
    )
    .bind(&job.kind)
    .bind(&job.unique_key)
    .bind(&job.payload)
    .bind(job.run_after)
    .bind(job.max_attempts.max(1))
    .bind(at)
    .fetch_optional(connection)
    .await?;
    Ok(inserted.map(|(id,)| id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let backoff = Backoff { base_seconds: 30, max_seconds: 3600 };
        assert_eq!(backoff.delay(1), 30);
        assert_eq!(backoff.delay(2), 60);
        assert_eq!(backoff.delay(3), 120);
        assert_eq!(backoff.delay(10), 3600);
        assert_eq!(backoff.delay(1000), 3600);
    }
}
