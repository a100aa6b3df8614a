//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

use certkeeper_core::{DnsName, ValidationMethod};
use certkeeper_testkit::{Bind9, Nginx};
use certkeeper_va::{
    Challenge, DnsAutoConfig, DomainValidationResult, LocalCheck, ValidationConfig, Validator,
};

/// Starts BIND9 with the zones the tests use.
pub fn start_bind() -> Bind9 {
    Bind9::start(&["example.test", "example.net"])
}

/// Returns a configuration that queries `bind` and may connect to loopback addresses.
pub fn config(bind: &Bind9) -> ValidationConfig {
    ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        ..ValidationConfig::default()
    }
}

/// Returns a configuration for file checks against `nginx`.
pub fn web_config(bind: &Bind9, nginx: &Nginx) -> ValidationConfig {
    ValidationConfig {
        http_port: nginx.http_port(),
        https_port: nginx.https_port(),
        ..config(bind)
    }
}

pub fn validator(config: ValidationConfig) -> Validator {
    Validator::new(config, &DnsAutoConfig::default()).expect("build a validator")
}

pub fn challenge(domain: &str, method: ValidationMethod) -> Challenge {
    Challenge::new(DnsName::parse(domain).expect("a valid test domain"), method)
        .expect("create a challenge")
}

/// Adds a TXT record with `value` at `name`.
pub fn publish_txt(bind: &Bind9, name: &str, value: &str) {
    bind.add_record(name, 300, "TXT", &format!("\"{value}\""));
}

/// Asserts the result code and prints the whole result on failure.
pub fn assert_code(result: &DomainValidationResult, expected: LocalCheck) {
    assert_eq!(
        result.local_check, expected,
        "unexpected result: {result:#?}"
    );
}

/// Asserts that the reason contains `text`.
pub fn assert_reason(result: &DomainValidationResult, text: &str) {
    assert!(
        result.reason.contains(text),
        "reason {:?} does not contain {text:?}",
        result.reason
    );
}
