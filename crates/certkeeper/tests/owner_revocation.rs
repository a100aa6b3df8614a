//! Owner revocation through the API, end to end: a certificate ordered and validated through a
//! real BIND9, revoked with RevokeCertificate after the revocation TXT record is published,
//! checked with `openssl ocsp`, refused for download and deleted. A second certificate goes
//! through a review, decided over the API and with `certkeeper review`. Further tests cover the
//! confirmation-letter flow with a crash right after the approval, revocation by file
//! validation served by nginx, and OCSP stapling by nginx before and after a revocation.
//!
//! API calls go through the Tencent Cloud Python SDK in the virtualenv at `CERTKEEPER_VENV` or
//! `<workspace>/.venv` (`scripts/install-test-tools.sh` creates it).

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use certkeeper_testkit::{Bind9, Service, TlsSite, pdf_document};
use serde_json::{Value, json};
use support::{Key, binary, call_action, run_certkeeper};

const DOMAIN: &str = "www.example.test";
/// Base of the URLs in certificates; the server and the CLI must agree on it.
const PUBLIC_URL: &str = "http://pki.example.test";
/// How long a status change driven by the scheduler may take.
const STATUS_TIMEOUT: Duration = Duration::from_secs(60);

struct Setup {
    dir: tempfile::TempDir,
    bind: Bind9,
    /// The running server; `None` only between a crash and the restart.
    running: Option<Service>,
    config: PathBuf,
    data_dir: PathBuf,
}

impl Setup {
    fn start() -> Setup {
        Setup::start_with("")
    }

    /// Starts BIND9 and the server with `validation` settings added to the defaults.
    fn start_with(validation: &str) -> Setup {
        let bind = Bind9::start(&["example.test"]);
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let config = dir.path().join("certkeeper.toml");
        let settings = format!(
            "[validation]\ndns_servers = [\"{}\"]\nallow_private_addresses = true\nrecheck_interval = \"1s\"\n{validation}\n",
            bind.addr_string()
        );
        std::fs::write(&config, settings).unwrap();
        let mut setup = Setup { dir, bind, running: None, config, data_dir };
        setup.running = Some(setup.start_service());
        setup
    }

    fn start_service(&self) -> Service {
        let env = [("CERTKEEPER_PUBLIC_URL", PUBLIC_URL), ("RUST_LOG", "info")];
        Service::start(&binary(), &self.data_dir, &["--config", self.config.to_str().unwrap()], &env)
    }

    fn service(&self) -> &Service {
        self.running.as_ref().expect("the server runs")
    }

    /// Kills the server with SIGKILL, as a crash would, and starts it again on the same data.
    fn crash_and_restart(&mut self) {
        let log = self.running.take().expect("the server runs").kill();
        assert!(!log.contains("panicked"), "{log}");
        self.running = Some(self.start_service());
    }

    fn cli(&self, args: &[&str]) -> (bool, String, String) {
        run_certkeeper(&self.config, &self.data_dir, &[("CERTKEEPER_PUBLIC_URL", PUBLIC_URL), ("RUST_LOG", "warn")], args)
    }

    fn account(&self, name: &str, role: &str) -> Key {
        let (ok, stdout, stderr) = self.cli(&["account", "create", name, "--role", role, "--json"]);
        assert!(ok, "account create failed: {stderr}");
        Key::from_account_json(&stdout)
    }

    /// Calls an action with the Python SDK and returns the response, or {"Error": ...}.
    fn call(&self, key: &Key, action: &str, params: Value) -> Value {
        call_action(self.service().port(), key, action, &params)
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
            assert!(Instant::now() < deadline, "certificate {id} did not reach status {status}: {described}\n{}", self.service().log());
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Asks the server's OCSP responder about `leaf.pem` and returns OpenSSL's output.
    fn ocsp(&self) -> String {
        self.ocsp_of("leaf.pem")
    }

    /// Asks the server's OCSP responder about the certificate in `file`, issued by `chain.pem`.
    fn ocsp_of(&self, file: &str) -> String {
        let url = format!("{}/ocsp", self.service().base_url());
        openssl(self.dir.path(), &["ocsp", "-issuer", "chain.pem", "-cert", file, "-url", &url, "-CAfile", "root.pem", "-no_nonce"]).1
    }

    fn wait_for_ocsp(&self, expected: &str) -> String {
        self.wait_for_ocsp_of("leaf.pem", expected)
    }

    fn wait_for_ocsp_of(&self, file: &str, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = self.ocsp_of(file);
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
    write_bundle_parts(dir, download, DOMAIN, "leaf.pem");
}

/// Writes the Nginx bundle of `name` from a DownloadCertificate ZIP to `bundle.pem`, its leaf to
/// `leaf_file` and its intermediate to `chain.pem`, and returns the bundle.
fn write_bundle_parts(dir: &Path, download: &Value, name: &str, leaf_file: &str) -> String {
    let content = download["Content"].as_str().unwrap_or_else(|| panic!("{download}"));
    let archive = base64::engine::general_purpose::STANDARD.decode(content).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut bundle = String::new();
    zip.by_name(&format!("Nginx/{name}_bundle.crt")).unwrap().read_to_string(&mut bundle).unwrap();
    let second = bundle[1..].find("-----BEGIN").map(|index| index + 1).expect("the bundle holds two certificates");
    std::fs::write(dir.join("bundle.pem"), &bundle).unwrap();
    std::fs::write(dir.join(leaf_file), &bundle[..second]).unwrap();
    std::fs::write(dir.join("chain.pem"), &bundle[second..]).unwrap();
    bundle
}

#[test]
fn owner_revokes_with_dns_then_deletes() {
    let setup = Setup::start();
    let dir = setup.dir.path();
    let alice = setup.account("alice", "user");
    std::fs::write(dir.join("root.pem"), setup.service().get("/ca/root.pem").body).unwrap();

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

/// Issues a certificate with `certkeeper ca sign` for `name` through `product`, writes its key
/// to `<name>.key`, and returns its id.
fn sign_with_cli(setup: &Setup, name: &str, product: &str) -> String {
    let dir = setup.dir.path();
    let (ok, output) = openssl(
        dir,
        &["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr"), "-subj", &format!("/CN={name}")],
    );
    assert!(ok, "{output}");
    let (ok, _, stderr) = setup.cli(&["ca", "sign", "--csr", dir.join(format!("{name}.csr")).to_str().unwrap(), "--product", product]);
    assert!(ok, "{stderr}");
    stderr.split("issued certificate ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("certificate id").to_owned()
}

fn base64_of(content: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(content)
}

#[test]
fn confirmation_letter_approval_survives_sigkill() {
    let mut setup = Setup::start();
    let dir = setup.dir.path().to_owned();
    let admin = setup.account("admin", "admin");
    let reviewer = setup.account("rita", "reviewer");
    std::fs::write(dir.join("root.pem"), setup.service().get("/ca/root.pem").body).unwrap();
    // Product 2 of the default catalogue (OV) is revoked with a confirmation letter.
    let id = sign_with_cli(&setup, "ov.example.test", "2");
    let download = setup.call(&admin, "DownloadCertificate", json!({ "CertificateId": &id }));
    write_bundle_parts(&dir, &download, "ov.example.test", "leaf.pem");

    let template = setup.service().get("/templates/revocation-letter.txt");
    let template = String::from_utf8_lossy(&template.body).into_owned();
    assert!(template.starts_with("CERTIFICATE REVOCATION CONFIRMATION LETTER"), "{template}");
    let early = setup.call(&admin, "UploadRevokeLetter", json!({ "CertificateId": &id, "RevokeLetter": base64_of(&pdf_document(4096)) }));
    assert_eq!(error_code(&early), "FailedOperation.InvalidCertificateStatusCode", "{early}");
    assert!(error_message(&early).contains("needs no revocation letter"), "{early}");

    let requested = setup.call(&admin, "RevokeCertificate", json!({ "CertificateId": &id, "Reason": "private key exposed", "ReasonCode": 1 }));
    assert_eq!(requested["RevokeDomainValidateAuths"], json!([]), "{requested}");
    // The acknowledged request survives a crash right after it returns.
    setup.crash_and_restart();
    let waiting = setup.describe(&admin, &id);
    assert_eq!(waiting["Status"], 12, "{waiting}");
    assert_eq!(waiting["StatusMsg"], "PENDING-REVOKE-LETTER", "{waiting}");
    let blocked = setup.call(&admin, "DownloadCertificate", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&blocked), "FailedOperation.CertificateStatusNotAllowDownload", "{blocked}");

    // Refused letters change nothing.
    let gif = [b"GIF89a".as_slice(), &[0u8; 2000], b";"].concat();
    for (letter, code) in [
        (base64_of(&gif), "FailedOperation.InvalidConfirmLetterFormat"),
        (base64_of(&pdf_document(4096)[..3000]), "FailedOperation.InvalidConfirmLetterFormat"),
        (base64_of(&pdf_document(600)), "FailedOperation.ConfirmLetterTooSmall"),
        (base64_of(&pdf_document(1_500_000)), "FailedOperation.ConfirmLetterTooLarge"),
        ("not base64!".to_owned(), "InvalidParameterValue"),
    ] {
        let refused = setup.call(&admin, "UploadRevokeLetter", json!({ "CertificateId": &id, "RevokeLetter": letter }));
        assert_eq!(error_code(&refused), code, "{refused}");
        assert_eq!(setup.describe(&admin, &id)["Status"], 12);
    }
    let approve_early = setup.call(&reviewer, "DescribeRevokeReviews", json!({ "State": "pending" }));
    let review_id = approve_early["Reviews"][0]["ReviewId"].as_i64().unwrap_or_else(|| panic!("{approve_early}"));
    assert_eq!(approve_early["Reviews"][0]["Kind"], "revoke-letter", "{approve_early}");
    let refused = setup.call(&reviewer, "ApproveRevokeReview", json!({ "ReviewId": review_id }));
    assert_eq!(error_code(&refused), "FailedOperation.InvalidCertificateStatusCode", "{refused}");
    assert!(error_message(&refused).contains("no confirmation letter yet"), "{refused}");

    let letter = pdf_document(8192);
    let uploaded = setup.call(&admin, "UploadRevokeLetter", json!({ "CertificateId": &id, "RevokeLetter": base64_of(&letter) }));
    assert_eq!(uploaded["IsSuccess"], true, "{uploaded}");
    assert_eq!(setup.describe(&admin, &id)["Status"], 9);

    let reminded = setup.call(&admin, "RemindRevokeReviewers", json!({ "CertificateId": &id }));
    assert_eq!(reminded["ReviewId"], review_id, "{reminded}");
    let again = setup.call(&admin, "RemindRevokeReviewers", json!({ "CertificateId": &id }));
    assert_eq!(error_code(&again), "LimitExceeded.RateLimitExceeded", "{again}");

    // The reviewer reads the letter over the API and with the CLI.
    let shown = setup.call(&reviewer, "DescribeRevokeLetter", json!({ "ReviewId": review_id }));
    assert_eq!(shown["ContentType"], "application/pdf", "{shown}");
    assert_eq!(shown["Content"], base64_of(&letter).as_str());
    let letter_path = dir.join("letter-out.pdf");
    let (ok, stdout, stderr) = setup.cli(&["review", "show", &review_id.to_string(), "--letter-out", letter_path.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("application/pdf"), "{stdout}");
    assert_eq!(std::fs::read(&letter_path).unwrap(), letter);

    // The approval is acknowledged, then the server crashes before anything else happens.
    let approved = setup.call(&reviewer, "ApproveRevokeReview", json!({ "ReviewId": review_id }));
    assert_eq!(approved["Status"], 10, "{approved}");
    setup.crash_and_restart();
    let described = setup.describe(&admin, &id);
    assert_eq!(described["Status"], 10, "{described}");
    let ocsp = setup.wait_for_ocsp("leaf.pem: revoked");
    assert!(ocsp.contains("leaf.pem: revoked"), "{ocsp}");
    assert!(ocsp.contains("Reason: keyCompromise"), "{ocsp}");
    let log = setup.call(&admin, "DescribeCertificateOperateLogs", json!({ "Offset": 0, "Limit": 100 }));
    let text = log.to_string();
    for action in ["revoke", "editRevokeLetter", "remindReviewers", "revoked"] {
        assert!(text.contains(&format!("\"{action}\"")), "no {action} in {log}");
    }
}

#[test]
fn file_validation_revocation_served_by_nginx() {
    let webroot = tempfile::tempdir().unwrap();
    let site = TlsSite::static_http(webroot.path());
    let setup = Setup::start_with(&format!("http_port = {}", site.port()));
    let name = "files.example.test";
    setup.bind.add_record(name, 60, "A", "127.0.0.1");
    let alice = setup.account("alice", "user");
    let dir = setup.dir.path();
    std::fs::write(dir.join("root.pem"), setup.service().get("/ca/root.pem").body).unwrap();

    let publish = |path: &str, value: &str| {
        let file = webroot.path().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, value).unwrap();
    };
    let applied = setup.call(&alice, "ApplyCertificate", json!({ "DvAuthMethod": "FILE", "DomainName": name }));
    let id = applied["CertificateId"].as_str().unwrap_or_else(|| panic!("{applied}")).to_owned();
    let auth = setup.describe(&alice, &id)["DvAuthDetail"].clone();
    publish(auth["DvAuthPath"].as_str().unwrap_or_else(|| panic!("{auth}")), auth["DvAuthValue"].as_str().unwrap());
    setup.wait_for_status(&alice, &id, 1);
    let download = setup.call(&alice, "DownloadCertificate", json!({ "CertificateId": &id }));
    write_bundle_parts(dir, &download, name, "leaf.pem");

    let revoked = setup.call(&alice, "RevokeCertificate", json!({ "CertificateId": &id, "ReasonCode": 4 }));
    let auths = revoked["RevokeDomainValidateAuths"].as_array().unwrap_or_else(|| panic!("{revoked}"));
    assert_eq!(auths.len(), 1, "{revoked}");
    let path = auths[0]["DomainValidateAuthPath"].as_str().unwrap();
    let key = auths[0]["DomainValidateAuthKey"].as_str().unwrap();
    let value = auths[0]["DomainValidateAuthValue"].as_str().unwrap();
    assert_eq!(path, "/.well-known/pki-validation/", "{revoked}");
    assert!(key.ends_with(".txt"), "{revoked}");
    let revoking = setup.describe(&alice, &id);
    assert_eq!(revoking["Status"], 9, "{revoking}");
    assert_eq!(revoking["DvRevokeAuthDetail"][0]["DvAuthVerifyType"], "FILE", "{revoking}");

    publish(&format!("{path}{key}"), &format!("{value}\n"));
    setup.wait_for_status(&alice, &id, 10);
    let ocsp = setup.wait_for_ocsp("leaf.pem: revoked");
    assert!(ocsp.contains("Reason: superseded"), "{ocsp}");
}

/// Connects to nginx with `openssl s_client -status` until `done` is true for the output and
/// nginx's error log (nginx fetches the OCSP response after the first handshake), and returns
/// the last output.
fn stapled_status(dir: &Path, site: &TlsSite, name: &str, done: impl Fn(&str, &str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = Command::new("openssl")
            .args(["s_client", "-connect", &format!("127.0.0.1:{}", site.port()), "-servername", name, "-status", "-CAfile", "root.pem"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .expect("openssl is installed");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        if done(&text, &site.error_log()) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn nginx_staples_good_then_revoked() {
    let setup = Setup::start();
    let dir = setup.dir.path();
    let admin = setup.account("admin", "admin");
    let name = "stapled.example.test";
    std::fs::write(dir.join("root.pem"), setup.service().get("/ca/root.pem").body).unwrap();
    // Product 4 of the default catalogue is revoked after review only.
    let id = sign_with_cli(&setup, name, "4");
    let download = setup.call(&admin, "DownloadCertificate", json!({ "CertificateId": &id }));
    let bundle = write_bundle_parts(dir, &download, name, "stapled-leaf.pem");
    let second = bundle[1..].find("-----BEGIN").map(|index| index + 1).unwrap();
    let root = std::fs::read_to_string(dir.join("root.pem")).unwrap();
    std::fs::write(dir.join("trusted.pem"), format!("{}{root}", &bundle[second..])).unwrap();

    let directives = format!(
        "        ssl_stapling on;\n        ssl_stapling_verify on;\n        ssl_trusted_certificate {};\n        \
         ssl_stapling_responder {}/ocsp;",
        dir.join("trusted.pem").display(),
        setup.service().base_url()
    );
    let start_site = || TlsSite::builder(name, &dir.join("bundle.pem"), &dir.join(format!("{name}.key"))).directives(&directives).start();
    let site = start_site();
    let good = stapled_status(dir, &site, name, |output, _| output.contains("OCSP Response Status: successful"));
    assert!(good.contains("OCSP Response Status: successful"), "{good}\n{}", site.error_log());
    assert!(good.contains("Cert Status: good"), "{good}");
    assert!(good.contains("Verify return code: 0 (ok)"), "{good}");
    drop(site);

    setup.call(&admin, "RevokeCertificate", json!({ "CertificateId": &id, "Reason": "site closed", "ReasonCode": 5 }));
    let reviews = setup.call(&admin, "DescribeRevokeReviews", json!({ "State": "pending" }));
    let review_id = reviews["Reviews"][0]["ReviewId"].as_i64().unwrap_or_else(|| panic!("{reviews}"));
    let approved = setup.call(&admin, "ApproveRevokeReview", json!({ "ReviewId": review_id }));
    assert_eq!(approved["Status"], 10, "{approved}");

    // A freshly started nginx fetches the new response from certkeeper, finds the certificate
    // revoked, and staples nothing, because nginx does not staple a "revoked" response.
    let ocsp = setup.wait_for_ocsp_of("stapled-leaf.pem", "revoked");
    assert!(ocsp.contains("Reason: cessationOfOperation"), "{ocsp}");
    let site = start_site();
    let refused = "certificate status \"revoked\" in the OCSP response";
    let revoked = stapled_status(dir, &site, name, |_, log| log.contains(refused));
    assert!(site.error_log().contains(refused), "{}", site.error_log());
    assert!(revoked.contains("OCSP response: no response sent"), "{revoked}");
    assert!(!revoked.contains("Cert Status: good"), "{revoked}");
}
