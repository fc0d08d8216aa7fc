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
            None => Cursor::start(),
        };
        let answer = self.page(&cursor, now).await.map_err(|err| {
            err.report();
            FeedError::Source(err.to_string())
        })?;
        let page = FeedPage { entries: answer.entries, cursor: answer.cursor.encode() };
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
}

impl LocalDenylist {
    pub fn new(feed: RevocationFeed, settings: FeedSettings) -> Self {
        Self { feed, settings, replica: SharedReplica::new() }
    }

    /// Whether the copy refuses this token, syncing it first when the interval has passed
    /// since the last attempt. `Err` when the copy is too old to vouch for anything.
    pub async fn revocation(&self, claims: &AccessTokenClaims) -> Result<Option<RevocationReason>, Stale> {
        if self.replica.read(|r| r.is_due(Instant::now(), self.settings.poll_interval)) {
            // A failure is logged by the sync (`feed.sync_failed`); the copy serves on
            // until the staleness bound. A sync that outlasts its budget (a new
            // instance's bootstrap of a long feed) stops between pages, keeping what it
            // read, and goes on at the next request after the interval.
            let sync = self.replica.sync(&self.feed, UnixTime::now().0);
            if tokio::time::timeout(INLINE_SYNC_BUDGET, sync).await.is_err() {
                tracing::warn!(event = "feed.sync_failed", error = "the inline sync ran out of time");
            }
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
