//! The authorizer's feed mode (`REVOCATION_CHECK=feed`, docs/ARCHITECTURE.md §3.11): a
//! copy of the denylist in the warm instance, synced from the feed straight from the
//! store, so that a check reads nothing.
//!
//! Lambda freezes an instance between invocations, so nothing can poll in the
//! background: a request that finds the last sync attempt older than the interval syncs
//! first, inline. Hence at most one feed read (`FEED_SHARDS` queries) per instance per
//! interval, and none at all for the requests in between. A copy whose last complete sync
//! is older than the staleness bound refuses everything.

use super::{Cursor, RevocationFeed};
use crate::config::FeedSettings;
use crate::domain::RevocationReason;
use crate::time::{UnixMillis, UnixTime};
use crate::tokens::access::AccessTokenClaims;
use guard::denylist::TokenFacts;
use guard::feed::{EntryKind, FeedError, FeedPage};
use guard::sync::{FeedSource, SharedReplica, SourcedPage, Stale};
use tokio::time::Instant;

impl FeedSource for RevocationFeed {
    async fn page(&self, after: Option<&str>) -> Result<SourcedPage, FeedError> {
        let now = UnixMillis::now();
        let cursor = match after {
            // Only a cursor this code made: failing to read it is a bug, reported as one.
            Some(text) => Cursor::decode(text, now).map_err(|e| FeedError::Source(e.to_string()))?,
            None => Cursor::new_reader(now),
        };
        let answer = self.page(&cursor, now).await.map_err(|err| {
            err.report();
            FeedError::Source(err.to_string())
        })?;
        let page = FeedPage { entries: answer.entries, cursor: answer.cursor.encode(), more: answer.truncated };
        // The store knows whether more is waiting: no second read to learn it.
        Ok(SourcedPage { page, may_have_more: answer.truncated })
    }
}

/// How long a request may spend syncing: well inside the authorizer's 5 s timeout.
const INLINE_SYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// The denylist copy of one authorizer instance.
pub struct LocalDenylist {
    feed: RevocationFeed,
    settings: FeedSettings,
    replica: SharedReplica,
    /// The same bookkeeping by the wall clock: Lambda may stop the monotonic clock while
    /// it freezes an instance between invocations, and a copy must not look fresh after
    /// an hour's sleep. Due and stale by either clock is due and stale.
    wall: std::sync::Mutex<WallClock>,
    now: fn() -> UnixMillis,
}

#[derive(Default)]
struct WallClock {
    last_attempt: Option<UnixMillis>,
    /// When the last complete sync began.
    last_success: Option<UnixMillis>,
}

impl LocalDenylist {
    pub fn new(feed: RevocationFeed, settings: FeedSettings) -> Self {
        Self::with_wall_clock(feed, settings, UnixMillis::now)
    }

    fn with_wall_clock(feed: RevocationFeed, settings: FeedSettings, now: fn() -> UnixMillis) -> Self {
        Self { feed, settings, replica: SharedReplica::new(), wall: Default::default(), now }
    }

    fn wall(&self) -> std::sync::MutexGuard<'_, WallClock> {
        self.wall.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the copy refuses this token, syncing it first when the interval has passed
    /// since the last attempt. `Err` when the copy is too old to vouch for anything.
    pub async fn revocation(&self, claims: &AccessTokenClaims) -> Result<Option<RevocationReason>, Stale> {
        let interval = millis(self.settings.poll_interval);
        let started = (self.now)();
        let due_by_wall = self.wall().last_attempt.is_none_or(|at| started.0.saturating_sub(at.0) >= interval);
        if due_by_wall || self.replica.read(|r| r.is_due(Instant::now(), self.settings.poll_interval)) {
            self.wall().last_attempt = Some(started);
            // A failure is logged by the sync (`feed.sync_failed`); the copy serves on
            // until the staleness bound. A sync that outlasts its budget (a new
            // instance's bootstrap of a long feed) stops between pages, keeping what it
            // read, and goes on at the next request after the interval.
            let sync = self.replica.sync(&self.feed, UnixTime::now().0);
            match tokio::time::timeout(INLINE_SYNC_BUDGET, sync).await {
                Ok(Ok(report)) if report.complete => self.wall().last_success = Some(started),
                Ok(_) => {}
                Err(_) => tracing::warn!(event = "feed.sync_failed", error = "the inline sync ran out of time"),
            }
        }
        let now = (self.now)();
        let fresh_by_wall = self
            .wall()
            .last_success
            .is_some_and(|at| now.0.saturating_sub(at.0) <= millis(self.settings.max_staleness));
        if !fresh_by_wall {
            return Err(Stale { since_last_success: None });
        }
        let facts = TokenFacts {
            jti: claims.jti.as_str(),
            fid: claims.fid.as_ref().map(|fid| fid.as_str()),
            sid: claims.sid.as_ref().map(|sid| sid.as_str()),
            sub: claims.sub.as_str(),
            client_id: claims.client_id.as_str(),
            iat: claims.iat.0,
        };
        let verdict = self.replica.check(&facts, UnixTime::now().0, Instant::now(), self.settings.max_staleness)?;
        Ok(verdict.map(reason_of))
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The reason the strict check would give for the same marker.
fn reason_of(kind: EntryKind) -> RevocationReason {
    match kind {
        EntryKind::Jti => RevocationReason::TokenRevoked,
        EntryKind::Fid => RevocationReason::FamilyRevoked,
        EntryKind::Sid => RevocationReason::SessionRevoked,
        EntryKind::Sub => RevocationReason::SubjectRevoked,
        EntryKind::Client => RevocationReason::ClientRemoved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Marker;
    use crate::store::MarkerWrite;
    use crate::testing::{kit, memory::MemoryStore};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    /// A wall clock the test moves, while Tokio's (monotonic) clock stands still: a
    /// Lambda instance frozen between invocations.
    static WALL: AtomicU64 = AtomicU64::new(0);
    fn wall() -> UnixMillis {
        UnixMillis(WALL.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn a_frozen_monotonic_clock_neither_skips_a_sync_nor_keeps_a_copy_fresh() {
        WALL.store(UnixMillis::now().0, Ordering::SeqCst);
        let store = Arc::new(MemoryStore::new());
        let settings = FeedSettings { poll_interval: Duration::from_secs(1), max_staleness: Duration::from_secs(30) };
        let copy = LocalDenylist::with_wall_clock(RevocationFeed::new(store.clone()), settings, wall);
        let claims = kit::access_claims("app", UnixTime::now());
        assert_eq!(copy.revocation(&claims).await, Ok(None));

        // An hour frozen: the monotonic clock did not move, the wall clock did. The token
        // was revoked meanwhile; the next request syncs and refuses it.
        store.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at: claims.exp }).await.unwrap();
        WALL.fetch_add(3_600_000, Ordering::SeqCst);
        assert_eq!(copy.revocation(&claims).await, Ok(Some(RevocationReason::TokenRevoked)));
    }
}
