//! Runs the external tools the PKI tests check against: OpenSSL and pkilint.

use std::path::{Path, PathBuf};
use std::process::Command;

use certkeeper_core::{KeyAlgorithm, SerialNumber};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_pki::profile::{self, CaProfile, IssuerUrls, LeafIssuer};
use time::OffsetDateTime;

/// Runs `openssl` with `args` in `dir` and returns (success, stdout + stderr).
pub fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed; run scripts/install-test-tools.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Returns the path of a program in the test virtualenv (`CERTKEEPER_VENV` or `.venv`).
pub fn venv_program(name: &str) -> PathBuf {
    let venv = std::env::var_os("CERTKEEPER_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let program = venv.join("bin").join(name);
    assert!(
        program.exists(),
        "{} is missing; run scripts/install-test-tools.sh to create the test virtualenv",
        program.display()
    );
    program
}

/// Lints a PEM certificate with pkilint's CA/Browser Forum server certificate linter and returns
/// the findings at WARNING or above, one per line, without the finding for reserved test TLDs.
pub fn pkilint_findings(path: &Path, certificate_type: &str) -> Vec<String> {
    let output = Command::new(venv_program("lint_cabf_serverauth_cert"))
        .args(["lint", "-t", certificate_type, "-s", "WARNING"])
        .arg(path)
        .output()
        .expect("pkilint runs");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .filter(|line| line.contains("(ERROR)") || line.contains("(FATAL)") || line.contains("(WARNING)"))
        .filter(|line| !line.contains("cabf.internal_domain_name"))
        .map(str::to_owned)
        .collect()
}

/// Lints and returns only ERROR and FATAL findings.
pub fn pkilint_errors(path: &Path, certificate_type: &str) -> Vec<String> {
    pkilint_findings(path, certificate_type)
        .into_iter()
        .filter(|line| !line.contains("(WARNING)"))
        .collect()
}

/// A test CA made with certkeeper's own profiles, written to `root.pem` and `intermediate.pem`.
#[allow(dead_code)]
pub struct TestCa {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub issuer: LeafIssuer<SigningKeyPair>,
}

pub fn urls() -> IssuerUrls {
    IssuerUrls {
        ocsp: Some("http://ca.example.com/ocsp".into()),
        ca_issuers: "http://ca.example.com/ca/intermediate.der".into(),
        crl: "http://ca.example.com/crl/1/7.crl".into(),
    }
}

pub fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    SerialNumber::from_random(bytes)
}

pub fn make_ca(dir: &Path, algorithm: KeyAlgorithm) -> TestCa {
    let profile = CaProfile {
        country: "US".into(),
        organization: "certkeeper test".into(),
        root_common_name: "certkeeper Test Root".into(),
        intermediate_common_name: "certkeeper Test Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let root_key = SigningKeyPair::generate(algorithm).unwrap();
    let root_der = profile::build_root(&root_key, &profile, &random_serial(), now).unwrap();
    let intermediate_key = SigningKeyPair::generate(algorithm).unwrap();
    let root_urls = IssuerUrls {
        ocsp: None,
        ca_issuers: "http://ca.example.com/ca/root.der".into(),
        crl: "http://ca.example.com/crl/root.crl".into(),
    };
    let intermediate_der = profile::build_intermediate(
        &intermediate_key,
        &root_der,
        &root_key,
        &profile,
        &random_serial(),
        now,
        &root_urls,
    )
    .unwrap();
    std::fs::write(dir.join("root.pem"), certkeeper_pki::to_pem("CERTIFICATE", &root_der)).unwrap();
    std::fs::write(dir.join("intermediate.pem"), certkeeper_pki::to_pem("CERTIFICATE", &intermediate_der)).unwrap();
    let issuer = LeafIssuer::new(&intermediate_der, intermediate_key).unwrap();
    TestCa { root_der, intermediate_der, issuer }
}
