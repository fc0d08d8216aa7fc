//! End to end: refresh-token rotation through `cargo lambda watch` (both `/oauth2/refresh`
//! and `grant_type=refresh_token` at `/oauth2/token`), store in moto.

use shared::domain::{ClientLifetimes, FamilyStatus, GrantType, Marker};
use shared::ids::FamilyId;
use shared::store::{FamilyRead, MarkerWrite, UserAdmin, UserRead};
use shared::time::UnixTime;
use std::time::Duration;
use tests::{Reply, Stack, TestClient, password_login, seed_client_with, seed_user, stack_store};

const GRANTS: &[GrantType] = &[GrantType::Password, GrantType::RefreshToken];

async fn client(lifetimes: ClientLifetimes) -> TestClient {
    seed_client_with(GRANTS, "openid read write", None, lifetimes).await
}

async fn refresh_at(stack: &Stack, path: &str, client: &TestClient, token: &str, scope: Option<&str>) -> Reply {
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    stack.post_form(path, client, &form).await
}

async fn refresh(stack: &Stack, client: &TestClient, token: &str) -> Reply {
    refresh_at(stack, "/oauth2/refresh", client, token, None).await
}

fn family_of(token: &str) -> FamilyId {
    FamilyId::new(token.split('.').next().expect("fid"))
}

fn assert_invalid_grant(reply: &Reply, what: &str) {
    assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("invalid_grant")), "{what}: {}", reply.json);
    assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}");
}

#[tokio::test]
async fn rotate_then_grace_returns_the_same_successor_and_the_token_endpoint_refreshes_too() {
    let stack = Stack::from_env();
    let client = client(ClientLifetimes::default()).await;
    let user = seed_user(false).await;
    let first = password_login(&stack, &client, &user, "openid read").await.str("refresh_token").to_string();

    let rotated = refresh(&stack, &client, &first).await;
    assert_eq!(rotated.status, 200, "{}", rotated.json);
    let second = rotated.str("refresh_token").to_string();
    assert_ne!(second, first);
    assert_eq!(rotated.json["scope"], "openid read");

    let again = refresh(&stack, &client, &first).await;
    assert_eq!(again.status, 200, "within the grace window: {}", again.json);
    assert_eq!(again.str("refresh_token"), second, "the same successor: the family never branches");
    assert_ne!(again.str("access_token"), rotated.str("access_token"));

    // Standard OAuth clients refresh at the token endpoint; same code, same rules.
    let third = refresh_at(&stack, "/oauth2/token", &client, &second, None).await;
    assert_eq!(third.status, 200, "{}", third.json);
    let family = stack_store().await.family(&family_of(&first)).await.unwrap().expect("family");
    assert_eq!((family.generation, family.status), (2, FamilyStatus::Active));
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_family() {
    let stack = Stack::from_env();
    let client = client(ClientLifetimes { refresh_grace: Some(0), ..Default::default() }).await;
    let user = seed_user(false).await;
    let first = password_login(&stack, &client, &user, "read").await.str("refresh_token").to_string();
    let second = refresh(&stack, &client, &first).await.str("refresh_token").to_string();

    assert_invalid_grant(&refresh(&stack, &client, &first).await, "replayed token");
    let family = stack_store().await.family(&family_of(&first)).await.unwrap().expect("family");
    assert_eq!(family.status, FamilyStatus::Revoked);
    assert_invalid_grant(&refresh(&stack, &client, &second).await, "the legitimate successor dies with the family");
}

#[tokio::test]
async fn scope_narrows_but_never_widens() {
    let stack = Stack::from_env();
    let client = client(ClientLifetimes::default()).await;
    let user = seed_user(false).await;
    let token = password_login(&stack, &client, &user, "openid read").await.str("refresh_token").to_string();
    let narrowed = refresh_at(&stack, "/oauth2/refresh", &client, &token, Some("read")).await;
    assert_eq!((narrowed.status, narrowed.json["scope"].as_str()), (200, Some("read")), "{}", narrowed.json);
    let next = narrowed.str("refresh_token").to_string();
    let widened = refresh_at(&stack, "/oauth2/refresh", &client, &next, Some("read write")).await;
    assert_eq!((widened.status, widened.json["error"].as_str()), (400, Some("invalid_scope")));
    assert_eq!(refresh(&stack, &client, &next).await.json["scope"], "openid read", "the grant keeps its scope");
}

#[tokio::test]
async fn absolute_and_idle_expiry_end_the_family() {
    let stack = Stack::from_env();
    let user = seed_user(false).await;
    let absolute = client(ClientLifetimes { refresh_absolute: Some(1), ..Default::default() }).await;
    let idle = client(ClientLifetimes { refresh_idle: Some(1), ..Default::default() }).await;
    let a = password_login(&stack, &absolute, &user, "read").await.str("refresh_token").to_string();
    let i = password_login(&stack, &idle, &user, "read").await.str("refresh_token").to_string();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_invalid_grant(&refresh(&stack, &absolute, &a).await, "past the absolute lifetime");
    assert_invalid_grant(&refresh(&stack, &idle, &i).await, "idle longer than the idle timeout");
}

#[tokio::test]
async fn refused_after_the_user_is_disabled_or_logged_out_everywhere() {
    let stack = Stack::from_env();
    let client = client(ClientLifetimes::default()).await;
    let store = stack_store().await;

    let user = seed_user(false).await;
    let token = password_login(&stack, &client, &user, "read").await.str("refresh_token").to_string();
    let mut record = store.user(&user.username).await.unwrap().unwrap();
    record.disabled = true;
    store.replace_user(&record).await.unwrap();
    assert_invalid_grant(&refresh(&stack, &client, &token).await, "disabled user");

    let user = seed_user(false).await;
    let token = password_login(&stack, &client, &user, "read").await.str("refresh_token").to_string();
    let now = UnixTime::now();
    let revoke_all = Marker::Subject { sub: user.sub.clone(), not_before: now.plus(1), expires_at: now.plus(3600) };
    store.put_marker(&revoke_all).await.unwrap();
    assert_invalid_grant(&refresh(&stack, &client, &token).await, "revoke-all after the family began");
    let family = store.family(&family_of(&token)).await.unwrap().unwrap();
    assert_eq!(family.generation, 0, "nothing advanced");
}

#[tokio::test]
async fn bad_refresh_tokens_are_refused_and_burn_nothing() {
    let stack = Stack::from_env();
    let owner = client(ClientLifetimes::default()).await;
    let other = client(ClientLifetimes::default()).await;
    let user = seed_user(false).await;
    let token = password_login(&stack, &owner, &user, "read").await.str("refresh_token").to_string();
    let (prefix, mac) = token.rsplit_once('.').unwrap();
    let fid = prefix.split('.').next().unwrap();

    let cases = [
        ("garbage", "not-a-token".to_string()),
        ("truncated MAC", token[..token.len() - 5].to_string()),
        ("huge generation", format!("{fid}.99999999999999999999999.{mac}")),
        ("generation past u32", format!("{fid}.4294967296.{mac}")),
        ("MAC of another generation", format!("{fid}.1.{mac}")),
        ("unknown family", format!("{}.0.{mac}", "A".repeat(22))),
    ];
    for (what, bad) in &cases {
        assert_invalid_grant(&refresh(&stack, &owner, bad).await, what);
    }
    assert_invalid_grant(&refresh(&stack, &other, &token).await, "another client's token");
    let missing = stack.post_form("/oauth2/refresh", &owner, &[("grant_type", "refresh_token")]).await;
    assert_eq!((missing.status, missing.json["error"].as_str()), (400, Some("invalid_request")));
    let wrong_grant = stack.post_form("/oauth2/refresh", &owner, &[("grant_type", "client_credentials")]).await;
    assert_eq!(wrong_grant.json["error"], "unsupported_grant_type");

    let family = stack_store().await.family(&family_of(&token)).await.unwrap().unwrap();
    assert_eq!((family.generation, family.status), (0, FamilyStatus::Active), "nothing was burnt");
    assert_eq!(refresh(&stack, &owner, &token).await.status, 200, "the owner's token still works");
}

#[tokio::test]
async fn an_expired_family_not_yet_deleted_by_ttl_is_refused() {
    let stack = Stack::from_env();
    let client = client(ClientLifetimes::default()).await;
    let user = seed_user(false).await;
    let token = password_login(&stack, &client, &user, "read").await.str("refresh_token").to_string();
    // Age the family item in place, as if its TTL had passed and DynamoDB had not yet
    // deleted it (TTL deletes within days).
    let store = stack_store().await;
    let fid = family_of(&token);
    store
        .sdk_client()
        .update_item()
        .table_name(store.table())
        .key("pk", aws_value(&format!("FAMILY#{fid}")))
        .key("sk", aws_value("FAMILY"))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            aws_sdk_dynamodb::types::AttributeValue::N((UnixTime::now().0 - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    assert_invalid_grant(&refresh(&stack, &client, &token).await, "expired family");
}

fn aws_value(s: &str) -> aws_sdk_dynamodb::types::AttributeValue {
    aws_sdk_dynamodb::types::AttributeValue::S(s.to_string())
}
