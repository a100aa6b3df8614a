//! The HTTP listener: health, CA certificates, and (as they arrive) the API, CRLs and OCSP.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use certkeeper_core::RevocationPolicy;
use certkeeper_ra::letter::{self, LetterRules};
use certkeeper_store::IssuerRow;

/// Cache lifetime for CA certificates, which change only when an operator rotates the CA.
const CA_CERTIFICATE_MAX_AGE: &str = "public, max-age=86400";

/// State shared by the handlers of this module.
#[derive(Clone)]
pub struct PublicState {
    pub issuers: Arc<Vec<IssuerRow>>,
}

/// Builds the router for the public, unauthenticated endpoints.
pub fn public_router(state: PublicState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/ca/root.pem", get(root_pem))
        .route("/ca/root.der", get(root_der))
        .route("/ca/issuer/{file}", get(issuer_certificate))
        .route("/templates/{file}", get(letter_template))
        .with_state(state)
}

/// Serves the blank revocation letter (`revocation-letter.txt`) and application form
/// (`revocation-application-form.txt`) templates; `certkeeper client letter-template` prints
/// them filled in for one certificate.
async fn letter_template(Path(file): Path<String>) -> Response {
    let policy = match file.as_str() {
        "revocation-letter.txt" => RevocationPolicy::ConfirmationLetter,
        "revocation-application-form.txt" => RevocationPolicy::ApplicationForm,
        _ => return (StatusCode::NOT_FOUND, "use /templates/revocation-letter.txt or /templates/revocation-application-form.txt\n").into_response(),
    };
    let Some(rules) = LetterRules::of(policy) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static(CA_CERTIFICATE_MAX_AGE)),
        ],
        letter::template(&rules, None),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

fn root(state: &PublicState) -> Option<&IssuerRow> {
    state.issuers.iter().rev().find(|issuer| issuer.role == "root" && issuer.active)
}

fn certificate_response(der: &[u8], pem: bool) -> Response {
    let (content_type, body) = if pem {
        ("application/x-pem-file", certkeeper_pki::to_pem("CERTIFICATE", der).into_bytes())
    } else {
        ("application/pkix-cert", der.to_vec())
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(CA_CERTIFICATE_MAX_AGE)),
        ],
        body,
    )
        .into_response()
}

async fn root_pem(State(state): State<PublicState>) -> Response {
    match root(&state) {
        Some(issuer) => certificate_response(&issuer.certificate_der, true),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn root_der(State(state): State<PublicState>) -> Response {
    match root(&state) {
        Some(issuer) => certificate_response(&issuer.certificate_der, false),
        None => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Serves `/ca/issuer/{id}.der` (the caIssuers URL in leaves) and `/ca/issuer/{id}.pem`.
async fn issuer_certificate(State(state): State<PublicState>, Path(file): Path<String>) -> Response {
    let (id, pem) = match (file.strip_suffix(".der"), file.strip_suffix(".pem")) {
        (Some(id), _) => (id, false),
        (_, Some(id)) => (id, true),
        _ => return (StatusCode::NOT_FOUND, "use /ca/issuer/<id>.der or .pem\n").into_response(),
    };
    let found = id.parse::<i64>().ok().and_then(|id| state.issuers.iter().find(|issuer| issuer.id == id));
    match found {
        Some(issuer) => certificate_response(&issuer.certificate_der, pem),
        None => (StatusCode::NOT_FOUND, "no such issuer\n").into_response(),
    }
}
