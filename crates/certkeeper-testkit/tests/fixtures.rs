use std::io::{Read, Write};
use std::net::TcpStream;

use certkeeper_testkit::{Bind9, Nginx};

fn http_get(port: u16, host: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").expect("send a request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    response
}

#[test]
fn bind9_serves_and_updates_zones() {
    let server = Bind9::start(&["example.test", "example.net"]);

    assert_eq!(server.query("www.example.test", "A"), ["127.0.0.1"]);
    assert_eq!(server.query("example.net", "A"), ["127.0.0.1"]);

    server.add_record("_dnsauth.example.test", 300, "TXT", "\"first\"");
    server.add_record("_dnsauth.example.test", 300, "TXT", "\"second\"");
    let mut values = server.query("_dnsauth.example.test", "TXT");
    values.sort();
    assert_eq!(values, ["\"first\"", "\"second\""]);

    server.delete_record("_dnsauth.example.test", "TXT", Some("\"first\""));
    assert_eq!(server.query("_dnsauth.example.test", "TXT"), ["\"second\""]);
    server.delete_record("_dnsauth.example.test", "TXT", None);
    assert!(server.query("_dnsauth.example.test", "TXT").is_empty());
}

#[test]
fn bind9_builder_adds_static_records() {
    let server = Bind9::builder()
        .zone("example.test")
        .record("alias.example.test. 300 IN CNAME target.example.test.")
        .start();
    assert_eq!(
        server.query("alias.example.test", "CNAME"),
        ["target.example.test."]
    );
    assert_eq!(
        server.query("test", "SOA").len(),
        1,
        "the top-level domain is served too"
    );
}

#[test]
fn nginx_serves_files_and_redirects() {
    let server = Nginx::builder()
        .http_file("www.example.test", "/a/b.txt", "body\n")
        .http_file_with_type("www.example.test", "/page.txt", "html", "text/html")
        .http_redirect(
            "old.example.test",
            301,
            "https://www.example.test$request_uri",
        )
        .https_file("www.example.test", "/a/b.txt", "secure")
        .start();

    let response = http_get(server.http_port(), "www.example.test", "/a/b.txt");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.ends_with("\r\n\r\nbody\n"), "{response}");

    let response = http_get(server.http_port(), "www.example.test", "/page.txt");
    assert!(response.contains("Content-Type: text/html"), "{response}");

    let response = http_get(server.http_port(), "old.example.test", "/x");
    assert!(response.starts_with("HTTP/1.1 301"), "{response}");
    assert!(
        response.contains("Location: https://www.example.test/x"),
        "{response}"
    );

    let response = http_get(server.http_port(), "unknown.example.test", "/a/b.txt");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
}
