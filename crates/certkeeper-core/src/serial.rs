//! Certificate serial numbers (RFC 5280 §4.1.2.2).

use std::fmt;

/// A certificate serial number as its big-endian content octets, without a sign byte.
///
/// certkeeper's own serials are 16 random bytes with the top bit cleared, so they are positive
/// and encode in at most 17 DER content octets, inside the 20-octet limit of RFC 5280 §4.1.2.2.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerialNumber(Vec<u8>);

impl SerialNumber {
    /// Number of random bytes in a serial that certkeeper assigns.
    pub const RANDOM_LENGTH: usize = 16;

    /// Builds a positive serial from 16 random bytes by clearing the top bit, and sets the
    /// lowest bit of the first byte so that no leading zero byte shortens it.
    pub fn from_random(mut bytes: [u8; Self::RANDOM_LENGTH]) -> Self {
        bytes[0] &= 0x7f;
        bytes[0] |= 0x01;
        SerialNumber(bytes.to_vec())
    }

    /// Wraps serial bytes read from a certificate or the store.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        SerialNumber(bytes.to_vec())
    }

    /// Parses lower- or upper-case hex, with or without colons.
    pub fn from_hex(text: &str) -> Option<Self> {
        // Working on bytes keeps non-ASCII input from splitting a character: such bytes are
        // not hex digits and fail the parse.
        let digits: Vec<u8> = text.bytes().filter(|byte| *byte != b':').collect();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return None;
        }
        let hex_value = |byte: u8| char::from(byte).to_digit(16);
        let bytes = digits
            .chunks(2)
            .map(|pair| Some((hex_value(pair[0])? * 16 + hex_value(pair[1])?) as u8))
            .collect::<Option<Vec<u8>>>()?;
        Some(SerialNumber(bytes))
    }

    /// Returns the big-endian bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Returns lower-case hex without separators, the form used in the store and in logs.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialNumber({})", self.to_hex())
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serial_is_positive_and_full_length() {
        let serial = SerialNumber::from_random([0xff; 16]);
        assert_eq!(serial.as_bytes()[0], 0x7f);
        let serial = SerialNumber::from_random([0x00; 16]);
        assert_eq!(serial.as_bytes()[0], 0x01);
        assert_eq!(serial.as_bytes().len(), 16);
    }

    #[test]
    fn hex_round_trip() {
        let serial = SerialNumber::from_random([0xab; 16]);
        assert_eq!(SerialNumber::from_hex(&serial.to_hex()), Some(serial.clone()));
        assert_eq!(SerialNumber::from_hex("0A:0b"), Some(SerialNumber::from_bytes(&[10, 11])));
        assert_eq!(SerialNumber::from_hex("abc"), None);
        assert_eq!(SerialNumber::from_hex("zz"), None);
        assert_eq!(SerialNumber::from_hex("a\u{e9}1"), None, "a non-ASCII character is not a hex digit");
        assert_eq!(SerialNumber::from_hex("+1"), None);
    }
}
