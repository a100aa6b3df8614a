//! The whole job, end to end: a certificate applied for with the Tencent Cloud Python SDK,
//! validated through a real BIND9, issued, downloaded and served by nginx to curl, and the same
//! server listed by tccli and by `certkeeper client`.
//!
//! The Python SDK and tccli come from the virtualenv at `CERTKEEPER_VENV` or `<workspace>/.venv`
//! (`scripts/install-test-tools.sh` creates it). The tests fail, rather than skip, without it.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use certkeeper_testkit::{Bind9, Service, TlsSite};
use serde_json::Value;
use support::{binary, without_proxy};

const DOMAIN: &str = "www.example.test";
const PAGE_BODY: &str = "served by certkeeper's certificate\n";
/// How long the Python script may take for one step (apply, or issue and download).
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

fn venv() -> PathBuf {
    let path = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    assert!(
        path.join("bin/python").exists() && path.join("bin/tccli").exists(),
        "no Python virtualenv with the Tencent Cloud SDK and tccli at {}; \
         run scripts/install-test-tools.sh or set CERTKEEPER_VENV",
        path.display()
    );
    path
}

/// A started server with its resolver, configuration and first account.
struct Setup {
    dir: tempfile::TempDir,
    bind: Bind9,
    service: Service,
    secret_id: String,
    secret_key: String,
}

impl Setup {
    fn start() -> Setup {
        let bind = Bind9::start(&["example.test"]);
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("data");
        let config = dir.path().join("certkeeper.toml");
        let settings = format!(
            "[validation]\ndns_servers = [\"{}\"]\nallow_private_addresses = true\nrecheck_interval = \"1s\"\n",
            bind.addr_string()
        );
        std::fs::write(&config, settings).unwrap();
        let config_arg = config.to_str().unwrap();
        let service = Service::start(&binary(), &data_dir, &["--config", config_arg], &[("RUST_LOG", "info")]);

        let output = Command::new(binary())
            .args(["--config", config_arg, "--data-dir"])
            .arg(&data_dir)
            .args(["account", "create", "alice", "--json"])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(output.status.success(), "account create failed: {}", String::from_utf8_lossy(&output.stderr));
        let created: Value = serde_json::from_slice(&output.stdout).expect("account create --json prints JSON");
        let secret_id = created["secret_id"].as_str().unwrap().to_owned();
        let secret_key = created["secret_key"].as_str().unwrap().to_owned();
        Setup { dir, bind, service, secret_id, secret_key }
    }

    fn endpoint(&self) -> String {
        self.service.base_url()
    }

    /// Runs `certkeeper client ARGS` with the account's key in the environment.
    fn client(&self, args: &[&str]) -> Output {
        let mut command = Command::new(binary());
        without_proxy(&mut command)
            .arg("client")
            .args(args)
            .args(["--endpoint", &self.endpoint()])
            .env("HOME", self.dir.path())
            .env("TENCENTCLOUD_SECRET_ID", &self.secret_id)
            .env("TENCENTCLOUD_SECRET_KEY", &self.secret_key)
            .env("RUST_LOG", "warn");
        command.output().unwrap()
    }
}

fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// The Python script, with its stdout read line by line on a thread so reads can time out.
struct Script {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    stderr: PathBuf,
}

impl Script {
    fn start(setup: &Setup, zip_path: &Path) -> Script {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/main_job.py");
        let stderr = setup.dir.path().join("script.stderr");
        let mut command = Command::new(venv().join("bin/python"));
        without_proxy(&mut command)
            .arg(script)
            .arg(format!("127.0.0.1:{}", setup.service.port()))
            .arg(DOMAIN)
            .arg(zip_path)
            .env("TENCENTCLOUD_SECRET_ID", &setup.secret_id)
            .env("TENCENTCLOUD_SECRET_KEY", &setup.secret_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        let mut child = command.spawn().expect("the venv's python starts");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Script { child, lines, stderr }
    }

    fn next_event(&mut self, step: &str, setup: &Setup) -> Value {
        match self.lines.recv_timeout(STEP_TIMEOUT) {
            Ok(line) => {
                let event: Value = serde_json::from_str(&line).unwrap_or_else(|error| panic!("{error}: {line}"));
                assert_eq!(event["step"], step, "{event}");
                event
            }
            Err(error) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "the script printed no {step:?} line ({error}); stderr:\n{}\nservice log:\n{}",
                    std::fs::read_to_string(&self.stderr).unwrap_or_default(),
                    setup.service.log()
                );
            }
        }
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Extracts the named ZIP entries into `dir` under their bare file names.
fn unzip(archive: &[u8], entries: &[&str], dir: &Path) {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).expect("the download is a ZIP");
    for entry in entries {
        let mut file = zip.by_name(entry).unwrap_or_else(|_| panic!("the ZIP has no {entry}"));
        let mut data = Vec::new();
        file.read_to_end(&mut data).unwrap();
        let name = Path::new(entry).file_name().unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    }
}

#[test]
fn python_sdk_order_served_by_nginx() {
    let setup = Setup::start();
    let zip_path = setup.dir.path().join("certificate.zip");
    let mut script = Script::start(&setup, &zip_path);

    let applied = script.next_event("apply", &setup);
    let id = applied["CertificateId"].as_str().unwrap().to_owned();
    let detail = &applied["DvAuthDetail"];
    assert_eq!(detail["DvAuthKey"], format!("_dnsauth.{DOMAIN}"), "{applied}");
    assert_eq!(detail["DvAuthDomain"], DOMAIN);
    assert_eq!(detail["DvAuths"][0]["DvAuthVerifyType"], "TXT");
    let value = detail["DvAuthValue"].as_str().unwrap();
    setup.bind.add_record(detail["DvAuthKey"].as_str().unwrap(), 60, "TXT", &format!("\"{value}\""));
    let stdin = script.child.stdin.as_mut().unwrap();
    stdin.write_all(b"published\n").unwrap();
    stdin.flush().unwrap();

    let issued = script.next_event("issued", &setup);
    assert_eq!(issued["Status"], 1);
    script.next_event("downloaded", &setup);
    let status = script.child.wait().unwrap();
    assert!(status.success(), "script failed: {}", std::fs::read_to_string(&script.stderr).unwrap_or_default());

    let site = setup.dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    let archive = std::fs::read(&zip_path).unwrap();
    let bundle_name = format!("{DOMAIN}_bundle.crt");
    let key_name = format!("{DOMAIN}.key");
    unzip(&archive, &[&format!("Nginx/{bundle_name}"), &format!("Nginx/{key_name}"), "Root/root.crt"], &site);

    let nginx = TlsSite::builder(DOMAIN, &site.join(&bundle_name), &site.join(&key_name)).body(PAGE_BODY).start();
    let port = nginx.port();
    let mut curl = Command::new("curl");
    without_proxy(&mut curl)
        .args(["--silent", "--show-error", "--noproxy", "*", "--max-time", "20", "--cacert"])
        .arg(site.join("root.crt"))
        .arg("--resolve")
        .arg(format!("{DOMAIN}:{port}:127.0.0.1"))
        .arg(format!("https://{DOMAIN}:{port}/"));
    let output = curl.output().expect("curl runs");
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout), PAGE_BODY);

    // The CLI client downloads the same files the SDK did.
    let out = setup.dir.path().join("client-download");
    let downloaded = json_of(&setup.client(&["download", &id, "--server-type", "nginx", "--out", out.to_str().unwrap(), "--json"]));
    assert_eq!(downloaded["Files"].as_array().unwrap().len(), 2, "{downloaded}");
    assert_eq!(std::fs::read(out.join(&bundle_name)).unwrap(), std::fs::read(site.join(&bundle_name)).unwrap());
    assert_eq!(std::fs::read(out.join(&key_name)).unwrap(), std::fs::read(site.join(&key_name)).unwrap());
}

#[test]
fn tccli_and_client_list_applied_certificate() {
    let setup = Setup::start();
    let applied = json_of(&setup.client(&["apply", DOMAIN, "--method", "dns", "--algorithm", "ECC", "--json"]));
    let id = applied["CertificateId"].as_str().unwrap().to_owned();
    assert_eq!(applied["Status"], 0, "{applied}");
    assert_eq!(applied["DvAuthDetail"]["DvAuthKey"], format!("_dnsauth.{DOMAIN}"));

    let home = tempfile::tempdir().unwrap();
    let mut tccli = Command::new(venv().join("bin/tccli"));
    without_proxy(&mut tccli)
        .args(["ssl", "DescribeCertificates", "--endpoint", &setup.endpoint()])
        .env("HOME", home.path())
        .env("TENCENTCLOUD_SECRET_ID", &setup.secret_id)
        .env("TENCENTCLOUD_SECRET_KEY", &setup.secret_key);
    let listed = json_of(&tccli.output().expect("tccli runs"));
    assert_eq!(listed["TotalCount"], 1, "{listed}");
    assert_eq!(listed["Certificates"][0]["CertificateId"], id.as_str());
    assert_eq!(listed["Certificates"][0]["Domain"], DOMAIN);

    let listed = json_of(&setup.client(&["list", "--json"]));
    assert_eq!(listed[0]["CertificateId"], id.as_str(), "{listed}");
    let table = setup.client(&["list"]);
    assert!(table.status.success());
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id), "{table}");

    let shown = setup.client(&["show", &id]);
    assert!(shown.status.success());
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(shown.contains("PENDING-DCV"), "{shown}");
    assert!(shown.contains(&format!("_dnsauth.{DOMAIN}")), "{shown}");

    let cancelled = json_of(&setup.client(&["cancel", &id, "--json"]));
    assert_eq!(cancelled["CertificateId"], id.as_str());
    let shown = json_of(&setup.client(&["show", &id, "--json"]));
    assert_eq!(shown["Status"], 7, "{shown}");
}

#[test]
fn client_batch_apply_reports_each_domain() {
    let setup = Setup::start();
    let list = setup.dir.path().join("domains.txt");
    std::fs::write(&list, "# two good names and a public suffix\nwww.example.test\napi.example.test\n\ncom\n").unwrap();
    let output = setup.client(&["batch", "apply", list.to_str().unwrap(), "--json"]);
    assert!(!output.status.success(), "one entry failed, so the command fails");
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 of 3 entries failed"), "{}", String::from_utf8_lossy(&output.stderr));
    let outcomes: Value = serde_json::from_slice(&output.stdout).unwrap();
    let outcomes = outcomes.as_array().unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(outcomes[0]["CertificateId"].is_string(), "{outcomes:?}");
    assert!(outcomes[1]["CertificateId"].is_string());
    assert!(outcomes[2]["Error"].as_str().unwrap().contains("InvalidParameter.DomainInvalid"), "{outcomes:?}");

    let ids = setup.dir.path().join("ids.txt");
    std::fs::write(&ids, format!("{}\n", outcomes[0]["CertificateId"].as_str().unwrap())).unwrap();
    let out = setup.dir.path().join("batch-out");
    let output = setup.client(&["batch", "download", ids.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(!output.status.success(), "an order that is not issued cannot be downloaded");
    assert!(String::from_utf8_lossy(&output.stdout).contains("FailedOperation"), "{}", String::from_utf8_lossy(&output.stdout));

}
