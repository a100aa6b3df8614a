//! The URLs certkeeper writes into certificates, all derived from one `public_url`.

use certkeeper_core::SerialNumber;

/// Builds AIA, CRL and certificate URLs below the service's public base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlScheme {
    base: String,
    crl_shards: u32,
}

impl UrlScheme {
    /// Creates a scheme below `public_url` (a trailing `/` is ignored) with `crl_shards` CRL
    /// partitions per issuer; a shard count of 0 is treated as 1.
    pub fn new(public_url: &str, crl_shards: u32) -> Self {
        UrlScheme { base: public_url.trim_end_matches('/').to_owned(), crl_shards: crl_shards.max(1) }
    }

    /// Returns the public base URL without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Returns the number of CRL shards per issuer.
    pub fn crl_shards(&self) -> u32 {
        self.crl_shards
    }

    /// Returns the OCSP responder URL.
    pub fn ocsp_url(&self) -> String {
        format!("{}/ocsp", self.base)
    }

    /// Returns the URL of the root certificate in DER.
    pub fn root_certificate_url(&self) -> String {
        format!("{}/ca/root.der", self.base)
    }

    /// Returns the URL of the root's CRL, which lists revoked intermediates.
    pub fn root_crl_url(&self) -> String {
        format!("{}/crl/root.crl", self.base)
    }

    /// Returns the caIssuers URL of an issuing CA certificate (DER).
    pub fn issuer_certificate_url(&self, issuer_id: i64) -> String {
        format!("{}/ca/issuer/{issuer_id}.der", self.base)
    }

    /// Returns the shard a serial belongs to: the last four serial bytes, big-endian, modulo
    /// the shard count. The shard never changes for a serial, so certificates keep their
    /// distribution point when CRLs are rebuilt.
    pub fn crl_shard(&self, serial: &SerialNumber) -> u32 {
        let bytes = serial.as_bytes();
        let tail = &bytes[bytes.len().saturating_sub(4)..];
        let value = tail.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        value % self.crl_shards
    }

    /// Returns the CRL distribution point URL for a serial of an issuer.
    pub fn crl_url(&self, issuer_id: i64, serial: &SerialNumber) -> String {
        format!("{}/crl/{issuer_id}/{}.crl", self.base, self.crl_shard(serial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_share_one_base() {
        let urls = UrlScheme::new("https://pki.example.test/", 16);
        assert_eq!(urls.ocsp_url(), "https://pki.example.test/ocsp");
        assert_eq!(urls.issuer_certificate_url(2), "https://pki.example.test/ca/issuer/2.der");
        let serial = SerialNumber::from_bytes(&[0x01, 0x00, 0x00, 0x00, 0x23]);
        assert_eq!(urls.crl_shard(&serial), 0x23 % 16);
        assert_eq!(urls.crl_url(2, &serial), "https://pki.example.test/crl/2/3.crl");
    }

    #[test]
    fn zero_shards_means_one() {
        let urls = UrlScheme::new("http://x.example", 0);
        assert_eq!(urls.crl_shards(), 1);
        assert_eq!(urls.crl_shard(&SerialNumber::from_bytes(&[0xff; 16])), 0);
    }
}
