//! The centre of certkeeper: domain types, policy and the certificate state machine.
//!
//! Nothing in this crate performs I/O, spawns tasks or reads the clock. Callers pass the
//! current time in, so every rule here can be tested with fixed instants.

pub mod certificate;
pub mod expiry;
pub mod key;
pub mod name;
pub mod organization;
pub mod product;
pub mod serial;
pub mod status;

pub use certificate::{CertificateRecord, CertificateSource, ValidationMethod};
pub use expiry::{ExpiryThresholds, ThresholdError};
pub use key::KeyAlgorithm;
pub use organization::{EvSubject, OrganizationSubject, SubjectError};
pub use name::{DnsName, NameError, normalize_names};
pub use product::{Product, ProductCatalogue, ProductError, RevocationPolicy, ValidationLevel};
pub use serial::SerialNumber;
pub use status::{CertificateStatus, TransitionError};
