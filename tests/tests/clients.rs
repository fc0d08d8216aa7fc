//! End to end: removing a client revokes everything issued to it, and registering its id
//! again starts a new registration that inherits nothing (`tokenctl client remove` and
//! `client add` against the stack's table, tokens checked through the functions).

use serde_json::json;
use shared::domain::GrantType;
use std::process::Command;
use tests::{Stack, TestClient, password_login, seed_client, seed_user, stack_store};

// A new registration's own logins and refreshes are shown in the unit tests (grants),
// with no client cache: here warm instances keep the old record for up to
// CLIENT_CACHE_TTL_SECONDS, as documented.

const API: &str = "https://api.example.com";

/// `tokenctl` against the stack under test (its environment is the stack's).
fn tokenctl(args: &[&str]) -> String {
    let binary = std::env::var("TOKENCTL").expect("TOKENCTL (the built admin CLI) is set by make test");
    let out = Command::new(binary).args(args).output().expect("tokenctl runs");
    assert!(out.status.success(), "tokenctl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn resource_server() -> TestClient {
    let rs = seed_client(&[GrantType::ClientCredentials], "", None).await;
    let store = stack_store().await;
    let id = shared::ids::ClientId::new(&rs.id);
    let mut record = shared::store::ClientRead::client(&store, &id).await.unwrap().unwrap();
    record.may_introspect = true;
    shared::store::ClientAdmin::put_client(&store, &record).await.unwrap();
    rs
}

#[tokio::test]
async fn removing_a_client_revokes_everything_issued_to_it_and_a_new_registration_inherits_nothing() {
    let stack = Stack::from_env();
    let rs = resource_server().await;
    let grants = [GrantType::ClientCredentials, GrantType::Password, GrantType::RefreshToken];
    let client = seed_client(&grants, "openid read", Some(API)).await;
    let user = seed_user(false).await;
    // GIVEN a client-credentials token and a user login of the client, live everywhere
    let cc = stack.post_form("/oauth2/token", &client, &[("grant_type", "client_credentials")]).await;
    let cc_token = cc.str("access_token").to_string();
    let login = password_login(&stack, &client, &user, "openid read").await;
    let (access, refresh) = (login.str("access_token").to_string(), login.str("refresh_token").to_string());
    for token in [&cc_token, &access, &refresh] {
        assert_eq!(stack.introspect(&rs, token).await.json["active"], true);
    }

    // WHEN the client is removed
    assert!(tokenctl(&["client", "remove", &client.id]).contains("removed"));

    // THEN every token issued to it is dead on the next check, client-credentials ones too
    for token in [&cc_token, &access, &refresh] {
        assert_eq!(stack.introspect(&rs, token).await.json, json!({"active": false}));
    }
    for token in [&cc_token, &access] {
        let decision = stack.authorize(Some(&format!("Bearer {token}"))).await;
        assert_eq!(decision.json["isAuthorized"], false, "{}", decision.json);
    }
    assert_eq!(stack.userinfo(Some(&access)).await.status, 401);

    // WHEN the same id is registered again
    let out = tokenctl(&[
        "client",
        "add",
        &client.id,
        "--secret",
        &client.secret,
        "--grant",
        "refresh_token",
        "--grant",
        "password",
        "--scope",
        "openid read",
    ]);
    assert!(out.contains("registered"), "{out}");
    // THEN the old registration's refresh token does not come back (at the refresh
    // function, which has not seen the old registration)
    let refreshed = stack
        .post_form("/oauth2/refresh", &client, &[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
        .await;
    assert_eq!(
        (refreshed.status, refreshed.json["error"].as_str()),
        (400, Some("invalid_grant")),
        "{}",
        refreshed.json
    );
}
