//! Upload parsing, chain building and keystores, checked against OpenSSL and keytool.

use std::process::Command;

use certkeeper_pki::keystore::{self, Pkcs12Form};
use certkeeper_pki::upload::{self, CertificateKind, ChainSources, HostedChain, ParsedUpload, UploadError, UploadInput};
use certkeeper_testkit::{TestKey, TestPki, openssl, try_openssl};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn parse(certificate: &str, key: Option<&str>, password: Option<&str>) -> Result<ParsedUpload, UploadError> {
    upload::parse_upload(&UploadInput {
        certificate_field: "CertificatePublicKey",
        certificate,
        key_field: "CertificatePrivateKey",
        private_key: key,
        password,
    })
}

fn hosted(certificate: &str, key: Option<&str>, password: Option<&str>) -> Result<HostedChain, UploadError> {
    let parsed = parse(certificate, key, password)?;
    upload::assemble(&parsed.certificates, parsed.key.as_ref(), CertificateKind::Server, now(), &ChainSources::default())
}

struct Setup {
    pki: TestPki,
}

fn setup() -> Setup {
    let pki = TestPki::new();
    pki.leaf("ec", &["www.example.test", "api.example.test"], TestKey::EcP256, -1, 90);
    pki.leaf("rsa", &["rsa.example.test"], TestKey::Rsa2048, -1, 90);
    pki.key_forms("ec", "secret");
    pki.key_forms("rsa", "secret");
    Setup { pki }
}

#[test]
fn byte_order_marks_accepted() {
    let Setup { pki } = setup();
    let clean = hosted(&pki.chain("ec"), Some(&pki.read("ec.key")), None).unwrap();
    let with_bom = hosted(&format!("\u{FEFF}{}", pki.chain("ec")), Some(&format!("\u{FEFF}{}", pki.read("ec.key"))), None).unwrap();
    assert_eq!(with_bom.leaf.sha256, clean.leaf.sha256);
    assert_eq!(with_bom.intermediates.len(), 1);
    let key_only = hosted(&pki.chain("ec"), Some(&format!("\u{FEFF}{}", pki.read("ec.key"))), None).unwrap();
    assert_eq!(key_only.leaf.sha256, clean.leaf.sha256);

    let utf16: String = pki.chain("ec").chars().flat_map(|character| [character, '\0']).collect();
    let error = hosted(&format!("\u{FF}\u{FE}{utf16}"), Some(&pki.read("ec.key")), None).unwrap_err();
    assert!(matches!(error, UploadError::Utf16 { .. }), "{error}");
    assert!(error.to_string().contains("UTF-16"), "{error}");
}

#[test]
fn root_first_crlf_bundle_reordered() {
    let Setup { pki } = setup();
    let bundle = format!("{}{}{}", pki.read("root.pem"), pki.read("intermediate.pem"), pki.read("ec.pem")).replace('\n', "\r\n");
    let chain = hosted(&bundle, Some(&pki.read("ec.key")), None).unwrap();
    assert!(chain.leaf.subject.contains("www.example.test"));
    assert_eq!(chain.intermediates.len(), 1);
    assert!(chain.intermediates[0].subject.contains("Test Intermediate I1"));
    assert!(chain.root.as_ref().is_some_and(|root| root.subject.contains("Test Root R1")));
    assert!(chain.report.reordered);
    assert!(chain.report.dropped.iter().any(|dropped| dropped.reason == "root"));
    assert!(!chain.report.trusted, "a private test root is not publicly trusted");

    let error = hosted(&bundle, Some(&pki.read("rsa.key")), None).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, UploadError::KeyMismatch { .. }), "{message}");
    assert!(message.contains("www.example.test") && message.contains("api.example.test"), "{message}");
}

#[test]
fn every_key_encoding_pairs() {
    let Setup { pki } = setup();
    let ec_leaf = pki.read("ec.pem");
    for form in ["ec.key", "ec.sec1.key", "ec.params.key"] {
        let chain = hosted(&ec_leaf, Some(&pki.read(form)), None).unwrap_or_else(|error| panic!("{form}: {error}"));
        assert!(chain.leaf.subject.contains("www.example.test"), "{form}");
    }
    let rsa_leaf = pki.read("rsa.pem");
    for form in ["rsa.key", "rsa.pkcs1.key"] {
        hosted(&rsa_leaf, Some(&pki.read(form)), None).unwrap_or_else(|error| panic!("{form}: {error}"));
    }
    for (leaf, form) in [(&rsa_leaf, "rsa.enc8.key"), (&rsa_leaf, "rsa.legacy.key"), (&ec_leaf, "ec.enc8.key"), (&ec_leaf, "ec.legacy.key")] {
        let key = pki.read(form);
        hosted(leaf, Some(&key), Some("secret")).unwrap_or_else(|error| panic!("{form}: {error}"));
        let missing = hosted(leaf, Some(&key), None).unwrap_err();
        assert!(matches!(missing, UploadError::PasswordRequired { .. }), "{form}: {missing}");
        assert!(missing.to_string().contains("passphrase-protected"), "{form}: {missing}");
        let wrong = hosted(leaf, Some(&key), Some("wrong")).unwrap_err();
        assert!(matches!(wrong, UploadError::WrongPassword { .. }), "{form}: {wrong}");
    }
    let certificate_as_key = hosted(&rsa_leaf, Some(&rsa_leaf), None).unwrap_err();
    assert!(matches!(certificate_as_key, UploadError::CertificateInKeyField { .. }), "{certificate_as_key}");
    assert!(certificate_as_key.to_string().contains("CERTIFICATE block"));
    let crossed = hosted(&ec_leaf, Some(&pki.read("rsa.key")), None).unwrap_err();
    assert!(matches!(crossed, UploadError::KeyMismatch { .. }), "{crossed}");
}

#[test]
fn der_pkcs7_and_pkcs12_inputs() {
    let Setup { pki } = setup();
    let path = pki.path();
    std::fs::write(pki.file("chain.pem"), pki.chain("ec")).unwrap();
    openssl(path, &["crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-out", "chain.p7b"]);
    let chain = hosted(&pki.read("chain.p7b"), Some(&pki.read("ec.key")), None).unwrap();
    assert_eq!(chain.intermediates.len(), 1);

    openssl(path, &["x509", "-in", "ec.pem", "-outform", "DER", "-out", "ec.der"]);
    let der_base64 = base64_of(&pki.read_bytes("ec.der"));
    hosted(&der_base64, Some(&pki.read("ec.key")), None).unwrap();

    openssl(path, &["pkcs12", "-export", "-inkey", "ec.key", "-in", "ec.pem", "-certfile", "intermediate.pem", "-passout", "pass:secret", "-out", "ec.p12"]);
    let p12 = base64_of(&pki.read_bytes("ec.p12"));
    let from_p12 = hosted(&p12, None, Some("secret")).unwrap();
    assert_eq!(from_p12.intermediates.len(), 1);
    let wrong = hosted(&p12, None, Some("nope")).unwrap_err();
    assert!(matches!(wrong, UploadError::WrongPassword { .. }), "{wrong}");
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn duplicates_and_unrelated_dropped() {
    let Setup { pki } = setup();
    let bundle = format!("{}{}{}{}", pki.read("ec.pem"), pki.read("intermediate.pem"), pki.read("ec.pem"), pki.read("rsa.pem"));
    let parsed = parse(&bundle, Some(&pki.read("ec.key")), None).unwrap();
    assert_eq!(parsed.duplicates.len(), 1);
    let chain = upload::assemble(&parsed.certificates, parsed.key.as_ref(), CertificateKind::Server, now(), &ChainSources::default()).unwrap();
    assert!(chain.report.dropped.iter().any(|dropped| dropped.reason == "unrelated" && dropped.subject.contains("rsa.example.test")));
    assert!(!chain.report.reordered);
}

#[test]
fn missing_intermediate_from_sources() {
    let Setup { pki } = setup();
    let intermediate = pem::parse(pki.read("intermediate.pem")).unwrap().into_contents();
    let root = pem::parse(pki.read("root.pem")).unwrap().into_contents();
    let parsed = parse(&pki.read("ec.pem"), Some(&pki.read("ec.key")), None).unwrap();
    let alone = upload::assemble(&parsed.certificates, parsed.key.as_ref(), CertificateKind::Server, now(), &ChainSources::default()).unwrap();
    assert!(alone.intermediates.is_empty());
    assert!(alone.report.missing_issuer.is_some());
    assert!(alone.report.warnings.iter().any(|warning| warning.code == "IncompleteChain"));

    let sources = ChainSources { own: vec![intermediate, root], fetched: Vec::new() };
    let completed = upload::assemble(&parsed.certificates, parsed.key.as_ref(), CertificateKind::Server, now(), &sources).unwrap();
    assert_eq!(completed.intermediates.len(), 1);
    assert!(completed.report.added.iter().any(|added| added.reason == "certkeeper-ca"));
    assert!(completed.report.trusted, "certkeeper's own root is a trust anchor: {:?}", completed.report.warnings);
}

#[test]
fn expired_and_weak_rejected() {
    let pki = TestPki::new();
    pki.leaf("old", &["old.example.test"], TestKey::EcP256, -100, 30);
    pki.leaf("weak", &["weak.example.test"], TestKey::Rsa1024, -1, 30);
    pki.leaf("later", &["later.example.test"], TestKey::EcP256, 5, 30);
    let expired = hosted(&pki.read("old.pem"), Some(&pki.read("old.key")), None).unwrap_err();
    assert!(matches!(expired, UploadError::Expired { .. }), "{expired}");
    let weak = hosted(&pki.read("weak.pem"), Some(&pki.read("weak.key")), None).unwrap_err();
    assert!(matches!(weak, UploadError::WeakKey { bits: 1024, .. } | UploadError::UnsupportedKey { .. }), "{weak}");
    let later = hosted(&pki.read("later.pem"), Some(&pki.read("later.key")), None).unwrap();
    assert!(later.report.warnings.iter().any(|warning| warning.code == "NotYetValid"));
}

#[test]
fn bundled_intermediates_chain_to_mozilla() {
    let dir = tempfile::tempdir().unwrap();
    for (index, der) in upload::bundled_intermediates().iter().enumerate() {
        let name = format!("bundled-{index}.pem");
        std::fs::write(dir.path().join(&name), certkeeper_pki::to_pem("CERTIFICATE", der)).unwrap();
        let (ok, output) = try_openssl(dir.path(), &["verify", "-CApath", "/etc/ssl/certs", &name]);
        assert!(ok, "{name}: {output}");
    }
    assert_eq!(upload::bundled_intermediates().len(), 4);
}

/// Writes a keystore and returns the output of `openssl pkcs12 -info`.
fn pkcs12_info(dir: &std::path::Path, name: &str, bytes: &[u8], legacy: bool) -> String {
    std::fs::write(dir.join(name), bytes).unwrap();
    let mut args = vec!["pkcs12", "-info", "-noout", "-in", name, "-passin", "pass:changeit"];
    if legacy {
        args.push("-legacy");
    }
    let (ok, output) = try_openssl(dir, &args);
    assert!(ok, "{name}: {output}");
    output
}

fn keytool_list(dir: &std::path::Path, name: &str, store_type: &str) -> String {
    let output = Command::new("keytool")
        .args(["-list", "-v", "-keystore", name, "-storetype", store_type, "-storepass", "changeit"])
        .current_dir(dir)
        .output()
        .expect("keytool must be installed (default-jdk-headless); run scripts/install-test-tools.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "keytool failed: {text}");
    text
}

#[test]
fn keystores_read_by_openssl_and_keytool() {
    let Setup { pki } = setup();
    let chain = hosted(&pki.chain("rsa"), Some(&pki.read("rsa.key")), None).unwrap();
    let parsed = parse(&pki.read("rsa.pem"), Some(&pki.read("rsa.key")), None).unwrap();
    let key = parsed.key.unwrap();
    let ders: Vec<Vec<u8>> = std::iter::once(chain.leaf.der.clone()).chain(chain.intermediates.iter().map(|c| c.der.clone())).collect();
    let dir = pki.path();

    let compatible = keystore::pkcs12("www", &key.pkcs8, &ders, "changeit", Pkcs12Form::Compatible).unwrap();
    let info = pkcs12_info(dir, "compatible.pfx", &compatible, true);
    assert!(info.contains("MAC: sha1"), "{info}");
    assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{info}");
    assert_eq!(info.matches("Certificate bag").count(), 2, "{info}");
    assert!(info.contains("Shrouded Keybag"), "{info}");

    let modern = keystore::pkcs12("www", &key.pkcs8, &ders, "changeit", Pkcs12Form::Modern).unwrap();
    let info = pkcs12_info(dir, "modern.pfx", &modern, false);
    assert!(info.contains("MAC: sha256"), "{info}");
    assert!(info.contains("AES-256-CBC"), "{info}");

    let listing = keytool_list(dir, "compatible.pfx", "PKCS12");
    assert!(listing.contains("Your keystore contains 1 entry"), "{listing}");
    assert!(listing.contains("Certificate chain length: 2"), "{listing}");

    let jks = keystore::jks("tomcat", &key.pkcs8, &ders, "changeit", std::time::SystemTime::now()).unwrap();
    std::fs::write(dir.join("tomcat.jks"), &jks).unwrap();
    let listing = keytool_list(dir, "tomcat.jks", "JKS");
    assert!(listing.contains("Your keystore contains 1 entry"), "{listing}");
    assert!(listing.contains("PrivateKeyEntry"), "{listing}");
    assert!(listing.contains("Certificate chain length: 2"), "{listing}");
}

#[test]
fn sha1_and_weak_chain_reported() {
    let pki = TestPki::new();
    pki.leaf("www", &["www.example.test"], TestKey::EcP256, -1, 30);
    openssl(pki.path(), &["x509", "-req", "-in", "www.csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key", "-set_serial", "77", "-days", "30", "-sha1", "-extfile", "www.ext", "-out", "sha1.pem"]);
    let chain = hosted(&pki.read("sha1.pem"), Some(&pki.read("www.key")), None).unwrap();
    assert!(chain.report.warnings.iter().any(|warning| warning.code == "Sha1Signature"), "{:?}", chain.report.warnings);

    pki.leaf("weak", &["weak.example.test"], TestKey::Rsa1024, -1, 30);
    let parsed = parse(&pki.read("weak.pem"), None, None).unwrap();
    let error = upload::assemble(&parsed.certificates, None, CertificateKind::Server, now(), &ChainSources::default()).unwrap_err();
    assert!(matches!(error, UploadError::WeakKey { bits: 1024, .. }), "{error}");
    assert!(error.to_string().contains("below the minimum of 2048 bits"), "{error}");
}
