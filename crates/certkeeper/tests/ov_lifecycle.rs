//! An OV certificate end to end with the Tencent Cloud Python SDK against `certkeeper serve` and
//! a real BIND9: the order, the organisation, domain validation, the reviewer's decisions with
//! `certkeeper review`, the download (checked with openssl and pkilint), a reissue, and the
//! revocation of the original with a signed confirmation letter and a reviewer's approval, which
//! revokes the reissue too (seen in OCSP).

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use certkeeper_testkit::{Bind9, Service, pdf_document};
use serde_json::{Value, json};
use support::{Key, binary, call_action, run_certkeeper, venv};

const DOMAIN: &str = "shop.example.test";
const PUBLIC_URL: &str = "http://pki.example.test";
/// How long a status change driven by the scheduler may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);
/// An OV product of 199 days: the Baseline Requirements allow 200 days for certificates
/// issued since 2026-03-15, and pkilint checks it.
const PRODUCTS: &str = "[[products]]\nid = 2\nname = \"OV\"\nlevel = \"ov\"\nkey_algorithms = [\"ecdsa-p256\", \"rsa2048\"]\n\
validity_days = 199\nrevocation_policy = \"confirmation-letter\"\n";

struct Setup {
    dir: tempfile::TempDir,
    bind: Bind9,
    service: Service,
    config: PathBuf,
    data_dir: PathBuf,
}

impl Setup {
    fn start() -> Setup {
        let bind = Bind9::start(&["example.test"]);
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let config = dir.path().join("certkeeper.toml");
        let settings = format!(
            "[validation]\ndns_servers = [\"{}\"]\nallow_private_addresses = true\nrecheck_interval = \"1s\"\n\n{PRODUCTS}",
            bind.addr_string()
        );
        std::fs::write(&config, settings).unwrap();
        let env = [("CERTKEEPER_PUBLIC_URL", PUBLIC_URL), ("RUST_LOG", "info")];
        let service = Service::start(&binary(), &data_dir, &["--config", config.to_str().unwrap()], &env);
        Setup { dir, bind, service, config, data_dir }
    }

    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        run_certkeeper(&self.config, &self.data_dir, &[("CERTKEEPER_PUBLIC_URL", PUBLIC_URL), ("RUST_LOG", "warn")], args)
    }

    fn account(&self, name: &str) -> Key {
        let (ok, stdout, stderr) = self.cli(&["account", "create", name, "--json"]);
        assert!(ok, "account create failed: {stderr}");
        Key::from_account_json(&stdout)
    }

    /// Calls an action with the Python SDK and returns the response, or {"Error": ...}.
    fn call(&self, key: &Key, action: &str, params: Value) -> Value {
        call_action(self.service.port(), key, action, &params)
    }

    fn describe(&self, key: &Key, id: &str) -> Value {
        self.call(key, "DescribeCertificate", json!({ "CertificateId": id }))
    }

    /// Waits until the certificate has `status` and, when given, `message` as StatusMsg.
    fn wait_for(&self, key: &Key, id: &str, status: u64, message: Option<&str>) -> Value {
        let deadline = Instant::now() + STATUS_TIMEOUT;
        loop {
            let described = self.describe(key, id);
            if described["Status"] == status && message.is_none_or(|message| described["StatusMsg"] == message) {
                return described;
            }
            assert!(Instant::now() < deadline, "certificate {id} did not reach {status} {message:?}: {described}\n{}", self.service.log());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Publishes the TXT records of an order from its DvAuthDetail.
    fn publish_records(&self, key: &Key, id: &str) {
        let described = self.describe(key, id);
        let auths = described["DvAuthDetail"]["DvAuths"].as_array().unwrap_or_else(|| panic!("{described}")).clone();
        assert!(!auths.is_empty(), "{described}");
        for auth in auths {
            self.bind.add_record(auth["DvAuthKey"].as_str().unwrap(), 60, "TXT", &format!("\"{}\"", auth["DvAuthValue"].as_str().unwrap()));
        }
    }

    /// Downloads a certificate and writes its leaf and chain to `<name>.pem` and
    /// `<name>-chain.pem`.
    fn download(&self, key: &Key, id: &str, name: &str) {
        let download = self.call(key, "DownloadCertificate", json!({ "CertificateId": id }));
        let archive = base64::engine::general_purpose::STANDARD.decode(download["Content"].as_str().unwrap_or_else(|| panic!("{download}"))).unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
        let mut bundle = String::new();
        zip.by_name(&format!("Nginx/{DOMAIN}_bundle.crt")).unwrap().read_to_string(&mut bundle).unwrap();
        let second = bundle[1..].find("-----BEGIN").map(|index| index + 1).expect("the bundle holds two certificates");
        std::fs::write(self.dir.path().join(format!("{name}.pem")), &bundle[..second]).unwrap();
        std::fs::write(self.dir.path().join(format!("{name}-chain.pem")), &bundle[second..]).unwrap();
    }

    /// Asks the OCSP responder about `<name>.pem` until the output contains `expected`.
    fn wait_for_ocsp(&self, name: &str, expected: &str) -> String {
        let url = format!("{}/ocsp", self.service.base_url());
        let (leaf, chain) = (format!("{name}.pem"), format!("{name}-chain.pem"));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let args = ["ocsp", "-issuer", &chain, "-cert", &leaf, "-url", &url, "-CAfile", "root.pem", "-no_nonce"];
            let output = openssl(self.dir.path(), &args).1;
            if output.contains(expected) || Instant::now() > deadline {
                return output;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

fn error_code(response: &Value) -> &str {
    response["Error"]["Code"].as_str().unwrap_or("")
}

/// Lints a PEM leaf with pkilint and returns the ERROR and FATAL findings, without the one for
/// reserved test TLDs such as `.test`.
fn pkilint_errors(path: &Path, certificate_type: &str) -> Vec<String> {
    let output = Command::new(venv().join("bin/lint_cabf_serverauth_cert"))
        .args(["lint", "-t", certificate_type, "-s", "ERROR"])
        .arg(path)
        .output()
        .expect("pkilint runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| line.contains("(ERROR)") || line.contains("(FATAL)"))
        .filter(|line| !line.contains("cabf.internal_domain_name"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn ov_order_review_reissue_and_revoke() {
    let setup = Setup::start();
    let dir = setup.dir.path();
    let alice = setup.account("alice");
    std::fs::write(dir.join("root.pem"), setup.service.get("/ca/root.pem").body).unwrap();

    let products = setup.call(&alice, "DescribeProducts", json!({}));
    assert_eq!(products["Products"][0]["ProductId"], json!(2), "{products}");
    assert_eq!(products["Products"][0]["ValidationLevel"], json!("OV"));

    // Order, organisation and submission.
    let created = setup.call(&alice, "CreateCertificate", json!({ "ProductId": 2, "DomainNum": 1, "TimeSpan": 1 }));
    let id = created["CertificateIds"][0].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert_eq!(setup.describe(&alice, &id)["Status"], json!(5));
    let manager = setup.call(
        &alice,
        "SubmitAuditManager",
        json!({
            "CompanyName": "Example Handels GmbH", "CompanyCountry": "DE", "CompanyProvince": "Nordrhein-Westfalen",
            "CompanyCity": "Koeln", "CompanyAddress": "Domkloster 4", "CompanyPhone": "+49 221 000000",
            "ManagerFirstName": "Erika", "ManagerLastName": "Mustermann", "ManagerPosition": "CTO",
            "ManagerPhone": "+49 221 000001", "ManagerMail": "erika@example.test",
        }),
    );
    let manager_id = manager["ManagerId"].as_i64().unwrap_or_else(|| panic!("{manager}"));
    let submission = json!({
        "CertId": id, "GenCsrType": "online", "CertCommonName": DOMAIN, "CompanyType": 2, "CompanyId": "0",
        "ManagerId": manager_id, "VerifyType": "DNS", "ContactEmail": "erika@example.test", "CsrEncryptAlgo": "ECC",
    });
    let mut without_contact = submission.clone();
    without_contact.as_object_mut().unwrap().remove("ContactEmail");
    let missing = setup.call(&alice, "CertificateInfoSubmit", without_contact);
    assert_eq!(error_code(&missing), "MissingParameter", "{missing}");
    assert_eq!(setup.describe(&alice, &id)["Status"], json!(5));
    let submitted = setup.call(&alice, "CertificateInfoSubmit", submission);
    assert_eq!(error_code(&submitted), "", "{submitted}");
    let ordered = setup.call(&alice, "CertificateOrderSubmit", json!({ "CertId": id }));
    assert_eq!(ordered["Status"], json!(0), "{ordered}");
    assert_eq!(ordered["IsAudited"], json!(false));
    assert_eq!(setup.describe(&alice, &id)["StatusMsg"], json!("PRE-REVIEWING"));

    // The reviewer verifies the organisation; domain validation follows.
    let (ok, listed, stderr) = setup.cli(&["review", "managers", "list", "--json"]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["manager_id"], json!(manager_id), "{listed}");
    let (ok, stdout, stderr) = setup.cli(&["review", "managers", "approve", &manager_id.to_string()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("approved manager"), "{stdout}");
    setup.wait_for(&alice, &id, 0, Some("PENDING-DCV"));
    setup.publish_records(&alice, &id);
    setup.call(&alice, "CompleteCertificate", json!({ "CertificateId": id }));
    setup.wait_for(&alice, &id, 0, Some("CA-REVIEWING"));

    // The reviewer approves the order; the certificate carries the organisation.
    let (ok, listed, stderr) = setup.cli(&["review", "orders", "list", "--json"]);
    assert!(ok, "{stderr}");
    assert!(listed.contains(&id), "{listed}");
    let (ok, stdout, stderr) = setup.cli(&["review", "orders", "approve", &id]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("approved order"), "{stdout}");
    setup.wait_for(&alice, &id, 1, None);
    setup.download(&alice, &id, "original");
    let (ok, text) = openssl(dir, &["x509", "-in", "original.pem", "-noout", "-subject", "-nameopt", "multiline,show_type"]);
    assert!(ok, "{text}");
    assert!(text.contains("countryName               = PRINTABLESTRING:DE"), "{text}");
    assert!(text.contains("organizationName          = UTF8STRING:Example Handels GmbH"), "{text}");
    assert!(text.contains("localityName              = UTF8STRING:Koeln"), "{text}");
    assert!(text.contains("stateOrProvinceName       = UTF8STRING:Nordrhein-Westfalen"), "{text}");
    let (ok, verified) = openssl(dir, &["verify", "-CAfile", "root.pem", "-untrusted", "original-chain.pem", "original.pem"]);
    assert!(ok, "{verified}");
    let errors = pkilint_errors(&dir.join("original.pem"), "OV-FINAL-CERTIFICATE");
    assert!(errors.is_empty(), "pkilint errors: {errors:#?}");

    // Reissue with a new key; the organisation carries over without a second review.
    let replaced = setup.call(&alice, "ReplaceCertificate", json!({ "CertificateId": id, "ValidType": "DNS", "CsrType": "Online" }));
    let reissue = replaced["CertificateId"].as_str().unwrap_or_else(|| panic!("{replaced}")).to_owned();
    assert_eq!(setup.describe(&alice, &id)["Status"], json!(11));
    setup.publish_records(&alice, &reissue);
    setup.call(&alice, "CompleteCertificate", json!({ "CertificateId": reissue }));
    let issued = setup.wait_for(&alice, &reissue, 1, None);
    assert_eq!(issued["CertificateExtra"]["ReplacedBy"], json!(id), "{issued}");
    let original = setup.wait_for(&alice, &id, 1, None);
    assert_eq!(original["CertificateExtra"]["ReplacedFor"], json!(reissue), "{original}");
    setup.download(&alice, &reissue, "reissue");
    let (_, reissue_subject) = openssl(dir, &["x509", "-in", "reissue.pem", "-noout", "-subject"]);
    assert!(reissue_subject.contains("O = Example Handels GmbH"), "{reissue_subject}");
    let good = setup.wait_for_ocsp("reissue", "reissue.pem: good");
    assert!(good.contains("reissue.pem: good"), "{good}");

    // The reissue cannot be revoked on its own; revoking the original revokes both.
    let direct = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": reissue }));
    assert!(direct["Error"]["Message"].as_str().unwrap_or("").contains(&id), "{direct}");
    let requested = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": id, "Reason": "key leaked", "ReasonCode": 1 }));
    assert_eq!(requested["RevokeDomainValidateAuths"], json!([]), "{requested}");
    assert_eq!(setup.describe(&alice, &id)["Status"], json!(12), "the OV product waits for a letter");
    let letter = base64::engine::general_purpose::STANDARD.encode(pdf_document(4096));
    let uploaded = setup.call(&alice, "UploadRevokeLetter", json!({ "CertificateId": id, "RevokeLetter": letter }));
    assert_eq!(uploaded["IsSuccess"], json!(true), "{uploaded}");
    let (ok, listed, stderr) = setup.cli(&["review", "list", "--state", "pending", "--json"]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed[0]["kind"], json!("revoke-letter"), "{listed}");
    let review_id = listed[0]["id"].as_i64().unwrap_or_else(|| panic!("{listed}")).to_string();
    let (ok, stdout, stderr) = setup.cli(&["review", "approve", &review_id]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("revoked"), "{stdout}");
    for (certificate, name) in [(&id, "original"), (&reissue, "reissue")] {
        assert_eq!(setup.describe(&alice, certificate)["Status"], json!(10), "{certificate}");
        let revoked = setup.wait_for_ocsp(name, "revoked");
        assert!(revoked.contains(&format!("{name}.pem: revoked")), "{name}: {revoked}");
        assert!(revoked.contains("keyCompromise"), "{name}: {revoked}");
    }
}
