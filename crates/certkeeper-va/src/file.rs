//! FILE validation: fetch `/.well-known/pki-validation/<name>` over HTTP, following redirects
//! by hand so that every hop is resolved, checked against special-purpose addresses and
//! recorded.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::Policy;

use crate::address::special_purpose;
use crate::challenge::Challenge;
use crate::config::ValidationConfig;
use crate::dns::{DnsClient, DnsLookupError};
use crate::result::{DomainValidationResult, LocalCheck, RedirectHop, escape_received};

/// Maximum number of redirects followed; the response to the 11th request must be final.
pub const MAX_REDIRECTS: usize = 10;

/// Maximum body bytes read from a validation file (64 KiB); the rest is not read, and a body
/// that long cannot match a token.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// User-Agent header of validation requests.
const USER_AGENT: &str = concat!("certkeeper-va/", env!("CARGO_PKG_VERSION"));

/// Reason a file could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// A URL or redirect target cannot be parsed.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL text.
        url: String,
        /// Parser message.
        reason: String,
    },
    /// A redirect leads to a scheme other than http or https.
    #[error("redirect to {url} rejected: only http and https URLs are followed")]
    UnsupportedScheme {
        /// The target.
        url: String,
    },
    /// A redirect leads to a port other than the configured one for its scheme.
    #[error("redirect to {url} rejected: only port {allowed} is followed for this scheme")]
    UnsupportedPort {
        /// The target.
        url: String,
        /// The configured port.
        allowed: u16,
    },
    /// A redirect response has no usable Location header.
    #[error("HTTP {status} from {url} has no Location header")]
    MissingLocation {
        /// The URL that returned the redirect.
        url: String,
        /// The redirect status.
        status: u16,
    },
    /// The redirect limit was reached.
    #[error("more than {MAX_REDIRECTS} redirects, the limit; last target {url}")]
    TooManyRedirects {
        /// The redirect target that was not followed.
        url: String,
    },
    /// The host name did not resolve.
    #[error("could not resolve {host}: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// The lookup error.
        source: DnsLookupError,
    },
    /// The host name has no A or AAAA record.
    #[error("{host} has no A or AAAA record")]
    NoAddress {
        /// The host.
        host: String,
    },
    /// Every address of the host is special-purpose and private addresses are not allowed.
    #[error(
        "{host} resolves to {address}, a {kind} address, which is rejected because \
         validation.allow_private_addresses is false"
    )]
    PrivateAddress {
        /// The host.
        host: String,
        /// The first rejected address.
        address: IpAddr,
        /// Kind of special-purpose address.
        kind: &'static str,
    },
    /// The HTTP request failed: connection refused, TLS failure, timeout.
    #[error("request to {url} failed: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// The error with its causes.
        reason: String,
    },
    /// The whole check took longer than `validation.total_timeout`.
    #[error("file check timed out after {after:?} (validation.total_timeout)")]
    TimedOut {
        /// The configured limit.
        after: Duration,
    },
}

/// A final (non-redirect) response.
struct FinalResponse {
    url: String,
    status: u16,
    body: Vec<u8>,
    truncated: bool,
}

/// Checks a FILE challenge. Network and HTTP failures become a failed result, not an error.
pub(crate) async fn check_file(
    config: &ValidationConfig,
    dns: &DnsClient,
    challenge: &Challenge,
) -> DomainValidationResult {
    let mut hops = Vec::new();
    let start = challenge.file_url(config.http_port);
    let outcome =
        tokio::time::timeout(config.total_timeout, fetch(config, dns, &start, &mut hops)).await;
    let outcome = outcome.unwrap_or(Err(FetchError::TimedOut {
        after: config.total_timeout,
    }));

    let mut result = DomainValidationResult {
        domain: challenge.domain.clone(),
        method: challenge.method,
        local_check: LocalCheck::FileMissing,
        check_value: Vec::new(),
        hops,
        cname_chain: Vec::new(),
        reason: String::new(),
        error: None,
    };
    match outcome {
        Err(error) => {
            result.reason = format!("file {start} could not be fetched: {error}");
            result.error = Some(error.to_string());
        }
        Ok(response) if response.status != 200 => {
            result.reason = format!(
                "file {} returned HTTP {}; expected HTTP 200 with the body \"{}\"",
                response.url, response.status, challenge.value
            );
        }
        Ok(response) => compare_body(&mut result, &response, &challenge.value),
    }
    result
}

/// Fetches a CA certificate from a caIssuers URL (RFC 5280 §4.2.2.1) under the same rules as
/// a file check: http or https on the configured ports, redirects followed by hand, and
/// special-purpose addresses rejected unless `allow_private_addresses` is set. Returns the
/// body of an HTTP 200 response, at most [`MAX_BODY_BYTES`].
pub(crate) async fn fetch_ca_issuer(
    config: &ValidationConfig,
    dns: &DnsClient,
    url: &str,
) -> Result<Vec<u8>, FetchError> {
    let mut hops = Vec::new();
    let outcome = tokio::time::timeout(config.total_timeout, fetch(config, dns, url, &mut hops))
        .await
        .unwrap_or(Err(FetchError::TimedOut {
            after: config.total_timeout,
        }))?;
    if outcome.status != 200 || outcome.truncated {
        return Err(FetchError::Request {
            url: outcome.url,
            reason: format!(
                "HTTP {} with a body of {} bytes; expected HTTP 200 with a certificate",
                outcome.status,
                outcome.body.len()
            ),
        });
    }
    Ok(outcome.body)
}

fn compare_body(result: &mut DomainValidationResult, response: &FinalResponse, expected: &str) {
    // Trailing whitespace is ignored, as RFC 8555 §8.3 allows for HTTP-01.
    let trimmed = response.body.trim_ascii_end();
    let received = escape_received(trimmed);
    result.check_value = vec![received.clone()];
    if !response.truncated && trimmed == expected.as_bytes() {
        result.local_check = LocalCheck::Ok;
        result.reason = format!("file {} contains the expected value", response.url);
        return;
    }
    result.local_check = LocalCheck::FileMismatch;
    let note = if response.truncated {
        format!(" (body longer than {MAX_BODY_BYTES} bytes)")
    } else {
        String::new()
    };
    result.reason = format!(
        "file {} does not contain the expected value: expected \"{expected}\", received \"{received}\"{note}",
        response.url
    );
}

/// Requests `start` and follows redirects, appending one hop per request.
async fn fetch(
    config: &ValidationConfig,
    dns: &DnsClient,
    start: &str,
    hops: &mut Vec<RedirectHop>,
) -> Result<FinalResponse, FetchError> {
    let mut url = parse_url(start)?;
    restrict_port(&mut url, config)?;
    loop {
        let (response, hop_index) = request(config, dns, &url, hops).await?;
        let status = response.status();
        if !status.is_redirection() {
            return read_body(response, &url).await;
        }

        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| FetchError::MissingLocation {
                url: url.to_string(),
                status: status.as_u16(),
            })?;
        let mut next = url.join(location).map_err(|error| FetchError::InvalidUrl {
            url: location.to_owned(),
            reason: error.to_string(),
        })?;
        next.set_fragment(None);
        if hop_index >= MAX_REDIRECTS {
            return Err(FetchError::TooManyRedirects {
                url: next.to_string(),
            });
        }
        restrict_port(&mut next, config)?;
        tracing::debug!(from = %url, to = %next, status = status.as_u16(), "following redirect");
        url = next;
    }
}

/// Sends one GET request to an allowed address of the URL's host and records the hop.
async fn request(
    config: &ValidationConfig,
    dns: &DnsClient,
    url: &Url,
    hops: &mut Vec<RedirectHop>,
) -> Result<(reqwest::Response, usize), FetchError> {
    let index = hops.len();
    hops.push(RedirectHop {
        url: url.to_string(),
        address: None,
        status: None,
    });

    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(config.http_port);
    let address = pick_address(config, dns, &host).await?;
    let socket = SocketAddr::new(address, port);
    hops[index].address = Some(socket);

    let mut builder = reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .user_agent(USER_AGENT)
        .connect_timeout(config.connect_timeout)
        .timeout(config.total_timeout)
        .resolve(&host, socket);
    if url.scheme() == "https" {
        // Only HTTPS URLs reached through a redirect get here, because the first URL is plain
        // HTTP. A site that redirects to HTTPS often serves a self-signed or expired
        // certificate until the new one is installed, so certificate errors are ignored.
        builder = builder
            .tls_danger_accept_invalid_certs(true)
            .tls_danger_accept_invalid_hostnames(true);
    }
    let client = builder.build().map_err(|error| request_error(url, error))?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|error| request_error(url, error))?;
    hops[index].status = Some(response.status().as_u16());
    Ok((response, index))
}

async fn read_body(
    mut response: reqwest::Response,
    url: &Url,
) -> Result<FinalResponse, FetchError> {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| request_error(url, error))?
    {
        let room = MAX_BODY_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FinalResponse {
        url: url.to_string(),
        status,
        body,
        truncated,
    })
}

/// Resolves the host through the configured DNS servers and returns the first address that
/// may be connected to.
async fn pick_address(
    config: &ValidationConfig,
    dns: &DnsClient,
    host: &str,
) -> Result<IpAddr, FetchError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addresses = match literal.parse::<IpAddr>() {
        Ok(address) => vec![address],
        Err(_) => dns
            .resolve_addresses(host)
            .await
            .map_err(|source| FetchError::Resolve {
                host: host.to_owned(),
                source,
            })?,
    };
    if config.allow_private_addresses {
        return addresses
            .first()
            .copied()
            .ok_or_else(|| FetchError::NoAddress {
                host: host.to_owned(),
            });
    }
    if let Some(address) = addresses
        .iter()
        .copied()
        .find(|address| special_purpose(*address).is_none())
    {
        return Ok(address);
    }
    match addresses.first() {
        Some(address) => Err(FetchError::PrivateAddress {
            host: host.to_owned(),
            address: *address,
            kind: special_purpose(*address).unwrap_or("special-purpose"),
        }),
        None => Err(FetchError::NoAddress {
            host: host.to_owned(),
        }),
    }
}

fn parse_url(text: &str) -> Result<Url, FetchError> {
    Url::parse(text).map_err(|error| FetchError::InvalidUrl {
        url: text.to_owned(),
        reason: error.to_string(),
    })
}

/// Accepts only http and https on the configured ports. A URL without a port, or with the
/// scheme's default port, is sent to the configured port for its scheme.
fn restrict_port(url: &mut Url, config: &ValidationConfig) -> Result<(), FetchError> {
    let allowed = match url.scheme() {
        "http" => config.http_port,
        "https" => config.https_port,
        _ => {
            return Err(FetchError::UnsupportedScheme {
                url: url.to_string(),
            });
        }
    };
    match url.port() {
        Some(port) if port != allowed => Err(FetchError::UnsupportedPort {
            url: url.to_string(),
            allowed,
        }),
        _ => {
            // `set_port` fails only for URLs that cannot have a port, which http and https can.
            let _ = url.set_port(Some(allowed));
            Ok(())
        }
    }
}

fn request_error(url: &Url, error: reqwest::Error) -> FetchError {
    // The URL is part of the FetchError message already.
    let error = error.without_url();
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    FetchError::Request {
        url: url.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ValidationConfig {
        ValidationConfig {
            http_port: 8080,
            https_port: 8443,
            ..ValidationConfig::default()
        }
    }

    #[test]
    fn port_defaults_to_configured() {
        let mut url = Url::parse("https://www.example.test/x").unwrap();
        restrict_port(&mut url, &config()).unwrap();
        assert_eq!(url.as_str(), "https://www.example.test:8443/x");
    }

    #[test]
    fn other_port_is_rejected() {
        let mut url = Url::parse("http://www.example.test:9999/x").unwrap();
        let error = restrict_port(&mut url, &config()).unwrap_err();
        assert!(error.to_string().contains("only port 8080"), "{error}");
    }

    #[test]
    fn other_scheme_is_rejected() {
        let mut url = Url::parse("ftp://www.example.test/x").unwrap();
        assert!(matches!(
            restrict_port(&mut url, &config()),
            Err(FetchError::UnsupportedScheme { .. })
        ));
    }
}
