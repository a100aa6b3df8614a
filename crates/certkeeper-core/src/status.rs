//! Certificate status codes and the transitions allowed between them.
//!
//! The numeric codes are those of the Tencent Cloud `ssl` API (version 2019-12-05), so a status
//! read from the store can be sent to API clients unchanged.

use std::fmt;

/// Lifecycle state of a certificate record, with the Tencent API's numeric code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum CertificateStatus {
    /// Under review or waiting for domain validation; not yet issued.
    Reviewing = 0,
    /// Issued and usable.
    Issued = 1,
    /// Review or validation failed.
    ReviewFailed = 2,
    /// Past its notAfter.
    Expired = 3,
    /// The validation DNS record was written automatically.
    DnsRecordAdded = 4,
    /// OV/EV order waiting for the organisation data.
    AwaitingSubmission = 5,
    /// Order cancellation in progress.
    Cancelling = 6,
    /// Order cancelled.
    Cancelled = 7,
    /// Data submitted, waiting for a confirmation letter.
    AwaitingConfirmLetter = 8,
    /// Revocation requested and accepted; the certificate can no longer be downloaded.
    Revoking = 9,
    /// Revoked and published in CRLs and OCSP.
    Revoked = 10,
    /// A reissue with a new key is in progress.
    Reissuing = 11,
    /// Revocation waiting for a signed revocation letter.
    AwaitingRevokeLetter = 12,
    /// Free certificate waiting for data submission.
    FreeAwaitingSubmission = 13,
    /// Order refunded.
    Refunded = 14,
    /// Being migrated between accounts.
    Migrating = 15,
}

/// Every status, in code order.
pub const ALL_STATUSES: [CertificateStatus; 16] = {
    use CertificateStatus::*;
    [
        Reviewing,
        Issued,
        ReviewFailed,
        Expired,
        DnsRecordAdded,
        AwaitingSubmission,
        Cancelling,
        Cancelled,
        AwaitingConfirmLetter,
        Revoking,
        Revoked,
        Reissuing,
        AwaitingRevokeLetter,
        FreeAwaitingSubmission,
        Refunded,
        Migrating,
    ]
};

/// A status change that the lifecycle does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a certificate in status {from} ({}) cannot move to status {to} ({})", from.code(), to.code())]
pub struct TransitionError {
    pub from: CertificateStatus,
    pub to: CertificateStatus,
}

impl CertificateStatus {
    /// Returns the numeric code used by the API and the store.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Parses a numeric status code; `None` for codes outside 0 to 15.
    pub fn from_code(code: u64) -> Option<Self> {
        ALL_STATUSES.get(usize::try_from(code).ok()?).copied()
    }

    /// Returns the statuses this one may move to.
    ///
    /// The table follows the order, issuance, reissue and revocation flows: a revocation moves
    /// through `Revoking` (and `AwaitingRevokeLetter` for letter-based policies) and can end in
    /// `Revoked` or, when validation or review fails, back in `Issued`. An original stays in
    /// `Reissuing` while its reissue is validated, returns to `Issued` when the reissue is issued
    /// or fails, and can still be revoked or expire meanwhile. A paid order whose review is
    /// cancelled returns to `AwaitingSubmission` from `Reviewing`, `DnsRecordAdded` or
    /// `AwaitingConfirmLetter`. `Revoked`, `Expired` and
    /// `Refunded` are final.
    pub fn next_allowed(self) -> &'static [CertificateStatus] {
        use CertificateStatus::*;
        match self {
            Reviewing => &[Issued, ReviewFailed, DnsRecordAdded, AwaitingSubmission, Cancelling, Cancelled, AwaitingConfirmLetter],
            Issued => &[Expired, Revoking, Revoked, Reissuing, Migrating],
            ReviewFailed => &[Reviewing, Cancelled],
            Expired => &[],
            DnsRecordAdded => &[Reviewing, Issued, ReviewFailed, AwaitingSubmission, Cancelled],
            AwaitingSubmission => &[Reviewing, AwaitingConfirmLetter, Cancelling, Cancelled],
            Cancelling => &[Cancelled],
            Cancelled => &[Reviewing],
            AwaitingConfirmLetter => &[Reviewing, ReviewFailed, AwaitingSubmission, Cancelled],
            Revoking => &[Revoked, AwaitingRevokeLetter, Issued],
            Revoked => &[],
            Reissuing => &[Issued, Revoked, Expired],
            AwaitingRevokeLetter => &[Revoking, Revoked, Issued],
            FreeAwaitingSubmission => &[Reviewing, Cancelled],
            Refunded => &[],
            Migrating => &[Issued],
        }
    }

    /// Checks that moving from `self` to `next` is allowed.
    pub fn transition_to(self, next: CertificateStatus) -> Result<CertificateStatus, TransitionError> {
        if self.next_allowed().contains(&next) {
            Ok(next)
        } else {
            Err(TransitionError { from: self, to: next })
        }
    }

    /// Returns true when the certificate may be downloaded in this status.
    pub fn allows_download(self) -> bool {
        matches!(self, CertificateStatus::Issued | CertificateStatus::Expired)
    }

    /// Returns the English name used in logs and messages.
    pub fn name(self) -> &'static str {
        use CertificateStatus::*;
        match self {
            Reviewing => "reviewing",
            Issued => "issued",
            ReviewFailed => "review failed",
            Expired => "expired",
            DnsRecordAdded => "DNS record added",
            AwaitingSubmission => "awaiting submission",
            Cancelling => "cancelling",
            Cancelled => "cancelled",
            AwaitingConfirmLetter => "awaiting confirmation letter",
            Revoking => "revoking",
            Revoked => "revoked",
            Reissuing => "reissuing",
            AwaitingRevokeLetter => "awaiting revocation letter",
            FreeAwaitingSubmission => "free, awaiting submission",
            Refunded => "refunded",
            Migrating => "migrating",
        }
    }
}

impl fmt::Display for CertificateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::CertificateStatus::*;
    use super::*;

    /// The expected lifecycle, written independently of `next_allowed` as (from, to) pairs.
    const ALLOWED: &[(CertificateStatus, CertificateStatus)] = &[
        (Reviewing, Issued),
        (Reviewing, ReviewFailed),
        (Reviewing, DnsRecordAdded),
        (Reviewing, Cancelling),
        (Reviewing, Cancelled),
        (Reviewing, AwaitingConfirmLetter),
        (Reviewing, AwaitingSubmission),
        (Issued, Expired),
        (Issued, Revoking),
        (Issued, Revoked),
        (Issued, Reissuing),
        (Issued, Migrating),
        (ReviewFailed, Reviewing),
        (ReviewFailed, Cancelled),
        (DnsRecordAdded, Reviewing),
        (DnsRecordAdded, Issued),
        (DnsRecordAdded, ReviewFailed),
        (DnsRecordAdded, Cancelled),
        (DnsRecordAdded, AwaitingSubmission),
        (AwaitingSubmission, Reviewing),
        (AwaitingSubmission, Cancelling),
        (AwaitingSubmission, Cancelled),
        (AwaitingSubmission, AwaitingConfirmLetter),
        (Cancelling, Cancelled),
        (Cancelled, Reviewing),
        (AwaitingConfirmLetter, Reviewing),
        (AwaitingConfirmLetter, ReviewFailed),
        (AwaitingConfirmLetter, Cancelled),
        (AwaitingConfirmLetter, AwaitingSubmission),
        (Revoking, Revoked),
        (Revoking, AwaitingRevokeLetter),
        (Revoking, Issued),
        (Reissuing, Issued),
        (Reissuing, Revoked),
        (Reissuing, Expired),
        (AwaitingRevokeLetter, Revoking),
        (AwaitingRevokeLetter, Revoked),
        (AwaitingRevokeLetter, Issued),
        (FreeAwaitingSubmission, Reviewing),
        (FreeAwaitingSubmission, Cancelled),
        (Migrating, Issued),
    ];

    #[test]
    fn codes_round_trip() {
        for (index, status) in ALL_STATUSES.iter().enumerate() {
            assert_eq!(status.code() as usize, index);
            assert_eq!(CertificateStatus::from_code(index as u64), Some(*status));
        }
        assert_eq!(CertificateStatus::from_code(16), None);
        assert_eq!(CertificateStatus::from_code(u64::MAX), None);
    }

    #[test]
    fn each_allowed_transition_succeeds() {
        for &(from, to) in ALLOWED {
            assert_eq!(from.transition_to(to), Ok(to), "{from} -> {to} should be allowed");
        }
    }

    #[test]
    fn each_other_transition_is_rejected() {
        let mut rejected = 0;
        for from in ALL_STATUSES {
            for to in ALL_STATUSES {
                if ALLOWED.contains(&(from, to)) {
                    continue;
                }
                let result = from.transition_to(to);
                assert_eq!(result, Err(TransitionError { from, to }), "{from} -> {to} should be rejected");
                rejected += 1;
            }
        }
        assert_eq!(rejected, 16 * 16 - ALLOWED.len());
    }

    #[test]
    fn final_statuses_have_no_exit() {
        for status in [Revoked, Expired, Refunded] {
            assert!(status.next_allowed().is_empty(), "{status} should be final");
        }
    }

    #[test]
    fn transition_error_names_both_statuses() {
        let message = Revoked.transition_to(Issued).unwrap_err().to_string();
        assert_eq!(message, "a certificate in status revoked (10) cannot move to status issued (1)");
    }

    #[test]
    fn reissue_returns_original_to_issued() {
        assert_eq!(Issued.transition_to(Reissuing), Ok(Reissuing));
        assert_eq!(Reissuing.transition_to(Issued), Ok(Issued));
        assert_eq!(Reissuing.transition_to(Revoking), Err(TransitionError { from: Reissuing, to: Revoking }));
        assert_eq!(Reissuing.transition_to(Reissuing), Err(TransitionError { from: Reissuing, to: Reissuing }));
    }

    #[test]
    fn download_allowed_only_when_issued_or_expired() {
        for status in ALL_STATUSES {
            assert_eq!(status.allows_download(), matches!(status, Issued | Expired), "{status}");
        }
    }
}
