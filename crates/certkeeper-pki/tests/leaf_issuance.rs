//! Leaves issued from OpenSSL-made CSRs, checked with `openssl verify` and pkilint, and the CSR
//! policy cases for names and keys.

mod tools;

use std::path::Path;

use certkeeper_core::{KeyAlgorithm, ValidationLevel};
use certkeeper_pki::csr::{CsrError, check_csr};
use certkeeper_pki::profile::LeafProfile;
use time::{Duration, OffsetDateTime};
use tools::{make_ca, openssl, pkilint_errors, pkilint_findings, random_serial, urls};

/// Makes a key and a CSR with `openssl req`; `key_args` are the `-newkey`/`-pkeyopt` options.
fn make_csr(dir: &Path, name: &str, key_args: &[&str], subject: &str, extra: &[&str]) -> Vec<u8> {
    let key_file = format!("{name}.key");
    let csr_file = format!("{name}.csr");
    let mut args = vec!["req", "-new", "-nodes", "-keyout", &key_file, "-out", &csr_file, "-subj", subject];
    args.extend_from_slice(key_args);
    args.extend_from_slice(extra);
    let (ok, output) = openssl(dir, &args);
    assert!(ok, "openssl req failed for {name}: {output}");
    std::fs::read(dir.join(csr_file)).unwrap()
}

fn issue(ca: &tools::TestCa, csr: &[u8], level: ValidationLevel) -> Vec<u8> {
    let checked = check_csr(csr).expect("CSR passes the checks");
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let serial = random_serial();
    ca.issuer
        .sign_leaf(&LeafProfile {
            key: &checked.key,
            names: &checked.names,
            serial: &serial,
            not_before: now,
            not_after: now + Duration::days(90) - Duration::seconds(1),
            level,
            urls: urls(),
            subject: None,
        })
        .unwrap()
}

const RSA_2048: &[&str] = &["-newkey", "rsa:2048"];
const P256: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
const P384: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"];

#[test]
fn openssl_verifies_leaves_for_each_key_kind() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), KeyAlgorithm::EcdsaP256);
    let cases: [(&str, &[&str], &[&str], KeyAlgorithm); 4] = [
        ("rsa2048", RSA_2048, &[], KeyAlgorithm::Rsa2048),
        ("p256", P256, &[], KeyAlgorithm::EcdsaP256),
        ("p384", P384, &[], KeyAlgorithm::EcdsaP384),
        ("p256-sha384", P256, &["-sha384"], KeyAlgorithm::EcdsaP256),
    ];
    for (name, key_args, extra, expected) in cases {
        let csr = make_csr(dir.path(), name, key_args, "/CN=www.example.com", extra);
        assert_eq!(check_csr(&csr).unwrap().key.algorithm(), expected, "{name}");
        let leaf = issue(&ca, &csr, ValidationLevel::Dv);
        let leaf_file = format!("{name}.pem");
        std::fs::write(dir.path().join(&leaf_file), certkeeper_pki::to_pem("CERTIFICATE", &leaf)).unwrap();

        let (ok, output) = openssl(dir.path(), &["verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", &leaf_file]);
        assert!(ok, "{name}: openssl verify failed: {output}");
        assert!(output.contains(": OK"), "{name}: {output}");

        // The public key in the certificate must be the CSR's key, byte for byte.
        let (ok, from_cert) = openssl(dir.path(), &["x509", "-in", &leaf_file, "-noout", "-pubkey"]);
        assert!(ok, "{from_cert}");
        let (ok, from_key) = openssl(dir.path(), &["pkey", "-in", &format!("{name}.key"), "-pubout"]);
        assert!(ok, "{from_key}");
        assert_eq!(from_cert, from_key, "{name}: certificate key differs from the CSR key");

        let errors = pkilint_errors(&dir.path().join(&leaf_file), "DV-FINAL-CERTIFICATE");
        assert!(errors.is_empty(), "{name}: pkilint errors: {errors:#?}");
    }
}

#[test]
fn pkilint_accepts_ca_certificates() {
    let dir = tempfile::tempdir().unwrap();
    make_ca(dir.path(), KeyAlgorithm::EcdsaP256);
    let root = pkilint_errors(&dir.path().join("root.pem"), "ROOT-CA");
    assert!(root.is_empty(), "root: {root:#?}");
    let intermediate = pkilint_errors(&dir.path().join("intermediate.pem"), "INTERNAL-UNCONSTRAINED-TLS-CA");
    assert!(intermediate.is_empty(), "intermediate: {intermediate:#?}");
}

#[test]
fn rsa_ca_issues_verifiable_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), KeyAlgorithm::Rsa3072);
    let csr = make_csr(dir.path(), "leaf", P256, "/CN=www.example.com", &[]);
    let leaf = issue(&ca, &csr, ValidationLevel::Dv);
    std::fs::write(dir.path().join("leaf.pem"), certkeeper_pki::to_pem("CERTIFICATE", &leaf)).unwrap();
    let (ok, output) = openssl(dir.path(), &["verify", "-CAfile", "root.pem", "-untrusted", "intermediate.pem", "leaf.pem"]);
    assert!(ok, "{output}");
}

/// Mixed-case and repeated names collapse into one lower-case SAN each, and the CN follows.
#[test]
fn mixed_case_names_are_normalised() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), KeyAlgorithm::EcdsaP256);
    let csr = make_csr(
        dir.path(),
        "mixed",
        P256,
        "/CN=WWW.Example.TEST",
        &["-addext", "subjectAltName=DNS:www.example.test,DNS:Shop.EXAMPLE.test,DNS:shop.example.test,DNS:WWW.EXAMPLE.TEST"],
    );
    let checked = check_csr(&csr).unwrap();
    let names: Vec<&str> = checked.names.iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["www.example.test", "shop.example.test"]);

    let leaf = issue(&ca, &csr, ValidationLevel::Dv);
    std::fs::write(dir.path().join("mixed.pem"), certkeeper_pki::to_pem("CERTIFICATE", &leaf)).unwrap();
    let (_, text) = openssl(dir.path(), &["x509", "-in", "mixed.pem", "-noout", "-ext", "subjectAltName", "-subject"]);
    assert!(text.contains("DNS:www.example.test, DNS:shop.example.test"), "{text}");
    assert_eq!(text.matches("DNS:").count(), 2, "{text}");
    assert!(text.contains("subject=CN = www.example.test"), "{text}");
    let findings = pkilint_findings(&dir.path().join("mixed.pem"), "DV-FINAL-CERTIFICATE");
    let about_names: Vec<_> = findings.iter().filter(|f| f.contains("name") && !f.contains("common_name_attribute_present")).collect();
    assert!(about_names.is_empty(), "{about_names:#?}");
}

/// The CN joins the SAN list; IP addresses and SAN types that are not issued are rejected.
#[test]
fn san_list_built_from_cn_and_san() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), KeyAlgorithm::EcdsaP256);

    let only_cn = make_csr(dir.path(), "a", P256, "/CN=app.example.test", &[]);
    let leaf = issue(&ca, &only_cn, ValidationLevel::Dv);
    std::fs::write(dir.path().join("a.pem"), certkeeper_pki::to_pem("CERTIFICATE", &leaf)).unwrap();
    let (_, text) = openssl(dir.path(), &["x509", "-in", "a.pem", "-noout", "-ext", "subjectAltName"]);
    assert!(text.contains("DNS:app.example.test"), "{text}");

    let cn_and_san = make_csr(dir.path(), "b", P256, "/CN=a.example.test", &["-addext", "subjectAltName=DNS:b.example.test,DNS:c.example.test"]);
    let names: Vec<String> = check_csr(&cn_and_san).unwrap().names.iter().map(|n| n.to_string()).collect();
    assert_eq!(names, ["a.example.test", "b.example.test", "c.example.test"]);

    let ip_cn = make_csr(dir.path(), "c", P256, "/CN=192.0.2.10", &["-addext", "subjectAltName=IP:192.0.2.10"]);
    let error = check_csr(&ip_cn).unwrap_err();
    assert!(matches!(error, CsrError::UnsupportedName { .. }), "{error}");
    assert!(error.to_string().contains("192.0.2.10"), "{error}");

    let ip_as_dns = make_csr(dir.path(), "d", P256, "/O=Example", &["-addext", "subjectAltName=DNS:192.0.2.10"]);
    let error = check_csr(&ip_as_dns).unwrap_err();
    assert!(matches!(error, CsrError::IpAsDnsName { .. }), "{error}");
    assert!(error.to_string().contains("IP address written as a DNS name"), "{error}");

    let other_types = make_csr(
        dir.path(),
        "e",
        P256,
        "/O=Example",
        &["-addext", "subjectAltName=DNS:a.example.test,email:admin@example.test,URI:https://example.test/"],
    );
    let error = check_csr(&other_types).unwrap_err();
    assert!(error.to_string().contains("admin@example.test"), "{error}");
    assert!(error.to_string().contains("rfc822Name"), "{error}");
}

/// Keys outside policy are rejected with the algorithm, size or curve and the accepted set.
#[test]
fn csr_key_policy() {
    let dir = tempfile::tempdir().unwrap();
    let accepted: [(&str, &[&str]); 5] = [
        ("rsa2048", &["-newkey", "rsa:2048"]),
        ("rsa3072", &["-newkey", "rsa:3072"]),
        ("rsa4096", &["-newkey", "rsa:4096"]),
        ("p256", P256),
        ("p384", P384),
    ];
    for (name, key_args) in accepted {
        let csr = make_csr(dir.path(), name, key_args, "/CN=www.example.test", &[]);
        assert!(check_csr(&csr).is_ok(), "{name} should be accepted");
    }

    let rejected: [(&str, &[&str], &str); 4] = [
        ("rsa1024", &["-newkey", "rsa:1024"], "RSA 1024"),
        ("rsa2176", &["-newkey", "rsa:2176"], "RSA 2176"),
        ("secp256k1", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"], "secp256k1"),
        ("p521", &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"], "P-521"),
    ];
    for (name, key_args, named) in rejected {
        let csr = make_csr(dir.path(), name, key_args, "/CN=www.example.test", &[]);
        let error = check_csr(&csr).unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, CsrError::KeyNotAccepted { .. }), "{name}: {message}");
        assert!(message.contains(named), "{name}: {message}");
        assert!(message.contains("rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384"), "{name}: {message}");
    }
}

#[test]
fn tampered_csr_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let csr = make_csr(dir.path(), "t", P256, "/CN=www.example.test", &["-outform", "DER"]);
    let mut tampered = csr.clone();
    let position = tampered.windows(16).position(|w| w == b"www.example.test").unwrap();
    tampered[position] = b'x';
    assert!(matches!(check_csr(&tampered), Err(CsrError::BadSignature)));
    assert!(check_csr(&csr).is_ok(), "the untouched DER CSR is accepted");
}

fn organization(ev: bool) -> certkeeper_core::OrganizationSubject {
    certkeeper_core::OrganizationSubject {
        organization: "Example Handels GmbH".into(),
        locality: "Köln".into(),
        state: "Nordrhein-Westfalen".into(),
        country: "DE".into(),
        ev: ev.then(|| certkeeper_core::EvSubject {
            business_category: "Private Organization".into(),
            jurisdiction_country: "DE".into(),
            registration_number: "HRB 12345".into(),
        }),
    }
}

/// OV and EV leaves carry the organisation in their subject, with countryName as
/// PrintableString, and pass pkilint's OV and EV profiles.
#[test]
fn pkilint_accepts_ov_and_ev_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let ca = make_ca(dir.path(), KeyAlgorithm::EcdsaP256);
    let cases = [
        ("ov", ValidationLevel::Ov, organization(false), "OV-FINAL-CERTIFICATE", "2.23.140.1.2.2"),
        ("ev", ValidationLevel::Ev, organization(true), "EV-FINAL-CERTIFICATE", "2.23.140.1.1"),
    ];
    for (name, level, subject, profile, policy) in cases {
        let csr = make_csr(dir.path(), name, P256, "/CN=www.example.test", &[]);
        let checked = check_csr(&csr).unwrap();
        let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
        let leaf = ca
            .issuer
            .sign_leaf(&LeafProfile {
                key: &checked.key,
                names: &checked.names,
                serial: &random_serial(),
                not_before: now,
                // The Baseline Requirements allow 200 days for certificates issued since
                // 2026-03-15, which pkilint checks.
                not_after: now + Duration::days(199) - Duration::seconds(1),
                level,
                urls: urls(),
                subject: Some(&subject),
            })
            .unwrap();
        let file = dir.path().join(format!("{name}.pem"));
        std::fs::write(&file, certkeeper_pki::to_pem("CERTIFICATE", &leaf)).unwrap();

        let errors = pkilint_errors(&file, profile);
        assert!(errors.is_empty(), "{name}: pkilint errors: {errors:#?}");
        // The CN is kept, as in DV leaves, although the Baseline Requirements discourage it.
        let warnings: Vec<String> =
            pkilint_findings(&file, profile).into_iter().filter(|line| !line.contains("common_name_attribute_present")).collect();
        assert!(warnings.is_empty(), "{name}: pkilint warnings: {warnings:#?}");
        let (ok, text) = openssl(dir.path(), &["x509", "-in", &format!("{name}.pem"), "-noout", "-text", "-nameopt", "multiline,show_type"]);
        assert!(ok, "{text}");
        assert!(text.contains("countryName               = PRINTABLESTRING:DE"), "{name}: {text}");
        assert!(text.contains("organizationName          = UTF8STRING:Example Handels GmbH"), "{name}: {text}");
        assert!(text.contains("localityName              = UTF8STRING:K"), "{name}: {text}");
        assert!(text.contains("stateOrProvinceName       = UTF8STRING:Nordrhein-Westfalen"), "{name}: {text}");
        assert!(text.contains(policy), "{name}: {text}");
        if level == ValidationLevel::Ev {
            assert!(text.contains("businessCategory          = UTF8STRING:Private Organization"), "{text}");
            assert!(text.contains("jurisdictionCountryName   = PRINTABLESTRING:DE"), "{text}");
            assert!(text.contains("serialNumber              = PRINTABLESTRING:HRB 12345"), "{text}");
        }
    }
}
