//! Building, checking, storing and serving the CRLs of each issuer and shard.

use std::sync::Arc;

use certkeeper_core::SerialNumber;
use certkeeper_pki::crl::{CrlContents, CrlEntry, CrlScope, RevocationReason};
use certkeeper_store::{CrlPublishPayload, KIND_CRL_PUBLISH, StoredCrl, crl_number_after};
use time::OffsetDateTime;

use crate::{PublishError, Publisher, now_seconds};

/// Attempts at one CRL build. An attempt fails when another process published first, and after
/// this many failed attempts the build returns an error, so its job retries after the backoff.
const PUBLISH_ATTEMPTS: u32 = 3;

/// A signed CRL as served.
#[derive(Clone, Debug)]
pub struct PublishedCrl {
    pub issuer_id: i64,
    pub shard: i64,
    pub number: u64,
    pub this_update: OffsetDateTime,
    pub next_update: OffsetDateTime,
    pub entries: usize,
    pub der: Arc<Vec<u8>>,
    /// Strong validator for HTTP caches: a quoted prefix of the DER's SHA-256.
    pub etag: String,
}

impl Publisher {
    /// Returns the CRL currently served for an issuer and shard; the root's CRL has shard 0.
    pub fn crl(&self, issuer_id: i64, shard: i64) -> Option<Arc<PublishedCrl>> {
        self.crls.read().expect("CRL map lock poisoned").get(&(issuer_id, shard)).cloned()
    }

    /// Returns the store id of the root, whose CRL is served at `/crl/root.crl`.
    pub fn root_id(&self) -> i64 {
        self.root_id
    }

    /// Returns the store id of the issuing intermediate.
    pub fn intermediate_id(&self) -> i64 {
        self.intermediate_id
    }

    /// Returns the number of CRL shards of the intermediate.
    pub fn crl_shard_count(&self) -> u32 {
        self.urls.crl_shards()
    }

    /// Returns the (issuer, shard) pairs whose CRLs this publisher signs: the root's CRL and
    /// every shard of the intermediate.
    fn crl_keys(&self) -> Vec<(i64, i64)> {
        let mut keys = vec![(self.root_id, 0)];
        keys.extend((0..i64::from(self.urls.crl_shards())).map(|shard| (self.intermediate_id, shard)));
        keys
    }

    fn signs_crl(&self, issuer_id: i64, shard: i64) -> bool {
        (issuer_id == self.root_id && shard == 0)
            || (issuer_id == self.intermediate_id && (0..i64::from(self.urls.crl_shards())).contains(&shard))
    }

    /// Rebuilds the root's CRL and every shard of the intermediate.
    pub async fn rebuild_all_crls(&self) -> Result<(), PublishError> {
        for (issuer_id, shard) in self.crl_keys() {
            self.rebuild_crl(issuer_id, shard).await?;
        }
        Ok(())
    }

    /// Builds the CRLs that have none stored in the database yet, and returns how many it built.
    pub async fn build_missing_crls(&self) -> Result<usize, PublishError> {
        let stored = self.store.stored_crl_versions().await?;
        let mut built = 0;
        for (issuer_id, shard) in self.crl_keys() {
            if !stored.iter().any(|version| version.issuer_id == issuer_id && version.shard == shard) {
                self.rebuild_crl(issuer_id, shard).await?;
                built += 1;
            }
        }
        Ok(built)
    }

    /// Rebuilds every CRL whose stored thisUpdate is at least `crl_rebuild_interval` old, every
    /// one with no stored CRL, and every one that misses a revocation whose `crl.publish` job
    /// died, and returns how many it rebuilt. The `crl.refresh` job runs it, so the decision
    /// comes from the database and not from this process's memory. A failed rebuild does not
    /// stop the others, and the first error is returned at the end.
    pub async fn refresh_crls(&self) -> Result<usize, PublishError> {
        let now = now_seconds().unix_timestamp();
        let interval = i64::try_from(self.settings.crl_rebuild_interval.as_secs()).unwrap_or(i64::MAX);
        let stored = self.store.stored_crl_versions().await?;
        let covered = |issuer_id: i64, shard: i64, position: i64| {
            stored.iter().any(|version| version.issuer_id == issuer_id && version.shard == shard && version.revocation_position >= position)
        };
        let mut behind = Vec::new();
        for job in self.store.dead_jobs_of_kind(KIND_CRL_PUBLISH).await? {
            match crate::parse_publish_payload(&job.payload) {
                Ok(payload) if !covered(payload.issuer_id, payload.shard, payload.revocation_position) => {
                    behind.push((payload.issuer_id, payload.shard));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(job_id = job.id, %error, "skipping a dead CRL publish job with an invalid payload"),
            }
        }
        let mut rebuilt = 0;
        let mut first_error = None;
        for (issuer_id, shard) in self.crl_keys() {
            let version = stored.iter().find(|version| version.issuer_id == issuer_id && version.shard == shard);
            let old = version.is_none_or(|version| version.this_update.saturating_add(interval) <= now);
            if !old && !behind.contains(&(issuer_id, shard)) {
                continue;
            }
            match self.rebuild_crl(issuer_id, shard).await {
                Ok(_) => rebuilt += 1,
                Err(error) => {
                    tracing::error!(%error, issuer = issuer_id, shard, "scheduled CRL rebuild failed");
                    first_error.get_or_insert(error);
                }
            }
        }
        match first_error {
            Some(error) => Err(error),
            None => Ok(rebuilt),
        }
    }

    /// Runs a `crl.publish` job: rebuilds the CRL of the payload's issuer and shard unless the
    /// stored CRL already lists every revocation up to the payload's position. Returns whether
    /// it built a CRL, so several revocations of one shard may share one build. A payload for
    /// an issuer or shard that this publisher does not sign is logged and skipped.
    pub async fn publish_revocation(&self, payload: &CrlPublishPayload) -> Result<bool, PublishError> {
        let CrlPublishPayload { issuer_id, shard, revocation_position } = *payload;
        if !self.signs_crl(issuer_id, shard) {
            tracing::warn!(issuer = issuer_id, shard, "skipping a CRL publish job for an issuer or shard that this server does not sign");
            return Ok(false);
        }
        // Checked while holding the build lock, so a job that waited for another build of the
        // same shard finds that build's CRL.
        let _build = self.crl_build.lock().await;
        if let Some(stored) = self.store.stored_crl_versions().await?.iter().find(|version| {
            version.issuer_id == issuer_id && version.shard == shard && version.revocation_position >= revocation_position
        }) {
            tracing::debug!(issuer = issuer_id, shard, number = stored.number, "revocation already listed by the stored CRL");
            return Ok(false);
        }
        self.build_and_publish(issuer_id, shard).await?;
        tracing::info!(issuer = issuer_id, shard, revocation_position, "revocation published in the CRL");
        Ok(true)
    }

    /// Loads every stored CRL with a higher number than the one this process serves, and
    /// returns how many it loaded. Only numbers are read unless a CRL changed.
    pub async fn sync_crls(&self) -> Result<usize, PublishError> {
        let mut loaded = 0;
        for version in self.store.stored_crl_versions().await? {
            if !self.signs_crl(version.issuer_id, version.shard) {
                continue;
            }
            let served = self.crl(version.issuer_id, version.shard).map(|crl| crl.number);
            if served.is_some_and(|number| i64::try_from(number).unwrap_or(i64::MAX) >= version.number) {
                continue;
            }
            if let Some(stored) = self.store.stored_crl(version.issuer_id, version.shard).await? {
                self.serve_if_newer(Arc::new(published_from_stored(stored)?));
                loaded += 1;
            }
        }
        Ok(loaded)
    }

    /// Serves `crl` unless this process already serves one with the same or a higher number.
    fn serve_if_newer(&self, crl: Arc<PublishedCrl>) {
        let mut crls = self.crls.write().expect("CRL map lock poisoned");
        let key = (crl.issuer_id, crl.shard);
        if crls.get(&key).is_none_or(|served| served.number < crl.number) {
            crls.insert(key, crl);
        }
    }

    /// Builds, signs, stores and serves a new CRL for one issuer and shard.
    ///
    /// Rejects the CRL when it would list fewer unexpired entries than the previous one, less
    /// those that expired since, because that means revocations are missing from the store.
    pub async fn rebuild_crl(&self, issuer_id: i64, shard: i64) -> Result<Arc<PublishedCrl>, PublishError> {
        let _build = self.crl_build.lock().await;
        self.build_and_publish(issuer_id, shard).await
    }

    /// Builds and stores a CRL, building again when another process published first, so the
    /// stored CRL never misses what that process's CRL listed. The caller must have locked
    /// `crl_build`.
    async fn build_and_publish(&self, issuer_id: i64, shard: i64) -> Result<Arc<PublishedCrl>, PublishError> {
        for attempt in 1..=PUBLISH_ATTEMPTS {
            if let Some(published) = self.build_once(issuer_id, shard).await? {
                self.serve_if_newer(published.clone());
                return Ok(published);
            }
            tracing::debug!(issuer = issuer_id, shard, attempt, "another process published a CRL first; building again");
        }
        Err(PublishError::Contended { issuer_id, shard, attempts: PUBLISH_ATTEMPTS })
    }

    /// Builds and signs one CRL and stores it. Returns `None`, storing nothing, when another
    /// build published between this one's read of `crl_state` and its write.
    async fn build_once(&self, issuer_id: i64, shard: i64) -> Result<Option<Arc<PublishedCrl>>, PublishError> {
        let started = std::time::Instant::now();
        let this_update = now_seconds();
        let next_update = this_update + self.settings.crl_validity;
        let previous = self.store.crl_state(issuer_id, shard).await?;
        // Read before the entries, so every revocation up to this position is among them.
        let revocation_position = self.store.latest_revocation_position().await?;
        let expired_since = previous.as_ref().map_or(this_update.unix_timestamp(), |previous| previous.last_this_update);
        let (rows, expired) = self.store.crl_entries(issuer_id, shard, this_update.unix_timestamp(), expired_since).await?;
        let entry_count = i64::try_from(rows.len()).unwrap_or(i64::MAX);

        if let Some(previous) = &previous
            && entry_count + expired < previous.last_entry_count
        {
            let error = PublishError::EntriesLost {
                issuer_id,
                shard,
                entries: entry_count,
                previous: previous.last_entry_count,
                expired,
            };
            tracing::error!(%error, issuer = issuer_id, shard, "CRL not published");
            return Err(error);
        }

        let read = started.elapsed();
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let serial = SerialNumber::from_bytes(&row.serial);
            let revoked_at = OffsetDateTime::from_unix_timestamp(row.revoked_at).map_err(|error| {
                PublishError::BadRevocation { serial: hex::encode(&row.serial), detail: error.to_string() }
            })?;
            let reason = RevocationReason::from_code(row.reason_code).unwrap_or_else(|error| {
                // The entry is still listed, because dropping it would un-revoke the certificate.
                tracing::warn!(serial = %hex::encode(&row.serial), %error, "listing a revocation with an invalid reason as unspecified");
                RevocationReason::Unspecified
            });
            entries.push(CrlEntry { serial, revoked_at, reason });
        }

        let converted = started.elapsed();
        let signing = std::time::Instant::now();
        let number = crl_number_after(previous.as_ref(), this_update.unix_timestamp());
        let number_u64 = u64::try_from(number).unwrap_or(0);
        let (signer, distribution_point, scope) = if issuer_id == self.root_id {
            (self.root_signer.clone(), self.urls.root_crl_url(), CrlScope::CaCertificates)
        } else {
            let url = format!("{}/crl/{issuer_id}/{shard}.crl", self.urls.base());
            (self.intermediate_signer.clone(), url, CrlScope::Leaves)
        };

        // Encoding and signing a large CRL takes a noticeable time (0.6 to 1 s per million
        // entries on two cores), so it runs off the async worker threads.
        let der = tokio::task::spawn_blocking(move || {
            signer.sign_crl(&CrlContents {
                number: number_u64,
                this_update,
                next_update,
                distribution_point: &distribution_point,
                scope,
                entries: &entries,
            })
        })
        .await
        .map_err(|error| PublishError::Worker { detail: error.to_string() })??;
        let signed = signing.elapsed();

        let stored = StoredCrl {
            issuer_id,
            shard,
            number,
            this_update: this_update.unix_timestamp(),
            next_update: next_update.unix_timestamp(),
            entry_count,
            revocation_position,
            der,
        };
        if !self.store.publish_crl(&stored, previous.as_ref().map(|previous| previous.last_number)).await? {
            return Ok(None);
        }
        let published = Arc::new(published_from_stored(stored)?);
        tracing::debug!(
            issuer = issuer_id,
            shard,
            number,
            entries = rows.len(),
            read_ms = read.as_millis() as u64,
            converted_ms = converted.as_millis() as u64,
            signed_ms = signed.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "CRL published"
        );
        Ok(Some(published))
    }
}

/// Converts a stored CRL into the form served over HTTP.
fn published_from_stored(stored: StoredCrl) -> Result<PublishedCrl, PublishError> {
    let invalid = |detail: String| PublishError::BadStoredCrl { issuer_id: stored.issuer_id, shard: stored.shard, detail };
    let this_update = OffsetDateTime::from_unix_timestamp(stored.this_update).map_err(|error| invalid(error.to_string()))?;
    let next_update = OffsetDateTime::from_unix_timestamp(stored.next_update).map_err(|error| invalid(error.to_string()))?;
    let number = u64::try_from(stored.number).map_err(|_| invalid(format!("negative CRL number {}", stored.number)))?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &stored.der);
    Ok(PublishedCrl {
        issuer_id: stored.issuer_id,
        shard: stored.shard,
        number,
        this_update,
        next_update,
        entries: usize::try_from(stored.entry_count).unwrap_or(0),
        etag: format!("\"{}\"", hex::encode(&digest.as_ref()[..16])),
        der: Arc::new(stored.der),
    })
}
