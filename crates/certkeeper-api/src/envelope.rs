//! The response envelope of Tencent Cloud API 3.0.
//!
//! Every response has HTTP status 200 and `Content-Type: application/json` with no parameters.
//! The Python SDK reads the `Error` object only when the content type is exactly
//! `application/json` (or `text/plain`), and treats any other status as a network error that
//! hides the code, so neither may change.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Content type of every response.
pub const CONTENT_TYPE: &str = "application/json";

/// Builds `{"Response": {<output>, "RequestId": ...}}`.
///
/// `output` must be an object. The router checks this before calling, so any other value is
/// dropped and only `RequestId` is sent.
pub fn success(request_id: &str, output: Value) -> Response {
    let mut fields = match output {
        Value::Object(fields) => fields,
        _ => Map::new(),
    };
    fields.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    respond(&json!({ "Response": fields }))
}

/// Builds `{"Response": {"Error": {"Code": ..., "Message": ...}, "RequestId": ...}}`.
pub fn error(request_id: &str, error: &ApiError) -> Response {
    respond(&json!({
        "Response": {
            "Error": { "Code": error.code, "Message": error.message },
            "RequestId": request_id,
        }
    }))
}

fn respond(body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}
