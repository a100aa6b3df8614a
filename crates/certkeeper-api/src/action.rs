//! The interface between the protocol layer and the code that implements actions.

use async_trait::async_trait;
use serde_json::Value;

use crate::credentials::Role;
use crate::error::ApiError;
use crate::params::Params;

/// Response language requested with `X-TC-Language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    /// `zh-CN`, the SDK default when the header is absent.
    #[default]
    ZhCn,
    /// `en-US`.
    EnUs,
}

impl Language {
    /// Parses an `X-TC-Language` value. The SDKs only send `zh-CN` and `en-US`.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "zh-CN" => Some(Self::ZhCn),
            "en-US" => Some(Self::EnUs),
            _ => None,
        }
    }

    /// Returns the header spelling: `zh-CN` or `en-US`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ZhCn => "zh-CN",
            Self::EnUs => "en-US",
        }
    }
}

/// Facts about an authenticated request, passed to [`ActionHandler::handle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Account that owns the API key that signed the request.
    pub account_id: i64,
    /// Role of that API key.
    pub role: Role,
    /// SecretId of that API key.
    pub secret_id: String,
    /// Request id returned to the client as `RequestId`. Attach it to every log line.
    pub request_id: String,
    /// Action name from `X-TC-Action`, one for which [`ActionHandler::parameters`] returned
    /// `Some`.
    pub action: String,
    /// Language from `X-TC-Language`.
    pub language: Language,
    /// Region from `X-TC-Region`, `None` when the client sent none. The SSL API has no regional
    /// resources, so any value is accepted.
    pub region: Option<String>,
}

/// Implements the actions of the `ssl` API.
///
/// The router checks the signature, the action name and the parameter names before it calls
/// [`handle`](ActionHandler::handle), so a handler only checks parameter types and values.
#[async_trait]
pub trait ActionHandler: Send + Sync + 'static {
    /// Returns the names of the parameters that `action` accepts, or `None` if no such action
    /// exists. A request naming an undeclared parameter is rejected with `UnknownParameter`.
    fn parameters(&self, action: &str) -> Option<&'static [&'static str]>;

    /// Runs an action and returns its output object, without `RequestId`.
    ///
    /// The output must be a JSON object. The envelope adds `RequestId` and overwrites any
    /// `RequestId` key in it. A handler that returns [`ApiError::internal`] must log the cause
    /// itself, with `ctx.request_id`. A panic is caught and returned as `InternalError`.
    async fn handle(&self, ctx: RequestContext, params: Params) -> Result<Value, ApiError>;
}
