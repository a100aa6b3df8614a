//! certkeeper's registration authority: it decides whether a certificate may be issued, records
//! the intent, has the CA sign, and stores the result with its operation-log row.

pub mod hosting;
mod issuance;
pub mod orders;
pub mod revocation;

pub use hosting::{HostingError, HostingService, UploadOutcome, UploadRequest};
pub use issuance::{IssuanceService, IssueError, IssueRequest, SignedLeaf, new_certificate_id};
pub use orders::{ApplyRequest, OrderError, OrderService, OrderSettings};
pub use revocation::{RevocationService, RevokeError, RevokeOutcome, RevokeRequest};
