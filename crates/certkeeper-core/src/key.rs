//! Public key algorithms that certkeeper accepts in CSRs and can generate.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A key algorithm and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyAlgorithm {
    #[serde(rename = "rsa2048")]
    Rsa2048,
    #[serde(rename = "rsa3072")]
    Rsa3072,
    #[serde(rename = "rsa4096")]
    Rsa4096,
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    /// SM2 with SM3 (GB/T 32918); listed in the catalogue but not issued yet.
    #[serde(rename = "sm2")]
    Sm2,
}

/// Key algorithms a leaf CSR may use, in the order used by error messages.
pub const ACCEPTED_CSR_KEYS: [KeyAlgorithm; 5] = [
    KeyAlgorithm::Rsa2048,
    KeyAlgorithm::Rsa3072,
    KeyAlgorithm::Rsa4096,
    KeyAlgorithm::EcdsaP256,
    KeyAlgorithm::EcdsaP384,
];

impl KeyAlgorithm {
    /// Returns the configuration name, such as `ecdsa-p256`.
    pub fn name(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "rsa2048",
            KeyAlgorithm::Rsa3072 => "rsa3072",
            KeyAlgorithm::Rsa4096 => "rsa4096",
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
            KeyAlgorithm::Sm2 => "sm2",
        }
    }

    /// Returns the label the Tencent API shows in `EncryptAlgorithm`, such as `RSA 2048`.
    pub fn display_label(self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa2048 => "RSA 2048",
            KeyAlgorithm::Rsa3072 => "RSA 3072",
            KeyAlgorithm::Rsa4096 => "RSA 4096",
            KeyAlgorithm::EcdsaP256 => "ECC 256",
            KeyAlgorithm::EcdsaP384 => "ECC 384",
            KeyAlgorithm::Sm2 => "SM2",
        }
    }

    /// Returns true for RSA keys of any size.
    pub fn is_rsa(self) -> bool {
        matches!(self, KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa3072 | KeyAlgorithm::Rsa4096)
    }

    /// Maps an RSA modulus size in bits to an algorithm, if it is one certkeeper accepts.
    pub fn rsa_with_bits(bits: usize) -> Option<Self> {
        match bits {
            2048 => Some(KeyAlgorithm::Rsa2048),
            3072 => Some(KeyAlgorithm::Rsa3072),
            4096 => Some(KeyAlgorithm::Rsa4096),
            _ => None,
        }
    }

    /// Returns all names accepted in configuration, joined for messages.
    pub fn accepted_names() -> &'static str {
        "rsa2048, rsa3072, rsa4096, ecdsa-p256, ecdsa-p384, sm2"
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyAlgorithm {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let found = [
            KeyAlgorithm::Rsa2048,
            KeyAlgorithm::Rsa3072,
            KeyAlgorithm::Rsa4096,
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Sm2,
        ]
        .into_iter()
        .find(|algorithm| algorithm.name().eq_ignore_ascii_case(text.trim()));
        found.ok_or_else(|| {
            format!("unknown key algorithm {text:?}; use one of {}", KeyAlgorithm::accepted_names())
        })
    }
}
