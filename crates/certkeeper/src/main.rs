//! `certkeeper`: the self-hosted certificate service and its operator commands.

mod accounts;
mod api;
mod bootstrap;
mod client;
mod commands;
mod config;
mod http;
mod notify;
mod review;
mod review_orders;
mod revoke;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Self-hosted SSL/TLS certificate service.
#[derive(Debug, Parser)]
#[command(name = "certkeeper", version, about)]
pub struct Cli {
    /// TOML configuration file; environment variables and flags override its values.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (database, master key file, generated files). Default: ./certkeeper-data
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service: the API, CA certificate downloads and health check.
    Serve {
        /// Address to listen on. Default: 127.0.0.1:8080
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Base URL written into certificates. Default: http://<listen>
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Inspect and use the certificate authority.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Manage API accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manage the API keys (SecretId and SecretKey) of an account.
    #[command(subcommand)]
    Key(KeyCommand),
    /// List and decide revocation requests that wait for a reviewer.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// Show or change an account's expiry notice thresholds and email recipients.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Call a certkeeper API (or any Tencent Cloud compatible `ssl` API) as a client.
    Client(client::ClientArgs),
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create an account and its first API key, and print the SecretId and SecretKey.
    Create {
        /// Unique account name.
        name: String,
        /// Permission level: user, reviewer or admin.
        #[arg(long, default_value = "user", value_name = "ROLE")]
        role: String,
        /// Print {"account_id", "secret_id", "secret_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create another API key for an account and print its SecretId and SecretKey.
    Create {
        /// Account name.
        #[arg(long, value_name = "NAME")]
        account: String,
        /// Print {"account_id", "secret_id", "secret_key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the SecretIds of an account; SecretKeys are never shown.
    List {
        /// Account name.
        #[arg(long, value_name = "NAME")]
        account: String,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an API key, so requests signed with it are rejected.
    Disable {
        /// SecretId of the key.
        secret_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ReviewCommand {
    /// List reviews, oldest first.
    List {
        /// Show only reviews in this state: pending, approved or rejected.
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        /// Print an array of objects with id, certificate_id, kind, state, reason, reason_code,
        /// decision_reason, decided_by, decided_at and created_at (Unix seconds).
        #[arg(long)]
        json: bool,
    },
    /// Show one review.
    Show {
        /// Review id.
        id: i64,
        /// Print the review as a JSON object.
        #[arg(long)]
        json: bool,
        /// Write the uploaded revocation letter or application form to this file.
        #[arg(long, value_name = "FILE")]
        letter_out: Option<std::path::PathBuf>,
    },
    /// Approve a pending revocation request: the certificate is revoked (status 10).
    Approve {
        /// Review id.
        id: i64,
    },
    /// Reject a pending revocation request: the certificate is issued again (status 1).
    Reject {
        /// Review id.
        id: i64,
        /// Reason shown to the owner in the certificate's status message.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
    /// List and decide organisation managers that wait for verification (status audit).
    #[command(subcommand)]
    Managers(DecisionCommand),
    /// List and decide OV and EV orders whose domains are validated (CA-REVIEWING).
    #[command(subcommand)]
    Orders(DecisionCommand),
}

/// Decisions on managers (by manager id) and on orders (by certificate id).
#[derive(Debug, Subcommand)]
enum DecisionCommand {
    /// List what waits for a decision, oldest first.
    List {
        /// Print an array of JSON objects.
        #[arg(long)]
        json: bool,
    },
    /// Show one manager with its organisation, or one order with its submitted data.
    Show {
        /// Manager id or certificate id.
        id: String,
        /// Print a JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Approve: a manager is verified for 398 days, an order is issued.
    Approve {
        /// Manager id or certificate id.
        id: String,
    },
    /// Reject with a reason that is shown to the owner.
    Reject {
        /// Manager id or certificate id.
        id: String,
        /// Reason shown to the owner.
        #[arg(long, value_name = "TEXT")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
enum NotifyCommand {
    /// Print an account's notification settings, changing them first when options are given.
    Settings {
        /// Account name.
        #[arg(long, value_name = "NAME")]
        account: String,
        /// Days before expiry that get a notice, separated by commas, such as 30,15,7,3,1.
        #[arg(long, value_name = "DAYS")]
        thresholds: Option<String>,
        /// Email recipients separated by commas; an empty value uses the configured defaults.
        #[arg(long, value_name = "ADDRESSES")]
        email: Option<String>,
    },
    /// Run the expiry scan now and record the due notices; a running server delivers them.
    Scan,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print the effective settings, secrets masked.
    Check,
}

#[derive(Debug, Subcommand)]
enum CaCommand {
    /// Print subjects, fingerprints and validity of the CA certificates.
    Show,
    /// Issue a certificate from a CSR without domain validation (operator issuance).
    Sign {
        /// CSR file, PEM or DER.
        #[arg(long, value_name = "FILE")]
        csr: PathBuf,
        /// Validity in days (1 to 398). Default: the product's validity.
        #[arg(long, value_name = "N")]
        days: Option<u32>,
        /// Product id from the catalogue. Default: the first paid DV product.
        #[arg(long, value_name = "ID")]
        product: Option<u32>,
    },
    /// Revoke an issued certificate at once (operator revocation). A running server publishes
    /// it in its CRL and OCSP responses within about a second.
    Revoke {
        /// Certificate id.
        #[arg(long, value_name = "ID")]
        certificate: String,
        /// RFC 5280 reason code: 0 unspecified, 1 keyCompromise, 3 affiliationChanged,
        /// 4 superseded, 5 cessationOfOperation, 9 privilegeWithdrawn.
        #[arg(long, default_value_t = 0)]
        reason: u8,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
