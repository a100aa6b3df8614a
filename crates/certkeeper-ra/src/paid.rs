//! Paid orders and the organisation profiles that OV and EV orders use.
//!
//! A paid order starts in status 5 (awaiting submission). Its information (names, key or CSR,
//! the organisation's manager and the validation method) can be changed until the order is
//! submitted. Submission moves it to status 0: `PRE-REVIEWING` until a reviewer has verified
//! the manager and organisation, then `PENDING-DCV` while its domains are validated, then
//! `CA-REVIEWING` until a reviewer approves (status 1) or rejects it (status 2 with the
//! reason). DV products skip both reviews. EV orders wait in status 8 for a confirmation letter
//! before the review starts. A verified manager is reused by later orders until the
//! verification expires.

use certkeeper_core::{
    CertificateRecord, CertificateSource, CertificateStatus, DnsName, EvSubject, KeyAlgorithm, OrganizationSubject,
    ValidationLevel, ValidationMethod,
};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_store::{
    CompanyRow, LogEntry, MANAGER_INVALID, MANAGER_OK, ManagerRow, NewCompany, NewManager, NewSubmission, SubmissionRow,
};
use certkeeper_va::Challenge;
use time::OffsetDateTime;

use crate::issuance::new_certificate_id;
use crate::orders::{OrderError, OrderService, PENDING_DCV, private_key_context};

/// Status message of a submitted order whose organisation waits for verification.
pub const PRE_REVIEWING: &str = "PRE-REVIEWING";
/// Status message of a validated order that waits for the reviewer's approval.
pub const CA_REVIEWING: &str = "CA-REVIEWING";

/// Days a verified manager and organisation are reused by later orders.
// NOTE: a fixed choice of certkeeper. An operator cannot set a shorter reuse period yet.
pub const VERIFICATION_DAYS: i64 = 398;

/// Smallest and largest confirmation letter accepted, in bytes.
pub const LETTER_SIZE: std::ops::RangeInclusive<usize> = 1024..=1_400 * 1024;

/// Maximum number of domains of one paid order, as for a CSR.
pub const MAX_ORDER_DOMAINS: u32 = 100;

/// Error from the paid order flow or from organisation profiles.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PaidError {
    #[error("{field} is missing; {hint}")]
    Missing { field: &'static str, hint: &'static str },
    #[error("{field} {value:?} is invalid: {rule}")]
    Invalid { field: &'static str, value: String, rule: String },
    #[error("order {id} was placed for {ordered} domains, but the submission names {given} ({names}); remove domains or place a new order with CreateCertificate")]
    DomainCount { id: String, ordered: i64, given: usize, names: String },
    #[error("manager {id} does not exist")]
    ManagerNotFound { id: i64 },
    #[error("organisation {id} does not exist")]
    CompanyNotFound { id: i64 },
    #[error("manager {id} is {status}; {needed}")]
    ManagerStatus { id: i64, status: String, needed: &'static str },
    #[error("manager {id} is named by {count} certificates; delete or cancel them first")]
    ManagerInUse { id: i64, count: i64 },
    #[error("the CSR's {field} is {found:?} but the verified organisation's is {expected:?}; make a CSR with the organisation's values or without them")]
    CsrContradicts { field: &'static str, found: String, expected: String },
    #[error("certificate {id} is not a paid order; {action} is only for orders made with CreateCertificate")]
    NotPaid { id: String, action: &'static str },
    #[error("certificate {id} has no submitted information; call CertificateInfoSubmit or SubmitCertificateInformation first")]
    NotSubmitted { id: String },
    #[error("product {id} is a DV product, which takes no confirmation letter")]
    LetterNotNeeded { id: u32 },
    #[error("the confirmation letter has {size} bytes; send 1 KB to 1.4 MB")]
    LetterSize { size: usize },
    #[error("the confirmation letter is not a JPEG, PNG or PDF file; send one of those")]
    LetterType,
    #[error("certificate {id} is an EV order without a confirmation letter; upload it with UploadConfirmLetter first")]
    LetterMissing { id: String },
    #[error(transparent)]
    Order(#[from] OrderError),
}

impl From<certkeeper_store::StoreError> for PaidError {
    fn from(error: certkeeper_store::StoreError) -> Self {
        PaidError::Order(OrderError::Store(error))
    }
}

/// The organisation of a manager submitted for review.
#[derive(Clone, Debug)]
pub enum CompanyChoice {
    /// An organisation the account recorded before.
    Existing(i64),
    /// A new organisation.
    New(Box<NewCompany>),
}

/// Key of a paid order.
#[derive(Clone, Debug)]
pub enum PaidKey {
    /// certkeeper generates a key of this algorithm (`online`).
    Online(KeyAlgorithm),
    /// A CSR in PEM or DER (`parse`).
    Parse(Vec<u8>),
}

/// The information of a paid order.
#[derive(Clone, Debug)]
pub struct OrderInformation {
    /// The requester, as written in the operation log: `account:<id>`.
    pub actor: String,
    pub key: PaidKey,
    /// The main domain.
    pub common_name: String,
    /// Further domains.
    pub dns_names: Vec<String>,
    /// The organisation's manager; required for OV and EV.
    pub manager_id: Option<i64>,
    pub method: ValidationMethod,
    pub auto_renew: bool,
    /// JSON object of the submitted fields, returned as `SubmittedData`.
    pub data: String,
}

fn require(field: &'static str, value: &str, hint: &'static str) -> Result<(), PaidError> {
    if value.trim().is_empty() { Err(PaidError::Missing { field, hint }) } else { Ok(()) }
}

/// Checks the fields of a new organisation and its manager.
fn check_profile(company: Option<&NewCompany>, manager: &NewManager) -> Result<(), PaidError> {
    if let Some(company) = company {
        require("CompanyName", &company.name, "give the organisation's registered name")?;
        require("CompanyCountry", &company.country, "give a two-letter ISO 3166-1 code such as DE")?;
        require("CompanyProvince", &company.province, "give the state or province")?;
        require("CompanyCity", &company.city, "give the city")?;
        let subject = subject_of(company_row_of(company), false);
        subject.validate().map_err(|error| PaidError::Invalid { field: error.field, value: error.value, rule: error.rule.to_owned() })?;
        let ev_given = [&company.business_category, &company.jurisdiction_country, &company.registration_number]
            .iter()
            .any(|value| !value.is_empty());
        if ev_given {
            let subject = subject_of(company_row_of(company), true);
            subject.validate().map_err(|error| PaidError::Invalid { field: error.field, value: error.value, rule: error.rule.to_owned() })?;
        }
    }
    require("ManagerFirstName", &manager.first_name, "give the manager's first name")?;
    require("ManagerLastName", &manager.last_name, "give the manager's last name")?;
    require("ManagerPosition", &manager.position, "give the manager's position")?;
    require("ManagerPhone", &manager.phone, "give the manager's phone number")?;
    require("ManagerMail", &manager.email, "give the manager's email address")?;
    let email = manager.email.trim();
    if email.split('@').count() != 2 || email.starts_with('@') || email.ends_with('@') || email.contains(char::is_whitespace) {
        return Err(PaidError::Invalid { field: "ManagerMail", value: manager.email.clone(), rule: "give an address such as admin@example.com".into() });
    }
    Ok(())
}

fn company_row_of(company: &NewCompany) -> CompanyRow {
    CompanyRow {
        id: 0,
        account_id: company.account_id,
        name: company.name.clone(),
        country: company.country.clone(),
        province: company.province.clone(),
        city: company.city.clone(),
        address: company.address.clone(),
        phone: company.phone.clone(),
        business_category: company.business_category.clone(),
        jurisdiction_country: company.jurisdiction_country.clone(),
        registration_number: company.registration_number.clone(),
        created_at: 0,
    }
}

/// Builds the certificate subject of an organisation; `ev` adds the EV attributes, with the
/// jurisdiction defaulting to the organisation's country.
fn subject_of(company: CompanyRow, ev: bool) -> OrganizationSubject {
    let jurisdiction = if company.jurisdiction_country.is_empty() { company.country.clone() } else { company.jurisdiction_country.clone() };
    OrganizationSubject {
        organization: company.name,
        locality: company.city,
        state: company.province,
        country: company.country,
        ev: ev.then_some(EvSubject {
            business_category: company.business_category,
            jurisdiction_country: jurisdiction,
            registration_number: company.registration_number,
        }),
    }
}

fn letter_type(letter: &[u8]) -> Option<&'static str> {
    if letter.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if letter.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if letter.starts_with(b"%PDF-") {
        Some("pdf")
    } else {
        None
    }
}

impl OrderService {
    /// Records a manager, and with [`CompanyChoice::New`] its organisation, waiting for a
    /// reviewer. Returns the organisation and manager ids.
    pub async fn submit_manager(&self, account_id: i64, company: CompanyChoice, manager: &NewManager, now: OffsetDateTime) -> Result<(i64, i64), PaidError> {
        let at = now.unix_timestamp();
        let company = match company {
            CompanyChoice::Existing(id) => {
                let row = self.store.company(id).await?.filter(|row| row.account_id == account_id);
                Ok(row.ok_or(PaidError::CompanyNotFound { id })?.id)
            }
            CompanyChoice::New(new) => Err(*new),
        };
        check_profile(company.as_ref().err(), manager)?;
        let ids = self.store.insert_manager(company.as_ref().map(|id| *id), account_id, manager, at).await?;
        tracing::info!(account_id, company_id = ids.0, manager_id = ids.1, "manager submitted for review");
        Ok(ids)
    }

    /// Returns a verified, unexpired manager of the account with this organisation and email,
    /// or records a new one waiting for review. Verified profiles are reused this way.
    pub async fn find_or_submit_manager(&self, company: NewCompany, manager: &NewManager, now: OffsetDateTime) -> Result<i64, PaidError> {
        let account_id = company.account_id;
        if let Some(existing) = self.store.find_company(&company).await? {
            let managers = self.store.managers(existing.id).await?;
            let reusable = managers.iter().find(|row| row.email.eq_ignore_ascii_case(manager.email.trim()) && row.status != MANAGER_INVALID);
            if let Some(row) = reusable {
                return Ok(row.id);
            }
            return Ok(self.submit_manager(account_id, CompanyChoice::Existing(existing.id), manager, now).await?.1);
        }
        Ok(self.submit_manager(account_id, CompanyChoice::New(Box::new(company)), manager, now).await?.1)
    }

    /// Submits a manager for review again, such as one whose verification expired.
    pub async fn resubmit_manager(&self, id: i64, now: OffsetDateTime) -> Result<(), PaidError> {
        let manager = self.store.manager(id).await?.ok_or(PaidError::ManagerNotFound { id })?;
        if manager.status == certkeeper_store::MANAGER_AUDIT {
            return Err(PaidError::ManagerStatus { id, status: manager.status, needed: "it already waits for review" });
        }
        self.store.resubmit_manager(id, now.unix_timestamp()).await?;
        Ok(())
    }

    /// Deletes a manager that no certificate names.
    pub async fn delete_manager(&self, id: i64, now: OffsetDateTime) -> Result<(), PaidError> {
        self.store.manager(id).await?.ok_or(PaidError::ManagerNotFound { id })?;
        let count = self.store.certificates_of_manager(id).await?;
        if count > 0 {
            return Err(PaidError::ManagerInUse { id, count });
        }
        self.store.delete_manager(id, now.unix_timestamp()).await?;
        Ok(())
    }

    /// Approves a manager waiting for review: it stays verified for [`VERIFICATION_DAYS`], and
    /// its orders waiting in `PRE-REVIEWING` start domain validation.
    pub async fn approve_manager(&self, id: i64, reviewer: &str, now: OffsetDateTime) -> Result<ManagerRow, PaidError> {
        let at = now.unix_timestamp();
        let expires_at = at + VERIFICATION_DAYS * 86_400;
        if !self.store.decide_manager(id, MANAGER_OK, "", reviewer, at, Some(expires_at)).await? {
            let manager = self.store.manager(id).await?.ok_or(PaidError::ManagerNotFound { id })?;
            return Err(PaidError::ManagerStatus { id, status: manager.status, needed: "only a manager waiting for review (audit) can be approved" });
        }
        tracing::info!(target: "audit", event = "manager_verified", manager_id = id, reviewer, expires_at);
        for order in self.store.orders_with_message(CertificateStatus::Reviewing, PRE_REVIEWING, Some(id)).await? {
            if let Err(error) = self.start_review(&order, reviewer, now).await {
                tracing::warn!(certificate_id = %order.id, manager_id = id, %error, "starting domain validation after the manager's approval failed");
            }
        }
        self.store.manager(id).await?.ok_or(PaidError::ManagerNotFound { id })
    }

    /// Rejects a manager waiting for review with `reason`; its orders waiting in
    /// `PRE-REVIEWING` fail with the reason.
    pub async fn reject_manager(&self, id: i64, reviewer: &str, reason: &str, now: OffsetDateTime) -> Result<ManagerRow, PaidError> {
        require("reason", reason, "give the reason the owner will see")?;
        let at = now.unix_timestamp();
        if !self.store.decide_manager(id, MANAGER_INVALID, reason, reviewer, at, None).await? {
            let manager = self.store.manager(id).await?.ok_or(PaidError::ManagerNotFound { id })?;
            return Err(PaidError::ManagerStatus { id, status: manager.status, needed: "only a manager waiting for review (audit) can be rejected" });
        }
        let message = format!("organisation verification rejected: {reason}");
        for order in self.store.orders_with_message(CertificateStatus::Reviewing, PRE_REVIEWING, Some(id)).await? {
            let log = LogEntry { actor: reviewer, action: "validationFailed", detail: &message, at };
            self.store.change_status(&order.id, order.status, CertificateStatus::ReviewFailed, &message, &log).await?;
        }
        tracing::info!(target: "audit", event = "manager_rejected", manager_id = id, reviewer, reason);
        self.store.manager(id).await?.ok_or(PaidError::ManagerNotFound { id })
    }

    /// Creates a paid order of a product for `domain_count` domains (1 to 100) in status 5. A
    /// term of more than one validity period (`years`) is served by consecutive certificates
    /// until it ends. With `renewal_of` the order renews that certificate and keeps its names,
    /// so `domain_count` must cover them. The certificate must be issued, unexpired, within 30
    /// days of its notAfter and not renewed yet.
    pub async fn create_paid(
        &self,
        account_id: i64,
        product_id: u32,
        domain_count: u32,
        years: u32,
        renewal_of: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<CertificateRecord, PaidError> {
        let product = self.issuance.catalogue().get(product_id).map_err(OrderError::from)?.clone();
        if !(1..=5).contains(&years) {
            return Err(PaidError::Invalid { field: "TimeSpan", value: years.to_string(), rule: "give 1 to 5 years".into() });
        }
        if !(1..=MAX_ORDER_DOMAINS).contains(&domain_count) {
            return Err(PaidError::Invalid { field: "DomainNum", value: domain_count.to_string(), rule: format!("give 1 to {MAX_ORDER_DOMAINS} domains") });
        }
        let key_algorithm = *product.key_algorithms.first().ok_or(PaidError::Missing { field: "key_algorithms", hint: "the product lists none" })?;
        product.check_issuable(key_algorithm).map_err(OrderError::from)?;
        let at = now.unix_timestamp();
        let renewed = match renewal_of {
            Some(old_id) => {
                let old = self.store.certificate(old_id).await?.ok_or_else(|| OrderError::NotFound { id: old_id.to_owned() })?;
                let old = self.check_renewable(old_id, &old.domain, at).await?;
                if old.names.len() > domain_count as usize {
                    return Err(PaidError::DomainCount { id: old.id, ordered: i64::from(domain_count), given: old.names.len(), names: old.names.join(", ") });
                }
                Some(old)
            }
            None => None,
        };
        let term_seconds = i64::from(years) * 365 * 86_400;
        let term_ends_at = (term_seconds > i64::from(product.validity_days) * 86_400).then_some(at + term_seconds);
        let id = new_certificate_id();
        let record = CertificateRecord {
            id: id.clone(),
            account_id: Some(account_id),
            product_id,
            status: CertificateStatus::AwaitingSubmission,
            status_message: String::new(),
            source: CertificateSource::Issued,
            validation_method: ValidationMethod::Dns,
            domain: renewed.as_ref().map(|old| old.domain.clone()).unwrap_or_default(),
            names: renewed.as_ref().map(|old| old.names.clone()).unwrap_or_default(),
            key_algorithm,
            alias: String::new(),
            project_id: 0,
            serial: None,
            issuer_id: None,
            not_before: None,
            not_after: None,
            certificate_der: None,
            csr_der: None,
            sealed_private_key: None,
            renewed_from: renewed.as_ref().map(|old| old.id.clone()),
            renewal_id: None,
            reissued_from: None,
            reissued_by: None,
            auto_renew: false,
            term_ends_at,
            created_at: at,
            updated_at: at,
        };
        let actor = format!("account:{account_id}");
        let detail = format!("product {product_id}, {years} years");
        let log = LogEntry { actor: &actor, action: "apply", detail: &detail, at };
        let renewal_of = renewed.as_ref().map(|old| old.id.as_str());
        self.store.insert_paid_order(renewal_of, &record, i64::from(domain_count), &log).await?;
        tracing::info!(certificate_id = %id, product_id, domain_count, years, "paid order created");
        Ok(record)
    }

    /// Loads a paid order, or fails for other certificates.
    async fn paid_order(&self, id: &str, action: &'static str) -> Result<CertificateRecord, PaidError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        let product = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?;
        let has_submission = self.store.submission(id).await?.is_some();
        if product.free || (record.status != CertificateStatus::AwaitingSubmission && !has_submission) {
            return Err(PaidError::NotPaid { id: id.to_owned(), action });
        }
        Ok(record)
    }

    /// Checks and stores the information of a paid order in status 5. Nothing is stored when a
    /// check fails.
    pub async fn submit_information(&self, id: &str, info: &OrderInformation, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        let record = self.paid_order(id, "submitting information").await?;
        if record.status != CertificateStatus::AwaitingSubmission {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "submitting information", needed: "an order awaiting submission (status 5)" }.into());
        }
        let product = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?.clone();
        require("CertCommonName", &info.common_name, "give the main domain")?;
        let mut names = vec![parse_name(&info.common_name)?];
        for name in &info.dns_names {
            let name = parse_name(name)?;
            if !names.contains(&name) {
                names.push(name);
            }
        }
        let subject = match (product.level, info.manager_id) {
            (ValidationLevel::Dv, _) => None,
            (_, None) => return Err(PaidError::Missing { field: "ManagerId", hint: "OV and EV orders name the manager of a recorded organisation (SubmitAuditManager)" }),
            (level, Some(manager_id)) => Some(self.manager_subject(record.account_id, manager_id, level == ValidationLevel::Ev).await?.1),
        };

        let mut updated = record.clone();
        match &info.key {
            PaidKey::Parse(csr) => {
                let checked = certkeeper_pki::check_csr(csr).map_err(OrderError::from)?;
                for name in &names {
                    if !checked.names.contains(name) {
                        let found: Vec<&str> = checked.names.iter().map(|n| n.as_str()).collect();
                        return Err(OrderError::DomainNotInCsr { domain: name.to_string(), names: found.join(", ") }.into());
                    }
                }
                for name in &checked.names {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
                if let Some(subject) = &subject {
                    check_csr_subject(csr, subject)?;
                }
                product.check_issuable(checked.key.algorithm()).map_err(OrderError::from)?;
                updated.key_algorithm = checked.key.algorithm();
                updated.csr_der = Some(checked.der);
                updated.sealed_private_key = None;
            }
            PaidKey::Online(algorithm) => {
                product.check_issuable(*algorithm).map_err(OrderError::from)?;
                let key = SigningKeyPair::generate(*algorithm).map_err(OrderError::from)?;
                updated.key_algorithm = *algorithm;
                updated.csr_der = None;
                updated.sealed_private_key = Some(self.master_key.seal(&private_key_context(id), &key.pkcs8_der()).map_err(OrderError::from)?);
            }
        }
        for name in &names {
            name.check_not_public_suffix().map_err(|source| OrderError::Name { value: name.to_string(), source })?;
        }
        if let Some(ordered) = self.store.ordered_domain_count(id).await?
            && names.len() as i64 > ordered
        {
            let listed = names.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", ");
            return Err(PaidError::DomainCount { id: id.to_owned(), ordered, given: names.len(), names: listed });
        }
        updated.domain = names[0].to_string();
        updated.names = names.iter().map(|name| name.to_string()).collect();
        updated.validation_method = info.method;
        updated.auto_renew = info.auto_renew;
        let csr_type = match info.key {
            PaidKey::Online(_) => "online",
            PaidKey::Parse(_) => "parse",
        };
        let submission = NewSubmission { record: &updated, manager_id: info.manager_id.unwrap_or_default(), csr_type, data: &info.data };
        let log = LogEntry { actor: &info.actor, action: "submitInfo", detail: &updated.domain, at: now.unix_timestamp() };
        self.store.save_submission(&submission, &log).await?;
        Ok(updated)
    }

    /// Returns the manager of an account and the subject of its organisation, checking the
    /// fields the level needs.
    async fn manager_subject(&self, account_id: Option<i64>, manager_id: i64, ev: bool) -> Result<(ManagerRow, OrganizationSubject), PaidError> {
        let manager = self.store.manager(manager_id).await?.filter(|row| Some(row.account_id) == account_id);
        let manager = manager.ok_or(PaidError::ManagerNotFound { id: manager_id })?;
        if manager.status == MANAGER_INVALID {
            return Err(PaidError::ManagerStatus { id: manager_id, status: manager.status, needed: "submit a corrected manager with SubmitAuditManager" });
        }
        let company = self.store.company(manager.company_id).await?.ok_or(PaidError::CompanyNotFound { id: manager.company_id })?;
        if ev {
            require("CompanyBusinessCategory", &company.business_category, "EV orders need the organisation's business category")?;
            require("CompanyIdNumber", &company.registration_number, "EV orders need the organisation's registration number")?;
        }
        let subject = subject_of(company, ev);
        subject.validate().map_err(|error| PaidError::Invalid { field: error.field, value: error.value, rule: error.rule.to_owned() })?;
        Ok((manager, subject))
    }

    /// Returns the organisation subject of an OV or EV order, `None` for DV. The manager must
    /// be verified at `now`. A reissue or renewal without data of its own uses the data of its
    /// original or of the certificate it renews.
    pub(crate) async fn organization_subject(&self, record: &CertificateRecord, now: OffsetDateTime) -> Result<Option<OrganizationSubject>, OrderError> {
        let level = self.issuance.catalogue().get(record.product_id)?.level;
        if level == ValidationLevel::Dv {
            return Ok(None);
        }
        let mut submission = self.store.submission(&record.id).await?;
        for linked in [&record.reissued_from, &record.renewed_from].into_iter().flatten() {
            if submission.is_none() {
                submission = self.store.submission(linked).await?;
            }
        }
        let submission = submission.ok_or_else(|| OrderError::NotFound { id: record.id.clone() })?;
        let manager_id = submission.manager_id.ok_or_else(|| OrderError::NotFound { id: record.id.clone() })?;
        match self.manager_subject(record.account_id, manager_id, level == ValidationLevel::Ev).await {
            Ok((manager, _)) if !manager.is_verified(now.unix_timestamp()) => Err(OrderError::Paid(Box::new(PaidError::ManagerStatus {
                id: manager_id,
                status: manager.status,
                needed: "its verification must be current; submit it again with VerifyManager",
            }))),
            Ok((_, subject)) => Ok(Some(subject)),
            Err(PaidError::Order(error)) => Err(error),
            Err(other) => Err(OrderError::Paid(Box::new(other))),
        }
    }

    /// Submits a paid order with stored information for review (status 5 to 0, or to 8 for an
    /// EV order without a confirmation letter).
    pub async fn submit_order(&self, id: &str, actor: &str, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        self.submit_order_with(id, actor, None, now).await
    }

    /// Submits a paid order as [`OrderService::submit_order`] does. `Some(true)` has the DNS_AUTO
    /// validation records deleted once the order is issued, `Some(false)` keeps them, and
    /// `None` leaves the choice stored with the order (keep, unless set before).
    pub async fn submit_order_with(&self, id: &str, actor: &str, delete_dns_auto_record: Option<bool>, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        let record = self.paid_order(id, "submitting an order").await?;
        if record.status != CertificateStatus::AwaitingSubmission {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "submitting an order", needed: "an order awaiting submission (status 5)" }.into());
        }
        let submission = self.store.submission(id).await?.ok_or_else(|| PaidError::NotSubmitted { id: id.to_owned() })?;
        if let Some(delete) = delete_dns_auto_record
            && delete != submission.delete_dns_auto_record
        {
            self.store.set_delete_dns_auto_record(id, delete, now.unix_timestamp()).await?;
        }
        let level = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?.level;
        if level == ValidationLevel::Ev && submission.letter.is_none() {
            let log = LogEntry { actor, action: "submitInfo", detail: "waiting for the confirmation letter", at: now.unix_timestamp() };
            self.store.move_paid_order(id, record.status, CertificateStatus::AwaitingConfirmLetter, "", &[], &log).await?;
        } else {
            self.start_review(&record, actor, now).await?;
        }
        Ok(self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?)
    }

    /// Moves a submitted order to status 0: `PENDING-DCV` with new validations when no
    /// organisation review is needed, otherwise `PRE-REVIEWING`.
    async fn start_review(&self, record: &CertificateRecord, actor: &str, now: OffsetDateTime) -> Result<(), PaidError> {
        let submission = self.store.submission(&record.id).await?.ok_or_else(|| PaidError::NotSubmitted { id: record.id.clone() })?;
        let level = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?.level;
        let verified = match (level, submission.manager_id) {
            (ValidationLevel::Dv, _) => true,
            (_, Some(manager_id)) => self.store.manager(manager_id).await?.is_some_and(|row| row.is_verified(now.unix_timestamp())),
            (_, None) => false,
        };
        let at = now.unix_timestamp();
        if !verified {
            let log = LogEntry { actor, action: "submitInfo", detail: PRE_REVIEWING, at };
            self.store.move_paid_order(&record.id, record.status, CertificateStatus::Reviewing, PRE_REVIEWING, &[], &log).await?;
            return Ok(());
        }
        let names: Vec<DnsName> = record.names.iter().map(|name| parse_name(name)).collect::<Result<_, _>>()?;
        let challenges: Vec<Challenge> =
            names.iter().map(|name| Challenge::new(name.clone(), record.validation_method)).collect::<Result<_, _>>().map_err(OrderError::from)?;
        let validations = self.issue_validations(&challenges, submission.delete_dns_auto_record, now);
        let log = LogEntry { actor, action: "submitInfo", detail: PENDING_DCV, at };
        self.store.move_paid_order(&record.id, record.status, CertificateStatus::Reviewing, PENDING_DCV, &validations, &log).await?;
        if record.validation_method == ValidationMethod::DnsAuto {
            self.publish_dns_auto(&record.id, &challenges, now).await?;
        }
        Ok(())
    }

    /// Stores a confirmation letter (JPEG, PNG or PDF of 1 KB to 1.4 MB) for an OV or EV order
    /// that is not issued. An order waiting for it in status 8 then starts its review.
    pub async fn upload_letter(&self, id: &str, letter: &[u8], actor: &str, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        let record = self.paid_order(id, "uploading a confirmation letter").await?;
        let product = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?;
        if product.level == ValidationLevel::Dv {
            return Err(PaidError::LetterNotNeeded { id: product.id });
        }
        let open = matches!(
            record.status,
            CertificateStatus::AwaitingSubmission
                | CertificateStatus::AwaitingConfirmLetter
                | CertificateStatus::Reviewing
                | CertificateStatus::DnsRecordAdded
                | CertificateStatus::ReviewFailed
        );
        if !open {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "uploading a confirmation letter", needed: "an order that is not issued" }.into());
        }
        if !LETTER_SIZE.contains(&letter.len()) {
            return Err(PaidError::LetterSize { size: letter.len() });
        }
        let kind = letter_type(letter).ok_or(PaidError::LetterType)?;
        let log = LogEntry { actor, action: "uploadConfirmLetter", detail: kind, at: now.unix_timestamp() };
        if !self.store.save_letter(id, letter, kind, &log).await? {
            return Err(PaidError::NotSubmitted { id: id.to_owned() });
        }
        if record.status == CertificateStatus::AwaitingConfirmLetter {
            self.start_review(&record, actor, now).await?;
        }
        Ok(self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?)
    }

    /// Cancels the review of a submitted paid order: it returns to status 5, where its
    /// information can be changed, and its pending validations end.
    pub async fn cancel_audit(&self, id: &str, actor: &str, now: OffsetDateTime) -> Result<(), PaidError> {
        let record = self.paid_order(id, "cancelling a review").await?;
        let in_review = matches!(record.status, CertificateStatus::Reviewing | CertificateStatus::DnsRecordAdded | CertificateStatus::AwaitingConfirmLetter);
        if !in_review {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "cancelling a review", needed: "a submitted order that is not issued (status 0, 4 or 8)" }.into());
        }
        let log = LogEntry { actor, action: "cancel", detail: "review cancelled by the owner", at: now.unix_timestamp() };
        self.store.move_paid_order(id, record.status, CertificateStatus::AwaitingSubmission, "", &[], &log).await?;
        Ok(())
    }

    /// Submits a failed or cancelled paid order for review again with its stored information.
    pub async fn resubmit(&self, id: &str, actor: &str, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        let record = self.paid_order(id, "resubmitting").await?;
        if !matches!(record.status, CertificateStatus::ReviewFailed | CertificateStatus::Cancelled) {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "resubmitting", needed: "a failed or cancelled order (status 2 or 7)" }.into());
        }
        let submission: SubmissionRow = self.store.submission(id).await?.ok_or_else(|| PaidError::NotSubmitted { id: id.to_owned() })?;
        let level = self.issuance.catalogue().get(record.product_id).map_err(OrderError::from)?.level;
        if level == ValidationLevel::Ev && submission.letter.is_none() {
            return Err(PaidError::LetterMissing { id: id.to_owned() });
        }
        self.start_review(&record, actor, now).await?;
        Ok(self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?)
    }

    /// Returns the orders that wait for a reviewer's approval (`CA-REVIEWING`).
    pub async fn orders_in_review(&self) -> Result<Vec<CertificateRecord>, PaidError> {
        Ok(self.store.orders_with_message(CertificateStatus::Reviewing, CA_REVIEWING, None).await?)
    }

    async fn order_in_review(&self, id: &str) -> Result<CertificateRecord, PaidError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        if record.status != CertificateStatus::Reviewing || record.status_message != CA_REVIEWING {
            return Err(OrderError::WrongStatus { id: id.to_owned(), status: record.status, action: "a review decision", needed: "an order in CA-REVIEWING" }.into());
        }
        Ok(record)
    }

    /// Approves an order in `CA-REVIEWING`: the certificate is issued with the verified
    /// organisation in its subject.
    pub async fn approve_order(&self, id: &str, reviewer: &str, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        self.order_in_review(id).await?;
        let detail = format!("approved by {reviewer}");
        self.store.log_certificate_operation(id, &LogEntry { actor: reviewer, action: "review", detail: &detail, at: now.unix_timestamp() }).await?;
        let issued = self.issue_order(id, now).await?;
        tracing::info!(target: "audit", event = "order_approved", certificate_id = %id, reviewer);
        Ok(issued)
    }

    /// Rejects an order in `CA-REVIEWING`: status 2 with the reason as its status message.
    pub async fn reject_order(&self, id: &str, reviewer: &str, reason: &str, now: OffsetDateTime) -> Result<CertificateRecord, PaidError> {
        require("reason", reason, "give the reason the owner will see")?;
        let record = self.order_in_review(id).await?;
        let log = LogEntry { actor: reviewer, action: "review", detail: reason, at: now.unix_timestamp() };
        self.store.change_status(id, record.status, CertificateStatus::ReviewFailed, reason, &log).await?;
        tracing::info!(target: "audit", event = "order_rejected", certificate_id = %id, reviewer, reason);
        Ok(self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?)
    }

    /// Moves a validated OV or EV order to `CA-REVIEWING`. Returns false for orders issued at
    /// once: DV orders, and reissues and renewals without data of their own, whose organisation
    /// was reviewed for the certificate they replace.
    pub(crate) async fn hold_for_review(&self, record: &CertificateRecord, now: OffsetDateTime) -> Result<bool, OrderError> {
        let replaces = record.reissued_from.is_some() || record.renewed_from.is_some();
        if self.issuance.catalogue().get(record.product_id)?.level == ValidationLevel::Dv
            || (replaces && self.store.submission(&record.id).await?.is_none())
        {
            return Ok(false);
        }
        let log = LogEntry { actor: "system", action: "domainValidationPassed", detail: CA_REVIEWING, at: now.unix_timestamp() };
        self.store.move_paid_order(&record.id, record.status, CertificateStatus::Reviewing, CA_REVIEWING, &[], &log).await?;
        tracing::info!(certificate_id = %record.id, "domains validated; waiting for the reviewer");
        Ok(true)
    }

    /// Returns the live managers in one status, or all of them, oldest first.
    pub async fn manager_rows(&self, status: Option<&str>) -> Result<Vec<ManagerRow>, PaidError> {
        Ok(self.store.managers_in_status(status).await?)
    }

    /// Returns an order and its submitted data, if any.
    pub async fn order_with_submission(&self, id: &str) -> Result<(CertificateRecord, Option<SubmissionRow>), PaidError> {
        let record = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        Ok((record, self.store.submission(id).await?))
    }

    /// Returns a manager and its organisation, limited to `account_id` unless it is `None`.
    pub async fn manager_with_company(&self, id: i64, account_id: Option<i64>) -> Result<(ManagerRow, CompanyRow), PaidError> {
        let manager = self.store.manager(id).await?.filter(|row| account_id.is_none_or(|account| row.account_id == account));
        let manager = manager.ok_or(PaidError::ManagerNotFound { id })?;
        let company = self.store.company(manager.company_id).await?.ok_or(PaidError::CompanyNotFound { id: manager.company_id })?;
        Ok((manager, company))
    }
}

fn parse_name(name: &str) -> Result<DnsName, PaidError> {
    Ok(DnsName::parse(name.trim()).map_err(|source| OrderError::Name { value: name.to_owned(), source })?)
}

/// Rejects a CSR whose subject names an organisation other than the verified one. Attributes
/// the CSR leaves out are filled in from the organisation.
fn check_csr_subject(csr: &[u8], subject: &OrganizationSubject) -> Result<(), PaidError> {
    let found = certkeeper_pki::csr_organization(csr).map_err(OrderError::from)?;
    let pairs = [
        ("organizationName (O)", found.organization, &subject.organization),
        ("localityName (L)", found.locality, &subject.locality),
        ("stateOrProvinceName (ST)", found.state, &subject.state),
        ("countryName (C)", found.country, &subject.country),
    ];
    for (field, found, expected) in pairs {
        if let Some(found) = found
            && !found.trim().eq_ignore_ascii_case(expected)
        {
            return Err(PaidError::CsrContradicts { field, found, expected: expected.clone() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_types_by_magic_bytes() {
        assert_eq!(letter_type(b"\xFF\xD8\xFF\xE0rest"), Some("jpg"));
        assert_eq!(letter_type(b"\x89PNG\r\n\x1a\nrest"), Some("png"));
        assert_eq!(letter_type(b"%PDF-1.7"), Some("pdf"));
        assert_eq!(letter_type(b"GIF89a"), None);
    }
}
