//! The access log: one line per request with fixed keys, and never the signature.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use certkeeper_api::router;
use common::*;
use tower::ServiceExt;

/// Collects formatted log output in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

async fn logged_lines(call: TestCall) -> Vec<String> {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    router(test_state()).oneshot(call.build()).await.unwrap();
    capture
        .text()
        .lines()
        .filter(|line| line.contains("certkeeper_api::access"))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn success_logs_one_line() {
    let call = TestCall::post("RevokeCertificate", r#"{"CertificateId": "abcd1234"}"#);
    let signature = call.authorization_header();
    let signature = signature.rsplit("Signature=").next().unwrap().to_owned();

    let lines = logged_lines(call).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    for field in [
        "method=POST",
        "action=RevokeCertificate",
        "status=\"ok\"",
        "duration_ms=",
        "request_id=",
        &format!("secret_id={SECRET_ID}"),
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(!line.contains(&signature), "signature logged: {line}");
    assert!(!line.contains(SECRET_KEY), "secret key logged: {line}");
}

#[tokio::test]
async fn error_logs_code_as_status() {
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.secret_key = "WrongSecretKey000000000000000000".into();

    let lines = logged_lines(call).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert!(
        line.contains("status=\"AuthFailure.SignatureFailure\""),
        "{line}"
    );
    assert!(line.contains("action=DescribeCertificates"), "{line}");
}

#[tokio::test]
async fn missing_headers_log_placeholder() {
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.action = None;
    call.authorization = Some(None);

    let lines = logged_lines(call).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("action=- "), "{}", lines[0]);
    assert!(lines[0].contains("secret_id=-"), "{}", lines[0]);
}
