//! DownloadCertificate, DescribeDownloadCertificateUrl and the download links they hand out.
//!
//! Both build a ZIP with one folder per server type:
//!
//! * `Nginx/`: `<domain>_bundle.crt` (leaf, then intermediate) and `<domain>.key`.
//! * `Apache/`: `<domain>.crt` (leaf), `root_bundle.crt` (intermediate only) and `<domain>.key`.
//! * `Root/`: `root.crt` (the root CA).
//!
//! Key files are present only when certkeeper generated the key. A `*` in a wildcard domain is
//! written as `_` in file names.

use std::collections::HashMap;
use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use certkeeper_core::CertificateRecord;
use certkeeper_store::LogEntry;
use serde_json::{Value, json};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use super::metadata::actor;
use super::query::{IssuerChain, issuer_chain, private_key_pem};
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

/// Server type of a download folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerType {
    Nginx,
    Apache,
    Root,
}

impl ServerType {
    /// Parses a `ServiceType` value; `None` for types certkeeper does not build.
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "nginx" => Some(Self::Nginx),
            "apache" => Some(Self::Apache),
            "root" => Some(Self::Root),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Nginx => "nginx",
            Self::Apache => "apache",
            Self::Root => "root",
        }
    }
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
fn file_stem(record: &CertificateRecord) -> String {
    record.domain.replace('*', "_")
}

/// Lists the files of the chosen folders as (path, PEM text).
fn bundle_files(
    record: &CertificateRecord,
    chain: &IssuerChain,
    key_pem: Option<&str>,
    types: &[ServerType],
) -> Vec<(String, String)> {
    let stem = file_stem(record);
    let leaf = record.certificate_der.as_deref().map(|der| certkeeper_pki::to_pem("CERTIFICATE", der)).unwrap_or_default();
    let intermediate = chain.intermediate.as_ref().map(|row| certkeeper_pki::to_pem("CERTIFICATE", &row.certificate_der));
    let root = chain.root.as_ref().map(|row| certkeeper_pki::to_pem("CERTIFICATE", &row.certificate_der));

    let mut files = Vec::new();
    for server_type in types {
        match server_type {
            ServerType::Nginx => {
                let mut bundle = leaf.clone();
                bundle.push_str(intermediate.as_deref().unwrap_or(""));
                files.push((format!("Nginx/{stem}_bundle.crt"), bundle));
                if let Some(key) = key_pem {
                    files.push((format!("Nginx/{stem}.key"), key.to_owned()));
                }
            }
            ServerType::Apache => {
                files.push((format!("Apache/{stem}.crt"), leaf.clone()));
                if let Some(intermediate) = &intermediate {
                    files.push(("Apache/root_bundle.crt".to_owned(), intermediate.clone()));
                }
                if let Some(key) = key_pem {
                    files.push((format!("Apache/{stem}.key"), key.to_owned()));
                }
            }
            ServerType::Root => {
                if let Some(root) = &root {
                    files.push(("Root/root.crt".to_owned(), root.clone()));
                }
            }
        }
    }
    files
}

/// Writes files into a deflated ZIP archive.
fn zip_files(files: &[(String, String)]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).unix_permissions(0o600);
    for (path, content) in files {
        writer.start_file(path.as_str(), options)?;
        writer.write_all(content.as_bytes())?;
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

async fn build_zip(services: &Services, ctx: &RequestContext, record: &CertificateRecord, types: &[ServerType]) -> Result<Vec<u8>, ApiError> {
    let chain = issuer_chain(services, ctx, record).await?;
    let key = private_key_pem(services, ctx, record)?;
    let files = bundle_files(record, &chain, key.as_deref(), types);
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
    let archive = build_zip(&services, &ctx, &record, &[ServerType::Nginx, ServerType::Apache, ServerType::Root]).await?;
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
            format!("ServiceType {requested:?} is not supported; use nginx, apache or root"),
        )
    })?;
    let record = downloadable(&services, &ctx, &id).await?;
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
