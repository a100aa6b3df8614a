//! A BIND9 primary server for test zones, with a TSIG key that may update every zone.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tempfile::TempDir;

use crate::process::{free_port, read_log, require_program, stop_child};

const NAMED: &str = "/usr/sbin/named";

/// Name of the TSIG key that may update every zone of the fixture.
pub const TSIG_KEY_NAME: &str = "certkeeper-test-key";

/// Algorithm of the fixture's TSIG key, as BIND and `nsupdate` spell it.
pub const TSIG_ALGORITHM: &str = "hmac-sha256";

/// Negative-caching TTL in every SOA record, in seconds. It is long on purpose so that a
/// validator that trusts a cached "no such record" response fails the tests.
const NEGATIVE_TTL: u32 = 3600;

/// Seconds to wait for `named` to answer after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings for a [`Bind9`] fixture.
#[derive(Debug, Default)]
pub struct Bind9Builder {
    zones: Vec<String>,
    records: Vec<String>,
}

impl Bind9Builder {
    /// Adds a primary zone such as `example.test`. The fixture also serves the zone's top-level
    /// domain as an empty zone, so that a CAA lookup climbing to `test` gets an answer instead
    /// of REFUSED.
    pub fn zone(mut self, zone: &str) -> Self {
        self.zones
            .push(zone.trim_end_matches('.').to_ascii_lowercase());
        self
    }

    /// Adds a record in zone-file syntax with a fully qualified owner name, for example
    /// `"_dnsauth.example.test. 300 IN TXT \"value\""`. It goes into the zone whose name is the
    /// longest suffix of the owner.
    pub fn record(mut self, line: &str) -> Self {
        self.records.push(line.to_owned());
        self
    }

    /// Starts `named` and waits until it answers a SOA query for every zone.
    ///
    /// # Panics
    ///
    /// When `named` or `dig` is missing, or `named` does not start within 15 seconds.
    pub fn start(self) -> Bind9 {
        require_program(NAMED, "bind9");
        require_program("dig", "bind9-dnsutils");
        require_program("nsupdate", "bind9-dnsutils");
        assert!(
            !self.zones.is_empty(),
            "a Bind9 fixture needs at least one zone"
        );

        let mut last_log = String::new();
        for _ in 0..3 {
            match Bind9::try_start(&self) {
                Ok(server) => return server,
                Err(log) => last_log = log,
            }
        }
        panic!("named did not start after 3 attempts; last log:\n{last_log}");
    }
}

/// A running BIND9 `named` on a loopback port, serving test zones in which every name has the
/// address 127.0.0.1. Dropping it stops the server.
pub struct Bind9 {
    child: Child,
    dir: TempDir,
    port: u16,
    zones: Vec<String>,
    tsig_secret: String,
}

impl Bind9 {
    /// Returns a builder for a fixture with custom zones and records.
    pub fn builder() -> Bind9Builder {
        Bind9Builder::default()
    }

    /// Starts a server for the given zones, such as `["example.test", "example.net"]`.
    pub fn start(zones: &[&str]) -> Bind9 {
        zones
            .iter()
            .fold(Bind9::builder(), |builder, zone| builder.zone(zone))
            .start()
    }

    /// Returns the server's UDP and TCP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Returns the server's address as `host:port`.
    pub fn addr_string(&self) -> String {
        self.addr().to_string()
    }

    /// Returns the base64 secret of the TSIG key [`TSIG_KEY_NAME`].
    pub fn tsig_secret(&self) -> &str {
        &self.tsig_secret
    }

    /// Returns the temporary directory holding the configuration, zone files and `named.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds one record by dynamic update, for example
    /// `add_record("_dnsauth.example.test", 300, "TXT", "\"value\"")`.
    pub fn add_record(&self, name: &str, ttl: u32, record_type: &str, rdata: &str) {
        self.update(
            name,
            &format!("update add {name}. {ttl} IN {record_type} {rdata}"),
        );
    }

    /// Deletes the records of one type at a name, or only the one with `rdata` when given.
    pub fn delete_record(&self, name: &str, record_type: &str, rdata: Option<&str>) {
        let command = match rdata {
            Some(rdata) => format!("update delete {name}. IN {record_type} {rdata}"),
            None => format!("update delete {name}. IN {record_type}"),
        };
        self.update(name, &command);
    }

    /// Queries the server with `dig +short` and returns the answer lines.
    pub fn query(&self, name: &str, record_type: &str) -> Vec<String> {
        let output = Command::new("dig")
            .args([
                "+short",
                "+time=2",
                "+tries=1",
                "-p",
                &self.port.to_string(),
            ])
            .arg("@127.0.0.1")
            .args([name, record_type])
            .output()
            .expect("run dig");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Sends one `nsupdate` command for the zone that contains `name`, signed with the
    /// fixture's TSIG key.
    ///
    /// # Panics
    ///
    /// When no zone of the fixture contains `name` or the server rejects the update.
    pub fn update(&self, name: &str, command: &str) {
        let zone = zone_for(&self.zones, name)
            .unwrap_or_else(|| panic!("{name} is in none of the fixture zones {:?}", self.zones));
        let script = format!(
            "server 127.0.0.1 {port}\nzone {zone}.\n{command}\nsend\n",
            port = self.port
        );
        let key = format!("{TSIG_ALGORITHM}:{TSIG_KEY_NAME}:{}", self.tsig_secret);
        let mut child = Command::new("nsupdate")
            .args(["-y", &key])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run nsupdate");
        child
            .stdin
            .take()
            .expect("nsupdate stdin is piped")
            .write_all(script.as_bytes())
            .expect("write the nsupdate script");
        let output = child.wait_with_output().expect("wait for nsupdate");
        assert!(
            output.status.success(),
            "nsupdate failed for {command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn try_start(settings: &Bind9Builder) -> Result<Bind9, String> {
        let dir = tempfile::Builder::new()
            .prefix("certkeeper-bind9-")
            .tempdir()
            .expect("create a temporary directory");
        let port = free_port();
        let tsig_secret = random_secret();
        let zones = all_zones(&settings.zones);

        for zone in &zones {
            let records: Vec<&String> = settings
                .records
                .iter()
                .filter(|line| {
                    let owner = line.split_whitespace().next().unwrap_or_default();
                    zone_for(&zones, owner).as_deref() == Some(zone.as_str())
                })
                .collect();
            let serves_addresses = settings.zones.contains(zone);
            std::fs::write(
                dir.path().join(format!("{zone}.zone")),
                zone_file(zone, serves_addresses, &records),
            )
            .expect("write a zone file");
        }
        std::fs::write(
            dir.path().join("named.conf"),
            named_conf(dir.path(), port, &zones, &tsig_secret),
        )
        .expect("write named.conf");

        let log_path = dir.path().join("named.log");
        let log = std::fs::File::create(&log_path).expect("create named.log");
        let child = Command::new(NAMED)
            .arg("-g")
            .arg("-c")
            .arg(dir.path().join("named.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("failed to start {NAMED}: {error}"));

        let mut server = Bind9 {
            child,
            dir,
            port,
            zones,
            tsig_secret,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = server.child.try_wait() {
                return Err(read_log(&log_path));
            }
            let loaded = server
                .zones
                .iter()
                .all(|zone| !server.query(zone, "SOA").is_empty());
            if loaded {
                return Ok(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(read_log(&log_path))
    }
}

impl Drop for Bind9 {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// Returns the configured zones plus their top-level domains, without duplicates.
fn all_zones(zones: &[String]) -> Vec<String> {
    let mut all = zones.to_vec();
    for zone in zones {
        let tld = zone.rsplit('.').next().unwrap_or(zone).to_owned();
        if !all.contains(&tld) {
            all.push(tld);
        }
    }
    all
}

/// Returns the longest zone that is `name` or a parent of it.
fn zone_for(zones: &[String], name: &str) -> Option<String> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    zones
        .iter()
        .filter(|zone| name == **zone || name.ends_with(&format!(".{zone}")))
        .max_by_key(|zone| zone.len())
        .cloned()
}

fn random_secret() -> String {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).expect("fill a TSIG key from the system random generator");
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn zone_file(zone: &str, serves_addresses: bool, records: &[&String]) -> String {
    let mut text = format!(
        "$ORIGIN {zone}.\n$TTL 300\n\
         @ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 {NEGATIVE_TTL}\n\
         @ IN NS ns.{zone}.\n\
         ns IN A 127.0.0.1\n"
    );
    if serves_addresses {
        text.push_str("@ IN A 127.0.0.1\n* IN A 127.0.0.1\n");
    }
    for record in records {
        let _ = writeln!(text, "{record}");
    }
    text
}

fn named_conf(dir: &Path, port: u16, zones: &[String], secret: &str) -> String {
    let dir = dir.display();
    let mut text = format!(
        r#"options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    managed-keys-directory "{dir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
key "{TSIG_KEY_NAME}" {{
    algorithm {TSIG_ALGORITHM};
    secret "{secret}";
}};
"#
    );
    for zone in zones {
        let path: PathBuf = PathBuf::from(format!("{dir}/{zone}.zone"));
        let _ = write!(
            text,
            "zone \"{zone}\" {{\n    type primary;\n    file \"{}\";\n    allow-update {{ key \"{TSIG_KEY_NAME}\"; }};\n}};\n",
            path.display()
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_for_picks_longest_suffix() {
        let zones = vec!["test".to_owned(), "example.test".to_owned()];
        assert_eq!(
            zone_for(&zones, "a.b.example.test.").as_deref(),
            Some("example.test")
        );
        assert_eq!(zone_for(&zones, "other.test").as_deref(), Some("test"));
        assert_eq!(zone_for(&zones, "example.net"), None);
    }

    #[test]
    fn all_zones_adds_top_level_domains() {
        let zones = all_zones(&["example.test".to_owned(), "example.net".to_owned()]);
        assert_eq!(zones, ["example.test", "example.net", "test", "net"]);
    }
}
