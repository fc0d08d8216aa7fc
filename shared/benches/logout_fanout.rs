//! Wall time of a logout that must reach 20 relying parties, each answering after
//! 200 ms (docs/ARCHITECTURE.md §5: "wall time ≈ slowest RP, not the sum").
//!
//! The real `LogoutService` and notifier (HTTP on loopback, fresh logout token per RP)
//! with the in-memory store, so the figure is the fan-out itself, not DynamoDB.
//!
//! Run: `cargo bench -p shared --features testing --bench logout_fanout`

use shared::domain::{ClientAuthentication, ClientLifetimes, ClientRecord, GrantType, RevocationCause, Scope};
use shared::ids::{ClientEpoch, ClientId, Sid, Subject};
use shared::secrets::{ClientSecretHash, SecretString};
use shared::store::{ClientAdmin, SessionWrite};
use shared::testing::kit;
use shared::testing::memory::MemoryStore;
use shared::testing::rp::TestRp;
use shared::time::UnixTime;
use std::sync::Arc;
use std::time::{Duration, Instant};

const RPS: usize = 20;
const RP_DELAY: Duration = Duration::from_millis(200);
const ROUNDS: usize = 15;

#[tokio::main]
async fn main() {
    let store = Arc::new(MemoryStore::new());
    let mut clients = Vec::new();
    let mut rps = Vec::new();
    for i in 0..RPS {
        let rp = TestRp::start(RP_DELAY, "200 OK").await;
        let client = ClientRecord {
            dpop_bound_access_tokens: false,
            id: ClientId::new(format!("rp-{i}")),
            epoch: ClientEpoch::random(),
            authentication: ClientAuthentication::Secret(
                ClientSecretHash::create(&SecretString::new("benchmark-client-secret-00000")).expect("hash"),
            ),
            grant_types: [GrantType::Password].into_iter().collect(),
            scopes: Scope::parse("openid").expect("scope"),
            audience: None,
            may_introspect: false,
            admin: false,
            backchannel_logout_uri: Some(rp.uri()),
            lifetimes: ClientLifetimes::default(),
            signing: Default::default(),
            browser: Default::default(),
        };
        store.put_client(&client).await.expect("client");
        clients.push(client.id);
        rps.push(rp);
    }
    let service = kit::services_over(store.clone()).logout().expect("the logout service");

    let mut times = Vec::new();
    for round in 0..=ROUNDS {
        // One user logged in at all 20 RPs (one session each); log out everywhere.
        let sub = Subject::random();
        let now = UnixTime::now();
        for client in &clients {
            let (mut session, mut family) = kit::session(now, 3600);
            session.sub = sub.clone();
            session.sid = Sid::random();
            session.client_ids = [client.clone()].into_iter().collect();
            family.sid = session.sid.clone();
            family.sub = sub.clone();
            store.begin_session(&session, &family).await.expect("session");
        }
        let started = Instant::now();
        let summary = service.revoke_all(&sub, RevocationCause::AdminRevokeAll).await.expect("logout");
        let took = started.elapsed();
        assert_eq!(summary.sessions_ended.len(), RPS);
        assert!(summary.deliveries.iter().all(|d| d.status == "delivered"), "{summary:?}");
        // Round 0 warms the connection pool and the client cache, as a warm Lambda is.
        if round > 0 {
            times.push(took);
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "logout to {RPS} RPs answering after {} ms, {ROUNDS} rounds: min {:.1} ms, median {:.1} ms, max {:.1} ms (sum of RP delays: {} ms)",
        RP_DELAY.as_millis(),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        RP_DELAY.as_millis() * RPS as u128,
    );
}
