//! Uploads certificates with their chains through `HostingService::upload` and compares the
//! rate with OpenSSL verifying the same chains.
//!
//! Run: `cargo bench -p certkeeper-ra --bench upload -- [COUNT]` (default 10000).
//!
//! Each upload is the PEM bundle leaf, intermediate, root (the root is set apart by the chain
//! builder) and the leaf's P-256 key in PKCS#8. Three rates are printed, all on one thread.
//! The first is parsing and chain building alone. The second is full uploads, each sealing the
//! key and committing durably (`synchronous = FULL`). The peer is one `openssl verify` process
//! checking every leaf against the same root and intermediate. OpenSSL parses and verifies the
//! chain but does not read or match keys, so it does a subset of the work of an upload.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use certkeeper_pki::MasterKey;
use certkeeper_pki::upload::{self, CertificateKind, ChainSources, UploadInput};
use certkeeper_ra::{HostingService, UploadRequest};
use certkeeper_store::Store;
use rcgen::{CertificateParams, Issuer, KeyPair};

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let status = Command::new("openssl").args(args).current_dir(dir).status().expect("openssl runs");
    assert!(status.success(), "openssl {args:?} failed");
}

/// Makes a root and an intermediate with OpenSSL and returns (root PEM, intermediate PEM,
/// intermediate key PEM).
fn make_ca(dir: &std::path::Path) -> (String, String, String) {
    std::fs::write(dir.join("ca.cnf"), "[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n").unwrap();
    std::fs::write(dir.join("int.ext"), "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n").unwrap();
    openssl(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "root.key"]);
    openssl(dir, &["req", "-x509", "-new", "-key", "root.key", "-subj", "/CN=Bench Root", "-days", "3650", "-config", "ca.cnf", "-extensions", "v3", "-out", "root.pem"]);
    openssl(dir, &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "int.key"]);
    openssl(dir, &["req", "-new", "-key", "int.key", "-subj", "/CN=Bench Intermediate", "-out", "int.csr"]);
    openssl(dir, &["x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "9", "-days", "3600", "-extfile", "int.ext", "-out", "int.pem"]);
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    (read("root.pem"), read("int.pem"), read("int.key"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let count: usize = std::env::args().skip(1).find(|arg| !arg.starts_with('-')).and_then(|arg| arg.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let (root_pem, intermediate_pem, intermediate_key_pem) = make_ca(dir.path());
    let issuer = Issuer::from_ca_cert_pem(&intermediate_pem, KeyPair::from_pem(&intermediate_key_pem).unwrap()).unwrap();

    println!("making {count} leaves with rcgen");
    let mut bundles = Vec::with_capacity(count);
    let leaves_dir = dir.path().join("leaves");
    std::fs::create_dir_all(&leaves_dir).unwrap();
    for index in 0..count {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![format!("host{index}.example.test")]).unwrap();
        let leaf = params.signed_by(&key, &issuer).unwrap();
        std::fs::write(leaves_dir.join(format!("{index}.pem")), leaf.pem()).unwrap();
        bundles.push((format!("{}{intermediate_pem}{root_pem}", leaf.pem()), key.serialize_pem()));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;

    let start = Instant::now();
    for (certificate, key) in &bundles {
        let input = UploadInput { certificate_field: "CertificatePublicKey", certificate, key_field: "CertificatePrivateKey", private_key: Some(key), password: None };
        let parsed = upload::parse_upload(&input).unwrap();
        let chain = upload::assemble(&parsed.certificates, parsed.key.as_ref(), CertificateKind::Server, now, &ChainSources::default()).unwrap();
        assert_eq!(chain.intermediates.len(), 1);
    }
    let parse_rate = count as f64 / start.elapsed().as_secs_f64();

    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
    let hosting = HostingService::new(store.clone(), Arc::new(MasterKey::generate().unwrap()), None);
    let start = Instant::now();
    for (certificate, key) in &bundles {
        let request = UploadRequest {
            account_id: None,
            certificate: certificate.clone(),
            private_key: Some(key.clone()),
            password: None,
            kind: CertificateKind::Server,
            alias: String::new(),
            project_id: 0,
            repeatable: true,
            actor: "bench".into(),
        };
        hosting.upload(&request, now).await.unwrap();
    }
    let upload_rate = count as f64 / start.elapsed().as_secs_f64();
    assert_eq!(store.count_certificates().await.unwrap(), count as i64);

    let mut verify = Command::new("openssl");
    verify.args(["verify", "-CAfile", "root.pem", "-untrusted", "int.pem"]).current_dir(dir.path());
    for index in 0..count {
        verify.arg(format!("leaves/{index}.pem"));
    }
    let start = Instant::now();
    let output = verify.output().expect("openssl runs");
    let openssl_rate = count as f64 / start.elapsed().as_secs_f64();
    assert!(output.status.success(), "openssl verify failed");

    println!("parse and build chain: {parse_rate:.0} /s");
    println!("upload through the store: {upload_rate:.0} /s");
    println!("openssl verify (one process, {count} leaves): {openssl_rate:.0} /s");
}
