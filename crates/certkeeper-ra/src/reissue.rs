//! Reissue: a new certificate for the names of an issued one, usually with a new key.
//!
//! The reissue is an order of its own (a new certificate id, status 0 with domain validation)
//! whose `reissued_from` names the original, while the original moves to status 11
//! (reissuing) with `reissued_by` naming the order. When the order is issued, the original
//! returns to status 1 and both stay valid. When the order fails or is cancelled, the original
//! returns to status 1 and may be reissued again. A reissue of a reissue is made from the original, so
//! revoking the original revokes every reissue of it (see `Store::revoke_certificate`). Free
//! products allow one reissue.

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, DnsName, KeyAlgorithm, ValidationMethod};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_store::LogEntry;
use certkeeper_va::Challenge;
use time::OffsetDateTime;

use crate::issuance::new_certificate_id;
use crate::orders::{OrderError, OrderService, PENDING_DCV, private_key_context};

/// Key of a reissued certificate.
#[derive(Clone, Debug)]
pub enum ReissueKey {
    /// The key of the certificate being reissued: its CSR, or the key certkeeper generated.
    Original,
    /// A CSR (PEM or DER) for the same names.
    Upload(Vec<u8>),
    /// A key that certkeeper generates.
    Online(KeyAlgorithm),
}

/// Key algorithm, CSR and sealed private key of a reissue; the CSR or the key is absent.
type KeyMaterial = (KeyAlgorithm, Option<Vec<u8>>, Option<Vec<u8>>);

/// A request to reissue a certificate.
#[derive(Clone, Debug)]
pub struct ReissueRequest {
    /// The requester, as written in the operation log: `account:<id>`.
    pub actor: String,
    /// Validation method of the new order's domains.
    pub method: ValidationMethod,
    pub key: ReissueKey,
    /// The owner's reason, kept in the operation log.
    pub reason: String,
}

impl OrderService {
    /// Checks a reissue request and stores the reissue order with its validations, moving the
    /// original to status 11, in one transaction. For DNS_AUTO it then writes the records.
    /// Returns the new order. Nothing is stored when a check fails.
    pub async fn reissue(&self, id: &str, request: &ReissueRequest, now: OffsetDateTime) -> Result<CertificateRecord, OrderError> {
        let at = now.unix_timestamp();
        let named = self.store.certificate(id).await?.ok_or_else(|| OrderError::NotFound { id: id.to_owned() })?;
        let original = match &named.reissued_from {
            Some(original_id) => {
                self.store.certificate(original_id).await?.ok_or_else(|| OrderError::NotFound { id: original_id.clone() })?
            }
            None => named.clone(),
        };
        let product = self.issuance.catalogue().get(original.product_id)?.clone();
        check_reissuable(&named, &original, product.free, at)?;

        if let ReissueKey::Online(algorithm) = request.key {
            product.check_issuable(algorithm)?;
        }
        let new_id = new_certificate_id();
        let (key_algorithm, csr_der, sealed_private_key) = self.reissue_key(&named, &request.key, &new_id)?;
        product.check_issuable(key_algorithm)?;

        let names: Vec<DnsName> = original
            .names
            .iter()
            .map(|name| DnsName::parse(name).map_err(|source| OrderError::Name { value: name.clone(), source }))
            .collect::<Result<_, _>>()?;
        let skip = product.dangerous_skip_domain_validation;
        let method = if skip { ValidationMethod::None } else { request.method };
        let challenges: Vec<Challenge> = if skip {
            Vec::new()
        } else {
            names.iter().map(|name| Challenge::new(name.clone(), method)).collect::<Result<_, _>>()?
        };

        let record = CertificateRecord {
            id: new_id.clone(),
            account_id: original.account_id,
            product_id: original.product_id,
            status: CertificateStatus::Reviewing,
            status_message: PENDING_DCV.to_owned(),
            source: CertificateSource::Issued,
            validation_method: method,
            domain: original.domain.clone(),
            names: original.names.clone(),
            key_algorithm,
            alias: original.alias.clone(),
            project_id: original.project_id,
            serial: None,
            issuer_id: None,
            not_before: None,
            not_after: None,
            certificate_der: None,
            csr_der,
            sealed_private_key,
            renewed_from: None,
            renewal_id: None,
            reissued_from: Some(original.id.clone()),
            reissued_by: None,
            auto_renew: false,
            term_ends_at: None,
            created_at: at,
            updated_at: at,
        };
        let validations = self.issue_validations(&challenges, false, now);
        let detail = format!("reissue of {} as {new_id}: {}", original.id, request.reason);
        let log = LogEntry { actor: &request.actor, action: "replace", detail: &detail, at };
        self.store.insert_reissue(&original.id, &record, &validations, !product.free, &log).await?;
        tracing::info!(certificate_id = %new_id, original = %original.id, method = %method, "reissue order created");

        if skip {
            self.issue_order(&new_id, now).await?;
        } else if method == ValidationMethod::DnsAuto {
            self.publish_dns_auto(&new_id, &challenges, now).await?;
        }
        self.store.certificate(&new_id).await?.ok_or(OrderError::NotFound { id: new_id })
    }

    /// Returns the key algorithm, CSR and sealed key of the reissue `new_id` of `named`.
    fn reissue_key(&self, named: &CertificateRecord, key: &ReissueKey, new_id: &str) -> Result<KeyMaterial, OrderError> {
        match key {
            ReissueKey::Original => {
                if let Some(csr) = &named.csr_der {
                    return Ok((named.key_algorithm, Some(csr.clone()), None));
                }
                let sealed = named.sealed_private_key.as_deref().ok_or_else(|| OrderError::NotFound { id: named.id.clone() })?;
                let pkcs8 = self.master_key.open(&private_key_context(&named.id), sealed)?;
                let sealed = self.master_key.seal(&private_key_context(new_id), &pkcs8)?;
                Ok((named.key_algorithm, None, Some(sealed)))
            }
            ReissueKey::Upload(csr) => {
                let checked = certkeeper_pki::check_csr(csr)?;
                let mut found: Vec<String> = checked.names.iter().map(|name| name.to_string()).collect();
                let mut expected = named.names.clone();
                found.sort();
                expected.sort();
                if found != expected {
                    return Err(OrderError::NamesDiffer { id: named.id.clone(), expected: expected.join(", "), found: found.join(", ") });
                }
                Ok((checked.key.algorithm(), Some(checked.der), None))
            }
            ReissueKey::Online(algorithm) => {
                let generated = SigningKeyPair::generate(*algorithm)?;
                let sealed = self.master_key.seal(&private_key_context(new_id), &generated.pkcs8_der())?;
                Ok((*algorithm, None, Some(sealed)))
            }
        }
    }
}

/// Applies the reissue rules to the certificate `named` in the request and its `original`
/// (the same record unless `named` is itself a reissue).
fn check_reissuable(named: &CertificateRecord, original: &CertificateRecord, free: bool, at: i64) -> Result<(), OrderError> {
    if named.source != CertificateSource::Issued {
        return Err(OrderError::Uploaded { id: named.id.clone(), action: "reissue" });
    }
    for record in [named, original] {
        match record.status {
            CertificateStatus::Issued => {}
            CertificateStatus::Reissuing => {
                let reissue = record.reissued_by.clone().unwrap_or_default();
                return Err(OrderError::ReissueInProgress { id: record.id.clone(), reissue });
            }
            CertificateStatus::Expired => return Err(OrderError::Expired { id: record.id.clone() }),
            status => {
                return Err(OrderError::WrongStatus {
                    id: record.id.clone(),
                    status,
                    action: "reissuing",
                    needed: "an issued certificate (status 1)",
                });
            }
        }
        if record.not_after.is_none_or(|not_after| not_after <= at) {
            return Err(OrderError::Expired { id: record.id.clone() });
        }
    }
    if free && let Some(reissue) = &original.reissued_by {
        return Err(OrderError::AlreadyReissued { id: original.id.clone(), reissue: reissue.clone() });
    }
    Ok(())
}
