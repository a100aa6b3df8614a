//! Durable storage for certkeeper.
//!
//! The embedded default is SQLite in WAL mode with `synchronous = FULL`, so a commit that has
//! returned survives a crash or power loss. Queries use numbered `$n` placeholders and standard
//! SQL, which SQLite and PostgreSQL both accept; only the migrations are written per backend.
//! Every state change runs in one transaction together with its operation-log row.

mod accounts;
mod certificates;
mod crls;
mod error;
mod issuers;
mod jobs;
mod lifecycle;
mod listing;
mod notices;
mod organizations;
mod revocations;
mod reviews;
mod uploads;
mod validations;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use accounts::{AccountRow, ApiKeyCredential, ApiKeyRow};
pub use certificates::{LogEntry, OperationLogRow};
pub use crls::{CRL_PUBLISH_MAX_ATTEMPTS, CrlPublishPayload, KIND_CRL_PUBLISH, StoredCrl, StoredCrlVersion, crl_number_after};
pub use error::StoreError;
pub use issuers::{IssuerRow, NewIssuer};
pub use jobs::{Backoff, FailOutcome, JOB_DEAD, JOB_DONE, JOB_QUEUED, JobRow, NewJob};
pub use lifecycle::{DNS_AUTO_CLEANUP_MAX_ATTEMPTS, KIND_DNS_AUTO_CLEANUP, ShardOf};
pub use organizations::{
    CompanyRow, MANAGER_AUDIT, MANAGER_INVALID, MANAGER_OK, ManagerRow, NewCompany, NewManager, NewSubmission, SubmissionRow,
};
pub use listing::{CertificateFilter, CertificateOrder, CsrRecord, Window};
pub use notices::{ExpiryCandidate, NewExpiryNotice, NotificationSettingsRow};
pub use revocations::{CrlEntryRow, CrlStateRow, NewRevocation, RevocationRow, SerialStatus};
pub use reviews::{
    LetterAttached, NewRevocationLetter, NewRevocationRequest, REVIEW_KIND_REVOKE, REVIEW_KIND_REVOKE_FORM, REVIEW_KIND_REVOKE_LETTER,
    ReviewRow, RevocationLetterRow, RevocationRequestRow,
};
pub use uploads::UploadRow;
pub use validations::{CheckOutcome, Issued, NewValidation, ValidationRow};

/// File name of the SQLite database inside the data directory.
pub const DATABASE_FILE: &str = "certkeeper.db";

/// Connections in the pool; SQLite serialises writers, so more only helps concurrent readers.
const MAX_CONNECTIONS: u32 = 8;

/// Page size of new databases, in bytes (an existing database keeps its own). A certificate
/// row is about 1.2 KiB, so only three fit in a 4 KiB leaf page. In a trial with this schema, batch
/// inserts ran 10 to 30% faster with 16 KiB pages than with SQLite's 4 KiB default.
const PAGE_SIZE: u32 = 16 * 1024;

/// Page cache per connection, in KiB. SQLite's 2 MiB default made inserts several times slower
/// past 50,000 certificates in the issuance benchmark.
const CACHE_KIB: u32 = 64 * 1024;

/// WAL size, in pages (64 MiB with 16 KiB pages), after which a commit copies the WAL back into
/// the database file. Issuance commits dirty thousands of pages each, so SQLite's default of
/// 1000 pages checkpointed after nearly every commit. A larger WAL lets a page changed by many
/// commits be written back once; the WAL file is truncated again when the store closes.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 4_096;

/// How long a writer waits for another writer's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Handle to the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// One connection for the bulk writes of issuance. SQLite drops a connection's whole page
    /// cache when another connection has committed since its last transaction, so writes spread
    /// over the pool re-read every index page they touch. Writes that all go through this
    /// connection keep its cache.
    writer: SqlitePool,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path` and applies pending migrations.
    ///
    /// A file that is not an SQLite database, or one written by a newer certkeeper, is reported
    /// with its path and left untouched.
    pub async fn open(path: &Path) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|error| StoreError::open(path, error))?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .page_size(PAGE_SIZE)
            .pragma("cache_size", format!("-{}", CACHE_KIB))
            .pragma("temp_store", "MEMORY")
            .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string());
        // A connection to a local SQLite file does not go stale, so the pool hands it out
        // without the default ping, which cost one extra round trip to the connection's worker
        // thread per query.
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|error| StoreError::open(path, error))?;

        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&pool)
            .await
            .map_err(|error| StoreError::open(path, error))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Migrate { path: path.to_owned(), detail: error.to_string() })?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|error| StoreError::open(path, error))?;
        Ok(Store { pool, writer, path: path.to_owned() })
    }

    /// Returns the database file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection after in-flight queries finish and checkpoints the WAL.
    pub async fn close(&self) {
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await {
            tracing::warn!(%error, "WAL checkpoint at close failed");
        }
        self.writer.close().await;
        self.pool.close().await;
    }

    /// Returns a setting, if present.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let value: Option<(String,)> = sqlx::query_as("SELECT value FROM settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value.map(|(v,)| v))
    }

    /// Stores a setting unless one with that name exists, and returns the stored value.
    pub async fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(self.setting(name).await?.unwrap_or_else(|| value.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn new_database_settings() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("test.db")).await.unwrap();
        let (page_size,): (i64,) = sqlx::query_as("PRAGMA page_size").fetch_one(&store.writer).await.unwrap();
        assert_eq!(page_size, i64::from(PAGE_SIZE));
        let (journal_mode,): (String,) = sqlx::query_as("PRAGMA journal_mode").fetch_one(&store.writer).await.unwrap();
        assert_eq!(journal_mode, "wal");
        let (temp_store,): (i64,) = sqlx::query_as("PRAGMA temp_store").fetch_one(&store.writer).await.unwrap();
        assert_eq!(temp_store, 2, "temp_store = MEMORY");
        store.close().await;
    }
}
