//! The `ssl` actions that certkeeper implements, one module per group, behind an
//! [`ActionRegistry`].
//!
//! Every lookup is limited to the caller's account (administrators see every account), and a
//! certificate of another account is reported exactly like an unknown id.

mod csr;
mod deploy;
pub mod download;
mod format;
mod lifecycle;
mod metadata;
mod notify;
mod orders;
mod organizations;
mod paid;
mod query;
mod revoke;
mod upload;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use certkeeper_core::{CertificateRecord, ProductCatalogue};
use certkeeper_pki::MasterKey;
use certkeeper_store::{IssuerRow, Store, StoreError};
use serde_json::Value;

use crate::action::{ActionHandler, RequestContext};
use crate::credentials::Role;
use crate::error::ApiError;
use crate::params::Params;
use crate::state::{Clock, SystemClock};

pub use download::{DownloadTokens, download_router};

/// The future an action returns.
pub type ActionFuture = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send>>;

type BoxedAction<S> = Box<dyn Fn(Arc<S>, RequestContext, Params) -> ActionFuture + Send + Sync>;

struct Registered<S> {
    parameters: &'static [&'static str],
    run: BoxedAction<S>,
}

/// An [`ActionHandler`] built from a table of action name, accepted parameters and async
/// function, all sharing one state `S`.
pub struct ActionRegistry<S> {
    state: Arc<S>,
    actions: HashMap<&'static str, Registered<S>>,
}

impl<S: Send + Sync + 'static> ActionRegistry<S> {
    /// Creates an empty registry.
    pub fn new(state: Arc<S>) -> Self {
        Self { state, actions: HashMap::new() }
    }

    /// Adds an action, replacing any earlier one of the same name.
    pub fn register<F, Fut>(&mut self, name: &'static str, parameters: &'static [&'static str], action: F) -> &mut Self
    where
        F: Fn(Arc<S>, RequestContext, Params) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, ApiError>> + Send + 'static,
    {
        let run: BoxedAction<S> = Box::new(move |state, ctx, params| Box::pin(action(state, ctx, params)));
        self.actions.insert(name, Registered { parameters, run });
        self
    }

    /// Returns the names of the registered actions, sorted.
    pub fn action_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.actions.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// Returns the shared state.
    pub fn state(&self) -> &Arc<S> {
        &self.state
    }
}

#[async_trait]
impl<S: Send + Sync + 'static> ActionHandler for ActionRegistry<S> {
    fn parameters(&self, action: &str) -> Option<&'static [&'static str]> {
        self.actions.get(action).map(|registered| registered.parameters)
    }

    async fn handle(&self, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
        let Some(registered) = self.actions.get(ctx.action.as_str()) else {
            return Err(ApiError::invalid_action(&ctx.action));
        };
        (registered.run)(Arc::clone(&self.state), ctx, params).await
    }
}

/// Services the actions of this module use.
pub struct Services {
    pub store: Store,
    /// Opens sealed certificate and CSR keys.
    pub master_key: Arc<MasterKey>,
    pub catalogue: Arc<ProductCatalogue>,
    /// CA certificates, for chains and PEM bundles. Reloaded from the store on a miss.
    pub issuers: Arc<Vec<IssuerRow>>,
    /// Base URL of download links, without a trailing slash.
    pub public_url: String,
    pub downloads: DownloadTokens,
    pub clock: Arc<dyn Clock>,
    /// Applications, domain validation and cancellation of orders. Without it the order
    /// actions are not registered.
    pub orders: Option<certkeeper_ra::OrderService>,
    /// Owner revocation requests and their reviews, set with the order service. Without it
    /// RevokeCertificate and the review actions are not registered.
    pub revocations: Option<certkeeper_ra::RevocationService>,
    /// Uploads of certificates issued elsewhere, and chain checks.
    pub hosting: certkeeper_ra::HostingService,
}

impl Services {
    /// Creates the services with the system clock and an empty download-link table.
    pub fn new(
        store: Store,
        master_key: Arc<MasterKey>,
        catalogue: Arc<ProductCatalogue>,
        issuers: Arc<Vec<IssuerRow>>,
        public_url: &str,
    ) -> Self {
        let hosting = certkeeper_ra::HostingService::new(store.clone(), Arc::clone(&master_key), None);
        Self {
            store,
            master_key,
            catalogue,
            issuers,
            public_url: public_url.trim_end_matches('/').to_owned(),
            downloads: DownloadTokens::default(),
            clock: Arc::new(SystemClock),
            orders: None,
            revocations: None,
            hosting,
        }
    }

    /// Sets the order service behind ApplyCertificate and the other order actions, and the
    /// revocation service built from it.
    pub fn with_orders(mut self, orders: certkeeper_ra::OrderService) -> Self {
        self.revocations = Some(orders.revocations());
        self.orders = Some(orders);
        self
    }

    /// Returns the current Unix time in seconds.
    pub fn now(&self) -> i64 {
        self.clock.now_unix()
    }

    /// Returns a certificate visible to the caller, or `FailedOperation.CertificateNotFound`
    /// for an unknown id and for another account's certificate alike.
    pub async fn visible_certificate(&self, ctx: &RequestContext, id: &str) -> Result<CertificateRecord, ApiError> {
        self.store
            .certificate_for_account(account_scope(ctx), id)
            .await
            .map_err(|error| store_failure(ctx, &error))?
            .ok_or_else(|| ApiError::certificate_not_found(id))
    }

    /// Returns the CA certificate row with this id, reloading the rows once if it is unknown.
    pub async fn issuer(&self, id: i64) -> Result<Option<IssuerRow>, StoreError> {
        if let Some(found) = self.issuers.iter().find(|issuer| issuer.id == id) {
            return Ok(Some(found.clone()));
        }
        Ok(self.store.issuers().await?.into_iter().find(|issuer| issuer.id == id))
    }
}

/// Returns the account an action is limited to: the caller's, or none for administrators.
pub fn account_scope(ctx: &RequestContext) -> Option<i64> {
    match ctx.role {
        Role::Admin => None,
        Role::User | Role::Reviewer => Some(ctx.account_id),
    }
}

/// Logs a store failure with the request id and returns `InternalError`.
pub fn store_failure(ctx: &RequestContext, error: &dyn std::fmt::Display) -> ApiError {
    tracing::error!(request_id = %ctx.request_id, action = %ctx.action, %error, "store operation failed; returned InternalError");
    ApiError::internal()
}

/// Builds the registry of every action this module implements.
pub fn ssl_actions(services: Arc<Services>) -> ActionRegistry<Services> {
    let accepts_orders = services.orders.is_some();
    let mut registry = ActionRegistry::new(services);
    query::register(&mut registry);
    metadata::register(&mut registry);
    notify::register(&mut registry);
    download::register(&mut registry);
    csr::register(&mut registry);
    deploy::register(&mut registry);
    // Without an order service the order actions do not exist, so they return InvalidAction.
    if accepts_orders {
        orders::register(&mut registry);
        lifecycle::register(&mut registry);
        organizations::register(&mut registry);
        paid::register(&mut registry);
    }
    revoke::register(&mut registry);
    upload::register(&mut registry);
    registry
}
