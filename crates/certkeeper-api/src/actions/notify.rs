//! ModifyCertificatesExpiringNotificationSwitch, and the certkeeper extension actions
//! DescribeNotificationSettings and ModifyNotificationSettings for an account's expiry thresholds
//! and email recipients.

use std::sync::Arc;

use certkeeper_core::ExpiryThresholds;
use certkeeper_store::LogEntry;
use serde_json::{Value, json};

use super::metadata::actor;
use super::{ActionRegistry, Services, account_scope, store_failure};
use crate::action::RequestContext;
use crate::error::ApiError;
use crate::params::Params;

/// Most certificate ids one ModifyCertificatesExpiringNotificationSwitch call may change.
const MAX_SWITCH_IDS: usize = 50;
/// Most email recipients per account.
const MAX_EMAILS: usize = 10;
/// Maximum length of an email address, in characters; longer ones do not fit an SMTP path.
const MAX_EMAIL_CHARS: usize = 254;

pub(super) fn register(registry: &mut ActionRegistry<Services>) {
    registry.register("ModifyCertificatesExpiringNotificationSwitch", &["CertificateIds", "SwitchStatus"], modify_switch);
    registry.register("DescribeNotificationSettings", &[], describe_settings);
    registry.register("ModifyNotificationSettings", &["ExpiringThresholds", "Emails"], modify_settings);
}

async fn modify_switch(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let ids = params.required_string_array("CertificateIds")?;
    let switch = params.required_integer("SwitchStatus")?;
    if ids.is_empty() {
        return Err(ApiError::invalid_parameter_value("CertificateIds", "give at least one certificate id"));
    }
    if ids.len() > MAX_SWITCH_IDS {
        return Err(ApiError::new(
            "InvalidParameter.CertificateIdNumberLimit",
            format!("CertificateIds has {} ids; at most {MAX_SWITCH_IDS} are allowed", ids.len()),
        ));
    }
    let ignore = match switch {
        0 => false,
        1 => true,
        other => return Err(ApiError::invalid_parameter_value("SwitchStatus", format!("{other} is not allowed; give 0 to send expiry notices or 1 to ignore them"))),
    };
    // Every id must be visible before anything changes.
    for id in &ids {
        services.visible_certificate(&ctx, id).await?;
    }
    let actor = actor(&ctx);
    let detail = if ignore { "expiry notices off" } else { "expiry notices on" };
    let log = LogEntry { actor: &actor, action: "expiringNotificationSwitch", detail, at: services.now() };
    let changed = services
        .store
        .set_expiry_notice_switch(account_scope(&ctx), &ids, ignore, &log)
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    Ok(json!({ "CertificateIds": changed }))
}

async fn describe_settings(services: Arc<Services>, ctx: RequestContext, _params: Params) -> Result<Value, ApiError> {
    let row = services.store.notification_settings(ctx.account_id).await.map_err(|error| store_failure(&ctx, &error))?;
    let thresholds = row.as_ref().and_then(|row| ExpiryThresholds::parse(&row.expiry_thresholds).ok());
    let emails: Vec<&str> = row.as_ref().map(|row| row.email.split(',').filter(|a| !a.is_empty()).collect()).unwrap_or_default();
    Ok(json!({
        // Null means the service's configured default thresholds apply.
        "ExpiringThresholds": thresholds.map(|t| t.days().to_vec()),
        "Emails": emails,
    }))
}

async fn modify_settings(services: Arc<Services>, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
    let current = services.store.notification_settings(ctx.account_id).await.map_err(|error| store_failure(&ctx, &error))?;
    let thresholds = match params.optional_integer_array("ExpiringThresholds")? {
        Some(values) => {
            let days: Vec<u32> = values
                .iter()
                .map(|&value| u32::try_from(value).map_err(|_| ApiError::invalid_parameter_value("ExpiringThresholds", format!("{value} is out of range; give 1 to 398 days"))))
                .collect::<Result<_, _>>()?;
            ExpiryThresholds::new(&days).map_err(|error| ApiError::invalid_parameter_value("ExpiringThresholds", error))?.to_string()
        }
        None => match &current {
            Some(row) => row.expiry_thresholds.clone(),
            None => ExpiryThresholds::default().to_string(),
        },
    };
    let emails = match params.optional_string_array("Emails")? {
        Some(emails) => check_emails(&emails)?.join(","),
        None => current.as_ref().map(|row| row.email.clone()).unwrap_or_default(),
    };
    services
        .store
        .set_notification_settings(ctx.account_id, &thresholds, &emails, services.now())
        .await
        .map_err(|error| store_failure(&ctx, &error))?;
    let days = ExpiryThresholds::parse(&thresholds).map(|t| t.days().to_vec()).unwrap_or_default();
    let emails: Vec<&str> = emails.split(',').filter(|a| !a.is_empty()).collect();
    Ok(json!({ "ExpiringThresholds": days, "Emails": emails }))
}

/// Checks the shape of email addresses: one `@` with text on both sides, no spaces, commas or
/// angle brackets. Deliverability is not checked.
fn check_emails(emails: &[String]) -> Result<Vec<String>, ApiError> {
    if emails.len() > MAX_EMAILS {
        return Err(ApiError::invalid_parameter_value("Emails", format!("{} addresses given; at most {MAX_EMAILS} are allowed", emails.len())));
    }
    let mut checked = Vec::new();
    for email in emails {
        let email = email.trim();
        let valid = email.len() <= MAX_EMAIL_CHARS
            && email.split('@').count() == 2
            && email.split('@').all(|part| !part.is_empty())
            && !email.contains(|c: char| c.is_whitespace() || c.is_control() || matches!(c, ',' | '<' | '>' | '"'));
        if !valid {
            return Err(ApiError::invalid_parameter_value("Emails", format!("{email:?} is not an email address; give addresses such as ops@example.com")));
        }
        if !checked.iter().any(|known: &String| known.eq_ignore_ascii_case(email)) {
            checked.push(email.to_owned());
        }
    }
    Ok(checked)
}
