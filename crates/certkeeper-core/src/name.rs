//! DNS names as they go into certificates: normalised, checked and deduplicated.

use std::fmt;
use std::net::IpAddr;

/// Maximum length of a DNS name in presentation form without the trailing dot (RFC 1035 §2.3.4).
pub const MAX_NAME_LENGTH: usize = 253;

/// Maximum length of one label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LENGTH: usize = 63;

/// A normalised DNS name: lower case ASCII (IDNs as A-labels), no trailing dot, and a wildcard
/// only as the whole leftmost label.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsName(String);

/// Error from checking a DNS name for a certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    #[error("the name is empty; give a DNS name such as www.example.com")]
    Empty,
    #[error("{name:?} is an IP address; certkeeper issues DNS names only, so give a domain name")]
    IpAddress { name: String },
    #[error("{name:?} is {length} characters long; a DNS name has at most {MAX_NAME_LENGTH}")]
    TooLong { name: String, length: usize },
    #[error("{name:?} has a label of {length} characters; a label has at most {MAX_LABEL_LENGTH}")]
    LabelTooLong { name: String, length: usize },
    #[error("{name:?} has an empty label; remove the repeated or leading dot")]
    EmptyLabel { name: String },
    #[error(
        "{name:?} has a wildcard outside the leftmost label or inside a label; \
         only a whole leftmost label \"*\" is allowed, as in *.example.com"
    )]
    BadWildcard { name: String },
    #[error(
        "{name:?} contains {character:?}; labels may hold letters, digits and hyphens, \
         and must not start or end with a hyphen"
    )]
    InvalidCharacter { name: String, character: char },
    #[error("{name:?} is not a valid internationalised domain name: {reason}")]
    InvalidIdn { name: String, reason: String },
    #[error(
        "{name:?} is a public suffix (a name under which anyone can register domains); \
         give a domain registered under it, such as example.{name}"
    )]
    PublicSuffix { name: String },
    #[error("{name:?} has a single label; give a fully qualified name such as www.example.com")]
    SingleLabel { name: String },
}

impl DnsName {
    /// Normalises and checks one name.
    ///
    /// Lower-cases it, removes one trailing dot, converts Unicode labels to A-labels, and
    /// rejects IP addresses, over-long names, bad wildcards, and characters outside
    /// letters, digits and hyphens. Public suffixes are not checked here; see
    /// [`DnsName::check_not_public_suffix`].
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if is_ip_address(trimmed) {
            return Err(NameError::IpAddress { name: input.to_owned() });
        }

        let (wildcard, rest) = match trimmed.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, trimmed),
        };
        if rest.contains('*') {
            return Err(NameError::BadWildcard { name: input.to_owned() });
        }

        let ascii = to_ascii(rest, input)?;
        check_labels(&ascii, input)?;
        if !ascii.contains('.') {
            return Err(NameError::SingleLabel { name: input.to_owned() });
        }

        let name = if wildcard { format!("*.{ascii}") } else { ascii };
        if name.len() > MAX_NAME_LENGTH {
            return Err(NameError::TooLong { length: name.len(), name });
        }
        Ok(DnsName(name))
    }

    /// Returns the name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns true for a name whose leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0.starts_with("*.")
    }

    /// Returns the name without a leading `*.`.
    pub fn base(&self) -> &str {
        self.0.strip_prefix("*.").unwrap_or(&self.0)
    }

    /// Rejects a name that is itself a public suffix (`com`, `co.uk`, `github.io`), using the
    /// public suffix list compiled into the `psl` crate.
    pub fn check_not_public_suffix(&self) -> Result<(), NameError> {
        let base = self.base();
        match psl::suffix(base.as_bytes()) {
            Some(suffix) if suffix.as_bytes() == base.as_bytes() => {
                Err(NameError::PublicSuffix { name: base.to_owned() })
            }
            _ => Ok(()),
        }
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Normalises a list of names, removes duplicates and keeps the first-seen order.
pub fn normalize_names<'a, I>(names: I) -> Result<Vec<DnsName>, NameError>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut out: Vec<DnsName> = Vec::new();
    for raw in names {
        let name = DnsName::parse(raw)?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn is_ip_address(text: &str) -> bool {
    let unbracketed = text.trim_start_matches('[').trim_end_matches(']');
    unbracketed.parse::<IpAddr>().is_ok()
}

fn to_ascii(name: &str, input: &str) -> Result<String, NameError> {
    if name.is_ascii() {
        return Ok(name.to_ascii_lowercase());
    }
    idna::domain_to_ascii_strict(name).map_err(|error| NameError::InvalidIdn {
        name: input.to_owned(),
        reason: error.to_string(),
    })
}

fn check_labels(ascii: &str, input: &str) -> Result<(), NameError> {
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel { name: input.to_owned() });
        }
        if label.len() > MAX_LABEL_LENGTH {
            return Err(NameError::LabelTooLong { name: input.to_owned(), length: label.len() });
        }
        let bad = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
            .or_else(|| label.starts_with('-').then_some('-'))
            .or_else(|| label.ends_with('-').then_some('-'));
        if let Some(character) = bad {
            return Err(NameError::InvalidCharacter { name: input.to_owned(), character });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> Result<String, NameError> {
        DnsName::parse(name).map(|n| n.as_str().to_owned())
    }

    #[test]
    fn lower_cases_and_drops_trailing_dot() {
        assert_eq!(parse("WWW.Example.TEST.").unwrap(), "www.example.test");
    }

    #[test]
    fn converts_unicode_to_a_labels() {
        assert_eq!(parse("bücher.example").unwrap(), "xn--bcher-kva.example");
        assert_eq!(parse("*.Bücher.example").unwrap(), "*.xn--bcher-kva.example");
    }

    #[test]
    fn rejects_ip_addresses() {
        for ip in ["192.0.2.1", "2001:db8::1", "[2001:db8::1]"] {
            assert!(matches!(parse(ip), Err(NameError::IpAddress { .. })), "{ip}");
        }
    }

    #[test]
    fn wildcard_only_as_whole_leftmost_label() {
        assert!(parse("*.example.test").is_ok());
        for bad in ["w*.example.test", "www.*.example.test", "*.*.example.test", "*"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(matches!(parse("www.*.example.test"), Err(NameError::BadWildcard { .. })));
    }

    #[test]
    fn rejects_long_names_and_labels() {
        let label = "a".repeat(64);
        assert!(matches!(parse(&format!("{label}.test")), Err(NameError::LabelTooLong { length: 64, .. })));
        let long = format!("{}.test", vec!["a".repeat(60); 5].join("."));
        assert!(matches!(parse(&long), Err(NameError::TooLong { .. })));
    }

    #[test]
    fn rejects_bad_characters_and_empty_labels() {
        assert!(matches!(parse("exa mple.test"), Err(NameError::InvalidCharacter { character: ' ', .. })));
        assert!(matches!(parse("-bad.test"), Err(NameError::InvalidCharacter { character: '-', .. })));
        assert!(matches!(parse("a..test"), Err(NameError::EmptyLabel { .. })));
        assert!(matches!(parse(""), Err(NameError::Empty)));
        assert!(matches!(parse("localhost"), Err(NameError::SingleLabel { .. })));
    }

    #[test]
    fn detects_public_suffixes() {
        for suffix in ["com", "co.uk", "*.co.uk"] {
            let result = DnsName::parse(suffix).and_then(|n| n.check_not_public_suffix());
            assert!(result.is_err(), "{suffix}");
        }
        let ok = DnsName::parse("example.co.uk").unwrap();
        assert_eq!(ok.check_not_public_suffix(), Ok(()));
    }

    #[test]
    fn normalize_removes_case_duplicates() {
        let names = normalize_names(["Example.TEST", "www.example.test", "example.test.", "WWW.EXAMPLE.TEST"])
            .unwrap();
        let names: Vec<_> = names.iter().map(DnsName::as_str).collect();
        assert_eq!(names, ["example.test", "www.example.test"]);
    }
}
