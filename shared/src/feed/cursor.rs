//! The feed's cursor: what a reader has been given, in a few bytes it carries itself.
//!
//! Everything stamped before `floor` was delivered; for the buckets at or after it, the
//! digest of each (shard, bucket) as delivered; and, between the pages of one poll, where
//! the next page resumes (`resume`). A bucket is delivered again, whole, when
//! its digest changed: an entry that shows up late (a writer whose clock is behind, an
//! index that lags) is never lost, at the price of a few repeated entries, which readers
//! apply idempotently. Opaque to readers: base64url of a versioned binary form.

use super::{BUCKET_MS, FEED_SHARDS};
use crate::time::UnixMillis;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeMap;

const VERSION: u8 = 1;
/// version, floor bucket, resume bucket (0: none), count.
const HEADER_BYTES: usize = 1 + 8 + 8 + 2;
/// shard, bucket after the floor, digest.
const BUCKET_BYTES: usize = 1 + 8 + 8;
/// The most buckets a cursor remembers (about 7 KB as text). The trailing window holds
/// at most `FEED_SHARDS` × window / `BUCKET_MS` = 160 of them; only writers' clocks far
/// ahead could make more.
pub const MAX_CURSOR_BUCKETS: usize = 320;
/// A floor this far ahead of the reader's clock is not one this feed handed out.
const MAX_FLOOR_AHEAD_MS: u64 = 24 * 3600 * 1000;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The first bucket not known to be delivered in full.
    pub(super) floor_bucket: u64,
    /// The page before this one stopped short (`FeedAnswer::truncated`): the next page
    /// reads on from this bucket, and the floor waits for the next poll.
    pub(super) resume: Option<u64>,
    /// (bucket, shard) → digest of what was delivered, for buckets ≥ `floor_bucket`.
    pub(super) delivered: BTreeMap<(u64, u8), u64>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a cursor this feed issued")]
pub struct CursorError;

impl Cursor {
    /// A cursor from the beginning of the log: nothing delivered yet.
    pub fn start() -> Self {
        Self::default()
    }

    /// A new reader's cursor (no `after`): nothing delivered yet, and nothing to read
    /// from before `LOOKBACK_MS`, since no entry stamped that long ago still covers a
    /// valid access token (`LogRecord::for_access_tokens`).
    pub fn new_reader(now: UnixMillis) -> Self {
        Self { floor_bucket: now.0.saturating_sub(super::LOOKBACK_MS) / BUCKET_MS, ..Self::default() }
    }

    /// The instant from which a read must look: the floor, or within a poll's pages
    /// where the previous page stopped.
    pub fn read_from(&self) -> UnixMillis {
        UnixMillis(self.resume.unwrap_or(self.floor_bucket).saturating_mul(BUCKET_MS))
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(HEADER_BYTES + BUCKET_BYTES * self.delivered.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.floor_bucket.to_be_bytes());
        bytes.extend_from_slice(&self.resume.unwrap_or(0).to_be_bytes());
        let count = u16::try_from(self.delivered.len()).unwrap_or(u16::MAX);
        bytes.extend_from_slice(&count.to_be_bytes());
        for (&(bucket, shard), digest) in self.delivered.iter().take(usize::from(count)) {
            // Buckets below the floor are never kept (`assemble`); any bucket above it
            // fits, however far ahead a writer's clock put it.
            let offset = bucket.saturating_sub(self.floor_bucket);
            bytes.push(shard);
            bytes.extend_from_slice(&offset.to_be_bytes());
            bytes.extend_from_slice(&digest.to_be_bytes());
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Read a cursor back; anything this feed could not have issued is refused.
    pub fn decode(text: &str, now: UnixMillis) -> Result<Self, CursorError> {
        let max_text = (HEADER_BYTES + BUCKET_BYTES * MAX_CURSOR_BUCKETS).div_ceil(3) * 4;
        if text.len() > max_text {
            return Err(CursorError);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| CursorError)?;
        let (header, rest) = bytes.split_at_checked(HEADER_BYTES).ok_or(CursorError)?;
        if header[0] != VERSION {
            return Err(CursorError);
        }
        let floor_bucket = u64::from_be_bytes(header[1..9].try_into().map_err(|_| CursorError)?);
        let resume = match u64::from_be_bytes(header[9..17].try_into().map_err(|_| CursorError)?) {
            0 => None,
            bucket if bucket > floor_bucket => Some(bucket),
            _ => return Err(CursorError),
        };
        let count = usize::from(u16::from_be_bytes(header[17..19].try_into().map_err(|_| CursorError)?));
        if count > MAX_CURSOR_BUCKETS || rest.len() != count * BUCKET_BYTES {
            return Err(CursorError);
        }
        if floor_bucket.saturating_mul(BUCKET_MS) > now.0.saturating_add(MAX_FLOOR_AHEAD_MS) {
            return Err(CursorError);
        }
        let mut delivered = BTreeMap::new();
        let mut previous = None;
        for chunk in rest.chunks_exact(BUCKET_BYTES) {
            let shard = chunk[0];
            let offset = u64::from_be_bytes(chunk[1..9].try_into().map_err(|_| CursorError)?);
            let digest = u64::from_be_bytes(chunk[9..17].try_into().map_err(|_| CursorError)?);
            let bucket = floor_bucket.checked_add(offset).ok_or(CursorError)?;
            // One canonical form: shards that exist, strictly ascending.
            if shard >= FEED_SHARDS || previous.is_some_and(|p| p >= (bucket, shard)) {
                return Err(CursorError);
            }
            previous = Some((bucket, shard));
            delivered.insert((bucket, shard), digest);
        }
        Ok(Self { floor_bucket, resume, delivered })
    }

    pub(super) fn digest(&self, bucket: u64, shard: u8) -> Option<u64> {
        self.delivered.get(&(bucket, shard)).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(1_800_000_000_000);

    fn sample() -> Cursor {
        let floor_bucket = NOW.0 / BUCKET_MS - 20;
        let delivered =
            BTreeMap::from([((floor_bucket, 3), 42), ((floor_bucket + 7, 0), u64::MAX), ((floor_bucket + 7, 7), 1)]);
        Cursor { floor_bucket, resume: Some(floor_bucket + 9), delivered }
    }

    #[test]
    fn a_cursor_reads_back_as_itself() {
        for cursor in [Cursor::start(), sample(), Cursor { resume: None, ..sample() }] {
            assert_eq!(Cursor::decode(&cursor.encode(), NOW), Ok(cursor));
        }
    }

    /// A writer whose clock is decades ahead stamps buckets far above the floor: the
    /// cursor still reads back as itself (found by the `feed_cursor` fuzz target).
    #[test]
    fn buckets_far_above_the_floor_read_back() {
        let floor_bucket = NOW.0 / BUCKET_MS;
        let far = [(5_532_066_424_870_149, 7), (6_957_529_900_404_242, 4), (8_950_380_897_857_057, 4)];
        let cursor = Cursor { floor_bucket, resume: None, delivered: far.into_iter().map(|k| (k, 1)).collect() };
        assert_eq!(Cursor::decode(&cursor.encode(), NOW), Ok(cursor));
    }

    #[test]
    fn anything_else_is_refused() {
        let good = sample().encode();
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).unwrap();
        let refused = |bytes: &[u8]| Cursor::decode(&URL_SAFE_NO_PAD.encode(bytes), NOW) == Err(CursorError);
        assert!(refused(&bytes[..bytes.len() - 1]), "truncated");
        assert!(refused(&[bytes.as_slice(), &[0]].concat()), "trailing byte");
        let mut other_version = bytes.clone();
        other_version[0] = 2;
        assert!(refused(&other_version));
        let mut bad_shard = bytes.clone();
        bad_shard[HEADER_BYTES] = FEED_SHARDS;
        assert!(refused(&bad_shard));
        // Out of order: swap the first two buckets.
        let (first, second) =
            (HEADER_BYTES..HEADER_BYTES + BUCKET_BYTES, HEADER_BYTES + BUCKET_BYTES..HEADER_BYTES + 2 * BUCKET_BYTES);
        let a = bytes[first.clone()].to_vec();
        let b = bytes[second.clone()].to_vec();
        bytes[first].copy_from_slice(&b);
        bytes[second].copy_from_slice(&a);
        assert!(refused(&bytes));
        let far_ahead = Cursor { floor_bucket: (NOW.0 + MAX_FLOOR_AHEAD_MS) / BUCKET_MS + 1, ..Cursor::default() };
        assert_eq!(Cursor::decode(&far_ahead.encode(), NOW), Err(CursorError));
        let resume_below_floor = Cursor { resume: Some(sample().floor_bucket), ..sample() };
        assert_eq!(Cursor::decode(&resume_below_floor.encode(), NOW), Err(CursorError));
        for text in ["", "not base64!", "AAAA", &"A".repeat(20_000)] {
            assert_eq!(Cursor::decode(text, NOW), Err(CursorError), "{text:.20}");
        }
    }
}
