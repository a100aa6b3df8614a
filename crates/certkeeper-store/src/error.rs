use std::path::{Path, PathBuf};

use certkeeper_core::CertificateStatus;

/// Error from a store operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "cannot open the database {}: {detail}. If the file is damaged, restore it from a backup; \
         if the data directory is wrong, point --data-dir at the right one",
        path.display()
    )]
    Open { path: PathBuf, detail: String },
    #[error(
        "the database {} cannot be migrated: {detail}. It may come from a newer certkeeper; \
         run that version or restore a backup",
        path.display()
    )]
    Migrate { path: PathBuf, detail: String },
    #[error("certificate {id} is in status {found}, not {expected}; it changed in the meantime")]
    StatusChanged { id: String, expected: CertificateStatus, found: CertificateStatus },
    #[error("certificate {id} does not exist")]
    NotFound { id: String },
    #[error("the stored row {what} is invalid: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("a database read task failed: {detail}")]
    Worker { detail: String },
    #[error("database query failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn open(path: &Path, error: sqlx::Error) -> StoreError {
        StoreError::Open { path: path.to_owned(), detail: error.to_string() }
    }

    /// Returns true when a unique constraint rejected the write.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => error.is_unique_violation(),
            _ => false,
        }
    }
}
