//! Uploads, chain checks and downloads of hosted certificates through the real `ssl` actions,
//! checked with nginx, OpenSSL and keytool. The cases are byte-order marks, root-first bundles
//! with CRLF line ends, every private-key encoding, and IIS and Tomcat keystores.

mod common;
mod fixture;

use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::Router;
use base64::Engine;
use certkeeper_api::{ApiState, Services, StoreCredentials, download_router, ssl_actions};
use certkeeper_core::ProductCatalogue;
use certkeeper_ra::{OrderService, OrderSettings};
use certkeeper_testkit::{TestKey, TestPki, check_certificate_files, try_openssl};
use certkeeper_va::{DnsAutoConfig, ValidationConfig, Validator};
use fixture::{Fixture, Key, error_code, fixture};
use serde_json::{Value, json};

use crate::common::NOW;

/// The `ssl` actions with revocation enabled, over the fixture's store.
struct HostingApp {
    fx: Fixture,
    app: Router,
    pki: TestPki,
}

async fn hosting_app() -> HostingApp {
    let fx = fixture().await;
    let config = ValidationConfig { dns_servers: vec!["127.0.0.1:9".parse().unwrap()], ..ValidationConfig::default() };
    let validator = Arc::new(Validator::new(config, &DnsAutoConfig::default()).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    let orders = OrderService::new(fx.store.clone(), fx.issuance.clone(), validator, Arc::clone(&fx.master_key), settings);
    let issuers = Arc::new(fx.store.issuers().await.unwrap());
    let mut services = Services::new(fx.store.clone(), Arc::clone(&fx.master_key), Arc::new(ProductCatalogue::default()), issuers, "http://127.0.0.1:18931");
    services.clock = Arc::new(|| NOW);
    let services = Arc::new(services.with_orders(orders));
    let credentials = Arc::new(StoreCredentials::new(fx.store.clone(), Arc::clone(&fx.master_key)));
    let state = ApiState::new(credentials, Arc::new(ssl_actions(Arc::clone(&services)))).with_clock(Arc::new(|| NOW));
    let app = download_router(services).merge(certkeeper_api::router(state));
    let pki = TestPki::new();
    pki.leaf("www", &["www.example.test", "api.example.test"], TestKey::EcP256, -1, 200);
    pki.leaf("rsa", &["www.example.test"], TestKey::Rsa2048, -1, 200);
    pki.leaf("ec", &["ec.example.test"], TestKey::EcP256, -1, 200);
    HostingApp { fx, app, pki }
}

impl HostingApp {
    async fn call(&self, key: &Key, action: &str, body: &Value) -> Value {
        use axum::body::to_bytes;
        use tower::ServiceExt;
        let mut call = common::TestCall::post(action, &body.to_string());
        call.secret_id = key.secret_id.clone();
        call.secret_key = key.secret_key.clone();
        let response = self.app.clone().oneshot(call.build()).await.unwrap();
        assert_eq!(response.status(), 200);
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["Response"].clone()
    }

    async fn upload(&self, body: Value) -> Value {
        self.call(&self.fx.alice, "UploadCertificate", &body).await
    }

    /// Uploads and returns the new id, failing the test on an error.
    async fn upload_ok(&self, body: Value) -> (String, Value) {
        let response = self.upload(body).await;
        assert_eq!(error_code(&response), None, "{response}");
        (response["CertificateId"].as_str().unwrap().to_owned(), response)
    }

    async fn count(&self) -> i64 {
        self.fx.store.count_certificates().await.unwrap()
    }

    async fn fingerprint(&self, id: &str) -> String {
        let detail = self.call(&self.fx.alice, "DescribeCertificateDetail", &json!({ "CertificateId": id })).await;
        detail["CertFingerprint"].as_str().unwrap_or_else(|| panic!("{detail}")).to_owned()
    }

    /// Downloads the ZIP of a certificate and returns its files.
    async fn download(&self, id: &str) -> Vec<(String, Vec<u8>)> {
        let response = self.call(&self.fx.alice, "DownloadCertificate", &json!({ "CertificateId": id })).await;
        let archive = base64::engine::general_purpose::STANDARD.decode(response["Content"].as_str().unwrap_or_else(|| panic!("{response}"))).unwrap();
        let mut reader = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
        let mut files = Vec::new();
        for index in 0..reader.len() {
            let mut file = reader.by_index(index).unwrap();
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).unwrap();
            files.push((file.name().unwrap().to_string(), bytes));
        }
        files
    }
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    files.iter().find(|(path, _)| path == name).map(|(_, bytes)| bytes.as_slice()).unwrap_or_else(|| {
        let names: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        panic!("{name} missing from {names:?}")
    })
}

/// Checks the PEM rules of every text file: starts with -----BEGIN, LF only, one final
/// newline, no certificate twice.
fn check_pem_files(files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        if !(name.ends_with(".crt") || name.ends_with(".pem") || name.ends_with(".key")) {
            continue;
        }
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(text.starts_with("-----BEGIN"), "{name} does not start with -----BEGIN");
        assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{name} must end with exactly one newline");
        assert!(!text.contains('\r'), "{name} has CR");
        let blocks: Vec<&str> = text.split("-----END CERTIFICATE-----").filter(|block| block.contains("BEGIN CERTIFICATE")).collect();
        let unique: std::collections::HashSet<&str> = blocks.iter().map(|block| block.trim()).collect();
        assert_eq!(unique.len(), blocks.len(), "{name} repeats a certificate");
    }
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// Reads bytes as Latin-1, as a client does that sends a file's bytes as a JSON string.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| char::from(*byte)).collect()
}

#[tokio::test]
async fn byte_order_mark_uploads() {
    let host = hosting_app().await;
    let chain = host.pki.chain("www");
    let key = host.pki.read("www.key");
    let (clean, _) = host.upload_ok(json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": key })).await;
    let (both, _) = host.upload_ok(json!({ "CertificatePublicKey": format!("\u{FEFF}{chain}"), "CertificatePrivateKey": format!("\u{FEFF}{key}") })).await;
    let (key_only, _) = host.upload_ok(json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": format!("\u{FEFF}{key}") })).await;
    let expected = host.fingerprint(&clean).await;
    assert_eq!(host.fingerprint(&both).await, expected);
    assert_eq!(host.fingerprint(&key_only).await, expected);
    for id in [&both, &key_only] {
        let files = host.download(id).await;
        check_pem_files(&files);
    }

    let before = host.count().await;
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(chain.encode_utf16().flat_map(u16::to_le_bytes));
    let rejected = host.upload(json!({ "CertificatePublicKey": latin1(&utf16), "CertificatePrivateKey": key })).await;
    assert_eq!(error_code(&rejected), Some("InvalidParameterValue.CertificateUtf16"), "{rejected}");
    let message = rejected["Error"]["Message"].as_str().unwrap();
    assert!(message.contains("UTF-16") && message.contains("UTF-8"), "{message}");
    assert_eq!(host.count().await, before, "a rejected upload stores nothing");
}

#[tokio::test]
async fn root_first_crlf_bundle() {
    let host = hosting_app().await;
    let pki = &host.pki;
    let bundle = format!("{}{}{}", pki.read("root.pem"), pki.read("intermediate.pem"), pki.read("www.pem")).replace('\n', "\r\n");
    let (id, response) = host.upload_ok(json!({ "CertificatePublicKey": bundle, "CertificatePrivateKey": pki.read("www.key") })).await;
    let report = &response["UploadReport"];
    assert_eq!(report["Reordered"], json!(true), "{report}");
    assert!(report["Dropped"].as_array().unwrap().iter().any(|dropped| dropped["Reason"] == "root"), "{report}");
    assert_eq!(report["Chain"].as_array().unwrap().len(), 3, "leaf, intermediate and the root set apart: {report}");

    let files = host.download(&id).await;
    check_pem_files(&files);
    let nginx_bundle = file(&files, "Nginx/www.example.test_bundle.crt");
    let expected = format!("{}{}", pki.read("www.pem"), pki.read("intermediate.pem"));
    assert_eq!(std::str::from_utf8(nginx_bundle).unwrap(), expected, "leaf then intermediate, LF line ends");
    let (ok, output) = check_certificate_files(nginx_bundle, file(&files, "Nginx/www.example.test.key"));
    assert!(ok, "nginx -t: {output}");
    let (ok, output) = try_openssl(pki.path(), &["verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "www.pem"]);
    assert!(ok, "{output}");

    let before = host.count().await;
    let other_key = pki.read("ec.key");
    let mismatch = host.upload(json!({ "CertificatePublicKey": bundle, "CertificatePrivateKey": other_key })).await;
    assert_eq!(error_code(&mismatch), Some("FailedOperation.CertificateMismatch"), "{mismatch}");
    let message = mismatch["Error"]["Message"].as_str().unwrap();
    assert!(message.contains("matches none") && message.contains("www.example.test") && message.contains("api.example.test"), "{message}");
    assert_eq!(host.count().await, before);
}

#[tokio::test]
async fn private_key_encodings() {
    let host = hosting_app().await;
    let pki = &host.pki;
    pki.key_forms("rsa", "secret");
    pki.key_forms("ec", "secret");
    let rsa_chain = pki.chain("rsa");
    let ec_chain = pki.chain("ec");
    for (chain, form) in [(&rsa_chain, "rsa.pkcs1.key"), (&rsa_chain, "rsa.key"), (&ec_chain, "ec.sec1.key"), (&ec_chain, "ec.params.key"), (&ec_chain, "ec.key")] {
        let (id, response) = host.upload_ok(json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": pki.read(form) })).await;
        assert_eq!(response["UploadReport"]["Chain"].as_array().unwrap().len(), 2, "{form}: {response}");
        let files = host.download(&id).await;
        let stem = if form.starts_with("rsa") { "www.example.test" } else { "ec.example.test" };
        for folder in ["Nginx", "Apache"] {
            let certificate = if folder == "Nginx" { format!("Nginx/{stem}_bundle.crt") } else { format!("Apache/{stem}.crt") };
            let (ok, output) = check_certificate_files(file(&files, &certificate), file(&files, &format!("{folder}/{stem}.key")));
            assert!(ok, "{form} {folder}: nginx -t: {output}");
        }
    }

    for (chain, form) in [(&rsa_chain, "rsa.enc8.key"), (&rsa_chain, "rsa.legacy.key"), (&ec_chain, "ec.enc8.key"), (&ec_chain, "ec.legacy.key")] {
        let key = pki.read(form);
        let before = host.count().await;
        let missing = host.upload(json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": key })).await;
        assert_eq!(error_code(&missing), Some("FailedOperation.PrivateKeyPasswordRequired"), "{form}: {missing}");
        assert!(missing["Error"]["Message"].as_str().unwrap().contains("passphrase-protected"), "{missing}");
        let wrong = host.upload(json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": key, "KeyPassword": "wrong" })).await;
        assert_eq!(error_code(&wrong), Some("FailedOperation.PrivateKeyPasswordIncorrect"), "{form}: {wrong}");
        assert_eq!(host.count().await, before, "{form}: rejected uploads store nothing");
        host.upload_ok(json!({ "CertificatePublicKey": chain, "CertificatePrivateKey": key, "KeyPassword": "secret" })).await;
    }

    let before = host.count().await;
    let certificate_as_key = host.upload(json!({ "CertificatePublicKey": rsa_chain, "CertificatePrivateKey": pki.read("rsa.pem") })).await;
    assert_eq!(error_code(&certificate_as_key), Some("InvalidParameterValue.CertificateInPrivateKeyField"), "{certificate_as_key}");
    assert!(certificate_as_key["Error"]["Message"].as_str().unwrap().contains("CERTIFICATE block"));
    let crossed = host.upload(json!({ "CertificatePublicKey": ec_chain, "CertificatePrivateKey": pki.read("rsa.key") })).await;
    assert_eq!(error_code(&crossed), Some("FailedOperation.CertificateMismatch"), "{crossed}");
    assert_eq!(host.count().await, before);
}

/// Returns the output of `keytool -list -v` for a keystore.
fn keytool_list(path: &Path, store_type: &str, password: &str) -> String {
    let output = Command::new("keytool")
        .args(["-list", "-v", "-storetype", store_type, "-storepass", password, "-keystore"])
        .arg(path)
        .output()
        .expect("keytool must be installed (default-jdk-headless); run scripts/install-test-tools.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "keytool: {text}");
    text
}

#[tokio::test]
async fn iis_and_tomcat_downloads() {
    let host = hosting_app().await;
    let fx = &host.fx;
    // A certificate issued by certkeeper's CA for an RSA-2048 key that certkeeper holds.
    let (record, _) = issue_rsa_with_key(fx, "www.example.test").await;
    let files = host.download(&record.id).await;
    check_pem_files(&files);
    let out = fx.dir.path().join("iis-tomcat");
    write_files(&out, &files);
    let stem = "www.example.test";
    let password = std::str::from_utf8(file(&files, "IIS/keystorePass.txt")).unwrap().trim().to_owned();
    assert_eq!(password.len(), 16);
    let pass = format!("pass:{password}");

    let pfx = out.join(format!("IIS/{stem}.pfx"));
    let (ok, info) = try_openssl(&out, &["pkcs12", "-info", "-noout", "-legacy", "-in", pfx.to_str().unwrap(), "-passin", &pass]);
    assert!(ok, "{info}");
    assert!(info.contains("MAC: sha1"), "{info}");
    assert_eq!(info.matches("pbeWithSHA1And3-KeyTripleDES-CBC").count(), 2, "key bag and certificate bag: {info}");
    assert_eq!(info.matches("Certificate bag").count(), 2, "{info}");
    assert_eq!(info.matches("Shrouded Keybag").count(), 1, "{info}");
    let (ok, dump) = try_openssl(&out, &["pkcs12", "-info", "-nokeys", "-legacy", "-in", pfx.to_str().unwrap(), "-passin", &pass]);
    assert!(ok && dump.contains("friendlyName"), "{dump}");

    let modern = out.join(format!("IIS/{stem}_aes256.pfx"));
    let (ok, info) = try_openssl(&out, &["pkcs12", "-info", "-noout", "-in", modern.to_str().unwrap(), "-passin", &pass]);
    assert!(ok, "{info}");
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("PBES2") && info.contains("AES-256-CBC"), "{info}");
    assert!(std::str::from_utf8(file(&files, "IIS/README.txt")).unwrap().contains("Windows Server 2019 and later"));

    let tomcat_password = std::str::from_utf8(file(&files, "Tomcat/keystorePass.txt")).unwrap().trim().to_owned();
    for (name, store_type) in [(format!("Tomcat/{stem}.pfx"), "PKCS12"), (format!("Tomcat/{stem}.jks"), "JKS")] {
        let listing = keytool_list(&out.join(&name), store_type, &tomcat_password);
        assert!(listing.contains("Your keystore contains 1 entry"), "{name}: {listing}");
        assert!(listing.contains("PrivateKeyEntry"), "{name}: {listing}");
        assert!(listing.contains("Certificate chain length: 2"), "{name}: {listing}");
    }

    let apache_chain = std::str::from_utf8(file(&files, "Apache/root_bundle.crt")).unwrap();
    assert_eq!(apache_chain.matches("BEGIN CERTIFICATE").count(), 1, "the chain file holds only the intermediate");
    let nginx = std::str::from_utf8(file(&files, &format!("Nginx/{stem}_bundle.crt"))).unwrap();
    assert_eq!(nginx.matches("BEGIN CERTIFICATE").count(), 2);
    let (ok, output) = check_certificate_files(nginx.as_bytes(), file(&files, &format!("Nginx/{stem}.key")));
    assert!(ok, "nginx -t: {output}");
    for (leaf, chain) in [(format!("Apache/{stem}.crt"), "Apache/root_bundle.crt"), (format!("Other/{stem}.pem"), "Other/chain.pem")] {
        let (ok, output) = try_openssl(&out, &["verify", "-CAfile", "Root/root.crt", "-untrusted", chain, &leaf]);
        assert!(ok, "{leaf}: {output}");
    }
    // The Nginx bundle and the keystores carry their own chain: the leaf comes first and the
    // rest of the file is the untrusted chain.
    let bundle = format!("Nginx/{stem}_bundle.crt");
    let (ok, output) = try_openssl(&out, &["verify", "-CAfile", "Root/root.crt", "-untrusted", &bundle, &bundle]);
    assert!(ok, "{bundle}: {output}");
    for (pfx, password, legacy) in [(format!("IIS/{stem}.pfx"), &password, true), (format!("IIS/{stem}_aes256.pfx"), &password, false), (format!("Tomcat/{stem}.pfx"), &tomcat_password, true)] {
        let extracted = format!("{pfx}.certs.pem");
        let mut args = vec!["pkcs12", "-in", &pfx, "-nokeys", "-passin"];
        let pass = format!("pass:{password}");
        args.push(&pass);
        args.extend(["-out", &extracted]);
        if legacy {
            args.push("-legacy");
        }
        let (ok, output) = try_openssl(&out, &args);
        assert!(ok, "{pfx}: {output}");
        let text = std::fs::read_to_string(out.join(&extracted)).unwrap();
        assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2, "{pfx} holds leaf and intermediate");
        let (ok, output) = try_openssl(&out, &["verify", "-CAfile", "Root/root.crt", "-untrusted", &extracted, &extracted]);
        assert!(ok, "{pfx}: {output}");
    }
    let (ok, output) = try_openssl(&out, &["x509", "-inform", "DER", "-noout", "-in", &format!("Other/{stem}.der")]);
    assert!(ok, "{output}");
}

/// Issues an RSA-2048 certificate from the fixture's CA and stores the key with it.
async fn issue_rsa_with_key(fx: &Fixture, domain: &str) -> (certkeeper_core::CertificateRecord, String) {
    let dir = fx.dir.path();
    let key = dir.join("rsa-issued.key");
    let csr = dir.join("rsa-issued.csr");
    let status = Command::new("openssl")
        .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", &format!("/CN={domain}"), "-addext", &format!("subjectAltName=DNS:{domain}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&csr)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let key_pem = std::fs::read_to_string(&key).unwrap();
    let request = certkeeper_ra::IssueRequest {
        account_id: Some(fx.alice.account_id),
        product_id: 1,
        csr: certkeeper_pki::check_csr(&std::fs::read(&csr).unwrap()).unwrap(),
        validation_method: certkeeper_core::ValidationMethod::Dns,
        days: Some(90),
        alias: String::new(),
        project_id: 0,
        actor: "test".into(),
        detail: "test".into(),
    };
    let now = time::OffsetDateTime::from_unix_timestamp(NOW - 86_400).unwrap();
    let mut record = fx.issuance.issue(request, now).await.unwrap();
    // A new first character gives a new id; it must differ from the issued id's own.
    let first = if record.id.starts_with('R') { 'Q' } else { 'R' };
    record.id = format!("{first}{}", &record.id[1..]);
    record.serial = None;
    record.sealed_private_key = Some(fx.master_key.seal(&format!("certificate-key:{}", record.id), key_pem.as_bytes()).unwrap());
    let log = certkeeper_store::LogEntry { actor: "test", action: "issued", detail: "", at: NOW - 86_400 };
    fx.store.insert_certificate(&record, &log).await.unwrap();
    (record, key_pem)
}

#[tokio::test]
async fn uploads_listed_not_revocable_deletable() {
    let host = hosting_app().await;
    let (id, _) = host.upload_ok(json!({ "CertificatePublicKey": host.pki.chain("www"), "CertificatePrivateKey": host.pki.read("www.key"), "Alias": "edge" })).await;
    let listed = host.call(&host.fx.alice, "DescribeCertificates", &json!({ "FilterSource": "upload" })).await;
    assert_eq!(listed["TotalCount"], json!(1), "{listed}");
    let item = &listed["Certificates"][0];
    assert_eq!(item["From"], json!("upload"));
    assert_eq!(item["Alias"], json!("edge"));
    assert_eq!(item["Status"], json!(1));
    assert_eq!(item["SupportDownloadType"]["IIS"], json!(true));
    let record = host.fx.store.certificate(&id).await.unwrap().unwrap();
    assert!(record.not_after.is_some(), "expiry monitoring reads not_after");
    assert!(record.serial.is_none(), "uploads take no serial of certkeeper's CA");

    let described = host.call(&host.fx.alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(described["CertificateType"], json!("SVR"), "{described}");
    let (ca_id, _) = host.upload_ok(json!({ "CertificatePublicKey": host.pki.read("intermediate.pem"), "CertificateType": "CA" })).await;
    let described = host.call(&host.fx.alice, "DescribeCertificate", &json!({ "CertificateId": ca_id })).await;
    assert_eq!(described["CertificateType"], json!("CA"), "{described}");
    let cas = host.call(&host.fx.alice, "DescribeCertificates", &json!({ "CertificateType": "CA" })).await;
    assert_eq!(cas["TotalCount"], json!(1), "{cas}");
    assert_eq!(cas["Certificates"][0]["CertificateId"], json!(ca_id), "{cas}");
    assert_eq!(cas["Certificates"][0]["CertificateType"], json!("CA"), "{cas}");
    let servers = host.call(&host.fx.alice, "DescribeCertificates", &json!({ "CertificateType": "SVR" })).await;
    assert_eq!(servers["TotalCount"], json!(1), "{servers}");
    assert_eq!(servers["Certificates"][0]["CertificateId"], json!(id), "{servers}");
    let all = host.call(&host.fx.alice, "DescribeCertificates", &json!({})).await;
    assert_eq!(all["TotalCount"], json!(2), "{all}");
    let revoke = host.call(&host.fx.alice, "RevokeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&revoke), Some("FailedOperation.InvalidCertificateSource"), "{revoke}");
    let deleted = host.call(&host.fx.alice, "DeleteCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&deleted), None, "{deleted}");
    assert_eq!(deleted["DeleteResult"], json!(true), "{deleted}");
    let gone = host.call(&host.fx.alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&gone), Some("FailedOperation.CertificateNotFound"));
}

#[tokio::test]
async fn repeat_exist_and_chain_checks() {
    let host = hosting_app().await;
    let pki = &host.pki;
    let body = json!({ "CertificatePublicKey": pki.chain("www"), "CertificatePrivateKey": pki.read("www.key") });
    let (first, _) = host.upload_ok(body.clone()).await;
    let exist = host.call(&host.fx.alice, "CheckCertificateExist", &json!({ "CertificatePublicKey": pki.read("www.pem") })).await;
    assert_eq!(exist["RepeatCertId"], json!(first), "{exist}");
    let other_account = host.call(&host.fx.bob, "CheckCertificateExist", &json!({ "CertificatePublicKey": pki.read("www.pem") })).await;
    assert_eq!(other_account["RepeatCertId"], json!(""), "{other_account}");

    let before = host.count().await;
    let mut repeat = body.clone();
    repeat["Repeatable"] = json!(false);
    let response = host.upload(repeat).await;
    assert_eq!(response["CertificateId"], json!(first), "{response}");
    assert_eq!(response["RepeatCertId"], json!(first));
    assert_eq!(host.count().await, before, "Repeatable=false returns the existing upload");
    let (second, response) = host.upload_ok(body).await;
    assert_ne!(second, first);
    assert_eq!(response["RepeatCertId"], json!(""));

    let bundle = format!("{}{}{}", pki.read("root.pem"), pki.read("intermediate.pem"), pki.read("www.pem"));
    let check = host.call(&host.fx.alice, "CheckCertificateChain", &json!({ "CertificateChain": bundle })).await;
    assert_eq!(check["IsValid"], json!(true), "{check}");
    assert_eq!(check["IsTrustedCA"], json!(false), "{check}");
    assert_eq!(check["Chains"], json!(["www.example.test", "Test Intermediate I1", "Test Root R1"]), "{check}");
    let broken = host.call(&host.fx.alice, "CheckCertificateChain", &json!({ "CertificateChain": pki.read("www.pem") })).await;
    assert_eq!(broken["IsValid"], json!(false), "{broken}");
}

#[tokio::test]
async fn chain_completed_from_own_ca() {
    let host = hosting_app().await;
    let (record, key_pem) = host.fx.issue_with_key(host.fx.alice.account_id, "own.example.com").await;
    let leaf = certkeeper_pki::to_pem("CERTIFICATE", record.certificate_der.as_deref().unwrap());
    let (id, response) = host.upload_ok(json!({ "CertificatePublicKey": leaf, "CertificatePrivateKey": key_pem })).await;
    let report = &response["UploadReport"];
    assert!(report["Added"].as_array().unwrap().iter().any(|added| added["Source"] == "certkeeper-ca"), "{report}");
    assert_eq!(report["IsTrustedCA"], json!(true), "{report}");
    let files = host.download(&id).await;
    assert_eq!(std::str::from_utf8(file(&files, "Nginx/own.example.com_bundle.crt")).unwrap().matches("BEGIN CERTIFICATE").count(), 2);
    assert!(files.iter().any(|(name, _)| name == "Root/root.crt"));
}

#[tokio::test]
async fn key_password_protects_keystores() {
    let host = hosting_app().await;
    let fx = &host.fx;
    let applied = host.call(&fx.alice, "ApplyCertificate", &json!({ "DvAuthMethod": "DNS", "DomainName": "order.example.com", "CsrKeyPassword": "order-pass" })).await;
    let order_id = applied["CertificateId"].as_str().unwrap_or_else(|| panic!("{applied}")).to_owned();
    let sealed = fx.store.key_password(&order_id).await.unwrap().expect("CsrKeyPassword is stored");
    let opened = fx.master_key.open(&format!("certificate-key-password:{order_id}"), &sealed).unwrap();
    assert_eq!(opened.as_slice(), b"order-pass");

    let (record, _) = issue_rsa_with_key(fx, "pass.example.test").await;
    let sealed = fx.master_key.seal(&format!("certificate-key-password:{}", record.id), b"given-pass").unwrap();
    fx.store.set_key_password(&record.id, &sealed).await.unwrap();
    let files = host.download(&record.id).await;
    assert_eq!(file(&files, "IIS/keystorePass.txt"), b"given-pass\n");
    let out = fx.dir.path().join("given-pass");
    write_files(&out, &files);
    let (ok, info) = try_openssl(&out, &["pkcs12", "-info", "-noout", "-legacy", "-in", "IIS/pass.example.test.pfx", "-passin", "pass:given-pass"]);
    assert!(ok, "{info}");

    let pki = &host.pki;
    pki.key_forms("rsa", "upload-pass");
    let (id, _) = host.upload_ok(json!({ "CertificatePublicKey": pki.chain("rsa"), "CertificatePrivateKey": pki.read("rsa.enc8.key"), "KeyPassword": "upload-pass" })).await;
    let files = host.download(&id).await;
    assert_eq!(file(&files, "Tomcat/keystorePass.txt"), b"upload-pass\n");
    let listing = keytool_list(&{
        let out = fx.dir.path().join("upload-pass");
        write_files(&out, &files);
        out.join("Tomcat/www.example.test.jks")
    }, "JKS", "upload-pass");
    assert!(listing.contains("Certificate chain length: 2"), "{listing}");
}
