//! A test CA in a temporary store, a publisher serving on a loopback port, and helpers that run
//! OpenSSL, pkilint and raw HTTP requests against it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use certkeeper_ca::{CertificateAuthority, LeafRequest, SealedIssuer, UrlScheme};
use certkeeper_core::{DnsName, KeyAlgorithm, SerialNumber, ValidationLevel};
use certkeeper_pki::keys::SigningKeyPair;
use certkeeper_pki::{CaProfile, MasterKey, SubjectKey};
use certkeeper_notify::{JobRunner, RunnerSettings};
use certkeeper_publish::{KIND_CRL_PUBLISH, KIND_CRL_REFRESH, PublishSettings, PublishedIssuer, Publisher};
use certkeeper_store::{Backoff, NewIssuer, NewRevocation, Store};
use rcgen::PublicKeyData;
use time::OffsetDateTime;

pub const SHARDS: u32 = 4;

pub struct TestCa {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub urls: UrlScheme,
    pub master_key: MasterKey,
    pub root: PublishedIssuer,
    pub intermediate: PublishedIssuer,
    pub ca: CertificateAuthority,
    pub port: u16,
    listener: Option<tokio::net::TcpListener>,
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().replace_nanosecond(0).unwrap()
}

fn profile(name: &str) -> CaProfile {
    CaProfile {
        country: "DE".to_owned(),
        organization: "certkeeper test".to_owned(),
        root_common_name: format!("{name} Root"),
        intermediate_common_name: format!("{name} Issuing CA"),
        root_days: 3650,
        intermediate_days: 1825,
    }
}

impl TestCa {
    /// Creates a root and intermediate in a fresh store, with URLs on a reserved loopback port.
    pub async fn new(name: &str) -> TestCa {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("certkeeper.db")).await.unwrap();
        let urls = UrlScheme::new(&format!("http://127.0.0.1:{port}"), SHARDS);
        let master_key = MasterKey::generate().unwrap();
        let created = certkeeper_ca::create(KeyAlgorithm::EcdsaP256, &profile(name), &urls, &master_key, now()).unwrap();

        let row = |role: &'static str, sealed: &'static SealedIssuer| NewIssuer {
            role,
            parent_id: None,
            subject: role,
            key_algorithm: "EC-P256",
            certificate_der: &sealed.certificate_der,
            sealed_key: &sealed.sealed_key,
            sha256: role,
            not_before: 0,
            not_after: i64::MAX,
            created_at: 0,
        };
        let root_sealed: &'static SealedIssuer = Box::leak(Box::new(created.root.clone()));
        let intermediate_sealed: &'static SealedIssuer = Box::leak(Box::new(created.intermediate.clone()));
        let (root_id, intermediate_id) =
            store.insert_ca_pair(&row("root", root_sealed), &row("intermediate", intermediate_sealed)).await.unwrap();
        let ca = CertificateAuthority::load(root_sealed, intermediate_sealed, intermediate_id, &master_key, urls.clone())
            .unwrap();
        TestCa {
            dir,
            store,
            urls,
            master_key,
            root: PublishedIssuer { id: root_id, sealed: created.root },
            intermediate: PublishedIssuer { id: intermediate_id, sealed: created.intermediate },
            ca,
            port,
            listener: Some(listener),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a publisher on this store, without serving it.
    pub async fn publisher(&self) -> Arc<Publisher> {
        Publisher::start(
            self.store.clone(),
            self.urls.clone(),
            &self.root,
            &self.intermediate,
            &self.master_key,
            PublishSettings::default(),
        )
        .await
        .unwrap()
    }

    /// Starts a publisher and serves its router on the reserved port.
    pub async fn serve(&mut self) -> Arc<Publisher> {
        let publisher = self.publisher().await;
        let listener = self.listener.take().expect("served twice");
        let router = publisher.router();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        publisher
    }

    /// Returns a job runner with the CRL job handlers of `publisher` and the periodic
    /// `crl.refresh` job, as `certkeeper serve` registers them.
    pub fn crl_runner(&self, publisher: &Arc<Publisher>) -> JobRunner {
        let settings = RunnerSettings {
            poll_interval: Duration::from_millis(100),
            lease: Duration::from_secs(60),
            backoff: Backoff { base_seconds: 30, max_seconds: 600 },
            max_attempts: 3,
        };
        let mut runner = JobRunner::new(self.store.clone(), settings);
        let publishing = Arc::clone(publisher);
        let refreshing = Arc::clone(publisher);
        runner
            .handle(
                KIND_CRL_PUBLISH,
                Arc::new(move |job, _now| {
                    let publisher = Arc::clone(&publishing);
                    Box::pin(async move { publisher.run_publish_job(&job.payload).await.map_err(|error| error.to_string()) })
                }),
            )
            .handle(
                KIND_CRL_REFRESH,
                Arc::new(move |_job, _now| {
                    let publisher = Arc::clone(&refreshing);
                    Box::pin(async move { publisher.refresh_crls().await.map(|_| ()).map_err(|error| error.to_string()) })
                }),
            )
            .every(KIND_CRL_REFRESH, Duration::from_secs(60));
        runner
    }

    /// Runs the due CRL jobs once with a runner for `publisher`, and returns how many ran.
    pub async fn run_crl_jobs(&self, publisher: &Arc<Publisher>) -> usize {
        self.crl_runner(publisher).run_due(now().unix_timestamp()).await
    }

    /// Writes root.pem and inter.pem into the temporary directory.
    pub fn write_chain(&self) {
        std::fs::write(self.path("root.pem"), certkeeper_pki::to_pem("CERTIFICATE", &self.root.sealed.certificate_der))
            .unwrap();
        std::fs::write(
            self.path("inter.pem"),
            certkeeper_pki::to_pem("CERTIFICATE", &self.intermediate.sealed.certificate_der),
        )
        .unwrap();
    }

    /// Issues a leaf, optionally reserving its serial first, and writes `<file>.pem`.
    pub async fn issue_leaf(&self, file: &str, serial: &SerialNumber, reserve: bool) -> Vec<u8> {
        if reserve {
            self.store
                .reserve_serials(self.intermediate.id, &[(serial.to_hex(), None)], now().unix_timestamp())
                .await
                .unwrap();
        }
        let key = SigningKeyPair::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let subject = SubjectKey::new(KeyAlgorithm::EcdsaP256, key.der_bytes().to_vec(), key.spki_der()).unwrap();
        let names = [DnsName::parse("www.example.com").unwrap()];
        let der = self
            .ca
            .sign_leaf(&LeafRequest {
                key: &subject,
                names: &names,
                serial,
                not_before: now() - time::Duration::hours(1),
                not_after: now() + time::Duration::days(30),
                level: ValidationLevel::Dv,
                subject: None,
            })
            .unwrap();
        std::fs::write(self.path(&format!("{file}.pem")), certkeeper_pki::to_pem("CERTIFICATE", &der)).unwrap();
        der
    }

    /// Records a revocation of `serial` with `reason_code`, as the revocation workflow does; the
    /// store enqueues its `crl.publish` job.
    pub async fn revoke(&self, serial: &SerialNumber, reason_code: i64) -> i64 {
        let revoked_at = now().unix_timestamp();
        self.store
            .insert_revocation(&NewRevocation {
                serial: &serial.to_hex(),
                issuer_id: self.intermediate.id,
                shard: i64::from(self.urls.crl_shard(serial)),
                certificate_id: None,
                revoked_at,
                reason_code,
                not_after: (now() + time::Duration::days(30)).unix_timestamp(),
                created_at: revoked_at,
            })
            .await
            .unwrap();
        revoked_at
    }
}

pub fn random_serial() -> SerialNumber {
    certkeeper_ca::random_serial().unwrap()
}

/// Runs a command in `dir` and returns stdout and stderr together, with the exit status.
pub fn run(dir: &Path, program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Returns the pkilint virtual environment's bin directory: `$CERTKEEPER_VENV/bin`, or
/// `.venv/bin` at the workspace root. Panics when neither exists, so lint checks never pass by
/// being skipped.
pub fn pkilint_bin() -> PathBuf {
    let venv = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    let bin = venv.join("bin");
    assert!(
        bin.join("lint_crl").exists(),
        "pkilint not found in {}; create the venv with `python3 -m venv .venv && .venv/bin/pip install pkilint` \
         or set CERTKEEPER_VENV",
        bin.display()
    );
    bin
}

/// Runs a pkilint command on a DER file and returns its findings (empty when clean).
pub fn pkilint(tool: &str, args: &[&str], file: &Path) -> String {
    let program = pkilint_bin().join(tool);
    let mut all: Vec<&str> = vec!["lint"];
    all.extend_from_slice(args);
    let file = file.to_str().unwrap();
    all.push(file);
    let (_, output) = run(Path::new("."), program.to_str().unwrap(), &all);
    output.trim().to_owned()
}

/// An HTTP response read by [`http_request`].
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// Sends one HTTP/1.1 request with the target exactly as given, so no client library
/// normalises or re-encodes the path.
pub fn http_request(port: u16, method: &str, target: &str, content_type: Option<&str>, body: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(content_type) = content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();

    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("no end of HTTP headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    HttpResponse { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16).unwrap();
        data = &data[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
