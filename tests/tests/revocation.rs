//! End to end: revoke (RFC 7009), introspect (RFC 7662), the Lambda authorizer and
//! userinfo, through `cargo lambda watch`, store in moto. A revoked token must be
//! refused everywhere on the very next check.

use serde_json::json;
use shared::domain::{ClientLifetimes, GrantType, Marker};
use shared::ids::Jti;
use shared::store::{ClientAdmin, ClientRead, MarkerWrite};
use shared::time::UnixTime;
use tests::{
    Reply, Stack, TestClient, claims_of, password_login, seed_client, seed_client_with, seed_user, stack_store,
};

const API: &str = "https://api.example.com";
const USER_GRANTS: &[GrantType] = &[GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials];

/// A resource server allowed to introspect any token.
async fn resource_server() -> TestClient {
    let rs = seed_client(&[GrantType::ClientCredentials], "", None).await;
    let store = stack_store().await;
    let mut record = store.client(&shared::ids::ClientId::new(&rs.id)).await.unwrap().unwrap();
    record.may_introspect = true;
    store.put_client(&record).await.unwrap();
    rs
}

fn assert_exactly_inactive(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {}", reply.json);
    assert_eq!(reply.json, json!({ "active": false }), "{what}: exactly {{\"active\": false}}");
}

fn assert_denied(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {}", reply.json);
    assert_eq!(reply.json["isAuthorized"], false, "{what}: {}", reply.json);
}

#[tokio::test]
async fn revoking_an_access_token_stops_it_everywhere_on_the_next_request() {
    let stack = Stack::from_env();
    let client = seed_client(USER_GRANTS, "openid profile read", Some(API)).await;
    let rs = resource_server().await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid profile read").await;
    let access = login.str("access_token").to_string();

    // GIVEN a live token, active everywhere
    let active = stack.introspect(&rs, &access).await;
    assert_eq!(active.status, 200);
    assert_eq!(active.json["active"], true, "{}", active.json);
    for field in ["scope", "client_id", "token_type", "exp", "iat", "sub", "aud", "iss", "jti", "sid"] {
        assert!(active.json.get(field).is_some(), "introspection lacks {field}: {}", active.json);
    }
    assert_eq!(
        (active.json["sub"].as_str(), active.json["client_id"].as_str()),
        (Some(user.sub.as_str()), Some(client.id.as_str()))
    );
    let info = stack.userinfo(Some(&access)).await;
    assert_eq!((info.status, info.json["sub"].as_str()), (200, Some(user.sub.as_str())), "{}", info.json);
    assert_eq!(info.json["preferred_username"], user.username.as_str());
    let allowed = stack.authorize(Some(&format!("Bearer {access}"))).await;
    assert_eq!(allowed.json["isAuthorized"], true, "{}", allowed.json);
    assert_eq!(allowed.json["context"]["sub"], user.sub.as_str());
    assert_eq!(allowed.json["context"]["client_id"], client.id.as_str());
    assert_eq!(allowed.json["context"]["scope"], "openid profile read");
    assert_eq!(allowed.json["context"]["jti"], active.json["jti"]);

    // WHEN its client revokes it
    let revoked = stack.revoke(&client, &access, Some("access_token")).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(revoked.header("cache-control"), Some("no-store"));

    // THEN it is refused on the very next check, everywhere
    assert_exactly_inactive(&stack.introspect(&rs, &access).await, "introspection after revoke");
    let info = stack.userinfo(Some(&access)).await;
    assert_eq!(info.status, 401);
    let challenge = info.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_denied(&stack.authorize(Some(&format!("Bearer {access}"))).await, "authorizer after revoke");

    // ... and the refresh token of the same login is untouched.
    let refresh = stack
        .post_form(
            "/oauth2/refresh",
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", login.str("refresh_token"))],
        )
        .await;
    assert_eq!(refresh.status, 200, "{}", refresh.json);
}

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_family_and_every_access_token_from_it() {
    let stack = Stack::from_env();
    let client = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let rs = resource_server().await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid read").await;
    let refreshed = stack
        .post_form(
            "/oauth2/refresh",
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", login.str("refresh_token"))],
        )
        .await;
    let tokens = [login.str("access_token").to_string(), refreshed.str("access_token").to_string()];
    let current = refreshed.str("refresh_token").to_string();

    // A wrong hint is only a hint: the refresh token is still found.
    assert_eq!(stack.revoke(&client, &current, Some("access_token")).await.status, 200);

    for (i, token) in tokens.iter().enumerate() {
        assert_exactly_inactive(&stack.introspect(&rs, token).await, &format!("access token {i} of the family"));
        assert_denied(&stack.authorize(Some(&format!("Bearer {token}"))).await, "authorizer");
    }
    assert_exactly_inactive(&stack.introspect(&rs, &current).await, "the refresh token itself");
    let again = stack
        .post_form("/oauth2/refresh", &client, &[("grant_type", "refresh_token"), ("refresh_token", &current)])
        .await;
    assert_eq!(again.json["error"], "invalid_grant");
}

#[tokio::test]
async fn another_clients_revoke_is_refused_and_the_token_stays_active() {
    let stack = Stack::from_env();
    let owner = seed_client(USER_GRANTS, "read", Some(API)).await;
    let other = seed_client(USER_GRANTS, "read", Some(API)).await;
    let rs = resource_server().await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &owner, &user, "read").await;
    for token in [login.str("access_token"), login.str("refresh_token")] {
        let refused = stack.revoke(&other, token, None).await;
        assert_eq!(
            (refused.status, refused.json["error"].as_str()),
            (400, Some("unauthorized_client")),
            "{}",
            refused.json
        );
        assert_eq!(stack.introspect(&rs, token).await.json["active"], true, "still active");
    }
}

#[tokio::test]
async fn revocation_endpoint_input_handling() {
    let stack = Stack::from_env();
    let client = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid read").await;

    let unknown = stack.revoke(&client, "no-such-token", None).await;
    assert_eq!(
        (unknown.status, unknown.json.clone()),
        (200, serde_json::Value::Null),
        "unknown token: 200, empty body"
    );
    let forged = format!("{}x", login.str("refresh_token"));
    assert_eq!(stack.revoke(&client, &forged, Some("refresh_token")).await.status, 200);
    assert_eq!(stack.revoke(&client, &forged, Some("no_such_hint")).await.status, 200, "unknown hints are ignored");

    let missing = stack.post_form("/oauth2/revoke", &client, &[("token_type_hint", "access_token")]).await;
    assert_eq!((missing.status, missing.json["error"].as_str()), (400, Some("invalid_request")));
    let bad_auth = TestClient { id: client.id.clone(), secret: "wrong-secret-wrong-secret".into() };
    let unauthenticated = stack.revoke(&bad_auth, login.str("access_token"), None).await;
    assert_eq!((unauthenticated.status, unauthenticated.json["error"].as_str()), (401, Some("invalid_client")));
    let id_token = stack.revoke(&client, login.str("id_token"), None).await;
    assert_eq!((id_token.status, id_token.json["error"].as_str()), (400, Some("unsupported_token_type")));

    // Revoking twice is fine: the second time the token is already invalid.
    assert_eq!(stack.revoke(&client, login.str("access_token"), None).await.status, 200);
    assert_eq!(stack.revoke(&client, login.str("access_token"), None).await.status, 200);
}

#[tokio::test]
async fn introspection_authorization_and_refresh_tokens() {
    let stack = Stack::from_env();
    let client = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let stranger = seed_client(USER_GRANTS, "read", Some(API)).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid read").await;
    let access = login.str("access_token");

    assert_eq!(stack.introspect(&client, access).await.json["active"], true, "a client may introspect its own token");
    assert_exactly_inactive(&stack.introspect(&stranger, access).await, "a foreign client learns nothing");
    let unauthenticated =
        stack.post("/oauth2/introspect", tests::Req::form(&tests::encode_form(&[("token", access)]))).await;
    assert_eq!((unauthenticated.status, unauthenticated.json["error"].as_str()), (401, Some("invalid_client")));
    let missing = stack.post_form("/oauth2/introspect", &client, &[]).await;
    assert_eq!(missing.json["error"], "invalid_request");
    assert_exactly_inactive(&stack.introspect(&client, "garbage").await, "garbage");

    let refresh = login.str("refresh_token");
    let active = stack.introspect(&client, refresh).await;
    assert_eq!(active.json["active"], true);
    // RFC 7662 §2.2: `token_type` is an access token type, which a refresh token has not.
    assert!(active.json.get("token_type").is_none(), "{}", active.json);
    assert_eq!(active.json["username"], user.username.as_str());
    let rotated = stack
        .post_form("/oauth2/refresh", &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_exactly_inactive(&stack.introspect(&client, refresh).await, "a rotated refresh token");
    assert_eq!(stack.introspect(&client, rotated.str("refresh_token")).await.json["active"], true);
}

#[tokio::test]
async fn a_denylist_entry_past_its_expiry_changes_nothing() {
    let stack = Stack::from_env();
    let client = seed_client(USER_GRANTS, "read", Some(API)).await;
    let reply = stack.post_form("/oauth2/token", &client, &[("grant_type", "client_credentials")]).await;
    let access = reply.str("access_token");
    let jti = stack.introspect(&client, access).await.str("jti").to_string();
    // An entry TTL has not deleted yet (TTL deletes within days, not seconds).
    let stale = Marker::Token { jti: Jti::new(&jti), expires_at: UnixTime(UnixTime::now().0 - 1) };
    stack_store().await.put_marker(&stale).await.unwrap();
    assert_eq!(stack.introspect(&client, access).await.json["active"], true);
    assert_eq!(stack.authorize(Some(&format!("Bearer {access}"))).await.json["isAuthorized"], true);
}

#[tokio::test]
async fn the_authorizer_checks_audience_type_and_presence() {
    let stack = Stack::from_env();
    let right = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let wrong = seed_client(USER_GRANTS, "read", Some("https://other.example.com")).await;
    let token = |client: &TestClient| {
        let stack = &stack;
        let client = TestClient { id: client.id.clone(), secret: client.secret.clone() };
        async move {
            stack
                .post_form("/oauth2/token", &client, &[("grant_type", "client_credentials")])
                .await
                .str("access_token")
                .to_string()
        }
    };
    assert_eq!(stack.authorize(Some(&format!("Bearer {}", token(&right).await))).await.json["isAuthorized"], true);
    assert_denied(&stack.authorize(Some(&format!("Bearer {}", token(&wrong).await))).await, "another audience");
    assert_denied(&stack.authorize(None).await, "no header");
    assert_denied(&stack.authorize(Some("Basic abc")).await, "not a bearer token");
    let user = seed_user(false).await;
    let login = password_login(&stack, &right, &user, "openid").await;
    assert_denied(&stack.authorize(Some(&format!("Bearer {}", login.str("id_token")))).await, "an ID token");
}

#[tokio::test]
async fn userinfo_errors_follow_rfc_6750() {
    let stack = Stack::from_env();
    let client = seed_client_with(USER_GRANTS, "openid read", Some(API), ClientLifetimes::default()).await;
    let missing = stack.userinfo(None).await;
    assert_eq!(missing.status, 401);
    assert!(missing.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer") && !h.contains("error=")));
    let garbage = stack.userinfo(Some("garbage")).await;
    assert_eq!(garbage.status, 401);
    assert!(garbage.header("www-authenticate").is_some_and(|h| h.contains("invalid_token")));

    let user = seed_user(false).await;
    let no_openid = password_login(&stack, &client, &user, "read").await;
    let forbidden = stack.userinfo(Some(no_openid.str("access_token"))).await;
    assert_eq!(forbidden.status, 403);
    assert!(forbidden.header("www-authenticate").is_some_and(|h| h.contains("insufficient_scope")));
    let with_openid = password_login(&stack, &client, &user, "openid").await;
    let info = stack.userinfo(Some(with_openid.str("access_token"))).await;
    assert_eq!(info.json, json!({ "sub": user.sub.as_str() }), "without `profile`, only sub");
}

/// A denylist entry must outlive every token it covers, sized by the longest lifetime a
/// token can have, not by today's settings.
#[tokio::test]
async fn a_family_marker_outlives_tokens_issued_under_a_longer_lifetime_than_today() {
    let stack = Stack::from_env();
    let store = stack_store().await;
    // GIVEN a client whose access tokens lived a day, and a login with one of them
    let day = ClientLifetimes { access_token: Some(86_400), ..Default::default() };
    let client = seed_client_with(USER_GRANTS, "read", Some(API), day).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "read").await;
    let claims = claims_of(login.str("access_token"));
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp >= UnixTime::now().0 + 86_000, "a day-long token: {claims}");

    // WHEN the client is registered again without the override, and its refresh token revoked
    let id = shared::ids::ClientId::new(&client.id);
    let mut record = store.client(&id).await.unwrap().unwrap();
    record.lifetimes = ClientLifetimes::default();
    store.put_client(&record).await.unwrap();
    let revoked = stack.revoke(&client, login.str("refresh_token"), Some("refresh_token")).await;
    assert_eq!(revoked.status, 200, "{}", revoked.json);

    // THEN the family's denylist entry lasts until that day-long token has expired
    let marker = store
        .sdk_client()
        .get_item()
        .table_name(store.table())
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("REVOKED#FID#{}", claims["fid"].as_str().unwrap())),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("REVOKED".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the family marker");
    let expires_at: u64 = marker["expires_at"].as_n().unwrap().parse().unwrap();
    assert!(expires_at >= exp + shared::policy::LEEWAY_SECONDS, "marker until {expires_at}, token until {exp}");
    assert_exactly_inactive(&stack.introspect(&client, login.str("access_token")).await, "the day-long token");
}

/// Disabling a user revokes like revoke-all: introspection, the authorizer and userinfo
/// all refuse their live token at once; enabling lets new logins work again.
#[tokio::test]
async fn disabling_a_user_revokes_their_live_tokens_everywhere() {
    let stack = Stack::from_env();
    let client = seed_client(USER_GRANTS, "openid profile read", Some(API)).await;
    let rs = resource_server().await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &client, &user, "openid profile read").await;
    let access = login.str("access_token").to_string();
    assert_eq!(stack.introspect(&rs, &access).await.json["active"], true);

    let tokenctl = std::env::var("TOKENCTL").expect("TOKENCTL");
    let out = std::process::Command::new(&tokenctl).args(["user", "disable", &user.username]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    assert_exactly_inactive(&stack.introspect(&rs, &access).await, "after disable");
    assert_denied(&stack.authorize(Some(&format!("Bearer {access}"))).await, "after disable");
    assert_eq!(stack.userinfo(Some(&access)).await.status, 401);
    let refused = stack
        .post_form(
            "/oauth2/token",
            &client,
            &[("grant_type", "password"), ("username", &user.username), ("password", &user.password)],
        )
        .await;
    assert_eq!(refused.json["error"], "invalid_grant");

    let out = std::process::Command::new(&tokenctl).args(["user", "enable", &user.username]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The revoke line is the next whole second (claims have one-second resolution).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = password_login(&stack, &client, &user, "openid read").await;
    assert_eq!(stack.introspect(&rs, again.str("access_token")).await.json["active"], true);
}
