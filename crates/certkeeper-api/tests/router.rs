//! In-process tests of the router: every request gets HTTP 200, the exact content type, the
//! expected code and a RequestId.

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use certkeeper_api::{ApiConfig, router};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(request: Request<Body>) -> Response {
    router(test_state()).oneshot(request).await.unwrap()
}

/// Checks the status, content type and RequestId of a response and returns its `Response` object.
async fn envelope(response: Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers().get("content-type").unwrap();
    assert_eq!(content_type, "application/json");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let inner = body["Response"].clone();
    let request_id = inner["RequestId"].as_str().expect("RequestId is a string");
    assert!(
        uuid::Uuid::parse_str(request_id).is_ok(),
        "RequestId {request_id:?} is not a UUID"
    );
    inner
}

struct BadCase {
    name: &'static str,
    request: Request<Body>,
    code: &'static str,
    message_contains: &'static str,
}

fn bad_cases() -> Vec<BadCase> {
    let mut cases = Vec::new();
    let mut case = |name, call: TestCall, code, message_contains| {
        cases.push(BadCase {
            name,
            request: call.build(),
            code,
            message_contains,
        })
    };

    case(
        "malformed JSON",
        TestCall::post("DescribeCertificates", r#"{"Offset": "#),
        "InvalidParameter",
        "must be a JSON object",
    );
    case(
        "body not an object",
        TestCall::post("DescribeCertificates", "[1, 2]"),
        "InvalidParameter",
        "must be a JSON object",
    );
    case(
        "integer parameter given a word",
        TestCall::post("DescribeCertificates", r#"{"Offset": "ten"}"#),
        "InvalidParameter",
        "Offset",
    );
    case(
        "integer parameter given a boolean",
        TestCall::post("DescribeCertificates", r#"{"Limit": true}"#),
        "InvalidParameter",
        "Limit",
    );
    case(
        "array element of wrong type",
        TestCall::post("DescribeCertificates", r#"{"CertificateStatus": [1, "x"]}"#),
        "InvalidParameter",
        "CertificateStatus.1",
    );
    case(
        "string array given a string",
        TestCall::post("DescribeCertificates", r#"{"CertIds": "abc"}"#),
        "InvalidParameter",
        "CertIds",
    );
    case(
        "unknown parameter",
        TestCall::post("DescribeCertificates", r#"{"Offset": 0, "Colour": "red"}"#),
        "UnknownParameter",
        "Colour",
    );
    case(
        "missing parameter",
        TestCall::post("RevokeCertificate", r#"{"Reason": "superseded"}"#),
        "MissingParameter",
        "CertificateId",
    );
    case(
        "unknown action",
        TestCall::post("NoSuchAction", "{}"),
        "InvalidAction",
        "NoSuchAction",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.action = None;
    case("missing action", call, "MissingParameter", "X-TC-Action");
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.version = Some("2017-03-12".into());
    case("wrong version", call, "NoSuchVersion", "2017-03-12");
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.version = None;
    case("missing version", call, "MissingParameter", "X-TC-Version");
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.authorization = Some(None);
    case(
        "missing Authorization",
        call,
        "AuthFailure.InvalidAuthorization",
        "Authorization",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.authorization = Some(Some(format!("TC3-HMAC-SHA256 Credential={SECRET_ID}")));
    case(
        "malformed Authorization",
        call,
        "AuthFailure.InvalidAuthorization",
        "SignedHeaders",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.service = "cvm".into();
    case(
        "service other than ssl",
        call,
        "AuthFailure.InvalidAuthorization",
        "cvm",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.secret_key = "WrongSecretKey000000000000000000".into();
    case(
        "wrong secret key",
        call,
        "AuthFailure.SignatureFailure",
        "signature",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.secret_id = "AKIDunknown".into();
    case(
        "unknown SecretId",
        call,
        "AuthFailure.SecretIdNotFound",
        "AKIDunknown",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.secret_id = DISABLED_SECRET_ID.into();
    call.secret_key = DISABLED_SECRET_KEY.into();
    case(
        "disabled key",
        call,
        "AuthFailure.InvalidSecretId",
        "disabled",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.timestamp = NOW - 360;
    case(
        "timestamp six minutes old",
        call,
        "AuthFailure.SignatureExpire",
        "300 seconds",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.timestamp = NOW + 360;
    case(
        "timestamp six minutes ahead",
        call,
        "AuthFailure.SignatureExpire",
        "300 seconds",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.credential_date = Some("2026-12-03".into());
    case(
        "credential date not timestamp date",
        call,
        "AuthFailure.SignatureFailure",
        "2026-12-03",
    );
    case(
        "temporary credential token",
        TestCall::post("DescribeCertificates", "{}").header("x-tc-token", "token"),
        "AuthFailure.TokenFailure",
        "X-TC-Token",
    );
    case(
        "unsupported language",
        TestCall::post("DescribeCertificates", "{}").header("x-tc-language", "fr-FR"),
        "InvalidParameterValue",
        "X-TC-Language",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.method = "PUT";
    case("PUT method", call, "UnsupportedProtocol", "PUT");
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.path = "/v2".into();
    case("path other than root", call, "UnsupportedProtocol", "/v2");
    let mut call = TestCall::get("DescribeCertificates", "Offset=1");
    call.body = b"{}".to_vec();
    case("GET with a body", call, "InvalidParameter", "query string");
    case(
        "GET integer given a word",
        TestCall::get("DescribeCertificates", "Limit=many"),
        "InvalidParameter",
        "Limit",
    );
    case(
        "GET unknown parameter",
        TestCall::get("DescribeCertificates", "Colour=red"),
        "UnknownParameter",
        "Colour",
    );
    case(
        "GET array with a gap",
        TestCall::get("DescribeCertificates", "CertIds.0=a&CertIds.2=b"),
        "InvalidParameter",
        "CertIds",
    );
    case(
        "handler error passes through",
        TestCall::post("RevokeCertificate", r#"{"CertificateId": "missing0"}"#),
        "FailedOperation.CertificateNotFound",
        "missing0",
    );
    case(
        "handler output not an object",
        TestCall::post("NotObject", "{}"),
        "InternalError",
        "RequestId",
    );
    case(
        "handler panics",
        TestCall::post("Panic", "{}"),
        "InternalError",
        "RequestId",
    );
    let mut call = TestCall::post("DescribeCertificates", "{}");
    call.secret_id = FAILING_SECRET_ID.into();
    case("credential store fails", call, "InternalError", "RequestId");
    cases
}

#[tokio::test]
async fn bad_requests_answer_errors_in_envelope() {
    for case in bad_cases() {
        let inner = envelope(send(case.request).await).await;
        let code = inner["Error"]["Code"].as_str();
        assert_eq!(code, Some(case.code), "{}: {inner}", case.name);
        let message = inner["Error"]["Message"].as_str().unwrap_or_default();
        assert!(
            message.contains(case.message_contains),
            "{}: message {message:?} lacks {:?}",
            case.name,
            case.message_contains
        );
    }
}

#[tokio::test]
async fn missing_timestamp_is_missing_parameter() {
    let mut request = TestCall::post("DescribeCertificates", "{}").build();
    request.headers_mut().remove("x-tc-timestamp");
    let inner = envelope(send(request).await).await;
    assert_eq!(inner["Error"]["Code"], "MissingParameter");
    assert!(
        inner["Error"]["Message"]
            .as_str()
            .unwrap()
            .contains("X-TC-Timestamp")
    );
}

#[tokio::test]
async fn internal_error_hides_panic_message() {
    let inner = envelope(send(TestCall::post("Panic", "{}").build()).await).await;
    let message = inner["Error"]["Message"].as_str().unwrap();
    assert!(!message.contains("on purpose"), "{message}");
}

#[tokio::test]
async fn body_over_limit_is_rejected() {
    let state = test_state().with_config(ApiConfig {
        max_body_bytes: 1024,
    });
    let padding = "x".repeat(2000);
    let body = format!(r#"{{"SearchKey": "{padding}"}}"#);

    let call = TestCall::post("DescribeCertificates", &body);
    let response = router(state.clone()).oneshot(call.build()).await.unwrap();
    let inner = envelope(response).await;
    assert_eq!(inner["Error"]["Code"], "RequestSizeLimitExceeded");
    assert!(inner["Error"]["Message"].as_str().unwrap().contains("1024"));

    let mut request = call.build();
    let length = body.len().to_string();
    request
        .headers_mut()
        .insert("content-length", length.parse().unwrap());
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let inner = envelope(response).await;
    assert_eq!(inner["Error"]["Code"], "RequestSizeLimitExceeded");

    let small = TestCall::post("DescribeCertificates", r#"{"SearchKey": "x"}"#);
    let inner = envelope(router(state).oneshot(small.build()).await.unwrap()).await;
    assert!(inner.get("Error").is_none(), "{inner}");
}

#[tokio::test]
async fn default_body_limit_is_four_mebibytes() {
    assert_eq!(ApiConfig::default().max_body_bytes, 4 * 1024 * 1024);
    let padding = "x".repeat(3 * 1024 * 1024);
    let body = format!(r#"{{"SearchKey": "{padding}"}}"#);
    let call = TestCall::post("DescribeCertificates", &body);
    let inner = envelope(send(call.build()).await).await;
    assert!(inner.get("Error").is_none(), "{}", inner["Error"]);
}

#[tokio::test]
async fn post_echoes_params_and_context() {
    let body = r#"{"Offset": "5", "Limit": 20, "CertificateStatus": [1, "9"], "CertIds": ["a"],
        "Tags": [{"TagKey": "k", "TagValue": "v"}], "Upload": null}"#;
    let call = TestCall::post("DescribeCertificates", body).header("x-tc-language", "en-US");
    let inner = envelope(send(call.build()).await).await;

    assert!(inner.get("Error").is_none(), "{inner}");
    assert_eq!(inner["Offset"], 5);
    assert_eq!(inner["Limit"], 20);
    assert_eq!(inner["CertificateStatus"], json!([1, 9]));
    assert_eq!(inner["CertIds"], json!(["a"]));
    assert_eq!(inner["Upload"], Value::Null);
    assert_eq!(
        inner["Params"]["Tags"],
        json!([{"TagKey": "k", "TagValue": "v"}])
    );
    assert_eq!(inner["TotalCount"], 2);

    let context = &inner["Context"];
    assert_eq!(context["AccountId"], ACCOUNT_ID);
    assert_eq!(context["Role"], "Reviewer");
    assert_eq!(context["SecretId"], SECRET_ID);
    assert_eq!(context["Action"], "DescribeCertificates");
    assert_eq!(context["Language"], "en-US");
    assert_eq!(context["Region"], "ap-guangzhou");
}

#[tokio::test]
async fn request_id_overrides_handler_key() {
    let call = TestCall::post("DescribeCertificates", "{}");
    let inner = envelope(send(call.build()).await).await;
    let context_request_id = inner["Context"]["RequestId"].as_str().unwrap();
    assert_eq!(inner["RequestId"].as_str().unwrap(), context_request_id);
}

#[tokio::test]
async fn empty_post_body_means_no_params() {
    let call = TestCall::post("DescribeCertificates", "");
    let inner = envelope(send(call.build()).await).await;
    assert!(inner.get("Error").is_none(), "{inner}");
    assert_eq!(inner["Params"], json!({}));
}

#[tokio::test]
async fn get_rebuilds_flattened_params() {
    let query = "Offset=0&Limit=10&CertificateStatus.0=1&CertificateStatus.1=9\
                 &Tags.0.TagKey=a&Tags.0.TagValue=b%2Fc&CertIds.0=x1";
    let call = TestCall::get("DescribeCertificates", query);
    let inner = envelope(send(call.build()).await).await;

    assert!(inner.get("Error").is_none(), "{inner}");
    assert_eq!(inner["Offset"], 0);
    assert_eq!(inner["Limit"], 10);
    assert_eq!(inner["CertificateStatus"], json!([1, 9]));
    assert_eq!(inner["CertIds"], json!(["x1"]));
    assert_eq!(
        inner["Params"]["Tags"],
        json!([{"TagKey": "a", "TagValue": "b/c"}])
    );
}

#[tokio::test]
async fn get_query_is_signed() {
    let call = TestCall::get("DescribeCertificates", "Offset=0");
    let mut request = call.build();
    *request.uri_mut() = "/?Offset=1".parse().unwrap();
    let inner = envelope(send(request).await).await;
    assert_eq!(inner["Error"]["Code"], "AuthFailure.SignatureFailure");
}

#[tokio::test]
async fn unsigned_payload_is_accepted() {
    let call = TestCall::post("RevokeCertificate", r#"{"CertificateId": "abcd1234"}"#)
        .header("x-tc-content-sha256", "UNSIGNED-PAYLOAD");
    let inner = envelope(send(call.build()).await).await;
    assert!(inner.get("Error").is_none(), "{inner}");
    assert_eq!(inner["CertificateId"], "abcd1234");
}

#[tokio::test]
async fn timestamp_at_window_edge_is_accepted() {
    for offset in [-300, 300] {
        let mut call = TestCall::post("DescribeCertificates", "{}");
        call.timestamp = NOW + offset;
        let inner = envelope(send(call.build()).await).await;
        assert!(inner.get("Error").is_none(), "offset {offset}: {inner}");
    }
}

#[tokio::test]
async fn clock_moves_window() {
    let now = Arc::new(std::sync::atomic::AtomicI64::new(NOW));
    let clock_now = now.clone();
    let state = test_state().with_clock(Arc::new(move || {
        clock_now.load(std::sync::atomic::Ordering::SeqCst)
    }));
    let call = TestCall::post("DescribeCertificates", "{}");

    let inner = envelope(router(state.clone()).oneshot(call.build()).await.unwrap()).await;
    assert!(inner.get("Error").is_none(), "{inner}");

    now.store(NOW + 301, std::sync::atomic::Ordering::SeqCst);
    let inner = envelope(router(state).oneshot(call.build()).await.unwrap()).await;
    assert_eq!(inner["Error"]["Code"], "AuthFailure.SignatureExpire");
}

#[tokio::test]
async fn legacy_signature_is_rejected() {
    let body = "Action=DescribeCertificates&Version=2019-12-05&Nonce=1&Timestamp=1796398272\
                &SecretId=AKIDEXAMPLE&SignatureMethod=HmacSHA256&Signature=abc%3D";
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("host", "127.0.0.1:18931")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let inner = envelope(send(request).await).await;
    assert_eq!(inner["Error"]["Code"], "AuthFailure.SignatureFailure");
    let message = inner["Error"]["Message"].as_str().unwrap();
    assert!(message.contains("TC3-HMAC-SHA256"), "{message}");

    let request = Request::builder()
        .method("GET")
        .uri(format!("/?{body}"))
        .header("host", "127.0.0.1:18931")
        .body(Body::empty())
        .unwrap();
    let inner = envelope(send(request).await).await;
    assert_eq!(inner["Error"]["Code"], "AuthFailure.SignatureFailure");
}

#[tokio::test]
async fn authority_stands_in_for_host() {
    let call = TestCall::post("RevokeCertificate", r#"{"CertificateId": "abcd1234"}"#);
    let mut request = call.build();
    request.headers_mut().remove("host");
    *request.uri_mut() = "http://127.0.0.1:18931/".parse().unwrap();

    let inner = envelope(send(request).await).await;
    assert!(inner.get("Error").is_none(), "{inner}");
    assert_eq!(inner["CertificateId"], "abcd1234");
}
