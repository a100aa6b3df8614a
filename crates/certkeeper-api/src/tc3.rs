//! TC3-HMAC-SHA256 request signatures, as used by Tencent Cloud API 3.0.
//!
//! The client signs a canonical form of the request with a key derived from its SecretKey:
//!
//! 1. HashedPayload: hex SHA-256 of the body bytes as received (POST), of the empty string (GET),
//!    or of the literal text `UNSIGNED-PAYLOAD` when the `X-TC-Content-SHA256` header says so.
//! 2. CanonicalRequest: method, URI path, raw query string, one `name:value\n` line per signed
//!    header (lower-case name, trimmed value), the SignedHeaders list and HashedPayload, joined
//!    with `\n`.
//! 3. StringToSign: `TC3-HMAC-SHA256`, the `X-TC-Timestamp` value, the credential scope
//!    `<date>/<service>/tc3_request` and the hex SHA-256 of the CanonicalRequest, joined with `\n`.
//! 4. Signing key: HMAC-SHA256 chained over the date, the service and `tc3_request`, starting from
//!    the key `"TC3" + SecretKey`. The signature is the hex HMAC-SHA256 of StringToSign.
//!
//! This module does no I/O and reads no clock: callers pass the current time in.
//!
//! NOTE: Tencent's SDKs sign only `content-type` and `host`, so `X-TC-Action` is not covered by
//! the signature. A captured request can be replayed with another action and the same body
//! within the clock window. The protocol offers no defence beyond TLS and the window itself.

use aws_lc_rs::{digest, hmac};
use axum::http::HeaderMap;
use time::OffsetDateTime;
use time::macros::format_description;
use zeroize::{Zeroize, Zeroizing};

/// Name of the signature algorithm, the first word of the `Authorization` header.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// Service name that must appear in the credential scope.
pub const SERVICE: &str = "ssl";

/// Maximum difference in seconds between `X-TC-Timestamp` and the server clock, either way.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Value of `X-TC-Content-SHA256` with which a client opts out of signing the body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Header that carries the request timestamp in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-tc-timestamp";

/// Header with which a client declares an unsigned payload.
pub const CONTENT_SHA256_HEADER: &str = "x-tc-content-sha256";

/// A reason to reject a request signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Tc3Error {
    /// The `Authorization` header is absent.
    #[error("missing Authorization header; sign the request with TC3-HMAC-SHA256")]
    MissingAuthorization,
    /// The `Authorization` header does not follow the TC3-HMAC-SHA256 syntax.
    #[error("malformed Authorization header: {0}")]
    InvalidAuthorization(String),
    /// The credential scope names a service other than [`SERVICE`].
    #[error("credential scope names service {0:?}, but this endpoint serves service ssl")]
    WrongService(String),
    /// The `X-TC-Timestamp` header is absent.
    #[error("missing X-TC-Timestamp header")]
    MissingTimestamp,
    /// The `X-TC-Timestamp` header is not a Unix time in seconds.
    #[error("invalid X-TC-Timestamp {0:?}: expected Unix time in seconds")]
    InvalidTimestamp(String),
    /// The timestamp is more than [`MAX_CLOCK_SKEW_SECONDS`] away from the server clock.
    #[error(
        "request timestamp {timestamp} differs from server time {now} by more than 300 seconds; \
         check the client clock"
    )]
    Expired { timestamp: i64, now: i64 },
    /// The credential scope date is not the UTC date of the timestamp.
    #[error(
        "credential scope date {credential_date} does not match {timestamp_date}, \
         the UTC date of X-TC-Timestamp"
    )]
    DateMismatch {
        credential_date: String,
        timestamp_date: String,
    },
    /// The signature does not match the request and the SecretKey.
    #[error("signature mismatch; check the SecretKey and that the request was not altered")]
    SignatureMismatch,
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// SecretId from the credential scope. It identifies the key and is not secret.
    pub secret_id: String,
    /// Credential scope date, `YYYY-MM-DD`.
    pub date: String,
    /// Credential scope service.
    pub service: String,
    /// SignedHeaders exactly as received, for example `content-type;host`.
    pub signed_headers: String,
    /// Decoded signature bytes.
    pub signature: Vec<u8>,
}

/// Parses an `Authorization` header value of the form
/// `TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request,
/// SignedHeaders=<names>, Signature=<hex>`.
///
/// The three fields may come in any order. The service is not checked here.
pub fn parse_authorization(value: &str) -> Result<Authorization, Tc3Error> {
    let invalid = |detail: &str| Tc3Error::InvalidAuthorization(detail.to_owned());

    let rest = value
        .trim()
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| invalid("the algorithm must be TC3-HMAC-SHA256"))?;
    if !rest.starts_with(char::is_whitespace) {
        return Err(invalid("the algorithm must be TC3-HMAC-SHA256"));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for field in rest.split(',') {
        let (name, field_value) = field
            .trim()
            .split_once('=')
            .ok_or_else(|| invalid("expected Credential=, SignedHeaders= and Signature= fields"))?;
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(invalid(&format!("unknown field {:?}", name.trim()))),
        };
        if slot.replace(field_value.trim()).is_some() {
            return Err(invalid(&format!("field {} appears twice", name.trim())));
        }
    }

    let credential = credential.ok_or_else(|| invalid("missing Credential field"))?;
    let signed_headers = signed_headers.ok_or_else(|| invalid("missing SignedHeaders field"))?;
    let signature = signature.ok_or_else(|| invalid("missing Signature field"))?;

    let scope: Vec<&str> = credential.split('/').collect();
    let [secret_id, date, service, terminator] = scope[..] else {
        return Err(invalid(
            "Credential must be <SecretId>/<YYYY-MM-DD>/<service>/tc3_request",
        ));
    };
    if secret_id.is_empty() {
        return Err(invalid("Credential has an empty SecretId"));
    }
    if terminator != "tc3_request" {
        return Err(invalid("Credential must end with /tc3_request"));
    }
    let date_format = format_description!("[year]-[month]-[day]");
    if date.len() != 10 || time::Date::parse(date, &date_format).is_err() {
        return Err(invalid("Credential date must be YYYY-MM-DD"));
    }

    if signed_headers.is_empty() || signed_headers.split(';').any(str::is_empty) {
        return Err(invalid(
            "SignedHeaders must be a ;-separated list of header names",
        ));
    }

    if signature.len() != 64 {
        return Err(invalid("Signature must be 64 hexadecimal digits"));
    }
    let signature =
        hex::decode(signature).map_err(|_| invalid("Signature must be 64 hexadecimal digits"))?;

    Ok(Authorization {
        secret_id: secret_id.to_owned(),
        date: date.to_owned(),
        service: service.to_owned(),
        signed_headers: signed_headers.to_owned(),
        signature,
    })
}

/// Returns the lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// Returns HashedPayload for a request: the hash of the body for POST, of the empty string for
/// GET, or of `UNSIGNED-PAYLOAD` when the client declared an unsigned payload.
pub fn hashed_payload(method: &str, headers: &HeaderMap, body: &[u8]) -> String {
    let unsigned = headers
        .get(CONTENT_SHA256_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim() == UNSIGNED_PAYLOAD);
    if unsigned {
        sha256_hex(UNSIGNED_PAYLOAD.as_bytes())
    } else if method == "GET" {
        sha256_hex(b"")
    } else {
        sha256_hex(body)
    }
}

/// Builds the CanonicalRequest from the request parts and the SignedHeaders list.
///
/// Each signed header must be present in `headers`. Several values for one name are joined with
/// `,`. Values are trimmed but otherwise used as received, because the SDKs sign them verbatim.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    signed_headers: &str,
    hashed_payload: &str,
) -> Result<String, Tc3Error> {
    let mut canonical_headers = String::new();
    for name in signed_headers.split(';') {
        let name = name.trim().to_ascii_lowercase();
        let mut values = Vec::new();
        for value in headers.get_all(name.as_str()) {
            let value = value.to_str().map_err(|_| {
                Tc3Error::InvalidAuthorization(format!(
                    "signed header {name} has a value that is not visible ASCII"
                ))
            })?;
            values.push(value.trim());
        }
        if values.is_empty() {
            return Err(Tc3Error::InvalidAuthorization(format!(
                "signed header {name} is missing from the request"
            )));
        }
        canonical_headers.push_str(&name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }

    Ok(format!(
        "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{hashed_payload}"
    ))
}

/// Builds the StringToSign. `timestamp` is the `X-TC-Timestamp` header text as received.
pub fn string_to_sign(
    timestamp: &str,
    date: &str,
    service: &str,
    canonical_request: &str,
) -> String {
    let canonical_hash = sha256_hex(canonical_request.as_bytes());
    format!("{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{canonical_hash}")
}

/// The chain of derived keys. The bytes are wiped on drop.
pub struct DerivedKeys {
    /// HMAC-SHA256 of the date under `"TC3" + SecretKey`.
    pub k_date: [u8; 32],
    /// HMAC-SHA256 of the service under `k_date`.
    pub k_service: [u8; 32],
    /// HMAC-SHA256 of `tc3_request` under `k_service`, the key that signs StringToSign.
    pub k_signing: [u8; 32],
}

impl Drop for DerivedKeys {
    fn drop(&mut self) {
        self.k_date.zeroize();
        self.k_service.zeroize();
        self.k_signing.zeroize();
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let tag = hmac::sign(&key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Derives kDate, kService and kSigning from a SecretKey.
pub fn derive_keys(secret_key: &str, date: &str, service: &str) -> DerivedKeys {
    let mut root = Zeroizing::new(String::with_capacity(3 + secret_key.len()));
    root.push_str("TC3");
    root.push_str(secret_key);

    let k_date = hmac_sha256(root.as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    DerivedKeys {
        k_date,
        k_service,
        k_signing,
    }
}

/// Computes the hex signature of `string_to_sign`, as a client does.
pub fn sign(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    let keys = derive_keys(secret_key, date, service);
    hex::encode(hmac_sha256(&keys.k_signing, string_to_sign.as_bytes()))
}

/// Returns the UTC date `YYYY-MM-DD` of a Unix time, or `None` if it is out of range.
pub fn utc_date(unix_seconds: i64) -> Option<String> {
    let instant = OffsetDateTime::from_unix_timestamp(unix_seconds).ok()?;
    let date_format = format_description!("[year]-[month]-[day]");
    instant.date().format(&date_format).ok()
}

/// Parses `X-TC-Timestamp` and checks it against the server clock.
///
/// Returns the timestamp when it lies within [`MAX_CLOCK_SKEW_SECONDS`] of `now`, inclusive.
pub fn check_timestamp(raw: &str, now: i64) -> Result<i64, Tc3Error> {
    let invalid = || Tc3Error::InvalidTimestamp(raw.to_owned());
    if raw.is_empty() || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let timestamp: i64 = raw.parse().map_err(|_| invalid())?;
    if utc_date(timestamp).is_none() {
        return Err(invalid());
    }

    let skew = (i128::from(now) - i128::from(timestamp)).abs();
    if skew > i128::from(MAX_CLOCK_SKEW_SECONDS) {
        return Err(Tc3Error::Expired { timestamp, now });
    }
    Ok(timestamp)
}

/// The parts of an HTTP request that the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// URI path, `/` for every API call.
    pub path: &'a str,
    /// Raw query string as received, without the `?`. The SDKs send none with POST.
    pub query: &'a str,
    /// All request headers.
    pub headers: &'a HeaderMap,
    /// Body bytes as received.
    pub body: &'a [u8],
}

/// A request whose signature passed every check that does not need the SecretKey.
#[derive(Debug, Clone)]
pub struct PreparedSignature {
    authorization: Authorization,
    string_to_sign: String,
    timestamp: i64,
}

impl PreparedSignature {
    /// SecretId named in the credential scope, used to look up the SecretKey.
    pub fn secret_id(&self) -> &str {
        &self.authorization.secret_id
    }

    /// Returns the `X-TC-Timestamp` value in Unix seconds.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// Checks the signature against `secret_key` in constant time.
    pub fn verify(&self, secret_key: &str) -> Result<(), Tc3Error> {
        let keys = derive_keys(
            secret_key,
            &self.authorization.date,
            &self.authorization.service,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, &keys.k_signing);
        hmac::verify(
            &key,
            self.string_to_sign.as_bytes(),
            &self.authorization.signature,
        )
        .map_err(|_| Tc3Error::SignatureMismatch)
    }
}

/// Checks the `Authorization` header, the service, the timestamp window and the credential date,
/// and builds the StringToSign for [`PreparedSignature::verify`].
///
/// `now` is the server time in Unix seconds.
pub fn prepare(request: &RequestParts<'_>, now: i64) -> Result<PreparedSignature, Tc3Error> {
    let header = request
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or(Tc3Error::MissingAuthorization)?
        .to_str()
        .map_err(|_| Tc3Error::InvalidAuthorization("the value is not visible ASCII".into()))?;
    let authorization = parse_authorization(header)?;
    if authorization.service != SERVICE {
        return Err(Tc3Error::WrongService(authorization.service));
    }

    let raw_timestamp = request
        .headers
        .get(TIMESTAMP_HEADER)
        .ok_or(Tc3Error::MissingTimestamp)?
        .to_str()
        .map_err(|_| Tc3Error::InvalidTimestamp(String::from("<not ASCII>")))?
        .trim();
    let timestamp = check_timestamp(raw_timestamp, now)?;
    // check_timestamp has already rejected timestamps outside the calendar range.
    let timestamp_date = utc_date(timestamp).unwrap_or_default();
    if authorization.date != timestamp_date {
        return Err(Tc3Error::DateMismatch {
            credential_date: authorization.date,
            timestamp_date,
        });
    }

    let payload_hash = hashed_payload(request.method, request.headers, request.body);
    let canonical = canonical_request(
        request.method,
        request.path,
        request.query,
        request.headers,
        &authorization.signed_headers,
        &payload_hash,
    )?;
    let string_to_sign = string_to_sign(
        raw_timestamp,
        &authorization.date,
        &authorization.service,
        &canonical,
    );

    Ok(PreparedSignature {
        authorization,
        string_to_sign,
        timestamp,
    })
}

#[cfg(test)]
mod tests;
