//! Renewal against real BIND9 and nginx: the links between a certificate and its renewal, and
//! the rules that reject a renewal without storing anything. Automatic renewal runs by
//! DNS_AUTO, by a validation file that is still served, and through a multi-year term.

use std::sync::Arc;
use std::time::Duration;

use certkeeper_ca::{CertificateAuthority, UrlScheme};
use certkeeper_core::{CertificateRecord, CertificateStatus, KeyAlgorithm, Product, ProductCatalogue, RevocationPolicy, ValidationLevel, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_pki::profile::CaProfile;
use certkeeper_ra::{
    ApplyRequest, AutoRenewSettings, AutoRenewal, IssuanceService, OrderError, OrderOptions, OrderService, OrderSettings, RevokeError,
    RevokeRequest,
};
use certkeeper_store::{NewIssuer, Store};
use certkeeper_testkit::{Bind9, Nginx, TSIG_KEY_NAME};
use certkeeper_va::{DnsAutoConfig, DnsAutoZone, Secret, TsigAlgorithmName, ValidationConfig, Validator};
use time::OffsetDateTime;

/// Product issued without domain validation, so a test issues at any time it chooses.
const INSTANT_PRODUCT: u32 = 70;
/// Product with domain validation.
const VALIDATED_PRODUCT: u32 = 71;

const DAY: i64 = 24 * 3600;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    orders: OrderService,
}

fn new_issuer<'a>(role: &'a str, sealed: &'a certkeeper_ca::SealedIssuer) -> NewIssuer<'a> {
    NewIssuer {
        role,
        parent_id: None,
        subject: role,
        key_algorithm: "ecdsa-p256",
        certificate_der: &sealed.certificate_der,
        sealed_key: &sealed.sealed_key,
        sha256: role,
        not_before: 0,
        not_after: 0,
        created_at: 0,
    }
}

fn product(id: u32, skip_validation: bool) -> Product {
    Product {
        id,
        name: format!("Test {id}"),
        level: ValidationLevel::Dv,
        key_algorithms: vec![KeyAlgorithm::EcdsaP256],
        validity_days: 90,
        revocation_policy: RevocationPolicy::ReviewOnly,
        free: false,
        owner_revocation_not_before: None,
        dangerous_skip_domain_validation: skip_validation,
    }
}

async fn fixture(bind: &Bind9, http_port: u16) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("renewal.db")).await.unwrap();
    let master_key = Arc::new(MasterKey::generate().unwrap());
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let profile = CaProfile {
        country: "US".into(),
        organization: "certkeeper test".into(),
        root_common_name: "Test Root".into(),
        intermediate_common_name: "Test Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    // The CA is made 200 days early, so certificates issued in the past chain to it.
    let ca_time = OffsetDateTime::now_utc() - time::Duration::days(200);
    let new_ca = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &urls, &master_key, ca_time).unwrap();
    let (_, intermediate_id) =
        store.insert_ca_pair(&new_issuer("root", &new_ca.root), &new_issuer("intermediate", &new_ca.intermediate)).await.unwrap();
    let ca = Arc::new(CertificateAuthority::load(&new_ca.root, &new_ca.intermediate, intermediate_id, &master_key, urls).unwrap());
    store.create_account("owner", "user", 0).await.unwrap();

    let catalogue = ProductCatalogue::new(vec![product(INSTANT_PRODUCT, true), product(VALIDATED_PRODUCT, false)]).unwrap();
    let config = ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        recheck_interval: Duration::from_secs(1),
        token_lifetime: Duration::from_secs(600),
        http_port,
        ..ValidationConfig::default()
    };
    let zone = DnsAutoZone {
        zone: "auto.test".into(),
        server: bind.addr(),
        tsig_key_name: TSIG_KEY_NAME.to_owned(),
        tsig_algorithm: TsigAlgorithmName::HmacSha256,
        tsig_secret: Some(Secret::new(bind.tsig_secret())),
        tsig_secret_file: None,
    };
    let issuance = IssuanceService::new(store.clone(), ca, Arc::new(catalogue));
    let validator = Arc::new(Validator::new(config, &DnsAutoConfig { zones: vec![zone] }).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    let orders = OrderService::new(store.clone(), issuance, validator, master_key, settings);
    Fixture { _dir: dir, store, orders }
}

fn apply_request(domain: &str, method: ValidationMethod, product_id: u32) -> ApplyRequest {
    ApplyRequest {
        account_id: 1,
        domain: domain.into(),
        method,
        product_id,
        csr: None,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: String::new(),
        project_id: 0,
        delete_dns_auto_record: false,
    }
}

fn days_ago(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::days(days)
}

fn settings() -> AutoRenewSettings {
    AutoRenewSettings { window: Duration::from_secs(30 * DAY as u64), interval: Duration::from_secs(3600) }
}

/// Issues a certificate of the instant product at `when`, with `options`.
async fn issue_at(fixture: &Fixture, domain: &str, options: OrderOptions, when: OffsetDateTime) -> CertificateRecord {
    let record = fixture.orders.apply_with(apply_request(domain, ValidationMethod::Dns, INSTANT_PRODUCT), options, when).await.unwrap();
    assert_eq!(record.status, CertificateStatus::Issued);
    record
}

#[tokio::test]
async fn renewal_links_both_and_blocks_revocation() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, 80).await;
    let old = issue_at(&fixture, "renew.example.test", OrderOptions::default(), days_ago(80)).await;

    let request = apply_request("renew.example.test", ValidationMethod::Dns, INSTANT_PRODUCT);
    let renewal = fixture.orders.renew(&old.id, request.clone(), false, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(renewal.status, CertificateStatus::Issued);
    assert_eq!(renewal.renewed_from.as_deref(), Some(old.id.as_str()));
    let linked = fixture.store.certificate(&old.id).await.unwrap().unwrap();
    assert_eq!(linked.renewal_id.as_deref(), Some(renewal.id.as_str()));
    assert_eq!(linked.status, CertificateStatus::Issued);
    assert!(linked.awaits_renewal(OffsetDateTime::now_utc().unix_timestamp()));
    let log = fixture.store.operation_log(&old.id).await.unwrap();
    assert_eq!(log.last().unwrap().action, "renew");

    let revoke = RevokeRequest { actor: "account:1".into(), reason_code: 0, reason: "retired".into() };
    let error = fixture.orders.revocations().request(&old.id, &revoke, OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(error, RevokeError::AwaitingRenewal { .. }), "{error}");
    assert!(error.to_string().contains(&renewal.id), "{error}");

    let count = fixture.store.count_certificates().await.unwrap();
    let again = fixture.orders.renew(&old.id, request, false, OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(again, OrderError::AlreadyRenewed { .. }), "{again}");
    assert!(again.to_string().contains(&renewal.id), "{again}");
    assert_eq!(fixture.store.count_certificates().await.unwrap(), count);
}

#[tokio::test]
async fn renewal_rules_reject_without_changes() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, 80).await;
    let fresh = issue_at(&fixture, "fresh.example.test", OrderOptions::default(), OffsetDateTime::now_utc()).await;
    let expired = issue_at(&fixture, "expired.example.test", OrderOptions::default(), days_ago(100)).await;
    let due = issue_at(&fixture, "due.example.test", OrderOptions::default(), days_ago(80)).await;

    let cases: Vec<(&CertificateRecord, &str, &str)> = vec![
        (&fresh, "fresh.example.test", "expires in 89 days; renewal opens 30 days before expiry"),
        (&expired, "expired.example.test", "has expired"),
        (&due, "other.example.test", "a renewal keeps the domain"),
    ];
    let count = fixture.store.count_certificates().await.unwrap();
    for (old, domain, expected) in &cases {
        let request = apply_request(domain, ValidationMethod::Dns, INSTANT_PRODUCT);
        let error = fixture.orders.renew(&old.id, request, false, OffsetDateTime::now_utc()).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{}: {error}", old.id);
        let stored = fixture.store.certificate(&old.id).await.unwrap().unwrap();
        assert_eq!(stored.renewal_id, None, "{}", old.id);
    }
    let missing = fixture.orders.renew("zzzzzzzz", apply_request("due.example.test", ValidationMethod::Dns, INSTANT_PRODUCT), false, OffsetDateTime::now_utc()).await;
    assert!(matches!(missing, Err(OrderError::NotFound { .. })), "{missing:?}");
    assert_eq!(fixture.store.count_certificates().await.unwrap(), count, "a rejected renewal stores nothing");
}

#[tokio::test]
async fn cancelled_renewal_releases_certificate() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, 80).await;
    let old = issue_at(&fixture, "cancel.example.test", OrderOptions::default(), days_ago(75)).await;

    let request = apply_request("cancel.example.test", ValidationMethod::Dns, VALIDATED_PRODUCT);
    let pending = fixture.orders.renew(&old.id, request.clone(), false, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(pending.status, CertificateStatus::Reviewing);
    fixture.orders.cancel(&pending.id, "account:1", OffsetDateTime::now_utc()).await.unwrap();

    let released = fixture.store.certificate(&old.id).await.unwrap().unwrap();
    assert_eq!(released.renewal_id, None);
    assert!(!released.awaits_renewal(OffsetDateTime::now_utc().unix_timestamp()));
    let retry = fixture.orders.renew(&old.id, request, false, OffsetDateTime::now_utc()).await.unwrap();
    assert_ne!(retry.id, pending.id);
}

#[tokio::test]
async fn dns_auto_certificate_renews_itself() {
    let bind = Bind9::start(&["example.test", "auto.test"]);
    let fixture = fixture(&bind, 80).await;
    let issued_at = days_ago(70);
    let options = OrderOptions { auto_renew: true, ..OrderOptions::default() };
    let order = fixture.orders.apply_with(apply_request("www.auto.test", ValidationMethod::DnsAuto, VALIDATED_PRODUCT), options, issued_at).await.unwrap();
    fixture.orders.check_order(&order.id, issued_at).await.unwrap();
    let old = fixture.store.certificate(&order.id).await.unwrap().unwrap();
    assert_eq!(old.status, CertificateStatus::Issued, "{}", old.status_message);

    // Twenty days before expiry the certificate is due; sixty days before it is not.
    let early = fixture.orders.renew_due(&settings(), days_ago(30)).await.unwrap();
    assert!(early.is_empty(), "{early:?}");
    let outcomes = fixture.orders.renew_due(&settings(), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let AutoRenewal::Renewed { renewal, .. } = &outcomes[0] else { panic!("expected a renewal, got {outcomes:?}") };
    let renewed = fixture.store.certificate(renewal).await.unwrap().unwrap();
    assert_eq!(renewed.status, CertificateStatus::Issued, "{}", renewed.status_message);
    assert_eq!(renewed.validation_method, ValidationMethod::DnsAuto);
    assert!(renewed.auto_renew, "the renewal keeps AutoRenewFlag");
    assert_eq!(renewed.renewed_from.as_deref(), Some(old.id.as_str()));

    let again = fixture.orders.renew_due(&settings(), OffsetDateTime::now_utc()).await.unwrap();
    assert!(again.is_empty(), "a renewed certificate is not renewed twice: {again:?}");
}

#[tokio::test]
async fn served_file_renews_and_missing_file_skips() {
    let bind = Bind9::start(&["example.test"]);
    let nginx = Nginx::builder()
        .http_file("files.example.test", "/index.html", "site")
        .http_file("gone.example.test", "/index.html", "site")
        .start();
    for host in ["files.example.test", "gone.example.test"] {
        bind.add_record(host, 60, "A", "127.0.0.1");
    }
    let fixture = fixture(&bind, nginx.http_port()).await;
    let issued_at = days_ago(70);
    let mut old_ids = Vec::new();
    for host in ["files.example.test", "gone.example.test"] {
        let options = OrderOptions { auto_renew: true, ..OrderOptions::default() };
        let order = fixture.orders.apply_with(apply_request(host, ValidationMethod::File, VALIDATED_PRODUCT), options, issued_at).await.unwrap();
        let row = &fixture.orders.validations(&order.id).await.unwrap()[0];
        let file = nginx.dir().join("sites/http").join(host).join(row.path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &row.token).unwrap();
        fixture.orders.check_order(&order.id, issued_at).await.unwrap();
        let issued = fixture.store.certificate(&order.id).await.unwrap().unwrap();
        assert_eq!(issued.status, CertificateStatus::Issued, "{host}: {}", issued.status_message);
        if host == "gone.example.test" {
            std::fs::remove_file(&file).unwrap();
        }
        old_ids.push(order.id);
    }

    let outcomes = fixture.orders.renew_due(&settings(), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    let renewed = outcomes.iter().find_map(|outcome| match outcome {
        AutoRenewal::Renewed { old, renewal } if *old == old_ids[0] => Some(renewal.clone()),
        _ => None,
    });
    let renewal = fixture.store.certificate(&renewed.expect("the served file renews")).await.unwrap().unwrap();
    assert_eq!(renewal.status, CertificateStatus::Issued, "{}", renewal.status_message);
    let skipped = outcomes.iter().any(|outcome| matches!(outcome, AutoRenewal::Skipped { old, reason } if *old == old_ids[1] && reason.contains("no longer served")));
    assert!(skipped, "{outcomes:?}");
    let gone = fixture.store.certificate(&old_ids[1]).await.unwrap().unwrap();
    assert_eq!(gone.renewal_id, None, "a skipped renewal stores nothing");
}

#[tokio::test]
async fn multi_year_term_ends_with_last_certificate() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, 80).await;
    let term_end = OffsetDateTime::now_utc().unix_timestamp() + 40 * DAY;
    let options = OrderOptions { term_ends_at: Some(term_end), ..OrderOptions::default() };
    let first = issue_at(&fixture, "term.example.test", options, days_ago(80)).await;
    assert!(!first.auto_renew);

    let outcomes = fixture.orders.renew_due(&settings(), OffsetDateTime::now_utc()).await.unwrap();
    let [AutoRenewal::Renewed { renewal, .. }] = outcomes.as_slice() else { panic!("expected one renewal, got {outcomes:?}") };
    let last = fixture.store.certificate(renewal).await.unwrap().unwrap();
    assert_eq!(last.not_after, Some(term_end), "the last certificate ends with the term");
    assert_eq!(last.term_ends_at, Some(term_end));

    let later = OffsetDateTime::from_unix_timestamp(term_end - 5 * DAY).unwrap();
    let after_term = fixture.orders.renew_due(&settings(), later).await.unwrap();
    assert!(after_term.is_empty(), "no renewal beyond the term: {after_term:?}");
}

#[tokio::test]
async fn manual_dns_certificate_is_skipped() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, 80).await;
    let issued_at = days_ago(80);
    let options = OrderOptions { auto_renew: true, ..OrderOptions::default() };
    let order = fixture.orders.apply_with(apply_request("manual.example.test", ValidationMethod::Dns, VALIDATED_PRODUCT), options, issued_at).await.unwrap();
    let row = &fixture.orders.validations(&order.id).await.unwrap()[0];
    bind.add_record(&row.record_key, 60, "TXT", &format!("\"{}\"", row.token));
    fixture.orders.check_order(&order.id, issued_at).await.unwrap();

    let outcomes = fixture.orders.renew_due(&settings(), OffsetDateTime::now_utc()).await.unwrap();
    let [AutoRenewal::Skipped { reason, .. }] = outcomes.as_slice() else { panic!("expected a skip, got {outcomes:?}") };
    assert!(reason.contains("DNS needs the owner"), "{reason}");
    assert_eq!(fixture.store.certificate(&order.id).await.unwrap().unwrap().renewal_id, None);
}
