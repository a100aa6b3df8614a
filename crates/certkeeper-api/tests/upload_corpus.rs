//! Sends every rejected upload of `tests/corpus/upload` (written by
//! `scripts/make-upload-corpus.py`) and checks its error code, that the message names the
//! problem, and that nothing was stored.

mod common;
mod fixture;

use std::path::{Path, PathBuf};

use fixture::{error_code, fixture};
use serde_json::{Map, Value, json};

/// Returns the cases, sorted by name.
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/upload");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|error| panic!("read {}: {error}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    found.sort();
    found
}

/// Reads a file as the string a client sends: UTF-8 when it is, otherwise each byte as one
/// Latin-1 character, as a client does that reads bytes without a text encoding.
fn read_text(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(String::from_utf8(bytes.clone()).unwrap_or_else(|_| bytes.iter().map(|byte| char::from(*byte)).collect()))
}

/// Builds the UploadCertificate body of a case.
fn request(case: &Path) -> Value {
    let mut body = Map::new();
    body.insert("CertificatePublicKey".into(), json!(read_text(&case.join("certificate")).unwrap_or_default()));
    if let Some(key) = read_text(&case.join("key")) {
        body.insert("CertificatePrivateKey".into(), json!(key));
    }
    if let Some(password) = read_text(&case.join("password")) {
        body.insert("KeyPassword".into(), json!(password.trim()));
    }
    if let Some(kind) = read_text(&case.join("type")) {
        body.insert("CertificateType".into(), json!(kind.trim()));
    }
    Value::Object(body)
}

#[tokio::test]
async fn every_case_rejected_with_its_code() {
    let fx = fixture().await;
    let cases = cases();
    assert!(cases.len() >= 60, "the corpus holds {} cases; at least 60 are expected", cases.len());
    let before = fx.store.count_certificates().await.unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected = std::fs::read_to_string(case.join("expected")).unwrap();
        let mut lines = expected.lines();
        let code = lines.next().unwrap_or_default().trim().to_owned();
        let phrase = lines.next().unwrap_or_default().trim().to_owned();
        let response = fx.call(&fx.alice, "UploadCertificate", &request(case)).await;
        let found = error_code(&response).unwrap_or("(accepted)").to_owned();
        let message = response["Error"]["Message"].as_str().unwrap_or_default().to_owned();
        if found != code || !message.contains(&phrase) {
            failures.push(format!("{name}: expected {code} with {phrase:?}, got {found}: {message}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    assert_eq!(fx.store.count_certificates().await.unwrap(), before, "a rejected upload stores nothing");
}
