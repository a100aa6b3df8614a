//! `certkeeper notify`: an account's expiry thresholds and email recipients, and an expiry scan
//! on request.

use anyhow::{Context, bail};
use certkeeper_core::ExpiryThresholds;
use time::OffsetDateTime;

use crate::NotifyCommand;
use crate::bootstrap;
use crate::config::Effective;

pub async fn run(effective: &Effective, command: NotifyCommand) -> anyhow::Result<()> {
    match command {
        NotifyCommand::Settings { account, thresholds, email } => settings(effective, account, thresholds, email).await,
        NotifyCommand::Scan => scan(effective).await,
    }
}

async fn scan(effective: &Effective) -> anyhow::Result<()> {
    let opened = bootstrap::open(effective).await?;
    let service = certkeeper_notify::NotifyService::new(opened.store.clone(), effective.settings.notify.clone())?;
    if !service.notifier.has_channel() {
        bail!("no [notify.smtp] or [notify.webhook] is configured, so notices would be recorded but never sent; configure a channel first");
    }
    let report = service.scanner.scan(OffsetDateTime::now_utc().unix_timestamp()).await?;
    println!("expiry scan: {} certificates in the window, {} notices recorded", report.candidates, report.notices);
    opened.store.close().await;
    Ok(())
}

async fn settings(effective: &Effective, account: String, thresholds: Option<String>, email: Option<String>) -> anyhow::Result<()> {
    let opened = bootstrap::open(effective).await?;
    let store = &opened.store;
    let row = store.account_by_name(&account).await?.with_context(|| format!("no account is called {account:?}"))?;
    let current = store.notification_settings(row.id).await?;
    if thresholds.is_some() || email.is_some() {
        let thresholds = match thresholds {
            Some(text) => ExpiryThresholds::parse(&text).with_context(|| format!("--thresholds {text:?} is invalid"))?,
            None => match &current {
                Some(settings) => ExpiryThresholds::parse(&settings.expiry_thresholds)?,
                None => ExpiryThresholds::new(&effective.settings.notify.expiry_thresholds)?,
            },
        };
        let email = match email {
            Some(text) => {
                let addresses: Vec<&str> = text.split(',').map(str::trim).filter(|a| !a.is_empty()).collect();
                if let Some(bad) = addresses.iter().find(|a| !certkeeper_notify::config::is_email_address(a)) {
                    bail!("--email: {bad:?} is not an email address; give addresses such as ops@example.com");
                }
                addresses.join(",")
            }
            None => current.as_ref().map(|settings| settings.email.clone()).unwrap_or_default(),
        };
        store.set_notification_settings(row.id, &thresholds.to_string(), &email, OffsetDateTime::now_utc().unix_timestamp()).await?;
    }
    let stored = store.notification_settings(row.id).await?;
    let defaults = || ExpiryThresholds::new(&effective.settings.notify.expiry_thresholds).map(|t| t.to_string()).unwrap_or_default();
    match stored {
        Some(settings) => {
            println!("account:    {account}");
            println!("thresholds: {} days", settings.expiry_thresholds);
            println!("email:      {}", if settings.email.is_empty() { "(configured default recipients)" } else { &settings.email });
        }
        None => {
            println!("account:    {account}");
            println!("thresholds: {} days (configured default)", defaults());
            println!("email:      (configured default recipients)");
        }
    }
    store.close().await;
    Ok(())
}
