//! End to end: `POST /oauth2/token` through `cargo lambda watch`, store in moto.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use shared::domain::{ClientSigning, GrantType, SigningAlgorithm};
use shared::ids::{FamilyId, Sid};
use shared::store::{FamilyRead, SessionRead};
use std::process::{Command, Stdio};
use tests::{Req, Stack, encode_form, password_login, seed_client, seed_signing_client, seed_user, stack_store};

const API: &str = "https://api.example.com";

/// Verify with the published JWKS only: what any resource server would do.
async fn verify_with_jwks(stack: &Stack, token: &str, audience: &str) -> (jsonwebtoken::Header, Value) {
    let jwks: JwkSet = serde_json::from_value(stack.get("/.well-known/jwks.json").await.json).expect("JWKS");
    let header = decode_header(token).expect("header");
    let jwk = jwks.find(header.kid.as_deref().expect("kid")).expect("kid is published");
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&stack.issuer]);
    validation.set_audience(&[audience]);
    let data = decode::<Value>(token, &DecodingKey::from_jwk(jwk).expect("key"), &validation).expect("verifies");
    (header, data.claims)
}

#[tokio::test]
async fn client_credentials_token_verifies_against_the_published_jwks() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::ClientCredentials], "read write", Some(API)).await;
    let reply =
        stack.post_form("/oauth2/token", &client, &[("grant_type", "client_credentials"), ("scope", "read")]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["scope"], "read");
    assert!(reply.json.get("refresh_token").is_none());

    let (header, claims) = verify_with_jwks(&stack, reply.str("access_token"), API).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["sub"], client.id.as_str(), "RFC 9068 §2.2: sub is the client");
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(claims["scope"], "read");
    let (exp, iat) = (claims["exp"].as_u64().unwrap(), claims["iat"].as_u64().unwrap());
    assert_eq!(exp - iat, reply.json["expires_in"].as_u64().unwrap());
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 22));
}

/// Runs tests/jose/verify.py (PyJWT) on `token`: `args` are AUDIENCE [TYP [ALG]].
fn pyjwt_verify(stack: &Stack, token: &str, args: &[&str]) -> std::process::Output {
    use std::io::Write;
    let python = std::env::var("PYTHON").expect("PYTHON (the venv interpreter with PyJWT) is set by make test");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/jose/verify.py");
    let mut child = Command::new(&python)
        .args([script, stack.url("/.well-known/jwks.json").as_str(), stack.issuer.as_str()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child.stdin.take().unwrap().write_all(token.as_bytes()).unwrap();
    child.wait_with_output().expect("python finishes")
}

fn header_alg(token: &str) -> String {
    format!("{:?}", decode_header(token).expect("header").alg)
}

#[tokio::test]
async fn relying_parties_that_accept_only_rs256_verify_id_tokens_and_per_client_access_tokens() {
    let stack = Stack::from_env();
    let jwks = stack.get("/.well-known/jwks.json").await.json;
    let algs: Vec<&str> = jwks["keys"].as_array().unwrap().iter().filter_map(|k| k["alg"].as_str()).collect();
    assert!(algs.contains(&"RS256") && algs.contains(&"ES256"), "RS256 beside ES256 in the JWKS: {algs:?}");

    // A client registering nothing: ID tokens in RS256 (OIDC Registration §2), access
    // tokens in the deployment's ES256.
    let grants = [GrantType::Password];
    let default = seed_client(&grants, "openid read", Some(API)).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &default, &user, "openid read").await;
    let id_token = login.str("id_token");
    assert_eq!(header_alg(id_token), "RS256");
    let out = pyjwt_verify(&stack, id_token, &[&default.id, "JWT", "RS256"]);
    assert!(out.status.success(), "an RS256-only RP refused the ID token: {}", String::from_utf8_lossy(&out.stderr));
    let es256_access = login.str("access_token").to_string();
    assert_eq!(header_alg(&es256_access), "ES256");

    // A client registering RS256 access tokens (the rfc9068 validator accepts only RS256)
    // and ES256 ID tokens.
    let signing =
        ClientSigning { access_token: Some(SigningAlgorithm::Rs256), id_token: Some(SigningAlgorithm::Es256) };
    let rs256 = seed_signing_client(&grants, "openid read", signing).await;
    let login = password_login(&stack, &rs256, &user, "openid read").await;
    let access = login.str("access_token");
    assert_eq!(header_alg(access), "RS256");
    let out = pyjwt_verify(&stack, access, &[&stack.issuer, "at+jwt", "RS256"]);
    assert!(out.status.success(), "an RS256-only validator refused: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(header_alg(login.str("id_token")), "ES256");
    // The check can fail: an RS256-only RP refuses the ES256 ID token.
    assert!(!pyjwt_verify(&stack, login.str("id_token"), &[&rs256.id, "JWT", "RS256"]).status.success());
    // Both access tokens pass the resource-facing checks.
    for token in [access, &es256_access] {
        let info = stack.userinfo(Some(token)).await;
        assert_eq!((info.status, info.json["sub"].as_str()), (200, Some(user.sub.as_str())), "{}", info.json);
    }
}

#[tokio::test]
async fn an_independent_jose_library_verifies_the_token() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::ClientCredentials], "read", Some(API)).await;
    let reply = stack.post_form("/oauth2/token", &client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);

    let verify = |token: &str| pyjwt_verify(&stack, token, &[API]);
    let out = verify(reply.str("access_token"));
    assert!(out.status.success(), "PyJWT refused our token: {}", String::from_utf8_lossy(&out.stderr));
    let verified: Value = serde_json::from_slice(&out.stdout).expect("claims JSON");
    assert_eq!(verified["claims"]["client_id"], client.id.as_str());

    // The same check must be able to fail: a token with one altered signature byte.
    let token = reply.str("access_token");
    let flipped = format!("{}{}", &token[..token.len() - 2], if token.ends_with("AA") { "BA" } else { "AA" });
    assert!(!verify(&flipped).status.success(), "PyJWT accepted a tampered token");
}

#[tokio::test]
async fn password_grant_returns_access_refresh_and_id_tokens_and_stores_the_session() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password, GrantType::RefreshToken], "openid read write", Some(API)).await;
    let user = seed_user(false).await;
    let reply = password_login(&stack, &client, &user, "openid read").await;
    assert_eq!(reply.json["scope"], "openid read");

    let (_, access) = verify_with_jwks(&stack, reply.str("access_token"), API).await;
    assert_eq!(access["sub"], user.sub.as_str());
    let sid = access["sid"].as_str().expect("sid").to_string();
    let fid = access["fid"].as_str().expect("fid").to_string();

    let (id_header, id) = verify_with_jwks(&stack, reply.str("id_token"), &client.id).await;
    assert_eq!(id_header.typ.as_deref(), Some("JWT"));
    assert_eq!((id["sid"].as_str(), id["sub"].as_str()), (Some(sid.as_str()), Some(user.sub.as_str())));
    assert!(id["auth_time"].as_u64().is_some());

    let refresh = reply.str("refresh_token");
    assert!(refresh.starts_with(&format!("{fid}.0.")), "refresh token names its family and generation");

    let store = stack_store().await;
    let session = store.session(&Sid::new(&sid)).await.unwrap().expect("session stored");
    assert_eq!(session.sub, user.sub);
    let family = store.family(&FamilyId::new(&fid)).await.unwrap().expect("family stored");
    assert_eq!((family.generation, family.client_id.as_str()), (0, client.id.as_str()));
    assert!(!format!("{family:?}").contains(refresh), "the refresh token is not stored");
}

#[tokio::test]
async fn password_grant_without_openid_has_no_id_token() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password], "openid read", None).await;
    let user = seed_user(false).await;
    let reply = password_login(&stack, &client, &user, "read").await;
    assert!(reply.json.get("id_token").is_none());
    // No audience configured: the token is for the issuer itself.
    verify_with_jwks(&stack, reply.str("access_token"), &stack.issuer).await;
}

/// Every refused request: the RFC 6749 §5.2 code and status, `no-store`, and no session
/// written for the user involved.
#[tokio::test]
async fn bad_input_gets_the_rfc_error_and_writes_nothing() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password, GrantType::ClientCredentials], "openid read", None).await;
    let cc_only = seed_client(&[GrantType::ClientCredentials], "read", None).await;
    let user = seed_user(false).await;
    let disabled = seed_user(true).await;
    // The password-grant form for `user`, with some fields replaced (Some) or dropped (None).
    let form = |overrides: &[(&'static str, Option<&str>)]| {
        let mut pairs: Vec<(&str, Option<&str>)> = vec![
            ("grant_type", Some("password")),
            ("username", Some(&user.username)),
            ("password", Some(&user.password)),
        ];
        for (name, value) in overrides {
            match pairs.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = *value,
                None => pairs.push((name, *value)),
            }
        }
        encode_form(&pairs.into_iter().filter_map(|(k, v)| Some((k, v?))).collect::<Vec<_>>())
    };
    let basic = client.basic();
    let valid = form(&[]);
    let huge = form(&[("pad", Some(&"a".repeat(70 * 1024)))]);
    let duplicated = format!("{valid}&grant_type=password");
    let missing_grant = form(&[("grant_type", None)]);
    let post_and_basic = form(&[("client_id", Some(&client.id)), ("client_secret", Some(&client.secret))]);
    let wrong_password = form(&[("password", Some("not it"))]);
    let unknown_user = form(&[("username", Some("nobody-at-all"))]);
    let disabled_user = form(&[("username", Some(&disabled.username)), ("password", Some(&disabled.password))]);
    let no_password = form(&[("password", None)]);
    let bad_scope = form(&[("scope", Some("admin"))]);
    let unknown_grant = form(&[("grant_type", Some("urn:example:magic"))]);
    let wrong_secret = tests::TestClient { id: client.id.clone(), secret: "wrong-secret-wrong-secret".into() }.basic();
    let unknown_client = tests::TestClient { id: "no-such-client".into(), secret: "whatever-whatever".into() }.basic();

    let cases: Vec<(&str, Req<'_>, u16, &str)> = vec![
        ("missing grant_type", Req::form(&missing_grant).basic(&basic), 400, "invalid_request"),
        ("duplicated grant_type", Req::form(&duplicated).basic(&basic), 400, "invalid_request"),
        ("unknown grant_type", Req::form(&unknown_grant).basic(&basic), 400, "unsupported_grant_type"),
        (
            "JSON body",
            Req::raw(Some("application/json"), br#"{"grant_type":"password"}"#).basic(&basic),
            400,
            "invalid_request",
        ),
        ("empty body", Req::raw(Some("application/x-www-form-urlencoded"), b"").basic(&basic), 400, "invalid_request"),
        ("malformed Basic header", Req::form(&valid).basic("Basic not*base64"), 401, "invalid_client"),
        ("Basic without a colon", Req::form(&valid).basic("Basic Y2xpZW50"), 401, "invalid_client"),
        ("no client authentication", Req::form(&valid), 401, "invalid_client"),
        ("two authentication methods", Req::form(&post_and_basic).basic(&basic), 400, "invalid_request"),
        ("unknown client", Req::form(&valid).basic(&unknown_client), 401, "invalid_client"),
        ("wrong secret", Req::form(&valid).basic(&wrong_secret), 401, "invalid_client"),
        ("grant not allowed", Req::form(&valid).basic(&cc_only.basic()), 400, "unauthorized_client"),
        ("scope outside the client's", Req::form(&bad_scope).basic(&basic), 400, "invalid_scope"),
        ("wrong password", Req::form(&wrong_password).basic(&basic), 400, "invalid_grant"),
        ("unknown user", Req::form(&unknown_user).basic(&basic), 400, "invalid_grant"),
        ("disabled user", Req::form(&disabled_user).basic(&basic), 400, "invalid_grant"),
        ("missing password", Req::form(&no_password).basic(&basic), 400, "invalid_request"),
        ("body over 64 KiB", Req::form(&huge).basic(&basic), 413, "invalid_request"),
    ];
    for (name, request, status, code) in cases {
        let reply = stack.post("/oauth2/token", request).await;
        assert_eq!((reply.status, reply.json["error"].as_str()), (status, Some(code)), "{name}: {}", reply.json);
        assert!(reply.json["error_description"].is_string(), "{name}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{name}");
        if status == 401 {
            assert!(reply.header("www-authenticate").is_some_and(|h| h.starts_with("Basic")), "{name}: challenge");
        }
    }

    let store = stack_store().await;
    for sub in [&user.sub, &disabled.sub] {
        assert_eq!(store.sessions_of(sub).await.unwrap(), vec![], "a refused request wrote a session");
    }
    // The same user and client do get tokens, so the refusals above were about the input.
    let ok = stack.post("/oauth2/token", Req::form(&valid).basic(&basic)).await;
    assert_eq!(ok.status, 200, "{}", ok.json);
    assert_eq!(store.sessions_of(&user.sub).await.unwrap().len(), 1);
}
