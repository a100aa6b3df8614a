//! API keys: the SecretId/SecretKey pairs that clients sign requests with.

use std::fmt;

use async_trait::async_trait;
use zeroize::Zeroizing;

/// Permission level of an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Manages the certificates of its own account.
    User,
    /// A user who may also decide on revocation requests that wait for manual review.
    Reviewer,
    /// May act on every account.
    Admin,
}

/// An API key as stored, looked up by its SecretId.
#[derive(Clone)]
pub struct Credential {
    /// Account that owns the key and every resource created with it.
    pub account_id: i64,
    /// SecretKey shared with the client, wiped from memory on drop.
    pub secret_key: Zeroizing<String>,
    /// Permission level of the key.
    pub role: Role,
    /// Whether the key may be used. Requests signed with a disabled key are rejected.
    pub enabled: bool,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("account_id", &self.account_id)
            .field("secret_key", &"<redacted>")
            .field("role", &self.role)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// Error type of [`CredentialStore`] lookups, such as a failed database query.
pub type CredentialStoreError = Box<dyn std::error::Error + Send + Sync>;

/// Source of API keys.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// Looks up the key with this SecretId. Returns `Ok(None)` if no such key exists.
    ///
    /// An `Err` is returned to the client as `InternalError` and logged with the request id, so it may carry
    /// internal detail but must not contain the SecretKey.
    async fn find_credential(
        &self,
        secret_id: &str,
    ) -> Result<Option<Credential>, CredentialStoreError>;
}
