//! The expiry scan: records each due notice once and enqueues its deliveries.

use std::collections::HashMap;

use certkeeper_core::ExpiryThresholds;
use certkeeper_core::expiry::{SECONDS_PER_DAY, days_left};
use certkeeper_store::NewExpiryNotice;

use crate::event::{Event, ExpiryNotice};
use crate::notifier::{Notifier, NotifyError};

/// Job kind of an expiry scan.
pub const KIND_EXPIRY_SCAN: &str = "expiry-scan";

/// Notices recorded per transaction. Each commit waits for an fsync, so a backlog (the first
/// scan after an import, or after a long outage) is written in batches instead of one by one.
const NOTICES_PER_TRANSACTION: usize = 500;

/// Counts of one scan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Certificates inside the largest threshold's window.
    pub candidates: usize,
    /// Notices recorded by this scan.
    pub notices: usize,
}

/// Finds certificates that passed an expiry threshold and records one notice per threshold.
#[derive(Clone)]
pub struct ExpiryScanner {
    notifier: Notifier,
    defaults: ExpiryThresholds,
}

impl ExpiryScanner {
    /// Creates a scanner with the thresholds of accounts that set none.
    pub fn new(notifier: Notifier, defaults: ExpiryThresholds) -> Self {
        ExpiryScanner { notifier, defaults }
    }

    /// Scans at `now` (Unix seconds). Every due threshold below the smallest one notified so far
    /// gets a notice, written in the same transaction as its delivery jobs. A threshold passed
    /// while the service was down is still sent, and a notice recorded by another process is not
    /// sent again.
    pub async fn scan(&self, now: i64) -> Result<ScanReport, NotifyError> {
        let store = self.notifier.store();
        let mut thresholds: HashMap<i64, ExpiryThresholds> = HashMap::new();
        let mut emails: HashMap<i64, String> = HashMap::new();
        for row in store.all_notification_settings().await? {
            match ExpiryThresholds::parse(&row.expiry_thresholds) {
                Ok(parsed) => {
                    thresholds.insert(row.account_id, parsed);
                }
                Err(error) => tracing::warn!(account_id = row.account_id, %error, "stored expiry thresholds are invalid; using the defaults"),
            }
            emails.insert(row.account_id, row.email);
        }
        let widest = thresholds.values().map(ExpiryThresholds::max).chain([self.defaults.max()]).max().unwrap_or(0);
        let before = now + i64::from(widest) * SECONDS_PER_DAY;

        let candidates = store.expiry_candidates(now, before).await?;

        let mut report = ScanReport { candidates: candidates.len(), notices: 0 };
        let mut batch = Vec::new();
        for candidate in &candidates {
            let account_thresholds = candidate.account_id.and_then(|id| thresholds.get(&id)).unwrap_or(&self.defaults);
            let left = days_left(candidate.not_after, now);
            for threshold in account_thresholds.due(candidate.not_after, now) {
                // Thresholds are notified largest first, so one at or above the smallest notified
                // threshold is covered. A threshold added to the list later is therefore not
                // sent for a deadline the certificate has already passed.
                if candidate.smallest_notified.is_some_and(|smallest| i64::from(threshold) >= smallest) {
                    continue;
                }
                let notice = ExpiryNotice {
                    certificate_id: &candidate.certificate_id,
                    account_id: candidate.account_id,
                    domain: &candidate.domain,
                    not_after: candidate.not_after,
                    threshold_days: threshold,
                    days_left: left,
                };
                let event = Event::expiring(&notice, now);
                let stored_email = candidate.account_id.and_then(|id| emails.get(&id)).map_or("", String::as_str);
                let recipients = self.notifier.recipients_from(stored_email);
                let jobs = self.notifier.deliveries(&event, &recipients, now)?;
                let record = NewExpiryNotice {
                    certificate_id: &candidate.certificate_id,
                    threshold_days: i64::from(threshold),
                    days_left: left,
                    not_after: candidate.not_after,
                };
                tracing::debug!(certificate_id = %candidate.certificate_id, threshold_days = threshold, days_left = left, "expiry notice due");
                batch.push((record, jobs));
                if batch.len() == NOTICES_PER_TRANSACTION {
                    report.notices += store.record_expiry_notices(&batch, now).await?;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            report.notices += store.record_expiry_notices(&batch, now).await?;
        }
        Ok(report)
    }
}
