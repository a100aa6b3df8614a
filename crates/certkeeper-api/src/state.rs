//! Shared state of the API router: stores, clock and limits.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::action::ActionHandler;
use crate::credentials::CredentialStore;

/// Source of the current time, injected so tests can move it.
pub trait Clock: Send + Sync + 'static {
    /// Returns the current Unix time in seconds.
    fn now_unix(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        let elapsed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
    }
}

impl<F> Clock for F
where
    F: Fn() -> i64 + Send + Sync + 'static,
{
    fn now_unix(&self) -> i64 {
        self()
    }
}

/// Limits of the API front end.
///
/// # Defaults
///
/// * `max_body_bytes`: 4 MiB ([`ApiConfig::default_max_body_bytes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest accepted request body in bytes. A larger body is rejected with
    /// `RequestSizeLimitExceeded`.
    pub max_body_bytes: usize,
}

impl ApiConfig {
    /// 4 MiB. The largest documented parameter is a 1.4 MB letter image, which base64 turns into
    /// about 1.9 MB of JSON, so this leaves room for the rest of the body.
    pub const fn default_max_body_bytes() -> usize {
        4 * 1024 * 1024
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: Self::default_max_body_bytes(),
        }
    }
}

/// State shared by all requests of one router.
#[derive(Clone)]
pub struct ApiState {
    pub(crate) credentials: Arc<dyn CredentialStore>,
    pub(crate) actions: Arc<dyn ActionHandler>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: ApiConfig,
}

impl ApiState {
    /// Creates state with the system clock and the default [`ApiConfig`].
    pub fn new(credentials: Arc<dyn CredentialStore>, actions: Arc<dyn ActionHandler>) -> Self {
        Self {
            credentials,
            actions,
            clock: Arc::new(SystemClock),
            config: ApiConfig::default(),
        }
    }

    /// Replaces the clock used for the timestamp window.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the limits.
    pub fn with_config(mut self, config: ApiConfig) -> Self {
        self.config = config;
        self
    }
}
