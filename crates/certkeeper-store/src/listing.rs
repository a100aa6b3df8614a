//! Queries and updates behind the API's certificate listing, metadata, log and CSR actions.
//!
//! Every function takes the caller's account as `Option<i64>`: `Some(id)` limits it to that
//! account's rows, `None` (administrators) to no account. Deleted certificates are never returned.

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::certificates::{append_log, certificate_from_row};
use crate::{LogEntry, OperationLogRow, Store, StoreError};

/// Columns of a certificate row without the DER and key blobs, which a listing does not need.
/// `sealed_private_key` holds only the first byte of the sealed key, so that a listing can tell
/// whether certkeeper holds the key (IIS and Tomcat downloads need it); it cannot be opened.
const SUMMARY_COLUMNS: &str = "id, account_id, product_id, status, status_message, source, validation_method, \
     domain, names, key_algorithm, alias, project_id, serial, issuer_id, not_before, not_after, \
     NULL AS certificate_der, NULL AS csr_der, substr(sealed_private_key, 1, 1) AS sealed_private_key, renewed_from, renewal_id, \
     reissued_from, reissued_by, auto_renew, term_ends_at, created_at, updated_at";

/// Every column of a certificate row.
const FULL_COLUMNS: &str = "id, account_id, product_id, status, status_message, source, validation_method, \
     domain, names, key_algorithm, alias, project_id, serial, issuer_id, not_before, not_after, \
     certificate_der, csr_der, sealed_private_key, renewed_from, renewal_id, reissued_from, reissued_by, \
     auto_renew, term_ends_at, created_at, updated_at";

/// Order of a certificate listing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CertificateOrder {
    /// Newest application first.
    #[default]
    Newest,
    /// Soonest notAfter first.
    ExpiryAscending,
    /// Latest notAfter first.
    ExpiryDescending,
}

/// A time window `[from, until]` in Unix seconds, for "expiring soon" filters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub until: i64,
}

/// Conditions of a certificate listing; every set field must match.
#[derive(Clone, Debug, Default)]
pub struct CertificateFilter {
    pub account_id: Option<i64>,
    /// Substring of the id, the alias or any name (case-insensitive for ASCII).
    pub search: Option<String>,
    pub project_id: Option<u64>,
    /// Any of these statuses; empty means any status.
    pub statuses: Vec<CertificateStatus>,
    pub source: Option<CertificateSource>,
    /// Only these ids.
    pub ids: Option<Vec<String>>,
    /// Only SM2 certificates (`Some(true)`) or only others (`Some(false)`).
    pub shangmi: Option<bool>,
    /// Only issued certificates whose notAfter falls in the window.
    pub expiring: Option<Window>,
    /// Only issued certificates expiring in the window that have no renewal yet.
    pub renewable: Option<Window>,
    /// Only certificates that are issued and not expired at this instant (`Some((now, true))`),
    /// or only the others (`Some((now, false))`).
    pub deployable: Option<(i64, bool)>,
    /// Only certificates waiting for issuance (statuses 0 and 4).
    pub pending_issue: bool,
    /// Match nothing, for filters that no stored certificate can satisfy.
    pub match_nothing: bool,
    /// Only uploads of CertificateType CA (`Some(true)`), or only the other certificates
    /// (`Some(false)`).
    pub ca_type: Option<bool>,
}

impl CertificateFilter {
    /// Returns true when only the account and the statuses are restricted, so the stored
    /// counters give the total.
    fn is_counted_by_status(&self) -> bool {
        self.search.is_none()
            && self.project_id.is_none()
            && self.source.is_none()
            && self.ids.is_none()
            && self.shangmi.is_none()
            && self.expiring.is_none()
            && self.renewable.is_none()
            && self.deployable.is_none()
            && !self.pending_issue
            && !self.match_nothing
            && self.ca_type.is_none()
    }

    /// Pushes a query that returns the number of matching certificates: a sum of stored counters
    /// when they cover the filter, otherwise `count(*)` over the matching rows.
    fn push_count(&self, builder: &mut QueryBuilder<Sqlite>) {
        if let (Some(account_id), true) = (self.account_id, self.is_counted_by_status()) {
            builder.push("SELECT coalesce(sum(total), 0) FROM account_status_counts WHERE account_id = ");
            builder.push_bind(account_id);
            if !self.statuses.is_empty() {
                builder.push(" AND status IN (");
                let mut separated = builder.separated(", ");
                for status in &self.statuses {
                    separated.push_bind(i64::from(status.code()));
                }
                builder.push(")");
            }
            return;
        }
        builder.push("SELECT count(*) FROM certificates");
        self.push_conditions(builder);
    }

    fn push_conditions(&self, builder: &mut QueryBuilder<Sqlite>) {
        builder.push(" WHERE deleted_at IS NULL");
        if self.match_nothing {
            builder.push(" AND 0");
        }
        if let Some(account_id) = self.account_id {
            builder.push(" AND account_id = ").push_bind(account_id);
        }
        if let Some(search) = &self.search {
            let pattern = format!("%{}%", escape_like(search));
            builder.push(" AND (id LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
            builder.push(" OR alias LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
            builder.push(" OR names LIKE ").push_bind(pattern).push(" ESCAPE '\\')");
        }
        if let Some(project_id) = self.project_id {
            builder.push(" AND project_id = ").push_bind(project_id as i64);
        }
        if !self.statuses.is_empty() {
            builder.push(" AND status IN (");
            let mut separated = builder.separated(", ");
            for status in &self.statuses {
                separated.push_bind(i64::from(status.code()));
            }
            builder.push(")");
        }
        if let Some(source) = self.source {
            builder.push(" AND source = ").push_bind(source.as_str());
        }
        if let Some(ids) = &self.ids {
            if ids.is_empty() {
                builder.push(" AND 0");
            } else {
                builder.push(" AND id IN (");
                let mut separated = builder.separated(", ");
                for id in ids {
                    separated.push_bind(id.clone());
                }
                builder.push(")");
            }
        }
        if let Some(shangmi) = self.shangmi {
            builder.push(if shangmi { " AND key_algorithm = " } else { " AND key_algorithm <> " });
            builder.push_bind(KeyAlgorithm::Sm2.name());
        }
        let issued = i64::from(CertificateStatus::Issued.code());
        if let Some(window) = self.expiring {
            builder.push(" AND status = ").push_bind(issued);
            builder.push(" AND not_after BETWEEN ").push_bind(window.from).push(" AND ").push_bind(window.until);
        }
        if let Some(window) = self.renewable {
            builder.push(" AND renewal_id IS NULL AND status = ").push_bind(issued);
            builder.push(" AND not_after BETWEEN ").push_bind(window.from).push(" AND ").push_bind(window.until);
        }
        if let Some((now, deployable)) = self.deployable {
            builder.push(if deployable { " AND " } else { " AND NOT " });
            builder.push("(status = ").push_bind(issued).push(" AND not_after > ").push_bind(now).push(")");
        }
        if let Some(ca_type) = self.ca_type {
            builder.push(if ca_type { " AND id IN " } else { " AND id NOT IN " });
            builder.push("(SELECT certificate_id FROM uploaded_certificates WHERE certificate_type = 'CA')");
        }
        if self.pending_issue {
            builder.push(" AND status IN (").push_bind(i64::from(CertificateStatus::Reviewing.code()));
            builder.push(", ").push_bind(i64::from(CertificateStatus::DnsRecordAdded.code())).push(")");
        }
    }
}

/// Appends `LIMIT` and `OFFSET` as integer literals.
///
/// SQLite 3.54 (the version libsqlite3-sys bundles) marks a statement whose LIMIT is a bound
/// parameter for re-preparation whenever that parameter is bound again, so a cached statement
/// with `LIMIT $n` was compiled anew on every execution. Literals keep the cached plan, at the
/// price of one cached statement per distinct page size and offset.
fn push_limit(builder: &mut QueryBuilder<Sqlite>, limit: u64, offset: u64) {
    let limit = limit.min(i64::MAX as u64);
    let offset = offset.min(i64::MAX as u64);
    builder.push(format!(" LIMIT {limit} OFFSET {offset}"));
}

/// Escapes `%`, `_` and the escape character itself for a `LIKE ... ESCAPE '\'` pattern.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// A stored CSR record of the CSR actions.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CsrRecord {
    pub id: i64,
    pub account_id: i64,
    pub domain: String,
    pub organization: String,
    pub department: String,
    pub email: String,
    pub province: String,
    pub city: String,
    pub country: String,
    /// `RSA` or `ECC`.
    pub encrypt_algo: String,
    /// `2048`, `4096` or `prime256v1`.
    pub key_parameter: String,
    pub remark: String,
    /// 0 for a draft, 1 once the key and CSR were generated.
    pub status: i64,
    pub csr_pem: Option<String>,
    /// Private key PEM sealed with the context `csr-key:<id>`.
    pub sealed_private_key: Option<Vec<u8>>,
    /// Key password sealed with the context `csr-key-password:<id>`.
    pub sealed_key_password: Option<Vec<u8>>,
    pub created_at: i64,
    pub updated_at: i64,
}

const CSR_COLUMNS: &str = "id, account_id, domain, organization, department, email, province, city, country, \
     encrypt_algo, key_parameter, remark, status, csr_pem, sealed_private_key, sealed_key_password, created_at, updated_at";

impl Store {
    /// Returns one page of certificates matching `filter` and the number of all matches.
    ///
    /// The page and the count come from one statement, whose count is an uncorrelated scalar
    /// subquery that SQLite evaluates once. Only a page past the last match costs a second query.
    pub async fn list_certificates(
        &self,
        filter: &CertificateFilter,
        order: CertificateOrder,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<CertificateRecord>), StoreError> {
        if limit == 0 {
            return Ok((self.count_certificates_matching(filter).await?, Vec::new()));
        }
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT (");
        filter.push_count(&mut builder);
        builder.push(format!(") AS total_count, {SUMMARY_COLUMNS} FROM certificates"));
        filter.push_conditions(&mut builder);
        builder.push(match order {
            CertificateOrder::Newest => " ORDER BY created_at DESC, id DESC",
            CertificateOrder::ExpiryAscending => " ORDER BY not_after ASC, id ASC",
            CertificateOrder::ExpiryDescending => " ORDER BY not_after DESC, id DESC",
        });
        push_limit(&mut builder, limit, offset);
        let rows = builder.build().fetch_all(&self.pool).await?;
        let Some(first) = rows.first() else {
            return Ok((self.count_certificates_matching(filter).await?, Vec::new()));
        };
        let total: i64 = first.try_get("total_count")?;
        let records = rows.iter().map(certificate_from_row).collect::<Result<Vec<_>, _>>()?;
        Ok((total.max(0) as u64, records))
    }

    async fn count_certificates_matching(&self, filter: &CertificateFilter) -> Result<u64, StoreError> {
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("");
        filter.push_count(&mut builder);
        let (count,): (i64,) = builder.build_query_as().fetch_one(&self.pool).await?;
        Ok(count.max(0) as u64)
    }

    /// Returns a live certificate of the account (of any account for `None`), with its blobs.
    pub async fn certificate_for_account(&self, account_id: Option<i64>, id: &str) -> Result<Option<CertificateRecord>, StoreError> {
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {FULL_COLUMNS} FROM certificates"));
        builder.push(" WHERE deleted_at IS NULL AND id = ").push_bind(id);
        if let Some(account_id) = account_id {
            builder.push(" AND account_id = ").push_bind(account_id);
        }
        let row = builder.build().fetch_optional(&self.pool).await?;
        row.as_ref().map(certificate_from_row).transpose()
    }

    /// Sets the alias of a live certificate and logs the change, in one transaction. Returns
    /// false when the account has no such certificate.
    pub async fn update_certificate_alias(
        &self,
        account_id: Option<i64>,
        id: &str,
        alias: &str,
        log: &LogEntry<'_>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let updated = update_scoped(&mut tx, account_id, id, "alias", Value::Text(alias), log.at).await?;
        if updated {
            append_certificate_log(&mut tx, id, log).await?;
        }
        tx.commit().await?;
        Ok(updated)
    }

    /// Moves live certificates to another project and logs each change, in one transaction.
    /// Returns the ids that were changed; the others do not exist for the account.
    pub async fn update_certificate_projects(
        &self,
        account_id: Option<i64>,
        ids: &[String],
        project_id: u64,
        log: &LogEntry<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut changed = Vec::new();
        for id in ids {
            if changed.contains(id) {
                continue;
            }
            if update_scoped(&mut tx, account_id, id, "project_id", Value::Integer(project_id as i64), log.at).await? {
                append_certificate_log(&mut tx, id, log).await?;
                changed.push(id.clone());
            }
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Appends an operation-log row for a certificate without changing it, as for a download.
    pub async fn log_certificate_operation(&self, certificate_id: &str, log: &LogEntry<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        append_certificate_log(&mut tx, certificate_id, log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns the operation-log rows created in `[start, end]` (Unix seconds), newest first, and
    /// the number of all such rows.
    pub async fn operation_logs_for_account(
        &self,
        account_id: Option<i64>,
        start: i64,
        end: i64,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<OperationLogRow>), StoreError> {
        let push_conditions = |builder: &mut QueryBuilder<Sqlite>| {
            builder.push(" WHERE created_at BETWEEN ").push_bind(start).push(" AND ").push_bind(end);
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
        };
        let mut count: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT count(*) FROM operation_log");
        push_conditions(&mut count);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

        let mut page: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT * FROM operation_log");
        push_conditions(&mut page);
        page.push(" ORDER BY created_at DESC, id DESC");
        push_limit(&mut page, limit, offset);
        let rows = page.build_query_as().fetch_all(&self.pool).await?;
        Ok((total.max(0) as u64, rows))
    }

    /// Stores a new CSR record with the id the caller chose.
    pub async fn insert_csr(&self, record: &CsrRecord) -> Result<(), StoreError> {
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(format!("INSERT INTO csrs ({CSR_COLUMNS}) "));
        builder.push_values(std::iter::once(record), |mut row, record| {
            row.push_bind(record.id)
                .push_bind(record.account_id)
                .push_bind(&record.domain)
                .push_bind(&record.organization)
                .push_bind(&record.department)
                .push_bind(&record.email)
                .push_bind(&record.province)
                .push_bind(&record.city)
                .push_bind(&record.country)
                .push_bind(&record.encrypt_algo)
                .push_bind(&record.key_parameter)
                .push_bind(&record.remark)
                .push_bind(record.status)
                .push_bind(&record.csr_pem)
                .push_bind(&record.sealed_private_key)
                .push_bind(&record.sealed_key_password)
                .push_bind(record.created_at)
                .push_bind(record.updated_at);
        });
        builder.build().execute(&self.pool).await?;
        Ok(())
    }

    /// Returns a CSR record of the account (of any account for `None`).
    pub async fn csr_for_account(&self, account_id: Option<i64>, id: i64) -> Result<Option<CsrRecord>, StoreError> {
        let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {CSR_COLUMNS} FROM csrs WHERE id = "));
        builder.push_bind(id);
        if let Some(account_id) = account_id {
            builder.push(" AND account_id = ").push_bind(account_id);
        }
        Ok(builder.build_query_as().fetch_optional(&self.pool).await?)
    }

    /// Returns one page of CSR records, newest first, and the number of all matches.
    pub async fn list_csrs(
        &self,
        account_id: Option<i64>,
        domain: Option<&str>,
        encrypt_algo: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(u64, Vec<CsrRecord>), StoreError> {
        let push_conditions = |builder: &mut QueryBuilder<Sqlite>| {
            builder.push(" WHERE 1");
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if let Some(domain) = domain {
                builder.push(" AND domain LIKE ").push_bind(format!("%{}%", escape_like(domain))).push(" ESCAPE '\\'");
            }
            if let Some(algorithm) = encrypt_algo {
                builder.push(" AND encrypt_algo = ").push_bind(algorithm.to_owned());
            }
        };
        let mut count: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT count(*) FROM csrs");
        push_conditions(&mut count);
        let (total,): (i64,) = count.build_query_as().fetch_one(&self.pool).await?;

        let mut page: QueryBuilder<Sqlite> = QueryBuilder::new(format!("SELECT {CSR_COLUMNS} FROM csrs"));
        push_conditions(&mut page);
        page.push(" ORDER BY id DESC");
        push_limit(&mut page, limit, offset);
        let rows = page.build_query_as().fetch_all(&self.pool).await?;
        Ok((total.max(0) as u64, rows))
    }

    /// Replaces a draft CSR record. Returns false when the record does not exist for the account
    /// or was already generated, which freezes it.
    pub async fn update_draft_csr(&self, record: &CsrRecord) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE csrs SET domain = $1, organization = $2, department = $3, email = $4, province = $5, city = $6, \
             country = $7, encrypt_algo = $8, key_parameter = $9, remark = $10, status = $11, csr_pem = $12, \
             sealed_private_key = $13, sealed_key_password = $14, updated_at = $15 \
             WHERE id = $16 AND account_id = $17 AND status = 0",
        )
        .bind(&record.domain)
        .bind(&record.organization)
        .bind(&record.department)
        .bind(&record.email)
        .bind(&record.province)
        .bind(&record.city)
        .bind(&record.country)
        .bind(&record.encrypt_algo)
        .bind(&record.key_parameter)
        .bind(&record.remark)
        .bind(record.status)
        .bind(&record.csr_pem)
        .bind(&record.sealed_private_key)
        .bind(&record.sealed_key_password)
        .bind(record.updated_at)
        .bind(record.id)
        .bind(record.account_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Deletes CSR records of the account and returns the ids that existed.
    pub async fn delete_csrs(&self, account_id: Option<i64>, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut deleted = Vec::new();
        for &id in ids {
            let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM csrs WHERE id = ");
            builder.push_bind(id);
            if let Some(account_id) = account_id {
                builder.push(" AND account_id = ").push_bind(account_id);
            }
            if builder.build().execute(&mut *tx).await?.rows_affected() > 0 {
                deleted.push(id);
            }
        }
        tx.commit().await?;
        Ok(deleted)
    }
}

/// A value to write into one column.
enum Value<'a> {
    Text(&'a str),
    Integer(i64),
}

/// Sets one column of a live certificate in the account's scope. Returns whether a row changed.
async fn update_scoped(
    tx: &mut SqliteConnection,
    account_id: Option<i64>,
    id: &str,
    column: &'static str,
    value: Value<'_>,
    at: i64,
) -> Result<bool, StoreError> {
    let mut builder: QueryBuilder<Sqlite> = QueryBuilder::new(format!("UPDATE certificates SET {column} = "));
    match value {
        Value::Text(text) => builder.push_bind(text.to_owned()),
        Value::Integer(number) => builder.push_bind(number),
    };
    builder.push(", updated_at = ").push_bind(at);
    builder.push(" WHERE deleted_at IS NULL AND id = ").push_bind(id.to_owned());
    if let Some(account_id) = account_id {
        builder.push(" AND account_id = ").push_bind(account_id);
    }
    Ok(builder.build().execute(&mut *tx).await?.rows_affected() > 0)
}

async fn append_certificate_log(tx: &mut SqliteConnection, certificate_id: &str, log: &LogEntry<'_>) -> Result<(), StoreError> {
    append_log(tx, certificate_id, None, None, None, log).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use certkeeper_core::ValidationMethod;

    fn record(account_id: i64, index: usize, status: CertificateStatus) -> CertificateRecord {
        CertificateRecord {
            id: format!("T{index:07}"),
            account_id: Some(account_id),
            product_id: 1,
            status,
            status_message: String::new(),
            source: CertificateSource::Issued,
            validation_method: ValidationMethod::Dns,
            domain: format!("host{index}.example"),
            names: vec![format!("host{index}.example")],
            key_algorithm: KeyAlgorithm::EcdsaP256,
            alias: String::new(),
            project_id: 0,
            serial: None,
            issuer_id: None,
            not_before: None,
            not_after: None,
            certificate_der: None,
            csr_der: None,
            sealed_private_key: None,
            renewed_from: None,
            renewal_id: None,
            reissued_from: None,
            reissued_by: None,
            auto_renew: false,
            term_ends_at: None,
            created_at: 1000 + index as i64,
            updated_at: 1000 + index as i64,
        }
    }

    fn by_status(account_id: i64, statuses: &[CertificateStatus]) -> CertificateFilter {
        CertificateFilter { account_id: Some(account_id), statuses: statuses.to_vec(), ..CertificateFilter::default() }
    }

    #[tokio::test]
    async fn listing_totals_follow_status_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("test.db")).await.unwrap();
        let account = store.create_account("counts", "user", 0).await.unwrap();
        let other = store.create_account("other", "user", 0).await.unwrap();
        let mut records: Vec<CertificateRecord> = (0..5).map(|i| record(account, i, CertificateStatus::Issued)).collect();
        records.push(record(account, 5, CertificateStatus::Reviewing));
        records.push(record(other, 6, CertificateStatus::Issued));
        let log = LogEntry { actor: "test", action: "issued", detail: "", at: 0 };
        store.insert_certificates(&records, &log).await.unwrap();

        let all = CertificateFilter { account_id: Some(account), ..CertificateFilter::default() };
        let (total, page) = store.list_certificates(&all, CertificateOrder::Newest, 0, 2).await.unwrap();
        assert_eq!(total, 6);
        assert_eq!(page.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["T0000005", "T0000004"]);

        let issued = by_status(account, &[CertificateStatus::Issued]);
        let (total, page) = store.list_certificates(&issued, CertificateOrder::Newest, 0, 10).await.unwrap();
        assert_eq!(total, 5);
        assert_eq!(page.len(), 5);

        // A page past the last match still reports the total.
        let (total, page) = store.list_certificates(&issued, CertificateOrder::Newest, 50, 10).await.unwrap();
        assert_eq!(total, 5);
        assert!(page.is_empty());

        let changed = LogEntry { actor: "test", action: "revoke", detail: "", at: 1 };
        store
            .change_status("T0000000", CertificateStatus::Issued, CertificateStatus::Revoked, "", &changed)
            .await
            .unwrap();
        let (total, _) = store.list_certificates(&issued, CertificateOrder::Newest, 0, 10).await.unwrap();
        assert_eq!(total, 4);
        let either = by_status(account, &[CertificateStatus::Issued, CertificateStatus::Revoked]);
        let (total, _) = store.list_certificates(&either, CertificateOrder::Newest, 0, 0).await.unwrap();
        assert_eq!(total, 5);
        let (total, _) = store.list_certificates(&all, CertificateOrder::Newest, 0, 1).await.unwrap();
        assert_eq!(total, 6);
        let (total, _) = store.list_certificates(&by_status(other, &[]), CertificateOrder::Newest, 0, 1).await.unwrap();
        assert_eq!(total, 1);
    }
}
