//! Outcome of one domain check, in the shape the Tencent API reports it.

use std::fmt;
use std::net::SocketAddr;

use certkeeper_core::{DnsName, ValidationMethod};

/// Characters of a received value shown in a reason; longer values are cut and marked.
pub const MAX_SHOWN_CHARS: usize = 128;

/// Result code of a check, with the values of the Tencent `LocalCheck` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LocalCheck {
    /// The record or file matches (1).
    Ok,
    /// No TXT record was found, or the DNS lookup failed (-1).
    RecordMissing,
    /// TXT records were found but none has the expected value (-2).
    ValueMismatch,
    /// The file could not be fetched: not found, refused address, unreachable server (-4).
    FileMissing,
    /// The file was fetched but its content is not the expected value (-5).
    FileMismatch,
    /// CNAME record missing (-6). Only the CNAME validation method uses it, and certkeeper
    /// does not offer that method, so no check in this crate returns it.
    CnameMissing,
    /// CNAME record with another target (-7). Not returned by this crate, like `CnameMissing`.
    CnameMismatch,
}

impl LocalCheck {
    /// Returns the Tencent code: 1, -1, -2, -4, -5, -6 or -7.
    pub fn code(self) -> i64 {
        match self {
            LocalCheck::Ok => 1,
            LocalCheck::RecordMissing => -1,
            LocalCheck::ValueMismatch => -2,
            LocalCheck::FileMissing => -4,
            LocalCheck::FileMismatch => -5,
            LocalCheck::CnameMissing => -6,
            LocalCheck::CnameMismatch => -7,
        }
    }

    /// Returns true for [`LocalCheck::Ok`].
    pub fn is_ok(self) -> bool {
        self == LocalCheck::Ok
    }
}

impl fmt::Display for LocalCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// One HTTP request of a file check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectHop {
    /// URL requested.
    pub url: String,
    /// Address connected to, when the host name resolved to an allowed address.
    pub address: Option<SocketAddr>,
    /// HTTP status of the response, when one was received.
    pub status: Option<u16>,
}

/// Outcome of checking one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainValidationResult {
    /// The domain as requested; may be a wildcard.
    pub domain: DnsName,
    /// Validation method that was checked.
    pub method: ValidationMethod,
    /// Result code.
    pub local_check: LocalCheck,
    /// Values found: every TXT value at the final name of the CNAME chain, or the file body
    /// (escaped and cut to [`MAX_SHOWN_CHARS`] characters).
    pub check_value: Vec<String>,
    /// Every HTTP request of a file check in order, the last being the one that produced the
    /// result; empty for DNS checks.
    pub hops: Vec<RedirectHop>,
    /// CNAME records followed, as `owner -> target`.
    pub cname_chain: Vec<String>,
    /// One line with the expected and the received value, or the cause of the failure.
    pub reason: String,
    /// Text of a network or protocol error (timeout, refused connection, SERVFAIL), when one
    /// caused the failure.
    pub error: Option<String>,
}

impl DomainValidationResult {
    /// Returns true when the check passed.
    pub fn is_valid(&self) -> bool {
        self.local_check.is_ok()
    }
}

/// Formats a received value for a reason.
///
/// Quotes, backslashes, control characters and everything outside printable ASCII are escaped,
/// so a byte order mark shows as `\u{feff}` and an invalid UTF-8 byte as `\x..`. Values longer
/// than [`MAX_SHOWN_CHARS`] characters are cut, with a note on the total size.
pub fn escape_received(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut shown = 0;
    for chunk in bytes.utf8_chunks() {
        for character in chunk.valid().chars() {
            if shown == MAX_SHOWN_CHARS {
                return format!(
                    "{out}… (cut at {MAX_SHOWN_CHARS} characters of {} bytes)",
                    bytes.len()
                );
            }
            push_escaped(&mut out, character);
            shown += 1;
        }
        for byte in chunk.invalid() {
            if shown == MAX_SHOWN_CHARS {
                return format!(
                    "{out}… (cut at {MAX_SHOWN_CHARS} characters of {} bytes)",
                    bytes.len()
                );
            }
            out.push_str(&format!("\\x{byte:02x}"));
            shown += 1;
        }
    }
    out
}

fn push_escaped(out: &mut String, character: char) {
    match character {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        ' '..='~' => out.push(character),
        other => out.push_str(&format!("\\u{{{:x}}}", other as u32)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_shows_bom_and_controls() {
        assert_eq!(
            escape_received("\u{feff}abc\r\n".as_bytes()),
            "\\u{feff}abc\\r\\n"
        );
        assert_eq!(escape_received(b"a\"b\\"), "a\\\"b\\\\");
        assert_eq!(escape_received(b"\xffok"), "\\xffok");
    }

    #[test]
    fn escape_cuts_long_values() {
        let long = "x".repeat(200);
        let shown = escape_received(long.as_bytes());
        assert!(shown.starts_with(&"x".repeat(MAX_SHOWN_CHARS)));
        assert!(
            shown.ends_with("(cut at 128 characters of 200 bytes)"),
            "{shown}"
        );
    }

    #[test]
    fn codes_match_tencent_values() {
        let codes: Vec<i64> = [
            LocalCheck::Ok,
            LocalCheck::RecordMissing,
            LocalCheck::ValueMismatch,
            LocalCheck::FileMissing,
            LocalCheck::FileMismatch,
            LocalCheck::CnameMissing,
            LocalCheck::CnameMismatch,
        ]
        .iter()
        .map(|code| code.code())
        .collect();
        assert_eq!(codes, [1, -1, -2, -4, -5, -6, -7]);
    }
}
