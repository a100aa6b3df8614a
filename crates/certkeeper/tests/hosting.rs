//! A certificate from another CA uploaded to a running `certkeeper serve` with the Tencent Cloud
//! Python SDK, listed, downloaded and loaded by nginx, with `[upload]` set in the configuration.

mod support;

use std::io::Read;

use base64::Engine;
use certkeeper_testkit::{Service, TestKey, TestPki, check_certificate_files};
use serde_json::json;
use support::{Key, binary, call_action, run_certkeeper};

#[test]
fn upload_list_download_with_sdk() {
    let pki = TestPki::new();
    pki.leaf("www", &["www.example.test"], TestKey::EcP256, -1, 90);
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = dir.path().join("certkeeper.toml");
    std::fs::write(&config, "[upload]\nfetch_aia = false\n").unwrap();
    let service = Service::start(&binary(), &data_dir, &["--config", config.to_str().unwrap()], &[("RUST_LOG", "info")]);

    let (ok, stdout, stderr) = run_certkeeper(&config, &data_dir, &[], &["account", "create", "alice", "--json"]);
    assert!(ok, "{stderr}");
    let key = Key::from_account_json(&stdout);

    // Root first, CRLF line ends, as a Windows bundle comes.
    let bundle = format!("{}{}{}", pki.read("root.pem"), pki.read("intermediate.pem"), pki.read("www.pem")).replace('\n', "\r\n");
    let uploaded = call_action(service.port(), &key, "UploadCertificate", &json!({ "CertificatePublicKey": bundle, "CertificatePrivateKey": pki.read("www.key"), "Alias": "sdk" }));
    let id = uploaded["CertificateId"].as_str().unwrap_or_else(|| panic!("{uploaded}")).to_owned();
    assert_eq!(uploaded["RepeatCertId"], json!(""));
    assert_eq!(uploaded["UploadReport"]["Reordered"], json!(true), "{uploaded}");

    let listed = call_action(service.port(), &key, "DescribeCertificates", &json!({ "FilterSource": "upload" }));
    assert_eq!(listed["TotalCount"], json!(1), "{listed}");
    assert_eq!(listed["Certificates"][0]["From"], json!("upload"));

    let rejected = call_action(service.port(), &key, "UploadCertificate", &json!({ "CertificatePublicKey": pki.read("www.pem"), "CertificatePrivateKey": pki.read("www.pem") }));
    assert_eq!(rejected["Error"]["Code"], json!("InvalidParameterValue.CertificateInPrivateKeyField"), "{rejected}");

    let downloaded = call_action(service.port(), &key, "DownloadCertificate", &json!({ "CertificateId": id }));
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
