//! certkeeper's CA certificates and their sealed keys.

use crate::{Store, StoreError};

/// A CA certificate to store.
#[derive(Clone, Debug)]
pub struct NewIssuer<'a> {
    pub role: &'a str,
    pub parent_id: Option<i64>,
    pub subject: &'a str,
    pub key_algorithm: &'a str,
    pub certificate_der: &'a [u8],
    pub sealed_key: &'a [u8],
    pub sha256: &'a str,
    pub not_before: i64,
    pub not_after: i64,
    pub created_at: i64,
}

/// A stored CA certificate.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IssuerRow {
    pub id: i64,
    pub role: String,
    pub parent_id: Option<i64>,
    pub subject: String,
    pub key_algorithm: String,
    pub certificate_der: Vec<u8>,
    pub sealed_key: Vec<u8>,
    pub sha256: String,
    pub not_before: i64,
    pub not_after: i64,
    pub active: bool,
    pub created_at: i64,
}

impl Store {
    /// Stores a root and its intermediate in one transaction, so a crash never leaves a root
    /// without an issuing CA. Returns the two row ids.
    pub async fn insert_ca_pair(&self, root: &NewIssuer<'_>, intermediate: &NewIssuer<'_>) -> Result<(i64, i64), StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut ids = [0i64; 2];
        for (slot, issuer) in [root, intermediate].into_iter().enumerate() {
            let parent = if slot == 1 { Some(ids[0]) } else { issuer.parent_id };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO issuers (role, parent_id, subject, key_algorithm, certificate_der, sealed_key, \
                 sha256, not_before, not_after, active, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10) RETURNING id",
            )
            .bind(issuer.role)
            .bind(parent)
            .bind(issuer.subject)
            .bind(issuer.key_algorithm)
            .bind(issuer.certificate_der)
            .bind(issuer.sealed_key)
            .bind(issuer.sha256)
            .bind(issuer.not_before)
            .bind(issuer.not_after)
            .bind(issuer.created_at)
            .fetch_one(&mut *tx)
            .await?;
            ids[slot] = id;
        }
        tx.commit().await?;
        Ok((ids[0], ids[1]))
    }

    /// Returns every CA certificate, oldest first.
    pub async fn issuers(&self) -> Result<Vec<IssuerRow>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM issuers ORDER BY id").fetch_all(&self.pool).await?)
    }
}
