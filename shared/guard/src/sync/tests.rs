use super::*;
use crate::feed::FeedEntry;
use std::sync::Mutex;

const NOW: u64 = 1_000_000;

/// The feed as the token service serves it: a log of raw JSON entries, `page_size` per
/// page, the cursor the index of the next entry. Pages go through the wire parser, so an
/// unknown kind fails here exactly as over HTTP.
#[derive(Default)]
struct FakeFeed {
    state: Mutex<FakeState>,
}

#[derive(Default)]
struct FakeState {
    log: Vec<String>,
    page_size: usize,
    down: bool,
    asked: Vec<Option<String>>,
}

impl FakeFeed {
    fn new(page_size: usize) -> Self {
        Self { state: Mutex::new(FakeState { page_size, ..FakeState::default() }) }
    }

    fn push(&self, entry: &FeedEntry) {
        self.push_raw(serde_json::to_string(entry).unwrap());
    }

    fn push_raw(&self, json: String) {
        self.state.lock().unwrap().log.push(json);
    }

    fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    fn asked(&self) -> Vec<Option<String>> {
        std::mem::take(&mut self.state.lock().unwrap().asked)
    }
}

impl FeedSource for FakeFeed {
    async fn page(&self, after: Option<&str>) -> Result<SourcedPage, FeedError> {
        let body = {
            let mut state = self.state.lock().unwrap();
            state.asked.push(after.map(str::to_owned));
            if state.down {
                return Err(FeedError::Status(503));
            }
            let from: usize = after.map(|c| c.parse().unwrap()).unwrap_or(0);
            let to = (from + state.page_size).min(state.log.len());
            format!(r#"{{"entries":[{}],"cursor":"{to}"}}"#, state.log[from..to].join(","))
        };
        Ok(SourcedPage::over_http(FeedPage::from_json(body.as_bytes())?))
    }
}

fn entry(kind: EntryKind, value: &str, expires_at: u64) -> FeedEntry {
    let before = kind.is_line().then_some(NOW);
    FeedEntry { kind, value: value.into(), before, expires_at }
}

fn token(jti: &str) -> TokenFacts<'_> {
    TokenFacts { jti, fid: None, sid: None, sub: "svc", client_id: "svc", iat: NOW - 10 }
}

#[tokio::test]
async fn a_sync_pages_until_an_empty_page_passing_each_cursor_back() {
    // GIVEN five entries served two per page
    let feed = FakeFeed::new(2);
    for i in 0..5 {
        feed.push(&entry(EntryKind::Jti, &format!("j{i}"), NOW + 60));
    }
    let mut replica = Replica::new();
    // WHEN the replica syncs
    let report = replica.sync(&feed, NOW).await.unwrap();
    // THEN it asked from the start, then after each cursor, until the empty page
    assert_eq!(feed.asked(), [None, Some("2".into()), Some("4".into()), Some("5".into())]);
    assert_eq!(report, SyncReport { pages: 4, entries: 5, complete: true, denylist_len: 5 });
    assert_eq!(replica.cursor(), Some("5"));
    assert_eq!(replica.denylist().check(&token("j4"), NOW), Some(EntryKind::Jti));

    // AND the next sync starts from the cursor and picks up only what is new
    feed.push(&entry(EntryKind::Jti, "j5", NOW + 60));
    replica.sync(&feed, NOW).await.unwrap();
    assert_eq!(feed.asked(), [Some("5".into()), Some("6".into())]);
    assert_eq!(replica.denylist().len(), 6);
}

#[tokio::test]
async fn duplicates_across_pages_are_applied_once() {
    let feed = FakeFeed::new(1);
    let twice = entry(EntryKind::Sid, "s1", NOW + 60);
    feed.push(&twice);
    feed.push(&twice);
    let mut replica = Replica::new();
    let report = replica.sync(&feed, NOW).await.unwrap();
    assert_eq!((report.entries, report.denylist_len), (2, 1));
}

#[tokio::test]
async fn an_unknown_kind_fails_the_sync_and_keeps_what_came_before() {
    // GIVEN a good page, then a page with a kind this version does not know
    let feed = FakeFeed::new(1);
    feed.push(&entry(EntryKind::Jti, "j1", NOW + 60));
    feed.push_raw(r#"{"kind":"device","value":"d1","expires_at":9999999999}"#.into());
    feed.push(&entry(EntryKind::Jti, "j2", NOW + 60));
    let mut replica = Replica::new();

    // WHEN the replica syncs
    let result = replica.sync(&feed, NOW).await;

    // THEN the sync fails (fail closed), the first page stays applied, the cursor stays
    // after it, and the replica is not fresh
    assert!(matches!(result, Err(FeedError::Malformed(_))), "{result:?}");
    assert_eq!(replica.cursor(), Some("1"));
    assert_eq!(replica.denylist().len(), 1);
    assert!(!replica.is_fresh(Instant::now(), Duration::from_secs(30)));
    // AND the next sync retries from there, failing the same way rather than skipping
    assert!(replica.sync(&feed, NOW).await.is_err());
    assert_eq!(feed.asked().last(), Some(&Some("1".into())));
    assert_eq!(replica.cursor(), Some("1"));
}

#[tokio::test]
async fn a_sync_prunes_expired_entries() {
    let feed = FakeFeed::new(10);
    feed.push(&entry(EntryKind::Jti, "gone", NOW));
    feed.push(&entry(EntryKind::Client, "app", NOW + 1));
    let mut replica = Replica::new();
    assert_eq!(replica.sync(&feed, NOW).await.unwrap().denylist_len, 1);
}

/// A source that never runs dry, to hit the page cap.
struct Endless;

impl FeedSource for Endless {
    async fn page(&self, after: Option<&str>) -> Result<SourcedPage, FeedError> {
        let n: u64 = after.map(|c| c.parse().unwrap()).unwrap_or(0);
        let entries =
            vec![FeedEntry { kind: EntryKind::Jti, value: format!("j{n}"), before: None, expires_at: NOW + 60 }];
        Ok(SourcedPage { page: FeedPage { entries, cursor: (n + 1).to_string(), more: false }, may_have_more: true })
    }
}

#[tokio::test]
async fn a_sync_stops_at_the_page_cap_without_claiming_freshness() {
    let mut replica = Replica::new();
    let report = replica.sync(&Endless, NOW).await.unwrap();
    assert_eq!((report.pages, report.complete), (MAX_PAGES_PER_SYNC, false));
    assert_eq!(replica.cursor(), Some("1000"));
    assert!(replica.last_success().is_none());
}

#[tokio::test]
async fn a_store_backed_source_may_end_the_sync_without_an_empty_page() {
    struct OnePage;
    impl FeedSource for OnePage {
        async fn page(&self, _after: Option<&str>) -> Result<SourcedPage, FeedError> {
            let page = FeedPage { entries: vec![entry(EntryKind::Jti, "j", NOW + 1)], cursor: "c".into(), more: false };
            Ok(SourcedPage { page, may_have_more: false })
        }
    }
    let mut replica = Replica::new();
    assert_eq!(replica.sync(&OnePage, NOW).await.unwrap().pages, 1);
}

#[tokio::test(start_paused = true)]
async fn freshness_lapses_after_max_staleness_and_returns_with_a_sync() {
    let max_staleness = Duration::from_secs(30);
    let poll = Duration::from_secs(1);
    let feed = FakeFeed::new(10);
    feed.push(&entry(EntryKind::Jti, "j1", NOW + 600));
    let replica = SharedReplica::new();

    // GIVEN a replica that never synced: not fresh, and due
    assert!(!replica.read(|r| r.is_fresh(Instant::now(), max_staleness)));
    assert!(replica.read(|r| r.is_due(Instant::now(), poll)));
    assert_eq!(
        replica.check(&token("j2"), NOW, Instant::now(), max_staleness),
        Err(Stale { since_last_success: None })
    );

    // WHEN it syncs, THEN it is fresh and answers from the denylist
    replica.sync(&feed, NOW).await.unwrap();
    assert_eq!(replica.check(&token("j1"), NOW, Instant::now(), max_staleness), Ok(Some(EntryKind::Jti)));
    assert_eq!(replica.check(&token("j2"), NOW, Instant::now(), max_staleness), Ok(None));
    assert!(!replica.read(|r| r.is_due(Instant::now(), poll)));

    // WHEN the feed goes down for longer than max_staleness
    feed.set_down(true);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(replica.read(|r| r.is_due(Instant::now(), poll)));
    assert!(replica.sync(&feed, NOW).await.is_err());
    // a failed attempt paces the next one too
    assert!(!replica.read(|r| r.is_due(Instant::now(), poll)));
    tokio::time::advance(Duration::from_secs(28)).await;
    assert!(replica.read(|r| r.is_fresh(Instant::now(), max_staleness)), "30 s is still within");
    tokio::time::advance(Duration::from_secs(1)).await;

    // THEN every check fails closed
    assert_eq!(
        replica.check(&token("j2"), NOW, Instant::now(), max_staleness),
        Err(Stale { since_last_success: Some(Duration::from_secs(31)) })
    );

    // AND one successful sync restores it
    feed.set_down(false);
    replica.sync(&feed, NOW).await.unwrap();
    assert_eq!(replica.check(&token("j2"), NOW, Instant::now(), max_staleness), Ok(None));
}

#[tokio::test(start_paused = true)]
async fn concurrent_callers_that_find_the_replica_due_sync_once() {
    let feed = std::sync::Arc::new(FakeFeed::new(10));
    let replica = std::sync::Arc::new(SharedReplica::new());
    let poll = Duration::from_secs(1);
    let callers: Vec<_> = (0..10)
        .map(|_| {
            let (feed, replica) = (feed.clone(), replica.clone());
            tokio::spawn(async move { replica.sync_if_due(&*feed, NOW, poll).await.is_some() })
        })
        .collect();
    let mut synced = 0;
    for caller in callers {
        synced += usize::from(caller.await.unwrap());
    }
    assert_eq!((synced, feed.asked().len()), (1, 1));
    tokio::time::advance(poll).await;
    assert!(replica.sync_if_due(&*feed, NOW, poll).await.is_some());
}

/// A source that refuses any cursor until told otherwise, and serves one entry from the
/// start.
struct Forgetful(std::sync::atomic::AtomicBool);

impl FeedSource for Forgetful {
    async fn page(&self, after: Option<&str>) -> Result<SourcedPage, FeedError> {
        match after {
            Some(_) if self.0.load(std::sync::atomic::Ordering::SeqCst) => Err(FeedError::CursorRefused),
            Some(_) => Ok(SourcedPage::over_http(FeedPage { entries: vec![], cursor: "c".into(), more: false })),
            None => {
                let page =
                    FeedPage { entries: vec![entry(EntryKind::Jti, "j", NOW + 1)], cursor: "c".into(), more: false };
                Ok(SourcedPage::over_http(page))
            }
        }
    }
}

#[tokio::test]
async fn a_refused_cursor_makes_the_next_sync_read_from_the_start() {
    let feed = Forgetful(std::sync::atomic::AtomicBool::new(false));
    let mut replica = Replica::new();
    replica.sync(&feed, NOW).await.unwrap();
    assert_eq!(replica.cursor(), Some("c"));
    feed.0.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(replica.sync(&feed, NOW).await, Err(FeedError::CursorRefused));
    assert_eq!(replica.cursor(), None, "forgotten");
    // The issuer reads its own new cursors again: the sync starts over from the start.
    feed.0.store(false, std::sync::atomic::Ordering::SeqCst);
    let report = replica.sync(&feed, NOW).await.unwrap();
    assert!(report.complete && report.entries == 1, "{report:?}");
}

#[test]
fn over_http_a_page_that_says_more_is_not_the_end_even_when_empty() {
    let empty = |more| FeedPage { entries: vec![], cursor: "c".into(), more };
    assert!(SourcedPage::over_http(empty(true)).may_have_more);
    assert!(!SourcedPage::over_http(empty(false)).may_have_more);
    let page = FeedPage::from_json(br#"{"entries":[],"cursor":"c","more":true}"#).unwrap();
    assert!(page.more);
    assert!(!FeedPage::from_json(br#"{"entries":[],"cursor":"c"}"#).unwrap().more, "absent: false");
}
