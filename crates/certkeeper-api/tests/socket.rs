//! Tests over a real TCP socket, where hyper parses the request.

mod common;

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn start_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = certkeeper_api::router(test_state());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// Sends raw HTTP/1.1 bytes and returns the status line, the headers and the body.
async fn exchange(port: u16, request: &[u8]) -> (String, String, Vec<u8>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();

    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .expect("response has a header block");
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((&head, ""));
    (
        status.to_owned(),
        headers.to_lowercase(),
        raw[split + 4..].to_vec(),
    )
}

/// Builds a signed POST the way tccli sends it to an `http://` endpoint.
fn raw_request(host: &str, body: &str) -> Vec<u8> {
    let mut call = TestCall::post("RevokeCertificate", body);
    call.host = host.to_owned();
    call.timestamp = NOW;
    let authorization = call.authorization_header();
    format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         X-TC-Action: RevokeCertificate\r\nX-TC-Version: 2019-12-05\r\nX-TC-Timestamp: {NOW}\r\n\
         Authorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn host_with_scheme_is_accepted() {
    let port = start_server().await;
    let host = format!("http://127.0.0.1:{port}");
    let request = raw_request(&host, r#"{"CertificateId": "abcd1234"}"#);

    let (status, headers, body) = exchange(port, &request).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/json\r\n")
            || headers.ends_with("content-type: application/json"),
        "{headers}"
    );
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(body["Response"].get("Error").is_none(), "{body}");
    assert_eq!(body["Response"]["CertificateId"], "abcd1234");
}

#[tokio::test]
async fn plain_host_is_accepted() {
    let port = start_server().await;
    let host = format!("127.0.0.1:{port}");
    let (status, _, body) = exchange(port, &raw_request(&host, r#"{"CertificateId": "x"}"#)).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["Response"]["CertificateId"], "x");
}

#[tokio::test]
async fn declared_oversize_body_gets_envelope() {
    let port = start_server().await;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        5 * 1024 * 1024
    );
    let (status, _, body) = exchange(port, request.as_bytes()).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["Response"]["Error"]["Code"],
        "RequestSizeLimitExceeded"
    );
}

#[tokio::test]
async fn unknown_method_gets_envelope() {
    let port = start_server().await;
    let request =
        format!("DELETE / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    let (status, _, body) = exchange(port, request.as_bytes()).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["Response"]["Error"]["Code"], "UnsupportedProtocol");
}
