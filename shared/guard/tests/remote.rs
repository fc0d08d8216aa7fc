//! The guard end to end, in process: a small axum server plays the token service (a JWKS
//! the test can change, a revocation feed whose entries it controls, Basic auth checked),
//! and an axum API sits behind `GuardLayer`.

#[path = "support/keys.rs"]
mod keys;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use guard::feed::FeedError;
use guard::layer::GuardLayer;
use guard::remote::{HttpFeed, http_client};
use guard::sync::FeedSource;
use guard::{AccessClaims, Guard, GuardConfig};
use keys::{AUDIENCE, TestKey, jwks, now, service_claims, user_claims, with};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

const CLIENT_ID: &str = "orders-api";
/// With characters that RFC 6749 §2.3.1's form-urlencoding changes.
const CLIENT_SECRET: &str = "s3cret:/+ x";
/// A client that authenticates but was not registered with `--introspect`.
const PLAIN_CLIENT: &str = "web-app";

/// The token service's state, as the test sets it.
#[derive(Default)]
struct TokenService {
    jwks: Value,
    /// The feed's log; a cursor is an index into it.
    entries: Vec<Value>,
    down: bool,
    jwks_fetches: usize,
}

type Shared = Arc<Mutex<TokenService>>;

fn basic(id: &str, secret: &str) -> String {
    // The encoding spelled out independently of the crate: ':' → %3A, '/' → %2F,
    // '+' → %2B, ' ' → '+'.
    let encoded = secret.replace(':', "%3A").replace('/', "%2F").replace('+', "%2B").replace(' ', "+");
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{encoded}")))
}

/// Cursors with characters a query string must escape, to prove they are passed back
/// verbatim.
fn cursor(index: usize) -> String {
    format!("v1/{index}+&=")
}

async fn serve_jwks(State(service): State<Shared>) -> Json<Value> {
    let mut service = service.lock().unwrap();
    service.jwks_fetches += 1;
    Json(service.jwks.clone())
}

async fn serve_feed(
    State(service): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if authorization == basic(PLAIN_CLIENT, CLIENT_SECRET) {
        return StatusCode::FORBIDDEN.into_response();
    }
    if authorization != basic(CLIENT_ID, CLIENT_SECRET) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let service = service.lock().unwrap();
    if service.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let from = match query.get("after") {
        None => 0,
        Some(after) => match after.strip_prefix("v1/").and_then(|a| a.strip_suffix("+&=")).and_then(|n| n.parse().ok())
        {
            Some(index) => index,
            None => return StatusCode::BAD_REQUEST.into_response(),
        },
    };
    // Two entries a page, so that a sync always pages.
    let to = (from + 2).min(service.entries.len());
    Json(json!({ "entries": service.entries[from..to], "cursor": cursor(to) })).into_response()
}

struct Harness {
    service: Shared,
    issuer: String,
    key: TestKey,
    guard: Guard,
    api: Router,
}

/// The token service on a loopback port, a guard started against it (and ready), and the
/// example's API behind the layer.
async fn harness(adjust: impl FnOnce(&mut GuardConfig)) -> Harness {
    let key = TestKey::es256("key-1");
    let service = Arc::new(Mutex::new(TokenService { jwks: jwks(&[&key]), ..TokenService::default() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let token_service = Router::new()
        .route("/.well-known/jwks.json", get(serve_jwks))
        .route("/oauth2/revocations", get(serve_feed))
        .with_state(service.clone());
    tokio::spawn(async move { axum::serve(listener, token_service).await });

    let mut config = GuardConfig::new(issuer.clone(), vec![AUDIENCE.into()], CLIENT_ID, CLIENT_SECRET);
    // Only `sync_now` syncs after the first poll, unless a test asks otherwise.
    config.poll_interval = Duration::from_secs(3600);
    adjust(&mut config);
    let guard = Guard::start(config).unwrap();
    tokio::time::timeout(Duration::from_secs(5), guard.ready()).await.expect("the guard became ready");

    let api = Router::new().route("/hello", get(hello)).layer(GuardLayer::new(guard.clone()));
    Harness { service, issuer, key, guard, api }
}

async fn hello(Extension(claims): Extension<AccessClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub }))
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Harness {
    /// A token of this issuer.
    fn mint(&self, claims: Value) -> String {
        self.key.mint(&with(claims, json!({ "iss": self.issuer })))
    }

    async fn get(&self, authorization: Option<String>) -> Answer {
        let mut request = Request::get("/hello");
        if let Some(authorization) = authorization {
            request = request.header(header::AUTHORIZATION, authorization);
        }
        let response = self.api.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec();
        Answer { status, headers, body }
    }

    async fn call(&self, token: &str) -> Answer {
        self.get(Some(format!("Bearer {token}"))).await
    }

    fn revoke(&self, entry: Value) {
        self.service.lock().unwrap().entries.push(entry);
    }

    fn jwks_fetches(&self) -> usize {
        self.service.lock().unwrap().jwks_fetches
    }
}

fn challenge(answer: &Answer) -> &str {
    answer.headers.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[tokio::test]
async fn a_live_token_reaches_the_api_with_its_claims() {
    let h = harness(|_| {}).await;
    let answer = h.call(&h.mint(user_claims("alice", "s1", "f1"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(serde_json::from_slice::<Value>(&answer.body).unwrap(), json!({"sub": "alice"}));
}

#[tokio::test]
async fn each_revocation_kind_refuses_its_tokens_after_a_sync() {
    // GIVEN live tokens, each to be covered by one kind of entry, and one bystander
    let h = harness(|_| {}).await;
    let now = now();
    let by_jti = h.mint(user_claims("u-jti", "s-jti", "f-jti"));
    let by_fid = h.mint(user_claims("u-fid", "s-fid", "f-fid"));
    let by_sid = h.mint(user_claims("u-sid", "s-sid", "f-sid"));
    let by_sub = h.mint(user_claims("u-sub", "s-sub", "f-sub"));
    let after_sub_line = h.mint(with(user_claims("u-sub", "s-new", "f-new"), json!({"iat": now + 1})));
    let by_client = h.mint(service_claims("batch-job"));
    let bystander = h.mint(user_claims("bob", "s-bob", "f-bob"));
    for token in [&by_jti, &by_fid, &by_sid, &by_sub, &after_sub_line, &by_client, &bystander] {
        assert_eq!(h.call(token).await.status, StatusCode::OK);
    }

    // WHEN the token service revokes them and the guard syncs
    let exp = now + 600;
    h.revoke(json!({"kind": "jti", "value": "jti-u-jti-s-jti-f-jti", "expires_at": exp}));
    h.revoke(json!({"kind": "fid", "value": "f-fid", "expires_at": exp}));
    h.revoke(json!({"kind": "sid", "value": "s-sid", "expires_at": exp}));
    h.revoke(json!({"kind": "sub", "value": "u-sub", "before": now + 1, "expires_at": exp}));
    h.revoke(json!({"kind": "client", "value": "batch-job", "before": now + 1, "expires_at": exp}));
    let report = h.guard.sync_now().await.unwrap();
    assert_eq!((report.entries, report.denylist_len, report.complete), (5, 5, true));

    // THEN each covered token is refused as invalid_token, and nothing else is
    for token in [&by_jti, &by_fid, &by_sid, &by_sub, &by_client] {
        let answer = h.call(token).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge(&answer), r#"Bearer error="invalid_token""#);
        assert_eq!(answer.headers[header::CACHE_CONTROL], "no-store");
    }
    assert_eq!(h.call(&after_sub_line).await.status, StatusCode::OK, "iat == before is after the line");
    assert_eq!(h.call(&bystander).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_same_entry_delivered_again_changes_nothing() {
    let h = harness(|_| {}).await;
    let entry = json!({"kind": "sid", "value": "s1", "expires_at": now() + 600});
    for _ in 0..3 {
        h.revoke(entry.clone());
    }
    let report = h.guard.sync_now().await.unwrap();
    assert_eq!((report.pages, report.entries, report.denylist_len), (3, 3, 1));
    assert_eq!(h.call(&h.mint(user_claims("alice", "s1", "f1"))).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_missing_token_or_a_foreign_audience_is_refused() {
    let h = harness(|_| {}).await;

    let missing = h.get(None).await;
    assert_eq!(
        (missing.status, challenge(&missing)),
        (StatusCode::UNAUTHORIZED, r#"Bearer, DPoP algs="ES256 EdDSA RS256""#)
    );
    let other_scheme = h.get(Some("Basic YTpi".into())).await;
    assert_eq!(
        (other_scheme.status, challenge(&other_scheme)),
        (StatusCode::UNAUTHORIZED, r#"Bearer, DPoP algs="ES256 EdDSA RS256""#)
    );

    let foreign = h.mint(with(user_claims("alice", "s1", "f1"), json!({"aud": "https://payments.example.com"})));
    let answer = h.call(&foreign).await;
    assert_eq!((answer.status, challenge(&answer)), (StatusCode::UNAUTHORIZED, r#"Bearer error="invalid_token""#));

    let garbage = h.get(Some("Bearer not-a-jwt".into())).await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_once_per_interval() {
    // GIVEN a guard that fetched the JWKS once at start
    let h = harness(|_| {}).await;
    assert_eq!(h.jwks_fetches(), 1);

    // WHEN the issuer publishes a new key and a token signed with it arrives
    let rotated = TestKey::es256("key-2");
    h.service.lock().unwrap().jwks = jwks(&[&h.key, &rotated]);
    let token = rotated.mint(&with(user_claims("alice", "s1", "f1"), json!({"iss": h.issuer})));
    // THEN the guard refetches once and accepts it
    assert_eq!(h.call(&token).await.status, StatusCode::OK);
    assert_eq!(h.jwks_fetches(), 2);
    assert_eq!(h.call(&token).await.status, StatusCode::OK);
    assert_eq!(h.jwks_fetches(), 2, "a known key costs nothing");

    // WHEN yet another new key appears within jwks_min_refetch
    let third = TestKey::es256("key-3");
    h.service.lock().unwrap().jwks = jwks(&[&h.key, &rotated, &third]);
    let token = third.mint(&with(user_claims("alice", "s1", "f1"), json!({"iss": h.issuer})));
    // THEN the rate limit allows no refetch: refused, and the issuer saw no request
    let answer = h.call(&token).await;
    assert_eq!((answer.status, challenge(&answer)), (StatusCode::UNAUTHORIZED, r#"Bearer error="invalid_token""#));
    assert_eq!(h.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_feed_down_longer_than_max_staleness_fails_closed() {
    // GIVEN a guard polling every 50 ms that tolerates 1 s without a sync
    let h = harness(|config| {
        config.poll_interval = Duration::from_millis(50);
        config.max_staleness = Duration::from_secs(1);
    })
    .await;
    let token = h.mint(user_claims("alice", "s1", "f1"));
    assert_eq!(h.call(&token).await.status, StatusCode::OK);

    // WHEN the feed goes down briefly, THEN requests are still served
    h.service.lock().unwrap().down = true;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.call(&token).await.status, StatusCode::OK);

    // WHEN it stays down beyond max_staleness
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // THEN every request is refused with 503, to be retried shortly
    let answer = h.call(&token).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.headers[header::RETRY_AFTER], "1");
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(serde_json::from_slice::<Value>(&answer.body).unwrap(), json!({"error": "temporarily_unavailable"}));
    assert!(!h.guard.is_fresh());

    // AND a request without a token is still a plain 401: nothing to vouch for
    assert_eq!(h.get(None).await.status, StatusCode::UNAUTHORIZED);

    // WHEN the feed comes back, THEN a poll restores service (within a poll or two; the
    // loop only absorbs a slow machine)
    h.service.lock().unwrap().down = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while h.call(&token).await.status != StatusCode::OK {
        assert!(tokio::time::Instant::now() < deadline, "service was not restored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_feed_client_reports_refused_credentials() {
    let h = harness(|_| {}).await;
    let page = |id: &'static str, secret: &'static str| {
        let feed = HttpFeed::new(http_client().unwrap(), &h.issuer, id, secret).unwrap();
        async move { feed.page(None).await }
    };
    assert_eq!(page(CLIENT_ID, "wrong").await.unwrap_err(), FeedError::Unauthorized);
    assert_eq!(page(PLAIN_CLIENT, CLIENT_SECRET).await.unwrap_err(), FeedError::Forbidden);
    assert!(page(CLIENT_ID, CLIENT_SECRET).await.unwrap().page.entries.is_empty());
}

#[tokio::test]
async fn an_unknown_kind_in_the_feed_fails_the_sync() {
    let h = harness(|_| {}).await;
    h.revoke(json!({"kind": "device", "value": "d1", "expires_at": now() + 600}));
    assert!(matches!(h.guard.sync_now().await, Err(FeedError::Malformed(_))));
}
