//! End to end in a real browser (GitHub issue #12): Chromium, driven by Playwright, signs
//! users in on the hosted login page; authlib is the relying party (the authorization URL
//! with PKCE S256, the code exchange, refreshes), with a real loopback listener as its
//! redirect target; ID and logout tokens are verified with PyJWT. Each test registers its
//! own clients and user here and runs one scenario of `tests/browser/signin.py`, which
//! asserts what the user sees and what the RP gets, and reports what is checked further
//! here (the store, the back-channel receivers).
//! The single-page app with DPoP (the last test) is the exception: its relying party is
//! oauth4webapi in the page (`tests/browser/spa`), driven by `tests/browser/spa_dpop.py`.
//!
//! Chromium is Debian's (`infra/lib.sh` `ensure_browser`, at `CHROMIUM`, by default
//! /usr/bin/chromium); Playwright and authlib are in the venv (`infra/requirements.txt`).
//! The local stack is plain http, so its cookies are neither `Secure` nor `__Host-`
//! prefixed; the https variant is the unit test in shared/src/signin/cookies.rs.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::domain::FamilyStatus;
use shared::ids::{FamilyId, Sid};
use shared::secrets::digest_of;
use shared::store::{FamilyRead, SessionRead, SignInStore};
use shared::time::UnixTime;
use std::time::{Duration, Instant};
use tests::{
    Receivers, Req, Stack, TestClient, TestUser, claims_of, encode_form, required_env, seed_browser_client, seed_user,
    stack_store, unused_port,
};
use tokio::io::AsyncWriteExt;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/signin.py");
/// The single-page app's driver (the app itself is `tests/browser/spa`).
const SPA_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/browser/spa_dpop.py");

/// A client that signs users in through the browser, with its redirect URIs on a
/// loopback port of its own (where the driver listens).
struct BrowserClient {
    client: TestClient,
    redirect_uris: Vec<String>,
}

/// `paths`: the redirect URIs' paths (the first is the one the RP uses); `logout`: the
/// back-channel receiver's port.
async fn browser_client(public: bool, paths: &[&str], logout: Option<u16>) -> BrowserClient {
    let port = unused_port();
    let redirect_uris: Vec<String> = paths.iter().map(|path| format!("http://127.0.0.1:{port}{path}")).collect();
    let uris: Vec<&str> = redirect_uris.iter().map(String::as_str).collect();
    let logout_uri = logout.map(|port| move |id: &str| Receivers::uri(port, id));
    let logout_uri = logout_uri.as_ref().map(|uri| uri as &dyn Fn(&str) -> String);
    BrowserClient { client: seed_browser_client(public, &uris, logout_uri).await, redirect_uris }
}

async fn web_app(logout: Option<u16>) -> BrowserClient {
    browser_client(false, &["/cb"], logout).await
}

impl BrowserClient {
    /// What the driver needs to know: as `seed_browser_client` registered it.
    fn spec(&self) -> Value {
        json!({
            "id": self.client.id,
            "secret": self.client.secret,
            "name": format!("Test app {}", &self.client.id[7..12]),
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uri": format!("{}?signed-out", self.redirect_uris[0]),
        })
    }
}

fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&path).exists(),
        "no Chromium at {path}: `make test` installs it (infra/lib.sh ensure_browser), or set CHROMIUM"
    );
    path
}

/// Runs `scenario` of the driver in a headless browser; returns what it reports.
async fn drive(scenario: &str, user: &TestUser, clients: &[&BrowserClient], receivers: &[u16]) -> Value {
    drive_script(SCRIPT, scenario, user, clients, receivers).await
}

/// `drive`, with the driver `script` (same input, same report).
async fn drive_script(
    script: &str,
    scenario: &str,
    user: &TestUser,
    clients: &[&BrowserClient],
    receivers: &[u16],
) -> Value {
    let stack = Stack::from_env();
    let input = json!({
        "base_url": stack.base_url,
        "issuer": stack.issuer,
        "chromium": chromium(),
        "user": {"username": user.username, "password": user.password, "sub": user.sub.as_str()},
        "clients": clients.iter().map(|c| c.spec()).collect::<Vec<_>>(),
        "receivers": receivers,
    });
    let mut child = tokio::process::Command::new(required_env("PYTHON"))
        .arg(script)
        .arg(scenario)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the browser driver starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input.to_string().as_bytes()).await.expect("the driver reads its input");
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("browser scenario `{scenario}` did not finish in two minutes"))
        .expect("the driver's output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser scenario `{scenario}` failed:\n{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("`{scenario}` reported {last:?}: {e}\n{stderr}"))
}

fn sid_of(report: &Value) -> Sid {
    Sid::new(report["sid"].as_str().expect("the scenario reports the sid"))
}

/// Case 1: the login page, the form, the code exchanged by authlib with PKCE S256; the ID
/// token's signature, `nonce`, `sid` and `sub`; the session begun holds the client.
#[tokio::test]
async fn a_user_signs_in_and_the_rp_exchanges_the_code() {
    let (app, user) = (web_app(None).await, seed_user(false).await);
    let report = drive("login", &user, &[&app], &[]).await;
    let session = stack_store().await.session(&sid_of(&report)).await.unwrap().expect("the session is stored");
    assert_eq!(session.sub, user.sub);
    assert!(session.client_ids.iter().any(|id| id.as_str() == app.client.id), "{session:?}");
    assert!(session.browser.is_some(), "a browser session: its cookie proves it");
}

/// Case 2: a second client in the same browser gets a code without the form, and its ID
/// token names the same session; another browser, or `prompt=login`, shows the form.
#[tokio::test]
async fn a_second_app_signs_in_without_the_form() {
    let (a, b, user) = (web_app(None).await, web_app(None).await, seed_user(false).await);
    let report = drive("sso", &user, &[&a, &b], &[]).await;
    let session = stack_store().await.session(&sid_of(&report)).await.unwrap().expect("the session");
    let ids: Vec<&str> = session.client_ids.iter().map(|id| id.as_str()).collect();
    assert!(ids.contains(&a.client.id.as_str()) && ids.contains(&b.client.id.as_str()), "{ids:?}");
}

/// Case 3: a public client (only `client_id`), two refreshes each rotating the refresh
/// token, then the first one presented again: refused, and the family revoked.
#[tokio::test]
async fn a_public_client_rotates_refresh_tokens_and_reuse_is_caught() {
    let (app, user) = (browser_client(true, &["/cb"], None).await, seed_user(false).await);
    assert!(app.client.secret.is_empty());
    drive("public_refresh", &user, &[&app], &[]).await;
}

/// Case 4: a wrong verifier, another registered redirect URI, another client: each
/// `invalid_grant`, the code left to its holder, who exchanges it; the same code again:
/// `invalid_grant`, and the first exchange's tokens dead.
#[tokio::test]
async fn a_code_is_refused_to_anyone_but_its_holder_and_only_once() {
    let app = browser_client(false, &["/cb", "/other"], None).await;
    let (other, user) = (web_app(None).await, seed_user(false).await);
    drive("code_misuse", &user, &[&app, &other], &[]).await;
}

/// Case 4: a code a minute old (`CODE_SECONDS`) is refused. The code's record is aged
/// in the table rather than waited for (nextest runs two tests at a time here); the real
/// minute is the ignored test below.
#[tokio::test]
async fn an_expired_code_is_refused() {
    expired_code(false).await;
}

#[tokio::test]
#[ignore = "waits a real minute: cargo nextest run -p tests --test browser_signin --run-ignored all"]
async fn an_expired_code_is_refused_after_a_real_minute() {
    expired_code(true).await;
}

async fn expired_code(wait: bool) {
    let stack = Stack::from_env();
    let (app, user) = (browser_client(true, &["/cb"], None).await, seed_user(false).await);
    let report = drive("code", &user, &[&app], &[]).await;
    let code = report["code"].as_str().expect("a code");
    let digest = digest_of(code);
    let store = stack_store().await;
    let record = store.code(&digest).await.unwrap().expect("the code is stored");
    let left = record.valid_until.0.saturating_sub(UnixTime::now().0);
    assert!((55..=60).contains(&left), "a code lives a minute: {left} s left");
    if wait {
        let until = Instant::now() + Duration::from_secs(left + 1);
        tokio::time::sleep_until(until.into()).await;
    } else {
        store
            .sdk_client()
            .update_item()
            .table_name(store.table())
            .key("pk", AttributeValue::S(format!("CODE#{digest}")))
            .key("sk", AttributeValue::S("CODE".into()))
            .update_expression("SET valid_until = :past")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":past", AttributeValue::N((UnixTime::now().0 - 1).to_string()))
            .send()
            .await
            .expect("the code's item (CODE#<digest>, CODE) is aged");
    }
    let body = encode_form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", report["redirect_uri"].as_str().unwrap()),
        ("code_verifier", report["code_verifier"].as_str().unwrap()),
        ("client_id", &app.client.id),
    ]);
    let reply = stack.post("/oauth2/token", Req::form(&body)).await;
    assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("invalid_grant")), "{}", reply.json);
    let after = store.code(&digest).await.unwrap().expect("the code's record lives on");
    assert!(after.redeemed_by.is_none(), "an expired code is not spent: {after:?}");
}

/// Case 5: an unregistered redirect URI or an unknown client: a 400 page and no redirect;
/// `code_challenge_method=plain`, no PKCE, `response_type=token`, `prompt=none` without a
/// session: back to the client with the error and the state, no form.
#[tokio::test]
async fn bad_authorization_requests_never_show_the_form() {
    let (app, user) = (web_app(None).await, seed_user(false).await);
    drive("request_errors", &user, &[&app], &[]).await;
}

/// Case 6: a CSRF token altered or removed before the post: 403, no redirect, not signed
/// in; a wrong password: the form again with "Incorrect username or password.", then the
/// right password on that page signs in.
#[tokio::test]
async fn a_wrong_password_or_a_forged_form_stays_on_the_page() {
    let (app, user) = (web_app(None).await, seed_user(false).await);
    drive("password_csrf", &user, &[&app], &[]).await;
}

/// Case 7: the cookies as Chromium keeps them: `HttpOnly`, `SameSite=Lax`, path `/`, their
/// lifetimes, hidden from page scripts; the login form posted from another site
/// (http://localhost) arrives without the cookie and is refused (403), the same page
/// served from this site (127.0.0.1, another port) carries it and signs in.
#[tokio::test]
async fn cookies_are_http_only_and_lax_and_stay_home() {
    let (app, user) = (web_app(None).await, seed_user(false).await);
    drive("cookies", &user, &[&app], &[]).await;
}

/// Every logout request receiver `i` got, once something arrived (the fan-out is part of
/// the end-session request; this waits a little in case it is not).
async fn logout_tokens(rps: &Receivers, i: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let received = rps.received(i).await;
        if !received.is_empty() || Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn assert_told(received: &[Value], client: &BrowserClient, report: &Value) {
    assert_eq!(received.len(), 1, "{received:?}");
    let told = &received[0];
    assert_eq!(told["valid"], true, "PyJWT refused the logout token: {told}");
    assert_eq!(told["client_id"], client.client.id.as_str());
    assert_eq!((&told["claims"]["sid"], &told["claims"]["sub"]), (&report["sid"], &report["sub"]), "{told}");
}

/// Case 8: sign in to two apps (SSO), then the first sends the browser to end_session
/// with `id_token_hint`: back at its post-logout URI with the state, both apps told by
/// back-channel with a valid logout token for the session, the cookie gone, the form again.
#[tokio::test]
async fn logout_with_an_id_token_hint_reaches_every_app() {
    let stack = Stack::from_env();
    let rps = Receivers::start(&stack, &["ok", "ok"]);
    let (a, b) = (web_app(Some(rps.ports[0])).await, web_app(Some(rps.ports[1])).await);
    let user = seed_user(false).await;
    let report = drive("logout_hint", &user, &[&a, &b], &rps.ports).await;
    assert_told(&logout_tokens(&rps, 0).await, &a, &report);
    assert_told(&logout_tokens(&rps, 1).await, &b, &report);
    assert!(stack_store().await.session(&sid_of(&report)).await.unwrap().is_none(), "the session ended");
}

/// Case 8 without `id_token_hint`: the confirmation page; "Stay signed in" ends nothing;
/// "Sign out" ends the session and the app is told.
#[tokio::test]
async fn logout_without_a_hint_asks_first() {
    let stack = Stack::from_env();
    let rps = Receivers::start(&stack, &["ok"]);
    let (app, user) = (web_app(Some(rps.ports[0])).await, seed_user(false).await);
    let report = drive("logout_confirm", &user, &[&app], &rps.ports).await;
    assert_told(&logout_tokens(&rps, 0).await, &app, &report);
}

/// DPoP (RFC 9449) where it matters most, a public client in a browser: a single-page app
/// (`tests/browser/spa`, oauth4webapi in the page) signs the user in with the code flow,
/// PKCE and an ES256 key WebCrypto never lets out (kept in IndexedDB), exchanges the code
/// and refreshes with proofs by that key, and calls UserInfo with `Authorization: DPoP`,
/// every request from its own loopback origin: the CORS preflights the `DPoP` header
/// causes must allow it (the driver reads them). Here: the login's refresh family is
/// bound to that key (`dpop_jkt`), and the last access token carries it in `cnf.jkt`.
#[tokio::test]
async fn a_single_page_app_signs_in_with_dpop_bound_tokens_from_the_browser() {
    let (spa, user) = (browser_client(true, &["/"], None).await, seed_user(false).await);
    assert!(spa.client.secret.is_empty(), "a public client");
    let report = drive_script(SPA_SCRIPT, "dpop", &user, &[&spa], &[]).await;
    assert_eq!(report["sub"], user.sub.as_str(), "{report}");
    let jkt = report["thumbprint"].as_str().expect("the scenario reports the key's thumbprint");
    let preflights = report["preflights"].as_array().expect("the preflights");
    assert!(preflights.len() >= 2, "token and UserInfo preflights: {report}");
    let claims = claims_of(report["access_token"].as_str().expect("the scenario reports the access token"));
    assert_eq!((&claims["cnf"]["jkt"], &claims["client_id"]), (&json!(jkt), &json!(spa.client.id)), "{claims}");
    let fid = FamilyId::new(claims["fid"].as_str().expect("the access token names its family (fid)"));
    let family = stack_store().await.family(&fid).await.unwrap().expect("the family is stored");
    assert_eq!(family.dpop_jkt.as_deref(), Some(jkt), "the family is bound to the browser's key: {family:?}");
    assert_eq!((family.client_id.as_str(), &family.sub), (spa.client.id.as_str(), &user.sub), "{family:?}");
    assert_eq!((family.generation, family.status), (1, FamilyStatus::Active), "one refresh: {family:?}");
}
