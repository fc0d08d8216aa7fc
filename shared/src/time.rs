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
