//! DownloadCertificate, DescribeDownloadCertificateUrl and the download links they hand out.
//!
//! Both build a ZIP with one folder per server type:
//!
//! * `Nginx/`: `<domain>_bundle.crt` (leaf, then intermediates) and `<domain>.key`.
//! * `Apache/`: `<domain>.crt` (leaf), `root_bundle.crt` (intermediates only) and `<domain>.key`.
//! * `IIS/`: `<domain>.pfx` (3DES with a SHA-1 MAC, which Windows Server 2016 imports),
//!   `<domain>_aes256.pfx` (AES-256 with an HMAC-SHA256 MAC, for Windows Server 2019 and later),
//!   `keystorePass.txt` and `README.txt`.
//! * `Tomcat/`: `<domain>.pfx` (PKCS#12 keystore), `<domain>.jks` (JKS keystore), each with one
//!   key entry whose chain is the leaf and its intermediates, and `keystorePass.txt`.
//! * `Root/`: `root.crt` (the root CA), when known.
//! * `Other/`: `<domain>.pem` and `<domain>.der` (leaf), `chain.pem` (intermediates),
//!   `<domain>.key` and `<domain>.key.der` (PKCS#8).
//!
//! Key files, IIS and Tomcat are present only when certkeeper holds the key. The keystore
//! password is the KeyPassword given at upload or the CsrKeyPassword given with
//! ApplyCertificate, otherwise a random one generated for each download. No file repeats a certificate, and PEM files use LF and end with a newline. A `*`
//! in a wildcard domain is written as `_` in file names.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use certkeeper_core::{CertificateRecord, CertificateSource};
use certkeeper_store::LogEntry;
use serde_json::{Value, json};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;
use zeroize::Zeroizing;

use super::metadata::actor;
use super::query::{issuer_chain, private_key_pem};
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::{Language, RequestContext};
use crate::credentials::Role;
use crate::error::ApiError;
use crate::params::Params;

/// How long a link from DescribeDownloadCertificateUrl stays valid, in seconds.
pub const DOWNLOAD_LINK_LIFETIME_SECONDS: i64 = 3600;

/// Length of the random token in a download link.
const TOKEN_LENGTH: usize = 32;

const NOT_ALLOW_DOWNLOAD: &str = "FailedOperation.CertificateStatusNotAllowDownload";
const SERVICE_TYPE_NOT_SUPPORTED: &str = "FailedOperation.CertificateDownloadServiceTypeNotSupport";

/// Length of a generated keystore password.
const KEYSTORE_PASSWORD_LENGTH: usize = 16;

/// Alias of the key entry in IIS and Tomcat keystores; Tomcat's `certificateKeyAlias`
/// defaults to the first entry, so the name is informative only.
const KEYSTORE_ALIAS: &str = "certkeeper";

/// Server type of a download folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerType {
    Nginx,
    Apache,
    Iis,
    Tomcat,
    Root,
    Other,
}

/// Every folder of DownloadCertificate, in ZIP order.
const ALL_TYPES: [ServerType; 6] = [ServerType::Nginx, ServerType::Apache, ServerType::Iis, ServerType::Tomcat, ServerType::Root, ServerType::Other];

impl ServerType {
    /// Parses a `ServiceType` value; `None` for types certkeeper does not build. `jks` is the
    /// Tomcat folder, which holds the JKS keystore.
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nginx" => Some(Self::Nginx),
            "apache" => Some(Self::Apache),
            "iis" => Some(Self::Iis),
            "tomcat" | "jks" => Some(Self::Tomcat),
            "root" => Some(Self::Root),
            "other" => Some(Self::Other),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::Apache => "apache",
            Self::Iis => "iis",
            Self::Tomcat => "tomcat",
            Self::Root => "root",
            Self::Other => "other",
        }
    }

    /// Returns true for types that are keystores and so need the private key.
    fn needs_key(self) -> bool {
        matches!(self, Self::Iis | Self::Tomcat)
    }
}

/// What a download is built from.
pub(super) struct Material {
    leaf: Vec<u8>,
    /// Intermediates, the leaf's issuer first.
    intermediates: Vec<Vec<u8>>,
    root: Option<Vec<u8>>,
    /// The private key as PKCS#8 DER, when certkeeper holds it.
    key: Option<Zeroizing<Vec<u8>>>,
    /// The password given at upload, if any.
    password: Option<Zeroizing<String>>,
}

/// A download link handed out by DescribeDownloadCertificateUrl.
#[derive(Clone, Debug)]
struct DownloadGrant {
    certificate_id: String,
    account_id: Option<i64>,
    actor: String,
    server_type: ServerType,
    file_name: String,
    expires_at: i64,
}

/// Download links that have not expired, kept in memory. A restart invalidates them.
#[derive(Clone, Default)]
pub struct DownloadTokens {
    grants: Arc<Mutex<HashMap<String, DownloadGrant>>>,
}

impl DownloadTokens {
    fn insert(&self, token: String, grant: DownloadGrant, now: i64) {
        let mut grants = self.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        grants.retain(|_, grant| grant.expires_at > now);
        grants.insert(token, grant);
    }

    fn get(&self, token: &str, now: i64) -> Option<DownloadGrant> {
        let grants = self.grants.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        grants.get(token).filter(|grant| grant.expires_at > now).cloned()
    }
}

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("DownloadCertificate", &["CertificateId"], download_certificate);
    registry.register("DescribeDownloadCertificateUrl", &["CertificateId", "ServiceType"], download_url);
}

/// Returns the domain as it appears in file names.
pub(super) fn file_stem(record: &CertificateRecord) -> String {
    record.domain.replace('*', "_")
}

fn pem(der: &[u8]) -> String {
    certkeeper_pki::to_pem("CERTIFICATE", der)
}

fn pem_all(ders: &[Vec<u8>]) -> String {
    ders.iter().map(|der| pem(der)).collect()
}

/// Lists the files of the chosen folders as (path, contents). `password` is the keystore
/// password written beside keystores.
fn bundle_files(
    stem: &str,
    material: &Material,
    password: &str,
    types: &[ServerType],
    created_at: std::time::SystemTime,
) -> Result<Vec<(String, Vec<u8>)>, certkeeper_pki::keystore::KeystoreError> {
    use certkeeper_pki::keystore::{self, Pkcs12Form};

    let leaf = pem(&material.leaf);
    let chain = pem_all(&material.intermediates);
    let key_pem = material.key.as_ref().map(|key| certkeeper_pki::to_pem("PRIVATE KEY", key));
    let keystore_chain: Vec<Vec<u8>> = std::iter::once(material.leaf.clone()).chain(material.intermediates.iter().cloned()).collect();

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for server_type in types {
        match (server_type, &material.key) {
            (ServerType::Nginx, _) => {
                files.push((format!("Nginx/{stem}_bundle.crt"), format!("{leaf}{chain}").into_bytes()));
                if let Some(key) = &key_pem {
                    files.push((format!("Nginx/{stem}.key"), key.clone().into_bytes()));
                }
            }
            (ServerType::Apache, _) => {
                files.push((format!("Apache/{stem}.crt"), leaf.clone().into_bytes()));
                if !chain.is_empty() {
                    files.push(("Apache/root_bundle.crt".to_owned(), chain.clone().into_bytes()));
                }
                if let Some(key) = &key_pem {
                    files.push((format!("Apache/{stem}.key"), key.clone().into_bytes()));
                }
            }
            (ServerType::Iis, Some(key)) => {
                files.push((format!("IIS/{stem}.pfx"), keystore::pkcs12(KEYSTORE_ALIAS, key, &keystore_chain, password, Pkcs12Form::Compatible)?));
                files.push((format!("IIS/{stem}_aes256.pfx"), keystore::pkcs12(KEYSTORE_ALIAS, key, &keystore_chain, password, Pkcs12Form::Modern)?));
                files.push(("IIS/keystorePass.txt".to_owned(), format!("{password}\n").into_bytes()));
                files.push(("IIS/README.txt".to_owned(), iis_readme(stem).into_bytes()));
            }
            (ServerType::Tomcat, Some(key)) => {
                files.push((format!("Tomcat/{stem}.pfx"), keystore::pkcs12(KEYSTORE_ALIAS, key, &keystore_chain, password, Pkcs12Form::Compatible)?));
                files.push((format!("Tomcat/{stem}.jks"), keystore::jks(KEYSTORE_ALIAS, key, &keystore_chain, password, created_at)?));
                files.push(("Tomcat/keystorePass.txt".to_owned(), format!("{password}\n").into_bytes()));
            }
            (ServerType::Iis | ServerType::Tomcat, None) => {}
            (ServerType::Root, _) => {
                if let Some(root) = &material.root {
                    files.push(("Root/root.crt".to_owned(), pem(root).into_bytes()));
                }
            }
            (ServerType::Other, _) => {
                files.push((format!("Other/{stem}.pem"), leaf.clone().into_bytes()));
                files.push((format!("Other/{stem}.der"), material.leaf.clone()));
                if !chain.is_empty() {
                    files.push(("Other/chain.pem".to_owned(), chain.clone().into_bytes()));
                }
                if let (Some(key), Some(key_pem)) = (&material.key, &key_pem) {
                    files.push((format!("Other/{stem}.key"), key_pem.clone().into_bytes()));
                    files.push((format!("Other/{stem}.key.der"), key.to_vec()));
                }
            }
        }
    }
    Ok(files)
}

fn iis_readme(stem: &str) -> String {
    format!(
        "{stem}.pfx: key and certificates encrypted with 3DES (pbeWithSHAAnd3-KeyTripleDES-CBC) and a SHA-1 MAC.\n\
         Windows Server 2016 and older, and every later version, import it.\n\
         \n\
         {stem}_aes256.pfx: AES-256-CBC (PBES2, PBKDF2-HMAC-SHA256) with an HMAC-SHA256 MAC.\n\
         For Windows Server 2019 and later; Windows Server 2016 reports a wrong password for it.\n\
         \n\
         Both use the password in keystorePass.txt.\n"
    )
}

/// Writes files into a deflated ZIP archive.
fn zip_files(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).unix_permissions(0o600);
    for (path, content) in files {
        writer.start_file(path.as_str(), options)?;
        writer.write_all(content)?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Loads a certificate for download and checks that its status allows it.
async fn downloadable(services: &Services, ctx: &RequestContext, id: &str) -> Result<CertificateRecord, ApiError> {
    let record = services.visible_certificate(ctx, id).await?;
    if !record.status.allows_download() || record.certificate_der.is_none() {
        return Err(ApiError::new(
            NOT_ALLOW_DOWNLOAD,
            format!("certificate {id} is in status {} ({}); only issued or expired certificates can be downloaded", record.status.code(), record.status),
        ));
    }
    Ok(record)
}

/// Gathers the chain, root, key and password of a certificate.
pub(super) async fn material(services: &Services, ctx: &RequestContext, record: &CertificateRecord) -> Result<Material, ApiError> {
    let leaf = record.certificate_der.clone().unwrap_or_default();
    let key = match private_key_pem(services, ctx, record)? {
        Some(pem) => Some(certkeeper_pki::upload::private_key_to_pkcs8(pem.as_bytes()).map_err(|error| store_failure(ctx, &error))?),
        None => None,
    };
    if record.source == CertificateSource::Uploaded {
        let upload = services.store.upload(&record.id).await.map_err(|error| store_failure(ctx, &error))?;
        let Some(upload) = upload else {
            return Ok(Material { leaf, intermediates: Vec::new(), root: None, key, password: None });
        };
        let password = open_password(services, ctx, &record.id, upload.sealed_key_password.as_deref())?;
        return Ok(Material { leaf, intermediates: split_der(&upload.chain_der), root: upload.root_der, key, password });
    }
    let chain = issuer_chain(services, ctx, record).await?;
    let sealed_password = services.store.key_password(&record.id).await.map_err(|error| store_failure(ctx, &error))?;
    Ok(Material {
        leaf,
        intermediates: chain.intermediate.into_iter().map(|row| row.certificate_der).collect(),
        root: chain.root.map(|row| row.certificate_der),
        key,
        password: open_password(services, ctx, &record.id, sealed_password.as_deref())?,
    })
}

/// Opens a sealed keystore password: the upload's KeyPassword or the order's CsrKeyPassword.
fn open_password(services: &Services, ctx: &RequestContext, id: &str, sealed: Option<&[u8]>) -> Result<Option<Zeroizing<String>>, ApiError> {
    let Some(sealed) = sealed else {
        return Ok(None);
    };
    let opened = services
        .master_key
        .open(&certkeeper_ra::hosting::key_password_context(id), sealed)
        .map_err(|error| store_failure(ctx, &error))?;
    Ok(Some(Zeroizing::new(String::from_utf8_lossy(&opened).into_owned())))
}

/// Splits DER certificates stored one after another.
pub(super) fn split_der(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut certificates = Vec::new();
    while let Ok((rest, _)) = x509_parser::parse_x509_certificate(bytes) {
        certificates.push(bytes[..bytes.len() - rest.len()].to_vec());
        bytes = rest;
    }
    certificates
}

async fn build_zip(services: &Services, ctx: &RequestContext, record: &CertificateRecord, types: &[ServerType]) -> Result<Vec<u8>, ApiError> {
    let material = material(services, ctx, record).await?;
    let password = match &material.password {
        Some(password) => password.clone(),
        None => Zeroizing::new(crate::keys::random_alphanumeric(KEYSTORE_PASSWORD_LENGTH).map_err(|error| store_failure(ctx, &error))?),
    };
    let created_at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(services.now()).unwrap_or(0));
    let files = bundle_files(&file_stem(record), &material, &password, types, created_at).map_err(|error| store_failure(ctx, &error))?;
    zip_files(&files).map_err(|error| store_failure(ctx, &error))
}

async fn log_download(services: &Services, ctx: &RequestContext, record: &CertificateRecord, detail: &str) -> Result<(), ApiError> {
    let actor = actor(ctx);
    let log = LogEntry { actor: &actor, action: "download", detail, at: services.now() };
    services
        .store
        .log_certificate_operation(&record.id, &log)
        .await
        .map_err(|error| store_failure(ctx, &error))
}

async fn download_certificate(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    let record = downloadable(&services, &ctx, &id).await?;
    let archive = build_zip(&services, &ctx, &record, &ALL_TYPES).await?;
    log_download(&services, &ctx, &record, "DownloadCertificate").await?;
    Ok(json!({
        "Content": base64::engine::general_purpose::STANDARD.encode(archive),
        "ContentType": "application/zip",
    }))
}

async fn download_url(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let id = params.required_string("CertificateId")?;
    let requested = params.optional_string("ServiceType")?.unwrap_or_else(|| "nginx".to_owned());
    let server_type = ServerType::parse(&requested).ok_or_else(|| {
        ApiError::new(
            SERVICE_TYPE_NOT_SUPPORTED,
            format!("ServiceType {requested:?} is not supported; use nginx, apache, iis, tomcat, jks, root or other"),
        )
    })?;
    let record = downloadable(&services, &ctx, &id).await?;
    if server_type.needs_key() && record.sealed_private_key.is_none() {
        return Err(ApiError::new(
            SERVICE_TYPE_NOT_SUPPORTED,
            format!(
                "ServiceType {requested:?} needs the private key, which certkeeper does not hold for certificate {id}; \
                 use nginx, apache, root or other, or upload the certificate with its key"
            ),
        ));
    }
    let token = crate::keys::random_alphanumeric(TOKEN_LENGTH).map_err(|error| store_failure(&ctx, &error))?;
    let file_name = format!("{}_{}.zip", file_stem(&record), server_type.name());
    let now = services.now();
    let grant = DownloadGrant {
        certificate_id: record.id.clone(),
        account_id: account_scope(&ctx),
        actor: actor(&ctx),
        server_type,
        file_name: file_name.clone(),
        expires_at: now + DOWNLOAD_LINK_LIFETIME_SECONDS,
    };
    services.downloads.insert(token.clone(), grant, now);
    Ok(json!({
        "DownloadCertificateUrl": format!("{}/download/{token}/{file_name}", services.public_url),
        "DownloadFilename": file_name,
    }))
}

/// Builds the router that serves download links at `/download/{token}/{file}`.
pub fn download_router(services: Arc<Services>) -> Router {
    Router::new().route("/download/{token}/{file}", get(serve_download)).with_state(services)
}

async fn serve_download(State(services): State<Arc<Services>>, Path((token, file)): Path<(String, String)>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "download link not found or expired; request a new one\n").into_response();
    let Some(grant) = services.downloads.get(&token, services.now()) else {
        return not_found();
    };
    if grant.file_name != file {
        return not_found();
    }
    // The link acts for the account that requested it, with the same scope.
    let ctx = RequestContext {
        account_id: grant.account_id.unwrap_or(0),
        role: if grant.account_id.is_some() { Role::User } else { Role::Admin },
        secret_id: String::new(),
        request_id: uuid::Uuid::new_v4().to_string(),
        action: "DownloadLink".to_owned(),
        language: Language::default(),
        region: None,
    };
    let archive = match downloadable(&services, &ctx, &grant.certificate_id).await {
        Ok(record) => match build_zip(&services, &ctx, &record, &[grant.server_type]).await {
            Ok(archive) => {
                let log = LogEntry { actor: &grant.actor, action: "download", detail: "download link", at: services.now() };
                if let Err(error) = services.store.log_certificate_operation(&record.id, &log).await {
                    tracing::error!(certificate_id = %record.id, %error, "cannot log a download; the link was not served");
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
                archive
            }
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Err(error) => return (StatusCode::GONE, format!("{}\n", error.message)).into_response(),
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", grant.file_name))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/zip")),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        archive,
    )
        .into_response()
}
