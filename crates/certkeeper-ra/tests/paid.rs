//! Paid OV and EV orders against a real BIND9: organisation review, domain validation, the
//! reviewer's approval, the subject of the issued certificate, confirmation letters, and each
//! bad input that is rejected without storing anything.

use std::sync::Arc;
use std::time::Duration;

use certkeeper_ca::UrlScheme;
use certkeeper_core::{
    CertificateRecord, CertificateStatus, KeyAlgorithm, Product, ProductCatalogue, RevocationPolicy, SerialNumber, ValidationLevel, ValidationMethod,
};
use certkeeper_pki::MasterKey;
use certkeeper_ra::paid::{CA_REVIEWING, PRE_REVIEWING};
use certkeeper_ra::{CompanyChoice, IssuanceService, OrderInformation, OrderService, OrderSettings, PaidError, PaidKey};
use certkeeper_store::{LogEntry, NewCompany, NewManager, NewRevocation, Store};
use certkeeper_testkit::{Bind9, TSIG_KEY_NAME};
use certkeeper_va::{DnsAutoConfig, DnsAutoZone, Secret, TsigAlgorithmName, ValidationConfig, Validator};
use time::OffsetDateTime;

mod common;

const OV_PRODUCT: u32 = 80;
const EV_PRODUCT: u32 = 81;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    orders: OrderService,
}

fn product(id: u32, level: ValidationLevel) -> Product {
    Product {
        id,
        name: format!("Test {}", level.as_str()),
        level,
        key_algorithms: vec![KeyAlgorithm::EcdsaP256, KeyAlgorithm::Rsa2048],
        validity_days: 199,
        revocation_policy: RevocationPolicy::ReviewOnly,
        free: false,
        owner_revocation_not_before: None,
        dangerous_skip_domain_validation: false,
    }
}

async fn fixture(bind: &Bind9) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("paid.db")).await.unwrap();
    let master_key = Arc::new(MasterKey::generate().unwrap());
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let ca = common::create_ca(&store, &master_key, &urls, OffsetDateTime::now_utc()).await;
    store.create_account("owner", "user", 0).await.unwrap();
    store.create_account("other", "user", 0).await.unwrap();

    let catalogue = ProductCatalogue::new(vec![product(OV_PRODUCT, ValidationLevel::Ov), product(EV_PRODUCT, ValidationLevel::Ev)]).unwrap();
    let config = ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        recheck_interval: Duration::from_secs(1),
        token_lifetime: Duration::from_secs(600),
        ..ValidationConfig::default()
    };
    let issuance = IssuanceService::new(store.clone(), ca, Arc::new(catalogue));
    let zone = DnsAutoZone {
        zone: "auto.test".into(),
        server: bind.addr(),
        tsig_key_name: TSIG_KEY_NAME.to_owned(),
        tsig_algorithm: TsigAlgorithmName::HmacSha256,
        tsig_secret: Some(Secret::new(bind.tsig_secret())),
        tsig_secret_file: None,
    };
    let validator = Arc::new(Validator::new(config, &DnsAutoConfig { zones: vec![zone] }).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    let orders = OrderService::new(store.clone(), issuance, validator, master_key, settings);
    Fixture { _dir: dir, store, orders }
}

fn company(ev: bool) -> NewCompany {
    NewCompany {
        account_id: 1,
        name: "Example Handels GmbH".into(),
        country: "DE".into(),
        province: "Nordrhein-Westfalen".into(),
        city: "Köln".into(),
        address: "Domkloster 4".into(),
        phone: "+49 221 000000".into(),
        business_category: if ev { "Private Organization".into() } else { String::new() },
        jurisdiction_country: if ev { "DE".into() } else { String::new() },
        registration_number: if ev { "HRB 12345".into() } else { String::new() },
    }
}

fn manager() -> NewManager {
    NewManager {
        first_name: "Erika".into(),
        last_name: "Mustermann".into(),
        position: "CTO".into(),
        department: "IT".into(),
        phone: "+49 221 000001".into(),
        email: "erika@example.test".into(),
    }
}

fn information(domain: &str, manager_id: Option<i64>, key: PaidKey) -> OrderInformation {
    OrderInformation {
        actor: "account:1".into(),
        key,
        common_name: domain.into(),
        dns_names: Vec::new(),
        manager_id,
        method: ValidationMethod::Dns,
        auto_renew: false,
        data: "{}".into(),
    }
}

/// Makes a P-256 CSR for `domain` with the organisation attributes given.
fn csr(domain: &str, organization: Option<&str>, country: Option<&str>) -> Vec<u8> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, domain);
    if let Some(organization) = organization {
        params.distinguished_name.push(rcgen::DnType::OrganizationName, organization);
    }
    if let Some(country) = country {
        params.distinguished_name.push(rcgen::DnType::CountryName, country);
    }
    params.serialize_request(&key).unwrap().pem().unwrap().into_bytes()
}

/// Publishes every pending TXT record of an order and checks it.
async fn validate(fixture: &Fixture, bind: &Bind9, id: &str) {
    let rows = fixture.orders.validations(id).await.unwrap();
    assert!(!rows.is_empty(), "{id} has validations");
    for row in rows.iter().filter(|row| row.state == "pending") {
        bind.add_record(&row.record_key, 60, "TXT", &format!("\"{}\"", row.token));
    }
    fixture.orders.check_order(id, OffsetDateTime::now_utc()).await.unwrap();
}

async fn stored(fixture: &Fixture, id: &str) -> CertificateRecord {
    fixture.store.certificate(id).await.unwrap().unwrap()
}

/// Returns the subject of a stored certificate as `openssl`-like `key=value` pairs.
fn subject_of(record: &CertificateRecord) -> String {
    let der = record.certificate_der.as_deref().unwrap();
    let (_, parsed) = x509_parser::parse_x509_certificate(der).unwrap();
    parsed.subject().to_string()
}

#[tokio::test]
async fn ov_order_reviewed_validated_and_issued() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let now = OffsetDateTime::now_utc();
    let order = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, None, now).await.unwrap();
    assert_eq!(order.status, CertificateStatus::AwaitingSubmission);
    assert_eq!(order.term_ends_at, Some(now.unix_timestamp() + 365 * 86_400), "a year outlasts one 199-day certificate");

    let (_, manager_id) = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(company(false))), &manager(), now).await.unwrap();
    let info = information("shop.example.test", Some(manager_id), PaidKey::Online(KeyAlgorithm::EcdsaP256));
    fixture.orders.submit_information(&order.id, &info, now).await.unwrap();
    let submitted = fixture.orders.submit_order(&order.id, "account:1", now).await.unwrap();
    assert_eq!(submitted.status, CertificateStatus::Reviewing);
    assert_eq!(submitted.status_message, PRE_REVIEWING);
    assert!(fixture.orders.validations(&order.id).await.unwrap().is_empty(), "no domain validation before the organisation review");

    fixture.orders.approve_manager(manager_id, "reviewer", now).await.unwrap();
    assert_eq!(stored(&fixture, &order.id).await.status_message, "PENDING-DCV");
    validate(&fixture, &bind, &order.id).await;
    let validated = stored(&fixture, &order.id).await;
    assert_eq!(validated.status, CertificateStatus::Reviewing);
    assert_eq!(validated.status_message, CA_REVIEWING);
    let in_review = fixture.orders.orders_in_review().await.unwrap();
    assert_eq!(in_review.len(), 1);

    let issued = fixture.orders.approve_order(&order.id, "reviewer", now).await.unwrap();
    assert_eq!(issued.status, CertificateStatus::Issued);
    let subject = subject_of(&issued);
    for expected in ["C=DE", "ST=Nordrhein-Westfalen", "L=Köln", "O=Example Handels GmbH", "CN=shop.example.test"] {
        assert!(subject.contains(expected), "{subject} lacks {expected}");
    }

    // A second order reuses the verified profile and starts domain validation at once.
    let second = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, None, now).await.unwrap();
    let info = information("www.example.test", Some(manager_id), PaidKey::Parse(csr("www.example.test", Some("Example Handels GmbH"), Some("DE"))));
    fixture.orders.submit_information(&second.id, &info, now).await.unwrap();
    let submitted = fixture.orders.submit_order(&second.id, "account:1", now).await.unwrap();
    assert_eq!(submitted.status_message, "PENDING-DCV");

    // Cancelling the review returns the order to status 5; a rejection fails it with the reason.
    fixture.orders.cancel_audit(&second.id, "account:1", now).await.unwrap();
    assert_eq!(stored(&fixture, &second.id).await.status, CertificateStatus::AwaitingSubmission);
    fixture.orders.submit_order(&second.id, "account:1", now).await.unwrap();
    validate(&fixture, &bind, &second.id).await;
    fixture.orders.reject_order(&second.id, "reviewer", "the organisation name is misspelt", now).await.unwrap();
    let rejected = stored(&fixture, &second.id).await;
    assert_eq!(rejected.status, CertificateStatus::ReviewFailed);
    assert_eq!(rejected.status_message, "the organisation name is misspelt");
    let again = fixture.orders.resubmit(&second.id, "account:1", now).await.unwrap();
    assert_eq!(again.status, CertificateStatus::Reviewing);
    assert_eq!(again.status_message, "PENDING-DCV");
}

#[tokio::test]
async fn ev_order_waits_for_letter() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let now = OffsetDateTime::now_utc();
    let (_, manager_id) = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(company(true))), &manager(), now).await.unwrap();
    fixture.orders.approve_manager(manager_id, "reviewer", now).await.unwrap();
    let order = fixture.orders.create_paid(1, EV_PRODUCT, 2, 1, None, now).await.unwrap();
    let info = information("ev.example.test", Some(manager_id), PaidKey::Online(KeyAlgorithm::Rsa2048));
    fixture.orders.submit_information(&order.id, &info, now).await.unwrap();
    let waiting = fixture.orders.submit_order(&order.id, "account:1", now).await.unwrap();
    assert_eq!(waiting.status, CertificateStatus::AwaitingConfirmLetter);

    let small = fixture.orders.upload_letter(&order.id, b"%PDF-1.7 short", "account:1", now).await.unwrap_err();
    assert!(matches!(small, PaidError::LetterSize { .. }), "{small}");
    let mut gif = b"GIF89a".to_vec();
    gif.resize(2048, 0);
    let wrong = fixture.orders.upload_letter(&order.id, &gif, "account:1", now).await.unwrap_err();
    assert!(matches!(wrong, PaidError::LetterType), "{wrong}");
    assert_eq!(stored(&fixture, &order.id).await.status, CertificateStatus::AwaitingConfirmLetter);

    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.resize(4096, b' ');
    let reviewing = fixture.orders.upload_letter(&order.id, &pdf, "account:1", now).await.unwrap();
    assert_eq!(reviewing.status, CertificateStatus::Reviewing);
    assert_eq!(reviewing.status_message, "PENDING-DCV");
    validate(&fixture, &bind, &order.id).await;
    let issued = fixture.orders.approve_order(&order.id, "reviewer", now).await.unwrap();
    let subject = subject_of(&issued);
    for expected in ["O=Example Handels GmbH", "C=DE", "businessCategory=Private Organization", "serialNumber=HRB 12345"] {
        assert!(subject.contains(expected), "{subject} lacks {expected}");
    }
    let der = issued.certificate_der.as_deref().unwrap();
    let ev_policy = [0x06, 0x05, 0x67, 0x81, 0x0c, 0x01, 0x01];
    assert!(der.windows(ev_policy.len()).any(|window| window == ev_policy), "the EV policy OID 2.23.140.1.1 is present");
}

#[tokio::test]
async fn bad_submissions_store_nothing() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let now = OffsetDateTime::now_utc();
    let (_, ov_manager) = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(company(false))), &manager(), now).await.unwrap();
    let (_, other_manager) = fixture.orders.submit_manager(2, CompanyChoice::New(Box::new(NewCompany { account_id: 2, ..company(false) })), &manager(), now).await.unwrap();
    let ov = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, None, now).await.unwrap();
    let ev = fixture.orders.create_paid(1, EV_PRODUCT, 2, 1, None, now).await.unwrap();

    let online = || PaidKey::Online(KeyAlgorithm::EcdsaP256);
    let cases: Vec<(&str, OrderInformation, &str)> = vec![
        (&ov.id, information("a.example.test", None, online()), "ManagerId is missing"),
        (&ov.id, information("", Some(ov_manager), online()), "CertCommonName is missing"),
        (&ov.id, information("a.example.test", Some(other_manager), online()), "does not exist"),
        (&ov.id, information("a.example.test", Some(ov_manager), PaidKey::Online(KeyAlgorithm::Rsa4096)), "does not accept"),
        (
            &ov.id,
            information("a.example.test", Some(ov_manager), PaidKey::Parse(csr("a.example.test", Some("Other Ltd"), None))),
            "organizationName (O) is \"Other Ltd\"",
        ),
        (
            &ov.id,
            information("a.example.test", Some(ov_manager), PaidKey::Parse(csr("a.example.test", None, Some("FR")))),
            "countryName (C) is \"FR\"",
        ),
        (&ov.id, information("a.example.test", Some(ov_manager), PaidKey::Parse(csr("b.example.test", None, None))), "does not name a.example.test"),
        (&ev.id, information("a.example.test", Some(ov_manager), online()), "CompanyBusinessCategory is missing"),
    ];
    for (id, info, expected) in &cases {
        let error = fixture.orders.submit_information(id, info, now).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{id}: {error}");
        let record = stored(&fixture, id).await;
        assert_eq!(record.status, CertificateStatus::AwaitingSubmission);
        assert!(record.names.is_empty(), "{id}: {:?}", record.names);
        assert!(fixture.store.submission(id).await.unwrap().is_none(), "{id}");
    }
    let unsubmitted = fixture.orders.submit_order(&ov.id, "account:1", now).await.unwrap_err();
    assert!(matches!(unsubmitted, PaidError::NotSubmitted { .. }), "{unsubmitted}");

    let profile_cases: Vec<(NewCompany, NewManager, &str)> = vec![
        (NewCompany { name: String::new(), ..company(false) }, manager(), "CompanyName is missing"),
        (NewCompany { country: "Germany".into(), ..company(false) }, manager(), "country \"Germany\" is invalid"),
        (NewCompany { business_category: "Startup".into(), ..company(true) }, manager(), "business category"),
        (company(false), NewManager { email: "erika".into(), ..manager() }, "ManagerMail \"erika\" is invalid"),
        (company(false), NewManager { phone: String::new(), ..manager() }, "ManagerPhone is missing"),
    ];
    let before = fixture.store.companies(Some(1), None, 0, 100).await.unwrap().1;
    for (new_company, new_manager, expected) in profile_cases {
        let error = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(new_company)), &new_manager, now).await.unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    assert_eq!(fixture.store.companies(Some(1), None, 0, 100).await.unwrap().1, before, "a rejected profile stores nothing");
}

#[tokio::test]
async fn paid_renewal_keeps_names_and_organisation() {
    let bind = Bind9::start(&["example.test"]);
    let fixture = fixture(&bind).await;
    let issued_at = OffsetDateTime::now_utc() - time::Duration::days(180);
    let (_, manager_id) = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(company(false))), &manager(), issued_at).await.unwrap();
    fixture.orders.approve_manager(manager_id, "reviewer", issued_at).await.unwrap();
    let order = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, None, issued_at).await.unwrap();
    let mut info = information("renew.example.test", Some(manager_id), PaidKey::Online(KeyAlgorithm::EcdsaP256));
    info.dns_names = vec!["www.renew.example.test".into()];
    fixture.orders.submit_information(&order.id, &info, issued_at).await.unwrap();
    fixture.orders.submit_order(&order.id, "account:1", issued_at).await.unwrap();
    for row in fixture.orders.validations(&order.id).await.unwrap() {
        bind.add_record(&row.record_key, 60, "TXT", &format!("\"{}\"", row.token));
    }
    fixture.orders.check_order(&order.id, issued_at).await.unwrap();
    let old = fixture.orders.approve_order(&order.id, "reviewer", issued_at).await.unwrap();
    assert_eq!(old.status, CertificateStatus::Issued);
    assert_eq!(old.names.len(), 2);

    let now = OffsetDateTime::now_utc();
    let too_few = fixture.orders.create_paid(1, OV_PRODUCT, 1, 1, Some(&old.id), now).await.unwrap_err();
    assert!(matches!(too_few, PaidError::DomainCount { ordered: 1, given: 2, .. }), "{too_few}");
    assert_eq!(stored(&fixture, &old.id).await.renewal_id, None);
    let renewal = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, Some(&old.id), now).await.unwrap();
    assert_eq!(renewal.status, CertificateStatus::AwaitingSubmission);
    assert_eq!(renewal.renewed_from.as_deref(), Some(old.id.as_str()));
    assert_eq!(renewal.names, old.names);
    assert_eq!(stored(&fixture, &old.id).await.renewal_id.as_deref(), Some(renewal.id.as_str()));

    let again = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, Some(&old.id), now).await.unwrap_err();
    assert!(again.to_string().contains("already renewed"), "{again}");
    let fresh = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, None, now).await.unwrap();
    let not_due = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, Some(&fresh.id), now).await.unwrap_err();
    assert!(not_due.to_string().contains("renewal needs an issued certificate"), "{not_due}");
}

/// Issues an OV order at `when` for `domain` with a manager approved at `approved_at`.
async fn issue_ov_at(fixture: &Fixture, domain: &str, approved_at: OffsetDateTime, when: OffsetDateTime) -> CertificateRecord {
    let email = format!("admin@{domain}");
    let manager = NewManager { email, ..manager() };
    let (_, manager_id) = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(company(false))), &manager, approved_at).await.unwrap();
    fixture.orders.approve_manager(manager_id, "reviewer", approved_at).await.unwrap();
    let order = fixture.orders.create_paid(1, OV_PRODUCT, 2, 1, None, when).await.unwrap();
    let info = OrderInformation { method: ValidationMethod::DnsAuto, ..information(domain, Some(manager_id), PaidKey::Online(KeyAlgorithm::EcdsaP256)) };
    fixture.orders.submit_information(&order.id, &info, when).await.unwrap();
    fixture.orders.submit_order(&order.id, "account:1", when).await.unwrap();
    fixture.orders.check_order(&order.id, when).await.unwrap();
    fixture.orders.approve_order(&order.id, "reviewer", when).await.unwrap()
}

#[tokio::test]
async fn ov_term_renews_without_second_review() {
    let bind = Bind9::start(&["example.test", "auto.test"]);
    let fixture = fixture(&bind).await;
    let now = OffsetDateTime::now_utc();
    let days = |count: i64| time::Duration::days(count);
    let current = issue_ov_at(&fixture, "term.auto.test", now - days(190), now - days(190)).await;
    let lapsed = issue_ov_at(&fixture, "lapsed.auto.test", now - days(400), now - days(190)).await;
    assert!(current.term_ends_at.is_some(), "one year outlasts a 199-day certificate");

    // DNS_AUTO validates the renewal of the first certificate at once.
    let settings = certkeeper_ra::AutoRenewSettings { window: Duration::from_secs(30 * 86_400), interval: Duration::from_secs(3600) };
    let outcomes = fixture.orders.renew_due(&settings, now).await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    let renewal = outcomes.iter().find_map(|outcome| match outcome {
        certkeeper_ra::AutoRenewal::Renewed { old, renewal } if *old == current.id => Some(renewal.clone()),
        _ => None,
    });
    let renewal = stored(&fixture, &renewal.unwrap_or_else(|| panic!("{outcomes:?}"))).await;
    assert_eq!(renewal.status, CertificateStatus::Issued, "{}", renewal.status_message);
    assert!(subject_of(&renewal).contains("O=Example Handels GmbH"), "{}", subject_of(&renewal));
    assert_eq!(renewal.not_after, current.term_ends_at, "the last certificate ends with the term");

    let skipped = outcomes.iter().any(|outcome| {
        matches!(outcome, certkeeper_ra::AutoRenewal::Skipped { old, reason } if *old == lapsed.id && reason.contains("verification must be current"))
    });
    assert!(skipped, "{outcomes:?}");
    assert_eq!(stored(&fixture, &lapsed.id).await.renewal_id, None);
}

#[tokio::test]
async fn dns_auto_records_removed_on_request() {
    let bind = Bind9::start(&["example.test", "auto.test"]);
    let fixture = fixture(&bind).await;
    let now = OffsetDateTime::now_utc();
    let (_, manager_id) = fixture.orders.submit_manager(1, CompanyChoice::New(Box::new(company(false))), &manager(), now).await.unwrap();
    fixture.orders.approve_manager(manager_id, "reviewer", now).await.unwrap();

    for (domain, delete) in [("kept.auto.test", None), ("deleted.auto.test", Some(true))] {
        let order = fixture.orders.create_paid(1, OV_PRODUCT, 1, 1, None, now).await.unwrap();
        let info = OrderInformation { method: ValidationMethod::DnsAuto, ..information(domain, Some(manager_id), PaidKey::Online(KeyAlgorithm::EcdsaP256)) };
        fixture.orders.submit_information(&order.id, &info, now).await.unwrap();
        fixture.orders.submit_order_with(&order.id, "account:1", delete, now).await.unwrap();
        let record_name = format!("_dnsauth.{domain}");
        assert_eq!(bind.query(&record_name, "TXT").len(), 1, "{domain}: the validation record is published");
        fixture.orders.check_order(&order.id, now).await.unwrap();
        let issued = fixture.orders.approve_order(&order.id, "reviewer", now).await.unwrap();
        assert_eq!(issued.status, CertificateStatus::Issued, "{domain}");
        let remaining = bind.query(&record_name, "TXT");
        match delete {
            Some(true) => assert!(remaining.is_empty(), "{domain}: {remaining:?}"),
            _ => assert_eq!(remaining.len(), 1, "{domain}: the record stays unless its deletion was requested"),
        }
    }
}

#[tokio::test]
async fn revocation_cleans_cancelled_reissue_records() {
    let bind = Bind9::start(&["example.test", "auto.test"]);
    let fixture = fixture(&bind).await;
    let now = OffsetDateTime::now_utc();
    let record_name = "_dnsauth.reissued.auto.test";
    let original = issue_ov_at(&fixture, "reissued.auto.test", now, now).await;
    let original_records = bind.query(record_name, "TXT");
    assert_eq!(original_records.len(), 1, "the original's record stays after issuance: {original_records:?}");

    let request = certkeeper_ra::ReissueRequest {
        actor: "account:1".into(),
        method: ValidationMethod::DnsAuto,
        key: certkeeper_ra::ReissueKey::Original,
        reason: "new key".into(),
    };
    let reissue = fixture.orders.reissue(&original.id, &request, now).await.unwrap();
    let token = fixture.orders.validations(&reissue.id).await.unwrap()[0].token.clone();
    assert!(bind.query(record_name, "TXT").iter().any(|value| value.contains(&token)), "the reissue's record is published");

    // An operator revokes the original, as `certkeeper ca revoke` does, which cancels the reissue.
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let shard_of = |serial: &str| SerialNumber::from_hex(serial).map(|serial| i64::from(urls.crl_shard(&serial)));
    let serial = original.serial.clone().unwrap();
    let at = now.unix_timestamp();
    let revocation = NewRevocation {
        serial: &serial,
        issuer_id: original.issuer_id.unwrap(),
        shard: shard_of(&serial).unwrap(),
        certificate_id: Some(&original.id),
        revoked_at: at,
        reason_code: 1,
        not_after: original.not_after.unwrap(),
        created_at: at,
    };
    let log = LogEntry { actor: "operator", action: "revoked", detail: "ca revoke", at };
    let reissuing = stored(&fixture, &original.id).await.status;
    assert_eq!(reissuing, CertificateStatus::Reissuing);
    fixture.store.revoke_certificate(&original.id, reissuing, &revocation, &log, &shard_of).await.unwrap();
    assert_eq!(stored(&fixture, &reissue.id).await.status, CertificateStatus::Cancelled);

    let job = fixture.store.job_by_key(&format!("{}:{}", certkeeper_store::KIND_DNS_AUTO_CLEANUP, reissue.id)).await.unwrap();
    let job = job.expect("the revocation enqueues the clean-up of the cancelled reissue");
    assert!(job.payload.contains(&reissue.id), "{}", job.payload);
    assert_eq!(fixture.orders.remove_dns_auto_records(&reissue.id).await.unwrap(), 1);
    let left = bind.query(record_name, "TXT");
    assert!(!left.iter().any(|value| value.contains(&token)), "{left:?}");
    assert_eq!(left.len(), 1, "the original's record is not the reissue's to delete: {left:?}");
}
