//! Issuance: product policy, serial generation, signing and storage.

use std::sync::Arc;

use certkeeper_ca::{CaError, CertificateAuthority, LeafRequest};
use certkeeper_core::product::MAX_VALIDITY_DAYS;
use certkeeper_core::{
    CertificateRecord, CertificateSource, CertificateStatus, NameError, ProductCatalogue, ProductError,
    ValidationMethod,
};
use certkeeper_pki::CheckedCsr;
use certkeeper_store::{LogEntry, Store, StoreError};
use time::{Duration, OffsetDateTime};

/// Characters of certificate ids: digits and letters in ASCII order, so that ids compare in
/// the order of their time prefix.
const ID_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters of an id that encode its creation time in Unix seconds (62^6 seconds reach past
/// the year 3700).
const ID_TIME_LENGTH: usize = 6;

/// Random characters of an id after its time prefix: about 59.5 bits, so that two ids created
/// in the same second collide with a probability of about n²/2^60.5 for n ids in that second.
const ID_RANDOM_LENGTH: usize = 10;

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

/// Returns a new certificate id of 16 letters and digits: the creation second, then random.
///
/// Ids created later sort after earlier ones, so new rows land at the end of every index that
/// contains the id instead of at random places all over it.
pub fn new_certificate_id() -> String {
    new_certificate_id_at(OffsetDateTime::now_utc())
}

fn new_certificate_id_at(now: OffsetDateTime) -> String {
    let base = ID_ALPHABET.len() as u64;
    let mut id = String::with_capacity(ID_TIME_LENGTH + ID_RANDOM_LENGTH);
    let seconds = u64::try_from(now.unix_timestamp()).unwrap_or(0);
    for position in (0..ID_TIME_LENGTH as u32).rev() {
        let digit = (seconds / base.pow(position)) % base;
        id.push(ID_ALPHABET[digit as usize] as char);
    }
    let mut random = [0u8; ID_RANDOM_LENGTH * 2];
    // The system CSPRNG only fails when the OS has no entropy source at all.
    aws_lc_rs::rand::fill(&mut random).expect("system random number generator");
    for pair in random.chunks(2) {
        // 65,536 mod 62 = 2, so two of the 62 characters are 1/1057 more likely than the others.
        let value = u16::from_be_bytes([pair[0], pair[1]]) as usize;
        id.push(ID_ALPHABET[value % ID_ALPHABET.len()] as char);
    }
    id
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

/// Issues certificates: policy checks, serial generation, signing and storage.
#[derive(Clone)]
pub struct IssuanceService {
    store: Store,
    ca: Arc<CertificateAuthority>,
    catalogue: Arc<ProductCatalogue>,
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
        IssuanceService { store, ca, catalogue }
    }

    /// Returns the product catalogue.
    pub fn catalogue(&self) -> &ProductCatalogue {
        &self.catalogue
    }

    /// Returns the CA.
    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// Checks policy, signs and stores one certificate.
    pub async fn issue(&self, request: IssueRequest, now: OffsetDateTime) -> Result<CertificateRecord, IssueError> {
        let mut records = self.issue_batch(vec![request], now).await?;
        Ok(records.remove(0))
    }

    /// Issues many certificates with one commit.
    ///
    /// Each certificate gets a random serial, and signing runs on the blocking pool, split
    /// across the available cores. The certificates and their log rows are then stored in one
    /// transaction. The unique index on `certificates.serial` rejects a repeated serial, which
    /// fails the whole batch; no certificate leaves this function unless its row is committed.
    /// Any policy failure rejects the whole batch before anything is signed.
    pub async fn issue_batch(&self, requests: Vec<IssueRequest>, now: OffsetDateTime) -> Result<Vec<CertificateRecord>, IssueError> {
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let mut prepared = Vec::with_capacity(requests.len());
        for request in requests {
            prepared.push(self.prepare(request, now)?);
        }
        // A batch is written with one log entry shape, taken from its first request.
        let (actor, detail) = match prepared.first() {
            Some(first) => (first.request.actor.clone(), first.request.detail.clone()),
            None => return Ok(Vec::new()),
        };
        let prepared = self.sign_all(prepared).await?;
        let records: Vec<CertificateRecord> = prepared.into_iter().map(|p| p.record).collect();
        let log = LogEntry { actor: &actor, action: "issued", detail: &detail, at: now.unix_timestamp() };
        self.store.insert_certificates(&records, &log).await?;
        for record in &records {
            tracing::info!(certificate_id = %record.id, serial = record.serial.as_deref().unwrap_or_default(), domain = %record.domain, "certificate issued");
        }
        Ok(records)
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
    fn certificate_ids_are_sixteen_alphanumerics() {
        let id = new_certificate_id();
        assert_eq!(id.len(), ID_TIME_LENGTH + ID_RANDOM_LENGTH);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
        assert_ne!(new_certificate_id(), id);
    }

    #[test]
    fn certificate_ids_sort_by_creation_second() {
        let mut earlier = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let mut previous = new_certificate_id_at(earlier);
        // Steps that carry into each of the six time characters.
        for step in [1, 61, 62, 3_844, 238_328, 14_776_336, 916_132_832] {
            earlier += Duration::seconds(step);
            let next = new_certificate_id_at(earlier);
            assert!(next > previous, "{next} after {previous} ({step} s later)");
            assert_eq!(next.len(), 16);
            previous = next;
        }
    }

    #[test]
    fn certificate_id_time_prefix_is_base62_seconds() {
        let epoch = new_certificate_id_at(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(&epoch[..ID_TIME_LENGTH], "000000");
        let at = OffsetDateTime::from_unix_timestamp(62 * 62 + 61).unwrap();
        assert_eq!(&new_certificate_id_at(at)[..ID_TIME_LENGTH], "00010z");
    }
}
