//! A `certkeeper serve` child process on a free loopback port, for tests of the whole binary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{free_port, read_log, stop_child};

/// How long start-up may take before the fixture gives up (the CA is created on first start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `certkeeper serve`.
pub struct Service {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// A minimal HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Returns a header value by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

impl Service {
    /// Starts `binary serve --data-dir DATA_DIR --listen 127.0.0.1:PORT` with `extra` arguments
    /// and environment variables, and waits until `/healthz` answers 200. The log goes to
    /// `service-<port>.log` beside the data directory.
    pub fn start(binary: &Path, data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Service {
        let port = free_port();
        let log = data_dir.with_file_name(format!("service-{port}.log"));
        let child = Self::spawn(binary, data_dir, port, extra, env, &log);
        let mut service = Service { child, port, log };
        service.wait_ready();
        service
    }

    fn spawn(binary: &Path, data_dir: &Path, port: u16, extra: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
        let log_file = std::fs::File::create(log).expect("create the service log file");
        let mut command = Command::new(binary);
        command
            .arg("--data-dir")
            .arg(data_dir)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(extra)
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone the log handle"))
            .stderr(log_file);
        for (key, value) in env {
            command.env(key, value);
        }
        command.spawn().unwrap_or_else(|error| panic!("cannot start {}: {error}", binary.display()))
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("certkeeper exited during start-up with {status}; log:\n{}", read_log(&self.log));
            }
            if let Ok(response) = self.try_get("/healthz")
                && response.status == 200
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("certkeeper did not answer /healthz within {START_TIMEOUT:?}; log:\n{}", read_log(&self.log));
    }

    /// Returns the port the service listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Returns what the service has logged so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// Sends a GET request and returns the response; panics on a connection error.
    pub fn get(&self, path: &str) -> Response {
        self.try_get(path).unwrap_or_else(|error| panic!("GET {path} failed: {error}"))
    }

    /// Sends a GET request.
    pub fn try_get(&self, path: &str) -> std::io::Result<Response> {
        self.request("GET", path, &[], b"")
    }

    /// Sends one HTTP/1.1 request with `Connection: close` and reads the whole response.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n", self.port, body.len());
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        parse_response(&raw)
    }

    /// Stops the service with SIGTERM (SIGKILL after five seconds) and returns its log.
    pub fn stop(mut self) -> String {
        stop_child(&mut self.child);
        read_log(&self.log)
    }

    /// Kills the service with SIGKILL, as a crash would, and returns its log.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        read_log(&self.log)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| invalid("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| invalid("headers are not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or_else(|| invalid("empty response"))?;
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| invalid("bad status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = dechunk(&body).ok_or_else(|| invalid("bad chunked body"))?;
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
