//! The OCSP responder: status lookup, response cache and responder certificate renewal.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use certkeeper_core::SerialNumber;
use certkeeper_pki::crl::{CaSigner, RevocationReason};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_pki::ocsp::{self, CertificateStatus, ParsedRequest, Responder, SingleAnswer};
use certkeeper_store::{SerialStatus, Store};
use time::OffsetDateTime;

use crate::{PublishError, PublishSettings, Publisher, now_seconds};

/// How long a request waits for a signing slot before it gets tryLater.
const SIGNING_WAIT: Duration = Duration::from_secs(2);

/// Cache policy of a reply for HTTP caches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyCaching {
    /// A response shared by every client asking about the same CertID without a nonce.
    Public { this_update: OffsetDateTime, next_update: OffsetDateTime },
    /// A response for one request (it echoes a nonce) or an error status: never cached.
    NoStore,
}

/// An OCSP response ready to send.
#[derive(Clone, Debug)]
pub struct OcspReply {
    /// DER OCSPResponse.
    pub der: Vec<u8>,
    pub caching: ReplyCaching,
    /// Strong validator for HTTP caches: a quoted prefix of the DER's SHA-256.
    pub etag: String,
    /// Signing time; a cached response older than `ocsp_refresh_after` is signed again.
    signed_at: OffsetDateTime,
}

impl OcspReply {
    fn new(der: Vec<u8>, caching: ReplyCaching) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        let etag = format!("\"{}\"", hex::encode(&digest.as_ref()[..16]));
        OcspReply { der, caching, etag, signed_at: now_seconds() }
    }

    pub(crate) fn status_only(der: Vec<u8>) -> Arc<Self> {
        Arc::new(Self::new(der, ReplyCaching::NoStore))
    }
}

/// Generates a responder key, reserves a serial for its certificate and has the CA issue it.
pub(crate) async fn issue_responder(
    store: &Store,
    ca: &CaSigner<SigningKeyPair>,
    issuer_id: i64,
    settings: &PublishSettings,
) -> Result<Responder, PublishError> {
    let serial = certkeeper_ca::random_serial().map_err(|error| PublishError::Key { issuer_id, detail: error.to_string() })?;
    let now = now_seconds();
    store.reserve_serials(issuer_id, &[(serial.to_hex(), None)], now.unix_timestamp()).await?;
    // Backdated by a minute so that relying parties with a slightly slow clock accept it.
    let not_before = now - time::Duration::minutes(1);
    let validity = time::Duration::try_from(settings.responder_validity).unwrap_or(time::Duration::days(4));
    let responder = Responder::issue(ca, settings.responder_algorithm, "certkeeper OCSP Responder", &serial, not_before, validity)?;
    tracing::info!(
        target: "audit",
        event = "ocsp-responder-issued",
        serial = %serial,
        issuer = issuer_id,
        not_after = %responder.not_after(),
    );
    Ok(responder)
}

impl Publisher {
    /// Builds the response to a DER OCSP request. Never fails, because errors become OCSP error
    /// statuses (malformedRequest, unauthorized, internalError or tryLater).
    pub async fn answer_ocsp(&self, request_der: &[u8]) -> Arc<OcspReply> {
        let request = match ocsp::parse_request(request_der) {
            Ok(request) => request,
            Err(error) => {
                tracing::debug!(%error, "malformed OCSP request");
                return OcspReply::status_only(ocsp::malformed_request_response());
            }
        };
        if !request.requests.iter().all(|single| self.matcher.matches(single)) {
            return OcspReply::status_only(ocsp::unauthorized_response());
        }
        match self.answer_parsed(&request).await {
            Ok(reply) => reply,
            Err(error) => {
                tracing::error!(%error, "building an OCSP response failed");
                OcspReply::status_only(ocsp::internal_error_response())
            }
        }
    }

    async fn answer_parsed(&self, request: &ParsedRequest) -> Result<Arc<OcspReply>, PublishError> {
        let cacheable = !request.has_nonce() && request.requests.len() == 1;
        let cache_key = match cacheable {
            true => {
                let single = &request.requests[0];
                let key = (single.serial().to_hex(), single.cert_id_der()?);
                if let Some(reply) = self.cached_ocsp(&key.0, &key.1) {
                    return Ok(reply);
                }
                Some(key)
            }
            false => None,
        };

        let epoch = self.revocation_epoch.load(Ordering::SeqCst);
        let mut statuses = Vec::with_capacity(request.requests.len());
        for single in &request.requests {
            statuses.push(self.certificate_status(single.serial()).await?);
        }

        let Ok(_permit) = tokio::time::timeout(SIGNING_WAIT, self.signing_permits.acquire()).await else {
            tracing::warn!("no OCSP signing slot free within {SIGNING_WAIT:?}; sending tryLater");
            return Ok(OcspReply::status_only(ocsp::try_later_response()));
        };
        let this_update = now_seconds();
        let next_update = this_update + self.settings.ocsp_validity;
        let answers: Vec<SingleAnswer<'_>> = request
            .requests
            .iter()
            .zip(statuses)
            .map(|(single, status)| SingleAnswer { request: single, status, this_update, next_update })
            .collect();
        let der = self.current_responder().sign_response(&answers, this_update, request)?;

        let caching = match cache_key {
            Some(_) => ReplyCaching::Public { this_update, next_update },
            None => ReplyCaching::NoStore,
        };
        let reply = Arc::new(OcspReply::new(der, caching));
        if let Some((serial, cert_id)) = cache_key {
            self.store_ocsp(serial, cert_id, reply.clone(), epoch);
        }
        Ok(reply)
    }

    async fn certificate_status(&self, serial: &SerialNumber) -> Result<CertificateStatus, PublishError> {
        Ok(match self.store.serial_status(&serial.to_hex()).await? {
            SerialStatus::Good { issuer_id } if issuer_id == self.intermediate_id => CertificateStatus::Good,
            // A serial of another issuer cannot carry this issuer's name and key hashes.
            SerialStatus::Good { .. } | SerialStatus::Unknown => CertificateStatus::Unknown,
            SerialStatus::Revoked(row) if row.issuer_id != self.intermediate_id => CertificateStatus::Unknown,
            SerialStatus::Revoked(row) => {
                let revoked_at = OffsetDateTime::from_unix_timestamp(row.revoked_at)
                    .map_err(|error| PublishError::BadRevocation { serial: row.serial.clone(), detail: error.to_string() })?;
                let reason = RevocationReason::from_code(row.reason_code).unwrap_or(RevocationReason::Unspecified);
                CertificateStatus::Revoked { revoked_at, reason }
            }
        })
    }

    fn cached_ocsp(&self, serial: &str, cert_id: &[u8]) -> Option<Arc<OcspReply>> {
        let cache = self.ocsp_cache.read().expect("OCSP cache lock poisoned");
        let reply = cache.get(serial)?.get(cert_id)?;
        let fresh = reply.signed_at + self.settings.ocsp_refresh_after > now_seconds();
        fresh.then(|| reply.clone())
    }

    fn store_ocsp(&self, serial: String, cert_id: Vec<u8>, reply: Arc<OcspReply>, epoch: u64) {
        let mut cache = self.ocsp_cache.write().expect("OCSP cache lock poisoned");
        // The status was read before a revocation of any serial that happened since, so the
        // response may be stale and is sent once but not kept.
        if self.revocation_epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        if cache.len() >= self.settings.ocsp_cache_entries {
            tracing::info!(entries = cache.len(), "OCSP response cache full; emptying it");
            cache.clear();
        }
        cache.entry(serial).or_default().insert(cert_id, reply);
    }

    /// Drops the cached responses of a serial so the next request reads its new status.
    pub(crate) fn forget_ocsp(&self, serial: &SerialNumber) {
        let mut cache = self.ocsp_cache.write().expect("OCSP cache lock poisoned");
        self.revocation_epoch.fetch_add(1, Ordering::SeqCst);
        cache.remove(&serial.to_hex());
    }

    /// Issues a new responder certificate when the current one expires within
    /// `responder_renew_before`, and empties the response cache.
    pub(crate) async fn renew_responder_if_due(&self) -> Result<(), PublishError> {
        let renew_at = self.current_responder().not_after() - self.settings.responder_renew_before;
        if now_seconds() < renew_at {
            return Ok(());
        }
        let responder = issue_responder(&self.store, &self.intermediate_signer, self.intermediate_id, &self.settings).await?;
        *self.responder.write().expect("responder lock poisoned") = Arc::new(responder);
        let mut cache = self.ocsp_cache.write().expect("OCSP cache lock poisoned");
        self.revocation_epoch.fetch_add(1, Ordering::SeqCst);
        cache.clear();
        Ok(())
    }
}
