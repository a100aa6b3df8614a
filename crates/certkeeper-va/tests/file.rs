//! FILE validation against real BIND9 and nginx servers.

mod common;

use std::time::Duration;

use certkeeper_core::ValidationMethod;
use certkeeper_testkit::Nginx;
use certkeeper_va::{LocalCheck, MAX_REDIRECTS, ValidationConfig};
use common::*;

const HOST: &str = "www.example.test";

/// Label, body, content type, expected code and a text the reason must contain.
type BodyCase = (
    &'static str,
    Vec<u8>,
    Option<&'static str>,
    LocalCheck,
    Option<String>,
);

#[tokio::test]
async fn file_validates() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_file(HOST, &challenge.path, challenge.value.clone())
        .start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
    assert_eq!(result.check_value, std::slice::from_ref(&challenge.value));
    assert_eq!(result.hops.len(), 1);
    assert_eq!(result.hops[0].url, challenge.file_url(nginx.http_port()));
    assert_eq!(
        result.hops[0].address,
        Some(format!("127.0.0.1:{}", nginx.http_port()).parse().unwrap())
    );
    assert_eq!(result.hops[0].status, Some(200));
}

#[tokio::test]
async fn file_not_found_is_minus_four() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder().http_file(HOST, "/other.txt", "x").start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    assert_eq!(result.local_check.code(), -4);
    assert_reason(&result, "returned HTTP 404");
    assert_eq!(result.hops[0].status, Some(404));
}

#[tokio::test]
async fn file_wrong_content_is_minus_five() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_file(HOST, &challenge.path, "something else")
        .start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMismatch);
    assert_eq!(result.local_check.code(), -5);
    assert_eq!(result.check_value, ["something else"]);
    assert_reason(
        &result,
        &format!(
            "expected \"{}\", received \"something else\"",
            challenge.value
        ),
    );
}

/// Bodies (a) to (d) are valid: trailing whitespace is ignored and the content type is not
/// checked. Bodies (e) to (g) are invalid with both values labelled.
#[tokio::test]
async fn file_body_variants() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let token = challenge.value.clone();
    let shortened = token[..token.len() - 1].to_owned();
    let cases: Vec<BodyCase> = vec![
        (
            "a",
            format!("{token}\n").into_bytes(),
            None,
            LocalCheck::Ok,
            None,
        ),
        (
            "b",
            format!("{token}\r\n").into_bytes(),
            None,
            LocalCheck::Ok,
            None,
        ),
        (
            "c",
            format!("{token}  \n\n").into_bytes(),
            None,
            LocalCheck::Ok,
            None,
        ),
        (
            "d",
            token.clone().into_bytes(),
            Some("text/html"),
            LocalCheck::Ok,
            None,
        ),
        (
            "e",
            [b"\xef\xbb\xbf".as_slice(), token.as_bytes()].concat(),
            None,
            LocalCheck::FileMismatch,
            Some(format!("received \"\\u{{feff}}{token}\"")),
        ),
        (
            "f",
            format!(" {token}").into_bytes(),
            None,
            LocalCheck::FileMismatch,
            Some(format!("received \" {token}\"")),
        ),
        (
            "g",
            shortened.clone().into_bytes(),
            None,
            LocalCheck::FileMismatch,
            Some(format!("received \"{shortened}\"")),
        ),
    ];
    let mut builder = Nginx::builder();
    for (label, body, content_type, _, _) in &cases {
        let host = format!("{label}.example.test");
        builder = match content_type {
            Some(content_type) => {
                builder.http_file_with_type(&host, &challenge.path, body.clone(), content_type)
            }
            None => builder.http_file(&host, &challenge.path, body.clone()),
        };
    }
    let nginx = builder.start();
    let validator = validator(web_config(&bind, &nginx));

    for (label, _, _, expected, reason) in cases {
        let mut variant = challenge.clone();
        variant.domain = certkeeper_core::DnsName::parse(&format!("{label}.example.test")).unwrap();

        let result = validator.check(&variant).await;

        assert_eq!(result.local_check, expected, "body ({label}): {result:#?}");
        if let Some(reason) = reason {
            assert!(
                result.reason.contains(&format!("expected \"{token}\"")),
                "body ({label}): {}",
                result.reason
            );
            assert!(
                result.reason.contains(&reason),
                "body ({label}): {} lacks {reason}",
                result.reason
            );
        }
    }
}

#[tokio::test]
async fn long_body_is_cut_in_reason() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_file(HOST, &challenge.path, "z".repeat(1000))
        .start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMismatch);
    assert_reason(
        &result,
        &format!(
            "received \"{}… (cut at 128 characters of 1000 bytes)\"",
            "z".repeat(128)
        ),
    );
}

/// Port 80 returns 301 to HTTPS, whose self-signed certificate names another host.
#[tokio::test]
async fn redirect_to_self_signed_https() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_redirect(HOST, 301, "https://www.example.test$request_uri")
        .https_file(HOST, &challenge.path, format!("{}\n", challenge.value))
        .start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
    let statuses: Vec<Option<u16>> = result.hops.iter().map(|hop| hop.status).collect();
    assert_eq!(statuses, [Some(301), Some(200)]);
    assert_eq!(
        result.hops[1].url,
        format!(
            "https://www.example.test:{}{}",
            nginx.https_port(),
            challenge.path
        )
    );
    assert_eq!(
        result.hops[1].address.map(|address| address.port()),
        Some(nginx.https_port())
    );
}

/// Port 80 returns 302 to another host name over plain HTTP.
#[tokio::test]
async fn redirect_to_other_http_host() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_redirect(HOST, 302, "http://static.example.test$request_uri")
        .http_file(
            "static.example.test",
            &challenge.path,
            challenge.value.clone(),
        )
        .start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::Ok);
    let urls: Vec<&str> = result.hops.iter().map(|hop| hop.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            challenge.file_url(nginx.http_port()),
            format!(
                "http://static.example.test:{}{}",
                nginx.http_port(),
                challenge.path
            ),
        ]
    );
    assert!(result.hops.iter().all(|hop| hop.address.is_some()));
    assert_eq!(result.hops[0].status, Some(302));
}

#[tokio::test]
async fn redirect_limit_is_enforced() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let mut builder =
        Nginx::builder().http_redirect(HOST, 302, "http://r1.example.test$request_uri");
    for hop in 1..=MAX_REDIRECTS + 1 {
        builder = builder.http_redirect(
            &format!("r{hop}.example.test"),
            302,
            &format!("http://r{}.example.test$request_uri", hop + 1),
        );
    }
    let nginx = builder.start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    assert_eq!(result.hops.len(), MAX_REDIRECTS + 1);
    assert_reason(&result, "more than 10 redirects");
}

#[tokio::test]
async fn redirect_to_other_port_is_rejected() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_redirect(HOST, 301, "http://www.example.test:1$request_uri")
        .start();
    let validator = validator(web_config(&bind, &nginx));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    assert_reason(
        &result,
        &format!("only port {} is followed", nginx.http_port()),
    );
}

#[tokio::test]
async fn private_address_is_rejected() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let nginx = Nginx::builder()
        .http_file(HOST, &challenge.path, challenge.value.clone())
        .start();
    let config = ValidationConfig {
        allow_private_addresses: false,
        ..web_config(&bind, &nginx)
    };
    let validator = validator(config);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    assert_reason(
        &result,
        "www.example.test resolves to 127.0.0.1, a loopback (127.0.0.0/8) address",
    );
    assert_reason(&result, "allow_private_addresses is false");
    assert_eq!(result.hops.len(), 1);
    assert_eq!(result.hops[0].address, None);
}

#[tokio::test]
async fn unreachable_web_server_fails_with_error() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let config = ValidationConfig {
        http_port: certkeeper_testkit::free_port(),
        connect_timeout: Duration::from_secs(1),
        ..config(&bind)
    };
    let validator = validator(config);

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    let error = result.error.as_deref().expect("an error text");
    assert!(
        error.contains("request to http://www.example.test"),
        "{error}"
    );
    assert_reason(&result, "could not be fetched");
}

#[tokio::test]
async fn unresolvable_host_fails_with_error() {
    let bind = start_bind();
    let challenge = challenge("www.example.org", ValidationMethod::File);
    let validator = validator(config(&bind));

    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    assert_reason(&result, "could not resolve www.example.org");
}

/// A server that accepts the connection and never responds hits `total_timeout`.
#[tokio::test]
async fn silent_server_times_out() {
    let bind = start_bind();
    let challenge = challenge(HOST, ValidationMethod::File);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = ValidationConfig {
        http_port: listener.local_addr().unwrap().port(),
        total_timeout: Duration::from_secs(1),
        ..config(&bind)
    };
    let validator = validator(config);

    let started = std::time::Instant::now();
    let result = validator.check(&challenge).await;

    assert_code(&result, LocalCheck::FileMissing);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        result.reason.to_lowercase().contains("timed out"),
        "{}",
        result.reason
    );
    drop(listener);
}
