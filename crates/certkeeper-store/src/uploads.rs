//! Uploaded certificates: the leaf row in `certificates` plus the chain and upload facts in
//! `uploaded_certificates`.

use certkeeper_core::CertificateRecord;

use crate::certificates::{insert_certificate_rows, insert_log_rows};
use crate::{LogEntry, Store, StoreError};

/// What an upload stores besides its certificate row.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct UploadRow {
    pub certificate_id: String,
    pub account_id: Option<i64>,
    /// `SVR` or `CA`.
    pub certificate_type: String,
    /// Lower-case hex SHA-256 of the leaf DER.
    pub leaf_sha256: String,
    /// Intermediates, the leaf's issuer first, each a complete DER certificate.
    pub chain_der: Vec<u8>,
    pub root_der: Option<Vec<u8>>,
    /// The upload's KeyPassword, sealed under the master key.
    pub sealed_key_password: Option<Vec<u8>>,
    pub trusted: bool,
    /// What the chain builder changed and warned about, one fact a line.
    pub report: String,
}

impl Store {
    /// Returns the ids among `ids` of uploads with CertificateType CA.
    pub async fn ca_uploads(&self, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(500) {
            let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "SELECT certificate_id FROM uploaded_certificates WHERE certificate_type = 'CA' AND certificate_id IN (",
            );
            let mut separated = builder.separated(", ");
            for id in chunk {
                separated.push_bind(id);
            }
            builder.push(")");
            let rows: Vec<(String,)> = builder.build_query_as().fetch_all(&self.pool).await?;
            found.extend(rows.into_iter().map(|(id,)| id));
        }
        Ok(found)
    }

    /// Inserts an uploaded certificate, its upload row and an `upload` log row in one
    /// transaction.
    pub async fn insert_upload(&self, record: &CertificateRecord, upload: &UploadRow, log: &LogEntry<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        insert_certificate_rows(&mut tx, std::slice::from_ref(record)).await?;
        sqlx::query(
            "INSERT INTO uploaded_certificates (certificate_id, account_id, certificate_type, leaf_sha256, chain_der, root_der, \
             sealed_key_password, trusted, report) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&upload.certificate_id)
        .bind(upload.account_id)
        .bind(&upload.certificate_type)
        .bind(&upload.leaf_sha256)
        .bind(&upload.chain_der)
        .bind(&upload.root_der)
        .bind(&upload.sealed_key_password)
        .bind(upload.trusted)
        .bind(&upload.report)
        .execute(&mut *tx)
        .await?;
        insert_log_rows(&mut tx, std::slice::from_ref(record), log).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Returns the upload row of a certificate, `None` for certificates certkeeper issued.
    pub async fn upload(&self, certificate_id: &str) -> Result<Option<UploadRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM uploaded_certificates WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Returns the id of the oldest live upload of `account_id` (any account for `None`) whose
    /// leaf has this SHA-256, if any.
    pub async fn upload_with_fingerprint(&self, account_id: Option<i64>, leaf_sha256: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT u.certificate_id FROM uploaded_certificates u JOIN certificates c ON c.id = u.certificate_id \
             WHERE u.leaf_sha256 = $1 AND c.deleted_at IS NULL AND ($2 IS NULL OR u.account_id = $2) \
             ORDER BY c.created_at, c.id LIMIT 1",
        )
        .bind(leaf_sha256)
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(id,)| id))
    }
}

impl Store {
    /// Stores the sealed keystore password of a certificate, replacing an earlier one.
    pub async fn set_key_password(&self, certificate_id: &str, sealed_password: &[u8]) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO certificate_key_passwords (certificate_id, sealed_password) VALUES ($1, $2) \
             ON CONFLICT (certificate_id) DO UPDATE SET sealed_password = excluded.sealed_password",
        )
        .bind(certificate_id)
        .bind(sealed_password)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Returns the sealed keystore password of a certificate, if one was given.
    pub async fn key_password(&self, certificate_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> = sqlx::query_as("SELECT sealed_password FROM certificate_key_passwords WHERE certificate_id = $1")
            .bind(certificate_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(sealed,)| sealed))
    }
}
