//! `certkeeper account` and `certkeeper key`: accounts and their API keys.

use anyhow::{Context, bail};
use certkeeper_api::keys::{create_api_key, parse_role};
use serde_json::json;
use time::OffsetDateTime;

use crate::bootstrap;
use crate::config::Effective;
use crate::{AccountCommand, KeyCommand};

pub async fn run_account(effective: &Effective, command: AccountCommand) -> anyhow::Result<()> {
    let AccountCommand::Create { name, role, json } = command;
    if parse_role(&role).is_none() {
        bail!("unknown role {role:?}; use user, reviewer or admin");
    }
    if name.trim().is_empty() || name.chars().any(char::is_control) {
        bail!("the account name {name:?} is invalid; give a non-empty name without control characters");
    }
    let opened = bootstrap::open(effective).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let account_id = match opened.store.create_account(&name, &role, now).await {
        Ok(id) => id,
        Err(error) if error.is_unique_violation() => bail!("an account called {name:?} already exists; choose another name"),
        Err(error) => return Err(error.into()),
    };
    let key = create_api_key(&opened.store, &opened.master_key, account_id, now).await?;
    tracing::info!(account_id, account = %name, %role, secret_id = %key.secret_id, "created account and API key");
    if json {
        let output = json!({ "account_id": account_id, "secret_id": key.secret_id, "secret_key": key.secret_key.as_str() });
        println!("{output}");
    } else {
        println!("account:    {name} (id {account_id}, role {role})");
        println!("SecretId:   {}", key.secret_id);
        println!("SecretKey:  {}", key.secret_key.as_str());
        eprintln!("store the SecretKey now; certkeeper keeps it sealed and cannot show it again");
    }
    opened.store.close().await;
    Ok(())
}

pub async fn run_key(effective: &Effective, command: KeyCommand) -> anyhow::Result<()> {
    let opened = bootstrap::open(effective).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    match command {
        KeyCommand::Create { account, json } => {
            let found = opened.store.account_by_name(&account).await?;
            let found = found.with_context(|| format!("no account is called {account:?}; create it with `certkeeper account create`"))?;
            let key = create_api_key(&opened.store, &opened.master_key, found.id, now).await?;
            tracing::info!(account_id = found.id, secret_id = %key.secret_id, "created API key");
            if json {
                let output = json!({ "account_id": found.id, "secret_id": key.secret_id, "secret_key": key.secret_key.as_str() });
                println!("{output}");
            } else {
                println!("SecretId:   {}", key.secret_id);
                println!("SecretKey:  {}", key.secret_key.as_str());
                eprintln!("store the SecretKey now; certkeeper keeps it sealed and cannot show it again");
            }
        }
        KeyCommand::List { account, json } => {
            let found = opened.store.account_by_name(&account).await?;
            let found = found.with_context(|| format!("no account is called {account:?}"))?;
            let keys = opened.store.api_keys(found.id).await?;
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|key| json!({ "secret_id": key.secret_id, "enabled": !key.disabled, "created_at": key.created_at }))
                    .collect();
                println!("{}", json!({ "account_id": found.id, "keys": rows }));
            } else {
                for key in &keys {
                    let state = if key.disabled { "disabled" } else { "enabled" };
                    println!("{}  {state:8}  created {}", key.secret_id, key.created_at);
                }
            }
        }
        KeyCommand::Disable { secret_id } => {
            if !opened.store.disable_api_key(&secret_id).await? {
                bail!("no API key has the SecretId {secret_id}");
            }
            tracing::info!(%secret_id, "disabled API key");
            println!("disabled {secret_id}");
        }
    }
    opened.store.close().await;
    Ok(())
}
