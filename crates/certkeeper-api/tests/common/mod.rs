//! Fakes shared by the integration tests: an in-memory credential store, an action handler that
//! echoes its input, and a request signer.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use certkeeper_api::tc3;
use certkeeper_api::{
    ActionHandler, ApiError, ApiState, Credential, CredentialStore, CredentialStoreError, Params,
    RequestContext, Role,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

pub const SECRET_ID: &str = "AKIDEXAMPLEexample0000000000000000";
pub const SECRET_KEY: &str = "ExampleSecretKey0000000000000000";
pub const DISABLED_SECRET_ID: &str = "AKIDdisabled000000000000000000000";
pub const DISABLED_SECRET_KEY: &str = "DisabledSecretKey000000000000000";
/// A SecretId whose lookup fails as if the database were down.
pub const FAILING_SECRET_ID: &str = "AKIDstorefailure00000000000000000";
pub const ACCOUNT_ID: i64 = 1001;
/// 2026-12-04 07:31:12 UTC, the timestamp of the captured SDK request.
pub const NOW: i64 = 1796398272;

pub struct FakeCredentials {
    keys: HashMap<String, Credential>,
}

impl FakeCredentials {
    pub fn new() -> Self {
        let mut keys = HashMap::new();
        keys.insert(
            SECRET_ID.to_owned(),
            Credential {
                account_id: ACCOUNT_ID,
                secret_key: Zeroizing::new(SECRET_KEY.to_owned()),
                role: Role::Reviewer,
                enabled: true,
            },
        );
        keys.insert(
            DISABLED_SECRET_ID.to_owned(),
            Credential {
                account_id: ACCOUNT_ID,
                secret_key: Zeroizing::new(DISABLED_SECRET_KEY.to_owned()),
                role: Role::User,
                enabled: false,
            },
        );
        Self { keys }
    }
}

#[async_trait]
impl CredentialStore for FakeCredentials {
    async fn find_credential(
        &self,
        secret_id: &str,
    ) -> Result<Option<Credential>, CredentialStoreError> {
        if secret_id == FAILING_SECRET_ID {
            return Err("connection refused".into());
        }
        Ok(self.keys.get(secret_id).cloned())
    }
}

/// Handler whose actions echo the context and the parameters they read.
pub struct EchoHandler;

const DESCRIBE_CERTIFICATES: &[&str] = &[
    "Offset",
    "Limit",
    "SearchKey",
    "CertificateStatus",
    "Tags",
    "CertIds",
    "Upload",
];

#[async_trait]
impl ActionHandler for EchoHandler {
    fn parameters(&self, action: &str) -> Option<&'static [&'static str]> {
        match action {
            "DescribeCertificates" => Some(DESCRIBE_CERTIFICATES),
            "RevokeCertificate" => Some(&["CertificateId", "Reason"]),
            "Panic" | "NotObject" => Some(&[]),
            _ => None,
        }
    }

    async fn handle(&self, ctx: RequestContext, params: Params) -> Result<Value, ApiError> {
        let context = json!({
            "AccountId": ctx.account_id,
            "Role": format!("{:?}", ctx.role),
            "SecretId": ctx.secret_id,
            "Action": ctx.action,
            "Language": ctx.language.as_str(),
            "Region": ctx.region,
            "RequestId": ctx.request_id,
        });
        match ctx.action.as_str() {
            "DescribeCertificates" => {
                let statuses = params.optional_integer_array("CertificateStatus")?;
                // One made-up certificate per requested status, so that clients which print
                // only documented output fields (tccli) still show what the server received.
                let certificates: Vec<Value> = statuses
                    .iter()
                    .flatten()
                    .map(|status| {
                        json!({
                            "CertificateId": format!("status{status}"),
                            "Status": status,
                            "Alias": ctx.secret_id,
                        })
                    })
                    .collect();
                Ok(json!({
                    "Context": context,
                    "Params": params.as_map(),
                    "Offset": params.optional_unsigned("Offset")?,
                    "Limit": params.optional_unsigned("Limit")?,
                    "CertificateStatus": statuses,
                    "CertIds": params.optional_string_array("CertIds")?,
                    "Upload": params.optional_integer("Upload")?,
                    "TotalCount": certificates.len(),
                    "Certificates": certificates,
                }))
            }
            "RevokeCertificate" => {
                let certificate_id = params.required_string("CertificateId")?;
                let reason = params.optional_string("Reason")?;
                if certificate_id == "missing0" {
                    return Err(ApiError::certificate_not_found(&certificate_id));
                }
                Ok(json!({
                    "Context": context,
                    "CertificateId": certificate_id,
                    "Reason": reason,
                    "RevokeDomainValidateAuths": [],
                }))
            }
            "Panic" => panic!("fake handler panics on purpose"),
            "NotObject" => Ok(json!([1, 2])),
            other => Err(ApiError::invalid_action(other)),
        }
    }
}

/// State with the fake store and handler and a clock fixed at [`NOW`].
pub fn test_state() -> ApiState {
    ApiState::new(Arc::new(FakeCredentials::new()), Arc::new(EchoHandler))
        .with_clock(Arc::new(|| NOW))
}

/// A request to sign and send. Tests change fields before calling [`TestCall::build`].
#[derive(Clone)]
pub struct TestCall {
    pub method: &'static str,
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    pub content_type: String,
    pub host: String,
    pub action: Option<String>,
    pub version: Option<String>,
    pub timestamp: i64,
    pub credential_date: Option<String>,
    pub service: String,
    pub secret_id: String,
    pub secret_key: String,
    /// Replaces the computed `Authorization` header, and `Some(None)` omits it.
    pub authorization: Option<Option<String>>,
    pub extra_headers: Vec<(String, String)>,
}

impl TestCall {
    pub fn post(action: &str, body: &str) -> Self {
        Self {
            method: "POST",
            path: "/".to_owned(),
            query: String::new(),
            body: body.as_bytes().to_vec(),
            content_type: "application/json".to_owned(),
            host: "127.0.0.1:18931".to_owned(),
            action: Some(action.to_owned()),
            version: Some("2019-12-05".to_owned()),
            timestamp: NOW,
            credential_date: None,
            service: "ssl".to_owned(),
            secret_id: SECRET_ID.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
            authorization: None,
            extra_headers: Vec::new(),
        }
    }

    pub fn get(action: &str, query: &str) -> Self {
        Self {
            method: "GET",
            query: query.to_owned(),
            body: Vec::new(),
            content_type: "application/x-www-form-urlencoded".to_owned(),
            ..Self::post(action, "")
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.extra_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Computes the `Authorization` header the way the SDKs do: signing content-type and host.
    pub fn authorization_header(&self) -> String {
        let timestamp = self.timestamp.to_string();
        let date = self
            .credential_date
            .clone()
            .unwrap_or_else(|| tc3::utc_date(self.timestamp).unwrap());
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("content-type", self.content_type.parse().unwrap());
        headers.insert("host", self.host.parse().unwrap());
        for (name, value) in &self.extra_headers {
            let name: axum::http::HeaderName = name.parse().unwrap();
            headers.insert(name, value.parse().unwrap());
        }
        let payload_hash = tc3::hashed_payload(self.method, &headers, &self.body);
        let canonical = tc3::canonical_request(
            self.method,
            &self.path,
            &self.query,
            &headers,
            "content-type;host",
            &payload_hash,
        )
        .unwrap();
        let to_sign = tc3::string_to_sign(&timestamp, &date, &self.service, &canonical);
        let signature = tc3::sign(&self.secret_key, &date, &self.service, &to_sign);
        format!(
            "TC3-HMAC-SHA256 Credential={}/{date}/{}/tc3_request, \
             SignedHeaders=content-type;host, Signature={signature}",
            self.secret_id, self.service
        )
    }

    pub fn build(&self) -> Request<Body> {
        let uri = if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        };
        let mut builder = Request::builder()
            .method(self.method)
            .uri(uri)
            .header("content-type", &self.content_type)
            .header("host", &self.host)
            .header("x-tc-timestamp", self.timestamp.to_string());
        let has_extra = |name: &str| self.extra_headers.iter().any(|(extra, _)| extra == name);
        if !has_extra("x-tc-region") {
            builder = builder.header("x-tc-region", "ap-guangzhou");
        }
        if !has_extra("x-tc-language") {
            builder = builder.header("x-tc-language", "zh-CN");
        }
        if let Some(action) = &self.action {
            builder = builder.header("x-tc-action", action);
        }
        if let Some(version) = &self.version {
            builder = builder.header("x-tc-version", version);
        }
        for (name, value) in &self.extra_headers {
            builder = builder.header(name, value);
        }
        let authorization = match &self.authorization {
            Some(replacement) => replacement.clone(),
            None => Some(self.authorization_header()),
        };
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(Body::from(self.body.clone())).unwrap()
    }
}
