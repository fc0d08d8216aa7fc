//! Brute-force throttling: the consecutive failed authentications of one username or
//! one client id, and the backoff they earn (its numbers are `policy`'s).

use crate::ids::ClientId;
use crate::policy;
use crate::time::UnixTime;

/// What failed attempts are counted against. A name nobody holds is counted exactly like
/// one somebody does, so that being throttled tells nothing about who exists.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Attempted {
    Username(String),
    Client(ClientId),
}

/// Consecutive failures, and when the last one was. A count lapses
/// `policy::FAILURE_MEMORY_SECONDS` after its last failure: failures further apart are
/// not consecutive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureCount {
    pub failures: u32,
    pub last_failed_at: UnixTime,
}

impl FailureCount {
    /// How many seconds until an attempt is checked again, if it is not at `now`. Times
    /// are whole seconds, so the window ends a second late rather than ever early.
    pub fn retry_after(&self, now: UnixTime) -> Option<u64> {
        let until = self.last_failed_at.plus(policy::backoff_after(self.failures)?).plus(1);
        (now < until).then(|| until.0 - now.0)
    }

    /// When the count lapses (its item's TTL).
    pub fn expires_at(&self) -> UnixTime {
        self.last_failed_at.plus(policy::FAILURE_MEMORY_SECONDS)
    }

    /// The count as it stands at `now`: nothing once it has lapsed.
    pub fn at(self, now: UnixTime) -> Self {
        if self.failures > 0 && self.expires_at().has_passed(now) { Self::default() } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn after(failures: u32) -> FailureCount {
        FailureCount { failures, last_failed_at: UnixTime(1_000) }
    }

    #[test]
    fn five_failures_are_free_then_the_window_doubles_up_to_fifteen_minutes() {
        for free in 0..policy::FREE_FAILURES {
            assert_eq!(after(free).retry_after(UnixTime(1_000)), None, "{free}");
        }
        // Asked within the second of the last failure: the window, and the rest of that second.
        let windows: Vec<Option<u64>> = (5..=16).map(|n| after(n).retry_after(UnixTime(1_000))).collect();
        let expected = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900].map(|w| Some(w + 1));
        assert_eq!(windows, expected);
        assert_eq!(after(u32::MAX).retry_after(UnixTime(1_000)), Some(901), "no overflow");
        assert_eq!(after(6).retry_after(UnixTime(1_002)), Some(1));
        assert_eq!(after(6).retry_after(UnixTime(1_003)), None, "the window is over");
    }

    #[test]
    fn a_count_lapses_once_its_longest_window_is_over() {
        assert_eq!(after(9).at(UnixTime(1_900)), after(9));
        assert_eq!(after(9).at(UnixTime(1_901)), FailureCount::default());
    }
}
