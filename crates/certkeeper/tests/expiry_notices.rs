//! Expiry notices end to end. `certkeeper serve` sends exactly one email per threshold to a real
//! SMTP server (aiosmtpd from the virtualenv) and one signed webhook per threshold to a receiver
//! started by the test. The SMTP server is down during the first run, and two servers share the
//! database after the restart. A revocation is notified once by the same channels.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use certkeeper_notify::channels::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use certkeeper_store::{JOB_DONE, Store};
use certkeeper_testkit::{Service, free_port};
use support::{SmtpSink, binary, emails, run_certkeeper};

const WEBHOOK_SECRET: &str = "expiry-test-webhook-secret-0123";
const THRESHOLDS: [u32; 5] = [30, 15, 7, 3, 1];
/// Limit for each wait on the servers; reaching it fails the test with what was seen.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// A webhook delivery as received: the body and whether its signature verified.
#[derive(Clone, Debug)]
struct Received {
    body: serde_json::Value,
    signature_valid: bool,
}

/// Starts an HMAC-checking webhook receiver on 127.0.0.1 in its own thread.
fn start_webhook_receiver() -> (SocketAddr, Arc<Mutex<Vec<Received>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&received);
    let (sender, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            sender.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new().route(
                "/hook",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let store = Arc::clone(&store);
                    async move {
                        let timestamp = headers.get(TIMESTAMP_HEADER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
                        let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                        let signature_valid = timestamp
                            .is_some_and(|t| certkeeper_notify::verify_webhook_signature(WEBHOOK_SECRET, t, &body, signature));
                        let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                        store.lock().unwrap().push(Received { body, signature_valid });
                        if signature_valid { StatusCode::NO_CONTENT } else { StatusCode::UNAUTHORIZED }
                    }
                }),
            );
            axum::serve(listener, app).await.unwrap();
        });
    });
    (address.recv().unwrap(), received)
}

fn write_config(path: &Path, smtp_port: u16, webhook: SocketAddr) {
    let config = format!(
        r#"
[[products]]
id = 900
name = "One-day test certificate"
level = "dv"
key_algorithms = ["ecdsa-p256", "rsa2048"]
validity_days = 1
revocation_policy = "domain-validation"

[notify]
scan_interval = "1s"
poll_interval = "100ms"
retry_base = "1s"
retry_max = "2s"
max_attempts = 100

[notify.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "certkeeper <pki@example.test>"
to = ["ops@example.test"]
timeout = "5s"

[notify.webhook]
urls = ["http://{webhook}/hook"]
secret = "{WEBHOOK_SECRET}"
timeout = "5s"
"#
    );
    std::fs::write(path, config).unwrap();
}

/// Polls `check` every 100 ms until it returns true or the wait limit passes.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Returns the email jobs and the number of finished expiry scans.
fn job_summary(runtime: &tokio::runtime::Runtime, database: &Path) -> (Vec<certkeeper_store::JobRow>, usize) {
    runtime.block_on(async {
        let store = Store::open(database).await.unwrap();
        let email_jobs = store.jobs_of_kind("notify-email").await.unwrap();
        let scans = store.jobs_of_kind("expiry-scan").await.unwrap().iter().filter(|job| job.state == JOB_DONE).count();
        store.close().await;
        (email_jobs, scans)
    })
}

fn threshold_of(text: &str) -> u32 {
    THRESHOLDS.into_iter().find(|t| text.contains(&format!("This is the {t}-day notice"))).unwrap_or_else(|| panic!("no threshold in:\n{text}"))
}

#[test]
fn one_email_per_threshold_across_restarts() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let data_dir = dir.join("data");
    let mail_dir = dir.join("mail");
    let config = dir.join("certkeeper.toml");
    let database = data_dir.join("certkeeper.db");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();

    let smtp_port = free_port();
    let (webhook, received) = start_webhook_receiver();
    write_config(&config, smtp_port, webhook);
    let config_arg = config.to_str().unwrap();

    // First run: the SMTP server is down, so every email attempt fails and is retried.
    let first = Service::start(&binary(), &data_dir, &["--config", config_arg], &[]);
    let output = Command::new("openssl")
        .args(["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        .args(["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=short.example.test"])
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(output.status.success(), "{output:?}");
    let csr = dir.join("leaf.csr");
    let (ok, _, stderr) = run_certkeeper(&config, &data_dir, &[], &["ca", "sign", "--csr", csr.to_str().unwrap(), "--product", "900"]);
    assert!(ok, "{stderr}");
    let certificate_id = stderr.split("issued certificate ").nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap().to_owned();

    wait_until("five webhook deliveries and failed email attempts", || {
        let (jobs, _) = job_summary(&runtime, &database);
        received.lock().unwrap().len() >= THRESHOLDS.len()
            && jobs.len() == THRESHOLDS.len()
            && jobs.iter().all(|job| job.attempts >= 1 && !job.last_error.is_empty())
    });
    let (jobs, _) = job_summary(&runtime, &database);
    assert!(jobs.iter().all(|job| job.state == "queued"), "{jobs:?}");
    assert!(jobs[0].last_error.contains(&format!("127.0.0.1:{smtp_port}")), "{}", jobs[0].last_error);
    assert!(emails(&mail_dir).is_empty());
    let log = first.stop();
    assert!(log.contains("job failed; retrying"), "{log}");

    // Second run: the SMTP server is up and two servers share the database.
    let _sink = SmtpSink::start(smtp_port, &mail_dir);
    let second = Service::start(&binary(), &data_dir, &["--config", config_arg], &[]);
    let third = Service::start(&binary(), &data_dir, &["--config", config_arg], &[]);
    wait_until("every email delivered", || {
        let (jobs, _) = job_summary(&runtime, &database);
        jobs.iter().all(|job| job.state == JOB_DONE)
    });
    // A revocation is notified once, although both servers see it.
    let (ok, _, stderr) = run_certkeeper(&config, &data_dir, &[], &["ca", "revoke", "--certificate", &certificate_id, "--reason", "1"]);
    assert!(ok, "{stderr}");
    wait_until("the revocation webhook", || {
        received.lock().unwrap().iter().any(|delivery| delivery.body["type"] == "certificate.revoked")
    });
    wait_until("the revocation email", || emails(&mail_dir).len() > THRESHOLDS.len());

    // Let both servers run further scans after the deliveries, which must add nothing.
    let (_, scans_before) = job_summary(&runtime, &database);
    wait_until("three more expiry scans", || job_summary(&runtime, &database).1 >= scans_before + 3);
    second.stop();
    third.stop();

    let (revocations, messages): (Vec<String>, Vec<String>) =
        emails(&mail_dir).into_iter().partition(|message| message.contains("was revoked"));
    assert_eq!(revocations.len(), 1, "{revocations:#?}");
    assert!(revocations[0].contains(&format!("Subject: Certificate {certificate_id} was revoked")), "{}", revocations[0]);
    assert_eq!(messages.len(), THRESHOLDS.len(), "{messages:#?}");
    let mut per_threshold: BTreeMap<u32, usize> = BTreeMap::new();
    for message in &messages {
        *per_threshold.entry(threshold_of(message)).or_default() += 1;
        assert!(message.contains("To: ops@example.test"), "{message}");
        assert!(message.contains(&certificate_id), "{message}");
        assert!(message.contains("Subject: Certificate for short.example.test expires in 0 days"), "{message}");
        assert!(message.contains(" UTC."), "{message}");
    }
    assert_eq!(per_threshold.keys().copied().collect::<Vec<_>>(), [1, 3, 7, 15, 30]);
    assert!(per_threshold.values().all(|&count| count == 1), "{per_threshold:?}");

    let (revoked, deliveries): (Vec<Received>, Vec<Received>) =
        received.lock().unwrap().iter().cloned().partition(|delivery| delivery.body["type"] == "certificate.revoked");
    assert_eq!(revoked.len(), 1, "{revoked:#?}");
    assert!(revoked[0].signature_valid);
    assert_eq!(revoked[0].body["data"]["reason_code"], 1);
    assert_eq!(deliveries.len(), THRESHOLDS.len(), "{deliveries:#?}");
    let mut ids: HashMap<String, usize> = HashMap::new();
    for delivery in &deliveries {
        assert!(delivery.signature_valid, "{delivery:?}");
        assert_eq!(delivery.body["type"], "certificate.expiring");
        assert_eq!(delivery.body["certificate_id"], certificate_id.as_str());
        *ids.entry(delivery.body["id"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    assert!(ids.values().all(|&count| count == 1), "{ids:?}");
}
