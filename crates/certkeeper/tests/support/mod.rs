//! Helpers shared by the end-to-end tests of the `certkeeper` binary: the binary and the test
//! virtualenv, calls through the Tencent Cloud Python SDK, operator commands, and the aiosmtpd
//! sink. Each test file uses a different subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Proxy variables removed from child processes, so that calls to 127.0.0.1 stay local.
const PROXY_VARIABLES: [&str; 8] = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy", "NO_PROXY", "no_proxy"];

/// Returns the path of the `certkeeper` binary under test.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_certkeeper"))
}

/// Returns the virtualenv with the Tencent Cloud SDK, tccli, pkilint and aiosmtpd:
/// `CERTKEEPER_VENV`, or `.venv` at the top of the repository. Fails the test when it is missing.
pub fn venv() -> PathBuf {
    let path = match std::env::var_os("CERTKEEPER_VENV") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv"),
    };
    assert!(
        path.join("bin/python").exists(),
        "no Python virtualenv with the Tencent Cloud SDK at {}; run scripts/install-test-tools.sh or set CERTKEEPER_VENV",
        path.display()
    );
    path
}

/// Returns the virtualenv's Python interpreter.
pub fn venv_python() -> PathBuf {
    venv().join("bin/python")
}

/// Removes the proxy variables from a child process's environment.
pub fn without_proxy(command: &mut Command) -> &mut Command {
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command
}

/// An API key pair as `certkeeper account create --json` prints it.
pub struct Key {
    pub secret_id: String,
    pub secret_key: String,
}

impl Key {
    /// Reads the key pair from the JSON output of `certkeeper account create --json`.
    pub fn from_account_json(stdout: &str) -> Key {
        let created: Value = serde_json::from_str(stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
        Key { secret_id: created["secret_id"].as_str().unwrap().into(), secret_key: created["secret_key"].as_str().unwrap().into() }
    }
}

/// Calls an action through the Python SDK (`tests/python/call_action.py`) on the server at
/// 127.0.0.1:`port`, and returns the response, or `{"Error": ...}` for an API error. The
/// parameters go through standard input, because a letter is larger than an argument may be.
pub fn call_action(port: u16, key: &Key, action: &str, params: &Value) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/call_action.py");
    let mut command = Command::new(venv_python());
    let mut child = without_proxy(&mut command)
        .arg(script)
        .arg(format!("127.0.0.1:{port}"))
        .arg(action)
        .arg("-")
        .env("TENCENTCLOUD_SECRET_ID", &key.secret_id)
        .env("TENCENTCLOUD_SECRET_KEY", &key.secret_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(params.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{action}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&output.stdout)))
}

/// Runs an operator command with `--config` and `--data-dir`, the master key taken from the
/// data directory, and `env` added. Returns success, stdout and stderr.
pub fn run_certkeeper(config: &Path, data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let output = Command::new(binary())
        .arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("CERTKEEPER_MASTER_KEY")
        .envs(env.iter().copied())
        .output()
        .expect("run certkeeper");
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// The aiosmtpd sink of `tests/python/smtp_sink.py`, storing each message as a `.eml` file;
/// stopped on drop.
pub struct SmtpSink(Child);

impl SmtpSink {
    /// Starts the sink on 127.0.0.1:`port`, writing messages into `directory`, and waits until
    /// it accepts connections.
    pub fn start(port: u16, directory: &Path) -> SmtpSink {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/smtp_sink.py");
        let mut child = Command::new(venv_python())
            .arg(script)
            .arg(port.to_string())
            .arg(directory)
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

/// Returns the messages the SMTP sink stored in `directory`, in file-name order.
pub fn emails(directory: &Path) -> Vec<String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(directory)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok())
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|extension| extension == "eml"))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths.iter().map(|path| std::fs::read_to_string(path).unwrap()).collect()
}
