//! An nginx web server with per-host static files, redirects and a self-signed HTTPS server.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{free_port, read_log, require_program, stop_child};

/// Seconds to wait for nginx to accept connections after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Subject name of the HTTPS server's self-signed certificate. It matches no test host, so a
/// client that checks certificates fails on every HTTPS fetch.
pub const SELF_SIGNED_NAME: &str = "self-signed.invalid";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scheme {
    Http,
    Https,
}

#[derive(Debug, Default)]
struct Site {
    files: Vec<File>,
    redirect: Option<(u16, String)>,
}

#[derive(Debug)]
struct File {
    path: String,
    body: Vec<u8>,
    content_type: Option<String>,
}

/// Settings for an [`Nginx`] fixture: one plain HTTP listener and one HTTPS listener, each with
/// one `server` block per host name.
#[derive(Debug, Default)]
pub struct NginxBuilder {
    sites: BTreeMap<(Scheme, String), Site>,
}

impl NginxBuilder {
    /// Serves `body` at `path` (starting with `/`) for `host` over plain HTTP, with the content
    /// type `text/plain`.
    pub fn http_file(self, host: &str, path: &str, body: impl Into<Vec<u8>>) -> Self {
        self.file(Scheme::Http, host, path, body.into(), None)
    }

    /// Serves `body` at `path` for `host` over plain HTTP with the given content type.
    pub fn http_file_with_type(
        self,
        host: &str,
        path: &str,
        body: impl Into<Vec<u8>>,
        content_type: &str,
    ) -> Self {
        self.file(
            Scheme::Http,
            host,
            path,
            body.into(),
            Some(content_type.to_owned()),
        )
    }

    /// Serves `body` at `path` for `host` over HTTPS with the self-signed certificate.
    pub fn https_file(self, host: &str, path: &str, body: impl Into<Vec<u8>>) -> Self {
        self.file(Scheme::Https, host, path, body.into(), None)
    }

    /// Answers every plain HTTP request for `host` with a redirect. `target` is an nginx
    /// expression such as `https://www.example.test$request_uri`.
    pub fn http_redirect(mut self, host: &str, status: u16, target: &str) -> Self {
        self.site(Scheme::Http, host).redirect = Some((status, target.to_owned()));
        self
    }

    /// Answers every HTTPS request for `host` with a redirect.
    pub fn https_redirect(mut self, host: &str, status: u16, target: &str) -> Self {
        self.site(Scheme::Https, host).redirect = Some((status, target.to_owned()));
        self
    }

    /// Writes the configuration and files, starts nginx and waits until both ports accept
    /// connections.
    ///
    /// # Panics
    ///
    /// When `nginx` or `openssl` is missing, or nginx does not start within 15 seconds.
    pub fn start(self) -> Nginx {
        require_program("nginx", "nginx");
        require_program("openssl", "openssl");
        let mut last_log = String::new();
        for _ in 0..3 {
            match self.try_start() {
                Ok(server) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!("nginx did not start after 3 attempts; last error log:\n{last_log}");
    }

    fn file(
        mut self,
        scheme: Scheme,
        host: &str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<String>,
    ) -> Self {
        assert!(
            path.starts_with('/'),
            "a file path must start with /: {path:?}"
        );
        self.site(scheme, host).files.push(File {
            path: path.to_owned(),
            body,
            content_type,
        });
        self
    }

    fn site(&mut self, scheme: Scheme, host: &str) -> &mut Site {
        self.sites
            .entry((scheme, host.to_ascii_lowercase()))
            .or_default()
    }

    fn try_start(&self) -> Result<Nginx, String> {
        let dir = tempfile::Builder::new()
            .prefix("certkeeper-nginx-")
            .tempdir()
            .expect("create a temporary directory");
        let http_port = free_port();
        let https_port = free_port();
        write_self_signed_certificate(dir.path());
        for sub in ["logs", "temp"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create an nginx directory");
        }
        for ((scheme, host), site) in &self.sites {
            for file in &site.files {
                let path = dir
                    .path()
                    .join(site_root(*scheme, host))
                    .join(file.path.trim_start_matches('/'));
                std::fs::create_dir_all(path.parent().expect("a file path has a parent"))
                    .expect("create a site directory");
                std::fs::write(&path, &file.body).expect("write a site file");
            }
        }
        let conf = nginx_conf(dir.path(), http_port, https_port, &self.sites);
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

        let mut server = Nginx {
            child,
            dir,
            http_port,
            https_port,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                return Err(read_log(&error_log));
            }
            if accepts(http_port) && accepts(https_port) {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop_child(&mut server.child);
        Err(read_log(&error_log))
    }
}

/// A running nginx on two loopback ports. Dropping it stops the server.
pub struct Nginx {
    child: Child,
    dir: TempDir,
    http_port: u16,
    https_port: u16,
}

impl Nginx {
    /// Returns a builder for the sites to serve.
    pub fn builder() -> NginxBuilder {
        NginxBuilder::default()
    }

    /// Returns the plain HTTP port on 127.0.0.1.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// Returns the HTTPS port on 127.0.0.1.
    pub fn https_port(&self) -> u16 {
        self.https_port
    }

    /// Returns the temporary directory holding `nginx.conf`, the sites and `logs/`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

fn accepts(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

fn site_root(scheme: Scheme, host: &str) -> String {
    match scheme {
        Scheme::Http => format!("sites/http/{host}"),
        Scheme::Https => format!("sites/https/{host}"),
    }
}

fn write_self_signed_certificate(dir: &Path) {
    let output = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
        ])
        .args(["-subj", &format!("/CN={SELF_SIGNED_NAME}")])
        .args(["-addext", &format!("subjectAltName=DNS:{SELF_SIGNED_NAME}")])
        .arg("-keyout")
        .arg(dir.join("server.key"))
        .arg("-out")
        .arg(dir.join("server.crt"))
        .output()
        .expect("run openssl req");
    assert!(
        output.status.success(),
        "openssl req failed to create a self-signed certificate: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn nginx_conf(
    dir: &Path,
    http_port: u16,
    https_port: u16,
    sites: &BTreeMap<(Scheme, String), Site>,
) -> String {
    let dir = dir.display();
    // Running as root, nginx would start its workers as `nobody`, which cannot read the
    // temporary directory; `user root` keeps them as root. Non-root runs ignore it with a warning.
    let mut text = format!(
        r#"user root;
worker_processes 1;
pid {dir}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log {dir}/logs/access.log;
    client_body_temp_path {dir}/temp/body;
    proxy_temp_path {dir}/temp/proxy;
    fastcgi_temp_path {dir}/temp/fastcgi;
    uwsgi_temp_path {dir}/temp/uwsgi;
    scgi_temp_path {dir}/temp/scgi;
    default_type text/plain;
    ssl_certificate {dir}/server.crt;
    ssl_certificate_key {dir}/server.key;
    server {{
        listen 127.0.0.1:{http_port} default_server;
        server_name _;
        return 404;
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl default_server;
        server_name _;
        return 404;
    }}
"#
    );
    for ((scheme, host), site) in sites {
        let listen = match scheme {
            Scheme::Http => format!("127.0.0.1:{http_port}"),
            Scheme::Https => format!("127.0.0.1:{https_port} ssl"),
        };
        let root = site_root(*scheme, host);
        let _ = write!(
            text,
            "    server {{\n        listen {listen};\n        server_name {host};\n        root {dir}/{root};\n"
        );
        if let Some((status, target)) = &site.redirect {
            let _ = writeln!(text, "        return {status} {target};");
        }
        for file in &site.files {
            if let Some(content_type) = &file.content_type {
                let _ = writeln!(
                    text,
                    "        location = {} {{ types {{ }} default_type \"{content_type}\"; }}",
                    file.path
                );
            }
        }
        text.push_str("    }\n");
    }
    text.push_str("}\n");
    text
}

/// Runs `nginx -t` on a configuration whose HTTPS server uses `certificate_pem` (leaf then
/// intermediates) and `key_pem`, and returns whether nginx accepted it with its output.
///
/// # Panics
///
/// When `nginx` is missing.
pub fn check_certificate_files(certificate_pem: &[u8], key_pem: &[u8]) -> (bool, String) {
    require_program("nginx", "nginx");
    let dir = tempfile::Builder::new().prefix("certkeeper-nginx-t-").tempdir().expect("create a temporary directory");
    for sub in ["logs", "temp"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("create an nginx directory");
    }
    std::fs::write(dir.path().join("server.crt"), certificate_pem).expect("write server.crt");
    std::fs::write(dir.path().join("server.key"), key_pem).expect("write server.key");
    let port = free_port();
    let temp = dir.path().join("temp");
    let conf = format!(
        "pid {dir}/nginx.pid;\nerror_log {dir}/logs/error.log;\nevents {{}}\nhttp {{\n  client_body_temp_path {temp};\n  proxy_temp_path {temp};\n  \
         fastcgi_temp_path {temp};\n  uwsgi_temp_path {temp};\n  scgi_temp_path {temp};\n  access_log off;\n  server {{\n    listen 127.0.0.1:{port} ssl;\n    \
         ssl_certificate {dir}/server.crt;\n    ssl_certificate_key {dir}/server.key;\n  }}\n}}\n",
        dir = dir.path().display(),
        temp = temp.display(),
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).expect("write nginx.conf");
    let output = Command::new("nginx")
        .arg("-p")
        .arg(dir.path())
        .arg("-e")
        .arg(dir.path().join("logs/error.log"))
        .args(["-c", "nginx.conf", "-t"])
        .output()
        .unwrap_or_else(|error| panic!("failed to run nginx -t: {error}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}
