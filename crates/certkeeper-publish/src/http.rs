//! HTTP endpoints for CRLs and OCSP, with the caching headers of RFC 5019 §6.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::ocsp::{OcspReply, ReplyCaching};
use crate::{Publisher, now_seconds};

/// Largest OCSP POST body accepted, in bytes. A request for 16 certificates with a nonce is
/// far below 8 KiB.
const MAX_OCSP_BODY: usize = 8 * 1024;

/// Standard base64 that accepts input with or without `=` padding, because some clients strip it.
const BASE64_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl Publisher {
    /// Returns the router for `GET /crl/root.crl`, `GET /crl/{issuer}/{shard}.crl`,
    /// `POST /ocsp` and `GET /ocsp/{base64 request}`, to be merged into the service's router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/crl/root.crl", get(root_crl))
            .route("/crl/{issuer}/{file}", get(shard_crl))
            .route("/ocsp", get(ocsp_get).post(ocsp_post))
            .route("/ocsp/", get(ocsp_get).post(ocsp_post))
            .route("/ocsp/{*request}", get(ocsp_get))
            .layer(DefaultBodyLimit::max(MAX_OCSP_BODY))
            .with_state(self.clone())
    }
}

async fn root_crl(State(publisher): State<Arc<Publisher>>) -> Response {
    serve_crl(&publisher, publisher.root_id(), 0)
}

async fn shard_crl(State(publisher): State<Arc<Publisher>>, Path((issuer, file)): Path<(String, String)>) -> Response {
    let parsed = file.strip_suffix(".crl").and_then(|shard| shard.parse::<i64>().ok()).zip(issuer.parse::<i64>().ok());
    match parsed {
        Some((shard, issuer_id)) if issuer_id != publisher.root_id() => serve_crl(&publisher, issuer_id, shard),
        _ => crl_not_found(&publisher),
    }
}

fn serve_crl(publisher: &Publisher, issuer_id: i64, shard: i64) -> Response {
    let Some(crl) = publisher.crl(issuer_id, shard) else {
        return crl_not_found(publisher);
    };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pkix-crl"));
    cache_headers(&mut headers, crl.this_update, crl.next_update, publisher.settings().crl_max_age);
    insert_text(&mut headers, header::ETAG, &crl.etag);
    (StatusCode::OK, headers, Body::from(crl.der.as_ref().clone())).into_response()
}

/// Returns a 404 for a CRL path that names no published CRL, listing the paths that exist.
fn crl_not_found(publisher: &Publisher) -> Response {
    let last_shard = publisher.crl_shard_count().saturating_sub(1);
    let issuer = publisher.intermediate_id();
    let text = format!("no such CRL; the CRLs are /crl/root.crl and /crl/{issuer}/0.crl to /crl/{issuer}/{last_shard}.crl\n");
    (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
}

async fn ocsp_post(State(publisher): State<Arc<Publisher>>, body: Bytes) -> Response {
    let reply = publisher.answer_ocsp(&body).await;
    ocsp_response(&publisher, &reply)
}

async fn ocsp_get(State(publisher): State<Arc<Publisher>>, request: Request) -> Response {
    // The raw path is decoded here instead of by axum's extractor, because the base64 text may
    // contain `/`, `+` and `=`, raw or percent-encoded, and a doubled slash after /ocsp.
    let path = request.uri().path();
    let encoded = path.strip_prefix("/ocsp").unwrap_or(path);
    let reply = match decode_get_request(encoded) {
        Some(der) => publisher.answer_ocsp(&der).await,
        None => OcspReply::status_only(certkeeper_pki::ocsp::malformed_request_response()),
    };
    ocsp_response(&publisher, &reply)
}

/// Decodes the base64 OCSP request of a GET path (RFC 6960 Appendix A.1): percent-decodes it,
/// drops leading slashes, reads a space as the `+` that a form encoder turned into `%20`, and
/// accepts the URL-safe alphabet too.
pub(crate) fn decode_get_request(encoded: &str) -> Option<Vec<u8>> {
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8().ok()?;
    let text: String = decoded
        .trim_start_matches('/')
        .chars()
        .map(|c| match c {
            ' ' => '+',
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    if text.is_empty() {
        return None;
    }
    BASE64_ANY_PADDING.decode(text.as_bytes()).ok()
}

fn ocsp_response(publisher: &Publisher, reply: &OcspReply) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/ocsp-response"));
    match reply.caching {
        ReplyCaching::Public { this_update, next_update } => {
            cache_headers(&mut headers, this_update, next_update, publisher.settings().ocsp_max_age);
            insert_text(&mut headers, header::ETAG, &reply.etag);
        }
        ReplyCaching::NoStore => {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    (StatusCode::OK, headers, Body::from(reply.der.clone())).into_response()
}

/// Sets `Cache-Control: public, max-age=N` with N = min(`cap`, nextUpdate − now), and
/// `Last-Modified` = thisUpdate and `Expires` = now + N, as RFC 5019 §6.2 recommends.
fn cache_headers(headers: &mut HeaderMap, this_update: OffsetDateTime, next_update: OffsetDateTime, cap: Duration) {
    let now = now_seconds();
    let remaining = (next_update - now).whole_seconds().max(0).unsigned_abs();
    let max_age = remaining.min(cap.as_secs());
    insert_text(headers, header::CACHE_CONTROL, &format!("public, max-age={max_age}, no-transform, must-revalidate"));
    insert_text(headers, header::LAST_MODIFIED, &http_date(this_update));
    insert_text(headers, header::EXPIRES, &http_date(now + Duration::from_secs(max_age)));
}

fn insert_text(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// Formats an IMF-fixdate (RFC 9110 §5.6.7), such as `Sun, 06 Nov 1994 08:49:37 GMT`.
fn http_date(at: OffsetDateTime) -> String {
    let format = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    at.to_offset(time::UtcOffset::UTC).format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_path_decoding_variants() {
        let der: Vec<u8> = vec![0xfb, 0xff, 0xbe, 0x30, 0x01];
        let standard = base64::engine::general_purpose::STANDARD.encode(&der);
        assert!(standard.contains('+'), "{standard}");
        assert!(standard.contains('/'), "{standard}");
        let percent = standard.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");
        for path in [
            format!("/{standard}"),
            format!("/{percent}"),
            format!("//{percent}"),
            format!("/{}", standard.replace('+', "%20")),
            format!("/{}", standard.trim_end_matches('=')),
        ] {
            assert_eq!(decode_get_request(&path).as_deref(), Some(der.as_slice()), "{path}");
        }
        assert_eq!(decode_get_request("/not-base64!!"), None);
        assert_eq!(decode_get_request("/"), None);
    }

    #[test]
    fn http_date_format() {
        let at = OffsetDateTime::from_unix_timestamp(784_111_777).unwrap();
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
