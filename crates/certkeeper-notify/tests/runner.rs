//! The job runner with real webhook receivers on 127.0.0.1: signed deliveries, retries with
//! backoff after failures, an unreachable URL that does not hold up another, de-duplicated
//! events and review reminders. Time is passed in, so no test waits for a retry delay.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm, ValidationMethod};
use certkeeper_notify::channels::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use certkeeper_notify::{Event, KIND_WEBHOOK, NotifyConfig, NotifyService};
use certkeeper_store::{JOB_DEAD, JOB_DONE, JOB_QUEUED, LogEntry, NewRevocationRequest, Store};

const SECRET: &str = "runner-test-secret-0123456789";
/// 2030-01-01T00:00:00Z, after the real clock, so the runner's finish times equal these.
const T0: i64 = 1_893_456_000;

/// A delivery as received by the test receiver.
#[derive(Clone, Debug)]
struct Received {
    event_header: String,
    delivery_header: String,
    timestamp_header: String,
    signature_header: String,
    signature_valid: bool,
    raw_body: Vec<u8>,
    body: serde_json::Value,
}

/// Starts a receiver that returns 503 to the first `failures` requests and 204 afterwards.
async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Received>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(AtomicUsize::new(0));
    let store = Arc::clone(&received);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let store = Arc::clone(&store);
            let calls = Arc::clone(&calls);
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) < failures {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let timestamp: i64 = header(TIMESTAMP_HEADER).parse().unwrap_or(0);
                let signature_valid = certkeeper_notify::verify_webhook_signature(SECRET, timestamp, &body, &header(SIGNATURE_HEADER));
                store.lock().unwrap().push(Received {
                    event_header: header(EVENT_HEADER),
                    delivery_header: header(DELIVERY_HEADER),
                    timestamp_header: header(TIMESTAMP_HEADER),
                    signature_header: header(SIGNATURE_HEADER),
                    signature_valid,
                    raw_body: body.to_vec(),
                    body: serde_json::from_slice(&body).unwrap_or_default(),
                });
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/hook"), received)
}

/// Returns a URL on a loopback port that nothing listens on.
fn closed_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/hook")
}

async fn service(dir: &tempfile::TempDir, urls: &[String]) -> (Store, NotifyService) {
    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
    let list: Vec<String> = urls.iter().map(|url| format!("\"{url}\"")).collect();
    let text = format!(
        "retry_base = \"30s\"\nretry_max = \"10m\"\nmax_attempts = 3\n[webhook]\nurls = [{}]\nsecret = \"{SECRET}\"\ntimeout = \"2s\"\n",
        list.join(", ")
    );
    let config: NotifyConfig = toml::from_str(&text).unwrap();
    (store.clone(), NotifyService::new(store, config).unwrap())
}

fn revoked_event() -> Event {
    Event::revoked(Some("cert1"), Some(7), "0a1b2c", 1, T0)
}

#[tokio::test]
async fn webhook_is_signed_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let (url, received) = receiver(0).await;
    let (store, service) = service(&dir, &[url]).await;

    assert_eq!(service.notifier.enqueue(&revoked_event(), T0).await.unwrap(), 1);
    assert_eq!(service.notifier.enqueue(&revoked_event(), T0).await.unwrap(), 0, "the same event id adds nothing");
    service.runner.run_due(T0).await;
    service.runner.run_due(T0 + 3600).await;

    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 1, "{deliveries:#?}");
    let delivery = &deliveries[0];
    assert!(delivery.signature_valid);
    assert_eq!(delivery.event_header, "certificate.revoked");
    assert_eq!(delivery.delivery_header, "revoked:0a1b2c");
    assert_eq!(delivery.body["type"], "certificate.revoked");
    assert_eq!(delivery.body["certificate_id"], "cert1");
    assert_eq!(delivery.body["data"]["reason_code"], 1);

    // The OpenSSL CLI computes the same HMAC over "<timestamp>.<body>", as receivers would.
    let mut signed = format!("{}.", delivery.timestamp_header).into_bytes();
    signed.extend_from_slice(&delivery.raw_body);
    let mut openssl = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", SECRET, "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    std::io::Write::write_all(&mut openssl.stdin.take().unwrap(), &signed).unwrap();
    let output = openssl.wait_with_output().unwrap();
    let digest = String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap_or("").to_owned();
    assert_eq!(delivery.signature_header, format!("sha256={digest}"));

    let jobs = store.jobs_of_kind(KIND_WEBHOOK).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JOB_DONE);
}

#[tokio::test]
async fn failed_webhook_is_retried_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let (url, received) = receiver(2).await;
    let (store, service) = service(&dir, &[url]).await;
    service.notifier.enqueue(&revoked_event(), T0).await.unwrap();

    service.runner.run_due(T0).await;
    let job = store.jobs_of_kind(KIND_WEBHOOK).await.unwrap().remove(0);
    assert_eq!(job.state, JOB_QUEUED);
    assert_eq!(job.attempts, 1);
    assert!(job.last_error.contains("HTTP 503"), "{}", job.last_error);
    assert_eq!(job.run_after, T0 + 30);

    assert_eq!(service.runner.run_due(T0 + 29).await, 0, "not before the backoff delay");
    service.runner.run_due(T0 + 30).await;
    let job = store.jobs_of_kind(KIND_WEBHOOK).await.unwrap().remove(0);
    assert_eq!(job.attempts, 2);
    assert_eq!(job.run_after, T0 + 30 + 60, "the second delay doubles");

    service.runner.run_due(T0 + 90).await;
    let job = store.jobs_of_kind(KIND_WEBHOOK).await.unwrap().remove(0);
    assert_eq!(job.state, JOB_DONE);
    assert_eq!(job.attempts, 3);
    assert_eq!(received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn unreachable_webhook_does_not_block_others() {
    let dir = tempfile::tempdir().unwrap();
    let (url, received) = receiver(0).await;
    let closed = closed_url();
    let (store, service) = service(&dir, &[closed.clone(), url]).await;
    service.notifier.enqueue(&revoked_event(), T0).await.unwrap();

    service.runner.run_due(T0).await;
    assert_eq!(received.lock().unwrap().len(), 1, "the reachable receiver got its delivery");
    let jobs = store.jobs_of_kind(KIND_WEBHOOK).await.unwrap();
    let failed = jobs.iter().find(|job| job.payload.contains(&closed)).unwrap();
    assert_eq!(failed.state, JOB_QUEUED);
    assert!(failed.last_error.contains("POST to"), "{}", failed.last_error);

    // The retries run out and the job is kept as dead with its error.
    service.runner.run_due(T0 + 30).await;
    service.runner.run_due(T0 + 90).await;
    let failed = store.job(failed.id).await.unwrap().unwrap();
    assert_eq!(failed.state, JOB_DEAD);
    assert_eq!(failed.attempts, 3);
    assert!(!failed.last_error.is_empty());
}

#[tokio::test]
async fn review_reminders_and_decision() {
    let dir = tempfile::tempdir().unwrap();
    let (url, received) = receiver(0).await;
    let (store, service) = service(&dir, &[url]).await;
    let record = CertificateRecord {
        id: "reviewed1".to_owned(),
        account_id: None,
        product_id: 4,
        status: CertificateStatus::Issued,
        status_message: String::new(),
        source: CertificateSource::Issued,
        validation_method: ValidationMethod::None,
        domain: "review.example.test".to_owned(),
        names: vec!["review.example.test".to_owned()],
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: String::new(),
        project_id: 0,
        serial: None,
        issuer_id: None,
        not_before: Some(T0 - 86_400),
        not_after: Some(T0 + 90 * 86_400),
        certificate_der: None,
        csr_der: None,
        sealed_private_key: None,
        renewed_from: None,
        renewal_id: None,
        reissued_from: None,
        reissued_by: None,
        auto_renew: false,
        term_ends_at: None,
        created_at: T0,
        updated_at: T0,
    };
    let log = LogEntry { actor: "operator", action: "apply", detail: "", at: T0 };
    store.insert_certificate(&record, &log).await.unwrap();
    let request = NewRevocationRequest {
        policy: "review-only",
        reason_code: 1,
        reason: "key leaked",
        requested_by: "account:1",
        validations: &[],
        review_kind: Some(certkeeper_store::REVIEW_KIND_REVOKE),
        awaiting_letter: false,
        status_message: "waiting for review",
    };
    let log = LogEntry { actor: "account:1", action: "revoke", detail: "key leaked", at: T0 };
    let review_id = store.start_revocation("reviewed1", &request, &log).await.unwrap().unwrap();

    assert_eq!(service.notifier.remind_reviewers(T0 + 3600).await.unwrap(), 0, "no reminder within the first day");
    assert_eq!(service.notifier.remind_reviewers(T0 + 86_400).await.unwrap(), 1);
    assert_eq!(service.notifier.remind_reviewers(T0 + 90_000).await.unwrap(), 0, "one reminder per day");
    assert_eq!(service.notifier.remind_reviewers(T0 + 2 * 86_400).await.unwrap(), 1);
    service.runner.run_due(T0 + 2 * 86_400).await;

    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 2, "{deliveries:#?}");
    assert!(deliveries.iter().all(|d| d.event_header == "review.reminder" && d.signature_valid));
    assert_eq!(deliveries[0].delivery_header, format!("review:{review_id}:reminder:1"));
    assert_eq!(deliveries[1].delivery_header, format!("review:{review_id}:reminder:2"));

    // The decision is notified once, however often the check runs and however it was made,
    // even when the first check comes days later.
    let decided_at = T0 + 2 * 86_400 + 60;
    let log = LogEntry { actor: "operator", action: "cancelRevoke", detail: "", at: decided_at };
    assert!(store.reject_review(review_id, "operator", "no evidence", "rejected: no evidence", &log).await.unwrap());
    let checked_at = decided_at + 3 * 86_400;
    assert_eq!(service.notifier.notify_decisions(checked_at).await.unwrap(), 1);
    assert_eq!(service.notifier.notify_decisions(checked_at + 60).await.unwrap(), 0);
    assert_eq!(service.notifier.remind_reviewers(checked_at).await.unwrap(), 0, "a decided review gets no reminder");
    service.runner.run_due(checked_at + 60).await;
    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 3, "{deliveries:#?}");
    let decision = &deliveries[2];
    assert_eq!(decision.event_header, "review.decided");
    assert_eq!(decision.delivery_header, format!("review:{review_id}:decided"));
    assert_eq!(decision.body["data"]["decision"], "rejected");
    assert_eq!(decision.body["data"]["reason"], "no evidence");
    assert!(decision.signature_valid);
}

#[tokio::test]
async fn requested_reminders_each_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let (url, received) = receiver(0).await;
    let (_store, service) = service(&dir, &[url]).await;
    let first = Event::requested_review_reminder(7, "cert7", "revoke-letter", T0, T0 + 60);
    let again = Event::requested_review_reminder(7, "cert7", "revoke-letter", T0, T0 + 60);
    let later = Event::requested_review_reminder(7, "cert7", "revoke-letter", T0, T0 + 3_660);
    assert_eq!(service.notifier.enqueue(&first, T0 + 60).await.unwrap(), 1);
    assert_eq!(service.notifier.enqueue(&again, T0 + 60).await.unwrap(), 0, "the same request is delivered once");
    assert_eq!(service.notifier.enqueue(&later, T0 + 3_660).await.unwrap(), 1, "a reminder an hour later is a new event");
    service.runner.run_due(T0 + 3_660).await;

    let deliveries = received.lock().unwrap().clone();
    assert_eq!(deliveries.len(), 2, "{deliveries:#?}");
    assert!(deliveries.iter().all(|d| d.event_header == "review.reminder" && d.signature_valid));
    assert_eq!(deliveries[0].delivery_header, format!("review:7:requested-reminder:{}", T0 + 60));
    assert_eq!(deliveries[1].delivery_header, format!("review:7:requested-reminder:{}", T0 + 3_660));
    assert!(deliveries[0].body["subject"].as_str().unwrap_or("").starts_with("Reminder from the owner"), "{:?}", deliveries[0].body);
}

#[tokio::test]
async fn runner_leaves_unhandled_kinds_queued() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
    let settings = certkeeper_notify::RunnerSettings {
        poll_interval: std::time::Duration::from_secs(1),
        lease: std::time::Duration::from_secs(60),
        backoff: certkeeper_store::Backoff { base_seconds: 30, max_seconds: 600 },
        max_attempts: 3,
    };
    let mut runner = certkeeper_notify::JobRunner::new(store.clone(), settings);
    let handled = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&handled);
    runner.handle(
        "handled",
        Arc::new(move |_job, _now| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(()) })
        }),
    );
    let job = |kind: &str| certkeeper_store::NewJob {
        kind: kind.to_owned(),
        unique_key: format!("{kind}:1"),
        payload: "{}".to_owned(),
        run_after: T0,
        max_attempts: 3,
    };
    store.enqueue_job(&job("handled"), T0).await.unwrap();
    let foreign_id = store.enqueue_job(&job("foreign"), T0).await.unwrap().unwrap();

    assert_eq!(runner.run_due(T0).await, 1);
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    let foreign = store.job(foreign_id).await.unwrap().unwrap();
    assert_eq!(foreign.state, JOB_QUEUED);
    assert_eq!(foreign.attempts, 0);
    assert_eq!(foreign.last_error, "");
}
