//! `certkeeper review managers` and `certkeeper review orders`: decisions on organisation
//! managers waiting for verification and on OV and EV orders waiting in CA-REVIEWING.

use anyhow::{Context, bail};
use certkeeper_ra::OrderService;
use certkeeper_store::{CompanyRow, ManagerRow, MANAGER_AUDIT};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::DecisionCommand;

/// Actor written into the operation log and the manager row for CLI decisions.
const OPERATOR: &str = "operator";

fn manager_json(manager: &ManagerRow, company: &CompanyRow) -> Value {
    json!({
        "manager_id": manager.id,
        "status": manager.status,
        "status_info": manager.status_info,
        "first_name": manager.first_name,
        "last_name": manager.last_name,
        "position": manager.position,
        "phone": manager.phone,
        "email": manager.email,
        "expires_at": manager.expires_at,
        "company": {
            "company_id": company.id,
            "account_id": company.account_id,
            "name": company.name,
            "country": company.country,
            "province": company.province,
            "city": company.city,
            "address": company.address,
            "business_category": company.business_category,
            "jurisdiction_country": company.jurisdiction_country,
            "registration_number": company.registration_number,
        },
    })
}

fn parse_manager_id(id: &str) -> anyhow::Result<i64> {
    id.trim().parse().with_context(|| format!("manager id {id:?} is not a number; list the ids with `certkeeper review managers list`"))
}

/// Runs a decision command on managers.
pub async fn managers(orders: &OrderService, command: DecisionCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    match command {
        DecisionCommand::List { json } => {
            let mut items = Vec::new();
            for manager in orders.manager_rows(Some(MANAGER_AUDIT)).await? {
                let (manager, company) = orders.manager_with_company(manager.id, None).await?;
                items.push(manager_json(&manager, &company));
            }
            if json {
                println!("{}", Value::Array(items));
            } else if items.is_empty() {
                println!("no managers wait for verification");
            } else {
                println!("{:<8} {:<32} {:<4} {:<32} EMAIL", "ID", "ORGANISATION", "C", "MANAGER");
                for item in &items {
                    let name = format!("{} {}", item["first_name"].as_str().unwrap_or(""), item["last_name"].as_str().unwrap_or(""));
                    println!(
                        "{:<8} {:<32} {:<4} {:<32} {}",
                        item["manager_id"],
                        item["company"]["name"].as_str().unwrap_or(""),
                        item["company"]["country"].as_str().unwrap_or(""),
                        name,
                        item["email"].as_str().unwrap_or("")
                    );
                }
            }
        }
        DecisionCommand::Show { id, json } => {
            let (manager, company) = orders.manager_with_company(parse_manager_id(&id)?, None).await?;
            let item = manager_json(&manager, &company);
            if json {
                println!("{item}");
            } else {
                println!("{}", serde_json::to_string_pretty(&item)?);
            }
        }
        DecisionCommand::Approve { id } => {
            let manager = orders.approve_manager(parse_manager_id(&id)?, OPERATOR, now).await.with_context(|| format!("cannot approve manager {id}"))?;
            println!("approved manager {}: verified until {}", manager.id, manager.expires_at.unwrap_or_default());
        }
        DecisionCommand::Reject { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason is empty; give the reason the owner will see");
            }
            let manager = orders.reject_manager(parse_manager_id(&id)?, OPERATOR, reason.trim(), now).await.with_context(|| format!("cannot reject manager {id}"))?;
            println!("rejected manager {}", manager.id);
        }
    }
    Ok(())
}

/// Runs a decision command on OV and EV orders in CA-REVIEWING.
pub async fn orders(orders: &OrderService, command: DecisionCommand, now: OffsetDateTime) -> anyhow::Result<()> {
    match command {
        DecisionCommand::List { json } => {
            let records = orders.orders_in_review().await?;
            let items: Vec<Value> = records
                .iter()
                .map(|record| json!({ "certificate_id": record.id, "account_id": record.account_id, "product_id": record.product_id, "names": record.names }))
                .collect();
            if json {
                println!("{}", Value::Array(items));
            } else if records.is_empty() {
                println!("no orders wait for review");
            } else {
                println!("{:<10} {:<8} {:<8} NAMES", "ID", "ACCOUNT", "PRODUCT");
                for record in &records {
                    println!("{:<10} {:<8} {:<8} {}", record.id, record.account_id.unwrap_or_default(), record.product_id, record.names.join(","));
                }
            }
        }
        DecisionCommand::Show { id, json } => {
            let (record, submission) = orders.order_with_submission(&id).await?;
            let item = json!({
                "certificate_id": record.id,
                "status": record.status.code(),
                "status_message": record.status_message,
                "names": record.names,
                "manager_id": submission.as_ref().and_then(|row| row.manager_id),
                "submitted": submission.as_ref().and_then(|row| serde_json::from_str::<Value>(&row.data).ok()),
                "letter": submission.as_ref().and_then(|row| row.letter_type.clone()),
            });
            if json {
                println!("{item}");
            } else {
                println!("{}", serde_json::to_string_pretty(&item)?);
            }
        }
        DecisionCommand::Approve { id } => {
            let record = orders.approve_order(&id, OPERATOR, now).await.with_context(|| format!("cannot approve order {id}"))?;
            println!("approved order {}: issued with serial {}", record.id, record.serial.unwrap_or_default());
        }
        DecisionCommand::Reject { id, reason } => {
            if reason.trim().is_empty() {
                bail!("--reason is empty; give the reason the owner will see");
            }
            orders.reject_order(&id, OPERATOR, reason.trim(), now).await.with_context(|| format!("cannot reject order {id}"))?;
            println!("rejected order {id}");
        }
    }
    Ok(())
}
