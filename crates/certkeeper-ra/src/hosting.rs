//! Hosting of certificates issued elsewhere: upload, duplicate checks and chain checks.
//!
//! `certkeeper_pki::upload` parses an upload and builds its chain. This service adds the
//! sources that need the store or the network (certkeeper's own CA certificates, caIssuers
//! fetches when enabled), seals the key, and stores everything in one transaction. An upload
//! is stored as an issued certificate (status 1) with source `upload`, no serial and no issuer
//! row, so lists, expiry monitoring and deletion treat it like any other certificate, and
//! revocation rejects it.

use std::sync::Arc;

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_pki::upload::{self, CertificateKind, ChainSources, HostedChain, ParsedUpload, UploadError, UploadInput};
use certkeeper_store::{LogEntry, Store, StoreError, UploadRow};
use certkeeper_va::Validator;

use crate::issuance::new_certificate_id;

/// caIssuers fetches made for one upload at most: one per missing level of the chain.
pub const MAX_AIA_FETCHES: usize = 3;

/// Product id stored for uploads, which belong to no product of the catalogue.
pub const UPLOAD_PRODUCT_ID: u32 = 0;

/// Error from an upload or a chain check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostingError {
    /// The input was rejected, with a message for the client.
    #[error(transparent)]
    Upload(#[from] UploadError),
    #[error("store failure: {0}")]
    Store(#[from] StoreError),
    #[error("sealing the private key failed: {0}")]
    Seal(#[from] certkeeper_pki::SealError),
    /// The leaf was issued by certkeeper's CA and is revoked.
    #[error(
        "the certificate with serial {serial} was issued by this certkeeper and revoked at Unix time {revoked_at} \
         (reason code {reason_code}); clients reject it, so upload a valid certificate or apply for a new one"
    )]
    Revoked { serial: String, revoked_at: i64, reason_code: i64 },
}

/// An upload request, with the API's fields converted.
#[derive(Clone, Debug)]
pub struct UploadRequest {
    pub account_id: Option<i64>,
    pub certificate: String,
    pub private_key: Option<String>,
    /// Password of an encrypted key or PKCS#12 file, and of later keystore downloads.
    pub password: Option<String>,
    pub kind: CertificateKind,
    pub alias: String,
    pub project_id: u64,
    /// False to return an existing upload of the same leaf instead of storing a copy.
    pub repeatable: bool,
    /// Operation-log actor, such as `account:7`.
    pub actor: String,
}

/// The result of an upload.
#[derive(Debug)]
pub struct UploadOutcome {
    /// The stored certificate, or the existing one when `repeat_of` is set.
    pub certificate_id: String,
    /// The existing upload of the same leaf that was returned instead of a new one.
    pub repeat_of: Option<String>,
    pub chain: HostedChain,
    /// Blocks that were skipped while parsing.
    pub skipped: Vec<String>,
    /// Copies of certificates that appeared more than once.
    pub duplicates: usize,
}

/// Stores uploads and checks chains.
#[derive(Clone)]
pub struct HostingService {
    store: Store,
    master_key: Arc<MasterKey>,
    /// Fetches caIssuers URLs when `upload.fetch_aia` is set.
    fetcher: Option<Arc<Validator>>,
}

/// Returns the sealing context of an upload's key password.
pub fn key_password_context(certificate_id: &str) -> String {
    format!("certificate-key-password:{certificate_id}")
}

impl HostingService {
    /// Creates the service. With `fetcher`, missing intermediates are fetched from the
    /// caIssuers URLs of the certificates, under the validator's address rules.
    pub fn new(store: Store, master_key: Arc<MasterKey>, fetcher: Option<Arc<Validator>>) -> Self {
        Self { store, master_key, fetcher }
    }

    /// Returns the DER of certkeeper's own CA certificates.
    async fn own_certificates(&self) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.store.issuers().await?.into_iter().map(|issuer| issuer.certificate_der).collect())
    }

    /// Orders and completes a parsed upload, fetching caIssuers URLs when allowed.
    pub async fn build_chain(&self, parsed: &ParsedUpload, kind: CertificateKind, now: i64) -> Result<HostedChain, HostingError> {
        let mut sources = ChainSources { own: self.own_certificates().await?, fetched: Vec::new() };
        let mut chain = upload::assemble(&parsed.certificates, parsed.key.as_ref(), kind, now, &sources)?;
        let Some(fetcher) = &self.fetcher else {
            return Ok(chain);
        };
        for _ in 0..MAX_AIA_FETCHES {
            let Some(missing) = &chain.report.missing_issuer else {
                break;
            };
            let Some(url) = missing.ca_issuers.first().cloned() else {
                break;
            };
            match fetcher.fetch_ca_issuer(&url).await {
                Ok(body) => {
                    let found = upload::certificates_in(&body);
                    tracing::debug!(%url, certificates = found.len(), "fetched caIssuers URL");
                    if found.is_empty() {
                        break;
                    }
                    sources.fetched.extend(found);
                }
                Err(error) => {
                    tracing::debug!(%url, %error, "caIssuers fetch failed");
                    break;
                }
            }
            let next = upload::assemble(&parsed.certificates, parsed.key.as_ref(), kind, now, &sources)?;
            let progressed = next.intermediates.len() > chain.intermediates.len() || next.root.is_some() != chain.root.is_some();
            chain = next;
            if !progressed {
                break;
            }
        }
        Ok(chain)
    }

    /// Parses, checks and stores an upload. Nothing is stored when a check fails.
    pub async fn upload(&self, request: &UploadRequest, now: i64) -> Result<UploadOutcome, HostingError> {
        let input = UploadInput {
            certificate_field: "CertificatePublicKey",
            certificate: &request.certificate,
            key_field: "CertificatePrivateKey",
            private_key: request.private_key.as_deref(),
            password: request.password.as_deref(),
        };
        let parsed = upload::parse_upload(&input)?;
        if request.kind == CertificateKind::Server && parsed.key.is_none() {
            return Err(UploadError::KeyRequired.into());
        }
        let chain = self.build_chain(&parsed, request.kind, now).await?;
        self.reject_revoked_here(&chain).await?;
        let skipped = parsed.skipped.clone();
        let duplicates = parsed.duplicates.len();

        if !request.repeatable
            && let Some(existing) = self.store.upload_with_fingerprint(request.account_id, &chain.leaf.sha256).await?
        {
            return Ok(UploadOutcome { certificate_id: existing.clone(), repeat_of: Some(existing), chain, skipped, duplicates });
        }

        let id = new_certificate_id();
        let record = self.record(request, &id, &chain, parsed.key.as_ref(), now)?;
        let sealed_password = match request.password.as_deref().filter(|password| !password.is_empty()) {
            Some(password) => Some(self.master_key.seal(&key_password_context(&id), password.as_bytes())?),
            None => None,
        };
        let upload_row = UploadRow {
            certificate_id: id.clone(),
            account_id: request.account_id,
            certificate_type: match request.kind {
                CertificateKind::Server => "SVR".to_owned(),
                CertificateKind::Ca => "CA".to_owned(),
            },
            leaf_sha256: chain.leaf.sha256.clone(),
            chain_der: chain.intermediates.iter().flat_map(|certificate| certificate.der.iter().copied()).collect(),
            root_der: chain.root.as_ref().map(|root| root.der.clone()),
            sealed_key_password: sealed_password,
            trusted: chain.report.trusted,
            report: summary(&chain),
        };
        let detail = format!("uploaded {} with {} intermediates", chain.leaf.subject, chain.intermediates.len());
        let log = LogEntry { actor: &request.actor, action: "upload", detail: &detail, at: now };
        self.store.insert_upload(&record, &upload_row, &log).await?;
        tracing::info!(certificate_id = %id, leaf_sha256 = %chain.leaf.sha256, trusted = chain.report.trusted, "certificate uploaded");
        Ok(UploadOutcome { certificate_id: id, repeat_of: None, chain, skipped, duplicates })
    }

    /// Rejects a leaf that certkeeper itself issued and revoked: its serial has a revocation
    /// row, and the issuer of that row is the certificate that signed the leaf in this chain.
    async fn reject_revoked_here(&self, chain: &HostedChain) -> Result<(), HostingError> {
        let Ok(summary) = certkeeper_pki::describe::describe(&chain.leaf.der) else {
            return Ok(());
        };
        let Some(revocation) = self.store.revocation_status(&summary.serial_hex).await? else {
            return Ok(());
        };
        let signer = chain.intermediates.first().or(chain.root.as_ref()).map(|certificate| certificate.der.as_slice());
        let issued_here = self
            .store
            .issuers()
            .await?
            .iter()
            .any(|issuer| issuer.id == revocation.issuer_id && Some(issuer.certificate_der.as_slice()) == signer);
        if !issued_here {
            return Ok(());
        }
        Err(HostingError::Revoked { serial: summary.serial_hex, revoked_at: revocation.revoked_at, reason_code: revocation.reason_code })
    }

    fn record(
        &self,
        request: &UploadRequest,
        id: &str,
        chain: &HostedChain,
        key: Option<&upload::PrivateKey>,
        now: i64,
    ) -> Result<CertificateRecord, HostingError> {
        let leaf = &chain.leaf;
        let mut names = leaf.names();
        if names.is_empty() {
            names.push(leaf.common_name.clone().unwrap_or_else(|| leaf.subject.clone()));
        }
        let sealed_private_key = match key {
            Some(key) => Some(self.master_key.seal(&crate::orders::private_key_context(id), &key.pkcs8)?),
            None => None,
        };
        // The key algorithm was checked by the chain builder; `check_leaf` rejects the rest.
        let key_algorithm = leaf.key_algorithm.clone().map_err(|algorithm| UploadError::UnsupportedCertificateKey {
            subject: leaf.subject.clone(),
            algorithm,
        })?;
        Ok(CertificateRecord {
            id: id.to_owned(),
            account_id: request.account_id,
            product_id: UPLOAD_PRODUCT_ID,
            status: CertificateStatus::Issued,
            status_message: String::new(),
            source: CertificateSource::Uploaded,
            validation_method: ValidationMethod::None,
            domain: names[0].clone(),
            names,
            key_algorithm,
            alias: request.alias.clone(),
            project_id: request.project_id,
            serial: None,
            issuer_id: None,
            not_before: Some(leaf.not_before),
            not_after: Some(leaf.not_after),
            certificate_der: Some(leaf.der.clone()),
            csr_der: None,
            sealed_private_key,
            renewed_from: None,
            renewal_id: None,
            reissued_from: None,
            reissued_by: None,
            auto_renew: false,
            term_ends_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// Returns the id of the caller's live upload whose leaf is the leaf of `certificate`.
    pub async fn find_existing(&self, account_id: Option<i64>, certificate: &str) -> Result<Option<String>, HostingError> {
        let parsed = self.parse_certificates("CertificatePublicKey", certificate)?;
        // Expiry does not matter for a lookup, so the check runs at the earliest time.
        let chain = upload::assemble(&parsed.certificates, None, CertificateKind::Server, i64::MIN, &ChainSources::default());
        let leaf_sha256 = match chain {
            Ok(chain) => chain.leaf.sha256,
            // A CA certificate on its own has no server leaf; its own fingerprint is looked up.
            Err(_) => parsed.certificates[0].sha256.clone(),
        };
        Ok(self.store.upload_with_fingerprint(account_id, &leaf_sha256).await?)
    }

    /// Parses a certificate field without a key.
    pub fn parse_certificates(&self, field: &'static str, certificate: &str) -> Result<ParsedUpload, HostingError> {
        let input = UploadInput { certificate_field: field, certificate, key_field: "CertificatePrivateKey", private_key: None, password: None };
        Ok(upload::parse_upload(&input)?)
    }
}

/// Summarises what the chain builder did, one fact per line, for the upload row.
fn summary(chain: &HostedChain) -> String {
    let report = &chain.report;
    let mut lines = vec![format!("reordered: {}", report.reordered), format!("trusted: {}", report.trusted)];
    lines.extend(report.dropped.iter().map(|change| format!("dropped ({}): {}", change.reason, change.subject)));
    lines.extend(report.added.iter().map(|change| format!("added ({}): {}", change.reason, change.subject)));
    lines.extend(report.warnings.iter().map(|warning| format!("warning {}: {}", warning.code, warning.message)));
    lines.join("\n")
}
