//! certkeeper's registration authority: it decides whether a certificate may be issued, records
//! the intent, has the CA sign, and stores the result with its operation-log row.

mod issuance;
pub mod orders;
mod reissue;
pub mod revocation;

pub use issuance::{IssuanceService, IssueError, IssueRequest, SignedLeaf, new_certificate_id};
pub use orders::{ApplyRequest, OrderError, OrderService, OrderSettings};
pub use reissue::{ReissueKey, ReissueRequest};
pub use revocation::{RevocationService, RevokeError, RevokeOutcome, RevokeRequest};
