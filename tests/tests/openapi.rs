//! HTTP-level fuzzing (issue #10): schemathesis runs every operation of
//! `docs/openapi.yaml` against the stack of `make test` and checks that no answer is a
//! server error and that every answer conforms to the description: its status, its
//! content type, its headers and its body.
//!
//! The test seeds the clients and users the run needs (fresh ids, as every test here)
//! and live tokens of theirs, and hands them to schemathesis through its hooks (the
//! Python module `HOOKS` below, written to a scratch directory with the seeded values):
//!
//! * deterministic probes first (the examples phase): each success, the 401, 403, 413
//!   and 429 answers, the refusals worth pinning down; for browser sign-in, a login on
//!   the page, single sign-on, a code exchange by a public client and RP-initiated
//!   logout, from a sign-in the test walks through first (`seed_browser`); for each
//!   CORS preflight, a registered origin and another;
//! * then the coverage and fuzzing phases, `EXAMPLES` cases per operation, where most
//!   OAuth requests get a seeded client's credentials (Basic or `client_secret_post`),
//!   some none, some a wrong secret, and parameters that name a token, user or session
//!   are often live ones; the revocation feed mostly gets the seeded resource server's
//!   credentials (Basic, or in a POST's form) and a cursor the feed issued; a few probes
//!   authenticate with client assertions (`private_key_jwt`) made for them, each once
//!   but for the replay probe; browser requests often name the
//!   seeded browser client and its registered URIs, so that they get past the error page.
//!
//! Wrong secrets always name one client id (`victim`): after five failures in a row it
//! is throttled (429, which the description allows wherever clients authenticate), and
//! the seeded clients the rest of the run uses are not. The tokens given to userinfo and
//! introspection belong to a user that revocation and logout are never given, so they
//! stay live for the whole run.
//!
//! `OPENAPI_FUZZ_EXAMPLES` overrides the number of cases per operation and
//! `OPENAPI_FUZZ_SEED` replays a run (schemathesis prints its seed).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use shared::domain::{GrantType, SigningAlgorithm};
use shared::ids::random_id;
use shared::testing::kit::ClientKey;
use shared::time::UnixTime;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tests::{
    Req, Stack, TestClient, encode_form, password_login, required_env, seed_browser_client, seed_client,
    seed_key_client_into, seed_resource_server_into, seed_rp_client, seed_user, stack_store,
};

/// Generated cases per operation (`--max-examples`, the fuzzing phase; the coverage
/// phase adds some 20 boundary cases per operation, the probes 30 requests in all):
/// about 900 requests, some 30 s on a 2-core machine that is also building.
const EXAMPLES: u32 = 100;

const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.yaml");

/// No 5xx, and the response conformance checks.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

/// Every operation of the description, as schemathesis labels them.
const OPERATIONS: [&str; 23] = [
    "POST /oauth2/token",
    "OPTIONS /oauth2/token",
    "POST /oauth2/refresh",
    "OPTIONS /oauth2/refresh",
    "POST /oauth2/revoke",
    "OPTIONS /oauth2/revoke",
    "POST /oauth2/introspect",
    "POST /oauth2/logout",
    "GET /oauth2/revocations",
    "POST /oauth2/revocations",
    "GET /oauth2/authorize",
    "POST /oauth2/authorize",
    "GET /oauth2/end_session",
    "POST /oauth2/end_session",
    "GET /userinfo",
    "POST /userinfo",
    "OPTIONS /userinfo",
    "GET /.well-known/openid-configuration",
    "OPTIONS /.well-known/openid-configuration",
    "GET /.well-known/oauth-authorization-server",
    "OPTIONS /.well-known/oauth-authorization-server",
    "GET /.well-known/jwks.json",
    "OPTIONS /.well-known/jwks.json",
];

/// PKCE: the verifier and S256 challenge of RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

#[tokio::test]
async fn every_answer_of_every_endpoint_conforms_to_the_openapi_description() {
    let stack = Stack::from_env();
    let python = required_env("PYTHON");
    let context = seed(&stack).await;

    let scratch = Scratch::new();
    let hooks = scratch.write("hooks.py", HOOKS);
    let context_file = scratch.write("context.json", &context.to_string());
    let log = scratch.0.join("calls.ndjson");
    let examples = std::env::var("OPENAPI_FUZZ_EXAMPLES").unwrap_or_else(|_| EXAMPLES.to_string());

    let mut command = tokio::process::Command::new(&python);
    command
        .args(["-m", "schemathesis.cli", "run", SPEC, "--url", stack.base_url.as_str()])
        .args(["--checks", CHECKS, "--phases", "examples,coverage,fuzzing", "--max-examples", examples.as_str()])
        .args(["--continue-on-failure", "--workers", "1", "--request-timeout", "30"])
        .args(["--generation-database", "none", "--no-color"])
        // Its crash files (`st replay`) and any Hypothesis state stay in the scratch directory.
        .current_dir(&scratch.0)
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("OPENAPI_FUZZ_CONTEXT", &context_file)
        .env("OPENAPI_FUZZ_LOG", &log)
        .kill_on_drop(true);
    if let Ok(seed) = std::env::var("OPENAPI_FUZZ_SEED") {
        command.args(["--seed", seed.as_str()]);
    }
    let started = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(600), command.output())
        .await
        .expect("schemathesis finishes within 10 minutes")
        .unwrap_or_else(|e| {
            panic!("{python} -m schemathesis.cli: {e} (make test installs it from infra/requirements.txt)")
        });
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let statuses = statuses(&log);
    let summary = summarize(&statuses);
    // Shown with the failure (or with --no-capture): the report, then what the run covered.
    println!("{report}\nanswers by operation and status, in {:.1} s:\n{summary}", started.elapsed().as_secs_f64());

    assert!(output.status.success(), "schemathesis found answers that break docs/openapi.yaml: its report is above");
    // The run went past client authentication and token checks everywhere: the probes
    // alone give each of these, so a miss means the credentials did not work.
    for operation in OPERATIONS {
        let ok = statuses.get(operation).is_some_and(|s| s.keys().any(|status| (200..300).contains(status)));
        assert!(ok, "{operation} never answered 2xx:\n{summary}");
    }
    for (status, what) in [
        (401, "a client or token refused"),
        (403, "insufficient_scope"),
        (413, "a body over 64 KiB"),
        (429, "a throttled client"),
    ] {
        assert!(statuses.values().any(|s| s.contains_key(&status)), "no {status} ({what}) in the run:\n{summary}");
    }
}

/// The clients, users and live tokens the hooks hand out (see `HOOKS`).
async fn seed(stack: &Stack) -> Value {
    let all = [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];
    let good =
        [seed_client(&all, "openid profile read", None).await, seed_client(&all, "openid profile read", None).await];
    let admin = seed_rp_client(true, None).await; // all grants, "openid read"
    let limited = seed_client(&[GrantType::ClientCredentials], "read", None).await;
    let victim = seed_client(&[GrantType::ClientCredentials], "read", None).await;
    // A resource server (`--introspect`): the one kind of client the revocation feed serves.
    let feed_reader = seed_resource_server_into(&stack_store().await).await;
    // `reader`'s tokens go to userinfo and introspection only; `rotating`'s refresh tokens
    // to the refresh grant; `target`'s to revocation and logout, which end its sessions.
    // `probe`'s one session is what the probes' admin logout ends.
    let reader = seed_user(false).await;
    let rotating = seed_user(false).await;
    let target = seed_user(false).await;
    let probe = seed_user(false).await;
    let victim_user = seed_user(false).await;

    let mut values: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
    let mut add = |kind: &'static str, client: &TestClient, value: &str| {
        values.entry(kind).or_default().push(json!({ "client": client.id, "value": value }));
    };
    let mut protect = vec![];
    // Logins are DynamoDB transactions, which moto makes cost a copy of the whole table:
    // as few as give each client a token of each kind.
    for (client, scopes) in [
        (&good[0], ["openid profile read", "read"]),
        (&good[1], ["openid profile read", "read"]),
        (&admin, ["openid read", "read"]),
    ] {
        for scope in scopes {
            let login = password_login(stack, client, &reader, scope).await;
            let access = login.str("access_token");
            add(if scope.starts_with("openid") { "access" } else { "access_no_openid" }, client, access);
            if let Some(id_token) = login.json["id_token"].as_str() {
                add("id", client, id_token);
            }
            let reader_claims = claims(access);
            protect.extend([reader_claims["sub"].clone(), reader_claims["sid"].clone()]);
        }
        add("refresh", client, password_login(stack, client, &rotating, scopes[0]).await.str("refresh_token"));
        let login = password_login(stack, client, &target, scopes[0]).await;
        add("target_access", client, login.str("access_token"));
        add("target_refresh", client, login.str("refresh_token"));
        let target_claims = claims(login.str("access_token"));
        add("target_sid", client, target_claims["sid"].as_str().expect("sid"));
        add("target_sub", client, target_claims["sub"].as_str().expect("sub"));
        add("access_no_openid", client, &client_credentials(stack, client).await);
        add("target_access", client, &client_credentials(stack, client).await);
    }
    let probe_login = password_login(stack, &admin, &probe, "openid read").await;
    let refresh_probe = password_login(stack, &admin, &rotating, "openid read").await;
    // private_key_jwt: a client and a resource server registered by their keys, and an
    // assertion for each probe (five minutes long: the probes run within them).
    let store = stack_store().await;
    let (key, reader_key) =
        (ClientKey::generate(SigningAlgorithm::Es256), ClientKey::generate(SigningAlgorithm::EdDsa));
    let key_client = seed_key_client_into(&store, &[GrantType::ClientCredentials], "read", &key, false).await;
    let key_reader = seed_key_client_into(&store, &[], "", &reader_key, true).await;
    let assertion = |key: &ClientKey, id: &str| {
        let mut claims = ClientKey::claims(id, &format!("{}/oauth2/token", stack.issuer), UnixTime::now());
        claims["exp"] = json!(claims["iat"].as_u64().expect("iat") + 300);
        key.sign(&key.header(), &claims)
    };
    let assertions = json!({
        "token": assertion(&key, &key_client),
        "feed": assertion(&reader_key, &key_reader),
        "introspect": assertion(&reader_key, &key_reader),
    });
    // A cursor the feed issued, for `after`: a reader's first page.
    let first_page = stack.revocations(&feed_reader, None).await;
    assert_eq!(first_page.status, 200, "the revocation feed's first page: {}", first_page.json);
    // Last: its code is good for a minute, and the token probes come first.
    let browser = seed_browser(stack).await;
    json!({
        "clients": [credentials(&good[0]), credentials(&good[1])],
        "admin": credentials(&admin),
        "limited": credentials(&limited),
        "victim": credentials(&victim),
        "feed_reader": credentials(&feed_reader),
        "feed_cursor": first_page.str("cursor"),
        "assertions": assertions,
        "user": { "username": reader.username, "password": reader.password },
        "victim_user": victim_user.username,
        "usernames": [
            &reader.username, &rotating.username, &target.username, &probe.username, &browser["user"]["username"],
        ],
        "protect": protect,
        "probe": {
            "sub": claims(probe_login.str("access_token"))["sub"],
            "refresh": refresh_probe.str("refresh_token"),
        },
        "values": values,
        "browser": browser,
    })
}

/// A browser sign-in for the probes, walked through here: a public client (its
/// redirect URI's origin thereby registered for CORS) and a user who signed in on the
/// login page. The probes get the single sign-on cookie, the ID token of that session
/// (to end it with), a fresh code and a refresh token of the client, a pending login
/// form and a logout confirmation, each with its CSRF cookie.
async fn seed_browser(stack: &Stack) -> Value {
    let host: String = random_id().chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_lowercase();
    let origin = format!("https://spa-{host}.example");
    let redirect_uri = format!("{origin}/cb");
    let client = seed_browser_client(true, &[redirect_uri.as_str()], None).await;
    let user = seed_user(false).await;
    let authorize = format!(
        "/oauth2/authorize?{}",
        encode_form(&[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid profile"),
            ("state", "seed"),
            ("nonce", "seed-nonce"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ])
    );
    // The login page, and the form posted back: a session, and a code.
    let form = browse(stack, "GET", &authorize, None, None).await;
    assert_eq!(form.status, 200, "the login page: {}", form.body);
    let login = encode_form(&[
        ("request", form.field("request").as_str()),
        ("csrf", form.field("csrf").as_str()),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
    ]);
    let signed_in = browse(stack, "POST", "/oauth2/authorize", Some(&form.cookie("signin-")), Some(&login)).await;
    assert_eq!(signed_in.status, 303, "signed in: {}", signed_in.body);
    let session = signed_in.cookie("session=");
    let exchange = encode_form(&[
        ("grant_type", "authorization_code"),
        ("client_id", client.id.as_str()),
        ("code", signed_in.param("code").as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", VERIFIER),
    ]);
    let tokens = stack.post("/oauth2/token", Req::form(&exchange)).await;
    assert_eq!(tokens.status, 200, "the public client's exchange: {}", tokens.json);
    // Single sign-on: a code at once, for the token probe to exchange.
    let sso = browse(stack, "GET", &authorize, Some(&session), None).await;
    assert_eq!(sso.status, 303, "single sign-on: {}", sso.body);
    // A login form and a logout confirmation for the probes to post back.
    let pending = browse(stack, "GET", &authorize, None, None).await;
    let ask = browse(stack, "GET", "/oauth2/end_session", None, None).await;
    assert_eq!(ask.status, 200, "the logout confirmation: {}", ask.body);
    json!({
        "client_id": client.id,
        "origin": origin,
        "redirect_uri": redirect_uri,
        "post_logout_redirect_uri": format!("{redirect_uri}?signed-out"),
        "challenge": CHALLENGE,
        "verifier": VERIFIER,
        "session_cookie": session,
        "code": sso.param("code"),
        "refresh": tokens.str("refresh_token"),
        "hint": tokens.str("id_token"),
        "login": {
            "request": pending.field("request"),
            "csrf": pending.field("csrf"),
            "cookie": pending.cookie("signin-"),
        },
        "signout": { "csrf": ask.field("csrf"), "cookie": ask.cookie("signout=") },
        "user": { "username": user.username, "password": user.password },
        // A username nobody holds, for the throttled login form.
        "stranger": format!("nobody-{}", random_id()),
    })
}

/// What a browser is answered: status, `Location`, the cookies set (`name=value`), body.
struct Answer {
    status: u16,
    location: Option<String>,
    cookies: Vec<String>,
    body: String,
}

async fn browse(stack: &Stack, method: &str, path: &str, cookie: Option<&str>, form: Option<&str>) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut request = stack.http.request(method, stack.url(path));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    if let Some(form) = form {
        request = request.header("content-type", "application/x-www-form-urlencoded").body(form.to_string());
    }
    let response = request.send().await.expect("the stack answers");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let location = header("location");
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_string())
        .collect();
    Answer { status: response.status().as_u16(), location, cookies, body: response.text().await.expect("a body") }
}

impl Answer {
    /// The value of the page's `name="…" value="…"` field.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker).unwrap_or_else(|| panic!("no field {name}: {}", self.body)) + marker.len();
        self.body[start..].split('"').next().unwrap_or_default().to_string()
    }

    /// The `name=value` of the cookie set whose name starts with `prefix`.
    fn cookie(&self, prefix: &str) -> String {
        let found = self.cookies.iter().find(|c| c.starts_with(prefix));
        found.unwrap_or_else(|| panic!("no cookie {prefix}…: {:?}", self.cookies)).clone()
    }

    /// A parameter of the `Location`'s query.
    fn param(&self, name: &str) -> String {
        let location = self.location.as_deref().expect("a Location");
        let query: HashMap<String, String> =
            url::Url::parse(location).expect("a URL").query_pairs().into_owned().collect();
        query.get(name).unwrap_or_else(|| panic!("no {name} in {location}")).clone()
    }
}

fn credentials(client: &TestClient) -> Value {
    json!({ "id": client.id, "secret": client.secret })
}

async fn client_credentials(stack: &Stack, client: &TestClient) -> String {
    let reply = stack.post_form("/oauth2/token", client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.str("access_token").to_string()
}

/// The claims of a JWT we issued (read, not verified: the other tests verify them).
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

/// Answers per operation and status, from the hooks' log.
fn statuses(log: &Path) -> BTreeMap<String, BTreeMap<u16, u32>> {
    let mut counts: BTreeMap<String, BTreeMap<u16, u32>> = BTreeMap::new();
    for line in std::fs::read_to_string(log).unwrap_or_default().lines() {
        let call: Value = serde_json::from_str(line).expect("a log line");
        let operation = call["operation"].as_str().unwrap_or_default().to_string();
        let status = call["status"].as_u64().unwrap_or_default() as u16;
        *counts.entry(operation).or_default().entry(status).or_default() += 1;
    }
    counts
}

/// One line per operation. (404s are schemathesis probing methods the route does not
/// serve: the local router's answer, which no check judges.)
fn summarize(statuses: &BTreeMap<String, BTreeMap<u16, u32>>) -> String {
    statuses
        .iter()
        .map(|(operation, counts)| {
            let counts: Vec<String> = counts.iter().map(|(status, n)| format!("{status}×{n}")).collect();
            format!("  {operation:<46} {}\n", counts.join(" "))
        })
        .collect()
}

/// A directory of its own, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("openapi-fuzz-{}", random_id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).expect("scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The schemathesis hooks, loaded from `SCHEMATHESIS_HOOKS`.
const HOOKS: &str = r###""""Schemathesis hooks of tests/tests/openapi.rs: credentials, live tokens, probes.

* `map_case`: most generated OAuth requests get a seeded client's credentials (Basic or
  in the form), some none, some a wrong secret, some keep what was generated; where a
  parameter names a token, user or session, often a live one. So the fuzzing reaches
  past client authentication into the grants, revocation, introspection, logout and
  userinfo. Each choice is a function of the generated case (a hash of it), so a case
  replays identically when Hypothesis shrinks it. Browser requests often name the
  seeded browser client and its registered URIs; preflights a registered origin or not.
* `before_add_examples`: deterministic probes, sent first, one per answer worth pinning
  down (each success, 401, 403, 413, 429, the refusals), with the credentials they need,
  and the browser sign-in's cookies and CSRF tokens.
* `after_call`: one line per request (operation and status) for the test's summary.
"""

import base64
import binascii
import hashlib
import json
import os
import urllib.parse

import schemathesis

CTX = json.load(open(os.environ["OPENAPI_FUZZ_CONTEXT"]))
LOG = os.environ["OPENAPI_FUZZ_LOG"]
CLIENTS = {c["id"]: c for c in CTX["clients"] + [CTX["admin"], CTX["limited"], CTX["feed_reader"]]}
# The `sub` and `sid` of the tokens userinfo and introspection are given: they must stay
# live for the whole run.
PROTECTED = set(CTX["protect"])
USERNAMES = set(CTX["usernames"])
BROWSER = CTX["browser"]
BROWSER_PATHS = ("/oauth2/authorize", "/oauth2/end_session")
FORM = "application/x-www-form-urlencoded"

# How an OAuth request authenticates its client, by weight: a seeded client as Basic or
# in the form, no credentials, a wrong secret (always for the one client id `victim`, so
# its run of failures ends in 429 for it alone), or whatever was generated.
AUTH_MODES = ["basic"] * 5 + ["post"] * 2 + ["none", "wrong", "generated"]


class Chooser:
    """Deterministic choices drawn from a hash of the generated case."""

    def __init__(self, case):
        seed = repr((case.operation.label, case.body, sorted((case.headers or {}).items()), case.query))
        self.digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest()
        self.at = 0

    def __call__(self, options):
        byte = self.digest[self.at % len(self.digest)]
        self.at += 1
        return options[byte % len(options)]


def basic(client_id, secret):
    """RFC 6749 §2.3.1: each part form-urlencoded, then Basic."""
    raw = f"{urllib.parse.quote_plus(client_id)}:{urllib.parse.quote_plus(secret)}"
    return "Basic " + base64.b64encode(raw.encode()).decode()


def basic_user(case):
    header = (case.headers or {}).get("Authorization", "")
    try:
        decoded = base64.b64decode(header.split(" ", 1)[1], validate=True).decode()
        return urllib.parse.unquote_plus(decoded.split(":", 1)[0])
    except (IndexError, ValueError, binascii.Error, UnicodeDecodeError):
        return None


def set_header(case, name, value):
    if case.headers is None:
        case.headers = {}
    for key in [k for k in case.headers if k.lower() == name.lower()]:
        del case.headers[key]
    if value is not None:
        case.headers[name] = value


def authenticate(case, pick, form, owner):
    mode = pick(AUTH_MODES)
    if mode == "generated":
        # Schemathesis reuses values it saw in answers (an introspection's `client_id`):
        # a generated secret for a seeded client would throttle that client.
        if form is not None and form.get("client_id") in CLIENTS:
            form["client_id"] = CTX["victim"]["id"]
        if basic_user(case) in CLIENTS:
            set_header(case, "Authorization", basic(CTX["victim"]["id"], "generated"))
        return
    candidates = list(CTX["clients"])
    if case.path == "/oauth2/logout":
        candidates += [CTX["admin"]] * 2
    if case.path == "/oauth2/token":
        candidates.append(CTX["limited"])
    client = pick(candidates)
    if owner is not None and pick([True, True, True, False]):
        client = CLIENTS[owner]
    if form is not None:
        # The seeded credentials alone: no generated ones beside them (two methods).
        for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type"):
            form.pop(name, None)
    if mode == "basic":
        set_header(case, "Authorization", basic(client["id"], client["secret"]))
    elif mode == "post" and form is not None:
        set_header(case, "Authorization", None)
        form["client_id"] = client["id"]
        form["client_secret"] = client["secret"]
    elif mode == "wrong":
        set_header(case, "Authorization", basic(CTX["victim"]["id"], "not-" + CTX["victim"]["secret"]))
    else:
        set_header(case, "Authorization", None)


def feed_request(case, pick):
    """The revocation feed: mostly the seeded resource server (Basic, or in a POST's form),
    else a client that is not one (403), no credentials, a wrong secret, or what was
    generated; `after` often a cursor the feed issued, in the query of a GET and the form
    of a POST."""
    mode = pick(["reader"] * 5 + ["client", "none", "wrong", "generated"])
    posted = case.method.upper() == "POST"
    form = case.body if posted and isinstance(case.body, dict) else None
    if form is not None and mode != "generated":
        for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type"):
            form.pop(name, None)
    if mode == "reader" and form is not None and pick([True, False]):
        set_header(case, "Authorization", None)
        form["client_id"] = CTX["feed_reader"]["id"]
        form["client_secret"] = CTX["feed_reader"]["secret"]
    elif mode == "reader":
        set_header(case, "Authorization", basic(CTX["feed_reader"]["id"], CTX["feed_reader"]["secret"]))
    elif mode == "client":
        client = pick(CTX["clients"])
        set_header(case, "Authorization", basic(client["id"], client["secret"]))
    elif mode == "wrong":
        set_header(case, "Authorization", basic(CTX["victim"]["id"], "not-" + CTX["victim"]["secret"]))
    elif mode == "none":
        set_header(case, "Authorization", None)
    else:
        if basic_user(case) in CLIENTS:
            # A generated secret for a seeded client would throttle it.
            set_header(case, "Authorization", basic(CTX["victim"]["id"], "generated"))
        if form is not None and form.get("client_id") in CLIENTS:
            form["client_id"] = CTX["victim"]["id"]
    if pick([True, True, False]):
        if posted:
            if form is not None:
                form["after"] = CTX["feed_cursor"]
        else:
            if case.query is None:
                case.query = {}
            if isinstance(case.query, dict):
                case.query["after"] = CTX["feed_cursor"]


def jwt_sid(token):
    """The `sid` claim of a JWT we issued, read, not verified; `None` for anything else."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("sid")
    except (AttributeError, IndexError, ValueError, binascii.Error):
        return None


def browser_params(case, pick):
    """Often the seeded browser client and its registered URIs, so that a request gets
    past the error page to the request's own checks, the login page or the logout."""
    params = case.query if case.method.upper() == "GET" else case.body
    if params is None and case.method.upper() == "GET":
        params = case.query = {}
    if not isinstance(params, dict):
        return
    if case.path == "/oauth2/end_session":
        # Schemathesis reuses values it saw in answers: never end a protected session.
        if jwt_sid(params.get("id_token_hint")) in PROTECTED:
            del params["id_token_hint"]
        if pick([True, True, False]):
            params["client_id"] = BROWSER["client_id"]
            registered = BROWSER["post_logout_redirect_uri"]
            params["post_logout_redirect_uri"] = pick([registered, registered, "https://unregistered.example/"])
        return
    if params.get("username") in USERNAMES:
        # A seeded username with a generated password would throttle it.
        params["username"] = CTX["victim_user"]
    if "request" in params and "client_id" not in params:
        return  # the login form posted back: it stays one
    if pick([True, True, True, False]):
        params["client_id"] = BROWSER["client_id"]
        params["redirect_uri"] = pick([BROWSER["redirect_uri"]] * 3 + ["https://unregistered.example/cb"])
        if pick([True, True, False]):
            params["code_challenge"] = BROWSER["challenge"]
            params["code_challenge_method"] = "S256"
            params["response_type"] = pick(["code", "code", "code", "token"])


def substitute(pick, form, name, kinds):
    """Maybe replace the generated `name` with a live value; returns that value's client."""
    if name not in form:
        return None
    kind = pick(kinds)
    if kind == "generated":
        return None
    chosen = pick(CTX["values"][kind])
    form[name] = chosen["value"]
    return chosen["client"]


@schemathesis.hook
def map_case(context, case):
    pick = Chooser(case)
    if case.method.upper() == "OPTIONS":
        origin = pick([BROWSER["origin"], BROWSER["origin"], "https://unregistered.example", "generated", None])
        if origin != "generated":
            set_header(case, "Origin", origin)
        return case
    if case.path in BROWSER_PATHS:
        browser_params(case, pick)
        return case
    if case.path == "/userinfo":
        kind = pick(["access", "access", "access_no_openid", "id", "generated", "none"])
        if kind == "none":
            set_header(case, "Authorization", None)
        elif kind != "generated":
            set_header(case, "Authorization", "Bearer " + pick(CTX["values"][kind])["value"])
        return case
    if not case.path.startswith("/oauth2/"):
        return case
    if case.path == "/oauth2/revocations":
        feed_request(case, pick)
        return case
    form = case.body if isinstance(case.body, dict) else None
    owner = None
    if form is not None:
        if case.path in ("/oauth2/token", "/oauth2/refresh"):
            if form.get("grant_type") == "password":
                who = pick(["user", "user", "victim", "generated"])
                if who == "user":
                    form["username"] = CTX["user"]["username"]
                    form["password"] = CTX["user"]["password"]
                elif who == "victim" or form.get("username") in USERNAMES:
                    # A seeded username Schemathesis picked up (userinfo's
                    # `preferred_username`) with a generated password would throttle it.
                    form["username"] = CTX["victim_user"]
            owner = substitute(pick, form, "refresh_token", ["refresh", "refresh", "generated"])
            if "scope" in form:
                form["scope"] = pick([form["scope"], form["scope"], "read", "openid", "openid profile read"])
        elif case.path == "/oauth2/revoke":
            owner = substitute(pick, form, "token", ["target_access", "target_refresh", "id", "generated"])
        elif case.path == "/oauth2/introspect":
            kinds = ["access", "access_no_openid", "refresh", "target_access", "target_refresh", "generated"]
            owner = substitute(pick, form, "token", kinds)
        elif case.path == "/oauth2/logout":
            owner = (
                substitute(pick, form, "refresh_token", ["target_refresh", "generated"])
                or substitute(pick, form, "sid", ["target_sid", "generated"])
                or substitute(pick, form, "sub", ["target_sub", "generated"])
            )
            for name, kind in (("sid", "target_sid"), ("sub", "target_sub")):
                if form.get(name) in PROTECTED:
                    form[name] = pick(CTX["values"][kind])["value"]
    authenticate(case, pick, form, owner)
    if form is not None and form.get("grant_type") == "authorization_code" and pick([True, True, False]):
        # The public client naming itself: past client authentication into the grant.
        set_header(case, "Authorization", None)
        form.pop("client_secret", None)
        form["client_id"] = BROWSER["client_id"]
        form["redirect_uri"] = BROWSER["redirect_uri"]
        form["code_verifier"] = BROWSER["verifier"]
    return case


def first(kind):
    return CTX["values"][kind][0]


def as_client(client_id, form, post=False):
    """Headers and form of a request from the seeded client `client_id`."""
    client = CLIENTS[client_id]
    if post:
        return {}, {**form, "client_id": client["id"], "client_secret": client["secret"]}
    return {"Authorization": basic(client["id"], client["secret"])}, form


def oauth_probes():
    good, other, admin = CTX["clients"][0]["id"], CTX["clients"][1]["id"], CTX["admin"]["id"]
    user, reader, victim = CTX["user"], first("access"), CTX["victim"]["id"]
    cc = {"grant_type": "client_credentials"}
    return {
        "/oauth2/token": [
            as_client(good, {**cc, "scope": "read"}),
            # RFC 6749 §3.3: a scope of spaces holds no scope-token. Whatever the answer
            # (`invalid_scope`, or the default scope), a token response's `scope` is never "".
            as_client(good, {**cc, "scope": " "}),
            as_client(other, {"grant_type": "password", "scope": "openid profile read", **user}, post=True),
            as_client(CTX["limited"]["id"], {"grant_type": "password", **user}),
            as_client(good, {**cc, "padding": "x" * 70_000}),
            ({}, cc),
            # private_key_jwt: a token by assertion, then the same assertion again (401).
            by_assertion(CTX["assertions"]["token"], cc),
            by_assertion(CTX["assertions"]["token"], cc),
            # Five failures in a row for one client id, then 429 with Retry-After.
            *[({"Authorization": basic(victim, f"wrong-{n}")}, cc) for n in range(6)],
        ],
        "/oauth2/refresh": [
            as_client(admin, {"grant_type": "refresh_token", "refresh_token": CTX["probe"]["refresh"], "scope": " "}),
            as_client(good, cc),
        ],
        "/oauth2/revoke": [
            as_client(first("id")["client"], {"token": first("id")["value"]}),
            as_client(good, {"token": "not-a-token", "token_type_hint": "refresh_token"}),
            as_client(other, {"token": first("target_access")["value"]}),
        ],
        "/oauth2/introspect": [
            as_client(reader["client"], {"token": reader["value"]}),
            # RFC 9701: the signed answer, for its documented media type and headers.
            ({**as_client(reader["client"], {})[0], "Accept": "application/token-introspection+jwt"},
             {"token": reader["value"]}),
            as_client(good, {"token": "not-a-token"}, post=True),
            by_assertion(CTX["assertions"]["introspect"], {"token": reader["value"]}),
        ],
        "/oauth2/logout": [
            as_client(admin, {"sub": CTX["probe"]["sub"]}),
            as_client(admin, {"sub": CTX["probe"]["sub"], "sid": first("target_sid")["value"]}),
            as_client(good, {"sub": CTX["probe"]["sub"]}),
        ],
    }


def browser_probes():
    """(headers, parameters) by (method, path): the query of a GET, the form of a POST."""
    b = BROWSER
    user, pending = b["user"], b["login"]
    authz = {
        "response_type": "code",
        "client_id": b["client_id"],
        "redirect_uri": b["redirect_uri"],
        "scope": "openid profile",
        "state": "probe",
        "nonce": "probe-nonce",
        "code_challenge": b["challenge"],
        "code_challenge_method": "S256",
    }
    with_form = {"Cookie": pending["cookie"]}
    back = b["post_logout_redirect_uri"]

    def login(username, password, csrf=None):
        csrf = csrf or pending["csrf"]
        return {"request": pending["request"], "csrf": csrf, "username": username, "password": password}

    return {
        ("GET", "/oauth2/authorize"): [
            ({}, authz),  # the login page
            ({"Cookie": b["session_cookie"]}, authz),  # single sign-on: a code at once
            ({}, {**authz, "prompt": "none"}),  # login_required, back to the client
            ({}, {**authz, "code_challenge_method": "plain"}),  # invalid_request, back to the client
            ({}, {**authz, "redirect_uri": "https://unregistered.example/cb"}),  # a page, never a redirect
            ({}, {}),  # no client: a page
        ],
        ("POST", "/oauth2/authorize"): [
            ({}, authz),
            # Five failures in a row for one username, then 429.
            *[(with_form, login(b["stranger"], f"wrong-{n}")) for n in range(6)],
            (with_form, login(user["username"], user["password"], csrf="forged")),  # 403
            ({}, login(user["username"], user["password"])),  # no CSRF cookie: 403
            (with_form, login(user["username"], "wrong")),  # 401, the form again
            (with_form, login(user["username"], user["password"])),  # 303 with the session cookie
            (with_form, login(user["username"], user["password"])),  # posted twice: 400
        ],
        ("GET", "/oauth2/end_session"): [
            ({}, {}),  # "Sign out?"
            ({}, {"client_id": b["client_id"], "post_logout_redirect_uri": back, "state": "s"}),
            ({}, {"client_id": b["client_id"], "post_logout_redirect_uri": "https://unregistered.example/"}),
            # With a hint: the seeded session ends, back to the client with `state`.
            ({}, {"id_token_hint": b["hint"], "post_logout_redirect_uri": back, "state": "bye"}),
        ],
        ("POST", "/oauth2/end_session"): [
            ({}, {"state": "probe"}),
            ({}, {"confirm": "yes", "csrf": "forged"}),  # 403
            # Confirmed, with no session in this browser: signed out, cookies cleared.
            ({"Cookie": b["signout"]["cookie"]}, {"confirm": "yes", "csrf": b["signout"]["csrf"]}),
        ],
    }


def public_client_probes():
    """A public client names itself with `client_id` alone (`none`)."""
    b = BROWSER
    exchange = {
        "grant_type": "authorization_code",
        "client_id": b["client_id"],
        "code": b["code"],
        "redirect_uri": b["redirect_uri"],
        "code_verifier": b["verifier"],
    }
    return {
        # The seeded code (within its minute, or invalid_grant), then its replay.
        "/oauth2/token": [({}, exchange), ({}, exchange)],
        "/oauth2/refresh": [
            ({}, {"grant_type": "refresh_token", "client_id": b["client_id"], "refresh_token": b["refresh"]})
        ],
        "/oauth2/revoke": [({}, {"client_id": b["client_id"], "token": "not-a-token"})],
    }


def feed_probes():
    """(headers, query) of the revocation feed's GET."""
    reader = {"Authorization": basic(CTX["feed_reader"]["id"], CTX["feed_reader"]["secret"])}
    client = CTX["clients"][0]
    return [
        (reader, {}),  # a new reader: every live entry
        (reader, {"after": CTX["feed_cursor"]}),  # reads on from a cursor
        (reader, {"after": "bm90LWEtY3Vyc29y"}),  # 400 invalid_request
        ({"Authorization": basic(client["id"], client["secret"])}, {}),  # not a resource server: 403
        ({}, {}),  # 401
    ]


def by_assertion(assertion, form):
    """Headers and form of a request authenticated by a client assertion alone."""
    jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    return {}, {**form, "client_assertion_type": jwt_bearer, "client_assertion": assertion}


def feed_post_probes():
    """(headers, form) of the revocation feed's POST."""
    reader = CTX["feed_reader"]["id"]
    return [
        as_client(reader, {}),  # Basic, an empty form
        as_client(reader, {"after": CTX["feed_cursor"]}, post=True),  # client_secret_post
        by_assertion(CTX["assertions"]["feed"], {"after": CTX["feed_cursor"]}),  # private_key_jwt
        as_client(reader, {"after": "bm90LWEtY3Vyc29y"}),  # 400 invalid_request
        as_client(CTX["clients"][0]["id"], {}),  # not a resource server: 403
        ({}, {}),  # 401
    ]


def preflight_probes():
    return [{"Origin": BROWSER["origin"]}, {"Origin": "https://unregistered.example"}, {}]


def userinfo_probes():
    client = CTX["clients"][0]
    return [
        {"Authorization": "Bearer " + first("access")["value"]},
        {"Authorization": "Bearer " + first("access_no_openid")["value"]},
        {},
        {"Authorization": basic(client["id"], client["secret"])},
        {"Authorization": "Bearer a b"},
    ]


@schemathesis.hook
def before_add_examples(context, examples):
    operation = context.operation
    method = operation.method.upper()
    if method == "OPTIONS":
        examples.extend(operation.Case(headers=headers) for headers in preflight_probes())
        return
    if operation.path in BROWSER_PATHS:
        for headers, params in browser_probes().get((method, operation.path), []):
            if method == "GET":
                examples.append(operation.Case(headers=headers, query=params))
            else:
                examples.append(operation.Case(headers=headers, body=params, media_type=FORM))
        return
    if operation.path == "/userinfo":
        examples.extend(operation.Case(headers=headers) for headers in userinfo_probes())
        return
    if operation.path == "/oauth2/revocations" and method == "GET":
        examples.extend(operation.Case(headers=headers, query=query) for headers, query in feed_probes())
        return
    if operation.path == "/oauth2/revocations":
        for headers, form in feed_post_probes():
            examples.append(operation.Case(headers=headers, body=form, media_type=FORM))
        return
    probes = oauth_probes().get(operation.path, []) + public_client_probes().get(operation.path, [])
    for headers, form in probes:
        examples.append(operation.Case(headers=headers, body=form, media_type=FORM))


@schemathesis.hook
def after_call(context, case, response):
    with open(LOG, "a") as log:
        log.write(json.dumps({"operation": case.operation.label, "status": response.status_code}) + "\n")
"###;
