//! Issuance: product policy, serial reservation, signing and storage.

use std::sync::{Arc, Mutex};

use certkeeper_ca::{CaError, CertificateAuthority, LeafRequest};
use certkeeper_core::product::MAX_VALIDITY_DAYS;
use certkeeper_core::{
    CertificateRecord, CertificateSource, CertificateStatus, NameError, ProductCatalogue, ProductError,
    ValidationMethod,
};
use certkeeper_pki::CheckedCsr;
use certkeeper_store::{LogEntry, Store, StoreError};
use time::{Duration, OffsetDateTime};

/// Characters of certificate ids: letters and digits, as in the Tencent API's 8-character ids.
const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a certificate id.
const ID_LENGTH: usize = 8;

/// Error from issuing a certificate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("validity of {days} days is not allowed; give 1 to {MAX_VALIDITY_DAYS} days")]
    Validity { days: u32 },
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One certificate to issue from a checked CSR.
#[derive(Clone, Debug)]
pub struct IssueRequest {
    pub account_id: Option<i64>,
    pub product_id: u32,
    pub csr: CheckedCsr,
    pub validation_method: ValidationMethod,
    /// Validity in days instead of the product's; at most 398.
    pub days: Option<u32>,
    pub alias: String,
    pub project_id: u64,
    /// Requester recorded in the operation log: `account:<id>` or `operator`.
    pub actor: String,
    /// Operation-log detail, such as `ca sign --csr FILE`.
    pub detail: String,
}

/// Returns a new random certificate id of eight letters and digits.
pub fn new_certificate_id() -> String {
    let mut random = [0u8; ID_LENGTH * 2];
    // The system CSPRNG only fails when the OS has no entropy source at all.
    aws_lc_rs::rand::fill(&mut random).expect("system random number generator");
    random
        .chunks(2)
        .map(|pair| {
            let value = u16::from_be_bytes([pair[0], pair[1]]) as usize;
            ID_ALPHABET[value % ID_ALPHABET.len()] as char
        })
        .collect()
}

/// A leaf signed for an order.
#[derive(Clone, Debug)]
pub struct SignedLeaf {
    pub serial: String,
    pub issuer_id: i64,
    pub der: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
}

/// Reserved serials held for later batches, at most this many.
const MAX_POOLED_SERIALS: usize = 10_000;

/// Issues certificates: policy checks, serial reservation, signing and storage.
#[derive(Clone)]
pub struct IssuanceService {
    store: Store,
    ca: Arc<CertificateAuthority>,
    catalogue: Arc<ProductCatalogue>,
    /// Serials already committed to the `serials` table (without a certificate id) and not yet
    /// signed with. Each batch takes its serials from here and reserves as many for the next
    /// batch in the transaction that stores it. Serials left here when the process stops are
    /// never used, which wastes them but never reuses one.
    reserved: Arc<Mutex<Vec<certkeeper_core::SerialNumber>>>,
}

/// A request that passed policy and is ready to be signed.
struct Prepared {
    record: CertificateRecord,
    request: IssueRequest,
    serial: certkeeper_core::SerialNumber,
    level: certkeeper_core::ValidationLevel,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl IssuanceService {
    pub fn new(store: Store, ca: Arc<CertificateAuthority>, catalogue: Arc<ProductCatalogue>) -> Self {
        IssuanceService { store, ca, catalogue, reserved: Arc::new(Mutex::new(Vec::new())) }
    }

    /// Returns the product catalogue.
    pub fn catalogue(&self) -> &ProductCatalogue {
        &self.catalogue
    }

    /// Returns the CA.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// Checks policy, reserves the serial, signs and stores one certificate.
    pub async fn issue(&self, request: IssueRequest, now: OffsetDateTime) -> Result<CertificateRecord, IssueError> {
        let mut records = self.issue_batch(vec![request], now).await?;
        Ok(records.remove(0))
    }

    /// Issues many certificates with one commit in the steady state.
    ///
    /// Every serial is committed to the `serials` table before it is signed with. A batch takes
    /// serials that an earlier batch reserved and reserves any it lacks in a commit of its own.
    /// It then stores its certificates and log rows in one transaction, which also reserves the
    /// serials for the next batch. Signing runs on the blocking pool, split across the available
    /// cores. Any policy failure rejects the whole batch before anything is stored.
    // TODO: commit latency and random-key index writes (id, serial, log) on the one database
    // thread cap this path at about a third of the raw P-256 signing rate (see BENCHMARKS.md).
    pub async fn issue_batch(&self, requests: Vec<IssueRequest>, now: OffsetDateTime) -> Result<Vec<CertificateRecord>, IssueError> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut prepared = Vec::with_capacity(requests.len());
        for request in requests {
            prepared.push(self.prepare(request, now)?);
        }
        self.assign_reserved_serials(&mut prepared, now).await?;

        // A batch is written with one log entry shape, taken from its first request.
        let (actor, detail) = match prepared.first() {
            Some(first) => (first.request.actor.clone(), first.request.detail.clone()),
            None => return Ok(Vec::new()),
        };
        let count = prepared.len();
        let prepared = self.sign_all(prepared).await?;
        let records: Vec<CertificateRecord> = prepared.into_iter().map(|p| p.record).collect();
        let log = LogEntry { actor: &actor, action: "issued", detail: &detail, at: now.unix_timestamp() };

        let room = MAX_POOLED_SERIALS.saturating_sub(self.lock_reserved().len());
        let next: Vec<certkeeper_core::SerialNumber> =
            (0..count.min(room)).map(|_| certkeeper_ca::random_serial()).collect::<Result<_, _>>()?;
        let next_rows: Vec<(String, Option<String>)> = next.iter().map(|serial| (serial.to_hex(), None)).collect();
        self.store.insert_certificates_and_reserve(&records, &log, self.ca.intermediate_id(), &next_rows).await?;
        self.lock_reserved().extend(next);
        for record in &records {
            tracing::info!(certificate_id = %record.id, serial = ?record.serial, domain = %record.domain, "certificate issued");
        }
        Ok(records)
    }

    fn lock_reserved(&self) -> std::sync::MutexGuard<'_, Vec<certkeeper_core::SerialNumber>> {
        // Every update of the pool is a single call, so a panicked holder leaves it consistent.
        self.reserved.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives each prepared certificate a committed serial: one from the pool where available,
    /// otherwise its own random serial, reserved here in one commit for the whole batch.
    async fn assign_reserved_serials(&self, prepared: &mut [Prepared], now: OffsetDateTime) -> Result<(), IssueError> {
        let pooled: Vec<certkeeper_core::SerialNumber> = {
            let mut reserved = self.lock_reserved();
            let take = prepared.len().min(reserved.len());
            let start = reserved.len() - take;
            reserved.drain(start..).collect()
        };
        let pooled_count = pooled.len();
        for (item, serial) in prepared.iter_mut().zip(pooled) {
            item.record.serial = Some(serial.to_hex());
            item.serial = serial;
        }
        let missing: Vec<(String, Option<String>)> =
            prepared[pooled_count..].iter().map(|p| (p.serial.to_hex(), Some(p.record.id.clone()))).collect();
        if !missing.is_empty() {
            self.store.reserve_serials(self.ca.intermediate_id(), &missing, now.unix_timestamp()).await?;
        }
        Ok(())
    }

    /// Reserves a serial and signs the certificate of a stored order, with the product's
    /// validity and level. The caller stores the result on the order.
    pub async fn sign_for_order(
        &self,
        record: &CertificateRecord,
        key: &certkeeper_pki::SubjectKey,
        names: &[certkeeper_core::DnsName],
        subject: Option<&certkeeper_core::OrganizationSubject>,
        now: OffsetDateTime,
    ) -> Result<SignedLeaf, IssueError> {
        let product = self.catalogue.get(record.product_id)?;
        product.check_issuable(key.algorithm())?;
        let not_before = now;
        let mut not_after = now + Duration::days(i64::from(product.validity_days)) - Duration::seconds(1);
        // The last certificate of a multi-year term ends with the term.
        if let Some(term_end) = record.term_ends_at.and_then(|end| OffsetDateTime::from_unix_timestamp(end).ok())
            && term_end > not_before
            && term_end < not_after
        {
            not_after = term_end;
        }
        let serial = certkeeper_ca::random_serial()?;
        let reserved = [(serial.to_hex(), Some(record.id.clone()))];
        self.store.reserve_serials(self.ca.intermediate_id(), &reserved, now.unix_timestamp()).await?;

        let ca = Arc::clone(&self.ca);
        let (key, names, level, signing_serial) = (key.clone(), names.to_vec(), product.level, serial.clone());
        let subject = subject.cloned();
        let der = tokio::task::spawn_blocking(move || {
            ca.sign_leaf(&LeafRequest {
                key: &key,
                names: &names,
                serial: &signing_serial,
                not_before,
                not_after,
                level,
                subject: subject.as_ref(),
            })
        })
        .await
        .expect("signing task panicked")?;
        Ok(SignedLeaf {
            serial: serial.to_hex(),
            issuer_id: self.ca.intermediate_id(),
            der,
            not_before: not_before.unix_timestamp(),
            not_after: not_after.unix_timestamp(),
        })
    }

    fn prepare(&self, request: IssueRequest, now: OffsetDateTime) -> Result<Prepared, IssueError> {
        let product = self.catalogue.get(request.product_id)?;
        product.check_issuable(request.csr.key.algorithm())?;
        for name in &request.csr.names {
            name.check_not_public_suffix()?;
        }
        let days = request.days.unwrap_or(product.validity_days);
        if days == 0 || days > MAX_VALIDITY_DAYS {
            return Err(IssueError::Validity { days });
        }
        let not_before = now;
        // The Baseline Requirements count validity inclusively, so the last second is day N's.
        let not_after = now + Duration::days(i64::from(days)) - Duration::seconds(1);
        let serial = certkeeper_ca::random_serial()?;
        let names: Vec<String> = request.csr.names.iter().map(|n| n.to_string()).collect();
        let record = CertificateRecord {
            id: new_certificate_id(),
            account_id: request.account_id,
            product_id: product.id,
            status: CertificateStatus::Issued,
            status_message: String::new(),
            source: CertificateSource::Issued,
            validation_method: request.validation_method,
            domain: names[0].clone(),
            names,
            key_algorithm: request.csr.key.algorithm(),
            alias: request.alias.clone(),
            project_id: request.project_id,
            serial: Some(serial.to_hex()),
            issuer_id: Some(self.ca.intermediate_id()),
            not_before: Some(not_before.unix_timestamp()),
            not_after: Some(not_after.unix_timestamp()),
            certificate_der: None,
            csr_der: Some(request.csr.der.clone()),
            sealed_private_key: None,
            renewed_from: None,
            renewal_id: None,
            reissued_from: None,
            reissued_by: None,
            auto_renew: false,
            term_ends_at: None,
            created_at: now.unix_timestamp(),
            updated_at: now.unix_timestamp(),
        };
        Ok(Prepared { record, request, serial, level: product.level, not_before, not_after })
    }

    async fn sign_all(&self, prepared: Vec<Prepared>) -> Result<Vec<Prepared>, IssueError> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(prepared.len().max(1));
        let chunk_size = prepared.len().div_ceil(threads).max(1);
        let mut chunks: Vec<Vec<Prepared>> = Vec::new();
        let mut rest = prepared.into_iter();
        loop {
            let chunk: Vec<Prepared> = rest.by_ref().take(chunk_size).collect();
            if chunk.is_empty() {
                break;
            }
            chunks.push(chunk);
        }

        let mut tasks = Vec::new();
        for mut chunk in chunks {
            let ca = Arc::clone(&self.ca);
            tasks.push(tokio::task::spawn_blocking(move || -> Result<Vec<Prepared>, CaError> {
                for item in &mut chunk {
                    let der = ca.sign_leaf(&LeafRequest {
                        key: &item.request.csr.key,
                        names: &item.request.csr.names,
                        serial: &item.serial,
                        not_before: item.not_before,
                        not_after: item.not_after,
                        level: item.level,
                        subject: None,
                    })?;
                    item.record.certificate_der = Some(der);
                }
                Ok(chunk)
            }));
        }
        let mut signed = Vec::new();
        for task in tasks {
            // A panic while signing is a bug; propagate it rather than store a partial batch.
            let chunk = task.await.expect("signing task panicked")?;
            signed.extend(chunk);
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ids_are_eight_alphanumerics() {
        let id = new_certificate_id();
        assert_eq!(id.len(), ID_LENGTH);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert_ne!(new_certificate_id(), id);
    }
}
