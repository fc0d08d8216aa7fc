//! Races, through the real refresh code against moto over HTTP, many times over:
//! * 50 concurrent refreshes of one token: exactly one generation advance, and every
//!   answer is the single successor or `invalid_grant`;
//! * a refresh racing a revoke: once the revoke has returned, no successor is live.
//!
//! The requests run in this process (tokio tasks sharing one `TokenIssuer`, as warm
//! Lambda instances share one table), so that they truly overlap at the store: the
//! local HTTP emulator runs one instance per function at a time.

use futures::future::join_all;
use shared::domain::{ClientLifetimes, FamilyStatus, GrantType, RevocationCause};
use shared::grants::TokenIssuer;
use shared::ids::FamilyId;
use shared::oauth::{OAuthErrorCode, OAuthRequest};
use shared::store::dynamo::DynamoStore;
use shared::store::{FamilyRead, FamilyWrite};
use shared::time::UnixTime;
use std::collections::BTreeSet;
use std::sync::Arc;
use tests::{TestClient, TestUser, encode_form, race_config, seed_client_into, seed_user_into};

const ROUNDS: usize = 20;
const PARALLEL: usize = 50;

async fn issuer() -> Arc<TokenIssuer> {
    Arc::new(shared::Services::from_config(race_config()).await.expect("services").token_issuer())
}

async fn store() -> DynamoStore {
    DynamoStore::connect(&race_config().aws).await
}

async fn seed(lifetimes: ClientLifetimes) -> (TestClient, TestUser) {
    let store = store().await;
    let client =
        seed_client_into(&store, &[GrantType::Password, GrantType::RefreshToken], "read", None, lifetimes).await;
    (client, seed_user_into(&store, false).await)
}

fn form(client: &TestClient, pairs: &[(&str, &str)]) -> OAuthRequest {
    let mut all = vec![("client_id", client.id.as_str()), ("client_secret", client.secret.as_str())];
    all.extend_from_slice(pairs);
    OAuthRequest::parse(Some("application/x-www-form-urlencoded"), None, encode_form(&all).as_bytes()).unwrap()
}

async fn login(issuer: &TokenIssuer, client: &TestClient, user: &TestUser) -> String {
    let req = form(client, &[("grant_type", "password"), ("username", &user.username), ("password", &user.password)]);
    issuer.token(&req).await.expect("login").refresh_token.expect("refresh token")
}

/// Fire `n` refreshes of `token` at once; each result is Ok(successor) or Err(code).
async fn stampede(
    issuer: &Arc<TokenIssuer>,
    client: &TestClient,
    token: &str,
    n: usize,
) -> Vec<Result<String, OAuthErrorCode>> {
    let tasks = (0..n).map(|_| {
        let issuer = issuer.clone();
        let req = form(client, &[("grant_type", "refresh_token"), ("refresh_token", token)]);
        tokio::spawn(async move {
            issuer.token(&req).await.map(|r| r.refresh_token.expect("successor")).map_err(|e| e.code)
        })
    });
    join_all(tasks).await.into_iter().map(|r| r.expect("task")).collect()
}

fn family_of(token: &str) -> FamilyId {
    FamilyId::new(token.split('.').next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_refreshes_advance_the_family_exactly_once() {
    let issuer = issuer().await;
    let (client, user) = seed(ClientLifetimes::default()).await;
    let store = store().await;
    let mut successes = 0;
    for round in 0..ROUNDS {
        let token = login(&issuer, &client, &user).await;
        let results = stampede(&issuer, &client, &token, PARALLEL).await;
        let successors: BTreeSet<&String> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        for r in &results {
            if let Err(code) = r {
                assert_eq!(
                    *code,
                    OAuthErrorCode::InvalidGrant,
                    "round {round}: only invalid_grant may refuse: {results:?}"
                );
            }
        }
        assert_eq!(successors.len(), 1, "round {round}: exactly one successor, got {successors:?}");
        let successor = successors.into_iter().next().unwrap();
        assert!(successor.starts_with(&format!("{}.1.", family_of(&token))), "round {round}: generation 1");
        let family = store.family(&family_of(&token)).await.unwrap().expect("family");
        assert_eq!((family.generation, family.status), (1, FamilyStatus::Active), "round {round}: one advance");
        successes += results.iter().filter(|r| r.is_ok()).count();
    }
    // With the default 10 s grace window every racer gets the successor.
    assert_eq!(successes, ROUNDS * PARALLEL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_grace_a_stampede_has_one_winner_and_is_treated_as_reuse() {
    let issuer = issuer().await;
    let no_grace = ClientLifetimes { refresh_grace: Some(0), ..Default::default() };
    let (client, user) = seed(no_grace).await;
    let store = store().await;
    for round in 0..ROUNDS / 4 {
        let token = login(&issuer, &client, &user).await;
        let results = stampede(&issuer, &client, &token, PARALLEL).await;
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: one advance");
        assert!(
            results.iter().all(|r| r.is_ok() || *r == Err(OAuthErrorCode::InvalidGrant)),
            "round {round}: only the successor or invalid_grant: {results:?}"
        );
        let family = store.family(&family_of(&token)).await.unwrap().expect("family");
        assert_eq!((family.generation, family.status), (1, FamilyStatus::Revoked), "round {round}: losers are reuse");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_racing_a_revoke_never_leaves_a_live_successor() {
    let issuer = issuer().await;
    let (client, user) = seed(ClientLifetimes::default()).await;
    let store = Arc::new(store().await);
    for round in 0..ROUNDS {
        let token = login(&issuer, &client, &user).await;
        let fid = family_of(&token);
        let refreshes = {
            let (issuer, client_id, secret, token) =
                (issuer.clone(), client.id.clone(), client.secret.clone(), token.clone());
            tokio::spawn(async move {
                let client = TestClient { id: client_id, secret };
                stampede(&issuer, &client, &token, 10).await
            })
        };
        // Stagger the revoke across rounds so it lands before, among and after refreshes.
        tokio::time::sleep(std::time::Duration::from_millis((round % 5) as u64 * 3)).await;
        let now = UnixTime::now();
        store.revoke_family(&fid, now, RevocationCause::RevokedByClient, now.plus(900)).await.expect("revoke");

        // The revoke has returned: from here on nothing of this family may refresh.
        let results = refreshes.await.unwrap();
        let mut candidates: BTreeSet<String> = results.into_iter().filter_map(Result::ok).collect();
        candidates.insert(token.clone());
        for candidate in candidates {
            let again = stampede(&issuer, &client, &candidate, 1).await;
            assert_eq!(again, vec![Err(OAuthErrorCode::InvalidGrant)], "round {round}: {candidate} still live");
        }
        let family = store.family(&fid).await.unwrap().expect("family");
        assert_eq!(family.status, FamilyStatus::Revoked, "round {round}");
    }
}
