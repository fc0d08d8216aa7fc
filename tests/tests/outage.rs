//! With DynamoDB unreachable, every check fails closed (ARCHITECTURE.md §3.10):
//! introspection answers 503 (never `active: true`), the authorizer denies, userinfo
//! answers 503. This runs against a second stack whose moto the test stops.

use shared::domain::{ClientLifetimes, GrantType};
use std::time::{Duration, Instant};
use tests::{Stack, outage_store, seed_client_into, seed_user_into};

fn stop_outage_moto() {
    let pgid = std::env::var("OUTAGE_MOTO_PGID").expect("OUTAGE_MOTO_PGID is set by make test");
    let status =
        std::process::Command::new("kill").args(["-TERM", "--", &format!("-{pgid}")]).status().expect("kill runs");
    assert!(status.success(), "could not stop the outage stack's moto");
}

async fn wait_until_down(endpoint: &str) {
    let address = endpoint.trim_start_matches("http://").to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(&address).await.is_ok() {
        assert!(Instant::now() < deadline, "moto still answers at {address}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_the_store_down_checks_fail_closed() {
    let stack = Stack::outage_from_env();
    let store = outage_store().await;
    let grants = [GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials];
    let client =
        seed_client_into(&store, &grants, "openid read", Some("https://api.example.com"), ClientLifetimes::default())
            .await;
    let user = seed_user_into(&store, false).await;
    let login = tests::password_login(&stack, &client, &user, "openid read").await;
    let access = login.str("access_token").to_string();

    // GIVEN a token that every check accepts while the store is up
    assert_eq!(stack.introspect(&client, &access).await.json["active"], true);
    assert_eq!(stack.authorize(Some(&format!("Bearer {access}"))).await.json["isAuthorized"], true);
    assert_eq!(stack.userinfo(Some(&access)).await.status, 200);

    // WHEN DynamoDB goes away
    stop_outage_moto();
    wait_until_down(&std::env::var("OUTAGE_DYNAMODB_ENDPOINT").unwrap()).await;

    // THEN nothing says yes
    let introspection = stack.introspect(&client, &access).await;
    assert_eq!(introspection.status, 503, "{}", introspection.json);
    assert_eq!(introspection.json["error"], "temporarily_unavailable");
    assert!(introspection.json.get("active").is_none());
    let decision = stack.authorize(Some(&format!("Bearer {access}"))).await;
    assert_eq!(decision.json["isAuthorized"], false, "{}", decision.json);
    assert_eq!(stack.userinfo(Some(&access)).await.status, 503);
    let refresh = stack
        .post_form(
            "/oauth2/refresh",
            &client,
            &[("grant_type", "refresh_token"), ("refresh_token", login.str("refresh_token"))],
        )
        .await;
    assert_eq!(refresh.status, 503, "{}", refresh.json);
}
