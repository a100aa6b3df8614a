//! Owner revocation requests against a real BIND9: domain validation, token expiry, reviews,
//! reason codes, and each rule that rejects a request without changing anything.

use std::sync::Arc;
use std::time::Duration;

use certkeeper_ca::UrlScheme;
use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm, Product, ProductCatalogue, RevocationPolicy, ValidationLevel, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_ra::revocation::PURPOSE_REVOKE;
use certkeeper_ra::{ApplyRequest, IssuanceService, OrderService, OrderSettings, RevocationService, RevokeError, RevokeOutcome, RevokeRequest};
use certkeeper_store::{LogEntry, Store};
use certkeeper_testkit::{Bind9, TSIG_KEY_NAME};
use certkeeper_va::{DnsAutoConfig, DnsAutoZone, Secret, TsigAlgorithmName, ValidationConfig, Validator};
use time::OffsetDateTime;

mod common;

const DV_PRODUCT: u32 = 50;
const REVIEWED_PRODUCT: u32 = 51;
const OPERATOR_ONLY_PRODUCT: u32 = 52;
const VALIDATED_PRODUCT: u32 = 53;
const LETTER_PRODUCT: u32 = 54;
const FORM_PRODUCT: u32 = 55;
const VALIDATED_LETTER_PRODUCT: u32 = 56;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    orders: OrderService,
    revocations: RevocationService,
}

fn test_product(id: u32, policy: RevocationPolicy, owner_revocation_not_before: Option<time::Date>) -> Product {
    Product {
        id,
        name: format!("Test {id}"),
        level: ValidationLevel::Dv,
        key_algorithms: vec![KeyAlgorithm::EcdsaP256],
        validity_days: 90,
        revocation_policy: policy,
        free: false,
        owner_revocation_not_before,
        dangerous_skip_domain_validation: true,
    }
}

async fn fixture(bind: &Bind9, token_lifetime: Duration) -> Fixture {
    fixture_with_dns_auto(bind, token_lifetime, &DnsAutoConfig::default()).await
}

async fn fixture_with_dns_auto(bind: &Bind9, token_lifetime: Duration, dns_auto: &DnsAutoConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("revocation.db")).await.unwrap();
    let master_key = Arc::new(MasterKey::generate().unwrap());
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let ca = common::create_ca(&store, &master_key, &urls, OffsetDateTime::now_utc()).await;
    store.create_account("owner", "user", 0).await.unwrap();

    let catalogue = ProductCatalogue::new(vec![
        test_product(DV_PRODUCT, RevocationPolicy::DomainValidation, None),
        test_product(REVIEWED_PRODUCT, RevocationPolicy::ReviewOnly, None),
        test_product(OPERATOR_ONLY_PRODUCT, RevocationPolicy::DomainValidation, Some(time::macros::date!(2100 - 01 - 01))),
        Product { dangerous_skip_domain_validation: false, ..test_product(VALIDATED_PRODUCT, RevocationPolicy::DomainValidation, None) },
        test_product(LETTER_PRODUCT, RevocationPolicy::ConfirmationLetter, None),
        test_product(FORM_PRODUCT, RevocationPolicy::ApplicationForm, None),
        Product {
            dangerous_skip_domain_validation: false,
            ..test_product(VALIDATED_LETTER_PRODUCT, RevocationPolicy::ConfirmationLetter, None)
        },
    ])
    .unwrap();
    let config = ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        recheck_interval: Duration::from_secs(1),
        token_lifetime,
        ..ValidationConfig::default()
    };
    let issuance = IssuanceService::new(store.clone(), ca, Arc::new(catalogue));
    let validator = Arc::new(Validator::new(config, dns_auto).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    let orders = OrderService::new(store.clone(), issuance, validator, master_key, settings);
    let revocations = orders.revocations();
    Fixture { _dir: dir, store, orders, revocations }
}

/// Issues a certificate for `domain` at once, through a product that skips domain validation.
async fn issue(fixture: &Fixture, domain: &str, product_id: u32) -> CertificateRecord {
    let request = ApplyRequest {
        account_id: 1,
        domain: domain.into(),
        method: ValidationMethod::Dns,
        product_id,
        csr: None,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: String::new(),
        project_id: 0,
        delete_dns_auto_record: false,
    };
    let record = fixture.orders.apply(request, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(record.status, CertificateStatus::Issued);
    record
}

fn owner_request(reason_code: i64, reason: &str) -> RevokeRequest {
    RevokeRequest { actor: "account:1".into(), reason_code, reason: reason.into() }
}

/// Asserts that a certificate is still issued, with no revocation request, validation or
/// revocation row.
async fn assert_unchanged(fixture: &Fixture, record: &CertificateRecord) {
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, record.status, "{}", record.id);
    assert!(fixture.store.revocation_request(&record.id).await.unwrap().is_none(), "{}", record.id);
    assert!(fixture.store.validations_of(&record.id, PURPOSE_REVOKE).await.unwrap().is_empty(), "{}", record.id);
    if let Some(serial) = &record.serial {
        assert!(fixture.store.revocation_status(serial).await.unwrap().is_none(), "{}", record.id);
    }
}

#[tokio::test]
async fn domain_validation_revokes_once_record_published() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let record = issue(&fixture, "www.example.test", DV_PRODUCT).await;
    assert_eq!(record.validation_method, ValidationMethod::None);

    let outcome = fixture.revocations.request(&record.id, &owner_request(1, "key leaked"), OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Validations(rows) = outcome else { panic!("expected validations, got {outcome:?}") };
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].method, "DNS", "a certificate issued without validation is revoked with DNS");
    assert_eq!(rows[0].record_key, "_dnsauth.www.example.test");
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::Revoking);
    let log = fixture.store.operation_log(&record.id).await.unwrap();
    assert_eq!(log.last().unwrap().action, "revoke");

    let second = fixture.revocations.request(&record.id, &owner_request(1, ""), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(second, RevokeError::AlreadyRevoking { .. }), "{second}");

    let checked = fixture.revocations.check(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(checked[0].state, "pending");
    assert_eq!(fixture.store.certificate(&record.id).await.unwrap().unwrap().status, CertificateStatus::Revoking);

    bind.add_record(&rows[0].record_key, 60, "TXT", &format!("\"{}\"", rows[0].token));
    let checked = fixture.revocations.check(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(checked[0].state, "valid", "{:?}", checked[0]);
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::Revoked);
    let revocation = fixture.store.revocation_status(record.serial.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(revocation.reason_code, 1);

    // A second revocation is rejected as already revoked, and the stored row stays.
    let again = fixture.revocations.request(&record.id, &owner_request(4, ""), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(again, RevokeError::AlreadyRevoked { .. }), "{again}");
    assert!(again.to_string().contains("already revoked"), "{again}");
    let after = fixture.store.revocation_status(record.serial.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(after, revocation);
}

#[tokio::test]
async fn expired_token_returns_certificate_to_issued() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(1)).await;
    let record = issue(&fixture, "expiry.example.test", DV_PRODUCT).await;

    let now = OffsetDateTime::now_utc();
    fixture.revocations.request(&record.id, &owner_request(0, ""), now).await.unwrap();
    let later = now + time::Duration::seconds(5);
    let checked = fixture.revocations.check(&record.id, later).await.unwrap();
    assert!(checked.iter().all(|row| row.state != "pending"), "{checked:?}");

    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::Issued);
    assert!(stored.status_message.contains("expired before it passed"), "{}", stored.status_message);
    assert!(fixture.store.revocation_status(record.serial.as_deref().unwrap()).await.unwrap().is_none());
    assert!(stored.status.allows_download());
}

#[tokio::test]
async fn disallowed_reason_codes_change_nothing() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let record = issue(&fixture, "codes.example.test", DV_PRODUCT).await;

    for code in [6, 8, 7, 2, -1, 11] {
        let error = fixture.revocations.request(&record.id, &owner_request(code, ""), OffsetDateTime::now_utc()).await.unwrap_err();
        assert!(matches!(error, RevokeError::ReasonCode { .. }), "{code}: {error}");
        assert!(error.to_string().contains("0, 1, 3, 4 or 5"), "{error}");
        assert_unchanged(&fixture, &record).await;
    }
}

#[tokio::test]
async fn each_rule_rejects_without_changes() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let original = issue(&fixture, "rules.example.test", DV_PRODUCT).await;
    let now = OffsetDateTime::now_utc().unix_timestamp();

    let variant = |suffix: &str, change: &dyn Fn(&mut CertificateRecord)| {
        let mut record = original.clone();
        record.id = format!("{}{suffix}", original.id);
        record.serial = None;
        change(&mut record);
        record
    };
    let cases: Vec<(CertificateRecord, &str)> = vec![
        (variant("u", &|r| r.source = CertificateSource::Uploaded), "uploaded"),
        (variant("e", &|r| r.not_after = Some(now - 60)), "has expired"),
        (variant("x", &|r| r.status = CertificateStatus::Expired), "has expired"),
        (variant("c", &|r| r.status = CertificateStatus::Cancelled), "status 7"),
        (variant("r", &|r| r.reissued_from = Some(original.id.clone())), original.id.as_str()),
        (
            variant("n", &|r| {
                r.renewal_id = Some("renewal1".into());
                r.not_after = Some(now + 10 * 24 * 3600);
            }),
            "waits for its renewal",
        ),
    ];
    let log = LogEntry { actor: "test", action: "upload", detail: "", at: now };
    for (record, expected) in &cases {
        fixture.store.insert_certificate(record, &log).await.unwrap();
        let error = fixture.revocations.request(&record.id, &owner_request(1, "x"), OffsetDateTime::now_utc()).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{}: {error}", record.id);
        assert_unchanged(&fixture, record).await;
    }

    // A renewal far from expiry does not block revocation.
    let renewed = variant("f", &|r| r.renewal_id = Some("renewal2".into()));
    fixture.store.insert_certificate(&renewed, &log).await.unwrap();
    fixture.revocations.request(&renewed.id, &owner_request(1, ""), OffsetDateTime::now_utc()).await.unwrap();

    let legacy = issue(&fixture, "legacy.example.test", OPERATOR_ONLY_PRODUCT).await;
    let error = fixture.revocations.request(&legacy.id, &owner_request(0, ""), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(error, RevokeError::OperatorOnly { .. }), "{error}");
    assert!(error.to_string().contains("operator must revoke"), "{error}");
    assert_unchanged(&fixture, &legacy).await;
}

#[tokio::test]
async fn review_only_rejection_and_approval() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let record = issue(&fixture, "reviewed.example.test", REVIEWED_PRODUCT).await;

    let missing = fixture.revocations.request(&record.id, &owner_request(4, "  "), OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(missing, RevokeError::ReasonRequired { .. }), "{missing}");
    assert_unchanged(&fixture, &record).await;

    let outcome = fixture.revocations.request(&record.id, &owner_request(4, "server retired"), OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Review { review_id } = outcome else { panic!("expected a review, got {outcome:?}") };
    assert_eq!(fixture.store.certificate(&record.id).await.unwrap().unwrap().status, CertificateStatus::Revoking);
    let pending = fixture.revocations.reviews(Some("pending")).await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind, "revoke");
    assert_eq!(pending[0].reason, "server retired");

    let rejected = fixture.revocations.reject(review_id, "operator", "wrong certificate", OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(rejected.state, "rejected");
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::Issued);
    assert!(stored.status_message.contains("wrong certificate"), "{}", stored.status_message);
    let twice = fixture.revocations.approve(review_id, "operator", OffsetDateTime::now_utc()).await.unwrap_err();
    assert!(matches!(twice, RevokeError::ReviewDecided { .. }), "{twice}");

    let outcome = fixture.revocations.request(&record.id, &owner_request(5, "service ended"), OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Review { review_id } = outcome else { panic!("expected a review, got {outcome:?}") };
    let row = fixture.revocations.approve(review_id, "operator", OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(row.reason_code, 5);
    assert_eq!(fixture.store.certificate(&record.id).await.unwrap().unwrap().status, CertificateStatus::Revoked);
    assert_eq!(fixture.revocations.review(review_id).await.unwrap().state, "approved");
}

/// Returns `len` bytes that start and end like a file of `format` (`png`, `pdf`, `gif` or
/// `jpg`).
fn letter_file(format: &str, len: usize) -> Vec<u8> {
    let (head, tail): (&[u8], &[u8]) = match format {
        "png" => (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", b"\0\0\0\0IEND\xaeB`\x82"),
        "pdf" => (b"%PDF-1.7\n", b"\n%%EOF\n"),
        "gif" => (b"GIF89a", b";"),
        _ => (&[0xFF, 0xD8, 0xFF, 0xE0], &[0xFF, 0xD9]),
    };
    let mut content = head.to_vec();
    content.resize(len - tail.len(), 0x20);
    content.extend_from_slice(tail);
    content
}

async fn status_of(fixture: &Fixture, id: &str) -> CertificateStatus {
    fixture.store.certificate(id).await.unwrap().unwrap().status
}

#[tokio::test]
async fn confirmation_letter_flow_with_reminders() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let record = issue(&fixture, "letter.example.test", LETTER_PRODUCT).await;
    let now = OffsetDateTime::now_utc();

    let missing = fixture.revocations.request(&record.id, &owner_request(1, ""), now).await.unwrap_err();
    assert!(matches!(missing, RevokeError::ReasonRequired { .. }), "{missing}");
    assert_unchanged(&fixture, &record).await;

    let outcome = fixture.revocations.request(&record.id, &owner_request(1, "key copied to a lost laptop"), now).await.unwrap();
    let RevokeOutcome::AwaitingLetter { review_id, rules } = outcome else { panic!("expected a letter, got {outcome:?}") };
    assert_eq!(rules.kind, "confirmation-letter");
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::AwaitingRevokeLetter);
    assert!(!stored.status.allows_download());
    let review = fixture.revocations.review(review_id).await.unwrap();
    assert_eq!((review.kind.as_str(), review.state.as_str()), ("revoke-letter", "pending"));

    let early = fixture.revocations.approve(review_id, "operator", now).await.unwrap_err();
    assert!(matches!(early, RevokeError::LetterMissing { .. }), "{early}");
    assert!(early.to_string().contains("UploadRevokeLetter"), "{early}");

    // Refused letters change nothing: the certificate stays in status 12 with no letter.
    for (content, expected) in [
        (letter_file("gif", 4096), "is a GIF file; this letter must be a JPG, PNG or PDF file"),
        (letter_file("png", 1000), "at least 1024 bytes"),
        (letter_file("pdf", 1_468_007), "at most 1468006 bytes"),
        (b"Dear reviewer, please revoke. ".repeat(64), "not a JPG, PNG, GIF or PDF"),
        (letter_file("pdf", 4096)[..4000].to_vec(), "closing marker is missing"),
    ] {
        let refused = fixture.revocations.upload_letter(&record.id, &content, "account:1", now).await.unwrap_err();
        assert!(matches!(refused, RevokeError::Letter { .. }), "{refused}");
        assert!(refused.to_string().contains(expected), "{refused}");
        assert_eq!(status_of(&fixture, &record.id).await, CertificateStatus::AwaitingRevokeLetter);
        assert!(fixture.revocations.letter(review_id).await.unwrap().is_none());
    }

    let png = letter_file("png", 2048);
    fixture.revocations.upload_letter(&record.id, &png, "account:1", now).await.unwrap();
    assert_eq!(status_of(&fixture, &record.id).await, CertificateStatus::Revoking);
    let pdf = letter_file("pdf", 1_468_006);
    fixture.revocations.upload_letter(&record.id, &pdf, "account:1", now).await.unwrap();
    let letter = fixture.revocations.letter(review_id).await.unwrap().unwrap();
    assert_eq!((letter.content_type.as_str(), letter.content.len()), ("application/pdf", 1_468_006), "a new letter replaces the first");
    let edits = fixture.store.operation_log(&record.id).await.unwrap().iter().filter(|row| row.action == "editRevokeLetter").count();
    assert_eq!(edits, 2);

    let reminded = fixture.revocations.remind(&record.id, "account:1", now).await.unwrap();
    assert_eq!(reminded.review.reminded_at, Some(now.unix_timestamp()));
    let soon = now + time::Duration::minutes(59);
    let again = fixture.revocations.remind(&record.id, "account:1", soon).await.unwrap_err();
    assert!(matches!(again, RevokeError::RemindTooSoon { .. }), "{again}");
    assert!(again.to_string().contains("one per hour"), "{again}");
    let hour_later = now + time::Duration::hours(1);
    fixture.revocations.remind(&record.id, "account:1", hour_later).await.unwrap();

    let row = fixture.revocations.approve(review_id, "operator", hour_later).await.unwrap();
    assert_eq!(row.reason_code, 1);
    assert_eq!(status_of(&fixture, &record.id).await, CertificateStatus::Revoked);
    let after = fixture.revocations.upload_letter(&record.id, &png, "account:1", hour_later).await.unwrap_err();
    assert!(matches!(after, RevokeError::LetterNotNeeded { .. }), "{after}");
    let no_review = fixture.revocations.remind(&record.id, "account:1", hour_later + time::Duration::hours(2)).await.unwrap_err();
    assert!(matches!(no_review, RevokeError::NoPendingReview { .. }), "{no_review}");
}

#[tokio::test]
async fn application_form_is_uploaded_once() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let record = issue(&fixture, "form.example.test", FORM_PRODUCT).await;
    let now = OffsetDateTime::now_utc();
    let outcome = fixture.revocations.request(&record.id, &owner_request(5, "company closed"), now).await.unwrap();
    let RevokeOutcome::AwaitingLetter { review_id, rules } = outcome else { panic!("expected a form, got {outcome:?}") };
    assert_eq!(rules.kind, "application-form");

    let png = fixture.revocations.upload_letter(&record.id, &letter_file("png", 4096), "account:1", now).await.unwrap_err();
    assert!(png.to_string().contains("must be a JPG, GIF or PDF file"), "{png}");
    fixture.revocations.upload_letter(&record.id, &letter_file("gif", 4096), "account:1", now).await.unwrap();
    let twice = fixture.revocations.upload_letter(&record.id, &letter_file("pdf", 4096), "account:1", now).await.unwrap_err();
    assert!(matches!(twice, RevokeError::FormAlreadyUploaded { .. }), "{twice}");
    assert_eq!(fixture.revocations.letter(review_id).await.unwrap().unwrap().content_type, "image/gif", "the first form stays");

    let rejected = fixture.revocations.reject(review_id, "operator", "the form is not stamped", now).await.unwrap();
    assert_eq!(rejected.state, "rejected");
    let stored = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, CertificateStatus::Issued);
    assert!(stored.status_message.contains("not stamped"), "{}", stored.status_message);
    assert!(fixture.store.revocation_status(record.serial.as_deref().unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn letter_rejected_while_waiting_returns_to_issued() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let record = issue(&fixture, "waiting.example.test", LETTER_PRODUCT).await;
    let now = OffsetDateTime::now_utc();
    let RevokeOutcome::AwaitingLetter { review_id, .. } =
        fixture.revocations.request(&record.id, &owner_request(0, "no longer needed"), now).await.unwrap()
    else {
        panic!("expected a letter")
    };
    fixture.revocations.reject(review_id, "operator", "no letter arrived in 30 days", now).await.unwrap();
    assert_eq!(status_of(&fixture, &record.id).await, CertificateStatus::Issued);
}

#[tokio::test]
async fn letters_for_requests_that_need_none_are_refused() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let now = OffsetDateTime::now_utc();
    let letter = letter_file("pdf", 4096);

    let issued = issue(&fixture, "idle.example.test", LETTER_PRODUCT).await;
    let idle = fixture.revocations.upload_letter(&issued.id, &letter, "account:1", now).await.unwrap_err();
    assert!(matches!(idle, RevokeError::LetterNotNeeded { .. }), "{idle}");
    assert!(idle.to_string().contains("status 1"), "{idle}");
    assert_unchanged(&fixture, &issued).await;

    let dv = issue(&fixture, "dv.example.test", DV_PRODUCT).await;
    fixture.revocations.request(&dv.id, &owner_request(0, ""), now).await.unwrap();
    let refused = fixture.revocations.upload_letter(&dv.id, &letter, "account:1", now).await.unwrap_err();
    assert!(matches!(refused, RevokeError::LetterNotNeeded { .. }), "{refused}");
    assert_eq!(status_of(&fixture, &dv.id).await, CertificateStatus::Revoking);

    let reviewed = issue(&fixture, "reviewed.example.test", REVIEWED_PRODUCT).await;
    let RevokeOutcome::Review { review_id } = fixture.revocations.request(&reviewed.id, &owner_request(0, "retired"), now).await.unwrap() else {
        panic!("expected a review")
    };
    let refused = fixture.revocations.upload_letter(&reviewed.id, &letter, "account:1", now).await.unwrap_err();
    assert!(matches!(refused, RevokeError::LetterNotNeeded { .. }), "{refused}");
    assert!(fixture.revocations.letter(review_id).await.unwrap().is_none());
}

/// Returns a fixture whose validator updates the `example.test` zone of `bind` by RFC 2136.
async fn dns_auto_fixture(bind: &Bind9) -> Fixture {
    let zone = DnsAutoZone {
        zone: "example.test".into(),
        server: bind.addr(),
        tsig_key_name: TSIG_KEY_NAME.to_owned(),
        tsig_algorithm: TsigAlgorithmName::HmacSha256,
        tsig_secret: Some(Secret::new(bind.tsig_secret())),
        tsig_secret_file: None,
    };
    fixture_with_dns_auto(bind, Duration::from_secs(600), &DnsAutoConfig { zones: vec![zone] }).await
}

/// Applies for `domain` with automatic DNS validation and checks the order once.
async fn issue_with_dns_auto(fixture: &Fixture, domain: &str, product_id: u32) -> CertificateRecord {
    let request = ApplyRequest {
        account_id: 1,
        domain: domain.into(),
        method: ValidationMethod::DnsAuto,
        product_id,
        csr: None,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: String::new(),
        project_id: 0,
        delete_dns_auto_record: true,
    };
    let record = fixture.orders.apply(request, OffsetDateTime::now_utc()).await.unwrap();
    fixture.orders.check_order(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    record
}

#[tokio::test]
async fn letter_product_with_automatic_dns_validates_instead() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = dns_auto_fixture(&bind).await;
    let record = issue_with_dns_auto(&fixture, "ov-auto.example.test", VALIDATED_LETTER_PRODUCT).await;
    assert_eq!(status_of(&fixture, &record.id).await, CertificateStatus::Issued);

    let outcome = fixture.revocations.request(&record.id, &owner_request(4, "replaced"), OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Validations(rows) = outcome else { panic!("expected validations instead of a letter, got {outcome:?}") };
    assert_eq!(rows[0].method, "DNS_AUTO");
    fixture.revocations.check(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(status_of(&fixture, &record.id).await, CertificateStatus::Revoked);
    assert!(fixture.revocations.reviews(None).await.unwrap().is_empty(), "no reviewer was needed");
}

#[tokio::test]
async fn dns_auto_revocation_publishes_record() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = dns_auto_fixture(&bind).await;
    let record = issue_with_dns_auto(&fixture, "auto.example.test", VALIDATED_PRODUCT).await;
    let record = fixture.store.certificate(&record.id).await.unwrap().unwrap();
    assert_eq!(record.status, CertificateStatus::Issued);
    assert!(bind.query("_dnsauth.auto.example.test", "TXT").is_empty(), "the issuance record is removed");

    let outcome = fixture.revocations.request(&record.id, &owner_request(3, ""), OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Validations(rows) = outcome else { panic!("expected validations, got {outcome:?}") };
    assert_eq!(rows[0].method, "DNS_AUTO");
    assert_eq!(bind.query("_dnsauth.auto.example.test", "TXT").len(), 1, "the revocation record is published");

    fixture.revocations.check(&record.id, OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(fixture.store.certificate(&record.id).await.unwrap().unwrap().status, CertificateStatus::Revoked);
    let revocation = fixture.store.revocation_status(record.serial.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(revocation.reason_code, 3);
    assert!(bind.query("_dnsauth.auto.example.test", "TXT").is_empty(), "the revocation record is removed");
}

#[tokio::test]
async fn dns_auto_without_zone_uses_dns() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind, Duration::from_secs(600)).await;
    let issued = issue(&fixture, "manual.example.test", DV_PRODUCT).await;
    let mut record = issued.clone();
    record.id = format!("{}a", issued.id);
    record.serial = None;
    record.validation_method = ValidationMethod::DnsAuto;
    let log = LogEntry { actor: "test", action: "issued", detail: "", at: 0 };
    fixture.store.insert_certificate(&record, &log).await.unwrap();

    let outcome = fixture.revocations.request(&record.id, &owner_request(0, ""), OffsetDateTime::now_utc()).await.unwrap();
    let RevokeOutcome::Validations(rows) = outcome else { panic!("expected validations, got {outcome:?}") };
    assert_eq!(rows[0].method, "DNS", "without a configured zone the owner publishes the record");
    assert!(!rows[0].remove_after_issue);
}
