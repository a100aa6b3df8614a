//! API keys kept in the store: creation, and the [`CredentialStore`] that authenticates requests.

use std::sync::Arc;

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

/// Why an API key could not be created.
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

/// [`CredentialStore`] over the `api_keys` table, opening each SecretKey with the master key.
pub struct StoreCredentials {
    store: Store,
    master_key: Arc<MasterKey>,
}

impl StoreCredentials {
    pub fn new(store: Store, master_key: Arc<MasterKey>) -> Self {
        Self { store, master_key }
    }
}

#[async_trait]
impl CredentialStore for StoreCredentials {
    async fn find_credential(&self, secret_id: &str) -> Result<Option<Credential>, CredentialStoreError> {
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
