//! Test fixtures for certkeeper: a BIND9 name server and an nginx web server, each started as a
//! child process on free loopback ports inside a temporary directory.
//!
//! The fixtures panic with a clear message when `named`, `nsupdate`, `dig`, `nginx` or `openssl`
//! is missing; `scripts/install-test-tools.sh` installs them. Tests never skip.

mod bind9;
mod documents;
mod nginx;
mod pki;
mod process;
mod service;
mod tls_site;

pub use bind9::{Bind9, Bind9Builder, TSIG_ALGORITHM, TSIG_KEY_NAME};
pub use documents::pdf_document;
pub use nginx::{Nginx, NginxBuilder, check_certificate_files};
pub use pki::{TestKey, TestPki, openssl, try_openssl};
pub use process::free_port;
pub use service::{Response, Service};
pub use tls_site::{TlsSite, TlsSiteBuilder};
