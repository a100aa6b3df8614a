//! Settings: a TOML file, then environment variables, then command-line flags.
//!
//! Unknown keys are rejected so that a misspelt setting fails at start-up instead of being
//! ignored. `certkeeper config check --config FILE` prints the effective settings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certkeeper_core::{KeyAlgorithm, Product, ProductCatalogue};
use serde::{Deserialize, Serialize};

/// Environment variable that overrides `data_dir`.
pub const ENV_DATA_DIR: &str = "CERTKEEPER_DATA_DIR";
/// Environment variable that overrides `listen`.
pub const ENV_LISTEN: &str = "CERTKEEPER_LISTEN";
/// Environment variable that overrides `public_url`.
pub const ENV_PUBLIC_URL: &str = "CERTKEEPER_PUBLIC_URL";
/// Environment variable holding the master key as 64 hex digits, instead of the key file.
pub const ENV_MASTER_KEY: &str = "CERTKEEPER_MASTER_KEY";

/// All settings.
///
/// # Defaults
/// - `data_dir`: `./certkeeper-data`
/// - `listen`: `127.0.0.1:8080`
/// - `public_url`: `http://` followed by `listen`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Directory holding the database, the master key file and generated files.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Address the HTTP listener binds.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Base of every URL written into certificates (OCSP, caIssuers, CRL). Set it to the
    /// address clients reach certkeeper at.
    #[serde(default)]
    pub public_url: Option<String>,
    #[serde(default)]
    pub ca: CaSettings,
    #[serde(default)]
    pub http: HttpSettings,
    /// Domain validation: resolvers, ports, timeouts, recheck schedule and token lifetime.
    #[serde(default)]
    pub validation: certkeeper_va::ValidationConfig,
    /// Zones whose validation records certkeeper writes itself (RFC 2136 with TSIG).
    #[serde(default)]
    pub dns_auto: certkeeper_va::DnsAutoConfig,
    /// Product catalogue; when absent, the built-in default catalogue.
    #[serde(default)]
    pub products: Option<Vec<Product>>,
    /// Expiry notices, email and webhook channels, and the job runner's retry schedule.
    #[serde(default)]
    pub notify: certkeeper_notify::NotifyConfig,
    /// Automatic renewal before expiry.
    #[serde(default)]
    pub renewal: RenewalSettings,
    /// Uploads of certificates issued elsewhere.
    #[serde(default)]
    pub upload: UploadSettings,
    /// Lifetimes and schedule of CRLs and OCSP responses.
    #[serde(default)]
    pub publish: PublishConfig,
}

/// The `[publish]` section: CRLs and OCSP responses.
///
/// # Defaults
/// `crl_validity_hours = 24`, `ocsp_validity_hours = 24`, and 3600 seconds (or half the
/// validity, whichever is less) for `crl_rebuild_interval_seconds` and
/// `ocsp_refresh_after_seconds`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// Seconds after which a CRL is rebuilt even without revocations (60 or more, and below
    /// the CRL validity). A revocation rebuilds its CRL within seconds either way. When unset,
    /// 3600 or half the CRL validity, whichever is less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl_rebuild_interval_seconds: Option<u64>,
    /// nextUpdate − thisUpdate of each CRL, in hours (1 to 240; the Baseline Requirements
    /// allow at most 10 days).
    #[serde(default = "default_validity_hours")]
    pub crl_validity_hours: u64,
    /// nextUpdate − thisUpdate of each OCSP response, in hours (8 to 240, as the Baseline
    /// Requirements require).
    #[serde(default = "default_validity_hours")]
    pub ocsp_validity_hours: u64,
    /// Age in seconds after which a cached OCSP response is signed again on the next request
    /// (60 or more, and below the OCSP validity). When unset, 3600 or half the OCSP validity,
    /// whichever is less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocsp_refresh_after_seconds: Option<u64>,
}

impl Default for PublishConfig {
    fn default() -> Self {
        PublishConfig {
            crl_rebuild_interval_seconds: None,
            crl_validity_hours: default_validity_hours(),
            ocsp_validity_hours: default_validity_hours(),
            ocsp_refresh_after_seconds: None,
        }
    }
}

impl PublishConfig {
    /// Returns the CRL rebuild interval in seconds, with the default derived from the validity.
    fn crl_rebuild_interval(&self) -> u64 {
        self.crl_rebuild_interval_seconds.unwrap_or(DEFAULT_REFRESH_SECONDS.min(self.crl_validity_hours * 3600 / 2))
    }

    /// Returns the OCSP refresh age in seconds, with the default derived from the validity.
    fn ocsp_refresh_after(&self) -> u64 {
        self.ocsp_refresh_after_seconds.unwrap_or(DEFAULT_REFRESH_SECONDS.min(self.ocsp_validity_hours * 3600 / 2))
    }

    /// Returns the publisher settings: these values over the publisher's defaults.
    pub fn publish_settings(&self) -> certkeeper_publish::PublishSettings {
        const HOUR: u64 = 3600;
        certkeeper_publish::PublishSettings {
            crl_rebuild_interval: Duration::from_secs(self.crl_rebuild_interval()),
            crl_validity: Duration::from_secs(self.crl_validity_hours * HOUR),
            ocsp_validity: Duration::from_secs(self.ocsp_validity_hours * HOUR),
            ocsp_refresh_after: Duration::from_secs(self.ocsp_refresh_after()),
            ..certkeeper_publish::PublishSettings::default()
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, value: u64, fix: &str| ConfigError::invalid(format!("publish.{key}"), value, fix);
        if !(1..=240).contains(&self.crl_validity_hours) {
            return Err(invalid("crl_validity_hours", self.crl_validity_hours, "give 1 to 240 hours"));
        }
        let crl_validity_seconds = self.crl_validity_hours * 3600;
        if let Some(interval) = self.crl_rebuild_interval_seconds
            && (interval < 60 || interval >= crl_validity_seconds)
        {
            let fix = format!("give 60 to {} seconds, less than crl_validity_hours", crl_validity_seconds - 1);
            return Err(invalid("crl_rebuild_interval_seconds", interval, &fix));
        }
        if !(8..=240).contains(&self.ocsp_validity_hours) {
            return Err(invalid("ocsp_validity_hours", self.ocsp_validity_hours, "give 8 to 240 hours"));
        }
        let ocsp_validity_seconds = self.ocsp_validity_hours * 3600;
        if let Some(age) = self.ocsp_refresh_after_seconds
            && (age < 60 || age >= ocsp_validity_seconds)
        {
            let fix = format!("give 60 to {} seconds, less than ocsp_validity_hours", ocsp_validity_seconds - 1);
            return Err(invalid("ocsp_refresh_after_seconds", age, &fix));
        }
        Ok(())
    }
}

/// Default CRL rebuild interval and OCSP refresh age, in seconds, unless half the validity is
/// shorter.
const DEFAULT_REFRESH_SECONDS: u64 = 3600;

fn default_validity_hours() -> u64 {
    24
}

/// The `[upload]` section: certificates issued elsewhere.
///
/// # Defaults
/// `fetch_aia = false`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadSettings {
    /// Fetch an intermediate missing from an upload from the caIssuers URL of the certificate
    /// below it, under the address and redirect rules of `[validation]` file checks. Off by
    /// default, because it makes certkeeper send requests to addresses an uploader chooses.
    #[serde(default)]
    pub fetch_aia: bool,
}

/// The `[renewal]` section: automatic renewal of certificates with AutoRenewFlag or a
/// multi-year term.
///
/// # Defaults
/// `auto_window_days = 30`, `check_interval_seconds = 3600`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalSettings {
    /// Days before notAfter from which a certificate renews itself (1 to 30). A certificate
    /// whose lifetime is shorter than twice this renews at half its lifetime.
    #[serde(default = "default_auto_window_days")]
    pub auto_window_days: u32,
    /// Seconds between automatic renewal passes.
    #[serde(default = "default_renewal_check_interval_seconds")]
    pub check_interval_seconds: u64,
}

/// The `[ca]` section.
///
/// # Defaults
/// `key_algorithm = "ecdsa-p256"`, `country = "US"`, `organization = "certkeeper"`, root CN
/// `certkeeper Root CA`, intermediate CN `certkeeper Issuing CA`, `root_days = 9131` (25 years),
/// `intermediate_days = 1826` (5 years), `master_key_file` = `<data_dir>/master.key`,
/// `crl_shards = 16`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSettings {
    /// Key algorithm of the root and the intermediate created on first start: `ecdsa-p256`,
    /// `ecdsa-p384`, `rsa2048`, `rsa3072` or `rsa4096`.
    #[serde(default = "default_ca_key_algorithm")]
    pub key_algorithm: KeyAlgorithm,
    #[serde(default = "default_country")]
    pub country: String,
    #[serde(default = "default_organization")]
    pub organization: String,
    #[serde(default = "default_root_common_name")]
    pub root_common_name: String,
    #[serde(default = "default_intermediate_common_name")]
    pub intermediate_common_name: String,
    #[serde(default = "default_root_days")]
    pub root_days: u32,
    #[serde(default = "default_intermediate_days")]
    pub intermediate_days: u32,
    /// File holding the master key (64 hex digits, mode 0600); created on first start.
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// CRL partitions per issuer; a certificate's distribution point names the shard of its
    /// serial. Changing it later changes only the URLs of certificates issued afterwards.
    #[serde(default = "default_crl_shards")]
    pub crl_shards: u32,
    /// Issuer domain names that CAA `issue` records must list for certkeeper to issue
    /// (RFC 8659). Default: the host name of `public_url`.
    #[serde(default)]
    pub caa_identities: Vec<String>,
}

/// The `[http]` section.
///
/// # Defaults
/// `shutdown_grace_seconds = 30`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// How long a shutdown waits for in-flight requests before closing anyway.
    #[serde(default = "default_shutdown_grace_seconds")]
    pub shutdown_grace_seconds: u64,
}

/// Default data directory, relative to the working directory.
fn default_data_dir() -> PathBuf {
    PathBuf::from("certkeeper-data")
}

/// Default listen address: loopback only, so a first start exposes nothing.
fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

/// ECDSA P-256: the fastest signing key that every current TLS client accepts.
fn default_ca_key_algorithm() -> KeyAlgorithm {
    KeyAlgorithm::EcdsaP256
}

/// Placeholder country; operators set their own.
fn default_country() -> String {
    "US".to_owned()
}

fn default_organization() -> String {
    "certkeeper".to_owned()
}

fn default_root_common_name() -> String {
    "certkeeper Root CA".to_owned()
}

fn default_intermediate_common_name() -> String {
    "certkeeper Issuing CA".to_owned()
}

/// 25 years, the upper end of root lifetimes in current root programs.
fn default_root_days() -> u32 {
    9131
}

/// 5 years, long enough to outlive every leaf it signs (at most 398 days) several times over.
fn default_intermediate_days() -> u32 {
    1826
}

/// 16 shards keep each CRL at 1/16 of the revocations.
fn default_crl_shards() -> u32 {
    16
}

fn default_shutdown_grace_seconds() -> u64 {
    30
}

/// 30 days, the window in which the Tencent API offers renewal of a certificate.
fn default_auto_window_days() -> u32 {
    30
}

/// One hour: a renewal window is days long, so hourly passes lose nothing.
fn default_renewal_check_interval_seconds() -> u64 {
    3600
}

impl Default for RenewalSettings {
    fn default() -> Self {
        RenewalSettings {
            auto_window_days: default_auto_window_days(),
            check_interval_seconds: default_renewal_check_interval_seconds(),
        }
    }
}

impl Default for CaSettings {
    fn default() -> Self {
        CaSettings {
            key_algorithm: default_ca_key_algorithm(),
            country: default_country(),
            organization: default_organization(),
            root_common_name: default_root_common_name(),
            intermediate_common_name: default_intermediate_common_name(),
            root_days: default_root_days(),
            intermediate_days: default_intermediate_days(),
            master_key_file: None,
            crl_shards: default_crl_shards(),
            caa_identities: Vec::new(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { shutdown_grace_seconds: default_shutdown_grace_seconds() }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: default_data_dir(),
            listen: default_listen(),
            public_url: None,
            ca: CaSettings::default(),
            http: HttpSettings::default(),
            validation: certkeeper_va::ValidationConfig::default(),
            dns_auto: certkeeper_va::DnsAutoConfig::default(),
            products: None,
            renewal: RenewalSettings::default(),
            notify: certkeeper_notify::NotifyConfig::default(),
            upload: UploadSettings::default(),
            publish: PublishConfig::default(),
        }
    }
}

/// Values given on the command line, applied last.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
}

/// A setting that cannot be used, with the file or key at fault and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The I/O error is part of the message and not a `source`, so reports do not repeat it.
    #[error("cannot read the configuration file {}: {error}", path.display())]
    Read { path: PathBuf, error: std::io::Error },
    #[error("the configuration file {} is invalid: {detail}", path.display())]
    Parse { path: PathBuf, detail: String },
    #[error("{} is invalid: {fix}", setting(key, value))]
    Invalid { key: String, value: String, fix: String },
}

impl ConfigError {
    /// Builds a [`ConfigError::Invalid`] for `key`. An empty `value` shows the key alone.
    fn invalid(key: impl Into<String>, value: impl ToString, fix: impl Into<String>) -> Self {
        ConfigError::Invalid { key: key.into(), value: value.to_string(), fix: fix.into() }
    }
}

/// Renders `key = value` as it would be written in the file: numbers and booleans bare, other
/// values quoted, and the key alone when there is no single value to show.
fn setting(key: &str, value: &str) -> String {
    if value.is_empty() {
        key.to_owned()
    } else if value.parse::<i64>().is_ok() || value.parse::<f64>().is_ok() || value == "true" || value == "false" {
        format!("{key} = {value}")
    } else {
        format!("{key} = {value:?}")
    }
}

/// Settings after validation, with derived values filled in.
#[derive(Clone, Debug)]
pub struct Effective {
    pub settings: Settings,
    pub listen: SocketAddr,
    pub public_url: String,
    pub catalogue: ProductCatalogue,
    pub master_key_file: PathBuf,
    /// CAA issuer domains, with the default filled in.
    pub caa_identities: Vec<String>,
}

impl Settings {
    /// Reads the TOML file, if any, then applies environment variables and flags, and validates.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Effective, ConfigError> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_owned(), error })?;
                toml::from_str::<Settings>(&text)
                    .map_err(|error| ConfigError::Parse { path: path.to_owned(), detail: error.to_string() })?
            }
            None => Settings::default(),
        };
        if let Some(value) = std::env::var_os(ENV_DATA_DIR) {
            settings.data_dir = PathBuf::from(value);
        }
        if let Ok(value) = std::env::var(ENV_LISTEN) {
            settings.listen = value;
        }
        if let Ok(value) = std::env::var(ENV_PUBLIC_URL) {
            settings.public_url = Some(value);
        }
        if let Some(value) = &overrides.data_dir {
            settings.data_dir = value.clone();
        }
        if let Some(value) = &overrides.listen {
            settings.listen = value.clone();
        }
        if let Some(value) = &overrides.public_url {
            settings.public_url = Some(value.clone());
        }
        settings.validate()
    }

    fn validate(self) -> Result<Effective, ConfigError> {
        let invalid = |key: &str, value: &str, fix: &str| ConfigError::invalid(key, value, fix);
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| invalid("listen", &self.listen, "give an IP address and port such as 127.0.0.1:8080"))?;

        let public_url = self.public_url.clone().unwrap_or_else(|| format!("http://{listen}"));
        let scheme_ok = public_url.starts_with("http://") || public_url.starts_with("https://");
        if !scheme_ok || public_url.contains(char::is_whitespace) || public_url.contains(['?', '#']) {
            return Err(invalid("public_url", &public_url, "give an http:// or https:// base URL without query or fragment"));
        }

        let ca = &self.ca;
        if ca.key_algorithm == KeyAlgorithm::Sm2 {
            return Err(invalid("ca.key_algorithm", "sm2", "SM2 CAs are not supported yet; use ecdsa-p256, ecdsa-p384, rsa2048, rsa3072 or rsa4096"));
        }
        if ca.country.len() != 2 || !ca.country.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(invalid("ca.country", &ca.country, "give a two-letter upper-case ISO 3166 country code such as US"));
        }
        if !(1..=36525).contains(&ca.root_days) {
            return Err(invalid("ca.root_days", &ca.root_days.to_string(), "give 1 to 36525 days"));
        }
        if ca.intermediate_days == 0 || ca.intermediate_days > ca.root_days {
            return Err(invalid("ca.intermediate_days", &ca.intermediate_days.to_string(), "give at least 1 day and no more than ca.root_days"));
        }
        if !(1..=4096).contains(&ca.crl_shards) {
            return Err(invalid("ca.crl_shards", &ca.crl_shards.to_string(), "give 1 to 4096 shards"));
        }
        for (key, value) in [("ca.organization", &ca.organization), ("ca.root_common_name", &ca.root_common_name), ("ca.intermediate_common_name", &ca.intermediate_common_name)] {
            if value.trim().is_empty() || value.len() > 64 {
                return Err(invalid(key, value, "give 1 to 64 characters"));
            }
        }

        if !(1..=30).contains(&self.renewal.auto_window_days) {
            return Err(invalid("renewal.auto_window_days", &self.renewal.auto_window_days.to_string(), "give 1 to 30 days"));
        }
        if self.renewal.check_interval_seconds == 0 {
            return Err(invalid("renewal.check_interval_seconds", "0", "give at least 1 second"));
        }
        self.publish.validate()?;
        validate_validation(&self.validation)?;
        // The same check `serve` makes when it loads the zones, TSIG secret files included.
        certkeeper_va::DnsAutoUpdater::new(&self.dns_auto).map_err(|error| ConfigError::invalid("dns_auto.zones", "", error.to_string()))?;

        let products = self.products.clone().unwrap_or_else(ProductCatalogue::default_products);
        let catalogue = ProductCatalogue::new(products).map_err(|error| ConfigError::Invalid {
            key: "products".to_owned(),
            value: String::new(),
            fix: error.to_string(),
        })?;
        self.notify.validate().map_err(|error| ConfigError::Invalid { key: error.key, value: error.value, fix: error.fix })?;
        let master_key_file = ca.master_key_file.clone().unwrap_or_else(|| self.data_dir.join("master.key"));
        let caa_identities = if ca.caa_identities.is_empty() {
            vec![url_host(&public_url).to_ascii_lowercase()]
        } else {
            ca.caa_identities.iter().map(|identity| identity.to_ascii_lowercase()).collect()
        };
        Ok(Effective { settings: self, listen, public_url, catalogue, master_key_file, caa_identities })
    }
}

/// Rejects `[validation]` values with which no domain could ever be validated.
fn validate_validation(validation: &certkeeper_va::ValidationConfig) -> Result<(), ConfigError> {
    let invalid = |key: &str, value: String, fix: &str| ConfigError::invalid(format!("validation.{key}"), value, fix);
    if validation.max_concurrent_checks == 0 {
        return Err(invalid("max_concurrent_checks", "0".to_owned(), "give at least 1"));
    }
    let durations = [
        ("dns_timeout", validation.dns_timeout),
        ("recheck_interval", validation.recheck_interval),
        ("token_lifetime", validation.token_lifetime),
        ("connect_timeout", validation.connect_timeout),
        ("total_timeout", validation.total_timeout),
    ];
    for (key, value) in durations {
        if value.is_zero() {
            return Err(invalid(key, duration_text(value), "give a duration above zero, such as \"10s\""));
        }
    }
    if validation.token_lifetime < validation.recheck_interval {
        let lifetime = duration_text(validation.token_lifetime);
        return Err(invalid("token_lifetime", lifetime, "give at least validation.recheck_interval, so that a token is checked before it expires"));
    }
    for (key, port) in [("http_port", validation.http_port), ("https_port", validation.https_port)] {
        if port == 0 {
            return Err(invalid(key, "0".to_owned(), "give a port from 1 to 65535"));
        }
    }
    Ok(())
}

/// Writes a duration as the configuration file accepts it: whole seconds, else milliseconds.
fn duration_text(value: Duration) -> String {
    if value.subsec_nanos() == 0 { format!("{}s", value.as_secs()) } else { format!("{}ms", value.as_millis()) }
}

/// Returns the host of an `http(s)://host[:port][/path]` URL, without brackets or port.
fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if let Some(bracketed) = authority.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or(bracketed);
    }
    authority.split(':').next().unwrap_or(authority)
}

impl Effective {
    /// Renders the effective settings as TOML, with the master key (if given by environment)
    /// shown only as set or unset.
    pub fn to_toml(&self) -> String {
        let mut settings = self.settings.clone();
        settings.public_url = Some(self.public_url.clone());
        settings.ca.master_key_file = Some(self.master_key_file.clone());
        settings.products = Some(self.catalogue.products().to_vec());
        settings.ca.caa_identities = self.caa_identities.clone();
        let body = toml::to_string_pretty(&settings).unwrap_or_else(|error| format!("# rendering failed: {error}\n"));
        let master_key = if std::env::var_os(ENV_MASTER_KEY).is_some() { "set (***)" } else { "not set" };
        let resolvers = if self.settings.validation.dns_servers.is_empty() {
            "# validation.dns_servers is empty, so serve uses the nameserver lines of /etc/resolv.conf\n"
        } else {
            ""
        };
        format!("# effective settings\n# {ENV_MASTER_KEY}: {master_key}\n{resolvers}{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Effective, ConfigError> {
        let settings: Settings = toml::from_str(text).map_err(|e| ConfigError::Parse { path: "test.toml".into(), detail: e.to_string() })?;
        settings.validate()
    }

    #[test]
    fn defaults_are_valid() {
        let effective = parse("").unwrap();
        assert_eq!(effective.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(effective.public_url, "http://127.0.0.1:8080");
        assert_eq!(effective.master_key_file, PathBuf::from("certkeeper-data/master.key"));
    }

    #[test]
    fn caa_identity_defaults_to_public_url_host() {
        let effective = parse("public_url = \"https://PKI.example.test:8443/base\"").unwrap();
        assert_eq!(effective.caa_identities, ["pki.example.test"]);
        let effective = parse("[ca]\ncaa_identities = [\"ca.example.net\"]").unwrap();
        assert_eq!(effective.caa_identities, ["ca.example.net"]);
    }

    #[test]
    fn unknown_key_is_rejected() {
        let error = parse("listne = \"127.0.0.1:1\"").unwrap_err().to_string();
        assert!(error.contains("unknown field `listne`"), "{error}");
        let error = parse("[ca]\nkey_algorthm = \"rsa2048\"").unwrap_err().to_string();
        assert!(error.contains("key_algorthm"), "{error}");
    }

    #[test]
    fn notify_section_is_checked_and_masked() {
        let error = parse("[notify]\nscan_intervall = \"1h\"").unwrap_err().to_string();
        assert!(error.contains("scan_intervall"), "{error}");
        let error = parse("[notify]\nexpiry_thresholds = [500]").unwrap_err().to_string();
        assert!(error.contains("notify.expiry_thresholds"), "{error}");

        let text = "[notify.smtp]\nhost = \"mail.example.com\"\nfrom = \"pki@example.com\"\nusername = \"pki\"\npassword = \"smtp-password-value\"\n\
                    [notify.webhook]\nurls = [\"https://hooks.example.com/certkeeper\"]\nsecret = \"webhook-secret-value\"\n";
        let printed = parse(text).unwrap().to_toml();
        assert!(printed.contains("serve uses the nameserver lines of /etc/resolv.conf"), "{printed}");
        assert!(!printed.contains("smtp-password-value"), "{printed}");
        assert!(!printed.contains("webhook-secret-value"), "{printed}");
        assert!(printed.contains("[notify.smtp]"), "{printed}");
    }

    #[test]
    fn impossible_values_are_rejected() {
        let error = parse("[ca]\nkey_algorithm = \"dsa\"").unwrap_err().to_string();
        assert!(error.contains("dsa"), "{error}");
        let error = parse("listen = \"localhost\"").unwrap_err().to_string();
        assert!(error.contains("listen = \"localhost\""), "{error}");
        let products = "[[products]]\nid = 9\nname = \"Long\"\nlevel = \"dv\"\nkey_algorithms = [\"rsa2048\"]\nvalidity_days = 500\nrevocation_policy = \"domain-validation\"\n";
        let error = parse(products).unwrap_err().to_string();
        assert!(error.contains("validity_days = 500"), "{error}");
        assert!(error.contains("398"), "{error}");
    }

    #[test]
    fn renewal_bounds_are_checked() {
        let effective = parse("").unwrap();
        assert_eq!(effective.settings.renewal.auto_window_days, 30);
        assert_eq!(effective.settings.renewal.check_interval_seconds, 3600);
        let error = parse("[renewal]
auto_window_days = 31").unwrap_err().to_string();
        assert!(error.contains("renewal.auto_window_days"), "{error}");
        assert!(error.contains("1 to 30 days"), "{error}");
        let error = parse("[renewal]
check_interval_seconds = 0").unwrap_err().to_string();
        assert!(error.contains("renewal.check_interval_seconds"), "{error}");
        let error = parse("[renewal]
window = 3").unwrap_err().to_string();
        assert!(error.contains("window"), "{error}");
    }

    #[test]
    fn validation_values_that_stop_checks_are_rejected() {
        let cases = [
            ("max_concurrent_checks = 0", "validation.max_concurrent_checks = 0"),
            ("token_lifetime = \"0s\"", "validation.token_lifetime = \"0s\""),
            ("recheck_interval = \"0s\"", "validation.recheck_interval"),
            ("dns_timeout = \"0s\"", "validation.dns_timeout"),
            ("total_timeout = \"0s\"", "validation.total_timeout"),
            ("http_port = 0", "validation.http_port = 0"),
            ("token_lifetime = \"5s\"\nrecheck_interval = \"10s\"", "validation.token_lifetime = \"5s\""),
        ];
        for (body, shown) in cases {
            let error = parse(&format!("[validation]\n{body}\n")).unwrap_err().to_string();
            assert!(error.contains(shown), "{body}: {error}");
        }
        let zone = "[[dns_auto.zones]]\nzone = \"auto.example\"\nserver = \"127.0.0.1:53\"\ntsig_key_name = \"certkeeper\"\n";
        let error = parse(zone).unwrap_err().to_string();
        assert!(error.contains("dns_auto.zones"), "{error}");
        assert!(error.contains("set exactly one of tsig_secret and tsig_secret_file"), "{error}");
        let missing_file = format!("{zone}tsig_secret_file = \"/nonexistent/certkeeper.key\"\n");
        let error = parse(&missing_file).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/certkeeper.key"), "{error}");
    }

    #[test]
    fn error_shows_values_as_written() {
        let error = parse("[ca]\ncrl_shards = 0").unwrap_err().to_string();
        assert!(error.contains("ca.crl_shards = 0 is invalid"), "{error}");
        let error = parse("listen = \"localhost\"").unwrap_err().to_string();
        assert!(error.contains("listen = \"localhost\" is invalid"), "{error}");
        let error = parse("products = []").unwrap_err().to_string();
        assert!(error.starts_with("products is invalid"), "{error}");
    }

    #[test]
    fn publish_settings_and_bounds() {
        let defaults = parse("").unwrap().settings.publish.publish_settings();
        assert_eq!(defaults, certkeeper_publish::PublishSettings::default());

        let text = "[publish]\ncrl_rebuild_interval_seconds = 600\ncrl_validity_hours = 48\nocsp_validity_hours = 96\nocsp_refresh_after_seconds = 7200\n";
        let settings = parse(text).unwrap().settings.publish.publish_settings();
        assert_eq!(settings.crl_rebuild_interval, Duration::from_secs(600));
        assert_eq!(settings.crl_validity, Duration::from_secs(48 * 3600));
        assert_eq!(settings.ocsp_validity, Duration::from_secs(96 * 3600));
        assert_eq!(settings.ocsp_refresh_after, Duration::from_secs(7200));

        let cases = [
            ("crl_validity_hours = 241", "publish.crl_validity_hours", "1 to 240 hours"),
            ("crl_validity_hours = 0", "publish.crl_validity_hours", "1 to 240 hours"),
            ("crl_rebuild_interval_seconds = 59", "publish.crl_rebuild_interval_seconds = 59", "give 60 to 86399 seconds"),
            ("crl_validity_hours = 1\ncrl_rebuild_interval_seconds = 3600", "publish.crl_rebuild_interval_seconds", "give 60 to 3599 seconds"),
            ("ocsp_validity_hours = 7", "publish.ocsp_validity_hours = 7", "8 to 240 hours"),
            ("ocsp_refresh_after_seconds = 86400", "publish.ocsp_refresh_after_seconds", "less than ocsp_validity_hours"),
            ("crl_interval = 5", "crl_interval", "unknown field"),
        ];
        // An unset interval follows a short validity instead of failing against it.
        let short = parse("[publish]\ncrl_validity_hours = 1\nocsp_validity_hours = 8\n").unwrap().settings.publish.publish_settings();
        assert_eq!(short.crl_rebuild_interval, Duration::from_secs(1800));
        assert_eq!(short.ocsp_refresh_after, Duration::from_secs(3600));

        for (body, key, fix) in cases {
            let error = parse(&format!("[publish]\n{body}\n")).unwrap_err().to_string();
            assert!(error.contains(key), "{body}: {error}");
            assert!(error.contains(fix), "{body}: {error}");
        }
    }
}
