//! Per-account expiry settings and the per-certificate switch, set with the Tencent Cloud Python
//! SDK against `certkeeper serve`, then honoured by an expiry scan. The account's recipient gets
//! exactly one email per account threshold in a real SMTP server (aiosmtpd). The switched-off
//! certificate gets none.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use certkeeper_testkit::{Service, free_port};
use serde_json::{Value, json};
use support::{SmtpSink, binary, emails, run_certkeeper, venv};

/// Limit for each wait on the servers; reaching it fails the test with what was seen.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

#[test]
fn sdk_settings_drive_the_scan() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let data_dir = dir.join("data");
    let mail_dir = dir.join("mail");
    let config = dir.join("certkeeper.toml");
    let smtp_port = free_port();
    // The free DV product issues one-day certificates without validation here. An hourly scan
    // runs once at start-up, before any certificate exists; the test then scans on request.
    std::fs::write(
        &config,
        format!(
            r#"
[[products]]
id = 83
name = "One-day test certificate"
level = "dv"
key_algorithms = ["rsa2048", "ecdsa-p256"]
validity_days = 1
revocation_policy = "domain-validation"
free = true
dangerous_skip_domain_validation = true

[notify]
scan_interval = "1h"
poll_interval = "100ms"

[notify.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "plain"
from = "pki@example.test"
to = ["ops@example.test"]
"#
        ),
    )
    .unwrap();
    let _sink = SmtpSink::start(smtp_port, &mail_dir);
    let config_arg = config.to_str().unwrap();
    let service = Service::start(&binary(), &data_dir, &["--config", config_arg], &[]);
    let (ok, stdout, stderr) = run_certkeeper(&config, &data_dir, &[], &["account", "create", "owner", "--json"]);
    assert!(ok, "{stderr}");
    let account: Value = serde_json::from_str(&stdout).unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/notify_settings.py");
    let output = Command::new(venv().join("bin/python"))
        .arg(script)
        .arg(format!("127.0.0.1:{}", service.port()))
        .env("TENCENTCLOUD_SECRET_ID", account["secret_id"].as_str().unwrap())
        .env("TENCENTCLOUD_SECRET_KEY", account["secret_key"].as_str().unwrap())
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .output()
        .expect("the venv's python starts");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    let notified = result["notified"].as_str().unwrap().to_owned();
    let ignored = result["ignored"].as_str().unwrap().to_owned();
    assert_eq!(result["switched"], json!([ignored]));
    assert_eq!(result["bad_switch"], "InvalidParameterValue");
    assert_eq!(result["is_ignore"][&ignored], true, "{result}");
    assert_eq!(result["is_ignore"][&notified], false, "{result}");
    assert_eq!(result["settings"]["ExpiringThresholds"], json!([3, 1]));
    assert_eq!(result["settings"]["Emails"], json!(["owner@example.test"]));
    assert_eq!(result["bad_settings"], "InvalidParameterValue");

    let (ok, stdout, stderr) = run_certkeeper(&config, &data_dir, &[], &["notify", "scan"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 notices recorded"), "{stdout}");
    let (ok, stdout, _) = run_certkeeper(&config, &data_dir, &[], &["notify", "scan"]);
    assert!(ok);
    assert!(stdout.contains("0 notices recorded"), "{stdout}");

    let deadline = Instant::now() + WAIT_LIMIT;
    while emails(&mail_dir).len() < 2 {
        assert!(Instant::now() < deadline, "gave up waiting for two emails; log:\n{}", service.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = service.stop();
    let messages = emails(&mail_dir);
    assert_eq!(messages.len(), 2, "{messages:#?}\n{log}");
    // The two deliveries run concurrently, so their order is not fixed.
    let mut thresholds = Vec::new();
    for message in &messages {
        assert!(message.contains("To: owner@example.test"), "{message}");
        assert!(message.contains(&notified), "{message}");
        assert!(!message.contains(&ignored), "{message}");
        let threshold = [3, 1].into_iter().find(|t| message.contains(&format!("This is the {t}-day notice.")));
        thresholds.push(threshold.unwrap_or_else(|| panic!("no 3- or 1-day notice in {message}")));
    }
    thresholds.sort_unstable();
    assert_eq!(thresholds, [1, 3]);
}
