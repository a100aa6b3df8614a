//! Reissue against a real BIND9: the new order's domain validation, the links between original
//! and reissue, the one reissue of free products, and the revocation cascade from the original.

use std::sync::Arc;
use std::time::Duration;

use certkeeper_ca::UrlScheme;
use certkeeper_core::{CertificateRecord, CertificateStatus, KeyAlgorithm, Product, ProductCatalogue, RevocationPolicy, SerialNumber, ValidationLevel, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_ra::{ApplyRequest, IssuanceService, OrderError, OrderService, OrderSettings, ReissueKey, ReissueRequest, RevokeError, RevokeOutcome, RevokeRequest};
use certkeeper_store::{LogEntry, NewRevocation, SerialStatus, Store};
use certkeeper_testkit::Bind9;
use certkeeper_va::{DnsAutoConfig, ValidationConfig, Validator};
use time::OffsetDateTime;

mod common;

/// Free DV product with domain validation: one reissue.
const FREE_PRODUCT: u32 = 60;
/// Paid product revoked by review, issued without validation so tests issue at once.
const REVIEWED_PRODUCT: u32 = 61;
/// Paid product revoked by domain validation, issued without validation.
const DV_PRODUCT: u32 = 62;

const CRL_SHARDS: u32 = 16;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    orders: OrderService,
    urls: UrlScheme,
}

fn product(id: u32, policy: RevocationPolicy, free: bool, skip_validation: bool) -> Product {
    Product {
        id,
        name: format!("Test {id}"),
        level: ValidationLevel::Dv,
        key_algorithms: vec![KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384],
        validity_days: 90,
        revocation_policy: policy,
        free,
        owner_revocation_not_before: None,
        dangerous_skip_domain_validation: skip_validation,
    }
}

async fn fixture(bind: &Bind9) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("reissue.db")).await.unwrap();
    let master_key = Arc::new(MasterKey::generate().unwrap());
    let urls = UrlScheme::new("http://127.0.0.1:8080", CRL_SHARDS);
    let ca = common::create_ca(&store, &master_key, &urls, OffsetDateTime::now_utc()).await;
    store.create_account("owner", "user", 0).await.unwrap();

    let catalogue = ProductCatalogue::new(vec![
        product(FREE_PRODUCT, RevocationPolicy::DomainValidation, true, false),
        product(REVIEWED_PRODUCT, RevocationPolicy::ReviewOnly, false, true),
        product(DV_PRODUCT, RevocationPolicy::DomainValidation, false, true),
    ])
    .unwrap();
    let config = ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        recheck_interval: Duration::from_secs(1),
        token_lifetime: Duration::from_secs(600),
        ..ValidationConfig::default()
    };
    let issuance = IssuanceService::new(store.clone(), ca, Arc::new(catalogue));
    let validator = Arc::new(Validator::new(config, &DnsAutoConfig::default()).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    let orders = OrderService::new(store.clone(), issuance, validator, master_key, settings);
    Fixture { _dir: dir, store, orders, urls }
}

fn apply_request(domain: &str, product_id: u32) -> ApplyRequest {
    ApplyRequest {
        account_id: 1,
        domain: domain.into(),
        method: ValidationMethod::Dns,
        product_id,
        csr: None,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: "site".into(),
        project_id: 0,
        delete_dns_auto_record: false,
    }
}

fn reissue_request(key: ReissueKey) -> ReissueRequest {
    ReissueRequest { actor: "account:1".into(), method: ValidationMethod::Dns, key, reason: "new key".into() }
}

/// Publishes the TXT record of each pending issuance validation and checks the order, which
/// issues it.
async fn validate(fixture: &Fixture, bind: &Bind9, id: &str) -> CertificateRecord {
    for row in fixture.orders.validations(id).await.unwrap() {
        bind.add_record(&row.record_key, 60, "TXT", &format!("\"{}\"", row.token));
    }
    fixture.orders.check_order(id, OffsetDateTime::now_utc()).await.unwrap();
    let record = fixture.store.certificate(id).await.unwrap().unwrap();
    assert_eq!(record.status, CertificateStatus::Issued, "{}: {}", record.id, record.status_message);
    record
}

/// Returns the SubjectPublicKeyInfo of a stored certificate.
fn public_key(record: &CertificateRecord) -> Vec<u8> {
    let der = record.certificate_der.as_deref().unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(der).unwrap();
    parsed.tbs_certificate.subject_pki.raw.to_vec()
}

#[tokio::test]
async fn reissue_validates_and_links_both() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let applied = fixture.orders.apply(apply_request("www.example.test", FREE_PRODUCT), OffsetDateTime::now_utc()).await.unwrap();
    let original = validate(&fixture, &bind, &applied.id).await;

    let reissue = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap();
    assert_ne!(reissue.id, original.id);
    assert_eq!(reissue.status, CertificateStatus::Reviewing);
    assert_eq!(reissue.status_message, "PENDING-DCV");
    assert_eq!(reissue.reissued_from.as_deref(), Some(original.id.as_str()));
    assert_eq!(reissue.names, original.names);
    assert_eq!(reissue.alias, "site");
    let validations = fixture.orders.validations(&reissue.id).await.unwrap();
    assert_eq!(validations.len(), 1);
    assert_eq!(validations[0].state, "pending");

    let waiting = fixture.store.certificate(&original.id).await.unwrap().unwrap();
    assert_eq!(waiting.status, CertificateStatus::Reissuing);
    assert_eq!(waiting.reissued_by.as_deref(), Some(reissue.id.as_str()));
    let log = fixture.store.operation_log(&original.id).await.unwrap();
    assert_eq!(log.last().unwrap().action, "replace");

    let issued = validate(&fixture, &bind, &reissue.id).await;
    assert_ne!(issued.serial, original.serial);
    assert_eq!(public_key(&issued), public_key(&original), "CsrType original keeps the key");
    let after = fixture.store.certificate(&original.id).await.unwrap().unwrap();
    assert_eq!(after.status, CertificateStatus::Issued, "the original is usable again");
    assert_eq!(after.reissued_by.as_deref(), Some(issued.id.as_str()));
}

#[tokio::test]
async fn free_product_second_reissue_rejected() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let applied = fixture.orders.apply(apply_request("once.example.test", FREE_PRODUCT), OffsetDateTime::now_utc()).await.unwrap();
    let original = validate(&fixture, &bind, &applied.id).await;

    // A reissue that is cancelled does not use up the free reissue.
    let cancelled = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap();
    let in_progress = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(in_progress, OrderError::ReissueInProgress { .. }), "{in_progress}");
    fixture.orders.cancel(&cancelled.id, "account:1", OffsetDateTime::now_utc()).await.unwrap();
    let released = fixture.store.certificate(&original.id).await.unwrap().unwrap();
    assert_eq!(released.status, CertificateStatus::Issued);
    assert_eq!(released.reissued_by, None);

    let online = reissue_request(ReissueKey::Online(KeyAlgorithm::EcdsaP384));
    let reissue = fixture.orders.reissue(&original.id, &online, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(reissue.key_algorithm, KeyAlgorithm::EcdsaP384);
    let issued = validate(&fixture, &bind, &reissue.id).await;
    assert_ne!(public_key(&issued), public_key(&original), "CsrType online makes a new key");

    let count = fixture.store.count_certificates().await.unwrap();
    for id in [&original.id, &issued.id] {
        let error = fixture.orders.reissue(id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap_err();
        assert!(matches!(error, OrderError::AlreadyReissued { .. }), "{id}: {error}");
        assert!(error.to_string().contains("can be reissued once"), "{error}");
        assert!(error.to_string().contains(&issued.id), "{error}");
    }
    assert_eq!(fixture.store.count_certificates().await.unwrap(), count, "a rejected reissue stores nothing");
    let unchanged = fixture.store.certificate(&original.id).await.unwrap().unwrap();
    assert_eq!(unchanged.status, CertificateStatus::Issued);
}

#[tokio::test]
async fn reissue_csr_with_other_names_rejected() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let original = fixture.orders.apply(apply_request("names.example.test", DV_PRODUCT), OffsetDateTime::now_utc()).await.unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["other.example.test".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, "other.example.test");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();

    let count = fixture.store.count_certificates().await.unwrap();
    let error = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Upload(csr.into_bytes())), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(error, OrderError::NamesDiffer { .. }), "{error}");
    assert!(error.to_string().contains("names.example.test"), "{error}");
    assert_eq!(fixture.store.count_certificates().await.unwrap(), count);
    assert_eq!(fixture.store.certificate(&original.id).await.unwrap().unwrap().status, CertificateStatus::Issued);
}

/// Asserts that a certificate is revoked with its own revocation row, in the CRL shard of its
/// serial and in the OCSP status of its serial.
async fn assert_revoked(fixture: &Fixture, record: &CertificateRecord, reason_code: i64) {
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::Revoked, "{}", record.id);
    let serial_hex = stored.serial.as_deref().unwrap();
    let row = fixture.store.revocation_status(serial_hex).await.unwrap().unwrap();
    assert_eq!(row.certificate_id.as_deref(), Some(record.id.as_str()));
    assert_eq!(row.reason_code, reason_code, "{}", record.id);
    assert_eq!(row.not_after, stored.not_after.unwrap());

    let serial = SerialNumber::from_hex(serial_hex).unwrap();
    let shard = i64::from(fixture.urls.crl_shard(&serial));
    assert_eq!(row.shard, shard, "{}", record.id);
    let listed = fixture.store.revoked_for_shard(stored.issuer_id.unwrap(), shard, OffsetDateTime::now_utc().unix_timestamp()).await.unwrap();
    assert!(listed.iter().any(|entry| entry.serial == serial_hex), "{} is in its CRL shard", record.id);
    assert!(matches!(fixture.store.serial_status(serial_hex).await.unwrap(), SerialStatus::Revoked(_)), "{}", record.id);
}

#[tokio::test]
async fn revoking_original_revokes_reissues() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let revocations = fixture.orders.revocations();
    let original = fixture.orders.apply(apply_request("cascade.example.test", REVIEWED_PRODUCT), OffsetDateTime::now_utc()).await.unwrap();
    let first = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(first.status, CertificateStatus::Issued, "the product skips validation");
    // A reissue of the reissue is made from the original.
    let online = reissue_request(ReissueKey::Online(KeyAlgorithm::EcdsaP256));
    let second = fixture.orders.reissue(&first.id, &online, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(second.reissued_from.as_deref(), Some(original.id.as_str()));

    let request = RevokeRequest { actor: "account:1".into(), reason_code: 1, reason: "key leaked".into() };
    let direct = revocations.request(&second.id, &request, OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(direct, RevokeError::Reissued { .. }), "{direct}");
    assert!(direct.to_string().contains(&original.id), "{direct}");
    assert!(fixture.store.revocation_status(second.serial.as_deref().unwrap()).await.unwrap().is_none());
    assert_eq!(fixture.store.certificate(&second.id).await.unwrap().unwrap().status, CertificateStatus::Issued);

    let outcome = revocations.request(&original.id, &request, OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Review { review_id } = outcome else { panic!("expected a review, got {outcome:?}") };
    revocations.approve(review_id, "reviewer", OffsetDateTime::now_utc()).await.unwrap();

    for record in [&original, &first, &second] {
        assert_revoked(&fixture, record, 1).await;
    }
    let log = fixture.store.operation_log(&second.id).await.unwrap();
    assert!(log.last().unwrap().detail.contains(&original.id), "{:?}", log.last());
}

#[tokio::test]
async fn domain_validated_revocation_revokes_reissue() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let revocations = fixture.orders.revocations();
    let original = fixture.orders.apply(apply_request("dv-cascade.example.test", DV_PRODUCT), OffsetDateTime::now_utc()).await.unwrap();
    let reissue = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap();

    let request = RevokeRequest { actor: "account:1".into(), reason_code: 4, reason: String::new() };
    let outcome = revocations.request(&original.id, &request, OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Validations(rows) = outcome else { panic!("expected validations, got {outcome:?}") };
    bind.add_record(&rows[0].record_key, 60, "TXT", &format!("\"{}\"", rows[0].token));
    revocations.check(&original.id, OffsetDateTime::now_utc()).await.unwrap();

    assert_revoked(&fixture, &original, 4).await;
    assert_revoked(&fixture, &reissue, 4).await;
}

#[tokio::test]
async fn revoking_original_cancels_pending_reissue() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let applied = fixture.orders.apply(apply_request("pending.example.test", FREE_PRODUCT), OffsetDateTime::now_utc()).await.unwrap();
    let original = validate(&fixture, &bind, &applied.id).await;
    let reissue = fixture.orders.reissue(&original.id, &reissue_request(ReissueKey::Original), OffsetDateTime::now_utc()).await.unwrap();

    // An operator revokes the original while it is reissuing (status 11).
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let serial_hex = original.serial.clone().unwrap();
    let shard_of = |serial: &str| SerialNumber::from_hex(serial).map(|serial| i64::from(fixture.urls.crl_shard(&serial)));
    let revocation = NewRevocation {
        serial: &serial_hex,
        issuer_id: original.issuer_id.unwrap(),
        shard: shard_of(&serial_hex).unwrap(),
        certificate_id: Some(&original.id),
        revoked_at: now,
        reason_code: 1,
        not_after: original.not_after.unwrap(),
        created_at: now,
    };
    let log = LogEntry { actor: "operator", action: "revoked", detail: "ca revoke", at: now };
    fixture.store.revoke_certificate(&original.id, CertificateStatus::Reissuing, &revocation, &log, &shard_of).await.unwrap();

    assert_revoked(&fixture, &original, 1).await;
    let cancelled = fixture.store.certificate(&reissue.id).await.unwrap().unwrap();
    assert_eq!(cancelled.status, CertificateStatus::Cancelled);
    let validations = fixture.orders.validations(&reissue.id).await.unwrap();
    assert!(validations.iter().all(|row| row.state == "invalid"), "{validations:?}");
}
