//! Revocation letters and application forms: which file types each policy accepts, how a file
//! is recognised by its content, and the templates owners fill in.
//!
//! A file is recognised by its leading signature and its closing marker, never by a name or a
//! declared type, so a renamed or truncated file is rejected before it reaches a reviewer.

use std::fmt;

use certkeeper_core::RevocationPolicy;

/// Smallest letter accepted: 1 KiB. Anything smaller cannot hold a legible scan.
pub const MIN_LETTER_BYTES: usize = 1024;

/// Largest letter accepted: 1.4 MiB.
pub const MAX_LETTER_BYTES: usize = 1_468_006;

/// A file type a letter may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterFormat {
    Jpeg,
    Png,
    Gif,
    Pdf,
}

impl LetterFormat {
    /// Returns the media type stored with the letter.
    pub fn content_type(self) -> &'static str {
        match self {
            LetterFormat::Jpeg => "image/jpeg",
            LetterFormat::Png => "image/png",
            LetterFormat::Gif => "image/gif",
            LetterFormat::Pdf => "application/pdf",
        }
    }

    /// Returns the usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            LetterFormat::Jpeg => "jpg",
            LetterFormat::Png => "png",
            LetterFormat::Gif => "gif",
            LetterFormat::Pdf => "pdf",
        }
    }

    /// Returns the format of a stored media type.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        [LetterFormat::Jpeg, LetterFormat::Png, LetterFormat::Gif, LetterFormat::Pdf]
            .into_iter()
            .find(|format| format.content_type() == content_type)
    }
}

impl fmt::Display for LetterFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LetterFormat::Jpeg => "JPG",
            LetterFormat::Png => "PNG",
            LetterFormat::Gif => "GIF",
            LetterFormat::Pdf => "PDF",
        })
    }
}

/// The file a letter-based policy requires from the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LetterRules {
    /// `confirmation-letter` or `application-form`, as stored with the letter.
    pub kind: &'static str,
    /// Name used in messages.
    pub noun: &'static str,
    pub accepted: &'static [LetterFormat],
    /// Whether a new upload may replace the first one while the review is pending.
    pub replaceable: bool,
}

impl LetterRules {
    /// Returns the rules of a letter-based policy, or `None` for a policy that needs no letter.
    pub fn of(policy: RevocationPolicy) -> Option<Self> {
        match policy {
            RevocationPolicy::ConfirmationLetter => Some(LetterRules {
                kind: "confirmation-letter",
                noun: "confirmation letter",
                accepted: &[LetterFormat::Jpeg, LetterFormat::Png, LetterFormat::Pdf],
                replaceable: true,
            }),
            RevocationPolicy::ApplicationForm => Some(LetterRules {
                kind: "application-form",
                noun: "application form",
                accepted: &[LetterFormat::Jpeg, LetterFormat::Gif, LetterFormat::Pdf],
                replaceable: false,
            }),
            RevocationPolicy::DomainValidation | RevocationPolicy::ReviewOnly => None,
        }
    }

    /// Returns the accepted formats as a list for messages, such as `JPG, PNG or PDF`.
    pub fn accepted_list(&self) -> String {
        let names: Vec<String> = self.accepted.iter().map(ToString::to_string).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.concat(),
        }
    }

    /// Checks size and content and returns the recognised format.
    pub fn check(&self, content: &[u8]) -> Result<LetterFormat, LetterProblem> {
        if content.len() < MIN_LETTER_BYTES {
            return Err(LetterProblem::TooSmall { size: content.len() });
        }
        if content.len() > MAX_LETTER_BYTES {
            return Err(LetterProblem::TooLarge { size: content.len() });
        }
        let Some(format) = sniff(content) else {
            return Err(LetterProblem::Unrecognised { accepted: self.accepted_list() });
        };
        if !self.accepted.contains(&format) {
            return Err(LetterProblem::NotAccepted { found: format, accepted: self.accepted_list() });
        }
        if !has_closing_marker(format, content) {
            return Err(LetterProblem::Truncated { format });
        }
        Ok(format)
    }
}

/// Reason a letter is rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LetterProblem {
    #[error("the file has {size} bytes; a letter must have at least {MIN_LETTER_BYTES} bytes (1 KiB). Send a legible scan or photo")]
    TooSmall { size: usize },
    #[error("the file has {size} bytes; a letter may have at most {MAX_LETTER_BYTES} bytes (1.4 MiB). Scan at a lower resolution or compress it")]
    TooLarge { size: usize },
    #[error("the file is not a JPG, PNG, GIF or PDF file (recognised by its content, not its name); send a {accepted} file")]
    Unrecognised { accepted: String },
    #[error("the file is a {found} file; this letter must be a {accepted} file")]
    NotAccepted { found: LetterFormat, accepted: String },
    #[error("the {format} file is incomplete: its closing marker is missing. Upload the whole file again")]
    Truncated { format: LetterFormat },
}

/// Recognises a file by its leading signature.
pub fn sniff(content: &[u8]) -> Option<LetterFormat> {
    if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(LetterFormat::Jpeg)
    } else if content.starts_with(b"\x89PNG\r\n\x1a\n") && content.get(12..16) == Some(b"IHDR") {
        Some(LetterFormat::Png)
    } else if content.starts_with(b"GIF87a") || content.starts_with(b"GIF89a") {
        Some(LetterFormat::Gif)
    } else if content.starts_with(b"%PDF-") {
        Some(LetterFormat::Pdf)
    } else {
        None
    }
}

/// Checks the marker that closes a complete file. Writers may add a few bytes (line ends,
/// padding) after it, so PDF and JPEG markers are looked for near the end.
fn has_closing_marker(format: LetterFormat, content: &[u8]) -> bool {
    let tail = &content[content.len().saturating_sub(1024)..];
    match format {
        LetterFormat::Jpeg => tail.windows(2).any(|pair| pair == [0xFF, 0xD9]),
        LetterFormat::Png => tail.windows(8).any(|window| window == b"IEND\xaeB`\x82"),
        LetterFormat::Gif => tail.iter().rev().take(16).any(|&byte| byte == 0x3B),
        LetterFormat::Pdf => tail.windows(5).any(|window| window == b"%%EOF"),
    }
}

/// Facts about a certificate that fill in a template.
#[derive(Clone, Debug, Default)]
pub struct TemplateFacts {
    pub certificate_id: String,
    pub domains: Vec<String>,
    pub serial: String,
    pub not_after: String,
}

/// Returns the text template of a letter-based policy's letter, filled in with `facts` where
/// given and with blanks to fill in by hand otherwise.
pub fn template(rules: &LetterRules, facts: Option<&TemplateFacts>) -> String {
    let blank = "______________________________";
    let fact = |value: Option<String>| value.filter(|value| !value.is_empty()).unwrap_or_else(|| blank.to_owned());
    let title = match rules.kind {
        "application-form" => "CERTIFICATE REVOCATION APPLICATION FORM",
        _ => "CERTIFICATE REVOCATION CONFIRMATION LETTER",
    };
    let once = if rules.replaceable {
        "A new upload replaces the previous one while the request waits for review."
    } else {
        "This form can be uploaded once only; check it before uploading."
    };
    format!(
        "{title}\n\
         \n\
         To the certificate service operator,\n\
         \n\
         We request the revocation of the certificate described below and confirm that the\n\
         organisation named here holds the certificate and authorises this request.\n\
         \n\
         Certificate ID:        {id}\n\
         Domains:               {domains}\n\
         Serial number (hex):   {serial}\n\
         Valid until (UTC):     {not_after}\n\
         \n\
         Reason for revocation: {blank}\n\
         \n\
         Organisation name:     {blank}\n\
         Registration number:   {blank}\n\
         Address:               {blank}\n\
         Contact name:          {blank}\n\
         Contact phone / email: {blank}\n\
         \n\
         Signature of an authorised representative: {blank}\n\
         Date: {blank}\n\
         \n\
         Official seal of the organisation:\n\
         \n\
         \n\
         \n\
         Print this {noun}, fill it in, sign it, stamp it with the organisation's seal, and upload\n\
         a scan or photo with UploadRevokeLetter (certkeeper client upload-letter) as a {accepted}\n\
         file of 1 KiB to 1.4 MiB. {once} A reviewer then decides the request.\n",
        id = fact(facts.map(|facts| facts.certificate_id.clone())),
        domains = fact(facts.map(|facts| facts.domains.join(", "))),
        serial = fact(facts.map(|facts| facts.serial.clone())),
        not_after = fact(facts.map(|facts| facts.not_after.clone())),
        noun = rules.noun,
        accepted = rules.accepted_list(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(head: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut content = head.to_vec();
        content.resize(4096, b' ');
        content.extend_from_slice(tail);
        content
    }

    fn letter_rules() -> LetterRules {
        LetterRules::of(RevocationPolicy::ConfirmationLetter).unwrap()
    }

    fn form_rules() -> LetterRules {
        LetterRules::of(RevocationPolicy::ApplicationForm).unwrap()
    }

    #[test]
    fn recognises_each_accepted_format_by_content() {
        let jpeg = padded(&[0xFF, 0xD8, 0xFF, 0xE0], &[0xFF, 0xD9]);
        let png = padded(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", b"\0\0\0\0IEND\xaeB`\x82");
        let pdf = padded(b"%PDF-1.7\n", b"%%EOF\n");
        let gif = padded(b"GIF89a", b";");
        assert_eq!(letter_rules().check(&jpeg), Ok(LetterFormat::Jpeg));
        assert_eq!(letter_rules().check(&png), Ok(LetterFormat::Png));
        assert_eq!(letter_rules().check(&pdf), Ok(LetterFormat::Pdf));
        assert_eq!(form_rules().check(&gif), Ok(LetterFormat::Gif));
        assert_eq!(form_rules().check(&pdf), Ok(LetterFormat::Pdf));
    }

    #[test]
    fn rejects_formats_policy_excludes() {
        let gif = padded(b"GIF89a", b";");
        let png = padded(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", b"\0\0\0\0IEND\xaeB`\x82");
        let rejected = letter_rules().check(&gif).unwrap_err();
        assert_eq!(rejected, LetterProblem::NotAccepted { found: LetterFormat::Gif, accepted: "JPG, PNG or PDF".into() });
        assert!(rejected.to_string().contains("JPG, PNG or PDF"), "{rejected}");
        assert!(matches!(form_rules().check(&png), Err(LetterProblem::NotAccepted { found: LetterFormat::Png, .. })));
    }

    #[test]
    fn rejects_unknown_truncated_and_sized_files() {
        let text = padded(b"Dear reviewer", b"");
        assert!(matches!(letter_rules().check(&text), Err(LetterProblem::Unrecognised { .. })));
        let truncated_pdf = padded(b"%PDF-1.7\n", b"endobj\n");
        assert_eq!(letter_rules().check(&truncated_pdf), Err(LetterProblem::Truncated { format: LetterFormat::Pdf }));
        assert_eq!(letter_rules().check(&[0xFF, 0xD8, 0xFF, 0xD9]), Err(LetterProblem::TooSmall { size: 4 }));
        let mut large = vec![0xFF, 0xD8, 0xFF];
        large.resize(MAX_LETTER_BYTES + 1, 0);
        assert_eq!(letter_rules().check(&large), Err(LetterProblem::TooLarge { size: MAX_LETTER_BYTES + 1 }));
        let mut limit = vec![0xFF, 0xD8, 0xFF];
        limit.resize(MAX_LETTER_BYTES - 2, 0);
        limit.extend_from_slice(&[0xFF, 0xD9]);
        assert_eq!(letter_rules().check(&limit), Ok(LetterFormat::Jpeg));
    }

    #[test]
    fn templates_fill_known_facts_and_leave_blanks() {
        let facts = TemplateFacts {
            certificate_id: "abc123".into(),
            domains: vec!["www.example.test".into(), "example.test".into()],
            serial: "0a1b".into(),
            not_after: "2027-03-01 00:00:00 UTC".into(),
        };
        let filled = template(&letter_rules(), Some(&facts));
        assert!(filled.contains("Certificate ID:        abc123"), "{filled}");
        assert!(filled.contains("www.example.test, example.test"));
        assert!(filled.contains("JPG, PNG or PDF"));
        let blank = template(&form_rules(), None);
        assert!(blank.starts_with("CERTIFICATE REVOCATION APPLICATION FORM"));
        assert!(blank.contains("uploaded once only"));
        assert!(blank.contains("JPG, GIF or PDF"));
    }
}
