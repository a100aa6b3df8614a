//! The binary on its embedded default: first start, restart, secrets at rest, bad start-up
//! input, and operator issuance.

use std::path::{Path, PathBuf};
use std::process::Command;

use certkeeper_testkit::Service;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

/// Runs the binary with `args` and returns (success, stdout, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(binary());
    command.args(args).env_remove("CERTKEEPER_MASTER_KEY");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("run certkeeper");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

fn make_csr(dir: &Path, name: &str, subject: &str) -> PathBuf {
    let (ok, output) = openssl(
        dir,
        &["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr"), "-subj", subject],
    );
    assert!(ok, "{output}");
    dir.join(format!("{name}.csr"))
}

/// Returns every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[test]
fn first_start_creates_ca_and_restart_reuses_it() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");

    let service = Service::start(&binary(), &data_dir, &[], &[]);
    let health = service.get("/healthz");
    assert_eq!(health.status, 200);
    let first_root = service.get("/ca/root.der");
    assert_eq!(first_root.status, 200);
    assert_eq!(first_root.header("content-type"), Some("application/pkix-cert"));
    let root_pem = service.get("/ca/root.pem");
    assert!(String::from_utf8_lossy(&root_pem.body).starts_with("-----BEGIN CERTIFICATE-----\n"));
    let port = service.port();
    let log = service.stop();
    assert!(log.contains(&format!("127.0.0.1:{port}")), "the log names the listen address:\n{log}");
    assert!(log.contains(&data_dir.display().to_string()), "the log names the data directory:\n{log}");
    assert!(log.contains("root_sha256"), "the log shows the CA fingerprints:\n{log}");
    assert!(log.contains("database closed"), "shutdown closes the database:\n{log}");

    let key_file = data_dir.join("master.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key_file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the master key file is private");

    let service = Service::start(&binary(), &data_dir, &[], &[]);
    let second_root = service.get("/ca/root.der");
    assert_eq!(second_root.body, first_root.body, "a restart serves the same root");
    service.stop();
}

#[test]
fn caissuers_url_serves_the_issuer() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let csr = make_csr(temp.path(), "leaf", "/CN=www.example.com");
    let service = Service::start(&binary(), &data_dir, &[], &[]);
    let (ok, leaf_and_chain, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "sign", "--csr", csr.to_str().unwrap()], &[]);
    assert!(ok, "ca sign works while the server runs: {stderr}");
    std::fs::write(temp.path().join("leaf.pem"), &leaf_and_chain).unwrap();

    let (_, text) = openssl(temp.path(), &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    let url = text.lines().find_map(|line| line.trim().strip_prefix("CA Issuers - URI:")).expect("caIssuers URL").to_owned();
    // Certificates carry the default public_url (the listen address of this data directory's
    // first start is not known in advance), so only the path is requested here.
    let path = &url[url.find("/ca/").expect("caIssuers path")..];
    let issuer = service.get(path);
    assert_eq!(issuer.status, 200, "{path}");
    std::fs::write(temp.path().join("issuer.der"), &issuer.body).unwrap();
    std::fs::write(temp.path().join("root.der"), service.get("/ca/root.der").body).unwrap();
    let (ok, output) = openssl(temp.path(), &["x509", "-inform", "DER", "-in", "issuer.der", "-out", "issuer.pem"]);
    assert!(ok, "{output}");
    let (ok, output) = openssl(temp.path(), &["x509", "-inform", "DER", "-in", "root.der", "-out", "root.pem"]);
    assert!(ok, "{output}");
    let (ok, output) = openssl(temp.path(), &["verify", "-CAfile", "root.pem", "-untrusted", "issuer.pem", "leaf.pem"]);
    assert!(ok, "{output}");
    service.stop();
}

/// Decrypts the stored CA keys with the library and searches every file of the data directory
/// for them in PKCS#8 DER, PEM, base64 and raw scalar form.
#[test]
fn data_directory_holds_no_private_key_in_clear() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let csr = make_csr(temp.path(), "leaf", "/CN=www.example.com");
    let service = Service::start(&binary(), &data_dir, &[], &[]);
    let (ok, _, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "sign", "--csr", csr.to_str().unwrap()], &[]);
    assert!(ok, "{stderr}");
    // Killing the server leaves the WAL file in place, so it is scanned too.
    service.kill();

    let master_key = certkeeper_pki::MasterKey::from_hex(&std::fs::read_to_string(data_dir.join("master.key")).unwrap()).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let issuers = runtime.block_on(async {
        let store = certkeeper_store::Store::open(&data_dir.join(certkeeper_store::DATABASE_FILE)).await.unwrap();
        let issuers = store.issuers().await.unwrap();
        store.close().await;
        issuers
    });
    assert_eq!(issuers.len(), 2);

    let mut secrets: Vec<(String, Vec<u8>)> = Vec::new();
    for issuer in &issuers {
        let sealed = certkeeper_ca::SealedIssuer {
            key_algorithm: issuer.key_algorithm.parse().unwrap(),
            certificate_der: issuer.certificate_der.clone(),
            sealed_key: issuer.sealed_key.clone(),
        };
        let pkcs8 = certkeeper_ca::open_key(&sealed, &master_key).unwrap().pkcs8_der().to_vec();
        // ECPrivateKey (RFC 5915): version 1, then the private key OCTET STRING of 32 bytes.
        let marker = [0x02, 0x01, 0x01, 0x04, 0x20];
        let at = pkcs8.windows(5).position(|w| w == marker).expect("P-256 private key octets") + 5;
        secrets.push((format!("{} raw scalar", issuer.role), pkcs8[at..at + 32].to_vec()));
        let base64 = certkeeper_pki::to_pem("PRIVATE KEY", &pkcs8);
        let base64_line = base64.lines().nth(1).unwrap().as_bytes().to_vec();
        secrets.push((format!("{} PKCS#8 DER", issuer.role), pkcs8));
        secrets.push((format!("{} PEM base64", issuer.role), base64_line));
    }
    secrets.push(("PEM private key label".into(), b"PRIVATE KEY-----".to_vec()));

    let files = files_under(&data_dir);
    assert!(files.iter().any(|f| f.ends_with("certkeeper.db")));
    for file in files {
        let contents = std::fs::read(&file).unwrap();
        for (what, needle) in &secrets {
            let found = contents.windows(needle.len()).any(|window| window == needle.as_slice());
            assert!(!found, "{} contains the {what}", file.display());
        }
    }
}

#[test]
fn corrupt_database_stops_start_up_and_is_left_alone() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    std::fs::create_dir(&data_dir).unwrap();
    let database = data_dir.join("certkeeper.db");
    let garbage = b"this is not an SQLite database, it is a text file of 64 bytes....".to_vec();
    std::fs::write(&database, &garbage).unwrap();

    let (ok, _, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "show"], &[]);
    assert!(!ok);
    assert!(stderr.contains(&database.display().to_string()), "names the file: {stderr}");
    assert!(stderr.contains("restore it from a backup"), "says what to do: {stderr}");
    assert_eq!(std::fs::read(&database).unwrap(), garbage, "the file is unchanged");
}

#[test]
fn wrong_master_key_stops_start_up() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let (ok, _, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "show"], &[]);
    assert!(ok, "{stderr}");
    let key_before = std::fs::read(data_dir.join("master.key")).unwrap();

    let other_key = "ab".repeat(32);
    let (ok, _, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "show"], &[("CERTKEEPER_MASTER_KEY", &other_key)]);
    assert!(!ok);
    assert!(stderr.contains("is not the one that sealed the keys"), "{stderr}");
    assert!(stderr.contains("CERTKEEPER_MASTER_KEY"), "{stderr}");

    std::fs::write(data_dir.join("master.key"), format!("{other_key}\n")).unwrap();
    let (ok, _, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "show"], &[]);
    assert!(!ok);
    assert!(stderr.contains(&data_dir.join("master.key").display().to_string()), "names the key file: {stderr}");

    std::fs::write(data_dir.join("master.key"), &key_before).unwrap();
    std::fs::remove_file(data_dir.join("master.key")).unwrap();
    let (ok, _, stderr) = run(&["--data-dir", data_dir.to_str().unwrap(), "ca", "show"], &[]);
    assert!(!ok, "a missing key file is not silently replaced");
    assert!(stderr.contains("is missing"), "{stderr}");
    assert!(!data_dir.join("master.key").exists(), "no new key file was written");
}

#[test]
fn bad_configuration_is_rejected_with_key_and_fix() {
    let temp = tempfile::tempdir().unwrap();
    let cases = [
        ("unknown.toml", "listen = \"127.0.0.1:9\"\nlisten_port = 9\n", "listen_port"),
        ("algorithm.toml", "[ca]\nkey_algorithm = \"dsa1024\"\n", "dsa1024"),
        (
            "validity.toml",
            "[[products]]\nid = 5\nname = \"Long\"\nlevel = \"dv\"\nkey_algorithms = [\"rsa2048\"]\nvalidity_days = 399\nrevocation_policy = \"domain-validation\"\n",
            "validity_days = 399",
        ),
        ("listen.toml", "listen = \"everywhere\"\n", "listen = \"everywhere\""),
    ];
    for (file, text, expected) in cases {
        let path = temp.path().join(file);
        std::fs::write(&path, text).unwrap();
        let data_dir = temp.path().join(format!("data-{file}"));
        let (ok, _, stderr) = run(&["--config", path.to_str().unwrap(), "--data-dir", data_dir.to_str().unwrap(), "config", "check"], &[]);
        assert!(!ok, "{file} should be rejected");
        assert!(stderr.contains(expected), "{file}: {stderr}");
        assert!(!data_dir.exists(), "{file}: nothing was created");
    }

    let good = temp.path().join("good.toml");
    std::fs::write(&good, "listen = \"127.0.0.1:9443\"\npublic_url = \"https://pki.example.test\"\n").unwrap();
    let (ok, stdout, stderr) = run(&["--config", good.to_str().unwrap(), "config", "check"], &[("CERTKEEPER_MASTER_KEY", &"cd".repeat(32))]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("public_url = \"https://pki.example.test\""), "{stdout}");
    assert!(stdout.contains("CERTKEEPER_MASTER_KEY: set (***)"), "{stdout}");
    assert!(!stdout.contains(&"cd".repeat(32)), "the master key is masked");
}

#[test]
fn ca_sign_issues_and_rejects_bad_csrs() {
    let temp = tempfile::tempdir().unwrap();
    let data_dir = temp.path().join("data");
    let data = data_dir.to_str().unwrap();
    let csr = make_csr(temp.path(), "ok", "/CN=WWW.Example.COM");
    let (ok, stdout, stderr) = run(&["--data-dir", data, "ca", "sign", "--csr", csr.to_str().unwrap(), "--days", "30"], &[]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.matches("-----BEGIN CERTIFICATE-----").count(), 2, "leaf and intermediate");
    std::fs::write(temp.path().join("issued.pem"), &stdout).unwrap();
    let (_, dates) = openssl(temp.path(), &["x509", "-in", "issued.pem", "-noout", "-subject", "-startdate", "-enddate"]);
    assert!(dates.contains("CN = www.example.com"), "{dates}");

    let (ok, _, stderr) = run(&["--data-dir", data, "ca", "sign", "--csr", csr.to_str().unwrap(), "--days", "399"], &[]);
    assert!(!ok);
    assert!(stderr.contains("399"), "{stderr}");

    let (ok, output) = openssl(temp.path(), &["req", "-new", "-nodes", "-newkey", "rsa:1024", "-keyout", "weak.key", "-out", "weak.csr", "-subj", "/CN=www.example.com"]);
    assert!(ok, "{output}");
    let (ok, _, stderr) = run(&["--data-dir", data, "ca", "sign", "--csr", temp.path().join("weak.csr").to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(stderr.contains("RSA 1024"), "{stderr}");
}
