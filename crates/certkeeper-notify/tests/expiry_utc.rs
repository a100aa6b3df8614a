//! Expiry arithmetic in UTC, with the service time zone set to Europe/Berlin: notices at the
//! right minute across the March clock change, expiry shown in UTC, and notAfter values on both
//! sides of the UTCTime/GeneralizedTime boundary of RFC 5280 §4.1.2.5.

use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm, ValidationMethod};
use certkeeper_notify::notifier::EmailDelivery;
use certkeeper_notify::{ExpiryScanner, NotifyConfig, Notifier};
use certkeeper_store::{CertificateFilter, CertificateOrder, LogEntry, NewExpiryNotice, Store};
use time::macros::datetime;

/// 2031-03-30T01:30:00Z, 03:30 CEST: the hour after Berlin moves its clocks forward.
const C1_NOT_AFTER: i64 = datetime!(2031-03-30 01:30:00 UTC).unix_timestamp();

fn record(id: &str, account_id: i64, domain: &str, not_after: i64, der: Option<Vec<u8>>) -> CertificateRecord {
    CertificateRecord {
        id: id.to_owned(),
        account_id: Some(account_id),
        product_id: 1,
        status: CertificateStatus::Issued,
        status_message: String::new(),
        source: CertificateSource::Issued,
        validation_method: ValidationMethod::Dns,
        domain: domain.to_owned(),
        names: vec![domain.to_owned()],
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: String::new(),
        project_id: 0,
        serial: None,
        issuer_id: None,
        not_before: Some(not_after - 90 * 86_400),
        not_after: Some(not_after),
        certificate_der: der,
        csr_der: None,
        sealed_private_key: None,
        renewed_from: None,
        renewal_id: None,
        reissued_from: None,
        reissued_by: None,
        auto_renew: false,
        term_ends_at: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// Builds a configuration with an SMTP server, so that notices get email jobs to inspect. The
/// jobs are never run here.
fn config() -> NotifyConfig {
    let text = "[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"pki@example.test\"\nto = [\"ops@example.test\"]\n";
    toml::from_str(text).unwrap()
}

async fn setup() -> (tempfile::TempDir, Store, ExpiryScanner, i64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
    let account = store.create_account("owner", "user", 0).await.unwrap();
    store.set_notification_settings(account, "30,7,1", "owner@example.test", 0).await.unwrap();
    let config = config();
    let defaults = config.validate().unwrap();
    let notifier = Notifier::new(store.clone(), config).unwrap();
    (dir, store.clone(), ExpiryScanner::new(notifier, defaults), account)
}

async fn email_texts(store: &Store, certificate_id: &str) -> Vec<(String, String)> {
    store
        .jobs_of_kind("notify-email")
        .await
        .unwrap()
        .iter()
        .map(|job| serde_json::from_str::<EmailDelivery>(&job.payload).unwrap())
        .filter(|delivery| delivery.event.certificate_id.as_deref() == Some(certificate_id))
        .map(|delivery| (delivery.event.subject, delivery.event.text))
        .collect()
}

#[tokio::test]
async fn notices_follow_utc_across_the_clock_change() {
    // The process time zone must not matter; nothing in the expiry path reads it.
    // SAFETY: no other code of this test binary reads or writes the environment meanwhile.
    unsafe { std::env::set_var("TZ", "Europe/Berlin") };
    let (_dir, store, scanner, account) = setup().await;
    let log = LogEntry { actor: "system", action: "apply", detail: "", at: 0 };
    store.insert_certificate(&record("c1", account, "www.example.test", C1_NOT_AFTER, None), &log).await.unwrap();
    let earlier = NewExpiryNotice { certificate_id: "c1", threshold_days: 30, days_left: 29, not_after: C1_NOT_AFTER };
    assert!(store.record_expiry_notice(&earlier, &[], 0).await.unwrap());

    let report = scanner.scan(datetime!(2031-03-23 01:29:00 UTC).unix_timestamp()).await.unwrap();
    assert_eq!(report.candidates, 1);
    assert_eq!(report.notices, 0, "7 days and 1 minute are left, so the 7-day notice is not due");
    assert_eq!(store.expiry_notices_of("c1").await.unwrap(), [30]);

    let at = datetime!(2031-03-23 01:31:00 UTC).unix_timestamp();
    assert_eq!(scanner.scan(at).await.unwrap().notices, 1);
    assert_eq!(scanner.scan(at).await.unwrap().notices, 0, "a second scan sends nothing twice");
    assert_eq!(store.expiry_notices_of("c1").await.unwrap(), [30, 7]);
    let texts = email_texts(&store, "c1").await;
    assert_eq!(texts.len(), 1);
    let (subject, text) = &texts[0];
    assert_eq!(subject, "Certificate for www.example.test expires in 6 days");
    assert!(text.contains("expires at 2031-03-30 01:30:00 UTC."), "{text}");
    assert!(text.contains("Days left: 6 "), "{text}");
    assert!(text.contains("This is the 7-day notice."), "{text}");

    // One day and one minute before expiry the 1-day notice is not due yet.
    assert_eq!(scanner.scan(datetime!(2031-03-29 01:29:00 UTC).unix_timestamp()).await.unwrap().notices, 0);
    let at = datetime!(2031-03-29 01:31:00 UTC).unix_timestamp();
    assert_eq!(scanner.scan(at).await.unwrap().notices, 1);
    assert_eq!(scanner.scan(at).await.unwrap().notices, 0);
    assert_eq!(store.expiry_notices_of("c1").await.unwrap(), [30, 7, 1]);
    let texts = email_texts(&store, "c1").await;
    assert_eq!(texts.len(), 2, "exactly one 7-day and one 1-day email: {texts:#?}");
    let (subject, text) = &texts[1];
    assert_eq!(subject, "Certificate for www.example.test expires in 0 days");
    assert!(text.contains("expires at 2031-03-30 01:30:00 UTC."), "{text}");
    assert!(text.contains("This is the 1-day notice."), "{text}");

    // Nothing is sent once the certificate has expired.
    assert_eq!(scanner.scan(C1_NOT_AFTER).await.unwrap().notices, 0);
}

/// Builds a self-signed certificate with the given notAfter and returns its DER.
fn certificate_expiring(domain: &str, not_after: time::OffsetDateTime) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec![domain.to_owned()]).unwrap();
    params.not_before = datetime!(2049-01-01 00:00:00 UTC);
    params.not_after = not_after;
    params.self_signed(&key).unwrap().der().to_vec()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[tokio::test]
async fn utctime_and_generalizedtime_order() {
    let (_dir, store, scanner, account) = setup().await;
    let c2 = certificate_expiring("c2.example.test", datetime!(2049-12-31 23:59:59 UTC));
    let c3 = certificate_expiring("c3.example.test", datetime!(2050-01-01 00:00:00 UTC));
    // RFC 5280 §4.1.2.5: UTCTime up to 2049, GeneralizedTime from 2050 on.
    assert!(contains(&c2, b"\x17\x0d491231235959Z"), "C2 must carry UTCTime 491231235959Z");
    assert!(contains(&c3, b"\x18\x0f20500101000000Z"), "C3 must carry GeneralizedTime 20500101000000Z");

    let c2_not_after = certkeeper_pki::describe(&c2).unwrap().not_after;
    let c3_not_after = certkeeper_pki::describe(&c3).unwrap().not_after;
    assert_eq!(c2_not_after, datetime!(2049-12-31 23:59:59 UTC).unix_timestamp(), "C2 is read as 2049, not 1949");
    assert_eq!(c3_not_after, datetime!(2050-01-01 00:00:00 UTC).unix_timestamp());

    let log = LogEntry { actor: "system", action: "apply", detail: "", at: 0 };
    // Inserted in reverse order, so only the notAfter values can put C2 first.
    store.insert_certificate(&record("c3", account, "c3.example.test", c3_not_after, Some(c3)), &log).await.unwrap();
    store.insert_certificate(&record("c2", account, "c2.example.test", c2_not_after, Some(c2)), &log).await.unwrap();

    let filter = CertificateFilter { account_id: Some(account), ..CertificateFilter::default() };
    let (_, listed) = store.list_certificates(&filter, CertificateOrder::ExpiryAscending, 0, 10).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|record| record.id.as_str()).collect();
    assert_eq!(ids, ["c2", "c3"]);

    // Seven days before C3 expires, C2 has 6 days and 23:59:59 left and C3 exactly 7 days.
    let now = datetime!(2049-12-25 00:00:00 UTC).unix_timestamp();
    let candidates = store.expiry_candidates(now, now + 30 * 86_400).await.unwrap();
    let ids: Vec<&str> = candidates.iter().map(|c| c.certificate_id.as_str()).collect();
    assert_eq!(ids, ["c2", "c3"]);
    assert_eq!(scanner.scan(now).await.unwrap().notices, 3);
    assert_eq!(store.expiry_notices_of("c2").await.unwrap(), [30, 7]);
    assert_eq!(store.expiry_notices_of("c3").await.unwrap(), [30]);
    let texts = email_texts(&store, "c2").await;
    assert!(texts.iter().all(|(_, text)| text.contains("expires at 2049-12-31 23:59:59 UTC.")), "{texts:#?}");
}

#[tokio::test]
async fn later_larger_threshold_is_not_sent() {
    let (_dir, store, scanner, account) = setup().await;
    let log = LogEntry { actor: "system", action: "apply", detail: "", at: 0 };
    store.insert_certificate(&record("c4", account, "late.example.test", C1_NOT_AFTER, None), &log).await.unwrap();
    let at = C1_NOT_AFTER - 5 * 86_400;
    assert_eq!(scanner.scan(at).await.unwrap().notices, 2, "the 30- and 7-day notices");

    // The account adds a 14-day threshold after the 7-day notice went out.
    store.set_notification_settings(account, "30,14,7,1", "owner@example.test", at).await.unwrap();
    assert_eq!(scanner.scan(at + 60).await.unwrap().notices, 0);
    assert_eq!(store.expiry_notices_of("c4").await.unwrap(), [30, 7]);
}
