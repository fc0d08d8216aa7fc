//! Keeping a denylist replica in step with the feed. One loop serves every reader: the
//! resource-server [`crate::Guard`] (over HTTP) and the Lambda authorizer (over its store).

use crate::denylist::{Denylist, TokenFacts};
use crate::feed::{EntryKind, FeedError, FeedPage};
use std::future::Future;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;
use tokio::time::Instant;

/// At most this many pages per sync: a replica far behind catches up over several polls
/// instead of holding one sync open indefinitely (it stays stale, hence fails closed,
/// until it has caught up).
pub const MAX_PAGES_PER_SYNC: usize = 1000;

/// Where pages come from.
pub trait FeedSource: Send + Sync {
    /// The page after `after` (every live entry from the start when `None`).
    fn page(&self, after: Option<&str>) -> impl Future<Output = Result<SourcedPage, FeedError>> + Send;
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedPage {
    pub page: FeedPage,
    /// Whether to ask again at once. Over HTTP a reader only learns it is done from an
    /// empty page (`!entries.is_empty()`); a store-backed source may know better.
    pub may_have_more: bool,
}

impl SourcedPage {
    /// The HTTP contract: keep paging while the page says `more`, or holds entries.
    pub fn over_http(page: FeedPage) -> Self {
        let may_have_more = page.more || !page.entries.is_empty();
        Self { page, may_have_more }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub pages: usize,
    /// Entries received (duplicates included).
    pub entries: usize,
    /// False when [`MAX_PAGES_PER_SYNC`] stopped the sync early: the replica is behind
    /// and its freshness was not renewed.
    pub complete: bool,
    /// Live entries held after pruning.
    pub denylist_len: usize,
}

/// A denylist and how far into the feed it has read.
#[derive(Debug, Default)]
pub struct Replica {
    denylist: Denylist,
    cursor: Option<String>,
    /// When the last complete sync began: the replica holds every entry the feed had
    /// served by then.
    last_success: Option<Instant>,
    /// When the last sync began, successful or not: polling is paced by attempts, so a
    /// failing feed is retried once per interval, not on every request.
    last_attempt: Option<Instant>,
}

impl Replica {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn denylist(&self) -> &Denylist {
        &self.denylist
    }

    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }

    pub fn last_success(&self) -> Option<Instant> {
        self.last_success
    }

    /// Read the feed from the cursor until the source says there is no more: each page
    /// is applied as it arrives and moves the cursor, so a failure midway keeps what was
    /// read, and the next sync resumes after it. `last_success` moves only when the whole
    /// sync finished.
    pub async fn sync<S: FeedSource>(&mut self, source: &S, now_unix: u64) -> Result<SyncReport, FeedError> {
        run_sync(source, Exclusive(self), now_unix).await
    }

    /// Whether a sync should start now (never synced, or `poll_interval` since the last
    /// attempt).
    pub fn is_due(&self, now: Instant, poll_interval: Duration) -> bool {
        self.last_attempt.is_none_or(|at| now.saturating_duration_since(at) >= poll_interval)
    }

    /// Whether the replica may be trusted: a complete sync began within `max_staleness`.
    /// A replica that never synced is not fresh.
    pub fn is_fresh(&self, now: Instant, max_staleness: Duration) -> bool {
        self.last_success.is_some_and(|at| now.saturating_duration_since(at) <= max_staleness)
    }

    /// The denylist's verdict, provided the replica is fresh.
    pub fn check(
        &self,
        token: &TokenFacts<'_>,
        now_unix: u64,
        now: Instant,
        max_staleness: Duration,
    ) -> Result<Option<EntryKind>, Stale> {
        if !self.is_fresh(now, max_staleness) {
            return Err(Stale { since_last_success: self.last_success.map(|at| now.saturating_duration_since(at)) });
        }
        Ok(self.denylist.check(token, now_unix))
    }
}

/// The replica cannot vouch for a token: fail closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the revocation feed is stale")]
pub struct Stale {
    /// `None`: never synced.
    pub since_last_success: Option<Duration>,
}

/// A replica shared between concurrent checks and one syncing task. Checks take a read
/// lock for a few hash lookups; a sync takes the write lock only to apply a page it has
/// already received, never across the network.
#[derive(Debug, Default)]
pub struct SharedReplica {
    replica: RwLock<Replica>,
    /// One sync at a time, so that two (the poll task and `sync_now`) never move the
    /// cursor back past each other's pages.
    syncing: tokio::sync::Mutex<()>,
}

impl SharedReplica {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn sync<S: FeedSource>(&self, source: &S, now_unix: u64) -> Result<SyncReport, FeedError> {
        let _one_at_a_time = self.syncing.lock().await;
        run_sync(source, Locked(&self.replica), now_unix).await
    }

    /// Sync unless the last attempt is younger than `poll_interval` (see
    /// [`Replica::is_due`]), checked again under the sync lock: concurrent callers that
    /// all found the replica due cause one sync, not one each. `None`: nothing was due.
    pub async fn sync_if_due<S: FeedSource>(
        &self,
        source: &S,
        now_unix: u64,
        poll_interval: Duration,
    ) -> Option<Result<SyncReport, FeedError>> {
        let due = || self.read(|replica| replica.is_due(Instant::now(), poll_interval));
        if !due() {
            return None;
        }
        let _one_at_a_time = self.syncing.lock().await;
        if !due() {
            return None;
        }
        Some(run_sync(source, Locked(&self.replica), now_unix).await)
    }

    /// Read the replica. Poisoning is ignored: `apply` cannot leave a half-merged entry
    /// behind (and a re-delivered page is idempotent anyway).
    pub fn read<R>(&self, f: impl FnOnce(&Replica) -> R) -> R {
        f(&self.replica.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn check(
        &self,
        token: &TokenFacts<'_>,
        now_unix: u64,
        now: Instant,
        max_staleness: Duration,
    ) -> Result<Option<EntryKind>, Stale> {
        self.read(|replica| replica.check(token, now_unix, now, max_staleness))
    }
}

/// How the sync loop reaches the replica: directly, or through the lock for each step.
trait Access {
    fn with<R>(&mut self, f: impl FnOnce(&mut Replica) -> R) -> R;
}

struct Exclusive<'a>(&'a mut Replica);

impl Access for Exclusive<'_> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Replica) -> R) -> R {
        f(self.0)
    }
}

struct Locked<'a>(&'a RwLock<Replica>);

impl Access for Locked<'_> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Replica) -> R) -> R {
        f(&mut self.0.write().unwrap_or_else(PoisonError::into_inner))
    }
}

async fn run_sync<S: FeedSource, A: Access>(
    source: &S,
    mut replica: A,
    now_unix: u64,
) -> Result<SyncReport, FeedError> {
    let started = Instant::now();
    let mut cursor = replica.with(|r| {
        r.last_attempt = Some(started);
        r.cursor.clone()
    });
    let (mut pages, mut entries, mut complete) = (0, 0, false);
    while pages < MAX_PAGES_PER_SYNC {
        let sourced = match source.page(cursor.as_deref()).await.and_then(|s| s.page.validate().map(|()| s)) {
            Ok(sourced) => sourced,
            Err(error) => {
                tracing::warn!(event = "feed.sync_failed", error = %error, pages);
                if error == FeedError::CursorRefused {
                    // Entries apply idempotently, so reading everything again is safe;
                    // the replica stays stale until that bootstrap completes.
                    replica.with(|r| r.cursor = None);
                }
                return Err(error);
            }
        };
        pages += 1;
        entries += sourced.page.entries.len();
        let FeedPage { entries: page_entries, cursor: next, .. } = sourced.page;
        replica.with(|r| {
            r.denylist.apply(&page_entries);
            r.cursor = Some(next.clone());
        });
        cursor = Some(next);
        if !sourced.may_have_more {
            complete = true;
            break;
        }
    }
    let denylist_len = replica.with(|r| {
        r.denylist.prune(now_unix);
        if complete {
            r.last_success = Some(started);
        }
        r.denylist.len()
    });
    if complete {
        tracing::debug!(event = "feed.synced", entries, pages, denylist = denylist_len);
    } else {
        tracing::warn!(event = "feed.synced", entries, pages, denylist = denylist_len, complete, "page limit reached");
    }
    Ok(SyncReport { pages, entries, complete, denylist_len })
}

#[cfg(test)]
mod tests;
