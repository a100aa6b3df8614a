//! certkeeper's registration authority: it decides whether a certificate may be issued, records
//! the intent, asks the CA to sign, and stores the result with its operation-log row.

mod issuance;

pub use issuance::{IssuanceService, IssueError, IssueRequest, new_certificate_id};
