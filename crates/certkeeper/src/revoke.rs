//! Operator revocation (`certkeeper ca revoke`) and the task that makes revocations committed
//! by any process visible in a running server: it drops cached OCSP responses and loads the
//! CRLs that the `crl.publish` jobs stored.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use certkeeper_core::{CertificateSource, CertificateStatus, SerialNumber};
use certkeeper_publish::Publisher;
use certkeeper_store::{LogEntry, NewRevocation, Store};
use time::OffsetDateTime;

use crate::bootstrap;
use crate::config::Effective;

/// RFC 5280 reason codes an operator may give: unspecified, keyCompromise, affiliationChanged,
/// superseded, cessationOfOperation and privilegeWithdrawn. certificateHold (6) is never used,
/// because a revocation cannot be undone.
const OPERATOR_REASONS: [u8; 6] = [0, 1, 3, 4, 5, 9];

/// How often a running server looks for revocations committed by other processes.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Revokes an issued certificate at once, without the owner's confirmation flow.
pub async fn ca_revoke(effective: &Effective, certificate_id: &str, reason: u8) -> anyhow::Result<()> {
    if !OPERATOR_REASONS.contains(&reason) {
        bail!("reason {reason} is not allowed; use one of 0, 1, 3, 4, 5 or 9 (RFC 5280 reason codes)");
    }
    let opened = bootstrap::open(effective).await?;
    let record = opened
        .store
        .certificate(certificate_id)
        .await?
        .with_context(|| format!("certificate {certificate_id} does not exist"))?;
    if record.source != CertificateSource::Issued {
        bail!("certificate {certificate_id} was uploaded, not issued by certkeeper, so certkeeper cannot revoke it");
    }
    if record.status == CertificateStatus::Revoked {
        bail!("certificate {certificate_id} is already revoked");
    }
    record
        .status
        .transition_to(CertificateStatus::Revoked)
        .with_context(|| format!("certificate {certificate_id} cannot be revoked"))?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let not_after = record.not_after.context("the certificate has no notAfter")?;
    if not_after <= now {
        bail!("certificate {certificate_id} has expired; expired certificates are not revoked");
    }
    let serial_hex = record.serial.clone().context("the certificate has no serial")?;
    let serial = SerialNumber::from_hex(&serial_hex).context("the stored serial is not hex")?;
    let issuer_id = record.issuer_id.context("the certificate has no issuer")?;

    let revocation = NewRevocation {
        serial: &serial_hex,
        issuer_id,
        shard: i64::from(opened.ca.urls().crl_shard(&serial)),
        certificate_id: Some(certificate_id),
        revoked_at: now,
        reason_code: i64::from(reason),
        not_after,
        created_at: now,
    };
    let detail = format!("ca revoke, reason {reason}");
    let log = LogEntry { actor: "operator", action: "revoked", detail: &detail, at: now };
    let shard_of = |serial: &str| SerialNumber::from_hex(serial).map(|serial| i64::from(opened.ca.urls().crl_shard(&serial)));
    let row = opened.store.revoke_certificate(certificate_id, record.status, &revocation, &log, &shard_of).await?;
    tracing::info!(target: "audit", event = "revoked", certificate_id, serial = %serial_hex, reason, actor = "operator");
    println!("revoked certificate {certificate_id} (serial {}) with reason {}", row.serial, row.reason_code);
    for reissue in opened.store.reissues_of(certificate_id).await? {
        if reissue.status == CertificateStatus::Revoked {
            println!("revoked its reissue {} (serial {})", reissue.id, reissue.serial.as_deref().unwrap_or("none"));
        }
    }
    opened.store.close().await;
    Ok(())
}

/// Makes revocations committed after start-up, by this process or another one, visible within
/// about a second: it drops cached OCSP responses of each new serial and enqueues its
/// `certificate.revoked` notification, once across processes. Every second it also loads the
/// CRLs that a `crl.publish` or `crl.refresh` job stored since, in this process or another.
pub async fn watch_revocations(
    store: Store,
    publisher: Arc<Publisher>,
    notifier: certkeeper_notify::Notifier,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut last = latest_position(&store).await;
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(WATCH_INTERVAL) => {}
        }
        let rows = match store.revocations_after(last, 1000).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "reading new revocations failed; retrying");
                Vec::new()
            }
        };
        for (position, serial_hex) in rows {
            last = position;
            let Some(serial) = SerialNumber::from_hex(&serial_hex) else { continue };
            if let Err(error) = publisher.revoked(&serial).await {
                tracing::error!(%error, serial = %serial_hex, "dropping cached OCSP responses of a revoked serial failed");
            }
            notify_revocation(&store, &notifier, &serial_hex).await;
        }
        if let Err(error) = publisher.sync_crls().await {
            tracing::warn!(%error, "loading stored CRLs failed; retrying");
        }
    }
}

/// Enqueues the `certificate.revoked` notification of a serial. Its id is derived from the
/// serial, so servers sharing the database enqueue it once.
// NOTE: revocations committed while no server runs are published at the next start but not
// notified, because the watcher starts from the latest revocation.
async fn notify_revocation(store: &Store, notifier: &certkeeper_notify::Notifier, serial_hex: &str) {
    let revocation = match store.revocation_status(serial_hex).await {
        Ok(Some(row)) => row,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, serial = %serial_hex, "reading a revocation for its notification failed");
            return;
        }
    };
    let account_id = match &revocation.certificate_id {
        Some(id) => store.certificate(id).await.ok().flatten().and_then(|record| record.account_id),
        None => None,
    };
    let event = certkeeper_notify::Event::revoked(
        revocation.certificate_id.as_deref(),
        account_id,
        serial_hex,
        revocation.reason_code,
        revocation.revoked_at,
    );
    if let Err(error) = notifier.enqueue(&event, OffsetDateTime::now_utc().unix_timestamp()).await {
        tracing::warn!(%error, serial = %serial_hex, "enqueuing the revocation notification failed");
    }
}

async fn latest_position(store: &Store) -> i64 {
    let mut last = 0;
    while let Ok(rows) = store.revocations_after(last, 10_000).await {
        match rows.last() {
            Some((position, _)) => last = *position,
            None => break,
        }
    }
    last
}
