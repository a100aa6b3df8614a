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

/// Delivers the reminders that owners request and the review decisions of revocation requests
/// through the notification channels. Each event is enqueued on a task of its own, after the
/// change it reports is committed.
pub struct NotifierEvents {
    notifier: certkeeper_notify::Notifier,
}

impl NotifierEvents {
    pub fn new(notifier: certkeeper_notify::Notifier) -> Self {
        NotifierEvents { notifier }
    }

    fn enqueue(&self, event: certkeeper_notify::Event) {
        let notifier = self.notifier.clone();
        tokio::spawn(async move {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            if let Err(error) = notifier.enqueue(&event, now).await {
                tracing::warn!(event = %event.id, %error, "enqueueing a notification failed");
            }
        });
    }
}

impl certkeeper_ra::RevocationEvents for NotifierEvents {
    fn remind_reviewers(&self, review: &certkeeper_store::ReviewRow) {
        let now = review.reminded_at.unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp());
        self.enqueue(certkeeper_notify::Event::requested_review_reminder(
            review.id,
            &review.certificate_id,
            &review.kind,
            review.created_at,
            now,
        ));
    }

    fn review_decided(&self, review: &certkeeper_store::ReviewRow) {
        let at = review.decided_at.unwrap_or_else(|| OffsetDateTime::now_utc().unix_timestamp());
        self.enqueue(certkeeper_notify::Event::review_decided(
            review.id,
            &review.certificate_id,
            None,
            review.state == "approved",
            &review.decision_reason,
            at,
        ));
    }
}
