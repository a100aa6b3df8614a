//! Measures CRL signing for 100,000 and 1,000,000 entries and OCSP responses per second,
//! cached and with a nonce. Run with `cargo bench -p certkeeper-publish --bench publish`.
//!
//! NOTE: the CRL figures time `CaSigner::sign_crl` on entries built in memory. The store read
//! is not included, because the store has no bulk insert for revocations yet.

use std::time::Instant;

use certkeeper_ca::UrlScheme;
use certkeeper_core::KeyAlgorithm;
use certkeeper_pki::crl::{CaSigner, CrlContents, CrlEntry, CrlScope, RevocationReason};
use certkeeper_pki::{CaProfile, MasterKey};
use certkeeper_publish::{PublishSettings, PublishedIssuer, Publisher};
use certkeeper_store::{NewIssuer, Store};
use time::OffsetDateTime;

mod common;
use common::ocsp_request;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).await.unwrap();
    let urls = UrlScheme::new("http://127.0.0.1:1", 1);
    let master_key = MasterKey::generate().unwrap();
    let profile = CaProfile {
        country: "DE".to_owned(),
        organization: "certkeeper bench".to_owned(),
        root_common_name: "Bench Root".to_owned(),
        intermediate_common_name: "Bench Issuing CA".to_owned(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let created = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &urls, &master_key, now).unwrap();

    let key = certkeeper_ca::open_key(&created.intermediate, &master_key).unwrap();
    let signer = CaSigner::new(&created.intermediate.certificate_der, key).unwrap();
    for count in [100_000usize, 1_000_000] {
        let entries: Vec<CrlEntry> = (0..count)
            .map(|_| CrlEntry {
                serial: certkeeper_ca::random_serial().unwrap(),
                revoked_at: now,
                reason: RevocationReason::KeyCompromise,
            })
            .collect();
        let started = Instant::now();
        let der = signer
            .sign_crl(&CrlContents {
                number: 1,
                this_update: now,
                next_update: now + time::Duration::days(1),
                distribution_point: "http://127.0.0.1:1/crl/2/0.crl",
                scope: CrlScope::Leaves,
                entries: &entries,
            })
            .unwrap();
        println!("crl entries={count} encode+sign={:.3}s der_bytes={}", started.elapsed().as_secs_f64(), der.len());
    }

    let row = |role: &'static str, der: &'static [u8], sealed: &'static [u8]| NewIssuer {
        role,
        parent_id: None,
        subject: role,
        key_algorithm: "EC-P256",
        certificate_der: der,
        sealed_key: sealed,
        sha256: role,
        not_before: 0,
        not_after: i64::MAX,
        created_at: 0,
    };
    let leaked = Box::leak(Box::new(created.clone()));
    let (root_id, intermediate_id) = store
        .insert_ca_pair(
            &row("root", &leaked.root.certificate_der, &leaked.root.sealed_key),
            &row("intermediate", &leaked.intermediate.certificate_der, &leaked.intermediate.sealed_key),
        )
        .await
        .unwrap();
    let publisher = Publisher::start(
        store.clone(),
        urls,
        &PublishedIssuer { id: root_id, sealed: created.root.clone() },
        &PublishedIssuer { id: intermediate_id, sealed: created.intermediate.clone() },
        &master_key,
        PublishSettings::default(),
    )
    .await
    .unwrap();

    let serial = certkeeper_ca::random_serial().unwrap();
    store.reserve_serials(intermediate_id, &[(serial.to_hex(), None)], 0).await.unwrap();
    for nonce in [false, true] {
        let request = ocsp_request(&created.intermediate.certificate_der, &serial, nonce.then_some([7u8; 16]));
        let started = Instant::now();
        let mut answered = 0u64;
        while started.elapsed().as_secs_f64() < 3.0 {
            for _ in 0..100 {
                let reply = publisher.answer_ocsp(&request).await;
                assert!(reply.der.len() > 100);
                answered += 1;
            }
        }
        let rate = answered as f64 / started.elapsed().as_secs_f64();
        println!("ocsp nonce={nonce} single-task answers_per_second={rate:.0}");
    }
}
