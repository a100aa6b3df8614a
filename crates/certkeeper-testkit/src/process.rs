//! Child-process helpers shared by the fixtures.

use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Returns a loopback port that is free for both TCP and UDP at the time of the call.
///
/// Another process may still take the port before the caller binds it, so fixtures that start
/// servers retry with a new port when the server fails to bind.
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a TCP socket on 127.0.0.1");
        let port = tcp
            .local_addr()
            .expect("local address of a bound socket")
            .port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port was free for both TCP and UDP after 100 attempts");
}

/// Panics with an install hint when `program` is not an executable file.
pub(crate) fn require_program(program: &str, package: &str) {
    let found = if program.contains('/') {
        Path::new(program).is_file()
    } else {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
            .unwrap_or(false)
    };
    if !found {
        panic!(
            "{program} is not installed; install the Debian package {package} \
             (scripts/install-test-tools.sh installs every test tool)"
        );
    }
}

/// Stops a child with SIGTERM, then SIGKILL if it has not exited within five seconds.
pub(crate) fn stop_child(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads a log file for a panic message; a missing file reads as empty.
pub(crate) fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
