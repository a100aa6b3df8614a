//! Interoperability with the official Tencent Cloud Python SDK and tccli.
//!
//! These tests need the Python virtualenv that `scripts/install-test-tools.sh` creates in
//! `<workspace>/.venv`, or one named by `CERTKEEPER_VENV`. They fail, rather than skip, when it
//! is missing.

mod common;

use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use certkeeper_api::{ApiState, router};
use common::*;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::process::Command;

const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

fn venv() -> PathBuf {
    let path = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    assert!(
        path.join("bin/python").exists() && path.join("bin/tccli").exists(),
        "Python virtualenv with tencentcloud-sdk-python and tccli not found at {}; \
         run scripts/install-test-tools.sh or set CERTKEEPER_VENV",
        path.display()
    );
    path
}

/// Starts the router with the echo handler and the system clock, because the SDK signs with
/// the real time.
async fn start_server() -> u16 {
    let state = ApiState::new(Arc::new(FakeCredentials::new()), Arc::new(EchoHandler));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    port
}

/// Returns a command with proxy variables removed, so the SDK connects to loopback directly.
fn command(program: PathBuf) -> Command {
    let mut command = Command::new(program);
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(name);
    }
    command.env("NO_PROXY", "127.0.0.1,localhost");
    command.kill_on_drop(true);
    command
}

async fn run(mut command: Command) -> Output {
    tokio::time::timeout(CHILD_TIMEOUT, command.output())
        .await
        .expect("child process timed out")
        .expect("child process failed to start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_signatures_verify() {
    let venv = venv();
    let port = start_server().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/sdk_client.py");

    let mut command = command(venv.join("bin/python"));
    command
        .arg(script)
        .arg(port.to_string())
        .arg(SECRET_ID)
        .arg(SECRET_KEY);
    let output = run(command).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    let results: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("script prints JSON lines"))
        .collect();
    let expected = [
        "sdk_post",
        "sdk_get",
        "sdk_unsigned_payload",
        "sdk_non_ascii",
        "sdk_error_code",
        "sdk_wrong_key",
        "sdk_legacy_signature",
        "raw_unchanged",
        "raw_body_byte_changed",
        "raw_host_changed",
        "raw_content_type_changed",
        "raw_wrong_key",
        "raw_six_minutes_old",
        "raw_get_unchanged",
        "raw_get_query_changed",
    ];
    for name in expected {
        let result = results
            .iter()
            .find(|result| result["case"] == name)
            .unwrap_or_else(|| panic!("case {name} did not run; stderr: {stderr}"));
        assert_eq!(result["ok"], true, "case {name}: {}", result["detail"]);
    }
    assert!(output.status.success(), "script failed: {stdout}\n{stderr}");
}

async fn tccli(port: u16, secret_key: &str, arguments: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut command = command(venv().join("bin/tccli"));
    command
        .args(arguments)
        .arg("--endpoint")
        .arg(format!("http://127.0.0.1:{port}"))
        .env("HOME", home.path())
        .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", secret_key);
    run(command).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tccli_lists_certificates() {
    let port = start_server().await;
    let output = tccli(
        port,
        SECRET_KEY,
        &[
            "ssl",
            "DescribeCertificates",
            "--CertificateStatus",
            "[1,9]",
            "--Limit",
            "5",
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tccli failed: {stdout}\n{stderr}");

    let response: Value = serde_json::from_str(&stdout).expect("tccli prints JSON");
    assert_eq!(response["TotalCount"], 2, "{response}");
    let certificates = response["Certificates"]
        .as_array()
        .expect("Certificates array");
    let statuses: Vec<&Value> = certificates.iter().map(|item| &item["Status"]).collect();
    assert_eq!(statuses, [1, 9]);
    // The echo handler puts the SecretId it authenticated into Alias.
    assert_eq!(certificates[0]["Alias"], SECRET_ID);
    assert!(response["RequestId"].is_string(), "{response}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tccli_reports_error_code() {
    let port = start_server().await;
    let output = tccli(
        port,
        SECRET_KEY,
        &["ssl", "RevokeCertificate", "--CertificateId", "missing0"],
    )
    .await;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(255), "{all}");
    assert!(all.contains("FailedOperation.CertificateNotFound"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tccli_wrong_key_fails() {
    let port = start_server().await;
    let output = tccli(
        port,
        "WrongSecretKey000000000000000000",
        &["ssl", "DescribeCertificates"],
    )
    .await;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(255), "{all}");
    assert!(all.contains("AuthFailure.SignatureFailure"), "{all}");
}
