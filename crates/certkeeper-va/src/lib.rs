//! The validation authority of certkeeper: proves that an applicant controls a domain.
//!
//! Three methods are checked, each with a fresh lookup or fetch on every call:
//!
//! - `DNS`: a TXT record at `_dnsauth.<domain>` contains the token. CNAME chains are followed
//!   for up to [`MAX_CNAME_HOPS`] hops.
//! - `DNS_AUTO`: the same record, written and deleted by certkeeper through RFC 2136 dynamic
//!   updates signed with TSIG ([`DnsAutoUpdater`]).
//! - `FILE`: `http://<domain>/.well-known/pki-validation/<name>.txt` contains the token.
//!   Redirects are followed by hand, at most [`MAX_REDIRECTS`], and special-purpose addresses
//!   are rejected unless `allow_private_addresses` is set.
//!
//! [`Validator::check_caa`] checks CAA records (RFC 8659). The crate keeps no state: callers
//! store challenges and results and schedule rechecks with [`next_check_delay`].

mod address;
mod caa;
mod challenge;
mod config;
mod dns;
mod dns_auto;
mod file;
mod result;
mod txt;
mod validator;

pub use address::special_purpose;
pub use caa::{CaaAuthorization, CaaError};
pub use challenge::{
    Challenge, ChallengeError, DNS_RECORD_LABEL, FILE_DIRECTORY, VerifyType, dns_record_name,
};
pub use config::{
    DnsAutoConfig, DnsAutoZone, Secret, TsigAlgorithmName, ValidationConfig,
    default_allow_private_addresses, default_connect_timeout, default_dns_servers,
    default_dns_timeout, default_http_port, default_https_port, default_max_concurrent_checks,
    default_recheck_interval, default_token_lifetime, default_total_timeout,
    default_tsig_algorithm, parse_resolv_conf,
};
pub use dns::{DnsLookupError, MAX_CNAME_HOPS};
pub use dns_auto::{DnsAutoError, DnsAutoPublish, DnsAutoUpdater, RECORD_TTL};
pub use file::{FetchError, MAX_BODY_BYTES, MAX_REDIRECTS};
pub use result::{
    DomainValidationResult, LocalCheck, MAX_SHOWN_CHARS, RedirectHop, escape_received,
};
pub use validator::{MAX_RECHECK_DELAY, Validator, ValidatorError, next_check_delay};
