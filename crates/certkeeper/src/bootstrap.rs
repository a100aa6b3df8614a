//! Opening the data directory: master key, database and CA, created on first start.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use certkeeper_ca::{CertificateAuthority, SealedIssuer, UrlScheme};
use certkeeper_core::KeyAlgorithm;
use certkeeper_pki::MasterKey;
use certkeeper_pki::profile::CaProfile;
use certkeeper_store::{IssuerRow, NewIssuer, Store};
use time::OffsetDateTime;

use crate::config::{ENV_MASTER_KEY, Effective};

/// Setting that records which master key sealed the stored keys.
const MASTER_KEY_ID_SETTING: &str = "master_key_id";

/// Everything the commands share once the data directory is open.
pub struct Opened {
    pub store: Store,
    pub master_key: Arc<MasterKey>,
    pub ca: Arc<CertificateAuthority>,
    pub root: IssuerRow,
    pub intermediate: IssuerRow,
}

/// Opens the data directory, creating the directory, master key, database and CA as needed.
pub async fn open(effective: &Effective) -> anyhow::Result<Opened> {
    let data_dir = &effective.settings.data_dir;
    prepare_data_dir(data_dir)?;
    let database = data_dir.join(certkeeper_store::DATABASE_FILE);
    let first_start = !database.exists();
    let store = Store::open(&database).await?;

    let has_issuers = !store.issuers().await?.is_empty();
    let master_key = load_master_key(&effective.master_key_file, !has_issuers && first_start)?;
    let stored_id = store.setting_or_insert(MASTER_KEY_ID_SETTING, &master_key.key_id()).await?;
    if stored_id != master_key.key_id() {
        bail!(
            "the master key in {} (id {}) is not the one that sealed the keys in {} (id {stored_id}); \
             restore the right key file or set {ENV_MASTER_KEY} to it",
            key_source(&effective.master_key_file),
            master_key.key_id(),
            database.display()
        );
    }

    let urls = UrlScheme::new(&effective.public_url, effective.settings.ca.crl_shards);
    if !has_issuers {
        create_ca(&store, effective, &urls, &master_key).await?;
    }
    let (root, intermediate) = active_pair(&store).await?;
    let ca = CertificateAuthority::load(&sealed(&root)?, &sealed(&intermediate)?, intermediate.id, &master_key, urls)
        .with_context(|| format!("cannot load the CA from {}", database.display()))?;
    Ok(Opened { store, master_key: Arc::new(master_key), ca: Arc::new(ca), root, intermediate })
}

fn prepare_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    if data_dir.exists() && !data_dir.is_dir() {
        bail!("the data directory {} is a file; point --data-dir at a directory", data_dir.display());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    std::fs::read_dir(data_dir).with_context(|| format!("cannot read the data directory {}", data_dir.display()))?;
    Ok(())
}

fn key_source(file: &Path) -> String {
    if std::env::var_os(ENV_MASTER_KEY).is_some() {
        format!("the {ENV_MASTER_KEY} environment variable")
    } else {
        file.display().to_string()
    }
}

/// Reads the master key from the environment or its file. The file is created (mode 0600) only
/// when `may_create` is set and no key exists yet, so an existing key is never overwritten.
fn load_master_key(file: &Path, may_create: bool) -> anyhow::Result<MasterKey> {
    if let Ok(text) = std::env::var(ENV_MASTER_KEY) {
        return MasterKey::from_hex(&text).with_context(|| format!("{ENV_MASTER_KEY} is invalid"));
    }
    if file.exists() {
        let mode = std::fs::metadata(file)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(path = %file.display(), mode = format!("{mode:o}"), "master key file is readable by other users; chmod 600 it");
        }
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read the master key file {}", file.display()))?;
        return MasterKey::from_hex(&text).with_context(|| format!("the master key file {} is invalid", file.display()));
    }
    if !may_create {
        bail!(
            "the master key file {} is missing but the database holds sealed keys; restore the file \
             or set {ENV_MASTER_KEY}",
            file.display()
        );
    }
    let key = MasterKey::generate()?;
    let mut handle = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("cannot create the master key file {}", file.display()))?;
    handle.write_all(format!("{}\n", key.to_hex().as_str()).as_bytes())?;
    handle.sync_all()?;
    tracing::info!(path = %file.display(), key_id = %key.key_id(), "created master key file");
    Ok(key)
}

async fn create_ca(store: &Store, effective: &Effective, urls: &UrlScheme, master_key: &MasterKey) -> anyhow::Result<()> {
    let ca = &effective.settings.ca;
    let profile = CaProfile {
        country: ca.country.clone(),
        organization: ca.organization.clone(),
        root_common_name: ca.root_common_name.clone(),
        intermediate_common_name: ca.intermediate_common_name.clone(),
        root_days: ca.root_days,
        intermediate_days: ca.intermediate_days,
    };
    let now = OffsetDateTime::now_utc().replace_nanosecond(0)?;
    let new_ca = certkeeper_ca::create(ca.key_algorithm, &profile, urls, master_key, now)?;
    let root = certkeeper_pki::describe(&new_ca.root.certificate_der)?;
    let intermediate = certkeeper_pki::describe(&new_ca.intermediate.certificate_der)?;
    let root_row = new_issuer("root", &new_ca.root, &root, now);
    let intermediate_row = new_issuer("intermediate", &new_ca.intermediate, &intermediate, now);
    store.insert_ca_pair(&root_row, &intermediate_row).await?;
    tracing::info!(root = %root.subject, root_sha256 = %root.sha256, intermediate_sha256 = %intermediate.sha256, "created certificate authority");
    Ok(())
}

fn new_issuer<'a>(
    role: &'a str,
    sealed: &'a SealedIssuer,
    summary: &'a certkeeper_pki::CertificateSummary,
    now: OffsetDateTime,
) -> NewIssuer<'a> {
    NewIssuer {
        role,
        parent_id: None,
        subject: &summary.subject,
        key_algorithm: sealed.key_algorithm.name(),
        certificate_der: &sealed.certificate_der,
        sealed_key: &sealed.sealed_key,
        sha256: &summary.sha256,
        not_before: summary.not_before,
        not_after: summary.not_after,
        created_at: now.unix_timestamp(),
    }
}

async fn active_pair(store: &Store) -> anyhow::Result<(IssuerRow, IssuerRow)> {
    let issuers = store.issuers().await?;
    let root = issuers.iter().rev().find(|i| i.role == "root" && i.active).cloned();
    let intermediate = issuers.iter().rev().find(|i| i.role == "intermediate" && i.active).cloned();
    match (root, intermediate) {
        (Some(root), Some(intermediate)) => Ok((root, intermediate)),
        _ => bail!("the database has no active root and intermediate CA; restore it from a backup"),
    }
}

fn sealed(row: &IssuerRow) -> anyhow::Result<SealedIssuer> {
    let key_algorithm: KeyAlgorithm = row.key_algorithm.parse().map_err(anyhow::Error::msg)?;
    Ok(SealedIssuer { key_algorithm, certificate_der: row.certificate_der.clone(), sealed_key: row.sealed_key.clone() })
}

/// Builds the order service: issuance, the validator from `[validation]` and `[dns_auto]`, and
/// the CAA identities.
pub fn order_service(opened: &Opened, effective: &Effective) -> anyhow::Result<certkeeper_ra::OrderService> {
    let issuance = certkeeper_ra::IssuanceService::new(
        opened.store.clone(),
        Arc::clone(&opened.ca),
        Arc::new(effective.catalogue.clone()),
    );
    let validator = certkeeper_va::Validator::new(effective.settings.validation.clone(), &effective.settings.dns_auto)
        .context("the [validation] or [dns_auto] settings are invalid")?;
    let settings = certkeeper_ra::OrderSettings { caa_identities: effective.caa_identities.clone() };
    Ok(certkeeper_ra::OrderService::new(
        opened.store.clone(),
        issuance,
        Arc::new(validator),
        Arc::clone(&opened.master_key),
        settings,
    ))
}

/// Starts the CRL publisher and OCSP responder for the active root and intermediate.
pub async fn publisher(opened: &Opened, settings: certkeeper_publish::PublishSettings) -> anyhow::Result<Arc<certkeeper_publish::Publisher>> {
    let issuer = |row: &IssuerRow| -> anyhow::Result<certkeeper_publish::PublishedIssuer> {
        Ok(certkeeper_publish::PublishedIssuer { id: row.id, sealed: sealed(row)? })
    };
    let publisher = certkeeper_publish::Publisher::start(
        opened.store.clone(),
        opened.ca.urls().clone(),
        &issuer(&opened.root)?,
        &issuer(&opened.intermediate)?,
        &opened.master_key,
        settings,
    )
    .await
    .context("starting the CRL publisher and OCSP responder failed")?;
    Ok(publisher)
}
