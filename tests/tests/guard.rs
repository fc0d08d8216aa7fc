//! End to end: the `guard` crate in front of an axum API on loopback, against the real
//! stack (`cargo lambda watch`, store in moto). Its keys come from the stack's JWKS and
//! its denylist from the stack's revocation feed, as a resource server registered with
//! `--introspect` reads them; every assertion is what a caller of the API sees.

use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use guard::feed::EntryKind;
use guard::jwks::{KeySource, KeysError};
use guard::layer::GuardLayer;
use guard::remote::{HttpFeed, HttpJwks, http_client};
use guard::verify::{KeySet, VerifyError};
use guard::{AccessClaims, Guard, GuardConfig, Refusal};
use serde_json::{Value, json};
use shared::domain::{GrantType, Marker};
use shared::ids::{ClientId, random_id};
use shared::store::{ClientAdmin, MarkerWrite};
use shared::time::UnixTime;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tests::{
    Stack, TestClient, password_login, seed_client, seed_resource_server_into, seed_rp_client, seed_user, stack_store,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const API: &str = "https://api.example.com";
const USER_GRANTS: &[GrantType] = &[GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials];
/// Short, so that a revocation reaches the API within a fraction of a second here.
const POLL: Duration = Duration::from_millis(200);
/// How long a test waits for the API to change its answer.
const PATIENCE: Duration = Duration::from_secs(5);

async fn resource_server() -> TestClient {
    seed_resource_server_into(&stack_store().await).await
}

fn config(stack: &Stack, rs: &TestClient) -> GuardConfig {
    let mut config = GuardConfig::new(stack.issuer.clone(), vec![API.into()], &rs.id, &rs.secret);
    config.poll_interval = POLL;
    config
}

/// A guard as a resource server runs it: polling the stack's feed, ready before serving.
async fn started_guard(stack: &Stack) -> Guard {
    let guard = Guard::start(config(stack, &resource_server().await)).expect("the guard starts");
    tokio::time::timeout(PATIENCE, guard.ready()).await.expect("the guard synced the feed and fetched the JWKS");
    guard
}

/// Aborts a background task with the test.
struct Task(JoinHandle<()>);

impl Drop for Task {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The example's API (`GET /hello` → `{"sub": …}`) behind the guard, on a loopback port.
struct Api {
    url: String,
    http: reqwest::Client,
    _server: Task,
}

async fn hello(Extension(claims): Extension<AccessClaims>) -> Json<Value> {
    Json(json!({ "sub": claims.sub }))
}

async fn serve(guard: &Guard) -> Api {
    serve_on(TcpListener::bind("127.0.0.1:0").await.unwrap(), guard).await
}

async fn serve_on(listener: TcpListener, guard: &Guard) -> Api {
    let app = Router::new().route("/hello", get(hello)).layer(GuardLayer::new(guard.clone()));
    let url = format!("http://{}/hello", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Api { url, http: reqwest::Client::new(), _server: Task(server) }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    challenge: Option<String>,
    retry_after: Option<String>,
    json: Value,
}

impl Api {
    async fn get(&self, authorization: Option<&str>) -> Answer {
        let mut request = self.http.get(&self.url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.expect("the API answers");
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (status, challenge, retry_after) =
            (response.status().as_u16(), header("www-authenticate"), header("retry-after"));
        let json = serde_json::from_slice(&response.bytes().await.expect("a body")).unwrap_or(Value::Null);
        Answer { status, challenge, retry_after, json }
    }

    async fn call(&self, token: &str) -> Answer {
        self.get(Some(&format!("Bearer {token}"))).await
    }

    /// Calls with `token` until the API answers `status` (then that answer), or until
    /// `within` has passed (then the last answer, for the assertion to show).
    async fn until_status(&self, token: &str, status: u16, within: Duration) -> Answer {
        let deadline = Instant::now() + within;
        loop {
            let answer = self.call(token).await;
            if answer.status == status || Instant::now() >= deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn assert_invalid_token(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {answer:?}");
    assert_eq!(answer.challenge.as_deref(), Some(r#"Bearer error="invalid_token""#), "{what}");
}

/// Why the guard refuses `token` (the kind behind a 401 the API does not tell).
async fn refusal(guard: &Guard, token: &str) -> Option<Refusal> {
    guard.check(Some(&format!("Bearer {token}"))).await.err()
}

async fn client_credentials(stack: &Stack, client: &TestClient) -> String {
    let reply = stack.post_form("/oauth2/token", client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.str("access_token").to_string()
}

#[tokio::test]
async fn a_live_token_reaches_the_api_with_its_subject() {
    let stack = Stack::from_env();
    let api = serve(&started_guard(&stack).await).await;
    let client = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid read").await;

    let answer = api.call(login.str("access_token")).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json, json!({ "sub": user.sub.as_str() }));
}

#[tokio::test]
async fn each_kind_of_revocation_is_refused_after_the_next_sync() {
    // GIVEN an API behind a guard, and live tokens for each kind of revocation: three
    // sessions of one user (a fourth stays live throughout), one session each of two
    // more users, a client's own token
    let stack = Stack::from_env();
    let guard = started_guard(&stack).await;
    let api = serve(&guard).await;
    let client = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let (user, logged_out_user, lined_user) = (seed_user(false).await, seed_user(false).await, seed_user(false).await);
    let login = async |user| password_login(&stack, &client, user, "openid read").await;
    let (by_jti, by_fid, by_sid, bystander) =
        (login(&user).await, login(&user).await, login(&user).await, login(&user).await);
    let (by_logout_all, by_line) = (login(&logged_out_user).await, login(&lined_user).await);
    let removed_client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let by_client = client_credentials(&stack, &removed_client).await;
    let bystander = bystander.str("access_token");
    let live = Live { api: &api, guard: &guard, bystander };
    for token in [&by_jti, &by_fid, &by_sid, &by_logout_all, &by_line].map(|login| login.str("access_token")) {
        assert_eq!(api.call(token).await.status, 200, "a live token is accepted");
    }
    assert_eq!(api.call(&by_client).await.status, 200);
    assert_eq!(api.call(bystander).await.status, 200);

    // WHEN the client revokes an access token, THEN that token is refused (jti)
    let token = by_jti.str("access_token");
    assert_eq!(stack.revoke(&client, token, None).await.status, 200);
    live.refused_alone(token, &[EntryKind::Jti]).await;

    // WHEN it revokes a refresh token, THEN the family's access token is refused (fid)
    assert_eq!(stack.revoke(&client, by_fid.str("refresh_token"), None).await.status, 200);
    live.refused_alone(by_fid.str("access_token"), &[EntryKind::Fid]).await;

    // WHEN it logs a session out, THEN the session's access token is refused (sid)
    assert_eq!(stack.logout(&client, &[("refresh_token", by_sid.str("refresh_token"))]).await.status, 200);
    live.refused_alone(by_sid.str("access_token"), &[EntryKind::Sid]).await;

    // WHEN an admin client logs every session of a user out, THEN the user's token is
    // refused: the subject's line goes first, then each session found is ended (§3.4),
    // so the guard may name either
    let admin = seed_rp_client(true, None).await;
    assert_eq!(stack.logout(&admin, &[("sub", logged_out_user.sub.as_str())]).await.status, 200);
    live.refused_alone(by_logout_all.str("access_token"), &[EntryKind::Sid, EntryKind::Sub]).await;

    // WHEN a subject's line is all there is (a session the eventually consistent index
    // missed, §3.4), THEN the line alone refuses the user's token (sub)
    let line = UnixTime::now().plus(1);
    let marker = Marker::Subject { sub: lined_user.sub.clone(), not_before: line, expires_at: line.plus(86_400) };
    stack_store().await.put_marker(&marker).await.unwrap();
    live.refused_alone(by_line.str("access_token"), &[EntryKind::Sub]).await;

    // WHEN a client is removed, THEN its tokens are refused (client), with the line
    // `tokenctl client remove` draws: past the functions' client cache
    let line = UnixTime::now().plus(61);
    let id = ClientId::new(&removed_client.id);
    let marker = Marker::Client { client_id: id.clone(), not_before: line, expires_at: line.plus(86_430) };
    assert!(stack_store().await.remove_client(&id, &marker).await.unwrap(), "the client was there");
    live.refused_alone(&by_client, &[EntryKind::Client]).await;
}

/// An API with a token that no revocation of the test covers.
struct Live<'a> {
    api: &'a Api,
    guard: &'a Guard,
    bystander: &'a str,
}

impl Live<'_> {
    /// `token` is refused within `PATIENCE` (the next sync), for one of `reasons`, while
    /// the bystander is still accepted.
    async fn refused_alone(&self, token: &str, reasons: &[EntryKind]) {
        let answer = self.api.until_status(token, 401, PATIENCE).await;
        assert_invalid_token(&answer, &format!("revoked ({reasons:?})"));
        let refused = refusal(self.guard, token).await;
        assert!(
            reasons.iter().any(|kind| refused == Some(Refusal::Revoked(*kind))),
            "refused as {refused:?}, not as {reasons:?}"
        );
        let bystanders = self.api.call(self.bystander).await;
        assert_eq!(bystanders.status, 200, "after a revocation ({reasons:?}), the bystander: {bystanders:?}");
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_jwks_once_then_waits_out_the_rate_limit() {
    // GIVEN a guard synced with the feed whose key cache is empty: it never fetched the
    // stack's JWKS, and counts each fetch
    let stack = Stack::from_env();
    let rs = resource_server().await;
    let fetches = Arc::new(AtomicUsize::new(0));
    let http = http_client().unwrap();
    let jwks = CountingJwks { inner: HttpJwks::new(http.clone(), &stack.issuer).unwrap(), fetches: fetches.clone() };
    let feed = HttpFeed::new(http, &stack.issuer, &rs.id, &rs.secret).unwrap();
    let guard = Guard::from_parts(&config(&stack, &rs), feed, jwks);
    assert!(guard.sync_now().await.expect("the feed answers").complete);
    let api = serve(&guard).await;
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let token = client_credentials(&stack, &client).await;

    // WHEN a live token arrives, THEN it is accepted after one fetch of the JWKS
    let answer = api.call(&token).await;
    assert_eq!((answer.status, &answer.json), (200, &json!({ "sub": client.id })), "{answer:?}");
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "the unknown kid was fetched once");
    // AND another token signed with the same key needs no fetch
    assert_eq!(api.call(&client_credentials(&stack, &client).await).await.status, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // WHEN a token names a kid the stack never published, right after
    let forged = with_kid(&token, &format!("made-up-{}", random_id()));
    let answer = api.call(&forged).await;
    // THEN it is refused without asking the stack again (at most one fetch per
    // `jwks_min_refetch`, 10 s: made-up kids must not turn the API against the issuer)
    assert_invalid_token(&answer, "unknown kid");
    assert_eq!(refusal(&guard, &forged).await, Some(Refusal::InvalidToken(VerifyError::UnknownKey)));
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "no second fetch within the rate limit");
}

/// The stack's JWKS over HTTP, counted.
struct CountingJwks {
    inner: HttpJwks,
    fetches: Arc<AtomicUsize>,
}

impl KeySource for CountingJwks {
    async fn fetch(&self) -> Result<KeySet, KeysError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch().await
    }
}

/// `token` with its header's `kid` replaced (payload and signature untouched).
fn with_kid(token: &str, kid: &str) -> String {
    let (header, rest) = token.split_once('.').expect("a JWT");
    let mut header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["kid"] = json!(kid);
    format!("{}.{rest}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap()))
}

#[tokio::test]
async fn a_guard_that_cannot_read_the_feed_refuses_every_token_after_max_staleness() {
    // GIVEN a guard with a 2 s staleness budget, fresh, reading the stack's feed through
    // a relay the test can cut (a removed client would do it too, but the functions
    // trust a cached client record for up to CLIENT_CACHE_TTL_SECONDS, 60 s)
    let stack = Stack::from_env();
    let rs = resource_server().await;
    let relay = Relay::start(&stack.base_url).await;
    let http = http_client().unwrap();
    let feed = HttpFeed::new(http.clone(), &relay.url, &rs.id, &rs.secret).unwrap();
    let jwks = HttpJwks::new(http, &stack.issuer).unwrap();
    let max_staleness = Duration::from_secs(2);
    let mut config = config(&stack, &rs);
    config.max_staleness = max_staleness;
    let guard = Guard::from_parts(&config, feed, jwks);
    guard.refresh_keys().await.expect("the stack's JWKS");
    let _poll = keep_syncing(&guard);
    tokio::time::timeout(PATIENCE, guard.ready()).await.expect("a first sync");
    let api = serve(&guard).await;
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let token = client_credentials(&stack, &client).await;
    assert_eq!(api.call(&token).await.status, 200);

    // WHEN the feed can no longer be reached
    relay.cut();
    let cut = Instant::now();
    assert!(guard.sync_now().await.is_err(), "the feed is out of reach");

    // THEN live tokens are still accepted for a while, though polls fail
    tokio::time::sleep(POLL * 2).await;
    assert_eq!(api.call(&token).await.status, 200, "a failed poll alone refuses nothing");
    // AND refused as 503 (not 401: the token is fine, the API cannot vouch for it) once
    // max_staleness has passed since the last sync began (up to a poll and a sync's
    // length before the cut)
    let answer = api.until_status(&token, 503, max_staleness + PATIENCE).await;
    let after = cut.elapsed();
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(after >= max_staleness / 2, "stale only after max_staleness, not after {after:?}");
    assert_eq!(answer.retry_after.as_deref(), Some("1"));
    assert_eq!(answer.challenge, None, "nothing is wrong with the token");
    assert_eq!(answer.json, json!({ "error": "temporarily_unavailable" }));

    // AND once the feed is back, the next sync lets them through again
    relay.restore();
    assert_eq!(api.until_status(&token, 200, PATIENCE).await.status, 200);
}

#[tokio::test]
async fn a_guard_whose_client_was_removed_never_accepts_a_token() {
    // GIVEN a resource server removed before its guard ever read the feed
    let stack = Stack::from_env();
    let rs = resource_server().await;
    let id = ClientId::new(&rs.id);
    let line = UnixTime::now().plus(61);
    let marker = Marker::Client { client_id: id.clone(), not_before: line, expires_at: line.plus(86_430) };
    assert!(stack_store().await.remove_client(&id, &marker).await.unwrap());
    assert_eq!(stack.revocations(&rs, None).await.status, 401, "the feed no longer knows it");

    // WHEN its guard starts and polls
    let mut config = config(&stack, &rs);
    config.max_staleness = Duration::from_secs(2);
    let guard = Guard::start(config).expect("the guard starts");
    let api = serve(&guard).await;
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let token = client_credentials(&stack, &client).await;
    tokio::time::sleep(POLL * 3).await;

    // THEN a live token is answered 503 with Retry-After: a guard with no denylist fails closed
    let answer = api.call(&token).await;
    assert_eq!((answer.status, answer.retry_after.as_deref()), (503, Some("1")), "{answer:?}");
    assert!(!guard.is_fresh());
}

/// A host's own schedule for a guard built with `from_parts`.
fn keep_syncing(guard: &Guard) -> Task {
    let guard = guard.clone();
    Task(tokio::spawn(async move {
        loop {
            let _ = guard.sync_now().await;
            tokio::time::sleep(POLL).await;
        }
    }))
}

/// A TCP relay on loopback to `upstream`'s host and port; `cut` closes every connection
/// through it and refuses new ones until `restore`.
struct Relay {
    url: String,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    _accept: Task,
}

impl Relay {
    async fn start(upstream: &str) -> Relay {
        let upstream = url::Url::parse(upstream).unwrap();
        let upstream = format!("{}:{}", upstream.host_str().unwrap(), upstream.port_or_known_default().unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::<JoinHandle<()>>::new()));
        let (is_cut, open) = (cut.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if is_cut.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let upstream = upstream.clone();
                open.lock().unwrap().push(tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                }));
            }
        });
        Relay { url, cut, connections, _accept: Task(accept) }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_foreign_audience_or_a_missing_token_is_refused() {
    let stack = Stack::from_env();
    let guard = started_guard(&stack).await;
    let api = serve(&guard).await;

    // A genuine token of the stack, for another API
    let payments = seed_client(&[GrantType::ClientCredentials], "read", Some("https://payments.example.com")).await;
    let foreign = client_credentials(&stack, &payments).await;
    assert_invalid_token(&api.call(&foreign).await, "another audience");
    assert_eq!(refusal(&guard, &foreign).await, Some(Refusal::InvalidToken(VerifyError::WrongAudience)));

    // No token at all: RFC 6750 §3.1, a bare challenge with no error code
    let missing = api.get(None).await;
    assert_eq!(
        (missing.status, missing.challenge.as_deref()),
        (401, Some(r#"Bearer, DPoP algs="ES256 EdDSA RS256""#)),
        "{missing:?}"
    );
}

/// A DPoP-bound token (RFC 9449 §7) at an API behind the guard: accepted with the DPoP
/// scheme and a fresh proof by its key for `GET` on the API's URL, refused (with the
/// DPoP challenge) when the proof is replayed, by another key, or missing, and when the
/// token is sent as a bearer token.
#[tokio::test]
async fn a_dpop_bound_token_passes_the_guard_only_with_a_fresh_proof_by_its_key() {
    use shared::domain::SigningAlgorithm;
    use shared::testing::dpop::DpopKey;
    let stack = Stack::from_env();
    // The API's origin, which proofs name: the guard is told it (`public_origin`).
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = config(&stack, &resource_server().await);
    config.public_origin = Some(format!("http://{}", listener.local_addr().unwrap()));
    let guard = Guard::start(config).expect("the guard starts");
    tokio::time::timeout(PATIENCE, guard.ready()).await.expect("ready");
    let api = serve_on(listener, &guard).await;
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let key = DpopKey::generate(SigningAlgorithm::EdDsa);
    let token_url = format!("{}/oauth2/token", stack.issuer);
    let issued = stack
        .http
        .post(stack.url("/oauth2/token"))
        .header("authorization", client.basic())
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", key.proof("POST", &token_url, None))
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("the stack answers");
    let issued: Value = issued.json().await.expect("JSON");
    assert_eq!(issued["token_type"], "DPoP", "{issued}");
    let token = issued["access_token"].as_str().expect("a token").to_string();

    let call = |proof: Option<String>, scheme: &'static str| {
        let mut request = api.http.get(&api.url).header("authorization", format!("{scheme} {token}"));
        if let Some(proof) = proof {
            request = request.header("dpop", proof);
        }
        async move {
            let response = request.send().await.expect("the API answers");
            let challenge =
                response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).map(str::to_string);
            (response.status().as_u16(), challenge)
        }
    };
    let proof = key.proof("GET", &api.url, Some(&token));
    assert_eq!(call(Some(proof.clone()), "DPoP").await.0, 200);
    let bad_proof = Some(r#"DPoP error="invalid_dpop_proof", algs="ES256 EdDSA RS256""#.to_string());
    assert_eq!(call(Some(proof), "DPoP").await, (401, bad_proof.clone()), "replayed");
    let thief = DpopKey::generate(SigningAlgorithm::EdDsa);
    assert_eq!(
        call(Some(thief.proof("GET", &api.url, Some(&token))), "DPoP").await,
        (401, bad_proof.clone()),
        "another key"
    );
    assert_eq!(call(None, "DPoP").await, (401, bad_proof), "no proof");
    let wrong_scheme = Some(r#"DPoP error="invalid_token", algs="ES256 EdDSA RS256""#.to_string());
    assert_eq!(call(None, "Bearer").await, (401, wrong_scheme), "a bound token as Bearer");

    // A guard not told its origin accepts no DPoP token: it never trusts the caller's Host.
    let unconfigured = serve(&started_guard(&stack).await).await;
    let response = unconfigured
        .http
        .get(&unconfigured.url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", key.proof("GET", &unconfigured.url, Some(&token)))
        .send()
        .await
        .expect("the API answers");
    assert_eq!(response.status().as_u16(), 401, "without public_origin");
}
