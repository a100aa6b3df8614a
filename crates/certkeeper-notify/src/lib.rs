//! Notifications for certkeeper and the runner of durable jobs.
//!
//! Flows call [`Notifier::enqueue`] with an [`Event`]; it writes one job per channel (email over
//! SMTP, and a signed JSON POST per webhook URL) to the jobs table. The [`JobRunner`] of
//! `certkeeper serve` delivers them with retries and backoff, and runs the periodic
//! [`ExpiryScanner`]. All state lives in the database, so a restart loses nothing, and several
//! processes sharing a database run each job once.

pub mod channels;
pub mod config;
pub mod event;
pub mod expiry;
pub mod notifier;
pub mod runner;

use std::sync::Arc;

use certkeeper_store::Store;

pub use channels::{ChannelError, verify_webhook_signature, webhook_signature};
pub use config::{NotifyConfig, NotifyConfigError, Secret, SmtpConfig, SmtpSecurity, WebhookConfig};
pub use event::{Event, EventKind};
pub use expiry::{ExpiryScanner, KIND_EXPIRY_SCAN, ScanReport};
pub use notifier::{KIND_EMAIL, KIND_REVIEW_EVENTS, KIND_WEBHOOK, Notifier, NotifyError};
pub use runner::{JobHandler, JobRunner, RunnerSettings};

/// Time between checks for decided and waiting reviews.
const REVIEW_EVENTS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// The notifier, the expiry scanner and a runner with their handlers, as `serve` runs them.
pub struct NotifyService {
    pub notifier: Notifier,
    pub scanner: ExpiryScanner,
    pub runner: JobRunner,
}

impl NotifyService {
    /// Validates the configuration and builds the runner with its handlers: deliveries, an
    /// expiry scan every `scan_interval`, and a check for decided and waiting reviews every
    /// minute. The two periodic jobs are scheduled only when a channel is configured.
    pub fn new(store: Store, config: NotifyConfig) -> Result<Self, NotifyStartError> {
        let defaults = config.validate()?;
        let notifier = Notifier::new(store.clone(), config)?;
        let scanner = ExpiryScanner::new(notifier.clone(), defaults);
        let settings = RunnerSettings {
            poll_interval: notifier.config().poll_interval,
            lease: notifier.config().lease,
            backoff: notifier.backoff(),
            max_attempts: i64::from(notifier.config().max_attempts),
        };
        let mut runner = JobRunner::new(store, settings);

        let delivery = delivery_handler(notifier.clone());
        runner.handle(KIND_EMAIL, Arc::clone(&delivery));
        runner.handle(KIND_WEBHOOK, delivery);
        runner.handle(KIND_EXPIRY_SCAN, expiry_scan_handler(scanner.clone()));
        runner.handle(KIND_REVIEW_EVENTS, review_events_handler(notifier.clone()));

        // Without a channel nothing could be delivered, and a notice recorded now would not be
        // sent once a channel is configured, so the periodic jobs start only with a channel.
        if notifier.has_channel() {
            runner.every(KIND_EXPIRY_SCAN, notifier.config().scan_interval);
            runner.every(KIND_REVIEW_EVENTS, REVIEW_EVENTS_INTERVAL);
        } else {
            tracing::info!("no [notify.smtp] or [notify.webhook] configured; expiry scans and review notices are off");
        }

        Ok(NotifyService { notifier, scanner, runner })
    }
}

fn delivery_handler(notifier: Notifier) -> JobHandler {
    Arc::new(move |job, now| {
        let notifier = notifier.clone();
        Box::pin(async move { notifier.deliver(&job, now).await.map_err(|error| error.to_string()) })
    })
}

fn expiry_scan_handler(scanner: ExpiryScanner) -> JobHandler {
    Arc::new(move |_job, now| {
        let scanner = scanner.clone();
        Box::pin(async move {
            let report = scanner.scan(now).await.map_err(|error| error.to_string())?;
            tracing::info!(candidates = report.candidates, notices = report.notices, "expiry scan finished");
            Ok(())
        })
    })
}

fn review_events_handler(notifier: Notifier) -> JobHandler {
    Arc::new(move |_job, now| {
        let notifier = notifier.clone();
        Box::pin(async move {
            let decisions = notifier.notify_decisions(now).await.map_err(|error| error.to_string())?;
            let reminders = notifier.remind_reviewers(now).await.map_err(|error| error.to_string())?;
            if decisions + reminders > 0 {
                tracing::info!(decisions, reminders, "review notifications enqueued");
            }
            Ok(())
        })
    })
}

/// Error of [`NotifyService::new`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyStartError {
    #[error(transparent)]
    Config(#[from] NotifyConfigError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
}
