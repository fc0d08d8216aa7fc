//! End to end: the revocation feed (`GET /oauth2/revocations`) through `cargo lambda
//! watch`, store in moto. Every kind of revocation appears after a reader's cursor, a new
//! reader gets every live entry, writers with skewed clocks lose nothing, and only
//! resource servers may read it.

use serde_json::Value;
use shared::domain::{GrantType, Marker};
use shared::feed::TRAILING_WINDOW_MS;
use shared::ids::{ClientId, Jti};
use shared::store::{ClientAdmin, MarkerWrite};
use shared::time::UnixTime;
use std::collections::BTreeSet;
use std::time::Duration;
use tests::{
    Stack, TestClient, claims_of, password_login, seed_client, seed_resource_server_into, seed_rp_client, seed_user,
    stack_store,
};

const API: &str = "https://api.example.com";
const USER_GRANTS: &[GrantType] = &[GrantType::Password, GrantType::RefreshToken, GrantType::ClientCredentials];

async fn resource_server() -> TestClient {
    seed_resource_server_into(&stack_store().await).await
}

fn find<'a>(entries: &'a [Value], kind: &str, value: &str) -> Option<&'a Value> {
    entries.iter().find(|e| e["kind"] == kind && e["value"] == value)
}

#[tokio::test]
async fn every_kind_of_revocation_appears_after_a_readers_cursor() {
    let stack = Stack::from_env();
    let rs = resource_server().await;
    let (_, cursor) = stack.read_feed(&rs, None).await;

    // jti: an access token revoked; fid: a refresh token revoked.
    let client = seed_client(USER_GRANTS, "openid read", Some(API)).await;
    let user = seed_user(false).await;
    let first = password_login(&stack, &client, &user, "openid read").await;
    let access = first.str("access_token").to_string();
    assert_eq!(stack.revoke(&client, &access, None).await.status, 200);
    assert_eq!(stack.revoke(&client, first.str("refresh_token"), None).await.status, 200);
    // sid: a session logged out; sub: every session of a user, by an admin client.
    let second = password_login(&stack, &client, &user, "openid read").await;
    assert_eq!(stack.logout(&client, &[("refresh_token", second.str("refresh_token"))]).await.status, 200);
    let admin = seed_rp_client(true, None).await;
    assert_eq!(stack.logout(&admin, &[("sub", user.sub.as_str())]).await.status, 200);
    // client: a client removed.
    let store = stack_store().await;
    let line = UnixTime::now().plus(61);
    let removal =
        Marker::Client { client_id: ClientId::new(&client.id), not_before: line, expires_at: line.plus(86_430) };
    assert!(store.remove_client(&ClientId::new(&client.id), &removal).await.unwrap());

    let (entries, _) = stack.read_feed(&rs, Some(cursor)).await;
    let jti = find(&entries, "jti", claims_of(&access)["jti"].as_str().unwrap()).expect("the access token");
    assert!(jti["expires_at"].as_u64().unwrap() >= claims_of(&access)["exp"].as_u64().unwrap(), "{jti}");
    assert!(jti.get("before").is_none(), "{jti}");
    assert!(find(&entries, "fid", claims_of(&access)["fid"].as_str().unwrap()).is_some(), "the family");
    let second_claims = claims_of(second.str("access_token"));
    assert!(find(&entries, "sid", second_claims["sid"].as_str().unwrap()).is_some(), "the session");
    let sub = find(&entries, "sub", user.sub.as_str()).expect("the subject's line");
    assert!(sub["before"].as_u64().unwrap() > second_claims["iat"].as_u64().unwrap(), "{sub}");
    let removed = find(&entries, "client", &client.id).expect("the client's line");
    assert_eq!(removed["before"].as_u64(), Some(line.0));
}

#[tokio::test]
async fn a_new_reader_gets_every_live_entry_and_nothing_expired() {
    let stack = Stack::from_env();
    let store = stack_store().await;
    let (live, expired) = (Jti::random(), Jti::random());
    store.put_marker(&Marker::Token { jti: live.clone(), expires_at: UnixTime::now().plus(600) }).await.unwrap();
    // TTL deletes within days: an expired marker may still be in the table.
    store
        .put_marker(&Marker::Token { jti: expired.clone(), expires_at: UnixTime(UnixTime::now().0 - 1) })
        .await
        .unwrap();

    let (entries, cursor) = stack.read_feed(&resource_server().await, None).await;
    assert!(find(&entries, "jti", live.as_str()).is_some(), "bootstrap holds the live entry");
    assert!(find(&entries, "jti", expired.as_str()).is_none(), "and not the expired one");
    assert!(entries.iter().all(|e| e["expires_at"].as_u64() > Some(UnixTime::now().0 - 5)), "only live entries");
    assert!(!cursor.is_empty());
}

#[tokio::test]
async fn only_resource_servers_may_read_the_feed() {
    let stack = Stack::from_env();
    let plain = seed_client(&[GrantType::ClientCredentials], "read", None).await;
    let refused = stack.revocations(&plain, None).await;
    assert_eq!((refused.status, refused.json["error"].as_str()), (403, Some("access_denied")), "{}", refused.json);
    let impostor = TestClient { id: plain.id.clone(), secret: "a wrong guess".into() };
    let unknown = stack.revocations(&impostor, None).await;
    assert_eq!((unknown.status, unknown.json["error"].as_str()), (401, Some("invalid_client")));
    assert!(unknown.header("www-authenticate").is_some_and(|c| c.starts_with("Basic")));
    let anonymous = stack.get("/oauth2/revocations").await;
    assert_eq!(anonymous.status, 401);

    let rs = resource_server().await;
    // Credentials never go in a URL (RFC 6749 §2.3.1), even right ones.
    let in_the_url = stack.get(&format!("/oauth2/revocations?client_id={}&client_secret={}", rs.id, rs.secret)).await;
    assert_eq!((in_the_url.status, in_the_url.json["error"].as_str()), (400, Some("invalid_request")));

    for bad in ["nonsense", "AQAAAAAAAAAAAAA", &"A".repeat(20_000)] {
        let reply = stack.revocations(&rs, Some(bad)).await;
        assert_eq!((reply.status, reply.json["error"].as_str()), (400, Some("invalid_request")), "{bad:.20}");
    }
    let ok = stack.revocations(&rs, None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("cache-control"), Some("no-store"));
}

/// Four writers, two of them with clocks seconds behind and one ahead, revoke
/// concurrently while a reader polls every 100 ms: every entry reaches the reader.
#[tokio::test]
async fn no_entry_is_lost_with_skewed_and_concurrent_writers() {
    let stack = Stack::from_env();
    let rs = resource_server().await;
    let (_, mut cursor) = stack.read_feed(&rs, None).await;
    let base = stack_store().await;
    let skews_ms = [-4_000i64, -1_500, 0, 3_000];
    let writers = skews_ms.map(|skew| {
        let store = base.clone().with_clock_offset(skew);
        tokio::spawn(async move {
            let mut written = Vec::new();
            for _ in 0..40 {
                let jti = Jti::random();
                store
                    .put_marker(&Marker::Token { jti: jti.clone(), expires_at: UnixTime::now().plus(600) })
                    .await
                    .unwrap();
                written.push(jti.to_string());
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            written
        })
    });
    let mut received = BTreeSet::new();
    let mut writers_done = None;
    loop {
        let (entries, next) = stack.read_feed(&rs, Some(cursor)).await;
        cursor = next;
        received
            .extend(entries.iter().filter(|e| e["kind"] == "jti").map(|e| e["value"].as_str().unwrap().to_string()));
        if writers_done.is_none() && writers.iter().all(|w| w.is_finished()) {
            writers_done = Some(std::time::Instant::now());
        }
        // The reader goes on for the trailing window after the last write.
        if writers_done.is_some_and(|at| at.elapsed() > Duration::from_millis(TRAILING_WINDOW_MS + 500)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut missing = Vec::new();
    for (writer, skew) in writers.into_iter().zip(skews_ms) {
        for jti in writer.await.unwrap() {
            if !received.contains(&jti) {
                missing.push(format!("{jti} (writer {skew:+} ms)"));
            }
        }
    }
    assert!(missing.is_empty(), "{} entries never reached the reader: {missing:?}", missing.len());
}
