//! The revocation feed (docs/ARCHITECTURE.md §3.11): every denylist marker, readable in
//! the order it was written, so that a resource server (the `guard` crate) or the
//! authorizer in feed mode keeps a copy of the denylist and checks tokens with no read
//! per request.
//!
//! The log is the markers themselves: each marker item carries index keys (`FEED#<shard>`
//! / `<stamp>#<pk>`) in the same item write, so no marker can miss the feed. A reader
//! polls with a cursor ([`Cursor`]); the cursor is built so that no entry is skipped even
//! though writers' clocks differ and the index shows a write a little late
//! ([`page`]).

mod cursor;
mod page;
mod replica;

pub use cursor::{Cursor, CursorError};
pub use guard::feed::{EntryKind, FeedEntry};
pub use page::FeedAnswer;
pub use replica::LocalDenylist;

use crate::domain::Marker;
use crate::oauth::client_auth::ClientDirectory;
use crate::oauth::{OAuthError, OAuthErrorCode, OAuthRequest};
use crate::store::{FeedLog, StoreResult};
use crate::time::UnixMillis;
use std::sync::Arc;

/// The log is spread over this many index partitions (by a hash of the marker's key), so
/// that a burst of revocations (a mass revoke-all) is not one hot partition; a poll
/// reads them all, concurrently.
pub const FEED_SHARDS: u8 = 8;
/// Entries are compared in buckets of this many milliseconds of their writer's clock
/// (what a cursor remembers is one digest per shard and bucket).
pub const BUCKET_MS: u64 = 250;
/// How far behind a reader's clock an entry may still appear: writers' clock skew plus
/// the index's propagation delay. A poll re-reads this trailing window, and the cursor
/// remembers what it delivered there (docs/ARCHITECTURE.md §3.11).
pub const TRAILING_WINDOW_MS: u64 = 5_000;
/// How far back a new reader's first page starts: no access token lives longer than
/// `MAX_TOKEN_LIFETIME`, and a line's `before` is at most an hour and a second after its
/// stamp (a client's removal waits out the client cache, at most an hour); two hours of
/// margin cover both, with the leeway and the window.
pub const LOOKBACK_MS: u64 = (crate::policy::MAX_TOKEN_LIFETIME + 2 * 3600) * 1000;

/// Records one read takes per shard before it stops at a bucket's end (about 100 KB); a
/// page holds at most about `FEED_SHARDS` times this many entries.
pub const SHARD_READ_LIMIT: usize = 1_000;
/// Reads one page may make when they find nothing new (see `RevocationFeed::page`).
const READS_PER_PAGE: usize = 4;

/// One record of the log, as a store reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The writer's clock when it wrote the marker.
    pub stamp: UnixMillis,
    /// The marker's key (`REVOKED#…`), unique within the log.
    pub key: String,
    pub entry: FeedEntry,
}

impl LogRecord {
    pub fn bucket(&self) -> u64 {
        self.stamp.0 / BUCKET_MS
    }

    /// The entry as the feed serves it: its `expires_at` no later than the end of the
    /// longest-lived access token it can refuse. A subject's line is kept a year for its
    /// refresh families, but the feed's readers check access tokens only, which all
    /// expire within `MAX_TOKEN_LIFETIME` of being issued: before the line (or the
    /// revocation, stamped here), plus the leeway and the writer's possible clock skew.
    pub fn for_access_tokens(&self) -> FeedEntry {
        let revoked = self.entry.before.unwrap_or(0).max(self.stamp.seconds().0);
        let margin = crate::policy::MAX_TOKEN_LIFETIME + crate::policy::LEEWAY_SECONDS + TRAILING_WINDOW_MS / 1000;
        FeedEntry { expires_at: self.entry.expires_at.min(revoked.saturating_add(margin)), ..self.entry.clone() }
    }

    /// What a cursor compares: any change to the record (a rewrite moves its stamp)
    /// changes its bucket's digest.
    fn digest(&self) -> u64 {
        let text = format!(
            "{}\n{}\n{}\n{}",
            self.stamp.0,
            self.key,
            self.entry.expires_at,
            self.entry.before.map(|b| b.to_string()).unwrap_or_default()
        );
        let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_ref()[..8]);
        u64::from_be_bytes(first)
    }
}

/// One shard's records from some instant on, in stamp order and in whole buckets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShardRead {
    pub records: Vec<LogRecord>,
    /// Later records were left unread (the read stopped at a bucket's end).
    pub more: bool,
}

/// Collects a shard's records in stamp order, stopping at the end of the bucket in which
/// the limit is reached: a page never holds part of a bucket (the cursor judges buckets
/// whole). Both stores read through it.
pub struct WholeBuckets {
    limit: usize,
    read: ShardRead,
}

impl WholeBuckets {
    pub fn new(limit: usize) -> Self {
        Self { limit: limit.max(1), read: ShardRead::default() }
    }

    /// Take the next record, or refuse it (and every later one): the limit is reached and
    /// it starts another bucket.
    pub fn offer(&mut self, record: LogRecord) -> bool {
        let full = self.read.records.len() >= self.limit;
        if full && self.read.records.last().is_some_and(|last| last.bucket() != record.bucket()) {
            self.read.more = true;
            return false;
        }
        self.read.records.push(record);
        true
    }

    pub fn finish(self) -> ShardRead {
        self.read
    }
}

/// The index partition of a marker.
pub fn shard_of(key: &str) -> u8 {
    // FNV-1a: stable across processes and versions, unlike the std hasher.
    let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    u8::try_from(hash % u32::from(FEED_SHARDS)).unwrap_or(0)
}

/// The feed entry of a marker: what a reader needs to refuse the tokens it covers.
pub fn entry_of(marker: &Marker) -> FeedEntry {
    let (kind, value, before, expires_at) = match marker {
        Marker::Token { jti, expires_at } => (EntryKind::Jti, jti.to_string(), None, expires_at),
        Marker::Family { fid, expires_at, .. } => (EntryKind::Fid, fid.to_string(), None, expires_at),
        Marker::Session { sid, expires_at, .. } => (EntryKind::Sid, sid.to_string(), None, expires_at),
        Marker::Subject { sub, not_before, expires_at } => {
            (EntryKind::Sub, sub.to_string(), Some(not_before.0), expires_at)
        }
        Marker::Client { client_id, not_before, expires_at } => {
            (EntryKind::Client, client_id.to_string(), Some(not_before.0), expires_at)
        }
    };
    FeedEntry { kind, value, before, expires_at: expires_at.0 }
}

/// Reads pages of the feed: one query per shard, concurrently.
#[derive(Clone)]
pub struct RevocationFeed {
    log: Arc<dyn FeedLog>,
}

impl RevocationFeed {
    pub fn new(log: Arc<dyn FeedLog>) -> Self {
        Self { log }
    }

    /// The entries after `cursor` (every live one for a new reader), and the cursor to
    /// pass next time.
    ///
    /// A page that found nothing new but stopped short (the trailing window holds more
    /// records than one read takes) reads on at once, up to `READS_PER_PAGE` times: a
    /// reader over HTTP stops at the first page without entries.
    pub async fn page(&self, cursor: &Cursor, now: UnixMillis) -> StoreResult<FeedAnswer> {
        let mut answer = self.read_once(cursor, now).await?;
        for _ in 1..READS_PER_PAGE {
            if !answer.entries.is_empty() || !answer.truncated {
                break;
            }
            answer = self.read_once(&answer.cursor, now).await?;
        }
        Ok(answer)
    }

    /// One read of every shard, concurrently.
    async fn read_once(&self, cursor: &Cursor, now: UnixMillis) -> StoreResult<FeedAnswer> {
        let from = cursor.read_from();
        let reads = (0..FEED_SHARDS).map(|shard| self.log.feed_shard(shard, from, SHARD_READ_LIMIT));
        let reads = futures::future::try_join_all(reads).await?;
        Ok(page::assemble(&reads, cursor, now))
    }
}

/// `GET` or `POST /oauth2/revocations`: the feed, for resource servers (clients
/// registered with `--introspect`, which may ask about any token anyway).
pub struct FeedReader {
    pub(crate) clients: Arc<ClientDirectory>,
    pub(crate) feed: RevocationFeed,
}

impl FeedReader {
    pub async fn read(&self, req: &OAuthRequest) -> Result<FeedAnswer, OAuthError> {
        let caller = self.clients.authenticate(req).await?;
        if !caller.may_introspect {
            tracing::warn!(event = "revocations.refused", client_id = %caller.id, reason = "not_a_resource_server");
            return Err(OAuthError::new(
                OAuthErrorCode::AccessDenied,
                "the revocation feed is for resource servers (clients registered with --introspect)",
            ));
        }
        let now = UnixMillis::now();
        let cursor = match req.param("after") {
            Some(text) => Cursor::decode(text, now)
                .map_err(|_| OAuthError::invalid_request("after is not a cursor this feed issued"))?,
            None => Cursor::new_reader(now),
        };
        Ok(self.feed.page(&cursor, now).await?)
    }
}
