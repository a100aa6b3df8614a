//! DNS validation against a real BIND9.

mod common;

use std::time::Duration;

use certkeeper_core::ValidationMethod;
use certkeeper_va::{LocalCheck, ValidationConfig};
use common::*;

#[tokio::test]
async fn dns_record_validates() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("www.example.test", ValidationMethod::Dns);
    publish_txt(&bind, &challenge.key, &challenge.value);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
    assert_eq!(result.check_value, std::slice::from_ref(&challenge.value));
    assert!(result.error.is_none());
}

#[tokio::test]
async fn dns_missing_record_is_minus_one() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("missing.example.test", ValidationMethod::Dns);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::RecordMissing);
    assert_eq!(result.local_check.code(), -1);
    assert!(result.check_value.is_empty());
    assert_reason(
        &result,
        "no TXT record found at _dnsauth.missing.example.test",
    );
    assert_reason(&result, &challenge.value);
}

#[tokio::test]
async fn dns_wrong_value_is_minus_two() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("wrong.example.test", ValidationMethod::Dns);
    publish_txt(&bind, &challenge.key, "not-the-token");

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::ValueMismatch);
    assert_eq!(result.local_check.code(), -2);
    assert_eq!(result.check_value, ["not-the-token"]);
    assert_reason(&result, &format!("expected \"{}\"", challenge.value));
    assert_reason(&result, "received \"not-the-token\"");
}

#[tokio::test]
async fn dns_joins_character_strings() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("split.example.test", ValidationMethod::Dns);
    let (head, tail) = challenge.value.split_at(10);
    bind.add_record(
        &challenge.key,
        300,
        "TXT",
        &format!("\"{head}\" \"{tail}\""),
    );

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
}

#[tokio::test]
async fn dns_owner_name_case_is_ignored() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("case.example.test", ValidationMethod::Dns);
    publish_txt(&bind, "_DNSAUTH.Case.Example.TEST", &challenge.value);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
}

#[tokio::test]
async fn dns_unreachable_server_fails_with_error() {
    let port = certkeeper_testkit::free_port();
    let config = ValidationConfig {
        dns_servers: vec![format!("127.0.0.1:{port}").parse().unwrap()],
        dns_timeout: Duration::from_millis(500),
        ..ValidationConfig::default()
    };
    let validator = validator(config);
    let challenge = challenge("www.example.test", ValidationMethod::Dns);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::RecordMissing);
    let error = result.error.as_deref().expect("an error text");
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert_reason(&result, "TXT lookup of _dnsauth.www.example.test failed");
}

/// A certificate for `example.test` and `*.example.test` puts two values at one name; each
/// challenge is valid when its own value is among them.
#[tokio::test]
async fn wildcard_and_apex_share_record_name() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let wildcard = challenge("*.example.test", ValidationMethod::Dns);
    let apex = challenge("example.test", ValidationMethod::Dns);
    assert_eq!(wildcard.key, apex.key);
    assert_ne!(wildcard.value, apex.value);
    publish_txt(&bind, &wildcard.key, &wildcard.value);
    publish_txt(&bind, &apex.key, &apex.value);

    let wildcard_result = validator.check(&wildcard).await;
    let apex_result = validator.check(&apex).await;

    assert_code(&wildcard_result, LocalCheck::Ok);
    assert_code(&apex_result, LocalCheck::Ok);
    assert_eq!(apex_result.check_value.len(), 2);
}

/// With only the apex value published, the wildcard challenge fails. Its message gives the
/// number of records and the expected value. After the record is replaced, a new check finds it.
#[tokio::test]
async fn wildcard_sees_replaced_record() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let wildcard = challenge("*.example.test", ValidationMethod::Dns);
    let apex = challenge("example.test", ValidationMethod::Dns);
    publish_txt(&bind, &apex.key, &apex.value);

    let apex_result = validator.check(&apex).await;
    let wildcard_before = validator.check(&wildcard).await;

    assert_code(&apex_result, LocalCheck::Ok);
    assert_code(&wildcard_before, LocalCheck::ValueMismatch);
    assert_reason(
        &wildcard_before,
        "1 TXT record(s) found at _dnsauth.example.test",
    );
    assert_reason(
        &wildcard_before,
        &format!("expected \"{}\"", wildcard.value),
    );

    bind.delete_record(&apex.key, "TXT", None);
    publish_txt(&bind, &wildcard.key, &wildcard.value);
    let wildcard_after = validator.check(&wildcard).await;
    let apex_after = validator.check(&apex).await;

    assert_code(&wildcard_after, LocalCheck::Ok);
    assert_code(&apex_after, LocalCheck::ValueMismatch);
}

/// The record is delegated through two CNAMEs into another zone. The first check runs before
/// the TXT record exists (the zone's negative TTL is 3600 s); the second must not reuse that
/// negative response.
#[tokio::test]
async fn cname_chain_across_zones() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("app.example.test", ValidationMethod::Dns);
    bind.add_record(
        "_dnsauth.app.example.test",
        300,
        "CNAME",
        "_dnsauth.app.eu.example.test.",
    );
    bind.add_record(
        "_dnsauth.app.eu.example.test",
        300,
        "CNAME",
        "app.validation.example.net.",
    );

    let before = validator.check(&challenge).await;
    assert_code(&before, LocalCheck::RecordMissing);
    assert_reason(&before, "no TXT record found at app.validation.example.net");

    publish_txt(&bind, "app.validation.example.net", &challenge.value);
    let after = validator.check(&challenge).await;

    assert_code(&after, LocalCheck::Ok);
    assert_eq!(
        after.cname_chain,
        [
            "_dnsauth.app.example.test -> _dnsauth.app.eu.example.test",
            "_dnsauth.app.eu.example.test -> app.validation.example.net",
        ]
    );
}

#[tokio::test]
async fn cname_loop_is_named() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("loop.example.test", ValidationMethod::Dns);
    bind.add_record(
        "_dnsauth.loop.example.test",
        300,
        "CNAME",
        "b.loop.example.net.",
    );
    bind.add_record(
        "b.loop.example.net",
        300,
        "CNAME",
        "_dnsauth.loop.example.test.",
    );

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::RecordMissing);
    assert_reason(
        &result,
        "CNAME loop: _dnsauth.loop.example.test -> b.loop.example.net -> _dnsauth.loop.example.test",
    );
}

/// Builds a chain of `hops` CNAMEs from the challenge's record name to a TXT record.
fn publish_chain(bind: &certkeeper_testkit::Bind9, start: &str, hops: usize, value: &str) {
    let names: Vec<String> = std::iter::once(start.to_owned())
        .chain((1..=hops).map(|hop| format!("hop{hop}.chain.example.net")))
        .collect();
    for pair in names.windows(2) {
        bind.add_record(&pair[0], 300, "CNAME", &format!("{}.", pair[1]));
    }
    publish_txt(bind, names.last().unwrap(), value);
}

#[tokio::test]
async fn cname_chain_of_eight_hops_validates() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("eight.example.test", ValidationMethod::Dns);
    publish_chain(&bind, &challenge.key, 8, &challenge.value);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
    assert_eq!(result.cname_chain.len(), 8);
}

#[tokio::test]
async fn cname_chain_of_nine_hops_fails() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("nine.example.test", ValidationMethod::Dns);
    publish_chain(&bind, &challenge.key, 9, &challenge.value);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::RecordMissing);
    assert_reason(&result, "CNAME chain longer than the limit of 8 hops");
}

/// Twenty long TXT records do not fit in a UDP response, so the lookup must retry over TCP.
#[tokio::test]
async fn large_txt_set_retries_over_tcp() {
    let bind = start_bind();
    let validator = validator(config(&bind));
    let challenge = challenge("large.example.test", ValidationMethod::Dns);
    let commands: Vec<String> = (0..20)
        .map(|index| {
            format!(
                "update add {}. 300 IN TXT \"{index:03}{}\"",
                challenge.key,
                "x".repeat(250)
            )
        })
        .collect();
    bind.update(&challenge.key, &commands.join("\n"));
    publish_txt(&bind, &challenge.key, &challenge.value);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
    assert_eq!(result.check_value.len(), 21);
}
