//! Special-purpose IP addresses that a file check must not connect to.
//!
//! The ranges come from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890
//! and its updates). Addresses that embed an IPv4 address (IPv4-mapped, NAT64 and 6to4) are
//! judged by the embedded address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Returns the kind of special-purpose address, or `None` for a globally reachable one.
pub fn special_purpose(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(address: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = address.octets();
    let kind = match (a, b, c) {
        (0, _, _) => "unspecified (\"this network\", 0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8)",
        (100, 64..=127, _) => "shared address space, CGNAT (100.64.0.0/10)",
        (127, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16)",
        (172, 16..=31, _) => "private (172.16.0.0/12)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) => "documentation (192.0.2.0/24)",
        (192, 88, 99) => "6to4 relay anycast (192.88.99.0/24)",
        (192, 168, _) => "private (192.168.0.0/16)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (198, 51, 100) => "documentation (198.51.100.0/24)",
        (203, 0, 113) => "documentation (203.0.113.0/24)",
        (224..=239, _, _) => "multicast (224.0.0.0/4)",
        (240..=255, _, _) => "reserved or broadcast (240.0.0.0/4)",
        _ => return None,
    };
    Some(kind)
}

fn special_v6(address: Ipv6Addr) -> Option<&'static str> {
    if address.is_unspecified() {
        return Some("unspecified (::)");
    }
    if address.is_loopback() {
        return Some("loopback (::1)");
    }
    if let Some(v4) = address.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let segments = address.segments();
    let kind = match segments {
        // NAT64 and 6to4 carry an IPv4 address that decides.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => return special_v4(embedded_v4(high, low)),
        [0x2002, high, low, ..] => return special_v4(embedded_v4(high, low)),
        [0x64, 0xff9b, 1, ..] => "local-use IPv4/IPv6 translation (64:ff9b:1::/48)",
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [0x2001, 0x0db8, ..] => "documentation (2001:db8::/32)",
        [0x2001, second, ..] if second < 0x200 => "IETF protocol assignment (2001::/23)",
        [first, ..] if first & 0xfff0 == 0x3ff0 && first <= 0x3fff => "documentation (3fff::/20)",
        [0x5f00, ..] => "segment routing SIDs (5f00::/16)",
        [first, ..] if first & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        [first, ..] if first & 0xffc0 == 0xfec0 => "site-local, deprecated (fec0::/10)",
        [first, ..] if first & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        // IPv4-compatible addresses (::/96) are deprecated and never globally routed.
        [0, 0, 0, 0, 0, 0, _, _] => "IPv4-compatible, deprecated (::/96)",
        _ => return None,
    };
    Some(kind)
}

fn embedded_v4(high: u16, low: u16) -> Ipv4Addr {
    let [a, b] = high.to_be_bytes();
    let [c, d] = low.to_be_bytes();
    Ipv4Addr::new(a, b, c, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Option<&'static str> {
        special_purpose(text.parse().unwrap())
    }

    #[test]
    fn rejects_special_ipv4() {
        for address in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(
                kind(address).is_some(),
                "{address} should be special-purpose"
            );
        }
    }

    #[test]
    fn accepts_public_ipv4() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.0.1",
            "172.32.0.1",
        ] {
            assert_eq!(kind(address), None, "{address}");
        }
    }

    #[test]
    fn rejects_special_ipv6() {
        for address in [
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "100::1",
            "2001:db8::1",
            "2001::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "::7f00:1",
        ] {
            assert!(
                kind(address).is_some(),
                "{address} should be special-purpose"
            );
        }
    }

    #[test]
    fn accepts_public_ipv6() {
        for address in [
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(kind(address), None, "{address}");
        }
    }

    #[test]
    fn names_the_range() {
        assert_eq!(kind("127.0.0.1"), Some("loopback (127.0.0.0/8)"));
    }
}
