//! Seconds since the Unix epoch: the unit of every JWT claim and every `expires_at`.

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UnixTime(pub u64);

impl UnixTime {
    pub fn now() -> Self {
        // A clock before 1970 is a broken host; treating it as the epoch makes every
        // token look expired, which fails closed.
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        UnixTime(secs)
    }

    pub fn plus(self, seconds: u64) -> Self {
        UnixTime(self.0.saturating_add(seconds))
    }

    /// An item whose `expires_at` is at or before `now` is absent (docs/ARCHITECTURE.md §3.8).
    pub fn has_passed(self, now: UnixTime) -> bool {
        self <= now
    }
}

/// Milliseconds since the Unix epoch, by this host's clock: the order of the revocation
/// feed (docs/ARCHITECTURE.md §3.11). Hosts' clocks differ, so it orders entries only
/// roughly, and the feed's reader allows for that.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    pub fn now() -> Self {
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        UnixMillis(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    /// This instant moved by `offset_ms` (a writer's clock skew, in tests), saturating.
    pub fn shifted(self, offset_ms: i64) -> Self {
        UnixMillis(self.0.saturating_add_signed(offset_ms))
    }

    pub fn seconds(self) -> UnixTime {
        UnixTime(self.0 / 1000)
    }
}
