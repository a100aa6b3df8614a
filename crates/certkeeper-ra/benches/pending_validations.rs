//! Runs the validation scheduler over pending DNS orders stored in SQLite, against BIND9.
//!
//! Run: `cargo bench -p certkeeper-ra --bench pending_validations -- [ORDERS]` (default 10000).
//! The orders are created first (one P-256 key each, DNS method); BIND then starts with the
//! TXT records of half of them, and the scheduler checks every pending validation. Valid orders
//! are issued; the others stay pending with a later recheck time. The run ends when no
//! validation is due any more.

use std::sync::Arc;
use std::time::{Duration, Instant};

use certkeeper_ca::{CertificateAuthority, UrlScheme};
use certkeeper_core::{KeyAlgorithm, ProductCatalogue, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_pki::profile::CaProfile;
use certkeeper_ra::{ApplyRequest, IssuanceService, OrderService, OrderSettings};
use certkeeper_store::{NewIssuer, Store};
use certkeeper_testkit::Bind9;
use certkeeper_va::{DnsAutoConfig, ValidationConfig, Validator};
use time::OffsetDateTime;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
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

async fn services(store: &Store, master_key: Arc<MasterKey>) -> IssuanceService {
    let urls = UrlScheme::new("http://127.0.0.1:8080", 16);
    let profile = CaProfile {
        country: "US".into(),
        organization: "certkeeper bench".into(),
        root_common_name: "Bench Root".into(),
        intermediate_common_name: "Bench Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let new_ca = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &urls, &master_key, OffsetDateTime::now_utc()).unwrap();
    let (_, intermediate_id) = store.insert_ca_pair(&new_issuer("root", &new_ca.root), &new_issuer("intermediate", &new_ca.intermediate)).await.unwrap();
    let ca = CertificateAuthority::load(&new_ca.root, &new_ca.intermediate, intermediate_id, &master_key, urls).unwrap();
    IssuanceService::new(store.clone(), Arc::new(ca), Arc::new(ProductCatalogue::default()))
}

fn order_service(store: &Store, issuance: &IssuanceService, master_key: &Arc<MasterKey>, config: ValidationConfig) -> OrderService {
    let validator = Arc::new(Validator::new(config, &DnsAutoConfig::default()).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    OrderService::new(store.clone(), issuance.clone(), validator, Arc::clone(master_key), settings)
}

fn main() {
    let count: usize = std::env::args().skip(1).find(|a| !a.starts_with("--")).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    let (store, issuance, master_key, tokens, ids) = runtime.block_on(async {
        let store = Store::open(&dir.path().join("bench.db")).await.unwrap();
        store.create_account("bench", "user", 0).await.unwrap();
        let master_key = Arc::new(MasterKey::generate().unwrap());
        let issuance = services(&store, Arc::clone(&master_key)).await;
        // The validator is not used while applying, so any resolver will do.
        let placeholder = ValidationConfig {
            dns_servers: vec!["127.0.0.1:9".parse().unwrap()],
            recheck_interval: Duration::ZERO,
            ..ValidationConfig::default()
        };
        let orders = order_service(&store, &issuance, &master_key, placeholder);
        let mut tokens = Vec::new();
        let mut ids = Vec::new();
        for index in 0..count {
            let request = ApplyRequest {
                account_id: 1,
                domain: format!("host{index}.example.test"),
                method: ValidationMethod::Dns,
                product_id: certkeeper_core::product::FREE_DV_PRODUCT_ID,
                csr: None,
                key_algorithm: KeyAlgorithm::EcdsaP256,
                alias: String::new(),
                project_id: 0,
                delete_dns_auto_record: false,
            };
            let record = orders.apply(request, OffsetDateTime::now_utc()).await.unwrap();
            ids.push(record.id.clone());
            if index % 2 == 0 {
                let validation = orders.validations(&record.id).await.unwrap().remove(0);
                tokens.push((validation.record_key, validation.token));
            }
        }
        (store, issuance, master_key, tokens, ids)
    });

    let mut builder = Bind9::builder().zone("example.test");
    for (name, token) in &tokens {
        builder = builder.record(&format!("{name}. 300 IN TXT \"{token}\""));
    }
    let bind = builder.start();
    let config = ValidationConfig {
        dns_servers: vec![bind.addr()],
        dns_timeout: Duration::from_secs(2),
        recheck_interval: Duration::from_secs(3600),
        ..ValidationConfig::default()
    };
    let orders = order_service(&store, &issuance, &master_key, config);

    let start = Instant::now();
    runtime.block_on(async {
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = Arc::clone(&stop);
        let scheduler = tokio::spawn(orders.clone().run_scheduler(async move { stopped.notified().await }));
        // Every order was due when BIND started; the run is over once none is due.
        let far_future = OffsetDateTime::now_utc().unix_timestamp() + 60;
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let due = store.certificates_with_due_validations(OffsetDateTime::now_utc().unix_timestamp().min(far_future), 1).await.unwrap();
            if due.is_empty() {
                break;
            }
        }
        stop.notify_one();
        scheduler.await.unwrap();
    });
    let elapsed = start.elapsed().as_secs_f64();
    let issued = runtime.block_on(async {
        let mut issued = 0;
        for id in &ids {
            let record = store.certificate(id).await.unwrap().unwrap();
            if record.status == certkeeper_core::CertificateStatus::Issued {
                issued += 1;
            }
        }
        issued
    });
    println!("pending DNS validations checked: {count} in {elapsed:.2} s");
    println!("checks per second:               {:.0}", count as f64 / elapsed);
    println!("orders issued:                   {issued} of {count} (the other half has no record)");
    println!("peak RSS (VmHWM):                {:.1} MiB", peak_rss_kib() as f64 / 1024.0);
    runtime.block_on(store.close());
}
