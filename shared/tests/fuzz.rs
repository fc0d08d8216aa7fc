//! Parser fuzzing on stable Rust (GitHub issue #10): property-based tests, one proptest
//! `TestRunner` per parser, through the entry points the functions themselves use.
//!
//! Every target mixes valid inputs (a real minted token, a real refresh token, a valid
//! Basic header, a well-formed form body, a real API Gateway event) with mutations of them
//! (bit flips, truncations, deletions, duplications, delimiters, broken escapes, unicode)
//! and with plain random input, so that most cases get past the first check. The
//! properties: no input panics; no answer is a 5xx (the in-memory store never fails, so
//! any 5xx is a bug); nothing forged or mutated is accepted; and what a parser accepts,
//! it reads back exactly (a model of each format says what it must accept).
//!
//! * `FUZZ_CASES`: cases per target (default [`DEFAULT_CASES`], the CI budget).
//!   `make fuzz` runs 1,000,000 per target, optimised (`infra/fuzz.sh`).
//! * `FUZZ_SEED`: 64 hex digits to replay a run; a failing target prints the seed it used.
//! * `FUZZ_DETAIL`: break the API Gateway target's answers down by status and OAuth error.
//!
//! Failures are never persisted to files (the source tree stays clean): a failing target
//! prints its minimal input and its seed, and each finding is kept as a unit test beside
//! the parser it broke.
//!
//! Each target prints one line, `fuzz-result <target> <cases> <seconds> <what it reached>`,
//! which `infra/fuzz.sh` turns into a table.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value, json};
use shared::Services;
use shared::domain::{
    Attempted, BrowserSettings, ClientAuthentication, ClientLifetimes, ClientRecord, FamilyRecord, FamilyStatus,
    GrantType, Scope, SessionRecord, SigningAlgorithm, UserRecord,
};
use shared::endpoints::FromServices;
use shared::feed::{self, Cursor, EntryKind, FeedEntry, LogRecord, RevocationFeed, ShardRead, WholeBuckets};
use shared::ids::{ClientEpoch, ClientId, FamilyId, Jti, Sid, Subject};
use shared::keys::{KeyRing, KeySet, KeySetDocument};
use shared::lambda::EventHandler;
use shared::logout::delivery::{MAX_RETRY_AFTER, parse_retry_after};
use shared::oauth::client_auth::{AuthMethod, ClientCredentials, ClientDirectory, extract_credentials};
use shared::oauth::request::MAX_BODY_BYTES;
use shared::oauth::{BearerError, OAuthRequest};
use shared::secrets::{ClientSecretHash, PasswordHashString, SecretString};
use shared::signin::cookies::{CookiePolicy, Cookies};
use shared::signin::{Answer, SignIn};
use shared::store::{ClientAdmin, FailureStore, FeedLog, SessionRead, SessionWrite, StoreResult, UserAdmin};
use shared::testing::kit;
use shared::testing::memory::MemoryStore;
use shared::time::{UnixMillis, UnixTime};
use shared::tokens::access::{
    self, AccessTokenClaims, is_our_other_jwt, verify_access_token, verify_access_token_even_expired,
};
use shared::tokens::id_token::{self, IdTokenClaims};
use shared::tokens::logout as logout_token;
use shared::tokens::refresh::RefreshToken;
use shared::verify::ResourceRequest;
use shared::verify::{CheckError, TokenChecker, bearer_token};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

// ---------------------------------------------------------------------------------------
// The harness: cases and seed from the environment, one summary line per target.
// ---------------------------------------------------------------------------------------

/// The CI budget per target: the whole file runs in well under a minute in debug.
const DEFAULT_CASES: u32 = 10_000;

fn cases() -> u32 {
    match std::env::var("FUZZ_CASES") {
        Ok(raw) => raw.trim().replace('_', "").parse().unwrap_or_else(|_| panic!("FUZZ_CASES={raw:?}: not a number")),
        Err(_) => DEFAULT_CASES,
    }
}

fn seed() -> [u8; 32] {
    let Ok(hex) = std::env::var("FUZZ_SEED") else { return shared::ids::random_bytes::<32>() };
    let hex = hex.trim();
    assert!(hex.len() == 64 && hex.is_ascii(), "FUZZ_SEED must be 64 hex digits");
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("FUZZ_SEED must be 64 hex digits");
    }
    seed
}

/// What a target's cases reached (accepted tokens, statuses): the evidence that the
/// strategies get past the first check.
#[derive(Default)]
struct Reached(RefCell<BTreeMap<String, u64>>);

impl Reached {
    fn count(&self, what: impl Into<String>) {
        *self.0.borrow_mut().entry(what.into()).or_default() += 1;
    }

    fn summary(&self) -> String {
        let counts = self.0.borrow();
        if counts.is_empty() {
            return "-".into();
        }
        counts.iter().map(|(what, n)| format!("{what}={n}")).collect::<Vec<_>>().join(" ")
    }
}

/// Run one target: `FUZZ_CASES` cases of `strategy` through `test`, then print its line.
fn fuzz<S>(target: &str, strategy: S, test: impl Fn(S::Value, &Reached) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: Debug,
{
    let cases = cases();
    let seed = seed();
    let mut config = Config::with_cases(cases);
    // Nothing is written to the source tree; the seed printed below replays a run.
    config.failure_persistence = None;
    config.source_file = None;
    config.max_shrink_iters = 2048;
    config.max_shrink_time = 120_000;
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let reached = Reached::default();
    let started = Instant::now();
    let result = runner.run(&strategy, |value| test(value, &reached));
    let seconds = started.elapsed().as_secs_f64();
    let seed: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    println!("fuzz-result\t{target}\t{cases}\t{seconds:.1}\t{}", reached.summary());
    if let Err(err) = result {
        panic!("fuzz target {target} failed: {err}\nreplay: FUZZ_SEED={seed} FUZZ_CASES={cases}");
    }
}

/// One current-thread runtime per target, as a Lambda instance has.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime")
}

fn re(pattern: &str) -> BoxedStrategy<String> {
    proptest::string::string_regex(pattern).expect("a valid regex").boxed()
}

// ---------------------------------------------------------------------------------------
// Mutations: applied to the bytes of a valid input, so the fuzzer starts deep.
// ---------------------------------------------------------------------------------------

/// Delimiters, escapes, numbers and unicode that parsers of this service care about.
const PIECES: &[&str] = &[
    "%",
    "%2",
    "%zz",
    "%00",
    "%0A",
    "%C3",
    "%C3%28",
    "%FF",
    "%25",
    "+",
    "&",
    "=",
    ";",
    ":",
    ".",
    "..",
    ",",
    " ",
    "\t",
    "\r\n",
    "\0",
    "\u{7f}",
    "é",
    "\u{FFFD}",
    "𝄞",
    "\u{202E}",
    "\u{FEFF}",
    "\u{3000}",
    "١",
    "==",
    "-",
    "_",
    "/",
    "\\",
    "\"",
    "'",
    "{",
    "}",
    "[]",
    "null",
    "0",
    "-1",
    "00",
    "4294967296",
    "18446744073709551616",
    "1e309",
    "NaN",
    "Bearer ",
    "Basic ",
    "eyJ",
    "\u{10FFFF}",
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Piece(Index, &'static str),
    Delete(Index, u8),
    Truncate(Index),
    Duplicate(Index, u8),
}

fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte(at, byte)),
        1 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        3 => (any::<Index>(), select(PIECES)).prop_map(|(at, piece)| Mutation::Piece(at, piece)),
        2 => (any::<Index>(), 1u8..16).prop_map(|(at, n)| Mutation::Delete(at, n)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), 1u8..32).prop_map(|(at, n)| Mutation::Duplicate(at, n)),
    ]
    .boxed()
}

/// Mostly none (the valid input itself), else a few, sometimes many.
fn mutations() -> BoxedStrategy<Vec<Mutation>> {
    prop_oneof![
        3 => Just(Vec::new()),
        3 => prop::collection::vec(mutation(), 1..3),
        1 => prop::collection::vec(mutation(), 3..12),
    ]
    .boxed()
}

/// Fewer: for inputs whose intact form reaches the most code.
fn some_mutations() -> BoxedStrategy<Vec<Mutation>> {
    prop_oneof![1 => Just(Vec::new()), 1 => mutations()].boxed()
}

/// Rarely any: for parts of a recipe that should mostly stay valid.
fn rare_mutations() -> BoxedStrategy<Vec<Mutation>> {
    prop_oneof![8 => Just(Vec::new()), 1 => prop::collection::vec(mutation(), 1..4)].boxed()
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        let gap = |at: &Index| at.index(len + 1);
        match mutation {
            Mutation::FlipBit(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << bit,
            Mutation::SetByte(at, byte) if len > 0 => bytes[at.index(len)] = *byte,
            Mutation::Insert(at, more) => {
                let at = gap(at);
                bytes.splice(at..at, more.iter().copied());
            }
            Mutation::Piece(at, piece) => {
                let at = gap(at);
                bytes.splice(at..at, piece.bytes());
            }
            Mutation::Delete(at, n) if len > 0 => {
                let at = at.index(len);
                bytes.drain(at..(at + usize::from(*n)).min(len));
            }
            Mutation::Truncate(at) => bytes.truncate(gap(at)),
            Mutation::Duplicate(at, n) if len > 0 => {
                let at = at.index(len);
                let end = (at + usize::from(*n)).min(len);
                let copy = bytes[at..end].to_vec();
                bytes.splice(end..end, copy);
            }
            _ => {}
        }
    }
    bytes
}

/// Mutate text; bytes that are no longer UTF-8 become U+FFFD (the callers take `&str`).
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    if mutations.is_empty() {
        return text.to_string();
    }
    String::from_utf8_lossy(&apply(text.as_bytes().to_vec(), mutations)).into_owned()
}

/// Short text of every kind: printable ASCII, any unicode (controls included), pieces.
fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => re("[ -~]{0,24}"),
        2 => re("(?s).{0,16}"),
        1 => select(PIECES).prop_map(str::to_string),
    ]
    .boxed()
}

/// Text as a client percent-encodes it, well or badly: unreserved characters, escapes of
/// two hex digits, `%` before any two characters (a sign, a space, a non-hex letter) or
/// cut short, `+`, and anything else.
fn encoded_text() -> BoxedStrategy<String> {
    let token = prop_oneof![
        4 => re("[A-Za-z0-9._~-]"),
        2 => re("%[0-9A-Fa-f]{2}"),
        2 => re("%[ -~]{2}"),
        1 => re("%[ -~]?"),
        1 => Just("+".to_string()),
        1 => re("(?s)."),
    ];
    prop::collection::vec(token, 0..10).prop_map(|tokens| tokens.concat()).boxed()
}

/// A header value as API Gateway can deliver it: no control characters but tab.
fn header_safe(value: &str) -> String {
    value.chars().filter(|c| *c == '\t' || !c.is_control()).collect()
}

// ---------------------------------------------------------------------------------------
// The world: keys, an in-memory store with clients and a user, and live tokens.
// ---------------------------------------------------------------------------------------

const API_AUDIENCE: &str = "https://api.example.com";
const USER_PASSWORD: &str = "correct horse battery staple";
/// The browser client: public, with one redirect URI and one post-logout redirect URI.
const SPA: &str = "spa";
const SPA_CB: &str = "https://spa.example.com/cb";
const SPA_BYE: &str = "https://spa.example.com/bye";
/// The PKCE challenge of RFC 7636 Appendix B (verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk).
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The key set as a deployment holds it (ES256 access tokens, RS256 ID tokens), with
/// the private keys kept aside so that crafted tokens can carry a real signature.
struct Keys {
    ring: Arc<KeyRing>,
    set: Arc<KeySet>,
    es256: (String, EncodingKey),
    rs256: (String, EncodingKey),
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let document = KeySetDocument::generate_for(SigningAlgorithm::Es256).expect("a key set");
        let ring = Arc::new(KeyRing::fixed(KeySet::from_document(&document).expect("a key set")));
        let private = |alg: SigningAlgorithm| {
            let stored = document.keys.iter().find(|k| k.alg == alg).expect("a key of each algorithm");
            let pem = stored.private_key_pem.as_bytes();
            let key = match alg {
                SigningAlgorithm::Rs256 => EncodingKey::from_rsa_pem(pem),
                _ => EncodingKey::from_ec_pem(pem),
            };
            (stored.kid.clone(), key.expect("a PEM key"))
        };
        Keys {
            set: ring.snapshot(),
            ring,
            es256: private(SigningAlgorithm::Es256),
            rs256: private(SigningAlgorithm::Rs256),
        }
    })
}

/// The users' password hash, at argon2's smallest cost: a password grant that reaches a
/// user costs microseconds, not the 19 MiB of a real hash. (A username nobody holds still
/// costs a real argon2 run, the dummy check: the strategies reach those rarely.)
fn cheap_password_hash() -> PasswordHashString {
    use argon2::password_hash::{PasswordHasher, SaltString};
    static HASH: OnceLock<String> = OnceLock::new();
    let phc = HASH.get_or_init(|| {
        let params = argon2::Params::new(8, 1, 1, None).expect("argon2 parameters");
        let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let salt = SaltString::encode_b64(b"fuzz-salt-16byte").expect("a salt");
        argon.hash_password(USER_PASSWORD.as_bytes(), &salt).expect("a hash").to_string()
    });
    PasswordHashString::from_stored(phc.clone())
}

fn client(id: &str, grants: &[GrantType], scope: &str, admin: bool, audience: Option<&str>) -> ClientRecord {
    ClientRecord {
        dpop_bound_access_tokens: false,
        id: ClientId::new(id),
        epoch: ClientEpoch::random(),
        authentication: ClientAuthentication::Secret(
            ClientSecretHash::create(&SecretString::new(kit::CLIENT_SECRET)).expect("a secret"),
        ),
        grant_types: grants.iter().copied().collect(),
        scopes: Scope::parse(scope).expect("a scope"),
        audience: audience.map(str::to_string),
        may_introspect: admin,
        admin,
        backchannel_logout_uri: None,
        lifetimes: ClientLifetimes::default(),
        signing: Default::default(),
        browser: Default::default(),
    }
}

/// The services of one Lambda instance over a fresh in-memory store, with the clients
/// `app` (every grant, admin, may introspect, tokens for [`API_AUDIENCE`]), `other`
/// (client credentials and refresh only) and [`SPA`] (public, browser sign-in: the
/// authorization code and refresh grants, [`SPA_CB`] and [`SPA_BYE`] registered).
struct World {
    store: Arc<MemoryStore>,
    services: Services,
    endpoints: Endpoints,
    /// Browser sign-in, called directly to set up each browser case.
    sign_in: SignIn,
    app: ClientRecord,
    /// ID tokens are not revocable: one per world (RS256 signing is slow).
    id_token: String,
}

fn world(rt: &tokio::runtime::Runtime) -> World {
    let store = Arc::new(MemoryStore::new());
    let all = [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];
    let app = client("app", &all, "openid profile read write", true, Some(API_AUDIENCE));
    let other = client("other", &[GrantType::ClientCredentials, GrantType::RefreshToken], "read", false, None);
    let spa = ClientRecord {
        dpop_bound_access_tokens: false,
        authentication: ClientAuthentication::None,
        browser: BrowserSettings {
            name: Some("Fuzz SPA".into()),
            redirect_uris: vec![SPA_CB.into()],
            post_logout_redirect_uris: vec![SPA_BYE.into()],
            allowed_origins: Vec::new(),
        },
        ..client(SPA, &[GrantType::AuthorizationCode, GrantType::RefreshToken], "openid profile read", false, None)
    };
    rt.block_on(async {
        store.put_client(&app).await.expect("app");
        store.put_client(&other).await.expect("other");
        store.put_client(&spa).await.expect("spa");
    });
    let config = shared::config::Config {
        // No client cache: a failure count cleared in the store is cleared (`unthrottle`).
        client_cache_ttl: Duration::ZERO,
        expected_audience: Some(shared::config::ExpectedAudience::OneOf(vec![API_AUDIENCE.into()])),
        ..kit::config()
    };
    let services = Services::new(config, keys().ring.clone(), store.clone());
    let id_token = id_token(&Sid::random(), &Subject::random(), UnixTime::now());
    let sign_in = services.sign_in().expect("sign-in");
    World { store, endpoints: endpoints(&services), sign_in, services, app, id_token }
}

/// A fresh user, logged in at `app`, for one case: cases revoke, rotate and log out
/// (a subject's revoke-all covers its whole second), so each starts from live tokens.
#[derive(Clone)]
struct Live {
    username: String,
    access: String,
    refresh: String,
    id_token: String,
    sid: Sid,
    sub: Subject,
    /// A browser signed in at [`SPA`]: only in the cases of the browser routes.
    browser: Option<BrowserLive>,
    /// The revocation feed's cursor a reader holds: the last one the feed answered with
    /// in this target (`apigw_http_events`), else a new reader's.
    feed_cursor: String,
}

fn live(rt: &tokio::runtime::Runtime, world: &World) -> Live {
    let now = UnixTime::now();
    let set = &keys().set;
    let (sid, fid, sub) = (Sid::random(), FamilyId::random(), Subject::random());
    let user = UserRecord {
        username: format!("alice-{}", shared::ids::random_id()),
        sub: sub.clone(),
        password_hash: cheap_password_hash(),
        disabled: false,
    };
    let scope = Scope::parse("openid profile read").expect("scope");
    let session = SessionRecord {
        sid: sid.clone(),
        sub: sub.clone(),
        client_ids: [world.app.id.clone()].into_iter().collect(),
        auth_time: now,
        expires_at: now.plus(3600),
        browser: None,
    };
    let family = FamilyRecord {
        dpop_jkt: None,
        fid: fid.clone(),
        sid: sid.clone(),
        sub: sub.clone(),
        username: user.username.clone(),
        client_id: world.app.id.clone(),
        client_epoch: world.app.epoch.clone(),
        scope: scope.clone(),
        generation: 0,
        created_at: now,
        rotated_at: now,
        status: FamilyStatus::Active,
        expires_at: now.plus(3600),
    };
    let claims = AccessTokenClaims {
        cnf: None,
        iss: kit::ISSUER.into(),
        sub: sub.clone(),
        aud: API_AUDIENCE.into(),
        exp: now.plus(600),
        iat: now,
        jti: Jti::random(),
        client_id: world.app.id.clone(),
        scope,
        sid: Some(sid.clone()),
        fid: Some(fid.clone()),
        auth_time: Some(now),
    };
    rt.block_on(async {
        world.store.create_user(&user).await.expect("a user");
        world.store.begin_session(&session, &family).await.expect("a session");
    });
    unthrottle(rt, world);
    Live {
        username: user.username,
        access: access::mint(set, SigningAlgorithm::Es256, &claims).expect("an access token"),
        refresh: RefreshToken { family: fid, generation: 0 }.encode(set.refresh_mac_key()),
        id_token: world.id_token.clone(),
        sid,
        sub,
        browser: None,
        feed_cursor: Cursor::start().encode(),
    }
}

/// The case's browser, signed in at [`SPA`] through the sign-in itself (the login form,
/// then the user's password): its session cookie, a pending sign-in of its own with its
/// CSRF token, a sign-out CSRF token, and an ID token of [`SPA`] that names its session
/// (ES256, cheap enough to mint per case; an ID token's algorithm is its key's).
#[derive(Clone, Debug)]
struct BrowserLive {
    sid: Sid,
    /// The session cookie's value, `<sid>.<secret>`, as the login set it.
    session: String,
    secret: String,
    /// The pending sign-in: its id (the login form's `request`) and CSRF token (in the
    /// `__Host-signin-<id>` cookie).
    request: String,
    csrf: String,
    /// The sign-out confirmation's CSRF token (only ever in the browser: double submit).
    signout: String,
    hint: String,
}

fn browser_live(rt: &tokio::runtime::Runtime, world: &World, live: &Live) -> BrowserLive {
    let policy = CookiePolicy::for_issuer(kit::ISSUER);
    let now = UnixTime::now();
    rt.block_on(async {
        let (request, csrf) = pending_sign_in(&world.sign_in).await;
        let cookies = Cookies::parse([format!("{}={csrf}", policy.sign_in(&request)).as_str()]);
        let posted = format!(
            "request={request}&csrf={csrf}&username={}&password={}",
            escape(&live.username, Escape::Form),
            escape(USER_PASSWORD, Escape::Form)
        );
        let posted = OAuthRequest::parse(Some(FORM), None, posted.as_bytes()).expect("the login form");
        let answer = world.sign_in.login(&posted, &cookies).await;
        let Answer::Redirect { cookies, .. } = &answer else { panic!("the login failed: {answer:?}") };
        let prefix = format!("{}=", policy.session());
        let session = cookies
            .iter()
            .find_map(|c| c.header.strip_prefix(&prefix))
            .and_then(|rest| rest.split(';').next())
            .unwrap_or_else(|| panic!("no session cookie: {cookies:?}"))
            .to_string();
        let (sid, secret) = session.split_once('.').expect("<sid>.<secret>");
        let (sid, secret) = (Sid::new(sid), secret.to_string());
        let claims = IdTokenClaims {
            iss: kit::ISSUER.into(),
            sub: live.sub.clone(),
            aud: SPA.into(),
            exp: now.plus(600),
            iat: now,
            auth_time: now,
            sid: sid.clone(),
            nonce: Some("n-1".into()),
        };
        let hint = id_token::mint(&keys().set, SigningAlgorithm::Es256, &claims).expect("an ID token");
        let (request, csrf) = pending_sign_in(&world.sign_in).await;
        BrowserLive { sid, session, secret, request, csrf, signout: shared::ids::random_id(), hint }
    })
}

/// A fresh authorization request of [`SPA`] without a session: the login form's request
/// id and CSRF token (as its hidden fields and its cookie hold them).
async fn pending_sign_in(sign_in: &SignIn) -> (String, String) {
    let query = format!(
        "response_type=code&client_id={SPA}&redirect_uri={}&scope=openid+read&state=st-1&nonce=n-1\
         &code_challenge={CHALLENGE}&code_challenge_method=S256",
        escape(SPA_CB, Escape::Form)
    );
    let answer = sign_in.authorize(OAuthRequest::parse(Some(FORM), None, query.as_bytes()), &Cookies::default()).await;
    let Answer::Page { status: 200, page, cookies } = &answer else { panic!("no login form: {answer:?}") };
    let hidden = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.html.find(&marker).unwrap_or_else(|| panic!("no hidden {name}")) + marker.len();
        page.html[start..].split('"').next().unwrap_or_default().to_string()
    };
    let (request, csrf) = (hidden("request"), hidden("csrf"));
    let policy = CookiePolicy::for_issuer(kit::ISSUER);
    let cookie = format!("{}={csrf};", policy.sign_in(&request));
    assert!(cookies.iter().any(|c| c.header.starts_with(&cookie)), "no CSRF cookie {cookie}: {cookies:?}");
    (request, csrf)
}

/// Mutated client secrets count failures: each case starts unthrottled, so that the real
/// credentials keep reaching the grants. (Every case has a user of its own.)
fn unthrottle(rt: &tokio::runtime::Runtime, world: &World) {
    rt.block_on(async {
        for attempted in [Attempted::Client(ClientId::new("app")), Attempted::Client(ClientId::new("other"))] {
            world.store.clear_failures(&attempted).await.expect("cleared");
        }
    });
}

/// Live tokens re-minted every minute, for targets that run longer than their lifetime.
struct Fresh<'a> {
    rt: &'a tokio::runtime::Runtime,
    world: &'a World,
    live: RefCell<(Instant, Live)>,
}

impl<'a> Fresh<'a> {
    fn new(rt: &'a tokio::runtime::Runtime, world: &'a World) -> Self {
        Self { rt, world, live: RefCell::new((Instant::now(), live(rt, world))) }
    }

    fn get(&self) -> Live {
        let mut slot = self.live.borrow_mut();
        if slot.0.elapsed() > Duration::from_secs(60) {
            *slot = (Instant::now(), live(self.rt, self.world));
        }
        slot.1.clone()
    }
}

fn id_token(sid: &Sid, sub: &Subject, now: UnixTime) -> String {
    let claims = IdTokenClaims {
        iss: kit::ISSUER.into(),
        sub: sub.clone(),
        aud: "app".into(),
        exp: now.plus(600),
        iat: now,
        auth_time: now,
        sid: sid.clone(),
        nonce: None,
    };
    id_token::mint(&keys().set, SigningAlgorithm::Rs256, &claims).expect("an ID token")
}

/// A world rebuilt every `CASES_PER_WORLD` cases (so the store stays small over a
/// million), and after a case that panicked (a lock may be poisoned).
struct Worlds<'rt> {
    rt: &'rt tokio::runtime::Runtime,
    current: RefCell<Option<World>>,
    used: Cell<u32>,
    /// Set while a case runs: still set at the next case if the last one panicked.
    dirty: Cell<bool>,
}

const CASES_PER_WORLD: u32 = 5_000;

impl<'rt> Worlds<'rt> {
    fn new(rt: &'rt tokio::runtime::Runtime) -> Self {
        Self { rt, current: RefCell::new(None), used: Cell::new(0), dirty: Cell::new(false) }
    }

    /// Run `case` against the current world.
    fn with<T>(&self, case: impl FnOnce(&World) -> T) -> T {
        let mut slot = self.current.borrow_mut();
        if slot.is_none() || self.used.get() >= CASES_PER_WORLD || self.dirty.get() {
            *slot = Some(world(self.rt));
            self.used.set(0);
        }
        self.used.set(self.used.get() + 1);
        self.dirty.set(true);
        let result = case(slot.as_ref().expect("a world"));
        self.dirty.set(false);
        result
    }
}

// ---------------------------------------------------------------------------------------
// Target: the form parser (`OAuthRequest::parse`).
// ---------------------------------------------------------------------------------------

const FORM: &str = "application/x-www-form-urlencoded";
const PARAM_NAMES: &[&str] = &[
    "grant_type",
    "scope",
    "username",
    "password",
    "refresh_token",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
    "sid",
    "sub",
];

#[derive(Clone, Copy, Debug)]
enum Escape {
    /// `application/x-www-form-urlencoded` as a browser writes it.
    Form,
    /// Every byte `%XX`.
    PercentAll,
    /// Unescaped: `&`, `=`, `%` and `+` in it change the meaning.
    Raw,
}

fn escape(text: &str, how: Escape) -> String {
    match how {
        Escape::Form => url::form_urlencoded::byte_serialize(text.as_bytes()).collect(),
        Escape::PercentAll => text.bytes().map(|b| format!("%{b:02X}")).collect(),
        Escape::Raw => text.to_string(),
    }
}

fn escape_kind() -> BoxedStrategy<Escape> {
    prop_oneof![6 => Just(Escape::Form), 1 => Just(Escape::PercentAll), 1 => Just(Escape::Raw)].boxed()
}

#[derive(Clone, Debug)]
enum PairShape {
    NameValue,
    NameOnly,
    ValueOnly,
    TwoEquals,
}

#[derive(Clone, Debug)]
struct Pair {
    name: String,
    value: String,
    shape: PairShape,
    escape: Escape,
}

fn param_name() -> BoxedStrategy<String> {
    prop_oneof![4 => select(PARAM_NAMES).prop_map(str::to_string), 1 => any_text()].boxed()
}

fn pair() -> BoxedStrategy<Pair> {
    let shape = prop_oneof![
        12 => Just(PairShape::NameValue),
        1 => Just(PairShape::NameOnly),
        1 => Just(PairShape::ValueOnly),
        1 => Just(PairShape::TwoEquals),
    ];
    let value = prop_oneof![4 => any_text(), 1 => Just(String::new()), 1 => re("[A-Za-z0-9._~-]{20,200}")];
    let plain = (param_name(), value, shape.clone(), escape_kind()).prop_map(|(name, value, shape, escape)| Pair {
        name,
        value,
        shape,
        escape,
    });
    // Already encoded, well or badly: written as is.
    let encoded =
        (prop_oneof![3 => select(PARAM_NAMES).prop_map(str::to_string), 1 => encoded_text()], encoded_text(), shape)
            .prop_map(|(name, value, shape)| Pair { name, value, shape, escape: Escape::Raw });
    prop_oneof![4 => plain, 1 => encoded].boxed()
}

#[derive(Clone, Debug)]
enum BodyRecipe {
    Pairs {
        pairs: Vec<Pair>,
        separator: &'static str,
        mutations: Vec<Mutation>,
    },
    Bytes(Vec<u8>),
    /// A body around the size limit.
    Sized(usize),
}

impl BodyRecipe {
    fn render(&self) -> Vec<u8> {
        match self {
            BodyRecipe::Pairs { pairs, separator, mutations } => {
                let rendered: Vec<String> = pairs
                    .iter()
                    .map(|p| {
                        let (name, value) = (escape(&p.name, p.escape), escape(&p.value, p.escape));
                        match p.shape {
                            PairShape::NameValue => format!("{name}={value}"),
                            PairShape::NameOnly => name,
                            PairShape::ValueOnly => format!("={value}"),
                            PairShape::TwoEquals => format!("{name}={value}={value}"),
                        }
                    })
                    .collect();
                apply(rendered.join(separator).into_bytes(), mutations)
            }
            BodyRecipe::Bytes(bytes) => bytes.clone(),
            BodyRecipe::Sized(len) => b"grant_type=client_credentials&".iter().copied().cycle().take(*len).collect(),
        }
    }

    /// The parameters the generator meant, when nothing can have changed their meaning.
    fn intended(&self) -> Option<Vec<(String, String)>> {
        let BodyRecipe::Pairs { pairs, separator: "&", mutations } = self else { return None };
        let clean = mutations.is_empty()
            && pairs.iter().all(|p| matches!(p.shape, PairShape::NameValue) && !matches!(p.escape, Escape::Raw));
        clean.then(|| pairs.iter().map(|p| (p.name.clone(), p.value.clone())).collect())
    }
}

fn body_recipe() -> BoxedStrategy<BodyRecipe> {
    prop_oneof![
        24 => (prop::collection::vec(pair(), 0..8), select(&["&", "&", "&", "&&", ";", "&amp;"]), mutations())
            .prop_map(|(pairs, separator, mutations)| BodyRecipe::Pairs { pairs, separator, mutations }),
        6 => prop::collection::vec(any::<u8>(), 0..256).prop_map(BodyRecipe::Bytes),
        1 => select(vec![MAX_BODY_BYTES - 1, MAX_BODY_BYTES, MAX_BODY_BYTES + 1, 2 * MAX_BODY_BYTES])
            .prop_map(BodyRecipe::Sized),
    ]
    .boxed()
}

fn content_type() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        6 => Just(Some(FORM.to_string())),
        3 => re("[ \t]{0,2}(application/x-www-form-urlencoded|APPLICATION/X-WWW-FORM-URLENCODED|Application/X-Www-Form-Urlencoded)[ \t]{0,2}(;[ \t]{0,2}(charset=(utf-8|UTF-8|iso-8859-1|\"utf-8\")|[a-z]{1,8}=[ -~]{0,10})?){0,3}")
            .prop_map(Some),
        1 => Just(None),
        1 => select(&[
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencodedx",
            "application/x-www-form-urlencoded/x",
            ";application/x-www-form-urlencoded",
            "",
        ])
        .prop_map(|ct| Some(ct.to_string())),
        1 => (any_text(), mutations()).prop_map(|(ct, m)| Some(mutate(&ct, &m))),
    ]
    .boxed()
}

/// The spec of the media type check: the part before any parameter, without optional
/// whitespace, compared case-insensitively (RFC 9110 §8.3.1).
fn is_form(content_type: Option<&str>) -> bool {
    content_type.and_then(|ct| ct.split(';').next()).is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM))
}

#[test]
fn form_body() {
    let strategy = (content_type(), prop::option::of(any_text()), body_recipe());
    fuzz("form_body", strategy, |(content_type, authorization, recipe), reached| {
        let body = recipe.render();
        let result = OAuthRequest::parse(content_type.as_deref(), authorization.as_deref(), &body);
        let (too_large, form) = (body.len() > MAX_BODY_BYTES, is_form(content_type.as_deref()));
        // The model (RFC 6749 §3.1): the body's pairs as the URL standard decodes them,
        // empty values omitted, and a repeated parameter refused.
        let mut model: HashMap<String, String> = HashMap::new();
        let mut repeated = false;
        if !too_large && form {
            for (name, value) in url::form_urlencoded::parse(&body).filter(|(_, v)| !v.is_empty()) {
                repeated |= model.insert(name.into_owned(), value.into_owned()).is_some();
            }
        }
        match result {
            Err(err) => {
                prop_assert_eq!(err.status(), if too_large { 413 } else { 400 }, "{:?}", err);
                prop_assert!(too_large || !form || repeated, "refused a form without a repeated parameter: {:?}", err);
                reached.count(format!("refused_{}", err.status()));
            }
            Ok(request) => {
                prop_assert!(!too_large && form && !repeated);
                prop_assert_eq!(request.authorization.as_deref(), authorization.as_deref());
                for (name, value) in &model {
                    prop_assert_eq!(request.param(name), Some(value.as_str()));
                }
                // What the generator meant reads back exactly.
                if let Some(intended) = recipe.intended() {
                    for (name, value) in intended.iter().filter(|(_, v)| !v.is_empty()) {
                        prop_assert_eq!(request.param(name), Some(value.as_str()), "{}", name);
                    }
                }
                reached.count("parsed");
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: client authentication (`extract_credentials`, `ClientDirectory::authenticate`).
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Credentials {
    /// `app` and its real secret.
    Real,
    Pair {
        id: String,
        secret: String,
        id_escape: Escape,
        secret_escape: Escape,
        colon: &'static str,
    },
    /// An id and a secret already percent-encoded, well or badly.
    Encoded {
        id: String,
        secret: String,
    },
    /// A decoded payload that may not even be UTF-8.
    Bytes(Vec<u8>),
}

#[derive(Clone, Copy, Debug)]
enum Base64 {
    Standard,
    NoPad,
    UrlSafe,
    UrlSafeNoPad,
}

impl Base64 {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Base64::Standard => STANDARD.encode(bytes),
            Base64::NoPad => STANDARD_NO_PAD.encode(bytes),
            Base64::UrlSafe => URL_SAFE.encode(bytes),
            Base64::UrlSafeNoPad => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

fn base64_kind() -> BoxedStrategy<Base64> {
    prop_oneof![
        8 => Just(Base64::Standard),
        1 => Just(Base64::NoPad),
        1 => Just(Base64::UrlSafe),
        1 => Just(Base64::UrlSafeNoPad),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
struct BasicHeader {
    lead: &'static str,
    scheme: String,
    gap: &'static str,
    credentials: Credentials,
    base64: Base64,
    trail: &'static str,
    mutations: Vec<Mutation>,
}

impl BasicHeader {
    fn payload(&self) -> Vec<u8> {
        match &self.credentials {
            Credentials::Real => format!("app:{}", kit::CLIENT_SECRET).into_bytes(),
            Credentials::Pair { id, secret, id_escape, secret_escape, colon } => {
                format!("{}{colon}{}", escape(id, *id_escape), escape(secret, *secret_escape)).into_bytes()
            }
            Credentials::Encoded { id, secret } => format!("{id}:{secret}").into_bytes(),
            Credentials::Bytes(bytes) => bytes.clone(),
        }
    }

    fn render(&self) -> String {
        let header =
            format!("{}{}{}{}{}", self.lead, self.scheme, self.gap, self.base64.encode(&self.payload()), self.trail);
        mutate(&header, &self.mutations)
    }

    /// What a Basic header must yield when its scheme and base64 are well-formed: the
    /// payload's id and secret (split at the first `:`, each form-decoded), or a refusal.
    /// `None` when the header itself is not well-formed (then only the other properties hold).
    fn model(&self) -> Option<Option<(String, String)>> {
        let well_formed = self.mutations.is_empty()
            && self.scheme.eq_ignore_ascii_case("basic")
            && matches!(self.gap, " " | "  ")
            && matches!(self.trail, "" | " ")
            && matches!(self.base64, Base64::Standard);
        well_formed.then(|| {
            let payload = String::from_utf8(self.payload()).ok()?;
            let (id, secret) = payload.split_once(':')?;
            let (id, secret) = (strict_form_decode(id)?, strict_form_decode(secret)?);
            (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
        })
    }
}

/// `application/x-www-form-urlencoded` decoding of one value, refusing what is not an
/// escape: every `%` is followed by two hex digits (RFC 3986 §2.1), `+` is a space, and
/// the result is UTF-8.
fn strict_form_decode(raw: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut rest = raw.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        rest = tail;
        match first {
            b'%' => {
                let (hex, tail) = (rest.get(..2)?, &rest[2..]);
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                rest = tail;
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

fn basic_header() -> BoxedStrategy<BasicHeader> {
    let scheme = prop_oneof![
        8 => select(&["Basic", "basic", "BASIC", "bAsIc"]).prop_map(str::to_string),
        1 => select(&["Bearer", "Digest", "Basic:", "Basi", "Basicc", ""]).prop_map(str::to_string),
        1 => any_text(),
    ];
    let id = prop_oneof![3 => Just("app".to_string()), 3 => any_text(), 1 => re("[a-z]{1,8}:[a-z]{1,8}")];
    let secret = prop_oneof![3 => Just(kit::CLIENT_SECRET.to_string()), 3 => any_text()];
    let pair = (id, secret, escape_kind(), escape_kind(), select(&[":", ":", ":", ":", "", "::", "%3A"])).prop_map(
        |(id, secret, id_escape, secret_escape, colon)| Credentials::Pair {
            id,
            secret,
            id_escape,
            secret_escape,
            colon,
        },
    );
    let encoded = (encoded_text(), encoded_text()).prop_map(|(id, secret)| Credentials::Encoded { id, secret });
    let credentials = prop_oneof![
        6 => Just(Credentials::Real),
        6 => pair,
        3 => encoded,
        1 => prop::collection::vec(any::<u8>(), 0..48).prop_map(Credentials::Bytes),
    ];
    (
        select(&["", "", "", " ", "\t"]),
        scheme,
        select(&[" ", " ", " ", "  ", "\t", ""]),
        credentials,
        base64_kind(),
        select(&["", "", "", " ", "=", ",", " x"]),
        some_mutations(),
    )
        .prop_map(|(lead, scheme, gap, credentials, base64, trail, mutations)| BasicHeader {
            lead,
            scheme,
            gap,
            credentials,
            base64,
            trail,
            mutations,
        })
        .boxed()
}

#[test]
fn client_auth_basic() {
    let rt = runtime();
    let worlds = Worlds::new(&rt);
    let body_id = prop::option::weighted(0.25, prop_oneof![2 => Just("app".to_string()), 1 => any_text()]);
    let body_secret =
        prop::option::weighted(0.15, prop_oneof![1 => Just(kit::CLIENT_SECRET.to_string()), 1 => any_text()]);
    let strategy = (prop::option::weighted(0.85, basic_header()), body_id, body_secret);
    fuzz("client_auth_basic", strategy, |(header, body_id, body_secret), reached| {
        let authorization = header.as_ref().map(BasicHeader::render);
        let mut body = Vec::new();
        for (name, value) in [("client_id", &body_id), ("client_secret", &body_secret)] {
            if let Some(value) = value {
                body.push(format!("{name}={}", escape(value, Escape::Form)));
            }
        }
        let request = OAuthRequest::parse(Some(FORM), authorization.as_deref(), body.join("&").as_bytes())
            .map_err(|err| TestCaseError::fail(format!("a clean body was refused: {err:?}")))?;
        let (body_id, body_secret) = (body_id.filter(|v| !v.is_empty()), body_secret.filter(|v| !v.is_empty()));
        let extracted = extract_credentials(&request);
        match &extracted {
            Ok(credentials) => {
                let ClientCredentials::Secret { id, secret, method } = credentials else {
                    return Err(TestCaseError::fail(format!("an assertion from a form without one: {credentials:?}")));
                };
                prop_assert!(!id.as_str().is_empty() && !secret.expose().is_empty());
                match method {
                    AuthMethod::ClientSecretBasic => {
                        prop_assert!(authorization.is_some() && body_secret.is_none());
                        prop_assert!(body_id.as_deref().is_none_or(|body_id| body_id == id.as_str()));
                    }
                    AuthMethod::ClientSecretPost => prop_assert!(authorization.is_none()),
                    AuthMethod::PrivateKeyJwt => return Err(TestCaseError::fail("a secret as private_key_jwt")),
                }
                reached.count(format!("{method:?}"));
            }
            Err(err) => {
                prop_assert!(matches!(err.status(), 400 | 401), "{:?}", err);
                reached.count(format!("refused_{}", err.status()));
            }
        }
        // A well-formed Basic header yields exactly its id and secret, or is refused.
        if let (Some(model), None) = (header.as_ref().and_then(BasicHeader::model), &body_secret) {
            let expected = model.filter(|(id, _)| body_id.as_deref().is_none_or(|b| b == id));
            match (&extracted, expected) {
                (Ok(ClientCredentials::Secret { id: got_id, secret: got_secret, .. }), Some((id, secret))) => {
                    prop_assert_eq!(got_id.as_str(), id.as_str());
                    prop_assert_eq!(got_secret.expose(), secret.as_str());
                }
                (Ok(credentials @ ClientCredentials::Assertion(_)), Some(_)) => {
                    return Err(TestCaseError::fail(format!("a Basic header read as an assertion: {credentials:?}")));
                }
                (Ok(credentials), None) => {
                    return Err(TestCaseError::fail(format!(
                        "accepted a Basic header the model refuses: {credentials:?}"
                    )));
                }
                (Err(err), Some(_)) => {
                    return Err(TestCaseError::fail(format!("refused a valid Basic header: {err:?}")));
                }
                (Err(_), None) => {}
            }
        }
        // Through the client directory: a 4xx or the client itself, never a 5xx.
        let authenticated = worlds.with(|world| {
            unthrottle(&rt, world);
            let directory = ClientDirectory::new(world.store.clone(), world.store.clone(), kit::ISSUER, Duration::ZERO);
            rt.block_on(directory.authenticate(&request))
        });
        match authenticated {
            Ok(client) => {
                let credentials =
                    extracted.as_ref().map_err(|_| TestCaseError::fail("authenticated without credentials"))?;
                let ClientCredentials::Secret { id, secret, .. } = credentials else {
                    return Err(TestCaseError::fail("authenticated by an assertion nobody made"));
                };
                prop_assert_eq!(client.id.as_str(), id.as_str());
                prop_assert_eq!(secret.expose(), kit::CLIENT_SECRET);
                reached.count("authenticated");
            }
            Err(err) => prop_assert!(matches!(err.status(), 400 | 401 | 429), "{:?}", err),
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: Bearer and other authorization headers (`bearer_token`, userinfo, authorizer).
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum TokenPick {
    Access,
    IdToken,
    Refresh,
    Text(String),
}

impl TokenPick {
    fn render(&self, live: &Live) -> String {
        match self {
            TokenPick::Access => live.access.clone(),
            TokenPick::IdToken => live.id_token.clone(),
            TokenPick::Refresh => live.refresh.clone(),
            TokenPick::Text(text) => text.clone(),
        }
    }
}

fn token_pick() -> BoxedStrategy<TokenPick> {
    prop_oneof![
        6 => Just(TokenPick::Access),
        1 => Just(TokenPick::IdToken),
        1 => Just(TokenPick::Refresh),
        2 => any_text().prop_map(TokenPick::Text),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
struct BearerHeader {
    lead: &'static str,
    scheme: String,
    gap: &'static str,
    token: TokenPick,
    token_mutations: Vec<Mutation>,
    trail: &'static str,
    mutations: Vec<Mutation>,
}

impl BearerHeader {
    fn render(&self, live: &Live) -> String {
        let token = mutate(&self.token.render(live), &self.token_mutations);
        mutate(&format!("{}{}{}{token}{}", self.lead, self.scheme, self.gap, self.trail), &self.mutations)
    }

    /// Whether this is `Bearer <the live access token>`, untouched.
    fn is_the_live_token(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
            && matches!(self.token, TokenPick::Access)
            && self.token_mutations.is_empty()
            && self.mutations.is_empty()
            && matches!(self.gap, " " | "  ")
            && matches!(self.trail, "" | " ")
    }
}

fn bearer_header() -> BoxedStrategy<BearerHeader> {
    let scheme = prop_oneof![
        8 => select(&["Bearer", "bearer", "BEARER", "bEaReR"]).prop_map(str::to_string),
        1 => select(&["Basic", "DPoP", "MAC", "Bearer:", "Bear", "Bearerr", "", "Token"]).prop_map(str::to_string),
        1 => any_text(),
    ];
    (
        select(&["", "", "", " ", "\t", "\u{3000}"]),
        scheme,
        select(&[" ", " ", " ", "  ", "\t", "", " \t "]),
        token_pick(),
        some_mutations(),
        select(&["", "", "", " ", " x", ", Bearer x", ",", "\t"]),
        rare_mutations(),
    )
        .prop_map(|(lead, scheme, gap, token, token_mutations, trail, mutations)| BearerHeader {
            lead,
            scheme,
            gap,
            token,
            token_mutations,
            trail,
            mutations,
        })
        .boxed()
}

#[test]
fn bearer_header_userinfo_and_authorizer() {
    let rt = runtime();
    let world = world(&rt);
    let fresh = Fresh::new(&rt, &world);
    let userinfo = world.services.userinfo();
    let authorizer = world.services.authorizer().expect("an authorizer");
    fuzz("bearer_header", prop::option::weighted(0.95, bearer_header()), |header, reached| {
        let live = fresh.get();
        let rendered = header.as_ref().map(|h| h.render(&live));
        let token = bearer_token(rendered.as_deref());
        if let (Some(token), Some(rendered)) = (token, rendered.as_deref()) {
            prop_assert!(!token.is_empty() && !token.contains(' ') && rendered.contains(token));
            let scheme = rendered.trim().split_once(' ').map(|(scheme, _)| scheme);
            prop_assert!(scheme.is_some_and(|s| s.eq_ignore_ascii_case("bearer")), "{:?}", rendered);
        }
        let live_token = header.as_ref().is_some_and(BearerHeader::is_the_live_token);
        if live_token {
            prop_assert_eq!(token, Some(live.access.as_str()));
        }
        let request = ResourceRequest::with_authorization(rendered.as_deref());
        let (info, decision) =
            rt.block_on(async { (userinfo.userinfo(&request).await, authorizer.decide(&request).await) });
        match info {
            Ok(info) => {
                prop_assert_eq!(token, Some(live.access.as_str()), "userinfo for another token");
                prop_assert_eq!(info["sub"].as_str(), Some(live.sub.as_str()));
                reached.count("userinfo_200");
            }
            Err(BearerError::Failed(err)) => {
                return Err(TestCaseError::fail(format!("userinfo {}: {err:?}", err.status())));
            }
            Err(err) => {
                prop_assert!(!live_token, "userinfo refused the live token: {:?}", err);
                prop_assert!(rendered.is_some() || err == BearerError::Missing);
            }
        }
        if decision.allow {
            prop_assert_eq!(token, Some(live.access.as_str()), "the authorizer allowed another token");
            reached.count("authorizer_allow");
        } else {
            prop_assert!(!live_token, "the authorizer denied the live token");
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: refresh-token parsing (`RefreshToken::decode`).
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum FamilyPick {
    Valid(String),
    Text(String),
}

#[derive(Clone, Debug)]
enum MacPick {
    /// The real MAC of the signed part, as the server writes it.
    Exact,
    /// The real MAC, in another base64 spelling.
    Respelled(Base64),
    /// The real MAC with a bit flipped, or cut short.
    Damaged(Vec<Mutation>),
    Text(String),
}

#[derive(Clone, Debug)]
enum RefreshRecipe {
    /// A token the server issued, then maybe mutated.
    Issued {
        generation: u32,
        mutations: Vec<Mutation>,
    },
    /// Any family and generation spelling, with a MAC of our key over exactly that.
    Signed {
        family: FamilyPick,
        generation: String,
        mac: MacPick,
    },
    Text(String),
}

fn generation_spelling() -> BoxedStrategy<String> {
    prop_oneof![
        4 => any::<u32>().prop_map(|g| g.to_string()),
        2 => re("[0-9]{1,12}"),
        1 => re("0[0-9]{1,3}"),
        2 => select(&[
            "", "0", "00", "+1", "-0", "-1", " 1", "1 ", "0x1", "１", "٣", "1_0", "1e3", "4294967295", "4294967296",
            "99999999999", "00000000000", "18446744073709551616",
        ])
        .prop_map(str::to_string),
        1 => any_text(),
    ]
    .boxed()
}

fn refresh_recipe() -> BoxedStrategy<RefreshRecipe> {
    let family = prop_oneof![
        5 => re("[A-Za-z0-9_-]{22}").prop_map(FamilyPick::Valid),
        1 => re("[A-Za-z0-9_-]{21}|[A-Za-z0-9_-]{23}|[A-Za-z0-9+/=]{22}").prop_map(FamilyPick::Text),
        1 => any_text().prop_map(FamilyPick::Text),
    ];
    let mac = prop_oneof![
        6 => Just(MacPick::Exact),
        1 => base64_kind().prop_map(MacPick::Respelled),
        2 => prop::collection::vec(mutation(), 1..3).prop_map(MacPick::Damaged),
        1 => any_text().prop_map(MacPick::Text),
    ];
    prop_oneof![
        5 => (any::<u32>(), mutations()).prop_map(|(generation, mutations)| RefreshRecipe::Issued { generation, mutations }),
        5 => (family, generation_spelling(), mac)
            .prop_map(|(family, generation, mac)| RefreshRecipe::Signed { family, generation, mac }),
        1 => prop_oneof![re("[A-Za-z0-9_.-]{0,80}"), any_text()].prop_map(RefreshRecipe::Text),
    ]
    .boxed()
}

#[test]
fn refresh_token() {
    let key = keys().set.refresh_mac_key();
    let family = FamilyId::random();
    fuzz("refresh_token", refresh_recipe(), |recipe, reached| {
        let (token, must_accept) = match &recipe {
            RefreshRecipe::Issued { generation, mutations } => {
                let issued = RefreshToken { family: family.clone(), generation: *generation }.encode(key);
                let token = mutate(&issued, mutations);
                (token.clone(), Some(token == issued))
            }
            RefreshRecipe::Signed { family, generation, mac } => {
                let (FamilyPick::Valid(fid) | FamilyPick::Text(fid)) = family;
                let message = format!("{fid}.{generation}");
                let tag = aws_lc_rs::hmac::sign(key, message.as_bytes());
                let mac_text = match mac {
                    MacPick::Exact => URL_SAFE_NO_PAD.encode(tag.as_ref()),
                    MacPick::Respelled(base64) => base64.encode(tag.as_ref()),
                    MacPick::Damaged(mutations) => mutate(&URL_SAFE_NO_PAD.encode(tag.as_ref()), mutations),
                    MacPick::Text(text) => text.clone(),
                };
                // The model: a family id of ours, the one decimal spelling of a u32, and
                // the MAC exactly as issued.
                let canonical = generation.parse::<u32>().is_ok_and(|g| g.to_string() == *generation);
                let exact = mac_text == URL_SAFE_NO_PAD.encode(tag.as_ref());
                let ours = fid.len() == 22 && fid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                let model = ours && canonical && exact;
                (format!("{message}.{mac_text}"), Some(model))
            }
            RefreshRecipe::Text(text) => (text.clone(), None),
        };
        match RefreshToken::decode(&token, key) {
            Ok(decoded) => {
                // One spelling per token: what decodes, encodes back to the same text.
                prop_assert_eq!(decoded.encode(key), token);
                prop_assert!(must_accept != Some(false), "accepted a token the model refuses");
                reached.count("accepted");
            }
            Err(_) => {
                prop_assert!(must_accept != Some(true), "refused a token the model accepts");
                reached.count("refused");
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: JWT header and claims decoding (every verifier of access, ID and logout tokens).
// ---------------------------------------------------------------------------------------

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        select(&[0.5, -0.0, 1e300, -1e300, 1.7e9, f64::MAX, f64::MIN_POSITIVE]).prop_map(Value::from),
        any_text().prop_map(Value::from),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((any_text(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
        .boxed()
}

/// One header or claim field: the value a real token has, absent, or anything else.
#[derive(Clone, Debug)]
enum Field {
    Valid,
    Absent,
    Is(Value),
}

fn field(others: &'static [&'static str]) -> BoxedStrategy<Field> {
    prop_oneof![
        40 => Just(Field::Valid),
        1 => Just(Field::Absent),
        2 => select(others).prop_map(|s| Field::Is(Value::from(s))),
        1 => json_value().prop_map(Field::Is),
    ]
    .boxed()
}

const CLAIMS: &[&str] =
    &["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "sid", "fid", "auth_time"];

#[derive(Clone, Copy, Debug)]
enum Signer {
    Es256,
    Rs256,
}

#[derive(Clone, Debug)]
enum Signature {
    /// A real signature of our key over exactly this header and payload.
    Ours(Signer),
    Bytes(Vec<u8>),
    Text(String),
}

#[derive(Clone, Debug)]
enum PartEncoding {
    UrlSafeNoPad,
    Other(Base64),
    /// The JSON text itself, unencoded.
    Raw,
}

#[derive(Clone, Debug)]
struct Crafted {
    alg: Field,
    typ: Field,
    kid: Field,
    header_extra: Vec<(String, Value)>,
    claims: Vec<Field>,
    claims_extra: Vec<(String, Value)>,
    /// JSON text that replaces the header or the payload (`None`: the fields above).
    header_text: Option<String>,
    payload_text: Option<String>,
    encoding: PartEncoding,
    signature: Signature,
    mutations: Vec<Mutation>,
}

#[derive(Clone, Copy, Debug)]
enum RealToken {
    Access,
    ExpiredAccess,
    ForeignAudience,
    IdToken,
    LogoutToken,
}

#[derive(Clone, Debug)]
enum JwtRecipe {
    Real(RealToken, Vec<Mutation>),
    Crafted(Box<Crafted>),
    Segments(Vec<String>),
}

#[derive(Clone, Copy, Debug)]
enum Verifier {
    Access,
    AccessAnyAudience,
    EvenExpired,
    OtherJwt,
    Checker,
}

fn crafted() -> BoxedStrategy<Crafted> {
    let header = (
        field(&["ES256", "RS256", "EdDSA", "HS256", "none", "None", "ES384", "PS256", ""]),
        field(&["AT+JWT", "application/at+jwt", "Application/AT+JWT", "JWT", "logout+jwt", "at+jwt ", "jwt", ""]),
        field(&["", "kid", "../../etc/passwd"]),
        prop::collection::vec(
            (
                prop_oneof![
                    select(&["crit", "b64", "jku", "jwk", "x5c", "x5u", "cty", "zip", "enc"]).prop_map(str::to_string),
                    any_text()
                ],
                json_value(),
            ),
            0..2,
        ),
    );
    let claims = (
        prop::collection::vec(field(&["", "0", "-1", "https://auth.example.com/", "app", "openid"]), CLAIMS.len()),
        prop::collection::vec((any_text(), json_value()), 0..2),
    );
    let text_override = || prop::option::weighted(0.05, prop_oneof![any_text(), re("\\{[ -~]{0,40}\\}?")]);
    let encoding = prop_oneof![
        12 => Just(PartEncoding::UrlSafeNoPad),
        1 => base64_kind().prop_map(PartEncoding::Other),
        1 => Just(PartEncoding::Raw),
    ];
    let signature = prop_oneof![
        16 => Just(Signature::Ours(Signer::Es256)),
        1 => Just(Signature::Ours(Signer::Rs256)),
        2 => prop::collection::vec(any::<u8>(), 0..80).prop_map(Signature::Bytes),
        1 => any_text().prop_map(Signature::Text),
    ];
    (header, claims, text_override(), text_override(), encoding, signature, rare_mutations())
        .prop_map(
            |(
                (alg, typ, kid, header_extra),
                (claims, claims_extra),
                header_text,
                payload_text,
                encoding,
                signature,
                mutations,
            )| {
                Crafted {
                    alg,
                    typ,
                    kid,
                    header_extra,
                    claims,
                    claims_extra,
                    header_text,
                    payload_text,
                    encoding,
                    signature,
                    mutations,
                }
            },
        )
        .boxed()
}

fn jwt_recipe() -> BoxedStrategy<JwtRecipe> {
    let real = prop_oneof![
        6 => Just(RealToken::Access),
        1 => Just(RealToken::ExpiredAccess),
        1 => Just(RealToken::ForeignAudience),
        1 => Just(RealToken::IdToken),
        1 => Just(RealToken::LogoutToken),
    ];
    let segment = prop_oneof![re("[A-Za-z0-9_-]{0,40}"), any_text(), Just("eyJhbGciOiJub25lIn0".to_string())];
    prop_oneof![
        4 => (real, mutations()).prop_map(|(kind, m)| JwtRecipe::Real(kind, m)),
        6 => crafted().prop_map(|c| JwtRecipe::Crafted(Box::new(c))),
        1 => prop::collection::vec(segment, 0..6).prop_map(JwtRecipe::Segments),
    ]
    .boxed()
}

/// The real tokens of this target, re-minted every minute (a run outlives them).
struct RealTokens {
    at: Instant,
    access: String,
    expired_access: String,
    foreign_audience: String,
    id_token: String,
    logout_token: String,
}

impl RealTokens {
    fn mint() -> Self {
        let (set, now) = (&keys().set, UnixTime::now());
        let access = |aud: &str, iat: UnixTime, exp: UnixTime| {
            let claims = AccessTokenClaims { aud: aud.into(), iat, exp, ..kit::access_claims("app", now) };
            access::mint(set, SigningAlgorithm::Es256, &claims).expect("a token")
        };
        let (sid, sub) = (Sid::random(), Subject::random());
        let logout =
            logout_token::mint(set, SigningAlgorithm::Rs256, kit::ISSUER, &ClientId::new("app"), &sid, &sub, now);
        RealTokens {
            at: Instant::now(),
            access: access(API_AUDIENCE, now, now.plus(600)),
            expired_access: access(API_AUDIENCE, UnixTime(now.0 - 700), UnixTime(now.0 - 100)),
            foreign_audience: access("https://elsewhere.example.com", now, now.plus(600)),
            id_token: id_token(&sid, &sub, now),
            logout_token: logout.expect("a logout token"),
        }
    }

    fn get(&self, kind: RealToken) -> &str {
        match kind {
            RealToken::Access => &self.access,
            RealToken::ExpiredAccess => &self.expired_access,
            RealToken::ForeignAudience => &self.foreign_audience,
            RealToken::IdToken => &self.id_token,
            RealToken::LogoutToken => &self.logout_token,
        }
    }
}

impl Crafted {
    /// The token, and whether it is ours.
    fn render(&self, now: UnixTime) -> (String, bool) {
        let keys = keys();
        let signer = match self.signature {
            Signature::Ours(Signer::Rs256) => Signer::Rs256,
            _ => Signer::Es256,
        };
        let (kid, alg) = match signer {
            Signer::Es256 => (&keys.es256.0, "ES256"),
            Signer::Rs256 => (&keys.rs256.0, "RS256"),
        };
        let mut header = Map::new();
        for (name, field, valid) in
            [("alg", &self.alg, json!(alg)), ("typ", &self.typ, json!("at+jwt")), ("kid", &self.kid, json!(kid))]
        {
            set_field(&mut header, name, field, valid);
        }
        header.extend(self.header_extra.iter().cloned());
        let mut claims = Map::new();
        for (name, field) in CLAIMS.iter().zip(&self.claims) {
            let valid = match *name {
                "iss" => json!(kit::ISSUER),
                "sub" => json!("user-1"),
                "aud" => json!(API_AUDIENCE),
                "exp" => json!(now.0 + 600),
                "iat" | "auth_time" => json!(now.0),
                "nbf" => json!(now.0 - 10),
                "jti" | "sid" | "fid" => json!(shared::ids::random_id()),
                "client_id" => json!("app"),
                _ => json!("openid read"),
            };
            set_field(&mut claims, name, field, valid);
        }
        claims.extend(self.claims_extra.iter().cloned());
        let header_text = self.header_text.clone().unwrap_or_else(|| Value::Object(header).to_string());
        let payload_text = self.payload_text.clone().unwrap_or_else(|| Value::Object(claims).to_string());
        let encode = |text: &str| match &self.encoding {
            PartEncoding::UrlSafeNoPad => URL_SAFE_NO_PAD.encode(text),
            PartEncoding::Other(base64) => base64.encode(text.as_bytes()),
            PartEncoding::Raw => text.to_string(),
        };
        let message = format!("{}.{}", encode(&header_text), encode(&payload_text));
        let signature = match &self.signature {
            Signature::Ours(Signer::Es256) => sign(&message, &keys.es256.1, Algorithm::ES256),
            Signature::Ours(Signer::Rs256) => sign(&message, &keys.rs256.1, Algorithm::RS256),
            Signature::Bytes(bytes) => URL_SAFE_NO_PAD.encode(bytes),
            Signature::Text(text) => text.clone(),
        };
        let token = format!("{message}.{signature}");
        // Ours: our real signature over exactly this header and payload.
        let mutated = mutate(&token, &self.mutations);
        let ours = matches!(self.signature, Signature::Ours(_)) && mutated == token;
        (mutated, ours)
    }
}

fn set_field(map: &mut Map<String, Value>, name: &str, field: &Field, valid: Value) {
    match field {
        Field::Valid => {
            map.insert(name.into(), valid);
        }
        Field::Absent => {}
        Field::Is(value) => {
            map.insert(name.into(), value.clone());
        }
    }
}

fn sign(message: &str, key: &EncodingKey, alg: Algorithm) -> String {
    jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).expect("a signature")
}

fn verifier() -> BoxedStrategy<Verifier> {
    prop_oneof![
        4 => Just(Verifier::Access),
        1 => Just(Verifier::AccessAnyAudience),
        2 => Just(Verifier::EvenExpired),
        2 => Just(Verifier::OtherJwt),
        2 => Just(Verifier::Checker),
    ]
    .boxed()
}

#[test]
fn jwt_decoding() {
    let rt = runtime();
    let set = keys().set.clone();
    let real = RefCell::new(RealTokens::mint());
    let checker = TokenChecker { issuer: kit::ISSUER.into(), revocations: Arc::new(MemoryStore::new()) };
    let audience = [API_AUDIENCE.to_string()];
    fuzz("jwt_decoding", (jwt_recipe(), verifier()), |(recipe, verifier), reached| {
        let now = UnixTime::now();
        let (token, ours) = match &recipe {
            JwtRecipe::Real(kind, mutations) => {
                if real.borrow().at.elapsed() > Duration::from_secs(60) {
                    *real.borrow_mut() = RealTokens::mint();
                }
                let real = real.borrow();
                let token = mutate(real.get(*kind), mutations);
                let ours = token == real.get(*kind);
                (token, ours)
            }
            JwtRecipe::Crafted(crafted) => crafted.render(now),
            JwtRecipe::Segments(segments) => (segments.join("."), false),
        };
        // Accepted claims: ours, for this issuer, and (when checked) unexpired.
        let accepted = |claims: &AccessTokenClaims, expiry: bool| -> Result<(), TestCaseError> {
            prop_assert!(ours, "accepted a token we did not sign: {}", token);
            prop_assert_eq!(claims.iss.as_str(), kit::ISSUER);
            prop_assert!(!expiry || claims.exp > now, "accepted an expired token");
            Ok(())
        };
        let header_typ =
            || jsonwebtoken::decode_header(&token).ok().and_then(|h| h.typ).map(|t| t.to_ascii_lowercase());
        let outcome = match verifier {
            Verifier::Access => match verify_access_token(&set, &token, kit::ISSUER, Some(&audience), now) {
                Ok(claims) => {
                    accepted(&claims, true)?;
                    prop_assert_eq!(claims.aud.as_str(), API_AUDIENCE);
                    prop_assert!(matches!(header_typ().as_deref(), Some("at+jwt" | "application/at+jwt")));
                    true
                }
                Err(_) => false,
            },
            Verifier::AccessAnyAudience => match verify_access_token(&set, &token, kit::ISSUER, None, now) {
                Ok(claims) => accepted(&claims, true).map(|()| true)?,
                Err(_) => false,
            },
            Verifier::EvenExpired => match verify_access_token_even_expired(&set, &token, kit::ISSUER) {
                Ok(claims) => accepted(&claims, false).map(|()| true)?,
                Err(_) => false,
            },
            Verifier::OtherJwt => {
                let other = is_our_other_jwt(&set, &token, kit::ISSUER);
                prop_assert!(!other || ours, "took a token we did not sign for ours: {}", token);
                prop_assert!(!other || header_typ().as_deref() == Some("jwt"));
                other
            }
            Verifier::Checker => match rt.block_on(checker.check_access_token(&set, &token, Some(&audience))) {
                Ok(claims) => accepted(&claims, true).map(|()| true)?,
                Err(CheckError::Store(err)) => return Err(TestCaseError::fail(format!("store error: {err}"))),
                Err(_) => false,
            },
        };
        // The real access token always passes the access-token verifiers.
        if let (JwtRecipe::Real(RealToken::Access, _), true) = (&recipe, ours) {
            prop_assert!(outcome || matches!(verifier, Verifier::OtherJwt), "the real access token was refused");
        }
        let kind = match &recipe {
            JwtRecipe::Real(..) => "real",
            JwtRecipe::Crafted(_) => "crafted",
            JwtRecipe::Segments(_) => "segments",
        };
        reached.count(format!("{kind}_{}", if outcome { "accepted" } else { "refused" }));
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: Retry-After (`parse_retry_after`).
// ---------------------------------------------------------------------------------------

/// The last second of 9999: the largest date an HTTP-date spells.
const MAX_HTTP_DATE: u64 = 253_402_300_799;

#[derive(Clone, Copy, Debug)]
enum DateFormat {
    Imf,
    Rfc850,
    Asctime,
}

#[derive(Clone, Debug)]
enum RetryAfter {
    Digits(String),
    Date { at: u64, format: DateFormat, mutations: Vec<Mutation> },
    Text(String),
}

/// Civil date of a Unix day (Howard Hinnant's algorithm): year, month 1..=12, day.
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

fn http_date(at: u64, format: DateFormat) -> String {
    const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (days, secs) = (at / 86_400, at % 86_400);
    let (year, month, day) = civil(days);
    let weekday = DAYS[(days % 7) as usize];
    let month = MONTHS[(month - 1) as usize];
    let time = format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    match format {
        DateFormat::Imf => format!("{}, {day:02} {month} {year} {time} GMT", &weekday[..3]),
        DateFormat::Rfc850 => format!("{weekday}, {day:02}-{month}-{:02} {time} GMT", year % 100),
        DateFormat::Asctime => format!("{} {month} {day:>2} {time} {year}", &weekday[..3]),
    }
}

fn retry_after_value() -> BoxedStrategy<RetryAfter> {
    let format = prop_oneof![4 => Just(DateFormat::Imf), 1 => Just(DateFormat::Rfc850), 1 => Just(DateFormat::Asctime)];
    prop_oneof![
        3 => prop_oneof![re("[0-9]{1,6}"), re("[0-9]{15,40}"), re("0{0,30}[0-9]{0,4}"), re("[ \t]{0,2}[0-9]{1,5}[ \t]{0,2}")]
            .prop_map(RetryAfter::Digits),
        4 => (0..=MAX_HTTP_DATE, format, rare_mutations())
            .prop_map(|(at, format, mutations)| RetryAfter::Date { at, format, mutations }),
        2 => prop_oneof![
            any_text(),
            select(&["-1", "+5", "1.5", "soon", "", " ", "0x10", "１", "1e3", "Inf", "Sun, 06 Nov 1994 08:49:37 GMT"])
                .prop_map(str::to_string),
        ]
        .prop_map(RetryAfter::Text),
    ]
    .boxed()
}

fn now_for_retry() -> BoxedStrategy<SystemTime> {
    prop_oneof![
        4 => Just(SystemTime::now()),
        2 => (0..=MAX_HTTP_DATE).prop_map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s)),
        1 => any::<u64>().prop_map(|s| {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s)).unwrap_or(SystemTime::UNIX_EPOCH)
        }),
    ]
    .boxed()
}

#[test]
fn retry_after() {
    fuzz("retry_after", (retry_after_value(), now_for_retry()), |(value, now), reached| {
        let text = match &value {
            RetryAfter::Digits(digits) => digits.clone(),
            RetryAfter::Date { at, format, mutations } => mutate(&http_date(*at, *format), mutations),
            RetryAfter::Text(text) => text.clone(),
        };
        let parsed = parse_retry_after(&text, now);
        prop_assert!(parsed.is_none_or(|wait| wait <= MAX_RETRY_AFTER));
        // The model (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date from now, clamped.
        let trimmed = text.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            let seconds = trimmed.parse::<u64>().unwrap_or(u64::MAX);
            prop_assert_eq!(parsed, Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER)));
        }
        if let RetryAfter::Date { at, format: DateFormat::Imf, mutations } = &value
            && mutations.is_empty()
        {
            let date = SystemTime::UNIX_EPOCH + Duration::from_secs(*at);
            let wait = date.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER);
            prop_assert_eq!(parsed, Some(wait), "{}", text);
        }
        reached.count(if parsed.is_some() { "advice" } else { "ignored" });
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: the revocation feed's cursor (`feed::Cursor::decode`, the `after` parameter).
// ---------------------------------------------------------------------------------------

/// The instant the issued cursors of this target were made at, and the mostly used
/// reader's clock (a fixed one: a replayed run decodes against the same clock).
const FEED_NOW: u64 = 1_800_000_000_000;
/// The format's limits (`feed::cursor`), as the model knows them.
const CURSOR_VERSION: u8 = 1;
const CURSOR_MAX_BUCKETS: usize = 320;
const CURSOR_MAX_FLOOR_AHEAD_MS: u64 = 24 * 3600 * 1000;

/// A log of the feed as a store holds it, for `RevocationFeed` to page through: each
/// record visible from some instant (a writer's clock that is off, an index that lags),
/// and a read that takes few records (so that pages stop short and cursors resume).
struct ModelLog {
    records: Vec<LogRecord>,
    limit: usize,
}

#[async_trait::async_trait]
impl FeedLog for ModelLog {
    async fn feed_shard(&self, shard: u8, from: UnixMillis, _limit: usize) -> StoreResult<ShardRead> {
        let mut mine: Vec<&LogRecord> =
            self.records.iter().filter(|r| feed::shard_of(&r.key) == shard && r.stamp >= from).collect();
        mine.sort_by(|a, b| (a.stamp, &a.key).cmp(&(b.stamp, &b.key)));
        let mut cut = WholeBuckets::new(self.limit);
        for record in mine {
            if !cut.offer(record.clone()) {
                break;
            }
        }
        Ok(cut.finish())
    }
}

/// Cursors the feed itself hands out: readers polling logs of every shape (bursts,
/// writers' clocks behind and ahead, a few far ahead, an index that lags, reads cut
/// short), each page's cursor kept. Made once, from a fixed seed, so that `FUZZ_SEED`
/// replays a run.
fn issued_cursors(rt: &tokio::runtime::Runtime) -> Vec<(String, Cursor)> {
    let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[0x5e; 32]);
    let mut issued = vec![Cursor::start()];
    for log in 0..48u64 {
        let writes = rng.random_range(0..400usize);
        // (record, visible from): a write at `at`, stamped by a clock `skew` off, seen
        // by the index `lag` later.
        let records: Vec<(LogRecord, u64)> = (0..writes)
            .map(|n| {
                let at = FEED_NOW - 60_000 + rng.random_range(0..70_000u64);
                let skew: i64 = match rng.random_range(0..100) {
                    0 => rng.random_range(-86_400_000..86_400_000),
                    1 if log % 4 == 0 => rng.random_range(0..i64::MAX / 4),
                    2..=30 => rng.random_range(-4_000..4_000),
                    _ => 0,
                };
                let lag = rng.random_range(0..1_000u64);
                let kind = match n % 5 {
                    0 => EntryKind::Jti,
                    1 => EntryKind::Fid,
                    2 => EntryKind::Sid,
                    3 => EntryKind::Sub,
                    _ => EntryKind::Client,
                };
                let value = format!("{log}-{n}");
                let before = matches!(kind, EntryKind::Sub | EntryKind::Client).then_some(FEED_NOW / 1000);
                let entry = FeedEntry { kind, value: value.clone(), before, expires_at: FEED_NOW / 1000 + 3600 };
                let record = LogRecord {
                    stamp: UnixMillis(at.saturating_add_signed(skew)),
                    key: format!("REVOKED#{}#{value}", kind.as_str().to_uppercase()),
                    entry,
                };
                (record, at + lag)
            })
            .collect();
        let limit = [1, 3, 10, 40, 1_000][rng.random_range(0..5usize)];
        let mut cursor = Cursor::start();
        let mut now = FEED_NOW - 30_000;
        while now <= FEED_NOW + 20_000 {
            let visible = records.iter().filter(|(_, from)| *from <= now).map(|(r, _)| r.clone()).collect();
            let feed = RevocationFeed::new(Arc::new(ModelLog { records: visible, limit }));
            for _ in 0..200 {
                let answer = rt.block_on(feed.page(&cursor, UnixMillis(now))).expect("a page of the model log");
                cursor = answer.cursor;
                issued.push(cursor.clone());
                if !answer.truncated {
                    break;
                }
            }
            now += rng.random_range(100..10_000u64);
        }
    }
    let mut issued: Vec<(String, Cursor)> = issued.into_iter().map(|c| (c.encode(), c)).collect();
    issued.sort_by(|a, b| a.0.cmp(&b.0));
    issued.dedup();
    issued
}

/// A cursor's binary form, built field by field: mostly one the format allows, else with
/// one field or another out of line. (The model of what `decode` must accept.)
#[derive(Clone, Debug)]
struct CursorBytes {
    version: u8,
    floor: u64,
    resume: u64,
    /// The count field, off by this much from the buckets that follow.
    count_off: i32,
    /// (shard, bucket after the floor, digest).
    buckets: Vec<(u8, u64, u64)>,
    /// 1 to 16 more bytes: never a whole bucket.
    trailing: Vec<u8>,
}

impl CursorBytes {
    fn count(&self) -> u16 {
        let count = i64::try_from(self.buckets.len()).unwrap_or(i64::MAX) + i64::from(self.count_off);
        u16::try_from(count.clamp(0, i64::from(u16::MAX))).unwrap_or(u16::MAX)
    }

    fn bytes(&self) -> Vec<u8> {
        let mut bytes = vec![self.version];
        bytes.extend_from_slice(&self.floor.to_be_bytes());
        bytes.extend_from_slice(&self.resume.to_be_bytes());
        bytes.extend_from_slice(&self.count().to_be_bytes());
        for &(shard, offset, digest) in &self.buckets {
            bytes.push(shard);
            bytes.extend_from_slice(&offset.to_be_bytes());
            bytes.extend_from_slice(&digest.to_be_bytes());
        }
        bytes.extend_from_slice(&self.trailing);
        bytes
    }

    /// The format (`feed::cursor`): version 1; a resume bucket of 0 (none) or after the
    /// floor; as many buckets as the count says, at most 320, and nothing after them; a
    /// floor no more than a day ahead of the reader's clock; shards that exist, buckets
    /// that fit a u64, strictly ascending by (bucket, shard).
    fn accepted_at(&self, now: u64) -> bool {
        let ascending = self.buckets.windows(2).all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0));
        self.version == CURSOR_VERSION
            && (self.resume == 0 || self.resume > self.floor)
            && usize::from(self.count()) == self.buckets.len()
            && self.trailing.is_empty()
            && self.buckets.len() <= CURSOR_MAX_BUCKETS
            && self.floor.saturating_mul(feed::BUCKET_MS) <= now.saturating_add(CURSOR_MAX_FLOOR_AHEAD_MS)
            && self
                .buckets
                .iter()
                .all(|&(shard, offset, _)| shard < feed::FEED_SHARDS && self.floor.checked_add(offset).is_some())
            && ascending
    }
}

fn cursor_bytes() -> BoxedStrategy<CursorBytes> {
    let near = FEED_NOW / feed::BUCKET_MS;
    let edge = (FEED_NOW + CURSOR_MAX_FLOOR_AHEAD_MS) / feed::BUCKET_MS;
    let floor = prop_oneof![
        12 => near - 200_000..=near,
        1 => edge - 2..=edge + 2,
        1 => Just(0u64),
        1 => u64::MAX - 1_000..=u64::MAX,
        1 => any::<u64>(),
    ];
    #[derive(Clone, Copy, Debug)]
    enum Resume {
        None,
        After(u64),
        At,
        Before(u64),
        Any(u64),
    }
    let resume = prop_oneof![
        8 => Just(Resume::None),
        4 => (1u64..100).prop_map(Resume::After),
        1 => Just(Resume::At),
        1 => (1u64..100).prop_map(Resume::Before),
        1 => any::<u64>().prop_map(Resume::Any),
    ];
    let bucket = (
        prop_oneof![30 => 0u8..8, 1 => Just(8u8), 1 => any::<u8>()],
        prop_oneof![20 => 0u64..100, 2 => 0u64..40, 1 => Just(u64::from(u32::MAX) + 1), 1 => any::<u64>()],
        any::<u64>(),
    );
    let buckets = prop_oneof![
        20 => prop::collection::vec(bucket.clone(), 0..24),
        1 => prop::collection::vec(bucket, 310..=330),
    ];
    // Mostly in the one order the format allows; else as drawn (out of order, repeated).
    let sorted = prop::bool::weighted(0.9);
    let version = prop_oneof![30 => Just(CURSOR_VERSION), 1 => any::<u8>()];
    let count_off = prop_oneof![30 => Just(0i32), 1 => -3i32..=3, 1 => any::<u16>().prop_map(i32::from)];
    let trailing = prop_oneof![30 => Just(Vec::new()), 1 => prop::collection::vec(any::<u8>(), 1..17)];
    (version, floor, resume, count_off, (buckets, sorted), trailing)
        .prop_map(|(version, floor, resume, count_off, (mut buckets, sorted), trailing)| {
            if sorted {
                buckets.sort_by_key(|&(shard, offset, _)| (offset, shard));
                buckets.dedup_by_key(|&mut (shard, offset, _)| (offset, shard));
            }
            let resume = match resume {
                Resume::None => 0,
                Resume::After(n) => floor.saturating_add(n),
                Resume::At => floor,
                Resume::Before(n) => floor.saturating_sub(n),
                Resume::Any(n) => n,
            };
            CursorBytes { version, floor, resume, count_off, buckets, trailing }
        })
        .boxed()
}

#[derive(Clone, Debug)]
enum CursorRecipe {
    /// A cursor the feed handed out (an index into `issued_cursors`), maybe mutated.
    Issued(Index, Vec<Mutation>),
    /// A binary form built by the model, in some base64 spelling, maybe mutated.
    Built(CursorBytes, Base64, Vec<Mutation>),
    Text(String),
}

fn cursor_recipe() -> BoxedStrategy<CursorRecipe> {
    let spelling = prop_oneof![
        12 => Just(Base64::UrlSafeNoPad),
        1 => Just(Base64::UrlSafe),
        1 => Just(Base64::NoPad),
        1 => Just(Base64::Standard),
    ];
    prop_oneof![
        6 => (any::<Index>(), mutations()).prop_map(|(at, m)| CursorRecipe::Issued(at, m)),
        6 => (cursor_bytes(), spelling, rare_mutations()).prop_map(|(b, s, m)| CursorRecipe::Built(b, s, m)),
        2 => prop_oneof![
            any_text(),
            re("[A-Za-z0-9_-]{0,120}"),
            re("AQ[A-Za-z0-9_-]{20,60}"),
            (8_890usize..8_910).prop_map(|n| "A".repeat(n)),
        ]
        .prop_map(CursorRecipe::Text),
    ]
    .boxed()
}

/// The reader's clock: mostly the instant the cursors were issued at, else any.
fn feed_now() -> BoxedStrategy<u64> {
    prop_oneof![
        12 => Just(FEED_NOW),
        2 => FEED_NOW - 3_600_000..FEED_NOW + 3_600_000,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
    .boxed()
}

#[test]
fn feed_cursor() {
    let rt = runtime();
    let issued = issued_cursors(&rt);
    fuzz("feed_cursor", (cursor_recipe(), feed_now()), |(recipe, now), reached| {
        let (text, must_accept) = match &recipe {
            CursorRecipe::Issued(at, mutations) => {
                let (encoded, cursor) = &issued[at.index(issued.len())];
                let text = mutate(encoded, mutations);
                // Issued around FEED_NOW: it reads back as itself then and at any later instant.
                if text == *encoded && now >= FEED_NOW {
                    prop_assert_eq!(Cursor::decode(&text, UnixMillis(now)), Ok(cursor.clone()), "issued: {}", text);
                    reached.count("issued");
                }
                (text, None)
            }
            CursorRecipe::Built(bytes, spelling, mutations) => {
                let canonical = URL_SAFE_NO_PAD.encode(bytes.bytes());
                let text = mutate(&spelling.encode(&bytes.bytes()), mutations);
                (text.clone(), mutations.is_empty().then(|| text == canonical && bytes.accepted_at(now)))
            }
            CursorRecipe::Text(text) => (text.clone(), None),
        };
        match Cursor::decode(&text, UnixMillis(now)) {
            Ok(cursor) => {
                // One spelling per cursor: what decodes, encodes back to the same text,
                // which decodes to the same cursor, now and at any later instant.
                let again = cursor.encode();
                prop_assert_eq!(&again, &text, "re-encoded differently");
                prop_assert_eq!(Cursor::decode(&again, UnixMillis(now)), Ok(cursor.clone()));
                let later = UnixMillis(now.saturating_add(3_600_000));
                prop_assert_eq!(Cursor::decode(&again, later), Ok(cursor.clone()), "refused later");
                let _ = cursor.read_from();
                prop_assert!(must_accept != Some(false), "accepted a cursor the model refuses");
                reached.count("accepted");
            }
            Err(_) => {
                prop_assert!(must_accept != Some(true), "refused a cursor the model accepts");
                reached.count("refused");
            }
        }
        if let Some(model) = must_accept {
            reached.count(if model { "model_accepts" } else { "model_refuses" });
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------
// Target: API Gateway HTTP API events (payload 2.0), through every HTTP function.
// ---------------------------------------------------------------------------------------

const HOST: &str = "abc123.execute-api.eu-west-1.amazonaws.com";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Token,
    Refresh,
    Revoke,
    Introspect,
    Logout,
    UserInfo,
    Discovery,
    Authorize,
    EndSession,
    Revocations,
}

impl Route {
    fn path(self) -> &'static str {
        match self {
            Route::Token => "/oauth2/token",
            Route::Refresh => "/oauth2/refresh",
            Route::Revoke => "/oauth2/revoke",
            Route::Introspect => "/oauth2/introspect",
            Route::Logout => "/oauth2/logout",
            Route::UserInfo => "/userinfo",
            Route::Discovery => "/.well-known/openid-configuration",
            Route::Authorize => "/oauth2/authorize",
            Route::EndSession => "/oauth2/end_session",
            Route::Revocations => "/oauth2/revocations",
        }
    }
}

/// A client as a request presents it.
#[derive(Clone, Debug)]
enum Presented {
    App,
    Other,
    WrongSecret,
    Unknown(String),
}

impl Presented {
    fn credentials(&self) -> (String, String) {
        match self {
            Presented::App => ("app".into(), kit::CLIENT_SECRET.into()),
            Presented::Other => ("other".into(), kit::CLIENT_SECRET.into()),
            Presented::WrongSecret => ("app".into(), format!("{}x", kit::CLIENT_SECRET)),
            Presented::Unknown(id) => (id.clone(), kit::CLIENT_SECRET.into()),
        }
    }
}

fn presented() -> BoxedStrategy<Presented> {
    prop_oneof![
        8 => Just(Presented::App),
        2 => Just(Presented::Other),
        1 => Just(Presented::WrongSecret),
        1 => any_text().prop_map(Presented::Unknown),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
enum Authorization {
    Basic(Presented, Vec<Mutation>),
    Bearer(TokenPick, Vec<Mutation>),
    Text(String),
    /// Two `Authorization` headers, as API Gateway hands them on: joined by a comma.
    Twice(Box<Authorization>, Box<Authorization>),
}

impl Authorization {
    fn render(&self, live: &Live) -> String {
        match self {
            Authorization::Basic(client, mutations) => {
                let (id, secret) = client.credentials();
                let encoded = format!("{}:{}", escape(&id, Escape::Form), escape(&secret, Escape::Form));
                mutate(&format!("Basic {}", STANDARD.encode(encoded)), mutations)
            }
            Authorization::Bearer(token, mutations) => mutate(&format!("Bearer {}", token.render(live)), mutations),
            Authorization::Text(text) => text.clone(),
            Authorization::Twice(a, b) => format!("{},{}", a.render(live), b.render(live)),
        }
    }
}

fn authorization() -> BoxedStrategy<Authorization> {
    let single = prop_oneof![
        6 => (presented(), rare_mutations()).prop_map(|(c, m)| Authorization::Basic(c, m)),
        4 => (token_pick(), mutations()).prop_map(|(t, m)| Authorization::Bearer(t, m)),
        1 => any_text().prop_map(Authorization::Text),
    ];
    prop_oneof![
        12 => single.clone(),
        1 => (single.clone(), single).prop_map(|(a, b)| Authorization::Twice(Box::new(a), Box::new(b))),
    ]
    .boxed()
}

/// A form value: a live token or identifier of the case (maybe mutated), or text.
#[derive(Clone, Debug)]
enum FormValue {
    Access(Vec<Mutation>),
    Refresh(Vec<Mutation>),
    IdToken(Vec<Mutation>),
    Sid(Vec<Mutation>),
    Sub,
    Username(Vec<Mutation>),
    Password(Vec<Mutation>),
    /// The case's browser: the ID token of [`SPA`] naming its session, its pending
    /// sign-in's id and CSRF token, its sign-out CSRF token.
    SpaIdToken(Vec<Mutation>),
    Pending(Vec<Mutation>),
    Csrf(Vec<Mutation>),
    SignOut(Vec<Mutation>),
    /// The revocation feed's cursor the case's reader holds ([`Live::feed_cursor`]).
    Cursor(Vec<Mutation>),
    Text(String),
}

impl FormValue {
    fn render(&self, live: &Live) -> String {
        match self {
            FormValue::Access(m) => mutate(&live.access, m),
            FormValue::Refresh(m) => mutate(&live.refresh, m),
            FormValue::IdToken(m) => mutate(&live.id_token, m),
            FormValue::Sid(m) => mutate(live.sid.as_str(), m),
            FormValue::Sub => live.sub.to_string(),
            FormValue::Username(m) => mutate(&live.username, m),
            FormValue::Password(m) => mutate(USER_PASSWORD, m),
            FormValue::SpaIdToken(m) => mutate(live.browser.as_ref().map_or("", |b| &b.hint), m),
            FormValue::Pending(m) => mutate(live.browser.as_ref().map_or("", |b| &b.request), m),
            FormValue::Csrf(m) => mutate(live.browser.as_ref().map_or("", |b| &b.csrf), m),
            FormValue::SignOut(m) => mutate(live.browser.as_ref().map_or("", |b| &b.signout), m),
            FormValue::Cursor(m) => mutate(&live.feed_cursor, m),
            FormValue::Text(text) => text.clone(),
        }
    }
}

fn text_value(values: &'static [&'static str]) -> BoxedStrategy<FormValue> {
    prop_oneof![4 => select(values).prop_map(|v| FormValue::Text(v.into())), 1 => any_text().prop_map(FormValue::Text)]
        .boxed()
}

/// A token parameter: mostly the live token the route expects, intact, else any other.
fn token_value(expected: fn(Vec<Mutation>) -> FormValue) -> BoxedStrategy<FormValue> {
    prop_oneof![
        8 => Just(expected(Vec::new())),
        3 => prop::collection::vec(mutation(), 1..4).prop_map(expected),
        1 => mutations().prop_map(FormValue::Access),
        1 => mutations().prop_map(FormValue::Refresh),
        1 => rare_mutations().prop_map(FormValue::IdToken),
        1 => any_text().prop_map(FormValue::Text),
    ]
    .boxed()
}

type Params = Vec<(String, FormValue)>;

/// The kinds of request the form endpoints take.
#[derive(Clone, Copy, Debug)]
enum Kind {
    ClientCredentials,
    Password,
    RefreshGrant,
    /// `token` (and a hint): revoke and introspect.
    Token,
    Logout,
    /// A grant nobody supports, or nothing at all.
    Odd,
}

fn param(name: &str, value: FormValue) -> (String, FormValue) {
    (name.to_string(), value)
}

fn scope() -> BoxedStrategy<Option<FormValue>> {
    prop::option::weighted(0.4, text_value(&["read", "openid", "openid profile", "write admin", "read  read", ""]))
        .boxed()
}

/// The parameters of one request of `kind`, so that most cases get past the dispatch.
fn template(kind: Kind) -> BoxedStrategy<Params> {
    let grant = |g: &str| param("grant_type", FormValue::Text(g.into()));
    let with_scope = |mut params: Params, scope: Option<FormValue>| {
        params.extend(scope.map(|s| param("scope", s)));
        params
    };
    match kind {
        Kind::ClientCredentials => scope().prop_map(move |s| with_scope(vec![grant("client_credentials")], s)).boxed(),
        Kind::Password => {
            // A name nobody holds costs a real argon2 run (the dummy check): mostly the user's.
            let username = prop_oneof![
                40 => Just(FormValue::Username(Vec::new())),
                1 => prop::collection::vec(mutation(), 1..3).prop_map(FormValue::Username),
            ];
            let password = prop_oneof![
                3 => Just(FormValue::Password(Vec::new())),
                1 => prop::collection::vec(mutation(), 1..3).prop_map(FormValue::Password),
            ];
            (username, password, scope())
                .prop_map(move |(u, pw, s)| with_scope(vec![grant("password"), param("username", u), param("password", pw)], s))
                .boxed()
        }
        Kind::RefreshGrant => (token_value(FormValue::Refresh), scope())
            .prop_map(move |(t, s)| with_scope(vec![grant("refresh_token"), param("refresh_token", t)], s))
            .boxed(),
        Kind::Token => {
            let token = prop_oneof![token_value(FormValue::Access), token_value(FormValue::Refresh)];
            let hint = prop::option::of(text_value(&["access_token", "refresh_token", "id_token", "ACCESS_TOKEN"]));
            (token, hint)
                .prop_map(|(t, h)| {
                    let mut params = vec![param("token", t)];
                    params.extend(h.map(|h| param("token_type_hint", h)));
                    params
                })
                .boxed()
        }
        Kind::Logout => prop_oneof![
            3 => token_value(FormValue::Refresh).prop_map(|t| vec![param("refresh_token", t)]),
            2 => rare_mutations().prop_map(|m| vec![param("sid", FormValue::Sid(m))]),
            1 => Just(vec![param("sub", FormValue::Sub)]),
            1 => any_text().prop_map(|t| vec![param("sub", FormValue::Text(t))]),
            1 => Just(vec![param("sid", FormValue::Sid(Vec::new())), param("sub", FormValue::Sub)]),
        ]
        .boxed(),
        Kind::Odd => prop_oneof![
            3 => text_value(&["authorization_code", "urn:ietf:params:oauth:grant-type:jwt-bearer", "CLIENT_CREDENTIALS", ""])
                .prop_map(|g| vec![param("grant_type", g)]),
            1 => Just(Vec::new()),
        ]
        .boxed(),
    }
}

fn any_template() -> BoxedStrategy<Params> {
    prop_oneof![
        template(Kind::ClientCredentials),
        template(Kind::Password),
        template(Kind::RefreshGrant),
        template(Kind::Token),
        template(Kind::Logout),
        template(Kind::Odd),
    ]
    .boxed()
}

/// The body parameters of a request to `route`: mostly of the kind it serves.
fn form_params(route: Route) -> BoxedStrategy<Params> {
    let fitting = match route {
        Route::Token => prop_oneof![
            3 => template(Kind::ClientCredentials),
            2 => template(Kind::Password),
            3 => template(Kind::RefreshGrant),
        ]
        .boxed(),
        Route::Refresh => template(Kind::RefreshGrant),
        Route::Revoke | Route::Introspect => template(Kind::Token),
        Route::Logout => template(Kind::Logout),
        // The browser routes build their own (`browser_event`).
        // `revocations_event` builds its query itself.
        Route::UserInfo | Route::Discovery | Route::Authorize | Route::EndSession | Route::Revocations => {
            Just(Vec::new()).boxed()
        }
    };
    let extra = prop_oneof![
        6 => Just(Vec::new()),
        1 => prop::collection::vec((param_name(), prop_oneof![token_value(FormValue::Access), text_value(&["", "x"])]), 1..3),
    ];
    (prop_oneof![8 => fitting, 1 => any_template()], extra)
        .prop_map(|(mut params, extra)| {
            params.extend(extra);
            params
        })
        .boxed()
}

#[derive(Clone, Debug)]
enum EventBody {
    Form { params: Params, mutations: Vec<Mutation> },
    Bytes(Vec<u8>),
}

#[derive(Clone, Debug)]
struct HttpEvent {
    route: Route,
    method: String,
    path: Option<String>,
    stage: Option<&'static str>,
    query: Option<String>,
    content_type: Option<String>,
    authorization: Option<Authorization>,
    /// `client_secret_post`: the client's id and secret in the body.
    body_client: Option<Presented>,
    headers: Vec<(String, String)>,
    cookies: Option<Vec<String>>,
    body: Option<EventBody>,
    base64: bool,
    /// The browser routes: what the request is meant as, its parameters as the query
    /// (rendered with the case's values, then mutated; instead of `query`), and the
    /// browser's cookies.
    kind: Option<BrowserKind>,
    query_form: Option<(Params, Vec<Mutation>)>,
    jar: Option<Jar>,
}

/// Characters of a request target: RFC 3986 `pchar`, `/`, `?`, `%` with or without its
/// two hex digits, the characters clients send unescaped anyway, and UTF-8.
const URI_CHARS: &str = "[A-Za-z0-9._~!$&'()*+,;=:@/?%{}|\\^`\\[\\]é€-]";
/// A raw query string may hold more: `"`, `<`, `>`, a space and controls, which API
/// Gateway can pass through and on which lambda_http's own conversion would panic without
/// `shared::http::event` (the decoding below goes through it, as the functions do).
const QUERY_CHARS: &str = "[A-Za-z0-9._~!$&'()*+,;=:@/?%{}|\\^`\\[\\]é€\"<> \\x01-\\x1f\\x7f-]";

fn method(route: Route) -> BoxedStrategy<String> {
    let served: &'static [&'static str] = match route {
        Route::UserInfo | Route::Authorize | Route::EndSession => &["GET", "POST"],
        Route::Revocations => &["GET", "GET", "POST"],
        Route::Discovery => &["GET"],
        _ => &["POST"],
    };
    prop_oneof![
        12 => select(served).prop_map(str::to_string),
        2 => select(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post"]).prop_map(str::to_string),
        1 => re("[A-Z]{1,10}"),
    ]
    .boxed()
}

/// How the request authenticates: for the form endpoints mostly `app` by Basic or in the
/// body, for userinfo the live access token.
fn credentials(route: Route) -> BoxedStrategy<(Option<Authorization>, Option<Presented>)> {
    let basic = |client: Presented| Some(Authorization::Basic(client, Vec::new()));
    match route {
        Route::UserInfo | Route::Discovery => prop_oneof![
            8 => Just((Some(Authorization::Bearer(TokenPick::Access, Vec::new())), None)),
            3 => authorization().prop_map(|a| (Some(a), None)),
            1 => Just((None, None)),
        ]
        .boxed(),
        _ => prop_oneof![
            8 => Just((basic(Presented::App), None)),
            2 => Just((None, Some(Presented::App))),
            1 => Just((basic(Presented::Other), None)),
            2 => authorization().prop_map(|a| (Some(a), None)),
            1 => presented().prop_map(|p| (None, Some(p))),
            1 => (authorization(), presented()).prop_map(|(a, p)| (Some(a), Some(p))),
            1 => Just((None, None)),
        ]
        .boxed(),
    }
}

/// Now and then a path other than the route's (API Gateway routes on the route key).
fn raw_path(probability: f64) -> BoxedStrategy<Option<String>> {
    prop::option::weighted(
        probability,
        prop_oneof![
            select(&[
                "/.well-known/jwks.json",
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration/x",
                "/",
                "//oauth2//token",
                "/oauth2/token/../userinfo",
                "/%2e%2e/",
            ])
            .prop_map(str::to_string),
            re(&format!("(/{URI_CHARS}{{0,12}}){{0,4}}")),
        ],
    )
    .boxed()
}

/// Mostly none, else a few headers of any name or of a name that matters.
fn extra_headers() -> BoxedStrategy<Vec<(String, String)>> {
    let header =
        (re("[a-z][a-z0-9-]{0,15}"), prop_oneof![re("[ -~]{0,30}"), re("[^\\x00-\\x08\\x0a-\\x1f\\x7f]{0,20}")]);
    let named = (
        select(&["content-length", "transfer-encoding", "content-encoding", "x-forwarded-for", "cookie", "accept"]),
        re("[ -~]{0,20}"),
    )
        .prop_map(|(name, value)| (name.to_string(), value));
    prop_oneof![
        6 => Just(Vec::new()),
        1 => prop::collection::vec(prop_oneof![header, named], 1..4),
    ]
    .boxed()
}

fn stage() -> BoxedStrategy<Option<&'static str>> {
    prop::option::weighted(0.05, select(&["prod", "$default", "v1"])).boxed()
}

/// Requests to `route`: its method, content type, credentials and parameters most of the
/// time, each sometimes replaced by anything else.
fn event_for(route: Route) -> BoxedStrategy<HttpEvent> {
    let cookies = prop::option::weighted(0.05, prop::collection::vec(re("[ -~]{0,20}"), 0..3));
    let query = prop::option::weighted(0.1, re(&format!("{QUERY_CHARS}{{0,40}}")));
    let form = !matches!(route, Route::UserInfo | Route::Discovery);
    let content_type = if form {
        prop_oneof![10 => Just(Some(FORM.to_string())), 3 => content_type()].boxed()
    } else {
        prop_oneof![2 => Just(None), 1 => content_type()].boxed()
    };
    let body = prop::option::weighted(
        if form { 0.95 } else { 0.2 },
        prop_oneof![
            14 => (form_params(route), rare_mutations()).prop_map(|(params, mutations)| EventBody::Form { params, mutations }),
            1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(EventBody::Bytes),
        ],
    );
    let shape = (method(route), raw_path(0.1), stage(), query);
    let headers = (content_type, credentials(route), extra_headers(), cookies);
    (shape, headers, body, prop::bool::weighted(0.7))
        .prop_map(
            move |(
                (method, path, stage, query),
                (content_type, (authorization, body_client), headers, cookies),
                body,
                base64,
            )| HttpEvent {
                route,
                method,
                path,
                stage,
                query,
                content_type,
                authorization,
                body_client,
                headers,
                cookies,
                body,
                base64,
                kind: None,
                query_form: None,
                jar: None,
            },
        )
        .boxed()
}

/// `GET` or `POST /oauth2/revocations`: mostly `after` with the cursor the reader holds
/// (the last one the feed answered with), intact or mutated, else any text; sometimes no
/// `after`, `after` twice, other parameters, or a client's id and secret; now and then a
/// raw query string of any characters. A GET carries them in the query, a POST mostly in
/// its form, else in the query or both. Mostly a resource server's Basic credentials
/// (`app`), else another client's (403), anything, or none.
fn revocations_event() -> BoxedStrategy<HttpEvent> {
    let route = Route::Revocations;
    let after = prop_oneof![
        10 => Just(FormValue::Cursor(Vec::new())),
        4 => prop::collection::vec(mutation(), 1..4).prop_map(FormValue::Cursor),
        1 => Just(FormValue::Text(Cursor::start().encode())),
        1 => re("[A-Za-z0-9_-]{0,64}").prop_map(FormValue::Text),
        1 => any_text().prop_map(FormValue::Text),
    ];
    let params = prop_oneof![
        12 => after.clone().prop_map(|a| vec![param("after", a)]),
        3 => Just(Vec::new()),
        1 => (after.clone(), after.clone()).prop_map(|(a, b)| vec![param("after", a), param("after", b)]),
        1 => (
            prop::option::of(after.clone()),
            prop::collection::vec((param_name(), text_value(&["", "x", "app"])), 1..3),
        )
            .prop_map(|(after, extra)| after.map(|a| param("after", a)).into_iter().chain(extra).collect()),
        2 => (presented(), prop::option::of(after)).prop_map(|(client, after)| {
            let (id, secret) = client.credentials();
            let mut params =
                vec![param("client_id", FormValue::Text(id)), param("client_secret", FormValue::Text(secret))];
            params.extend(after.map(|a| param("after", a)));
            params
        }),
    ];
    let query = prop_oneof![
        12 => (params, rare_mutations()).prop_map(|form| (Some(form), None)),
        1 => re(&format!("{QUERY_CHARS}{{0,40}}")).prop_map(|raw| (None, Some(raw))),
    ];
    let authorization = prop_oneof![
        10 => Just(Some(Authorization::Basic(Presented::App, Vec::new()))),
        2 => Just(Some(Authorization::Basic(Presented::Other, Vec::new()))),
        3 => authorization().prop_map(Some),
        2 => Just(None),
    ];
    let body = prop::option::weighted(0.05, prop::collection::vec(any::<u8>(), 0..100).prop_map(EventBody::Bytes));
    let form_type = prop_oneof![10 => Just(Some(FORM.to_string())), 1 => content_type()];
    let content_type = prop_oneof![4 => Just(None), 1 => content_type()];
    let carrier = prop_oneof![12 => Just(Carrier::Natural), 1 => Just(Carrier::Query), 1 => Just(Carrier::Both)];
    let shape = (method(route), raw_path(0.05), stage(), query, carrier);
    (
        shape,
        (authorization, content_type, form_type, extra_headers()),
        (body, rare_mutations()),
        prop::bool::weighted(0.7),
    )
        .prop_map(
            move |(
                (method, path, stage, (query_form, query), carrier),
                (authorization, content_type, form_type, headers),
                (body, body_mutations),
                base64,
            )| {
                // A POST's parameters go in its form (mostly: in the URL too, or only).
                let in_body = method == "POST" && !matches!(carrier, Carrier::Query);
                let in_query = !in_body || matches!(carrier, Carrier::Both);
                let posted = query_form.as_ref().filter(|_| in_body).map(|(params, _)| params.clone());
                HttpEvent {
                    route,
                    method,
                    path,
                    stage,
                    query,
                    content_type: if posted.is_some() { form_type } else { content_type },
                    authorization,
                    body_client: None,
                    headers,
                    cookies: None,
                    body: match posted {
                        Some(params) => Some(EventBody::Form { params, mutations: body_mutations }),
                        None => body,
                    },
                    base64,
                    kind: None,
                    query_form: query_form.filter(|_| in_query),
                    jar: None,
                }
            },
        )
        .boxed()
}

/// The API routes get three quarters of the cases, the browser routes a quarter.
fn http_event() -> BoxedStrategy<HttpEvent> {
    prop_oneof![
        6 => event_for(Route::Token),
        3 => event_for(Route::Refresh),
        3 => event_for(Route::Revoke),
        3 => event_for(Route::Introspect),
        3 => event_for(Route::Logout),
        3 => event_for(Route::UserInfo),
        1 => event_for(Route::Discovery),
        3 => revocations_event(),
        3 => browser_event(BrowserKind::Authorization),
        2 => browser_event(BrowserKind::Login),
        1 => browser_event(BrowserKind::SignOut),
        1 => browser_event(BrowserKind::Confirm),
    ]
    .boxed()
}

// The browser routes (`/oauth2/authorize`, `/oauth2/end_session`): parameters of the
// case's browser, sent as the query of a GET or the form of a POST, and its cookies.

/// What a browser request is meant as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BrowserKind {
    /// An authorization request of [`SPA`] (`GET` or `POST /oauth2/authorize`).
    Authorization,
    /// The login form posted back (`request`, `csrf`, `username`, `password`).
    Login,
    /// RP-initiated logout (`id_token_hint`, `client_id`, `post_logout_redirect_uri`).
    SignOut,
    /// The sign-out confirmation posted back (`confirm`, `csrf`).
    Confirm,
}

impl BrowserKind {
    fn route(self) -> Route {
        match self {
            BrowserKind::Authorization | BrowserKind::Login => Route::Authorize,
            BrowserKind::SignOut | BrowserKind::Confirm => Route::EndSession,
        }
    }
}

/// Values a page might reflect, that would break out of its markup if not escaped.
const MARKUP: &[&str] = &[
    "\"><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "' onmouseover='alert(1)",
    "<img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "&lt;script&gt;",
    "<!--",
];

const BROWSER_PARAM_NAMES: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
    "request",
    "request_uri",
    "csrf",
    "username",
    "password",
    "id_token_hint",
    "post_logout_redirect_uri",
    "confirm",
];

/// A fixed parameter: mostly `valid`, else mutated, another value of interest, or text.
fn fixed(valid: &'static str, others: &'static [&'static str]) -> BoxedStrategy<FormValue> {
    prop_oneof![
        60 => Just(FormValue::Text(valid.into())),
        1 => prop::collection::vec(mutation(), 1..4).prop_map(move |m| FormValue::Text(mutate(valid, &m))),
        2 => select(others).prop_map(|v| FormValue::Text(v.into())),
        1 => any_text().prop_map(FormValue::Text),
    ]
    .boxed()
}

/// A live value of the case: mostly intact, else mutated, else text.
fn case_value(value: fn(Vec<Mutation>) -> FormValue) -> BoxedStrategy<FormValue> {
    prop_oneof![
        24 => Just(value(Vec::new())),
        2 => prop::collection::vec(mutation(), 1..4).prop_map(value),
        1 => any_text().prop_map(FormValue::Text),
    ]
    .boxed()
}

/// `state`, `nonce`: any text, markup, and lengths around the limit.
fn echoed_value() -> BoxedStrategy<FormValue> {
    prop_oneof![
        16 => re("[A-Za-z0-9._~-]{1,32}").prop_map(FormValue::Text),
        3 => any_text().prop_map(FormValue::Text),
        1 => select(MARKUP).prop_map(|v| FormValue::Text(v.into())),
        1 => (0usize..3).prop_map(|n| FormValue::Text("s".repeat(shared::policy::MAX_STATE_BYTES - 1 + n))),
        1 => (0usize..3).prop_map(|n| FormValue::Text("n".repeat(shared::policy::MAX_NONCE_BYTES - 1 + n))),
    ]
    .boxed()
}

type MaybeParam = BoxedStrategy<Option<(String, FormValue)>>;

fn sometimes(probability: f64, name: &'static str, value: BoxedStrategy<FormValue>) -> MaybeParam {
    if probability <= 0.0 {
        return Just(None).boxed();
    }
    prop::option::weighted(probability, value).prop_map(move |value| value.map(|v| param(name, v))).boxed()
}

/// The parameters of a browser request of `kind`, so that most cases get past the first
/// checks: a third clean (each value the valid one, or text that is valid too), the
/// others with each value sometimes replaced, and sometimes one more parameter of any
/// name (a repeated one is refused).
fn browser_params(kind: BrowserKind) -> BoxedStrategy<Params> {
    prop_oneof![1 => browser_params_of(kind, true), 2 => browser_params_of(kind, false)].boxed()
}

fn browser_params_of(kind: BrowserKind, clean: bool) -> BoxedStrategy<Params> {
    let fixed = |valid: &'static str, others: &'static [&'static str]| {
        if clean { Just(FormValue::Text(valid.into())).boxed() } else { fixed(valid, others) }
    };
    let echoed_value =
        || if clean { re("[A-Za-z0-9._~-]{1,32}").prop_map(FormValue::Text).boxed() } else { echoed_value() };
    let case_value =
        |value: fn(Vec<Mutation>) -> FormValue| if clean { Just(value(Vec::new())).boxed() } else { case_value(value) };
    let odd = if clean { 0.0 } else { 1.0 };
    let parts: Vec<MaybeParam> = match kind {
        BrowserKind::Authorization => vec![
            sometimes(
                0.98,
                "response_type",
                fixed("code", &["token", "code id_token", "id_token", "CODE", "code ", ""]),
            ),
            sometimes(0.98, "client_id", fixed(SPA, &["app", "other", "ghost", "SPA", "spa ", "spa#", ""])),
            sometimes(
                0.98,
                "redirect_uri",
                fixed(
                    SPA_CB,
                    &[
                        SPA_BYE,
                        "https://spa.example.com/cb/",
                        "https://spa.example.com/cb?x=1",
                        "https://spa.example.com/cb#x",
                        "https://spa.example.com:443/cb",
                        "https://SPA.example.com/cb",
                        "https://spa.example.com/x/../cb",
                        "http://spa.example.com/cb",
                        "https://spa.example.com.evil.example/cb",
                        "https://evil.example.com/cb",
                        "//evil.example.com/cb",
                        "javascript:alert(1)",
                        "http://127.0.0.1:8080/cb",
                        "",
                    ],
                ),
            ),
            sometimes(
                0.8,
                "scope",
                fixed(
                    "openid profile read",
                    &["openid", "read", "openid write", "openid  read", "profile read read", ""],
                ),
            ),
            sometimes(0.8, "state", echoed_value()),
            sometimes(0.7, "nonce", echoed_value()),
            sometimes(
                0.98,
                "code_challenge",
                fixed(
                    CHALLENGE,
                    &[
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=",
                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
                        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
                        "",
                    ],
                ),
            ),
            sometimes(0.98, "code_challenge_method", fixed("S256", &["plain", "s256", "S512", ""])),
            sometimes(
                0.15,
                "prompt",
                prop_oneof![
                    4 => select(&["none", "login", "consent", "select_account", "login consent"])
                        .prop_map(|v| FormValue::Text(v.into())),
                    1 => text_value(&["none login", "sometimes", "", " ", "NONE"]),
                ]
                .boxed(),
            ),
            sometimes(
                0.1,
                "max_age",
                prop_oneof![
                    4 => select(&["0", "1", "3600", "86400"]).prop_map(|v| FormValue::Text(v.into())),
                    1 => text_value(&["-1", "1.5", "soon", "18446744073709551616", "", " 1"]),
                ]
                .boxed(),
            ),
            sometimes(
                0.1,
                "login_hint",
                prop_oneof![
                    2 => case_value(FormValue::Username),
                    1 => select(MARKUP).prop_map(|v| FormValue::Text(v.into())),
                ]
                .boxed(),
            ),
            sometimes(0.03 * odd, "response_mode", text_value(&["query", "fragment", "form_post"])),
            sometimes(0.01 * odd, "request", text_value(&["eyJhbGciOiJub25lIn0.e30.", ""])),
            sometimes(0.01 * odd, "request_uri", text_value(&["https://evil.example.com/r", "urn:x"])),
        ],
        BrowserKind::Login => vec![
            sometimes(0.98, "request", case_value(FormValue::Pending)),
            sometimes(0.97, "csrf", case_value(FormValue::Csrf)),
            // A name nobody holds costs a real argon2 run (the dummy check): mostly the user's.
            // (Markup: the form shown again after a failure shows the name typed.)
            sometimes(
                0.995,
                "username",
                prop_oneof![
                    80 => Just(FormValue::Username(Vec::new())),
                    1 => prop::collection::vec(mutation(), 1..3).prop_map(FormValue::Username),
                    1 => select(MARKUP).prop_map(|v| FormValue::Text(v.into())),
                ]
                .boxed(),
            ),
            sometimes(
                0.97,
                "password",
                prop_oneof![
                    3 => Just(FormValue::Password(Vec::new())),
                    1 => prop::collection::vec(mutation(), 1..3).prop_map(FormValue::Password),
                ]
                .boxed(),
            ),
            // A `client_id` makes it an authorization request.
            sometimes(0.02 * odd, "client_id", text_value(&[SPA, "app"])),
        ],
        BrowserKind::SignOut | BrowserKind::Confirm => {
            let confirm = kind == BrowserKind::Confirm;
            vec![
                sometimes(
                    if confirm { 0.2 } else { 0.6 },
                    "id_token_hint",
                    prop_oneof![
                        8 => Just(FormValue::SpaIdToken(Vec::new())),
                        2 => prop::collection::vec(mutation(), 1..4).prop_map(FormValue::SpaIdToken),
                        2 => rare_mutations().prop_map(FormValue::IdToken),
                        1 => any_text().prop_map(FormValue::Text),
                    ]
                    .boxed(),
                ),
                sometimes(if confirm { 0.8 } else { 0.4 }, "client_id", fixed(SPA, &["app", "other", "ghost", ""])),
                sometimes(
                    0.7,
                    "post_logout_redirect_uri",
                    fixed(
                        SPA_BYE,
                        &[
                            SPA_CB,
                            "https://spa.example.com/bye/",
                            "https://spa.example.com/bye?x=1",
                            "https://spa.example.com/bye#x",
                            "https://evil.example.com/bye",
                            "//evil.example.com/bye",
                            "javascript:alert(1)",
                            "",
                        ],
                    ),
                ),
                sometimes(0.6, "state", echoed_value()),
                sometimes(
                    if confirm { 0.97 } else { 0.03 },
                    "confirm",
                    prop_oneof![
                        6 => Just(FormValue::Text("yes".into())),
                        2 => Just(FormValue::Text("no".into())),
                        1 => text_value(&["YES", "1", "true", "", "yes "]),
                    ]
                    .boxed(),
                ),
                sometimes(if confirm { 0.97 } else { 0.05 }, "csrf", case_value(FormValue::SignOut)),
            ]
        }
    };
    let extra = prop_oneof![
        12 => Just(Vec::new()),
        1 => prop::collection::vec(
            (
                prop_oneof![3 => select(BROWSER_PARAM_NAMES).prop_map(str::to_string), 1 => any_text()],
                prop_oneof![any_text().prop_map(FormValue::Text), text_value(&["", SPA, SPA_CB, "https://evil.example.com/"])],
            ),
            1..3,
        ),
    ];
    let extra = if clean { Just(Vec::new()).boxed() } else { extra.boxed() };
    (parts, extra).prop_map(|(parts, extra)| parts.into_iter().flatten().chain(extra).collect()).boxed()
}

fn browser_method(kind: BrowserKind) -> BoxedStrategy<String> {
    let (get, post) = match kind {
        BrowserKind::Authorization => (12, 6),
        BrowserKind::Login | BrowserKind::Confirm => (1, 16),
        BrowserKind::SignOut => (10, 6),
    };
    prop_oneof![
        get => Just("GET".to_string()),
        post => Just("POST".to_string()),
        1 => select(&["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "post"]).prop_map(str::to_string),
    ]
    .boxed()
}

/// Where the parameters go: mostly where the method puts them (the query of a GET, the
/// form of a POST), sometimes elsewhere (a POST reads only its body).
#[derive(Clone, Copy, Debug)]
enum Carrier {
    Natural,
    Query,
    Body,
    Both,
}

/// One cookie of the browser's.
#[derive(Clone, Debug)]
enum CookiePick {
    /// The session cookie, `<sid>.<secret>`, its value maybe mutated.
    Session(Vec<Mutation>),
    /// A session cookie with a guessed secret: for the browser's sid, or for the live
    /// (non-browser) session's, which relying parties see in ID tokens.
    Guessed {
        browser_sid: bool,
        secret: String,
    },
    /// The pending sign-in's CSRF cookie, its value maybe mutated.
    SignIn(Vec<Mutation>),
    /// A sign-in cookie of another request.
    OtherSignIn(String, String),
    /// The sign-out CSRF cookie, its value maybe mutated.
    SignOut(Vec<Mutation>),
    /// One of our names (or almost) with any value.
    Named(&'static str, String),
    Garbage(String),
}

impl CookiePick {
    fn render(&self, live: &Live) -> String {
        let policy = CookiePolicy::for_issuer(kit::ISSUER);
        let Some(browser) = &live.browser else { return String::new() };
        match self {
            CookiePick::Session(m) => format!("{}={}", policy.session(), mutate(&browser.session, m)),
            CookiePick::Guessed { browser_sid, secret } => {
                let sid = if *browser_sid { browser.sid.as_str() } else { live.sid.as_str() };
                format!("{}={sid}.{secret}", policy.session())
            }
            CookiePick::SignIn(m) => format!("{}={}", policy.sign_in(&browser.request), mutate(&browser.csrf, m)),
            CookiePick::OtherSignIn(id, value) => format!("{}={value}", policy.sign_in(id)),
            CookiePick::SignOut(m) => format!("{}={}", policy.sign_out(), mutate(&browser.signout, m)),
            CookiePick::Named(name, value) => format!("{name}={value}"),
            CookiePick::Garbage(text) => text.clone(),
        }
    }
}

/// How the cookies reach the function: a `cookie` header (joined by `separator`), the
/// event's `cookies` array (which lambda_http turns into the header, replacing any), or
/// split between the two.
#[derive(Clone, Debug)]
enum Delivery {
    Header(&'static str),
    Array,
    Split(Index),
}

#[derive(Clone, Debug)]
struct Jar {
    cookies: Vec<CookiePick>,
    delivery: Delivery,
    mutations: Vec<Mutation>,
}

impl Jar {
    /// The `cookie` header and the `cookies` array.
    fn render(&self, live: &Live) -> (Option<String>, Option<Vec<String>>) {
        let pairs: Vec<String> = self.cookies.iter().map(|c| c.render(live)).collect();
        match &self.delivery {
            Delivery::Header(separator) => (Some(mutate(&pairs.join(separator), &self.mutations)), None),
            Delivery::Array => (None, Some(pairs.iter().map(|p| mutate(p, &self.mutations)).collect())),
            Delivery::Split(at) => {
                let at = at.index(pairs.len() + 1);
                (Some(pairs[..at].join("; ")), Some(pairs[at..].to_vec()))
            }
        }
    }
}

/// The browser's cookies: each of its three with the given probability (mostly intact),
/// and sometimes others, before or after them (the first of a repeated name wins).
fn jar(session: f64, sign_in: f64, sign_out: f64) -> BoxedStrategy<Jar> {
    let session = prop::option::weighted(
        session,
        prop_oneof![
            8 => Just(CookiePick::Session(Vec::new())),
            2 => prop::collection::vec(mutation(), 1..4).prop_map(CookiePick::Session),
            2 => (any::<bool>(), prop_oneof![3 => re("[A-Za-z0-9_-]{43}"), 1 => any_text()])
                .prop_map(|(browser_sid, secret)| CookiePick::Guessed { browser_sid, secret }),
        ],
    );
    let sign_in = prop::option::weighted(
        sign_in,
        prop_oneof![
            20 => Just(CookiePick::SignIn(Vec::new())),
            2 => prop::collection::vec(mutation(), 1..4).prop_map(CookiePick::SignIn),
            1 => (re("[A-Za-z0-9_-]{22}"), any_text()).prop_map(|(id, value)| CookiePick::OtherSignIn(id, value)),
        ],
    );
    let sign_out = prop::option::weighted(
        sign_out,
        prop_oneof![
            20 => Just(CookiePick::SignOut(Vec::new())),
            2 => prop::collection::vec(mutation(), 1..4).prop_map(CookiePick::SignOut),
        ],
    );
    let other = prop_oneof![
        2 => (
            select(&["__Host-session", "session", "__host-session", "__Host-Session", "__Host-signout", "signout", "__Host-signin-"]),
            any_text(),
        )
            .prop_map(|(name, value)| CookiePick::Named(name, value)),
        1 => re("[ -~]{0,24}").prop_map(CookiePick::Garbage),
    ];
    let others = prop_oneof![4 => Just(Vec::new()), 1 => prop::collection::vec(other, 1..3)];
    let delivery = prop_oneof![
        6 => Just(Delivery::Header("; ")),
        1 => select(&[";", ",", " ; ", ";;", "\t;"]).prop_map(Delivery::Header),
        4 => Just(Delivery::Array),
        1 => any::<Index>().prop_map(Delivery::Split),
    ];
    (session, sign_in, sign_out, others, any::<Index>(), delivery, rare_mutations())
        .prop_map(|(session, sign_in, sign_out, others, at, delivery, mutations)| {
            let mut cookies: Vec<CookiePick> = [session, sign_in, sign_out].into_iter().flatten().collect();
            let at = at.index(cookies.len() + 1);
            cookies.splice(at..at, others);
            Jar { cookies, delivery, mutations }
        })
        .boxed()
}

/// A browser request of `kind`: the parameters it is meant with, mostly where its method
/// puts them, and mostly the cookies that request would carry.
fn browser_event(kind: BrowserKind) -> BoxedStrategy<HttpEvent> {
    let route = kind.route();
    let (jar, with_cookies) = match kind {
        BrowserKind::Authorization => (jar(0.5, 0.1, 0.05), 0.85),
        BrowserKind::Login => (jar(0.2, 0.95, 0.05), 0.95),
        BrowserKind::SignOut => (jar(0.6, 0.05, 0.3), 0.85),
        BrowserKind::Confirm => (jar(0.7, 0.05, 0.95), 0.95),
    };
    let carrier = prop_oneof![
        14 => Just(Carrier::Natural),
        1 => Just(Carrier::Query),
        1 => Just(Carrier::Body),
        1 => Just(Carrier::Both),
    ];
    let shape = (browser_method(kind), raw_path(0.05), stage(), carrier);
    let params = (browser_params(kind), rare_mutations(), rare_mutations());
    let content_type = prop_oneof![10 => Just(Some(FORM.to_string())), 3 => content_type()];
    let headers = (content_type, prop::option::weighted(0.05, authorization()), extra_headers());
    (shape, params, headers, prop::option::weighted(with_cookies, jar), prop::bool::weighted(0.7))
        .prop_map(
            move |(
                (method, path, stage, carrier),
                (params, query_mutations, body_mutations),
                (content_type, authorization, headers),
                jar,
                base64,
            )| {
                let posted = method == "POST";
                let (in_query, in_body) = match carrier {
                    Carrier::Natural => (!posted, posted),
                    Carrier::Query => (true, false),
                    Carrier::Body => (false, true),
                    Carrier::Both => (true, true),
                };
                HttpEvent {
                    route,
                    method,
                    path,
                    stage,
                    query: None,
                    content_type: if posted || in_body { content_type } else { None },
                    authorization,
                    body_client: None,
                    headers,
                    cookies: None,
                    body: in_body.then(|| EventBody::Form { params: params.clone(), mutations: body_mutations }),
                    base64,
                    kind: Some(kind),
                    query_form: in_query.then_some((params, query_mutations)),
                    jar,
                }
            },
        )
        .boxed()
}

/// The parameters as a form writes them.
fn form_pairs(params: &Params, live: &Live) -> Vec<(String, String)> {
    params.iter().map(|(name, value)| (name.clone(), value.render(live))).collect()
}

impl HttpEvent {
    fn raw_query(&self, live: &Live) -> String {
        match &self.query_form {
            Some((params, mutations)) => {
                mutate(&serde_urlencoded::to_string(form_pairs(params, live)).unwrap_or_default(), mutations)
            }
            None => self.query.clone().unwrap_or_default(),
        }
    }

    /// Every parameter sent, in the query or the body, as a form decoder reads them.
    fn sent_params(&self, live: &Live) -> Vec<(String, String)> {
        let query = self.raw_query(live);
        let body = self.body_bytes(live).unwrap_or_default();
        let decoded = url::form_urlencoded::parse(query.as_bytes()).chain(url::form_urlencoded::parse(&body));
        decoded.map(|(name, value)| (name.into_owned(), value.into_owned())).collect()
    }

    /// Every cookie sent, header and array, as one text.
    fn cookie_text(&self, live: &Live) -> String {
        let Some(jar) = &self.jar else { return String::new() };
        let (header, array) = jar.render(live);
        header.map(|h| header_safe(&h)).into_iter().chain(array.into_iter().flatten()).collect::<Vec<_>>().join("\n")
    }

    fn body_bytes(&self, live: &Live) -> Option<Vec<u8>> {
        Some(match self.body.as_ref()? {
            EventBody::Form { params, mutations } => {
                let mut pairs = form_pairs(params, live);
                if let Some(client) = &self.body_client {
                    let (id, secret) = client.credentials();
                    pairs.push(("client_id".into(), id));
                    pairs.push(("client_secret".into(), secret));
                }
                let body = serde_urlencoded::to_string(&pairs).unwrap_or_default();
                apply(body.into_bytes(), mutations)
            }
            EventBody::Bytes(bytes) => bytes.clone(),
        })
    }

    /// The event as API Gateway sends it to the function.
    fn render(&self, live: &Live) -> (Value, Option<String>) {
        let raw_path = self.path.clone().unwrap_or_else(|| self.route.path().to_string());
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            headers.insert(name.clone(), json!(header_safe(value)));
        }
        // API Gateway sets these itself.
        headers.insert("host".into(), json!(HOST));
        headers.insert("x-forwarded-proto".into(), json!("https"));
        if let Some(content_type) = &self.content_type {
            headers.insert("content-type".into(), json!(header_safe(content_type)));
        }
        let authorization = self.authorization.as_ref().map(|a| header_safe(&a.render(live)));
        if let Some(value) = &authorization {
            headers.insert("authorization".into(), json!(value));
        }
        let (cookie_header, cookie_array) = self.jar.as_ref().map(|jar| jar.render(live)).unwrap_or_default();
        if let Some(cookie) = &cookie_header {
            headers.insert("cookie".into(), json!(header_safe(cookie)));
        }
        let route_key = format!("{} {}", self.method, self.route.path());
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": self.raw_query(live),
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123", "domainName": HOST, "domainPrefix": "abc123",
                "http": { "method": self.method, "path": raw_path, "protocol": "HTTP/1.1",
                          "sourceIp": "203.0.113.7", "userAgent": "fuzz" },
                "requestId": "fuzz", "routeKey": route_key, "stage": self.stage.unwrap_or("$default"),
                "time": "29/Nov/2026:03:00:00 +0000", "timeEpoch": 1795921200000u64
            },
            "isBase64Encoded": false,
        });
        if let Some(cookies) = cookie_array.as_ref().or(self.cookies.as_ref()) {
            event["cookies"] = json!(cookies);
        }
        if let Some(body) = self.body_bytes(live) {
            event["isBase64Encoded"] = json!(self.base64);
            event["body"] =
                json!(if self.base64 { STANDARD.encode(&body) } else { String::from_utf8_lossy(&body).into_owned() });
        }
        (event, authorization)
    }
}

/// Every HTTP function's endpoint, built as its `main.rs` builds it.
struct Endpoints {
    token: shared::endpoints::Token,
    refresh: shared::endpoints::Refresh,
    revoke: shared::endpoints::Revoke,
    introspect: shared::endpoints::Introspect,
    logout: shared::endpoints::Logout,
    userinfo: shared::endpoints::UserInfo,
    discovery: shared::endpoints::Discovery,
    authorize: shared::endpoints::Authorize,
    end_session: shared::endpoints::EndSession,
    revocations: shared::endpoints::Revocations,
}

fn endpoints(services: &Services) -> Endpoints {
    let build = || -> Result<Endpoints, shared::services::InitError> {
        Ok(Endpoints {
            token: FromServices::from_services(services)?,
            refresh: FromServices::from_services(services)?,
            revoke: FromServices::from_services(services)?,
            introspect: FromServices::from_services(services)?,
            logout: FromServices::from_services(services)?,
            userinfo: FromServices::from_services(services)?,
            discovery: FromServices::from_services(services)?,
            authorize: FromServices::from_services(services)?,
            end_session: FromServices::from_services(services)?,
            revocations: FromServices::from_services(services)?,
        })
    };
    build().expect("every endpoint")
}

#[test]
fn apigw_http_events() {
    let rt = runtime();
    let worlds = Worlds::new(&rt);
    // The cursor of the feed's last 200: the next request reads on from it, as a reader
    // polls. (A world rebuilt keeps it: to the new world's feed, it is a cursor ahead.)
    let feed_cursor = RefCell::new(Cursor::start().encode());
    fuzz("apigw_http_events", http_event(), |recipe, reached| {
        worlds.with(|world| {
            let endpoints = &world.endpoints;
            let mut live = live(&rt, world);
            if recipe.kind.is_some() {
                live.browser = Some(browser_live(&rt, world, &live));
            }
            live.feed_cursor = feed_cursor.borrow().clone();
            let (event, authorization) = recipe.render(&live);
            let text = event.to_string();
            // The decoding the functions run: lambda_http's, after `http::event`.
            let request = shared::http::event::decode(&text)
                .map_err(|err| TestCaseError::fail(format!("lambda_http refused the event: {err}: {text}")))?;
            let response = rt.block_on(async {
                use shared::http::serve;
                match recipe.route {
                    Route::Token => serve(&endpoints.token, request).await,
                    Route::Refresh => serve(&endpoints.refresh, request).await,
                    Route::Revoke => serve(&endpoints.revoke, request).await,
                    Route::Introspect => serve(&endpoints.introspect, request).await,
                    Route::Logout => serve(&endpoints.logout, request).await,
                    Route::UserInfo => serve(&endpoints.userinfo, request).await,
                    Route::Discovery => serve(&endpoints.discovery, request).await,
                    Route::Authorize => serve(&endpoints.authorize, request).await,
                    Route::EndSession => serve(&endpoints.end_session, request).await,
                    Route::Revocations => serve(&endpoints.revocations, request).await,
                }
            });
            let status = response.status().as_u16();
            prop_assert!(
                status < 500,
                "{:?} answered {}: {}\nevent: {}",
                recipe.route,
                status,
                String::from_utf8_lossy(response.body().as_ref()),
                text
            );
            if recipe.route == Route::UserInfo && status == 200 {
                prop_assert_eq!(bearer_token(authorization.as_deref()), Some(live.access.as_str()));
            }
            if recipe.route == Route::Revocations {
                check_feed_answer(&recipe, &live, &response, authorization.as_deref(), &text, &feed_cursor, reached)?;
            }
            if let Some(browser) = &live.browser {
                check_browser_answer(&recipe, &response, &live, browser, &text, reached)?;
                // The browser's session ends only by its ID token, or by a confirmation
                // posted with this browser's sign-out CSRF token and session cookie.
                let session = rt.block_on(world.store.session(&browser.sid));
                if session.map_err(|err| TestCaseError::fail(format!("store: {err}")))?.is_none() {
                    let (sent, cookies) = (recipe.sent_params(&live), recipe.cookie_text(&live));
                    let has = |name: &str, value: &str| sent.iter().any(|(n, v)| n == name && v == value);
                    let hinted = recipe.route == Route::EndSession && has("id_token_hint", &browser.hint);
                    let confirmed = recipe.route == Route::EndSession
                        && recipe.method == "POST"
                        && has("confirm", "yes")
                        && has("csrf", &browser.signout)
                        && cookies.contains(&browser.signout)
                        && cookies.contains(&browser.secret);
                    prop_assert!(
                        hinted || confirmed,
                        "the browser's session ended: {:?} {}\nevent: {}",
                        recipe.route,
                        status,
                        text
                    );
                    reached.count(format!("{:?}_ended", recipe.route));
                }
            }
            reached.count(format!("{:?}_{}xx", recipe.route, status / 100));
            if std::env::var("FUZZ_DETAIL").is_ok() {
                let what = recipe.kind.map_or_else(|| format!("{:?}", recipe.route), |kind| format!("{kind:?}"));
                reached.count(format!("{what}_{status}_{}", detail(&response)));
            }
            Ok(())
        })
    });
}

/// The properties of the feed's answers: a page only for a client that authenticated
/// with Basic, or in a POST's form (client credentials never travel in the URI, RFC 6749
/// §2.3.1), and never for a POST with a query; never cached, its entries well-formed
/// (`before` for `sub` and `client` only) and its cursor one `after` takes back (kept for
/// the next case); 401 with the Basic challenge; 403 `access_denied`.
fn check_feed_answer(
    recipe: &HttpEvent,
    live: &Live,
    response: &lambda_http::Response<lambda_http::Body>,
    authorization: Option<&str>,
    event: &str,
    feed_cursor: &RefCell<String>,
    reached: &Reached,
) -> Result<(), TestCaseError> {
    let status = response.status().as_u16();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap_or("<not visible ASCII>"));
    let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    let context = || format!("answered {status} {:?} {body:.300}\nevent: {event}", response.headers());
    let json: Value = serde_json::from_str(&body).unwrap_or_default();
    let posted = recipe.method == "POST";
    let form_secret = posted
        && recipe.body_bytes(live).is_some_and(|body| {
            url::form_urlencoded::parse(&body).any(|(name, value)| name == "client_secret" && !value.is_empty())
        });
    match status {
        200 => {
            prop_assert!(authorization.is_some() || form_secret, "a page without credentials: {}", context());
            prop_assert!(!posted || recipe.raw_query(live).is_empty(), "a POST with a query: {}", context());
            if posted {
                reached.count("Revocations_posted");
            }
            prop_assert_eq!(header("cache-control"), Some("no-store"), "{}", context());
            let entries = json["entries"].as_array().ok_or_else(|| TestCaseError::fail(context()))?;
            for entry in entries {
                let kind = entry["kind"].as_str().unwrap_or_default();
                let lined = matches!(kind, "sub" | "client");
                prop_assert!(
                    matches!(kind, "jti" | "fid" | "sid" | "sub" | "client")
                        && entry["value"].as_str().is_some_and(|v| !v.is_empty())
                        && entry["expires_at"].is_u64()
                        && (if lined { entry["before"].is_u64() } else { entry.get("before").is_none() })
                        && entry.as_object().is_some_and(|o| o.len() == 3 + usize::from(lined)),
                    "entry {}: {}",
                    entry,
                    context()
                );
            }
            prop_assert!(json["more"].is_boolean(), "a page without `more`: {}", context());
            let cursor = json["cursor"].as_str().ok_or_else(|| TestCaseError::fail(context()))?;
            prop_assert!(Cursor::decode(cursor, UnixMillis::now()).is_ok(), "a cursor `after` refuses: {}", context());
            *feed_cursor.borrow_mut() = cursor.to_string();
            if !entries.is_empty() {
                reached.count("Revocations_entries");
            }
        }
        401 => prop_assert_eq!(header("www-authenticate"), Some("Basic realm=\"oauth\""), "{}", context()),
        403 => prop_assert_eq!(json["error"].as_str(), Some("access_denied"), "{}", context()),
        _ => {}
    }
    Ok(())
}

/// What an answer was, for `FUZZ_DETAIL`: the OAuth error of a JSON body, the `error` of
/// a redirect (or `code`), or a page's title.
fn detail(response: &lambda_http::Response<lambda_http::Body>) -> String {
    if let Some(location) = response.headers().get("location").and_then(|v| v.to_str().ok()) {
        let url = url::Url::parse(location).ok();
        let pairs: Vec<(String, String)> = url.iter().flat_map(|u| u.query_pairs().into_owned()).collect();
        let get = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.replace(' ', "_"));
        return match (get("error"), get("code")) {
            (Some(error), _) => format!("{error}:{}", get("error_description").unwrap_or_default()),
            (None, Some(_)) => "code".into(),
            (None, None) => "-".into(),
        };
    }
    let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
    if let Some(title) = body.split_once("<title>").and_then(|(_, rest)| rest.split_once("</title>")) {
        return title.0.replace(' ', "_");
    }
    let json: Value = serde_json::from_str(&body).unwrap_or_default();
    json["error"].as_str().unwrap_or("-").to_string()
}

/// The properties of every answer of the browser routes: a method other than GET and POST
/// is 405; else never cached; a redirect is a 303 to exactly the registered URI of the
/// endpoint (the redirect URI for authorize, the post-logout one for end_session) and
/// nowhere else (no open redirector); a page is HTML with its Content-Security-Policy,
/// unframeable, without a script; every cookie is `__Host-`, HttpOnly, Lax and Secure;
/// and a code goes only to a browser that signed in (the right form, CSRF token and
/// password) or that has the session cookie.
fn check_browser_answer(
    recipe: &HttpEvent,
    response: &lambda_http::Response<lambda_http::Body>,
    live: &Live,
    browser: &BrowserLive,
    event: &str,
    reached: &Reached,
) -> Result<(), TestCaseError> {
    let status = response.status().as_u16();
    let headers = response.headers();
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("<not visible ASCII>"));
    let context = || format!("{:?} {} answered {status} {headers:?}\nevent: {event}", recipe.route, recipe.method);
    if !matches!(recipe.method.as_str(), "GET" | "POST") {
        prop_assert_eq!(status, 405, "{}", context());
        return Ok(());
    }
    prop_assert_eq!(header("cache-control"), Some("no-store"), "{}", context());
    for cookie in headers.get_all("set-cookie") {
        let cookie = cookie.to_str().unwrap_or_default();
        prop_assert!(
            cookie.starts_with("__Host-")
                && cookie.contains("; Path=/; HttpOnly; SameSite=Lax; Max-Age=")
                && cookie.ends_with("; Secure"),
            "Set-Cookie {}: {}",
            cookie,
            context()
        );
    }
    if (300..400).contains(&status) {
        prop_assert_eq!(status, 303, "{}", context());
        let location = header("location").ok_or_else(|| TestCaseError::fail(format!("no Location: {}", context())))?;
        let registered = if recipe.route == Route::Authorize { SPA_CB } else { SPA_BYE };
        prop_assert!(
            location.strip_prefix(registered).is_some_and(|rest| rest.is_empty() || rest.starts_with('?')),
            "redirected to {} (registered: {}): {}",
            location,
            registered,
            context()
        );
        let url = url::Url::parse(location).map_err(|err| TestCaseError::fail(format!("{err}: {}", context())))?;
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let get = |name: &str| query.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        if recipe.route == Route::Authorize {
            prop_assert_eq!(get("iss"), Some(kit::ISSUER), "{}", context());
            if get("code").is_some() {
                let sent = recipe.sent_params(live);
                let has = |name: &str, value: &str| sent.iter().any(|(n, v)| n == name && v == value);
                let logged_in = recipe.method == "POST"
                    && has("request", &browser.request)
                    && has("csrf", &browser.csrf)
                    && has("password", USER_PASSWORD);
                let single_sign_on = recipe.cookie_text(live).contains(&browser.secret);
                prop_assert!(logged_in || single_sign_on, "a code for whom? {}", context());
                reached.count(if logged_in { "Authorize_code_login" } else { "Authorize_code_sso" });
            }
        }
    } else {
        prop_assert_eq!(header("content-type"), Some("text/html; charset=utf-8"), "{}", context());
        let csp = header("content-security-policy").unwrap_or_default();
        prop_assert!(
            csp.starts_with("default-src 'none';") && csp.contains("frame-ancestors 'none'"),
            "Content-Security-Policy {:?}: {}",
            csp,
            context()
        );
        prop_assert_eq!(header("x-frame-options"), Some("DENY"), "{}", context());
        let html = String::from_utf8_lossy(response.body().as_ref()).to_ascii_lowercase();
        prop_assert!(!html.contains("<script"), "a script in the page: {}", context());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Target: API Gateway Lambda authorizer events (payload 2.0).
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum IdentitySource {
    Absent,
    Null,
    Empty,
    One(Authorization),
    Two(Authorization, Authorization),
}

#[derive(Clone, Debug)]
struct AuthorizerEvent {
    identity: IdentitySource,
    header: Option<Authorization>,
    same_header: bool,
    method: String,
    path: String,
    extra_headers: Vec<(String, String)>,
}

fn authorizer_event() -> BoxedStrategy<AuthorizerEvent> {
    let bearer = prop_oneof![
        8 => (token_pick(), mutations()).prop_map(|(t, m)| Authorization::Bearer(t, m)),
        1 => (presented(), rare_mutations()).prop_map(|(c, m)| Authorization::Basic(c, m)),
        1 => any_text().prop_map(Authorization::Text),
    ]
    .boxed();
    let identity = prop_oneof![
        1 => Just(IdentitySource::Absent),
        1 => Just(IdentitySource::Null),
        1 => Just(IdentitySource::Empty),
        12 => bearer.clone().prop_map(IdentitySource::One),
        1 => (bearer.clone(), bearer.clone()).prop_map(|(a, b)| IdentitySource::Two(a, b)),
    ];
    let headers = prop::collection::vec((re("[a-z][a-z0-9-]{0,15}"), re("[ -~]{0,30}")), 0..3);
    (
        identity,
        prop::option::of(bearer),
        prop::bool::weighted(0.8),
        select(&["GET", "POST", "DELETE"]),
        re(&format!("/{URI_CHARS}{{0,20}}")),
        headers,
    )
        .prop_map(|(identity, header, same_header, method, path, extra_headers)| AuthorizerEvent {
            identity,
            header,
            same_header,
            method: method.to_string(),
            path,
            extra_headers,
        })
        .boxed()
}

impl AuthorizerEvent {
    /// The event, and the header value the authorizer must judge.
    fn render(&self, live: &Live) -> (Value, Option<String>) {
        let mut event: Value =
            serde_json::from_str(include_str!("../fixtures/authorizer-event.json")).expect("the fixture");
        let sources = match &self.identity {
            IdentitySource::Absent => None,
            IdentitySource::Null => Some(Value::Null),
            IdentitySource::Empty => Some(json!([])),
            IdentitySource::One(a) => Some(json!([header_safe(&a.render(live))])),
            IdentitySource::Two(a, b) => Some(json!([header_safe(&a.render(live)), header_safe(&b.render(live))])),
        };
        let first = sources.as_ref().and_then(|s| s.get(0)).and_then(Value::as_str).map(str::to_string);
        let header =
            if self.same_header { first.clone() } else { self.header.as_ref().map(|h| header_safe(&h.render(live))) };
        let object = event.as_object_mut().expect("an object");
        match sources {
            Some(sources) => object.insert("identitySource".into(), sources),
            None => object.remove("identitySource"),
        };
        let mut headers = Map::new();
        for (name, value) in &self.extra_headers {
            headers.insert(name.clone(), json!(value));
        }
        headers.insert("host".into(), json!(HOST));
        if let Some(header) = &header {
            headers.insert("authorization".into(), json!(header));
        }
        object.insert("headers".into(), Value::Object(headers));
        object.insert("rawPath".into(), json!(self.path));
        object.insert("routeKey".into(), json!(format!("{} /orders", self.method)));
        event["requestContext"]["http"]["method"] = json!(self.method);
        event["requestContext"]["http"]["path"] = json!(self.path);
        // The handler judges the identity source, or the header without one.
        (event, first.or(header))
    }
}

#[test]
fn apigw_authorizer_events() {
    let rt = runtime();
    let world = world(&rt);
    let fresh = Fresh::new(&rt, &world);
    let authorizer = shared::endpoints::Authorizer::from_services(&world.services).expect("an authorizer");
    fuzz("apigw_authorizer_events", authorizer_event(), |recipe, reached| {
        let live = fresh.get();
        let (event, judged) = recipe.render(&live);
        let text = event.to_string();
        let request: ApiGatewayV2CustomAuthorizerV2Request = serde_json::from_str(&text)
            .map_err(|err| TestCaseError::fail(format!("the event does not decode: {err}: {text}")))?;
        let deadline = Instant::now() + Duration::from_secs(3);
        let response = rt
            .block_on(authorizer.handle(request, deadline))
            .map_err(|err| TestCaseError::fail(format!("the authorizer failed: {err}")))?;
        let token = bearer_token(judged.as_deref());
        if response.is_authorized {
            prop_assert_eq!(token, Some(live.access.as_str()), "allowed another token");
            prop_assert_eq!(response.context.get("sub").map(String::as_str), Some(live.sub.as_str()));
            reached.count("allow");
        } else {
            let live_header = format!("Bearer {}", live.access);
            prop_assert_ne!(judged.as_deref().map(str::trim), Some(live_header.as_str()), "denied the live token");
            reached.count("deny");
        }
        Ok(())
    });
}

/// DPoP proofs (RFC 9449 §4.3) as an attacker sends them: valid proofs of the three key
/// types, mutated anywhere (header, key, claims, signature), or any text. No input
/// panics; what verifies is exactly an intact proof, for the key that signed it; a proof
/// with private key members in its `jwk` never verifies.
#[test]
fn dpop_proof() {
    use shared::dpop::{ProofTarget, verify_proof};
    use shared::testing::dpop::DpopKey;
    const URL: &str = "https://api.example.com/orders";
    const TOKEN: &str = "an.access.token";
    let keys: Vec<DpopKey> =
        [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa, SigningAlgorithm::Rs256].map(DpopKey::generate).into();
    let proofs: Vec<String> = keys.iter().map(|key| key.proof("GET", URL, Some(TOKEN))).collect();
    let now = UnixTime::now().0;
    let recipe = prop_oneof![
        4 => (any::<Index>(), mutations()).prop_map(|(at, m)| (Some(at), m, String::new())),
        1 => any_text().prop_map(|text| (None, Vec::new(), text)),
    ];
    fuzz("dpop_proof", recipe, |(at, mutations, text), reached| {
        let (text, signer) = match at {
            Some(at) => {
                let i = at.index(proofs.len());
                (mutate(&proofs[i], &mutations), Some(i))
            }
            None => (text, None),
        };
        let target = ProofTarget { method: "GET", url: URL, access_token: Some(TOKEN), now };
        match verify_proof(&text, &target) {
            Ok(verified) => {
                let i = signer.filter(|i| proofs[*i] == text);
                prop_assert!(i.is_some(), "a changed proof verified: {}", text);
                prop_assert_eq!(&verified.jkt, &keys[i.unwrap_or_default()].jkt);
                reached.count("verified");
            }
            Err(reason) => reached.count(reason.to_string()),
        }
        Ok(())
    });
}
