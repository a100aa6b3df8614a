//! Certificate records, reserved serials and the operation log.

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm, ValidationMethod};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::{Store, StoreError};

/// Rows per multi-row INSERT; 27 columns x 400 rows stays under SQLite's 32,766 bound variables.
const ROWS_PER_STATEMENT: usize = 400;

/// An operation-log entry to append with a state change.
#[derive(Clone, Debug)]
pub struct LogEntry<'a> {
    /// Actor of the change: `account:<id>`, `operator`, or `system`.
    pub actor: &'a str,
    /// Operation type, with the API's names where one exists (`apply`, `issued`, `revoke`).
    pub action: &'a str,
    pub detail: &'a str,
    pub at: i64,
}

/// A stored operation-log row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct OperationLogRow {
    pub id: i64,
    pub certificate_id: Option<String>,
    pub account_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub from_status: Option<i64>,
    pub to_status: Option<i64>,
    pub detail: String,
    pub created_at: i64,
}

pub(crate) const CERTIFICATE_COLUMNS: &str = "id, account_id, product_id, status, status_message, source, validation_method, \
     domain, names, key_algorithm, alias, project_id, serial, issuer_id, not_before, not_after, certificate_der, \
     csr_der, sealed_private_key, renewed_from, renewal_id, reissued_from, reissued_by, auto_renew, term_ends_at, created_at, \
     updated_at";

impl Store {
    /// Records serials before the CA signs with them, for certificates stored in a later
    /// transaction such as an order's. A duplicate fails the whole batch.
    pub async fn reserve_serials(&self, issuer_id: i64, serials: &[(String, Option<String>)], at: i64) -> Result<(), StoreError> {
        let mut tx = self.writer.begin().await?;
        insert_serial_rows(&mut tx, issuer_id, serials, at).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts one certificate and its first operation-log row in one transaction.
    pub async fn insert_certificate(&self, record: &CertificateRecord, log: &LogEntry<'_>) -> Result<(), StoreError> {
        self.insert_certificates(std::slice::from_ref(record), log).await
    }

    /// Inserts certificates with one operation-log row each, all in one transaction.
    pub async fn insert_certificates(&self, records: &[CertificateRecord], log: &LogEntry<'_>) -> Result<(), StoreError> {
        // Binding the values costs about a fifth of the time of a large batch. It happens
        // before the transaction, while another batch may still hold the writer connection.
        let mut statements = Vec::with_capacity(2 * records.len().div_ceil(ROWS_PER_STATEMENT));
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            statements.push(certificate_rows_query(chunk));
            statements.push(log_rows_query(chunk, log));
        }
        let mut tx = self.writer.begin().await?;
        for mut statement in statements {
            statement.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Returns a certificate by id, including deleted ones.
    pub async fn certificate(&self, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let query = format!("SELECT {CERTIFICATE_COLUMNS} FROM certificates WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(query)).bind(id).fetch_optional(&self.pool).await?;
        row.map(|row| certificate_from_row(&row)).transpose()
    }

    /// Returns the number of certificate rows.
    pub async fn count_certificates(&self) -> Result<i64, StoreError> {
        let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM certificates").fetch_one(&self.pool).await?;
        Ok(count)
    }

    /// Moves a certificate from `from` to `to` and appends the log row, in one transaction.
    ///
    /// The update only matches while the row is still in `from`, so two concurrent changes
    /// cannot both succeed; the loser gets [`StoreError::StatusChanged`]. The caller checks
    /// that the transition is allowed (`CertificateStatus::transition_to`). When an order fails
    /// or is cancelled (`to` is 2 or 7), the same transaction releases the certificate that
    /// waited for it as a reissue or renewal.
    pub async fn change_status(
        &self,
        id: &str,
        from: CertificateStatus,
        to: CertificateStatus,
        status_message: &str,
        log: &LogEntry<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE certificates SET status = $1, status_message = $2, updated_at = $3 WHERE id = $4 AND status = $5",
        )
        .bind(i64::from(to.code()))
        .bind(status_message)
        .bind(log.at)
        .bind(id)
        .bind(i64::from(from.code()))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            let found: Option<(i64,)> = sqlx::query_as("SELECT status FROM certificates WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(match found.and_then(|(code,)| CertificateStatus::from_code(code as u64)) {
                Some(found) => StoreError::StatusChanged { id: id.to_owned(), expected: from, found },
                None => StoreError::NotFound { id: id.to_owned() },
            });
        }
        append_log(&mut tx, id, None, Some(from), Some(to), log).await?;
        if matches!(to, CertificateStatus::ReviewFailed | CertificateStatus::Cancelled) {
            crate::lifecycle::release_links(&mut tx, id, log).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Returns the operation log of one certificate, oldest first.
    pub async fn operation_log(&self, certificate_id: &str) -> Result<Vec<OperationLogRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM operation_log WHERE certificate_id = $1 ORDER BY id")
            .bind(certificate_id)
            .fetch_all(&self.pool)
            .await?)
    }
}

async fn insert_serial_rows(
    tx: &mut SqliteConnection,
    issuer_id: i64,
    serials: &[(String, Option<String>)],
    at: i64,
) -> Result<(), StoreError> {
    for chunk in serials.chunks(ROWS_PER_STATEMENT) {
        let mut builder: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO serials (serial, issuer_id, certificate_id, created_at) ");
        builder.push_values(chunk, |mut row, (serial, certificate_id)| {
            row.push_bind(serial).push_bind(issuer_id).push_bind(certificate_id).push_bind(at);
        });
        builder.build().execute(&mut *tx).await?;
    }
    Ok(())
}

pub(crate) async fn insert_certificate_rows(tx: &mut SqliteConnection, records: &[CertificateRecord]) -> Result<(), StoreError> {
    certificate_rows_query(records).build().execute(&mut *tx).await?;
    Ok(())
}

pub(crate) async fn insert_log_rows(tx: &mut SqliteConnection, records: &[CertificateRecord], log: &LogEntry<'_>) -> Result<(), StoreError> {
    log_rows_query(records, log).build().execute(&mut *tx).await?;
    Ok(())
}

/// Builds one multi-row INSERT of certificates, with every value bound.
fn certificate_rows_query(records: &[CertificateRecord]) -> QueryBuilder<Sqlite> {
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(format!("INSERT INTO certificates ({CERTIFICATE_COLUMNS}) "));
    builder.push_values(records, |mut row, record| {
        row.push_bind(&record.id)
            .push_bind(record.account_id)
            .push_bind(i64::from(record.product_id))
            .push_bind(i64::from(record.status.code()))
            .push_bind(&record.status_message)
            .push_bind(record.source.as_str())
            .push_bind(record.validation_method.as_str())
            .push_bind(&record.domain)
            .push_bind(record.names.join(","))
            .push_bind(record.key_algorithm.name())
            .push_bind(&record.alias)
            .push_bind(record.project_id as i64)
            .push_bind(&record.serial)
            .push_bind(record.issuer_id)
            .push_bind(record.not_before)
            .push_bind(record.not_after)
            .push_bind(&record.certificate_der)
            .push_bind(&record.csr_der)
            .push_bind(&record.sealed_private_key)
            .push_bind(&record.renewed_from)
            .push_bind(&record.renewal_id)
            .push_bind(&record.reissued_from)
            .push_bind(&record.reissued_by)
            .push_bind(record.auto_renew)
            .push_bind(record.term_ends_at)
            .push_bind(record.created_at)
            .push_bind(record.updated_at);
    });
    builder
}

/// Builds one multi-row INSERT of the operation-log rows of new certificates.
fn log_rows_query(records: &[CertificateRecord], log: &LogEntry<'_>) -> QueryBuilder<Sqlite> {
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO operation_log (certificate_id, account_id, actor, action, from_status, to_status, detail, created_at) ",
    );
    builder.push_values(records, |mut row, record| {
        row.push_bind(&record.id)
            .push_bind(record.account_id)
            .push_bind(log.actor)
            .push_bind(log.action)
            .push_bind(None::<i64>)
            .push_bind(i64::from(record.status.code()))
            .push_bind(log.detail)
            .push_bind(log.at);
    });
    builder
}

pub(crate) async fn append_log(
    tx: &mut SqliteConnection,
    certificate_id: &str,
    account_id: Option<i64>,
    from: Option<CertificateStatus>,
    to: Option<CertificateStatus>,
    log: &LogEntry<'_>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operation_log (certificate_id, account_id, actor, action, from_status, to_status, detail, created_at) \
         VALUES ($1, COALESCE($2, (SELECT account_id FROM certificates WHERE id = $1)), $3, $4, $5, $6, $7, $8)",
    )
    .bind(certificate_id)
    .bind(account_id)
    .bind(log.actor)
    .bind(log.action)
    .bind(from.map(|s| i64::from(s.code())))
    .bind(to.map(|s| i64::from(s.code())))
    .bind(log.detail)
    .bind(log.at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) fn certificate_from_row(row: &SqliteRow) -> Result<CertificateRecord, StoreError> {
    let id: String = row.try_get("id")?;
    let corrupt = |detail: String| StoreError::Corrupt { what: format!("certificate {id}"), detail };
    let status_code: i64 = row.try_get("status")?;
    let status = CertificateStatus::from_code(status_code as u64).ok_or_else(|| corrupt(format!("status {status_code}")))?;
    let source: String = row.try_get("source")?;
    let method: String = row.try_get("validation_method")?;
    let algorithm: String = row.try_get("key_algorithm")?;
    let names: String = row.try_get("names")?;
    let product_id: i64 = row.try_get("product_id")?;
    let project_id: i64 = row.try_get("project_id")?;

    Ok(CertificateRecord {
        account_id: row.try_get("account_id")?,
        product_id: u32::try_from(product_id).map_err(|_| corrupt(format!("product_id {product_id}")))?,
        status,
        status_message: row.try_get("status_message")?,
        source: CertificateSource::parse(&source).ok_or_else(|| corrupt(format!("source {source:?}")))?,
        validation_method: method.parse::<ValidationMethod>().map_err(corrupt)?,
        domain: row.try_get("domain")?,
        names: names.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect(),
        key_algorithm: algorithm.parse::<KeyAlgorithm>().map_err(corrupt)?,
        alias: row.try_get("alias")?,
        project_id: project_id as u64,
        serial: row.try_get("serial")?,
        issuer_id: row.try_get("issuer_id")?,
        not_before: row.try_get("not_before")?,
        not_after: row.try_get("not_after")?,
        certificate_der: row.try_get("certificate_der")?,
        csr_der: row.try_get("csr_der")?,
        sealed_private_key: row.try_get("sealed_private_key")?,
        renewed_from: row.try_get("renewed_from")?,
        renewal_id: row.try_get("renewal_id")?,
        reissued_from: row.try_get("reissued_from")?,
        reissued_by: row.try_get("reissued_by")?,
        auto_renew: row.try_get("auto_renew")?,
        term_ends_at: row.try_get("term_ends_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        id,
    })
}
