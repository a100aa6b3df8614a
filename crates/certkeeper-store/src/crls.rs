//! Signed CRLs as published, and the durable jobs that publish each revocation.
//!
//! A CRL build reads `crl_state`, signs a CRL with the next number and then stores it with
//! [`Store::publish_crl`], which advances `crl_state` and writes the DER in one transaction only
//! if no other build published in the meantime. Every process serves the row of
//! `published_crls`, so processes sharing the database serve the same CRL.

use std::collections::BTreeMap;

use sqlx::SqliteConnection;

use crate::jobs::enqueue_job_in;
use crate::{CrlStateRow, NewJob, Store, StoreError};

/// Job kind that rebuilds the CRL of one issuer and shard after a revocation. Its payload is
/// [`CrlPublishPayload`] as JSON.
pub const KIND_CRL_PUBLISH: &str = "crl.publish";

/// Attempts of a `crl.publish` job before it is marked dead. A revocation whose job died is
/// still listed by the next scheduled rebuild of its shard.
pub const CRL_PUBLISH_MAX_ATTEMPTS: i64 = 10;

/// A signed CRL with its metadata, as stored in `published_crls`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCrl {
    pub issuer_id: i64,
    pub shard: i64,
    /// cRLNumber of `der`.
    pub number: i64,
    /// Unix seconds.
    pub this_update: i64,
    /// Unix seconds.
    pub next_update: i64,
    pub entry_count: i64,
    /// Highest revocation position (see [`Store::latest_revocation_position`]) committed before
    /// the entries were read, so every revocation of this issuer and shard at or below it is
    /// listed unless its certificate had expired.
    pub revocation_position: i64,
    pub der: Vec<u8>,
}

/// The columns of a stored CRL without its DER, for cheap comparisons.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredCrlVersion {
    pub issuer_id: i64,
    pub shard: i64,
    pub number: i64,
    pub this_update: i64,
    pub revocation_position: i64,
}

/// Payload of a `crl.publish` job: the shard to rebuild and the position of the revocation that
/// the rebuilt CRL must include.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrlPublishPayload {
    pub issuer_id: i64,
    pub shard: i64,
    pub revocation_position: i64,
}

impl CrlPublishPayload {
    /// Formats the payload as the JSON object stored in the job row.
    pub fn to_json(&self) -> String {
        format!(
            "{{\"issuer_id\":{},\"shard\":{},\"revocation_position\":{}}}",
            self.issuer_id, self.shard, self.revocation_position
        )
    }

    /// Returns the job's unique key: one job per issuer, shard and revocation position, so each
    /// revocation is published once across processes.
    pub fn unique_key(&self) -> String {
        format!("{KIND_CRL_PUBLISH}:{}:{}:{}", self.issuer_id, self.shard, self.revocation_position)
    }
}

/// Returns the CRL number that follows `previous` for a CRL with `this_update` (Unix seconds):
/// `max(last_number + 1, this_update)`, or `max(this_update, 1)` for the first CRL.
///
/// The first term keeps numbers strictly increasing when the clock steps back or several CRLs
/// are built within one second. The second, time-based term keeps a number above every earlier
/// one when `crl_state` is older than the last published CRL, for example after a restore from
/// backup.
pub fn crl_number_after(previous: Option<&CrlStateRow>, this_update: i64) -> i64 {
    match previous {
        Some(previous) => previous.last_number.saturating_add(1).max(this_update),
        None => this_update.max(1),
    }
}

impl Store {
    /// Stores a signed CRL and moves `crl_state` to its number, thisUpdate and entry count, in
    /// one transaction. `previous_number` is the `last_number` of the `crl_state` row that the
    /// build read (`None` when there was none).
    ///
    /// Returns false, storing nothing, when `crl_state` no longer has `previous_number` because
    /// another build published first, or when `crl.number` is not above it. The caller then
    /// builds again from the new state, so its CRL lists everything the other one listed.
    pub async fn publish_crl(&self, crl: &StoredCrl, previous_number: Option<i64>) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;

        // The first statement writes, so SQLite takes the write lock before the state is
        // compared.
        let advanced = match previous_number {
            Some(previous) => sqlx::query(
                "UPDATE crl_state SET last_number = $3, last_this_update = $4, last_entry_count = $5 \
                 WHERE issuer_id = $1 AND shard = $2 AND last_number = $6 AND $3 > $6",
            )
            .bind(crl.issuer_id)
            .bind(crl.shard)
            .bind(crl.number)
            .bind(crl.this_update)
            .bind(crl.entry_count)
            .bind(previous)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            None => sqlx::query(
                "INSERT INTO crl_state (issuer_id, shard, last_number, last_this_update, last_entry_count) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (issuer_id, shard) DO NOTHING",
            )
            .bind(crl.issuer_id)
            .bind(crl.shard)
            .bind(crl.number)
            .bind(crl.this_update)
            .bind(crl.entry_count)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
        };
        if advanced == 0 {
            return Ok(false);
        }

        sqlx::query(
            "INSERT INTO published_crls (issuer_id, shard, number, this_update, next_update, entry_count, \
             revocation_position, der) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (issuer_id, shard) DO UPDATE SET number = excluded.number, \
               this_update = excluded.this_update, next_update = excluded.next_update, \
               entry_count = excluded.entry_count, revocation_position = excluded.revocation_position, \
               der = excluded.der \
             WHERE excluded.number > published_crls.number",
        )
        .bind(crl.issuer_id)
        .bind(crl.shard)
        .bind(crl.number)
        .bind(crl.this_update)
        .bind(crl.next_update)
        .bind(crl.entry_count)
        .bind(crl.revocation_position)
        .bind(&crl.der)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Returns the number, thisUpdate and revocation position of every stored CRL.
    pub async fn stored_crl_versions(&self) -> Result<Vec<StoredCrlVersion>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT issuer_id, shard, number, this_update, revocation_position FROM published_crls ORDER BY issuer_id, shard",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Returns the stored CRL of an issuer and shard, if one was published.
    pub async fn stored_crl(&self, issuer_id: i64, shard: i64) -> Result<Option<StoredCrl>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT issuer_id, shard, number, this_update, next_update, entry_count, revocation_position, der \
             FROM published_crls WHERE issuer_id = $1 AND shard = $2",
        )
        .bind(issuer_id)
        .bind(shard)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Returns the position of the newest committed revocation, or 0 when there is none.
    /// Positions increase in commit order, because SQLite serialises writers.
    // NOTE: the position is SQLite's rowid; the PostgreSQL schema needs a sequence column.
    pub async fn latest_revocation_position(&self) -> Result<i64, StoreError> {
        let (position,): (Option<i64>,) = sqlx::query_as("SELECT max(rowid) FROM revoked_certificates")
            .fetch_one(&self.pool)
            .await?;
        Ok(position.unwrap_or(0))
    }
}

/// Enqueues, inside the caller's transaction, one `crl.publish` job per issuer and shard for the
/// newest of the given revocations, as `(issuer_id, shard, position)`.
pub(crate) async fn enqueue_crl_publish_jobs(
    tx: &mut SqliteConnection,
    revocations: impl IntoIterator<Item = (i64, i64, i64)>,
    at: i64,
) -> Result<(), StoreError> {
    let mut newest: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for (issuer_id, shard, position) in revocations {
        let entry = newest.entry((issuer_id, shard)).or_insert(position);
        *entry = (*entry).max(position);
    }
    for ((issuer_id, shard), revocation_position) in newest {
        let payload = CrlPublishPayload { issuer_id, shard, revocation_position };
        let job = NewJob {
            kind: KIND_CRL_PUBLISH.to_owned(),
            unique_key: payload.unique_key(),
            payload: payload.to_json(),
            run_after: at,
            max_attempts: CRL_PUBLISH_MAX_ATTEMPTS,
        };
        enqueue_job_in(tx, &job, at).await?;
    }
    Ok(())
}
