//! The `[notify]` settings: expiry thresholds, the scan and retry schedule, and the channels.

use std::fmt;
use std::time::Duration;

use certkeeper_core::ExpiryThresholds;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Notification settings.
///
/// # Defaults
/// `expiry_thresholds = [30, 15, 7, 3, 1]` (days), `scan_interval = "1h"`, `poll_interval =
/// "1s"`, `max_attempts = 10`, `retry_base = "30s"`, `retry_max = "1h"`, `lease = "5m"`; no
/// SMTP server and no webhook, so notices are recorded but not delivered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Days before notAfter at which accounts without their own list get an expiry notice.
    #[serde(default = "default_expiry_thresholds")]
    pub expiry_thresholds: Vec<u32>,
    /// Time between expiry scans.
    #[serde(default = "default_scan_interval", with = "humantime_serde")]
    pub scan_interval: Duration,
    /// Time between polls of the jobs table.
    #[serde(default = "default_poll_interval", with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Attempts of a delivery before it is given up and marked dead.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Delay after the first failed attempt; it doubles with each further failure.
    #[serde(default = "default_retry_base", with = "humantime_serde")]
    pub retry_base: Duration,
    /// Maximum delay between two attempts.
    #[serde(default = "default_retry_max", with = "humantime_serde")]
    pub retry_max: Duration,
    /// How long a claimed job stays leased to this process. A job still running when its lease
    /// ends is stopped, counted as failed, and may be claimed by another process.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// Email over SMTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpConfig>,
    /// JSON POSTs signed with HMAC-SHA256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookConfig>,
}

/// Connection security of the SMTP client.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS, which must succeed (RFC 3207), default port 587.
    Starttls,
    /// TLS from the first byte (RFC 8314 implicit TLS), default port 465.
    Tls,
    /// No encryption, default port 25. Accepted only for a loopback host.
    Plain,
}

/// The `[notify.smtp]` section.
///
/// # Defaults
/// `security = "starttls"`, `port` by security (587, 465 or 25), `timeout = "10s"`, no
/// credentials, no default recipients, no CA file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name of the SMTP server; with TLS it must match the server's certificate.
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: SmtpSecurity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Sender address, such as `certkeeper <pki@example.com>`.
    pub from: String,
    /// Recipients of notices for accounts that set no address of their own, and of notices
    /// that belong to no account.
    #[serde(default)]
    pub to: Vec<String>,
    /// Limit for one delivery: connecting, TLS and every SMTP command together.
    #[serde(default = "default_channel_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// PEM file of CA certificates trusted for the SMTP server in addition to the Mozilla roots
    /// of webpki-roots, for a server with a certificate from a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<std::path::PathBuf>,
}

/// The `[notify.webhook]` section.
///
/// # Defaults
/// `timeout = "10s"`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// URLs that receive every event, `http://` or `https://`.
    pub urls: Vec<String>,
    /// Key of the HMAC-SHA256 signature in `X-Certkeeper-Signature`; at least 16 bytes.
    pub secret: Secret,
    /// Limit for one POST, connection included.
    #[serde(default = "default_channel_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

/// Shortest webhook secret accepted, in bytes.
pub const MIN_WEBHOOK_SECRET_BYTES: usize = 16;

/// Five reminders that come closer together as expiry nears; each account may set its own.
fn default_expiry_thresholds() -> Vec<u32> {
    certkeeper_core::expiry::DEFAULT_THRESHOLDS.to_vec()
}

/// Hourly: a notice is at most an hour late, and a scan of a million certificates takes well
/// under a second (see BENCHMARKS.md).
fn default_scan_interval() -> Duration {
    Duration::from_secs(3600)
}

fn default_poll_interval() -> Duration {
    Duration::from_secs(1)
}

/// Ten attempts with doubling delays from 30 s, capped at one hour, span about three hours.
fn default_max_attempts() -> u32 {
    10
}

fn default_retry_base() -> Duration {
    Duration::from_secs(30)
}

fn default_retry_max() -> Duration {
    Duration::from_secs(3600)
}

/// Far longer than a delivery, which the channels limit to their 10 s default timeout.
fn default_lease() -> Duration {
    Duration::from_secs(300)
}

fn default_security() -> SmtpSecurity {
    SmtpSecurity::Starttls
}

fn default_channel_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            expiry_thresholds: default_expiry_thresholds(),
            scan_interval: default_scan_interval(),
            poll_interval: default_poll_interval(),
            max_attempts: default_max_attempts(),
            retry_base: default_retry_base(),
            retry_max: default_retry_max(),
            lease: default_lease(),
            smtp: None,
            webhook: None,
        }
    }
}

/// A `[notify]` value that cannot be used, with the key, the value and the fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{key} = {value:?} is invalid: {fix}")]
pub struct NotifyConfigError {
    pub key: String,
    pub value: String,
    pub fix: String,
}

impl NotifyConfig {
    /// Checks every value and returns the default thresholds.
    pub fn validate(&self) -> Result<ExpiryThresholds, NotifyConfigError> {
        let invalid = |key: &str, value: String, fix: String| NotifyConfigError { key: key.to_owned(), value, fix };
        let thresholds = ExpiryThresholds::new(&self.expiry_thresholds)
            .map_err(|error| invalid("notify.expiry_thresholds", format!("{:?}", self.expiry_thresholds), error.to_string()))?;
        for (key, value, minimum) in [
            ("notify.scan_interval", self.scan_interval, Duration::from_secs(1)),
            ("notify.poll_interval", self.poll_interval, Duration::from_millis(10)),
            ("notify.retry_base", self.retry_base, Duration::from_secs(1)),
            ("notify.retry_max", self.retry_max, self.retry_base),
            ("notify.lease", self.lease, Duration::from_secs(10)),
        ] {
            if value < minimum {
                let text = humantime_serde::re::humantime::format_duration(value).to_string();
                return Err(invalid(key, text, format!("give at least {}", humantime_serde::re::humantime::format_duration(minimum))));
            }
        }
        if !(1..=100).contains(&self.max_attempts) {
            return Err(invalid("notify.max_attempts", self.max_attempts.to_string(), "give 1 to 100".to_owned()));
        }
        if let Some(smtp) = &self.smtp {
            smtp.validate()?;
        }
        if let Some(webhook) = &self.webhook {
            webhook.validate()?;
        }
        Ok(thresholds)
    }

    /// Returns the scan interval in whole seconds, at least 1.
    pub fn scan_interval_seconds(&self) -> i64 {
        i64::try_from(self.scan_interval.as_secs()).unwrap_or(i64::MAX).max(1)
    }
}

impl SmtpConfig {
    /// Returns the configured port or the default of the security mode.
    pub fn effective_port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            SmtpSecurity::Starttls => 587,
            SmtpSecurity::Tls => 465,
            SmtpSecurity::Plain => 25,
        })
    }

    fn validate(&self) -> Result<(), NotifyConfigError> {
        let invalid = |key: &str, value: &str, fix: &str| NotifyConfigError { key: key.to_owned(), value: value.to_owned(), fix: fix.to_owned() };
        if self.host.trim().is_empty() || self.host.contains(char::is_whitespace) {
            return Err(invalid("notify.smtp.host", &self.host, "give the host name of the SMTP server"));
        }
        if self.security == SmtpSecurity::Plain && !is_loopback_host(&self.host) {
            return Err(invalid(
                "notify.smtp.host",
                &self.host,
                "security = \"plain\" sends mail and credentials unencrypted and is accepted only for 127.0.0.1, ::1 or localhost; use \"starttls\" or \"tls\"",
            ));
        }
        if self.username.is_some() != self.password.is_some() {
            return Err(invalid("notify.smtp.username", self.username.as_deref().unwrap_or(""), "set both username and password, or neither"));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(invalid("notify.smtp.from", &self.from, "give an address such as certkeeper <pki@example.com>"));
        }
        if let Some(bad) = self.to.iter().find(|to| to.parse::<lettre::message::Mailbox>().is_err()) {
            return Err(invalid("notify.smtp.to", bad, "give addresses such as ops@example.com"));
        }
        if self.timeout < Duration::from_secs(1) {
            return Err(invalid("notify.smtp.timeout", &format!("{:?}", self.timeout), "give at least 1s"));
        }
        if let Some(path) = &self.ca_file {
            if self.security == SmtpSecurity::Plain {
                return Err(invalid("notify.smtp.ca_file", &path.display().to_string(), "remove it, or use security = \"starttls\" or \"tls\""));
            }
            if !path.is_file() {
                return Err(invalid("notify.smtp.ca_file", &path.display().to_string(), "give an existing PEM file of CA certificates"));
            }
        }
        Ok(())
    }
}

impl WebhookConfig {
    fn validate(&self) -> Result<(), NotifyConfigError> {
        let invalid = |key: &str, value: &str, fix: &str| NotifyConfigError { key: key.to_owned(), value: value.to_owned(), fix: fix.to_owned() };
        if self.urls.is_empty() {
            return Err(invalid("notify.webhook.urls", "[]", "give at least one http:// or https:// URL, or remove [notify.webhook]"));
        }
        for url in &self.urls {
            let parsed = reqwest::Url::parse(url).map_err(|_| invalid("notify.webhook.urls", url, "give an absolute http:// or https:// URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(invalid("notify.webhook.urls", url, "give an absolute http:// or https:// URL"));
            }
        }
        if self.secret.expose().len() < MIN_WEBHOOK_SECRET_BYTES {
            return Err(invalid("notify.webhook.secret", "***", "give at least 16 bytes, such as the output of `openssl rand -hex 32`"));
        }
        if self.timeout < Duration::from_secs(1) {
            return Err(invalid("notify.webhook.timeout", &format!("{:?}", self.timeout), "give at least 1s"));
        }
        Ok(())
    }
}

/// Returns true when `text` is a plain email address such as `ops@example.com`.
pub fn is_email_address(text: &str) -> bool {
    text.parse::<lettre::Address>().is_ok()
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A secret string that is zeroed on drop and printed as `***` by `Debug` and `Serialize`.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NotifyConfig, String> {
        toml::from_str::<NotifyConfig>(text).map_err(|error| error.to_string())
    }

    #[test]
    fn defaults_are_valid() {
        let config = parse("").unwrap();
        assert_eq!(config, NotifyConfig::default());
        assert_eq!(config.validate().unwrap().days(), [30, 15, 7, 3, 1]);
    }

    #[test]
    fn unknown_key_is_rejected() {
        let error = parse("[smtp]\nhost = \"mail.example.com\"\nfrom = \"a@example.com\"\npasword = \"x\"\n").unwrap_err();
        assert!(error.contains("pasword"), "{error}");
    }

    #[test]
    fn plain_smtp_needs_loopback() {
        let config = parse("[smtp]\nhost = \"mail.example.com\"\nsecurity = \"plain\"\nfrom = \"a@example.com\"\n").unwrap();
        let error = config.validate().unwrap_err();
        assert_eq!(error.key, "notify.smtp.host");
        let config = parse("[smtp]\nhost = \"127.0.0.1\"\nsecurity = \"plain\"\nfrom = \"a@example.com\"\n").unwrap();
        assert!(config.validate().is_ok());
        assert_eq!(config.smtp.unwrap().effective_port(), 25);
    }

    #[test]
    fn secrets_are_masked() {
        let text = "[smtp]\nhost = \"mail.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\npassword = \"hunter2-smtp\"\n\
                    [webhook]\nurls = [\"https://hooks.example.com/x\"]\nsecret = \"0123456789abcdef-webhook\"\n";
        let config = parse(text).unwrap();
        config.validate().unwrap();
        let printed = toml::to_string(&config).unwrap();
        assert!(!printed.contains("hunter2-smtp"), "{printed}");
        assert!(!printed.contains("0123456789abcdef-webhook"), "{printed}");
        assert!(printed.contains("\"***\""), "{printed}");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2-smtp"), "{debug}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let cases = [
            ("expiry_thresholds = [0]", "notify.expiry_thresholds"),
            ("max_attempts = 0", "notify.max_attempts"),
            ("[smtp]\nhost = \"m.example.com\"\nfrom = \"not an address\"\n", "notify.smtp.from"),
            ("[smtp]\nhost = \"m.example.com\"\nfrom = \"a@example.com\"\nusername = \"u\"\n", "notify.smtp.username"),
            ("[webhook]\nurls = [\"ftp://x.example.com/\"]\nsecret = \"0123456789abcdef\"\n", "notify.webhook.urls"),
            ("[webhook]\nurls = [\"https://x.example.com/\"]\nsecret = \"short\"\n", "notify.webhook.secret"),
        ];
        for (text, key) in cases {
            let error = parse(text).unwrap().validate().unwrap_err();
            assert_eq!(error.key, key, "{text}");
        }
    }
}
