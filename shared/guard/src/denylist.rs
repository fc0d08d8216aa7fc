//! The in-memory denylist: the same verdicts as the server's `BatchGetItem` check
//! (docs/ARCHITECTURE.md §3, §4 "The denylist check"), from a replica of the feed.

use crate::feed::{EntryKind, FeedEntry};
use std::collections::HashMap;

/// What the denylist needs to know of a verified access token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenFacts<'a> {
    pub jti: &'a str,
    /// User tokens only (refresh family).
    pub fid: Option<&'a str>,
    /// User tokens only; its presence is what makes a token a user token.
    pub sid: Option<&'a str>,
    pub sub: &'a str,
    pub client_id: &'a str,
    pub iat: u64,
}

/// A `sub` or `client` entry: tokens issued before `before` are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Line {
    before: u64,
    expires_at: u64,
}

/// One map per kind, so that a check is at most five hash lookups by borrowed `&str`.
#[derive(Clone, Debug, Default)]
pub struct Denylist {
    jti: HashMap<String, u64>,
    fid: HashMap<String, u64>,
    sid: HashMap<String, u64>,
    sub: HashMap<String, Line>,
    client: HashMap<String, Line>,
}

impl Denylist {
    pub fn new() -> Self {
        Self::default()
    }

    /// Merge entries. Idempotent and order-independent (the feed may deliver an entry
    /// twice, or an older version after a newer one): every value only grows, as on the
    /// server, where a marker's line never moves back.
    ///
    /// A line entry without `before` (which [`crate::feed::FeedPage::validate`] refuses
    /// before anything reaches here) is taken as a line at the end of time: refusing too
    /// much is the safe side.
    pub fn apply(&mut self, entries: &[FeedEntry]) {
        for entry in entries {
            match entry.kind {
                EntryKind::Jti => raise(&mut self.jti, &entry.value, entry.expires_at),
                EntryKind::Fid => raise(&mut self.fid, &entry.value, entry.expires_at),
                EntryKind::Sid => raise(&mut self.sid, &entry.value, entry.expires_at),
                EntryKind::Sub => raise_line(&mut self.sub, entry),
                EntryKind::Client => raise_line(&mut self.client, entry),
            }
        }
    }

    /// Forget entries that cover nothing any more (`expires_at <= now`).
    pub fn prune(&mut self, now: u64) {
        self.jti.retain(|_, expires_at| *expires_at > now);
        self.fid.retain(|_, expires_at| *expires_at > now);
        self.sid.retain(|_, expires_at| *expires_at > now);
        self.sub.retain(|_, line| line.expires_at > now);
        self.client.retain(|_, line| line.expires_at > now);
    }

    pub fn len(&self) -> usize {
        self.jti.len() + self.fid.len() + self.sid.len() + self.sub.len() + self.client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first live entry (`expires_at > now`) that revokes the token, in
    /// [`EntryKind`] order, as the server reports it.
    pub fn check(&self, token: &TokenFacts<'_>, now: u64) -> Option<EntryKind> {
        let live = |expires_at: &u64| *expires_at > now;
        let crosses = |line: &Line| line.expires_at > now && token.iat < line.before;
        if self.jti.get(token.jti).is_some_and(live) {
            return Some(EntryKind::Jti);
        }
        if token.fid.and_then(|fid| self.fid.get(fid)).is_some_and(live) {
            return Some(EntryKind::Fid);
        }
        if token.sid.and_then(|sid| self.sid.get(sid)).is_some_and(live) {
            return Some(EntryKind::Sid);
        }
        // A subject's line covers user tokens only (§3.4): a client_credentials token's
        // `sub` is its client id, which the `client` line covers instead.
        if token.sid.is_some() && self.sub.get(token.sub).is_some_and(crosses) {
            return Some(EntryKind::Sub);
        }
        if self.client.get(token.client_id).is_some_and(crosses) {
            return Some(EntryKind::Client);
        }
        None
    }
}

fn raise(map: &mut HashMap<String, u64>, value: &str, expires_at: u64) {
    match map.get_mut(value) {
        Some(current) => *current = (*current).max(expires_at),
        None => {
            map.insert(value.to_owned(), expires_at);
        }
    }
}

fn raise_line(map: &mut HashMap<String, Line>, entry: &FeedEntry) {
    let line = Line { before: entry.before.unwrap_or(u64::MAX), expires_at: entry.expires_at };
    match map.get_mut(&entry.value) {
        Some(current) => {
            current.before = current.before.max(line.before);
            current.expires_at = current.expires_at.max(line.expires_at);
        }
        None => {
            map.insert(entry.value.clone(), line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn entry(kind: EntryKind, value: &str, before: Option<u64>, expires_at: u64) -> FeedEntry {
        FeedEntry { kind, value: value.into(), before, expires_at }
    }

    fn user_token() -> TokenFacts<'static> {
        TokenFacts { jti: "j1", fid: Some("f1"), sid: Some("s1"), sub: "u1", client_id: "app", iat: NOW - 60 }
    }

    fn service_token() -> TokenFacts<'static> {
        TokenFacts { jti: "j2", fid: None, sid: None, sub: "svc", client_id: "svc", iat: NOW - 60 }
    }

    fn denylist(entries: &[FeedEntry]) -> Denylist {
        let mut list = Denylist::new();
        list.apply(entries);
        list
    }

    #[test]
    fn an_empty_denylist_revokes_nothing() {
        assert_eq!(Denylist::new().check(&user_token(), NOW), None);
    }

    #[test]
    fn each_kind_revokes_the_tokens_it_names() {
        let cases = [
            (entry(EntryKind::Jti, "j1", None, NOW + 10), EntryKind::Jti),
            (entry(EntryKind::Fid, "f1", None, NOW + 10), EntryKind::Fid),
            (entry(EntryKind::Sid, "s1", None, NOW + 10), EntryKind::Sid),
            (entry(EntryKind::Sub, "u1", Some(NOW), NOW + 10), EntryKind::Sub),
            (entry(EntryKind::Client, "app", Some(NOW), NOW + 10), EntryKind::Client),
        ];
        for (given, expected) in cases {
            let list = denylist(std::slice::from_ref(&given));
            assert_eq!(list.check(&user_token(), NOW), Some(expected), "{given:?}");
            assert_eq!(expected.reason(), given.kind.reason());
        }
    }

    #[test]
    fn entries_for_other_values_revoke_nothing() {
        let list = denylist(&[
            entry(EntryKind::Jti, "j9", None, NOW + 10),
            entry(EntryKind::Fid, "f9", None, NOW + 10),
            entry(EntryKind::Sid, "s9", None, NOW + 10),
            entry(EntryKind::Sub, "u9", Some(NOW), NOW + 10),
            entry(EntryKind::Client, "other", Some(NOW), NOW + 10),
        ]);
        assert_eq!(list.check(&user_token(), NOW), None);
    }

    #[test]
    fn a_line_refuses_only_tokens_issued_strictly_before_it() {
        let token = user_token();
        for (before, expected) in [(token.iat + 1, Some(EntryKind::Sub)), (token.iat, None), (token.iat - 1, None)] {
            let list = denylist(&[entry(EntryKind::Sub, "u1", Some(before), NOW + 10)]);
            assert_eq!(list.check(&token, NOW), expected, "before = iat {:+}", before as i64 - token.iat as i64);
        }
        let list = denylist(&[entry(EntryKind::Client, "app", Some(token.iat), NOW + 10)]);
        assert_eq!(list.check(&token, NOW), None, "iat == before is not revoked");
    }

    #[test]
    fn a_subject_line_spares_tokens_without_a_session() {
        // GIVEN a revoke-all of `svc` (a client_credentials token's sub is its client id)
        let list = denylist(&[entry(EntryKind::Sub, "svc", Some(NOW), NOW + 10)]);
        // THEN its service tokens are not covered (§3.4: tokens without sid are not)
        assert_eq!(list.check(&service_token(), NOW), None);
    }

    #[test]
    fn a_client_line_covers_tokens_without_a_session() {
        let list = denylist(&[entry(EntryKind::Client, "svc", Some(NOW), NOW + 10)]);
        assert_eq!(list.check(&service_token(), NOW), Some(EntryKind::Client));
    }

    #[test]
    fn fid_and_sid_entries_need_the_claim() {
        let list =
            denylist(&[entry(EntryKind::Fid, "svc", None, NOW + 10), entry(EntryKind::Sid, "svc", None, NOW + 10)]);
        assert_eq!(list.check(&service_token(), NOW), None);
    }

    #[test]
    fn the_first_reason_in_order_is_reported() {
        let all = [
            entry(EntryKind::Client, "app", Some(NOW), NOW + 10),
            entry(EntryKind::Sub, "u1", Some(NOW), NOW + 10),
            entry(EntryKind::Sid, "s1", None, NOW + 10),
            entry(EntryKind::Fid, "f1", None, NOW + 10),
            entry(EntryKind::Jti, "j1", None, NOW + 10),
        ];
        for skip in 0..all.len() {
            let list = denylist(&all[..all.len() - skip]);
            assert_eq!(list.check(&user_token(), NOW), Some(EntryKind::ALL[skip]));
        }
    }

    #[test]
    fn an_expired_entry_revokes_nothing_even_before_pruning() {
        let list = denylist(&[
            entry(EntryKind::Jti, "j1", None, NOW),
            entry(EntryKind::Sub, "u1", Some(NOW), NOW - 1),
            entry(EntryKind::Client, "app", Some(NOW), NOW),
        ]);
        assert_eq!(list.len(), 3);
        assert_eq!(list.check(&user_token(), NOW), None);
        assert_eq!(list.check(&user_token(), NOW - 1), Some(EntryKind::Jti));
    }

    #[test]
    fn applying_twice_or_in_any_order_gives_the_same_list() {
        let older = entry(EntryKind::Sub, "u1", Some(NOW - 100), NOW + 10);
        let newer = entry(EntryKind::Sub, "u1", Some(NOW), NOW + 5);
        let jti = entry(EntryKind::Jti, "j1", None, NOW + 10);
        let mut forwards = denylist(&[older.clone(), newer.clone(), jti.clone(), jti.clone()]);
        let mut backwards = denylist(&[jti.clone(), newer.clone(), older.clone()]);
        backwards.apply(&[newer, older, jti]);
        assert_eq!(forwards.len(), 2);
        assert_eq!(backwards.len(), 2);
        // The line is the later `before` and lives until the later `expires_at`.
        let token = TokenFacts { jti: "other", iat: NOW - 50, ..user_token() };
        for list in [&mut forwards, &mut backwards] {
            assert_eq!(list.check(&token, NOW + 9), Some(EntryKind::Sub));
            list.prune(NOW + 10);
            assert!(list.is_empty());
        }
    }

    #[test]
    fn a_jti_entry_keeps_the_latest_expiry() {
        let list = denylist(&[entry(EntryKind::Jti, "j1", None, NOW + 50), entry(EntryKind::Jti, "j1", None, NOW + 5)]);
        assert_eq!(list.check(&user_token(), NOW + 20), Some(EntryKind::Jti));
    }

    #[test]
    fn prune_drops_exactly_the_expired_entries() {
        let mut list = denylist(&[
            entry(EntryKind::Jti, "j1", None, NOW),
            entry(EntryKind::Fid, "f1", None, NOW + 1),
            entry(EntryKind::Sid, "s1", None, NOW - 5),
            entry(EntryKind::Sub, "u1", Some(NOW), NOW + 1),
            entry(EntryKind::Client, "app", Some(NOW), NOW),
        ]);
        list.prune(NOW);
        assert_eq!(list.len(), 2);
        assert_eq!(list.check(&user_token(), NOW), Some(EntryKind::Fid));
    }
}
