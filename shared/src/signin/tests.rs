//! Browser sign-in against the in-memory store: the authorization request, the login
//! form, single sign-on, the code exchange and RP-initiated logout, as a browser (which
//! keeps cookies) and a client (which keeps the PKCE verifier) drive them. The same flows
//! run in a real browser against `cargo lambda watch` and moto in `tests/`.

use super::cookies::Cookies;
use super::*;
use crate::domain::{ClientAuthentication, GrantType, RevocationQuery, RevocationStatus, UserRecord};
use crate::grants::TokenIssuer;
use crate::ids::{FamilyId, Subject};
use crate::oauth::{OAuthErrorCode, OAuthRequest};
use crate::secrets::PasswordHashString;
use crate::store::{ClientAdmin, FamilyRead, RevocationRead, SessionRead, SignInStore, UserAdmin};
use crate::testing::counting::Counting;
use crate::testing::kit;
use crate::testing::memory::MemoryStore;
use crate::tokens::id_token::IdTokenClaims;
use std::collections::HashMap;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SHOP: &str = "https://shop.example.com/cb";
const BLOG: &str = "https://blog.example.com/cb";

struct World {
    store: Arc<MemoryStore>,
    counting: Arc<Counting<MemoryStore>>,
    services: crate::Services,
    sign_in: SignIn,
    issuer: TokenIssuer,
    sub: Subject,
}

/// A browser: it keeps the cookies it is given, and sends them back.
#[derive(Default)]
struct Browser {
    jar: HashMap<String, String>,
}

impl Browser {
    fn cookies(&self) -> Cookies {
        let header: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Cookies::parse([header.join("; ").as_str()])
    }

    fn keep(&mut self, answer: &Answer) {
        let cookies = match answer {
            Answer::Redirect { cookies, .. } | Answer::Page { cookies, .. } => cookies,
        };
        for cookie in cookies {
            let (pair, attributes) = cookie.header.split_once(';').unwrap_or((&cookie.header, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            if attributes.contains("Max-Age=0") {
                self.jar.remove(name);
            } else {
                self.jar.insert(name.to_string(), value.to_string());
            }
        }
    }
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    for (id, uri, public) in [("shop", SHOP, true), ("blog", BLOG, false)] {
        let mut client =
            kit::client(id, &[GrantType::AuthorizationCode, GrantType::RefreshToken], "openid profile read");
        client.browser.name = Some(format!("The {id}"));
        client.browser.redirect_uris = vec![uri.to_string()];
        client.browser.post_logout_redirect_uris = vec![format!("{uri}/bye")];
        if public {
            client.authentication = ClientAuthentication::None;
        }
        store.put_client(&client).await.unwrap();
    }
    let sub = Subject::random();
    let user = UserRecord {
        username: "alice".into(),
        sub: sub.clone(),
        password_hash: PasswordHashString::create(&crate::secrets::SecretString::new("correct horse")).unwrap(),
        disabled: false,
    };
    store.create_user(&user).await.unwrap();
    let counting = Arc::new(Counting::new(store.clone()));
    let services = kit::services_over(counting.clone());
    let sign_in = services.sign_in().unwrap();
    let issuer = services.token_issuer();
    World { store, counting, services, sign_in, issuer, sub }
}

fn query(pairs: &str) -> Result<OAuthRequest, crate::oauth::OAuthError> {
    OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, pairs.as_bytes())
}

fn authorize_query(client: &str, redirect: &str, extra: &str) -> Result<OAuthRequest, crate::oauth::OAuthError> {
    let redirect = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>();
    query(&format!(
        "response_type=code&client_id={client}&redirect_uri={redirect}&scope=openid+read&state=st-1&nonce=n-1\
         &code_challenge={CHALLENGE}&code_challenge_method=S256{extra}"
    ))
}

/// The hidden field `name` of a rendered form.
fn hidden(page: &crate::pages::Page, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.html.find(&marker).unwrap_or_else(|| panic!("no hidden {name}")) + marker.len();
    page.html[start..].split('"').next().unwrap().to_string()
}

fn location_params(answer: &Answer) -> (String, HashMap<String, String>) {
    let Answer::Redirect { location, .. } = answer else { panic!("not a redirect: {answer:?}") };
    let url = url::Url::parse(location).unwrap();
    let base = format!("{}://{}{}", url.scheme(), url.host_str().unwrap(), url.path());
    (base, url.query_pairs().into_owned().collect())
}

impl World {
    /// The whole sign-in of `browser` at `client`: the form, then alice's password.
    async fn sign_in(&self, browser: &mut Browser, client: &str, redirect: &str) -> HashMap<String, String> {
        self.sign_in_as(browser, client, redirect, "", "username=alice&password=correct+horse").await
    }

    /// The sign-in of `browser` at `client`, with `extra` request parameters and the
    /// `credentials` (form-encoded) typed into the form; the redirect's parameters.
    async fn sign_in_as(
        &self,
        browser: &mut Browser,
        client: &str,
        redirect: &str,
        extra: &str,
        credentials: &str,
    ) -> HashMap<String, String> {
        let form = self.sign_in.authorize(authorize_query(client, redirect, extra), &browser.cookies()).await;
        browser.keep(&form);
        let Answer::Page { status: 200, page, .. } = &form else { panic!("no login form: {form:?}") };
        let (request, csrf) = (hidden(page, "request"), hidden(page, "csrf"));
        let posted = query(&format!("request={request}&csrf={csrf}&{credentials}")).unwrap();
        let answer = self.sign_in.login(&posted, &browser.cookies()).await;
        browser.keep(&answer);
        let (base, params) = location_params(&answer);
        assert_eq!(base, redirect);
        params
    }

    async fn exchange(
        &self,
        client: &str,
        code: &str,
        redirect: &str,
        verifier: &str,
    ) -> Result<crate::grants::TokenResponse, crate::oauth::OAuthError> {
        let redirect = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>();
        let secret = if client == "blog" { format!("&client_secret={}", kit::CLIENT_SECRET) } else { String::new() };
        let body = format!(
            "grant_type=authorization_code&client_id={client}{secret}&code={code}&redirect_uri={redirect}&code_verifier={verifier}"
        );
        self.issuer.token(&kit::form(&body)).await
    }

    fn id_claims(&self, token: &str) -> IdTokenClaims {
        let keys = self.services.keys().snapshot();
        crate::tokens::id_token::verify_hint(&keys, token, kit::ISSUER).unwrap()
    }
}

#[tokio::test]
async fn a_login_ends_in_a_code_whose_exchange_yields_tokens_with_the_nonce_and_sid() {
    let w = world().await;
    let mut browser = Browser::default();
    let params = w.sign_in(&mut browser, "shop", SHOP).await;
    assert_eq!((params["state"].as_str(), params["iss"].as_str()), ("st-1", kit::ISSUER), "state back, iss (RFC 9207)");
    // The issuer is https: the cookies are `__Host-` bound.
    assert!(browser.jar.contains_key("__Host-session"), "the SSO cookie is set: {:?}", browser.jar);
    assert!(!browser.jar.keys().any(|k| k.starts_with("__Host-signin-")), "the CSRF cookie is cleared");

    let tokens = w.exchange("shop", &params["code"], SHOP, VERIFIER).await.expect("the public client's exchange");
    let id = w.id_claims(tokens.id_token.as_deref().expect("an ID token for openid"));
    assert_eq!((id.nonce.as_deref(), id.sub.clone()), (Some("n-1"), w.sub.clone()));
    let session = w.store.session(&id.sid).await.unwrap().expect("the session");
    assert!(session.client_ids.contains(&crate::ids::ClientId::new("shop")), "the client joins the session");
    assert!(tokens.refresh_token.is_some(), "a refresh family, as for every login");
}

#[tokio::test]
async fn signing_in_clears_the_csrf_cookies_of_forms_left_open() {
    let w = world().await;
    let mut browser = Browser::default();
    for _ in 0..3 {
        let stale = w.sign_in.authorize(authorize_query("shop", SHOP, ""), &browser.cookies()).await;
        browser.keep(&stale);
    }
    assert_eq!(browser.jar.keys().filter(|k| k.starts_with("__Host-signin-")).count(), 3, "three forms open");
    w.sign_in(&mut browser, "shop", SHOP).await;
    assert!(!browser.jar.keys().any(|k| k.starts_with("__Host-signin-")), "none left: {:?}", browser.jar.keys());
}

#[tokio::test]
async fn a_second_client_in_the_same_browser_skips_the_form_and_shares_the_session() {
    let w = world().await;
    let mut browser = Browser::default();
    let first = w.sign_in(&mut browser, "shop", SHOP).await;
    let shop = w.exchange("shop", &first["code"], SHOP, VERIFIER).await.unwrap();
    // A warm instance: the client is cached (docs/ARCHITECTURE.md §5).
    w.sign_in.clients.get(&crate::ids::ClientId::new("blog")).await.unwrap();
    w.counting.reset();
    let answer = w.sign_in.authorize(authorize_query("blog", BLOG, ""), &browser.cookies()).await;
    assert!(w.counting.round_trips() <= 2, "SSO: session read + code write, got {}", w.counting.round_trips());
    let (base, params) = location_params(&answer);
    assert_eq!(base, BLOG);
    w.counting.reset();
    let blog = w.exchange("blog", &params["code"], BLOG, VERIFIER).await.expect("the confidential client's exchange");
    assert!(w.counting.round_trips() <= 2, "exchange: code read + one transaction, got {}", w.counting.round_trips());
    let (a, b) = (w.id_claims(shop.id_token.as_deref().unwrap()), w.id_claims(blog.id_token.as_deref().unwrap()));
    assert_eq!(a.sid, b.sid, "one OP session, two clients");
    assert_eq!(w.store.session(&a.sid).await.unwrap().unwrap().client_ids.len(), 2);
}

#[tokio::test]
async fn a_code_is_good_once_for_its_client_redirect_and_verifier() {
    let w = world().await;
    let mut browser = Browser::default();
    let code = w.sign_in(&mut browser, "shop", SHOP).await["code"].clone();
    let refused = |r: Result<crate::grants::TokenResponse, crate::oauth::OAuthError>| r.map(|_| ()).unwrap_err().code;
    let wrong_verifier = "x".repeat(43);
    assert_eq!(refused(w.exchange("shop", &code, SHOP, &wrong_verifier).await), OAuthErrorCode::InvalidGrant);
    assert_eq!(
        refused(w.exchange("shop", &code, "https://shop.example.com/other", VERIFIER).await),
        OAuthErrorCode::InvalidGrant
    );
    assert_eq!(
        refused(w.exchange("blog", &code, SHOP, VERIFIER).await),
        OAuthErrorCode::InvalidGrant,
        "another client's code"
    );
    // None of those spent it.
    let tokens = w.exchange("shop", &code, SHOP, VERIFIER).await.expect("the rightful exchange");
    // A replay is refused, and what the first exchange issued is revoked.
    assert_eq!(refused(w.exchange("shop", &code, SHOP, VERIFIER).await), OAuthErrorCode::InvalidGrant);
    let fid = FamilyId::new(tokens.refresh_token.unwrap().split('.').next().unwrap());
    assert_eq!(w.store.family(&fid).await.unwrap().unwrap().status, crate::domain::FamilyStatus::Revoked);
    let query = RevocationQuery { fid: Some(fid), ..Default::default() };
    assert!(
        matches!(w.store.revocation_status(&query).await.unwrap(), RevocationStatus::Revoked(_)),
        "access tokens too"
    );
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let w = world().await;
    let mut browser = Browser::default();
    let code = w.sign_in(&mut browser, "shop", SHOP).await["code"].clone();
    let digest = crate::secrets::digest_of(&code);
    let mut stored = w.store.code(&digest).await.unwrap().unwrap();
    stored.valid_until = UnixTime(UnixTime::now().0 - 1);
    w.store.overwrite_code(&stored).unwrap();
    let err = w.exchange("shop", &code, SHOP, VERIFIER).await.map(|_| ()).unwrap_err();
    assert_eq!(err.code, OAuthErrorCode::InvalidGrant);
}

#[tokio::test]
async fn no_open_redirector_and_every_other_error_goes_back_with_state() {
    let w = world().await;
    let cookies = Cookies::default();
    for (client, redirect) in [("ghost", SHOP), ("shop", "https://evil.example.com/cb"), ("shop", BLOG)] {
        let answer = w.sign_in.authorize(authorize_query(client, redirect, ""), &cookies).await;
        assert!(matches!(answer, Answer::Page { status: 400, .. }), "{client} {redirect}: {answer:?}");
    }
    let plain = w.sign_in.authorize(authorize_query("shop", SHOP, "&code_challenge_method=plain"), &cookies).await;
    assert!(matches!(plain, Answer::Page { status: 400, .. }), "a repeated parameter: no trusted redirect");
    let token = query(&format!(
        "response_type=token&client_id=shop&redirect_uri={}&state=s2&code_challenge={CHALLENGE}&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(SHOP.as_bytes()).collect::<String>()
    ));
    let (_, params) = location_params(&w.sign_in.authorize(token, &cookies).await);
    assert_eq!((params["error"].as_str(), params["state"].as_str()), ("unsupported_response_type", "s2"));
    let (_, params) =
        location_params(&w.sign_in.authorize(authorize_query("shop", SHOP, "&prompt=none"), &cookies).await);
    assert_eq!(params["error"], "login_required");
}

#[tokio::test]
async fn a_wrong_password_or_a_forged_csrf_token_signs_no_one_in() {
    let w = world().await;
    let mut browser = Browser::default();
    let form = w.sign_in.authorize(authorize_query("shop", SHOP, ""), &browser.cookies()).await;
    browser.keep(&form);
    let Answer::Page { page, .. } = &form else { panic!() };
    let (request, csrf) = (hidden(page, "request"), hidden(page, "csrf"));
    let post = |csrf: &str, password: &str| {
        query(&format!("request={request}&csrf={csrf}&username=alice&password={password}")).unwrap()
    };
    let wrong = w.sign_in.login(&post(&csrf, "guess"), &browser.cookies()).await;
    let Answer::Page { status: 401, page, .. } = &wrong else { panic!("{wrong:?}") };
    assert!(page.html.contains("Incorrect username or password."));
    let forged = w.sign_in.login(&post("forged", "correct+horse"), &browser.cookies()).await;
    assert!(matches!(forged, Answer::Page { status: 403, .. }), "{forged:?}");
    let no_cookie = w.sign_in.login(&post(&csrf, "correct+horse"), &Cookies::default()).await;
    assert!(matches!(no_cookie, Answer::Page { status: 403, .. }), "a cross-site post carries no cookie");
    assert!(!browser.jar.contains_key("__Host-session"));
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_again_despite_a_session() {
    let w = world().await;
    let mut browser = Browser::default();
    w.sign_in(&mut browser, "shop", SHOP).await;
    // In the very second of the sign-in: `max_age=0` is a sign-in now, like `prompt=login`.
    for extra in ["&prompt=login", "&max_age=0"] {
        let answer = w.sign_in.authorize(authorize_query("blog", BLOG, extra), &browser.cookies()).await;
        assert!(matches!(answer, Answer::Page { status: 200, .. }), "{extra}: the form again");
    }
}

#[tokio::test]
async fn rp_initiated_logout_with_a_hint_ends_the_session_and_without_one_asks_first() {
    let w = world().await;
    let mut browser = Browser::default();
    let code = w.sign_in(&mut browser, "shop", SHOP).await["code"].clone();
    let tokens = w.exchange("shop", &code, SHOP, VERIFIER).await.unwrap();
    let hint = tokens.id_token.clone().unwrap();
    let sid = w.id_claims(&hint).sid;

    // Without a hint: a confirmation page, and nothing ends.
    let ask = w.sign_in.end_session(query("client_id=shop"), false, &browser.cookies()).await;
    browser.keep(&ask);
    let Answer::Page { status: 200, page, .. } = &ask else { panic!("{ask:?}") };
    assert!(w.store.session(&sid).await.unwrap().is_some());
    // A forged confirmation does nothing either.
    let forged = w.sign_in.end_session(query("confirm=yes&csrf=forged"), true, &browser.cookies()).await;
    assert!(matches!(forged, Answer::Page { status: 403, .. }));
    // A GET cannot confirm.
    let csrf = hidden(page, "csrf");
    let got = w.sign_in.end_session(query(&format!("confirm=yes&csrf={csrf}")), false, &browser.cookies()).await;
    assert!(matches!(got, Answer::Page { status: 200, .. }) && w.store.session(&sid).await.unwrap().is_some());

    // With the hint: ended at once, cookie cleared, back to the registered URI with state.
    let back = format!("{SHOP}/bye");
    let encoded = url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>();
    let answer = w
        .sign_in
        .end_session(
            query(&format!("id_token_hint={hint}&post_logout_redirect_uri={encoded}&state=bye-1")),
            false,
            &browser.cookies(),
        )
        .await;
    browser.keep(&answer);
    let (base, params) = location_params(&answer);
    assert_eq!((base, params["state"].as_str()), (back, "bye-1"));
    assert!(w.store.session(&sid).await.unwrap().is_none(), "the OP session ended");
    assert!(!browser.jar.contains_key("__Host-session"), "the cookie is cleared");
    // The next authorization shows the form.
    let again = w.sign_in.authorize(authorize_query("shop", SHOP, ""), &browser.cookies()).await;
    assert!(matches!(again, Answer::Page { status: 200, .. }));
    // An unregistered post-logout URI is never followed.
    let evil = w
        .sign_in
        .end_session(
            query(&format!("id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example.com")),
            false,
            &browser.cookies(),
        )
        .await;
    assert!(matches!(evil, Answer::Page { status: 400, .. }));
}

#[tokio::test]
async fn a_public_clients_id_alone_neither_introspects_nor_logs_anyone_out() {
    let w = world().await;
    let mut browser = Browser::default();
    let code = w.sign_in(&mut browser, "shop", SHOP).await["code"].clone();
    let tokens = w.exchange("shop", &code, SHOP, VERIFIER).await.unwrap();
    let sid = w.id_claims(tokens.id_token.as_deref().unwrap()).sid;
    // The sid is in every ID token, and a public client's id is no secret.
    let logout = w.services.logout().unwrap().logout(&kit::form(&format!("client_id=shop&sid={sid}"))).await;
    assert_eq!(logout.map(|_| ()).unwrap_err().code, OAuthErrorCode::InvalidClient);
    assert!(w.store.session(&sid).await.unwrap().is_some(), "the session lives on");
    let introspect = kit::form(&format!("client_id=shop&token={}", tokens.access_token));
    let introspection = w.services.introspector().introspect(&introspect).await;
    assert_eq!(introspection.unwrap_err().code, OAuthErrorCode::InvalidClient);
    // Its own refresh token it may revoke (RFC 7009 §2.1 for public clients).
    let revoke = format!("client_id=shop&token={}", tokens.refresh_token.unwrap());
    w.services.revoker().revoke(&kit::form(&revoke)).await.expect("a public client revokes its own token");
}

#[tokio::test]
async fn a_revoke_all_that_missed_the_browser_session_still_ends_single_sign_on_and_its_codes() {
    let w = world().await;
    let mut browser = Browser::default();
    w.sign_in(&mut browser, "shop", SHOP).await;
    // A code from single sign-on, then the user's tokens revoked (say, a password change)
    // with the session item left in place, as when the index missed it.
    let sso = w.sign_in.authorize(authorize_query("shop", SHOP, ""), &browser.cookies()).await;
    let code = location_params(&sso).1["code"].clone();
    let now = UnixTime::now();
    let line =
        crate::domain::Marker::Subject { sub: w.sub.clone(), not_before: now.plus(1), expires_at: now.plus(3600) };
    crate::store::MarkerWrite::put_marker(&*w.store, &line).await.unwrap();

    let err = w.exchange("shop", &code, SHOP, VERIFIER).await.map(|_| ()).unwrap_err();
    assert_eq!(err.code, OAuthErrorCode::InvalidGrant, "the code minted before the line issues nothing");
    let again = w.sign_in.authorize(authorize_query("shop", SHOP, ""), &browser.cookies()).await;
    assert!(matches!(again, Answer::Page { status: 200, .. }), "the login form, not single sign-on: {again:?}");
}

#[tokio::test]
async fn no_family_outlives_the_browser_session_it_belongs_to() {
    let w = world().await;
    // A client whose refresh tokens would live longer than the browser session.
    let mut long =
        crate::store::ClientRead::client(&*w.store, &crate::ids::ClientId::new("shop")).await.unwrap().unwrap();
    long.lifetimes.refresh_absolute = Some(crate::policy::MAX_FAMILY_LIFETIME);
    w.store.put_client(&long).await.unwrap();
    let mut browser = Browser::default();
    let code = w.sign_in(&mut browser, "shop", SHOP).await["code"].clone();
    let tokens = w.exchange("shop", &code, SHOP, VERIFIER).await.unwrap();
    let sid = w.id_claims(tokens.id_token.as_deref().unwrap()).sid;
    let session = w.store.session(&sid).await.unwrap().unwrap();
    let fid = FamilyId::new(tokens.refresh_token.unwrap().split('.').next().unwrap());
    let family = w.store.family(&fid).await.unwrap().unwrap();
    assert!(
        family.expires_at <= session.expires_at,
        "family {:?}, session {:?}",
        family.expires_at,
        session.expires_at
    );
}

#[tokio::test]
async fn a_hint_for_a_session_this_browser_does_not_hold_only_asks() {
    let w = world().await;
    // The user signed in in two browsers; an old ID token of the first is replayed (say,
    // from an image tag) in the second, or with no cookie at all.
    let (mut first, mut second) = (Browser::default(), Browser::default());
    let code = w.sign_in(&mut first, "shop", SHOP).await["code"].clone();
    let hint = w.exchange("shop", &code, SHOP, VERIFIER).await.unwrap().id_token.unwrap();
    let first_sid = w.id_claims(&hint).sid;
    let code = w.sign_in(&mut second, "shop", SHOP).await["code"].clone();
    let second_sid = w.id_claims(&w.exchange("shop", &code, SHOP, VERIFIER).await.unwrap().id_token.unwrap()).sid;

    let mut stranger = Browser::default();
    for browser in [&mut second, &mut stranger] {
        let answer = w.sign_in.end_session(query(&format!("id_token_hint={hint}")), false, &browser.cookies()).await;
        browser.keep(&answer);
        assert!(matches!(answer, Answer::Page { status: 200, .. }), "the user is asked: {answer:?}");
    }
    assert!(w.store.session(&first_sid).await.unwrap().is_some(), "the hint's session lives on");
    assert!(w.store.session(&second_sid).await.unwrap().is_some(), "and so does the browser's");
    assert!(second.jar.contains_key("__Host-session"), "its cookie is not cleared");
}

#[tokio::test]
async fn debug_output_shows_no_code_cookie_value_or_csrf_token() {
    let w = world().await;
    let mut browser = Browser::default();
    let form = w.sign_in.authorize(authorize_query("shop", SHOP, ""), &browser.cookies()).await;
    browser.keep(&form);
    let Answer::Page { page, .. } = &form else { panic!("a form") };
    let csrf = hidden(page, "csrf");
    let posted =
        query(&format!("request={}&csrf={csrf}&username=alice&password=correct+horse", hidden(page, "request")));
    let answer = w.sign_in.login(&posted.unwrap(), &browser.cookies()).await;
    let (_, params) = location_params(&answer);
    browser.keep(&answer);
    let shown = format!("{form:?} {answer:?} {:?}", browser.cookies());
    let session = browser.jar["__Host-session"].clone();
    for secret in [&params["code"], &csrf, &session] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
}

#[tokio::test]
async fn another_user_signing_in_on_the_same_browser_ends_the_first_ones_session() {
    let w = world().await;
    let bob = UserRecord {
        username: "bob".into(),
        sub: Subject::random(),
        password_hash: PasswordHashString::create(&crate::secrets::SecretString::new("bob's horse")).unwrap(),
        disabled: false,
    };
    w.store.create_user(&bob).await.unwrap();
    let mut browser = Browser::default();
    let code = w.sign_in(&mut browser, "shop", SHOP).await["code"].clone();
    let alice_sid = w.id_claims(&w.exchange("shop", &code, SHOP, VERIFIER).await.unwrap().id_token.unwrap()).sid;

    // The same user again (`prompt=login`): their first session stays theirs.
    w.sign_in_as(&mut browser, "shop", SHOP, "&prompt=login", "username=alice&password=correct+horse").await;
    assert!(w.store.session(&alice_sid).await.unwrap().is_some(), "alice's own sessions are hers to end");

    // Bob on the same browser: the session it held ends.
    let before = browser.jar["__Host-session"].clone();
    let (held, _) = before.split_once('.').unwrap();
    w.sign_in_as(&mut browser, "shop", SHOP, "&prompt=login", "username=bob&password=bob%27s+horse").await;
    assert!(w.store.session(&crate::ids::Sid::new(held)).await.unwrap().is_none(), "alice's session here ended");
    assert!(w.store.session(&alice_sid).await.unwrap().is_some(), "her earlier one was not this browser's to end");
}

/// RFC 9449 §5: a public client's code exchanged with a DPoP proof gives a DPoP-bound
/// access token and a refresh family bound to the same key.
#[tokio::test]
async fn a_public_clients_dpop_bound_family_refreshes_only_with_its_key() {
    use crate::domain::SigningAlgorithm;
    use crate::testing::dpop::DpopKey;
    let w = world().await;
    let mut browser = Browser::default();
    let params = w.sign_in(&mut browser, "shop", SHOP).await;
    let key = DpopKey::generate(SigningAlgorithm::Es256);
    let token_url = format!("{}/oauth2/token", kit::ISSUER);
    let redirect = url::form_urlencoded::byte_serialize(SHOP.as_bytes()).collect::<String>();
    let body = format!(
        "grant_type=authorization_code&client_id=shop&code={}&redirect_uri={redirect}&code_verifier={VERIFIER}",
        params["code"]
    );
    let with_proof = |body: &str, key: &DpopKey| kit::form(body).with_dpop(vec![key.proof("POST", &token_url, None)]);
    let tokens = w.issuer.token(&with_proof(&body, &key)).await.expect("the exchange");
    assert_eq!(tokens.token_type, "DPoP");
    let claims = crate::tokens::access::verify_access_token(
        &w.services.keys().snapshot(),
        &tokens.access_token,
        kit::ISSUER,
        None,
        crate::time::UnixTime::now(),
    )
    .unwrap();
    assert_eq!(claims.bound_to(), Some(key.jkt.as_str()));
    let fid = claims.fid.clone().unwrap();
    assert_eq!(w.store.family(&fid).await.unwrap().unwrap().dpop_jkt.as_deref(), Some(key.jkt.as_str()));

    let refresh = format!("grant_type=refresh_token&client_id=shop&refresh_token={}", tokens.refresh_token.unwrap());
    // WHEN the refresh token is sent without a proof, or with a proof by another key
    let err = w.issuer.token(&kit::form(&refresh)).await.unwrap_err();
    assert_eq!(err.code.as_str(), "invalid_dpop_proof");
    let thief = DpopKey::generate(SigningAlgorithm::Es256);
    let err = w.issuer.token(&with_proof(&refresh, &thief)).await.unwrap_err();
    assert_eq!(err.code.as_str(), "invalid_grant");
    // THEN the family is untouched, and its holder refreshes with its key
    assert_eq!(w.store.family(&fid).await.unwrap().unwrap().generation, 0, "nothing rotated, nothing revoked");
    let refreshed = w.issuer.token(&with_proof(&refresh, &key)).await.expect("the key's holder refreshes");
    assert_eq!(refreshed.token_type, "DPoP");
}

/// RFC 9449 §5: a public client's family that began without a proof is bound by the first
/// refresh that brings one; from then on it refreshes only with that key.
#[tokio::test]
async fn an_unbound_public_family_is_bound_by_the_first_refresh_with_a_proof() {
    use crate::domain::SigningAlgorithm;
    use crate::testing::dpop::DpopKey;
    let w = world().await;
    let mut browser = Browser::default();
    let params = w.sign_in(&mut browser, "shop", SHOP).await;
    let tokens = w.exchange("shop", &params["code"], SHOP, VERIFIER).await.expect("the exchange, no proof");
    assert_eq!(tokens.token_type, "Bearer");
    let refresh_url = format!("{}/oauth2/refresh", kit::ISSUER);
    let key = DpopKey::generate(SigningAlgorithm::Es256);
    let refresh = |token: &str| format!("grant_type=refresh_token&client_id=shop&refresh_token={token}");
    let with_proof = |body: String| kit::form(&body).with_dpop(vec![key.proof("POST", &refresh_url, None)]);
    let refresh_path = crate::discovery::REFRESH_PATH;
    let grants = crate::grants::REFRESH_ENDPOINT_GRANTS;
    let bound = w.issuer.token_for(&with_proof(refresh(&tokens.refresh_token.unwrap())), grants, refresh_path).await;
    let bound = bound.expect("a refresh with a proof");
    assert_eq!(bound.token_type, "DPoP");
    let next = bound.refresh_token.unwrap();
    let err = w.issuer.token_for(&kit::form(&refresh(&next)), grants, refresh_path).await.unwrap_err();
    assert_eq!(err.code.as_str(), "invalid_dpop_proof", "bound now: no proof, no refresh");
    let again = w.issuer.token_for(&with_proof(refresh(&next)), grants, refresh_path).await;
    assert_eq!(again.expect("the key's holder refreshes").token_type, "DPoP");
}
