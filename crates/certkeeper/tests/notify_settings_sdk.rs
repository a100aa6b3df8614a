//! Per-account expiry settings and the per-certificate switch, set with the Tencent Cloud Python
//! SDK against `certkeeper serve`, then honoured by an expiry scan. The account's recipient gets
//! exactly one email per account threshold in a real SMTP server (aiosmtpd). The switched-off
//! certificate gets none.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use certkeeper_testkit::{Service, free_port};
use serde_json::{Value, json};

/// Limit for each wait on the servers; reaching it fails the test with what was seen.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

fn venv() -> PathBuf {
    let path = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    assert!(path.join("bin/python").exists(), "no Python virtualenv at {}; run scripts/install-test-tools.sh", path.display());
    path
}

/// The aiosmtpd sink, stopped on drop.
struct SmtpSink(Child);

impl SmtpSink {
    fn start(port: u16, directory: &Path) -> SmtpSink {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/smtp_sink.py");
        let mut child = Command::new(venv().join("bin/python"))
            .arg(script)
            .arg(port.to_string())
            .arg(directory)
            .stdout(Stdio::piped())
            .spawn()
            .expect("the venv's python starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start; is aiosmtpd installed in the venv?");
        SmtpSink(child)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn certkeeper(config: &Path, data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("CERTKEEPER_MASTER_KEY")
        .output()
        .expect("run certkeeper");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn emails(directory: &Path) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
}

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
    let (ok, stdout, stderr) = certkeeper(&config, &data_dir, &["account", "create", "owner", "--json"]);
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

    let (ok, stdout, stderr) = certkeeper(&config, &data_dir, &["notify", "scan"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 notices recorded"), "{stdout}");
    let (ok, stdout, _) = certkeeper(&config, &data_dir, &["notify", "scan"]);
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
