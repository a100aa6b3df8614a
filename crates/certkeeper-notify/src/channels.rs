//! Delivery channels: email over SMTP and signed webhooks.

use std::time::Duration;

use aws_lc_rs::hmac;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Secret, SmtpConfig, SmtpSecurity, WebhookConfig};
use crate::event::Event;

/// Header with the webhook signature, `sha256=` and 64 lower-case hex digits.
pub const SIGNATURE_HEADER: &str = "X-Certkeeper-Signature";
/// Header with the Unix time (seconds) that the signature covers.
pub const TIMESTAMP_HEADER: &str = "X-Certkeeper-Timestamp";
/// Header with the event type, such as `certificate.expiring`.
pub const EVENT_HEADER: &str = "X-Certkeeper-Event";
/// Header with the event id, the same for every retry of one delivery.
pub const DELIVERY_HEADER: &str = "X-Certkeeper-Delivery";

/// Error of one delivery attempt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error("the SMTP settings are invalid: {0}")]
    SmtpSetup(String),
    #[error("the address {address:?} is invalid: {detail}")]
    Address { address: String, detail: String },
    #[error("building the email failed: {0}")]
    Message(String),
    #[error("sending the email through {server} failed: {detail}")]
    Smtp { server: String, detail: String },
    #[error("POST to {url} failed: {detail}")]
    Webhook { url: String, detail: String },
    #[error("POST to {url} returned HTTP {status}")]
    WebhookStatus { url: String, status: u16 },
}

/// Sends email through one SMTP server, reusing connections from a pool.
#[derive(Clone)]
pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
    timeout: Duration,
}

impl EmailChannel {
    /// Builds the client; it connects on the first message.
    pub fn new(config: &SmtpConfig) -> Result<Self, ChannelError> {
        let port = config.effective_port();
        let builder = match config.security {
            SmtpSecurity::Tls => {
                let parameters = tls_parameters(config)?;
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str()).tls(Tls::Wrapper(parameters))
            }
            SmtpSecurity::Starttls => {
                let parameters = tls_parameters(config)?;
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str()).tls(Tls::Required(parameters))
            }
            // Accepted by the configuration check only for loopback hosts.
            SmtpSecurity::Plain => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str()).tls(Tls::None),
        };
        let mut builder = builder.port(port).timeout(Some(config.timeout));
        if let (Some(username), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(username.clone(), password.expose().to_owned()));
        }
        let from = parse_mailbox(&config.from)?;
        Ok(EmailChannel { transport: builder.build(), from, server: format!("{}:{port}", config.host), timeout: config.timeout })
    }

    /// Sends the event's subject and text to `to`.
    pub async fn send(&self, to: &[String], event: &Event) -> Result<(), ChannelError> {
        let mut builder = Message::builder().from(self.from.clone()).subject(event.subject.clone());
        for address in to {
            builder = builder.to(parse_mailbox(address)?);
        }
        let message = builder
            .header(lettre::message::header::ContentType::TEXT_PLAIN)
            .body(event.text.clone())
            .map_err(|error| ChannelError::Message(error.to_string()))?;
        // With lettre 0.11.23 the async transport's timeout did not end a session whose server
        // stopped replying after AUTH (seen in the tests), so the whole send is bounded here.
        match tokio::time::timeout(self.timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(error)) => Err(ChannelError::Smtp { server: self.server.clone(), detail: error.to_string() }),
            Err(_) => Err(ChannelError::Smtp {
                server: self.server.clone(),
                detail: format!("timed out after {} s", self.timeout.as_secs()),
            }),
        }
    }
}

/// Builds the TLS settings: the server's certificate must chain to a Mozilla root or to a CA of
/// `ca_file`, and name `host`.
fn tls_parameters(config: &SmtpConfig) -> Result<TlsParameters, ChannelError> {
    let mut builder = TlsParameters::builder(config.host.clone());
    if let Some(path) = &config.ca_file {
        let pem = std::fs::read(path).map_err(|error| ChannelError::SmtpSetup(format!("cannot read ca_file {}: {error}", path.display())))?;
        let certificate = Certificate::from_pem(&pem)
            .map_err(|error| ChannelError::SmtpSetup(format!("ca_file {} contains no valid PEM certificate: {error}", path.display())))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|error| ChannelError::SmtpSetup(error.to_string()))
}

fn parse_mailbox(address: &str) -> Result<Mailbox, ChannelError> {
    address.parse().map_err(|error: lettre::address::AddressError| ChannelError::Address {
        address: address.to_owned(),
        detail: error.to_string(),
    })
}

/// Posts events as JSON, signed with HMAC-SHA256.
///
/// The signature covers `<timestamp>.<body>`: the decimal Unix time of
/// [`TIMESTAMP_HEADER`], a full stop, and the exact body bytes. A receiver recomputes it with
/// the shared secret, compares in constant time, and rejects timestamps far from its clock.
#[derive(Clone)]
pub struct WebhookChannel {
    client: reqwest::Client,
    key: hmac::Key,
}

impl WebhookChannel {
    /// Builds the client. Redirects are not followed, so a signed body goes only to the
    /// configured URL.
    pub fn new(config: &WebhookConfig) -> Result<Self, ChannelError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("certkeeper/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ChannelError::Webhook { url: String::new(), detail: error.to_string() })?;
        Ok(WebhookChannel { client, key: signing_key(&config.secret) })
    }

    /// Posts the event to `url`; any status other than 2xx is an error.
    pub async fn send(&self, url: &str, event: &Event, now: i64) -> Result<(), ChannelError> {
        let redacted = redact_url(url);
        let body = serde_json::to_vec(event).map_err(|error| ChannelError::Webhook { url: redacted.clone(), detail: error.to_string() })?;
        let signature = sign_with(&self.key, now, &body);
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_HEADER, event.kind.as_str())
            .header(DELIVERY_HEADER, &event.id)
            .header(TIMESTAMP_HEADER, now.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|error| ChannelError::Webhook { url: redacted.clone(), detail: error.to_string() })?;
        let status = response.status();
        if !status.is_success() {
            return Err(ChannelError::WebhookStatus { url: redacted, status: status.as_u16() });
        }
        Ok(())
    }
}

fn signing_key(secret: &Secret) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes())
}

fn sign_with(key: &hmac::Key, timestamp: i64, body: &[u8]) -> String {
    let mut context = hmac::Context::with_key(key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("sha256={}", hex::encode(context.sign().as_ref()))
}

/// Returns the `X-Certkeeper-Signature` value of a body sent at `timestamp`.
pub fn webhook_signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    sign_with(&signing_key(&Secret::new(secret)), timestamp, body)
}

/// Checks an `X-Certkeeper-Signature` value in constant time.
pub fn verify_webhook_signature(secret: &str, timestamp: i64, body: &[u8], signature: &str) -> bool {
    let Some(digest) = signature.strip_prefix("sha256=").and_then(|hex_digits| hex::decode(hex_digits).ok()) else {
        return false;
    };
    let key = signing_key(&Secret::new(secret));
    let mut message = timestamp.to_string().into_bytes();
    message.push(b'.');
    message.extend_from_slice(body);
    hmac::verify(&key, &message, &digest).is_ok()
}

/// Returns the URL without user information, query or fragment, which may hold tokens.
fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        Err(_) => "(invalid URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips() {
        let body = br#"{"id":"x"}"#;
        let signature = webhook_signature("0123456789abcdef", 1_900_000_000, body);
        assert!(signature.starts_with("sha256="));
        assert_eq!(signature.len(), 7 + 64);
        assert!(verify_webhook_signature("0123456789abcdef", 1_900_000_000, body, &signature));
        assert!(!verify_webhook_signature("0123456789abcdeF", 1_900_000_000, body, &signature));
        assert!(!verify_webhook_signature("0123456789abcdef", 1_900_000_001, body, &signature));
        assert!(!verify_webhook_signature("0123456789abcdef", 1_900_000_000, b"{}", &signature));
    }

    #[test]
    fn redacted_url_drops_tokens() {
        assert_eq!(redact_url("https://u:p@hooks.example.com/a?token=s#f"), "https://hooks.example.com/a");
    }
}
