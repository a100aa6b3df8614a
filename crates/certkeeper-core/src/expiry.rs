//! Expiry arithmetic and notice thresholds.
//!
//! Every value here is a UTC instant in Unix seconds. Days left are counted in whole periods
//! of 86,400 seconds, so neither the service's time zone nor a daylight-saving change moves a
//! notice.

use std::fmt;

/// Seconds in one day of the expiry arithmetic.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// Thresholds used when an account has set none, in days.
pub const DEFAULT_THRESHOLDS: [u32; 5] = [30, 15, 7, 3, 1];

/// Largest threshold accepted, in days: the longest validity certkeeper issues.
pub const MAX_THRESHOLD_DAYS: u32 = crate::product::MAX_VALIDITY_DAYS;

/// Most thresholds one account may set.
pub const MAX_THRESHOLDS: usize = 10;

/// Returns floor((`not_after` − `now`) / 86,400 s); negative once the certificate has expired.
pub fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(SECONDS_PER_DAY)
}

/// The notice thresholds of an account, in days, distinct and in descending order.
///
/// A threshold `t` is due for a certificate once fewer than `t` whole days are left and the
/// certificate has not expired: `0 <= days_left < t`. With thresholds 30 and 7, a certificate
/// that expires in 6 days and 23 hours is due for both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryThresholds(Vec<u32>);

/// Error from a threshold list.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThresholdError {
    #[error("{value:?} is not a whole number of days; give numbers such as 30,15,7,3,1")]
    NotANumber { value: String },
    #[error("{days} days is out of range; give 1 to {MAX_THRESHOLD_DAYS} days")]
    OutOfRange { days: u32 },
    #[error("{count} thresholds given; at most {MAX_THRESHOLDS} are allowed")]
    TooMany { count: usize },
    #[error("no threshold given; give at least one, such as 30")]
    Empty,
}

impl ExpiryThresholds {
    /// Builds the list from days in any order; duplicates are merged.
    pub fn new(days: &[u32]) -> Result<Self, ThresholdError> {
        if days.is_empty() {
            return Err(ThresholdError::Empty);
        }
        if days.len() > MAX_THRESHOLDS {
            return Err(ThresholdError::TooMany { count: days.len() });
        }
        if let Some(&days) = days.iter().find(|&&d| d == 0 || d > MAX_THRESHOLD_DAYS) {
            return Err(ThresholdError::OutOfRange { days });
        }
        let mut sorted = days.to_vec();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.dedup();
        Ok(ExpiryThresholds(sorted))
    }

    /// Parses a list separated by commas, such as `30,15,7,3,1`.
    pub fn parse(text: &str) -> Result<Self, ThresholdError> {
        let mut days = Vec::new();
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            let value = part.parse::<u32>().map_err(|_| ThresholdError::NotANumber { value: part.to_owned() })?;
            days.push(value);
        }
        ExpiryThresholds::new(&days)
    }

    /// Returns the thresholds in descending order.
    pub fn days(&self) -> &[u32] {
        &self.0
    }

    /// Returns the largest threshold.
    pub fn max(&self) -> u32 {
        self.0.first().copied().unwrap_or(0)
    }

    /// Returns the thresholds due at `now` for a certificate expiring at `not_after`, largest
    /// first. None is due once the certificate has expired.
    pub fn due(&self, not_after: i64, now: i64) -> impl Iterator<Item = u32> + '_ {
        let left = days_left(not_after, now);
        let live = not_after > now;
        self.0.iter().copied().filter(move |&threshold| live && left < i64::from(threshold))
    }
}

impl Default for ExpiryThresholds {
    fn default() -> Self {
        ExpiryThresholds(DEFAULT_THRESHOLDS.to_vec())
    }
}

/// Formats as the comma-separated list that [`ExpiryThresholds::parse`] reads.
impl fmt::Display for ExpiryThresholds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2031-03-30T01:30:00Z
    const NOT_AFTER: i64 = 1_932_600_600;

    #[test]
    fn days_left_floors_on_utc_seconds() {
        assert_eq!(days_left(NOT_AFTER, NOT_AFTER - 7 * SECONDS_PER_DAY - 60), 7);
        assert_eq!(days_left(NOT_AFTER, NOT_AFTER - 7 * SECONDS_PER_DAY + 60), 6);
        assert_eq!(days_left(NOT_AFTER, NOT_AFTER - 1), 0);
        assert_eq!(days_left(NOT_AFTER, NOT_AFTER + 1), -1);
    }

    #[test]
    fn due_thresholds_need_fewer_days_left() {
        let thresholds = ExpiryThresholds::new(&[30, 7, 1]).unwrap();
        let at = |now| thresholds.due(NOT_AFTER, now).collect::<Vec<_>>();
        assert_eq!(at(NOT_AFTER - 7 * SECONDS_PER_DAY - 60), [30]);
        assert_eq!(at(NOT_AFTER - 7 * SECONDS_PER_DAY), [30]);
        assert_eq!(at(NOT_AFTER - 7 * SECONDS_PER_DAY + 60), [30, 7]);
        assert_eq!(at(NOT_AFTER - 60), [30, 7, 1]);
        assert!(at(NOT_AFTER).is_empty());
    }

    #[test]
    fn parse_sorts_and_merges() {
        let thresholds = ExpiryThresholds::parse("7, 30,7,1").unwrap();
        assert_eq!(thresholds.days(), [30, 7, 1]);
        assert_eq!(thresholds.to_string(), "30,7,1");
        assert_eq!(thresholds.max(), 30);
    }

    #[test]
    fn parse_rejects_bad_lists() {
        assert_eq!(ExpiryThresholds::parse(""), Err(ThresholdError::Empty));
        assert_eq!(ExpiryThresholds::parse("0"), Err(ThresholdError::OutOfRange { days: 0 }));
        assert_eq!(ExpiryThresholds::parse("399"), Err(ThresholdError::OutOfRange { days: 399 }));
        assert_eq!(ExpiryThresholds::parse("7,x"), Err(ThresholdError::NotANumber { value: "x".to_owned() }));
        assert_eq!(ExpiryThresholds::parse("1,2,3,4,5,6,7,8,9,10,11"), Err(ThresholdError::TooMany { count: 11 }));
    }
}
