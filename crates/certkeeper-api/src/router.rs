//! The HTTP front end: one endpoint, `/`, that authenticates a request, reads its parameters and
//! hands it to the [`ActionHandler`](crate::ActionHandler).

use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum::response::Response;
use axum::routing::any;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::Value;
use uuid::Uuid;

use crate::action::{Language, RequestContext};
use crate::credentials::Credential;
use crate::envelope;
use crate::error::{ApiError, codes};
use crate::params::Params;
use crate::state::ApiState;
use crate::tc3;

/// The only API version served, sent by clients in `X-TC-Version`.
pub const API_VERSION: &str = "2019-12-05";

const ACTION_HEADER: &str = "x-tc-action";
const VERSION_HEADER: &str = "x-tc-version";
const LANGUAGE_HEADER: &str = "x-tc-language";
const REGION_HEADER: &str = "x-tc-region";
const TOKEN_HEADER: &str = "x-tc-token";

/// Maximum length, in characters, of header text copied into a log line.
const MAX_LOGGED_CHARS: usize = 64;

/// Builds the router of the Tencent Cloud API 3.0 `ssl` endpoint.
///
/// It serves `POST /` and `GET /`. Requests with any other method or path get an error in the
/// API envelope with status 200 as well, because Tencent Cloud clients parse only that. The router installs a
/// fallback, so mount other services beside it with [`Router::nest`] rather than a router that
/// has its own fallback.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", any(serve))
        .fallback(serve)
        .with_state(state)
}

/// Handles one request and writes its access log line.
///
/// The request runs in its own task so that a panic in a handler or store is caught and returned
/// as `InternalError`. A client that disconnects does not cancel an action that has started.
async fn serve(State(state): State<ApiState>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = Uuid::new_v4().to_string();
    let method = request.method().clone();
    let action = loggable(header_text(request.headers(), ACTION_HEADER));
    let secret_id = loggable(
        header_text(request.headers(), header::AUTHORIZATION.as_str())
            .and_then(|value| tc3::parse_authorization(value).ok())
            .map(|authorization| authorization.secret_id)
            .as_deref(),
    );

    let result = match tokio::spawn(process(state, request, request_id.clone())).await {
        Ok(result) => result,
        Err(join_error) => {
            let detail = panic_detail(join_error);
            tracing::error!(
                request_id = %request_id,
                action = %action,
                detail = %detail,
                "API request task failed; returned InternalError"
            );
            Err(ApiError::internal())
        }
    };

    let status = match &result {
        Ok(_) => "ok",
        Err(error) => error.code,
    };
    tracing::info!(
        target: "certkeeper_api::access",
        method = %method,
        action = %action,
        status,
        duration_ms = started.elapsed().as_millis() as u64,
        request_id = %request_id,
        secret_id = %secret_id,
        "API request"
    );

    match result {
        Ok(output) => envelope::success(&request_id, output),
        Err(error) => {
            tracing::debug!(
                request_id = %request_id,
                code = error.code,
                message = %error.message,
                "API request rejected"
            );
            envelope::error(&request_id, &error)
        }
    }
}

/// Checks, authenticates and runs one request.
async fn process(state: ApiState, request: Request, request_id: String) -> Result<Value, ApiError> {
    let (mut parts, body) = request.into_parts();
    let method = check_method_and_path(&parts)?;
    let body = read_body(body, &parts.headers, state.config.max_body_bytes).await?;
    if !parts.headers.contains_key(ACTION_HEADER) && has_legacy_signature(&parts, &body) {
        return Err(ApiError::new(
            codes::AUTH_FAILURE_SIGNATURE_FAILURE,
            "HmacSHA1 and HmacSHA256 signatures in request parameters are not supported; \
             sign with TC3-HMAC-SHA256, the SDK default",
        ));
    }
    copy_authority_to_host(&mut parts);

    let call = read_call_headers(&state, &parts.headers)?;
    let (secret_id, credential) = authenticate(&state, &parts, method, &body, &request_id).await?;
    let params = read_params(method, &parts, &body)?;
    params.check_declared(call.declared)?;

    let ctx = RequestContext {
        account_id: credential.account_id,
        role: credential.role,
        secret_id,
        request_id: request_id.clone(),
        action: call.action.to_owned(),
        language: call.language,
        region: call.region,
    };
    let output = state.actions.handle(ctx, params).await?;
    if !output.is_object() {
        tracing::error!(
            request_id = %request_id,
            action = %call.action,
            "action returned output that is not a JSON object; returned InternalError"
        );
        return Err(ApiError::internal());
    }
    Ok(output)
}

/// Returns the method name if the request is a `GET /` or `POST /`.
fn check_method_and_path(parts: &Parts) -> Result<&'static str, ApiError> {
    if parts.uri.path() != "/" {
        return Err(ApiError::new(
            codes::UNSUPPORTED_PROTOCOL,
            format!(
                "path {} is not served; send API requests to /",
                parts.uri.path()
            ),
        ));
    }
    match parts.method {
        Method::GET => Ok("GET"),
        Method::POST => Ok("POST"),
        ref other => Err(ApiError::new(
            codes::UNSUPPORTED_PROTOCOL,
            format!("HTTP method {other} is not supported; use POST or GET"),
        )),
    }
}

/// The `X-TC-*` headers that select what to run, checked against the handler.
struct CallHeaders<'a> {
    action: &'a str,
    declared: &'static [&'static str],
    language: Language,
    region: Option<String>,
}

fn read_call_headers<'a>(
    state: &ApiState,
    headers: &'a HeaderMap,
) -> Result<CallHeaders<'a>, ApiError> {
    let action = required_header(headers, ACTION_HEADER, "X-TC-Action")?;
    let version = required_header(headers, VERSION_HEADER, "X-TC-Version")?;
    if version != API_VERSION {
        return Err(ApiError::no_such_version(version));
    }
    let declared = state
        .actions
        .parameters(action)
        .ok_or_else(|| ApiError::invalid_action(action))?;

    let language = match optional_header(headers, LANGUAGE_HEADER, "X-TC-Language")? {
        None => Language::default(),
        Some(value) => Language::parse(value).ok_or_else(|| {
            ApiError::invalid_parameter_value("X-TC-Language", "expected zh-CN or en-US")
        })?,
    };
    let region = optional_header(headers, REGION_HEADER, "X-TC-Region")?
        .filter(|region| !region.is_empty())
        .map(str::to_owned);

    Ok(CallHeaders {
        action,
        declared,
        language,
        region,
    })
}

/// Reads the parameters from the query string (GET) or the JSON body (POST).
fn read_params(method: &str, parts: &Parts, body: &[u8]) -> Result<Params, ApiError> {
    if method != "GET" {
        return Params::from_json_body(body);
    }
    if !body.is_empty() {
        return Err(ApiError::new(
            codes::INVALID_PARAMETER,
            "a GET request must carry its parameters in the query string, not in a body",
        ));
    }
    Params::from_query(parts.uri.query().unwrap_or(""))
}

/// Verifies the TC3-HMAC-SHA256 signature and returns the SecretId and its credential.
async fn authenticate(
    state: &ApiState,
    parts: &Parts,
    method: &str,
    body: &[u8],
    request_id: &str,
) -> Result<(String, Credential), ApiError> {
    if parts.headers.contains_key(TOKEN_HEADER) {
        return Err(ApiError::new(
            codes::AUTH_FAILURE_TOKEN_FAILURE,
            "temporary credentials (X-TC-Token) are not supported; sign with a permanent API key",
        ));
    }

    let request = tc3::RequestParts {
        method,
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body,
    };
    let prepared = tc3::prepare(&request, state.clock.now_unix())?;
    let secret_id = prepared.secret_id().to_owned();

    let credential = match state.credentials.find_credential(&secret_id).await {
        Ok(Some(credential)) => credential,
        Ok(None) => {
            return Err(ApiError::new(
                codes::AUTH_FAILURE_SECRET_ID_NOT_FOUND,
                format!("SecretId {secret_id} not found; check the API key"),
            ));
        }
        Err(error) => {
            tracing::error!(
                request_id = %request_id,
                secret_id = %secret_id,
                error = %error,
                "credential lookup failed; returned InternalError"
            );
            return Err(ApiError::internal());
        }
    };

    prepared.verify(&credential.secret_key)?;
    // Checked after the signature, so only the key holder learns that the key is disabled.
    if !credential.enabled {
        return Err(ApiError::new(
            codes::AUTH_FAILURE_INVALID_SECRET_ID,
            format!("SecretId {secret_id} is disabled; enable it or use another API key"),
        ));
    }
    Ok((secret_id, credential))
}

/// Returns whether the request carries an old-style signature: form parameters `Action` and
/// `Signature` in the query string or a form-encoded body, instead of TC3 headers.
fn has_legacy_signature(parts: &Parts, body: &[u8]) -> bool {
    let is_legacy = |form: &[u8]| {
        let mut has_action = false;
        let mut has_signature = false;
        for (name, _) in form_urlencoded::parse(form) {
            has_action |= name == "Action";
            has_signature |= name == "Signature";
        }
        has_action && has_signature
    };
    let form_body = header_text(&parts.headers, header::CONTENT_TYPE.as_str())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));

    let query = parts.uri.query().unwrap_or("");
    is_legacy(query.as_bytes()) || (form_body && is_legacy(body))
}

/// Copies the URI authority into a missing `Host` header.
///
/// HTTP/2 clients send the host as the `:authority` pseudo-header, which hyper keeps in the URI
/// only. The SDKs sign it as `host`, so the signature check needs it as a header.
fn copy_authority_to_host(parts: &mut Parts) {
    if parts.headers.contains_key(header::HOST) {
        return;
    }
    let Some(authority) = parts.uri.authority() else {
        return;
    };
    if let Ok(value) = authority.as_str().parse() {
        parts.headers.insert(header::HOST, value);
    }
}

/// Reads the whole body, rejecting it with `RequestSizeLimitExceeded` above `limit` bytes.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, ApiError> {
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared_length.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::request_size_limit_exceeded(limit));
    }

    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => {
            Err(ApiError::request_size_limit_exceeded(limit))
        }
        Err(error) => {
            tracing::debug!(error = %error, "failed to read request body");
            Err(ApiError::new(
                codes::INVALID_PARAMETER,
                "failed to read the request body; resend the request",
            ))
        }
    }
}

/// Returns the trimmed text of a header, or `None` if it is absent or not visible ASCII.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
}

fn optional_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
    display_name: &str,
) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(value) => value.to_str().map(|text| Some(text.trim())).map_err(|_| {
            ApiError::invalid_parameter(display_name, "the header value must be visible ASCII")
        }),
    }
}

fn required_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
    display_name: &str,
) -> Result<&'a str, ApiError> {
    optional_header(headers, name, display_name)?
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                codes::MISSING_PARAMETER,
                format!("missing required header {display_name}"),
            )
        })
}

/// Shortens client-supplied text for a log line, writing `-` for an absent value.
fn loggable(value: Option<&str>) -> String {
    match value {
        None | Some("") => "-".to_owned(),
        Some(text) => text.chars().take(MAX_LOGGED_CHARS).collect(),
    }
}

fn panic_detail(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return format!("task did not finish: {error}");
    }
    let payload = error.into_panic();
    if let Some(text) = payload.downcast_ref::<&str>() {
        format!("panic: {text}")
    } else if let Some(text) = payload.downcast_ref::<String>() {
        format!("panic: {text}")
    } else {
        "panic with a non-text payload".to_owned()
    }
}
