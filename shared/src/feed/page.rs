//! One page of the feed, from what each shard's read returned (docs/ARCHITECTURE.md
//! §3.11).
//!
//! Why nothing is skipped: an entry stamped `s` is visible to every read made at
//! `s + TRAILING_WINDOW_MS` or later by the reader's clock (the window covers writers'
//! clock skew and the index's delay). A page moves the floor no further than `now -
//! TRAILING_WINDOW_MS`, so everything below the new floor was visible to this read, and
//! was delivered by it or before it. At or above the floor, each (shard, bucket) whose
//! digest differs from the cursor's is delivered whole. A shard whose read stopped early
//! (`ShardRead::more`) sets a horizon: nothing at or after it is delivered or moves the
//! floor, so the next page starts there.

use super::cursor::MAX_CURSOR_BUCKETS;
use super::{BUCKET_MS, Cursor, FeedEntry, LogRecord, ShardRead, TRAILING_WINDOW_MS};
use crate::time::UnixMillis;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedAnswer {
    /// Live entries only: an entry past its `expires_at` covers no valid token.
    pub entries: Vec<FeedEntry>,
    pub cursor: Cursor,
    /// More may wait: ask again with `cursor` at once (over HTTP, `"more": true`).
    pub truncated: bool,
}

/// The records of one shard's bucket.
struct Group<'a> {
    digest: u64,
    records: Vec<&'a LogRecord>,
}

pub(super) fn assemble(reads: &[ShardRead], cursor: &Cursor, now: UnixMillis) -> FeedAnswer {
    let read_from = cursor.resume.unwrap_or(cursor.floor_bucket);
    let mut horizon = reads
        .iter()
        .filter(|read| read.more)
        .filter_map(|read| read.records.last().map(|last| last.bucket() + 1))
        .min();

    let mut groups: BTreeMap<(u64, u8), Group<'_>> = BTreeMap::new();
    for (shard, read) in reads.iter().enumerate() {
        let shard = u8::try_from(shard).unwrap_or(u8::MAX);
        for record in &read.records {
            let group = groups.entry((record.bucket(), shard)).or_insert(Group { digest: 0, records: Vec::new() });
            group.digest = group.digest.wrapping_add(record.digest());
            group.records.push(record);
        }
    }

    // A cursor remembers at most MAX_CURSOR_BUCKETS buckets: with more read (only
    // writers' clocks far ahead make that), the page ends before the bucket that would
    // overflow it. The first bucket read holds at most one group per shard, so the page
    // still moves on.
    let mut counted = 0;
    for &(bucket, _) in groups.keys() {
        if horizon.is_some_and(|h| bucket >= h) {
            break;
        }
        counted += 1;
        if counted > MAX_CURSOR_BUCKETS {
            horizon = Some(bucket);
            break;
        }
    }
    let before_horizon = |bucket: u64| horizon.is_none_or(|h| bucket < h);

    // Only a page that read from the floor may move it: everything it read below the new
    // floor was visible to it (the window), and delivered now or before.
    let floor = match cursor.resume {
        Some(_) => cursor.floor_bucket,
        None => {
            let window_floor = now.0.saturating_sub(TRAILING_WINDOW_MS) / BUCKET_MS;
            cursor.floor_bucket.max(window_floor.min(horizon.unwrap_or(u64::MAX)))
        }
    };

    let now_seconds = now.seconds().0;
    let mut entries = Vec::new();
    let mut delivered = BTreeMap::new();
    for (&(bucket, shard), group) in groups.iter().filter(|((bucket, _), _)| before_horizon(*bucket)) {
        if cursor.digest(bucket, shard) != Some(group.digest) {
            let served = group.records.iter().map(|r| r.for_access_tokens());
            entries.extend(served.filter(|entry| entry.expires_at > now_seconds));
        }
        if bucket >= floor {
            delivered.insert((bucket, shard), group.digest);
        }
    }
    // What the cursor knew of buckets this page did not read (below where it started, or
    // past its horizon) stays known, as far as the cursor has room.
    for (&(bucket, shard), &digest) in &cursor.delivered {
        let unread = bucket < read_from || !before_horizon(bucket);
        if bucket >= floor && unread && delivered.len() < MAX_CURSOR_BUCKETS {
            delivered.insert((bucket, shard), digest);
        }
    }
    let resume = horizon.filter(|&h| h > floor);
    FeedAnswer { entries, cursor: Cursor { floor_bucket: floor, resume, delivered }, truncated: horizon.is_some() }
}

#[cfg(test)]
mod tests {
    use super::super::{EntryKind, FEED_SHARDS, WholeBuckets, shard_of};
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    const T0: u64 = 1_800_000_000_000;

    fn record(stamp: u64, n: usize) -> LogRecord {
        let value = format!("jti-{n}");
        LogRecord {
            stamp: UnixMillis(stamp),
            key: format!("REVOKED#JTI#{value}"),
            entry: FeedEntry { kind: EntryKind::Jti, value, before: None, expires_at: (T0 / 1000) + 3600 },
        }
    }

    /// A log as a store holds it: what is visible at a reader's instant, per shard, in
    /// stamp order, read from `from` with the stores' own cut.
    fn read(visible: &[LogRecord], from: UnixMillis, limit: usize) -> Vec<ShardRead> {
        (0..FEED_SHARDS)
            .map(|shard| {
                let mut mine: Vec<&LogRecord> =
                    visible.iter().filter(|r| shard_of(&r.key) == shard && r.stamp >= from).collect();
                mine.sort_by(|a, b| (a.stamp, &a.key).cmp(&(b.stamp, &b.key)));
                let mut cut = WholeBuckets::new(limit);
                for r in mine {
                    if !cut.offer(r.clone()) {
                        break;
                    }
                }
                cut.finish()
            })
            .collect()
    }

    /// Poll like a reader: page until a page is not truncated.
    fn poll(visible: &[LogRecord], cursor: &mut Cursor, now: u64, limit: usize, seen: &mut BTreeSet<String>) -> usize {
        let mut pages = 0;
        loop {
            pages += 1;
            let answer = assemble(&read(visible, cursor.read_from(), limit), cursor, UnixMillis(now));
            seen.extend(answer.entries.iter().map(|e| e.value.clone()));
            *cursor = answer.cursor;
            if !answer.truncated || pages > 10_000 {
                return pages;
            }
        }
    }

    #[test]
    fn a_new_reader_gets_everything_live_in_pages_and_then_nothing() {
        let log: Vec<LogRecord> = (0..2_000).map(|n| record(T0 - 3_600_000 + n as u64 * 1000, n)).collect();
        let mut cursor = Cursor::start();
        let mut seen = BTreeSet::new();
        let pages = poll(&log, &mut cursor, T0, 100, &mut seen);
        assert_eq!(seen.len(), 2_000);
        assert!(pages > 2, "paged ({pages})");
        let again = assemble(&read(&log, cursor.read_from(), 100), &cursor, UnixMillis(T0));
        assert!(again.entries.is_empty() && !again.truncated);
    }

    #[test]
    fn expired_entries_are_not_served() {
        let mut old = record(T0 - 10_000, 1);
        old.entry.expires_at = T0 / 1000;
        let answer =
            assemble(&read(&[old, record(T0 - 10_000, 2)], UnixMillis(0), 100), &Cursor::start(), UnixMillis(T0));
        let values: Vec<_> = answer.entries.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(values, ["jti-2"]);
    }

    #[test]
    fn an_entry_stamped_behind_the_cursor_is_delivered_when_it_shows_up() {
        let mut log = vec![record(T0 - 100, 1)];
        let mut cursor = Cursor::start();
        let mut seen = BTreeSet::new();
        poll(&log, &mut cursor, T0, 100, &mut seen);
        // A writer whose clock is 4 s behind writes now; the reader has moved on.
        log.push(record(T0 + 1_000 - 4_000, 2));
        poll(&log, &mut cursor, T0 + 1_000, 100, &mut seen);
        assert!(seen.contains("jti-2"));
        // Delivered once: the next poll is empty.
        let again = assemble(&read(&log, cursor.read_from(), 100), &cursor, UnixMillis(T0 + 2_000));
        assert!(again.entries.is_empty());
    }

    #[test]
    fn a_cursor_stays_small_while_caught_up() {
        // 100 revocations a second for a minute, polled every second.
        let mut log = Vec::new();
        let mut cursor = Cursor::start();
        let mut seen = BTreeSet::new();
        for second in 0..60u64 {
            for k in 0..100 {
                log.push(record(T0 + second * 1000 + k * 10, (second * 100 + k) as usize));
            }
            poll(&log, &mut cursor, T0 + second * 1000 + 1000, SHARD_LIMIT, &mut seen);
            assert!(cursor.delivered.len() <= usize::from(FEED_SHARDS) * 24, "{}", cursor.delivered.len());
        }
        assert_eq!(seen.len(), 6_000);
    }

    const SHARD_LIMIT: usize = super::super::SHARD_READ_LIMIT;

    /// A subject's line is kept a year (for refresh families), but served only until the
    /// last access token it could refuse has expired; a new reader starts a day back.
    #[test]
    fn the_feed_serves_lines_for_access_tokens_and_a_new_reader_starts_a_day_back() {
        let day_ms = crate::policy::MAX_TOKEN_LIFETIME * 1000;
        let line = |stamp: u64, n: usize| {
            let before = stamp / 1000 + 1;
            let mut r = record(stamp, n);
            r.entry = FeedEntry {
                kind: EntryKind::Sub,
                value: format!("user-{n}"),
                before: Some(before),
                expires_at: before + 365 * 86_400,
            };
            r
        };
        let log = [line(T0 - day_ms - 3_600_000, 1), line(T0 - 3_600_000, 2), line(T0 - 3 * day_ms, 3)];
        let from_start = assemble(&read(&log, UnixMillis(0), 100), &Cursor::start(), UnixMillis(T0));
        let values: Vec<_> = from_start.entries.iter().map(|e| e.value.as_str()).collect();
        assert_eq!(values, ["user-2"], "older lines cover no live access token");
        assert_eq!(from_start.entries[0].expires_at, (T0 - 3_600_000) / 1000 + 1 + 86_400 + 30 + 5);

        let reader = Cursor::new_reader(UnixMillis(T0));
        assert!(
            reader.read_from() > UnixMillis(T0 - 3 * day_ms)
                && reader.read_from() < UnixMillis(T0 - day_ms - 3_600_000)
        );
    }

    /// More records in the trailing window than one read takes: each poll pages through
    /// them and ends; the floor stays below the window, yet nothing is delivered twice
    /// and a new entry at the end still arrives.
    #[test]
    fn a_window_fuller_than_one_read_is_paged_through_on_every_poll() {
        let mut log: Vec<LogRecord> = (0..400).map(|n| record(T0 - 2_000 + n as u64 * 5, n)).collect();
        let mut cursor = Cursor::start();
        let mut seen = BTreeSet::new();
        let pages = poll(&log, &mut cursor, T0, 10, &mut seen);
        assert_eq!(seen.len(), 400);
        assert!(pages > 1, "paged ({pages})");
        log.push(record(T0 + 100, 1_000));
        let mut again = BTreeSet::new();
        poll(&log, &mut cursor, T0 + 200, 10, &mut again);
        assert_eq!(again.into_iter().collect::<Vec<_>>(), ["jti-1000"], "only the new entry");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Writers with clocks up to the window behind or ahead, an index that shows each
        /// write up to a second late, and a reader polling at random moments: every entry
        /// is delivered, and a poll that follows the last write by the window delivers
        /// nothing new.
        #[test]
        fn no_entry_is_skipped_with_skewed_writers_and_a_lagging_index(
            writes in prop::collection::vec((0u64..20_000, -4_000i64..=4_000, 0u64..=1_000), 1..150),
            polls in prop::collection::vec(0u64..25_000, 1..20),
            limit in 4usize..40,
        ) {
            // (real write time, writer's skew, index delay) → stamp, visible from.
            let log: Vec<(LogRecord, u64)> = writes.iter().enumerate().map(|(n, &(at, skew, lag))| {
                (record((T0 + at).saturating_add_signed(skew), n), T0 + at + lag)
            }).collect();
            let mut times: Vec<u64> = polls.iter().map(|p| T0 + p).collect();
            times.sort_unstable();
            times.push(T0 + 20_000 + 1_000 + TRAILING_WINDOW_MS);
            let mut cursor = Cursor::start();
            let mut seen = BTreeSet::new();
            for now in times {
                let visible: Vec<LogRecord> = log.iter().filter(|(_, from)| *from <= now).map(|(r, _)| r.clone()).collect();
                let pages = poll(&visible, &mut cursor, now, limit, &mut seen);
                prop_assert!(pages <= 10_000);
            }
            prop_assert_eq!(seen.len(), log.len());
        }
    }
}
