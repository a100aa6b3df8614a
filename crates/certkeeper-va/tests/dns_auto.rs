//! DNS_AUTO: TSIG-signed dynamic updates against a real BIND9.

mod common;

use certkeeper_core::ValidationMethod;
use certkeeper_testkit::{Bind9, TSIG_KEY_NAME};
use certkeeper_va::{
    DnsAutoConfig, DnsAutoError, DnsAutoPublish, DnsAutoUpdater, DnsAutoZone, LocalCheck, Secret,
    TsigAlgorithmName, Validator,
};
use common::*;

fn zone(bind: &Bind9, zone: &str, secret: &str) -> DnsAutoZone {
    DnsAutoZone {
        zone: zone.to_owned(),
        server: bind.addr(),
        tsig_key_name: TSIG_KEY_NAME.to_owned(),
        tsig_algorithm: TsigAlgorithmName::HmacSha256,
        tsig_secret: Some(Secret::new(secret)),
        tsig_secret_file: None,
    }
}

#[tokio::test]
async fn dns_auto_publishes_validates_and_removes() {
    let bind = start_bind();
    let dns_auto = DnsAutoConfig {
        zones: vec![zone(&bind, "example.test", bind.tsig_secret())],
    };
    let validator = Validator::new(config(&bind), &dns_auto).unwrap();
    let challenge = challenge("www.example.test", ValidationMethod::DnsAuto);

    let published = validator.publish_dns_auto(&challenge).await.unwrap();
    assert_eq!(
        published,
        DnsAutoPublish::Published {
            zone: "example.test".into(),
            server: bind.addr(),
            record_name: "_dnsauth.www.example.test".into(),
        }
    );
    assert_eq!(
        bind.query(&challenge.key, "TXT"),
        [format!("\"{}\"", challenge.value)]
    );

    let result = validator.check(&challenge).await;
    assert_code(&result, LocalCheck::Ok);

    assert!(validator.remove_dns_auto(&challenge).await.unwrap());
    assert!(bind.query(&challenge.key, "TXT").is_empty());
    let after = validator.check(&challenge).await;
    assert_code(&after, LocalCheck::RecordMissing);
}

#[tokio::test]
async fn dns_auto_remove_keeps_other_values() {
    let bind = start_bind();
    let dns_auto = DnsAutoConfig {
        zones: vec![zone(&bind, "example.test", bind.tsig_secret())],
    };
    let validator = Validator::new(config(&bind), &dns_auto).unwrap();
    let wildcard = challenge("*.example.test", ValidationMethod::DnsAuto);
    let apex = challenge("example.test", ValidationMethod::DnsAuto);

    validator.publish_dns_auto(&wildcard).await.unwrap();
    validator.publish_dns_auto(&apex).await.unwrap();
    validator.remove_dns_auto(&wildcard).await.unwrap();

    assert_eq!(
        bind.query(&apex.key, "TXT"),
        [format!("\"{}\"", apex.value)]
    );
}

#[tokio::test]
async fn dns_auto_secret_file_is_read() {
    let bind = start_bind();
    let file = bind.dir().join("tsig.secret");
    std::fs::write(&file, format!("{}\n", bind.tsig_secret())).unwrap();
    let zone = DnsAutoZone {
        tsig_secret: None,
        tsig_secret_file: Some(file),
        ..zone(&bind, "example.net", "")
    };
    let updater = DnsAutoUpdater::new(&DnsAutoConfig { zones: vec![zone] }).unwrap();
    let challenge = challenge("shop.example.net", ValidationMethod::DnsAuto);

    let published = updater.publish(&challenge).await.unwrap();

    assert!(
        matches!(published, DnsAutoPublish::Published { .. }),
        "{published:?}"
    );
    assert_eq!(bind.query(&challenge.key, "TXT").len(), 1);
}

#[tokio::test]
async fn dns_auto_wrong_key_is_tsig_rejected() {
    let bind = start_bind();
    let wrong = "d3Jvbmcgc2VjcmV0IGZvciB0aGUgdGVzdCBrZXkgISE=";
    let updater = DnsAutoUpdater::new(&DnsAutoConfig {
        zones: vec![zone(&bind, "example.test", wrong)],
    })
    .unwrap();
    let challenge = challenge("www.example.test", ValidationMethod::DnsAuto);

    let error = updater.publish(&challenge).await.unwrap_err();

    assert!(
        matches!(error, DnsAutoError::TsigRejected { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("rejected the TSIG key \"{TSIG_KEY_NAME}\"")),
        "{message}"
    );
    assert!(
        !message.contains(wrong),
        "the secret must not appear: {message}"
    );
    assert!(bind.query(&challenge.key, "TXT").is_empty());
}

#[tokio::test]
async fn dns_auto_unconfigured_zone_falls_back() {
    let bind = start_bind();
    let updater = DnsAutoUpdater::new(&DnsAutoConfig {
        zones: vec![zone(&bind, "example.test", bind.tsig_secret())],
    })
    .unwrap();
    let challenge = challenge("www.example.net", ValidationMethod::DnsAuto);

    let published = updater.publish(&challenge).await.unwrap();

    let DnsAutoPublish::ManualFallback { reason } = published else {
        panic!("expected a manual fallback, got {published:?}");
    };
    assert!(
        reason.contains("_dnsauth.www.example.net is in none of the DNS_AUTO zones (example.test)"),
        "{reason}"
    );
    assert!(!updater.remove(&challenge).await.unwrap());
}

#[tokio::test]
async fn dns_auto_needs_one_secret_source() {
    let bind = start_bind();
    let zone = DnsAutoZone {
        tsig_secret: None,
        ..zone(&bind, "example.test", "")
    };

    let error = DnsAutoUpdater::new(&DnsAutoConfig { zones: vec![zone] }).unwrap_err();

    assert_eq!(
        error.to_string(),
        "dns_auto zone example.test: set exactly one of tsig_secret and tsig_secret_file"
    );
}

#[tokio::test]
async fn dns_auto_rejects_invalid_base64() {
    let bind = start_bind();
    let zone = zone(&bind, "example.test", "not base64!");

    let error = DnsAutoUpdater::new(&DnsAutoConfig { zones: vec![zone] }).unwrap_err();

    assert!(
        matches!(error, DnsAutoError::SecretEncoding { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("not base64!"));
}
