//! API keys kept in the store: creation, and the [`CredentialStore`] that authenticates requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use certkeeper_pki::MasterKey;
use certkeeper_store::{Store, StoreError};
use zeroize::Zeroizing;

use crate::credentials::{Credential, CredentialStore, CredentialStoreError, Role};

/// Characters of generated SecretIds and SecretKeys.
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Random characters after the `AKID` prefix of a SecretId, and in a SecretKey.
const RANDOM_LENGTH: usize = 32;

/// Returns the context a SecretKey is sealed with, which binds it to its SecretId.
pub fn secret_key_context(secret_id: &str) -> String {
    format!("api-key:{secret_id}")
}

/// Returns `length` random letters and digits from the system CSPRNG.
pub fn random_alphanumeric(length: usize) -> Result<String, certkeeper_pki::SealError> {
    let mut random = vec![0u8; length * 2];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| certkeeper_pki::SealError::Random)?;
    Ok(random
        .chunks(2)
        .map(|pair| {
            let value = usize::from(u16::from_be_bytes([pair[0], pair[1]]));
            ALPHANUMERIC[value % ALPHANUMERIC.len()] as char
        })
        .collect())
}

/// Parses a stored or command-line role name: `user`, `reviewer` or `admin`.
pub fn parse_role(text: &str) -> Option<Role> {
    match text {
        "user" => Some(Role::User),
        "reviewer" => Some(Role::Reviewer),
        "admin" => Some(Role::Admin),
        _ => None,
    }
}

/// Returns the stored name of a role.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Reviewer => "reviewer",
        Role::Admin => "admin",
    }
}

/// A newly created API key. The SecretKey is shown to the operator once and stored only sealed.
pub struct NewApiKey {
    pub secret_id: String,
    pub secret_key: Zeroizing<String>,
}

/// Error from creating an API key.
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    #[error(transparent)]
    Seal(#[from] certkeeper_pki::SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Generates an API key for an account, seals its SecretKey and stores it.
pub async fn create_api_key(store: &Store, master_key: &MasterKey, account_id: i64, now: i64) -> Result<NewApiKey, ApiKeyError> {
    let secret_id = format!("AKID{}", random_alphanumeric(RANDOM_LENGTH)?);
    let secret_key = Zeroizing::new(random_alphanumeric(RANDOM_LENGTH)?);
    let sealed = master_key.seal(&secret_key_context(&secret_id), secret_key.as_bytes())?;
    store.insert_api_key(&secret_id, account_id, &sealed, now).await?;
    Ok(NewApiKey { secret_id, secret_key })
}

/// How long [`StoreCredentials`] reuses a looked-up key before reading it from the store again.
pub const CREDENTIAL_CACHE_TTL: Duration = Duration::from_secs(30);

/// Keys held by the credential cache at most. When it is full, expired entries are dropped and,
/// if that frees nothing, the whole cache is cleared.
const MAX_CACHED_CREDENTIALS: usize = 10_000;

/// [`CredentialStore`] over the `api_keys` table, opening each SecretKey with the master key.
///
/// A found key, with its opened SecretKey, role and enabled state, is cached in memory for
/// [`CREDENTIAL_CACHE_TTL`], which saves a store query and an AES-GCM open per request.
/// Unknown SecretIds are not cached.
///
/// NOTE: the cache is per process, and `certkeeper key disable` runs in another process, so a
/// disabled key, or a key of a disabled account, keeps working for up to the TTL in a running
/// server.
pub struct StoreCredentials {
    store: Store,
    master_key: Arc<MasterKey>,
    ttl: Duration,
    cache: Mutex<HashMap<String, CachedCredential>>,
}

struct CachedCredential {
    credential: Credential,
    expires_at: Instant,
}

impl StoreCredentials {
    /// Creates the credential store with a cache lifetime of [`CREDENTIAL_CACHE_TTL`].
    pub fn new(store: Store, master_key: Arc<MasterKey>) -> Self {
        Self::with_cache_ttl(store, master_key, CREDENTIAL_CACHE_TTL)
    }

    /// Creates the credential store with another cache lifetime. `Duration::ZERO` turns the cache
    /// off, so every request reads its key from the store.
    pub fn with_cache_ttl(store: Store, master_key: Arc<MasterKey>, ttl: Duration) -> Self {
        Self { store, master_key, ttl, cache: Mutex::new(HashMap::new()) }
    }

    /// Drops a cached key, so the next request reads it from the store. Call it after disabling
    /// a key in this process.
    pub fn forget(&self, secret_id: &str) {
        self.lock_cache().remove(secret_id);
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedCredential>> {
        // The map stays consistent even if a holder panicked, because every update is one call.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached(&self, secret_id: &str, now: Instant) -> Option<Credential> {
        let cache = self.lock_cache();
        let entry = cache.get(secret_id)?;
        (entry.expires_at > now).then(|| entry.credential.clone())
    }

    fn remember(&self, secret_id: &str, credential: &Credential, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.lock_cache();
        if cache.len() >= MAX_CACHED_CREDENTIALS && !cache.contains_key(secret_id) {
            cache.retain(|_, entry| entry.expires_at > now);
            if cache.len() >= MAX_CACHED_CREDENTIALS {
                cache.clear();
            }
        }
        let entry = CachedCredential { credential: credential.clone(), expires_at: now + self.ttl };
        cache.insert(secret_id.to_owned(), entry);
    }

    async fn load(&self, secret_id: &str) -> Result<Option<Credential>, CredentialStoreError> {
        let Some(row) = self.store.api_key_credential(secret_id).await? else {
            return Ok(None);
        };
        let role = parse_role(&row.role)
            .ok_or_else(|| format!("account {} has the unknown role {:?}", row.account_id, row.role))?;
        let opened = self.master_key.open(&secret_key_context(secret_id), &row.sealed_secret)?;
        let secret_key = String::from_utf8(opened.to_vec())
            .map_err(|_| format!("the sealed SecretKey of {secret_id} is not UTF-8"))?;
        Ok(Some(Credential {
            account_id: row.account_id,
            secret_key: Zeroizing::new(secret_key),
            role,
            enabled: !row.disabled,
        }))
    }
}

#[async_trait]
impl CredentialStore for StoreCredentials {
    async fn find_credential(&self, secret_id: &str) -> Result<Option<Credential>, CredentialStoreError> {
        let now = Instant::now();
        if let Some(credential) = self.cached(secret_id, now) {
            return Ok(Some(credential));
        }
        let credential = self.load(secret_id).await?;
        if let Some(credential) = &credential {
            self.remember(secret_id, credential, now);
        }
        Ok(credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cached_key_is_reused_until_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("test.db")).await.unwrap();
        let master_key = Arc::new(MasterKey::generate().unwrap());
        let account_id = store.create_account("cache", "user", 0).await.unwrap();
        let key = create_api_key(&store, &master_key, account_id, 0).await.unwrap();
        let credentials = StoreCredentials::new(store.clone(), Arc::clone(&master_key));

        let found = credentials.find_credential(&key.secret_id).await.unwrap().unwrap();
        assert_eq!(found.secret_key.as_str(), key.secret_key.as_str());
        assert!(found.enabled);

        assert!(store.disable_api_key(&key.secret_id).await.unwrap());
        let cached = credentials.find_credential(&key.secret_id).await.unwrap().unwrap();
        assert!(cached.enabled, "the cached entry is used within the TTL");

        credentials.forget(&key.secret_id);
        let reloaded = credentials.find_credential(&key.secret_id).await.unwrap().unwrap();
        assert!(!reloaded.enabled);
    }

    #[tokio::test]
    async fn zero_ttl_reads_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("test.db")).await.unwrap();
        let master_key = Arc::new(MasterKey::generate().unwrap());
        let account_id = store.create_account("uncached", "user", 0).await.unwrap();
        let key = create_api_key(&store, &master_key, account_id, 0).await.unwrap();
        let credentials = StoreCredentials::with_cache_ttl(store.clone(), Arc::clone(&master_key), Duration::ZERO);

        assert!(credentials.find_credential(&key.secret_id).await.unwrap().unwrap().enabled);
        assert!(store.disable_api_key(&key.secret_id).await.unwrap());
        assert!(!credentials.find_credential(&key.secret_id).await.unwrap().unwrap().enabled);
        assert!(credentials.find_credential("AKIDunknown").await.unwrap().is_none());
    }
}
