//! Email over STARTTLS and implicit TLS with SMTP AUTH, against aiosmtpd from the virtualenv with
//! a certificate from a test CA made by the openssl CLI, and a server that never replies.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use certkeeper_notify::{Event, KIND_EMAIL, NotifyConfig, NotifyService};
use certkeeper_store::{JOB_DONE, JOB_QUEUED, Store};
use time::OffsetDateTime;

const USER: &str = "pki";
const PASSWORD: &str = "smtp-test-password-4711";

fn venv_python() -> PathBuf {
    let venv = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    let python = venv.join("bin/python");
    assert!(python.exists(), "{} is missing; run scripts/install-test-tools.sh", python.display());
    python
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl is installed");
    assert!(output.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// Writes `ca.pem`, and `server.pem` with `server.key` for the name localhost, into `dir`.
fn make_certificates(dir: &Path) {
    openssl(dir, &[
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=Test SMTP CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
    std::fs::write(dir.join("server.ext"), "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(dir, &[
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2",
        "-extfile", "server.ext",
    ]);
}

/// The aiosmtpd sink, stopped on drop.
struct SmtpSink(Child);

impl SmtpSink {
    /// Starts the sink with a certificate for localhost in `mode` (`--starttls` or `--tls`)
    /// and AUTH with [`USER`] and [`PASSWORD`].
    fn start(port: u16, dir: &Path, mode: &str) -> SmtpSink {
        let certificate = dir.join("server.pem");
        let key = dir.join("server.key");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../certkeeper/tests/python/smtp_sink.py");
        let mut child = Command::new(venv_python())
            .arg(script)
            .arg(port.to_string())
            .arg(dir.join("mail"))
            .arg(mode)
            .arg(certificate)
            .arg(key)
            .arg("--auth")
            .arg(format!("{USER}:{PASSWORD}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the venv's python starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP sink did not start; is aiosmtpd installed in the venv?");
        SmtpSink(child)
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn messages(directory: &Path) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|entries| entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
}

/// Sends one event through a service with this `[smtp]` table and returns the email job after
/// one run.
async fn send_once(dir: &Path, smtp: &str) -> certkeeper_store::JobRow {
    let store = Store::open(&dir.join("certkeeper.db")).await.unwrap();
    let config: NotifyConfig = toml::from_str(&format!("retry_base = \"30s\"\n[smtp]\n{smtp}")).unwrap();
    let service = NotifyService::new(store.clone(), config).unwrap();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let event = Event::revoked(Some("tls-test"), None, "0badc0de", 1, now);
    assert_eq!(service.notifier.enqueue(&event, now).await.unwrap(), 1);
    service.runner.run_due(now).await;
    let job = store.jobs_of_kind(KIND_EMAIL).await.unwrap().remove(0);
    store.close().await;
    job
}

fn smtp_table(port: u16, security: &str, ca_file: Option<&Path>, password: &str) -> String {
    let mut table = format!(
        "host = \"localhost\"\nport = {port}\nsecurity = \"{security}\"\nfrom = \"pki@example.test\"\nto = [\"ops@example.test\"]\n\
         username = \"{USER}\"\npassword = \"{password}\"\ntimeout = \"5s\"\n"
    );
    if let Some(path) = ca_file {
        table.push_str(&format!("ca_file = \"{}\"\n", path.display()));
    }
    table
}

#[tokio::test]
async fn starttls_with_auth_delivers() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    make_certificates(dir);
    let port = free_port();
    let _sink = SmtpSink::start(port, dir, "--starttls");

    let job = send_once(dir, &smtp_table(port, "starttls", Some(&dir.join("ca.pem")), PASSWORD)).await;
    assert_eq!(job.state, JOB_DONE, "{}", job.last_error);
    let received = messages(&dir.join("mail"));
    assert_eq!(received.len(), 1);
    assert!(received[0].contains("Subject: Certificate tls-test was revoked"), "{}", received[0]);
    assert!(received[0].contains("To: ops@example.test"), "{}", received[0]);
}

#[tokio::test]
async fn implicit_tls_with_auth_delivers() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    make_certificates(dir);
    let port = free_port();
    let _sink = SmtpSink::start(port, dir, "--tls");

    let job = send_once(dir, &smtp_table(port, "tls", Some(&dir.join("ca.pem")), PASSWORD)).await;
    assert_eq!(job.state, JOB_DONE, "{}", job.last_error);
    assert_eq!(messages(&dir.join("mail")).len(), 1);
}

#[tokio::test]
async fn wrong_password_is_retried() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    make_certificates(dir);
    let port = free_port();
    let _sink = SmtpSink::start(port, dir, "--starttls");

    let wrong = "wrong-password-0815";
    let job = send_once(dir, &smtp_table(port, "starttls", Some(&dir.join("ca.pem")), wrong)).await;
    assert_eq!(job.state, JOB_QUEUED);
    assert_eq!(job.attempts, 1);
    assert!(job.last_error.contains("sending the email through localhost"), "{}", job.last_error);
    assert!(!job.last_error.contains(wrong), "the error must not show the password: {}", job.last_error);
    assert!(messages(&dir.join("mail")).is_empty());
}

#[tokio::test]
async fn untrusted_server_certificate_fails() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    make_certificates(dir);
    let port = free_port();
    let _sink = SmtpSink::start(port, dir, "--starttls");

    // Without ca_file only the Mozilla roots are trusted, so the test CA is not.
    let job = send_once(dir, &smtp_table(port, "starttls", None, PASSWORD)).await;
    assert_eq!(job.state, JOB_QUEUED);
    assert!(job.last_error.to_lowercase().contains("certificate"), "{}", job.last_error);
    assert!(messages(&dir.join("mail")).is_empty());
}

#[tokio::test]
async fn silent_server_times_out() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    // Accepts connections and never sends the SMTP greeting.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });

    let table = format!("host = \"127.0.0.1\"\nport = {port}\nsecurity = \"plain\"\nfrom = \"pki@example.test\"\nto = [\"ops@example.test\"]\ntimeout = \"1s\"\n");
    let job = send_once(dir, &table).await;
    assert_eq!(job.state, JOB_QUEUED);
    assert!(job.last_error.contains("timed out after 1 s"), "{}", job.last_error);
}
