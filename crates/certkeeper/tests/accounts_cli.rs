//! `certkeeper account` and `certkeeper key` run as a binary, and the served API authenticating
//! the keys they print.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn certkeeper(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certkeeper"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("CERTKEEPER_MASTER_KEY")
        .output()
        .expect("certkeeper runs")
}

fn json_stdout(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[test]
fn account_and_key_commands() {
    let dir = tempfile::tempdir().unwrap();
    let created = json_stdout(&certkeeper(dir.path(), &["account", "create", "alice", "--role", "reviewer", "--json"]));
    let secret_id = created["secret_id"].as_str().unwrap().to_owned();
    let secret_key = created["secret_key"].as_str().unwrap().to_owned();
    assert!(created["account_id"].is_i64());
    assert_eq!(secret_id.len(), 36);
    assert!(secret_id.starts_with("AKID"));
    assert_eq!(secret_key.len(), 32);
    assert!(secret_key.bytes().all(|byte| byte.is_ascii_alphanumeric()));

    let duplicate = certkeeper(dir.path(), &["account", "create", "alice"]);
    assert!(!duplicate.status.success());
    assert!(String::from_utf8_lossy(&duplicate.stderr).contains("already exists"));
    let bad_role = certkeeper(dir.path(), &["account", "create", "carol", "--role", "root"]);
    assert!(!bad_role.status.success());

    let second = json_stdout(&certkeeper(dir.path(), &["key", "create", "--account", "alice", "--json"]));
    assert_eq!(second["account_id"], created["account_id"]);
    let second_id = second["secret_id"].as_str().unwrap().to_owned();

    let listed = certkeeper(dir.path(), &["key", "list", "--account", "alice", "--json"]);
    let listed_text = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(!listed_text.contains(&secret_key), "key list must not print SecretKeys");
    let listed = json_stdout(&listed);
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|key| key["enabled"] == Value::Bool(true)));

    let disabled = certkeeper(dir.path(), &["key", "disable", &second_id]);
    assert!(disabled.status.success());
    let listed = json_stdout(&certkeeper(dir.path(), &["key", "list", "--account", "alice", "--json"]));
    let second_row = listed["keys"].as_array().unwrap().iter().find(|key| key["secret_id"] == second_id.as_str()).cloned().unwrap();
    assert_eq!(second_row["enabled"], Value::Bool(false));
    let unknown = certkeeper(dir.path(), &["key", "disable", "AKIDnothing"]);
    assert!(!unknown.status.success());
    let no_account = certkeeper(dir.path(), &["key", "create", "--account", "nobody"]);
    assert!(!no_account.status.success());
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Sends one HTTP/1.1 request and returns the status code and body.
fn http(port: u16, request: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Some((status, body))
}

fn signed_request(port: u16, secret_id: &str, secret_key: &str, action: &str, body: &str) -> String {
    let host = format!("127.0.0.1:{port}");
    let timestamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let date = certkeeper_api::tc3::utc_date(timestamp).unwrap();
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
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn served_api_accepts_cli_keys() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_certkeeper"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .env_remove("CERTKEEPER_MASTER_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let health = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let started = Instant::now();
    while http(port, health).is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "the server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(http(port, health).unwrap(), (200, "ok\n".to_owned()));
    let (status, _) = http(port, "GET /ca/root.pem HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(status, 200);

    // Created while the server runs, against the same database.
    let created = json_stdout(&certkeeper(dir.path(), &["account", "create", "bob", "--json"]));
    let secret_id = created["secret_id"].as_str().unwrap();
    let secret_key = created["secret_key"].as_str().unwrap();
    let (status, body) = http(port, &signed_request(port, secret_id, secret_key, "DescribeCertificates", "{}")).unwrap();
    assert_eq!(status, 200);
    let response: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(response["Response"]["TotalCount"], Value::from(0), "{body}");

    let (_, body) = http(port, &signed_request(port, secret_id, "WrongSecretKey00000000000000000", "DescribeCertificates", "{}")).unwrap();
    assert!(body.contains("AuthFailure.SignatureFailure"), "{body}");
    let (status, body) = http(port, "GET /unknown HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(status, 200, "unknown paths get an API envelope");
    assert!(body.contains("UnsupportedProtocol"), "{body}");
}
