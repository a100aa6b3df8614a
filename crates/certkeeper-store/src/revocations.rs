//! Revoked serials and the numbering state of published CRLs.

use crate::{Store, StoreError};

/// A revocation to record.
#[derive(Clone, Debug)]
pub struct NewRevocation<'a> {
    /// Lower-case hex serial, as in the `serials` table.
    pub serial: &'a str,
    pub issuer_id: i64,
    /// CRL shard of the serial (see `UrlScheme::crl_shard` in certkeeper-ca).
    pub shard: i64,
    pub certificate_id: Option<&'a str>,
    /// Revocation time, Unix seconds.
    pub revoked_at: i64,
    /// RFC 5280 CRLReason code; 0 is unspecified.
    pub reason_code: i64,
    /// The certificate's notAfter, Unix seconds.
    pub not_after: i64,
    pub created_at: i64,
}

/// A stored revocation.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRow {
    pub serial: String,
    pub issuer_id: i64,
    pub shard: i64,
    pub certificate_id: Option<String>,
    pub revoked_at: i64,
    pub reason_code: i64,
    pub not_after: i64,
    pub created_at: i64,
}

/// The columns of a revocation that a CRL entry lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntryRow {
    /// Serial bytes, decoded from the stored hex.
    pub serial: Vec<u8>,
    pub revoked_at: i64,
    pub reason_code: i64,
}

/// Bulk inserts of at least this many revocations checkpoint the WAL afterwards.
const BULK_CHECKPOINT_ROWS: usize = 10_000;

/// Revocation-time ranges a large CRL shard is read in at once.
const CRL_READ_PARTS: i64 = 4;

/// Most rows one bulk INSERT statement carries: 8 parameters each, well under SQLite's limit
/// of 32,766 bound parameters.
const BULK_INSERT_ROWS: usize = 500;

/// Issuance and revocation status of a serial, as an OCSP responder needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialStatus {
    /// No issuer of this store reserved the serial.
    Unknown,
    /// Reserved by `issuer_id` and not revoked.
    Good { issuer_id: i64 },
    /// Revoked.
    Revoked(RevocationRow),
}

/// Numbering state of the last CRL published for an issuer and shard.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CrlStateRow {
    pub issuer_id: i64,
    pub shard: i64,
    pub last_number: i64,
    pub last_this_update: i64,
    pub last_entry_count: i64,
}

/// Column list of [`RevocationRow`], as a macro so that queries stay `&'static str` literals.
macro_rules! revocation_columns {
    () => {
        "serial, issuer_id, shard, certificate_id, revoked_at, reason_code, not_after, created_at"
    };
}

impl Store {
    /// Records a revocation and returns the stored row.
    ///
    /// Idempotent: when the serial is already revoked, the stored row is returned unchanged, so
    /// the first revocation time and reason stay in force.
    pub async fn insert_revocation(&self, revocation: &NewRevocation<'_>) -> Result<RevocationRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = insert_revocation_row(&mut tx, revocation).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Returns the revocations of one issuer and shard whose certificate has not expired at
    /// `now` (Unix seconds), ordered by revocation time.
    pub async fn revoked_for_shard(&self, issuer_id: i64, shard: i64, now: i64) -> Result<Vec<RevocationRow>, StoreError> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            revocation_columns!(),
            " FROM revoked_certificates \
             WHERE issuer_id = $1 AND shard = $2 AND not_after >= $3 ORDER BY revoked_at, serial"
        ))
        .bind(issuer_id)
        .bind(shard)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Returns the CRL entries of one issuer and shard whose certificates are unexpired at `now`
    /// (Unix seconds), in CRL order, and the number of revocations whose certificates expired in
    /// `[expired_since, now)`. The covering index `revoked_certificates_crl` serves it without
    /// reading the table. The shard is read as [`CRL_READ_PARTS`] ranges of revocation time on
    /// separate connections at once, each aggregated by SQLite into one text value, because
    /// decoding rows one at a time costs more than the index scan.
    pub async fn crl_entries(
        &self,
        issuer_id: i64,
        shard: i64,
        now: i64,
        expired_since: i64,
    ) -> Result<(Vec<CrlEntryRow>, i64), StoreError> {
        // Two subqueries, because SQLite reads a lone min() or max() from the index.
        let (low, high): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT (SELECT min(revoked_at) FROM revoked_certificates WHERE issuer_id = $1 AND shard = $2), \
                    (SELECT max(revoked_at) FROM revoked_certificates WHERE issuer_id = $1 AND shard = $2)",
        )
        .bind(issuer_id)
        .bind(shard)
        .fetch_one(&self.pool)
        .await?;
        let (Some(low), Some(high)) = (low, high) else {
            return Ok((Vec::new(), 0));
        };
        let parts = if high > low { CRL_READ_PARTS } else { 1 };
        let width = (high - low) / parts + 1;
        let since = expired_since.min(now);
        let mut reads = tokio::task::JoinSet::new();
        for part in 0..parts {
            let pool = self.pool.clone();
            let (from, to) = (low + part * width, low + (part + 1) * width);
            reads.spawn(async move {
                // `string_agg` with ORDER BY and FILTER is also PostgreSQL syntax.
                let packed: Result<(Option<String>, i64), sqlx::Error> = sqlx::query_as(
                    "SELECT string_agg(serial || ':' || revoked_at || ':' || reason_code, ',' ORDER BY revoked_at, serial) \
                            FILTER (WHERE not_after >= $5), \
                            count(*) FILTER (WHERE not_after < $5) \
                     FROM revoked_certificates \
                     WHERE issuer_id = $1 AND shard = $2 AND revoked_at >= $3 AND revoked_at < $4 AND not_after >= $6",
                )
                .bind(issuer_id)
                .bind(shard)
                .bind(from)
                .bind(to)
                .bind(now)
                .bind(since)
                .fetch_one(&pool)
                .await;
                let rows = packed
                    .map_err(StoreError::from)
                    .and_then(|(packed, expired)| Ok((unpack_crl_entries(packed.as_deref().unwrap_or(""))?, expired)));
                (part, rows)
            });
        }
        let mut ranges: Vec<(i64, Vec<CrlEntryRow>)> = Vec::with_capacity(parts as usize);
        let mut expired = 0;
        while let Some(joined) = reads.join_next().await {
            let (part, read) = joined.map_err(|error| StoreError::Worker { detail: error.to_string() })?;
            let (rows, part_expired) = read?;
            expired += part_expired;
            ranges.push((part, rows));
        }
        ranges.sort_by_key(|(part, _)| *part);
        let mut entries = Vec::with_capacity(ranges.iter().map(|(_, rows)| rows.len()).sum());
        for (_, rows) in ranges {
            entries.extend(rows);
        }
        Ok((entries, expired))
    }

    /// Records many revocations in one transaction, as an import does, and returns how many
    /// were new. A serial that is already revoked keeps its first row. Certificate statuses are
    /// not touched: use [`Store::revoke_certificate`] for a certificate of this store. The same
    /// transaction enqueues one `crl.publish` job per issuer and shard that got new rows.
    pub async fn insert_revocations(&self, revocations: &[NewRevocation<'_>]) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut inserted: Vec<(i64, i64, i64)> = Vec::new();
        for chunk in revocations.chunks(BULK_INSERT_ROWS) {
            let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO revoked_certificates (serial, issuer_id, shard, certificate_id, revoked_at, reason_code, \
                 not_after, created_at) ",
            );
            builder.push_values(chunk, |mut row, revocation| {
                row.push_bind(revocation.serial)
                    .push_bind(revocation.issuer_id)
                    .push_bind(revocation.shard)
                    .push_bind(revocation.certificate_id)
                    .push_bind(revocation.revoked_at)
                    .push_bind(revocation.reason_code)
                    .push_bind(revocation.not_after)
                    .push_bind(revocation.created_at);
            });
            builder.push(" ON CONFLICT (serial) DO NOTHING RETURNING issuer_id, shard, rowid");
            let rows: Vec<(i64, i64, i64)> = builder.build_query_as().fetch_all(&mut *tx).await?;
            inserted.extend(rows);
        }
        let at = revocations.iter().map(|revocation| revocation.created_at).max().unwrap_or(0);
        let inserted_count = inserted.len() as u64;
        crate::crls::enqueue_crl_publish_jobs(&mut tx, inserted, at).await?;
        tx.commit().await?;
        if revocations.len() >= BULK_CHECKPOINT_ROWS {
            // A large import leaves its pages in the WAL, where every later read of the shard
            // has to look them up. Moving them into the database file keeps CRL builds fast.
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await {
                tracing::warn!(%error, "checkpointing the WAL after a bulk revocation insert failed");
            }
        }
        Ok(inserted_count)
    }

    /// Counts the revocations of one issuer and shard that were unexpired at `after` and have
    /// expired by `up_to` (Unix seconds), so they may leave a CRL without having been lost.
    pub async fn count_expired_revocations(&self, issuer_id: i64, shard: i64, after: i64, up_to: i64) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM revoked_certificates \
             WHERE issuer_id = $1 AND shard = $2 AND not_after >= $3 AND not_after < $4",
        )
        .bind(issuer_id)
        .bind(shard)
        .bind(after)
        .bind(up_to)
        .fetch_one(&self.pool)
        .await?;
        Ok(count)
    }

    /// Returns the revocation of a serial (lower-case hex), if any.
    pub async fn revocation_status(&self, serial: &str) -> Result<Option<RevocationRow>, StoreError> {
        Ok(sqlx::query_as(concat!("SELECT ", revocation_columns!(), " FROM revoked_certificates WHERE serial = $1"))
            .bind(serial)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Returns whether a serial (lower-case hex) was issued or reserved by an issuer and
    /// whether it is revoked.
    ///
    /// Certificates issued in batches have only their `certificates` row. Serials reserved
    /// before signing (orders, the OCSP responder) have a `serials` row.
    pub async fn serial_status(&self, serial: &str) -> Result<SerialStatus, StoreError> {
        if let Some(row) = self.revocation_status(serial).await? {
            return Ok(SerialStatus::Revoked(row));
        }
        let issuer: Option<(i64,)> = sqlx::query_as(
            "SELECT issuer_id FROM certificates WHERE serial = $1 AND issuer_id IS NOT NULL \
             UNION ALL SELECT issuer_id FROM serials WHERE serial = $1 LIMIT 1",
        )
        .bind(serial)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match issuer {
            Some((issuer_id,)) => SerialStatus::Good { issuer_id },
            None => SerialStatus::Unknown,
        })
    }

    /// Returns the state of the last CRL of an issuer and shard, if one was published.
    pub async fn crl_state(&self, issuer_id: i64, shard: i64) -> Result<Option<CrlStateRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT issuer_id, shard, last_number, last_this_update, last_entry_count FROM crl_state \
             WHERE issuer_id = $1 AND shard = $2",
        )
        .bind(issuer_id)
        .bind(shard)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Reserves the CRL number for a new CRL of an issuer and shard, records its thisUpdate and
    /// entry count, and returns the number.
    ///
    /// The number is `max(last_number + 1, this_update)`. The first term keeps numbers strictly
    /// increasing when the clock steps back or several CRLs are built within one second. The
    /// second, time-based term keeps a number above every earlier one when this row is older
    /// than the last published CRL, for example after a restore from backup. The read and the
    /// write share one transaction, so two builders never receive the same number. A number
    /// whose CRL is never published leaves a gap, which RFC 5280 §5.2.3 allows.
    pub async fn next_crl_number(&self, issuer_id: i64, shard: i64, this_update: i64, entry_count: i64) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        // An UPSERT takes SQLite's write lock at its first statement, which a plain SELECT
        // inside a deferred transaction would not.
        let (number,): (i64,) = sqlx::query_as(
            "INSERT INTO crl_state (issuer_id, shard, last_number, last_this_update, last_entry_count) \
             VALUES ($1, $2, max($3, 1), $3, $4) \
             ON CONFLICT (issuer_id, shard) DO UPDATE SET \
               last_number = max(crl_state.last_number + 1, excluded.last_this_update), \
               last_this_update = excluded.last_this_update, \
               last_entry_count = excluded.last_entry_count \
             RETURNING last_number",
        )
        .bind(issuer_id)
        .bind(shard)
        .bind(this_update)
        .bind(entry_count)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(number)
    }
}

impl Store {
    /// Revokes a certificate in one transaction: moves it from `from` to revoked, records the
    /// revocation, and appends the log row. Every certificate reissued from it is revoked in the
    /// same transaction with its own revocation row, and its pending reissue orders are
    /// cancelled. Returns the stored revocation of the certificate; when the serial was already
    /// revoked the first time and reason stay.
    pub async fn revoke_certificate(
        &self,
        certificate_id: &str,
        from: certkeeper_core::CertificateStatus,
        revocation: &NewRevocation<'_>,
        log: &crate::LogEntry<'_>,
        shard_of: crate::ShardOf<'_>,
    ) -> Result<RevocationRow, StoreError> {
        let revoked = certkeeper_core::CertificateStatus::Revoked;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query("UPDATE certificates SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4")
            .bind(i64::from(revoked.code()))
            .bind(log.at)
            .bind(certificate_id)
            .bind(i64::from(from.code()))
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::NotFound { id: certificate_id.to_owned() });
        }
        let row = insert_revocation_row(&mut tx, revocation).await?;
        crate::certificates::append_log(&mut tx, certificate_id, None, Some(from), Some(revoked), log).await?;
        crate::lifecycle::revoke_reissues(&mut tx, certificate_id, revocation, log, shard_of).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Returns revocations stored after the row with insertion position `after`, with their
    /// positions, oldest first. A running server uses it to publish revocations that another
    /// process, such as the operator CLI, committed.
    // NOTE: the position is SQLite's rowid; the PostgreSQL schema needs a sequence column.
    pub async fn revocations_after(&self, after: i64, limit: i64) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT rowid, serial FROM revoked_certificates WHERE rowid > $1 ORDER BY rowid LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}

/// Splits `serial:revoked_at:reason_code` items separated by commas.
fn unpack_crl_entries(packed: &str) -> Result<Vec<CrlEntryRow>, StoreError> {
    if packed.is_empty() {
        return Ok(Vec::new());
    }
    let corrupt = |item: &str| StoreError::Corrupt { what: format!("revocation {item}"), detail: "not serial:time:reason".to_owned() };
    packed
        .split(',')
        .map(|item| {
            let mut fields = item.splitn(3, ':');
            let (Some(serial), Some(revoked_at), Some(reason_code)) = (fields.next(), fields.next(), fields.next()) else {
                return Err(corrupt(item));
            };
            Ok(CrlEntryRow {
                serial: hex::decode(serial).map_err(|_| corrupt(item))?,
                revoked_at: revoked_at.parse().map_err(|_| corrupt(item))?,
                reason_code: reason_code.parse().map_err(|_| corrupt(item))?,
            })
        })
        .collect()
}

/// Inserts a revocation unless the serial is already revoked, and returns the stored row, so the
/// first revocation time and reason stay in force. A new revocation enqueues the `crl.publish`
/// job of its shard in the same transaction, so a crash after the commit cannot lose it.
pub(crate) async fn insert_revocation_row(
    tx: &mut sqlx::SqliteConnection,
    revocation: &NewRevocation<'_>,
) -> Result<RevocationRow, StoreError> {
    let inserted: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO revoked_certificates (serial, issuer_id, shard, certificate_id, revoked_at, reason_code, \
         not_after, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (serial) DO NOTHING \
         RETURNING rowid",
    )
    .bind(revocation.serial)
    .bind(revocation.issuer_id)
    .bind(revocation.shard)
    .bind(revocation.certificate_id)
    .bind(revocation.revoked_at)
    .bind(revocation.reason_code)
    .bind(revocation.not_after)
    .bind(revocation.created_at)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some((position,)) = inserted {
        let new = [(revocation.issuer_id, revocation.shard, position)];
        crate::crls::enqueue_crl_publish_jobs(&mut *tx, new, revocation.created_at).await?;
    }
    Ok(sqlx::query_as(concat!("SELECT ", revocation_columns!(), " FROM revoked_certificates WHERE serial = $1"))
        .bind(revocation.serial)
        .fetch_one(&mut *tx)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open_store() -> (tempfile::TempDir, Store, i64) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("test.db")).await.unwrap();
        let issuer = crate::NewIssuer {
            role: "root",
            parent_id: None,
            subject: "CN=Test Root",
            key_algorithm: "EC-P256",
            certificate_der: b"root",
            sealed_key: b"key",
            sha256: "root",
            not_before: 0,
            not_after: 10,
            created_at: 0,
        };
        let intermediate = crate::NewIssuer { role: "intermediate", sha256: "intermediate", ..issuer.clone() };
        let (_, intermediate_id) = store.insert_ca_pair(&issuer, &intermediate).await.unwrap();
        (dir, store, intermediate_id)
    }

    fn revocation(serial: &str, issuer_id: i64, revoked_at: i64, reason_code: i64) -> NewRevocation<'_> {
        NewRevocation {
            serial,
            issuer_id,
            shard: 0,
            certificate_id: None,
            revoked_at,
            reason_code,
            not_after: 2_000,
            created_at: revoked_at,
        }
    }

    #[tokio::test]
    async fn second_revocation_keeps_first() {
        let (_dir, store, issuer_id) = open_store().await;
        let first = store.insert_revocation(&revocation("0a", issuer_id, 100, 1)).await.unwrap();
        let second = store.insert_revocation(&revocation("0a", issuer_id, 200, 4)).await.unwrap();
        assert_eq!(first.revoked_at, 100);
        assert_eq!(second.revoked_at, 100);
        assert_eq!(second.reason_code, 1);
    }

    #[tokio::test]
    async fn shard_listing_skips_expired() {
        let (_dir, store, issuer_id) = open_store().await;
        store.insert_revocation(&revocation("01", issuer_id, 100, 1)).await.unwrap();
        let expired = NewRevocation { not_after: 500, ..revocation("02", issuer_id, 100, 0) };
        store.insert_revocation(&expired).await.unwrap();
        let other_shard = NewRevocation { shard: 3, ..revocation("03", issuer_id, 100, 0) };
        store.insert_revocation(&other_shard).await.unwrap();

        let serials: Vec<String> =
            store.revoked_for_shard(issuer_id, 0, 1_000).await.unwrap().into_iter().map(|row| row.serial).collect();
        assert_eq!(serials, ["01"]);
        assert_eq!(store.count_expired_revocations(issuer_id, 0, 400, 1_000).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn serial_status_cases() {
        let (_dir, store, issuer_id) = open_store().await;
        store.reserve_serials(issuer_id, &[("0b".to_owned(), None), ("0c".to_owned(), None)], 1).await.unwrap();
        store.insert_revocation(&revocation("0c", issuer_id, 100, 1)).await.unwrap();

        let issued = certkeeper_core::CertificateRecord {
            id: "issued-without-reservation".into(),
            account_id: None,
            product_id: 1,
            status: certkeeper_core::CertificateStatus::Issued,
            status_message: String::new(),
            source: certkeeper_core::CertificateSource::Issued,
            validation_method: certkeeper_core::ValidationMethod::None,
            domain: "www.example.com".into(),
            names: vec!["www.example.com".into()],
            key_algorithm: certkeeper_core::KeyAlgorithm::EcdsaP256,
            alias: String::new(),
            project_id: 0,
            serial: Some("0e".into()),
            issuer_id: Some(issuer_id),
            not_before: Some(1),
            not_after: Some(100),
            certificate_der: Some(b"leaf".to_vec()),
            csr_der: None,
            sealed_private_key: None,
            renewed_from: None,
            renewal_id: None,
            reissued_from: None,
            reissued_by: None,
            auto_renew: false,
            term_ends_at: None,
            created_at: 1,
            updated_at: 1,
        };
        let log = crate::LogEntry { actor: "operator", action: "issued", detail: "", at: 1 };
        store.insert_certificate(&issued, &log).await.unwrap();

        assert_eq!(store.serial_status("0b").await.unwrap(), SerialStatus::Good { issuer_id });
        assert!(matches!(store.serial_status("0c").await.unwrap(), SerialStatus::Revoked(row) if row.reason_code == 1));
        assert_eq!(store.serial_status("0d").await.unwrap(), SerialStatus::Unknown);
        assert_eq!(store.serial_status("0e").await.unwrap(), SerialStatus::Good { issuer_id });
    }

    #[tokio::test]
    async fn crl_number_strictly_increases() {
        let (_dir, store, issuer_id) = open_store().await;
        let first = store.next_crl_number(issuer_id, 0, 1_000, 0).await.unwrap();
        let same_second = store.next_crl_number(issuer_id, 0, 1_000, 0).await.unwrap();
        let clock_back = store.next_crl_number(issuer_id, 0, 400, 0).await.unwrap();
        let later = store.next_crl_number(issuer_id, 0, 5_000, 2).await.unwrap();
        assert_eq!(first, 1_000);
        assert_eq!(same_second, 1_001);
        assert_eq!(clock_back, 1_002);
        assert_eq!(later, 5_000);

        let state = store.crl_state(issuer_id, 0).await.unwrap().unwrap();
        assert_eq!(state.last_number, 5_000);
        assert_eq!(state.last_entry_count, 2);
        assert_eq!(store.next_crl_number(issuer_id, 1, 10, 0).await.unwrap(), 10);
    }
}
