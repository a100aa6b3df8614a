//! `certkeeper review`: list and decide revocation requests that wait for a reviewer.
//!
//! Decisions take effect in the database at once; a running server publishes an approved
//! revocation in its CRL and OCSP responses within about a second.

use anyhow::{Context, bail};
use certkeeper_store::{ReviewRow, Store};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::ReviewCommand;
use crate::bootstrap;
use crate::config::Effective;

/// Actor written into the operation log and the review row for CLI decisions.
const OPERATOR: &str = "operator";

pub async fn run(effective: &Effective, command: ReviewCommand) -> anyhow::Result<()> {
    let opened = bootstrap::open(effective).await?;
    let revocations = bootstrap::order_service(&opened, effective)?.revocations();
    let now = OffsetDateTime::now_utc();
    match command {
        ReviewCommand::List { state, json } => {
            let reviews = revocations.reviews(state.as_deref()).await?;
            if json {
                let items: Vec<Value> = reviews.iter().map(review_json).collect();
                println!("{}", Value::Array(items));
            } else if reviews.is_empty() {
                println!("no reviews");
            } else {
                println!("{:<6} {:<10} {:<24} {:<8} {:<6} REASON", "ID", "STATE", "CERTIFICATE", "KIND", "CODE");
                for review in &reviews {
                    println!(
                        "{:<6} {:<10} {:<24} {:<8} {:<6} {}",
                        review.id, review.state, review.certificate_id, review.kind, review.reason_code, review.reason
                    );
                }
            }
        }
        ReviewCommand::Show { id, json } => {
            let review = revocations.review(id).await?;
            if json {
                println!("{}", review_json(&review));
            } else {
                print_review(&review);
            }
        }
        ReviewCommand::Approve { id } => {
            let row = revocations.approve(id, OPERATOR, now).await.with_context(|| format!("cannot approve review {id}"))?;
            let certificate_id = row.certificate_id.unwrap_or_default();
            notify_decision(effective, &opened.store, id, &certificate_id, true, "", now).await;
            println!("approved review {id}: certificate {certificate_id} revoked with reason {}", row.reason_code);
        }
        ReviewCommand::Reject { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason is empty; give the reason the owner will see");
            }
            let review = revocations.reject(id, OPERATOR, reason.trim(), now).await.with_context(|| format!("cannot reject review {id}"))?;
            notify_decision(effective, &opened.store, id, &review.certificate_id, false, reason.trim(), now).await;
            println!("rejected review {id}: certificate {} is issued again", review.certificate_id);
        }
    }
    opened.store.close().await;
    Ok(())
}

/// Enqueues the `review.decided` notification; a running server delivers it. A failure is
/// reported but does not undo the decision.
async fn notify_decision(
    effective: &Effective,
    store: &Store,
    review_id: i64,
    certificate_id: &str,
    approved: bool,
    reason: &str,
    now: OffsetDateTime,
) {
    let account_id = store.certificate(certificate_id).await.ok().flatten().and_then(|record| record.account_id);
    let event = certkeeper_notify::Event::review_decided(review_id, certificate_id, account_id, approved, reason, now.unix_timestamp());
    let result = match certkeeper_notify::Notifier::new(store.clone(), effective.settings.notify.clone()) {
        Ok(notifier) => notifier.enqueue(&event, now.unix_timestamp()).await.map(|_| ()).map_err(|error| error.to_string()),
        Err(error) => Err(error.to_string()),
    };
    if let Err(error) = result {
        tracing::warn!(review_id, %error, "enqueuing the review decision notification failed; the decision stands");
        eprintln!("warning: the decision was recorded, but its notification was not enqueued: {error}");
    }
}

fn review_json(review: &ReviewRow) -> Value {
    json!({
        "id": review.id,
        "certificate_id": review.certificate_id,
        "kind": review.kind,
        "state": review.state,
        "reason": review.reason,
        "reason_code": review.reason_code,
        "decision_reason": review.decision_reason,
        "decided_by": review.decided_by,
        "decided_at": review.decided_at,
        "created_at": review.created_at,
    })
}

fn print_review(review: &ReviewRow) {
    println!("review:       {}", review.id);
    println!("certificate:  {}", review.certificate_id);
    println!("kind:         {}", review.kind);
    println!("state:        {}", review.state);
    println!("reason:       {}", review.reason);
    println!("reason code:  {}", review.reason_code);
    println!("created at:   {}", review.created_at);
    if let Some(decided_by) = &review.decided_by {
        println!("decided by:   {decided_by}");
        println!("decided at:   {}", review.decided_at.unwrap_or_default());
    }
    if !review.decision_reason.is_empty() {
        println!("rejection:    {}", review.decision_reason);
    }
}
