//! Issues certificates through the store and compares the rate with raw P-256 signing.
//!
//! Run: `cargo bench -p certkeeper-ra --bench issue_and_store -- [COUNT] [BATCH]`
//! (defaults 100000 and 1000). Each batch costs two durable SQLite commits (serial
//! reservation, then certificates with their log rows); signing uses every core, and two
//! issuing loops run concurrently.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use certkeeper_ca::UrlScheme;
use certkeeper_core::{KeyAlgorithm, ProductCatalogue, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_pki::profile::CaProfile;
use certkeeper_ra::{IssuanceService, IssueRequest};
use certkeeper_store::{NewIssuer, Store};
use time::OffsetDateTime;

/// Signs 600-byte messages (about the size of a leaf's TBSCertificate) for `seconds` on one thread.
fn raw_p256_rate(seconds: f64) -> f64 {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
    let _ = key.public_key();
    let message = [0x5au8; 600];
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..100 {
            key.sign(&rng, &message).unwrap();
        }
        count += 100;
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Returns the CPU time of this process so far (user plus system, all threads), in seconds.
fn process_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of /proc/self/stat, counted in clock ticks of 1/100 s.
    (ticks(11) + ticks(12)) / 100.0
}

fn openssl_speed() -> String {
    let output = Command::new("openssl").args(["speed", "-seconds", "3", "ecdsap256"]).output();
    match output {
        Ok(output) => String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.contains("256 bits ecdsa"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(error) => format!("openssl speed failed: {error}"),
    }
}

fn make_csr(dir: &std::path::Path) -> Vec<u8> {
    let status = Command::new("openssl")
        .args(["req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
        .args(["-keyout", "bench.key", "-out", "bench.csr", "-subj", "/CN=www.example.com"])
        .current_dir(dir)
        .status()
        .expect("openssl runs");
    assert!(status.success());
    std::fs::read(dir.join("bench.csr")).unwrap()
}

fn new_issuer<'a>(role: &'a str, sealed: &'a certkeeper_ca::SealedIssuer) -> NewIssuer<'a> {
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

async fn open_service(dir: &std::path::Path) -> (IssuanceService, Store) {
    let store = Store::open(&dir.join("bench.db")).await.unwrap();
    let master_key = MasterKey::generate().unwrap();
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let profile = CaProfile {
        country: "US".into(),
        organization: "certkeeper bench".into(),
        root_common_name: "Bench Root".into(),
        intermediate_common_name: "Bench Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let now = OffsetDateTime::now_utc();
    let new_ca = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &urls, &master_key, now).unwrap();
    let (_, intermediate_id) = store
        .insert_ca_pair(&new_issuer("root", &new_ca.root), &new_issuer("intermediate", &new_ca.intermediate))
        .await
        .unwrap();
    let ca = certkeeper_ca::CertificateAuthority::load(&new_ca.root, &new_ca.intermediate, intermediate_id, &master_key, urls).unwrap();
    let service = IssuanceService::new(store.clone(), Arc::new(ca), Arc::new(ProductCatalogue::default()));
    (service, store)
}

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| !a.starts_with("--"));
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let batch: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(2).max(1);
    let dir = tempfile::tempdir().unwrap();
    let csr = certkeeper_pki::check_csr(&make_csr(dir.path())).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (service, store) = runtime.block_on(open_service(dir.path()));

    let raw_before = raw_p256_rate(3.0);
    let start = Instant::now();
    let cpu_start = process_cpu_seconds();
    // Two issuing loops run at once, as concurrent API requests would: while one waits for its
    // commit, the other signs.
    runtime.block_on(async {
        let mut loops = Vec::new();
        for part in 0..concurrency {
            let service = service.clone();
            let csr = csr.clone();
            let share = count / concurrency + if part == 0 { count % concurrency } else { 0 };
            loops.push(tokio::spawn(async move {
                let mut issued = 0;
                while issued < share {
                    let size = batch.min(share - issued);
                    let requests: Vec<IssueRequest> = (0..size)
                        .map(|_| IssueRequest {
                            account_id: None,
                            product_id: 1,
                            csr: csr.clone(),
                            validation_method: ValidationMethod::None,
                            days: None,
                            alias: String::new(),
                            project_id: 0,
                            actor: "operator".into(),
                            detail: "benchmark".into(),
                        })
                        .collect();
                    service.issue_batch(requests, OffsetDateTime::now_utc()).await.unwrap();
                    issued += size;
                }
            }));
        }
        for issuing in loops {
            issuing.await.unwrap();
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds() - cpu_start;
    let stored = runtime.block_on(store.count_certificates()).unwrap();
    let raw_after = raw_p256_rate(3.0);
    let raw = (raw_before + raw_after) / 2.0;

    let rate = count as f64 / elapsed;
    println!("certificates issued and stored: {stored} in {elapsed:.2} s (batch {batch})");
    println!("sign-and-store rate:            {rate:.0} certificates/s");
    println!("CPU time while issuing:         {cpu:.2} s ({:.1} µs per certificate)", cpu * 1e6 / count as f64);
    println!("raw P-256 sign, 1 thread:       {raw:.0} signatures/s (before {raw_before:.0}, after {raw_after:.0})");
    println!("ratio to raw rate:              {:.2}", rate / raw);
    println!("openssl speed ecdsap256 (same run):\n{}", openssl_speed());
    runtime.block_on(store.close());
}
