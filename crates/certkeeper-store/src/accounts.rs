//! Accounts and their API keys (SecretId and sealed SecretKey).

use crate::{Store, StoreError};

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub name: String,
    /// `user`, `reviewer` or `admin`.
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// An API key as listed, without its secret.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub secret_id: String,
    pub account_id: i64,
    pub disabled: bool,
    pub created_at: i64,
}

/// An API key with what request authentication needs: the sealed SecretKey and the owner's role.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyCredential {
    pub secret_id: String,
    pub account_id: i64,
    /// Role of the owning account.
    pub role: String,
    /// SecretKey sealed under the master key with the context `api-key:<SecretId>`.
    pub sealed_secret: Vec<u8>,
    /// True when the key or its account is disabled.
    pub disabled: bool,
}

impl Store {
    /// Creates an account and returns its id. A taken name fails with a unique violation
    /// ([`StoreError::is_unique_violation`]).
    pub async fn create_account(&self, name: &str, role: &str, at: i64) -> Result<i64, StoreError> {
        let (id,): (i64,) = sqlx::query_as("INSERT INTO accounts (name, role, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(name)
            .bind(role)
            .bind(at)
            .fetch_one(&self.pool)
            .await?;
        Ok(id)
    }

    /// Returns the account called `name`.
    pub async fn account_by_name(&self, name: &str) -> Result<Option<AccountRow>, StoreError> {
        Ok(sqlx::query_as("SELECT id, name, role, disabled, created_at FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Stores an API key whose SecretKey the caller has sealed.
    pub async fn insert_api_key(&self, secret_id: &str, account_id: i64, sealed_secret: &[u8], at: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (secret_id, account_id, sealed_secret, created_at) VALUES ($1, $2, $3, $4)")
            .bind(secret_id)
            .bind(account_id)
            .bind(sealed_secret)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Returns the API keys of an account, oldest first.
    pub async fn api_keys(&self, account_id: i64) -> Result<Vec<ApiKeyRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT secret_id, account_id, disabled, created_at FROM api_keys WHERE account_id = $1 ORDER BY created_at, secret_id",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Disables an API key. Returns false when no key has this SecretId.
    pub async fn disable_api_key(&self, secret_id: &str) -> Result<bool, StoreError> {
        let result = sqlx::query("UPDATE api_keys SET disabled = 1 WHERE secret_id = $1")
            .bind(secret_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Returns the key with this SecretId together with its account's role.
    pub async fn api_key_credential(&self, secret_id: &str) -> Result<Option<ApiKeyCredential>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT k.secret_id, k.account_id, a.role, k.sealed_secret, (k.disabled OR a.disabled) AS disabled \
             FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.secret_id = $1",
        )
        .bind(secret_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
