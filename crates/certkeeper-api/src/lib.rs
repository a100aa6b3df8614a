//! Tencent Cloud API 3.0 front end for certkeeper: product `ssl`, version `2019-12-05`.
//!
//! Tencent Cloud SDKs and `tccli` talk to this service when pointed at its endpoint. The tests
//! in `tests/python_sdk.rs` run the Python SDK and tccli against it, and other SDKs are
//! untested.
//! This crate implements the protocol only:
//!
//! * [`tc3`]: TC3-HMAC-SHA256 signature verification.
//! * [`params`]: typed parameters from a JSON body (POST) or a flattened query string (GET).
//! * [`envelope`]: the `{"Response": {...}}` envelope, always with HTTP status 200.
//! * [`router`]: the axum router that ties these together and calls an [`ActionHandler`].
//!
//! The actions themselves live behind the [`ActionHandler`] trait, and API keys behind
//! [`CredentialStore`]. The crate also provides both over certkeeper's store:
//!
//! * [`actions`]: [`ssl_actions`] builds an [`ActionRegistry`] of the query, metadata, download,
//!   CSR and deployment actions; more actions are added with [`ActionRegistry::register`].
//! * [`keys`]: API key creation and [`StoreCredentials`], which opens sealed SecretKeys.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use certkeeper_api::{
//!     ActionHandler, ApiConfig, ApiError, ApiState, Credential, CredentialStore,
//!     CredentialStoreError, Params, RequestContext,
//! };
//! use serde_json::Value;
//!
//! struct Actions;
//!
//! #[async_trait]
//! impl ActionHandler for Actions {
//!     fn parameters(&self, action: &str) -> Option<&'static [&'static str]> {
//!         match action {
//!             "DescribeCertificate" => Some(&["CertificateId"]),
//!             _ => None,
//!         }
//!     }
//!
//!     async fn handle(&self, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
//!         let id = params.required_string("CertificateId")?;
//!         Err(ApiError::certificate_not_found(&id))
//!     }
//! }
//!
//! struct Keys;
//!
//! #[async_trait]
//! impl CredentialStore for Keys {
//!     async fn find_credential(
//!         &self,
//!         secret_id: &str,
//!     ) -> Result<Option<Credential>, CredentialStoreError> {
//!         Ok(None)
//!     }
//! }
//!
//! # async fn serve() -> std::io::Result<()> {
//! let state = ApiState::new(Arc::new(Keys), Arc::new(Actions)).with_config(ApiConfig {
//!     max_body_bytes: 8 * 1024 * 1024,
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, certkeeper_api::router(state)).await
//! # }
//! ```

pub mod action;
pub mod actions;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod keys;
pub mod params;
pub mod router;
pub mod state;
pub mod tc3;

pub use action::{ActionHandler, Language, RequestContext};
pub use actions::{ActionRegistry, Services, download_router, ssl_actions};
pub use credentials::{Credential, CredentialStore, CredentialStoreError, Role};
pub use error::{ApiError, codes};
pub use keys::{StoreCredentials, create_api_key};
pub use params::{ParamValue, Params};
pub use router::{API_VERSION, router};
pub use state::{ApiConfig, ApiState, Clock, SystemClock};
