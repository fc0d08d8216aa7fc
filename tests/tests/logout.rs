//! End to end: logout and revoke-all with OIDC Back-Channel Logout to relying parties
//! that are real HTTP receivers on loopback, each validating every logout token with
//! PyJWT (`tests/rp/receivers.py`).

use serde_json::Value;
use shared::domain::{DeliveryRecord, DeliveryStatus};
use shared::store::DeliveryStore;
use shared::time::UnixTime;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tests::{
    Receivers, Reply, Stack, TestClient, TestUser, password_login, seed_rp_client, seed_user, stack_store, unused_port,
};

async fn rp_client(port: u16) -> TestClient {
    seed_rp_client(false, Some(&|id: &str| Receivers::uri(port, id))).await
}

async fn refresh(stack: &Stack, client: &TestClient, token: &str) -> Reply {
    stack.post_form("/oauth2/refresh", client, &[("grant_type", "refresh_token"), ("refresh_token", token)]).await
}

/// The session's tokens: access and refresh are dead (introspection and refresh agree).
async fn assert_dead(stack: &Stack, client: &TestClient, login: &Reply, what: &str) {
    for token in [login.str("access_token"), login.str("refresh_token")] {
        assert_eq!(stack.introspect(client, token).await.json, serde_json::json!({"active": false}), "{what}");
    }
    assert_eq!(refresh(stack, client, login.str("refresh_token")).await.json["error"], "invalid_grant", "{what}");
}

async fn assert_alive(stack: &Stack, client: &TestClient, login: &Reply, what: &str) {
    assert_eq!(stack.introspect(client, login.str("access_token")).await.json["active"], true, "{what}");
    assert_eq!(refresh(stack, client, login.str("refresh_token")).await.status, 200, "{what}");
}

fn valid_for(received: &[Value], sid: &str, sub: &str) -> usize {
    received.iter().filter(|r| r["valid"] == true && r["claims"]["sid"] == sid && r["claims"]["sub"] == sub).count()
}

fn sid_of(stack_reply: &Value) -> String {
    stack_reply["sid"].as_str().expect("sid").to_string()
}

#[tokio::test]
async fn logging_out_one_session_tells_its_rp_and_leaves_the_other_sessions_alone() {
    let stack = Stack::from_env();
    let rps = Receivers::start(&stack, &["ok", "ok"]);
    let (a, b) = (rp_client(rps.ports[0]).await, rp_client(rps.ports[1]).await);
    let user = seed_user(false).await;
    let login_a = password_login(&stack, &a, &user, "openid read").await;
    let login_b = password_login(&stack, &b, &user, "openid read").await;
    let sid_a = sid_of(&stack.introspect(&a, login_a.str("access_token")).await.json);

    let reply = stack.logout(&a, &[("refresh_token", login_a.str("refresh_token"))]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["sessions_ended"], serde_json::json!([sid_a]));
    let deliveries = reply.json["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0]["status"].as_str(), deliveries[0]["attempts"].as_u64()), (Some("delivered"), Some(1)));

    let received = rps.received(0).await;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(valid_for(&received, &sid_a, user.sub.as_str()), 1, "{received:?}");
    assert_eq!(received[0]["content_type"], "application/x-www-form-urlencoded");
    assert!(rps.received(1).await.is_empty(), "the other session's RP was not told anything");

    assert_dead(&stack, &a, &login_a, "the ended session").await;
    assert_alive(&stack, &b, &login_b, "the user's other session").await;
}

#[tokio::test]
async fn logout_everywhere_fans_out_in_parallel_retries_and_records_the_down_rp() {
    let stack = Stack::from_env();
    let rps = Receivers::start(&stack, &["ok", "slow:800", "flaky:2"]);
    let down_port = unused_port();
    let clients = [
        rp_client(rps.ports[0]).await,
        rp_client(rps.ports[1]).await,
        rp_client(rps.ports[2]).await,
        rp_client(down_port).await,
    ];
    let admin = seed_rp_client(true, None).await;
    let user = seed_user(false).await;
    let mut logins = Vec::new();
    for client in &clients {
        logins.push(password_login(&stack, client, &user, "openid read").await);
    }
    let mut sids = Vec::new();
    for (client, login) in clients.iter().zip(&logins) {
        sids.push(sid_of(&stack.introspect(client, login.str("access_token")).await.json));
    }

    let started = Instant::now();
    let reply = stack.logout(&admin, &[("sub", user.sub.as_str())]).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.json);
    // The call's deadline (LOGOUT_DEADLINE_MS, 5 s) bounds it, whatever the RPs do.
    assert!(took < Duration::from_millis(5_000 + 1_500), "logout took {took:?}");
    let ended: BTreeSet<&str> =
        reply.json["sessions_ended"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(ended, sids.iter().map(String::as_str).collect::<BTreeSet<_>>());

    let report = |client: &TestClient| {
        reply.json["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["client_id"] == client.id.as_str())
            .cloned()
            .unwrap()
    };
    assert_eq!(report(&clients[0])["status"], "delivered");
    assert_eq!(report(&clients[1])["status"], "delivered", "the slow RP is waited for");
    assert_eq!(
        (report(&clients[2])["status"].as_str(), report(&clients[2])["attempts"].as_u64()),
        (Some("delivered"), Some(3))
    );
    assert_eq!(report(&clients[3])["status"], "pending", "the down RP is recorded for retry");

    for (i, sid) in sids.iter().take(3).enumerate() {
        let received = rps.received(i).await;
        assert!(received.iter().all(|r| r["valid"] == true), "RP {i} saw an invalid token: {received:?}");
        let jtis: BTreeSet<&str> = received.iter().filter_map(|r| r["claims"]["jti"].as_str()).collect();
        assert_eq!(jtis.len(), received.len(), "a fresh jti on every attempt");
        assert_eq!(valid_for(&received, sid, user.sub.as_str()), if i == 2 { 3 } else { 1 });
    }
    for (client, login) in clients.iter().zip(&logins) {
        assert_dead(&stack, client, login, "after logout everywhere").await;
    }

    // The down RP's delivery is recorded...
    let store = stack_store().await;
    let pending = find_delivery(&store, &clients[3]).await;
    assert_eq!(pending.status, DeliveryStatus::Pending);
    assert_eq!(pending.last_error.as_deref(), Some("connection failed"));
    assert!(pending.attempts >= 1);

    // ... and when the RP comes back, logout-retry delivers it.
    let back = Receivers::start(&stack, &[&format!("ok@{down_port}")]);
    wait_until_due(&pending).await;
    let run = stack.run_logout_retry().await;
    assert_eq!(run.status, 200, "{}", run.json);
    let settled = store.delivery(&pending.id).await.unwrap().unwrap();
    assert_eq!(settled.status, DeliveryStatus::Delivered, "{settled:?}");
    let received = back.received(0).await;
    assert_eq!(valid_for(&received, &sids[3], user.sub.as_str()), 1, "{received:?}");
}

/// An RP asking for an absurd wait (`Retry-After` near u64::MAX, a date, garbage) gets
/// the backoff bounds: the logout answers, every RP's outcome is recorded, and tokenctl's
/// revoke-all (the same path) exits normally.
#[tokio::test]
async fn a_hostile_retry_after_is_clamped_and_nothing_is_lost() {
    let stack = Stack::from_env();
    let rps = Receivers::start(
        &stack,
        &["retryafter:18446744073709551615", "retryafter:Wed, 21 Oct 2999 07:28:00 GMT", "retryafter:-5", "ok"],
    );
    let clients = [
        rp_client(rps.ports[0]).await,
        rp_client(rps.ports[1]).await,
        rp_client(rps.ports[2]).await,
        rp_client(rps.ports[3]).await,
    ];
    let admin = seed_rp_client(true, None).await;
    let user = seed_user(false).await;
    for client in &clients {
        password_login(&stack, client, &user, "openid").await;
    }
    let reply = stack.logout(&admin, &[("sub", user.sub.as_str())]).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let statuses: Vec<&str> =
        reply.json["deliveries"].as_array().unwrap().iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "pending").count(), 3, "{}", reply.json);
    assert_eq!(statuses.iter().filter(|s| **s == "delivered").count(), 1, "{}", reply.json);
    let store = stack_store().await;
    let now = UnixTime::now();
    for client in &clients[..3] {
        let pending = find_delivery(&store, client).await;
        assert_eq!(pending.status, DeliveryStatus::Pending);
        assert!(pending.next_attempt_at <= now.plus(3600 + 60), "scheduled within an hour: {pending:?}");
    }

    // The same fan-out from the admin CLI.
    let again = seed_user(false).await;
    password_login(&stack, &clients[0], &again, "openid").await;
    let tokenctl = std::env::var("TOKENCTL").expect("TOKENCTL");
    let out = std::process::Command::new(tokenctl).args(["user", "revoke-all", &again.username]).output().unwrap();
    assert!(out.status.success(), "tokenctl: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn an_rp_that_stays_down_is_given_up_after_the_maximum_age() {
    let stack = Stack::from_env();
    let client = rp_client(unused_port()).await;
    let admin = seed_rp_client(true, None).await;
    let user = seed_user(false).await;
    password_login(&stack, &client, &user, "openid").await;
    let reply = stack.logout(&admin, &[("sub", user.sub.as_str())]).await;
    assert_eq!(reply.json["deliveries"][0]["status"], "pending", "{}", reply.json);

    // Age the record past LOGOUT_RETRY_MAX_AGE_SECONDS (a day) instead of waiting a day.
    let store = stack_store().await;
    let pending = find_delivery(&store, &client).await;
    let aged = DeliveryRecord { created_at: UnixTime(pending.created_at.0 - 2 * 24 * 3600), ..pending.clone() };
    store.save_delivery(&aged).await.unwrap();
    wait_until_due(&pending).await;
    stack.run_logout_retry().await;
    let settled = store.delivery(&pending.id).await.unwrap().unwrap();
    assert_eq!(settled.status, DeliveryStatus::Failed);
    assert!(settled.last_error.unwrap().contains("maximum age"));
}

#[tokio::test]
async fn logout_requests_are_checked() {
    let stack = Stack::from_env();
    let a = seed_rp_client(false, None).await;
    let b = seed_rp_client(false, None).await;
    let user = seed_user(false).await;
    let login = password_login(&stack, &a, &user, "openid").await;
    let sid = sid_of(&stack.introspect(&a, login.str("access_token")).await.json);

    let error = |reply: &Reply| (reply.status, reply.json["error"].as_str().map(str::to_string));
    let expect = |status: u16, code: &str| (status, Some(code.to_string()));
    assert_eq!(error(&stack.logout(&a, &[]).await), expect(400, "invalid_request"), "nothing given");
    assert_eq!(
        error(&stack.logout(&a, &[("sid", &sid), ("sub", user.sub.as_str())]).await),
        expect(400, "invalid_request"),
        "two given"
    );
    assert_eq!(error(&stack.logout(&a, &[("sub", user.sub.as_str())]).await), expect(400, "unauthorized_client"));
    assert_eq!(
        error(&stack.logout(&b, &[("sid", &sid)]).await),
        expect(400, "invalid_request"),
        "another client's session"
    );
    assert_eq!(
        error(&stack.logout(&b, &[("refresh_token", login.str("refresh_token"))]).await),
        expect(400, "invalid_grant")
    );
    let nobody = TestClient { id: a.id.clone(), secret: "wrong-secret-wrong-secret".into() };
    assert_eq!(error(&stack.logout(&nobody, &[("sid", &sid)]).await), expect(401, "invalid_client"));
    assert_alive(&stack, &a, &login, "refused logouts end nothing").await;

    let by_sid = stack.logout(&a, &[("sid", &sid)]).await;
    assert_eq!(by_sid.json["sessions_ended"], serde_json::json!([sid]));
}

#[tokio::test]
async fn a_password_change_ends_every_session_and_tells_the_rps() {
    let stack = Stack::from_env();
    let rps = Receivers::start(&stack, &["ok"]);
    let client = rp_client(rps.ports[0]).await;
    let user: TestUser = seed_user(false).await;
    let first = password_login(&stack, &client, &user, "openid").await;
    let second = password_login(&stack, &client, &user, "openid").await;

    let tokenctl = std::env::var("TOKENCTL").expect("TOKENCTL");
    let out = std::process::Command::new(tokenctl)
        .args(["user", "set-password", &user.username, "--password", "a new password"])
        .output()
        .expect("tokenctl runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 session(s)"), "{}", String::from_utf8_lossy(&out.stdout));

    assert_dead(&stack, &client, &first, "first session").await;
    assert_dead(&stack, &client, &second, "second session").await;
    let received = rps.received(0).await;
    assert_eq!(received.iter().filter(|r| r["valid"] == true).count(), 2, "{received:?}");

    // Logins issued after the change (from the next second on) work with the new password.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let renewed = TestUser { password: "a new password".into(), ..user };
    let fresh = password_login(&stack, &client, &renewed, "openid").await;
    assert_alive(&stack, &client, &fresh, "a login after the password change").await;
}

async fn find_delivery(store: &shared::store::dynamo::DynamoStore, client: &TestClient) -> DeliveryRecord {
    let due = store.due_deliveries(UnixTime::now().plus(7 * 24 * 3600), 1000).await.unwrap();
    due.into_iter().find(|d| d.client_id.as_str() == client.id).expect("a delivery record for the RP")
}

async fn wait_until_due(delivery: &DeliveryRecord) {
    while UnixTime::now() < delivery.next_attempt_at.plus(1) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
