//! certkeeper's CRL builds and OCSP responder side by side with OpenSSL, on the same CA key and
//! the same revoked serials, in one run:
//!
//! * CRLs with 100,000 and 1,000,000 revoked entries, read from the store, encoded and signed
//!   (`Publisher::rebuild_crl`), against `openssl ca -gencrl` on an equivalent `index.txt`;
//! * OCSP responses per second over HTTP, cached (no nonce) and with a fresh nonce per request,
//!   against `openssl ocsp -index index.txt -port PORT` with the 100,000-entry index.
//!
//! Run with `cargo bench -p certkeeper-publish --bench vs_openssl [-- CONNECTIONS SECONDS]`
//! (defaults: 16 connections, 5 seconds per case). The load generator runs on the same machine
//! as both servers and takes part of its CPU.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use certkeeper_ca::UrlScheme;
use certkeeper_core::{KeyAlgorithm, SerialNumber};
use certkeeper_pki::{CaProfile, MasterKey};
use certkeeper_publish::{PublishSettings, PublishedIssuer, Publisher};
use certkeeper_store::{NewIssuer, NewRevocation, Store};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::ocsp_request;

/// Connection use of the load generator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Connections {
    /// Many requests on one connection (HTTP/1.1 keep-alive).
    KeepAlive,
    /// One request per connection, as OpenSSL's responder requires.
    PerRequest,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    let connections: usize = args.first().and_then(|value| value.parse().ok()).unwrap_or(16);
    let seconds: u64 = args.get(1).and_then(|value| value.parse().ok()).unwrap_or(5);
    // RUST_LOG=certkeeper_publish=debug shows where a CRL build spends its time.
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).with_writer(std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run(connections, Duration::from_secs(seconds)));
}

async fn run(connections: usize, duration: Duration) {
    println!("machine: {} CPUs, load average {}", std::thread::available_parallelism().map_or(0, usize::from), load_average());
    println!("{}", openssl(&["version"]).trim());
    let now = OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("bench.db")).await.unwrap();
    let master_key = MasterKey::generate().unwrap();
    let profile = CaProfile {
        country: "DE".to_owned(),
        organization: "certkeeper bench".to_owned(),
        root_common_name: "Bench Root".to_owned(),
        intermediate_common_name: "Bench Issuing CA".to_owned(),
        root_days: 3650,
        intermediate_days: 1825,
    };
    let probe_urls = UrlScheme::new("http://127.0.0.1:1", 1);
    let created = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile, &probe_urls, &master_key, now).unwrap();
    let issuer_row = |role: &'static str, sealed: &'static certkeeper_ca::SealedIssuer| NewIssuer {
        role,
        parent_id: None,
        subject: role,
        key_algorithm: "ecdsa-p256",
        certificate_der: &sealed.certificate_der,
        sealed_key: &sealed.sealed_key,
        sha256: role,
        not_before: 0,
        not_after: i64::MAX,
        created_at: 0,
    };
    let leaked: &'static certkeeper_ca::NewCa = Box::leak(Box::new(created.clone()));
    let (root_id, intermediate_id) =
        store.insert_ca_pair(&issuer_row("root", &leaked.root), &issuer_row("intermediate", &leaked.intermediate)).await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let urls = UrlScheme::new(&format!("http://127.0.0.1:{port}"), 1);
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
    let router = publisher.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // The issuing CA's certificate and key, for OpenSSL.
    let pkcs8 = master_key
        .open(&format!("issuer-key:{}", certkeeper_pki::sha256_hex(&created.intermediate.certificate_der)), &created.intermediate.sealed_key)
        .unwrap();
    std::fs::write(dir.path().join("ca.pem"), certkeeper_pki::to_pem("CERTIFICATE", &created.intermediate.certificate_der)).unwrap();
    std::fs::write(dir.path().join("ca.key"), certkeeper_pki::to_pem("PRIVATE KEY", &pkcs8)).unwrap();
    std::fs::write(dir.path().join("crlnumber"), "01\n").unwrap();
    std::fs::write(dir.path().join("ca.cnf"), CA_CONFIG).unwrap();

    let not_after = now + time::Duration::days(90);
    let mut index = String::new();
    let mut all_serials: Vec<SerialNumber> = Vec::new();
    println!();
    println!("| revoked entries | certkeeper: first build after the insert | certkeeper: next build | certkeeper DER size | openssl ca -gencrl | openssl PEM size |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for total in [100_000usize, 1_000_000] {
        let added: Vec<SerialNumber> = (all_serials.len()..total).map(|_| certkeeper_ca::random_serial().unwrap()).collect();
        let hexes: Vec<String> = added.iter().map(SerialNumber::to_hex).collect();
        let rows: Vec<NewRevocation<'_>> = hexes
            .iter()
            .enumerate()
            .map(|(position, serial)| NewRevocation {
                serial,
                issuer_id: intermediate_id,
                shard: 0,
                certificate_id: None,
                // Spread over the last 24 hours, as real revocations are.
                revoked_at: now.unix_timestamp() - (position % 86_400) as i64,
                reason_code: 1,
                not_after: not_after.unix_timestamp(),
                created_at: now.unix_timestamp(),
            })
            .collect();
        let started = Instant::now();
        store.insert_revocations(&rows).await.unwrap();
        let insert = started.elapsed();
        for row in &rows {
            index.push_str(&index_line(row.serial, row.revoked_at, not_after.unix_timestamp()));
        }
        all_serials.extend(added);
        std::fs::write(dir.path().join("index.txt"), &index).unwrap();

        // The timed build comes first, right after the insert, before anything else reads
        // the shard.
        let started = Instant::now();
        let crl = publisher.rebuild_crl(intermediate_id, 0).await.unwrap();
        let ours = started.elapsed();
        assert_eq!(crl.entries, total);
        // A second build of the same data, as the hourly rebuild makes it.
        let started = Instant::now();
        publisher.rebuild_crl(intermediate_id, 0).await.unwrap();
        let again = started.elapsed();

        let started = Instant::now();
        let output = Command::new("openssl")
            .args(["ca", "-gencrl", "-config", "ca.cnf", "-out", "openssl.crl"])
            .current_dir(dir.path())
            .output()
            .expect("openssl runs");
        let theirs = started.elapsed();
        assert!(output.status.success(), "openssl ca -gencrl failed: {}", String::from_utf8_lossy(&output.stderr));
        let pem_size = std::fs::metadata(dir.path().join("openssl.crl")).unwrap().len();
        println!(
            "| {total} | {:.3} s | {:.3} s | {:.1} MB | {:.3} s | {:.1} MB |",
            ours.as_secs_f64(),
            again.as_secs_f64(),
            crl.der.len() as f64 / 1e6,
            theirs.as_secs_f64(),
            pem_size as f64 / 1e6,
        );
        eprintln!("(bulk insert of {} revocations into the store: {:.2} s)", rows.len(), insert.as_secs_f64());
        if total == 100_000 {
            ocsp_cases(dir.path(), &created.intermediate.certificate_der, &all_serials[0], port, connections, duration).await;
        }
    }
}

/// Runs the OCSP cases against certkeeper and `openssl ocsp` and prints a table.
async fn ocsp_cases(dir: &Path, issuer_der: &[u8], serial: &SerialNumber, port: u16, connections: usize, duration: Duration) {
    let openssl_port = free_port();
    let mut responder = OpensslResponder::start(dir, openssl_port);
    let cached = vec![ocsp_request(issuer_der, serial, None)];
    let nonced: Vec<Vec<u8>> = (0..4096u32)
        .map(|n| {
            let mut nonce = [0u8; 16];
            nonce[..4].copy_from_slice(&n.to_be_bytes());
            ocsp_request(issuer_der, serial, Some(nonce))
        })
        .collect();
    #[allow(clippy::type_complexity)] // a table of cases, read once below
    let cases: [(&str, u16, &str, &[Vec<u8>], Connections); 6] = [
        ("certkeeper, cached (no nonce), keep-alive", port, "/ocsp", &cached, Connections::KeepAlive),
        ("certkeeper, cached (no nonce), connection per request", port, "/ocsp", &cached, Connections::PerRequest),
        ("certkeeper, nonce, keep-alive", port, "/ocsp", &nonced, Connections::KeepAlive),
        ("certkeeper, nonce, connection per request", port, "/ocsp", &nonced, Connections::PerRequest),
        ("openssl ocsp -multi 2, no nonce", openssl_port, "/", &cached, Connections::PerRequest),
        ("openssl ocsp -multi 2, nonce", openssl_port, "/", &nonced, Connections::PerRequest),
    ];
    println!();
    println!("| OCSP case ({connections} connections, {} s) | responses/s | errors |", duration.as_secs());
    println!("|---|---:|---:|");
    for (name, port, path, requests, mode) in cases {
        let (count, errors) = load(port, path, requests, mode, connections, duration).await;
        println!("| {name} | {:.0} | {errors} |", count as f64 / duration.as_secs_f64());
    }
    responder.stop();
}

/// Sends OCSP requests for `duration` over `connections` parallel clients and returns the
/// number of successful responses and of failures.
async fn load(port: u16, path: &str, requests: &[Vec<u8>], mode: Connections, connections: usize, duration: Duration) -> (u64, u64) {
    let done = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let requests: Arc<Vec<Vec<u8>>> = Arc::new(requests.to_vec());
    let mut tasks = Vec::new();
    for client in 0..connections {
        let (done, answered, failed, requests) = (done.clone(), answered.clone(), failed.clone(), requests.clone());
        let path = path.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut next = client;
            let mut stream: Option<TcpStream> = None;
            while !done.load(Ordering::Relaxed) {
                let body = &requests[next % requests.len()];
                next += connections;
                if stream.is_none() {
                    stream = TcpStream::connect(("127.0.0.1", port)).await.ok();
                }
                let Some(connection) = stream.as_mut() else {
                    failed.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                match exchange(connection, &path, body, mode).await {
                    Ok(true) => {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        stream = None;
                    }
                }
                if mode == Connections::PerRequest {
                    stream = None;
                }
            }
        }));
    }
    tokio::time::sleep(duration).await;
    done.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    (answered.load(Ordering::Relaxed), failed.load(Ordering::Relaxed))
}

/// Sends one POST and reads the response; returns whether it was a 200 with a body.
async fn exchange(stream: &mut TcpStream, path: &str, body: &[u8], mode: Connections) -> std::io::Result<bool> {
    let connection = if mode == Connections::KeepAlive { "keep-alive" } else { "close" };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        body.len()
    );
    stream.write_all(&[head.as_bytes(), body].concat()).await?;
    let mut buffer = Vec::with_capacity(2048);
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(false);
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    Ok(head.split_whitespace().nth(1) == Some("200") && buffer.len() >= header_end + length && length > 100)
}

/// `openssl ocsp` serving the CA's index with two responder processes. OpenSSL 3.0 takes only
/// a port number and listens on every address; the load generator connects over 127.0.0.1.
struct OpensslResponder {
    child: Child,
}

impl OpensslResponder {
    fn start(dir: &Path, port: u16) -> OpensslResponder {
        let child = Command::new("openssl")
            .args(["ocsp", "-index", "index.txt", "-port", &port.to_string(), "-rsigner", "ca.pem", "-rkey", "ca.key"])
            .args(["-CA", "ca.pem", "-nmin", "60", "-multi", "2", "-ignore_err"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl runs");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "openssl ocsp did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        OpensslResponder { child }
    }

    fn stop(&mut self) {
        // `-multi` forks workers into the responder's process group; end them all.
        let _ = Command::new("pkill").args(["-TERM", "-P", &self.child.id().to_string()]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OpensslResponder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A minimal `openssl ca` configuration whose database is `index.txt`.
const CA_CONFIG: &str = "[ca]\ndefault_ca = bench\n\n[bench]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
certificate = ca.pem\nprivate_key = ca.key\ndefault_md = sha256\ndefault_crl_days = 1\n\
unique_subject = no\nnew_certs_dir = .\nserial = serial\npolicy = anything\n\n[anything]\ncommonName = optional\n";

/// Writes one revoked entry of an `openssl ca` index: status, expiry, revocation time with
/// reason, serial, file name and subject, separated by tabs.
fn index_line(serial_hex: &str, revoked_at: i64, not_after: i64) -> String {
    let stamp = |at: i64| {
        let at = OffsetDateTime::from_unix_timestamp(at).unwrap();
        format!("{:02}{:02}{:02}{:02}{:02}{:02}Z", at.year() % 100, at.month() as u8, at.day(), at.hour(), at.minute(), at.second())
    };
    format!("R\t{}\t{},keyCompromise\t{}\tunknown\t/CN=revoked\n", stamp(not_after), stamp(revoked_at), serial_hex.to_ascii_uppercase())
}

fn openssl(args: &[&str]) -> String {
    let output = Command::new("openssl").args(args).output().expect("openssl runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
