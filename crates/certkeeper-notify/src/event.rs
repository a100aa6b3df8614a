//! Events that notifications carry, and how they read.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// A certificate passed one of its expiry thresholds.
    #[serde(rename = "certificate.expiring")]
    CertificateExpiring,
    /// A certificate was revoked.
    #[serde(rename = "certificate.revoked")]
    CertificateRevoked,
    /// A reviewer approved or rejected a request.
    #[serde(rename = "review.decided")]
    ReviewDecided,
    /// A request still waits for a reviewer.
    #[serde(rename = "review.reminder")]
    ReviewReminder,
}

impl EventKind {
    /// Returns the name used in webhook bodies and the `X-Certkeeper-Event` header.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::CertificateExpiring => "certificate.expiring",
            EventKind::CertificateRevoked => "certificate.revoked",
            EventKind::ReviewDecided => "review.decided",
            EventKind::ReviewReminder => "review.reminder",
        }
    }
}

/// One notification, delivered to every configured channel.
///
/// The JSON form is the body of a webhook POST.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// De-duplication key: an event with a key enqueued before is not delivered again.
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// Unix seconds.
    pub occurred_at: i64,
    pub account_id: Option<i64>,
    pub certificate_id: Option<String>,
    /// One-line summary, the subject of an email.
    pub subject: String,
    /// Plain-text message, the body of an email.
    pub text: String,
    /// Fields for programs, by kind.
    pub data: serde_json::Value,
}

/// Formats a Unix time as `2031-03-30 01:30:00 UTC`.
pub fn utc_text(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&format).ok())
        .unwrap_or_else(|| format!("{unix} (Unix seconds)"))
}

/// Formats a Unix time as RFC 3339 in UTC, such as `2031-03-30T01:30:00Z`.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// Details of an expiry notice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryNotice<'a> {
    pub certificate_id: &'a str,
    pub account_id: Option<i64>,
    pub domain: &'a str,
    pub not_after: i64,
    pub threshold_days: u32,
    pub days_left: i64,
}

impl Event {
    /// Builds the event of an expiry notice. Its id is `expiry:<certificate id>:<threshold>`.
    pub fn expiring(notice: &ExpiryNotice<'_>, now: i64) -> Event {
        let expires = utc_text(notice.not_after);
        let left = match notice.days_left {
            1 => "1 day".to_owned(),
            days => format!("{days} days"),
        };
        let subject = format!("Certificate for {} expires in {left}", notice.domain);
        let text = format!(
            "The certificate {id} for {domain} expires at {expires}.\n\
             Days left: {days_left} (whole days of 24 hours until expiry, counted in UTC).\n\
             This is the {threshold}-day notice.\n\
             Renew or replace the certificate before it expires.\n",
            id = notice.certificate_id,
            domain = notice.domain,
            days_left = notice.days_left,
            threshold = notice.threshold_days,
        );
        Event {
            id: format!("expiry:{}:{}", notice.certificate_id, notice.threshold_days),
            kind: EventKind::CertificateExpiring,
            occurred_at: now,
            account_id: notice.account_id,
            certificate_id: Some(notice.certificate_id.to_owned()),
            subject,
            text,
            data: serde_json::json!({
                "domain": notice.domain,
                "not_after": rfc3339(notice.not_after),
                "days_left": notice.days_left,
                "threshold_days": notice.threshold_days,
            }),
        }
    }

    /// Builds the event of a revocation. Its id is `revoked:<serial>`.
    pub fn revoked(certificate_id: Option<&str>, account_id: Option<i64>, serial: &str, reason_code: i64, revoked_at: i64) -> Event {
        let name = certificate_id.unwrap_or(serial);
        Event {
            id: format!("revoked:{serial}"),
            kind: EventKind::CertificateRevoked,
            occurred_at: revoked_at,
            account_id,
            certificate_id: certificate_id.map(str::to_owned),
            subject: format!("Certificate {name} was revoked"),
            text: format!(
                "The certificate {name} (serial {serial}) was revoked at {} with reason code {reason_code} (RFC 5280 CRLReason).\n",
                utc_text(revoked_at)
            ),
            data: serde_json::json!({ "serial": serial, "reason_code": reason_code, "revoked_at": rfc3339(revoked_at) }),
        }
    }

    /// Builds a reminder that review `review_id` has waited since `created_at`. Its id is
    /// `review:<review id>:reminder:<whole days waited>`, so each review gets at most one
    /// reminder per day.
    pub fn review_reminder(review_id: i64, certificate_id: &str, kind: &str, created_at: i64, now: i64) -> Event {
        let days = (now - created_at).div_euclid(86_400);
        Event {
            id: format!("review:{review_id}:reminder:{days}"),
            kind: EventKind::ReviewReminder,
            occurred_at: now,
            account_id: None,
            certificate_id: Some(certificate_id.to_owned()),
            subject: format!("Review {review_id} of certificate {certificate_id} is waiting"),
            text: format!(
                "Review {review_id} ({kind}) of certificate {certificate_id} has waited since {} for a decision.\n\
                 Decide it with `certkeeper review approve {review_id}` or `certkeeper review reject {review_id} --reason TEXT`.\n",
                utc_text(created_at)
            ),
            data: serde_json::json!({ "review_id": review_id, "review_kind": kind, "waiting_since": rfc3339(created_at) }),
        }
    }

    /// Builds a reminder that a certificate's owner requested at `now` for review `review_id`.
    /// Its id is `review:<review id>:requested-reminder:<now>`; the revocation service allows one
    /// such request per review and hour.
    pub fn requested_review_reminder(review_id: i64, certificate_id: &str, kind: &str, created_at: i64, now: i64) -> Event {
        let mut event = Event::review_reminder(review_id, certificate_id, kind, created_at, now);
        event.id = format!("review:{review_id}:requested-reminder:{now}");
        event.subject = format!("Reminder from the owner: review {review_id} of certificate {certificate_id} is waiting");
        event
    }

    /// Builds the event of a review decision. Its id is `review:<review id>:decided`.
    pub fn review_decided(review_id: i64, certificate_id: &str, account_id: Option<i64>, approved: bool, reason: &str, at: i64) -> Event {
        let decision = if approved { "approved" } else { "rejected" };
        let mut text = format!("Review {review_id} of certificate {certificate_id} was {decision} at {}.\n", utc_text(at));
        if !reason.is_empty() {
            text.push_str(&format!("Reason: {reason}\n"));
        }
        Event {
            id: format!("review:{review_id}:decided"),
            kind: EventKind::ReviewDecided,
            occurred_at: at,
            account_id,
            certificate_id: Some(certificate_id.to_owned()),
            subject: format!("Request for certificate {certificate_id} {decision}"),
            text,
            data: serde_json::json!({ "review_id": review_id, "decision": decision, "reason": reason }),
        }
    }
}
