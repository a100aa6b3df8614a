//! The order flow against a real BIND9 and nginx: application, DNS, FILE and automatic DNS
//! validation, scheduled rechecks, expiry, CAA, and bad applications.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use certkeeper_ca::{CertificateAuthority, UrlScheme};
use certkeeper_core::{CertificateStatus, KeyAlgorithm, ProductCatalogue, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_pki::profile::CaProfile;
use certkeeper_ra::{ApplyRequest, IssuanceService, OrderError, OrderService, OrderSettings};
use certkeeper_store::{NewIssuer, Store};
use certkeeper_testkit::{Bind9, Nginx, TSIG_KEY_NAME};
use certkeeper_va::{DnsAutoConfig, DnsAutoZone, Secret, TsigAlgorithmName, ValidationConfig, Validator};
use time::OffsetDateTime;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    ca: Arc<CertificateAuthority>,
    master_key: Arc<MasterKey>,
    root_pem: String,
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

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("orders.db")).await.unwrap();
    let master_key = MasterKey::generate().unwrap();
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let profile = CaProfile {
        country: "US".into(),
        organization: "certkeeper test".into(),
        root_common_name: "Test Root".into(),
        intermediate_common_name: "Test Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let new_ca = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &urls, &master_key, OffsetDateTime::now_utc()).unwrap();
    let (_, intermediate_id) = store.insert_ca_pair(&new_issuer("root", &new_ca.root), &new_issuer("intermediate", &new_ca.intermediate)).await.unwrap();
    let ca = CertificateAuthority::load(&new_ca.root, &new_ca.intermediate, intermediate_id, &master_key, urls).unwrap();
    let root_pem = certkeeper_pki::to_pem("CERTIFICATE", &new_ca.root.certificate_der);
    let account = store.create_account("applicant", "user", 0).await.unwrap();
    assert_eq!(account, 1, "the orders below belong to account 1");
    Fixture { _dir: dir, store, ca: Arc::new(ca), master_key: Arc::new(master_key), root_pem }
}

fn validation_config(bind: &Bind9, http_port: u16) -> ValidationConfig {
    ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        http_port,
        recheck_interval: Duration::from_secs(1),
        ..ValidationConfig::default()
    }
}

fn service(fixture: &Fixture, config: ValidationConfig, dns_auto: &DnsAutoConfig) -> OrderService {
    let issuance = IssuanceService::new(fixture.store.clone(), Arc::clone(&fixture.ca), Arc::new(ProductCatalogue::default()));
    let validator = Arc::new(Validator::new(config, dns_auto).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    OrderService::new(fixture.store.clone(), issuance, validator, Arc::clone(&fixture.master_key), settings)
}

fn apply_request(domain: &str, method: ValidationMethod) -> ApplyRequest {
    ApplyRequest {
        account_id: 1,
        domain: domain.into(),
        method,
        product_id: certkeeper_core::product::FREE_DV_PRODUCT_ID,
        csr: None,
        key_algorithm: KeyAlgorithm::Rsa2048,
        alias: String::new(),
        project_id: 0,
        delete_dns_auto_record: true,
    }
}

/// Writes the issued leaf and the intermediate, then runs `openssl verify` against the root.
fn assert_verifies(fixture: &Fixture, der: &[u8], dir: &Path) {
    std::fs::write(dir.join("root.pem"), &fixture.root_pem).unwrap();
    std::fs::write(dir.join("chain.pem"), certkeeper_pki::to_pem("CERTIFICATE", fixture.ca.intermediate_der())).unwrap();
    std::fs::write(dir.join("leaf.pem"), certkeeper_pki::to_pem("CERTIFICATE", der)).unwrap();
    let output = std::process::Command::new("openssl")
        .args(["verify", "-CAfile", "root.pem", "-untrusted", "chain.pem", "leaf.pem"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test]
async fn dns_order_issues_after_record_is_published() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let orders = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig::default());
    let now = OffsetDateTime::now_utc();

    let record = orders.apply(apply_request("www.example.test", ValidationMethod::Dns), now).await.unwrap();
    assert_eq!(record.status, CertificateStatus::Reviewing);
    assert_eq!(record.status_message, "PENDING-DCV");
    let validations = orders.validations(&record.id).await.unwrap();
    assert_eq!(validations.len(), 1);
    assert_eq!(validations[0].record_key, "_dnsauth.www.example.test");

    let before = orders.check_order(&record.id, now).await.unwrap();
    assert_eq!(before[0].state, "pending");
    assert_eq!(before[0].local_check, -1, "{}", before[0].reason);

    bind.add_record(&validations[0].record_key, 60, "TXT", &format!("\"{}\"", validations[0].token));
    let after = orders.check_order(&record.id, now).await.unwrap();
    assert_eq!(after[0].state, "valid", "{}", after[0].reason);

    let issued = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(issued.status, CertificateStatus::Issued);
    let dir = tempfile::tempdir().unwrap();
    assert_verifies(&fixture, issued.certificate_der.as_deref().unwrap(), dir.path());
    assert!(issued.sealed_private_key.is_some(), "the generated key is kept, sealed");
    let log: Vec<String> = fixture.store.operation_log(&record.id).await.unwrap().into_iter().map(|row| row.action).collect();
    assert_eq!(log, ["apply", "issued"]);
}

#[tokio::test]
async fn file_order_survives_restart_and_issues() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let first = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig::default());
    let record = first.apply(apply_request("shop.example.test", ValidationMethod::File), OffsetDateTime::now_utc()).await.unwrap();
    let validation = first.validations(&record.id).await.unwrap().remove(0);
    assert!(validation.path.starts_with("/.well-known/pki-validation/"), "{}", validation.path);
    drop(first);

    // A second service over the same store stands for a restart: the order is in the store.
    let nginx = Nginx::builder().http_file("shop.example.test", &validation.path, format!("{}\n", validation.token)).start();
    let second = service(&fixture, validation_config(&bind, nginx.http_port()), &DnsAutoConfig::default());
    let rows = second.check_order(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(rows[0].state, "valid", "{}", rows[0].reason);
    let issued = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(issued.status, CertificateStatus::Issued);
}

#[tokio::test]
async fn dns_auto_order_publishes_and_removes_record() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let zone = DnsAutoZone {
        zone: "example.test".into(),
        server: bind.addr(),
        tsig_key_name: TSIG_KEY_NAME.to_owned(),
        tsig_algorithm: TsigAlgorithmName::HmacSha256,
        tsig_secret: Some(Secret::new(bind.tsig_secret())),
        tsig_secret_file: None,
    };
    let orders = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig { zones: vec![zone] });
    let record = orders.apply(apply_request("api.example.test", ValidationMethod::DnsAuto), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(record.status, CertificateStatus::DnsRecordAdded);
    assert_eq!(bind.query("_dnsauth.api.example.test", "TXT").len(), 1);

    orders.check_order(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    let issued = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(issued.status, CertificateStatus::Issued);
    assert!(bind.query("_dnsauth.api.example.test", "TXT").is_empty(), "the record is removed after issuance");

    let keep = ApplyRequest { delete_dns_auto_record: false, ..apply_request("keep.example.test", ValidationMethod::DnsAuto) };
    let record = orders.apply(keep, OffsetDateTime::now_utc()).await.unwrap();
    orders.check_order(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(fixture.store.certificate(&record.id).await.unwrap().unwrap().status, CertificateStatus::Issued);
    assert_eq!(bind.query("_dnsauth.keep.example.test", "TXT").len(), 1, "without DeleteDnsAutoRecord the record stays");
}

#[tokio::test]
async fn dns_auto_without_zone_falls_back_to_manual_dns() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let orders = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig::default());
    let record = orders.apply(apply_request("www.example.test", ValidationMethod::DnsAuto), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(record.status, CertificateStatus::Reviewing);
    assert!(record.status_message.contains("publish the TXT record yourself"), "{}", record.status_message);
}

#[tokio::test]
async fn scheduler_rechecks_pending_orders() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let orders = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig::default());
    let record = orders.apply(apply_request("www.example.test", ValidationMethod::Dns), OffsetDateTime::now_utc()).await.unwrap();
    let validation = orders.validations(&record.id).await.unwrap().remove(0);
    bind.add_record(&validation.record_key, 60, "TXT", &format!("\"{}\"", validation.token));

    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::clone(&stop);
    let scheduler = tokio::spawn(orders.clone().run_scheduler(async move { stopped.notified().await }));
    let mut status = CertificateStatus::Reviewing;
    for _ in 0..100 {
        status = fixture.store.certificate(&record.id).await.unwrap().unwrap().status;
        if status == CertificateStatus::Issued {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.notify_one();
    scheduler.await.unwrap();
    assert_eq!(status, CertificateStatus::Issued, "the scheduler issued the certificate without a manual check");
}

#[tokio::test]
async fn expired_token_fails_the_order() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let config = ValidationConfig { token_lifetime: Duration::from_secs(1), ..validation_config(&bind, 80) };
    let orders = service(&fixture, config, &DnsAutoConfig::default());
    let now = OffsetDateTime::now_utc();
    let record = orders.apply(apply_request("www.example.test", ValidationMethod::Dns), now).await.unwrap();
    let rows = orders.check_order(&record.id, now + time::Duration::seconds(2)).await.unwrap();
    assert_eq!(rows[0].state, "expired");
    let failed = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(failed.status, CertificateStatus::ReviewFailed);
    assert!(failed.status_message.contains("expired"), "{}", failed.status_message);
}

#[tokio::test]
async fn caa_for_another_issuer_fails_the_order() {
    let bind = Bind9::builder().zone("example.test").record("example.test. 300 IN CAA 0 issue \"other-ca.example\"").start();
    let fixture = fixture().await;
    let orders = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig::default());
    let record = orders.apply(apply_request("www.example.test", ValidationMethod::Dns), OffsetDateTime::now_utc()).await.unwrap();
    let validation = orders.validations(&record.id).await.unwrap().remove(0);
    bind.add_record(&validation.record_key, 60, "TXT", &format!("\"{}\"", validation.token));
    orders.check_order(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    let failed = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(failed.status, CertificateStatus::ReviewFailed);
    assert!(failed.status_message.contains("other-ca.example"), "{}", failed.status_message);
}

#[tokio::test]
async fn bad_applications_store_nothing() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture().await;
    let orders = service(&fixture, validation_config(&bind, 80), &DnsAutoConfig::default());
    let cases = [
        ("com", ValidationMethod::Dns, "single label"),
        ("co.uk", ValidationMethod::Dns, "public suffix"),
        ("192.0.2.1", ValidationMethod::Dns, "IP address"),
        ("bad_name!.example.test", ValidationMethod::Dns, "contains"),
        ("*.example.test", ValidationMethod::File, "DNS"),
    ];
    for (domain, method, expected) in cases {
        let error = orders.apply(apply_request(domain, method), OffsetDateTime::now_utc()).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{domain}: {error}");
        assert!(!matches!(error, OrderError::Store(_)), "{domain}: {error}");
    }
    let long = format!("{}.example.test", "a".repeat(250));
    assert!(orders.apply(apply_request(&long, ValidationMethod::Dns), OffsetDateTime::now_utc()).await.is_err());
    assert_eq!(fixture.store.count_certificates().await.unwrap(), 0, "nothing was stored");
}
