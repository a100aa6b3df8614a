//! Checks against a request captured from the Tencent Cloud Python SDK 3.1.195: a
//! RevokeCertificate call with made-up credentials, whose intermediate values were recomputed by a
//! separate implementation of the algorithm.

use axum::http::{HeaderMap, HeaderValue};

use super::*;

const SECRET_ID: &str = "AKIDEXAMPLEexample0000000000000000";
const SECRET_KEY: &str = "ExampleSecretKey0000000000000000";
const TIMESTAMP: i64 = 1796398272;
const BODY: &str = r#"{"CertificateId": "abcd1234", "Reason": "key compromise"}"#;
const SIGNATURE: &str = "e211c658fdfb83ee8f3e418abf61f339fc0f4daaacf2461031362f67a1fccdd7";

fn example_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    let pairs = [
        ("user-agent", "python-requests/2.34.2"),
        ("x-tc-traceid", "e758516a-0f31-47d4-84a9-55237bb30484"),
        ("content-type", "application/json"),
        ("host", "127.0.0.1:18931"),
        ("x-tc-action", "RevokeCertificate"),
        ("x-tc-requestclient", "SDK_PYTHON_3.1.195"),
        ("x-tc-timestamp", "1796398272"),
        ("x-tc-version", "2019-12-05"),
        ("x-tc-region", "ap-guangzhou"),
        ("x-tc-language", "zh-CN"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-04/ssl/tc3_request, \
         SignedHeaders=content-type;host, Signature={SIGNATURE}"
    );
    headers.insert("authorization", authorization.parse().unwrap());
    headers
}

fn example_parts(headers: &HeaderMap) -> RequestParts<'_> {
    RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body: BODY.as_bytes(),
    }
}

#[test]
fn worked_example_intermediate_values() {
    let headers = example_headers();

    let payload_hash = hashed_payload("POST", &headers, BODY.as_bytes());
    assert_eq!(
        payload_hash,
        "227432c926969abdf3f1215b452d90fc1853e016f076276145dab24147fcd4d9"
    );

    let canonical = canonical_request(
        "POST",
        "/",
        "",
        &headers,
        "content-type;host",
        &payload_hash,
    )
    .unwrap();
    assert_eq!(
        canonical,
        format!(
            "POST\n/\n\ncontent-type:application/json\nhost:127.0.0.1:18931\n\n\
             content-type;host\n{payload_hash}"
        )
    );
    assert_eq!(
        sha256_hex(canonical.as_bytes()),
        "df164c3c0a1940b9a5df2f9ce1d3b4993c80225643e6c5a47f49260c2af884d1"
    );

    let to_sign = string_to_sign("1796398272", "2026-12-04", "ssl", &canonical);
    assert_eq!(
        to_sign,
        "TC3-HMAC-SHA256\n1796398272\n2026-12-04/ssl/tc3_request\n\
         df164c3c0a1940b9a5df2f9ce1d3b4993c80225643e6c5a47f49260c2af884d1"
    );

    let keys = derive_keys(SECRET_KEY, "2026-12-04", "ssl");
    assert_eq!(
        hex::encode(keys.k_date),
        "2eaa52909ed566524df31593a466bcdda8f9cb47807dcd08182b62980d6c9ab3"
    );
    assert_eq!(
        hex::encode(keys.k_service),
        "e9cb9baf429ce5bf532641a66a8cdd33d4b54a1c0977dc0d39db839254eaf6c9"
    );
    assert_eq!(
        hex::encode(keys.k_signing),
        "0f654080719b175adace001b52be0c0ce0358eb3779c64767ba6f58a012be50c"
    );

    assert_eq!(sign(SECRET_KEY, "2026-12-04", "ssl", &to_sign), SIGNATURE);
}

#[test]
fn worked_example_verifies() {
    let headers = example_headers();
    let prepared = prepare(&example_parts(&headers), TIMESTAMP + 10).unwrap();
    assert_eq!(prepared.secret_id(), SECRET_ID);
    assert_eq!(prepared.timestamp(), TIMESTAMP);
    assert_eq!(prepared.verify(SECRET_KEY), Ok(()));
}

#[test]
fn wrong_key_is_signature_mismatch() {
    let headers = example_headers();
    let prepared = prepare(&example_parts(&headers), TIMESTAMP).unwrap();
    assert_eq!(
        prepared.verify("ExampleSecretKey0000000000000001"),
        Err(Tc3Error::SignatureMismatch)
    );
}

#[test]
fn changed_body_is_signature_mismatch() {
    let headers = example_headers();
    let body = BODY.replace("abcd1234", "abcd1235");
    let parts = RequestParts {
        body: body.as_bytes(),
        ..example_parts(&headers)
    };
    let prepared = prepare(&parts, TIMESTAMP).unwrap();
    assert_eq!(
        prepared.verify(SECRET_KEY),
        Err(Tc3Error::SignatureMismatch)
    );
}

#[test]
fn changed_signed_header_is_signature_mismatch() {
    let mut headers = example_headers();
    headers.insert("host", HeaderValue::from_static("127.0.0.1:18932"));
    let prepared = prepare(&example_parts(&headers), TIMESTAMP).unwrap();
    assert_eq!(
        prepared.verify(SECRET_KEY),
        Err(Tc3Error::SignatureMismatch)
    );
}

#[test]
fn unsigned_header_change_still_verifies() {
    let mut headers = example_headers();
    headers.insert("x-tc-traceid", HeaderValue::from_static("other"));
    let prepared = prepare(&example_parts(&headers), TIMESTAMP).unwrap();
    assert_eq!(prepared.verify(SECRET_KEY), Ok(()));
}

#[test]
fn unsigned_payload_hashes_marker() {
    let mut headers = example_headers();
    headers.insert(
        CONTENT_SHA256_HEADER,
        HeaderValue::from_static(UNSIGNED_PAYLOAD),
    );
    assert_eq!(
        hashed_payload("POST", &headers, BODY.as_bytes()),
        sha256_hex(b"UNSIGNED-PAYLOAD")
    );
}

#[test]
fn get_hashes_empty_payload() {
    let headers = HeaderMap::new();
    assert_eq!(
        hashed_payload("GET", &headers, b"ignored"),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn timestamp_window_edges() {
    assert_eq!(check_timestamp("1000", 1300), Ok(1000));
    assert_eq!(check_timestamp("1600", 1300), Ok(1600));
    assert_eq!(
        check_timestamp("1000", 1301),
        Err(Tc3Error::Expired {
            timestamp: 1000,
            now: 1301
        })
    );
    assert_eq!(
        check_timestamp("1601", 1300),
        Err(Tc3Error::Expired {
            timestamp: 1601,
            now: 1300
        })
    );
}

#[test]
fn timestamp_rejects_non_digits() {
    for raw in ["", "-5", "+5", "12a", "1.5", "99999999999999999999999"] {
        assert_eq!(
            check_timestamp(raw, 0),
            Err(Tc3Error::InvalidTimestamp(raw.to_owned())),
            "timestamp {raw:?}"
        );
    }
}

#[test]
fn expired_example_is_rejected() {
    let headers = example_headers();
    let result = prepare(&example_parts(&headers), TIMESTAMP + 360);
    assert!(
        matches!(result, Err(Tc3Error::Expired { .. })),
        "{result:?}"
    );
}

#[test]
fn credential_date_must_match_timestamp() {
    let mut headers = example_headers();
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-03/ssl/tc3_request, \
         SignedHeaders=content-type;host, Signature={SIGNATURE}"
    );
    headers.insert("authorization", authorization.parse().unwrap());
    let result = prepare(&example_parts(&headers), TIMESTAMP);
    assert_eq!(
        result.unwrap_err(),
        Tc3Error::DateMismatch {
            credential_date: "2026-12-03".into(),
            timestamp_date: "2026-12-04".into()
        }
    );
}

#[test]
fn service_must_be_ssl() {
    let mut headers = example_headers();
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-04/cvm/tc3_request, \
         SignedHeaders=content-type;host, Signature={SIGNATURE}"
    );
    headers.insert("authorization", authorization.parse().unwrap());
    let result = prepare(&example_parts(&headers), TIMESTAMP);
    assert_eq!(result.unwrap_err(), Tc3Error::WrongService("cvm".into()));
}

#[test]
fn missing_signed_header_is_invalid_authorization() {
    let mut headers = example_headers();
    headers.remove("content-type");
    let result = prepare(&example_parts(&headers), TIMESTAMP);
    assert!(
        matches!(result, Err(Tc3Error::InvalidAuthorization(ref detail)) if detail.contains("content-type")),
        "{result:?}"
    );
}

#[test]
fn parse_accepts_any_field_order() {
    let value = format!(
        "TC3-HMAC-SHA256 Signature={SIGNATURE},SignedHeaders=content-type;host,  \
         Credential={SECRET_ID}/2026-12-04/ssl/tc3_request"
    );
    let parsed = parse_authorization(&value).unwrap();
    assert_eq!(parsed.secret_id, SECRET_ID);
    assert_eq!(parsed.date, "2026-12-04");
    assert_eq!(parsed.service, "ssl");
    assert_eq!(parsed.signed_headers, "content-type;host");
    assert_eq!(hex::encode(&parsed.signature), SIGNATURE);
}

#[test]
fn parse_rejects_malformed_headers() {
    let scope = format!("{SECRET_ID}/2026-12-04/ssl/tc3_request");
    let cases = [
        String::new(),
        "Bearer abc".to_owned(),
        format!("TC3-HMAC-SHA1 Credential={scope}, SignedHeaders=host, Signature={SIGNATURE}"),
        format!("TC3-HMAC-SHA256Credential={scope}, SignedHeaders=host, Signature={SIGNATURE}"),
        format!("TC3-HMAC-SHA256 SignedHeaders=host, Signature={SIGNATURE}"),
        format!("TC3-HMAC-SHA256 Credential={scope}, Signature={SIGNATURE}"),
        format!("TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=host"),
        format!("TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=abc"),
        format!(
            "TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature={}",
            "zz".repeat(32)
        ),
        format!("TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=, Signature={SIGNATURE}"),
        format!("TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=host;;a, Signature={SIGNATURE}"),
        format!(
            "TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-04/ssl, SignedHeaders=host, Signature={SIGNATURE}"
        ),
        format!(
            "TC3-HMAC-SHA256 Credential=/2026-12-04/ssl/tc3_request, SignedHeaders=host, Signature={SIGNATURE}"
        ),
        format!(
            "TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-13-04/ssl/tc3_request, SignedHeaders=host, Signature={SIGNATURE}"
        ),
        format!(
            "TC3-HMAC-SHA256 Credential={SECRET_ID}/2026-12-04/ssl/aws4_request, SignedHeaders=host, Signature={SIGNATURE}"
        ),
        format!(
            "TC3-HMAC-SHA256 Credential={scope}, Credential={scope}, SignedHeaders=host, Signature={SIGNATURE}"
        ),
        format!(
            "TC3-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature={SIGNATURE}, Extra=1"
        ),
        format!("TC3-HMAC-SHA256 Credential={scope} SignedHeaders=host Signature={SIGNATURE}"),
    ];
    for value in cases {
        let result = parse_authorization(&value);
        assert!(
            matches!(result, Err(Tc3Error::InvalidAuthorization(_))),
            "{value:?} gave {result:?}"
        );
    }
}
