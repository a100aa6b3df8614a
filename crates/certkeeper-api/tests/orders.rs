//! The order actions against a real store, order service and BIND9: ApplyCertificate input
//! checks, DvAuthDetail, CheckCertificateDomainVerification, CompleteCertificate and
//! CancelCertificateOrder, and ReplaceCertificate.

mod common;
mod fixture;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use certkeeper_api::{ApiState, Services, StoreCredentials, ssl_actions};
use certkeeper_core::ProductCatalogue;
use certkeeper_ra::{OrderService, OrderSettings};
use certkeeper_testkit::Bind9;
use certkeeper_va::{DnsAutoConfig, ValidationConfig, Validator};
use fixture::{Fixture, Key, error_code, fixture};
use serde_json::{Value, json};

use crate::common::NOW;

/// The real `ssl` actions with an order service whose resolver is `dns_server`.
struct OrderApp {
    fx: Fixture,
    app: Router,
}

fn order_service(fx: &Fixture, dns_server: std::net::SocketAddr) -> OrderService {
    let config = ValidationConfig {
        dns_servers: vec![dns_server],
        dns_timeout: Duration::from_secs(2),
        allow_private_addresses: true,
        recheck_interval: Duration::from_secs(1),
        ..ValidationConfig::default()
    };
    let validator = Arc::new(Validator::new(config, &DnsAutoConfig::default()).unwrap());
    let settings = OrderSettings { caa_identities: vec!["certkeeper.example".into()] };
    OrderService::new(fx.store.clone(), fx.issuance.clone(), validator, Arc::clone(&fx.master_key), settings)
}

async fn order_app(dns_server: std::net::SocketAddr) -> OrderApp {
    let fx = fixture().await;
    let orders = order_service(&fx, dns_server);
    let issuers = Arc::new(fx.store.issuers().await.unwrap());
    let catalogue = Arc::new(ProductCatalogue::default());
    let mut services = Services::new(fx.store.clone(), Arc::clone(&fx.master_key), catalogue, issuers, "http://127.0.0.1:18931");
    services.clock = Arc::new(|| NOW);
    let services = Arc::new(services.with_orders(orders));
    let credentials = Arc::new(StoreCredentials::new(fx.store.clone(), Arc::clone(&fx.master_key)));
    let state = ApiState::new(credentials, Arc::new(ssl_actions(services))).with_clock(Arc::new(|| NOW));
    OrderApp { fx, app: certkeeper_api::router(state) }
}

impl OrderApp {
    async fn call(&self, key: &Key, action: &str, body: &Value) -> Value {
        use axum::body::to_bytes;
        use tower::ServiceExt;
        let mut call = common::TestCall::post(action, &body.to_string());
        call.secret_id = key.secret_id.clone();
        call.secret_key = key.secret_key.clone();
        let response = self.app.clone().oneshot(call.build()).await.unwrap();
        assert_eq!(response.status(), 200);
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        value["Response"].clone()
    }

    async fn apply(&self, key: &Key, body: &Value) -> String {
        let response = self.call(key, "ApplyCertificate", body).await;
        assert_eq!(error_code(&response), None, "{response}");
        response["CertificateId"].as_str().unwrap().to_owned()
    }

    async fn certificate_count(&self) -> usize {
        let listed = self.call(&self.fx.alice, "DescribeCertificates", &json!({})).await;
        listed["TotalCount"].as_u64().unwrap() as usize
    }
}

/// Returns an address where no DNS server listens, for tests that never check a validation.
fn unused_dns_server() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], certkeeper_testkit::free_port()))
}

#[tokio::test]
async fn apply_rejects_bad_input_and_stores_nothing() {
    let app = order_app(unused_dns_server()).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "DomainName": "www.example.test" }), "MissingParameter", "DvAuthMethod"),
        (json!({ "DvAuthMethod": "EMAIL", "DomainName": "www.example.test" }), "InvalidParameterValue", "DNS, DNS_AUTO or FILE"),
        (json!({ "DvAuthMethod": "NONE", "DomainName": "www.example.test" }), "InvalidParameterValue", "DNS, DNS_AUTO or FILE"),
        (json!({ "DvAuthMethod": "DNS" }), "MissingParameter", "DomainName"),
        (json!({ "DvAuthMethod": "FILE", "DomainName": "*.example.test" }), "InvalidParameter", "wildcard"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "com" }), "InvalidParameter.DomainInvalid", "\"com\""),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "co.uk" }), "InvalidParameter.DomainInvalid", "public suffix"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "192.0.2.1" }), "InvalidParameter.DomainInvalid", "IP address"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "bad_name.example.test" }), "InvalidParameter.DomainInvalid", "bad_name"),
        (
            json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "CsrEncryptAlgo": "RSA", "CsrKeyParameter": "4096" }),
            "InvalidParameterValue",
            "2048",
        ),
        (
            json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "CsrEncryptAlgo": "ECC", "CsrKeyParameter": "secp384r1" }),
            "InvalidParameterValue",
            "prime256v1",
        ),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "CsrEncryptAlgo": "SM2" }), "InvalidParameterValue", "RSA or ECC"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "PackageType": "2" }), "InvalidParameterValue", "83"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "ValidityPeriod": "12" }), "InvalidParameterValue", "3 months"),
        (
            json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "DnsNames": ["api.example.test"] }),
            "InvalidParameter",
            "not supported",
        ),
        (
            json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "OldCertificateId": "abcd1234" }),
            "FailedOperation.CertificateNotFound",
            "abcd1234",
        ),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "AutoRenewFlag": 2 }), "InvalidParameterValue", "0 or 1"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "Colour": "red" }), "UnknownParameter", "Colour"),
        (json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test", "Alias": "a".repeat(201) }), "InvalidParameterValue", "has 201 characters; at most 200"),
    ];
    for (body, code, fragment) in &cases {
        let response = app.call(&app.fx.alice, "ApplyCertificate", body).await;
        assert_eq!(error_code(&response), Some(*code), "{body} -> {response}");
        let message = response["Error"]["Message"].as_str().unwrap();
        assert!(message.contains(fragment), "{body}: message {message:?} lacks {fragment:?}");
    }
    assert_eq!(app.certificate_count().await, 0, "a rejected application must store nothing");
    let due = app.fx.store.certificates_with_due_validations(i64::MAX, 100).await.unwrap();
    assert!(due.is_empty(), "a rejected application must store no validation: {due:?}");
}

#[tokio::test]
async fn apply_accepts_optional_parameters() {
    let app = order_app(unused_dns_server()).await;
    let body = json!({
        "DvAuthMethod": "dns",
        "DomainName": "www.example.test",
        "PackageType": "83",
        "ProjectId": "7",
        "ValidityPeriod": "3",
        "CsrEncryptAlgo": "ecc",
        "CsrKeyParameter": "prime256v1",
        "CsrKeyPassword": "unused",
        "Alias": "web",
        "ContactEmail": "admin@example.test",
        "ContactPhone": "123",
        "PackageId": "",
        "DeleteDnsAutoRecord": true,
        "DnsNames": [],
        "OldCertificateId": "",
    });
    let id = app.apply(&app.fx.alice, &body).await;
    let info = app.call(&app.fx.alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(info["Status"], json!(0), "{info}");
    assert_eq!(info["StatusMsg"], json!("PENDING-DCV"));
    assert_eq!(info["VerifyType"], json!("DNS"));
    assert_eq!(info["Alias"], json!("web"));
    assert_eq!(info["ProjectId"], json!("7"));
    assert_eq!(info["PackageType"], json!("83"));
    let record = app.fx.store.certificate(&id).await.unwrap().unwrap();
    assert_eq!(record.key_algorithm, certkeeper_core::KeyAlgorithm::EcdsaP256);
    assert_eq!(record.account_id, Some(app.fx.alice.account_id));
}

#[tokio::test]
async fn dns_order_validates_and_issues() {
    let bind = Bind9::start(&["example.test"]);
    let app = order_app(bind.addr()).await;
    let alice = &app.fx.alice;
    let id = app.apply(alice, &json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test" })).await;

    let info = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    let detail = &info["DvAuthDetail"];
    assert_eq!(detail["DvAuthKey"], json!("_dnsauth.www.example.test"), "{info}");
    assert_eq!(detail["DvAuthDomain"], json!("www.example.test"));
    assert_eq!(detail["DvAuthKeySubDomain"], json!("_dnsauth"));
    assert!(detail["DvAuthPath"].is_null());
    let token = detail["DvAuthValue"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 40, "20 random bytes in hex");
    let auths = detail["DvAuths"].as_array().unwrap();
    assert_eq!(auths.len(), 1);
    assert_eq!(auths[0]["DvAuthSubDomain"], json!("_dnsauth"));
    assert_eq!(auths[0]["DvAuthVerifyType"], json!("TXT"));
    assert_eq!(auths[0]["DvAuthValue"], json!(token));
    let full = app.call(alice, "DescribeCertificateDetail", &json!({ "CertificateId": id })).await;
    assert_eq!(full["DvAuthDetail"], info["DvAuthDetail"]);

    let pending = app.call(alice, "CheckCertificateDomainVerification", &json!({ "CertificateId": id })).await;
    let results = pending["VerificationResults"].as_array().unwrap_or_else(|| panic!("{pending}"));
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["Domain"], json!("www.example.test"));
    assert_eq!(results[0]["VerifyType"], json!("DNS"));
    assert_eq!(results[0]["LocalCheck"], json!(-1), "no TXT record yet: {pending}");
    assert_eq!(results[0]["CaCheck"], json!(-1));
    assert_eq!(results[0]["Issued"], json!(false));
    assert_eq!(results[0]["Frequently"], json!(false));
    assert!(results[0]["CheckValue"].is_array());
    assert!(!results[0]["LocalCheckFailReason"].as_str().unwrap().is_empty());

    for action in ["CompleteCertificate", "CheckCertificateDomainVerification", "CancelCertificateOrder", "DescribeCertificate"] {
        let foreign = app.call(&app.fx.bob, action, &json!({ "CertificateId": id })).await;
        let unknown = app.call(&app.fx.bob, action, &json!({ "CertificateId": "zzzzzzzz" })).await;
        assert_eq!(error_code(&foreign), Some("FailedOperation.CertificateNotFound"), "{action}: {foreign}");
        assert_eq!(error_code(&unknown), Some("FailedOperation.CertificateNotFound"), "{action}: {unknown}");
    }

    bind.add_record("_dnsauth.www.example.test", 60, "TXT", &format!("\"{token}\""));
    let completed = app.call(alice, "CompleteCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(completed["CertificateId"], json!(id), "{completed}");
    let info = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(info["Status"], json!(1), "{info}");

    // Revoking or deleting another account's issued certificate reads as an unknown id and
    // changes nothing.
    for action in ["RevokeCertificate", "DeleteCertificate"] {
        let foreign = app.call(&app.fx.bob, action, &json!({ "CertificateId": id })).await;
        let unknown = app.call(&app.fx.bob, action, &json!({ "CertificateId": "zzzzzzzz" })).await;
        assert_eq!(error_code(&foreign), Some("FailedOperation.CertificateNotFound"), "{action}: {foreign}");
        assert_eq!(error_code(&unknown), Some("FailedOperation.CertificateNotFound"), "{action}: {unknown}");
        let foreign_message = foreign["Error"]["Message"].as_str().unwrap().replace(id.as_str(), "ID");
        let unknown_message = unknown["Error"]["Message"].as_str().unwrap().replace("zzzzzzzz", "ID");
        assert_eq!(foreign_message, unknown_message, "{action}");
    }
    let still = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(still["Status"], json!(1), "{still}");

    let passed = app.call(alice, "CheckCertificateDomainVerification", &json!({ "CertificateId": id })).await;
    let result = &passed["VerificationResults"][0];
    assert_eq!(result["LocalCheck"], json!(1), "{passed}");
    assert_eq!(result["CaCheck"], json!(2));
    assert_eq!(result["Issued"], json!(true));
    assert_eq!(result["CheckValue"], json!([token]));

    let again = app.call(alice, "CompleteCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&again), Some("FailedOperation.CertificateStatusNotAllowVerify"), "{again}");
    let cancel = app.call(alice, "CancelCertificateOrder", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&cancel), Some("FailedOperation.CertificateNotFoundOrCantCancel"), "{cancel}");
}

#[tokio::test]
async fn file_order_detail_and_cancel() {
    let app = order_app(unused_dns_server()).await;
    let alice = &app.fx.alice;
    let id = app.apply(alice, &json!({ "DvAuthMethod": "File", "DomainName": "www.example.test" })).await;
    let info = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(info["VerifyType"], json!("FILE"), "{info}");
    let detail = &info["DvAuthDetail"];
    let key = detail["DvAuthKey"].as_str().unwrap();
    assert!(key.ends_with(".txt"), "{detail}");
    assert_eq!(detail["DvAuthPath"], json!(format!("/.well-known/pki-validation/{key}")));
    assert_eq!(detail["DvAuths"][0]["DvAuthVerifyType"], json!("FILE"));

    let cancelled = app.call(alice, "CancelCertificateOrder", &json!({ "CertificateId": id })).await;
    assert_eq!(cancelled["CertificateId"], json!(id), "{cancelled}");
    let info = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(info["Status"], json!(7), "{info}");
    let complete = app.call(alice, "CompleteCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&complete), Some("FailedOperation.CertificateStatusNotAllowVerify"), "{complete}");
}

#[tokio::test]
async fn order_actions_need_order_service() {
    let fx = fixture().await;
    let response = fx.call(&fx.alice, "ApplyCertificate", &json!({ "DvAuthMethod": "DNS", "DomainName": "www.example.test" })).await;
    assert_eq!(error_code(&response), Some("InvalidAction"), "{response}");
}

/// Publishes the TXT records of an order from its `DvAuthDetail` and completes it.
async fn validate_over_api(app: &OrderApp, bind: &Bind9, key: &Key, id: &str) {
    let info = app.call(key, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    for auth in info["DvAuthDetail"]["DvAuths"].as_array().unwrap_or_else(|| panic!("{info}")) {
        let name = auth["DvAuthKey"].as_str().unwrap();
        let token = auth["DvAuthValue"].as_str().unwrap();
        bind.add_record(name, 60, "TXT", &format!("\"{token}\""));
    }
    let completed = app.call(key, "CompleteCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(error_code(&completed), None, "{completed}");
    let info = app.call(key, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(info["Status"], json!(1), "{info}");
}

#[tokio::test]
async fn replace_certificate_links_and_limits() {
    let bind = Bind9::start(&["example.test"]);
    let app = order_app(bind.addr()).await;
    let alice = &app.fx.alice;
    let id = app.apply(alice, &json!({ "DvAuthMethod": "DNS", "DomainName": "reissue.example.test" })).await;

    let pending = app.call(alice, "ReplaceCertificate", &json!({ "CertificateId": id, "ValidType": "DNS" })).await;
    assert_eq!(error_code(&pending), Some("FailedOperation.InvalidCertificateStatusCode"), "{pending}");
    validate_over_api(&app, &bind, alice, &id).await;

    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "CertificateId": id }), "MissingParameter", "ValidType"),
        (json!({ "CertificateId": id, "ValidType": "EMAIL" }), "InvalidParameterValue", "DNS, DNS_AUTO or FILE"),
        (json!({ "CertificateId": id, "ValidType": "DNS", "CsrType": "paper" }), "InvalidParameterValue", "original, upload or online"),
        (json!({ "CertificateId": id, "ValidType": "DNS", "CsrType": "Upload" }), "MissingParameter", "CsrContent"),
        (json!({ "CertificateId": id, "ValidType": "DNS", "CsrContent": "x" }), "InvalidParameter", "CsrType upload"),
        (json!({ "CertificateId": id, "ValidType": "DNS", "CsrType": "upload", "CsrContent": "not a CSR" }), "InvalidParameterValue", "CsrContent"),
        (
            json!({ "CertificateId": id, "ValidType": "DNS", "CsrType": "online", "CertCSREncryptAlgo": "RSA", "CertCSRKeyParameter": "1024" }),
            "InvalidParameterValue",
            "CertCSRKeyParameter",
        ),
        (
            json!({ "CertificateId": id, "ValidType": "DNS", "CsrType": "online", "CertCSREncryptAlgo": "RSA", "CertCSRKeyParameter": "4096" }),
            "InvalidParameterValue",
            "accepts rsa2048, ecdsa-p256",
        ),
        (json!({ "CertificateId": id, "ValidType": "DNS", "CertCSREncryptAlgo": "ECC" }), "InvalidParameter", "CsrType online"),
        (json!({ "CertificateId": id, "ValidType": "DNS", "SignAlgo": "SHA1" }), "InvalidParameterValue", "SHA256"),
        (json!({ "CertificateId": "zzzzzzzz", "ValidType": "DNS" }), "FailedOperation.CertificateNotFound", "zzzzzzzz"),
    ];
    let count = app.certificate_count().await;
    for (body, code, fragment) in &cases {
        let response = app.call(alice, "ReplaceCertificate", body).await;
        assert_eq!(error_code(&response), Some(*code), "{body} -> {response}");
        let message = response["Error"]["Message"].as_str().unwrap();
        assert!(message.contains(fragment), "{body}: message {message:?} lacks {fragment:?}");
    }
    assert_eq!(app.certificate_count().await, count, "a rejected reissue stores nothing");
    let foreign = app.call(&app.fx.bob, "ReplaceCertificate", &json!({ "CertificateId": id, "ValidType": "DNS" })).await;
    assert_eq!(error_code(&foreign), Some("FailedOperation.CertificateNotFound"), "{foreign}");

    let replaced = app
        .call(alice, "ReplaceCertificate", &json!({ "CertificateId": id, "ValidType": "dns", "CsrType": "ORIGINAL", "Reason": "new server" }))
        .await;
    assert_eq!(error_code(&replaced), None, "{replaced}");
    let new_id = replaced["CertificateId"].as_str().unwrap().to_owned();
    assert_ne!(new_id, id);
    let original = app.call(alice, "DescribeCertificateDetail", &json!({ "CertificateId": id })).await;
    assert_eq!(original["Status"], json!(11), "{original}");
    assert_eq!(original["CertificateExtra"]["ReplacedFor"], json!(new_id));
    let reissue = app.call(alice, "DescribeCertificateDetail", &json!({ "CertificateId": new_id })).await;
    assert_eq!(reissue["Status"], json!(0), "{reissue}");
    assert_eq!(reissue["CertificateExtra"]["ReplacedBy"], json!(id));

    validate_over_api(&app, &bind, alice, &new_id).await;
    let original = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(original["Status"], json!(1), "{original}");

    let count = app.certificate_count().await;
    for target in [&id, &new_id] {
        let second = app.call(alice, "ReplaceCertificate", &json!({ "CertificateId": target, "ValidType": "DNS" })).await;
        assert_eq!(error_code(&second), Some("FailedOperation.OrderAlreadyReplaced"), "{second}");
        let message = second["Error"]["Message"].as_str().unwrap();
        assert!(message.contains("reissued once"), "{message}");
    }
    assert_eq!(app.certificate_count().await, count);
}

#[tokio::test]
async fn apply_with_old_certificate_renews() {
    let bind = Bind9::start(&["example.test"]);
    let app = order_app(bind.addr()).await;
    let alice = &app.fx.alice;
    let id = app.apply(alice, &json!({ "DvAuthMethod": "DNS", "DomainName": "renew.example.test", "AutoRenewFlag": 1 })).await;
    validate_over_api(&app, &bind, alice, &id).await;
    let listed = app.call(alice, "DescribeCertificates", &json!({ "CertIds": [id] })).await;
    assert_eq!(listed["Certificates"][0]["AutoRenewFlag"], json!(1), "{listed}");

    let body = |old: &str, domain: &str| json!({ "DvAuthMethod": "DNS", "DomainName": domain, "OldCertificateId": old });
    let not_due = app.call(alice, "ApplyCertificate", &body(&id, "renew.example.test")).await;
    assert_eq!(error_code(&not_due), Some("FailedOperation.RenewNotAllowed"), "{not_due}");
    assert!(not_due["Error"]["Message"].as_str().unwrap().contains("renewal opens 30 days before expiry"), "{not_due}");

    // Copies of the issued certificate that expire in ten days and that expired a second ago.
    let issued = app.fx.store.certificate(&id).await.unwrap().unwrap();
    let log = certkeeper_store::LogEntry { actor: "test", action: "issued", detail: "", at: NOW };
    let mut due = issued.clone();
    due.id = format!("{}d", &issued.id[..7]);
    due.serial = None;
    due.not_after = Some(NOW + 10 * 24 * 3600);
    app.fx.store.insert_certificate(&due, &log).await.unwrap();
    let mut expired = due.clone();
    expired.id = format!("{}x", &issued.id[..7]);
    expired.not_after = Some(NOW - 1);
    app.fx.store.insert_certificate(&expired, &log).await.unwrap();

    let count = app.certificate_count().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (body(&due.id, "other.example.test"), "InvalidParameterValue", "a renewal keeps the domain"),
        (body(&expired.id, "renew.example.test"), "FailedOperation.InvalidCertificateStatusCode", "has expired"),
        (body("zzzzzzzz", "renew.example.test"), "FailedOperation.CertificateNotFound", "zzzzzzzz"),
    ];
    for (request, code, fragment) in &cases {
        let response = app.call(alice, "ApplyCertificate", request).await;
        assert_eq!(error_code(&response), Some(*code), "{request} -> {response}");
        let message = response["Error"]["Message"].as_str().unwrap();
        assert!(message.contains(fragment), "{request}: message {message:?} lacks {fragment:?}");
    }
    let foreign = app.call(&app.fx.bob, "ApplyCertificate", &body(&due.id, "renew.example.test")).await;
    assert_eq!(error_code(&foreign), Some("FailedOperation.CertificateNotFound"), "{foreign}");
    assert_eq!(app.certificate_count().await, count, "a rejected renewal stores nothing");

    let renewal = app.apply(alice, &body(&due.id, "renew.example.test")).await;
    let old = app.call(alice, "DescribeCertificates", &json!({ "CertIds": [due.id] })).await;
    assert_eq!(old["Certificates"][0]["HasRenewOrder"], json!(renewal), "{old}");
    assert_eq!(old["Certificates"][0]["CertificateExtra"]["RenewOrder"], json!(renewal));
    assert_eq!(old["Certificates"][0]["RenewAble"], json!(false));
    let new = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": renewal })).await;
    assert_eq!(new["CertificateExtra"]["OriginCertificateId"], json!(due.id), "{new}");
    assert_eq!(new["Status"], json!(0));

    let again = app.call(alice, "ApplyCertificate", &body(&due.id, "renew.example.test")).await;
    assert_eq!(error_code(&again), Some("FailedOperation.AlreadyRenewed"), "{again}");
    assert!(again["Error"]["Message"].as_str().unwrap().contains(&renewal), "{again}");
    let revoke = app.call(alice, "RevokeCertificate", &json!({ "CertificateId": due.id })).await;
    assert!(revoke["Error"]["Message"].as_str().unwrap_or("").contains("waits for its renewal"), "{revoke}");
}

/// Asserts that each (action, parameters) case returns `code` with `fragment` in its message.
async fn assert_errors(app: &OrderApp, key: &Key, cases: &[(&str, Value, &str, &str)]) {
    for (action, body, code, fragment) in cases {
        let response = app.call(key, action, body).await;
        assert_eq!(error_code(&response), Some(*code), "{action} {body} -> {response}");
        let message = response["Error"]["Message"].as_str().unwrap();
        assert!(message.contains(fragment), "{action} {body}: message {message:?} lacks {fragment:?}");
    }
}

#[tokio::test]
async fn paid_flow_rejects_bad_input() {
    let app = order_app(unused_dns_server()).await;
    let alice = &app.fx.alice;
    let products = app.call(alice, "DescribeProducts", &json!({})).await;
    let ov = products["Products"].as_array().unwrap().iter().find(|product| product["ProductId"] == json!(2)).unwrap().clone();
    assert_eq!(ov["ValidationLevel"], json!("OV"), "{products}");
    assert_eq!(ov["RevocationPolicy"], json!("confirmation-letter"));

    assert_errors(
        &app,
        alice,
        &[
            ("CreateCertificate", json!({ "DomainNum": 1, "TimeSpan": 1 }), "MissingParameter", "ProductId"),
            ("CreateCertificate", json!({ "ProductId": 83, "DomainNum": 1, "TimeSpan": 1 }), "InvalidParameterValue", "ApplyCertificate"),
            ("CreateCertificate", json!({ "ProductId": 999, "DomainNum": 1, "TimeSpan": 1 }), "InvalidParameterValue", "DescribeProducts"),
            ("CreateCertificate", json!({ "ProductId": 21, "DomainNum": 1, "TimeSpan": 1 }), "InvalidParameterValue", "SM2"),
            ("CreateCertificate", json!({ "ProductId": 2, "DomainNum": 0, "TimeSpan": 1 }), "InvalidParameter.DomainCountInvalid", "1 to 100"),
            ("CreateCertificate", json!({ "ProductId": 2, "DomainNum": 101, "TimeSpan": 1 }), "InvalidParameter.DomainCountInvalid", "1 to 100"),
            ("CreateCertificate", json!({ "ProductId": 2, "DomainNum": 1, "TimeSpan": 9 }), "InvalidParameterValue", "1 to 5 years"),
            (
                "CreateCertificate",
                json!({ "ProductId": 2, "DomainNum": 1, "TimeSpan": 1, "OldCertificateId": "zzzzzzzz" }),
                "FailedOperation.CertificateNotFound",
                "zzzzzzzz",
            ),
            ("SubmitAuditManager", json!({ "ManagerFirstName": "Erika" }), "MissingParameter", "CompanyName"),
            (
                "SubmitAuditManager",
                json!({ "CompanyName": "Example GmbH", "CompanyCountry": "Germany", "CompanyProvince": "Berlin", "CompanyCity": "Berlin",
                        "ManagerFirstName": "Erika", "ManagerLastName": "M", "ManagerPosition": "CTO", "ManagerPhone": "1", "ManagerMail": "e@example.test" }),
                "InvalidParameterValue",
                "ISO 3166-1",
            ),
        ],
    )
    .await;
    assert_eq!(app.certificate_count().await, 0, "rejected orders store nothing");
    let companies = app.call(alice, "DescribeCompanies", &json!({})).await;
    assert_eq!(companies["TotalCount"], json!(0), "rejected profiles store nothing: {companies}");

    let manager = app
        .call(
            alice,
            "SubmitAuditManager",
            &json!({ "CompanyName": "Example GmbH", "CompanyCountry": "de", "CompanyProvince": "Berlin", "CompanyCity": "Berlin",
                     "ManagerFirstName": "Erika", "ManagerLastName": "Mustermann", "ManagerPosition": "CTO", "ManagerPhone": "+49 30 1",
                     "ManagerMail": "erika@example.test" }),
        )
        .await;
    let manager_id = manager["ManagerId"].as_i64().unwrap_or_else(|| panic!("{manager}"));
    let company_id = manager["CompanyId"].as_i64().unwrap();
    let managers = app.call(alice, "DescribeManagers", &json!({ "CompanyId": company_id })).await;
    assert_eq!(managers["TotalCount"], json!(1), "{managers}");
    assert_eq!(managers["Managers"][0]["Status"], json!("audit"));
    let detail = app.call(alice, "DescribeManagerDetail", &json!({ "ManagerId": manager_id })).await;
    assert_eq!(detail["CompanyInfo"]["CompanyCountry"], json!("DE"), "{detail}");
    let foreign = app.call(&app.fx.bob, "DescribeManagerDetail", &json!({ "ManagerId": manager_id })).await;
    assert_eq!(error_code(&foreign), Some("ResourceNotFound.Manager"), "{foreign}");

    let created = app.call(alice, "CreateCertificate", &json!({ "ProductId": 2, "DomainNum": 1, "TimeSpan": 2 })).await;
    let id = created["CertificateIds"][0].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    let info = |changes: Value| {
        let mut body = json!({ "CertId": id, "GenCsrType": "online", "CertCommonName": "shop.example.test", "CompanyType": 2,
                               "CompanyId": "0", "ManagerId": manager_id, "ContactEmail": "erika@example.test" });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(name);
            } else {
                body[name] = value.clone();
            }
        }
        body
    };
    let letter = |bytes: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
    assert_errors(
        &app,
        alice,
        &[
            ("CertificateOrderSubmit", json!({ "CertId": id }), "FailedOperation.InvalidCertificateStatusCode", "CertificateInfoSubmit"),
            ("CertificateOrderSubmit", json!({ "CertId": id, "DeleteDnsAutoRecord": "maybe" }), "InvalidParameter", "DeleteDnsAutoRecord"),
            ("CertificateInfoSubmit", info(json!({ "ContactEmail": null })), "MissingParameter", "ContactEmail"),
            ("CertificateInfoSubmit", info(json!({ "GenCsrType": "paper" })), "InvalidParameterValue", "online or parse"),
            ("CertificateInfoSubmit", info(json!({ "GenCsrType": "parse" })), "MissingParameter", "Csr"),
            ("CertificateInfoSubmit", info(json!({ "CompanyType": 1 })), "InvalidParameterValue", "CompanyType"),
            ("CertificateInfoSubmit", info(json!({ "ManagerId": 9999 })), "ResourceNotFound.Manager", "9999"),
            ("CertificateInfoSubmit", info(json!({ "CertCommonName": "com" })), "InvalidParameter.DomainInvalid", "\"com\""),
            ("CertificateInfoSubmit", info(json!({ "VerifyType": "EMAIL" })), "InvalidParameterValue", "DNS, DNS_AUTO or FILE"),
            (
                "CertificateInfoSubmit",
                info(json!({ "DnsNames": ["www.shop.example.test"] })),
                "InvalidParameter.DomainCountInvalid",
                "placed for 1 domains, but the submission names 2 (shop.example.test, www.shop.example.test)",
            ),
            ("UploadConfirmLetter", json!({ "CertificateId": id, "ConfirmLetter": "%%%" }), "InvalidParameterValue", "base64"),
            ("ModifyCertificateResubmit", json!({ "CertificateId": id }), "FailedOperation.CertificateStatusNotAllowResubmit", "status 5"),
            ("CancelAuditCertificate", json!({ "CertificateId": id }), "FailedOperation.CancelAuditCertificateFailed", "status 0, 4 or 8"),
        ],
    )
    .await;
    let unchanged = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(unchanged["Status"], json!(5), "{unchanged}");
    assert!(unchanged["SubmittedData"].is_null(), "{unchanged}");

    let submitted = app.call(alice, "CertificateInfoSubmit", &info(json!({}))).await;
    assert_eq!(error_code(&submitted), None, "{submitted}");
    let described = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(described["SubmittedData"]["CertificateDomain"], json!("shop.example.test"), "{described}");
    assert_eq!(described["Domain"], json!("shop.example.test"));

    let mut gif = b"GIF89a".to_vec();
    gif.resize(2048, 0);
    assert_errors(
        &app,
        alice,
        &[
            ("UploadConfirmLetter", json!({ "CertificateId": id, "ConfirmLetter": letter(b"%PDF-1.7") }), "FailedOperation.ConfirmLetterTooSmall", "1 KB"),
            ("UploadConfirmLetter", json!({ "CertificateId": id, "ConfirmLetter": letter(&gif) }), "FailedOperation.InvalidConfirmLetterFormat", "JPEG, PNG or PDF"),
            ("DeleteManager", json!({ "ManagerId": manager_id }), "FailedOperation.ManagerCanNotDeleteCert", "certificates"),
            ("VerifyManager", json!({ "ManagerId": manager_id }), "FailedOperation.IllegalManagerStatus", "already waits"),
        ],
    )
    .await;

    let ordered = app.call(alice, "CertificateOrderSubmit", &json!({ "CertId": id })).await;
    assert_eq!(ordered["Status"], json!(0), "{ordered}");
    assert_eq!(ordered["IsAudited"], json!(false));
    let cancelled = app.call(alice, "CancelAuditCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(cancelled["Result"], json!(true), "{cancelled}");
    let back = app.call(alice, "DescribeCertificate", &json!({ "CertificateId": id })).await;
    assert_eq!(back["Status"], json!(5), "{back}");
}
