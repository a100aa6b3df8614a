//! The validator: runs checks with bounded concurrency, and the recheck backoff.

use std::sync::Arc;
use std::time::Duration;

use certkeeper_core::{DnsName, ValidationMethod};
use tokio::sync::Semaphore;

use crate::caa::{CaaAuthorization, CaaError, check_caa};
use crate::challenge::Challenge;
use crate::config::{DnsAutoConfig, ValidationConfig, parse_resolv_conf};
use crate::dns::DnsClient;
use crate::dns_auto::{DnsAutoError, DnsAutoPublish, DnsAutoUpdater};
use crate::file::check_file;
use crate::result::{DomainValidationResult, LocalCheck};
use crate::txt::check_txt;

/// Maximum delay between two automatic checks of one domain.
pub const MAX_RECHECK_DELAY: Duration = Duration::from_secs(300);

/// Returns the delay before the next check of a pending domain: `base` after the first
/// attempt (`attempt` 0), doubling with each attempt, and at most [`MAX_RECHECK_DELAY`].
pub fn next_check_delay(attempt: u32, base: Duration) -> Duration {
    let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor)
        .unwrap_or(MAX_RECHECK_DELAY)
        .min(MAX_RECHECK_DELAY)
}

/// Failure to build a [`Validator`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValidatorError {
    /// `max_concurrent_checks` is 0.
    #[error("validation.max_concurrent_checks must be at least 1")]
    NoConcurrency,
    /// A `[[dns_auto.zones]]` entry is invalid.
    #[error(transparent)]
    DnsAuto(#[from] DnsAutoError),
}

/// Runs domain checks against the configured DNS servers and web servers, at most
/// `max_concurrent_checks` at a time. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Validator {
    config: ValidationConfig,
    dns: DnsClient,
    dns_auto: DnsAutoUpdater,
    permits: Arc<Semaphore>,
}

/// Returns the resolvers of `/etc/resolv.conf`. A missing file or one without `nameserver`
/// lines gives an empty list and a warning: the service still starts, and every DNS check
/// then fails with a message that says to set `validation.dns_servers`.
fn system_resolvers() -> Vec<std::net::SocketAddr> {
    let servers = match std::fs::read_to_string("/etc/resolv.conf") {
        Ok(text) => parse_resolv_conf(&text),
        Err(error) => {
            tracing::warn!(%error, "cannot read /etc/resolv.conf; set validation.dns_servers");
            return Vec::new();
        }
    };
    if servers.is_empty() {
        tracing::warn!("/etc/resolv.conf lists no nameserver; set validation.dns_servers");
    }
    servers
}

impl Validator {
    /// Builds a validator, reading `/etc/resolv.conf` when `dns_servers` is empty and the
    /// TSIG keys of every DNS_AUTO zone.
    pub fn new(
        config: ValidationConfig,
        dns_auto: &DnsAutoConfig,
    ) -> Result<Validator, ValidatorError> {
        if config.max_concurrent_checks == 0 {
            return Err(ValidatorError::NoConcurrency);
        }
        let servers = if config.dns_servers.is_empty() {
            system_resolvers()
        } else {
            config.dns_servers.clone()
        };
        tracing::info!(dns_servers = ?servers, max_concurrent_checks = config.max_concurrent_checks, "validator ready");
        Ok(Validator {
            dns: DnsClient::new(servers, config.dns_timeout),
            dns_auto: DnsAutoUpdater::new(dns_auto)?,
            permits: Arc::new(Semaphore::new(config.max_concurrent_checks)),
            config,
        })
    }

    /// Returns the configuration.
    pub fn config(&self) -> &ValidationConfig {
        &self.config
    }

    /// Checks one challenge with a fresh lookup or fetch, waiting for a free slot first.
    /// Every failure, including unreachable servers, is reported in the result.
    pub async fn check(&self, challenge: &Challenge) -> DomainValidationResult {
        // The semaphore is never closed, so `acquire` cannot fail.
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the check semaphore is never closed");
        let result = match challenge.method {
            ValidationMethod::Dns | ValidationMethod::DnsAuto => {
                check_txt(&self.dns, challenge).await
            }
            ValidationMethod::File => check_file(&self.config, &self.dns, challenge).await,
            ValidationMethod::None => DomainValidationResult {
                domain: challenge.domain.clone(),
                method: challenge.method,
                local_check: LocalCheck::RecordMissing,
                check_value: Vec::new(),
                hops: Vec::new(),
                cname_chain: Vec::new(),
                reason: format!("{} has no validation method to check", challenge.domain),
                error: None,
            },
        };
        tracing::debug!(
            domain = %result.domain,
            method = %result.method,
            local_check = result.local_check.code(),
            reason = %result.reason,
            "domain check finished"
        );
        result
    }

    /// Fetches the CA certificate at a caIssuers URL, under the address and redirect rules of
    /// file checks.
    pub async fn fetch_ca_issuer(&self, url: &str) -> Result<Vec<u8>, crate::FetchError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the check semaphore is never closed");
        crate::file::fetch_ca_issuer(&self.config, &self.dns, url).await
    }

    /// Checks the CAA records of `domain` (RFC 8659) against the issuer domains of our CA,
    /// such as `["certkeeper.example"]`.
    pub async fn check_caa(
        &self,
        domain: &DnsName,
        identities: &[String],
    ) -> Result<CaaAuthorization, CaaError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the check semaphore is never closed");
        check_caa(&self.dns, domain, identities).await
    }

    /// Writes the TXT record of a DNS_AUTO challenge, or reports that the domain falls back
    /// to manual DNS.
    pub async fn publish_dns_auto(
        &self,
        challenge: &Challenge,
    ) -> Result<DnsAutoPublish, DnsAutoError> {
        self.dns_auto.publish(challenge).await
    }

    /// Returns whether a zone is configured for the TXT record of a DNS_AUTO challenge.
    pub fn dns_auto_configured(&self, challenge: &Challenge) -> bool {
        self.dns_auto.zone_for(&challenge.key).is_some()
    }

    /// Deletes the TXT record of a DNS_AUTO challenge; returns false when its zone is not
    /// configured.
    pub async fn remove_dns_auto(&self, challenge: &Challenge) -> Result<bool, DnsAutoError> {
        self.dns_auto.remove(challenge).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_then_caps() {
        let base = Duration::from_secs(10);
        assert_eq!(next_check_delay(0, base), Duration::from_secs(10));
        assert_eq!(next_check_delay(1, base), Duration::from_secs(20));
        assert_eq!(next_check_delay(4, base), Duration::from_secs(160));
        assert_eq!(next_check_delay(5, base), MAX_RECHECK_DELAY);
        assert_eq!(next_check_delay(u32::MAX, base), MAX_RECHECK_DELAY);
    }

    #[test]
    fn zero_concurrency_is_rejected() {
        let config = ValidationConfig {
            max_concurrent_checks: 0,
            ..ValidationConfig::default()
        };
        assert!(matches!(
            Validator::new(config, &DnsAutoConfig::default()),
            Err(ValidatorError::NoConcurrency)
        ));
    }
}
