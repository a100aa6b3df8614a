//! Turns a pasted field into PEM blocks or one DER blob.
//!
//! The reader accepts what editors and web forms produce: a UTF-8 byte-order mark, CR LF or CR
//! line ends, no final newline, surrounding whitespace, comments before and between blocks,
//! blocks whose line breaks were collapsed into spaces, and base64 of a DER file without
//! armour. It rejects UTF-16 text and binary data with a message that says so, because a PEM
//! reader that silently finds nothing leaves the user guessing.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::UploadError;
use super::der;

/// Base64 with the standard alphabet, accepting missing or present padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One PEM block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    /// The label between `BEGIN ` and the dashes, upper case, single-spaced.
    pub label: String,
    /// RFC 1421 header lines such as `Proc-Type` and `DEK-Info`, as (name, value).
    pub headers: Vec<(String, String)>,
    pub der: Vec<u8>,
    /// Line of the BEGIN marker, counting from 1.
    pub line: usize,
}

impl Block {
    /// Returns the value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// The decoded contents of a field.
#[derive(Clone, Debug)]
pub(crate) enum Contents {
    /// PEM blocks in input order.
    Pem(Vec<Block>),
    /// Base64 of a DER file without PEM armour.
    Der(Vec<u8>),
}

/// Reads a field, enforcing `limit` bytes of text.
pub(crate) fn read_field(field: &'static str, text: &str, limit: usize) -> Result<Contents, UploadError> {
    if text.len() > limit {
        return Err(UploadError::TooLarge { field, size: text.len(), limit });
    }
    if is_utf16(text) {
        return Err(UploadError::Utf16 { field });
    }
    let text = strip_byte_order_mark(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    check_characters(field, &text)?;
    if text.trim().is_empty() {
        return Err(UploadError::Empty { field });
    }
    if text.contains("-----BEGIN") {
        return scan_blocks(field, &text).map(Contents::Pem);
    }
    let compact: String = text.chars().filter(|character| !character.is_whitespace()).collect();
    if !compact.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')) {
        return Err(UploadError::NoPem { field });
    }
    let der = BASE64.decode(compact.as_bytes()).map_err(|_| UploadError::NoPem { field })?;
    if der::read(&der).is_none() {
        return Err(UploadError::NoPem { field });
    }
    Ok(Contents::Der(der))
}

/// Recognises UTF-16 text however the client turned it into a string: with the byte-order
/// mark FF FE or FE FF read as Latin-1 or as replacement characters, or as text in which
/// every other character is NUL.
fn is_utf16(text: &str) -> bool {
    let mut start = text.chars();
    let first_two = (start.next(), start.next());
    if matches!(first_two, (Some('\u{FF}'), Some('\u{FE}')) | (Some('\u{FE}'), Some('\u{FF}')) | (Some('\u{FFFD}'), Some('\u{FFFD}'))) {
        return true;
    }
    let sample: Vec<char> = text.chars().take(512).collect();
    let nul = sample.iter().filter(|character| **character == '\0').count();
    sample.len() >= 8 && nul * 3 >= sample.len()
}

/// Removes a leading UTF-8 byte-order mark, decoded (U+FEFF) or read as Latin-1 (`ï»¿`).
fn strip_byte_order_mark(text: &str) -> &str {
    let mut text = text;
    loop {
        let trimmed = text.trim_start_matches(|character: char| character.is_ascii_whitespace());
        if let Some(rest) = trimmed.strip_prefix('\u{FEFF}').or_else(|| trimmed.strip_prefix("\u{EF}\u{BB}\u{BF}")) {
            text = rest;
        } else {
            return text;
        }
    }
}

/// Rejects control characters other than tab and line feed, and replacement characters,
/// which appear when binary data is sent as text.
fn check_characters(field: &'static str, text: &str) -> Result<(), UploadError> {
    let found = text.char_indices().find(|(_, character)| {
        (character.is_control() && !matches!(character, '\n' | '\t')) || *character == '\u{FFFD}'
    });
    match found {
        Some((offset, character)) => Err(UploadError::Binary { field, offset, code_point: u32::from(character) }),
        None => Ok(()),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|byte| *byte == b'\n').count() + 1
}

/// Normalises a label: trimmed, upper case, inner whitespace collapsed to single spaces.
fn normalize_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase()
}

/// Finds every `-----BEGIN X-----` … `-----END X-----` block. Text outside blocks is ignored.
fn scan_blocks(field: &'static str, text: &str) -> Result<Vec<Block>, UploadError> {
    const BEGIN: &str = "-----BEGIN";
    const END: &str = "-----END";
    const DASHES: &str = "-----";

    let mut blocks = Vec::new();
    let mut position = 0;
    while let Some(found) = text[position..].find(BEGIN) {
        let begin_at = position + found;
        let line = line_of(text, begin_at);
        let label_start = begin_at + BEGIN.len();
        let Some(label_length) = text[label_start..].find(DASHES) else {
            return Err(UploadError::UnterminatedBlock { field, label: normalize_label(&text[label_start..]), line });
        };
        let label = normalize_label(&text[label_start..label_start + label_length]);
        let body_start = label_start + label_length + DASHES.len();

        let next_end = text[body_start..].find(END).map(|at| body_start + at);
        let next_begin = text[body_start..].find(BEGIN).map(|at| body_start + at);
        let end_at = match (next_end, next_begin) {
            (Some(end), Some(begin)) if begin < end => return Err(UploadError::UnterminatedBlock { field, label, line }),
            (Some(end), _) => end,
            (None, _) => return Err(UploadError::UnterminatedBlock { field, label, line }),
        };
        let end_label_start = end_at + END.len();
        let Some(end_label_length) = text[end_label_start..].find(DASHES) else {
            return Err(UploadError::UnterminatedBlock { field, label, line });
        };
        let end_label = normalize_label(&text[end_label_start..end_label_start + end_label_length]);
        if end_label != label {
            return Err(UploadError::MismatchedLabels { field, line, begin: label, end: end_label });
        }
        position = end_label_start + end_label_length + DASHES.len();

        let (headers, body) = split_headers(&text[body_start..end_at]);
        // The body of a legacy encrypted key is ciphertext and an OpenSSH key is not DER, so
        // neither has a DER header to check.
        let encrypted = headers.iter().any(|(name, value)| name.eq_ignore_ascii_case("Proc-Type") && value.to_ascii_uppercase().contains("ENCRYPTED"));
        let der = decode_body(field, &label, line, &body, encrypted || label == "OPENSSH PRIVATE KEY")?;
        blocks.push(Block { label, headers, der, line });
    }
    Ok(blocks)
}

/// Separates RFC 1421 header lines (`Name: value`) at the top of a block from its base64.
fn split_headers(body: &str) -> (Vec<(String, String)>, String) {
    let mut headers = Vec::new();
    let mut data = String::with_capacity(body.len());
    let mut in_headers = true;
    for line in body.lines() {
        let trimmed = line.trim();
        if in_headers {
            if trimmed.is_empty() {
                continue;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
                continue;
            }
            in_headers = false;
        }
        data.extend(trimmed.chars().filter(|character| !character.is_whitespace()));
    }
    (headers, data)
}

fn decode_body(field: &'static str, label: &str, line: usize, body: &str, skip_der_check: bool) -> Result<Vec<u8>, UploadError> {
    let invalid = |detail: String| UploadError::InvalidBase64 { field, label: label.to_owned(), line, detail };
    if body.is_empty() {
        return Err(invalid("the block is empty".to_owned()));
    }
    if let Some((offset, character)) =
        body.char_indices().find(|(_, character)| !(character.is_ascii_alphanumeric() || matches!(character, '+' | '/' | '=')))
    {
        return Err(invalid(format!("character {character:?} at position {offset} is not base64")));
    }
    let der = BASE64.decode(body.as_bytes()).map_err(|error| invalid(error.to_string()))?;
    if skip_der_check {
        return Ok(der);
    }
    match der::announced_length(&der) {
        Some((expected, found)) if found < expected => {
            Err(UploadError::TruncatedBlock { field, label: label.to_owned(), line, expected, found })
        }
        Some(_) => Ok(der),
        None => Err(invalid("the decoded bytes do not start with a DER header".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";

    fn blocks(text: &str) -> Vec<Block> {
        match read_field("CertificatePublicKey", text, 1 << 20).unwrap() {
            Contents::Pem(blocks) => blocks,
            Contents::Der(_) => panic!("expected PEM"),
        }
    }

    #[test]
    fn line_ends_and_byte_order_marks() {
        for text in [
            BLOCK.to_owned(),
            BLOCK.replace('\n', "\r\n"),
            BLOCK.replace('\n', "\r"),
            format!("\u{FEFF}{BLOCK}"),
            format!("\u{EF}\u{BB}\u{BF}{BLOCK}"),
            format!("  \n\t{}", BLOCK.trim_end()),
            BLOCK.replace('\n', " "),
            format!("subject=CN = x\nissuer=CN = y\n{BLOCK}"),
        ] {
            let found = blocks(&text);
            assert_eq!(found.len(), 1, "{text:?}");
            assert_eq!(found[0].der, vec![0x30, 0x03, 0x02, 0x01, 0x01], "{text:?}");
        }
    }

    #[test]
    fn utf16_and_binary_rejected() {
        let utf16: String = BLOCK.chars().flat_map(|character| [character, '\0']).collect();
        assert!(matches!(read_field("f", &utf16, 1 << 20), Err(UploadError::Utf16 { .. })));
        assert!(matches!(read_field("f", &format!("\u{FF}\u{FE}{utf16}"), 1 << 20), Err(UploadError::Utf16 { .. })));
        assert!(matches!(read_field("f", "\u{1}\u{2}abc", 1 << 20), Err(UploadError::Binary { .. })));
    }

    #[test]
    fn broken_blocks_rejected() {
        let cut = &BLOCK[..40];
        assert!(matches!(read_field("f", cut, 1 << 20), Err(UploadError::UnterminatedBlock { .. })));
        let mismatched = BLOCK.replace("END CERTIFICATE", "END PRIVATE KEY");
        assert!(matches!(read_field("f", &mismatched, 1 << 20), Err(UploadError::MismatchedLabels { .. })));
        let bad = BLOCK.replace("MAMCAQE=", "MAMC*QE=");
        assert!(matches!(read_field("f", &bad, 1 << 20), Err(UploadError::InvalidBase64 { .. })));
        let truncated = BLOCK.replace("MAMCAQE=", "MAMC");
        assert!(matches!(read_field("f", &truncated, 1 << 20), Err(UploadError::TruncatedBlock { .. })));
    }

    #[test]
    fn bare_base64_is_der() {
        assert!(matches!(read_field("f", " MAMCAQE=\n", 1 << 20), Ok(Contents::Der(_))));
        assert!(matches!(read_field("f", "hello world", 1 << 20), Err(UploadError::NoPem { .. })));
        assert!(matches!(read_field("f", " \n ", 1 << 20), Err(UploadError::Empty { .. })));
    }

    #[test]
    fn no_pem_hint_names_the_field_contents() {
        let key = read_field("CertificatePrivateKey", "hello", 1 << 20).unwrap_err().to_string();
        assert!(key.contains("PRIVATE KEY-----"), "{key}");
        assert!(!key.contains("CERTIFICATE"), "{key}");
        let certificate = read_field("CertificatePublicKey", "hello", 1 << 20).unwrap_err().to_string();
        assert!(certificate.contains("-----BEGIN CERTIFICATE-----"), "{certificate}");
    }
}
