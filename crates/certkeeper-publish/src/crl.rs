//! Building, checking and keeping the CRLs of each issuer and shard.

use std::sync::Arc;

use certkeeper_core::SerialNumber;
use certkeeper_pki::crl::{CrlContents, CrlEntry, CrlScope, RevocationReason};
use time::OffsetDateTime;

use crate::{PublishError, Publisher, now_seconds};

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

    /// Rebuilds the root's CRL and every shard of the intermediate.
    pub async fn rebuild_all_crls(&self) -> Result<(), PublishError> {
        self.rebuild_crl(self.root_id, 0).await?;
        for shard in 0..i64::from(self.urls.crl_shards()) {
            self.rebuild_crl(self.intermediate_id, shard).await?;
        }
        Ok(())
    }

    /// Rebuilds the CRLs whose rebuild interval has passed.
    pub(crate) async fn rebuild_due_crls(&self) -> Result<(), PublishError> {
        let now = now_seconds();
        let interval = self.settings.crl_rebuild_interval;
        let mut keys = vec![(self.root_id, 0)];
        keys.extend((0..i64::from(self.urls.crl_shards())).map(|shard| (self.intermediate_id, shard)));
        for (issuer_id, shard) in keys {
            let due = match self.crl(issuer_id, shard) {
                Some(crl) => crl.this_update + interval <= now,
                None => true,
            };
            if due {
                self.rebuild_crl(issuer_id, shard).await?;
            }
        }
        Ok(())
    }

    /// Builds, signs and publishes a new CRL for one issuer and shard.
    ///
    /// Rejects the CRL when it would list fewer unexpired entries than the previous one, less
    /// those that expired since, because that means revocations are missing from the store.
    pub async fn rebuild_crl(&self, issuer_id: i64, shard: i64) -> Result<Arc<PublishedCrl>, PublishError> {
        let _build = self.crl_build.lock().await;
        let started = std::time::Instant::now();
        let this_update = now_seconds();
        let next_update = this_update + self.settings.crl_validity;
        let previous = self.store.crl_state(issuer_id, shard).await?;
        let expired_since = previous.as_ref().map_or(this_update.unix_timestamp(), |previous| previous.last_this_update);
        let (rows, expired) = self.store.crl_entries(issuer_id, shard, this_update.unix_timestamp(), expired_since).await?;
        let entry_count = i64::try_from(rows.len()).unwrap_or(i64::MAX);

        if let Some(previous) = previous {
            if entry_count + expired < previous.last_entry_count {
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
        let number = self
            .store
            .next_crl_number(issuer_id, shard, this_update.unix_timestamp(), entry_count)
            .await?;
        let number = u64::try_from(number).unwrap_or(0);
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
                number,
                this_update,
                next_update,
                distribution_point: &distribution_point,
                scope,
                entries: &entries,
            })
        })
        .await
        .map_err(|error| PublishError::Worker { detail: error.to_string() })??;

        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &der);
        let published = Arc::new(PublishedCrl {
            issuer_id,
            shard,
            number,
            this_update,
            next_update,
            entries: rows.len(),
            etag: format!("\"{}\"", hex::encode(&digest.as_ref()[..16])),
            der: Arc::new(der),
        });
        self.crls.write().expect("CRL map lock poisoned").insert((issuer_id, shard), published.clone());
        tracing::debug!(
            issuer = issuer_id,
            shard,
            number,
            entries = rows.len(),
            read_ms = read.as_millis() as u64,
            converted_ms = converted.as_millis() as u64,
            signed_ms = signing.elapsed().as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "CRL published"
        );
        Ok(published)
    }
}
