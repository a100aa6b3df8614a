//! CAA checks (RFC 8659) against a real BIND9.

mod common;

use certkeeper_core::DnsName;
use certkeeper_va::CaaError;
use common::*;

fn identities() -> Vec<String> {
    vec!["certkeeper.example".to_owned()]
}

fn name(text: &str) -> DnsName {
    DnsName::parse(text).unwrap()
}

#[tokio::test]
async fn caa_without_records_allows() {
    let bind = start_bind();
    let validator = validator(config(&bind));

    let authorization = validator
        .check_caa(&name("www.example.test"), &identities())
        .await
        .unwrap();

    assert_eq!(authorization.record_owner, None);
    assert!(authorization.records.is_empty());
}

#[tokio::test]
async fn caa_other_issuer_fails_naming_record() {
    let bind = start_bind();
    bind.add_record("example.test", 300, "CAA", "0 issue \"other-ca.example\"");
    let validator = validator(config(&bind));

    let error = validator
        .check_caa(&name("www.example.test"), &identities())
        .await
        .unwrap_err();

    assert!(matches!(error, CaaError::NotAuthorized { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("CAA records at example.test"), "{message}");
    assert!(
        message.contains("0 issue \\\"other-ca.example\\\"")
            || message.contains("0 issue \"other-ca.example\""),
        "{message}"
    );
    assert!(message.contains("certkeeper.example"), "{message}");
}

#[tokio::test]
async fn caa_configured_issuer_passes() {
    let bind = start_bind();
    bind.add_record("example.test", 300, "CAA", "0 issue \"other-ca.example\"");
    bind.add_record(
        "example.test",
        300,
        "CAA",
        "0 issue \"certkeeper.example; account=42\"",
    );
    let validator = validator(config(&bind));

    let authorization = validator
        .check_caa(&name("www.example.test"), &identities())
        .await
        .unwrap();

    assert_eq!(authorization.record_owner.as_deref(), Some("example.test"));
    assert_eq!(authorization.records.len(), 2);
}

#[tokio::test]
async fn caa_closest_set_wins() {
    let bind = start_bind();
    bind.add_record("example.test", 300, "CAA", "0 issue \"certkeeper.example\"");
    bind.add_record(
        "shop.example.test",
        300,
        "CAA",
        "0 issue \"other-ca.example\"",
    );
    let validator = validator(config(&bind));

    let error = validator
        .check_caa(&name("www.shop.example.test"), &identities())
        .await
        .unwrap_err();

    assert!(
        error
            .to_string()
            .contains("CAA records at shop.example.test"),
        "{error}"
    );
}

#[tokio::test]
async fn caa_issuewild_applies_to_wildcards() {
    let bind = start_bind();
    bind.add_record("example.test", 300, "CAA", "0 issue \"certkeeper.example\"");
    bind.add_record("example.test", 300, "CAA", "0 issuewild \";\"");
    let validator = validator(config(&bind));

    let plain = validator
        .check_caa(&name("www.example.test"), &identities())
        .await;
    let wildcard = validator
        .check_caa(&name("*.example.test"), &identities())
        .await;

    assert!(plain.is_ok(), "{plain:?}");
    let error = wildcard.unwrap_err();
    assert!(error.to_string().contains("issuewild"), "{error}");
}

#[tokio::test]
async fn caa_wildcard_falls_back_to_issue() {
    let bind = start_bind();
    bind.add_record("example.test", 300, "CAA", "0 issue \"certkeeper.example\"");
    let validator = validator(config(&bind));

    let result = validator
        .check_caa(&name("*.example.test"), &identities())
        .await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn caa_unknown_critical_tag_fails() {
    let bind = start_bind();
    bind.add_record("example.test", 300, "CAA", "128 tbs \"unknown\"");
    let validator = validator(config(&bind));

    let error = validator
        .check_caa(&name("example.test"), &identities())
        .await
        .unwrap_err();

    assert!(
        matches!(error, CaaError::UnknownCriticalTag { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn caa_follows_cname() {
    let bind = start_bind();
    bind.add_record("alias.example.test", 300, "CNAME", "target.example.net.");
    bind.add_record(
        "target.example.net",
        300,
        "CAA",
        "0 issue \"other-ca.example\"",
    );
    let validator = validator(config(&bind));

    let error = validator
        .check_caa(&name("alias.example.test"), &identities())
        .await
        .unwrap_err();

    assert!(error.to_string().contains("other-ca.example"), "{error}");
}
