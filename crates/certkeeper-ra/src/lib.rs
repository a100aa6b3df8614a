//! certkeeper's registration authority: it decides whether a certificate may be issued, records
//! the intent, has the CA sign, and stores the result with its operation-log row.

pub mod hosting;
mod issuance;
pub mod letter;
pub mod orders;
pub mod paid;
mod reissue;
mod renewal;
pub mod revocation;

pub use hosting::{HostingError, HostingService, UploadOutcome, UploadRequest};
pub use issuance::{IssuanceService, IssueError, IssueRequest, SignedLeaf, new_certificate_id};
pub use orders::{ApplyRequest, OrderError, OrderOptions, OrderService, OrderSettings};
pub use paid::{CompanyChoice, OrderInformation, PaidError, PaidKey};
pub use renewal::{AutoRenewSettings, AutoRenewal};
pub use reissue::{ReissueKey, ReissueRequest};
pub use revocation::{RevocationEvents, RevocationService, RevokeError, RevokeOutcome, RevokeRequest};
