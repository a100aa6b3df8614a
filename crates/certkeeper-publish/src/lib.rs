//! Publishes the revocation status of certkeeper's certificates.
//!
//! Signed CRLs are stored in the database (`published_crls`), one per issuer and shard. Durable
//! jobs build them: `crl.publish`, which the store enqueues in the transaction of each
//! revocation, and the periodic `crl.refresh` ([`KIND_CRL_REFRESH`]), so servers sharing a
//! database sign each CRL once between them and a restart loses no pending build. A
//! [`Publisher`] serves the stored CRLs from memory and loads newer ones with
//! [`Publisher::sync_crls`]. It also responds to OCSP requests (RFC 6960, with the HTTP profile
//! of RFC 5019) through a delegated responder certificate. [`Publisher::router`] serves
//! `GET /crl/{issuer}/{shard}.crl`, `GET /crl/root.crl`, `POST /ocsp` and `GET /ocsp/{request}`.
//!
//! The responder key is generated at every start and never stored: its certificate lives for
//! [`PublishSettings::responder_validity`], is renewed before it expires, and carries
//! id-pkix-ocsp-nocheck, so nothing needs to survive a restart and no further key sits on disk.

mod crl;
mod http;
mod ocsp;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use certkeeper_ca::{SealedIssuer, UrlScheme};
use certkeeper_core::{KeyAlgorithm, SerialNumber};
use certkeeper_pki::crl::{CaSigner, CrlError};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_pki::ocsp::{CertIdMatcher, OcspError, Responder};
use certkeeper_pki::MasterKey;
use certkeeper_store::{Store, StoreError};
use time::OffsetDateTime;

pub use certkeeper_store::{CrlPublishPayload, KIND_CRL_PUBLISH};
pub use crl::PublishedCrl;
pub use ocsp::{OcspReply, ReplyCaching};

/// Job kind of the periodic pass that rebuilds CRLs whose stored thisUpdate is at least
/// `crl_rebuild_interval` old ([`Publisher::refresh_crls`]).
pub const KIND_CRL_REFRESH: &str = "crl.refresh";

/// How often [`Publisher::run`] checks whether the responder certificate is due for renewal.
const RESPONDER_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// Error raised while publishing CRLs or OCSP responses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crl(#[from] CrlError),
    #[error(transparent)]
    Ocsp(#[from] OcspError),
    #[error("opening the key of CA {issuer_id} failed: {detail}")]
    Key { issuer_id: i64, detail: String },
    #[error(
        "refusing to publish the CRL of issuer {issuer_id} shard {shard}: it would list {entries} unexpired \
         entries, but the previous CRL listed {previous} and only {expired} of those have expired since. \
         Check that the database is complete before revocations are lost"
    )]
    EntriesLost { issuer_id: i64, shard: i64, entries: i64, previous: i64, expired: i64 },
    #[error("the stored revocation of serial {serial:?} is invalid: {detail}")]
    BadRevocation { serial: String, detail: String },
    #[error("building a CRL failed in its worker thread: {detail}")]
    Worker { detail: String },
    #[error(
        "publishing the CRL of issuer {issuer_id} shard {shard} failed: another process published first in each of \
         {attempts} attempts; it is retried later"
    )]
    Contended { issuer_id: i64, shard: i64, attempts: u32 },
    #[error("the stored CRL of issuer {issuer_id} shard {shard} is invalid: {detail}")]
    BadStoredCrl { issuer_id: i64, shard: i64, detail: String },
    #[error("the payload of a CRL publish job is invalid: {detail}; payload {payload:?}")]
    BadJobPayload { payload: String, detail: String },
}

/// Timing and limits of the published CRLs and OCSP responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishSettings {
    /// Age of a stored CRL after which the `crl.refresh` job rebuilds it even without
    /// revocations.
    pub crl_rebuild_interval: Duration,
    /// nextUpdate − thisUpdate of each CRL. The Baseline Requirements §4.9.7 cap it at 10 days.
    pub crl_validity: Duration,
    /// Upper bound of `max-age` on CRL responses, so HTTP caches fetch a rebuilt CRL soon.
    pub crl_max_age: Duration,
    /// nextUpdate − thisUpdate of each OCSP response. The Baseline Requirements §4.9.10
    /// require at least 8 hours and at most 10 days.
    pub ocsp_validity: Duration,
    /// Age after which a cached OCSP response is signed again on the next request.
    pub ocsp_refresh_after: Duration,
    /// Upper bound of `max-age` on OCSP responses. After a revocation, an HTTP cache in front
    /// of certkeeper may serve the old response for at most this long.
    pub ocsp_max_age: Duration,
    /// Validity of the delegated OCSP responder certificate.
    pub responder_validity: Duration,
    /// How long before its notAfter the responder certificate is replaced.
    pub responder_renew_before: Duration,
    /// Responder key algorithm.
    pub responder_algorithm: KeyAlgorithm,
    /// Maximum number of OCSP responses signed at the same time; further requests wait.
    pub max_concurrent_signatures: usize,
    /// Maximum number of cached OCSP responses; the cache is emptied when it is full.
    pub ocsp_cache_entries: usize,
}

impl Default for PublishSettings {
    fn default() -> Self {
        const HOUR: u64 = 3600;
        PublishSettings {
            crl_rebuild_interval: Duration::from_secs(HOUR),
            crl_validity: Duration::from_secs(24 * HOUR),
            crl_max_age: Duration::from_secs(600),
            ocsp_validity: Duration::from_secs(24 * HOUR),
            ocsp_refresh_after: Duration::from_secs(HOUR),
            ocsp_max_age: Duration::from_secs(600),
            responder_validity: Duration::from_secs(4 * 24 * HOUR),
            responder_renew_before: Duration::from_secs(24 * HOUR),
            responder_algorithm: KeyAlgorithm::EcdsaP256,
            max_concurrent_signatures: 64,
            ocsp_cache_entries: 1_000_000,
        }
    }
}

/// Cached OCSP responses by serial (lower-case hex), then by the request's CertID (DER).
type OcspCache = HashMap<String, HashMap<Vec<u8>, Arc<OcspReply>>>;

/// One CA whose revocations are published, as stored.
#[derive(Clone, Debug)]
pub struct PublishedIssuer {
    pub id: i64,
    pub sealed: SealedIssuer,
}

/// The CRL publisher and OCSP responder of one root and its issuing intermediate.
pub struct Publisher {
    store: Store,
    urls: UrlScheme,
    settings: PublishSettings,
    root_id: i64,
    intermediate_id: i64,
    root_signer: Arc<CaSigner<SigningKeyPair>>,
    intermediate_signer: Arc<CaSigner<SigningKeyPair>>,
    matcher: CertIdMatcher,
    responder: RwLock<Arc<Responder>>,
    /// The CRLs served, by (issuer, shard): the newest stored CRL this process has loaded.
    crls: RwLock<HashMap<(i64, i64), Arc<PublishedCrl>>>,
    /// Serialises this process's CRL builds, so they do not make each other build again.
    crl_build: tokio::sync::Mutex<()>,
    ocsp_cache: RwLock<OcspCache>,
    /// Incremented by every revocation, so a response signed from a status read before the
    /// revocation is not cached after it.
    revocation_epoch: AtomicU64,
    signing_permits: tokio::sync::Semaphore,
}

impl Publisher {
    /// Opens the CA keys, issues a responder certificate, loads the stored CRLs and builds those
    /// that have none stored yet.
    pub async fn start(
        store: Store,
        urls: UrlScheme,
        root: &PublishedIssuer,
        intermediate: &PublishedIssuer,
        master_key: &MasterKey,
        settings: PublishSettings,
    ) -> Result<Arc<Publisher>, PublishError> {
        let open = |issuer: &PublishedIssuer| -> Result<CaSigner<SigningKeyPair>, PublishError> {
            let key = certkeeper_ca::open_key(&issuer.sealed, master_key)
                .map_err(|error| PublishError::Key { issuer_id: issuer.id, detail: error.to_string() })?;
            Ok(CaSigner::new(&issuer.sealed.certificate_der, key)?)
        };
        let root_signer = Arc::new(open(root)?);
        let intermediate_signer = Arc::new(open(intermediate)?);
        let matcher = CertIdMatcher::new(&intermediate.sealed.certificate_der)?;
        let responder = ocsp::issue_responder(&store, &intermediate_signer, intermediate.id, &settings).await?;

        let publisher = Arc::new(Publisher {
            store,
            urls,
            signing_permits: tokio::sync::Semaphore::new(settings.max_concurrent_signatures.max(1)),
            settings,
            root_id: root.id,
            intermediate_id: intermediate.id,
            root_signer,
            intermediate_signer,
            matcher,
            responder: RwLock::new(Arc::new(responder)),
            crls: RwLock::new(HashMap::new()),
            crl_build: tokio::sync::Mutex::new(()),
            ocsp_cache: RwLock::new(HashMap::new()),
            revocation_epoch: AtomicU64::new(0),
        });
        publisher.sync_crls().await?;
        publisher.build_missing_crls().await?;
        tracing::info!(
            root = root.id,
            intermediate = intermediate.id,
            shards = publisher.urls.crl_shards(),
            "revocation publisher started"
        );
        Ok(publisher)
    }

    /// Returns the settings in force.
    pub fn settings(&self) -> &PublishSettings {
        &self.settings
    }

    /// Returns the current OCSP responder certificate (DER).
    pub fn responder_certificate_der(&self) -> Vec<u8> {
        self.current_responder().certificate_der().to_vec()
    }

    fn current_responder(&self) -> Arc<Responder> {
        self.responder.read().expect("responder lock poisoned").clone()
    }

    /// Makes a revocation visible to OCSP in this process: drops the serial's cached OCSP
    /// responses, so the next request reads the new status. Call it after the revocation row is
    /// committed ([`Store::insert_revocation`]). The CRL is rebuilt by the `crl.publish` job
    /// that the store enqueued with the revocation ([`Publisher::publish_revocation`]), and
    /// [`Publisher::sync_crls`] then loads it in every process.
    pub async fn revoked(&self, serial: &SerialNumber) -> Result<(), PublishError> {
        self.forget_ocsp(serial);
        tracing::debug!(%serial, "cached OCSP responses of a revoked serial dropped");
        Ok(())
    }

    /// Runs a `crl.publish` job from its JSON payload ([`CrlPublishPayload`]).
    pub async fn run_publish_job(&self, payload: &str) -> Result<(), PublishError> {
        self.publish_revocation(&parse_publish_payload(payload)?).await.map(|_| ())
    }

    /// Renews the responder certificate before it expires, until the task is dropped. Errors
    /// are logged and retried at the next check.
    ///
    /// This stays a per-process loop and not a shared job, because each process generates its
    /// own responder key at start and never stores it, so only that process can renew it.
    pub async fn run(self: Arc<Self>) {
        let mut interval = tokio::time::interval(RESPONDER_CHECK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            interval.tick().await;
            if let Err(error) = self.renew_responder_if_due().await {
                tracing::error!(%error, "renewing the OCSP responder certificate failed; retrying at the next check");
            }
        }
    }
}

/// Parses the JSON payload of a `crl.publish` job.
fn parse_publish_payload(payload: &str) -> Result<CrlPublishPayload, PublishError> {
    let parsed: PublishJobPayload = serde_json::from_str(payload)
        .map_err(|error| PublishError::BadJobPayload { payload: payload.to_owned(), detail: error.to_string() })?;
    Ok(CrlPublishPayload { issuer_id: parsed.issuer_id, shard: parsed.shard, revocation_position: parsed.revocation_position })
}

/// The JSON form of [`CrlPublishPayload`].
#[derive(serde::Deserialize)]
struct PublishJobPayload {
    issuer_id: i64,
    shard: i64,
    revocation_position: i64,
}

/// Returns the current time, truncated to whole seconds as CRLs and OCSP responses carry it.
fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}
