//! The authorizer in both modes, over the in-memory store with every call counted.

use super::*;
use crate::config::Config;
use crate::domain::{Marker, SigningAlgorithm};
use crate::feed::FEED_SHARDS;
use crate::store::{FullStore, MarkerWrite};
use crate::testing::counting::Counting;
use crate::testing::decorated::{Call, Decorated, Hook, Injected};
use crate::testing::kit;
use crate::testing::memory::MemoryStore;
use crate::tokens::access::{Confirmation, mint};
use crate::verify::ResourceRequest;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const AUDIENCE: &str = "https://api.example.com";
const FEED_READ: usize = FEED_SHARDS as usize;
const INTERVAL: Duration = Duration::from_secs(60);
const MAX_STALENESS: Duration = Duration::from_secs(1800);

fn config(mode: &'static str) -> Config {
    Config::from_lookup(move |name| match name {
        "TABLE_NAME" => Some("unused".into()),
        "ISSUER" => Some(kit::ISSUER.into()),
        "KEY_SOURCE" => Some("file:unused".into()),
        "EXPECTED_AUDIENCE" => Some(AUDIENCE.into()),
        "REVOCATION_CHECK" => Some(mode.into()),
        // Long enough that the wall clock, which runs while Tokio's is paused here, never
        // decides a sync or staleness on its own within a test (the copy watches both).
        "REVOCATION_FEED_INTERVAL_MS" => Some(INTERVAL.as_millis().to_string()),
        "REVOCATION_FEED_MAX_STALENESS_SECONDS" => Some(MAX_STALENESS.as_secs().to_string()),
        _ => None,
    })
    .expect("a valid configuration")
}

/// Counts every store call and fails the feed's reads while `feed_down` is set.
#[derive(Default)]
struct Meter {
    calls: AtomicUsize,
    feed_down: AtomicBool,
}

impl Hook for Arc<Meter> {
    fn before(&self, call: Call) -> Injected {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if call.op == "feed_shard" && self.feed_down.load(Ordering::SeqCst) {
            return Injected::Fail(crate::store::StoreError::Unavailable("feed down".into()));
        }
        Injected::Proceed
    }
}

struct Setup {
    authorizer: Authorizer,
    keys: Arc<KeyRing>,
    store: Arc<MemoryStore>,
    meter: Arc<Meter>,
}

fn setup(mode: &'static str) -> Setup {
    let store = Arc::new(MemoryStore::new());
    let meter = Arc::new(Meter::default());
    let metered: Arc<dyn FullStore> = Arc::new(Decorated { inner: store.clone(), hook: meter.clone() });
    let services = kit::services_with(config(mode), metered);
    let authorizer = services.authorizer().expect("an authorizer");
    Setup { authorizer, keys: services.keys().clone(), store, meter }
}

impl Setup {
    async fn token(&self, claims: &AccessTokenClaims) -> String {
        format!("Bearer {}", mint(&*self.keys.current().await, SigningAlgorithm::Es256, claims).unwrap())
    }

    fn calls(&self) -> usize {
        self.meter.calls.load(Ordering::SeqCst)
    }
}

fn user_claims() -> AccessTokenClaims {
    let (session, family) = kit::session(UnixTime::now(), 3600);
    AccessTokenClaims {
        cnf: None,
        aud: AUDIENCE.into(),
        sub: session.sub.clone(),
        sid: Some(session.sid),
        fid: Some(family.fid),
        ..kit::access_claims("app", UnixTime::now())
    }
}

#[tokio::test(start_paused = true)]
async fn feed_mode_reads_nothing_per_request_and_the_feed_at_most_once_per_interval() {
    let s = setup("feed");
    let claims = user_claims();
    let token = s.token(&claims).await;
    assert!(s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
    assert_eq!(s.calls(), FEED_READ, "the first request bootstraps the copy: one read of every shard");

    for _ in 0..10_000 {
        assert!(s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
    }
    assert_eq!(s.calls(), FEED_READ, "10,000 checks within the interval: no round trip");

    // Revoked meanwhile: refused once the interval has passed, by one more sync.
    s.store.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at: claims.exp }).await.unwrap();
    tokio::time::advance(INTERVAL).await;
    assert!(!s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
    assert_eq!(s.calls(), 2 * FEED_READ);
    for _ in 0..100 {
        assert!(!s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
    }
    assert_eq!(s.calls(), 2 * FEED_READ);
}

#[tokio::test(start_paused = true)]
async fn feed_mode_refuses_every_kind_of_revocation() {
    let s = setup("feed");
    let now = UnixTime::now();
    let later = now.plus(3600);
    let cases: Vec<(AccessTokenClaims, Marker, &str)> = {
        let c = [user_claims(), user_claims(), user_claims(), user_claims(), user_claims()];
        vec![
            (c[0].clone(), Marker::Token { jti: c[0].jti.clone(), expires_at: later }, "token_revoked"),
            (
                c[1].clone(),
                Marker::Family {
                    fid: c[1].fid.clone().unwrap(),
                    revoked_at: now,
                    reason: crate::domain::RevocationCause::RevokedByClient,
                    expires_at: later,
                },
                "family_revoked",
            ),
            (
                c[2].clone(),
                Marker::Session {
                    sid: c[2].sid.clone().unwrap(),
                    revoked_at: now,
                    reason: crate::domain::RevocationCause::Logout,
                    expires_at: later,
                },
                "session_revoked",
            ),
            (
                c[3].clone(),
                Marker::Subject { sub: c[3].sub.clone(), not_before: now.plus(1), expires_at: later },
                "subject_revoked",
            ),
            (
                c[4].clone(),
                Marker::Client { client_id: c[4].client_id.clone(), not_before: now.plus(1), expires_at: later },
                "client_removed",
            ),
        ]
    };
    for (claims, _, _) in &cases {
        assert!(s.authorizer.decide(&ResourceRequest::with_authorization(Some(&s.token(claims).await))).await.allow);
    }
    for (_, marker, _) in &cases {
        s.store.put_marker(marker).await.unwrap();
    }
    tokio::time::advance(INTERVAL).await;
    for (claims, _, reason) in &cases {
        let token = s.token(claims).await;
        let denied = !s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow;
        assert!(denied, "{reason}");
    }
}

#[tokio::test(start_paused = true)]
async fn feed_mode_fails_closed_beyond_the_staleness_bound_and_retries_once_per_interval() {
    let s = setup("feed");
    let token = s.token(&user_claims()).await;
    assert!(s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
    s.meter.feed_down.store(true, Ordering::SeqCst);

    // Within the staleness bound of the last good sync the copy still answers; one
    // attempt per interval.
    for _ in 0..29 {
        tokio::time::advance(INTERVAL).await;
        for _ in 0..10 {
            assert!(s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
        }
    }
    let attempts = s.calls() / FEED_READ;
    assert!(attempts <= 30, "{attempts} syncs in 29 intervals (a failed read counts a call per shard at most)");
    tokio::time::advance(2 * INTERVAL).await;
    assert!(
        !s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow,
        "stale: every request is denied"
    );

    // The feed is back: the next sync (after the interval) restores service.
    s.meter.feed_down.store(false, Ordering::SeqCst);
    tokio::time::advance(INTERVAL).await;
    assert!(s.authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
}

#[tokio::test]
async fn strict_mode_reads_the_denylist_on_every_request() {
    let store = Arc::new(MemoryStore::new());
    let counting = Arc::new(Counting::new(store.clone()));
    let services = kit::services_with(config("strict"), counting.clone());
    let authorizer = services.authorizer().unwrap();
    let claims = user_claims();
    let token =
        format!("Bearer {}", mint(&*services.keys().current().await, SigningAlgorithm::Es256, &claims).unwrap());
    for _ in 0..10 {
        assert!(authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow);
    }
    assert_eq!(counting.round_trips(), 10);
    store.put_marker(&Marker::Token { jti: claims.jti.clone(), expires_at: claims.exp }).await.unwrap();
    assert!(
        !authorizer.decide(&ResourceRequest::with_authorization(Some(&token))).await.allow,
        "on the very next request"
    );
}

/// The API Gateway request of a DPoP-bound token (RFC 9449 §7): the `DPoP` scheme and a
/// proof for the method, `https://{domainName}{rawPath}` and the token.
fn dpop_request(token: &str, key: &crate::testing::dpop::DpopKey, method: &str, url: &str) -> ResourceRequest {
    ResourceRequest {
        authorization: Some(format!("DPoP {token}")),
        dpop: vec![key.proof(method, url, Some(token))],
        method: method.into(),
        url: url.into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_bound_token_passes_only_with_a_fresh_proof_by_its_key_in_either_mode() {
    use crate::testing::dpop::DpopKey;
    const URL: &str = "https://api.example.com/orders";
    for (mode, proof_round_trips) in [("strict", 1), ("feed", 0)] {
        let s = setup(mode);
        let key = DpopKey::generate(SigningAlgorithm::Es256);
        let claims = AccessTokenClaims { cnf: Some(Confirmation { jkt: key.jkt.clone() }), ..user_claims() };
        let token = mint(&*s.keys.current().await, SigningAlgorithm::Es256, &claims).unwrap();
        // A first request syncs the copy (feed mode); the next ones are what is measured.
        // (Presented as Bearer, it is refused: it is bound.)
        let as_bearer = ResourceRequest::with_authorization(Some(&format!("Bearer {token}")));
        assert!(!s.authorizer.decide(&as_bearer).await.allow);
        let request = dpop_request(&token, &key, "GET", URL);
        let before = s.calls();
        let allowed = s.authorizer.decide(&request).await;
        assert!(allowed.allow, "{mode}");
        assert_eq!(allowed.context.get("jkt"), Some(&key.jkt));
        let denylist_reads = if mode == "strict" { 1 } else { 0 };
        assert_eq!(s.calls() - before, denylist_reads + proof_round_trips, "{mode}: round trips of a DPoP check");

        let thief = DpopKey::generate(SigningAlgorithm::Es256);
        let refused = [
            ("replayed", request.clone()),
            ("as Bearer", ResourceRequest::with_authorization(Some(&format!("Bearer {token}")))),
            ("another key", dpop_request(&token, &thief, "GET", URL)),
            ("wrong htm", ResourceRequest { method: "POST".into(), ..dpop_request(&token, &key, "GET", URL) }),
            ("wrong htu", dpop_request(&token, &key, "GET", "https://api.example.com/admin")),
            (
                "no ath",
                ResourceRequest { dpop: vec![key.proof("GET", URL, None)], ..dpop_request(&token, &key, "GET", URL) },
            ),
            ("no proof", ResourceRequest { dpop: vec![], ..dpop_request(&token, &key, "GET", URL) }),
        ];
        for (case, request) in refused {
            let request = if case == "wrong htu" { ResourceRequest { url: URL.into(), ..request } } else { request };
            assert!(!s.authorizer.decide(&request).await.allow, "{mode}: {case}");
        }
    }
}

/// API Gateway caches answers by the `Authorization` header alone: with the cache on, a
/// DPoP request is refused, since a cached allow would skip every later proof.
#[tokio::test]
async fn with_api_gateways_cache_on_dpop_tokens_are_refused() {
    use crate::testing::dpop::DpopKey;
    const URL: &str = "https://api.example.com/orders";
    let services = kit::services_with(
        Config { authorizer_cache_ttl: 300, ..config("strict") },
        Arc::new(MemoryStore::new()) as Arc<dyn FullStore>,
    );
    let authorizer = services.authorizer().expect("an authorizer");
    let key = DpopKey::generate(SigningAlgorithm::Es256);
    let claims = AccessTokenClaims { cnf: Some(Confirmation { jkt: key.jkt.clone() }), ..user_claims() };
    let token = mint(&*services.keys().current().await, SigningAlgorithm::Es256, &claims).unwrap();
    assert!(!authorizer.decide(&dpop_request(&token, &key, "GET", URL)).await.allow);
    let bearer = mint(&*services.keys().current().await, SigningAlgorithm::Es256, &user_claims()).unwrap();
    let plain = ResourceRequest::with_authorization(Some(&format!("Bearer {bearer}")));
    assert!(authorizer.decide(&plain).await.allow, "bearer tokens are unaffected");
}
