//! Orders for domain-validated certificates: application, domain validation, issuance.
//!
//! An order is a certificate row in status 0 (reviewing, `PENDING-DCV`) with one validation
//! row per domain. Checks run when the applicant asks (`check_order`) and from the scheduler
//! ([`OrderService::run_scheduler`]), which rechecks pending validations with backoff until
//! they pass or their token expires. Both paths survive restarts, because the state is stored.

use std::sync::Arc;
use std::time::Duration;

use certkeeper_core::{
    CertificateRecord, CertificateSource, CertificateStatus, DnsName, KeyAlgorithm, NameError, ProductError,
    ValidationMethod,
};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_pki::{CsrError, KeyError, MasterKey, SealError, SubjectKey};
use certkeeper_store::{CheckOutcome, Issued, LogEntry, NewValidation, Store, StoreError, ValidationRow};
use certkeeper_va::{Challenge, ChallengeError, DnsAutoPublish, Validator, VerifyType, next_check_delay};
use rcgen::PublicKeyData;
use time::OffsetDateTime;

use crate::issuance::{IssuanceService, new_certificate_id};

/// Status message of an order whose domains are being validated.
pub const PENDING_DCV: &str = "PENDING-DCV";

/// Purpose of validations made for issuance.
pub const PURPOSE_ISSUE: &str = "issue";

/// Orders checked per scheduler pass; the validator's semaphore bounds concurrent checks.
const SCHEDULER_BATCH: i64 = 256;

/// How often the scheduler looks for due validations.
const SCHEDULER_TICK: Duration = Duration::from_secs(1);

/// Error from creating or advancing an order.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrderError {
    #[error("domain {value:?} is invalid: {source}")]
    Name { value: String, source: NameError },
    #[error("deleting the DNS_AUTO record of {domain} for certificate {id} failed: {detail}")]
    RecordRemoval { id: String, domain: String, detail: String },
    #[error(transparent)]
    Csr(#[from] CsrError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Challenge(#[from] ChallengeError),
    #[error("the CSR does not name {domain}; it names {names}. Put {domain} in the CSR's CN or subjectAltName")]
    DomainNotInCsr { domain: String, names: String },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Issue(#[from] crate::IssueError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("certificate {id} does not exist")]
    NotFound { id: String },
    #[error(transparent)]
    Revocation(Box<crate::RevokeError>),
    #[error("certificate {id} is {status} ({}); {action} needs {needed}", status.code())]
    WrongStatus { id: String, status: CertificateStatus, action: &'static str, needed: &'static str },
    #[error("certificate {id} was uploaded, not issued by certkeeper, so certkeeper cannot {action} it")]
    Uploaded { id: String, action: &'static str },
    #[error("certificate {id} has expired; apply for a new certificate instead")]
    Expired { id: String },
    #[error("certificate {id} was already reissued as {reissue}; a free certificate can be reissued once")]
    AlreadyReissued { id: String, reissue: String },
    #[error("certificate {id} is being reissued as {reissue}; wait until that reissue is issued or cancel it")]
    ReissueInProgress { id: String, reissue: String },
    #[error("the CSR names {found}, but certificate {id} names {expected}; a reissue keeps the names, so make a CSR for exactly these names")]
    NamesDiffer { id: String, expected: String, found: String },
    #[error("certificate {id} expires in {days_left} days; renewal opens 30 days before expiry")]
    NotDueForRenewal { id: String, days_left: i64 },
    #[error("certificate {id} was already renewed by {renewal}")]
    AlreadyRenewed { id: String, renewal: String },
    #[error(transparent)]
    Paid(Box<crate::paid::PaidError>),
    #[error("certificate {id} is for {expected}, not {found}; a renewal keeps the domain, so apply for {expected}")]
    RenewalDomainDiffers { id: String, expected: String, found: String },
}

/// An application for a certificate.
#[derive(Clone, Debug)]
pub struct ApplyRequest {
    pub account_id: i64,
    pub domain: String,
    pub method: ValidationMethod,
    pub product_id: u32,
    /// A CSR (PEM or DER); when absent, certkeeper generates the key.
    pub csr: Option<Vec<u8>>,
    /// Algorithm of the generated key; ignored with a CSR.
    pub key_algorithm: KeyAlgorithm,
    pub alias: String,
    pub project_id: u64,
    /// Delete DNS_AUTO records once the certificate is issued.
    pub delete_dns_auto_record: bool,
}

/// Links and renewal settings of a new order, beyond what the application states.
#[derive(Clone, Debug, Default)]
pub struct OrderOptions {
    /// The certificate this order renews; it must be issued, unexpired, in its renewal window
    /// and not renewed yet.
    pub renewal_of: Option<String>,
    /// Renew the issued certificate automatically before expiry.
    pub auto_renew: bool,
    /// End of a multi-year service term, Unix seconds.
    pub term_ends_at: Option<i64>,
    /// Certificate whose FILE validation tokens the order reuses, so that a file the owner
    /// still serves validates the order again.
    pub reuse_file_tokens_of: Option<String>,
}

/// Settings of the order flow.
#[derive(Clone, Debug)]
pub struct OrderSettings {
    /// Issuer domains that CAA records must authorise.
    pub caa_identities: Vec<String>,
}

/// Creates orders, checks their validations and issues when every domain is proven.
#[derive(Clone)]
pub struct OrderService {
    pub(crate) store: Store,
    pub(crate) issuance: IssuanceService,
    pub(crate) validator: Arc<Validator>,
    pub(crate) master_key: Arc<MasterKey>,
    settings: Arc<OrderSettings>,
    revocation_events: Arc<dyn crate::RevocationEvents>,
}

/// Context that binds a generated private key to its certificate when sealed.
pub fn private_key_context(certificate_id: &str) -> String {
    format!("certificate-key:{certificate_id}")
}

impl OrderService {
    pub fn new(
        store: Store,
        issuance: IssuanceService,
        validator: Arc<Validator>,
        master_key: Arc<MasterKey>,
        settings: OrderSettings,
    ) -> Self {
        OrderService {
            store,
            issuance,
            validator,
            master_key,
            settings: Arc::new(settings),
            revocation_events: Arc::new(crate::revocation::LogOnlyEvents),
        }
    }

    /// Sends reviewer reminders and review decisions of revocation requests to `events`.
    pub fn with_revocation_events(mut self, events: Arc<dyn crate::RevocationEvents>) -> Self {
        self.revocation_events = events;
        self
    }

    /// Returns the validator.
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Checks an application, stores the order with its challenges, and for DNS_AUTO writes
    /// the records. Nothing is stored when a check fails.
    pub async fn apply(&self, request: ApplyRequest, now: OffsetDateTime) -> Result<CertificateRecord, OrderError> {
        self.apply_with(request, OrderOptions::default(), now).await
    }

    /// Like [`OrderService::apply`], with the links and renewal settings of `options`. A
    /// renewal order and the link on the certificate it renews are stored in one transaction.
    pub async fn apply_with(&self, request: ApplyRequest, options: OrderOptions, now: OffsetDateTime) -> Result<CertificateRecord, OrderError> {
        let at = now.unix_timestamp();
        let renewed = match &options.renewal_of {
            Some(old_id) => Some(self.check_renewable(old_id, &request.domain, at).await?),
            None => None,
        };
        let product = self.issuance.catalogue().get(request.product_id)?.clone();
        let domain = DnsName::parse(&request.domain).map_err(|source| OrderError::Name { value: request.domain.clone(), source })?;

        let (names, key_algorithm, csr_der, generated) = match &request.csr {
            Some(csr) => {
                let checked = certkeeper_pki::check_csr(csr)?;
                if !checked.names.contains(&domain) {
                    let names: Vec<&str> = checked.names.iter().map(|n| n.as_str()).collect();
                    return Err(OrderError::DomainNotInCsr { domain: domain.to_string(), names: names.join(", ") });
                }
                let mut names = vec![domain.clone()];
                names.extend(checked.names.iter().filter(|n| **n != domain).cloned());
                (names, checked.key.algorithm(), Some(checked.der), None)
            }
            None => (vec![domain.clone()], request.key_algorithm, None, Some(request.key_algorithm)),
        };
        product.check_issuable(key_algorithm)?;
        for name in &names {
            name.check_not_public_suffix().map_err(|source| OrderError::Name { value: name.to_string(), source })?;
        }

        let skip = product.dangerous_skip_domain_validation;
        let method = if skip { ValidationMethod::None } else { request.method };
        let mut challenges: Vec<Challenge> = if skip {
            Vec::new()
        } else {
            names.iter().map(|name| Challenge::new(name.clone(), method)).collect::<Result<_, _>>()?
        };
        if let Some(previous) = &options.reuse_file_tokens_of
            && method == ValidationMethod::File
        {
            challenges = self.previous_file_challenges(previous, challenges).await?;
        }

        let id = new_certificate_id();
        let sealed_private_key = match generated {
            Some(algorithm) => {
                let key = SigningKeyPair::generate(algorithm)?;
                Some(self.master_key.seal(&private_key_context(&id), &key.pkcs8_der())?)
            }
            None => None,
        };
        let record = CertificateRecord {
            id: id.clone(),
            account_id: Some(request.account_id),
            product_id: product.id,
            status: CertificateStatus::Reviewing,
            status_message: PENDING_DCV.to_owned(),
            source: CertificateSource::Issued,
            validation_method: method,
            domain: domain.to_string(),
            names: names.iter().map(|n| n.to_string()).collect(),
            key_algorithm,
            alias: request.alias.clone(),
            project_id: request.project_id,
            serial: None,
            issuer_id: None,
            not_before: None,
            not_after: None,
            certificate_der: None,
            csr_der,
            sealed_private_key,
            renewed_from: renewed.as_ref().map(|old| old.id.clone()),
            renewal_id: None,
            reissued_from: None,
            reissued_by: None,
            auto_renew: options.auto_renew,
            term_ends_at: options.term_ends_at,
            created_at: at,
            updated_at: at,
        };

        let validations = self.issue_validations(&challenges, request.delete_dns_auto_record, now);
        let actor = format!("account:{}", request.account_id);
        match &renewed {
            Some(old) => {
                let detail = format!("renewal of {} as {id}", old.id);
                let log = LogEntry { actor: &actor, action: "renew", detail: &detail, at };
                self.store.insert_renewal(&old.id, &record, &validations, &log).await?;
                tracing::info!(certificate_id = %id, renewed = %old.id, domain = %domain, method = %method, "renewal order created");
            }
            None => {
                let log = LogEntry { actor: &actor, action: "apply", detail: &request.domain, at };
                self.store.insert_order(&record, &validations, &log).await?;
                tracing::info!(certificate_id = %id, domain = %domain, method = %method, "order created");
            }
        }

        if skip {
            self.issue_order(&id, now).await?;
        } else if method == ValidationMethod::DnsAuto {
            self.publish_dns_auto(&id, &challenges, now).await?;
        }
        self.store.certificate(&id).await?.ok_or(OrderError::NotFound { id })
    }

    /// Builds the issuance validation rows of an order's challenges. DNS_AUTO records are
    /// checked at once after publishing, the other methods after one recheck interval.
    pub(crate) fn issue_validations(&self, challenges: &[Challenge], delete_dns_auto_record: bool, now: OffsetDateTime) -> Vec<NewValidation> {
        let at = now.unix_timestamp();
        let lifetime = time::Duration::try_from(self.validator.config().token_lifetime).unwrap_or(time::Duration::days(3));
        challenges
            .iter()
            .map(|challenge| {
                let dns_auto = challenge.method == ValidationMethod::DnsAuto;
                let first_check = if dns_auto { at } else { at + self.validator.config().recheck_interval.as_secs() as i64 };
                let mut validation = new_validation(challenge, PURPOSE_ISSUE, first_check, (now + lifetime).unix_timestamp());
                validation.remove_after_issue = delete_dns_auto_record && dns_auto;
                validation
            })
            .collect()
    }

    pub(crate) async fn publish_dns_auto(&self, id: &str, challenges: &[Challenge], now: OffsetDateTime) -> Result<(), OrderError> {
        let mut fallbacks = Vec::new();
        for challenge in challenges {
            match self.validator.publish_dns_auto(challenge).await {
                Ok(DnsAutoPublish::Published { zone, .. }) => {
                    tracing::info!(certificate_id = %id, domain = %challenge.domain, zone = %zone, "validation record published")
                }
                Ok(DnsAutoPublish::ManualFallback { reason }) => fallbacks.push(format!("{}: {reason}", challenge.domain)),
                Err(error) => {
                    tracing::warn!(certificate_id = %id, domain = %challenge.domain, %error, "automatic DNS update failed");
                    fallbacks.push(format!("{}: {error}", challenge.domain));
                }
            }
        }
        let at = now.unix_timestamp();
        if fallbacks.is_empty() {
            let log = LogEntry { actor: "system", action: "dnsRecordAdded", detail: "", at };
            self.store.change_status(id, CertificateStatus::Reviewing, CertificateStatus::DnsRecordAdded, PENDING_DCV, &log).await?;
        } else {
            let message = format!("automatic DNS is not available, publish the TXT record yourself as for DNS ({})", fallbacks.join("; "));
            self.store.set_status_message(id, &message, at).await?;
        }
        Ok(())
    }

    /// Returns the validations of an order.
    pub async fn validations(&self, id: &str) -> Result<Vec<ValidationRow>, OrderError> {
        Ok(self.store.validations_of(id, PURPOSE_ISSUE).await?)
    }

    /// Returns the service for owner revocation requests, which shares this service's store,
    /// CA and validator.
    pub fn revocations(&self) -> crate::RevocationService {
        crate::RevocationService::new(self.store.clone(), self.issuance.clone(), Arc::clone(&self.validator))
            .with_events(Arc::clone(&self.revocation_events))
    }

    /// Checks the due validations of one certificate for the scheduler: those of a revocation
    /// request while it is in status 9 (revoking), and otherwise those of its order.
    async fn check_due(&self, id: &str, now: OffsetDateTime) -> Result<(), OrderError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        if record.status == CertificateStatus::Revoking {
            return match self.revocations().check(id, now).await {
                Ok(_) => Ok(()),
                Err(crate::RevokeError::Order(error)) => Err(error),
                Err(crate::RevokeError::Store(error)) => Err(OrderError::Store(error)),
                Err(other) => Err(OrderError::Revocation(Box::new(other))),
            };
        }
        self.check_order(id, now).await.map(|_| ())
    }

    /// Checks every pending validation of an order now, and issues when all have passed.
    /// Returns the validations with their latest results.
    pub async fn check_order(&self, id: &str, now: OffsetDateTime) -> Result<Vec<ValidationRow>, OrderError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        if !matches!(record.status, CertificateStatus::Reviewing | CertificateStatus::DnsRecordAdded) {
            return self.validations(id).await;
        }
        // A paid order waits for a reviewer before and after its domain validation.
        if [crate::paid::PRE_REVIEWING, crate::paid::CA_REVIEWING].contains(&record.status_message.as_str()) {
            return self.validations(id).await;
        }
        let at = now.unix_timestamp();
        let rows = self.store.validations_of(id, PURPOSE_ISSUE).await?;
        check_pending(&self.store, &self.validator, &rows, at).await?;

        let rows = self.store.validations_of(id, PURPOSE_ISSUE).await?;
        if let Some(expired) = rows.iter().find(|row| row.state == "expired") {
            let message = format!(
                "domain validation of {} expired before it passed; last result: {}. Apply again",
                expired.domain, expired.reason
            );
            self.fail_order(&record, &message, now).await?;
        } else if !rows.is_empty() && rows.iter().all(|row| row.state == "valid") {
            self.finish_validated(&record, now).await?;
        }
        self.validations(id).await
    }

    async fn finish_validated(&self, record: &CertificateRecord, now: OffsetDateTime) -> Result<(), OrderError> {
        for name in &record.names {
            let name = DnsName::parse(name).map_err(|source| OrderError::Name { value: name.clone(), source })?;
            if let Err(error) = self.validator.check_caa(&name, &self.settings.caa_identities).await {
                let message = format!("CAA check failed: {error}");
                self.fail_order(record, &message, now).await?;
                return Ok(());
            }
        }
        if !self.hold_for_review(record, now).await? {
            self.issue_order(&record.id, now).await?;
        }
        Ok(())
    }

    async fn fail_order(&self, record: &CertificateRecord, message: &str, now: OffsetDateTime) -> Result<(), OrderError> {
        let log = LogEntry { actor: "system", action: "validationFailed", detail: message, at: now.unix_timestamp() };
        self.store.change_status(&record.id, record.status, CertificateStatus::ReviewFailed, message, &log).await?;
        self.store.close_validations(&record.id, PURPOSE_ISSUE, "invalid").await?;
        tracing::info!(certificate_id = %record.id, reason = %message, "order failed");
        Ok(())
    }

    /// Signs and stores the certificate of an order whose domains are proven.
    pub async fn issue_order(&self, id: &str, now: OffsetDateTime) -> Result<CertificateRecord, OrderError> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        let key = self.subject_key(&record)?;
        let names: Vec<DnsName> = record
            .names
            .iter()
            .map(|n| DnsName::parse(n).map_err(|source| OrderError::Name { value: n.clone(), source }))
            .collect::<Result<_, _>>()?;
        let subject = self.organization_subject(&record, now).await?;
        let signed = self.issuance.sign_for_order(&record, &key, &names, subject.as_ref(), now).await?;
        let log = LogEntry { actor: "system", action: "issued", detail: "", at: now.unix_timestamp() };
        let issued = Issued {
            serial: &signed.serial,
            issuer_id: signed.issuer_id,
            certificate_der: &signed.der,
            not_before: signed.not_before,
            not_after: signed.not_after,
        };
        self.store.complete_issuance(id, record.status, &issued, &log).await?;
        tracing::info!(certificate_id = %id, serial = %signed.serial, "certificate issued");
        self.cleanup_dns_auto(&record, true).await;
        self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })
    }

    /// Deletes the DNS_AUTO records of an order: after issuance only those the applicant asked
    /// to delete (`DeleteDnsAutoRecord`), after cancellation all of them.
    async fn cleanup_dns_auto(&self, record: &CertificateRecord, only_requested: bool) {
        if record.validation_method != ValidationMethod::DnsAuto {
            return;
        }
        let Ok(rows) = self.store.validations_of(&record.id, PURPOSE_ISSUE).await else { return };
        for row in rows.iter().filter(|row| row.remove_after_issue || !only_requested) {
            if let Err(error) = self.remove_validation_record(&record.id, row).await {
                tracing::warn!(certificate_id = %record.id, domain = %row.domain, %error, "removing the validation record failed");
            }
        }
    }

    /// Deletes the DNS_AUTO record of one validation, and returns whether it was found.
    async fn remove_validation_record(&self, id: &str, row: &ValidationRow) -> Result<bool, OrderError> {
        let challenge = challenge_from_row(row)?;
        self.validator.remove_dns_auto(&challenge).await.map_err(|error| OrderError::RecordRemoval {
            id: id.to_owned(),
            domain: row.domain.clone(),
            detail: error.to_string(),
        })
    }

    pub(crate) fn subject_key(&self, record: &CertificateRecord) -> Result<SubjectKey, OrderError> {
        if let Some(csr) = &record.csr_der {
            return Ok(certkeeper_pki::check_csr(csr)?.key);
        }
        let sealed = record.sealed_private_key.as_deref().ok_or_else(|| OrderError::NotFound { id: record.id.clone() })?;
        let pkcs8 = self.master_key.open(&private_key_context(&record.id), sealed)?;
        let key = SigningKeyPair::from_pkcs8(record.key_algorithm, &pkcs8)?;
        Ok(SubjectKey::new(record.key_algorithm, key.der_bytes().to_vec(), key.spki_der())?)
    }

    /// Deletes every DNS_AUTO validation record of an order that will not issue, such as a
    /// reissue order cancelled with its original, and returns how many were found and deleted.
    /// Unlike the clean-up after issuance or cancellation, a record that cannot be deleted
    /// fails the call, so that the `dns_auto.cleanup` job retries it.
    pub async fn remove_dns_auto_records(&self, id: &str) -> Result<usize, OrderError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        if record.validation_method != ValidationMethod::DnsAuto {
            return Ok(0);
        }
        let mut removed = 0;
        for row in self.store.validations_of(id, PURPOSE_ISSUE).await? {
            if self.remove_validation_record(id, &row).await? {
                removed += 1;
            }
        }
        tracing::info!(certificate_id = %id, removed, "DNS_AUTO validation records deleted");
        Ok(removed)
    }

    /// Cancels an order that is not issued yet.
    pub async fn cancel(&self, id: &str, actor: &str, now: OffsetDateTime) -> Result<(), OrderError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        if record.status.transition_to(CertificateStatus::Cancelled).is_err() {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "cancelling", needed: "an order that is not issued" });
        }
        let log = LogEntry { actor, action: "cancel", detail: "", at: now.unix_timestamp() };
        self.store.change_status(id, record.status, CertificateStatus::Cancelled, "", &log).await?;
        self.store.close_validations(id, PURPOSE_ISSUE, "invalid").await?;
        self.cleanup_dns_auto(&record, false).await;
        Ok(())
    }

    /// Rechecks due validations, of orders and of revocation requests, until `shutdown`
    /// completes. Each pass picks up to 256 certificates with a validation whose next check
    /// time has come and checks them concurrently (the validator bounds how many checks run at
    /// once). Passes follow each other at once while
    /// they are full, and once a second otherwise.
    pub async fn run_scheduler(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(error) = self.recheck_due(OffsetDateTime::now_utc()).await {
                tracing::error!(%error, "listing due validations failed");
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(SCHEDULER_TICK) => {}
            }
        }
    }

    /// Runs one recheck pass at `now`: checks the validations that are due, in batches of 256,
    /// and goes on while batches come back full. Returns how many certificates were checked.
    /// `certkeeper serve` runs it as a durable job once per second, so servers that share a
    /// database do not check the same validation twice.
    pub async fn recheck_due(&self, now: OffsetDateTime) -> Result<usize, OrderError> {
        let mut checked = 0;
        loop {
            let ids = self.store.certificates_with_due_validations(now.unix_timestamp(), SCHEDULER_BATCH).await?;
            let mut full_batch = ids.len() as i64 == SCHEDULER_BATCH;
            checked += ids.len();
            let mut tasks = tokio::task::JoinSet::new();
            for id in ids {
                let service = self.clone();
                tasks.spawn(async move {
                    let result = service.check_due(&id, now).await;
                    if let Err(error) = &result {
                        tracing::warn!(certificate_id = %id, %error, "scheduled validation check failed");
                    }
                    result.is_ok()
                });
            }
            // Orders whose check failed keep their due time, so a pass with failures ends here
            // instead of picking them again at once.
            while let Some(joined) = tasks.join_next().await {
                if !matches!(joined, Ok(true)) {
                    full_batch = false;
                }
            }
            if !full_batch {
                return Ok(checked);
            }
        }
    }
}

fn new_validation(challenge: &Challenge, purpose: &str, next_check_at: i64, expires_at: i64) -> NewValidation {
    NewValidation {
        purpose: purpose.to_owned(),
        domain: challenge.domain.to_string(),
        method: challenge.method.as_str().to_owned(),
        verify_type: challenge.verify_type.as_str().to_owned(),
        record_key: challenge.key.clone(),
        sub_domain: challenge.sub_domain.clone(),
        token: challenge.value.clone(),
        path: challenge.path.clone(),
        remove_after_issue: false,
        next_check_at,
        expires_at,
    }
}

/// Checks each pending validation of `rows` now and stores its outcome: valid, expired (the
/// token lifetime ended before it passed) or still pending with the next check delayed by the
/// backoff of its attempt count.
pub(crate) async fn check_pending(store: &Store, validator: &Validator, rows: &[ValidationRow], at: i64) -> Result<(), OrderError> {
    let base = validator.config().recheck_interval;
    for row in rows.iter().filter(|row| row.state == "pending") {
        let challenge = challenge_from_row(row)?;
        let result = validator.check(&challenge).await;
        let state = if result.is_valid() {
            "valid"
        } else if at >= row.expires_at {
            "expired"
        } else {
            "pending"
        };
        let delay = next_check_delay(u32::try_from(row.attempts).unwrap_or(u32::MAX), base);
        let values = result.check_value.join("\n");
        let outcome = CheckOutcome {
            state,
            local_check: result.local_check.code(),
            check_values: &values,
            reason: &result.reason,
            next_check_at: at + delay.as_secs().max(1) as i64,
            checked_at: at,
        };
        store.record_check(row.id, &outcome).await?;
    }
    Ok(())
}

/// Rebuilds the challenge a validation row was made from.
pub fn challenge_from_row(row: &ValidationRow) -> Result<Challenge, OrderError> {
    let domain = DnsName::parse(&row.domain).map_err(|source| OrderError::Name { value: row.domain.clone(), source })?;
    let method: ValidationMethod = row.method.parse().map_err(|detail: String| StoreError::Corrupt { what: format!("validation {}", row.id), detail })?;
    let verify_type = if row.verify_type == "FILE" { VerifyType::File } else { VerifyType::Txt };
    Ok(Challenge {
        domain,
        method,
        verify_type,
        key: row.record_key.clone(),
        sub_domain: row.sub_domain.clone(),
        value: row.token.clone(),
        path: row.path.clone(),
    })
}
