//! Uploads through `HostingService` with the store: a missing intermediate fetched from the
//! caIssuers URL (served by nginx on loopback), and the address rules that stop such fetches.

use std::sync::Arc;

use certkeeper_pki::MasterKey;
use certkeeper_pki::upload::CertificateKind;
use certkeeper_ra::{HostingError, HostingService, UploadRequest};
use certkeeper_store::Store;
use certkeeper_testkit::{Nginx, TestKey, TestPki, openssl};
use certkeeper_va::{DnsAutoConfig, ValidationConfig, Validator};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn request(pki: &TestPki, stem: &str) -> UploadRequest {
    UploadRequest {
        account_id: None,
        certificate: pki.read(&format!("{stem}.pem")),
        private_key: Some(pki.read(&format!("{stem}.key"))),
        password: None,
        kind: CertificateKind::Server,
        alias: String::new(),
        project_id: 0,
        repeatable: true,
        actor: "test".into(),
    }
}

fn validator(http_port: u16, allow_private_addresses: bool) -> Arc<Validator> {
    let config = ValidationConfig { http_port, allow_private_addresses, dns_servers: vec!["127.0.0.1:9".parse().unwrap()], ..ValidationConfig::default() };
    Arc::new(Validator::new(config, &DnsAutoConfig::default()).unwrap())
}

#[tokio::test]
async fn intermediate_fetched_from_ca_issuers() {
    let pki = TestPki::new();
    openssl(pki.path(), &["x509", "-in", "intermediate.pem", "-outform", "DER", "-out", "intermediate.der"]);
    let nginx = Nginx::builder().http_file("127.0.0.1", "/intermediate.der", pki.read_bytes("intermediate.der")).start();
    let url = format!("http://127.0.0.1:{}/intermediate.der", nginx.http_port());
    pki.leaf_with_extensions("aia", &["aia.example.test"], TestKey::EcP256, -1, 30, &format!("authorityInfoAccess=caIssuers;URI:{url}"));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
    let master_key = Arc::new(MasterKey::generate().unwrap());

    let without = HostingService::new(store.clone(), Arc::clone(&master_key), None);
    let outcome = without.upload(&request(&pki, "aia"), now()).await.unwrap();
    assert!(outcome.chain.intermediates.is_empty(), "without fetching the chain stays incomplete");
    assert!(outcome.chain.report.warnings.iter().any(|warning| warning.code == "IncompleteChain" && warning.message.contains(&url)));

    let fetching = HostingService::new(store.clone(), Arc::clone(&master_key), Some(validator(nginx.http_port(), true)));
    let outcome = fetching.upload(&request(&pki, "aia"), now()).await.unwrap();
    assert_eq!(outcome.chain.intermediates.len(), 1, "{:?}", outcome.chain.report);
    assert!(outcome.chain.report.added.iter().any(|added| added.reason == "aia"));
    let stored = store.upload(&outcome.certificate_id).await.unwrap().unwrap();
    assert_eq!(stored.chain_der, pki.read_bytes("intermediate.der"));

    // Loopback is a special-purpose address, so the default rules reject the fetch and the
    // upload is stored with its chain incomplete.
    let strict = HostingService::new(store.clone(), master_key, Some(validator(nginx.http_port(), false)));
    let outcome = strict.upload(&request(&pki, "aia"), now()).await.unwrap();
    assert!(outcome.chain.intermediates.is_empty());
}

#[tokio::test]
async fn rejected_upload_stores_nothing() {
    let pki = TestPki::new();
    pki.leaf("www", &["www.example.test"], TestKey::EcP256, -1, 30);
    pki.leaf("other", &["other.example.test"], TestKey::EcP256, -1, 30);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
    let hosting = HostingService::new(store.clone(), Arc::new(MasterKey::generate().unwrap()), None);
    let mut mismatched = request(&pki, "www");
    mismatched.private_key = Some(pki.read("other.key"));
    let error = hosting.upload(&mismatched, now()).await.unwrap_err();
    assert!(matches!(error, HostingError::Upload(_)), "{error}");
    assert_eq!(store.count_certificates().await.unwrap(), 0);
}

#[tokio::test]
async fn own_revoked_certificate_rejected() {
    let pki = TestPki::new();
    pki.leaf("revoked", &["revoked.example.test"], TestKey::EcP256, -1, 30);
    pki.leaf("valid", &["valid.example.test"], TestKey::EcP256, -1, 30);
    openssl(pki.path(), &["x509", "-in", "intermediate.pem", "-outform", "DER", "-out", "intermediate.der"]);
    openssl(pki.path(), &["x509", "-in", "revoked.pem", "-outform", "DER", "-out", "revoked.der"]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();

    // The test PKI's intermediate plays certkeeper's issuing CA, and its leaf is revoked.
    let intermediate = pki.read_bytes("intermediate.der");
    let issuer = |role| certkeeper_store::NewIssuer {
        role,
        parent_id: None,
        subject: role,
        key_algorithm: "ecdsa-p256",
        certificate_der: &intermediate,
        sealed_key: b"unused",
        sha256: role,
        not_before: 0,
        not_after: i64::MAX,
        created_at: 0,
    };
    let (_, intermediate_id) = store.insert_ca_pair(&issuer("root"), &issuer("intermediate")).await.unwrap();
    let serial = certkeeper_pki::describe::describe(&pki.read_bytes("revoked.der")).unwrap().serial_hex;
    let at = now();
    let revocation = certkeeper_store::NewRevocation {
        serial: &serial,
        issuer_id: intermediate_id,
        shard: 0,
        certificate_id: None,
        revoked_at: at,
        reason_code: 1,
        not_after: at + 30 * 86_400,
        created_at: at,
    };
    store.insert_revocation(&revocation).await.unwrap();

    let hosting = HostingService::new(store.clone(), Arc::new(MasterKey::generate().unwrap()), None);
    let error = hosting.upload(&request(&pki, "revoked"), now()).await.unwrap_err();
    assert!(matches!(error, HostingError::Revoked { reason_code: 1, .. }), "{error}");
    assert!(error.to_string().contains(&serial), "{error}");
    assert_eq!(store.count_certificates().await.unwrap(), 0, "a rejected upload stores nothing");

    let outcome = hosting.upload(&request(&pki, "valid"), now()).await.unwrap();
    assert_eq!(outcome.chain.intermediates.len(), 1, "{:?}", outcome.chain.report);
}
