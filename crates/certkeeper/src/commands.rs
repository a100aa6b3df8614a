//! The subcommands.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use certkeeper_core::{ValidationLevel, ValidationMethod};
use certkeeper_ra::{IssuanceService, IssueRequest};
use time::OffsetDateTime;
use tracing_subscriber::EnvFilter;

use crate::config::{Effective, Overrides, Settings};
use crate::{CaCommand, Cli, Command, ConfigCommand, accounts, api, bootstrap, client, http};

/// Logs to standard error; `RUST_LOG` sets the filter (default `info`). Colours are used only
/// when standard error is a terminal, so log files and pipes get plain text.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // The client talks to a server and reads no server configuration.
    if let Command::Client(args) = cli.command {
        return client::run(args).await;
    }
    let mut overrides = Overrides { data_dir: cli.data_dir.clone(), ..Overrides::default() };
    if let Command::Serve { listen, public_url } = &cli.command {
        overrides.listen = listen.clone();
        overrides.public_url = public_url.clone();
    }
    let effective = Settings::load(cli.config.as_deref(), &overrides)?;
    match cli.command {
        Command::Serve { .. } => serve(effective).await,
        Command::Config(ConfigCommand::Check) => {
            print!("{}", effective.to_toml());
            Ok(())
        }
        Command::Ca(CaCommand::Show) => ca_show(&effective).await,
        Command::Ca(CaCommand::Sign { csr, days, product }) => ca_sign(&effective, &csr, days, product).await,
        Command::Ca(CaCommand::Revoke { certificate, reason }) => crate::revoke::ca_revoke(&effective, &certificate, reason).await,
        Command::Account(command) => accounts::run_account(&effective, command).await,
        Command::Key(command) => accounts::run_key(&effective, command).await,
        Command::Review(command) => crate::review::run(&effective, command).await,
        Command::Notify(command) => crate::notify::run(&effective, command).await,
        Command::Client(args) => client::run(args).await,
    }
}

async fn serve(effective: Effective) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %effective.settings.data_dir.display(), "starting certkeeper");
    let opened = bootstrap::open(&effective).await?;
    tracing::info!(
        root_sha256 = %opened.root.sha256,
        intermediate_sha256 = %opened.intermediate.sha256,
        root = %opened.root.subject,
        "certificate authority loaded"
    );

    let mut notify = certkeeper_notify::NotifyService::new(opened.store.clone(), effective.settings.notify.clone())?;
    let events = Arc::new(crate::notify::NotifierEvents::new(notify.notifier.clone()));
    let orders = bootstrap::order_service(&opened, &effective)?.with_revocation_events(events);
    let issuers = Arc::new(opened.store.issuers().await?);
    let api = api::router(&opened, &effective, Arc::clone(&issuers), orders.clone());
    let publisher = bootstrap::publisher(&opened, effective.settings.publish.publish_settings()).await?;
    let app = http::public_router(http::PublicState { issuers })
        .merge(publisher.router())
        .merge(api)
        .layer(tower_http::trace::TraceLayer::new_for_http());
    let publisher_task = tokio::spawn(Arc::clone(&publisher).run());
    let watcher_stop = Arc::new(tokio::sync::Notify::new());
    let watcher_stopped = Arc::clone(&watcher_stop);
    let watcher = tokio::spawn(crate::revoke::watch_revocations(
        opened.store.clone(),
        Arc::clone(&publisher),
        notify.notifier.clone(),
        async move { watcher_stopped.notified().await },
    ));
    let listener = tokio::net::TcpListener::bind(effective.listen)
        .await
        .with_context(|| format!("cannot listen on {}", effective.listen))?;
    tracing::info!(listen = %effective.listen, public_url = %effective.public_url, "listening");

    // Validation rechecks and automatic renewals run as periodic durable jobs: of the servers
    // that share a database, one runs each interval's pass.
    let renewal_settings = certkeeper_ra::AutoRenewSettings {
        window: Duration::from_secs(u64::from(effective.settings.renewal.auto_window_days) * 24 * 3600),
        interval: Duration::from_secs(effective.settings.renewal.check_interval_seconds),
    };
    notify
        .runner
        .handle(KIND_VALIDATION_RECHECK, recheck_handler(orders.clone()))
        .every(KIND_VALIDATION_RECHECK, RECHECK_INTERVAL)
        .every(KIND_RENEWAL, renewal_settings.interval)
        .handle(KIND_RENEWAL, renewal_handler(orders.clone(), renewal_settings))
        .handle(certkeeper_store::KIND_DNS_AUTO_CLEANUP, dns_auto_cleanup_handler(orders.clone()));
    // CRL builds run as durable jobs too: the store enqueues a `crl.publish` job with each
    // revocation, and `crl.refresh` rebuilds CRLs that are `crl_rebuild_interval` old. Every
    // server then loads the stored CRL in its revocation watcher.
    notify
        .runner
        .handle(certkeeper_publish::KIND_CRL_PUBLISH, crl_publish_handler(Arc::clone(&publisher)))
        .handle(certkeeper_publish::KIND_CRL_REFRESH, crl_refresh_handler(Arc::clone(&publisher)))
        .every(certkeeper_publish::KIND_CRL_REFRESH, CRL_REFRESH_INTERVAL);

    let runner_stop = Arc::new(tokio::sync::Notify::new());
    let runner_stopped = Arc::clone(&runner_stop);
    let runner = tokio::spawn(notify.runner.run(async move { runner_stopped.notified().await }));

    let grace = Duration::from_secs(effective.settings.http.shutdown_grace_seconds);
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = Arc::clone(&stop);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move { stopped.notified().await });
    let mut server = tokio::spawn(server.into_future());
    tokio::select! {
        result = &mut server => result.context("the HTTP server task failed")?.context("the HTTP server failed")?,
        () = shutdown_signal() => {
            stop.notify_one();
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result.context("the HTTP server task failed")?.context("the HTTP server failed")?,
                Err(_) => tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests did not finish in time; closing anyway"),
            }
        }
    }
    watcher_stop.notify_one();
    publisher_task.abort();
    let _ = watcher.await;
    runner_stop.notify_one();
    if let Err(error) = runner.await {
        tracing::error!(%error, "the job runner ended abnormally");
    }
    opened.store.close().await;
    tracing::info!("stopped; database closed");
    Ok(())
}

/// Job kind of the pass that rechecks due domain validations of orders and revocations.
const KIND_VALIDATION_RECHECK: &str = "validation.recheck";
/// Job kind of the automatic renewal pass.
const KIND_RENEWAL: &str = "renewal.scan";
/// Interval of validation recheck passes. Each validation has its own next-check time with
/// backoff; the pass only picks up those that are due.
const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Interval of `crl.refresh` passes. A pass rebuilds only the CRLs whose stored thisUpdate is
/// `crl_rebuild_interval` old, so this bounds how late a scheduled rebuild can be.
const CRL_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

fn crl_publish_handler(publisher: Arc<certkeeper_publish::Publisher>) -> certkeeper_notify::JobHandler {
    Arc::new(move |job, _now| {
        let publisher = Arc::clone(&publisher);
        Box::pin(async move { publisher.run_publish_job(&job.payload).await.map_err(|error| error.to_string()) })
    })
}

fn crl_refresh_handler(publisher: Arc<certkeeper_publish::Publisher>) -> certkeeper_notify::JobHandler {
    Arc::new(move |_job, _now| {
        let publisher = Arc::clone(&publisher);
        Box::pin(async move {
            let rebuilt = publisher.refresh_crls().await.map_err(|error| error.to_string())?;
            if rebuilt > 0 {
                tracing::info!(rebuilt, "scheduled CRL rebuild finished");
            }
            Ok(())
        })
    })
}

fn recheck_handler(orders: certkeeper_ra::OrderService) -> certkeeper_notify::JobHandler {
    Arc::new(move |_job, now| {
        let orders = orders.clone();
        Box::pin(async move {
            let now = time::OffsetDateTime::from_unix_timestamp(now).map_err(|error| error.to_string())?;
            orders.recheck_due(now).await.map(|_| ()).map_err(|error| error.to_string())
        })
    })
}

/// Deletes the DNS_AUTO records of the order named in the job's payload.
fn dns_auto_cleanup_handler(orders: certkeeper_ra::OrderService) -> certkeeper_notify::JobHandler {
    Arc::new(move |job, _now| {
        let orders = orders.clone();
        Box::pin(async move {
            let payload: serde_json::Value = serde_json::from_str(&job.payload).map_err(|error| format!("invalid payload: {error}"))?;
            let id = payload["certificate_id"].as_str().ok_or("the payload has no certificate_id")?;
            orders.remove_dns_auto_records(id).await.map(|_| ()).map_err(|error| error.to_string())
        })
    })
}

fn renewal_handler(orders: certkeeper_ra::OrderService, settings: certkeeper_ra::AutoRenewSettings) -> certkeeper_notify::JobHandler {
    Arc::new(move |_job, now| {
        let orders = orders.clone();
        let settings = settings.clone();
        Box::pin(async move {
            let now = time::OffsetDateTime::from_unix_timestamp(now).map_err(|error| error.to_string())?;
            let renewed = orders.renew_due(&settings, now).await.map_err(|error| error.to_string())?;
            if !renewed.is_empty() {
                tracing::info!(count = renewed.len(), "automatic renewal pass finished");
            }
            Ok(())
        })
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down"),
        _ = terminate.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

async fn ca_show(effective: &Effective) -> anyhow::Result<()> {
    let opened = bootstrap::open(effective).await?;
    for issuer in opened.store.issuers().await? {
        let summary = certkeeper_pki::describe(&issuer.certificate_der)?;
        println!("{} (id {}){}", issuer.role, issuer.id, if issuer.active { "" } else { " [inactive]" });
        println!("  subject:     {}", summary.subject);
        println!("  issuer:      {}", summary.issuer);
        println!("  key:         {}", issuer.key_algorithm);
        println!("  serial:      {}", summary.serial_hex);
        println!("  not before:  {}", format_time(summary.not_before));
        println!("  not after:   {}", format_time(summary.not_after));
        println!("  SHA-256:     {}", summary.sha256);
        println!("  SHA-1:       {}", summary.sha1);
    }
    opened.store.close().await;
    Ok(())
}

fn format_time(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC")).ok())
        .unwrap_or_else(|| unix.to_string())
}

async fn ca_sign(effective: &Effective, csr_path: &std::path::Path, days: Option<u32>, product: Option<u32>) -> anyhow::Result<()> {
    let input = std::fs::read(csr_path).with_context(|| format!("cannot read {}", csr_path.display()))?;
    let csr = certkeeper_pki::check_csr(&input).with_context(|| format!("{} was rejected", csr_path.display()))?;
    let product_id = match product {
        Some(id) => id,
        None => effective
            .catalogue
            .products()
            .iter()
            .find(|p| p.level == ValidationLevel::Dv && !p.free && !p.is_shangmi())
            .or_else(|| effective.catalogue.products().first())
            .map(|p| p.id)
            .context("the product catalogue is empty")?,
    };

    let opened = bootstrap::open(effective).await?;
    let service = IssuanceService::new(opened.store.clone(), Arc::clone(&opened.ca), Arc::new(effective.catalogue.clone()));
    let request = IssueRequest {
        account_id: None,
        product_id,
        csr,
        validation_method: ValidationMethod::None,
        days,
        alias: String::new(),
        project_id: 0,
        actor: "operator".to_owned(),
        detail: format!("ca sign --csr {}", csr_path.display()),
    };
    let record = service.issue(request, OffsetDateTime::now_utc()).await?;
    let leaf = record.certificate_der.as_deref().context("the issued record has no certificate")?;
    print!("{}", certkeeper_pki::to_pem("CERTIFICATE", leaf));
    print!("{}", certkeeper_pki::to_pem("CERTIFICATE", opened.ca.intermediate_der()));
    eprintln!("issued certificate {} (serial {})", record.id, record.serial.unwrap_or_default());
    opened.store.close().await;
    Ok(())
}
