//! Owner revocation through the API, end to end: a certificate ordered and validated through a
//! real BIND9, revoked with RevokeCertificate after the revocation TXT record is published,
//! checked with `openssl ocsp`, refused for download and deleted. A second certificate goes
//! through a review, decided over the API and with `certkeeper review`.
//!
//! API calls go through the Tencent Cloud Python SDK in the virtualenv at `CERTKEEPER_VENV` or
//! `<workspace>/.venv` (`scripts/install-test-tools.sh` creates it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use certkeeper_testkit::{Bind9, Service};
use serde_json::{Value, json};

const DOMAIN: &str = "www.example.test";
/// Base of the URLs in certificates; the server and the CLI must agree on it.
const PUBLIC_URL: &str = "http://pki.example.test";
/// How long a status change driven by the scheduler may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

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

struct Setup {
    dir: tempfile::TempDir,
    bind: Bind9,
    service: Service,
    config: PathBuf,
    data_dir: PathBuf,
}

/// An API key of one account.
struct Key {
    secret_id: String,
    secret_key: String,
}

impl Setup {
    fn start() -> Setup {
        let bind = Bind9::start(&["example.test"]);
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let config = dir.path().join("certkeeper.toml");
        let settings = format!(
            "[validation]\ndns_servers = [\"{}\"]\nallow_private_addresses = true\nrecheck_interval = \"1s\"\n",
            bind.addr_string()
        );
        std::fs::write(&config, settings).unwrap();
        let env = [("CERTKEEPER_PUBLIC_URL", PUBLIC_URL), ("RUST_LOG", "info")];
        let service = Service::start(&binary(), &data_dir, &["--config", config.to_str().unwrap()], &env);
        Setup { dir, bind, service, config, data_dir }
    }

    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let output = Command::new(binary())
            .args(["--config", self.config.to_str().unwrap(), "--data-dir", self.data_dir.to_str().unwrap()])
            .args(args)
            .env_remove("CERTKEEPER_MASTER_KEY")
            .env("CERTKEEPER_PUBLIC_URL", PUBLIC_URL)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    }

    fn account(&self, name: &str, role: &str) -> Key {
        let (ok, stdout, stderr) = self.cli(&["account", "create", name, "--role", role, "--json"]);
        assert!(ok, "account create failed: {stderr}");
        let created: Value = serde_json::from_str(&stdout).unwrap();
        Key { secret_id: created["secret_id"].as_str().unwrap().into(), secret_key: created["secret_key"].as_str().unwrap().into() }
    }

    /// Calls an action with the Python SDK and returns the response, or {"Error": ...}.
    fn call(&self, key: &Key, action: &str, params: Value) -> Value {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/call_action.py");
        let mut command = Command::new(venv().join("bin/python"));
        for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"] {
            command.env_remove(name);
        }
        let output = command
            .arg(script)
            .arg(format!("127.0.0.1:{}", self.service.port()))
            .arg(action)
            .arg(params.to_string())
            .env("TENCENTCLOUD_SECRET_ID", &key.secret_id)
            .env("TENCENTCLOUD_SECRET_KEY", &key.secret_key)
            .output()
            .unwrap();
        assert!(output.status.success(), "{action}: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
    }

    fn describe(&self, key: &Key, id: &str) -> Value {
        self.call(key, "DescribeCertificate", json!({ "CertificateId": id }))
    }

    fn wait_for_status(&self, key: &Key, id: &str, status: u64) -> Value {
        let deadline = Instant::now() + STATUS_TIMEOUT;
        loop {
            let described = self.describe(key, id);
            if described["Status"] == status {
                return described;
            }
            assert!(Instant::now() < deadline, "certificate {id} did not reach status {status}: {described}\n{}", self.service.log());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Asks the server's OCSP responder about `leaf.pem` and returns OpenSSL's output.
    fn ocsp(&self) -> String {
        let url = format!("{}/ocsp", self.service.base_url());
        openssl(self.dir.path(), &["ocsp", "-issuer", "chain.pem", "-cert", "leaf.pem", "-url", &url, "-CAfile", "root.pem", "-no_nonce"]).1
    }

    fn wait_for_ocsp(&self, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = self.ocsp();
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

fn error_message(response: &Value) -> &str {
    response["Error"]["Message"].as_str().unwrap_or("")
}

/// Writes the leaf and the intermediate of a DownloadCertificate ZIP to `leaf.pem` and
/// `chain.pem`.
fn write_leaf_and_chain(dir: &Path, download: &Value) {
    let archive = base64::engine::general_purpose::STANDARD.decode(download["Content"].as_str().unwrap()).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut bundle = String::new();
    zip.by_name(&format!("Nginx/{DOMAIN}_bundle.crt")).unwrap().read_to_string(&mut bundle).unwrap();
    let second = bundle[1..].find("-----BEGIN").map(|index| index + 1).expect("the bundle holds two certificates");
    std::fs::write(dir.join("leaf.pem"), &bundle[..second]).unwrap();
    std::fs::write(dir.join("chain.pem"), &bundle[second..]).unwrap();
}

#[test]
fn owner_revokes_with_dns_then_deletes() {
    let setup = Setup::start();
    let dir = setup.dir.path();
    let alice = setup.account("alice", "user");
    std::fs::write(dir.join("root.pem"), setup.service.get("/ca/root.pem").body).unwrap();

    // Order and validate a certificate.
    let applied = setup.call(&alice, "ApplyCertificate", json!({ "DvAuthMethod": "DNS", "DomainName": DOMAIN }));
    let id = applied["CertificateId"].as_str().unwrap_or_else(|| panic!("{applied}")).to_owned();
    let described = setup.describe(&alice, &id);
    let auth = &described["DvAuthDetail"];
    setup.bind.add_record(auth["DvAuthKey"].as_str().unwrap(), 60, "TXT", &format!("\"{}\"", auth["DvAuthValue"].as_str().unwrap()));
    let issued = setup.wait_for_status(&alice, &id, 1);
    assert_eq!(issued["DvRevokeAuthDetail"], json!([]), "{issued}");
    let download = setup.call(&alice, "DownloadCertificate", json!({ "CertificateId": &id }));
    write_leaf_and_chain(dir, &download);
    let good = setup.ocsp();
    assert!(good.contains("leaf.pem: good"), "{good}");

    // Reason codes an owner may not give are rejected, and nothing changes.
    for code in [6, 8, 7] {
        let rejected = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": &id, "ReasonCode": code }));
        assert_eq!(error_code(&rejected), "InvalidParameterValue", "{code}: {rejected}");
        assert!(error_message(&rejected).contains("0, 1, 3, 4 or 5"), "{rejected}");
        assert_eq!(setup.describe(&alice, &id)["Status"], 1);
        let still_good = setup.ocsp();
        assert!(still_good.contains("leaf.pem: good"), "{still_good}");
    }

    // An issued, unexpired certificate cannot be deleted.
    let refused = setup.call(&alice, "DeleteCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&refused), "FailedOperation.CannotBeDeletedIssued", "{refused}");

    // The request moves the certificate to status 9 and returns the record to publish.
    let revoked = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": &id, "Reason": "key leaked", "ReasonCode": 1 }));
    let auths = revoked["RevokeDomainValidateAuths"].as_array().unwrap_or_else(|| panic!("{revoked}"));
    assert_eq!(auths.len(), 1, "{revoked}");
    assert_eq!(auths[0]["DomainValidateAuthDomain"], DOMAIN);
    assert_eq!(auths[0]["DomainValidateAuthPath"], "");
    let key = auths[0]["DomainValidateAuthKey"].as_str().unwrap().to_owned();
    let value = auths[0]["DomainValidateAuthValue"].as_str().unwrap().to_owned();
    let revoking = setup.describe(&alice, &id);
    assert_eq!(revoking["Status"], 9, "{revoking}");
    assert_eq!(revoking["DvRevokeAuthDetail"][0]["DvAuthValue"], value.as_str(), "{revoking}");

    let blocked = setup.call(&alice, "DownloadCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&blocked), "FailedOperation.CertificateStatusNotAllowDownload", "{blocked}");
    let pending = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&pending), "FailedOperation.InvalidCertificateStatusCode", "{pending}");
    let refused = setup.call(&alice, "DeleteCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&refused), "FailedOperation.CannotBeDeletedIssued", "{refused}");

    // Publishing the record lets the scheduler revoke it.
    setup.bind.add_record(&key, 60, "TXT", &format!("\"{value}\""));
    setup.wait_for_status(&alice, &id, 10);
    let ocsp = setup.wait_for_ocsp("leaf.pem: revoked");
    assert!(ocsp.contains("leaf.pem: revoked"), "{ocsp}");
    assert!(ocsp.contains("Reason: keyCompromise"), "{ocsp}");

    // A second revocation is rejected as already revoked, and the stored reason stays.
    let again = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": &id, "ReasonCode": 4 }));
    assert_eq!(error_code(&again), "FailedOperation.InvalidCertificateStatusCode", "{again}");
    assert!(error_message(&again).contains("already revoked"), "{again}");
    let blocked = setup.call(&alice, "DownloadCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&blocked), "FailedOperation.CertificateStatusNotAllowDownload", "{blocked}");
    let ocsp = setup.ocsp();
    assert!(ocsp.contains("Reason: keyCompromise"), "{ocsp}");

    // Deletion hides the certificate from the owner, and OCSP still reports it revoked.
    let deleted = setup.call(&alice, "DeleteCertificate", json!({ "CertificateId": &id }));
    assert_eq!(deleted["DeleteResult"], true, "{deleted}");
    let gone = setup.describe(&alice, &id);
    assert_eq!(error_code(&gone), "FailedOperation.CertificateNotFound", "{gone}");
    let listed = setup.call(&alice, "DescribeCertificates", json!({}));
    assert_eq!(listed["TotalCount"], 0, "{listed}");

    // A free order cancelled within the hour of its application cannot be deleted yet; the
    // batch form reports each id on its own.
    let other = setup.call(&alice, "ApplyCertificate", json!({ "DvAuthMethod": "DNS", "DomainName": "other.example.test" }));
    let other_id = other["CertificateId"].as_str().unwrap_or_else(|| panic!("{other}")).to_owned();
    let refused = setup.call(&alice, "DeleteCertificate", json!({ "CertificateId": &other_id }));
    assert_eq!(error_code(&refused), "FailedOperation.InvalidCertificateStatusCode", "{refused}");
    let cancelled = setup.call(&alice, "CancelCertificateOrder", json!({ "CertificateId": &other_id }));
    assert!(cancelled.get("Error").is_none(), "{cancelled}");
    let batch = setup.call(&alice, "DeleteCertificates", json!({ "CertificateIds": [&id, &other_id] }));
    assert_eq!(batch["Success"], json!([]), "{batch}");
    assert_eq!(batch["Fail"][0]["CertId"], id.as_str(), "{batch}");
    assert!(batch["Fail"][0]["Msg"].as_str().unwrap_or("").contains("not found"), "{batch}");
    assert_eq!(batch["Fail"][1]["CertId"], other_id.as_str(), "{batch}");
    assert!(batch["Fail"][1]["Msg"].as_str().unwrap_or("").contains("one hour"), "{batch}");
    assert_eq!(setup.call(&alice, "DescribeCertificates", json!({}))["TotalCount"], 1);
    let ocsp = setup.ocsp();
    assert!(ocsp.contains("leaf.pem: revoked"), "{ocsp}");
    assert!(ocsp.contains("Reason: keyCompromise"), "{ocsp}");
}

#[test]
fn review_decided_over_api_and_cli() {
    let setup = Setup::start();
    let dir = setup.dir.path();
    let admin = setup.account("admin", "admin");
    let reviewer = setup.account("rita", "reviewer");
    let user = setup.account("ursula", "user");

    let (ok, output) = openssl(
        dir,
        &["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=reviewed.example.test"],
    );
    assert!(ok, "{output}");
    // Product 4 of the default catalogue is revoked after review only.
    let (ok, _, stderr) = setup.cli(&["ca", "sign", "--csr", dir.join("leaf.csr").to_str().unwrap(), "--product", "4"]);
    assert!(ok, "{stderr}");
    let id = stderr.split("issued certificate ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("certificate id").to_owned();

    let missing = setup.call(&admin, "RevokeCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&missing), "MissingParameter", "{missing}");
    assert_eq!(setup.describe(&admin, &id)["Status"], 1);

    let requested = setup.call(&admin, "RevokeCertificate", json!({ "CertificateId": &id, "Reason": "host retired", "ReasonCode": 5 }));
    assert_eq!(requested["RevokeDomainValidateAuths"], json!([]), "{requested}");
    assert_eq!(setup.describe(&admin, &id)["Status"], 9);

    let denied = setup.call(&user, "DescribeRevokeReviews", json!({}));
    assert_eq!(error_code(&denied), "UnauthorizedOperation", "{denied}");
    let denied = setup.call(&user, "ApproveRevokeReview", json!({ "ReviewId": 1 }));
    assert_eq!(error_code(&denied), "UnauthorizedOperation", "{denied}");

    let (ok, stdout, stderr) = setup.cli(&["review", "list", "--json"]);
    assert!(ok, "{stderr}");
    let reviews: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(reviews[0]["certificate_id"], id.as_str(), "{reviews}");
    assert_eq!(reviews[0]["kind"], "revoke", "{reviews}");
    assert_eq!(reviews[0]["state"], "pending", "{reviews}");
    let review_id = reviews[0]["id"].as_i64().unwrap();

    // The reviewer rejects over the API: the certificate is issued again.
    let listed = setup.call(&reviewer, "DescribeRevokeReviews", json!({ "State": "pending" }));
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    let rejected = setup.call(&reviewer, "RejectRevokeReview", json!({ "ReviewId": review_id, "Reason": "wrong host" }));
    assert_eq!(rejected["Status"], 1, "{rejected}");
    let described = setup.describe(&admin, &id);
    assert_eq!(described["Status"], 1, "{described}");
    assert!(described["StatusMsg"].as_str().unwrap_or("").contains("wrong host"), "{described}");

    // A new request, approved on the command line, revokes the certificate.
    let requested = setup.call(&admin, "RevokeCertificate", json!({ "CertificateId": &id, "Reason": "host retired", "ReasonCode": 5 }));
    assert!(requested.get("Error").is_none(), "{requested}");
    let (ok, stdout, _) = setup.cli(&["review", "list", "--state", "pending", "--json"]);
    assert!(ok);
    let reviews: Value = serde_json::from_str(&stdout).unwrap();
    let review_id = reviews[0]["id"].as_i64().unwrap().to_string();
    let (ok, stdout, stderr) = setup.cli(&["review", "approve", &review_id]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("revoked"), "{stdout}");
    assert_eq!(setup.describe(&admin, &id)["Status"], 10);
    let (ok, _, stderr) = setup.cli(&["review", "reject", &review_id, "--reason", "late"]);
    assert!(!ok, "a decided review cannot be decided again");
    assert!(stderr.contains("already approved"), "{stderr}");
}
