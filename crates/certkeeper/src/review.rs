//! `certkeeper review`: list and decide revocation requests that wait for a reviewer.
//!
//! Decisions take effect in the database at once; a running server publishes an approved
//! revocation in its CRL and OCSP responses within about a second.

use anyhow::{Context, bail};
use certkeeper_store::ReviewRow;
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
            println!("approved review {id}: certificate {} revoked with reason {}", row.certificate_id.unwrap_or_default(), row.reason_code);
        }
        ReviewCommand::Reject { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason is empty; give the reason the owner will see");
            }
            let review = revocations.reject(id, OPERATOR, reason.trim(), now).await.with_context(|| format!("cannot reject review {id}"))?;
            println!("rejected review {id}: certificate {} is issued again", review.certificate_id);
        }
    }
    opened.store.close().await;
    Ok(())
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
