//! certkeeper's registration authority: it decides whether a certificate may be issued, records
//! the intent, has the CA sign, and stores the result with its operation-log row.

mod issuance;
pub mod letter;
pub mod orders;
pub mod revocation;

pub use issuance::{IssuanceService, IssueError, IssueRequest, SignedLeaf, new_certificate_id};
pub use orders::{ApplyRequest, OrderError, OrderService, OrderSettings};
pub use revocation::{RevocationEvents, RevocationService, RevokeError, RevokeOutcome, RevokeRequest};
