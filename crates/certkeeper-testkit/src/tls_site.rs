//! An nginx site on a loopback port: HTTPS with a certificate under test (optionally with
//! extra directives such as OCSP stapling), or plain HTTP serving a directory that the test
//! fills while the server runs.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{free_port, read_log, require_program, stop_child};

/// Seconds to wait for nginx to accept connections after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings of a [`TlsSite`].
#[derive(Debug, Clone)]
pub struct TlsSiteBuilder {
    server_name: String,
    /// Certificate and key for HTTPS; `None` serves plain HTTP.
    tls: Option<(PathBuf, PathBuf)>,
    /// Directory to serve; `None` returns `body` for every request.
    root: Option<PathBuf>,
    body: String,
    directives: String,
}

impl TlsSiteBuilder {
    /// Sets the body returned for every request (default `ok`).
    pub fn body(mut self, body: &str) -> Self {
        self.body = body.to_owned();
        self
    }

    /// Adds directives to the `server` block, such as `ssl_stapling on;`.
    pub fn directives(mut self, directives: &str) -> Self {
        self.directives.push_str(directives);
        self.directives.push('\n');
        self
    }

    /// Writes the configuration, starts nginx and waits until the port accepts connections.
    ///
    /// # Panics
    ///
    /// When `nginx` is missing, or nginx does not start within 15 seconds (with its error log).
    pub fn start(self) -> TlsSite {
        require_program("nginx", "nginx");
        let mut last_log = String::new();
        for _ in 0..3 {
            match self.try_start() {
                Ok(site) => return site,
                Err(log) => last_log = log,
            }
        }
        panic!("nginx did not start after 3 attempts; last error log:\n{last_log}");
    }

    fn try_start(&self) -> Result<TlsSite, String> {
        let dir = tempfile::Builder::new().prefix("certkeeper-tls-site-").tempdir().expect("create a temporary directory");
        for sub in ["logs", "temp"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create an nginx directory");
        }
        let port = free_port();
        let prefix = dir.path().display();
        // As root, nginx would run its workers as `nobody`, which cannot read the temporary
        // directory; `user root` keeps them as root. Other users ignore the directive.
        let listen = match self.tls {
            Some(_) => format!("listen 127.0.0.1:{port} ssl;"),
            None => format!("listen 127.0.0.1:{port};"),
        };
        let tls = match &self.tls {
            Some((certificate, key)) => {
                format!("ssl_certificate {};\n        ssl_certificate_key {};", certificate.display(), key.display())
            }
            None => String::new(),
        };
        let location = match &self.root {
            Some(root) => format!("location / {{ root {}; }}", root.display()),
            None => format!(
                "location / {{ return 200 \"{}\"; }}",
                self.body.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
            ),
        };
        let conf = format!(
            r#"user root;
worker_processes 1;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
    default_type text/plain;
    server {{
        {listen}
        server_name {server_name};
        {tls}
{directives}
        {location}
    }}
}}
"#,
            server_name = self.server_name,
            directives = self.directives,
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
        let error_log = dir.path().join("logs/error.log");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(&error_log)
            .args(["-c", "nginx.conf", "-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start nginx: {error}"));
        let mut site = TlsSite { child, dir, port };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = site.child.try_wait() {
                return Err(read_log(&error_log));
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(site);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop_child(&mut site.child);
        Err(read_log(&error_log))
    }
}

/// A running nginx with one HTTPS site on a loopback port. Dropping it stops the server.
pub struct TlsSite {
    child: Child,
    dir: TempDir,
    port: u16,
}

impl TlsSite {
    /// Returns a builder for a site named `server_name` that serves `certificate` (leaf then
    /// chain, PEM) with `key`.
    pub fn builder(server_name: &str, certificate: &Path, key: &Path) -> TlsSiteBuilder {
        TlsSiteBuilder {
            server_name: server_name.to_owned(),
            tls: Some((certificate.to_owned(), key.to_owned())),
            root: None,
            body: "ok".to_owned(),
            directives: String::new(),
        }
    }

    /// Starts a plain HTTP site for every host name that serves the files under `root`, which
    /// the test may change while the server runs.
    pub fn static_http(root: &Path) -> TlsSite {
        TlsSiteBuilder {
            server_name: "_".to_owned(),
            tls: None,
            root: Some(root.to_owned()),
            body: String::new(),
            directives: String::new(),
        }
        .start()
    }

    /// Returns the port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the nginx error log so far.
    pub fn error_log(&self) -> String {
        read_log(&self.dir.path().join("logs/error.log"))
    }
}

impl Drop for TlsSite {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}
