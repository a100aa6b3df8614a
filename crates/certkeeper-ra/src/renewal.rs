//! Renewal: a new order for a certificate that expires within 30 days.
//!
//! A renewal order names the certificate it renews in `renewed_from`, and that certificate's
//! `renewal_id` names the order, both written in one transaction. While the link exists and
//! the old certificate is in its renewal window it waits for renewal, so its owner cannot
//! revoke it (see [`CertificateRecord::awaits_renewal`]). A renewal that fails or is cancelled
//! clears the link, so the certificate can be renewed again.
//!
//! Automatic renewal renews certificates with `AutoRenewFlag` or with service term left,
//! when no one has to act: their domains use DNS_AUTO, or FILE with the previous file still
//! served, or their product skips validation.

use std::time::Duration;

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, DnsName, ValidationMethod};
use certkeeper_va::Challenge;
use time::OffsetDateTime;

use crate::orders::{ApplyRequest, OrderError, OrderOptions, OrderService, PURPOSE_ISSUE, challenge_from_row};

/// Certificates examined per automatic renewal pass.
const RENEWAL_BATCH: i64 = 100;

/// Settings of automatic renewal.
#[derive(Clone, Debug)]
pub struct AutoRenewSettings {
    /// A certificate is renewed when this much of its validity is left, or half of its
    /// lifetime when that is shorter.
    pub window: Duration,
    /// Time between renewal passes.
    pub interval: Duration,
}

/// Outcome of an automatic renewal pass for one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutoRenewal {
    /// A renewal order was created; it may already be issued.
    Renewed { old: String, renewal: String },
    /// Renewal needs the owner, such as a DNS record to publish or a file no longer served.
    Skipped { old: String, reason: String },
}

impl OrderService {
    /// Renews an issued certificate: the application must name its domain, and the
    /// certificate must be unexpired, within 30 days of its notAfter and not renewed yet.
    pub async fn renew(&self, old_id: &str, request: ApplyRequest, auto_renew: bool, now: OffsetDateTime) -> Result<CertificateRecord, OrderError> {
        let options = OrderOptions { renewal_of: Some(old_id.to_owned()), auto_renew, ..OrderOptions::default() };
        self.apply_with(request, options, now).await
    }

    /// Applies the renewal rules to the certificate `old_id` for an application for `domain`,
    /// and returns the certificate.
    pub(crate) async fn check_renewable(&self, old_id: &str, domain: &str, at: i64) -> Result<CertificateRecord, OrderError> {
        let old = self.store.certificate(old_id).await?.ok_or_else(|| OrderError::NotFound { id: old_id.to_owned() })?;
        let id = old.id.clone();
        if old.source != CertificateSource::Issued {
            return Err(OrderError::Uploaded { id, action: "renew" });
        }
        if let Some(renewal) = &old.renewal_id {
            return Err(OrderError::AlreadyRenewed { id, renewal: renewal.clone() });
        }
        let not_after = old.not_after.unwrap_or(i64::MIN);
        if old.status == CertificateStatus::Expired || (old.status == CertificateStatus::Issued && not_after <= at) {
            return Err(OrderError::Expired { id });
        }
        if old.status != CertificateStatus::Issued {
            return Err(OrderError::WrongStatus {
                id,
                status: old.status,
                action: "renewal",
                needed: "an issued certificate (status 1)",
            });
        }
        if !old.in_renewal_window(at) {
            return Err(OrderError::NotDueForRenewal { id, days_left: (not_after - at) / 86_400 });
        }
        let requested = DnsName::parse(domain).map_err(|source| OrderError::Name { value: domain.to_owned(), source })?;
        if requested.as_str() != old.domain {
            return Err(OrderError::RenewalDomainDiffers { id, expected: old.domain.clone(), found: requested.to_string() });
        }
        Ok(old)
    }

    /// Replaces the fresh FILE challenges of a renewal with the tokens of the previous
    /// certificate's validations for the same domains.
    pub(crate) async fn previous_file_challenges(&self, previous_id: &str, fresh: Vec<Challenge>) -> Result<Vec<Challenge>, OrderError> {
        let rows = self.store.validations_of(previous_id, PURPOSE_ISSUE).await?;
        let mut challenges = Vec::with_capacity(fresh.len());
        for challenge in fresh {
            let previous = rows.iter().rev().find(|row| row.method == "FILE" && row.domain == challenge.domain.as_str());
            challenges.push(match previous {
                Some(row) => challenge_from_row(row)?,
                None => challenge,
            });
        }
        Ok(challenges)
    }

    /// Renews every certificate that is due for automatic renewal at `now` and can be renewed
    /// without its owner, and returns what happened to each candidate.
    pub async fn renew_due(&self, settings: &AutoRenewSettings, now: OffsetDateTime) -> Result<Vec<AutoRenewal>, OrderError> {
        let at = now.unix_timestamp();
        let window = settings.window.as_secs() as i64;
        let candidates = self.store.auto_renewal_candidates(at, at.saturating_add(window), RENEWAL_BATCH).await?;
        let mut outcomes = Vec::new();
        for old in candidates {
            let (Some(not_before), Some(not_after)) = (old.not_before, old.not_after) else { continue };
            // A short-lived certificate is renewed at half its lifetime, not as soon as it is issued.
            if not_after - at > window.min((not_after - not_before) / 2) {
                continue;
            }
            match self.renew_automatically(&old, now).await {
                Ok(outcome) => outcomes.push(outcome),
                Err(error) => {
                    tracing::warn!(certificate_id = %old.id, %error, "automatic renewal failed; retried on the next pass");
                    outcomes.push(AutoRenewal::Skipped { old: old.id.clone(), reason: error.to_string() });
                }
            }
        }
        Ok(outcomes)
    }

    async fn renew_automatically(&self, old: &CertificateRecord, now: OffsetDateTime) -> Result<AutoRenewal, OrderError> {
        let skipped = |reason: String| {
            tracing::info!(certificate_id = %old.id, %reason, "not renewed automatically");
            Ok(AutoRenewal::Skipped { old: old.id.clone(), reason })
        };

        // An OV or EV renewal is issued with the organisation of `old`, whose verification must
        // still be current.
        if let Err(error) = self.organization_subject(old, now).await {
            return skipped(format!("the organisation cannot be reused: {error}"));
        }
        let product = self.issuance.catalogue().get(old.product_id)?;
        let method = match old.validation_method {
            ValidationMethod::DnsAuto | ValidationMethod::File => old.validation_method,
            _ if product.dangerous_skip_domain_validation => ValidationMethod::Dns,
            other => return skipped(format!("validation method {other} needs the owner")),
        };
        if method == ValidationMethod::File {
            let rows = self.store.validations_of(&old.id, PURPOSE_ISSUE).await?;
            for row in rows.iter().filter(|row| row.method == "FILE") {
                let result = self.validator.check(&challenge_from_row(row)?).await;
                if !result.is_valid() {
                    return skipped(format!("the validation file of {} is no longer served: {}", row.domain, result.reason));
                }
            }
        }

        let Some(account_id) = old.account_id else {
            return skipped("the certificate belongs to no account".to_owned());
        };
        let remove_records = self.store.validations_of(&old.id, PURPOSE_ISSUE).await?.iter().any(|row| row.remove_after_issue);
        let request = ApplyRequest {
            account_id,
            domain: old.domain.clone(),
            method,
            product_id: old.product_id,
            csr: old.csr_der.clone(),
            key_algorithm: old.key_algorithm,
            alias: old.alias.clone(),
            project_id: old.project_id,
            delete_dns_auto_record: remove_records,
        };
        let options = OrderOptions {
            renewal_of: Some(old.id.clone()),
            auto_renew: old.auto_renew,
            term_ends_at: old.term_ends_at,
            reuse_file_tokens_of: Some(old.id.clone()),
        };

        let renewal = self.apply_with(request, options, now).await?;
        if matches!(renewal.status, CertificateStatus::Reviewing | CertificateStatus::DnsRecordAdded) {
            self.check_order(&renewal.id, now).await?;
        }
        tracing::info!(certificate_id = %old.id, renewal = %renewal.id, "renewed automatically");
        Ok(AutoRenewal::Renewed { old: old.id.clone(), renewal: renewal.id })
    }

    /// Runs an automatic renewal pass every `settings.interval` until `shutdown` completes.
    pub async fn run_auto_renewal(self, settings: AutoRenewSettings, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.renew_due(&settings, OffsetDateTime::now_utc()).await {
                tracing::error!(%error, "listing certificates due for renewal failed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(settings.interval) => {}
            }
        }
    }
}
