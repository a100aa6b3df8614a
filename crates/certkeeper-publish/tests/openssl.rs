//! CRLs and OCSP responses checked with the OpenSSL 3 CLI and pkilint, through a live server.

mod support;

use base64::Engine;
use support::{HttpResponse, TestCa, http_request, pkilint, random_serial, run};

const STANDARD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Fetches a CRL over HTTP and writes it as `<file>` (DER).
fn fetch_crl(ca: &TestCa, target: &str, file: &str) -> HttpResponse {
    let response = http_request(ca.port, "GET", target, None, b"");
    assert_eq!(response.status, 200, "GET {target}");
    assert_eq!(response.header("content-type"), Some("application/pkix-crl"));
    std::fs::write(ca.path(file), &response.body).unwrap();
    response
}

fn crl_number(ca: &TestCa, file: &str) -> u64 {
    let (ok, text) = run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", file, "-noout", "-crlnumber"]);
    assert!(ok, "{text}");
    let value = text.trim().strip_prefix("crlNumber=").unwrap_or_else(|| panic!("no crlNumber in {text}"));
    let hex = value.strip_prefix("0x").unwrap_or(value);
    u64::from_str_radix(hex, 16).unwrap_or_else(|error| panic!("crlNumber {value:?}: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_crl_then_revocation() {
    let mut ca = TestCa::new("CRL").await;
    ca.write_chain();
    let publisher = ca.serve().await;
    let serial = random_serial();
    ca.issue_leaf("leaf", &serial, true).await;
    let shard = ca.urls.crl_shard(&serial);
    let target = format!("/crl/{}/{shard}.crl", ca.intermediate.id);

    // Empty CRL: no revokedCertificates element at all (RFC 5280 §5.1.2.6).
    let response = fetch_crl(&ca, &target, "empty.crl");
    assert!(response.header("cache-control").unwrap().starts_with("public, max-age="));
    assert!(response.header("last-modified").is_some());
    assert!(response.header("expires").is_some());
    assert!(response.header("etag").is_some());
    let (ok, text) = run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "empty.crl", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains("No Revoked Certificates"), "{text}");
    assert!(text.contains("Version 2"), "{text}");
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");
    assert!(text.contains("X509v3 Issuing Distribution Point: critical"), "{text}");
    assert!(text.contains("Only User Certificates"), "{text}");
    assert!(text.contains(&format!("URI:http://127.0.0.1:{}{target}", ca.port)), "{text}");
    let (_, structure) = run(ca.dir.path(), "openssl", &["asn1parse", "-inform", "DER", "-in", "empty.crl"]);
    assert!(!structure.contains("l=   0 cons: SEQUENCE"), "empty SEQUENCE in the CRL:\n{structure}");
    assert_eq!(pkilint("lint_crl", &["-t", "CRL", "-p", "BR"], &ca.path("empty.crl")), "");
    let (_, root_text) = {
        fetch_crl(&ca, "/crl/root.crl", "root.crl");
        run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "root.crl", "-noout", "-text"])
    };
    assert!(root_text.contains("Only CA Certificates"), "{root_text}");
    assert!(root_text.contains("No Revoked Certificates"), "{root_text}");

    // The CRL number increases with every rebuild, and a restart serves the stored CRL.
    let mut numbers = vec![crl_number(&ca, "empty.crl")];
    for _ in 0..2 {
        let rebuilt = publisher.rebuild_crl(ca.intermediate.id, i64::from(shard)).await.unwrap();
        numbers.push(rebuilt.number);
    }
    let restarted = ca.publisher().await;
    let restarted_number = restarted.crl(ca.intermediate.id, i64::from(shard)).unwrap().number;
    assert_eq!(Some(&restarted_number), numbers.last(), "a restarted publisher serves another CRL than the stored one");

    // After the revocation and its crl.publish job the entry is listed with its reason, and
    // OpenSSL rejects the leaf.
    ca.revoke(&serial, 1).await;
    publisher.revoked(&serial).await.unwrap();
    assert!(ca.run_crl_jobs(&publisher).await >= 1, "no CRL job ran");
    fetch_crl(&ca, &target, "revoked.crl");
    numbers.push(crl_number(&ca, "revoked.crl"));
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]), "CRL numbers not increasing: {numbers:?}");

    let (ok, text) = run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "revoked.crl", "-noout", "-text"]);
    assert!(ok, "{text}");
    assert!(text.contains(&format!("Serial Number: {}", serial.to_hex().to_uppercase())), "{text}");
    assert!(text.contains("Key Compromise"), "{text}");
    assert_eq!(pkilint("lint_crl", &["-t", "CRL", "-p", "BR"], &ca.path("revoked.crl")), "");

    run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "revoked.crl", "-out", "revoked.pem"]);
    run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "root.crl", "-out", "root-crl.pem"]);
    std::fs::write(
        ca.path("crls.pem"),
        [std::fs::read(ca.path("revoked.pem")).unwrap(), std::fs::read(ca.path("root-crl.pem")).unwrap()].concat(),
    )
    .unwrap();
    let (ok, text) = run(
        ca.dir.path(),
        "openssl",
        &["verify", "-crl_check_all", "-CRLfile", "crls.pem", "-CAfile", "root.pem", "-untrusted", "inter.pem", "leaf.pem"],
    );
    assert!(!ok, "{text}");
    assert!(text.contains("certificate revoked"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unspecified_reason_has_no_extension() {
    let mut ca = TestCa::new("Reason").await;
    let publisher = ca.serve().await;
    let serial = random_serial();
    ca.issue_leaf("leaf", &serial, true).await;
    ca.revoke(&serial, 0).await;
    publisher.revoked(&serial).await.unwrap();
    ca.run_crl_jobs(&publisher).await;
    let shard = ca.urls.crl_shard(&serial);
    fetch_crl(&ca, &format!("/crl/{}/{shard}.crl", ca.intermediate.id), "crl.der");
    let (_, text) = run(ca.dir.path(), "openssl", &["crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text"]);
    assert!(text.contains(&serial.to_hex().to_uppercase()), "{text}");
    assert!(!text.contains("CRL Reason Code"), "{text}");
}

/// Runs `openssl ocsp` against the live responder (POST) and returns its output.
fn openssl_ocsp(ca: &TestCa, issuer: &str, cert: &str, extra: &[&str]) -> String {
    let url = format!("http://127.0.0.1:{}/ocsp", ca.port);
    // OpenSSL reads a digest option only before -cert.
    let mut args = vec!["ocsp", "-url", &url, "-CAfile", "root.pem"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-issuer", issuer, "-cert", cert]);
    run(ca.dir.path(), "openssl", &args).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_statuses_with_openssl() {
    let mut ca = TestCa::new("OCSP").await;
    ca.write_chain();
    let publisher = ca.serve().await;
    let good = random_serial();
    ca.issue_leaf("good", &good, true).await;
    let revoked = random_serial();
    ca.issue_leaf("revoked", &revoked, true).await;
    ca.revoke(&revoked, 1).await;
    publisher.revoked(&revoked).await.unwrap();
    // Signed by the CA, but with a serial the store never reserved.
    ca.issue_leaf("unknown", &random_serial(), false).await;

    // With a nonce (OpenSSL's default): the nonce is echoed and checked.
    let text = openssl_ocsp(&ca, "inter.pem", "good.pem", &[]);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("good.pem: good"), "{text}");
    assert!(!text.contains("nonce"), "{text}");

    let text = openssl_ocsp(&ca, "inter.pem", "revoked.pem", &["-no_nonce"]);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("revoked.pem: revoked"), "{text}");
    assert!(text.contains("Reason: keyCompromise"), "{text}");

    let text = openssl_ocsp(&ca, "inter.pem", "unknown.pem", &[]);
    assert!(text.contains("unknown.pem: unknown"), "{text}");

    // SHA-256 CertID.
    let text = openssl_ocsp(&ca, "inter.pem", "good.pem", &["-sha256"]);
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("good.pem: good"), "{text}");

    // A certificate of another CA.
    let other = TestCa::new("Other").await;
    other.write_chain();
    other.issue_leaf("foreign", &random_serial(), true).await;
    for file in ["inter.pem", "foreign.pem"] {
        std::fs::copy(other.path(file), ca.path(&format!("other-{file}"))).unwrap();
    }
    let text = openssl_ocsp(&ca, "other-inter.pem", "other-foreign.pem", &[]);
    assert!(text.contains("unauthorized"), "{text}");

    // -reqout, POST by hand, then -respin: the response verifies and lints clean.
    for (cert, expected) in [("good.pem", "good"), ("revoked.pem", "revoked")] {
        let request = format!("{cert}.req");
        let (ok, text) = run(
            ca.dir.path(),
            "openssl",
            &["ocsp", "-issuer", "inter.pem", "-cert", cert, "-no_nonce", "-reqout", &request],
        );
        assert!(ok, "{text}");
        let body = std::fs::read(ca.path(&request)).unwrap();
        let response = http_request(ca.port, "POST", "/ocsp", Some("application/ocsp-request"), &body);
        let response_file = format!("{cert}.resp");
        std::fs::write(ca.path(&response_file), &response.body).unwrap();
        let (_, text) = run(
            ca.dir.path(),
            "openssl",
            &["ocsp", "-respin", &response_file, "-issuer", "inter.pem", "-cert", cert, "-CAfile", "root.pem", "-no_nonce"],
        );
        assert!(text.contains("Response verify OK"), "{text}");
        assert!(text.contains(&format!("{cert}: {expected}")), "{text}");
        assert_eq!(pkilint("lint_ocsp_response", &[], &ca.path(&response_file)), "", "{cert}");
    }

    // A nonce request read back with -reqin: the echoed nonce matches.
    run(ca.dir.path(), "openssl", &["ocsp", "-issuer", "inter.pem", "-cert", "good.pem", "-reqout", "nonce.req"]);
    let body = std::fs::read(ca.path("nonce.req")).unwrap();
    let response = http_request(ca.port, "POST", "/ocsp", Some("application/ocsp-request"), &body);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    std::fs::write(ca.path("nonce.resp"), &response.body).unwrap();
    let (_, text) = run(
        ca.dir.path(),
        "openssl",
        &["ocsp", "-reqin", "nonce.req", "-respin", "nonce.resp", "-CAfile", "root.pem", "-verify_other", "inter.pem", "-resp_text"],
    );
    assert!(text.contains("Response verify OK"), "{text}");
    assert!(text.contains("OCSP Nonce"), "{text}");
    assert_eq!(pkilint("lint_ocsp_response", &[], &ca.path("nonce.resp")), "");
}

/// Builds a SHA-1, nonce-free request for `serial` by putting it into a request that OpenSSL
/// made for a certificate of the same issuer.
fn request_for_serial(template: &[u8], template_serial: &[u8], serial: &[u8]) -> Vec<u8> {
    let position = template.windows(template_serial.len()).position(|w| w == template_serial).unwrap();
    let mut request = template.to_vec();
    request[position..position + serial.len()].copy_from_slice(serial);
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_get_path_encodings() {
    let mut ca = TestCa::new("GET").await;
    ca.write_chain();
    let _publisher = ca.serve().await;
    let template_serial = random_serial();
    ca.issue_leaf("template", &template_serial, true).await;
    run(ca.dir.path(), "openssl", &["ocsp", "-issuer", "inter.pem", "-cert", "template.pem", "-no_nonce", "-reqout", "t.req"]);
    let template = std::fs::read(ca.path("t.req")).unwrap();

    // Pick a serial whose request has `/` and `+` in its base64. The request length is fixed,
    // so `=` padding appears either for every serial or for none.
    let (serial, request) = loop {
        let serial = random_serial();
        let request = request_for_serial(&template, template_serial.as_bytes(), serial.as_bytes());
        let text = STANDARD.encode(&request);
        if text.contains('/') && text.contains('+') {
            break (serial, request);
        }
    };
    ca.issue_leaf("leaf", &serial, true).await;
    let text = STANDARD.encode(&request);
    let percent = text.replace('/', "%2F").replace('+', "%2B").replace('=', "%3D");

    let targets = [
        format!("/ocsp/{percent}"),
        format!("/ocsp/{text}"),
        format!("/ocsp//{percent}"),
        format!("/ocsp/{}", text.replace('+', "%20")),
    ];
    let mut bodies = Vec::new();
    for target in &targets {
        let response = http_request(ca.port, "GET", target, None, b"");
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.header("content-type"), Some("application/ocsp-response"), "{target}");
        bodies.push(response.body);
    }
    let post = http_request(ca.port, "POST", "/ocsp", Some("application/ocsp-request"), &request);
    assert_eq!(post.status, 200);
    bodies.push(post.body);

    std::fs::write(ca.path("get.resp"), &bodies[0]).unwrap();
    let (_, output) = run(
        ca.dir.path(),
        "openssl",
        &["ocsp", "-respin", "get.resp", "-issuer", "inter.pem", "-cert", "leaf.pem", "-CAfile", "root.pem", "-no_nonce"],
    );
    assert!(output.contains("Response verify OK"), "{output}");
    assert!(output.contains("leaf.pem: good"), "{output}");
    for (index, body) in bodies.iter().enumerate() {
        assert_eq!(body, &bodies[0], "response {index} differs from the first");
    }

    let malformed = certkeeper_pki::ocsp::malformed_request_response();
    for target in ["/ocsp/not-base64!!", "/ocsp/", "/ocsp/%ZZ", "/ocsp/AAAA"] {
        let response = http_request(ca.port, "GET", target, None, b"");
        assert_eq!(response.status, 200, "{target}");
        assert_eq!(response.body, malformed, "{target}");
        assert_eq!(response.header("cache-control"), Some("no-store"), "{target}");
    }
    let response = http_request(ca.port, "POST", "/ocsp", Some("application/ocsp-request"), b"garbage");
    assert_eq!(response.body, malformed);
}

fn max_age(response: &HttpResponse) -> u64 {
    let cache_control = response.header("cache-control").unwrap();
    assert!(cache_control.starts_with("public, max-age="), "{cache_control}");
    cache_control["public, max-age=".len()..].split(',').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_revocation_replaces_cached_good() {
    let mut ca = TestCa::new("Cache").await;
    ca.write_chain();
    let publisher = ca.serve().await;
    let serial = random_serial();
    ca.issue_leaf("leaf", &serial, true).await;
    run(ca.dir.path(), "openssl", &["ocsp", "-issuer", "inter.pem", "-cert", "leaf.pem", "-no_nonce", "-reqout", "leaf.req"]);
    let request = std::fs::read(ca.path("leaf.req")).unwrap();
    let target = format!("/ocsp/{}", STANDARD.encode(&request).replace('/', "%2F").replace('+', "%2B").replace('=', "%3D"));

    let first = http_request(ca.port, "GET", &target, None, b"");
    let age = max_age(&first);
    assert!(age > 0, "max-age {age}");
    assert!(age <= publisher.settings().ocsp_max_age.as_secs(), "max-age {age}");
    assert!(first.header("last-modified").is_some());
    assert!(first.header("expires").is_some());
    assert!(first.header("etag").is_some());
    let again = http_request(ca.port, "GET", &target, None, b"");
    assert_eq!(again.body, first.body, "the second GET was not served from the cache");

    let revoked_at = ca.revoke(&serial, 1).await;
    publisher.revoked(&serial).await.unwrap();
    let started = std::time::Instant::now();
    let after_get = http_request(ca.port, "GET", &target, None, b"");
    let after_post = http_request(ca.port, "POST", "/ocsp", Some("application/ocsp-request"), &request);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));

    for (name, response) in [("get", &after_get), ("post", &after_post)] {
        let file = format!("{name}.resp");
        std::fs::write(ca.path(&file), &response.body).unwrap();
        let (_, text) = run(
            ca.dir.path(),
            "openssl",
            &["ocsp", "-respin", &file, "-issuer", "inter.pem", "-cert", "leaf.pem", "-CAfile", "root.pem", "-no_nonce", "-resp_text"],
        );
        assert!(text.contains("leaf.pem: revoked"), "{name}: {text}");
        assert!(text.contains("Reason: keyCompromise"), "{name}: {text}");
        let this_update = text.lines().find_map(|line| line.trim().strip_prefix("This Update: ")).unwrap().to_owned();
        let (_, epoch) = run(ca.dir.path(), "date", &["-u", "-d", &this_update, "+%s"]);
        assert!(epoch.trim().parse::<i64>().unwrap() >= revoked_at, "{name}: thisUpdate {this_update} before revocation");
    }

    let other = TestCa::new("Foreign").await;
    other.write_chain();
    other.issue_leaf("foreign", &random_serial(), true).await;
    run(other.dir.path(), "openssl", &["ocsp", "-issuer", "inter.pem", "-cert", "foreign.pem", "-no_nonce", "-reqout", "f.req"]);
    let foreign = std::fs::read(other.path("f.req")).unwrap();
    let response = http_request(ca.port, "GET", &format!("/ocsp/{}", STANDARD.encode(&foreign)), None, b"");
    assert_eq!(response.body, certkeeper_pki::ocsp::unauthorized_response());
    assert_eq!(response.header("cache-control"), Some("no-store"));
}
