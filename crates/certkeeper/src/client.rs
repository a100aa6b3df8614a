//! `certkeeper client`: a command-line client of the Tencent Cloud compatible `ssl` API, for
//! certkeeper or any server that speaks it.
//!
//! Requests are JSON `POST /` calls signed with TC3-HMAC-SHA256, built from the same functions
//! the server uses to verify signatures.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use serde_json::{Value, json};

/// Environment variable with the SecretId, as the Tencent Cloud SDKs and tccli read it.
const SECRET_ID_VARIABLE: &str = "TENCENTCLOUD_SECRET_ID";
/// Environment variable with the SecretKey.
const SECRET_KEY_VARIABLE: &str = "TENCENTCLOUD_SECRET_KEY";
/// Profile file under the home directory.
const DEFAULT_PROFILE: &str = ".certkeeper/profile.toml";
/// Time limit of one API call.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Page size of `client list`; DescribeCertificates returns at most 1000 per call.
const LIST_PAGE_SIZE: u64 = 1000;

/// Options shared by every client command.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// API endpoint, such as http://127.0.0.1:8080. A value without a scheme uses HTTPS.
    /// Default: `endpoint` from the profile file.
    #[arg(long, global = true, value_name = "URL")]
    endpoint: Option<String>,
    /// Profile file with `secret_id`, `secret_key` and `endpoint`. Default:
    /// ~/.certkeeper/profile.toml. TENCENTCLOUD_SECRET_ID and TENCENTCLOUD_SECRET_KEY override
    /// its credentials.
    #[arg(long, global = true, value_name = "FILE")]
    profile: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Apply for a free DV certificate and print the record or file to publish.
    Apply {
        /// Domain to certify.
        domain: String,
        #[command(flatten)]
        options: ApplyOptions,
    },
    /// List the certificates of the account.
    List,
    /// Show one certificate, including its domain validation values.
    Show {
        /// Certificate id.
        id: String,
    },
    /// Download an issued certificate and write its files for one server type.
    Download {
        /// Certificate id.
        id: String,
        #[command(flatten)]
        options: DownloadOptions,
    },
    /// Cancel an order that is not issued yet.
    Cancel {
        /// Certificate id.
        id: String,
    },
    /// Request the revocation of an issued certificate and print what the owner must do next.
    Revoke {
        /// Certificate id.
        id: String,
        /// Reason for the revocation; required when a reviewer decides.
        #[arg(long, default_value = "")]
        reason: String,
        /// RFC 5280 reason code: 0 unspecified, 1 keyCompromise, 3 affiliationChanged,
        /// 4 superseded or 5 cessationOfOperation.
        #[arg(long, default_value_t = 0)]
        reason_code: i64,
    },
    /// Print the revocation letter template of a certificate, filled in with its id, domains,
    /// serial number and expiry.
    LetterTemplate {
        /// Certificate id.
        id: String,
        /// Print the application form (SM2 OV/EV products) instead of the confirmation letter.
        #[arg(long)]
        form: bool,
    },
    /// Upload the signed revocation letter or application form (JPG, PNG, GIF or PDF file).
    UploadLetter {
        /// Certificate id.
        id: String,
        /// The scanned letter.
        file: PathBuf,
    },
    /// Remind the reviewers of the certificate's pending review (once per hour).
    Remind {
        /// Certificate id.
        id: String,
    },
    /// Apply or download for many certificates listed in a file.
    #[command(subcommand)]
    Batch(BatchCommand),
}

#[derive(Debug, Subcommand)]
enum BatchCommand {
    /// Apply for one certificate per domain in FILE (one domain a line; `#` starts a comment).
    Apply {
        /// File of domains.
        file: PathBuf,
        #[command(flatten)]
        options: ApplyOptions,
    },
    /// Download every certificate id in FILE into OUT/<id>/ (one id a line).
    Download {
        /// File of certificate ids.
        file: PathBuf,
        #[command(flatten)]
        options: DownloadOptions,
    },
}

#[derive(Debug, Args)]
struct ApplyOptions {
    /// Domain validation method.
    #[arg(long, value_enum, default_value = "DNS", ignore_case = true)]
    method: Method,
    /// Key algorithm of the key certkeeper generates: RSA 2048 or ECC P-256.
    #[arg(long, value_enum, default_value = "RSA", ignore_case = true)]
    algorithm: Algorithm,
}

#[derive(Debug, Args)]
struct DownloadOptions {
    /// Server type whose files are written: nginx (bundle and key), apache (certificate, chain
    /// and key) or root (the root CA certificate).
    #[arg(long, value_enum, default_value = "nginx", ignore_case = true)]
    server_type: ServerType,
    /// Directory to write the files into; it is created when missing.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "SCREAMING_SNAKE_CASE")]
enum Method {
    Dns,
    DnsAuto,
    File,
}

impl Method {
    fn api_name(self) -> &'static str {
        match self {
            Method::Dns => "DNS",
            Method::DnsAuto => "DNS_AUTO",
            Method::File => "FILE",
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "UPPER")]
enum Algorithm {
    Rsa,
    Ecc,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ServerType {
    Nginx,
    Apache,
    Root,
}

impl ServerType {
    /// Returns the folder of this server type in the DownloadCertificate ZIP.
    fn folder(self) -> &'static str {
        match self {
            ServerType::Nginx => "Nginx",
            ServerType::Apache => "Apache",
            ServerType::Root => "Root",
        }
    }
}

/// Contents of the profile file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    secret_id: Option<String>,
    secret_key: Option<String>,
    endpoint: Option<String>,
}

fn load_profile(explicit: Option<&Path>) -> anyhow::Result<Profile> {
    let path = match explicit {
        Some(path) => path.to_owned(),
        None => match std::env::var_os("HOME") {
            Some(home) => PathBuf::from(home).join(DEFAULT_PROFILE),
            None => return Ok(Profile::default()),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => return Ok(Profile::default()),
        Err(error) => return Err(error).with_context(|| format!("cannot read the profile {}", path.display())),
    };
    toml::from_str(&text).with_context(|| format!("the profile {} is invalid", path.display()))
}

/// A signing client for one endpoint and API key.
pub struct ApiClient {
    http: reqwest::Client,
    url: reqwest::Url,
    /// Host header value: the URL's host, with the port when the URL names one.
    host: String,
    secret_id: String,
    secret_key: String,
}

impl ApiClient {
    /// Creates a client for `endpoint` (a URL, or `host[:port]` for HTTPS).
    pub fn new(endpoint: &str, secret_id: String, secret_key: String) -> anyhow::Result<Self> {
        let with_scheme = if endpoint.contains("://") { endpoint.to_owned() } else { format!("https://{endpoint}") };
        let mut url = reqwest::Url::parse(&with_scheme).with_context(|| format!("invalid endpoint {endpoint:?}; give a URL such as http://127.0.0.1:8080"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("invalid endpoint {endpoint:?}: the scheme must be http or https");
        }
        let host_name = url.host_str().with_context(|| format!("invalid endpoint {endpoint:?}: it names no host"))?.to_owned();
        let host = match url.port() {
            Some(port) => format!("{host_name}:{port}"),
            None => host_name,
        };
        url.set_path("/");
        url.set_query(None);
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().context("cannot create the HTTP client")?;
        Ok(ApiClient { http, url, host, secret_id, secret_key })
    }

    /// Calls an action and returns its `Response` object, or an error with the API's code and
    /// message.
    pub async fn call(&self, action: &str, params: &Value) -> anyhow::Result<Value> {
        let body = serde_json::to_vec(params)?;
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut headers = HeaderMap::new();
        headers.insert(reqwest::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(reqwest::header::HOST, HeaderValue::from_str(&self.host)?);
        let authorization = self.authorization(&headers, &body, timestamp)?;
        headers.insert(HeaderName::from_static("x-tc-action"), HeaderValue::from_str(action)?);
        headers.insert(HeaderName::from_static("x-tc-version"), HeaderValue::from_static(certkeeper_api::API_VERSION));
        headers.insert(HeaderName::from_static("x-tc-timestamp"), HeaderValue::from_str(&timestamp.to_string())?);
        headers.insert(HeaderName::from_static("x-tc-language"), HeaderValue::from_static("en-US"));
        headers.insert(reqwest::header::AUTHORIZATION, HeaderValue::from_str(&authorization)?);

        let response = self
            .http
            .post(self.url.clone())
            .headers(headers)
            .body(body)
            .send()
            .await
            .with_context(|| format!("{action} request to {} failed", self.url))?;
        let status = response.status();
        let text = response.text().await.with_context(|| format!("reading the {action} response failed"))?;
        if !status.is_success() {
            bail!("{action} failed with HTTP {status}: {}", text.trim());
        }
        let envelope: Value = serde_json::from_str(&text).with_context(|| format!("the {action} response is not JSON: {}", text.trim()))?;
        let response = envelope.get("Response").cloned().with_context(|| format!("the {action} response has no Response object"))?;
        if let Some(error) = response.get("Error") {
            let code = error["Code"].as_str().unwrap_or("");
            let message = error["Message"].as_str().unwrap_or("");
            let request_id = response["RequestId"].as_str().unwrap_or("");
            bail!("{action} failed: {code}: {message} (RequestId {request_id})");
        }
        Ok(response)
    }

    /// Computes the TC3-HMAC-SHA256 `Authorization` header over content-type and host.
    fn authorization(&self, headers: &HeaderMap, body: &[u8], timestamp: i64) -> anyhow::Result<String> {
        use certkeeper_api::tc3;
        const SIGNED_HEADERS: &str = "content-type;host";
        let date = tc3::utc_date(timestamp).context("the system clock is out of range")?;
        let payload_hash = tc3::hashed_payload("POST", headers, body);
        let canonical = tc3::canonical_request("POST", "/", "", headers, SIGNED_HEADERS, &payload_hash)
            .map_err(|error| anyhow::anyhow!("cannot build the canonical request: {error}"))?;
        let string_to_sign = tc3::string_to_sign(&timestamp.to_string(), &date, tc3::SERVICE, &canonical);
        let signature = tc3::sign(&self.secret_key, &date, tc3::SERVICE, &string_to_sign);
        Ok(format!(
            "{} Credential={}/{date}/{}/tc3_request, SignedHeaders={SIGNED_HEADERS}, Signature={signature}",
            tc3::ALGORITHM,
            self.secret_id,
            tc3::SERVICE
        ))
    }
}

/// Builds the client from flags, profile and environment.
fn connect(args: &ClientArgs) -> anyhow::Result<ApiClient> {
    let profile = load_profile(args.profile.as_deref())?;
    let from_env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let secret_id = from_env(SECRET_ID_VARIABLE)
        .or(profile.secret_id)
        .with_context(|| format!("no SecretId: set {SECRET_ID_VARIABLE} or secret_id in the profile"))?;
    let secret_key = from_env(SECRET_KEY_VARIABLE)
        .or(profile.secret_key)
        .with_context(|| format!("no SecretKey: set {SECRET_KEY_VARIABLE} or secret_key in the profile"))?;
    let endpoint = args
        .endpoint
        .clone()
        .or(profile.endpoint)
        .context("no endpoint: pass --endpoint or set endpoint in the profile")?;
    ApiClient::new(&endpoint, secret_id, secret_key)
}

/// Runs a client command.
pub async fn run(args: ClientArgs) -> anyhow::Result<()> {
    let client = connect(&args)?;
    let json = args.json;
    match args.command {
        ClientCommand::Apply { domain, options } => apply(&client, &domain, &options, json).await,
        ClientCommand::List => list(&client, json).await,
        ClientCommand::Show { id } => show(&client, &id, json).await,
        ClientCommand::Download { id, options } => {
            let written = download(&client, &id, &options, &options.out).await?;
            print_written(&id, &written, json);
            Ok(())
        }
        ClientCommand::Cancel { id } => {
            let response = client.call("CancelCertificateOrder", &json!({ "CertificateId": id })).await?;
            if json {
                print_json(&json!({ "CertificateId": response["CertificateId"] }));
            } else {
                println!("cancelled {id}");
            }
            Ok(())
        }
        ClientCommand::Revoke { id, reason, reason_code } => revoke(&client, &id, &reason, reason_code, json).await,
        ClientCommand::LetterTemplate { id, form } => letter_template(&client, &id, form).await,
        ClientCommand::UploadLetter { id, file } => {
            let content = std::fs::read(&file).with_context(|| format!("cannot read the letter {}", file.display()))?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
            client.call("UploadRevokeLetter", &json!({ "CertificateId": id, "RevokeLetter": encoded })).await?;
            if json {
                print_json(&json!({ "CertificateId": id, "IsSuccess": true }));
            } else {
                println!("letter for {id} uploaded ({} bytes); a reviewer decides the request", content.len());
            }
            Ok(())
        }
        ClientCommand::Remind { id } => {
            let response = client.call("RemindRevokeReviewers", &json!({ "CertificateId": id })).await?;
            if json {
                print_json(&response);
            } else {
                println!(
                    "reviewers of review {} reminded; the next reminder can be sent from {}",
                    cell(&response["ReviewId"]),
                    cell(&response["NextReminderAt"])
                );
            }
            Ok(())
        }
        ClientCommand::Batch(BatchCommand::Apply { file, options }) => batch_apply(&client, &file, &options, json).await,
        ClientCommand::Batch(BatchCommand::Download { file, options }) => batch_download(&client, &file, &options, json).await,
    }
}

fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// Prints rows as left-aligned columns under a header.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|title| (*title).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// Returns a JSON value as table text: strings without quotes, null as `-`.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(text) if text.is_empty() => "-".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn apply_params(domain: &str, options: &ApplyOptions) -> Value {
    let (algorithm, parameter) = match options.algorithm {
        Algorithm::Rsa => ("RSA", "2048"),
        Algorithm::Ecc => ("ECC", "prime256v1"),
    };
    json!({
        "DvAuthMethod": options.method.api_name(),
        "DomainName": domain,
        "CsrEncryptAlgo": algorithm,
        "CsrKeyParameter": parameter,
    })
}

async fn apply(client: &ApiClient, domain: &str, options: &ApplyOptions, json: bool) -> anyhow::Result<()> {
    let applied = client.call("ApplyCertificate", &apply_params(domain, options)).await?;
    let id = applied["CertificateId"].as_str().context("ApplyCertificate returned no CertificateId")?.to_owned();
    let described = client.call("DescribeCertificate", &json!({ "CertificateId": id })).await?;
    if json {
        print_json(&json!({ "CertificateId": id, "Status": described["Status"], "DvAuthDetail": described["DvAuthDetail"] }));
    } else {
        println!("certificate {id} applied for {domain}");
        print_validation(&described);
    }
    Ok(())
}

/// Prints what the applicant must publish, from DescribeCertificate's `DvAuthDetail`.
fn print_validation(described: &Value) {
    let auths = described["DvAuthDetail"]["DvAuths"].as_array().cloned().unwrap_or_default();
    if auths.is_empty() {
        return;
    }
    println!("publish, then run CompleteCertificate (or wait for the automatic recheck):");
    let rows: Vec<Vec<String>> = auths
        .iter()
        .map(|auth| {
            let location = match auth["DvAuthPath"].as_str() {
                Some(path) => format!("http://{}{path}", cell(&auth["DvAuthDomain"])),
                None => cell(&auth["DvAuthKey"]),
            };
            vec![cell(&auth["DvAuthDomain"]), cell(&auth["DvAuthVerifyType"]), location, cell(&auth["DvAuthValue"])]
        })
        .collect();
    print_table(&["DOMAIN", "TYPE", "NAME", "VALUE"], &rows);
}

async fn list(client: &ApiClient, json: bool) -> anyhow::Result<()> {
    let mut certificates = Vec::new();
    loop {
        let params = json!({ "Offset": certificates.len(), "Limit": LIST_PAGE_SIZE });
        let page = client.call("DescribeCertificates", &params).await?;
        let items = page["Certificates"].as_array().cloned().unwrap_or_default();
        let total = page["TotalCount"].as_u64().unwrap_or(0);
        let fetched = items.len();
        certificates.extend(items);
        if fetched == 0 || certificates.len() as u64 >= total {
            break;
        }
    }
    if json {
        print_json(&Value::Array(certificates));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|item| {
            vec![
                cell(&item["CertificateId"]),
                cell(&item["Domain"]),
                cell(&item["Status"]),
                cell(&item["StatusName"]),
                cell(&item["CertEndTime"]),
                cell(&item["Alias"]),
            ]
        })
        .collect();
    print_table(&["ID", "DOMAIN", "STATUS", "STATUS NAME", "EXPIRES (GMT+8)", "ALIAS"], &rows);
    Ok(())
}

async fn show(client: &ApiClient, id: &str, json: bool) -> anyhow::Result<()> {
    let described = client.call("DescribeCertificate", &json!({ "CertificateId": id })).await?;
    if json {
        print_json(&described);
        return Ok(());
    }
    let fields = [
        ("ID", "CertificateId"),
        ("Domain", "Domain"),
        ("Names", "SubjectAltName"),
        ("Status", "Status"),
        ("Status name", "StatusName"),
        ("Status message", "StatusMsg"),
        ("Method", "VerifyType"),
        ("Product", "PackageType"),
        ("Alias", "Alias"),
        ("Applied (GMT+8)", "InsertTime"),
        ("Valid from", "CertBeginTime"),
        ("Valid until", "CertEndTime"),
    ];
    for (label, key) in fields {
        let value = match &described[key] {
            Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
            other => cell(other),
        };
        println!("{label:<16} {value}");
    }
    print_validation(&described);
    Ok(())
}

async fn revoke(client: &ApiClient, id: &str, reason: &str, reason_code: i64, json: bool) -> anyhow::Result<()> {
    let params = json!({ "CertificateId": id, "Reason": reason, "ReasonCode": reason_code });
    let response = client.call("RevokeCertificate", &params).await?;
    let described = client.call("DescribeCertificate", &json!({ "CertificateId": id })).await?;
    if json {
        print_json(&json!({
            "CertificateId": id,
            "Status": described["Status"],
            "StatusMsg": described["StatusMsg"],
            "RevokeDomainValidateAuths": response["RevokeDomainValidateAuths"],
        }));
        return Ok(());
    }
    println!("revocation of {id} requested; status {} ({})", cell(&described["Status"]), cell(&described["StatusMsg"]));
    let auths = response["RevokeDomainValidateAuths"].as_array().cloned().unwrap_or_default();
    if !auths.is_empty() {
        println!("publish these values within the validation period:");
        let rows: Vec<Vec<String>> = auths
            .iter()
            .map(|auth| {
                ["DomainValidateAuthDomain", "DomainValidateAuthPath", "DomainValidateAuthKey", "DomainValidateAuthValue"]
                    .iter()
                    .map(|key| cell(&auth[*key]))
                    .collect()
            })
            .collect();
        print_table(&["DOMAIN", "PATH", "KEY", "VALUE"], &rows);
    } else if described["Status"].as_u64() == Some(12) {
        println!("print the letter with `certkeeper client letter-template {id}`, sign and stamp it, then upload a scan with `certkeeper client upload-letter {id} FILE`");
    } else {
        println!("a reviewer decides the request");
    }
    Ok(())
}

async fn letter_template(client: &ApiClient, id: &str, form: bool) -> anyhow::Result<()> {
    let detail = client.call("DescribeCertificateDetail", &json!({ "CertificateId": id })).await?;
    let mut facts = certkeeper_ra::letter::TemplateFacts {
        certificate_id: id.to_owned(),
        domains: detail["SubjectAltName"].as_array().map(|names| names.iter().map(cell).collect()).unwrap_or_default(),
        ..Default::default()
    };
    if let Some(der) = detail["CertificatePublicKey"].as_str().and_then(first_pem_block)
        && let Ok(summary) = certkeeper_pki::describe::describe(&der)
    {
        facts.serial = summary.serial_hex;
        facts.not_after = time::OffsetDateTime::from_unix_timestamp(summary.not_after)
            .ok()
            .and_then(|at| at.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC")).ok())
            .unwrap_or_default();
    }
    let policy = if form { certkeeper_core::RevocationPolicy::ApplicationForm } else { certkeeper_core::RevocationPolicy::ConfirmationLetter };
    let rules = certkeeper_ra::letter::LetterRules::of(policy).context("letter policies always have rules")?;
    print!("{}", certkeeper_ra::letter::template(&rules, Some(&facts)));
    Ok(())
}

/// Decodes the first PEM block of `text`.
fn first_pem_block(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body.trim()).ok()
}

/// Downloads a certificate and writes the files of one server type into `out`. Returns the
/// paths written.
async fn download(client: &ApiClient, id: &str, options: &DownloadOptions, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let response = client.call("DownloadCertificate", &json!({ "CertificateId": id })).await?;
    let content = response["Content"].as_str().context("DownloadCertificate returned no Content")?;
    let archive = base64::engine::general_purpose::STANDARD
        .decode(content)
        .context("the DownloadCertificate Content is not base64")?;
    let files = files_of(&archive, options.server_type)?;
    if files.is_empty() {
        bail!("the download of {id} has no {} files", options.server_type.folder());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut written = Vec::new();
    for (name, data) in files {
        let path = out.join(&name);
        write_file(&path, &data, name.ends_with(".key"))?;
        written.push(path);
    }
    Ok(written)
}

/// Extracts the files in the folder of one server type, by bare file name.
fn files_of(archive: &[u8], server_type: ServerType) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).context("the downloaded archive is not a valid ZIP")?;
    let mut files = Vec::new();
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index)?;
        let Some(path) = entry.enclosed_name() else { continue };
        let mut components = path.components();
        let (Some(folder), Some(file), None) = (components.next(), components.next(), components.next()) else { continue };
        if !folder.as_os_str().eq_ignore_ascii_case(server_type.folder()) {
            continue;
        }
        let name = file.as_os_str().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        files.push((name, data));
    }
    Ok(files)
}

/// Writes a file; private keys are readable by the owner only.
fn write_file(path: &Path, data: &[u8], private: bool) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if private { 0o600 } else { 0o644 };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(data).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn print_written(id: &str, written: &[PathBuf], json: bool) {
    let paths: Vec<String> = written.iter().map(|path| path.display().to_string()).collect();
    if json {
        print_json(&json!({ "CertificateId": id, "Files": paths }));
    } else {
        for path in paths {
            println!("{path}");
        }
    }
}

/// Reads the non-empty, non-comment lines of a batch file.
fn read_lines(file: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let lines: Vec<String> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    if lines.is_empty() {
        bail!("{} lists nothing; put one entry on each line", file.display());
    }
    Ok(lines)
}

fn progress_bar(length: usize, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(length as u64);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed}").map(|style| style.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar
}

/// Outcome of one batch entry: the input line and the certificate id or the error.
struct BatchOutcome {
    input: String,
    result: Result<String, String>,
}

/// Prints batch outcomes and fails when any entry failed.
fn finish_batch(outcomes: &[BatchOutcome], input_title: &str, ok_title: &str, json: bool) -> anyhow::Result<()> {
    if json {
        let items: Vec<Value> = outcomes
            .iter()
            .map(|outcome| match &outcome.result {
                Ok(value) => json!({ input_title: outcome.input, ok_title: value }),
                Err(error) => json!({ input_title: outcome.input, "Error": error }),
            })
            .collect();
        print_json(&Value::Array(items));
    } else {
        let rows: Vec<Vec<String>> = outcomes
            .iter()
            .map(|outcome| match &outcome.result {
                Ok(value) => vec![outcome.input.clone(), value.clone(), String::new()],
                Err(error) => vec![outcome.input.clone(), "-".to_owned(), error.clone()],
            })
            .collect();
        print_table(&[&input_title.to_ascii_uppercase(), &ok_title.to_ascii_uppercase(), "ERROR"], &rows);
    }
    let failed = outcomes.iter().filter(|outcome| outcome.result.is_err()).count();
    if failed > 0 {
        bail!("{failed} of {} entries failed", outcomes.len());
    }
    Ok(())
}

async fn batch_apply(client: &ApiClient, file: &Path, options: &ApplyOptions, json: bool) -> anyhow::Result<()> {
    let domains = read_lines(file)?;
    let bar = progress_bar(domains.len(), "applying");
    let mut outcomes = Vec::new();
    for domain in domains {
        let result = client
            .call("ApplyCertificate", &apply_params(&domain, options))
            .await
            .and_then(|response| response["CertificateId"].as_str().map(str::to_owned).context("ApplyCertificate returned no CertificateId"))
            .map_err(|error| format!("{error:#}"));
        outcomes.push(BatchOutcome { input: domain, result });
        bar.inc(1);
    }
    bar.finish_and_clear();
    finish_batch(&outcomes, "Domain", "CertificateId", json)
}

async fn batch_download(client: &ApiClient, file: &Path, options: &DownloadOptions, json: bool) -> anyhow::Result<()> {
    let ids = read_lines(file)?;
    let bar = progress_bar(ids.len(), "downloading");
    let mut outcomes = Vec::new();
    for id in ids {
        let result = match safe_directory_name(&id) {
            Ok(name) => download(client, &id, options, &options.out.join(name))
                .await
                .map(|written| written.iter().map(|path| path.display().to_string()).collect::<Vec<_>>().join(" "))
                .map_err(|error| format!("{error:#}")),
            Err(error) => Err(error),
        };
        outcomes.push(BatchOutcome { input: id, result });
        bar.inc(1);
    }
    bar.finish_and_clear();
    finish_batch(&outcomes, "CertificateId", "Files", json)
}

/// Checks that a certificate id can name a directory under the output directory.
fn safe_directory_name(id: &str) -> Result<&str, String> {
    if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        Ok(id)
    } else {
        Err(format!("{id:?} is not a certificate id; ids contain only letters, digits, '-' and '_'"))
    }
}
