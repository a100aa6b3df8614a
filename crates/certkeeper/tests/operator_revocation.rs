//! Operator revocation end to end: `ca revoke` while the server runs, then OCSP and the CRL
//! from the running server, checked with OpenSSL, also after a SIGKILL and restart.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use certkeeper_testkit::Service;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

/// Base of the URLs in certificates; the server and the CLI must agree on it, as in production.
const PUBLIC_URL: &str = "http://pki.example.test";

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .args(args)
        .env_remove("CERTKEEPER_MASTER_KEY")
        .env("CERTKEEPER_PUBLIC_URL", PUBLIC_URL)
        .output()
        .expect("run certkeeper");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

/// Asks the server's OCSP responder about `leaf.pem` and returns OpenSSL's output.
fn ocsp(dir: &Path, service: &Service) -> String {
    let url = format!("{}/ocsp", service.base_url());
    let (_, output) = openssl(
        dir,
        &["ocsp", "-issuer", "chain.pem", "-cert", "leaf.pem", "-url", &url, "-CAfile", "root.pem", "-no_nonce"],
    );
    output
}

fn wait_for_ocsp(dir: &Path, service: &Service, expected: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let output = ocsp(dir, service);
        if output.contains(expected) || Instant::now() > deadline {
            return output;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Fetches the CRL at `crl_path` and verifies `leaf` (a PEM file in `dir`) against it until
/// OpenSSL reports the leaf revoked or 10 seconds pass, because a `crl.publish` job builds the
/// CRL after the revocation commits. Returns the last verification's status and output.
fn wait_for_crl_revocation(dir: &Path, service: &Service, crl_path: &str, leaf: &str) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let crl = service.get(crl_path);
        assert_eq!(crl.status, 200, "{crl_path}");
        assert_eq!(crl.header("content-type"), Some("application/pkix-crl"));
        std::fs::write(dir.join("crl.der"), &crl.body).unwrap();
        let (ok, output) = openssl(dir, &["crl", "-inform", "DER", "-in", "crl.der", "-out", "crl.pem"]);
        assert!(ok, "{output}");
        let verified = openssl(dir, &["verify", "-crl_check", "-CRLfile", "crl.pem", "-CAfile", "root.pem", "-untrusted", "chain.pem", leaf]);
        if verified.1.contains("certificate revoked") || Instant::now() > deadline {
            return verified;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn revoked_certificate_is_published_and_survives_sigkill() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let data_dir = dir.join("data");
    let data = data_dir.to_str().unwrap().to_owned();
    let (ok, output) = openssl(dir, &["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=www.example.com"]);
    assert!(ok, "{output}");

    let env = [("CERTKEEPER_PUBLIC_URL", PUBLIC_URL)];
    let service = Service::start(&binary(), &data_dir, &[], &env);
    let (ok, chain, stderr) = run(&["--data-dir", &data, "ca", "sign", "--csr", dir.join("leaf.csr").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let id = stderr.split("issued certificate ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("certificate id").to_owned();
    let split = chain.find("-----BEGIN CERTIFICATE-----\n").and_then(|first| chain[first + 1..].find("-----BEGIN").map(|i| i + first + 1)).unwrap();
    std::fs::write(dir.join("leaf.pem"), &chain[..split]).unwrap();
    std::fs::write(dir.join("chain.pem"), &chain[split..]).unwrap();
    std::fs::write(dir.join("root.pem"), service.get("/ca/root.pem").body).unwrap();

    let good = ocsp(dir, &service);
    assert!(good.contains("leaf.pem: good"), "{good}");
    assert!(good.contains("Response verify OK"), "{good}");

    let (ok, stdout, stderr) = run(&["--data-dir", &data, "ca", "revoke", "--certificate", &id, "--reason", "1"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("revoked certificate"), "{stdout}");

    let revoked = wait_for_ocsp(dir, &service, "leaf.pem: revoked");
    assert!(revoked.contains("leaf.pem: revoked"), "{revoked}");
    assert!(revoked.contains("Reason: keyCompromise"), "{revoked}");

    let (_, text) = openssl(dir, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    let crl_url = text.lines().find_map(|line| line.trim().strip_prefix("URI:").filter(|u| u.ends_with(".crl"))).expect("CRL URL").to_owned();
    let crl_path = &crl_url[crl_url.find("/crl/").unwrap()..];
    let (ok, output) = wait_for_crl_revocation(dir, &service, crl_path, "leaf.pem");
    assert!(!ok, "verification with the CRL must fail");
    assert!(output.contains("certificate revoked"), "{output}");

    let (ok, _, stderr) = run(&["--data-dir", &data, "ca", "revoke", "--certificate", &id, "--reason", "4"]);
    assert!(!ok, "a second revocation is rejected");
    assert!(stderr.contains("already revoked"), "{stderr}");
    let (ok, _, stderr) = run(&["--data-dir", &data, "ca", "revoke", "--certificate", &id, "--reason", "6"]);
    assert!(!ok);
    assert!(stderr.contains("0, 1, 3, 4, 5 or 9"), "{stderr}");

    // A crash right after the acknowledged revocation loses nothing.
    service.kill();

    // A revocation committed while no server runs reaches the CRL once one starts, through the
    // crl.publish job stored with it.
    let (ok, output) = openssl(dir, &["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-keyout", "offline.key", "-out", "offline.csr", "-subj", "/CN=offline.example.com"]);
    assert!(ok, "{output}");
    let (ok, offline_chain, stderr) = run(&["--data-dir", &data, "ca", "sign", "--csr", dir.join("offline.csr").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let offline_id = stderr.split("issued certificate ").nth(1).and_then(|rest| rest.split_whitespace().next()).expect("certificate id").to_owned();
    let offline_split = offline_chain.find("-----BEGIN CERTIFICATE-----\n").and_then(|first| offline_chain[first + 1..].find("-----BEGIN").map(|i| i + first + 1)).unwrap();
    std::fs::write(dir.join("offline.pem"), &offline_chain[..offline_split]).unwrap();
    let (ok, _, stderr) = run(&["--data-dir", &data, "ca", "revoke", "--certificate", &offline_id, "--reason", "4"]);
    assert!(ok, "{stderr}");

    let service = Service::start(&binary(), &data_dir, &[], &env);
    let after_restart = ocsp(dir, &service);
    assert!(after_restart.contains("leaf.pem: revoked"), "{after_restart}");
    assert!(after_restart.contains("Reason: keyCompromise"), "{after_restart}");
    let (_, text) = openssl(dir, &["x509", "-in", "offline.pem", "-noout", "-text"]);
    let offline_url = text.lines().find_map(|line| line.trim().strip_prefix("URI:").filter(|u| u.ends_with(".crl"))).expect("CRL URL").to_owned();
    let offline_path = &offline_url[offline_url.find("/crl/").unwrap()..];
    let (ok, output) = wait_for_crl_revocation(dir, &service, offline_path, "offline.pem");
    assert!(!ok, "verification with the CRL must fail after the restart");
    assert!(output.contains("certificate revoked"), "{output}");
    service.stop();
}
