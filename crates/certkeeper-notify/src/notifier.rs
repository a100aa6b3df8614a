//! The entry point of every notification: [`Notifier::enqueue`] turns an event into one durable
//! delivery job per channel, and the job runner calls [`Notifier::deliver`] for each.

use std::sync::Arc;

use certkeeper_store::{Backoff, JobRow, NewJob, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::channels::{ChannelError, EmailChannel, WebhookChannel};
use crate::config::NotifyConfig;
use crate::event::Event;

/// Job kind of an email delivery.
pub const KIND_EMAIL: &str = "notify-email";
/// Job kind of a webhook delivery.
pub const KIND_WEBHOOK: &str = "notify-webhook";

/// Job kind of the periodic check for decided reviews and for reviews that wait for a decision.
pub const KIND_REVIEW_EVENTS: &str = "review-events";

/// Decided reviews read per query while enqueuing their notifications.
const DECISIONS_PER_QUERY: i64 = 500;

/// Wait after which a pending review gets a daily reminder, in seconds (one day).
const REVIEW_REMINDER_AFTER_SECONDS: i64 = 86_400;

/// Payload of a [`KIND_EMAIL`] job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EmailDelivery {
    pub to: Vec<String>,
    pub event: Event,
}

/// Payload of a [`KIND_WEBHOOK`] job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub url: String,
    pub event: Event,
}

/// Error of a notification operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error("the job payload is invalid: {0}")]
    Payload(#[from] serde_json::Error),
    #[error("{kind} deliveries are not configured in this process; add the channel to [notify]")]
    ChannelMissing { kind: &'static str },
}

/// Enqueues events for delivery and delivers them.
#[derive(Clone)]
pub struct Notifier {
    store: Store,
    config: Arc<NotifyConfig>,
    email: Option<EmailChannel>,
    webhook: Option<WebhookChannel>,
}

impl Notifier {
    /// Builds the channels of a validated configuration.
    pub fn new(store: Store, config: NotifyConfig) -> Result<Self, ChannelError> {
        let email = config.smtp.as_ref().map(EmailChannel::new).transpose()?;
        let webhook = config.webhook.as_ref().map(WebhookChannel::new).transpose()?;
        Ok(Notifier { store, config: Arc::new(config), email, webhook })
    }

    /// Returns true when email or a webhook is configured.
    pub fn has_channel(&self) -> bool {
        self.email.is_some() || self.webhook.is_some()
    }

    /// Returns the configuration.
    pub fn config(&self) -> &NotifyConfig {
        &self.config
    }

    /// Returns the store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Returns the retry delays of deliveries.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base_seconds: i64::try_from(self.config.retry_base.as_secs()).unwrap_or(i64::MAX),
            max_seconds: i64::try_from(self.config.retry_max.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Returns the email recipients for an account: its own addresses when it set some, else
    /// the configured default recipients.
    pub async fn recipients(&self, account_id: Option<i64>) -> Result<Vec<String>, StoreError> {
        let own = match account_id {
            Some(id) => self.store.notification_settings(id).await?.map(|row| row.email).unwrap_or_default(),
            None => String::new(),
        };
        Ok(self.recipients_from(&own))
    }

    /// Returns the addresses of a stored, comma-separated list, or the default recipients when
    /// the list is empty.
    pub fn recipients_from(&self, stored: &str) -> Vec<String> {
        let own: Vec<String> = stored.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect();
        if !own.is_empty() {
            return own;
        }
        self.config.smtp.as_ref().map(|smtp| smtp.to.clone()).unwrap_or_default()
    }

    /// Builds one delivery job per configured channel: an email to `recipients` (when SMTP is
    /// configured and there is a recipient) and a POST to each webhook URL. Each job's unique key
    /// starts with the event id, so the same event is never delivered twice on one channel.
    pub fn deliveries(&self, event: &Event, recipients: &[String], now: i64) -> Result<Vec<NewJob>, NotifyError> {
        let max_attempts = i64::from(self.config.max_attempts);
        let mut jobs = Vec::new();
        if self.config.smtp.is_some() && !recipients.is_empty() {
            let payload = EmailDelivery { to: recipients.to_vec(), event: event.clone() };
            jobs.push(NewJob {
                kind: KIND_EMAIL.to_owned(),
                unique_key: format!("{}:email", event.id),
                payload: serde_json::to_string(&payload)?,
                run_after: now,
                max_attempts,
            });
        }
        if let Some(webhook) = &self.config.webhook {
            for url in &webhook.urls {
                let payload = WebhookDelivery { url: url.clone(), event: event.clone() };
                jobs.push(NewJob {
                    kind: KIND_WEBHOOK.to_owned(),
                    unique_key: format!("{}:webhook:{url}", event.id),
                    payload: serde_json::to_string(&payload)?,
                    run_after: now,
                    max_attempts,
                });
            }
        }
        Ok(jobs)
    }

    /// Enqueues the deliveries of an event to its account's recipients and every webhook, and
    /// returns how many were new. Review, revocation and other flows call this; an event id
    /// enqueued before adds nothing.
    pub async fn enqueue(&self, event: &Event, now: i64) -> Result<usize, NotifyError> {
        let recipients = self.recipients(event.account_id).await?;
        let jobs = self.deliveries(event, &recipients, now)?;
        let added = self.store.enqueue_jobs(&jobs, now).await?;
        tracing::debug!(event_id = %event.id, event_type = event.kind.as_str(), added, "notification enqueued");
        Ok(added)
    }

    /// Enqueues a reminder for every pending review that has waited at least a day, at most one
    /// per review and day, to the default recipients. Returns how many reminders were new.
    pub async fn remind_reviewers(&self, now: i64) -> Result<usize, NotifyError> {
        let mut added = 0;
        for review in self.store.reviews(Some("pending")).await? {
            if now - review.created_at < REVIEW_REMINDER_AFTER_SECONDS {
                continue;
            }
            let event = Event::review_reminder(review.id, &review.certificate_id, &review.kind, review.created_at, now);
            added += self.enqueue(&event, now).await?;
        }
        Ok(added)
    }

    /// Enqueues a `review.decided` event for every decision not notified yet, once per review,
    /// however it was decided (CLI or API) and however long no server ran. Returns how many
    /// were new.
    ///
    /// A decision is marked as notified after its event is enqueued. If a server stops between
    /// the two steps, the next check enqueues it again, and the job's de-duplication key keeps
    /// it to one delivery while the first job is kept (seven days).
    pub async fn notify_decisions(&self, now: i64) -> Result<usize, NotifyError> {
        let mut added = 0;
        loop {
            let reviews = self.store.decisions_to_notify(DECISIONS_PER_QUERY).await?;
            if reviews.is_empty() {
                return Ok(added);
            }
            for review in reviews {
                let account_id = self.store.certificate(&review.certificate_id).await?.and_then(|record| record.account_id);
                let approved = review.state == "approved";
                let decided_at = review.decided_at.unwrap_or(now);
                let event = Event::review_decided(review.id, &review.certificate_id, account_id, approved, &review.decision_reason, decided_at);
                added += self.enqueue(&event, now).await?;
                self.store.mark_decision_notified(review.id, now).await?;
            }
        }
    }

    /// Delivers the email or webhook job `job`.
    pub async fn deliver(&self, job: &JobRow, now: i64) -> Result<(), NotifyError> {
        match job.kind.as_str() {
            KIND_EMAIL => {
                let delivery: EmailDelivery = serde_json::from_str(&job.payload)?;
                let channel = self.email.as_ref().ok_or(NotifyError::ChannelMissing { kind: "email" })?;
                channel.send(&delivery.to, &delivery.event).await?;
                tracing::info!(job_id = job.id, event_id = %delivery.event.id, recipients = delivery.to.len(), "email sent");
            }
            KIND_WEBHOOK => {
                let delivery: WebhookDelivery = serde_json::from_str(&job.payload)?;
                let channel = self.webhook.as_ref().ok_or(NotifyError::ChannelMissing { kind: "webhook" })?;
                channel.send(&delivery.url, &delivery.event, now).await?;
                tracing::info!(job_id = job.id, event_id = %delivery.event.id, "webhook delivered");
            }
            other => {
                return Err(NotifyError::Payload(serde::de::Error::custom(format!("job kind {other} is not a delivery"))));
            }
        }
        Ok(())
    }
}
