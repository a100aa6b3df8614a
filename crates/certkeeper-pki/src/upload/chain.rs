//! Leaf selection, chain ordering and completion, and the checks reported for an upload.
//!
//! The leaf is the certificate whose public key matches the private key (or, without a key,
//! the one no other certificate in the upload was issued by). The chain is then followed
//! upwards by issuer name and signature: intermediates are kept leaf first, a self-signed root
//! is set apart (servers must not send it), and certificates off the path are dropped. An
//! issuer missing from the upload is looked up in certkeeper's own CA certificates, in the
//! bundled well-known intermediates and in certificates the caller fetched from caIssuers
//! URLs. Trust is judged by rustls-webpki against the Mozilla root set and certkeeper's roots.

use std::sync::OnceLock;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};

use super::certificate::UploadedCertificate;
use super::key::PrivateKey;
use super::{CertificateKind, UploadError};

/// A certificate the chain builder left out or added, with the reason or source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainChange {
    pub subject: String,
    /// Lower-case hex SHA-256 of the certificate.
    pub sha256: String,
    /// Why it was dropped (`root`, `duplicate`, `unrelated`, `same-key`) or where it came from
    /// (`certkeeper-ca`, `bundled`, `aia`).
    pub reason: &'static str,
}

/// Longest path followed from the leaf, intermediates and root included.
pub const MAX_CHAIN_DEPTH: usize = 8;

/// Well-known intermediates shipped with certkeeper (see `intermediates/README.md`).
const BUNDLED_INTERMEDIATES: [&str; 4] = [
    include_str!("../../intermediates/lets-encrypt-r11.pem"),
    include_str!("../../intermediates/lets-encrypt-r12.pem"),
    include_str!("../../intermediates/lets-encrypt-e7.pem"),
    include_str!("../../intermediates/lets-encrypt-e8.pem"),
];

/// A warning about an accepted upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainWarning {
    /// Stable identifier such as `NotYetValid` or `Untrusted`.
    pub code: &'static str,
    pub message: String,
}

/// An issuer that is neither in the upload nor in any source, with the leaf-most certificate
/// that names it and that certificate's caIssuers URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingIssuer {
    pub issuer: String,
    pub ca_issuers: Vec<String>,
}

/// What the chain builder did and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// True when the upload did not list the chain leaf first.
    pub reordered: bool,
    pub dropped: Vec<ChainChange>,
    pub added: Vec<ChainChange>,
    pub warnings: Vec<ChainWarning>,
    /// True when rustls-webpki builds a path from the leaf to a Mozilla root or certkeeper's
    /// root.
    pub trusted: bool,
    pub missing_issuer: Option<MissingIssuer>,
}

/// An ordered chain ready to store.
#[derive(Clone, Debug)]
pub struct HostedChain {
    pub leaf: UploadedCertificate,
    /// Intermediates, the leaf's issuer first. The root is never included.
    pub intermediates: Vec<UploadedCertificate>,
    /// The self-signed root the chain ends in, when the upload or a source has it.
    pub root: Option<UploadedCertificate>,
    pub report: ChainReport,
}

/// Certificates the builder may add to an upload.
#[derive(Clone, Debug, Default)]
pub struct ChainSources {
    /// certkeeper's own CA certificates (roots and intermediates), DER.
    pub own: Vec<Vec<u8>>,
    /// Certificates fetched from caIssuers URLs, DER.
    pub fetched: Vec<Vec<u8>>,
}

fn parse_all(ders: &[Vec<u8>]) -> Vec<UploadedCertificate> {
    ders.iter().filter_map(|der| UploadedCertificate::parse(der, usize::MAX).ok()).collect()
}

fn bundled() -> &'static [UploadedCertificate] {
    static BUNDLED: OnceLock<Vec<UploadedCertificate>> = OnceLock::new();
    BUNDLED.get_or_init(|| {
        let ders: Vec<Vec<u8>> = BUNDLED_INTERMEDIATES
            .iter()
            .filter_map(|text| pem::parse(text).ok().map(|block| block.into_contents()))
            .collect();
        parse_all(&ders)
    })
}

/// Returns the bundled well-known intermediates, DER.
pub fn bundled_intermediates() -> Vec<Vec<u8>> {
    bundled().iter().map(|certificate| certificate.der.clone()).collect()
}

fn mozilla_roots() -> &'static [UploadedCertificate] {
    static ROOTS: OnceLock<Vec<UploadedCertificate>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let ders: Vec<Vec<u8>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|der| der.as_ref().to_vec()).collect();
        parse_all(&ders)
    })
}

fn mozilla_anchors() -> &'static [TrustAnchor<'static>] {
    static ANCHORS: OnceLock<Vec<TrustAnchor<'static>>> = OnceLock::new();
    ANCHORS.get_or_init(|| {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter_map(|der| webpki::anchor_from_trusted_cert(der).ok().map(|anchor| anchor.to_owned()))
            .collect()
    })
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` UTC for messages.
fn utc(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|time| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                time.year(),
                u8::from(time.month()),
                time.day(),
                time.hour(),
                time.minute(),
                time.second()
            )
        })
        .unwrap_or_else(|_| unix.to_string())
}

/// Picks the leaf of an upload.
fn select_leaf(
    certificates: &[UploadedCertificate],
    key: Option<&PrivateKey>,
    kind: CertificateKind,
    report: &mut ChainReport,
) -> Result<usize, UploadError> {
    if let Some(key) = key {
        let matching: Vec<usize> = (0..certificates.len()).filter(|index| certificates[*index].public_key == key.public_key).collect();
        if matching.is_empty() {
            let listed: Vec<String> = certificates.iter().filter(|certificate| !certificate.is_ca).map(UploadedCertificate::describe).collect();
            let listed = if listed.is_empty() { certificates.iter().map(UploadedCertificate::describe).collect() } else { listed };
            return Err(UploadError::KeyMismatch { count: certificates.len(), certificates: listed.join("; ") });
        }
        let wanted_ca = kind == CertificateKind::Ca;
        let mut candidates: Vec<usize> = matching.iter().copied().filter(|index| certificates[*index].is_ca == wanted_ca).collect();
        if candidates.is_empty() {
            let first = &certificates[matching[0]];
            return Err(if wanted_ca {
                UploadError::NotCa { subject: first.subject.clone() }
            } else {
                UploadError::KeyOfCaCertificate { subject: first.subject.clone() }
            });
        }
        // Several certificates for one key (a renewal that kept the key): the one valid
        // longest is the leaf, the others are dropped.
        candidates.sort_by_key(|index| std::cmp::Reverse(certificates[*index].not_after));
        for other in &candidates[1..] {
            report.dropped.push(change(&certificates[*other], "same-key"));
        }
        return Ok(candidates[0]);
    }
    select_bottom(certificates, kind)
}

/// Without a key, the leaf is the certificate that issued no other certificate of the upload,
/// preferring a non-CA certificate for servers.
fn select_bottom(certificates: &[UploadedCertificate], kind: CertificateKind) -> Result<usize, UploadError> {
    let issues_another =
        |index: usize| certificates.iter().enumerate().any(|(other, child)| other != index && child.issuer_raw == certificates[index].subject_raw);
    let bottoms: Vec<usize> = (0..certificates.len()).filter(|index| !issues_another(*index)).collect();
    let pool = if bottoms.is_empty() { (0..certificates.len()).collect() } else { bottoms };
    match kind {
        CertificateKind::Server => pool.iter().copied().find(|index| !certificates[*index].is_ca).ok_or_else(|| UploadError::NoLeaf {
            subjects: certificates.iter().map(|certificate| certificate.subject.clone()).collect::<Vec<_>>().join("; "),
        }),
        CertificateKind::Ca => {
            let chosen = pool[0];
            if certificates[chosen].is_ca {
                Ok(chosen)
            } else {
                Err(UploadError::NotCa { subject: certificates[chosen].subject.clone() })
            }
        }
    }
}

fn change(certificate: &UploadedCertificate, reason: &'static str) -> ChainChange {
    ChainChange { subject: certificate.subject.clone(), sha256: certificate.sha256.clone(), reason }
}

/// Finds the issuer of `child` among `pool`, skipping certificates already on the path.
fn find_issuer<'a>(child: &UploadedCertificate, pool: &'a [UploadedCertificate], path: &[UploadedCertificate]) -> Option<&'a UploadedCertificate> {
    pool.iter()
        .filter(|candidate| !path.iter().any(|on_path| on_path.sha256 == candidate.sha256))
        .find(|candidate| child.is_issued_by(candidate))
}

/// Orders an upload into a chain and completes it from `sources`.
///
/// `certificates` contains the distinct certificates in upload order. Checks that make the
/// upload unusable (expiry, weak or unsupported keys, SM2) fail with an [`UploadError`]; the
/// rest are warnings in the report.
pub fn assemble(
    certificates: &[UploadedCertificate],
    key: Option<&PrivateKey>,
    kind: CertificateKind,
    now: i64,
    sources: &ChainSources,
) -> Result<HostedChain, UploadError> {
    let mut report = ChainReport::default();
    let leaf_index = select_leaf(certificates, key, kind, &mut report)?;
    let leaf = certificates[leaf_index].clone();
    check_leaf(&leaf, kind, now)?;

    let mut path = vec![leaf.clone()];
    let own = parse_all(&sources.own);
    let fetched = parse_all(&sources.fetched);
    let pools: [(&[UploadedCertificate], &'static str); 5] =
        [(certificates, ""), (&own, "certkeeper-ca"), (bundled(), "bundled"), (&fetched, "aia"), (mozilla_roots(), "mozilla-root")];
    let mut root = None;
    while path.len() < MAX_CHAIN_DEPTH {
        let current = &path[path.len() - 1];
        if current.self_signed {
            break;
        }
        let found = pools.iter().find_map(|(pool, source)| find_issuer(current, pool, &path).map(|issuer| (issuer.clone(), *source)));
        let Some((issuer, source)) = found else {
            report.missing_issuer = Some(MissingIssuer { issuer: current.issuer.clone(), ca_issuers: current.ca_issuers.clone() });
            break;
        };
        // A Mozilla root that ends the chain is trusted, not added; every other found issuer is.
        let trusted_root = issuer.self_signed && source == "mozilla-root";
        if !source.is_empty() && !trusted_root {
            report.added.push(change(&issuer, source));
        }
        path.push(issuer);
    }
    if path.len() > 1 && path[path.len() - 1].self_signed {
        let top = path.pop();
        if let Some(top) = &top
            && top.position != usize::MAX
        {
            report.dropped.push(change(top, "root"));
        }
        root = top;
    }

    let on_path: Vec<usize> = path.iter().chain(root.iter()).map(|certificate| certificate.position).filter(|position| *position != usize::MAX).collect();
    report.reordered = on_path.windows(2).any(|pair| pair[0] > pair[1]);
    for certificate in certificates {
        let used = path.iter().chain(root.iter()).any(|on| on.sha256 == certificate.sha256);
        let already = report.dropped.iter().any(|dropped| dropped.sha256 == certificate.sha256);
        if !used && !already {
            report.dropped.push(change(certificate, "unrelated"));
        }
    }

    let intermediates = path.split_off(1);
    warn_about_chain(&leaf, &intermediates, now, &mut report);
    check_trust(&leaf, &intermediates, root.as_ref(), kind, now, &own, &mut report);
    Ok(HostedChain { leaf, intermediates, root, report })
}

/// Rejects a leaf that certkeeper cannot host.
fn check_leaf(leaf: &UploadedCertificate, kind: CertificateKind, now: i64) -> Result<(), UploadError> {
    if leaf.uses_sm2 {
        return Err(UploadError::Sm2 { what: format!("the certificate {}", leaf.subject) });
    }
    if let Some(bits) = leaf.rsa_bits
        && bits < 2048
    {
        return Err(UploadError::WeakKey { subject: leaf.subject.clone(), bits });
    }
    if let Err(algorithm) = &leaf.key_algorithm {
        return Err(UploadError::UnsupportedCertificateKey { subject: leaf.subject.clone(), algorithm: algorithm.clone() });
    }
    if leaf.not_after < now {
        return Err(UploadError::Expired { subject: leaf.subject.clone(), not_after: utc(leaf.not_after) });
    }
    if kind == CertificateKind::Server && leaf.names().is_empty() {
        return Err(UploadError::NoNames { subject: leaf.subject.clone() });
    }
    Ok(())
}

fn warn(report: &mut ChainReport, code: &'static str, message: String) {
    report.warnings.push(ChainWarning { code, message });
}

fn warn_about_chain(leaf: &UploadedCertificate, intermediates: &[UploadedCertificate], now: i64, report: &mut ChainReport) {
    if leaf.not_before > now {
        warn(report, "NotYetValid", format!("the certificate {} is not valid before {} (UTC)", leaf.subject, utc(leaf.not_before)));
    }
    if leaf.sha1_signature {
        warn(report, "Sha1Signature", format!("the certificate {} is signed with SHA-1, which browsers reject; have it reissued", leaf.subject));
    }
    for intermediate in intermediates {
        if intermediate.not_after < now {
            warn(report, "IntermediateExpired", format!("the intermediate {} expired on {} (UTC)", intermediate.subject, utc(intermediate.not_after)));
        }
        if intermediate.sha1_signature {
            warn(report, "Sha1Signature", format!("the intermediate {} is signed with SHA-1", intermediate.subject));
        }
        if let Some(bits) = intermediate.rsa_bits
            && bits < 2048
        {
            warn(report, "WeakKey", format!("the intermediate {} has a {bits}-bit RSA key, below 2048 bits", intermediate.subject));
        }
    }
    if let Some(missing) = &report.missing_issuer {
        let hint = if missing.ca_issuers.is_empty() { String::new() } else { format!(" (its caIssuers URL is {})", missing.ca_issuers.join(", ")) };
        let message = format!("the issuer {} was not uploaded and is not known to certkeeper{hint}; add it to the chain", missing.issuer);
        warn(report, "IncompleteChain", message);
    }
}

/// Verifies the chain with rustls-webpki against the Mozilla roots and certkeeper's own.
fn check_trust(
    leaf: &UploadedCertificate,
    intermediates: &[UploadedCertificate],
    root: Option<&UploadedCertificate>,
    kind: CertificateKind,
    now: i64,
    own: &[UploadedCertificate],
    report: &mut ChainReport,
) {
    let mut anchors: Vec<TrustAnchor<'_>> = mozilla_anchors().to_vec();
    let own_roots: Vec<CertificateDer<'_>> =
        own.iter().filter(|certificate| certificate.self_signed).map(|certificate| CertificateDer::from(certificate.der.as_slice())).collect();
    anchors.extend(own_roots.iter().filter_map(|der| webpki::anchor_from_trusted_cert(der).ok()));

    let result = match kind {
        CertificateKind::Server => {
            let leaf_der = CertificateDer::from(leaf.der.as_slice());
            let intermediate_ders: Vec<CertificateDer<'_>> = intermediates.iter().map(|certificate| CertificateDer::from(certificate.der.as_slice())).collect();
            let time = UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now).unwrap_or(0)));
            webpki::EndEntityCert::try_from(&leaf_der).and_then(|end_entity| {
                end_entity
                    .verify_for_usage(webpki::ALL_VERIFICATION_ALGS, &anchors, &intermediate_ders, time, webpki::KeyUsage::server_auth(), None, None)
                    .map(|_| ())
            })
        }
        // A CA certificate is trusted when its chain ends in one of the anchors' keys.
        CertificateKind::Ca => {
            let top = root.or(intermediates.last()).unwrap_or(leaf);
            let anchored = anchors.iter().any(|anchor| anchor.subject.as_ref() == strip_sequence(&top.subject_raw) && top.self_signed)
                || root.is_some_and(|root| mozilla_roots().iter().chain(own.iter()).any(|known| known.sha256 == root.sha256));
            if anchored { Ok(()) } else { Err(webpki::Error::UnknownIssuer) }
        }
    };
    match result {
        Ok(()) => report.trusted = true,
        Err(error) => {
            let detail = match error {
                webpki::Error::UnknownIssuer => "the chain does not lead to a root in the Mozilla root set or to certkeeper's root".to_owned(),
                webpki::Error::CertExpired { .. } => "a certificate of the chain has expired".to_owned(),
                webpki::Error::CertNotValidYet { .. } => "a certificate of the chain is not valid yet".to_owned(),
                webpki::Error::UnsupportedSignatureAlgorithmContext(_) => {
                    "the chain uses a signature algorithm that browsers no longer accept (such as SHA-1)".to_owned()
                }
                other => format!("path validation failed ({other:?})"),
            };
            warn(report, "Untrusted", format!("the certificate is not publicly trusted: {detail}"));
        }
    }
}

/// Returns the contents of a DER SEQUENCE (a Name without its tag and length).
fn strip_sequence(encoded: &[u8]) -> &[u8] {
    super::der::read(encoded).map(|(element, _)| element.contents).unwrap_or(encoded)
}
