//! Fixture parts shared by the registration authority tests.

use std::sync::Arc;

use certkeeper_ca::{CertificateAuthority, SealedIssuer, UrlScheme};
use certkeeper_core::KeyAlgorithm;
use certkeeper_pki::MasterKey;
use certkeeper_pki::profile::CaProfile;
use certkeeper_store::{NewIssuer, Store};
use time::OffsetDateTime;

fn new_issuer<'a>(role: &'a str, sealed: &'a SealedIssuer) -> NewIssuer<'a> {
    NewIssuer {
        role,
        parent_id: None,
        subject: role,
        key_algorithm: "ecdsa-p256",
        certificate_der: &sealed.certificate_der,
        sealed_key: &sealed.sealed_key,
        sha256: role,
        not_before: 0,
        not_after: 0,
        created_at: 0,
    }
}

/// Creates a P-256 root and issuing CA valid from `at`, stores both, and returns the loaded
/// issuing CA.
pub async fn create_ca(store: &Store, master_key: &MasterKey, urls: &UrlScheme, at: OffsetDateTime) -> Arc<CertificateAuthority> {
    let profile = CaProfile {
        country: "US".into(),
        organization: "certkeeper test".into(),
        root_common_name: "Test Root".into(),
        intermediate_common_name: "Test Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let new_ca = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, urls, master_key, at).unwrap();
    let (_, intermediate_id) =
        store.insert_ca_pair(&new_issuer("root", &new_ca.root), &new_issuer("intermediate", &new_ca.intermediate)).await.unwrap();
    Arc::new(CertificateAuthority::load(&new_ca.root, &new_ca.intermediate, intermediate_id, master_key, urls.clone()).unwrap())
}
