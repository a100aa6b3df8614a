//! A certificate from another CA uploaded to a running `certkeeper serve` with the Tencent Cloud
//! Python SDK, listed, downloaded and loaded by nginx, with `[upload]` set in the configuration.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

use base64::Engine;
use certkeeper_testkit::{Service, TestKey, TestPki, check_certificate_files};
use serde_json::{Value, json};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

fn venv() -> PathBuf {
    let path = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    assert!(
        path.join("bin/python").exists(),
        "no Python virtualenv with the Tencent Cloud SDK at {}; run scripts/install-test-tools.sh or set CERTKEEPER_VENV",
        path.display()
    );
    path
}

/// Calls an action with the Python SDK and returns the response, or {"Error": ...}.
fn call(port: u16, key: &(String, String), action: &str, params: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/call_action.py");
    let mut command = Command::new(venv().join("bin/python"));
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"] {
        command.env_remove(name);
    }
    let output = command
        .arg(script)
        .arg(format!("127.0.0.1:{port}"))
        .arg(action)
        .arg(params.to_string())
        .env("TENCENTCLOUD_SECRET_ID", &key.0)
        .env("TENCENTCLOUD_SECRET_KEY", &key.1)
        .output()
        .unwrap();
    assert!(output.status.success(), "{action}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn upload_list_download_with_sdk() {
    let pki = TestPki::new();
    pki.leaf("www", &["www.example.test"], TestKey::EcP256, -1, 90);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = dir.path().join("certkeeper.toml");
    std::fs::write(&config, "[upload]\nfetch_aia = false\n").unwrap();
    let service = Service::start(&binary(), &data_dir, &["--config", config.to_str().unwrap()], &[("RUST_LOG", "info")]);

    let output = Command::new(binary())
        .args(["--config", config.to_str().unwrap(), "--data-dir", data_dir.to_str().unwrap(), "account", "create", "alice", "--json"])
        .env_remove("CERTKEEPER_MASTER_KEY")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: Value = serde_json::from_slice(&output.stdout).unwrap();
    let key = (created["secret_id"].as_str().unwrap().to_owned(), created["secret_key"].as_str().unwrap().to_owned());

    // Root first, CRLF line ends, as a Windows bundle comes.
    let bundle = format!("{}{}{}", pki.read("root.pem"), pki.read("intermediate.pem"), pki.read("www.pem")).replace('\n', "\r\n");
    let uploaded = call(service.port(), &key, "UploadCertificate", &json!({ "CertificatePublicKey": bundle, "CertificatePrivateKey": pki.read("www.key"), "Alias": "sdk" }));
    let id = uploaded["CertificateId"].as_str().unwrap_or_else(|| panic!("{uploaded}")).to_owned();
    assert_eq!(uploaded["RepeatCertId"], json!(""));
    assert_eq!(uploaded["UploadReport"]["Reordered"], json!(true), "{uploaded}");

    let listed = call(service.port(), &key, "DescribeCertificates", &json!({ "FilterSource": "upload" }));
    assert_eq!(listed["TotalCount"], json!(1), "{listed}");
    assert_eq!(listed["Certificates"][0]["From"], json!("upload"));

    let rejected = call(service.port(), &key, "UploadCertificate", &json!({ "CertificatePublicKey": pki.read("www.pem"), "CertificatePrivateKey": pki.read("www.pem") }));
    assert_eq!(rejected["Error"]["Code"], json!("InvalidParameterValue.CertificateInPrivateKeyField"), "{rejected}");

    let downloaded = call(service.port(), &key, "DownloadCertificate", &json!({ "CertificateId": id }));
    let archive = base64::engine::general_purpose::STANDARD.decode(downloaded["Content"].as_str().unwrap()).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut read = |name: &str| {
        let mut bytes = Vec::new();
        zip.by_name(name).unwrap_or_else(|error| panic!("{name}: {error}")).read_to_end(&mut bytes).unwrap();
        bytes
    };
    let chain = read("Nginx/www.example.test_bundle.crt");
    let private_key = read("Nginx/www.example.test.key");
    let (ok, output) = check_certificate_files(&chain, &private_key);
    assert!(ok, "nginx -t: {output}");
    assert_eq!(String::from_utf8(chain).unwrap(), format!("{}{}", pki.read("www.pem"), pki.read("intermediate.pem")));
}
