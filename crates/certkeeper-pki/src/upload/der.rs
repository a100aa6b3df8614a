//! A minimal DER reader for the few structures the upload parser inspects before handing them
//! to a full parser: the outer length of a block, the type of a base64 blob, PKCS#7
//! certificate sets, and the algorithm fields of private keys.

/// One DER element: its tag byte, its contents and its whole encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Element<'a> {
    pub tag: u8,
    pub contents: &'a [u8],
    pub encoded: &'a [u8],
}

pub(crate) const TAG_INTEGER: u8 = 0x02;
pub(crate) const TAG_OCTET_STRING: u8 = 0x04;
pub(crate) const TAG_OID: u8 = 0x06;
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
pub(crate) const TAG_CONTEXT_0: u8 = 0xA0;

/// Reads the element at the start of `input` and returns it with the bytes after it.
///
/// Only definite lengths of at most four length bytes are accepted, which covers every
/// structure in an upload (DER forbids indefinite lengths).
pub(crate) fn read(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, rest) = input.split_first()?;
    // High tag numbers (low five bits all set) do not occur in the structures read here.
    if tag & 0x1F == 0x1F {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7F);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let length = rest[..count].iter().fold(0usize, |value, byte| (value << 8) | usize::from(*byte));
        (length, &rest[count..])
    };
    if rest.len() < length {
        return None;
    }
    let header = input.len() - rest.len();
    let element = Element { tag, contents: &rest[..length], encoded: &input[..header + length] };
    Some((element, &rest[length..]))
}

/// Returns the length the first element's header announces and the bytes actually present
/// after the header, so that a truncated block can be reported with both numbers.
pub(crate) fn announced_length(input: &[u8]) -> Option<(usize, usize)> {
    let rest = input.get(1..)?;
    let (&first, rest) = rest.split_first()?;
    if first < 0x80 {
        return Some((usize::from(first), rest.len()));
    }
    let count = usize::from(first & 0x7F);
    if count == 0 || count > 4 || rest.len() < count {
        return None;
    }
    let length = rest[..count].iter().fold(0usize, |value, byte| (value << 8) | usize::from(*byte));
    Some((length, rest.len() - count))
}

/// Reads every element of a constructed value's contents.
pub(crate) fn children(contents: &[u8]) -> Option<Vec<Element<'_>>> {
    let mut rest = contents;
    let mut found = Vec::new();
    while !rest.is_empty() {
        let (element, after) = read(rest)?;
        found.push(element);
        rest = after;
    }
    Some(found)
}

/// Encodes a length in DER form.
fn encode_length(length: usize, out: &mut Vec<u8>) {
    if length < 0x80 {
        out.push(length as u8);
        return;
    }
    let bytes = length.to_be_bytes();
    let skip = bytes.iter().take_while(|byte| **byte == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Encodes one element from its tag and contents.
pub(crate) fn encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(contents.len() + 6);
    out.push(tag);
    encode_length(contents.len(), &mut out);
    out.extend_from_slice(contents);
    out
}

/// Object identifiers compared against DER contents (the bytes after tag and length).
pub(crate) mod oid {
    /// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017).
    pub const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    /// id-RSASSA-PSS, 1.2.840.113549.1.1.10 (RFC 4055).
    pub const RSASSA_PSS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
    /// id-ecPublicKey, 1.2.840.10045.2.1 (RFC 5480).
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    /// secp256r1 (P-256), 1.2.840.10045.3.1.7.
    pub const P256: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    /// secp384r1 (P-384), 1.3.132.0.34.
    pub const P384: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x22];
    /// secp521r1 (P-521), 1.3.132.0.35.
    pub const P521: &[u8] = &[0x2B, 0x81, 0x04, 0x00, 0x23];
    /// The SM2 curve, 1.2.156.10197.1.301 (GB/T 32918).
    pub const SM2: &[u8] = &[0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D];
    /// id-Ed25519, 1.3.101.112 (RFC 8410).
    pub const ED25519: &[u8] = &[0x2B, 0x65, 0x70];
    /// id-Ed448, 1.3.101.113 (RFC 8410).
    pub const ED448: &[u8] = &[0x2B, 0x65, 0x71];
    /// id-dsa, 1.2.840.10040.4.1 (RFC 3279).
    pub const DSA: &[u8] = &[0x2A, 0x86, 0x48, 0xCE, 0x38, 0x04, 0x01];
    /// id-signedData, 1.2.840.113549.1.7.2 (RFC 5652).
    pub const SIGNED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    /// id-PBES2, 1.2.840.113549.1.5.13 (RFC 8018).
    pub const PBES2: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x05, 0x0D];
}

/// What a DER blob without PEM armour holds, judged from its outer structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlobKind {
    /// One or more X.509 certificates one after the other.
    Certificates,
    /// A PKCS#7 SignedData bundle (`.p7b`).
    Pkcs7,
    /// A PKCS#12 file (`.pfx`, `.p12`).
    Pkcs12,
    /// A private key: PKCS#8, PKCS#1 or SEC1.
    PrivateKey,
    /// An encrypted PKCS#8 private key.
    EncryptedPrivateKey,
    /// Anything else.
    Unknown,
}

/// Classifies a DER blob by its outer structure.
pub(crate) fn classify(blob: &[u8]) -> BlobKind {
    let Some((outer, _)) = read(blob) else {
        return BlobKind::Unknown;
    };
    if outer.tag != TAG_SEQUENCE {
        return BlobKind::Unknown;
    }
    let Some(items) = children(outer.contents) else {
        return BlobKind::Unknown;
    };
    match items.as_slice() {
        [oid, content, ..] if oid.tag == TAG_OID && oid.contents == oid::SIGNED_DATA && content.tag == TAG_CONTEXT_0 => {
            BlobKind::Pkcs7
        }
        [version, auth_safe, ..]
            if version.tag == TAG_INTEGER && version.contents == [3] && auth_safe.tag == TAG_SEQUENCE =>
        {
            BlobKind::Pkcs12
        }
        [tbs, algorithm, signature] if tbs.tag == TAG_SEQUENCE && algorithm.tag == TAG_SEQUENCE && signature.tag == 0x03 => {
            BlobKind::Certificates
        }
        [version, ..] if version.tag == TAG_INTEGER => BlobKind::PrivateKey,
        [algorithm, data] if algorithm.tag == TAG_SEQUENCE && data.tag == TAG_OCTET_STRING => BlobKind::EncryptedPrivateKey,
        _ => BlobKind::Unknown,
    }
}

/// Returns the certificates of a PKCS#7 SignedData bundle (RFC 5652 §5.1), in bundle order.
pub(crate) fn pkcs7_certificates(blob: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    let (outer, _) = read(blob).ok_or("the outer ContentInfo is not valid DER")?;
    let items = children(outer.contents).ok_or("the ContentInfo fields are not valid DER")?;
    let [content_type, content, ..] = items.as_slice() else {
        return Err("the ContentInfo has no content");
    };
    if content_type.contents != oid::SIGNED_DATA {
        return Err("the content type is not signedData");
    }
    let (signed_data, _) = read(content.contents).ok_or("the SignedData is not valid DER")?;
    let fields = children(signed_data.contents).ok_or("the SignedData fields are not valid DER")?;
    // SignedData: version, digestAlgorithms, encapContentInfo, then [0] IMPLICIT certificates.
    let Some(certificates) = fields.iter().skip(3).find(|field| field.tag == TAG_CONTEXT_0) else {
        return Err("the bundle holds no certificates");
    };
    let certificates = children(certificates.contents).ok_or("the certificate set is not valid DER")?;
    Ok(certificates
        .iter()
        .filter(|element| element.tag == TAG_SEQUENCE)
        .map(|element| element.encoded.to_vec())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        let contents = vec![7u8; 300];
        let encoded = encode(TAG_OCTET_STRING, &contents);
        assert_eq!(&encoded[..4], &[0x04, 0x82, 0x01, 0x2C]);
        let (element, rest) = read(&encoded).unwrap();
        assert_eq!(element.contents.len(), 300);
        assert!(rest.is_empty());
    }

    #[test]
    fn truncated_element_is_rejected() {
        let encoded = encode(TAG_SEQUENCE, &[1, 2, 3, 4]);
        assert!(read(&encoded[..4]).is_none());
        assert_eq!(announced_length(&encoded[..4]), Some((4, 2)));
    }
}
