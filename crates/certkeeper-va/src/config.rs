//! Configuration of the validation authority: the `[validation]` and `[dns_auto]` sections.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Settings for domain validation checks.
///
/// # Defaults
///
/// | field | default |
/// |---|---|
/// | `dns_servers` | empty: the `nameserver` lines of `/etc/resolv.conf` |
/// | `dns_timeout` | 5 s per DNS query and server |
/// | `http_port` | 80 |
/// | `https_port` | 443 |
/// | `allow_private_addresses` | false |
/// | `recheck_interval` | 10 s |
/// | `token_lifetime` | 3 days |
/// | `max_concurrent_checks` | 64 |
/// | `connect_timeout` | 5 s |
/// | `total_timeout` | 10 s for one file check including every redirect |
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    /// Resolvers to query, as `host:port` with an IP address as host. They are tried in order
    /// until one returns an answer.
    #[serde(default = "default_dns_servers")]
    pub dns_servers: Vec<SocketAddr>,
    /// Time to wait for one DNS response from one server.
    #[serde(default = "default_dns_timeout", with = "humantime_serde")]
    pub dns_timeout: Duration,
    /// Port of the plain HTTP fetch of a validation file, and of redirects to `http` URLs
    /// without a port.
    #[serde(default = "default_http_port")]
    pub http_port: u16,
    /// Port of redirects to `https` URLs without a port.
    #[serde(default = "default_https_port")]
    pub https_port: u16,
    /// Lets file checks connect to loopback, private and other special-purpose addresses.
    /// Turn it on only for tests or closed networks, because it lets applicants make
    /// certkeeper send requests into its own network.
    #[serde(default = "default_allow_private_addresses")]
    pub allow_private_addresses: bool,
    /// Base delay between automatic checks of a pending domain; see [`crate::next_check_delay`].
    #[serde(default = "default_recheck_interval", with = "humantime_serde")]
    pub recheck_interval: Duration,
    /// Time after which an unvalidated token expires and a new one must be requested.
    #[serde(default = "default_token_lifetime", with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// Maximum number of checks that run at the same time.
    #[serde(default = "default_max_concurrent_checks")]
    pub max_concurrent_checks: usize,
    /// Time to wait for a TCP (and TLS) connection to a web server.
    #[serde(default = "default_connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time limit for a whole file check, including every redirect and the body.
    #[serde(default = "default_total_timeout", with = "humantime_serde")]
    pub total_timeout: Duration,
}

/// No configured servers: the system resolvers from `/etc/resolv.conf` are used.
pub fn default_dns_servers() -> Vec<SocketAddr> {
    Vec::new()
}

/// 5 seconds, the per-request default of hickory-net 0.26.
pub fn default_dns_timeout() -> Duration {
    Duration::from_secs(5)
}

/// 80, the registered HTTP port (RFC 9110 §4.2.1).
pub fn default_http_port() -> u16 {
    80
}

/// 443, the registered HTTPS port (RFC 9110 §4.2.2).
pub fn default_https_port() -> u16 {
    443
}

/// Private addresses are rejected unless turned on.
pub fn default_allow_private_addresses() -> bool {
    false
}

/// 10 seconds: our choice, short enough that a freshly published record is seen quickly.
pub fn default_recheck_interval() -> Duration {
    Duration::from_secs(10)
}

/// 3 days: our choice, enough for an applicant to publish a record over a weekend.
pub fn default_token_lifetime() -> Duration {
    Duration::from_secs(3 * 24 * 3600)
}

/// 64 concurrent checks: our choice, which keeps open sockets well under common file limits.
pub fn default_max_concurrent_checks() -> usize {
    64
}

/// 5 seconds to connect: our choice.
pub fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

/// 10 seconds for a whole file check: our choice.
pub fn default_total_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for ValidationConfig {
    fn default() -> Self {
        ValidationConfig {
            dns_servers: default_dns_servers(),
            dns_timeout: default_dns_timeout(),
            http_port: default_http_port(),
            https_port: default_https_port(),
            allow_private_addresses: default_allow_private_addresses(),
            recheck_interval: default_recheck_interval(),
            token_lifetime: default_token_lifetime(),
            max_concurrent_checks: default_max_concurrent_checks(),
            connect_timeout: default_connect_timeout(),
            total_timeout: default_total_timeout(),
        }
    }
}

/// Zones that certkeeper updates itself for `DNS_AUTO` validation (RFC 2136 with TSIG).
///
/// # Defaults
///
/// `zones` is empty, so every `DNS_AUTO` domain falls back to manual DNS.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DnsAutoConfig {
    /// The zones, one `[[dns_auto.zones]]` table each.
    #[serde(default)]
    pub zones: Vec<DnsAutoZone>,
}

/// One zone that accepts TSIG-signed dynamic updates.
///
/// Exactly one of `tsig_secret` and `tsig_secret_file` must be set.
///
/// # Defaults
///
/// `tsig_algorithm` is `hmac-sha256`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DnsAutoZone {
    /// Zone apex, such as `example.com`.
    pub zone: String,
    /// Primary server of the zone as `host:port`, with an IP address as host.
    pub server: SocketAddr,
    /// Name of the TSIG key as the server knows it.
    pub tsig_key_name: String,
    /// MAC algorithm of the key.
    #[serde(default = "default_tsig_algorithm")]
    pub tsig_algorithm: TsigAlgorithmName,
    /// Base64 key secret.
    #[serde(default)]
    pub tsig_secret: Option<Secret>,
    /// File whose content (surrounding whitespace removed) is the base64 key secret.
    #[serde(default)]
    pub tsig_secret_file: Option<PathBuf>,
}

/// `hmac-sha256`, the algorithm that `tsig-keygen` uses by default (BIND 9.18).
pub fn default_tsig_algorithm() -> TsigAlgorithmName {
    TsigAlgorithmName::HmacSha256
}

/// A TSIG MAC algorithm that hickory-proto 0.26 can compute.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum TsigAlgorithmName {
    /// HMAC with SHA-256.
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// HMAC with SHA-384.
    #[serde(rename = "hmac-sha384")]
    HmacSha384,
    /// HMAC with SHA-512.
    #[serde(rename = "hmac-sha512")]
    HmacSha512,
}

impl TsigAlgorithmName {
    /// Returns the name used in configuration files and by BIND.
    pub fn as_str(self) -> &'static str {
        match self {
            TsigAlgorithmName::HmacSha256 => "hmac-sha256",
            TsigAlgorithmName::HmacSha384 => "hmac-sha384",
            TsigAlgorithmName::HmacSha512 => "hmac-sha512",
        }
    }
}

/// A secret string that is zeroed on drop and printed as `***` by `Debug`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// Returns the secret value. Callers must not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Serialises as `***`, so printed configurations never show the secret.
impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Reads the `nameserver` addresses of a resolv.conf text, with port 53.
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next())
                .flatten()
        })
        // A zone index such as `fe80::1%eth0` is not supported by `IpAddr`; such lines are skipped.
        .filter_map(|address| address.parse().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_defaults_apply() {
        let config: ValidationConfig = toml::from_str("").unwrap();
        assert_eq!(config, ValidationConfig::default());
        assert_eq!(config.token_lifetime, Duration::from_secs(259_200));
    }

    #[test]
    fn validation_parses_durations() {
        let config: ValidationConfig = toml::from_str(
            "dns_servers = [\"127.0.0.1:5353\"]\nrecheck_interval = \"10s\"\ntoken_lifetime = \"3d\"\ntotal_timeout = \"1m\"",
        )
        .unwrap();
        assert_eq!(config.dns_servers, ["127.0.0.1:5353".parse().unwrap()]);
        assert_eq!(config.recheck_interval, Duration::from_secs(10));
        assert_eq!(config.total_timeout, Duration::from_secs(60));
    }

    #[test]
    fn validation_rejects_unknown_keys() {
        let error = toml::from_str::<ValidationConfig>("http_prot = 80").unwrap_err();
        assert!(error.to_string().contains("unknown field"), "{error}");
    }

    #[test]
    fn dns_auto_zone_parses() {
        let config: DnsAutoConfig = toml::from_str(
            "[[zones]]\nzone = \"example.test\"\nserver = \"127.0.0.1:53\"\ntsig_key_name = \"k\"\ntsig_secret = \"c2VjcmV0\"\n",
        )
        .unwrap();
        let zone = &config.zones[0];
        assert_eq!(zone.tsig_algorithm, TsigAlgorithmName::HmacSha256);
        assert_eq!(
            zone.tsig_secret.as_ref().map(Secret::expose),
            Some("c2VjcmV0")
        );
    }

    #[test]
    fn secret_debug_is_masked() {
        let zone = DnsAutoZone {
            zone: "example.test".into(),
            server: "127.0.0.1:53".parse().unwrap(),
            tsig_key_name: "k".into(),
            tsig_algorithm: TsigAlgorithmName::HmacSha512,
            tsig_secret: Some(Secret::new("c2VjcmV0")),
            tsig_secret_file: None,
        };
        let printed = format!("{zone:?}");
        assert!(!printed.contains("c2VjcmV0"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
    }

    #[test]
    fn resolv_conf_nameservers() {
        let servers = parse_resolv_conf(
            "# comment\nsearch example\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n",
        );
        assert_eq!(
            servers,
            [
                "192.0.2.53:53".parse().unwrap(),
                "[2001:db8::53]:53".parse().unwrap()
            ]
        );
    }
}
