//! End to end: brute-force throttling through `cargo lambda watch`, counts in moto. After
//! five failures in a row, a username or client id gets 429 with `Retry-After` for every
//! attempt inside a doubling window, the right secret too; a success ends the run. A name
//! nobody holds is throttled the same, so a 429 tells nothing of who exists.

use shared::domain::GrantType;
use shared::ids::random_id;
use std::time::Duration;
use tests::{Reply, Stack, TestClient, TestUser, logged_events, seed_client, seed_user};

const FREE_FAILURES: usize = shared::policy::FREE_FAILURES as usize;

async fn login(stack: &Stack, client: &TestClient, username: &str, password: &str) -> Reply {
    let form = [("grant_type", "password"), ("username", username), ("password", password), ("scope", "read")];
    stack.post_form("/oauth2/token", client, &form).await
}

/// A 429 as RFC 6585 §4 has it, with the OAuth error clients know for "try later".
fn assert_throttled(reply: &Reply, what: &str) -> u64 {
    assert_eq!(reply.status, 429, "{what}: {}", reply.json);
    assert_eq!(reply.json["error"], "temporarily_unavailable", "{what}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let retry_after: u64 = reply.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After in seconds");
    assert!((1..=2).contains(&retry_after), "{what}: a one-second window, rounded up: {retry_after}");
    retry_after
}

#[tokio::test]
async fn five_failed_logins_then_429_even_for_the_right_password_until_the_window_ends() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password], "read", None).await;
    let user: TestUser = seed_user(false).await;
    for attempt in 1..=FREE_FAILURES {
        let reply = login(&stack, &client, &user.username, "a wrong guess").await;
        assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("invalid_grant")), "attempt {attempt}");
    }
    let retry_after = assert_throttled(&login(&stack, &client, &user.username, &user.password).await, "right password");
    let events = logged_events("login.throttled");
    assert!(events.iter().any(|e| e["sub"] == user.sub.as_str()), "login.throttled is logged with the sub");

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let reply = login(&stack, &client, &user.username, &user.password).await;
    assert_eq!(reply.status, 200, "after the window: {}", reply.json);
    // The success ended the run: four more failures are answered as usual.
    for _ in 1..FREE_FAILURES {
        assert_eq!(login(&stack, &client, &user.username, "wrong again").await.status, 400);
    }
    assert_eq!(login(&stack, &client, &user.username, &user.password).await.status, 200);
}

#[tokio::test]
async fn a_username_nobody_holds_is_throttled_like_a_real_one() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::Password], "read", None).await;
    let nobody = format!("nobody-{}", random_id());
    for _ in 0..FREE_FAILURES {
        assert_eq!(login(&stack, &client, &nobody, "guess").await.json["error"], "invalid_grant");
    }
    assert_throttled(&login(&stack, &client, &nobody, "guess").await, "unknown username");
}

#[tokio::test]
async fn failed_client_authentication_throttles_the_client_id_at_every_endpoint() {
    let stack = Stack::from_env();
    let client = seed_client(&[GrantType::ClientCredentials], "read", None).await;
    let impostor = TestClient { id: client.id.clone(), secret: "a wrong guess".into() };
    let grant = [("grant_type", "client_credentials")];
    // Both functions warm first (a cold start locally can outlast a one-second window),
    // with an id of their own so that neither has this client cached.
    let warmer = TestClient { id: format!("warmer-{}", random_id()), secret: "guess".into() };
    assert_eq!(stack.post_form("/oauth2/token", &warmer, &grant).await.status, 401);
    assert_eq!(stack.post_form("/oauth2/revoke", &warmer, &[("token", "x")]).await.status, 401);
    for _ in 0..FREE_FAILURES {
        let reply = stack.post_form("/oauth2/token", &impostor, &grant).await;
        assert_eq!((reply.status, reply.json["error"].as_str()), (401, Some("invalid_client")));
    }
    // The count is the client id's, whichever function reads it: revocation refuses the
    // right secret too.
    let right = stack.post_form("/oauth2/revoke", &client, &[("token", "anything")]).await;
    assert_throttled(&right, "the right secret at another endpoint");
    assert_throttled(&stack.post_form("/oauth2/token", &client, &grant).await, "the right secret");
    let events = logged_events("client.auth_throttled");
    assert!(events.iter().any(|e| e["client_id"] == client.id.as_str()), "client.auth_throttled is logged");

    // An id nobody holds: the same answers, the same count.
    let ghost = TestClient { id: format!("ghost-{}", random_id()), secret: "guess".into() };
    for _ in 0..FREE_FAILURES {
        assert_eq!(stack.post_form("/oauth2/token", &ghost, &grant).await.status, 401);
    }
    assert_throttled(&stack.post_form("/oauth2/token", &ghost, &grant).await, "unknown client id");
}
