//! Load test of DescribeCertificates: fills a fresh store with certificates of one account,
//! serves the API on a loopback port and sends TC3-signed requests over keep-alive connections.
//!
//! ```text
//! cargo run --release -p certkeeper --example api_bench -- [CERTIFICATES] [CONNECTIONS] [SECONDS]
//! ```
//!
//! Defaults: 100000 certificates, 32 connections, 10 seconds. A fourth argument, a JSON object,
//! replaces the default mix of request bodies, and a fifth names another action. The server and the load client
//! share the process and the machine, so the figures include the client's CPU use.

use std::sync::Arc;
use std::time::{Duration, Instant};

use certkeeper_api::{ApiState, Services, StoreCredentials, create_api_key, ssl_actions};
use certkeeper_core::{CertificateRecord, CertificateSource, CertificateStatus, KeyAlgorithm, ProductCatalogue, ValidationMethod};
use certkeeper_pki::MasterKey;
use certkeeper_store::{LogEntry, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Certificates per insert transaction while filling the store.
const FILL_BATCH: usize = 10_000;

fn argument(index: usize, default: u64) -> u64 {
    std::env::args().nth(index).and_then(|text| text.parse().ok()).unwrap_or(default)
}

fn synthetic_record(account_id: i64, index: usize, now: i64) -> CertificateRecord {
    let domain = format!("host{index}.bench.example");
    let created_at = now - 86_400 * 30 + index as i64;
    CertificateRecord {
        id: format!("B{index:07}"),
        account_id: Some(account_id),
        product_id: 1,
        status: if index.is_multiple_of(10) { CertificateStatus::Reviewing } else { CertificateStatus::Issued },
        status_message: String::new(),
        source: CertificateSource::Issued,
        validation_method: ValidationMethod::Dns,
        names: vec![domain.clone()],
        domain,
        key_algorithm: KeyAlgorithm::EcdsaP256,
        alias: format!("bench {index}"),
        project_id: (index % 5) as u64,
        serial: None,
        issuer_id: None,
        not_before: Some(created_at),
        not_after: Some(created_at + 86_400 * (90 + (index % 300) as i64)),
        certificate_der: None,
        csr_der: None,
        sealed_private_key: None,
        renewed_from: None,
        renewal_id: None,
        reissued_from: None,
        reissued_by: None,
        auto_renew: false,
        term_ends_at: None,
        created_at,
        updated_at: created_at,
    }
}

fn bench_issuer<'a>(role: &'a str, sealed: &'a certkeeper_ca::SealedIssuer) -> certkeeper_store::NewIssuer<'a> {
    certkeeper_store::NewIssuer {
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

/// Creates a CA in the store and returns an order service that signs with it.
async fn order_service(
    store: &Store,
    master_key: &Arc<MasterKey>,
    catalogue: &Arc<ProductCatalogue>,
) -> anyhow::Result<certkeeper_ra::OrderService> {
    let urls = certkeeper_ca::UrlScheme::new("http://127.0.0.1", 16);
    let profile = certkeeper_pki::profile::CaProfile {
        country: "US".into(),
        organization: "certkeeper bench".into(),
        root_common_name: "Bench Root".into(),
        intermediate_common_name: "Bench Issuing CA".into(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let new_ca = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &urls, master_key, time::OffsetDateTime::now_utc())?;
    let (_, intermediate_id) = store
        .insert_ca_pair(&bench_issuer("root", &new_ca.root), &bench_issuer("intermediate", &new_ca.intermediate))
        .await?;
    let ca = certkeeper_ca::CertificateAuthority::load(&new_ca.root, &new_ca.intermediate, intermediate_id, master_key, urls)?;
    let issuance = certkeeper_ra::IssuanceService::new(store.clone(), Arc::new(ca), Arc::clone(catalogue));
    // No check runs, because the products skip domain validation.
    let config = certkeeper_va::ValidationConfig { dns_servers: vec!["127.0.0.1:9".parse()?], ..Default::default() };
    let validator = certkeeper_va::Validator::new(config, &certkeeper_va::DnsAutoConfig::default())?;
    let settings = certkeeper_ra::OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    Ok(certkeeper_ra::OrderService::new(store.clone(), issuance, Arc::new(validator), Arc::clone(master_key), settings))
}

/// Builds a signed keep-alive POST request for `action`.
fn signed_request(host: &str, action: &str, secret_id: &str, secret_key: &str, body: &str, timestamp: i64) -> Vec<u8> {
    let date = certkeeper_api::tc3::utc_date(timestamp).expect("valid timestamp");
    let mut headers = axum::http::HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    headers.insert("host", host.parse().unwrap());
    let payload = certkeeper_api::tc3::hashed_payload("POST", &headers, body.as_bytes());
    let canonical = certkeeper_api::tc3::canonical_request("POST", "/", "", &headers, "content-type;host", &payload).unwrap();
    let to_sign = certkeeper_api::tc3::string_to_sign(&timestamp.to_string(), &date, "ssl", &canonical);
    let signature = certkeeper_api::tc3::sign(secret_key, &date, "ssl", &to_sign);
    format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nX-TC-Action: {action}\r\n\
         X-TC-Version: 2019-12-05\r\nX-TC-Timestamp: {timestamp}\r\nAuthorization: TC3-HMAC-SHA256 \
         Credential={secret_id}/{date}/ssl/tc3_request, SignedHeaders=content-type;host, Signature={signature}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one HTTP/1.1 response with a Content-Length body and returns whether it is an API
/// success (no `"Error"` key).
async fn read_response(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    buffer.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let read = stream.read(&mut chunk).await?;
                if read == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let body = &buffer[end + 4..end + 4 + length];
            return Ok(!body.windows(8).any(|window| window == b"\"Error\":"));
        }
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let certificates = argument(1, 100_000) as usize;
    let connections = argument(2, 32) as usize;
    let seconds = argument(3, 10);

    let dir = tempfile::tempdir()?;
    let store = Store::open(&dir.path().join("certkeeper.db")).await?;
    let master_key = Arc::new(MasterKey::generate()?);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let account_id = store.create_account("bench", "user", now).await?;
    let key = create_api_key(&store, &master_key, account_id, now).await?;

    let fill_started = Instant::now();
    let log = LogEntry { actor: "bench", action: "issued", detail: "", at: now };
    let mut index = 0;
    while index < certificates {
        let end = (index + FILL_BATCH).min(certificates);
        let batch: Vec<CertificateRecord> = (index..end).map(|i| synthetic_record(account_id, i, now)).collect();
        store.insert_certificates(&batch, &log).await?;
        index = end;
    }
    println!("filled {certificates} certificates in {:.1} s", fill_started.elapsed().as_secs_f64());

    // ApplyCertificate goes through a free DV product that the operator set to skip domain
    // validation, as internal PKI setups do, so every application is signed at once.
    let mut products = ProductCatalogue::default_products();
    for product in &mut products {
        product.dangerous_skip_domain_validation = true;
    }
    let catalogue = Arc::new(ProductCatalogue::new(products)?);
    let orders = order_service(&store, &master_key, &catalogue).await?;
    let issuers = Arc::new(store.issuers().await?);
    let services = Arc::new(
        Services::new(store.clone(), Arc::clone(&master_key), catalogue, issuers, "http://127.0.0.1").with_orders(orders),
    );
    let credentials = Arc::new(StoreCredentials::new(store.clone(), Arc::clone(&master_key)));
    let state = ApiState::new(credentials, Arc::new(ssl_actions(services)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, certkeeper_api::router(state)).await });

    let host = address.to_string();
    let mut bodies = vec![
        "{}".to_owned(),
        r#"{"Offset": 500, "Limit": 10}"#.to_owned(),
        r#"{"ExpirationSort": "ASC", "Limit": 20}"#.to_owned(),
        r#"{"CertificateStatus": [1], "Limit": 10}"#.to_owned(),
        r#"{"SearchKey": "host4242", "Limit": 10}"#.to_owned(),
    ];
    // A fifth argument names another action, such as DescribeCertificate with a body of
    // {"CertificateId": "B0000042"} (the benchmark's ids are B followed by seven digits).
    let action = std::env::args().nth(5).unwrap_or_else(|| "DescribeCertificates".to_owned());
    if let Some(body) = std::env::args().nth(4) {
        bodies = vec![body];
    }
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(
        bodies.iter().map(|body| signed_request(&host, &action, &key.secret_id, key.secret_key.as_str(), body, timestamp)).collect(),
    );

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..connections {
        let requests = Arc::clone(&requests);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut failures = 0u64;
            let mut stream = TcpStream::connect(address).await.expect("connect to the API");
            stream.set_nodelay(true).ok();
            let mut buffer = Vec::new();
            let mut turn = worker;
            while Instant::now() < deadline {
                let request = &requests[turn % requests.len()];
                turn += 1;
                let sent = Instant::now();
                stream.write_all(request).await.expect("send a request");
                match read_response(&mut stream, &mut buffer).await {
                    Ok(true) => latencies.push(sent.elapsed()),
                    Ok(false) => failures += 1,
                    Err(error) => panic!("reading a response failed: {error}"),
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (mut worker_latencies, worker_failures) = worker.await?;
        latencies.append(&mut worker_latencies);
        failures += worker_failures;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied().unwrap_or_default();
    println!(
        "{} requests in {elapsed:.1} s over {connections} connections: {:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, {failures} API errors",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        percentile(0.50).as_secs_f64() * 1000.0,
        percentile(0.99).as_secs_f64() * 1000.0,
    );
    Ok(())
}
